#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "forumnet/log.h"

/* A thread waiting for a connection. Released connections are handed to the oldest
 * waiter directly, so a thread that releases and immediately asks again cannot barge
 * ahead of threads already waiting (that barging made tail latency hundreds of ms). */
typedef struct pool_waiter {
  pthread_cond_t granted_cond;
  db_conn *granted;
  struct pool_waiter *next;
} pool_waiter;

struct db_pool {
  const fn_config *cfg;
  pthread_mutex_t lock;
  pool_waiter *wait_head, *wait_tail;
  db_conn *conns;
  unsigned size, in_use;
  unsigned long waits, timeouts, reconnects;
  int closing;
  int settings_logged; /* the wrong role settings were logged (once until they are right again) */
  /* Reconnect backoff: after a failed connect (or a read-only server), nobody connects again before
   * retry_at_ms, and then only one connection at a time until one succeeds. */
  unsigned long connect_attempts, connect_failures;
  int failing, probing;
  long long retry_at_ms;
};

static long long monotonic_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Starts (or extends) the backoff. Called with the lock held. */
static void start_backoff(db_pool *pool) {
  pool->failing = 1;
  pool->retry_at_ms = monotonic_ms() + pool->cfg->db_reconnect_backoff_ms;
}

/* Whether this thread may try to connect now: not within the backoff, and while failing only one
 * thread at a time (it then owns the probe). Counts the attempt. */
static int may_connect(db_pool *pool) {
  pthread_mutex_lock(&pool->lock);
  int ok = !pool->failing || (!pool->probing && monotonic_ms() >= pool->retry_at_ms);
  if (ok) {
    pool->probing = pool->failing;
    pool->connect_attempts++;
  }
  pthread_mutex_unlock(&pool->lock);
  return ok;
}

static void connect_done(db_pool *pool, int connected) {
  pthread_mutex_lock(&pool->lock);
  pool->probing = 0;
  if (connected) {
    pool->failing = 0;
    pool->reconnects++;
  } else {
    pool->connect_failures++;
    start_backoff(pool);
  }
  pthread_mutex_unlock(&pool->lock);
}

/* Every connection is UTC and bounded by statement_timeout, so timestamps render in
 * UTC and no query can hold a request thread forever. Behind a transaction-mode pooler a
 * connection is no session of its own: no startup options (PgBouncer refuses them), the same
 * settings come from ALTER ROLE ... IN DATABASE ... SET and are checked (check_settings). */
static PGconn *open_connection(const fn_config *cfg) {
  char options[128], connect_timeout[16];
  /* jit=off: JIT compiling took ~600 ms on the summary statement, whose plan cost passes
   * jit_above_cost while it runs in ~12 ms; short OLTP queries never gain from it. */
  snprintf(options, sizeof options, "-c statement_timeout=%u -c TimeZone=UTC -c lock_timeout=%u -c jit=off",
           cfg->statement_timeout_ms, cfg->statement_timeout_ms);
  snprintf(connect_timeout, sizeof connect_timeout, "%u", cfg->db_connect_timeout_s);
  int pooled = cfg->db_pooler == DB_POOLER_TRANSACTION;
  const char *keys[] = {"dbname", "connect_timeout", "application_name", pooled ? NULL : "options", NULL};
  const char *values[] = {cfg->database_url, connect_timeout, "forumnet", options, NULL};
  return PQconnectdbParams(keys, values, 1);
}

fn_status db_connect(const fn_config *cfg, PGconn **out) {
  PGconn *pg = open_connection(cfg);
  if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
    /* PQerrorMessage may contain the host name but never the password. */
    log_error("database connection failed: %s", pg ? PQerrorMessage(pg) : "out of memory");
    PQfinish(pg);
    *out = NULL;
    return FN_UNAVAILABLE;
  }
  *out = pg;
  return FN_OK;
}

fn_status db_pool_create(const fn_config *cfg, db_pool **out) {
  db_pool *pool = calloc(1, sizeof *pool);
  if (pool == NULL)
    return FN_INTERNAL;
  pool->conns = calloc(cfg->db_pool_size, sizeof *pool->conns);
  if (pool->conns == NULL) {
    free(pool);
    return FN_INTERNAL;
  }
  pool->cfg = cfg;
  pool->size = cfg->db_pool_size;
  for (unsigned i = 0; i < pool->size; i++)
    pool->conns[i].pooled = cfg->db_pooler == DB_POOLER_TRANSACTION;
  pthread_mutex_init(&pool->lock, NULL);
  *out = pool;
  return FN_OK;
}

void db_pool_destroy(db_pool *pool) {
  if (pool == NULL)
    return;
  pthread_mutex_lock(&pool->lock);
  pool->closing = 1;
  pthread_mutex_unlock(&pool->lock);
  for (unsigned i = 0; i < pool->size; i++) {
    PQfinish(pool->conns[i].pg);
    free(pool->conns[i].prepared);
  }
  pthread_mutex_destroy(&pool->lock);
  free(pool->conns);
  free(pool);
}

