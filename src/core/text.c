/* Checks of text: UUIDs, e-mail addresses, slugs, UTF-8 length and cutting, choices. */
#include "forumnet/text.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

char *utf8_cut(const char *s, long max_chars) {
  size_t len = 0;
  long chars = 0;
  /* Count lead bytes (not 10xxxxxx continuation bytes): the cut falls before the (max_chars+1)th. */
  for (const unsigned char *p = (const unsigned char *)s; p[len]; len++)
    if ((p[len] & 0xC0) != 0x80 && ++chars > max_chars)
      break;
  char *copy = strndup(s, len);
  /* Callers build field names with snprintf into fixed buffers ("attendance[0].%.32s"), which can cut
   * a multi-byte character of a client's key in half; jansson refuses invalid UTF-8 and the error would
   * be lost (found by tests/fuzz/fuzz_json_body). Keep the valid prefix. */
  for (size_t n = copy ? strlen(copy) : 0; n > 0 && utf8_length(copy) < 0;)
    copy[--n] = '\0';
  return copy;
}

int text_is_uuid(const char *s) {
  if (s == NULL || strlen(s) != 36)
    return 0;
  for (int i = 0; i < 36; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-')
        return 0;
    } else if (!isxdigit((unsigned char)s[i])) {
      return 0;
    }
  }
  return 1;
}

int text_is_email(const char *s) {
  if (s == NULL)
    return 0;
  size_t len = strlen(s);
  if (len < 3 || len > 254)
    return 0;
  const char *at = strchr(s, '@');
  if (at == NULL || at == s || strchr(at + 1, '@') != NULL)
    return 0;
  const char *dot = strrchr(at + 1, '.');
  if (dot == NULL || dot == at + 1 || dot[1] == '\0')
    return 0;
  for (const char *p = s; *p; p++)
    if ((unsigned char)*p <= ' ' || *p == 0x7f)
      return 0;
  return 1;
}

int text_is_slug(const char *s, long min, long max) {
  if (s == NULL)
    return 0;
  long len = (long)strlen(s);
  if (len < min || len > max || len == 0 || s[0] == '-' || s[len - 1] == '-')
    return 0;
  for (long i = 0; i < len; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
      return 0;
    if (c == '-' && s[i + 1] == '-')
      return 0;
  }
  return 1;
}

long utf8_length(const char *s) {
  long n = 0;
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    unsigned c = *p, cp, min;
    size_t extra;
    if (c < 0x80) {
      p++;
      n++;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      extra = 1, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3, min = 0x10000;
    } else {
      return -1;
    }
    cp = c & (0x3Fu >> extra);
    for (size_t i = 1; i <= extra; i++) {
      if ((p[i] & 0xC0) != 0x80)
        return -1; /* also stops at the terminating NUL */
      cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return -1;
    p += extra + 1;
    n++;
  }
  return n;
}

int text_is_choice(const char *s, const char *const *choices) {
  for (; s && choices && *choices; choices++)
    if (strcmp(*choices, s) == 0)
      return 1;
  return 0;
}

int text_has_word(const char *words, const char *word) {
  size_t len = strlen(word);
  for (const char *p = words; p && *p;) {
    size_t n = strcspn(p, " ");
    if (n == len && strncmp(p, word, len) == 0)
      return 1;
    p += n;
    p += strspn(p, " ");
  }
  return 0;
}
