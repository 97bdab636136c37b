#ifndef FORUMNET_JOBS_DB_H
#define FORUMNET_JOBS_DB_H

#include "forumnet/db.h"

/* Every SQL statement about table jobs (the queue of src/jobs/runner.c). */

/* A claimed row: the job's id, kind and failed runs so far; payload a new copy (caller frees). */
typedef struct jobs_db_claimed {
  long id;
  char kind[65];
  int attempts;
  char *payload;
} jobs_db_claimed;

/* In an open transaction: locks the oldest due job whose kind is one of kinds (comma-separated: an instance
 * claims only kinds it has a handler for, so during a rolling upgrade older instances leave newer kinds to
 * newer ones) that no other transaction holds (SKIP LOCKED). *found 0 when none is due. */
fn_status jobs_db_claim(db_conn *db, const char *kinds, jobs_db_claimed *out, int *found);

/* Adds a job unless one of the same kind and dedupe_key exists (dedupe_key NULL: always adds), due delay_ms
 * from now; payload JSON text (NULL for {}). Call it in the transaction of the change that causes it. */
fn_status jobs_db_enqueue(db_conn *db, const char *kind, const char *dedupe_key, const char *payload, long delay_ms);

/* *writable 0 when this session cannot write (a standby, or default_transaction_read_only): the runner then
 * skips its poll, since a write refused there (SQLSTATE 25006) would make the pool back off from
 * connecting for every request too. */
fn_status jobs_db_writable(db_conn *db, int *writable);

/* A recurring job of this kind (dedupe key "recurring"), due now, unless it exists already. */
fn_status jobs_db_ensure_recurring(db_conn *db, const char *kind);

/* A savepoint around a handler, so that a failure undoes its work and keeps the claim. */
fn_status jobs_db_savepoint(db_conn *db);
fn_status jobs_db_rollback_to_savepoint(db_conn *db);

/* The job succeeded: deleted, or (again_in_ms >= 0) due again then with its failures forgotten. */
fn_status jobs_db_finish(db_conn *db, long id, long again_in_ms);

/* The job failed: one more attempt counted, error recorded, due again retry_in_ms from now. */
fn_status jobs_db_fail(db_conn *db, long id, const char *error, long retry_in_ms);

#endif
