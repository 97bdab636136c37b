/* /v1/groups/{group_id}/meetings: a group's meetings and their attendance (API.md section 5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "forumnet/audit_db.h"
#include "forumnet/body.h"
#include "forumnet/groups_db.h"
#include "forumnet/http.h"
#include "forumnet/meetings_db.h"
#include "forumnet/pagination.h"
#include "forumnet/routes.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

/* Years a meeting may be given in: they keep every instant (and its cursor) a four-digit UTC year. */
#define MEETING_FIRST_YEAR 1900
#define MEETING_LAST_YEAR 2999
#define MEETING_MAX_SPAN_US (24LL * 3600 * 1000000)

#define MEETING_READ_ONLY_FIELDS                                                                                       \
  {"id", FIELD_READ_ONLY, 0, 0, 0, NULL}, {"group_id", FIELD_READ_ONLY, 0, 0, 0, NULL},                                \
      {"attendance", FIELD_READ_ONLY, 0, 0, 0, NULL}, {"version", FIELD_READ_ONLY, 0, 0, 0, NULL}, {                   \
    "created_at", FIELD_READ_ONLY, 0, 0, 0, NULL                                                                       \
  }

static const field_spec meeting_create_fields[] = {
    {"starts_at", FIELD_TIMESTAMP, FIELD_REQUIRED, MEETING_FIRST_YEAR, MEETING_LAST_YEAR, NULL},
    {"ends_at", FIELD_TIMESTAMP, FIELD_REQUIRED, MEETING_FIRST_YEAR, MEETING_LAST_YEAR, NULL},
    {"location", FIELD_STRING, FIELD_NULLABLE, 1, 200, NULL},
    {"online", FIELD_BOOLEAN, 0, 0, 0, NULL},
    {"agenda", FIELD_STRING, FIELD_NULLABLE, 0, 10000, NULL},
    {"notes", FIELD_STRING, FIELD_NULLABLE, 0, 50000, NULL},
    {"themes", FIELD_STRING_ARRAY, FIELD_ITEM_MAX(50), 0, 20, NULL},
    MEETING_READ_ONLY_FIELDS,
    {NULL, 0, 0, 0, 0, NULL},
};

static const field_spec meeting_update_fields[] = {
    {"starts_at", FIELD_TIMESTAMP, 0, MEETING_FIRST_YEAR, MEETING_LAST_YEAR, NULL},
    {"ends_at", FIELD_TIMESTAMP, 0, MEETING_FIRST_YEAR, MEETING_LAST_YEAR, NULL},
    {"location", FIELD_STRING, FIELD_NULLABLE, 1, 200, NULL},
    {"online", FIELD_BOOLEAN, 0, 0, 0, NULL},
    {"agenda", FIELD_STRING, FIELD_NULLABLE, 0, 10000, NULL},
    {"notes", FIELD_STRING, FIELD_NULLABLE, 0, 50000, NULL},
    {"themes", FIELD_STRING_ARRAY, FIELD_ITEM_MAX(50), 0, 20, NULL},
    MEETING_READ_ONLY_FIELDS,
    {NULL, 0, 0, 0, 0, NULL},
};

static const char *const attendance_statuses[] = {"present", "apologies", "absent", NULL};

/* One entry of the attendance array: exactly these two keys. */
static const field_spec attendance_item_fields[] = {
    {"member_id", FIELD_UUID, FIELD_REQUIRED, 0, 0, NULL},
    {"status", FIELD_ENUM, FIELD_REQUIRED, 0, 0, attendance_statuses},
    {NULL, 0, 0, 0, 0, NULL},
};

/* Replies with a meeting representation, its ETag and, for 201, its Location. */
static void reply_meeting(fn_req *req, int http_status, const char *group_id, const char *id, char *json,
                          long version) {
  reply_etag(req, version);
  if (http_status == 201) {
    char location[128];
    snprintf(location, sizeof location, "/v1/groups/%s/meetings/%s", group_id, id);
    reply_header(req, "Location", location);
  }
  reply_json_text(req, http_status, json, strlen(json));
  free(json);
}

/* Replies 400 for a span that is empty, reversed or longer than a day, naming the field the body changed
 * (ends_at unless only starts_at was sent). */
