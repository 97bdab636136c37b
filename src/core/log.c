#include "forumnet/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void log_timestamp(char *buf, unsigned long buf_len) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  char base[32];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, buf_len, "%s.%03dZ", base, (int)(ts.tv_nsec / 1000000));
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if the bytes there are not one
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_sequence_length(const unsigned char *s) {
  unsigned char c = s[0];
  if (c < 0x80)
    return 1;
  size_t n = (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
  for (size_t i = 1; i < n; i++)
    if ((s[i] & 0xC0) != 0x80)
      return 0;
  if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0) || (c == 0xF0 && s[1] < 0x90) ||
      (c == 0xF4 && s[1] >= 0x90))
    return 0;
  return n;
}

void log_utf8_sanitize(const char *in, char *out, size_t out_len) {
  static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */
  size_t w = 0;
  if (out_len == 0)
    return;
  for (const unsigned char *p = (const unsigned char *)in; *p;) {
    size_t n = utf8_sequence_length(p);
    const char *piece = n ? (const char *)p : replacement;
    size_t piece_len = n ? n : 3;
    if (w + piece_len >= out_len)
      break;
    memcpy(out + w, piece, piece_len);
    w += piece_len;
    p += n ? n : 1;
  }
  out[w] = '\0';
}

/* Serializes obj as one line and writes it with a single locked write so lines
 * from concurrent threads never interleave. Steals obj. */
static void write_line(FILE *out, json_t *obj) {
  char *line = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(6));
  json_decref(obj);
  if (line == NULL)
    return;
  flockfile(out);
  fputs(line, out);
  fputc('\n', out);
  fflush(out);
  funlockfile(out);
  free(line);
}

static void log_message(const char *level, const char *fmt, va_list ap) {
  char raw[1024], msg[1536];
  char ts[40];
  vsnprintf(raw, sizeof raw, fmt, ap);
  /* Jansson refuses invalid UTF-8 (e.g. a client's bytes in a message): such a line would vanish. */
  log_utf8_sanitize(raw, msg, sizeof msg);
  log_timestamp(ts, sizeof ts);
  write_line(stderr, json_pack("{s:s, s:s, s:s}", "time", ts, "level", level, "msg", msg));
}

void log_info(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_message("info", fmt, ap);
  va_end(ap);
}

void log_warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_message("warn", fmt, ap);
  va_end(ap);
}

void log_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_message("error", fmt, ap);
  va_end(ap);
}

void log_access(const log_access_entry *e) {
  char ts[40], method[64];
  log_timestamp(ts, sizeof ts);
  /* The method is the client's bytes (the request id is validated, the route is ours). */
  log_utf8_sanitize(e->method ? e->method : "", method, sizeof method);
  json_t *line = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:f}", "time", ts, "level", "info", "request_id",
                           e->request_id ? e->request_id : "", "method", method, "route", e->route ? e->route : "",
                           "status", e->status, "duration_ms", (double)(long)(e->duration_ms * 1000.0) / 1000.0);
  if (line == NULL)
    return;
  json_object_set_new(line, "member_id", e->member_id ? json_string(e->member_id) : json_null());
  if (e->partner_id)
    json_object_set_new(line, "partner_id", json_string(e->partner_id));
  if (e->client) /* only our own formatting of an address (dispatch.c), never the header's bytes */
    json_object_set_new(line, "client", json_string(e->client));
  write_line(stdout, line);
}
