/* /v1/groups/{group_id}/meetings: a group's meetings and their attendance (API.md section 5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/body.h"
#include "forumnet/groups_db.h"
#include "forumnet/http.h"
#include "forumnet/meetings_db.h"
#include "forumnet/notifications.h"
#include "forumnet/pagination.h"
#include "forumnet/routes.h"
#include "forumnet/timestamp.h"

#define NO_SUCH_GROUP "No such group."
#define NO_SUCH_MEETING "No such meeting."

/* Years a meeting may be given in: they keep every instant (and its cursor) a four-digit UTC year. */
#define MEETING_FIRST_YEAR 1900
#define MEETING_LAST_YEAR 2999
#define MEETING_MAX_SPAN_US (24LL * 3600 * 1000000)

static const char *const meeting_read_only[] = {"id", "group_id", "attendance", "version", "created_at", NULL};

/* POST and PATCH bodies (FIELD_REQUIRED applies to POST only). */
static const field_spec meeting_fields[] = {
    {"starts_at", FIELD_TIMESTAMP, FIELD_REQUIRED, MEETING_FIRST_YEAR, MEETING_LAST_YEAR, NULL},
    {"ends_at", FIELD_TIMESTAMP, FIELD_REQUIRED, MEETING_FIRST_YEAR, MEETING_LAST_YEAR, NULL},
    {"location", FIELD_STRING, FIELD_NULLABLE, 1, 200, NULL},
    {"online", FIELD_BOOLEAN, 0, 0, 0, NULL},
    {"agenda", FIELD_STRING, FIELD_NULLABLE, 0, 10000, NULL},
    {"notes", FIELD_STRING, FIELD_NULLABLE, 0, 50000, NULL},
    {"themes", FIELD_STRING_ARRAY, FIELD_ITEM_MAX(50), 0, 20, NULL},
    FIELDS_READ_ONLY(meeting_read_only),
    {NULL, 0, 0, 0, 0, NULL},
};

static const char *const attendance_statuses[] = {"present", "apologies", "absent", NULL};

/* One entry of the attendance array: exactly these two keys. */
static const field_spec attendance_item_fields[] = {
    {"member_id", FIELD_UUID, FIELD_REQUIRED, 0, 0, NULL},
    {"status", FIELD_ENUM, FIELD_REQUIRED, 0, 0, attendance_statuses},
    {NULL, 0, 0, 0, 0, NULL},
};

/* FN_INVALID for a span that is empty, reversed or longer than a day, naming the field the body changed
 * (ends_at unless only starts_at was sent). */
static fn_status bad_span(fn_req *req) {
  if (json_object_get(req->body, "ends_at") == NULL && json_object_get(req->body, "starts_at") != NULL)
    return req_invalid_field(req, "starts_at", "must be before ends_at and at most 24 hours earlier");
  return req_invalid_field(req, "ends_at", "must be after starts_at and at most 24 hours later");
}

/* FN_OK if the meeting would end after it starts and at most 24 hours later, else bad_span. stored: the
 * row a PATCH changes (NULL on create, where both times are required). */
static fn_status check_span(fn_req *req, const meeting_row *stored) {
  long long starts = stored ? stored->starts_us : 0, ends = stored ? stored->ends_us : 0;
  const char *s = body_string(req->body, "starts_at"), *e = body_string(req->body, "ends_at");
  if (s != NULL)
    rfc3339_parse(s, &starts);
  if (e != NULL)
    rfc3339_parse(e, &ends);
  return ends > starts && ends - starts <= MEETING_MAX_SPAN_US ? FN_OK : bad_span(req);
}

/* A failed write. The schema's CHECK on the span backs up check_span() (PostgreSQL rounds fractions of a
 * microsecond its own way); every other limit is validated first, so a check violation is the span. */
static fn_status write_failed(fn_req *req, fn_status st, const char *detail) {
  if (st == FN_INVALID && req->db != NULL && strcmp(db_last_sqlstate(req->db), "23514") == 0)
    return bad_span(req);
  return req_problem(req, st, detail);
}

/* Adds the errors of attendance[i] (an entry of items) to *errors. */
static void check_attendance_item(const json_t *items, size_t i, json_t **errors) {
  const json_t *item = json_array_get(items, i);
  char field[96];
  json_t *item_errors = NULL, *e;
  size_t k;
  if (!json_is_object(item)) {
    snprintf(field, sizeof field, "attendance[%zu]", i);
    field_errors_add(errors, field, "must be an object with member_id and status");
    return;
  }
  if (body_validate(item, attendance_item_fields, &item_errors) != FN_OK) {
    json_array_foreach(item_errors, k, e) {
      snprintf(field, sizeof field, "attendance[%zu].%.32s", i, body_string(e, "field"));
      field_errors_add(errors, field, body_string(e, "message"));
    }
    json_decref(item_errors);
    return;
  }
  if (body_item_repeats(items, i, "member_id", 1)) {
    snprintf(field, sizeof field, "attendance[%zu].member_id", i);
    field_errors_add(errors, field, "is listed more than once");
  }
}

