/* /v1/groups/{group_id}/terms: terms of reference, versions and acceptances (API.md
 * section 5). A new version must be accepted again by everyone; groups_db_recompute
 * turns that into the group's forming/active status. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/audit_db.h"
#include "forumnet/body.h"
#include "forumnet/groups_db.h"
#include "forumnet/http.h"
#include "forumnet/pagination.h"
#include "forumnet/routes.h"
#include "forumnet/terms_db.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

static const field_spec terms_create_fields[] = {
    {"body", FIELD_STRING, FIELD_REQUIRED, 1, 20000, NULL},
    {"review_on", FIELD_STRING, FIELD_NULLABLE, 10, 10, NULL},
    {"version", FIELD_READ_ONLY, 0, 0, 0, NULL},
    {"created_by", FIELD_READ_ONLY, 0, 0, 0, NULL},
    {"created_at", FIELD_READ_ONLY, 0, 0, 0, NULL},
    {"accepted_count", FIELD_READ_ONLY, 0, 0, 0, NULL},
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
  const char *gid = req_param(req, "group_id");
  group_access a;
  page_request page;
  PGresult *res = NULL;
  fn_status st;
  if (!req_is_id(gid)) {
    req_fail(req, FN_NOT_FOUND, "No such group.");
    return FN_OK;
  }
  if (page_from_request_or_reply(req, &page) != FN_OK)
    return FN_OK;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = groups_db_access(db, gid, req->caller.id, 0, &a)) != FN_OK || (st = groups_require_view(&a)) != FN_OK ||
      (st = terms_db_list(db, gid, &page, &res)) != FN_OK) {
    req_fail(req, st, st == FN_NOT_FOUND ? "No such group." : NULL);
    return FN_OK;
  }
  /* current_version from the page's own statement when it has rows, so that both agree */
  char members[48];
  int current = PQntuples(res) > 0 ? atoi(PQgetvalue(res, 0, 2)) : a.terms_version;
  snprintf(members, sizeof members, "\"current_version\":%d,", current);
  page_reply_with(req, res, 0, 1, &page, members);
  PQclear(res);
  return FN_OK;
}

static fn_status terms_http_publish(fn_req *req) {
  const char *gid = req_param(req, "group_id"), *detail = NULL;
  group_access a;
  char *json = NULL;
  int version = 0;
  fn_status st;
  if (!req_is_id(gid)) {
    req_fail(req, FN_NOT_FOUND, "No such group.");
    return FN_OK;
  }
  if (req_validate_body_or_reply(req, terms_create_fields) != FN_OK)
    return FN_OK;
  const char *review_on = body_string(req->body, "review_on");
  if (review_on && !valid_date(review_on)) {
    json_t *errors = NULL;
    field_errors_add(&errors, "review_on", "must be a date as YYYY-MM-DD");
    reply_invalid(req, errors);
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = db_begin(db)) != FN_OK || (st = groups_db_access(db, gid, req->caller.id, 1, &a)) != FN_OK ||
      (st = groups_require_leader(&a)) != FN_OK || (st = groups_require_open(&a, &detail)) != FN_OK ||
      (st = terms_db_publish(db, gid, body_string(req->body, "body"), review_on, req->caller.id, &version)) != FN_OK)
    goto fail;
  json_t *details = json_pack("{s:i}", "version", version);
  st = req_audit(req, "group.terms_published", "group", gid, details);
  json_decref(details);
  if (st != FN_OK || (st = groups_db_recompute(db, gid, GROUP_CHANGE_VERSION_RAISED)) != FN_OK ||
      (st = terms_db_get(db, gid, version, &json)) != FN_OK || (st = db_commit(db)) != FN_OK)
    goto fail;
  char location[96];
  snprintf(location, sizeof location, "/v1/groups/%s/terms", gid);
  reply_header(req, "Location", location);
  reply_json_text(req, 201, json, strlen(json));
  free(json);
  return FN_OK;
fail:
  free(json);
  req_fail(req, st,
           st == FN_NOT_FOUND   ? "No such group."
           : st == FN_FORBIDDEN ? "Only the group's conveners and facilitators publish terms."
                                : detail);
  return FN_OK;
}

static fn_status terms_http_accept(fn_req *req) {
  const char *gid = req_param(req, "group_id"), *detail = NULL;
  int version = parse_version(req_param(req, "version")), created = 0;
  group_access a;
  char *json = NULL;
  fn_status st;
  if (!req_is_id(gid) || version < 1) {
    req_fail(req, FN_NOT_FOUND, "No such terms version.");
    return FN_OK;
  }
  if (req_validate_body_or_reply(req, acceptance_fields) != FN_OK)
    return FN_OK;
  json_t *accepted = json_object_get(req->body, "accepted");
  if (accepted && !json_is_true(accepted)) {
    json_t *errors = NULL;
    field_errors_add(&errors, "accepted", "can only be true (leave the group to stop agreeing)");
    reply_invalid(req, errors);
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = db_begin(db)) != FN_OK || (st = groups_db_access(db, gid, req->caller.id, 1, &a)) != FN_OK ||
      (st = groups_require_inner(&a)) != FN_OK)
    goto fail;
  if (version > a.terms_version) {
    st = FN_NOT_FOUND;
    goto fail;
  }
  if (version < a.terms_version) {
    st = FN_CONFLICT;
    detail = "Only the current version of the terms can be accepted.";
    goto fail;
  }
  if ((st = groups_require_open(&a, &detail)) != FN_OK ||
      (st = terms_db_accept(db, gid, version, req->caller.id, &created)) != FN_OK)
    goto fail;
  if (created) {
    json_t *details = json_pack("{s:i}", "version", version);
    st = req_audit(req, "group.terms_accepted", "group", gid, details);
    json_decref(details);
    if (st != FN_OK || (st = groups_db_recompute(db, gid, GROUP_CHANGE_DERIVED)) != FN_OK)
      goto fail;
  }
  if ((st = terms_db_get(db, gid, version, &json)) != FN_OK || (st = db_commit(db)) != FN_OK)
    goto fail;
  reply_json_text(req, created ? 201 : 200, json, strlen(json));
  free(json);
  return FN_OK;
fail:
  free(json);
  req_fail(req, st,
           st == FN_NOT_FOUND   ? "No such terms version."
           : st == FN_FORBIDDEN ? "Only the group's active members accept its terms."
                                : detail);
  return FN_OK;
}

const fn_route terms_routes[] = {
    {"GET", "/v1/groups/{group_id}/terms", terms_http_list, 0},
    {"POST", "/v1/groups/{group_id}/terms", terms_http_publish, ROUTE_JSON_BODY | ROUTE_IDEMPOTENT},
    {"POST", "/v1/groups/{group_id}/terms/{version}/acceptances", terms_http_accept,
     ROUTE_JSON_BODY | ROUTE_OPTIONAL_BODY | ROUTE_IDEMPOTENT},
    {NULL, NULL, NULL, 0},
};
