/*
 * e2e_replica_reads_serial.c — summaries served by a streaming replica only when it has replayed the
 * caller's last change (FORUMNET_DATABASE_READ_URL; issue 13 item 2; README "Running several instances").
 *
 * The test makes a real hot standby of scripts/test.sh's cluster (tests/e2e/replica.sh: pg_basebackup -R
 * -X stream) that applies each commit APPLY_DELAY late (recovery_min_apply_delay), and a server with
 * FORUMNET_DATABASE_READ_URL pointing at it.  Where a summary's figures came from is read from /metrics
 * (forumnet_summary_reads_total{source}, forumnet_summary_replica_fallbacks_total{reason}):
 *   - a manager's change shows in their summary read at once: the replica is behind (it still has no row
 *     of it), so the figures come from the primary;
 *   - once the replica has replayed the change, the summary (JSON, the list as JSON and as CSV) is served by
 *     the replica, and shows the change;
 *   - the replica stopped: summaries still answer 200 from the primary;
 *   - positions are recorded only with a replica configured, and erasure deletes the member's.
 *
 * It starts and stops a PostgreSQL of its own (the _serial suffix keeps other tests' load off it).  It
 * skips only when pg_basebackup is missing (Debian's postgresql-15 has it).
 */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define APPLY_DELAY "3s"
#define CATCH_UP_MS 30000

static harness_account g_admin, g_mgr;
static char g_site[HARNESS_ID_MAX];
static char g_dir[64];
static const char *g_skip_why;

/* tests/e2e/replica.sh CMD g_dir [ARG]; true when it exits 0. */
static bool replica(const char *cmd, const char *arg) {
  char line[1024];
  snprintf(line, sizeof line, "bash '%s/replica.sh' %s '%s' %s", FORUMNET_E2E_DIR, cmd, g_dir, arg ? arg : "");
  fflush(NULL);
  int rc = system(line);
  return rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
}

static void destroy_replica(void) {
  if (g_dir[0])
    replica("destroy", NULL);
  g_dir[0] = '\0';
}

static const char *pg_user(void) {
  const char *u = getenv("FORUMNET_TEST_PG_USER");
  return u && *u ? u : "forumnet";
}

/* One value from the replica (psql -Atc), or "" when psql fails. Caller frees. */
static char *replica_scalar(const char *query) {
  char line[2048], out[256] = "";
  snprintf(line, sizeof line, "psql -X -Atc \"%s\" 'postgresql:///forumnet?host=%s/run&port=5433&user=%s' 2>&1", query,
           g_dir, pg_user());
  fflush(NULL);
  FILE *p = popen(line, "r");
  if (p == NULL)
    return strdup("");
  if (fgets(out, sizeof out, p) == NULL)
    out[0] = '\0';
  pclose(p);
  out[strcspn(out, "\r\n")] = '\0';
  return strdup(out);
}

/* Polls query on the replica until it answers want; true if it did within timeout_ms. */
static bool replica_wait_for(const char *query, const char *want, int timeout_ms) {
  int64_t until = harness_now_ms() + timeout_ms;
  for (;;) {
    char *v = replica_scalar(query);
    bool ok = strcmp(v, want) == 0;
    free(v);
    if (ok)
      return true;
    if (harness_now_ms() > until)
      return false;
    harness_sleep_ms(100);
  }
}

/* Waits until the replica has replayed everything the primary has written so far. */
static void replica_catch_up(void) {
  char q[128], *lsn = harness_psql_scalar("SELECT pg_current_wal_insert_lsn()");
  snprintf(q, sizeof q, "SELECT pg_last_wal_replay_lsn() >= '%s'", lsn);
  free(lsn);
  if (!replica_wait_for(q, "t", CATCH_UP_MS))
    harness_fail("the replica did not catch up with the primary within %d ms", CATCH_UP_MS);
}

