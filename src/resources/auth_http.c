/* /v1/auth: login, refresh-token rotation and logout (API.md section 3). */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forumnet/audit_db.h"
#include "forumnet/auth_db.h"
#include "forumnet/body.h"
#include "forumnet/http.h"
#include "forumnet/members_db.h"
#include "forumnet/partners_db.h"
#include "forumnet/password.h"
#include "forumnet/routes.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"
#include "forumnet/token.h"

static const field_spec login_fields[] = {
    {"email", FIELD_STRING, FIELD_REQUIRED, 1, 254, NULL},
    {"password", FIELD_STRING, FIELD_REQUIRED, 1, PASSWORD_MAX_BYTES, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

static const field_spec refresh_fields[] = {
    {"refresh_token", FIELD_STRING, FIELD_REQUIRED, 0, 4096, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

#define INVALID_LOGIN "Invalid email or password."
#define INVALID_REFRESH "The refresh token is invalid, expired or revoked."

/* Stores a new refresh token in the chain (NULL: a new chain), commits the request's
 * transaction and replies with a fresh token pair and the member. */
static void issue_tokens(fn_req *req, db_conn *db, const char *member_id, const char *role, const char *chain_id) {
  char refresh[64], digest[65];
  char *member_json = NULL, *access = NULL;
  long version;
  fn_status st;
  random_token(refresh, sizeof refresh, 32);
  token_digest_hex(refresh, digest);
  token_claims claims = {0};
  snprintf(claims.sub, sizeof claims.sub, "%s", member_id);
  snprintf(claims.typ, sizeof claims.typ, "%s", TOKEN_TYPE_ACCESS);
  snprintf(claims.role, sizeof claims.role, "%s", role);
  claims.iat_ms = token_now_ms();
  if ((st = auth_db_insert_refresh(db, digest, chain_id, member_id, req->app->cfg.refresh_token_ttl)) != FN_OK ||
      (st = members_db_get_self(db, member_id, &member_json, &version)) != FN_OK ||
      (st = token_issue(&req->app->cfg, &claims, req->app->cfg.access_token_ttl, (time_t)(claims.iat_ms / 1000),
                        &access)) != FN_OK ||
      (st = db_commit(db)) != FN_OK) {
    free(member_json);
    free(access);
    req_fail(req, st, st == FN_UNAUTHENTICATED ? INVALID_LOGIN : NULL);
    return;
  }
  json_t *member = json_loads(member_json, 0, NULL);
  json_t *body = json_pack("{s:s, s:s, s:I, s:s, s:o}", "access_token", access, "token_type", "Bearer", "expires_in",
                           (json_int_t)req->app->cfg.access_token_ttl, "refresh_token", refresh, "member",
                           member ? member : json_object());
  free(member_json);
  free(access);
  reply_json(req, 200, body);
}

/* login_failures never holds what was typed as an email (it may be a password typed into the
 * wrong field): the bucket is a BLAKE2b of the lowercased text, keyed with a key derived from
 * the server's signing secret. */
#define EMAIL_BUCKET_LEN (6 + 2 * 32 + 1)
static void email_bucket_of(const fn_config *cfg, const char *email, char out[EMAIL_BUCKET_LEN]) {
  static const char context[] = "forumnet login_failures email key v1";
  unsigned char key[crypto_generichash_KEYBYTES], digest[32];
  char lower[256];
  size_t n = 0;
  crypto_generichash_state state;
  crypto_generichash_init(&state, NULL, 0, sizeof key);
  crypto_generichash_update(&state, (const unsigned char *)context, sizeof context);
  crypto_generichash_update(&state, cfg->jwt_secret, cfg->jwt_secret_len);
  crypto_generichash_final(&state, key, sizeof key);
  for (const char *p = email; *p && n < sizeof lower; p++) /* at most 254 bytes (login_fields) */
    lower[n++] = (char)tolower((unsigned char)*p);
  crypto_generichash(digest, sizeof digest, (const unsigned char *)lower, n, key, sizeof key);
  memcpy(out, "email:", 6);
  sodium_bin2hex(out + 6, EMAIL_BUCKET_LEN - 6, digest, sizeof digest);
  sodium_memzero(key, sizeof key);
}

/* Claims this attempt in the key's and the address's windows before any credential is
 * checked (and purges ended windows). 0 when it replied: 429 over a limit, or an error. */
static int claim_attempt(fn_req *req, db_conn *db, const char *key_bucket, const char *address_bucket,
                         const char *limited_detail) {
  const fn_config *cfg = &req->app->cfg;
  long retry_after = 0;
  fn_status st;
  if ((st = auth_db_purge_attempts(db, cfg->login_window_seconds)) != FN_OK ||
      (st = auth_db_claim_attempt(db, key_bucket, address_bucket, cfg->login_window_seconds,
                                  cfg->login_max_failures_per_email, cfg->login_max_failures_per_address,
                                  &retry_after)) != FN_OK) {
    req_fail(req, st, NULL);
    return 0;
  }
  if (retry_after > 0) {
    char seconds[24];
    snprintf(seconds, sizeof seconds, "%ld", retry_after);
    reply_problem(req, FN_RATE_LIMITED, limited_detail);
    reply_header(req, "Retry-After", seconds);
    return 0;
  }
  return 1;
}

static fn_status auth_http_login(fn_req *req) {
  if (req_validate_body_or_reply(req, login_fields) != FN_OK)
    return FN_OK;
  const char *email = body_string(req->body, "email");
  const char *password = body_string(req->body, "password");
  char email_bucket[EMAIL_BUCKET_LEN], address_bucket[96];
  email_bucket_of(&req->app->cfg, email, email_bucket);
  snprintf(address_bucket, sizeof address_bucket, "addr:%s", req->client_address);

  login_account account;
  fn_status st;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL || !claim_attempt(req, db, email_bucket, address_bucket, "Too many failed logins. Try again later."))
    return FN_OK;
  if ((st = auth_db_find_login(db, email, &account)) != FN_OK) {
    req_fail(req, st, NULL);
    return FN_OK;
  }
  /* Argon2id takes tens of milliseconds: do not hold a pooled connection meanwhile. */
  req_db_release(req);
  int active = account.found && strcmp(account.status, "active") == 0 && !account.one_time_password_expired;
  int ok = password_verify(active ? account.password_hash : NULL, password) && active;

  if ((db = req_db_or_reply(req)) == NULL)
    return FN_OK;
  if (!ok) { /* the attempt was counted when claimed */
    req_fail(req, FN_UNAUTHENTICATED, INVALID_LOGIN);
    return FN_OK;
  }
  if ((st = auth_db_attempt_succeeded(db, email_bucket, address_bucket)) != FN_OK || (st = db_begin(db)) != FN_OK) {
    req_fail(req, st, NULL);
    return FN_OK;
  }
  issue_tokens(req, db, account.id, account.role, NULL);
  return FN_OK;
}

static fn_status auth_http_refresh(fn_req *req) {
  if (req_validate_body_or_reply(req, refresh_fields) != FN_OK)
    return FN_OK;
  char digest[65];
  refresh_token_row token;
  fn_status st;
  token_digest_hex(body_string(req->body, "refresh_token"), digest);
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = db_begin(db)) != FN_OK || (st = auth_db_lock_refresh(db, digest, &token)) != FN_OK) {
    req_fail(req, st == FN_NOT_FOUND ? FN_UNAUTHENTICATED : st, INVALID_REFRESH);
    return FN_OK;
  }
  if (token.revoked) { /* an ended session (logout, password change, suspension, reuse): not reuse */
    req_fail(req, FN_UNAUTHENTICATED, INVALID_REFRESH);
    return FN_OK;
  }
  if (token.used) {
    /* A rotated token of a live chain presented again means it was copied: end the chain. */
    json_t *details = json_pack("{s:s}", "chain_id", token.chain_id);
    if ((st = auth_db_revoke_chain(db, token.chain_id)) == FN_OK &&
        (st = req_audit(req, "auth.refresh_reuse", "member", token.member_id, details)) == FN_OK)
      st = db_commit(db);
    json_decref(details);
    req_fail(req, st == FN_OK ? FN_UNAUTHENTICATED : st, INVALID_REFRESH);
    return FN_OK;
  }
  if (token.expired || !token.member_active) {
    req_fail(req, FN_UNAUTHENTICATED, INVALID_REFRESH);
    return FN_OK;
  }
  if ((st = auth_db_mark_refresh_used(db, token.id)) != FN_OK) {
    req_fail(req, st, NULL);
    return FN_OK;
  }
  issue_tokens(req, db, token.member_id, token.member_role, token.chain_id);
  return FN_OK;
}

static fn_status auth_http_logout(fn_req *req) {
  if (req_validate_body_or_reply(req, refresh_fields) != FN_OK)
    return FN_OK;
  char digest[65];
  token_digest_hex(body_string(req->body, "refresh_token"), digest);
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  fn_status st = auth_db_revoke_chain_of(db, digest);
  if (st != FN_OK)
    req_fail(req, st, NULL);
  else
    reply_empty(req, 204);
  return FN_OK;
}

/* OAuth 2.0 errors (RFC 6749 5.2) ride in the problem document as an "error" member. */
static void reply_oauth_error(fn_req *req, fn_status st, const char *error, const char *detail) {
  if (req->db)
    db_rollback(req->db);
  reply_problem_with(req, st, detail, json_pack("{s:s}", "error", error));
}

static const field_spec token_fields[] = {
    {"grant_type", FIELD_STRING, FIELD_REQUIRED, 1, 64, NULL},
    {"client_id", FIELD_STRING, 0, 1, 128, NULL},
    {"client_secret", FIELD_STRING, 0, 1, 256, NULL},
    {"scope", FIELD_STRING, 0, 0, 128, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

#define PARTNER_SCOPE "events:write"

/* POST /v1/auth/token: the client-credentials grant for partner systems. */
static fn_status auth_http_token(fn_req *req) {
  json_t *errors = NULL;
  if (body_validate(req->body, token_fields, &errors) != FN_OK) {
    json_decref(errors);
    reply_oauth_error(req, FN_INVALID, "invalid_request",
                      "Send grant_type, client_id and client_secret (and optionally scope), nothing else.");
    return FN_OK;
  }
  /* Client authentication by HTTP Basic (RFC 6749 2.3.1) or in the body, never both. */
  const char *client_id = body_string(req->body, "client_id");
  const char *client_secret = body_string(req->body, "client_secret");
  const char *basic_user, *basic_password;
  if (req_basic_credentials(req, &basic_user, &basic_password)) {
    if (client_id || client_secret) {
      reply_oauth_error(req, FN_INVALID, "invalid_request",
                        "Authenticate the client by Basic or in the body, not both.");
      return FN_OK;
    }
    client_id = basic_user;
    client_secret = basic_password;
  }
  if (client_id == NULL || client_secret == NULL) {
    reply_oauth_error(req, FN_INVALID, "invalid_request", "Send client_id and client_secret (or HTTP Basic).");
    return FN_OK;
  }
  const char *scope = body_string(req->body, "scope");
  if (strcmp(body_string(req->body, "grant_type"), "client_credentials") != 0) {
    reply_oauth_error(req, FN_INVALID, "unsupported_grant_type", "Only grant_type=client_credentials is supported.");
    return FN_OK;
  }
  if (scope && *scope && strcmp(scope, PARTNER_SCOPE) != 0) {
    reply_oauth_error(req, FN_INVALID, "invalid_scope", "The only scope is events:write.");
    return FN_OK;
  }
  const fn_config *cfg = &req->app->cfg;
  /* Failures are counted per client *and* address: client ids are not secret, so counting per
   * client alone would let anyone lock a partner out. */
  char client_bucket[256], address_bucket[96], digest[65];
  snprintf(client_bucket, sizeof client_bucket, "client:%.128s|%s", client_id, req->client_address);
  snprintf(address_bucket, sizeof address_bucket, "addr:%s", req->client_address);
  token_digest_hex(client_secret, digest);
  partner_client client;
  fn_status st;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL ||
      !claim_attempt(req, db, client_bucket, address_bucket, "Too many failed token requests. Try again later."))
    return FN_OK;
  if ((st = partners_db_find_client(db, client_id, &client)) != FN_OK) {
    req_fail(req, st, NULL);
    return FN_OK;
  }
  /* Digests are compared in constant time (no slow hash is involved: secrets are 32 random bytes). */
  int ok = client.found && !client.revoked && sodium_memcmp(client.secret_digest, digest, sizeof digest - 1) == 0;
  if (!ok) { /* the attempt was counted when claimed */
    reply_oauth_error(req, FN_UNAUTHENTICATED, "invalid_client", "Unknown client, wrong secret, or revoked client.");
    if (basic_user) /* RFC 6749 5.2: challenge with the scheme the client used */
      reply_header(req, "WWW-Authenticate", "Basic realm=\"forumnet\"");
    return FN_OK;
  }
  token_claims claims = {0};
  char *access = NULL;
  snprintf(claims.sub, sizeof claims.sub, "%s", client.id);
  snprintf(claims.typ, sizeof claims.typ, "%s", TOKEN_TYPE_PARTNER);
  snprintf(claims.scope, sizeof claims.scope, "%s", PARTNER_SCOPE);
  claims.iat_ms = token_now_ms();
  if ((st = auth_db_attempt_succeeded(db, client_bucket, address_bucket)) != FN_OK ||
      (st = token_issue(cfg, &claims, cfg->access_token_ttl, (time_t)(claims.iat_ms / 1000), &access)) != FN_OK) {
    req_fail(req, st, NULL);
    return FN_OK;
  }
  reply_json(req, 200,
             json_pack("{s:s, s:s, s:I, s:s}", "access_token", access, "token_type", "Bearer", "expires_in",
                       (json_int_t)cfg->access_token_ttl, "scope", PARTNER_SCOPE));
  free(access);
  return FN_OK;
}

const fn_route auth_routes[] = {
    {"POST", "/v1/auth/token", auth_http_token, ROUTE_PUBLIC | ROUTE_JSON_BODY | ROUTE_FORM_BODY},
    {"POST", "/v1/auth/login", auth_http_login, ROUTE_PUBLIC | ROUTE_JSON_BODY},
    {"POST", "/v1/auth/refresh", auth_http_refresh, ROUTE_PUBLIC | ROUTE_JSON_BODY},
    {"POST", "/v1/auth/logout", auth_http_logout, ROUTE_PUBLIC | ROUTE_JSON_BODY},
    {NULL, NULL, NULL, 0},
};
