/*
 * e2e_partners.c — API.md section 7, partner clients (issue 5): admin-only partner
 * administration, the client secret shown once, the client-credentials grant (JSON and
 * form-encoded) and its OAuth errors, failure rate limits, secret rotation and revocation
 * (tokens stop working at once), partner and member tokens never accepted in each other's
 * place (also forged ones), and the audit rows of partners and of event publication and
 * cancellation.
 */
#include "harness.h"

#include <regex.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static harness_account g_admin;
static char g_site[HARNESS_ID_MAX];
static harness_account g_manager;      /* manages g_site */
static harness_account g_practitioner; /* home site g_site */

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_new_site_id(g_admin.token, g_site);
  harness_new_manager_quick(g_admin.token, g_site, &g_manager);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &g_practitioner);
  return 0;
}

#define UNKNOWN_UUID "00000000-0000-4000-8000-000000000000"

static bool matches(const char *pattern, const char *s) {
  regex_t re;
  if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
    harness_fail("bad regex %s", pattern);
  bool ok = s && regexec(&re, s, 0, NULL, 0) == 0;
  regfree(&re);
  return ok;
}

/* The form-encoded client-credentials grant; scope NULL: none sent. */
static http_response *token_form(const char *grant_type, const char *client_id, const char *secret, const char *scope) {
  char *g = harness_urlencode(grant_type), *c = harness_urlencode(client_id), *s = harness_urlencode(secret);
  char *sc = scope ? harness_urlencode(scope) : NULL;
  char body[1024];
  snprintf(body, sizeof body, "grant_type=%s&client_id=%s&client_secret=%s%s%s", g, c, s, sc ? "&scope=" : "",
           sc ? sc : "");
  free(g);
  free(c);
  free(s);
  free(sc);
  return http_request("POST", "/v1/auth/token", NULL, "application/x-www-form-urlencoded", body, NULL);
}

/* The JSON grant with any fields. */
static http_response *token_json(json_t *body) { return http_json("POST", "/v1/auth/token", NULL, body); }

/* A problem+json answer carrying the OAuth "error" member. */
static void assert_oauth_error(http_response *r, long status, const char *error) {
  assert_problem(r, status);
  const char *got = hjson_str(r->json, "error");
  if (!got || strcmp(got, error) != 0)
    harness_fail("%s %s: expected OAuth error \"%s\", got %s\n  body: %s", r->method, r->path, error,
                 got ? got : "(none)", r->body);
}

/* The body without request_id (a new reference). */
static json_t *without_request_id(const json_t *body) {
  json_t *c = json_deep_copy(body);
  json_object_del(c, "request_id");
  return c;
}

static void assert_same_problem(http_response *a, http_response *b) {
  json_t *x = without_request_id(a->json), *y = without_request_id(b->json);
  if (!json_equal(x, y))
    harness_fail("expected the same problem body (request_id aside):\n  %s\n  %s", a->body, b->body);
  json_decref(x);
  json_decref(y);
}

/* A partner token forged with the test servers' key: typ "partner", sub, scope (NULL: none). */
static char *forge_partner_token(const char *sub, const char *typ, const char *scope) {
  int64_t now_ms = harness_epoch_ms();
  long now = (long)(now_ms / 1000);
  json_t *claims = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s}", "iss", "forumnet", "aud", "forumnet-api",
                             "sub", sub, "typ", typ, "iat", (json_int_t)now, "iat_ms", (json_int_t)now_ms, "nbf",
                             (json_int_t)now, "exp", (json_int_t)(now + 600), "jti", "e2e-forged-partner");
  if (scope)
    json_object_set_new(claims, "scope", json_string(scope));
  json_t *header = json_pack("{s:s}", "kid", "k1");
  char *t = harness_jwt_sign("HS256", HARNESS_JWT_SECRET, HARNESS_JWT_SECRET_LEN, header, claims);
  json_decref(header);
  json_decref(claims);
  return t;
}

static void assert_unauthenticated(http_response *r) {
  assert_problem_type(r, 401, "unauthenticated");
  if (!http_header(r, "WWW-Authenticate") || strncmp(http_header(r, "WWW-Authenticate"), "Bearer", 6) != 0)
    harness_fail("%s %s: a 401 needs WWW-Authenticate: Bearer", r->method, r->path);
}

static long audit_rows(const char *action, const char *resource_id, const char *actor_kind, const char *actor_id) {
  char q[512];
  snprintf(q, sizeof q,
           "SELECT count(*) FROM audit_log WHERE action = '%s' AND resource_id = '%s' AND actor_kind = '%s' "
           "AND actor_id::text = '%s'",
           action, resource_id, actor_kind, actor_id);
  return harness_psql_long(q);
}

