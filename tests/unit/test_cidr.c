/* Unit tests for src/core/cidr.c: addresses and CIDR blocks (IPv4, IPv6, IPv4-mapped), what a block
 * covers (/0, /32, /128, partial bytes, a partly known IPv6 peer), bad input, and the X-Forwarded-For
 * walk (right-most untrusted address, trusted hops skipped, malformed entries). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "forumnet/cidr.h"

static cidr_block block(const char *text) {
  cidr_block b;
  if (!cidr_parse_block(text, strlen(text), &b))
    fail_msg("\"%s\" should parse as a block", text);
  return b;
}

static cidr_block address(const char *text) {
  cidr_block a;
  if (!cidr_parse_address(text, strlen(text), &a))
    fail_msg("\"%s\" should parse as an address", text);
  return a;
}

static int covers(const char *outer, const char *inner) {
  cidr_block o = block(outer), i = address(inner);
  return cidr_covers(&o, &i);
}

static void test_ipv4_blocks(void **state) {
  (void)state;
  cidr_block b = block("10.0.0.0/8");
  assert_int_equal(b.family, AF_INET);
  assert_int_equal(b.prefix, 8);
  assert_true(covers("10.0.0.0/8", "10.255.1.2"));
  assert_false(covers("10.0.0.0/8", "11.0.0.0"));
  assert_true(covers("192.168.4.0/22", "192.168.7.255")); /* a prefix that ends inside a byte */
  assert_false(covers("192.168.4.0/22", "192.168.8.0"));
  assert_false(covers("192.168.4.0/22", "192.168.3.255"));
  assert_true(covers("127.0.0.1/32", "127.0.0.1"));
  assert_false(covers("127.0.0.1/32", "127.0.0.2"));
  assert_true(covers("127.0.0.1", "127.0.0.1")); /* a bare address is a /32 */
  assert_int_equal(block("127.0.0.1").prefix, 32);
}

static void test_ipv6_blocks(void **state) {
  (void)state;
  cidr_block b = block("2001:db8::/32");
  assert_int_equal(b.family, AF_INET6);
  assert_int_equal(b.prefix, 32);
  assert_true(covers("2001:db8::/32", "2001:db8:ffff::1"));
  assert_false(covers("2001:db8::/32", "2001:db9::1"));
  assert_true(covers("fd00:1:2:10::/60", "fd00:1:2:1f::1")); /* a prefix that ends inside a byte */
  assert_false(covers("fd00:1:2:10::/60", "fd00:1:2:20::1"));
  assert_false(covers("fd00:1:2:10::/60", "fd00:1:2:f::1"));
  assert_true(covers("::1/128", "::1"));
  assert_false(covers("::1/128", "::2"));
  assert_int_equal(block("2001:db8::7").prefix, 128);
}

static void test_zero_prefix_covers_its_family_only(void **state) {
  (void)state;
  assert_true(covers("0.0.0.0/0", "203.0.113.9"));
  assert_true(covers("0.0.0.0/0", "0.0.0.0"));
  assert_false(covers("0.0.0.0/0", "2001:db8::1"));
  assert_true(covers("::/0", "2001:db8::1"));
  assert_false(covers("::/0", "203.0.113.9"));
}

static void test_ipv4_mapped_is_ipv4(void **state) {
  (void)state;
  cidr_block a = address("::ffff:192.0.2.7");
  assert_int_equal(a.family, AF_INET);
  assert_int_equal(a.prefix, 32);
  assert_true(covers("192.0.2.0/24", "::ffff:192.0.2.7"));
  assert_true(covers("::ffff:192.0.2.0/120", "192.0.2.200")); /* /120 of the mapped range is a /24 */
  assert_int_equal(block("::ffff:192.0.2.0/120").prefix, 24);
  cidr_block bad;
  assert_false(cidr_parse_block("::ffff:192.0.2.0/64", 19, &bad)); /* reaches outside the mapped range */
}

/* An IPv6 peer is known by its first 64 bits only: blocks longer than that cannot vouch for it. */
static void test_partly_known_address(void **state) {
  (void)state;
  cidr_block peer = address("2001:db8:1:2::");
  peer.prefix = 64;
  cidr_block b64 = block("2001:db8:1:2::/64"), b48 = block("2001:db8:1::/48"), b128 = block("2001:db8:1:2::/128");
  assert_true(cidr_covers(&b64, &peer));
  assert_true(cidr_covers(&b48, &peer));
  assert_false(cidr_covers(&b128, &peer));
  cidr_block list[] = {b128, block("10.0.0.0/8")};
  assert_false(cidr_list_covers(list, 2, &peer));
  list[1] = b48;
  assert_true(cidr_list_covers(list, 2, &peer));
  assert_false(cidr_list_covers(list, 0, &peer));
}

