#ifndef FORUMNET_ROUTER_H
#define FORUMNET_ROUTER_H

#include <stddef.h>

#include "forumnet/http.h"

/* Collects every resource's route table (http/routes.c) into one indexed list. */
/* Collects every route table (routes.h). 0, or -1 when out of memory: the server must not start. */
int router_init(void);
int router_route_count(void);
const fn_route *router_route(int index);

typedef enum router_match_result { ROUTER_MATCH, ROUTER_NO_PATH, ROUTER_WRONG_METHOD } router_match_result;

/* Matches method + path. On ROUTER_MATCH fills req->route, route_index and params.
 * On ROUTER_WRONG_METHOD (and on a match) writes the path's methods, comma separated,
 * into allow (e.g. "GET, PATCH, DELETE"). */
router_match_result router_match(const char *method, const char *path, fn_req *req, char *allow, size_t allow_len);

/* The route method + path would match (the one router_match picks), or NULL; fills nothing. */
const fn_route *router_find(const char *method, const char *path);

#endif
