/* Request bodies: one JSON object, checked against a list of field specs. */
#include "forumnet/body.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/text.h"
#include "forumnet/timestamp.h"

fn_status body_parse_object(const void *data, size_t len, json_t **out, char *detail, size_t detail_len) {
  json_error_t error;
  *out = NULL;
  if (data == NULL || len == 0) {
    snprintf(detail, detail_len, "The request body must be a JSON object.");
    return FN_INVALID;
  }
  json_t *value = json_loadb(data, len, JSON_REJECT_DUPLICATES, &error);
  if (value == NULL) {
    /* Our own words: API.md forbids passing library messages to clients. */
    if (json_error_code(&error) == json_error_duplicate_key)
      snprintf(detail, detail_len, "The request body repeats a key (line %d, column %d).", error.line, error.column);
    else
      snprintf(detail, detail_len, "The request body is not valid JSON (line %d, column %d).", error.line,
               error.column);
    return FN_INVALID;
  }
  if (!json_is_object(value)) {
    json_decref(value);
    snprintf(detail, detail_len, "The request body must be a JSON object.");
    return FN_INVALID;
  }
  *out = value;
  return FN_OK;
}

void field_errors_add(json_t **errors, const char *field, const char *message) {
  if (*errors == NULL)
    *errors = json_array();
  if (*errors == NULL || json_array_size(*errors) >= FIELD_ERRORS_MAX)
    return;
  char *f = utf8_cut(field, FIELD_ERROR_NAME_MAX), *m = utf8_cut(message, FIELD_ERROR_MESSAGE_MAX);
  if (f && m)
    json_array_append_new(*errors, json_pack("{s:s, s:s}", "field", f, "message", m));
  free(f);
  free(m);
}

static int is_blank(const char *s) {
  for (; *s; s++)
    if (!isspace((unsigned char)*s))
      return 0;
  return 1;
}

/* FIELD_STRING_ARRAY: the item count and every item; returns an error message or NULL. */
static const char *check_string_array(const field_spec *spec, const json_t *value, char *buf, size_t buf_len) {
  if (!json_is_array(value))
    return "must be an array of strings";
  long count = (long)json_array_size(value), item_max = (long)(spec->flags >> 8);
  if (count < spec->min || count > spec->max) {
    snprintf(buf, buf_len, "must have %ld to %ld items", spec->min, spec->max);
    return buf;
  }
  size_t i;
  const json_t *item;
  json_array_foreach(value, i, item) {
    const char *s = json_string_value(item);
    long len = s ? utf8_length(s) : -1;
    if (s == NULL || strlen(s) != json_string_length(item) || len < 1 || is_blank(s) ||
        (item_max > 0 && len > item_max)) {
      if (item_max > 0)
        snprintf(buf, buf_len, "item %zu must be a non-blank string of 1 to %ld characters", i, item_max);
      else
        snprintf(buf, buf_len, "item %zu must be a non-blank string", i);
      return buf;
    }
  }
  return NULL;
}

const char *body_string(const json_t *obj, const char *key) { return json_string_value(json_object_get(obj, key)); }

static const field_spec *find_spec(const field_spec *specs, const char *name, body_mode mode) {
  for (; specs->name != NULL; specs++)
    if (mode == BODY_CREATE && (specs->flags & FIELD_UPDATE_ONLY))
      continue;
    else if (specs->type == FIELD_READ_ONLY && specs->choices != NULL ? text_is_choice(name, specs->choices)
                                                                      : strcmp(specs->name, name) == 0)
      return specs;
  return NULL;
}

