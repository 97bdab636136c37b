/* The instance's one LISTEN session (include/forumnet/listener.h). */
#include "forumnet/listener.h"

#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forumnet/db.h"
#include "forumnet/log.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
#define MAX_CHANNELS 4

struct listener {
  fn_config cfg;
  const char *channels[MAX_CHANNELS + 1];
  listener_callbacks cb;
  pthread_t thread;
  atomic_int stop;
};

static long long monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connects and LISTENs on every channel; NULL on failure (logged). */
static PGconn *listen_session(listener *l) {
  PGconn *pg = NULL;
  if (db_connect(&l->cfg, &pg) != FN_OK)
    return NULL;
  for (int i = 0; l->channels[i]; i++) {
    char sql[96];
    snprintf(sql, sizeof sql, "LISTEN %s", l->channels[i]);
    PGresult *res = PQexec(pg, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok) {
      log_error("listener: LISTEN %s failed: %s", l->channels[i], PQerrorMessage(pg));
      PQfinish(pg);
      return NULL;
    }
  }
  return pg;
}

/* Waits up to ms for the session's socket (pg may be NULL: only waits), calling on_tick as it goes. */
static int wait_readable(listener *l, PGconn *pg, unsigned ms) {
  struct pollfd pfd = {.fd = pg ? PQsocket(pg) : -1, .events = POLLIN};
  int ready = poll(&pfd, pg ? 1 : 0, (int)ms);
  l->cb.on_tick();
  return ready > 0 ? (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) ? -1 : 1 : ready;
}

/* Reads what arrived and hands each notification over; 0 when the session is lost. */
static int drain_notifications(listener *l, PGconn *pg) {
  if (!PQconsumeInput(pg))
    return 0;
  PGnotify *n;
  while ((n = PQnotifies(pg)) != NULL) {
    l->cb.on_notify(n->relname, n->extra);
    PQfreemem(n);
    PQconsumeInput(pg);
  }
  return PQstatus(pg) == CONNECTION_OK;
}

static void *listener_main(void *arg) {
  listener *l = arg;
  unsigned backoff_ms = BACKOFF_FIRST_MS;
  int connected_before = 0;
  while (!atomic_load(&l->stop)) {
    PGconn *pg = listen_session(l);
    if (pg == NULL) {
      /* Keep ticking (heartbeats, expiries) while the database is away. */
      for (long long until = monotonic_ms() + backoff_ms; !atomic_load(&l->stop) && monotonic_ms() < until;)
        wait_readable(l, NULL, l->cb.tick_ms);
      backoff_ms = backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff_ms * 2;
      continue;
    }
    backoff_ms = BACKOFF_FIRST_MS;
    /* The first time too: the server answers streams as soon as it listens for HTTP, so a stream may have
     * opened (and read its backlog) before this session listened, and a notification in between was missed. */
    if (connected_before)
      log_info("listener: listening again; waking every stream");
    l->cb.on_reconnect();
    connected_before = 1;
    while (!atomic_load(&l->stop)) {
      int ready = wait_readable(l, pg, l->cb.tick_ms);
      if (ready < 0 || (ready > 0 && !drain_notifications(l, pg))) {
        log_warn("listener: the LISTEN session was lost: %s", PQerrorMessage(pg));
        break;
      }
    }
    PQfinish(pg);
  }
  return NULL;
}

listener *listener_start(const fn_config *cfg, const char *const *channels, const listener_callbacks *cb) {
  listener *l = calloc(1, sizeof *l);
  if (l == NULL)
    return NULL;
  l->cfg = *cfg;
  config_use_direct_database(&l->cfg);
  for (int i = 0; i < MAX_CHANNELS && channels[i]; i++)
    l->channels[i] = channels[i];
  l->cb = *cb;
  if (cfg->database_direct_url[0] == '\0' && cfg->db_pooler == DB_POOLER_TRANSACTION)
    log_warn("listener: FORUMNET_DB_POOLER=transaction without FORUMNET_DATABASE_DIRECT_URL: LISTEN through "
             "a transaction-mode pooler receives nothing; live streams then see only heartbeats and reconnects");
  if (pthread_create(&l->thread, NULL, listener_main, l) != 0) {
    free(l);
    return NULL;
  }
  return l;
}

void listener_stop(listener *l) {
  if (l == NULL)
    return;
  atomic_store(&l->stop, 1);
  pthread_join(l->thread, NULL);
  free(l);
}
