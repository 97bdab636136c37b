/*
 * e2e_data_protection.c — data-protection rights (API.md section 3, issue 8 item 6) against the
 * real server.
 *
 * GET /v1/me/export holds the caller's own data (profile, memberships, terms accepted, attendance,
 * registrations, sessions without any secret) and nobody else's.  Erasure, by the member
 * (DELETE /v1/me) or by an admin (DELETE /v1/members/{id}): 204; the account can never log in
 * again, not with the old password, not by refresh, not with a token issued before; an admin sees
 * a "former member" with no email; attendance records and the group's consultation response stay,
 * and the site summary's figures about past meetings, consultations and events do not move; an
 * audit row member.erased names the actor, and the audit log keeps no personal data of the erased
 * member.  Managers cannot erase anybody.
 *
 * Not tested here: "the last active admin cannot erase themself (409)".  The test database is
 * shared by binaries running in parallel, every one of which creates admins, so no test can make
 * its admin the only active one reliably.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static harness_account g_admin;
static char g_site[HARNESS_ID_MAX], g_other_site[HARNESS_ID_MAX];
static harness_account g_mgr, g_other_mgr;
static harness_account g_conv, g_p[3]; /* convener and members of g_group (quick) */
static harness_account g_self;         /* erases themself (real login: sessions) */
static harness_account g_erased;       /* erased by the admin (real login) */
static char g_group[HARNESS_ID_MAX];
static char g_meeting[HARNESS_ID_MAX];
static char g_notes[HARNESS_NAME_MAX + 16];
static char g_consult[HARNESS_ID_MAX];
static char g_answer[HARNESS_NAME_MAX + 16];
static char g_event[HARNESS_ID_MAX];

#define WEEK (7L * 24 * 3600)

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_new_site_id(g_admin.token, g_site);
  harness_new_site_id(g_admin.token, g_other_site);
  harness_new_manager_quick(g_admin.token, g_site, &g_mgr);
  harness_new_manager_quick(g_admin.token, g_other_site, &g_other_mgr);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &g_conv);
  for (int i = 0; i < 3; i++)
    harness_new_member_quick(g_admin.token, "practitioner", g_site, &g_p[i]);
  harness_new_member(g_admin.token, "practitioner", g_site, &g_self);
  harness_new_member(g_admin.token, "practitioner", g_site, &g_erased);
  /* a profile with a discipline, so erasure has something to wipe */
  http_response *r = http_json("PATCH", "/v1/me", g_self.token, json_pack("{s:s}", "discipline", "Family support"));
  assert_status(r, 200);
  http_response_free(r);

  /* the group: everyone active, terms accepted, so it is active */
  json_decref(harness_new_group(g_conv.token, g_site, 2, 8, g_group));
  harness_account *joiners[] = {&g_p[0], &g_p[1], &g_p[2], &g_self, &g_erased};
  for (int i = 0; i < 5; i++) {
    harness_group_invite(g_group, g_conv.token, joiners[i]->id, NULL);
    harness_group_activate(g_group, joiners[i]->token, joiners[i]->id);
  }
  harness_group_set_role(g_group, g_conv.token, g_p[0].id, "representative");
  int tv = harness_group_post_terms(g_group, g_conv.token, "What is said here stays here.");
  harness_account *all[] = {&g_conv, &g_p[0], &g_p[1], &g_p[2], &g_self, &g_erased};
  for (int i = 0; i < 6; i++)
    harness_group_accept_terms(g_group, tv, all[i]->token);

  /* a meeting ten days ago, with notes, a theme and everybody's attendance */
  char starts[32], ends[32], u[HARNESS_NAME_MAX];
  snprintf(g_notes, sizeof g_notes, "Notes %s", harness_unique("dp", u));
  r = http_json("POST", hpath("/v1/groups/%s/meetings", g_group), g_conv.token,
                json_pack("{s:s, s:s, s:s, s:[s]}", "starts_at", harness_rfc3339_from_now(-10 * 86400, starts),
                          "ends_at", harness_rfc3339_from_now(-10 * 86400 + 3600, ends), "notes", g_notes, "themes",
                          "workload"));
  assert_status(r, 201);
  snprintf(g_meeting, sizeof g_meeting, "%s", hjson_str(r->json, "id"));
  http_response_free(r);
  r = http_json("PUT", hpath("/v1/groups/%s/meetings/%s/attendance", g_group, g_meeting), g_conv.token,
                json_pack("{s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}]}", "attendance",
                          "member_id", g_conv.id, "status", "present", "member_id", g_p[0].id, "status", "present",
                          "member_id", g_p[1].id, "status", "apologies", "member_id", g_p[2].id, "status", "present",
                          "member_id", g_self.id, "status", "present", "member_id", g_erased.id, "status", "absent"));
  assert_status(r, 200);
  http_response_free(r);

  /* the group answers a consultation */
  json_decref(harness_new_consultation(g_mgr.token, harness_consultation_body(g_site, NULL, -60, WEEK), g_consult));
  harness_consultation_set_status(g_consult, g_mgr.token, "open");
  snprintf(g_answer, sizeof g_answer, "Answer %s", harness_unique("dp", u));
  r = http_json(
      "PUT", hpath("/v1/consultations/%s/responses/%s", g_consult, g_group), g_p[0].token,
      json_pack("{s:[{s:s, s:s}], s:s}", "answers", "question_id", "q1", "text", g_answer, "status", "submitted"));
  if (r->status != 200 && r->status != 201)
    harness_fail("the group's response: %ld %s", r->status, r->body);
  http_response_free(r);

  /* an event, with registrations */
  json_decref(harness_new_event(g_mgr.token, harness_event_body("workshop", 5 * 86400, 3600, g_site), g_event));
  harness_event_register(g_event, g_self.token, "going");
  harness_event_register(g_event, g_erased.token, "interested");
  harness_event_register(g_event, g_p[1].token, "going");
  harness_event_register(g_event, g_p[2].token, "going");
  return 0;
}

