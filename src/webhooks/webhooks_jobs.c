/* The job kind webhook.deliver (include/forumnet/webhooks.h): one attempt of one delivery, signed as the
 * Standard Webhooks specification says, through the SSRF guard and the outbound module. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forumnet/log.h"
#include "forumnet/metrics.h"
#include "forumnet/outbound.h"
#include "forumnet/ssrf.h"
#include "forumnet/webhook_crypto.h"
#include "forumnet/webhooks.h"
#include "forumnet/webhooks_db.h"

#define DELIVERY_TIMEOUT_MS 10000L

static fn_config job_cfg;

void webhooks_jobs_configure(const fn_config *cfg) { job_cfg = *cfg; }

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
  if (webhook_secret_open(&job_cfg, d->secret_sealed, secret) != 0 ||
      webhook_sign(secret, d->id, ts, d->payload, len, sig) != 0)
    return -1;
  if (d->previous_sealed[0] && (webhook_secret_open(&job_cfg, d->previous_sealed, secret) != 0 ||
                                webhook_sign(secret, d->id, ts, d->payload, len, sig2) != 0))
    return -1;
  snprintf(out, size, "webhook-signature: %s%s%s", sig, sig2[0] ? " " : "", sig2);
  return 0;
}

/* One attempt: the outcome, the answer's status (0: none), why it failed and what it said. */
static webhook_outcome attempt(const webhook_delivery *d, long *code, char *error, size_t error_size,
                               outbound_response *res) {
  ssrf_target target;
  const char *reason = NULL;
  char id_h[80], ts_h[48], sig_h[160];
  long long ts = (long long)time(NULL);
  *code = 0;
  if (ssrf_check_url(d->url, job_cfg.webhook_allow_private, &target, &reason) != 0) {
    snprintf(error, error_size, "refused: the URL %s", reason);
    return WEBHOOK_RETRY; /* a DNS answer may change back; 5 days of it disable the endpoint */
  }
  if (signature_header(d, ts, sig_h, sizeof sig_h) != 0) {
    snprintf(error, error_size, "the secret does not open under this server's webhook key");
    return WEBHOOK_RETRY;
  }
  snprintf(id_h, sizeof id_h, "webhook-id: %s", d->id);
  snprintf(ts_h, sizeof ts_h, "webhook-timestamp: %lld", ts);
  const char *headers[] = {"Content-Type: application/json", id_h, ts_h, sig_h, NULL};
  outbound_request req = {.url = d->url,
                          .resolve = target.resolve,
                          .headers = headers,
                          .body = d->payload,
                          .body_len = strlen(d->payload),
                          .timeout_ms = DELIVERY_TIMEOUT_MS};
  if (outbound_post(&req, res) != 0) {
    snprintf(error, error_size, "%s", res->error);
    return WEBHOOK_RETRY;
  }
  *code = res->status;
  printable(res->excerpt);
  if (res->status >= 200 && res->status < 300)
    return WEBHOOK_DELIVERED;
  snprintf(error, error_size, "answered %ld", res->status);
  return res->status == 410 ? WEBHOOK_GONE : WEBHOOK_RETRY;
}

fn_status webhooks_job_deliver(db_conn *db, job *j) {
  json_t *payload = json_loads(j->payload, 0, NULL);
  const char *delivery_id = json_string_value(json_object_get(payload, "delivery_id"));
  webhook_delivery d;
  fn_status st = delivery_id ? webhooks_db_load_delivery(db, delivery_id, &d) : FN_OK;
  json_decref(payload);
  j->again_in_ms = -1;
  if (st != FN_OK || delivery_id == NULL || !d.found || strcmp(d.status, "pending") != 0) {
    free(delivery_id ? d.payload : NULL);
    return st; /* done already, or gone with its endpoint: the job ends */
  }
  if (strcmp(d.endpoint_status, "active") != 0) {
    st = webhooks_db_abandon(db, d.id);
    metrics_webhook_delivery(METRICS_WEBHOOK_ABANDONED);
    free(d.payload);
    return st;
  }
  outbound_response *res = calloc(1, sizeof *res);
  char error[160] = "";
  long code = 0, retry_ms = -1;
  if (res == NULL) {
    free(d.payload);
    return FN_INTERNAL;
  }
  webhook_outcome outcome = attempt(&d, &code, error, sizeof error, res);
  if (outcome == WEBHOOK_RETRY && d.failing_too_long)
    outcome = WEBHOOK_GONE;
  if (outcome == WEBHOOK_RETRY && (retry_ms = webhooks_retry_delay_ms(d.attempts + 1)) < 0)
    outcome = WEBHOOK_FAILED;
  st = webhooks_db_record(db, &d, outcome, code, error[0] ? error : NULL, code ? res->excerpt : NULL, retry_ms);
  if (outcome == WEBHOOK_RETRY)
    j->again_in_ms = retry_ms;
  if (outcome == WEBHOOK_GONE)
    log_warn("webhook %s disabled: %s", d.endpoint_id, code == 410 ? "410 Gone" : "5 days of failures");
  metrics_webhook_delivery(outcome == WEBHOOK_DELIVERED ? METRICS_WEBHOOK_DELIVERED
                           : outcome == WEBHOOK_RETRY   ? METRICS_WEBHOOK_RETRIED
                                                        : METRICS_WEBHOOK_FAILED);
  long depth = 0, oldest = 0;
  if (st == FN_OK && metrics_webhook_queue_due() && webhooks_db_queue_stats(db, &depth, &oldest) == FN_OK)
    metrics_webhook_queue(depth, oldest);
  free(res);
  free(d.payload);
  return st;
}
