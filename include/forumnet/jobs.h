#ifndef FORUMNET_JOBS_H
#define FORUMNET_JOBS_H

#include <stdatomic.h>
#include <stddef.h>

#include "forumnet/db.h"

/* Background work (DESIGN.md "Background work", README "Background jobs"): rows of table jobs, claimed
 * with FOR UPDATE SKIP LOCKED by whichever instance polls first, so each runs once however many
 * instances run. A claimed job's handler runs inside the claiming transaction: its changes commit
 * together with the row's removal (or rescheduling), and a crash rolls both back, leaving the row for
 * the next poll of any instance. */

/* Length of a job's last_error, and of a handler's reason (cut to fit). */
#define JOB_ERROR_MAX 256

/* One claimed row, as its handler sees it. */
typedef struct job {
  long id;
  char kind[65];
  const char *payload; /* the row's payload (JSON text), borrowed for the run */
  int attempts;        /* failed runs before this one */
  /* Set by the runner before the handler runs; the handler may change them: */
  long again_in_ms;          /* -1: delete the row on success (a one-off job); >= 0: keep it, due again then */
  char error[JOB_ERROR_MAX]; /* on failure, why (one line for last_error: never a secret, an email or a body) */
} job;

/* Runs one job on db inside the claiming transaction. FN_OK: done (the runner deletes or reschedules the row
 * as job->again_in_ms says); anything else: the handler's changes are rolled back and the job is retried
 * after jobs_backoff_ms(attempts + 1). */
typedef fn_status (*job_handler)(db_conn *db, job *j);

/* A kind of job and its handler: one row of job_kinds (src/jobs/kinds.c) per kind. */
typedef struct job_kind {
  const char *kind;
  job_handler run;
  /* 1: a periodic job: ensured to exist at start (dedupe key "recurring"), and kept after each run,
   * due again FORUMNET_JOBS_INTERVAL_MS later unless its handler sets again_in_ms otherwise. */
  int recurring;
} job_kind;

extern const job_kind job_kinds[];
extern const size_t job_kind_count;

/* The row of kinds (count of them) for kind, or NULL. */
const job_kind *jobs_kind_find(const job_kind *kinds, size_t count, const char *kind);

/* How long a job waits after its n-th failed run (n >= 1): 1 s, doubling, at most an hour. */
long jobs_backoff_ms(int failures);

/* Ensures every recurring kind's row exists (idempotent: INSERT ... ON CONFLICT DO NOTHING). */
fn_status jobs_ensure_recurring(db_conn *db, const job_kind *kinds, size_t count);

/* Claims and runs due jobs of these kinds on db, one transaction each, until none is due or max_jobs ran
 * (or *stop turns non-zero, when stop is not NULL). interval_ms reschedules recurring jobs. *ran counts
 * the jobs run (succeeded or failed). FN_OK unless the database failed. */
fn_status jobs_run_due(db_conn *db, const job_kind *kinds, size_t count, unsigned interval_ms, int max_jobs,
                       const atomic_int *stop, int *ran);

/* The job thread of `forumnet serve`: every cfg->jobs_interval_ms, jobs_run_due over job_kinds on a pooled
 * connection. 0, or -1 when the thread cannot start. Does nothing (0) when cfg->jobs is 0. */
int jobs_start(db_pool *pool, const fn_config *cfg);

/* Stops and joins the thread, after the job running now (if any) has finished. Safe if it never started. */
void jobs_stop(void);

#endif
