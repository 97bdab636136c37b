/* Every SQL statement about partner webhooks (include/forumnet/webhooks_db.h). Secrets travel as the hex of
 * their sealed form (webhook_crypto.h): the database never holds one in the clear. */
#include "forumnet/webhooks_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WEBHOOK_JSON_SQL                                                                                               \
  "json_build_object('id', w.id, 'partner_id', w.partner_id, 'url', w.url, 'events', to_json(w.events),"               \
  " 'status', w.status, 'disabled_reason', w.disabled_reason, 'failing_since', rfc3339(w.failing_since),"              \
  " 'previous_secret_expires_at', CASE WHEN w.previous_until > clock_timestamp() THEN rfc3339(w.previous_until) END,"  \
  " 'version', w.version, 'created_at', rfc3339(w.created_at))"

#define DELIVERY_JSON_SQL                                                                                              \
  "json_build_object('id', d.id, 'type', d.type, 'status', d.status, 'attempts', d.attempts,"                          \
  " 'next_attempt_at', CASE WHEN d.status = 'pending' THEN rfc3339(d.next_attempt_at) END,"                            \
  " 'last_attempt_at', rfc3339(d.last_attempt_at), 'last_status_code', d.last_status_code,"                            \
  " 'last_error', d.last_error, 'response_excerpt', d.response_excerpt, 'payload', d.payload,"                         \
  " 'created_at', rfc3339(d.created_at))"

static const db_stmt partner_exists = {"webhooks_partner_exists", "SELECT 1 FROM partners WHERE id = $1"};

fn_status webhooks_db_partner_exists(db_conn *db, const char *partner_id) {
  fn_status st;
  PGresult *res = db_exec_row(db, &partner_exists, DB_ARGS(partner_id), FN_NOT_FOUND, &st);
  PQclear(res);
  return st;
}

static const db_stmt partner_scopes = {"webhooks_partner_scopes",
                                       "SELECT array_to_string(scopes, ' ') FROM partners WHERE id = $1"};

fn_status webhooks_db_partner_scopes(db_conn *db, const char *partner_id, char *out, size_t out_size) {
  return db_query_copy(db, &partner_scopes, DB_ARGS(partner_id), out, out_size);
}

static const db_stmt set_scopes = {
    "webhooks_set_partner_scopes",
    "UPDATE partners SET scopes = ARRAY(SELECT DISTINCT x FROM json_array_elements_text($2::json) x ORDER BY 1),"
    " credentials_changed_at = clock_timestamp() WHERE id = $1"};

fn_status webhooks_db_set_partner_scopes(db_conn *db, const char *partner_id, const char *scopes_json) {
  return db_exec_command(db, &set_scopes, DB_ARGS(partner_id, scopes_json));
}

static const db_stmt get_webhook = {"webhooks_get", "SELECT " WEBHOOK_JSON_SQL ", w.version FROM webhook_endpoints w"
                                                    " WHERE w.partner_id = $1 AND w.id = $2"};

fn_status webhooks_db_get(db_conn *db, const char *partner_id, const char *id, char **json, long *version) {
  return db_get_representation(db, &get_webhook, DB_ARGS(partner_id, id), json, version);
}

static const db_stmt list_webhooks = {"webhooks_list", "SELECT " WEBHOOK_JSON_SQL ", cursor_key(w.created_at, w.id)"
                                                       " FROM webhook_endpoints w WHERE w.partner_id = $1"
                                                       "   AND (w.created_at, w.id) > ($2::timestamptz, $3::uuid)"
                                                       " ORDER BY w.created_at, w.id LIMIT $4"};

fn_status webhooks_db_list(db_conn *db, const char *partner_id, const page_request *page, PGresult **result) {
  return db_query_page(db, &list_webhooks, partner_id, page, result);
}

static const db_stmt insert_webhook = {
    "webhooks_insert", "INSERT INTO webhook_endpoints (partner_id, url, events, secret_box)"
                       " VALUES ($1, $2, ARRAY(SELECT DISTINCT x FROM json_array_elements_text($3::json) x ORDER BY 1),"
                       " decode($4, 'hex')) RETURNING id"};

