/* RFC 5545 text: the calendar feed's escaping, line folding and VCALENDAR/VEVENT framing. */
#include "forumnet/ics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A CONTROL character in RFC 5545's sense: TEXT and most other values may not hold one (TAB may). */
static int is_control(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

static int is_utf8_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

/* Appends one logical content line, folded: at most 75 octets per physical line, continuations
 * starting with one space (which counts), each ended by CRLF. A fold never falls inside a UTF-8
 * character (a character is at most 4 octets, so it backs up at most 3). */
static void append_folded(ics_calendar *cal, const char *line, size_t n) {
  size_t room = ICS_LINE_OCTETS;
  while (n > room) {
    size_t cut = room;
    for (int back = 0; back < 3 && is_utf8_continuation((unsigned char)line[cut]); back++)
      cut--;
    strbuf_append(cal, line, cut);
    strbuf_append(cal, "\r\n ", 3);
    line += cut;
    n -= cut;
    room = ICS_LINE_OCTETS - 1;
  }
  strbuf_append(cal, line, n);
  strbuf_append(cal, "\r\n", 2);
}

char *ics_escape_text(const char *text) {
  size_t n = strlen(text);
  char *out = malloc(2 * n + 1), *o = out; /* every input octet becomes at most two */
  if (out == NULL)
    return NULL;
  for (const char *p = text; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '\\' || c == ';' || c == ',') {
      *o++ = '\\';
      *o++ = (char)c;
    } else if (c == '\r' || c == '\n') {
      if (c == '\r' && p[1] == '\n')
        p++; /* CRLF is one line break */
      *o++ = '\\';
      *o++ = 'n';
    } else if (!is_control(c)) {
      *o++ = (char)c;
    }
  }
  *o = '\0';
  return out;
}

void ics_calendar_add_line(ics_calendar *cal, const char *name, const char *value) {
  size_t name_len = strlen(name), value_len = strlen(value);
  char *line = malloc(name_len + 1 + value_len + 1);
  if (line == NULL) {
    strbuf_fail(cal);
    return;
  }
  memcpy(line, name, name_len);
  size_t n = name_len;
  line[n++] = ':';
  /* A control character would end the line early (CR, LF) or be invalid: none reach the output. */
  for (size_t i = 0; i < value_len; i++) {
    if (!is_control((unsigned char)value[i]))
      line[n++] = value[i];
  }
  append_folded(cal, line, n);
  free(line);
}

/* A TEXT property, escaped; left out when the value is NULL or empty. */
static void add_text(ics_calendar *cal, const char *name, const char *text) {
  if (text == NULL || text[0] == '\0')
    return;
  char *escaped = ics_escape_text(text);
  if (escaped == NULL) {
    strbuf_fail(cal);
    return;
  }
  ics_calendar_add_line(cal, name, escaped);
  free(escaped);
}

void ics_calendar_begin(ics_calendar *cal) {
  *cal = (ics_calendar)STRBUF_INIT;
  ics_calendar_add_line(cal, "BEGIN", "VCALENDAR");
  ics_calendar_add_line(cal, "VERSION", "2.0");
  ics_calendar_add_line(cal, "PRODID", "-//forumnet//forumnet 0.1//EN");
  ics_calendar_add_line(cal, "CALSCALE", "GREGORIAN");
  ics_calendar_add_line(cal, "METHOD", "PUBLISH");
}

/* STATUS values by ics_status (RFC 5545 3.8.1.11). */
static const char *const status_names[] = {
    [ICS_CONFIRMED] = "CONFIRMED", [ICS_TENTATIVE] = "TENTATIVE", [ICS_CANCELLED] = "CANCELLED"};

void ics_calendar_add_event(ics_calendar *cal, const ics_event *ev) {
  char sequence[24];
  snprintf(sequence, sizeof sequence, "%ld", ev->sequence);
  ics_calendar_add_line(cal, "BEGIN", "VEVENT");
  ics_calendar_add_line(cal, "UID", ev->uid);
  ics_calendar_add_line(cal, "DTSTAMP", ev->dtstamp);
  ics_calendar_add_line(cal, "DTSTART", ev->dtstart);
  ics_calendar_add_line(cal, "DTEND", ev->dtend);
  ics_calendar_add_line(cal, "SEQUENCE", sequence);
  ics_calendar_add_line(cal, "STATUS", status_names[ev->status]);
  add_text(cal, "SUMMARY", ev->summary);
  add_text(cal, "DESCRIPTION", ev->description);
  add_text(cal, "LOCATION", ev->location);
  if (ev->url != NULL && ev->url[0] != '\0')
    ics_calendar_add_line(cal, "URL", ev->url); /* a URI value: not TEXT, so not escaped */
  ics_calendar_add_line(cal, "END", "VEVENT");
}

char *ics_calendar_finish(ics_calendar *cal, size_t *len) {
  ics_calendar_add_line(cal, "END", "VCALENDAR");
  return strbuf_finish(cal, len);
}

void ics_calendar_discard(ics_calendar *cal) { strbuf_free(cal); }
