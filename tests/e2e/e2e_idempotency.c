/*
 * e2e_idempotency.c — Idempotency-Key on every POST that creates something (API.md section 1,
 * issue 11): sites, members, groups, memberships (a join request and an invitation), terms,
 * acceptances, meetings, discussion threads and posts, consultations, partners, events and calendar feeds. For each:
 * the same request twice under one key creates one resource and the retry is the first answer again (status, body byte
 * for byte, Location, ETag, with Idempotent-Replayed: true); another body under the key is 422 and creates nothing; the
 * key on another route is 422. The list of routes is checked against the server's own OpenAPI document (every POST
 * documenting the header is tested here, and every route tested here documents it). A concurrent duplicate waits and
 * replays (one route).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static harness_account g_admin, g_mgr, g_conv, g_joiner, g_invitee, g_accepter, g_subscriber;
static char g_site[HARNESS_ID_MAX], g_group[HARNESS_ID_MAX], g_terms_group[HARNESS_ID_MAX];
static harness_partner g_partner; /* whose webhooks an admin registers */
static int g_terms_version;
static char g_thread[HARNESS_ID_MAX]; /* a discussion thread of g_group */

#define DAY 86400L

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_new_site_id(g_admin.token, g_site);
  harness_new_manager_quick(g_admin.token, g_site, &g_mgr);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &g_conv);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &g_joiner);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &g_invitee);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &g_accepter);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &g_subscriber);
  harness_new_partner(g_admin.token, false, &g_partner);
  json_decref(harness_new_group(g_conv.token, g_site, 2, 8, g_group));
  /* a second group whose current terms g_accepter, an active member, has not accepted yet */
  json_decref(harness_new_group(g_conv.token, g_site, 2, 8, g_terms_group));
  harness_group_join(g_terms_group, g_conv.token, &g_accepter);
  g_terms_version = harness_group_post_terms(g_terms_group, g_conv.token, "We keep what is said here.");
  http_response *r = http_json("POST", hpath("/v1/groups/%s/threads", g_group), g_conv.token,
                               json_pack("{s:s, s:s}", "title", "Idempotency", "body", "The first post."));
  assert_status(r, 201);
  snprintf(g_thread, sizeof g_thread, "%s", hjson_str(r->json, "id"));
  http_response_free(r);
  return 0;
}

static void unique_key(char *out) {
  char u[HARNESS_NAME_MAX];
  snprintf(out, HARNESS_NAME_MAX + 8, "key-%s", harness_unique("idem", u));
}

/* POST body (a JSON text) with an Idempotency-Key. */
static http_response *post_keyed(const char *path, const char *token, const char *body, const char *key) {
  char h[256];
  snprintf(h, sizeof h, "Idempotency-Key: %.220s", key);
  const char *const headers[] = {h, NULL};
  return http_request("POST", path, token, "application/json", body, headers);
}

/* One creating POST route: who sends what, and how many rows it made (SQL count). */
typedef struct create_case {
  const char *route; /* the route's pattern, as in the OpenAPI document */
  char path[256];
  const char *token;
  char *body;      /* JSON text (malloc'd) */
  char count[512]; /* SELECT count(*) ... of the resources this request makes */
  long first_status;
} create_case;

static char *text_of(json_t *body) {
  char *t = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  return t;
}

