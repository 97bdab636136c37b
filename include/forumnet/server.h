#ifndef FORUMNET_SERVER_H
#define FORUMNET_SERVER_H

#include "forumnet/http.h"

/* Serves until SIGTERM or SIGINT, then stops accepting, lets requests in flight
 * finish (bounded), and returns 0. Returns non-zero if the listener cannot start. */
int server_run(fn_app *app);

/* The Ulfius callback behind every route: request id, CORS, route match, body limit,
 * authentication, body parsing, handler, metrics and the access log. */
/* Prometheus text for GET /metrics; caller frees. */
char *server_metrics_text(fn_app *app);

int dispatch_request(const struct _u_request *u, struct _u_response *res, void *app);

/* Parses an application/x-www-form-urlencoded body (len bytes, not NUL-terminated) into a JSON
 * object of strings, so that handlers validate form and JSON bodies alike. A pair without '=',
 * a malformed or %00 escape, invalid UTF-8 or a repeated name is FN_INVALID (detail says so and
 * *out is left alone); FN_INTERNAL when memory runs out. On FN_OK *out is a new reference.
 * Used by dispatch_request for ROUTE_FORM_BODY routes; public so that tests/fuzz reaches it. */
fn_status dispatch_parse_form(const void *data, size_t len, json_t **out, char *detail, size_t detail_len);

#endif
