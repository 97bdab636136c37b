/* Unit tests for src/auth/password.c: Argon2id hashing and verification, the password
 * policy (at least 12 characters counted as code points, at most 1024 bytes), and the
 * random token, generated password and token digest helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "forumnet/password.h"

static int group_setup(void **state) {
  (void)state;
  return password_init() == FN_OK ? 0 : -1;
}

static void test_hash_verify_round_trip(void **state) {
  (void)state;
  const char *pw = "correct horse battery staple";
  char hash[PASSWORD_HASH_MAX];
  memset(hash, 0, sizeof hash);
  assert_int_equal(password_hash(pw, hash), FN_OK);
  assert_non_null(memchr(hash, '\0', sizeof hash));
  assert_true(strncmp(hash, "$argon2id$", 10) == 0);
  assert_null(strstr(hash, pw)); /* the password is not stored in clear */
  assert_int_equal(password_verify(hash, pw), 1);
}

static void test_hash_is_salted(void **state) {
  (void)state;
  const char *pw = "the same password twice";
  char a[PASSWORD_HASH_MAX], b[PASSWORD_HASH_MAX];
  assert_int_equal(password_hash(pw, a), FN_OK);
  assert_int_equal(password_hash(pw, b), FN_OK);
  assert_string_not_equal(a, b);
  assert_int_equal(password_verify(a, pw), 1);
  assert_int_equal(password_verify(b, pw), 1);
}

static void test_wrong_password(void **state) {
  (void)state;
  char hash[PASSWORD_HASH_MAX];
  assert_int_equal(password_hash("correct horse battery staple", hash), FN_OK);
  assert_int_equal(password_verify(hash, "correct horse battery stapl"), 0);
  assert_int_equal(password_verify(hash, "correct horse battery staple "), 0);
  assert_int_equal(password_verify(hash, "Correct horse battery staple"), 0);
  assert_int_equal(password_verify(hash, ""), 0);
  assert_int_equal(password_verify(hash, NULL), 0);
}

/* Unknown accounts (hash NULL or empty) never verify, whatever the password. */
static void test_missing_hash(void **state) {
  (void)state;
  assert_int_equal(password_verify(NULL, "correct horse battery staple"), 0);
  assert_int_equal(password_verify(NULL, ""), 0);
  assert_int_equal(password_verify(NULL, NULL), 0);
  assert_int_equal(password_verify("", "correct horse battery staple"), 0);
}

/* The parameters part of an Argon2id hash string: "$argon2id$v=19$m=65536,t=2,p=1$" (up to the salt). */
static size_t params_length(const char *hash) {
  const char *p = hash;
  for (int dollars = 0; *p; p++)
    if (*p == '$' && ++dollars == 4)
      return (size_t)(p - hash) + 1;
  return 0;
}

/* An unknown account's verification costs what a real one does: the dummy hash it checks against (a constant,
 * not made at start) has the very parameters password_hash uses now, and is a hash no password verifies. */
static void test_dummy_hash_costs_a_real_verification(void **state) {
  (void)state;
  char hash[PASSWORD_HASH_MAX];
  assert_int_equal(password_hash("correct horse battery staple", hash), FN_OK);
  const char *dummy = password_dummy_hash();
  size_t n = params_length(hash);
  assert_true(n > 10);
  assert_int_equal(params_length(dummy), n);
  assert_memory_equal(dummy, hash, n);
  assert_true(strlen(dummy) > n + 40); /* a salt and a hash follow */
  assert_int_equal(password_verify(dummy, ""), 0);
  assert_int_equal(password_verify(dummy, "correct horse battery staple"), 0);
}

static void test_garbage_hash(void **state) {
  (void)state;
  assert_int_equal(password_verify("not-a-hash", "correct horse battery staple"), 0);
  assert_int_equal(password_verify("$argon2id$v=19$m=65536,t=2,p=1$", "correct horse battery staple"), 0);
}

static void test_unicode_password_round_trip(void **state) {
  (void)state;
  const char *pw = "pässwörd-日本語-🙂🙂";
  char hash[PASSWORD_HASH_MAX];
  assert_int_equal(password_hash(pw, hash), FN_OK);
  assert_int_equal(password_verify(hash, pw), 1);
  assert_int_equal(password_verify(hash, "passwörd-日本語-🙂🙂"), 0);
}

static void test_policy_length(void **state) {
  (void)state;
  assert_non_null(password_policy_error(NULL));
  assert_non_null(password_policy_error(""));
  const char *msg = password_policy_error("12345678901"); /* 11 */
  assert_non_null(msg);
  assert_non_null(strstr(msg, "12"));
  assert_null(password_policy_error("123456789012")); /* 12 */
  assert_null(password_policy_error("a much longer passphrase is fine"));
}

