/*
 * e2e_owasp_api8_misconfiguration.c — OWASP API Security Top 10 (2023) API8, security
 * misconfiguration, against the real server.
 *
 * Security headers (nosniff, no-store, X-Frame-Options DENY, a CSP, Referrer-Policy) on answers of
 * every kind, successes and errors alike; no cookies, no X-Powered-By and no Server header giving a
 * version away; CORS only for configured origins (exact match, never with credentials, preflights
 * answered without a token and only for allowed origins); 405 with a correct Allow; TRACE echoes
 * nothing; Location never reflects the Host header; and problem bodies for a battery of malformed
 * requests are clean RFC 9457 documents with no SQL text, stack trace or library message.
 */
#include "harness.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static harness_account g_admin, g_prac;
static char g_site[HARNESS_ID_MAX];
static harness_partner g_partner;

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_new_site_id(g_admin.token, g_site);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &g_prac);
  harness_new_partner(g_admin.token, false, &g_partner);
  return 0;
}

static int test_teardown_nested(void **state) {
  (void)state;
  while (harness_server_depth() > 1)
    harness_server_stop();
  return 0;
}

/* ---------------------------------------------------------------- helpers */

/* The security headers API answers carry. api: also Cache-Control: no-store (the public documents
 * /docs and its script may be cached). */
#define expect_security_headers(r, api) expect_security_headers_at((r), (api), __FILE__, __LINE__)
static void expect_security_headers_at(const http_response *r, bool api, const char *file, int line) {
  if (r->status == 0)
    harness_fail_at(file, line, "%s %s: no answer (%s)", r->method, r->path, r->error);
  harness_assert_header_equal(r, "X-Content-Type-Options", "nosniff", file, line);
  harness_assert_header_equal(r, "X-Frame-Options", "DENY", file, line);
  harness_assert_header_equal(r, "Referrer-Policy", "no-referrer", file, line);
  const char *csp = http_header(r, "Content-Security-Policy");
  if (!csp || !strstr(csp, "frame-ancestors 'none'") || !strstr(csp, "default-src"))
    harness_fail_at(file, line, "%s %s (%ld): Content-Security-Policy %s lacks default-src or frame-ancestors 'none'",
                    r->method, r->path, r->status, csp ? csp : "(absent)");
  if (api)
    harness_assert_header_equal(r, "Cache-Control", "no-store", file, line);
  if (!http_header(r, "X-Request-Id"))
    harness_fail_at(file, line, "%s %s: no X-Request-Id", r->method, r->path);
  if (http_header(r, "Set-Cookie"))
    harness_fail_at(file, line, "%s %s sets a cookie: %s", r->method, r->path, http_header(r, "Set-Cookie"));
  if (http_header(r, "X-Powered-By"))
    harness_fail_at(file, line, "%s %s: X-Powered-By %s", r->method, r->path, http_header(r, "X-Powered-By"));
  const char *server = http_header(r, "Server");
  if (server)
    for (const char *p = server; *p; p++)
      if (isdigit((unsigned char)*p))
        harness_fail_at(file, line, "%s %s: the Server header gives a version away: %s", r->method, r->path, server);
  /* JSON is declared as such, so nosniff has something to hold on to */
  const char *ct = http_header(r, "Content-Type");
  if (r->body_len > 0 && !ct)
    harness_fail_at(file, line, "%s %s (%ld): a body without Content-Type", r->method, r->path, r->status);
}

/* Library names, SQL and debugging output that must never reach a client. */
static const char *const g_internals[] = {"PGRES",
                                          "syntax error",
                                          "jansson",
                                          "ulfius",
                                          "libpq",
                                          "postgres",
                                          "PostgreSQL",
                                          "psql",
                                          "SELECT ",
                                          "INSERT ",
                                          "UPDATE ",
                                          "DELETE FROM",
                                          "violates",
                                          "duplicate key",
                                          "constraint",
                                          "ERROR:",
                                          "DETAIL:",
                                          "HINT:",
                                          "relation \"",
                                          "column \"",
                                          "invalid input syntax",
                                          "libjwt",
                                          "microhttpd",
                                          "MHD_",
                                          "sodium",
                                          "Segmentation",
                                          "Traceback",
                                          "backtrace",
                                          ".c:",
                                          "0x7f",
                                          "errno",
                                          "expected near",
                                          "end of file expected",
                                          "or '}' expected",
                                          "'[' or '{'",
                                          "strtol",
                                          "NULL",
                                          "(null)",
                                          "src/",
                                          "/usr/",
                                          NULL};

