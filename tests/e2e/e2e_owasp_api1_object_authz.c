/*
 * e2e_owasp_api1_object_authz.c — OWASP API Security Top 10 (2023) API1, broken object level
 * authorization, against the real server.
 *
 * One world (harness_consult_world_build plus a meeting, a consultation with a submitted response,
 * partner and member events with a registration) and, for every resource type that has ids (sites
 * and their managers and summaries, members, groups, memberships, terms, meetings, consultations,
 * responses, partners, events, registrations), callers from another site, another group or another
 * partner try GET / PATCH / PUT / DELETE on the object by its id.  The rule (API.md section 2): an
 * object the caller may not know exists is 404, never 403 and never 200; an object the caller can
 * see but may not change (a site, a group of their own site, a network event) is 403.  No refusal
 * carries the object's data, and afterwards the object is unchanged (same version, same fields).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static harness_account g_admin;
static harness_consult_world W;
static harness_partner g_p1, g_p2;

static char g_meeting[HARNESS_ID_MAX];       /* in group1, by conv1 */
static char g_notes[HARNESS_NAME_MAX + 16];  /* its notes */
static char g_consult[HARNESS_ID_MAX];       /* by mgr_a, targeting site_a, open */
static char g_draft[HARNESS_ID_MAX];         /* by mgr_a, targeting site_a, draft */
static char g_answer[HARNESS_NAME_MAX + 16]; /* group1's submitted answer to g_consult */
static char g_ev_partner[HARNESS_ID_MAX];    /* by partner 1, audience site_a, pending */
static char g_ev_site_a[HARNESS_ID_MAX];     /* by mgr_a, audience site_a, published */
static char g_ev_network[HARNESS_ID_MAX];    /* by the admin, network, published */

#define UNKNOWN_UUID "00000000-0000-4000-8000-000000000000"
#define WEEK (7L * 24 * 3600)

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_consult_world_build(g_admin.token, &W);

  /* a meeting of group1 with notes, and attendance */
  char u[HARNESS_NAME_MAX];
  snprintf(g_notes, sizeof g_notes, "Notes %s", harness_unique("secret", u));
  http_response *r = http_json("POST", hpath("/v1/groups/%s/meetings", W.group1), W.conv1.token,
                               json_pack("{s:s, s:s, s:s, s:s}", "starts_at", "2030-05-01T09:00:00Z", "ends_at",
                                         "2030-05-01T10:00:00Z", "notes", g_notes, "agenda", "Agenda of group 1"));
  assert_status(r, 201);
  snprintf(g_meeting, sizeof g_meeting, "%s", hjson_str(r->json, "id"));
  http_response_free(r);
  r = http_json("PUT", hpath("/v1/groups/%s/meetings/%s/attendance", W.group1, g_meeting), W.conv1.token,
                json_pack("{s:[{s:s, s:s}]}", "attendance", "member_id", W.mem1.id, "status", "present"));
  assert_status(r, 200);
  http_response_free(r);

  /* an open consultation for site A, answered by group 1; and a draft */
  json_decref(harness_new_consultation(W.mgr_a.token, harness_consultation_body(W.site_a, NULL, -60, WEEK), g_consult));
  harness_consultation_set_status(g_consult, W.mgr_a.token, "open");
  json_decref(harness_new_consultation(W.mgr_a.token, harness_consultation_body(W.site_a, NULL, 3600, WEEK), g_draft));
  snprintf(g_answer, sizeof g_answer, "Answer %s", harness_unique("group1", u));
  r = http_json(
      "PUT", hpath("/v1/consultations/%s/responses/%s", g_consult, W.group1), W.rep1.token,
      json_pack("{s:[{s:s, s:s}], s:s}", "answers", "question_id", "q1", "text", g_answer, "status", "submitted"));
  if (r->status != 201 && r->status != 200)
    harness_fail("group 1's response should be stored, got %ld %s", r->status, r->body);
  http_response_free(r);

  /* partners and events */
  harness_new_partner(g_admin.token, false, &g_p1);
  harness_new_partner(g_admin.token, false, &g_p2);
  json_decref(harness_new_event(g_p1.token, harness_event_body("seminar", 5 * 86400, 3600, W.site_a), g_ev_partner));
  json_decref(harness_new_event(W.mgr_a.token, harness_event_body("workshop", 6 * 86400, 3600, W.site_a), g_ev_site_a));
  json_decref(harness_new_event(g_admin.token, harness_event_body("seminar", 7 * 86400, 3600, NULL), g_ev_network));
  r = http_json("PUT", hpath("/v1/events/%s/registration", g_ev_site_a), W.mem1.token,
                json_pack("{s:s}", "status", "going"));
  if (r->status != 200 && r->status != 201)
    harness_fail("mem1's registration should be stored, got %ld %s", r->status, r->body);
  http_response_free(r);
  return 0;
}