/* ---------------------------------------------------------------- helpers */

/* The item of array arr whose string field key equals value, or NULL (borrowed). */
static json_t *find(const json_t *arr, const char *key, const char *value) {
  size_t i;
  json_t *it;
  json_array_foreach((json_t *)arr, i, it) {
    const char *v = hjson_str(it, key);
    if (v && strcmp(v, value) == 0)
      return it;
  }
  return NULL;
}

/* The site summary without the figures that legitimately move when someone leaves: the people
 * counts of today (active members, practitioners and their share), and registrations for upcoming
 * events (an erased member's "going" is withdrawn, so a waitlisted colleague gets the place).
 * Everything about the past (meetings held, attendance rate, themes), consultations and groups must
 * stay. */
static json_t *summary_figures(void) {
  json_t *s = harness_get_json(hpath("/v1/sites/%s/summary", g_site), g_admin.token);
  const char *people[] = {"active_members",
                          "practitioners",
                          "practitioners_in_groups",
                          "practitioner_share",
                          "event_registrations",
                          "upcoming_events", /* network-wide events made by suites running alongside count too */
                          "suppressed",
                          "from",
                          "to",
                          "window"}; /* moves at 00:00Z, like from and to every second */
  for (size_t i = 0; i < sizeof people / sizeof people[0]; i++)
    json_object_del(s, people[i]);
  return s;
}

static void expect_same_figures(json_t *before, json_t *after, const char *when) {
  if (!json_equal(before, after)) {
    char *b = json_dumps(before, JSON_COMPACT | JSON_SORT_KEYS), *a = json_dumps(after, JSON_COMPACT | JSON_SORT_KEYS);
    harness_fail("the site summary changed %s:\n  before %s\n  after  %s", when, b, a);
  }
}

/* Everything an erased account could try: all 401, never a token.  (Repeated failed logins for
 * one email are rate limited: after the first, 429 is a refusal too.) */
