/* The webhook dispatcher (include/forumnet/webhooks.h): a thread of `forumnet serve` that sends many
 * deliveries at once on one libcurl multi handle (outbound_batch), at most FORUMNET_WEBHOOK_CONCURRENCY in
 * flight and at most FORUMNET_WEBHOOK_ENDPOINT_CONCURRENCY of them to one endpoint, so a slow endpoint holds
 * only its own share and the others keep flowing.
 *
 * Each slot holds one attempt (webhook_attempt.h) and goes FREE -> QUEUED (claimed) -> FLYING (checked by
 * the SSRF guard, signed and sent as soon as its endpoint has room) -> DONE (answered, or refused before
 * sending) -> FREE (recorded: one statement for every attempt done at that moment). A claim is one
 * statement too, for at most as many deliveries as one endpoint may have in flight, and it skips the
 * endpoints that have that many here already, so what waits in QUEUED stays bounded.
 *
 * Claims are leases rather than locks held while a request is in flight: the claim moves the job's run_at
 * LEASE_MS ahead and commits, so no transaction stays open for the 10 s a request may take. An instance
 * that dies mid-flight leaves its jobs to come due again when the lease runs out, and another instance
 * sends them again, with the same webhook-id (at least once). The lease (the job's run_at as claimed) is
 * checked when the attempt is recorded, so a late instance changes nothing. */
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

/* A queued attempt waits for its endpoint's room (at most one 10 s timeout), then takes 10 s at most; then
 * it is recorded. */
#define LEASE_MS 30000L
/* The longest the thread sleeps before it looks at the queue again (it is woken by answers before). */
#define MAX_WAIT_MS 1000L

typedef enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_FLYING, SLOT_DONE } slot_state;

