/* Live streams (include/forumnet/stream.h). */
#define _GNU_SOURCE /* POLLRDHUP */
#include "forumnet/stream.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <ulfius.h>
#include <unistd.h>

#include "forumnet/auth_db.h"
#include "forumnet/listener.h"
#include "forumnet/log.h"
#include "forumnet/strbuf.h"

#define CHANNEL_NOTIFICATIONS "forumnet_notifications"
#define CHANNEL_MEMBERS "forumnet_members"
/* Rows written per read; a longer backlog continues at once on the next call of the reader. */
#define BATCH_ROWS 500
/* After a failed read (database away) a stream tries again this much later. */
#define RETRY_MS 1000
#define TICK_MS 100
/* MHD allocates this much per stream for the reader's output (and keeps it while the stream is idle): an event
 * is a few hundred bytes and a replay is read block by block, so 2 KiB. 16 KiB cost 8 KiB more resident memory
 * per idle stream (tests/bench/streams.sh, 2 000 streams: 81.3 KiB each, 73.8 with 2 KiB). */
#define STREAM_BLOCK_BYTES (2 * 1024)

typedef struct stream {
  struct stream *next;
  struct MHD_Connection *connection;
  int fd; /* the connection's socket, watched for the client leaving while suspended */
  stream_grant grant;
  long last_seq;
  long long heartbeat_due_ms; /* monotonic */
  long long retry_at_ms;      /* monotonic: a failed read is tried again no sooner */
  int wake;                   /* rows (or a status change) may be waiting */
  int suspended;              /* suspended by the reader; only a waker resumes it, under the lock */
  int ending;                 /* write what is buffered, then end */
  int client_left;            /* the client hung up: close without a last chunk */
  strbuf out;                 /* bytes not yet handed to MHD */
  size_t out_pos;
} stream;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static stream *streams;
static fn_app *stream_app;
static int can_suspend;
static listener *the_listener;
/* The suspended streams' sockets, watched for the client hanging up (end_streams_left); -1 when not open. */
static int hangup_epoll = -1;

static long long monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Under the lock. While suspended, the socket is in hangup_epoll (its descriptor stays open until MHD has the
 * connection back, so it cannot be reused meanwhile). */
static void suspend(stream *s) {
  s->suspended = 1;
  MHD_suspend_connection(s->connection);
  if (hangup_epoll >= 0 && s->fd >= 0)
    epoll_ctl(hangup_epoll, EPOLL_CTL_ADD, s->fd, &(struct epoll_event){.events = EPOLLRDHUP, .data.ptr = s});
}

/* Under the lock. */
static void resume(stream *s) {
  if (s->suspended) {
    s->suspended = 0;
    if (hangup_epoll >= 0 && s->fd >= 0)
      epoll_ctl(hangup_epoll, EPOLL_CTL_DEL, s->fd, NULL);
    MHD_resume_connection(s->connection);
  }
}

/* Under the lock: wakes s when its turn came (heartbeat, token expiry, a retry). */
static void resume_if_due(stream *s, long long now_ms, time_t now) {
  if (now_ms >= s->heartbeat_due_ms || now >= s->grant.token_exp || (s->wake && now_ms >= s->retry_at_ms))
    resume(s);
}

static void wake_where(const char *member_id) {
  pthread_mutex_lock(&lock);
  for (stream *s = streams; s; s = s->next)
    if (member_id == NULL || strcmp(s->grant.member_id, member_id) == 0) {
      s->wake = 1;
      s->retry_at_ms = 0;
      resume(s);
    }
  pthread_mutex_unlock(&lock);
}

static void on_notify(const char *channel, const char *payload) {
  (void)channel; /* both channels carry a member id: new rows, or a status to re-check */
  wake_where(payload);
}

static void on_reconnect(void) { wake_where(NULL); }

/* MHD does not watch a suspended connection, so a client that left would hold its connection (and a place
 * under FORUMNET_MAX_CONNECTIONS) until the next heartbeat: the tick asks hangup_epoll, which holds the suspended
 * streams' sockets, for those whose client hung up (a wait of 0), and ends them. Only the hung-up sockets come
 * back: 10 000 idle streams cost the tick nothing (a poll of every socket did, under the lock). Under the lock. */
static void end_streams_left(void) {
  struct epoll_event events[256];
  int n;
  do {
    n = hangup_epoll >= 0 ? epoll_wait(hangup_epoll, events, 256, 0) : 0;
    for (int i = 0; i < n; i++) {
      stream *s = events[i].data.ptr;
      s->client_left = 1;
      resume(s); /* also takes it out of the set, so the next epoll_wait moves on */
    }
  } while (n == 256);
}

static void on_tick(void) {
  long long now_ms = monotonic_ms();
  time_t now = time(NULL);
  pthread_mutex_lock(&lock);
  end_streams_left();
  for (stream *s = streams; s; s = s->next)
    resume_if_due(s, now_ms, now);
  pthread_mutex_unlock(&lock);
}

