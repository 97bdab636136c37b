/*
 * e2e_db_pooler.c — FORUMNET_DB_POOLER=transaction (README "Behind a transaction-mode pooler"): no
 * startup options are sent, so statement_timeout, lock_timeout, TimeZone and jit must come from
 * ALTER ROLE ... IN DATABASE ... SET. The server checks them on every new connection and in /readyz:
 * wrong settings make /readyz 503 with one log line naming the fix; right ones make it 200.
 *
 * The settings are made in a database of this test's own (harness_create_database; dropped at exit, the role's
 * settings in it with it), so the role's settings in the shared test database stay as the rest of the suite
 * needs them.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *g_db; /* this test's database (harness_create_database) */
static char g_url[1024];

static void assert_log_mentions(const char *what) {
  char *log = harness_server_log_text();
  if (strstr(log, what) == NULL) {
    print_error("---- server log ----\n%s\n", log);
    free(log);
    fail_msg("the server log does not mention \"%s\"", what);
  }
  free(log);
}

/* /readyz answers status (200, or a 503 problem). */
static void assert_ready(long status) {
  http_response *r = http_get("/readyz", NULL);
  if (status == 200)
    assert_status(r, 200);
  else
    assert_problem_type(r, 503, "unavailable");
  http_response_free(r);
}

static int group_setup(void **state) {
  (void)state;
  g_db = harness_create_database("pooler", g_url, sizeof g_url);
  return 0;
}

static void set_role(const char *settings) {
  char sql[512];
  snprintf(sql, sizeof sql, "ALTER ROLE CURRENT_USER IN DATABASE %s SET %s", g_db, settings);
  if (harness_psql_try(sql) != 0)
    fail_msg("could not run: %s", sql);
}

/* A transaction-mode server on this test's database (migrations direct, as the README says). */
static void start_own_server(void) {
  char url[1100], direct[1100];
  snprintf(url, sizeof url, "FORUMNET_DATABASE_URL=%s", g_url);
  snprintf(direct, sizeof direct, "FORUMNET_DATABASE_DIRECT_URL=%s", g_url);
  const char *const env[] = {url, direct, "FORUMNET_DB_POOLER=transaction", "FORUMNET_STATEMENT_TIMEOUT_MS=5000", NULL};
  harness_server_start(env);
}

/* A timeout the role does not have (none has 4321 ms): /readyz 503 and the fix in the log, while the API
 * itself keeps answering (unnamed statements work on any connection). */
static void test_wrong_timeout_fails_readyz(void **state) {
  (void)state;
  const char *const env[] = {"FORUMNET_DB_POOLER=transaction", "FORUMNET_STATEMENT_TIMEOUT_MS=4321", NULL};
  harness_server_start(env);
  assert_ready(503);
  assert_log_mentions("the database role's settings are wrong");
  assert_log_mentions("SET statement_timeout = '4321ms'");
  http_response *r = http_get("/healthz", NULL);
  assert_status(r, 200);
  http_response_free(r);
  r = http_get("/v1/sites", NULL); /* no token: the database is not needed for the answer */
  assert_status(r, 401);
  http_response_free(r);
  harness_server_stop();
}

/* The README's statements make it ready; one setting changed (here TimeZone) makes the next server's
 * /readyz 503 again, naming what it found. */
static void test_role_settings_decide_readyz(void **state) {
  (void)state;
  set_role("statement_timeout = '5000ms'");
  set_role("lock_timeout = '5000ms'");
  set_role("TimeZone = 'UTC'");
  set_role("jit = off");
  start_own_server();
  for (int i = 0; i < 20; i++) /* the same unnamed statements again and again on one connection */
    assert_ready(200);
  harness_server_stop();

  set_role("TimeZone = 'Europe/London'");
  start_own_server();
  assert_ready(503);
  assert_log_mentions("TimeZone=Europe/London");
  harness_server_stop();

  set_role("jit = on");
  set_role("TimeZone = 'UTC'");
  start_own_server();
  assert_ready(503);
  assert_log_mentions("jit=on");
  harness_server_stop();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_wrong_timeout_fails_readyz),
      cmocka_unit_test(test_role_settings_decide_readyz),
  };
  return cmocka_run_group_tests_name("e2e_db_pooler", tests, group_setup, harness_suite_teardown);
}