static struct {
  db_pool *pool;
  unsigned interval_ms;
  int size, per_endpoint;
  webhook_attempt *slots;
  slot_state *state;
  unsigned long *queued_at; /* claim order of the QUEUED slots: the oldest go first */
  unsigned long claims_made;
  webhook_claim *claims;
  void **finished;
  webhook_attempt **done;
  webhook_record *records;
  char *busy;           /* the endpoints at their cap, comma-separated */
  int endpoint_limited; /* the last claim skipped some endpoint */
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

/* Slots in state s (or QUEUED too, with_queued) holding an attempt to endpoint_id. */
static int count_to(const char *endpoint_id, int with_queued) {
  int n = 0;
  for (int i = 0; i < dp.size; i++)
    n += (dp.state[i] == SLOT_FLYING || (with_queued && dp.state[i] == SLOT_QUEUED)) &&
         strcmp(dp.slots[i].claim.d.endpoint_id, endpoint_id) == 0;
  return n;
}

/* dp.busy: the endpoints with as many attempts here as they may have in flight, for the claim to skip. */
static void list_busy_endpoints(void) {
  size_t len = 0;
  dp.busy[0] = '\0';
  for (int i = 0; i < dp.size; i++) {
    const char *e = dp.slots[i].claim.d.endpoint_id;
    if ((dp.state[i] != SLOT_FLYING && dp.state[i] != SLOT_QUEUED) || strstr(dp.busy, e) != NULL ||
        count_to(e, 1) < dp.per_endpoint)
      continue;
    len += (size_t)snprintf(dp.busy + len, UUID_TEXT_SIZE + 1, "%s%s", len ? "," : "", e);
  }
  dp.endpoint_limited = len > 0;
}

static void free_slot_at(int i) {
  webhook_attempt_clear(&dp.slots[i]);
  dp.state[i] = SLOT_FREE;
}

/* Claims up to limit due deliveries (one statement, committed) into free slots, QUEUED; those with nothing
 * to send have had their job ended and free their slot again. check_writable: first ask whether this
 * server takes writes. 1 when the claim was full (more may be due), 0 when not, -1 when the database
 * failed (a statement that fails after the claim leaves the rest to their leases' end). */
static int claim(int limit, int check_writable) {
  db_conn *db = NULL;
  if (db_pool_acquire(dp.pool, &db) != FN_OK)
    return -1; /* the database is away or every connection is busy: the next interval tries again */
  int n = 0, writable = 1;
  fn_status st = check_writable ? jobs_db_writable(db, &writable) : FN_OK;
  if (st == FN_OK && writable) {
    list_busy_endpoints();
    st = webhook_queue_claim(db, limit, dp.busy, LEASE_MS, dp.claims, &n);
  }
  for (int c = 0, i = 0; c < n; c++) {
    while (dp.state[i] != SLOT_FREE)
      i++; /* there are limit free slots */
    webhook_attempt *a = &dp.slots[i];
    webhook_prepared prepared = WEBHOOK_PREPARED_END;
    a->claim = dp.claims[c]; /* the slot owns the payload now */
    if (st == FN_OK)
      st = webhook_attempt_prepare(db, a, &prepared);
    if (st == FN_OK && prepared == WEBHOOK_PREPARED_SEND) {
      dp.state[i] = SLOT_QUEUED;
      dp.queued_at[i] = dp.claims_made++;
    } else
      webhook_attempt_clear(a);
  }
  db_pool_release(dp.pool, db);
  return st != FN_OK ? -1 : n == limit;
}

/* The oldest QUEUED slot whose endpoint has room, or -1. */
static int next_to_send(void) {
  int best = -1;
  for (int i = 0; i < dp.size; i++)
    if (dp.state[i] == SLOT_QUEUED && (best < 0 || dp.queued_at[i] < dp.queued_at[best]) &&
        count_to(dp.slots[i].claim.d.endpoint_id, 0) < dp.per_endpoint)
      best = i;
  return best;
}

/* Sends every QUEUED attempt whose endpoint has room; one refused before sending is DONE (a retry). */
static void send_queued(void) {
  for (int i = next_to_send(); i >= 0; i = next_to_send()) {
    webhook_attempt *a = &dp.slots[i];
    if (webhook_attempt_build(a) == 0 && outbound_batch_add(dp.batch, &a->req, &a->res, a) == 0) {
      dp.state[i] = SLOT_FLYING;
      continue;
    }
    if (a->error[0] == '\0')
      webhook_attempt_answered(a, -1);
    dp.state[i] = SLOT_DONE;
  }
}

/* Records every DONE attempt in one statement and frees their slots. When that fails, their leases run
 * out and they are sent again. */
static void record_done(void) {
  int n = 0;
  for (int i = 0; i < dp.size; i++)
    if (dp.state[i] == SLOT_DONE)
      dp.done[n++] = &dp.slots[i];
  if (n == 0)
    return;
  for (int k = 0; k < n; k++)
    webhook_attempt_record(dp.done[k], &dp.records[k]);
  db_conn *db = NULL;
  fn_status st = db_pool_acquire(dp.pool, &db);
  if (st == FN_OK) {
    st = webhook_queue_record(db, dp.records, n);
    long depth = 0, oldest = 0;
    if (st == FN_OK && metrics_webhook_queue_due() && webhook_queue_stats(db, &depth, &oldest) == FN_OK)
      metrics_webhook_queue(depth, oldest);
    db_pool_release(dp.pool, db);
  }
  for (int k = 0; k < n && st == FN_OK; k++)
    webhook_attempt_recorded(&dp.records[k]);
  if (st != FN_OK)
    log_warn("webhooks: could not record %d attempts (%s); they are sent again when their lease ends", n,
             fn_status_slug(st));
  for (int i = 0; i < dp.size; i++)
    if (dp.state[i] == SLOT_DONE)
      free_slot_at(i);
}

/* Waits up to wait_ms for answers, and marks the answered attempts DONE. Answers how many came. */
static int collect_answers(long wait_ms) {
  int n = outbound_batch_run(dp.batch, (int)wait_ms, dp.finished, dp.size);
  for (int k = 0; k < n; k++) {
    webhook_attempt *a = dp.finished[k];
    webhook_attempt_answered(a, a->res.error[0] ? -1 : 0);
    dp.state[a - dp.slots] = SLOT_DONE;
  }
  return n;
}

static void *dispatch_loop(void *arg) {
  (void)arg;
  long next_poll = 0;
  int more = 0;
  while (!atomic_load(&dp.stopping) || count_state(SLOT_FLYING) > 0) {
    int room = count_state(SLOT_FREE), limit = room < dp.per_endpoint ? room : dp.per_endpoint;
    if (!atomic_load(&dp.stopping) && limit > 0 && (more || now_ms() >= next_poll)) {
      more = claim(limit, !more) == 1;
      if (!more)
        next_poll = now_ms() + (long)dp.interval_ms;
    }
    if (atomic_load(&dp.stopping))
      for (int i = 0; i < dp.size; i++)
        if (dp.state[i] == SLOT_QUEUED)
          free_slot_at(i); /* not sent: due again when its lease ends */
    send_queued();
    record_done(); /* those refused before sending */
    long wait = next_poll - now_ms();
    if (more && count_state(SLOT_FREE) > 0)
      wait = 0;
    /* an answer from an endpoint that was at its cap makes room for its next deliveries: claim at once */
    if (collect_answers(wait < 0 ? 0 : wait > MAX_WAIT_MS ? MAX_WAIT_MS : wait) > 0 && dp.endpoint_limited)
      more = 1;
    send_queued();
    record_done();
  }
  return NULL;
}

static void release_memory(void) {
  for (int i = 0; dp.slots && i < dp.size; i++)
    webhook_attempt_clear(&dp.slots[i]);
  outbound_batch_free(dp.batch);
  free(dp.slots);
  free(dp.state);
  free(dp.queued_at);
  free(dp.claims);
  free(dp.finished);
  free(dp.done);
  free(dp.records);
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
  dp.queued_at = calloc(n, sizeof *dp.queued_at);
  dp.claims = calloc(n, sizeof *dp.claims);
  dp.finished = calloc(n, sizeof *dp.finished);
  dp.done = calloc(n, sizeof *dp.done);
  dp.records = calloc(n, sizeof *dp.records);
  dp.busy = calloc(n, UUID_TEXT_SIZE + 1);
  dp.batch = outbound_batch_new(dp.size);
  atomic_store(&dp.stopping, 0);
  if (!dp.slots || !dp.state || !dp.queued_at || !dp.claims || !dp.finished || !dp.done || !dp.records || !dp.busy ||
      !dp.batch || pthread_create(&dp.thread, NULL, dispatch_loop, NULL) != 0) {
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