fn_status webhooks_db_insert(db_conn *db, const char *partner_id, const char *url, const char *events_json,
                             const char *sealed_hex, char id_out[UUID_TEXT_SIZE]) {
  return db_query_copy(db, &insert_webhook, DB_ARGS(partner_id, url, events_json, sealed_hex), id_out, UUID_TEXT_SIZE);
}

static const db_stmt lock_webhook = {
    "webhooks_lock", "SELECT version FROM webhook_endpoints WHERE partner_id = $1 AND id = $2 FOR UPDATE"};

fn_status webhooks_db_lock(db_conn *db, const char *partner_id, const char *id, long *version) {
  fn_status st;
  PGresult *res = db_exec_row(db, &lock_webhook, DB_ARGS(partner_id, id), FN_NOT_FOUND, &st);
  if (res == NULL)
    return st;
  *version = db_value_long(res, 0, 0);
  PQclear(res);
  return FN_OK;
}

static const db_stmt update_webhook = {
    "webhooks_update",
    "UPDATE webhook_endpoints SET url = coalesce($2, url),"
    " events = coalesce(ARRAY(SELECT DISTINCT x FROM json_array_elements_text($3::json) x ORDER BY 1), events),"
    " status = coalesce($4, status),"
    " disabled_reason = CASE WHEN $4 = 'active' THEN NULL WHEN $4 = 'disabled' THEN 'by request'"
    "   ELSE disabled_reason END,"
    " failing_since = CASE WHEN $4 = 'active' THEN NULL ELSE failing_since END,"
    " version = version + 1 WHERE id = $1"};

fn_status webhooks_db_update(db_conn *db, const char *id, const char *url, const char *events_json,
                             const char *status) {
  return db_exec_command(db, &update_webhook, DB_ARGS(id, url, events_json, status));
}

static const db_stmt delete_webhook = {"webhooks_delete", "DELETE FROM webhook_endpoints WHERE id = $1"};

fn_status webhooks_db_delete(db_conn *db, const char *id) { return db_exec_on(db, &delete_webhook, id); }

static const db_stmt rotate_webhook = {
    "webhooks_rotate", "UPDATE webhook_endpoints SET previous_secret_box = secret_box,"
                       " previous_until = clock_timestamp() + interval '24 hours', secret_box = decode($2, 'hex'),"
                       " version = version + 1 WHERE id = $1"};

fn_status webhooks_db_rotate(db_conn *db, const char *id, const char *sealed_hex) {
  return db_exec_command(db, &rotate_webhook, DB_ARGS(id, sealed_hex));
}

static const db_stmt list_deliveries = {"webhooks_deliveries",
                                        "SELECT " DELIVERY_JSON_SQL ", cursor_key(d.created_at, d.uid)"
                                        " FROM webhook_deliveries d WHERE d.endpoint_id = $1"
                                        "   AND (d.created_at, d.uid) > ($2::timestamptz, $3::uuid)"
                                        " ORDER BY d.created_at, d.uid LIMIT $4"};

fn_status webhooks_db_deliveries(db_conn *db, const char *webhook_id, const page_request *page, PGresult **result) {
  return db_query_page(db, &list_deliveries, webhook_id, page, result);
}

/* A job per pending delivery, its run_at the delivery's next attempt (a retry makes an existing one due). */
#define UPSERT_JOB_SQL(from)                                                                                           \
  "INSERT INTO jobs (kind, dedupe_key, payload, run_at)"                                                               \
  " SELECT '" WEBHOOK_DELIVER_KIND "', x.id, jsonb_build_object('delivery_id', x.id), x.next_attempt_at FROM " from    \
  " x ON CONFLICT (kind, dedupe_key) DO UPDATE SET run_at = least(jobs.run_at, excluded.run_at)"

