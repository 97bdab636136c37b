/* fuzz_json_body: request bodies, two ways (README.md in this directory).
 *
 * 1. body_parse_object, then body_validate / body_validate_items / body_validate_nested against a
 *    spec list using every field type and flag, checked against an independent re-statement of
 *    each rule: a body is accepted exactly when the re-statement accepts it, and every error names
 *    a member of the body or a required field.
 * 2. The same body through the real pipeline, dispatch_request(), to one route taking a JSON body
 *    (every such route of every resource, read from the live route table), with a valid token and a
 *    database pool that never gives a connection: each handler runs its own field_spec lists and
 *    extra checks, then stops at its first database access with 503. Invariants: no 500, problem
 *    documents well formed, a body that is not a JSON object is a 400.
 *
 * Input: a first line choosing the route ("PATCH /v1/sites/{site_id}", optionally followed by
 * " partner" to send a partner token), then the body. A first line that names no route picks one by
 * its hash, so mutated inputs still reach every route. */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/body.h"
#include "forumnet/router.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"
#include "fuzz_common.h"

/* ---- 1. every field type ---- */

static const char *const colours[] = {"red", "green", "blue", NULL};

static const field_spec item_specs[] = {
    {"id", FIELD_UUID, FIELD_REQUIRED, 0, 0, NULL},
    {"colour", FIELD_ENUM, FIELD_REQUIRED, 0, 0, colours},
    {"note", FIELD_STRING, FIELD_NULLABLE, 0, 10, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

static const field_spec all_types[] = {
    {"s", FIELD_STRING, FIELD_REQUIRED, 1, 20, NULL},
    {"s0", FIELD_STRING, FIELD_NULLABLE, 0, 5, NULL},
    {"n", FIELD_INTEGER, 0, -5, 50, NULL},
    {"big", FIELD_INTEGER, 0, LONG_MIN, LONG_MAX, NULL},
    {"b", FIELD_BOOLEAN, FIELD_NULLABLE, 0, 0, NULL},
    {"id", FIELD_UUID, 0, 0, 0, NULL},
    {"email", FIELD_EMAIL, FIELD_NULLABLE, 0, 0, NULL},
    {"colour", FIELD_ENUM, 0, 0, 0, colours},
    {"nothing", FIELD_ENUM, 0, 0, 0, NULL}, /* no choices: never valid */
    {"slug", FIELD_SLUG, 0, 2, 64, NULL},
    {"slug0", FIELD_SLUG, 0, 0, 3, NULL},
    {"ro", FIELD_READ_ONLY, 0, 0, 0, NULL},
    {"at", FIELD_TIMESTAMP, 0, 2000, 2999, NULL},
    {"any_at", FIELD_TIMESTAMP, FIELD_NULLABLE, 0, 0, NULL},
    {"tags", FIELD_STRING_ARRAY, FIELD_ITEM_MAX(8), 0, 5, NULL},
    {"words", FIELD_STRING_ARRAY, FIELD_NULLABLE, 1, 3, NULL},
    {"items", FIELD_ARRAY, 0, 0, 10, NULL},
    {"obj", FIELD_OBJECT, FIELD_NULLABLE, 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

static const field_spec *spec_named(const field_spec *specs, const char *name) {
  for (; specs->name; specs++)
    if (strcmp(specs->name, name) == 0)
      return specs;
  return NULL;
}

/* Code points of valid UTF-8 s (jansson only hands out valid UTF-8). */
static long code_points(const char *s) {
  long n = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    n += (*p & 0xC0) != 0x80;
  return n;
}

static int all_space(const char *s) {
  for (; *s; s++)
    if (!isspace((unsigned char)*s))
      return 0;
  return 1;
}

static int nul_free_string(const json_t *v) {
  return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v);
}

static int uuid_ok(const char *s) {
  if (strlen(s) != 36)
    return 0;
  for (int i = 0; i < 36; i++)
    if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
      return 0;
  return 1;
}

static int email_ok(const char *s) {
  size_t len = strlen(s);
  const char *at = strchr(s, '@');
  if (len < 3 || len > 254 || at == NULL || at == s || strchr(at + 1, '@'))
    return 0;
  const char *dot = strrchr(at, '.');
  if (dot == NULL || dot == at + 1 || dot[1] == '\0')
    return 0;
  for (const char *p = s; *p; p++)
    if ((unsigned char)*p <= 0x20 || *p == 0x7f)
      return 0;
  return 1;
}

static int slug_ok(const char *s, long min, long max) {
  long len = (long)strlen(s);
  if (len == 0 || len < min || len > max || s[0] == '-' || s[len - 1] == '-' || strstr(s, "--"))
    return 0;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
      return 0;
  return 1;
}

/* The rules of body.h, restated: 1 if value is acceptable for spec. */
static int value_ok(const field_spec *spec, const json_t *v) {
  if (json_is_null(v))
    return (spec->flags & FIELD_NULLABLE) != 0;
  const char *s = json_string_value(v);
  switch (spec->type) {
  case FIELD_READ_ONLY:
    return 0;
  case FIELD_BOOLEAN:
    return json_is_boolean(v);
  case FIELD_OBJECT:
    return json_is_object(v);
  case FIELD_ARRAY:
    return json_is_array(v) && (long)json_array_size(v) >= spec->min && (long)json_array_size(v) <= spec->max;
  case FIELD_INTEGER:
    return json_is_integer(v) && json_integer_value(v) >= spec->min && json_integer_value(v) <= spec->max;
  case FIELD_STRING_ARRAY: {
    if (!json_is_array(v) || (long)json_array_size(v) < spec->min || (long)json_array_size(v) > spec->max)
      return 0;
    long item_max = (long)(spec->flags >> 8);
    size_t i;
    const json_t *item;
    json_array_foreach((json_t *)v, i, item) {
      if (!nul_free_string(item) || json_string_length(item) == 0 || all_space(json_string_value(item)) ||
          (item_max > 0 && code_points(json_string_value(item)) > item_max))
        return 0;
    }
    return 1;
  }
  default:
    break;
  }
  if (!nul_free_string(v))
    return 0;
  switch (spec->type) {
  case FIELD_STRING:
    return !(spec->min >= 1 && all_space(s)) && code_points(s) >= spec->min && code_points(s) <= spec->max;
  case FIELD_UUID:
    return uuid_ok(s);
  case FIELD_EMAIL:
    return email_ok(s);
  case FIELD_SLUG:
    return slug_ok(s, spec->min, spec->max);
  case FIELD_ENUM:
    for (const char *const *c = spec->choices; c && *c; c++)
      if (strcmp(*c, s) == 0)
        return 1;
    return 0;
  case FIELD_TIMESTAMP: {
    if (!rfc3339_parse(s, NULL))
      return 0;
    long year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    return spec->max <= 0 || (year >= spec->min && year <= spec->max);
  }
  default:
    return 0;
  }
}

static int object_ok(const json_t *obj, const field_spec *specs) {
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)obj, key, v) {
    const field_spec *spec = spec_named(specs, key);
    if (spec == NULL || !value_ok(spec, v))
      return 0;
  }
  for (const field_spec *s = specs; s->name; s++)
    if ((s->flags & FIELD_REQUIRED) && json_object_get(obj, s->name) == NULL)
      return 0;
  return 1;
}

/* body_validate against specs, checked both ways against object_ok. */
/* An error names a member by its name cut to FIELD_ERROR_NAME_MAX characters (field_errors_add
 * bounds what it echoes): 1 if some member of obj, so cut, is field. */
static int member_cut_to(const json_t *obj, const char *field) {
  const char *key;
  json_t *value;
  int found = 0;
  json_object_foreach((json_t *)obj, key, value) {
    char *cut = utf8_cut(key, FIELD_ERROR_NAME_MAX);
    found = found || (cut != NULL && strcmp(cut, field) == 0);
    free(cut);
  }
  return found;
}

static void validate_checked(const json_t *obj, const field_spec *specs, const char *where) {
  json_t *errors = (json_t *)0x1; /* body_validate must set it */
  fn_status st = body_validate(obj, specs, &errors);
  int expected = object_ok(obj, specs);
  char *text = json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY);
  if (st == FN_OK) {
    FUZZ_CHECK(errors == NULL, "%s: FN_OK with errors", where);
    FUZZ_CHECK(expected, "%s: body_validate accepted a body the rules reject: %s", where, text);
  } else {
    FUZZ_CHECK(st == FN_INVALID, "%s: body_validate returned %d", where, (int)st);
    fuzz_check_errors(errors, where);
    FUZZ_CHECK(!expected, "%s: body_validate rejected a body the rules accept: %s", where, text);
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) {
      const char *field = json_string_value(json_object_get(e, "field"));
      const field_spec *spec = spec_named(specs, field);
      FUZZ_CHECK(json_object_get(obj, field) != NULL || member_cut_to(obj, field) ||
                     (spec && (spec->flags & FIELD_REQUIRED)),
                 "%s: error names \"%s\", neither a member nor a required field", where, field);
    }
    json_decref(errors);
  }
  free(text);
}

