/* /v1/groups: forum groups themselves (API.md section 5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/audit_db.h"
#include "forumnet/body.h"
#include "forumnet/groups_db.h"
#include "forumnet/http.h"
#include "forumnet/pagination.h"
#include "forumnet/routes.h"
#include "forumnet/sites_db.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

static const char *const composition_choices[] = {"multi_disciplinary", "single_discipline", NULL};
static const char *const focus_choices[] = {"organisation", "locality", "specialism", "other", NULL};
static const char *const status_choices[] = {"forming", "active", "dormant", "closed", NULL};
static const char *const settable_status_choices[] = {"forming", "active", "dormant", NULL};

#define GROUP_READ_ONLY_FIELDS                                                                                         \
  {"id", FIELD_READ_ONLY, 0, 0, 0, NULL}, {"member_count", FIELD_READ_ONLY, 0, 0, 0, NULL},                            \
      {"terms_version", FIELD_READ_ONLY, 0, 0, 0, NULL}, {"closed_at", FIELD_READ_ONLY, 0, 0, 0, NULL},                \
      {"version", FIELD_READ_ONLY, 0, 0, 0, NULL}, {"created_at", FIELD_READ_ONLY, 0, 0, 0, NULL}, {                   \
    "my_membership", FIELD_READ_ONLY, 0, 0, 0, NULL                                                                    \
  }

static const field_spec group_create_fields[] = {
    {"name", FIELD_STRING, FIELD_REQUIRED, 1, 200, NULL},
    {"site_id", FIELD_UUID, FIELD_NULLABLE, 0, 0, NULL},
    {"purpose", FIELD_STRING, FIELD_NULLABLE, 1, 2000, NULL},
    {"composition", FIELD_ENUM, 0, 0, 0, composition_choices},
    {"focus", FIELD_ENUM, 0, 0, 0, focus_choices},
    {"min_members", FIELD_INTEGER, 0, 2, 50, NULL},
    {"max_members", FIELD_INTEGER, 0, 2, 50, NULL},
    {"status", FIELD_READ_ONLY, 0, 0, 0, NULL},
    GROUP_READ_ONLY_FIELDS,
    {NULL, 0, 0, 0, 0, NULL},
};

static const field_spec group_update_fields[] = {
    {"name", FIELD_STRING, 0, 1, 200, NULL},
    {"purpose", FIELD_STRING, FIELD_NULLABLE, 1, 2000, NULL},
    {"composition", FIELD_ENUM, 0, 0, 0, composition_choices},
    {"focus", FIELD_ENUM, 0, 0, 0, focus_choices},
    {"min_members", FIELD_INTEGER, 0, 2, 50, NULL},
    {"max_members", FIELD_INTEGER, 0, 2, 50, NULL},
    {"status", FIELD_ENUM, 0, 0, 0, settable_status_choices},
    {"site_id", FIELD_READ_ONLY, 0, 0, 0, NULL},
    GROUP_READ_ONLY_FIELDS,
    {NULL, 0, 0, 0, 0, NULL},
};

static long body_int(const json_t *body, const char *key, long fallback) {
  json_t *v = json_object_get(body, key);
  return json_is_integer(v) ? (long)json_integer_value(v) : fallback;
}

static void reply_field_error(fn_req *req, const char *field, const char *message) {
  json_t *errors = NULL;
  field_errors_add(&errors, field, message);
  if (req->db)
    db_rollback(req->db);
  reply_invalid(req, errors);
}

/* Reads the Group as the caller sees it inside the transaction, then commits and replies. */
static fn_status commit_and_reply_group(fn_req *req, db_conn *db, int http_status, const char *id) {
  char *json = NULL, location[80];
  long version = 0;
  fn_status st = groups_db_get(db, id, req->caller.id, &json, &version);
  if (st != FN_OK)
    return st;
  snprintf(location, sizeof location, "/v1/groups/%s", id);
  return req_commit_reply(req, http_status, json, version, http_status == 201 ? location : NULL);
}

static fn_status groups_http_list(fn_req *req) {
  page_request page;
  PGresult *res = NULL;
  const char *site_id = req_query(req, "site_id"), *status = req_query(req, "status"), *mine = req_query(req, "mine");
  json_t *errors = NULL;
  if (page_from_request_or_reply(req, &page) != FN_OK)
    return FN_OK;
  if (site_id && !text_is_uuid(site_id))
    field_errors_add(&errors, "site_id", "must be a UUID");
  if (status && !text_is_choice(status, status_choices))
    field_errors_add(&errors, "status", "must be one of: forming active dormant closed");
  if (mine && strcmp(mine, "true") != 0 && strcmp(mine, "false") != 0)
    field_errors_add(&errors, "mine", "must be true or false");
  if (errors) {
    reply_invalid(req, errors);
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  fn_status st = groups_db_list(db, req->caller.id, site_id, status, mine && strcmp(mine, "true") == 0, &page, &res);
  return page_reply_result(req, st, res, &page);
}

static fn_status groups_http_get(fn_req *req) {
  const char *id = req_param(req, "group_id");
  group_access access;
  char *json = NULL;
  long version = 0;
  fn_status st;
  if (!req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, "No such group.");
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = groups_db_access(db, id, req->caller.id, 0, &access)) != FN_OK ||
      (st = groups_require_view(&access)) != FN_OK ||
      (st = groups_db_get(db, id, req->caller.id, &json, &version)) != FN_OK) {
    req_fail(req, st, st == FN_NOT_FOUND ? "No such group." : NULL);
    return FN_OK;
  }
  reply_conditional(req, json, version);
  return FN_OK;
}

