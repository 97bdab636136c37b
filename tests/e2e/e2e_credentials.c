/*
 * e2e_credentials.c — what a credential change does (API.md section 3, issue 11):
 * one-time passwords confine a member to GET|PATCH /v1/me and expire after 7 days; a password
 * change, suspension, erasure, or a partner's secret rotation or revocation ends every access
 * token issued before it (also one verified a moment earlier, i.e. cached); a refresh with an
 * ended session's token is not "reuse"; login_failures holds no typed email and forgets ended
 * windows; parallel wrong passwords cannot get more tries than the limit.
 *
 * The group's server runs with FORUMNET_LOGIN_MAX_FAILURES=5.  Tests that log in with wrong
 * passwords send them from their own loopback addresses.
 */
#include "harness.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOGIN_LIMIT 5

static harness_account g_admin;
static char g_site[HARNESS_ID_MAX];

static int group_setup(void **state) {
  (void)state;
  static const char *const env[] = {"FORUMNET_LOGIN_MAX_FAILURES=5", NULL};
  harness_suite_start(env, &g_admin);
  harness_new_site_id(g_admin.token, g_site);
  return 0;
}

static http_response *change_password(const char *token, const char *current, const char *fresh) {
  return http_json("PATCH", "/v1/me", token,
                   json_pack("{s:s, s:s}", "current_password", current, "new_password", fresh));
}

static void expect_status(const char *method, const char *path, const char *token, long status, const char *slug) {
  http_response *r = http_request(method, path, token, NULL, NULL, NULL);
  if (slug)
    assert_problem_type(r, status, slug);
  else
    assert_status(r, status);
  http_response_free(r);
}

static void set_member_column(const char *member_id, const char *assignment) {
  char sql[256];
  snprintf(sql, sizeof sql, "UPDATE members SET %s WHERE id = '%s'", assignment, member_id);
  assert_int_equal(harness_psql_try(sql), 0);
}

/* ------------------------------------------------------------ one-time passwords */

static void test_one_time_password_allows_only_me(void **state) {
  (void)state;
  harness_account m;
  harness_new_member_one_time(g_admin.token, "practitioner", g_site, &m);

  expect_status("GET", "/v1/me", m.token, 200, NULL);
  http_response *r = http_json("PATCH", "/v1/me", m.token, json_pack("{s:s}", "display_name", "Still one-time"));
  assert_status(r, 200);
  assert_true(json_is_true(hjson_get(r->json, "must_change_password")));
  http_response_free(r);

  /* Everything else is closed, reads and writes alike, whatever token the member holds. */
  expect_status("GET", "/v1/sites", m.token, 403, "password-change-required");
  expect_status("GET", hpath("/v1/sites/%s", g_site), m.token, 403, "password-change-required");
  expect_status("GET", "/v1/groups", m.token, 403, "password-change-required");
  expect_status("GET", "/v1/me/export", m.token, 403, "password-change-required");
  expect_status("DELETE", "/v1/me", m.token, 403, "password-change-required");
  char forged[HARNESS_TOKEN_MAX];
  harness_forge_access_token(m.id, "practitioner", forged);
  expect_status("GET", "/v1/sites", forged, 403, "password-change-required");
  r = http_json("POST", "/v1/groups", m.token, json_pack("{s:s, s:s}", "name", "Not yet", "site_id", g_site));
  assert_problem_type(r, 403, "password-change-required");
  http_response_free(r);

  /* Logout works (it needs no access token at all). */
  char one_time_refresh[HARNESS_TOKEN_MAX];
  harness_login(m.email, m.password, NULL, one_time_refresh);
  r = http_json("POST", "/v1/auth/logout", NULL, json_pack("{s:s}", "refresh_token", one_time_refresh));
  assert_status(r, 204);
  http_response_free(r);

  /* Once the member has chosen a password, everything their role allows is open. */
  r = change_password(m.token, m.password, "my-very-own-password-1");
  assert_status(r, 200);
  http_response_free(r);
  char token[HARNESS_TOKEN_MAX];
  harness_login(m.email, "my-very-own-password-1", token, NULL);
  expect_status("GET", "/v1/sites", token, 200, NULL);
  expect_status("GET", "/v1/me/export", token, 200, NULL);
}