/* ---------------------------------------------------------------- helpers */

/* A refusal that tells nothing: status 404 (with may_403 also 403), a problem+json body, and none
 * of the NULL-terminated strings in leaks (ids of other objects, names, notes) in the body.
 * Frees r. */
#define expect_refused(r, may_403, ...)                                                                                \
  expect_refused_at((r), (may_403), (const char *const[]){__VA_ARGS__, NULL}, __FILE__, __LINE__)
static void expect_refused_at(http_response *r, bool may_403, const char *const *leaks, const char *file, int line) {
  if (!(r->status == 404 || (may_403 && r->status == 403))) {
    harness_fail_at(file, line, "%s %s: expected %s, got %ld: %.600s", r->method, r->path,
                    may_403 ? "403 or 404" : "404 (an object the caller may not know exists)", r->status, r->body);
  }
  harness_assert_problem(r, r->status, NULL, file, line);
  for (const char *const *l = leaks; *l; l++)
    if (**l && strstr(r->body, *l))
      harness_fail_at(file, line, "%s %s: the refusal carries \"%s\": %s", r->method, r->path, *l, r->body);
  http_response_free(r);
}

/* Exactly 403 (the caller can see the object, but not change it), carrying none of leaks. Frees r. */
#define expect_forbidden(r, ...) expect_forbidden_at((r), (const char *const[]){__VA_ARGS__, NULL}, __FILE__, __LINE__)
static void expect_forbidden_at(http_response *r, const char *const *leaks, const char *file, int line) {
  harness_assert_problem(r, 403, "forbidden", file, line);
  for (const char *const *l = leaks; *l; l++)
    if (**l && strstr(r->body, *l))
      harness_fail_at(file, line, "%s %s: the refusal carries \"%s\": %s", r->method, r->path, *l, r->body);
  http_response_free(r);
}

static http_response *del(const char *path, const char *token) {
  return http_request("DELETE", path, token, NULL, NULL, NULL);
}

static http_response *put_empty(const char *path, const char *token) {
  return http_request("PUT", path, token, NULL, NULL, NULL);
}

/* ---------------------------------------------------------------- sites */

static void test_sites_of_another_site(void **state) {
  (void)state;
  char site_path[128];
  snprintf(site_path, sizeof site_path, "/v1/sites/%s", W.site_a);
  char *before = harness_snapshot(site_path, g_admin.token);
  char *managers_before = harness_snapshot(hpath("/v1/sites/%s/managers", W.site_a), g_admin.token);

  /* sites are visible to every member: refusals to change them are 403 */
  const harness_account *callers[] = {&W.mgr_b, &W.pb, &W.conv_b, &W.conv1};
  for (size_t i = 0; i < sizeof callers / sizeof callers[0]; i++) {
    const char *tok = callers[i]->token;
    expect_forbidden(http_json("PATCH", site_path, tok, json_pack("{s:s}", "name", "Taken over")), "");
    expect_forbidden(del(site_path, tok), "");
    /* making oneself (or anyone) a manager of a site one does not administer */
    expect_forbidden(put_empty(hpath("/v1/sites/%s/managers/%s", W.site_a, W.mgr_b.id), tok), "");
    expect_forbidden(del(hpath("/v1/sites/%s/managers/%s", W.site_a, W.mgr_a.id), tok), "");
  }
  /* the summary of another site: refused, without figures */
  expect_refused(http_get(hpath("/v1/sites/%s/summary", W.site_a), W.mgr_b.token), true, "active_members", "groups");
  expect_refused(http_get(hpath("/v1/sites/%s/summary", W.site_a), W.pb.token), true, "active_members", "groups");
  /* a manager of site A edits site A, not site B */
  expect_forbidden(
      http_json("PATCH", hpath("/v1/sites/%s", W.site_b), W.mgr_a.token, json_pack("{s:s}", "region", "Elsewhere")),
      "");

  harness_expect_unchanged(before, site_path, g_admin.token);
  harness_expect_unchanged(managers_before, hpath("/v1/sites/%s/managers", W.site_a), g_admin.token);
  /* and mgr_b is still no manager of site A */
  expect_forbidden(http_json("PATCH", site_path, W.mgr_b.token, json_pack("{s:s}", "region", "Still no")), "");
}

