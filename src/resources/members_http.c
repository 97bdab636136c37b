/* /v1/members and /v1/me: accounts, their roles and self-service (API.md sections 3, 4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/audit_db.h"
#include "forumnet/auth_db.h"
#include "forumnet/body.h"
#include "forumnet/groups_db.h"
#include "forumnet/http.h"
#include "forumnet/members_db.h"
#include "forumnet/pagination.h"
#include "forumnet/password.h"
#include "forumnet/registrations_db.h"
#include "forumnet/routes.h"
#include "forumnet/sites_db.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

/* What a manager is told when the email belongs to an account outside their sites: it does not say
 * that an account exists, nor whose or where (README "Members"). */
#define EMAIL_UNAVAILABLE "This email address cannot be used for a new account here; an admin can help."

static const char *const role_choices[] = {"admin", "manager", "facilitator", "practitioner", NULL};
static const char *const settable_status_choices[] = {"active", "suspended", NULL};

#define MEMBER_READ_ONLY_FIELDS                                                                                        \
  {"id", FIELD_READ_ONLY, 0, 0, 0, NULL}, {"version", FIELD_READ_ONLY, 0, 0, 0, NULL},                                 \
      {"created_at", FIELD_READ_ONLY, 0, 0, 0, NULL}, {                                                                \
    "must_change_password", FIELD_READ_ONLY, 0, 0, 0, NULL                                                             \
  }

static const field_spec member_create_fields[] = {
    {"email", FIELD_EMAIL, FIELD_REQUIRED, 0, 0, NULL},
    {"display_name", FIELD_STRING, FIELD_REQUIRED, 1, 100, NULL},
    {"role", FIELD_ENUM, FIELD_REQUIRED, 0, 0, role_choices},
    {"home_site_id", FIELD_UUID, FIELD_NULLABLE, 0, 0, NULL},
    {"discipline", FIELD_STRING, FIELD_NULLABLE, 1, 100, NULL},
    {"status", FIELD_READ_ONLY, 0, 0, 0, NULL},
    MEMBER_READ_ONLY_FIELDS,
    {NULL, 0, 0, 0, 0, NULL},
};

static const field_spec member_update_fields[] = {
    {"email", FIELD_EMAIL, 0, 0, 0, NULL},
    {"display_name", FIELD_STRING, 0, 1, 100, NULL},
    {"role", FIELD_ENUM, 0, 0, 0, role_choices},
    {"home_site_id", FIELD_UUID, 0, 0, 0, NULL},
    {"discipline", FIELD_STRING, FIELD_NULLABLE, 1, 100, NULL},
    {"status", FIELD_ENUM, 0, 0, 0, settable_status_choices},
    MEMBER_READ_ONLY_FIELDS,
    {NULL, 0, 0, 0, 0, NULL},
};

/* On /v1/me a member changes only their own profile and password. */
static const field_spec me_update_fields[] = {
    {"display_name", FIELD_STRING, 0, 1, 100, NULL},
    {"discipline", FIELD_STRING, FIELD_NULLABLE, 1, 100, NULL},
    {"current_password", FIELD_STRING, 0, 1, PASSWORD_MAX_BYTES, NULL},
    {"new_password", FIELD_STRING, 0, 1, PASSWORD_MAX_BYTES, NULL},
    {"email", FIELD_READ_ONLY, 0, 0, 0, NULL},
    {"role", FIELD_READ_ONLY, 0, 0, 0, NULL},
    {"status", FIELD_READ_ONLY, 0, 0, 0, NULL},
    {"home_site_id", FIELD_READ_ONLY, 0, 0, 0, NULL},
    MEMBER_READ_ONLY_FIELDS,
    {NULL, 0, 0, 0, 0, NULL},
};

static void reply_member(fn_req *req, int http_status, char *json, long version) {
  reply_etag(req, version);
  reply_json_text(req, http_status, json, strlen(json));
  free(json);
}

static member_changes changes_from_body(const json_t *body) {
  member_changes c = {
      .email = body_string(body, "email"),
      .display_name = body_string(body, "display_name"),
      .role = body_string(body, "role"),
      .home_site_id = body_string(body, "home_site_id"),
      .status = body_string(body, "status"),
      .set_discipline = json_object_get(body, "discipline") != NULL,
      .discipline = body_string(body, "discipline"),
  };
  return c;
}

/* A 400 naming one field, for rules that need the database to check. */
static void reply_field_error(fn_req *req, const char *field, const char *message) {
  json_t *errors = NULL;
  field_errors_add(&errors, field, message);
  if (req->db)
    db_rollback(req->db);
  reply_invalid(req, errors);
}

