/* fuzz_ics: the iCalendar writer (include/forumnet/ics.h, src/resources/ics.c).
 *
 * Input: a first byte (status, sequence), then summary, description, location, url and uid
 * separated by NUL bytes. One VEVENT is written and the calendar finished. Invariants:
 * - every physical line ends with CRLF, no other CR or LF appears, none is longer than 75 octets;
 * - unfolding (removing each CRLF + space) gives exactly the expected content lines: the frame,
 *   the event's fixed properties, and each TEXT value escaped as RFC 5545 says (restated here),
 *   URL and UID with control characters removed, empty optional properties left out;
 * - ics_escape_text equals the restatement, and unescaping it gives the input with line breaks
 *   normalised and other control characters dropped;
 * - when the inputs are valid UTF-8 so is the output, and no fold splits a character (each
 *   physical line is valid UTF-8 on its own). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/ics.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  return 0;
}

static int control(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

/* RFC 5545 3.3.11 TEXT, restated. Caller frees. */
static char *escape_restated(const char *s) {
  char *out = malloc(2 * strlen(s) + 1), *o = out;
  FUZZ_CHECK(out != NULL, "out of memory");
  for (const char *p = s; *p; p++) {
    if (*p == '\\' || *p == ';' || *p == ',') {
      *o++ = '\\';
      *o++ = *p;
    } else if (*p == '\r' && p[1] == '\n') {
      *o++ = '\\';
      *o++ = 'n';
      p++;
    } else if (*p == '\r' || *p == '\n') {
      *o++ = '\\';
      *o++ = 'n';
    } else if (!control((unsigned char)*p)) {
      *o++ = *p;
    }
  }
  *o = '\0';
  return out;
}

/* Undoes TEXT escaping: 1 and the text in out (as long as s), or 0 on a stray backslash. */
static int unescape(const char *s, char *out) {
  for (; *s; s++) {
    if (*s != '\\') {
      *out++ = *s;
      continue;
    }
    s++;
    if (*s == 'n' || *s == 'N')
      *out++ = '\n';
    else if (*s == '\\' || *s == ';' || *s == ',')
      *out++ = *s;
    else
      return 0;
  }
  *out = '\0';
  return 1;
}

/* s with CRLF and lone CR turned into LF and other control characters dropped. */
static void normalised(const char *s, char *out) {
  for (; *s; s++) {
    if (*s == '\r') {
      *out++ = '\n';
      if (s[1] == '\n')
        s++;
    } else if (*s == '\n' || !control((unsigned char)*s)) {
      *out++ = *s;
    }
  }
  *out = '\0';
}

static char *without_controls(const char *s) {
  char *out = malloc(strlen(s) + 1), *o = out;
  FUZZ_CHECK(out != NULL, "out of memory");
  for (; *s; s++)
    if (!control((unsigned char)*s))
      *o++ = *s;
  *o = '\0';
  return out;
}

typedef struct text {
  char *data;
  size_t len, cap;
} text;

static void add(text *t, const char *name, const char *value) {
  size_t n = strlen(name) + strlen(value) + 3;
  if (t->len + n + 1 > t->cap) {
    t->cap = (t->len + n + 1) * 2;
    t->data = realloc(t->data, t->cap);
    FUZZ_CHECK(t->data != NULL, "out of memory");
  }
  t->len += (size_t)sprintf(t->data + t->len, "%s:%s\r\n", name, value);
}

