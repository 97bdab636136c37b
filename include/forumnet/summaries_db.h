#ifndef FORUMNET_SUMMARIES_DB_H
#define FORUMNET_SUMMARIES_DB_H

#include "forumnet/db.h"
#include "forumnet/page.h"

/* Columns of a summary row, in the order summaries_db_figures returns them. */
enum summary_column {
  SUMMARY_SITE_ID,
  SUMMARY_SITE_NAME,
  SUMMARY_GROUPS_FORMING,
  SUMMARY_GROUPS_ACTIVE,
  SUMMARY_GROUPS_DORMANT,
  SUMMARY_GROUPS_CLOSED,
  SUMMARY_ACTIVE_MEMBERS,
  SUMMARY_PRACTITIONERS,
  SUMMARY_PRACTITIONERS_IN_GROUPS,
  SUMMARY_MEETINGS_HELD,
  SUMMARY_MEAN_ATTENDANCE_RATE,
  SUMMARY_ATTENDANCE_RECORDED,
  SUMMARY_ATTENDANCE_PRESENT,
  SUMMARY_CONSULTATIONS_OPEN,
  SUMMARY_CONSULTATIONS_CLOSED,
  SUMMARY_GROUPS_TARGETED,
  SUMMARY_GROUPS_SUBMITTED,
  SUMMARY_UPCOMING_EVENTS,
  SUMMARY_EVENT_REGISTRATIONS,
  SUMMARY_TOP_THEMES,
  SUMMARY_COLUMNS
};

/* The raw figures of each site in site_ids (a JSON array of UUIDs, as text) for the window
 * [from, to) (the widened window: summaries_window_widen), one row per site in the order given. Themes are only those
 * shared by at least `threshold` meetings. No names, notes or free text are ever read. *result: caller PQclear()s. */
fn_status summaries_db_figures(db_conn *db, const char *site_ids_json, const char *from, const char *to,
                               unsigned threshold, PGresult **result);

/* Room for a cursor_key() value ("<timestamp>|<uuid>"). */
#define SUMMARY_CURSOR_KEY_SIZE 96

/* A page of the sites the caller may summarise (admin: all open sites; manager: those they
 * manage), as a JSON array of ids in *ids (caller frees), plus the next cursor key (or ""). */
fn_status summaries_db_site_page(db_conn *db, const char *caller_id, const page_request *page, char **ids,
                                 char next_key[SUMMARY_CURSOR_KEY_SIZE]);

#endif
