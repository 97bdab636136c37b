#define _GNU_SOURCE /* accept4 */
#include "forumnet/acceptor.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "forumnet/log.h"

/* How long the thread pauses after an error of the process (no descriptor left): the listening socket stays
 * readable meanwhile, so polling it would spin. */
#define PAUSE_MS 100

typedef struct worker {
  struct acceptor *acceptor;
  struct MHD_Daemon *daemon;
  atomic_int requests;    /* in flight */
  atomic_int connections; /* handed to it and not yet closed */
} worker;

struct acceptor {
  int listen_fd;
  int wake_fd; /* an eventfd: "look again" (a place freed, or the stop) */
  atomic_bool stopping;
  pthread_t thread;
  int started;
  int max_connections;
  /* Connections handed to the workers and not yet closed. libmicrohttpd's own count cannot serve: a connection
   * added from this thread is counted only once its worker takes it from its queue, so a burst of clients would
   * overshoot the cap. */
  atomic_int open_connections;
  unsigned last_choice; /* of least_busy: the scan starts after it, so that equals take turns */
  time_t last_warned;   /* of accept_waiting: one warning a second at most */
  unsigned worker_count;
  worker workers[];
};

acceptor *acceptor_listen(const struct sockaddr *addr, socklen_t addr_len, unsigned max_connections, unsigned workers) {
  acceptor *a = calloc(1, sizeof *a + workers * sizeof(worker));
  if (a == NULL)
    return NULL;
  a->max_connections = (int)max_connections;
  a->worker_count = workers;
  for (unsigned i = 0; i < workers; i++)
    a->workers[i].acceptor = a;
  a->wake_fd = -1;
  a->listen_fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int on = 1;
  if (a->listen_fd < 0 || setsockopt(a->listen_fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
      setsockopt(a->listen_fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0 ||
      (addr->sa_family == AF_INET6 && setsockopt(a->listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0) ||
      bind(a->listen_fd, addr, addr_len) != 0 || listen(a->listen_fd, SOMAXCONN) != 0 ||
      (a->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
    int saved = errno;
    acceptor_free(a);
    errno = saved;
    return NULL;
  }
  return a;
}

static void wake(acceptor *a) {
  uint64_t one = 1;
  while (write(a->wake_fd, &one, sizeof one) < 0 && errno == EINTR)
    ;
}

void *acceptor_worker(acceptor *a, unsigned i) { return &a->workers[i]; }

void acceptor_notify_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                                enum MHD_ConnectionNotificationCode code) {
  (void)connection, (void)socket_context;
  worker *w = cls;
  if (code != MHD_CONNECTION_NOTIFY_CLOSED)
    return;
  atomic_fetch_sub(&w->connections, 1);
  /* Wakes the thread only when it waits for a place. */
  if (atomic_fetch_sub(&w->acceptor->open_connections, 1) == w->acceptor->max_connections)
    wake(w->acceptor);
}

void acceptor_request_started(void *cls) { atomic_fetch_add(&((worker *)cls)->requests, 1); }
void acceptor_request_ended(void *cls) { atomic_fetch_sub(&((worker *)cls)->requests, 1); }

/* The worker with the fewest requests in flight, then the fewest connections. On the accepting thread. */
static worker *least_busy(acceptor *a) {
  unsigned best = 0;
  long best_load = -1;
  for (unsigned k = 1; k <= a->worker_count; k++) {
    unsigned i = (a->last_choice + k) % a->worker_count;
    worker *w = &a->workers[i];
    long load = (long)atomic_load(&w->requests) * (a->max_connections + 1L) + atomic_load(&w->connections);
    if (best_load < 0 || load < best_load) {
      best = i;
      best_load = load;
    }
  }
  a->last_choice = best;
  return &a->workers[best];
}

/* accept(2)'s errors that concern only the connection being accepted (it went away, or the network did):
 * the next one may be fine. */
static int connection_error(int err) {
  return err == EINTR || err == ECONNABORTED || err == EPROTO || err == ENETDOWN || err == ENOPROTOOPT ||
         err == EHOSTDOWN || err == ENONET || err == EHOSTUNREACH || err == EOPNOTSUPP || err == ENETUNREACH;
}

/* Accepts up to room of the connections waiting. 1 if accepting should pause (an error of the process, such
 * as no descriptor left), else 0. */
static int accept_waiting(acceptor *a, unsigned room) {
  while (room-- > 0) {
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    int fd = accept4(a->listen_fd, (struct sockaddr *)&peer, &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
      if (connection_error(errno))
        continue;
      time_t now = time(NULL);
      if (now != a->last_warned) { /* the error repeats while its cause lasts */
        a->last_warned = now;
        log_warn("http: cannot accept a connection: %s", strerror(errno));
      }
      return 1;
    }
    worker *w = least_busy(a);
    atomic_fetch_add(&a->open_connections, 1);
    atomic_fetch_add(&w->connections, 1);
    /* On failure libmicrohttpd closes the socket and logs why (through the server's logger). */
    if (MHD_add_connection(w->daemon, fd, (const struct sockaddr *)&peer, peer_len) != MHD_YES) {
      atomic_fetch_sub(&w->connections, 1);
      atomic_fetch_sub(&a->open_connections, 1);
    }
  }
  return 0;
}

static void *accept_loop(void *arg) {
  acceptor *a = arg;
  for (;;) {
    int open = atomic_load(&a->open_connections);
    unsigned room = open < a->max_connections ? (unsigned)(a->max_connections - open) : 0;
    /* Full: only the wake-up is watched, and the clients wait in the backlog. */
    struct pollfd fds[2] = {{.fd = a->wake_fd, .events = POLLIN}, {.fd = room ? a->listen_fd : -1, .events = POLLIN}};
    if (poll(fds, 2, -1) < 0) {
      if (errno != EINTR) {
        log_error("http: the accepting thread cannot poll: %s", strerror(errno));
        poll(NULL, 0, PAUSE_MS);
      }
      continue;
    }
    if (fds[0].revents) {
      uint64_t count;
      (void)!read(a->wake_fd, &count, sizeof count);
      if (atomic_load(&a->stopping))
        return NULL;
    }
    if ((fds[1].revents & POLLIN) && accept_waiting(a, room))
      poll(NULL, 0, PAUSE_MS);
  }
}

int acceptor_start(acceptor *a, struct MHD_Daemon *const *daemons) {
  for (unsigned i = 0; i < a->worker_count; i++)
    a->workers[i].daemon = daemons[i];
  if (pthread_create(&a->thread, NULL, accept_loop, a) != 0)
    return -1;
  a->started = 1;
  return 0;
}

void acceptor_stop(acceptor *a) {
  if (a == NULL)
    return;
  if (a->started) {
    atomic_store(&a->stopping, true);
    wake(a);
    pthread_join(a->thread, NULL);
    a->started = 0;
  }
  /* Closing the last descriptor of a listening socket resets the connections in its backlog, which nobody
   * would accept now, and the kernel refuses new ones at once. */
  if (a->listen_fd >= 0)
    close(a->listen_fd);
  a->listen_fd = -1;
}

void acceptor_free(acceptor *a) {
  if (a == NULL)
    return;
  acceptor_stop(a);
  if (a->wake_fd >= 0)
    close(a->wake_fd);
  free(a);
}
