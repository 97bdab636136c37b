/* /v1/partners/{partner_id}/webhooks: a partner's webhook endpoints and their delivery logs (API.md
 * section 13), managed by admins and by the partner itself with scope webhooks:manage. Another partner
 * sees none of them (404). A secret is shown once, in the answer that made it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/body.h"
#include "forumnet/http.h"
#include "forumnet/members_db.h"
#include "forumnet/pagination.h"
#include "forumnet/routes.h"
#include "forumnet/ssrf.h"
#include "forumnet/text.h"
#include "forumnet/webhook_crypto.h"
#include "forumnet/webhooks.h"
#include "forumnet/webhooks_db.h"

#define NO_SUCH_PARTNER "No such partner."
#define NO_SUCH_WEBHOOK "No such webhook."

static const char *const event_types[] = {"event.published", "event.updated", "event.cancelled",
                                          "event.registration_counts", NULL};
static const char *const status_choices[] = {"active", "disabled", NULL};
static const char *const webhook_read_only[] = {
    "id",      "partner_id", "secret", "disabled_reason", "failing_since", "previous_secret_expires_at",
    "version", "created_at", NULL};

/* POST and PATCH bodies (FIELD_REQUIRED applies to POST only; status to PATCH only). */
static const field_spec webhook_fields[] = {
    {"url", FIELD_STRING, FIELD_REQUIRED, 8, 2000, NULL},
    {"events", FIELD_ARRAY, FIELD_REQUIRED, 1, 4, NULL},
    {"status", FIELD_ENUM, FIELD_UPDATE_ONLY, 0, 0, status_choices},
    {"status", FIELD_READ_ONLY, 0, 0, 0, NULL},
    FIELDS_READ_ONLY(webhook_read_only),
    {NULL, 0, 0, 0, 0, NULL},
};

/* The body's field rules, then what a field_spec cannot say: known event types, and a URL the SSRF guard
 * lets through (checked again at each delivery). */
static fn_status validate_webhook(fn_req *req, body_mode mode) {
  json_t *errors = NULL, *item;
  if (body_validate_as(req->body, webhook_fields, mode, &errors) == FN_OK) {
    size_t i;
    json_array_foreach(json_object_get(req->body, "events"), i, item) {
      if (!json_is_string(item) || !text_is_choice(json_string_value(item), event_types)) {
        field_errors_add(&errors, "events",
                         "must hold only event.published, event.updated, event.cancelled, event.registration_counts");
        break;
      }
    }
    const char *url = body_string(req->body, "url"), *reason = NULL;
    ssrf_target target;
    if (url && ssrf_check_url(url, req->app->cfg.webhook_allow_private, &target, &reason) != 0)
      field_errors_add(&errors, "url", reason);
  }
  return errors ? req_invalid(req, errors) : FN_OK;
}

/* The path's partner, and whether the caller may manage its webhooks: the partner itself (the dispatcher
 * checked its token's scope), or an admin. Another partner, or a partner that does not exist: 404. With
 * begin, inside the request's transaction. */
static fn_status open_partner(fn_req *req, int begin, const char **partner_id, db_conn **db) {
  fn_status st;
  if ((st = req_path_id(req, "partner_id", NO_SUCH_PARTNER, partner_id)) != FN_OK)
    return st;
  if (req->caller.is_partner && strcmp(req->caller.id, *partner_id) != 0)
    return req_problem(req, FN_NOT_FOUND, NO_SUCH_PARTNER);
  if ((st = req_db(req, db)) != FN_OK)
    return st;
  if (req->caller.is_partner)
    return begin ? db_begin(*db) : FN_OK;
  member_caller caller;
  st = begin ? members_db_begin_as_caller(*db, req->caller.id, &caller)
             : members_db_load_caller(*db, req->caller.id, &caller);
  if (st == FN_OK && caller.role != ROLE_ADMIN)
    return req_problem(req, FN_FORBIDDEN, "Admins and the partner itself manage its webhooks.");
  if (st == FN_OK)
    st = webhooks_db_partner_exists(*db, *partner_id);
  return st == FN_NOT_FOUND ? req_problem(req, st, NO_SUCH_PARTNER) : st;
}

/* A webhook a change names: its partner opened, the body checked, the row locked. */
typedef struct webhook_target {
  const char *partner_id, *id;
  db_conn *db;
  long version;
} webhook_target;

