/*
 * e2e_meetings.c — API.md section 5 (meetings) against the real server: leaders schedule and
 * edit, active members read (notes included), everyone else gets 403 (can see the group) or 404
 * (cannot) and never the notes — site managers and admins included; validation; themes
 * lowercased and de-duplicated; attendance only for active members (errors name the entry);
 * If-Match; ordering by start; a member who leaves loses access; a closed group's meetings are
 * read-only.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNKNOWN_UUID "00000000-0000-4000-8000-000000000000"

static harness_account g_admin;
static char g_site_a[HARNESS_ID_MAX], g_site_b[HARNESS_ID_MAX];
/* Site A: the convener, p0 and p3 (active members), p1 (asked to join), p2 (not a member), a manager.
 * Site B: a practitioner and a manager. */
static harness_account g_conv, g_p0, g_p1, g_p2, g_p3, g_mgr_a, g_pb, g_mgr_b;
static char g_group[HARNESS_ID_MAX]; /* the shared group of the accounts above */

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_new_site_id(g_admin.token, g_site_a);
  harness_new_site_id(g_admin.token, g_site_b);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &g_conv);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &g_p0);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &g_p1);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &g_p2);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &g_p3);
  harness_new_manager_quick(g_admin.token, g_site_a, &g_mgr_a);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_b, &g_pb);
  harness_new_manager_quick(g_admin.token, g_site_b, &g_mgr_b);
  json_decref(harness_new_group(g_conv.token, g_site_a, 2, 8, g_group));
  harness_group_join(g_group, g_conv.token, &g_p0);
  harness_group_join(g_group, g_conv.token, &g_p3);
  harness_group_request(g_group, g_p1.token);
  return 0;
}

static http_response *post_meeting(const char *gid, const char *token, json_t *body) {
  return http_json("POST", hpath("/v1/groups/%s/meetings", gid), token, body);
}

static http_response *get_meeting(const char *gid, const char *mid, const char *token) {
  return http_get(hpath("/v1/groups/%s/meetings/%s", gid, mid), token);
}

static http_response *patch_meeting(const char *gid, const char *mid, const char *token, json_t *body) {
  return http_json("PATCH", hpath("/v1/groups/%s/meetings/%s", gid, mid), token, body);
}

static http_response *put_attendance(const char *gid, const char *mid, const char *token, json_t *attendance) {
  return http_json("PUT", hpath("/v1/groups/%s/meetings/%s/attendance", gid, mid), token,
                   json_pack("{s:o}", "attendance", attendance));
}

static void expect_problem(http_response *r, long status, const char *slug) {
  assert_problem_type(r, status, slug);
  http_response_free(r);
}

static json_t *att(const char *member_id, const char *status) {
  return json_pack("{s:s, s:s}", "member_id", member_id, "status", status);
}

/* A meeting with starts_at on the given day at 09:00 UTC for an hour; notes may be NULL.
 * Writes the id (HARNESS_ID_MAX).  Returns the Meeting (new reference). */
static json_t *new_meeting(const char *gid, const char *token, const char *day, const char *notes, char *id_out) {
  char starts[32], ends[32];
  snprintf(starts, sizeof starts, "%sT09:00:00Z", day);
  snprintf(ends, sizeof ends, "%sT10:00:00Z", day);
  json_t *body = json_pack("{s:s, s:s}", "starts_at", starts, "ends_at", ends);
  if (notes)
    json_object_set_new(body, "notes", json_string(notes));
  http_response *r = post_meeting(gid, token, body);
  assert_status(r, 201);
  snprintf(id_out, HARNESS_ID_MAX, "%s", hjson_str(r->json, "id") ? hjson_str(r->json, "id") : "");
  assert_true(harness_is_uuid(id_out));
  json_t *m = json_incref(r->json);
  http_response_free(r);
  return m;
}

