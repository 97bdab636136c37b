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
  char msg[1024];
  char ts[40];
  vsnprintf(msg, sizeof msg, fmt, ap);
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
  char ts[40];
  log_timestamp(ts, sizeof ts);
  json_t *line = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:f}", "time", ts, "level", "info", "request_id",
                           e->request_id ? e->request_id : "", "method", e->method ? e->method : "", "route",
                           e->route ? e->route : "", "status", e->status, "duration_ms",
                           (double)(long)(e->duration_ms * 1000.0) / 1000.0);
  if (line == NULL)
    return;
  json_object_set_new(line, "member_id", e->member_id ? json_string(e->member_id) : json_null());
  if (e->partner_id)
    json_object_set_new(line, "partner_id", json_string(e->partner_id));
  write_line(stdout, line);
}
