/*
 * e2e_owasp_api3_property_authz.c — OWASP API Security Top 10 (2023) API3, broken object property
 * level authorization (mass assignment and excessive data exposure), against the real server.
 *
 * Writes: on every write route, a body that would succeed is sent again with one extra field that
 * is unknown, read-only (id, version, created_at, ...) or not the caller's to set (role on /v1/me,
 * status "erased", owner_id, partner_id, registration_counts, a membership's state on a join
 * request, member_id on someone else's behalf, ...).  Each is 400 naming the field (API.md
 * section 1: rejected, not ignored), and afterwards the object is unchanged and nothing was created.
 * Values a caller may not choose even in a settable field (a group made active by decree, a partner
 * publishing its own pending event, a member promoting themself while accepting an invitation) are
 * refused too.
 *
 * Reads: no answer ever carries password material, refresh-token or client-secret digests, or a
 * partner's client_secret (except once, at creation and rotation), and meeting notes reach only the
 * group's active members.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static harness_account g_admin;
static harness_consult_world W;
static harness_partner g_partner;
static char g_meeting[HARNESS_ID_MAX];
static char g_notes[HARNESS_NAME_MAX + 16];
static char g_consult[HARNESS_ID_MAX]; /* open, by mgr_a, site A */
static char g_event[HARNESS_ID_MAX];   /* by mgr_a, site A, published */
static char g_pevent[HARNESS_ID_MAX];  /* by the partner, pending */

#define WEEK (7L * 24 * 3600)

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_consult_world_build(g_admin.token, &W);
  char u[HARNESS_NAME_MAX];
  snprintf(g_notes, sizeof g_notes, "Notes %s", harness_unique("private", u));
  http_response *r = http_json("POST", hpath("/v1/groups/%s/meetings", W.group1), W.conv1.token,
                               json_pack("{s:s, s:s, s:s}", "starts_at", "2030-05-01T09:00:00Z", "ends_at",
                                         "2030-05-01T10:00:00Z", "notes", g_notes));
  assert_status(r, 201);
  snprintf(g_meeting, sizeof g_meeting, "%s", hjson_str(r->json, "id"));
  http_response_free(r);
  json_decref(harness_new_consultation(W.mgr_a.token, harness_consultation_body(W.site_a, NULL, -60, WEEK), g_consult));
  harness_consultation_set_status(g_consult, W.mgr_a.token, "open");
  json_decref(harness_new_event(W.mgr_a.token, harness_event_body("workshop", 6 * 86400, 3600, W.site_a), g_event));
  harness_new_partner(g_admin.token, false, &g_partner);
  json_decref(harness_new_event(g_partner.token, harness_event_body("seminar", 5 * 86400, 3600, W.site_a), g_pevent));
  return 0;
}

/* ---------------------------------------------------------------- helpers */

/* One field that must be refused: its name and the value sent (a new reference, or NULL for a
 * string "x"). */
typedef struct bad_field {
  const char *name;
  json_t *value;
} bad_field;

/* For each bad field: valid (borrowed) plus that one field is sent as method path by token and must
 * be 400 invalid-request whose errors[] names the field.  Steals every value. */
#define expect_fields_rejected(method, path, token, valid, ...)                                                        \
  expect_fields_rejected_at((method), (path), (token), (valid), (bad_field[]){__VA_ARGS__, {NULL, NULL}}, __FILE__,    \
                            __LINE__)
static void expect_fields_rejected_at(const char *method, const char *path, const char *token, const json_t *valid,
                                      bad_field *fields, const char *file, int line) {
  char p[512];
  snprintf(p, sizeof p, "%s", path);
  for (bad_field *f = fields; f->name; f++) {
    json_t *body = json_deep_copy(valid);
    json_object_set_new(body, f->name, f->value ? f->value : json_string("x"));
    http_response *r = http_json(method, p, token, body);
    if (r->status != 400)
      print_error("field \"%s\" on %s %s was not refused\n", f->name, method, p);
    harness_assert_problem(r, 400, "invalid-request", file, line);
    harness_assert_error_field(r, f->name, file, line);
    http_response_free(r);
  }
}

