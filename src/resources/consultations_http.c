/* /v1/consultations: managers consult forums and publish what they did (API.md section 6).
 * Responses are in responses_http.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/audit_db.h"
#include "forumnet/body.h"
#include "forumnet/consultations_db.h"
#include "forumnet/http.h"
#include "forumnet/pagination.h"
#include "forumnet/routes.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

static const char *const status_choices[] = {"draft", "open", "closed", "outcome_published", NULL};
static const char *const action_status_choices[] = {"planned", "in_progress", "done", "not_doing", NULL};

#define CONSULTATION_READ_ONLY_FIELDS                                                                                  \
  {"id", FIELD_READ_ONLY, 0, 0, 0, NULL}, {"owner_id", FIELD_READ_ONLY, 0, 0, 0, NULL},                                \
      {"outcome", FIELD_READ_ONLY, 0, 0, 0, NULL}, {"version", FIELD_READ_ONLY, 0, 0, 0, NULL},                        \
      {"created_at", FIELD_READ_ONLY, 0, 0, 0, NULL}, {                                                                \
    "response_rate", FIELD_READ_ONLY, 0, 0, 0, NULL                                                                    \
  }

static const field_spec create_fields[] = {
    {"title", FIELD_STRING, FIELD_REQUIRED, 1, 200, NULL},
    {"summary", FIELD_STRING, FIELD_REQUIRED, 1, 5000, NULL},
    {"questions", FIELD_ARRAY, FIELD_REQUIRED, 1, 50, NULL},
    {"target", FIELD_OBJECT, FIELD_REQUIRED, 0, 0, NULL},
    {"opens_at", FIELD_TIMESTAMP, FIELD_REQUIRED, 2000, 2999, NULL},
    {"closes_at", FIELD_TIMESTAMP, FIELD_REQUIRED, 2000, 2999, NULL},
    {"status", FIELD_READ_ONLY, 0, 0, 0, NULL},
    CONSULTATION_READ_ONLY_FIELDS,
    {NULL, 0, 0, 0, 0, NULL},
};

static const field_spec update_fields[] = {
    {"title", FIELD_STRING, 0, 1, 200, NULL},
    {"summary", FIELD_STRING, 0, 1, 5000, NULL},
    {"questions", FIELD_ARRAY, 0, 1, 50, NULL},
    {"target", FIELD_OBJECT, 0, 0, 0, NULL},
    {"opens_at", FIELD_TIMESTAMP, 0, 2000, 2999, NULL},
    {"closes_at", FIELD_TIMESTAMP, 0, 2000, 2999, NULL},
    {"status", FIELD_ENUM, 0, 0, 0, status_choices},
    CONSULTATION_READ_ONLY_FIELDS,
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
    for (size_t j = 0; j < i; j++)
      if (strcmp(id, body_string(json_array_get(questions, j), "id")) == 0) {
        field_errors_add(errors, field, "repeats an earlier question id");
        break;
      }
  }
}

static void check_target(const json_t *target, json_t **errors) {
  if (target == NULL || body_validate_nested(target, "target", target_fields, errors) != FN_OK)
    return;
  static const char *const keys[] = {"site_ids", "group_ids"};
  size_t total = 0;
  for (int k = 0; k < 2; k++) {
    json_t *ids = json_object_get(target, keys[k]);
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
      if (!text_is_uuid(json_string_value(v))) {
        char field[48];
        snprintf(field, sizeof field, "target.%s[%zu]", keys[k], i);
        field_errors_add(errors, field, "must be a UUID");
      }
    }
    total += json_array_size(ids);
  }
  if (total == 0)
    field_errors_add(errors, "target", "must name at least one site or group");
}

/* The checks a field_spec cannot express: nested items, and closes_at after opens_at. */
static fn_status validate_body(fn_req *req, const field_spec *specs) {
  json_t *errors = NULL;
  if (body_validate(req->body, specs, &errors) == FN_OK) {
    check_questions(json_object_get(req->body, "questions"), &errors);
    check_target(json_object_get(req->body, "target"), &errors);
    long long opens, closes;
    if (rfc3339_parse(body_string(req->body, "opens_at"), &opens) &&
        rfc3339_parse(body_string(req->body, "closes_at"), &closes) && closes <= opens)
      field_errors_add(&errors, "closes_at", "must be after opens_at");
  }
  if (errors == NULL)
    return FN_OK;
  reply_invalid(req, errors);
  return FN_INVALID;
}

