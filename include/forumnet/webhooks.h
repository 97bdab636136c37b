#ifndef FORUMNET_WEBHOOKS_H
#define FORUMNET_WEBHOOKS_H

#include "forumnet/db.h"

struct fn_req;

/* Partner webhooks (API.md section 13; README "Receiving webhooks"). */

/* webhooks_db_enqueue_event on the request's connection, inside the change's open transaction (a rolled-back
 * change sends nothing): type is event.published, event.updated, event.cancelled or
 * event.registration_counts. */
fn_status req_webhook(struct fn_req *req, const char *event_id, const char *type);

/* The webhook dispatcher (src/webhooks/dispatcher.c): a thread that claims due deliveries (the jobs of kind
 * webhook.deliver, FOR UPDATE SKIP LOCKED, leased) and sends up to cfg->webhook_concurrency at once, at most
 * cfg->webhook_endpoint_concurrency to one endpoint. Started and stopped with the job runner (jobs.h). 0, or
 * -1 when the thread cannot start. */
int webhooks_dispatcher_start(db_pool *pool, const fn_config *cfg);
/* Stops claiming, waits for the requests in flight (10 s at most), records them, and joins the thread. */
void webhooks_dispatcher_stop(void);

/* The delay before retry n (n >= 1): 5 s, 30 s, 2 min, 10 min, 1 h, 3 h, 6 h, 12 h, then 24 h; -1 once the
 * schedule has run out (after about 6 days: the endpoint is disabled after 5 days of failures first). */
long webhooks_retry_delay_ms(int attempt);

#endif
