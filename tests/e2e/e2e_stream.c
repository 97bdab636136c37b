/*
 * e2e_stream.c — the live stream of a member's notifications (API.md section 10; README "Live stream"):
 * events arrive within a second, Last-Event-ID replays exactly the missed ones, heartbeats, stream
 * tickets (single use, expiry), a suspended member's stream ends at once, a stream ends when its token
 * expires, another member's notifications never appear, a stream held on a second instance hears
 * a notification made elsewhere; held streams take no HTTP connection (their sockets are handed to the
 * streams' loop) and have a cap of their own; chunked framing for HTTP/1.1, none for HTTP/1.0; a stream opened
 * before the instance's LISTEN session is up still gets what was made in between (socat, Debian's, holds that
 * session's connection back).
 * Notifications are inserted through psql (the trigger of migration 011 wakes the streams, as the API's own
 * writes do). The stream is read over a raw socket.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define HEARTBEAT_MS 400
#define STREAM_PATH "/v1/me/notifications/stream"

static harness_account g_admin;
static char g_site[HARNESS_ID_MAX];

static const char *const g_env[] = {"FORUMNET_STREAM_HEARTBEAT_MS=400", NULL};

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(g_env, &g_admin);
  harness_new_site_id(g_admin.token, g_site);
  return 0;
}

/* An open stream: the socket and everything read from it so far. */
typedef struct sse {
  int fd;
  char buf[256 * 1024];
  size_t len;
  int eof;
} sse;

/* Reads what arrives within timeout_ms (or until the connection ends); 1 if anything came. */
static int sse_read(sse *s, int timeout_ms) {
  struct pollfd p = {.fd = s->fd, .events = POLLIN};
  if (s->eof || poll(&p, 1, timeout_ms) <= 0)
    return 0;
  ssize_t n = recv(s->fd, s->buf + s->len, sizeof s->buf - 1 - s->len, 0);
  if (n <= 0) {
    s->eof = 1;
    return 0;
  }
  s->len += (size_t)n;
  s->buf[s->len] = '\0';
  return 1;
}

/* Waits up to timeout_ms for needle in what was read; 1 if it came. */
static int sse_wait_for(sse *s, const char *needle, int timeout_ms) {
  int64_t until = harness_now_ms() + timeout_ms;
  while (strstr(s->buf, needle) == NULL) {
    int64_t left = until - harness_now_ms();
    if (left <= 0 || s->eof)
      return strstr(s->buf, needle) != NULL;
    sse_read(s, (int)left);
  }
  return 1;
}

/* Waits up to timeout_ms for the server to end the response and close the connection; 1 if it did. */
static int sse_wait_closed(sse *s, int timeout_ms) {
  int64_t until = harness_now_ms() + timeout_ms;
  while (!s->eof && harness_now_ms() < until)
    sse_read(s, (int)(until - harness_now_ms()));
  return s->eof;
}

/* Opens path on the current server (Connection: close, so the end of the stream closes it) with the
 * bearer token (or NULL) and one more header line (or NULL); returns the status line's code, and the
 * open stream in *s when it is 200. */
static long sse_open(sse *s, const char *path, const char *token, const char *header) {
  memset(s, 0, sizeof *s);
  s->fd = harness_server_connect();
  if (s->fd < 0)
    harness_fail("cannot connect: %s", strerror(errno));
  char req[4096];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nConnection: close\r\n"
                   "%s%s%s%s%s\r\n",
                   path, token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "",
                   header ? header : "", header ? "\r\n" : "");
  if (send(s->fd, req, (size_t)n, 0) != n)
    harness_fail("cannot send the stream's request");
  if (!sse_wait_for(s, "\r\n\r\n", 3000))
    harness_fail("no answer to GET %s within 3 s; read: %s", path, s->buf);
  return strtol(s->buf + 9, NULL, 10);
}

static void sse_close(sse *s) {
  if (s->fd >= 0)
    close(s->fd);
  s->fd = -1;
}

