/*
 * harness_ics.c — reading an iCalendar (RFC 5545) answer twice over: by a real parser (Debian's
 * python3-icalendar, run through popen; FORUMNET_TEST_PYTHON names another interpreter) and by a strict
 * reader (CRLF line ends, lines of at most 75 octets folded between UTF-8 characters, TEXT escaping).
 * Used by e2e_calendar.c (/v1/events.ics) and e2e_calendar_feeds.c (/v1/calendar/{token}.ics).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- the real parser */

static const char *const PY_SCRIPT =
    "import json, sys\n"
    "from datetime import timezone\n"
    "try:\n"
    "    from icalendar import Calendar\n"
    "except ImportError:\n"
    "    sys.stderr.write('NO_ICALENDAR\\n')\n"
    "    sys.exit(3)\n"
    "cal = Calendar.from_ical(open(sys.argv[1], 'rb').read())\n"
    "def text(c, k):\n"
    "    v = c.get(k)\n"
    "    return None if v is None else str(v)\n"
    "def when(c, k):\n"
    "    v = c.get(k)\n"
    "    if v is None:\n"
    "        return None\n"
    "    dt = v.dt\n"
    "    if getattr(dt, 'tzinfo', None) is None:\n"
    "        return 'not-utc:' + dt.isoformat()\n"
    "    return dt.astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')\n"
    "out = {'name': cal.name, 'version': text(cal, 'VERSION'), 'prodid': text(cal, 'PRODID'),\n"
    "       'errors': [str(x) for x in getattr(cal, 'errors', [])], 'events': []}\n"
    "for e in cal.walk('VEVENT'):\n"
    "    out['errors'] += [str(x) for x in getattr(e, 'errors', [])]\n"
    "    seq = e.get('SEQUENCE')\n"
    "    out['events'].append({'uid': text(e, 'UID'), 'summary': text(e, 'SUMMARY'),\n"
    "        'description': text(e, 'DESCRIPTION'), 'location': text(e, 'LOCATION'), 'url': text(e, 'URL'),\n"
    "        'status': text(e, 'STATUS'), 'sequence': None if seq is None else int(seq),\n"
    "        'dtstart': when(e, 'DTSTART'), 'dtend': when(e, 'DTEND'), 'dtstamp': when(e, 'DTSTAMP')})\n"
    "sys.stdout.write(json.dumps(out, ensure_ascii=True))\n";

static void write_file(const char *path, const char *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
    harness_fail("cannot write %s", path);
}

/* Parses an iCalendar body with python3-icalendar; returns {"name","version","prodid","errors",
 * "events":[{"uid","summary","description","location","url","status","sequence","dtstart",
 * "dtend","dtstamp"}]} (new reference).  Fails the test if the parser fails or is missing. */
json_t *harness_icalendar_parse(const char *body, size_t len) {
  const char *python = getenv("FORUMNET_TEST_PYTHON");
  if (!python || !*python)
    python = "/usr/bin/python3";
  char script[] = "/tmp/e2e-ical-XXXXXX.py";
  char ics[] = "/tmp/e2e-ical-XXXXXX.ics";
  int fd = mkstemps(script, 3);
  if (fd < 0)
    harness_fail("mkstemps failed");
  close(fd);
  fd = mkstemps(ics, 4);
  if (fd < 0)
    harness_fail("mkstemps failed");
  close(fd);
  write_file(script, PY_SCRIPT, strlen(PY_SCRIPT));
  write_file(ics, body, len);
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' 2>&1", python, script, ics);
  FILE *p = popen(cmd, "r");
  if (!p)
    harness_fail("popen %s failed", cmd);
  size_t cap = 1 << 16, n = 0;
  char *out = malloc(cap);
  size_t got;
  while ((got = fread(out + n, 1, cap - n - 1, p)) > 0) {
    n += got;
    if (n + 1 >= cap)
      out = realloc(out, cap *= 2);
  }
  out[n] = '\0';
  int status = pclose(p);
  unlink(script);
  if (status != 0) {
    if (strstr(out, "NO_ICALENDAR") || strstr(out, "No such file"))
      harness_fail("%s cannot import icalendar: install Debian's python3-icalendar (apt-get install "
                   "python3-icalendar) or set FORUMNET_TEST_PYTHON\n%s",
                   python, out);
    harness_fail("the iCalendar parser rejected the feed (kept in %s):\n%s", ics, out);
  }
  json_error_t err;
  json_t *doc = json_loads(out, 0, &err);
  if (!doc)
    harness_fail("the parser's output is not JSON (%s): %s", err.text, out);
  if (json_array_size(json_object_get(doc, "errors")) > 0)
    harness_fail("the iCalendar parser reported errors (feed kept in %s): %s", ics, out);
  unlink(ics);
  free(out);
  return doc;
}

/* ---------------------------------------------------------------- the strict reader */

static bool valid_utf8(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || (len == 2 && c < 0xC2) || i + len > n)
      return false;
    for (size_t k = 1; k < len; k++)
      if ((s[i + k] & 0xC0) != 0x80)
        return false;
    i += len;
  }
  return true;
}

