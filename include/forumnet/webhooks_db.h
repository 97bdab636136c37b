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

/* A delivery as its attempt sees it. */
typedef struct webhook_delivery {
  int found;
  char id[48];
  char status[16];
  int attempts;
  char *payload; /* JSON text: the body sent (caller frees) */
  char url[2048];
  char endpoint_id[UUID_TEXT_SIZE];
  char endpoint_status[16]; /* active, disabled, or revoked (its partner's): only active ones are sent */
  char secret_sealed[WEBHOOK_SEALED_SIZE];
  char previous_sealed[WEBHOOK_SEALED_SIZE]; /* "" outside the rotation overlap */
  int failing_too_long;                      /* the endpoint has failed for 5 days */
} webhook_delivery;

/* Reads the delivery and its endpoint (registration counts filled in at its first attempt). */
fn_status webhooks_db_load_delivery(db_conn *db, const char *delivery_id, webhook_delivery *out);

typedef enum webhook_outcome {
  WEBHOOK_DELIVERED, /* 2xx */
  WEBHOOK_RETRY,     /* anything else: again later */
  WEBHOOK_FAILED,    /* no more retries: the delivery failed (the schedule ran out) */
  WEBHOOK_GONE,      /* 410, or 5 days of failures: the endpoint is disabled, its pending deliveries abandoned */
} webhook_outcome;

/* A webhook.deliver job this instance claimed: its delivery and its lease (the job's run_at as text: the
 * token every later statement about the job checks, so an instance whose lease ran out changes nothing). */
typedef struct webhook_claim {
  long job_id;
  char delivery_id[48]; /* "" when the job names none */
  char lease[64];
} webhook_claim;

/* Claims at most limit due deliveries' jobs (FOR UPDATE SKIP LOCKED: each goes to one instance), oldest
 * first, except those to the endpoints in busy_endpoints (comma-separated ids, or ""), and leases them for
 * lease_ms: another instance may claim a job again once its lease ran out (this one died). */
fn_status webhooks_db_claim(db_conn *db, int limit, const char *busy_endpoints, long lease_ms, webhook_claim *out,
                            int *count);
/* Gives a claimed job back, due now (its endpoint had no room left here). */
fn_status webhooks_db_release(db_conn *db, const webhook_claim *c);
/* Ends a claimed job without an attempt; abandon_delivery_id (may be NULL) is marked abandoned (its endpoint
 * is disabled or its partner revoked). */
fn_status webhooks_db_end(db_conn *db, const webhook_claim *c, const char *abandon_delivery_id);

/* Records an attempt and ends or reschedules its job, if the claim's lease still holds. status_code 0: no
 * answer; error and excerpt may be NULL; retry_in_ms for RETRY. */
fn_status webhooks_db_record(db_conn *db, const webhook_claim *c, const webhook_delivery *d, webhook_outcome outcome,
                             long status_code, const char *error, const char *excerpt, long retry_in_ms);

/* Pending deliveries and the age in seconds of the oldest due one (metrics). */
fn_status webhooks_db_queue_stats(db_conn *db, long *depth, long *oldest_age_s);

#endif
