#ifndef FORUMNET_LOG_H
#define FORUMNET_LOG_H

#include <stddef.h>

/* Operational messages: one JSON line each on stderr. Never pass secrets, tokens,
 * passwords or request bodies to these functions. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One access-log line per request on stdout. */
typedef struct log_access_entry {
  const char *request_id;
  const char *method;
  const char *route; /* the route pattern, not the raw path, so ids are not logged */
  int status;
  double duration_ms;
  const char *member_id;  /* NULL when anonymous */
  const char *partner_id; /* set instead for a partner client's request */
  const char *client;     /* the client's address: the peer, or from X-Forwarded-For behind a trusted proxy */
} log_access_entry;

void log_access(const log_access_entry *entry);

/* Current UTC time as RFC 3339 with milliseconds into buf (>= 32 bytes). */
void log_timestamp(char *buf, unsigned long buf_len);

/* Copies in to out (out_len bytes, NUL-terminated, truncated at a whole character), replacing every
 * byte that is not part of valid UTF-8 with U+FFFD, so a log line can always be written as JSON. */
void log_utf8_sanitize(const char *in, char *out, size_t out_len);

#endif
