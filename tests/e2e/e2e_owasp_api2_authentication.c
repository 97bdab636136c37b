/*
 * e2e_owasp_api2_authentication.c — OWASP API Security Top 10 (2023) API2, broken authentication,
 * against the real server.
 *
 * Forged access tokens (alg none, another algorithm, a wrong key, expired, not yet valid, wrong
 * issuer or audience, wrong typ, unknown kid, spliced signatures, embedded key URLs) are tried on a
 * sample of routes of every kind (reads, writes, admin, partner, export, erasure) and must all be
 * 401 with WWW-Authenticate: Bearer; a validly signed control token proves each forgery differs
 * only in what it tests.  The role claim is never trusted.  Partner tokens are refused on member
 * routes and member tokens get no partner powers.  Tokens of an erased member and of a revoked
 * partner stop working, and so do malformed Authorization headers.  HS/RS confusion: a second
 * server pinned to RS256 (the unit tests' test key pair) logs in and accepts its own tokens, but
 * refuses an HS256 token whose HMAC secret is its public key PEM.  Brute-forced logins are 429.
 */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../unit/test_only_keys.h"

#define UNKNOWN_UUID "00000000-0000-4000-8000-000000000000"

static harness_account g_admin;
static char g_site[HARNESS_ID_MAX];
static harness_account g_victim; /* the subject of forged tokens (a practitioner, quick) */
static harness_partner g_partner;
static char g_keydir[64];

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_new_site_id(g_admin.token, g_site);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &g_victim);
  harness_new_partner(g_admin.token, false, &g_partner);
  return 0;
}

static void remove_keydir(void) {
  if (!g_keydir[0])
    return;
  char p[128];
  snprintf(p, sizeof p, "%s/private.pem", g_keydir);
  unlink(p);
  snprintf(p, sizeof p, "%s/public.pem", g_keydir);
  unlink(p);
  rmdir(g_keydir);
  g_keydir[0] = '\0';
}

static int group_teardown(void **state) {
  harness_suite_teardown(state);
  remove_keydir();
  return 0;
}

/* Stops a nested server left by a failed test. */
static int test_teardown(void **state) {
  (void)state;
  harness_set_source_address(NULL);
  while (harness_server_depth() > 1)
    harness_server_stop();
  remove_keydir();
  return 0;
}

/* ---------------------------------------------------------------- helpers */

static json_t *claims_for(const char *sub, const char *typ) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  long now = (long)ts.tv_sec;
  /* iat_ms as the server issues it: without it a token counts as issued at the start of its iat
   * second, before a member created within that same second. */
  json_int_t now_ms = (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s}", "iss", "forumnet", "aud", "forumnet-api",
                   "sub", sub, "typ", typ, "role", "admin", "iat", (json_int_t)now, "iat_ms", now_ms, "nbf",
                   (json_int_t)now, "exp", (json_int_t)(now + 600), "jti", "e2e-owasp-api2");
}

/* Signs claims (stolen) with alg and key; header_extra (borrowed, may be NULL) adds to {"kid":"k1"}. */
static char *sign_with(const char *alg, const char *key, size_t key_len, json_t *header_extra, json_t *claims) {
  json_t *header = json_pack("{s:s}", "kid", "k1");
  if (header_extra)
    json_object_update(header, header_extra);
  char *t = harness_jwt_sign(alg, key, key_len, header, claims);
  json_decref(header);
  json_decref(claims);
  return t;
}

static char *sign_hs256(json_t *claims) {
  return sign_with("HS256", HARNESS_JWT_SECRET, HARNESS_JWT_SECRET_LEN, NULL, claims);
}

/* A 401 problem with a Bearer challenge, never any member data. */
#define expect_401(r) expect_401_at((r), __FILE__, __LINE__)
static void expect_401_at(const http_response *r, const char *file, int line) {
  harness_assert_problem(r, 401, "unauthenticated", file, line);
  const char *wa = http_header(r, "WWW-Authenticate");
  if (!wa || strncmp(wa, "Bearer", 6) != 0)
    harness_fail_at(file, line, "401 on %s %s without WWW-Authenticate: Bearer (got %s)", r->method, r->path,
                    wa ? wa : "(absent)");
  if (strstr(r->body, g_victim.email) || strstr(r->body, g_admin.email))
    harness_fail_at(file, line, "a 401 carries member data: %s", r->body);
}

