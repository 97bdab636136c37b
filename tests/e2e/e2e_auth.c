/*
 * e2e_auth.c — API.md section 3 against the real server: login, refresh-token rotation and
 * reuse revocation, logout, login rate limiting (per email and per client address), access
 * token verification (forged tokens of every kind), GET/PATCH /v1/me with password change,
 * conditional requests on /v1/me, and suspended accounts.
 *
 * The group's server runs with FORUMNET_LOGIN_MAX_FAILURES=5.  Tests that provoke login
 * failures send them from their own loopback address, so per-address counting never mixes
 * tests.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static harness_account g_admin;
static char g_site[HARNESS_ID_MAX];

static int group_setup(void **state) {
  (void)state;
  static const char *const env[] = {"FORUMNET_LOGIN_MAX_FAILURES=5", NULL};
  harness_suite_start(env, &g_admin);
  harness_new_site_id(g_admin.token, g_site);
  return 0;
}

/* Stops a test's own nested server if the test failed before stopping it. */
static int test_teardown_nested(void **state) {
  (void)state;
  harness_set_source_address(NULL);
  while (harness_server_depth() > 1)
    harness_server_stop();
  return 0;
}

static http_response *logout(const char *refresh_token) {
  return http_json("POST", "/v1/auth/logout", NULL, json_pack("{s:s}", "refresh_token", refresh_token));
}

static void expect_unauthenticated(http_response *r) {
  assert_problem_type(r, 401, "unauthenticated");
  const char *wa = http_header(r, "WWW-Authenticate");
  if (!wa || strncmp(wa, "Bearer", 6) != 0)
    harness_fail("401 on %s %s should carry WWW-Authenticate: Bearer, got %s", r->method, r->path,
                 wa ? wa : "(absent)");
}

/* Checks the shape shared by login and refresh answers for the member with id member_id. */
static void expect_token_pair(http_response *r, const char *member_id) {
  assert_status(r, 200);
  assert_json_str(r->json, "token_type", "Bearer");
  assert_json_int(r->json, "expires_in", 900);
  const char *access = hjson_str(r->json, "access_token");
  const char *refresh_token = hjson_str(r->json, "refresh_token");
  assert_non_null(access);
  assert_non_null(refresh_token);
  assert_true(strlen(refresh_token) >= 16);
  assert_json_str(r->json, "member.id", member_id);
  if (strstr(r->body, "password_hash") || strstr(r->body, "$argon2"))
    harness_fail("a token answer contains password material: %s", r->body);
}

/* ---------------------------------------------------------------- login */

static void test_login_success_shape(void **state) {
  (void)state;
  char email[HARNESS_EMAIL_MAX], password[HARNESS_PASSWORD_MAX];
  harness_create_admin(email, password);
  http_response *r = harness_login_request(email, password);
  assert_status(r, 200);
  const char *id = hjson_str(r->json, "member.id");
  assert_true(harness_is_uuid(id));
  expect_token_pair(r, id);
  assert_json_str(r->json, "member.email", email);
  assert_json_str(r->json, "member.role", "admin");
  assert_json_str(r->json, "member.status", "active");
  assert_json_str(r->json, "member.display_name", "Admin X");
  assert_true(json_is_integer(hjson_get(r->json, "member.version")));
  assert_non_null(hjson_str(r->json, "member.created_at"));
  const char *keys[] = {"discipline", "home_site_id"};
  for (size_t i = 0; i < 2; i++)
    if (!hjson_get(r->json, hpath("member.%s", keys[i])))
      harness_fail("member lacks \"%s\"", keys[i]);

  /* The access token is the documented HS256 JWT. */
  json_t *header = NULL;
  json_t *claims = harness_jwt_decode(hjson_str(r->json, "access_token"), &header);
  if (!claims)
    harness_fail("the access token does not verify as HS256 with the configured secret");
  assert_json_str(header, "alg", "HS256");
  assert_json_str(header, "kid", "k1");
  assert_json_str(claims, "iss", "forumnet");
  assert_json_str(claims, "aud", "forumnet-api");
  assert_json_str(claims, "sub", id);
  assert_json_str(claims, "typ", "access");
  assert_json_str(claims, "role", "admin");
  assert_non_null(hjson_str(claims, "jti"));
  json_int_t iat = harness_json_int_at(claims, "iat", __FILE__, __LINE__);
  json_int_t exp = harness_json_int_at(claims, "exp", __FILE__, __LINE__);
  assert_int_equal(exp - iat, 900);
  long now = (long)time(NULL);
  assert_true(iat >= now - 60 && iat <= now + 60);
  json_decref(claims);
  json_decref(header);
  http_response_free(r);
}