/* Target rules that need the database; on failure replies itself. */
static fn_status check_targets_allowed(fn_req *req, db_conn *db, const member_caller *caller, fn_status *st) {
  json_t *errors = NULL;
  const char *detail = NULL;
  *st = consultations_db_check_targets(db, caller, json_object_get(req->body, "target"), &errors, &detail);
  if (*st == FN_INVALID) {
    db_rollback(db);
    reply_invalid(req, errors);
  } else {
    json_decref(errors);
    if (*st != FN_OK)
      req_fail(req, *st, detail);
  }
  return *st;
}

/* Reads the Consultation inside the transaction, then commits and replies. */
static fn_status commit_and_reply_consultation(fn_req *req, int http_status, const char *id) {
  char *json = NULL, location[96];
  long version = 0;
  fn_status st = consultations_db_get(req->db, id, req->caller.id, &json, &version);
  if (st != FN_OK)
    return st;
  snprintf(location, sizeof location, "/v1/consultations/%s", id);
  return req_commit_reply(req, http_status, json, version, http_status == 201 ? location : NULL);
}

static fn_status consultations_http_create(fn_req *req) {
  member_caller caller;
  char id[37];
  fn_status st;
  if (validate_body(req, create_fields) != FN_OK)
    return FN_OK;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = members_db_begin_as_caller(db, req->caller.id, &caller)) != FN_OK)
    goto fail;
  if (caller.role != ROLE_ADMIN && caller.role != ROLE_MANAGER) {
    req_fail(req, FN_FORBIDDEN, "Only managers and admins consult forums.");
    return FN_OK;
  }
  if (check_targets_allowed(req, db, &caller, &st) != FN_OK)
    return FN_OK;
  if ((st = consultations_db_insert(db, req->body, caller.id, id)) != FN_OK ||
      (st = req_audit(req, "consultation.created", "consultation", id, NULL)) != FN_OK ||
      (st = commit_and_reply_consultation(req, 201, id)) != FN_OK)
    goto fail;
  return FN_OK;
fail:
  req_fail(req, st, NULL);
  return FN_OK;
}

static fn_status consultations_http_list(fn_req *req) {
  page_request page;
  PGresult *res = NULL;
  const char *status = req_query(req, "status"), *site_id = req_query(req, "site_id");
  json_t *errors = NULL;
  if (page_from_request_or_reply(req, &page) != FN_OK)
    return FN_OK;
  if (status && !text_is_choice(status, status_choices))
    field_errors_add(&errors, "status", "must be one of: draft open closed outcome_published");
  if (site_id && !text_is_uuid(site_id))
    field_errors_add(&errors, "site_id", "must be a UUID");
  if (errors) {
    reply_invalid(req, errors);
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  fn_status st = consultations_db_list(db, req->caller.id, status, site_id, &page, &res);
  return page_reply_result(req, st, res, &page);
}

static fn_status consultations_http_get(fn_req *req) {
  const char *id = req_param(req, "consultation_id");
  consultation_access a;
  fn_status st;
  if (!req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, "No such consultation.");
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = consultations_db_access(db, id, req->caller.id, 0, &a)) != FN_OK || !a.visible) {
    req_fail(req, st == FN_OK ? FN_NOT_FOUND : st, "No such consultation.");
    return FN_OK;
  }
  char *json = NULL;
  long version = 0;
  if ((st = consultations_db_get(db, id, req->caller.id, &json, &version)) != FN_OK) {
    req_fail(req, st, "No such consultation.");
    return FN_OK;
  }
  /* No 304 while a consultation is closed in effect but not yet recorded as closed: its
   * version did not move when the clock passed closes_at. */
  if (a.stored_open && !a.closes_in_future) {
    reply_etag(req, version);
    reply_json_text(req, 200, json, strlen(json));
    free(json);
    return FN_OK;
  }
  reply_conditional(req, json, version);
  return FN_OK;
}