/* Builds the cases; n_out: how many. The caller frees each body. */
static int build_cases(create_case *c) {
  char u[HARNESS_NAME_MAX], email[HARNESS_EMAIL_MAX], when_s[32], when_e[32];
  int n = 0;

  harness_unique("idemsite", u);
  c[n] = (create_case){.route = "/v1/sites", .token = g_admin.token, .first_status = 201};
  snprintf(c[n].path, sizeof c[n].path, "/v1/sites");
  c[n].body = text_of(json_pack("{s:s, s:s, s:s}", "slug", u, "name", u, "organisation", "Idem Trust"));
  snprintf(c[n++].count, sizeof c[0].count, "SELECT count(*) FROM sites WHERE slug = '%s'", u);

  harness_unique("Idem member", u);
  c[n] = (create_case){.route = "/v1/members", .token = g_admin.token, .first_status = 201};
  snprintf(c[n].path, sizeof c[n].path, "/v1/members");
  c[n].body = text_of(json_pack("{s:s, s:s, s:s, s:s}", "email", harness_unique_email("idem", email), "display_name", u,
                                "role", "practitioner", "home_site_id", g_site));
  snprintf(c[n++].count, sizeof c[0].count, "SELECT count(*) FROM members WHERE display_name = '%s'", u);

  harness_unique("Idem group", u);
  c[n] = (create_case){.route = "/v1/groups", .token = g_conv.token, .first_status = 201};
  snprintf(c[n].path, sizeof c[n].path, "/v1/groups");
  c[n].body = text_of(json_pack("{s:s, s:s}", "name", u, "site_id", g_site));
  snprintf(c[n++].count, sizeof c[0].count, "SELECT count(*) FROM groups WHERE name = '%s'", u);

  /* memberships: a join request (empty body) and an invitation */
  c[n] = (create_case){.route = "/v1/groups/{group_id}/members", .token = g_joiner.token, .first_status = 201};
  snprintf(c[n].path, sizeof c[n].path, "/v1/groups/%s/members", g_group);
  c[n].body = strdup("{}");
  snprintf(c[n++].count, sizeof c[0].count,
           "SELECT count(*) FROM group_memberships WHERE group_id = '%s' AND member_id = '%s'", g_group, g_joiner.id);
  c[n] = (create_case){.route = "/v1/groups/{group_id}/members", .token = g_conv.token, .first_status = 201};
  snprintf(c[n].path, sizeof c[n].path, "/v1/groups/%s/members", g_group);
  c[n].body = text_of(json_pack("{s:s}", "member_id", g_invitee.id));
  snprintf(c[n++].count, sizeof c[0].count,
           "SELECT count(*) FROM group_memberships WHERE group_id = '%s' AND member_id = '%s'", g_group, g_invitee.id);

  harness_unique("Idem terms", u);
  c[n] = (create_case){.route = "/v1/groups/{group_id}/terms", .token = g_conv.token, .first_status = 201};
  snprintf(c[n].path, sizeof c[n].path, "/v1/groups/%s/terms", g_group);
  c[n].body = text_of(json_pack("{s:s}", "body", u));
  snprintf(c[n++].count, sizeof c[0].count, "SELECT count(*) FROM group_terms WHERE body = '%s'", u);

  c[n] = (create_case){
      .route = "/v1/groups/{group_id}/terms/{version}/acceptances", .token = g_accepter.token, .first_status = 201};
  snprintf(c[n].path, sizeof c[n].path, "/v1/groups/%s/terms/%d/acceptances", g_terms_group, g_terms_version);
  c[n].body = strdup("{}");
  snprintf(c[n++].count, sizeof c[0].count,
           "SELECT count(*) FROM terms_acceptances WHERE group_id = '%s' AND member_id = '%s'", g_terms_group,
           g_accepter.id);

  harness_unique("Idem agenda", u);
  c[n] = (create_case){.route = "/v1/groups/{group_id}/meetings", .token = g_conv.token, .first_status = 201};
  snprintf(c[n].path, sizeof c[n].path, "/v1/groups/%s/meetings", g_group);
  c[n].body = text_of(json_pack("{s:s, s:s, s:s}", "starts_at", harness_rfc3339_from_now(3 * DAY, when_s), "ends_at",
                                harness_rfc3339_from_now(3 * DAY + 3600, when_e), "agenda", u));
  snprintf(c[n++].count, sizeof c[0].count, "SELECT count(*) FROM meetings WHERE agenda = '%s'", u);

  /* discussions: a thread with its first post, and a reply */
  harness_unique("Idem thread", u);
  c[n] = (create_case){.route = "/v1/groups/{group_id}/threads", .token = g_conv.token, .first_status = 201};
  snprintf(c[n].path, sizeof c[n].path, "/v1/groups/%s/threads", g_group);
  c[n].body = text_of(json_pack("{s:s, s:s}", "title", u, "body", u));
  snprintf(c[n++].count, sizeof c[0].count, "SELECT count(*) FROM threads WHERE title = '%s'", u);
  harness_unique("Idem post", u);
  c[n] = (create_case){
      .route = "/v1/groups/{group_id}/threads/{thread_id}/posts", .token = g_conv.token, .first_status = 201};
  snprintf(c[n].path, sizeof c[n].path, "/v1/groups/%s/threads/%s/posts", g_group, g_thread);
  c[n].body = text_of(json_pack("{s:s}", "body", u));
  snprintf(c[n++].count, sizeof c[0].count, "SELECT count(*) FROM posts WHERE body = '%s'", u);

  json_t *consultation = harness_consultation_body(g_site, NULL, DAY, 10 * DAY);
  c[n] = (create_case){.route = "/v1/consultations", .token = g_mgr.token, .first_status = 201};
  snprintf(c[n].path, sizeof c[n].path, "/v1/consultations");
  snprintf(c[n].count, sizeof c[0].count, "SELECT count(*) FROM consultations WHERE title = '%s'",
           json_string_value(json_object_get(consultation, "title")));
  c[n++].body = text_of(consultation);

  harness_unique("Idem partner", u);
  c[n] = (create_case){.route = "/v1/partners", .token = g_admin.token, .first_status = 201};
  snprintf(c[n].path, sizeof c[n].path, "/v1/partners");
  c[n].body = text_of(json_pack("{s:s}", "name", u));
  snprintf(c[n++].count, sizeof c[0].count, "SELECT count(*) FROM partners WHERE name = '%s'", u);

  json_t *event = harness_event_body("seminar", 5 * DAY, 3600, g_site);
  c[n] = (create_case){.route = "/v1/events", .token = g_mgr.token, .first_status = 201};
  snprintf(c[n].path, sizeof c[n].path, "/v1/events");
  snprintf(c[n].count, sizeof c[0].count, "SELECT count(*) FROM events WHERE title = '%s'",
           json_string_value(json_object_get(event, "title")));
  c[n++].body = text_of(event);

  /* a webhook: its answer carries the signing secret, replayed from the sealed record */
  harness_unique("idemhook", u);
  c[n] = (create_case){.route = "/v1/partners/{partner_id}/webhooks", .token = g_admin.token, .first_status = 201};
  snprintf(c[n].path, sizeof c[n].path, "/v1/partners/%s/webhooks", g_partner.id);
  c[n].body =
      text_of(json_pack("{s:s, s:[s]}", "url", hpath("https://93.184.216.34/%s", u), "events", "event.published"));
  snprintf(c[n++].count, sizeof c[0].count, "SELECT count(*) FROM webhook_endpoints WHERE url LIKE '%%/%s'", u);

  /* a calendar feed: its answer carries the secret url, replayed from the sealed record */
  c[n] = (create_case){.route = "/v1/me/calendar-feeds", .token = g_subscriber.token, .first_status = 201};
  snprintf(c[n].path, sizeof c[n].path, "/v1/me/calendar-feeds");
  c[n].body = strdup("{}");
  snprintf(c[n++].count, sizeof c[0].count, "SELECT count(*) FROM calendar_feeds WHERE member_id = '%s'",
           g_subscriber.id);
  return n;
}

