/*
 * e2e_oidc.c — single sign-on with OpenID Connect (issue 16, API.md section 12) against a real, OpenID
 * Certified provider: panva's oidc-provider (tests/e2e/oidc_provider.mjs) on loopback over http, its login and
 * consent forms driven by harness_oidc_sign_in (libcurl, no browser).  forumnet runs with a providers file
 * naming three providers at that issuer: "council" (forumnet's client), "council-other" (the provider's
 * "other-client") and "council-hs" ("hs-client", ID tokens signed HS256), all for council.example emails only.
 * The whole flow and the link; 400 for a replayed, expired or other provider's state, another client's code, a
 * wrong nonce, an HS256 ID token; 403 for an unverified email, another domain, no member, a suspended or erased
 * member; unlinking; new provider keys fetched on the unknown kid; no client secret or code in answers or the
 * log (tests/e2e/README.md lists it all).  Its own
 * database (harness_use_own_database): the "no member" and domain cases must not meet other suites' members.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLIENT_ID "forumnet-e2e-client"
#define DOMAIN "council.example"
#define MAX_CODES 64

static harness_account g_admin;
static char g_site[HARNESS_ID_MAX];
static char g_file[64]; /* the providers file */
static char g_secret[HARNESS_NAME_MAX];
static harness_oidc_provider g_op;
static char *g_codes[MAX_CODES]; /* every code the provider issued, for the log check */
static int g_ncodes;

/* One entry of the providers file: a client of the provider whose secret is g_secret + suffix. */
static json_t *provider_entry(const char *id, const char *display_name, const char *client_id, const char *suffix) {
  char secret[HARNESS_NAME_MAX + 8];
  snprintf(secret, sizeof secret, "%s%s", g_secret, suffix);
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:[s], s:[s]}", "id", id, "display_name", display_name, "issuer",
                   g_op.issuer, "client_id", client_id, "client_secret", secret, "redirect_uris",
                   HARNESS_OIDC_REDIRECT_URI, "email_domains", DOMAIN);
}

/* Three providers at the one issuer: forumnet's client, the provider's other client, and its client whose ID
 * tokens are signed HS256 with the client secret. */
static void write_providers_file(const char *path) {
  json_t *all = json_pack("[o, o, o]", provider_entry("council", "Council staff", CLIENT_ID, ""),
                          provider_entry("council-other", "Council (other client)", "other-client", "-other"),
                          provider_entry("council-hs", "Council (HS256 ID tokens)", "hs-client", "-hs"));
  if (json_dump_file(all, path, JSON_INDENT(2)) != 0)
    harness_fail("cannot write %s", path);
  json_decref(all);
}

static int group_setup(void **state) {
  (void)state;
  harness_use_own_database("oidc");
  harness_unique("secret", g_secret);
  harness_oidc_provider_start(&g_op, harness_free_port(), CLIENT_ID, g_secret);
  char file_env[160];
  snprintf(g_file, sizeof g_file, "/tmp/forumnet-e2e-oidc-%d.json", (int)getpid());
  write_providers_file(g_file);
  snprintf(file_env, sizeof file_env, "FORUMNET_OIDC_PROVIDERS_FILE=%s", g_file);
  /* requests logged too: the log check then covers the request log */
  const char *const env[] = {file_env, "FORUMNET_OIDC_ALLOW_HTTP=1", "FORUMNET_LOG_REQUESTS=1", NULL};
  harness_suite_start(env, &g_admin);
  harness_new_site_id(g_admin.token, g_site);
  return 0;
}

static int group_teardown(void **state) {
  harness_oidc_provider_stop(&g_op);
  for (int i = 0; i < g_ncodes; i++)
    free(g_codes[i]);
  unlink(g_file);
  return harness_suite_teardown(state);
}

/* Each test from its own client address, so that refused sign-ins never add up in per-address limits. */
static int own_address(void **state) {
  (void)state;
  harness_use_unique_source_address();
  return 0;
}

/* POST /v1/members as the admin (send_invite: no password, a set-password link by email) for an email
 * <unique>@domain; fills email (HARNESS_EMAIL_MAX) and id (HARNESS_ID_MAX). */
