/* /v1/groups/{group_id}/members: joining, invitations, approval, roles and leaving
 * (API.md section 5). Joining is voluntary: a membership becomes active only by a
 * leader approving the member's own request, or by the member accepting an invitation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/audit_db.h"
#include "forumnet/body.h"
#include "forumnet/groups_db.h"
#include "forumnet/http.h"
#include "forumnet/memberships_db.h"
#include "forumnet/pagination.h"
#include "forumnet/routes.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

static const char *const invite_role_choices[] = {"member", "facilitator", "representative", NULL};
static const char *const role_choices[] = {"member", "convener", "facilitator", "representative", NULL};
static const char *const state_choices[] = {"active", NULL};
static const char *const list_state_choices[] = {"requested", "invited", "active", NULL};

#define MEMBERSHIP_READ_ONLY_FIELDS                                                                                    \
  {"group_id", FIELD_READ_ONLY, 0, 0, 0, NULL}, {"display_name", FIELD_READ_ONLY, 0, 0, 0, NULL},                      \
      {"represents_group_name", FIELD_READ_ONLY, 0, 0, 0, NULL}, {"joined_at", FIELD_READ_ONLY, 0, 0, 0, NULL},        \
      {"accepted_terms_version", FIELD_READ_ONLY, 0, 0, 0, NULL}, {                                                    \
    "version", FIELD_READ_ONLY, 0, 0, 0, NULL                                                                          \
  }

static const field_spec membership_create_fields[] = {
    {"member_id", FIELD_UUID, 0, 0, 0, NULL},
    {"role", FIELD_ENUM, 0, 0, 0, invite_role_choices},
    {"represents_group_id", FIELD_UUID, FIELD_NULLABLE, 0, 0, NULL},
    {"state", FIELD_READ_ONLY, 0, 0, 0, NULL},
    MEMBERSHIP_READ_ONLY_FIELDS,
    {NULL, 0, 0, 0, 0, NULL},
};

static const field_spec membership_update_fields[] = {
    {"state", FIELD_ENUM, 0, 0, 0, state_choices},
    {"role", FIELD_ENUM, 0, 0, 0, role_choices},
    {"represents_group_id", FIELD_UUID, FIELD_NULLABLE, 0, 0, NULL},
    {"member_id", FIELD_READ_ONLY, 0, 0, 0, NULL},
    MEMBERSHIP_READ_ONLY_FIELDS,
    {NULL, 0, 0, 0, 0, NULL},
};

static void reply_field_error(fn_req *req, const char *field, const char *message) {
  json_t *errors = NULL;
  field_errors_add(&errors, field, message);
  if (req->db)
    db_rollback(req->db);
  reply_invalid(req, errors);
}

/* The Membership and its version (read on the request's connection). */
static fn_status load_membership(fn_req *req, const char *group_id, const char *member_id, char **json, long *version) {
  fn_status st = memberships_db_get(req->db, group_id, member_id, json);
  if (st != FN_OK)
    return st;
  json_t *parsed = json_loads(*json, 0, NULL);
  *version = parsed ? (long)json_integer_value(json_object_get(parsed, "version")) : 0;
  json_decref(parsed);
  return FN_OK;
}

/* Reads the Membership inside the transaction, then commits and replies. */
static fn_status commit_and_reply_membership(fn_req *req, int http_status, const char *group_id,
                                             const char *member_id) {
  char *json = NULL, location[128];
  long version = 0;
  fn_status st = load_membership(req, group_id, member_id, &json, &version);
  if (st != FN_OK)
    return st;
  snprintf(location, sizeof location, "/v1/groups/%s/members/%s", group_id, member_id);
  return req_commit_reply(req, http_status, json, version, http_status == 201 ? location : NULL);
}

/* A representative may name, in a network-wide group, the site group they speak for. */
static fn_status check_represents(fn_req *req, db_conn *db, const group_access *a, const char *member_id,
                                  const char *represents, int *ok) {
  *ok = 1;
  if (represents == NULL)
    return FN_OK;
  if (a->site_id[0] != '\0') {
    *ok = 0;
    reply_field_error(req, "represents_group_id", "only memberships of network-wide groups represent a group");
    return FN_OK;
  }
  int is = 0;
  fn_status st = memberships_db_represents(db, member_id, represents, &is);
  if (st == FN_OK && !is) {
    *ok = 0;
    reply_field_error(req, "represents_group_id", "must be a site group where the member is an active representative");
  }
  return st;
}

