/* Every SQL statement about members' registrations for events and the waitlist, and who may
 * register or list them. */
#include "forumnet/registrations_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/notifications.h"

/* The Registration representation of `r`. */
// clang-format off
#define REGISTRATION_FIELDS_SQL(F, SEP)                                                                                \
  F("event_id", "r.event_id") SEP                                                                                      \
  F("member_id", "r.member_id") SEP                                                                                    \
  F("status", "r.status") SEP                                                                                          \
  F("requested_going_at", "rfc3339(r.requested_going_at)") SEP                                                         \
  F("updated_at", "rfc3339(r.updated_at)") SEP                                                                         \
  F("version", "r.version")
// clang-format on
#define REGISTRATION_JSON_SQL DB_JSON_OBJECT(REGISTRATION_FIELDS_SQL)
#define REGISTRATION_COLUMNS_SQL DB_COLUMNS(REGISTRATION_FIELDS_SQL)

/* Served by the primary key (event_id, member_id). */
static const db_stmt lock_registration = {"registrations_lock",
                                          "SELECT r.status, " REGISTRATION_JSON_SQL ", r.version"
                                          " FROM event_registrations r WHERE r.event_id = $1 AND r.member_id = $2"
                                          " FOR UPDATE"};

static const db_stmt registration_version = {
    "registrations_version", "SELECT version FROM event_registrations WHERE event_id = $1 AND member_id = $2"};

fn_status registrations_db_version(db_conn *db, const char *event_id, const char *member_id, int *exists,
                                   long *version) {
  fn_status st;
  PGresult *res =
      db_exec_row(db, &registration_version, DB_ARGS(event_id, member_id), FN_OK, &st); /* no row: none yet */
  *exists = res != NULL;
  *version = res != NULL ? db_value_long(res, 0, 0) : 0;
  PQclear(res);
  return st;
}

/* $3 is the answer, $4 the capacity (0: none). A member who newly asks to go gets a place while fewer
 * than capacity are going, else the waitlist; the count is true because the caller holds the event row
 * locked. requested_going_at is when they last asked to go (kept when they step back), the queue's order;
 * clock_timestamp(), not now(), so that the queue follows the order in which the lock was granted.
 * The count is served by event_registrations_waitlist (event_id, status, ...). */
static const db_stmt upsert_registration = {
    "registrations_upsert",
    "INSERT INTO event_registrations AS r (event_id, member_id, status, requested_going_at)"
    " SELECT $1::uuid, $2::uuid, CASE WHEN $3::text <> 'going' THEN $3::text"
    "   WHEN $4::int = 0 OR (SELECT count(*) FROM event_registrations g"
    "     WHERE g.event_id = $1 AND g.status = 'going' AND g.member_id <> $2) < $4::int THEN 'going'"
    "   ELSE 'waitlisted' END,"
    "   CASE WHEN $3::text = 'going' THEN clock_timestamp() END"
    " ON CONFLICT (event_id, member_id) DO UPDATE SET status = excluded.status,"
    "   requested_going_at = coalesce(excluded.requested_going_at, r.requested_going_at),"
    "   version = r.version + 1, updated_at = clock_timestamp()"
    " RETURNING " REGISTRATION_JSON_SQL ", r.version"};

fn_status registrations_db_set(db_conn *db, const event_access *a, const char *member_id, const char *status,
                               registration_result *out) {
  fn_status st;
  char capacity[24];
  memset(out, 0, sizeof *out);
  snprintf(capacity, sizeof capacity, "%ld", a->capacity);
  const char *params[] = {a->id, member_id, status, capacity};
  PGresult *res = db_exec(db, &lock_registration, 2, params, &st);
  if (res == NULL)
    return st;
  char old[16] = "";
  if (PQntuples(res) > 0)
    db_value_copy(res, 0, 0, old, sizeof old);
  int asks_to_go = strcmp(status, "going") == 0;
  int in_queue = strcmp(old, "going") == 0 || strcmp(old, "waitlisted") == 0;
  /* Same answer again (going while going or waitlisted included): nothing changes. */
  if (old[0] != '\0' &&
      (asks_to_go ? in_queue : strcmp(old, status) == 0)) /* the lock's columns 1, 2: (json, version) */
    return db_take_representation(res, 1, &out->json, &out->version);
  PQclear(res);
  out->created = old[0] == '\0';
  if ((st = db_get_representation(db, &upsert_registration, 4, params, &out->json, &out->version)) != FN_OK)
    return st;
  /* The event's version (its ETag) stays: counts are not the owner's edit, and a partner's
   * If-Match must not go stale with every registration. */
  if (strcmp(old, "going") == 0 && (st = registrations_db_promote(db, a->id, a->capacity, member_id)) != FN_OK) {
    free(out->json);
    out->json = NULL;
  }
  return st;
}

