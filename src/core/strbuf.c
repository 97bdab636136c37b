/* The growable string behind every text the server builds piece by piece (strbuf.h). */
#include "forumnet/strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STRBUF_MIN_CAP 64

int strbuf_reserve(strbuf *b, size_t more) {
  if (b->failed)
    return 0;
  if (more > SIZE_MAX / 2 - b->len - 1) {
    b->failed = 1;
    return 0;
  }
  size_t need = b->len + more + 1;
  if (need <= b->cap)
    return 1;
  size_t cap = need * 2 < STRBUF_MIN_CAP ? STRBUF_MIN_CAP : need * 2;
  char *data = realloc(b->data, cap);
  if (data == NULL) {
    b->failed = 1;
    return 0;
  }
  b->data = data;
  b->cap = cap;
  return 1;
}

void strbuf_append(strbuf *b, const char *s, size_t n) {
  if (!strbuf_reserve(b, n))
    return;
  if (n > 0)
    memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void strbuf_puts(strbuf *b, const char *s) { strbuf_append(b, s, strlen(s)); }

void strbuf_printf(strbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->failed = 1;
    return;
  }
  if (!strbuf_reserve(b, (size_t)n))
    return;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void strbuf_clear(strbuf *b) {
  b->len = 0;
  if (b->data != NULL)
    b->data[0] = '\0';
}

void strbuf_fail(strbuf *b) { b->failed = 1; }

char *strbuf_finish(strbuf *b, size_t *len) {
  /* An empty buffer that never allocated is still a text: "". */
  if (!b->failed && b->data == NULL)
    strbuf_reserve(b, 0);
  char *data = b->failed ? NULL : b->data;
  if (len != NULL)
    *len = data ? b->len : 0;
  if (data == NULL)
    free(b->data);
  memset(b, 0, sizeof *b);
  return data;
}

void strbuf_free(strbuf *b) {
  free(b->data);
  memset(b, 0, sizeof *b);
}
