#ifndef FORUMNET_CIDR_H
#define FORUMNET_CIDR_H

#include <stddef.h>

/* IP addresses and CIDR blocks, IPv4 and IPv6, for FORUMNET_TRUSTED_PROXIES and X-Forwarded-For.
 * An address is a block whose prefix is its whole length (32 or 128). An IPv4-mapped IPv6 address
 * (::ffff:192.0.2.7) is read as the IPv4 address it maps, so both spellings match the same blocks. */

typedef struct cidr_block {
  int family;              /* AF_INET or AF_INET6 */
  unsigned char bytes[16]; /* network order; IPv4 in the first 4; bits past prefix are 0 */
  unsigned prefix;         /* 0..32 or 0..128 */
} cidr_block;

/* The len bytes at text as one address ("192.0.2.7", "2001:db8::1"): 1, or 0 if they are not
 * exactly one (no spaces, ports, zones or brackets). */
int cidr_parse_address(const char *text, size_t len, cidr_block *out);

/* The len bytes at text as one block ("10.0.0.0/8", "2001:db8::/32"; a bare address is /32 or /128):
 * 1, or 0 if malformed, the prefix is too long for the family, or bits past the prefix are set
 * ("10.1.0.0/8" is a typo more often than not). */
int cidr_parse_block(const char *text, size_t len, cidr_block *out);

/* 1 if outer contains all of inner: same family, outer's prefix no longer than inner's and equal
 * over outer's prefix. Holds for an address (a full-length block) and for a partly known address,
 * such as an IPv6 peer known only by its /64. */
int cidr_covers(const cidr_block *outer, const cidr_block *inner);

/* 1 if one of the n blocks covers inner. */
int cidr_list_covers(const cidr_block *blocks, int n, const cidr_block *inner);

/* The client address of an X-Forwarded-For value (comma-separated addresses, the last added by the
 * proxy nearest to us): walked from the right, addresses covered by one of the n trusted blocks
 * are skipped and the first other one is the client. When every address is trusted, the left-most
 * is. Returns 1 with *client set, or 0 when the header is empty or an address met on the way is
 * malformed (the caller then keeps the peer's address). */
int cidr_forwarded_client(const cidr_block *trusted, int n, const char *header, cidr_block *client);

#endif
