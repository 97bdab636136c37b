/* Read-your-writes on a streaming replica (README "Running several instances"). After a member's change
 * commits, the request layer records the primary's WAL position for that member (member_write_positions);
 * a read a replica may serve (the summaries) runs there only when the replica has replayed up to the
 * caller's position, and on the primary otherwise or whenever the replica fails. */
#include <stdatomic.h>
#include <string.h>
#include <ulfius.h>

#include "forumnet/http.h"
#include "forumnet/log.h"
#include "forumnet/metrics.h"
#include "forumnet/write_positions_db.h"

/* 1 while the replica is failing: its failures are logged when they start and end, not once a request. */
static atomic_int replica_failing;

static void replica_failed(const char *why, const char *sqlstate) {
  if (atomic_exchange(&replica_failing, 1) == 0)
    log_info("the replica is %s%s%s: summaries are served by the primary until it answers again", why,
             sqlstate[0] ? ", SQLSTATE " : "", sqlstate);
}

static void replica_answered(void) {
  if (atomic_exchange(&replica_failing, 0) == 1)
    log_info("the replica answers again: summaries it has caught up with are served by it");
}

db_conn *req_replica_db(fn_req *req) {
  db_pool *pool = req->app->read_pool;
  db_conn *primary, *replica = NULL;
  char lsn[WRITE_POSITION_SIZE] = "";
  if (pool == NULL || req->read_db != NULL)
    return req->read_db;
  /* The caller's position, on the primary (a failure there fails the read on the primary as well). */
  if (req->caller.authenticated && !req->caller.is_partner &&
      (req_db(req, &primary) != FN_OK || write_positions_db_get(primary, req->caller.id, lsn) != FN_OK))
    return NULL;
  if (db_pool_acquire(pool, &replica) != FN_OK) {
    metrics_replica_fallback(METRICS_FALLBACK_UNREACHABLE);
    replica_failed("unreachable", "");
    return NULL;
  }
  int caught_up = 1;
  if (lsn[0] != '\0' && write_positions_db_replayed(replica, lsn, &caught_up) != FN_OK) {
    metrics_replica_fallback(METRICS_FALLBACK_ERROR);
    replica_failed("failing", db_last_sqlstate(replica));
    db_pool_release(pool, replica);
    return NULL;
  }
  if (!caught_up) {
    metrics_replica_fallback(METRICS_FALLBACK_BEHIND);
    db_pool_release(pool, replica);
    return NULL;
  }
  req->read_db = replica;
  return replica;
}

void req_replica_release(fn_req *req, int failed) {
  if (req->read_db == NULL)
    return;
  if (failed) {
    metrics_replica_fallback(METRICS_FALLBACK_ERROR);
    replica_failed("failing", db_last_sqlstate(req->read_db));
  } else {
    replica_answered();
  }
  db_pool_release(req->app->read_pool, req->read_db);
  req->read_db = NULL;
}

void req_record_write_position(fn_req *req) {
  const char *method = req->u->http_verb;
  db_conn *db;
  if (req->app->read_pool == NULL || !req->caller.authenticated || req->caller.is_partner || req->status < 200 ||
      req->status >= 300 || strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 || strcmp(method, "OPTIONS") == 0)
    return;
  if (req_db(req, &db) != FN_OK) {
    log_warn("could not record a member's write position: no database connection");
    return;
  }
  db_rollback(db); /* nothing the handler left open is committed with it */
  fn_status st = write_positions_db_record(db, req->caller.id);
  if (st != FN_OK)
    log_warn("could not record a member's write position: %s (SQLSTATE %s)", fn_status_slug(st), db_last_sqlstate(db));
}