static void test_one_time_password_expires_after_7_days(void **state) {
  (void)state;
  harness_use_unique_source_address();
  harness_account fresh, old, own;
  harness_new_member_one_time(g_admin.token, "practitioner", g_site, &fresh);
  harness_new_member_one_time(g_admin.token, "practitioner", g_site, &old);
  harness_new_member(g_admin.token, "practitioner", g_site, &own); /* must_change_password cleared */

  set_member_column(fresh.id, "password_set_at = clock_timestamp() - interval '6 days 23 hours'");
  set_member_column(old.id, "password_set_at = clock_timestamp() - interval '7 days 1 minute'");
  set_member_column(own.id, "password_set_at = clock_timestamp() - interval '30 days'");

  http_response *r = harness_login_request(fresh.email, fresh.password);
  assert_status(r, 200);
  http_response_free(r);

  /* Expired: the same answer as a wrong password, and its session cannot be refreshed. */
  r = harness_login_request(old.email, old.password);
  assert_problem_type(r, 401, "unauthenticated");
  assert_json_str(r->json, "detail", "Invalid email or password.");
  http_response_free(r);
  r = harness_refresh_request(old.refresh);
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);

  /* A password the member chose does not expire. */
  r = harness_login_request(own.email, own.password);
  assert_status(r, 200);
  http_response_free(r);
}

/* ------------------------------------------------------------ access tokens end with credentials */

static void test_password_change_ends_earlier_access_tokens(void **state) {
  (void)state;
  harness_use_unique_source_address();
  harness_account a;
  harness_new_admin(&a); /* logs in: the change below comes within the same second */
  char second[HARNESS_TOKEN_MAX];
  harness_login(a.email, a.password, second, NULL);
  /* Verified twice before the change, so the token cache holds both. */
  expect_status("GET", "/v1/me", a.token, 200, NULL);
  expect_status("GET", "/v1/sites", second, 200, NULL);

  http_response *r = change_password(a.token, a.password, "changed-password-0001");
  assert_status(r, 200);
  http_response_free(r);

  expect_status("GET", "/v1/me", a.token, 401, "unauthenticated");
  expect_status("GET", "/v1/sites", second, 401, "unauthenticated");
  char token[HARNESS_TOKEN_MAX];
  harness_login(a.email, "changed-password-0001", token, NULL);
  expect_status("GET", "/v1/sites", token, 200, NULL);
}

static void test_suspension_ends_access_tokens_for_good(void **state) {
  (void)state;
  harness_account m;
  harness_new_member(g_admin.token, "practitioner", g_site, &m);
  char forged[HARNESS_TOKEN_MAX];
  harness_forge_access_token(m.id, "practitioner", forged);
  expect_status("GET", "/v1/sites", m.token, 200, NULL);
  expect_status("GET", "/v1/groups", forged, 200, NULL);

  http_response *r =
      http_json("PATCH", hpath("/v1/members/%s", m.id), g_admin.token, json_pack("{s:s}", "status", "suspended"));
  assert_status(r, 200);
  http_response_free(r);
  expect_status("GET", "/v1/sites", m.token, 401, "unauthenticated");
  expect_status("GET", "/v1/groups", forged, 401, "unauthenticated");

  /* Reactivation does not bring the old tokens back: only a new login. */
  r = http_json("PATCH", hpath("/v1/members/%s", m.id), g_admin.token, json_pack("{s:s}", "status", "active"));
  assert_status(r, 200);
  http_response_free(r);
  expect_status("GET", "/v1/sites", m.token, 401, "unauthenticated");
  expect_status("GET", "/v1/me", forged, 401, "unauthenticated");
  char token[HARNESS_TOKEN_MAX];
  harness_login(m.email, m.password, token, NULL);
  expect_status("GET", "/v1/sites", token, 200, NULL);
}

