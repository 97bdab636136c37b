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
#include "forumnet/webhooks.h"

/* `waitlisted` is the server's answer to `going` past capacity, never a member's request. */
static const char *const registration_answers[] = {"going", "interested", "declined", NULL};

#define NO_SUCH_EVENT "No such event."

static const char *const registration_read_only[] = {"event_id",   "member_id", "requested_going_at",
                                                     "updated_at", "version",   NULL};

static const field_spec registration_fields[] = {
    {"status", FIELD_ENUM, FIELD_REQUIRED, 0, 0, registration_answers},
    FIELDS_READ_ONLY(registration_read_only),
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

/* The caller and the event it may see (locked for the rest of the transaction when lock). */
static fn_status load_event(fn_req *req, db_conn *db, const char *event_id, int lock, event_caller *caller,
                            event_access *access) {
  fn_status st = events_db_load_visible(db, &req->caller, event_id, lock, caller, access);
  return st == FN_OK ? FN_OK : req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_EVENT : NULL);
}

static fn_status registrations_http_put(fn_req *req) {
  const char *event_id, *detail = NULL;
  event_caller caller;
  event_access access;
  registration_result result = {0};
  char location[96];
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "event_id", NO_SUCH_EVENT, &event_id)) != FN_OK ||
      (st = req_validate_body(req, registration_fields, BODY_CREATE)) != FN_OK || (st = req_db(req, &db)) != FN_OK)
    return st;
  /* The event row stays locked until commit: concurrent answers for the last place count one at a time. */
  if ((st = db_begin(db)) != FN_OK || (st = load_event(req, db, event_id, 1, &caller, &access)) != FN_OK)
    return st;
  if ((st = registrations_can_register(&caller, &access, &detail)) != FN_OK)
    return req_problem(req, st, detail);
  if ((st = check_if_match(req, db, event_id, caller.id)) != FN_OK ||
      (st = registrations_db_set(db, &access, caller.id, body_string(req->body, "status"), &result)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_EVENT : NULL);
  if ((st = req_webhook(req, event_id, "event.registration_counts")) != FN_OK) {
    free(result.json);
    return st;
  }
  snprintf(location, sizeof location, "/v1/events/%s", event_id); /* shows my_registration */
  return req_commit_reply(req, result.created ? 201 : 200, result.json, result.version,
                          result.created ? location : NULL);
}

static fn_status registrations_http_list(fn_req *req) {
  const char *event_id, *detail = NULL;
  event_caller caller;
  event_access access;
  page_request page;
  PGresult *res = NULL;
  db_conn *db;
  fn_status st;
  if ((st = page_open_under(req, "event_id", NO_SUCH_EVENT, &event_id, &page, NULL, &db)) != FN_OK ||
      (st = load_event(req, db, event_id, 0, &caller, &access)) != FN_OK)
    return st;
  if ((st = registrations_can_list(&caller, &access, &detail)) != FN_OK)
    return req_problem(req, st, detail);
  st = registrations_db_list(db, event_id, &page, &res);
  return page_reply_result(req, st, res, &page);
}

/* Partner tokens reach the list only to be told why they cannot have it (403, counts only); the
 * registration itself is for members, so partner tokens get 401 there from the dispatcher. */
const fn_route registrations_routes[] = {
    {"PUT", "/v1/events/{event_id}/registration", registrations_http_put, ROUTE_JSON_BODY},
    {"GET", "/v1/events/{event_id}/registrations", registrations_http_list, ROUTE_PARTNER},
    {NULL, NULL, NULL, 0},
};