static const db_stmt retry_delivery = {
    "webhooks_retry",
    "WITH d AS (UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = clock_timestamp()"
    "           FROM webhook_endpoints w WHERE w.id = d.endpoint_id AND w.status = 'active'"
    "             AND d.endpoint_id = $1 AND d.id = $2 RETURNING d.*),"
    " j AS (" UPSERT_JOB_SQL("d") ")"
                                  " SELECT " DELIVERY_JSON_SQL " FROM d"};

fn_status webhooks_db_retry(db_conn *db, const char *webhook_id, const char *delivery_id, char **json) {
  fn_status st;
  PGresult *res = db_exec_row(db, &retry_delivery, DB_ARGS(webhook_id, delivery_id), FN_NOT_FOUND, &st);
  return res == NULL ? st : db_take_text(res, 0, json);
}

/* Thin payloads: the event's id, external_id and status, never a name. */
static const db_stmt enqueue_event = {
    "webhooks_enqueue_event",
    "WITH d AS (INSERT INTO webhook_deliveries (endpoint_id, type, event_id, payload, next_attempt_at, coalesce_key)"
    "  SELECT w.id, $2::text, e.id, jsonb_build_object('type', $2::text, 'timestamp', rfc3339(clock_timestamp()),"
    "      'data', jsonb_build_object('event_id', e.id, 'external_id', e.external_id, 'status', e.status)),"
    "    CASE WHEN $2::text = 'event.registration_counts' THEN to_timestamp(ceil(extract(epoch FROM clock_timestamp())"
    "      * 1000 / $3::bigint) * $3::bigint / 1000.0) ELSE clock_timestamp() END,"
    "    CASE WHEN $2::text = 'event.registration_counts' THEN e.id::text END"
    "  FROM events e JOIN webhook_endpoints w ON w.partner_id = e.partner_id"
    "  JOIN partners p ON p.id = e.partner_id AND p.revoked_at IS NULL"
    "  WHERE e.id = $1 AND w.status = 'active' AND $2::text = ANY (w.events)"
    "  ON CONFLICT (endpoint_id, coalesce_key) WHERE coalesce_key IS NOT NULL AND status = 'pending' DO NOTHING"
    "  RETURNING id, next_attempt_at) " UPSERT_JOB_SQL("d")};

fn_status webhooks_db_enqueue_event(db_conn *db, const char *event_id, const char *type, unsigned counts_interval_ms) {
  char interval[24];
  snprintf(interval, sizeof interval, "%u", counts_interval_ms);
  return db_exec_command(db, &enqueue_event, DB_ARGS(event_id, type, interval));
}

/* Registration counts are read when the delivery is first attempted, so a coalesced one carries the counts
 * of its minute's end; retries send the same body. */
static const db_stmt fill_counts = {
    "webhooks_fill_counts",
    "UPDATE webhook_deliveries d SET payload = jsonb_set(d.payload, '{data,registration_counts}', ("
    "  SELECT jsonb_build_object('going', count(*) FILTER (WHERE r.status = 'going'),"
    "    'waitlisted', count(*) FILTER (WHERE r.status = 'waitlisted'),"
    "    'interested', count(*) FILTER (WHERE r.status = 'interested'),"
    "    'declined', count(*) FILTER (WHERE r.status = 'declined'))"
    "  FROM event_registrations r WHERE r.event_id = d.event_id))"
    " WHERE d.id = $1 AND d.type = 'event.registration_counts' AND d.attempts = 0 AND d.status = 'pending'"};

static const db_stmt load_delivery = {
    "webhooks_load_delivery",
    "SELECT d.id, d.status, d.attempts, w.url, w.id,"
    " CASE WHEN p.revoked_at IS NULL THEN w.status ELSE 'revoked' END, encode(w.secret_box, 'hex'),"
    " CASE WHEN w.previous_until > clock_timestamp() THEN encode(w.previous_secret_box, 'hex') ELSE '' END,"
    " coalesce(w.failing_since < clock_timestamp() - interval '5 days', false), d.payload::text"
    " FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id"
    " JOIN partners p ON p.id = w.partner_id WHERE d.id = $1"};