static void test_erasure_ends_access_tokens(void **state) {
  (void)state;
  harness_account m;
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &m);
  expect_status("GET", "/v1/me", m.token, 200, NULL);
  expect_status("DELETE", "/v1/me", m.token, 204, NULL);
  expect_status("GET", "/v1/me", m.token, 401, "unauthenticated");
  expect_status("GET", "/v1/sites", m.token, 401, "unauthenticated");
}

static void test_partner_rotation_and_revocation_end_tokens(void **state) {
  (void)state;
  harness_partner p;
  harness_new_partner(g_admin.token, false, &p);
  expect_status("GET", "/v1/events", p.token, 200, NULL);

  http_response *r = http_request("POST", hpath("/v1/partners/%s/credentials", p.id), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 200);
  snprintf(p.client_secret, sizeof p.client_secret, "%s", hjson_str(r->json, "client_secret"));
  http_response_free(r);
  expect_status("GET", "/v1/events", p.token, 401, "unauthenticated");

  harness_partner_login(&p); /* with the new secret */
  expect_status("GET", "/v1/events", p.token, 200, NULL);

  r = http_request("DELETE", hpath("/v1/partners/%s", p.id), g_admin.token, NULL, NULL, NULL);
  assert_true(r->status == 200 || r->status == 204);
  http_response_free(r);
  expect_status("GET", "/v1/events", p.token, 401, "unauthenticated");
}

/* ------------------------------------------------------------ refresh after an ended session */

static void test_refresh_of_an_ended_session_is_not_reuse(void **state) {
  (void)state;
  harness_use_unique_source_address();
  harness_account m;
  harness_new_member(g_admin.token, "practitioner", g_site, &m);

  /* Logout, then the logged-out token. */
  char r1[HARNESS_TOKEN_MAX];
  harness_login(m.email, m.password, NULL, r1);
  http_response *r = http_json("POST", "/v1/auth/logout", NULL, json_pack("{s:s}", "refresh_token", r1));
  assert_status(r, 204);
  http_response_free(r);
  r = harness_refresh_request(r1);
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);

  /* Suspension, then the session's token. */
  char r2[HARNESS_TOKEN_MAX];
  harness_login(m.email, m.password, NULL, r2);
  r = http_json("PATCH", hpath("/v1/members/%s", m.id), g_admin.token, json_pack("{s:s}", "status", "suspended"));
  assert_status(r, 200);
  http_response_free(r);
  r = harness_refresh_request(r2);
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);
  r = http_json("PATCH", hpath("/v1/members/%s", m.id), g_admin.token, json_pack("{s:s}", "status", "active"));
  assert_status(r, 200);
  http_response_free(r);

  /* Password change, then the session's token (m.refresh and a new one). */
  char token[HARNESS_TOKEN_MAX], r3[HARNESS_TOKEN_MAX];
  harness_login(m.email, m.password, token, r3);
  r = change_password(token, m.password, "another-own-password-7");
  assert_status(r, 200);
  http_response_free(r);
  r = harness_refresh_request(r3);
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);
  r = harness_refresh_request(m.refresh);
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);

  assert_int_equal(harness_audit_count("auth.refresh_reuse", m.id, NULL), 0);

  /* A spent token of a live chain still is reuse. */
  char r4[HARNESS_TOKEN_MAX];
  harness_login(m.email, "another-own-password-7", NULL, r4);
  r = harness_refresh_request(r4);
  assert_status(r, 200);
  http_response_free(r);
  r = harness_refresh_request(r4);
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);
  assert_int_equal(harness_audit_count("auth.refresh_reuse", m.id, NULL), 1);
}

