/* The webhook dispatcher (include/forumnet/webhooks.h): a thread of `forumnet serve` that sends many
 * deliveries at once on one libcurl multi handle (outbound_batch), at most FORUMNET_WEBHOOK_CONCURRENCY in
 * flight and at most FORUMNET_WEBHOOK_ENDPOINT_CONCURRENCY of them to one endpoint, so a slow endpoint holds
 * only its own slots and the others keep flowing.
 *
 * Each slot holds one attempt (webhook_attempt.h) and goes FREE -> READY (claimed and prepared in the
 * claiming transaction) -> FLYING (sent once that transaction committed) -> DONE (answered, or refused
 * before sending) -> FREE (recorded: one transaction for every attempt done at that moment).
 *
 * Claims are leases rather than locks held while a request is in flight: the claim moves the job's run_at
 * LEASE_MS ahead and commits, so no transaction stays open for the 10 s a request may take. An instance
 * that dies mid-flight leaves its jobs to come due again when the lease runs out, and another instance
 * sends them again, with the same webhook-id (at least once). The lease (the job's run_at as claimed)
 * is checked when the attempt is recorded, so a late instance changes nothing. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forumnet/jobs_db.h"
#include "forumnet/log.h"
#include "forumnet/metrics.h"
#include "forumnet/webhook_attempt.h"
#include "forumnet/webhooks.h"

/* The 10 s request timeout, plus time to record it. */
#define LEASE_MS 30000L
/* The longest the thread sleeps before it looks at the queue again (it is woken by answers before). */
#define MAX_WAIT_MS 1000L

typedef enum slot_state { SLOT_FREE, SLOT_READY, SLOT_FLYING, SLOT_DONE } slot_state;

static struct {
  db_pool *pool;
  unsigned interval_ms;
  int size, per_endpoint;
  webhook_attempt *slots;
  slot_state *state;
  webhook_claim *claims;
  void **finished;
  webhook_attempt **done;
  char *busy; /* the endpoints at their cap, comma-separated */
  outbound_batch *batch;
  pthread_t thread;
  int running;
  atomic_int stopping;
} dp;

static long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long)t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

static int count_state(slot_state s) {
  int n = 0;
  for (int i = 0; i < dp.size; i++)
    n += dp.state[i] == s;
  return n;
}

static int free_slot(void) {
  for (int i = 0; i < dp.size; i++)
    if (dp.state[i] == SLOT_FREE)
      return i;
  return -1;
}

/* Attempts to endpoint_id about to go or in flight. */
static int flying_to(const char *endpoint_id) {
  int n = 0;
  for (int i = 0; i < dp.size; i++)
    n += (dp.state[i] == SLOT_READY || dp.state[i] == SLOT_FLYING) &&
         strcmp(dp.slots[i].d.endpoint_id, endpoint_id) == 0;
  return n;
}

/* dp.busy: the endpoints that have no room left here, for the claim to skip. */
static void list_busy_endpoints(void) {
  size_t len = 0;
  dp.busy[0] = '\0';
  for (int i = 0; i < dp.size; i++) {
    const char *e = dp.slots[i].d.endpoint_id;
    if (dp.state[i] != SLOT_FLYING || strstr(dp.busy, e) != NULL || flying_to(e) < dp.per_endpoint)
      continue;
    len += (size_t)snprintf(dp.busy + len, UUID_TEXT_SIZE + 1, "%s%s", len ? "," : "", e);
  }
}

static void free_slot_at(int i) {
  webhook_attempt_clear(&dp.slots[i]);
  dp.state[i] = SLOT_FREE;
}

/* In the claiming transaction: each claimed job into a free slot, READY to send, DONE when it cannot be sent
 * (a retry to record), freed again when it needs nothing more (its job ended) or its endpoint has no room
 * (given back, due now). */
static fn_status claim_into_slots(db_conn *db, int limit, int *claimed) {
  int n = 0, writable = 0;
  fn_status st = jobs_db_writable(db, &writable);
  if (st != FN_OK || !writable)
    return st; /* a read-only server: nothing can be claimed here */
  list_busy_endpoints();
  st = webhooks_db_claim(db, limit, dp.busy, LEASE_MS, dp.claims, &n);
  *claimed = n;
  for (int c = 0; c < n && st == FN_OK; c++) {
    int i = free_slot();
    webhook_attempt *a = &dp.slots[i];
    webhook_prepared prepared = WEBHOOK_PREPARED_END;
    a->claim = dp.claims[c];
    st = webhook_attempt_prepare(db, a, &prepared);
    if (st == FN_OK && prepared == WEBHOOK_PREPARED_SEND && flying_to(a->d.endpoint_id) >= dp.per_endpoint)
      st = webhooks_db_release(db, &a->claim);
    else if (st == FN_OK && prepared == WEBHOOK_PREPARED_SEND)
      dp.state[i] = SLOT_READY;
    else if (st == FN_OK && prepared == WEBHOOK_PREPARED_SETTLE)
      dp.state[i] = SLOT_DONE;
    if (dp.state[i] == SLOT_FREE)
      webhook_attempt_clear(a);
  }
  return st;
}

/* Claims up to limit due deliveries and sends those that may go. 1 when the claim was full (more may be
 * due), 0 when it was not, -1 when the database failed (nothing was claimed). */