/* themes holds exactly the expected strings (each once). */
static void expect_themes(const json_t *meeting, const char *const *expected, size_t n) {
  json_t *themes = hjson_get(meeting, "themes");
  char *dump = json_dumps(meeting, JSON_COMPACT);
  if (!json_is_array(themes) || json_array_size(themes) != n)
    harness_fail("expected %zu themes in %s", n, dump);
  for (size_t k = 0; k < n; k++) {
    int seen = 0;
    size_t i;
    json_t *t;
    json_array_foreach(themes, i, t) {
      if (json_is_string(t) && strcmp(json_string_value(t), expected[k]) == 0)
        seen++;
    }
    if (seen != 1)
      harness_fail("expected theme \"%s\" exactly once in %s", expected[k], dump);
  }
  free(dump);
}

static json_t *find_attendance(const json_t *meeting, const char *member_id) {
  size_t i;
  json_t *a;
  json_array_foreach(hjson_get(meeting, "attendance"), i, a) {
    if (strcmp(hjson_str(a, "member_id") ? hjson_str(a, "member_id") : "", member_id) == 0)
      return a;
  }
  return NULL;
}

/* ---------------------------------------------------------------- create and read */

static void test_create_and_read(void **state) {
  (void)state;
  char notes[HARNESS_NAME_MAX + 32];
  char u[HARNESS_NAME_MAX];
  snprintf(notes, sizeof notes, "Confidential %s", harness_unique("notes", u));
  json_t *body =
      json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:[s,s,s,s,s]}", "starts_at", "2030-03-10T09:00:00Z", "ends_at",
                "2030-03-10T10:30:00Z", "location", "Seminar room 2", "online", 0, "agenda", "1. Rota\n2. Case review",
                "notes", notes, "themes", "Workload", "workload", "Rota", "ROTA", "staffing");
  http_response *r = post_meeting(g_group, g_conv.token, body);
  assert_status(r, 201);
  const char *id = hjson_str(r->json, "id");
  assert_true(harness_is_uuid(id));
  char mid[HARNESS_ID_MAX];
  snprintf(mid, sizeof mid, "%s", id);
  assert_header_equal(r, "Location", hpath("/v1/groups/%s/meetings/%s", g_group, mid));
  assert_etag_matches_version(r);
  assert_json_str(r->json, "group_id", g_group);
  assert_json_str(r->json, "starts_at", "2030-03-10T09:00:00Z");
  assert_json_str(r->json, "ends_at", "2030-03-10T10:30:00Z");
  assert_json_str(r->json, "location", "Seminar room 2");
  assert_true(json_is_false(hjson_get(r->json, "online")));
  assert_json_str(r->json, "agenda", "1. Rota\n2. Case review");
  assert_json_str(r->json, "notes", notes);
  const char *themes[] = {"workload", "rota", "staffing"};
  expect_themes(r->json, themes, 3);
  assert_true(json_is_array(hjson_get(r->json, "attendance")));
  assert_int_equal(json_array_size(hjson_get(r->json, "attendance")), 0);
  assert_true(harness_is_rfc3339_utc(hjson_str(r->json, "created_at")));
  json_t *created = json_incref(r->json);
  http_response_free(r);

  /* An active member reads it, notes included. */
  r = get_meeting(g_group, mid, g_p0.token);
  assert_status(r, 200);
  assert_etag_matches_version(r);
  if (!json_equal(created, r->json))
    harness_fail("GET differs from the POST answer:\n  %s", r->body);
  http_response_free(r);
  json_decref(created);
  assert_true(harness_list_contains(hpath("/v1/groups/%s/meetings", g_group), g_p0.token, "id", mid));
  assert_true(harness_list_contains(hpath("/v1/groups/%s/meetings", g_group), g_p0.token, "notes", notes));

  /* Defaults, and a starts_at with an offset comes back in UTC. */
  r = post_meeting(
      g_group, g_conv.token,
      json_pack("{s:s, s:s}", "starts_at", "2030-03-11T10:00:00+01:00", "ends_at", "2030-03-11T11:00:00Z"));
  assert_status(r, 201);
  assert_json_str(r->json, "starts_at", "2030-03-11T09:00:00Z");
  assert_json_str(r->json, "location", NULL);
  assert_true(json_is_false(hjson_get(r->json, "online")));
  assert_json_str(r->json, "agenda", NULL);
  assert_json_str(r->json, "notes", NULL);
  expect_themes(r->json, NULL, 0);
  http_response_free(r);

  /* Exactly 24 hours and 20 themes are allowed. */
  json_t *twenty = json_array();
  for (int i = 0; i < 20; i++)
    json_array_append_new(twenty, json_string(hpath("theme-%d", i)));
  r = post_meeting(g_group, g_conv.token,
                   json_pack("{s:s, s:s, s:o, s:b}", "starts_at", "2030-03-12T09:00:00Z", "ends_at",
                             "2030-03-13T09:00:00Z", "themes", twenty, "online", 1));
  assert_status(r, 201);
  assert_int_equal(json_array_size(hjson_get(r->json, "themes")), 20);
  assert_true(json_is_true(hjson_get(r->json, "online")));
  http_response_free(r);
}