static void expect_locked_out(const harness_account *a) {
  harness_use_unique_source_address(); /* the failed logins count against an address of this test */
  for (int i = 0; i < 3; i++) {
    http_response *r = harness_login_request(a->email, a->password);
    if (r->status != 401 && !(i > 0 && r->status == 429))
      harness_fail("login #%d of an erased account: expected 401, got %ld %s", i + 1, r->status, r->body);
    assert_problem(r, r->status);
    assert_null(hjson_get(r->json, "access_token"));
    http_response_free(r);
  }
  char upper[HARNESS_EMAIL_MAX];
  snprintf(upper, sizeof upper, "%s", a->email);
  for (char *c = upper; *c; c++)
    if (*c >= 'a' && *c <= 'z')
      *c = (char)(*c - 'a' + 'A');
  http_response *r = harness_login_request(upper, a->password);
  if (r->status != 401 && r->status != 429)
    harness_fail("login of an erased account (email in capitals): expected 401, got %ld %s", r->status, r->body);
  assert_null(hjson_get(r->json, "access_token"));
  http_response_free(r);
  harness_set_source_address(NULL);
  r = http_json("POST", "/v1/auth/refresh", NULL, json_pack("{s:s}", "refresh_token", a->refresh));
  assert_problem(r, 401);
  assert_null(hjson_get(r->json, "access_token"));
  http_response_free(r);
  const char *paths[] = {"/v1/me", "/v1/me/export", "/v1/groups", "/v1/events", "/v1/sites"};
  for (int i = 0; i < 5; i++) {
    r = http_get(paths[i], a->token);
    assert_problem(r, 401);
    http_response_free(r);
  }
  r = http_request("DELETE", "/v1/me", a->token, NULL, NULL, NULL);
  assert_problem(r, 401);
  http_response_free(r);
}

/* What an admin sees of an erased member, and what is left of them elsewhere. */
static void expect_former_member(const harness_account *a) {
  json_t *m = harness_get_json(hpath("/v1/members/%s", a->id), g_admin.token);
  assert_json_str(m, "status", "erased");
  assert_json_str(m, "display_name", "former member");
  assert_true(hjson_is_null(m, "email"));
  json_t *d = hjson_get(m, "discipline");
  assert_true(d == NULL || json_is_null(d));
  char *text = json_dumps(m, JSON_COMPACT);
  if (strstr(text, a->email) || strstr(text, a->display_name))
    harness_fail("the erased member still shows personal data: %s", text);
  free(text);
  json_decref(m);
  /* not found by name or email any more */
  char *q = harness_urlencode(a->display_name);
  json_t *hits = harness_list_all(hpath("/v1/members?q=%s", q), g_admin.token);
  free(q);
  if (find(hits, "id", a->id))
    harness_fail("the erased member is still found by their old name");
  json_decref(hits);
  /* the group no longer lists them, and no membership list carries their name */
  http_response *r = http_get(hpath("/v1/groups/%s/members", g_group), g_conv.token);
  assert_status(r, 200);
  if (strstr(r->body, a->display_name) || strstr(r->body, a->email))
    harness_fail("the group's member list still names the erased member: %s", r->body);
  http_response_free(r);
  /* their attendance stays, attributed to nobody by name */
  json_t *meeting = harness_get_json(hpath("/v1/groups/%s/meetings/%s", g_group, g_meeting), g_conv.token);
  json_t *att = hjson_get(meeting, "attendance");
  assert_int_equal(json_array_size(att), 6);
  json_t *entry = find(att, "member_id", a->id);
  if (!entry)
    harness_fail("the erased member's attendance record is gone: %s", json_dumps(att, JSON_COMPACT));
  const char *name = hjson_str(entry, "display_name");
  if (name && strcmp(name, "former member") != 0)
    harness_fail("the attendance record still names the erased member: %s", name);
  json_decref(meeting);
  /* the audit log keeps what was done, not who they were */
  r = http_get(hpath("/v1/audit?resource_id=%s&limit=200", a->id), g_admin.token);
  assert_status(r, 200);
  if (strstr(r->body, a->email) || strstr(r->body, a->display_name))
    harness_fail("the audit log keeps the erased member's email or name: %s", r->body);
  http_response_free(r);
  r = http_get(hpath("/v1/audit?actor_id=%s&limit=200", a->id), g_admin.token);
  assert_status(r, 200);
  if (strstr(r->body, a->email) || strstr(r->body, a->display_name))
    harness_fail("the audit log keeps the erased member's email or name: %s", r->body);
  http_response_free(r);
}

