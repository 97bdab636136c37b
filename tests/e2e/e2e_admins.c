/*
 * e2e_admins.c — findings of issue 11 that need the whole database to themselves, so this file
 * runs on a database of its own (harness_use_own_database).
 *
 * 1. The last active admin survives two concurrent demotions: two admins demote each other at the
 *    same moment; exactly one succeeds and an active admin remains.  That needs a state with
 *    exactly two active admins: it suspends every other active admin of its database for the
 *    test, directly in the database, and makes them active again afterwards (also from its
 *    teardown, should the test fail half-way).
 * 2. A database failure while checking a site's time zone answers 503 (not a 500 without a
 *    body): a psql session holds an exclusive lock on pg_timezone_names while a server with a
 *    short lock_timeout creates a site with a timezone.  On the shared database the lock would
 *    stall other binaries' site writes.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 10

static harness_account g_admin;
static char *g_suspended; /* comma-separated ids this file suspended, to make active again */
static long g_psql;

static void restore_admins(void) {
  if (g_suspended == NULL || g_suspended[0] == '\0')
    return;
  size_t n = strlen(g_suspended) + 256;
  char *sql = malloc(n);
  assert_non_null(sql);
  snprintf(sql, n,
           "UPDATE members SET status = 'active' WHERE status = 'suspended'"
           " AND id = ANY (string_to_array('%s', ',')::uuid[])",
           g_suspended);
  if (harness_psql_try(sql) == 0)
    g_suspended[0] = '\0';
  free(sql);
}

static int group_setup(void **state) {
  (void)state;
  harness_use_own_database("admins");
  harness_suite_start(NULL, &g_admin);
  g_suspended = calloc(1, 1);
  return 0;
}

static int group_teardown(void **state) {
  restore_admins();
  free(g_suspended);
  g_suspended = NULL;
  if (g_psql > 0)
    harness_psql_wait(g_psql, 10000);
  return harness_suite_teardown(state);
}

/* Suspends every active admin but a and b, remembering whom. */
static void leave_two_admins(const char *a, const char *b) {
  char sql[512];
  snprintf(sql, sizeof sql,
           "WITH s AS (UPDATE members SET status = 'suspended' WHERE role = 'admin' AND status = 'active'"
           " AND id NOT IN ('%s', '%s') RETURNING id) SELECT coalesce(string_agg(id::text, ','), '') FROM s",
           a, b);
  char *ids = harness_psql_scalar(sql);
  if (ids[0]) {
    size_t n = strlen(g_suspended) + strlen(ids) + 2;
    char *all = malloc(n);
    assert_non_null(all);
    snprintf(all, n, "%s%s%s", g_suspended, g_suspended[0] ? "," : "", ids);
    free(g_suspended);
    g_suspended = all;
  }
  free(ids);
  assert_int_equal(harness_psql_long("SELECT count(*) FROM members WHERE role = 'admin' AND status = 'active'"), 2);
}

static void test_two_admins_demoting_each_other_leave_one(void **state) {
  (void)state;
  char creator[HARNESS_TOKEN_MAX];
  snprintf(creator, sizeof creator, "%s", g_admin.token);
  for (int round = 0; round < ROUNDS; round++) {
    harness_account a, b;
    harness_new_member_quick(creator, "admin", NULL, &a);
    harness_new_member_quick(creator, "admin", NULL, &b);
    leave_two_admins(a.id, b.id);

    harness_race_req reqs[2] = {{.method = "PATCH", .token = a.token, .body = json_pack("{s:s}", "role", "manager")},
                                {.method = "PATCH", .token = b.token, .body = json_pack("{s:s}", "role", "manager")}};
    snprintf(reqs[0].path, sizeof reqs[0].path, "/v1/members/%s", b.id);
    snprintf(reqs[1].path, sizeof reqs[1].path, "/v1/members/%s", a.id);
    harness_race(reqs, 2);

    int ok = (reqs[0].status == 200) + (reqs[1].status == 200);
    long active = harness_psql_long("SELECT count(*) FROM members WHERE role = 'admin' AND status = 'active'");
    if (ok != 1 || active != 1)
      harness_fail("round %d: two admins demoting each other: %ld and %ld (%s | %s); %ld active admins left", round,
                   reqs[0].status, reqs[1].status, reqs[0].response, reqs[1].response, active);
    /* the loser was refused: the last admin (409), or no longer an admin by the time it was checked */
    long refused = reqs[0].status == 200 ? reqs[1].status : reqs[0].status;
    if (refused != 409 && refused != 403 && refused != 404)
      harness_fail("round %d: the refused demotion answered %ld", round, refused);
    snprintf(creator, sizeof creator, "%s", reqs[0].status == 200 ? a.token : b.token);
  }
  restore_admins();
}

static void test_timezone_check_failure_is_503(void **state) {
  (void)state;
  static const char *const env[] = {"FORUMNET_STATEMENT_TIMEOUT_MS=800", NULL};
  harness_server_start(env);
  harness_account admin;
  harness_new_admin(&admin);
  g_psql = harness_psql_background(
      "BEGIN; LOCK TABLE pg_catalog.pg_timezone_names IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT");
  if (!harness_psql_wait_count("SELECT count(*) FROM pg_locks WHERE relation = 'pg_catalog.pg_timezone_names'::regclass"
                               " AND mode = 'AccessExclusiveLock' AND granted",
                               1, 5000))
    harness_fail("the psql session did not get its lock on pg_timezone_names within 5 s");
  char slug[HARNESS_NAME_MAX];
  harness_unique("tz", slug);
  http_response *r = http_json(
      "POST", "/v1/sites", admin.token,
      json_pack("{s:s, s:s, s:s, s:s}", "slug", slug, "name", slug, "organisation", "Org", "timezone", "Europe/Paris"));
  assert_problem_type(r, 503, "unavailable");
  http_response_free(r);
  harness_psql_wait(g_psql, 10000);
  g_psql = 0;
  /* and once the database answers again, the same request succeeds */
  r = http_json(
      "POST", "/v1/sites", admin.token,
      json_pack("{s:s, s:s, s:s, s:s}", "slug", slug, "name", slug, "organisation", "Org", "timezone", "Europe/Paris"));
  assert_status(r, 201);
  http_response_free(r);
  harness_server_stop();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_two_admins_demoting_each_other_leave_one),
      cmocka_unit_test(test_timezone_check_failure_is_503),
  };
  return cmocka_run_group_tests_name("e2e_admins", tests, group_setup, group_teardown);
}