/* ---------------------------------------------------------------- who may do what */

static void test_only_leaders_schedule_and_edit(void **state) {
  (void)state;
  char mid[HARNESS_ID_MAX];
  json_t *m = new_meeting(g_group, g_conv.token, "2030-04-01", "Leaders only", mid);
  json_t *slot = json_pack("{s:s, s:s}", "starts_at", "2030-04-02T09:00:00Z", "ends_at", "2030-04-02T10:00:00Z");
  struct {
    const harness_account *who;
    long status;
  } cases[] = {{&g_p0, 403},    {&g_p1, 403}, {&g_p2, 403},   {&g_mgr_a, 403},
               {&g_admin, 403}, {&g_pb, 404}, {&g_mgr_b, 404}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const harness_account *who = cases[i].who;
    http_response *r = post_meeting(g_group, who->token, json_deep_copy(slot));
    if (r->status != cases[i].status)
      print_error("caller %s (%s)\n", who->id, who->role);
    assert_problem(r, cases[i].status);
    http_response_free(r);
    r = patch_meeting(g_group, mid, who->token, json_pack("{s:s}", "notes", "Overwritten"));
    assert_problem(r, cases[i].status);
    http_response_free(r);
    r = put_attendance(g_group, mid, who->token, json_pack("[o]", att(g_p0.id, "present")));
    assert_problem(r, cases[i].status);
    http_response_free(r);
  }
  json_decref(slot);
  http_response *r = get_meeting(g_group, mid, g_conv.token);
  assert_status(r, 200);
  if (!json_equal(r->json, m))
    harness_fail("refused requests changed the meeting: %s", r->body);
  http_response_free(r);
  json_decref(m);
}

