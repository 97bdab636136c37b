/* Operational endpoints: /healthz, /readyz, /metrics. No token; operators restrict
 * them at the proxy. */
#include <stdlib.h>
#include <string.h>

#include "forumnet/http.h"
#include "forumnet/migrate.h"
#include "forumnet/routes.h"
#include "forumnet/server.h"

static void ops_http_health(fn_req *req) {
  static const char body[] = "{\"status\":\"ok\"}";
  reply_json_text(req, 200, body, sizeof body - 1);
}

static void ops_http_ready(fn_req *req) {
  db_conn *db = req_db(req);
  if (db == NULL)
    return; /* req_db replied 503 */
  int applied = 0;
  if (db_ping(db, &applied) != FN_OK) {
    reply_problem(req, FN_UNAVAILABLE, "The database is unreachable.");
    return;
  }
  if (applied < migrate_known_count()) {
    reply_problem(req, FN_UNAVAILABLE, "Database migrations are pending; run `forumnet migrate`.");
    return;
  }
  static const char body[] = "{\"status\":\"ready\"}";
  reply_json_text(req, 200, body, sizeof body - 1);
}

static void ops_http_metrics(fn_req *req) {
  char *text = server_metrics_text(req->app);
  if (text == NULL) {
    reply_problem(req, FN_INTERNAL, NULL);
    return;
  }
  reply_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
  free(text);
}

const fn_route ops_routes[] = {
    {"GET", "/healthz", ops_http_health, ROUTE_PUBLIC},
    {"GET", "/readyz", ops_http_ready, ROUTE_PUBLIC},
    {"GET", "/metrics", ops_http_metrics, ROUTE_PUBLIC},
    {NULL, NULL, NULL, 0},
};
