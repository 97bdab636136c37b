#ifndef FORUMNET_NOTIFICATIONS_JOBS_H
#define FORUMNET_NOTIFICATIONS_JOBS_H

#include "forumnet/jobs.h"

/* The notifications' time-based work, as job handlers (rows of job_kinds). */

/* How long notifications are kept, and how many rows one retention run deletes per table. */
#define NOTIFICATIONS_RETENTION_DAYS 180
#define RETENTION_BATCH 1000

/* consultation.closing_soon_scan (recurring): notifies consultation.closing_soon for every open
 * consultation closing within 48 hours that has not been notified yet, once per consultation. */
fn_status notifications_jobs_closing_soon(db_conn *db, job *j);

/* retention.purge (recurring): deletes notifications older than 180 days and expired stream tickets, at most
 * RETENTION_BATCH of each per run; a full batch asks to run again at once. */
fn_status notifications_jobs_retention(db_conn *db, job *j);

#endif
