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

/* The request of a loaded delivery: 0, or -1 with a->error (not sent: a retry). */
static int build_request(webhook_attempt *a) {
  const char *reason = NULL;
  long long ts = (long long)time(NULL);
  if (ssrf_check_url(a->d.url, attempt_cfg.webhook_allow_private, &a->target, &reason) != 0) {
    snprintf(a->error, sizeof a->error, "refused: the URL %s", reason);
    return -1; /* a DNS answer may change back; 5 days of it disable the endpoint */
  }
  if (signature_header(&a->d, ts, a->sig_h, sizeof a->sig_h) != 0) {
    snprintf(a->error, sizeof a->error, "the secret does not open under this server's webhook key");
    return -1;
  }
  snprintf(a->id_h, sizeof a->id_h, "webhook-id: %s", a->d.id);
  snprintf(a->ts_h, sizeof a->ts_h, "webhook-timestamp: %lld", ts);
  a->headers[0] = "Content-Type: application/json";
  a->headers[1] = a->id_h;
  a->headers[2] = a->ts_h;
  a->headers[3] = a->sig_h;
  a->headers[4] = NULL;
  a->req = (outbound_request){.url = a->d.url,
                              .resolve = a->target.resolve,
                              .connect_to = a->target.connect_to,
                              .headers = a->headers,
                              .body = a->d.payload,
                              .body_len = strlen(a->d.payload),
                              .timeout_ms = DELIVERY_TIMEOUT_MS};
  return 0;
}

fn_status webhook_attempt_prepare(db_conn *db, webhook_attempt *a, webhook_prepared *out) {
  fn_status st = FN_OK;
  a->outcome = WEBHOOK_RETRY;
  a->code = 0;
  a->error[0] = '\0';
  if (a->claim.delivery_id[0])
    st = webhooks_db_load_delivery(db, a->claim.delivery_id, &a->d);
  if (st != FN_OK)
    return st;
  if (!a->d.found || strcmp(a->d.status, "pending") != 0) {
    *out = WEBHOOK_PREPARED_END; /* done already, or gone with its endpoint: the job ends */
    return webhooks_db_end(db, &a->claim, NULL);
  }
  if (strcmp(a->d.endpoint_status, "active") != 0) {
    *out = WEBHOOK_PREPARED_ABANDON;
    metrics_webhook_delivery(METRICS_WEBHOOK_ABANDONED);
    return webhooks_db_end(db, &a->claim, a->d.id);
  }
  *out = build_request(a) == 0 ? WEBHOOK_PREPARED_SEND : WEBHOOK_PREPARED_SETTLE;
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

fn_status webhook_attempt_settle(db_conn *db, webhook_attempt *a) {
  long retry_ms = -1;
  webhook_outcome outcome = a->outcome;
  if (outcome == WEBHOOK_RETRY && a->d.failing_too_long)
    outcome = WEBHOOK_GONE;
  if (outcome == WEBHOOK_RETRY && (retry_ms = webhooks_retry_delay_ms(a->d.attempts + 1)) < 0)
    outcome = WEBHOOK_FAILED;
  fn_status st = webhooks_db_record(db, &a->claim, &a->d, outcome, a->code, a->error[0] ? a->error : NULL,
                                    a->code ? a->res.excerpt : NULL, retry_ms);
  if (st != FN_OK)
    return st;
  if (outcome == WEBHOOK_GONE)
    log_warn("webhook %s disabled: %s", a->d.endpoint_id, a->code == 410 ? "410 Gone" : "5 days of failures");
  metrics_webhook_delivery(outcome == WEBHOOK_DELIVERED ? METRICS_WEBHOOK_DELIVERED
                           : outcome == WEBHOOK_RETRY   ? METRICS_WEBHOOK_RETRIED
                                                        : METRICS_WEBHOOK_FAILED);
  return FN_OK;
}

void webhook_attempt_clear(webhook_attempt *a) {
  free(a->d.payload);
  memset(a, 0, sizeof *a);
}
