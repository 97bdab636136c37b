#ifndef FORUMNET_METRICS_H
#define FORUMNET_METRICS_H

#include "forumnet/db.h"

/* Counters are lock-free; route slots are fixed at start from the route table. */
/* 0, or -1 when out of memory (the server must not start). */
int metrics_init(int route_count);
/* route_index -1 for requests that matched no route. */
void metrics_observe(int route_index, int http_status, double seconds);
/* Where a summary's figures were computed (forumnet_summary_reads_total{source}), and why not on the
 * replica when one is configured (forumnet_summary_replica_fallbacks_total{reason}). */
typedef enum metrics_fallback {
  METRICS_FALLBACK_BEHIND,      /* it had not replayed the caller's last change */
  METRICS_FALLBACK_UNREACHABLE, /* no connection */
  METRICS_FALLBACK_ERROR,       /* a statement failed (a recovery conflict, 40001, included) or missed rows */
  METRICS_FALLBACK_COUNT
} metrics_fallback;
void metrics_summary_read(int on_replica);
/* A background job ran (forumnet_jobs_run_total) and, when ok is 0, failed (forumnet_jobs_failed_total). */
void metrics_job_finished(int ok);

/* Webhook deliveries by result (forumnet_webhook_deliveries_total), and the queue as last seen. */
typedef enum metrics_webhook_result {
  METRICS_WEBHOOK_DELIVERED,
  METRICS_WEBHOOK_RETRIED,
  METRICS_WEBHOOK_FAILED, /* failed for good, or the endpoint disabled */
  METRICS_WEBHOOK_ABANDONED,
  METRICS_WEBHOOK_RESULT_COUNT
} metrics_webhook_result;
void metrics_webhook_delivery(metrics_webhook_result result);
/* 1 when the queue gauges are more than a second old (and claims the refresh). */
int metrics_webhook_queue_due(void);
void metrics_webhook_queue(long depth, long oldest_age_s);
void metrics_replica_fallback(metrics_fallback reason);
/* Prometheus text exposition; caller frees. route_label(i)/route_method(i) name the slots. */
char *metrics_render(db_pool *pool, const char *(*route_label)(int), const char *(*route_method)(int));

#endif