/* Opens the stream, asserting 200 text/event-stream and the opening "retry:" line. */
static void sse_open_ok(sse *s, const char *path, const char *token, const char *header) {
  long status = sse_open(s, path, token, header);
  if (status != 200)
    harness_fail("GET %s answered %ld, expected 200; read: %s", path, status, s->buf);
  if (strstr(s->buf, "Content-Type: text/event-stream") == NULL &&
      strstr(s->buf, "content-type: text/event-stream") == NULL)
    harness_fail("the stream's Content-Type is not text/event-stream: %s", s->buf);
  if (!sse_wait_for(s, "retry: ", 2000))
    harness_fail("the stream did not open with a retry line: %s", s->buf);
}

/* The stream reads its backlog on the loop's pass after its opening line went out, so a notification made before
 * that read arrives through it whatever the LISTEN session does. The first heartbeat comes after the read: a test
 * of what wakes a stream waits for it first. */
static void sse_wait_backlog_read(sse *s) {
  if (!sse_wait_for(s, ": keepalive", 2000))
    harness_fail("no heartbeat within 2 s: %s", s->buf);
}

/* Inserts one notification for member_id (title `title`); returns its seq. */
static long insert_notification(const char *member_id, const char *title) {
  char sql[512];
  snprintf(sql, sizeof sql,
           "WITH n AS (INSERT INTO notifications (member_id, kind, subject_type, subject_id, title) VALUES "
           "('%s', 'event.published', 'event', gen_random_uuid(), '%s') RETURNING seq) SELECT seq FROM n",
           member_id, title);
  return harness_psql_long(sql);
}

static void new_member(harness_account *m) { harness_new_member_quick(g_admin.token, "practitioner", g_site, m); }

static void test_event_arrives_within_a_second(void **state) {
  (void)state;
  harness_account m;
  new_member(&m);
  sse s;
  sse_open_ok(&s, STREAM_PATH, m.token, NULL);
  char title[64], expect[160];
  harness_unique("Stream arrival", title);
  int64_t start = harness_now_ms();
  long seq = insert_notification(m.id, title);
  snprintf(expect, sizeof expect, "id: %ld\nevent: event.published\ndata: {", seq);
  if (!sse_wait_for(&s, expect, 1000) || !sse_wait_for(&s, title, 200))
    harness_fail("notification %ld did not arrive within a second; read: %s", seq, s.buf);
  int64_t took = harness_now_ms() - start;
  /* The data line is the notification's JSON. */
  const char *data = strstr(s.buf, expect) + strlen(expect) - 1;
  const char *end = strchr(data, '\n');
  json_t *n = json_loadb(data, (size_t)(end - data), 0, NULL);
  if (n == NULL)
    harness_fail("the data line is not JSON: %s", data);
  assert_json_str(n, "kind", "event.published");
  assert_json_str(n, "title", title);
  assert_json_str(n, "subject.type", "event");
  assert_true(harness_is_uuid(hjson_str(n, "id")));
  assert_true(harness_is_uuid(hjson_str(n, "subject.id")));
  assert_true(harness_is_rfc3339_utc(hjson_str(n, "created_at")));
  assert_true(hjson_is_null(n, "read_at"));
  assert_true(hjson_is_null(n, "group_id"));
  json_decref(n);
  printf("# notification arrived on the stream after %lld ms\n", (long long)took);
  sse_close(&s);
}

static void test_other_members_notifications_never_appear(void **state) {
  (void)state;
  harness_account a, b;
  new_member(&a);
  new_member(&b);
  sse s;
  sse_open_ok(&s, STREAM_PATH, a.token, NULL);
  char b_title[64], a_title[64];
  harness_unique("For B only", b_title);
  harness_unique("For A", a_title);
  insert_notification(b.id, b_title);
  insert_notification(a.id, a_title);
  if (!sse_wait_for(&s, a_title, 1000))
    harness_fail("A's own notification did not arrive: %s", s.buf);
  sse_read(&s, 300);
  if (strstr(s.buf, b_title) != NULL)
    harness_fail("B's notification appeared on A's stream: %s", s.buf);
  sse_close(&s);
}

