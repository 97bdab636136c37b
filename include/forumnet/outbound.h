#ifndef FORUMNET_OUTBOUND_H
#define FORUMNET_OUTBOUND_H

#include <stddef.h>

/* The one module that makes outbound HTTP requests (DESIGN.md): libcurl with a total timeout, no redirects,
 * http(s) only, and at most OUTBOUND_EXCERPT_MAX bytes of an answer kept. Callers check the URL first
 * (ssrf.h) and pass the pinned address. */

#define OUTBOUND_EXCERPT_MAX 1024

typedef struct outbound_request {
  const char *url;
  const char *resolve;        /* "host:port:address" (CURLOPT_RESOLVE), or NULL/"" */
  const char *const *headers; /* "Name: value" lines, NULL-terminated */
  const char *body;
  size_t body_len;
  long timeout_ms;
} outbound_request;

typedef struct outbound_response {
  long status;                            /* the HTTP status, 0 when none came */
  char excerpt[OUTBOUND_EXCERPT_MAX + 1]; /* the answer's first bytes (NUL-terminated; the rest discarded) */
  char error[128];                        /* why no status came (curl's words), "" otherwise */
  int timed_out;
} outbound_response;

/* Once, before threads start (curl_global_init). */
void outbound_init(void);

/* POSTs the request; 0 when an answer came (any status), -1 otherwise (out->error says why). */
int outbound_post(const outbound_request *req, outbound_response *out);

#endif