static void reply_bad_span(fn_req *req) {
  json_t *errors = NULL;
  if (req->db != NULL)
    db_rollback(req->db);
  if (json_object_get(req->body, "ends_at") == NULL && json_object_get(req->body, "starts_at") != NULL)
    field_errors_add(&errors, "starts_at", "must be before ends_at and at most 24 hours earlier");
  else
    field_errors_add(&errors, "ends_at", "must be after starts_at and at most 24 hours later");
  reply_invalid(req, errors);
}

/* 1 if the meeting would end after it starts and at most 24 hours later. stored: the row a PATCH
 * changes (NULL on create, where both times are required). */
static int span_ok(const json_t *body, const meeting_row *stored) {
  long long starts = stored ? stored->starts_us : 0, ends = stored ? stored->ends_us : 0;
  const char *s = body_string(body, "starts_at"), *e = body_string(body, "ends_at");
  if (s != NULL)
    rfc3339_parse(s, &starts);
  if (e != NULL)
    rfc3339_parse(e, &ends);
  return ends > starts && ends - starts <= MEETING_MAX_SPAN_US;
}

/* Ends a failed write. The schema's CHECK on the span backs up span_ok() (PostgreSQL rounds fractions of a
 * microsecond its own way); every other limit is validated first, so a check violation is the span. */
static void fail_write(fn_req *req, fn_status st, const char *detail) {
  if (st == FN_INVALID && req->db != NULL && strcmp(db_last_sqlstate(req->db), "23514") == 0) {
    reply_bad_span(req);
    return;
  }
  req_fail(req, st, detail);
}

/* Validates {"attendance": [{member_id, status}, ...]}; on failure replies 400 and returns FN_INVALID. */
static fn_status validate_attendance(fn_req *req) {
  json_t *errors = NULL, *value;
  const char *key;
  json_object_foreach(req->body, key, value) {
    if (strcmp(key, "attendance") != 0)
      field_errors_add(&errors, key, "is not a known field");
  }
  json_t *items = json_object_get(req->body, "attendance");
  if (items == NULL) {
    field_errors_add(&errors, "attendance", "is required");
  } else if (!json_is_array(items)) {
    field_errors_add(&errors, "attendance", "must be an array of {member_id, status} objects");
  } else if (json_array_size(items) > MEETING_MAX_ATTENDANCE) {
    field_errors_add(&errors, "attendance", "must have at most 50 items");
  } else {
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) {
      char field[96];
      json_t *item_errors = NULL, *e;
      size_t k;
      if (!json_is_object(item)) {
        snprintf(field, sizeof field, "attendance[%zu]", i);
        field_errors_add(&errors, field, "must be an object with member_id and status");
        continue;
      }
      if (body_validate(item, attendance_item_fields, &item_errors) != FN_OK) {
        json_array_foreach(item_errors, k, e) {
          snprintf(field, sizeof field, "attendance[%zu].%.32s", i, body_string(e, "field"));
          field_errors_add(&errors, field, body_string(e, "message"));
        }
        json_decref(item_errors);
        continue;
      }
      const char *member_id = body_string(item, "member_id");
      for (size_t j = 0; j < i; j++) {
        const char *earlier = body_string(json_array_get(items, j), "member_id");
        if (earlier != NULL && strcasecmp(earlier, member_id) == 0) {
          snprintf(field, sizeof field, "attendance[%zu].member_id", i);
          field_errors_add(&errors, field, "is listed more than once");
          break;
        }
      }
    }
  }
  if (errors == NULL)
    return FN_OK;
  reply_invalid(req, errors);
  return FN_INVALID;
}

/* Audit details: the group, and for an update the names of the fields changed, never their values (notes
 * are the group's inner life; the audit log is read by administrators). */
static json_t *audit_details(const char *group_id, const json_t *changed) {
  json_t *details = json_pack("{s:s}", "group_id", group_id);
  if (changed != NULL) {
    json_t *fields = json_array();
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)changed, key, value) { json_array_append_new(fields, json_string(key)); }
    json_object_set_new(details, "fields", fields);
  }
  return details;
}