static void test_login_email_is_case_insensitive(void **state) {
  (void)state;
  char email[HARNESS_EMAIL_MAX], password[HARNESS_PASSWORD_MAX];
  harness_create_admin(email, password);
  char upper[HARNESS_EMAIL_MAX];
  snprintf(upper, sizeof upper, "%s", email);
  for (char *p = upper; *p; p++)
    if (*p >= 'a' && *p <= 'z')
      *p = (char)(*p - 'a' + 'A');
  http_response *r = harness_login_request(upper, password);
  assert_status(r, 200);
  http_response_free(r);
}

static void test_login_failures_are_indistinguishable(void **state) {
  (void)state;
  harness_use_unique_source_address();
  char email[HARNESS_EMAIL_MAX], password[HARNESS_PASSWORD_MAX], unknown[HARNESS_EMAIL_MAX];
  harness_create_admin(email, password);
  harness_unique_email("nobody", unknown);

  http_response *wrong = harness_login_request(email, "definitely-not-the-password");
  http_response *nobody = harness_login_request(unknown, "definitely-not-the-password");
  assert_problem_type(wrong, 401, "unauthenticated");
  assert_problem_type(nobody, 401, "unauthenticated");
  assert_json_str(wrong->json, "detail", "Invalid email or password.");
  /* Identical apart from the request id. */
  json_t *a = json_deep_copy(wrong->json), *b = json_deep_copy(nobody->json);
  json_object_del(a, "request_id");
  json_object_del(b, "request_id");
  if (!json_equal(a, b))
    harness_fail("wrong password and unknown email answers differ:\n  %s\n  %s", wrong->body, nobody->body);
  assert_string_equal(http_header(wrong, "Content-Type"), http_header(nobody, "Content-Type"));
  json_decref(a);
  json_decref(b);
  http_response_free(wrong);
  http_response_free(nobody);
}

static void test_login_body_is_validated(void **state) {
  (void)state;
  http_response *r =
      http_json("POST", "/v1/auth/login", NULL,
                json_pack("{s:s, s:s, s:b}", "email", g_admin.email, "password", g_admin.password, "remember_me", 1));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "remember_me");
  http_response_free(r);

  r = http_json("POST", "/v1/auth/login", NULL, json_pack("{s:s}", "email", g_admin.email));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "password");
  http_response_free(r);

  r = http_json("POST", "/v1/auth/login", NULL, json_pack("{s:s}", "password", g_admin.password));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "email");
  http_response_free(r);

  r = http_json("POST", "/v1/auth/login", NULL, json_pack("{s:s, s:i}", "email", g_admin.email, "password", 123));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "password");
  http_response_free(r);

  r = http_request("POST", "/v1/auth/login", NULL, "text/plain", "{}", NULL);
  assert_problem_type(r, 415, "unsupported-media-type");
  http_response_free(r);
}

/* ---------------------------------------------------------------- refresh & logout */

static void test_refresh_rotates_and_reuse_revokes_the_chain(void **state) {
  (void)state;
  harness_account m;
  harness_new_member(g_admin.token, "practitioner", g_site, &m);

  http_response *r = harness_refresh_request(m.refresh);
  expect_token_pair(r, m.id);
  char access2[HARNESS_TOKEN_MAX], refresh2[HARNESS_TOKEN_MAX];
  snprintf(access2, sizeof access2, "%s", hjson_str(r->json, "access_token"));
  snprintf(refresh2, sizeof refresh2, "%s", hjson_str(r->json, "refresh_token"));
  assert_string_not_equal(refresh2, m.refresh);
  http_response_free(r);

  /* The new access token works. */
  r = http_get("/v1/me", access2);
  assert_status(r, 200);
  assert_json_str(r->json, "id", m.id);
  http_response_free(r);

  /* Reusing the spent token fails... */
  r = harness_refresh_request(m.refresh);
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);
  /* ...and revoked the chain: the newest token is dead too. */
  r = harness_refresh_request(refresh2);
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);

  /* A fresh login starts a new, working chain. */
  harness_relogin(&m);
  r = harness_refresh_request(m.refresh);
  assert_status(r, 200);
  http_response_free(r);
}

static void test_refresh_rejects_garbage(void **state) {
  (void)state;
  http_response *r = harness_refresh_request("not-a-refresh-token");
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);
  /* An access token is not a refresh token. */
  r = harness_refresh_request(g_admin.token);
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);
  r = http_json("POST", "/v1/auth/refresh", NULL, json_object());
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "refresh_token");
  http_response_free(r);
  r = http_json("POST", "/v1/auth/refresh", NULL, json_pack("{s:s, s:s}", "refresh_token", "x", "extra", "y"));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "extra");
  http_response_free(r);
}