static void test_summaries_list_only_own_sites(void **state) {
  (void)state;
  json_t *rows = harness_list_all("/v1/summaries/sites", W.mgr_b.token);
  size_t i;
  json_t *row;
  json_array_foreach(rows, i, row) {
    const char *sid = hjson_str(row, "site_id");
    if (sid && strcmp(sid, W.site_a) == 0)
      harness_fail("site B's manager gets site A's summary row: %s", json_dumps(row, JSON_COMPACT));
  }
  json_decref(rows);
}

/* ---------------------------------------------------------------- members */

static void test_members_of_another_site(void **state) {
  (void)state;
  char path[128];
  snprintf(path, sizeof path, "/v1/members/%s", W.mem1.id);
  char *before = harness_snapshot(path, g_admin.token);
  /* managers of another site, practitioners (of any site), facilitators: 404 on someone else */
  const harness_account *callers[] = {&W.mgr_b, &W.pb, &W.conv_b, &W.mem1b, &W.fac_b, &W.lone_a};
  for (size_t i = 0; i < sizeof callers / sizeof callers[0]; i++) {
    const char *tok = callers[i]->token;
    expect_refused(http_get(path, tok), false, W.mem1.email, W.mem1.display_name);
    expect_refused(http_get_with_headers(path, tok, (const char *const[]){"If-None-Match: \"1\"", NULL}), false,
                   W.mem1.email);
    expect_refused(http_json("PATCH", path, tok, json_pack("{s:s}", "display_name", "Renamed")), false, W.mem1.email,
                   W.mem1.display_name);
    expect_refused(http_json("PATCH", path, tok, json_pack("{s:s}", "status", "suspended")), false, W.mem1.email);
    expect_refused(http_json("PATCH", path, tok, json_pack("{s:s}", "email", "stolen@test.example")), false,
                   W.mem1.email);
  }
  /* erasure of another member: managers of other sites 404; nobody but admins erases others */
  expect_refused(del(path, W.mgr_b.token), false, W.mem1.email);
  expect_refused(del(path, W.pb.token), false, W.mem1.email);
  expect_refused(del(path, W.mem1b.token), false, W.mem1.email);
  /* the list filter cannot be used to reach another site's members */
  http_response *r = http_get(hpath("/v1/members?site_id=%s", W.site_a), W.mgr_b.token);
  if (r->status == 200) {
    if (strstr(r->body, W.mem1.id))
      harness_fail("site B's manager lists site A's members: %s", r->body);
  } else if (r->status != 403 && r->status != 404 && r->status != 400) {
    harness_fail("GET /v1/members?site_id=<other site> as a manager: expected 200 without them, or 403/404, got %ld",
                 r->status);
  }
  http_response_free(r);
  harness_expect_unchanged(before, path, g_admin.token);
  /* and mem1's own account still works as before */
  json_decref(harness_get_json("/v1/me", W.mem1.token));
}

/* ---------------------------------------------------------------- groups and memberships */

