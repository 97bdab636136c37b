/* The job runner (include/forumnet/jobs.h): a thread of `forumnet serve` that claims due rows of table jobs
 * and runs their kind's handler, one transaction per job.
 *
 * Connection: the thread borrows a pooled connection for each poll and gives it back before it sleeps,
 * rather than keeping one of its own. A poll takes a few milliseconds every FORUMNET_JOBS_INTERVAL_MS, so
 * a dedicated connection would be a server connection per instance idle almost all the time; the pool
 * brings its reconnect backoff, its statement and lock timeouts, and its transaction-pooler mode (unnamed
 * statements, no session state) for free, so the runner works behind PgBouncer in transaction mode as
 * requests do. The cost: under load a poll may wait for a connection like a request does
 * (FORUMNET_DB_ACQUIRE_TIMEOUT_MS); it then gives up and tries at the next interval. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forumnet/jobs.h"
#include "forumnet/jobs_db.h"
#include "forumnet/log.h"
#include "forumnet/metrics.h"
#include "forumnet/timestamp.h"
#include "forumnet/webhooks.h"

/* Jobs one poll runs at most before it gives its connection back. */
#define JOBS_PER_POLL 100
#define BACKOFF_FIRST_MS 1000L
#define BACKOFF_MAX_MS 3600000L