/* $2 is the capacity (0: none, so LIMIT NULL: every waitlisted member). The oldest requests first,
 * served by event_registrations_waitlist (event_id, status, requested_going_at, member_id). */
/* The members to promote are chosen once (MATERIALIZED): as a plain IN (subquery ... LIMIT n)
 * PostgreSQL may re-run the subquery per row, and each run, no longer seeing the member it just
 * promoted as waitlisted, would pick the next one, promoting everyone. */
static const db_stmt promote_waitlist = {
    "registrations_promote",
    "WITH going AS (SELECT count(*) AS n FROM event_registrations WHERE event_id = $1 AND status = 'going'),"
    " chosen AS MATERIALIZED ("
    "   SELECT w.member_id FROM event_registrations w WHERE w.event_id = $1 AND w.status = 'waitlisted'"
    "   ORDER BY w.requested_going_at, w.member_id"
    "   LIMIT CASE WHEN $2::int = 0 THEN NULL ELSE greatest($2::int - (SELECT n FROM going), 0) END"
    "   FOR UPDATE),"
    " promoted AS (UPDATE event_registrations AS r SET status = 'going', version = r.version + 1,"
    "   updated_at = clock_timestamp() FROM chosen WHERE r.event_id = $1 AND r.member_id = chosen.member_id"
    "   RETURNING r.member_id)"
    " SELECT json_agg(member_id) FROM promoted"};

fn_status registrations_db_promote(db_conn *db, const char *event_id, long capacity, const char *actor_id) {
  char text[24], *promoted = NULL;
  snprintf(text, sizeof text, "%ld", capacity);
  fn_status st = db_query_text(db, &promote_waitlist, DB_ARGS(event_id, text), FN_INTERNAL, &promoted);
  if (st == FN_OK && promoted != NULL && promoted[0] != '\0')
    st = notifications_db_fanout(db, NOTIFY_REGISTRATION_PROMOTED, event_id, actor_id, promoted);
  free(promoted);
  return st;
}

/* Keyset order (created_at, member_id) within one event. */
static const db_stmt list_registrations = {
    "registrations_list", "SELECT cursor_key(r.created_at, r.member_id), " REGISTRATION_COLUMNS_SQL ", m.display_name"
                          " FROM event_registrations r JOIN members m ON m.id = r.member_id"
                          " WHERE r.event_id = $1" DB_PAGE_AFTER("r.created_at", "r.member_id")};

fn_status registrations_db_list(db_conn *db, const char *event_id, const page_request *page, PGresult **result) {
  return db_query_page(db, &list_registrations, event_id, page, result);
}

fn_status registrations_can_register(const event_caller *caller, const event_access *a, const char **detail) {
  if (!a->visible)
    return FN_NOT_FOUND;
  if (caller->is_partner) { /* the route refuses partner tokens before this; kept for other callers */
    *detail = "Only members register for events.";
    return FN_FORBIDDEN;
  }
  if (strcmp(a->status, "published") != 0) {
    *detail = strcmp(a->status, "cancelled") == 0 ? "This event is cancelled." : "This event is not published yet.";
    return FN_CONFLICT;
  }
  return FN_OK;
}

fn_status registrations_can_list(const event_caller *caller, const event_access *a, const char **detail) {
  if (!a->visible)
    return FN_NOT_FOUND;
  if (caller->is_partner) {
    *detail = "Partners see counts only: see registration_counts on the event.";
    return FN_FORBIDDEN;
  }
  if (a->owner || a->is_admin)
    return FN_OK;
  *detail = "Only the event's owner and admins can list its registrations.";
  return FN_FORBIDDEN;
}

static const db_stmt member_upcoming = {
    "registrations_member_upcoming",
    "SELECT e.id, coalesce(e.capacity, 0) FROM events e"
    " WHERE e.starts_at > now() AND e.id IN (SELECT r.event_id FROM event_registrations r"
    "   WHERE r.member_id = $1 AND r.status IN ('going', 'waitlisted'))"
    " ORDER BY e.id FOR UPDATE"};

static const db_stmt decline_member = {
    "registrations_decline_member",
    "UPDATE event_registrations SET status = 'declined', version = version + 1, updated_at = clock_timestamp()"
    " WHERE member_id = $1 AND event_id = $2 AND status IN ('going', 'waitlisted')"};

fn_status registrations_db_withdraw_member(db_conn *db, const char *member_id) {
  fn_status st;
  PGresult *events = db_exec(db, &member_upcoming, DB_ARGS(member_id), &st);
  for (int i = 0; events && st == FN_OK && i < PQntuples(events); i++) {
    const char *event_id = PQgetvalue(events, i, 0);
    const char *decline_params[] = {member_id, event_id};
    if ((st = db_exec_command(db, &decline_member, 2, decline_params)) == FN_OK)
      st = registrations_db_promote(db, event_id, db_value_long(events, i, 1), member_id);
  }
  PQclear(events);
  return st;
}
