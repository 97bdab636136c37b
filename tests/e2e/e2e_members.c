/*
 * e2e_members.c — API.md sections 2 and 4 (members) against the real server: who may create
 * which role where, one-time passwords, case-insensitive unique emails (also under two
 * concurrent requests), list scoping and filters, 404-not-403 visibility, PATCH rules for
 * admins and managers, If-Match, and the audit rows for role and status changes.
 *
 * Not covered: "demoting the last active admin -> 409".  Every test binary creates admins in
 * the shared database, so no test can reach a state with exactly one active admin without
 * disturbing the others; that rule belongs in a unit test of the members code.
 */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNKNOWN_UUID "00000000-0000-4000-8000-000000000000"

static harness_account g_admin;
static char g_site_a[HARNESS_ID_MAX], g_site_b[HARNESS_ID_MAX];
static harness_account g_mgr_a; /* manager of g_site_a only */

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_new_site_id(g_admin.token, g_site_a);
  harness_new_site_id(g_admin.token, g_site_b);
  harness_new_manager_of(g_admin.token, g_site_a, &g_mgr_a);
  return 0;
}

static http_response *create_member(const char *token, const char *email, const char *role, const char *site) {
  json_t *body = json_pack("{s:s, s:s, s:s}", "email", email, "display_name", "Created In Test", "role", role);
  if (site)
    json_object_set_new(body, "home_site_id", json_string(site));
  return http_json("POST", "/v1/members", token, body);
}

static http_response *get_member(const char *id, const char *token) {
  return http_get(hpath("/v1/members/%s", id), token);
}

static http_response *patch_member(const char *id, const char *token, json_t *body) {
  return http_json("PATCH", hpath("/v1/members/%s", id), token, body);
}

/* Ids of the items of one list page (limit 200) as a JSON object id -> item (new reference). */
static json_t *list_ids(const char *path, const char *token) {
  http_response *r = http_get(path, token);
  assert_status(r, 200);
  json_t *items = hjson_get(r->json, "items");
  assert_true(json_is_array(items));
  if (strstr(r->body, "password_hash") || strstr(r->body, "one_time_password") || strstr(r->body, "$argon2"))
    harness_fail("a member list exposes password material");
  json_t *ids = json_object();
  size_t i;
  json_t *it;
  json_array_foreach(items, i, it) json_object_set(ids, hjson_str(it, "id"), it);
  http_response_free(r);
  return ids;
}

static void expect_in(json_t *ids, const char *id, bool expected, const char *what) {
  bool present = json_object_get(ids, id) != NULL;
  if (present != expected)
    harness_fail("%s: member %s is %s the list", what, id, present ? "in" : "missing from");
}

/* ---------------------------------------------------------------- creation */

static void test_admin_creates_each_role(void **state) {
  (void)state;
  const char *roles[] = {"admin", "manager", "facilitator", "practitioner"};
  const char *sites[] = {NULL, NULL, g_site_a, g_site_a};
  for (int i = 0; i < 4; i++) {
    char email[HARNESS_EMAIL_MAX];
    harness_unique_email(roles[i], email);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "email", email, "display_name", "New Person", "role", roles[i],
                             "discipline", "Nursing");
    if (sites[i])
      json_object_set_new(body, "home_site_id", json_string(sites[i]));
    http_response *r = http_json("POST", "/v1/members", g_admin.token, body);
    assert_status(r, 201);
    const char *id = hjson_str(r->json, "member.id");
    assert_true(harness_is_uuid(id));
    char member_id[HARNESS_ID_MAX];
    snprintf(member_id, sizeof member_id, "%s", id);
    assert_header_equal(r, "Location", hpath("/v1/members/%s", member_id));
    assert_header_equal(r, "ETag", hpath("\"%" JSON_INTEGER_FORMAT "\"", hjson_version(hjson_get(r->json, "member"))));
    assert_json_str(r->json, "member.role", roles[i]);
    assert_json_str(r->json, "member.status", "active");
    assert_json_str(r->json, "member.email", email);
    assert_json_str(r->json, "member.display_name", "New Person");
    assert_json_str(r->json, "member.discipline", "Nursing");
    assert_json_str(r->json, "member.home_site_id", sites[i]);
    const char *otp = hjson_str(r->json, "one_time_password");
    if (!otp || strlen(otp) < 12)
      harness_fail("one_time_password should be at least 12 characters: %s", r->body);
    if (strstr(r->body, "password_hash") || strstr(r->body, "$argon2"))
      harness_fail("member creation answer exposes password material");
    char password[HARNESS_PASSWORD_MAX];
    snprintf(password, sizeof password, "%s", otp);
    http_response_free(r);

    char token[HARNESS_TOKEN_MAX];
    harness_login(email, password, token, NULL);
    r = http_get("/v1/me", token);
    assert_json_str(r->json, "id", member_id);
    assert_json_str(r->json, "role", roles[i]);
    http_response_free(r);

    char q[256];
    snprintf(q, sizeof q,
             "SELECT count(*) FROM audit_log WHERE action = 'member.created' AND resource_id::text = '%s' "
             "AND actor_id::text = '%s'",
             member_id, g_admin.id);
    assert_int_equal(harness_psql_long(q), 1);
  }
}

