/* Every SQL statement of the webhook delivery queue (include/forumnet/webhook_queue_db.h). */
#include "forumnet/webhook_queue_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/webhooks_db.h"

/* Registration counts are read when the delivery is first attempted, so a coalesced one carries the counts
 * of its minute's end; retries send the same body. */
#define FILL_COUNTS_SQL                                                                                                \
  "UPDATE webhook_deliveries d SET payload = jsonb_set(d.payload, '{data,registration_counts}', ("                     \
  "  SELECT jsonb_build_object('going', count(*) FILTER (WHERE r.status = 'going'),"                                   \
  "    'waitlisted', count(*) FILTER (WHERE r.status = 'waitlisted'),"                                                 \
  "    'interested', count(*) FILTER (WHERE r.status = 'interested'),"                                                 \
  "    'declined', count(*) FILTER (WHERE r.status = 'declined'))"                                                     \
  "  FROM event_registrations r WHERE r.event_id = d.event_id))"                                                       \
  " FROM l WHERE d.id = l.dedupe_key AND d.type = 'event.registration_counts' AND d.attempts = 0"                      \
  "   AND d.status = 'pending' RETURNING d.id, d.payload"

/* c: the due jobs, oldest first, but for the busy endpoints ($2); l: leased ($3 ms); f: counts filled in.
 * A job whose delivery is gone (its endpoint was deleted) is claimed too, to be ended. */
static const db_stmt claim = {
    "webhook_queue_claim",
    "WITH c AS (SELECT j.id FROM jobs j LEFT JOIN webhook_deliveries d ON d.id = j.dedupe_key"
    "  WHERE j.kind = '" WEBHOOK_DELIVER_KIND "' AND j.run_at <= clock_timestamp()"
    "    AND (d.endpoint_id IS NULL OR d.endpoint_id <> ALL (string_to_array($2, ',')::uuid[]))"
    "  ORDER BY j.run_at, j.id LIMIT $1::int FOR UPDATE OF j SKIP LOCKED),"
    " l AS (UPDATE jobs j SET run_at = clock_timestamp() + $3::bigint * interval '1 millisecond' FROM c"
    "  WHERE j.id = c.id RETURNING j.id, j.dedupe_key, j.run_at),"
    " f AS (" FILL_COUNTS_SQL ")"
    " SELECT l.id, l.run_at::text, d.id IS NOT NULL, d.id, d.status, d.attempts, w.url, w.id,"
    " CASE WHEN p.revoked_at IS NULL THEN w.status ELSE 'revoked' END, encode(w.secret_box, 'hex'),"
    " CASE WHEN w.previous_until > clock_timestamp() THEN encode(w.previous_secret_box, 'hex') ELSE '' END,"
    " coalesce(w.failing_since < clock_timestamp() - interval '5 days', false), coalesce(f.payload, d.payload)::text"
    " FROM l LEFT JOIN webhook_deliveries d ON d.id = l.dedupe_key"
    " LEFT JOIN webhook_endpoints w ON w.id = d.endpoint_id LEFT JOIN partners p ON p.id = w.partner_id"
    " LEFT JOIN f ON f.id = d.id"};

static void read_claim(PGresult *res, int row, webhook_claim *c) {
  webhook_delivery *d = &c->d;
  memset(c, 0, sizeof *c);
  c->job_id = db_value_long(res, row, 0);
  db_value_copy(res, row, 1, c->lease, sizeof c->lease);
  d->found = db_value_bool(res, row, 2);
  if (!d->found)
    return;
  db_value_copy(res, row, 3, d->id, sizeof d->id);
  db_value_copy(res, row, 4, d->status, sizeof d->status);
  d->attempts = (int)db_value_long(res, row, 5);
  db_value_copy(res, row, 6, d->url, sizeof d->url);
  db_value_copy(res, row, 7, d->endpoint_id, sizeof d->endpoint_id);
  db_value_copy(res, row, 8, d->endpoint_status, sizeof d->endpoint_status);
  db_value_copy(res, row, 9, d->secret_sealed, sizeof d->secret_sealed);
  db_value_copy(res, row, 10, d->previous_sealed, sizeof d->previous_sealed);
  d->failing_too_long = db_value_bool(res, row, 11);
  d->payload = db_value_dup(res, row, 12);
}

fn_status webhook_queue_claim(db_conn *db, int limit, const char *busy_endpoints, long lease_ms, webhook_claim *out,
                              int *count) {
  char limit_text[24], lease[24];
  snprintf(limit_text, sizeof limit_text, "%d", limit);
  snprintf(lease, sizeof lease, "%ld", lease_ms);
  PGresult *res = NULL;
  *count = 0;
  fn_status st = db_query_rows(db, &claim, DB_ARGS(limit_text, busy_endpoints, lease), &res);
  if (st != FN_OK)
    return st;
  for (int i = 0; i < PQntuples(res) && i < limit; i++) {
    read_claim(res, i, &out[i]);
    if (out[i].d.found && out[i].d.payload == NULL)
      st = FN_INTERNAL; /* out of memory: the rows counted so far are the caller's to free */
    (*count)++;
  }
  PQclear(res);
  return st;
}

static const db_stmt release = {"webhook_queue_release", "UPDATE jobs SET run_at = clock_timestamp()"
                                                         " WHERE id = $1::bigint AND run_at = $2::timestamptz"};

fn_status webhook_queue_release(db_conn *db, const webhook_claim *c) {
  char job_id[24];
  snprintf(job_id, sizeof job_id, "%ld", c->job_id);
  return db_exec_command(db, &release, DB_ARGS(job_id, c->lease));
}

