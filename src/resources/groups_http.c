/* /v1/groups: forum groups themselves (API.md section 5). */
#include <stdio.h>
#include <string.h>

#include "forumnet/body.h"
#include "forumnet/groups_db.h"
#include "forumnet/http.h"
#include "forumnet/pagination.h"
#include "forumnet/routes.h"
#include "forumnet/sites_db.h"
#include "forumnet/text.h"

#define NO_SUCH_GROUP "No such group."

static const char *const composition_choices[] = {"multi_disciplinary", "single_discipline", NULL};
static const char *const focus_choices[] = {"organisation", "locality", "specialism", "other", NULL};
static const char *const status_choices[] = {"forming", "active", "dormant", "closed", NULL};
static const char *const settable_status_choices[] = {"forming", "active", "dormant", NULL};

/* status is read-only in a POST (a group is proposed forming), settable in a PATCH. */
static const char *const group_read_only[] = {
    "status", "id", "member_count", "terms_version", "closed_at", "version", "created_at", "my_membership", NULL};

/* POST and PATCH bodies (FIELD_REQUIRED applies to POST only). */
static const field_spec group_fields[] = {
    {"name", FIELD_STRING, FIELD_REQUIRED, 1, 200, NULL},
    {"site_id", FIELD_UUID, FIELD_NULLABLE | FIELD_CREATE_ONLY, 0, 0, NULL},
    {"purpose", FIELD_STRING, FIELD_NULLABLE, 1, 2000, NULL},
    {"composition", FIELD_ENUM, 0, 0, 0, composition_choices},
    {"focus", FIELD_ENUM, 0, 0, 0, focus_choices},
    {"min_members", FIELD_INTEGER, 0, 2, 50, NULL},
    {"max_members", FIELD_INTEGER, 0, 2, 50, NULL},
    {"status", FIELD_ENUM, FIELD_UPDATE_ONLY, 0, 0, settable_status_choices},
    FIELDS_READ_ONLY(group_read_only),
    {NULL, 0, 0, 0, 0, NULL},
};

static long body_int(const json_t *body, const char *key, long fallback) {
  json_t *v = json_object_get(body, key);
  return json_is_integer(v) ? (long)json_integer_value(v) : fallback;
}

/* min_members <= max_members, each from the body or else from the group (fallbacks). */
static fn_status check_sizes(fn_req *req, long min_fallback, long max_fallback, long *max) {
  *max = body_int(req->body, "max_members", max_fallback);
  if (body_int(req->body, "min_members", min_fallback) > *max)
    return req_invalid_field(req, "min_members", "must not exceed max_members");
  return FN_OK;
}

/* Reads the Group as the caller sees it inside the transaction, then commits and replies. */
static fn_status group_commit_reply(fn_req *req, db_conn *db, int http_status, const char *id) {
  char location[80];
  db_representation rep = {NULL, 0};
  fn_status st = groups_db_get(db, id, req->caller.id, &rep);
  if (st != FN_OK)
    return st;
  snprintf(location, sizeof location, "/v1/groups/%s", id);
  return req_commit_reply(req, http_status, rep.json, rep.version, http_status == 201 ? location : NULL);
}

static fn_status groups_http_list(fn_req *req) {
  page_request page;
  PGresult *res = NULL;
  const char *site_id = req_query(req, "site_id"), *status = req_query(req, "status"), *mine = req_query(req, "mine");
  db_conn *db;
  fn_status st;
  json_t *errors = NULL;
  if (site_id && !text_is_uuid(site_id))
    field_errors_add(&errors, "site_id", "must be a UUID");
  if (status && !text_is_choice(status, status_choices))
    field_errors_add(&errors, "status", "must be one of: forming active dormant closed");
  if (mine && strcmp(mine, "true") != 0 && strcmp(mine, "false") != 0)
    field_errors_add(&errors, "mine", "must be true or false");
  if ((st = page_open(req, &page, errors, &db)) != FN_OK)
    return st;
  st = groups_db_list(db, req->caller.id, site_id, status, mine && strcmp(mine, "true") == 0, &page, &res);
  return page_reply_result(req, st, res, &page);
}

/* The Group for a caller who may view it (an item_reader): FN_NOT_FOUND for one they may not. */
static fn_status read_viewable_group(db_conn *db, const char *caller_id, const char *id, db_representation *out) {
  group_access access;
  fn_status st;
  if ((st = groups_db_access(db, id, caller_id, 0, &access)) == FN_OK && (st = groups_require_view(&access)) == FN_OK)
    st = groups_db_get(db, id, caller_id, out);
  return st;
}

static fn_status groups_http_get(fn_req *req) {
  return req_reply_item(req, "group_id", NO_SUCH_GROUP, read_viewable_group);
}