/* Fields every resource has and no client sets. */
#define COMMON_READ_ONLY                                                                                               \
  {"id", json_string("00000000-0000-4000-8000-000000000001")}, {"version", json_integer(99)},                          \
      {"created_at", json_string("2000-01-01T00:00:00Z")}, {                                                           \
    "is_admin", json_true()                                                                                            \
  }

/* ---------------------------------------------------------------- sites and members */

static void test_sites(void **state) {
  (void)state;
  char slug[HARNESS_NAME_MAX];
  harness_unique("api3", slug);
  json_t *valid = json_pack("{s:s, s:s, s:s}", "slug", slug, "name", "API3 site", "organisation", "Org");
  expect_fields_rejected("POST", "/v1/sites", g_admin.token, valid, COMMON_READ_ONLY,
                         {"archived_at", json_string("2020-01-01T00:00:00Z")}, {"owner_id", json_string(W.mgr_a.id)},
                         {"managers", json_pack("[s]", W.mgr_b.id)});
  /* none of those created the site: the slug is still free */
  http_response *r = http_json("POST", "/v1/sites", g_admin.token, valid);
  assert_status(r, 201);
  http_response_free(r);

  char path[128];
  snprintf(path, sizeof path, "/v1/sites/%s", W.site_a);
  char *before = harness_snapshot(path, g_admin.token);
  json_t *patch = json_pack("{s:s}", "region", "Changed region");
  expect_fields_rejected("PATCH", path, g_admin.token, patch, COMMON_READ_ONLY,
                         {"archived_at", json_string("2020-01-01T00:00:00Z")}, {"owner_id", json_string(W.mgr_b.id)});
  /* a site's manager may edit it, but not through extra fields */
  expect_fields_rejected("PATCH", path, W.mgr_a.token, patch, COMMON_READ_ONLY,
                         {"archived_at", json_string("2020-01-01T00:00:00Z")});
  json_decref(patch);
  harness_expect_unchanged(before, path, g_admin.token);
}

static void test_members(void **state) {
  (void)state;
  char email[HARNESS_EMAIL_MAX];
  harness_unique_email("api3", email);
  json_t *valid = json_pack("{s:s, s:s, s:s, s:s}", "email", email, "display_name", "API3 member", "role",
                            "practitioner", "home_site_id", W.site_a);
  expect_fields_rejected("POST", "/v1/members", g_admin.token, valid, COMMON_READ_ONLY,
                         {"status", json_string("active")}, {"must_change_password", json_false()},
                         {"password", json_string("chosen-by-the-creator")},
                         {"password_hash", json_string("$argon2id$v=19$m=65536,t=2,p=1$AAAA$BBBB")});
  /* a manager creating at their own site: the same, and no role above facilitator */
  expect_fields_rejected("POST", "/v1/members", W.mgr_a.token, valid, {"status", json_string("suspended")},
                         {"password_hash", json_string("x")});
  http_response *r = http_json("POST", "/v1/members", g_admin.token, valid); /* the email is still free */
  assert_status(r, 201);
  http_response_free(r);

  char path[128];
  snprintf(path, sizeof path, "/v1/members/%s", W.mem1.id);
  char *before = harness_snapshot(path, g_admin.token);
  json_t *patch = json_pack("{s:s}", "discipline", "Social work");
  expect_fields_rejected("PATCH", path, g_admin.token, patch, COMMON_READ_ONLY, {"status", json_string("erased")},
                         {"must_change_password", json_false()}, {"password_hash", json_string("x")},
                         {"password", json_string("a-new-password-1")});
  expect_fields_rejected("PATCH", path, W.mgr_a.token, patch, COMMON_READ_ONLY, {"status", json_string("erased")},
                         {"role", json_string("superuser")});
  json_decref(patch);
  harness_expect_unchanged(before, path, g_admin.token);
}

