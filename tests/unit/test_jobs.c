/* Unit tests for the job runner (src/jobs/runner.c, src/jobs/jobs_db.c): the backoff, the kind table, and,
 * against the real PostgreSQL of scripts/test.sh (FORUMNET_TEST_DATABASE_URL; skipped when it is not set),
 * what one poll does to rows of kinds only this test knows (so servers running beside it never claim them):
 * a success deletes a one-off job and reschedules a recurring one; a failure undoes the handler's work,
 * counts the attempt, records the reason and backs off; a row another transaction holds is skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "forumnet/jobs.h"
#include "forumnet/jobs_db.h"
#include "forumnet/migrate.h"

static void test_backoff_grows_to_an_hour(void **state) {
  (void)state;
  assert_int_equal(jobs_backoff_ms(1), 1000);
  assert_int_equal(jobs_backoff_ms(2), 2000);
  assert_int_equal(jobs_backoff_ms(3), 4000);
  assert_int_equal(jobs_backoff_ms(12), 2048000);
  assert_int_equal(jobs_backoff_ms(13), 3600000);
  assert_int_equal(jobs_backoff_ms(1000000), 3600000);
}

static void test_every_kind_is_found_and_recurring_ones_are_known(void **state) {
  (void)state;
  for (size_t i = 0; i < job_kind_count; i++)
    assert_ptr_equal(jobs_kind_find(job_kinds, job_kind_count, job_kinds[i].kind), &job_kinds[i]);
  assert_null(jobs_kind_find(job_kinds, job_kind_count, "no.such.kind"));
  const job_kind *scan = jobs_kind_find(job_kinds, job_kind_count, "consultation.closing_soon_scan");
  const job_kind *purge = jobs_kind_find(job_kinds, job_kind_count, "retention.purge");
  assert_non_null(scan);
  assert_non_null(purge);
  assert_true(scan->recurring && purge->recurring);
}

/* ---- against PostgreSQL ---- */

static char kind_ok[64], kind_fail[64], kind_every[64], kind_other[64];
static db_pool *pool;
static db_conn *conn;
static PGconn *side; /* another session, for checks and for holding locks */

static fn_status handler_ok(db_conn *db, job *j) {
  (void)db;
  (void)j;
  return FN_OK;
}

/* Changes its own row, then fails: the change must not survive. */
static const db_stmt touch = {"test_jobs_touch", "UPDATE jobs SET payload = '{\"touched\": true}' WHERE id = $1"};
static fn_status handler_fail(db_conn *db, job *j) {
  char id[24];
  snprintf(id, sizeof id, "%ld", j->id);
  fn_status st = db_exec_on(db, &touch, id);
  snprintf(j->error, sizeof j->error, "the unit test's handler fails (attempt %d)", j->attempts + 1);
  return st == FN_OK ? FN_CONFLICT : st;
}

static job_kind kinds[3];

static const char *test_getenv(const char *name) {
  if (strcmp(name, "FORUMNET_DATABASE_URL") == 0)
    return getenv("FORUMNET_TEST_DATABASE_URL");
  return NULL;
}

static int db_setup(void **state) {
  (void)state;
  if (getenv("FORUMNET_TEST_DATABASE_URL") == NULL)
    return 0;
  snprintf(kind_ok, sizeof kind_ok, "unit.ok.%d", (int)getpid());
  snprintf(kind_fail, sizeof kind_fail, "unit.fail.%d", (int)getpid());
  snprintf(kind_every, sizeof kind_every, "unit.every.%d", (int)getpid());
  snprintf(kind_other, sizeof kind_other, "unit.other.%d", (int)getpid());
  kinds[0] = (job_kind){kind_ok, handler_ok, 0};
  kinds[1] = (job_kind){kind_fail, handler_fail, 0};
  kinds[2] = (job_kind){kind_every, handler_ok, 1};
  static fn_config cfg;
  char err[256];
  if (config_load(&cfg, test_getenv, 1, 0, err, sizeof err) != FN_OK)
    return -1;
  cfg.db_pool_size = 1;
  if (db_connect(&cfg, &side) != FN_OK || migrate_apply(side, NULL) != FN_OK)
    return -1;
  if (db_pool_create(&cfg, &pool) != FN_OK || db_pool_acquire(pool, &conn) != FN_OK)
    return -1;
  return 0;
}

static int db_teardown(void **state) {
  (void)state;
  if (side != NULL) {
    const char *params[] = {kind_ok, kind_fail, kind_every, kind_other};
    PQclear(PQexecParams(side, "DELETE FROM jobs WHERE kind IN ($1, $2, $3, $4)", 4, NULL, params, NULL, NULL, 0));
    PQfinish(side);
  }
  if (conn != NULL)
    db_pool_release(pool, conn);
  db_pool_destroy(pool);
  return 0;
}

