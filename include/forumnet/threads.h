#ifndef FORUMNET_THREADS_H
#define FORUMNET_THREADS_H

/* Group discussions (API.md section 11): threads, posts and read positions. Every statement is in
 * src/resources/threads_db.c, the routes in src/resources/discussions_http.c. */

#include <jansson.h>

#include "forumnet/db.h"
#include "forumnet/groups_db.h"
#include "forumnet/page.h"

/* A thread row locked for a change. */
typedef struct thread_row {
  long version;
  char created_by[UUID_TEXT_SIZE];
  int pinned, locked;
} thread_row;

/* A post row locked for a change. */
typedef struct post_row {
  long version;
  char author_id[UUID_TEXT_SIZE];
  int removed;
} post_row;

/* Who may do what (API.md section 11), in one place. Discussions are as confidential as notes: only
 * the group's active members know of them, whatever their role: everyone else FN_NOT_FOUND (never 403).
 * Writing also needs a group that is neither dormant nor closed (FN_CONFLICT, *detail says why). */
fn_status threads_can_read(const group_access *a);
fn_status threads_can_write(const group_access *a, const char **detail);

/* One page of a group's threads, latest activity first ((last_post_at, id) descending), with the
 * caller's unread counts; q (NULL: all) keeps the threads whose title or a post matches
 * websearch_to_tsquery('english', q). Columns (json, cursor_key). *result: caller PQclear()s. */
fn_status threads_db_list(db_conn *db, const char *group_id, const char *caller_id, const char *q,
                          const page_request *page, PGresult **result);
/* The Thread representation for the caller; FN_NOT_FOUND unless it belongs to group_id. */
fn_status threads_db_get(db_conn *db, const char *group_id, const char *thread_id, const char *caller_id,
                         db_representation *out);
/* Inside a transaction: the thread, its first post (body), the author's read position and the
 * thread.created notifications of the group's other active members. */
fn_status threads_db_insert(db_conn *db, const char *group_id, const char *title, const char *body,
                            const char *author_id, char id_out[UUID_TEXT_SIZE]);
/* FN_OK when the thread belongs to group_id, else FN_NOT_FOUND. */
fn_status threads_db_exists(db_conn *db, const char *group_id, const char *thread_id);
/* Locks the thread FOR UPDATE; FN_NOT_FOUND unless it belongs to group_id. */
fn_status threads_db_lock(db_conn *db, const char *group_id, const char *thread_id, thread_row *out);
/* title, pinned, locked when present in body; the version goes up. */
fn_status threads_db_update(db_conn *db, const char *thread_id, const json_t *body);
/* Deletes the thread with its posts and read positions. */
fn_status threads_db_delete(db_conn *db, const char *thread_id);

/* One page of a thread's posts, oldest first ((created_at, id)). Columns (json, cursor_key). */
fn_status posts_db_list(db_conn *db, const char *thread_id, const page_request *page, PGresult **result);
/* The Post representation; FN_NOT_FOUND unless it belongs to the thread of group_id. */
fn_status posts_db_get(db_conn *db, const char *group_id, const char *thread_id, const char *post_id,
                       db_representation *out);
/* Inside a transaction, the thread locked: the post with the next seq, the author's read position
 * and the thread.reply notifications of the thread's earlier participants who are active members. */
fn_status posts_db_insert(db_conn *db, const char *thread_id, const char *body, const char *author_id,
                          char id_out[UUID_TEXT_SIZE]);
/* Locks the post FOR UPDATE; FN_NOT_FOUND unless it belongs to thread_id. */
fn_status posts_db_lock(db_conn *db, const char *thread_id, const char *post_id, post_row *out);
/* A new body (edited_at set) or, with body NULL, removal (body dropped, removed_at set). */
fn_status posts_db_write(db_conn *db, const char *post_id, const char *body);

/* Marks the thread read by member_id up to post_id (never backwards); FN_NOT_FOUND when the post is
 * not one of the thread's. */
fn_status threads_db_mark_read(db_conn *db, const char *thread_id, const char *post_id, const char *member_id);

#endif
