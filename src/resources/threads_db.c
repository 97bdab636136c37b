/* Every SQL statement about a group's discussions (API.md section 11), and who may read or write them. */
#include "forumnet/threads.h"

#include <string.h>

#include "forumnet/body.h"

/* An author as {id, display_name}; an erased member is {null, "former member"} (the erasure already
 * replaced the name). */
#define AUTHOR_JSON_SQL(m)                                                                                             \
  "json_build_object('id', CASE WHEN " m ".status = 'erased' THEN NULL ELSE " m ".id END,"                             \
  " 'display_name', " m ".display_name)"

/* The Thread of `t` for the caller whose read position is `r` (LEFT JOINed: may be NULL). */
// clang-format off
#define THREAD_FIELDS_SQL(F, SEP)                                                                                      \
  F("id", "t.id") SEP                                                                                                  \
  F("group_id", "t.group_id") SEP                                                                                      \
  F("title", "t.title") SEP                                                                                            \
  F("created_by", AUTHOR_JSON_SQL("tm")) SEP                                                                           \
  F("created_at", "rfc3339(t.created_at)") SEP                                                                         \
  F("last_post_at", "rfc3339(t.last_post_at)") SEP                                                                     \
  F("post_count", "t.post_count") SEP                                                                                  \
  F("unread_count", "greatest(t.post_count - coalesce(r.read_upto, 0), 0)") SEP                                        \
  F("pinned", "t.pinned") SEP                                                                                          \
  F("locked", "t.locked") SEP                                                                                          \
  F("version", "t.version")
// clang-format on
#define THREAD_JSON_SQL DB_JSON_OBJECT(THREAD_FIELDS_SQL)
#define THREAD_COLUMNS_SQL DB_COLUMNS(THREAD_FIELDS_SQL)

/* $2: the caller. */
#define THREAD_FROM_SQL                                                                                                \
  " FROM threads t JOIN members tm ON tm.id = t.created_by"                                                            \
  " LEFT JOIN thread_reads r ON r.thread_id = t.id AND r.member_id = $2"

/* Latest activity first: a cursor names the last thread shown, the next page starts below it.
 * Served by threads_group_activity; the unread count is one primary-key probe of thread_reads a row. */
#define THREAD_PAGE_SQL(filter)                                                                                        \
  "SELECT cursor_key(t.last_post_at, t.id), " THREAD_COLUMNS_SQL THREAD_FROM_SQL " WHERE t.group_id = $1"              \
  "   AND ($3::timestamptz = '-infinity' OR (t.last_post_at, t.id) < ($3::timestamptz, $4::uuid))" filter              \
  " ORDER BY t.last_post_at DESC, t.id DESC LIMIT $5"

static const db_stmt list_threads = {"threads_list", THREAD_PAGE_SQL("")};

/* The threads whose title or a post (not removed: its words are gone) matches $6: the posts' GIN
 * index finds the matching posts in every group, the group's own threads are kept. */
static const db_stmt search_threads = {
    "threads_search", THREAD_PAGE_SQL(" AND (t.search @@ websearch_to_tsquery('english', $6)"
                                      "      OR t.id IN (SELECT p.thread_id FROM posts p"
                                      "                  WHERE p.search @@ websearch_to_tsquery('english', $6)))")};

fn_status threads_db_list(db_conn *db, const char *group_id, const char *caller_id, const char *q,
                          const page_request *page, PGresult **result) {
  if (q == NULL)
    return db_query_rows(db, &list_threads,
                         DB_ARGS(group_id, caller_id, page->after_ts, page->after_id, page->limit_plus_one), result);
  return db_query_rows(db, &search_threads,
                       DB_ARGS(group_id, caller_id, page->after_ts, page->after_id, page->limit_plus_one, q), result);
}

static const db_stmt get_thread = {"threads_get", "SELECT " THREAD_JSON_SQL ", t.version" THREAD_FROM_SQL
                                                  " WHERE t.group_id = $1 AND t.id = $3"};

