/*
 * harness_assert.c — reading JSON bodies by dotted path, and the assertions: each failure prints
 * the caller's file and line, the exchange (request, status, headers, body) and the server log path.
 */
#include "harness.h"
#include "harness_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

json_t *hjson_get(const json_t *root, const char *dotted_path) {
  if (!root || !dotted_path)
    return NULL;
  const json_t *cur = root;
  const char *p = dotted_path;
  while (*p) {
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    if (!json_is_object(cur))
      return NULL;
    cur = json_object_getn(cur, p, n);
    if (!cur)
      return NULL;
    p += n;
    if (*p == '.')
      p++;
  }
  return (json_t *)cur;
}

const char *hjson_str(const json_t *root, const char *dotted_path) {
  return json_string_value(hjson_get(root, dotted_path));
}

bool hjson_is_null(const json_t *root, const char *dotted_path) { return json_is_null(hjson_get(root, dotted_path)); }

json_int_t harness_json_int_at(const json_t *root, const char *dotted_path, const char *file, int line) {
  json_t *v = hjson_get(root, dotted_path);
  if (!json_is_integer(v)) {
    char *dump = root ? json_dumps(root, JSON_COMPACT) : NULL;
    harness_fail_at(file, line, "expected an integer at \"%s\" in %s", dotted_path, dump ? dump : "(no JSON)");
    free(dump);
    return 0;
  }
  return json_integer_value(v);
}

static void describe_response(const http_response *r) {
  if (!r) {
    print_error("  (no response)\n");
    return;
  }
  print_error("  request: %s %s\n  status: %ld%s%s\n", r->method, r->path, r->status, r->error[0] ? "  error: " : "",
              r->error);
  for (size_t i = 0; i < r->header_count; i++)
    print_error("  < %s: %s\n", r->header_names[i], r->header_values[i]);
  if (r->body_len > 0)
    print_error("  body: %.2000s%s\n", r->body, r->body_len > 2000 ? "..." : "");
}

/* Prints "file:line: message", the exchange r when with_response, and the server log path. */
static void report_v(bool with_response, const http_response *r, const char *file, int line, const char *fmt,
                     va_list ap) __attribute__((format(printf, 5, 0)));
static void report_v(bool with_response, const http_response *r, const char *file, int line, const char *fmt,
                     va_list ap) {
  print_error("%s:%d: ", file, line);
  vprint_error(fmt, ap);
  print_error("\n");
  if (with_response)
    describe_response(r);
  if (harness_server_log()[0])
    print_error("  server log: %s\n", harness_server_log());
}

void fail_with(const http_response *r, const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report_v(true, r, file, line, fmt, ap);
  va_end(ap);
  _fail(file, line);
}

void harness_fail_at(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report_v(false, NULL, file, line, fmt, ap);
  va_end(ap);
  _fail(file, line);
}

void harness_assert_status(const http_response *resp, long status, const char *file, int line) {
  if (!resp || resp->status != status)
    fail_with(resp, file, line, "expected HTTP status %ld, got %ld", status, resp ? resp->status : 0L);
}

void harness_assert_problem(const http_response *resp, long status, const char *slug, const char *file, int line) {
  harness_assert_status(resp, status, file, line);
  const char *ct = http_header(resp, "Content-Type");
  if (!ct || strncasecmp(ct, "application/problem+json", 24) != 0)
    fail_with(resp, file, line, "expected Content-Type application/problem+json, got %s", ct ? ct : "(none)");
  if (!json_is_object(resp->json))
    fail_with(resp, file, line, "problem body is not a JSON object");
  const char *type = hjson_str(resp->json, "type");
  if (!type || !*type)
    fail_with(resp, file, line, "problem body lacks a string \"type\"");
  if (!hjson_str(resp->json, "title") || !*hjson_str(resp->json, "title"))
    fail_with(resp, file, line, "problem body lacks a string \"title\"");
  json_t *st = hjson_get(resp->json, "status");
  if (!json_is_integer(st) || json_integer_value(st) != status)
    fail_with(resp, file, line, "problem body \"status\" is not the integer %ld", status);
  const char *rid = hjson_str(resp->json, "request_id");
  const char *hrid = http_header(resp, "X-Request-Id");
  if (!rid || !*rid)
    fail_with(resp, file, line, "problem body lacks a string \"request_id\"");
  if (!hrid || strcmp(hrid, rid) != 0)
    fail_with(resp, file, line, "X-Request-Id header (%s) differs from the body's request_id (%s)",
              hrid ? hrid : "(none)", rid);
  if (slug) {
    char expected[128];
    snprintf(expected, sizeof expected, "urn:forumnet:problem:%s", slug);
    if (strcmp(type, expected) != 0)
      fail_with(resp, file, line, "expected problem type %s, got %s", expected, type);
  }
}

