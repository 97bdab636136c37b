/*
 * e2e_conventions.c — API.md section 1 and 9 against the real server: request ids,
 * problem+json 404/405, body limits (413), media type (415), JSON parsing (400), list
 * parameters and cursor pagination, CORS, security headers, /healthz, /readyz, /metrics.
 *
 * The group's server runs with FORUMNET_MAX_BODY_BYTES=4096 so that oversize bodies are small.
 */
#include "harness.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BODY_LIMIT 4096

static harness_account g_admin;

static int group_setup(void **state) {
  (void)state;
  static const char *const env[] = {"FORUMNET_MAX_BODY_BYTES=4096", NULL};
  harness_suite_start(env, &g_admin);
  return 0;
}

static bool is_hex32(const char *s) {
  if (!s || strlen(s) != 32)
    return false;
  for (size_t i = 0; i < 32; i++)
    if (!isxdigit((unsigned char)s[i]))
      return false;
  return true;
}

/* A valid POST /v1/sites body with a fresh slug, as text (caller frees). */
static char *site_body(char *slug_out) {
  harness_unique("conv", slug_out);
  json_t *b = json_pack("{s:s, s:s, s:s}", "slug", slug_out, "name", "Conventions site", "organisation", "E2E");
  char *text = json_dumps(b, JSON_COMPACT);
  json_decref(b);
  return text;
}

/* ---------------------------------------------------------------- request ids */

static void test_request_id_is_echoed(void **state) {
  (void)state;
  const char *id = "e2e.req-ID_42";
  const char *const h[] = {"X-Request-Id: e2e.req-ID_42", NULL};
  http_response *r = http_get_with_headers("/healthz", NULL, h);
  assert_status(r, 200);
  assert_header_equal(r, "X-Request-Id", id);
  http_response_free(r);

  /* The id in a problem body is the echoed one. */
  r = http_get_with_headers("/v1/no-such-route", NULL, h);
  assert_problem(r, 404);
  assert_header_equal(r, "X-Request-Id", id);
  assert_json_str(r->json, "request_id", id);
  http_response_free(r);

  /* 64 characters is still valid. */
  char long_id[65];
  memset(long_id, 'a', 64);
  long_id[64] = '\0';
  char line[100];
  snprintf(line, sizeof line, "X-Request-Id: %s", long_id);
  const char *const h64[] = {line, NULL};
  r = http_get_with_headers("/healthz", NULL, h64);
  assert_header_equal(r, "X-Request-Id", long_id);
  http_response_free(r);
}

static void test_request_id_is_generated(void **state) {
  (void)state;
  http_response *a = http_get("/healthz", NULL);
  http_response *b = http_get("/healthz", NULL);
  assert_status(a, 200);
  const char *ida = http_header(a, "X-Request-Id");
  const char *idb = http_header(b, "X-Request-Id");
  if (!is_hex32(ida) || !is_hex32(idb))
    harness_fail("generated X-Request-Id should be 32 hex characters, got %s and %s", ida ? ida : "(none)",
                 idb ? idb : "(none)");
  assert_string_not_equal(ida, idb);
  http_response_free(a);
  http_response_free(b);

  /* Generated ids are also on error responses and in their bodies. */
  http_response *r = http_get("/v1/sites", NULL);
  assert_problem(r, 401);
  assert_true(is_hex32(http_header(r, "X-Request-Id")));
  http_response_free(r);
}

static void test_invalid_request_id_is_replaced(void **state) {
  (void)state;
  char too_long[66];
  memset(too_long, 'b', 65);
  too_long[65] = '\0';
  const char *bad[] = {"has space", "semi;colon", "slash/slash", "quote\"d", "caf\xc3\xa9", too_long};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char line[128];
    snprintf(line, sizeof line, "X-Request-Id: %s", bad[i]);
    const char *const h[] = {line, NULL};
    http_response *r = http_get_with_headers("/v1/no-such-route", NULL, h);
    assert_problem(r, 404);
    const char *got = http_header(r, "X-Request-Id");
    if (!is_hex32(got) || strcmp(got, bad[i]) == 0)
      harness_fail("invalid incoming X-Request-Id \"%s\" should be replaced by a 32-hex id, got \"%s\"", bad[i],
                   got ? got : "(none)");
    http_response_free(r);
  }
}

