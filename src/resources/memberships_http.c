/* /v1/groups/{group_id}/members: joining, invitations, approval, roles and leaving
 * (API.md section 5). Joining is voluntary: a membership becomes active only by a
 * leader approving the member's own request, or by the member accepting an invitation. */
#include <stdio.h>
#include <string.h>

#include "forumnet/body.h"
#include "forumnet/groups_db.h"
#include "forumnet/http.h"
#include "forumnet/mail_db.h"
#include "forumnet/memberships_db.h"
#include "forumnet/notifications.h"
#include "forumnet/pagination.h"
#include "forumnet/routes.h"
#include "forumnet/text.h"

#define NO_SUCH_GROUP "No such group."
#define NO_SUCH_MEMBERSHIP "No such membership."

static const char *const invite_role_choices[] = {"member", "facilitator", "representative", NULL};
static const char *const role_choices[] = {"member", "convener", "facilitator", "representative", NULL};
static const char *const state_choices[] = {"active", NULL};
static const char *const list_state_choices[] = {"requested", "invited", "active", NULL};

/* state is read-only in a POST (a join request or an invitation), settable in a PATCH. */
static const char *const membership_read_only[] = {
    "state",   "group_id", "display_name", "represents_group_name", "joined_at", "accepted_terms_version",
    "version", NULL};

/* POST and PATCH bodies. A POST invites to any role but convener (the second "role" entry). */
static const field_spec membership_fields[] = {
    {"member_id", FIELD_UUID, FIELD_CREATE_ONLY, 0, 0, NULL},
    {"state", FIELD_ENUM, FIELD_UPDATE_ONLY, 0, 0, state_choices},
    {"role", FIELD_ENUM, FIELD_UPDATE_ONLY, 0, 0, role_choices},
    {"role", FIELD_ENUM, 0, 0, 0, invite_role_choices},
    {"represents_group_id", FIELD_UUID, FIELD_NULLABLE, 0, 0, NULL},
    FIELDS_READ_ONLY(membership_read_only),
    {NULL, 0, 0, 0, 0, NULL},
};

/* Reads the Membership inside the transaction, then commits and replies. */
static fn_status membership_commit_reply(fn_req *req, int http_status, const char *group_id, const char *member_id) {
  char location[128];
  db_representation rep = {NULL, 0};
  fn_status st = memberships_db_get(req->db, group_id, member_id, &rep);
  if (st != FN_OK)
    return st;
  snprintf(location, sizeof location, "/v1/groups/%s/members/%s", group_id, member_id);
  return req_commit_reply(req, http_status, rep.json, rep.version, http_status == 201 ? location : NULL);
}

/* Audits a change to the group's memberships that returned st (audited only when FN_OK). Steals details. */
static fn_status audit_change(fn_req *req, fn_status st, const char *action, const char *group_id, json_t *details) {
  if (st == FN_OK)
    st = req_audit(req, action, "group", group_id, details);
  json_decref(details);
  return st;
}

/* A representative may name, in a network-wide group, the site group they speak for. */
static fn_status check_represents(fn_req *req, db_conn *db, const group_access *a, const char *member_id,
                                  const char *represents) {
  int is = 0;
  fn_status st;
  if (represents == NULL)
    return FN_OK;
  if (a->site_id[0] != '\0')
    return req_invalid_field(req, "represents_group_id", "only memberships of network-wide groups represent a group");
  if ((st = memberships_db_represents(db, member_id, represents, &is)) == FN_OK && !is)
    return req_invalid_field(req, "represents_group_id",
                             "must be a site group where the member is an active representative");
  return st;
}

/* A group keeps an active convener or facilitator besides member_id; FN_CONFLICT with detail if not. */
static fn_status require_other_leader(fn_req *req, db_conn *db, const char *group_id, const char *member_id,
                                      const char *detail) {
  long others = 0;
  fn_status st = memberships_db_other_leaders(db, group_id, member_id, &others);
  return st == FN_OK && others == 0 ? req_problem(req, FN_CONFLICT, detail) : st;
}

