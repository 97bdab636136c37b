#ifndef FORUMNET_SERVER_H
#define FORUMNET_SERVER_H

#include "forumnet/form.h" /* dispatch_parse_form, which tests/fuzz reach through this header */
#include "forumnet/http.h"

/* Serves until SIGTERM or SIGINT, then stops accepting, lets requests in flight
 * finish (bounded), and returns 0. Returns non-zero if the listener cannot start. */
int server_run(fn_app *app);

/* The Ulfius callback behind every route: request id, CORS, route match, body limit,
 * authentication, body parsing, handler, metrics and the access log. */
/* Prometheus text for GET /metrics; caller frees. */
char *server_metrics_text(fn_app *app);

/* The MHD connection of the request being handled on this thread (a live stream suspends it), or NULL;
 * once per request. */
struct MHD_Connection *server_connection(const struct _u_request *request);

int dispatch_request(const struct _u_request *u, struct _u_response *res, void *app);

#endif