/* What a transaction-mode connection must find (README "Behind a transaction-mode pooler"): the values
 * that session mode sends as startup options. Timeouts in milliseconds; the role and database name the
 * ALTER ROLE statement in the log line. */
static const char settings_sql[] =
    "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'), current_setting('TimeZone'),"
    " current_setting('jit'), extract(epoch FROM current_setting('statement_timeout')::interval) * 1000,"
    " extract(epoch FROM current_setting('lock_timeout')::interval) * 1000, current_user, current_database()";

/* Sets c->settings_wrong from the connection's settings; logs once when they turn wrong (with the
 * statements that fix them) and once when they are right again. FN_UNAVAILABLE when the query fails. */
static fn_status check_settings(db_pool *pool, db_conn *c) {
  const fn_config *cfg = pool->cfg;
  PGresult *res = PQexec(c->pg, settings_sql);
  if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
    fn_status st = db_classify_failure(c, res, "the settings check");
    PQclear(res);
    return st == FN_INTERNAL ? FN_UNAVAILABLE : st;
  }
  double statement_ms = strtod(PQgetvalue(res, 0, 4), NULL), lock_ms = strtod(PQgetvalue(res, 0, 5), NULL);
  const char *tz = PQgetvalue(res, 0, 2), *jit = PQgetvalue(res, 0, 3);
  c->settings_wrong = statement_ms != (double)cfg->statement_timeout_ms ||
                      lock_ms != (double)cfg->statement_timeout_ms ||
                      (strcmp(tz, "UTC") != 0 && strcmp(tz, "Etc/UTC") != 0) || strcmp(jit, "off") != 0;
  pthread_mutex_lock(&pool->lock);
  int log_wrong = c->settings_wrong && !pool->settings_logged, log_right = !c->settings_wrong && pool->settings_logged;
  pool->settings_logged = c->settings_wrong;
  pthread_mutex_unlock(&pool->lock);
  if (log_wrong)
    log_error("FORUMNET_DB_POOLER=transaction: the database role's settings are wrong (statement_timeout=%s"
              " lock_timeout=%s TimeZone=%s jit=%s; required %ums, %ums, UTC, off); /readyz answers 503 until"
              " they are fixed with: ALTER ROLE \"%s\" IN DATABASE \"%s\" SET statement_timeout = '%ums'"
              " (likewise lock_timeout = '%ums', TimeZone = 'UTC', jit = off), see README",
              PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), tz, jit, cfg->statement_timeout_ms,
              cfg->statement_timeout_ms, PQgetvalue(res, 0, 6), PQgetvalue(res, 0, 7), cfg->statement_timeout_ms,
              cfg->statement_timeout_ms);
  else if (log_right)
    log_info("FORUMNET_DB_POOLER=transaction: the database role's settings are as required again");
  PQclear(res);
  return FN_OK;
}

/* (Re)connects a connection that is missing or broken, unless the reconnect backoff says not yet
 * (FN_UNAVAILABLE at once). Called without the pool lock: a slow connect must not block other
 * threads from releasing connections. */
static fn_status ensure_connected(db_pool *pool, db_conn *c) {
  if (c->pg != NULL && !c->broken && PQstatus(c->pg) == CONNECTION_OK)
    return FN_OK;
  PQfinish(c->pg);
  c->pg = NULL;
  c->prepared_count = 0; /* prepared statements died with the old session */
  c->broken = 0;
  if (!may_connect(pool))
    return FN_UNAVAILABLE;
  PGconn *pg = open_connection(pool->cfg);
  if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
    PQfinish(pg);
    connect_done(pool, 0);
    return FN_UNAVAILABLE;
  }
  c->pg = pg;
  if (pool->cfg->db_pooler == DB_POOLER_TRANSACTION && check_settings(pool, c) != FN_OK) {
    c->broken = 1; /* reconnected (and checked) after the backoff */
    connect_done(pool, 0);
    return FN_UNAVAILABLE;
  }
  connect_done(pool, 1);
  return FN_OK;
}

/* Removes w from the wait queue (it timed out). Called with the lock held. */
static void unlink_waiter(db_pool *pool, pool_waiter *w) {
  pool_waiter **p = &pool->wait_head, *prev = NULL;
  while (*p && *p != w) {
    prev = *p;
    p = &(*p)->next;
  }
  if (*p == NULL)
    return;
  *p = w->next;
  if (pool->wait_tail == w)
    pool->wait_tail = prev;
}

/* A free connection, preferring one already open; NULL if none. Called with the lock held. */
static db_conn *take_free(db_pool *pool) {
  db_conn *c = NULL;
  for (unsigned i = 0; i < pool->size; i++)
    if (!pool->conns[i].in_use && (c == NULL || (c->pg == NULL && pool->conns[i].pg != NULL)))
      c = &pool->conns[i];
  if (c != NULL) {
    c->in_use = 1;
    pool->in_use++;
  }
  return c;
}

