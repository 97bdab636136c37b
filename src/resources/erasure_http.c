/* Erasure of a member's account: DELETE /v1/me by the member, DELETE /v1/members/{id} by an admin
 * (API.md section 3). */
#include <stdlib.h>
#include <string.h>

#include "forumnet/groups_db.h"
#include "forumnet/http.h"
#include "forumnet/members_db.h"
#include "forumnet/registrations_db.h"
#include "forumnet/routes.h"

#define NO_SUCH_MEMBER "No such member."

/* Locks the member to erase. DELETE /v1/members/{id} is admin-only, even on one's own id (API.md
 * section 3): self-erasure is DELETE /v1/me. Who may not see the member gets 404. */
static fn_status lock_target(fn_req *req, db_conn *db, const char *target_id, int via_me, member_row *target) {
  member_caller caller;
  fn_status st;
  if ((st = members_db_begin_as_caller(db, req->caller.id, &caller)) != FN_OK ||
      (st = members_db_lock(db, target_id, caller.id, target)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_MEMBER : NULL);
  if (via_me || caller.role == ROLE_ADMIN)
    return FN_OK;
  if (!members_can_view(&caller, target))
    return req_problem(req, FN_NOT_FOUND, NO_SUCH_MEMBER);
  return req_problem(req, FN_FORBIDDEN,
                     strcmp(target_id, req->caller.id) == 0 ? "Erase your own account with DELETE /v1/me."
                                                            : "Only admins erase other members.");
}

/* The groups the member left are recomputed (their state may follow from who is in them). */
static fn_status recompute_groups(db_conn *db, const char *group_ids) {
  json_t *groups = json_loads(group_ids, 0, NULL), *g;
  size_t i;
  fn_status st = FN_OK;
  json_array_foreach(groups, i, g) {
    if (st == FN_OK)
      st = groups_db_recompute(db, json_string_value(g), GROUP_CHANGE_DERIVED);
  }
  json_decref(groups);
  return st;
}

/* One transaction wipes the personal fields, ends sessions, management and memberships, recomputes
 * the groups left, and writes the audit row. Contributions stay, attributed to "former member". */
static fn_status erase_member(fn_req *req, const char *target_id, int via_me) {
  static const member_changes erasure = {.status = "erased"};
  member_row target;
  char *group_ids = NULL;
  const char *detail = NULL;
  db_conn *db;
  fn_status st;
  if ((st = req_db(req, &db)) != FN_OK || (st = lock_target(req, db, target_id, via_me, &target)) != FN_OK)
    return st;
  if (strcmp(target.status, "erased") == 0) { /* erasing twice is erasing once */
    db_rollback(db);
    reply_empty(req, 204);
    return FN_OK;
  }
  if ((st = members_db_check_last_admin(db, &target, &erasure, &detail)) != FN_OK ||
      (st = members_db_erase(db, target_id, &group_ids)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_MEMBER : detail);
  json_t *details = json_pack("{s:b}", "self", strcmp(target_id, req->caller.id) == 0);
  if ((st = registrations_db_withdraw_member(db, target_id)) == FN_OK && /* no seat held by nobody */
      (st = recompute_groups(db, group_ids)) == FN_OK)
    st = req_audit(req, "member.erased", "member", target_id, details);
  json_decref(details);
  free(group_ids);
  if (st != FN_OK || (st = db_commit(db)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_MEMBER : NULL);
  reply_empty(req, 204);
  return FN_OK;
}

static fn_status erasure_http_erase_me(fn_req *req) { return erase_member(req, req->caller.id, 1); }

static fn_status erasure_http_erase(fn_req *req) {
  const char *id;
  fn_status st = req_path_id(req, "member_id", NO_SUCH_MEMBER, &id);
  return st != FN_OK ? st : erase_member(req, id, 0);
}

/* Listed before me_routes and members_routes (http/routes.c), so that Allow names DELETE first on
 * /v1/me and /v1/members/{member_id}, as before. */
const fn_route erasure_routes[] = {
    {"DELETE", "/v1/me", erasure_http_erase_me, 0},
    {"DELETE", "/v1/members/{member_id}", erasure_http_erase, 0},
    {NULL, NULL, NULL, 0},
};
