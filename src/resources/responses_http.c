/* /v1/consultations/{id}/responses: one agreed answer per targeted group (API.md section 6).
 * Active members draft together; a representative or convener submits; If-Match is required
 * to change an existing response so two members never overwrite each other silently. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/audit_db.h"
#include "forumnet/body.h"
#include "forumnet/consultations_db.h"
#include "forumnet/http.h"
#include "forumnet/pagination.h"
#include "forumnet/responses_db.h"
#include "forumnet/routes.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

static const char *const response_status_choices[] = {"draft", "submitted", NULL};

static const field_spec response_fields[] = {
    {"answers", FIELD_ARRAY, FIELD_REQUIRED, 0, 50, NULL},
    {"status", FIELD_ENUM, FIELD_REQUIRED, 0, 0, response_status_choices},
    {"consultation_id", FIELD_READ_ONLY, 0, 0, 0, NULL},
    {"group_id", FIELD_READ_ONLY, 0, 0, 0, NULL},
    {"group_name", FIELD_READ_ONLY, 0, 0, 0, NULL},
    {"submitted_at", FIELD_READ_ONLY, 0, 0, 0, NULL},
    {"updated_at", FIELD_READ_ONLY, 0, 0, 0, NULL},
    {"version", FIELD_READ_ONLY, 0, 0, 0, NULL},
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
    for (size_t j = 0; j < i; j++)
      if (strcmp(id, body_string(json_array_get(answers, j), "question_id")) == 0) {
        field_errors_add(errors, field, "answers the same question twice");
        break;
      }
  }
}

static int may_submit(const response_target *t) {
  return strcmp(t->my_role, "representative") == 0 || strcmp(t->my_role, "convener") == 0;
}

static fn_status responses_http_put(fn_req *req) {
  const char *cid = req_param(req, "consultation_id"), *gid = req_param(req, "group_id"), *detail = NULL;
  consultation_access a;
  response_target t;
  json_t *errors = NULL, *questions = NULL;
  fn_status st;
  if (!req_is_id(cid) || !req_is_id(gid)) {
    req_fail(req, FN_NOT_FOUND, NULL);
    return FN_OK;
  }
  if (body_validate(req->body, response_fields, &errors) == FN_OK)
    body_validate_items(json_object_get(req->body, "answers"), "answers", answer_fields, &errors);
  if (errors) {
    reply_invalid(req, errors);
    return FN_OK;
  }
  const char *status = body_string(req->body, "status");
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = db_begin(db)) != FN_OK || (st = consultations_db_access(db, cid, req->caller.id, 1, &a)) != FN_OK ||
      (st = responses_db_target(db, cid, gid, req->caller.id, &t)) != FN_OK)
    goto fail;
  if (!a.visible || !t.targeted) {
    st = FN_NOT_FOUND;
    detail = "This consultation does not ask this group.";
    goto fail;
  }
  if (strcmp(t.my_state, "active") != 0) {
    st = FN_FORBIDDEN;
    detail = "Only the group's active members answer for it.";
    goto fail;
  }
  if (strcmp(a.status, "open") != 0) {
    st = FN_CONFLICT;
    detail = "Responses can be written only while the consultation is open.";
    goto fail;
  }
  if ((strcmp(status, "submitted") == 0 || strcmp(t.status, "submitted") == 0) && !may_submit(&t)) {
    st = FN_FORBIDDEN;
    detail = "Only a representative or convener submits, or changes a submitted response.";
    goto fail;
  }
  /* An update must name the version it replaces ("*" names none); a creation has none to name. */
  const char *if_match = req_header(req, "If-Match");
  if (t.exists && (if_match == NULL || strcmp(if_match, "*") == 0)) {
    st = FN_PRECONDITION_REQUIRED;
    detail = "Send If-Match with the response's ETag to change it.";
    goto fail;
  }
  if ((t.exists && (st = req_if_match(req, t.version)) != FN_OK) || (!t.exists && if_match != NULL)) {
    st = FN_PRECONDITION_FAILED;
    detail = t.exists ? NULL : "There is no response yet to match; create it without If-Match.";
    goto fail;
  }
  if ((st = consultations_db_questions(db, cid, &questions)) != FN_OK)
    goto fail;
  check_answers(json_object_get(req->body, "answers"), questions, &errors);
  json_decref(questions);
  if (errors) {
    db_rollback(db);
    reply_invalid(req, errors);
    return FN_OK;
  }
  char *answers = json_dumps(json_object_get(req->body, "answers"), JSON_COMPACT);
  json_t *details = json_pack("{s:s, s:s}", "group_id", gid, "status", status);
  st = responses_db_upsert(db, cid, gid, answers, status);
  free(answers);
  if (st == FN_OK) /* the owner's response_rate is part of the consultation: its ETag moves */
    st = consultations_db_touch(db, cid);
  if (st == FN_OK)
    st = req_audit(
        req, strcmp(status, "submitted") == 0 ? "consultation.response_submitted" : "consultation.response_drafted",
        "consultation", cid, details);
  json_decref(details);
  char *json = NULL, location[128];
  long version = 0;
  snprintf(location, sizeof location, "/v1/consultations/%s/responses/%s", cid, gid);
  if (st != FN_OK || (st = responses_db_get(db, cid, gid, &json, &version)) != FN_OK ||
      (st = req_commit_reply(req, t.exists ? 200 : 201, json, version, t.exists ? NULL : location)) != FN_OK)
    goto fail;
  return FN_OK;
