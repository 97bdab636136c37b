/*
 * e2e_events.c — API.md section 7, events (issue 5): who may post (partners pending unless
 * trusted, managers for their own sites, admins anywhere), validation, visibility (404 for
 * what a caller may not see; a partner sees only its own events), list filters and a
 * keyset walk, publication, owner updates with If-Match, capacity, cancellation, and the
 * delivery guarantees: Idempotency-Key replays (byte-identical, also under concurrent
 * retries), 422 for a reused key, external_id unique per partner (also concurrently).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static harness_account g_admin;
static char g_site_a[HARNESS_ID_MAX], g_site_b[HARNESS_ID_MAX], g_archived[HARNESS_ID_MAX];
static harness_account g_mgr_a, g_mgr_b;   /* managers of site A and site B */
static harness_account g_prac_a, g_prac_b; /* practitioners at site A and site B */
static harness_account g_fac_a;            /* facilitator at site A */
static harness_partner g_p1, g_p2;         /* untrusted partners */
static harness_partner g_trusted;

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_new_site_id(g_admin.token, g_site_a);
  harness_new_site_id(g_admin.token, g_site_b);
  harness_new_site_id(g_admin.token, g_archived);
  http_response *r = http_request("DELETE", hpath("/v1/sites/%s", g_archived), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  harness_new_manager_quick(g_admin.token, g_site_a, &g_mgr_a);
  harness_new_manager_quick(g_admin.token, g_site_b, &g_mgr_b);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &g_prac_a);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_b, &g_prac_b);
  harness_new_member_quick(g_admin.token, "facilitator", g_site_a, &g_fac_a);
  harness_new_partner(g_admin.token, false, &g_p1);
  harness_new_partner(g_admin.token, false, &g_p2);
  harness_new_partner(g_admin.token, true, &g_trusted);
  return 0;
}

#define UNKNOWN_UUID "00000000-0000-4000-8000-000000000000"
#define DAY 86400L

/* t as RFC 3339 UTC into out (32 bytes). */
static char *fmt_time(time_t t, char *out) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

/* An event body starting at an absolute time. */
static json_t *body_at(const char *kind, time_t starts, long duration, const char *site_id) {
  json_t *b = harness_event_body(kind, DAY, 3600, site_id);
  char s[32], e[32];
  json_object_set_new(b, "starts_at", json_string(fmt_time(starts, s)));
  json_object_set_new(b, "ends_at", json_string(fmt_time(starts + duration, e)));
  return b;
}

static json_t *with(json_t *body, const char *key, json_t *value) {
  json_object_set_new(body, key, value);
  return body;
}

static http_response *get_event(const char *id, const char *token) {
  return http_get(hpath("/v1/events/%s", id), token);
}

static http_response *patch_event(const char *id, const char *token, json_t *body) {
  return http_json("PATCH", hpath("/v1/events/%s", id), token, body);
}

static http_response *patch_event_if_match(const char *id, const char *token, json_t *body, const char *etag) {
  char h[80];
  snprintf(h, sizeof h, "If-Match: %s", etag);
  const char *const headers[] = {h, NULL};
  return http_json_with_headers("PATCH", hpath("/v1/events/%s", id), token, body, headers);
}

static http_response *delete_event(const char *id, const char *token) {
  return http_request("DELETE", hpath("/v1/events/%s", id), token, NULL, NULL, NULL);
}

/* POST /v1/events with a raw body and an Idempotency-Key (NULL: none). */
static http_response *post_raw(const char *token, const char *body, const char *key) {
  char h[512];
  snprintf(h, sizeof h, "Idempotency-Key: %s", key ? key : "");
  const char *const headers[] = {h, NULL};
  return http_request("POST", "/v1/events", token, "application/json", body, key ? headers : NULL);
}

/* How many of the caller's listed events have field == value. */
static int count_in_list(const char *list_path, const char *token, const char *field, const char *value) {
  json_t *all = harness_list_all(list_path, token);
  int n = 0;
  size_t i;
  json_t *it;
  json_array_foreach(all, i, it) {
    const char *v = hjson_str(it, field);
    if (v && strcmp(v, value) == 0)
      n++;
  }
  json_decref(all);
  return n;
}

/* The ids of a list (walked with limit) in order, as one JSON array of strings (new reference). */
static json_t *list_ids(const char *list_path, const char *token, int limit) {
  json_t *all = harness_list_all_at(list_path, token, limit, __FILE__, __LINE__);
  json_t *ids = json_array();
  size_t i;
  json_t *it;
  json_array_foreach(all, i, it) json_array_append_new(ids, json_string(hjson_str(it, "id")));
  json_decref(all);
  return ids;
}

/* ids (array of strings) equals exactly the expected ids, in that order. */
static void assert_ids(json_t *ids, const char *const *expected, size_t n, const char *what) {
  bool ok = json_array_size(ids) == n;
  for (size_t i = 0; ok && i < n; i++)
    ok = strcmp(json_string_value(json_array_get(ids, i)), expected[i]) == 0;
  if (!ok) {
    char *got = json_dumps(ids, JSON_COMPACT);
    char want[2048] = "";
    for (size_t i = 0; i < n; i++) {
      strncat(want, expected[i], sizeof want - strlen(want) - 1);
      strncat(want, " ", sizeof want - strlen(want) - 1);
    }
    harness_fail("%s: expected [%s], got %s", what, want, got);
  }
}

static void expect_list(const char *list_path, const char *token, const char *const *expected, size_t n) {
  json_t *ids = list_ids(list_path, token, 200);
  assert_ids(ids, expected, n, list_path);
  json_decref(ids);
}

/* ---------------------------------------------------------------- creation */

