/* Unit tests for the summaries' formatting (src/resources/summaries_http.c, API.md section 8):
 * the window widened to whole UTC days, at least 7; the suppression of rates whose numerator is
 * below the threshold; CSV cells that a spreadsheet would read as formulas; and running out of
 * memory anywhere (a NULL answer, never a crash or a partial object). Linked with
 * -Wl,--wrap=malloc,--wrap=realloc (tests/CMakeLists.txt) so that the CSV writer's allocations can fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "forumnet/summaries.h"
#include "forumnet/summaries_db.h"

#define DAY 86400LL
#define D0 1796083200LL /* 2026-12-01T00:00:00Z, a Tuesday */

/* ---- failing allocations ---- */

void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_realloc(void *p, size_t n);
static long alloc_countdown = -1; /* fail the call that finds it at 0; -1: never */
/* malloc too: the compiler may turn realloc(NULL, n) into malloc(n) */
void *__wrap_malloc(size_t n) {
  if (alloc_countdown >= 0 && alloc_countdown-- == 0)
    return NULL;
  return __real_malloc(n);
}
void *__wrap_realloc(void *p, size_t n) {
  if (alloc_countdown >= 0 && alloc_countdown-- == 0)
    return NULL;
  return __real_realloc(p, n);
}

static long json_countdown = -1;
static void *counting_json_malloc(size_t n) {
  if (json_countdown >= 0 && json_countdown-- == 0)
    return NULL;
  return malloc(n);
}

/* ---- the window ---- */

static void expect_window(long long from, long long to, long long want_from, long long want_to) {
  long long f = 0, t = 0;
  summaries_window_widen(from, to, &f, &t);
  if (f != want_from || t != want_to)
    fail_msg("window [%lld, %lld): expected [%lld, %lld), got [%lld, %lld)", from, to, want_from, want_to, f, t);
}

static void test_window_whole_days_at_least_seven(void **state) {
  (void)state;
  /* an hour: the 7 days ending at the next midnight */
  expect_window(D0 + 3600, D0 + 7200, D0 - 6 * DAY, D0 + DAY);
  /* one whole day, already on midnights */
  expect_window(D0, D0 + DAY, D0 - 6 * DAY, D0 + DAY);
  /* one second past midnight reaches into the next day */
  expect_window(D0, D0 + DAY + 1, D0 - 5 * DAY, D0 + 2 * DAY);
  /* exactly 7 days on midnights: as asked */
  expect_window(D0 - 7 * DAY, D0, D0 - 7 * DAY, D0);
  /* 30 days and a bit: rounded out to whole days, not moved */
  expect_window(D0 - 30 * DAY + 5, D0 + 12 * 3600, D0 - 30 * DAY, D0 + DAY);
  /* before 1970 too (floor, not truncation) */
  expect_window(-DAY - 3600, -DAY + 3600, -7 * DAY, 0);
  /* at the start of time, widened forwards; at the end, clamped */
  expect_window(-62135596800LL + 60, -62135596800LL + 120, -62135596800LL, -62135596800LL + 7 * DAY);
  expect_window(253402300799LL - 10 * DAY, 253402300799LL, 253402300800LL - 11 * DAY, 253402300799LL);
}

/* Differencing: two windows that differ by one meeting (at D0 + 10 h) inside the same days are the
 * same window, so they give the same figures, and so does any narrower one inside those days. */
static void test_window_narrowing_reveals_nothing(void **state) {
  (void)state;
  long long meeting = D0 + 10 * 3600, f1, t1, f2, t2, f3, t3;
  summaries_window_widen(D0 + 3600, meeting, &f1, &t1);     /* without the meeting */
  summaries_window_widen(D0 + 3600, meeting + 1, &f2, &t2); /* with it */
  summaries_window_widen(meeting, meeting + 1, &f3, &t3);   /* the meeting alone */
  assert_true(f1 == f2 && t1 == t2 && f2 == f3 && t2 == t3);
  assert_true(f1 <= meeting && meeting < t1);
  assert_true(t1 - f1 >= SUMMARY_MIN_WINDOW_DAYS * DAY);
  assert_int_equal(f1 % DAY, 0);
  assert_int_equal(t1 % DAY, 0);
}

/* ---- summary objects from a figures row ---- */

