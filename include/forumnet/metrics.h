#ifndef FORUMNET_METRICS_H
#define FORUMNET_METRICS_H

#include "forumnet/db.h"

/* Counters are lock-free; route slots are fixed at start from the route table. */
/* 0, or -1 when out of memory (the server must not start). */
int metrics_init(int route_count);
/* route_index -1 for requests that matched no route. */
void metrics_observe(int route_index, int http_status, double seconds);
/* Prometheus text exposition; caller frees. route_label(i)/route_method(i) name the slots. */
char *metrics_render(db_pool *pool, const char *(*route_label)(int), const char *(*route_method)(int));

#endif
