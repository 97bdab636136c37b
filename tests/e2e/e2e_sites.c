/*
 * e2e_sites.c — API.md section 4 (sites and site managers) against the real server:
 * admin CRUD, who may create/edit/archive, slug and timezone validation, read-only fields,
 * 404 for unknown and malformed ids, ETag / If-None-Match / If-Match (including two
 * concurrent writers), archiving, and the managers sub-resource with its audit rows.
 */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static harness_account g_admin;

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  return 0;
}

#define UNKNOWN_UUID "00000000-0000-4000-8000-000000000000"

static http_response *get_site(const char *id, const char *token) { return http_get(hpath("/v1/sites/%s", id), token); }

static http_response *patch_site(const char *id, const char *token, json_t *body) {
  return http_json("PATCH", hpath("/v1/sites/%s", id), token, body);
}

static http_response *patch_site_if_match(const char *id, const char *token, json_t *body, json_int_t version) {
  char h[64];
  snprintf(h, sizeof h, "If-Match: \"%" JSON_INTEGER_FORMAT "\"", version);
  const char *const headers[] = {h, NULL};
  return http_json_with_headers("PATCH", hpath("/v1/sites/%s", id), token, body, headers);
}

static json_int_t site_version(const char *id) {
  http_response *r = get_site(id, g_admin.token);
  assert_status(r, 200);
  json_int_t v = hjson_version(r->json);
  http_response_free(r);
  return v;
}

/* ---------------------------------------------------------------- CRUD */