fn_status threads_db_get(db_conn *db, const char *group_id, const char *thread_id, const char *caller_id,
                         db_representation *out) {
  return db_get_representation(db, &get_thread, DB_ARGS(group_id, caller_id, thread_id), &out->json, &out->version);
}

/* Titles carry the group's name only, never the thread's words. */
#define GROUP_TITLE_SQL(prefix) "left('" prefix "' || g.name, 200)"

/* Recipients: the group's active members whose accounts are active, but the author ($3). */
static const db_stmt insert_thread = {
    "threads_insert",
    "WITH c AS (SELECT clock_timestamp() AS at),"
    " t AS (INSERT INTO threads (group_id, title, created_by, created_at, last_post_at, post_count)"
    "       SELECT $1, $2, $3, c.at, c.at, 1 FROM c RETURNING id, group_id, created_at),"
    " p AS (INSERT INTO posts (thread_id, seq, author_id, body, created_at) SELECT t.id, 1, $3, $4, t.created_at FROM "
    "t),"
    " r AS (INSERT INTO thread_reads (thread_id, member_id, read_upto) SELECT t.id, $3, 1 FROM t),"
    " n AS (INSERT INTO notifications (member_id, kind, subject_type, subject_id, group_id, title)"
    "       SELECT gm.member_id, 'thread.created', 'thread', t.id, t.group_id, " GROUP_TITLE_SQL(
        "New thread in ") "       FROM t JOIN groups g ON g.id = t.group_id"
                          "       JOIN group_memberships gm ON gm.group_id = t.group_id AND gm.state = 'active'"
                          "       JOIN members m ON m.id = gm.member_id AND m.status = 'active'"
                          "       WHERE gm.member_id <> $3)"
                          " SELECT id FROM t"};

fn_status threads_db_insert(db_conn *db, const char *group_id, const char *title, const char *body,
                            const char *author_id, char id_out[UUID_TEXT_SIZE]) {
  return db_query_copy(db, &insert_thread, DB_ARGS(group_id, title, author_id, body), id_out, UUID_TEXT_SIZE);
}

static const db_stmt lock_thread = {"threads_lock", "SELECT version, created_by, pinned, locked FROM threads"
                                                    " WHERE id = $2 AND group_id = $1 FOR UPDATE"};

static const db_column thread_columns[] = {
    DB_COL_LONG(thread_row, version),
    DB_COL_TEXT(thread_row, created_by),
    DB_COL_BOOL(thread_row, pinned),
    DB_COL_BOOL(thread_row, locked),
    DB_COLUMNS_END,
};

fn_status threads_db_lock(db_conn *db, const char *group_id, const char *thread_id, thread_row *out) {
  return db_query_row(db, &lock_thread, DB_ARGS(group_id, thread_id), FN_NOT_FOUND, thread_columns, out);
}

static const db_stmt thread_exists = {"threads_exists", "SELECT 1 FROM threads WHERE id = $2 AND group_id = $1"};

fn_status threads_db_exists(db_conn *db, const char *group_id, const char *thread_id) {
  fn_status st;
  PGresult *res = db_exec_row(db, &thread_exists, DB_ARGS(group_id, thread_id), FN_NOT_FOUND, &st);
  PQclear(res);
  return res == NULL ? st : FN_OK;
}

static const db_stmt update_thread = {"threads_update", "UPDATE threads AS t SET"
                                                        " title = CASE WHEN $2::bool THEN $3 ELSE t.title END,"
                                                        " pinned = CASE WHEN $4::bool THEN $5::bool ELSE t.pinned END,"
                                                        " locked = CASE WHEN $6::bool THEN $7::bool ELSE t.locked END,"
                                                        " version = t.version + 1 WHERE t.id = $1"};

