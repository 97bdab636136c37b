#ifndef FORUMNET_READINESS_H
#define FORUMNET_READINESS_H

#include "forumnet/db.h"

/* What GET /readyz answers, without touching the database: a background thread checks the
 * database every READINESS_INTERVAL_MS through a pool connection it takes only when one is free
 * (it never queues behind requests; when every connection is lent, the last answer stands), and
 * /readyz reads the last result. A result older than READINESS_STALE_MS (the check itself is
 * stuck) is not ready. */
#define READINESS_INTERVAL_MS 1000
#define READINESS_STALE_MS 3000

typedef enum readiness_state {
  READINESS_READY,
  READINESS_UNREACHABLE,        /* no connection could be made, or the check failed */
  READINESS_MIGRATIONS_PENDING, /* the schema is behind this binary */
  READINESS_SETTINGS_WRONG,     /* FORUMNET_DB_POOLER=transaction: the role's settings are not as required */
  READINESS_STALE,              /* no check has finished recently */
  READINESS_DRAINING,           /* SIGTERM received: the balancer should stop sending requests here */
} readiness_state;

/* Runs a first check (so a server is ready as soon as it listens), then starts the thread.
 * 0, or -1 when the thread cannot start. */
int readiness_start(db_pool *pool);

/* Stops and joins the thread (before the pool is destroyed). Safe if it never started. */
void readiness_stop(void);

/* From now on, READINESS_DRAINING. */
void readiness_drain(void);

readiness_state readiness_now(void);

#endif
