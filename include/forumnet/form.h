#ifndef FORUMNET_FORM_H
#define FORUMNET_FORM_H

#include <jansson.h>
#include <stddef.h>

#include "forumnet/status.h"

/* Parses an application/x-www-form-urlencoded body (len bytes, not NUL-terminated) into a JSON
 * object of strings, so that handlers validate form and JSON bodies alike. A pair without '=',
 * a malformed or %00 escape, invalid UTF-8 or a repeated name is FN_INVALID (detail says so and
 * *out is left alone); FN_INTERNAL when memory runs out. On FN_OK *out is a new reference.
 * Used by dispatch_request for ROUTE_FORM_BODY routes; public so that tests/fuzz reaches it. */
fn_status dispatch_parse_form(const void *data, size_t len, json_t **out, char *detail, size_t detail_len);

#endif
