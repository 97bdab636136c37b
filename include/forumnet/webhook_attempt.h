#ifndef FORUMNET_WEBHOOK_ATTEMPT_H
#define FORUMNET_WEBHOOK_ATTEMPT_H

#include "forumnet/db.h"
#include "forumnet/outbound.h"
#include "forumnet/ssrf.h"
#include "forumnet/webhook_queue_db.h"

/* One attempt of one delivery (src/webhooks/attempt.c), in three steps the dispatcher (dispatcher.c) drives:
 * load and prepare it (the SSRF guard resolves and checks the URL now, the request is signed as the
 * Standard Webhooks specification says), send it (outbound.h), then record it (webhook_queue_record: the
 * outcome recorded and the job ended or rescheduled, under the claim's lease). */
typedef struct webhook_attempt {
  webhook_claim claim; /* claim.d.payload is owned: webhook_attempt_clear frees it */
  ssrf_target target;
  char id_h[80], ts_h[48], sig_h[160];
  const char *headers[5];
  outbound_request req; /* ready to send after webhook_attempt_build */
  outbound_response res;
  webhook_outcome outcome; /* set by webhook_attempt_answered, or by a build that refused to send */
  long code;
  char error[160];
} webhook_attempt;

typedef enum webhook_prepared {
  WEBHOOK_PREPARED_SEND,    /* to send: webhook_attempt_build, then outbound */
  WEBHOOK_PREPARED_END,     /* nothing to send: done already, or gone with its endpoint (the job ended) */
  WEBHOOK_PREPARED_ABANDON, /* the endpoint is disabled or its partner revoked (abandoned, the job ended) */
} webhook_prepared;

/* The configuration attempts use (the key that opens secrets, the SSRF guard's allowance). */
void webhook_attempt_configure(const fn_config *cfg);

/* Whether a->claim's delivery is to be sent; END and ABANDON have ended the job already, on db. */
fn_status webhook_attempt_prepare(db_conn *db, webhook_attempt *a, webhook_prepared *out);

/* Right before sending: the SSRF guard resolves and checks the URL, and the request is signed. 0 with
 * a->req ready, or -1 when it must not go now (a->outcome a retry, a->error why). */
int webhook_attempt_build(webhook_attempt *a);

/* The outcome of a sent request (sent 0: the answer is in a->res; -1: none came). */
void webhook_attempt_answered(webhook_attempt *a, int sent);

/* What to record of the attempt: its outcome after the schedule (5 days of failures: GONE; no retry left:
 * FAILED), and when to try again. */
void webhook_attempt_record(const webhook_attempt *a, webhook_record *out);
/* After the record was written: the metrics and the log line that go with it. */
void webhook_attempt_recorded(const webhook_record *r);

/* Frees what the attempt holds; it may be reused after. */
void webhook_attempt_clear(webhook_attempt *a);

#endif