/* ---------------------------------------------------------------- 404 / 405 */

static void test_unknown_route_is_problem_404(void **state) {
  (void)state;
  const char *paths[] = {"/v1/no-such-route", "/nope", "/v1/sites/00000000-0000-4000-8000-000000000000/nope",
                         "/v2/sites"};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    http_response *r = http_get(paths[i], g_admin.token);
    assert_problem_type(r, 404, "not-found");
    http_response_free(r);
  }
}

static void test_wrong_method_is_405_with_allow(void **state) {
  (void)state;
  /* Route matching comes before authentication: no token needed for the 405. */
  http_response *r = http_request("PUT", "/v1/sites", NULL, "application/json", "{}", NULL);
  assert_problem_type(r, 405, "method-not-allowed");
  if (!http_header_has_token(r, "Allow", "GET") || !http_header_has_token(r, "Allow", "POST") ||
      http_header_has_token(r, "Allow", "PUT"))
    harness_fail("PUT /v1/sites: Allow should list GET and POST but not PUT, got %s",
                 http_header(r, "Allow") ? http_header(r, "Allow") : "(absent)");
  http_response_free(r);

  r = http_request("DELETE", "/v1/sites", g_admin.token, NULL, NULL, NULL);
  assert_problem_type(r, 405, "method-not-allowed");
  assert_true(http_header_has_token(r, "Allow", "GET"));
  http_response_free(r);

  r = http_request("POST", "/v1/sites/00000000-0000-4000-8000-000000000000", g_admin.token, "application/json", "{}",
                   NULL);
  assert_problem_type(r, 405, "method-not-allowed");
  if (!http_header_has_token(r, "Allow", "GET") || !http_header_has_token(r, "Allow", "PATCH") ||
      !http_header_has_token(r, "Allow", "DELETE") || http_header_has_token(r, "Allow", "POST"))
    harness_fail("POST /v1/sites/{id}: Allow should list GET, PATCH, DELETE and not POST, got %s",
                 http_header(r, "Allow") ? http_header(r, "Allow") : "(absent)");
  http_response_free(r);
}

/* ---------------------------------------------------------------- 413 */

/* Ulfius 2.7 reads a request's whole body before any callback runs (it stores at most
 * limit + 1 bytes and discards the rest), so the 413 is decided from Content-Length but
 * sent once the upload has arrived; FORUMNET_CONNECTION_TIMEOUT bounds a client that
 * declares more than it sends. These tests therefore send the bodies they declare. */
static char *filler_body(size_t len) {
  char *body = malloc(len + 1);
  assert_non_null(body);
  memset(body, ' ', len);
  body[0] = '{';
  body[len - 1] = '}';
  body[len] = '\0';
  return body;
}

static void test_declared_content_length_over_limit_is_413(void **state) {
  (void)state;
  size_t len = 1000000;
  char *body = filler_body(len);
  http_response *r = http_send_declared_length("POST", "/v1/sites", g_admin.token, "application/json", len, body, len);
  assert_problem_type(r, 413, "content-too-large");
  http_response_free(r);
  free(body);
}

static void test_body_limit_comes_before_authentication(void **state) {
  (void)state;
  size_t len = BODY_LIMIT + 1;
  char *body = filler_body(len);
  http_response *r = http_send_declared_length("POST", "/v1/sites", NULL, "application/json", len, body, len);
  assert_problem_type(r, 413, "content-too-large");
  http_response_free(r);
  free(body);
}

/* A syntactically valid JSON object of exactly len bytes with an unknown "padding" field. */
static char *padded_site_body(size_t len, char *slug_out) {
  harness_unique("pad", slug_out);
  char head[256];
  int n = snprintf(head, sizeof head, "{\"slug\":\"%s\",\"name\":\"Pad\",\"organisation\":\"E2E\",\"padding\":\"",
                   slug_out);
  char *body = malloc(len + 1);
  assert_non_null(body);
  memcpy(body, head, (size_t)n);
  memset(body + n, 'x', len - (size_t)n - 2);
  memcpy(body + len - 2, "\"}", 2);
  body[len] = '\0';
  return body;
}

