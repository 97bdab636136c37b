/* /v1/me: a member's own account: their profile, their password and the export of everything
 * stored about them (API.md sections 3, 4). Erasing it is erasure_http.c. */
#include <stdlib.h>
#include <string.h>

#include "forumnet/auth_db.h"
#include "forumnet/body.h"
#include "forumnet/http.h"
#include "forumnet/members_db.h"
#include "forumnet/password.h"
#include "forumnet/routes.h"

static const char *const me_read_only[] = {
    "email", "role", "status", "home_site_id", "id", "version", "created_at", "must_change_password", NULL};

/* A member changes only their own profile and password here. */
static const field_spec me_fields[] = {
    {"display_name", FIELD_STRING, 0, 1, 100, NULL},
    {"discipline", FIELD_STRING, FIELD_NULLABLE, 1, 100, NULL},
    {"current_password", FIELD_STRING, 0, 1, PASSWORD_MAX_BYTES, NULL},
    {"new_password", FIELD_STRING, 0, 1, PASSWORD_MAX_BYTES, NULL},
    FIELDS_READ_ONLY(me_read_only),
    {NULL, 0, 0, 0, 0, NULL},
};

static fn_status me_http_get(fn_req *req) {
  db_representation rep = {NULL, 0};
  db_conn *db;
  fn_status st;
  if ((st = req_db(req, &db)) != FN_OK || (st = members_db_get_self(db, req->caller.id, &rep)) != FN_OK)
    return st;
  reply_conditional(req, rep.json, rep.version);
  return FN_OK;
}

/* A password change sends both passwords, and the new one must meet the policy. */
static fn_status check_password_fields(fn_req *req, const char *current, const char *fresh) {
  const char *policy;
  if ((current == NULL) != (fresh == NULL))
    return req_invalid_field(req, current ? "new_password" : "current_password",
                             "is required when changing the password (send current_password and new_password)");
  if (fresh && (policy = password_policy_error(fresh)) != NULL)
    return req_invalid_field(req, "new_password", policy);
  return FN_OK;
}

/* Verifies the current password and hashes the new one before any transaction, since
 * both are slow on purpose. verified_hash is the hash checked, to detect a concurrent change. */
static fn_status prepare_password_change(fn_req *req, const char *current, const char *fresh, char *verified_hash,
                                         char *new_hash) {
  db_conn *db;
  fn_status st;
  if ((st = req_db(req, &db)) != FN_OK)
    return st;
  st = members_db_password_hash(db, req->caller.id, verified_hash, PASSWORD_HASH_MAX);
  req_db_release(req);
  if (st != FN_OK)
    return st;
  if (!password_verify(verified_hash, current))
    return req_problem(req, FN_FORBIDDEN, "The current password is wrong.");
  return password_hash(fresh, new_hash);
}

/* Inside the transaction: stores the new hash unless the password changed since it was verified,
 * and ends every session (a credential change). */
static fn_status change_password(fn_req *req, db_conn *db, const char *verified_hash, const char *new_hash) {
  char locked_hash[PASSWORD_HASH_MAX];
  fn_status st;
  if ((st = members_db_password_hash(db, req->caller.id, locked_hash, sizeof locked_hash)) != FN_OK)
    return st;
  if (strcmp(locked_hash, verified_hash) != 0)
    return req_problem(req, FN_CONFLICT, "The password was changed meanwhile; try again.");
  if ((st = members_db_set_password(db, req->caller.id, new_hash)) != FN_OK ||
      (st = auth_db_revoke_member(db, req->caller.id)) != FN_OK)
    return st;
  return req_audit(req, "member.password_changed", "member", req->caller.id, NULL);
}

/* Begins the transaction with the caller's own row locked; the token's member must (still) be
 * an active account. */
static fn_status begin_as_self(fn_req *req, db_conn *db) {
  member_row self;
  fn_status st;
  if ((st = db_begin(db)) != FN_OK || (st = members_db_lock(db, req->caller.id, req->caller.id, &self)) != FN_OK ||
      (st = req_if_match(req, self.version)) != FN_OK)
    return st == FN_NOT_FOUND ? FN_UNAUTHENTICATED : st; /* the token's member does not exist (any more) */
  return strcmp(self.status, "active") == 0 ? FN_OK : FN_UNAUTHENTICATED;
}

static fn_status me_http_update(fn_req *req) {
  char verified_hash[PASSWORD_HASH_MAX] = "", new_hash[PASSWORD_HASH_MAX] = "";
  const char *current = body_string(req->body, "current_password");
  const char *fresh = body_string(req->body, "new_password");
  db_representation rep = {NULL, 0};
  db_conn *db;
  fn_status st;
  if ((st = req_validate_body(req, me_fields, BODY_UPDATE)) != FN_OK ||
      (st = check_password_fields(req, current, fresh)) != FN_OK ||
      (fresh && (st = prepare_password_change(req, current, fresh, verified_hash, new_hash)) != FN_OK) ||
      (st = req_db(req, &db)) != FN_OK || (st = begin_as_self(req, db)) != FN_OK ||
      (fresh && (st = change_password(req, db, verified_hash, new_hash)) != FN_OK))
    return st;
  member_changes c = members_changes_from_body(req->body);
  c.email = c.role = c.home_site_id = c.status = NULL; /* not settable here (rejected above) */
  if ((c.display_name || c.set_discipline) && (st = members_db_update(db, req->caller.id, &c, &rep)) != FN_OK)
    return st;
  free(rep.json); /* the representation here adds must_change_password */
  rep.json = NULL;
  if ((st = members_db_get_self(db, req->caller.id, &rep)) != FN_OK)
    return st;
  return req_commit_reply(req, 200, rep.json, rep.version, NULL);
}

/* GET /v1/me/export: everything stored about the caller (a subject access request). */
static fn_status me_http_export(fn_req *req) {
  char *json = NULL;
  db_conn *db;
  fn_status st;
  if ((st = req_db(req, &db)) != FN_OK || (st = members_db_export(db, req->caller.id, &json)) != FN_OK)
    return st;
  reply_header(req, "Content-Disposition", "attachment; filename=\"forumnet-export.json\"");
  reply_json_text(req, 200, json, strlen(json));
  free(json);
  return FN_OK;
}

/* DELETE /v1/me is erasure_http.c; its route comes first (erasure_routes) so that Allow lists
 * DELETE, GET, PATCH as before. */
const fn_route me_routes[] = {
    {"GET", "/v1/me/export", me_http_export, ROUTE_SLOW},
    {"GET", "/v1/me", me_http_get, ROUTE_ONE_TIME_PASSWORD},
    {"PATCH", "/v1/me", me_http_update, ROUTE_JSON_BODY | ROUTE_ONE_TIME_PASSWORD | ROUTE_SLOW}, /* Argon2id */
    {NULL, NULL, NULL, 0},
};
