/* Running statements on one connection lent by the pool (pool.c): prepared or unnamed statements,
 * transactions, the failure classification every query goes through. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "forumnet/log.h"

static int is_prepared(const db_conn *c, const db_stmt *stmt) {
  for (int i = 0; i < c->prepared_count; i++)
    if (c->prepared[i] == stmt)
      return 1;
  return 0;
}

/* Maps a failed result to a status; marks the connection broken when the session is gone. */
fn_status db_classify_failure(db_conn *c, PGresult *res, const char *what) {
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  snprintf(c->sqlstate, sizeof c->sqlstate, "%s", state ? state : "");
  if (PQstatus(c->pg) != CONNECTION_OK || state == NULL) {
    c->broken = 1;
    log_warn("database connection lost during %s", what);
    return FN_UNAVAILABLE;
  }
  if (strcmp(state, "23505") == 0 || strcmp(state, "23P01") == 0 || strcmp(state, "40001") == 0 ||
      strcmp(state, "40P01") == 0)
    return FN_CONFLICT;
  if (strcmp(state, "23514") == 0 || strcmp(state, "23503") == 0 || strncmp(state, "22", 2) == 0)
    return FN_INVALID;
  if (strcmp(state, "25006") == 0) { /* read_only_sql_transaction: a standby, or a primary demoted under us */
    log_warn("database refused a write in %s (read-only); reconnecting", what);
    c->broken = c->read_only = 1;
    return FN_UNAVAILABLE;
  }
  if (strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0 || strncmp(state, "08", 2) == 0 ||
      strncmp(state, "57P", 3) == 0 || strcmp(state, "53300") == 0) {
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)
      c->broken = 1;
    return FN_UNAVAILABLE;
  }
  /* Logged for operators; the client only ever sees a generic problem. */
  log_error("database error %s in %s: %s", state, what, PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
  return FN_INTERNAL;
}

/* A statement's result, or NULL with *st set (the result cleared). */
static PGresult *exec_result(db_conn *c, PGresult *res, const db_stmt *stmt, fn_status *st) {
  ExecStatusType rs = PQresultStatus(res);
  if (rs == PGRES_TUPLES_OK || rs == PGRES_COMMAND_OK) {
    *st = FN_OK;
    return res;
  }
  *st = db_classify_failure(c, res, stmt->name);
  PQclear(res);
  return NULL;
}

static PGresult *exec_with_deferred(db_conn *c, const db_stmt *stmt, int nparams, const char *const *params,
                                    fn_status *st);

/* Prepares stmt on this session if it is not yet (never behind a transaction-mode pooler). */
static fn_status ensure_prepared(db_conn *c, const db_stmt *stmt) {
  if (c->pooled || is_prepared(c, stmt))
    return FN_OK;
  /* Room to record it first: a statement prepared but not recorded would fail next time. */
  if (c->prepared_count == c->prepared_capacity) {
    int capacity = c->prepared_capacity ? 2 * c->prepared_capacity : 256;
    const db_stmt **grown = realloc(c->prepared, (size_t)capacity * sizeof *grown);
    if (grown == NULL) {
      log_error("out of memory recording prepared statement %s", stmt->name);
      return FN_INTERNAL;
    }
    c->prepared = grown;
    c->prepared_capacity = capacity;
  }
  PGresult *prep = PQprepare(c->pg, stmt->name, stmt->sql, 0, NULL);
  fn_status st = FN_OK;
  if (PQresultStatus(prep) != PGRES_COMMAND_OK)
    st = db_classify_failure(c, prep, stmt->name);
  else
    c->prepared[c->prepared_count++] = stmt;
  PQclear(prep);
  return st;
}

PGresult *db_exec(db_conn *c, const db_stmt *stmt, int nparams, const char *const *params, fn_status *st) {
  c->sqlstate[0] = '\0';
  if (c->deferred != NULL && c->deferred->state != DB_DEFERRED_ACCEPTED)
    return exec_with_deferred(c, stmt, nparams, params, st);
  if (c->end_on_commit && c->committed) {
    /* A read after COMMIT can fail after the change is stored: the client would see a 5xx
     * for a stored change and retry it. Refused always, so every test finds such a handler. */
    log_error("bug: %s ran after COMMIT in a request; build the reply before committing", stmt->name);
    *st = FN_INTERNAL;
    return NULL;
  }
  if (c->pooled) {
    /* The unnamed statement: a named one lives on one server connection, and the pooler hands the next
     * transaction to any (42P05 / 26000). Parsed and planned on every call. */
    PGresult *res = PQexecParams(c->pg, stmt->sql, nparams, NULL, params, NULL, NULL, 0);
    return exec_result(c, res, stmt, st);
  }
  if ((*st = ensure_prepared(c, stmt)) != FN_OK)
    return NULL;
  return exec_result(c, PQexecPrepared(c->pg, stmt->name, nparams, params, NULL, NULL, 0), stmt, st);
}