static void test_groups_of_another_site(void **state) {
  (void)state;
  char path[128];
  snprintf(path, sizeof path, "/v1/groups/%s", W.group1);
  char *before = harness_snapshot(path, W.conv1.token);
  const harness_account *outsiders[] = {&W.mgr_b, &W.pb, &W.conv_b};
  for (size_t i = 0; i < sizeof outsiders / sizeof outsiders[0]; i++) {
    const char *tok = outsiders[i]->token;
    expect_refused(http_get(path, tok), false, W.group1_name);
    expect_refused(http_json("PATCH", path, tok, json_pack("{s:s}", "name", "Hijacked")), false, W.group1_name);
    expect_refused(http_json("PATCH", path, tok, json_pack("{s:s}", "status", "dormant")), false, W.group1_name);
    expect_refused(del(path, tok), false, W.group1_name);
  }
  /* a practitioner of the same site sees the group in the directory but is no member: 403 */
  const harness_account *same_site[] = {&W.conv2, &W.mem2, &W.lone_a};
  for (size_t i = 0; i < sizeof same_site / sizeof same_site[0]; i++) {
    expect_refused(http_json("PATCH", path, same_site[i]->token, json_pack("{s:s}", "name", "Hijacked")), true, "");
    expect_refused(del(path, same_site[i]->token), true, "");
  }
  /* a plain member of the group cannot close or rename it either */
  expect_refused(http_json("PATCH", path, W.mem1.token, json_pack("{s:s}", "name", "Hijacked")), true, "");
  expect_refused(del(path, W.mem1.token), true, "");
  harness_expect_unchanged(before, path, W.conv1.token);
}

static void test_memberships_of_another_group(void **state) {
  (void)state;
  char path[160];
  snprintf(path, sizeof path, "/v1/groups/%s/members/%s", W.group1, W.mem1.id);
  char *before = harness_snapshot(path, W.conv1.token);
  char *list_before = harness_snapshot(hpath("/v1/groups/%s/members", W.group1), W.conv1.token);

  const harness_account *outsiders[] = {&W.mgr_b, &W.pb, &W.conv_b};
  for (size_t i = 0; i < sizeof outsiders / sizeof outsiders[0]; i++) {
    const char *tok = outsiders[i]->token;
    expect_refused(http_get(path, tok), false, W.mem1.display_name);
    expect_refused(http_get(hpath("/v1/groups/%s/members", W.group1), tok), false, W.mem1.display_name);
    expect_refused(http_json("PATCH", path, tok, json_pack("{s:s}", "role", "convener")), false, W.mem1.display_name);
    expect_refused(http_json("PATCH", path, tok, json_pack("{s:s}", "state", "active")), false, W.mem1.display_name);
    expect_refused(del(path, tok), false, W.mem1.display_name);
    /* joining or inviting into a group of another site */
    expect_refused(http_json("POST", hpath("/v1/groups/%s/members", W.group1), tok, json_object()), false,
                   W.mem1.display_name);
    expect_refused(
        http_json("POST", hpath("/v1/groups/%s/members", W.group1), tok, json_pack("{s:s}", "member_id", W.pb.id)),
        false, W.mem1.display_name);
  }
  /* the convener of another group of the same site: sees group 1, may not manage it (403) */
  expect_refused(http_json("PATCH", path, W.conv2.token, json_pack("{s:s}", "role", "convener")), true,
                 W.mem1.display_name);
  expect_refused(del(path, W.conv2.token), true, W.mem1.display_name);
  expect_refused(http_json("POST", hpath("/v1/groups/%s/members", W.group1), W.conv2.token,
                           json_pack("{s:s}", "member_id", W.lone_a.id)),
                 true, W.mem1.display_name);
  /* ... nor reach group 1's member through group 2's path (404: no such membership in group 2) */
  char cross[160];
  snprintf(cross, sizeof cross, "/v1/groups/%s/members/%s", W.group2, W.mem1.id);
  expect_refused(http_get(cross, W.conv2.token), false, W.mem1.display_name);
  expect_refused(http_json("PATCH", cross, W.conv2.token, json_pack("{s:s}", "role", "convener")), false,
                 W.mem1.display_name);
  expect_refused(http_json("PATCH", cross, W.conv2.token, json_pack("{s:s}", "state", "active")), false,
                 W.mem1.display_name);
  expect_refused(del(cross, W.conv2.token), false, W.mem1.display_name);
  /* a plain member of group 1 cannot change another member's role or remove them */
  expect_refused(http_json("PATCH", path, W.mem1b.token, json_pack("{s:s}", "role", "member")), true, "");
  expect_refused(del(path, W.mem1b.token), true, "");

  harness_expect_unchanged(before, path, W.conv1.token);
  harness_expect_unchanged(list_before, hpath("/v1/groups/%s/members", W.group1), W.conv1.token);
}

