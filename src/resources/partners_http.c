/* /v1/partners: partner clients (API.md section 7), administered by admins. A client secret
 * is shown once, in the answer that created it, and stored only as a digest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/body.h"
#include "forumnet/http.h"
#include "forumnet/members_db.h"
#include "forumnet/pagination.h"
#include "forumnet/partners_db.h"
#include "forumnet/password.h"
#include "forumnet/routes.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"
#include "forumnet/webhooks_db.h"

static const char *const partner_read_only[] = {"id",      "client_id", "client_secret", "revoked_at", "created_at",
                                                "version", NULL};

/* POST and PATCH bodies (FIELD_REQUIRED applies to POST only). */
static const field_spec partner_fields[] = {
    {"name", FIELD_STRING, FIELD_REQUIRED, 1, 200, NULL},
    {"trusted", FIELD_BOOLEAN, 0, 0, 0, NULL},
    {"scopes", FIELD_ARRAY, 0, 0, 2, NULL},
    FIELDS_READ_ONLY(partner_read_only),
    {NULL, 0, 0, 0, 0, NULL},
};

static const char *const scope_choices[] = {"events:write", "webhooks:manage", NULL};

/* The body, then its scopes: each one a known scope (API.md section 13). */
static fn_status validate_partner(fn_req *req, body_mode mode) {
  fn_status st = req_validate_body(req, partner_fields, mode);
  json_t *scopes = json_object_get(req->body, "scopes"), *item;
  size_t i;
  json_array_foreach(scopes, i, item) {
    if (st == FN_OK && !(json_is_string(item) && text_is_choice(json_string_value(item), scope_choices)))
      st = req_invalid_field(req, "scopes", "must hold only events:write and webhooks:manage");
  }
  return st;
}

/* Sets the scopes the body names (a change ends the partner's tokens issued before). */
static fn_status store_scopes(fn_req *req, const char *id) {
  json_t *scopes = json_object_get(req->body, "scopes");
  if (scopes == NULL)
    return FN_OK;
  char *text = json_dumps(scopes, JSON_COMPACT);
  fn_status st = text ? webhooks_db_set_partner_scopes(req->db, id, text) : FN_INTERNAL;
  free(text);
  return st;
}

/* Every failure of a partners route past the body and the connection: st with its detail attached (FN_OK
 * passes through). */
static fn_status partner_result(fn_req *req, fn_status st) {
  if (st == FN_OK)
    return FN_OK;
  return req_problem(req, st,
                     st == FN_NOT_FOUND   ? "No such partner."
                     : st == FN_FORBIDDEN ? "Only admins manage partners."
                                          : NULL);
}

/* Partners are an admin's business; checked inside the request's transaction when begin. */
static fn_status require_admin(fn_req *req, db_conn *db, int begin) {
  member_caller caller;
  fn_status st = begin ? members_db_begin_as_caller(db, req->caller.id, &caller)
                       : members_db_load_caller(db, req->caller.id, &caller);
  if (st == FN_OK && caller.role != ROLE_ADMIN)
    st = FN_FORBIDDEN;
  return st;
}

/* A new client secret: its value for the answer and its digest for storage. */
static void new_secret(char secret[64], char digest[65]) {
  random_token(secret, 64, 32);
  token_digest_hex(secret, digest);
}

/* Reads the Partner inside the transaction, commits, then replies with it (plus client_secret when
 * one was just made, and Location on 201). On failure replies nothing. */
static fn_status partner_commit_reply(fn_req *req, int http_status, const char *id, const char *secret) {
  char location[80];
  db_representation rep = {NULL, 0};
  fn_status st = partners_db_get(req->db, id, &rep);
  if (st != FN_OK)
    return st;
  /* Re-serialised even without a secret: the answer is compact JSON either way. */
  json_t *body = json_loads(rep.json, 0, NULL);
  free(rep.json);
  if (body && secret)
    json_object_set_new(body, "client_secret", json_string(secret));
  rep.json = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if (rep.json == NULL)
    return FN_INTERNAL;
  snprintf(location, sizeof location, "/v1/partners/%s", id);
  return req_commit_reply(req, http_status, rep.json, rep.version, http_status == 201 ? location : NULL);
}

static fn_status partners_http_create(fn_req *req) {
  char secret[64], digest[65], client_id[64], id[UUID_TEXT_SIZE];
  db_conn *db;
  fn_status st;
  if ((st = validate_partner(req, BODY_CREATE)) != FN_OK || (st = req_db(req, &db)) != FN_OK)
    return st;
  random_token(client_id + 4, sizeof client_id - 4, 16);
  memcpy(client_id, "fnp_", 4);
  new_secret(secret, digest);
  json_t *details = json_pack("{s:s}", "client_id", client_id);
  if ((st = require_admin(req, db, 1)) == FN_OK &&
      (st = partners_db_insert(db, body_string(req->body, "name"), json_is_true(json_object_get(req->body, "trusted")),
                               client_id, digest, id)) == FN_OK &&
      (st = store_scopes(req, id)) == FN_OK &&
      (st = req_audit(req, "partner.created", "partner", id, details)) == FN_OK)
    st = partner_commit_reply(req, 201, id, secret);
  json_decref(details);
  return partner_result(req, st);
}