/* Loads and authorizes a consultation for a change by its owner or an admin. */
static fn_status begin_owner_change(fn_req *req, db_conn *db, const char *id, consultation_access *a) {
  fn_status st;
  if ((st = db_begin(db)) != FN_OK || (st = consultations_db_access(db, id, req->caller.id, 1, a)) != FN_OK)
    return st;
  if (!a->visible)
    return FN_NOT_FOUND;
  if (!a->owner_or_admin)
    return FN_FORBIDDEN;
  return req_if_match(req, a->version);
}

static int has_draft_fields(const json_t *body) {
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)body, key, v) if (strcmp(key, "status") != 0 && strcmp(key, "closes_at") != 0) return 1;
  return 0;
}

static fn_status record_status(fn_req *req, db_conn *db, const char *id, const char *status, const char *action) {
  fn_status st = consultations_db_set_status(db, id, status);
  return st == FN_OK ? req_audit(req, action, "consultation", id, NULL) : st;
}

/* draft: everything may change, and it may open. open: closes_at may be extended and it may
 * close. closed and outcome_published change only through the outcome. */
static fn_status consultations_http_update(fn_req *req) {
  const char *id = req_param(req, "consultation_id"), *detail = NULL;
  consultation_access a;
  member_caller caller;
  fn_status st;
  if (!req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, "No such consultation.");
    return FN_OK;
  }
  if (validate_body(req, update_fields) != FN_OK)
    return FN_OK;
  const char *wanted = body_string(req->body, "status"), *closes_at = body_string(req->body, "closes_at");
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = begin_owner_change(req, db, id, &a)) != FN_OK)
    goto fail;
  int same_status = wanted == NULL || strcmp(wanted, a.status) == 0;
  if (strcmp(a.status, "draft") == 0) {
    if (!same_status && strcmp(wanted, "open") != 0)
      goto illegal_move;
    if (json_object_get(req->body, "target")) {
      if ((st = members_db_load_caller(db, req->caller.id, &caller)) != FN_OK)
        goto fail;
      if (check_targets_allowed(req, db, &caller, &st) != FN_OK)
        return FN_OK;
    }
    if (json_object_size(req->body) > (wanted ? 1u : 0u)) {
      st = consultations_db_update_draft(db, id, req->body);
      if (st == FN_INVALID) { /* the only CHECK a valid body can break: the dates against the stored ones */
        json_t *errors = NULL;
        field_errors_add(&errors, json_object_get(req->body, "closes_at") ? "closes_at" : "opens_at",
                         "closes_at must be after opens_at");
        db_rollback(db);
        reply_invalid(req, errors);
        return FN_OK;
      }
      if (st != FN_OK || (st = req_audit(req, "consultation.updated", "consultation", id, NULL)) != FN_OK)
        goto fail;
    }
    if (!same_status) {
      consultation_access after;
      if ((st = consultations_db_access(db, id, req->caller.id, 0, &after)) != FN_OK)
        goto fail;
      if (!after.closes_in_future) {
        st = FN_CONFLICT;
        detail = "A consultation cannot open after its closes_at.";
        goto fail;
      }
      if ((st = record_status(req, db, id, "open", "consultation.opened")) != FN_OK)
        goto fail;
    }
  } else if (strcmp(a.status, "open") == 0) {
    if (has_draft_fields(req->body)) {
      st = FN_CONFLICT;
      detail = "While open only closes_at can be extended.";
      goto fail;
    }
    if (!same_status && strcmp(wanted, "closed") != 0)
      goto illegal_move;
    if (closes_at) {
      int later = 0;
      if ((st = consultations_db_is_extension(db, id, closes_at, &later)) != FN_OK)
        goto fail;
      if (!later) {
        st = FN_CONFLICT;
        detail = "closes_at can only be extended, to a time in the future.";
        goto fail;
      }
      json_t *details = json_pack("{s:s}", "closes_at", closes_at);
      st = consultations_db_set_closes_at(db, id, closes_at);
      if (st == FN_OK)
        st = req_audit(req, "consultation.updated", "consultation", id, details);
      json_decref(details);
      if (st != FN_OK)
        goto fail;
    }
    if (!same_status && (st = record_status(req, db, id, "closed", "consultation.closed")) != FN_OK)
      goto fail;
  } else {
    /* closed (possibly only in effect) or outcome_published: recording "closed" is all that is left. */
    if (has_draft_fields(req->body) || closes_at) {
      st = FN_CONFLICT;
      detail = "A closed consultation changes only through its outcome.";
      goto fail;
    }
    if (!same_status)
      goto illegal_move;
    if (wanted && strcmp(wanted, "closed") == 0 && a.stored_open &&
        (st = record_status(req, db, id, "closed", "consultation.closed")) != FN_OK)
      goto fail;
  }
  if ((st = commit_and_reply_consultation(req, 200, id)) != FN_OK)
    goto fail;
  return FN_OK;
