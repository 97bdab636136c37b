/* Unit tests for src/core/status.c: every fn_status maps to the HTTP status, title and
 * problem-type slug that API.md promises, and values outside the enum fall back to 500. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "forumnet/status.h"

static const struct {
  fn_status status;
  int http;
  const char *title;
  const char *slug;
} expected[] = {
    {FN_OK, 200, "OK", "ok"},
    {FN_CREATED, 201, "Created", "created"},
    {FN_NO_CONTENT, 204, "No Content", "no-content"},
    {FN_NOT_MODIFIED, 304, "Not Modified", "not-modified"},
    {FN_INVALID, 400, "Bad Request", "invalid-request"},
    {FN_UNAUTHENTICATED, 401, "Unauthorized", "unauthenticated"},
    {FN_FORBIDDEN, 403, "Forbidden", "forbidden"},
    {FN_PASSWORD_CHANGE_REQUIRED, 403, "Password Change Required", "password-change-required"},
    {FN_NOT_FOUND, 404, "Not Found", "not-found"},
    {FN_METHOD_NOT_ALLOWED, 405, "Method Not Allowed", "method-not-allowed"},
    {FN_CONFLICT, 409, "Conflict", "conflict"},
    {FN_PRECONDITION_FAILED, 412, "Precondition Failed", "precondition-failed"},
    {FN_PRECONDITION_REQUIRED, 428, "Precondition Required", "precondition-required"},
    {FN_TOO_LARGE, 413, "Content Too Large", "content-too-large"},
    {FN_UNSUPPORTED_MEDIA, 415, "Unsupported Media Type", "unsupported-media-type"},
    {FN_UNPROCESSABLE, 422, "Unprocessable Content", "unprocessable"},
    {FN_RATE_LIMITED, 429, "Too Many Requests", "rate-limited"},
    {FN_UNAVAILABLE, 503, "Service Unavailable", "unavailable"},
    {FN_INTERNAL, 500, "Internal Server Error", "internal"},
};
#define EXPECTED_COUNT (sizeof expected / sizeof expected[0])

static void test_every_status_maps(void **state) {
  (void)state;
  for (size_t i = 0; i < EXPECTED_COUNT; i++) {
    assert_int_equal(fn_status_http(expected[i].status), expected[i].http);
    assert_string_equal(fn_status_title(expected[i].status), expected[i].title);
    assert_string_equal(fn_status_slug(expected[i].status), expected[i].slug);
  }
}

/* The table above must name every enum value once, in order, so a new status cannot be
 * added without deciding its HTTP mapping here. */
static void test_table_covers_enum(void **state) {
  (void)state;
  assert_int_equal(EXPECTED_COUNT, FN_INTERNAL + 1);
  for (size_t i = 0; i < EXPECTED_COUNT; i++)
    assert_int_equal(expected[i].status, (fn_status)i);
}

static void test_slugs_and_titles_are_distinct(void **state) {
  (void)state;
  for (size_t i = 0; i < EXPECTED_COUNT; i++)
    for (size_t j = i + 1; j < EXPECTED_COUNT; j++) {
      assert_string_not_equal(fn_status_slug(expected[i].status), fn_status_slug(expected[j].status));
      assert_string_not_equal(fn_status_title(expected[i].status), fn_status_title(expected[j].status));
      /* Each HTTP status has one meaning, except 403: "forbidden" and the narrower
       * "password-change-required" (a one-time password still in use, API.md section 3). */
      if (fn_status_http(expected[i].status) != 403)
        assert_int_not_equal(fn_status_http(expected[i].status), fn_status_http(expected[j].status));
    }
}

static void test_slugs_are_uri_safe(void **state) {
  (void)state;
  for (size_t i = 0; i < EXPECTED_COUNT; i++) {
    const char *slug = fn_status_slug(expected[i].status);
    assert_true(strlen(slug) > 0);
    for (const char *p = slug; *p; p++)
      assert_true((*p >= 'a' && *p <= 'z') || *p == '-');
  }
}

static void test_out_of_range_is_internal(void **state) {
  (void)state;
  fn_status bogus[] = {(fn_status)(FN_INTERNAL + 1), (fn_status)999, (fn_status)-1};
  for (size_t i = 0; i < sizeof bogus / sizeof bogus[0]; i++) {
    assert_int_equal(fn_status_http(bogus[i]), 500);
    assert_string_equal(fn_status_title(bogus[i]), "Internal Server Error");
    assert_string_equal(fn_status_slug(bogus[i]), "internal");
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_status_maps),
      cmocka_unit_test(test_table_covers_enum),
      cmocka_unit_test(test_slugs_and_titles_are_distinct),
      cmocka_unit_test(test_slugs_are_uri_safe),
      cmocka_unit_test(test_out_of_range_is_internal),
  };
  return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
