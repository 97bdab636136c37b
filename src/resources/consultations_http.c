/* /v1/consultations: managers consult forums and publish what they did (API.md section 6).
 * Responses are in responses_http.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/body.h"
#include "forumnet/consultations_db.h"
#include "forumnet/http.h"
#include "forumnet/notifications.h"
#include "forumnet/pagination.h"
#include "forumnet/routes.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

static const char *const status_choices[] = {"draft", "open", "closed", "outcome_published", NULL};
static const char *const action_status_choices[] = {"planned", "in_progress", "done", "not_doing", NULL};

#define NO_SUCH_CONSULTATION "No such consultation."
#define ILLEGAL_MOVE "That status change is not allowed: draft -> open -> closed -> outcome_published (by its outcome)."

static const char *const consultation_read_only[] = {"id",         "owner_id",      "outcome", "version",
                                                     "created_at", "response_rate", "status",  NULL};

/* POST and PATCH bodies (FIELD_REQUIRED applies to POST only). A consultation is created as a draft: in a
 * POST the status entry is passed over (FIELD_UPDATE_ONLY) and status is one of the read-only names. */
static const field_spec consultation_fields[] = {
    {"status", FIELD_ENUM, FIELD_UPDATE_ONLY, 0, 0, status_choices},
    {"title", FIELD_STRING, FIELD_REQUIRED, 1, 200, NULL},
    {"summary", FIELD_STRING, FIELD_REQUIRED, 1, 5000, NULL},
    {"questions", FIELD_ARRAY, FIELD_REQUIRED, 1, 50, NULL},
    {"target", FIELD_OBJECT, FIELD_REQUIRED, 0, 0, NULL},
    {"opens_at", FIELD_TIMESTAMP, FIELD_REQUIRED, 2000, 2999, NULL},
    {"closes_at", FIELD_TIMESTAMP, FIELD_REQUIRED, 2000, 2999, NULL},
    FIELDS_READ_ONLY(consultation_read_only),
    {NULL, 0, 0, 0, 0, NULL},
};

