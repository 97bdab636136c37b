/* Unit test for src/resources/members_db.c under allocation failure: a member search whose
 * filter cannot be built fails the request; it never runs unfiltered (issue 11).
 *
 * Linked with -Wl,--wrap=malloc (tests/CMakeLists.txt), so __wrap_malloc below stands in for
 * malloc in this executable's own objects and in the forumnet_core objects it pulls in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "forumnet/members_db.h"

void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);

static int g_fail_mallocs; /* how many of the next mallocs fail */

void *__wrap_malloc(size_t size) {
  if (g_fail_mallocs > 0) {
    g_fail_mallocs--;
    return NULL;
  }
  return __real_malloc(size);
}

static void test_search_without_memory_fails_instead_of_widening(void **state) {
  (void)state;
  page_request page;
  const char *field = NULL;
  assert_int_equal(page_parse("10", NULL, &page, &field), FN_OK);
  PGresult *res = (PGresult *)&page; /* must be reset, not left dangling */
  g_fail_mallocs = 1;
  /* No database: a search that went ahead would reach it (and crash here); the filter's
   * allocation failure must end the request first. */
  fn_status st = members_db_list(NULL, "00000000-0000-4000-8000-000000000000", NULL, NULL, "smith", &page, &res);
  g_fail_mallocs = 0;
  assert_int_equal(st, FN_INTERNAL);
  assert_null(res);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_search_without_memory_fails_instead_of_widening),
  };
  return cmocka_run_group_tests_name("members_db_oom", tests, NULL, NULL);
}
