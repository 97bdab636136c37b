/* The notifications' time-based work (include/forumnet/notifications_jobs.h), run by the job runner
 * (src/jobs/runner.c) inside the claiming transaction: consultation.closing_soon and retention. */
#include "forumnet/notifications_jobs.h"

#include <stdio.h>

/* consultation.closing_soon (API.md section 10): 48 hours before closes_at, to the conveners and
 * representatives (active members, active accounts) of each targeted group that has not submitted its
 * response: the same targeting (consultation_targeted_groups), status (consultation_status) and
 * submission (status 'submitted') rules the consultation and response routes use. One notification per
 * recipient per consultation, whichever of its groups it comes through (group_id names one of them).
 * Exactly once per consultation: the UPDATE marks closing_soon_notified_at in the same statement, and a
 * concurrent scan's UPDATE re-checks "IS NULL" after the first commits, so it skips the row. A
 * consultation that is open within its last 48 hours when it opens is notified at the next scan.
 * The title is the consultation's title only. */
static const db_stmt closing_soon = {
    "notifications_jobs_closing_soon",
    "WITH due AS ("
    "  UPDATE consultations c SET closing_soon_notified_at = clock_timestamp()"
    "  WHERE c.status = 'open' AND c.closing_soon_notified_at IS NULL"
    "    AND c.closes_at > now() AND c.closes_at <= now() + interval '48 hours'"
    "    AND consultation_status(c.status, c.closes_at) = 'open'"
    "  RETURNING c.id, c.title),"
    " recipients AS ("
    "  SELECT DISTINCT ON (d.id, gm.member_id) d.id, d.title, gm.member_id, gm.group_id"
    "  FROM due d CROSS JOIN LATERAL consultation_targeted_groups(d.id) AS t(group_id)"
    "  JOIN group_memberships gm ON gm.group_id = t.group_id AND gm.state = 'active'"
    "   AND gm.role IN ('convener', 'representative')"
    "  JOIN members m ON m.id = gm.member_id AND m.status = 'active'"
    "  WHERE NOT EXISTS (SELECT 1 FROM consultation_responses r"
    "                    WHERE r.consultation_id = d.id AND r.group_id = t.group_id AND r.status = 'submitted')"
    "  ORDER BY d.id, gm.member_id, gm.group_id)"
    " INSERT INTO notifications (member_id, kind, subject_type, subject_id, group_id, title)"
    " SELECT member_id, 'consultation.closing_soon', 'consultation', id, group_id,"
    "  left('Closing soon: ' || title, 200) FROM recipients"};

fn_status notifications_jobs_closing_soon(db_conn *db, job *j) {
  (void)j;
  return db_exec_command(db, &closing_soon, 0, NULL);
}

/* Retention, oldest first, at most $1 rows a statement, so a backlog never makes one long transaction:
 * notifications after 180 days (API.md section 10), and stream tickets once expired (every ticket
 * expires 60 s after it is made, so spent ones go too). */
static const db_stmt purge_notifications = {
    "notifications_jobs_purge", "WITH gone AS (DELETE FROM notifications WHERE seq IN ("
                                "  SELECT seq FROM notifications WHERE created_at < now() - $2::int * interval '1 day'"
                                "  ORDER BY created_at LIMIT $1) RETURNING 1)"
                                " SELECT count(*) FROM gone"};
static const db_stmt purge_tickets = {"notifications_jobs_purge_tickets",
                                      "WITH gone AS (DELETE FROM stream_tickets WHERE digest IN ("
                                      "  SELECT digest FROM stream_tickets WHERE expires_at < now()"
                                      "  ORDER BY expires_at LIMIT $1) RETURNING 1)"
                                      " SELECT count(*) FROM gone"};

fn_status notifications_jobs_retention(db_conn *db, job *j) {
  char batch[16], days[16];
  snprintf(batch, sizeof batch, "%d", RETENTION_BATCH);
  snprintf(days, sizeof days, "%d", NOTIFICATIONS_RETENTION_DAYS);
  long notifications = 0, tickets = 0;
  fn_status st = db_query_long(db, &purge_notifications, DB_ARGS(batch, days), &notifications);
  if (st == FN_OK)
    st = db_query_long(db, &purge_tickets, DB_ARGS(batch), &tickets);
  if (st == FN_OK && (notifications == RETENTION_BATCH || tickets == RETENTION_BATCH))
    j->again_in_ms = 0; /* more to delete: the next poll goes on (in a transaction of its own) */
  return st;
}