/* Validates one present value against its spec; returns an error message or NULL. */
static const char *check_value(const field_spec *spec, const json_t *value, char *buf, size_t buf_len) {
  if (json_is_null(value))
    return (spec->flags & FIELD_NULLABLE) ? NULL : "must not be null";
  switch (spec->type) {
  case FIELD_READ_ONLY:
    return "is read-only and cannot be set";
  case FIELD_BOOLEAN:
    return json_is_boolean(value) ? NULL : "must be a boolean";
  case FIELD_STRING_ARRAY:
    return check_string_array(spec, value, buf, buf_len);
  case FIELD_OBJECT:
    return json_is_object(value) ? NULL : "must be an object";
  case FIELD_ARRAY:
    if (!json_is_array(value))
      return "must be an array";
    if ((long)json_array_size(value) < spec->min || (long)json_array_size(value) > spec->max) {
      snprintf(buf, buf_len, "must have %ld to %ld items", spec->min, spec->max);
      return buf;
    }
    return NULL;
  case FIELD_INTEGER: {
    if (!json_is_integer(value))
      return "must be an integer";
    json_int_t n = json_integer_value(value);
    if (n < spec->min || n > spec->max) {
      snprintf(buf, buf_len, "must be from %ld to %ld", spec->min, spec->max);
      return buf;
    }
    return NULL;
  }
  default:
    break;
  }
  if (!json_is_string(value))
    return "must be a string";
  const char *s = json_string_value(value);
  if (strlen(s) != json_string_length(value))
    return "must not contain NUL characters";
  switch (spec->type) {
  case FIELD_STRING: {
    long len = utf8_length(s);
    if (spec->min >= 1 && is_blank(s))
      return "must not be blank";
    if (len < spec->min || len > spec->max) {
      snprintf(buf, buf_len, "must be %ld to %ld characters long", spec->min, spec->max);
      return buf;
    }
    return NULL;
  }
  case FIELD_TIMESTAMP:
    if (!rfc3339_parse(s, NULL))
      return "must be an RFC 3339 date-time such as 2026-11-22T10:00:00Z";
    if (spec->max > 0 && (atol(s) < spec->min || atol(s) > spec->max)) {
      snprintf(buf, buf_len, "must be in the years %ld to %ld", spec->min, spec->max);
      return buf;
    }
    return NULL;
  case FIELD_UUID:
    return text_is_uuid(s) ? NULL : "must be a UUID";
  case FIELD_EMAIL:
    return text_is_email(s) ? NULL : "must be an email address";
  case FIELD_SLUG:
    if (!text_is_slug(s, spec->min, spec->max)) {
      snprintf(buf, buf_len, "must be %ld to %ld lowercase letters, digits or single hyphens", spec->min, spec->max);
      return buf;
    }
    return NULL;
  case FIELD_ENUM:
    for (const char *const *c = spec->choices; c && *c; c++)
      if (strcmp(*c, s) == 0)
        return NULL;
    {
      size_t off = (size_t)snprintf(buf, buf_len, "must be one of:");
      for (const char *const *c = spec->choices; c && *c && off < buf_len; c++)
        off += (size_t)snprintf(buf + off, buf_len - off, " %s", *c);
    }
    return buf;
  default:
    return "is not accepted";
  }
}

/* Copies each error of inner into *errors with its field prefixed. Steals inner. */
static void merge_prefixed(json_t **errors, json_t *inner, const char *prefix) {
  size_t i;
  json_t *e;
  json_array_foreach(inner, i, e) {
    char field[160];
    snprintf(field, sizeof field, "%s.%s", prefix, json_string_value(json_object_get(e, "field")));
    field_errors_add(errors, field, json_string_value(json_object_get(e, "message")));
  }
  json_decref(inner);
}

fn_status body_validate_items(const json_t *array, const char *field, const field_spec *item_specs, json_t **errors) {
  fn_status st = FN_OK;
  size_t i;
  json_t *item;
  json_array_foreach((json_t *)array, i, item) {
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s[%zu]", field, i);
    if (!json_is_object(item)) {
      field_errors_add(errors, prefix, "must be an object");
      st = FN_INVALID;
      continue;
    }
    json_t *inner = NULL;
    if (body_validate(item, item_specs, &inner) != FN_OK) {
      merge_prefixed(errors, inner, prefix);
      st = FN_INVALID;
    }
  }
  return st;
}

fn_status body_validate_nested(const json_t *obj, const char *field, const field_spec *specs, json_t **errors) {
  json_t *inner = NULL;
  if (body_validate(obj, specs, &inner) == FN_OK)
    return FN_OK;
  merge_prefixed(errors, inner, field);
  return FN_INVALID;
}

fn_status body_validate_as(const json_t *obj, const field_spec *specs, body_mode mode, json_t **errors) {
  static const field_spec read_only = {"", FIELD_READ_ONLY, 0, 0, 0, NULL};
  *errors = NULL;
  const char *key;
  json_t *value;
  char buf[256];
  json_object_foreach((json_t *)obj, key, value) {
    const field_spec *spec = find_spec(specs, key, mode);
    if (spec == NULL) {
      field_errors_add(errors, key, "is not a known field");
      continue;
    }
    if (mode == BODY_UPDATE && (spec->flags & FIELD_CREATE_ONLY))
      spec = &read_only;
    const char *msg = check_value(spec, value, buf, sizeof buf);
    if (msg)
      field_errors_add(errors, key, msg);
  }
  for (const field_spec *s = specs; mode == BODY_CREATE && s->name != NULL; s++)
    if ((s->flags & FIELD_REQUIRED) && !(s->flags & FIELD_UPDATE_ONLY) && json_object_get(obj, s->name) == NULL)
      field_errors_add(errors, s->name, "is required");
  return *errors ? FN_INVALID : FN_OK;
}

fn_status body_validate(const json_t *obj, const field_spec *specs, json_t **errors) {
  return body_validate_as(obj, specs, BODY_CREATE, errors);
}