static void test_me(void **state) {
  (void)state;
  char *before = harness_snapshot("/v1/me", W.mem1.token);
  json_t *patch = json_pack("{s:s}", "display_name", "Renamed by myself");
  expect_fields_rejected("PATCH", "/v1/me", W.mem1.token, patch, COMMON_READ_ONLY, {"role", json_string("admin")},
                         {"status", json_string("erased")}, {"status", json_string("active")},
                         {"email", json_string("new-address@test.example")}, {"home_site_id", json_string(W.site_b)},
                         {"must_change_password", json_false()}, {"password_hash", json_string("x")},
                         {"managed_sites", json_pack("[s]", W.site_a)});
  json_decref(patch);
  harness_expect_unchanged(before, "/v1/me", W.mem1.token);
  /* a manager cannot widen their own powers either */
  before = harness_snapshot("/v1/me", W.mgr_a.token);
  patch = json_pack("{s:s}", "discipline", "Management");
  expect_fields_rejected("PATCH", "/v1/me", W.mgr_a.token, patch, {"role", json_string("admin")},
                         {"home_site_id", json_string(W.site_b)});
  json_decref(patch);
  harness_expect_unchanged(before, "/v1/me", W.mgr_a.token);
}

/* ---------------------------------------------------------------- groups, memberships, terms */

static void test_groups(void **state) {
  (void)state;
  char name[HARNESS_NAME_MAX];
  harness_unique("API3 group", name);
  json_t *valid = json_pack("{s:s, s:s}", "name", name, "site_id", W.site_a);
  json_t *mine_before = harness_list_all("/v1/groups?mine=true", W.lone_a.token);
  expect_fields_rejected("POST", "/v1/groups", W.lone_a.token, valid, COMMON_READ_ONLY,
                         {"status", json_string("active")}, {"member_count", json_integer(8)},
                         {"terms_version", json_integer(3)}, {"closed_at", json_string("2030-01-01T00:00:00Z")},
                         {"owner_id", json_string(W.mgr_a.id)}, {"convener_id", json_string(W.mem1.id)},
                         {"my_membership", json_pack("{s:s}", "role", "convener")});
  json_decref(valid);
  json_t *mine_after = harness_list_all("/v1/groups?mine=true", W.lone_a.token);
  assert_int_equal(json_array_size(mine_before), json_array_size(mine_after));
  json_decref(mine_before);
  json_decref(mine_after);

  char path[128];
  snprintf(path, sizeof path, "/v1/groups/%s", W.group1);
  char *before = harness_snapshot(path, W.conv1.token);
  json_t *patch = json_pack("{s:s}", "purpose", "A new purpose");
  expect_fields_rejected("PATCH", path, W.conv1.token, patch, COMMON_READ_ONLY, {"site_id", json_string(W.site_b)},
                         {"member_count", json_integer(50)}, {"terms_version", json_integer(9)},
                         {"closed_at", json_string("2030-01-01T00:00:00Z")}, {"status", json_string("closed")},
                         {"my_membership", json_null()});
  json_decref(patch);
  harness_expect_unchanged(before, path, W.conv1.token);

  /* a settable field, a value the group has not earned: group 2 has two members and no terms */
  snprintf(path, sizeof path, "/v1/groups/%s", W.group2);
  before = harness_snapshot(path, W.conv2.token);
  http_response *r = http_json("PATCH", path, W.conv2.token, json_pack("{s:s}", "status", "active"));
  if (r->status != 409 && r->status != 400 && r->status != 403)
    harness_fail("a forming group made active by PATCH: expected 409 (or 400/403), got %ld %s", r->status, r->body);
  assert_problem(r, r->status);
  http_response_free(r);
  harness_expect_unchanged(before, path, W.conv2.token);
}

