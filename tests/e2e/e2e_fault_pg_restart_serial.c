/*
 * e2e_fault_pg_restart_serial.c — nothing acknowledged is lost when PostgreSQL restarts under a
 * sustained write load (issue 8, faults (a)).
 *
 * WRITERS threads each create sites (POST /v1/sites, unique slugs "<prefix>-<thread>-<n>") in a
 * loop for LOAD_MS, paced (PAUSE_MS) except around the stop, where they go full speed so that
 * requests are in the middle of their transaction when the sessions are cut.  After STOP_AT_MS the test stops
 * PostgreSQL (FORUMNET_TEST_PG_STOP, a fast shutdown that cuts every session), waits DOWN_MS and starts it again
 * (FORUMNET_TEST_PG_START). Every answer is recorded.  Afterwards:
 *   - every request got an HTTP answer (a connection-level failure is a failure: the server must
 *     answer even while the database is away);
 *   - every answer is 201 or 503 problem+json "unavailable" with Retry-After: 1;
 *   - the sites stored under the prefix are exactly the ones answered 201 (nothing acknowledged
 *     is lost, nothing answered 503 was stored), each with its site.created audit row;
 *   - every 201's id reads back (GET 200, same slug) from the same, never restarted, server;
 *   - the outage was really hit (some 503s) and the server recovered (201s after the restart).
 *
 * It stops the shared PostgreSQL, so it runs alone (the _serial suffix).  Without
 * FORUMNET_TEST_PG_STOP/START it fails, unless HARNESS_SKIP_DB_OUTAGE=1 asks to skip it.
 * PostgreSQL is started again whatever happens (test, teardown, exit).
 */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WRITERS 8
#define MAX_PER_WRITER 400    /* bounds each loop in count ... */
#define LOAD_MS 6000          /* ... and in time */
#define STOP_AT_MS 2000       /* PostgreSQL is stopped this long after the load starts */
#define DOWN_MS 1000          /* and stays down this long */
#define PAUSE_MS 40           /* between two requests of one writer (bounds the sites created) ... */
#define BURST_MS 150          /* ... except this close to the stop, where they go full speed */
#define REQUEST_TIMEOUT 10000 /* ms; statement_timeout 5 s, connect timeout 2 s */

static harness_account g_admin;
static bool g_pg_stopped;
static char g_prefix[48];

typedef struct attempt {
  char slug[64];
  int64_t start_ms, end_ms; /* relative to the load's start */
  http_response *resp;
} attempt;

typedef struct writer {
  int index;
  int count;
  attempt attempts[MAX_PER_WRITER];
} writer;

static writer g_writers[WRITERS];
static int64_t g_load_start;

static void ensure_pg_started(void) {
  if (g_pg_stopped && harness_run_env_command("FORUMNET_TEST_PG_START"))
    g_pg_stopped = false;
}

static int group_setup(void **state) {
  (void)state;
  atexit(ensure_pg_started);
  static const char *const env[] = {"FORUMNET_DB_CONNECT_TIMEOUT=2", NULL};
  harness_suite_start(env, &g_admin);
  snprintf(g_prefix, sizeof g_prefix, "pgr-%ld-%lx", (long)getpid(), (unsigned long)time(NULL));
  return 0;
}

static int group_teardown(void **state) {
  ensure_pg_started();
  harness_suite_teardown(state);
  for (int w = 0; w < WRITERS; w++)
    for (int i = 0; i < g_writers[w].count; i++)
      http_response_free(g_writers[w].attempts[i].resp);
  return 0;
}

