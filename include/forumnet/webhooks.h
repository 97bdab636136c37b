#ifndef FORUMNET_WEBHOOKS_H
#define FORUMNET_WEBHOOKS_H

#include "forumnet/db.h"
#include "forumnet/jobs.h"

struct fn_req;

/* Partner webhooks (API.md section 13; README "Receiving webhooks"). */

/* webhooks_db_enqueue_event on the request's connection, inside the change's open transaction (a rolled-back
 * change sends nothing): type is event.published, event.updated, event.cancelled or
 * event.registration_counts. */
fn_status req_webhook(struct fn_req *req, const char *event_id, const char *type);

/* The job kind webhook.deliver: one attempt of the delivery its payload names, inside the claiming
 * transaction (the delivery row stays locked while the request is in flight; a crash releases both). */
fn_status webhooks_job_deliver(db_conn *db, job *j);

/* The delay before retry n (n >= 1): 5 s, 30 s, 2 min, 10 min, 1 h, 3 h, 6 h, 12 h, then 24 h; -1 once the
 * schedule has run out (after about 6 days: the endpoint is disabled after 5 days of failures first). */
long webhooks_retry_delay_ms(int attempt);

/* The configuration the delivery job uses (the key that opens secrets, the SSRF guard's allowance): called
 * by jobs_start before the job thread starts. */
void webhooks_jobs_configure(const fn_config *cfg);

#endif
