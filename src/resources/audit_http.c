/* GET /v1/audit: who did what, when (API.md section 9), for admins. */
#include <string.h>

#include "forumnet/audit_db.h"
#include "forumnet/body.h"
#include "forumnet/http.h"
#include "forumnet/members_db.h"
#include "forumnet/pagination.h"
#include "forumnet/routes.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

static fn_status audit_http_list(fn_req *req) {
  page_request page;
  member_caller caller;
  PGresult *res = NULL;
  const char *actor = req_query(req, "actor_id"), *type = req_query(req, "resource_type"),
             *resource = req_query(req, "resource_id"), *action = req_query(req, "action");
  json_t *errors = NULL;
  if (page_from_request_or_reply(req, &page) != FN_OK)
    return FN_OK;
  if (actor && !text_is_uuid(actor))
    field_errors_add(&errors, "actor_id", "must be a UUID");
  if (type && (strlen(type) < 1 || strlen(type) > 40))
    field_errors_add(&errors, "resource_type", "must be 1 to 40 characters");
  if (resource && (strlen(resource) < 1 || strlen(resource) > 100))
    field_errors_add(&errors, "resource_id", "must be 1 to 100 characters");
  if (action && (strlen(action) < 1 || strlen(action) > 80))
    field_errors_add(&errors, "action", "must be 1 to 80 characters");
  if (errors) {
    reply_invalid(req, errors);
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  fn_status st = members_db_load_caller(db, req->caller.id, &caller);
  if (st == FN_OK && caller.role != ROLE_ADMIN)
    st = FN_FORBIDDEN;
  if (st == FN_OK)
    st = audit_db_list(db, actor, type, resource, action, &page, &res);
  if (st != FN_OK)
    req_fail(req, st, st == FN_FORBIDDEN ? "The audit log is for admins." : NULL);
  else
    page_reply(req, res, 0, 1, &page);
  PQclear(res);
  return FN_OK;
}

const fn_route audit_routes[] = {
    {"GET", "/v1/audit", audit_http_list, 0},
    {NULL, NULL, NULL, 0},
};
