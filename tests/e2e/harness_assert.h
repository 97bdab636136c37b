/*
 * harness_assert.h — reading JSON bodies and asserting on answers (failing at the caller's line,
 * with the exchange and the server log path).  Part of harness.h.
 */
#ifndef FORUMNET_E2E_HARNESS_ASSERT_H
#define FORUMNET_E2E_HARNESS_ASSERT_H

#include "harness_http.h"

/* ------------------------------------------------------------------------------------
 * JSON access (all borrowed; NULL when absent or of another type)
 * ------------------------------------------------------------------------------------ */

/* Follows a dotted path of object keys: hjson_get(resp->json, "member.id"). */
json_t *hjson_get(const json_t *root, const char *dotted_path);
const char *hjson_str(const json_t *root, const char *dotted_path);

/* True if the value at the path is JSON null (present and null). */
bool hjson_is_null(const json_t *root, const char *dotted_path);

/* The "version" integer of a resource (fails the test if absent). */
#define hjson_version(root) harness_json_int_at((root), "version", __FILE__, __LINE__)
json_int_t harness_json_int_at(const json_t *root, const char *dotted_path, const char *file, int line);

/* ------------------------------------------------------------------------------------
 * Assertions (fail at the caller's line, printing the exchange and the server log path)
 * ------------------------------------------------------------------------------------ */

/* resp->status == status. */
#define assert_status(resp, status) harness_assert_status((resp), (status), __FILE__, __LINE__)

/* A problem+json answer: status, Content-Type application/problem+json, body with string
 * type and title, integer status equal to status, string request_id equal to the
 * X-Request-Id header. */
#define assert_problem(resp, status) harness_assert_problem((resp), (status), NULL, __FILE__, __LINE__)

/* assert_problem plus type == "urn:forumnet:problem:<slug>". */
#define assert_problem_type(resp, status, slug) harness_assert_problem((resp), (status), (slug), __FILE__, __LINE__)

/* The problem body has errors[] with an entry whose field equals field. */
#define assert_error_field(resp, field) harness_assert_error_field((resp), (field), __FILE__, __LINE__)

/* A header is present and equal (case-sensitive value) to expected. */
#define assert_header_equal(resp, name, expected)                                                                      \
  harness_assert_header_equal((resp), (name), (expected), __FILE__, __LINE__)

/* A header is absent. */
#define assert_header_absent(resp, name) harness_assert_header_absent((resp), (name), __FILE__, __LINE__)

/* The string at a dotted JSON path equals expected (or the value is null if expected is NULL). */
#define assert_json_str(root, path, expected) harness_assert_json_str((root), (path), (expected), __FILE__, __LINE__)

/* The integer at a dotted JSON path equals expected. */
#define assert_json_int(root, path, expected) harness_assert_json_int((root), (path), (expected), __FILE__, __LINE__)

/* ETag header equals "\"<version>\"" where version is the body's "version". */
#define assert_etag_matches_version(resp) harness_assert_etag_version((resp), __FILE__, __LINE__)

/* True if the problem body's errors[] has an entry whose field equals field / starts with prefix
 * (for the field paths of nested members, e.g. "questions[0]"). */
bool harness_has_error_field(const http_response *resp, const char *field);
bool harness_has_error_field_prefix(const http_response *resp, const char *prefix);

/* Fails at the caller's line with a printf-style message (plus the server log path). */
#define harness_fail(...) harness_fail_at(__FILE__, __LINE__, __VA_ARGS__)

void harness_assert_status(const http_response *resp, long status, const char *file, int line);
void harness_assert_problem(const http_response *resp, long status, const char *slug, const char *file, int line);
void harness_assert_error_field(const http_response *resp, const char *field, const char *file, int line);
void harness_assert_header_equal(const http_response *resp, const char *name, const char *expected, const char *file,
                                 int line);
void harness_assert_header_absent(const http_response *resp, const char *name, const char *file, int line);
void harness_assert_json_str(const json_t *root, const char *path, const char *expected, const char *file, int line);
void harness_assert_json_int(const json_t *root, const char *path, json_int_t expected, const char *file, int line);
void harness_assert_etag_version(const http_response *resp, const char *file, int line);
void harness_fail_at(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------------------------
 * Reads that assert (at the caller's line)
 * ------------------------------------------------------------------------------------ */

/* GET path as token; asserts 200 and returns the body (new reference). */
#define harness_get_json(path, token) harness_get_json_at((path), (token), __FILE__, __LINE__)
json_t *harness_get_json_at(const char *path, const char *token, const char *file, int line);

/* GET path as token (200 asserted): the body as compact JSON with sorted keys, a new string the
 * caller frees, for before/after comparisons. */
#define harness_snapshot(path, token) harness_snapshot_at((path), (token), __FILE__, __LINE__)
char *harness_snapshot_at(const char *path, const char *token, const char *file, int line);

/* Fails unless GET path as token answers the same body as the harness_snapshot `before` (which
 * it frees): for writes that were refused or failed and must have changed nothing. */
#define harness_expect_unchanged(before, path, token)                                                                  \
  harness_expect_unchanged_at((before), (path), (token), __FILE__, __LINE__)
void harness_expect_unchanged_at(char *before, const char *path, const char *token, const char *file, int line);

#endif