/* ---------------------------------------------------------------- administration */

static void test_create_shows_secret_once(void **state) {
  (void)state;
  char name[HARNESS_NAME_MAX];
  harness_unique("Partner", name);
  http_response *r = http_json("POST", "/v1/partners", g_admin.token, json_pack("{s:s}", "name", name));
  assert_status(r, 201);
  const char *id = hjson_str(r->json, "id");
  assert_true(harness_is_uuid(id));
  char pid[HARNESS_ID_MAX], secret[HARNESS_ID_MAX], client_id[HARNESS_ID_MAX];
  snprintf(pid, sizeof pid, "%s", id);
  assert_header_equal(r, "Location", hpath("/v1/partners/%s", pid));
  assert_etag_matches_version(r);
  assert_json_str(r->json, "name", name);
  assert_true(json_is_false(hjson_get(r->json, "trusted")));
  assert_json_str(r->json, "revoked_at", NULL);
  assert_true(harness_is_rfc3339_utc(hjson_str(r->json, "created_at")));
  if (!matches("^fnp_[A-Za-z0-9_-]{22}$", hjson_str(r->json, "client_id")))
    harness_fail("client_id should be fnp_ + 22 base64url characters: %s", r->body);
  if (!matches("^[A-Za-z0-9_-]{43}$", hjson_str(r->json, "client_secret")))
    harness_fail("client_secret should be 43 base64url characters: %s", r->body);
  snprintf(secret, sizeof secret, "%s", hjson_str(r->json, "client_secret"));
  snprintf(client_id, sizeof client_id, "%s", hjson_str(r->json, "client_id"));
  json_t *created = json_deep_copy(r->json);
  json_object_del(created, "client_secret");
  http_response_free(r);

  /* GET: the same partner, never the secret */
  r = http_get(hpath("/v1/partners/%s", pid), g_admin.token);
  assert_status(r, 200);
  assert_etag_matches_version(r);
  if (hjson_get(r->json, "client_secret") || strstr(r->body, secret))
    harness_fail("GET /v1/partners/{id} shows the secret: %s", r->body);
  if (!json_equal(created, r->json))
    harness_fail("GET differs from the POST answer (secret aside):\n  %s", r->body);
  http_response_free(r);
  json_decref(created);

  /* the list: the partner, and no secret in any item */
  json_t *all = harness_list_all("/v1/partners", g_admin.token);
  bool found = false;
  size_t i;
  json_t *it;
  json_array_foreach(all, i, it) {
    if (hjson_get(it, "client_secret") || hjson_get(it, "secret_digest"))
      harness_fail("a listed partner carries its secret or digest: %s", json_dumps(it, 0));
    if (strcmp(hjson_str(it, "id") ? hjson_str(it, "id") : "", pid) == 0) {
      found = true;
      assert_json_str(it, "client_id", client_id);
    }
  }
  json_decref(all);
  assert_true(found);
  r = http_get("/v1/partners?limit=200", g_admin.token);
  assert_status(r, 200);
  assert_null(strstr(r->body, secret));
  http_response_free(r);

  /* the secret works, once created */
  r = harness_partner_token_request(client_id, secret);
  assert_status(r, 200);
  http_response_free(r);

  assert_int_equal(harness_audit_count("partner.created", pid, g_admin.id), 1);
  /* the audit row must not hold the secret either */
  char q[256];
  snprintf(q, sizeof q, "SELECT count(*) FROM audit_log WHERE details::text LIKE '%%%s%%'", secret);
  assert_int_equal(harness_psql_long(q), 0);
}

static void test_create_trusted_and_validation(void **state) {
  (void)state;
  char name[HARNESS_NAME_MAX];
  http_response *r = http_json("POST", "/v1/partners", g_admin.token,
                               json_pack("{s:s, s:b}", "name", harness_unique("Trusted", name), "trusted", 1));
  assert_status(r, 201);
  assert_true(json_is_true(hjson_get(r->json, "trusted")));
  http_response_free(r);

  char long_name[202];
  memset(long_name, 'n', 201);
  long_name[201] = '\0';
  json_t *bad[] = {
      json_object(),                                                              /* name missing */
      json_pack("{s:s}", "name", ""),                                             /* too short */
      json_pack("{s:s}", "name", long_name),                                      /* 201 characters */
      json_pack("{s:i}", "name", 5),                                              /* wrong type */
      json_pack("{s:s, s:s}", "name", "x", "trusted", "yes"),                     /* wrong type */
      json_pack("{s:s, s:s}", "name", "x", "website", "https://example.org"),     /* unknown field */
      json_pack("{s:s, s:s}", "name", "x", "client_id", "fnp_mine"),              /* read-only */
      json_pack("{s:s, s:s}", "name", "x", "client_secret", "choose-my-own"),     /* read-only */
      json_pack("{s:s, s:s}", "name", "x", "revoked_at", "2026-01-01T00:00:00Z"), /* read-only */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *text = json_dumps(bad[i], JSON_COMPACT);
    r = http_json("POST", "/v1/partners", g_admin.token, bad[i]);
    if (r->status != 400)
      harness_fail("POST /v1/partners %s: expected 400, got %ld %s", text, r->status, r->body);
    assert_problem_type(r, 400, "invalid-request");
    free(text);
    http_response_free(r);
  }
  char name201[202];
  memset(name201, 'x', 200);
  name201[200] = '\0';
  r = http_json("POST", "/v1/partners", g_admin.token, json_pack("{s:s}", "name", name201));
  assert_status(r, 201); /* 200 characters is the maximum */
  http_response_free(r);
}

