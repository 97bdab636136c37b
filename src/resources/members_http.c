/* /v1/members: accounts as admins and site managers see and change them (API.md sections 3, 4).
 * A member's own account is /v1/me (me_http.c); erasure is erasure_http.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/auth_db.h"
#include "forumnet/body.h"
#include "forumnet/calendar_feeds_db.h"
#include "forumnet/http.h"
#include "forumnet/mail_db.h"
#include "forumnet/members_db.h"
#include "forumnet/pagination.h"
#include "forumnet/password.h"
#include "forumnet/routes.h"
#include "forumnet/sites_db.h"
#include "forumnet/text.h"

#define NO_SUCH_MEMBER "No such member."
#define EMAIL_EXISTS "A member with this email exists."
/* What a manager is told when the email belongs to an account outside their sites: it does not say
 * that an account exists, nor whose or where (README "Members"). */
#define EMAIL_UNAVAILABLE "This email address cannot be used for a new account here; an admin can help."

static const char *const role_choices[] = {"admin", "manager", "facilitator", "practitioner", NULL};
static const char *const settable_status_choices[] = {"active", "suspended", NULL};
/* status is set by PATCH only (in a POST the update-only entry is passed over and the name is read-only). */
static const char *const member_read_only[] = {"id", "version", "created_at", "must_change_password", "status", NULL};

/* POST and PATCH bodies (FIELD_REQUIRED applies to POST only). A new member may have no home site (admins
 * and managers), but a home site cannot be removed: the update-only entry is not nullable. */
static const field_spec member_fields[] = {
    {"email", FIELD_EMAIL, FIELD_REQUIRED, 0, 0, NULL},
    {"display_name", FIELD_STRING, FIELD_REQUIRED, 1, 100, NULL},
    {"role", FIELD_ENUM, FIELD_REQUIRED, 0, 0, role_choices},
    {"home_site_id", FIELD_UUID, FIELD_UPDATE_ONLY, 0, 0, NULL},
    {"home_site_id", FIELD_UUID, FIELD_NULLABLE, 0, 0, NULL},
    {"discipline", FIELD_STRING, FIELD_NULLABLE, 1, 100, NULL},
    {"status", FIELD_ENUM, FIELD_UPDATE_ONLY, 0, 0, settable_status_choices},
    {"send_invite", FIELD_BOOLEAN, FIELD_CREATE_ONLY, 0, 0, NULL},
    FIELDS_READ_ONLY(member_read_only),
    {NULL, 0, 0, 0, 0, NULL},
};

/* A member's home site (when one is given) must be open. */
static fn_status check_home_site_open(fn_req *req, db_conn *db, const char *site_id) {
  int open = 1;
  fn_status st = site_id ? sites_db_is_open(db, site_id, &open) : FN_OK;
  if (st == FN_OK && !open)
    st = req_invalid_field(req, "home_site_id", "is not an open site");
  return st;
}

/* The errors of the list's filters, NULL when they are valid. */
static json_t *list_query_errors(const char *site_id, const char *role, const char *q) {
  json_t *errors = NULL;
  if (site_id && !text_is_uuid(site_id))
    field_errors_add(&errors, "site_id", "must be a UUID");
  if (role && role_from_string(role) == ROLE_NONE)
    field_errors_add(&errors, "role", "must be one of: admin manager facilitator practitioner");
  if (q && (utf8_length(q) < 1 || utf8_length(q) > 100))
    field_errors_add(&errors, "q", "must be 1 to 100 characters long");
  return errors;
}

/* Admins list everyone; a manager lists the members of their sites, or of one site they manage. */
static fn_status check_may_list(fn_req *req, db_conn *db, const char *site_id, member_caller *caller) {
  int manages = 1;
  fn_status st;
  if ((st = members_db_load_caller(db, req->caller.id, caller)) != FN_OK)
    return st;
  if (caller->role == ROLE_MANAGER && site_id && (st = sites_db_is_manager(db, site_id, caller->id, &manages)) != FN_OK)
    return st;
  if ((caller->role != ROLE_ADMIN && caller->role != ROLE_MANAGER) || !manages)
    return req_problem(req, FN_FORBIDDEN, "Only admins and the managers of a site may list its members.");
  return FN_OK;
}

