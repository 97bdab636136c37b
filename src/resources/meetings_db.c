/* Every SQL statement about a group's meetings and their attendance, and who may read or change them. */
#include "forumnet/meetings_db.h"

#include <stdlib.h>

#include "forumnet/body.h"

/* The Meeting representation of `mt`; attendance in display-name order. */
// clang-format off
#define MEETING_FIELDS_SQL(F, SEP)                                                                                     \
  F("id", "mt.id") SEP                                                                                                 \
  F("group_id", "mt.group_id") SEP                                                                                     \
  F("starts_at", "rfc3339(mt.starts_at)") SEP                                                                          \
  F("ends_at", "rfc3339(mt.ends_at)") SEP                                                                              \
  F("location", "mt.location") SEP                                                                                     \
  F("online", "mt.online") SEP                                                                                         \
  F("agenda", "mt.agenda") SEP                                                                                         \
  F("notes", "mt.notes") SEP                                                                                           \
  F("themes", "to_json(mt.themes)") SEP                                                                                \
  F("attendance", "coalesce((SELECT json_agg(json_build_object( 'member_id', a.member_id, 'display_name',"             \
                  " m.display_name, 'status', a.status) ORDER BY m.display_name, m.id) FROM meeting_attendance a"      \
                  " JOIN members m ON m.id = a.member_id WHERE a.meeting_id = mt.id), '[]'::json)") SEP                \
  F("version", "mt.version") SEP                                                                                       \
  F("created_at", "rfc3339(mt.created_at)")
// clang-format on
#define MEETING_JSON_SQL DB_JSON_OBJECT(MEETING_FIELDS_SQL)
#define MEETING_COLUMNS_SQL DB_COLUMNS(MEETING_FIELDS_SQL)

/* themes from a JSON array of strings (parameter `param`): trimmed, lowercased and de-duplicated, in the
 * order each first appears. Passing JSON text keeps the client's strings out of array-literal syntax. */
#define THEMES_FROM_JSON_SQL(param)                                                                                    \
  "ARRAY(SELECT t FROM (SELECT lower(btrim(x, E' \\t\\r\\n')) AS t, min(n) AS first"                                   \
  "  FROM json_array_elements_text(" param "::json) WITH ORDINALITY AS e(x, n) GROUP BY 1) d ORDER BY first)"

/* Served by meetings_group_starts (group_id, starts_at, id). */
static const db_stmt list_meetings = {"meetings_list",
                                      "SELECT cursor_key(mt.starts_at, mt.id), " MEETING_COLUMNS_SQL " FROM meetings mt"
                                      " WHERE mt.group_id = $1" DB_PAGE_AFTER("mt.starts_at", "mt.id")};

fn_status meetings_db_list(db_conn *db, const char *group_id, const page_request *page, PGresult **result) {
  return db_query_page(db, &list_meetings, group_id, page, result);
}

static const db_stmt get_meeting = {"meetings_get", "SELECT " MEETING_JSON_SQL ", mt.version"
                                                    " FROM meetings mt WHERE mt.id = $2 AND mt.group_id = $1"};

fn_status meetings_db_get(db_conn *db, const char *group_id, const char *meeting_id, db_representation *out) {
  return db_get_representation(db, &get_meeting, DB_ARGS(group_id, meeting_id), &out->json, &out->version);
}

static const db_stmt insert_meeting = {
    "meetings_insert",
    "INSERT INTO meetings AS mt (group_id, starts_at, ends_at, location, online, agenda, notes, themes, created_by)"
    " VALUES ($1, $2, $3, $4, coalesce($5::bool, false), $6, $7, " THEMES_FROM_JSON_SQL(
        "$8") ", $9)"
              " RETURNING " MEETING_JSON_SQL ", mt.version, mt.id"};

/* The settable fields, in the order the statements take them. */
#define MEETING_FIELDS 7
static const char *const meeting_fields[MEETING_FIELDS] = {"starts_at", "ends_at", "location", "online",
                                                           "agenda",    "notes",   "themes"};

/* The text parameter of each settable field of body (NULL when absent or null): online as "true" or
 * "false", themes as JSON text in *themes, which the caller frees. */
static void field_values(const json_t *body, const char *values[MEETING_FIELDS], char **themes) {
  for (int i = 0; i < MEETING_FIELDS; i++)
    values[i] = body_string(body, meeting_fields[i]);
  const json_t *online = json_object_get(body, "online"), *array = json_object_get(body, "themes");
  values[3] = json_is_boolean(online) ? (json_is_true(online) ? "true" : "false") : NULL;
  values[6] = *themes = json_is_array(array) ? json_dumps(array, JSON_COMPACT) : NULL;
}

fn_status meetings_db_insert(db_conn *db, const char *group_id, const json_t *body, const char *creator_id,
                             db_representation *out, char id_out[UUID_TEXT_SIZE]) {
  const char *params[2 + MEETING_FIELDS] = {group_id};
  char *themes;
  field_values(body, params + 1, &themes);
  params[1 + MEETING_FIELDS] = creator_id;
  fn_status st =
      db_insert_representation(db, &insert_meeting, 2 + MEETING_FIELDS, params, &out->json, &out->version, id_out);
  free(themes);
  return st;
}

/* The stored times in microseconds, so that a PATCH changing one of them can check the span in C. */
static const db_stmt lock_meeting = {"meetings_lock",
                                     "SELECT version, (extract(epoch FROM starts_at) * 1000000)::bigint,"
                                     " (extract(epoch FROM ends_at) * 1000000)::bigint"
                                     " FROM meetings WHERE id = $2 AND group_id = $1 FOR UPDATE"};