long jobs_backoff_ms(int failures) {
  long ms = BACKOFF_FIRST_MS;
  for (int i = 1; i < failures && ms < BACKOFF_MAX_MS; i++)
    ms *= 2;
  return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

fn_status jobs_ensure_recurring(db_conn *db, const job_kind *kinds, size_t count) {
  for (size_t i = 0; i < count; i++) {
    fn_status st = kinds[i].recurring ? jobs_db_ensure_recurring(db, kinds[i].kind) : FN_OK;
    if (st != FN_OK)
      return st;
  }
  return FN_OK;
}

/* A failed handler's reason when it gave none: its status and the SQLSTATE (never the server's message,
 * which may quote the row's values). */
static void describe_failure(db_conn *db, fn_status st, char *out, size_t size) {
  const char *sqlstate = db_last_sqlstate(db);
  if (sqlstate[0] != '\0')
    snprintf(out, size, "%s (SQLSTATE %s)", fn_status_slug(st), sqlstate);
  else
    snprintf(out, size, "%s", fn_status_slug(st));
}

/* After the handler: FN_OK keeps its work and deletes or reschedules the row; a failure undoes its work
 * (back to the savepoint) and counts the attempt with a backoff, in the same transaction. */
static fn_status settle(db_conn *db, job *j, fn_status ran) {
  if (ran == FN_OK)
    return jobs_db_finish(db, j->id, j->again_in_ms);
  if (j->error[0] == '\0')
    describe_failure(db, ran, j->error, sizeof j->error);
  long retry_ms = jobs_backoff_ms(j->attempts + 1);
  log_warn("job %ld (%s) failed (attempt %d): %s; retried in %ld ms", j->id, j->kind, j->attempts + 1, j->error,
           retry_ms);
  fn_status st = jobs_db_rollback_to_savepoint(db);
  return st == FN_OK ? jobs_db_fail(db, j->id, j->error, retry_ms) : st;
}

/* Claims one due job and runs it in one transaction: 1 when one ran, 0 when none was due, -1 when the
 * database failed (the transaction is rolled back: the row stays for the next poll). */
static int run_one(db_conn *db, const job_kind *kinds, size_t count, const char *kind_list, unsigned interval_ms) {
  jobs_db_claimed claimed = {0};
  int found = 0;
  fn_status st = db_begin(db);
  if (st == FN_OK)
    st = jobs_db_claim(db, kind_list, &claimed, &found);
  const job_kind *k = found && st == FN_OK ? jobs_kind_find(kinds, count, claimed.kind) : NULL;
  if (k == NULL) { /* none due (the claim names only these kinds), or a failure */
    db_rollback(db);
    free(claimed.payload);
    return st == FN_OK ? 0 : -1;
  }
  job j = {.id = claimed.id,
           .payload = claimed.payload,
           .attempts = claimed.attempts,
           .again_in_ms = k->recurring ? (long)interval_ms : -1};
  snprintf(j.kind, sizeof j.kind, "%s", claimed.kind);
  st = jobs_db_savepoint(db);
  fn_status ran = st == FN_OK ? k->run(db, &j) : st;
  if (st == FN_OK)
    st = settle(db, &j, ran);
  if (st == FN_OK)
    st = db_commit(db);
  else
    db_rollback(db);
  metrics_job_finished(ran == FN_OK && st == FN_OK);
  free(claimed.payload);
  return st == FN_OK ? 1 : -1;
}

fn_status jobs_run_due(db_conn *db, const job_kind *kinds, size_t count, unsigned interval_ms, int max_jobs,
                       const atomic_int *stop, int *ran) {
  char kind_list[2048] = "";
  for (size_t i = 0, len = 0; i < count; i++) {
    int n = snprintf(kind_list + len, sizeof kind_list - len, "%s%s", i ? "," : "", kinds[i].kind);
    if (n < 0 || (size_t)n >= sizeof kind_list - len)
      return FN_INTERNAL; /* a longer table than this buffer: a bug */
    len += (size_t)n;
  }
  *ran = 0;
  while (*ran < max_jobs && (stop == NULL || !atomic_load(stop))) {
    int one = run_one(db, kinds, count, kind_list, interval_ms);
    if (one < 0)
      return FN_UNAVAILABLE;
    if (one == 0)
      break;
    (*ran)++;
  }
  return FN_OK;
}

/* ---- the thread ---- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;
static pthread_t thread;
static int running;
static atomic_int stopping;
static db_pool *job_pool;
static unsigned poll_interval_ms;

/* One poll: the recurring jobs made sure of (until that once succeeds), then every due job. */
static void poll_once(int *ensured) {
  db_conn *db = NULL;
  if (db_pool_acquire(job_pool, &db) != FN_OK)
    return; /* the database is away or every connection is busy: the next interval tries again */
  int writable = 0;
  if (jobs_db_writable(db, &writable) != FN_OK || !writable) {
    db_pool_release(job_pool, db); /* a read-only server: nothing can be claimed here */
    return;
  }
  if (!*ensured)
    *ensured = jobs_ensure_recurring(db, job_kinds, job_kind_count) == FN_OK;
  int ran = 0;
  if (*ensured)
    (void)jobs_run_due(db, job_kinds, job_kind_count, poll_interval_ms, JOBS_PER_POLL, &stopping, &ran);
  db_pool_release(job_pool, db);
}

/* Sleeps interval_ms, or less when asked to stop. Called with lock held. */
static void sleep_interval(void) {
  struct timespec until;
  monotonic_after_ms(poll_interval_ms, &until);
  while (!atomic_load(&stopping) && pthread_cond_timedwait(&wake, &lock, &until) == 0)
    ;
}

static void *job_loop(void *arg) {
  (void)arg;
  int ensured = 0;
  pthread_mutex_lock(&lock);
  while (!atomic_load(&stopping)) {
    pthread_mutex_unlock(&lock);
    poll_once(&ensured);
    pthread_mutex_lock(&lock);
    sleep_interval();
  }
  pthread_mutex_unlock(&lock);
  return NULL;
}

int jobs_start(db_pool *pool, const fn_config *cfg) {
  if (!cfg->jobs) {
    log_info("background jobs: off on this instance (FORUMNET_JOBS=0)");
    return 0;
  }
  job_pool = pool;
  poll_interval_ms = cfg->jobs_interval_ms;
  atomic_store(&stopping, 0);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&wake, &attr);
  pthread_condattr_destroy(&attr);
  if (pthread_create(&thread, NULL, job_loop, NULL) != 0) {
    pthread_cond_destroy(&wake);
    return -1;
  }
  running = 1;
  log_info("background jobs: polling every %u ms", poll_interval_ms);
  if (webhooks_dispatcher_start(pool, cfg) != 0) {
    jobs_stop();
    return -1;
  }
  return 0;
}

void jobs_stop(void) {
  if (!running)
    return;
  webhooks_dispatcher_stop();
  pthread_mutex_lock(&lock);
  atomic_store(&stopping, 1);
  pthread_cond_signal(&wake);
  pthread_mutex_unlock(&lock);
  pthread_join(thread, NULL);
  pthread_cond_destroy(&wake);
  running = 0;
}