/* The value of one series of /metrics, e.g. "forumnet_summary_reads_total{source=\"replica\"}". */
static long metric(const char *series) {
  http_response *r = http_get("/metrics", NULL);
  assert_status(r, 200);
  size_t n = strlen(series);
  long v = -1;
  for (const char *p = r->body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
    if (strncmp(p, series, n) == 0 && p[n] == ' ')
      v = strtol(p + n + 1, NULL, 10);
  http_response_free(r);
  if (v < 0)
    harness_fail("/metrics lacks %s", series);
  return v;
}

#define READS_REPLICA "forumnet_summary_reads_total{source=\"replica\"}"
#define READS_PRIMARY "forumnet_summary_reads_total{source=\"primary\"}"
#define FALLBACK_BEHIND "forumnet_summary_replica_fallbacks_total{reason=\"behind\"}"
#define FALLBACK_UNREACHABLE "forumnet_summary_replica_fallbacks_total{reason=\"unreachable\"}"
#define FALLBACK_ERROR "forumnet_summary_replica_fallbacks_total{reason=\"error\"}"

typedef struct counts {
  long replica, primary, behind, failed;
} counts;

static counts read_counts(void) {
  counts c = {metric(READS_REPLICA), metric(READS_PRIMARY), metric(FALLBACK_BEHIND),
              metric(FALLBACK_UNREACHABLE) + metric(FALLBACK_ERROR)};
  return c;
}

/* The groups (of every status) in the site's summary, read as the manager. */
static long summary_groups(void) {
  http_response *r = http_get(hpath("/v1/sites/%s/summary", g_site), g_mgr.token);
  assert_status(r, 200);
  long n = 0;
  const char *statuses[] = {"groups.forming", "groups.active", "groups.dormant", "groups.closed"};
  for (int i = 0; i < 4; i++)
    n += (long)json_integer_value(hjson_get(r->json, statuses[i]));
  http_response_free(r);
  return n;
}

static long site_groups_on_replica(void) {
  char q[256];
  snprintf(q, sizeof q, "SELECT count(*) FROM groups WHERE site_id = '%s'", g_site);
  char *v = replica_scalar(q);
  char *end;
  long n = strtol(v, &end, 10);
  if (end == v || *end != '\0')
    harness_fail("psql on the replica answered \"%s\"", v);
  free(v);
  return n;
}

static int group_setup(void **state) {
  (void)state;
  const char *bin = getenv("FORUMNET_TEST_PG_BIN");
  char basebackup[512];
  snprintf(basebackup, sizeof basebackup, "%s/pg_basebackup", bin && *bin ? bin : "/usr/lib/postgresql/15/bin");
  if (access(basebackup, X_OK) != 0) {
    g_skip_why = "pg_basebackup is missing (install postgresql-15): no replica can be made";
    return 0;
  }
  if (!getenv("FORUMNET_TEST_PG_HOST") || !getenv("FORUMNET_TEST_PG_PORT"))
    fail_msg("FORUMNET_TEST_PG_HOST and FORUMNET_TEST_PG_PORT must be set by scripts/test.sh");
  snprintf(g_dir, sizeof g_dir, "/tmp/forumnet-replica.XXXXXX");
  if (mkdtemp(g_dir) == NULL || chmod(g_dir, 0755) != 0)
    fail_msg("mkdtemp: %s", strerror(errno));
  atexit(destroy_replica);
  if (!replica("start", APPLY_DELAY))
    fail_msg("could not make and start the replica (tests/e2e/replica.sh start %s)", g_dir);
  char read_url[256];
  snprintf(read_url, sizeof read_url, "FORUMNET_DATABASE_READ_URL=postgresql:///forumnet?host=%s/run&port=5433&user=%s",
           g_dir, pg_user());
  const char *env[] = {read_url, "FORUMNET_DB_READ_POOL_SIZE=2", "FORUMNET_DB_CONNECT_TIMEOUT=2", NULL};
  harness_suite_start(env, &g_admin);
  harness_new_site_id(g_admin.token, g_site);
  harness_new_manager_quick(g_admin.token, g_site, &g_mgr);
  return 0;
}

static int group_teardown(void **state) {
  harness_suite_teardown(state);
  destroy_replica();
  return 0;
}

#define SKIP_WITHOUT_REPLICA()                                                                                         \
  do {                                                                                                                 \
    if (g_skip_why) {                                                                                                  \
      print_message("skipped: %s\n", g_skip_why);                                                                      \
      skip();                                                                                                          \
    }                                                                                                                  \
  } while (0)

/* (1) The apply delay holds the change back on the replica; the summary read at once shows it anyway. */
static void test_own_change_read_at_once_from_primary(void **state) {
  (void)state;
  SKIP_WITHOUT_REPLICA();
  /* the replica knows the site and the manager, so only the apply delay can keep the change from it */
  replica_catch_up();
  assert_int_equal(summary_groups(), 0);
  counts before = read_counts();
  json_decref(harness_new_group(g_mgr.token, g_site, 0, 0, NULL));
  long groups = summary_groups();
  long on_replica = site_groups_on_replica();
  counts after = read_counts();
  if (groups != 1)
    harness_fail("the summary read right after the manager's change shows %ld groups, not 1", groups);
  if (on_replica != 0)
    harness_fail("the replica already holds the group (%ld): the apply delay did not hold it back", on_replica);
  assert_int_equal(after.replica - before.replica, 0);
  assert_int_equal(after.primary - before.primary, 1);
  assert_int_equal(after.behind - before.behind, 1);
  /* the position was recorded on the primary, for this member */
  char q[256];
  snprintf(q, sizeof q, "SELECT count(*) FROM member_write_positions WHERE member_id = '%s'", g_mgr.id);
  assert_int_equal(harness_psql_long(q), 1);
}

/* (2) Once the replica has replayed the change, it serves the summaries: JSON, the list, its CSV. */
static void test_caught_up_replica_serves_summaries(void **state) {
  (void)state;
  SKIP_WITHOUT_REPLICA();
  char q[256], *lsn;
  snprintf(q, sizeof q, "SELECT lsn FROM member_write_positions WHERE member_id = '%s'", g_mgr.id);
  lsn = harness_psql_scalar(q);
  snprintf(q, sizeof q, "SELECT pg_last_wal_replay_lsn() >= '%s'", lsn);
  free(lsn);
  if (!replica_wait_for(q, "t", CATCH_UP_MS))
    harness_fail("the replica did not replay the manager's change within %d ms", CATCH_UP_MS);
  counts before = read_counts();
  long groups = summary_groups();
  http_response *list = http_get("/v1/summaries/sites", g_mgr.token);
  const char *const csv[] = {"Accept: text/csv", NULL};
  http_response *as_csv = http_get_with_headers("/v1/summaries/sites", g_mgr.token, csv);
  counts after = read_counts();
  assert_int_equal(groups, 1);
  assert_status(list, 200);
  assert_int_equal(json_array_size(hjson_get(list->json, "items")), 1);
  assert_int_equal(
      json_integer_value(hjson_get(json_array_get(hjson_get(list->json, "items"), 0), "groups.forming")) +
          json_integer_value(hjson_get(json_array_get(hjson_get(list->json, "items"), 0), "groups.active")),
      1);
  assert_status(as_csv, 200);
  if (strstr(as_csv->body, g_site) == NULL)
    harness_fail("the CSV list lacks the manager's site: %s", as_csv->body);
  http_response_free(list);
  http_response_free(as_csv);
  if (after.replica - before.replica != 3)
    harness_fail("the replica served %ld of 3 summaries (primary %ld, behind %ld, failed %ld)",
                 after.replica - before.replica, after.primary - before.primary, after.behind - before.behind,
                 after.failed - before.failed);
  assert_int_equal(after.primary - before.primary, 0);
}

/* Positions are recorded only with a replica configured; erasure deletes the member's. */
static void test_positions_only_with_a_replica_and_erased(void **state) {
  (void)state;
  SKIP_WITHOUT_REPLICA();
  harness_account m;
  char q[256];
  harness_server_start(NULL); /* no FORUMNET_DATABASE_READ_URL */
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &m);
  http_response *r = http_json("PATCH", "/v1/me", m.token, json_pack("{s:s}", "discipline", "Without a replica"));
  assert_status(r, 200);
  http_response_free(r);
  harness_server_stop();
  snprintf(q, sizeof q, "SELECT count(*) FROM member_write_positions WHERE member_id = '%s'", m.id);
  assert_int_equal(harness_psql_long(q), 0);
  r = http_json("PATCH", "/v1/me", m.token, json_pack("{s:s}", "discipline", "With a replica"));
  assert_status(r, 200);
  http_response_free(r);
  assert_int_equal(harness_psql_long(q), 1);
  r = http_request("DELETE", hpath("/v1/members/%s", m.id), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  assert_int_equal(harness_psql_long(q), 0);
}

/* (3) The replica stopped: summaries still answer, from the primary, with the caller's latest change. */
static void test_replica_stopped_primary_answers(void **state) {
  (void)state;
  SKIP_WITHOUT_REPLICA();
  if (!replica("stop", NULL))
    fail_msg("could not stop the replica");
  counts before = read_counts();
  for (int i = 0; i < 3; i++) {
    http_response *r = http_get(hpath("/v1/sites/%s/summary", g_site), g_mgr.token);
    assert_status(r, 200);
    http_response_free(r);
  }
  json_decref(harness_new_group(g_mgr.token, g_site, 0, 0, NULL));
  long groups = summary_groups();
  http_response *list = http_get("/v1/summaries/sites", g_mgr.token);
  assert_status(list, 200);
  http_response_free(list);
  counts after = read_counts();
  assert_int_equal(groups, 2);
  assert_int_equal(after.replica - before.replica, 0);
  assert_int_equal(after.primary - before.primary, 5);
  assert_int_equal(after.failed - before.failed, 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_own_change_read_at_once_from_primary),
      cmocka_unit_test(test_caught_up_replica_serves_summaries),
      cmocka_unit_test(test_positions_only_with_a_replica_and_erased),
      cmocka_unit_test(test_replica_stopped_primary_answers),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
