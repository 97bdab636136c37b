/* Prometheus counters: requests by route and status, latency histogram, DB pool use. */
#include "forumnet/metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STATUS_SLOTS 600 /* HTTP status codes 0..599 */
static const double bucket_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
#define BUCKETS (sizeof bucket_bounds / sizeof bucket_bounds[0])

typedef struct route_metrics {
  atomic_ulong by_status[STATUS_SLOTS];
  atomic_ulong buckets[BUCKETS]; /* non-cumulative; summed when rendering */
  atomic_ulong count;
  atomic_ullong sum_us;
} route_metrics;

static atomic_ulong summary_reads[2]; /* [0] primary, [1] replica */
static const char *const summary_sources[2] = {"primary", "replica"};
static atomic_ulong replica_fallbacks[METRICS_FALLBACK_COUNT];
static const char *const fallback_reasons[METRICS_FALLBACK_COUNT] = {"behind", "unreachable", "error"};

static atomic_ulong jobs_run, jobs_failed;

static route_metrics *slots; /* route_count + 1: the last slot is "unmatched" */
static int slot_count;

int metrics_init(int route_count) {
  slot_count = route_count + 1;
  slots = calloc((size_t)slot_count, sizeof *slots);
  return slots != NULL ? 0 : -1;
}

void metrics_observe(int route_index, int http_status, double seconds) {
  if (slots == NULL)
    return;
  route_metrics *m = &slots[(route_index < 0 || route_index >= slot_count - 1) ? slot_count - 1 : route_index];
  if (http_status >= 0 && http_status < STATUS_SLOTS)
    atomic_fetch_add_explicit(&m->by_status[http_status], 1, memory_order_relaxed);
  size_t b = 0;
  while (b < BUCKETS && seconds > bucket_bounds[b])
    b++;
  if (b < BUCKETS)
    atomic_fetch_add_explicit(&m->buckets[b], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&m->sum_us, (unsigned long long)(seconds * 1e6), memory_order_relaxed);
}

void metrics_summary_read(int on_replica) {
  atomic_fetch_add_explicit(&summary_reads[on_replica ? 1 : 0], 1, memory_order_relaxed);
}

void metrics_replica_fallback(metrics_fallback reason) {
  if (reason < METRICS_FALLBACK_COUNT)
    atomic_fetch_add_explicit(&replica_fallbacks[reason], 1, memory_order_relaxed);
}

static atomic_ulong webhook_results[METRICS_WEBHOOK_RESULT_COUNT];
static const char *const webhook_result_names[METRICS_WEBHOOK_RESULT_COUNT] = {"delivered", "retried", "failed",
                                                                               "abandoned"};
static atomic_long webhook_depth, webhook_oldest_s, webhook_seen_at;

void metrics_webhook_delivery(metrics_webhook_result result) {
  atomic_fetch_add_explicit(&webhook_results[result], 1, memory_order_relaxed);
}

int metrics_webhook_queue_due(void) {
  long now = (long)time(NULL), seen = atomic_load(&webhook_seen_at);
  return now != seen && atomic_compare_exchange_strong(&webhook_seen_at, &seen, now);
}

void metrics_webhook_queue(long depth, long oldest_age_s) {
  atomic_store(&webhook_depth, depth);
  atomic_store(&webhook_oldest_s, oldest_age_s);
}

void metrics_job_finished(int ok) {
  atomic_fetch_add_explicit(&jobs_run, 1, memory_order_relaxed);
  if (!ok)
    atomic_fetch_add_explicit(&jobs_failed, 1, memory_order_relaxed);
}

/* Growable string for the exposition text. */
typedef struct text_buf {
  char *data;
  size_t len, cap;
} text_buf;

static void append(text_buf *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(text_buf *t, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int n = vsnprintf(t->data ? t->data + t->len : NULL, t->data ? t->cap - t->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0)
      return;
    if (t->data && t->len + (size_t)n < t->cap) {
      t->len += (size_t)n;
      return;
    }
    size_t cap = (t->cap + (size_t)n + 1) * 2;
    char *grown = realloc(t->data, cap);
    if (grown == NULL)
      return;
    t->data = grown;
    t->cap = cap;
  }
}