static void test_inner_life_is_for_active_members(void **state) {
  (void)state;
  char secret[HARNESS_NAME_MAX + 16], agenda[HARNESS_NAME_MAX + 16], u[HARNESS_NAME_MAX];
  snprintf(secret, sizeof secret, "Secret %s", harness_unique("notes", u));
  snprintf(agenda, sizeof agenda, "Agenda %s", harness_unique("agenda", u));
  http_response *r = post_meeting(g_group, g_conv.token,
                                  json_pack("{s:s, s:s, s:s, s:s}", "starts_at", "2030-04-05T09:00:00Z", "ends_at",
                                            "2030-04-05T10:00:00Z", "notes", secret, "agenda", agenda));
  assert_status(r, 201);
  char mid[HARNESS_ID_MAX];
  snprintf(mid, sizeof mid, "%s", hjson_str(r->json, "id"));
  http_response_free(r);

  const harness_account *members[] = {&g_conv, &g_p0, &g_p3};
  for (int i = 0; i < 3; i++) {
    r = get_meeting(g_group, mid, members[i]->token);
    assert_status(r, 200);
    assert_json_str(r->json, "notes", secret);
    http_response_free(r);
  }

  /* Can see the group but is no active member: 403 — the site's manager and an admin too.
   * Cannot see the group: 404.  No refusal carries the notes or the agenda. */
  struct {
    const harness_account *who;
    long status;
  } cases[] = {{&g_p1, 403}, {&g_p2, 403}, {&g_mgr_a, 403}, {&g_admin, 403}, {&g_pb, 404}, {&g_mgr_b, 404}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *paths[] = {hpath("/v1/groups/%s/meetings/%s", g_group, mid), hpath("/v1/groups/%s/meetings", g_group),
                           hpath("/v1/groups/%s/meetings?limit=1", g_group)};
    char copies[3][256];
    for (int k = 0; k < 3; k++)
      snprintf(copies[k], sizeof copies[k], "%s", paths[k]);
    for (int k = 0; k < 3; k++) {
      r = http_get(copies[k], cases[i].who->token);
      if (r->status != cases[i].status)
        print_error("caller %s (%s)\n", cases[i].who->id, cases[i].who->role);
      assert_problem(r, cases[i].status);
      if (strstr(r->body, secret) || strstr(r->body, agenda))
        harness_fail("a refusal carries the meeting's notes or agenda: %s", r->body);
      http_response_free(r);
    }
    /* A conditional GET with the right ETag must not answer 304 (that would confirm the meeting). */
    const char *const inm[] = {"If-None-Match: \"1\"", NULL};
    r = http_get_with_headers(hpath("/v1/groups/%s/meetings/%s", g_group, mid), cases[i].who->token, inm);
    assert_problem(r, cases[i].status);
    http_response_free(r);
  }

  /* Unknown meetings, and a meeting of another group through this group's path: 404. */
  char other_group[HARNESS_ID_MAX], other_mid[HARNESS_ID_MAX];
  json_decref(harness_new_group(g_p0.token, g_site_a, 2, 8, other_group));
  json_decref(new_meeting(other_group, g_p0.token, "2030-04-06", "Other group's notes", other_mid));
  const char *missing[] = {UNKNOWN_UUID, "not-a-uuid", other_mid};
  for (int i = 0; i < 3; i++) {
    r = get_meeting(g_group, missing[i], g_conv.token);
    expect_problem(r, 404, "not-found");
    r = patch_meeting(g_group, missing[i], g_conv.token, json_pack("{s:s}", "notes", "x"));
    expect_problem(r, 404, "not-found");
    r = put_attendance(g_group, missing[i], g_conv.token, json_array());
    expect_problem(r, 404, "not-found");
  }
}

/* ---------------------------------------------------------------- validation */