static void test_memberships(void **state) {
  (void)state;
  char list[128];
  snprintf(list, sizeof list, "/v1/groups/%s/members", W.group2);
  char *before = harness_snapshot(list, W.conv2.token);
  /* a join request that makes itself active, or a convener */
  json_t *empty = json_object();
  expect_fields_rejected("POST", list, W.lone_a.token, empty, {"state", json_string("active")},
                         {"joined_at", json_string("2020-01-01T00:00:00Z")},
                         {"accepted_terms_version", json_integer(1)}, {"display_name", json_string("Someone else")},
                         {"group_id", json_string(W.group1)}, {"version", json_integer(5)},
                         {"role", json_string("convener")});
  json_decref(empty);
  /* an invitation that is already accepted */
  json_t *invite = json_pack("{s:s}", "member_id", W.lone_a.id);
  expect_fields_rejected("POST", list, W.conv2.token, invite, {"state", json_string("active")},
                         {"joined_at", json_string("2020-01-01T00:00:00Z")},
                         {"accepted_terms_version", json_integer(1)}, {"role", json_string("convener")});
  json_decref(invite);
  harness_expect_unchanged(before, list, W.conv2.token);
  /* a join request may not choose a role */
  http_response *r = http_json("POST", list, W.lone_a.token, json_pack("{s:s}", "role", "representative"));
  if (r->status != 400 && r->status != 403)
    harness_fail("a join request choosing role representative: expected 400/403, got %ld %s", r->status, r->body);
  http_response_free(r);
  /* nor may a join request name someone else */
  r = http_json("POST", list, W.lone_a.token, json_pack("{s:s}", "member_id", W.pb.id));
  if (r->status / 100 == 2)
    harness_fail("a practitioner invited someone into a group they are not in: %ld %s", r->status, r->body);
  http_response_free(r);
  before = harness_snapshot(list, W.conv2.token);

  char path[160];
  snprintf(path, sizeof path, "/v1/groups/%s/members/%s", W.group2, W.mem2.id);
  char *mbefore = harness_snapshot(path, W.conv2.token);
  json_t *patch = json_pack("{s:s}", "role", "member");
  expect_fields_rejected("PATCH", path, W.conv2.token, patch, {"member_id", json_string(W.lone_a.id)},
                         {"joined_at", json_string("2020-01-01T00:00:00Z")},
                         {"accepted_terms_version", json_integer(7)}, {"display_name", json_string("Renamed")},
                         {"group_id", json_string(W.group1)}, {"version", json_integer(9)},
                         {"represents_group_name", json_string("x")}, {"state", json_string("banned")});
  json_decref(patch);
  /* a plain member may not promote themself */
  r = http_json("PATCH", path, W.mem2.token, json_pack("{s:s}", "role", "convener"));
  assert_problem(r, 403);
  http_response_free(r);
  harness_expect_unchanged(mbefore, path, W.conv2.token);

  /* an invitee accepting may not promote themself in the same breath */
  harness_account invitee;
  harness_new_member_quick(g_admin.token, "practitioner", W.site_a, &invitee);
  harness_group_invite(W.group2, W.conv2.token, invitee.id, NULL);
  free(before);
  before = harness_snapshot(list, W.conv2.token);
  snprintf(path, sizeof path, "/v1/groups/%s/members/%s", W.group2, invitee.id);
  mbefore = harness_snapshot(path, W.conv2.token);
  r = http_json("PATCH", path, invitee.token, json_pack("{s:s, s:s}", "state", "active", "role", "convener"));
  if (r->status / 100 == 2)
    harness_fail("an invitee made themself convener while accepting: %s", r->body);
  assert_problem(r, r->status);
  http_response_free(r);
  harness_expect_unchanged(mbefore, path, W.conv2.token);
  harness_expect_unchanged(before, list, W.conv2.token);
}

static void test_terms(void **state) {
  (void)state;
  char path[128];
  snprintf(path, sizeof path, "/v1/groups/%s/terms", W.group2);
  char *before = harness_snapshot(path, W.conv2.token);
  json_t *valid = json_pack("{s:s}", "body", "Our terms");
  expect_fields_rejected("POST", path, W.conv2.token, valid, {"version", json_integer(7)},
                         {"created_by", json_string(W.mgr_a.id)}, {"created_at", json_string("2000-01-01T00:00:00Z")},
                         {"accepted_count", json_integer(8)}, {"accepted_by", json_pack("[s]", W.mem2.id)});
  json_decref(valid);
  harness_expect_unchanged(before, path, W.conv2.token);

  /* accepting terms for somebody else */
  snprintf(path, sizeof path, "/v1/groups/%s/terms", W.group1);
  before = harness_snapshot(path, W.conv1.token);
  json_t *empty = json_object();
  expect_fields_rejected("POST", hpath("/v1/groups/%s/terms/1/acceptances", W.group1), W.conv1.token, empty,
                         {"member_id", json_string(W.mem1.id)}, {"accepted_at", json_string("2000-01-01T00:00:00Z")});
  json_decref(empty);
  harness_expect_unchanged(before, path, W.conv1.token);
}

/* ---------------------------------------------------------------- meetings */

