/* Request accessors and reply helpers shared by every handler. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ulfius.h>

#include "forumnet/audit_db.h"
#include "forumnet/body.h"
#include "forumnet/http.h"
#include "forumnet/log.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

/* Longest problem `detail`, in characters (openapi.yaml: Problem.detail maxLength). */
#define PROBLEM_DETAIL_MAX 500

static const char *const role_names[] = {[ROLE_NONE] = "none",
                                         [ROLE_PRACTITIONER] = "practitioner",
                                         [ROLE_FACILITATOR] = "facilitator",
                                         [ROLE_MANAGER] = "manager",
                                         [ROLE_ADMIN] = "admin"};

member_role role_from_string(const char *s) {
  if (s == NULL)
    return ROLE_NONE;
  for (int r = ROLE_PRACTITIONER; r <= ROLE_ADMIN; r++)
    if (strcmp(s, role_names[r]) == 0)
      return (member_role)r;
  return ROLE_NONE;
}

const char *role_to_string(member_role role) {
  return (role >= ROLE_NONE && role <= ROLE_ADMIN) ? role_names[role] : "none";
}

const char *req_param(const fn_req *req, const char *name) {
  for (int i = 0; i < req->param_count; i++)
    if (strcmp(req->param_names[i], name) == 0)
      return req->param_values[i];
  return NULL;
}

const char *req_query(const fn_req *req, const char *name) { return u_map_get(req->u->map_url, name); }

const char *req_header(const fn_req *req, const char *name) { return u_map_get_case(req->u->map_header, name); }

int req_basic_credentials(const fn_req *req, const char **user, const char **password) {
  *user = req->u->auth_basic_user;
  *password = req->u->auth_basic_password;
  return *user != NULL && *password != NULL;
}

fn_status req_db(fn_req *req, db_conn **db) {
  if (req->db == NULL && db_pool_acquire(req->app->pool, &req->db) != FN_OK) {
    req->db = NULL;
    *db = NULL;
    return req_problem(req, FN_UNAVAILABLE, "The database is unavailable. Try again shortly.");
  }
  db_end_on_commit(req->db);
  *db = req->db;
  return FN_OK;
}

void req_db_release(fn_req *req) {
  if (req->db != NULL)
    db_pool_release(req->app->pool, req->db);
  req->db = NULL;
}

void reply_header(fn_req *req, const char *name, const char *value) { u_map_put(req->res->map_header, name, value); }

void reply_text(fn_req *req, int http_status, const char *content_type, const char *text, size_t len) {
  ulfius_set_binary_body_response(req->res, (unsigned)http_status, text, len);
  reply_header(req, "Content-Type", content_type);
  req->status = http_status;
}

void reply_json_text(fn_req *req, int http_status, const char *json, size_t len) {
  reply_text(req, http_status, "application/json; charset=utf-8", json, len);
}

void reply_json(fn_req *req, int http_status, json_t *body) {
  /* 10 significant digits: rates print as 0.667, not 0.66700000000000004. */
  char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
  json_decref(body);
  if (text == NULL) {
    reply_problem(req, FN_INTERNAL, NULL);
    return;
  }
  reply_json_text(req, http_status, text, strlen(text));
  free(text);
}

void reply_empty(fn_req *req, int http_status) {
  /* ulfius_set_binary_body_response refuses a NULL body (and then leaves the status
   * alone), so an empty reply sets its fields directly. */
  o_free(req->res->binary_body);
  req->res->binary_body = NULL;
  req->res->binary_body_length = 0;
  req->res->status = (long)http_status;
  u_map_remove_from_key_case(req->res->map_header, "Content-Type");
  req->status = http_status;
}

static const char *default_detail(fn_status st) {
  switch (st) {
  case FN_INVALID:
    return "The request is invalid.";
  case FN_UNAUTHENTICATED:
    return "A valid access token is required.";
  case FN_FORBIDDEN:
    return "You are not allowed to do this.";
  case FN_NOT_FOUND:
    return "No such resource.";
  case FN_CONFLICT:
    return "The request conflicts with the current state of the resource.";
  case FN_PRECONDITION_FAILED:
    return "The resource has changed since you read it (If-Match does not match its ETag).";
  case FN_UNAVAILABLE:
    return "The service is temporarily unavailable. Try again shortly.";
  case FN_TOO_LARGE:
    return "The request body is too large.";
  case FN_UNSUPPORTED_MEDIA:
    return "Send the body as application/json.";
  default:
    return "An unexpected error occurred.";
  }
}