static void test_actual_body_over_limit_is_413(void **state) {
  (void)state;
  char slug[HARNESS_NAME_MAX];
  char *body = padded_site_body(BODY_LIMIT + 1, slug);
  http_response *r = http_request("POST", "/v1/sites", g_admin.token, "application/json", body, NULL);
  assert_problem_type(r, 413, "content-too-large");
  http_response_free(r);
  free(body);
}

static void test_body_at_limit_is_read(void **state) {
  (void)state;
  /* Exactly the limit is allowed: the server reads it and rejects the unknown field. */
  char slug[HARNESS_NAME_MAX];
  char *body = padded_site_body(BODY_LIMIT, slug);
  http_response *r = http_request("POST", "/v1/sites", g_admin.token, "application/json", body, NULL);
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "padding");
  http_response_free(r);
  free(body);
}

static void test_chunked_body_over_limit_is_413(void **state) {
  (void)state;
  char slug[HARNESS_NAME_MAX];
  char *body = padded_site_body(2 * BODY_LIMIT, slug);
  http_response *r =
      http_send_chunked("POST", "/v1/sites", g_admin.token, "application/json", body, strlen(body), 1000);
  assert_problem_type(r, 413, "content-too-large");
  http_response_free(r);
  free(body);

  /* Nothing was created: the slug is still free. */
  json_t *ok = json_pack("{s:s, s:s, s:s}", "slug", slug, "name", "After 413", "organisation", "E2E");
  r = http_json("POST", "/v1/sites", g_admin.token, ok);
  assert_status(r, 201);
  http_response_free(r);
}

static void test_chunked_body_under_limit_is_accepted(void **state) {
  (void)state;
  char slug[HARNESS_NAME_MAX];
  char *body = site_body(slug);
  http_response *r = http_send_chunked("POST", "/v1/sites", g_admin.token, "application/json", body, strlen(body), 16);
  assert_status(r, 201);
  assert_json_str(r->json, "slug", slug);
  http_response_free(r);
  free(body);
}

/* ---------------------------------------------------------------- 415 */

static void test_wrong_content_type_is_415(void **state) {
  (void)state;
  char slug[HARNESS_NAME_MAX];
  char *body = site_body(slug);
  const char *types[] = {"text/plain", "application/x-www-form-urlencoded", "application/jsonx", NULL};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    /* types[last] == NULL: no Content-Type header at all */
    http_response *r = http_request("POST", "/v1/sites", g_admin.token, types[i], body, NULL);
    assert_problem_type(r, 415, "unsupported-media-type");
    http_response_free(r);
  }
  http_response *r = http_request("PATCH", "/v1/me", g_admin.token, "text/plain", "{\"display_name\":\"X\"}", NULL);
  assert_problem_type(r, 415, "unsupported-media-type");
  http_response_free(r);

  /* None of them created the site; the charset parameter is accepted. */
  r = http_request("POST", "/v1/sites", g_admin.token, "application/json; charset=utf-8", body, NULL);
  assert_status(r, 201);
  http_response_free(r);
  free(body);
}

static void test_authentication_comes_before_content_type(void **state) {
  (void)state;
  http_response *r = http_request("POST", "/v1/sites", NULL, "text/plain", "hello", NULL);
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);
}

/* ---------------------------------------------------------------- 400 */

static void expect_invalid_body(const char *body) {
  http_response *r = http_request("POST", "/v1/sites", g_admin.token, "application/json", body, NULL);
  if (r->status != 400)
    print_error("body sent: %s\n", body);
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
}

static void test_malformed_json_is_400(void **state) {
  (void)state;
  expect_invalid_body("{\"slug\": \"abc\",");
  expect_invalid_body("{slug: 'abc'}");
  expect_invalid_body("");
  expect_invalid_body("{\"slug\":\"ab\"} trailing");
}