static fn_status members_http_list(fn_req *req) {
  page_request page;
  member_caller caller;
  PGresult *res = NULL;
  const char *site_id = req_query(req, "site_id"), *role = req_query(req, "role"), *q = req_query(req, "q");
  json_t *errors = NULL;
  if (page_from_request_or_reply(req, &page) != FN_OK)
    return FN_OK;
  if (site_id && !text_is_uuid(site_id))
    field_errors_add(&errors, "site_id", "must be a UUID");
  if (role && role_from_string(role) == ROLE_NONE)
    field_errors_add(&errors, "role", "must be one of: admin manager facilitator practitioner");
  if (q && (utf8_length(q) < 1 || utf8_length(q) > 100))
    field_errors_add(&errors, "q", "must be 1 to 100 characters long");
  if (errors) {
    reply_invalid(req, errors);
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  fn_status st = members_db_load_caller(db, req->caller.id, &caller);
  if (st == FN_OK && caller.role != ROLE_ADMIN && caller.role != ROLE_MANAGER)
    st = FN_FORBIDDEN;
  if (st == FN_OK && caller.role == ROLE_MANAGER && site_id) {
    int manages = 0;
    st = sites_db_is_manager(db, site_id, caller.id, &manages);
    if (st == FN_OK && !manages)
      st = FN_FORBIDDEN;
  }
  if (st == FN_OK)
    st = members_db_list(db, caller.id, site_id, role, q, &page, &res);
  if (st != FN_OK)
    req_fail(req, st, st == FN_FORBIDDEN ? "Only admins and the managers of a site may list its members." : NULL);
  else
    page_reply(req, res, 0, 1, &page);
  PQclear(res);
  return FN_OK;
}

static fn_status members_http_get(fn_req *req) {
  const char *id = req_param(req, "member_id");
  char *json = NULL;
  long version = 0;
  if (!req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, "No such member.");
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  fn_status st = members_db_get_visible(db, req->caller.id, id, &json, &version);
  if (st != FN_OK) {
    req_fail(req, st, st == FN_NOT_FOUND ? "No such member." : NULL);
    return FN_OK;
  }
  if (req_if_none_match(req, version)) {
    reply_etag(req, version);
    reply_empty(req, 304);
    free(json);
    return FN_OK;
  }
  reply_member(req, 200, json, version);
  return FN_OK;
}

static fn_status members_http_create(fn_req *req) {
  if (req_validate_body_or_reply(req, member_create_fields) != FN_OK)
    return FN_OK;
  const char *site_id = body_string(req->body, "home_site_id"), *detail = NULL;
  member_role role = role_from_string(body_string(req->body, "role"));
  if (site_id == NULL && role <= ROLE_FACILITATOR) {
    reply_field_error(req, "home_site_id", "is required for practitioners and facilitators");
    return FN_OK;
  }
  /* Hash before taking a connection: Argon2id is deliberately slow. */
  char one_time[21], hash[PASSWORD_HASH_MAX], *json = NULL, id[37];
  password_generate(one_time);
  fn_status st = password_hash(one_time, hash);
  member_caller caller;
  int manages = 0, site_open = 1;
  long version = 0;
  db_conn *db = st == FN_OK ? req_db_or_reply(req) : NULL;
  if (st != FN_OK)
    goto fail;
  if (db == NULL)
    return FN_OK;
  if ((st = members_db_begin_as_caller(db, req->caller.id, &caller)) != FN_OK ||
      (site_id && (st = sites_db_is_manager(db, site_id, caller.id, &manages)) != FN_OK) ||
      (st = members_can_create(&caller, role, manages, &detail)) != FN_OK ||
      (site_id && (st = sites_db_is_open(db, site_id, &site_open)) != FN_OK))
    goto fail;
  if (!site_open) {
    reply_field_error(req, "home_site_id", "is not an open site");
    return FN_OK;
  }
  json_t *details = json_pack("{s:s}", "role", role_to_string(role));
  if ((st = members_db_insert(db, req->body, hash, &json, &version, id)) == FN_OK &&
      (st = req_audit(req, "member.created", "member", id, details)) == FN_OK)
    st = db_commit(db);
  json_decref(details);
  if (st == FN_CONFLICT && caller.role != ROLE_ADMIN) {
    /* A manager learns that an account exists only where they could see it anyway (their sites). */
    int within = 0;
    db_rollback(db);
    if ((st = members_db_email_within_callers_sites(db, caller.id, body_string(req->body, "email"), &within)) ==
        FN_OK) {
      st = FN_CONFLICT;
      detail = within ? "A member with this email exists." : EMAIL_UNAVAILABLE;
    }
    goto fail;
  }
  if (st != FN_OK) {
    detail = st == FN_CONFLICT ? "A member with this email exists." : NULL;
    goto fail;
  }
  char location[80];
  snprintf(location, sizeof location, "/v1/members/%s", id);
  reply_header(req, "Location", location);
  reply_etag(req, version);
  json_t *member = json_loads(json, 0, NULL);
  free(json);
  reply_json(req, 201,
             json_pack("{s:o, s:s}", "member", member ? member : json_object(), "one_time_password", one_time));
  return FN_OK;
fail:
  free(json);
  req_fail(req, st, detail);
  return FN_OK;
}

/* Audit rows for the parts of a member change that API.md section 9 names. */
static fn_status audit_member_change(fn_req *req, const member_row *before, const member_changes *c) {
  fn_status st = FN_OK;
  if (c->role && role_from_string(c->role) != before->role) {
    json_t *d = json_pack("{s:s, s:s}", "from", role_to_string(before->role), "to", c->role);
    st = req_audit(req, "member.role_changed", "member", before->id, d);
    json_decref(d);
  }
  if (st == FN_OK && c->status && strcmp(c->status, before->status) != 0) {
    json_t *d = json_pack("{s:s, s:s}", "from", before->status, "to", c->status);
    st = req_audit(req, "member.status_changed", "member", before->id, d);
    json_decref(d);
  }
  return st;
}

/* A manager who loses the role loses their sites in the same transaction (one audit row per site),
 * so that promoting them again later does not silently give the sites back. */
static fn_status end_site_management(fn_req *req, db_conn *db, const member_row *before, const member_changes *c) {
  if (before->role != ROLE_MANAGER || c->role == NULL || role_from_string(c->role) == ROLE_MANAGER)
    return FN_OK;
  json_t *sites = NULL, *site;
  size_t i;
  fn_status st = sites_db_end_management(db, before->id, &sites);
  json_array_foreach(sites, i, site) {
    json_t *d = json_pack("{s:s, s:s}", "member_id", before->id, "reason", "role_changed");
    if (st == FN_OK)
      st = req_audit(req, "site.manager_removed", "site", json_string_value(site), d);
    json_decref(d);
  }
  json_decref(sites);
  return st;
}

/* Demoting or suspending the last active admin would lock everyone out of administration. */
static fn_status check_last_admin(db_conn *db, const member_row *target, const member_changes *c, const char **detail) {
  int loses_admin = (c->role && role_from_string(c->role) != ROLE_ADMIN) || (c->status && strcmp(c->status, "active"));
  if (target->role != ROLE_ADMIN || strcmp(target->status, "active") != 0 || !loses_admin)
    return FN_OK;
  long others = 0;
  fn_status st = members_db_other_active_admins(db, target->id, &others);
  if (st == FN_OK && others == 0) {
    *detail = "This is the last active admin.";
    return FN_CONFLICT;
  }
  return st;
}

static fn_status members_http_update(fn_req *req) {
  const char *id = req_param(req, "member_id"), *detail = NULL;
  member_caller caller;
  member_row target;
  char *json = NULL;
  long version = 0;
  int manages_new_site = 0, site_open = 1;
  fn_status st;
  if (!req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, "No such member.");
    return FN_OK;
  }
  if (req_validate_body_or_reply(req, member_update_fields) != FN_OK)
    return FN_OK;
  member_changes c = changes_from_body(req->body);
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = members_db_begin_as_caller(db, req->caller.id, &caller)) != FN_OK ||
      (st = members_db_lock(db, id, caller.id, &target)) != FN_OK ||
      (c.home_site_id && (st = sites_db_is_manager(db, c.home_site_id, caller.id, &manages_new_site)) != FN_OK) ||
      (st = members_can_update(&caller, &target, &c, manages_new_site, &detail)) != FN_OK)
    goto fail;
  if (strcmp(target.status, "erased") == 0) {
    st = FN_CONFLICT;
    detail = "An erased member cannot be changed.";
    goto fail;
  }
  if ((st = req_if_match(req, target.version)) != FN_OK || (st = check_last_admin(db, &target, &c, &detail)) != FN_OK ||
      (c.home_site_id && (st = sites_db_is_open(db, c.home_site_id, &site_open)) != FN_OK))
    goto fail;
  if (!site_open) {
    reply_field_error(req, "home_site_id", "is not an open site");
    return FN_OK;
  }
  if (json_object_size(req->body) == 0) { /* nothing to change: no new version */
    if ((st = members_db_get_visible(db, caller.id, id, &json, &version)) != FN_OK || (st = db_commit(db)) != FN_OK)
      goto fail;
    reply_member(req, 200, json, version);
    return FN_OK;
  }
  if ((st = members_db_update(db, id, &c, &json, &version)) != FN_OK ||
      (st = audit_member_change(req, &target, &c)) != FN_OK ||
      (st = end_site_management(req, db, &target, &c)) != FN_OK ||
      (c.status && strcmp(c.status, "suspended") == 0 && (st = auth_db_revoke_member(db, id)) != FN_OK) ||
      (st = db_commit(db)) != FN_OK) {
    if (st == FN_CONFLICT)
      detail = "A member with this email exists.";
    goto fail;
  }
  reply_member(req, 200, json, version);
  return FN_OK;