/* The sample of routes every forged token is tried on. */
typedef struct route {
  const char *method;
  const char *path; /* may contain one %s: the victim's id */
  const char *body; /* JSON, or NULL */
} route;

static const route g_routes[] = {
    {"GET", "/v1/me", NULL},
    {"PATCH", "/v1/me", "{\"display_name\":\"Forged\"}"},
    {"GET", "/v1/me/export", NULL},
    {"DELETE", "/v1/me", NULL},
    {"GET", "/v1/sites", NULL},
    {"POST", "/v1/sites", "{\"slug\":\"forged-site\",\"name\":\"Forged\",\"organisation\":\"Forged\"}"},
    {"GET", "/v1/members/%s", NULL},
    {"PATCH", "/v1/members/%s", "{\"role\":\"admin\"}"},
    {"GET", "/v1/groups", NULL},
    {"POST", "/v1/groups", "{\"name\":\"Forged group\"}"},
    {"GET", "/v1/consultations", NULL},
    {"GET", "/v1/events", NULL},
    {"POST", "/v1/events", "(a valid event)"},
    {"GET", "/v1/events.ics", NULL},
    {"GET", "/v1/partners", NULL},
    {"GET", "/v1/audit", NULL},
    {"GET", "/v1/summaries/sites", NULL},
};

static http_response *call_route(const route *rt, const char *token) {
  char path[256];
  if (strstr(rt->path, "%s"))
    snprintf(path, sizeof path, "/v1/members/%s", g_victim.id);
  else
    snprintf(path, sizeof path, "%s", rt->path);
  if (rt->body && rt->body[0] == '(') /* a body valid in every respect, so only the token can be wrong */
    return http_json(rt->method, path, token, harness_event_body("seminar", 3 * 86400, 3600, g_site));
  return http_request(rt->method, path, token, rt->body ? "application/json" : NULL, rt->body, NULL);
}

/* token (freed here) is 401 on every route of the sample; a failure lists every route that was not. */
#define expect_rejected_everywhere(token, why) expect_rejected_everywhere_at((token), (why), __FILE__, __LINE__)
static void expect_rejected_everywhere_at(char *token, const char *why, const char *file, int line) {
  char wrong[4096] = "";
  size_t off = 0;
  for (size_t i = 0; i < sizeof g_routes / sizeof g_routes[0]; i++) {
    http_response *r = call_route(&g_routes[i], token);
    if (r->status == 401) {
      expect_401_at(r, file, line);
    } else if (off < sizeof wrong - 200) {
      off += (size_t)snprintf(wrong + off, sizeof wrong - off, "\n    %s %s -> %ld %.60s", g_routes[i].method,
                              g_routes[i].path, r->status, r->body);
    }
    http_response_free(r);
  }
  if (off > 0) {
    print_error("forged token (%s): %s\n", why, token);
    harness_fail_at(file, line, "a forged token (%s) was not refused with 401 on:%s", why, wrong);
  }
  free(token);
}

/* ---------------------------------------------------------------- forged tokens */

static void test_control_token_is_accepted(void **state) {
  (void)state;
  /* The same claims, correctly signed, work: the rejections below are for what each one changes. */
  char *t = sign_hs256(claims_for(g_victim.id, "access"));
  http_response *r = http_get("/v1/me", t);
  assert_status(r, 200);
  assert_json_str(r->json, "id", g_victim.id);
  assert_json_str(r->json, "role", "practitioner"); /* the role claim ("admin") is not believed */
  http_response_free(r);
  free(t);
}

