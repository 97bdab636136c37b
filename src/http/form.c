/* application/x-www-form-urlencoded request bodies (form.h). Form bodies become a JSON object of
 * strings, so handlers validate form and JSON bodies the same way. */
#include "forumnet/form.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = (char)tolower((unsigned char)c);
  return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* Decodes one x-www-form-urlencoded component in place; 0 if malformed. */
static int form_decode(char *s) {
  char *out = s;
  for (char *p = s; *p; p++) {
    if (*p == '+') {
      *out++ = ' ';
    } else if (*p == '%') {
      int hi = hex_value(p[1]), lo = hi >= 0 ? hex_value(p[2]) : -1;
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
        return 0;
      *out++ = (char)(hi * 16 + lo);
      p += 2;
    } else {
      *out++ = *p;
    }
  }
  *out = '\0';
  return 1;
}

fn_status dispatch_parse_form(const void *data, size_t len, json_t **out, char *detail, size_t detail_len) {
  char *copy = malloc(len + 1);
  json_t *obj = json_object();
  fn_status st = FN_OK;
  if (copy == NULL || obj == NULL) {
    free(copy);
    json_decref(obj);
    snprintf(detail, detail_len, "Out of memory.");
    return FN_INTERNAL;
  }
  if (len > 0) /* an empty body is a NULL pointer (Ulfius), and memcpy's source must not be NULL */
    memcpy(copy, data, len);
  copy[len] = '\0';
  char *save = NULL;
  for (char *pair = strtok_r(copy, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
    char *eq = strchr(pair, '=');
    if (eq == NULL) {
      st = FN_INVALID;
      break;
    }
    *eq = '\0';
    if (!form_decode(pair) || !form_decode(eq + 1) || json_object_get(obj, pair) != NULL) {
      st = FN_INVALID;
      break;
    }
    json_t *v = json_string(eq + 1); /* NULL for invalid UTF-8 */
    if (v == NULL || json_object_set_new(obj, pair, v) != 0) {
      st = FN_INVALID;
      break;
    }
  }
  free(copy);
  if (st != FN_OK) {
    snprintf(detail, detail_len, "The form body is malformed or repeats a field.");
    json_decref(obj);
    return st;
  }
  *out = obj;
  return FN_OK;
}