fail:
  free(json);
  req_fail(req, st, st == FN_NOT_FOUND ? "No such member." : detail);
  return FN_OK;
}

static fn_status members_http_get_me(fn_req *req) {
  char *json = NULL;
  long version = 0;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  fn_status st = members_db_get_self(db, req->caller.id, &json, &version);
  if (st != FN_OK) {
    req_fail(req, st, NULL);
    return FN_OK;
  }
  if (req_if_none_match(req, version)) {
    reply_etag(req, version);
    reply_empty(req, 304);
    free(json);
    return FN_OK;
  }
  reply_member(req, 200, json, version);
  return FN_OK;
}

/* Verifies the current password and hashes the new one before any transaction, since
 * both are slow on purpose. *verified_hash is the hash checked, to detect a concurrent change. */
static fn_status prepare_password_change(fn_req *req, char *verified_hash, char *new_hash, const char **detail) {
  const char *current = body_string(req->body, "current_password");
  const char *fresh = body_string(req->body, "new_password");
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_UNAVAILABLE;
  fn_status st = members_db_password_hash(db, req->caller.id, verified_hash, PASSWORD_HASH_MAX);
  req_db_release(req);
  if (st != FN_OK)
    return st;
  if (!password_verify(verified_hash, current)) {
    *detail = "The current password is wrong.";
    return FN_FORBIDDEN;
  }
  return password_hash(fresh, new_hash);
}

