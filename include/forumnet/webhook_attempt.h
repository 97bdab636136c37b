#ifndef FORUMNET_WEBHOOK_ATTEMPT_H
#define FORUMNET_WEBHOOK_ATTEMPT_H

#include "forumnet/db.h"
#include "forumnet/outbound.h"
#include "forumnet/ssrf.h"
#include "forumnet/webhooks_db.h"

/* One attempt of one delivery (src/webhooks/attempt.c), in three steps the dispatcher (dispatcher.c) drives:
 * load and prepare it (the SSRF guard resolves and checks the URL now, the request is signed as the
 * Standard Webhooks specification says), send it (outbound.h), then settle it (the outcome recorded and the
 * job ended or rescheduled, under the claim's lease). */
typedef struct webhook_attempt {
  webhook_claim claim;
  webhook_delivery d; /* d.payload is owned: webhook_attempt_clear frees it */
  ssrf_target target;
  char id_h[80], ts_h[48], sig_h[160];
  const char *headers[5];
  outbound_request req; /* ready to send after webhook_attempt_prepare answered WEBHOOK_PREPARED_SEND */
  outbound_response res;
  webhook_outcome outcome; /* set by webhook_attempt_answered, or by a prepare that refused to send */
  long code;
  char error[160];
} webhook_attempt;

typedef enum webhook_prepared {
  WEBHOOK_PREPARED_SEND,    /* a->req is ready */
  WEBHOOK_PREPARED_SETTLE,  /* not sent (URL refused now, secret unusable): settle it as it is (a retry) */
  WEBHOOK_PREPARED_END,     /* nothing to send: done already, or gone with its endpoint (the job ended) */
  WEBHOOK_PREPARED_ABANDON, /* the endpoint is disabled or its partner revoked (abandoned, the job ended) */
} webhook_prepared;

/* The configuration attempts use (the key that opens secrets, the SSRF guard's allowance). */
void webhook_attempt_configure(const fn_config *cfg);

/* Loads a->claim's delivery on db and prepares its request; END and ABANDON have ended the job already. */
fn_status webhook_attempt_prepare(db_conn *db, webhook_attempt *a, webhook_prepared *out);

/* The outcome of a sent request (sent 0: the answer is in a->res; -1: none came). */
void webhook_attempt_answered(webhook_attempt *a, int sent);

/* Records the outcome on db (a transaction of the caller's) with the metrics that go with it. */
fn_status webhook_attempt_settle(db_conn *db, webhook_attempt *a);

/* Frees what the attempt holds; it may be reused after. */
void webhook_attempt_clear(webhook_attempt *a);

#endif
