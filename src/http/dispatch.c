/* The request pipeline. Ulfius hands every request to dispatch_request() (it is the
 * default endpoint), so there is exactly one place where the cross-cutting rules of
 * API.md section 1 are applied, in this order:
 *   route (404/405) -> body size (413) -> token (401; 403 password-change-required) -> content type (415)
 *   -> JSON (400) -> handler. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <ulfius.h>

#include "forumnet/auth_db.h"
#include "forumnet/body.h"
#include "forumnet/cidr.h"
#include "forumnet/form.h"
#include "forumnet/log.h"
#include "forumnet/metrics.h"
#include "forumnet/router.h"
#include "forumnet/server.h"
#include "forumnet/strbuf.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"
#include "forumnet/token.h"

#define CORS_ALLOW_HEADERS "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, X-Request-Id"
#define CORS_EXPOSE_HEADERS "ETag, Location, Retry-After, X-Request-Id, Idempotent-Replayed, X-Next-Cursor"

static int valid_request_id(const char *id) {
  size_t len = id ? strlen(id) : 0;
  if (len == 0 || len > 64)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (!isalnum((unsigned char)id[i]) && id[i] != '.' && id[i] != '_' && id[i] != '-')
      return 0;
  return 1;
}

static void assign_request_id(fn_req *req) {
  const char *incoming = req_header(req, "X-Request-Id");
  if (valid_request_id(incoming)) {
    snprintf(req->request_id, sizeof req->request_id, "%s", incoming);
  } else {
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(req->request_id, sizeof req->request_id, raw, sizeof raw);
  }
}

/* Ulfius copies only sizeof(struct sockaddr) of the peer address, which holds an IPv4
 * address whole but only the first 64 bits of an IPv6 one: an IPv6 peer is known by its /64
 * (so only trusted blocks of /64 or shorter can cover it). 0 if there is no usable peer. */