/* ------------------------------------------------------------ login_failures */

/* The bucket the server keeps for a typed email: keyed BLAKE2b of the lowercased text, with the
 * key derived from the server's JWT secret (the harness's). */
static void email_bucket(const char *typed, char *out, size_t out_len) {
  static const char context[] = "forumnet login_failures email key v1";
  unsigned char key[crypto_generichash_KEYBYTES], digest[32];
  char lower[256], hex[65];
  size_t n = 0;
  crypto_generichash_state st;
  crypto_generichash_init(&st, NULL, 0, sizeof key);
  crypto_generichash_update(&st, (const unsigned char *)context, sizeof context);
  crypto_generichash_update(&st, (const unsigned char *)HARNESS_JWT_SECRET, HARNESS_JWT_SECRET_LEN);
  crypto_generichash_final(&st, key, sizeof key);
  for (const char *p = typed; *p && n < sizeof lower; p++)
    lower[n++] = (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
  crypto_generichash(digest, sizeof digest, (const unsigned char *)lower, n, key, sizeof key);
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  snprintf(out, out_len, "email:%s", hex);
}

static void test_login_failures_keep_no_typed_email(void **state) {
  (void)state;
  assert_true(sodium_init() >= 0);
  harness_use_unique_source_address();
  /* What a user types into the email field may be their password. */
  char typed[HARNESS_NAME_MAX], marker[HARNESS_NAME_MAX];
  harness_unique("PasswordTypedAsEmail", typed);
  snprintf(marker, sizeof marker, "%s", typed);
  for (char *p = marker; *p; p++)
    if (*p >= 'A' && *p <= 'Z')
      *p = (char)(*p - 'A' + 'a');
  http_response *r = harness_login_request(typed, "whatever-password-1");
  assert_true(r->status == 401 || r->status == 400);
  http_response_free(r);
  char q[512];
  snprintf(q, sizeof q, "SELECT count(*) FROM login_failures WHERE lower(bucket) LIKE '%%%s%%'", marker);
  assert_int_equal(harness_psql_long(q), 0);

  char email[HARNESS_EMAIL_MAX], bucket[80];
  harness_unique_email("Typo", email);
  r = harness_login_request(email, "whatever-password-1");
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);
  snprintf(q, sizeof q, "SELECT count(*) FROM login_failures WHERE lower(bucket) LIKE '%%%s%%'", email);
  for (char *p = q; *p; p++)
    if (*p >= 'A' && *p <= 'Z')
      *p = (char)(*p - 'A' + 'a');
  assert_int_equal(harness_psql_long(q), 0);
  email_bucket(email, bucket, sizeof bucket);
  snprintf(q, sizeof q, "SELECT coalesce(sum(failures), 0) FROM login_failures WHERE bucket = '%s'", bucket);
  assert_int_equal(harness_psql_long(q), 1);
}

static void test_ended_windows_are_deleted(void **state) {
  (void)state;
  char addr_bucket[HARNESS_NAME_MAX], other[HARNESS_NAME_MAX], q[512];
  harness_unique("addr:old-window", addr_bucket);
  harness_unique("email:old-window", other);
  snprintf(q, sizeof q,
           "INSERT INTO login_failures (bucket, window_start, failures) VALUES"
           " ('%s', clock_timestamp() - interval '1 day', 3), ('%s', clock_timestamp() - interval '1 hour', 9)",
           addr_bucket, other);
  assert_int_equal(harness_psql_try(q), 0);

  harness_use_unique_source_address();
  http_response *r = harness_login_request(g_admin.email, "not-the-admin-password");
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);

  snprintf(q, sizeof q, "SELECT count(*) FROM login_failures WHERE bucket IN ('%s', '%s')", addr_bucket, other);
  assert_int_equal(harness_psql_long(q), 0);
}

/* ------------------------------------------------------------ parallel wrong passwords */