static fn_status members_http_list(fn_req *req) {
  page_request page;
  member_caller caller;
  PGresult *res = NULL;
  const char *site_id = req_query(req, "site_id"), *role = req_query(req, "role"), *q = req_query(req, "q");
  db_conn *db;
  fn_status st;
  if ((st = page_open(req, &page, list_query_errors(site_id, role, q), &db)) != FN_OK ||
      (st = check_may_list(req, db, site_id, &caller)) != FN_OK)
    return st;
  st = members_db_list(db, caller.id, site_id, role, q, &page, &res);
  return page_reply_result(req, st, res, &page);
}

static fn_status members_http_get(fn_req *req) {
  return req_reply_item(req, "member_id", NO_SUCH_MEMBER, members_db_get_visible);
}

/* A taken email: a manager learns that an account exists only where they could see it anyway
 * (their sites). */
static fn_status email_taken(fn_req *req, db_conn *db, const member_caller *caller) {
  int within = 0;
  fn_status st;
  if (caller->role == ROLE_ADMIN)
    return req_problem(req, FN_CONFLICT, EMAIL_EXISTS);
  db_rollback(db);
  st = members_db_email_within_callers_sites(db, caller->id, body_string(req->body, "email"), &within);
  return st != FN_OK ? st : req_problem(req, FN_CONFLICT, within ? EMAIL_EXISTS : EMAIL_UNAVAILABLE);
}

/* Ends a creation like req_commit_reply: commits, then replies the member with the one-time
 * password it was given, if any (none with send_invite; nothing when the commit fails; created's json is
 * freed either way). */
static fn_status commit_reply_created(fn_req *req, db_conn *db, const char *id, db_representation *created,
                                      const char *one_time) {
  char location[80];
  fn_status st = db_commit(db);
  if (st != FN_OK) {
    free(created->json);
    return st;
  }
  snprintf(location, sizeof location, "/v1/members/%s", id);
  reply_header(req, "Location", location);
  reply_etag(req, created->version);
  json_t *member = json_loads(created->json, 0, NULL);
  free(created->json);
  json_t *body = json_pack("{s:o}", "member", member ? member : json_object());
  if (one_time)
    json_object_set_new(body, "one_time_password", json_string(one_time));
  reply_json(req, 201, body);
  return FN_OK;
}

