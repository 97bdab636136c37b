#ifndef FORUMNET_LISTENER_H
#define FORUMNET_LISTENER_H

#include "forumnet/config.h"

/* One dedicated PostgreSQL session per instance that LISTENs on a few channels, in a thread of its own
 * (src/db/listener.c). It connects to FORUMNET_DATABASE_DIRECT_URL when set (LISTEN needs a session of
 * its own, which a transaction-mode pooler does not give), else FORUMNET_DATABASE_URL; when the session
 * is lost it reconnects with a growing backoff (100 ms to 5 s). It calls on_reconnect each time it has
 * started listening, the first time included, since a notification may have been missed before. on_tick runs about
 * every tick_ms whatever the database does. Every callback runs on the listener's thread. */
typedef struct listener_callbacks {
  void (*on_notify)(const char *channel, const char *payload);
  void (*on_reconnect)(void);
  void (*on_tick)(void);
  unsigned tick_ms;
} listener_callbacks;

typedef struct listener listener;

/* channels: NULL-terminated list of channel names (plain identifiers). NULL when the thread cannot start. */
listener *listener_start(const fn_config *cfg, const char *const *channels, const listener_callbacks *cb);
/* Stops the thread and closes the session. */
void listener_stop(listener *l);

#endif