static void test_creation_is_validated(void **state) {
  (void)state;
  char archived[HARNESS_ID_MAX];
  harness_new_site_id(g_admin.token, archived);
  http_response *r = http_request("DELETE", hpath("/v1/sites/%s", archived), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);

  char email[HARNESS_EMAIL_MAX];
  harness_unique_email("val", email);
  struct {
    json_t *body;
    const char *field;
  } cases[] = {
      {json_pack("{s:s, s:s, s:s}", "display_name", "No Email", "role", "practitioner", "home_site_id", g_site_a),
       "email"},
      {json_pack("{s:s, s:s, s:s}", "email", email, "role", "practitioner", "home_site_id", g_site_a), "display_name"},
      {json_pack("{s:s, s:s, s:s}", "email", email, "display_name", "No Role", "home_site_id", g_site_a), "role"},
      {json_pack("{s:s, s:s, s:s, s:s}", "email", email, "display_name", "Bad Role", "role", "superuser",
                 "home_site_id", g_site_a),
       "role"},
      {json_pack("{s:s, s:s, s:s}", "email", email, "display_name", "No Site", "role", "practitioner"), "home_site_id"},
      {json_pack("{s:s, s:s, s:s}", "email", email, "display_name", "No Site", "role", "facilitator"), "home_site_id"},
      {json_pack("{s:s, s:s, s:s, s:s}", "email", email, "display_name", "Ghost Site", "role", "practitioner",
                 "home_site_id", UNKNOWN_UUID),
       "home_site_id"},
      {json_pack("{s:s, s:s, s:s, s:s}", "email", email, "display_name", "Archived Site", "role", "practitioner",
                 "home_site_id", archived),
       "home_site_id"},
      {json_pack("{s:s, s:s, s:s, s:s, s:s}", "email", email, "display_name", "Extra", "role", "practitioner",
                 "home_site_id", g_site_a, "password", "chosen-password-123"),
       "password"},
      {json_pack("{s:s, s:s, s:s, s:s, s:s}", "email", email, "display_name", "Status", "role", "practitioner",
                 "home_site_id", g_site_a, "status", "active"),
       "status"},
      {json_pack("{s:s, s:s, s:s, s:s, s:s}", "email", email, "display_name", "Id", "role", "practitioner",
                 "home_site_id", g_site_a, "id", UNKNOWN_UUID),
       "id"},
      {json_pack("{s:s, s:s, s:s, s:s}", "email", email, "display_name", "", "role", "practitioner", "home_site_id",
                 g_site_a),
       "display_name"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    r = http_json("POST", "/v1/members", g_admin.token, cases[i].body);
    if (r->status != 400)
      print_error("case %zu (field %s)\n", i, cases[i].field);
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, cases[i].field);
    http_response_free(r);
  }
  /* None of them created the member. */
  r = create_member(g_admin.token, email, "practitioner", g_site_a);
  assert_status(r, 201);
  http_response_free(r);
}

static void test_duplicate_email_is_409_case_insensitive(void **state) {
  (void)state;
  char email[HARNESS_EMAIL_MAX];
  harness_unique_email("dup", email);
  http_response *r = create_member(g_admin.token, email, "practitioner", g_site_a);
  assert_status(r, 201);
  http_response_free(r);

  char upper[HARNESS_EMAIL_MAX];
  snprintf(upper, sizeof upper, "%s", email);
  for (char *p = upper; *p; p++)
    if (*p >= 'a' && *p <= 'z')
      *p = (char)(*p - 'a' + 'A');
  const char *variants[] = {email, upper};
  for (int i = 0; i < 2; i++) {
    r = create_member(g_admin.token, variants[i], "facilitator", g_site_a);
    assert_problem_type(r, 409, "conflict");
    http_response_free(r);
  }
}

static void test_manager_creates_at_own_site_only(void **state) {
  (void)state;
  char email[HARNESS_EMAIL_MAX];
  const char *roles_ok[] = {"practitioner", "facilitator"};
  for (int i = 0; i < 2; i++) {
    harness_unique_email("bymgr", email);
    http_response *r = create_member(g_mgr_a.token, email, roles_ok[i], g_site_a);
    assert_status(r, 201);
    assert_json_str(r->json, "member.home_site_id", g_site_a);
    assert_non_null(hjson_str(r->json, "one_time_password"));
    http_response_free(r);
  }
  struct {
    const char *role;
    const char *site;
  } denied[] = {{"practitioner", g_site_b}, {"facilitator", g_site_b}, {"manager", g_site_a},
                {"admin", g_site_a},        {"manager", NULL},         {"admin", NULL}};
  for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
    harness_unique_email("bymgr", email);
    http_response *r = create_member(g_mgr_a.token, email, denied[i].role, denied[i].site);
    if (r->status != 403)
      print_error("manager creating role %s at %s\n", denied[i].role, denied[i].site ? denied[i].site : "(none)");
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
    /* Not created: the admin can still use the address. */
    r = create_member(g_admin.token, email, "practitioner", g_site_a);
    assert_status(r, 201);
    http_response_free(r);
  }
}

