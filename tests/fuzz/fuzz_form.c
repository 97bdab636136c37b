/* fuzz_form: the application/x-www-form-urlencoded body parser, dispatch_parse_form
 * (src/http/form.c), and the one route that takes form bodies, POST /v1/auth/token.
 *
 * The input is the body. Invariants:
 * - dispatch_parse_form agrees with a separate restatement of the format (pairs split on '&',
 *   empty pairs skipped, each needs '=', '+' is a space, %XX a byte, %00 and malformed escapes
 *   refused, names and values valid UTF-8, no name twice; the body ends at a NUL byte, as the C
 *   string it is parsed as) on success or failure and on the object built;
 * - the object re-encoded (every byte percent-encoded) parses back to an equal object;
 * - a failure leaves *out alone and explains itself in detail;
 * - POST /v1/auth/token with the body (client credentials in it) answers 503 (it reached the
 *   database) exactly when the body is a valid client-credentials request by the rules of API.md
 *   section 7, and otherwise 400 with an OAuth "error" (or, for a malformed body, without one). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/server.h"
#include "fuzz_common.h"

static fuzz_app fa;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_app_init(&fa);
  return 0;
}

static int hex(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Decodes s[0..n) into out (NUL-terminated, *out_len bytes); 0 if malformed. */
static int decode(const char *s, size_t n, char *out, size_t *out_len) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '+') {
      out[o++] = ' ';
    } else if (s[i] == '%') {
      int hi = i + 1 < n ? hex((unsigned char)s[i + 1]) : -1, lo = i + 2 < n ? hex((unsigned char)s[i + 2]) : -1;
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
        return 0;
      out[o++] = (char)(hi * 16 + lo);
      i += 2;
    } else {
      out[o++] = s[i];
    }
  }
  out[o] = '\0';
  *out_len = o;
  return 1;
}

/* The restated parser: a new object, or NULL when the body is refused. */
static json_t *restated_parse(const char *body) {
  json_t *obj = json_object();
  size_t len = strlen(body);
  char *name = malloc(len + 1), *value = malloc(len + 1);
  FUZZ_CHECK(obj && name && value, "out of memory");
  const char *p = body, *end = body + len;
  int ok = 1;
  while (ok && p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *stop = amp ? amp : end;
    if (stop > p) {
      const char *eq = memchr(p, '=', (size_t)(stop - p));
      size_t nl, vl;
      if (eq == NULL || !decode(p, (size_t)(eq - p), name, &nl) ||
          !decode(eq + 1, (size_t)(stop - eq - 1), value, &vl) || !fuzz_utf8_valid(name, nl) ||
          !fuzz_utf8_valid(value, vl) || json_object_get(obj, name) != NULL)
        ok = 0;
      else
        json_object_set_new(obj, name, json_string(value));
    }
    p = stop + 1;
  }
  free(name);
  free(value);
  if (!ok) {
    json_decref(obj);
    return NULL;
  }
  return obj;
}

static void append_encoded(char **buf, size_t *len, const char *s) {
  for (; *s; s++) {
    snprintf(*buf + *len, 4, "%%%02X", (unsigned char)*s);
    *len += 3;
  }
}

static void check_round_trip(const json_t *obj) {
  size_t cap = 16;
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)obj, key, v) cap += 3 * (strlen(key) + json_string_length(v)) + 2;
  char *buf = malloc(cap);
  size_t len = 0;
  FUZZ_CHECK(buf != NULL, "out of memory");
  json_object_foreach((json_t *)obj, key, v) {
    if (len > 0)
      buf[len++] = '&';
    append_encoded(&buf, &len, key);
    buf[len++] = '=';
    append_encoded(&buf, &len, json_string_value(v));
  }
  buf[len] = '\0';
  json_t *again = NULL;
  char detail[256];
  FUZZ_CHECK(dispatch_parse_form(buf, len, &again, detail, sizeof detail) == FN_OK, "re-encoded form refused: %s", buf);
  FUZZ_CHECK(json_equal(obj, again), "re-encoded form parses to another object: %s", buf);
  json_decref(again);
  free(buf);
}

