/* Unit tests for the row readers of src/db/rows.c that take a result (db_take_text,
 * db_take_representation, db_value_*), on results built in memory with libpq's
 * PQmakeEmptyPGresult/PQsetvalue: no database needed. The helpers that run a statement
 * (db_exec_row, db_exec_found, db_get_representation, db_query_*) are covered end to end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "forumnet/db.h"

/* A text result with `cols` columns and one row of `values` (NULL: SQL NULL), or no row when
 * values is NULL. */
static PGresult *make_result(int cols, const char *const *values) {
  PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
  assert_non_null(res);
  PGresAttDesc attrs[4];
  assert_true(cols <= 4);
  memset(attrs, 0, sizeof attrs);
  for (int i = 0; i < cols; i++)
    attrs[i].name = (char *)"c";
  assert_int_equal(PQsetResultAttrs(res, cols, attrs), 1);
  for (int i = 0; values != NULL && i < cols; i++)
    assert_int_equal(PQsetvalue(res, 0, i, (char *)values[i], values[i] ? (int)strlen(values[i]) : -1), 1);
  return res;
}

static void test_take_representation_reads_json_and_version(void **state) {
  (void)state;
  const char *row[] = {"{\"id\":1}", "7"};
  char *json = NULL;
  long version = 0;
  assert_int_equal(db_take_representation(make_result(2, row), 0, &json, &version), FN_OK);
  assert_string_equal(json, "{\"id\":1}");
  assert_int_equal(version, 7);
  free(json);
}

static void test_take_representation_from_a_later_column(void **state) {
  (void)state;
  const char *row[] = {"t", "{}", "12"};
  char *json = NULL;
  long version = 0;
  assert_int_equal(db_take_representation(make_result(3, row), 1, &json, &version), FN_OK);
  assert_string_equal(json, "{}");
  assert_int_equal(version, 12);
  free(json);
}

static void test_take_representation_without_row_is_not_found(void **state) {
  (void)state;
  char *json = NULL;
  long version = 5;
  assert_int_equal(db_take_representation(make_result(2, NULL), 0, &json, &version), FN_NOT_FOUND);
  assert_null(json);
  assert_int_equal(version, 5);
}

static void test_take_text_copies_the_column(void **state) {
  (void)state;
  const char *row[] = {"1", "[\"a\"]"};
  char *text = NULL;
  assert_int_equal(db_take_text(make_result(2, row), 1, &text), FN_OK);
  assert_string_equal(text, "[\"a\"]");
  free(text);
}

static void test_value_readers(void **state) {
  (void)state;
  const char *row[] = {"t", "-42", "0123456789", NULL};
  PGresult *res = make_result(4, row);
  fn_status st = FN_OK;
  char buf[5];
  assert_true(db_value_bool(res, 0, 0));
  assert_false(db_value_bool(res, 0, 1));
  assert_int_equal(db_value_long(res, 0, 1), -42);
  db_value_copy(res, 0, 2, buf, sizeof buf);
  assert_string_equal(buf, "0123");
  assert_null(db_value_or_null(res, 0, 3, &st));
  assert_int_equal(st, FN_OK);
  PQclear(res);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_take_representation_reads_json_and_version),
      cmocka_unit_test(test_take_representation_from_a_later_column),
      cmocka_unit_test(test_take_representation_without_row_is_not_found),
      cmocka_unit_test(test_take_text_copies_the_column),
      cmocka_unit_test(test_value_readers),
  };
  return cmocka_run_group_tests_name("db_helpers", tests, NULL, NULL);
}