/* The rows after s->last_seq into s->out, if the token is still the member's; not under the lock (only the
 * reader, on the connection's own thread, touches last_seq and out). 0 when the database failed. */
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
  for (int i = 0; i < rows; i++) {
    /* The kind and the JSON hold no line break (JSON escapes them), so each is one field line. */
    strbuf_printf(&s->out, "id: %s\nevent: %s\ndata: %s\n\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                  PQgetvalue(res, i, 2));
    s->last_seq = db_value_long(res, i, 0);
  }
  *more = rows == BATCH_ROWS;
  PQclear(res);
  return 1;
}

/* MHD's content reader: what is buffered, else what woke the stream, else suspend. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)pos;
  stream *s = cls;
  pthread_mutex_lock(&lock);
  for (;;) {
    if (s->out.failed) {
      s->ending = 1; /* out of memory: end rather than skip rows */
      strbuf_clear(&s->out);
      s->out_pos = 0;
    }
    if (s->out_pos < s->out.len) {
      size_t n = s->out.len - s->out_pos < max ? s->out.len - s->out_pos : max;
      memcpy(buf, s->out.data + s->out_pos, n);
      s->out_pos += n;
      if (s->out_pos == s->out.len) {
        strbuf_clear(&s->out);
        s->out_pos = 0;
      }
      pthread_mutex_unlock(&lock);
      return (ssize_t)n;
    }
    if (s->client_left) {
      pthread_mutex_unlock(&lock);
      return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    long long now_ms = monotonic_ms();
    if (s->ending || time(NULL) >= s->grant.token_exp) {
      pthread_mutex_unlock(&lock);
      return MHD_CONTENT_READER_END_OF_STREAM;
    }
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
      } else if (more) {
        s->wake = 1;
      }
      continue;
    }
    if (now_ms >= s->heartbeat_due_ms) {
      strbuf_puts(&s->out, ": keepalive\n\n");
      s->heartbeat_due_ms = now_ms + stream_app->cfg.stream_heartbeat_ms;
      continue;
    }
    suspend(s);
    pthread_mutex_unlock(&lock);
    return 0;
  }
}

/* MHD is done with the response (the connection closed): forget the stream. */
static void stream_free(void *cls) {
  stream *s = cls;
  pthread_mutex_lock(&lock);
  for (stream **p = &streams; *p; p = &(*p)->next)
    if (*p == s) {
      *p = s->next;
      break;
    }
  pthread_mutex_unlock(&lock);
  strbuf_free(&s->out);
  free(s);
}

fn_status stream_reply(fn_req *req, struct MHD_Connection *connection, const stream_grant *grant, long after) {
  if (!can_suspend || connection == NULL)
    return req_problem(req, FN_UNAVAILABLE, "Live streams need FORUMNET_HTTP_THREADS above 0 on this server.");
  stream *s = calloc(1, sizeof *s);
  if (s == NULL)
    return FN_INTERNAL;
  s->connection = connection;
  const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
  s->fd = info ? info->connect_fd : -1;
  s->grant = *grant;
  s->last_seq = after;
  s->wake = 1; /* the replay, and the token's first check */
  s->heartbeat_due_ms = monotonic_ms() + req->app->cfg.stream_heartbeat_ms;
  /* Sent at once, so the client has the headers and knows the stream is open. */
  strbuf_puts(&s->out, "retry: 2000\n\n");
  if (ulfius_set_stream_response(req->res, 200, stream_read, stream_free, U_STREAM_SIZE_UNKNOWN, STREAM_BLOCK_BYTES,
                                 s) != U_OK) {
    strbuf_free(&s->out);
    free(s);
    return FN_INTERNAL;
  }
  reply_header(req, "Content-Type", "text/event-stream; charset=utf-8");
  reply_header(req, "X-Accel-Buffering", "no"); /* nginx: pass events on as they come */
  req->status = 200;
  pthread_mutex_lock(&lock);
  s->next = streams;
  streams = s;
  pthread_mutex_unlock(&lock);
  return FN_OK;
}

int stream_start(fn_app *app, int suspendable) {
  static const char *const channels[] = {CHANNEL_NOTIFICATIONS, CHANNEL_MEMBERS, NULL};
  static const listener_callbacks callbacks = {on_notify, on_reconnect, on_tick, TICK_MS};
  stream_app = app;
  can_suspend = suspendable;
  if (!suspendable)
    return 0; /* no stream will be served: no LISTEN session either */
  hangup_epoll = epoll_create1(EPOLL_CLOEXEC);
  if (hangup_epoll < 0)
    return -1;
  the_listener = listener_start(&app->cfg, channels, &callbacks);
  return the_listener ? 0 : -1;
}

void stream_stop(unsigned wait_ms) {
  pthread_mutex_lock(&lock);
  for (stream *s = streams; s; s = s->next) {
    s->ending = 1;
    resume(s);
  }
  for (unsigned waited_ms = 0; streams != NULL && waited_ms < wait_ms; waited_ms += 20) {
    pthread_mutex_unlock(&lock);
    nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = 20 * 1000000L}, NULL);
    pthread_mutex_lock(&lock);
  }
  pthread_mutex_unlock(&lock);
  listener_stop(the_listener);
  the_listener = NULL;
  pthread_mutex_lock(&lock); /* a stream still being served may suspend meanwhile */
  if (hangup_epoll >= 0)
    close(hangup_epoll);
  hangup_epoll = -1;
  pthread_mutex_unlock(&lock);
}
