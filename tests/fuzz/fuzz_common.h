/* Shared by the libFuzzer harnesses in tests/fuzz (see README.md there): invariant checks that
 * abort (libFuzzer reports an abort as a crash and saves the input), and a way to push one request
 * through the real pipeline, dispatch_request(), without a network or a database. */
#ifndef FORUMNET_FUZZ_COMMON_H
#define FORUMNET_FUZZ_COMMON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "forumnet/http.h"
#include "forumnet/token.h"

/* Every harness defines these two (the libFuzzer entry points). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with a message naming the broken invariant when cond is false. */
#define FUZZ_CHECK(cond, ...)                                                                                          \
  do {                                                                                                                 \
    if (!(cond))                                                                                                       \
      fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                                               \
  } while (0)

__attribute__((noreturn, format(printf, 4, 5))) void fuzz_fail(const char *file, int line, const char *cond,
                                                               const char *fmt, ...);

/* A copy of data[0..len) with a NUL appended (caller frees). */
char *fuzz_strndup(const uint8_t *data, size_t len);

/* 1 if s[0..len) is valid UTF-8 (no overlongs, surrogates or code points above U+10FFFF). */
int fuzz_utf8_valid(const char *s, size_t len);

/* Checks an "errors" array as body_validate and the handlers build it: a non-empty array of
 * objects with exactly a non-empty string "field" and a non-empty string "message". */
void fuzz_check_errors(const json_t *errors, const char *where);

/* ---- the request pipeline ---- */

/* The HS256 configuration every pipeline harness uses, and an application whose database pool has
 * no connections and gives up at once: a request that gets past validation is answered 503 by
 * the handler's first req_db(), so handlers run up to their database work and no further. The
 * dispatcher's check that a verified token's subject still holds it (a database read) is answered
 * by a stand-in: every subject is valid and has no one-time password. */
typedef struct fuzz_app {
  fn_app app;
  char member_token[1024];  /* a valid member access token (typ access, role admin) */
  char partner_token[1024]; /* a valid partner token (typ partner, scope events:write) */
} fuzz_app;

/* Fills cfg as config_load would with FORUMNET_JWT_SECRET set (HS256, kid k1). */
void fuzz_config_hs256(fn_config *cfg);

/* Initialises libsodium, the router, metrics and *fa (once per process). Aborts on failure. */
void fuzz_app_init(fuzz_app *fa);

/* One request. query is NULL or name, value, name, value, ..., NULL (values as Ulfius hands them
 * over, already percent-decoded). An empty body is sent as Ulfius sends one: a NULL pointer with
 * length 0. */
typedef struct fuzz_request {
  const char *method, *path;
  const char *const *query;
  const char *content_type;  /* NULL: no Content-Type header */
  const char *authorization; /* NULL: no Authorization header */
  const void *body;
  size_t body_len;
} fuzz_request;

/* The reply: status, body (NUL-terminated copy, caller frees) and its length. */
typedef struct fuzz_response {
  int status;
  char *body;
  size_t body_len;
  char content_type[128];
} fuzz_response;

/* Runs dispatch_request() and checks what holds for every reply: a status was set (never the
 * "handler replied nothing" 500), no 500 at all (nothing here may reach an internal error without a
 * database), and a problem document (application/problem+json) is a JSON object with type, title,
 * detail, request_id and a status equal to the HTTP status; its "errors", if any, pass
 * fuzz_check_errors. */
void fuzz_dispatch(fuzz_app *fa, const fuzz_request *rq, fuzz_response *out);
void fuzz_response_free(fuzz_response *r);

/* The problem document of r as a new JSON object, or NULL if r is not a problem. */
json_t *fuzz_problem(const fuzz_response *r);

/* Writes pattern into out with each {name} replaced: {version} by "1", any other by a fixed
 * canonical UUID, so that handlers' path checks pass and the body is what gets validated. */
void fuzz_fill_path(const char *pattern, char *out, size_t out_len);

#endif