static void test_partner_event_pending(void **state) {
  (void)state;
  json_t *body = harness_event_body("learning_forum", 10 * DAY, 7200, g_site_a);
  json_object_set_new(body, "description", json_string("A forum about forums."));
  json_object_set_new(body, "location", json_string("Room 4, Main Street"));
  json_object_set_new(body, "online_url", json_string("https://meet.example.org/forum?id=4"));
  json_object_set_new(body, "capacity", json_integer(40));
  json_object_set_new(body, "external_id", json_string("ext-pending-1"));
  json_t *sent = json_deep_copy(body);
  http_response *r = http_json("POST", "/v1/events", g_p1.token, body);
  assert_status(r, 201);
  const char *id = hjson_str(r->json, "id");
  assert_true(harness_is_uuid(id));
  char eid[HARNESS_ID_MAX];
  snprintf(eid, sizeof eid, "%s", id);
  assert_header_equal(r, "Location", hpath("/v1/events/%s", eid));
  assert_etag_matches_version(r);
  assert_json_str(r->json, "status", "pending");
  assert_json_str(r->json, "kind", "learning_forum");
  const char *keys[] = {"title", "description", "starts_at", "ends_at", "location", "online_url", "external_id"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    assert_json_str(r->json, keys[i], hjson_str(sent, keys[i]));
  assert_json_int(r->json, "capacity", 40);
  if (!json_equal(hjson_get(r->json, "audience"), hjson_get(sent, "audience")))
    harness_fail("audience not echoed: %s", r->body);
  assert_json_str(r->json, "partner_id", g_p1.id);
  assert_json_str(r->json, "owner.kind", "partner");
  assert_json_str(r->json, "owner.id", g_p1.id);
  assert_json_int(r->json, "registration_counts.going", 0);
  assert_json_int(r->json, "registration_counts.waitlisted", 0);
  assert_json_int(r->json, "registration_counts.interested", 0);
  assert_json_int(r->json, "registration_counts.declined", 0);
  assert_true(hjson_is_null(r->json, "my_registration"));
  assert_json_int(r->json, "version", 1);
  assert_true(harness_is_rfc3339_utc(hjson_str(r->json, "created_at")));
  json_t *created = json_incref(r->json);
  http_response_free(r);
  json_decref(sent);

  r = get_event(eid, g_p1.token);
  assert_status(r, 200);
  assert_etag_matches_version(r);
  if (!json_equal(created, r->json))
    harness_fail("GET differs from the POST answer:\n  %s", r->body);
  http_response_free(r);
  json_decref(created);

  /* 304 with If-None-Match */
  const char *inm[] = {"If-None-Match: \"1\"", NULL};
  r = http_get_with_headers(hpath("/v1/events/%s", eid), g_p1.token, inm);
  assert_status(r, 304);
  http_response_free(r);
}

static void test_trusted_partner_publishes(void **state) {
  (void)state;
  json_t *e = harness_new_event(g_trusted.token, harness_event_body("seminar", 10 * DAY, 3600, NULL), NULL);
  assert_json_str(e, "status", "published");
  assert_json_str(e, "audience.scope", "network");
  json_decref(e);

  /* an admin marks p (untrusted) trusted: its next event is published, the earlier one stays pending */
  harness_partner p;
  harness_new_partner(g_admin.token, false, &p);
  char first[HARNESS_ID_MAX];
  e = harness_new_event(p.token, harness_event_body("seminar", 10 * DAY, 3600, g_site_a), first);
  assert_json_str(e, "status", "pending");
  json_decref(e);
  http_response *r =
      http_json("PATCH", hpath("/v1/partners/%s", p.id), g_admin.token, json_pack("{s:b}", "trusted", 1));
  assert_status(r, 200);
  http_response_free(r);
  e = harness_new_event(p.token, harness_event_body("seminar", 10 * DAY, 3600, g_site_a), NULL);
  assert_json_str(e, "status", "published");
  json_decref(e);
  e = harness_event_get(first, p.token);
  assert_json_str(e, "status", "pending");
  json_decref(e);
}

static void test_member_creators(void **state) {
  (void)state;
  /* a manager, for their own site: published, owned by them */
  json_t *e = harness_new_event(g_mgr_a.token, harness_event_body("workshop", 11 * DAY, 3600, g_site_a), NULL);
  assert_json_str(e, "status", "published");
  assert_json_str(e, "owner.kind", "member");
  assert_json_str(e, "owner.id", g_mgr_a.id);
  assert_true(hjson_is_null(e, "partner_id"));
  assert_true(hjson_is_null(e, "external_id"));
  assert_json_int(e, "registration_counts.going", 0);
  json_decref(e);

  /* not for another site, not for theirs and another, not for the network */
  http_response *r =
      http_json("POST", "/v1/events", g_mgr_a.token, harness_event_body("workshop", DAY, 3600, g_site_b));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  json_t *both = harness_event_body("workshop", DAY, 3600, NULL);
  json_object_set_new(both, "audience", json_pack("{s:s, s:[s,s]}", "scope", "sites", "site_ids", g_site_a, g_site_b));
  r = http_json("POST", "/v1/events", g_mgr_a.token, both);
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  r = http_json("POST", "/v1/events", g_mgr_a.token, harness_event_body("workshop", DAY, 3600, NULL));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);

  /* an admin: anywhere, the network too */
  e = harness_new_event(g_admin.token, harness_event_body("network_meeting", 11 * DAY, 3600, NULL), NULL);
  assert_json_str(e, "status", "published");
  assert_json_str(e, "owner.id", g_admin.id);
  json_decref(e);
  both = harness_event_body("training", 11 * DAY, 3600, NULL);
  json_object_set_new(both, "audience", json_pack("{s:s, s:[s,s]}", "scope", "sites", "site_ids", g_site_a, g_site_b));
  json_decref(harness_new_event(g_admin.token, both, NULL));

  /* practitioners and facilitators: 403 */
  r = http_json("POST", "/v1/events", g_prac_a.token, harness_event_body("other", DAY, 3600, g_site_a));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  r = http_json("POST", "/v1/events", g_fac_a.token, harness_event_body("other", DAY, 3600, g_site_a));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  /* no token: 401 */
  r = http_json("POST", "/v1/events", NULL, harness_event_body("other", DAY, 3600, g_site_a));
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);

  /* every kind is accepted */
  const char *kinds[] = {"learning_forum", "seminar", "workshop", "training", "network_meeting", "other"};
  for (size_t i = 0; i < 6; i++) {
    e = harness_new_event(g_trusted.token, harness_event_body(kinds[i], 12 * DAY, 3600, g_site_b), NULL);
    assert_json_str(e, "kind", kinds[i]);
    json_decref(e);
  }
}

static void expect_400(const char *token, json_t *body, const char *field) {
  char *text = json_dumps(body, JSON_COMPACT);
  http_response *r = http_json("POST", "/v1/events", token, body);
  if (r->status != 400)
    harness_fail("POST /v1/events %s: expected 400, got %ld %s", text, r->status, r->body);
  assert_problem_type(r, 400, "invalid-request");
  if (field)
    assert_error_field(r, field);
  free(text);
  http_response_free(r);
}

static void test_validation(void **state) {
  (void)state;
  time_t now = time(NULL);
  time_t t0 = now + 20 * DAY;
  const char *P = g_p1.token;
  /* times */
  expect_400(P, body_at("seminar", t0, -3600, g_site_a), NULL); /* ends before starts */
  expect_400(P, body_at("seminar", t0, 0, g_site_a), NULL);     /* ends when it starts */
  expect_400(P, body_at("seminar", t0, 14 * DAY + 1, g_site_a), NULL);
  json_decref(harness_new_event(P, body_at("seminar", t0, 14 * DAY, g_site_a), NULL)); /* exactly 14 days */
  expect_400(P, with(harness_event_body("seminar", DAY, 3600, g_site_a), "starts_at", json_string("tomorrow")),
             "starts_at");
  expect_400(P,
             with(harness_event_body("seminar", DAY, 3600, g_site_a), "starts_at", json_string("2030-01-01T10:00:00")),
             "starts_at");
  expect_400(P, with(harness_event_body("seminar", DAY, 3600, g_site_a), "ends_at", json_integer(1)), "ends_at");
  json_t *b = harness_event_body("seminar", DAY, 3600, g_site_a);
  json_object_del(b, "ends_at");
  expect_400(P, b, "ends_at");
  /* online_url */
  const char *bad_urls[] = {"ftp://files.example.org/x", "javascript:alert(1)", "not a url", "meet.example.org", ""};
  for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++)
    expect_400(P, with(harness_event_body("seminar", DAY, 3600, g_site_a), "online_url", json_string(bad_urls[i])),
               "online_url");
  char long_url[520];
  snprintf(long_url, sizeof long_url, "https://example.org/");
  while (strlen(long_url) < 501)
    strcat(long_url, "a");
  long_url[501] = '\0';
  expect_400(P, with(harness_event_body("seminar", DAY, 3600, g_site_a), "online_url", json_string(long_url)),
             "online_url");
  json_decref(harness_new_event(
      P, with(harness_event_body("seminar", DAY, 3600, g_site_a), "online_url", json_string("http://example.org/a")),
      NULL));
  /* audience */
  expect_400(P, with(harness_event_body("seminar", DAY, 3600, NULL), "audience", json_pack("{s:s}", "scope", "sites")),
             NULL);
  expect_400(P,
             with(harness_event_body("seminar", DAY, 3600, NULL), "audience",
                  json_pack("{s:s, s:[]}", "scope", "sites", "site_ids")),
             NULL);
  expect_400(P,
             with(harness_event_body("seminar", DAY, 3600, NULL), "audience",
                  json_pack("{s:s, s:[s]}", "scope", "network", "site_ids", g_site_a)),
             NULL);
  expect_400(P,
             with(harness_event_body("seminar", DAY, 3600, NULL), "audience",
                  json_pack("{s:s, s:[s]}", "scope", "sites", "site_ids", UNKNOWN_UUID)),
             "audience.site_ids[0]");
  expect_400(P,
             with(harness_event_body("seminar", DAY, 3600, NULL), "audience",
                  json_pack("{s:s, s:[s,s]}", "scope", "sites", "site_ids", g_site_a, UNKNOWN_UUID)),
             "audience.site_ids[1]");
  expect_400(P,
             with(harness_event_body("seminar", DAY, 3600, NULL), "audience",
                  json_pack("{s:s, s:[s]}", "scope", "sites", "site_ids", g_archived)),
             "audience.site_ids[0]");
  expect_400(P,
             with(harness_event_body("seminar", DAY, 3600, NULL), "audience",
                  json_pack("{s:s, s:[s]}", "scope", "sites", "site_ids", "not-a-uuid")),
             NULL);
  expect_400(P, with(harness_event_body("seminar", DAY, 3600, NULL), "audience", json_pack("{s:s}", "scope", "galaxy")),
             NULL);
  expect_400(P,
             with(harness_event_body("seminar", DAY, 3600, NULL), "audience",
                  json_pack("{s:s, s:b}", "scope", "network", "everyone", 1)),
             NULL);
  expect_400(P, with(harness_event_body("seminar", DAY, 3600, NULL), "audience", json_string("network")), "audience");
  json_t *many = json_array();
  for (int i = 0; i < 101; i++)
    json_array_append_new(many, json_string(g_site_a));
  expect_400(P,
             with(harness_event_body("seminar", DAY, 3600, NULL), "audience",
                  json_pack("{s:s, s:o}", "scope", "sites", "site_ids", many)),
             NULL);
  b = harness_event_body("seminar", DAY, 3600, NULL);
  json_object_del(b, "audience");
  expect_400(P, b, "audience");
  /* external_id is for partners */
  expect_400(g_admin.token, with(harness_event_body("seminar", DAY, 3600, NULL), "external_id", json_string("x-1")),
             "external_id");
  expect_400(g_mgr_a.token, with(harness_event_body("seminar", DAY, 3600, g_site_a), "external_id", json_string("x-1")),
             "external_id");
  expect_400(P, with(harness_event_body("seminar", DAY, 3600, g_site_a), "external_id", json_string("")),
             "external_id");
  /* other fields */
  expect_400(P, with(harness_event_body("seminar", DAY, 3600, g_site_a), "colour", json_string("red")), "colour");
  expect_400(P, with(harness_event_body("seminar", DAY, 3600, g_site_a), "status", json_string("published")), NULL);
  expect_400(P, with(harness_event_body("seminar", DAY, 3600, g_site_a), "partner_id", json_string(g_p2.id)), NULL);
  expect_400(P, with(harness_event_body("seminar", DAY, 3600, g_site_a), "kind", json_string("party")), "kind");
  expect_400(P, with(harness_event_body("seminar", DAY, 3600, g_site_a), "title", json_string("")), "title");
  char long_title[202];
  memset(long_title, 't', 201);
  long_title[201] = '\0';
  expect_400(P, with(harness_event_body("seminar", DAY, 3600, g_site_a), "title", json_string(long_title)), "title");
  const json_int_t bad_caps[] = {0, -1, 100001};
  for (size_t i = 0; i < 3; i++)
    expect_400(P, with(harness_event_body("seminar", DAY, 3600, g_site_a), "capacity", json_integer(bad_caps[i])),
               "capacity");
  expect_400(P, with(harness_event_body("seminar", DAY, 3600, g_site_a), "capacity", json_string("5")), "capacity");
  expect_400(P, with(harness_event_body("seminar", DAY, 3600, g_site_a), "location", json_string("")), "location");
  char *long_desc = malloc(10002);
  memset(long_desc, 'd', 10001);
  long_desc[10001] = '\0';
  expect_400(P, with(harness_event_body("seminar", DAY, 3600, g_site_a), "description", json_string(long_desc)),
             "description");
  long_desc[10000] = '\0';
  json_decref(harness_new_event(
      P, with(harness_event_body("seminar", DAY, 3600, g_site_a), "description", json_string(long_desc)), NULL));
  free(long_desc);
  b = harness_event_body("seminar", DAY, 3600, g_site_a);
  json_object_del(b, "kind");
  expect_400(P, b, "kind");
  /* not an object, not JSON */
  http_response *r = http_request("POST", "/v1/events", P, "application/json", "[1,2]", NULL);
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
  r = http_request("POST", "/v1/events", P, "text/plain", "{}", NULL);
  assert_problem_type(r, 415, "unsupported-media-type");
  http_response_free(r);
}