static void test_forged_tokens_on_every_kind_of_route(void **state) {
  (void)state;
  const char *sub = g_victim.id;
  long now = (long)time(NULL);
  json_t *c, *h;

  expect_rejected_everywhere(sign_with("none", "", 0, NULL, claims_for(sub, "access")), "alg none");
  h = json_pack("{s:s}", "alg", "HS256"); /* claims HS256, carries no signature */
  expect_rejected_everywhere(sign_with("none", "", 0, h, claims_for(sub, "access")), "HS256 header, no signature");
  json_decref(h);
  expect_rejected_everywhere(
      sign_with("HS512", HARNESS_JWT_SECRET, HARNESS_JWT_SECRET_LEN, NULL, claims_for(sub, "access")),
      "HS512 with the right secret");
  expect_rejected_everywhere(
      sign_with("HS384", HARNESS_JWT_SECRET, HARNESS_JWT_SECRET_LEN, NULL, claims_for(sub, "access")),
      "HS384 with the right secret");
  expect_rejected_everywhere(
      sign_with("HS256", "0123456789012345678901234567890123456789", 40, NULL, claims_for(sub, "access")),
      "HS256 with a wrong secret");
  expect_rejected_everywhere(
      sign_with("HS256", HARNESS_JWT_SECRET, HARNESS_JWT_SECRET_LEN - 1, NULL, claims_for(sub, "access")),
      "HS256 with a prefix of the secret");
  /* an attacker's own RSA key, announced by URL: the algorithm is pinned and keys are never fetched */
  h = json_pack("{s:s}", "jku", "http://127.0.0.1:1/attacker-jwks.json");
  expect_rejected_everywhere(sign_with("RS256", TEST_ONLY_RSA_PRIVATE_KEY_PEM, strlen(TEST_ONLY_RSA_PRIVATE_KEY_PEM), h,
                                       claims_for(sub, "access")),
                             "RS256 with an attacker key (jku)");
  json_decref(h);
  expect_rejected_everywhere(sign_with("ES256", TEST_ONLY_EC_PRIVATE_KEY_PEM, strlen(TEST_ONLY_EC_PRIVATE_KEY_PEM),
                                       NULL, claims_for(sub, "access")),
                             "ES256");

  c = claims_for(sub, "access");
  json_object_set_new(c, "iat", json_integer(now - 3600));
  json_object_set_new(c, "nbf", json_integer(now - 3600));
  json_object_set_new(c, "exp", json_integer(now - 120));
  expect_rejected_everywhere(sign_hs256(c), "expired");
  c = claims_for(sub, "access");
  json_object_set_new(c, "nbf", json_integer(now + 600));
  expect_rejected_everywhere(sign_hs256(c), "nbf in the future");
  c = claims_for(sub, "access");
  json_object_set_new(c, "iss", json_string("https://evil.example"));
  expect_rejected_everywhere(sign_hs256(c), "wrong iss");
  c = claims_for(sub, "access");
  json_object_set_new(c, "aud", json_string("another-api"));
  expect_rejected_everywhere(sign_hs256(c), "wrong aud");
  c = claims_for(sub, "access");
  json_object_set_new(c, "aud", json_pack("[s]", "another-api"));
  expect_rejected_everywhere(sign_hs256(c), "aud array without ours");
  c = claims_for(sub, "access");
  json_object_del(c, "exp");
  expect_rejected_everywhere(sign_hs256(c), "no exp");
  c = claims_for(sub, "access");
  json_object_del(c, "sub");
  expect_rejected_everywhere(sign_hs256(c), "no sub");
  expect_rejected_everywhere(sign_hs256(claims_for(sub, "refresh")), "typ refresh");
  expect_rejected_everywhere(sign_hs256(claims_for(sub, "id")), "typ id");
  c = claims_for(sub, "access");
  json_object_del(c, "typ");
  expect_rejected_everywhere(sign_hs256(c), "no typ");
  h = json_pack("{s:s}", "kid", "k-unknown");
  expect_rejected_everywhere(
      sign_with("HS256", HARNESS_JWT_SECRET, HARNESS_JWT_SECRET_LEN, h, claims_for(sub, "access")), "unknown kid");
  json_decref(h);

  /* splicing: the victim's header and claims with the signature of a genuine token of someone else */
  char *mine = sign_hs256(claims_for(g_admin.id, "access"));
  char *theirs = sign_hs256(claims_for(sub, "access"));
  char *sig = strrchr(mine, '.');
  char *cut = strrchr(theirs, '.');
  *cut = '\0';
  size_t n = strlen(theirs) + strlen(sig) + 1;
  char *spliced = malloc(n);
  assert_non_null(spliced);
  snprintf(spliced, n, "%s%s", theirs, sig);
  free(mine);
  free(theirs);
  expect_rejected_everywhere(spliced, "spliced signature");

  /* a genuine token with its signature cut short, or with trailing data */
  char *t = sign_hs256(claims_for(sub, "access"));
  t[strlen(t) - 4] = '\0';
  expect_rejected_everywhere(t, "truncated signature");
  t = sign_hs256(claims_for(sub, "access"));
  n = strlen(t) + 8;
  char *longer = malloc(n);
  assert_non_null(longer);
  snprintf(longer, n, "%s.AAAA", t);
  free(t);
  expect_rejected_everywhere(longer, "a fourth segment");
}