static fn_status members_http_update_me(fn_req *req) {
  if (req_validate_body_or_reply(req, me_update_fields) != FN_OK)
    return FN_OK;
  const char *current = body_string(req->body, "current_password");
  const char *fresh = body_string(req->body, "new_password");
  const char *detail = NULL, *policy;
  if ((current == NULL) != (fresh == NULL)) {
    reply_field_error(req, current ? "new_password" : "current_password",
                      "is required when changing the password (send current_password and new_password)");
    return FN_OK;
  }
  if (fresh && (policy = password_policy_error(fresh)) != NULL) {
    reply_field_error(req, "new_password", policy);
    return FN_OK;
  }
  char verified_hash[PASSWORD_HASH_MAX] = "", new_hash[PASSWORD_HASH_MAX] = "", locked_hash[PASSWORD_HASH_MAX];
  char *json = NULL;
  long version = 0;
  member_row self;
  fn_status st = fresh ? prepare_password_change(req, verified_hash, new_hash, &detail) : FN_OK;
  if (st != FN_OK)
    goto fail;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  member_changes c = changes_from_body(req->body);
  c.email = c.role = c.home_site_id = c.status = NULL; /* not settable here (rejected above) */
  if ((st = db_begin(db)) != FN_OK || (st = members_db_lock(db, req->caller.id, req->caller.id, &self)) != FN_OK ||
      (st = req_if_match(req, self.version)) != FN_OK) {
    if (st == FN_NOT_FOUND)
      st = FN_UNAUTHENTICATED; /* the token's member does not exist (any more) */
    goto fail;
  }
  if (strcmp(self.status, "active") != 0) {
    st = FN_UNAUTHENTICATED;
    goto fail;
  }
  if (fresh) {
    if ((st = members_db_password_hash(db, req->caller.id, locked_hash, sizeof locked_hash)) != FN_OK)
      goto fail;
    if (strcmp(locked_hash, verified_hash) != 0) {
      st = FN_CONFLICT;
      detail = "The password was changed meanwhile; try again.";
      goto fail;
    }
    if ((st = members_db_set_password(db, req->caller.id, new_hash)) != FN_OK ||
        (st = auth_db_revoke_member(db, req->caller.id)) != FN_OK ||
        (st = req_audit(req, "member.password_changed", "member", req->caller.id, NULL)) != FN_OK)
      goto fail;
  }
  if ((c.display_name || c.set_discipline) &&
      (st = members_db_update(db, req->caller.id, &c, &json, &version)) != FN_OK)
    goto fail;
  free(json);
  json = NULL;
  if ((st = members_db_get_self(db, req->caller.id, &json, &version)) != FN_OK || (st = db_commit(db)) != FN_OK)
    goto fail;
  reply_member(req, 200, json, version);
  return FN_OK;
fail:
  free(json);
  req_fail(req, st, detail);
  return FN_OK;
}

