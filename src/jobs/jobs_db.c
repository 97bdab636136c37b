/* Every SQL statement of the job queue (table jobs, sql/011_notifications.sql). Plain statements only:
 * through a transaction-mode pooler the pool sends them unnamed, and nothing here sets session state
 * (the savepoint lives and dies inside the claiming transaction). */
#include "forumnet/jobs_db.h"

#include <stdio.h>

static const db_stmt claim = {"jobs_claim",
                              "SELECT id, kind, attempts, payload::text FROM jobs"
                              " WHERE run_at <= clock_timestamp() AND kind = ANY (string_to_array($1, ','))"
                              " ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"};

static const db_column claim_columns[] = {
    DB_COL_LONG(jobs_db_claimed, id),
    DB_COL_TEXT(jobs_db_claimed, kind),
    DB_COL_INT(jobs_db_claimed, attempts),
    DB_COL_DUP(jobs_db_claimed, payload),
    DB_COLUMNS_END,
};

fn_status jobs_db_claim(db_conn *db, const char *kinds, jobs_db_claimed *out, int *found) {
  fn_status st = FN_OK;
  PGresult *res = db_exec_row(db, &claim, DB_ARGS(kinds), FN_OK, &st);
  *found = res != NULL;
  if (res == NULL)
    return st;
  return db_take_row(res, claim_columns, out);
}

static const db_stmt enqueue = {
    "jobs_enqueue",
    "INSERT INTO jobs (kind, dedupe_key, payload, run_at)"
    " VALUES ($1, $2, coalesce($3::jsonb, '{}'), clock_timestamp() + $4::bigint * interval '1 millisecond')"
    " ON CONFLICT (kind, dedupe_key) DO NOTHING"};

fn_status jobs_db_enqueue(db_conn *db, const char *kind, const char *dedupe_key, const char *payload, long delay_ms) {
  char delay[24];
  snprintf(delay, sizeof delay, "%ld", delay_ms);
  return db_exec_command(db, &enqueue, DB_ARGS(kind, dedupe_key, payload, delay));
}

static const db_stmt writable = {
    "jobs_writable", "SELECT NOT pg_is_in_recovery() AND current_setting('default_transaction_read_only') = 'off'"};

fn_status jobs_db_writable(db_conn *db, int *out) { return db_query_bool(db, &writable, 0, NULL, out); }

static const db_stmt ensure = {"jobs_ensure", "INSERT INTO jobs (kind, dedupe_key) VALUES ($1, 'recurring')"
                                              " ON CONFLICT (kind, dedupe_key) DO NOTHING"};

fn_status jobs_db_ensure_recurring(db_conn *db, const char *kind) { return db_exec_on(db, &ensure, kind); }

static const db_stmt savepoint = {"jobs_savepoint", "SAVEPOINT job_run"};
static const db_stmt rollback_to = {"jobs_rollback_to", "ROLLBACK TO SAVEPOINT job_run"};

fn_status jobs_db_savepoint(db_conn *db) { return db_exec_command(db, &savepoint, 0, NULL); }

fn_status jobs_db_rollback_to_savepoint(db_conn *db) { return db_exec_command(db, &rollback_to, 0, NULL); }

static const db_stmt delete_job = {"jobs_delete", "DELETE FROM jobs WHERE id = $1"};
static const db_stmt again = {"jobs_again",
                              "UPDATE jobs SET run_at = clock_timestamp() + $2::bigint * interval '1 millisecond',"
                              " attempts = 0, last_error = NULL WHERE id = $1"};

fn_status jobs_db_finish(db_conn *db, long id, long again_in_ms) {
  char id_text[24], delay[24];
  snprintf(id_text, sizeof id_text, "%ld", id);
  if (again_in_ms < 0)
    return db_exec_on(db, &delete_job, id_text);
  snprintf(delay, sizeof delay, "%ld", again_in_ms);
  return db_exec_command(db, &again, DB_ARGS(id_text, delay));
}

static const db_stmt fail = {"jobs_fail",
                             "UPDATE jobs SET attempts = attempts + 1, last_error = left($2, 256),"
                             " run_at = clock_timestamp() + $3::bigint * interval '1 millisecond' WHERE id = $1"};

fn_status jobs_db_fail(db_conn *db, long id, const char *error, long retry_in_ms) {
  char id_text[24], delay[24];
  snprintf(id_text, sizeof id_text, "%ld", id);
  snprintf(delay, sizeof delay, "%ld", retry_in_ms);
  return db_exec_command(db, &fail, DB_ARGS(id_text, error, delay));
}