static fn_status memberships_http_create(fn_req *req) {
  const char *gid = req_param(req, "group_id"), *detail = NULL;
  if (!req_is_id(gid)) {
    req_fail(req, FN_NOT_FOUND, "No such group.");
    return FN_OK;
  }
  if (req_validate_body_or_reply(req, membership_create_fields) != FN_OK)
    return FN_OK;
  const char *target = body_string(req->body, "member_id");
  const char *role = body_string(req->body, "role");
  const char *represents = body_string(req->body, "represents_group_id");
  int self = target == NULL || strcmp(target, req->caller.id) == 0;
  if (self)
    target = req->caller.id;
  if (self && role) {
    reply_field_error(req, "role", "is given by the group's conveners and facilitators, not in a join request");
    return FN_OK;
  }
  group_access a;
  membership_candidate who;
  int ok = 1;
  fn_status st;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = db_begin(db)) != FN_OK || (st = groups_db_access(db, gid, req->caller.id, 1, &a)) != FN_OK ||
      (st = groups_require_view(&a)) != FN_OK)
    goto fail;
  if (!self && !groups_is_leader(&a)) {
    st = FN_FORBIDDEN;
    detail = "Only the group's conveners and facilitators may invite.";
    goto fail;
  }
  if ((st = groups_require_open(&a, &detail)) != FN_OK ||
      (st = memberships_db_candidate(db, gid, target, &who)) != FN_OK)
    goto fail;
  if (!who.active) {
    reply_field_error(req, "member_id", "is not an active member");
    return FN_OK;
  }
  if (!groups_member_eligible(&a, who.role, who.home_site, who.manages_site)) {
    st = FN_FORBIDDEN;
    detail = "Members join groups at their own site (facilitators may join any group).";
    goto fail;
  }
  if ((st = check_represents(req, db, &a, target, represents, &ok)) != FN_OK)
    goto fail;
  if (!ok)
    return FN_OK;
  json_t *details = json_pack("{s:s}", "member_id", target);
  st = memberships_db_insert(db, gid, target, self ? "requested" : "invited", role ? role : "member", represents,
                             self ? NULL : req->caller.id);
  if (st == FN_OK)
    st = req_audit(req, self ? "membership.requested" : "membership.invited", "group", gid, details);
  if (st == FN_OK)
    st = groups_db_recompute(db, gid, GROUP_CHANGE_MEMBERSHIP);
  json_decref(details);
  if (st == FN_CONFLICT)
    detail = "This member already has a membership of the group.";
  if (st != FN_OK || (st = commit_and_reply_membership(req, 201, gid, target)) != FN_OK)
    goto fail;
  return FN_OK;
fail:
  req_fail(req, st, st == FN_NOT_FOUND ? "No such group." : detail);
  return FN_OK;
}

/* Approving a request (a leader) or accepting an invitation (the invitee). */
static fn_status activate(fn_req *req, db_conn *db, const group_access *a, const char *mid, const membership_row *m,
                          int self, const char **detail) {
  if (strcmp(m->state, "active") == 0)
    return FN_OK;
  if (strcmp(m->state, "requested") == 0 && (self || !groups_is_leader(a))) {
    *detail = "A join request is approved by the group's conveners and facilitators.";
    return FN_FORBIDDEN;
  }
  if (strcmp(m->state, "invited") == 0 && !self) {
    *detail = "Only the invited member can accept an invitation.";
    return FN_FORBIDDEN;
  }
  if (a->member_count >= a->max_members) {
    *detail = "The group is full (max_members active members).";
    return FN_CONFLICT;
  }
  json_t *details = json_pack("{s:s, s:s}", "member_id", mid, "from", m->state);
  fn_status st = memberships_db_activate(db, a->group_id, mid);
  if (st == FN_OK)
    st = req_audit(req, "membership.activated", "group", a->group_id, details);
  json_decref(details);
  return st;
}

/* Role changes keep at least one convener or facilitator, and end a representation
 * when a representative becomes something else. */
static fn_status change_role(fn_req *req, db_conn *db, const group_access *a, const char *mid, const membership_row *m,
                             const char *role, const char **detail) {
  if (strcmp(m->role, role) == 0)
    return FN_OK;
  if (!groups_is_leader(a)) {
    *detail = "Only the group's conveners and facilitators change roles.";
    return FN_FORBIDDEN;
  }
  long others = 0;
  fn_status st;
  if (memberships_is_leader_role(m->role) && !memberships_is_leader_role(role)) {
    if ((st = memberships_db_other_leaders(db, a->group_id, mid, &others)) != FN_OK)
      return st;
    if (others == 0) {
      *detail = "A group keeps at least one convener or facilitator.";
      return FN_CONFLICT;
    }
  }
  if (strcmp(m->role, "representative") == 0 && (st = memberships_db_end_representation(db, mid, a->group_id)) != FN_OK)
    return st;
  json_t *details = json_pack("{s:s, s:s, s:s}", "member_id", mid, "from", m->role, "to", role);
  st = memberships_db_set_role(db, a->group_id, mid, role);
  if (st == FN_OK)
    st = req_audit(req, "membership.role_changed", "group", a->group_id, details);
  json_decref(details);
  return st;
}

