/* Unit tests for a deferred check (db_defer, src/db/exec.c) against the real PostgreSQL of scripts/test.sh
 * (FORUMNET_TEST_DATABASE_URL; skipped when it is not set), with prepared statements and, as behind a
 * transaction-mode pooler, unnamed ones:
 *   - an accepting check lets the statement's result through;
 *   - a refusing check: the statement's result never reaches the caller, and a statement that writes, sent
 *     in the same pipeline, changed nothing (the READ ONLY transaction); every later statement and
 *     db_begin fail too;
 *   - an accepting check with a statement that writes: it is run again after the check, once;
 *   - db_begin runs a pending check first, alone; a check that fails makes the statement fail;
 *   - the connection forgets the check when it goes back to the pool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "forumnet/db.h"

static char table[64];
static PGconn *side; /* checks what was stored, from another session */

static const char *test_getenv(const char *name) {
  if (strcmp(name, "FORUMNET_DATABASE_URL") == 0)
    return getenv("FORUMNET_TEST_DATABASE_URL");
  return NULL;
}

static long side_long(const char *sql) {
  PGresult *res = PQexec(side, sql);
  if (PQresultStatus(res) != PGRES_TUPLES_OK)
    fail_msg("%s: %s", sql, PQerrorMessage(side));
  long v = atol(PQgetvalue(res, 0, 0));
  PQclear(res);
  return v;
}

static void side_command(const char *sql) {
  PGresult *res = PQexec(side, sql);
  if (PQresultStatus(res) != PGRES_COMMAND_OK)
    fail_msg("%s: %s", sql, PQerrorMessage(side));
  PQclear(res);
}

static int setup(void **state) {
  (void)state;
  if (getenv("FORUMNET_TEST_DATABASE_URL") == NULL)
    return 0;
  fn_config cfg;
  char err[256], sql[160];
  if (config_load(&cfg, test_getenv, 1, 0, err, sizeof err) != FN_OK || db_connect(&cfg, &side) != FN_OK)
    return -1;
  snprintf(table, sizeof table, "unit_deferred_%d", (int)getpid());
  snprintf(sql, sizeof sql, "CREATE TABLE %s (n int)", table);
  side_command(sql);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  if (side == NULL)
    return 0;
  char sql[128];
  snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", table);
  side_command(sql);
  PQfinish(side);
  return 0;
}

/* The check: SELECT $1::boolean; accept says what it answered. */
static const db_stmt check_stmt = {"test_deferred_check", "SELECT $1::boolean"};
static int accept_answer(PGresult *res, void *ctx) {
  (void)ctx;
  return db_value_bool(res, 0, 0);
}

static db_deferred check_of(const char *answer) {
  db_deferred d = {.stmt = &check_stmt, .nparams = 1, .params = {answer}, .accept = accept_answer};
  return d;
}

static db_pool *pool_of(int pooled) {
  fn_config cfg;
  char err[256];
  assert_int_equal(config_load(&cfg, test_getenv, 1, 0, err, sizeof err), FN_OK);
  cfg.db_pool_size = 1;
  if (pooled)
    cfg.db_pooler = DB_POOLER_TRANSACTION;
  db_pool *pool = NULL;
  assert_int_equal(db_pool_create(&cfg, &pool), FN_OK);
  return pool;
}

/* Statements of the table (their text names it: built per run). */
static char insert_sql[128], count_sql[128];
static db_stmt insert_stmt, count_stmt;

static void make_statements(void) {
  snprintf(insert_sql, sizeof insert_sql, "INSERT INTO %s VALUES (1)", table);
  snprintf(count_sql, sizeof count_sql, "SELECT count(*) FROM %s", table);
  insert_stmt = (db_stmt){"test_deferred_insert", insert_sql};
  count_stmt = (db_stmt){"test_deferred_count", count_sql};
}

static long stored(void) { return side_long(count_sql); }