static void test_admin_crud(void **state) {
  (void)state;
  char slug[HARNESS_NAME_MAX];
  harness_unique("crud", slug);
  http_response *r = http_json("POST", "/v1/sites", g_admin.token,
                               json_pack("{s:s, s:s, s:s, s:s, s:s}", "slug", slug, "name", "Crud Site", "organisation",
                                         "Crud Trust", "region", "North", "timezone", "America/New_York"));
  assert_status(r, 201);
  const char *id = hjson_str(r->json, "id");
  assert_true(harness_is_uuid(id));
  char site_id[HARNESS_ID_MAX];
  snprintf(site_id, sizeof site_id, "%s", id);
  assert_header_equal(r, "Location", hpath("/v1/sites/%s", site_id));
  assert_etag_matches_version(r);
  assert_json_str(r->json, "slug", slug);
  assert_json_str(r->json, "name", "Crud Site");
  assert_json_str(r->json, "organisation", "Crud Trust");
  assert_json_str(r->json, "region", "North");
  assert_json_str(r->json, "timezone", "America/New_York");
  assert_json_str(r->json, "archived_at", NULL);
  assert_true(harness_is_rfc3339_utc(hjson_str(r->json, "created_at")));
  json_t *created = json_incref(r->json);
  json_int_t v1 = hjson_version(r->json);
  http_response_free(r);

  r = get_site(site_id, g_admin.token);
  assert_status(r, 200);
  assert_etag_matches_version(r);
  if (!json_equal(created, r->json))
    harness_fail("GET differs from the POST answer:\n  %s", r->body);
  http_response_free(r);
  json_decref(created);

  r = patch_site(site_id, g_admin.token,
                 json_pack("{s:s, s:s, s:n, s:s}", "name", "Crud Site Renamed", "organisation", "Other Trust", "region",
                           "timezone", "Europe/Paris"));
  assert_status(r, 200);
  assert_json_str(r->json, "name", "Crud Site Renamed");
  assert_json_str(r->json, "organisation", "Other Trust");
  assert_json_str(r->json, "region", NULL);
  assert_json_str(r->json, "timezone", "Europe/Paris");
  assert_json_str(r->json, "slug", slug);
  assert_json_int(r->json, "version", v1 + 1);
  assert_etag_matches_version(r);
  http_response_free(r);

  char slug2[HARNESS_NAME_MAX];
  harness_unique("crud2", slug2);
  r = patch_site(site_id, g_admin.token, json_pack("{s:s}", "slug", slug2));
  assert_status(r, 200);
  assert_json_str(r->json, "slug", slug2);
  http_response_free(r);

  r = get_site(site_id, g_admin.token);
  assert_json_str(r->json, "name", "Crud Site Renamed");
  assert_json_str(r->json, "slug", slug2);
  assert_json_int(r->json, "version", v1 + 2);
  http_response_free(r);

  r = http_request("DELETE", hpath("/v1/sites/%s", site_id), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  r = get_site(site_id, g_admin.token);
  assert_status(r, 200);
  assert_true(harness_is_rfc3339_utc(hjson_str(r->json, "archived_at")));
  http_response_free(r);
}

static void test_defaults_on_create(void **state) {
  (void)state;
  json_t *site = harness_new_site(g_admin.token, NULL);
  assert_json_str(site, "timezone", "Europe/London");
  assert_json_str(site, "region", NULL);
  assert_json_str(site, "archived_at", NULL);
  assert_true(json_is_integer(json_object_get(site, "version")));
  json_decref(site);
}

static void test_any_member_reads_sites(void **state) {
  (void)state;
  char site[HARNESS_ID_MAX];
  harness_new_site_id(g_admin.token, site);
  harness_account p;
  harness_new_member(g_admin.token, "practitioner", site, &p);
  http_response *r = http_get("/v1/sites?limit=5", p.token);
  assert_status(r, 200);
  assert_true(json_is_array(hjson_get(r->json, "items")));
  http_response_free(r);
  r = get_site(site, p.token);
  assert_status(r, 200);
  assert_json_str(r->json, "id", site);
  http_response_free(r);
}

static void test_non_admins_cannot_create(void **state) {
  (void)state;
  char site[HARNESS_ID_MAX];
  harness_new_site_id(g_admin.token, site);
  harness_account members[3];
  harness_new_member(g_admin.token, "practitioner", site, &members[0]);
  harness_new_member(g_admin.token, "facilitator", site, &members[1]);
  harness_new_manager_of(g_admin.token, site, &members[2]);
  for (int i = 0; i < 3; i++) {
    char slug[HARNESS_NAME_MAX];
    harness_unique("nope", slug);
    http_response *r =
        http_json("POST", "/v1/sites", members[i].token,
                  json_pack("{s:s, s:s, s:s}", "slug", slug, "name", "Not allowed", "organisation", "E2E"));
    if (r->status != 403)
      print_error("role %s\n", members[i].role);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
    /* Nothing was created: the admin can still take the slug. */
    r = http_json("POST", "/v1/sites", g_admin.token,
                  json_pack("{s:s, s:s, s:s}", "slug", slug, "name", "Allowed", "organisation", "E2E"));
    assert_status(r, 201);
    http_response_free(r);
  }
}

/* ---------------------------------------------------------------- validation */

static void test_duplicate_slug_is_409(void **state) {
  (void)state;
  json_t *site = harness_new_site(g_admin.token, NULL);
  const char *slug = hjson_str(site, "slug");
  http_response *r = http_json("POST", "/v1/sites", g_admin.token,
                               json_pack("{s:s, s:s, s:s}", "slug", slug, "name", "Dup", "organisation", "E2E"));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);

  /* Renaming another site to the taken slug is a conflict too. */
  char other[HARNESS_ID_MAX];
  harness_new_site_id(g_admin.token, other);
  r = patch_site(other, g_admin.token, json_pack("{s:s}", "slug", slug));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  json_decref(site);
}

static void test_invalid_slug_is_400(void **state) {
  (void)state;
  char long_slug[80];
  memset(long_slug, 'a', 65);
  long_slug[65] = '\0';
  const char *bad[] = {"A-upper", "-lead",   "trail-", "dou--ble", "a",          "under_score",
                       "sp ace",  "dot.ted", "",       long_slug,  "caf\xc3\xa9"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    http_response *r =
        http_json("POST", "/v1/sites", g_admin.token,
                  json_pack("{s:s, s:s, s:s}", "slug", bad[i], "name", "Bad slug", "organisation", "E2E"));
    if (r->status != 400)
      print_error("slug \"%s\" was not rejected\n", bad[i]);
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, "slug");
    http_response_free(r);
  }
  /* 64 characters is the maximum and fine. */
  char ok64[65];
  char u[HARNESS_NAME_MAX];
  harness_unique("max", u);
  memset(ok64, 'z', 64);
  ok64[64] = '\0';
  memcpy(ok64, u, strlen(u));
  http_response *r = http_json("POST", "/v1/sites", g_admin.token,
                               json_pack("{s:s, s:s, s:s}", "slug", ok64, "name", "Long slug", "organisation", "E2E"));
  assert_status(r, 201);
  http_response_free(r);
}

