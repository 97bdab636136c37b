/* Every SQL statement about group memberships. The rules that decide who may change
 * them are in groups_db.c (group_access) and memberships_http.c. */
#include "forumnet/memberships_db.h"

#include <stdio.h>
#include <string.h>

// clang-format off
#define MEMBERSHIP_FIELDS_SQL(F, SEP)                                                                                  \
  F("group_id", "gm.group_id") SEP                                                                                     \
  F("member_id", "gm.member_id") SEP                                                                                   \
  F("display_name", "m.display_name") SEP                                                                              \
  F("state", "gm.state") SEP                                                                                           \
  F("role", "gm.role") SEP                                                                                             \
  F("represents_group_id", "gm.represents_group_id") SEP                                                               \
  F("represents_group_name", "rg.name") SEP                                                                            \
  F("joined_at", "rfc3339(gm.joined_at)") SEP                                                                          \
  F("accepted_terms_version", "gm.accepted_terms_version") SEP                                                         \
  F("version", "gm.version")
// clang-format on
#define MEMBERSHIP_JSON_SQL DB_JSON_OBJECT(MEMBERSHIP_FIELDS_SQL)
#define MEMBERSHIP_COLUMNS_SQL DB_COLUMNS(MEMBERSHIP_FIELDS_SQL)

#define MEMBERSHIP_FROM_SQL                                                                                            \
  " FROM group_memberships gm JOIN members m ON m.id = gm.member_id"                                                   \
  " LEFT JOIN groups rg ON rg.id = gm.represents_group_id"

static const db_stmt get_membership = {"memberships_get",
                                       "SELECT " MEMBERSHIP_JSON_SQL ", gm.version" MEMBERSHIP_FROM_SQL
                                       " WHERE gm.group_id = $1 AND gm.member_id = $2"};

fn_status memberships_db_get(db_conn *db, const char *group_id, const char *member_id, db_representation *out) {
  return db_get_representation(db, &get_membership, DB_ARGS(group_id, member_id), &out->json, &out->version);
}

static const db_stmt list_memberships = {
    "memberships_list", "SELECT cursor_key(gm.created_at, gm.member_id), " MEMBERSHIP_COLUMNS_SQL MEMBERSHIP_FROM_SQL
                        " WHERE gm.group_id = $1 AND (gm.created_at, gm.member_id) > ($2::timestamptz, $3::uuid)"
                        "   AND ($4::text IS NULL OR gm.state = $4)"
                        " ORDER BY gm.created_at, gm.member_id LIMIT $5"};

fn_status memberships_db_list(db_conn *db, const char *group_id, const char *state, const page_request *page,
                              PGresult **result) {
  return db_query_rows(db, &list_memberships,
                       DB_ARGS(group_id, page->after_ts, page->after_id, state, page->limit_plus_one), result);
}

static const db_stmt lock_membership = {
    "memberships_lock", "SELECT state, role, coalesce(represents_group_id::text, ''), version FROM group_memberships"
                        " WHERE group_id = $1 AND member_id = $2 FOR UPDATE"};

static const db_column membership_columns[] = {
    DB_COL_TEXT(membership_row, state),
    DB_COL_TEXT(membership_row, role),
    DB_COL_TEXT(membership_row, represents_group_id),
    DB_COL_LONG(membership_row, version),
    DB_COLUMNS_END,
};

fn_status memberships_db_lock(db_conn *db, const char *group_id, const char *member_id, membership_row *out) {
  return db_query_row(db, &lock_membership, DB_ARGS(group_id, member_id), FN_NOT_FOUND, membership_columns, out);
}

static const db_stmt candidate = {"memberships_candidate",
                                  "SELECT m.status = 'active', m.role, coalesce(m.home_site_id = g.site_id, false),"
                                  " manages_site(m.id, g.site_id)"
                                  " FROM members m, groups g WHERE m.id = $2 AND g.id = $1"};

