/* /v1/partners: partner clients (API.md section 7), administered by admins. A client secret
 * is shown once, in the answer that created it, and stored only as a digest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/audit_db.h"
#include "forumnet/body.h"
#include "forumnet/http.h"
#include "forumnet/members_db.h"
#include "forumnet/pagination.h"
#include "forumnet/partners_db.h"
#include "forumnet/password.h"
#include "forumnet/routes.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

#define PARTNER_READ_ONLY_FIELDS                                                                                       \
  {"id", FIELD_READ_ONLY, 0, 0, 0, NULL}, {"client_id", FIELD_READ_ONLY, 0, 0, 0, NULL},                               \
      {"client_secret", FIELD_READ_ONLY, 0, 0, 0, NULL}, {"revoked_at", FIELD_READ_ONLY, 0, 0, 0, NULL},               \
      {"created_at", FIELD_READ_ONLY, 0, 0, 0, NULL}, {                                                                \
    "version", FIELD_READ_ONLY, 0, 0, 0, NULL                                                                          \
  }

static const field_spec partner_create_fields[] = {
    {"name", FIELD_STRING, FIELD_REQUIRED, 1, 200, NULL},
    {"trusted", FIELD_BOOLEAN, 0, 0, 0, NULL},
    PARTNER_READ_ONLY_FIELDS,
    {NULL, 0, 0, 0, 0, NULL},
};

static const field_spec partner_update_fields[] = {
    {"name", FIELD_STRING, 0, 1, 200, NULL},
    {"trusted", FIELD_BOOLEAN, 0, 0, 0, NULL},
    PARTNER_READ_ONLY_FIELDS,
    {NULL, 0, 0, 0, 0, NULL},
};

/* Partners are an admin's business; checked inside the request's transaction when begin. */
static fn_status require_admin(fn_req *req, db_conn *db, int begin) {
  member_caller caller;
  fn_status st = begin ? members_db_begin_as_caller(db, req->caller.id, &caller)
                       : members_db_load_caller(db, req->caller.id, &caller);
  if (st == FN_OK && caller.role != ROLE_ADMIN)
    st = FN_FORBIDDEN;
  return st;
}

static const char *failure_detail(fn_status st) {
  return st == FN_NOT_FOUND ? "No such partner." : st == FN_FORBIDDEN ? "Only admins manage partners." : NULL;
}

/* A new client secret: its value for the answer and its digest for storage. */
static void new_secret(char secret[64], char digest[65]) {
  random_token(secret, 64, 32);
  token_digest_hex(secret, digest);
}

/* Reads the Partner inside the transaction, commits, then replies with it, plus
 * client_secret when one was just made. On failure replies nothing. */
static fn_status commit_and_reply_partner(fn_req *req, int http_status, const char *id, const char *secret) {
  char *json = NULL;
  long version = 0;
  fn_status st = partners_db_get(req->db, id, &json, &version);
  if (st != FN_OK || (st = db_commit(req->db)) != FN_OK) {
    free(json);
    return st;
  }
  json_t *body = json_loads(json, 0, NULL);
  free(json);
  if (secret)
    json_object_set_new(body, "client_secret", json_string(secret));
  reply_etag(req, version);
  if (http_status == 201) {
    char location[80];
    snprintf(location, sizeof location, "/v1/partners/%s", id);
    reply_header(req, "Location", location);
  }
  reply_json(req, http_status, body);
  return FN_OK;
}

static fn_status partners_http_create(fn_req *req) {
  char secret[64], digest[65], client_id[64], id[37];
  fn_status st;
  if (req_validate_body_or_reply(req, partner_create_fields) != FN_OK)
    return FN_OK;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  random_token(client_id + 4, sizeof client_id - 4, 16);
  memcpy(client_id, "fnp_", 4);
  new_secret(secret, digest);
  json_t *details = json_pack("{s:s}", "client_id", client_id);
  if ((st = require_admin(req, db, 1)) == FN_OK &&
      (st = partners_db_insert(db, body_string(req->body, "name"), json_is_true(json_object_get(req->body, "trusted")),
                               client_id, digest, id)) == FN_OK &&
      (st = req_audit(req, "partner.created", "partner", id, details)) == FN_OK)
    st = commit_and_reply_partner(req, 201, id, secret);
  json_decref(details);
  if (st != FN_OK)
    req_fail(req, st, failure_detail(st));
  return FN_OK;
}

