#ifndef FORUMNET_WEBHOOK_QUEUE_DB_H
#define FORUMNET_WEBHOOK_QUEUE_DB_H

#include "forumnet/db.h"
#include "forumnet/webhook_crypto.h"

/* Every SQL statement of the delivery queue (sql/013_webhooks.sql): each pending delivery has a job of kind
 * WEBHOOK_DELIVER_KIND (webhooks_db.h) that the webhook dispatcher (src/webhooks/dispatcher.c) claims with
 * FOR UPDATE SKIP LOCKED and leases, many at a time; one statement claims a batch with what sending needs,
 * one records a batch of attempts. */

/* A delivery as its attempt sees it. */
typedef struct webhook_delivery {
  int found; /* 0: gone with its endpoint (the job is all that is left) */
  char id[48];
  char status[16];
  int attempts;
  char *payload; /* JSON text: the body sent (the claim's owner frees it) */
  char url[2048];
  char endpoint_id[UUID_TEXT_SIZE];
  char endpoint_status[16]; /* active, disabled, or revoked (its partner's): only active ones are sent */
  char secret_sealed[WEBHOOK_SEALED_SIZE];
  char previous_sealed[WEBHOOK_SEALED_SIZE]; /* "" outside the rotation overlap */
  int failing_too_long;                      /* the endpoint has failed for 5 days */
} webhook_delivery;

/* A claimed webhook.deliver job: its delivery and its lease (the job's run_at as claimed, as text: the token
 * every later statement about the job checks, so an instance whose lease ran out changes nothing). */
typedef struct webhook_claim {
  long job_id;
  char lease[64];
  webhook_delivery d;
} webhook_claim;

/* Claims at most limit due deliveries (FOR UPDATE SKIP LOCKED: each goes to one instance), oldest first,
 * except those to the endpoints in busy_endpoints (comma-separated ids, or ""), and leases them for
 * lease_ms: another instance claims a job again once its lease ran out (this one died). Registration counts
 * are filled in at a delivery's first attempt. out[i].d.payload: caller frees. */
fn_status webhook_queue_claim(db_conn *db, int limit, const char *busy_endpoints, long lease_ms, webhook_claim *out,
                              int *count);
/* Gives a claimed job back, due now (its endpoint had no room left here). */
fn_status webhook_queue_release(db_conn *db, const webhook_claim *c);
/* Ends a claimed job without an attempt; abandon 1 also marks its delivery abandoned (its endpoint is disabled
 * or its partner revoked). */
fn_status webhook_queue_end(db_conn *db, const webhook_claim *c, int abandon);

typedef enum webhook_outcome {
  WEBHOOK_DELIVERED, /* 2xx */
  WEBHOOK_RETRY,     /* anything else: again later */
  WEBHOOK_FAILED,    /* no more retries: the delivery failed (the schedule ran out) */
  WEBHOOK_GONE,      /* 410, or 5 days of failures: the endpoint is disabled, its pending deliveries abandoned */
} webhook_outcome;

/* One attempt to record. status_code 0: no answer; error and excerpt may be NULL; retry_in_ms for RETRY. */
typedef struct webhook_record {
  const webhook_claim *claim;
  webhook_outcome outcome;
  long status_code;
  const char *error;
  const char *excerpt;
  long retry_in_ms;
} webhook_record;

/* Records the attempts in one statement: each ends or reschedules its job, if its lease still holds, and
 * updates its delivery and its endpoint (failing since when, disabled on GONE with its pending deliveries
 * abandoned). */
fn_status webhook_queue_record(db_conn *db, const webhook_record *records, int count);

/* Pending deliveries and the age in seconds of the oldest due one (metrics). */
fn_status webhook_queue_stats(db_conn *db, long *depth, long *oldest_age_s);

#endif