/* Validates {"attendance": [{member_id, status}, ...]}; FN_INVALID with the field errors attached. */
static fn_status validate_attendance(fn_req *req) {
  json_t *errors = NULL, *value;
  const char *key;
  json_object_foreach(req->body, key, value) {
    if (strcmp(key, "attendance") != 0)
      field_errors_add(&errors, key, "is not a known field");
  }
  json_t *items = json_object_get(req->body, "attendance");
  if (items == NULL)
    field_errors_add(&errors, "attendance", "is required");
  else if (!json_is_array(items))
    field_errors_add(&errors, "attendance", "must be an array of {member_id, status} objects");
  else if (json_array_size(items) > MEETING_MAX_ATTENDANCE)
    field_errors_add(&errors, "attendance", "must have at most 50 items");
  else
    for (size_t i = 0; i < json_array_size(items); i++)
      check_attendance_item(items, i, &errors);
  return errors == NULL ? FN_OK : req_invalid(req, errors);
}

/* Writes the audit row of a change to meeting id: its details are the group and more (stolen, may be
 * NULL). */
static fn_status audit_meeting(fn_req *req, const char *action, const char *group_id, const char *id, json_t *more) {
  json_t *details = json_pack("{s:s}", "group_id", group_id);
  if (more != NULL)
    json_object_update(details, more);
  json_decref(more);
  fn_status st = req_audit(req, action, "meeting", id, details);
  json_decref(details);
  return st;
}

/* An update's audit details: the names of the fields changed, never their values (notes are the group's
 * inner life; the audit log is read by administrators). */
static json_t *changed_fields(const json_t *body) {
  json_t *fields = json_array();
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)body, key, value) { json_array_append_new(fields, json_string(key)); }
  return json_pack("{s:o}", "fields", fields);
}

/* 1 when body changes what members come to (time, place, agenda): notes and themes, written after the
 * meeting, notify nobody. */
static int changes_arrangements(const json_t *body) {
  static const char *const fields[] = {"starts_at", "ends_at", "location", "online", "agenda"};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    if (json_object_get(body, fields[i]) != NULL)
      return 1;
  return 0;
}

/* The caller may read the group's meetings. */
static fn_status check_read(fn_req *req, db_conn *db, const char *group_id) {
  group_access access;
  const char *detail = NULL;
  fn_status st;
  if ((st = groups_db_access(db, group_id, req->caller.id, 0, &access)) != FN_OK ||
      (st = meetings_can_read(&access, &detail)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_GROUP : detail);
  return FN_OK;
}

/* Begins the write's transaction, locks the group (until commit, so a concurrent close cannot slip in
 * between) and checks that the caller may change its meetings. */
static fn_status begin_group_change(fn_req *req, db_conn *db, const char *group_id, group_access *access) {
  const char *detail = NULL;
  fn_status st;
  if ((st = db_begin(db)) != FN_OK || (st = groups_db_access(db, group_id, req->caller.id, 1, access)) != FN_OK ||
      (st = meetings_can_change(access, &detail)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_GROUP : detail);
  return FN_OK;
}

/* begin_group_change, then locks the meeting and checks If-Match. */
static fn_status begin_meeting_change(fn_req *req, db_conn *db, const char *group_id, const char *id,
                                      meeting_row *meeting) {
  group_access access;
  fn_status st;
  if ((st = begin_group_change(req, db, group_id, &access)) != FN_OK)
    return st;
  if ((st = meetings_db_lock(db, group_id, id, meeting)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_MEETING : NULL);
  return req_if_match(req, meeting->version);
}

/* The path's group and meeting ids (404 for ids that cannot exist). */
static fn_status meeting_path(fn_req *req, const char **group_id, const char **id) {
  fn_status st = req_path_id(req, "group_id", NO_SUCH_GROUP, group_id);
  return st == FN_OK ? req_path_id(req, "meeting_id", NO_SUCH_MEETING, id) : st;
}

static fn_status meetings_http_list(fn_req *req) {
  const char *group_id;
  page_request page;
  PGresult *res = NULL;
  db_conn *db;
  fn_status st;
  if ((st = page_open_under(req, "group_id", NO_SUCH_GROUP, &group_id, &page, NULL, &db)) != FN_OK ||
      (st = check_read(req, db, group_id)) != FN_OK)
    return st;
  if ((st = meetings_db_list(db, group_id, &page, &res)) == FN_NOT_FOUND)
    req_problem(req, st, NO_SUCH_GROUP);
  return page_reply_result(req, st, res, &page);
}

static fn_status meetings_http_get(fn_req *req) {
  const char *group_id, *id;
  db_representation rep = {NULL, 0};
  db_conn *db;
  fn_status st;
  if ((st = meeting_path(req, &group_id, &id)) != FN_OK || (st = req_db(req, &db)) != FN_OK ||
      (st = check_read(req, db, group_id)) != FN_OK)
    return st;
  st = meetings_db_get(db, group_id, id, &rep);
  return reply_conditional_result(req, st, &rep, NO_SUCH_MEETING);
}

static fn_status meetings_http_create(fn_req *req) {
  const char *group_id;
  group_access access;
  char id[UUID_TEXT_SIZE], location[128];
  db_representation rep = {NULL, 0};
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "group_id", NO_SUCH_GROUP, &group_id)) != FN_OK ||
      (st = req_validate_body(req, meeting_fields, BODY_CREATE)) != FN_OK || (st = check_span(req, NULL)) != FN_OK ||
      (st = req_db(req, &db)) != FN_OK || (st = begin_group_change(req, db, group_id, &access)) != FN_OK)
    return st;
  if ((st = meetings_db_insert(db, group_id, req->body, access.caller_id, &rep, id)) != FN_OK ||
      (st = audit_meeting(req, "meeting.created", group_id, id, NULL)) != FN_OK ||
      (st = req_notify(req, NOTIFY_MEETING_SCHEDULED, id, NULL)) != FN_OK) {
    free(rep.json);
    return write_failed(req, st, st == FN_NOT_FOUND ? NO_SUCH_GROUP : NULL);
  }
  snprintf(location, sizeof location, "/v1/groups/%s/meetings/%s", group_id, id);
  return req_commit_reply(req, 201, rep.json, rep.version, location);
}