/* A one-row result holding the columns of summaries_db_figures. */
static PGresult *figures_row(const char *const values[SUMMARY_COLUMNS]) {
  PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
  PGresAttDesc attrs[SUMMARY_COLUMNS];
  memset(attrs, 0, sizeof attrs);
  for (int c = 0; c < SUMMARY_COLUMNS; c++) {
    attrs[c].name = (char *)"c";
    attrs[c].typid = 25; /* text */
    attrs[c].typlen = -1;
    attrs[c].atttypmod = -1;
  }
  assert_true(PQsetResultAttrs(res, SUMMARY_COLUMNS, attrs));
  for (int c = 0; c < SUMMARY_COLUMNS; c++)
    assert_true(PQsetvalue(res, 0, c, (char *)values[c], values[c] ? (int)strlen(values[c]) : -1));
  return res;
}

/* A site with enough people: 9 practitioners, 6 in groups, 4 meetings. */
static void base_values(const char *values[SUMMARY_COLUMNS]) {
  values[SUMMARY_SITE_ID] = "3f2b8c1e-5a4d-4c6b-9e7f-1a2b3c4d5e6f";
  values[SUMMARY_SITE_NAME] = "Hackney";
  values[SUMMARY_GROUPS_FORMING] = "1";
  values[SUMMARY_GROUPS_ACTIVE] = "2";
  values[SUMMARY_GROUPS_DORMANT] = "0";
  values[SUMMARY_GROUPS_CLOSED] = "1";
  values[SUMMARY_ACTIVE_MEMBERS] = "5";
  values[SUMMARY_PRACTITIONERS] = "9";
  values[SUMMARY_PRACTITIONERS_IN_GROUPS] = "6";
  values[SUMMARY_MEETINGS_HELD] = "4";
  values[SUMMARY_MEAN_ATTENDANCE_RATE] = "0.625";
  values[SUMMARY_ATTENDANCE_RECORDED] = "8";
  values[SUMMARY_ATTENDANCE_PRESENT] = "5";
  values[SUMMARY_CONSULTATIONS_OPEN] = "1";
  values[SUMMARY_CONSULTATIONS_CLOSED] = "1";
  values[SUMMARY_GROUPS_TARGETED] = "4";
  values[SUMMARY_GROUPS_SUBMITTED] = "3";
  values[SUMMARY_UPCOMING_EVENTS] = "2";
  values[SUMMARY_EVENT_REGISTRATIONS] = "3";
  values[SUMMARY_TOP_THEMES] = "[{\"theme\": \"caseload\", \"meetings\": 3}]";
}

static const summary_window WINDOW = {"2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z", "2026-11-25T00:00:00Z",
                                      "2026-12-02T00:00:00Z"};

static json_t *object_of(const char *values[SUMMARY_COLUMNS], unsigned threshold) {
  PGresult *res = figures_row(values);
  json_t *o = summaries_object(res, 0, &WINDOW, threshold);
  PQclear(res);
  assert_non_null(o);
  return o;
}

static int suppressed_has(const json_t *o, const char *name) {
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(o, "suppressed"), i, e) {
    if (strcmp(json_string_value(e), name) == 0)
      return 1;
  }
  return 0;
}

static void test_object_shows_rates_above_the_threshold(void **state) {
  (void)state;
  const char *v[SUMMARY_COLUMNS];
  base_values(v);
  json_t *o = object_of(v, 3);
  assert_int_equal(json_array_size(json_object_get(o, "suppressed")), 0);
  assert_true(json_real_value(json_object_get(o, "practitioner_share")) == 0.667);
  assert_true(json_real_value(json_object_get(o, "mean_attendance_rate")) == 0.625);
  json_t *c = json_object_get(o, "consultations");
  assert_int_equal(json_integer_value(json_object_get(c, "groups_submitted")), 3);
  assert_true(json_real_value(json_object_get(c, "response_rate")) == 0.75);
  /* the window asked for, and the one used */
  assert_string_equal(json_string_value(json_object_get(o, "from")), WINDOW.from);
  assert_string_equal(json_string_value(json_object_get(o, "to")), WINDOW.to);
  json_t *w = json_object_get(o, "window");
  assert_int_equal(json_object_size(w), 2);
  assert_string_equal(json_string_value(json_object_get(w, "from")), WINDOW.used_from);
  assert_string_equal(json_string_value(json_object_get(w, "to")), WINDOW.used_to);
  json_decref(o);
}

