#ifndef FORUMNET_MEETINGS_DB_H
#define FORUMNET_MEETINGS_DB_H

#include <jansson.h>

#include "forumnet/caller.h"
#include "forumnet/db.h"
#include "forumnet/groups_db.h"
#include "forumnet/page.h"

/* Most attendance entries one PUT may record. */
#define MEETING_MAX_ATTENDANCE 50

/* A meeting row locked for update: what a PATCH checks before it changes the row. */
typedef struct meeting_row {
  long version;
  long starts_us, ends_us; /* microseconds since the Unix epoch */
} meeting_row;

/* One page of a group's meetings in (starts_at, id) order; columns (json, cursor_key).
 * *result: caller PQclear()s. The caller's right to read them is checked before. */
fn_status meetings_db_list(db_conn *db, const char *group_id, const page_request *page, PGresult **result);

/* The Meeting representation; FN_NOT_FOUND unless the meeting belongs to group_id. out->json: caller frees. */
fn_status meetings_db_get(db_conn *db, const char *group_id, const char *meeting_id, db_representation *out);

/* Inside a transaction. body is a validated create body (borrowed); themes are trimmed, lowercased and
 * de-duplicated here. out->json: caller frees. */
fn_status meetings_db_insert(db_conn *db, const char *group_id, const json_t *body, const char *creator_id,
                             db_representation *out, char id_out[UUID_TEXT_SIZE]);
/* FN_NOT_FOUND unless the meeting belongs to group_id. */
fn_status meetings_db_lock(db_conn *db, const char *group_id, const char *meeting_id, meeting_row *out);
/* Fields absent from body keep their value; the version goes up. out->json: caller frees. */
fn_status meetings_db_update(db_conn *db, const char *meeting_id, const json_t *body, db_representation *out);

/* Positions (0-based) in the attendance array (JSON text of [{member_id, status}]) whose member_id is not
 * an active member of the group, in order; at most max of them in bad, their number in *count. */
fn_status meetings_db_non_members(db_conn *db, const char *group_id, const char *attendance_json, int *bad, int max,
                                  int *count);
/* Replaces the meeting's attendance record with attendance_json and bumps its version. out->json: caller frees. */
fn_status meetings_db_replace_attendance(db_conn *db, const char *meeting_id, const char *attendance_json,
                                         db_representation *out);

/* Who may do what with a group's meetings (API.md section 5), in one place:
 * reading (list, single, notes, attendance) is the group's inner life: active members only;
 * creating, editing and recording attendance: its leaders, while the group is not closed.
 * FN_NOT_FOUND when the caller may not know the group; *detail explains the other refusals. */
fn_status meetings_can_read(const group_access *a, const char **detail);
fn_status meetings_can_change(const group_access *a, const char **detail);

#endif