static void test_meetings(void **state) {
  (void)state;
  char list[128], path[192];
  snprintf(list, sizeof list, "/v1/groups/%s/meetings", W.group1);
  snprintf(path, sizeof path, "%s/%s", list, g_meeting);
  json_t *valid = json_pack("{s:s, s:s}", "starts_at", "2030-06-01T09:00:00Z", "ends_at", "2030-06-01T10:00:00Z");
  char *list_before = harness_snapshot(list, W.conv1.token);
  expect_fields_rejected("POST", list, W.conv1.token, valid, COMMON_READ_ONLY, {"group_id", json_string(W.group2)},
                         {"attendance", json_pack("[{s:s, s:s}]", "member_id", W.mem1.id, "status", "present")});
  json_decref(valid);
  harness_expect_unchanged(list_before, list, W.conv1.token);

  char *before = harness_snapshot(path, W.conv1.token);
  json_t *patch = json_pack("{s:s}", "location", "Room 2");
  expect_fields_rejected("PATCH", path, W.conv1.token, patch, COMMON_READ_ONLY, {"group_id", json_string(W.group2)},
                         {"attendance", json_array()});
  json_decref(patch);
  /* attendance: extra keys at the top or in an entry */
  char att[256];
  snprintf(att, sizeof att, "%s/attendance", path);
  json_t *a = json_pack("{s:[{s:s, s:s}]}", "attendance", "member_id", W.mem1.id, "status", "absent");
  expect_fields_rejected("PUT", att, W.conv1.token, a, {"meeting_id", json_string(g_meeting)},
                         {"version", json_integer(3)});
  json_decref(a);
  http_response *r = http_json("PUT", att, W.conv1.token,
                               json_pack("{s:[{s:s, s:s, s:s}]}", "attendance", "member_id", W.mem1.id, "status",
                                         "absent", "display_name", "Someone"));
  assert_problem(r, 400);
  http_response_free(r);
  harness_expect_unchanged(before, path, W.conv1.token);
}

/* ---------------------------------------------------------------- consultations */

static void test_consultations(void **state) {
  (void)state;
  json_t *valid = harness_consultation_body(W.site_a, NULL, 3600, WEEK);
  expect_fields_rejected("POST", "/v1/consultations", W.mgr_a.token, valid, COMMON_READ_ONLY,
                         {"status", json_string("open")}, {"owner_id", json_string(W.mgr_b.id)},
                         {"outcome", json_pack("{s:s}", "summary", "decided already")},
                         {"response_rate", json_real(1.0)});
  json_decref(valid);

  char path[128];
  snprintf(path, sizeof path, "/v1/consultations/%s", g_consult);
  char *before = harness_snapshot(path, W.mgr_a.token);
  json_t *patch = json_pack("{s:s}", "title", "A better title");
  expect_fields_rejected("PATCH", path, W.mgr_a.token, patch, COMMON_READ_ONLY, {"owner_id", json_string(W.mgr_b.id)},
                         {"outcome", json_null()}, {"response_rate", json_real(0.5)});
  json_decref(patch);
  /* a settable status, an illegal move */
  http_response *r = http_json("PATCH", path, W.mgr_a.token, json_pack("{s:s}", "status", "outcome_published"));
  assert_problem(r, 409);
  http_response_free(r);
  r = http_json("PATCH", path, W.mgr_a.token, json_pack("{s:s}", "status", "draft"));
  assert_problem(r, 409);
  http_response_free(r);
  harness_expect_unchanged(before, path, W.mgr_a.token);

  /* a response: only answers and status */
  char rpath[256];
  snprintf(rpath, sizeof rpath, "%s/responses/%s", path, W.group1);
  char *rbefore = harness_snapshot(hpath("%s/responses", path), W.rep1.token);
  json_t *answer =
      json_pack("{s:[{s:s, s:s}], s:s}", "answers", "question_id", "q1", "text", "Ours", "status", "draft");
  expect_fields_rejected("PUT", rpath, W.rep1.token, answer, {"consultation_id", json_string(g_consult)},
                         {"group_id", json_string(W.group2)}, {"group_name", json_string("Another")},
                         {"submitted_at", json_string("2000-01-01T00:00:00Z")},
                         {"updated_at", json_string("2000-01-01T00:00:00Z")}, {"version", json_integer(4)},
                         {"submitted_by", json_string(W.conv1.id)});
  json_decref(answer);
  harness_expect_unchanged(rbefore, hpath("%s/responses", path), W.rep1.token);

  /* the outcome */
  json_t *outcome = json_pack("{s:s, s:[]}", "summary", "You said, we did", "actions");
  expect_fields_rejected("PUT", hpath("%s/outcome", path), W.mgr_a.token, outcome,
                         {"published_at", json_string("2000-01-01T00:00:00Z")}, {"status", json_string("published")});
  json_decref(outcome);
}

