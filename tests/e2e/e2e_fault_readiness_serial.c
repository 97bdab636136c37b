/*
 * e2e_fault_readiness_serial.c — drain and readiness behind a balancer (issue 13, item 4; README
 * "How it works", Readiness and Shutdown):
 *   - GET /readyz answers from the cached health state, within READY_WITHIN_MS, while every pool
 *     connection is held by a slow request (rows locked by psql) and while PostgreSQL is stopped;
 *   - after SIGTERM with FORUMNET_DRAIN_MS, /readyz answers 503 at once while a normal request
 *     still succeeds, and the process exits 0 once the drain is over;
 *   - with PostgreSQL down, a burst of requests is answered 503 with Retry-After and costs only a
 *     few connect attempts (forumnet_db_connect_attempts_total), not one per request;
 *   - a write on a read-only session (SQLSTATE 25006: a standby, a demoted primary; here a role with
 *     default_transaction_read_only) answers 503 with Retry-After, not 500;
 *   - every pool connection is open before the server answers its first request (db_pool_connect_all).
 *
 * It stops PostgreSQL and measures times, so it runs alone (the _serial suffix). PostgreSQL is
 * started again whatever happens, as in e2e_db_outage_serial.c.
 */
#include "harness.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define READY_WITHIN_MS 300 /* /readyz must answer within this, whatever the database does */
#define LOCK_HOLD_MS 4000   /* the slow requests wait this long on their row locks */
#define DRAIN_MS 1500       /* FORUMNET_DRAIN_MS of the drain test */
#define BURST 50            /* requests sent while PostgreSQL is down */
#define BURST_PAUSE_MS 20
#define BACKOFF_MS 250        /* FORUMNET_DB_RECONNECT_BACKOFF_MS, the default */
#define READY_FOLLOWS_MS 3000 /* the cached state follows the database within this (1 s checks) */

static harness_account g_admin;
static char g_site[HARNESS_ID_MAX], g_site_path[128];
static long g_psql;
static char g_ro_role[64];

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_new_site_id(g_admin.token, g_site);
  snprintf(g_site_path, sizeof g_site_path, "/v1/sites/%s", g_site);
  return 0;
}

static int test_teardown(void **state) {
  harness_pg_start();
  if (g_psql > 0)
    harness_psql_wait(g_psql, LOCK_HOLD_MS + 5000);
  g_psql = 0;
  harness_stop_nested_servers(state);
  if (g_ro_role[0]) {
    char sql[160];
    snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s", g_ro_role);
    harness_psql_try(sql);
    g_ro_role[0] = '\0';
  }
  return 0;
}

/* GET /readyz, asserting it answers `status` within READY_WITHIN_MS. */
static void expect_readyz_fast(long status, const char *when) {
  int64_t t0 = harness_now_ms();
  http_response *r = http_request_timeout("GET", "/readyz", NULL, NULL, NULL, NULL, 5000);
  int64_t ms = harness_now_ms() - t0;
  if (r->status != status)
    harness_fail("GET /readyz %s answered %ld (%s) in %lld ms, expected %ld: %.200s", when, r->status, r->error,
                 (long long)ms, status, r->body);
  if (status == 503)
    assert_non_null(http_header(r, "Retry-After"));
  if (ms > READY_WITHIN_MS)
    harness_fail("GET /readyz %s took %lld ms; it must answer from its cached state within %d ms", when, (long long)ms,
                 READY_WITHIN_MS);
  http_response_free(r);
}

