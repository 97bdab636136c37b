/* Unit tests for src/resources/ics.c: RFC 5545 TEXT escaping, content lines folded at 75 octets
 * without splitting a UTF-8 character (CRLF + one space), CRLF line ends, and the VCALENDAR/VEVENT
 * framing with empty optional fields left out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "forumnet/body.h"
#include "forumnet/ics.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

/* ---- helpers ---- */

static void assert_escaped(const char *in, const char *expected) {
  char *out = ics_escape_text(in);
  assert_non_null(out);
  assert_string_equal(out, expected);
  free(out);
}

/* The calendar text of one content line "name:value" (between BEGIN and END lines). */
static char *one_line(const char *name, const char *value, size_t *len) {
  ics_calendar cal;
  memset(&cal, 0, sizeof cal);
  ics_calendar_add_line(&cal, name, value);
  assert_false(cal.failed);
  *len = cal.len;
  char *text = strndup(cal.data, cal.len);
  ics_calendar_discard(&cal);
  assert_non_null(text);
  return text;
}

/* Every physical line ends in CRLF, holds at most 75 octets and is valid UTF-8 on its own (so no fold
 * split a character). With one_content_line, every line after the first starts with one space. */
static void assert_well_folded(const char *text, size_t len, int one_content_line) {
  size_t start = 0;
  int first = 1;
  while (start < len) {
    const char *crlf = strstr(text + start, "\r\n");
    assert_non_null(crlf);
    size_t line_len = (size_t)(crlf - (text + start));
    if (line_len > ICS_LINE_OCTETS)
      fail_msg("line of %zu octets: %.*s", line_len, (int)line_len, text + start);
    char *line = strndup(text + start, line_len);
    assert_non_null(line);
    if (utf8_length(line) < 0)
      fail_msg("line splits a UTF-8 character: %s", line);
    assert_null(strchr(line, '\r'));
    assert_null(strchr(line, '\n'));
    if (one_content_line && !first)
      assert_true(line[0] == ' ' && line[1] != ' ');
    free(line);
    first = 0;
    start += line_len + 2;
  }
  assert_int_equal(start, len);
}

/* Undoes folding: CRLF followed by one space disappears (RFC 5545 section 3.1). */
static char *unfold(const char *text) {
  char *out = malloc(strlen(text) + 1), *o = out;
  assert_non_null(out);
  for (const char *p = text; *p;) {
    if (p[0] == '\r' && p[1] == '\n' && p[2] == ' ') {
      p += 3;
      continue;
    }
    *o++ = *p++;
  }
  *o = '\0';
  return out;
}

/* Folds "name:value" and checks the physical lines and that unfolding gives the line back. */
static void assert_folds_back(const char *name, const char *value) {
  size_t len = 0;
  char *text = one_line(name, value, &len);
  assert_well_folded(text, len, 1);
  char *unfolded = unfold(text);
  char expected[4096];
  snprintf(expected, sizeof expected, "%s:%s\r\n", name, value);
  assert_string_equal(unfolded, expected);
  free(unfolded);
  free(text);
}

static char *repeat(const char *unit, size_t times) {
  size_t n = strlen(unit);
  char *s = malloc(n * times + 1);
  assert_non_null(s);
  for (size_t i = 0; i < times; i++)
    memcpy(s + i * n, unit, n);
  s[n * times] = '\0';
  return s;
}

/* A whole calendar with one event. */
static char *calendar_with(const ics_event *ev, size_t *len) {
  ics_calendar cal;
  ics_calendar_begin(&cal);
  ics_calendar_add_event(&cal, ev);
  char *text = ics_calendar_finish(&cal, len);
  assert_non_null(text);
  assert_int_equal(strlen(text), *len);
  return text;
}

static const ics_event base_event = {
    .uid = "7d3c2a58-4f0e-4a57-9b6e-2f1c0c7a9e10@forumnet",
    .dtstamp = "20261101T090000Z",
    .dtstart = "20261122T100000Z",
    .dtend = "20261122T120000Z",
    .summary = "Reflective practice forum",
    .sequence = 3,
    .status = ICS_CONFIRMED,
};

/* ---- escaping ---- */

static void test_escape_specials(void **state) {
  (void)state;
  assert_escaped("plain text", "plain text");
  assert_escaped("a\\b", "a\\\\b");
  assert_escaped("a;b", "a\\;b");
  assert_escaped("a,b", "a\\,b");
  assert_escaped("\\;,", "\\\\\\;\\,");
  assert_escaped("colon: and \"quotes\" stay", "colon: and \"quotes\" stay");
  assert_escaped("", "");
}

static void test_escape_line_breaks(void **state) {
  (void)state;
  assert_escaped("one\ntwo", "one\\ntwo");
  assert_escaped("one\r\ntwo", "one\\ntwo"); /* CRLF is one break, not two */
  assert_escaped("one\rtwo", "one\\ntwo");
  assert_escaped("a\n\nb", "a\\n\\nb");
  assert_escaped("a\r\n\r\nb", "a\\n\\nb");
  assert_escaped("end\n", "end\\n");
}

