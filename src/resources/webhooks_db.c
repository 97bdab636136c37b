/* Every SQL statement about partner webhooks (include/forumnet/webhooks_db.h). Secrets travel as the hex of
 * their sealed form (webhook_crypto.h): the database never holds one in the clear. */
#include "forumnet/webhooks_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// clang-format off
#define WEBHOOK_FIELDS_SQL(F, SEP)                                                                                     \
  F("id", "w.id") SEP                                                                                                  \
  F("partner_id", "w.partner_id") SEP                                                                                  \
  F("url", "w.url") SEP                                                                                                \
  F("events", "to_json(w.events)") SEP                                                                                 \
  F("status", "w.status") SEP                                                                                          \
  F("disabled_reason", "w.disabled_reason") SEP                                                                        \
  F("failing_since", "rfc3339(w.failing_since)") SEP                                                                   \
  F("previous_secret_expires_at", "CASE WHEN w.previous_until > clock_timestamp() THEN rfc3339(w.previous_until)"      \
                                  " END") SEP                                                                          \
  F("version", "w.version") SEP                                                                                        \
  F("created_at", "rfc3339(w.created_at)")
// clang-format on
#define WEBHOOK_JSON_SQL DB_JSON_OBJECT(WEBHOOK_FIELDS_SQL)
#define WEBHOOK_COLUMNS_SQL DB_COLUMNS(WEBHOOK_FIELDS_SQL)

// clang-format off
#define DELIVERY_FIELDS_SQL(F, SEP)                                                                                    \
  F("id", "d.id") SEP                                                                                                  \
  F("type", "d.type") SEP                                                                                              \
  F("status", "d.status") SEP                                                                                          \
  F("attempts", "d.attempts") SEP                                                                                      \
  F("next_attempt_at", "CASE WHEN d.status = 'pending' THEN rfc3339(d.next_attempt_at) END") SEP                       \
  F("last_attempt_at", "rfc3339(d.last_attempt_at)") SEP                                                               \
  F("last_status_code", "d.last_status_code") SEP                                                                      \
  F("last_error", "d.last_error") SEP                                                                                  \
  F("response_excerpt", "d.response_excerpt") SEP                                                                      \
  F("payload", "d.payload") SEP                                                                                        \
  F("created_at", "rfc3339(d.created_at)")
// clang-format on
#define DELIVERY_JSON_SQL DB_JSON_OBJECT(DELIVERY_FIELDS_SQL)
#define DELIVERY_COLUMNS_SQL DB_COLUMNS(DELIVERY_FIELDS_SQL)

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

static const db_stmt list_webhooks = {
    "webhooks_list", "SELECT cursor_key(w.created_at, w.id), " WEBHOOK_COLUMNS_SQL
                     " FROM webhook_endpoints w WHERE w.partner_id = $1" DB_PAGE_AFTER("w.created_at", "w.id")};

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

static const db_stmt list_deliveries = {
    "webhooks_deliveries",
    "SELECT cursor_key(d.created_at, d.uid), " DELIVERY_COLUMNS_SQL
    " FROM webhook_deliveries d WHERE d.endpoint_id = $1" DB_PAGE_AFTER("d.created_at", "d.uid")};

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