static void test_logout_revokes(void **state) {
  (void)state;
  harness_account m;
  harness_new_member(g_admin.token, "practitioner", g_site, &m);

  /* Rotate once, then log out with the newest token: the chain is gone. */
  http_response *r = harness_refresh_request(m.refresh);
  assert_status(r, 200);
  char refresh2[HARNESS_TOKEN_MAX];
  snprintf(refresh2, sizeof refresh2, "%s", hjson_str(r->json, "refresh_token"));
  http_response_free(r);

  r = logout(refresh2);
  assert_status(r, 204);
  assert_int_equal(r->body_len, 0);
  http_response_free(r);
  r = harness_refresh_request(refresh2);
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);

  /* Logging out twice, or with an unknown token, is still 204. */
  r = logout(refresh2);
  assert_status(r, 204);
  http_response_free(r);
  r = logout("never-issued-token");
  assert_status(r, 204);
  http_response_free(r);

  /* Logout of one session leaves another session alone. */
  char ra[HARNESS_TOKEN_MAX], rb[HARNESS_TOKEN_MAX];
  harness_login(m.email, m.password, NULL, ra);
  harness_login(m.email, m.password, NULL, rb);
  r = logout(ra);
  assert_status(r, 204);
  http_response_free(r);
  r = harness_refresh_request(rb);
  assert_status(r, 200);
  http_response_free(r);
}

/* ---------------------------------------------------------------- rate limiting */

static void test_brute_force_locks_the_email(void **state) {
  (void)state;
  harness_use_unique_source_address();
  char email[HARNESS_EMAIL_MAX], password[HARNESS_PASSWORD_MAX];
  harness_create_admin(email, password);
  for (int i = 0; i < 5; i++) {
    http_response *r = harness_login_request(email, "wrong-password-123");
    if (r->status != 401)
      harness_fail("wrong password attempt %d should be 401, got %ld", i + 1, r->status);
    http_response_free(r);
  }
  /* Even the right password is refused now. */
  http_response *r = harness_login_request(email, password);
  assert_problem_type(r, 429, "rate-limited");
  const char *ra = http_header(r, "Retry-After");
  if (!ra || atol(ra) < 1 || atol(ra) > 900)
    harness_fail("429 should carry Retry-After seconds within the 900 s window, got %s", ra ? ra : "(absent)");
  http_response_free(r);

  /* Counted per lower-cased email. */
  char upper[HARNESS_EMAIL_MAX];
  snprintf(upper, sizeof upper, "%s", email);
  upper[0] = (char)(upper[0] - 'a' + 'A');
  r = harness_login_request(upper, password);
  assert_problem_type(r, 429, "rate-limited");
  http_response_free(r);

  /* From another address too: it is the email that is locked. */
  harness_use_unique_source_address();
  r = harness_login_request(email, password);
  assert_problem_type(r, 429, "rate-limited");
  http_response_free(r);

  /* Other accounts are unaffected. */
  char email2[HARNESS_EMAIL_MAX], password2[HARNESS_PASSWORD_MAX];
  harness_create_admin(email2, password2);
  r = harness_login_request(email2, password2);
  assert_status(r, 200);
  http_response_free(r);
}

static void test_successful_login_clears_the_counter(void **state) {
  (void)state;
  harness_use_unique_source_address();
  char email[HARNESS_EMAIL_MAX], password[HARNESS_PASSWORD_MAX];
  harness_create_admin(email, password);
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 4; i++) {
      http_response *r = harness_login_request(email, "wrong-password-123");
      assert_status(r, 401);
      http_response_free(r);
    }
    http_response *r = harness_login_request(email, password);
    if (r->status != 200)
      harness_fail("round %d: 4 failures then the right password should log in (the counter resets on success)",
                   round + 1);
    http_response_free(r);
  }
}

static void test_per_address_limit(void **state) {
  (void)state;
  static const char *const env[] = {"FORUMNET_LOGIN_MAX_FAILURES=5", "FORUMNET_LOGIN_MAX_FAILURES_PER_ADDRESS=3", NULL};
  harness_server_start(env);
  /* Failure counters may outlive a server (they can live in the shared database), so every
   * address this test uses is its own, including the one the fixture logs in from. */
  harness_use_unique_source_address();
  char email[HARNESS_EMAIL_MAX], password[HARNESS_PASSWORD_MAX];
  harness_create_admin(email, password);

  const char *addr = harness_use_unique_source_address();
  for (int i = 0; i < 3; i++) {
    char unknown[HARNESS_EMAIL_MAX];
    harness_unique_email("nobody", unknown);
    http_response *r = harness_login_request(unknown, "wrong-password-123");
    if (r->status != 401)
      harness_fail("failure %d from %s should be 401, got %ld", i + 1, addr, r->status);
    http_response_free(r);
  }
  char unknown[HARNESS_EMAIL_MAX];
  harness_unique_email("nobody", unknown);
  http_response *r = harness_login_request(unknown, "wrong-password-123");
  assert_problem_type(r, 429, "rate-limited");
  assert_non_null(http_header(r, "Retry-After"));
  assert_true(atol(http_header(r, "Retry-After")) >= 1);
  http_response_free(r);

  /* Another client address is not limited. */
  harness_use_unique_source_address();
  r = harness_login_request(email, password);
  assert_status(r, 200);
  http_response_free(r);

  harness_set_source_address(NULL);
  harness_server_stop();
}