static void test_bad_input(void **state) {
  (void)state;
  static const char *const bad_blocks[] = {"",
                                           "/8",
                                           "10.0.0.0/",
                                           "10.0.0.0/33",
                                           "10.0.0.0/-1",
                                           "10.0.0.0/+8",
                                           "10.0.0.0/8a",
                                           "10.0.0.0/8/8",
                                           "10.0.0/8",
                                           "10.0.0.256/32",
                                           "010.0.0.1",
                                           "10.1.0.0/8",
                                           "::1/129",
                                           "::1/0129",
                                           "2001:db8::/0x20",
                                           "2001:db8::1/32",
                                           "fe80::1%eth0/64",
                                           "[::1]/128",
                                           "10.0.0.1:80",
                                           " 10.0.0.0/8",
                                           "10.0.0.0/8 ",
                                           "localhost",
                                           "1.2.3.4.5",
                                           "gggg::/16"};
  for (size_t i = 0; i < sizeof bad_blocks / sizeof bad_blocks[0]; i++) {
    cidr_block b;
    if (cidr_parse_block(bad_blocks[i], strlen(bad_blocks[i]), &b))
      fail_msg("\"%s\" should not parse as a block", bad_blocks[i]);
  }
  static const char *const bad_addresses[] = {
      "",       "10.0.0.0/8",   "1.2.3", "[2001:db8::1]", "2001:db8::1:443x", "unknown",
      "::1%lo", "1.2.3.4:5678", "-",     "0x7f.0.0.1"};
  for (size_t i = 0; i < sizeof bad_addresses / sizeof bad_addresses[0]; i++) {
    cidr_block a;
    if (cidr_parse_address(bad_addresses[i], strlen(bad_addresses[i]), &a))
      fail_msg("\"%s\" should not parse as an address", bad_addresses[i]);
  }
  /* Longer than any address: refused without reading past len. */
  char longer[100];
  memset(longer, '1', sizeof longer);
  cidr_block a;
  assert_false(cidr_parse_address(longer, sizeof longer, &a));
  /* Only len bytes count. */
  assert_true(cidr_parse_address("10.0.0.1, 10.0.0.2", 8, &a));
  assert_true(cidr_parse_block("10.0.0.0/8,junk", 10, &a));
}

/* ---- X-Forwarded-For ---- */

static cidr_block g_trusted[3];

static int trusted_setup(void **state) {
  (void)state;
  g_trusted[0] = block("127.0.0.1/32");
  g_trusted[1] = block("10.0.0.0/8");
  g_trusted[2] = block("2001:db8:aaaa::/48");
  return 0;
}

/* The client the walk finds in header, as text, or "peer" when the caller keeps the peer. */
static const char *client_of(const char *header) {
  static char out[64];
  cidr_block c;
  if (!cidr_forwarded_client(g_trusted, 3, header, &c))
    return "peer";
  cidr_block expect;
  /* Compare against each candidate spelled in the header: the test names the one it expects. */
  strcpy(out, "?");
  const char *candidates[] = {"203.0.113.9", "198.51.100.4", "10.1.1.1", "127.0.0.1", "2001:db8:bbbb::5", "192.0.2.7"};
  for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
    expect = address(candidates[i]);
    if (expect.family == c.family && memcmp(expect.bytes, c.bytes, 16) == 0)
      strcpy(out, candidates[i]);
  }
  return out;
}

static void test_forwarded_rightmost_untrusted(void **state) {
  (void)state;
  assert_string_equal(client_of("203.0.113.9"), "203.0.113.9");
  /* The left-most entry is whatever the client sent: only the right-most untrusted one counts. */
  assert_string_equal(client_of("198.51.100.4, 203.0.113.9"), "203.0.113.9");
  /* Trusted hops (our own proxies) are skipped. */
  assert_string_equal(client_of("198.51.100.4, 203.0.113.9, 10.1.1.1, 127.0.0.1"), "203.0.113.9");
  assert_string_equal(client_of("203.0.113.9,10.1.1.1"), "203.0.113.9");
  assert_string_equal(client_of("2001:db8:bbbb::5, 2001:db8:aaaa::1"), "2001:db8:bbbb::5");
  assert_string_equal(client_of(" \t203.0.113.9 \t"), "203.0.113.9");
  assert_string_equal(client_of("::ffff:192.0.2.7"), "192.0.2.7");
  /* Every hop trusted: the left-most. */
  assert_string_equal(client_of("10.1.1.1, 127.0.0.1"), "10.1.1.1");
  /* Garbage left of the client is never looked at. */
  assert_string_equal(client_of("not-an-address, 203.0.113.9"), "203.0.113.9");
}

static void test_forwarded_malformed_keeps_the_peer(void **state) {
  (void)state;
  static const char *const headers[] = {"",
                                        " ",
                                        "garbage",
                                        "203.0.113.9, garbage",
                                        "203.0.113.9,",
                                        "203.0.113.9,,10.1.1.1",
                                        "203.0.113.9:4711",
                                        "[2001:db8:bbbb::5]",
                                        "unknown",
                                        "for=203.0.113.9",
                                        "203.0.113.9 198.51.100.4",
                                        ",10.1.1.1"};
  for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++)
    if (strcmp(client_of(headers[i]), "peer") != 0)
      fail_msg("X-Forwarded-For \"%s\" should leave the peer's address, got %s", headers[i], client_of(headers[i]));
  cidr_block c;
  assert_false(cidr_forwarded_client(g_trusted, 3, NULL, &c));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ipv4_blocks),
      cmocka_unit_test(test_ipv6_blocks),
      cmocka_unit_test(test_zero_prefix_covers_its_family_only),
      cmocka_unit_test(test_ipv4_mapped_is_ipv4),
      cmocka_unit_test(test_partly_known_address),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test_setup(test_forwarded_rightmost_untrusted, trusted_setup),
      cmocka_unit_test_setup(test_forwarded_malformed_keeps_the_peer, trusted_setup),
  };
  return cmocka_run_group_tests_name("cidr", tests, NULL, NULL);
}
