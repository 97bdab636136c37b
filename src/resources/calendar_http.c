/* /v1/events.ics: the events a caller can see as an RFC 5545 calendar feed (API.md section 7). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/calendar_db.h"
#include "forumnet/events_db.h"
#include "forumnet/http.h"
#include "forumnet/ics.h"
#include "forumnet/routes.h"
#include "forumnet/text.h"

static ics_status event_ics_status(const char *status) {
  if (strcmp(status, "cancelled") == 0)
    return ICS_CANCELLED;
  return strcmp(status, "pending") == 0 ? ICS_TENTATIVE : ICS_CONFIRMED;
}

char *calendar_ics_take(PGresult *res, size_t *len) {
  ics_calendar cal;
  ics_calendar_begin(&cal);
  for (int i = 0; i < PQntuples(res); i++) {
    char uid[64];
    /* Stable across fetches and edits: the event's id; SEQUENCE (its content revision, which
     * registrations do not move) tells the change. */
    snprintf(uid, sizeof uid, "%s@forumnet", PQgetvalue(res, i, CALENDAR_ID));
    ics_event ev = {
        .uid = uid,
        .dtstamp = PQgetvalue(res, i, CALENDAR_NOW),
        .dtstart = PQgetvalue(res, i, CALENDAR_STARTS),
        .dtend = PQgetvalue(res, i, CALENDAR_ENDS),
        .summary = PQgetvalue(res, i, CALENDAR_TITLE),
        .description = PQgetvalue(res, i, CALENDAR_DESCRIPTION), /* SQL NULL reads "", which is left out too */
        .location = PQgetvalue(res, i, CALENDAR_LOCATION),
        .url = PQgetvalue(res, i, CALENDAR_URL),
        .sequence = db_value_long(res, i, CALENDAR_VERSION),
        .status = event_ics_status(PQgetvalue(res, i, CALENDAR_STATUS)),
    };
    ics_calendar_add_event(&cal, &ev);
  }
  PQclear(res);
  return ics_calendar_finish(&cal, len);
}

static fn_status calendar_http_feed(fn_req *req) {
  const char *site_id = req_query(req, "site_id");
  event_caller caller;
  PGresult *res = NULL;
  db_conn *db;
  fn_status st;
  if (site_id != NULL && !text_is_uuid(site_id))
    return req_invalid_field(req, "site_id", "must be a UUID");
  if ((st = req_db(req, &db)) != FN_OK || (st = events_db_load_caller(db, &req->caller, &caller)) != FN_OK ||
      (st = calendar_db_events(db, &caller, site_id, &res)) != FN_OK)
    return st;
  req_db_release(req); /* the rest is formatting */
  size_t len = 0;
  char *text = calendar_ics_take(res, &len);
  if (text == NULL)
    return FN_INTERNAL;
  reply_text(req, 200, "text/calendar; charset=utf-8", text, len);
  free(text);
  return FN_OK;
}

const fn_route calendar_routes[] = {
    {"GET", "/v1/events.ics", calendar_http_feed, ROUTE_PARTNER},
    {NULL, NULL, NULL, 0},
};