static int claim_and_send(int limit) {
  db_conn *db = NULL;
  if (db_pool_acquire(dp.pool, &db) != FN_OK)
    return -1; /* the database is away or every connection is busy: the next interval tries again */
  int claimed = 0;
  fn_status st = db_begin(db);
  if (st == FN_OK)
    st = claim_into_slots(db, limit, &claimed);
  if (st == FN_OK)
    st = db_commit(db);
  else
    db_rollback(db);
  db_pool_release(dp.pool, db);
  for (int i = 0; i < dp.size; i++) {
    if (st != FN_OK && (dp.state[i] == SLOT_READY || dp.state[i] == SLOT_DONE)) {
      free_slot_at(i); /* rolled back: nothing was claimed */
      continue;
    }
    if (dp.state[i] != SLOT_READY)
      continue;
    webhook_attempt *a = &dp.slots[i];
    if (outbound_batch_add(dp.batch, &a->req, &a->res, a) == 0)
      dp.state[i] = SLOT_FLYING;
    else {
      webhook_attempt_answered(a, -1);
      dp.state[i] = SLOT_DONE;
    }
  }
  return st != FN_OK ? -1 : claimed == limit;
}

static int by_endpoint(const void *x, const void *y) {
  const webhook_attempt *a = *(webhook_attempt *const *)x, *b = *(webhook_attempt *const *)y;
  return strcmp(a->d.endpoint_id, b->d.endpoint_id);
}

/* Records every DONE attempt in one transaction (in endpoint order, so two instances recording failures of
 * the same endpoints lock their rows in the same order) and frees their slots. When that fails, their
 * leases run out and they are sent again. */
static void record_done(void) {
  int n = 0;
  for (int i = 0; i < dp.size; i++)
    if (dp.state[i] == SLOT_DONE)
      dp.done[n++] = &dp.slots[i];
  if (n == 0)
    return;
  qsort(dp.done, (size_t)n, sizeof dp.done[0], by_endpoint);
  db_conn *db = NULL;
  fn_status st = db_pool_acquire(dp.pool, &db);
  if (st == FN_OK) {
    st = db_begin(db);
    for (int k = 0; k < n && st == FN_OK; k++)
      st = webhook_attempt_settle(db, dp.done[k]);
    if (st == FN_OK)
      st = db_commit(db);
    else
      db_rollback(db);
    long depth = 0, oldest = 0;
    if (st == FN_OK && metrics_webhook_queue_due() && webhooks_db_queue_stats(db, &depth, &oldest) == FN_OK)
      metrics_webhook_queue(depth, oldest);
    db_pool_release(dp.pool, db);
  }
  if (st != FN_OK)
    log_warn("webhooks: could not record %d attempts (%s); they are sent again when their lease ends", n,
             fn_status_slug(st));
  for (int i = 0; i < dp.size; i++)
    if (dp.state[i] == SLOT_DONE)
      free_slot_at(i);
}

/* Waits up to wait_ms for answers, and marks the answered attempts DONE. */
static void collect_answers(long wait_ms) {
  int n = outbound_batch_run(dp.batch, (int)wait_ms, dp.finished, dp.size);
  for (int k = 0; k < n; k++) {
    webhook_attempt *a = dp.finished[k];
    webhook_attempt_answered(a, a->res.error[0] ? -1 : 0);
    dp.state[a - dp.slots] = SLOT_DONE;
  }
}

static void *dispatch_loop(void *arg) {
  (void)arg;
  long next_poll = 0;
  int more = 0;
  while (!atomic_load(&dp.stopping) || count_state(SLOT_FLYING) > 0) {
    int room = count_state(SLOT_FREE), limit = room < dp.per_endpoint ? room : dp.per_endpoint;
    if (!atomic_load(&dp.stopping) && limit > 0 && (more || now_ms() >= next_poll)) {
      more = claim_and_send(limit) == 1;
      if (!more)
        next_poll = now_ms() + (long)dp.interval_ms;
    }
    record_done(); /* those refused before sending */
    long wait = next_poll - now_ms();
    if (more && count_state(SLOT_FREE) > 0)
      wait = 0;
    collect_answers(wait < 0 ? 0 : wait > MAX_WAIT_MS ? MAX_WAIT_MS : wait);
    record_done();
  }
  return NULL;
}

static void release_memory(void) {
  outbound_batch_free(dp.batch);
  free(dp.slots);
  free(dp.state);
  free(dp.claims);
  free(dp.finished);
  free(dp.done);
  free(dp.busy);
  memset(&dp, 0, sizeof dp);
}

int webhooks_dispatcher_start(db_pool *pool, const fn_config *cfg) {
  webhook_attempt_configure(cfg);
  dp.pool = pool;
  dp.interval_ms = cfg->jobs_interval_ms;
  dp.size = (int)cfg->webhook_concurrency;
  dp.per_endpoint = (int)cfg->webhook_endpoint_concurrency;
  if (dp.per_endpoint > dp.size)
    dp.per_endpoint = dp.size;
  size_t n = (size_t)dp.size;
  dp.slots = calloc(n, sizeof *dp.slots);
  dp.state = calloc(n, sizeof *dp.state);
  dp.claims = calloc(n, sizeof *dp.claims);
  dp.finished = calloc(n, sizeof *dp.finished);
  dp.done = calloc(n, sizeof *dp.done);
  dp.busy = calloc(n, UUID_TEXT_SIZE + 1);
  dp.batch = outbound_batch_new(dp.size);
  atomic_store(&dp.stopping, 0);
  if (!dp.slots || !dp.state || !dp.claims || !dp.finished || !dp.done || !dp.busy || !dp.batch ||
      pthread_create(&dp.thread, NULL, dispatch_loop, NULL) != 0) {
    release_memory();
    return -1;
  }
  dp.running = 1;
  log_info("webhook deliveries: at most %d at once, %d to one endpoint", dp.size, dp.per_endpoint);
  return 0;
}

void webhooks_dispatcher_stop(void) {
  if (!dp.running)
    return;
  atomic_store(&dp.stopping, 1);
  outbound_batch_wakeup(dp.batch);
  pthread_join(dp.thread, NULL);
  release_memory();
}