/* The checks of a join request (self) or an invitation of target, with the group locked in *a. */
static fn_status check_join(fn_req *req, db_conn *db, const char *gid, const char *target, int self, group_access *a) {
  membership_candidate who;
  const char *detail = NULL;
  fn_status st;
  if ((st = groups_db_lock_access(db, gid, req->caller.id, a)) != FN_OK || (st = groups_require_view(a)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_GROUP : NULL);
  if (!self && !groups_is_leader(a))
    return req_problem(req, FN_FORBIDDEN, "Only the group's conveners and facilitators may invite.");
  if ((st = groups_require_open(a, &detail)) != FN_OK ||
      (st = memberships_db_candidate(db, gid, target, &who)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_GROUP : detail);
  if (!who.active)
    return req_invalid_field(req, "member_id", "is not an active member");
  if (!groups_member_eligible(a, who.role, who.home_site, who.manages_site))
    return req_problem(req, FN_FORBIDDEN, "Members join groups at their own site (facilitators may join any group).");
  return check_represents(req, db, a, target, body_string(req->body, "represents_group_id"));
}

static fn_status memberships_http_create(fn_req *req) {
  const char *gid, *target = body_string(req->body, "member_id"), *role = body_string(req->body, "role");
  group_access a;
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "group_id", NO_SUCH_GROUP, &gid)) != FN_OK ||
      (st = req_validate_body(req, membership_fields, BODY_CREATE)) != FN_OK)
    return st;
  int self = target == NULL || strcmp(target, req->caller.id) == 0;
  if (self)
    target = req->caller.id;
  if (self && role)
    return req_invalid_field(req, "role", "is given by the group's conveners and facilitators, not in a join request");
  if ((st = req_db(req, &db)) != FN_OK || (st = check_join(req, db, gid, target, self, &a)) != FN_OK)
    return st;
  st = memberships_db_insert(db, gid, target, self ? "requested" : "invited", role ? role : "member",
                             body_string(req->body, "represents_group_id"), self ? NULL : req->caller.id);
  st = audit_change(req, st, self ? "membership.requested" : "membership.invited", gid,
                    json_pack("{s:s}", "member_id", target));
  if (st == FN_OK)
    st = req_notify(req, self ? NOTIFY_MEMBERSHIP_REQUESTED : NOTIFY_MEMBERSHIP_INVITED, gid, self ? NULL : target);
  if (st == FN_OK && !self)
    st = mail_db_queue_group_invitation(db, gid, target);
  if (st == FN_OK)
    st = groups_db_recompute(db, gid, GROUP_CHANGE_MEMBERSHIP);
  if (st != FN_OK)
    return req_problem(req, st, st == FN_CONFLICT ? "This member already has a membership of the group." : NULL);
  return membership_commit_reply(req, 201, gid, target);
}

/* Locks the group (*a) and the membership (*m) for a change by the member themself or a leader of the
 * group; forbidden is the detail for anyone else. */
