/*
 * e2e_several_instances.c — what each process keeps for itself stays correct with N instances behind
 * a balancer (issue 13, item 7; README "How it works", Several instances):
 *   - a token cached by one instance is refused there as soon as another instance suspends its member
 *     (the token cache saves only the signature work; the subject is read from the database);
 *   - /metrics count the requests of their own process only.
 * The second instance is a nested server on the same database.
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

/* Requests /v1/me counted in the current server's /metrics (all statuses). */
static long me_requests_counted(void) {
  http_response *r = http_get("/metrics", NULL);
  assert_status(r, 200);
  long total = 0;
  static const char prefix[] = "forumnet_http_requests_total{method=\"GET\",route=\"/v1/me\",";
  for (const char *line = r->body; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    const char *sp = strchr(line, ' ');
    if (strncmp(line, prefix, sizeof prefix - 1) == 0 && sp)
      total += strtol(sp + 1, NULL, 10);
  }
  http_response_free(r);
  return total;
}

static void test_suspension_on_one_instance_reaches_another(void **state) {
  (void)state;
  char site[HARNESS_ID_MAX];
  harness_new_site_id(g_admin.token, site);
  harness_account member;
  harness_new_member(g_admin.token, "practitioner", site, &member);
  /* Instance A verifies and caches the member's token. */
  for (int i = 0; i < 2; i++) {
    http_response *r = http_get("/v1/me", member.token);
    assert_status(r, 200);
    http_response_free(r);
  }
  long counted_on_a = me_requests_counted();

  harness_server_start(NULL); /* instance B */
  if (me_requests_counted() != 0)
    harness_fail("a new instance's /metrics already count requests another instance served");
  http_response *r = http_get("/v1/me", member.token);
  assert_status(r, 200);
  http_response_free(r);
  r = http_json("PATCH", hpath("/v1/members/%s", member.id), g_admin.token, json_pack("{s:s}", "status", "suspended"));
  assert_status(r, 200);
  http_response_free(r);
  harness_server_stop(); /* back to instance A */

  r = http_get("/v1/me", member.token);
  if (r->status != 401)
    harness_fail("instance A answered %ld to a token whose member instance B suspended (it cached the token); "
                 "expected 401",
                 r->status);
  http_response_free(r);
  long counted_now = me_requests_counted();
  if (counted_now != counted_on_a + 1)
    harness_fail("instance A's /metrics counted %ld GET /v1/me, expected %ld (its own requests only)", counted_now,
                 counted_on_a + 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_suspension_on_one_instance_reaches_another, harness_stop_nested_servers),
  };
  return cmocka_run_group_tests_name("e2e_several_instances", tests, group_setup, harness_suite_teardown);
}