/* GET /v1/me/export: everything stored about the caller (a subject access request). */
static fn_status members_http_export_me(fn_req *req) {
  char *json = NULL;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  fn_status st = members_db_export(db, req->caller.id, &json);
  if (st != FN_OK) {
    req_fail(req, st, NULL);
    return FN_OK;
  }
  reply_header(req, "Content-Disposition", "attachment; filename=\"forumnet-export.json\"");
  reply_json_text(req, 200, json, strlen(json));
  free(json);
  return FN_OK;
}

/* Erasure (DELETE /v1/me, DELETE /v1/members/{id} by an admin): one transaction wipes the
 * personal fields, ends sessions, management and memberships, recomputes the groups left, and
 * writes the audit row. Contributions stay, attributed to "former member". */
static void erase_member(fn_req *req, const char *target_id, int via_me) {
  member_caller caller;
  member_row target;
  char *group_ids = NULL;
  const char *detail = NULL;
  int self = strcmp(target_id, req->caller.id) == 0;
  fn_status st;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return;
  if ((st = members_db_begin_as_caller(db, req->caller.id, &caller)) != FN_OK ||
      (st = members_db_lock(db, target_id, caller.id, &target)) != FN_OK)
    goto fail;
  /* DELETE /v1/members/{id} is admin-only, even on one's own id (API.md section 3): self-erasure
   * is DELETE /v1/me. Who may not see the member gets 404. */
  if (!via_me && caller.role != ROLE_ADMIN) {
    st = members_can_view(&caller, &target) ? FN_FORBIDDEN : FN_NOT_FOUND;
    detail = self ? "Erase your own account with DELETE /v1/me." : "Only admins erase other members.";
    goto fail;
  }
  if (strcmp(target.status, "erased") == 0) {
    db_rollback(db);
    reply_empty(req, 204);
    return;
  }
  member_changes demote = {.status = "erased"};
  if ((st = check_last_admin(db, &target, &demote, &detail)) != FN_OK ||
      (st = members_db_erase(db, target_id, &group_ids)) != FN_OK ||
      (st = registrations_db_withdraw_member(db, target_id)) != FN_OK) /* no seat held by nobody */
    goto fail;
  json_t *groups = json_loads(group_ids, 0, NULL);
  size_t i;
  json_t *g;
  json_array_foreach(groups, i, g) if (st == FN_OK) st =
      groups_db_recompute(db, json_string_value(g), GROUP_CHANGE_DERIVED);
  json_decref(groups);
  json_t *details = json_pack("{s:b}", "self", self);
  if (st == FN_OK)
    st = req_audit(req, "member.erased", "member", target_id, details);
  json_decref(details);
  if (st != FN_OK || (st = db_commit(db)) != FN_OK)
    goto fail;
  free(group_ids);
  reply_empty(req, 204);
  return;
fail:
  free(group_ids);
  req_fail(req, st, st == FN_NOT_FOUND ? "No such member." : detail);
}

static fn_status members_http_erase_me(fn_req *req) {
  erase_member(req, req->caller.id, 1);
  return FN_OK;
}

static fn_status members_http_erase(fn_req *req) {
  const char *id = req_param(req, "member_id");
  if (!req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, "No such member.");
    return FN_OK;
  }
  erase_member(req, id, 0);
  return FN_OK;
}

const fn_route members_routes[] = {
    {"GET", "/v1/me/export", members_http_export_me, 0},
    {"DELETE", "/v1/me", members_http_erase_me, 0},
    {"DELETE", "/v1/members/{member_id}", members_http_erase, 0},
    {"GET", "/v1/me", members_http_get_me, ROUTE_ONE_TIME_PASSWORD},
    {"PATCH", "/v1/me", members_http_update_me, ROUTE_JSON_BODY | ROUTE_ONE_TIME_PASSWORD},
    {"GET", "/v1/members", members_http_list, 0},
    {"POST", "/v1/members", members_http_create, ROUTE_JSON_BODY | ROUTE_IDEMPOTENT},
    {"GET", "/v1/members/{member_id}", members_http_get, 0},
    {"PATCH", "/v1/members/{member_id}", members_http_update, ROUTE_JSON_BODY},
    {NULL, NULL, NULL, 0},
};