static void test_policy_max_bytes(void **state) {
  (void)state;
  static char pw[PASSWORD_MAX_BYTES + 2];
  memset(pw, 'p', PASSWORD_MAX_BYTES);
  pw[PASSWORD_MAX_BYTES] = '\0';
  assert_null(password_policy_error(pw)); /* exactly 1024 bytes */
  pw[PASSWORD_MAX_BYTES] = 'p';
  pw[PASSWORD_MAX_BYTES + 1] = '\0';
  const char *msg = password_policy_error(pw); /* 1025 bytes */
  assert_non_null(msg);
  assert_non_null(strstr(msg, "1024"));

  /* The cap is in bytes: 342 three-byte characters (1026 bytes) are refused. */
  static char wide[3 * 342 + 1];
  for (int i = 0; i < 342; i++)
    memcpy(wide + 3 * i, "\xe6\x97\xa5", 3);
  wide[3 * 342] = '\0';
  assert_non_null(password_policy_error(wide));
}

/* The minimum is in characters: 11 two-byte characters (22 bytes) are too short,
 * 12 four-byte characters (48 bytes) are enough. */
static void test_policy_counts_characters(void **state) {
  (void)state;
  assert_non_null(password_policy_error("ééééééééééé"));                                  /* 11 é, 22 bytes */
  assert_null(password_policy_error("éééééééééééé"));                                     /* 12 é */
  assert_non_null(password_policy_error("日本語日本語日本語日本"));                       /* 11, 33 bytes */
  assert_null(password_policy_error("🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂")); /* 12, 48 bytes */
  assert_non_null(password_policy_error("🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂")); /* 11, 44 bytes */
}

static int is_base64url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static void test_password_generate(void **state) {
  (void)state;
  char a[21], b[21];
  memset(a, 'X', sizeof a);
  password_generate(a);
  password_generate(b);
  assert_int_equal(strlen(a), 20);
  assert_int_equal(strlen(b), 20);
  for (int i = 0; i < 20; i++) {
    assert_true(is_base64url(a[i]));
    assert_true(is_base64url(b[i]));
  }
  assert_string_not_equal(a, b);
  assert_null(password_policy_error(a)); /* generated passwords pass the policy */
}

static void test_random_token(void **state) {
  (void)state;
  /* (len, unpadded base64url length) */
  const size_t cases[][2] = {{1, 2}, {2, 3}, {3, 4}, {15, 20}, {16, 22}, {32, 43}, {48, 64}, {64, 86}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    size_t len = cases[c][0];
    char out[4 * 64 / 3 + 2 + 8];
    memset(out, 'X', sizeof out);
    random_token(out, 4 * len / 3 + 2, len);
    assert_int_equal(strlen(out), cases[c][1]);
    for (size_t i = 0; out[i]; i++)
      assert_true(is_base64url(out[i]));
    assert_int_equal(out[4 * len / 3 + 2], 'X'); /* nothing written past out_len */
  }
  char x[44], y[44];
  random_token(x, sizeof x, 32);
  random_token(y, sizeof y, 32);
  assert_string_not_equal(x, y);
}

static void test_token_digest_hex(void **state) {
  (void)state;
  char a[65], b[65], c[65];
  token_digest_hex("refresh-token-value", a);
  token_digest_hex("refresh-token-value", b);
  token_digest_hex("refresh-token-valuf", c);
  assert_int_equal(strlen(a), 64);
  for (int i = 0; i < 64; i++)
    assert_true((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
  assert_string_equal(a, b);
  assert_string_not_equal(a, c);
  /* BLAKE2b-256 of the empty string, a fixed known answer. */
  token_digest_hex("", a);
  assert_string_equal(a, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hash_verify_round_trip),
      cmocka_unit_test(test_hash_is_salted),
      cmocka_unit_test(test_wrong_password),
      cmocka_unit_test(test_dummy_hash_costs_a_real_verification),
      cmocka_unit_test(test_missing_hash),
      cmocka_unit_test(test_garbage_hash),
      cmocka_unit_test(test_unicode_password_round_trip),
      cmocka_unit_test(test_policy_length),
      cmocka_unit_test(test_policy_max_bytes),
      cmocka_unit_test(test_policy_counts_characters),
      cmocka_unit_test(test_password_generate),
      cmocka_unit_test(test_random_token),
      cmocka_unit_test(test_token_digest_hex),
  };
  return cmocka_run_group_tests_name("password", tests, group_setup, NULL);
}
