/* /v1/me/notifications: a member's notification feed and marking it read (API.md section 10). The
 * notifications themselves are written by the changes that cause them (req_notify, notifications_db.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/body.h"
#include "forumnet/http.h"
#include "forumnet/notifications.h"
#include "forumnet/pagination.h"
#include "forumnet/routes.h"

/* At most this many ids in one POST .../read. */
#define MARK_READ_MAX_IDS 100

static const field_spec read_fields[] = {
    {"ids", FIELD_ARRAY, 0, 1, MARK_READ_MAX_IDS, NULL},
    {"all", FIELD_BOOLEAN, 0, 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

fn_status req_notify(fn_req *req, notification_kind kind, const char *subject_id, const char *only_member) {
  char only[48];
  if (only_member != NULL)
    snprintf(only, sizeof only, "[\"%s\"]", only_member);
  return notifications_db_fanout(req->db, kind, subject_id, req->caller.is_partner ? NULL : req->caller.id,
                                 only_member != NULL ? only : NULL);
}

/* Newest first; unread_count (all the member's unread, whatever the page) before the items. */
static fn_status notifications_http_list(fn_req *req) {
  page_request page;
  PGresult *res = NULL;
  const char *unread = req_query(req, "unread");
  json_t *errors = NULL;
  char members[48];
  long count = 0;
  db_conn *db;
  fn_status st;
  if (unread && strcmp(unread, "true") != 0 && strcmp(unread, "false") != 0)
    field_errors_add(&errors, "unread", "must be true or false");
  if ((st = page_open(req, &page, errors, &db)) != FN_OK ||
      (st = notifications_db_unread_count(db, req->caller.id, &count)) != FN_OK ||
      (st = notifications_db_list(db, req->caller.id, unread && strcmp(unread, "true") == 0, &page, &res)) != FN_OK)
    return st;
  snprintf(members, sizeof members, "\"unread_count\":%ld,", count);
  page_reply_with(req, res, &page, members, 1);
  PQclear(res);
  return FN_OK;
}

/* {"ids": [...]} or {"all": true}. Ids that are not the caller's notifications (unknown, or another
 * member's) are passed over, so the answer says nothing about them; ids that are not UUIDs are 422. */
static fn_status notifications_http_read(fn_req *req) {
  json_t *ids = json_object_get(req->body, "ids"), *all = json_object_get(req->body, "all"), *errors = NULL;
  char *ids_text = NULL;
  db_conn *db;
  fn_status st;
  if ((st = req_validate_body(req, read_fields, BODY_CREATE)) != FN_OK)
    return st;
  if ((ids == NULL) == (all == NULL))
    return req_invalid_field(req, ids ? "all" : "ids", "send either ids or all, not both");
  if (all && !json_is_true(all))
    return req_invalid_field(req, "all", "can only be true");
  body_check_uuid_items(ids, "ids", &errors);
  if (errors)
    return req_invalid(req, errors);
  if ((st = req_db(req, &db)) != FN_OK)
    return st;
  if (ids && (ids_text = json_dumps(ids, JSON_COMPACT)) == NULL)
    return FN_INTERNAL;
  st = notifications_db_mark_read(db, req->caller.id, ids_text);
  free(ids_text);
  if (st != FN_OK)
    return st;
  reply_empty(req, 204);
  return FN_OK;
}

const fn_route notifications_routes[] = {
    {"GET", "/v1/me/notifications", notifications_http_list, 0},
    {"POST", "/v1/me/notifications/read", notifications_http_read, ROUTE_JSON_BODY},
    {NULL, NULL, NULL, 0},
};