/* The member.erased row: exactly one, by actor_id, with details.self. */
static void expect_erasure_audited(const char *member_id, const char *actor_id, bool self) {
  json_t *rows = harness_list_all(
      hpath("/v1/audit?resource_type=member&resource_id=%s&action=member.erased", member_id), g_admin.token);
  if (json_array_size(rows) != 1)
    harness_fail("expected one member.erased row for %s, got %s", member_id, json_dumps(rows, JSON_COMPACT));
  json_t *row = json_array_get(rows, 0);
  assert_json_str(row, "actor_id", actor_id);
  assert_json_str(row, "resource_type", "member");
  assert_json_str(row, "resource_id", member_id);
  json_t *s = hjson_get(row, "details.self");
  if (s && json_is_boolean(s))
    assert_int_equal(json_is_true(s), self);
  assert_non_null(hjson_str(row, "at"));
  json_decref(rows);
}

/* ---------------------------------------------------------------- export */

static void test_export_has_my_data_and_nobody_elses(void **state) {
  (void)state;
  http_response *r = http_get("/v1/me/export", g_self.token);
  assert_status(r, 200);
  assert_header_equal(r, "Cache-Control", "no-store");
  const char *ct = http_header(r, "Content-Type");
  assert_true(ct && strncmp(ct, "application/json", 16) == 0);
  json_t *x = r->json;
  assert_non_null(hjson_str(x, "exported_at"));
  assert_json_str(x, "member.id", g_self.id);
  assert_json_str(x, "member.email", g_self.email);
  assert_json_str(x, "member.display_name", g_self.display_name);
  assert_json_str(x, "member.discipline", "Family support");
  assert_json_str(x, "member.home_site_id", g_site);

  json_t *gm = find(hjson_get(x, "group_memberships"), "group_id", g_group);
  if (!gm)
    harness_fail("the export lacks the membership of group %s: %s", g_group, r->body);
  assert_json_str(gm, "state", "active");
  assert_json_str(gm, "role", "member");
  if (!find(hjson_get(x, "terms_acceptances"), "group_id", g_group))
    harness_fail("the export lacks the terms acceptance: %s", r->body);
  json_t *att = find(hjson_get(x, "meeting_attendance"), "meeting_id", g_meeting);
  if (!att)
    harness_fail("the export lacks the meeting attendance: %s", r->body);
  assert_json_str(att, "status", "present");
  json_t *reg = find(hjson_get(x, "event_registrations"), "event_id", g_event);
  if (!reg)
    harness_fail("the export lacks the event registration: %s", r->body);
  assert_json_str(reg, "status", "going");
  /* sessions: the login made one; only times, no token or digest */
  json_t *sessions = hjson_get(x, "sessions");
  if (!json_is_array(sessions) || json_array_size(sessions) < 1)
    harness_fail("the export lacks the login session: %s", r->body);
  size_t i;
  json_t *s;
  json_array_foreach(sessions, i, s) {
    const char *k;
    json_t *v;
    json_object_foreach(s, k, v) {
      if (strstr(k, "token") || strstr(k, "digest") || strstr(k, "hash") || strstr(k, "secret"))
        harness_fail("a session in the export carries \"%s\"", k);
    }
  }
  if (strstr(r->body, g_self.refresh))
    harness_fail("the export carries the refresh token");
  if (strstr(r->body, "$argon2") || strstr(r->body, "password_hash"))
    harness_fail("the export carries password material");
  /* nobody else's data: names, emails and ids of the other members; not the group's notes */
  const harness_account *others[] = {&g_conv, &g_p[0], &g_p[1], &g_p[2], &g_erased, &g_mgr, &g_admin};
  for (size_t k = 0; k < sizeof others / sizeof others[0]; k++) {
    if (strstr(r->body, others[k]->id) || strstr(r->body, others[k]->email) ||
        (others[k]->display_name[0] && strstr(r->body, others[k]->display_name)))
      harness_fail("%s's export carries data of member %s: %s", g_self.id, others[k]->id, r->body);
  }
  if (strstr(r->body, g_notes) || strstr(r->body, g_answer))
    harness_fail("the export carries the group's notes or its consultation answer (the group's, not mine)");
  http_response_free(r);

  /* and the others' exports do not carry this member's data */
  const harness_account *peers[] = {&g_conv, &g_p[1], &g_erased};
  for (size_t k = 0; k < 3; k++) {
    r = http_get("/v1/me/export", peers[k]->token);
    assert_status(r, 200);
    assert_json_str(r->json, "member.id", peers[k]->id);
    if (strstr(r->body, g_self.id) || strstr(r->body, g_self.email) || strstr(r->body, g_self.display_name))
      harness_fail("%s's export carries data of %s", peers[k]->id, g_self.id);
    http_response_free(r);
  }
  /* no way to ask for someone else's export */
  r = http_get(hpath("/v1/me/export?member_id=%s", g_erased.id), g_self.token);
  if (r->status == 200 && strstr(r->body, g_erased.email))
    harness_fail("?member_id= exported someone else");
  http_response_free(r);
  r = http_get(hpath("/v1/members/%s/export", g_self.id), g_admin.token);
  if (r->status == 200)
    harness_fail("an admin read a member's export through /v1/members/{id}/export");
  http_response_free(r);
}