/* A correctly signed token whose subject is no member: as invalid as any other (API.md section 3), on
 * every route, reads and writes alike. */
static void test_token_of_unknown_subject(void **state) {
  (void)state;
  expect_rejected_everywhere(sign_hs256(claims_for(UNKNOWN_UUID, "access")), "unknown subject");
}

/* The same for a subject that is no UUID at all (never issued by the server; reaches the database). */
static void test_token_with_malformed_subject(void **state) {
  (void)state;
  expect_rejected_everywhere(sign_hs256(claims_for("' OR 1=1 --", "access")), "SQL in sub");
}

/* Whatever role a validly signed token claims, the server authorises with the stored one. */
static void test_role_claim_is_not_trusted(void **state) {
  (void)state;
  char *t = sign_hs256(claims_for(g_victim.id, "access")); /* role "admin" */
  http_response *r = http_get("/v1/audit", t);
  assert_problem(r, 403);
  http_response_free(r);
  r = http_json("POST", "/v1/sites", t,
                json_pack("{s:s, s:s, s:s}", "slug", "claimed-admin", "name", "Claimed", "organisation", "Claimed"));
  assert_problem(r, 403);
  http_response_free(r);
  r = http_get("/v1/partners", t);
  assert_problem(r, 403);
  http_response_free(r);
  free(t);
}

/* ---------------------------------------------------------------- partner vs member tokens */

static void test_partner_tokens_on_member_routes(void **state) {
  (void)state;
  /* the real partner token, and a forged typ "partner" token for a member */
  json_t *c = claims_for(g_victim.id, "partner");
  json_object_set_new(c, "scope", json_string("events:write"));
  char *as_partner = sign_hs256(c);
  const char *tokens[] = {g_partner.token, as_partner};
  const route member_routes[] = {
      {"GET", "/v1/me", NULL},
      {"GET", "/v1/me/export", NULL},
      {"DELETE", "/v1/me", NULL},
      {"GET", "/v1/sites", NULL},
      {"GET", "/v1/members/%s", NULL},
      {"GET", "/v1/groups", NULL},
      {"POST", "/v1/groups", "{\"name\":\"Partner group\"}"},
      {"GET", "/v1/consultations", NULL},
      {"GET", "/v1/partners", NULL},
      {"GET", "/v1/audit", NULL},
      {"GET", "/v1/summaries/sites", NULL},
  };
  for (int k = 0; k < 2; k++) {
    for (size_t i = 0; i < sizeof member_routes / sizeof member_routes[0]; i++) {
      http_response *r = call_route(&member_routes[i], tokens[k]);
      expect_401(r);
      http_response_free(r);
    }
  }
  /* the forged one is no partner on partner routes either (its subject is a member) */
  http_response *r = http_get("/v1/events", as_partner);
  expect_401(r);
  http_response_free(r);
  free(as_partner);
  /* and the genuine partner token does work where partners belong */
  r = http_get("/v1/events", g_partner.token);
  assert_status(r, 200);
  http_response_free(r);
}