static int peer_block(const struct sockaddr *sa, cidr_block *out) {
  memset(out, 0, sizeof *out);
  if (sa == NULL)
    return 0;
  if (sa->sa_family == AF_INET) {
    memcpy(out->bytes, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    out->family = AF_INET;
    out->prefix = 32;
    return 1;
  }
  if (sa->sa_family == AF_INET6) {
    memcpy(out->bytes, (const unsigned char *)sa->sa_data + 6, 8); /* sin6_addr starts 8 bytes in */
    out->family = AF_INET6;
    out->prefix = 64;
    return 1;
  }
  return 0;
}

/* The client is keyed (per-address login limits) as a whole IPv4 address or an IPv6 /64. */
static void format_client(const cidr_block *c, char *out, size_t len) {
  const unsigned char *b = c->bytes;
  if (c->family == AF_INET)
    inet_ntop(AF_INET, b, out, (socklen_t)len);
  else
    snprintf(out, len, "%02x%02x:%02x%02x:%02x%02x:%02x%02x::/64", b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
}

/* Every X-Forwarded-For line in order, joined by commas (caller frees; NULL when there is none or
 * memory ran out). Ulfius joins repeated lines only when their names are spelled alike, so a client's
 * own "x-forwarded-for" would otherwise hide the "X-Forwarded-For" its proxy added after it. */
static char *forwarded_for(const fn_req *req) {
  const char **keys = u_map_enum_keys(req->u->map_header);
  const char **values = u_map_enum_values(req->u->map_header);
  strbuf b = STRBUF_INIT;
  int lines = 0;
  for (int i = 0; keys && values && keys[i]; i++) {
    if (strcasecmp(keys[i], "X-Forwarded-For") != 0)
      continue;
    if (lines++ > 0)
      strbuf_puts(&b, ",");
    strbuf_puts(&b, values[i] ? values[i] : "");
  }
  if (lines == 0) {
    strbuf_free(&b);
    return NULL;
  }
  return strbuf_finish(&b, NULL);
}

/* The peer, or, when the peer is one of FORUMNET_TRUSTED_PROXIES, the right-most address of its
 * X-Forwarded-For that is not a trusted proxy (a malformed header: the peer). */
static void assign_client_address(fn_req *req) {
  const fn_config *cfg = &req->app->cfg;
  cidr_block client;
  if (!peer_block(req->u->client_address, &client)) {
    strcpy(req->client_address, "unknown");
    return;
  }
  if (cfg->trusted_proxy_count > 0 && cidr_list_covers(cfg->trusted_proxies, cfg->trusted_proxy_count, &client)) {
    cidr_block forwarded;
    char *header = forwarded_for(req);
    if (cidr_forwarded_client(cfg->trusted_proxies, cfg->trusted_proxy_count, header, &forwarded))
      client = forwarded;
    free(header);
  }
  format_client(&client, req->client_address, sizeof req->client_address);
}

static void add_common_headers(fn_req *req) {
  reply_header(req, "X-Request-Id", req->request_id);
  reply_header(req, "X-Content-Type-Options", "nosniff");
  reply_header(req, "Cache-Control", "no-store");
  reply_header(req, "X-Frame-Options", "DENY");
  reply_header(req, "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
  reply_header(req, "Referrer-Policy", "no-referrer");
  const char *origin = req_header(req, "Origin");
  if (origin && config_origin_allowed(&req->app->cfg, origin)) {
    reply_header(req, "Access-Control-Allow-Origin", origin);
    reply_header(req, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
  }
  if (req->app->cfg.cors_origin_count > 0)
    reply_header(req, "Vary", "Origin");
}

/* OPTIONS on a known path: a CORS preflight (answered without a token) or a plain query. */
static void reply_options(fn_req *req, const char *allow) {
  reply_header(req, "Allow", allow);
  const char *origin = req_header(req, "Origin");
  if (origin && config_origin_allowed(&req->app->cfg, origin) &&
      req_header(req, "Access-Control-Request-Method") != NULL) {
    reply_header(req, "Access-Control-Allow-Methods", allow);
    reply_header(req, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
    reply_header(req, "Access-Control-Max-Age", "600");
  }
  reply_empty(req, 204);
}

static fn_status check_body_size(fn_req *req) {
  size_t limit = req->app->cfg.max_body_bytes;
  const char *cl = req_header(req, "Content-Length");
  if (cl != NULL) {
    char *end = NULL;
    unsigned long long n = strtoull(cl, &end, 10);
    if (end == cl || *end != '\0' || n > limit)
      return FN_TOO_LARGE;
  }
  /* Ulfius stores at most limit + 1 bytes, so a chunked oversize body shows here. */
  if (req->u->binary_body_length > limit)
    return FN_TOO_LARGE;
  return FN_OK;
}

/* The subject's state, read with the request's connection (which the handler then reuses). */
static fn_status read_token_subject(fn_req *req, int partner, const char *id, long iat_ms, token_subject *out) {
  db_conn *db = NULL;
  fn_status st = req_db(req, &db);
  if (st == FN_OK)
    st = auth_db_token_subject(db, partner, id, iat_ms, out);
  if (st != FN_OK)
    req_reply_failure(req, st);
  return st;
}

#define TOKEN_INVALID "The access token is invalid or expired."
#define PASSWORD_CHANGE_FIRST "Set your own password first: PATCH /v1/me with current_password and new_password."

static void set_caller(fn_req *req, const token_claims *claims, int partner) {
  req->caller.authenticated = 1;
  req->caller.is_partner = partner;
  snprintf(req->caller.id, sizeof req->caller.id, "%s", claims->sub);
  snprintf(req->caller.token_type, sizeof req->caller.token_type, "%s", claims->typ);
  req->caller.token_iat_ms = claims->iat_ms;
  req->caller.token_exp = claims->exp;
}

/* The deferred check's verdict (db_deferred.accept): the token's subject holds it, and may use this route. */
static int subject_accepts(PGresult *res, void *ctx) {
  fn_req *req = ctx;
  token_subject subject;
  auth_db_token_subject_of(res, &subject);
  req->auth_check_subject_valid = subject.valid;
  req->auth_check_password_change = subject.must_change_password && !(req->route->flags & ROUTE_ONE_TIME_PASSWORD);
  return subject.valid && !req->auth_check_password_change;
}

/* A GET reads only, so its token check can travel with the handler's first statement (one round trip
 * instead of two; db_defer says why nothing can change before the check answers). Not the stream, which
 * keeps a connection open, nor the fuzz harnesses' stand-in check. */
static int can_defer_check(const fn_req *req) {
  return strcmp(req->u->http_verb, "GET") == 0 && !(req->route->flags & ROUTE_TICKET) &&
         req->app->token_subject == NULL;
}

static fn_status defer_check(fn_req *req, int partner, long iat_ms) {
  db_conn *db = NULL;
  fn_status st = req_db(req, &db);
  if (st != FN_OK) {
    req_reply_failure(req, st);
    return st;
  }
  snprintf(req->auth_check_iat, sizeof req->auth_check_iat, "%ld", iat_ms);
  auth_db_token_subject_check(&req->auth_check, partner, req->caller.id, req->auth_check_iat);
  req->auth_check.accept = subject_accepts;
  req->auth_check.ctx = req;
  db_defer(db, &req->auth_check);
  return FN_OK;
}

/* After the handler of a deferred check: settles it if no statement did (alone, as without deferral), and
 * when it refused or failed, replaces whatever the handler replied with what authenticate would have. */
static void settle_deferred_check(fn_req *req) {
  if (req->auth_check.state == 0)
    return;
  db_conn *db = NULL;
  if (req->auth_check.state == DB_DEFERRED_PENDING && req_db(req, &db) == FN_OK) {
    db_defer(db, &req->auth_check); /* again: the handler may have given its connection back early */
    (void)db_settle(db);
  }
  if (req->auth_check.state == DB_DEFERRED_ACCEPTED)
    return;
  fn_status st = req->auth_check.state == DB_DEFERRED_FAILED ? req->auth_check.failure : FN_UNAUTHENTICATED;
  if (req->auth_check.state == DB_DEFERRED_PENDING) /* no connection to be had */
    st = FN_UNAVAILABLE;
  ulfius_clean_response(req->res);
  ulfius_init_response(req->res);
  req->status = 0;
  req->problem_detail[0] = '\0';
  req->problem_header_count = 0;
  json_decref(req->problem_errors);
  json_decref(req->problem_extra);
  req->problem_errors = req->problem_extra = NULL;
  req->caller.authenticated = 0;
  add_common_headers(req);
  if (st != FN_UNAUTHENTICATED)
    req_reply_failure(req, st);
  else if (req->auth_check_subject_valid && req->auth_check_password_change)
    reply_problem(req, FN_PASSWORD_CHANGE_REQUIRED, PASSWORD_CHANGE_FIRST);
  else
    reply_problem(req, FN_UNAUTHENTICATED, TOKEN_INVALID);
}

static fn_status authenticate(fn_req *req, const char **detail) {
  const char *h = req_header(req, "Authorization");
  if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
    *detail = "A bearer access token is required.";
    return FN_UNAUTHENTICATED;
  }
  token_claims claims;
  if (token_verify_cached(&req->app->cfg, h + 7, time(NULL), &claims) != FN_OK) {
    *detail = TOKEN_INVALID;
    return FN_UNAUTHENTICATED;
  }
  /* The two kinds of token are never interchangeable: members' on every route, partners'
   * only where the route says so, and only with the scope it names (events:write, webhooks:manage). */
  int partner = strcmp(claims.typ, TOKEN_TYPE_PARTNER) == 0;
  /* Every subject is a member or partner id: anything else never reaches the database. */
  if ((!partner && strcmp(claims.typ, TOKEN_TYPE_ACCESS) != 0) || !text_is_uuid(claims.sub)) {
    *detail = TOKEN_INVALID;
    return FN_UNAUTHENTICATED;
  }
  if (partner && !((req->route->flags & ROUTE_PARTNER) && text_has_word(claims.scope, "events:write")) &&
      !((req->route->flags & ROUTE_PARTNER_WEBHOOKS) && text_has_word(claims.scope, "webhooks:manage"))) {
    *detail = "This route does not accept partner tokens.";
    return FN_UNAUTHENTICATED;
  }
  /* The token is genuine; is it still the subject's? One primary-key read on the request's
   * connection: a suspension, erasure, password change, secret rotation or revocation after
   * iat_ms ends it (the token cache above holds no such state, so nothing cached outlives
   * a change), and a one-time password confines the member to ROUTE_ONE_TIME_PASSWORD. */
  if (can_defer_check(req)) {
    set_caller(req, &claims, partner);
    return defer_check(req, partner, claims.iat_ms);
  }
  token_subject subject;
  fn_status st = req->app->token_subject ? req->app->token_subject(req, partner, claims.sub, claims.iat_ms, &subject)
                                         : read_token_subject(req, partner, claims.sub, claims.iat_ms, &subject);
  if (st != FN_OK)
    return st; /* replied */
  if (!subject.valid) {
    *detail = TOKEN_INVALID;
    return FN_UNAUTHENTICATED;
  }
  if (subject.must_change_password && !(req->route->flags & ROUTE_ONE_TIME_PASSWORD)) {
    *detail = PASSWORD_CHANGE_FIRST;
    return FN_PASSWORD_CHANGE_REQUIRED;
  }
  set_caller(req, &claims, partner);
  return FN_OK;
}

static int media_type_is(const char *content_type, const char *type) {
  size_t n = strlen(type);
  if (content_type == NULL || strncasecmp(content_type, type, n) != 0)
    return 0;
  char next = content_type[n];
  return next == '\0' || next == ';' || next == ' ';
}

static fn_status parse_body(fn_req *req, const char **detail, char *buf, size_t buf_len) {
  const char *ct = req_header(req, "Content-Type");
  const void *data = req->u->binary_body;
  size_t len = req->u->binary_body_length;
  if (media_type_is(ct, "application/json"))
    return body_parse_object(data, len, &req->body, buf, buf_len) == FN_OK ? FN_OK : (*detail = buf, FN_INVALID);
  if ((req->route->flags & ROUTE_FORM_BODY) && media_type_is(ct, "application/x-www-form-urlencoded")) {
    fn_status st = dispatch_parse_form(data, len, &req->body, buf, buf_len);
    *detail = buf;
    return st;
  }
  *detail = (req->route->flags & ROUTE_FORM_BODY)
                ? "Send the body as application/json or application/x-www-form-urlencoded."
                : "Send the body as application/json.";
  return FN_UNSUPPORTED_MEDIA;
}

static void run_pipeline(fn_req *req) {
  char allow[160];
  const char *method = req->u->http_verb;
  switch (router_match(method, req->u->url_path, req, allow, sizeof allow)) {
  case ROUTER_NO_PATH:
    reply_problem(req, FN_NOT_FOUND, "No such route.");
    return;
  case ROUTER_WRONG_METHOD:
    if (strcmp(method, "OPTIONS") == 0) {
      reply_options(req, allow);
    } else {
      reply_header(req, "Allow", allow);
      reply_problem(req, FN_METHOD_NOT_ALLOWED, "This method is not allowed on this route; see Allow.");
    }
    return;
  case ROUTER_MATCH:
    break;
  }
  if (check_body_size(req) != FN_OK) {
    char detail[96];
    snprintf(detail, sizeof detail, "The request body exceeds %zu bytes.", req->app->cfg.max_body_bytes);
    reply_header(req, "Connection", "close"); /* do not keep reading an oversize upload */
    reply_problem(req, FN_TOO_LARGE, detail);
    return;
  }
  const char *detail = NULL;
  int ticket = (req->route->flags & ROUTE_TICKET) && req_header(req, "Authorization") == NULL &&
               req_query(req, "ticket") != NULL;
  fn_status auth = (req->route->flags & ROUTE_PUBLIC) || ticket ? FN_OK : authenticate(req, &detail);
  if (auth != FN_OK) {
    if (req->status == 0) /* not replied yet (a database failure has been) */
      reply_problem(req, auth, detail);
    return;
  }
  if ((req->route->flags & ROUTE_OPTIONAL_BODY) && req->u->binary_body_length == 0) {
    req->body = json_object();
  } else if (req->route->flags & ROUTE_JSON_BODY) {
    char buf[256];
    fn_status st = parse_body(req, &detail, buf, sizeof buf);
    if (st != FN_OK) {
      reply_problem(req, st, detail);
      return;
    }
  }
  req_run_handler(req);
  settle_deferred_check(req);
}

int dispatch_request(const struct _u_request *u, struct _u_response *res, void *app) {
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  fn_req req;
  memset(&req, 0, sizeof req);
  req.app = app;
  req.u = u;
  req.res = res;
  req.route_index = -1;
  assign_request_id(&req);
  assign_client_address(&req);
  add_common_headers(&req);

  run_pipeline(&req);
  if (req.status == 0) {
    log_error("handler for %s %s replied nothing", req.route ? req.route->method : "?",
              req.route ? req.route->pattern : "?");
    reply_problem(&req, FN_INTERNAL, NULL);
  }
  req_record_write_position(&req);
  req_replica_release(&req, 0);
  req_db_release(&req);
  json_decref(req.body);
  json_decref(req.problem_errors);
  json_decref(req.problem_extra);

  clock_gettime(CLOCK_MONOTONIC, &end);
  double seconds = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
  metrics_observe(req.route_index, req.status, seconds);
  if (req.app->cfg.log_requests) {
    log_access_entry entry = {.request_id = req.request_id,
                              .method = u->http_verb,
                              .route = req.route ? req.route->pattern : "unmatched",
                              .status = req.status,
                              .duration_ms = seconds * 1000.0,
                              .member_id = req.caller.authenticated && !req.caller.is_partner ? req.caller.id : NULL,
                              .partner_id = req.caller.is_partner ? req.caller.id : NULL,
                              .client = req.client_address};
    log_access(&entry);
  }
  return U_CALLBACK_COMPLETE;
}
