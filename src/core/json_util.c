#include "forumnet/json_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

fn_status json_parse_object(const void *data, size_t len, json_t **out, char *detail, size_t detail_len) {
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

char *json_utf8_cut(const char *s, long max_chars) {
  size_t len = 0;
  long chars = 0;
  /* Count lead bytes (not 10xxxxxx continuation bytes): the cut falls before the (max_chars+1)th. */
  for (const unsigned char *p = (const unsigned char *)s; p[len]; len++)
    if ((p[len] & 0xC0) != 0x80 && ++chars > max_chars)
      break;
  char *copy = strndup(s, len);
  /* Callers build field names with snprintf into fixed buffers ("attendance[0].%.32s"), which can cut
   * a multi-byte character of a client's key in half; jansson refuses invalid UTF-8 and the error would
   * be lost (found by tests/fuzz/fuzz_json_body). Keep the valid prefix. */
  for (size_t n = copy ? strlen(copy) : 0; n > 0 && json_utf8_length(copy) < 0;)
    copy[--n] = '\0';
  return copy;
}

void json_errors_add(json_t **errors, const char *field, const char *message) {
  if (*errors == NULL)
    *errors = json_array();
  if (*errors == NULL || json_array_size(*errors) >= JSON_ERRORS_MAX)
    return;
  char *f = json_utf8_cut(field, JSON_ERROR_FIELD_MAX), *m = json_utf8_cut(message, JSON_ERROR_MESSAGE_MAX);
  if (f && m)
    json_array_append_new(*errors, json_pack("{s:s, s:s}", "field", f, "message", m));
  free(f);
  free(m);
}

int json_is_uuid(const char *s) {
  if (s == NULL || strlen(s) != 36)
    return 0;
  for (int i = 0; i < 36; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-')
        return 0;
    } else if (!isxdigit((unsigned char)s[i])) {
      return 0;
    }
  }
  return 1;
}

int json_is_email(const char *s) {
  if (s == NULL)
    return 0;
  size_t len = strlen(s);
  if (len < 3 || len > 254)
    return 0;
  const char *at = strchr(s, '@');
  if (at == NULL || at == s || strchr(at + 1, '@') != NULL)
    return 0;
  const char *dot = strrchr(at + 1, '.');
  if (dot == NULL || dot == at + 1 || dot[1] == '\0')
    return 0;
  for (const char *p = s; *p; p++)
    if ((unsigned char)*p <= ' ' || *p == 0x7f)
      return 0;
  return 1;
}

int json_is_slug(const char *s, long min, long max) {
  if (s == NULL)
    return 0;
  long len = (long)strlen(s);
  if (len < min || len > max || len == 0 || s[0] == '-' || s[len - 1] == '-')
    return 0;
  for (long i = 0; i < len; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
      return 0;
    if (c == '-' && s[i + 1] == '-')
      return 0;
  }
  return 1;
}

long json_utf8_length(const char *s) {
  long n = 0;
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    unsigned c = *p, cp, min;
    size_t extra;
    if (c < 0x80) {
      p++;
      n++;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      extra = 1, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3, min = 0x10000;
    } else {
      return -1;
    }
    cp = c & (0x3Fu >> extra);
    for (size_t i = 1; i <= extra; i++) {
      if ((p[i] & 0xC0) != 0x80)
        return -1; /* also stops at the terminating NUL */
      cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return -1;
    p += extra + 1;
    n++;
  }
  return n;
}

static int is_blank(const char *s) {
  for (; *s; s++)
    if (!isspace((unsigned char)*s))
      return 0;
  return 1;
}

/* Reads exactly n digits at *p into *out and advances *p. */
static int read_digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*p)[i]))
      return 0;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return 1;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's days_from_civil). */