static fn_status lock_membership(fn_req *req, db_conn *db, const char *gid, const char *mid, const char *forbidden,
                                 group_access *a, membership_row *m) {
  const char *detail = NULL;
  fn_status st;
  if ((st = groups_db_lock_access(db, gid, req->caller.id, a)) != FN_OK || (st = groups_require_view(a)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_MEMBERSHIP : NULL);
  if (strcmp(mid, req->caller.id) != 0 && !groups_is_leader(a))
    return req_problem(req, FN_FORBIDDEN, forbidden);
  if ((st = memberships_db_lock(db, gid, mid, m)) != FN_OK || (st = groups_require_open(a, &detail)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_MEMBERSHIP : detail);
  return FN_OK;
}

/* Approving a request (a leader) or accepting an invitation (the invitee). */
static fn_status activate(fn_req *req, db_conn *db, const group_access *a, const char *mid, const membership_row *m,
                          int self) {
  if (strcmp(m->state, "active") == 0)
    return FN_OK;
  if (strcmp(m->state, "requested") == 0 && (self || !groups_is_leader(a)))
    return req_problem(req, FN_FORBIDDEN, "A join request is approved by the group's conveners and facilitators.");
  if (strcmp(m->state, "invited") == 0 && !self)
    return req_problem(req, FN_FORBIDDEN, "Only the invited member can accept an invitation.");
  if (a->member_count >= a->max_members)
    return req_problem(req, FN_CONFLICT, "The group is full (max_members active members).");
  fn_status st =
      audit_change(req, memberships_db_change(db, MEMBERSHIP_ACTIVATE, a->group_id, mid, NULL), "membership.activated",
                   a->group_id, json_pack("{s:s, s:s}", "member_id", mid, "from", m->state));
  if (st == FN_OK && strcmp(m->state, "requested") == 0)
    st = req_notify(req, NOTIFY_MEMBERSHIP_APPROVED, a->group_id, mid);
  return st;
}

/* Role changes (by a leader, checked before) keep at least one convener or facilitator, and end a
 * representation when a representative becomes something else. */
static fn_status change_role(fn_req *req, db_conn *db, const group_access *a, const char *mid, const membership_row *m,
                             const char *role) {
  fn_status st;
  if (strcmp(m->role, role) == 0)
    return FN_OK;
  if (memberships_is_leader_role(m->role) && !memberships_is_leader_role(role) &&
      (st = require_other_leader(req, db, a->group_id, mid, "A group keeps at least one convener or facilitator.")) !=
          FN_OK)
    return st;
  if (strcmp(m->role, "representative") == 0 && (st = memberships_db_end_representation(db, mid, a->group_id)) != FN_OK)
    return st;
  return audit_change(req, memberships_db_change(db, MEMBERSHIP_SET_ROLE, a->group_id, mid, role),
                      "membership.role_changed", a->group_id,
                      json_pack("{s:s, s:s, s:s}", "member_id", mid, "from", m->role, "to", role));
}

static fn_status change_represents(fn_req *req, db_conn *db, const group_access *a, const char *mid,
                                   const char *represents) {
  fn_status st = check_represents(req, db, a, mid, represents);
  if (st != FN_OK)
    return st;
  return audit_change(req, memberships_db_change(db, MEMBERSHIP_SET_REPRESENTS, a->group_id, mid, represents),
                      "membership.represents_changed", a->group_id,
                      json_pack("{s:s, s:o}", "member_id", mid, "represents_group_id",
                                represents ? json_string(represents) : json_null()));
}

static fn_status memberships_http_update(fn_req *req) {
  const char *gid, *mid, *state = body_string(req->body, "state"), *role = body_string(req->body, "role");
  json_t *represents = json_object_get(req->body, "represents_group_id");
  group_access a;
  membership_row m;
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "group_id", NULL, &gid)) != FN_OK ||
      (st = req_path_id(req, "member_id", NULL, &mid)) != FN_OK ||
      (st = req_validate_body(req, membership_fields, BODY_UPDATE)) != FN_OK || (st = req_db(req, &db)) != FN_OK ||
      (st = lock_membership(req, db, gid, mid,
                            "Only the member themself or the group's conveners and facilitators change a membership.",
                            &a, &m)) != FN_OK ||
      (st = req_if_match(req, m.version)) != FN_OK)
    return st;
  /* The Group shows its caller's state and role (my_membership): their change is the Group's. */
  int mine_changed = (state && strcmp(m.state, "active") != 0) || (role && strcmp(role, m.role) != 0);
  if (state && (st = activate(req, db, &a, mid, &m, strcmp(mid, req->caller.id) == 0)) != FN_OK)
    return st;
  if (state)
    snprintf(m.state, sizeof m.state, "active");
  if (role && strcmp(role, m.role) != 0 && !groups_is_leader(&a)) /* who may, before whether it can */
    return req_problem(req, FN_FORBIDDEN, "Only the group's conveners and facilitators change roles.");
  if ((role || represents) && strcmp(m.state, "active") != 0)
    return req_problem(req, FN_CONFLICT, "Roles belong to active memberships.");
  if ((role && (st = change_role(req, db, &a, mid, &m, role)) != FN_OK) ||
      (represents && (st = change_represents(req, db, &a, mid, json_string_value(represents))) != FN_OK) ||
      (st = groups_db_recompute(db, gid, mine_changed ? GROUP_CHANGE_MEMBERSHIP : GROUP_CHANGE_DERIVED)) != FN_OK)
    return st;
  return membership_commit_reply(req, 200, gid, mid);
}