fail:
  req_fail(req, st, st == FN_NOT_FOUND && detail == NULL ? "No such consultation." : detail);
  return FN_OK;
}

static fn_status responses_http_list(fn_req *req) {
  const char *cid = req_param(req, "consultation_id");
  consultation_access a;
  page_request page;
  PGresult *res = NULL;
  fn_status st;
  if (!req_is_id(cid)) {
    req_fail(req, FN_NOT_FOUND, "No such consultation.");
    return FN_OK;
  }
  if (page_from_request_or_reply(req, &page) != FN_OK)
    return FN_OK;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = consultations_db_access(db, cid, req->caller.id, 0, &a)) != FN_OK || !a.visible ||
      (st = responses_db_list(db, cid, req->caller.id, a.owner_or_admin, &page, &res)) != FN_OK) {
    req_fail(req, st == FN_OK ? FN_NOT_FOUND : st, "No such consultation.");
    return FN_OK;
  }
  page_reply(req, res, 0, 1, &page);
  PQclear(res);
  return FN_OK;
}

static fn_status responses_http_get(fn_req *req) {
  const char *cid = req_param(req, "consultation_id"), *gid = req_param(req, "group_id");
  consultation_access a;
  char *json = NULL;
  long version = 0;
  fn_status st;
  if (!req_is_id(cid) || !req_is_id(gid)) {
    req_fail(req, FN_NOT_FOUND, "No such response.");
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = consultations_db_access(db, cid, req->caller.id, 0, &a)) != FN_OK || !a.visible ||
      (st = responses_db_get_readable(db, cid, gid, req->caller.id, a.owner_or_admin, &json, &version)) != FN_OK) {
    st = st == FN_OK ? FN_NOT_FOUND : st;
    req_fail(req, st, st == FN_NOT_FOUND ? "No such response." : NULL);
    return FN_OK;
  }
  reply_conditional(req, json, version);
  return FN_OK;
}

const fn_route responses_routes[] = {
    {"GET", "/v1/consultations/{consultation_id}/responses", responses_http_list, 0},
    {"GET", "/v1/consultations/{consultation_id}/responses/{group_id}", responses_http_get, 0},
    {"PUT", "/v1/consultations/{consultation_id}/responses/{group_id}", responses_http_put, ROUTE_JSON_BODY},
    {NULL, NULL, NULL, 0},
};