/* Issue 11: a window around one meeting showed 0.333 over 3 records, a count of 1 present. */
static void test_attendance_rate_with_few_present_is_suppressed(void **state) {
  (void)state;
  const char *v[SUMMARY_COLUMNS];
  base_values(v);
  v[SUMMARY_MEETINGS_HELD] = "1";
  v[SUMMARY_MEAN_ATTENDANCE_RATE] = "0.333";
  v[SUMMARY_ATTENDANCE_RECORDED] = "3";
  v[SUMMARY_ATTENDANCE_PRESENT] = "1";
  json_t *o = object_of(v, 3);
  assert_true(json_is_null(json_object_get(o, "mean_attendance_rate")));
  assert_true(suppressed_has(o, "mean_attendance_rate"));
  json_decref(o);
  /* none present of many is suppressed too (null never tells "none" from "one or two") */
  v[SUMMARY_MEAN_ATTENDANCE_RATE] = "0.000";
  v[SUMMARY_ATTENDANCE_RECORDED] = "12";
  v[SUMMARY_ATTENDANCE_PRESENT] = "0";
  o = object_of(v, 3);
  assert_true(json_is_null(json_object_get(o, "mean_attendance_rate")));
  assert_true(suppressed_has(o, "mean_attendance_rate"));
  json_decref(o);
  /* at the threshold it shows */
  v[SUMMARY_MEAN_ATTENDANCE_RATE] = "0.250";
  v[SUMMARY_ATTENDANCE_PRESENT] = "3";
  o = object_of(v, 3);
  assert_true(json_real_value(json_object_get(o, "mean_attendance_rate")) == 0.25);
  json_decref(o);
}

static void test_response_rate_with_few_submitted_is_suppressed(void **state) {
  (void)state;
  const char *v[SUMMARY_COLUMNS];
  base_values(v);
  v[SUMMARY_GROUPS_SUBMITTED] = "2";
  json_t *o = object_of(v, 3);
  json_t *c = json_object_get(o, "consultations");
  assert_true(json_is_null(json_object_get(c, "response_rate")));
  assert_true(json_is_null(json_object_get(c, "groups_submitted"))); /* or 2 / 4 gives the rate away */
  assert_int_equal(json_integer_value(json_object_get(c, "groups_targeted")), 4);
  assert_true(suppressed_has(o, "consultations.response_rate"));
  assert_true(suppressed_has(o, "consultations.groups_submitted"));
  assert_int_equal(json_array_size(json_object_get(o, "suppressed")), 2);
  json_decref(o);
  /* no group asked: no rate, nothing suppressed */
  v[SUMMARY_GROUPS_TARGETED] = "0";
  v[SUMMARY_GROUPS_SUBMITTED] = "0";
  o = object_of(v, 3);
  c = json_object_get(o, "consultations");
  assert_true(json_is_null(json_object_get(c, "response_rate")));
  assert_int_equal(json_integer_value(json_object_get(c, "groups_submitted")), 0);
  assert_int_equal(json_array_size(json_object_get(o, "suppressed")), 0);
  json_decref(o);
}

static void test_practitioner_share_with_few_in_groups_is_suppressed(void **state) {
  (void)state;
  const char *v[SUMMARY_COLUMNS];
  base_values(v);
  v[SUMMARY_PRACTITIONERS] = "20";
  v[SUMMARY_PRACTITIONERS_IN_GROUPS] = "2";
  json_t *o = object_of(v, 3);
  assert_true(json_is_null(json_object_get(o, "practitioner_share")));
  assert_true(suppressed_has(o, "practitioner_share") && suppressed_has(o, "practitioners_in_groups"));
  json_decref(o);
}

/* Every allocation jansson makes for the object can fail: the answer is NULL, never partial. */
static void test_object_out_of_memory(void **state) {
  (void)state;
  const char *v[SUMMARY_COLUMNS];
  base_values(v);
  PGresult *res = figures_row(v);
  json_t *o = NULL;
  long failures = 0;
  for (long k = 0; k < 10000; k++) {
    json_countdown = k;
    json_set_alloc_funcs(counting_json_malloc, free);
    o = summaries_object(res, 0, &WINDOW, 3);
    json_set_alloc_funcs(malloc, free);
    int ran_out = json_countdown < 0;
    json_countdown = -1;
    if (!ran_out) {
      assert_non_null(o); /* no allocation failed: the whole object */
      break;
    }
    if (o != NULL)
      fail_msg("allocation %ld failed, yet an object came back", k);
    failures++;
  }
  assert_true(failures > 10);
  assert_non_null(o);
  assert_int_equal(json_object_size(o), 17);
  json_decref(o);
  PQclear(res);
}