/* ---------------------------------------------------------------- partners, events, registrations */

static void test_partners(void **state) {
  (void)state;
  json_t *before = harness_list_all("/v1/partners", g_admin.token);
  char name[HARNESS_NAME_MAX];
  harness_unique("API3 partner", name);
  json_t *valid = json_pack("{s:s}", "name", name);
  expect_fields_rejected(
      "POST", "/v1/partners", g_admin.token, valid, COMMON_READ_ONLY, {"client_id", json_string("chosen-client-id")},
      {"client_secret", json_string("chosen-secret-0123456789")}, {"revoked_at", json_string("2000-01-01T00:00:00Z")},
      {"scope", json_string("admin")}, {"secret_digest", json_string("00")});
  json_decref(valid);
  json_t *after = harness_list_all("/v1/partners", g_admin.token);
  assert_int_equal(json_array_size(before), json_array_size(after));
  json_decref(before);
  json_decref(after);

  char path[128];
  snprintf(path, sizeof path, "/v1/partners/%s", g_partner.id);
  char *pbefore = harness_snapshot(path, g_admin.token);
  json_t *patch = json_pack("{s:s}", "name", "Renamed partner");
  expect_fields_rejected("PATCH", path, g_admin.token, patch, COMMON_READ_ONLY,
                         {"client_id", json_string("chosen-client-id")},
                         {"client_secret", json_string("chosen-secret-0123456789")}, {"revoked_at", json_null()});
  json_decref(patch);
  harness_expect_unchanged(pbefore, path, g_admin.token);
  /* its credentials still work */
  harness_partner_login(&g_partner);
}

static void test_events(void **state) {
  (void)state;
  json_t *valid = harness_event_body("seminar", 4 * 86400, 3600, W.site_a);
  expect_fields_rejected(
      "POST", "/v1/events", W.mgr_a.token, valid, COMMON_READ_ONLY, {"status", json_string("published")},
      {"partner_id", json_string(g_partner.id)}, {"owner", json_pack("{s:s}", "member_id", W.mgr_b.id)},
      {"registration_counts", json_pack("{s:i}", "going", 100)}, {"my_registration", json_string("going")});
  /* a partner may not publish by sending a status, nor claim another partner's events */
  expect_fields_rejected("POST", "/v1/events", g_partner.token, valid, {"status", json_string("published")},
                         {"partner_id", json_string(W.mgr_a.id)}, {"registration_counts", json_object()});
  json_decref(valid);

  char path[128];
  snprintf(path, sizeof path, "/v1/events/%s", g_event);
  char *before = harness_snapshot(path, W.mgr_a.token);
  json_t *patch = json_pack("{s:s}", "location", "Room 3");
  expect_fields_rejected("PATCH", path, W.mgr_a.token, patch, COMMON_READ_ONLY, {"external_id", json_string("x-1")},
                         {"partner_id", json_string(g_partner.id)}, {"owner", json_null()},
                         {"registration_counts", json_pack("{s:i}", "going", 0)});
  json_decref(patch);
  harness_expect_unchanged(before, path, W.mgr_a.token);

  /* the partner's pending event: publication is not the partner's to decide */
  snprintf(path, sizeof path, "/v1/events/%s", g_pevent);
  before = harness_snapshot(path, g_partner.token);
  http_response *r = http_json("PATCH", path, g_partner.token, json_pack("{s:s}", "status", "published"));
  assert_problem(r, 403);
  http_response_free(r);
  harness_expect_unchanged(before, path, g_partner.token);

  /* registrations: only the caller's own status */
  snprintf(path, sizeof path, "/v1/events/%s/registration", g_event);
  json_t *reg = json_pack("{s:s}", "status", "interested");
  expect_fields_rejected("PUT", path, W.mem1.token, reg, {"member_id", json_string(W.mem1b.id)},
                         {"event_id", json_string(g_pevent)}, {"version", json_integer(3)},
                         {"requested_going_at", json_string("2000-01-01T00:00:00Z")},
                         {"updated_at", json_string("2000-01-01T00:00:00Z")});
  json_decref(reg);
  r = http_json("PUT", path, W.mem1.token, json_pack("{s:s}", "status", "waitlisted")); /* the server's to decide */
  assert_problem(r, 400);
  http_response_free(r);
}