static void test_terms_of_another_group(void **state) {
  (void)state;
  char path[128];
  snprintf(path, sizeof path, "/v1/groups/%s/terms", W.group1);
  char *before = harness_snapshot(path, W.conv1.token);
  const harness_account *outsiders[] = {&W.mgr_b, &W.pb, &W.conv_b};
  for (size_t i = 0; i < sizeof outsiders / sizeof outsiders[0]; i++) {
    const char *tok = outsiders[i]->token;
    expect_refused(http_get(path, tok), false, "what is said here");
    expect_refused(http_json("POST", path, tok, json_pack("{s:s}", "body", "New terms by an outsider")), false,
                   "what is said here");
    expect_refused(http_json("POST", hpath("/v1/groups/%s/terms/1/acceptances", W.group1), tok, json_object()), false,
                   "what is said here");
  }
  /* same site, not a member: may not publish terms or accept them for group 1 */
  expect_refused(http_json("POST", path, W.conv2.token, json_pack("{s:s}", "body", "Terms by another convener")), true,
                 "");
  expect_refused(http_json("POST", hpath("/v1/groups/%s/terms/1/acceptances", W.group1), W.lone_a.token, json_object()),
                 true, "");
  harness_expect_unchanged(before, path, W.conv1.token);
}

/* ---------------------------------------------------------------- meetings */

static void test_meetings_of_another_group(void **state) {
  (void)state;
  char path[192], att[256];
  snprintf(path, sizeof path, "/v1/groups/%s/meetings/%s", W.group1, g_meeting);
  snprintf(att, sizeof att, "%s/attendance", path);
  char *before = harness_snapshot(path, W.conv1.token);
  json_t *attendance = json_pack("{s:[{s:s, s:s}]}", "attendance", "member_id", W.mem1.id, "status", "absent");

  const harness_account *outsiders[] = {&W.mgr_b, &W.pb, &W.conv_b};
  for (size_t i = 0; i < sizeof outsiders / sizeof outsiders[0]; i++) {
    const char *tok = outsiders[i]->token;
    expect_refused(http_get(path, tok), false, g_notes, "Agenda of group 1");
    expect_refused(http_get(hpath("/v1/groups/%s/meetings", W.group1), tok), false, g_notes, g_meeting);
    expect_refused(http_json("PATCH", path, tok, json_pack("{s:s}", "notes", "overwritten")), false, g_notes);
    expect_refused(http_json("PUT", att, tok, json_incref(attendance)), false, g_notes);
  }
  /* group 2's convener through group 2's path: the meeting is not group 2's (404) */
  char cross[192];
  snprintf(cross, sizeof cross, "/v1/groups/%s/meetings/%s", W.group2, g_meeting);
  expect_refused(http_get(cross, W.conv2.token), false, g_notes, "Agenda of group 1");
  expect_refused(http_json("PATCH", cross, W.conv2.token, json_pack("{s:s}", "notes", "overwritten")), false, g_notes);
  expect_refused(http_json("PUT", hpath("%s/attendance", cross), W.conv2.token, json_incref(attendance)), false,
                 g_notes);
  /* ... and through group 1's path: sees the group, is no member (403, never the notes) */
  expect_refused(http_get(path, W.conv2.token), true, g_notes, "Agenda of group 1");
  expect_refused(http_json("PATCH", path, W.conv2.token, json_pack("{s:s}", "notes", "overwritten")), true, g_notes);
  /* the manager of site A and an admin see group 1 but never its notes */
  expect_refused(http_get(path, W.mgr_a.token), true, g_notes);
  expect_refused(http_get(path, g_admin.token), true, g_notes);
  /* a plain member of group 1 reads the notes but does not edit the meeting */
  expect_refused(http_json("PATCH", path, W.mem1.token, json_pack("{s:s}", "notes", "overwritten")), true, "");
  expect_refused(http_json("PUT", att, W.mem1.token, json_incref(attendance)), true, "");
  json_decref(attendance);
  harness_expect_unchanged(before, path, W.conv1.token);
}

