/* The cached readiness state behind GET /readyz (include/forumnet/readiness.h). */
#include "forumnet/readiness.h"

#include <pthread.h>
#include <time.h>

#include "forumnet/log.h"
#include "forumnet/migrate.h"
#include "forumnet/timestamp.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;
static pthread_t thread;
static int running, stopping, draining;
static db_pool *checked_pool;
static readiness_state last_state = READINESS_UNREACHABLE;
static long long checked_at_ms = -READINESS_STALE_MS - 1; /* never: stale */

static long long monotonic_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* One check. Every pool connection lent to requests: the database is in use, the last answer stands. */
static void check(void) {
  db_conn *c = NULL;
  fn_status st = db_pool_try_acquire(checked_pool, &c);
  readiness_state state = last_state;
  if (st == FN_UNAVAILABLE) {
    state = READINESS_UNREACHABLE;
  } else if (st == FN_OK) {
    int applied = 0;
    fn_status settings;
    if (db_ping(c, &applied) != FN_OK)
      state = READINESS_UNREACHABLE;
    else if ((settings = db_check_settings(checked_pool, c)) != FN_OK)
      state = settings == FN_INVALID ? READINESS_SETTINGS_WRONG : READINESS_UNREACHABLE;
    else
      state = applied < migrate_known_count() ? READINESS_MIGRATIONS_PENDING : READINESS_READY;
    db_pool_release(checked_pool, c);
  }
  pthread_mutex_lock(&lock);
  if (state != last_state && state != READINESS_READY)
    log_warn("not ready: %s", state == READINESS_MIGRATIONS_PENDING ? "migrations pending"
                              : state == READINESS_SETTINGS_WRONG   ? "the database role's settings are wrong"
                                                                    : "database unreachable");
  else if (state != last_state)
    log_info("ready: the database answers");
  last_state = state;
  checked_at_ms = monotonic_ms();
  pthread_mutex_unlock(&lock);
}

static void *check_loop(void *arg) {
  (void)arg;
  pthread_mutex_lock(&lock);
  while (!stopping) {
    struct timespec until;
    monotonic_after_ms(READINESS_INTERVAL_MS, &until);
    while (!stopping && pthread_cond_timedwait(&wake, &lock, &until) == 0)
      ;
    if (stopping)
      break;
    pthread_mutex_unlock(&lock);
    check();
    pthread_mutex_lock(&lock);
  }
  pthread_mutex_unlock(&lock);
  return NULL;
}

int readiness_start(db_pool *pool) {
  checked_pool = pool;
  check();
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&wake, &attr);
  pthread_condattr_destroy(&attr);
  stopping = 0;
  if (pthread_create(&thread, NULL, check_loop, NULL) != 0) {
    pthread_cond_destroy(&wake);
    return -1;
  }
  running = 1;
  return 0;
}

void readiness_stop(void) {
  if (!running)
    return;
  pthread_mutex_lock(&lock);
  stopping = 1;
  pthread_cond_signal(&wake);
  pthread_mutex_unlock(&lock);
  pthread_join(thread, NULL);
  pthread_cond_destroy(&wake);
  running = 0;
}

void readiness_drain(void) {
  pthread_mutex_lock(&lock);
  draining = 1;
  pthread_mutex_unlock(&lock);
}

readiness_state readiness_now(void) {
  pthread_mutex_lock(&lock);
  readiness_state state = last_state;
  if (draining)
    state = READINESS_DRAINING;
  else if (monotonic_ms() - checked_at_ms > READINESS_STALE_MS)
    state = READINESS_STALE;
  pthread_mutex_unlock(&lock);
  return state;
}