static void test_last_event_id_replays_exactly_the_missed(void **state) {
  (void)state;
  harness_account m;
  new_member(&m);
  long seq[4];
  char titles[4][64];
  for (int i = 0; i < 4; i++)
    seq[i] = insert_notification(m.id, harness_unique("Replay", titles[i]));
  /* Header form: after seq[1], so seq[2] and seq[3], in order. */
  char header[64];
  snprintf(header, sizeof header, "Last-Event-ID: %ld", seq[1]);
  sse s;
  sse_open_ok(&s, STREAM_PATH, m.token, header);
  char expect[64];
  snprintf(expect, sizeof expect, "id: %ld\n", seq[3]);
  if (!sse_wait_for(&s, expect, 1000))
    harness_fail("the replay after %ld did not reach %ld: %s", seq[1], seq[3], s.buf);
  char *third = strstr(s.buf, titles[2]), *fourth = strstr(s.buf, titles[3]);
  if (third == NULL || fourth == NULL || third > fourth)
    harness_fail("the replay did not send the missed ones oldest first: %s", s.buf);
  if (strstr(s.buf, titles[0]) || strstr(s.buf, titles[1]))
    harness_fail("the replay sent events the client had already seen: %s", s.buf);
  sse_close(&s);

  /* Query form (for clients that cannot send the header), after seq[2]. */
  sse_open_ok(&s, hpath(STREAM_PATH "?last_event_id=%ld", seq[2]), m.token, NULL);
  if (!sse_wait_for(&s, titles[3], 1000))
    harness_fail("?last_event_id= did not replay: %s", s.buf);
  if (strstr(s.buf, titles[2]))
    harness_fail("?last_event_id= replayed the event it names: %s", s.buf);
  sse_close(&s);

  /* No cursor: only what is new from now on. */
  sse_open_ok(&s, STREAM_PATH, m.token, NULL);
  sse_read(&s, 300);
  for (int i = 0; i < 4; i++)
    if (strstr(s.buf, titles[i]))
      harness_fail("a stream opened without Last-Event-ID replayed old events: %s", s.buf);
  sse_close(&s);

  http_response *r = http_get_with_headers(STREAM_PATH, m.token, (const char *const[]){"Last-Event-ID: abc", NULL});
  assert_problem(r, 400);
  http_response_free(r);
}

static void test_heartbeat_arrives(void **state) {
  (void)state;
  harness_account m;
  new_member(&m);
  sse s;
  sse_open_ok(&s, STREAM_PATH, m.token, NULL);
  if (!sse_wait_for(&s, ": keepalive\n\n", 3 * HEARTBEAT_MS))
    harness_fail("no heartbeat within %d ms (FORUMNET_STREAM_HEARTBEAT_MS=%d): %s", 3 * HEARTBEAT_MS, HEARTBEAT_MS,
                 s.buf);
  sse_close(&s);
}

static http_response *new_ticket(const char *token) {
  return http_request("POST", "/v1/me/stream-tickets", token, NULL, NULL, NULL);
}

