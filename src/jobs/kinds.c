/* The kinds of background job and their handlers: one row per kind (issue 16's email adds its own here).
 * Webhook deliveries (kind webhook.deliver) are jobs too, but the webhook dispatcher claims them, many at
 * once (src/webhooks/dispatcher.c), rather than this runner one by one. */
#include <string.h>

#include "forumnet/jobs.h"
#include "forumnet/mail_db.h"
#include "forumnet/notifications_jobs.h"

const job_kind job_kinds[] = {
    {"consultation.closing_soon_scan", notifications_jobs_closing_soon, 1},
    {"retention.purge", notifications_jobs_retention, 1},
    {"mail.send", mail_jobs_send, 0},
};
const size_t job_kind_count = sizeof job_kinds / sizeof job_kinds[0];

const job_kind *jobs_kind_find(const job_kind *kinds, size_t count, const char *kind) {
  for (size_t i = 0; i < count; i++)
    if (strcmp(kinds[i].kind, kind) == 0)
      return &kinds[i];
  return NULL;
}