/* ---------------------------------------------------------------- consultations and responses */

static void test_consultations_of_another_site(void **state) {
  (void)state;
  char path[128];
  snprintf(path, sizeof path, "/v1/consultations/%s", g_consult);
  char *before = harness_snapshot(path, W.mgr_a.token);
  json_t *c = harness_get_json(path, W.mgr_a.token);
  char title[256];
  snprintf(title, sizeof title, "%s", hjson_str(c, "title"));
  json_decref(c);

  const harness_account *outsiders[] = {&W.mgr_b, &W.pb, &W.conv_b};
  for (size_t i = 0; i < sizeof outsiders / sizeof outsiders[0]; i++) {
    const char *tok = outsiders[i]->token;
    expect_refused(http_get(path, tok), false, title);
    expect_refused(http_json("PATCH", path, tok, json_pack("{s:s}", "title", "Rewritten")), false, title);
    expect_refused(http_json("PATCH", path, tok, json_pack("{s:s}", "status", "closed")), false, title);
    expect_refused(http_json("PUT", hpath("%s/outcome", path), tok,
                             json_pack("{s:s, s:[]}", "summary", "We did nothing", "actions")),
                   false, title);
  }
  /* a member of a targeted site reads it but is not its owner: 403 */
  expect_refused(http_json("PATCH", path, W.conv1.token, json_pack("{s:s}", "title", "Rewritten")), true, "");
  /* another manager of the same site does not own it either */
  expect_refused(http_json("PATCH", path, W.mgr_a2.token, json_pack("{s:s}", "title", "Rewritten")), true, "");
  harness_expect_unchanged(before, path, W.mgr_a.token);

  /* a draft is its owner's: members of the targeted site do not know it exists */
  char dpath[128];
  snprintf(dpath, sizeof dpath, "/v1/consultations/%s", g_draft);
  const harness_account *members[] = {&W.conv1, &W.mem1, &W.lone_a, &W.mgr_b, &W.pb};
  for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
    expect_refused(http_get(dpath, members[i]->token), false, "");
    expect_refused(http_json("PATCH", dpath, members[i]->token, json_pack("{s:s}", "status", "open")), false, "");
  }
}

static void test_responses_of_another_group(void **state) {
  (void)state;
  char list[160], mine[256];
  snprintf(list, sizeof list, "/v1/consultations/%s/responses", g_consult);
  snprintf(mine, sizeof mine, "%s/%s", list, W.group1);
  char *before = harness_snapshot(list, W.rep1.token);
  json_t *hostile =
      json_pack("{s:[{s:s, s:s}], s:s}", "answers", "question_id", "q1", "text", "Overwritten", "status", "draft");

  /* another site: the consultation does not exist for them */
  const harness_account *outsiders[] = {&W.mgr_b, &W.pb, &W.conv_b};
  for (size_t i = 0; i < sizeof outsiders / sizeof outsiders[0]; i++) {
    expect_refused(http_get(list, outsiders[i]->token), false, g_answer);
    expect_refused(http_json("PUT", mine, outsiders[i]->token, json_incref(hostile)), false, g_answer);
    expect_refused(http_json("PUT", hpath("%s/%s", list, W.group_b), outsiders[i]->token, json_incref(hostile)), false,
                   g_answer);
  }
  /* group 2 (same site, targeted): may not write group 1's response */
  expect_refused(http_json("PUT", mine, W.conv2.token, json_incref(hostile)), true, g_answer);
  expect_refused(http_json("PUT", mine, W.mem2.token, json_incref(hostile)), true, g_answer);
  /* ... and its list shows no other group's answers */
  http_response *r = http_get(list, W.conv2.token);
  if (r->status == 200) {
    if (strstr(r->body, g_answer) || strstr(r->body, W.group1))
      harness_fail("group 2's convener reads group 1's response: %s", r->body);
    http_response_free(r);
  } else {
    expect_refused(r, true, g_answer);
  }
  /* the owner's colleague at the site (not the owner) and a lone practitioner never read group 1's answer */
  const harness_account *others[] = {&W.lone_a};
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
    r = http_get(list, others[i]->token);
    if (strstr(r->body, g_answer))
      harness_fail("%s reads group 1's response: %s", others[i]->id, r->body);
    http_response_free(r);
  }
  json_decref(hostile);
  harness_expect_unchanged(before, list, W.rep1.token);
}