static void test_practitioner_and_facilitator_cannot_create(void **state) {
  (void)state;
  harness_account p, f;
  harness_new_member(g_admin.token, "practitioner", g_site_a, &p);
  harness_new_member(g_admin.token, "facilitator", g_site_a, &f);
  const harness_account *callers[] = {&p, &f};
  for (int i = 0; i < 2; i++) {
    char email[HARNESS_EMAIL_MAX];
    harness_unique_email("denied", email);
    http_response *r = create_member(callers[i]->token, email, "practitioner", g_site_a);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
  }
}

/* ---------------------------------------------------------------- lists */

static void test_admin_list_and_filters(void **state) {
  (void)state;
  char tok[HARNESS_NAME_MAX];
  harness_unique("qtok", tok);
  char upper_tok[HARNESS_NAME_MAX];
  snprintf(upper_tok, sizeof upper_tok, "%s", tok);
  for (char *p = upper_tok; *p; p++)
    if (*p >= 'a' && *p <= 'z')
      *p = (char)(*p - 'a' + 'A');

  harness_account by_name, by_email, fac, unrelated, at_b;
  harness_new_member_named(g_admin.token, "practitioner", g_site_a, hpath("Name %s", upper_tok), NULL, &by_name);
  harness_new_member_named(g_admin.token, "practitioner", g_site_a, "Plain Name", tok, &by_email);
  harness_new_member_named(g_admin.token, "facilitator", g_site_a, hpath("Fac %s", tok), NULL, &fac);
  harness_new_member(g_admin.token, "practitioner", g_site_a, &unrelated);
  harness_new_member_named(g_admin.token, "practitioner", g_site_b, hpath("B %s", tok), NULL, &at_b);

  /* q matches display name or email, case-insensitively. */
  json_t *ids = list_ids(hpath("/v1/members?limit=200&q=%s", tok), g_admin.token);
  expect_in(ids, by_name.id, true, "admin q");
  expect_in(ids, by_email.id, true, "admin q");
  expect_in(ids, fac.id, true, "admin q");
  expect_in(ids, at_b.id, true, "admin q");
  expect_in(ids, unrelated.id, false, "admin q");
  assert_int_equal(json_object_size(ids), 4);
  json_t *item = json_object_get(ids, by_name.id);
  const char *fields[] = {"id",           "email",  "display_name", "role",      "discipline",
                          "home_site_id", "status", "version",      "created_at"};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    if (!json_object_get(item, fields[i]))
      harness_fail("list item lacks \"%s\"", fields[i]);
  json_decref(ids);

  ids = list_ids(hpath("/v1/members?limit=200&q=%s", upper_tok), g_admin.token);
  assert_int_equal(json_object_size(ids), 4);
  json_decref(ids);

  ids = list_ids(hpath("/v1/members?q=%s&role=facilitator", tok), g_admin.token);
  expect_in(ids, fac.id, true, "role filter");
  assert_int_equal(json_object_size(ids), 1);
  json_decref(ids);

  ids = list_ids(hpath("/v1/members?q=%s&site_id=%s", tok, g_site_b), g_admin.token);
  expect_in(ids, at_b.id, true, "site filter");
  assert_int_equal(json_object_size(ids), 1);
  json_decref(ids);

  /* Paging through the filtered list with limit=1 visits each once. */
  int count = 0;
  char cursor[1024] = "";
  for (int page = 0; page < 10; page++) {
    http_response *r = http_get(cursor[0] ? hpath("/v1/members?q=%s&limit=1&cursor=%s", tok, cursor)
                                          : hpath("/v1/members?q=%s&limit=1", tok),
                                g_admin.token);
    assert_status(r, 200);
    count += (int)json_array_size(hjson_get(r->json, "items"));
    json_t *next = hjson_get(r->json, "next_cursor");
    if (json_is_null(next)) {
      http_response_free(r);
      break;
    }
    char *esc = harness_urlencode(json_string_value(next));
    snprintf(cursor, sizeof cursor, "%s", esc);
    free(esc);
    http_response_free(r);
  }
  assert_int_equal(count, 4);
}

