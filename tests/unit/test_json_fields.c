/* Unit tests for the field types added for meetings in src/core/body.c: FIELD_TIMESTAMP (RFC 3339
 * date-times, optionally bounded by year) with rfc3339_parse(), and FIELD_STRING_ARRAY (item count
 * bounds in min/max, item length bound in FIELD_ITEM_MAX()). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "forumnet/body.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

/* ---- rfc3339_parse ---- */

static long long epoch_us(const char *s) {
  long long us = -1;
  if (!rfc3339_parse(s, &us))
    fail_msg("\"%s\" was rejected", s);
  return us;
}

static void test_timestamp_valid(void **state) {
  (void)state;
  assert_int_equal(epoch_us("1970-01-01T00:00:00Z"), 0);
  assert_int_equal(epoch_us("2026-11-22T10:00:00Z"), 1795341600LL * 1000000);
  assert_int_equal(epoch_us("2026-11-22t10:00:00z"), 1795341600LL * 1000000); /* RFC 3339 5.6 NOTE */
  /* Offsets name the same instant. */
  assert_int_equal(epoch_us("2026-11-22T11:30:00+01:30"), 1795341600LL * 1000000);
  assert_int_equal(epoch_us("2026-11-22T05:00:00-05:00"), 1795341600LL * 1000000);
  assert_int_equal(epoch_us("2026-11-22T10:00:00-00:00"), 1795341600LL * 1000000);
  /* Fractions of 1 to 9 digits, kept to the microsecond (rounded). */
  assert_int_equal(epoch_us("2026-11-22T10:00:00.5Z"), 1795341600LL * 1000000 + 500000);
  assert_int_equal(epoch_us("2026-11-22T10:00:00.123456Z"), 1795341600LL * 1000000 + 123456);
  assert_int_equal(epoch_us("2026-11-22T10:00:00.123456789Z"), 1795341600LL * 1000000 + 123457);
  assert_int_equal(epoch_us("2026-11-22T10:00:00.9999999Z"), 1795341601LL * 1000000);
  /* Calendar edges. */
  assert_int_equal(epoch_us("2024-02-29T00:00:00Z"), 1709164800LL * 1000000);
  assert_int_equal(epoch_us("2000-02-29T00:00:00Z"), 951782400LL * 1000000);
  assert_int_equal(epoch_us("1969-12-31T23:59:59Z"), -1000000);
  assert_int_equal(epoch_us("2026-12-31T23:59:59Z"), 1798761599LL * 1000000);
  assert_true(rfc3339_parse("0001-01-01T00:00:00Z", NULL));
  assert_true(rfc3339_parse("9999-12-31T23:59:59.999999+23:59", NULL));
}