static const field_spec question_fields[] = {
    {"id", FIELD_STRING, FIELD_REQUIRED, 1, 40, NULL},
    {"text", FIELD_STRING, FIELD_REQUIRED, 1, 2000, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

static const field_spec target_fields[] = {
    {"site_ids", FIELD_ARRAY, 0, 0, 100, NULL},
    {"group_ids", FIELD_ARRAY, 0, 0, 100, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

static const field_spec outcome_fields[] = {
    {"summary", FIELD_STRING, FIELD_REQUIRED, 1, 10000, NULL},
    {"actions", FIELD_ARRAY, FIELD_REQUIRED, 0, 50, NULL},
    {"published_at", FIELD_READ_ONLY, 0, 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

static const field_spec action_fields[] = {
    {"text", FIELD_STRING, FIELD_REQUIRED, 1, 2000, NULL},
    {"status", FIELD_ENUM, FIELD_REQUIRED, 0, 0, action_status_choices},
    {NULL, 0, 0, 0, 0, NULL},
};

/* Question ids are short, stable and unique: responses refer to them. */
static void check_questions(const json_t *questions, json_t **errors) {
  if (questions == NULL || body_validate_items(questions, "questions", question_fields, errors) != FN_OK)
    return;
  size_t i;
  json_t *q;
  json_array_foreach((json_t *)questions, i, q) {
    const char *id = body_string(q, "id");
    char field[48];
    snprintf(field, sizeof field, "questions[%zu].id", i);
    for (const char *p = id; *p; p++)
      if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')) {
        field_errors_add(errors, field, "must use only a-z, 0-9, _ and -");
        break;
      }
    if (body_item_repeats(questions, i, "id", 0))
      field_errors_add(errors, field, "repeats an earlier question id");
  }
}

static void check_target(const json_t *target, json_t **errors) {
  if (target == NULL || body_validate_nested(target, "target", target_fields, errors) != FN_OK)
    return;
  static const char *const keys[] = {"site_ids", "group_ids"};
  size_t total = 0;
  for (int k = 0; k < 2; k++) {
    json_t *ids = json_object_get(target, keys[k]);
    char field[48];
    snprintf(field, sizeof field, "target.%s", keys[k]);
    body_check_uuid_items(ids, field, errors);
    total += json_array_size(ids);
  }
  if (total == 0)
    field_errors_add(errors, "target", "must name at least one site or group");
}

/* Validates a POST or PATCH body, with the checks a field_spec cannot express: nested items, and closes_at
 * after opens_at. */
static fn_status validate_body(fn_req *req, body_mode mode) {
  json_t *errors = NULL;
  long long opens, closes;
  if (body_validate_as(req->body, consultation_fields, mode, &errors) != FN_OK)
    return req_invalid(req, errors);
  check_questions(json_object_get(req->body, "questions"), &errors);
  check_target(json_object_get(req->body, "target"), &errors);
  if (rfc3339_parse(body_string(req->body, "opens_at"), &opens) &&
      rfc3339_parse(body_string(req->body, "closes_at"), &closes) && closes <= opens)
    field_errors_add(&errors, "closes_at", "must be after opens_at");
  return errors == NULL ? FN_OK : req_invalid(req, errors);
}

/* The target rules that need the database (consultations_db_check_targets). */
static fn_status check_targets(fn_req *req, db_conn *db, const member_caller *caller) {
  json_t *errors = NULL;
  const char *detail = NULL;
  fn_status st = consultations_db_check_targets(db, caller, json_object_get(req->body, "target"), &errors, &detail);
  return req_check_result(req, st, errors, detail);
}

/* Reads the Consultation inside the transaction, then commits and replies (a 201 with its Location). */
static fn_status commit_reply_consultation(fn_req *req, int http_status, const char *id) {
  char location[96];
  db_representation rep = {NULL, 0};
  fn_status st = consultations_db_get(req->db, id, req->caller.id, &rep);
  if (st != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_CONSULTATION : NULL);
  snprintf(location, sizeof location, "/v1/consultations/%s", id);
  return req_commit_reply(req, http_status, rep.json, rep.version, http_status == 201 ? location : NULL);
}

static fn_status consultations_http_create(fn_req *req) {
  member_caller caller;
  char id[UUID_TEXT_SIZE];
  db_conn *db;
  fn_status st;
  if ((st = validate_body(req, BODY_CREATE)) != FN_OK || (st = req_db(req, &db)) != FN_OK ||
      (st = members_db_begin_as_caller(db, req->caller.id, &caller)) != FN_OK)
    return st;
  if (caller.role != ROLE_ADMIN && caller.role != ROLE_MANAGER)
    return req_problem(req, FN_FORBIDDEN, "Only managers and admins consult forums.");
  if ((st = check_targets(req, db, &caller)) != FN_OK ||
      (st = consultations_db_insert(db, req->body, caller.id, id)) != FN_OK ||
      (st = req_audit(req, "consultation.created", "consultation", id, NULL)) != FN_OK)
    return st;
  return commit_reply_consultation(req, 201, id);
}

static fn_status consultations_http_list(fn_req *req) {
  page_request page;
  PGresult *res = NULL;
  const char *status = req_query(req, "status"), *site_id = req_query(req, "site_id");
  json_t *errors = NULL;
  db_conn *db;
  fn_status st;
  if (status && !text_is_choice(status, status_choices))
    field_errors_add(&errors, "status", "must be one of: draft open closed outcome_published");
  if (site_id && !text_is_uuid(site_id))
    field_errors_add(&errors, "site_id", "must be a UUID");
  if ((st = page_open(req, &page, errors, &db)) != FN_OK)
    return st;
  st = consultations_db_list(db, req->caller.id, status, site_id, &page, &res);
  return page_reply_result(req, st, res, &page);
}

static fn_status consultations_http_get(fn_req *req) {
  const char *id;
  consultation_access a;
  db_representation rep = {NULL, 0};
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "consultation_id", NO_SUCH_CONSULTATION, &id)) != FN_OK ||
      (st = req_db(req, &db)) != FN_OK)
    return st;
  if ((st = consultations_db_visible(db, id, req->caller.id, 0, &a)) != FN_OK ||
      (st = consultations_db_get(db, id, req->caller.id, &rep)) != FN_OK)
    return req_problem(req, st, NO_SUCH_CONSULTATION);
  /* No 304 while a consultation is closed in effect but not yet recorded as closed: its
   * version did not move when the clock passed closes_at. */
  if (a.stored_open && !a.closes_in_future)
    reply_representation(req, 200, rep.json, rep.version, NULL);
  else
    reply_conditional(req, rep.json, rep.version);
  return FN_OK;
}

/* Begins the transaction of a change by the consultation's owner or an admin: locks and authorizes it
 * (forbidden: the refusal's detail) and checks If-Match. */
static fn_status begin_owner_change(fn_req *req, db_conn *db, const char *id, consultation_access *a,
                                    const char *forbidden) {
  fn_status st;
  if ((st = db_begin(db)) != FN_OK || (st = consultations_db_visible(db, id, req->caller.id, 1, a)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_CONSULTATION : NULL);
  if (!a->owner_or_admin)
    return req_problem(req, FN_FORBIDDEN, forbidden);
  return req_if_match(req, a->version);
}

/* 1 if body changes more than status and closes_at. */
static int has_draft_fields(const json_t *body) {
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)body, key, v) {
    if (strcmp(key, "status") != 0 && strcmp(key, "closes_at") != 0)
      return 1;
  }
  return 0;
}

static fn_status record_status(fn_req *req, db_conn *db, const char *id, const char *status, const char *action) {
  fn_status st = consultations_db_set(db, id, CONSULTATION_STATUS, status);
  return st == FN_OK ? req_audit(req, action, "consultation", id, NULL) : st;
}

/* A draft: everything may change, and it may open (wanted: the status the body asks for, or NULL). */
static fn_status change_draft(fn_req *req, db_conn *db, const char *id, const char *wanted) {
  member_caller caller;
  consultation_access after;
  int opens = wanted != NULL && strcmp(wanted, "draft") != 0;
  fn_status st;
  if (opens && strcmp(wanted, "open") != 0)
    return req_problem(req, FN_CONFLICT, ILLEGAL_MOVE);
  if (json_object_get(req->body, "target") != NULL &&
      ((st = members_db_load_caller(db, req->caller.id, &caller)) != FN_OK ||
       (st = check_targets(req, db, &caller)) != FN_OK))
    return st;
  if (json_object_size(req->body) > (wanted ? 1u : 0u)) {
    st = consultations_db_update_draft(db, id, req->body);
    if (st == FN_INVALID) /* the only CHECK a valid body can break: the dates against the stored ones */
      return req_invalid_field(req, json_object_get(req->body, "closes_at") ? "closes_at" : "opens_at",
                               "closes_at must be after opens_at");
    if (st != FN_OK || (st = req_audit(req, "consultation.updated", "consultation", id, NULL)) != FN_OK)
      return st;
  }
  if (!opens)
    return FN_OK;
  if ((st = consultations_db_access(db, id, req->caller.id, 0, &after)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_CONSULTATION : NULL);
  if (!after.closes_in_future)
    return req_problem(req, FN_CONFLICT, "A consultation cannot open after its closes_at.");
  if ((st = record_status(req, db, id, "open", "consultation.opened")) != FN_OK)
    return st;
  return req_notify(req, NOTIFY_CONSULTATION_OPENED, id, NULL);
}

/* An open consultation: closes_at may be extended, and it may close. */
static fn_status change_open(fn_req *req, db_conn *db, const char *id, const char *wanted) {
  const char *closes_at = body_string(req->body, "closes_at");
  int closes = wanted != NULL && strcmp(wanted, "open") != 0, later = 0;
  fn_status st;
  if (has_draft_fields(req->body))
    return req_problem(req, FN_CONFLICT, "While open only closes_at can be extended.");
  if (closes && strcmp(wanted, "closed") != 0)
    return req_problem(req, FN_CONFLICT, ILLEGAL_MOVE);
  if (closes_at) {
    if ((st = consultations_db_is_extension(db, id, closes_at, &later)) != FN_OK)
      return st;
    if (!later)
      return req_problem(req, FN_CONFLICT, "closes_at can only be extended, to a time in the future.");
    json_t *details = json_pack("{s:s}", "closes_at", closes_at);
    st = consultations_db_set(db, id, CONSULTATION_CLOSES_AT, closes_at);
    if (st == FN_OK)
      st = req_audit(req, "consultation.updated", "consultation", id, details);
    json_decref(details);
    if (st != FN_OK)
      return st;
  }
  return closes ? record_status(req, db, id, "closed", "consultation.closed") : FN_OK;
}

/* Closed (possibly only in effect) or outcome_published: recording "closed" is all that is left; the rest
 * changes through the outcome. */
static fn_status change_closed(fn_req *req, db_conn *db, const consultation_access *a, const char *wanted) {
  if (has_draft_fields(req->body) || body_string(req->body, "closes_at"))
    return req_problem(req, FN_CONFLICT, "A closed consultation changes only through its outcome.");
  if (wanted != NULL && strcmp(wanted, a->status) != 0)
    return req_problem(req, FN_CONFLICT, ILLEGAL_MOVE);
  if (wanted != NULL && strcmp(wanted, "closed") == 0 && a->stored_open)
    return record_status(req, db, a->id, "closed", "consultation.closed");
  return FN_OK;
}

/* draft: everything may change, and it may open. open: closes_at may be extended and it may
 * close. closed and outcome_published change only through the outcome. */
static fn_status consultations_http_update(fn_req *req) {
  const char *id, *wanted;
  consultation_access a;
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "consultation_id", NO_SUCH_CONSULTATION, &id)) != FN_OK ||
      (st = validate_body(req, BODY_UPDATE)) != FN_OK || (st = req_db(req, &db)) != FN_OK ||
      (st = begin_owner_change(req, db, id, &a, "Only its owner or an admin may change a consultation.")) != FN_OK)
    return st;
  wanted = body_string(req->body, "status");
  if (strcmp(a.status, "draft") == 0)
    st = change_draft(req, db, id, wanted);
  else if (strcmp(a.status, "open") == 0)
    st = change_open(req, db, id, wanted);
  else
    st = change_closed(req, db, &a, wanted);
  return st == FN_OK ? commit_reply_consultation(req, 200, id) : st;
}