static fn_status memberships_http_delete(fn_req *req) {
  const char *gid, *mid;
  group_access a;
  membership_row m;
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "group_id", NULL, &gid)) != FN_OK ||
      (st = req_path_id(req, "member_id", NULL, &mid)) != FN_OK || (st = req_db(req, &db)) != FN_OK ||
      (st = lock_membership(req, db, gid, mid,
                            "Only the member themself or the group's conveners and facilitators end a membership.", &a,
                            &m)) != FN_OK)
    return st;
  if (strcmp(m.state, "active") == 0 && memberships_is_leader_role(m.role) && a.member_count > 1 &&
      (st = require_other_leader(
           req, db, gid, mid,
           "The last convener or facilitator cannot leave while others remain; hand the role on first.")) != FN_OK)
    return st;
  st = memberships_db_change(db, MEMBERSHIP_DELETE, gid, mid, NULL);
  if (st == FN_OK && strcmp(m.role, "representative") == 0)
    st = memberships_db_end_representation(db, mid, gid);
  st = audit_change(req, st, strcmp(mid, req->caller.id) == 0 ? "membership.left" : "membership.removed", gid,
                    json_pack("{s:s, s:s}", "member_id", mid, "state", m.state));
  if (st != FN_OK || (st = groups_db_recompute(db, gid, GROUP_CHANGE_MEMBERSHIP)) != FN_OK)
    return st;
  return req_commit_no_content(req);
}

/* The error of the list's ?state= filter, NULL when it is valid. */
static json_t *state_errors(const char *state) {
  json_t *errors = NULL;
  if (state && !text_is_choice(state, list_state_choices))
    field_errors_add(&errors, "state", "must be one of: requested invited active");
  return errors;
}

static fn_status memberships_http_list(fn_req *req) {
  const char *gid, *state = req_query(req, "state");
  page_request page;
  group_access a;
  PGresult *res = NULL;
  db_conn *db;
  fn_status st;
  if ((st = page_open_under(req, "group_id", NO_SUCH_GROUP, &gid, &page, state_errors(state), &db)) != FN_OK)
    return st;
  if ((st = groups_db_access(db, gid, req->caller.id, 0, &a)) != FN_OK || (st = groups_require_inner(&a)) != FN_OK ||
      (st = memberships_db_list(db, gid, state, &page, &res)) != FN_OK)
    return req_problem(req, st,
                       st == FN_NOT_FOUND   ? NO_SUCH_GROUP
                       : st == FN_FORBIDDEN ? "Only the group's active members see its members."
                                            : NULL);
  return page_reply_result(req, st, res, &page);
}

static fn_status memberships_http_get(fn_req *req) {
  const char *gid, *mid;
  group_access a;
  db_representation rep = {NULL, 0};
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "group_id", NULL, &gid)) != FN_OK ||
      (st = req_path_id(req, "member_id", NULL, &mid)) != FN_OK || (st = req_db(req, &db)) != FN_OK)
    return st;
  /* Everyone may read their own membership; others' follow the inner-life rule. */
  if ((st = groups_db_access(db, gid, req->caller.id, 0, &a)) != FN_OK ||
      (strcmp(mid, req->caller.id) != 0 && (st = groups_require_inner(&a)) != FN_OK) ||
      (st = groups_require_view(&a)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_MEMBERSHIP : NULL);
  st = memberships_db_get(db, gid, mid, &rep);
  return reply_conditional_result(req, st, &rep, NO_SUCH_MEMBERSHIP);
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