/* ---------------------------------------------------------------- access tokens */

static void test_missing_or_malformed_authorization(void **state) {
  (void)state;
  http_response *r = http_get("/v1/me", NULL);
  expect_unauthenticated(r);
  http_response_free(r);

  const char *bad[] = {"Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Bearer",
                       "Authorization: Bearer not.a.jwt", "Authorization: Bearer abc", "Authorization: Token abc"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *const h[] = {bad[i], NULL};
    r = http_get_with_headers("/v1/me", NULL, h);
    expect_unauthenticated(r);
    http_response_free(r);
  }
  r = http_get("/v1/sites", NULL);
  expect_unauthenticated(r);
  http_response_free(r);
  r = http_get("/v1/members", NULL);
  expect_unauthenticated(r);
  http_response_free(r);
}

/* The claims of a token the server should accept for member sub. */
/* Without iat_ms: the server then takes the start of the iat second as the issue time. */
static json_t *good_claims(const char *sub) {
  long now = (long)time(NULL);
  return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "iss", "forumnet", "aud", "forumnet-api", "sub", sub, "typ",
                   "access", "iat", (json_int_t)now, "exp", (json_int_t)(now + 300));
}

static char *sign(const char *alg, const char *secret, const char *kid, json_t *claims) {
  json_t *header = kid ? json_pack("{s:s}", "kid", kid) : json_object();
  char *t = harness_jwt_sign(alg, secret, strlen(secret), header, claims);
  json_decref(header);
  json_decref(claims);
  return t;
}

static void expect_token_rejected(char *token, const char *why) {
  http_response *r = http_get("/v1/me", token);
  if (r->status != 401)
    print_error("forged token accepted (%s): %s\n", why, token);
  expect_unauthenticated(r);
  http_response_free(r);
  free(token);
}

static void test_forged_control_token_is_accepted(void **state) {
  (void)state;
  /* Proves the rejections below fail for the reason they state, not for the forging itself.
   * These tokens carry no iat_ms, so they count as issued at the start of their iat second; a token
   * issued before the member's last credential change is rejected.  Within the 30 s leeway an
   * expired token still works, and the one below is issued 11 s ago: wait until the admin's
   * credentials are at least 12 s old, so neither token predates them. */
  char q[256];
  snprintf(q, sizeof q,
           "SELECT floor(extract(epoch FROM clock_timestamp() - credentials_changed_at)) FROM members"
           " WHERE id = '%s'",
           g_admin.id);
  long age = harness_psql_long(q);
  if (age < 12)
    harness_sleep_ms((int)(12 - age) * 1000);
  char *t = sign("HS256", HARNESS_JWT_SECRET, "k1", good_claims(g_admin.id));
  http_response *r = http_get("/v1/me", t);
  assert_status(r, 200);
  assert_json_str(r->json, "id", g_admin.id);
  http_response_free(r);
  free(t);

  /* Within the 30 s leeway an expired token still works. */
  json_t *c = good_claims(g_admin.id);
  json_object_set_new(c, "iat", json_integer((json_int_t)time(NULL) - 11));
  json_object_set_new(c, "exp", json_integer((json_int_t)time(NULL) - 10));
  t = sign("HS256", HARNESS_JWT_SECRET, "k1", c);
  r = http_get("/v1/me", t);
  assert_status(r, 200);
  http_response_free(r);
  free(t);
}