/* The physical form: CRLF only, at most 75 octets a line, every line whole UTF-8, folds
 * introduced by one space or tab, framed by BEGIN/END:VCALENDAR. */
void harness_assert_rfc5545_form(const http_response *r) {
  const char *ct = http_header(r, "Content-Type");
  if (!ct || strncmp(ct, "text/calendar", 13) != 0 || !strstr(ct, "charset=utf-8"))
    harness_fail("Content-Type should be text/calendar; charset=utf-8, is %s", ct ? ct : "(none)");
  const char *b = r->body;
  size_t n = r->body_len;
  if (n < 30 || strncmp(b, "BEGIN:VCALENDAR\r\n", 17) != 0 || strcmp(b + n - 15, "END:VCALENDAR\r\n") != 0)
    harness_fail("the feed is not framed by BEGIN:VCALENDAR / END:VCALENDAR with CRLF:\n%s", b);
  size_t start = 0, line_no = 1;
  for (size_t i = 0; i < n; i++) {
    if (b[i] == '\0')
      harness_fail("NUL octet at %zu", i);
    if (b[i] == '\r' && (i + 1 >= n || b[i + 1] != '\n'))
      harness_fail("line %zu: bare CR", line_no);
    if (b[i] == '\n' && (i == 0 || b[i - 1] != '\r'))
      harness_fail("line %zu: bare LF (lines must end with CRLF)", line_no);
    if (b[i] == '\n') {
      size_t len = i - 1 - start; /* without CRLF */
      if (len > 75)
        harness_fail("line %zu is %zu octets (at most 75): %.*s", line_no, len, (int)len, b + start);
      if (len == 0)
        harness_fail("line %zu is empty", line_no);
      if (!valid_utf8((const unsigned char *)b + start, len))
        harness_fail("line %zu is not whole UTF-8 (a fold split a character?): %.*s", line_no, (int)len, b + start);
      start = i + 1;
      line_no++;
    }
  }
}

/* RFC 5545 TEXT: \\ \; \, \n \N are the only escapes; a bare , or ; would be a list separator. */
static char *unescape_text(const char *v, const char *prop) {
  char *out = malloc(strlen(v) + 1), *o = out;
  for (const char *p = v; *p; p++) {
    if (*p == '\\') {
      p++;
      if (*p == '\\' || *p == ';' || *p == ',')
        *o++ = *p;
      else if (*p == 'n' || *p == 'N')
        *o++ = '\n';
      else
        harness_fail("%s: invalid escape \\%c in %s", prop, *p ? *p : '0', v);
    } else if (*p == ',' || *p == ';') {
      harness_fail("%s: unescaped '%c' in TEXT value %s", prop, *p, v);
    } else {
      *o++ = *p;
    }
  }
  *o = '\0';
  return out;
}

/* Unfolds and reads the feed: {"calendar": {PROP: value}, "events": [{PROP: value}]} with TEXT
 * properties (SUMMARY, DESCRIPTION, LOCATION) unescaped.  New reference. */
json_t *harness_ics_strict_parse(const char *body, size_t n) {
  char *u = malloc(n + 1);
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    if (body[i] == '\r' && i + 2 < n && body[i + 1] == '\n' && (body[i + 2] == ' ' || body[i + 2] == '\t')) {
      i += 2;
      continue;
    }
    u[m++] = body[i];
  }
  u[m] = '\0';
  json_t *doc = json_pack("{s:{}, s:[]}", "calendar", "events");
  json_t *cur = NULL;
  int depth = 0;
  char *save = NULL;
  for (char *line = strtok_r(u, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
    char *colon = strchr(line, ':');
    if (!colon)
      harness_fail("content line without ':': %s", line);
    *colon = '\0';
    const char *value = colon + 1;
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(line, ";"), line);
    if (strcmp(name, "BEGIN") == 0) {
      depth++;
      if (strcmp(value, "VEVENT") == 0) {
        if (cur)
          harness_fail("nested VEVENT");
        cur = json_object();
      }
      continue;
    }
    if (strcmp(name, "END") == 0) {
      depth--;
      if (strcmp(value, "VEVENT") == 0) {
        json_array_append_new(json_object_get(doc, "events"), cur);
        cur = NULL;
      }
      continue;
    }
    json_t *target = cur ? cur : json_object_get(doc, "calendar");
    if (json_object_get(target, name))
      harness_fail("property %s appears twice in one component", name);
    if (strcmp(name, "SUMMARY") == 0 || strcmp(name, "DESCRIPTION") == 0 || strcmp(name, "LOCATION") == 0) {
      char *t = unescape_text(value, name);
      json_object_set_new(target, name, json_string(t));
      if (!json_object_get(target, name))
        harness_fail("%s is not valid UTF-8 after unfolding", name);
      free(t);
    } else {
      json_object_set_new(target, name, json_string(value));
    }
  }
  if (depth != 0 || cur)
    harness_fail("unbalanced BEGIN/END in the feed");
  free(u);
  return doc;
}