static fn_status meetings_http_list(fn_req *req) {
  const char *group_id = req_param(req, "group_id"), *detail = NULL;
  page_request page;
  group_access access;
  PGresult *res = NULL;
  fn_status st;
  if (!req_is_id(group_id)) {
    req_fail(req, FN_NOT_FOUND, "No such group.");
    return FN_OK;
  }
  if (page_from_request_or_reply(req, &page) != FN_OK)
    return FN_OK;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = groups_db_access(db, group_id, req->caller.id, 0, &access)) != FN_OK ||
      (st = meetings_can_read(&access, &detail)) != FN_OK ||
      (st = meetings_db_list(db, group_id, &page, &res)) != FN_OK)
    req_fail(req, st, st == FN_NOT_FOUND ? "No such group." : detail);
  else
    page_reply(req, res, 0, 1, &page);
  PQclear(res);
  return FN_OK;
}

static fn_status meetings_http_get(fn_req *req) {
  const char *group_id = req_param(req, "group_id"), *id = req_param(req, "meeting_id"), *detail = NULL;
  group_access access;
  char *json = NULL;
  long version = 0;
  fn_status st;
  if (!req_is_id(group_id) || !req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, req_is_id(group_id) ? "No such meeting." : "No such group.");
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = groups_db_access(db, group_id, req->caller.id, 0, &access)) != FN_OK ||
      (st = meetings_can_read(&access, &detail)) != FN_OK) {
    req_fail(req, st, st == FN_NOT_FOUND ? "No such group." : detail);
    return FN_OK;
  }
  if ((st = meetings_db_get(db, group_id, id, &json, &version)) != FN_OK) {
    req_fail(req, st, st == FN_NOT_FOUND ? "No such meeting." : NULL);
    return FN_OK;
  }
  if (req_if_none_match(req, version)) {
    reply_etag(req, version);
    reply_empty(req, 304);
    free(json);
    return FN_OK;
  }
  reply_meeting(req, 200, group_id, id, json, version);
  return FN_OK;
}

static fn_status meetings_http_create(fn_req *req) {
  const char *group_id = req_param(req, "group_id"), *detail = NULL;
  group_access access;
  char *json = NULL, id[37];
  long version = 0;
  fn_status st;
  if (!req_is_id(group_id)) {
    req_fail(req, FN_NOT_FOUND, "No such group.");
    return FN_OK;
  }
  if (req_validate_body_or_reply(req, meeting_create_fields) != FN_OK)
    return FN_OK;
  if (!span_ok(req->body, NULL)) {
    reply_bad_span(req);
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  /* The group row stays locked until commit, so a concurrent close cannot slip in between. */
  if ((st = db_begin(db)) != FN_OK || (st = groups_db_access(db, group_id, req->caller.id, 1, &access)) != FN_OK ||
      (st = meetings_can_change(&access, &detail)) != FN_OK)
    goto fail;
  if ((st = meetings_db_insert(db, group_id, req->body, access.caller_id, &json, &version, id)) != FN_OK)
    goto fail;
  json_t *details = audit_details(group_id, NULL);
  st = req_audit(req, "meeting.created", "meeting", id, details);
  json_decref(details);
  if (st != FN_OK || (st = db_commit(db)) != FN_OK)
    goto fail;
  reply_meeting(req, 201, group_id, id, json, version);
  return FN_OK;
fail:
  free(json);
  fail_write(req, st, st == FN_NOT_FOUND ? "No such group." : detail);
  return FN_OK;
}

/* Begins the write's transaction, locks the group and the meeting, and checks the caller and If-Match.
 * On failure *detail explains, when there is more to say than the status. */
static fn_status begin_meeting_change(fn_req *req, db_conn *db, const char *group_id, const char *id,
                                      meeting_row *meeting, const char **detail) {
  group_access access;
  fn_status st;
  if ((st = db_begin(db)) != FN_OK || (st = groups_db_access(db, group_id, req->caller.id, 1, &access)) != FN_OK ||
      (st = meetings_can_change(&access, detail)) != FN_OK) {
    if (st == FN_NOT_FOUND)
      *detail = "No such group.";
    return st;
  }
  if ((st = meetings_db_lock(db, group_id, id, meeting)) != FN_OK) {
    if (st == FN_NOT_FOUND)
      *detail = "No such meeting.";
    return st;
  }
  return req_if_match(req, meeting->version);
}

static fn_status meetings_http_update(fn_req *req) {
  const char *group_id = req_param(req, "group_id"), *id = req_param(req, "meeting_id"), *detail = NULL;
  meeting_row meeting;
  char *json = NULL;
  long version = 0;
  fn_status st;
  if (!req_is_id(group_id) || !req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, req_is_id(group_id) ? "No such meeting." : "No such group.");
    return FN_OK;
  }
  if (req_validate_body_or_reply(req, meeting_update_fields) != FN_OK)
    return FN_OK;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = begin_meeting_change(req, db, group_id, id, &meeting, &detail)) != FN_OK)
    goto fail;
  if (!span_ok(req->body, &meeting)) {
    reply_bad_span(req);
    return FN_OK;
  }
  if (json_object_size(req->body) == 0) { /* nothing to change: no new version */
    if ((st = meetings_db_get(db, group_id, id, &json, &version)) != FN_OK || (st = db_commit(db)) != FN_OK)
      goto fail;
    reply_meeting(req, 200, group_id, id, json, version);
    return FN_OK;
  }
  if ((st = meetings_db_update(db, id, req->body, &json, &version)) != FN_OK)
    goto fail;
  json_t *details = audit_details(group_id, req->body);
  st = req_audit(req, "meeting.updated", "meeting", id, details);
  json_decref(details);
  if (st != FN_OK || (st = db_commit(db)) != FN_OK)
    goto fail;
  reply_meeting(req, 200, group_id, id, json, version);
  return FN_OK;
