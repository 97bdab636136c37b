/*
 * e2e_fault_sigterm_serial.c — SIGTERM under load: requests in flight complete, the process exits
 * 0 within the grace period, and new connections are refused (issue 8, faults (c); README "How it
 * works", Shutdown).
 *
 * SLOW requests are made slow by PostgreSQL: a psql session locks their rows (SELECT ... FOR
 * UPDATE) for LOCK_HOLD_MS, so each PATCH /v1/sites/{id} waits inside the server (the test sees
 * the server's sessions waiting on the lock in pg_stat_activity before it signals).  FAST threads
 * meanwhile read in a loop (GET /v1/sites/{id}, GET /healthz).  Then SIGTERM.  Asserted:
 *   - every slow PATCH is answered 200 with its change, and the change is stored;
 *   - every fast request sent well before the signal (SIGNAL_SLACK_MS) got a complete answer
 *     (200 with a JSON body); any answer at all is complete (a request after the signal may fail
 *     at connection level, never with a half answer);
 *   - a new connection opened after the signal is refused (or reset without an answer) within
 *     REFUSE_WITHIN_MS, instead of waiting until the process exits;
 *   - the process exits with status 0, within the server's grace period (10 s) plus a margin.
 *
 * It locks rows the other tests do not touch, but runs alone (the _serial suffix) so that the
 * timings mean something.
 */
#include "harness.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SLOW 3
#define FAST 4
#define MAX_FAST_REQUESTS 3000   /* per fast thread: loops are bounded in count ... */
#define FAST_AFTER_SIGNAL_MS 800 /* ... and in time */
#define FAST_PAUSE_MS 5
#define LOCK_HOLD_MS 5000              /* long enough to stay held on a loaded 2-core machine (2 s was not, once) */
#define STATEMENT_TIMEOUT_TEXT "15000" /* the servers' statement and lock timeouts: well above LOCK_HOLD_MS */
/* Behind PgBouncer in transaction mode (scripts/test.sh's pooler pass) the timeouts are the database role's,
 * 5000 ms for the whole run, and FORUMNET_STATEMENT_TIMEOUT_MS cannot raise them: a 5000 ms hold raced them
 * and one PATCH was answered 503 (CI, stop 20). There the rows are held for less, still seconds past the
 * signal (SIGTERM comes about 0.5 s after the lock). */
#define POOLED_LOCK_HOLD_MS 3500
#define SIGNAL_SLACK_MS 100   /* a request sent this long before the signal has surely been accepted */
#define REFUSE_WITHIN_MS 1000 /* a connection after the signal must fail within this */
#define GRACE_MS 10000        /* the server's shutdown grace (src/http/server.c) */

static harness_account g_admin;
static char g_read_site[HARNESS_ID_MAX];
static char g_slow_sites[SLOW][HARNESS_ID_MAX];
static long g_psql;

static int64_t g_t0;
static atomic_bool g_stop_fast;

static bool pooled(void) {
  const char *url = getenv("FORUMNET_TEST_POOLER_URL");
  return url && *url;
}

static int lock_hold_ms(void) { return pooled() ? POOLED_LOCK_HOLD_MS : LOCK_HOLD_MS; }

typedef struct exchange {
  int64_t start_ms, end_ms;
  http_response *resp;
} exchange;

typedef struct fast_client {
  int index;
  int count;
  exchange *ex;
} fast_client;

typedef struct slow_client {
  int index;
  char name[64];
  exchange ex;
} slow_client;

static void *slow_main(void *p) {
  slow_client *c = p;
  char body[128];
  snprintf(body, sizeof body, "{\"name\":\"%s\"}", c->name);
  c->ex.start_ms = harness_now_ms() - g_t0;
  c->ex.resp = http_request_timeout("PATCH", hpath("/v1/sites/%s", g_slow_sites[c->index]), g_admin.token,
                                    "application/json", body, NULL, 15000);
  c->ex.end_ms = harness_now_ms() - g_t0;
  return NULL;
}