static void test_admin_only(void **state) {
  (void)state;
  harness_partner p;
  harness_new_partner(g_admin.token, false, &p);
  const char *members[] = {g_manager.token, g_practitioner.token};
  for (size_t i = 0; i < 2; i++) {
    const char *t = members[i];
    http_response *r = http_json("POST", "/v1/partners", t, json_pack("{s:s}", "name", "Not allowed"));
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
    r = http_get("/v1/partners", t);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
    r = http_get(hpath("/v1/partners/%s", p.id), t);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
    r = http_json("PATCH", hpath("/v1/partners/%s", p.id), t, json_pack("{s:b}", "trusted", 1));
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
    r = http_request("POST", hpath("/v1/partners/%s/credentials", p.id), t, NULL, NULL, NULL);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
    r = http_request("DELETE", hpath("/v1/partners/%s", p.id), t, NULL, NULL, NULL);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
  }
  /* nothing changed */
  http_response *r = http_get(hpath("/v1/partners/%s", p.id), g_admin.token);
  assert_status(r, 200);
  assert_true(json_is_false(hjson_get(r->json, "trusted")));
  assert_json_str(r->json, "revoked_at", NULL);
  assert_json_int(r->json, "version", 1);
  http_response_free(r);

  /* partner tokens (its own too) and no token: 401 on every partner route */
  const char *tokens[] = {p.token, NULL};
  for (size_t i = 0; i < 2; i++) {
    const char *t = tokens[i];
    r = http_get("/v1/partners", t);
    assert_unauthenticated(r);
    http_response_free(r);
    r = http_json("POST", "/v1/partners", t, json_pack("{s:s}", "name", "Self-made"));
    assert_unauthenticated(r);
    http_response_free(r);
    r = http_get(hpath("/v1/partners/%s", p.id), t);
    assert_unauthenticated(r);
    http_response_free(r);
    r = http_json("PATCH", hpath("/v1/partners/%s", p.id), t, json_pack("{s:b}", "trusted", 1));
    assert_unauthenticated(r);
    http_response_free(r);
    r = http_request("POST", hpath("/v1/partners/%s/credentials", p.id), t, NULL, NULL, NULL);
    assert_unauthenticated(r);
    http_response_free(r);
    r = http_request("DELETE", hpath("/v1/partners/%s", p.id), t, NULL, NULL, NULL);
    assert_unauthenticated(r);
    http_response_free(r);
  }

  /* unknown and malformed ids */
  r = http_get("/v1/partners/" UNKNOWN_UUID, g_admin.token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = http_get("/v1/partners/not-a-uuid", g_admin.token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = http_request("POST", "/v1/partners/" UNKNOWN_UUID "/credentials", g_admin.token, NULL, NULL, NULL);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = http_request("DELETE", "/v1/partners/" UNKNOWN_UUID, g_admin.token, NULL, NULL, NULL);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
}

static void test_patch_partner(void **state) {
  (void)state;
  harness_partner p;
  harness_new_partner(g_admin.token, false, &p);
  const char *stale[] = {"If-Match: \"7\"", NULL};
  http_response *r = http_json_with_headers("PATCH", hpath("/v1/partners/%s", p.id), g_admin.token,
                                            json_pack("{s:b}", "trusted", 1), stale);
  assert_problem_type(r, 412, "precondition-failed");
  http_response_free(r);
  const char *fresh[] = {"If-Match: \"1\"", NULL};
  r = http_json_with_headers("PATCH", hpath("/v1/partners/%s", p.id), g_admin.token,
                             json_pack("{s:b, s:s}", "trusted", 1, "name", "Renamed partner"), fresh);
  assert_status(r, 200);
  assert_true(json_is_true(hjson_get(r->json, "trusted")));
  assert_json_str(r->json, "name", "Renamed partner");
  assert_json_int(r->json, "version", 2);
  assert_etag_matches_version(r);
  assert_null(hjson_get(r->json, "client_secret"));
  http_response_free(r);
  assert_int_equal(harness_audit_count("partner.updated", p.id, g_admin.id), 1);

  json_t *bad[] = {
      json_pack("{s:s}", "client_id", "fnp_xxxxxxxxxxxxxxxxxxxxxx"),
      json_pack("{s:s}", "client_secret", "mine"),
      json_pack("{s:s}", "name", ""),
      json_pack("{s:b}", "unknown", 1),
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    r = http_json("PATCH", hpath("/v1/partners/%s", p.id), g_admin.token, bad[i]);
    assert_problem_type(r, 400, "invalid-request");
    http_response_free(r);
  }
}

/* ---------------------------------------------------------------- client-credentials grant */

static void test_grant_json_and_form(void **state) {
  (void)state;
  harness_partner p;
  harness_new_partner(g_admin.token, false, &p);

  http_response *answers[4];
  answers[0] = harness_partner_token_request(p.client_id, p.client_secret);
  answers[1] = token_json(json_pack("{s:s, s:s, s:s, s:s}", "grant_type", "client_credentials", "client_id",
                                    p.client_id, "client_secret", p.client_secret, "scope", "events:write"));
  answers[2] = token_form("client_credentials", p.client_id, p.client_secret, NULL);
  answers[3] = token_form("client_credentials", p.client_id, p.client_secret, "events:write");
  for (int i = 0; i < 4; i++) {
    http_response *r = answers[i];
    assert_status(r, 200);
    assert_header_equal(r, "Cache-Control", "no-store");
    assert_json_str(r->json, "token_type", "Bearer");
    assert_json_int(r->json, "expires_in", 900);
    assert_json_str(r->json, "scope", "events:write");
    const char *tok = hjson_str(r->json, "access_token");
    assert_non_null(tok);
    json_t *header = NULL;
    json_t *claims = harness_jwt_decode(tok, &header);
    if (!claims)
      harness_fail("the partner token does not verify with the test key: %s", tok);
    assert_json_str(claims, "typ", "partner");
    assert_json_str(claims, "sub", p.id);
    assert_json_str(claims, "scope", "events:write");
    assert_json_str(claims, "iss", "forumnet");
    assert_null(hjson_get(claims, "role"));
    json_int_t iat = json_integer_value(hjson_get(claims, "iat"));
    json_int_t exp = json_integer_value(hjson_get(claims, "exp"));
    assert_int_equal(exp - iat, 900);
    json_decref(claims);
    json_decref(header);
    /* it works where partners are welcome */
    http_response *e = http_get("/v1/events", tok);
    assert_status(e, 200);
    http_response_free(e);
    http_response_free(r);
  }

  /* the grant takes no bearer token and ignores a member's one */
  char body[512];
  snprintf(body, sizeof body, "grant_type=client_credentials&client_id=%s&client_secret=%s", p.client_id,
           p.client_secret);
  http_response *r =
      http_request("POST", "/v1/auth/token", g_practitioner.token, "application/x-www-form-urlencoded", body, NULL);
  assert_status(r, 200);
  http_response_free(r);

  /* neither JSON nor a form */
  r = http_request("POST", "/v1/auth/token", NULL, "text/plain", body, NULL);
  assert_problem_type(r, 415, "unsupported-media-type");
  http_response_free(r);
}

static void test_grant_errors(void **state) {
  (void)state;
  harness_use_unique_source_address();
  harness_partner p;
  harness_new_partner(g_admin.token, false, &p);

  /* wrong secret and unknown client: the same 401 */
  char wrong[HARNESS_ID_MAX];
  snprintf(wrong, sizeof wrong, "%s", p.client_secret);
  wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
  http_response *bad_secret = harness_partner_token_request(p.client_id, wrong);
  assert_oauth_error(bad_secret, 401, "invalid_client");
  assert_problem_type(bad_secret, 401, "unauthenticated");
  char unknown_id[HARNESS_NAME_MAX + 8], u[HARNESS_NAME_MAX]; /* unique: failures count per client_id */
  snprintf(unknown_id, sizeof unknown_id, "fnp_%s", harness_unique("unknown", u));
  http_response *unknown = harness_partner_token_request(unknown_id, wrong);
  assert_oauth_error(unknown, 401, "invalid_client");
  assert_same_problem(bad_secret, unknown);
  http_response *form_bad = token_form("client_credentials", p.client_id, "x", NULL);
  assert_oauth_error(form_bad, 401, "invalid_client");
  assert_same_problem(bad_secret, form_bad);
  http_response_free(unknown);
  http_response_free(form_bad);
  http_response_free(bad_secret);

  /* other grant types */
  http_response *r = token_json(json_pack("{s:s, s:s, s:s}", "grant_type", "password", "client_id", p.client_id,
                                          "client_secret", p.client_secret));
  assert_oauth_error(r, 400, "unsupported_grant_type");
  http_response_free(r);
  r = token_form("authorization_code", p.client_id, p.client_secret, NULL);
  assert_oauth_error(r, 400, "unsupported_grant_type");
  http_response_free(r);

  /* other scopes */
  const char *scopes[] = {"events:read", "admin", "events:write admin"};
  for (size_t i = 0; i < 3; i++) {
    r = token_json(json_pack("{s:s, s:s, s:s, s:s}", "grant_type", "client_credentials", "client_id", p.client_id,
                             "client_secret", p.client_secret, "scope", scopes[i]));
    assert_oauth_error(r, 400, "invalid_scope");
    http_response_free(r);
  }
  r = token_form("client_credentials", p.client_id, p.client_secret, "members:write");
  assert_oauth_error(r, 400, "invalid_scope");
  http_response_free(r);

  /* unknown or missing fields */
  json_t *bad[] = {
      json_pack("{s:s, s:s, s:s, s:s}", "grant_type", "client_credentials", "client_id", p.client_id, "client_secret",
                p.client_secret, "username", "someone"),
      json_pack("{s:s, s:s}", "grant_type", "client_credentials", "client_id", p.client_id),
      json_pack("{s:s, s:s}", "grant_type", "client_credentials", "client_secret", p.client_secret),
      json_pack("{s:s, s:s}", "client_id", p.client_id, "client_secret", p.client_secret),
      json_pack("{s:s, s:s, s:i}", "grant_type", "client_credentials", "client_id", p.client_id, "client_secret", 5),
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *text = json_dumps(bad[i], JSON_COMPACT);
    r = token_json(bad[i]);
    if (r->status != 400)
      harness_fail("POST /v1/auth/token %s: expected 400 invalid_request, got %ld %s", text, r->status, r->body);
    assert_oauth_error(r, 400, "invalid_request");
    free(text);
    http_response_free(r);
  }
  char body[512];
  snprintf(body, sizeof body, "grant_type=client_credentials&client_id=%s&client_secret=%s&password=x", p.client_id,
           p.client_secret);
  r = http_request("POST", "/v1/auth/token", NULL, "application/x-www-form-urlencoded", body, NULL);
  assert_oauth_error(r, 400, "invalid_request");
  http_response_free(r);

  /* after all that (3 failures), the right secret still works */
  r = harness_partner_token_request(p.client_id, p.client_secret);
  assert_status(r, 200);
  http_response_free(r);
}

static void test_grant_failures_rate_limited(void **state) {
  (void)state;
  harness_use_unique_source_address();
  harness_partner p;
  harness_new_partner(g_admin.token, false, &p);
  for (int i = 0; i < 5; i++) {
    http_response *r = harness_partner_token_request(p.client_id, "wrong-secret-wrong-secret-wrong-secret-0000");
    assert_oauth_error(r, 401, "invalid_client");
    http_response_free(r);
  }
  /* FORUMNET_LOGIN_MAX_FAILURES (5) failures for this client_id: even the right secret waits */
  http_response *r = harness_partner_token_request(p.client_id, p.client_secret);
  assert_problem_type(r, 429, "rate-limited");
  const char *ra = http_header(r, "Retry-After");
  if (!ra || atol(ra) < 1)
    harness_fail("429 without a positive Retry-After: %s", ra ? ra : "(none)");
  http_response_free(r);
  /* the token it already had still works: the limit is on token requests only */
  r = http_get("/v1/events", p.token);
  assert_status(r, 200);
  http_response_free(r);
}

/* RFC 6749 2.3.1: the client may authenticate with HTTP Basic (client_secret_basic) instead of
 * sending its credentials in the body. */
static http_response *token_basic(const char *client_id, const char *secret, const char *body) {
  char pair[256], b64[400], header[450];
  snprintf(pair, sizeof pair, "%s:%s", client_id, secret);
  sodium_bin2base64(b64, sizeof b64, (const unsigned char *)pair, strlen(pair), sodium_base64_VARIANT_ORIGINAL);
  snprintf(header, sizeof header, "Authorization: Basic %s", b64);
  const char *const headers[] = {header, NULL};
  return http_request("POST", "/v1/auth/token", NULL, "application/x-www-form-urlencoded", body, headers);
}

static void test_grant_http_basic(void **state) {
  (void)state;
  harness_use_unique_source_address();
  harness_partner p;
  harness_new_partner(g_admin.token, false, &p);
  http_response *r = token_basic(p.client_id, p.client_secret, "grant_type=client_credentials");
  assert_status(r, 200);
  json_t *claims = harness_jwt_decode(hjson_str(r->json, "access_token"), NULL);
  assert_non_null(claims);
  assert_json_str(claims, "sub", p.id);
  assert_json_str(claims, "typ", "partner");
  json_decref(claims);
  http_response_free(r);
  r = token_basic(p.client_id, p.client_secret, "grant_type=client_credentials&scope=events%3Awrite");
  assert_status(r, 200);
  http_response_free(r);
  /* a wrong secret in the header: the same 401 as in the body */
  http_response *basic = token_basic(p.client_id, "wrong", "grant_type=client_credentials");
  assert_oauth_error(basic, 401, "invalid_client");
  http_response *in_body = harness_partner_token_request(p.client_id, "wrong");
  assert_oauth_error(in_body, 401, "invalid_client");
  assert_same_problem(basic, in_body);
  http_response_free(basic);
  http_response_free(in_body);
  r = token_basic(p.client_id, p.client_secret, "grant_type=password");
  assert_oauth_error(r, 400, "unsupported_grant_type");
  http_response_free(r);
}

/* ---------------------------------------------------------------- rotation and revocation */

static void test_rotation(void **state) {
  (void)state;
  harness_use_unique_source_address();
  harness_partner p;
  harness_new_partner(g_admin.token, false, &p);
  http_response *r = http_request("POST", hpath("/v1/partners/%s/credentials", p.id), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 200);
  assert_json_str(r->json, "client_id", p.client_id);
  const char *fresh = hjson_str(r->json, "client_secret");
  if (!matches("^[A-Za-z0-9_-]{43}$", fresh))
    harness_fail("rotated client_secret should be 43 base64url characters: %s", r->body);
  assert_string_not_equal(fresh, p.client_secret);
  char old_secret[HARNESS_ID_MAX];
  snprintf(old_secret, sizeof old_secret, "%s", p.client_secret);
  snprintf(p.client_secret, sizeof p.client_secret, "%s", fresh);
  http_response_free(r);

  /* the old secret is refused at once; the new one works (JSON and form) */
  r = harness_partner_token_request(p.client_id, old_secret);
  assert_oauth_error(r, 401, "invalid_client");
  http_response_free(r);
  r = token_form("client_credentials", p.client_id, old_secret, NULL);
  assert_oauth_error(r, 401, "invalid_client");
  http_response_free(r);
  r = harness_partner_token_request(p.client_id, p.client_secret);
  assert_status(r, 200);
  http_response_free(r);
  r = token_form("client_credentials", p.client_id, p.client_secret, NULL);
  assert_status(r, 200);
  http_response_free(r);

  /* the partner record never shows either secret */
  r = http_get(hpath("/v1/partners/%s", p.id), g_admin.token);
  assert_status(r, 200);
  assert_null(strstr(r->body, old_secret));
  assert_null(strstr(r->body, p.client_secret));
  http_response_free(r);

  /* a second rotation retires the first new secret too */
  r = http_request("POST", hpath("/v1/partners/%s/credentials", p.id), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 200);
  http_response_free(r);
  r = harness_partner_token_request(p.client_id, p.client_secret);
  assert_oauth_error(r, 401, "invalid_client");
  http_response_free(r);

  assert_int_equal(audit_rows("partner.credentials_rotated", p.id, "member", g_admin.id), 2);
}

static void test_revocation(void **state) {
  (void)state;
  harness_use_unique_source_address();
  harness_partner p;
  harness_new_partner(g_admin.token, false, &p);
  char event_id[HARNESS_ID_MAX];
  json_decref(harness_new_event(p.token, harness_event_body("seminar", 86400 * 3, 3600, g_site), event_id));
  http_response *r = http_get("/v1/events", p.token);
  assert_status(r, 200);
  http_response_free(r);

  r = http_request("DELETE", hpath("/v1/partners/%s", p.id), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);

  /* the token issued before the revocation stops working at once, everywhere */
  r = http_get("/v1/events", p.token);
  assert_unauthenticated(r);
  http_response_free(r);
  r = http_get(hpath("/v1/events/%s", event_id), p.token);
  assert_unauthenticated(r);
  http_response_free(r);
  r = http_json("POST", "/v1/events", p.token, harness_event_body("seminar", 86400 * 3, 3600, g_site));
  assert_unauthenticated(r);
  http_response_free(r);
  r = http_json("PATCH", hpath("/v1/events/%s", event_id), p.token, json_pack("{s:s}", "title", "After revocation"));
  assert_unauthenticated(r);
  http_response_free(r);
  r = http_request("DELETE", hpath("/v1/events/%s", event_id), p.token, NULL, NULL, NULL);
  assert_unauthenticated(r);
  http_response_free(r);
  r = http_get("/v1/events.ics", p.token);
  assert_unauthenticated(r);
  http_response_free(r);
  /* so does any other validly signed token for it */
  char *forged = forge_partner_token(p.id, "partner", "events:write");
  r = http_get("/v1/events", forged);
  assert_unauthenticated(r);
  http_response_free(r);
  free(forged);

  /* and the secret: the same answer as a wrong one */
  http_response *revoked = harness_partner_token_request(p.client_id, p.client_secret);
  assert_oauth_error(revoked, 401, "invalid_client");
  http_response *wrong = harness_partner_token_request(p.client_id, "not-the-secret");
  assert_oauth_error(wrong, 401, "invalid_client");
  assert_same_problem(revoked, wrong);
  http_response_free(revoked);
  http_response_free(wrong);

  /* the record says so; repeat DELETE 204; no rotation for a revoked partner */
  r = http_get(hpath("/v1/partners/%s", p.id), g_admin.token);
  assert_status(r, 200);
  assert_true(harness_is_rfc3339_utc(hjson_str(r->json, "revoked_at")));
  http_response_free(r);
  r = http_request("DELETE", hpath("/v1/partners/%s", p.id), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  r = http_request("POST", hpath("/v1/partners/%s/credentials", p.id), g_admin.token, NULL, NULL, NULL);
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  r = harness_partner_token_request(p.client_id, p.client_secret);
  assert_oauth_error(r, 401, "invalid_client");
  http_response_free(r);

  assert_true(audit_rows("partner.revoked", p.id, "member", g_admin.id) >= 1);
  /* its event is still there for the admin */
  json_decref(harness_event_get(event_id, g_admin.token));
}

/* ---------------------------------------------------------------- token kinds */

static void test_partner_token_on_member_routes(void **state) {
  (void)state;
  harness_partner p;
  harness_new_partner(g_admin.token, true, &p);
  char event_id[HARNESS_ID_MAX];
  json_decref(harness_new_event(p.token, harness_event_body("workshop", 86400 * 4, 3600, g_site), event_id));
  const char *gets[] = {"/v1/me", "/v1/sites", "/v1/members", "/v1/groups", "/v1/consultations"};
  for (size_t i = 0; i < sizeof gets / sizeof gets[0]; i++) {
    http_response *r = http_get(gets[i], p.token);
    assert_unauthenticated(r);
    http_response_free(r);
  }
  http_response *r = http_get(hpath("/v1/sites/%s", g_site), p.token);
  assert_unauthenticated(r);
  http_response_free(r);
  r = http_json("PATCH", "/v1/me", p.token, json_pack("{s:s}", "display_name", "Partner"));
  assert_unauthenticated(r);
  http_response_free(r);
  r = http_json("PUT", hpath("/v1/events/%s/registration", event_id), p.token, json_pack("{s:s}", "status", "going"));
  assert_unauthenticated(r);
  http_response_free(r);
  r = http_json("POST", "/v1/members", p.token,
                json_pack("{s:s, s:s, s:s}", "email", "p@test.example", "display_name", "P", "role", "admin"));
  assert_unauthenticated(r);
  http_response_free(r);
}

static void test_member_token_is_not_partner_token(void **state) {
  (void)state;
  harness_partner p;
  harness_new_partner(g_admin.token, false, &p);

  /* a practitioner's real token: a member, who may not post events */
  http_response *r =
      http_json("POST", "/v1/events", g_practitioner.token, harness_event_body("seminar", 86400 * 5, 3600, g_site));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  /* even with a scope claim added, an access token stays a member token */
  /* iat_ms as the server issues it: without it the token counts as issued at the start of its iat second, which
   * may be before the practitioner's credentials were set, and the token would be refused for that (401). */
  int64_t now_ms = harness_epoch_ms();
  long now = (long)(now_ms / 1000);
  json_t *claims = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s}", "iss", "forumnet", "aud",
                             "forumnet-api", "sub", g_practitioner.id, "typ", "access", "role", "practitioner", "scope",
                             "events:write", "iat", (json_int_t)now, "iat_ms", (json_int_t)now_ms, "nbf",
                             (json_int_t)now, "exp", (json_int_t)(now + 600), "jti", "e2e-scoped-access");
  json_t *header = json_pack("{s:s}", "kid", "k1");
  char *scoped = harness_jwt_sign("HS256", HARNESS_JWT_SECRET, HARNESS_JWT_SECRET_LEN, header, claims);
  json_decref(claims);
  r = http_json("POST", "/v1/events", scoped, harness_event_body("seminar", 86400 * 5, 3600, g_site));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  free(scoped);
  /* an access token whose subject is a partner: no such member */
  claims = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "iss", "forumnet", "aud", "forumnet-api", "sub",
                     p.id, "typ", "access", "role", "admin", "iat", (json_int_t)now, "nbf", (json_int_t)now, "exp",
                     (json_int_t)(now + 600), "jti", "e2e-partner-as-member");
  char *as_member = harness_jwt_sign("HS256", HARNESS_JWT_SECRET, HARNESS_JWT_SECRET_LEN, header, claims);
  json_decref(claims);
  json_decref(header);
  r = http_get("/v1/events", as_member);
  assert_unauthenticated(r);
  http_response_free(r);
  r = http_json("POST", "/v1/events", as_member, harness_event_body("seminar", 86400 * 5, 3600, g_site));
  assert_unauthenticated(r);
  http_response_free(r);
  free(as_member);

  /* forged partner tokens, validly signed: without the scope, with another scope, or another typ */
  struct {
    const char *sub, *typ, *scope;
  } forged[] = {
      {p.id, "partner", NULL},
      {p.id, "partner", "events:read"},
      {p.id, "partner", ""},
      {p.id, "refresh", "events:write"},
      {p.id, "Partner", "events:write"},
      {g_admin.id, "partner", "events:write"}, /* a member's id is no partner */
      {UNKNOWN_UUID, "partner", "events:write"},
  };
  for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
    char *t = forge_partner_token(forged[i].sub, forged[i].typ, forged[i].scope);
    r = http_get("/v1/events", t);
    if (r->status != 401)
      harness_fail("forged token #%zu (sub %s, typ %s, scope %s): GET /v1/events expected 401, got %ld %s", i,
                   forged[i].sub, forged[i].typ, forged[i].scope ? forged[i].scope : "(none)", r->status, r->body);
    assert_unauthenticated(r);
    http_response_free(r);
    r = http_json("POST", "/v1/events", t, harness_event_body("seminar", 86400 * 5, 3600, g_site));
    assert_unauthenticated(r);
    http_response_free(r);
    r = http_get("/v1/me", t);
    assert_unauthenticated(r);
    http_response_free(r);
    free(t);
  }
  /* the control: the same forging with the right claims is accepted (the key is the server's) */
  char *good = forge_partner_token(p.id, "partner", "events:write");
  r = http_get("/v1/events", good);
  assert_status(r, 200);
  http_response_free(r);
  free(good);
}