static void test_escape_drops_controls_keeps_tab_and_utf8(void **state) {
  (void)state;
  assert_escaped("a\tb", "a\tb");
  assert_escaped("a\x01"
                 "b\x7f"
                 "c\x1b",
                 "abc");
  assert_escaped("Café, Zürich; € 5 \xF0\x9F\x98\x80", "Café\\, Zürich\\; € 5 \xF0\x9F\x98\x80");
}

/* ---- folding ---- */

static void test_short_line_not_folded(void **state) {
  (void)state;
  size_t len = 0;
  char *text = one_line("SUMMARY", "Hello", &len);
  assert_string_equal(text, "SUMMARY:Hello\r\n");
  free(text);
}

static void test_exactly_75_octets_not_folded(void **state) {
  (void)state;
  char *value = repeat("x", 75 - 8); /* "SUMMARY:" is 8 octets */
  size_t len = 0;
  char *text = one_line("SUMMARY", value, &len);
  assert_int_equal(len, 75 + 2);
  assert_null(strstr(text, "\r\n "));
  free(text);
  free(value);
}

static void test_76_octets_folded_once(void **state) {
  (void)state;
  char *value = repeat("x", 76 - 8);
  size_t len = 0;
  char *text = one_line("SUMMARY", value, &len);
  /* 75 octets, CRLF, then the 76th after one space. */
  assert_int_equal(len, 75 + 2 + 1 + 1 + 2);
  assert_memory_equal(text + 75, "\r\n x\r\n", 6);
  free(text);
  free(value);
}

/* A two-octet character whose first octet is the 75th: the fold moves before it. */
static void test_fold_before_multibyte_at_boundary(void **state) {
  (void)state;
  char *ascii = repeat("x", 74 - 8), value[256];
  snprintf(value, sizeof value, "%s\xC3\xA9tail", ascii); /* é = C3 A9 at octets 75 and 76 */
  size_t len = 0;
  char *text = one_line("SUMMARY", value, &len);
  const char *fold = strstr(text, "\r\n ");
  assert_non_null(fold);
  assert_int_equal(fold - text, 74); /* the first line stops short: 74 octets */
  assert_memory_equal(fold + 3, "\xC3\xA9tail\r\n", 8);
  assert_well_folded(text, len, 1);
  free(text);
  free(ascii);
}

/* A character that ends exactly at octet 75 stays on the first line. */
static void test_multibyte_ending_at_boundary_stays(void **state) {
  (void)state;
  char *ascii = repeat("x", 73 - 8), value[256];
  snprintf(value, sizeof value, "%s\xC3\xA9y", ascii); /* é at octets 74 and 75 */
  size_t len = 0;
  char *text = one_line("SUMMARY", value, &len);
  assert_int_equal(strstr(text, "\r\n ") - text, 75);
  assert_memory_equal(text + 73, "\xC3\xA9\r\n y\r\n", 8);
  free(text);
  free(ascii);
}

/* Three- and four-octet characters straddling the boundary at every offset. */
static void test_fold_never_splits_wide_characters(void **state) {
  (void)state;
  const char *wide[] = {"\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xC3\xA9"}; /* €, 😀, é */
  for (size_t w = 0; w < 3; w++) {
    for (size_t pad = 60; pad < 75; pad++) {
      char *ascii = repeat("a", pad - 8), value[512];
      snprintf(value, sizeof value, "%s%s%s%s", ascii, wide[w], wide[w], wide[w]);
      assert_folds_back("SUMMARY", value);
      free(ascii);
    }
  }
}

static void test_long_lines_fold_many_times(void **state) {
  (void)state;
  char *ascii = repeat("0123456789", 100); /* 1000 octets */
  assert_folds_back("DESCRIPTION", ascii);
  size_t len = 0;
  char *text = one_line("DESCRIPTION", ascii, &len);
  /* "DESCRIPTION:" + 1000 = 1012 octets: 75 on the first line, then 74 per continuation line. */
  size_t folds = 0;
  for (const char *p = text; (p = strstr(p, "\r\n ")) != NULL; p += 3)
    folds++;
  assert_int_equal(folds, (1012 - 75 + 73) / 74);
  free(text);
  free(ascii);

  char *accents = repeat("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80x", 100); /* 1000 octets of mixed widths */
  assert_folds_back("DESCRIPTION", accents);
  free(accents);
}

static void test_add_line_drops_line_breaks(void **state) {
  (void)state;
  size_t len = 0;
  char *text = one_line("URL", "https://example.org/a\r\nX-INJECTED:1", &len);
  assert_string_equal(text, "URL:https://example.org/aX-INJECTED:1\r\n");
  free(text);
}

/* ---- calendar framing ---- */