static void test_forged_tokens_are_rejected(void **state) {
  (void)state;
  const char *sub = g_admin.id;
  long now = (long)time(NULL);
  json_t *c;

  expect_token_rejected(sign("none", "", "k1", good_claims(sub)), "alg none");
  {
    /* alg none with something in the signature part, and other spellings of none. */
    char *none = sign("none", "", "k1", good_claims(sub));
    size_t len = strlen(none) + 8;
    char *with_sig = malloc(len);
    assert_non_null(with_sig);
    snprintf(with_sig, len, "%sAAAA", none);
    free(none);
    expect_token_rejected(with_sig, "alg none with a signature part");
    const char *spellings[] = {"None", "NONE", ""};
    for (int i = 0; i < 3; i++) {
      json_t *header = json_pack("{s:s, s:s}", "kid", "k1", "alg", spellings[i]);
      json_t *claims = good_claims(sub);
      char *t = harness_jwt_sign("none", "", 0, header, claims);
      json_decref(header);
      json_decref(claims);
      expect_token_rejected(t, "alg none spelled differently");
    }
  }
  expect_token_rejected(sign("HS512", HARNESS_JWT_SECRET, "k1", good_claims(sub)), "HS512 with the right secret");
  expect_token_rejected(sign("HS384", HARNESS_JWT_SECRET, "k1", good_claims(sub)), "HS384 with the right secret");
  expect_token_rejected(sign("HS256", "a-completely-different-secret-of-40-byte", "k1", good_claims(sub)),
                        "HS256 with a wrong secret");

  c = good_claims(sub);
  json_object_set_new(c, "iat", json_integer(now - 1000));
  json_object_set_new(c, "exp", json_integer(now - 120));
  expect_token_rejected(sign("HS256", HARNESS_JWT_SECRET, "k1", c), "expired 120 s ago");

  c = good_claims(sub);
  json_object_set_new(c, "nbf", json_integer(now + 120));
  expect_token_rejected(sign("HS256", HARNESS_JWT_SECRET, "k1", c), "nbf 120 s in the future");

  c = good_claims(sub);
  json_object_set_new(c, "iat", json_integer(now + 3600));
  json_object_set_new(c, "exp", json_integer(now + 4000));
  expect_token_rejected(sign("HS256", HARNESS_JWT_SECRET, "k1", c), "iat an hour in the future");

  c = good_claims(sub);
  json_object_set_new(c, "iat_ms", json_integer((json_int_t)(now - 5) * 1000));
  expect_token_rejected(sign("HS256", HARNESS_JWT_SECRET, "k1", c), "iat_ms disagreeing with iat");

  c = good_claims(sub);
  json_object_set_new(c, "iat_ms", json_string("now"));
  expect_token_rejected(sign("HS256", HARNESS_JWT_SECRET, "k1", c), "iat_ms not an integer");

  c = good_claims(sub);
  json_object_set_new(c, "iss", json_string("someone-else"));
  expect_token_rejected(sign("HS256", HARNESS_JWT_SECRET, "k1", c), "wrong iss");

  c = good_claims(sub);
  json_object_set_new(c, "aud", json_string("another-api"));
  expect_token_rejected(sign("HS256", HARNESS_JWT_SECRET, "k1", c), "wrong aud");

  c = good_claims(sub);
  json_object_del(c, "exp");
  expect_token_rejected(sign("HS256", HARNESS_JWT_SECRET, "k1", c), "missing exp");

  c = good_claims(sub);
  json_object_del(c, "iat");
  expect_token_rejected(sign("HS256", HARNESS_JWT_SECRET, "k1", c), "missing iat");

  c = good_claims(sub);
  json_object_del(c, "sub");
  expect_token_rejected(sign("HS256", HARNESS_JWT_SECRET, "k1", c), "missing sub");

  c = good_claims(sub);
  json_object_del(c, "iss");
  expect_token_rejected(sign("HS256", HARNESS_JWT_SECRET, "k1", c), "missing iss");

  c = good_claims(sub);
  json_object_del(c, "aud");
  expect_token_rejected(sign("HS256", HARNESS_JWT_SECRET, "k1", c), "missing aud");

  c = good_claims(sub);
  json_object_set_new(c, "typ", json_string("partner"));
  expect_token_rejected(sign("HS256", HARNESS_JWT_SECRET, "k1", c), "typ partner");

  c = good_claims(sub);
  json_object_del(c, "typ");
  expect_token_rejected(sign("HS256", HARNESS_JWT_SECRET, "k1", c), "missing typ");

  expect_token_rejected(sign("HS256", HARNESS_JWT_SECRET, "k9", good_claims(sub)), "unknown kid");

  expect_token_rejected(sign("HS256", HARNESS_JWT_SECRET, "k1", good_claims("00000000-0000-4000-8000-000000000000")),
                        "sub of no member");

  /* A genuine token with one signature character changed. */
  char *t = sign("HS256", HARNESS_JWT_SECRET, "k1", good_claims(sub));
  char *sig = strrchr(t, '.') + 1;
  sig[5] = sig[5] == 'A' ? 'B' : 'A';
  expect_token_rejected(t, "tampered signature");

  /* A genuine token with its payload swapped for another member's (signature kept). */
  harness_account other;
  harness_new_member(g_admin.token, "practitioner", g_site, &other);
  t = sign("HS256", HARNESS_JWT_SECRET, "k1", good_claims(sub));
  json_t *oc = good_claims(other.id);
  char *payload_json = json_dumps(oc, JSON_COMPACT);
  char *payload = harness_base64url(payload_json, strlen(payload_json));
  char *first_dot = strchr(t, '.'), *last_dot = strrchr(t, '.');
  size_t n = (size_t)(first_dot - t) + 1 + strlen(payload) + strlen(last_dot) + 1;
  char *swapped = malloc(n);
  assert_non_null(swapped);
  snprintf(swapped, n, "%.*s.%s%s", (int)(first_dot - t), t, payload, last_dot);
  expect_token_rejected(swapped, "payload swapped");
  free(t);
  free(payload);
  free(payload_json);
  json_decref(oc);
}