static void test_timestamp_invalid(void **state) {
  (void)state;
  const char *bad[] = {
      "",
      "2026-11-22",                      /* a date only */
      "2026-11-22T10:00Z",               /* no seconds */
      "2026-11-22T10:00:00",             /* no offset */
      "2026-11-22 10:00:00Z",            /* space instead of T */
      "2026-11-22T10:00:00+0100",        /* offset without colon */
      "2026-11-22T10:00:00+01",          /* offset without minutes */
      "2026-11-22T10:00:00+24:00",       /* offset hour */
      "2026-11-22T10:00:00+01:60",       /* offset minute */
      "2026-11-22T10:00:00.Z",           /* empty fraction */
      "2026-11-22T10:00:00.1234567890Z", /* more than nanoseconds */
      "2026-11-22T10:00:00,5Z",          /* comma fraction */
      "2026-11-22T10:00:00Z ",           /* trailing space */
      " 2026-11-22T10:00:00Z",           /* leading space */
      "2026-11-22T10:00:00ZZ",           /* trailing garbage */
      "26-11-22T10:00:00Z",              /* two-digit year */
      "+2026-11-22T10:00:00Z",           /* signed year */
      "2026-1-22T10:00:00Z",             /* one-digit month */
      "2026-00-22T10:00:00Z",            /* month 0 */
      "2026-13-22T10:00:00Z",            /* month 13 */
      "2026-11-00T10:00:00Z",            /* day 0 */
      "2026-11-31T10:00:00Z",            /* 31 November */
      "2026-02-29T10:00:00Z",            /* not a leap year */
      "1900-02-29T10:00:00Z",            /* centuries are not leap years ... */
      "2026-11-22T24:00:00Z",            /* hour 24 */
      "2026-11-22T10:60:00Z",            /* minute 60 */
      "2026-11-22T10:00:60Z",            /* leap seconds are not accepted */
      "2026-11-22T1a:00:00Z",
      "2026-11-22T10:00:00\xc2\xa0Z", /* non-ASCII */
      "now",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (rfc3339_parse(bad[i], NULL))
      fail_msg("\"%s\" was accepted", bad[i]);
  assert_false(rfc3339_parse(NULL, NULL));
  /* ... unless divisible by 400. */
  assert_true(rfc3339_parse("2000-02-29T10:00:00Z", NULL));
}

/* ---- body_validate with the new types ---- */

static const field_spec meeting_specs[] = {
    {"starts_at", FIELD_TIMESTAMP, FIELD_REQUIRED, 1900, 2999, NULL},
    {"ends_at", FIELD_TIMESTAMP, FIELD_NULLABLE, 0, 0, NULL}, /* max 0: any year */
    {"themes", FIELD_STRING_ARRAY, FIELD_ITEM_MAX(5), 0, 3, NULL},
    {"tags", FIELD_STRING_ARRAY, FIELD_NULLABLE, 1, 2, NULL}, /* no item length bound */
    {NULL, 0, 0, 0, 0, NULL},
};

/* Validates {"starts_at": "2026-11-22T10:00:00Z"} with key set to the JSON value `value`. Returns the error
 * message when there is exactly one error and it names `key`, "" when valid. */
static char message_buf[512];
static const char *validate_with(const char *key, const char *value) {
  json_t *obj = json_pack("{s:s}", "starts_at", "2026-11-22T10:00:00Z");
  json_error_t e;
  json_t *v = json_loads(value, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
  if (v == NULL)
    fail_msg("bad test value %s: %s", value, e.text);
  json_object_set_new(obj, key, v);
  json_t *errors = (json_t *)0x1;
  fn_status st = body_validate(obj, meeting_specs, &errors);
  json_decref(obj);
  if (st == FN_OK) {
    assert_null(errors);
    return "";
  }
  assert_int_equal(st, FN_INVALID);
  char *dump = json_dumps(errors, 0);
  snprintf(message_buf, sizeof message_buf, "%s", dump ? dump : "?");
  free(dump);
  if (json_array_size(errors) != 1 ||
      strcmp(json_string_value(json_object_get(json_array_get(errors, 0), "field")), key) != 0) {
    json_decref(errors);
    fail_msg("expected one error for %s, got %s", key, message_buf);
  }
  snprintf(message_buf, sizeof message_buf, "%s",
           json_string_value(json_object_get(json_array_get(errors, 0), "message")));
  json_decref(errors);
  return message_buf;
}

#define ASSERT_VALID(key, value) assert_string_equal(validate_with(key, value), "")
#define ASSERT_REJECTED(key, value) assert_string_not_equal(validate_with(key, value), "")

static void test_validate_timestamp(void **state) {
  (void)state;
  ASSERT_VALID("starts_at", "\"2026-11-22T10:00:00.250+01:00\"");
  ASSERT_VALID("starts_at", "\"1900-01-01T00:00:00Z\"");
  ASSERT_VALID("starts_at", "\"2999-12-31T23:59:59Z\"");
  ASSERT_REJECTED("starts_at", "\"2026-11-22\"");
  ASSERT_REJECTED("starts_at", "1795341600"); /* epoch numbers are not date-times */
  ASSERT_REJECTED("starts_at", "null");       /* not nullable */
  ASSERT_REJECTED("starts_at", "true");
  assert_non_null(strstr(validate_with("starts_at", "\"tomorrow\""), "RFC 3339"));
  /* The year bound applies to the year as written. */
  assert_non_null(strstr(validate_with("starts_at", "\"1899-12-31T23:59:59Z\""), "1900 to 2999"));
  ASSERT_REJECTED("starts_at", "\"3000-01-01T00:00:00Z\"");
  /* Without bounds any four-digit year is accepted, and null where nullable. */
  ASSERT_VALID("ends_at", "\"0001-01-01T00:00:00Z\"");
  ASSERT_VALID("ends_at", "\"9999-12-31T23:59:59Z\"");
  ASSERT_VALID("ends_at", "null");
  ASSERT_REJECTED("ends_at", "\"2026-11-22T10:00:00\\u0000Z\"");
}

static void test_validate_missing_timestamp(void **state) {
  (void)state;
  json_t *obj = json_object();
  json_t *errors = NULL;
  assert_int_equal(body_validate(obj, meeting_specs, &errors), FN_INVALID);
  assert_int_equal(json_array_size(errors), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "field")), "starts_at");
  json_decref(errors);
  json_decref(obj);
}