/* Lends c, taken from the free ones, once it is connected; releases it otherwise. */
static fn_status connected_or_released(db_pool *pool, db_conn *c, db_conn **out) {
  if (ensure_connected(pool, c) != FN_OK) {
    db_pool_release(pool, c);
    return FN_UNAVAILABLE;
  }
  c->sqlstate[0] = '\0';
  c->end_on_commit = 0;
  c->committed = 0;
  c->deferred = NULL;
  *out = c;
  return FN_OK;
}

fn_status db_pool_acquire(db_pool *pool, db_conn **out) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += pool->cfg->db_acquire_timeout_ms / 1000;
  deadline.tv_nsec += (long)(pool->cfg->db_acquire_timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  *out = NULL;
  pthread_mutex_lock(&pool->lock);
  if (pool->closing) {
    pthread_mutex_unlock(&pool->lock);
    return FN_UNAVAILABLE;
  }
  /* Only take a free connection directly when nobody is queued ahead of us. */
  db_conn *c = pool->wait_head == NULL ? take_free(pool) : NULL;
  if (c == NULL) {
    pool_waiter w = {.granted = NULL, .next = NULL};
    pthread_cond_init(&w.granted_cond, NULL);
    pool->waits++;
    /* w lives on this stack frame while queued: it leaves the queue (handed a connection
     * by db_pool_release, or unlinked on timeout) before this function returns. */
    if (pool->wait_tail)
      pool->wait_tail->next = &w;
    else
      pool->wait_head = &w; // cppcheck-suppress autoVariables
    pool->wait_tail = &w;   // cppcheck-suppress autoVariables
    while (w.granted == NULL && !pool->closing)
      if (pthread_cond_timedwait(&w.granted_cond, &pool->lock, &deadline) == ETIMEDOUT)
        break;
    if (w.granted == NULL) {
      unlink_waiter(pool, &w);
      pool->timeouts++;
    }
    c = w.granted;
    pthread_cond_destroy(&w.granted_cond);
    if (c == NULL) {
      pthread_mutex_unlock(&pool->lock);
      return FN_UNAVAILABLE;
    }
  }
  pthread_mutex_unlock(&pool->lock);
  return connected_or_released(pool, c, out);
}

fn_status db_pool_try_acquire(db_pool *pool, db_conn **out) {
  *out = NULL;
  pthread_mutex_lock(&pool->lock);
  db_conn *c = pool->closing || pool->wait_head != NULL ? NULL : take_free(pool);
  pthread_mutex_unlock(&pool->lock);
  if (c == NULL)
    return FN_CONFLICT;
  return connected_or_released(pool, c, out);
}

void db_pool_connect_all(db_pool *pool) {
  /* Holding each connection taken makes the next try take another, so every one is opened once. */
  db_conn **held = calloc(pool->size, sizeof *held);
  if (held == NULL)
    return; /* they open on demand, as before */
  unsigned n = 0;
  while (n < pool->size && db_pool_try_acquire(pool, &held[n]) == FN_OK)
    n++; /* a failure started the backoff: the rest open on demand after it */
  while (n > 0)
    db_pool_release(pool, held[--n]);
  free(held);
}

void db_pool_release(db_pool *pool, db_conn *c) {
  if (c == NULL)
    return;
  c->held = 0;
  c->deferred = NULL;
  if (c->pg != NULL && !c->broken && PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
    PGresult *r = PQexec(c->pg, "ROLLBACK");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
      c->broken = 1;
    PQclear(r);
  }
  if (c->pg != NULL && PQstatus(c->pg) != CONNECTION_OK)
    c->broken = 1;
  pthread_mutex_lock(&pool->lock);
  if (c->read_only) { /* a standby or a demoted primary: its replacement waits for the backoff too */
    c->read_only = 0;
    start_backoff(pool);
  }
  pool_waiter *w = pool->wait_head;
  if (w != NULL) { /* hand over: the connection stays in use */
    pool->wait_head = w->next;
    if (pool->wait_head == NULL)
      pool->wait_tail = NULL;
    w->granted = c;
    pthread_cond_signal(&w->granted_cond);
  } else {
    c->in_use = 0;
    pool->in_use--;
  }
  pthread_mutex_unlock(&pool->lock);
}

void db_pool_get_stats(db_pool *pool, db_pool_stats *out) {
  pthread_mutex_lock(&pool->lock);
  out->size = pool->size;
  out->in_use = pool->in_use;
  out->waits = pool->waits;
  out->timeouts = pool->timeouts;
  out->reconnects = pool->reconnects;
  out->connect_attempts = pool->connect_attempts;
  out->connect_failures = pool->connect_failures;
  pthread_mutex_unlock(&pool->lock);
}

fn_status db_check_settings(db_pool *pool, db_conn *c) {
  if (!c->pooled)
    return FN_OK; /* session mode sends them at connect */
  fn_status st = check_settings(pool, c);
  return st != FN_OK ? st : c->settings_wrong ? FN_INVALID : FN_OK;
}
