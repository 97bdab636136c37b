/*
 * harness_util.c — the small pieces every part of the harness uses: allocation that never fails,
 * a growable buffer, bounded copies, one-time library set-up, clocks, unique names, and checks of
 * UUIDs and RFC 3339 timestamps.
 */
#include "harness.h"
#include "harness_internal.h"

#include <errno.h>
#include <regex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <sodium.h>

void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "harness: out of memory\n");
    abort();
  }
  return p;
}

char *xstrdup(const char *s) {
  size_t n = strlen(s);
  char *p = xmalloc(n + 1);
  memcpy(p, s, n + 1);
  return p;
}

int64_t harness_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t harness_epoch_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void harness_sleep_ms(int ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

void buf_append(buf *b, const void *data, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
      fprintf(stderr, "harness: out of memory\n");
      abort();
    }
    b->data = p;
    b->cap = cap;
  }
  if (n)
    memcpy(b->data + b->len, data, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void buf_appendf(buf *b, const char *fmt, ...) {
  char tmp[8192];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof tmp) {
    fprintf(stderr, "harness: buf_appendf overflow\n");
    abort();
  }
  buf_append(b, tmp, (size_t)n);
}

char *harness_repeat(char c, size_t n) {
  char *s = xmalloc(n + 1);
  memset(s, c, n);
  s[n] = '\0';
  return s;
}

void copy_bounded(char *dst, size_t cap, const char *src, const char *what, const char *file, int line) {
  size_t n = strlen(src);
  if (n >= cap)
    harness_fail_at(file, line, "%s is %zu bytes, longer than the harness buffer (%zu)", what, n, cap);
  memcpy(dst, src, n + 1);
}

void global_init(void) {
  static bool done;
  if (done)
    return;
  done = true;
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_ALL);
  if (sodium_init() < 0)
    fail_msg("harness: sodium_init failed");
}

const char *required_env(const char *name) {
  const char *v = getenv(name);
  if (!v || !*v)
    fail_msg("%s is not set: the end-to-end tests run through scripts/test.sh (or ctest with %s exported)", name, name);
  return v;
}

static atomic_uint g_unique_counter;

char *harness_unique(const char *prefix, char *out) {
  unsigned n = atomic_fetch_add(&g_unique_counter, 1u);
  snprintf(out, HARNESS_NAME_MAX, "%s-%ld-%u-%lx", prefix, (long)getpid(), n, (unsigned long)time(NULL));
  return out;
}

char *harness_unique_email(const char *prefix, char *out) {
  char u[HARNESS_NAME_MAX];
  harness_unique(prefix, u);
  snprintf(out, HARNESS_EMAIL_MAX, "%s@test.example", u);
  return out;
}

bool harness_is_uuid(const char *s) {
  if (!s || strlen(s) != 36)
    return false;
  for (int i = 0; i < 36; i++) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-')
        return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

bool harness_is_rfc3339_utc(const char *s) {
  regex_t re;
  regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z$", REG_EXTENDED | REG_NOSUB);
  bool ok = s && regexec(&re, s, 0, NULL, 0) == 0;
  regfree(&re);
  return ok;
}

char *harness_rfc3339_from_now(long offset_seconds, char *out) {
  time_t t = time(NULL) + (time_t)offset_seconds;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

int harness_free_port(void) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0)
    harness_fail("no free port");
  close(fd);
  return ntohs(a.sin_port);
}