static void test_auth_bodies(void **state) {
  (void)state;
  json_t *login = json_pack("{s:s, s:s}", "email", "nobody@test.example", "password", "wrong-password-123");
  expect_fields_rejected("POST", "/v1/auth/login", NULL, login, {"role", json_string("admin")},
                         {"remember_me", json_true()});
  json_decref(login);
  json_t *refresh = json_pack("{s:s}", "refresh_token", "not-a-real-token");
  expect_fields_rejected("POST", "/v1/auth/refresh", NULL, refresh, {"member_id", json_string(W.mem1.id)});
  json_decref(refresh);
}

/* ---------------------------------------------------------------- what answers carry */

static const char *const g_secret_keys[] = {
    "password",      "password_hash",     "secret_digest", "secret_hash", "token_hash", "refresh_token",
    "client_secret", "one_time_password", "digest",        "salt",        NULL};

/* Fails if any object key (at any depth) of v is a secret key other than `allowed`, or a string
 * looks like an Argon2 hash. */
static void scan_at(const json_t *v, const char *allowed, const char *where, const char *file, int line) {
  if (json_is_object(v)) {
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
      for (const char *const *s = g_secret_keys; *s; s++)
        if (strcmp(k, *s) == 0 && !(allowed && strcmp(k, allowed) == 0))
          harness_fail_at(file, line, "%s carries \"%s\"", where, k);
      scan_at(x, allowed, where, file, line);
    }
  } else if (json_is_array(v)) {
    size_t i;
    json_t *x;
    json_array_foreach((json_t *)v, i, x) scan_at(x, allowed, where, file, line);
  } else if (json_is_string(v) && strstr(json_string_value(v), "$argon2")) {
    harness_fail_at(file, line, "%s carries a password hash", where);
  }
}

#define expect_no_secrets(path, token, notes_allowed)                                                                  \
  expect_no_secrets_at((path), (token), (notes_allowed), __FILE__, __LINE__)
static void expect_no_secrets_at(const char *path, const char *token, bool notes_allowed, const char *file, int line) {
  http_response *r = http_get(path, token);
  char where[400];
  snprintf(where, sizeof where, "GET %.300s (status %ld)", path, r->status); /* bounded: -Wformat-truncation */
  scan_at(r->json, NULL, where, file, line);
  if (!notes_allowed && strstr(r->body, g_notes))
    harness_fail_at(file, line, "%s carries the meeting notes of a group the caller is not in", where);
  http_response_free(r);
}

