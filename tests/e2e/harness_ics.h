/*
 * harness_ics.h — iCalendar (RFC 5545) answers read by a real parser and by a strict reader
 * (harness_ics.c).  Part of harness.h.
 */
#ifndef FORUMNET_E2E_HARNESS_ICS_H
#define FORUMNET_E2E_HARNESS_ICS_H

#include <jansson.h>
#include <stddef.h>

#include "harness_http.h"

/* Parses an iCalendar body with python3-icalendar; returns {"name","version","prodid","errors",
 * "events":[{"uid","summary","description","location","url","status","sequence","dtstart",
 * "dtend","dtstamp"}]} (new reference).  Fails the test if the parser fails, is missing, or reports
 * errors. */
json_t *harness_icalendar_parse(const char *body, size_t len);

/* The physical form of a text/calendar answer: Content-Type text/calendar; charset=utf-8, CRLF only,
 * at most 75 octets a line, every line whole UTF-8, framed by BEGIN/END:VCALENDAR. */
void harness_assert_rfc5545_form(const http_response *r);

/* Unfolds and reads the feed strictly: {"calendar": {PROP: value}, "events": [{PROP: value}]} with TEXT
 * properties (SUMMARY, DESCRIPTION, LOCATION) unescaped; fails the test on a bad escape or an unbalanced
 * BEGIN/END.  New reference. */
json_t *harness_ics_strict_parse(const char *body, size_t n);

#endif