static void test_tickets_are_single_use_and_expire(void **state) {
  (void)state;
  harness_account m;
  new_member(&m);
  http_response *r = new_ticket(m.token);
  assert_status(r, 201);
  json_t *body = json_loads(r->body, 0, NULL);
  assert_json_int(body, "expires_in", 60);
  char ticket[128];
  snprintf(ticket, sizeof ticket, "%s", hjson_str(body, "ticket"));
  json_decref(body);
  http_response_free(r);

  sse s;
  sse_open_ok(&s, hpath(STREAM_PATH "?ticket=%s", ticket), NULL, NULL);
  char title[64];
  insert_notification(m.id, harness_unique("Ticket stream", title));
  if (!sse_wait_for(&s, title, 1000))
    harness_fail("a stream opened with a ticket did not receive its member's notification: %s", s.buf);
  sse_close(&s);

  r = http_get(hpath(STREAM_PATH "?ticket=%s", ticket), NULL);
  assert_problem(r, 401);
  http_response_free(r);

  r = http_get(STREAM_PATH "?ticket=not-a-ticket", NULL);
  assert_problem(r, 401);
  http_response_free(r);

  r = http_get(STREAM_PATH, NULL);
  assert_problem(r, 401);
  http_response_free(r);

  r = new_ticket(m.token);
  assert_status(r, 201);
  body = json_loads(r->body, 0, NULL);
  snprintf(ticket, sizeof ticket, "%s", hjson_str(body, "ticket"));
  json_decref(body);
  http_response_free(r);
  char sql[256];
  snprintf(sql, sizeof sql,
           "WITH t AS (UPDATE stream_tickets SET expires_at = now() - interval '1 second' WHERE member_id = '%s'"
           " AND spent_at IS NULL RETURNING 1) SELECT count(*) FROM t",
           m.id);
  assert_int_equal(harness_psql_long(sql), 1);
  r = http_get(hpath(STREAM_PATH "?ticket=%s", ticket), NULL);
  assert_problem(r, 401);
  http_response_free(r);

  /* The ticket takes no body, and no token no ticket. */
  r = http_json("POST", "/v1/me/stream-tickets", m.token, json_pack("{s:i}", "ttl", 600));
  assert_status(r, 400);
  http_response_free(r);
  r = new_ticket(NULL);
  assert_problem(r, 401);
  http_response_free(r);
  /* Only the digest is stored. */
  snprintf(sql, sizeof sql, "SELECT count(*) FROM stream_tickets WHERE encode(digest, 'escape') LIKE '%%%s%%'", ticket);
  assert_int_equal(harness_psql_long(sql), 0);
}

static void test_suspended_members_stream_ends_at_once(void **state) {
  (void)state;
  harness_account m;
  new_member(&m);
  sse s;
  sse_open_ok(&s, STREAM_PATH, m.token, NULL);
  http_response *r =
      http_json("PATCH", hpath("/v1/members/%s", m.id), g_admin.token, json_pack("{s:s}", "status", "suspended"));
  assert_status(r, 200);
  http_response_free(r);
  int64_t start = harness_now_ms();
  if (!sse_wait_closed(&s, 1000))
    harness_fail("the stream of a suspended member stayed open for a second: %s", s.buf);
  printf("# a suspended member's stream ended after %lld ms\n", (long long)(harness_now_ms() - start));
  sse_close(&s);
  r = http_get(STREAM_PATH, m.token);
  assert_problem(r, 401);
  http_response_free(r);
}