static void test_required_and_length_rules(void **state) {
  (void)state;
  char slug[HARNESS_NAME_MAX];
  harness_unique("req", slug);
  struct {
    json_t *body;
    const char *field;
  } cases[] = {
      {json_pack("{s:s, s:s}", "name", "No slug", "organisation", "E2E"), "slug"},
      {json_pack("{s:s, s:s}", "slug", slug, "organisation", "E2E"), "name"},
      {json_pack("{s:s, s:s}", "slug", slug, "name", "No organisation"), "organisation"},
      {json_pack("{s:s, s:s, s:s}", "slug", slug, "name", "", "organisation", "E2E"), "name"},
      {json_pack("{s:s, s:s, s:s}", "slug", slug, "name", "Empty org", "organisation", ""), "organisation"},
      {json_pack("{s:s, s:s, s:s, s:s}", "slug", slug, "name", "Empty region", "organisation", "E2E", "region", ""),
       "region"},
      {json_pack("{s:s, s:n, s:s}", "slug", slug, "name", "organisation", "E2E"), "name"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    http_response *r = http_json("POST", "/v1/sites", g_admin.token, cases[i].body);
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, cases[i].field);
    http_response_free(r);
  }
  char name201[202];
  memset(name201, 'n', 201);
  name201[201] = '\0';
  http_response *r = http_json("POST", "/v1/sites", g_admin.token,
                               json_pack("{s:s, s:s, s:s}", "slug", slug, "name", name201, "organisation", "E2E"));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "name");
  http_response_free(r);
  name201[200] = '\0';
  r = http_json("POST", "/v1/sites", g_admin.token,
                json_pack("{s:s, s:s, s:s}", "slug", slug, "name", name201, "organisation", "E2E"));
  assert_status(r, 201);
  http_response_free(r);
}

static void test_unknown_timezone_is_400(void **state) {
  (void)state;
  char slug[HARNESS_NAME_MAX];
  harness_unique("tz", slug);
  const char *bad[] = {"Mars/Olympus_Mons", "Europe/Londonn", "'; DROP TABLE sites; --", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    http_response *r = http_json(
        "POST", "/v1/sites", g_admin.token,
        json_pack("{s:s, s:s, s:s, s:s}", "slug", slug, "name", "TZ", "organisation", "E2E", "timezone", bad[i]));
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, "timezone");
    http_response_free(r);
  }
  char site[HARNESS_ID_MAX];
  harness_new_site_id(g_admin.token, site);
  http_response *r = patch_site(site, g_admin.token, json_pack("{s:s}", "timezone", "Nowhere/Special"));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "timezone");
  http_response_free(r);
  r = patch_site(site, g_admin.token, json_pack("{s:s}", "timezone", "Asia/Tokyo"));
  assert_status(r, 200);
  assert_json_str(r->json, "timezone", "Asia/Tokyo");
  http_response_free(r);
}

static void test_read_only_fields_are_rejected(void **state) {
  (void)state;
  const char *fields[] = {"id", "created_at", "version", "archived_at"};
  json_t *values[] = {json_string(UNKNOWN_UUID), json_string("2020-01-01T00:00:00Z"), json_integer(7),
                      json_string("2020-01-01T00:00:00Z")};
  char site[HARNESS_ID_MAX];
  harness_new_site_id(g_admin.token, site);
  json_int_t v0 = site_version(site);
  for (size_t i = 0; i < 4; i++) {
    char slug[HARNESS_NAME_MAX];
    harness_unique("ro", slug);
    json_t *body = json_pack("{s:s, s:s, s:s}", "slug", slug, "name", "Read-only", "organisation", "E2E");
    json_object_set(body, fields[i], values[i]);
    http_response *r = http_json("POST", "/v1/sites", g_admin.token, body);
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, fields[i]);
    http_response_free(r);

    body = json_pack("{s:s}", "name", "Should not apply");
    json_object_set(body, fields[i], values[i]);
    r = patch_site(site, g_admin.token, body);
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, fields[i]);
    http_response_free(r);
  }
  http_response *r = get_site(site, g_admin.token);
  assert_json_int(r->json, "version", v0);
  assert_json_str(r->json, "archived_at", NULL);
  assert_true(strcmp(hjson_str(r->json, "name"), "Should not apply") != 0);
  http_response_free(r);
  for (size_t i = 0; i < 4; i++)
    json_decref(values[i]);
}