static void test_member_tokens_get_no_partner_powers(void **state) {
  (void)state;
  /* external_id is a partner system's key: a member (even an admin) may not send one */
  json_t *body = harness_event_body("seminar", 3 * 86400, 3600, g_site);
  json_object_set_new(body, "external_id", json_string("member-ext-1"));
  http_response *r = http_json("POST", "/v1/events", g_admin.token, body);
  assert_problem(r, 400);
  assert_error_field(r, "external_id");
  http_response_free(r);
  /* a member access token with a partner scope claim stays a member token: practitioners post no events */
  json_t *c = claims_for(g_victim.id, "access");
  json_object_set_new(c, "scope", json_string("events:write"));
  char *scoped = sign_hs256(c);
  r = http_json("POST", "/v1/events", scoped, harness_event_body("seminar", 3 * 86400, 3600, g_site));
  assert_problem(r, 403);
  http_response_free(r);
  free(scoped);
  /* a member token is no client credential */
  r = http_json("POST", "/v1/auth/token", NULL,
                json_pack("{s:s, s:s, s:s}", "grant_type", "client_credentials", "client_id", g_victim.id,
                          "client_secret", g_victim.token));
  if (r->status != 401 && r->status != 400)
    harness_fail("a member id and token as client credentials: expected 400/401, got %ld %s", r->status, r->body);
  assert_null(hjson_get(r->json, "access_token"));
  http_response_free(r);
}

/* ---------------------------------------------------------------- erased members, revoked partners */

static void test_erased_member_tokens_stop_working(void **state) {
  (void)state;
  harness_account m;
  harness_new_member(g_admin.token, "practitioner", g_site, &m); /* real login: access and refresh tokens */
  http_response *r = http_get("/v1/me", m.token);
  assert_status(r, 200);
  http_response_free(r);
  r = http_request("DELETE", hpath("/v1/members/%s", m.id), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);

  /* the access token issued before, and a freshly forged one for the same subject */
  char *fresh = sign_hs256(claims_for(m.id, "access"));
  const char *tokens[] = {m.token, fresh};
  for (int k = 0; k < 2; k++) {
    const route rs[] = {{"GET", "/v1/me", NULL},
                        {"GET", "/v1/me/export", NULL},
                        {"GET", "/v1/sites", NULL},
                        {"GET", "/v1/groups", NULL},
                        {"GET", "/v1/events", NULL}};
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) {
      r = call_route(&rs[i], tokens[k]);
      expect_401(r);
      http_response_free(r);
    }
  }
  free(fresh);
  r = http_json("POST", "/v1/auth/refresh", NULL, json_pack("{s:s}", "refresh_token", m.refresh));
  assert_problem(r, 401);
  assert_null(hjson_get(r->json, "access_token"));
  http_response_free(r);
}

static void test_revoked_partner_tokens_stop_working(void **state) {
  (void)state;
  harness_partner p;
  harness_new_partner(g_admin.token, false, &p);
  http_response *r = http_get("/v1/events", p.token);
  assert_status(r, 200);
  http_response_free(r);
  r = http_request("DELETE", hpath("/v1/partners/%s", p.id), g_admin.token, NULL, NULL, NULL);
  if (r->status != 204 && r->status != 200)
    harness_fail("revoking a partner: expected 204, got %ld %s", r->status, r->body);
  http_response_free(r);
  r = http_get("/v1/events", p.token);
  expect_401(r);
  http_response_free(r);
  r = http_json("POST", "/v1/events", p.token, harness_event_body("seminar", 3 * 86400, 3600, g_site));
  expect_401(r);
  http_response_free(r);
  /* nor can it get a new token */
  harness_use_unique_source_address();
  r = harness_partner_token_request(p.client_id, p.client_secret);
  assert_problem(r, 401);
  assert_null(hjson_get(r->json, "access_token"));
  http_response_free(r);
  /* a forged partner token for the revoked partner is refused too */
  json_t *c = claims_for(p.id, "partner");
  json_object_set_new(c, "scope", json_string("events:write"));
  char *t = sign_hs256(c);
  r = http_get("/v1/events", t);
  expect_401(r);
  http_response_free(r);
  free(t);
}

/* ---------------------------------------------------------------- malformed Authorization */