static void test_erased_members_stream_ends_and_tickets_go(void **state) {
  (void)state;
  harness_account m;
  new_member(&m);
  http_response *r = new_ticket(m.token);
  assert_status(r, 201);
  http_response_free(r);
  sse s;
  sse_open_ok(&s, STREAM_PATH, m.token, NULL);
  r = http_request("DELETE", hpath("/v1/members/%s", m.id), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  if (!sse_wait_closed(&s, 1000))
    harness_fail("the stream of an erased member stayed open for a second: %s", s.buf);
  sse_close(&s);
  char sql[160];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM stream_tickets WHERE member_id = '%s'", m.id);
  if (harness_psql_long(sql) != 0)
    harness_fail("erasure left the member's stream tickets");
}

/* An HTTP/1.1 stream is chunked: after the headers, the first chunk is exactly the opening "retry:" line
 * (13 octets), and a stream the server ended finishes with the last chunk (not a bare close, which a browser
 * reports as an error). */
static void assert_chunked_body_ended(const sse *s) {
  const char *body = strstr(s->buf, "\r\n\r\n");
  if (body == NULL || strncmp(body + 4, "d\r\nretry: 2000\n\n\r\n", 18) != 0)
    harness_fail("the stream's body does not open with one chunk holding the retry line: %s", s->buf);
  if (s->len < 5 || memcmp(s->buf + s->len - 5, "0\r\n\r\n", 5) != 0)
    harness_fail("the ended stream's body does not end with the last chunk: %s", s->buf);
}

static void test_stream_ends_when_its_token_expires(void **state) {
  (void)state;
  harness_account m;
  new_member(&m);
  int64_t now_ms = harness_epoch_ms();
  long now = (long)(now_ms / 1000);
  json_t *claims =
      json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s}", "iss", "forumnet", "aud", "forumnet-api", "sub",
                m.id, "typ", "access", "role", "practitioner", "iat", (json_int_t)now, "iat_ms", (json_int_t)now_ms,
                "nbf", (json_int_t)now, "exp", (json_int_t)(now + 3), "jti", "e2e-stream-expiry");
  json_t *header = json_pack("{s:s}", "kid", "k1");
  char *token = harness_jwt_sign("HS256", HARNESS_JWT_SECRET, HARNESS_JWT_SECRET_LEN, header, claims);
  json_decref(header);
  json_decref(claims);
  sse s;
  sse_open_ok(&s, STREAM_PATH, token, NULL);
  free(token);
  if (!sse_wait_closed(&s, 5000))
    harness_fail("a stream outlived its token (exp in 3 s) by 2 s: %s", s.buf);
  assert_chunked_body_ended(&s);
  sse_close(&s);
}

static void test_stream_on_another_instance_hears_it(void **state) {
  (void)state;
  harness_account m;
  new_member(&m);
  harness_server_start(g_env); /* instance B, on the same database */
  sse s;
  sse_open_ok(&s, STREAM_PATH, m.token, NULL);
  sse_wait_backlog_read(&s); /* what comes next comes through B's LISTEN session */
  char title[64];
  harness_unique("Across instances", title);
  insert_notification(m.id, title);
  int ok = sse_wait_for(&s, title, 1000);
  sse_close(&s);
  harness_server_stop();
  if (!ok)
    harness_fail("a stream held on instance B missed a notification made elsewhere: %s", s.buf);
}

/* A stand-in for a database that is slow to answer: socat listens on a Unix socket of its own and, for each
 * connection, waits delay_ms before relaying it to the test cluster's socket (FORUMNET_TEST_PG_HOST/PORT).
 * url_out gets FORUMNET_TEST_DATABASE_URL with its host pointed at it. stop_slow_database() ends it. */
static pid_t g_slow_database;        /* socat's process group, while it runs */
static char g_slow_database_dir[64]; /* where it listens */

