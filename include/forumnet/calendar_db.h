#ifndef FORUMNET_CALENDAR_DB_H
#define FORUMNET_CALENDAR_DB_H

#include <libpq-fe.h>

#include "forumnet/db.h"
#include "forumnet/events_db.h"

/* The feed's reach: events starting from this many days ago, at most this many of them. */
#define CALENDAR_PAST_DAYS 30
#define CALENDAR_MAX_EVENTS 1000

/* Columns of calendar_db_events()' rows. Times are UTC in iCalendar's basic format
 * ("20261122T100000Z"); description, location and online_url may be SQL NULL (PQgetvalue reads ""). */
enum calendar_column {
  CALENDAR_ID,
  CALENDAR_TITLE,
  CALENDAR_DESCRIPTION,
  CALENDAR_STARTS,
  CALENDAR_ENDS,
  CALENDAR_LOCATION,
  CALENDAR_URL,
  CALENDAR_STATUS,
  CALENDAR_VERSION,
  CALENDAR_NOW, /* the same on every row: the feed's DTSTAMP */
};

/* The events the caller can see (event_visible(), as GET /v1/events), starting from
 * CALENDAR_PAST_DAYS ago, in (starts_at, id) order, at most CALENDAR_MAX_EVENTS. site_id (may be
 * NULL) keeps network-wide events and those whose audience includes the site.
 * *result: caller PQclear()s. */
fn_status calendar_db_events(db_conn *db, const event_caller *caller, const char *site_id, PGresult **result);

/* The calendar text (RFC 5545) for rows of the calendar_column shape, one VEVENT each with UID
 * "<id>@forumnet" (calendar_http.c). Clears res. Caller frees; NULL when memory ran out. */
char *calendar_ics_take(PGresult *res, size_t *len);

#endif
