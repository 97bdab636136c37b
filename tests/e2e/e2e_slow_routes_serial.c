/*
 * e2e_slow_routes_serial.c — issue 18: a slow request never holds up the other connections of its epoll worker
 * (include/forumnet/offload.h: routes flagged ROUTE_SLOW run on FORUMNET_SLOW_THREADS threads of their own).
 *
 * A psql session locks site_figures, which every summary reads and no other route of these tests does, for
 * LOCK_MS; a GET /v1/summaries/sites sent meanwhile waits for it inside the server. Every server here has a
 * single epoll worker (FORUMNET_HTTP_THREADS=1), so on that worker every other connection would wait too:
 *   - with slow threads (the suite's server), a GET /v1/sites/{id} sent while the summary waits is answered
 *     within FAST_BOUND_MS, before the summary, which then answers 200;
 *   - without them (FORUMNET_SLOW_THREADS=0, the control), the same read waits for the summary: the stall the
 *     first test proves absent, so that test can fail;
 *   - many slow requests at once (more than the threads) all answer, each with the overview;
 *   - SIGTERM while a slow request waits: it is answered, and the server exits 0.
 * Serial: the lock would hold up the summaries of suites running beside it.
 */
#include "harness.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>

#define LOCK_MS 3000
#define FAST_BOUND_MS 1000
#define MANY 12

static harness_account g_admin;
static char g_site[HARNESS_ID_MAX];
static long g_psql;

typedef struct slow_call {
  long status;
  int64_t ms;
  size_t sites; /* items on the overview page */
  atomic_int done;
} slow_call;

static void *summary_main(void *arg) {
  slow_call *call = arg;
  int64_t t0 = harness_now_ms();
  http_response *r = http_get("/v1/summaries/sites", g_admin.token);
  call->status = r->status;
  call->sites = json_array_size(json_object_get(r->json, "items"));
  call->ms = harness_now_ms() - t0;
  http_response_free(r);
  atomic_store(&call->done, 1);
  return NULL;
}

/* Locks site_figures for LOCK_MS, starts a GET /v1/summaries/sites on *thread and returns once the server's
 * statement waits for the lock; fails the test if it does not within 3 s (the thread joined first). */
static void start_summary_waiting_for_lock(pthread_t *thread, slow_call *call) {
  char sql[160];
  snprintf(sql, sizeof sql, "BEGIN; LOCK TABLE site_figures IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(%g); COMMIT",
           LOCK_MS / 1000.0);
  g_psql = harness_psql_background(sql);
  if (!harness_psql_wait_count("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'psql' AND "
                               "wait_event = 'PgSleep'",
                               1, 5000))
    harness_fail("the psql session did not take the lock within 5 s");
  memset(call, 0, sizeof *call);
  assert_int_equal(pthread_create(thread, NULL, summary_main, call), 0);
  if (!harness_psql_wait_count("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'forumnet' AND "
                               "wait_event_type = 'Lock'",
                               1, 3000)) {
    pthread_join(*thread, NULL);
    harness_fail("the summary did not wait for the lock within 3 s (answered %ld after %lld ms)", call->status,
                 (long long)call->ms);
  }
}

/* GET /v1/sites/{id}: its status into *status, and how long it took. */
static int64_t fast_read_ms(long *status) {
  int64_t t0 = harness_now_ms();
  http_response *r = http_get(hpath("/v1/sites/%s", g_site), g_admin.token);
  int64_t ms = harness_now_ms() - t0;
  *status = r->status;
  http_response_free(r);
  return ms;
}

static void release_lock(void) {
  if (g_psql > 0)
    harness_psql_wait(g_psql, LOCK_MS + 5000);
  g_psql = 0;
}