static void test_malformed_authorization_headers(void **state) {
  (void)state;
  char *valid = sign_hs256(claims_for(g_victim.id, "access"));
  char basic[256], two_tokens[HARNESS_TOKEN_MAX * 2 + 64], two_bearers[HARNESS_TOKEN_MAX * 2 + 64],
      lower[HARNESS_TOKEN_MAX + 64], no_scheme[HARNESS_TOKEN_MAX + 64], quoted[HARNESS_TOKEN_MAX + 64];
  char *cred = harness_base64url(g_admin.email, strlen(g_admin.email));
  snprintf(basic, sizeof basic, "Authorization: Basic %s", cred);
  free(cred);
  snprintf(two_tokens, sizeof two_tokens, "Authorization: Bearer %s %s", valid, valid);
  snprintf(two_bearers, sizeof two_bearers, "Authorization: Bearer %s, Bearer %s", valid, valid);
  snprintf(no_scheme, sizeof no_scheme, "Authorization: %s", valid);
  snprintf(quoted, sizeof quoted, "Authorization: Bearer \"%s\"", valid);
  const char *bad[] = {basic,
                       "Authorization: Bearer",
                       "Authorization: Bearer ",
                       "Authorization: Bearer    ",
                       "Authorization: Bearer .",
                       "Authorization: Bearer ..",
                       "Authorization: Bearer a.b.c",
                       "Authorization: Bearer null",
                       "Authorization: Token abc",
                       "Authorization: Digest username=\"admin\"",
                       two_tokens,
                       two_bearers,
                       no_scheme,
                       quoted};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *const h[] = {bad[i], NULL};
    http_response *r = http_get_with_headers("/v1/me", NULL, h);
    if (r->status != 401)
      print_error("Authorization header accepted: %.80s...\n", bad[i]);
    expect_401(r);
    http_response_free(r);
  }
  /* the scheme is case-insensitive (RFC 9110), so this one works: it proves the token itself is fine */
  snprintf(lower, sizeof lower, "Authorization: bearer %s", valid);
  const char *const ok[] = {lower, NULL};
  http_response *r = http_get_with_headers("/v1/me", NULL, ok);
  assert_status(r, 200);
  http_response_free(r);
  /* a token is never taken from the query string or a cookie */
  r = http_get(hpath("/v1/me?access_token=%s", valid), NULL);
  expect_401(r);
  http_response_free(r);
  char cookie[HARNESS_TOKEN_MAX + 64];
  snprintf(cookie, sizeof cookie, "Cookie: access_token=%s; token=%s", valid, valid);
  const char *const ch[] = {cookie, NULL};
  r = http_get_with_headers("/v1/me", NULL, ch);
  expect_401(r);
  http_response_free(r);
  /* an oversized token is refused without trouble, and the server lives on */
  size_t big = 64 * 1024;
  char *huge = malloc(big + 32);
  assert_non_null(huge);
  strcpy(huge, "Authorization: Bearer ");
  memset(huge + strlen(huge), 'A', big);
  huge[22 + big] = '\0';
  const char *const hh[] = {huge, NULL};
  harness_exchange_log_pause(true); /* the HTTP layer's 431 is not the API's to document */
  r = http_get_with_headers("/v1/me", NULL, hh);
  harness_exchange_log_pause(false);
  if (r->status != 401 && r->status != 431 && r->status != 400 && r->status != 413)
    harness_fail("a 64 KiB bearer token: expected 401 (or 400/413/431), got %ld", r->status);
  http_response_free(r);
  free(huge);
  r = http_get("/v1/me", valid);
  assert_status(r, 200);
  http_response_free(r);
  free(valid);
}

/* Two Authorization header fields: the request is ambiguous and must not authenticate as either. */
static void test_two_authorization_fields(void **state) {
  (void)state;
  char *valid = sign_hs256(claims_for(g_victim.id, "access"));
  char a[HARNESS_TOKEN_MAX + 64];
  snprintf(a, sizeof a, "Authorization: Bearer %s", valid);
  const char *const valid_then_garbage[] = {a, "Authorization: Bearer garbage.garbage.garbage", NULL};
  const char *const garbage_then_valid[] = {"Authorization: Bearer garbage.garbage.garbage", a, NULL};
  const char *const *cases[] = {valid_then_garbage, garbage_then_valid};
  for (int i = 0; i < 2; i++) {
    http_response *r = http_get_with_headers("/v1/me", NULL, cases[i]);
    if (r->status / 100 == 2)
      harness_fail("two Authorization fields (%s first) authenticated the request: %ld %s",
                   i == 0 ? "valid" : "garbage", r->status, r->body);
    if (r->status != 400 && r->status != 401)
      harness_fail("two Authorization fields: expected 400 or 401, got %ld", r->status);
    http_response_free(r);
  }
  free(valid);
}