static fn_status groups_http_create(fn_req *req) {
  if (req_validate_body_or_reply(req, group_create_fields) != FN_OK)
    return FN_OK;
  const char *site_id = body_string(req->body, "site_id"), *detail = NULL;
  if (body_int(req->body, "min_members", 4) > body_int(req->body, "max_members", 8)) {
    reply_field_error(req, "min_members", "must not exceed max_members");
    return FN_OK;
  }
  member_caller caller;
  int manages = 0, site_open = 1;
  char id[37];
  fn_status st;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = members_db_begin_as_caller(db, req->caller.id, &caller)) != FN_OK ||
      (site_id && (st = sites_db_is_manager(db, site_id, caller.id, &manages)) != FN_OK) ||
      (st = groups_can_create(&caller, site_id, manages, &detail)) != FN_OK ||
      (site_id && (st = sites_db_is_open(db, site_id, &site_open)) != FN_OK))
    goto fail;
  if (!site_open) {
    reply_field_error(req, "site_id", "is not an open site");
    return FN_OK;
  }
  if ((st = groups_db_insert(db, req->body, caller.id, id)) != FN_OK ||
      (st = req_audit(req, "group.created", "group", id, NULL)) != FN_OK ||
      (st = commit_and_reply_group(req, db, 201, id)) != FN_OK)
    goto fail;
  return FN_OK;
fail:
  req_fail(req, st, detail);
  return FN_OK;
}

static fn_status groups_http_update(fn_req *req) {
  const char *id = req_param(req, "group_id"), *detail = NULL;
  group_access a;
  fn_status st;
  if (!req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, "No such group.");
    return FN_OK;
  }
  if (req_validate_body_or_reply(req, group_update_fields) != FN_OK)
    return FN_OK;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = db_begin(db)) != FN_OK || (st = groups_db_access(db, id, req->caller.id, 1, &a)) != FN_OK ||
      (st = groups_require_leader(&a)) != FN_OK || (st = groups_require_open(&a, &detail)) != FN_OK ||
      (st = req_if_match(req, a.version)) != FN_OK)
    goto fail;
  long min = body_int(req->body, "min_members", a.min_members), max = body_int(req->body, "max_members", a.max_members);
  if (min > max) {
    reply_field_error(req, "min_members", "must not exceed max_members");
    return FN_OK;
  }
  if (max < a.member_count) {
    st = FN_CONFLICT;
    detail = "max_members is below the number of active members.";
    goto fail;
  }
  if (json_object_size(req->body) > 0 && ((st = groups_db_update(db, id, req->body)) != FN_OK ||
                                          (st = req_audit(req, "group.updated", "group", id, req->body)) != FN_OK))
    goto fail;
  const char *wanted = body_string(req->body, "status");
  if (wanted && strcmp(wanted, "active") == 0) {
    group_access after;
    if ((st = groups_db_access(db, id, req->caller.id, 0, &after)) != FN_OK)
      goto fail;
    if (strcmp(after.status, "active") != 0) {
      st = FN_CONFLICT;
      detail = "A group is active only with at least min_members active members who all accepted the current terms.";
      goto fail;
    }
  }
  if ((st = commit_and_reply_group(req, db, 200, id)) != FN_OK)
    goto fail;
  return FN_OK;
fail:
  req_fail(req, st,
           st == FN_NOT_FOUND   ? "No such group."
           : st == FN_FORBIDDEN ? "Only the group's conveners and facilitators may change it."
                                : detail);
  return FN_OK;
}

static fn_status groups_http_close(fn_req *req) {
  const char *id = req_param(req, "group_id");
  group_access a;
  fn_status st;
  if (!req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, "No such group.");
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = db_begin(db)) != FN_OK || (st = groups_db_access(db, id, req->caller.id, 1, &a)) != FN_OK ||
      (st = groups_can_close(&a)) != FN_OK)
    goto fail;
  if (strcmp(a.status, "closed") != 0 &&
      ((st = groups_db_close(db, id)) != FN_OK || (st = req_audit(req, "group.closed", "group", id, NULL)) != FN_OK))
    goto fail;
  if ((st = db_commit(db)) != FN_OK)
    goto fail;
  reply_empty(req, 204);
  return FN_OK;
fail:
  req_fail(req, st, st == FN_NOT_FOUND ? "No such group." : NULL);
  return FN_OK;
}

const fn_route groups_routes[] = {
    {"GET", "/v1/groups", groups_http_list, 0},
    {"POST", "/v1/groups", groups_http_create, ROUTE_JSON_BODY | ROUTE_IDEMPOTENT},
    {"GET", "/v1/groups/{group_id}", groups_http_get, 0},
    {"PATCH", "/v1/groups/{group_id}", groups_http_update, ROUTE_JSON_BODY},
    {"DELETE", "/v1/groups/{group_id}", groups_http_close, 0},
    {NULL, NULL, NULL, 0},
};
