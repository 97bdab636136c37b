/*
 * e2e_oidc_routes.c — API.md section 12, single sign-on, in what needs no identity provider: the providers
 * list, start and callback refusing what they must (unknown provider, redirect_uri, unknown fields, a state
 * that is unknown, expired or another provider's), 503 with Retry-After while the provider cannot be reached,
 * a member's identities (list, unlink, someone else's), partner tokens kept out of /v1/me/identities (401,
 * as on every member-only route), and a server
 * that will not start on a bad providers file. The whole flow against a real provider is
 * tests/e2e/e2e_oidc.c.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static harness_account g_admin;
static char g_site[HARNESS_ID_MAX];
static char g_tmp[64];
static char g_providers[128];

#define UNKNOWN_UUID "00000000-0000-4000-8000-000000000000"
#define REDIRECT "https://app.example.org/signed-in"
#define SECRET "never-in-a-log-7f3a9c"
/* Nothing listens on port 1 of loopback: connecting is refused at once. */
#define UNREACHABLE_ISSUER "http://127.0.0.1:1/idp"

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
    harness_fail("cannot write %s", path);
}

static int group_setup(void **state) {
  (void)state;
  snprintf(g_tmp, sizeof g_tmp, "/tmp/forumnet-e2e-oidc-XXXXXX");
  if (mkdtemp(g_tmp) == NULL)
    harness_fail("mkdtemp failed");
  snprintf(g_providers, sizeof g_providers, "%s/providers.json", g_tmp);
  write_file(g_providers, "[{\"id\": \"local\", \"display_name\": \"Local council\", \"issuer\": \"" UNREACHABLE_ISSUER
                          "\", \"client_id\": \"forumnet\", \"client_secret\": \"" SECRET "\","
                          " \"redirect_uris\": [\"" REDIRECT "\"], \"email_domains\": [\"council.example\"]},"
                          " {\"id\": \"second\", \"display_name\": \"Second\", \"issuer\": \"" UNREACHABLE_ISSUER
                          "/2\", \"client_id\": \"forumnet\", \"client_secret\": \"" SECRET "\","
                          " \"redirect_uris\": [\"" REDIRECT "\"]}]");
  char file_env[200];
  snprintf(file_env, sizeof file_env, "FORUMNET_OIDC_PROVIDERS_FILE=%s", g_providers);
  const char *const env[] = {file_env, "FORUMNET_OIDC_ALLOW_HTTP=1", NULL};
  harness_suite_start(env, &g_admin);
  harness_new_site_id(g_admin.token, g_site);
  return 0;
}

static int group_teardown(void **state) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", g_tmp);
  return harness_suite_teardown(state);
}

static void test_providers_listed_without_token(void **state) {
  (void)state;
  http_response *r = http_get("/v1/auth/providers", NULL);
  assert_status(r, 200);
  json_t *items = json_object_get(r->json, "items");
  assert_int_equal(json_array_size(items), 2);
  assert_json_str(json_array_get(items, 0), "id", "local");
  assert_json_str(json_array_get(items, 0), "display_name", "Local council");
  assert_json_str(json_array_get(items, 1), "id", "second");
  assert_true(json_is_null(json_object_get(r->json, "next_cursor")));
  /* only id and display_name: never the issuer's client or its secret */
  assert_int_equal(json_object_size(json_array_get(items, 0)), 2);
  assert_null(strstr(r->body, SECRET));
  http_response_free(r);
}

static http_response *start(const char *provider, json_t *body) {
  return http_json("POST", hpath("/v1/auth/oidc/%s/start", provider), NULL, body);
}

static void test_start_refusals(void **state) {
  (void)state;
  http_response *r = start("nowhere", json_pack("{s:s}", "redirect_uri", REDIRECT));
  assert_problem(r, 404);
  http_response_free(r);
  r = start("local", json_pack("{s:s}", "redirect_uri", "https://evil.example.org/signed-in"));
  assert_problem(r, 400);
  assert_error_field(r, "redirect_uri");
  http_response_free(r);
  r = start("local", json_pack("{s:s, s:s}", "redirect_uri", REDIRECT, "scope", "openid admin"));
  assert_problem(r, 400);
  assert_error_field(r, "scope");
  http_response_free(r);
  r = start("local", json_object());
  assert_problem(r, 400);
  assert_error_field(r, "redirect_uri");
  http_response_free(r);
}

static void test_start_with_provider_unreachable_is_503(void **state) {
  (void)state;
  long flows = harness_psql_long("SELECT count(*) FROM oidc_flows WHERE provider_id = 'local'");
  http_response *r = start("local", json_pack("{s:s}", "redirect_uri", REDIRECT));
  assert_problem_type(r, 503, "unavailable");
  assert_non_null(http_header(r, "Retry-After"));
  http_response_free(r);
  /* nothing was stored for a flow that could not start */
  assert_int_equal(harness_psql_long("SELECT count(*) FROM oidc_flows WHERE provider_id = 'local'"), flows);
}

