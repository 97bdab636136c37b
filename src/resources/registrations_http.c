/* /v1/events/{event_id}/registration(s): members' answers to an event and its waitlist (API.md section 7). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/body.h"
#include "forumnet/events_db.h"
#include "forumnet/http.h"
#include "forumnet/pagination.h"
#include "forumnet/registrations_db.h"
#include "forumnet/routes.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

/* `waitlisted` is the server's answer to `going` past capacity, never a member's request. */
static const char *const registration_answers[] = {"going", "interested", "declined", NULL};

static const field_spec registration_fields[] = {
    {"status", FIELD_ENUM, FIELD_REQUIRED, 0, 0, registration_answers},
    {"event_id", FIELD_READ_ONLY, 0, 0, 0, NULL},
    {"member_id", FIELD_READ_ONLY, 0, 0, 0, NULL},
    {"requested_going_at", FIELD_READ_ONLY, 0, 0, 0, NULL},
    {"updated_at", FIELD_READ_ONLY, 0, 0, 0, NULL},
    {"version", FIELD_READ_ONLY, 0, 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

/* PUT honours If-Match (API.md section 1): against the caller's registration, or 412 when
 * there is none to match. The event row is locked, so the version cannot move meanwhile. */
static fn_status check_if_match(fn_req *req, db_conn *db, const char *event_id, const char *member_id) {
  if (req_header(req, "If-Match") == NULL)
    return FN_OK;
  int exists = 0;
  long version = 0;
  fn_status st = registrations_db_version(db, event_id, member_id, &exists, &version);
  if (st != FN_OK)
    return st;
  return exists ? req_if_match(req, version) : FN_PRECONDITION_FAILED;
}

static fn_status registrations_http_put(fn_req *req) {
  const char *event_id = req_param(req, "event_id"), *detail = NULL;
  event_caller caller;
  event_access access;
  registration_result result = {0};
  fn_status st;
  if (!req_is_id(event_id)) {
    req_fail(req, FN_NOT_FOUND, "No such event.");
    return FN_OK;
  }
  if (req_validate_body_or_reply(req, registration_fields) != FN_OK)
    return FN_OK;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  /* The event row stays locked until commit: concurrent answers for the last place count one at a time. */
  if ((st = db_begin(db)) != FN_OK || (st = events_db_load_caller(db, &req->caller, &caller)) != FN_OK ||
      (st = events_db_access(db, event_id, &caller, 1, &access)) != FN_OK ||
      (st = registrations_can_register(&caller, &access, &detail)) != FN_OK ||
      (st = check_if_match(req, db, event_id, caller.id)) != FN_OK ||
      (st = registrations_db_set(db, &access, caller.id, body_string(req->body, "status"), &result)) != FN_OK ||
      (st = db_commit(db)) != FN_OK) {
    free(result.json);
    req_fail(req, st, st == FN_NOT_FOUND ? "No such event." : detail);
    return FN_OK;
  }
  reply_etag(req, result.version);
  if (result.created) {
    char location[96];
    snprintf(location, sizeof location, "/v1/events/%s", event_id); /* shows my_registration */
    reply_header(req, "Location", location);
  }
  reply_json_text(req, result.created ? 201 : 200, result.json, strlen(result.json));
  free(result.json);
  return FN_OK;
}

static fn_status registrations_http_list(fn_req *req) {
  const char *event_id = req_param(req, "event_id"), *detail = NULL;
  event_caller caller;
  event_access access;
  page_request page;
  PGresult *res = NULL;
  fn_status st;
  if (!req_is_id(event_id)) {
    req_fail(req, FN_NOT_FOUND, "No such event.");
    return FN_OK;
  }
  if (page_from_request_or_reply(req, &page) != FN_OK)
    return FN_OK;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = events_db_load_caller(db, &req->caller, &caller)) != FN_OK ||
      (st = events_db_access(db, event_id, &caller, 0, &access)) != FN_OK ||
      (st = registrations_can_list(&caller, &access, &detail)) != FN_OK ||
      (st = registrations_db_list(db, event_id, &page, &res)) != FN_OK)
    req_fail(req, st, st == FN_NOT_FOUND ? "No such event." : detail);
  else
    page_reply(req, res, 0, 1, &page);
  PQclear(res);
  return FN_OK;
}

/* Partner tokens reach the list only to be told why they cannot have it (403, counts only); the
 * registration itself is for members, so partner tokens get 401 there from the dispatcher. */
const fn_route registrations_routes[] = {
    {"PUT", "/v1/events/{event_id}/registration", registrations_http_put, ROUTE_JSON_BODY},
    {"GET", "/v1/events/{event_id}/registrations", registrations_http_list, ROUTE_PARTNER},
    {NULL, NULL, NULL, 0},
};