fn_status db_exec_command(db_conn *c, const db_stmt *stmt, int nparams, const char *const *params) {
  fn_status st;
  PGresult *res = db_exec(c, stmt, nparams, params, &st);
  PQclear(res);
  return st;
}

static fn_status simple_command(db_conn *c, const char *sql) {
  PGresult *res = PQexec(c->pg, sql);
  fn_status st = FN_OK;
  if (PQresultStatus(res) != PGRES_COMMAND_OK)
    st = db_classify_failure(c, res, sql);
  PQclear(res);
  return st;
}

fn_status db_begin(db_conn *c) {
  fn_status st = db_settle(c); /* a change never runs before the deferred check has answered */
  if (st != FN_OK)
    return st;
  c->committed = 0;
  return c->held ? FN_OK : simple_command(c, "BEGIN");
}

fn_status db_commit(db_conn *c) {
  /* Held (Idempotency-Key): deferred to db_hold_end, which the request layer calls after storing
   * the answer, so the end-on-commit guard must not fire yet. A failed statement has already
   * doomed the transaction. */
  if (c->held)
    return PQtransactionStatus(c->pg) == PQTRANS_INTRANS ? FN_OK : FN_INTERNAL;
  fn_status st = simple_command(c, "COMMIT");
  c->committed = st == FN_OK;
  return st;
}

void db_end_on_commit(db_conn *c) { c->end_on_commit = 1; }

void db_rollback(db_conn *c) {
  c->held = 0;
  if (c->pg != NULL && !c->broken && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
    (void)simple_command(c, "ROLLBACK");
}

fn_status db_hold_begin(db_conn *c) {
  fn_status st = db_settle(c);
  if (st != FN_OK)
    return st;
  c->committed = 0;
  st = simple_command(c, "BEGIN");
  c->held = st == FN_OK;
  return st;
}

int db_hold_active(const db_conn *c) { return c->held; }

fn_status db_hold_end(db_conn *c, int commit) {
  if (!c->held)
    return FN_INTERNAL;
  c->held = 0;
  if (commit && PQtransactionStatus(c->pg) == PQTRANS_INTRANS)
    return simple_command(c, "COMMIT");
  db_rollback(c);
  if (!commit)
    return FN_OK;
  return c->broken || PQstatus(c->pg) != CONNECTION_OK ? FN_UNAVAILABLE : FN_INTERNAL;
}

const char *db_last_sqlstate(const db_conn *c) { return c->sqlstate; }

fn_status db_ping(db_conn *c, int *applied_migrations) {
  static const db_stmt count_migrations = {"db_ping_migrations", "SELECT count(*) FROM schema_migrations"};
  fn_status st;
  PGresult *res = db_exec(c, &count_migrations, 0, NULL, &st);
  if (res == NULL)
    return st == FN_INTERNAL ? FN_UNAVAILABLE : st; /* no table yet: not migrated */
  *applied_migrations = atoi(PQgetvalue(res, 0, 0));
  PQclear(res);
  return FN_OK;
}

/* ---- a deferred check (db_defer): sent with the next statement, one round trip for both ---- */

void db_defer(db_conn *c, db_deferred *check) {
  check->state = DB_DEFERRED_PENDING;
  check->failure = FN_OK;
  c->deferred = check;
}

static fn_status deferred_status(const db_deferred *d) {
  return d->state == DB_DEFERRED_ACCEPTED ? FN_OK : d->state == DB_DEFERRED_REFUSED ? FN_UNAUTHENTICATED : d->failure;
}

/* Records the check's answer (res: its result, or NULL when it failed with st). */
static void decide(db_deferred *d, PGresult *res, fn_status st) {
  if (res == NULL) {
    d->state = DB_DEFERRED_FAILED;
    d->failure = st == FN_OK ? FN_INTERNAL : st;
  } else {
    d->state = d->accept(res, d->ctx) ? DB_DEFERRED_ACCEPTED : DB_DEFERRED_REFUSED;
  }
}

fn_status db_settle(db_conn *c) {
  db_deferred *d = c->deferred;
  if (d == NULL)
    return FN_OK;
  if (d->state == DB_DEFERRED_PENDING) {
    fn_status st;
    c->deferred = NULL; /* run it as a plain statement */
    PGresult *res = db_exec(c, d->stmt, d->nparams, d->params, &st);
    c->deferred = d;
    decide(d, res, st);
    PQclear(res);
  }
  return deferred_status(d);
}

/* Sends one statement of a pipeline: prepared (prepared before the pipeline began), or unnamed. */
static int send_stmt(db_conn *c, const db_stmt *stmt, int nparams, const char *const *params) {
  return c->pooled ? PQsendQueryParams(c->pg, stmt->sql, nparams, NULL, params, NULL, NULL, 0)
                   : PQsendQueryPrepared(c->pg, stmt->name, nparams, params, NULL, NULL, 0);
}

/* The next query's result in the pipeline (and the NULL that ends it), or NULL when the connection failed. */
static PGresult *next_result(db_conn *c) {
  PGresult *res = PQgetResult(c->pg);
  if (res != NULL && PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
    PGresult *extra;
    while ((extra = PQgetResult(c->pg)) != NULL) /* a query's results end with a NULL */
      PQclear(extra);
  }
  return res;
}

#define PIPELINE_QUERIES 4 /* BEGIN READ ONLY, the check, the statement, COMMIT */

/* BEGIN READ ONLY; check; stmt; COMMIT in one pipeline. Fills r (PIPELINE_QUERIES results, NULL where none
 * came); 0 when the pipeline itself could not be run (the connection is then marked broken). */
static int run_pipeline(db_conn *c, const db_deferred *d, const db_stmt *stmt, int nparams, const char *const *params,
                        PGresult *r[PIPELINE_QUERIES]) {
  static const db_stmt begin_read_only = {"db_begin_read_only", "BEGIN READ ONLY"};
  static const db_stmt commit = {"db_commit", "COMMIT"};
  memset(r, 0, PIPELINE_QUERIES * sizeof *r);
  if (ensure_prepared(c, &begin_read_only) != FN_OK || ensure_prepared(c, d->stmt) != FN_OK ||
      ensure_prepared(c, stmt) != FN_OK || ensure_prepared(c, &commit) != FN_OK || !PQenterPipelineMode(c->pg))
    return 0;
  int sent = send_stmt(c, &begin_read_only, 0, NULL) && send_stmt(c, d->stmt, d->nparams, d->params) &&
             send_stmt(c, stmt, nparams, params) && send_stmt(c, &commit, 0, NULL) && PQpipelineSync(c->pg);
  int synced = 0;
  for (int i = 0; sent && i < PIPELINE_QUERIES; i++) {
    PGresult *res = next_result(c);
    if (res == NULL)
      break;
    if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) { /* fewer results than queries: a broken exchange */
      PQclear(res);
      synced = 1;
      break;
    }
    r[i] = res;
  }
  for (int guard = 0; sent && !synced && guard < 8 && PQstatus(c->pg) == CONNECTION_OK; guard++) {
    PGresult *res = PQgetResult(c->pg);
    synced = res != NULL && PQresultStatus(res) == PGRES_PIPELINE_SYNC;
    PQclear(res);
  }
  if (!synced || !PQexitPipelineMode(c->pg)) {
    c->broken = 1;
    log_warn("database connection lost during a pipeline (%s, %s)", d->stmt->name, stmt->name);
    return 0;
  }
  /* An error aborts the rest of the pipeline; the transaction it opened is then still open, failed. */
  if (PQtransactionStatus(c->pg) != PQTRANS_IDLE)
    (void)simple_command(c, "ROLLBACK");
  return 1;
}