/* ---------------------------------------------------------------- /v1/me */

static void test_get_me(void **state) {
  (void)state;
  http_response *r = http_get("/v1/me", g_admin.token);
  assert_status(r, 200);
  assert_json_str(r->json, "id", g_admin.id);
  assert_json_str(r->json, "email", g_admin.email);
  assert_json_str(r->json, "role", "admin");
  assert_json_str(r->json, "status", "active");
  assert_true(json_is_boolean(hjson_get(r->json, "must_change_password")));
  assert_etag_matches_version(r);
  if (strstr(r->body, "password_hash") || strstr(r->body, "$argon2"))
    harness_fail("GET /v1/me exposes password material");
  http_response_free(r);
}

static void test_patch_me_profile_fields(void **state) {
  (void)state;
  harness_account m;
  harness_new_member(g_admin.token, "practitioner", g_site, &m);
  http_response *r = http_get("/v1/me", m.token);
  json_int_t v0 = hjson_version(r->json);
  http_response_free(r);

  r = http_json("PATCH", "/v1/me", m.token,
                json_pack("{s:s, s:s}", "display_name", "Renamed Me", "discipline", "Occupational therapy"));
  assert_status(r, 200);
  assert_json_str(r->json, "display_name", "Renamed Me");
  assert_json_str(r->json, "discipline", "Occupational therapy");
  assert_json_int(r->json, "version", v0 + 1);
  assert_etag_matches_version(r);
  assert_true(json_is_boolean(hjson_get(r->json, "must_change_password")));
  http_response_free(r);

  r = http_json("PATCH", "/v1/me", m.token, json_pack("{s:n}", "discipline"));
  assert_status(r, 200);
  assert_json_str(r->json, "discipline", NULL);
  http_response_free(r);

  r = http_get("/v1/me", m.token);
  assert_json_str(r->json, "display_name", "Renamed Me");
  assert_json_str(r->json, "discipline", NULL);
  http_response_free(r);

  /* Lengths: 1..100. */
  char name100[101], name101[102];
  memset(name100, 'n', 100);
  name100[100] = '\0';
  memset(name101, 'n', 101);
  name101[101] = '\0';
  r = http_json("PATCH", "/v1/me", m.token, json_pack("{s:s}", "display_name", name100));
  assert_status(r, 200);
  http_response_free(r);
  const char *bad_names[] = {"", name101};
  for (int i = 0; i < 2; i++) {
    r = http_json("PATCH", "/v1/me", m.token, json_pack("{s:s}", "display_name", bad_names[i]));
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, "display_name");
    http_response_free(r);
  }
  r = http_json("PATCH", "/v1/me", m.token, json_pack("{s:n}", "display_name"));
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
}

static void test_patch_me_rejects_fields_a_member_may_not_set(void **state) {
  (void)state;
  harness_account m;
  harness_new_member(g_admin.token, "practitioner", g_site, &m);
  http_response *r = http_get("/v1/me", m.token);
  json_int_t v0 = hjson_version(r->json);
  http_response_free(r);

  struct {
    const char *field;
    json_t *value;
  } attempts[] = {
      {"role", json_string("admin")},
      {"email", json_string("someone-else@test.example")},
      {"id", json_string("00000000-0000-4000-8000-000000000000")},
      {"status", json_string("active")},
      {"version", json_integer(99)},
      {"created_at", json_string("2020-01-01T00:00:00Z")},
      {"home_site_id", json_string(g_site)},
      {"must_change_password", json_false()},
      {"password", json_string("new-password-12345")},
  };
  for (size_t i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
    json_t *body = json_object();
    json_object_set_new(body, attempts[i].field, attempts[i].value);
    r = http_json("PATCH", "/v1/me", m.token, body);
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, attempts[i].field);
    http_response_free(r);
  }
  /* Mixed with an allowed field: still rejected as a whole. */
  r = http_json("PATCH", "/v1/me", m.token, json_pack("{s:s, s:s}", "display_name", "Sneaky", "role", "admin"));
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);

  r = http_get("/v1/me", m.token);
  assert_json_str(r->json, "role", "practitioner");
  assert_json_str(r->json, "email", m.email);
  assert_json_int(r->json, "version", v0);
  assert_true(strcmp(hjson_str(r->json, "display_name"), "Sneaky") != 0);
  http_response_free(r);
}