fail:
  free(json);
  fail_write(req, st, detail);
  return FN_OK;
}

static fn_status meetings_http_record_attendance(fn_req *req) {
  const char *group_id = req_param(req, "group_id"), *id = req_param(req, "meeting_id"), *detail = NULL;
  meeting_row meeting;
  char *json = NULL, *attendance = NULL;
  long version = 0;
  int bad[MEETING_MAX_ATTENDANCE], bad_count = 0;
  fn_status st;
  if (!req_is_id(group_id) || !req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, req_is_id(group_id) ? "No such meeting." : "No such group.");
    return FN_OK;
  }
  if (validate_attendance(req) != FN_OK)
    return FN_OK;
  attendance = json_dumps(json_object_get(req->body, "attendance"), JSON_COMPACT);
  if (attendance == NULL) {
    req_fail(req, FN_INTERNAL, NULL);
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    goto out;
  if ((st = begin_meeting_change(req, db, group_id, id, &meeting, &detail)) != FN_OK ||
      (st = meetings_db_non_members(db, group_id, attendance, bad, MEETING_MAX_ATTENDANCE, &bad_count)) != FN_OK)
    goto fail;
  if (bad_count > 0) {
    json_t *errors = NULL;
    for (int i = 0; i < bad_count; i++) {
      char field[64];
      snprintf(field, sizeof field, "attendance[%d].member_id", bad[i]);
      field_errors_add(&errors, field, "is not an active member of this group");
    }
    db_rollback(db);
    reply_invalid(req, errors);
    goto out;
  }
  if ((st = meetings_db_replace_attendance(db, id, attendance, &json, &version)) != FN_OK)
    goto fail;
  json_t *details = audit_details(group_id, NULL);
  json_object_set_new(details, "recorded",
                      json_integer((json_int_t)json_array_size(json_object_get(req->body, "attendance"))));
  st = req_audit(req, "meeting.attendance_recorded", "meeting", id, details);
  json_decref(details);
  if (st != FN_OK || (st = db_commit(db)) != FN_OK)
    goto fail;
  reply_meeting(req, 200, group_id, id, json, version);
  json = NULL; /* reply_meeting freed it */
  goto out;
fail:
  req_fail(req, st, detail);
out:
  free(json);
  free(attendance);
  return FN_OK;
}

const fn_route meetings_routes[] = {
    {"GET", "/v1/groups/{group_id}/meetings", meetings_http_list, 0},
    {"POST", "/v1/groups/{group_id}/meetings", meetings_http_create, ROUTE_JSON_BODY | ROUTE_IDEMPOTENT},
    {"GET", "/v1/groups/{group_id}/meetings/{meeting_id}", meetings_http_get, 0},
    {"PATCH", "/v1/groups/{group_id}/meetings/{meeting_id}", meetings_http_update, ROUTE_JSON_BODY},
    {"PUT", "/v1/groups/{group_id}/meetings/{meeting_id}/attendance", meetings_http_record_attendance, ROUTE_JSON_BODY},
    {NULL, NULL, NULL, 0},
};
