/* The email message (src/core/mail.c): RFC 5322 headers, CRLF line ends, no header injection, and the file
 * delivery (written whole under its final name). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "forumnet/mail.h"

#define ID "0b7c4a52-6a43-4d5c-9b1e-7b0f3b5b9a10"

static void test_compose(void **state) {
  (void)state;
  char *m = NULL;
  /* 2026-12-06T21:52:53Z was a Sunday */
  assert_int_equal(mail_compose("no-reply@example.org", "ann@example.org", "Reset your forumnet password",
                                "Line one.\nhttps://x.example/r?token=abc\n", ID, (time_t)1796593973, &m),
                   FN_OK);
  assert_non_null(strstr(m, "From: no-reply@example.org\r\n"));
  assert_non_null(strstr(m, "To: ann@example.org\r\n"));
  assert_non_null(strstr(m, "Subject: Reset your forumnet password\r\n"));
  assert_non_null(strstr(m, "Date: Sun, 06 Dec 2026 21:52:53 +0000\r\n"));
  assert_non_null(strstr(m, "Message-ID: <" ID "@example.org>\r\n"));
  assert_non_null(strstr(m, "MIME-Version: 1.0\r\n"));
  assert_non_null(strstr(m, "Content-Type: text/plain; charset=utf-8\r\n"));
  assert_non_null(strstr(m, "\r\n\r\nLine one.\r\nhttps://x.example/r?token=abc\r\n"));
  for (const char *p = m; *p; p++) /* every LF is part of a CRLF */
    if (*p == '\n')
      assert_true(p > m && p[-1] == '\r');
  free(m);
}

static void test_header_injection_refused(void **state) {
  (void)state;
  char *m = (char *)1;
  const char *const bad[] = {"ann@example.org\r\nBcc: eve@example.org", "ann@example.org\nBcc: eve@example.org",
                             "ann@example.org\rX", "a\x01@example.org"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(mail_compose("no-reply@example.org", bad[i], "S", "B", ID, 0, &m), FN_INVALID);
    assert_null(m);
    assert_int_equal(mail_compose("no-reply@example.org", "ann@example.org", bad[i], "B", ID, 0, &m), FN_INVALID);
    assert_int_equal(mail_compose(bad[i], "ann@example.org", "S", "B", ID, 0, &m), FN_INVALID);
  }
  assert_true(mail_header_value_ok("Reset your password\t(forumnet)"));
  assert_false(mail_header_value_ok("x\ny"));
}

static void test_file_delivery(void **state) {
  (void)state;
  char dir[] = "/tmp/forumnet-mail-XXXXXX", path[1200], error[256];
  assert_non_null(mkdtemp(dir));
  fn_config cfg;
  memset(&cfg, 0, sizeof cfg);
  snprintf(cfg.mail_dir, sizeof cfg.mail_dir, "%s/mail", dir); /* made when missing */
  assert_int_equal(mail_deliver(&cfg, ID, "ann@example.org", "From: a@b.org\r\n\r\nhi\r\n", error, sizeof error),
                   FN_OK);
  snprintf(path, sizeof path, "%s/" ID ".eml", cfg.mail_dir);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char buf[64] = "";
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  assert_int_equal(n, strlen("From: a@b.org\r\n\r\nhi\r\n"));
  snprintf(path, sizeof path, "%s/." ID ".eml.tmp", cfg.mail_dir);
  assert_int_not_equal(access(path, F_OK), 0); /* no temporary file left */
  snprintf(path, sizeof path, "%s/" ID ".eml", cfg.mail_dir);
  unlink(path);
  rmdir(cfg.mail_dir);
  rmdir(dir);
  /* a directory that cannot be made: an error naming the file system's reason, no crash */
  snprintf(cfg.mail_dir, sizeof cfg.mail_dir, "/proc/forumnet-no-such/mail");
  assert_int_not_equal(mail_deliver(&cfg, ID, "ann@example.org", "x", error, sizeof error), FN_OK);
  assert_non_null(strstr(error, "mail"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_compose),
      cmocka_unit_test(test_header_injection_refused),
      cmocka_unit_test(test_file_delivery),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