/* ---------------------------------------------------------------- HS/RS confusion */

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f)
    harness_fail("cannot write %s: %s", path, strerror(errno));
  fputs(text, f);
  fclose(f);
}

static void test_hs_rs_confusion(void **state) {
  (void)state;
  snprintf(g_keydir, sizeof g_keydir, "/tmp/forumnet-e2e-keys-XXXXXX");
  if (!mkdtemp(g_keydir))
    harness_fail("mkdtemp: %s", strerror(errno));
  chmod(g_keydir, 0755);
  char priv[128], pub[128], env_priv[160], env_pub[160];
  snprintf(priv, sizeof priv, "%s/private.pem", g_keydir);
  snprintf(pub, sizeof pub, "%s/public.pem", g_keydir);
  write_file(priv, TEST_ONLY_RSA_PRIVATE_KEY_PEM);
  write_file(pub, TEST_ONLY_RSA_PUBLIC_KEY_PEM);
  snprintf(env_priv, sizeof env_priv, "FORUMNET_JWT_PRIVATE_KEY_FILE=%s", priv);
  snprintf(env_pub, sizeof env_pub, "FORUMNET_JWT_PUBLIC_KEY_FILE=%s", pub);
  const char *const env[] = {"FORUMNET_JWT_ALG=RS256", env_priv, env_pub, NULL};
  harness_server_start(env);

  /* logging in works and gives an RS256 token the server accepts */
  char token[HARNESS_TOKEN_MAX];
  harness_login(g_admin.email, g_admin.password, token, NULL);
  char *dot = strchr(token, '.');
  assert_non_null(dot);
  char header_b64[256];
  snprintf(header_b64, sizeof header_b64, "%.*s", (int)(dot - token), token);
  http_response *r = http_get("/v1/me", token);
  assert_status(r, 200);
  assert_json_str(r->json, "id", g_admin.id);
  http_response_free(r);
  /* ... and a token we sign with the private key is accepted: the forgeries below differ only in their key */
  char *control = sign_with("RS256", TEST_ONLY_RSA_PRIVATE_KEY_PEM, strlen(TEST_ONLY_RSA_PRIVATE_KEY_PEM), NULL,
                            claims_for(g_admin.id, "access"));
  r = http_get("/v1/me", control);
  assert_status(r, 200);
  http_response_free(r);
  free(control);

  /* the classic confusion: HS256 keyed with the public key PEM (what a naive verifier would use) */
  const char *pem = TEST_ONLY_RSA_PUBLIC_KEY_PEM;
  char *forged = sign_with("HS256", pem, strlen(pem), NULL, claims_for(g_admin.id, "access"));
  r = http_get("/v1/me", forged);
  if (r->status != 401)
    print_error("HS256 keyed with the RS256 public key was accepted: %s\n", forged);
  expect_401(r);
  http_response_free(r);
  r = http_get("/v1/audit", forged);
  expect_401(r);
  http_response_free(r);
  free(forged);
  /* the same without the PEM's trailing newline, and keyed with the DER body only */
  forged = sign_with("HS256", pem, strlen(pem) - 1, NULL, claims_for(g_admin.id, "access"));
  r = http_get("/v1/me", forged);
  expect_401(r);
  http_response_free(r);
  free(forged);
  /* the HS256 secret the other servers use, alg none, and HS512 with the PEM */
  forged = sign_hs256(claims_for(g_admin.id, "access"));
  r = http_get("/v1/me", forged);
  expect_401(r);
  http_response_free(r);
  free(forged);
  forged = sign_with("none", "", 0, NULL, claims_for(g_admin.id, "access"));
  r = http_get("/v1/me", forged);
  expect_401(r);
  http_response_free(r);
  free(forged);
  forged = sign_with("HS512", pem, strlen(pem), NULL, claims_for(g_admin.id, "access"));
  r = http_get("/v1/me", forged);
  expect_401(r);
  http_response_free(r);
  free(forged);
  /* RS256 signed with the right key but for another audience */
  json_t *c = claims_for(g_admin.id, "access");
  json_object_set_new(c, "aud", json_string("another-api"));
  forged = sign_with("RS256", TEST_ONLY_RSA_PRIVATE_KEY_PEM, strlen(TEST_ONLY_RSA_PRIVATE_KEY_PEM), NULL, c);
  r = http_get("/v1/me", forged);
  expect_401(r);
  http_response_free(r);
  free(forged);

  harness_server_stop();
  remove_keydir();

  /* and the RS256 server's genuine token means nothing to the HS256 server */
  r = http_get("/v1/me", token);
  expect_401(r);
  http_response_free(r);
}