static bool same_answer(const http_response *a, const http_response *b) {
  return a->status == b->status && a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0;
}

static void assert_same_header(const http_response *first, const http_response *again, const char *name,
                               const char *route) {
  const char *x = http_header(first, name), *y = http_header(again, name);
  if ((x == NULL) != (y == NULL) || (x && strcmp(x, y) != 0))
    harness_fail("%s: the replay's %s is %s, the first answer's %s", route, name, y ? y : "absent", x ? x : "absent");
}

static void test_every_creating_post(void **state) {
  (void)state;
  create_case cases[16];
  int n = build_cases(cases);
  for (int i = 0; i < n; i++) {
    create_case *c = &cases[i];
    char key[HARNESS_NAME_MAX + 8];
    unique_key(key);
    http_response *first = post_keyed(c->path, c->token, c->body, key);
    if (first->status != c->first_status)
      harness_fail("%s: expected %ld, got %ld %s", c->route, c->first_status, first->status, first->body);
    const char *rep = http_header(first, "Idempotent-Replayed");
    if (rep && strcmp(rep, "true") == 0)
      harness_fail("%s: the first answer says Idempotent-Replayed: true", c->route);
    if (harness_psql_long(c->count) != 1)
      harness_fail("%s: %ld resources after the first request", c->route, harness_psql_long(c->count));

    http_response *again = post_keyed(c->path, c->token, c->body, key);
    if (!same_answer(first, again))
      harness_fail("%s: the retry is not the first answer:\n  first: %ld %s\n  retry: %ld %s", c->route, first->status,
                   first->body, again->status, again->body);
    assert_header_equal(again, "Idempotent-Replayed", "true");
    assert_same_header(first, again, "Location", c->route);
    assert_same_header(first, again, "ETag", c->route);
    assert_same_header(first, again, "Content-Type", c->route);
    if (harness_psql_long(c->count) != 1)
      harness_fail("%s: %ld resources after a retry with the same key", c->route, harness_psql_long(c->count));

    /* another body under the same key: 422, nothing created */
    json_t *other = json_loads(c->body, 0, NULL);
    json_object_set_new(other, "idempotency_probe", json_string("another body"));
    char *other_text = text_of(other);
    http_response *r = post_keyed(c->path, c->token, other_text, key);
    if (r->status != 422)
      harness_fail("%s: the key with another body: expected 422, got %ld %s", c->route, r->status, r->body);
    assert_problem_type(r, 422, "unprocessable");
    http_response_free(r);
    free(other_text);
    /* the key on another route: 422 */
    create_case *next = &cases[(i + 1) % n];
    if (strcmp(next->token, c->token) == 0) {
      r = post_keyed(next->path, c->token, next->body, key);
      if (r->status != 422)
        harness_fail("%s's key on %s: expected 422, got %ld %s", c->route, next->route, r->status, r->body);
      http_response_free(r);
    }
    if (harness_psql_long(c->count) != 1)
      harness_fail("%s: %ld resources after a reused key", c->route, harness_psql_long(c->count));
    http_response_free(first);
    http_response_free(again);
  }
  for (int i = 0; i < n; i++)
    free(cases[i].body);
}

