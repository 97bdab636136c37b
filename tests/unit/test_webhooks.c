/* Partner webhooks' pure parts: the Standard Webhooks signature (against the specification's own test
 * vector), sealing secrets at rest, the SSRF guard's address classes and URL checks, the retry schedule. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "forumnet/ssrf.h"
#include "forumnet/webhook_crypto.h"
#include "forumnet/webhooks.h"

/* The vector of the Standard Webhooks reference libraries' tests (standard-webhooks/libraries). */
static void test_signature_known_vector(void **state) {
  (void)state;
  char sig[WEBHOOK_SIGNATURE_SIZE];
  const char *body = "{\"test\": 2432232314}";
  assert_int_equal(webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                                body, strlen(body), sig),
                   0);
  assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  assert_int_equal(webhook_sign("whsec_!!!", "msg_x", 1, body, strlen(body), sig), -1);
}

static void test_secret_shape_and_seal(void **state) {
  (void)state;
  fn_config cfg = {0}, other = {0};
  memcpy(cfg.jwt_secret, "0123456789abcdef0123456789abcdef", 32);
  cfg.jwt_secret_len = 32;
  other.webhook_key_set = 1;
  memset(other.webhook_key, 7, 32);
  char secret[WEBHOOK_SECRET_SIZE], again[WEBHOOK_SECRET_SIZE], sealed[WEBHOOK_SEALED_SIZE];
  webhook_secret_new(secret);
  assert_memory_equal(secret, "whsec_", 6);
  assert_int_equal(strlen(secret), 6 + 44);
  assert_int_equal(webhook_secret_seal(&cfg, secret, sealed), 0);
  assert_null(strstr(sealed, secret + 6));
  assert_int_equal(webhook_secret_open(&cfg, sealed, again), 0);
  assert_string_equal(again, secret);
  assert_int_equal(webhook_secret_open(&other, sealed, again), -1); /* another key */
  sealed[60] = sealed[60] == '0' ? '1' : '0';
  assert_int_equal(webhook_secret_open(&cfg, sealed, again), -1); /* tampered */
}

static int forbidden(const char *text) {
  struct sockaddr_storage ss = {0};
  if (inet_pton(AF_INET, text, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
    ss.ss_family = AF_INET;
  else if (inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
    ss.ss_family = AF_INET6;
  else
    fail_msg("not an address: %s", text);
  return ssrf_address_forbidden((struct sockaddr *)&ss);
}

static void test_address_classes(void **state) {
  (void)state;
  const char *const refused[] = {"127.0.0.1",
                                 "127.255.255.254",
                                 "10.0.0.1",
                                 "172.16.0.1",
                                 "172.31.255.255",
                                 "192.168.1.1",
                                 "100.64.0.1",
                                 "169.254.169.254",
                                 "0.0.0.0",
                                 "224.0.0.1",
                                 "255.255.255.255",
                                 "::",
                                 "::1",
                                 "fc00::1",
                                 "fd12:3456::1",
                                 "fe80::1",
                                 "ff02::1",
                                 "::ffff:127.0.0.1",
                                 "::ffff:10.0.0.1",
                                 "::ffff:169.254.169.254",
                                 "::127.0.0.1",
                                 "64:ff9b::7f00:1",
                                 "fec0::1"};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
    if (!forbidden(refused[i]))
      fail_msg("%s should be refused", refused[i]);
  const char *const allowed[] = {"93.184.216.34", "8.8.8.8",        "172.32.0.1",       "100.128.0.1",
                                 "2606:4700::1",  "::ffff:8.8.8.8", "64:ff9b::808:808", "2001:db9::1"};
  for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
    if (forbidden(allowed[i]))
      fail_msg("%s should be allowed", allowed[i]);
}

static void test_url_refusals(void **state) {
  (void)state;
  ssrf_target t;
  const char *reason = NULL;
  const char *const refused[] = {
      "http://example.org/hook",  "https://127.0.0.1/hook", "https://[::ffff:127.0.0.1]/h", "https://10.0.0.1/hook",
      "https://localhost/hook",   "https://[::1]:8443/",    "https://169.254.169.254/x",    "https://2130706433/",
      "https://0x7f.1/",          "ftp://example.org/",     "https://user:pw@example.org/", "not a url",
      "https://[fe80::1%25eth0]/"};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    reason = NULL;
    if (ssrf_check_url(refused[i], 0, &t, &reason) == 0)
      fail_msg("%s should be refused", refused[i]);
    assert_non_null(reason);
  }
  /* allowed private: loopback over http, pinned to the checked address */
  assert_int_equal(ssrf_check_url("http://localhost:9/x", 1, &t, &reason), 0);
  assert_string_equal(t.host, "localhost");
  assert_int_equal(t.port, 9);
  assert_true(strncmp(t.resolve, "localhost:9:", 12) == 0);
  /* the same pin for curl's connection cache: host:port:address:port */
  assert_true(strncmp(t.connect_to, "localhost:9:", 12) == 0);
  assert_true(strlen(t.connect_to) > strlen(t.resolve) && strcmp(t.connect_to + strlen(t.resolve), ":9") == 0);
  assert_int_equal(ssrf_check_url("http://127.0.0.1:9/x", 1, &t, &reason), 0);
  assert_string_equal(t.resolve, ""); /* an address: nothing to pin */
  assert_string_equal(t.connect_to, "");
  assert_int_equal(ssrf_check_url("https://10.0.0.1/x", 1, &t, &reason), 0);
  /* but http:// only to loopback, even then */
  assert_int_equal(ssrf_check_url("http://10.0.0.1/x", 1, &t, &reason), -1);
  /* a public address literal passes without the flag */
  assert_int_equal(ssrf_check_url("https://93.184.216.34/x", 0, &t, &reason), 0);
  assert_int_equal(t.port, 443);
}

/* The first retry within 10 s; the schedule lasts more than 24 hours (and more than the 5 days after which
 * the endpoint is disabled). */
static void test_retry_schedule(void **state) {
  (void)state;
  assert_true(webhooks_retry_delay_ms(1) <= 10000);
  long total = 0, last = 0;
  int n = 1;
  for (; webhooks_retry_delay_ms(n) > 0; n++) {
    assert_true(webhooks_retry_delay_ms(n) >= last);
    last = webhooks_retry_delay_ms(n);
    total += last;
  }
  assert_true(total > 5L * 24 * 3600 * 1000);
  assert_int_equal(webhooks_retry_delay_ms(n), -1);
  assert_int_equal(webhooks_retry_delay_ms(0), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_signature_known_vector), cmocka_unit_test(test_secret_shape_and_seal),
      cmocka_unit_test(test_address_classes),        cmocka_unit_test(test_url_refusals),
      cmocka_unit_test(test_retry_schedule),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
