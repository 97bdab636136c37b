/* /v1/groups/{group_id}/terms: terms of reference, versions and acceptances (API.md
 * section 5). A new version must be accepted again by everyone; groups_db_recompute
 * turns that into the group's forming/active status. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/body.h"
#include "forumnet/groups_db.h"
#include "forumnet/http.h"
#include "forumnet/notifications.h"
#include "forumnet/pagination.h"
#include "forumnet/routes.h"
#include "forumnet/terms_db.h"
#include "forumnet/text.h"

#define NO_SUCH_GROUP "No such group."
#define NO_SUCH_VERSION "No such terms version."

static const char *const terms_read_only[] = {"version", "created_by", "created_at", "accepted_count", NULL};

static const field_spec terms_fields[] = {
    {"body", FIELD_STRING, FIELD_REQUIRED, 1, 20000, NULL},
    {"review_on", FIELD_STRING, FIELD_NULLABLE, 10, 10, NULL},
    FIELDS_READ_ONLY(terms_read_only),
    {NULL, 0, 0, 0, 0, NULL},
};

static const field_spec acceptance_fields[] = {
    {"accepted", FIELD_BOOLEAN, 0, 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

/* "YYYY-MM-DD" naming a real calendar day. */
static int valid_date(const char *s) {
  int y, m, d;
  char tail;
  if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !isdigit((unsigned char)s[0]) ||
      sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
    return 0;
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return y >= 2000 && y <= 2999 && m >= 1 && m <= 12 && d >= 1 && d <= days[m - 1] + (m == 2 && leap);
}

/* Version numbers in paths are small positive integers; anything else is "no such version". */
static int parse_version(const char *s) {
  if (s == NULL || *s == '\0' || strlen(s) > 6)
    return 0;
  for (const char *p = s; *p; p++)
    if (!isdigit((unsigned char)*p))
      return 0;
  return atoi(s);
}

static fn_status terms_http_list(fn_req *req) {
  const char *gid;
  group_access a;
  page_request page;
  PGresult *res = NULL;
  char members[48];
  db_conn *db;
  fn_status st;
  if ((st = page_open_under(req, "group_id", NO_SUCH_GROUP, &gid, &page, NULL, &db)) != FN_OK)
    return st;
  if ((st = groups_db_access(db, gid, req->caller.id, 0, &a)) != FN_OK || (st = groups_require_view(&a)) != FN_OK ||
      (st = terms_db_list(db, gid, &page, &res)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_GROUP : NULL);
  /* current_version from the page's own statement when it has rows, so that both agree */
  long current = PQntuples(res) > 0 ? db_value_long(res, 0, 1) : a.terms_version;
  snprintf(members, sizeof members, "\"current_version\":%ld,", current);
  page_reply_with(req, res, &page, members, 2);
  PQclear(res);
  return FN_OK;
}

/* Audits what happened to a version of the group's terms. */
static fn_status audit_terms(fn_req *req, const char *action, const char *gid, int version) {
  json_t *details = json_pack("{s:i}", "version", version);
  fn_status st = req_audit(req, action, "group", gid, details);
  json_decref(details);
  return st;
}

/* Reads the version of the terms inside the transaction, then commits and replies it (Terms have no
 * ETag: a version never changes). location may be NULL. */
static fn_status terms_commit_reply(fn_req *req, db_conn *db, int http_status, const char *gid, int version,
                                    const char *location) {
  char *json = NULL;
  fn_status st;
  if ((st = terms_db_get(db, gid, version, &json)) != FN_OK)
    return st;
  if ((st = db_commit(db)) != FN_OK) {
    free(json);
    return st;
  }
  if (location != NULL)
    reply_header(req, "Location", location);
  reply_json_text(req, http_status, json, strlen(json));
  free(json);
  return FN_OK;
}

static fn_status terms_http_publish(fn_req *req) {
  const char *gid, *review_on = body_string(req->body, "review_on"), *detail = NULL;
  group_access a;
  int version = 0;
  char location[96];
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "group_id", NO_SUCH_GROUP, &gid)) != FN_OK ||
      (st = req_validate_body(req, terms_fields, BODY_CREATE)) != FN_OK)
    return st;
  if (review_on && !valid_date(review_on))
    return req_invalid_field(req, "review_on", "must be a date as YYYY-MM-DD");
  if ((st = req_db(req, &db)) != FN_OK)
    return st;
  snprintf(location, sizeof location, "/v1/groups/%s/terms", gid);
  if ((st = groups_db_lock_access(db, gid, req->caller.id, &a)) != FN_OK || (st = groups_require_leader(&a)) != FN_OK ||
      (st = groups_require_open(&a, &detail)) != FN_OK ||
      (st = terms_db_publish(db, gid, body_string(req->body, "body"), review_on, req->caller.id, &version)) != FN_OK ||
      (st = audit_terms(req, "group.terms_published", gid, version)) != FN_OK ||
      (st = req_notify(req, NOTIFY_TERMS_PUBLISHED, gid, NULL)) != FN_OK ||
      (st = groups_db_recompute(db, gid, GROUP_CHANGE_VERSION_RAISED)) != FN_OK ||
      (st = terms_commit_reply(req, db, 201, gid, version, location)) != FN_OK)
    return req_problem(req, st,
                       st == FN_NOT_FOUND   ? NO_SUCH_GROUP
                       : st == FN_FORBIDDEN ? "Only the group's conveners and facilitators publish terms."
                                            : detail);
  return FN_OK;
}