static const db_column candidate_columns[] = {
    DB_COL_BOOL(membership_candidate, active),
    DB_COL_ROLE(membership_candidate, role),
    DB_COL_BOOL(membership_candidate, home_site),
    DB_COL_BOOL(membership_candidate, manages_site),
    DB_COLUMNS_END,
};

fn_status memberships_db_candidate(db_conn *db, const char *group_id, const char *member_id,
                                   membership_candidate *out) {
  memset(out, 0, sizeof *out); /* no row: not a candidate */
  return db_query_optional_row(db, &candidate, DB_ARGS(group_id, member_id), candidate_columns, out, NULL);
}

static const db_stmt represents = {
    "memberships_represents",
    "SELECT EXISTS (SELECT 1 FROM group_memberships gm JOIN groups g ON g.id = gm.group_id"
    " WHERE gm.member_id = $1 AND gm.group_id = $2 AND gm.state = 'active' AND gm.role = 'representative'"
    "   AND g.site_id IS NOT NULL AND g.status <> 'closed')"};

fn_status memberships_db_represents(db_conn *db, const char *member_id, const char *group_id, int *is) {
  return db_query_bool(db, &represents, DB_ARGS(member_id, group_id), is);
}

static const db_stmt insert_membership = {
    "memberships_insert", "INSERT INTO group_memberships (group_id, member_id, state, role, represents_group_id,"
                          " invited_by) VALUES ($1, $2, $3, $4, $5::uuid, $6::uuid)"};

fn_status memberships_db_insert(db_conn *db, const char *group_id, const char *member_id, const char *state,
                                const char *role, const char *represents_group_id, const char *invited_by) {
  return db_exec_command(db, &insert_membership,
                         DB_ARGS(group_id, member_id, state, role, represents_group_id, invited_by));
}

/* The changes to one membership row (group_id $1, member_id $2), by membership_change; the ones that set a
 * column take its value as $3. */
static const struct {
  db_stmt stmt;
  int nparams;
} changes[] = {
    [MEMBERSHIP_ACTIVATE] = {{"memberships_activate",
                              "UPDATE group_memberships SET state = 'active', joined_at = clock_timestamp(),"
                              " version = version + 1 WHERE group_id = $1 AND member_id = $2"},
                             2},
    [MEMBERSHIP_SET_ROLE] = {{"memberships_set_role", "UPDATE group_memberships SET role = $3, version = version + 1"
                                                      " WHERE group_id = $1 AND member_id = $2"},
                             3},
    [MEMBERSHIP_SET_REPRESENTS] = {{"memberships_set_represents",
                                    "UPDATE group_memberships SET represents_group_id = $3::uuid,"
                                    " version = version + 1 WHERE group_id = $1 AND member_id = $2"},
                                   3},
    [MEMBERSHIP_DELETE] = {{"memberships_delete",
                            "DELETE FROM group_memberships WHERE group_id = $1 AND member_id = $2"},
                           2},
};

fn_status memberships_db_change(db_conn *db, membership_change what, const char *group_id, const char *member_id,
                                const char *value) {
  const char *params[] = {group_id, member_id, value};
  return db_exec_command(db, &changes[what].stmt, changes[what].nparams, params);
}

static const db_stmt other_leaders = {
    "memberships_other_leaders",
    "SELECT count(*) FROM group_memberships WHERE group_id = $1 AND member_id <> $2 AND state = 'active'"
    " AND role IN ('convener', 'facilitator')"};

fn_status memberships_db_other_leaders(db_conn *db, const char *group_id, const char *member_id, long *count) {
  return db_query_long(db, &other_leaders, DB_ARGS(group_id, member_id), count);
}

static const db_stmt end_representation = {
    "memberships_end_representation", "UPDATE group_memberships SET represents_group_id = NULL, version = version + 1"
                                      " WHERE member_id = $1 AND represents_group_id = $2"};

fn_status memberships_db_end_representation(db_conn *db, const char *member_id, const char *group_id) {
  return db_exec_command(db, &end_representation, DB_ARGS(member_id, group_id));
}

int memberships_is_leader_role(const char *role) {
  return strcmp(role, "convener") == 0 || strcmp(role, "facilitator") == 0;
}