static void test_password_change(void **state) {
  (void)state;
  harness_use_unique_source_address();
  harness_account a;
  harness_new_admin(&a);
  const char *new_password = "a-brand-new-password-42";

  http_response *r =
      http_json("PATCH", "/v1/me", a.token,
                json_pack("{s:s, s:s}", "current_password", "not-my-password-1", "new_password", new_password));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);

  r = http_json("PATCH", "/v1/me", a.token,
                json_pack("{s:s, s:s}", "current_password", a.password, "new_password", "elevenchars"));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "new_password");
  http_response_free(r);

  r = http_json("PATCH", "/v1/me", a.token, json_pack("{s:s}", "new_password", new_password));
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
  r = http_json("PATCH", "/v1/me", a.token, json_pack("{s:s}", "current_password", a.password));
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);

  /* None of the failed attempts changed the password. */
  r = harness_login_request(a.email, a.password);
  assert_status(r, 200);
  http_response_free(r);

  char old_refresh[HARNESS_TOKEN_MAX];
  snprintf(old_refresh, sizeof old_refresh, "%s", a.refresh);
  r = http_json("PATCH", "/v1/me", a.token,
                json_pack("{s:s, s:s}", "current_password", a.password, "new_password", new_password));
  assert_status(r, 200);
  assert_true(json_is_false(hjson_get(r->json, "must_change_password")));
  assert_etag_matches_version(r);
  if (strstr(r->body, new_password) || strstr(r->body, "password_hash"))
    harness_fail("the answer to a password change contains password material");
  http_response_free(r);

  r = harness_login_request(a.email, a.password);
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);
  r = harness_login_request(a.email, new_password);
  assert_status(r, 200);
  http_response_free(r);

  /* The change revoked the refresh tokens issued before it. */
  r = harness_refresh_request(old_refresh);
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);
}

static void test_new_member_must_change_password(void **state) {
  (void)state;
  harness_use_unique_source_address(); /* the last login below fails on purpose */
  harness_account m;
  harness_new_member_one_time(g_admin.token, "practitioner", g_site, &m);
  http_response *r = http_get("/v1/me", m.token);
  assert_status(r, 200);
  assert_true(json_is_true(hjson_get(r->json, "must_change_password")));
  http_response_free(r);

  r = http_json("PATCH", "/v1/me", m.token,
                json_pack("{s:s, s:s}", "current_password", m.password, "new_password", "my-own-password-123"));
  assert_status(r, 200);
  assert_true(json_is_false(hjson_get(r->json, "must_change_password")));
  http_response_free(r);

  /* The change ended the token it was made with: log in with the new password. */
  char token[HARNESS_TOKEN_MAX];
  harness_login(m.email, "my-own-password-123", token, NULL);
  r = http_get("/v1/me", token);
  assert_true(json_is_false(hjson_get(r->json, "must_change_password")));
  http_response_free(r);

  /* The one-time password is spent. */
  r = harness_login_request(m.email, m.password);
  assert_status(r, 401);
  http_response_free(r);
}

