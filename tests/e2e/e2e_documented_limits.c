/*
 * e2e_documented_limits.c — the limits openapi/openapi.yaml states (checked by the Spectral OWASP
 * lint: every string has a maxLength, every array a maxItems) are the ones the server keeps.
 *
 * Request side: one past each documented bound is 400 naming the field or parameter (cursor 120,
 * login email 254 and password 1024, refresh token 4096, a date-time query parameter 35, q 100), and
 * a path id longer than a UUID (36) is 404. Response side: a validation problem's `errors` list holds
 * at most 100 entries, with field names cut to 128 and messages to 256 characters, however many and
 * however long the unknown keys a client sends (Problem.errors, FieldError).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static harness_account g_admin;

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  return 0;
}

/* A new string of n copies of c. Caller frees. */
static void expect_invalid(http_response *r, const char *field) {
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, field);
  http_response_free(r);
}

/* cursor: 120 characters at most (then 400), as Cursor and NextCursor say. */
static void test_cursor_over_120_is_400(void **state) {
  (void)state;
  char *cursor = harness_repeat('A', 121);
  expect_invalid(http_get(hpath("/v1/sites?cursor=%s", cursor), g_admin.token), "cursor");
  free(cursor);
}

/* Login: email 1 to 254, password 1 to 1024 characters; refresh and logout: a token of at most 4096. */
static void test_auth_bodies_over_their_bounds_are_400(void **state) {
  (void)state;
  harness_use_unique_source_address();
  char *email = harness_repeat('e', 255), *password = harness_repeat('p', 1025), *token = harness_repeat('t', 4097);
  expect_invalid(http_json("POST", "/v1/auth/login", NULL, json_pack("{s:s, s:s}", "email", email, "password", "x")),
                 "email");
  expect_invalid(http_json("POST", "/v1/auth/login", NULL,
                           json_pack("{s:s, s:s}", "email", "someone@example.org", "password", password)),
                 "password");
  expect_invalid(http_json("POST", "/v1/auth/refresh", NULL, json_pack("{s:s}", "refresh_token", token)),
                 "refresh_token");
  expect_invalid(http_json("POST", "/v1/auth/logout", NULL, json_pack("{s:s}", "refresh_token", token)),
                 "refresh_token");
  free(email);
  free(password);
  free(token);
}

/* A date-time query parameter is at most 35 characters (19, a fraction of up to 9 digits, an offset):
 * ten fraction digits make 36, and 400. */
static void test_datetime_parameter_over_35_is_400(void **state) {
  (void)state;
  const char *long_time = "2027-01-01T00:00:00.0000000000%2B00:00"; /* 36 characters once decoded */
  expect_invalid(http_get(hpath("/v1/events?from=%s", long_time), g_admin.token), "from");
  expect_invalid(http_get(hpath("/v1/summaries/sites?to=%s", long_time), g_admin.token), "to");
  /* 35 is accepted */
  http_response *r = http_get("/v1/events?from=2027-01-01T00:00:00.000000000%2B00:00", g_admin.token);
  assert_status(r, 200);
  http_response_free(r);
}

/* q: 1 to 100 characters. */
static void test_member_query_over_100_is_400(void **state) {
  (void)state;
  char *q = harness_repeat('q', 101);
  expect_invalid(http_get(hpath("/v1/members?q=%s", q), g_admin.token), "q");
  free(q);
}

/* Path ids are UUIDs (maxLength 36): anything longer is 404, never 400 or 500. */
static void test_path_id_longer_than_uuid_is_404(void **state) {
  (void)state;
  http_response *r = http_get("/v1/sites/3f2b8c1e-5a4d-4c6b-9e7f-1a2b3c4d5e6f0", g_admin.token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
}

/* 300 unknown keys of 300 two-byte characters each: 400 with the first 100 errors, each field name cut
 * to 128 characters (valid UTF-8), each message within 256. */
static void test_errors_list_is_bounded(void **state) {
  (void)state;
  json_t *body = json_object();
  char key[700];
  for (int k = 0; k < 300; k++) {
    int off = snprintf(key, sizeof key, "k%03d", k);
    for (int i = 0; i < 300; i++, off += 2)
      memcpy(key + off, "\xc3\xa9", 2);
    key[off] = '\0';
    json_object_set_new(body, key, json_true());
  }
  http_response *r = http_json("POST", "/v1/sites", g_admin.token, body);
  assert_problem_type(r, 400, "invalid-request");
  json_t *errors = json_object_get(r->json, "errors");
  assert_true(json_is_array(errors));
  assert_int_equal(json_array_size(errors), 100);
  size_t i;
  json_t *e;
  json_array_foreach(errors, i, e) {
    const char *field = json_string_value(json_object_get(e, "field"));
    const char *message = json_string_value(json_object_get(e, "message"));
    assert_non_null(field);
    assert_non_null(message);
    if (strncmp(field, "k", 1) != 0)
      continue; /* a required field that is missing: short */
    /* "kNNN" and 124 two-byte characters: 128 characters, 252 bytes */
    assert_int_equal(strlen(field), 4 + 2 * 124);
    assert_true(strlen(message) <= 256);
  }
  http_response_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cursor_over_120_is_400),
      cmocka_unit_test(test_auth_bodies_over_their_bounds_are_400),
      cmocka_unit_test(test_datetime_parameter_over_35_is_400),
      cmocka_unit_test(test_member_query_over_100_is_400),
      cmocka_unit_test(test_path_id_longer_than_uuid_is_404),
      cmocka_unit_test(test_errors_list_is_bounded),
  };
  return cmocka_run_group_tests_name("e2e_documented_limits", tests, group_setup, harness_suite_teardown);
}