static const db_column delivery_columns[] = {
    DB_COL_TEXT(webhook_delivery, id),
    DB_COL_TEXT(webhook_delivery, status),
    DB_COL_INT(webhook_delivery, attempts),
    DB_COL_TEXT(webhook_delivery, url),
    DB_COL_TEXT(webhook_delivery, endpoint_id),
    DB_COL_TEXT(webhook_delivery, endpoint_status),
    DB_COL_TEXT(webhook_delivery, secret_sealed),
    DB_COL_TEXT(webhook_delivery, previous_sealed),
    DB_COL_BOOL(webhook_delivery, failing_too_long),
    DB_COL_SKIP, /* the payload: a new copy, below */
    DB_COLUMNS_END,
};

fn_status webhooks_db_load_delivery(db_conn *db, const char *delivery_id, webhook_delivery *out) {
  memset(out, 0, sizeof *out);
  fn_status st = db_exec_command(db, &fill_counts, DB_ARGS(delivery_id));
  if (st != FN_OK)
    return st;
  PGresult *res = db_exec_row(db, &load_delivery, DB_ARGS(delivery_id), FN_OK, &st);
  if (res == NULL)
    return st; /* gone with its endpoint: found stays 0 */
  out->found = 1;
  out->payload = db_value_dup(res, 0, 9);
  if (out->payload == NULL) {
    PQclear(res);
    return FN_INTERNAL;
  }
  return db_take_row(res, delivery_columns, out);
}

/* The job row of a claimed delivery, while this instance still holds its lease ($8 the job, $9 the lease):
 * deleted when the delivery is done, due again after the delay for a retry. A lease that ran out (another
 * instance took the job over) matches nothing, and then nothing below is recorded either. */
#define LEASED_JOB_SQL                                                                                                 \
  "WITH jd AS (DELETE FROM jobs WHERE id = $8::bigint AND run_at = $9::timestamptz AND $2::text <> 'retry'"            \
  "  RETURNING id),"                                                                                                   \
  " ju AS (UPDATE jobs SET run_at = clock_timestamp() + $6::bigint * interval '1 millisecond', attempts = 0,"          \
  "  last_error = NULL WHERE id = $8::bigint AND run_at = $9::timestamptz AND $2::text = 'retry' RETURNING id),"       \
  " j AS (SELECT id FROM jd UNION ALL SELECT id FROM ju),"

static const db_stmt record_attempt = {
    "webhooks_record", LEASED_JOB_SQL
    " d AS (UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = clock_timestamp(),"
    "    status = CASE $2::text WHEN 'delivered' THEN 'delivered' WHEN 'retry' THEN 'pending' ELSE 'failed' END,"
    "    next_attempt_at = CASE WHEN $2::text = 'retry' THEN clock_timestamp() + $6::bigint * interval '1 millisecond' "
    "END,"
    "    last_status_code = nullif($3::int, 0), last_error = left($4, 256), response_excerpt = $5"
    "  WHERE id = $1 AND EXISTS (SELECT 1 FROM j) RETURNING endpoint_id),"
    " w AS (UPDATE webhook_endpoints w SET"
    "    failing_since = CASE WHEN $2::text = 'delivered' THEN NULL ELSE coalesce(w.failing_since, clock_timestamp()) "
    "END,"
    "    status = CASE WHEN $2::text = 'gone' THEN 'disabled' ELSE w.status END,"
    "    disabled_reason = CASE WHEN $2::text = 'gone' THEN $7 ELSE w.disabled_reason END,"
    "    version = w.version + CASE WHEN $2::text = 'gone' THEN 1 ELSE 0 END"
    "  FROM d WHERE w.id = d.endpoint_id"
    "    AND (w.failing_since IS NOT NULL OR $2::text <> 'delivered')" /* no new row version for nothing */
    "  RETURNING w.id, w.status)"
    " UPDATE webhook_deliveries o SET status = 'abandoned', next_attempt_at = NULL FROM w"
    "  WHERE w.status = 'disabled' AND o.endpoint_id = w.id AND o.status = 'pending' AND o.id <> $1"};

