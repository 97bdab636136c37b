/* /v1/groups/{group_id}/threads: a group's discussions between meetings (API.md section 11). Only the
 * group's active members know of them: everyone else, admins and managers included, gets 404. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "forumnet/body.h"
#include "forumnet/groups_db.h"
#include "forumnet/http.h"
#include "forumnet/pagination.h"
#include "forumnet/routes.h"
#include "forumnet/text.h"
#include "forumnet/threads.h"

#define NO_SUCH_GROUP "No such group."
#define NO_SUCH_THREAD "No such thread."
#define NO_SUCH_POST "No such post."
#define SEARCH_MAX_CHARS 200

static const char *const thread_read_only[] = {"id",         "group_id",     "created_by", "created_at", "last_post_at",
                                               "post_count", "unread_count", "version",    NULL};
static const char *const post_read_only[] = {"id",        "thread_id", "author",  "created_at",
                                             "edited_at", "removed",   "version", NULL};

/* POST {title, body} opens a thread with its first post; PATCH changes title, pinned, locked. */
static const field_spec thread_fields[] = {
    {"title", FIELD_STRING, FIELD_REQUIRED, 1, 200, NULL},
    {"body", FIELD_STRING, FIELD_REQUIRED | FIELD_CREATE_ONLY, 1, 20000, NULL},
    {"pinned", FIELD_BOOLEAN, FIELD_UPDATE_ONLY, 0, 0, NULL},
    {"locked", FIELD_BOOLEAN, FIELD_UPDATE_ONLY, 0, 0, NULL},
    FIELDS_READ_ONLY(thread_read_only),
    {NULL, 0, 0, 0, 0, NULL},
};

static const field_spec post_fields[] = {
    {"body", FIELD_STRING, FIELD_REQUIRED, 1, 20000, NULL},
    FIELDS_READ_ONLY(post_read_only),
    {NULL, 0, 0, 0, 0, NULL},
};

