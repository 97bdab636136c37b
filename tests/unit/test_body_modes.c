/* Unit tests for one field list serving a resource's POST and PATCH (src/core/body.c, body_validate_as):
 * FIELD_REQUIRED counts when creating only, FIELD_CREATE_ONLY is read-only in an update, FIELD_UPDATE_ONLY
 * entries count in an update only, and FIELDS_READ_ONLY names several read-only members in one entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "forumnet/body.h"

static const char *const read_only[] = {"id", "version", "created_at", NULL};
static const char *const statuses[] = {"open", "closed", NULL};

static const field_spec fields[] = {
    {"name", FIELD_STRING, FIELD_REQUIRED, 1, 20, NULL},
    {"slug", FIELD_SLUG, FIELD_REQUIRED | FIELD_CREATE_ONLY, 2, 20, NULL},
    {"status", FIELD_ENUM, FIELD_UPDATE_ONLY, 0, 0, statuses},
    {"note", FIELD_STRING, FIELD_NULLABLE, 1, 20, NULL},
    FIELDS_READ_ONLY(read_only),
    {NULL, 0, 0, 0, 0, NULL},
};

/* Validates text in mode; returns the errors as compact JSON ("" when valid). */
static char *check(const char *text, body_mode mode) {
  static char out[1024];
  json_t *body = json_loads(text, 0, NULL), *errors = NULL;
  assert_non_null(body);
  fn_status st = body_validate_as(body, fields, mode, &errors);
  out[0] = '\0';
  if (st != FN_OK) {
    assert_non_null(errors);
    char *dump = json_dumps(errors, JSON_COMPACT);
    snprintf(out, sizeof out, "%s", dump);
    free(dump);
  } else {
    assert_null(errors);
  }
  json_decref(errors);
  json_decref(body);
  return out;
}

static void test_required_when_creating_only(void **state) {
  (void)state;
  assert_string_equal(check("{\"name\":\"a\",\"slug\":\"ab\"}", BODY_CREATE), "");
  assert_string_equal(check("{\"name\":\"a\"}", BODY_CREATE), "[{\"field\":\"slug\",\"message\":\"is required\"}]");
  assert_string_equal(check("{}", BODY_UPDATE), "");
  assert_string_equal(check("{\"note\":null}", BODY_UPDATE), "");
}

static void test_create_only_is_read_only_in_an_update(void **state) {
  (void)state;
  assert_string_equal(check("{\"slug\":\"ab\"}", BODY_UPDATE),
                      "[{\"field\":\"slug\",\"message\":\"is read-only and cannot be set\"}]");
}

static void test_update_only_is_unknown_when_creating(void **state) {
  (void)state;
  assert_string_equal(check("{\"status\":\"closed\"}", BODY_UPDATE), "");
  assert_string_equal(check("{\"status\":\"gone\"}", BODY_UPDATE),
                      "[{\"field\":\"status\",\"message\":\"must be one of: open closed\"}]");
  assert_string_equal(check("{\"name\":\"a\",\"slug\":\"ab\",\"status\":\"open\"}", BODY_CREATE),
                      "[{\"field\":\"status\",\"message\":\"is not a known field\"}]");
}

static void test_read_only_names_in_one_entry(void **state) {
  (void)state;
  static const char *const bodies[] = {[BODY_CREATE] =
                                           "{\"name\":\"a\",\"slug\":\"ab\",\"id\":\"x\",\"created_at\":\"y\"}",
                                       [BODY_UPDATE] = "{\"name\":\"a\",\"id\":\"x\",\"created_at\":\"y\"}"};
  for (body_mode mode = BODY_CREATE; mode <= BODY_UPDATE; mode++)
    assert_string_equal(check(bodies[mode], mode),
                        "[{\"field\":\"id\",\"message\":\"is read-only and cannot be set\"},"
                        "{\"field\":\"created_at\",\"message\":\"is read-only and cannot be set\"}]");
  /* the entry's own label is no field name */
  assert_string_equal(check("{\"(read-only fields)\":1}", BODY_UPDATE),
                      "[{\"field\":\"(read-only fields)\",\"message\":\"is not a known field\"}]");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_required_when_creating_only),
      cmocka_unit_test(test_create_only_is_read_only_in_an_update),
      cmocka_unit_test(test_update_only_is_unknown_when_creating),
      cmocka_unit_test(test_read_only_names_in_one_entry),
  };
  return cmocka_run_group_tests_name("body_modes", tests, NULL, NULL);
}