static int result_ok(const PGresult *res) {
  ExecStatusType rs = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  return rs == PGRES_TUPLES_OK || rs == PGRES_COMMAND_OK;
}

/* db_exec while a check is attached and not (yet) accepted. */
static PGresult *exec_with_deferred(db_conn *c, const db_stmt *stmt, int nparams, const char *const *params,
                                    fn_status *st) {
  db_deferred *d = c->deferred;
  if (d->state != DB_DEFERRED_PENDING || c->held || PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
    /* Refused or failed already; or inside a transaction, where the check must have run first. */
    if ((*st = db_settle(c)) != FN_OK)
      return NULL;
    return db_exec(c, stmt, nparams, params, st);
  }
  PGresult *r[PIPELINE_QUERIES];
  PGresult *out = NULL;
  if (!run_pipeline(c, d, stmt, nparams, params, r)) {
    decide(d, NULL, FN_UNAVAILABLE);
    *st = FN_UNAVAILABLE;
  } else if (!result_ok(r[0]) || !result_ok(r[1])) {
    PGresult *failed = !result_ok(r[0]) ? r[0] : r[1];
    decide(d, NULL, failed ? db_classify_failure(c, failed, d->stmt->name) : FN_UNAVAILABLE);
    *st = d->failure;
  } else {
    decide(d, r[1], FN_OK);
    if (d->state != DB_DEFERRED_ACCEPTED) {
      *st = FN_UNAUTHENTICATED;
    } else if (result_ok(r[2])) {
      out = r[2];
      r[2] = NULL;
      *st = FN_OK;
    } else {
      const char *state = r[2] ? PQresultErrorField(r[2], PG_DIAG_SQLSTATE) : NULL;
      if (state && strcmp(state, "25006") == 0) /* it writes or locks: now that the check passed, on its own */
        out = db_exec(c, stmt, nparams, params, st);
      else
        *st = r[2] ? db_classify_failure(c, r[2], stmt->name) : FN_UNAVAILABLE;
    }
  }
  for (int i = 0; i < PIPELINE_QUERIES; i++)
    PQclear(r[i]);
  return out;
}