static void start_slow_database(int delay_ms, char *url_out, size_t size) {
  const char *pg_host = getenv("FORUMNET_TEST_PG_HOST"), *pg_port = getenv("FORUMNET_TEST_PG_PORT");
  const char *url = getenv("FORUMNET_TEST_DATABASE_URL");
  if (!pg_host || !pg_port || !url)
    fail_msg(
        "FORUMNET_TEST_PG_HOST, FORUMNET_TEST_PG_PORT and FORUMNET_TEST_DATABASE_URL must be set (scripts/test.sh)");
  char *dir = g_slow_database_dir;
  snprintf(dir, sizeof g_slow_database_dir, "/tmp/forumnet-e2e-slowpg-XXXXXX");
  if (mkdtemp(dir) == NULL)
    fail_msg("mkdtemp: %s", strerror(errno));
  char listen_at[256], relay[512];
  snprintf(listen_at, sizeof listen_at, "UNIX-LISTEN:%s/.s.PGSQL.%s,fork", dir, pg_port);
  /* socat splits addresses at ':' (escaped for the inner one, which the shell runs). */
  snprintf(relay, sizeof relay, "SYSTEM:sleep %.3f; exec socat STDIO UNIX-CONNECT\\:%s/.s.PGSQL.%s", delay_ms / 1000.0,
           pg_host, pg_port);
  pid_t pid = fork();
  if (pid < 0)
    fail_msg("fork: %s", strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);
    /* Not ctest's pipe: a socat left behind would keep it open, and ctest waiting. */
    int null = open("/dev/null", O_RDWR);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    execlp("socat", "socat", listen_at, relay, (char *)NULL);
    _exit(127);
  }
  g_slow_database = pid;
  char socket_path[128];
  snprintf(socket_path, sizeof socket_path, "%s/.s.PGSQL.%s", dir, pg_port);
  struct stat st;
  for (int waited = 0; stat(socket_path, &st) != 0; waited += 20) {
    if (waited > 5000 || waitpid(pid, NULL, WNOHANG) == pid)
      fail_msg("socat did not listen on %s (is Debian's socat installed? scripts/test.sh installs it)", socket_path);
    harness_sleep_ms(20);
  }
  /* The URL's host parameter (up to the next '&') becomes dir. */
  const char *host = strstr(url, "host=");
  if (host == NULL)
    fail_msg("FORUMNET_TEST_DATABASE_URL has no host parameter: %s", url);
  const char *rest = strchr(host, '&');
  snprintf(url_out, size, "%.*shost=%s%s", (int)(host - url), url, dir, rest ? rest : "");
}

static void stop_slow_database(void) {
  if (g_slow_database <= 0)
    return;
  kill(-g_slow_database, SIGTERM); /* socat and the relays it forked */
  waitpid(g_slow_database, NULL, 0);
  g_slow_database = 0;
  char socket_path[128];
  snprintf(socket_path, sizeof socket_path, "%s/.s.PGSQL.%s", g_slow_database_dir, getenv("FORUMNET_TEST_PG_PORT"));
  unlink(socket_path); /* socat removes it as it ends; in case it could not */
  rmdir(g_slow_database_dir);
}

static int stop_servers_and_slow_database(void **state) {
  harness_stop_nested_servers(state);
  stop_slow_database();
  return 0;
}

/* The server answers streams as soon as it listens for HTTP, which may come before its LISTEN session is up; a
 * stream opened in between has read its backlog already, and a notification made before the LISTEN would reach
 * it only with the member's next one, unless the listener wakes every stream when it first listens (README
 * "Live stream"). Here the LISTEN session's connection (FORUMNET_DATABASE_DIRECT_URL) is held back LISTEN_DELAY_MS,
 * so the notification is made while nobody of this instance listens. */
#define LISTEN_DELAY_MS 3000
static void test_stream_opened_before_the_listener_listens(void **state) {
  (void)state;
  harness_account m;
  new_member(&m);
  char url[1200], direct[1300];
  start_slow_database(LISTEN_DELAY_MS, url, sizeof url);
  snprintf(direct, sizeof direct, "FORUMNET_DATABASE_DIRECT_URL=%s", url);
  const char *const env[] = {"FORUMNET_STREAM_HEARTBEAT_MS=400", "FORUMNET_DB_CONNECT_TIMEOUT=10", direct, NULL};
  harness_server_start(env); /* its start-up check through the slow URL too: it listens for HTTP after that */
  int64_t listening = harness_now_ms();
  sse s;
  sse_open_ok(&s, STREAM_PATH, m.token, NULL);
  sse_wait_backlog_read(&s);
  char title[64];
  harness_unique("Before LISTEN", title);
  insert_notification(m.id, title);
  int64_t made = harness_now_ms() - listening;
  int ok = sse_wait_for(&s, title, LISTEN_DELAY_MS + 2000);
  sse_close(&s);
  harness_server_stop();
  stop_slow_database();
  /* The listener thread starts before the HTTP side, so its connection has waited a little already. */
  if (made > LISTEN_DELAY_MS - 1000)
    harness_fail("the notification was made %lld ms after the server listened: too late to be before its LISTEN "
                 "(held back %d ms), so this proves nothing",
                 (long long)made, LISTEN_DELAY_MS);
  if (!ok)
    harness_fail("a stream opened before the instance's LISTEN session was up missed a notification made in between: "
                 "%s",
                 s.buf);
}

