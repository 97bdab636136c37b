#ifndef FORUMNET_ICS_H
#define FORUMNET_ICS_H

#include <stddef.h>

#include "forumnet/strbuf.h"

/* RFC 5545 (iCalendar) output, with no database or HTTP in sight so that it can be unit tested:
 * TEXT escaping, content lines folded at 75 octets without splitting a UTF-8 character, CRLF ends. */

/* Longest content line in octets, CRLF excluded (RFC 5545 section 3.1). */
#define ICS_LINE_OCTETS 75

typedef enum ics_status { ICS_CONFIRMED, ICS_TENTATIVE, ICS_CANCELLED } ics_status;

/* One VEVENT. Times are UTC in basic format ("20261122T100000Z"). NULL or empty optional
 * fields (description, location, url) are left out. All strings are borrowed. */
typedef struct ics_event {
  const char *uid;
  const char *dtstamp;
  const char *dtstart, *dtend;
  const char *summary;
  const char *description, *location, *url;
  long sequence;
  ics_status status;
} ics_event;

/* A calendar being written: a strbuf (all zeros is empty). Start with ics_calendar_begin(); end with
 * ics_calendar_finish() or ics_calendar_discard(). An allocation failure is remembered and reported
 * by finish. */
typedef strbuf ics_calendar;

/* Opens VCALENDAR with VERSION, PRODID, CALSCALE and METHOD:PUBLISH. */
void ics_calendar_begin(ics_calendar *cal);

/* Appends one VEVENT. */
void ics_calendar_add_event(ics_calendar *cal, const ics_event *ev);

/* Appends the content line "name:value" (value already in its property's syntax), folded. */
void ics_calendar_add_line(ics_calendar *cal, const char *name, const char *value);

/* Closes VCALENDAR. Returns the text (caller frees; *len its length in octets), or NULL when
 * memory ran out at any point. The calendar is empty afterwards either way. */
char *ics_calendar_finish(ics_calendar *cal, size_t *len);

/* Frees a calendar that will not be finished. */
void ics_calendar_discard(ics_calendar *cal);

/* TEXT value escaping: backslash, semicolon and comma get a backslash, each line break (LF, CRLF or
 * a lone CR) becomes "\n", and other control characters (TAB excepted), which TEXT may not hold,
 * are dropped. Returns a new string (caller frees), or NULL when memory runs out. */
char *ics_escape_text(const char *text);

#endif