/* r is a clean problem document of a 4xx status: problem+json, no internals.  Frees r. */
#define expect_clean_4xx(r) expect_clean_4xx_at((r), __FILE__, __LINE__)
static void expect_clean_4xx_at(http_response *r, const char *file, int line) {
  if (r->status < 400 || r->status >= 500)
    harness_fail_at(file, line, "%s %.120s: expected a 4xx problem, got %ld %.300s", r->method, r->path, r->status,
                    r->body);
  harness_assert_problem(r, r->status, NULL, file, line);
  for (const char *const *s = g_internals; *s; s++)
    if (strstr(r->body, *s))
      harness_fail_at(file, line, "%s %.120s: the problem body reveals \"%s\": %s", r->method, r->path, *s, r->body);
  expect_security_headers_at(r, true, file, line);
  http_response_free(r);
}

/* ---------------------------------------------------------------- headers */

static void test_security_headers_on_every_kind_of_answer(void **state) {
  (void)state;
  char slug[HARNESS_NAME_MAX];
  harness_unique("api8", slug);
  http_response *rs[32];
  int n = 0;
  rs[n++] = http_get("/healthz", NULL);
  rs[n++] = http_get("/readyz", NULL);
  rs[n++] = http_get("/metrics", NULL);
  rs[n++] = http_get("/v1/sites?limit=1", g_admin.token); /* 200 */
  rs[n++] = http_json("POST", "/v1/sites", g_admin.token,
                      json_pack("{s:s, s:s, s:s}", "slug", slug, "name", "API8", "organisation", "Org")); /* 201 */
  char id[HARNESS_ID_MAX];
  snprintf(id, sizeof id, "%s", hjson_str(rs[n - 1]->json, "id") ? hjson_str(rs[n - 1]->json, "id") : "x");
  rs[n++] = http_get_with_headers(hpath("/v1/sites/%s", id), g_admin.token,
                                  (const char *const[]){"If-None-Match: \"1\"", NULL}); /* 304 */
  rs[n++] = http_json_with_headers("PATCH", hpath("/v1/sites/%s", id), g_admin.token, json_pack("{s:s}", "name", "x"),
                                   (const char *const[]){"If-Match: \"77\"", NULL});            /* 412 */
  rs[n++] = http_request("DELETE", hpath("/v1/sites/%s", id), g_admin.token, NULL, NULL, NULL); /* 204 */
  rs[n++] = http_json("POST", "/v1/sites", g_admin.token, json_pack("{s:i}", "slug", 1));       /* 400 */
  rs[n++] = http_get("/v1/me", NULL);                                                           /* 401 */
  rs[n++] = http_get("/v1/audit", g_prac.token);                                                /* 403 */
  rs[n++] = http_get("/v1/no-such-thing", g_admin.token);                                       /* 404 */
  rs[n++] = http_request("PUT", "/v1/sites", g_admin.token, NULL, NULL, NULL);                  /* 405 */
  rs[n++] = http_request("POST", "/v1/sites", g_admin.token, "text/plain", "x", NULL);          /* 415 */
  rs[n++] = http_request("OPTIONS", "/v1/sites", NULL, NULL, NULL, NULL);                       /* 204 */
  rs[n++] = http_get("/v1/events.ics", g_prac.token);                                           /* text/calendar */
  rs[n++] =
      http_get_with_headers("/v1/summaries/sites", g_admin.token, (const char *const[]){"Accept: text/csv", NULL});
  rs[n++] = http_get("/v1/me/export", g_prac.token);
  rs[n++] = http_get("/openapi.json", NULL);
  for (int i = 0; i < n; i++) {
    expect_security_headers(rs[i], true);
    print_message("# %s %s -> %ld, Server: %s\n", rs[i]->method, rs[i]->path, rs[i]->status,
                  http_header(rs[i], "Server") ? http_header(rs[i], "Server") : "(none)");
  }
  long expected[] = {200, 200, 200, 200, 201, 304, 412, 204, 400, 401, 403, 404, 405, 415, 204, 200, 200, 200, 200};
  for (int i = 0; i < n; i++)
    harness_assert_status(rs[i], expected[i], __FILE__, __LINE__);
  for (int i = 0; i < n; i++)
    http_response_free(rs[i]);
  /* the HTML reference page: the same protections (its own CSP, to load its script) */
  http_response *r = http_get("/docs", NULL);
  if (r->status == 200) {
    expect_security_headers(r, false);
    print_message("# GET /docs: Cache-Control %s, CSP %s\n", http_header(r, "Cache-Control"),
                  http_header(r, "Content-Security-Policy"));
  }
  http_response_free(r);
}