static void test_duplicate_keys_are_400(void **state) {
  (void)state;
  char slug[HARNESS_NAME_MAX];
  harness_unique("dup", slug);
  char body[512];
  snprintf(body, sizeof body, "{\"slug\":\"%s\",\"name\":\"One\",\"name\":\"Two\",\"organisation\":\"E2E\"}", slug);
  expect_invalid_body(body);
  /* Not created. */
  json_t *ok = json_pack("{s:s, s:s, s:s}", "slug", slug, "name", "One", "organisation", "E2E");
  http_response *r = http_json("POST", "/v1/sites", g_admin.token, ok);
  assert_status(r, 201);
  http_response_free(r);
}

static void test_non_object_body_is_400(void **state) {
  (void)state;
  expect_invalid_body("[]");
  expect_invalid_body("[{\"slug\":\"ab\"}]");
  expect_invalid_body("\"a string\"");
  expect_invalid_body("42");
  expect_invalid_body("null");
  expect_invalid_body("true");
}

static void test_unknown_field_is_400_with_errors(void **state) {
  (void)state;
  char slug[HARNESS_NAME_MAX];
  harness_unique("unk", slug);
  http_response *r = http_json(
      "POST", "/v1/sites", g_admin.token,
      json_pack("{s:s, s:s, s:s, s:s}", "slug", slug, "name", "Unknown field", "organisation", "E2E", "colour", "red"));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "colour");
  http_response_free(r);

  /* The rejected request changed nothing: the same slug is still free. */
  r = http_json("POST", "/v1/sites", g_admin.token,
                json_pack("{s:s, s:s, s:s}", "slug", slug, "name", "Unknown field", "organisation", "E2E"));
  assert_status(r, 201);
  http_response_free(r);
}

static void test_wrong_field_type_is_400_with_errors(void **state) {
  (void)state;
  char slug[HARNESS_NAME_MAX];
  harness_unique("typ", slug);
  http_response *r = http_json("POST", "/v1/sites", g_admin.token,
                               json_pack("{s:s, s:i, s:s}", "slug", slug, "name", 42, "organisation", "E2E"));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "name");
  http_response_free(r);
}

/* ---------------------------------------------------------------- list parameters */

static void test_list_parameters_are_validated(void **state) {
  (void)state;
  const char *bad[] = {"/v1/sites?limit=201",      "/v1/sites?limit=0",       "/v1/sites?limit=abc",
                       "/v1/sites?limit=-1",       "/v1/sites?limit=1.5",     "/v1/sites?limit=99999999999999999999",
                       "/v1/sites?cursor=garbage", "/v1/sites?cursor=%00%ff", "/v1/sites?limit=2&cursor=eyJ4IjoxfQ"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    http_response *r = http_get(bad[i], g_admin.token);
    assert_problem_type(r, 400, "invalid-request");
    http_response_free(r);
  }
  const char *good[] = {"/v1/sites?limit=200", "/v1/sites?limit=1", "/v1/sites"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    http_response *r = http_get(good[i], g_admin.token);
    assert_status(r, 200);
    assert_true(json_is_array(hjson_get(r->json, "items")));
    assert_non_null(hjson_get(r->json, "next_cursor"));
    http_response_free(r);
  }
  http_response *r = http_get("/v1/sites?limit=1", g_admin.token);
  assert_true(json_array_size(hjson_get(r->json, "items")) <= 1);
  http_response_free(r);
}