/* body_validate_items / body_validate_nested: errors appended after a sentinel, prefixed with field. */
static void nested_checked(const char *key, const json_t *value) {
  json_t *errors = json_array();
  json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "sentinel", "message", "kept"));
  fn_status st;
  int expected = 1;
  if (json_is_array(value)) {
    st = body_validate_items(value, key, item_specs, &errors);
    size_t i;
    const json_t *item;
    json_array_foreach((json_t *)value, i, item) expected &= json_is_object(item) && object_ok(item, item_specs);
  } else if (json_is_object(value)) {
    st = body_validate_nested(value, key, item_specs, &errors);
    expected = object_ok(value, item_specs);
  } else {
    json_decref(errors);
    return;
  }
  FUZZ_CHECK((st == FN_OK) == expected, "nested %s: status %d, the rules say %s", key, (int)st,
             expected ? "valid" : "invalid");
  fuzz_check_errors(errors, key);
  FUZZ_CHECK(strcmp(json_string_value(json_object_get(json_array_get(errors, 0), "field")), "sentinel") == 0,
             "nested %s: earlier errors were not kept", key);
  FUZZ_CHECK((st == FN_OK) == (json_array_size(errors) == 1), "nested %s: status and errors disagree", key);
  size_t i;
  json_t *e;
  json_array_foreach(errors, i, e) {
    if (i == 0)
      continue;
    const char *field = json_string_value(json_object_get(e, "field"));
    /* The prefix is cut at 127 bytes ("key[i]") and the whole name at 159: compare what fits. */
    size_t n = strlen(key) < 100 ? strlen(key) : 100;
    FUZZ_CHECK(strncmp(field, key, n) == 0, "nested %s: error field \"%s\" lacks the prefix", key, field);
  }
  json_decref(errors);
}

