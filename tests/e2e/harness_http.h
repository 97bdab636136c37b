/*
 * harness_http.h — talking HTTP to the current server: libcurl requests, responses and their
 * headers, raw-socket requests for framings libcurl will not send, races of concurrent
 * requests, paged lists, and the HARNESS_EXCHANGE_LOG record.  Part of harness.h.
 */
#ifndef FORUMNET_E2E_HARNESS_HTTP_H
#define FORUMNET_E2E_HARNESS_HTTP_H

#include "harness_common.h"

/* ------------------------------------------------------------------------------------
 * HTTP
 * ------------------------------------------------------------------------------------ */

typedef struct http_response {
  long status;  /* HTTP status, 0 if the exchange itself failed */
  char *method; /* the request, for failure messages */
  char *path;
  char *body; /* raw body, always NUL-terminated (may contain other NULs) */
  size_t body_len;
  json_t *json;        /* body parsed as JSON (any JSON value), or NULL if it is not JSON */
  size_t header_count; /* response headers, in order, names as sent */
  char **header_names;
  char **header_values; /* values without surrounding whitespace */
  char error[256];      /* transport error text when status is 0 */
} http_response;

void http_response_free(http_response *resp);

/* One request to the current server.  path starts with '/', may carry a query string.
 * token: a bearer token or NULL.  content_type: sent as Content-Type when not NULL.
 * body: NUL-terminated body or NULL (no body).  headers: NULL-terminated list of extra
 * "Name: value" lines or NULL.  Never fails the test: check ->status.  Caller frees. */
http_response *http_request(const char *method, const char *path, const char *token, const char *content_type,
                            const char *body, const char *const *headers);

/* Same with an explicit body length (the body may contain NULs). */
http_response *http_request_len(const char *method, const char *path, const char *token, const char *content_type,
                                const char *body, size_t body_len, const char *const *headers);

/* GET path, with a bearer token or NULL. */
http_response *http_get(const char *path, const char *token);

/* GET path with extra headers (e.g. If-None-Match). */
http_response *http_get_with_headers(const char *path, const char *token, const char *const *headers);

/* Sends body serialised compactly as application/json.  STEALS the reference to body
 * (NULL sends no body), so `http_json("POST", p, t, json_pack(...))` does not leak. */
http_response *http_json(const char *method, const char *path, const char *token, json_t *body);

/* Same with extra headers (e.g. "If-Match: \"3\""). Steals body. */
http_response *http_json_with_headers(const char *method, const char *path, const char *token, json_t *body,
                                      const char *const *headers);

/* Over a raw socket (Connection: close): sends the request line and headers with
 * "Content-Length: <declared_length>" but only the first body_len bytes of body, then
 * reads the answer (10 s at most).  For "413 without reading the body further". */
http_response *http_send_declared_length(const char *method, const char *path, const char *token,
                                         const char *content_type, size_t declared_length, const char *body,
                                         size_t body_len);

/* Over a raw socket: sends body with "Transfer-Encoding: chunked" (no Content-Length) in
 * chunks of chunk_size bytes, then reads the answer (10 s at most). */
http_response *http_send_chunked(const char *method, const char *path, const char *token, const char *content_type,
                                 const char *body, size_t body_len, size_t chunk_size);

/* First value of a response header, matched case-insensitively; NULL if absent (borrowed). */
const char *http_header(const http_response *resp, const char *name);

/* True if any value of the header, split at commas, equals token (case-insensitive,
 * whitespace trimmed): http_header_has_token(r, "Allow", "GET"). */
bool http_header_has_token(const http_response *resp, const char *name, const char *token);

/* Formats a path into a thread-local rotating buffer (8 slots of 1 KiB): convenient inside
 * a call, e.g. http_get(hpath("/v1/sites/%s", id), tok).  Fails the test if truncated. */
