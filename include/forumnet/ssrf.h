#ifndef FORUMNET_SSRF_H
#define FORUMNET_SSRF_H

#include <sys/socket.h>

/* The guard in front of every outbound request to a URL someone else chose (partner webhooks): https only,
 * the host resolved and every address checked, and the connection pinned to a checked address. */

typedef struct ssrf_target {
  char host[256];    /* the URL's host, without IPv6 brackets */
  unsigned port;     /* the URL's port, or its scheme's */
  char address[64];  /* the checked address to connect to (the first one resolved) */
  char resolve[340]; /* for CURLOPT_RESOLVE: "host:port:address", so curl connects there and nowhere else */
  /* for CURLOPT_CONNECT_TO: "host:port:address:port", the same pin, which also keys curl's connection cache
   * by the address (a kept-alive connection is reused only while the checked address stays the same) */
  char connect_to[350];
} ssrf_target;

/* 1 when an outbound request must never reach sa: loopback, private (10/8, 172.16/12, 192.168/16,
 * 100.64/10, fc00::/7), link-local (169.254/16, fe80::/10), multicast, unspecified, "this network" (0/8),
 * reserved (240/4, broadcast, fec0::/10), and any IPv6 form of such an IPv4 address (mapped ::ffff:0:0/96,
 * compatible ::/96, NAT64 64:ff9b::/96). */
int ssrf_address_forbidden(const struct sockaddr *sa);
/* 1 when sa is a loopback address (127/8, ::1, or ::ffff:127.0.0.0/104). */
int ssrf_address_is_loopback(const struct sockaddr *sa);

/* Checks url: an https:// URL with a host and no user information; the host resolves, and none of its
 * addresses is forbidden. allow_private (FORUMNET_WEBHOOK_ALLOW_PRIVATE=1, for tests) lifts the address
 * check, and lets http:// through when every address is loopback. 0 with *out filled, or -1 with *reason
 * (a sentence for a client: it never quotes an address). */
int ssrf_check_url(const char *url, int allow_private, ssrf_target *out, const char **reason);

#endif
