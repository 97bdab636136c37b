/* Unit tests for src/db/pool.c against the real PostgreSQL of scripts/test.sh
 * (FORUMNET_TEST_DATABASE_URL; skipped when it is not set): a connection records every
 * statement it prepares, however many the code grows to, so none is prepared twice (42P05). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "forumnet/db.h"

/* More distinct statements than the fixed table of 256 the pool once had. */
#define STATEMENTS 600

static const char *test_getenv(const char *name) {
  if (strcmp(name, "FORUMNET_DATABASE_URL") == 0)
    return getenv("FORUMNET_TEST_DATABASE_URL");
  return NULL;
}

static void test_many_prepared_statements_run_twice(void **state) {
  (void)state;
  if (getenv("FORUMNET_TEST_DATABASE_URL") == NULL)
    skip();
  fn_config cfg;
  char err[256];
  assert_int_equal(config_load(&cfg, test_getenv, 1, 0, err, sizeof err), FN_OK);
  cfg.db_pool_size = 1;
  db_pool *pool = NULL;
  assert_int_equal(db_pool_create(&cfg, &pool), FN_OK);
  db_conn *conn = NULL;
  assert_int_equal(db_pool_acquire(pool, &conn), FN_OK);

  static char names[STATEMENTS][32], sql[STATEMENTS][48];
  static db_stmt stmts[STATEMENTS];
  for (int i = 0; i < STATEMENTS; i++) {
    snprintf(names[i], sizeof names[i], "test_pool_stmt_%d", i);
    snprintf(sql[i], sizeof sql[i], "SELECT %d AS n", i);
    stmts[i] = (db_stmt){names[i], sql[i]};
  }
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < STATEMENTS; i++) {
      fn_status st;
      PGresult *res = db_exec(conn, &stmts[i], 0, NULL, &st);
      if (res == NULL)
        fail_msg("round %d, statement %d: status %d, SQLSTATE %s", round, i, (int)st, db_last_sqlstate(conn));
      assert_int_equal(atoi(PQgetvalue(res, 0, 0)), i);
      PQclear(res);
    }
  }
  db_pool_release(pool, conn);
  db_pool_destroy(pool);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_many_prepared_statements_run_twice),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