static void test_calendar_frame_and_event(void **state) {
  (void)state;
  ics_event ev = base_event;
  ev.description = "Line one\nLine two; with, punctuation";
  ev.location = "Room 2, Main Building";
  ev.url = "https://example.org/events/1?a=1,b=2";
  size_t len = 0;
  char *text = calendar_with(&ev, &len);
  assert_string_equal(text, "BEGIN:VCALENDAR\r\n"
                            "VERSION:2.0\r\n"
                            "PRODID:-//forumnet//forumnet 0.1//EN\r\n"
                            "CALSCALE:GREGORIAN\r\n"
                            "METHOD:PUBLISH\r\n"
                            "BEGIN:VEVENT\r\n"
                            "UID:7d3c2a58-4f0e-4a57-9b6e-2f1c0c7a9e10@forumnet\r\n"
                            "DTSTAMP:20261101T090000Z\r\n"
                            "DTSTART:20261122T100000Z\r\n"
                            "DTEND:20261122T120000Z\r\n"
                            "SEQUENCE:3\r\n"
                            "STATUS:CONFIRMED\r\n"
                            "SUMMARY:Reflective practice forum\r\n"
                            "DESCRIPTION:Line one\\nLine two\\; with\\, punctuation\r\n"
                            "LOCATION:Room 2\\, Main Building\r\n"
                            "URL:https://example.org/events/1?a=1,b=2\r\n"
                            "END:VEVENT\r\n"
                            "END:VCALENDAR\r\n");
  assert_well_folded(text, len, 0);
  free(text);
}

static void test_empty_optional_fields_omitted(void **state) {
  (void)state;
  ics_event ev = base_event;
  ev.description = NULL;
  ev.location = "";
  ev.url = NULL;
  size_t len = 0;
  char *text = calendar_with(&ev, &len);
  assert_null(strstr(text, "DESCRIPTION"));
  assert_null(strstr(text, "LOCATION"));
  assert_null(strstr(text, "URL"));
  assert_non_null(strstr(text, "\r\nSUMMARY:Reflective practice forum\r\nEND:VEVENT\r\n"));
  free(text);

  ev.description = "";
  ev.location = NULL;
  ev.url = "";
  text = calendar_with(&ev, &len);
  assert_null(strstr(text, "DESCRIPTION"));
  assert_null(strstr(text, "URL"));
  free(text);
}

static void test_statuses(void **state) {
  (void)state;
  const struct {
    ics_status status;
    const char *line;
  } cases[] = {
      {ICS_CONFIRMED, "\r\nSTATUS:CONFIRMED\r\n"},
      {ICS_TENTATIVE, "\r\nSTATUS:TENTATIVE\r\n"},
      {ICS_CANCELLED, "\r\nSTATUS:CANCELLED\r\n"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ics_event ev = base_event;
    ev.status = cases[i].status;
    size_t len = 0;
    char *text = calendar_with(&ev, &len);
    assert_non_null(strstr(text, cases[i].line));
    free(text);
  }
}

/* Every LF of the output is part of a CRLF, with long multibyte text in every TEXT field. */
static void test_crlf_only_with_long_fields(void **state) {
  (void)state;
  char *long_text = repeat("Zürich, été; \\ \r\n€ ", 40);
  ics_event ev = base_event;
  ev.summary = long_text;
  ev.description = long_text;
  ev.location = "Salle \xC3\xA9t\xC3\xA9";
  size_t len = 0;
  char *text = calendar_with(&ev, &len);
  for (size_t i = 0; i < len; i++) {
    if (text[i] == '\n')
      assert_true(i > 0 && text[i - 1] == '\r');
    if (text[i] == '\r')
      assert_true(text[i + 1] == '\n');
  }
  assert_well_folded(text, len, 0);
  char *unfolded = unfold(text);
  char *escaped = ics_escape_text(long_text);
  char expected[8192];
  snprintf(expected, sizeof expected, "\r\nSUMMARY:%s\r\nDESCRIPTION:%s\r\n", escaped, escaped);
  assert_non_null(strstr(unfolded, expected));
  free(escaped);
  free(unfolded);
  free(text);
  free(long_text);
}

static void test_empty_calendar(void **state) {
  (void)state;
  ics_calendar cal;
  ics_calendar_begin(&cal);
  size_t len = 0;
  char *text = ics_calendar_finish(&cal, &len);
  assert_non_null(text);
  assert_string_equal(text, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//forumnet//forumnet 0.1//EN\r\n"
                            "CALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\nEND:VCALENDAR\r\n");
  assert_null(cal.data); /* finish hands the buffer over */
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_escape_specials),
      cmocka_unit_test(test_escape_line_breaks),
      cmocka_unit_test(test_escape_drops_controls_keeps_tab_and_utf8),
      cmocka_unit_test(test_short_line_not_folded),
      cmocka_unit_test(test_exactly_75_octets_not_folded),
      cmocka_unit_test(test_76_octets_folded_once),
      cmocka_unit_test(test_fold_before_multibyte_at_boundary),
      cmocka_unit_test(test_multibyte_ending_at_boundary_stays),
      cmocka_unit_test(test_fold_never_splits_wide_characters),
      cmocka_unit_test(test_long_lines_fold_many_times),
      cmocka_unit_test(test_add_line_drops_line_breaks),
      cmocka_unit_test(test_calendar_frame_and_event),
      cmocka_unit_test(test_empty_optional_fields_omitted),
      cmocka_unit_test(test_statuses),
      cmocka_unit_test(test_crlf_only_with_long_fields),
      cmocka_unit_test(test_empty_calendar),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