/* ---------------------------------------------------------------- brute force */

static void test_brute_force_login_is_429(void **state) {
  (void)state;
  harness_use_unique_source_address();
  harness_account m;
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &m);
  char unknown[HARNESS_EMAIL_MAX];
  harness_unique_email("nobody", unknown);
  const char *emails[] = {m.email, unknown};
  for (int k = 0; k < 2; k++) {
    bool limited = false;
    for (int i = 0; i < 12 && !limited; i++) {
      http_response *r = http_json("POST", "/v1/auth/login", NULL,
                                   json_pack("{s:s, s:s}", "email", emails[k], "password", "guess-number-xxxxxxxx"));
      if (r->status == 429) {
        assert_problem(r, 429);
        const char *ra = http_header(r, "Retry-After");
        if (!ra || atol(ra) <= 0)
          harness_fail("429 without a positive Retry-After (got %s)", ra ? ra : "(absent)");
        if (i < 5)
          harness_fail("rate limited after only %d failures", i);
        limited = true;
      } else {
        assert_problem(r, 401);
      }
      http_response_free(r);
    }
    if (!limited)
      harness_fail("12 wrong passwords for %s were never answered 429", emails[k]);
  }
  /* while locked, even the right password is refused: the lock is no oracle */
  http_response *r =
      http_json("POST", "/v1/auth/login", NULL, json_pack("{s:s, s:s}", "email", m.email, "password", m.password));
  assert_problem(r, 429);
  assert_null(hjson_get(r->json, "access_token"));
  http_response_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_control_token_is_accepted, harness_reset_source_address, test_teardown),
      cmocka_unit_test_setup_teardown(test_forged_tokens_on_every_kind_of_route, harness_reset_source_address,
                                      test_teardown),
      cmocka_unit_test_setup_teardown(test_token_of_unknown_subject, harness_reset_source_address, test_teardown),
      cmocka_unit_test_setup_teardown(test_token_with_malformed_subject, harness_reset_source_address, test_teardown),
      cmocka_unit_test_setup_teardown(test_role_claim_is_not_trusted, harness_reset_source_address, test_teardown),
      cmocka_unit_test_setup_teardown(test_partner_tokens_on_member_routes, harness_reset_source_address,
                                      test_teardown),
      cmocka_unit_test_setup_teardown(test_member_tokens_get_no_partner_powers, harness_reset_source_address,
                                      test_teardown),
      cmocka_unit_test_setup_teardown(test_erased_member_tokens_stop_working, harness_reset_source_address,
                                      test_teardown),
      cmocka_unit_test_setup_teardown(test_revoked_partner_tokens_stop_working, harness_reset_source_address,
                                      test_teardown),
      cmocka_unit_test_setup_teardown(test_malformed_authorization_headers, harness_reset_source_address,
                                      test_teardown),
      cmocka_unit_test_setup_teardown(test_two_authorization_fields, harness_reset_source_address, test_teardown),
      cmocka_unit_test_setup_teardown(test_hs_rs_confusion, harness_reset_source_address, test_teardown),
      cmocka_unit_test_setup_teardown(test_brute_force_login_is_429, harness_reset_source_address, test_teardown),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