/* Only the current version, of a group the caller belongs to and that is not closed, can be accepted. */
static fn_status check_accept(fn_req *req, db_conn *db, const char *gid, int version) {
  group_access a;
  const char *detail = NULL;
  fn_status st;
  if ((st = groups_db_lock_access(db, gid, req->caller.id, &a)) != FN_OK || (st = groups_require_inner(&a)) != FN_OK)
    return req_problem(req, st,
                       st == FN_NOT_FOUND   ? NO_SUCH_VERSION
                       : st == FN_FORBIDDEN ? "Only the group's active members accept its terms."
                                            : NULL);
  if (version > a.terms_version)
    return req_problem(req, FN_NOT_FOUND, NO_SUCH_VERSION);
  if (version < a.terms_version)
    return req_problem(req, FN_CONFLICT, "Only the current version of the terms can be accepted.");
  if ((st = groups_require_open(&a, &detail)) != FN_OK)
    return req_problem(req, st, detail);
  return FN_OK;
}

static fn_status terms_http_accept(fn_req *req) {
  const char *gid;
  int version = parse_version(req_param(req, "version")), created = 0;
  json_t *accepted;
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "group_id", NO_SUCH_VERSION, &gid)) != FN_OK)
    return st;
  if (version < 1)
    return req_problem(req, FN_NOT_FOUND, NO_SUCH_VERSION);
  if ((st = req_validate_body(req, acceptance_fields, BODY_CREATE)) != FN_OK)
    return st;
  if ((accepted = json_object_get(req->body, "accepted")) != NULL && !json_is_true(accepted))
    return req_invalid_field(req, "accepted", "can only be true (leave the group to stop agreeing)");
  if ((st = req_db(req, &db)) != FN_OK || (st = check_accept(req, db, gid, version)) != FN_OK ||
      (st = terms_db_accept(db, gid, version, req->caller.id, &created)) != FN_OK)
    return st;
  if (created && ((st = audit_terms(req, "group.terms_accepted", gid, version)) != FN_OK ||
                  (st = groups_db_recompute(db, gid, GROUP_CHANGE_DERIVED)) != FN_OK))
    return st;
  if ((st = terms_commit_reply(req, db, created ? 201 : 200, gid, version, NULL)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_VERSION : NULL);
  return FN_OK;
}

const fn_route terms_routes[] = {
    {"GET", "/v1/groups/{group_id}/terms", terms_http_list, 0},
    {"POST", "/v1/groups/{group_id}/terms", terms_http_publish, ROUTE_JSON_BODY | ROUTE_IDEMPOTENT},
    {"POST", "/v1/groups/{group_id}/terms/{version}/acceptances", terms_http_accept,
     ROUTE_JSON_BODY | ROUTE_OPTIONAL_BODY | ROUTE_IDEMPOTENT},
    {NULL, NULL, NULL, 0},
};
