/* Live streams (include/forumnet/stream.h). */
#define _GNU_SOURCE /* dup3, EPOLLRDHUP */
#include "forumnet/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <ulfius.h>
#include <unistd.h>

#include "forumnet/auth_db.h"
#include "forumnet/listener.h"
#include "forumnet/log.h"
#include "forumnet/strbuf.h"

#define CHANNEL_NOTIFICATIONS "forumnet_notifications"
#define CHANNEL_MEMBERS "forumnet_members"
/* Rows written per read; a longer backlog continues on the loop's next pass. */
#define BATCH_ROWS 500
/* After a failed read (database away) a stream tries again this much later. */
#define RETRY_MS 1000
/* The loop looks at every stream this often (heartbeats, token expiry, retries). */
#define TICK_MS 100
/* libmicrohttpd reads the stream once, to hand it over: a small block. */
#define HANDOFF_BLOCK_BYTES 256

typedef struct stream {
  struct stream *prev, *next;
  int fd;      /* ours after the hand-off; -1 before */
  int chunked; /* HTTP/1.1: libmicrohttpd announced chunked transfer coding, so every write is a chunk */
  stream_grant grant;
  long last_seq;
  long long heartbeat_due_ms; /* monotonic */
  long long retry_at_ms;      /* monotonic: a failed read is tried again no sooner */
  int wake;                   /* rows (or a status change) may be waiting; set under the lock */
  int ending;                 /* write what is buffered, then end; set under the lock */
  int client_left;            /* the client hung up: close without a last chunk */
  int watching_out;           /* EPOLLOUT is asked for: the socket was full */
  strbuf out;                 /* bytes not yet sent (released when empty, so an idle stream holds none) */
  size_t out_pos;
} stream;

/* What libmicrohttpd's response holds: the stream until it is handed over. */
typedef struct handoff {
  struct MHD_Connection *connection;
  stream *s; /* NULL once handed over (the loop owns it then) */
} handoff;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static stream *streams;         /* handed over and served by the loop; under the lock */
static atomic_int stream_count; /* held on this instance, handed over or not: at most FORUMNET_MAX_CONNECTIONS */
static atomic_int stopping;
static fn_app *stream_app;
static int can_suspend;
static listener *the_listener;
static int loop_epoll = -1; /* the streams' sockets (hang-ups, room to write) and wake_fd */
static int wake_fd = -1;    /* an eventfd: "look at the streams now" */
static pthread_t loop_thread;
static int loop_running;
static int loop_done; /* the loop has ended (stopping, and no stream left): a stream handed over now is closed */
/* Set on the libmicrohttpd worker that just handed a stream over: its next log line is the "application error"
 * with which it closes its side, which is not one. */
static __thread int handed_over_here;