static void *fast_main(void *p) {
  fast_client *c = p;
  char site_path[128];
  snprintf(site_path, sizeof site_path, "/v1/sites/%s", g_read_site);
  while (c->count < MAX_FAST_REQUESTS && !atomic_load(&g_stop_fast)) {
    exchange *e = &c->ex[c->count];
    bool health = (c->count + c->index) % 2 == 0;
    e->start_ms = harness_now_ms() - g_t0;
    e->resp = http_request_timeout("GET", health ? "/healthz" : site_path, health ? NULL : g_admin.token, NULL, NULL,
                                   NULL, 5000);
    e->end_ms = harness_now_ms() - g_t0;
    c->count++;
    harness_sleep_ms(FAST_PAUSE_MS);
  }
  return NULL;
}

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin); /* for the fixtures; each test signals a server of its own */
  harness_new_site_id(g_admin.token, g_read_site);
  return 0;
}

static int group_teardown(void **state) {
  if (g_psql > 0)
    harness_psql_wait(g_psql, lock_hold_ms() + 5000);
  return harness_suite_teardown(state);
}

/* After the signal: a new connection must be refused, or at least closed without an answer,
 * quickly.  Returns a description of what happened, and sets *ok. */
static const char *probe_new_connection(bool *ok, int64_t *ms) {
  static char what[160];
  int64_t t0 = harness_now_ms();
  int fd = harness_server_connect();
  if (fd < 0) {
    int e = errno;
    *ms = harness_now_ms() - t0;
    *ok = e == ECONNREFUSED || e == ECONNRESET;
    snprintf(what, sizeof what, "connect() failed: %s", strerror(e));
    return what;
  }
  static const char req[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  ssize_t sent = send(fd, req, sizeof req - 1, MSG_NOSIGNAL);
  (void)sent;
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  int n = poll(&pfd, 1, REFUSE_WITHIN_MS);
  *ms = harness_now_ms() - t0;
  if (n == 0) {
    *ok = false;
    snprintf(what, sizeof what,
             "the connection was accepted and nothing happened for %d ms (it hangs until the "
             "process exits)",
             REFUSE_WITHIN_MS);
  } else {
    char b[64];
    ssize_t got = recv(fd, b, sizeof b - 1, 0);
    if (got > 0) {
      b[got] = '\0';
      char *eol = strpbrk(b, "\r\n");
      if (eol)
        *eol = '\0';
      *ok = false;
      snprintf(what, sizeof what, "the connection was served after the signal: \"%s\"", b);
    } else {
      *ok = true;
      snprintf(what, sizeof what, "the connection was closed without an answer (%s)",
               got == 0 ? "EOF" : strerror(errno));
    }
  }
  close(fd);
  return what;
}

static void sigterm_under_load(const char *http_threads) {
  char threads_env[64];
  /* The slow PATCHes wait LOCK_HOLD_MS for their rows; the default statement and lock timeouts (5 s) would
   * race that wait and answer 503 (seen once on a fresh machine). */
  const char *env[3] = {NULL, NULL, NULL};
  int n_env = 0;
  if (!pooled())
    env[n_env++] = "FORUMNET_STATEMENT_TIMEOUT_MS=" STATEMENT_TIMEOUT_TEXT;
  if (http_threads) {
    snprintf(threads_env, sizeof threads_env, "FORUMNET_HTTP_THREADS=%s", http_threads);
    env[n_env++] = threads_env;
  }
  for (int i = 0; i < SLOW; i++)
    harness_new_site_id(g_admin.token, g_slow_sites[i]);
  atomic_store(&g_stop_fast, false);
  harness_server_start(env);
  long pid = harness_server_pid();
  assert_true(pid > 0);
  g_t0 = harness_now_ms();

  /* Lock the slow sites' rows, then start the PATCHes and wait until the server waits on the locks. */
  char sql[512];
  snprintf(sql, sizeof sql,
           "BEGIN; SELECT 1 FROM sites WHERE id IN ('%s', '%s', '%s') FOR UPDATE; SELECT pg_sleep(%g); COMMIT",
           g_slow_sites[0], g_slow_sites[1], g_slow_sites[2], lock_hold_ms() / 1000.0);
  g_psql = harness_psql_background(sql);
  if (!harness_psql_wait_count("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'psql' AND "
                               "wait_event = 'PgSleep'",
                               1, 5000))
    harness_fail("the psql session did not lock the rows within 5 s");
  int64_t locked_at = harness_now_ms() - g_t0;

  /* From here on threads run: a problem is recorded, and reported once they are all joined. */
  char not_in_flight[160] = "";
  pthread_t slow_threads[SLOW], fast_threads[FAST];
  slow_client slow[SLOW];
  fast_client fast[FAST];
  int slow_started = 0, fast_started = 0;
  /* One at a time: an epoll worker blocked in a handler accepts no other connection, so each PATCH
   * lands on its own worker (several sent at once may all be accepted by one worker and queue
   * behind each other there, unparsed). */
  for (int i = 0; i < SLOW; i++) {
    slow[i] = (slow_client){.index = i};
    snprintf(slow[i].name, sizeof slow[i].name, "Patched during shutdown %d", i);
    if (pthread_create(&slow_threads[i], NULL, slow_main, &slow[i]) != 0)
      break;
    slow_started++;
    if (!harness_psql_wait_count("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'forumnet' AND "
                                 "wait_event_type = 'Lock'",
                                 i + 1, 3000)) {
      snprintf(not_in_flight, sizeof not_in_flight,
               "PATCH %d of the locked rows was not waiting on its lock in the server within 3 s", i + 1);
      break;
    }
  }
  int64_t blocked_at = harness_now_ms() - g_t0;

  for (int i = 0; i < FAST && !not_in_flight[0]; i++) {
    fast[i] = (fast_client){.index = i};
    fast[i].ex = calloc(MAX_FAST_REQUESTS, sizeof(exchange));
    if (!fast[i].ex || pthread_create(&fast_threads[i], NULL, fast_main, &fast[i]) != 0)
      break;
    fast_started++;
  }
  harness_sleep_ms(300); /* the fast clients are flowing */

  int64_t signal_at = harness_now_ms() - g_t0;
  kill((pid_t)pid, SIGTERM);

  harness_sleep_ms(100);
  bool refused = false;
  int64_t probe_ms = 0;
  const char *probe = probe_new_connection(&refused, &probe_ms);

  harness_sleep_ms(FAST_AFTER_SIGNAL_MS);
  atomic_store(&g_stop_fast, true);
  int wstatus = harness_server_wait_exit(GRACE_MS + 2000);
  int64_t exited_at = harness_now_ms() - g_t0;
  for (int i = 0; i < slow_started; i++)
    pthread_join(slow_threads[i], NULL);
  for (int i = 0; i < fast_started; i++)
    pthread_join(fast_threads[i], NULL);
  int psql_status = harness_psql_wait(g_psql, lock_hold_ms() + 5000);
  g_psql = 0;
  if (not_in_flight[0])
    harness_fail("%s", not_in_flight);
  if (slow_started < SLOW || fast_started < FAST)
    fail_msg("could not start the client threads");

  /* Fast requests. */
  int before = 0, before_ok = 0, after = 0, after_answered = 0, after_failed = 0;
  for (int i = 0; i < FAST; i++) {
    for (int k = 0; k < fast[i].count; k++) {
      exchange *e = &fast[i].ex[k];
      http_response *r = e->resp;
      bool early = e->start_ms < signal_at - SIGNAL_SLACK_MS;
      if (r->status != 0) {
        /* Whatever was answered is a complete answer. */
        if (r->status != 200 || !r->json)
          harness_fail("%s %s sent at %lld ms (SIGTERM at %lld ms) was answered %ld with an incomplete or "
                       "unexpected body: %.200s",
                       r->method, r->path, (long long)e->start_ms, (long long)signal_at, r->status, r->body);
      } else if (early) {
        harness_fail("%s %s sent at %lld ms, %lld ms before SIGTERM, got no complete answer: %s (at %lld ms)",
                     r->method, r->path, (long long)e->start_ms, (long long)(signal_at - e->start_ms), r->error,
                     (long long)e->end_ms);
      }
      if (early) {
        before++;
        before_ok += r->status == 200;
      } else if (e->start_ms >= signal_at) {
        after++;
        after_answered += r->status != 0;
        after_failed += r->status == 0;
      }
    }
  }

  /* Slow requests: in flight at the signal (the server was waiting on their locks). */
  for (int i = 0; i < SLOW; i++) {
    http_response *r = slow[i].ex.resp;
    if (r->status != 200)
      harness_fail("PATCH in flight at SIGTERM (sent at %lld ms, SIGTERM at %lld ms) was answered %ld: %s %.200s",
                   (long long)slow[i].ex.start_ms, (long long)signal_at, r->status, r->error, r->body);
    assert_json_str(r->json, "name", slow[i].name);
    if (slow[i].ex.end_ms < signal_at)
      harness_fail("the PATCH was answered before SIGTERM (at %lld ms): the test did not hold it in flight",
                   (long long)slow[i].ex.end_ms);
  }

  print_message("# HTTP_THREADS=%s: rows locked at %lld ms, server waiting on them at %lld ms, SIGTERM at %lld ms, "
                "process gone at "
                "%lld ms; slow PATCHes answered at %lld/%lld/%lld ms; fast requests: %d sent before the signal "
                "(%d answered 200), %d after it (%d answered, %d failed at connection level); new connection "
                "%lld ms after SIGTERM: %s (%lld ms)\n",
                http_threads ? http_threads : "default", (long long)locked_at, (long long)blocked_at,
                (long long)signal_at, (long long)exited_at, (long long)slow[0].ex.end_ms, (long long)slow[1].ex.end_ms,
                (long long)slow[2].ex.end_ms, before, before_ok, after, after_answered, after_failed, 100LL, probe,
                (long long)probe_ms);

  if (psql_status != 0)
    harness_fail("the psql session holding the row locks failed (status %d)", psql_status);
  for (int i = 0; i < SLOW; i++) {
    char q[256];
    snprintf(q, sizeof q, "SELECT name FROM sites WHERE id = '%s'", g_slow_sites[i]);
    char *name = harness_psql_scalar(q);
    if (strcmp(name, slow[i].name) != 0)
      harness_fail("site %s is named \"%s\" after the 200 answer, expected \"%s\"", g_slow_sites[i], name,
                   slow[i].name);
    free(name);
  }
  if (wstatus == -1)
    harness_fail("forumnet did not exit within %d ms of SIGTERM (killed)", GRACE_MS + 2000);
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
    harness_fail("forumnet ended by SIGTERM with %s %d, expected exit status 0",
                 WIFEXITED(wstatus) ? "exit status" : "signal",
                 WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus));
  if (before == 0)
    harness_fail("no fast request was sent before the signal (test too weak)");
  if (!refused)
    harness_fail("a new connection %d ms after SIGTERM was not refused: %s", 100, probe);

  for (int i = 0; i < FAST; i++) {
    for (int k = 0; k < fast[i].count; k++)
      http_response_free(fast[i].ex[k].resp);
    free(fast[i].ex);
  }
  for (int i = 0; i < SLOW; i++)
    http_response_free(slow[i].ex.resp);
}

static void test_sigterm_default_workers(void **state) {
  (void)state;
  sigterm_under_load(NULL);
}

static void test_sigterm_thread_per_connection(void **state) {
  (void)state;
  sigterm_under_load("0");
}

static int test_teardown(void **state) {
  (void)state;
  if (g_psql > 0)
    harness_psql_wait(g_psql, lock_hold_ms() + 5000);
  g_psql = 0;
  while (harness_server_depth() > 1) /* a test's own server, if it failed before signalling it */
    harness_server_stop();
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_sigterm_default_workers, test_teardown),
      cmocka_unit_test_teardown(test_sigterm_thread_per_connection, test_teardown),
  };
  return cmocka_run_group_tests_name("e2e_fault_sigterm_serial", tests, group_setup, group_teardown);
}
