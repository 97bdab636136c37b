/* Operational endpoints: /healthz, /readyz, /metrics. No token; operators restrict
 * them at the proxy. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/http.h"
#include "forumnet/readiness.h"
#include "forumnet/routes.h"
#include "forumnet/server.h"

static fn_status ops_http_health(fn_req *req) {
  static const char body[] = "{\"status\":\"ok\"}";
  reply_json_text(req, 200, body, sizeof body - 1);
  return FN_OK;
}

/* Answers from the state the readiness thread keeps (readiness.h): never waits for the database. */
static fn_status ops_http_ready(fn_req *req) {
  switch (readiness_now()) {
  case READINESS_READY:
    break;
  case READINESS_MIGRATIONS_PENDING:
    return req_problem(req, FN_UNAVAILABLE, "Database migrations are pending; run `forumnet migrate`.");
  case READINESS_SETTINGS_WRONG:
    return req_problem(req, FN_UNAVAILABLE,
                       "The database role's settings are not those FORUMNET_DB_POOLER=transaction needs; see the log.");
  case READINESS_DRAINING:
    return req_problem(req, FN_UNAVAILABLE, "This instance is shutting down.");
  case READINESS_STALE:
    return req_problem(req, FN_UNAVAILABLE, "The database check has not answered recently.");
  default:
    return req_problem(req, FN_UNAVAILABLE, "The database is unreachable.");
  }
  static const char body[] = "{\"status\":\"ready\"}";
  reply_json_text(req, 200, body, sizeof body - 1);
  return FN_OK;
}

/* openapi/openapi.json, embedded at build time (scripts/embed_file.cmake). */
extern const char openapi_json[];
extern const size_t openapi_json_len;

static fn_status ops_http_openapi(fn_req *req) {
  if (openapi_json_len == 0)
    return req_problem(req, FN_UNAVAILABLE, "This build carries no OpenAPI document.");
  reply_header(req, "Access-Control-Allow-Origin", "*"); /* a public contract, readable by any tool */
  reply_json_text(req, 200, openapi_json, openapi_json_len);
  return FN_OK;
}

/* The reference page: Redoc renders /openapi.json. Its script is served by forumnet itself,
 * so the browser fetches nothing from the internet. */
static const char docs_html[] = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                                "<title>forumnet API reference</title>\n</head>\n<body>\n"
                                "<redoc spec-url=\"/openapi.json\"></redoc>\n"
                                "<script src=\"/docs/redoc.standalone.js\"></script>\n</body>\n</html>\n";

/* Redoc needs inline styles, data: fonts and images, and a blob: worker for search; nothing
 * leaves this origin. */
#define DOCS_CSP                                                                                                       \
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "                    \
  "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'"

static fn_status ops_http_docs(fn_req *req) {
  reply_header(req, "Content-Security-Policy", DOCS_CSP);
  reply_header(req, "Cache-Control", "no-cache");
  reply_text(req, 200, "text/html; charset=utf-8", docs_html, sizeof docs_html - 1);
  return FN_OK;
}

/* The bundle is read once, on first use, from FORUMNET_DOCS_JS; written only under the lock,
 * and read after taking it once (so every thread sees the finished load). */
static char *docs_js;
static size_t docs_js_len;
static int docs_js_loaded;
static pthread_mutex_t docs_js_lock = PTHREAD_MUTEX_INITIALIZER;

/* Redoc's footer shows a logo from Redocly's CDN that no option turns off; the page must not
 * reach outside this origin, so the bundle's reference to it becomes an empty inline image. */
#define REDOC_REMOTE_LOGO "https://cdn.redoc.ly/redoc/logo-mini.svg"
#define INLINE_EMPTY_SVG "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"

/* First occurrence of needle in [hay, hay + len), or NULL (memmem is not standard C). */
static const char *find_bytes(const char *hay, size_t len, const char *needle, size_t n) {
  for (size_t i = 0; n <= len && i <= len - n; i++)
    if (hay[i] == needle[0] && memcmp(hay + i, needle, n) == 0)
      return hay + i;
  return NULL;
}

static void replace_remote_logo(void) {
  size_t from = strlen(REDOC_REMOTE_LOGO), to = strlen(INLINE_EMPTY_SVG), count = 0;
  for (const char *p = docs_js; (p = find_bytes(p, docs_js_len - (size_t)(p - docs_js), REDOC_REMOTE_LOGO, from));
       p += from)
    count++;
  if (count == 0)
    return;
  char *out = malloc(docs_js_len + count * (to - from) + 1), *w = out;
  if (out == NULL)
    return;
  const char *r = docs_js, *end = docs_js + docs_js_len, *hit;
  while ((hit = find_bytes(r, (size_t)(end - r), REDOC_REMOTE_LOGO, from)) != NULL) {
    memcpy(w, r, (size_t)(hit - r));
    w += hit - r;
    memcpy(w, INLINE_EMPTY_SVG, to);
    w += to;
    r = hit + from;
  }
  memcpy(w, r, (size_t)(end - r));
  w += end - r;
  free(docs_js);
  docs_js = out;
  docs_js_len = (size_t)(w - out);
}

static void load_docs_js(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return;
  if (fseek(f, 0, SEEK_END) == 0) {
    long n = ftell(f);
    if (n > 0 && n < 32L * 1024 * 1024 && fseek(f, 0, SEEK_SET) == 0 && (docs_js = malloc((size_t)n)) != NULL) {
      docs_js_len = fread(docs_js, 1, (size_t)n, f);
      if (docs_js_len != (size_t)n) {
        free(docs_js);
        docs_js = NULL;
        docs_js_len = 0;
      }
    }
  }
  fclose(f);
  if (docs_js)
    replace_remote_logo();
}

static fn_status ops_http_docs_js(fn_req *req) {
  pthread_mutex_lock(&docs_js_lock);
  if (!docs_js_loaded) {
    load_docs_js(req->app->cfg.docs_js_path);
    docs_js_loaded = 1;
  }
  pthread_mutex_unlock(&docs_js_lock);
  if (docs_js == NULL)
    return req_problem(req, FN_UNAVAILABLE, "The docs bundle is not installed (FORUMNET_DOCS_JS).");
  reply_header(req, "Cache-Control", "public, max-age=3600");
  reply_text(req, 200, "text/javascript; charset=utf-8", docs_js, docs_js_len);
  return FN_OK;
}

static fn_status ops_http_metrics(fn_req *req) {
  char *text = server_metrics_text(req->app);
  if (text == NULL)
    return FN_INTERNAL;
  reply_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
  free(text);
  return FN_OK;
}

const fn_route ops_routes[] = {
    {"GET", "/healthz", ops_http_health, ROUTE_PUBLIC},
    {"GET", "/readyz", ops_http_ready, ROUTE_PUBLIC},
    {"GET", "/metrics", ops_http_metrics, ROUTE_PUBLIC},
    {"GET", "/openapi.json", ops_http_openapi, ROUTE_PUBLIC},
    {"GET", "/docs", ops_http_docs, ROUTE_PUBLIC},
    {"GET", "/docs/redoc.standalone.js", ops_http_docs_js, ROUTE_PUBLIC},
    {NULL, NULL, NULL, 0},
};
