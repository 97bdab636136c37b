/* /v1/auth: login, refresh-token rotation and logout (API.md section 3). */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forumnet/auth_db.h"
#include "forumnet/auth_http.h"
#include "forumnet/body.h"
#include "forumnet/http.h"
#include "forumnet/mail_db.h"
#include "forumnet/members_db.h"
#include "forumnet/partners_db.h"
#include "forumnet/password.h"
#include "forumnet/routes.h"
#include "forumnet/text.h"
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
#define PARTNER_SCOPE "events:write"
/* The scopes a partner may hold (partners.scopes); a token request without scope asks for PARTNER_SCOPE. */
static const char *const partner_scopes[] = {PARTNER_SCOPE, "webhooks:manage", NULL};

/* 1 when every word of the space-separated scope is a known scope. */
static int known_scopes(const char *scope) {
  char word[64];
  for (const char *p = scope; *p;) {
    size_t n = strcspn(p, " ");
    if (n >= sizeof word)
      return 0;
    memcpy(word, p, n);
    word[n] = '\0';
    if (n > 0 && !text_is_choice(word, partner_scopes))
      return 0;
    p += n;
    p += strspn(p, " ");
  }
  return 1;
}

/* The scopes asked for (PARTNER_SCOPE when none) that the partner holds, space-separated, in a fixed order. */
static void granted_scopes(const char *asked, const char *held, char out[64]) {
  size_t len = 0;
  out[0] = '\0';
  if (asked == NULL || *asked == '\0')
    asked = PARTNER_SCOPE;
  for (int i = 0; partner_scopes[i]; i++)
    if (text_has_word(asked, partner_scopes[i]) && text_has_word(held, partner_scopes[i]))
      len += (size_t)snprintf(out + len, 64 - len, "%s%s", len ? " " : "", partner_scopes[i]);
}

/* A signed access token issued now: a member's (role) or a partner's (scope). *access: caller frees. */
static fn_status issue_access_token(const fn_config *cfg, const char *sub, const char *typ, const char *role,
                                    const char *scope, char **access) {
  token_claims claims = {0};
  snprintf(claims.sub, sizeof claims.sub, "%s", sub);
  snprintf(claims.typ, sizeof claims.typ, "%s", typ);
  snprintf(claims.role, sizeof claims.role, "%s", role);
  snprintf(claims.scope, sizeof claims.scope, "%s", scope);
  claims.iat_ms = token_now_ms();
  return token_issue(cfg, &claims, cfg->access_token_ttl, (time_t)(claims.iat_ms / 1000), access);
}

fn_status auth_tokens_commit_reply(fn_req *req, db_conn *db, const char *member_id, const char *role,
                                   const char *chain_id) {
  const fn_config *cfg = &req->app->cfg;
  char refresh[64], digest[65];
  char *access = NULL;
  db_representation self = {NULL, 0};
  fn_status st;
  random_token(refresh, sizeof refresh, 32);
  token_digest_hex(refresh, digest);
  if ((st = auth_db_insert_refresh(db, digest, chain_id, member_id, cfg->refresh_token_ttl)) != FN_OK ||
      (st = members_db_get_self(db, member_id, &self)) != FN_OK ||
      (st = issue_access_token(cfg, member_id, TOKEN_TYPE_ACCESS, role, "", &access)) != FN_OK ||
      (st = db_commit(db)) != FN_OK) {
    free(self.json);
    free(access);
    return req_problem(req, st, st == FN_UNAUTHENTICATED ? INVALID_LOGIN : NULL);
  }
  json_t *member = json_loads(self.json, 0, NULL);
  json_t *body =
      json_pack("{s:s, s:s, s:I, s:s, s:o}", "access_token", access, "token_type", "Bearer", "expires_in",
                (json_int_t)cfg->access_token_ttl, "refresh_token", refresh, "member", member ? member : json_object());
  free(self.json);
  free(access);
  reply_json(req, 200, body);
  return FN_OK;
}

/* login_failures never holds what was typed as an email (it may be a password typed into the
 * wrong field): the bucket is a BLAKE2b of the lowercased text, keyed with a key derived from
 * the server's signing secret. */
#define EMAIL_BUCKET_LEN (6 + 2 * 32 + 1)
static void email_bucket_of(const fn_config *cfg, const char *prefix, const char *email, char out[EMAIL_BUCKET_LEN]) {
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
  memcpy(out, prefix, 6); /* "email:" (logins) or "reset:" (password resets) */
  sodium_bin2hex(out + 6, EMAIL_BUCKET_LEN - 6, digest, sizeof digest);
  sodium_memzero(key, sizeof key);
}

/* Claims this attempt in the key's and the address's windows before any credential is checked
 * (and purges ended windows): FN_RATE_LIMITED over a limit, with Retry-After on the reply. */