static fn_status meetings_http_update(fn_req *req) {
  const char *group_id, *id;
  meeting_row meeting;
  db_representation rep = {NULL, 0};
  db_conn *db;
  fn_status st;
  if ((st = meeting_path(req, &group_id, &id)) != FN_OK ||
      (st = req_validate_body(req, meeting_fields, BODY_UPDATE)) != FN_OK || (st = req_db(req, &db)) != FN_OK ||
      (st = begin_meeting_change(req, db, group_id, id, &meeting)) != FN_OK ||
      (st = check_span(req, &meeting)) != FN_OK)
    return st;
  if (json_object_size(req->body) == 0) /* nothing to change: no new version */
    st = meetings_db_get(db, group_id, id, &rep);
  else if ((st = meetings_db_update(db, id, req->body, &rep)) == FN_OK &&
           (st = audit_meeting(req, "meeting.updated", group_id, id, changed_fields(req->body))) == FN_OK &&
           changes_arrangements(req->body))
    st = req_notify(req, NOTIFY_MEETING_CHANGED, id, NULL);
  if (st != FN_OK) {
    free(rep.json);
    return write_failed(req, st, NULL);
  }
  return req_commit_reply(req, 200, rep.json, rep.version, NULL);
}

/* Replaces the attendance of a meeting whose path ids are checked with attendance (JSON text). */
static fn_status record_attendance(fn_req *req, const char *group_id, const char *id, const char *attendance) {
  meeting_row meeting;
  db_representation rep = {NULL, 0};
  int bad[MEETING_MAX_ATTENDANCE], bad_count = 0;
  db_conn *db;
  fn_status st;
  if ((st = req_db(req, &db)) != FN_OK || (st = begin_meeting_change(req, db, group_id, id, &meeting)) != FN_OK ||
      (st = meetings_db_non_members(db, group_id, attendance, bad, MEETING_MAX_ATTENDANCE, &bad_count)) != FN_OK)
    return st;
  for (int i = 0; i < bad_count; i++) {
    char field[64];
    snprintf(field, sizeof field, "attendance[%d].member_id", bad[i]);
    req_invalid_field(req, field, "is not an active member of this group");
  }
  if (bad_count > 0)
    return FN_INVALID;
  if ((st = meetings_db_replace_attendance(db, id, attendance, &rep)) != FN_OK ||
      (st = audit_meeting(req, "meeting.attendance_recorded", group_id, id,
                          json_pack("{s:I}", "recorded",
                                    (json_int_t)json_array_size(json_object_get(req->body, "attendance"))))) != FN_OK) {
    free(rep.json);
    return st;
  }
  return req_commit_reply(req, 200, rep.json, rep.version, NULL);
}

static fn_status meetings_http_record_attendance(fn_req *req) {
  const char *group_id, *id;
  fn_status st;
  if ((st = meeting_path(req, &group_id, &id)) != FN_OK || (st = validate_attendance(req)) != FN_OK)
    return st;
  char *attendance = json_dumps(json_object_get(req->body, "attendance"), JSON_COMPACT);
  if (attendance == NULL)
    return FN_INTERNAL;
  st = record_attendance(req, group_id, id, attendance);
  free(attendance);
  return st;
}

const fn_route meetings_routes[] = {
    ROUTES_COLLECTION("/v1/groups/{group_id}/meetings", "{meeting_id}", meetings, 0),
    {"PUT", "/v1/groups/{group_id}/meetings/{meeting_id}/attendance", meetings_http_record_attendance, ROUTE_JSON_BODY},
    {NULL, NULL, NULL, 0},
};