/* ---------------------------------------------------------------- visibility */

static void test_visibility(void **state) {
  (void)state;
  char pending[HARNESS_ID_MAX], site_a_ev[HARNESS_ID_MAX], network_ev[HARNESS_ID_MAX];
  json_decref(harness_new_event(g_p1.token, harness_event_body("seminar", 13 * DAY, 3600, g_site_a), pending));
  json_decref(harness_new_event(g_mgr_a.token, harness_event_body("seminar", 13 * DAY, 3600, g_site_a), site_a_ev));
  json_decref(harness_new_event(g_admin.token, harness_event_body("seminar", 13 * DAY, 3600, NULL), network_ev));

  /* a pending event: invisible to practitioners (even at its site) and to other sites' managers */
  http_response *r = get_event(pending, g_prac_a.token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = get_event(pending, g_mgr_b.token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  assert_false(harness_list_contains("/v1/events", g_prac_a.token, "id", pending));
  assert_false(harness_list_contains("/v1/events?status=pending", g_mgr_b.token, "id", pending));
  /* visible to the manager of its site, and to admins */
  json_t *e = harness_event_get(pending, g_mgr_a.token);
  assert_json_str(e, "status", "pending");
  assert_true(hjson_is_null(e, "registration_counts")); /* not the owner */
  json_decref(e);
  assert_true(harness_list_contains("/v1/events", g_mgr_a.token, "id", pending));
  assert_true(
      harness_list_contains(hpath("/v1/events?status=pending&site_id=%s", g_site_a), g_mgr_a.token, "id", pending));
  e = harness_event_get(pending, g_admin.token);
  assert_json_int(e, "registration_counts.going", 0); /* admins see counts */
  json_decref(e);
  assert_true(harness_list_contains("/v1/events?status=pending", g_admin.token, "id", pending));

  /* a published site event: its site's practitioners, not another site's */
  e = harness_event_get(site_a_ev, g_prac_a.token);
  assert_true(hjson_is_null(e, "registration_counts"));
  assert_true(hjson_is_null(e, "my_registration"));
  json_decref(e);
  assert_true(harness_list_contains("/v1/events", g_prac_a.token, "id", site_a_ev));
  r = get_event(site_a_ev, g_prac_b.token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  assert_false(harness_list_contains("/v1/events", g_prac_b.token, "id", site_a_ev));
  assert_false(harness_list_contains(hpath("/v1/events?site_id=%s", g_site_a), g_prac_b.token, "id", site_a_ev));
  r = get_event(site_a_ev, g_mgr_b.token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  /* a network event: everybody */
  json_decref(harness_event_get(network_ev, g_prac_b.token));
  json_decref(harness_event_get(network_ev, g_prac_a.token));
  json_decref(harness_event_get(network_ev, g_fac_a.token));
  assert_true(harness_list_contains("/v1/events", g_prac_b.token, "id", network_ev));
  assert_true(harness_list_contains(hpath("/v1/events?site_id=%s", g_site_b), g_prac_b.token, "id", network_ev));

  /* partners: only their own events */
  const char *not_p2[] = {pending, site_a_ev, network_ev};
  for (size_t i = 0; i < 3; i++) {
    r = get_event(not_p2[i], g_p2.token);
    assert_problem_type(r, 404, "not-found");
    http_response_free(r);
    assert_false(harness_list_contains("/v1/events", g_p2.token, "id", not_p2[i]));
  }
  r = patch_event(pending, g_p2.token, json_pack("{s:s}", "title", "Hijacked"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = patch_event(pending, g_p2.token, json_pack("{s:s}", "status", "published"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = delete_event(pending, g_p2.token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = http_get(hpath("/v1/events/%s/registrations", pending), g_p2.token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  e = harness_event_get(pending, g_p1.token);
  assert_json_str(e, "status", "pending");
  assert_json_int(e, "version", 1);
  json_decref(e);
  /* every event a partner lists is its own */
  json_t *all = harness_list_all("/v1/events", g_p1.token);
  size_t i;
  json_t *it;
  json_array_foreach(all, i, it) assert_json_str(it, "partner_id", g_p1.id);
  json_decref(all);

  /* unknown and malformed ids */
  r = get_event(UNKNOWN_UUID, g_admin.token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = get_event("nope", g_admin.token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
}

/* Everything a practitioner lists is published and for the network or their site. */
static void test_member_list_invariant(void **state) {
  (void)state;
  harness_account *who[] = {&g_prac_a, &g_prac_b, &g_fac_a};
  for (size_t w = 0; w < 3; w++) {
    json_t *all = harness_list_all_at("/v1/events", who[w]->token, 7, __FILE__, __LINE__);
    size_t i;
    json_t *it;
    json_array_foreach(all, i, it) {
      bool ok = strcmp(hjson_str(it, "status"), "published") == 0;
      const char *scope = hjson_str(it, "audience.scope");
      bool site_ok = scope && strcmp(scope, "network") == 0;
      size_t j;
      json_t *s;
      json_array_foreach(hjson_get(it, "audience.site_ids"), j, s) {
        if (strcmp(json_string_value(s), who[w]->home_site_id) == 0)
          site_ok = true;
      }
      if (!ok || !site_ok)
        harness_fail("%s at %s lists an event they should not see: %s", who[w]->role, who[w]->home_site_id,
                     json_dumps(it, 0));
    }
    json_decref(all);
  }
}

/* ---------------------------------------------------------------- lists */

static void test_list_filters(void **state) {
  (void)state;
  harness_partner p;
  harness_new_partner(g_admin.token, false, &p);
  time_t base = time(NULL) + 20 * DAY;
  char a[HARNESS_ID_MAX], b[HARNESS_ID_MAX], c[HARNESS_ID_MAX], d[HARNESS_ID_MAX], e[HARNESS_ID_MAX];
  json_decref(harness_new_event(p.token, body_at("seminar", base, 3600, g_site_a), a));
  json_decref(harness_new_event(p.token, body_at("workshop", base + DAY, 3600, g_site_b), b));
  json_decref(harness_new_event(p.token, body_at("seminar", base + 2 * DAY, 3600, NULL), c));
  json_decref(harness_new_event(p.token, body_at("training", base + 3 * DAY, 3600, g_site_a), d));
  json_t *both = body_at("seminar", base + 4 * DAY, 3600, NULL);
  json_object_set_new(both, "audience", json_pack("{s:s, s:[s,s]}", "scope", "sites", "site_ids", g_site_a, g_site_b));
  json_decref(harness_new_event(p.token, both, e));
  http_response *r = delete_event(d, p.token);
  assert_status(r, 204);
  http_response_free(r);
  harness_event_publish(e, g_admin.token);

  const char *all[] = {a, b, c, d, e};
  expect_list("/v1/events", p.token, all, 5);
  const char *seminars[] = {a, c, e};
  expect_list("/v1/events?kind=seminar", p.token, seminars, 3);
  const char *at_a[] = {a, c, d, e};
  expect_list(hpath("/v1/events?site_id=%s", g_site_a), p.token, at_a, 4);
  const char *at_b[] = {b, c, e};
  expect_list(hpath("/v1/events?site_id=%s", g_site_b), p.token, at_b, 3);
  const char *sem_b[] = {c, e};
  expect_list(hpath("/v1/events?site_id=%s&kind=seminar", g_site_b), p.token, sem_b, 2);
  const char *pend[] = {a, b, c};
  expect_list("/v1/events?status=pending", p.token, pend, 3);
  const char *canc[] = {d};
  expect_list("/v1/events?status=cancelled", p.token, canc, 1);
  const char *publ[] = {e};
  expect_list("/v1/events?status=published", p.token, publ, 1);
  /* from inclusive, to exclusive, on starts_at */
  char from[32], to[32];
  fmt_time(base + DAY, from);
  fmt_time(base + 3 * DAY, to);
  const char *window[] = {b, c};
  expect_list(hpath("/v1/events?from=%s&to=%s", from, to), p.token, window, 2);
  const char *since[] = {b, c, d, e};
  expect_list(hpath("/v1/events?from=%s", from), p.token, since, 4);
  const char *before[] = {a, b, c};
  expect_list(hpath("/v1/events?to=%s", to), p.token, before, 3);
  fmt_time(base + DAY + 1, from);
  const char *after_b[] = {c, d, e};
  expect_list(hpath("/v1/events?from=%s", from), p.token, after_b, 3);
  /* an offset form of the same instant */
  struct tm tm;
  time_t t = base + DAY;
  gmtime_r(&t, &tm);
  tm.tm_hour += 2;
  t = timegm(&tm);
  gmtime_r(&t, &tm);
  char offset_from[40];
  strftime(offset_from, sizeof offset_from, "%Y-%m-%dT%H:%M:%S", &tm);
  strcat(offset_from, "%2B02:00");
  expect_list(hpath("/v1/events?from=%s&to=%s", offset_from, to), p.token, window, 2);
  const char *none[] = {NULL};
  expect_list("/v1/events?kind=network_meeting", p.token, none, 0);

  /* bad values */
  const char *bad[] = {"/v1/events?kind=party",     "/v1/events?status=draft",     "/v1/events?site_id=nope",
                       "/v1/events?from=yesterday", "/v1/events?to=2030-13-01",    "/v1/events?limit=0",
                       "/v1/events?limit=201",      "/v1/events?cursor=garbage!!", "/v1/events?cursor=abc",
                       "/v1/events?limit=ten"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    r = http_get(bad[i], p.token);
    if (r->status != 400)
      harness_fail("GET %s: expected 400, got %ld %s", bad[i], r->status, r->body);
    assert_problem_type(r, 400, "invalid-request");
    http_response_free(r);
  }
}

static int cmp_event(const void *x, const void *y) {
  const json_t *a = *(const json_t *const *)x, *b = *(const json_t *const *)y;
  int c = strcmp(hjson_str(a, "starts_at"), hjson_str(b, "starts_at"));
  return c ? c : strcmp(hjson_str(a, "id"), hjson_str(b, "id"));
}

static void test_pagination_walk(void **state) {
  (void)state;
  harness_partner p;
  harness_new_partner(g_admin.token, true, &p);
  time_t base = time(NULL) + 15 * DAY;
  /* created out of order; three share a start time (ties broken by id) */
  const long offsets[] = {5 * 3600, 3600, 3 * 3600, 3 * 3600, 0, 3 * 3600, 7 * 3600};
  json_t *made[7];
  for (int i = 0; i < 7; i++)
    made[i] = harness_new_event(p.token, body_at("seminar", base + offsets[i], 1800, g_site_a), NULL);
  qsort(made, 7, sizeof made[0], cmp_event);
  const char *expected[7];
  for (int i = 0; i < 7; i++)
    expected[i] = hjson_str(made[i], "id");
  for (int limit = 1; limit <= 3; limit++) {
    json_t *ids = list_ids("/v1/events", p.token, limit);
    assert_ids(ids, expected, 7, "keyset walk");
    json_decref(ids);
  }
  /* pages have the asked size and the last says next_cursor null */
  http_response *r = http_get("/v1/events?limit=3", p.token);
  assert_status(r, 200);
  assert_int_equal(json_array_size(hjson_get(r->json, "items")), 3);
  assert_true(json_is_string(hjson_get(r->json, "next_cursor")));
  http_response_free(r);
  r = http_get("/v1/events?limit=7", p.token);
  assert_status(r, 200);
  assert_int_equal(json_array_size(hjson_get(r->json, "items")), 7);
  http_response_free(r);
  r = http_get("/v1/events?limit=8", p.token);
  assert_status(r, 200);
  assert_true(hjson_is_null(r->json, "next_cursor"));
  http_response_free(r);
  /* a filtered walk */
  char from[32];
  fmt_time(base + 3 * 3600, from);
  json_t *ids = list_ids(hpath("/v1/events?from=%s", from), p.token, 2);
  assert_ids(ids, expected + 2, 5, "filtered keyset walk");
  json_decref(ids);
  for (int i = 0; i < 7; i++)
    json_decref(made[i]);
}

/* ---------------------------------------------------------------- publication and updates */

static void test_publication(void **state) {
  (void)state;
  char id[HARNESS_ID_MAX];
  json_decref(harness_new_event(g_p1.token, harness_event_body("seminar", 16 * DAY, 3600, g_site_a), id));
  /* the owning partner cannot publish its own event */
  http_response *r = patch_event(id, g_p1.token, json_pack("{s:s}", "status", "published"));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  /* nor can a manager of another site, nor a practitioner */
  r = patch_event(id, g_mgr_b.token, json_pack("{s:s}", "status", "published"));
  if (r->status != 404 && r->status != 403)
    harness_fail("a manager of another site publishing: expected 404 or 403, got %ld %s", r->status, r->body);
  assert_problem(r, r->status);
  http_response_free(r);
  r = patch_event(id, g_prac_a.token, json_pack("{s:s}", "status", "published"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  json_t *e = harness_event_get(id, g_admin.token);
  assert_json_str(e, "status", "pending");
  assert_json_int(e, "version", 1);
  json_decref(e);
  /* the manager of the audience site can */
  r = patch_event(id, g_mgr_a.token, json_pack("{s:s}", "status", "published"));
  assert_status(r, 200);
  assert_json_str(r->json, "status", "published");
  assert_json_int(r->json, "version", 2);
  assert_etag_matches_version(r);
  http_response_free(r);
  assert_int_equal(harness_audit_count("event.published", id, g_mgr_a.id), 1);
  json_decref(harness_event_get(id, g_prac_a.token));
  /* status moves other than publishing are 409 */
  r = patch_event(id, g_p1.token, json_pack("{s:s}", "status", "pending"));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  r = patch_event(id, g_p1.token, json_pack("{s:s}", "status", "cancelled"));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  r = patch_event(id, g_admin.token, json_pack("{s:s}", "status", "cancelled"));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  r = patch_event(id, g_p1.token, json_pack("{s:s}", "status", "postponed"));
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);

  /* an admin publishes; so does the manager of any one audience site */
  json_decref(harness_new_event(g_p1.token, harness_event_body("seminar", 16 * DAY, 3600, NULL), id));
  harness_event_publish(id, g_admin.token);
  assert_int_equal(harness_audit_count("event.published", id, g_admin.id), 1);
  json_t *both = harness_event_body("seminar", 16 * DAY, 3600, NULL);
  json_object_set_new(both, "audience", json_pack("{s:s, s:[s,s]}", "scope", "sites", "site_ids", g_site_a, g_site_b));
  json_decref(harness_new_event(g_p1.token, both, id));
  harness_event_publish(id, g_mgr_b.token);
  /* a network-wide pending event: no manager's site is in the audience */
  json_decref(harness_new_event(g_p1.token, harness_event_body("seminar", 16 * DAY, 3600, NULL), id));
  r = patch_event(id, g_mgr_a.token, json_pack("{s:s}", "status", "published"));
  if (r->status != 404 && r->status != 403)
    harness_fail("a manager publishing a network event: expected 404 or 403, got %ld %s", r->status, r->body);
  http_response_free(r);
}

static void test_owner_updates(void **state) {
  (void)state;
  char id[HARNESS_ID_MAX];
  json_t *e = harness_new_event(g_p1.token, harness_event_body("seminar", 17 * DAY, 3600, g_site_a), id);
  char starts[32];
  snprintf(starts, sizeof starts, "%s", hjson_str(e, "starts_at"));
  json_decref(e);

  http_response *r = patch_event_if_match(id, g_p1.token, json_pack("{s:s}", "title", "Stale"), "\"5\"");
  assert_problem_type(r, 412, "precondition-failed");
  http_response_free(r);
  r = patch_event_if_match(
      id, g_p1.token,
      json_pack("{s:s, s:s, s:i, s:s}", "title", "Renamed", "kind", "workshop", "capacity", 12, "location", "Hall B"),
      "\"1\"");
  assert_status(r, 200);
  assert_json_str(r->json, "title", "Renamed");
  assert_json_str(r->json, "kind", "workshop");
  assert_json_int(r->json, "capacity", 12);
  assert_json_str(r->json, "location", "Hall B");
  assert_json_str(r->json, "status", "pending");
  assert_json_int(r->json, "version", 2);
  assert_etag_matches_version(r);
  http_response_free(r);
  /* the old version is now stale */
  r = patch_event_if_match(id, g_p1.token, json_pack("{s:s}", "title", "Lost update"), "\"1\"");
  assert_problem_type(r, 412, "precondition-failed");
  http_response_free(r);
  r = patch_event_if_match(id, g_p1.token, json_pack("{s:n}", "location"), "*");
  assert_status(r, 200);
  assert_true(hjson_is_null(r->json, "location"));
  http_response_free(r);
  e = harness_event_get(id, g_p1.token);
  assert_json_str(e, "title", "Renamed");
  json_decref(e);

  /* the same rules as creation */
  json_t *bad[] = {
      json_pack("{s:s}", "external_id", "changed"),
      json_pack("{s:s}", "partner_id", g_p2.id),
      json_pack("{s:s}", "ends_at", starts), /* ends when it starts */
      json_pack("{s:s}", "online_url", "ftp://x.example.org"),
      json_pack("{s:{s:s, s:[s]}}", "audience", "scope", "sites", "site_ids", UNKNOWN_UUID),
      json_pack("{s:{s:s}}", "audience", "scope", "sites"),
      json_pack("{s:i}", "capacity", 0),
      json_pack("{s:s}", "title", ""),
      json_pack("{s:b}", "surprise", 1),
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *text = json_dumps(bad[i], JSON_COMPACT);
    r = patch_event(id, g_p1.token, bad[i]);
    if (r->status != 400)
      harness_fail("PATCH %s: expected 400, got %ld %s", text, r->status, r->body);
    assert_problem_type(r, 400, "invalid-request");
    free(text);
    http_response_free(r);
  }
  /* only the owner edits: not the audience site's manager, not a practitioner */
  r = patch_event(id, g_mgr_a.token, json_pack("{s:s}", "title", "Manager's title"));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  char member_ev[HARNESS_ID_MAX];
  json_decref(harness_new_event(g_mgr_a.token, harness_event_body("seminar", 17 * DAY, 3600, g_site_a), member_ev));
  r = patch_event(member_ev, g_prac_a.token, json_pack("{s:s}", "title", "Practitioner's title"));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  r = patch_event(member_ev, g_mgr_b.token, json_pack("{s:s}", "title", "Other manager's title"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = patch_event(member_ev, g_mgr_a.token, json_pack("{s:s}", "title", "Owner's title"));
  assert_status(r, 200);
  http_response_free(r);
  /* the manager owner may not move the audience to a site they do not manage */
  r = patch_event(member_ev, g_mgr_a.token,
                  json_pack("{s:{s:s, s:[s]}}", "audience", "scope", "sites", "site_ids", g_site_b));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  r = patch_event(member_ev, g_mgr_a.token, json_pack("{s:{s:s}}", "audience", "scope", "network"));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  /* a partner may move its audience; the old site's manager then no longer sees the pending event */
  r = patch_event(id, g_p1.token, json_pack("{s:{s:s, s:[s]}}", "audience", "scope", "sites", "site_ids", g_site_b));
  assert_status(r, 200);
  http_response_free(r);
  r = get_event(id, g_mgr_a.token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  json_decref(harness_event_get(id, g_mgr_b.token));
}

/* A published event of an untrusted partner (approved for site A) whose title, description,
 * times, place, online_url or audience the partner changes goes back to pending until an admin or
 * a manager of an audience site publishes it again; sending the values it has is no change; other
 * fields (kind, capacity), a trusted partner's and an owner manager's edits stay published
 * (API.md section 7, issue 11). */
static void test_partner_edits_return_to_pending(void **state) {
  (void)state;
  struct {
    const char *field;
    json_t *changed; /* new reference */
  } cases[] = {
      {"title", json_string("Free prizes, log in here")},
      {"description", json_string("Enter your password at the link.")},
      {"starts_at", NULL}, /* set below: an hour earlier */
      {"ends_at", NULL},   /* an hour later */
      {"location", json_string("Somewhere else")},
      {"online_url", json_string("https://phish.example.org/login")},
      {"audience", json_pack("{s:s}", "scope", "network")},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char id[HARNESS_ID_MAX];
    time_t starts = time(NULL) + 23 * DAY;
    json_t *body = body_at("seminar", starts, 3600, NULL);
    json_object_set_new(body, "audience",
                        json_pack("{s:s, s:[s,s]}", "scope", "sites", "site_ids", g_site_a, g_site_b));
    json_object_set_new(body, "location", json_string("Hall A"));
    json_object_set_new(body, "online_url", json_string("https://meet.example.org/a"));
    json_object_set_new(body, "description", json_string("About it."));
    json_t *e = harness_new_event(g_p1.token, body, id);
    assert_json_str(e, "status", "pending");
    json_decref(e);
    harness_event_publish(id, g_mgr_a.token);
    e = harness_event_get(id, g_p1.token);
    const char *field = cases[i].field;
    if (cases[i].changed == NULL) {
      char text[32];
      cases[i].changed = json_string(fmt_time(strcmp(field, "starts_at") == 0 ? starts - 3600 : starts + 7200, text));
    }

    /* the same value again (the sites in another order) is no change */
    json_t *same = json_deep_copy(json_object_get(e, field));
    if (strcmp(field, "audience") == 0)
      json_object_set_new(same, "site_ids", json_pack("[s,s]", g_site_b, g_site_a));
    http_response *r = patch_event(id, g_p1.token, json_pack("{s:o}", field, same));
    assert_status(r, 200);
    if (strcmp(hjson_str(r->json, "status"), "published") != 0)
      harness_fail("%s sent unchanged: the event left published (%s)", field, r->body);
    http_response_free(r);

    /* a real change: back to pending, out of members' sight, until published again */
    r = patch_event(id, g_p1.token, json_pack("{s:O}", field, cases[i].changed));
    assert_status(r, 200);
    if (strcmp(hjson_str(r->json, "status"), "pending") != 0)
      harness_fail("an untrusted partner's change of %s left the event %s", field, hjson_str(r->json, "status"));
    assert_json_int(r->json, "version", hjson_version(e) + 2); /* the unchanged PATCH, then this one */
    assert_true(json_equal(hjson_get(r->json, field), cases[i].changed));
    http_response_free(r);
    r = get_event(id, g_prac_a.token);
    assert_problem_type(r, 404, "not-found");
    http_response_free(r);
    assert_int_equal(harness_audit_count("event.unpublished", id, g_p1.id), 1);
    /* the partner cannot publish it again itself; a manager of an audience site can */
    r = patch_event(id, g_p1.token, json_pack("{s:s}", "status", "published"));
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
    if (strcmp(field, "audience") == 0)
      harness_event_publish(id, g_admin.token); /* now network-wide: an admin publishes */
    else
      harness_event_publish(id, g_mgr_b.token);
    json_decref(harness_event_get(id, g_prac_a.token));
    json_decref(e);
    json_decref(cases[i].changed);
  }

  /* fields members are not misled by stay published */
  char id[HARNESS_ID_MAX];
  json_decref(harness_new_event(g_p1.token, harness_event_body("seminar", 23 * DAY, 3600, g_site_a), id));
  harness_event_publish(id, g_mgr_a.token);
  http_response *r = patch_event(id, g_p1.token, json_pack("{s:s, s:i}", "kind", "workshop", "capacity", 30));
  assert_status(r, 200);
  assert_json_str(r->json, "status", "published");
  http_response_free(r);

  /* a trusted partner's and an owner manager's edits stay published */
  json_t *e = harness_new_event(g_trusted.token, harness_event_body("seminar", 23 * DAY, 3600, g_site_a), id);
  assert_json_str(e, "status", "published");
  json_decref(e);
  r = patch_event(id, g_trusted.token,
                  json_pack("{s:s, s:s, s:{s:s}}", "title", "Trusted change", "online_url",
                            "https://meet.example.org/t", "audience", "scope", "network"));
  assert_status(r, 200);
  assert_json_str(r->json, "status", "published");
  http_response_free(r);
  json_decref(harness_new_event(g_mgr_a.token, harness_event_body("seminar", 23 * DAY, 3600, g_site_a), id));
  r = patch_event(id, g_mgr_a.token,
                  json_pack("{s:s, s:s, s:s}", "title", "Manager's change", "online_url", "https://meet.example.org/m",
                            "location", "Room 2"));
  assert_status(r, 200);
  assert_json_str(r->json, "status", "published");
  http_response_free(r);
  json_decref(harness_event_get(id, g_prac_a.token));
}

/* An http(s) URL needs a host: the scheme alone, or a host with spaces, is no URL. */
static void test_online_url_needs_a_host(void **state) {
  (void)state;
  const char *bad_urls[] = {"https://", "http://", "https:// ", "https://exa mple.org/x", "https://\nexample.org"};
  for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
    expect_400(g_p1.token,
               with(harness_event_body("seminar", DAY, 3600, g_site_a), "online_url", json_string(bad_urls[i])),
               "online_url");
    char id[HARNESS_ID_MAX];
    json_decref(harness_new_event(g_p1.token, harness_event_body("seminar", DAY, 3600, g_site_a), id));
    http_response *r = patch_event(id, g_p1.token, json_pack("{s:s}", "online_url", bad_urls[i]));
    assert_problem_type(r, 400, "invalid-request");
    http_response_free(r);
  }
}

/* A PATCH of one end only is checked against the stored other end: still after the start, and
 * at most 14 days long. */
static void test_patch_keeps_14_day_limit(void **state) {
  (void)state;
  time_t t0 = time(NULL) + 20 * DAY;
  char id[HARNESS_ID_MAX], when[32];
  json_decref(harness_new_event(g_p1.token, body_at("seminar", t0, 3600, g_site_a), id));
  /* the start after the stored end */
  http_response *r = patch_event(id, g_p1.token, json_pack("{s:s}", "starts_at", fmt_time(t0 + 7200, when)));
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
  /* the end 15 days after the stored start */
  r = patch_event(id, g_p1.token, json_pack("{s:s}", "ends_at", fmt_time(t0 + 15 * DAY, when)));
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
  /* the start 15 days before the stored end */
  r = patch_event(id, g_p1.token, json_pack("{s:s}", "starts_at", fmt_time(t0 + 3600 - 15 * DAY, when)));
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
  /* nothing changed */
  json_t *e = harness_event_get(id, g_p1.token);
  assert_json_int(e, "version", 1);
  json_decref(e);
  /* both ends moved together within the limit: fine */
  char s2[32], e2[32];
  r = patch_event(id, g_p1.token,
                  json_pack("{s:s, s:s}", "starts_at", fmt_time(t0 + DAY, s2), "ends_at", fmt_time(t0 + 15 * DAY, e2)));
  assert_status(r, 200);
  assert_json_str(r->json, "starts_at", s2);
  assert_json_str(r->json, "ends_at", e2);
  http_response_free(r);
}

static void test_capacity_below_going(void **state) {
  (void)state;
  char id[HARNESS_ID_MAX];
  json_decref(harness_new_event(
      g_mgr_a.token, with(harness_event_body("seminar", 18 * DAY, 3600, g_site_a), "capacity", json_integer(3)), id));
  harness_account x;
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &x);
  harness_account *going[] = {&g_prac_a, &x};
  for (int i = 0; i < 2; i++) {
    http_response *r = http_json("PUT", hpath("/v1/events/%s/registration", id), going[i]->token,
                                 json_pack("{s:s}", "status", "going"));
    assert_status(r, 201);
    assert_json_str(r->json, "status", "going");
    http_response_free(r);
  }
  http_response *r = patch_event(id, g_mgr_a.token, json_pack("{s:i}", "capacity", 1));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  json_t *e = harness_event_get(id, g_mgr_a.token);
  assert_json_int(e, "capacity", 3);
  assert_json_int(e, "registration_counts.going", 2);
  json_decref(e);
  r = patch_event(id, g_mgr_a.token, json_pack("{s:i}", "capacity", 2));
  assert_status(r, 200);
  assert_json_int(r->json, "capacity", 2);
  http_response_free(r);
  r = patch_event(id, g_mgr_a.token, json_pack("{s:n}", "capacity"));
  assert_status(r, 200);
  assert_true(hjson_is_null(r->json, "capacity"));
  http_response_free(r);
}

/* ---------------------------------------------------------------- cancellation */

static void test_cancellation(void **state) {
  (void)state;
  char id[HARNESS_ID_MAX];
  json_decref(harness_new_event(g_p1.token, harness_event_body("seminar", 19 * DAY, 3600, g_site_a), id));
  harness_event_publish(id, g_admin.token);
  /* not by the audience site's manager (not the owner), nor by a practitioner */
  http_response *r = delete_event(id, g_mgr_a.token);
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  r = delete_event(id, g_prac_a.token);
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  r = delete_event(id, g_prac_b.token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  /* the owner cancels */
  r = delete_event(id, g_p1.token);
  assert_status(r, 204);
  assert_int_equal(r->body_len, 0);
  http_response_free(r);
  json_t *e = harness_event_get(id, g_p1.token);
  assert_json_str(e, "status", "cancelled");
  json_decref(e);
  r = delete_event(id, g_p1.token);
  assert_status(r, 204);
  http_response_free(r);
  /* a cancelled event is final */
  r = patch_event(id, g_p1.token, json_pack("{s:s}", "title", "Back on"));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  r = patch_event(id, g_admin.token, json_pack("{s:s}", "status", "published"));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  r = http_json("PUT", hpath("/v1/events/%s/registration", id), g_admin.token, json_pack("{s:s}", "status", "going"));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  e = harness_event_get(id, g_admin.token);
  assert_json_str(e, "status", "cancelled");
  json_decref(e);

  /* a manager cancels their own; registration then 409 for the owner */
  json_decref(harness_new_event(g_mgr_a.token, harness_event_body("seminar", 19 * DAY, 3600, g_site_a), id));
  r = delete_event(id, g_mgr_a.token);
  assert_status(r, 204);
  http_response_free(r);
  r = http_json("PUT", hpath("/v1/events/%s/registration", id), g_mgr_a.token, json_pack("{s:s}", "status", "going"));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  /* an admin cancels anyone's: a partner's pending one, a manager's */
  json_decref(harness_new_event(g_p2.token, harness_event_body("seminar", 19 * DAY, 3600, g_site_b), id));
  r = delete_event(id, g_admin.token);
  assert_status(r, 204);
  http_response_free(r);
  e = harness_event_get(id, g_p2.token);
  assert_json_str(e, "status", "cancelled");
  json_decref(e);
  assert_int_equal(harness_audit_count("event.cancelled", id, g_admin.id), 1);
  json_decref(harness_new_event(g_mgr_b.token, harness_event_body("seminar", 19 * DAY, 3600, g_site_b), id));
  r = delete_event(id, g_admin.token);
  assert_status(r, 204);
  http_response_free(r);
  r = delete_event(UNKNOWN_UUID, g_admin.token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
}

/* ---------------------------------------------------------------- delivery guarantees */

static char *event_text(const char *kind, const char *title, const char *site_id, const char *external_id) {
  json_t *b = harness_event_body(kind, 21 * DAY, 3600, site_id);
  if (title)
    json_object_set_new(b, "title", json_string(title));
  if (external_id)
    json_object_set_new(b, "external_id", json_string(external_id));
  char *t = json_dumps(b, JSON_COMPACT);
  json_decref(b);
  return t;
}

static void unique_key(char *out) {
  char u[HARNESS_NAME_MAX];
  snprintf(out, HARNESS_NAME_MAX + 8, "key-%s", harness_unique("idem", u));
}

static void test_idempotent_replay(void **state) {
  (void)state;
  char key[HARNESS_NAME_MAX + 8];
  unique_key(key);
  char title[HARNESS_NAME_MAX];
  harness_unique("Replayed", title);
  char *body = event_text("seminar", title, g_site_a, NULL);
  http_response *first = post_raw(g_p1.token, body, key);
  assert_status(first, 201);
  const char *replayed = http_header(first, "Idempotent-Replayed");
  if (replayed && strcmp(replayed, "true") == 0)
    harness_fail("the first answer says Idempotent-Replayed: true");
  char id[HARNESS_ID_MAX];
  snprintf(id, sizeof id, "%s", hjson_str(first->json, "id"));

  for (int round = 0; round < 2; round++) {
    http_response *again = post_raw(g_p1.token, body, key);
    assert_status(again, 201);
    assert_header_equal(again, "Idempotent-Replayed", "true");
    if (again->body_len != first->body_len || memcmp(again->body, first->body, first->body_len) != 0)
      harness_fail("the replay's body differs:\n  first:  %s\n  replay: %s", first->body, again->body);
    assert_header_equal(again, "Location", http_header(first, "Location"));
    assert_header_equal(again, "ETag", http_header(first, "ETag"));
    assert_header_equal(again, "Content-Type", http_header(first, "Content-Type"));
    http_response_free(again);
  }
  /* the same JSON spelled otherwise (key order, spaces) is the same body */
  json_t *parsed = json_loads(body, 0, NULL);
  char *pretty = json_dumps(parsed, JSON_INDENT(3) | JSON_SORT_KEYS);
  http_response *r = post_raw(g_p1.token, pretty, key);
  assert_status(r, 201);
  assert_json_str(r->json, "id", id);
  assert_header_equal(r, "Idempotent-Replayed", "true");
  http_response_free(r);
  free(pretty);
  /* another body under the same key: 422 */
  json_object_set_new(parsed, "title", json_string("Another title"));
  char *other = json_dumps(parsed, JSON_COMPACT);
  r = post_raw(g_p1.token, other, key);
  assert_problem_type(r, 422, "unprocessable");
  http_response_free(r);
  free(other);
  json_decref(parsed);
  /* the replay is the original answer, even after the event changed */
  r = patch_event(id, g_p1.token, json_pack("{s:s}", "title", "Changed since"));
  assert_status(r, 200);
  http_response_free(r);
  r = post_raw(g_p1.token, body, key);
  assert_status(r, 201);
  if (r->body_len != first->body_len || memcmp(r->body, first->body, first->body_len) != 0)
    harness_fail("after a PATCH, the replay's body differs:\n  first:  %s\n  replay: %s", first->body, r->body);
  http_response_free(r);
  /* exactly one event */
  assert_int_equal(count_in_list("/v1/events", g_p1.token, "title", title), 0);
  assert_int_equal(count_in_list("/v1/events", g_p1.token, "id", id), 1);
  http_response_free(first);
  free(body);

  /* a member's key works the same way */
  unique_key(key);
  harness_unique("Admin replay", title);
  body = event_text("seminar", title, NULL, NULL);
  first = post_raw(g_admin.token, body, key);
  assert_status(first, 201);
  r = post_raw(g_admin.token, body, key);
  assert_status(r, 201);
  assert_header_equal(r, "Idempotent-Replayed", "true");
  assert_json_str(r->json, "id", hjson_str(first->json, "id"));
  http_response_free(r);
  http_response_free(first);
  assert_int_equal(count_in_list("/v1/events", g_admin.token, "title", title), 1);
  free(body);
}

static void test_idempotency_errors_not_remembered(void **state) {
  (void)state;
  char key[HARNESS_NAME_MAX + 8];
  unique_key(key);
  /* a 400 is not stored: the fixed body under the same key creates the event */
  json_t *bad = harness_event_body("seminar", 21 * DAY, 3600, g_site_a);
  json_object_set_new(bad, "capacity", json_integer(0));
  char *bad_text = json_dumps(bad, JSON_COMPACT);
  json_decref(bad);
  http_response *r = post_raw(g_p1.token, bad_text, key);
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
  r = post_raw(g_p1.token, bad_text, key);
  assert_problem_type(r, 400, "invalid-request");
  assert_header_absent(r, "Idempotent-Replayed");
  http_response_free(r);
  free(bad_text);
  char *good = event_text("seminar", NULL, g_site_a, NULL);
  r = post_raw(g_p1.token, good, key);
  assert_status(r, 201);
  assert_header_absent(r, "Idempotent-Replayed");
  http_response_free(r);
  r = post_raw(g_p1.token, good, key);
  assert_status(r, 201);
  assert_header_equal(r, "Idempotent-Replayed", "true");
  http_response_free(r);
  free(good);
  /* a 403 is not stored either */
  unique_key(key);
  char *other_site = event_text("seminar", NULL, g_site_b, NULL);
  r = post_raw(g_mgr_a.token, other_site, key);
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  free(other_site);
  good = event_text("seminar", NULL, g_site_a, NULL);
  r = post_raw(g_mgr_a.token, good, key);
  assert_status(r, 201);
  http_response_free(r);
  free(good);

  /* key syntax: 1..200 printable ASCII */
  char long_key[202];
  memset(long_key, 'k', 201);
  long_key[201] = '\0';
  good = event_text("seminar", NULL, g_site_a, NULL);
  r = post_raw(g_p1.token, good, long_key);
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
  r = post_raw(g_p1.token, good, "caf\xc3\xa9-key");
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
  char max_key[HARNESS_NAME_MAX + 210];
  unique_key(max_key);
  while (strlen(max_key) < 200)
    strcat(max_key, "~");
  max_key[200] = '\0';
  r = post_raw(g_p1.token, good, max_key);
  assert_status(r, 201);
  http_response_free(r);
  r = post_raw(g_p1.token, good, max_key);
  assert_status(r, 201);
  assert_header_equal(r, "Idempotent-Replayed", "true");
  http_response_free(r);
  free(good);
}

static void test_idempotency_per_client(void **state) {
  (void)state;
  char key[HARNESS_NAME_MAX + 8];
  unique_key(key);
  char title[HARNESS_NAME_MAX];
  harness_unique("Shared key", title);
  char *body = event_text("seminar", title, g_site_a, NULL);
  http_response *a = post_raw(g_p1.token, body, key);
  assert_status(a, 201);
  http_response *b = post_raw(g_p2.token, body, key);
  assert_status(b, 201);
  if (b->json && hjson_str(b->json, "id") && strcmp(hjson_str(a->json, "id"), hjson_str(b->json, "id")) == 0)
    harness_fail("another partner's request with the same key replayed the first partner's event");
  assert_json_str(b->json, "partner_id", g_p2.id);
  const char *rep = http_header(b, "Idempotent-Replayed");
  assert_true(rep == NULL || strcmp(rep, "true") != 0);
  /* and the replays stay each client's own */
  http_response *b2 = post_raw(g_p2.token, body, key);
  assert_status(b2, 201);
  assert_json_str(b2->json, "id", hjson_str(b->json, "id"));
  http_response *a2 = post_raw(g_p1.token, body, key);
  assert_status(a2, 201);
  assert_json_str(a2->json, "id", hjson_str(a->json, "id"));
  assert_int_equal(count_in_list("/v1/events", g_p1.token, "title", title), 1);
  assert_int_equal(count_in_list("/v1/events", g_p2.token, "title", title), 1);
  http_response_free(a);
  http_response_free(b);
  http_response_free(a2);
  http_response_free(b2);
  free(body);
}

static void test_idempotency_concurrent(void **state) {
  (void)state;
  const int sizes[] = {2, 2, 2, 2, 8};
  for (size_t round = 0; round < sizeof sizes / sizeof sizes[0]; round++) {
    int n = sizes[round];
    char key[HARNESS_NAME_MAX + 8], keyh[HARNESS_NAME_MAX + 32], title[HARNESS_NAME_MAX];
    unique_key(key);
    snprintf(keyh, sizeof keyh, "Idempotency-Key: %s", key);
    harness_unique("Concurrent", title);
    char *body = event_text("workshop", title, g_site_a, NULL);
    harness_race_raw_req reqs[8];
    memset(reqs, 0, sizeof reqs);
    for (int i = 0; i < n; i++) {
      reqs[i].method = "POST";
      snprintf(reqs[i].path, sizeof reqs[i].path, "/v1/events");
      reqs[i].token = g_p1.token;
      reqs[i].body = body;
      reqs[i].headers[0] = keyh;
    }
    harness_race_raw(reqs, n);
    int fresh = 0;
    for (int i = 0; i < n; i++) {
      http_response *r = reqs[i].resp;
      if (r->status != 201)
        harness_fail("round %zu, request %d of %d identical concurrent POSTs: expected 201, got %ld %s", round, i, n,
                     r->status, r->body);
      if (r->body_len != reqs[0].resp->body_len || memcmp(r->body, reqs[0].resp->body, r->body_len) != 0)
        harness_fail("round %zu: concurrent identical POSTs answered different bodies:\n  %s\n  %s", round,
                     reqs[0].resp->body, r->body);
      const char *rep = http_header(r, "Idempotent-Replayed");
      if (!rep || strcmp(rep, "true") != 0)
        fresh++;
    }
    if (fresh != 1)
      harness_fail("round %zu: %d of %d answers are not marked Idempotent-Replayed (expected exactly 1)", round, fresh,
                   n);
    int count = count_in_list("/v1/events", g_p1.token, "title", title);
    if (count != 1)
      harness_fail("round %zu: %d events titled %s exist after %d identical concurrent POSTs (expected 1)", round,
                   count, title, n);
    for (int i = 0; i < n; i++)
      http_response_free(reqs[i].resp);
    free(body);
  }
}

static void test_external_id_unique(void **state) {
  (void)state;
  char ext[HARNESS_NAME_MAX];
  harness_unique("ext", ext);
  char *body = event_text("seminar", NULL, g_site_a, ext);
  http_response *r = post_raw(g_p1.token, body, NULL);
  assert_status(r, 201);
  assert_json_str(r->json, "external_id", ext);
  char id[HARNESS_ID_MAX];
  snprintf(id, sizeof id, "%s", hjson_str(r->json, "id"));
  http_response_free(r);
  free(body);
  /* a second event with it, another body: 409 naming the first */
  body = event_text("workshop", NULL, g_site_a, ext);
  r = post_raw(g_p1.token, body, NULL);
  assert_problem_type(r, 409, "conflict");
  assert_json_str(r->json, "existing_event_id", id);
  http_response_free(r);
  /* also with an Idempotency-Key, and that 409 is not remembered for the key */
  char key[HARNESS_NAME_MAX + 8];
  unique_key(key);
  r = post_raw(g_p1.token, body, key);
  assert_problem_type(r, 409, "conflict");
  assert_json_str(r->json, "existing_event_id", id);
  http_response_free(r);
  free(body);
  /* still after cancellation: the external_id names that event */
  r = delete_event(id, g_p1.token);
  assert_status(r, 204);
  http_response_free(r);
  body = event_text("seminar", NULL, g_site_a, ext);
  r = post_raw(g_p1.token, body, NULL);
  assert_problem_type(r, 409, "conflict");
  assert_json_str(r->json, "existing_event_id", id);
  http_response_free(r);
  /* unique per partner: another partner may use the same external_id */
  r = post_raw(g_p2.token, body, NULL);
  assert_status(r, 201);
  assert_json_str(r->json, "external_id", ext);
  assert_string_not_equal(hjson_str(r->json, "id"), id);
  http_response_free(r);
  free(body);
  assert_int_equal(count_in_list("/v1/events", g_p1.token, "external_id", ext), 1);
  assert_int_equal(count_in_list("/v1/events", g_p2.token, "external_id", ext), 1);
}

static void test_external_id_concurrent(void **state) {
  (void)state;
  const int sizes[] = {2, 2, 2, 2, 8};
  for (size_t round = 0; round < sizeof sizes / sizeof sizes[0]; round++) {
    int n = sizes[round];
    char ext[HARNESS_NAME_MAX];
    harness_unique("ext-race", ext);
    harness_race_raw_req reqs[8];
    char *bodies[8];
    char keys[8][HARNESS_NAME_MAX + 40];
    memset(reqs, 0, sizeof reqs);
    for (int i = 0; i < n; i++) {
      char k[HARNESS_NAME_MAX + 8];
      unique_key(k);
      snprintf(keys[i], sizeof keys[i], "Idempotency-Key: %s", k);
      bodies[i] = event_text(i % 2 ? "seminar" : "workshop", NULL, g_site_a, ext); /* different titles */
      reqs[i].method = "POST";
      snprintf(reqs[i].path, sizeof reqs[i].path, "/v1/events");
      reqs[i].token = g_p1.token;
      reqs[i].body = bodies[i];
      reqs[i].headers[0] = keys[i];
    }
    harness_race_raw(reqs, n);
    int created = -1, conflicts = 0;
    for (int i = 0; i < n; i++) {
      if (reqs[i].resp->status == 201) {
        if (created >= 0)
          harness_fail("round %zu: two concurrent POSTs with external_id %s both got 201:\n  %s\n  %s", round, ext,
                       reqs[created].resp->body, reqs[i].resp->body);
        created = i;
      } else if (reqs[i].resp->status == 409) {
        conflicts++;
      } else {
        harness_fail("round %zu: a concurrent POST with a shared external_id got %ld %s", round, reqs[i].resp->status,
                     reqs[i].resp->body);
      }
    }
    if (created < 0 || conflicts != n - 1)
      harness_fail("round %zu: expected one 201 and %d 409s, got %d 409s and %s", round, n - 1, conflicts,
                   created < 0 ? "no 201" : "a 201");
    const char *id = hjson_str(reqs[created].resp->json, "id");
    for (int i = 0; i < n; i++) {
      if (i == created)
        continue;
      assert_problem_type(reqs[i].resp, 409, "conflict");
      assert_json_str(reqs[i].resp->json, "existing_event_id", id);
    }
    assert_int_equal(count_in_list("/v1/events", g_p1.token, "external_id", ext), 1);
    for (int i = 0; i < n; i++) {
      http_response_free(reqs[i].resp);
      free(bodies[i]);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_partner_event_pending),
      cmocka_unit_test(test_trusted_partner_publishes),
      cmocka_unit_test(test_member_creators),
      cmocka_unit_test(test_validation),
      cmocka_unit_test(test_visibility),
      cmocka_unit_test(test_member_list_invariant),
      cmocka_unit_test(test_list_filters),
      cmocka_unit_test(test_pagination_walk),
      cmocka_unit_test(test_publication),
      cmocka_unit_test(test_owner_updates),
      cmocka_unit_test(test_partner_edits_return_to_pending),
      cmocka_unit_test(test_online_url_needs_a_host),
      cmocka_unit_test(test_patch_keeps_14_day_limit),
      cmocka_unit_test(test_capacity_below_going),
      cmocka_unit_test(test_cancellation),
      cmocka_unit_test(test_idempotent_replay),
      cmocka_unit_test(test_idempotency_errors_not_remembered),
      cmocka_unit_test(test_idempotency_per_client),
      cmocka_unit_test(test_idempotency_concurrent),
      cmocka_unit_test(test_external_id_unique),
      cmocka_unit_test(test_external_id_concurrent),
  };
  return cmocka_run_group_tests(tests, group_setup, harness_suite_teardown);
}