static fn_status consultations_http_put_outcome(fn_req *req) {
  const char *id;
  consultation_access a;
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "consultation_id", NO_SUCH_CONSULTATION, &id)) != FN_OK ||
      (st = req_validate_body_items(req, outcome_fields, BODY_CREATE, "actions", action_fields)) != FN_OK ||
      (st = req_db(req, &db)) != FN_OK ||
      (st = begin_owner_change(req, db, id, &a, "Only its owner or an admin publishes the outcome.")) != FN_OK)
    return st;
  int first = strcmp(a.status, "closed") == 0;
  if (!first && strcmp(a.status, "outcome_published") != 0)
    return req_problem(req, FN_CONFLICT, "The outcome is published once the consultation has closed.");
  if ((st = consultations_db_set_outcome(db, id, req->body)) != FN_OK ||
      (st = req_audit(req, first ? "consultation.outcome_published" : "consultation.outcome_updated", "consultation",
                      id, NULL)) != FN_OK ||
      (first && (st = req_notify(req, NOTIFY_CONSULTATION_OUTCOME, id, NULL)) != FN_OK))
    return st;
  return commit_reply_consultation(req, 200, id);
}

const fn_route consultations_routes[] = {
    ROUTES_COLLECTION("/v1/consultations", "{consultation_id}", consultations, 0),
    {"PUT", "/v1/consultations/{consultation_id}/outcome", consultations_http_put_outcome, ROUTE_JSON_BODY},
    {NULL, NULL, NULL, 0},
};