/* An idle stream is suspended, so libmicrohttpd does not watch it: the server must notice a client that
 * left on its own, well before the next heartbeat (a minute here), or dead streams would hold every place
 * under FORUMNET_MAX_CONNECTIONS. */
static void test_a_client_that_left_frees_its_connection(void **state) {
  (void)state;
  harness_account m;
  new_member(&m);
  static const char *const env[] = {"FORUMNET_STREAM_HEARTBEAT_MS=60000", "FORUMNET_MAX_CONNECTIONS=3", NULL};
  harness_server_start(env);
  for (int round = 0; round < 3; round++) {
    sse a, b;
    sse_open_ok(&a, STREAM_PATH, m.token, NULL);
    sse_open_ok(&b, STREAM_PATH, m.token, NULL);
    sse_close(&a);
    sse_close(&b);
    harness_sleep_ms(500);
  }
  http_response *r = http_get("/healthz", NULL);
  assert_status(r, 200);
  http_response_free(r);
  harness_server_stop();
}

/* A thread per connection cannot suspend one: the stream is refused rather than holding a thread. */
static void test_thread_per_connection_refuses_streams(void **state) {
  (void)state;
  harness_account m;
  new_member(&m);
  static const char *const env[] = {"FORUMNET_HTTP_THREADS=0", NULL};
  harness_server_start(env);
  http_response *r = http_get(STREAM_PATH, m.token);
  assert_problem(r, 503);
  http_response_free(r);
  harness_server_stop();
}

static void test_a_held_stream_does_not_block_the_stop(void **state) {
  (void)state;
  harness_account m;
  new_member(&m);
  harness_server_start(g_env);
  sse s;
  sse_open_ok(&s, STREAM_PATH, m.token, NULL);
  harness_server_stop(); /* asserts exit status 0 within 10 s */
  if (!sse_wait_closed(&s, 1000))
    harness_fail("the stream stayed open after its server stopped");
  assert_chunked_body_ended(&s);
  sse_close(&s);
}

/* A held stream is not a libmicrohttpd connection (its socket was handed to the streams' loop), so streams
 * never take the places of other requests; they have their own cap, FORUMNET_MAX_CONNECTIONS, past which a
 * stream request is refused with 503, and a stream that ends frees its place. */
static void test_streams_take_no_connection_and_have_their_own_cap(void **state) {
  (void)state;
  harness_account m;
  new_member(&m);
  static const char *const env[] = {"FORUMNET_MAX_CONNECTIONS=3", NULL};
  harness_server_start(env);
  sse held[3];
  for (int i = 0; i < 3; i++)
    sse_open_ok(&held[i], STREAM_PATH, m.token, NULL);
  for (int i = 0; i < 4; i++) { /* more requests than the cap, one after the other, beside 3 streams */
    http_response *r = http_get("/healthz", NULL);
    assert_status(r, 200);
    http_response_free(r);
  }
  sse extra;
  long status = sse_open(&extra, STREAM_PATH, m.token, NULL);
  if (status != 503 || strstr(extra.buf, "application/problem+json") == NULL)
    harness_fail("a fourth stream beyond FORUMNET_MAX_CONNECTIONS=3 answered %ld, expected 503 problem+json: %s",
                 status, extra.buf);
  sse_close(&extra);
  long seq = insert_notification(m.id, "to all three");
  char needle[64];
  snprintf(needle, sizeof needle, "id: %ld\n", seq);
  for (int i = 0; i < 3; i++)
    if (!sse_wait_for(&held[i], needle, 2000))
      harness_fail("held stream %d missed notification %ld: %s", i, seq, held[i].buf);
  sse_close(&held[0]);
  int64_t until = harness_now_ms() + 3000;
  for (;;) { /* the loop notices the hang-up at once; allow it a moment */
    status = sse_open(&extra, STREAM_PATH, m.token, NULL);
    if (status == 200 || harness_now_ms() > until)
      break;
    sse_close(&extra);
    harness_sleep_ms(100);
  }
  if (status != 200)
    harness_fail("a stream's place was not freed when its client left: %ld %s", status, extra.buf);
  sse_close(&extra);
  for (int i = 1; i < 3; i++)
    sse_close(&held[i]);
  harness_server_stop();
}