void reply_problem_with(fn_req *req, fn_status st, const char *detail, json_t *extra) {
  int http = fn_status_http(st);
  char type[96];
  snprintf(type, sizeof type, "urn:forumnet:problem:%s", fn_status_slug(st));
  /* A detail is at most PROBLEM_DETAIL_MAX characters, as openapi.yaml (Problem.detail) says, whatever
   * a handler composed. */
  char *cut = utf8_cut(detail ? detail : default_detail(st), PROBLEM_DETAIL_MAX);
  json_t *body = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", type, "title", fn_status_title(st), "status", http,
                           "detail", cut ? cut : default_detail(st), "request_id", req->request_id);
  free(cut);
  if (extra) {
    json_object_update_missing(body, extra); /* never overrides type, title, status, detail */
    json_decref(extra);
  }
  char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  if (text == NULL)
    return;
  reply_text(req, http, "application/problem+json", text, strlen(text));
  free(text);
  if (st == FN_UNAVAILABLE)
    reply_header(req, "Retry-After", "1");
  if (st == FN_UNAUTHENTICATED)
    reply_header(req, "WWW-Authenticate", "Bearer realm=\"forumnet\"");
}

void reply_problem(fn_req *req, fn_status st, const char *detail) { reply_problem_with(req, st, detail, NULL); }

void reply_etag(fn_req *req, long version) {
  char etag[32];
  snprintf(etag, sizeof etag, "\"%ld\"", version);
  reply_header(req, "ETag", etag);
}

void reply_conditional(fn_req *req, char *json, long version) {
  reply_etag(req, version);
  if (req_if_none_match(req, version))
    reply_empty(req, 304);
  else
    reply_json_text(req, 200, json, strlen(json));
  free(json);
}

fn_status req_commit_reply(fn_req *req, int http_status, char *json, long version, const char *location) {
  fn_status st = db_commit(req->db);
  if (st != FN_OK) {
    free(json);
    return st;
  }
  reply_representation(req, http_status, json, version, location);
  return FN_OK;
}

fn_status req_commit_no_content(fn_req *req) {
  fn_status st = db_commit(req->db);
  if (st == FN_OK)
    reply_empty(req, 204);
  return st;
}

/* 1 if the comma-separated entity-tag list names version. With strong comparison
 * (If-Match, RFC 9110 13.1.1) a weak tag W/"n" never matches; If-None-Match compares weakly. */
static int etag_list_matches(const char *list, long version, int strong) {
  char want[32];
  snprintf(want, sizeof want, "\"%ld\"", version);
  size_t want_len = strlen(want);
  const char *p = list;
  while (*p) {
    while (*p == ' ' || *p == ',' || *p == '\t')
      p++;
    if (*p == '*')
      return 1;
    int weak = strncmp(p, "W/", 2) == 0;
    if (weak)
      p += 2;
    if (!(weak && strong) && strncmp(p, want, want_len) == 0 &&
        (p[want_len] == '\0' || p[want_len] == ',' || p[want_len] == ' '))
      return 1;
    while (*p && *p != ',')
      p++;
  }
  return 0;
}

int req_if_none_match(const fn_req *req, long version) {
  const char *h = req_header(req, "If-None-Match");
  return h != NULL && etag_list_matches(h, version, 0);
}

fn_status req_if_match(const fn_req *req, long version) {
  const char *h = req_header(req, "If-Match");
  if (h == NULL)
    return FN_OK;
  return etag_list_matches(h, version, 1) ? FN_OK : FN_PRECONDITION_FAILED;
}

fn_status req_validate_body(fn_req *req, const field_spec *specs, body_mode mode) {
  json_t *errors = NULL;
  return body_validate_as(req->body, specs, mode, &errors) == FN_OK ? FN_OK : req_invalid(req, errors);
}

fn_status req_problem(fn_req *req, fn_status st, const char *detail) {
  snprintf(req->problem_detail, sizeof req->problem_detail, "%s", detail ? detail : "");
  return st;
}

fn_status req_problem_with(fn_req *req, fn_status st, const char *detail, json_t *extra) {
  json_decref(req->problem_extra);
  req->problem_extra = extra;
  return req_problem(req, st, detail);
}

void req_problem_header(fn_req *req, const char *name, const char *value) {
  if (req->problem_header_count >= 2)
    return;
  int i = req->problem_header_count++;
  req->problem_header_names[i] = name;
  snprintf(req->problem_header_values[i], sizeof req->problem_header_values[i], "%s", value);
}

fn_status req_invalid(fn_req *req, json_t *errors) {
  if (req->problem_errors == NULL) {
    req->problem_errors = errors;
  } else {
    json_array_extend(req->problem_errors, errors);
    json_decref(errors);
  }
  return FN_INVALID;
}

fn_status req_invalid_field(fn_req *req, const char *field, const char *message) {
  json_t *errors = NULL;
  field_errors_add(&errors, field, message);
  return req_invalid(req, errors);
}