static void test_unknown_and_malformed_ids_are_404(void **state) {
  (void)state;
  const char *ids[] = {UNKNOWN_UUID, "not-a-uuid", "12345", "00000000-0000-4000-8000-00000000000g",
                       "00000000000040008000000000000000"};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    http_response *r = get_site(ids[i], g_admin.token);
    assert_problem_type(r, 404, "not-found");
    http_response_free(r);
    r = patch_site(ids[i], g_admin.token, json_pack("{s:s}", "name", "x"));
    assert_problem_type(r, 404, "not-found");
    http_response_free(r);
    r = http_request("DELETE", hpath("/v1/sites/%s", ids[i]), g_admin.token, NULL, NULL, NULL);
    assert_problem_type(r, 404, "not-found");
    http_response_free(r);
    r = http_get(hpath("/v1/sites/%s/managers", ids[i]), g_admin.token);
    assert_problem_type(r, 404, "not-found");
    http_response_free(r);
  }
}

/* ---------------------------------------------------------------- ETags */

static void test_etag_and_if_none_match(void **state) {
  (void)state;
  char site[HARNESS_ID_MAX];
  harness_new_site_id(g_admin.token, site);
  http_response *r = get_site(site, g_admin.token);
  assert_etag_matches_version(r);
  char etag[64];
  snprintf(etag, sizeof etag, "%s", http_header(r, "ETag"));
  http_response_free(r);

  char inm[96];
  snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
  const char *const h[] = {inm, NULL};
  r = http_get_with_headers(hpath("/v1/sites/%s", site), g_admin.token, h);
  assert_status(r, 304);
  assert_int_equal(r->body_len, 0);
  assert_header_equal(r, "ETag", etag);
  http_response_free(r);

  r = patch_site(site, g_admin.token, json_pack("{s:s}", "name", "Changed"));
  assert_status(r, 200);
  http_response_free(r);
  r = http_get_with_headers(hpath("/v1/sites/%s", site), g_admin.token, h);
  assert_status(r, 200);
  assert_json_str(r->json, "name", "Changed");
  assert_etag_matches_version(r);
  assert_string_not_equal(http_header(r, "ETag"), etag);
  http_response_free(r);
}

static void test_stale_if_match_is_412(void **state) {
  (void)state;
  json_t *site = harness_new_site(g_admin.token, NULL);
  const char *id = hjson_str(site, "id");
  json_int_t v = hjson_version(site);
  http_response *r = patch_site_if_match(id, g_admin.token, json_pack("{s:s}", "name", "Stale"), v + 5);
  assert_problem_type(r, 412, "precondition-failed");
  http_response_free(r);
  r = get_site(id, g_admin.token);
  if (!json_equal(r->json, site))
    harness_fail("a 412 PATCH changed the site: %s", r->body);
  http_response_free(r);

  r = patch_site_if_match(id, g_admin.token, json_pack("{s:s}", "name", "Current"), v);
  assert_status(r, 200);
  assert_json_str(r->json, "name", "Current");
  http_response_free(r);
  json_decref(site);
}