static void test_validation(void **state) {
  (void)state;
  char loc201[202], agenda10001[10002], theme51[52];
  memset(loc201, 'l', 201);
  loc201[201] = '\0';
  memset(agenda10001, 'a', 10001);
  agenda10001[10001] = '\0';
  memset(theme51, 't', 51);
  theme51[51] = '\0';
  char *notes50001 = malloc(50002);
  memset(notes50001, 'n', 50001);
  notes50001[50001] = '\0';
  json_t *themes21 = json_array();
  for (int i = 0; i < 21; i++)
    json_array_append_new(themes21, json_string(hpath("t%d", i)));
  const char *S = "2030-05-01T09:00:00Z", *E = "2030-05-01T10:00:00Z";
  struct {
    json_t *body;
    const char *field; /* a prefix of the expected errors[].field */
  } cases[] = {
      {json_pack("{s:s}", "ends_at", E), "starts_at"},
      {json_pack("{s:s}", "starts_at", S), "ends_at"},
      {json_pack("{s:s, s:s}", "starts_at", "tomorrow", "ends_at", E), "starts_at"},
      {json_pack("{s:s, s:s}", "starts_at", "2030-05-01", "ends_at", E), "starts_at"},
      {json_pack("{s:s, s:s}", "starts_at", "2030-05-01T09:00:00", "ends_at", E), "starts_at"},
      {json_pack("{s:i, s:s}", "starts_at", 1893488400, "ends_at", E), "starts_at"},
      {json_pack("{s:s, s:s}", "starts_at", S, "ends_at", "2030-05-01T08:00:00Z"), "ends_at"},
      {json_pack("{s:s, s:s}", "starts_at", S, "ends_at", S), "ends_at"},
      {json_pack("{s:s, s:s}", "starts_at", S, "ends_at", "2030-05-02T09:00:01Z"), "ends_at"},
      {json_pack("{s:s, s:s, s:s}", "starts_at", S, "ends_at", E, "location", ""), "location"},
      {json_pack("{s:s, s:s, s:s}", "starts_at", S, "ends_at", E, "location", loc201), "location"},
      {json_pack("{s:s, s:s, s:s}", "starts_at", S, "ends_at", E, "online", "yes"), "online"},
      {json_pack("{s:s, s:s, s:s}", "starts_at", S, "ends_at", E, "agenda", agenda10001), "agenda"},
      {json_pack("{s:s, s:s, s:s}", "starts_at", S, "ends_at", E, "notes", notes50001), "notes"},
      {json_pack("{s:s, s:s, s:s}", "starts_at", S, "ends_at", E, "themes", "workload"), "themes"},
      {json_pack("{s:s, s:s, s:O}", "starts_at", S, "ends_at", E, "themes", themes21), "themes"},
      {json_pack("{s:s, s:s, s:[s]}", "starts_at", S, "ends_at", E, "themes", ""), "themes"},
      {json_pack("{s:s, s:s, s:[s]}", "starts_at", S, "ends_at", E, "themes", theme51), "themes"},
      {json_pack("{s:s, s:s, s:[i]}", "starts_at", S, "ends_at", E, "themes", 5), "themes"},
      {json_pack("{s:s, s:s, s:s}", "starts_at", S, "ends_at", E, "colour", "blue"), "colour"},
      {json_pack("{s:s, s:s, s:s}", "starts_at", S, "ends_at", E, "id", UNKNOWN_UUID), "id"},
      {json_pack("{s:s, s:s, s:i}", "starts_at", S, "ends_at", E, "version", 3), "version"},
      {json_pack("{s:s, s:s, s:s}", "starts_at", S, "ends_at", E, "group_id", g_group), "group_id"},
      {json_pack("{s:s, s:s, s:s}", "starts_at", S, "ends_at", E, "created_at", S), "created_at"},
      {json_pack("{s:s, s:s, s:[]}", "starts_at", S, "ends_at", E, "attendance"), "attendance"},
  };
  size_t before = 0;
  {
    json_t *all = harness_list_all(hpath("/v1/groups/%s/meetings", g_group), g_conv.token);
    before = json_array_size(all);
    json_decref(all);
  }
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    http_response *r = post_meeting(g_group, g_conv.token, cases[i].body);
    if (r->status != 400)
      print_error("case %zu\n", i);
    assert_problem_type(r, 400, "invalid-request");
    if (!harness_has_error_field_prefix(r, cases[i].field))
      harness_fail("case %zu: expected an error on %s: %s", i, cases[i].field, r->body);
    http_response_free(r);
  }
  json_t *all = harness_list_all(hpath("/v1/groups/%s/meetings", g_group), g_conv.token);
  assert_int_equal(json_array_size(all), before);
  json_decref(all);
  json_decref(themes21);
  free(notes50001);

  /* PATCH checks the result against the stored other bound. */
  char mid[HARNESS_ID_MAX];
  json_decref(new_meeting(g_group, g_conv.token, "2030-05-02", NULL, mid));
  http_response *r = patch_meeting(g_group, mid, g_conv.token, json_pack("{s:s}", "ends_at", "2030-05-02T08:00:00Z"));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "ends_at");
  http_response_free(r);
  r = patch_meeting(g_group, mid, g_conv.token, json_pack("{s:s}", "starts_at", "2030-05-02T11:00:00Z"));
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
  r = patch_meeting(g_group, mid, g_conv.token, json_pack("{s:s}", "starts_at", "2030-05-01T09:00:00Z"));
  assert_problem_type(r, 400, "invalid-request"); /* now 25 h long */
  http_response_free(r);
  r = patch_meeting(g_group, mid, g_conv.token, json_pack("{s:n}", "starts_at"));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "starts_at");
  http_response_free(r);
  r = get_meeting(g_group, mid, g_conv.token);
  assert_json_str(r->json, "starts_at", "2030-05-02T09:00:00Z");
  assert_json_str(r->json, "ends_at", "2030-05-02T10:00:00Z");
  http_response_free(r);
}

/* ---------------------------------------------------------------- attendance */