static void create_member_at(const char *domain, bool send_invite, char *email, char *id) {
  char local[HARNESS_NAME_MAX], name[HARNESS_NAME_MAX];
  harness_unique("staff", local);
  harness_unique("Staff", name);
  snprintf(email, HARNESS_EMAIL_MAX, "%s@%s", local, domain);
  http_response *r = http_json("POST", "/v1/members", g_admin.token,
                               json_pack("{s:s, s:s, s:s, s:s, s:b}", "email", email, "display_name", name, "role",
                                         "practitioner", "home_site_id", g_site, "send_invite", send_invite));
  assert_status(r, 201);
  snprintf(id, HARNESS_ID_MAX, "%s", hjson_str(r->json, "member.id"));
  http_response_free(r);
}

/* A new active member who has set their own password (as harness_new_member's members: must_change_password
 * cleared in the database), whose email is <unique>@domain. */
static void new_member_at(const char *domain, char *email, char *id) {
  create_member_at(domain, false, email, id);
  assert_true(harness_is_uuid(id));
  assert_int_equal(harness_psql_longf("WITH u AS (UPDATE members SET must_change_password = false WHERE id = '%s' "
                                      "RETURNING 1) SELECT count(*) FROM u",
                                      id),
                   1);
}

static void set_member_status(const char *id, const char *status) {
  http_response *r =
      http_json("PATCH", hpath("/v1/members/%s", id), g_admin.token, json_pack("{s:s}", "status", status));
  assert_status(r, 200);
  http_response_free(r);
}

/* ---------------------------------------------------------------- the flow */

static void no_secret_in(const http_response *r) {
  if (r->body && strstr(r->body, g_secret))
    harness_fail("%s %s answered the client secret: %s", r->method, r->path, r->body);
}

/* POST /v1/auth/oidc/{provider}/start with the configured redirect URI; asserts 200 and returns the answer. */
static json_t *start(const char *provider) {
  http_response *r = http_json("POST", hpath("/v1/auth/oidc/%s/start", provider), NULL,
                               json_pack("{s:s}", "redirect_uri", HARNESS_OIDC_REDIRECT_URI));
  assert_status(r, 200);
  no_secret_in(r);
  json_t *out = json_incref(r->json);
  http_response_free(r);
  assert_non_null(hjson_str(out, "authorization_url"));
  assert_non_null(hjson_str(out, "state"));
  return out;
}

/* Signs in as login at the provider through authorization_url with `param` set to `value` (param NULL: as
 * is); asserts that the provider redirected back with a code and the flow's state. */
static void provider_sign_in(const json_t *flow, const char *login, const char *param, const char *value,
                             harness_oidc_result *res) {
  if (!harness_oidc_sign_in(hjson_str(flow, "authorization_url"), param, value, login, HARNESS_OIDC_REDIRECT_URI, res))
    harness_fail("signing in as %s failed: %s (%s)", login, res->error, res->location);
  assert_string_equal(res->state, hjson_str(flow, "state"));
  if (g_ncodes < MAX_CODES)
    g_codes[g_ncodes++] = strdup(res->code);
}

static http_response *callback(const char *provider, const char *code, const char *state) {
  http_response *r = http_json("POST", hpath("/v1/auth/oidc/%s/callback", provider), NULL,
                               json_pack("{s:s, s:s}", "code", code, "state", state));
  no_secret_in(r);
  return r;
}

/* The whole sign-in at provider as login, with param altered as in provider_sign_in: the callback's answer. */
static http_response *sign_in_altered(const char *provider, const char *login, const char *param, const char *value) {
  json_t *flow = start(provider);
  harness_oidc_result res;
  provider_sign_in(flow, login, param, value, &res);
  http_response *r = callback(provider, res.code, res.state);
  json_decref(flow);
  return r;
}

static http_response *sign_in(const char *login) { return sign_in_altered("council", login, NULL, NULL); }

/* Signs in as email, asserts the token pair of member_id, and copies the access token to token
 * (HARNESS_TOKEN_MAX). */
static void sign_in_ok(const char *email, const char *member_id, char *token) {
  http_response *r = sign_in(email);
  assert_status(r, 200);
  assert_json_str(r->json, "token_type", "Bearer");
  assert_json_str(r->json, "member.id", member_id);
  assert_true(json_integer_value(hjson_get(r->json, "expires_in")) > 0);
  assert_non_null(hjson_str(r->json, "refresh_token"));
  snprintf(token, HARNESS_TOKEN_MAX, "%s", hjson_str(r->json, "access_token"));
  http_response_free(r);
}

/* A new member of DOMAIN (new_member_at) who signed in once, linking the identity. */
static void linked_member(char *email, char *id, char *token) {
  new_member_at(DOMAIN, email, id);
  sign_in_ok(email, id, token);
}

static void expect_sign_in_refused(const char *login, long status) {
  http_response *r = sign_in(login);
  assert_status(r, status);
  http_response_free(r);
}

