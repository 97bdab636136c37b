#include "forumnet/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/routes.h"

/* Every route of every table, sized at start-up: no route can be dropped by a fixed limit. */
static const fn_route **routes;
static int route_count;

int router_init(void) {
  int n = 0;
  for (const fn_route *const *table = all_route_tables; *table != NULL; table++)
    for (const fn_route *r = *table; r->method != NULL; r++)
      n++;
  free(routes);
  route_count = 0;
  routes = calloc((size_t)n + 1, sizeof *routes);
  if (routes == NULL)
    return -1;
  for (const fn_route *const *table = all_route_tables; *table != NULL; table++)
    for (const fn_route *r = *table; r->method != NULL; r++)
      routes[route_count++] = r;
  return 0;
}

int router_route_count(void) { return route_count; }

const fn_route *router_route(int index) { return (index >= 0 && index < route_count) ? routes[index] : NULL; }

/* Matches path against pattern segment by segment, capturing {name} segments. */
static int path_matches(const char *pattern, const char *path, fn_req *req) {
  int params = 0;
  const char *p = pattern, *s = path;
  while (*p && *s) {
    if (*p == '{') {
      const char *close = strchr(p, '}');
      const char *seg_end = strchr(s, '/');
      size_t seg_len = seg_end ? (size_t)(seg_end - s) : strlen(s);
      if (close == NULL || seg_len == 0 || seg_len >= HTTP_MAX_PARAM_LEN || params >= HTTP_MAX_PARAMS)
        return 0;
      if (req) {
        size_t name_len = (size_t)(close - p - 1); /* "{site_id}" -> "site_id" */
        if (name_len >= sizeof req->param_names[0])
          return 0;
        memcpy(req->param_names[params], p + 1, name_len);
        req->param_names[params][name_len] = '\0';
        memcpy(req->param_values[params], s, seg_len);
        req->param_values[params][seg_len] = '\0';
      }
      params++;
      p = close + 1;
      s += seg_len;
    } else {
      if (*p != *s)
        return 0;
      p++;
      s++;
    }
  }
  if (*p != '\0' || *s != '\0')
    return 0;
  if (req)
    req->param_count = params;
  return 1;
}

router_match_result router_match(const char *method, const char *path, fn_req *req, char *allow, size_t allow_len) {
  int found_path = 0, match = -1;
  size_t off = 0;
  allow[0] = '\0';
  for (int i = 0; i < route_count; i++) {
    if (!path_matches(routes[i]->pattern, path, NULL))
      continue;
    found_path = 1;
    if (off < allow_len)
      off += (size_t)snprintf(allow + off, allow_len - off, "%s%s", off ? ", " : "", routes[i]->method);
    if (match < 0 && strcmp(routes[i]->method, method) == 0)
      match = i;
  }
  if (found_path && off < allow_len)
    snprintf(allow + off, allow_len - off, ", OPTIONS");
  if (match >= 0) {
    path_matches(routes[match]->pattern, path, req);
    req->route = routes[match];
    req->route_index = match;
    return ROUTER_MATCH;
  }
  return found_path ? ROUTER_WRONG_METHOD : ROUTER_NO_PATH;
}

const fn_route *router_find(const char *method, const char *path) {
  for (int i = 0; i < route_count; i++)
    if (strcmp(routes[i]->method, method) == 0 && path_matches(routes[i]->pattern, path, NULL))
      return routes[i];
  return NULL;
}