static fn_status claim_attempt(fn_req *req, db_conn *db, const char *key_bucket, const char *address_bucket,
                               const char *limited_detail) {
  const fn_config *cfg = &req->app->cfg;
  long retry_after = 0;
  fn_status st;
  if ((st = auth_db_purge_attempts(db, cfg->login_window_seconds)) != FN_OK ||
      (st = auth_db_claim_attempt(db, key_bucket, address_bucket, cfg->login_window_seconds,
                                  cfg->login_max_failures_per_email, cfg->login_max_failures_per_address,
                                  &retry_after)) != FN_OK)
    return st;
  if (retry_after > 0) {
    char seconds[24];
    snprintf(seconds, sizeof seconds, "%ld", retry_after);
    req_problem_header(req, "Retry-After", seconds);
    return req_problem(req, FN_RATE_LIMITED, limited_detail);
  }
  return FN_OK;
}

static fn_status auth_http_login(fn_req *req) {
  const char *email = body_string(req->body, "email");
  const char *password = body_string(req->body, "password");
  char email_bucket[EMAIL_BUCKET_LEN], address_bucket[96];
  login_account account;
  db_conn *db;
  fn_status st;
  if ((st = req_validate_body(req, login_fields, BODY_CREATE)) != FN_OK)
    return st;
  email_bucket_of(&req->app->cfg, "email:", email, email_bucket);
  snprintf(address_bucket, sizeof address_bucket, "addr:%s", req->client_address);
  if ((st = req_db(req, &db)) != FN_OK ||
      (st = claim_attempt(req, db, email_bucket, address_bucket, "Too many failed logins. Try again later.")) !=
          FN_OK ||
      (st = auth_db_find_login(db, email, &account)) != FN_OK)
    return st;
  /* Argon2id takes tens of milliseconds: do not hold a pooled connection meanwhile. */
  req_db_release(req);
  int active = account.found && strcmp(account.status, "active") == 0 && !account.one_time_password_expired;
  int ok = password_verify(active ? account.password_hash : NULL, password) && active;
  if ((st = req_db(req, &db)) != FN_OK)
    return st;
  if (!ok) /* the attempt was counted when claimed */
    return req_problem(req, FN_UNAUTHENTICATED, INVALID_LOGIN);
  if ((st = auth_db_attempt_succeeded(db, email_bucket, address_bucket)) != FN_OK || (st = db_begin(db)) != FN_OK)
    return st;
  return auth_tokens_commit_reply(req, db, account.id, account.role, NULL);
}

/* The refresh token presented, locked; every way it can fail is the same 401. */
static fn_status lock_refresh(fn_req *req, db_conn *db, refresh_token_row *token) {
  char digest[65];
  fn_status st;
  token_digest_hex(body_string(req->body, "refresh_token"), digest);
  if ((st = db_begin(db)) != FN_OK || (st = auth_db_lock_refresh(db, digest, token)) != FN_OK)
    return req_problem(req, st == FN_NOT_FOUND ? FN_UNAUTHENTICATED : st, INVALID_REFRESH);
  if (token->revoked) /* an ended session (logout, password change, suspension, reuse): not reuse */
    return req_problem(req, FN_UNAUTHENTICATED, INVALID_REFRESH);
  if (token->used) {
    /* A rotated token of a live chain presented again means it was copied: end the chain. */
    json_t *details = json_pack("{s:s}", "chain_id", token->chain_id);
    if ((st = auth_db_revoke_chain(db, token->chain_id)) == FN_OK &&
        (st = req_audit(req, "auth.refresh_reuse", "member", token->member_id, details)) == FN_OK)
      st = db_commit(db);
    json_decref(details);
    return req_problem(req, st == FN_OK ? FN_UNAUTHENTICATED : st, INVALID_REFRESH);
  }
  if (token->expired || !token->member_active)
    return req_problem(req, FN_UNAUTHENTICATED, INVALID_REFRESH);
  return FN_OK;
}

static fn_status auth_http_refresh(fn_req *req) {
  refresh_token_row token;
  db_conn *db;
  fn_status st;
  if ((st = req_validate_body(req, refresh_fields, BODY_CREATE)) != FN_OK || (st = req_db(req, &db)) != FN_OK ||
      (st = lock_refresh(req, db, &token)) != FN_OK || (st = auth_db_mark_refresh_used(db, token.id)) != FN_OK)
    return st;
  return auth_tokens_commit_reply(req, db, token.member_id, token.member_role, token.chain_id);
}

static fn_status auth_http_logout(fn_req *req) {
  char digest[65];
  db_conn *db;
  fn_status st;
  if ((st = req_validate_body(req, refresh_fields, BODY_CREATE)) != FN_OK)
    return st;
  token_digest_hex(body_string(req->body, "refresh_token"), digest);
  if ((st = req_db(req, &db)) != FN_OK || (st = auth_db_revoke_chain_of(db, digest)) != FN_OK)
    return st;
  reply_empty(req, 204);
  return FN_OK;
}