static fn_status open_webhook(fn_req *req, int with_body, webhook_target *t) {
  fn_status st;
  if ((st = req_path_id(req, "webhook_id", NO_SUCH_WEBHOOK, &t->id)) != FN_OK ||
      (with_body && (st = validate_webhook(req, BODY_UPDATE)) != FN_OK) ||
      (st = open_partner(req, 1, &t->partner_id, &t->db)) != FN_OK)
    return st;
  st = webhooks_db_lock(t->db, t->partner_id, t->id, &t->version);
  return st == FN_NOT_FOUND ? req_problem(req, st, NO_SUCH_WEBHOOK) : st;
}

/* Reads the Webhook inside the transaction, commits, then replies with it (plus the secret when one was
 * just made, and Location on 201). */
static fn_status webhook_commit_reply(fn_req *req, int http_status, const char *partner_id, const char *id,
                                      const char *secret) {
  char *json = NULL, location[160];
  long version = 0;
  fn_status st = webhooks_db_get(req->db, partner_id, id, &json, &version);
  if (st != FN_OK)
    return st;
  if (secret) {
    json_t *body = json_loads(json, 0, NULL);
    free(json);
    json = NULL;
    if (body && json_object_set_new(body, "secret", json_string(secret)) == 0)
      json = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (json == NULL)
      return FN_INTERNAL;
  }
  snprintf(location, sizeof location, "/v1/partners/%s/webhooks/%s", partner_id, id);
  return req_commit_reply(req, http_status, json, version, http_status == 201 ? location : NULL);
}

static fn_status webhooks_http_create(fn_req *req) {
  const char *partner_id;
  char secret[WEBHOOK_SECRET_SIZE], sealed[WEBHOOK_SEALED_SIZE], id[UUID_TEXT_SIZE], *events = NULL;
  db_conn *db;
  fn_status st;
  if ((st = validate_webhook(req, BODY_CREATE)) != FN_OK || (st = open_partner(req, 1, &partner_id, &db)) != FN_OK)
    return st;
  webhook_secret_new(secret);
  if (webhook_secret_seal(&req->app->cfg, secret, sealed) != 0 ||
      (events = json_dumps(json_object_get(req->body, "events"), JSON_COMPACT)) == NULL)
    return FN_INTERNAL;
  if ((st = webhooks_db_insert(db, partner_id, body_string(req->body, "url"), events, sealed, id)) == FN_OK &&
      (st = req_audit(req, "webhook.created", "webhook", id, NULL)) == FN_OK)
    st = webhook_commit_reply(req, 201, partner_id, id, secret);
  free(events);
  return st;
}

static fn_status webhooks_http_list(fn_req *req) {
  const char *partner_id;
  page_request page;
  PGresult *res = NULL;
  db_conn *db;
  fn_status st;
  if ((st = page_from_request(req, &page)) != FN_OK || (st = open_partner(req, 0, &partner_id, &db)) != FN_OK)
    return st;
  st = webhooks_db_list(db, partner_id, &page, &res);
  return page_reply_result(req, st, res, &page);
}

static fn_status webhooks_http_get(fn_req *req) {
  const char *partner_id, *id;
  char *json = NULL;
  long version = 0;
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "webhook_id", NO_SUCH_WEBHOOK, &id)) != FN_OK ||
      (st = open_partner(req, 0, &partner_id, &db)) != FN_OK)
    return st;
  if ((st = webhooks_db_get(db, partner_id, id, &json, &version)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_WEBHOOK : NULL);
  reply_conditional(req, json, version);
  return FN_OK;
}

static fn_status webhooks_http_update(fn_req *req) {
  webhook_target t;
  char *events = NULL;
  fn_status st;
  if ((st = open_webhook(req, 1, &t)) != FN_OK || (st = req_if_match(req, t.version)) != FN_OK)
    return st;
  json_t *list = json_object_get(req->body, "events");
  if (list && (events = json_dumps(list, JSON_COMPACT)) == NULL)
    return FN_INTERNAL;
  if (json_object_size(req->body) > 0 && ((st = webhooks_db_update(t.db, t.id, body_string(req->body, "url"), events,
                                                                   body_string(req->body, "status"))) != FN_OK ||
                                          (st = req_audit(req, "webhook.updated", "webhook", t.id, NULL)) != FN_OK)) {
    free(events);
    return st;
  }
  free(events);
  return webhook_commit_reply(req, 200, t.partner_id, t.id, NULL);
}

static fn_status webhooks_http_delete(fn_req *req) {
  webhook_target t;
  fn_status st;
  if ((st = open_webhook(req, 0, &t)) != FN_OK || (st = req_if_match(req, t.version)) != FN_OK ||
      (st = webhooks_db_delete(t.db, t.id)) != FN_OK ||
      (st = req_audit(req, "webhook.deleted", "webhook", t.id, NULL)) != FN_OK || (st = db_commit(t.db)) != FN_OK)
    return st;
  reply_empty(req, 204);
  return FN_OK;
}