illegal_move:
  st = FN_CONFLICT;
  detail = "That status change is not allowed: draft -> open -> closed -> outcome_published (by its outcome).";
fail:
  req_fail(req, st,
           st == FN_NOT_FOUND   ? "No such consultation."
           : st == FN_FORBIDDEN ? "Only its owner or an admin may change a consultation."
                                : detail);
  return FN_OK;
}

static fn_status consultations_http_put_outcome(fn_req *req) {
  const char *id = req_param(req, "consultation_id");
  consultation_access a;
  fn_status st;
  json_t *errors = NULL;
  if (!req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, "No such consultation.");
    return FN_OK;
  }
  if (body_validate(req->body, outcome_fields, &errors) == FN_OK)
    body_validate_items(json_object_get(req->body, "actions"), "actions", action_fields, &errors);
  if (errors) {
    reply_invalid(req, errors);
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = begin_owner_change(req, db, id, &a)) != FN_OK)
    goto fail;
  int first = strcmp(a.status, "closed") == 0;
  if (!first && strcmp(a.status, "outcome_published") != 0) {
    req_fail(req, FN_CONFLICT, "The outcome is published once the consultation has closed.");
    return FN_OK;
  }
  if ((st = consultations_db_set_outcome(db, id, req->body)) != FN_OK ||
      (st = req_audit(req, first ? "consultation.outcome_published" : "consultation.outcome_updated", "consultation",
                      id, NULL)) != FN_OK ||
      (st = commit_and_reply_consultation(req, 200, id)) != FN_OK)
    goto fail;
  return FN_OK;
fail:
  req_fail(req, st,
           st == FN_NOT_FOUND   ? "No such consultation."
           : st == FN_FORBIDDEN ? "Only its owner or an admin publishes the outcome."
                                : NULL);
  return FN_OK;
}

const fn_route consultations_routes[] = {
    {"GET", "/v1/consultations", consultations_http_list, 0},
    {"POST", "/v1/consultations", consultations_http_create, ROUTE_JSON_BODY | ROUTE_IDEMPOTENT},
    {"GET", "/v1/consultations/{consultation_id}", consultations_http_get, 0},
    {"PATCH", "/v1/consultations/{consultation_id}", consultations_http_update, ROUTE_JSON_BODY},
    {"PUT", "/v1/consultations/{consultation_id}/outcome", consultations_http_put_outcome, ROUTE_JSON_BODY},
    {NULL, NULL, NULL, 0},
};
