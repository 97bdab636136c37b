/*
 * e2e_owasp_api7_ssrf.c — OWASP API Security Top 10 (2023) API7, server side request forgery,
 * against the real server.
 *
 * forumnet takes one kind of URL from clients, an event's online_url (from members and from partner
 * systems), and must treat it as data: only http(s) URLs with a host are accepted, and the server
 * never dereferences one.  The test listens on a loopback port of its own, puts that port (and the
 * cloud metadata address) into events created, published, edited, read, listed and rendered into the
 * calendar feed, and shows that nothing ever connects to it.  Other schemes (file, gopher, ftp,
 * javascript, data) are 400.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static harness_account g_admin, g_mgr, g_prac;
static char g_site[HARNESS_ID_MAX];
static harness_partner g_trusted;
static int g_listener = -1;
static int g_port;

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_new_site_id(g_admin.token, g_site);
  harness_new_manager_quick(g_admin.token, g_site, &g_mgr);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &g_prac);
  harness_new_partner(g_admin.token, true, &g_trusted);
  g_listener = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (g_listener < 0 || bind(g_listener, (struct sockaddr *)&a, sizeof a) != 0 || listen(g_listener, 16) != 0)
    fail_msg("cannot listen on loopback: %s", strerror(errno));
  socklen_t len = sizeof a;
  getsockname(g_listener, (struct sockaddr *)&a, &len);
  g_port = ntohs(a.sin_port);
  return 0;
}

static int group_teardown(void **state) {
  if (g_listener >= 0)
    close(g_listener);
  return harness_suite_teardown(state);
}

/* Fails if anything connected to the listener (waiting up to ms for a late fetch). */
static void expect_no_connection(int ms) {
  struct pollfd p = {.fd = g_listener, .events = POLLIN};
  int n = poll(&p, 1, ms);
  if (n > 0) {
    int c = accept(g_listener, NULL, NULL);
    char buf[512] = "";
    if (c >= 0) {
      ssize_t k = recv(c, buf, sizeof buf - 1, MSG_DONTWAIT);
      buf[k > 0 ? k : 0] = '\0';
      close(c);
    }
    harness_fail("the server connected to a URL it was given: %.300s", buf);
  }
}

static void test_online_urls_are_never_fetched(void **state) {
  (void)state;
  char hook[128], patched[128];
  snprintf(hook, sizeof hook, "http://127.0.0.1:%d/hook?from=forumnet", g_port);
  snprintf(patched, sizeof patched, "https://127.0.0.1:%d/patched", g_port);
  const char *tokens[] = {g_mgr.token, g_trusted.token};
  for (int k = 0; k < 2; k++) {
    json_t *b = harness_event_body("seminar", 4 * 86400, 3600, g_site);
    json_object_set_new(b, "online_url", json_string(hook));
    char id[HARNESS_ID_MAX];
    json_t *ev = harness_new_event(tokens[k], b, id);
    assert_json_str(ev, "online_url", hook); /* stored as given */
    json_decref(ev);
    http_response *r =
        http_json("PATCH", hpath("/v1/events/%s", id), tokens[k], json_pack("{s:s}", "online_url", patched));
    assert_status(r, 200);
    http_response_free(r);
    r = http_json("PATCH", hpath("/v1/events/%s", id), tokens[k],
                  json_pack("{s:s}", "online_url", "http://169.254.169.254/latest/meta-data/"));
    assert_status(r, 200);
    http_response_free(r);
    r = http_json("PATCH", hpath("/v1/events/%s", id), tokens[k], json_pack("{s:s}", "online_url", hook));
    assert_status(r, 200);
    http_response_free(r);
    json_decref(harness_event_get(id, g_prac.token));
  }
  http_response *r = http_get("/v1/events?limit=200", g_prac.token);
  assert_status(r, 200);
  http_response_free(r);
  r = http_get(hpath("/v1/events.ics?site_id=%s", g_site), g_prac.token);
  assert_status(r, 200);
  http_response_free(r);
  r = http_get(hpath("/v1/sites/%s/summary", g_site), g_mgr.token);
  assert_status(r, 200);
  http_response_free(r);
  expect_no_connection(500);
}

static void test_other_schemes_are_refused(void **state) {
  (void)state;
  char local_file[64];
  snprintf(local_file, sizeof local_file, "file://127.0.0.1:%d/etc/passwd", g_port);
  const char *urls[] = {"file:///etc/passwd",
                        local_file,
                        "gopher://127.0.0.1:6379/_FLUSHALL",
                        "ftp://127.0.0.1/",
                        "javascript:alert(1)",
                        "data:text/html,<script>alert(1)</script>",
                        "dict://127.0.0.1:11211/stat",
                        "http://",
                        "http:///etc/passwd",
                        "//127.0.0.1/hook",
                        "http://127.0.0.1 /x",
                        "http://127.0.0.1/\r\nX-Injected: 1"};
  for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
    json_t *b = harness_event_body("seminar", 4 * 86400, 3600, g_site);
    json_object_set_new(b, "online_url", json_string(urls[i]));
    http_response *r = http_json("POST", "/v1/events", g_mgr.token, b);
    if (r->status != 400)
      harness_fail("online_url %s: expected 400, got %ld %s", urls[i], r->status, r->body);
    assert_error_field(r, "online_url");
    http_response_free(r);
  }
  expect_no_connection(200);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_online_urls_are_never_fetched),
      cmocka_unit_test(test_other_schemes_are_refused),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