static void test_concurrent_edit_sequential(void **state) {
  (void)state;
  char site[HARNESS_ID_MAX];
  harness_new_site_id(g_admin.token, site);
  json_int_t v = site_version(site);
  http_response *a = patch_site_if_match(site, g_admin.token, json_pack("{s:s}", "name", "Writer A"), v);
  http_response *b = patch_site_if_match(site, g_admin.token, json_pack("{s:s}", "name", "Writer B"), v);
  assert_status(a, 200);
  assert_problem_type(b, 412, "precondition-failed");
  http_response_free(a);
  http_response_free(b);
  http_response *r = get_site(site, g_admin.token);
  assert_json_str(r->json, "name", "Writer A");
  assert_json_int(r->json, "version", v + 1);
  http_response_free(r);
}

typedef struct writer {
  const char *site;
  const char *name;
  json_int_t version;
  pthread_barrier_t *barrier;
  long status;
} writer;

static void *writer_main(void *arg) {
  writer *w = arg;
  pthread_barrier_wait(w->barrier);
  http_response *r = patch_site_if_match(w->site, g_admin.token, json_pack("{s:s}", "name", w->name), w->version);
  w->status = r->status;
  http_response_free(r);
  return NULL;
}

static void test_concurrent_edit_threads(void **state) {
  (void)state;
  char site[HARNESS_ID_MAX];
  harness_new_site_id(g_admin.token, site);
  for (int round = 0; round < 8; round++) {
    json_int_t v = site_version(site);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    char name_a[32], name_b[32];
    snprintf(name_a, sizeof name_a, "Thread A %d", round);
    snprintf(name_b, sizeof name_b, "Thread B %d", round);
    writer wa = {site, name_a, v, &barrier, 0}, wb = {site, name_b, v, &barrier, 0};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, writer_main, &wa);
    pthread_create(&tb, NULL, writer_main, &wb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&barrier);
    bool one_each = (wa.status == 200 && wb.status == 412) || (wa.status == 412 && wb.status == 200);
    if (!one_each)
      harness_fail("round %d: two PATCHes with If-Match \"%" JSON_INTEGER_FORMAT
                   "\" got %ld and %ld, expected one 200 and one 412",
                   round, v, wa.status, wb.status);
    http_response *r = get_site(site, g_admin.token);
    assert_json_int(r->json, "version", v + 1);
    assert_json_str(r->json, "name", wa.status == 200 ? name_a : name_b);
    http_response_free(r);
  }
}

/* ---------------------------------------------------------------- who may edit */

static void test_manager_edits_own_site_only(void **state) {
  (void)state;
  char site_a[HARNESS_ID_MAX], site_b[HARNESS_ID_MAX];
  json_t *a = harness_new_site(g_admin.token, site_a);
  harness_new_site_id(g_admin.token, site_b);
  harness_account mgr_a, mgr_b, prac, fac;
  harness_new_manager_of(g_admin.token, site_a, &mgr_a);
  harness_new_manager_of(g_admin.token, site_b, &mgr_b);
  harness_new_member(g_admin.token, "practitioner", site_a, &prac);
  harness_new_member(g_admin.token, "facilitator", site_a, &fac);

  http_response *r =
      patch_site(site_a, mgr_a.token,
                 json_pack("{s:s, s:s, s:s}", "name", "Managed Name", "region", "East", "timezone", "Europe/Dublin"));
  assert_status(r, 200);
  assert_json_str(r->json, "name", "Managed Name");
  assert_json_str(r->json, "region", "East");
  http_response_free(r);

  /* The slug is for admins only, even alongside allowed fields. */
  char slug[HARNESS_NAME_MAX];
  harness_unique("mgrslug", slug);
  r = patch_site(site_a, mgr_a.token, json_pack("{s:s}", "slug", slug));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  r = patch_site(site_a, mgr_a.token, json_pack("{s:s, s:s}", "name", "With slug", "slug", slug));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);

  const harness_account *others[] = {&mgr_b, &prac, &fac};
  for (int i = 0; i < 3; i++) {
    r = patch_site(site_a, others[i]->token, json_pack("{s:s}", "name", "Hijacked"));
    if (r->status != 403)
      print_error("caller role %s\n", others[i]->role);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
  }

  r = get_site(site_a, g_admin.token);
  assert_json_str(r->json, "name", "Managed Name");
  assert_json_str(r->json, "slug", hjson_str(a, "slug"));
  http_response_free(r);
  json_decref(a);
}

