#ifndef FORUMNET_STRBUF_H
#define FORUMNET_STRBUF_H

#include <stddef.h>

/* A growable string with a checked, sticky failure: appends never fail loudly, a failed allocation
 * (or one a caller reports with strbuf_fail) is remembered, later appends do nothing, and
 * strbuf_finish hands out NULL. So a writer appends freely and checks once, at the end.
 *
 * All zeros is an empty buffer (STRBUF_INIT, or memset). data is NUL-terminated whenever it is not
 * NULL; len counts the octets before that NUL. Read the fields; change them only through these
 * functions. */
typedef struct strbuf {
  char *data;
  size_t len, cap;
  int failed;
} strbuf;

#define STRBUF_INIT                                                                                                    \
  { NULL, 0, 0, 0 }

/* Makes room for `more` octets (and the NUL); 0, with the failure remembered, when it cannot. */
int strbuf_reserve(strbuf *b, size_t more);

/* Appends n octets of s (which may hold NULs). */
void strbuf_append(strbuf *b, const char *s, size_t n);

/* Appends the string s. */
void strbuf_puts(strbuf *b, const char *s);

/* Appends printf-formatted text. */
void strbuf_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Empties the buffer and keeps its memory (and any failure), for reuse. */
void strbuf_clear(strbuf *b);

/* Marks the buffer failed: for a writer whose own allocation failed while making its content. */
void strbuf_fail(strbuf *b);

/* The text (caller frees; *len its length, may be NULL), or NULL when anything failed. The buffer
 * is empty and reusable afterwards either way. */
char *strbuf_finish(strbuf *b, size_t *len);

/* Frees the buffer's memory and empties it. */
void strbuf_free(strbuf *b);

#endif