static fn_status memberships_http_update(fn_req *req) {
  const char *gid = req_param(req, "group_id"), *mid = req_param(req, "member_id"), *detail = NULL;
  if (!req_is_id(gid) || !req_is_id(mid)) {
    req_fail(req, FN_NOT_FOUND, NULL);
    return FN_OK;
  }
  if (req_validate_body_or_reply(req, membership_update_fields) != FN_OK)
    return FN_OK;
  const char *state = body_string(req->body, "state"), *role = body_string(req->body, "role");
  json_t *represents_value = json_object_get(req->body, "represents_group_id");
  int self = strcmp(mid, req->caller.id) == 0, ok = 1;
  group_access a;
  membership_row m;
  fn_status st;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = db_begin(db)) != FN_OK || (st = groups_db_access(db, gid, req->caller.id, 1, &a)) != FN_OK ||
      (st = groups_require_view(&a)) != FN_OK)
    goto fail;
  if (!self && !groups_is_leader(&a)) {
    st = FN_FORBIDDEN;
    detail = "Only the member themself or the group's conveners and facilitators change a membership.";
    goto fail;
  }
  if ((st = memberships_db_lock(db, gid, mid, &m)) != FN_OK || (st = groups_require_open(&a, &detail)) != FN_OK ||
      (st = req_if_match(req, m.version)) != FN_OK)
    goto fail;
  /* The Group shows its caller's state and role (my_membership): their change is the Group's. */
  int mine_changed = (state && strcmp(m.state, "active") != 0) || (role && strcmp(role, m.role) != 0);
  if (state && (st = activate(req, db, &a, mid, &m, self, &detail)) != FN_OK)
    goto fail;
  if (state)
    snprintf(m.state, sizeof m.state, "active");
  if (role && strcmp(role, m.role) != 0 && !groups_is_leader(&a)) {
    st = FN_FORBIDDEN; /* who may, before whether it can: a member never gives themself a role */
    detail = "Only the group's conveners and facilitators change roles.";
    goto fail;
  }
  if ((role || represents_value) && strcmp(m.state, "active") != 0) {
    st = FN_CONFLICT;
    detail = "Roles belong to active memberships.";
    goto fail;
  }
  if (role && (st = change_role(req, db, &a, mid, &m, role, &detail)) != FN_OK)
    goto fail;
  if (represents_value) {
    const char *represents = json_string_value(represents_value);
    if (!self && !groups_is_leader(&a)) {
      st = FN_FORBIDDEN;
      goto fail;
    }
    if ((st = check_represents(req, db, &a, mid, represents, &ok)) != FN_OK)
      goto fail;
    if (!ok)
      return FN_OK;
    json_t *details = json_pack("{s:s, s:o}", "member_id", mid, "represents_group_id",
                                represents ? json_string(represents) : json_null());
    st = memberships_db_set_represents(db, gid, mid, represents);
    if (st == FN_OK)
      st = req_audit(req, "membership.represents_changed", "group", gid, details);
    json_decref(details);
    if (st != FN_OK)
      goto fail;
  }
  if ((st = groups_db_recompute(db, gid, mine_changed ? GROUP_CHANGE_MEMBERSHIP : GROUP_CHANGE_DERIVED)) != FN_OK ||
      (st = commit_and_reply_membership(req, 200, gid, mid)) != FN_OK)
    goto fail;
  return FN_OK;
fail:
  req_fail(req, st, st == FN_NOT_FOUND ? "No such membership." : detail);
  return FN_OK;
}

