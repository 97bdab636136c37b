#include "forumnet/cidr.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

static const unsigned char V4_MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int cidr_parse_address(const char *text, size_t len, cidr_block *out) {
  char buf[INET6_ADDRSTRLEN];
  if (len == 0 || len >= sizeof buf)
    return 0;
  memcpy(buf, text, len);
  buf[len] = '\0';
  memset(out, 0, sizeof *out);
  if (inet_pton(AF_INET, buf, out->bytes) == 1) {
    out->family = AF_INET;
    out->prefix = 32;
    return 1;
  }
  if (inet_pton(AF_INET6, buf, out->bytes) != 1)
    return 0;
  out->family = AF_INET6;
  out->prefix = 128;
  if (memcmp(out->bytes, V4_MAPPED, sizeof V4_MAPPED) == 0) {
    memmove(out->bytes, out->bytes + 12, 4);
    memset(out->bytes + 4, 0, 12);
    out->family = AF_INET;
    out->prefix = 32;
  }
  return 1;
}

/* 1 if the bits of b past prefix are all 0. */
static int host_bits_clear(const unsigned char *b, unsigned prefix, unsigned bits) {
  for (unsigned i = prefix; i < bits; i++)
    if (b[i / 8] & (0x80u >> (i % 8)))
      return 0;
  return 1;
}

int cidr_parse_block(const char *text, size_t len, cidr_block *out) {
  const char *slash = memchr(text, '/', len);
  size_t addr_len = slash ? (size_t)(slash - text) : len;
  if (!cidr_parse_address(text, addr_len, out))
    return 0;
  int mapped = out->family == AF_INET && memchr(text, ':', addr_len) != NULL; /* ::ffff:a.b.c.d */
  if (slash == NULL)
    return 1;
  const char *digits = slash + 1;
  size_t n = len - addr_len - 1;
  if (n == 0 || n > 3)
    return 0;
  unsigned prefix = 0;
  for (size_t i = 0; i < n; i++) {
    if (digits[i] < '0' || digits[i] > '9')
      return 0;
    prefix = prefix * 10 + (unsigned)(digits[i] - '0');
  }
  if (mapped) { /* ::ffff:10.0.0.0/104 is 10.0.0.0/8 */
    if (prefix < 96)
      return 0;
    prefix -= 96;
  }
  unsigned bits = out->family == AF_INET ? 32 : 128;
  if (prefix > bits || !host_bits_clear(out->bytes, prefix, bits))
    return 0;
  out->prefix = prefix;
  return 1;
}

int cidr_covers(const cidr_block *outer, const cidr_block *inner) {
  if (outer->family != inner->family || outer->prefix > inner->prefix)
    return 0;
  unsigned whole = outer->prefix / 8, rest = outer->prefix % 8;
  if (memcmp(outer->bytes, inner->bytes, whole) != 0)
    return 0;
  if (rest == 0)
    return 1;
  unsigned char mask = (unsigned char)(0xffu << (8 - rest));
  return (outer->bytes[whole] & mask) == (inner->bytes[whole] & mask);
}

int cidr_list_covers(const cidr_block *blocks, int n, const cidr_block *inner) {
  for (int i = 0; i < n; i++)
    if (cidr_covers(&blocks[i], inner))
      return 1;
  return 0;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

int cidr_forwarded_client(const cidr_block *trusted, int n, const char *header, cidr_block *client) {
  if (header == NULL)
    return 0;
  const char *end = header + strlen(header);
  for (;;) {
    const char *start = end;
    while (start > header && start[-1] != ',')
      start--;
    const char *a = start, *z = end;
    while (a < z && is_blank(*a))
      a++;
    while (z > a && is_blank(z[-1]))
      z--;
    cidr_block address;
    if (!cidr_parse_address(a, (size_t)(z - a), &address))
      return 0;
    if (!cidr_list_covers(trusted, n, &address) || start == header) {
      *client = address; /* the first untrusted one, or every one trusted and this the left-most */
      return 1;
    }
    end = start - 1; /* before the comma */
  }
}