static void test_list_parameters_are_validated(void **state) {
  (void)state;
  const char *bad[] = {"/v1/members?limit=201", "/v1/members?limit=0", "/v1/members?role=superuser",
                       "/v1/members?site_id=not-a-uuid", "/v1/members?cursor=garbage"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    http_response *r = http_get(bad[i], g_admin.token);
    assert_problem_type(r, 400, "invalid-request");
    http_response_free(r);
  }
}

static void test_manager_list_is_scoped_to_own_sites(void **state) {
  (void)state;
  char tok[HARNESS_NAME_MAX];
  harness_unique("scope", tok);
  harness_account at_a, at_b;
  harness_new_member_named(g_admin.token, "practitioner", g_site_a, hpath("A %s", tok), NULL, &at_a);
  harness_new_member_named(g_admin.token, "practitioner", g_site_b, hpath("B %s", tok), NULL, &at_b);

  json_t *ids = list_ids(hpath("/v1/members?limit=200&q=%s", tok), g_mgr_a.token);
  expect_in(ids, at_a.id, true, "manager list");
  expect_in(ids, at_b.id, false, "manager list");
  json_decref(ids);

  /* Without q either: nothing from site B ever shows up. */
  char cursor[1024] = "";
  for (int page = 0; page < 1000; page++) {
    http_response *r =
        http_get(cursor[0] ? hpath("/v1/members?limit=200&cursor=%s", cursor) : "/v1/members?limit=200", g_mgr_a.token);
    assert_status(r, 200);
    size_t i;
    json_t *it;
    json_array_foreach(hjson_get(r->json, "items"), i, it) {
      const char *home = hjson_str(it, "home_site_id");
      const char *id = hjson_str(it, "id");
      bool self = id && strcmp(id, g_mgr_a.id) == 0;
      if (!self && (!home || strcmp(home, g_site_a) != 0))
        harness_fail("manager of site %s sees member %s of site %s", g_site_a, id ? id : "?", home ? home : "(none)");
    }
    json_t *next = hjson_get(r->json, "next_cursor");
    if (!json_is_string(next)) {
      http_response_free(r);
      break;
    }
    char *esc = harness_urlencode(json_string_value(next));
    snprintf(cursor, sizeof cursor, "%s", esc);
    free(esc);
    http_response_free(r);
  }

  ids = list_ids(hpath("/v1/members?q=%s&site_id=%s", tok, g_site_a), g_mgr_a.token);
  expect_in(ids, at_a.id, true, "manager site filter");
  json_decref(ids);

  http_response *r = http_get(hpath("/v1/members?site_id=%s", g_site_b), g_mgr_a.token);
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
}

static void test_practitioner_and_facilitator_cannot_list(void **state) {
  (void)state;
  harness_account p, f;
  harness_new_member(g_admin.token, "practitioner", g_site_a, &p);
  harness_new_member(g_admin.token, "facilitator", g_site_a, &f);
  const harness_account *callers[] = {&p, &f};
  for (int i = 0; i < 2; i++) {
    http_response *r = http_get("/v1/members", callers[i]->token);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
  }
}

/* ---------------------------------------------------------------- single member */

static void test_member_visibility_is_404_not_403(void **state) {
  (void)state;
  harness_account p1, p2, pb;
  harness_new_member(g_admin.token, "practitioner", g_site_a, &p1);
  harness_new_member(g_admin.token, "practitioner", g_site_a, &p2);
  harness_new_member(g_admin.token, "practitioner", g_site_b, &pb);

  http_response *r = get_member(p1.id, p1.token);
  assert_status(r, 200);
  assert_json_str(r->json, "id", p1.id);
  assert_etag_matches_version(r);
  http_response_free(r);

  r = get_member(p2.id, p1.token); /* same site, still not theirs to see */
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = get_member(g_admin.id, p1.token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);

  r = get_member(p1.id, g_mgr_a.token);
  assert_status(r, 200);
  http_response_free(r);
  r = get_member(g_mgr_a.id, g_mgr_a.token);
  assert_status(r, 200);
  http_response_free(r);
  r = get_member(pb.id, g_mgr_a.token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);

  r = get_member(pb.id, g_admin.token);
  assert_status(r, 200);
  assert_json_str(r->json, "home_site_id", g_site_b);
  assert_etag_matches_version(r);
  char inm[96];
  snprintf(inm, sizeof inm, "If-None-Match: %s", http_header(r, "ETag"));
  http_response_free(r);
  const char *const h[] = {inm, NULL};
  r = http_get_with_headers(hpath("/v1/members/%s", pb.id), g_admin.token, h);
  assert_status(r, 304);
  assert_int_equal(r->body_len, 0);
  http_response_free(r);

  const char *unknown[] = {UNKNOWN_UUID, "not-a-uuid"};
  for (int i = 0; i < 2; i++) {
    r = get_member(unknown[i], g_admin.token);
    assert_problem_type(r, 404, "not-found");
    http_response_free(r);
    r = patch_member(unknown[i], g_admin.token, json_pack("{s:s}", "display_name", "Ghost"));
    assert_problem_type(r, 404, "not-found");
    http_response_free(r);
  }
}

