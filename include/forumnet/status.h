#ifndef FORUMNET_STATUS_H
#define FORUMNET_STATUS_H

/* Outcome of any forumnet operation. Exactly one function, fn_status_http(),
 * maps it to an HTTP status; problem.c turns that into a problem+json body. */
typedef enum fn_status {
  FN_OK = 0,
  FN_CREATED,                  /* a new resource was stored */
  FN_NO_CONTENT,               /* done, nothing to return */
  FN_NOT_MODIFIED,             /* If-None-Match matched */
  FN_INVALID,                  /* malformed or invalid input */
  FN_UNAUTHENTICATED,          /* missing or invalid credentials */
  FN_FORBIDDEN,                /* authenticated but not allowed */
  FN_PASSWORD_CHANGE_REQUIRED, /* 403: a one-time password allows nothing but GET|PATCH /v1/me */
  FN_NOT_FOUND,                /* unknown, or not visible to the caller */
  FN_METHOD_NOT_ALLOWED,
  FN_CONFLICT,              /* duplicate, illegal state change */
  FN_PRECONDITION_FAILED,   /* If-Match mismatch */
  FN_PRECONDITION_REQUIRED, /* a change that must name the version it replaces did not send If-Match */
  FN_TOO_LARGE,
  FN_UNSUPPORTED_MEDIA,
  FN_UNPROCESSABLE, /* idempotency-key reuse with another body */
  FN_RATE_LIMITED,
  FN_UNAVAILABLE, /* database unavailable or pool exhausted */
  FN_INTERNAL     /* a bug or an unexpected library failure */
} fn_status;

/* HTTP status code for a status. */
int fn_status_http(fn_status status);

/* Short, stable title for problem+json ("Not Found"). Borrowed, static. */
const char *fn_status_title(fn_status status);

/* Problem type slug used in the problem+json "type" URI ("not-found"). Borrowed, static. */
const char *fn_status_slug(fn_status status);

#endif