/* One value of a query on the side session, "" for no row (a static buffer). */
static const char *side_value(const char *sql, const char *kind) {
  static char out[512];
  PGresult *res = PQexecParams(side, sql, 1, NULL, &kind, NULL, NULL, 0);
  if (PQresultStatus(res) != PGRES_TUPLES_OK)
    fail_msg("%s: %s", sql, PQerrorMessage(side));
  snprintf(out, sizeof out, "%s", PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
  PQclear(res);
  return out;
}

/* Whether kind's row is due again between lo and hi seconds from now. */
static void assert_due_in(const char *kind, double lo, double hi) {
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT run_at - clock_timestamp() BETWEEN interval '%g s' AND interval '%g s' FROM jobs WHERE kind = $1",
           lo, hi);
  if (strcmp(side_value(sql, kind), "t") != 0)
    fail_msg("%s is not due again in %g to %g s", kind, lo, hi);
}

static int run_poll(void) {
  int ran = -1;
  assert_int_equal(jobs_run_due(conn, kinds, 3, 60000, 100, NULL, &ran), FN_OK);
  return ran;
}

static void test_a_one_off_job_that_succeeds_is_deleted(void **state) {
  (void)state;
  if (side == NULL)
    skip();
  assert_int_equal(jobs_db_enqueue(conn, kind_ok, "k1", "{\"a\": 1}", 0), FN_OK);
  assert_int_equal(jobs_db_enqueue(conn, kind_ok, "k1", NULL, 0), FN_OK); /* the same: not added twice */
  assert_string_equal(side_value("SELECT count(*) FROM jobs WHERE kind = $1", kind_ok), "1");
  assert_int_equal(run_poll(), 1);
  assert_string_equal(side_value("SELECT count(*) FROM jobs WHERE kind = $1", kind_ok), "0");
  assert_int_equal(run_poll(), 0);
}

static void test_a_failing_job_is_rolled_back_counted_and_backed_off(void **state) {
  (void)state;
  if (side == NULL)
    skip();
  assert_int_equal(jobs_db_enqueue(conn, kind_fail, NULL, NULL, 0), FN_OK);
  assert_int_equal(run_poll(), 1);
  assert_string_equal(side_value("SELECT attempts FROM jobs WHERE kind = $1", kind_fail), "1");
  assert_string_equal(side_value("SELECT last_error FROM jobs WHERE kind = $1", kind_fail),
                      "the unit test's handler fails (attempt 1)");
  assert_string_equal(side_value("SELECT payload::text FROM jobs WHERE kind = $1", kind_fail), "{}");
  /* due again in about a second, not now */
  assert_due_in(kind_fail, 0.5, 1);
  assert_int_equal(run_poll(), 0);
  /* made due: the second failure waits twice as long */
  side_value("UPDATE jobs SET run_at = now() WHERE kind = $1 RETURNING 1", kind_fail);
  assert_int_equal(run_poll(), 1);
  assert_string_equal(side_value("SELECT attempts FROM jobs WHERE kind = $1", kind_fail), "2");
  assert_due_in(kind_fail, 1.5, 2);
}

static void test_a_recurring_job_is_ensured_once_and_kept(void **state) {
  (void)state;
  if (side == NULL)
    skip();
  assert_int_equal(jobs_ensure_recurring(conn, kinds, 3), FN_OK);
  assert_int_equal(jobs_ensure_recurring(conn, kinds, 3), FN_OK);
  assert_string_equal(side_value("SELECT count(*) FROM jobs WHERE kind = $1", kind_every), "1");
  assert_string_equal(side_value("SELECT count(*) FROM jobs WHERE kind = $1", kind_ok), "0"); /* one-off kinds: none */
  assert_int_equal(run_poll(), 1);
  assert_due_in(kind_every, 59, 60);
  assert_int_equal(run_poll(), 0);
}

static void test_unknown_kinds_and_locked_rows_are_left_alone(void **state) {
  (void)state;
  if (side == NULL)
    skip();
  assert_int_equal(jobs_db_enqueue(conn, kind_other, NULL, NULL, 0), FN_OK);
  assert_int_equal(run_poll(), 0);
  assert_string_equal(side_value("SELECT attempts FROM jobs WHERE kind = $1", kind_other), "0");

  assert_int_equal(jobs_db_enqueue(conn, kind_ok, "held", NULL, 0), FN_OK);
  PQclear(PQexec(side, "BEGIN"));
  assert_string_equal(side_value("SELECT id FROM jobs WHERE kind = $1 FOR UPDATE", kind_ok)[0] != '\0' ? "y" : "n",
                      "y");
  assert_int_equal(run_poll(), 0);   /* another instance holds it: skipped, not waited for */
  PQclear(PQexec(side, "ROLLBACK")); /* that instance crashed: the row is there for the next poll */
  assert_int_equal(run_poll(), 1);
  assert_string_equal(side_value("SELECT count(*) FROM jobs WHERE kind = $1", kind_ok), "0");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_backoff_grows_to_an_hour),
      cmocka_unit_test(test_every_kind_is_found_and_recurring_ones_are_known),
      cmocka_unit_test(test_a_one_off_job_that_succeeds_is_deleted),
      cmocka_unit_test(test_a_failing_job_is_rolled_back_counted_and_backed_off),
      cmocka_unit_test(test_a_recurring_job_is_ensured_once_and_kept),
      cmocka_unit_test(test_unknown_kinds_and_locked_rows_are_left_alone),
  };
  return cmocka_run_group_tests(tests, db_setup, db_teardown);
}
