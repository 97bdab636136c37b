/* Unit tests for src/db/row_json.c, the writer of a page's items: a row of a result as a JSON object,
 * on results built in memory with libpq's PQmakeEmptyPGresult/PQsetResultAttrs/PQsetvalue (no
 * database needed). That its output equals json_build_object's on real rows is checked end to end
 * (every list test of tests/e2e, and the contract tests against openapi/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "forumnet/db.h"

typedef struct {
  const char *name;
  Oid type;
  const char *value; /* NULL: SQL NULL */
} cell;

/* A one-row result of the given columns. */
static PGresult *make_row(const cell *cells, int n) {
  PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
  assert_non_null(res);
  PGresAttDesc attrs[16];
  assert_true(n <= 16);
  memset(attrs, 0, sizeof attrs);
  for (int i = 0; i < n; i++) {
    attrs[i].name = (char *)cells[i].name;
    attrs[i].typid = cells[i].type;
    attrs[i].typlen = -1;
  }
  assert_int_equal(PQsetResultAttrs(res, n, attrs), 1);
  for (int i = 0; i < n; i++)
    assert_int_equal(PQsetvalue(res, 0, i, (char *)cells[i].value, cells[i].value ? (int)strlen(cells[i].value) : -1),
                     1);
  return res;
}

/* The row's columns [from, n) as JSON text (caller frees), or NULL when a column is refused. */
static char *row_text(const cell *cells, int n, int from) {
  PGresult *res = make_row(cells, n);
  db_json_kind kinds[16];
  char *text = NULL;
  if (db_row_json_kinds(res, from, n, kinds) == FN_OK) {
    strbuf out = STRBUF_INIT;
    db_row_json(&out, res, 0, from, n, kinds);
    text = strbuf_finish(&out, NULL);
    assert_non_null(text);
  }
  PQclear(res);
  return text;
}

static void test_values_by_type(void **state) {
  (void)state;
  const cell row[] = {
      {"key", 25, "2026-01-01T00:00:00.000000Z|x"}, /* column 0: the cursor key, not written */
      {"id", 2950, "3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
      {"version", 20, "12"},
      {"member_count", 23, "-3"},
      {"rate", 1700, "0.667"},
      {"online", 16, "t"},
      {"removed", 16, "f"},
      {"themes", 114, "[\"a\", \"b\"]"},
      {"answers", 3802, "{\"q1\": \"yes\"}"},
      {"status", 16400, "active"}, /* an enum: its label */
      {"review_on", 1082, "2026-03-01"},
      {"closed_at", 25, NULL},
  };
  char *text = row_text(row, 12, 1);
  assert_string_equal(text, "{\"id\":\"3f2504e0-4f89-11d3-9a0c-0305e82c3301\",\"version\":12,\"member_count\":-3,"
                            "\"rate\":0.667,\"online\":true,\"removed\":false,\"themes\":[\"a\", \"b\"],"
                            "\"answers\":{\"q1\": \"yes\"},\"status\":\"active\",\"review_on\":\"2026-03-01\","
                            "\"closed_at\":null}");
  free(text);
}

/* As PostgreSQL's escape_json: the two-character escapes, \u00XX for other control characters,
 * every other octet (UTF-8 included) as it is. */
static void test_strings_are_escaped_as_postgresql_does(void **state) {
  (void)state;
  const cell row[] = {
      {"k", 25, "k"},
      {"title", 25, "a \"quoted\" back\\slash/\b\f\n\r\t\x01\x1f caf\xc3\xa9"},
      {"we\"ird", 1043, ""},
  };
  char *text = row_text(row, 3, 1);
  assert_string_equal(text, "{\"title\":\"a \\\"quoted\\\" back\\\\slash/\\b\\f\\n\\r\\t\\u0001\\u001f caf\xc3\xa9\","
                            "\"we\\\"ird\":\"\"}");
  free(text);
}

/* numeric and float NaN and infinities are JSON strings in json_build_object; so here. */
static void test_numbers_that_json_cannot_hold_are_strings(void **state) {
  (void)state;
  const cell row[] = {
      {"k", 25, "k"},          {"a", 1700, "NaN"},  {"b", 701, "Infinity"},
      {"c", 701, "-Infinity"}, {"d", 701, "1e+20"}, {"e", 700, "-0.5"},
  };
  char *text = row_text(row, 6, 1);
  assert_string_equal(text, "{\"a\":\"NaN\",\"b\":\"Infinity\",\"c\":\"-Infinity\",\"d\":1e+20,\"e\":-0.5}");
  free(text);
}

/* A timestamp's text is not its JSON form (rfc3339() is): a statement that forgets it must fail. */
static void test_types_without_a_json_form_are_refused(void **state) {
  (void)state;
  const Oid refused[] = {1184 /* timestamptz */, 1114 /* timestamp */, 1186 /* interval */,
                         1009 /* text[] */,      2951 /* uuid[] */,    2249 /* record */};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    const cell row[] = {{"k", 25, "k"}, {"id", 2950, "x"}, {"at", refused[i], "2026-01-01 00:00:00+00"}};
    assert_null(row_text(row, 3, 1));
  }
}

/* Only [from, to) is written: a handler's own columns before the fields are left out. */
static void test_only_the_field_columns_are_written(void **state) {
  (void)state;
  const cell row[] = {{"k", 25, "k"}, {"current_version", 23, "4"}, {"version", 23, "3"}};
  char *text = row_text(row, 3, 2);
  assert_string_equal(text, "{\"version\":3}");
  free(text);
}

static void test_json_string_alone(void **state) {
  (void)state;
  strbuf out = STRBUF_INIT;
  db_json_string(&out, "a\0b", 3);
  char *text = strbuf_finish(&out, NULL);
  assert_non_null(text);
  assert_memory_equal(text, "\"a\\u0000b\"", 10);
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_values_by_type),
      cmocka_unit_test(test_strings_are_escaped_as_postgresql_does),
      cmocka_unit_test(test_numbers_that_json_cannot_hold_are_strings),
      cmocka_unit_test(test_types_without_a_json_form_are_refused),
      cmocka_unit_test(test_only_the_field_columns_are_written),
      cmocka_unit_test(test_json_string_alone),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