static void test_pagination_walk_visits_every_site_once(void **state) {
  (void)state;
  char ids[5][HARNESS_ID_MAX];
  for (int i = 0; i < 5; i++)
    harness_new_site_id(g_admin.token, ids[i]);

  json_t *seen = json_object(); /* id -> position */
  int found_at[5] = {-1, -1, -1, -1, -1};
  int position = 0;
  char cursor[1024] = "";
  char last_created[64] = "";
  bool last_page_seen = false;
  for (int page = 0; page < 20000; page++) {
    const char *path = cursor[0] ? hpath("/v1/sites?limit=2&cursor=%s", cursor) : "/v1/sites?limit=2";
    http_response *r = http_get(path, g_admin.token);
    assert_status(r, 200);
    json_t *items = hjson_get(r->json, "items");
    assert_true(json_is_array(items));
    if (json_array_size(items) > 2)
      harness_fail("page %d has %zu items with limit=2", page, json_array_size(items));
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
      const char *id = hjson_str(it, "id");
      const char *created = hjson_str(it, "created_at");
      assert_non_null(id);
      assert_non_null(created);
      if (json_object_get(seen, id))
        harness_fail("site %s appears twice in the walk (page %d)", id, page);
      json_object_set_new(seen, id, json_integer(position));
      if (strcmp(created, last_created) < 0)
        harness_fail("list is not ordered by created_at: %s after %s", created, last_created);
      snprintf(last_created, sizeof last_created, "%s", created);
      for (int k = 0; k < 5; k++)
        if (strcmp(id, ids[k]) == 0)
          found_at[k] = position;
      position++;
    }
    json_t *next = hjson_get(r->json, "next_cursor");
    if (json_is_null(next)) {
      last_page_seen = true;
      http_response_free(r);
      break;
    }
    if (!json_is_string(next) || !*json_string_value(next))
      harness_fail("next_cursor must be a non-empty string or null");
    /* Opaque: a client escapes it into the query string like any value. */
    char *c = harness_urlencode(json_string_value(next));
    if (strlen(c) >= sizeof cursor)
      harness_fail("next_cursor is longer than %zu bytes", sizeof cursor);
    snprintf(cursor, sizeof cursor, "%s", c);
    free(c);
    http_response_free(r);
  }
  assert_true(last_page_seen);
  for (int k = 0; k < 5; k++) {
    if (found_at[k] < 0)
      harness_fail("site %s created before the walk was not visited", ids[k]);
    if (k > 0 && found_at[k] <= found_at[k - 1])
      harness_fail("sites are not in creation order: %s at %d, %s at %d", ids[k - 1], found_at[k - 1], ids[k],
                   found_at[k]);
  }
  json_decref(seen);
}

/* ---------------------------------------------------------------- CORS */

static bool has_any_access_control_header(const http_response *r) {
  for (size_t i = 0; i < r->header_count; i++)
    if (strncasecmp(r->header_names[i], "Access-Control-", 15) == 0)
      return true;
  return false;
}