static long chars(const json_t *v) {
  long n = 0;
  for (const unsigned char *p = (const unsigned char *)json_string_value(v); *p; p++)
    n += (*p & 0xC0) != 0x80;
  return n;
}

static int blank(const json_t *v) {
  for (const char *p = json_string_value(v); *p; p++)
    if (!isspace((unsigned char)*p))
      return 0;
  return 1;
}

/* A form body /v1/auth/token takes to the database: only its four fields, each within bounds
 * (token_fields in auth_http.c), the client_credentials grant, client id and secret, and no scope
 * or events:write. */
static int token_request_ok(const json_t *obj) {
  static const struct {
    const char *name;
    long min, max;
  } fields[] = {{"grant_type", 1, 64}, {"client_id", 1, 128}, {"client_secret", 1, 256}, {"scope", 0, 128}};
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)obj, key, v) {
    int known = 0;
    for (size_t i = 0; i < 4; i++)
      if (strcmp(key, fields[i].name) == 0) {
        known = 1;
        if (chars(v) < fields[i].min || chars(v) > fields[i].max || (fields[i].min >= 1 && blank(v)))
          return 0;
      }
    if (!known)
      return 0;
  }
  const char *grant = json_string_value(json_object_get(obj, "grant_type"));
  const char *scope = json_string_value(json_object_get(obj, "scope"));
  return grant && strcmp(grant, "client_credentials") == 0 && json_object_get(obj, "client_id") &&
         json_object_get(obj, "client_secret") &&
         (scope == NULL || *scope == '\0' || strcmp(scope, "events:write") == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *obj = (json_t *)0x1;
  char detail[256] = "";
  fn_status st = dispatch_parse_form(data, size, &obj, detail, sizeof detail);
  char *body = fuzz_strndup(data, size);
  json_t *expected = restated_parse(body);
  if (st == FN_OK) {
    FUZZ_CHECK(json_is_object(obj), "dispatch_parse_form: FN_OK without an object");
    FUZZ_CHECK(expected != NULL, "dispatch_parse_form accepted a body the format refuses: %s", body);
    FUZZ_CHECK(json_equal(obj, expected), "dispatch_parse_form built another object than the format says: %s", body);
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) FUZZ_CHECK(json_is_string(v), "a form value is not a string");
    check_round_trip(obj);
  } else {
    FUZZ_CHECK(st == FN_INVALID, "dispatch_parse_form returned %d", (int)st);
    FUZZ_CHECK(obj == (json_t *)0x1, "dispatch_parse_form: failure touched *out");
    FUZZ_CHECK(detail[0] != '\0', "dispatch_parse_form: failure without detail");
    FUZZ_CHECK(expected == NULL, "dispatch_parse_form refused a body the format accepts: %s", body);
  }

  fuzz_request rq = {.method = "POST",
                     .path = "/v1/auth/token",
                     .content_type = "application/x-www-form-urlencoded",
                     .body = data,
                     .body_len = size};
  fuzz_response r;
  fuzz_dispatch(&fa, &rq, &r);
  int reaches_db = st == FN_OK && token_request_ok(obj);
  FUZZ_CHECK(r.status == (reaches_db ? 503 : 400), "POST /v1/auth/token: %d, expected %d for %s", r.status,
             reaches_db ? 503 : 400, body);
  if (r.status == 400) {
    json_t *problem = fuzz_problem(&r);
    const char *error = json_string_value(json_object_get(problem, "error"));
    FUZZ_CHECK(st == FN_OK ? error != NULL : error == NULL, "POST /v1/auth/token: OAuth error \"%s\" for %s",
               error ? error : "(none)", body);
    json_decref(problem);
  }
  fuzz_response_free(&r);
  if (st == FN_OK)
    json_decref(obj);
  json_decref(expected);
  free(body);
  return 0;
}