void req_reply_failure(fn_req *req, fn_status st) {
  if (st == FN_OK)
    return;
  if (req->db != NULL)
    db_rollback(req->db);
  /* Headers of a representation the handler may have set before failing do not describe a problem. */
  u_map_remove_from_key(req->res->map_header, "ETag");
  u_map_remove_from_key(req->res->map_header, "Location");
  json_t *extra = req->problem_extra;
  const char *detail = req->problem_detail[0] ? req->problem_detail : NULL;
  req->problem_extra = NULL;
  if (st == FN_INVALID && req->problem_errors != NULL) {
    if (extra == NULL)
      extra = json_object();
    json_object_set_new(extra, "errors", req->problem_errors);
    req->problem_errors = NULL;
    if (detail == NULL)
      detail = "The request has invalid fields; see errors.";
  }
  reply_problem_with(req, st, detail, extra);
  for (int i = 0; i < req->problem_header_count; i++)
    reply_header(req, req->problem_header_names[i], req->problem_header_values[i]);
}

fn_status req_path_id(fn_req *req, const char *name, const char *not_found, const char **id) {
  *id = req_param(req, name);
  return text_is_uuid(*id) ? FN_OK : req_problem(req, FN_NOT_FOUND, not_found);
}

void reply_representation(fn_req *req, int http_status, char *json, long version, const char *location) {
  reply_etag(req, version);
  if (location != NULL)
    reply_header(req, "Location", location);
  reply_json_text(req, http_status, json, strlen(json));
  free(json);
}

fn_status req_audit(fn_req *req, const char *action, const char *resource_type, const char *resource_id,
                    const json_t *details) {
  return audit_db_record(req->db, &req->caller, req->request_id, action, resource_type, resource_id, details);
}

fn_status req_validate_body_items(fn_req *req, const field_spec *specs, body_mode mode, const char *member,
                                  const field_spec *item_specs) {
  json_t *errors = NULL;
  fn_status st = req_validate_body(req, specs, mode);
  if (st == FN_OK && body_validate_items(json_object_get(req->body, member), member, item_specs, &errors) != FN_OK)
    st = req_invalid(req, errors);
  return st;
}

int body_item_repeats(const json_t *items, size_t i, const char *key, int ignore_case) {
  const char *value = body_string(json_array_get(items, i), key);
  for (size_t j = 0; value != NULL && j < i; j++) {
    const char *earlier = body_string(json_array_get(items, j), key);
    if (earlier != NULL && (ignore_case ? strcasecmp(earlier, value) : strcmp(earlier, value)) == 0)
      return 1;
  }
  return 0;
}

void body_check_uuid_items(const json_t *ids, const char *field, json_t **errors) {
  size_t i;
  json_t *v;
  json_array_foreach((json_t *)ids, i, v) {
    if (!text_is_uuid(json_string_value(v))) {
      char name[128];
      snprintf(name, sizeof name, "%s[%zu]", field, i);
      field_errors_add(errors, name, "must be a UUID");
    }
  }
}

fn_status req_check_result(fn_req *req, fn_status st, json_t *errors, const char *detail) {
  if (st == FN_INVALID)
    return req_invalid(req, errors);
  json_decref(errors);
  return st == FN_OK ? FN_OK : req_problem(req, st, detail);
}

fn_status reply_conditional_result(fn_req *req, fn_status st, db_representation *rep, const char *not_found) {
  if (st != FN_OK) {
    free(rep->json);
    return req_problem(req, st, st == FN_NOT_FOUND ? not_found : NULL);
  }
  reply_conditional(req, rep->json, rep->version);
  return FN_OK;
}

fn_status req_reply_item(fn_req *req, const char *param, const char *not_found, item_reader read) {
  const char *id;
  db_representation rep = {NULL, 0};
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, param, not_found, &id)) != FN_OK || (st = req_db(req, &db)) != FN_OK)
    return st;
  st = read(db, req->caller.id, id, &rep);
  return reply_conditional_result(req, st, &rep, not_found);
}

/* The q value of one Accept member's parameters (";q=0.5"), 1 without one. */
static double accept_q(const char *params, size_t len) {
  for (size_t i = 0; i + 2 < len; i++)
    if ((params[i] == 'q' || params[i] == 'Q') && params[i + 1] == '=')
      return atof(params + i + 2);
  return 1.0;
}

/* The highest q the Accept header gives any of types (NULL-terminated), 0 when it names none. */
static double accept_quality(const char *accept, const char *const *types) {
  double best = 0;
  for (const char *p = accept; p && *p;) {
    while (*p == ' ' || *p == ',')
      p++;
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    const char *semi = memchr(p, ';', len);
    size_t type_len = semi ? (size_t)(semi - p) : len;
    while (type_len > 0 && p[type_len - 1] == ' ')
      type_len--;
    double q = semi ? accept_q(semi, len - (size_t)(semi - p)) : 1.0;
    for (const char *const *t = types; *t; t++)
      if (type_len == strlen(*t) && strncasecmp(p, *t, type_len) == 0 && q > best)
        best = q;
    p += len;
  }
  return best;
}

int req_prefers(const fn_req *req, const char *media_type) {
  static const char *const json_types[] = {"application/json", "application/*", "*/*", NULL};
  const char *const wanted[] = {media_type, NULL};
  const char *accept = req_header(req, "Accept");
  double q = accept_quality(accept, wanted);
  return q > 0 && q >= accept_quality(accept, json_types);
}