/* ---- 2. every route with a JSON body ---- */

static fuzz_app fa;
static const fn_route *json_routes[256];
static int json_route_count;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_app_init(&fa);
  for (int i = 0; i < router_route_count() && json_route_count < 256; i++)
    if (router_route(i)->flags & ROUTE_JSON_BODY)
      json_routes[json_route_count++] = router_route(i);
  FUZZ_CHECK(json_route_count > 0, "no route takes a JSON body");
  if (getenv("FUZZ_LIST_ROUTES"))
    for (int i = 0; i < json_route_count; i++)
      fprintf(stderr, "%s %s\n", json_routes[i]->method, json_routes[i]->pattern);
  return 0;
}

static const fn_route *pick_route(const char *line, size_t len, int *partner) {
  char name[160];
  size_t n = len < sizeof name - 1 ? len : sizeof name - 1;
  memcpy(name, line, n);
  name[n] = '\0';
  *partner = n > 8 && strcmp(name + n - 8, " partner") == 0;
  if (*partner)
    name[n - 8] = '\0';
  for (int i = 0; i < json_route_count; i++) {
    char full[160];
    snprintf(full, sizeof full, "%s %s", json_routes[i]->method, json_routes[i]->pattern);
    if (strcmp(full, name) == 0)
      return json_routes[i];
  }
  unsigned h = 2166136261u;
  for (size_t i = 0; i < len; i++)
    h = (h ^ (unsigned char)line[i]) * 16777619u;
  return json_routes[h % (unsigned)json_route_count];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nl = memchr(data, '\n', size);
  size_t line_len = nl ? (size_t)(nl - data) : 0;
  const uint8_t *body = nl ? nl + 1 : data;
  size_t body_len = size - (size_t)(body - data);

  /* 1. Parser and validators directly. */
  char detail[256];
  memset(detail, 0x55, sizeof detail);
  json_t *obj = (json_t *)0x1;
  fn_status st = body_parse_object(body, body_len, &obj, detail, sizeof detail);
  if (st == FN_OK) {
    FUZZ_CHECK(json_is_object(obj), "body_parse_object: FN_OK without an object");
    validate_checked(obj, all_types, "all_types");
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) nested_checked(key, v);
  } else {
    FUZZ_CHECK(st == FN_INVALID && obj == NULL, "body_parse_object: failure left *out set");
    FUZZ_CHECK(memchr(detail, '\0', sizeof detail) != NULL && detail[0] != '\0', "body_parse_object: bad detail");
    FUZZ_CHECK(fuzz_utf8_valid(detail, strlen(detail)), "body_parse_object: detail is not UTF-8");
  }

  /* 2. The same body through the pipeline. */
  int partner = 0;
  const fn_route *route = pick_route((const char *)data, line_len, &partner);
  char path[256];
  fuzz_fill_path(route->pattern, path, sizeof path);
  fuzz_request rq = {.method = route->method,
                     .path = path,
                     .content_type = "application/json",
                     .authorization = partner && (route->flags & ROUTE_PARTNER) ? fa.partner_token : fa.member_token,
                     .body = body,
                     .body_len = body_len};
  fuzz_response r;
  fuzz_dispatch(&fa, &rq, &r);
  int empty_ok = body_len == 0 && (route->flags & ROUTE_OPTIONAL_BODY);
  if (st != FN_OK && !empty_ok)
    FUZZ_CHECK(r.status == 400, "%s %s: a body that is not a JSON object got %d", route->method, route->pattern,
               r.status);
  if (getenv("FUZZ_TRACE"))
    fprintf(stderr, "%s %s -> %d %s\n", route->method, route->pattern, r.status, r.body);
  fuzz_response_free(&r);
  if (st == FN_OK)
    json_decref(obj);
  return 0;
}