static const char *bool_param(const json_t *body, const char *key) {
  const json_t *v = json_object_get(body, key);
  return json_is_boolean(v) ? (json_is_true(v) ? "true" : "false") : NULL;
}

fn_status threads_db_update(db_conn *db, const char *thread_id, const json_t *body) {
  return db_exec_command(db, &update_thread,
                         DB_ARGS(thread_id, db_param_present(body, "title"), body_string(body, "title"),
                                 db_param_present(body, "pinned"), bool_param(body, "pinned"),
                                 db_param_present(body, "locked"), bool_param(body, "locked")));
}

static const db_stmt delete_thread = {"threads_delete", "DELETE FROM threads WHERE id = $1"};

fn_status threads_db_delete(db_conn *db, const char *thread_id) { return db_exec_on(db, &delete_thread, thread_id); }

/* The Post of `p`, its author `pm`. */
// clang-format off
#define POST_FIELDS_SQL(F, SEP)                                                                                        \
  F("id", "p.id") SEP                                                                                                  \
  F("thread_id", "p.thread_id") SEP                                                                                    \
  F("author", AUTHOR_JSON_SQL("pm")) SEP                                                                               \
  F("body", "p.body") SEP                                                                                              \
  F("created_at", "rfc3339(p.created_at)") SEP                                                                         \
  F("edited_at", "rfc3339(p.edited_at)") SEP                                                                           \
  F("removed", "p.removed_at IS NOT NULL") SEP                                                                         \
  F("version", "p.version")
// clang-format on
#define POST_JSON_SQL DB_JSON_OBJECT(POST_FIELDS_SQL)
#define POST_COLUMNS_SQL DB_COLUMNS(POST_FIELDS_SQL)

/* Served by posts_thread_created. */
static const db_stmt list_posts = {"posts_list", "SELECT cursor_key(p.created_at, p.id), " POST_COLUMNS_SQL
                                                 " FROM posts p JOIN members pm ON pm.id = p.author_id"
                                                 " WHERE p.thread_id = $1" DB_PAGE_AFTER("p.created_at", "p.id")};

fn_status posts_db_list(db_conn *db, const char *thread_id, const page_request *page, PGresult **result) {
  return db_query_page(db, &list_posts, thread_id, page, result);
}

static const db_stmt get_post = {"posts_get", "SELECT " POST_JSON_SQL ", p.version"
                                              " FROM posts p JOIN members pm ON pm.id = p.author_id"
                                              " JOIN threads t ON t.id = p.thread_id AND t.group_id = $1"
                                              " WHERE p.thread_id = $2 AND p.id = $3"};

fn_status posts_db_get(db_conn *db, const char *group_id, const char *thread_id, const char *post_id,
                       db_representation *out) {
  return db_get_representation(db, &get_post, DB_ARGS(group_id, thread_id, post_id), &out->json, &out->version);
}

/* The thread's row lock (this UPDATE, or the handler's threads_db_lock before it) orders concurrent
 * posts: each gets the next seq and unread counts never skip or repeat one. Recipients: the thread's
 * author and earlier posters (the statement's snapshot does not see the new post) who are still active
 * members with active accounts, never the poster ($2). */