void harness_assert_error_field(const http_response *resp, const char *field, const char *file, int line) {
  json_t *errors = hjson_get(resp ? resp->json : NULL, "errors");
  if (!json_is_array(errors))
    fail_with(resp, file, line, "expected errors[] naming field \"%s\", found no errors array", field);
  size_t i;
  json_t *e;
  json_array_foreach(errors, i, e) {
    const char *f = hjson_str(e, "field");
    if (f && strcmp(f, field) == 0) {
      if (!hjson_str(e, "message"))
        fail_with(resp, file, line, "errors[] entry for \"%s\" has no string message", field);
      return;
    }
  }
  fail_with(resp, file, line, "errors[] does not name field \"%s\"", field);
}

void harness_assert_header_equal(const http_response *resp, const char *name, const char *expected, const char *file,
                                 int line) {
  const char *v = http_header(resp, name);
  if (!v || strcmp(v, expected) != 0)
    fail_with(resp, file, line, "expected header %s: %s, got %s", name, expected, v ? v : "(absent)");
}

void harness_assert_header_absent(const http_response *resp, const char *name, const char *file, int line) {
  const char *v = http_header(resp, name);
  if (v)
    fail_with(resp, file, line, "expected no %s header, got %s", name, v);
}

void harness_assert_json_str(const json_t *root, const char *path, const char *expected, const char *file, int line) {
  json_t *v = hjson_get(root, path);
  bool ok = expected ? (json_is_string(v) && strcmp(json_string_value(v), expected) == 0) : json_is_null(v);
  if (!ok) {
    char *dump = root ? json_dumps(root, JSON_COMPACT) : NULL;
    harness_fail_at(file, line, "expected \"%s\" to be %s%s%s in %s", path, expected ? "\"" : "",
                    expected ? expected : "null", expected ? "\"" : "", dump ? dump : "(no JSON)");
    free(dump);
  }
}

void harness_assert_json_int(const json_t *root, const char *path, json_int_t expected, const char *file, int line) {
  json_t *v = hjson_get(root, path);
  if (!json_is_integer(v) || json_integer_value(v) != expected) {
    char *dump = root ? json_dumps(root, JSON_COMPACT) : NULL;
    harness_fail_at(file, line, "expected \"%s\" to be %" JSON_INTEGER_FORMAT " in %s", path, expected,
                    dump ? dump : "(no JSON)");
    free(dump);
  }
}

void harness_assert_etag_version(const http_response *resp, const char *file, int line) {
  json_t *v = hjson_get(resp ? resp->json : NULL, "version");
  if (!json_is_integer(v))
    fail_with(resp, file, line, "body has no integer \"version\"");
  char expected[48];
  snprintf(expected, sizeof expected, "\"%" JSON_INTEGER_FORMAT "\"", json_integer_value(v));
  const char *etag = http_header(resp, "ETag");
  if (!etag || strcmp(etag, expected) != 0)
    fail_with(resp, file, line, "expected ETag %s (the body's version), got %s", expected, etag ? etag : "(absent)");
}

static bool has_error_field(const http_response *resp, const char *field, size_t compare_len) {
  size_t i;
  json_t *e;
  json_array_foreach(hjson_get(resp ? resp->json : NULL, "errors"), i, e) {
    const char *f = hjson_str(e, "field");
    if (f && strncmp(f, field, compare_len) == 0)
      return true;
  }
  return false;
}

bool harness_has_error_field(const http_response *resp, const char *field) {
  return has_error_field(resp, field, strlen(field) + 1);
}

bool harness_has_error_field_prefix(const http_response *resp, const char *prefix) {
  return has_error_field(resp, prefix, strlen(prefix));
}

json_t *harness_get_json_at(const char *path, const char *token, const char *file, int line) {
  http_response *r = http_get(path, token);
  harness_assert_status(r, 200, file, line);
  json_t *j = json_incref(r->json);
  http_response_free(r);
  return j;
}

char *harness_snapshot_at(const char *path, const char *token, const char *file, int line) {
  json_t *j = harness_get_json_at(path, token, file, line);
  char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(j);
  return s;
}

void harness_expect_unchanged_at(char *before, const char *path, const char *token, const char *file, int line) {
  char *after = harness_snapshot_at(path, token, file, line);
  if (strcmp(before, after) != 0)
    harness_fail_at(file, line, "GET %s changed although the writes were refused or failed:\n  before %s\n  after  %s",
                    path, before, after);
  free(before);
  free(after);
}