/* A number from the current server's /metrics ("name value" line). */
static long metric(const char *name) {
  http_response *r = http_get("/metrics", NULL);
  assert_status(r, 200);
  size_t n = strlen(name);
  long value = -1;
  for (const char *line = r->body; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
    if (strncmp(line, name, n) == 0 && line[n] == ' ')
      value = strtol(line + n + 1, NULL, 10);
  http_response_free(r);
  if (value < 0)
    fail_msg("/metrics lacks %s", name);
  return value;
}

static bool pg_control_or_skip(void) {
  if (harness_pg_control_available())
    return true;
  if (getenv("HARNESS_SKIP_DB_OUTAGE"))
    return false;
  fail_msg("FORUMNET_TEST_PG_STOP and FORUMNET_TEST_PG_START must be set by scripts/test.sh "
           "(or set HARNESS_SKIP_DB_OUTAGE=1 to skip this test)");
  return false;
}

typedef struct slow_patch {
  const char *site;
  long status;
} slow_patch;

static void *slow_patch_main(void *p) {
  slow_patch *s = p;
  http_response *r = http_request_timeout("PATCH", hpath("/v1/sites/%s", s->site), g_admin.token, "application/json",
                                          "{\"name\":\"Patched while /readyz was asked\"}", NULL, 15000);
  s->status = r->status;
  http_response_free(r);
  return NULL;
}

/* Every pool connection waits on a row lock: /readyz still answers 200 at once (it used to queue
 * for a connection until FORUMNET_DB_ACQUIRE_TIMEOUT_MS and answer 503). */
static void test_readyz_while_every_connection_is_busy(void **state) {
  (void)state;
  enum { POOL = 2 };
  char sites[POOL][HARNESS_ID_MAX];
  for (int i = 0; i < POOL; i++)
    harness_new_site_id(g_admin.token, sites[i]);
  /* More workers than connections, so that a worker is free to take /readyz at all. */
  static const char *const env[] = {"FORUMNET_DB_POOL_SIZE=2", "FORUMNET_HTTP_THREADS=4", NULL};
  harness_server_start(env);
  expect_readyz_fast(200, "on an idle server");

  char sql[512];
  snprintf(sql, sizeof sql,
           "BEGIN; SELECT 1 FROM sites WHERE id IN ('%s', '%s') FOR UPDATE; SELECT pg_sleep(%g); COMMIT", sites[0],
           sites[1], LOCK_HOLD_MS / 1000.0);
  g_psql = harness_psql_background(sql);
  if (!harness_psql_wait_count("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'psql' AND "
                               "wait_event = 'PgSleep'",
                               1, 5000))
    harness_fail("the psql session did not lock the rows within 5 s");
  pthread_t threads[POOL];
  slow_patch patches[POOL];
  int started = 0;
  for (int i = 0; i < POOL; i++) {
    patches[i] = (slow_patch){.site = sites[i]};
    if (pthread_create(&threads[i], NULL, slow_patch_main, &patches[i]) != 0)
      break;
    started++;
    if (!harness_psql_wait_count("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'forumnet' AND "
                                 "wait_event_type = 'Lock'",
                                 i + 1, 3000))
      break;
  }
  long in_use = metric("forumnet_db_pool_in_use");
  for (int i = 0; i < 5 && in_use == POOL; i++) {
    expect_readyz_fast(200, "while every pool connection waits on a lock");
    harness_sleep_ms(100);
  }
  for (int i = 0; i < started; i++)
    pthread_join(threads[i], NULL);
  harness_psql_wait(g_psql, LOCK_HOLD_MS + 5000);
  g_psql = 0;
  if (started < POOL)
    fail_msg("could not start the slow requests");
  if (in_use != POOL)
    harness_fail("the slow requests held %ld of the %d pool connections: the test did not exhaust the pool", in_use,
                 POOL);
  for (int i = 0; i < POOL; i++)
    if (patches[i].status != 200)
      harness_fail("the slow PATCH %d was answered %ld once its lock was released", i, patches[i].status);
  harness_server_stop();
}

/* SIGTERM with FORUMNET_DRAIN_MS: /readyz turns 503 at once, requests are still served during the
 * drain, then the process exits 0. */
static void test_drain_after_sigterm(void **state) {
  (void)state;
  static const char *const env[] = {"FORUMNET_DRAIN_MS=1500", NULL};
  harness_server_start(env);
  expect_readyz_fast(200, "before SIGTERM");
  long pid = harness_server_pid();
  int64_t signal_at = harness_now_ms();
  kill((pid_t)pid, SIGTERM);
  harness_sleep_ms(100);
  int rounds = 0;
  while (harness_now_ms() - signal_at < DRAIN_MS - 400) {
    char when[64];
    snprintf(when, sizeof when, "%lld ms into the drain", (long long)(harness_now_ms() - signal_at));
    expect_readyz_fast(503, when);
    http_response *r = http_get(g_site_path, g_admin.token);
    if (r->status != 200)
      harness_fail("GET %s %s answered %ld (%s): requests must still be served during the drain", g_site_path, when,
                   r->status, r->error);
    assert_json_str(r->json, "id", g_site);
    http_response_free(r);
    rounds++;
    harness_sleep_ms(200);
  }
  int wstatus = harness_server_wait_exit(DRAIN_MS + 10000);
  int64_t exited_ms = harness_now_ms() - signal_at;
  print_message("# drain: %d rounds of /readyz 503 + GET 200 during the drain; process gone %lld ms after SIGTERM "
                "(FORUMNET_DRAIN_MS=%d)\n",
                rounds, (long long)exited_ms, DRAIN_MS);
  if (rounds < 2)
    harness_fail("only %d checks during the drain (test too weak)", rounds);
  if (wstatus == -1 || !WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
    harness_fail("forumnet did not exit with status 0 after the drain (wait status %d)", wstatus);
  if (exited_ms < DRAIN_MS - 100)
    harness_fail("forumnet exited %lld ms after SIGTERM, before its %d ms drain was over", (long long)exited_ms,
                 DRAIN_MS);
}

/* PostgreSQL down: a burst of requests costs a few connect attempts (the reconnect backoff), every
 * one answered 503 with Retry-After at once; /readyz answers 503 quickly; all recover. */
static void test_reconnect_backoff_while_database_down(void **state) {
  (void)state;
  if (!pg_control_or_skip()) {
    skip();
    return;
  }
  static const char *const env[] = {"FORUMNET_DB_POOL_SIZE=4", "FORUMNET_DB_CONNECT_TIMEOUT=2", NULL};
  harness_server_start(env);
  http_response *r = http_get(g_site_path, g_admin.token);
  assert_status(r, 200);
  http_response_free(r);

  harness_pg_stop();
  /* The pooled sessions die with the server: the first requests find them broken and connect
   * again once; what is measured is everything from the first failed connect on. */
  for (int i = 0; i < 10; i++) {
    r = http_get(g_site_path, g_admin.token);
    http_response_free(r);
  }
  long attempts_before = metric("forumnet_db_connect_attempts_total");
  int64_t t0 = harness_now_ms(), slowest = 0;
  for (int i = 0; i < BURST; i++) {
    int64_t s = harness_now_ms();
    r = http_get(g_site_path, g_admin.token);
    int64_t ms = harness_now_ms() - s;
    slowest = ms > slowest ? ms : slowest;
    assert_problem_type(r, 503, "unavailable");
    assert_header_equal(r, "Retry-After", "1");
    http_response_free(r);
    harness_sleep_ms(BURST_PAUSE_MS); /* the burst lasts several backoff periods */
  }
  int64_t elapsed = harness_now_ms() - t0;
  long attempts = metric("forumnet_db_connect_attempts_total") - attempts_before;
  /* One probe per backoff period (requests and the readiness check share it), plus one in flight. */
  long allowed = 2 + (long)(elapsed / BACKOFF_MS);
  print_message("# PostgreSQL down: %d requests in %lld ms (slowest %lld ms), all 503 with Retry-After; %ld connect "
                "attempts (at most %ld allowed)\n",
                BURST, (long long)elapsed, (long long)slowest, attempts, allowed);
  if (attempts > allowed)
    harness_fail("%d requests with PostgreSQL down made %ld connect attempts in %lld ms; the backoff (%d ms) allows "
                 "%ld",
                 BURST, attempts, (long long)elapsed, BACKOFF_MS, allowed);
  harness_wait_readyz(503, READY_FOLLOWS_MS);
  for (int i = 0; i < 3; i++)
    expect_readyz_fast(503, "with PostgreSQL down");

  if (!harness_pg_start())
    fail_msg("could not start PostgreSQL with FORUMNET_TEST_PG_START");
  int64_t deadline = harness_now_ms() + 20000;
  for (;;) {
    r = http_get(g_site_path, g_admin.token);
    long status = r->status;
    if (status != 200 && status != 503)
      assert_status(r, 200);
    http_response_free(r);
    if (status == 200)
      break;
    if (harness_now_ms() > deadline)
      harness_fail("no 200 within 20 s of PostgreSQL coming back");
    harness_sleep_ms(100);
  }
  harness_wait_readyz(200, READY_FOLLOWS_MS);
  expect_readyz_fast(200, "once PostgreSQL is back");
  harness_server_stop();
}

/* The URL of the test database with user=role instead of its own user. */
static void url_for_role(const char *role, char *out, size_t out_size) {
  const char *url = getenv("FORUMNET_TEST_DATABASE_URL");
  assert_non_null(url);
  const char *user = strstr(url, "user=");
  if (user == NULL) {
    snprintf(out, out_size, "%s%suser=%s", url, strchr(url, '?') ? "&" : "?", role);
    return;
  }
  const char *rest = strchr(user, '&');
  snprintf(out, out_size, "%.*suser=%s%s", (int)(user - url), url, role, rest ? rest : "");
}

/* A session whose transactions are read-only (as on a standby, or a primary demoted under the
 * pool): reads work, a write answers 503 with Retry-After (SQLSTATE 25006), never 500. */
static void test_write_on_read_only_session_is_unavailable(void **state) {
  (void)state;
  snprintf(g_ro_role, sizeof g_ro_role, "forumnet_ro_%ld", (long)getpid());
  char *owner = harness_psql_scalar("SELECT current_user");
  char sql[512];
  snprintf(sql, sizeof sql,
           "CREATE ROLE %s LOGIN; GRANT \"%s\" TO %s; ALTER ROLE %s SET default_transaction_read_only = on", g_ro_role,
           owner, g_ro_role, g_ro_role);
  free(owner);
  free(harness_psql_scalar(sql));
  if (getenv("FORUMNET_TEST_POOLER_URL") != NULL) {
    /* The PgBouncer pass: servers run with FORUMNET_DB_POOLER=transaction, which takes its session settings from
     * the role (README "Behind a transaction-mode pooler"); give this role the ones the pass's own role has. The
     * server still connects directly (PgBouncer knows one role), so what is tested is the 25006 path in that mode. */
    snprintf(sql, sizeof sql,
             "ALTER ROLE %s SET statement_timeout = '5000ms'; ALTER ROLE %s SET lock_timeout = '5000ms';"
             " ALTER ROLE %s SET TimeZone = 'UTC'; ALTER ROLE %s SET jit = off",
             g_ro_role, g_ro_role, g_ro_role, g_ro_role);
    free(harness_psql_scalar(sql));
  }
  char url[1200], url_env[1300];
  url_for_role(g_ro_role, url, sizeof url);
  snprintf(url_env, sizeof url_env, "FORUMNET_DATABASE_URL=%s", url);
  const char *env[] = {url_env, "FORUMNET_DB_POOL_SIZE=2", NULL};
  harness_server_start(env);
  expect_readyz_fast(200, "on a read-only session");

  http_response *r = http_get(g_site_path, g_admin.token);
  assert_status(r, 200);
  http_response_free(r);
  long attempts_before = metric("forumnet_db_connect_attempts_total");
  for (int i = 0; i < 5; i++) {
    r = http_json("PATCH", g_site_path, g_admin.token, json_pack("{s:s}", "name", "Written to a read-only server"));
    assert_problem_type(r, 503, "unavailable");
    assert_header_equal(r, "Retry-After", "1");
    http_response_free(r);
  }
  long attempts = metric("forumnet_db_connect_attempts_total") - attempts_before;
  print_message("# read-only session: 5 writes answered 503, %ld connect attempts meanwhile\n", attempts);
  long stored = harness_psql_long("SELECT count(*) FROM sites WHERE name = 'Written to a read-only server'");
  if (stored != 0)
    harness_fail("a change was stored through a read-only session");
  harness_server_stop();
}

/* The pool opens all its connections before the server listens: opened on demand by the first requests under
 * load, each kept its requests waiting 100 ms to 1 s (README "Performance", the cold start). No request has
 * needed more than one connection yet, so without the opening at start the counter would show one or two. */
static void test_every_pool_connection_open_before_the_first_request(void **state) {
  (void)state;
  enum { POOL = 5 };
  static const char *const env[] = {"FORUMNET_DB_POOL_SIZE=5", "FORUMNET_HTTP_THREADS=2", NULL};
  harness_server_start(env);
  long opened = metric("forumnet_db_reconnects_total");
  if (opened != POOL)
    fail_msg("forumnet_db_reconnects_total is %ld right after the start; the pool has %d connections", opened, POOL);
  harness_server_stop();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_readyz_while_every_connection_is_busy, test_teardown),
      cmocka_unit_test_teardown(test_drain_after_sigterm, test_teardown),
      cmocka_unit_test_teardown(test_reconnect_backoff_while_database_down, test_teardown),
      cmocka_unit_test_teardown(test_write_on_read_only_session_is_unavailable, test_teardown),
      cmocka_unit_test_teardown(test_every_pool_connection_open_before_the_first_request, test_teardown),
  };
  return cmocka_run_group_tests_name("e2e_fault_readiness_serial", tests, group_setup, harness_suite_teardown);
}
