/*
 * e2e_trusted_proxies.c — FORUMNET_TRUSTED_PROXIES (README "Configuration"): only when the TCP peer
 * is a trusted proxy is the client address taken from X-Forwarded-For (the right-most address that
 * is not itself a trusted proxy); otherwise, and when the header is malformed, it is the peer.
 * Observed through the per-address login limit (FORUMNET_LOGIN_MAX_FAILURES_PER_ADDRESS=3 here):
 * which failures share a bucket shows which address the server took; and in the request log's "client".
 *
 * The group's server trusts 127.0.0.1/32 and one loopback address of this process (g_proxy), so
 * that the peer's own bucket is never 127.0.0.1's, which other suites share. Forwarded addresses
 * are unique to the process too (failure counters live in the shared database).
 */
#include "harness.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char g_proxy[64]; /* a trusted peer address of ours */
static char g_email[HARNESS_EMAIL_MAX], g_password[HARNESS_PASSWORD_MAX];

/* A forwarded IPv4 address unique to this process and call. The failure counters outlive the process (they are
 * rows of the shared database, which scripts/test.sh's PgBouncer pass reuses), so the first address is drawn
 * from the pid and the clock: from the pid alone, two runs whose pids agreed modulo 500 shared buckets (seen: a
 * first wrong login answered 429 in the second pass). */
static const char *unique_forwarded(char *out, size_t len) {
  static atomic_uint counter;
  static unsigned base;
  if (atomic_load(&counter) == 0) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    base = (unsigned)getpid() * 2654435761u ^ (unsigned)now.tv_sec * 40503u ^ (unsigned)now.tv_nsec;
  }
  unsigned n = base + atomic_fetch_add(&counter, 1u); /* 2 x 250 x 250 addresses in 198.18.0.0/15 */
  snprintf(out, len, "198.%u.%u.%u", 18 + (n / 62500) % 2, 1 + (n / 250) % 250, 1 + n % 250);
  return out;
}

/* POST /v1/auth/login with the headers (NULL: none). */
static http_response *login_with(const char *const *headers, const char *email, const char *password) {
  return http_json_with_headers("POST", "/v1/auth/login", NULL,
                                json_pack("{s:s, s:s}", "email", email, "password", password), headers);
}

/* POST /v1/auth/login with "X-Forwarded-For: xff" (NULL: none). */
static http_response *login_via(const char *xff, const char *email, const char *password) {
  char header[512];
  snprintf(header, sizeof header, "X-Forwarded-For: %s", xff ? xff : "");
  const char *const headers[] = {header, NULL};
  return login_with(xff ? headers : NULL, email, password);
}

/* A failed login (an unknown email, so no per-email bucket fills), expected to answer status. */
static void failed_login_via(const char *xff, long status) {
  char unknown[HARNESS_EMAIL_MAX];
  harness_unique_email("nobody", unknown);
  http_response *r = login_via(xff, unknown, "wrong-password-123");
  if (r->status != status)
    harness_fail("a wrong login with X-Forwarded-For \"%s\" should answer %ld, got %ld", xff ? xff : "(none)", status,
                 r->status);
  http_response_free(r);
}

static void good_login_via(const char *xff, long status) {
  http_response *r = login_via(xff, g_email, g_password);
  if (r->status != status)
    harness_fail("the right password with X-Forwarded-For \"%s\" should answer %ld, got %ld", xff ? xff : "(none)",
                 status, r->status);
  http_response_free(r);
}

/* Three failures fill the bucket of whatever address the server took. */
static void fill_bucket_via(const char *xff) {
  for (int i = 0; i < 3; i++)
    failed_login_via(xff, 401);
}

static int group_setup(void **state) {
  (void)state;
  snprintf(g_proxy, sizeof g_proxy, "%s", harness_use_unique_source_address());
  static char trusted[128];
  snprintf(trusted, sizeof trusted, "FORUMNET_TRUSTED_PROXIES=127.0.0.1/32, %s/32", g_proxy);
  const char *const env[] = {trusted, "FORUMNET_LOGIN_MAX_FAILURES_PER_ADDRESS=3", "FORUMNET_LOG_REQUESTS=1",
                             /* the harness turns them off; one test reads them */ NULL};
  harness_set_source_address(NULL);
  harness_server_start(env);
  harness_create_admin(g_email, g_password);
  return 0;
}