/* ---------------------------------------------------------------- partners, events, registrations */

static void test_partner_cannot_touch_another_partners_event(void **state) {
  (void)state;
  char path[128];
  snprintf(path, sizeof path, "/v1/events/%s", g_ev_partner);
  char *before = harness_snapshot(path, g_p1.token);
  json_t *ev = harness_get_json(path, g_p1.token);
  char title[256];
  snprintf(title, sizeof title, "%s", hjson_str(ev, "title"));
  json_decref(ev);

  expect_refused(http_get(path, g_p2.token), false, title);
  expect_refused(http_json("PATCH", path, g_p2.token, json_pack("{s:s}", "title", "Hijacked")), false, title);
  expect_refused(http_json("PATCH", path, g_p2.token, json_pack("{s:s}", "status", "published")), false, title);
  expect_refused(del(path, g_p2.token), false, title);
  expect_refused(http_get(hpath("%s/registrations", path), g_p2.token), true, title);
  /* nor the events of members */
  const char *member_events[] = {g_ev_site_a, g_ev_network};
  for (int i = 0; i < 2; i++) {
    expect_refused(http_get(hpath("/v1/events/%s", member_events[i]), g_p2.token), false, "");
    expect_refused(http_json("PATCH", hpath("/v1/events/%s", member_events[i]), g_p2.token,
                             json_pack("{s:s}", "title", "Hijacked")),
                   false, "");
    expect_refused(del(hpath("/v1/events/%s", member_events[i]), g_p2.token), false, "");
  }
  /* partners never list who registered, even for their own events */
  expect_refused(http_get(hpath("%s/registrations", path), g_p1.token), true, W.mem1.display_name);
  /* partner records are admin business: a partner token is not even accepted there */
  http_response *r = http_get(hpath("/v1/partners/%s", g_p1.id), g_p2.token);
  assert_problem(r, 401);
  http_response_free(r);
  r = http_json("POST", hpath("/v1/partners/%s/credentials", g_p1.id), g_p2.token, NULL);
  assert_problem(r, 401);
  http_response_free(r);
  r = del(hpath("/v1/partners/%s", g_p1.id), g_p2.token);
  assert_problem(r, 401);
  http_response_free(r);
  harness_expect_unchanged(before, path, g_p1.token);
  /* partner 1 still holds working credentials */
  harness_partner_login(&g_p1);
}