static void test_me_conditional_requests(void **state) {
  (void)state;
  harness_account m;
  harness_new_member(g_admin.token, "practitioner", g_site, &m);
  http_response *r = http_get("/v1/me", m.token);
  assert_status(r, 200);
  char etag[64];
  snprintf(etag, sizeof etag, "%s", http_header(r, "ETag"));
  json_int_t v0 = hjson_version(r->json);
  const char *name0 = hjson_str(r->json, "display_name");
  char name_before[HARNESS_NAME_MAX];
  snprintf(name_before, sizeof name_before, "%s", name0);
  http_response_free(r);

  char inm[96];
  snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
  const char *const h304[] = {inm, NULL};
  r = http_get_with_headers("/v1/me", m.token, h304);
  assert_status(r, 304);
  assert_int_equal(r->body_len, 0);
  assert_header_equal(r, "ETag", etag);
  http_response_free(r);

  const char *const h200[] = {"If-None-Match: \"999999\"", NULL};
  r = http_get_with_headers("/v1/me", m.token, h200);
  assert_status(r, 200);
  http_response_free(r);

  const char *const stale[] = {"If-Match: \"999999\"", NULL};
  r = http_json_with_headers("PATCH", "/v1/me", m.token, json_pack("{s:s}", "display_name", "Stale write"), stale);
  assert_problem_type(r, 412, "precondition-failed");
  http_response_free(r);
  r = http_get("/v1/me", m.token);
  assert_json_str(r->json, "display_name", name_before);
  assert_json_int(r->json, "version", v0);
  http_response_free(r);

  char im[96];
  snprintf(im, sizeof im, "If-Match: %s", etag);
  const char *const current[] = {im, NULL};
  r = http_json_with_headers("PATCH", "/v1/me", m.token, json_pack("{s:s}", "display_name", "Fresh write"), current);
  assert_status(r, 200);
  assert_json_int(r->json, "version", v0 + 1);
  http_response_free(r);

  /* The old ETag is stale now. */
  r = http_json_with_headers("PATCH", "/v1/me", m.token, json_pack("{s:s}", "display_name", "Late write"), current);
  assert_problem_type(r, 412, "precondition-failed");
  http_response_free(r);

  const char *const star[] = {"If-Match: *", NULL};
  r = http_json_with_headers("PATCH", "/v1/me", m.token, json_pack("{s:s}", "display_name", "Star write"), star);
  assert_status(r, 200);
  assert_json_str(r->json, "display_name", "Star write");
  http_response_free(r);
}

/* ---------------------------------------------------------------- suspension */

static void test_suspended_member_is_locked_out(void **state) {
  (void)state;
  harness_use_unique_source_address();
  harness_account m;
  harness_new_member(g_admin.token, "practitioner", g_site, &m);
  http_response *r = http_get("/v1/me", m.token);
  assert_status(r, 200);
  http_response_free(r);

  r = http_json("PATCH", hpath("/v1/members/%s", m.id), g_admin.token, json_pack("{s:s}", "status", "suspended"));
  assert_status(r, 200);
  assert_json_str(r->json, "status", "suspended");
  http_response_free(r);

  /* The still-valid access token no longer works. */
  r = http_get("/v1/me", m.token);
  expect_unauthenticated(r);
  http_response_free(r);
  r = harness_refresh_request(m.refresh);
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);
  r = harness_login_request(m.email, m.password);
  assert_problem_type(r, 401, "unauthenticated");
  assert_json_str(r->json, "detail", "Invalid email or password.");
  http_response_free(r);

  /* Reactivated, the account logs in again. */
  r = http_json("PATCH", hpath("/v1/members/%s", m.id), g_admin.token, json_pack("{s:s}", "status", "active"));
  assert_status(r, 200);
  http_response_free(r);
  r = harness_login_request(m.email, m.password);
  assert_status(r, 200);
  http_response_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_login_success_shape, harness_reset_source_address),
      cmocka_unit_test_setup(test_login_email_is_case_insensitive, harness_reset_source_address),
      cmocka_unit_test_setup(test_login_failures_are_indistinguishable, harness_reset_source_address),
      cmocka_unit_test_setup(test_login_body_is_validated, harness_reset_source_address),
      cmocka_unit_test_setup(test_refresh_rotates_and_reuse_revokes_the_chain, harness_reset_source_address),
      cmocka_unit_test_setup(test_refresh_rejects_garbage, harness_reset_source_address),
      cmocka_unit_test_setup(test_logout_revokes, harness_reset_source_address),
      cmocka_unit_test_setup(test_brute_force_locks_the_email, harness_reset_source_address),
      cmocka_unit_test_setup(test_successful_login_clears_the_counter, harness_reset_source_address),
      cmocka_unit_test_setup_teardown(test_per_address_limit, harness_reset_source_address, test_teardown_nested),
      cmocka_unit_test_setup(test_missing_or_malformed_authorization, harness_reset_source_address),
      cmocka_unit_test_setup(test_forged_control_token_is_accepted, harness_reset_source_address),
      cmocka_unit_test_setup(test_forged_tokens_are_rejected, harness_reset_source_address),
      cmocka_unit_test_setup(test_get_me, harness_reset_source_address),
      cmocka_unit_test_setup(test_patch_me_profile_fields, harness_reset_source_address),
      cmocka_unit_test_setup(test_patch_me_rejects_fields_a_member_may_not_set, harness_reset_source_address),
      cmocka_unit_test_setup(test_password_change, harness_reset_source_address),
      cmocka_unit_test_setup(test_new_member_must_change_password, harness_reset_source_address),
      cmocka_unit_test_setup(test_me_conditional_requests, harness_reset_source_address),
      cmocka_unit_test_setup(test_suspended_member_is_locked_out, harness_reset_source_address),
  };
  return cmocka_run_group_tests_name("e2e_auth", tests, group_setup, harness_suite_teardown);
}