static fn_status memberships_http_delete(fn_req *req) {
  const char *gid = req_param(req, "group_id"), *mid = req_param(req, "member_id"), *detail = NULL;
  if (!req_is_id(gid) || !req_is_id(mid)) {
    req_fail(req, FN_NOT_FOUND, NULL);
    return FN_OK;
  }
  int self = strcmp(mid, req->caller.id) == 0;
  group_access a;
  membership_row m;
  long others = 0;
  fn_status st;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = db_begin(db)) != FN_OK || (st = groups_db_access(db, gid, req->caller.id, 1, &a)) != FN_OK ||
      (st = groups_require_view(&a)) != FN_OK)
    goto fail;
  if (!self && !groups_is_leader(&a)) {
    st = FN_FORBIDDEN;
    detail = "Only the member themself or the group's conveners and facilitators end a membership.";
    goto fail;
  }
  if ((st = memberships_db_lock(db, gid, mid, &m)) != FN_OK || (st = groups_require_open(&a, &detail)) != FN_OK)
    goto fail;
  if (strcmp(m.state, "active") == 0 && memberships_is_leader_role(m.role) && a.member_count > 1) {
    if ((st = memberships_db_other_leaders(db, gid, mid, &others)) != FN_OK)
      goto fail;
    if (others == 0) {
      st = FN_CONFLICT;
      detail = "The last convener or facilitator cannot leave while others remain; hand the role on first.";
      goto fail;
    }
  }
  json_t *details = json_pack("{s:s, s:s}", "member_id", mid, "state", m.state);
  st = memberships_db_delete(db, gid, mid);
  if (st == FN_OK && strcmp(m.role, "representative") == 0)
    st = memberships_db_end_representation(db, mid, gid);
  if (st == FN_OK)
    st = req_audit(req, self ? "membership.left" : "membership.removed", "group", gid, details);
  json_decref(details);
  if (st != FN_OK || (st = groups_db_recompute(db, gid, GROUP_CHANGE_MEMBERSHIP)) != FN_OK ||
      (st = db_commit(db)) != FN_OK)
    goto fail;
  reply_empty(req, 204);
  return FN_OK;
fail:
  req_fail(req, st, st == FN_NOT_FOUND ? "No such membership." : detail);
  return FN_OK;
}

static fn_status memberships_http_list(fn_req *req) {
  const char *gid = req_param(req, "group_id"), *state = req_query(req, "state");
  page_request page;
  group_access a;
  PGresult *res = NULL;
  if (!req_is_id(gid)) {
    req_fail(req, FN_NOT_FOUND, "No such group.");
    return FN_OK;
  }
  if (page_from_request_or_reply(req, &page) != FN_OK)
    return FN_OK;
  if (state && !text_is_choice(state, list_state_choices)) {
    reply_field_error(req, "state", "must be one of: requested invited active");
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  fn_status st;
  if ((st = groups_db_access(db, gid, req->caller.id, 0, &a)) != FN_OK || (st = groups_require_inner(&a)) != FN_OK ||
      (st = memberships_db_list(db, gid, state, &page, &res)) != FN_OK) {
    req_fail(req, st,
             st == FN_NOT_FOUND   ? "No such group."
             : st == FN_FORBIDDEN ? "Only the group's active members see its members."
                                  : NULL);
    return FN_OK;
  }
  page_reply(req, res, 0, 1, &page);
  PQclear(res);
  return FN_OK;
}

static fn_status memberships_http_get(fn_req *req) {
  const char *gid = req_param(req, "group_id"), *mid = req_param(req, "member_id");
  group_access a;
  char *json = NULL;
  long version = 0;
  fn_status st;
  if (!req_is_id(gid) || !req_is_id(mid)) {
    req_fail(req, FN_NOT_FOUND, NULL);
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  /* Everyone may read their own membership; others' follow the inner-life rule. */
  if ((st = groups_db_access(db, gid, req->caller.id, 0, &a)) != FN_OK ||
      (strcmp(mid, req->caller.id) != 0 && (st = groups_require_inner(&a)) != FN_OK) ||
      (st = groups_require_view(&a)) != FN_OK || (st = load_membership(req, gid, mid, &json, &version)) != FN_OK) {
    req_fail(req, st, st == FN_NOT_FOUND ? "No such membership." : NULL);
    return FN_OK;
  }
  reply_conditional(req, json, version);
  return FN_OK;
}

const fn_route memberships_routes[] = {
    {"GET", "/v1/groups/{group_id}/members", memberships_http_list, 0},
    {"POST", "/v1/groups/{group_id}/members", memberships_http_create,
     ROUTE_JSON_BODY | ROUTE_OPTIONAL_BODY | ROUTE_IDEMPOTENT},
    {"GET", "/v1/groups/{group_id}/members/{member_id}", memberships_http_get, 0},
    {"PATCH", "/v1/groups/{group_id}/members/{member_id}", memberships_http_update, ROUTE_JSON_BODY},
    {"DELETE", "/v1/groups/{group_id}/members/{member_id}", memberships_http_delete, 0},
    {NULL, NULL, NULL, 0},
};