static fn_status partners_http_list(fn_req *req) {
  page_request page;
  PGresult *res = NULL;
  if (page_from_request_or_reply(req, &page) != FN_OK)
    return FN_OK;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  fn_status st = require_admin(req, db, 0);
  if (st == FN_OK)
    st = partners_db_list(db, &page, &res);
  if (st != FN_OK)
    req_fail(req, st, failure_detail(st));
  else
    page_reply(req, res, 0, 1, &page);
  PQclear(res);
  return FN_OK;
}

static fn_status partners_http_get(fn_req *req) {
  const char *id = req_param(req, "partner_id");
  char *json = NULL;
  long version = 0;
  fn_status st;
  if (!req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, "No such partner.");
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = require_admin(req, db, 0)) != FN_OK || (st = partners_db_get(db, id, &json, &version)) != FN_OK) {
    req_fail(req, st, failure_detail(st));
    return FN_OK;
  }
  reply_etag(req, version);
  if (req_if_none_match(req, version))
    reply_empty(req, 304);
  else
    reply_json_text(req, 200, json, strlen(json));
  free(json);
  return FN_OK;
}

/* The three changes (update, rotate, revoke) share their start: admin, partner locked. */
static fn_status begin_change(fn_req *req, db_conn *db, const char *id, int *revoked, long *version,
                              char client_id[64]) {
  fn_status st = require_admin(req, db, 1);
  return st == FN_OK ? partners_db_lock(db, id, revoked, version, client_id) : st;
}

static fn_status partners_http_update(fn_req *req) {
  const char *id = req_param(req, "partner_id");
  char client_id[64];
  int revoked = 0;
  long version = 0;
  fn_status st;
  if (!req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, "No such partner.");
    return FN_OK;
  }
  if (req_validate_body_or_reply(req, partner_update_fields) != FN_OK)
    return FN_OK;
  json_t *trusted = json_object_get(req->body, "trusted");
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = begin_change(req, db, id, &revoked, &version, client_id)) == FN_OK &&
      (st = req_if_match(req, version)) == FN_OK && json_object_size(req->body) > 0 &&
      (st = partners_db_update(db, id, body_string(req->body, "name"),
                               trusted ? (json_is_true(trusted) ? "true" : "false") : NULL)) == FN_OK)
    st = req_audit(req, "partner.updated", "partner", id, req->body);
  if (st == FN_OK)
    st = commit_and_reply_partner(req, 200, id, NULL);
  if (st != FN_OK)
    req_fail(req, st, failure_detail(st));
  return FN_OK;
}

static fn_status partners_http_rotate(fn_req *req) {
  const char *id = req_param(req, "partner_id");
  char secret[64], digest[65], client_id[64];
  int revoked = 0;
  long version = 0;
  fn_status st;
  if (!req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, "No such partner.");
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  new_secret(secret, digest);
  if ((st = begin_change(req, db, id, &revoked, &version, client_id)) == FN_OK && revoked)
    st = FN_CONFLICT;
  if (st == FN_OK && (st = partners_db_set_secret(db, id, digest)) == FN_OK &&
      (st = req_audit(req, "partner.credentials_rotated", "partner", id, NULL)) == FN_OK)
    st = db_commit(db);
  if (st != FN_OK) {
    req_fail(req, st, st == FN_CONFLICT ? "The partner is revoked." : failure_detail(st));
    return FN_OK;
  }
  reply_json(req, 200, json_pack("{s:s, s:s}", "client_id", client_id, "client_secret", secret));
  return FN_OK;
}

static fn_status partners_http_revoke(fn_req *req) {
  const char *id = req_param(req, "partner_id");
  char client_id[64];
  int revoked = 0;
  long version = 0;
  fn_status st;
  if (!req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, "No such partner.");
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = begin_change(req, db, id, &revoked, &version, client_id)) == FN_OK && !revoked &&
      (st = partners_db_revoke(db, id)) == FN_OK)
    st = req_audit(req, "partner.revoked", "partner", id, NULL);
  if (st == FN_OK)
    st = db_commit(db);
  if (st != FN_OK) {
    req_fail(req, st, failure_detail(st));
    return FN_OK;
  }
  reply_empty(req, 204);
  return FN_OK;
}

const fn_route partners_routes[] = {
    {"GET", "/v1/partners", partners_http_list, 0},
    {"POST", "/v1/partners", partners_http_create, ROUTE_JSON_BODY | ROUTE_IDEMPOTENT},
    {"GET", "/v1/partners/{partner_id}", partners_http_get, 0},
    {"PATCH", "/v1/partners/{partner_id}", partners_http_update, ROUTE_JSON_BODY},
    {"DELETE", "/v1/partners/{partner_id}", partners_http_revoke, 0},
    {"POST", "/v1/partners/{partner_id}/credentials", partners_http_rotate, 0},
    {NULL, NULL, NULL, 0},
};
