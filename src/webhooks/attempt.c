/* One attempt of one delivery (include/forumnet/webhook_attempt.h): loaded and signed as the Standard
 * Webhooks specification says, sent through the SSRF guard's pinned address, its outcome recorded. */
#include "forumnet/webhook_attempt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forumnet/log.h"
#include "forumnet/metrics.h"
#include "forumnet/webhook_crypto.h"
#include "forumnet/webhooks.h"

#define DELIVERY_TIMEOUT_MS 10000L

static fn_config attempt_cfg;

void webhook_attempt_configure(const fn_config *cfg) { attempt_cfg = *cfg; }

long webhooks_retry_delay_ms(int attempt) {
  static const long delays_s[] = {5,         30,        120,       600,       3600,      3 * 3600, 6 * 3600,
                                  12 * 3600, 24 * 3600, 24 * 3600, 24 * 3600, 24 * 3600, 24 * 3600};
  if (attempt < 1 || attempt > (int)(sizeof delays_s / sizeof delays_s[0]))
    return -1;
  return delays_s[attempt - 1] * 1000L;
}

/* A response excerpt as text a column takes: printable ASCII, others as '?'. */
static void printable(char *s) {
  for (; *s; s++)
    if ((unsigned char)*s >= 0x7f || ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t'))
      *s = '?';
}

/* The webhook-signature header: one signature per live secret, space-separated. */
static int signature_header(const webhook_delivery *d, long long ts, char *out, size_t size) {
  char secret[WEBHOOK_SECRET_SIZE], sig[WEBHOOK_SIGNATURE_SIZE], sig2[WEBHOOK_SIGNATURE_SIZE] = "";
  size_t len = strlen(d->payload);
  if (webhook_secret_open(&attempt_cfg, d->secret_sealed, secret) != 0 ||
      webhook_sign(secret, d->id, ts, d->payload, len, sig) != 0)
    return -1;
  if (d->previous_sealed[0] && (webhook_secret_open(&attempt_cfg, d->previous_sealed, secret) != 0 ||
                                webhook_sign(secret, d->id, ts, d->payload, len, sig2) != 0))
    return -1;
  snprintf(out, size, "webhook-signature: %s%s%s", sig, sig2[0] ? " " : "", sig2);
  return 0;
}

int webhook_attempt_build(webhook_attempt *a) {
  const char *reason = NULL;
  long long ts = (long long)time(NULL);
  if (ssrf_check_url(a->claim.d.url, attempt_cfg.webhook_allow_private, &a->target, &reason) != 0) {
    snprintf(a->error, sizeof a->error, "refused: the URL %s", reason);
    return -1; /* a DNS answer may change back; 5 days of it disable the endpoint */
  }
  if (signature_header(&a->claim.d, ts, a->sig_h, sizeof a->sig_h) != 0) {
    snprintf(a->error, sizeof a->error, "the secret does not open under this server's webhook key");
    return -1;
  }
  snprintf(a->id_h, sizeof a->id_h, "webhook-id: %s", a->claim.d.id);
  snprintf(a->ts_h, sizeof a->ts_h, "webhook-timestamp: %lld", ts);
  a->headers[0] = "Content-Type: application/json";
  a->headers[1] = a->id_h;
  a->headers[2] = a->ts_h;
  a->headers[3] = a->sig_h;
  a->headers[4] = NULL;
  a->req = (outbound_request){.url = a->claim.d.url,
                              .resolve = a->target.resolve,
                              .connect_to = a->target.connect_to,
                              .headers = a->headers,
                              .body = a->claim.d.payload,
                              .body_len = strlen(a->claim.d.payload),
                              .timeout_ms = DELIVERY_TIMEOUT_MS};
  return 0;
}

fn_status webhook_attempt_prepare(db_conn *db, webhook_attempt *a, webhook_prepared *out) {
  const webhook_delivery *d = &a->claim.d;
  a->outcome = WEBHOOK_RETRY;
  a->code = 0;
  a->error[0] = '\0';
  if (!d->found || strcmp(d->status, "pending") != 0) {
    *out = WEBHOOK_PREPARED_END; /* done already, or gone with its endpoint: the job ends */
    return webhook_queue_end(db, &a->claim, 0);
  }
  if (strcmp(d->endpoint_status, "active") != 0) {
    *out = WEBHOOK_PREPARED_ABANDON;
    metrics_webhook_delivery(METRICS_WEBHOOK_ABANDONED);
    return webhook_queue_end(db, &a->claim, 1);
  }
  *out = WEBHOOK_PREPARED_SEND;
  return FN_OK;
}

void webhook_attempt_answered(webhook_attempt *a, int sent) {
  if (sent != 0) {
    snprintf(a->error, sizeof a->error, "%s", a->res.error);
    a->outcome = WEBHOOK_RETRY;
    return;
  }
  a->code = a->res.status;
  printable(a->res.excerpt);
  if (a->code >= 200 && a->code < 300) {
    a->outcome = WEBHOOK_DELIVERED;
    return;
  }
  snprintf(a->error, sizeof a->error, "answered %ld", a->code);
  a->outcome = a->code == 410 ? WEBHOOK_GONE : WEBHOOK_RETRY;
}

void webhook_attempt_record(const webhook_attempt *a, webhook_record *out) {
  *out = (webhook_record){.claim = &a->claim,
                          .outcome = a->outcome,
                          .status_code = a->code,
                          .error = a->error[0] ? a->error : NULL,
                          .excerpt = a->code ? a->res.excerpt : NULL,
                          .retry_in_ms = -1};
  if (out->outcome == WEBHOOK_RETRY && a->claim.d.failing_too_long)
    out->outcome = WEBHOOK_GONE;
  if (out->outcome == WEBHOOK_RETRY && (out->retry_in_ms = webhooks_retry_delay_ms(a->claim.d.attempts + 1)) < 0)
    out->outcome = WEBHOOK_FAILED;
}

void webhook_attempt_recorded(const webhook_record *r) {
  if (r->outcome == WEBHOOK_GONE)
    log_warn("webhook %s disabled: %s", r->claim->d.endpoint_id,
             r->status_code == 410 ? "410 Gone" : "5 days of failures");
  metrics_webhook_delivery(r->outcome == WEBHOOK_DELIVERED ? METRICS_WEBHOOK_DELIVERED
                           : r->outcome == WEBHOOK_RETRY   ? METRICS_WEBHOOK_RETRIED
                                                           : METRICS_WEBHOOK_FAILED);
}

void webhook_attempt_clear(webhook_attempt *a) {
  free(a->claim.d.payload);
  memset(a, 0, sizeof *a);
}