static void test_fast_read_beside_a_waiting_summary(void **state) {
  (void)state;
  pthread_t thread;
  slow_call call;
  start_summary_waiting_for_lock(&thread, &call);
  long status = 0;
  int64_t ms = fast_read_ms(&status);
  int summary_done_before = atomic_load(&call.done);
  pthread_join(thread, NULL);
  release_lock();
  assert_int_equal(status, 200);
  if (summary_done_before)
    harness_fail("the summary answered before the read (after %lld ms): it did not wait for the lock",
                 (long long)call.ms);
  if (ms >= FAST_BOUND_MS)
    harness_fail("GET /v1/sites/{id} took %lld ms beside a slow request (bound %d ms): it waited for the worker",
                 (long long)ms, FAST_BOUND_MS);
  assert_int_equal(call.status, 200);
  assert_true(call.sites >= 1);
  print_message("# read answered in %lld ms while the summary waited %lld ms for the lock\n", (long long)ms,
                (long long)call.ms);
}

static void test_control_without_slow_threads(void **state) {
  (void)state;
  harness_server_start((const char *const[]){"FORUMNET_HTTP_THREADS=1", "FORUMNET_SLOW_THREADS=0", NULL});
  pthread_t thread;
  slow_call call;
  start_summary_waiting_for_lock(&thread, &call);
  long status = 0;
  int64_t ms = fast_read_ms(&status);
  pthread_join(thread, NULL);
  release_lock();
  harness_server_stop();
  assert_int_equal(status, 200);
  assert_int_equal(call.status, 200);
  if (ms < FAST_BOUND_MS)
    harness_fail("without slow threads the read took only %lld ms: the scenario no longer holds the worker, so "
                 "test_fast_read_beside_a_waiting_summary proves nothing",
                 (long long)ms);
  print_message("# without slow threads the read waited %lld ms for the worker\n", (long long)ms);
}

static void test_more_slow_requests_than_threads(void **state) {
  (void)state;
  pthread_t threads[MANY];
  slow_call calls[MANY];
  memset(calls, 0, sizeof calls);
  int started = 0;
  for (; started < MANY; started++)
    if (pthread_create(&threads[started], NULL, summary_main, &calls[started]) != 0)
      break;
  for (int i = 0; i < started; i++)
    pthread_join(threads[i], NULL);
  assert_int_equal(started, MANY);
  for (int i = 0; i < MANY; i++) {
    assert_int_equal(calls[i].status, 200);
    assert_int_equal(calls[i].sites, calls[0].sites);
  }
  assert_true(calls[0].sites >= 1);
}

static void test_sigterm_answers_a_waiting_slow_request(void **state) {
  (void)state;
  harness_server_start((const char *const[]){"FORUMNET_HTTP_THREADS=1", "FORUMNET_DRAIN_MS=0", NULL});
  pthread_t thread;
  slow_call call;
  start_summary_waiting_for_lock(&thread, &call);
  kill((pid_t)harness_server_pid(), SIGTERM);
  pthread_join(thread, NULL);
  release_lock();
  int exit_status = harness_server_wait_exit(15000);
  assert_int_equal(call.status, 200);
  assert_true(call.sites >= 1);
  if (exit_status == -1 || !WIFEXITED(exit_status) || WEXITSTATUS(exit_status) != 0)
    harness_fail("the server did not exit 0 after SIGTERM (wait status %d)", exit_status);
}

static int test_teardown(void **state) {
  release_lock();
  return harness_stop_nested_servers(state);
}

static int group_setup(void **state) {
  (void)state;
  harness_suite_start((const char *const[]){"FORUMNET_HTTP_THREADS=1", "FORUMNET_SLOW_THREADS=1", NULL}, &g_admin);
  harness_new_site_id(g_admin.token, g_site);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_fast_read_beside_a_waiting_summary, test_teardown),
      cmocka_unit_test_teardown(test_control_without_slow_threads, test_teardown),
      cmocka_unit_test_teardown(test_more_slow_requests_than_threads, test_teardown),
      cmocka_unit_test_teardown(test_sigterm_answers_a_waiting_slow_request, test_teardown),
  };
  return cmocka_run_group_tests_name("e2e_slow_routes_serial", tests, group_setup, harness_suite_teardown);
}