static void test_attendance(void **state) {
  (void)state;
  char mid[HARNESS_ID_MAX];
  json_decref(new_meeting(g_group, g_conv.token, "2030-06-01", NULL, mid));

  http_response *r = put_attendance(
      g_group, mid, g_conv.token,
      json_pack("[o, o, o]", att(g_conv.id, "present"), att(g_p0.id, "apologies"), att(g_p3.id, "absent")));
  assert_status(r, 200);
  assert_json_str(r->json, "id", mid);
  assert_int_equal(json_array_size(hjson_get(r->json, "attendance")), 3);
  http_response_free(r);
  r = get_meeting(g_group, mid, g_p0.token);
  assert_status(r, 200);
  assert_int_equal(json_array_size(hjson_get(r->json, "attendance")), 3);
  json_t *a = find_attendance(r->json, g_conv.id);
  assert_non_null(a);
  assert_json_str(a, "status", "present");
  assert_json_str(a, "display_name", g_conv.display_name);
  a = find_attendance(r->json, g_p0.id);
  assert_non_null(a);
  assert_json_str(a, "status", "apologies");
  assert_json_str(a, "display_name", g_p0.display_name);
  a = find_attendance(r->json, g_p3.id);
  assert_non_null(a);
  assert_json_str(a, "status", "absent");
  json_t *recorded = json_incref(hjson_get(r->json, "attendance"));
  http_response_free(r);

  /* Only active members: not someone who merely asked to join, a colleague, another site's
   * practitioner, an unknown id.  The error names the entry. */
  struct {
    json_t *list;
    const char *field;
  } bad[] = {
      {json_pack("[o, o]", att(g_conv.id, "present"), att(g_p2.id, "present")), "attendance[1].member_id"},
      {json_pack("[o]", att(g_p1.id, "present")), "attendance[0].member_id"},
      {json_pack("[o, o, o]", att(g_conv.id, "present"), att(g_p0.id, "present"), att(g_pb.id, "absent")),
       "attendance[2].member_id"},
      {json_pack("[o]", att(UNKNOWN_UUID, "present")), "attendance[0].member_id"},
      {json_pack("[o]", att("nope", "present")), "attendance[0].member_id"},
      {json_pack("[o]", att(g_mgr_a.id, "present")), "attendance[0].member_id"},
      {json_pack("[o, o]", att(g_p0.id, "present"), att(g_p0.id, "late")), "attendance[1].status"},
      {json_pack("[o]", att(g_p0.id, "PRESENT")), "attendance[0].status"},
      {json_pack("[{s:s}]", "member_id", g_p0.id), "attendance[0].status"},
      {json_pack("[{s:s}]", "status", "present"), "attendance[0].member_id"},
      {json_pack("[o, o]", att(g_p0.id, "present"), att(g_p0.id, "absent")), "attendance"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    r = put_attendance(g_group, mid, g_conv.token, bad[i].list);
    if (r->status != 400)
      print_error("case %zu\n", i);
    assert_problem_type(r, 400, "invalid-request");
    if (!harness_has_error_field_prefix(r, bad[i].field))
      harness_fail("case %zu: expected an error on %s: %s", i, bad[i].field, r->body);
    http_response_free(r);
  }
  r = http_json("PUT", hpath("/v1/groups/%s/meetings/%s/attendance", g_group, mid), g_conv.token,
                json_pack("{s:s}", "attendance", "everyone"));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "attendance");
  http_response_free(r);
  r = http_json("PUT", hpath("/v1/groups/%s/meetings/%s/attendance", g_group, mid), g_conv.token, json_object());
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
  r = get_meeting(g_group, mid, g_conv.token);
  if (!json_equal(hjson_get(r->json, "attendance"), recorded))
    harness_fail("a refused PUT changed the attendance: %s", r->body);
  http_response_free(r);
  json_decref(recorded);

  /* PUT replaces the record. */
  r = put_attendance(g_group, mid, g_conv.token, json_pack("[o]", att(g_p0.id, "present")));
  assert_status(r, 200);
  assert_int_equal(json_array_size(hjson_get(r->json, "attendance")), 1);
  assert_json_str(find_attendance(r->json, g_p0.id), "status", "present");
  http_response_free(r);
  r = put_attendance(g_group, mid, g_conv.token, json_array());
  assert_status(r, 200);
  assert_int_equal(json_array_size(hjson_get(r->json, "attendance")), 0);
  http_response_free(r);
}