static http_response *callback(const char *provider, const char *code, const char *state) {
  return http_json("POST", hpath("/v1/auth/oidc/%s/callback", provider), NULL,
                   json_pack("{s:s, s:s}", "code", code, "state", state));
}

/* A flow row as start stores it, made in the database (start itself cannot reach the provider here). */
static void insert_flow(const char *state, const char *provider, const char *expires_in) {
  assert_int_equal(
      harness_psql_try(hpath("INSERT INTO oidc_flows (state_digest, provider_id, nonce, code_verifier, redirect_uri,"
                             " expires_at) VALUES (sha256(convert_to('%s', 'UTF8')), '%s', 'n', 'v', '%s',"
                             " clock_timestamp() + interval '%s')",
                             state, provider, REDIRECT, expires_in)),
      0);
}

static void test_callback_refuses_bad_states(void **state) {
  (void)state;
  char unknown[HARNESS_NAME_MAX], expired[HARNESS_NAME_MAX], other[HARNESS_NAME_MAX], live[HARNESS_NAME_MAX];
  harness_unique("unknown-state", unknown);
  harness_unique("expired-state", expired);
  harness_unique("other-state", other);
  harness_unique("live-state", live);
  insert_flow(expired, "local", "-1 second");
  insert_flow(other, "second", "10 minutes");
  insert_flow(live, "local", "10 minutes");
  const char *const bad[] = {unknown, expired, other};
  for (int i = 0; i < 3; i++) {
    http_response *r = callback("local", "some-code", bad[i]);
    assert_problem(r, 400);
    assert_error_field(r, "state");
    http_response_free(r);
  }
  /* unknown provider first, unknown fields too */
  http_response *r = callback("nowhere", "some-code", live);
  assert_problem(r, 404);
  http_response_free(r);
  r = http_json("POST", "/v1/auth/oidc/local/callback", NULL,
                json_pack("{s:s, s:s, s:s}", "code", "c", "state", live, "nonce", "n"));
  assert_problem(r, 400);
  assert_error_field(r, "nonce");
  http_response_free(r);
  /* a good state goes on to the provider, which cannot be reached: 503, and the flow is kept for a retry */
  r = callback("local", "some-code", live);
  assert_problem_type(r, 503, "unavailable");
  assert_non_null(http_header(r, "Retry-After"));
  http_response_free(r);
  assert_int_equal(harness_psql_longf("SELECT count(*) FROM oidc_flows WHERE state_digest = sha256(convert_to('%s',"
                                      " 'UTF8'))",
                                      live),
                   1);
}

/* An identity linked in the database (linking itself needs a provider). */
static void insert_identity(const char *member_id, const char *subject) {
  assert_int_equal(harness_psql_try(hpath("INSERT INTO member_identities (member_id, provider_id, issuer, subject,"
                                          " email) VALUES ('%s', 'local', '" UNREACHABLE_ISSUER "', '%s',"
                                          " 'someone@council.example')",
                                          member_id, subject)),
                   0);
}

static void test_identities_list_and_unlink(void **state) {
  (void)state;
  harness_account a, b;
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &a);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &b);
  http_response *r = http_get("/v1/me/identities", a.token);
  assert_status(r, 200);
  assert_int_equal(json_array_size(json_object_get(r->json, "items")), 0);
  assert_true(json_is_null(json_object_get(r->json, "next_cursor")));
  http_response_free(r);
  r = http_request("DELETE", "/v1/me/identities/" UNKNOWN_UUID, a.token, NULL, NULL, NULL);
  assert_problem(r, 404);
  http_response_free(r);
  r = http_request("DELETE", "/v1/me/identities/not-a-uuid", a.token, NULL, NULL, NULL);
  assert_problem(r, 404);
  http_response_free(r);

  insert_identity(b.id, b.id);
  r = http_get("/v1/me/identities", b.token);
  assert_status(r, 200);
  json_t *item = json_array_get(json_object_get(r->json, "items"), 0);
  assert_non_null(item);
  assert_json_str(item, "provider", "local");
  assert_json_str(item, "issuer", UNREACHABLE_ISSUER);
  assert_json_str(item, "subject", b.id);
  assert_json_str(item, "email", "someone@council.example");
  assert_non_null(hjson_str(item, "created_at"));
  assert_non_null(hjson_str(item, "last_used_at"));
  char id[HARNESS_ID_MAX];
  snprintf(id, sizeof id, "%s", hjson_str(item, "id"));
  http_response_free(r);
  /* a's list does not show b's identity, and a cannot unlink it */
  r = http_get("/v1/me/identities", a.token);
  assert_int_equal(json_array_size(json_object_get(r->json, "items")), 0);
  http_response_free(r);
  r = http_request("DELETE", hpath("/v1/me/identities/%s", id), a.token, NULL, NULL, NULL);
  assert_problem(r, 404);
  http_response_free(r);
  r = http_request("DELETE", hpath("/v1/me/identities/%s", id), b.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  assert_int_equal(harness_psql_longf("SELECT count(*) FROM member_identities WHERE id = '%s'", id), 0);
  assert_int_equal(harness_audit_count("member.identity_unlinked", b.id, b.id), 1);
  r = http_request("DELETE", hpath("/v1/me/identities/%s", id), b.token, NULL, NULL, NULL);
  assert_problem(r, 404);
  http_response_free(r);
}