static long long days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  long long era = (y >= 0 ? y : y - 399) / 400;
  long long yoe = y - era * 400;
  long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int json_parse_timestamp(const char *s, long long *epoch_us) {
  static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int year, month, day, hour, minute, second, off_h = 0, off_m = 0, sign = 0;
  long long frac_us = 0;
  if (s == NULL)
    return 0;
  const char *p = s;
  if (!read_digits(&p, 4, &year) || *p++ != '-' || !read_digits(&p, 2, &month) || *p++ != '-' ||
      !read_digits(&p, 2, &day) || (*p != 'T' && *p != 't'))
    return 0;
  p++;
  if (!read_digits(&p, 2, &hour) || *p++ != ':' || !read_digits(&p, 2, &minute) || *p++ != ':' ||
      !read_digits(&p, 2, &second))
    return 0;
  int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month < 1 || month > 12 || day < 1 || day > month_days[month - 1] + (month == 2 && leap) || hour > 23 ||
      minute > 59 || second > 59)
    return 0;
  if (*p == '.') {
    /* Up to nanoseconds, rounded to the microseconds PostgreSQL keeps. */
    int digits = 0;
    long long scaled = 0;
    for (p++; isdigit((unsigned char)*p); p++, digits++)
      if (digits < 7)
        scaled = scaled * 10 + (*p - '0');
    if (digits < 1 || digits > 9)
      return 0;
    for (int i = digits; i < 7; i++)
      scaled *= 10;
    frac_us = (scaled + 5) / 10;
  }
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    sign = *p++ == '+' ? 1 : -1;
    if (!read_digits(&p, 2, &off_h) || *p++ != ':' || !read_digits(&p, 2, &off_m) || off_h > 23 || off_m > 59)
      return 0;
  } else {
    return 0;
  }
  if (*p != '\0')
    return 0;
  long long secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second -
                   sign * (off_h * 3600 + off_m * 60);
  /* PostgreSQL has no year 0: "0000-01-01T00:00:00Z" as a timestamptz parameter is an error (a 500
   * for a cursor or a ?from=), so instants before 0001-01-01T00:00:00Z are refused here. */
  if (secs < days_from_civil(1, 1, 1) * 86400)
    return 0;
  if (epoch_us != NULL)
    *epoch_us = secs * 1000000 + frac_us;
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
    long len = s ? json_utf8_length(s) : -1;
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

int json_is_choice(const char *s, const char *const *choices) {
  for (; s && choices && *choices; choices++)
    if (strcmp(*choices, s) == 0)
      return 1;
  return 0;
}

const char *json_get_string(const json_t *obj, const char *key) { return json_string_value(json_object_get(obj, key)); }

static const field_spec *find_spec(const field_spec *specs, const char *name) {
  for (; specs->name != NULL; specs++)
    if (strcmp(specs->name, name) == 0)
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
    long len = json_utf8_length(s);
    if (spec->min >= 1 && is_blank(s))
      return "must not be blank";
    if (len < spec->min || len > spec->max) {
      snprintf(buf, buf_len, "must be %ld to %ld characters long", spec->min, spec->max);
      return buf;
    }
    return NULL;
  }
  case FIELD_TIMESTAMP:
    if (!json_parse_timestamp(s, NULL))
      return "must be an RFC 3339 date-time such as 2026-11-22T10:00:00Z";
    if (spec->max > 0 && (atol(s) < spec->min || atol(s) > spec->max)) {
      snprintf(buf, buf_len, "must be in the years %ld to %ld", spec->min, spec->max);
      return buf;
    }
    return NULL;
  case FIELD_UUID:
    return json_is_uuid(s) ? NULL : "must be a UUID";
  case FIELD_EMAIL:
    return json_is_email(s) ? NULL : "must be an email address";
  case FIELD_SLUG:
    if (!json_is_slug(s, spec->min, spec->max)) {
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
    json_errors_add(errors, field, json_string_value(json_object_get(e, "message")));
  }
  json_decref(inner);
}

fn_status json_validate_items(const json_t *array, const char *field, const field_spec *item_specs, json_t **errors) {
  fn_status st = FN_OK;
  size_t i;
  json_t *item;
  json_array_foreach((json_t *)array, i, item) {
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s[%zu]", field, i);
    if (!json_is_object(item)) {
      json_errors_add(errors, prefix, "must be an object");
      st = FN_INVALID;
      continue;
    }
    json_t *inner = NULL;
    if (json_validate(item, item_specs, &inner) != FN_OK) {
      merge_prefixed(errors, inner, prefix);
      st = FN_INVALID;
    }
  }
  return st;
}

fn_status json_validate_nested(const json_t *obj, const char *field, const field_spec *specs, json_t **errors) {
  json_t *inner = NULL;
  if (json_validate(obj, specs, &inner) == FN_OK)
    return FN_OK;
  merge_prefixed(errors, inner, field);
  return FN_INVALID;
}

fn_status json_validate(const json_t *obj, const field_spec *specs, json_t **errors) {
  *errors = NULL;
  const char *key;
  json_t *value;
  char buf[256];
  json_object_foreach((json_t *)obj, key, value) {
    const field_spec *spec = find_spec(specs, key);
    if (spec == NULL) {
      json_errors_add(errors, key, "is not a known field");
      continue;
    }
    const char *msg = check_value(spec, value, buf, sizeof buf);
    if (msg)
      json_errors_add(errors, key, msg);
  }
  for (const field_spec *s = specs; s->name != NULL; s++)
    if ((s->flags & FIELD_REQUIRED) && json_object_get(obj, s->name) == NULL)
      json_errors_add(errors, s->name, "is required");
  return *errors ? FN_INVALID : FN_OK;
}