static void test_answers_carry_no_secrets(void **state) {
  (void)state;
  char p[8][256];
  snprintf(p[0], sizeof p[0], "/v1/members/%s", W.mem1.id);
  snprintf(p[1], sizeof p[1], "/v1/groups/%s", W.group1);
  snprintf(p[2], sizeof p[2], "/v1/groups/%s/members", W.group1);
  snprintf(p[3], sizeof p[3], "/v1/groups/%s/meetings", W.group1);
  snprintf(p[4], sizeof p[4], "/v1/sites/%s/summary", W.site_a);
  snprintf(p[5], sizeof p[5], "/v1/partners/%s", g_partner.id);
  snprintf(p[6], sizeof p[6], "/v1/audit?resource_id=%s", g_meeting);
  snprintf(p[7], sizeof p[7], "/v1/events/%s", g_pevent);
  const char *common[] = {"/v1/me",
                          "/v1/me/export",
                          "/v1/members?limit=200",
                          "/v1/sites",
                          "/v1/groups?limit=200",
                          "/v1/consultations",
                          "/v1/events",
                          "/v1/partners",
                          "/v1/audit?limit=200",
                          "/v1/summaries/sites"};
  /* callers who are not members of group 1: the admin, the site's manager, a colleague, another site */
  const harness_account *outsiders[] = {&g_admin, &W.mgr_a, &W.lone_a, &W.pb};
  for (size_t k = 0; k < sizeof outsiders / sizeof outsiders[0]; k++) {
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++)
      expect_no_secrets(common[i], outsiders[k]->token, false);
    for (size_t i = 0; i < 8; i++)
      expect_no_secrets(p[i], outsiders[k]->token, false);
    expect_no_secrets(hpath("/v1/groups/%s/meetings/%s", W.group1, g_meeting), outsiders[k]->token, false);
  }
  /* group members: the notes, still no secrets */
  expect_no_secrets("/v1/me/export", W.mem1.token, true);
  expect_no_secrets(hpath("/v1/groups/%s/meetings/%s", W.group1, g_meeting), W.mem1.token, true);
  http_response *r = http_get(hpath("/v1/groups/%s/meetings/%s", W.group1, g_meeting), W.mem1.token);
  assert_status(r, 200);
  assert_json_str(r->json, "notes", g_notes);
  http_response_free(r);
  /* the partner's own reads */
  expect_no_secrets("/v1/events", g_partner.token, false);
  expect_no_secrets(hpath("/v1/events/%s", g_pevent), g_partner.token, false);
  /* the export of someone in group 1 tells nothing of the notes: they are the group's, not the member's */
  r = http_get("/v1/me/export", W.mem1b.token);
  assert_status(r, 200);
  if (strstr(r->body, g_notes))
    harness_fail("a member's export carries the group's meeting notes (they are shared, not personal)");
  http_response_free(r);
}

static void test_client_secret_shown_once(void **state) {
  (void)state;
  char name[HARNESS_NAME_MAX];
  harness_unique("API3 secret partner", name);
  http_response *r = http_json("POST", "/v1/partners", g_admin.token, json_pack("{s:s}", "name", name));
  assert_status(r, 201);
  scan_at(r->json, "client_secret", "POST /v1/partners", __FILE__, __LINE__);
  char id[HARNESS_ID_MAX], secret[256];
  snprintf(id, sizeof id, "%s", hjson_str(r->json, "id"));
  snprintf(secret, sizeof secret, "%s", hjson_str(r->json, "client_secret"));
  assert_true(strlen(secret) >= 16);
  http_response_free(r);
  const char *reads[] = {hpath("/v1/partners/%s", id), "/v1/partners?limit=200", hpath("/v1/audit?resource_id=%s", id)};
  char copies[3][256];
  for (int i = 0; i < 3; i++)
    snprintf(copies[i], sizeof copies[i], "%s", reads[i]);
  for (int i = 0; i < 3; i++) {
    r = http_get(copies[i], g_admin.token);
    assert_status(r, 200);
    scan_at(r->json, NULL, copies[i], __FILE__, __LINE__);
    if (strstr(r->body, secret))
      harness_fail("GET %s shows the client secret again", copies[i]);
    http_response_free(r);
  }
  /* rotation shows the new one once */
  r = http_json("POST", hpath("/v1/partners/%s/credentials", id), g_admin.token, NULL);
  assert_status(r, 200);
  const char *fresh = hjson_str(r->json, "client_secret");
  assert_non_null(fresh);
  char fresh_copy[256];
  snprintf(fresh_copy, sizeof fresh_copy, "%s", fresh);
  assert_true(strcmp(fresh_copy, secret) != 0);
  http_response_free(r);
  for (int i = 0; i < 3; i++) {
    r = http_get(copies[i], g_admin.token);
    if (strstr(r->body, fresh_copy))
      harness_fail("GET %s shows the rotated client secret", copies[i]);
    http_response_free(r);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sites),
      cmocka_unit_test(test_members),
      cmocka_unit_test(test_me),
      cmocka_unit_test(test_groups),
      cmocka_unit_test(test_memberships),
      cmocka_unit_test(test_terms),
      cmocka_unit_test(test_meetings),
      cmocka_unit_test(test_consultations),
      cmocka_unit_test(test_partners),
      cmocka_unit_test(test_events),
      cmocka_unit_test(test_auth_bodies),
      cmocka_unit_test(test_answers_carry_no_secrets),
      cmocka_unit_test(test_client_secret_shown_once),
  };
  return cmocka_run_group_tests(tests, group_setup, harness_suite_teardown);
}