static void *writer_main(void *p) {
  writer *w = p;
  while (w->count < MAX_PER_WRITER && harness_now_ms() - g_load_start < LOAD_MS) {
    attempt *a = &w->attempts[w->count];
    snprintf(a->slug, sizeof a->slug, "%s-%d-%d", g_prefix, w->index, w->count);
    char body[256];
    snprintf(body, sizeof body, "{\"slug\":\"%s\",\"name\":\"Restart %s\",\"organisation\":\"E2E Trust\"}", a->slug,
             a->slug);
    a->start_ms = harness_now_ms() - g_load_start;
    a->resp = http_request_timeout("POST", "/v1/sites", g_admin.token, "application/json", body, NULL, REQUEST_TIMEOUT);
    a->end_ms = harness_now_ms() - g_load_start;
    w->count++;
    int64_t now = harness_now_ms() - g_load_start;
    if (now < STOP_AT_MS - BURST_MS || now > STOP_AT_MS + BURST_MS)
      harness_sleep_ms(PAUSE_MS);
  }
  return NULL;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Finds the attempt that sent slug (for messages). */
static const attempt *find_attempt(const char *slug) {
  for (int w = 0; w < WRITERS; w++)
    for (int i = 0; i < g_writers[w].count; i++)
      if (strcmp(g_writers[w].attempts[i].slug, slug) == 0)
        return &g_writers[w].attempts[i];
  return NULL;
}

static void test_pg_restart_under_write_load(void **state) {
  (void)state;
  if (!harness_pg_control_available()) {
    if (getenv("HARNESS_SKIP_DB_OUTAGE")) {
      skip();
      return;
    }
    fail_msg("FORUMNET_TEST_PG_STOP and FORUMNET_TEST_PG_START must be set by scripts/test.sh "
             "(or set HARNESS_SKIP_DB_OUTAGE=1 to skip this test)");
  }

  pthread_t threads[WRITERS];
  g_load_start = harness_now_ms();
  for (int w = 0; w < WRITERS; w++) {
    g_writers[w].index = w;
    g_writers[w].count = 0;
    if (pthread_create(&threads[w], NULL, writer_main, &g_writers[w]) != 0)
      fail_msg("pthread_create failed");
  }
  harness_sleep_ms(STOP_AT_MS);
  g_pg_stopped = true; /* even if the stop half-fails, start it again later */
  int64_t stop_begin = harness_now_ms() - g_load_start;
  bool stopped = harness_run_env_command("FORUMNET_TEST_PG_STOP");
  int64_t stop_end = harness_now_ms() - g_load_start;
  harness_sleep_ms(DOWN_MS);
  int64_t start_begin = harness_now_ms() - g_load_start;
  bool started = harness_run_env_command("FORUMNET_TEST_PG_START");
  int64_t start_end = harness_now_ms() - g_load_start;
  if (started)
    g_pg_stopped = false;
  for (int w = 0; w < WRITERS; w++)
    pthread_join(threads[w], NULL);
  if (!stopped || !started)
    fail_msg("could not stop and start PostgreSQL (FORUMNET_TEST_PG_STOP/START)");

  /* Every answer: 201 with the slug sent, or 503 unavailable with Retry-After: 1. */
  int total = 0, created = 0, unavailable = 0, created_after_restart = 0;
  int64_t max_ms = 0;
  char **acked = malloc(sizeof(char *) * WRITERS * MAX_PER_WRITER);
  assert_non_null(acked);
  for (int w = 0; w < WRITERS; w++) {
    for (int i = 0; i < g_writers[w].count; i++) {
      attempt *a = &g_writers[w].attempts[i];
      total++;
      if (a->end_ms - a->start_ms > max_ms)
        max_ms = a->end_ms - a->start_ms;
      if (a->resp->status == 0)
        harness_fail("POST /v1/sites (slug %s, sent at %lld ms, PostgreSQL stopped at %lld-%lld ms and started at "
                     "%lld-%lld ms) got no HTTP answer: %s",
                     a->slug, (long long)a->start_ms, (long long)stop_begin, (long long)stop_end,
                     (long long)start_begin, (long long)start_end, a->resp->error);
      if (a->resp->status == 201) {
        assert_json_str(a->resp->json, "slug", a->slug);
        assert_true(harness_is_uuid(hjson_str(a->resp->json, "id")));
        acked[created++] = a->slug;
        if (a->start_ms > start_end)
          created_after_restart++;
      } else {
        assert_problem_type(a->resp, 503, "unavailable");
        assert_header_equal(a->resp, "Retry-After", "1");
        unavailable++;
      }
    }
  }
  print_message("# %d requests in %lld ms: %d answered 201, %d answered 503; PostgreSQL stopped at %lld-%lld ms, "
                "started at %lld-%lld ms; slowest answer %lld ms\n",
                total, (long long)(harness_now_ms() - g_load_start), created, unavailable, (long long)stop_begin,
                (long long)stop_end, (long long)start_begin, (long long)start_end, (long long)max_ms);
  if (unavailable == 0)
    harness_fail("no request was answered 503: the load did not meet the outage (test too weak)");
  if (created_after_restart == 0)
    harness_fail("no site was created after PostgreSQL came back: the server did not recover within the load");

  /* What is stored under the prefix is exactly what was acknowledged. */
  char q[512];
  snprintf(q, sizeof q,
           "SELECT coalesce(string_agg(slug, ' ' ORDER BY slug COLLATE \"C\"), '') FROM sites WHERE slug LIKE '%s-%%'",
           g_prefix);
  char *stored_text = harness_psql_scalar(q);
  char **stored = malloc(sizeof(char *) * (WRITERS * MAX_PER_WRITER + 1));
  assert_non_null(stored);
  int nstored = 0;
  for (char *save = NULL, *tok = strtok_r(stored_text, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
    if (nstored >= WRITERS * MAX_PER_WRITER)
      harness_fail("more sites stored under %s than requests sent", g_prefix);
    stored[nstored++] = tok;
  }
  qsort(acked, (size_t)created, sizeof *acked, cmp_str);
  qsort(stored, (size_t)nstored, sizeof *stored, cmp_str);
  int i = 0, j = 0, lost = 0, phantom = 0;
  while (i < created || j < nstored) {
    int c = i >= created ? 1 : j >= nstored ? -1 : strcmp(acked[i], stored[j]);
    if (c == 0) {
      i++;
      j++;
    } else if (c < 0) {
      const attempt *a = find_attempt(acked[i]);
      print_error("LOST: site %s was answered 201 (sent at %lld ms) but is not stored\n", acked[i],
                  a ? (long long)a->start_ms : -1LL);
      lost++;
      i++;
    } else {
      const attempt *a = find_attempt(stored[j]);
      print_error("PHANTOM: site %s is stored but was answered %ld (sent at %lld ms, answered at %lld ms)\n", stored[j],
                  a ? a->resp->status : 0L, a ? (long long)a->start_ms : -1LL, a ? (long long)a->end_ms : -1LL);
      phantom++;
      j++;
    }
  }
  if (lost || phantom)
    harness_fail("%d acknowledged sites lost, %d stored sites answered 503 (PostgreSQL stopped at %lld-%lld ms, "
                 "started at %lld-%lld ms)",
                 lost, phantom, (long long)stop_begin, (long long)stop_end, (long long)start_begin,
                 (long long)start_end);

  /* Each stored site has its audit row (written in the same transaction). */
  snprintf(q, sizeof q,
           "SELECT count(DISTINCT s.id) FROM sites s JOIN audit_log a ON a.resource_id = s.id::text "
           "AND a.action = 'site.created' WHERE s.slug LIKE '%s-%%'",
           g_prefix);
  long audited = harness_psql_long(q);
  if (audited != nstored)
    harness_fail("%d sites stored but %ld of them have a site.created audit row", nstored, audited);

  /* And the same server reads every acknowledged site back. */
  for (int w = 0; w < WRITERS; w++) {
    for (int k = 0; k < g_writers[w].count; k++) {
      attempt *a = &g_writers[w].attempts[k];
      if (a->resp->status != 201)
        continue;
      http_response *r = http_get(hpath("/v1/sites/%s", hjson_str(a->resp->json, "id")), g_admin.token);
      assert_status(r, 200);
      assert_json_str(r->json, "slug", a->slug);
      http_response_free(r);
    }
  }
  free(stored_text);
  free(stored);
  free(acked);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pg_restart_under_write_load),
  };
  return cmocka_run_group_tests_name("e2e_fault_pg_restart_serial", tests, group_setup, group_teardown);
}