/* GET /v1/me/identities as token (asserts 200; new reference to the items). */
static json_t *identities(const char *token) {
  http_response *r = http_get("/v1/me/identities", token);
  assert_status(r, 200);
  assert_true(hjson_is_null(r->json, "next_cursor"));
  json_t *items = json_incref(hjson_get(r->json, "items"));
  http_response_free(r);
  return items;
}

/* ---------------------------------------------------------------- tests */

static void test_providers_are_listed_without_secrets(void **state) {
  (void)state;
  http_response *r = http_get("/v1/auth/providers", NULL);
  assert_status(r, 200);
  no_secret_in(r);
  assert_true(hjson_is_null(r->json, "next_cursor"));
  json_t *items = hjson_get(r->json, "items");
  assert_int_equal(json_array_size(items), 3);
  assert_json_str(json_array_get(items, 0), "id", "council");
  assert_json_str(json_array_get(items, 0), "display_name", "Council staff");
  assert_json_str(json_array_get(items, 1), "id", "council-other");
  assert_json_str(json_array_get(items, 2), "id", "council-hs");
  assert_null(strstr(r->body, "client_id"));
  http_response_free(r);
}

static void test_start_refuses_unknown_provider_and_redirect(void **state) {
  (void)state;
  http_response *r = http_json("POST", "/v1/auth/oidc/nobody/start", NULL,
                               json_pack("{s:s}", "redirect_uri", HARNESS_OIDC_REDIRECT_URI));
  assert_status(r, 404);
  http_response_free(r);
  r = http_json("POST", "/v1/auth/oidc/council/start", NULL,
                json_pack("{s:s}", "redirect_uri", "http://127.0.0.1:9/elsewhere"));
  assert_status(r, 400);
  http_response_free(r);
  json_t *flow = start("council");
  const char *url = hjson_str(flow, "authorization_url");
  char prefix[96];
  snprintf(prefix, sizeof prefix, "%s/", g_op.issuer); /* the discovery document's authorization_endpoint */
  assert_true(strncmp(url, prefix, strlen(prefix)) == 0);
  assert_non_null(strstr(url, "code_challenge_method=S256"));
  assert_non_null(strstr(url, "code_challenge="));
  assert_non_null(strstr(url, "nonce="));
  assert_non_null(strstr(url, "client_id=" CLIENT_ID));
  json_decref(flow);
}

static void test_whole_flow_then_the_link_is_reused(void **state) {
  (void)state;
  char email[HARNESS_EMAIL_MAX], id[HARNESS_ID_MAX], token[HARNESS_TOKEN_MAX];
  linked_member(email, id, token);
  http_response *r = http_get("/v1/me", token);
  assert_status(r, 200);
  assert_json_str(r->json, "id", id);
  assert_json_str(r->json, "email", email);
  http_response_free(r);
  json_t *items = identities(token);
  assert_int_equal(json_array_size(items), 1);
  json_t *link = json_array_get(items, 0);
  assert_json_str(link, "provider", "council");
  assert_json_str(link, "issuer", g_op.issuer);
  assert_json_str(link, "subject", email);
  assert_json_str(link, "email", email);
  char link_id[HARNESS_ID_MAX];
  snprintf(link_id, sizeof link_id, "%s", hjson_str(link, "id"));
  json_decref(items);
  /* a second sign-in finds the member by the link: still one identity, now used */
  sign_in_ok(email, id, token);
  items = identities(token);
  assert_int_equal(json_array_size(items), 1);
  assert_json_str(json_array_get(items, 0), "id", link_id);
  assert_true(harness_is_rfc3339_utc(hjson_str(json_array_get(items, 0), "last_used_at")));
  json_decref(items);
  /* the other client of the same provider works too (the refusals below are not a broken configuration) */
  r = sign_in_altered("council-other", email, NULL, NULL);
  assert_status(r, 200);
  assert_json_str(r->json, "member.id", id);
  http_response_free(r);
}

/* Staff provisioned by an admin with an invitation (no password yet) sign in with their organisation, and
 * the token works like a login's: nothing asks them for a password they never had. */
static void test_invited_member_signs_in(void **state) {
  (void)state;
  char email[HARNESS_EMAIL_MAX], id[HARNESS_ID_MAX], token[HARNESS_TOKEN_MAX];
  create_member_at(DOMAIN, true, email, id);
  sign_in_ok(email, id, token);
  json_t *items = identities(token);
  assert_int_equal(json_array_size(items), 1);
  json_decref(items);
}

