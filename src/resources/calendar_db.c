/* The calendar feed's one statement: the events a caller can see, ready for iCalendar. */
#include "forumnet/calendar_db.h"

#include <stdio.h>

/* Served by events_starts_id (starts_at, id): a range scan from $6 days ago, filtered by visibility.
 * $1..$4 are the caller as event_visible() takes it (a member: id, role, home site; a partner: id);
 * $5 the optional site. Times come out in iCalendar's UTC basic format. */
static const db_stmt calendar_events = {
    "calendar_events",
    "SELECT e.id, e.title, e.description,"
    " to_char(e.starts_at AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"'),"
    " to_char(e.ends_at AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"'),"
    " e.location, e.online_url, e.status, e.revision,"
    " to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"')"
    " FROM events e"
    " WHERE e.starts_at >= now() - make_interval(days => $6::int)"
    "   AND ($5::uuid IS NULL OR e.network_wide"
    "     OR EXISTS (SELECT 1 FROM event_sites es WHERE es.event_id = e.id AND es.site_id = $5::uuid))"
    "   AND event_visible(e.id, e.status, e.network_wide, e.created_by, e.partner_id,"
    "                     $1::uuid, $2::text, $3::uuid, $4::uuid)"
    " ORDER BY e.starts_at, e.id LIMIT $7"};

fn_status calendar_db_events(db_conn *db, const event_caller *caller, const char *site_id, PGresult **result) {
  char days[16], limit[16];
  snprintf(days, sizeof days, "%d", CALENDAR_PAST_DAYS);
  snprintf(limit, sizeof limit, "%d", CALENDAR_MAX_EVENTS);
  const char *member = caller->is_partner ? NULL : caller->id;
  return db_query_rows(db, &calendar_events,
                       DB_ARGS(member, member ? role_to_string(caller->role) : NULL,
                               member && caller->home_site_id[0] ? caller->home_site_id : NULL,
                               caller->is_partner ? caller->id : NULL, site_id, days, limit),
                       result);
}
