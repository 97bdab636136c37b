#ifndef FORUMNET_OUTBOUND_H
#define FORUMNET_OUTBOUND_H

#include <stddef.h>

/* The one module that makes outbound HTTP requests (DESIGN.md): libcurl with a total timeout, no redirects,
 * http(s) only, and at most OUTBOUND_EXCERPT_MAX bytes of an answer kept. Callers check the URL first
 * (ssrf.h) and pass the pinned address. */

#define OUTBOUND_EXCERPT_MAX 1024

typedef struct outbound_request {
  const char *url;
  const char *resolve; /* "host:port:address" (CURLOPT_RESOLVE), or NULL/"" */
  /* "host:port:address:port" (CURLOPT_CONNECT_TO), or NULL/"": the same pin, and it keys curl's connection
   * cache by the address, so a kept-alive connection is reused only while the checked address is the same. */
  const char *connect_to;
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

/* Many requests at once on one thread (libcurl's multi interface), reusing kept-alive connections. */
typedef struct outbound_batch outbound_batch;

/* A batch keeping at most max_connections idle connections; NULL when out of memory. */
outbound_batch *outbound_batch_new(long max_connections);
/* Ends every request still in flight (their answers are not read) and frees the batch. */
void outbound_batch_free(outbound_batch *b);
/* Starts POSTing req (its strings must live until it finishes); out is filled when it does. tag names it
 * for outbound_batch_run. 0, or -1 (out->error says why: the request never started). */
int outbound_batch_add(outbound_batch *b, const outbound_request *req, outbound_response *out, void *tag);
/* Moves the requests along, waiting up to timeout_ms for something to happen when nothing finished yet;
 * writes the tags of the finished ones (at most max) into done. Answers how many finished. */
int outbound_batch_run(outbound_batch *b, int timeout_ms, void **done, int max);
/* Requests in flight. */
int outbound_batch_pending(const outbound_batch *b);
/* Makes a waiting outbound_batch_run return at once (from any thread). */
void outbound_batch_wakeup(outbound_batch *b);

#endif