/* An HTTP/1.0 client gets the stream without chunked coding (it does not know it), events as they come, and
 * the end of the stream is the end of the connection. */
static void test_http_1_0_stream_is_not_chunked(void **state) {
  (void)state;
  harness_account m;
  new_member(&m);
  sse s;
  memset(&s, 0, sizeof s);
  s.fd = harness_server_connect();
  if (s.fd < 0)
    harness_fail("cannot connect: %s", strerror(errno));
  char req[2048];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nAuthorization: Bearer %s\r\n\r\n", STREAM_PATH, m.token);
  if (send(s.fd, req, (size_t)n, 0) != n)
    harness_fail("cannot send the stream's request");
  if (!sse_wait_for(&s, "retry: 2000\n\n", 3000))
    harness_fail("no HTTP/1.0 stream within 3 s: %s", s.buf);
  const char *body = strstr(s.buf, "\r\n\r\n");
  if (strncmp(s.buf, "HTTP/1.", 7) != 0 || strtol(s.buf + 9, NULL, 10) != 200 || body == NULL ||
      strncmp(body + 4, "retry: 2000\n\n", 13) != 0 || strstr(s.buf, "hunked") != NULL)
    harness_fail("the HTTP/1.0 stream is not a plain 200 body opening with the retry line: %s", s.buf);
  long seq = insert_notification(m.id, "plain");
  char needle[64];
  snprintf(needle, sizeof needle, "id: %ld\nevent: event.published\n", seq);
  if (!sse_wait_for(&s, needle, 2000))
    harness_fail("the HTTP/1.0 stream missed notification %ld: %s", seq, s.buf);
  if (strstr(body + 4, "\r\n") != NULL)
    harness_fail("the HTTP/1.0 stream's body holds chunk framing: %s", body);
  sse_close(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_event_arrives_within_a_second),
      cmocka_unit_test(test_other_members_notifications_never_appear),
      cmocka_unit_test(test_last_event_id_replays_exactly_the_missed),
      cmocka_unit_test(test_heartbeat_arrives),
      cmocka_unit_test(test_tickets_are_single_use_and_expire),
      cmocka_unit_test(test_suspended_members_stream_ends_at_once),
      cmocka_unit_test(test_erased_members_stream_ends_and_tickets_go),
      cmocka_unit_test(test_stream_ends_when_its_token_expires),
      cmocka_unit_test_teardown(test_stream_on_another_instance_hears_it, harness_stop_nested_servers),
      cmocka_unit_test_teardown(test_stream_opened_before_the_listener_listens, stop_servers_and_slow_database),
      cmocka_unit_test_teardown(test_a_client_that_left_frees_its_connection, harness_stop_nested_servers),
      cmocka_unit_test_teardown(test_thread_per_connection_refuses_streams, harness_stop_nested_servers),
      cmocka_unit_test_teardown(test_a_held_stream_does_not_block_the_stop, harness_stop_nested_servers),
      cmocka_unit_test_teardown(test_streams_take_no_connection_and_have_their_own_cap, harness_stop_nested_servers),
      cmocka_unit_test(test_http_1_0_stream_is_not_chunked),
  };
  return cmocka_run_group_tests_name("e2e_stream", tests, group_setup, harness_suite_teardown);
}
