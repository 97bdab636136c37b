/* GET /v1/audit: who did what, when (API.md section 9), for admins. */
#include <stdio.h>
#include <string.h>

#include "forumnet/audit_db.h"
#include "forumnet/body.h"
#include "forumnet/http.h"
#include "forumnet/members_db.h"
#include "forumnet/pagination.h"
#include "forumnet/routes.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

/* A filter given as text of 1 to max characters; else an error named after it. */
static void check_length(json_t **errors, const char *field, const char *value, size_t max) {
  char message[48];
  if (value && (strlen(value) < 1 || strlen(value) > max)) {
    snprintf(message, sizeof message, "must be 1 to %zu characters", max);
    field_errors_add(errors, field, message);
  }
}

static fn_status audit_http_list(fn_req *req) {
  page_request page;
  member_caller caller;
  PGresult *res = NULL;
  const char *actor = req_query(req, "actor_id"), *type = req_query(req, "resource_type"),
             *resource = req_query(req, "resource_id"), *action = req_query(req, "action");
  json_t *errors = NULL;
  db_conn *db;
  fn_status st;
  if (actor && !text_is_uuid(actor))
    field_errors_add(&errors, "actor_id", "must be a UUID");
  check_length(&errors, "resource_type", type, 40);
  check_length(&errors, "resource_id", resource, 100);
  check_length(&errors, "action", action, 80);
  if ((st = page_open(req, &page, errors, &db)) != FN_OK ||
      (st = members_db_load_caller(db, req->caller.id, &caller)) != FN_OK)
    return st;
  if (caller.role != ROLE_ADMIN)
    return req_problem(req, FN_FORBIDDEN, "The audit log is for admins.");
  st = audit_db_list(db, actor, type, resource, action, &page, &res);
  return page_reply_result(req, st, res, &page);
}

const fn_route audit_routes[] = {
    {"GET", "/v1/audit", audit_http_list, 0},
    {NULL, NULL, NULL, 0},
};