/* A counter family with one label: its HELP and TYPE lines, then a sample for each of the n label values. */
static void append_labelled_counter(text_buf *t, const char *name, const char *help, const char *label,
                                    const char *const *values, atomic_ulong *counts, int n) {
  append(t, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
  for (int i = 0; i < n; i++)
    append(t, "%s{%s=\"%s\"} %lu\n", name, label, values[i], atomic_load_explicit(&counts[i], memory_order_relaxed));
}

char *metrics_render(db_pool *pool, const char *(*route_label)(int), const char *(*route_method)(int)) {
  text_buf t = {0};
  append(&t, "# HELP forumnet_http_requests_total HTTP requests by route and status.\n"
             "# TYPE forumnet_http_requests_total counter\n");
  for (int i = 0; i < slot_count; i++) {
    const char *route = i < slot_count - 1 ? route_label(i) : "unmatched";
    const char *method = i < slot_count - 1 ? route_method(i) : "*";
    for (int s = 0; s < STATUS_SLOTS; s++) {
      unsigned long n = atomic_load_explicit(&slots[i].by_status[s], memory_order_relaxed);
      if (n)
        append(&t, "forumnet_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %lu\n", method, route, s, n);
    }
  }
  append(&t, "# HELP forumnet_http_request_duration_seconds Time spent handling requests.\n"
             "# TYPE forumnet_http_request_duration_seconds histogram\n");
  for (int i = 0; i < slot_count; i++) {
    unsigned long count = atomic_load_explicit(&slots[i].count, memory_order_relaxed);
    if (count == 0)
      continue;
    const char *route = i < slot_count - 1 ? route_label(i) : "unmatched";
    const char *method = i < slot_count - 1 ? route_method(i) : "*";
    unsigned long cumulative = 0;
    for (size_t b = 0; b < BUCKETS; b++) {
      cumulative += atomic_load_explicit(&slots[i].buckets[b], memory_order_relaxed);
      append(&t, "forumnet_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"%g\"} %lu\n", method,
             route, bucket_bounds[b], cumulative);
    }
    append(&t, "forumnet_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"+Inf\"} %lu\n", method,
           route, count);
    append(&t, "forumnet_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n", method, route,
           (double)atomic_load_explicit(&slots[i].sum_us, memory_order_relaxed) / 1e6);
    append(&t, "forumnet_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %lu\n", method, route, count);
  }
  db_pool_stats ps;
  db_pool_get_stats(pool, &ps);
  append(&t,
         "# HELP forumnet_db_pool_size Database connections in the pool.\n# TYPE forumnet_db_pool_size gauge\n"
         "forumnet_db_pool_size %u\n"
         "# HELP forumnet_db_pool_in_use Database connections lent to requests.\n"
         "# TYPE forumnet_db_pool_in_use gauge\nforumnet_db_pool_in_use %u\n"
         "# HELP forumnet_db_pool_waits_total Acquisitions that had to wait.\n"
         "# TYPE forumnet_db_pool_waits_total counter\nforumnet_db_pool_waits_total %lu\n"
         "# HELP forumnet_db_pool_timeouts_total Acquisitions that gave up (answered 503).\n"
         "# TYPE forumnet_db_pool_timeouts_total counter\nforumnet_db_pool_timeouts_total %lu\n"
         "# HELP forumnet_db_reconnects_total Connections (re)opened.\n"
         "# TYPE forumnet_db_reconnects_total counter\nforumnet_db_reconnects_total %lu\n"
         "# HELP forumnet_db_connect_attempts_total Connects tried (none during the reconnect backoff).\n"
         "# TYPE forumnet_db_connect_attempts_total counter\nforumnet_db_connect_attempts_total %lu\n"
         "# HELP forumnet_db_connect_failures_total Connects that failed.\n"
         "# TYPE forumnet_db_connect_failures_total counter\nforumnet_db_connect_failures_total %lu\n",
         ps.size, ps.in_use, ps.waits, ps.timeouts, ps.reconnects, ps.connect_attempts, ps.connect_failures);
  append_labelled_counter(&t, "forumnet_summary_reads_total", "Summaries by where their figures were computed.",
                          "source", summary_sources, summary_reads, 2);
  append_labelled_counter(&t, "forumnet_summary_replica_fallbacks_total",
                          "Summaries the configured replica did not serve, by why.", "reason", fallback_reasons,
                          replica_fallbacks, METRICS_FALLBACK_COUNT);
  append(&t,
         "# HELP forumnet_jobs_run_total Background jobs this process ran (README \"Background jobs\").\n"
         "# TYPE forumnet_jobs_run_total counter\nforumnet_jobs_run_total %lu\n"
         "# HELP forumnet_jobs_failed_total Background jobs this process ran that failed (retried later).\n"
         "# TYPE forumnet_jobs_failed_total counter\nforumnet_jobs_failed_total %lu\n",
         atomic_load_explicit(&jobs_run, memory_order_relaxed),
         atomic_load_explicit(&jobs_failed, memory_order_relaxed));
  append_labelled_counter(&t, "forumnet_webhook_deliveries_total",
                          "Webhook delivery attempts this process made, by result.", "result", webhook_result_names,
                          webhook_results, METRICS_WEBHOOK_RESULT_COUNT);
  append(&t,
         "# HELP forumnet_webhook_queue_depth Pending webhook deliveries (as this process last saw them).\n"
         "# TYPE forumnet_webhook_queue_depth gauge\nforumnet_webhook_queue_depth %ld\n"
         "# HELP forumnet_webhook_oldest_pending_seconds Age of the oldest due pending delivery.\n"
         "# TYPE forumnet_webhook_oldest_pending_seconds gauge\nforumnet_webhook_oldest_pending_seconds %ld\n",
         atomic_load(&webhook_depth), atomic_load(&webhook_oldest_s));
  return t.data;
}