/* ---- CSV ---- */

static json_t *row_named(const char *name) {
  const char *v[SUMMARY_COLUMNS];
  base_values(v);
  v[SUMMARY_SITE_NAME] = name;
  return object_of(v, 3);
}

static char *csv_of(json_t *items) {
  size_t len = 0;
  char *csv = summaries_csv(items, &len);
  assert_non_null(csv);
  assert_int_equal(strlen(csv), len);
  return csv;
}

/* The second record's cell for site_name (the second column): it follows "<uuid>," of its row. */
static void expect_site_name_cell(const char *name, const char *cell) {
  json_t *items = json_pack("[o]", row_named(name));
  char *csv = csv_of(items);
  char want[256];
  snprintf(want, sizeof want, "\r\n3f2b8c1e-5a4d-4c6b-9e7f-1a2b3c4d5e6f,%s,2026-12-01T10:00:00Z,", cell);
  if (strstr(csv, want) == NULL)
    fail_msg("site name \"%s\": expected the cell %s in\n%s", name, cell, csv);
  free(csv);
  json_decref(items);
}

static void test_csv_formula_cells_are_prefixed(void **state) {
  (void)state;
  expect_site_name_cell("=HYPERLINK(\"http://evil.example\",\"x\")",
                        "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\"");
  expect_site_name_cell("+1", "'+1");
  expect_site_name_cell("-2", "'-2");
  expect_site_name_cell("@x", "'@x");
  expect_site_name_cell("\tx", "'\tx");
  expect_site_name_cell("\rx", "\"'\rx\""); /* prefixed, then quoted for the CR */
  expect_site_name_cell("Hackney", "Hackney");
  expect_site_name_cell("a=b", "a=b");
  expect_site_name_cell("Site \"A\", North", "\"Site \"\"A\"\", North\"");
}

/* Only text cells: a theme list starting with a formula character is prefixed; numbers never. */
static void test_csv_prefixes_text_not_numbers(void **state) {
  (void)state;
  const char *v[SUMMARY_COLUMNS];
  base_values(v);
  v[SUMMARY_TOP_THEMES] = "[{\"theme\": \"-caseload\", \"meetings\": 3}, {\"theme\": \"=x\", \"meetings\": 3}]";
  json_t *o = object_of(v, 3);
  json_object_set_new(o, "meetings_held", json_integer(-4)); /* never written by the server; still a number */
  json_t *items = json_pack("[o]", o);
  char *csv = csv_of(items);
  assert_non_null(strstr(csv, ",'-caseload:3;=x:3,"));
  assert_non_null(strstr(csv, ",-4,"));
  assert_null(strstr(csv, "'-4"));
  free(csv);
  json_decref(items);
}

/* Every allocation of the CSV writer can fail: NULL comes back, nothing leaks (LeakSanitizer). */
static void test_csv_out_of_memory(void **state) {
  (void)state;
  json_t *items = json_array();
  for (int i = 0; i < 40; i++)
    json_array_append_new(items, row_named("A long site name, to make the buffer grow more than once or twice"));
  long failures = 0;
  for (long k = 0; k < 1000; k++) {
    size_t len = 0;
    alloc_countdown = k;
    char *csv = summaries_csv(items, &len);
    int ran_out = alloc_countdown < 0;
    alloc_countdown = -1;
    if (!ran_out) {
      assert_non_null(csv);
      free(csv);
      break;
    }
    if (csv != NULL)
      fail_msg("allocation %ld failed, yet a CSV came back", k);
    failures++;
  }
  if (failures < 3)
    fail_msg("only %ld allocations could fail", failures);
  json_decref(items);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_window_whole_days_at_least_seven),
      cmocka_unit_test(test_window_narrowing_reveals_nothing),
      cmocka_unit_test(test_object_shows_rates_above_the_threshold),
      cmocka_unit_test(test_attendance_rate_with_few_present_is_suppressed),
      cmocka_unit_test(test_response_rate_with_few_submitted_is_suppressed),
      cmocka_unit_test(test_practitioner_share_with_few_in_groups_is_suppressed),
      cmocka_unit_test(test_object_out_of_memory),
      cmocka_unit_test(test_csv_formula_cells_are_prefixed),
      cmocka_unit_test(test_csv_prefixes_text_not_numbers),
      cmocka_unit_test(test_csv_out_of_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