/* ---------------------------------------------------------------- erasure */

static void test_managers_cannot_erase(void **state) {
  (void)state;
  /* the manager of the member's site sees them: 403; another site's manager: 404 */
  http_response *r = http_request("DELETE", hpath("/v1/members/%s", g_p[2].id), g_mgr.token, NULL, NULL, NULL);
  assert_problem(r, 403);
  http_response_free(r);
  r = http_request("DELETE", hpath("/v1/members/%s", g_p[2].id), g_other_mgr.token, NULL, NULL, NULL);
  assert_problem(r, 404);
  http_response_free(r);
  /* nor a fellow group member */
  r = http_request("DELETE", hpath("/v1/members/%s", g_p[2].id), g_conv.token, NULL, NULL, NULL);
  if (r->status != 403 && r->status != 404)
    harness_fail("a practitioner erasing a peer: expected 403/404, got %ld", r->status);
  http_response_free(r);
  json_t *m = harness_get_json(hpath("/v1/members/%s", g_p[2].id), g_admin.token);
  assert_json_str(m, "status", "active");
  assert_json_str(m, "email", g_p[2].email);
  json_decref(m);
}

static void test_erasing_myself(void **state) {
  (void)state;
  json_t *before = summary_figures();
  json_t *resp_before = harness_get_json(hpath("/v1/consultations/%s/responses", g_consult), g_mgr.token);
  json_t *group_before = harness_get_json(hpath("/v1/groups/%s", g_group), g_conv.token);

  http_response *r = http_request("DELETE", "/v1/me", g_self.token, NULL, NULL, NULL);
  assert_status(r, 204);
  assert_int_equal(r->body_len, 0);
  http_response_free(r);

  expect_locked_out(&g_self);
  expect_former_member(&g_self);
  expect_erasure_audited(g_self.id, g_self.id, true);

  /* the group's consultation response is untouched; the group is still active */
  json_t *resp_after = harness_get_json(hpath("/v1/consultations/%s/responses", g_consult), g_mgr.token);
  if (!json_equal(resp_before, resp_after))
    harness_fail("the group's consultation response changed when a member was erased");
  json_decref(resp_before);
  json_decref(resp_after);
  json_t *group_after = harness_get_json(hpath("/v1/groups/%s", g_group), g_conv.token);
  assert_json_str(group_after, "status", hjson_str(group_before, "status"));
  assert_int_equal(harness_json_int_at(group_after, "member_count", __FILE__, __LINE__),
                   harness_json_int_at(group_before, "member_count", __FILE__, __LINE__) - 1);
  json_decref(group_before);
  json_decref(group_after);
  json_t *after = summary_figures();
  expect_same_figures(before, after, "when a member erased themself");
  json_decref(before);
  json_decref(after);
}

