/* Single sign-on with OpenID Connect (API.md section 12): the providers, the start and the end (callback)
 * of an Authorization Code flow with PKCE, and a member's linked identities. The providers, their keys and
 * the ID token's verification are src/auth/oidc_*.c. Never logged: the code, tokens, the secret, the email. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forumnet/audit_db.h"
#include "forumnet/auth_http.h"
#include "forumnet/body.h"
#include "forumnet/http.h"
#include "forumnet/log.h"
#include "forumnet/oidc.h"
#include "forumnet/oidc_db.h"
#include "forumnet/password.h"
#include "forumnet/routes.h"
#include "forumnet/strbuf.h"
#include "forumnet/token.h"

#define NO_SUCH_PROVIDER "No such sign-in provider."
#define NO_SUCH_IDENTITY "No such identity."
#define UNREACHABLE "The identity provider cannot be reached; try again later."
#define NOT_VERIFIED "The identity provider's answer could not be verified; start the sign-in again."
#define NO_ACCOUNT "No active forumnet account matches this sign-in."
#define BAD_STATE "is unknown, already used, expired, or belongs to another provider; start the sign-in again"
#define RETRY_AFTER_SECONDS "30"

static fn_status oidc_http_providers(fn_req *req) {
  json_t *items = json_array();
  for (int i = 0; i < oidc_provider_count(); i++) {
    const oidc_provider *p = oidc_provider_at(i);
    json_array_append_new(items, json_pack("{s:s, s:s}", "id", p->id, "display_name", p->display_name));
  }
  reply_json(req, 200, json_pack("{s:o, s:n}", "items", items, "next_cursor"));
  return FN_OK;
}

/* The provider named in the path, or FN_NOT_FOUND. */
static fn_status path_provider(fn_req *req, const oidc_provider **p) {
  *p = oidc_provider_find(req_param(req, "provider"));
  return *p ? FN_OK : req_problem(req, FN_NOT_FOUND, NO_SUCH_PROVIDER);
}

static fn_status unreachable(fn_req *req) {
  req_problem_header(req, "Retry-After", RETRY_AFTER_SECONDS);
  return req_problem(req, FN_UNAVAILABLE, UNREACHABLE);
}

/* The provider's metadata; 503 with Retry-After when it cannot be had. */
static fn_status provider_metadata(fn_req *req, const oidc_provider *p, oidc_metadata *m) {
  fn_status st = oidc_provider_metadata(&req->app->cfg, p, m);
  return st == FN_UNAVAILABLE ? unreachable(req) : st;
}

/* Appends "&name=value" (the first one with sep) with value percent-encoded (RFC 3986 unreserved kept). */
static void add_param(strbuf *b, char sep, const char *name, const char *value) {
  static const char hex[] = "0123456789ABCDEF";
  strbuf_printf(b, "%c%s=", sep, name);
  for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
    if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || strchr("-._~", *c)) {
      strbuf_append(b, (const char *)c, 1);
    } else {
      char esc[3] = {'%', hex[*c >> 4], hex[*c & 15]};
      strbuf_append(b, esc, 3);
    }
  }
}