static const db_column meeting_columns[] = {
    DB_COL_LONG(meeting_row, version),
    DB_COL_LONG(meeting_row, starts_us),
    DB_COL_LONG(meeting_row, ends_us),
    DB_COLUMNS_END,
};

fn_status meetings_db_lock(db_conn *db, const char *group_id, const char *meeting_id, meeting_row *out) {
  return db_query_row(db, &lock_meeting, DB_ARGS(group_id, meeting_id), FN_NOT_FOUND, meeting_columns, out);
}

/* (present, value) pairs: a field absent from the PATCH body keeps its value. */
static const db_stmt update_meeting = {"meetings_update",
                                       "UPDATE meetings AS mt SET"
                                       " starts_at = CASE WHEN $2::bool THEN $3::timestamptz ELSE mt.starts_at END,"
                                       " ends_at = CASE WHEN $4::bool THEN $5::timestamptz ELSE mt.ends_at END,"
                                       " location = CASE WHEN $6::bool THEN $7 ELSE mt.location END,"
                                       " online = CASE WHEN $8::bool THEN $9::bool ELSE mt.online END,"
                                       " agenda = CASE WHEN $10::bool THEN $11 ELSE mt.agenda END,"
                                       " notes = CASE WHEN $12::bool THEN $13 ELSE mt.notes END,"
                                       " themes = CASE WHEN $14::bool THEN " THEMES_FROM_JSON_SQL(
                                           "$15") " ELSE mt.themes END,"
                                                  " version = mt.version + 1"
                                                  " WHERE mt.id = $1 RETURNING " MEETING_JSON_SQL ", mt.version"};

fn_status meetings_db_update(db_conn *db, const char *meeting_id, const json_t *body, db_representation *out) {
  const char *values[MEETING_FIELDS], *params[1 + 2 * MEETING_FIELDS] = {meeting_id};
  char *themes;
  field_values(body, values, &themes);
  for (int i = 0; i < MEETING_FIELDS; i++) {
    params[1 + 2 * i] = db_param_present(body, meeting_fields[i]);
    params[2 + 2 * i] = values[i];
  }
  fn_status st = db_get_representation(db, &update_meeting, 1 + 2 * MEETING_FIELDS, params, &out->json, &out->version);
  free(themes);
  return st;
}

/* Served by the group_memberships primary key (group_id, member_id). */
static const db_stmt non_members = {
    "meetings_attendance_non_members",
    "SELECT (e.n - 1)::int FROM json_array_elements($2::json) WITH ORDINALITY AS e(item, n)"
    " WHERE NOT EXISTS (SELECT 1 FROM group_memberships gm WHERE gm.group_id = $1"
    "   AND gm.member_id = (e.item->>'member_id')::uuid AND gm.state = 'active')"
    " ORDER BY e.n"};

fn_status meetings_db_non_members(db_conn *db, const char *group_id, const char *attendance_json, int *bad, int max,
                                  int *count) {
  fn_status st;
  PGresult *res = db_exec(db, &non_members, DB_ARGS(group_id, attendance_json), &st);
  if (res == NULL)
    return st;
  int rows = PQntuples(res);
  *count = rows < max ? rows : max;
  for (int i = 0; i < *count; i++)
    bad[i] = (int)db_value_long(res, i, 0);
  PQclear(res);
  return FN_OK;
}

static const db_stmt delete_attendance = {"meetings_attendance_delete",
                                          "DELETE FROM meeting_attendance WHERE meeting_id = $1"};

static const db_stmt insert_attendance = {
    "meetings_attendance_insert",
    "INSERT INTO meeting_attendance (meeting_id, member_id, status)"
    " SELECT $1, (e->>'member_id')::uuid, e->>'status' FROM json_array_elements($2::json) e"};

/* Attendance is part of the Meeting representation, so recording it is a new version. The
 * meeting also keeps its attendance counts, which manager summaries read (sql/005). */
static const db_stmt bump_meeting = {
    "meetings_bump_version",
    "UPDATE meetings AS mt SET version = mt.version + 1,"
    " present_count = (SELECT count(*) FROM meeting_attendance a WHERE a.meeting_id = mt.id AND a.status = 'present'),"
    " attendance_count = (SELECT count(*) FROM meeting_attendance a WHERE a.meeting_id = mt.id)"
    " WHERE mt.id = $1 RETURNING " MEETING_JSON_SQL ", mt.version"};

fn_status meetings_db_replace_attendance(db_conn *db, const char *meeting_id, const char *attendance_json,
                                         db_representation *out) {
  fn_status st;
  const char *params[] = {meeting_id, attendance_json};
  if ((st = db_exec_on(db, &delete_attendance, meeting_id)) != FN_OK ||
      (st = db_exec_command(db, &insert_attendance, 2, params)) != FN_OK)
    return st;
  return db_get_representation(db, &bump_meeting, 1, params, &out->json, &out->version);
}

fn_status meetings_can_read(const group_access *a, const char **detail) {
  fn_status st = groups_require_inner(a);
  if (st == FN_FORBIDDEN)
    *detail = "Only active members of the group can see its meetings.";
  return st;
}

fn_status meetings_can_change(const group_access *a, const char **detail) {
  fn_status st = groups_require_leader(a);
  if (st == FN_FORBIDDEN)
    *detail = "Only the group's conveners and facilitators can plan meetings and record attendance.";
  return st == FN_OK ? groups_require_open(a, detail) : st;
}