static void check_escape(const char *s) {
  char *escaped = ics_escape_text(s), *want = escape_restated(s);
  FUZZ_CHECK(escaped != NULL && strcmp(escaped, want) == 0, "ics_escape_text differs from RFC 5545 TEXT escaping");
  char *back = malloc(strlen(escaped) + 1), *norm = malloc(strlen(s) + 1);
  FUZZ_CHECK(back && norm, "out of memory");
  normalised(s, norm);
  FUZZ_CHECK(unescape(escaped, back) && strcmp(back, norm) == 0, "unescaping ics_escape_text does not give the text");
  free(escaped);
  free(want);
  free(back);
  free(norm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  char *copy = fuzz_strndup(data + 1, size - 1);
  /* Up to five NUL-separated fields; missing ones are empty. */
  const char *fields[5] = {"", "", "", "", ""};
  char *p = copy, *end = copy + (size - 1);
  for (int i = 0; i < 5 && p <= end; i++) {
    fields[i] = p;
    p += strlen(p) + 1;
  }
  int utf8 = fuzz_utf8_valid(copy, size - 1);

  for (int i = 0; i < 5; i++)
    check_escape(fields[i]);

  ics_event ev = {.uid = fields[4][0] ? fields[4] : "3f2b8c1e-9d4a-4e7b-8c6f-1a2b3c4d5e6f@forumnet",
                  .dtstamp = "20261122T100000Z",
                  .dtstart = "20261201T100000Z",
                  .dtend = "20261201T113000Z",
                  .summary = fields[0],
                  .description = fields[1],
                  .location = fields[2],
                  .url = fields[3],
                  .sequence = (long)(data[0] >> 2) - 3,
                  .status = (ics_status)(data[0] % 3)};
  ics_calendar cal;
  ics_calendar_begin(&cal);
  ics_calendar_add_event(&cal, &ev);
  size_t len = 0;
  char *out = ics_calendar_finish(&cal, &len);
  FUZZ_CHECK(out != NULL, "ics_calendar_finish failed");
  FUZZ_CHECK(strlen(out) == len, "output length %zu, strlen %zu", len, strlen(out));

  /* Physical lines. */
  size_t line_start = 0;
  for (size_t i = 0; i < len; i++) {
    if (out[i] == '\r') {
      FUZZ_CHECK(i + 1 < len && out[i + 1] == '\n', "a CR not followed by LF at %zu", i);
      size_t line_len = i - line_start;
      FUZZ_CHECK(line_len <= ICS_LINE_OCTETS, "a line of %zu octets", line_len);
      if (utf8) {
        size_t skip = line_start > 0 && out[line_start] == ' ' ? 1 : 0;
        FUZZ_CHECK(fuzz_utf8_valid(out + line_start + skip, line_len - skip), "a fold splits a UTF-8 character");
      }
      i++;
      line_start = i + 1;
    } else {
      FUZZ_CHECK(out[i] != '\n', "a bare LF at %zu", i);
    }
  }
  FUZZ_CHECK(line_start == len, "the output does not end with CRLF");
  if (utf8)
    FUZZ_CHECK(fuzz_utf8_valid(out, len), "valid UTF-8 in, invalid UTF-8 out");

  /* Logical lines: unfold and compare with what the event should give. */
  char *unfolded = malloc(len + 1);
  size_t u = 0;
  FUZZ_CHECK(unfolded != NULL, "out of memory");
  for (size_t i = 0; i < len; i++) {
    if (out[i] == '\r' && i + 2 < len && out[i + 2] == ' ') {
      i += 2;
      continue;
    }
    unfolded[u++] = out[i];
  }
  unfolded[u] = '\0';

  static const char *const status_names[] = {"CONFIRMED", "TENTATIVE", "CANCELLED"};
  char sequence[24];
  snprintf(sequence, sizeof sequence, "%ld", ev.sequence);
  text want = {NULL, 0, 0};
  char *uid = without_controls(ev.uid), *url = without_controls(ev.url);
  add(&want, "BEGIN", "VCALENDAR");
  add(&want, "VERSION", "2.0");
  add(&want, "PRODID", "-//forumnet//forumnet 0.1//EN");
  add(&want, "CALSCALE", "GREGORIAN");
  add(&want, "METHOD", "PUBLISH");
  add(&want, "BEGIN", "VEVENT");
  add(&want, "UID", uid);
  add(&want, "DTSTAMP", ev.dtstamp);
  add(&want, "DTSTART", ev.dtstart);
  add(&want, "DTEND", ev.dtend);
  add(&want, "SEQUENCE", sequence);
  add(&want, "STATUS", status_names[ev.status]);
  const char *text_names[] = {"SUMMARY", "DESCRIPTION", "LOCATION"};
  for (int i = 0; i < 3; i++) {
    if (fields[i][0] == '\0')
      continue;
    char *escaped = escape_restated(fields[i]);
    add(&want, text_names[i], escaped);
    free(escaped);
  }
  if (ev.url[0] != '\0')
    add(&want, "URL", url);
  add(&want, "END", "VEVENT");
  add(&want, "END", "VCALENDAR");
  FUZZ_CHECK(strcmp(unfolded, want.data) == 0, "unfolded calendar differs from the expected content lines");

  free(want.data);
  free(uid);
  free(url);
  free(unfolded);
  free(out);
  free(copy);
  return 0;
}