static void test_identities_erased_with_their_member(void **state) {
  (void)state;
  harness_account c;
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &c);
  insert_identity(c.id, c.id);
  http_response *r = http_request("DELETE", hpath("/v1/members/%s", c.id), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  assert_int_equal(harness_psql_longf("SELECT count(*) FROM member_identities WHERE member_id = '%s'", c.id), 0);
}

static void test_partner_token_kept_out(void **state) {
  (void)state;
  harness_partner p;
  harness_new_partner(g_admin.token, false, &p);
  /* like every member-only route: "This route does not accept partner tokens." */
  http_response *r = http_get("/v1/me/identities", p.token);
  assert_problem(r, 401);
  assert_non_null(strstr(r->body, "partner tokens"));
  http_response_free(r);
  r = http_request("DELETE", "/v1/me/identities/" UNKNOWN_UUID, p.token, NULL, NULL, NULL);
  assert_problem(r, 401);
  http_response_free(r);
  r = http_get("/v1/me/identities", NULL);
  assert_problem(r, 401);
  http_response_free(r);
}

/* `forumnet serve` with this providers file: its exit status, and its output into out. */
static int serve_with(const char *providers, int allow_http, char *out, size_t out_len) {
  char path[160], cmd[1024];
  snprintf(path, sizeof path, "%s/bad.json", g_tmp);
  write_file(path, providers);
  snprintf(cmd, sizeof cmd,
           "env -i PATH=/usr/bin:/bin FORUMNET_DATABASE_URL='%s' FORUMNET_JWT_SECRET='" HARNESS_JWT_SECRET "'"
           " FORUMNET_LISTEN=127.0.0.1:1 FORUMNET_OIDC_PROVIDERS_FILE='%s' FORUMNET_OIDC_ALLOW_HTTP=%d '%s' serve 2>&1",
           getenv("FORUMNET_TEST_DATABASE_URL"), path, allow_http, getenv("FORUMNET_BIN"));
  FILE *p = popen(cmd, "r");
  if (p == NULL)
    harness_fail("popen failed");
  size_t n = fread(out, 1, out_len - 1, p);
  out[n] = '\0';
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_bad_providers_file_refuses_start(void **state) {
  (void)state;
  char out[4096];
  const char *const bad[] = {
      "[{\"id\": \"a\", \"display_name\": \"A\", \"issuer\": \"http://idp.example.org\", \"client_id\": \"c\","
      " \"client_secret\": \"" SECRET "\", \"redirect_uris\": [\"" REDIRECT "\"]}]",
      "[{\"id\": \"a\", \"display_name\": \"A\", \"issuer\": \"https://idp.example.org\", \"client_id\": \"c\","
      " \"client_secret\": \"" SECRET "\", \"redirect_uris\": [\"" REDIRECT "\"], \"prompt\": \"none\"}]",
      "[{\"id\": \"a\", \"display_name\": \"A\", \"issuer\": \"https://idp.example.org\", \"client_id\": \"c\","
      " \"client_secret\": \"" SECRET "\", \"redirect_uris\": [\"" REDIRECT "\"]},"
      " {\"id\": \"a\", \"display_name\": \"A\", \"issuer\": \"https://idp.example.org\", \"client_id\": \"c\","
      " \"client_secret\": \"" SECRET "\", \"redirect_uris\": [\"" REDIRECT "\"]}]",
      "{\"id\": \"a\"}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = serve_with(bad[i], 0, out, sizeof out);
    if (rc != 2 || strstr(out, "FORUMNET_OIDC_PROVIDERS_FILE") == NULL || strstr(out, SECRET) != NULL)
      harness_fail("providers file %zu: exit %d, output: %s", i, rc, out);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_providers_listed_without_token),
      cmocka_unit_test(test_start_refusals),
      cmocka_unit_test(test_start_with_provider_unreachable_is_503),
      cmocka_unit_test(test_callback_refuses_bad_states),
      cmocka_unit_test(test_identities_list_and_unlink),
      cmocka_unit_test(test_identities_erased_with_their_member),
      cmocka_unit_test(test_partner_token_kept_out),
      cmocka_unit_test(test_bad_providers_file_refuses_start),
  };
  return cmocka_run_group_tests_name("e2e_oidc_routes", tests, group_setup, group_teardown);
}