static void run_all(int pooled) {
  if (getenv("FORUMNET_TEST_DATABASE_URL") == NULL)
    skip();
  make_statements();
  char sql[128];
  snprintf(sql, sizeof sql, "TRUNCATE %s", table);
  side_command(sql);
  db_pool *pool = pool_of(pooled);
  db_conn *c = NULL;
  fn_status st;

  /* Accepted: the statement's result comes through. */
  assert_int_equal(db_pool_acquire(pool, &c), FN_OK);
  db_deferred yes = check_of("true");
  db_defer(c, &yes);
  PGresult *res = db_exec(c, &count_stmt, 0, NULL, &st);
  assert_int_equal(st, FN_OK);
  assert_non_null(res);
  assert_int_equal(db_value_long(res, 0, 0), 0);
  PQclear(res);
  assert_int_equal(yes.state, DB_DEFERRED_ACCEPTED);
  assert_int_equal(db_settle(c), FN_OK);
  db_pool_release(pool, c);

  /* Refused: a write sent in the same pipeline stored nothing; nothing more runs. */
  assert_int_equal(db_pool_acquire(pool, &c), FN_OK);
  db_deferred no = check_of("false");
  db_defer(c, &no);
  res = db_exec(c, &insert_stmt, 0, NULL, &st);
  assert_null(res);
  assert_int_equal(st, FN_UNAUTHENTICATED);
  assert_int_equal(no.state, DB_DEFERRED_REFUSED);
  assert_int_equal(stored(), 0);
  res = db_exec(c, &count_stmt, 0, NULL, &st);
  assert_null(res);
  assert_int_equal(st, FN_UNAUTHENTICATED);
  assert_int_equal(db_begin(c), FN_UNAUTHENTICATED);
  assert_int_equal(db_settle(c), FN_UNAUTHENTICATED);
  db_pool_release(pool, c);

  /* Accepted, and the statement writes: refused by the READ ONLY pipeline, run again on its own, once. */
  assert_int_equal(db_pool_acquire(pool, &c), FN_OK);
  yes = check_of("true");
  db_defer(c, &yes);
  res = db_exec(c, &insert_stmt, 0, NULL, &st);
  assert_int_equal(st, FN_OK);
  assert_non_null(res);
  PQclear(res);
  assert_int_equal(yes.state, DB_DEFERRED_ACCEPTED);
  assert_int_equal(stored(), 1);
  db_pool_release(pool, c);

  /* db_begin settles a pending check first; a refused one lets nothing begin. */
  assert_int_equal(db_pool_acquire(pool, &c), FN_OK);
  no = check_of("false");
  db_defer(c, &no);
  assert_int_equal(db_begin(c), FN_UNAUTHENTICATED);
  assert_int_equal(no.state, DB_DEFERRED_REFUSED);
  db_pool_release(pool, c);
  assert_int_equal(db_pool_acquire(pool, &c), FN_OK);
  yes = check_of("true");
  db_defer(c, &yes);
  assert_int_equal(db_begin(c), FN_OK);
  assert_int_equal(yes.state, DB_DEFERRED_ACCEPTED);
  assert_int_equal(db_exec_command(c, &insert_stmt, 0, NULL), FN_OK);
  assert_int_equal(db_commit(c), FN_OK);
  assert_int_equal(stored(), 2);
  db_pool_release(pool, c);

  /* A check that fails (not a boolean): the statement fails with it, and the connection stays usable. */
  assert_int_equal(db_pool_acquire(pool, &c), FN_OK);
  db_deferred bad = check_of("maybe");
  db_defer(c, &bad);
  res = db_exec(c, &insert_stmt, 0, NULL, &st);
  assert_null(res);
  assert_int_equal(st, FN_INVALID); /* 22P02: invalid input syntax for type boolean */
  assert_int_equal(bad.state, DB_DEFERRED_FAILED);
  assert_int_equal(stored(), 2);
  db_pool_release(pool, c);

  /* Back in the pool, the connection has forgotten the check. */
  assert_int_equal(db_pool_acquire(pool, &c), FN_OK);
  assert_int_equal(db_settle(c), FN_OK);
  res = db_exec(c, &count_stmt, 0, NULL, &st);
  assert_non_null(res);
  assert_int_equal(db_value_long(res, 0, 0), 2);
  PQclear(res);
  db_pool_release(pool, c);
  db_pool_destroy(pool);
}

static void test_deferred_check_prepared(void **state) {
  (void)state;
  run_all(0);
}

static void test_deferred_check_unnamed_as_behind_a_pooler(void **state) {
  (void)state;
  run_all(1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_deferred_check_prepared),
      cmocka_unit_test(test_deferred_check_unnamed_as_behind_a_pooler),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
