#include "forumnet/status.h"

#include <stddef.h>

struct status_info {
  int http;
  const char *title;
  const char *slug;
};

static const struct status_info status_table[] = {
    [FN_OK] = {200, "OK", "ok"},
    [FN_CREATED] = {201, "Created", "created"},
    [FN_NO_CONTENT] = {204, "No Content", "no-content"},
    [FN_NOT_MODIFIED] = {304, "Not Modified", "not-modified"},
    [FN_INVALID] = {400, "Bad Request", "invalid-request"},
    [FN_UNAUTHENTICATED] = {401, "Unauthorized", "unauthenticated"},
    [FN_FORBIDDEN] = {403, "Forbidden", "forbidden"},
    [FN_PASSWORD_CHANGE_REQUIRED] = {403, "Password Change Required", "password-change-required"},
    [FN_NOT_FOUND] = {404, "Not Found", "not-found"},
    [FN_METHOD_NOT_ALLOWED] = {405, "Method Not Allowed", "method-not-allowed"},
    [FN_CONFLICT] = {409, "Conflict", "conflict"},
    [FN_PRECONDITION_FAILED] = {412, "Precondition Failed", "precondition-failed"},
    [FN_PRECONDITION_REQUIRED] = {428, "Precondition Required", "precondition-required"},
    [FN_TOO_LARGE] = {413, "Content Too Large", "content-too-large"},
    [FN_UNSUPPORTED_MEDIA] = {415, "Unsupported Media Type", "unsupported-media-type"},
    [FN_UNPROCESSABLE] = {422, "Unprocessable Content", "unprocessable"},
    [FN_RATE_LIMITED] = {429, "Too Many Requests", "rate-limited"},
    [FN_UNAVAILABLE] = {503, "Service Unavailable", "unavailable"},
    [FN_INTERNAL] = {500, "Internal Server Error", "internal"},
};

static const struct status_info *status_lookup(fn_status status) {
  if ((size_t)status >= sizeof status_table / sizeof status_table[0] || status_table[status].http == 0)
    return &status_table[FN_INTERNAL];
  return &status_table[status];
}

int fn_status_http(fn_status status) { return status_lookup(status)->http; }

const char *fn_status_title(fn_status status) { return status_lookup(status)->title; }

const char *fn_status_slug(fn_status status) { return status_lookup(status)->slug; }
