#ifndef FORUMNET_BODY_H
#define FORUMNET_BODY_H

#include <jansson.h>
#include <stddef.h>

#include "forumnet/status.h"

/* Parses a request body that must be one JSON object. Duplicate keys are rejected.
 * On FN_OK *out is a new reference (caller decrefs); otherwise detail says why. */
fn_status body_parse_object(const void *data, size_t len, json_t **out, char *detail, size_t detail_len);

typedef enum field_type {
  FIELD_STRING,  /* min/max are lengths in characters; blank strings fail when min >= 1 */
  FIELD_INTEGER, /* min/max bound the value */
  FIELD_BOOLEAN,
  FIELD_UUID,         /* canonical 8-4-4-4-12 hex */
  FIELD_EMAIL,        /* a pragmatic check: one @, a dot in the domain, no spaces, <= 254 */
  FIELD_ENUM,         /* one of choices */
  FIELD_SLUG,         /* lowercase letters, digits and single hyphens, min/max lengths */
  FIELD_READ_ONLY,    /* present in the representation but never settable: always rejected */
  FIELD_TIMESTAMP,    /* RFC 3339 date-time (2026-11-22T10:00:00Z, fraction and offset allowed); min/max bound
                         the year as written when max > 0 */
  FIELD_STRING_ARRAY, /* array of non-blank strings; min/max bound the item count, FIELD_ITEM_MAX(n) in flags
                         the length of each item in characters */
  FIELD_ARRAY,        /* any array; min/max bound the item count (validate items with body_validate_items) */
  FIELD_OBJECT,       /* any object (validate members with body_validate_nested) */
} field_type;

/* FIELD_REQUIRED: required when creating (body_validate_as BODY_CREATE); an update never requires a field.
 * FIELD_CREATE_ONLY: settable when creating, read-only in an update.
 * FIELD_UPDATE_ONLY: the entry counts in an update only; a creating body's check passes over it, so a later
 * entry of the same name (often FIELDS_READ_ONLY) decides, or none ("is not a known field"). */
enum { FIELD_REQUIRED = 1, FIELD_NULLABLE = 2, FIELD_CREATE_ONLY = 4, FIELD_UPDATE_ONLY = 8 };
/* FIELD_STRING_ARRAY: longest item accepted, in characters (kept in the upper bits of flags). */
#define FIELD_ITEM_MAX(n) ((unsigned)(n) << 8)

/* One accepted field of a request body. A spec list ends with {NULL}. */
typedef struct field_spec {
  const char *name;
  field_type type;
  unsigned flags;
  long min, max;
  const char *const *choices; /* FIELD_ENUM: NULL-terminated; FIELD_READ_ONLY: see FIELDS_READ_ONLY */
} field_spec;

/* One entry for all the read-only members of a representation: names is a NULL-terminated list,
 * each of which a body may not set ("is read-only and cannot be set"). */
#define FIELDS_READ_ONLY(names)                                                                                        \
  { "(read-only fields)", FIELD_READ_ONLY, 0, 0, 0, names }

/* Which body a spec list checks: one list serves both a resource's POST and its PATCH. */
typedef enum body_mode { BODY_CREATE, BODY_UPDATE } body_mode;

/* Checks obj against specs: unknown fields, read-only fields, missing required fields,
 * wrong types and out-of-range values each add {"field", "message"} to *errors.
 * Returns FN_OK, or FN_INVALID with *errors a new reference (caller decrefs). */
fn_status body_validate(const json_t *obj, const field_spec *specs, json_t **errors);
/* body_validate for a creating (FIELD_REQUIRED enforced) or an updating body (FIELD_CREATE_ONLY
 * fields read-only, nothing required). body_validate is body_validate_as(..., BODY_CREATE, ...). */
fn_status body_validate_as(const json_t *obj, const field_spec *specs, body_mode mode, json_t **errors);

/* Validates every item of array (the body member `field`) as an object against item_specs,
 * adding errors named "field[i].name" (or "field[i]" for a non-object) to *errors (created when
 * NULL). Returns FN_OK or FN_INVALID. */
fn_status body_validate_items(const json_t *array, const char *field, const field_spec *item_specs, json_t **errors);

/* Validates obj (the body member `field`) against specs, adding errors named "field.name". */
fn_status body_validate_nested(const json_t *obj, const char *field, const field_spec *specs, json_t **errors);

/* Bounds of a validation problem's `errors` list, so that its size never follows the request's (a body
 * of many, or long, unknown keys): at most FIELD_ERRORS_MAX entries (the first ones), each field name cut
 * to FIELD_ERROR_NAME_MAX and each message to FIELD_ERROR_MESSAGE_MAX characters. openapi.yaml
 * (Problem.errors, FieldError) documents the same numbers. */
#define FIELD_ERRORS_MAX 100
#define FIELD_ERROR_NAME_MAX 128
#define FIELD_ERROR_MESSAGE_MAX 256

/* Appends {"field": field, "message": message} to errors (created when *errors is NULL), within the
 * bounds above: nothing is appended once the list holds FIELD_ERRORS_MAX entries. */
void field_errors_add(json_t **errors, const char *field, const char *message);

/* String member or NULL (borrowed). */
const char *body_string(const json_t *obj, const char *key);

#endif
