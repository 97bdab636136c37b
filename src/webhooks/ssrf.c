/* The SSRF guard (include/forumnet/ssrf.h). The URL is parsed by libcurl's own parser, so the host checked
 * is the host curl connects to; the connection is then pinned to the checked address (CURLOPT_RESOLVE), so a
 * second DNS answer cannot change it between the check and the connect. */
#include "forumnet/ssrf.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int v4_forbidden(uint32_t a) {
  static const struct {
    uint32_t net;
    int bits;
  } nets[] = {
      {0x00000000u, 8},  /* 0/8 this network, and 0.0.0.0 */
      {0x0a000000u, 8},  /* 10/8 */
      {0x64400000u, 10}, /* 100.64/10 shared address space */
      {0x7f000000u, 8},  /* 127/8 loopback */
      {0xa9fe0000u, 16}, /* 169.254/16 link-local */
      {0xac100000u, 12}, /* 172.16/12 */
      {0xc0000000u, 24}, /* 192.0.0/24 protocol assignments */
      {0xc0a80000u, 16}, /* 192.168/16 */
      {0xc6120000u, 15}, /* 198.18/15 benchmarking */
      {0xe0000000u, 4},  /* 224/4 multicast */
      {0xf0000000u, 4},  /* 240/4 reserved, and the broadcast address */
  };
  for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++)
    if ((a >> (32 - nets[i].bits)) == (nets[i].net >> (32 - nets[i].bits)))
      return 1;
  return 0;
}

/* The IPv4 address an IPv6 one stands for (mapped, compatible, NAT64), or 0 with *has 0. */
static uint32_t embedded_v4(const unsigned char *b, int *has) {
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const unsigned char compat[12] = {0};
  static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  *has = memcmp(b, mapped, 12) == 0 || memcmp(b, compat, 12) == 0 || memcmp(b, nat64, 12) == 0;
  return *has ? ((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15]) : 0;
}

int ssrf_address_forbidden(const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET)
    return v4_forbidden(ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr));
  if (sa->sa_family != AF_INET6)
    return 1;
  const unsigned char *b = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
  int has = 0;
  uint32_t v4 = embedded_v4(b, &has);
  if (has) /* ::/96 holds :: and ::1 too: all refused, as 0/8 is */
    return v4_forbidden(v4);
  return (b[0] & 0xfe) == 0xfc                      /* fc00::/7 unique local */
         || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) /* fe80::/10 link-local */
         || (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) /* fec0::/10 site-local (deprecated) */
         || b[0] == 0xff;                           /* ff00::/8 multicast */
}

int ssrf_address_is_loopback(const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET)
    return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24) == 127;
  if (sa->sa_family != AF_INET6)
    return 0;
  const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
  return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

/* Scheme, host (brackets dropped) and port of url by curl's parser: 0, or -1 with *reason. */
static int parse_url(const char *url, int *https, ssrf_target *out, const char **reason) {
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL;
  int rc = -1;
  *reason = "must be an https:// URL with a host";
  if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
    goto done;
  *https = strcmp(scheme, "https") == 0;
  if (!*https && strcmp(scheme, "http") != 0)
    goto done;
  if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
    *reason = "must not carry user information";
    goto done;
  }
  size_t len = strlen(host);
  const char *h = host;
  if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
    h++;
    len -= 2;
  }
  if (len == 0 || len >= sizeof out->host || memchr(h, '%', len) != NULL) /* no zone ids */
    goto done;
  memcpy(out->host, h, len);
  out->host[len] = '\0';
  out->port = (unsigned)strtoul(port, NULL, 10);
  rc = out->port > 0 && out->port < 65536 ? 0 : -1;
done:
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_free(user);
  curl_url_cleanup(u);
  return rc;
}

int ssrf_check_url(const char *url, int allow_private, ssrf_target *out, const char **reason) {
  int https = 0;
  memset(out, 0, sizeof *out);
  if (parse_url(url, &https, out, reason) != 0)
    return -1;
  if (!https && !allow_private) {
    *reason = "must be an https:// URL";
    return -1;
  }
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
  if (getaddrinfo(out->host, NULL, &hints, &res) != 0 || res == NULL) {
    *reason = "has a host that does not resolve";
    return -1;
  }
  int forbidden = 0, all_loopback = 1;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    forbidden |= ssrf_address_forbidden(ai->ai_addr);
    all_loopback &= ssrf_address_is_loopback(ai->ai_addr);
  }
  const void *first = res->ai_family == AF_INET
                          ? (const void *)&((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr
                          : (const void *)&((struct sockaddr_in6 *)(void *)res->ai_addr)->sin6_addr;
  inet_ntop(res->ai_family, first, out->address, sizeof out->address);
  int v6 = res->ai_family == AF_INET6;
  freeaddrinfo(res);
  if (forbidden && !allow_private) {
    *reason = "resolves to a loopback, private, link-local or otherwise reserved address";
    return -1;
  }
  if (!https && !all_loopback) {
    *reason = "must be an https:// URL (http:// only to loopback, when private targets are allowed)";
    return -1;
  }
  unsigned char literal[sizeof(struct in6_addr)];
  if (inet_pton(AF_INET, out->host, literal) != 1 && inet_pton(AF_INET6, out->host, literal) != 1) {
    snprintf(out->resolve, sizeof out->resolve, v6 ? "%s:%u:[%s]" : "%s:%u:%s", out->host, out->port, out->address);
    snprintf(out->connect_to, sizeof out->connect_to, v6 ? "%s:%u:[%s]:%u" : "%s:%u:%s:%u", out->host, out->port,
             out->address, out->port);
  }
  return 0; /* an address in the URL needs no pinning: nothing is looked up */
}