/* A new member signed in at the provider through a flow started at "council": the code and state in *res. */
static void code_for_new_member(harness_oidc_result *res) {
  char email[HARNESS_EMAIL_MAX], id[HARNESS_ID_MAX];
  new_member_at(DOMAIN, email, id);
  json_t *flow = start("council");
  provider_sign_in(flow, email, NULL, NULL, res);
  json_decref(flow);
}

/* The callback at provider with res's code and state answers 400 naming the state. */
static void expect_bad_state(const char *provider, const harness_oidc_result *res) {
  http_response *r = callback(provider, res->code, res->state);
  assert_status(r, 400);
  assert_error_field(r, "state");
  http_response_free(r);
}

static void test_replayed_state(void **state) {
  (void)state;
  harness_oidc_result res;
  code_for_new_member(&res);
  http_response *r = callback("council", res.code, res.state);
  assert_status(r, 200);
  http_response_free(r);
  expect_bad_state("council", &res);
}

static void test_expired_state(void **state) {
  (void)state;
  harness_oidc_result res;
  code_for_new_member(&res);
  /* the state is [A-Za-z0-9_-] text (asserted), so it can be pasted into SQL */
  assert_int_equal(strspn(res.state, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                   strlen(res.state));
  assert_int_equal(harness_psql_longf("WITH u AS (UPDATE oidc_flows SET expires_at = now() - interval '1 second' "
                                      "WHERE state_digest = sha256(convert_to('%s', 'UTF8')) RETURNING 1) "
                                      "SELECT count(*) FROM u",
                                      res.state),
                   1);
  expect_bad_state("council", &res);
}

static void test_state_of_another_provider(void **state) {
  (void)state;
  harness_oidc_result res;
  code_for_new_member(&res);
  expect_bad_state("council-other", &res);
}

/* A new member of DOMAIN signs in at provider through its authorization URL with param set to value (param
 * NULL: as is): the callback's answer, asserted 400. */
static http_response *sign_in_refused(const char *provider, const char *param, const char *value) {
  char email[HARNESS_EMAIL_MAX], id[HARNESS_ID_MAX];
  new_member_at(DOMAIN, email, id);
  http_response *r = sign_in_altered(provider, email, param, value);
  assert_status(r, 400);
  return r;
}

static void test_code_of_another_client(void **state) {
  (void)state;
  /* the provider issues the code to other-client; forumnet's client cannot redeem it */
  http_response *r = sign_in_refused("council", "client_id", "other-client");
  assert_error_field(r, "code"); /* the provider refused the exchange */
  http_response_free(r);
}

static void test_wrong_nonce(void **state) {
  (void)state;
  http_response *r = sign_in_refused("council", "nonce", "not-the-nonce-forumnet-chose");
  /* the state and the code were good: the ID token (signed, with the altered nonce) was refused */
  assert_false(harness_has_error_field(r, "state") || harness_has_error_field(r, "code"));
  http_response_free(r);
}

/* The provider signs hs-client's ID tokens HS256 with the client secret (a key in no JWKS; the discovery
 * document lists HS256): forumnet accepts RS256 and ES256 only. */
static void test_id_token_signed_hs256(void **state) {
  (void)state;
  http_response *r = sign_in_refused("council-hs", NULL, NULL);
  assert_false(harness_has_error_field(r, "state") || harness_has_error_field(r, "code"));
  http_response_free(r);
}

static void test_unverified_email(void **state) {
  (void)state;
  char email[HARNESS_EMAIL_MAX], id[HARNESS_ID_MAX], login[HARNESS_EMAIL_MAX + 16];
  new_member_at(DOMAIN, email, id);
  snprintf(login, sizeof login, "unverified+%s", email); /* the provider: email_verified false */
  expect_sign_in_refused(login, 403);
}

static void test_email_of_another_domain(void **state) {
  (void)state;
  char email[HARNESS_EMAIL_MAX], id[HARNESS_ID_MAX];
  new_member_at("elsewhere.example", email, id); /* the member exists: only the domain is wrong */
  expect_sign_in_refused(email, 403);
}

static void test_email_of_no_member(void **state) {
  (void)state;
  char local[HARNESS_NAME_MAX], email[HARNESS_EMAIL_MAX];
  snprintf(email, sizeof email, "%s@%s", harness_unique("nobody", local), DOMAIN);
  expect_sign_in_refused(email, 403);
  /* and no account was provisioned by signing in */
  assert_int_equal(harness_psql_longf("SELECT count(*) FROM members WHERE lower(email) = lower('%s')", email), 0);
}

static void test_suspended_member(void **state) {
  (void)state;
  char email[HARNESS_EMAIL_MAX], id[HARNESS_ID_MAX], token[HARNESS_TOKEN_MAX];
  new_member_at(DOMAIN, email, id);
  set_member_status(id, "suspended"); /* never linked */
  expect_sign_in_refused(email, 403);
  linked_member(email, id, token); /* linked, then suspended */
  set_member_status(id, "suspended");
  expect_sign_in_refused(email, 403);
}

static void test_erased_member(void **state) {
  (void)state;
  char email[HARNESS_EMAIL_MAX], id[HARNESS_ID_MAX], token[HARNESS_TOKEN_MAX];
  linked_member(email, id, token);
  http_response *r = http_request("DELETE", hpath("/v1/members/%s", id), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  expect_sign_in_refused(email, 403);
}

static void test_unlink_then_link_again(void **state) {
  (void)state;
  char email[HARNESS_EMAIL_MAX], id[HARNESS_ID_MAX], token[HARNESS_TOKEN_MAX];
  linked_member(email, id, token);
  json_t *items = identities(token);
  assert_int_equal(json_array_size(items), 1);
  char link_id[HARNESS_ID_MAX];
  snprintf(link_id, sizeof link_id, "%s", hjson_str(json_array_get(items, 0), "id"));
  json_decref(items);
  harness_account other;
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &other);
  http_response *r = http_request("DELETE", hpath("/v1/me/identities/%s", link_id), other.token, NULL, NULL, NULL);
  assert_status(r, 404);
  http_response_free(r);
  items = identities(token);
  assert_int_equal(json_array_size(items), 1); /* still there */
  json_decref(items);
  r = http_request("DELETE", hpath("/v1/me/identities/%s", link_id), token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  items = identities(token);
  assert_int_equal(json_array_size(items), 0);
  json_decref(items);
  sign_in_ok(email, id, token); /* by email again: a new link */
  items = identities(token);
  assert_int_equal(json_array_size(items), 1);
  assert_string_not_equal(hjson_str(json_array_get(items, 0), "id"), link_id);
  json_decref(items);
}

/* The provider restarts with a new signing key (new kid) on the same issuer: forumnet, holding the old JWKS,
 * must fetch it again and accept the new ID token. */
static void test_new_provider_keys_are_fetched(void **state) {
  (void)state;
  char email[HARNESS_EMAIL_MAX], id[HARNESS_ID_MAX], token[HARNESS_TOKEN_MAX];
  linked_member(email, id, token); /* forumnet has the current keys */
  int port = g_op.port;
  harness_oidc_provider_stop(&g_op);
  harness_oidc_provider_start(&g_op, port, CLIENT_ID, g_secret);
  /* forumnet fetches a provider's JWKS again at most every 5 s (an unknown kid must not let anyone make it
   * fetch at will): let that pass since the last fetch */
  harness_sleep_ms(5500);
  sign_in_ok(email, id, token);
  json_t *items = identities(token);
  assert_int_equal(json_array_size(items), 1); /* the same link: issuer and subject did not change */
  json_decref(items);
}

/* Last: what every test above sent through the server. */
static void test_log_holds_no_secret_nor_code(void **state) {
  (void)state;
  assert_true(g_ncodes > 10);
  char *log = harness_server_log_text();
  if (strstr(log, g_secret))
    harness_fail("the server log (%s) holds the client secret", harness_server_log());
  for (int i = 0; i < g_ncodes; i++) {
    if (strstr(log, g_codes[i]))
      harness_fail("the server log (%s) holds the authorization code %s", harness_server_log(), g_codes[i]);
  }
  free(log);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, own_address, harness_reset_source_address)
  const struct CMUnitTest tests[] = {
      T(test_providers_are_listed_without_secrets),
      T(test_start_refuses_unknown_provider_and_redirect),
      T(test_whole_flow_then_the_link_is_reused),
      T(test_invited_member_signs_in),
      T(test_replayed_state),
      T(test_expired_state),
      T(test_state_of_another_provider),
      T(test_code_of_another_client),
      T(test_wrong_nonce),
      T(test_id_token_signed_hs256),
      T(test_unverified_email),
      T(test_email_of_another_domain),
      T(test_email_of_no_member),
      T(test_suspended_member),
      T(test_erased_member),
      T(test_unlink_then_link_again),
      T(test_new_provider_keys_are_fetched),
      T(test_log_holds_no_secret_nor_code),
  };
#undef T
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
