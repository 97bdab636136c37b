/* Every SQL statement about personal calendar feeds (API.md section 10). */
#include "forumnet/calendar_feeds_db.h"

#include <stdio.h>
#include <string.h>

#include "forumnet/calendar_db.h"

/* The member's row, locked against a concurrent creation (NO KEY UPDATE: rows that reference the
 * member are not held up). */
static const db_stmt lock_member = {"calendar_feeds_lock_member",
                                    "SELECT 1 FROM members WHERE id = $1 AND status = 'active' FOR NO KEY UPDATE"};

static const db_stmt insert_feed = {
    "calendar_feeds_insert",
    "INSERT INTO calendar_feeds (member_id, digest) SELECT $1, decode($2, 'hex')"
    " WHERE (SELECT count(*) FROM calendar_feeds WHERE member_id = $1 AND revoked_at IS NULL) < $3::int"
    " RETURNING id, rfc3339(created_at)"};

fn_status calendar_feeds_db_create(db_conn *db, const char *member_id, const char *digest_hex, char *id,
                                   char *created_at) {
  char cap[16];
  fn_status st;
  snprintf(cap, sizeof cap, "%d", CALENDAR_FEEDS_MAX);
  PGresult *res = db_exec_row(db, &lock_member, DB_ARGS(member_id), FN_UNAUTHENTICATED, &st);
  if (res == NULL)
    return st;
  PQclear(res);
  if ((res = db_exec_row(db, &insert_feed, DB_ARGS(member_id, digest_hex, cap), FN_CONFLICT, &st)) == NULL)
    return st;
  snprintf(id, UUID_TEXT_SIZE, "%s", PQgetvalue(res, 0, 0));
  return db_take_copy(res, 1, created_at, 40);
}

static const db_stmt list_feeds = {
    "calendar_feeds_list",
    "SELECT cursor_key(f.created_at, f.id), f.id, rfc3339(f.created_at) AS created_at"
    " FROM calendar_feeds f WHERE f.member_id = $1 AND f.revoked_at IS NULL" DB_PAGE_AFTER("f.created_at", "f.id")};

fn_status calendar_feeds_db_list(db_conn *db, const char *member_id, const page_request *page, PGresult **result) {
  return db_query_page(db, &list_feeds, member_id, page, result);
}

static const db_stmt delete_feed = {
    "calendar_feeds_delete",
    "DELETE FROM calendar_feeds WHERE id = $1 AND member_id = $2 AND revoked_at IS NULL RETURNING 1"};

fn_status calendar_feeds_db_delete(db_conn *db, const char *member_id, const char *feed_id) {
  fn_status st;
  PGresult *res = db_exec_row(db, &delete_feed, DB_ARGS(feed_id, member_id), FN_NOT_FOUND, &st);
  PQclear(res);
  return res == NULL ? st : FN_OK;
}

static const db_stmt revoke_member = {
    "calendar_feeds_revoke_member",
    "UPDATE calendar_feeds SET revoked_at = clock_timestamp() WHERE member_id = $1 AND revoked_at IS NULL"};

fn_status calendar_feeds_db_revoke_member(db_conn *db, const char *member_id) {
  return db_exec_on(db, &revoke_member, member_id);
}

static const db_stmt feed_owner = {
    "calendar_feeds_owner",
    "SELECT f.member_id FROM calendar_feeds f JOIN members m ON m.id = f.member_id AND m.status = 'active'"
    " WHERE f.digest = decode($1, 'hex') AND f.revoked_at IS NULL"};

fn_status calendar_feeds_db_owner(db_conn *db, const char *digest_hex, char *member_id) {
  fn_status st;
  PGresult *res = db_exec_row(db, &feed_owner, DB_ARGS(digest_hex), FN_NOT_FOUND, &st);
  return res == NULL ? st : db_take_copy(res, 0, member_id, UUID_TEXT_SIZE);
}

#define ICS_TIME(ts) "to_char((" ts ") AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"')"

/* Events: event_visible() as the member now is (a registration on an event they can no longer see is
 * left out; a cancelled one stays, marked CANCELLED). Meetings: the groups where the membership is active
 * now. The columns follow enum calendar_column; an online item without a place reads "Online". */
static const db_stmt feed_items = {
    "calendar_feeds_items",
    "WITH o AS (SELECT id, role, home_site_id FROM members WHERE id = $1)"
    " SELECT e.id, e.title, NULL::text, " ICS_TIME("e.starts_at") ", " ICS_TIME(
        "e.ends_at") ","
                     "   coalesce(e.location, CASE WHEN e.online_url IS NOT NULL THEN 'Online' END), NULL::text, "
                     "e.status,"
                     "   e.revision, " ICS_TIME("e.created_at") " FROM o JOIN event_registrations r ON r.member_id = "
                                                                "o.id AND r.status <> 'declined'"
                                                                " JOIN events e ON e.id = r.event_id"
                                                                " WHERE e.starts_at >= now() - make_interval(days => "
                                                                "$2::int)"
                                                                "   AND event_visible(e.id, e.status, e.network_wide, "
                                                                "e.created_by, e.partner_id, o.id, o.role, "
                                                                "o.home_site_id,"
                                                                "                     NULL)"
                                                                " UNION ALL"
                                                                " SELECT mt.id, 'Meeting: ' || g.name, "
                                                                "NULL::text, " ICS_TIME("mt.starts_at") ", " ICS_TIME(
                                                                    "mt.ends_at") ","
                                                                                  "   coalesce(mt.location, CASE WHEN "
                                                                                  "mt.online THEN 'Online' END), "
                                                                                  "NULL::text, 'published', mt.version,"
                                                                                  "   " ICS_TIME(
                                                                                      "mt.created_at") " FROM o JOIN "
                                                                                                       "group_"
                                                                                                       "memberships gm "
                                                                                                       "ON "
                                                                                                       "gm.member_id = "
                                                                                                       "o.id AND "
                                                                                                       "gm.state = "
                                                                                                       "'active'"
                                                                                                       " JOIN groups g "
                                                                                                       "ON g.id = "
                                                                                                       "gm.group_id "
                                                                                                       "JOIN meetings "
                                                                                                       "mt ON "
                                                                                                       "mt.group_id = "
                                                                                                       "gm.group_id"
                                                                                                       " WHERE "
                                                                                                       "mt.starts_at "
                                                                                                       ">= now() - "
                                                                                                       "make_interval("
                                                                                                       "days => "
                                                                                                       "$2::int)"
                                                                                                       " ORDER BY 4, 1 "
                                                                                                       "LIMIT $3"};

fn_status calendar_feeds_db_items(db_conn *db, const char *member_id, PGresult **result) {
  char days[16], limit[16];
  snprintf(days, sizeof days, "%d", CALENDAR_PAST_DAYS);
  snprintf(limit, sizeof limit, "%d", CALENDAR_MAX_EVENTS);
  return db_query_rows(db, &feed_items, DB_ARGS(member_id, days, limit), result);
}