#define PARALLEL_LOGINS 20

typedef struct parallel_login {
  const char *email;
  const char *password;
  pthread_barrier_t *barrier;
  long status;
} parallel_login;

static void *parallel_login_thread(void *arg) {
  parallel_login *p = arg;
  harness_use_unique_source_address(); /* distinct addresses: only the email's limit binds */
  pthread_barrier_wait(p->barrier);
  http_response *r = harness_login_request(p->email, p->password);
  p->status = r->status;
  http_response_free(r);
  return NULL;
}

static void test_parallel_wrong_passwords_get_at_most_the_limit(void **state) {
  (void)state;
  harness_account m;
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &m);
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, PARALLEL_LOGINS);
  parallel_login logins[PARALLEL_LOGINS];
  pthread_t threads[PARALLEL_LOGINS];
  for (int i = 0; i < PARALLEL_LOGINS; i++) {
    logins[i] = (parallel_login){.email = m.email, .password = "a-wrong-password-123", .barrier = &barrier};
    assert_int_equal(pthread_create(&threads[i], NULL, parallel_login_thread, &logins[i]), 0);
  }
  int unauthorized = 0, limited = 0;
  for (int i = 0; i < PARALLEL_LOGINS; i++) {
    pthread_join(threads[i], NULL);
    unauthorized += logins[i].status == 401;
    limited += logins[i].status == 429;
  }
  pthread_barrier_destroy(&barrier);
  if (unauthorized > LOGIN_LIMIT || unauthorized + limited != PARALLEL_LOGINS)
    harness_fail("%d parallel wrong passwords: %d answered 401 (at most %d may), %d answered 429", PARALLEL_LOGINS,
                 unauthorized, LOGIN_LIMIT, limited);
  assert_true(unauthorized >= 1);

  /* The right password, once the limit is reached, is refused too (from a fresh address). */
  harness_use_unique_source_address();
  http_response *r = harness_login_request(m.email, m.password);
  assert_problem_type(r, 429, "rate-limited");
  assert_non_null(http_header(r, "Retry-After"));
  http_response_free(r);
}

static void test_right_password_after_the_limit_is_refused(void **state) {
  (void)state;
  harness_use_unique_source_address();
  harness_account m;
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &m);
  for (int i = 0; i < LOGIN_LIMIT; i++) {
    http_response *r = harness_login_request(m.email, "a-wrong-password-456");
    assert_problem_type(r, 401, "unauthenticated");
    http_response_free(r);
  }
  http_response *r = harness_login_request(m.email, m.password);
  assert_problem_type(r, 429, "rate-limited");
  http_response_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_one_time_password_allows_only_me, harness_reset_source_address),
      cmocka_unit_test_setup(test_one_time_password_expires_after_7_days, harness_reset_source_address),
      cmocka_unit_test_setup(test_password_change_ends_earlier_access_tokens, harness_reset_source_address),
      cmocka_unit_test_setup(test_suspension_ends_access_tokens_for_good, harness_reset_source_address),
      cmocka_unit_test_setup(test_erasure_ends_access_tokens, harness_reset_source_address),
      cmocka_unit_test_setup(test_partner_rotation_and_revocation_end_tokens, harness_reset_source_address),
      cmocka_unit_test_setup(test_refresh_of_an_ended_session_is_not_reuse, harness_reset_source_address),
      cmocka_unit_test_setup(test_login_failures_keep_no_typed_email, harness_reset_source_address),
      cmocka_unit_test_setup(test_ended_windows_are_deleted, harness_reset_source_address),
      cmocka_unit_test_setup(test_parallel_wrong_passwords_get_at_most_the_limit, harness_reset_source_address),
      cmocka_unit_test_setup(test_right_password_after_the_limit_is_refused, harness_reset_source_address),
  };
  return cmocka_run_group_tests_name("e2e_credentials", tests, group_setup, harness_suite_teardown);
}
