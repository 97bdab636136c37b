/* Unit tests for src/core/log.c: a message with invalid UTF-8 (a client's bytes) is still
 * written as one JSON line, its bad bytes replaced with U+FFFD, instead of vanishing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "forumnet/log.h"
#include "forumnet/router.h"
#include "forumnet/routes.h"

static void test_sanitize_keeps_valid_text(void **state) {
  (void)state;
  char out[64];
  log_utf8_sanitize("plain caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", out, sizeof out);
  assert_string_equal(out, "plain caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
}

static void test_sanitize_replaces_invalid_bytes(void **state) {
  (void)state;
  char out[64];
  /* a lone continuation byte, an overlong '/', a surrogate, a truncated sequence at the end */
  log_utf8_sanitize("a\x80"
                    "b\xC0\xAF"
                    "c\xED\xA0\x80"
                    "d\xE2\x82",
                    out, sizeof out);
  json_t *s = json_string(out);
  assert_non_null(s); /* valid UTF-8 now */
  json_decref(s);
  assert_non_null(strstr(out, "a\xEF\xBF\xBD"
                              "b"));
  assert_null(strstr(out, "\x80"
                          "b"));
}

static void test_sanitize_truncates_at_a_whole_character(void **state) {
  (void)state;
  char out[4];
  log_utf8_sanitize("ab\xE2\x82\xAC", out, sizeof out);
  assert_string_equal(out, "ab");
}

static void test_invalid_utf8_message_is_logged(void **state) {
  (void)state;
  char path[] = "/tmp/forumnet-test-log-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  assert_true(saved >= 0);
  assert_true(dup2(fd, STDERR_FILENO) >= 0);
  log_error("bad bytes from a client: %s", "x\xFF\xFEy");
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fd);

  json_error_t err;
  json_t *line = json_load_file(path, JSON_DISABLE_EOF_CHECK, &err);
  unlink(path);
  if (line == NULL)
    fail_msg("no JSON log line was written: %s", err.text);
  const char *msg = json_string_value(json_object_get(line, "msg"));
  assert_non_null(msg);
  assert_non_null(strstr(msg, "bad bytes from a client: x\xEF\xBF\xBD"));
  json_decref(line);
}

/* The router keeps every route of every table (it once silently dropped those past 256). */
static void test_router_keeps_every_route(void **state) {
  (void)state;
  int expected = 0;
  for (const fn_route *const *table = all_route_tables; *table != NULL; table++)
    for (const fn_route *r = *table; r->method != NULL; r++)
      expected++;
  assert_int_equal(router_init(), 0);
  assert_int_equal(router_route_count(), expected);
  assert_non_null(router_route(expected - 1));
  assert_null(router_route(expected));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sanitize_keeps_valid_text),
      cmocka_unit_test(test_sanitize_replaces_invalid_bytes),
      cmocka_unit_test(test_sanitize_truncates_at_a_whole_character),
      cmocka_unit_test(test_invalid_utf8_message_is_logged),
      cmocka_unit_test(test_router_keeps_every_route),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
