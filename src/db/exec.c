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

PGresult *db_exec(db_conn *c, const db_stmt *stmt, int nparams, const char *const *params, fn_status *st) {
  c->sqlstate[0] = '\0';
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
  if (!is_prepared(c, stmt)) {
    /* Room to record it first: a statement prepared but not recorded would fail next time. */
    if (c->prepared_count == c->prepared_capacity) {
      int capacity = c->prepared_capacity ? 2 * c->prepared_capacity : 256;
      const db_stmt **grown = realloc(c->prepared, (size_t)capacity * sizeof *grown);
      if (grown == NULL) {
        log_error("out of memory recording prepared statement %s", stmt->name);
        *st = FN_INTERNAL;
        return NULL;
      }
      c->prepared = grown;
      c->prepared_capacity = capacity;
    }
    PGresult *prep = PQprepare(c->pg, stmt->name, stmt->sql, 0, NULL);
    if (PQresultStatus(prep) != PGRES_COMMAND_OK) {
      *st = db_classify_failure(c, prep, stmt->name);
      PQclear(prep);
      return NULL;
    }
    PQclear(prep);
    c->prepared[c->prepared_count++] = stmt;
  }
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
  c->committed = 0;
  fn_status st = simple_command(c, "BEGIN");
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
