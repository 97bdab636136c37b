/*
 * harness_internal.h — what the harness_*.c files share among themselves and tests never use.
 * Include it after harness.h.
 */
#ifndef FORUMNET_E2E_HARNESS_INTERNAL_H
#define FORUMNET_E2E_HARNESS_INTERNAL_H

#include "harness.h"

/* harness_util.c ---------------------------------------------------------------------------- */

/* malloc/strdup that abort the process when memory runs out. */
void *xmalloc(size_t n);
char *xstrdup(const char *s);

/* Growable byte buffer, always NUL-terminated; {0} is an empty one.  The owner frees ->data. */
typedef struct buf {
  char *data;
  size_t len, cap;
} buf;

void buf_append(buf *b, const void *data, size_t n);
void buf_appendf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copies src to dst (cap bytes), failing the test at file:line when it does not fit. */
void copy_bounded(char *dst, size_t cap, const char *src, const char *what, const char *file, int line);

/* Once per process: ignores SIGPIPE, initialises libcurl and libsodium. */
void global_init(void);

/* getenv(name), failing the test when it is unset or empty. */
const char *required_env(const char *name);

/* harness_server.c -------------------------------------------------------------------------- */

/* The current server's port, 0 when none runs. */
int harness_server_port(void);

/* The calling thread's source address (harness_set_source_address), "" for the default. */
const char *harness_source_address(void);

/* Runs `forumnet admin create` for email/password; fails the test unless it exits 0. */
void run_admin_create(const char *email, const char *password);

/* harness_http.c ---------------------------------------------------------------------------- */

/* A response to fill in, labelled with its request. */
http_response *response_new(const char *method, const char *path);

/* Adds one "Name: value" header line (CRLF optional). Lines without a colon are ignored. */
void response_add_header_line(http_response *r, const char *line, size_t len);

/* A libcurl CURLOPT_WRITEFUNCTION appending to the buf given as CURLOPT_WRITEDATA. */
size_t buf_curl_write(char *ptr, size_t size, size_t nmemb, void *userdata);

/* Takes body's data as the response body (or "") and parses it as JSON when it is. */
void response_finish(http_response *r, buf *body);

/* GET path without a token, with an overall time limit (server start-up polls /healthz). */
http_response *http_get_timeout(const char *path, long timeout_ms);

/* harness_assert.c -------------------------------------------------------------------------- */

/* Fails the test at file:line with a message, the exchange r (may be NULL) and the server log path. */
void fail_with(const http_response *r, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