fn_status webhooks_db_record(db_conn *db, const webhook_claim *c, const webhook_delivery *d, webhook_outcome outcome,
                             long status_code, const char *error, const char *excerpt, long retry_in_ms) {
  static const char *const names[] = {"delivered", "retry", "failed", "gone"};
  char code[24], retry[24], job_id[24];
  snprintf(code, sizeof code, "%ld", status_code);
  snprintf(retry, sizeof retry, "%ld", retry_in_ms);
  snprintf(job_id, sizeof job_id, "%ld", c->job_id);
  const char *reason = status_code == 410 ? "the endpoint answered 410 Gone" : "5 days of failed deliveries";
  return db_exec_command(db, &record_attempt,
                         DB_ARGS(d->id, names[outcome], code, error, excerpt, retry, reason, job_id, c->lease));
}

/* Claims: the due webhook.deliver jobs, oldest first, except those of the endpoints named in $2 (a comma
 * list: those this instance already sends to as much as it may); each row's run_at moves to the end of the
 * lease, which is also the token that later statements check. A job whose delivery is gone (its endpoint
 * was deleted) is claimed too, and ended. */
static const db_stmt claim = {
    "webhooks_claim",
    "WITH c AS (SELECT j.id FROM jobs j LEFT JOIN webhook_deliveries d ON d.id = j.dedupe_key"
    "  WHERE j.kind = '" WEBHOOK_DELIVER_KIND "' AND j.run_at <= clock_timestamp()"
    "    AND (d.endpoint_id IS NULL OR d.endpoint_id <> ALL (string_to_array($2, ',')::uuid[]))"
    "  ORDER BY j.run_at, j.id LIMIT $1::int FOR UPDATE OF j SKIP LOCKED)"
    " UPDATE jobs j SET run_at = clock_timestamp() + $3::bigint * interval '1 millisecond' FROM c WHERE j.id = c.id"
    " RETURNING j.id, coalesce(j.dedupe_key, ''), j.run_at::text"};

fn_status webhooks_db_claim(db_conn *db, int limit, const char *busy_endpoints, long lease_ms, webhook_claim *out,
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
    out[i].job_id = db_value_long(res, i, 0);
    db_value_copy(res, i, 1, out[i].delivery_id, sizeof out[i].delivery_id);
    db_value_copy(res, i, 2, out[i].lease, sizeof out[i].lease);
    (*count)++;
  }
  PQclear(res);
  return FN_OK;
}

static const db_stmt release = {"webhooks_release", "UPDATE jobs SET run_at = clock_timestamp()"
                                                    " WHERE id = $1::bigint AND run_at = $2::timestamptz"};

fn_status webhooks_db_release(db_conn *db, const webhook_claim *c) {
  char job_id[24];
  snprintf(job_id, sizeof job_id, "%ld", c->job_id);
  return db_exec_command(db, &release, DB_ARGS(job_id, c->lease));
}

static const db_stmt end_job = {
    "webhooks_end_job", "WITH j AS (DELETE FROM jobs WHERE id = $1::bigint AND run_at = $2::timestamptz RETURNING id)"
                        " UPDATE webhook_deliveries SET status = 'abandoned', next_attempt_at = NULL"
                        " WHERE id = $3 AND status = 'pending' AND EXISTS (SELECT 1 FROM j)"};

fn_status webhooks_db_end(db_conn *db, const webhook_claim *c, const char *abandon_delivery_id) {
  char job_id[24];
  snprintf(job_id, sizeof job_id, "%ld", c->job_id);
  return db_exec_command(db, &end_job, DB_ARGS(job_id, c->lease, abandon_delivery_id));
}

static const db_stmt queue_stats = {
    "webhooks_queue_stats",
    "SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(next_attempt_at))::bigint, 0)"
    " FROM webhook_deliveries WHERE status = 'pending'"};

fn_status webhooks_db_queue_stats(db_conn *db, long *depth, long *oldest_age_s) {
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