static void test_events_of_another_site(void **state) {
  (void)state;
  char path[128], net[128];
  snprintf(path, sizeof path, "/v1/events/%s", g_ev_site_a);
  snprintf(net, sizeof net, "/v1/events/%s", g_ev_network);
  char *before = harness_snapshot(path, W.mgr_a.token);
  char *net_before = harness_snapshot(net, g_admin.token);
  json_t *ev = harness_get_json(path, W.mgr_a.token);
  char title[256];
  snprintf(title, sizeof title, "%s", hjson_str(ev, "title"));
  json_decref(ev);

  /* a site event: another site's members and managers do not know it */
  const harness_account *outsiders[] = {&W.mgr_b, &W.pb, &W.conv_b};
  for (size_t i = 0; i < sizeof outsiders / sizeof outsiders[0]; i++) {
    const char *tok = outsiders[i]->token;
    expect_refused(http_get(path, tok), false, title);
    expect_refused(http_json("PATCH", path, tok, json_pack("{s:s}", "title", "Hijacked")), false, title);
    expect_refused(del(path, tok), false, title);
    expect_refused(http_json("PUT", hpath("%s/registration", path), tok, json_pack("{s:s}", "status", "going")), false,
                   title);
    expect_refused(http_get(hpath("%s/registrations", path), tok), false, title, W.mem1.display_name);
  }
  /* the pending partner event: not for practitioners of its own site, nor other sites' managers */
  char ppath[128];
  snprintf(ppath, sizeof ppath, "/v1/events/%s", g_ev_partner);
  expect_refused(http_get(ppath, W.lone_a.token), false, "");
  expect_refused(http_get(ppath, W.mgr_b.token), false, "");
  expect_refused(http_json("PATCH", ppath, W.mgr_b.token, json_pack("{s:s}", "status", "published")), false, "");
  expect_refused(
      http_json("PUT", hpath("%s/registration", ppath), W.lone_a.token, json_pack("{s:s}", "status", "going")), false,
      "");

  /* a network event is visible to all; only its owner (or an admin) changes it: 403 */
  const harness_account *non_owners[] = {&W.mgr_b, &W.mgr_a, &W.pb, &W.conv1};
  for (size_t i = 0; i < sizeof non_owners / sizeof non_owners[0]; i++) {
    expect_refused(http_json("PATCH", net, non_owners[i]->token, json_pack("{s:s}", "title", "Hijacked")), true, "");
    expect_refused(del(net, non_owners[i]->token), true, "");
  }
  /* a registered practitioner is no owner of the event: the registration list is refused */
  expect_refused(http_get(hpath("%s/registrations", path), W.mem1.token), true, "");
  expect_refused(http_get(hpath("%s/registrations", net), W.pb.token), true, "");

  harness_expect_unchanged(before, path, W.mgr_a.token);
  harness_expect_unchanged(net_before, net, g_admin.token);
}

/* Unknown ids behave exactly like ids of objects the caller may not see: the answers agree, so ids
 * cannot be probed. */
static void test_unknown_and_foreign_ids_answer_alike(void **state) {
  (void)state;
  struct {
    const char *collection, *foreign;
  } cases[] = {
      {"members", W.mem1.id},
      {"groups", W.group1},
      {"consultations", g_consult},
      {"events", g_ev_site_a},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    http_response *a = http_get(hpath("/v1/%s/%s", cases[i].collection, cases[i].foreign), W.pb.token);
    http_response *b = http_get(hpath("/v1/%s/%s", cases[i].collection, UNKNOWN_UUID), W.pb.token);
    assert_problem(a, 404);
    assert_problem(b, 404);
    const char *ta = hjson_str(a->json, "type"), *tb = hjson_str(b->json, "type");
    const char *da = hjson_str(a->json, "detail"), *db = hjson_str(b->json, "detail");
    if (strcmp(ta, tb) != 0 || (da && db && strcmp(da, db) != 0))
      harness_fail("%s: a foreign id and an unknown id are told apart:\n  foreign %s\n  unknown %s",
                   cases[i].collection, a->body, b->body);
    http_response_free(a);
    http_response_free(b);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sites_of_another_site),
      cmocka_unit_test(test_summaries_list_only_own_sites),
      cmocka_unit_test(test_members_of_another_site),
      cmocka_unit_test(test_groups_of_another_site),
      cmocka_unit_test(test_memberships_of_another_group),
      cmocka_unit_test(test_terms_of_another_group),
      cmocka_unit_test(test_meetings_of_another_group),
      cmocka_unit_test(test_consultations_of_another_site),
      cmocka_unit_test(test_responses_of_another_group),
      cmocka_unit_test(test_partner_cannot_touch_another_partners_event),
      cmocka_unit_test(test_events_of_another_site),
      cmocka_unit_test(test_unknown_and_foreign_ids_answer_alike),
  };
  return cmocka_run_group_tests(tests, group_setup, harness_suite_teardown);
}