/* ---------------------------------------------------------------- PATCH */

static void test_admin_changes_role_with_audit(void **state) {
  (void)state;
  harness_account p;
  harness_new_member(g_admin.token, "practitioner", g_site_a, &p);
  http_response *r = get_member(p.id, g_admin.token);
  json_int_t v0 = hjson_version(r->json);
  http_response_free(r);

  r = patch_member(p.id, g_admin.token, json_pack("{s:s}", "role", "facilitator"));
  assert_status(r, 200);
  assert_json_str(r->json, "role", "facilitator");
  assert_json_int(r->json, "version", v0 + 1);
  assert_etag_matches_version(r);
  http_response_free(r);

  char q[512];
  snprintf(q, sizeof q,
           "SELECT count(*) FROM audit_log WHERE action = 'member.role_changed' AND resource_id::text = '%s' "
           "AND actor_id::text = '%s' AND details->>'from' = 'practitioner' AND details->>'to' = 'facilitator'",
           p.id, g_admin.id);
  assert_int_equal(harness_psql_long(q), 1);

  /* Admin may edit the other documented fields too. */
  char email[HARNESS_EMAIL_MAX];
  harness_unique_email("moved", email);
  r = patch_member(p.id, g_admin.token,
                   json_pack("{s:s, s:s, s:s, s:s}", "display_name", "Edited By Admin", "discipline", "Psychology",
                             "email", email, "home_site_id", g_site_b));
  assert_status(r, 200);
  assert_json_str(r->json, "display_name", "Edited By Admin");
  assert_json_str(r->json, "email", email);
  assert_json_str(r->json, "home_site_id", g_site_b);
  http_response_free(r);
  r = http_json("POST", "/v1/auth/login", NULL, json_pack("{s:s, s:s}", "email", email, "password", p.password));
  assert_status(r, 200);
  http_response_free(r);
}

static void test_role_change_applies_to_existing_tokens(void **state) {
  (void)state;
  harness_account p;
  harness_new_member(g_admin.token, "practitioner", g_site_a, &p);
  http_response *r = http_get("/v1/members", p.token);
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  r = patch_member(p.id, g_admin.token, json_pack("{s:s}", "role", "admin"));
  assert_status(r, 200);
  http_response_free(r);
  /* The token still says practitioner; the database says admin, and that decides. */
  r = http_get("/v1/members?limit=1", p.token);
  assert_status(r, 200);
  http_response_free(r);
  r = patch_member(p.id, g_admin.token, json_pack("{s:s}", "role", "practitioner"));
  assert_status(r, 200);
  http_response_free(r);
  r = http_get("/v1/members", p.token);
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
}

