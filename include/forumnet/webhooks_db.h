#ifndef FORUMNET_WEBHOOKS_DB_H
#define FORUMNET_WEBHOOKS_DB_H

#include "forumnet/db.h"
#include "forumnet/page.h"
#include "forumnet/webhook_crypto.h"

/* Every SQL statement about partner webhooks (sql/013_webhooks.sql, API.md section 13). */

#define WEBHOOK_DELIVER_KIND "webhook.deliver"

/* FN_NOT_FOUND unless the partner exists. */
fn_status webhooks_db_partner_exists(db_conn *db, const char *partner_id);
/* The partner's scopes as one space-separated text (client-credentials grants). */
fn_status webhooks_db_partner_scopes(db_conn *db, const char *partner_id, char *out, size_t out_size);
/* Sets the partner's scopes (a JSON array); its tokens issued before end. */
fn_status webhooks_db_set_partner_scopes(db_conn *db, const char *partner_id, const char *scopes_json);

/* The Webhook representation; FN_NOT_FOUND when the partner has no such webhook. *json: caller frees. */
fn_status webhooks_db_get(db_conn *db, const char *partner_id, const char *id, char **json, long *version);
/* The partner's webhooks, oldest first (rows of json, cursor_key). */
fn_status webhooks_db_list(db_conn *db, const char *partner_id, const page_request *page, PGresult **result);
/* Inside a transaction: events a JSON array of event types; sealed_hex from webhook_secret_seal. */
fn_status webhooks_db_insert(db_conn *db, const char *partner_id, const char *url, const char *events_json,
                             const char *sealed_hex, char id_out[UUID_TEXT_SIZE]);
/* Locks the webhook row: FN_NOT_FOUND when the partner has no such webhook. */
fn_status webhooks_db_lock(db_conn *db, const char *partner_id, const char *id, long *version);
/* NULL leaves a field as it is; status "active" again clears the failure record. */
fn_status webhooks_db_update(db_conn *db, const char *id, const char *url, const char *events_json, const char *status);
fn_status webhooks_db_delete(db_conn *db, const char *id);
/* The current secret becomes the previous one for 24 hours; sealed_hex is the new one. */
fn_status webhooks_db_rotate(db_conn *db, const char *id, const char *sealed_hex);

/* The webhook's deliveries, newest first (rows of json, cursor_key). */
fn_status webhooks_db_deliveries(db_conn *db, const char *webhook_id, const page_request *page, PGresult **result);
/* A delivery of the webhook pending again, due now (its job made due now): FN_NOT_FOUND if none. */
fn_status webhooks_db_retry(db_conn *db, const char *webhook_id, const char *delivery_id, char **json);

/* Inside the change's transaction: one delivery of type about the event to each active webhook of the
 * event's partner (unless revoked) subscribed to type, with its job. event.registration_counts is coalesced: at most
 * one pending per webhook and event, due at the next multiple of counts_interval_ms. */
fn_status webhooks_db_enqueue_event(db_conn *db, const char *event_id, const char *type, unsigned counts_interval_ms);

#endif