static fn_status partners_http_list(fn_req *req) {
  page_request page;
  PGresult *res = NULL;
  db_conn *db;
  fn_status st;
  if ((st = page_open(req, &page, NULL, &db)) != FN_OK)
    return st;
  if ((st = require_admin(req, db, 0)) == FN_OK)
    st = partners_db_list(db, &page, &res);
  return page_reply_result(req, partner_result(req, st), res, &page);
}

static fn_status partners_http_get(fn_req *req) {
  const char *id;
  db_representation rep = {NULL, 0};
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "partner_id", "No such partner.", &id)) != FN_OK || (st = req_db(req, &db)) != FN_OK)
    return st;
  if ((st = require_admin(req, db, 0)) != FN_OK || (st = partners_db_get(db, id, &rep)) != FN_OK)
    return partner_result(req, st);
  reply_conditional(req, rep.json, rep.version);
  return FN_OK;
}

/* A partner as the changes (update, rotate, revoke) see it, locked. */
typedef struct partner_lock {
  const char *id;
  int revoked;
  long version;
  char client_id[64];
} partner_lock;

/* The three changes share their start: a partner id in the path, an admin, the partner locked. The
 * body, when the route has one, is checked between the id and the database. */
static fn_status begin_change(fn_req *req, const field_spec *body_fields, partner_lock *p) {
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "partner_id", "No such partner.", &p->id)) != FN_OK ||
      (body_fields && (st = validate_partner(req, BODY_UPDATE)) != FN_OK) || (st = req_db(req, &db)) != FN_OK)
    return st;
  if ((st = require_admin(req, db, 1)) == FN_OK)
    st = partners_db_lock(db, p->id, &p->revoked, &p->version, p->client_id);
  return partner_result(req, st);
}

static fn_status partners_http_update(fn_req *req) {
  partner_lock p;
  fn_status st;
  if ((st = begin_change(req, partner_fields, &p)) != FN_OK)
    return st;
  json_t *trusted = json_object_get(req->body, "trusted");
  if ((st = req_if_match(req, p.version)) == FN_OK && json_object_size(req->body) > 0 &&
      (st = partners_db_update(req->db, p.id, body_string(req->body, "name"),
                               trusted ? (json_is_true(trusted) ? "true" : "false") : NULL)) == FN_OK &&
      (st = store_scopes(req, p.id)) == FN_OK)
    st = req_audit(req, "partner.updated", "partner", p.id, req->body);
  if (st == FN_OK)
    st = partner_commit_reply(req, 200, p.id, NULL);
  return partner_result(req, st);
}

static fn_status partners_http_rotate(fn_req *req) {
  partner_lock p;
  char secret[64], digest[65];
  fn_status st;
  if ((st = begin_change(req, NULL, &p)) != FN_OK)
    return st;
  if (p.revoked)
    return req_problem(req, FN_CONFLICT, "The partner is revoked.");
  new_secret(secret, digest);
  if ((st = partners_db_set_secret(req->db, p.id, digest)) != FN_OK ||
      (st = req_audit(req, "partner.credentials_rotated", "partner", p.id, NULL)) != FN_OK ||
      (st = db_commit(req->db)) != FN_OK)
    return partner_result(req, st);
  reply_json(req, 200, json_pack("{s:s, s:s}", "client_id", p.client_id, "client_secret", secret));
  return FN_OK;
}

static fn_status partners_http_revoke(fn_req *req) {
  partner_lock p;
  fn_status st;
  if ((st = begin_change(req, NULL, &p)) != FN_OK)
    return st;
  if ((!p.revoked && ((st = partners_db_revoke(req->db, p.id)) != FN_OK ||
                      (st = req_audit(req, "partner.revoked", "partner", p.id, NULL)) != FN_OK)) ||
      (st = db_commit(req->db)) != FN_OK)
    return partner_result(req, st);
  reply_empty(req, 204);
  return FN_OK;
}

const fn_route partners_routes[] = {
    ROUTES_COLLECTION("/v1/partners", "{partner_id}", partners, 0),
    {"DELETE", "/v1/partners/{partner_id}", partners_http_revoke, 0},
    {"POST", "/v1/partners/{partner_id}/credentials", partners_http_rotate, 0},
    {NULL, NULL, NULL, 0},
};