/* A new secret; the old one keeps signing beside it for 24 hours (both signatures sent). */
static fn_status webhooks_http_rotate(fn_req *req) {
  webhook_target t;
  char secret[WEBHOOK_SECRET_SIZE], sealed[WEBHOOK_SEALED_SIZE];
  fn_status st;
  if ((st = open_webhook(req, 0, &t)) != FN_OK)
    return st;
  webhook_secret_new(secret);
  if (webhook_secret_seal(&req->app->cfg, secret, sealed) != 0)
    return FN_INTERNAL;
  if ((st = webhooks_db_rotate(t.db, t.id, sealed)) != FN_OK ||
      (st = req_audit(req, "webhook.secret_rotated", "webhook", t.id, NULL)) != FN_OK)
    return st;
  return webhook_commit_reply(req, 200, t.partner_id, t.id, secret);
}

/* The webhook's path ids and its partner, for the delivery routes (no lock). */
static fn_status open_log(fn_req *req, const char **partner_id, const char **id, db_conn **db) {
  char *json = NULL;
  long version;
  fn_status st;
  if ((st = req_path_id(req, "webhook_id", NO_SUCH_WEBHOOK, id)) != FN_OK ||
      (st = open_partner(req, 0, partner_id, db)) != FN_OK)
    return st;
  st = webhooks_db_get(*db, *partner_id, *id, &json, &version);
  free(json);
  return st == FN_NOT_FOUND ? req_problem(req, st, NO_SUCH_WEBHOOK) : st;
}

static fn_status webhooks_http_deliveries(fn_req *req) {
  const char *partner_id, *id;
  page_request page;
  PGresult *res = NULL;
  db_conn *db;
  fn_status st;
  if ((st = page_from_request(req, &page)) != FN_OK || (st = open_log(req, &partner_id, &id, &db)) != FN_OK)
    return st;
  st = webhooks_db_deliveries(db, id, &page, &res);
  return page_reply_result(req, st, res, &page);
}

static fn_status webhooks_http_retry(fn_req *req) {
  webhook_target t;
  const char *delivery_id = req_param(req, "delivery_id");
  char *json = NULL;
  fn_status st;
  if ((st = open_webhook(req, 0, &t)) != FN_OK)
    return st;
  if (delivery_id == NULL || strncmp(delivery_id, "msg_", 4) != 0 || strlen(delivery_id) > 40)
    return req_problem(req, FN_NOT_FOUND, "No such delivery.");
  if ((st = webhooks_db_retry(t.db, t.id, delivery_id, &json)) == FN_NOT_FOUND)
    return req_problem(req, st, "No such delivery, or its webhook is disabled.");
  if (st != FN_OK || (st = db_commit(t.db)) != FN_OK) {
    free(json);
    return st;
  }
  reply_json_text(req, 202, json, strlen(json));
  free(json);
  return FN_OK;
}

#define W ROUTE_PARTNER_WEBHOOKS
const fn_route webhooks_routes[] = {
    {"GET", "/v1/partners/{partner_id}/webhooks", webhooks_http_list, W},
    {"POST", "/v1/partners/{partner_id}/webhooks", webhooks_http_create,
     W | ROUTE_JSON_BODY | ROUTE_IDEMPOTENT | ROUTE_SLOW},
    {"GET", "/v1/partners/{partner_id}/webhooks/{webhook_id}", webhooks_http_get, W},
    {"PATCH", "/v1/partners/{partner_id}/webhooks/{webhook_id}", webhooks_http_update,
     W | ROUTE_JSON_BODY | ROUTE_SLOW},
    {"DELETE", "/v1/partners/{partner_id}/webhooks/{webhook_id}", webhooks_http_delete, W},
    {"POST", "/v1/partners/{partner_id}/webhooks/{webhook_id}/secret", webhooks_http_rotate, W},
    {"GET", "/v1/partners/{partner_id}/webhooks/{webhook_id}/deliveries", webhooks_http_deliveries, W},
    {"POST", "/v1/partners/{partner_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", webhooks_http_retry, W},
    {NULL, NULL, NULL, 0},
};

fn_status req_webhook(fn_req *req, const char *event_id, const char *type) {
  return webhooks_db_enqueue_event(req->db, event_id, type, req->app->cfg.webhook_counts_interval_ms);
}