static const db_stmt insert_post = {
    "posts_insert",
    "WITH t AS (UPDATE threads SET post_count = post_count + 1,"
    "           last_post_at = greatest(clock_timestamp(), last_post_at) WHERE id = $1"
    "           RETURNING id, group_id, created_by, post_count, last_post_at),"
    " p AS (INSERT INTO posts (thread_id, seq, author_id, body, created_at)"
    "       SELECT t.id, t.post_count, $2, $3, t.last_post_at FROM t RETURNING id),"
    " r AS (INSERT INTO thread_reads AS tr (thread_id, member_id, read_upto) SELECT t.id, $2, t.post_count FROM t"
    "       ON CONFLICT (thread_id, member_id) DO UPDATE"
    "       SET read_upto = greatest(tr.read_upto, excluded.read_upto), read_at = clock_timestamp()),"
    " n AS (INSERT INTO notifications (member_id, kind, subject_type, subject_id, group_id, title)"
    "       SELECT gm.member_id, 'thread.reply', 'thread', t.id, t.group_id, " GROUP_TITLE_SQL(
        "New reply in ") "       FROM t JOIN groups g ON g.id = t.group_id"
                         "       JOIN group_memberships gm ON gm.group_id = t.group_id AND gm.state = 'active'"
                         "       JOIN members m ON m.id = gm.member_id AND m.status = 'active'"
                         "       WHERE gm.member_id <> $2 AND (gm.member_id = t.created_by"
                         "         OR EXISTS (SELECT 1 FROM posts q WHERE q.thread_id = t.id AND q.author_id = "
                         "gm.member_id)))"
                         " SELECT id FROM p"};

fn_status posts_db_insert(db_conn *db, const char *thread_id, const char *body, const char *author_id,
                          char id_out[UUID_TEXT_SIZE]) {
  return db_query_copy(db, &insert_post, DB_ARGS(thread_id, author_id, body), id_out, UUID_TEXT_SIZE);
}

static const db_stmt lock_post = {"posts_lock", "SELECT version, author_id, removed_at IS NOT NULL FROM posts"
                                                " WHERE id = $2 AND thread_id = $1 FOR UPDATE"};

static const db_column post_columns[] = {
    DB_COL_LONG(post_row, version),
    DB_COL_TEXT(post_row, author_id),
    DB_COL_BOOL(post_row, removed),
    DB_COLUMNS_END,
};

fn_status posts_db_lock(db_conn *db, const char *thread_id, const char *post_id, post_row *out) {
  return db_query_row(db, &lock_post, DB_ARGS(thread_id, post_id), FN_NOT_FOUND, post_columns, out);
}

/* $2 NULL removes: the words go, the row (and its place in the thread) stays. */
static const db_stmt write_post = {"posts_write",
                                   "UPDATE posts SET body = $2::text,"
                                   " edited_at = CASE WHEN $2::text IS NULL THEN edited_at ELSE clock_timestamp() END,"
                                   " removed_at = CASE WHEN $2::text IS NULL THEN clock_timestamp() END,"
                                   " version = version + 1 WHERE id = $1"};

fn_status posts_db_write(db_conn *db, const char *post_id, const char *body) {
  return db_exec_command(db, &write_post, DB_ARGS(post_id, body));
}

static const db_stmt mark_read = {
    "threads_mark_read", "INSERT INTO thread_reads AS tr (thread_id, member_id, read_upto)"
                         " SELECT p.thread_id, $3, p.seq FROM posts p WHERE p.id = $2 AND p.thread_id = $1"
                         " ON CONFLICT (thread_id, member_id) DO UPDATE"
                         " SET read_upto = greatest(tr.read_upto, excluded.read_upto), read_at = clock_timestamp()"
                         " RETURNING 1"};

fn_status threads_db_mark_read(db_conn *db, const char *thread_id, const char *post_id, const char *member_id) {
  fn_status st;
  PGresult *res = db_exec_row(db, &mark_read, DB_ARGS(thread_id, post_id, member_id), FN_NOT_FOUND, &st);
  PQclear(res);
  return res == NULL ? st : FN_OK;
}

fn_status threads_can_read(const group_access *a) { return groups_is_active_member(a) ? FN_OK : FN_NOT_FOUND; }

fn_status threads_can_write(const group_access *a, const char **detail) {
  fn_status st = threads_can_read(a);
  if (st != FN_OK)
    return st;
  if (strcmp(a->status, "dormant") == 0 || strcmp(a->status, "closed") == 0) {
    *detail = "The group is dormant or closed: its discussions are read-only.";
    return FN_CONFLICT;
  }
  return FN_OK;
}
