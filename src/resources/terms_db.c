/* Every SQL statement about a group's terms of reference and their acceptances. */
#include "forumnet/terms_db.h"

#include <stdio.h>

/* accepted_count: the group's current active members who accepted that version. */
// clang-format off
#define TERMS_FIELDS_SQL(F, SEP)                                                                                       \
  F("version", "t.version") SEP                                                                                        \
  F("body", "t.body") SEP                                                                                              \
  F("review_on", "to_char(t.review_on, 'YYYY-MM-DD')") SEP                                                             \
  F("created_by", "t.created_by") SEP                                                                                  \
  F("created_at", "rfc3339(t.created_at)") SEP                                                                         \
  F("accepted_count", "(SELECT count(*) FROM terms_acceptances ta JOIN group_memberships gm ON gm.group_id ="          \
                      " ta.group_id AND gm.member_id = ta.member_id AND gm.state = 'active' WHERE ta.group_id ="       \
                      " t.group_id AND ta.version = t.version)")
// clang-format on
#define TERMS_JSON_SQL DB_JSON_OBJECT(TERMS_FIELDS_SQL)
#define TERMS_COLUMNS_SQL DB_COLUMNS(TERMS_FIELDS_SQL)

/* Versions have no uuid of their own: the keyset's id is the version number as a uuid
 * (00000000-0000-0000-0000-00000000000a for 10), which orders like the number. */
#define TERMS_KEY_ID "lpad(to_hex(t.version), 32, '0')::uuid"

/* Newest first: a cursor names the last version shown, the next page starts below it. */
static const db_stmt list_terms = {
    "terms_list", "SELECT cursor_key(t.created_at, " TERMS_KEY_ID "), g.terms_version, " TERMS_COLUMNS_SQL
                  " FROM group_terms t JOIN groups g ON g.id = t.group_id WHERE t.group_id = $1"
                  "   AND ($2::timestamptz = '-infinity'"
                  "        OR (t.created_at, " TERMS_KEY_ID ") < ($2::timestamptz, $3::uuid))"
                  " ORDER BY t.created_at DESC, t.version DESC LIMIT $4"};

fn_status terms_db_list(db_conn *db, const char *group_id, const page_request *page, PGresult **result) {
  return db_query_page(db, &list_terms, group_id, page, result);
}

static const db_stmt get_terms = {"terms_get", "SELECT " TERMS_JSON_SQL
                                               " FROM group_terms t WHERE t.group_id = $1 AND t.version = $2"};

fn_status terms_db_get(db_conn *db, const char *group_id, int version, char **json) {
  char v[16];
  snprintf(v, sizeof v, "%d", version);
  return db_query_text(db, &get_terms, DB_ARGS(group_id, v), FN_NOT_FOUND, json);
}

static const db_stmt publish_terms = {
    "terms_publish", "WITH g AS (UPDATE groups SET terms_version = terms_version + 1, version = version + 1"
                     "           WHERE id = $1 RETURNING terms_version)"
                     " INSERT INTO group_terms (group_id, version, body, review_on, created_by)"
                     " SELECT $1, g.terms_version, $2, $3::date, $4 FROM g RETURNING version"};

fn_status terms_db_publish(db_conn *db, const char *group_id, const char *body, const char *review_on,
                           const char *author_id, int *version) {
  long published;
  fn_status st = db_query_long(db, &publish_terms, DB_ARGS(group_id, body, review_on, author_id), &published);
  if (st == FN_OK)
    *version = (int)published;
  return st;
}

/* The membership keeps the newest version its member accepted, which the status rule reads. */
static const db_stmt accept_terms = {
    "terms_accept", "WITH a AS (INSERT INTO terms_acceptances (group_id, version, member_id) VALUES ($1, $2, $3)"
                    "           ON CONFLICT DO NOTHING RETURNING 1),"
                    " m AS (UPDATE group_memberships SET accepted_terms_version = greatest(accepted_terms_version, $2),"
                    "         version = version + CASE WHEN accepted_terms_version < $2 THEN 1 ELSE 0 END"
                    "       WHERE group_id = $1 AND member_id = $3)"
                    " SELECT EXISTS (SELECT 1 FROM a)"};

fn_status terms_db_accept(db_conn *db, const char *group_id, int version, const char *member_id, int *created) {
  char v[16];
  snprintf(v, sizeof v, "%d", version);
  return db_query_bool(db, &accept_terms, DB_ARGS(group_id, v, member_id), created);
}