static const field_spec reset_fields[] = {
    {"email", FIELD_EMAIL, FIELD_REQUIRED, 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

/* POST /v1/auth/password-reset: always 202, and the same work whether the email is known or not (one
 * statement queues the link for an active member, or finds none); rate limited like login, in buckets of
 * its own ("reset:" keyed email digest, "reset-addr:" client address) so resets never lock logins out. */
static fn_status auth_http_password_reset(fn_req *req) {
  char email_bucket[EMAIL_BUCKET_LEN], address_bucket[96];
  int queued = 0;
  db_conn *db;
  fn_status st;
  if ((st = req_validate_body(req, reset_fields, BODY_CREATE)) != FN_OK)
    return st;
  const char *email = body_string(req->body, "email");
  email_bucket_of(&req->app->cfg, "reset:", email, email_bucket);
  snprintf(address_bucket, sizeof address_bucket, "reset-addr:%s", req->client_address);
  if ((st = req_db(req, &db)) != FN_OK ||
      (st = claim_attempt(req, db, email_bucket, address_bucket,
                          "Too many password reset requests. Try again later.")) != FN_OK ||
      (st = mail_db_queue_password_link(&req->app->cfg, db, email, PASSWORD_LINK_RESET, &queued)) != FN_OK)
    return st;
  reply_empty(req, 202);
  return FN_OK;
}

static const field_spec reset_confirm_fields[] = {
    {"token", FIELD_STRING, FIELD_REQUIRED, 1, 128, NULL},
    {"new_password", FIELD_STRING, FIELD_REQUIRED, 1, PASSWORD_MAX_BYTES, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

#define INVALID_RESET "The link is invalid, used or expired; ask for a new one."

/* POST /v1/auth/password-reset/confirm: a valid link sets the password and ends every session and access
 * token of the member (a credential change); an unknown, used or expired link is 400. */
static fn_status auth_http_password_reset_confirm(fn_req *req) {
  char hash[PASSWORD_HASH_MAX], digest[65], member_id[UUID_TEXT_SIZE];
  const char *policy;
  int found = 0;
  db_conn *db;
  fn_status st;
  if ((st = req_validate_body(req, reset_confirm_fields, BODY_CREATE)) != FN_OK)
    return st;
  if ((policy = password_policy_error(body_string(req->body, "new_password"))) != NULL)
    return req_invalid_field(req, "new_password", policy);
  /* Argon2id before taking a connection: it is slow on purpose. */
  if ((st = password_hash(body_string(req->body, "new_password"), hash)) != FN_OK)
    return st;
  token_digest_hex(body_string(req->body, "token"), digest);
  if ((st = req_db(req, &db)) != FN_OK || (st = db_begin(db)) != FN_OK ||
      (st = mail_db_use_password_link(db, digest, member_id, &found)) != FN_OK)
    return st;
  if (!found)
    return req_problem(req, FN_INVALID, INVALID_RESET);
  if ((st = members_db_set_password(db, member_id, hash)) != FN_OK ||
      (st = auth_db_revoke_member(db, member_id)) != FN_OK ||
      (st = req_audit(req, "member.password_reset", "member", member_id, NULL)) != FN_OK ||
      (st = db_commit(db)) != FN_OK)
    return st;
  reply_empty(req, 204);
  return FN_OK;
}

/* OAuth 2.0 errors (RFC 6749 5.2) ride in the problem document as an "error" member. */
static fn_status oauth_error(fn_req *req, fn_status st, const char *error, const char *detail) {
  return req_problem_with(req, st, detail, json_pack("{s:s}", "error", error));
}

/* RFC 6749 5.2: a 401 challenges with the scheme the client used (the request layer's is Bearer). */
static fn_status basic_challenge(fn_req *req, fn_status st) {
  req_problem_header(req, "WWW-Authenticate", "Basic realm=\"forumnet\"");
  return st;
}

static const field_spec token_fields[] = {
    {"grant_type", FIELD_STRING, FIELD_REQUIRED, 1, 64, NULL},
    {"client_id", FIELD_STRING, 0, 1, 128, NULL},
    {"client_secret", FIELD_STRING, 0, 1, 256, NULL},
    {"scope", FIELD_STRING, 0, 0, 128, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

/* The client's credentials, by HTTP Basic (RFC 6749 2.3.1) or in the body, never both; the grant
 * and the scope asked for. *basic is 1 when the request sent HTTP Basic. */
static fn_status check_token_request(fn_req *req, const char **client_id, const char **client_secret, int *basic) {
  const char *user, *password, *scope = body_string(req->body, "scope");
  json_t *errors = NULL;
  if (body_validate(req->body, token_fields, &errors) != FN_OK) {
    json_decref(errors);
    return oauth_error(req, FN_INVALID, "invalid_request",
                       "Send grant_type, client_id and client_secret (and optionally scope), nothing else.");
  }
  *client_id = body_string(req->body, "client_id");
  *client_secret = body_string(req->body, "client_secret");
  int by_basic = req_basic_credentials(req, &user, &password);
  *basic = user != NULL;
  if (by_basic) {
    if (*client_id || *client_secret)
      return oauth_error(req, FN_INVALID, "invalid_request",
                         "Authenticate the client by Basic or in the body, not both.");
    *client_id = user;
    *client_secret = password;
  }
  if (*client_id == NULL || *client_secret == NULL)
    return oauth_error(req, FN_INVALID, "invalid_request", "Send client_id and client_secret (or HTTP Basic).");
  if (strcmp(body_string(req->body, "grant_type"), "client_credentials") != 0)
    return oauth_error(req, FN_INVALID, "unsupported_grant_type", "Only grant_type=client_credentials is supported.");
  if (scope && !known_scopes(scope))
    return oauth_error(req, FN_INVALID, "invalid_scope", "The scopes are events:write and webhooks:manage.");
  return FN_OK;
}

/* POST /v1/auth/token: the client-credentials grant for partner systems. */
static fn_status auth_http_token(fn_req *req) {
  const fn_config *cfg = &req->app->cfg;
  const char *client_id = NULL, *client_secret = NULL;
  char client_bucket[256], address_bucket[96], digest[65], scope[64], *access = NULL;
  partner_client client;
  int basic = 0;
  db_conn *db;
  fn_status st;
  if ((st = check_token_request(req, &client_id, &client_secret, &basic)) != FN_OK)
    return st;
  /* Failures are counted per client *and* address: client ids are not secret, so counting per
   * client alone would let anyone lock a partner out. */
  snprintf(client_bucket, sizeof client_bucket, "client:%.128s|%s", client_id, req->client_address);
  snprintf(address_bucket, sizeof address_bucket, "addr:%s", req->client_address);
  token_digest_hex(client_secret, digest);
  if ((st = req_db(req, &db)) != FN_OK ||
      (st = claim_attempt(req, db, client_bucket, address_bucket,
                          "Too many failed token requests. Try again later.")) != FN_OK ||
      (st = partners_db_find_client(db, client_id, &client)) != FN_OK)
    return st;
  /* Digests are compared in constant time (no slow hash is involved: secrets are 32 random bytes). */
  if (!client.found || client.revoked || sodium_memcmp(client.secret_digest, digest, sizeof digest - 1) != 0) {
    /* the attempt was counted when claimed */
    st = oauth_error(req, FN_UNAUTHENTICATED, "invalid_client", "Unknown client, wrong secret, or revoked client.");
    return basic ? basic_challenge(req, st) : st;
  }
  granted_scopes(body_string(req->body, "scope"), client.scopes, scope);
  if ((st = auth_db_attempt_succeeded(db, client_bucket, address_bucket)) != FN_OK)
    return st;
  if (scope[0] == '\0')
    return oauth_error(req, FN_INVALID, "invalid_scope", "This client holds none of the scopes asked for.");
  if ((st = issue_access_token(cfg, client.id, TOKEN_TYPE_PARTNER, "", scope, &access)) != FN_OK)
    return st;
  reply_json(req, 200,
             json_pack("{s:s, s:s, s:I, s:s}", "access_token", access, "token_type", "Bearer", "expires_in",
                       (json_int_t)cfg->access_token_ttl, "scope", scope));
  free(access);
  return FN_OK;
}

const fn_route auth_routes[] = {
    {"POST", "/v1/auth/token", auth_http_token, ROUTE_PUBLIC | ROUTE_JSON_BODY | ROUTE_FORM_BODY},
    {"POST", "/v1/auth/login", auth_http_login, ROUTE_PUBLIC | ROUTE_JSON_BODY | ROUTE_SLOW},
    {"POST", "/v1/auth/refresh", auth_http_refresh, ROUTE_PUBLIC | ROUTE_JSON_BODY},
    {"POST", "/v1/auth/logout", auth_http_logout, ROUTE_PUBLIC | ROUTE_JSON_BODY},
    {"POST", "/v1/auth/password-reset", auth_http_password_reset, ROUTE_PUBLIC | ROUTE_JSON_BODY},
    {"POST", "/v1/auth/password-reset/confirm", auth_http_password_reset_confirm,
     ROUTE_PUBLIC | ROUTE_JSON_BODY | ROUTE_SLOW},
    {NULL, NULL, NULL, 0},
};