/* Who may propose a group there, and whether its site is open. */
static fn_status check_create(fn_req *req, db_conn *db, const char *site_id, member_caller *caller) {
  const char *detail = NULL;
  int manages = 0, site_open = 1;
  fn_status st;
  if ((st = members_db_begin_as_caller(db, req->caller.id, caller)) != FN_OK ||
      (site_id && (st = sites_db_is_manager(db, site_id, caller->id, &manages)) != FN_OK) ||
      (st = groups_can_create(caller, site_id, manages, &detail)) != FN_OK ||
      (site_id && (st = sites_db_is_open(db, site_id, &site_open)) != FN_OK))
    return req_problem(req, st, detail);
  return site_open ? FN_OK : req_invalid_field(req, "site_id", "is not an open site");
}

static fn_status groups_http_create(fn_req *req) {
  const char *site_id = body_string(req->body, "site_id");
  member_caller caller;
  char id[UUID_TEXT_SIZE];
  long max;
  db_conn *db;
  fn_status st;
  if ((st = req_validate_body(req, group_fields, BODY_CREATE)) != FN_OK ||
      (st = check_sizes(req, 4, 8, &max)) != FN_OK || (st = req_db(req, &db)) != FN_OK ||
      (st = check_create(req, db, site_id, &caller)) != FN_OK)
    return st;
  if ((st = groups_db_insert(db, req->body, caller.id, id)) != FN_OK ||
      (st = req_audit(req, "group.created", "group", id, NULL)) != FN_OK)
    return st;
  return group_commit_reply(req, db, 201, id);
}

/* The problem of a failed PATCH: the rule's own detail, or the one the broken rule gave. */
static fn_status update_failed(fn_req *req, fn_status st, const char *detail) {
  return req_problem(req, st,
                     st == FN_NOT_FOUND   ? NO_SUCH_GROUP
                     : st == FN_FORBIDDEN ? "Only the group's conveners and facilitators may change it."
                                          : detail);
}

/* The checks of a PATCH that need the locked group. */
static fn_status check_update(fn_req *req, db_conn *db, const char *id) {
  group_access a;
  const char *detail = NULL;
  long max;
  fn_status st;
  if ((st = groups_db_lock_access(db, id, req->caller.id, &a)) != FN_OK || (st = groups_require_leader(&a)) != FN_OK ||
      (st = groups_require_open(&a, &detail)) != FN_OK || (st = req_if_match(req, a.version)) != FN_OK)
    return update_failed(req, st, detail);
  if ((st = check_sizes(req, a.min_members, a.max_members, &max)) != FN_OK)
    return st;
  if (max < a.member_count)
    return update_failed(req, FN_CONFLICT, "max_members is below the number of active members.");
  return FN_OK;
}

/* A requested status of active is the forming/active rule's to grant (groups_db_recompute). */
static fn_status check_became_active(fn_req *req, db_conn *db, const char *id) {
  const char *wanted = body_string(req->body, "status");
  group_access after;
  fn_status st;
  if (wanted == NULL || strcmp(wanted, "active") != 0)
    return FN_OK;
  if ((st = groups_db_access(db, id, req->caller.id, 0, &after)) != FN_OK)
    return update_failed(req, st, NULL);
  if (strcmp(after.status, "active") != 0)
    return req_problem(
        req, FN_CONFLICT,
        "A group is active only with at least min_members active members who all accepted the current terms.");
  return FN_OK;
}

static fn_status groups_http_update(fn_req *req) {
  const char *id;
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "group_id", NO_SUCH_GROUP, &id)) != FN_OK ||
      (st = req_validate_body(req, group_fields, BODY_UPDATE)) != FN_OK || (st = req_db(req, &db)) != FN_OK ||
      (st = check_update(req, db, id)) != FN_OK)
    return st;
  if (json_object_size(req->body) > 0 && ((st = groups_db_update(db, id, req->body)) != FN_OK ||
                                          (st = req_audit(req, "group.updated", "group", id, req->body)) != FN_OK))
    return update_failed(req, st, NULL);
  if ((st = check_became_active(req, db, id)) != FN_OK)
    return st;
  if ((st = group_commit_reply(req, db, 200, id)) != FN_OK)
    return update_failed(req, st, NULL);
  return FN_OK;
}

static fn_status groups_http_close(fn_req *req) {
  const char *id;
  group_access a;
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "group_id", NO_SUCH_GROUP, &id)) != FN_OK || (st = req_db(req, &db)) != FN_OK)
    return st;
  if ((st = groups_db_lock_access(db, id, req->caller.id, &a)) != FN_OK || (st = groups_can_close(&a)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_GROUP : NULL);
  if (strcmp(a.status, "closed") != 0 &&
      ((st = groups_db_close(db, id)) != FN_OK || (st = req_audit(req, "group.closed", "group", id, NULL)) != FN_OK))
    return st;
  return req_commit_no_content(req);
}

const fn_route groups_routes[] = {
    ROUTES_COLLECTION("/v1/groups", "{group_id}", groups, 0),
    {"DELETE", "/v1/groups/{group_id}", groups_http_close, 0},
    {NULL, NULL, NULL, 0},
};