static void test_cors_preflight_allowed_origin(void **state) {
  (void)state;
  const char *const h[] = {"Origin: " HARNESS_CORS_ORIGIN, "Access-Control-Request-Method: POST",
                           "Access-Control-Request-Headers: authorization, content-type", NULL};
  http_response *r = http_request("OPTIONS", "/v1/sites", NULL, NULL, NULL, h);
  assert_status(r, 204);
  assert_header_equal(r, "Access-Control-Allow-Origin", HARNESS_CORS_ORIGIN);
  assert_true(http_header_has_token(r, "Allow", "GET"));
  assert_true(http_header_has_token(r, "Allow", "POST"));
  assert_true(http_header_has_token(r, "Access-Control-Allow-Methods", "GET"));
  assert_true(http_header_has_token(r, "Access-Control-Allow-Methods", "POST"));
  const char *want[] = {"Authorization", "Content-Type",    "If-Match",
                        "If-None-Match", "Idempotency-Key", "X-Request-Id"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    if (!http_header_has_token(r, "Access-Control-Allow-Headers", want[i]))
      harness_fail("Access-Control-Allow-Headers lacks %s: %s", want[i],
                   http_header(r, "Access-Control-Allow-Headers") ? http_header(r, "Access-Control-Allow-Headers")
                                                                  : "(absent)");
  assert_header_equal(r, "Access-Control-Max-Age", "600");
  assert_true(http_header_has_token(r, "Vary", "Origin"));
  http_response_free(r);

  /* The methods are the path's own. */
  const char *const h2[] = {"Origin: " HARNESS_CORS_ORIGIN, "Access-Control-Request-Method: PATCH", NULL};
  r = http_request("OPTIONS", "/v1/sites/00000000-0000-4000-8000-000000000000", NULL, NULL, NULL, h2);
  assert_status(r, 204);
  assert_true(http_header_has_token(r, "Access-Control-Allow-Methods", "PATCH"));
  assert_true(http_header_has_token(r, "Access-Control-Allow-Methods", "DELETE"));
  assert_false(http_header_has_token(r, "Access-Control-Allow-Methods", "POST"));
  http_response_free(r);
}

static void test_cors_preflight_disallowed_origin(void **state) {
  (void)state;
  const char *const h[] = {"Origin: https://evil.example", "Access-Control-Request-Method: POST", NULL};
  http_response *r = http_request("OPTIONS", "/v1/sites", NULL, NULL, NULL, h);
  assert_status(r, 204);
  if (has_any_access_control_header(r))
    harness_fail("a disallowed origin got Access-Control-* headers");
  assert_true(http_header_has_token(r, "Allow", "GET"));
  http_response_free(r);

  /* A look-alike of the allowed origin is not allowed either. */
  const char *const h2[] = {"Origin: https://app.example.org.evil.example", "Access-Control-Request-Method: GET", NULL};
  r = http_request("OPTIONS", "/v1/sites", NULL, NULL, NULL, h2);
  assert_status(r, 204);
  assert_false(has_any_access_control_header(r));
  http_response_free(r);
}

static void test_cors_simple_requests(void **state) {
  (void)state;
  const char *const allowed[] = {"Origin: " HARNESS_CORS_ORIGIN, NULL};
  http_response *r = http_get_with_headers("/v1/sites?limit=1", g_admin.token, allowed);
  assert_status(r, 200);
  assert_header_equal(r, "Access-Control-Allow-Origin", HARNESS_CORS_ORIGIN);
  assert_true(http_header_has_token(r, "Vary", "Origin"));
  const char *exposed[] = {"ETag", "Location", "Retry-After", "X-Request-Id"};
  for (size_t i = 0; i < 4; i++)
    if (!http_header_has_token(r, "Access-Control-Expose-Headers", exposed[i]))
      harness_fail("Access-Control-Expose-Headers lacks %s", exposed[i]);
  http_response_free(r);

  /* Errors carry it too, or browsers could not read them. */
  r = http_get_with_headers("/v1/sites", NULL, allowed);
  assert_problem(r, 401);
  assert_header_equal(r, "Access-Control-Allow-Origin", HARNESS_CORS_ORIGIN);
  http_response_free(r);

  const char *const other[] = {"Origin: https://evil.example", NULL};
  r = http_get_with_headers("/v1/sites?limit=1", g_admin.token, other);
  assert_status(r, 200);
  assert_header_absent(r, "Access-Control-Allow-Origin");
  http_response_free(r);
}

/* ---------------------------------------------------------------- operations & headers */

static void test_health_and_readiness(void **state) {
  (void)state;
  http_response *r = http_get("/healthz", NULL);
  assert_status(r, 200);
  assert_json_str(r->json, "status", "ok");
  http_response_free(r);
  r = http_get("/readyz", NULL);
  assert_status(r, 200);
  assert_json_str(r->json, "status", "ready");
  http_response_free(r);
}

static void test_metrics(void **state) {
  (void)state;
  http_response *nf = http_get("/v1/no-such-route-for-metrics", NULL);
  assert_status(nf, 404);
  http_response_free(nf);

  http_response *r = http_get("/metrics", NULL);
  assert_status(r, 200);
  const char *ct = http_header(r, "Content-Type");
  if (!ct || strncmp(ct, "text/plain", 10) != 0)
    harness_fail("/metrics Content-Type should be text/plain; version=0.0.4, got %s", ct ? ct : "(none)");
  const char *names[] = {"forumnet_http_requests_total",
                         "forumnet_http_request_duration_seconds_bucket",
                         "forumnet_http_request_duration_seconds_sum",
                         "forumnet_http_request_duration_seconds_count",
                         "forumnet_db_pool_size",
                         "forumnet_db_pool_in_use",
                         "forumnet_db_pool_waits_total",
                         "forumnet_db_pool_timeouts_total"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strstr(r->body, names[i]))
      harness_fail("/metrics lacks %s", names[i]);
  /* The requests counter is labelled by status, and has counted the 200s and the 404 above. */
  bool saw_200 = false, saw_404 = false;
  for (const char *line = r->body; line && *line;) {
    const char *eol = strchr(line, '\n');
    size_t n = eol ? (size_t)(eol - line) : strlen(line);
    if (strncmp(line, "forumnet_http_requests_total{", 29) == 0) {
      char tmp[512];
      snprintf(tmp, sizeof tmp, "%.*s", (int)(n < 511 ? n : 511), line);
      if (strstr(tmp, "status=\"200\""))
        saw_200 = true;
      if (strstr(tmp, "status=\"404\""))
        saw_404 = true;
      if (!strstr(tmp, "method=\"") || !strstr(tmp, "route=\""))
        harness_fail("requests counter line lacks method or route labels: %s", tmp);
    }
    line = eol ? eol + 1 : NULL;
  }
  assert_true(saw_200);
  assert_true(saw_404);
  http_response_free(r);
}

static void expect_security_headers(http_response *r) {
  assert_header_equal(r, "X-Content-Type-Options", "nosniff");
  assert_header_equal(r, "Cache-Control", "no-store");
  assert_non_null(http_header(r, "X-Request-Id"));
}

static void test_security_headers_everywhere(void **state) {
  (void)state;
  http_response *r = http_get("/healthz", NULL);
  expect_security_headers(r);
  http_response_free(r);
  r = http_get("/v1/sites?limit=1", g_admin.token);
  assert_status(r, 200);
  expect_security_headers(r);
  http_response_free(r);
  r = http_get("/v1/no-such-route", NULL);
  assert_problem(r, 404);
  expect_security_headers(r);
  http_response_free(r);
  r = http_get("/v1/me", NULL);
  assert_problem(r, 401);
  expect_security_headers(r);
  http_response_free(r);
  r = http_request("PUT", "/v1/sites", NULL, NULL, NULL, NULL);
  assert_problem(r, 405);
  expect_security_headers(r);
  http_response_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request_id_is_echoed),
      cmocka_unit_test(test_request_id_is_generated),
      cmocka_unit_test(test_invalid_request_id_is_replaced),
      cmocka_unit_test(test_unknown_route_is_problem_404),
      cmocka_unit_test(test_wrong_method_is_405_with_allow),
      cmocka_unit_test(test_declared_content_length_over_limit_is_413),
      cmocka_unit_test(test_body_limit_comes_before_authentication),
      cmocka_unit_test(test_actual_body_over_limit_is_413),
      cmocka_unit_test(test_body_at_limit_is_read),
      cmocka_unit_test(test_chunked_body_over_limit_is_413),
      cmocka_unit_test(test_chunked_body_under_limit_is_accepted),
      cmocka_unit_test(test_wrong_content_type_is_415),
      cmocka_unit_test(test_authentication_comes_before_content_type),
      cmocka_unit_test(test_malformed_json_is_400),
      cmocka_unit_test(test_duplicate_keys_are_400),
      cmocka_unit_test(test_non_object_body_is_400),
      cmocka_unit_test(test_unknown_field_is_400_with_errors),
      cmocka_unit_test(test_wrong_field_type_is_400_with_errors),
      cmocka_unit_test(test_list_parameters_are_validated),
      cmocka_unit_test(test_pagination_walk_visits_every_site_once),
      cmocka_unit_test(test_cors_preflight_allowed_origin),
      cmocka_unit_test(test_cors_preflight_disallowed_origin),
      cmocka_unit_test(test_cors_simple_requests),
      cmocka_unit_test(test_health_and_readiness),
      cmocka_unit_test(test_metrics),
      cmocka_unit_test(test_security_headers_everywhere),
  };
  return cmocka_run_group_tests_name("e2e_conventions", tests, group_setup, harness_suite_teardown);
}