/* ---------------------------------------------------------------- audit rows of events */

static void test_event_audit_rows(void **state) {
  (void)state;
  harness_partner p;
  harness_new_partner(g_admin.token, false, &p);
  char id[HARNESS_ID_MAX];
  json_t *e = harness_new_event(p.token, harness_event_body("seminar", 86400 * 6, 3600, g_site), id);
  assert_json_str(e, "status", "pending");
  json_decref(e);
  assert_int_equal(audit_rows("event.created", id, "partner", p.id), 1);
  harness_event_publish(id, g_manager.token);
  assert_int_equal(audit_rows("event.published", id, "member", g_manager.id), 1);
  http_response *r = http_request("DELETE", hpath("/v1/events/%s", id), p.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  assert_int_equal(audit_rows("event.cancelled", id, "partner", p.id), 1);

  /* an admin cancelling a manager's event */
  json_decref(harness_new_event(g_manager.token, harness_event_body("workshop", 86400 * 6, 3600, g_site), id));
  assert_int_equal(audit_rows("event.created", id, "member", g_manager.id), 1);
  r = http_request("DELETE", hpath("/v1/events/%s", id), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  assert_int_equal(audit_rows("event.cancelled", id, "member", g_admin.id), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_create_shows_secret_once),
      cmocka_unit_test(test_create_trusted_and_validation),
      cmocka_unit_test(test_admin_only),
      cmocka_unit_test(test_patch_partner),
      cmocka_unit_test(test_grant_json_and_form),
      cmocka_unit_test(test_grant_errors),
      cmocka_unit_test(test_grant_http_basic),
      cmocka_unit_test(test_grant_failures_rate_limited),
      cmocka_unit_test(test_rotation),
      cmocka_unit_test(test_revocation),
      cmocka_unit_test(test_partner_token_on_member_routes),
      cmocka_unit_test(test_member_token_is_not_partner_token),
      cmocka_unit_test(test_event_audit_rows),
  };
  return cmocka_run_group_tests(tests, group_setup, harness_suite_teardown);
}