const char *hpath(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Percent-encodes s for a query string: a new string the caller frees(). */
char *harness_urlencode(const char *s);

/* http_request with an overall time limit in milliseconds (http_request allows 30 s); the
 * connection attempt is limited to min(timeout_ms, 5000).  Thread-safe like http_request. */
http_response *http_request_timeout(const char *method, const char *path, const char *token, const char *content_type,
                                    const char *body, const char *const *headers, long timeout_ms);

/* ------------------------------------------------------------------------------------
 * Raw sockets (oversize, chunked and hand-framed requests)
 * ------------------------------------------------------------------------------------ */

/* Sends raw bytes (a whole HTTP/1.1 request: the caller's own request line, headers and framing)
 * over a new connection to the current server and reads the answer (timeout_ms at most; status 0
 * and ->error when none came), parsed like http_send_declared_length's.  method and path only
 * label the answer in failure messages.  For requests libcurl and hpath cannot build: URLs or
 * headers of any length, odd framing. */
http_response *http_send_raw(const char *method, const char *path, const char *raw, size_t raw_len, int timeout_ms);

/* A blocking TCP connection to the current server (127.0.0.1), without sending anything; -1
 * (errno set) if connect() fails.  The caller closes it. */
int harness_server_connect(void);

/* ------------------------------------------------------------------------------------
 * Paged lists
 * ------------------------------------------------------------------------------------ */

/* Walks GET list_path (with or without a query string; limit=200 is added) page by page and
 * returns true if an item's string field `key` equals value.  Fails the test unless every page
 * answers 200 with "items" and "next_cursor". */
#define harness_list_contains(list_path, token, key, value)                                                            \
  harness_list_contains_at((list_path), (token), (key), (value), __FILE__, __LINE__)
bool harness_list_contains_at(const char *list_path, const char *token, const char *key, const char *value,
                              const char *file, int line);

/* The same walk, returning every item (a new array the caller decrefs). */
#define harness_list_all(list_path, token) harness_list_all_at((list_path), (token), 200, __FILE__, __LINE__)
json_t *harness_list_all_at(const char *list_path, const char *token, int limit, const char *file, int line);

/* ------------------------------------------------------------------------------------
 * Races (requests released together from several threads)
 * ------------------------------------------------------------------------------------ */

/* One request of a race (harness_race). */
typedef struct harness_race_req {
  const char *method;
  char path[512];
  const char *token;
  json_t *body;       /* sent as JSON and released by harness_race; NULL: no body */
  long status;        /* out: HTTP status (0 if the exchange failed) */
  char response[512]; /* out: the start of the response body */
} harness_race_req;

/* Sends the n requests (1..16) from n threads released together by a barrier, and waits for
 * all of them.  Assert on the statuses afterwards, in the test's own thread. */
void harness_race(harness_race_req *reqs, int n);

/* One request of harness_race_raw: a raw body and extra headers, and the whole answer. */
typedef struct harness_race_raw_req {
  const char *method;
  char path[512];
  const char *token;
  const char *body;       /* sent byte for byte as application/json (borrowed); NULL: no body */
  const char *headers[5]; /* extra "Name: value" lines, NULL-terminated (borrowed) */
  http_response *resp;    /* out: the answer; the caller frees it with http_response_free */
} harness_race_raw_req;

/* Sends the n requests (1..16) from n threads released together by a barrier, and waits for
 * all of them.  Assert on the answers afterwards, in the test's own thread. */
void harness_race_raw(harness_race_raw_req *reqs, int n);

/* ------------------------------------------------------------------------------------
 * The exchange log (HARNESS_EXCHANGE_LOG)
 * ------------------------------------------------------------------------------------ */

/* Pauses (true) or resumes (false) the HARNESS_EXCHANGE_LOG record of exchanges, around requests a
 * test makes to provoke answers the OpenAPI document need not describe: forced database failures
 * (500), refusals by the HTTP layer (431), HEAD.  Call from the test's own thread while no other
 * thread makes requests.  Resuming when not paused does nothing. */
void harness_exchange_log_pause(bool paused);

#endif