static void test_delete_requires_admin(void **state) {
  (void)state;
  char site[HARNESS_ID_MAX];
  harness_new_site_id(g_admin.token, site);
  harness_account mgr, prac;
  harness_new_manager_of(g_admin.token, site, &mgr);
  harness_new_member(g_admin.token, "practitioner", site, &prac);
  const harness_account *callers[] = {&mgr, &prac};
  for (int i = 0; i < 2; i++) {
    http_response *r = http_request("DELETE", hpath("/v1/sites/%s", site), callers[i]->token, NULL, NULL, NULL);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
  }
  http_response *r = get_site(site, g_admin.token);
  assert_json_str(r->json, "archived_at", NULL);
  http_response_free(r);
}

static void test_archiving(void **state) {
  (void)state;
  char site[HARNESS_ID_MAX];
  harness_new_site_id(g_admin.token, site);
  assert_true(harness_list_contains("/v1/sites", g_admin.token, "id", site));

  http_response *r = http_request("DELETE", hpath("/v1/sites/%s", site), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  assert_int_equal(r->body_len, 0);
  http_response_free(r);

  r = get_site(site, g_admin.token);
  assert_status(r, 200);
  if (!harness_is_rfc3339_utc(hjson_str(r->json, "archived_at")))
    harness_fail("archived site should have an RFC 3339 archived_at, got %s", r->body);
  http_response_free(r);

  if (harness_list_contains("/v1/sites", g_admin.token, "id", site))
    harness_fail("GET /v1/sites lists archived site %s without include_archived=true", site);
  if (!harness_list_contains("/v1/sites?include_archived=true", g_admin.token, "id", site))
    harness_fail("GET /v1/sites?include_archived=true does not list archived site %s", site);

  r = patch_site(site, g_admin.token, json_pack("{s:s}", "name", "Edit archived"));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);

  r = http_request("DELETE", hpath("/v1/sites/%s", site), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  r = get_site(site, g_admin.token);
  assert_non_null(hjson_str(r->json, "archived_at"));
  assert_true(strcmp(hjson_str(r->json, "name"), "Edit archived") != 0);
  http_response_free(r);
}

/* API.md section 4: DELETE archives, but 409 while the site has groups that are not closed. */
static void test_archiving_waits_for_open_groups(void **state) {
  (void)state;
  char site[HARNESS_ID_MAX];
  harness_new_site_id(g_admin.token, site);
  http_response *r =
      http_json("POST", "/v1/groups", g_admin.token, json_pack("{s:s, s:s}", "name", "Open group", "site_id", site));
  assert_status(r, 201);
  char group[HARNESS_ID_MAX];
  snprintf(group, sizeof group, "%s", hjson_str(r->json, "id"));
  http_response_free(r);

  r = http_request("DELETE", hpath("/v1/sites/%s", site), g_admin.token, NULL, NULL, NULL);
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  r = get_site(site, g_admin.token);
  assert_true(json_is_null(json_object_get(r->json, "archived_at")));
  http_response_free(r);

  r = http_request("DELETE", hpath("/v1/groups/%s", group), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  r = http_request("DELETE", hpath("/v1/sites/%s", site), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
}

/* ---------------------------------------------------------------- managers */

static void test_managers_put_requires_admin(void **state) {
  (void)state;
  char site[HARNESS_ID_MAX];
  harness_new_site_id(g_admin.token, site);
  harness_account mgr, candidate, prac;
  harness_new_manager_of(g_admin.token, site, &mgr);
  harness_new_member(g_admin.token, "manager", NULL, &candidate);
  harness_new_member(g_admin.token, "practitioner", site, &prac);
  const harness_account *callers[] = {&mgr, &prac};
  for (int i = 0; i < 2; i++) {
    http_response *r =
        http_request("PUT", hpath("/v1/sites/%s/managers/%s", site, candidate.id), callers[i]->token, NULL, NULL, NULL);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
    r = http_request("DELETE", hpath("/v1/sites/%s/managers/%s", site, mgr.id), callers[i]->token, NULL, NULL, NULL);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
  }
  /* The candidate was not made a manager: it still cannot edit the site. */
  http_response *r = patch_site(site, candidate.token, json_pack("{s:s}", "name", "Not yet"));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
}

static void test_managers_put_non_manager_is_409(void **state) {
  (void)state;
  char site[HARNESS_ID_MAX];
  harness_new_site_id(g_admin.token, site);
  harness_account prac, fac;
  harness_new_member(g_admin.token, "practitioner", site, &prac);
  harness_new_member(g_admin.token, "facilitator", site, &fac);
  const char *ids[] = {prac.id, fac.id, g_admin.id};
  for (int i = 0; i < 3; i++) {
    http_response *r =
        http_request("PUT", hpath("/v1/sites/%s/managers/%s", site, ids[i]), g_admin.token, NULL, NULL, NULL);
    assert_problem_type(r, 409, "conflict");
    http_response_free(r);
  }
}

static void test_managers_unknown_ids_are_404(void **state) {
  (void)state;
  char site[HARNESS_ID_MAX];
  harness_new_site_id(g_admin.token, site);
  harness_account candidate;
  harness_new_member(g_admin.token, "manager", NULL, &candidate);
  const char *paths[] = {
      hpath("/v1/sites/%s/managers/%s", site, UNKNOWN_UUID),
      hpath("/v1/sites/%s/managers/%s", UNKNOWN_UUID, candidate.id),
      hpath("/v1/sites/%s/managers/%s", site, "not-a-uuid"),
  };
  for (int i = 0; i < 3; i++) {
    http_response *r = http_request("PUT", paths[i], g_admin.token, NULL, NULL, NULL);
    assert_problem_type(r, 404, "not-found");
    http_response_free(r);
  }
}

/* Audit rows with this action by actor about the site or the member (both unique to a test). */
static long audit_count(const char *action, const char *site, const char *member, const char *actor) {
  assert_true(harness_is_uuid(site) && harness_is_uuid(member) && harness_is_uuid(actor));
  char q[1024];
  snprintf(q, sizeof q,
           "SELECT count(*) FROM audit_log WHERE action = '%s' AND actor_id::text = '%s' "
           "AND resource_id::text IN ('%s', '%s')",
           action, actor, site, member);
  return harness_psql_long(q);
}

static bool managers_list_has(const char *site, const char *member_id, const char *token, const char *display_name) {
  http_response *r = http_get(hpath("/v1/sites/%s/managers", site), token);
  assert_status(r, 200);
  assert_true(json_is_null(hjson_get(r->json, "next_cursor")));
  bool found = false;
  size_t i;
  json_t *it;
  json_array_foreach(hjson_get(r->json, "items"), i, it) {
    if (strcmp(hjson_str(it, "member_id") ? hjson_str(it, "member_id") : "", member_id) == 0) {
      found = true;
      assert_json_str(it, "display_name", display_name);
      if (!harness_is_rfc3339_utc(hjson_str(it, "since")))
        harness_fail("manager entry lacks an RFC 3339 \"since\": %s", r->body);
    }
  }
  http_response_free(r);
  return found;
}

static void test_managers_lifecycle_and_audit(void **state) {
  (void)state;
  char site[HARNESS_ID_MAX];
  harness_new_site_id(g_admin.token, site);
  harness_account mgr, prac;
  harness_new_member(g_admin.token, "manager", NULL, &mgr);
  harness_new_member(g_admin.token, "practitioner", site, &prac);
  const char *path = hpath("/v1/sites/%s/managers/%s", site, mgr.id);
  char put_path[256];
  snprintf(put_path, sizeof put_path, "%s", path);

  assert_false(managers_list_has(site, mgr.id, g_admin.token, mgr.display_name));
  http_response *r = http_request("PUT", put_path, g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  r = http_request("PUT", put_path, g_admin.token, NULL, NULL, NULL); /* idempotent */
  assert_status(r, 204);
  http_response_free(r);

  assert_true(managers_list_has(site, mgr.id, g_admin.token, mgr.display_name));
  assert_true(managers_list_has(site, mgr.id, prac.token, mgr.display_name)); /* any member reads it */

  /* Being listed is what lets the manager edit the site. */
  r = patch_site(site, mgr.token, json_pack("{s:s}", "name", "Managed"));
  assert_status(r, 200);
  http_response_free(r);

  r = http_request("DELETE", put_path, g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  assert_false(managers_list_has(site, mgr.id, g_admin.token, mgr.display_name));
  r = http_request("DELETE", put_path, g_admin.token, NULL, NULL, NULL);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = patch_site(site, mgr.token, json_pack("{s:s}", "name", "No longer"));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);

  long added = audit_count("site.manager_added", site, mgr.id, g_admin.id);
  long removed = audit_count("site.manager_removed", site, mgr.id, g_admin.id);
  if (added < 1 || removed < 1)
    harness_fail("expected audit rows site.manager_added and site.manager_removed by %s for site %s / member %s, "
                 "found %ld and %ld",
                 g_admin.id, site, mgr.id, added, removed);
  /* The failed DELETE wrote nothing. */
  assert_int_equal(removed, 1);
}

/* GET /v1/sites/{id}/managers pages like every list (issue 11): limit and cursor are honoured. */
static void test_managers_list_pages(void **state) {
  (void)state;
  char site[HARNESS_ID_MAX];
  harness_new_site_id(g_admin.token, site);
  harness_account m[3];
  for (int i = 0; i < 3; i++)
    harness_new_manager_quick(g_admin.token, site, &m[i]);
  json_t *seen = json_object();
  char cursor[512] = "";
  int pages = 0;
  for (;;) {
    http_response *r = cursor[0]
                           ? http_get(hpath("/v1/sites/%s/managers?limit=2&cursor=%s", site, cursor), g_admin.token)
                           : http_get(hpath("/v1/sites/%s/managers?limit=2", site), g_admin.token);
    assert_status(r, 200);
    json_t *items = hjson_get(r->json, "items");
    assert_true(json_array_size(items) <= 2);
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
      if (json_object_get(seen, hjson_str(it, "member_id")))
        harness_fail("manager %s shown on two pages", hjson_str(it, "member_id"));
      json_object_set_new(seen, hjson_str(it, "member_id"), json_true());
    }
    pages++;
    const char *next = hjson_str(r->json, "next_cursor");
    if (next == NULL) {
      http_response_free(r);
      break;
    }
    char *esc = harness_urlencode(next);
    snprintf(cursor, sizeof cursor, "%s", esc);
    free(esc);
    http_response_free(r);
    assert_true(pages < 5);
  }
  assert_int_equal(pages, 2);
  for (int i = 0; i < 3; i++)
    if (!json_object_get(seen, m[i].id))
      harness_fail("manager %s missing from the pages", m[i].id);
  json_decref(seen);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_admin_crud),
      cmocka_unit_test(test_defaults_on_create),
      cmocka_unit_test(test_any_member_reads_sites),
      cmocka_unit_test(test_non_admins_cannot_create),
      cmocka_unit_test(test_duplicate_slug_is_409),
      cmocka_unit_test(test_invalid_slug_is_400),
      cmocka_unit_test(test_required_and_length_rules),
      cmocka_unit_test(test_unknown_timezone_is_400),
      cmocka_unit_test(test_read_only_fields_are_rejected),
      cmocka_unit_test(test_unknown_and_malformed_ids_are_404),
      cmocka_unit_test(test_etag_and_if_none_match),
      cmocka_unit_test(test_stale_if_match_is_412),
      cmocka_unit_test(test_concurrent_edit_sequential),
      cmocka_unit_test(test_concurrent_edit_threads),
      cmocka_unit_test(test_manager_edits_own_site_only),
      cmocka_unit_test(test_delete_requires_admin),
      cmocka_unit_test(test_archiving),
      cmocka_unit_test(test_archiving_waits_for_open_groups),
      cmocka_unit_test(test_managers_put_requires_admin),
      cmocka_unit_test(test_managers_put_non_manager_is_409),
      cmocka_unit_test(test_managers_unknown_ids_are_404),
      cmocka_unit_test(test_managers_lifecycle_and_audit),
      cmocka_unit_test(test_managers_list_pages),
  };
  return cmocka_run_group_tests_name("e2e_sites", tests, group_setup, harness_suite_teardown);
}