/* ---------------------------------------------------------------- PATCH */

static void test_patch_and_if_match(void **state) {
  (void)state;
  char mid[HARNESS_ID_MAX];
  json_t *m = new_meeting(g_group, g_conv.token, "2030-07-01", "Before", mid);
  json_int_t v = hjson_version(m);
  json_decref(m);

  char stale[48], current[48], inm[48];
  snprintf(stale, sizeof stale, "If-Match: \"%" JSON_INTEGER_FORMAT "\"", v + 1);
  snprintf(current, sizeof current, "If-Match: \"%" JSON_INTEGER_FORMAT "\"", v);
  snprintf(inm, sizeof inm, "If-None-Match: \"%" JSON_INTEGER_FORMAT "\"", v);
  const char *const stale_h[] = {stale, NULL}, *const current_h[] = {current, NULL}, *const inm_h[] = {inm, NULL};

  http_response *r = http_get_with_headers(hpath("/v1/groups/%s/meetings/%s", g_group, mid), g_p0.token, inm_h);
  assert_status(r, 304);
  assert_int_equal(r->body_len, 0);
  http_response_free(r);

  r = http_json_with_headers("PATCH", hpath("/v1/groups/%s/meetings/%s", g_group, mid), g_conv.token,
                             json_pack("{s:s}", "notes", "Stale write"), stale_h);
  expect_problem(r, 412, "precondition-failed");
  r = get_meeting(g_group, mid, g_conv.token);
  assert_json_str(r->json, "notes", "Before");
  http_response_free(r);

  r = http_json_with_headers("PATCH", hpath("/v1/groups/%s/meetings/%s", g_group, mid), g_conv.token,
                             json_pack("{s:s, s:[s,s,s], s:n, s:s}", "notes", "After", "themes", "Peer Support",
                                       "peer support", "PEER SUPPORT", "location", "agenda", "New agenda"),
                             current_h);
  assert_status(r, 200);
  assert_etag_matches_version(r);
  assert_json_int(r->json, "version", v + 1);
  assert_json_str(r->json, "notes", "After");
  assert_json_str(r->json, "location", NULL);
  assert_json_str(r->json, "agenda", "New agenda");
  const char *themes[] = {"peer support"};
  expect_themes(r->json, themes, 1);
  assert_json_str(r->json, "starts_at", "2030-07-01T09:00:00Z");
  http_response_free(r);

  r = http_json_with_headers("PATCH", hpath("/v1/groups/%s/meetings/%s", g_group, mid), g_conv.token,
                             json_pack("{s:s}", "notes", "Old version"), current_h);
  expect_problem(r, 412, "precondition-failed");
  r = patch_meeting(g_group, mid, g_conv.token, json_pack("{s:s}", "id", UNKNOWN_UUID));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "id");
  http_response_free(r);
  r = patch_meeting(g_group, mid, g_conv.token, json_pack("{s:[]}", "attendance"));
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
}

/* ---------------------------------------------------------------- order, leaving, closing */

static void test_list_order_and_pagination(void **state) {
  (void)state;
  char gid[HARNESS_ID_MAX];
  json_decref(harness_new_group(g_conv.token, g_site_a, 2, 8, gid));
  char ids[3][HARNESS_ID_MAX];
  json_decref(new_meeting(gid, g_conv.token, "2030-08-03", NULL, ids[2]));
  json_decref(new_meeting(gid, g_conv.token, "2030-08-01", NULL, ids[0]));
  json_decref(new_meeting(gid, g_conv.token, "2030-08-02", NULL, ids[1]));
  json_t *page_by_page = harness_list_all_at(hpath("/v1/groups/%s/meetings", gid), g_conv.token, 1, __FILE__, __LINE__);
  json_t *one_page = harness_list_all(hpath("/v1/groups/%s/meetings", gid), g_conv.token);
  assert_int_equal(json_array_size(page_by_page), 3);
  assert_int_equal(json_array_size(one_page), 3);
  for (int i = 0; i < 3; i++) {
    assert_json_str(json_array_get(page_by_page, i), "id", ids[i]);
    assert_json_str(json_array_get(one_page, i), "id", ids[i]);
  }
  json_decref(page_by_page);
  json_decref(one_page);
  const char *bad[] = {"limit=0", "limit=201", "cursor=garbage"};
  for (int i = 0; i < 3; i++) {
    http_response *r = http_get(hpath("/v1/groups/%s/meetings?%s", gid, bad[i]), g_conv.token);
    expect_problem(r, 400, "invalid-request");
  }
}