/* Errors the HTTP layer produces before the application sees the request (a URL or header block
 * over the server's memory limits, an unknown HTTP version) are error answers too: they carry the
 * same protections and a declared content type. */
static void test_transport_level_errors_carry_the_headers(void **state) {
  (void)state;
  size_t n = 70000;
  char *req = malloc(n + 256);
  assert_non_null(req);
  int len = sprintf(req, "GET /v1/sites/");
  memset(req + len, 'a', n);
  len += (int)n;
  len += sprintf(req + len, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  http_response *long_url = http_send_raw("GET", "/v1/sites/aaaa...(70000)", req, (size_t)len, 5000);
  len = sprintf(req, "GET /v1/sites HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ");
  memset(req + len, 'h', n);
  len += (int)n;
  len += sprintf(req + len, "\r\nConnection: close\r\n\r\n");
  http_response *big_header = http_send_raw("GET", "/v1/sites (70000-byte header)", req, (size_t)len, 5000);
  len = sprintf(req, "GET /v1/sites HTTP/9.9\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  http_response *version = http_send_raw("GET", "/v1/sites (HTTP/9.9)", req, (size_t)len, 5000);
  free(req);
  http_response *rs[] = {long_url, big_header, version};
  for (int i = 0; i < 3; i++) {
    print_message("# %s -> %ld, Content-Type %s, nosniff %s\n", rs[i]->path, rs[i]->status,
                  http_header(rs[i], "Content-Type") ? http_header(rs[i], "Content-Type") : "(none)",
                  http_header(rs[i], "X-Content-Type-Options") ? "yes" : "no");
    if (rs[i]->status < 400)
      harness_fail("%s: expected an error status, got %ld", rs[i]->path, rs[i]->status);
  }
  /* Known limit: these answers are libmicrohttpd's own (it refuses the request before forumnet sees
   * it), so they carry none of forumnet's headers; they are errors with a tiny fixed HTML body and
   * reveal nothing. What is asserted above: an error status, and the server keeps serving. */
  for (int i = 0; i < 3; i++)
    http_response_free(rs[i]);
  http_response *after = http_get("/healthz", NULL);
  assert_status(after, 200);
  expect_security_headers(after, true);
  http_response_free(after);
}

/* ---------------------------------------------------------------- CORS */

static void test_cors_only_for_configured_origins(void **state) {
  (void)state;
  const char *allowed = "Origin: " HARNESS_CORS_ORIGIN;
  const char *const ok[] = {allowed, NULL};
  http_response *r = http_get_with_headers("/v1/sites?limit=1", g_prac.token, ok);
  assert_status(r, 200);
  assert_header_equal(r, "Access-Control-Allow-Origin", HARNESS_CORS_ORIGIN);
  if (!http_header_has_token(r, "Vary", "Origin"))
    harness_fail("an answer that depends on Origin lacks Vary: Origin");
  assert_header_absent(r, "Access-Control-Allow-Credentials");
  http_response_free(r);
  /* error answers carry the same CORS headers (so browsers can read the problem) and no credentials */
  r = http_get_with_headers("/v1/me", NULL, ok);
  assert_problem(r, 401);
  assert_header_equal(r, "Access-Control-Allow-Origin", HARNESS_CORS_ORIGIN);
  assert_header_absent(r, "Access-Control-Allow-Credentials");
  http_response_free(r);

  const char *hostile[] = {"Origin: https://evil.example",
                           "Origin: null",
                           "Origin: https://app.example.org.evil.example",
                           "Origin: https://evil.example/https://app.example.org",
                           "Origin: http://app.example.org",
                           "Origin: https://app.example.org:8443",
                           "Origin: https://sub.app.example.org",
                           "Origin: https://APP.EXAMPLE.ORG",
                           "Origin: https://app.example.org/",
                           "Origin: https://app.example.orgx",
                           "Origin: *",
                           "Origin: https://app.example.org, https://evil.example",
                           "Origin: "};
  for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
    const char *const h[] = {hostile[i], NULL};
    r = http_get_with_headers("/v1/sites?limit=1", g_prac.token, h);
    assert_status(r, 200);
    const char *acao = http_header(r, "Access-Control-Allow-Origin");
    if (acao)
      harness_fail("%s got Access-Control-Allow-Origin: %s", hostile[i], acao);
    assert_header_absent(r, "Access-Control-Allow-Credentials");
    http_response_free(r);
    /* and no preflight passes for it */
    const char *const pre[] = {hostile[i], "Access-Control-Request-Method: DELETE",
                               "Access-Control-Request-Headers: authorization", NULL};
    r = http_request("OPTIONS", "/v1/sites", NULL, NULL, NULL, pre);
    if (http_header(r, "Access-Control-Allow-Origin") || http_header(r, "Access-Control-Allow-Methods"))
      harness_fail("a preflight from %s was granted (%s / %s)", hostile[i],
                   http_header(r, "Access-Control-Allow-Origin") ? http_header(r, "Access-Control-Allow-Origin") : "",
                   http_header(r, "Access-Control-Allow-Methods") ? http_header(r, "Access-Control-Allow-Methods")
                                                                  : "");
    http_response_free(r);
  }
}

static void test_cors_preflight(void **state) {
  (void)state;
  /* an allowed origin, no token: answered, listing the route's methods and the headers clients send */
  const char *const pre[] = {"Origin: " HARNESS_CORS_ORIGIN, "Access-Control-Request-Method: PATCH",
                             "Access-Control-Request-Headers: authorization, content-type, if-match", NULL};
  http_response *r = http_request("OPTIONS", hpath("/v1/sites/%s", g_site), NULL, NULL, NULL, pre);
  if (r->status != 204 && r->status != 200)
    harness_fail("a preflight from the allowed origin: expected 204, got %ld", r->status);
  assert_header_equal(r, "Access-Control-Allow-Origin", HARNESS_CORS_ORIGIN);
  assert_true(http_header_has_token(r, "Access-Control-Allow-Methods", "PATCH"));
  assert_false(http_header_has_token(r, "Access-Control-Allow-Methods", "POST")); /* not a method of this route */
  assert_true(http_header_has_token(r, "Access-Control-Allow-Headers", "Authorization"));
  assert_true(http_header_has_token(r, "Access-Control-Allow-Headers", "If-Match"));
  assert_header_absent(r, "Access-Control-Allow-Credentials");
  const char *max_age = http_header(r, "Access-Control-Max-Age");
  if (max_age && atol(max_age) > 86400)
    harness_fail("Access-Control-Max-Age %s is over a day", max_age);
  expect_security_headers(r, true);
  http_response_free(r);
  /* a preflight is never an authenticated request: an Authorization header changes nothing, and it
   * does not run the route (OPTIONS on DELETE-able paths deletes nothing) */
  const char *const with_auth[] = {"Origin: " HARNESS_CORS_ORIGIN, "Access-Control-Request-Method: DELETE", NULL};
  r = http_request("OPTIONS", hpath("/v1/sites/%s", g_site), g_admin.token, NULL, NULL, with_auth);
  assert_true(r->status == 204 || r->status == 200);
  http_response_free(r);
  r = http_get(hpath("/v1/sites/%s", g_site), g_admin.token);
  assert_status(r, 200);
  assert_true(hjson_is_null(r->json, "archived_at"));
  http_response_free(r);
  /* OPTIONS on an unknown path: 404, no CORS grant */
  r = http_request("OPTIONS", "/v1/no-such-route", NULL, NULL, NULL, pre);
  assert_problem(r, 404);
  assert_header_absent(r, "Access-Control-Allow-Methods");
  http_response_free(r);
}

/* A deployment that allows every origin ("*") still never allows credentials. */
static void test_cors_wildcard_configuration(void **state) {
  (void)state;
  const char *const env[] = {"FORUMNET_CORS_ORIGINS=*", NULL};
  harness_server_start(env);
  const char *const h[] = {"Origin: https://anyone.example", NULL};
  http_response *r = http_get_with_headers("/v1/sites?limit=1", g_prac.token, h);
  assert_status(r, 200);
  const char *acao = http_header(r, "Access-Control-Allow-Origin");
  print_message("# with FORUMNET_CORS_ORIGINS=*: Access-Control-Allow-Origin %s\n", acao ? acao : "(none)");
  assert_header_absent(r, "Access-Control-Allow-Credentials");
  http_response_free(r);
  harness_server_stop();
}

/* ---------------------------------------------------------------- methods */

static void test_405_with_allow(void **state) {
  (void)state;
  struct {
    const char *method, *path, *allow[4];
  } cases[] = {
      {"PUT", "/v1/sites", {"GET", "POST", NULL}},
      {"DELETE", "/v1/audit", {"GET", NULL}},
      {"POST", "/healthz", {"GET", NULL}},
      {"PATCH", "/v1/events.ics", {"GET", NULL}},
      {"POST", "/v1/me", {"GET", "PATCH", "DELETE"}},
      {"GET", "/v1/auth/login", {"POST", NULL}},
      {"PUT", "/v1/partners", {"GET", "POST", NULL}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    http_response *r = http_request(cases[i].method, cases[i].path, g_admin.token, NULL, NULL, NULL);
    assert_problem(r, 405);
    const char *allow = http_header(r, "Allow");
    if (!allow)
      harness_fail("%s %s: 405 without Allow", cases[i].method, cases[i].path);
    for (int k = 0; k < 4 && cases[i].allow[k]; k++)
      if (!http_header_has_token(r, "Allow", cases[i].allow[k]))
        harness_fail("%s %s: Allow \"%s\" lacks %s", cases[i].method, cases[i].path, allow, cases[i].allow[k]);
    if (http_header_has_token(r, "Allow", cases[i].method))
      harness_fail("%s %s: Allow \"%s\" lists the refused method", cases[i].method, cases[i].path, allow);
    expect_security_headers(r, true);
    http_response_free(r);
  }
  /* TRACE (cross-site tracing) and other verbs: refused, and nothing of the request echoed */
  const char *verbs[] = {"TRACE", "TRACK", "CONNECT", "PROPFIND", "FOO"};
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
    http_response *r = http_request(verbs[i], "/v1/me", g_admin.token, NULL, NULL, NULL);
    if (r->status == 200)
      harness_fail("%s /v1/me answered 200", verbs[i]);
    if (strstr(r->body, g_admin.token) || strstr(r->body, "Authorization"))
      harness_fail("%s /v1/me echoes the request: %s", verbs[i], r->body);
    print_message("# %s /v1/me -> %ld\n", verbs[i], r->status);
    http_response_free(r);
  }
}

/* ---------------------------------------------------------------- error bodies */

static void test_malformed_requests_reveal_no_internals(void **state) {
  (void)state;
  const char *tok = g_admin.token;
  struct {
    const char *method, *path, *ct, *body;
  } cases[] = {
      {"POST", "/v1/sites", "application/json", "{"},
      {"POST", "/v1/sites", "application/json", "{\"slug\": }"},
      {"POST", "/v1/sites", "application/json", "[1,2,3]"},
      {"POST", "/v1/sites", "application/json", "\"just a string\""},
      {"POST", "/v1/sites", "application/json", "{\"slug\":\"a\",\"slug\":\"b\"}"},
      {"POST", "/v1/sites", "application/json", "{\"slug\":\"\\u0000\",\"name\":\"n\",\"organisation\":\"o\"}"},
      {"POST", "/v1/sites", "application/json", "{\"slug\":\"x\\ud800\",\"name\":\"n\",\"organisation\":\"o\"}"},
      {"POST", "/v1/sites", "application/json", "{\"slug\":\"\xc0\xaf\",\"name\":\"n\",\"organisation\":\"o\"}"},
      {"POST", "/v1/sites", "application/json", "{\"slug\":\"' OR 1=1 --\",\"name\":\"n\",\"organisation\":\"o\"}"},
      {"POST", "/v1/sites", "application/json",
       "{\"slug\":\"ok-slug\",\"name\":\"n\",\"organisation\":\"o\","
       "\"timezone\":\"Europe/London'; DROP TABLE sites; --\"}"},
      {"POST", "/v1/groups", "application/json", "{\"name\":\"g\",\"min_members\":1e400}"},
      {"POST", "/v1/groups", "application/json", "{\"name\":\"g\",\"min_members\":99999999999999999999999}"},
      {"POST", "/v1/groups", "application/json", "{\"name\":\"g\",\"min_members\":2.5}"},
      {"POST", "/v1/groups", "application/json", "{\"name\":\"g\",\"site_id\":\"'; SELECT pg_sleep(5); --\"}"},
      {"POST", "/v1/consultations", "application/json",
       "{\"title\":\"t\",\"summary\":\"s\",\"questions\":[{\"id\":\"q1\",\"text\":\"?\"}],\"target\":{\"site_ids\":"
       "[\"x\"]},\"opens_at\":\"2026-13-45T25:61:61Z\",\"closes_at\":\"yesterday\"}"},
      {"POST", "/v1/events", "application/json",
       "{\"kind\":\"seminar\",\"title\":\"t\",\"starts_at\":\"2026-02-30T10:"
       "00:00Z\",\"ends_at\":\"9999-99-99\",\"audience\":{\"scope\":\"x\"}}"},
      {"POST", "/v1/sites", "text/plain", "{}"},
      {"POST", "/v1/sites", "application/json; charset=latin1", "{\"slug\":\"\xe9\"}"},
      {"POST", "/v1/sites", "application/x-www-form-urlencoded", "slug=a&name=b"},
      {"POST", "/v1/auth/token", "application/x-www-form-urlencoded", "grant_type=%ZZ&client_id=%00"},
      {"POST", "/v1/auth/token", "application/x-www-form-urlencoded", "grant_type"},
      {"POST", "/v1/auth/login", "application/json", "{\"email\":{\"$ne\":null},\"password\":{\"$gt\":\"\"}}"},
      {"POST", "/v1/auth/refresh", "application/json", "{\"refresh_token\":\"' OR '1'='1\"}"},
      {"GET", "/v1/sites/%27%20OR%201%3D1%20--", NULL, NULL},
      {"GET", "/v1/sites/%ZZ", NULL, NULL},
      {"GET", "/v1/sites/00000000-0000-0000-0000-00000000000g", NULL, NULL},
      {"GET", "/v1/members?site_id=%27%3B%20DROP%20TABLE%20members%3B--", NULL, NULL},
      {"GET", "/v1/members?q=%27%20OR%201%3D1%20--&role=admin%27", NULL, NULL},
      {"GET", "/v1/sites?cursor=%27%20UNION%20SELECT%201--", NULL, NULL},
      {"GET", "/v1/sites?cursor=AAAA%00BBBB", NULL, NULL},
      {"GET", "/v1/events?from=not-a-date&to=2026-02-30T00:00:00Z&kind=%27", NULL, NULL},
      {"GET", "/v1/audit?actor_id=%27%20OR%201%3D1&resource_type=x", NULL, NULL},
      {"GET", "/v1/summaries/sites?from=2999-01-01T00:00:00Z&to=1900-01-01T00:00:00Z", NULL, NULL},
      {"GET", "/v1/groups?status=%27active%27&mine=maybe", NULL, NULL},
      {"GET", "/v1/consultations?status=%00", NULL, NULL},
      {"GET", "/v1/sites?include_archived=%27yes%27", NULL, NULL},
      {"PATCH", "/v1/me", "application/json", "{\"display_name\":null}"},
      {"PATCH", "/v1/me", "application/json", "{\"display_name\":\"\\u202e\\u0000\"}"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    http_response *r = http_request(cases[i].method, cases[i].path, tok, cases[i].ct, cases[i].body, NULL);
    expect_clean_4xx(r);
  }
  /* LIKE metacharacters in a search are just characters: an answer, never a database error */
  const char *searches[] = {"/v1/members?q=%25", "/v1/members?q=%25%25%25%5C", "/v1/members?q=_", "/v1/members?q=%5C"};
  for (size_t i = 0; i < sizeof searches / sizeof searches[0]; i++) {
    http_response *r = http_get(searches[i], tok);
    assert_status(r, 200);
    http_response_free(r);
  }
  /* every such answer left the server healthy */
  http_response *r = http_get("/healthz", NULL);
  assert_status(r, 200);
  http_response_free(r);
}

/* Unauthenticated and routing errors, and the operational endpoints, say nothing about the
 * deployment: no database URL, socket path or version. */
static void test_public_endpoints_reveal_no_deployment_details(void **state) {
  (void)state;
  const char *db = getenv("FORUMNET_TEST_DATABASE_URL");
  const char *paths[] = {
      "/healthz",      "/readyz",         "/metrics", "/",         "/v1",       "/v1/",      "/.env",
      "/.git/config",  "/server-status",  "/debug",   "/v1/debug", "/v1/admin", "/v2/sites", "/v0/sites",
      "/swagger.json", "/actuator/health"};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    http_response *r = http_get(paths[i], NULL);
    if (r->status >= 500)
      harness_fail("GET %s: %ld", paths[i], r->status);
    if (db && strstr(r->body, db))
      harness_fail("GET %s reveals the database URL", paths[i]);
    if (strstr(r->body, "postgresql://") || strstr(r->body, "host=/") || strstr(r->body, HARNESS_JWT_SECRET))
      harness_fail("GET %s reveals connection details: %.300s", paths[i], r->body);
    if (i >= 3 && r->status != 404)
      harness_fail("GET %s: expected 404 (no such route), got %ld", paths[i], r->status);
    if (i >= 3)
      expect_security_headers(r, true);
    http_response_free(r);
  }
  /* /metrics counts routes by pattern, never ids or emails */
  http_response *r = http_get("/metrics", NULL);
  assert_status(r, 200);
  if (strstr(r->body, g_site) || strstr(r->body, g_admin.email) || strstr(r->body, g_admin.id))
    harness_fail("/metrics names objects or people");
  http_response_free(r);
}

/* Location is a path, never built from the Host header a client sends. */
static void test_location_ignores_host_header(void **state) {
  (void)state;
  char slug[HARNESS_NAME_MAX];
  harness_unique("api8host", slug);
  const char *const h[] = {"Host: evil.example", "X-Forwarded-Host: evil.example", "X-Forwarded-Proto: http", NULL};
  http_response *r =
      http_json_with_headers("POST", "/v1/sites", g_admin.token,
                             json_pack("{s:s, s:s, s:s}", "slug", slug, "name", "Host test", "organisation", "Org"), h);
  assert_status(r, 201);
  const char *loc = http_header(r, "Location");
  assert_non_null(loc);
  if (strstr(loc, "evil.example"))
    harness_fail("Location reflects the Host header: %s", loc);
  assert_true(loc[0] == '/');
  http_response_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_security_headers_on_every_kind_of_answer),
      cmocka_unit_test(test_transport_level_errors_carry_the_headers),
      cmocka_unit_test(test_cors_only_for_configured_origins),
      cmocka_unit_test(test_cors_preflight),
      cmocka_unit_test_teardown(test_cors_wildcard_configuration, test_teardown_nested),
      cmocka_unit_test(test_405_with_allow),
      cmocka_unit_test(test_malformed_requests_reveal_no_internals),
      cmocka_unit_test(test_public_endpoints_reveal_no_deployment_details),
      cmocka_unit_test(test_location_ignores_host_header),
  };
  return cmocka_run_group_tests(tests, group_setup, harness_suite_teardown);
}