/* Without FORUMNET_TRUSTED_PROXIES, a client cannot dodge the per-address limit by forging the header. */
static void test_header_ignored_without_the_setting(void **state) {
  (void)state;
  static const char *const env[] = {"FORUMNET_LOGIN_MAX_FAILURES_PER_ADDRESS=3", NULL};
  harness_server_start(env);
  harness_use_unique_source_address();
  char xff[256];
  for (int i = 0; i < 3; i++)
    failed_login_via(unique_forwarded(xff, sizeof xff), 401);
  failed_login_via(unique_forwarded(xff, sizeof xff), 429);
  good_login_via(unique_forwarded(xff, sizeof xff), 429);
  good_login_via(NULL, 429);
  harness_use_unique_source_address(); /* another peer is not limited */
  good_login_via(unique_forwarded(xff, sizeof xff), 200);
  harness_set_source_address(NULL);
  harness_server_stop();
}

/* With the setting, a peer that is not a trusted proxy is still its own address. */
static void test_header_ignored_from_an_untrusted_peer(void **state) {
  (void)state;
  harness_use_unique_source_address(); /* not in FORUMNET_TRUSTED_PROXIES */
  char xff[256];
  for (int i = 0; i < 3; i++)
    failed_login_via(unique_forwarded(xff, sizeof xff), 401);
  failed_login_via(unique_forwarded(xff, sizeof xff), 429);
  good_login_via(unique_forwarded(xff, sizeof xff), 429);
}

/* Through a trusted proxy, each forwarded client has its own bucket. */
static void test_forwarded_clients_have_separate_buckets(void **state) {
  (void)state;
  char a[32], b[32];
  unique_forwarded(a, sizeof a);
  unique_forwarded(b, sizeof b);
  fill_bucket_via(a); /* from 127.0.0.1, the trusted proxy */
  failed_login_via(a, 429);
  good_login_via(a, 429);
  good_login_via(b, 200);
  /* From the other trusted peer too: the bucket is the client's, not the proxy's. */
  harness_set_source_address(g_proxy);
  good_login_via(a, 429);
  good_login_via(b, 200);
}

/* The left-most entries are whatever the client sent: the right-most untrusted address counts, and
 * trusted hops to its right are skipped. */
static void test_forged_leftmost_entry_is_ignored(void **state) {
  (void)state;
  char client[32], forged[32], xff[256];
  unique_forwarded(client, sizeof client);
  for (int i = 0; i < 3; i++) {
    snprintf(xff, sizeof xff, "%s, %s", unique_forwarded(forged, sizeof forged), client);
    failed_login_via(xff, 401);
  }
  snprintf(xff, sizeof xff, "%s,%s", unique_forwarded(forged, sizeof forged), client);
  failed_login_via(xff, 429);
  /* The same client behind a second trusted hop (127.0.0.1 and our own proxy address). */
  snprintf(xff, sizeof xff, "%s, %s, 127.0.0.1, %s", unique_forwarded(forged, sizeof forged), client, g_proxy);
  good_login_via(xff, 429);
  /* A line of the client's own, spelled unlike the proxy's, still comes before the proxy's. */
  char own[64], proxy_line[64];
  snprintf(own, sizeof own, "x-forwarded-for: %s", unique_forwarded(forged, sizeof forged));
  snprintf(proxy_line, sizeof proxy_line, "X-Forwarded-For: %s", client);
  const char *const two_lines[] = {own, proxy_line, NULL};
  http_response *r = login_with(two_lines, g_email, g_password);
  assert_problem_type(r, 429, "rate-limited");
  http_response_free(r);
  /* The forged address itself was never limited. */
  good_login_via(forged, 200);
}

/* GET /v1/me (401) with X-Forwarded-For "forged, client" and a request id of our own; the request log line
 * of that id must name `expected` as its client. */
static void expect_logged_client(const char *xff, const char *expected) {
  static atomic_uint counter;
  char id_header[96], xff_header[256], id[64];
  snprintf(id, sizeof id, "xff-log-%ld-%u", (long)getpid(), atomic_fetch_add(&counter, 1u));
  snprintf(id_header, sizeof id_header, "X-Request-Id: %s", id);
  snprintf(xff_header, sizeof xff_header, "X-Forwarded-For: %s", xff);
  const char *const headers[] = {id_header, xff_header, NULL};
  http_response *r = http_get_with_headers("/v1/me", NULL, headers);
  assert_status(r, 401);
  http_response_free(r);
  char want[128];
  snprintf(want, sizeof want, "\"client\":\"%s\"", expected);
  char *log = NULL, *line = NULL;
  for (int waited = 0; waited < 2000 && line == NULL; waited += 50) { /* the line is written after the reply */
    free(log);
    log = harness_server_log_text();
    line = strstr(log, id);
    if (line == NULL)
      harness_sleep_ms(50);
  }
  if (line == NULL)
    harness_fail("no request log line has the request id %s", id);
  char *end = strchr(line, '\n');
  if (end)
    *end = '\0';
  if (strstr(line, want) == NULL)
    harness_fail("the request log line of %s should name the client %s: %.400s", id, expected, line);
  free(log);
}