/* The tested routes are exactly the POSTs whose OpenAPI operation documents Idempotency-Key. */
static void test_documented_routes_are_tested(void **state) {
  (void)state;
  create_case cases[16];
  int n = build_cases(cases);
  http_response *r = http_get("/openapi.json", NULL);
  assert_status(r, 200);
  json_t *paths = json_object_get(r->json, "paths"), *item;
  const char *path;
  int documented = 0;
  json_object_foreach(paths, path, item) {
    json_t *params = json_object_get(json_object_get(item, "post"), "parameters"), *p;
    size_t i;
    bool keyed = false;
    json_array_foreach(params, i, p) {
      const char *ref = json_string_value(json_object_get(p, "$ref"));
      const char *name = json_string_value(json_object_get(p, "name"));
      if ((ref && strcmp(ref, "#/components/parameters/IdempotencyKey") == 0) ||
          (name && strcmp(name, "Idempotency-Key") == 0))
        keyed = true;
    }
    bool tested = false;
    for (int k = 0; k < n; k++)
      tested = tested || strcmp(cases[k].route, path) == 0;
    if (keyed && !tested)
      harness_fail("POST %s documents Idempotency-Key but is not tested here", path);
    if (tested && !keyed)
      harness_fail("POST %s is tested here but does not document Idempotency-Key", path);
    documented += keyed;
  }
  assert_int_equal(documented, 14);
  http_response_free(r);
  for (int i = 0; i < n; i++)
    free(cases[i].body);
}