static void test_manager_patch_rules(void **state) {
  (void)state;
  harness_account p, pb;
  harness_new_member(g_admin.token, "practitioner", g_site_a, &p);
  harness_new_member(g_admin.token, "practitioner", g_site_b, &pb);

  http_response *r = patch_member(p.id, g_mgr_a.token, json_pack("{s:s}", "role", "facilitator"));
  assert_status(r, 200);
  assert_json_str(r->json, "role", "facilitator");
  http_response_free(r);
  r = patch_member(p.id, g_mgr_a.token,
                   json_pack("{s:s, s:s}", "display_name", "Edited By Manager", "discipline", "Social work"));
  assert_status(r, 200);
  assert_json_str(r->json, "display_name", "Edited By Manager");
  http_response_free(r);

  struct {
    json_t *body;
    const char *what;
  } denied[] = {
      {json_pack("{s:s}", "role", "manager"), "role manager"},
      {json_pack("{s:s}", "role", "admin"), "role admin"},
      {json_pack("{s:s}", "email", "taken-over@test.example"), "email"},
      {json_pack("{s:s}", "home_site_id", g_site_b), "home site of another manager"},
      {json_pack("{s:s, s:s}", "display_name", "Mixed", "role", "manager"), "allowed + forbidden field"},
  };
  for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
    r = patch_member(p.id, g_mgr_a.token, denied[i].body);
    if (r->status != 403)
      print_error("manager PATCH %s\n", denied[i].what);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
  }
  r = get_member(p.id, g_admin.token);
  assert_json_str(r->json, "role", "facilitator");
  assert_json_str(r->json, "email", p.email);
  assert_json_str(r->json, "home_site_id", g_site_a);
  assert_json_str(r->json, "display_name", "Edited By Manager");
  http_response_free(r);

  /* Suspension by the manager, audited. */
  r = patch_member(p.id, g_mgr_a.token, json_pack("{s:s}", "status", "suspended"));
  assert_status(r, 200);
  assert_json_str(r->json, "status", "suspended");
  http_response_free(r);
  char q[512];
  snprintf(q, sizeof q,
           "SELECT count(*) FROM audit_log WHERE action = 'member.status_changed' AND resource_id::text = '%s' "
           "AND actor_id::text = '%s'",
           p.id, g_mgr_a.id);
  assert_int_equal(harness_psql_long(q), 1);
  r = patch_member(p.id, g_mgr_a.token, json_pack("{s:s}", "status", "active"));
  assert_status(r, 200);
  http_response_free(r);

  /* A member of another site does not exist for this manager. */
  r = patch_member(pb.id, g_mgr_a.token, json_pack("{s:s}", "display_name", "Not yours"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = get_member(pb.id, g_admin.token);
  assert_true(strcmp(hjson_str(r->json, "display_name"), "Not yours") != 0);
  http_response_free(r);
}

static void test_members_cannot_escalate_themselves(void **state) {
  (void)state;
  harness_account p, other;
  harness_new_member(g_admin.token, "practitioner", g_site_a, &p);
  harness_new_member(g_admin.token, "practitioner", g_site_a, &other);
  http_response *r = patch_member(p.id, p.token, json_pack("{s:s}", "role", "admin"));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  r = patch_member(other.id, p.token, json_pack("{s:s}", "display_name", "Vandal"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = patch_member(g_mgr_a.id, g_mgr_a.token, json_pack("{s:s}", "role", "admin"));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  r = get_member(p.id, g_admin.token);
  assert_json_str(r->json, "role", "practitioner");
  http_response_free(r);
  r = get_member(g_mgr_a.id, g_admin.token);
  assert_json_str(r->json, "role", "manager");
  http_response_free(r);
}

static void test_patch_validation(void **state) {
  (void)state;
  harness_account p, q;
  harness_new_member(g_admin.token, "practitioner", g_site_a, &p);
  harness_new_member(g_admin.token, "practitioner", g_site_a, &q);
  struct {
    json_t *body;
    const char *field;
  } cases[] = {
      {json_pack("{s:s}", "status", "erased"), "status"},
      {json_pack("{s:s}", "status", "sleeping"), "status"},
      {json_pack("{s:s}", "role", "superuser"), "role"},
      {json_pack("{s:s}", "display_name", ""), "display_name"},
      {json_pack("{s:s}", "nickname", "x"), "nickname"},
      {json_pack("{s:i}", "version", 9), "version"},
      {json_pack("{s:s}", "id", UNKNOWN_UUID), "id"},
      {json_pack("{s:s}", "created_at", "2020-01-01T00:00:00Z"), "created_at"},
      {json_pack("{s:s}", "home_site_id", UNKNOWN_UUID), "home_site_id"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    http_response *r = patch_member(p.id, g_admin.token, cases[i].body);
    if (r->status != 400)
      print_error("PATCH case %zu (field %s)\n", i, cases[i].field);
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, cases[i].field);
    http_response_free(r);
  }
  http_response *r = get_member(p.id, g_admin.token);
  assert_json_str(r->json, "status", "active");
  http_response_free(r);

  /* Taking another member's email (in any case) is a conflict. */
  char upper[HARNESS_EMAIL_MAX];
  snprintf(upper, sizeof upper, "%s", q.email);
  upper[0] = (char)(upper[0] - 'a' + 'A');
  r = patch_member(p.id, g_admin.token, json_pack("{s:s}", "email", upper));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
}

static void test_member_stale_if_match_is_412(void **state) {
  (void)state;
  harness_account p;
  harness_new_member(g_admin.token, "practitioner", g_site_a, &p);
  http_response *r = get_member(p.id, g_admin.token);
  json_int_t v = hjson_version(r->json);
  http_response_free(r);

  char stale[64], current[64];
  snprintf(stale, sizeof stale, "If-Match: \"%" JSON_INTEGER_FORMAT "\"", v + 3);
  snprintf(current, sizeof current, "If-Match: \"%" JSON_INTEGER_FORMAT "\"", v);
  const char *const hs[] = {stale, NULL};
  const char *const hc[] = {current, NULL};
  r = http_json_with_headers("PATCH", hpath("/v1/members/%s", p.id), g_admin.token,
                             json_pack("{s:s}", "display_name", "Stale"), hs);
  assert_problem_type(r, 412, "precondition-failed");
  http_response_free(r);
  r = http_json_with_headers("PATCH", hpath("/v1/members/%s", p.id), g_admin.token,
                             json_pack("{s:s}", "display_name", "Current"), hc);
  assert_status(r, 200);
  assert_json_str(r->json, "display_name", "Current");
  http_response_free(r);
  r = http_json_with_headers("PATCH", hpath("/v1/members/%s", p.id), g_admin.token,
                             json_pack("{s:s}", "display_name", "Late"), hc);
  assert_problem_type(r, 412, "precondition-failed");
  http_response_free(r);
  r = get_member(p.id, g_admin.token);
  assert_json_str(r->json, "display_name", "Current");
  assert_json_int(r->json, "version", v + 1);
  http_response_free(r);
}

/* ---------------------------------------------------------------- concurrency */

typedef struct creator {
  const char *email;
  pthread_barrier_t *barrier;
  long status;
} creator;

static void *creator_main(void *arg) {
  creator *c = arg;
  json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "email", c->email, "display_name", "Racer", "role", "practitioner",
                           "home_site_id", g_site_a);
  pthread_barrier_wait(c->barrier);
  http_response *r = http_json("POST", "/v1/members", g_admin.token, body);
  c->status = r->status;
  http_response_free(r);
  return NULL;
}

static void test_concurrent_creation_of_one_email(void **state) {
  (void)state;
  for (int round = 0; round < 4; round++) {
    char email[HARNESS_EMAIL_MAX], upper[HARNESS_EMAIL_MAX];
    harness_unique_email("race", email);
    snprintf(upper, sizeof upper, "%s", email);
    upper[0] = (char)(upper[0] - 'a' + 'A');
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    /* Odd rounds race two spellings of the same address. */
    creator a = {email, &barrier, 0}, b = {round % 2 ? upper : email, &barrier, 0};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, creator_main, &a);
    pthread_create(&tb, NULL, creator_main, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&barrier);
    bool one_each = (a.status == 201 && b.status == 409) || (a.status == 409 && b.status == 201);
    if (!one_each)
      harness_fail("round %d: two POST /v1/members for %s got %ld and %ld, expected one 201 and one 409", round, email,
                   a.status, b.status);
  }
}

/* ---------------------------------------------------------------- issue 11 */

/* A demotion ends the member's site management, audited; promoting them again gives no site back. */
static void test_demoted_manager_loses_their_sites(void **state) {
  (void)state;
  char site[HARNESS_ID_MAX];
  harness_account m;
  harness_new_site_id(g_admin.token, site);
  harness_new_manager_of(g_admin.token, site, &m);
  assert_true(harness_list_contains(hpath("/v1/sites/%s/managers", site), g_admin.token, "member_id", m.id));

  http_response *r =
      patch_member(m.id, g_admin.token, json_pack("{s:s, s:s}", "role", "facilitator", "home_site_id", site));
  assert_status(r, 200);
  http_response_free(r);
  if (harness_list_contains(hpath("/v1/sites/%s/managers", site), g_admin.token, "member_id", m.id))
    harness_fail("a demoted member is still listed as a manager of %s", site);
  char q[512];
  snprintf(q, sizeof q,
           "SELECT count(*) FROM audit_log WHERE action = 'site.manager_removed' AND resource_id = '%s'"
           " AND actor_id::text = '%s' AND details->>'member_id' = '%s'",
           site, g_admin.id, m.id);
  assert_int_equal(harness_psql_long(q), 1);

  r = patch_member(m.id, g_admin.token, json_pack("{s:s}", "role", "manager"));
  assert_status(r, 200);
  http_response_free(r);
  if (harness_list_contains(hpath("/v1/sites/%s/managers", site), g_admin.token, "member_id", m.id))
    harness_fail("promoting a member again restored their old site management");
  /* and nothing a site's manager may do works for them */
  r = http_get(hpath("/v1/members?site_id=%s", site), m.token);
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  r = http_json("PATCH", hpath("/v1/sites/%s", site), m.token, json_pack("{s:s}", "region", "Not theirs"));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  char email[HARNESS_EMAIL_MAX];
  r = create_member(m.token, harness_unique_email("exmgr", email), "practitioner", site);
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
}

/* A row the demotion did not end (written behind the API's back) grants nothing: manages_site()
 * asks for the manager role too. */
static void test_management_needs_the_manager_role(void **state) {
  (void)state;
  char site[HARNESS_ID_MAX], other[HARNESS_ID_MAX], group[HARNESS_ID_MAX];
  harness_account f, conv;
  harness_new_site_id(g_admin.token, site);
  harness_new_site_id(g_admin.token, other);
  harness_new_member_quick(g_admin.token, "practitioner", other, &f);
  harness_new_member_quick(g_admin.token, "practitioner", site, &conv);
  char sql[512];
  snprintf(sql, sizeof sql, "INSERT INTO site_managers (site_id, member_id) VALUES ('%s', '%s')", site, f.id);
  assert_int_equal(harness_psql_try(sql), 0);
  /* a practitioner of another site may join a group at this site only if they managed it */
  json_decref(harness_new_group(conv.token, site, 2, 8, group));
  http_response *r =
      http_json("POST", hpath("/v1/groups/%s/members", group), conv.token, json_pack("{s:s}", "member_id", f.id));
  if (r->status == 201)
    harness_fail("a stale site_managers row made a practitioner eligible as the site's manager");
  http_response_free(r);
  snprintf(sql, sizeof sql, "DELETE FROM site_managers WHERE member_id = '%s'", f.id);
  harness_psql_try(sql);
}

/* A manager learns about an existing email only when its account is at a site they manage. */
static void test_manager_duplicate_email_reveals_nothing_outside_their_sites(void **state) {
  (void)state;
  char in_site[HARNESS_EMAIL_MAX], elsewhere[HARNESS_EMAIL_MAX], nowhere[HARNESS_EMAIL_MAX];
  harness_unique_email("mine", in_site);
  harness_unique_email("theirs", elsewhere);
  harness_unique_email("admin", nowhere);
  http_response *r = create_member(g_admin.token, in_site, "practitioner", g_site_a);
  assert_status(r, 201);
  http_response_free(r);
  r = create_member(g_admin.token, elsewhere, "practitioner", g_site_b);
  assert_status(r, 201);
  http_response_free(r);
  r = create_member(g_admin.token, nowhere, "admin", NULL);
  assert_status(r, 201);
  http_response_free(r);

  r = create_member(g_mgr_a.token, in_site, "practitioner", g_site_a);
  assert_problem_type(r, 409, "conflict");
  assert_json_str(r->json, "detail", "A member with this email exists.");
  http_response_free(r);
  /* elsewhere: another site's member, or an admin with no site; both answers are the same */
  char *detail[2] = {NULL, NULL};
  const char *emails[] = {elsewhere, nowhere};
  for (int i = 0; i < 2; i++) {
    r = create_member(g_mgr_a.token, emails[i], "practitioner", g_site_a);
    assert_problem_type(r, 409, "conflict");
    const char *d = hjson_str(r->json, "detail");
    assert_non_null(d);
    if (strstr(d, "exists") || strstr(d, "member") || strstr(d, "account exists"))
      harness_fail("the answer about an account outside the manager's sites confirms it: %s", d);
    detail[i] = strdup(d);
    http_response_free(r);
  }
  assert_string_equal(detail[0], detail[1]);
  free(detail[0]);
  free(detail[1]);
  /* admins are still told plainly */
  r = create_member(g_admin.token, elsewhere, "practitioner", g_site_a);
  assert_problem_type(r, 409, "conflict");
  assert_json_str(r->json, "detail", "A member with this email exists.");
  http_response_free(r);
}

/* DELETE /v1/members/{id} is admin-only even on one's own id; self-erasure is DELETE /v1/me. */
static void test_non_admins_cannot_erase_themselves_through_members(void **state) {
  (void)state;
  harness_account p, m;
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &p);
  harness_new_manager_quick(g_admin.token, g_site_b, &m);
  const harness_account *who[] = {&p, &m};
  for (int i = 0; i < 2; i++) {
    http_response *r = http_request("DELETE", hpath("/v1/members/%s", who[i]->id), who[i]->token, NULL, NULL, NULL);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
    r = get_member(who[i]->id, who[i]->token);
    assert_status(r, 200);
    assert_json_str(r->json, "status", "active");
    http_response_free(r);
  }
  /* a manager naming a member they cannot see: 404 */
  http_response *r = http_request("DELETE", hpath("/v1/members/%s", p.id), m.token, NULL, NULL, NULL);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_admin_creates_each_role),
      cmocka_unit_test(test_creation_is_validated),
      cmocka_unit_test(test_duplicate_email_is_409_case_insensitive),
      cmocka_unit_test(test_manager_creates_at_own_site_only),
      cmocka_unit_test(test_practitioner_and_facilitator_cannot_create),
      cmocka_unit_test(test_admin_list_and_filters),
      cmocka_unit_test(test_list_parameters_are_validated),
      cmocka_unit_test(test_manager_list_is_scoped_to_own_sites),
      cmocka_unit_test(test_practitioner_and_facilitator_cannot_list),
      cmocka_unit_test(test_member_visibility_is_404_not_403),
      cmocka_unit_test(test_admin_changes_role_with_audit),
      cmocka_unit_test(test_role_change_applies_to_existing_tokens),
      cmocka_unit_test(test_manager_patch_rules),
      cmocka_unit_test(test_members_cannot_escalate_themselves),
      cmocka_unit_test(test_patch_validation),
      cmocka_unit_test(test_member_stale_if_match_is_412),
      cmocka_unit_test(test_concurrent_creation_of_one_email),
      cmocka_unit_test(test_demoted_manager_loses_their_sites),
      cmocka_unit_test(test_management_needs_the_manager_role),
      cmocka_unit_test(test_manager_duplicate_email_reveals_nothing_outside_their_sites),
      cmocka_unit_test(test_non_admins_cannot_erase_themselves_through_members),
  };
  return cmocka_run_group_tests_name("e2e_members", tests, group_setup, harness_suite_teardown);
}
