/* /v1/consultations/{id}/responses: one agreed answer per targeted group (API.md section 6).
 * Active members draft together; a representative or convener submits; If-Match is required
 * to change an existing response so two members never overwrite each other silently. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/body.h"
#include "forumnet/consultations_db.h"
#include "forumnet/http.h"
#include "forumnet/pagination.h"
#include "forumnet/responses_db.h"
#include "forumnet/routes.h"

static const char *const response_status_choices[] = {"draft", "submitted", NULL};

#define NO_SUCH_CONSULTATION "No such consultation."
#define NO_SUCH_RESPONSE "No such response."

static const char *const response_read_only[] = {"consultation_id", "group_id", "group_name", "submitted_at",
                                                 "updated_at",      "version",  NULL};

static const field_spec response_fields[] = {
    {"answers", FIELD_ARRAY, FIELD_REQUIRED, 0, 50, NULL},
    {"status", FIELD_ENUM, FIELD_REQUIRED, 0, 0, response_status_choices},
    FIELDS_READ_ONLY(response_read_only),
    {NULL, 0, 0, 0, 0, NULL},
};

static const field_spec answer_fields[] = {
    {"question_id", FIELD_STRING, FIELD_REQUIRED, 1, 40, NULL},
    {"text", FIELD_STRING, FIELD_REQUIRED, 1, 10000, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

/* Every answer names one of the consultation's questions, at most once. */
static void check_answers(const json_t *answers, const json_t *questions, json_t **errors) {
  size_t i, q;
  json_t *a, *question;
  json_array_foreach((json_t *)answers, i, a) {
    const char *id = body_string(a, "question_id");
    char field[48];
    snprintf(field, sizeof field, "answers[%zu].question_id", i);
    int known = 0;
    json_array_foreach((json_t *)questions, q, question) known |= strcmp(id, body_string(question, "id")) == 0;
    if (!known) {
      field_errors_add(errors, field, "is not a question of this consultation");
      continue;
    }
    if (body_item_repeats(answers, i, "question_id", 0))
      field_errors_add(errors, field, "answers the same question twice");
  }
}

/* What a step of the PUT that says no more answers when it fails. */
static fn_status put_failed(fn_req *req, fn_status st) {
  return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_CONSULTATION : NULL);
}

/* Who may write the group's response now, and with which precondition: an update must name the version it
 * replaces ("*" names none); a creation has none to name. */
static fn_status check_put(fn_req *req, const consultation_access *a, const response_target *t, const char *status) {
  const char *if_match = req_header(req, "If-Match");
  if (!a->visible || !t->targeted)
    return req_problem(req, FN_NOT_FOUND, "This consultation does not ask this group.");
  if (strcmp(t->my_state, "active") != 0)
    return req_problem(req, FN_FORBIDDEN, "Only the group's active members answer for it.");
  if (strcmp(a->status, "open") != 0)
    return req_problem(req, FN_CONFLICT, "Responses can be written only while the consultation is open.");
  if ((strcmp(status, "submitted") == 0 || strcmp(t->status, "submitted") == 0) &&
      strcmp(t->my_role, "representative") != 0 && strcmp(t->my_role, "convener") != 0)
    return req_problem(req, FN_FORBIDDEN,
                       "Only a representative or convener submits, or changes a submitted response.");
  if (t->exists && (if_match == NULL || strcmp(if_match, "*") == 0))
    return req_problem(req, FN_PRECONDITION_REQUIRED, "Send If-Match with the response's ETag to change it.");
  if (t->exists)
    return req_if_match(req, t->version);
  if (if_match != NULL)
    return req_problem(req, FN_PRECONDITION_FAILED, "There is no response yet to match; create it without If-Match.");
  return FN_OK;
}

/* Checks the answers against the consultation's questions. */
static fn_status check_questions_answered(fn_req *req, db_conn *db, const char *cid) {
  json_t *questions = NULL, *errors = NULL;
  fn_status st = consultations_db_questions(db, cid, &questions);
  if (st != FN_OK)
    return put_failed(req, st);
  check_answers(json_object_get(req->body, "answers"), questions, &errors);
  json_decref(questions);
  return errors == NULL ? FN_OK : req_invalid(req, errors);
}