static const field_spec read_fields[] = {
    {"post_id", FIELD_UUID, FIELD_REQUIRED, 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

/* The path's ids: the group's, and the thread's and the post's when asked for (404 for ids that
 * cannot exist). */
static fn_status discussion_path(fn_req *req, const char **group_id, const char **thread_id, const char **post_id) {
  fn_status st = req_path_id(req, "group_id", NO_SUCH_GROUP, group_id);
  if (st == FN_OK && thread_id != NULL)
    st = req_path_id(req, "thread_id", NO_SUCH_THREAD, thread_id);
  if (st == FN_OK && post_id != NULL)
    st = req_path_id(req, "post_id", NO_SUCH_POST, post_id);
  return st;
}

/* The caller may read the group's discussions; with thread_id, the thread is one of the group's. */
static fn_status check_read(fn_req *req, db_conn *db, const char *group_id, const char *thread_id) {
  group_access access;
  fn_status st;
  if ((st = groups_db_access(db, group_id, req->caller.id, 0, &access)) != FN_OK ||
      (st = threads_can_read(&access)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_GROUP : NULL);
  if (thread_id == NULL || (st = threads_db_exists(db, group_id, thread_id)) == FN_OK)
    return FN_OK;
  return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_THREAD : NULL);
}

/* Begins a write's transaction: locks the group (so a concurrent close, or the caller leaving, cannot
 * slip in before commit), checks that the caller may write, then locks the thread when thread_id is given. */
static fn_status begin_write(fn_req *req, db_conn *db, const char *group_id, const char *thread_id,
                             group_access *access, thread_row *thread) {
  const char *detail = NULL;
  fn_status st;
  if ((st = groups_db_lock_access(db, group_id, req->caller.id, access)) != FN_OK ||
      (st = threads_can_write(access, &detail)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_GROUP : detail);
  if (thread_id != NULL && (st = threads_db_lock(db, group_id, thread_id, thread)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_THREAD : NULL);
  return FN_OK;
}

/* Authors change their own words; conveners and facilitators moderate. FN_FORBIDDEN with why. */
static fn_status require(fn_req *req, int allowed, const char *why) {
  return allowed ? FN_OK : req_problem(req, FN_FORBIDDEN, why);
}

static int is_me(const fn_req *req, const char *member_id) { return strcasecmp(req->caller.id, member_id) == 0; }

/* A moderation's audit row: ids only, never words (the audit log is read by administrators). */
static fn_status audit_discussion(fn_req *req, const char *action, const char *type, const char *id,
                                  const char *group_id, const char *thread_id) {
  json_t *details = json_pack("{s:s}", "group_id", group_id);
  if (thread_id != NULL)
    json_object_set_new(details, "thread_id", json_string(thread_id));
  fn_status st = req_audit(req, action, type, id, details);
  json_decref(details);
  return st;
}

/* Commits a change to the thread and answers its representation. */
static fn_status commit_thread(fn_req *req, db_conn *db, int http_status, const char *group_id, const char *id,
                               const char *location) {
  db_representation rep = {NULL, 0};
  fn_status st = threads_db_get(db, group_id, id, req->caller.id, &rep);
  return st == FN_OK ? req_commit_reply(req, http_status, rep.json, rep.version, location) : st;
}

static fn_status commit_post(fn_req *req, db_conn *db, int http_status, const char *group_id, const char *thread_id,
                             const char *id, const char *location) {
  db_representation rep = {NULL, 0};
  fn_status st = posts_db_get(db, group_id, thread_id, id, &rep);
  return st == FN_OK ? req_commit_reply(req, http_status, rep.json, rep.version, location) : st;
}

static fn_status threads_http_list(fn_req *req) {
  const char *group_id, *q = req_query(req, "q");
  page_request page;
  PGresult *res = NULL;
  json_t *errors = NULL;
  db_conn *db;
  fn_status st;
  long q_chars = q != NULL ? utf8_length(q) : 0;
  if (q != NULL && (q_chars < 1 || q_chars > SEARCH_MAX_CHARS || strspn(q, " \t\r\n") == strlen(q)))
    field_errors_add(&errors, "q", "must be 1 to 200 characters, not blank");
  if ((st = page_open_under(req, "group_id", NO_SUCH_GROUP, &group_id, &page, errors, &db)) != FN_OK ||
      (st = check_read(req, db, group_id, NULL)) != FN_OK)
    return st;
  st = threads_db_list(db, group_id, req->caller.id, q, &page, &res);
  return page_reply_result(req, st, res, &page);
}

static fn_status threads_http_create(fn_req *req) {
  const char *group_id;
  group_access access;
  char id[UUID_TEXT_SIZE], location[160];
  db_conn *db;
  fn_status st;
  if ((st = discussion_path(req, &group_id, NULL, NULL)) != FN_OK ||
      (st = req_validate_body(req, thread_fields, BODY_CREATE)) != FN_OK || (st = req_db(req, &db)) != FN_OK ||
      (st = begin_write(req, db, group_id, NULL, &access, NULL)) != FN_OK ||
      (st = threads_db_insert(db, group_id, body_string(req->body, "title"), body_string(req->body, "body"),
                              access.caller_id, id)) != FN_OK)
    return st;
  snprintf(location, sizeof location, "/v1/groups/%s/threads/%s", group_id, id);
  return commit_thread(req, db, 201, group_id, id, location);
}

/* The thread's ETag is its version (for If-Match); never 304: unread_count differs from caller to caller
 * and moves without a new version. */
static fn_status threads_http_get(fn_req *req) {
  const char *group_id, *id;
  db_representation rep = {NULL, 0};
  db_conn *db;
  fn_status st;
  if ((st = discussion_path(req, &group_id, &id, NULL)) != FN_OK || (st = req_db(req, &db)) != FN_OK ||
      (st = check_read(req, db, group_id, NULL)) != FN_OK)
    return st;
  if ((st = threads_db_get(db, group_id, id, req->caller.id, &rep)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_THREAD : NULL);
  reply_representation(req, 200, rep.json, rep.version, NULL);
  return FN_OK;
}

/* Audits a change of pinned or locked (a moderation): thread.pinned, thread.unpinned, ... */
static fn_status audit_flag(fn_req *req, const char *flag, int stored, const char *group_id, const char *id) {
  const json_t *v = json_object_get(req->body, flag);
  if (v == NULL || json_is_true(v) == stored)
    return FN_OK;
  char action[32];
  snprintf(action, sizeof action, "thread.%s%s", json_is_true(v) ? "" : "un", flag);
  return audit_discussion(req, action, "thread", id, group_id, NULL);
}

/* A change to a thread or a post: the path's ids, and the group, the thread and (for a post) the post locked. */
typedef struct discussion_change {
  const char *group_id, *thread_id, *id; /* id: the post's, NULL for a change to the thread */
  group_access access;
  thread_row thread;
  post_row post;
  db_conn *db;
} discussion_change;

/* Begins the change of begin_write to the path's thread, or with of_post to its post (locked too). */
static fn_status begin_change(fn_req *req, discussion_change *c, int of_post) {
  fn_status st;
  c->id = NULL;
  if ((st = discussion_path(req, &c->group_id, &c->thread_id, of_post ? &c->id : NULL)) != FN_OK ||
      (st = req_db(req, &c->db)) != FN_OK ||
      (st = begin_write(req, c->db, c->group_id, c->thread_id, &c->access, &c->thread)) != FN_OK || !of_post)
    return st;
  if ((st = posts_db_lock(c->db, c->thread_id, c->id, &c->post)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_POST : NULL);
  return FN_OK;
}

/* begin_change for a removal, which only the author of the thread (or post) and the group's conveners and
 * facilitators may make, of the version If-Match names. */
static fn_status begin_removal(fn_req *req, discussion_change *c, int of_post) {
  fn_status st = begin_change(req, c, of_post);
  if (st != FN_OK)
    return st;
  const char *author = of_post ? c->post.author_id : c->thread.created_by;
  if ((st = require(
           req, is_me(req, author) || groups_is_leader(&c->access),
           of_post ? "Only the post's author and the group's conveners and facilitators remove a post."
                   : "Only the thread's author and the group's conveners and facilitators remove a thread.")) != FN_OK)
    return st;
  return req_if_match(req, of_post ? c->post.version : c->thread.version);
}

static fn_status threads_http_update(fn_req *req) {
  discussion_change c;
  fn_status st;
  if ((st = req_validate_body(req, thread_fields, BODY_UPDATE)) != FN_OK || (st = begin_change(req, &c, 0)) != FN_OK)
    return st;
  int moderates = json_object_get(req->body, "pinned") != NULL || json_object_get(req->body, "locked") != NULL;
  if ((st = require(req, !moderates || groups_is_leader(&c.access),
                    "Only the group's conveners and facilitators pin and lock threads.")) != FN_OK ||
      (st = require(req, json_object_get(req->body, "title") == NULL || is_me(req, c.thread.created_by),
                    "Only the thread's author changes its title.")) != FN_OK ||
      (st = req_if_match(req, c.thread.version)) != FN_OK)
    return st;
  if (json_object_size(req->body) > 0 &&
      ((st = threads_db_update(c.db, c.thread_id, req->body)) != FN_OK ||
       (st = audit_flag(req, "pinned", c.thread.pinned, c.group_id, c.thread_id)) != FN_OK ||
       (st = audit_flag(req, "locked", c.thread.locked, c.group_id, c.thread_id)) != FN_OK))
    return st;
  return commit_thread(req, c.db, 200, c.group_id, c.thread_id, NULL);
}

static fn_status threads_http_delete(fn_req *req) {
  discussion_change c;
  fn_status st;
  if ((st = begin_removal(req, &c, 0)) != FN_OK || (st = threads_db_delete(c.db, c.thread_id)) != FN_OK ||
      (st = audit_discussion(req, "thread.removed", "thread", c.thread_id, c.group_id, NULL)) != FN_OK)
    return st;
  return req_commit_no_content(req);
}

static fn_status posts_http_list(fn_req *req) {
  const char *group_id, *thread_id;
  page_request page;
  PGresult *res = NULL;
  db_conn *db;
  fn_status st;
  if ((st = discussion_path(req, &group_id, &thread_id, NULL)) != FN_OK ||
      (st = page_open(req, &page, NULL, &db)) != FN_OK || (st = check_read(req, db, group_id, thread_id)) != FN_OK)
    return st;
  st = posts_db_list(db, thread_id, &page, &res);
  return page_reply_result(req, st, res, &page);
}

static fn_status posts_http_create(fn_req *req) {
  const char *group_id, *thread_id;
  group_access access;
  thread_row thread;
  char id[UUID_TEXT_SIZE], location[200];
  db_conn *db;
  fn_status st;
  if ((st = discussion_path(req, &group_id, &thread_id, NULL)) != FN_OK ||
      (st = req_validate_body(req, post_fields, BODY_CREATE)) != FN_OK || (st = req_db(req, &db)) != FN_OK ||
      (st = begin_write(req, db, group_id, thread_id, &access, &thread)) != FN_OK)
    return st;
  if (thread.locked)
    return req_problem(req, FN_CONFLICT, "The thread is locked: it takes no more posts.");
  if ((st = posts_db_insert(db, thread_id, body_string(req->body, "body"), access.caller_id, id)) != FN_OK)
    return st;
  snprintf(location, sizeof location, "/v1/groups/%s/threads/%s/posts/%s", group_id, thread_id, id);
  return commit_post(req, db, 201, group_id, thread_id, id, location);
}

static fn_status posts_http_get(fn_req *req) {
  const char *group_id, *thread_id, *id;
  db_representation rep = {NULL, 0};
  db_conn *db;
  fn_status st;
  if ((st = discussion_path(req, &group_id, &thread_id, &id)) != FN_OK || (st = req_db(req, &db)) != FN_OK ||
      (st = check_read(req, db, group_id, NULL)) != FN_OK)
    return st;
  st = posts_db_get(db, group_id, thread_id, id, &rep);
  return reply_conditional_result(req, st, &rep, NO_SUCH_POST);
}

static fn_status posts_http_update(fn_req *req) {
  discussion_change c;
  fn_status st;
  if ((st = req_validate_body(req, post_fields, BODY_UPDATE)) != FN_OK || (st = begin_change(req, &c, 1)) != FN_OK ||
      (st = require(req, is_me(req, c.post.author_id), "Only the post's author edits it.")) != FN_OK ||
      (st = req_if_match(req, c.post.version)) != FN_OK)
    return st;
  if (c.post.removed)
    return req_problem(req, FN_CONFLICT, "The post was removed.");
  if (c.thread.locked)
    return req_problem(req, FN_CONFLICT, "The thread is locked: its posts are no longer edited.");
  const char *body = body_string(req->body, "body");
  if (body != NULL && (st = posts_db_write(c.db, c.id, body)) != FN_OK)
    return st;
  return commit_post(req, c.db, 200, c.group_id, c.thread_id, c.id, NULL);
}

static fn_status posts_http_delete(fn_req *req) {
  discussion_change c;
  fn_status st;
  if ((st = begin_removal(req, &c, 1)) != FN_OK)
    return st;
  if (!c.post.removed && ((st = posts_db_write(c.db, c.id, NULL)) != FN_OK ||
                          (st = audit_discussion(req, "post.removed", "post", c.id, c.group_id, c.thread_id)) != FN_OK))
    return st;
  return req_commit_no_content(req);
}

static fn_status threads_http_mark_read(fn_req *req) {
  const char *group_id, *thread_id;
  db_conn *db;
  fn_status st;
  if ((st = discussion_path(req, &group_id, &thread_id, NULL)) != FN_OK ||
      (st = req_validate_body(req, read_fields, BODY_CREATE)) != FN_OK || (st = req_db(req, &db)) != FN_OK ||
      (st = check_read(req, db, group_id, thread_id)) != FN_OK)
    return st;
  st = threads_db_mark_read(db, thread_id, body_string(req->body, "post_id"), req->caller.id);
  if (st == FN_NOT_FOUND)
    return req_invalid_field(req, "post_id", "is not a post of this thread");
  if (st != FN_OK)
    return st;
  reply_empty(req, 204);
  return FN_OK;
}

const fn_route discussions_routes[] = {
    ROUTES_COLLECTION_SLOW("/v1/groups/{group_id}/threads", "{thread_id}", threads, 0, ROUTE_SLOW, 0),
    {"DELETE", "/v1/groups/{group_id}/threads/{thread_id}", threads_http_delete, 0},
    ROUTES_COLLECTION("/v1/groups/{group_id}/threads/{thread_id}/posts", "{post_id}", posts, 0),
    {"DELETE", "/v1/groups/{group_id}/threads/{thread_id}/posts/{post_id}", posts_http_delete, 0},
    {"PUT", "/v1/groups/{group_id}/threads/{thread_id}/read", threads_http_mark_read, ROUTE_JSON_BODY},
    {NULL, NULL, NULL, 0},
};