static long long monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wake_loop(void) {
  uint64_t one = 1;
  if (wake_fd >= 0 && write(wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
    log_warn("stream: cannot wake the streams' loop: %s", strerror(errno));
}

static void wake_where(const char *member_id) {
  pthread_mutex_lock(&lock);
  for (stream *s = streams; s; s = s->next)
    if (member_id == NULL || strcmp(s->grant.member_id, member_id) == 0) {
      s->wake = 1;
      s->retry_at_ms = 0;
    }
  pthread_mutex_unlock(&lock);
  wake_loop();
}

static void on_notify(const char *channel, const char *payload) {
  (void)channel; /* both channels carry a member id: new rows, or a status to re-check */
  wake_where(payload);
}

static void on_reconnect(void) { wake_where(NULL); }

/* The loop keeps its own time. */
static void on_tick(void) {}

/* Appends bytes to the stream's output, as one chunk when the response is chunked. */
static void stream_write(stream *s, const char *data, size_t n) {
  if (n == 0)
    return;
  if (s->chunked)
    strbuf_printf(&s->out, "%zx\r\n", n);
  strbuf_append(&s->out, data, n);
  if (s->chunked)
    strbuf_puts(&s->out, "\r\n");
}

/* The rows after s->last_seq into s->out, if the token is still the member's; on the loop, not under the lock.
 * 0 when the database failed. */
static int read_rows(stream *s, int *token_valid, int *more) {
  db_conn *db = NULL;
  token_subject subject = {0};
  PGresult *res = NULL;
  *more = 0;
  if (db_pool_acquire(stream_app->pool, &db) != FN_OK)
    return 0;
  fn_status st = auth_db_token_subject(db, 0, s->grant.member_id, s->grant.token_iat_ms, &subject);
  *token_valid = st == FN_OK && subject.valid;
  if (st == FN_OK && *token_valid)
    st = stream_db_events(db, s->grant.member_id, s->last_seq, BATCH_ROWS, &res);
  db_pool_release(stream_app->pool, db);
  if (st != FN_OK)
    return 0;
  int rows = res ? PQntuples(res) : 0;
  strbuf events = STRBUF_INIT;
  for (int i = 0; i < rows; i++) {
    /* The kind and the JSON hold no line break (JSON escapes them), so each is one field line. */
    strbuf_printf(&events, "id: %s\nevent: %s\ndata: %s\n\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                  PQgetvalue(res, i, 2));
    s->last_seq = db_value_long(res, i, 0);
  }
  if (events.failed)
    strbuf_fail(&s->out);
  stream_write(s, events.data, events.len);
  strbuf_free(&events);
  *more = rows == BATCH_ROWS;
  PQclear(res);
  return 1;
}

/* On the loop: sends what is buffered. 0 when the client is gone. */
static int flush(stream *s) {
  while (s->out_pos < s->out.len) {
    ssize_t n = send(s->fd, s->out.data + s->out_pos, s->out.len - s->out_pos, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!s->watching_out) {
        s->watching_out = 1;
        epoll_ctl(loop_epoll, EPOLL_CTL_MOD, s->fd,
                  &(struct epoll_event){.events = EPOLLRDHUP | EPOLLOUT, .data.ptr = s});
      }
      return 1;
    }
    if (n <= 0)
      return 0;
    s->out_pos += (size_t)n;
  }
  strbuf_free(&s->out); /* an idle stream keeps no buffer */
  s->out_pos = 0;
  if (s->watching_out) {
    s->watching_out = 0;
    epoll_ctl(loop_epoll, EPOLL_CTL_MOD, s->fd, &(struct epoll_event){.events = EPOLLRDHUP, .data.ptr = s});
  }
  return 1;
}

/* On the loop, under the lock. */
static void stream_close(stream *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    streams = s->next;
  if (s->next)
    s->next->prev = s->prev;
  epoll_ctl(loop_epoll, EPOLL_CTL_DEL, s->fd, NULL);
  close(s->fd);
  strbuf_free(&s->out);
  free(s);
  atomic_fetch_sub(&stream_count, 1);
}

/* On the loop, under the lock (released around the database read): what is due for s. 0 when s ended (and is
 * freed). */
static int serve(stream *s, long long now_ms, time_t now) {
  if (s->client_left || s->out.failed) { /* out of memory: end rather than skip rows */
    stream_close(s);
    return 0;
  }
  if (s->ending || now >= s->grant.token_exp) {
    if (s->chunked)
      strbuf_append(&s->out, "0\r\n\r\n", 5);
    flush(s); /* once: a client that reads nothing does not hold the end */
    stream_close(s);
    return 0;
  }
  if (s->out_pos < s->out.len) /* the socket was full: the rest first, then more */
    return flush(s) ? 1 : (stream_close(s), 0);
  if (s->wake && now_ms >= s->retry_at_ms) {
    s->wake = 0;
    pthread_mutex_unlock(&lock);
    int valid = 1, more = 0;
    int ok = read_rows(s, &valid, &more);
    pthread_mutex_lock(&lock);
    if (!ok) {
      s->wake = 1;
      s->retry_at_ms = now_ms + RETRY_MS;
    } else if (!valid) {
      s->ending = 1;
      return serve(s, now_ms, now);
    } else if (more) {
      s->wake = 1;
    }
  }
  if (now_ms >= s->heartbeat_due_ms) {
    static const char keepalive[] = ": keepalive\n\n";
    stream_write(s, keepalive, sizeof keepalive - 1);
    s->heartbeat_due_ms = now_ms + stream_app->cfg.stream_heartbeat_ms;
  }
  if (s->out.failed || !flush(s)) {
    stream_close(s);
    return 0;
  }
  return 1;
}

/* The streams' thread: one epoll set of their sockets; every wake-up (a notification, a hang-up, room to write)
 * and every TICK_MS, one pass over the streams serves what is due. An idle stream costs a socket and this
 * struct: no libmicrohttpd connection, no thread. */
static void *stream_loop(void *arg) {
  (void)arg;
  struct epoll_event events[256];
  int timeout_ms = TICK_MS;
  for (;;) {
    int n = epoll_wait(loop_epoll, events, 256, timeout_ms);
    pthread_mutex_lock(&lock);
    for (int i = 0; i < n; i++) {
      stream *s = events[i].data.ptr;
      if (s == NULL) {
        uint64_t count;
        if (read(wake_fd, &count, sizeof count) < 0 && errno != EAGAIN)
          log_warn("stream: reading the wake-up: %s", strerror(errno));
      } else if (events[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        s->client_left = 1;
      }
    }
    long long now_ms = monotonic_ms();
    time_t now = time(NULL);
    /* serve may unlock around a read; meanwhile streams are only added at the head, and only this thread
     * removes any, so s->next read before serving s stays valid. */
    timeout_ms = TICK_MS;
    for (stream *s = streams, *next; s; s = next) {
      next = s->next;
      if (atomic_load(&stopping))
        s->ending = 1;
      if (serve(s, now_ms, now) && s->wake && s->retry_at_ms <= now_ms && s->out_pos == s->out.len)
        timeout_ms = 0; /* a long backlog: its next rows at once, not at the next tick */
    }
    int done = loop_done = atomic_load(&stopping) && streams == NULL;
    pthread_mutex_unlock(&lock);
    if (done)
      return NULL;
  }
}

/* Takes the connection's socket from libmicrohttpd, on its worker, right after it sent the response's headers.
 * The connection is suspended first (which takes its socket out of the worker's epoll set), the socket
 * duplicated for the loop, and the connection's descriptor number pointed at a fresh unconnected socket, so
 * whatever libmicrohttpd does with it from then on (it closes it: END_WITH_ERROR, no last chunk) it does to that
 * one and never to the client's.
 * libmicrohttpd then frees the connection and its 128 KiB memory pool. 0 when it could not. */
static int take_socket(handoff *h, int *fd_out) {
  const union MHD_ConnectionInfo *info = MHD_get_connection_info(h->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (info == NULL)
    return 0;
  int fd = info->connect_fd;
  int ours = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (ours < 0)
    return 0;
  int dummy = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (dummy < 0) {
    close(ours);
    return 0;
  }
  MHD_suspend_connection(h->connection);
  if (dup3(dummy, fd, O_CLOEXEC) < 0) {
    /* Not expected; the connection keeps its socket and ends as a failed response. */
    MHD_resume_connection(h->connection);
    close(dummy);
    close(ours);
    return 0;
  }
  close(dummy);
  /* Resumed at once: the close that follows is carried out when libmicrohttpd next looks at the connection,
   * which it never does while it is suspended (and it refuses to stop with one suspended). */
  MHD_resume_connection(h->connection);
  /* libmicrohttpd may have corked the headers for the body it expected: send them now, and every event as
   * it comes. Not a TCP socket (a test's): nothing to do. */
  setsockopt(ours, IPPROTO_TCP, TCP_CORK, &(int){0}, sizeof(int));
  setsockopt(ours, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
  *fd_out = ours;
  return 1;
}

/* libmicrohttpd's content reader: called once, after the headers went out; hands the stream to the loop. */
static ssize_t handoff_read(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)pos, (void)buf, (void)max;
  handoff *h = cls;
  stream *s = h->s;
  int fd;
  if (s == NULL || atomic_load(&stopping) || !take_socket(h, &fd))
    return MHD_CONTENT_READER_END_OF_STREAM; /* an empty stream: the client reconnects */
  s->fd = fd;
  pthread_mutex_lock(&lock);
  if (loop_done) { /* stopped meanwhile: handoff_free forgets the stream */
    pthread_mutex_unlock(&lock);
    close(fd);
    handed_over_here = 1;
    return MHD_CONTENT_READER_END_WITH_ERROR;
  }
  h->s = NULL;
  s->next = streams;
  if (streams)
    streams->prev = s;
  streams = s;
  epoll_ctl(loop_epoll, EPOLL_CTL_ADD, fd, &(struct epoll_event){.events = EPOLLRDHUP, .data.ptr = s});
  pthread_mutex_unlock(&lock);
  wake_loop();
  handed_over_here = 1;
  return MHD_CONTENT_READER_END_WITH_ERROR;
}

int stream_quiet_log(void) {
  int was = handed_over_here;
  handed_over_here = 0;
  return was;
}

/* libmicrohttpd is done with the response: the stream too, unless the loop has it. */
static void handoff_free(void *cls) {
  handoff *h = cls;
  if (h->s) {
    strbuf_free(&h->s->out);
    free(h->s);
    atomic_fetch_sub(&stream_count, 1);
  }
  free(h);
}

fn_status stream_reply(fn_req *req, struct MHD_Connection *connection, const stream_grant *grant, long after) {
  if (!can_suspend || connection == NULL)
    return req_problem(req, FN_UNAVAILABLE, "Live streams need FORUMNET_HTTP_THREADS above 0 on this server.");
  if (atomic_fetch_add(&stream_count, 1) >= (int)req->app->cfg.max_connections) {
    atomic_fetch_sub(&stream_count, 1);
    return req_problem(req, FN_UNAVAILABLE, "This server holds as many live streams as it can: try again later.");
  }
  stream *s = calloc(1, sizeof *s);
  handoff *h = calloc(1, sizeof *h);
  if (s == NULL || h == NULL) {
    free(s);
    free(h);
    atomic_fetch_sub(&stream_count, 1);
    return FN_INTERNAL;
  }
  const char *protocol = req->u->http_protocol ? req->u->http_protocol : "";
  s->chunked = strcmp(protocol, "HTTP/1.0") != 0; /* libmicrohttpd chunks an unknown length from HTTP/1.1 on */
  s->fd = -1;
  s->grant = *grant;
  s->last_seq = after;
  s->wake = 1; /* the replay, and the token's first check */
  s->heartbeat_due_ms = monotonic_ms() + req->app->cfg.stream_heartbeat_ms;
  /* The first bytes, sent at once, so the client knows the stream is open. */
  static const char retry[] = "retry: 2000\n\n";
  stream_write(s, retry, sizeof retry - 1);
  h->connection = connection;
  h->s = s;
  if (ulfius_set_stream_response(req->res, 200, handoff_read, handoff_free, U_STREAM_SIZE_UNKNOWN, HANDOFF_BLOCK_BYTES,
                                 h) != U_OK) {
    handoff_free(h);
    return FN_INTERNAL;
  }
  reply_header(req, "Content-Type", "text/event-stream; charset=utf-8");
  reply_header(req, "X-Accel-Buffering", "no"); /* nginx: pass events on as they come */
  req->status = 200;
  return FN_OK;
}

int stream_start(fn_app *app, int suspendable) {
  static const char *const channels[] = {CHANNEL_NOTIFICATIONS, CHANNEL_MEMBERS, NULL};
  static const listener_callbacks callbacks = {on_notify, on_reconnect, on_tick, TICK_MS};
  stream_app = app;
  can_suspend = suspendable;
  atomic_store(&stopping, 0);
  loop_done = 0;
  if (!suspendable)
    return 0; /* no stream will be served: no loop, no LISTEN session either */
  loop_epoll = epoll_create1(EPOLL_CLOEXEC);
  wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (loop_epoll < 0 || wake_fd < 0 ||
      epoll_ctl(loop_epoll, EPOLL_CTL_ADD, wake_fd, &(struct epoll_event){.events = EPOLLIN, .data.ptr = NULL}) != 0)
    return -1;
  if (pthread_create(&loop_thread, NULL, stream_loop, NULL) != 0)
    return -1;
  loop_running = 1;
  the_listener = listener_start(&app->cfg, channels, &callbacks);
  return the_listener ? 0 : -1;
}

void stream_stop(unsigned wait_ms) {
  atomic_store(&stopping, 1);
  wake_loop();
  for (unsigned waited_ms = 0; atomic_load(&stream_count) > 0 && waited_ms < wait_ms; waited_ms += 20)
    nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = 20 * 1000000L}, NULL);
  if (loop_running) {
    wake_loop();
    pthread_join(loop_thread, NULL); /* it ends every stream it holds, then returns */
    loop_running = 0;
  }
  listener_stop(the_listener);
  the_listener = NULL;
  if (wake_fd >= 0)
    close(wake_fd);
  if (loop_epoll >= 0)
    close(loop_epoll);
  wake_fd = loop_epoll = -1;
}