static void test_validate_string_array_count(void **state) {
  (void)state;
  ASSERT_VALID("themes", "[]");
  ASSERT_VALID("themes", "[\"a\", \"b\", \"c\"]");
  assert_non_null(strstr(validate_with("themes", "[\"a\", \"b\", \"c\", \"d\"]"), "0 to 3 items"));
  ASSERT_REJECTED("tags", "[]"); /* min 1 */
  ASSERT_VALID("tags", "[\"x\"]");
  ASSERT_REJECTED("tags", "[\"x\", \"y\", \"z\"]");
  /* Duplicates are the server's to fold, not an error. */
  ASSERT_VALID("themes", "[\"a\", \"a\"]");
}

static void test_validate_string_array_types(void **state) {
  (void)state;
  ASSERT_REJECTED("themes", "\"housing\""); /* a string, not an array */
  ASSERT_REJECTED("themes", "{}");
  ASSERT_REJECTED("themes", "null"); /* not nullable */
  ASSERT_VALID("tags", "null");
  ASSERT_REJECTED("themes", "[1]");
  ASSERT_REJECTED("themes", "[null]");
  ASSERT_REJECTED("themes", "[[\"a\"]]");
  ASSERT_REJECTED("themes", "[{\"a\": 1}]");
  ASSERT_REJECTED("themes", "[true]");
  /* The message names the first bad item by position. */
  assert_non_null(strstr(validate_with("themes", "[\"ok\", 7]"), "item 1"));
}

static void test_validate_string_array_items(void **state) {
  (void)state;
  ASSERT_VALID("themes", "[\"abcde\"]");
  ASSERT_VALID("themes", "[\"\\u00e9t\\u00e9s\"]"); /* 5 characters, 7 bytes */
  assert_non_null(strstr(validate_with("themes", "[\"abcdef\"]"), "1 to 5 characters"));
  ASSERT_REJECTED("themes", "[\"\"]");
  ASSERT_REJECTED("themes", "[\"   \"]");
  ASSERT_REJECTED("themes", "[\"\\t\\n\"]");
  ASSERT_REJECTED("themes", "[\"a\\u0000b\"]");
  /* Without FIELD_ITEM_MAX items of any length are accepted, but never blank ones. */
  ASSERT_VALID("tags", "[\"a rather long tag that goes on\"]");
  ASSERT_REJECTED("tags", "[\" \"]");
}

/* FIELD_ITEM_MAX lives above the flag bits, so it combines with them. */
static void test_item_max_combines_with_flags(void **state) {
  (void)state;
  unsigned flags = FIELD_REQUIRED | FIELD_NULLABLE | FIELD_ITEM_MAX(50);
  assert_true(flags & FIELD_REQUIRED);
  assert_true(flags & FIELD_NULLABLE);
  assert_int_equal(flags >> 8, 50);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_timestamp_valid),
      cmocka_unit_test(test_timestamp_invalid),
      cmocka_unit_test(test_validate_timestamp),
      cmocka_unit_test(test_validate_missing_timestamp),
      cmocka_unit_test(test_validate_string_array_count),
      cmocka_unit_test(test_validate_string_array_types),
      cmocka_unit_test(test_validate_string_array_items),
      cmocka_unit_test(test_item_max_combines_with_flags),
  };
  return cmocka_run_group_tests_name("json_fields", tests, NULL, NULL);
}