static const field_spec start_fields[] = {
    {"redirect_uri", FIELD_STRING, FIELD_REQUIRED, 1, 512, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

/* POST /v1/auth/oidc/{provider}/start: a fresh state, nonce and PKCE verifier, kept in the database for
 * 10 minutes, and the provider's authorization URL carrying them. */
static fn_status oidc_http_start(fn_req *req) {
  const oidc_provider *p;
  oidc_metadata m;
  char state[64], nonce[64], verifier[64], challenge[64];
  unsigned char digest[crypto_hash_sha256_BYTES];
  db_conn *db;
  fn_status st;
  if ((st = path_provider(req, &p)) != FN_OK || (st = req_validate_body(req, start_fields, BODY_CREATE)) != FN_OK)
    return st;
  const char *redirect_uri = body_string(req->body, "redirect_uri");
  if (!oidc_redirect_uri_allowed(p, redirect_uri))
    return req_invalid_field(req, "redirect_uri", "is not one of this provider's redirect URIs");
  if ((st = provider_metadata(req, p, &m)) != FN_OK)
    return st;
  random_token(state, sizeof state, 32);
  random_token(nonce, sizeof nonce, 32);
  random_token(verifier, sizeof verifier, 32);
  crypto_hash_sha256(digest, (const unsigned char *)verifier, strlen(verifier));
  sodium_bin2base64(challenge, sizeof challenge, digest, sizeof digest, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  if ((st = req_db(req, &db)) != FN_OK ||
      (st = oidc_db_start_flow(db, state, p->id, nonce, verifier, redirect_uri)) != FN_OK)
    return st;
  strbuf url = STRBUF_INIT;
  strbuf_puts(&url, m.authorization_endpoint);
  add_param(&url, strchr(m.authorization_endpoint, '?') ? '&' : '?', "response_type", "code");
  add_param(&url, '&', "client_id", p->client_id);
  add_param(&url, '&', "redirect_uri", redirect_uri);
  add_param(&url, '&', "scope", "openid email profile");
  add_param(&url, '&', "state", state);
  add_param(&url, '&', "nonce", nonce);
  add_param(&url, '&', "code_challenge", challenge);
  add_param(&url, '&', "code_challenge_method", "S256");
  char *text = strbuf_finish(&url, NULL);
  if (text == NULL)
    return FN_INTERNAL;
  reply_json(req, 200, json_pack("{s:s, s:s}", "authorization_url", text, "state", state));
  free(text);
  return FN_OK;
}

static const field_spec callback_fields[] = {
    {"code", FIELD_STRING, FIELD_REQUIRED, 1, 4096, NULL},
    {"state", FIELD_STRING, FIELD_REQUIRED, 1, 512, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

/* A sign-in that failed once the code was presented ends its flow, so that its state cannot be tried again
 * (outside the request's transaction, which the failure rolls back; at worst the flow expires on its own). */
static void drop_flow(fn_req *req, const char *state) {
  db_conn *db;
  if (req_db(req, &db) == FN_OK)
    oidc_db_drop_flow(db, state);
}

/* The flow of the body's state, which must be the provider's and unexpired. */
static fn_status find_flow(fn_req *req, const oidc_provider *p, oidc_flow *flow) {
  int found = 0;
  db_conn *db;
  fn_status st;
  if ((st = req_db(req, &db)) != FN_OK ||
      (st = oidc_db_find_flow(db, body_string(req->body, "state"), flow, &found)) != FN_OK)
    return st;
  req_db_release(req); /* no connection is held while the provider answers */
  if (!found || flow->expired || strcmp(flow->provider_id, p->id) != 0)
    return req_invalid_field(req, "state", BAD_STATE);
  return FN_OK;
}

/* Exchanges the code at the token endpoint (client_secret_basic, PKCE): *id_token a new string. */
static fn_status exchange_code(fn_req *req, const oidc_provider *p, const oidc_metadata *m, const oidc_flow *flow,
                               char **id_token) {
  const char *state = body_string(req->body, "state");
  strbuf form = STRBUF_INIT;
  json_t *answer = NULL;
  long status = 0;
  *id_token = NULL;
  strbuf_puts(&form, "grant_type=authorization_code");
  add_param(&form, '&', "code", body_string(req->body, "code"));
  add_param(&form, '&', "redirect_uri", flow->redirect_uri);
  add_param(&form, '&', "code_verifier", flow->code_verifier);
  char *text = strbuf_finish(&form, NULL);
  if (text == NULL)
    return FN_INTERNAL;
  fn_status st = oidc_post_form(m->token_endpoint, req->app->cfg.oidc_allow_http, p->client_id, p->client_secret, text,
                                &status, &answer);
  sodium_memzero(text, strlen(text));
  free(text);
  if (st != FN_OK || status >= 500) {
    json_decref(answer);
    return unreachable(req);
  }
  const char *token = json_string_value(json_object_get(answer, "id_token"));
  if (status != 200 || token == NULL) {
    const char *error = json_string_value(json_object_get(answer, "error"));
    if (status == 401 || (error && strcmp(error, "invalid_client") == 0))
      log_warn("oidc: provider %s refused forumnet's client credentials (HTTP %ld)", p->id, status);
    json_decref(answer);
    drop_flow(req, state);
    return req_invalid_field(
        req, "code", status == 200 ? "was answered without an ID token" : "was rejected by the identity provider");
  }
  *id_token = strdup(token);
  json_decref(answer);
  return *id_token ? FN_OK : FN_INTERNAL;
}

/* Verifies the ID token with the provider's keys, fetching them again once for an unknown kid. */
static fn_status verify_token(fn_req *req, const oidc_provider *p, const oidc_metadata *m, const oidc_flow *flow,
                              const char *id_token, oidc_identity *who) {
  const oidc_expect expect = {p->issuer, p->client_id, flow->nonce, p->email_verified_claim, m->algs, time(NULL)};
  oidc_verdict v = OIDC_UNKNOWN_KID;
  for (int refresh = 0; refresh < 2 && v == OIDC_UNKNOWN_KID; refresh++) {
    json_t *jwks = NULL;
    fn_status st = oidc_provider_jwks(&req->app->cfg, p, refresh, &jwks);
    if (st != FN_OK)
      return st == FN_UNAVAILABLE ? unreachable(req) : st;
    v = oidc_verify_id_token(id_token, jwks, &expect, who);
    json_decref(jwks);
  }
  if (v == OIDC_VERIFIED)
    return FN_OK;
  drop_flow(req, body_string(req->body, "state"));
  return req_problem(req, FN_INVALID, NOT_VERIFIED);
}

/* An audit row of a sign-in's change, on the member's account, with the member (not yet a caller) as actor. */
static fn_status audit_as_member(fn_req *req, db_conn *db, const char *member_id, const char *action,
                                 const json_t *details) {
  fn_caller member = {.authenticated = 1};
  snprintf(member.id, sizeof member.id, "%s", member_id);
  return audit_db_record(db, &member, req->request_id, action, "member", member_id, details);
}

/* Links the identity to the one active member with its verified email in an allowed domain. */
static fn_status link_by_email(fn_req *req, db_conn *db, const oidc_provider *p, const oidc_identity *who,
                               oidc_account *account) {
  int matches = 0;
  fn_status st;
  if (!who->email_verified || who->email[0] == '\0' || !oidc_email_domain_allowed(p, who->email))
    return FN_FORBIDDEN;
  if ((st = oidc_db_find_by_email(db, who->email, account, &matches)) != FN_OK)
    return st;
  if (matches != 1)
    return FN_FORBIDDEN;
  if ((st = oidc_db_link(db, account->member_id, p->id, p->issuer, who->subject, who->email, account->identity_id)) !=
      FN_OK)
    return st;
  json_t *details = json_pack("{s:s, s:s}", "identity_id", account->identity_id, "provider_id", p->id);
  st = audit_as_member(req, db, account->member_id, "member.identity_linked", details);
  json_decref(details);
  return st;
}

/* A one-time password ends when its member signs in with a provider (oidc_db_end_one_time_password), audited
 * like a password change; the tokens issued next are not older than the change. */
static fn_status end_one_time_password(fn_req *req, db_conn *db, const char *member_id) {
  int ended = 0;
  fn_status st = oidc_db_end_one_time_password(db, member_id, token_now_ms(), &ended);
  if (st != FN_OK || !ended)
    return st;
  return audit_as_member(req, db, member_id, "member.one_time_password_voided", NULL);
}

/* In one transaction: takes the flow (single use), finds or links the member, signs them in. */
static fn_status sign_in(fn_req *req, const oidc_provider *p, const oidc_identity *who) {
  const char *state = body_string(req->body, "state");
  oidc_account account;
  int taken = 0, found = 0;
  db_conn *db;
  fn_status st;
  if ((st = req_db(req, &db)) != FN_OK || (st = db_begin(db)) != FN_OK ||
      (st = oidc_db_take_flow(db, state, p->id, &taken)) != FN_OK)
    return st;
  if (!taken)
    return req_invalid_field(req, "state", BAD_STATE);
  if ((st = oidc_db_find_identity(db, p->issuer, who->subject, &account, &found)) != FN_OK)
    return st;
  if (found)
    st = account.active ? oidc_db_touch(db, account.identity_id) : FN_FORBIDDEN;
  else
    st = link_by_email(req, db, p, who, &account);
  if (st == FN_FORBIDDEN) {
    db_rollback(db);
    drop_flow(req, state);
    return req_problem(req, FN_FORBIDDEN, NO_ACCOUNT);
  }
  if (st != FN_OK || (st = end_one_time_password(req, db, account.member_id)) != FN_OK)
    return st;
  return auth_tokens_commit_reply(req, db, account.member_id, account.role, NULL);
}

/* POST /v1/auth/oidc/{provider}/callback: the code and state the provider sent to the client's redirect_uri
 * become the same token pair as a login. */
static fn_status oidc_http_callback(fn_req *req) {
  const oidc_provider *p;
  oidc_metadata m;
  oidc_flow flow;
  oidc_identity who;
  char *id_token = NULL;
  fn_status st;
  if ((st = path_provider(req, &p)) != FN_OK || (st = req_validate_body(req, callback_fields, BODY_CREATE)) != FN_OK ||
      (st = find_flow(req, p, &flow)) != FN_OK || (st = provider_metadata(req, p, &m)) != FN_OK ||
      (st = exchange_code(req, p, &m, &flow, &id_token)) != FN_OK)
    return st;
  st = verify_token(req, p, &m, &flow, id_token, &who);
  sodium_memzero(id_token, strlen(id_token));
  free(id_token);
  if (st != FN_OK)
    return st;
  st = sign_in(req, p, &who);
  sodium_memzero(&who, sizeof who);
  return st;
}

static fn_status oidc_http_identities(fn_req *req) {
  char *json = NULL;
  db_conn *db;
  fn_status st;
  if ((st = req_db(req, &db)) != FN_OK || (st = oidc_db_list(db, req->caller.id, &json)) != FN_OK)
    return st;
  reply_json_text(req, 200, json, strlen(json));
  free(json);
  return FN_OK;
}

static fn_status oidc_http_unlink(fn_req *req) {
  const char *id;
  int found = 0;
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "identity_id", NO_SUCH_IDENTITY, &id)) != FN_OK || (st = req_db(req, &db)) != FN_OK ||
      (st = db_begin(db)) != FN_OK || (st = oidc_db_unlink(db, req->caller.id, id, &found)) != FN_OK)
    return st;
  if (!found)
    return req_problem(req, FN_NOT_FOUND, NO_SUCH_IDENTITY);
  json_t *details = json_pack("{s:s}", "identity_id", id);
  st = req_audit(req, "member.identity_unlinked", "member", req->caller.id, details);
  json_decref(details);
  if (st != FN_OK || (st = db_commit(db)) != FN_OK)
    return st;
  reply_empty(req, 204);
  return FN_OK;
}

const fn_route oidc_routes[] = {
    {"GET", "/v1/auth/providers", oidc_http_providers, ROUTE_PUBLIC},
    {"POST", "/v1/auth/oidc/{provider}/start", oidc_http_start, ROUTE_PUBLIC | ROUTE_JSON_BODY | ROUTE_SLOW},
    {"POST", "/v1/auth/oidc/{provider}/callback", oidc_http_callback, ROUTE_PUBLIC | ROUTE_JSON_BODY | ROUTE_SLOW},
    {"GET", "/v1/me/identities", oidc_http_identities, 0},
    {"DELETE", "/v1/me/identities/{identity_id}", oidc_http_unlink, 0},
    {NULL, NULL, NULL, 0},
};
