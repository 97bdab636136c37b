/* Every SQL statement about consultation responses. A response belongs to its group:
 * no member ids or names are part of it. */
#include "forumnet/responses_db.h"

// clang-format off
#define RESPONSE_FIELDS_SQL(F, SEP)                                                                                    \
  F("consultation_id", "r.consultation_id") SEP                                                                        \
  F("group_id", "r.group_id") SEP                                                                                      \
  F("group_name", "g.name") SEP                                                                                        \
  F("answers", "r.answers") SEP                                                                                        \
  F("status", "r.status") SEP                                                                                          \
  F("submitted_at", "rfc3339(r.submitted_at)") SEP                                                                     \
  F("updated_at", "rfc3339(r.updated_at)") SEP                                                                         \
  F("version", "r.version")
// clang-format on
#define RESPONSE_JSON_SQL DB_JSON_OBJECT(RESPONSE_FIELDS_SQL)
#define RESPONSE_COLUMNS_SQL DB_COLUMNS(RESPONSE_FIELDS_SQL)

static const db_stmt target = {
    "responses_target",
    "SELECT $2::uuid IN (SELECT consultation_targeted_groups($1)), coalesce(gm.state, ''), coalesce(gm.role, ''),"
    " r.group_id IS NOT NULL, coalesce(r.status, ''), coalesce(r.version, 0)"
    " FROM (SELECT 1) AS one"
    " LEFT JOIN group_memberships gm ON gm.group_id = $2 AND gm.member_id = $3"
    " LEFT JOIN consultation_responses r ON r.consultation_id = $1 AND r.group_id = $2"};

static const db_column target_columns[] = {
    DB_COL_BOOL(response_target, targeted),
    DB_COL_TEXT(response_target, my_state),
    DB_COL_TEXT(response_target, my_role),
    DB_COL_BOOL(response_target, exists),
    DB_COL_TEXT(response_target, status),
    DB_COL_LONG(response_target, version),
    DB_COLUMNS_END,
};

fn_status responses_db_target(db_conn *db, const char *consultation_id, const char *group_id, const char *caller_id,
                              response_target *out) {
  /* the statement always answers one row */
  return db_query_row(db, &target, DB_ARGS(consultation_id, group_id, caller_id), FN_INTERNAL, target_columns, out);
}

static const db_stmt upsert = {
    "responses_upsert",
    "INSERT INTO consultation_responses AS r (consultation_id, group_id, answers, status, submitted_at)"
    " VALUES ($1, $2, $3::jsonb, $4, CASE WHEN $4 = 'submitted' THEN now() END)"
    " ON CONFLICT (consultation_id, group_id) DO UPDATE SET answers = excluded.answers, status = excluded.status,"
    "  submitted_at = CASE WHEN excluded.status = 'submitted' THEN coalesce(r.submitted_at, now()) END,"
    "  version = r.version + 1, updated_at = clock_timestamp()"};

fn_status responses_db_upsert(db_conn *db, const char *consultation_id, const char *group_id, const char *answers_json,
                              const char *status) {
  return db_exec_command(db, &upsert, DB_ARGS(consultation_id, group_id, answers_json, status));
}

static const db_stmt get_response = {"responses_get",
                                     "SELECT " RESPONSE_JSON_SQL ", r.version FROM consultation_responses r"
                                     " JOIN groups g ON g.id = r.group_id"
                                     " WHERE r.consultation_id = $1 AND r.group_id = $2"};

fn_status responses_db_get(db_conn *db, const char *consultation_id, const char *group_id, db_representation *out) {
  return db_get_representation(db, &get_response, DB_ARGS(consultation_id, group_id), &out->json, &out->version);
}

/* Who reads a response ($2 the caller, $3 whether they read submitted ones): owners and
 * admins never see a group's drafts, only what the group submitted; the group's active
 * members see its response, draft included. */
#define RESPONSE_READABLE_SQL                                                                                          \
  " (($3::bool AND r.status = 'submitted')"                                                                            \
  "  OR EXISTS (SELECT 1 FROM group_memberships gm"                                                                    \
  "             WHERE gm.group_id = r.group_id AND gm.member_id = $2 AND gm.state = 'active'))"

static const db_stmt get_readable = {"responses_get_readable",
                                     "SELECT " RESPONSE_JSON_SQL ", r.version FROM consultation_responses r"
                                     " JOIN groups g ON g.id = r.group_id"
                                     " WHERE r.consultation_id = $1 AND r.group_id = $4 AND" RESPONSE_READABLE_SQL};

fn_status responses_db_get_readable(db_conn *db, const char *consultation_id, const char *group_id,
                                    const char *caller_id, int read_submitted, db_representation *out) {
  return db_get_representation(db, &get_readable,
                               DB_ARGS(consultation_id, caller_id, read_submitted ? "true" : "false", group_id),
                               &out->json, &out->version);
}

static const db_stmt list_responses = {
    "responses_list", "SELECT cursor_key(r.created_at, r.group_id), " RESPONSE_COLUMNS_SQL
                      " FROM consultation_responses r JOIN groups g ON g.id = r.group_id"
                      " WHERE r.consultation_id = $1 AND (r.created_at, r.group_id) > ($4::timestamptz, "
                      "$5::uuid)"
                      "   AND" RESPONSE_READABLE_SQL " ORDER BY r.created_at, r.group_id LIMIT $6"};

fn_status responses_db_list(db_conn *db, const char *consultation_id, const char *caller_id, int read_submitted,
                            const page_request *page, PGresult **result) {
  return db_query_rows(db, &list_responses,
                       DB_ARGS(consultation_id, caller_id, read_submitted ? "true" : "false", page->after_ts,
                               page->after_id, page->limit_plus_one),
                       result);
}