static const db_stmt end_job = {
    "webhook_queue_end", "WITH j AS (DELETE FROM jobs WHERE id = $1::bigint AND run_at = $2::timestamptz RETURNING id)"
                         " UPDATE webhook_deliveries SET status = 'abandoned', next_attempt_at = NULL"
                         " WHERE id = $3 AND status = 'pending' AND EXISTS (SELECT 1 FROM j)"};

fn_status webhook_queue_end(db_conn *db, const webhook_claim *c, int abandon) {
  char job_id[24];
  snprintf(job_id, sizeof job_id, "%ld", c->job_id);
  return db_exec_command(db, &end_job, DB_ARGS(job_id, c->lease, abandon ? c->d.id : NULL));
}

/* x: the attempts; jd/ju: their jobs ended or rescheduled where the lease holds; d: those deliveries
 * updated; e, w: their endpoints (an answer clears failing_since, a failure sets it if unset, GONE disables);
 * last, the other pending deliveries of a disabled endpoint abandoned. */
static const db_stmt record = {
    "webhook_queue_record",
    "WITH x AS (SELECT * FROM json_to_recordset($1::json) AS x(id text, outcome text, code int, error text,"
    "   excerpt text, retry_ms bigint, reason text, job bigint, lease timestamptz)),"
    " jd AS (DELETE FROM jobs j USING x WHERE j.id = x.job AND j.run_at = x.lease AND x.outcome <> 'retry'"
    "   RETURNING j.id),"
    " ju AS (UPDATE jobs j SET run_at = clock_timestamp() + x.retry_ms * interval '1 millisecond', attempts = 0,"
    "   last_error = NULL FROM x WHERE j.id = x.job AND j.run_at = x.lease AND x.outcome = 'retry' RETURNING j.id),"
    " d AS (UPDATE webhook_deliveries d SET attempts = d.attempts + 1, last_attempt_at = clock_timestamp(),"
    "   status = CASE x.outcome WHEN 'delivered' THEN 'delivered' WHEN 'retry' THEN 'pending' ELSE 'failed' END,"
    "   next_attempt_at = CASE WHEN x.outcome = 'retry'"
    "     THEN clock_timestamp() + x.retry_ms * interval '1 millisecond' END,"
    "   last_status_code = nullif(x.code, 0), last_error = left(x.error, 256), response_excerpt = x.excerpt"
    "   FROM x WHERE d.id = x.id AND x.job IN (SELECT id FROM jd UNION ALL SELECT id FROM ju)"
    "   RETURNING d.id, d.endpoint_id, x.outcome, x.reason),"
    " e AS (SELECT endpoint_id, bool_or(outcome = 'delivered') AS alive, bool_or(outcome = 'gone') AS gone,"
    "   min(reason) FILTER (WHERE outcome = 'gone') AS reason FROM d GROUP BY endpoint_id),"
    " w AS (UPDATE webhook_endpoints w SET"
    "   failing_since = CASE WHEN e.alive AND NOT e.gone THEN NULL"
    "     ELSE coalesce(w.failing_since, clock_timestamp()) END,"
    "   status = CASE WHEN e.gone THEN 'disabled' ELSE w.status END,"
    "   disabled_reason = CASE WHEN e.gone THEN e.reason ELSE w.disabled_reason END,"
    "   version = w.version + CASE WHEN e.gone THEN 1 ELSE 0 END"
    "   FROM e WHERE w.id = e.endpoint_id"
    "     AND (e.gone OR NOT e.alive OR w.failing_since IS NOT NULL)" /* no new row version for nothing */
    "   RETURNING w.id, w.status)"
    " UPDATE webhook_deliveries o SET status = 'abandoned', next_attempt_at = NULL FROM w"
    "  WHERE w.status = 'disabled' AND o.endpoint_id = w.id AND o.status = 'pending'"
    "    AND o.id NOT IN (SELECT id FROM d)"};

fn_status webhook_queue_record(db_conn *db, const webhook_record *records, int count) {
  static const char *const names[] = {"delivered", "retry", "failed", "gone"};
  json_t *list = json_array();
  for (int i = 0; list && i < count; i++) {
    const webhook_record *r = &records[i];
    const char *reason = r->status_code == 410 ? "the endpoint answered 410 Gone" : "5 days of failed deliveries";
    json_array_append_new(list,
                          json_pack("{s:s, s:s, s:I, s:s?, s:s?, s:I, s:s, s:I, s:s}", "id", r->claim->d.id, "outcome",
                                    names[r->outcome], "code", (json_int_t)r->status_code, "error", r->error, "excerpt",
                                    r->excerpt, "retry_ms", (json_int_t)r->retry_in_ms, "reason", reason, "job",
                                    (json_int_t)r->claim->job_id, "lease", r->claim->lease));
  }
  char *text = list ? json_dumps(list, JSON_COMPACT) : NULL;
  json_decref(list);
  if (text == NULL)
    return FN_INTERNAL;
  fn_status st = db_exec_command(db, &record, DB_ARGS(text));
  free(text);
  return st;
}

static const db_stmt queue_stats = {
    "webhook_queue_stats",
    "SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(next_attempt_at))::bigint, 0)"
    " FROM webhook_deliveries WHERE status = 'pending'"};

fn_status webhook_queue_stats(db_conn *db, long *depth, long *oldest_age_s) {
  fn_status st;
  PGresult *res = db_exec_row(db, &queue_stats, 0, NULL, FN_INTERNAL, &st);
  if (res == NULL)
    return st;
  *depth = db_value_long(res, 0, 0);
  *oldest_age_s = db_value_long(res, 0, 1);
  if (*oldest_age_s < 0)
    *oldest_age_s = 0;
  PQclear(res);
  return FN_OK;
}