static fn_status members_http_create(fn_req *req) {
  const char *site_id, *detail = NULL;
  char one_time[21], hash[PASSWORD_HASH_MAX], id[UUID_TEXT_SIZE];
  member_caller caller;
  int manages = 0;
  db_representation rep = {NULL, 0};
  db_conn *db;
  fn_status st;
  if ((st = req_validate_body(req, member_fields, BODY_CREATE)) != FN_OK)
    return st;
  site_id = body_string(req->body, "home_site_id");
  member_role role = role_from_string(body_string(req->body, "role"));
  if (site_id == NULL && role <= ROLE_FACILITATOR)
    return req_invalid_field(req, "home_site_id", "is required for practitioners and facilitators");
  /* send_invite: no password at all, but a set-password link by email (valid 7 days), queued below in the
   * same transaction. Else a one-time password, hashed before taking a connection (Argon2id is slow). */
  int invite = json_is_true(json_object_get(req->body, "send_invite"));
  if (!invite) {
    password_generate(one_time);
    if ((st = password_hash(one_time, hash)) != FN_OK)
      return st;
  }
  if ((st = req_db(req, &db)) != FN_OK)
    return st;
  if ((st = members_db_begin_as_caller(db, req->caller.id, &caller)) != FN_OK ||
      (site_id && (st = sites_db_is_manager(db, site_id, caller.id, &manages)) != FN_OK) ||
      (st = members_can_create(&caller, role, manages, &detail)) != FN_OK)
    return req_problem(req, st, detail);
  if ((st = check_home_site_open(req, db, site_id)) != FN_OK)
    return st;
  json_t *details = json_pack("{s:s, s:b}", "role", role_to_string(role), "send_invite", invite);
  int queued = 0;
  if ((st = members_db_insert(db, req->body, invite ? NULL : hash, &rep, id)) == FN_OK)
    st = req_audit(req, "member.created", "member", id, details);
  if (st == FN_OK && invite)
    st =
        mail_db_queue_password_link(&req->app->cfg, db, body_string(req->body, "email"), PASSWORD_LINK_INVITE, &queued);
  json_decref(details);
  if (st != FN_OK)
    free(rep.json);
  else if ((st = commit_reply_created(req, db, id, &rep, invite ? NULL : one_time)) == FN_OK)
    return FN_OK;
  return st == FN_CONFLICT ? email_taken(req, db, &caller) : st;
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

/* The checks of a PATCH that need the locked row; detail names the broken rule. */
static fn_status check_update(fn_req *req, db_conn *db, const char *id, const member_changes *c, member_caller *caller,
                              member_row *target) {
  const char *detail = NULL;
  int manages_new_site = 0;
  fn_status st;
  if ((st = members_db_begin_as_caller(db, req->caller.id, caller)) != FN_OK ||
      (st = members_db_lock(db, id, caller->id, target)) != FN_OK ||
      (c->home_site_id && (st = sites_db_is_manager(db, c->home_site_id, caller->id, &manages_new_site)) != FN_OK) ||
      (st = members_can_update(caller, target, c, manages_new_site, &detail)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_MEMBER : detail);
  if (strcmp(target->status, "erased") == 0)
    return req_problem(req, FN_CONFLICT, "An erased member cannot be changed.");
  if ((st = req_if_match(req, target->version)) != FN_OK ||
      (st = members_db_check_last_admin(db, target, c, &detail)) != FN_OK)
    return req_problem(req, st, detail);
  return check_home_site_open(req, db, c->home_site_id);
}

/* Stores a member change with its consequences: audit rows, sites a demoted manager no longer
 * manages, and the sessions and calendar feeds of a suspended member (the feeds for good). */
static fn_status update_member(fn_req *req, db_conn *db, const member_row *target, const member_changes *c,
                               db_representation *out) {
  fn_status st;
  if ((st = members_db_update(db, target->id, c, out)) != FN_OK ||
      (st = audit_member_change(req, target, c)) != FN_OK || (st = end_site_management(req, db, target, c)) != FN_OK)
    return st;
  if (c->status == NULL || strcmp(c->status, "suspended") != 0)
    return FN_OK;
  return (st = auth_db_revoke_member(db, target->id)) != FN_OK ? st : calendar_feeds_db_revoke_member(db, target->id);
}

static fn_status members_http_update(fn_req *req) {
  const char *id;
  member_caller caller;
  member_row target;
  member_changes c;
  db_representation rep = {NULL, 0};
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "member_id", NO_SUCH_MEMBER, &id)) != FN_OK ||
      (st = req_validate_body(req, member_fields, BODY_UPDATE)) != FN_OK || (st = req_db(req, &db)) != FN_OK)
    return st;
  c = members_changes_from_body(req->body);
  if ((st = check_update(req, db, id, &c, &caller, &target)) != FN_OK)
    return st;
  if (json_object_size(req->body) == 0) /* nothing to change: no new version */
    st = members_db_get_visible(db, caller.id, id, &rep);
  else
    st = update_member(req, db, &target, &c, &rep);
  if (st != FN_OK)
    free(rep.json);
  else if ((st = req_commit_reply(req, 200, rep.json, rep.version, NULL)) == FN_OK)
    return FN_OK;
  return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_MEMBER : st == FN_CONFLICT ? EMAIL_EXISTS : NULL);
}

const fn_route members_routes[] = {
    ROUTES_COLLECTION_SLOW("/v1/members", "{member_id}", members, 0, 0, ROUTE_SLOW), /* Argon2id */
    {NULL, NULL, NULL, 0},
};
