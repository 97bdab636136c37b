/* Helpers shared by the harnesses: invariant checks and dispatch_request() without a network. */
#include "fuzz_common.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ulfius.h>

#include "forumnet/auth_db.h"
#include "forumnet/db.h"
#include "forumnet/metrics.h"
#include "forumnet/router.h"
#include "forumnet/server.h"

/* A fixed key for the fuzzing configuration (32+ bytes as config_load demands). Not a secret. */
static const char FUZZ_SECRET[] = "fuzz-only-hs256-secret-0123456789abcdef";

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "\n==fuzz== invariant broken at %s:%d: %s\n==fuzz== ", file, line, cond);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  abort();
}

char *fuzz_strndup(const uint8_t *data, size_t len) {
  char *s = malloc(len + 1);
  FUZZ_CHECK(s != NULL, "out of memory");
  if (len > 0)
    memcpy(s, data, len);
  s[len] = '\0';
  return s;
}

int fuzz_utf8_valid(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s, *end = p + len;
  while (p < end) {
    unsigned c = *p;
    size_t extra;
    unsigned cp, min;
    if (c < 0x80) {
      p++;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      extra = 1, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3, min = 0x10000;
    } else {
      return 0;
    }
    if ((size_t)(end - p) < extra + 1)
      return 0;
    cp = c & (0x3Fu >> extra);
    for (size_t i = 1; i <= extra; i++) {
      if ((p[i] & 0xC0) != 0x80)
        return 0;
      cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return 0;
    p += extra + 1;
  }
  return 1;
}

void fuzz_check_errors(const json_t *errors, const char *where) {
  FUZZ_CHECK(json_is_array(errors), "%s: errors is not an array", where);
  FUZZ_CHECK(json_array_size(errors) > 0, "%s: errors is an empty array (an error was lost)", where);
  size_t i;
  const json_t *e;
  json_array_foreach((json_t *)errors, i, e) {
    FUZZ_CHECK(json_is_object(e) && json_object_size(e) == 2, "%s: errors[%zu] is not {field, message}", where, i);
    const char *field = json_string_value(json_object_get(e, "field"));
    const char *message = json_string_value(json_object_get(e, "message"));
    FUZZ_CHECK(field != NULL && message != NULL, "%s: errors[%zu] lacks a string field or message", where, i);
    FUZZ_CHECK(message[0] != '\0', "%s: errors[%zu] has an empty message", where, i);
    /* A field may legitimately be "" (a body member named ""), never a NULL or a non-string. */
  }
}

void fuzz_config_hs256(fn_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  strcpy(cfg->listen_host, "127.0.0.1");
  cfg->listen_port = 8080;
  cfg->jwt_alg = JWT_ALGORITHM_HS256;
  memcpy(cfg->jwt_secret, FUZZ_SECRET, strlen(FUZZ_SECRET));
  cfg->jwt_secret_len = strlen(FUZZ_SECRET);
  strcpy(cfg->jwt_kid, "k1");
  strcpy(cfg->jwt_issuer, "forumnet");
  strcpy(cfg->jwt_audience, "forumnet-api");
  cfg->access_token_ttl = 900;
  cfg->refresh_token_ttl = 30L * 24 * 3600;
  cfg->max_body_bytes = 1024 * 1024;
  cfg->max_connections = 256;
  cfg->connection_timeout = 30;
  cfg->db_pool_size = 0;          /* no connection to give ... */
  cfg->db_acquire_timeout_ms = 0; /* ... and no waiting for one: req_db() answers 503 at once */
  cfg->statement_timeout_ms = 1000;
  cfg->db_connect_timeout_s = 1;
  cfg->login_max_failures_per_email = 5;
  cfg->login_max_failures_per_address = 50;
  cfg->login_window_seconds = 900;
  cfg->suppression_threshold = 5;
  cfg->log_requests = 0;
}

/* fn_app.token_subject without a database: every verified token's subject still holds it. */
static fn_status any_subject_holds(struct fn_req *req, int partner, const char *id, long iat_ms, token_subject *out) {
  (void)req, (void)partner, (void)id, (void)iat_ms;
  out->valid = 1;
  out->must_change_password = 0;
  return FN_OK;
}

void fuzz_app_init(fuzz_app *fa) {
  FUZZ_CHECK(sodium_init() >= 0, "sodium_init failed");
  memset(fa, 0, sizeof *fa);
  fuzz_config_hs256(&fa->app.cfg);
  FUZZ_CHECK(db_pool_create(&fa->app.cfg, &fa->app.pool) == FN_OK, "db_pool_create failed");
  fa->app.token_subject = any_subject_holds;
  (void)router_init();
  (void)metrics_init(router_route_count());

  /* Long-lived tokens: dispatch_request verifies against the real clock. */
  time_t now = time(NULL);
  token_claims member = {.sub = "0b7f6a36-4c1e-4d7e-9a5b-2f1d3c4e5a6b", .typ = TOKEN_TYPE_ACCESS, .role = "admin"};
  token_claims partner = {
      .sub = "5d1c2b3a-0f9e-4d8c-b7a6-958473625140", .typ = TOKEN_TYPE_PARTNER, .scope = "events:write"};
  char *t = NULL;
  FUZZ_CHECK(token_issue(&fa->app.cfg, &member, 30L * 24 * 3600, now, &t) == FN_OK, "token_issue failed");
  snprintf(fa->member_token, sizeof fa->member_token, "Bearer %s", t);
  free(t);
  FUZZ_CHECK(token_issue(&fa->app.cfg, &partner, 30L * 24 * 3600, now, &t) == FN_OK, "token_issue failed");
  snprintf(fa->partner_token, sizeof fa->partner_token, "Bearer %s", t);
  free(t);
}

void fuzz_fill_path(const char *pattern, char *out, size_t out_len) {
  size_t o = 0;
  for (const char *p = pattern; *p && o + 1 < out_len;) {
    if (*p == '{') {
      const char *close = strchr(p, '}');
      if (close == NULL)
        break;
      const char *value =
          strncmp(p, "{version}", 9) == 0 ? "1" : "3f2b8c1e-9d4a-4e7b-8c6f-1a2b3c4d5e6f"; /* canonical, lowercase */
      int n = snprintf(out + o, out_len - o, "%s", value);
      o += (size_t)n < out_len - o ? (size_t)n : out_len - o - 1;
      p = close + 1;
    } else {
      out[o++] = *p++;
    }
  }
  out[o] = '\0';
}

json_t *fuzz_problem(const fuzz_response *r) {
  if (strncasecmp(r->content_type, "application/problem+json", 24) != 0)
    return NULL;
  return json_loadb(r->body, r->body_len, 0, NULL);
}

void fuzz_dispatch(fuzz_app *fa, const fuzz_request *rq, fuzz_response *out) {
  struct _u_request u;
  struct _u_response res;
  memset(out, 0, sizeof *out);
  FUZZ_CHECK(ulfius_init_request(&u) == U_OK && ulfius_init_response(&res) == U_OK, "ulfius init failed");
  u.http_verb = o_strdup(rq->method);
  u.url_path = o_strdup(rq->path);
  u.http_url = o_strdup(rq->path);
  for (const char *const *q = rq->query; q && q[0] && q[1]; q += 2)
    u_map_put(u.map_url, q[0], q[1]);
  if (rq->content_type)
    u_map_put(u.map_header, "Content-Type", rq->content_type);
  if (rq->authorization)
    u_map_put(u.map_header, "Authorization", rq->authorization);
  if (rq->body_len > 0) {
    u.binary_body = o_malloc(rq->body_len);
    memcpy(u.binary_body, rq->body, rq->body_len);
    u.binary_body_length = rq->body_len;
    char length[24];
    snprintf(length, sizeof length, "%zu", rq->body_len);
    u_map_put(u.map_header, "Content-Length", length);
  }

  int rc = dispatch_request(&u, &res, &fa->app);
  FUZZ_CHECK(rc == U_CALLBACK_COMPLETE, "dispatch_request returned %d", rc);

  out->status = (int)res.status;
  out->body = fuzz_strndup(res.binary_body, res.binary_body_length);
  out->body_len = res.binary_body_length;
  const char *ct = u_map_get_case(res.map_header, "Content-Type");
  snprintf(out->content_type, sizeof out->content_type, "%s", ct ? ct : "");
  ulfius_clean_request(&u);
  ulfius_clean_response(&res);

  const char *what = rq->path;
  FUZZ_CHECK(out->status >= 200 && out->status <= 599, "%s %s: status %d", rq->method, what, out->status);
  FUZZ_CHECK(out->status != 500, "%s %s: 500 Internal Server Error without a database: %s", rq->method, what,
             out->body);
  if (out->status >= 400) {
    json_t *problem = fuzz_problem(out);
    FUZZ_CHECK(problem != NULL && json_is_object(problem), "%s %s: %d reply is not a problem document: %s", rq->method,
               what, out->status, out->body);
    FUZZ_CHECK(json_integer_value(json_object_get(problem, "status")) == out->status,
               "%s %s: problem status differs from HTTP status %d", rq->method, what, out->status);
    FUZZ_CHECK(json_is_string(json_object_get(problem, "type")) && json_is_string(json_object_get(problem, "title")) &&
                   json_is_string(json_object_get(problem, "detail")) &&
                   json_is_string(json_object_get(problem, "request_id")),
               "%s %s: problem lacks type/title/detail/request_id: %s", rq->method, what, out->body);
    json_t *errors = json_object_get(problem, "errors");
    if (errors != NULL)
      fuzz_check_errors(errors, what);
    json_decref(problem);
  }
}

void fuzz_response_free(fuzz_response *r) {
  free(r->body);
  r->body = NULL;
}