/* The request log names the client the server took: the forwarded one from a trusted peer, else the peer. */
static void test_request_log_names_the_client(void **state) {
  (void)state;
  char client[32], forged[32], xff[128];
  unique_forwarded(client, sizeof client);
  snprintf(xff, sizeof xff, "%s, %s", unique_forwarded(forged, sizeof forged), client);
  harness_set_source_address(g_proxy);
  expect_logged_client(xff, client);
  char peer[64]; /* an untrusted peer */
  snprintf(peer, sizeof peer, "%s", harness_use_unique_source_address());
  expect_logged_client(xff, peer);
}

/* A malformed header is never an error: the peer's address is used. */
static void test_garbage_falls_back_to_the_peer(void **state) {
  (void)state;
  harness_set_source_address(g_proxy); /* a trusted peer with a bucket of its own */
  char client[32], xff[256];
  unique_forwarded(client, sizeof client);
  static const char *const garbage[] = {"not-an-address", ",", "203.0.113.9:4711"};
  for (size_t i = 0; i < 3; i++)
    failed_login_via(garbage[i], 401);
  /* The peer's bucket is full: any garbage, or none, lands there. */
  snprintf(xff, sizeof xff, "%s, bogus", client);
  failed_login_via(xff, 429);
  good_login_via("[2001:db8::1]", 429);
  good_login_via("unknown", 429);
  good_login_via(NULL, 429);
  /* A well-formed header from the same peer is the client's own bucket. */
  good_login_via(client, 200);
}

/* An IPv6 client is keyed by its /64, as a direct IPv6 peer is. */
static void test_forwarded_ipv6_client_by_64(void **state) {
  (void)state;
  long pid = (long)getpid();
  char xff[256];
  for (int i = 1; i <= 3; i++) {
    snprintf(xff, sizeof xff, "2001:db8:%lx:%lx::%d", (pid >> 16) & 0xffff, pid & 0xffff, i);
    failed_login_via(xff, 401);
  }
  snprintf(xff, sizeof xff, "2001:db8:%lx:%lx:ffff::9", (pid >> 16) & 0xffff, pid & 0xffff);
  failed_login_via(xff, 429);
  snprintf(xff, sizeof xff, "2001:db8:%lx:%lx::1", (pid >> 16) & 0xffff, (pid & 0xffff) ^ 1);
  good_login_via(xff, 200);
}

/* An invalid entry stops the server at start with exit status 2 and the usual line. */
static void test_invalid_setting_stops_the_server(void **state) {
  (void)state;
  static const char *const bad[] = {"10.0.0.0/33", "127.0.0.1/32,proxy.example", "10.1.0.0/8", "::1/129"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "env -i FORUMNET_DATABASE_URL=postgresql:///unused FORUMNET_JWT_SECRET=%s "
             "FORUMNET_TRUSTED_PROXIES='%s' \"$FORUMNET_BIN\" serve 2>&1; echo \"exit $?\"",
             HARNESS_JWT_SECRET, bad[i]);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[2048];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    pclose(p);
    if (strstr(out, "invalid configuration: FORUMNET_TRUSTED_PROXIES") == NULL || strstr(out, "exit 2") == NULL)
      harness_fail("FORUMNET_TRUSTED_PROXIES=%s should stop serve with status 2 and an invalid configuration line, "
                   "got:\n%s",
                   bad[i], out);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_header_ignored_without_the_setting, harness_reset_source_address,
                                      harness_stop_test_servers),
      cmocka_unit_test_setup(test_header_ignored_from_an_untrusted_peer, harness_reset_source_address),
      cmocka_unit_test_setup(test_forwarded_clients_have_separate_buckets, harness_reset_source_address),
      cmocka_unit_test_setup(test_forged_leftmost_entry_is_ignored, harness_reset_source_address),
      cmocka_unit_test_setup(test_garbage_falls_back_to_the_peer, harness_reset_source_address),
      cmocka_unit_test_setup(test_request_log_names_the_client, harness_reset_source_address),
      cmocka_unit_test_setup(test_forwarded_ipv6_client_by_64, harness_reset_source_address),
      cmocka_unit_test(test_invalid_setting_stops_the_server),
  };
  return cmocka_run_group_tests_name("e2e_trusted_proxies", tests, group_setup, harness_suite_teardown);
}