static void test_former_member_and_closed_group(void **state) {
  (void)state;
  char gid[HARNESS_ID_MAX];
  json_decref(harness_new_group(g_conv.token, g_site_a, 2, 8, gid));
  harness_group_join(gid, g_conv.token, &g_p0);
  harness_group_invite(gid, g_conv.token, g_p3.id, "facilitator");
  harness_group_activate(gid, g_p3.token, g_p3.id);

  /* A facilitator of the group schedules too. */
  char mid[HARNESS_ID_MAX], u[HARNESS_NAME_MAX], secret[HARNESS_NAME_MAX + 16];
  snprintf(secret, sizeof secret, "Secret %s", harness_unique("notes", u));
  json_decref(new_meeting(gid, g_p3.token, "2030-09-01", secret, mid));
  http_response *r = put_attendance(gid, mid, g_p3.token, json_pack("[o]", att(g_p0.id, "present")));
  assert_status(r, 200);
  http_response_free(r);
  r = get_meeting(gid, mid, g_p0.token);
  assert_status(r, 200);
  assert_json_str(r->json, "notes", secret);
  http_response_free(r);

  /* Having left, p0 still sees the group (home site) but no longer its meetings. */
  r = http_request("DELETE", hpath("/v1/groups/%s/members/%s", gid, g_p0.id), g_p0.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  json_decref(harness_group_get(gid, g_p0.token));
  r = get_meeting(gid, mid, g_p0.token);
  assert_problem_type(r, 403, "forbidden");
  if (strstr(r->body, secret))
    harness_fail("a former member's refusal carries the notes: %s", r->body);
  http_response_free(r);
  r = http_get(hpath("/v1/groups/%s/meetings", gid), g_p0.token);
  expect_problem(r, 403, "forbidden");
  /* ... and cannot be recorded as attending any more. */
  r = put_attendance(gid, mid, g_conv.token, json_pack("[o]", att(g_p0.id, "present")));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "attendance[0].member_id");
  http_response_free(r);

  /* A closed group: meetings are read-only. */
  r = http_request("DELETE", hpath("/v1/groups/%s", gid), g_conv.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  r = post_meeting(gid, g_conv.token,
                   json_pack("{s:s, s:s}", "starts_at", "2030-09-02T09:00:00Z", "ends_at", "2030-09-02T10:00:00Z"));
  expect_problem(r, 409, "conflict");
  r = patch_meeting(gid, mid, g_conv.token, json_pack("{s:s}", "notes", "After closing"));
  expect_problem(r, 409, "conflict");
  r = put_attendance(gid, mid, g_conv.token, json_pack("[o]", att(g_p3.id, "present")));
  expect_problem(r, 409, "conflict");
  r = get_meeting(gid, mid, g_p3.token);
  assert_status(r, 200);
  assert_json_str(r->json, "notes", secret);
  http_response_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_create_and_read),
      cmocka_unit_test(test_only_leaders_schedule_and_edit),
      cmocka_unit_test(test_inner_life_is_for_active_members),
      cmocka_unit_test(test_validation),
      cmocka_unit_test(test_attendance),
      cmocka_unit_test(test_patch_and_if_match),
      cmocka_unit_test(test_list_order_and_pagination),
      cmocka_unit_test(test_former_member_and_closed_group),
  };
  return cmocka_run_group_tests_name("e2e_meetings", tests, group_setup, harness_suite_teardown);
}