/* A malformed key is 400 and creates nothing. */
static void test_key_syntax(void **state) {
  (void)state;
  char u[HARNESS_NAME_MAX];
  harness_unique("Idem bad key", u);
  char *body = text_of(json_pack("{s:s, s:s}", "name", u, "site_id", g_site));
  char long_key[202];
  memset(long_key, 'k', 201);
  long_key[201] = '\0';
  http_response *r = post_keyed("/v1/groups", g_conv.token, body, long_key);
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
  r = post_keyed("/v1/groups", g_conv.token, body, "caf\xc3\xa9");
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
  char q[256];
  snprintf(q, sizeof q, "SELECT count(*) FROM groups WHERE name = '%s'", u);
  assert_int_equal(harness_psql_long(q), 0);
  free(body);
}

/* Identical POSTs sent at once with one key: one does the work, the others wait for it to commit
 * and replay its answer. */
static void test_concurrent_duplicates(void **state) {
  (void)state;
  for (int round = 0; round < 3; round++) {
    char key[HARNESS_NAME_MAX + 8], keyh[HARNESS_NAME_MAX + 32], u[HARNESS_NAME_MAX], q[256];
    unique_key(key);
    snprintf(keyh, sizeof keyh, "Idempotency-Key: %s", key);
    harness_unique("Idem race", u);
    char *body = text_of(json_pack("{s:s, s:s}", "name", u, "site_id", g_site));
    enum { N = 6 };
    harness_race_raw_req reqs[N];
    memset(reqs, 0, sizeof reqs);
    for (int i = 0; i < N; i++) {
      reqs[i].method = "POST";
      snprintf(reqs[i].path, sizeof reqs[i].path, "/v1/groups");
      reqs[i].token = g_conv.token;
      reqs[i].body = body;
      reqs[i].headers[0] = keyh;
    }
    harness_race_raw(reqs, N);
    int fresh = 0;
    for (int i = 0; i < N; i++) {
      http_response *r = reqs[i].resp;
      if (r->status != 201 || !same_answer(r, reqs[0].resp))
        harness_fail("round %d: concurrent identical POSTs answered differently:\n  %ld %s\n  %ld %s", round,
                     reqs[0].resp->status, reqs[0].resp->body, r->status, r->body);
      const char *rep = http_header(r, "Idempotent-Replayed");
      fresh += !(rep && strcmp(rep, "true") == 0);
    }
    if (fresh != 1)
      harness_fail("round %d: %d of %d answers are first answers (expected exactly 1)", round, fresh, N);
    snprintf(q, sizeof q, "SELECT count(*) FROM groups WHERE name = '%s'", u);
    assert_int_equal(harness_psql_long(q), 1);
    for (int i = 0; i < N; i++)
      http_response_free(reqs[i].resp);
    free(body);
  }
}

/* Answers that carry a secret shown once are not kept readable in the database. */
static void test_stored_answers_are_sealed(void **state) {
  (void)state;
  char key[HARNESS_NAME_MAX + 8], u[HARNESS_NAME_MAX], q[512];
  unique_key(key);
  harness_unique("Idem sealed", u);
  char *body = text_of(json_pack("{s:s}", "name", u));
  http_response *r = post_keyed("/v1/partners", g_admin.token, body, key);
  assert_status(r, 201);
  const char *secret = hjson_str(r->json, "client_secret");
  assert_non_null(secret);
  snprintf(q, sizeof q,
           "SELECT count(*) FROM idempotency_keys WHERE key = '%s' AND response_code = 201"
           " AND position('%s' IN coalesce(response_sealed, '') || coalesce(response_body, '')) = 0",
           key, secret);
  assert_int_equal(harness_psql_long(q), 1);
  http_response *again = post_keyed("/v1/partners", g_admin.token, body, key);
  assert_status(again, 201);
  assert_json_str(again->json, "client_secret", secret);
  http_response_free(again);
  http_response_free(r);
  free(body);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_creating_post),
      cmocka_unit_test(test_documented_routes_are_tested),
      cmocka_unit_test(test_key_syntax),
      cmocka_unit_test(test_concurrent_duplicates),
      cmocka_unit_test(test_stored_answers_are_sealed),
  };
  return cmocka_run_group_tests(tests, group_setup, harness_suite_teardown);
}