static void test_admin_erases_a_member(void **state) {
  (void)state;
  json_t *before = summary_figures();
  http_response *r = http_request("DELETE", hpath("/v1/members/%s", g_erased.id), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  expect_locked_out(&g_erased);
  expect_former_member(&g_erased);
  expect_erasure_audited(g_erased.id, g_admin.id, false);
  json_t *after = summary_figures();
  expect_same_figures(before, after, "when an admin erased a member");
  json_decref(before);
  json_decref(after);
  /* erasing again changes nothing and writes no second row */
  r = http_request("DELETE", hpath("/v1/members/%s", g_erased.id), g_admin.token, NULL, NULL, NULL);
  if (r->status != 204 && r->status != 404)
    harness_fail("erasing an erased member again: expected 204 (or 404), got %ld", r->status);
  http_response_free(r);
  expect_erasure_audited(g_erased.id, g_admin.id, false);
}

/* "Forever": an erased account cannot be brought back, and its old password opens nothing, even
 * once the freed email belongs to a new account. */
static void test_erasure_is_forever(void **state) {
  (void)state;
  char path[128];
  snprintf(path, sizeof path, "/v1/members/%s", g_erased.id);
  const char *bodies[] = {"{\"status\":\"active\"}", "{\"role\":\"admin\"}", "{\"email\":\"back@test.example\"}",
                          "{\"display_name\":\"Back again\"}"};
  for (int i = 0; i < 4; i++) {
    http_response *r = http_request("PATCH", path, g_admin.token, "application/json", bodies[i], NULL);
    if (r->status / 100 == 2)
      harness_fail("PATCH %s on an erased member succeeded: %s", bodies[i], r->body);
    assert_problem(r, r->status);
    http_response_free(r);
  }
  json_t *m = harness_get_json(path, g_admin.token);
  assert_json_str(m, "status", "erased");
  json_decref(m);
  /* the email may be used again by a new account; the old password does not open it */
  http_response *r = http_json("POST", "/v1/members", g_admin.token,
                               json_pack("{s:s, s:s, s:s, s:s}", "email", g_erased.email, "display_name", "Newcomer",
                                         "role", "practitioner", "home_site_id", g_site));
  if (r->status != 201 && r->status != 409)
    harness_fail("a new account with an erased member's email: expected 201 or 409, got %ld %s", r->status, r->body);
  if (r->status == 201 && strcmp(hjson_str(r->json, "member.id"), g_erased.id) == 0)
    harness_fail("the erased account was revived");
  http_response_free(r);
  expect_locked_out(&g_erased);
}

/* ---------------------------------------------------------------- export completeness */

/* Every column of the schema that names a member, and where the export shows it. A column the
 * export leaves out on purpose has its reason instead. A new table or column naming a member
 * fails the test below until it is added here (and, normally, to the export). */
static const struct {
  const char *column;     /* table.column */
  const char *export_key; /* the export's list holding its rows, or NULL */
  const char *why_not;    /* when export_key is NULL: why it is not exported */
} g_member_columns[] = {
    {"site_managers.member_id", "managed_sites", NULL},
    {"refresh_tokens.member_id", "sessions", NULL}, /* times only: digests are secrets */
    {"audit_log.actor_id", "audit_entries", NULL},
    {"groups.created_by", "groups_created", NULL},
    {"group_memberships.member_id", "group_memberships", NULL},
    {"group_memberships.invited_by", "invitations_sent", NULL},
    {"group_terms.created_by", "terms_versions", NULL},
    {"terms_acceptances.member_id", "terms_acceptances", NULL},
    {"meetings.created_by", "meetings_created", NULL},
    {"meeting_attendance.member_id", "meeting_attendance", NULL},
    {"consultations.created_by", "consultations_owned", NULL},
    {"events.created_by", "events_created", NULL},
    {"event_registrations.member_id", "event_registrations", NULL},
    {"notifications.member_id", "notifications", NULL},
    {"calendar_feeds.member_id", "calendar_feeds", NULL}, /* ids and times only: digests are secrets */
    {"threads.created_by", "threads_started", NULL},
    {"posts.author_id", "posts", NULL},
    {"thread_reads.member_id", "thread_reads", NULL},
    {"password_resets.member_id", "password_resets", NULL}, /* times only: digests are secrets */
    {"mail_outbox.member_id", "pending_email", NULL},       /* subject and time: the body holds a live link */
    {"member_identities.member_id", "identities", NULL},    /* single sign-on identities (tests/e2e/e2e_oidc_*) */
    {"idempotency_keys.client_id", NULL,
     "Idempotency-Key replay records, kept 48 hours: copies of answers the member already received; what "
     "they created is exported under its own key"},
    {"member_write_positions.member_id", NULL,
     "where in the database's write-ahead log the member's last change ends (replica reads only): operational, "
     "nothing the member wrote; deleted by erasure"},
    {"stream_tickets.member_id", NULL,
     "single-use tickets that open the live stream, valid 60 seconds: secrets (digests), nothing the member "
     "wrote; deleted by erasure"},
    /* login_failures holds no member id (its buckets are keyed by what was typed): a secret, not exported */
};

/* The columns naming a member: foreign keys to members(id), and uuid columns named like one. */
static const char *const g_member_columns_sql =
    "SELECT coalesce(string_agg(col, ',' ORDER BY col), '') FROM ("
    " SELECT c.conrelid::regclass::text || '.' || a.attname AS col FROM pg_constraint c"
    " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)"
    " WHERE c.contype = 'f' AND c.confrelid = 'members'::regclass"
    " UNION SELECT k.table_name || '.' || k.column_name FROM information_schema.columns k"
    " JOIN information_schema.tables t ON t.table_schema = k.table_schema AND t.table_name = k.table_name"
    " WHERE k.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND k.table_name <> 'members'"
    "   AND k.data_type = 'uuid' AND (k.column_name ~ '(^|_)(member|actor|client|owner|user|author|recipient)_id$'"
    "        OR k.column_name ~ '_by$')) x";

static void test_export_covers_every_table_naming_a_member(void **state) {
  (void)state;
  /* X, a manager, leaves a row in every table that names a member */
  harness_account x, y;
  harness_new_manager_of(g_admin.token, g_site, &x);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &y);
  char group[HARNESS_ID_MAX], consult[HARNESS_ID_MAX], event[HARNESS_ID_MAX], meeting[HARNESS_ID_MAX];
  char starts[32], ends[32];
  json_decref(harness_new_group(x.token, g_site, 2, 8, group));
  harness_group_invite(group, x.token, y.id, NULL);
  harness_group_activate(group, y.token, y.id);
  int tv = harness_group_post_terms(group, x.token, "Written by the manager.");
  harness_group_accept_terms(group, tv, x.token);
  http_response *r = http_json("POST", hpath("/v1/groups/%s/meetings", group), x.token,
                               json_pack("{s:s, s:s}", "starts_at", harness_rfc3339_from_now(-3 * 86400, starts),
                                         "ends_at", harness_rfc3339_from_now(-3 * 86400 + 3600, ends)));
  assert_status(r, 201);
  snprintf(meeting, sizeof meeting, "%s", hjson_str(r->json, "id"));
  http_response_free(r);
  r = http_json("PUT", hpath("/v1/groups/%s/meetings/%s/attendance", group, meeting), x.token,
                json_pack("{s:[{s:s, s:s}]}", "attendance", "member_id", x.id, "status", "present"));
  assert_status(r, 200);
  http_response_free(r);
  json_decref(harness_new_consultation(x.token, harness_consultation_body(g_site, NULL, 3600, WEEK), consult));
  json_decref(harness_new_event(x.token, harness_event_body("seminar", 6 * 86400, 3600, g_site), event));
  harness_event_register(event, x.token, "going");
  r = http_request("POST", "/v1/me/calendar-feeds", x.token, NULL, NULL, NULL);
  assert_status(r, 201);
  http_response_free(r);
  harness_account z; /* z asks to join x's group: x, its convener, is notified */
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &z);
  harness_group_request(group, z.token);
  r = http_json("POST", hpath("/v1/groups/%s/threads", group), x.token,
                json_pack("{s:s, s:s}", "title", "Between meetings", "body", "Written by the manager."));
  assert_status(r, 201);
  http_response_free(r);

  /* a password reset asked for (this suite runs no jobs: the email stays in the outbox) */
  r = http_json("POST", "/v1/auth/password-reset", NULL, json_pack("{s:s}", "email", x.email));
  assert_status(r, 202);
  http_response_free(r);

  /* a single sign-on identity (signing in through a provider is tests/e2e/e2e_oidc_*; here only its row) */
  assert_int_equal(harness_psql_try(hpath("INSERT INTO member_identities (member_id, provider_id, issuer, subject)"
                                          " VALUES ('%s', 'test', 'https://idp.example.org', '%s')",
                                          x.id, x.id)),
                   0);

  /* notifications are counted up to this moment: another suite's network-wide event may reach x after it */
  char *before_export = harness_psql_scalar("SELECT clock_timestamp()");
  r = http_get("/v1/me/export", x.token);
  assert_status(r, 200);
  json_t *exp = r->json;
  if (strstr(r->body, "reset-password?token=") != NULL)
    harness_fail("the export shows the live link of a pending email: %s", r->body);
  char *found = harness_psql_scalar(g_member_columns_sql);
  int checked = 0;
  for (char *save = NULL, *col = strtok_r(found, ",", &save); col; col = strtok_r(NULL, ",", &save)) {
    size_t k = 0, n = sizeof g_member_columns / sizeof g_member_columns[0];
    while (k < n && strcmp(g_member_columns[k].column, col) != 0)
      k++;
    if (k == n)
      harness_fail("%s names a member, but the export does not account for it: export it in members_db_export "
                   "and list it in g_member_columns (or list it there with the reason it is not exported)",
                   col);
    if (g_member_columns[k].export_key == NULL) {
      assert_true(g_member_columns[k].why_not && strlen(g_member_columns[k].why_not) > 20);
      continue;
    }
    char table[128], q[512];
    snprintf(table, sizeof table, "%s", col);
    char *dot = strchr(table, '.');
    assert_non_null(dot);
    *dot = '\0';
    snprintf(q, sizeof q, "SELECT count(*) FROM %s WHERE %s = '%s'", table, dot + 1, x.id);
    if (strcmp(table, "notifications") == 0)
      snprintf(q, sizeof q, "SELECT count(*) FROM notifications WHERE member_id = '%s' AND created_at < '%s'", x.id,
               before_export);
    long rows = harness_psql_long(q);
    if (rows < 1)
      harness_fail("the test made no row of %s for its member: extend its fixture", col);
    json_t *list = json_object_get(exp, g_member_columns[k].export_key);
    if (!json_is_array(list) || (long)json_array_size(list) < rows)
      harness_fail("%s holds %ld rows of the member, the export's %s shows %zu: %s", col, rows,
                   g_member_columns[k].export_key, json_is_array(list) ? json_array_size(list) : 0, r->body);
    checked++;
  }
  free(found);
  free(before_export);
  assert_true(checked >= 13);
  /* what X did to Y does not carry Y's id; the audit rows carry their details */
  if (strstr(r->body, y.id))
    harness_fail("the manager's export carries the invitee's id: %s", r->body);
  json_t *e = find(hjson_get(exp, "audit_entries"), "action", "member.created");
  /* X was created by the admin: by_me false, details {"role": "manager"} */
  if (e == NULL || json_is_true(hjson_get(e, "by_me")) ||
      strcmp(hjson_str(e, "details.role") ? hjson_str(e, "details.role") : "", "manager") != 0)
    harness_fail("the export's audit entry member.created lacks its details: %s", r->body);
  json_t *t = find(hjson_get(exp, "terms_versions"), "group_id", group);
  if (t == NULL || strcmp(hjson_str(t, "body"), "Written by the manager.") != 0)
    harness_fail("the export lacks the terms version the member wrote: %s", r->body);
  if (!find(hjson_get(exp, "meetings_created"), "id", meeting) ||
      !find(hjson_get(exp, "invitations_sent"), "group_id", group) ||
      !find(hjson_get(exp, "groups_created"), "id", group))
    harness_fail("the export lacks a meeting, an invitation or a group the member made: %s", r->body);
  http_response_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_export_has_my_data_and_nobody_elses),
      cmocka_unit_test(test_export_covers_every_table_naming_a_member),
      cmocka_unit_test(test_managers_cannot_erase),
      cmocka_unit_test(test_erasing_myself),
      cmocka_unit_test(test_admin_erases_a_member),
      cmocka_unit_test(test_erasure_is_forever),
  };
  return cmocka_run_group_tests(tests, group_setup, harness_suite_teardown);
}