/* Stores the response and what it changes: the owner's response_rate is part of the consultation, so
 * its ETag moves. */
static fn_status write_response(fn_req *req, db_conn *db, const char *cid, const char *gid, const char *status) {
  char *answers = json_dumps(json_object_get(req->body, "answers"), JSON_COMPACT);
  fn_status st = responses_db_upsert(db, cid, gid, answers, status);
  free(answers);
  if (st == FN_OK)
    st = consultations_db_touch(db, cid);
  if (st == FN_OK) {
    json_t *details = json_pack("{s:s, s:s}", "group_id", gid, "status", status);
    st = req_audit(
        req, strcmp(status, "submitted") == 0 ? "consultation.response_submitted" : "consultation.response_drafted",
        "consultation", cid, details);
    json_decref(details);
  }
  return st;
}

static fn_status responses_http_put(fn_req *req) {
  const char *cid, *gid, *status;
  consultation_access a;
  response_target t;
  char location[128];
  db_representation rep = {NULL, 0};
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "consultation_id", NULL, &cid)) != FN_OK ||
      (st = req_path_id(req, "group_id", NULL, &gid)) != FN_OK ||
      (st = req_validate_body_items(req, response_fields, BODY_CREATE, "answers", answer_fields)) != FN_OK ||
      (st = req_db(req, &db)) != FN_OK)
    return st;
  status = body_string(req->body, "status");
  if ((st = db_begin(db)) != FN_OK || (st = consultations_db_access(db, cid, req->caller.id, 1, &a)) != FN_OK ||
      (st = responses_db_target(db, cid, gid, req->caller.id, &t)) != FN_OK)
    return put_failed(req, st);
  if ((st = check_put(req, &a, &t, status)) != FN_OK || (st = check_questions_answered(req, db, cid)) != FN_OK)
    return st;
  if ((st = write_response(req, db, cid, gid, status)) != FN_OK || (st = responses_db_get(db, cid, gid, &rep)) != FN_OK)
    return put_failed(req, st);
  snprintf(location, sizeof location, "/v1/consultations/%s/responses/%s", cid, gid);
  return req_commit_reply(req, t.exists ? 200 : 201, rep.json, rep.version, t.exists ? NULL : location);
}

static fn_status responses_http_list(fn_req *req) {
  const char *cid;
  consultation_access a;
  page_request page;
  PGresult *res = NULL;
  db_conn *db;
  fn_status st;
  if ((st = page_open_under(req, "consultation_id", NO_SUCH_CONSULTATION, &cid, &page, NULL, &db)) != FN_OK)
    return st;
  if ((st = consultations_db_visible(db, cid, req->caller.id, 0, &a)) != FN_OK ||
      (st = responses_db_list(db, cid, req->caller.id, a.owner_or_admin, &page, &res)) != FN_OK)
    req_problem(req, st, NO_SUCH_CONSULTATION);
  return page_reply_result(req, st, res, &page);
}

static fn_status responses_http_get(fn_req *req) {
  const char *cid, *gid;
  consultation_access a;
  db_representation rep = {NULL, 0};
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "consultation_id", NO_SUCH_RESPONSE, &cid)) != FN_OK ||
      (st = req_path_id(req, "group_id", NO_SUCH_RESPONSE, &gid)) != FN_OK || (st = req_db(req, &db)) != FN_OK)
    return st;
  if ((st = consultations_db_visible(db, cid, req->caller.id, 0, &a)) == FN_OK)
    st = responses_db_get_readable(db, cid, gid, req->caller.id, a.owner_or_admin, &rep);
  return reply_conditional_result(req, st, &rep, NO_SUCH_RESPONSE);
}

const fn_route responses_routes[] = {
    {"GET", "/v1/consultations/{consultation_id}/responses", responses_http_list, 0},
    {"GET", "/v1/consultations/{consultation_id}/responses/{group_id}", responses_http_get, 0},
    {"PUT", "/v1/consultations/{consultation_id}/responses/{group_id}", responses_http_put, ROUTE_JSON_BODY},
    {NULL, NULL, NULL, 0},
};
