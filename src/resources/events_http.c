/* /v1/events: learning forums, seminars and workshops from the network and its partners
 * (API.md section 7). Partner systems retry, time out and resend: POST honours
 * Idempotency-Key (the request layer, ROUTE_IDEMPOTENT) and a partner's external_id is unique,
 * both under concurrency. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/body.h"
#include "forumnet/events_db.h"
#include "forumnet/http.h"
#include "forumnet/notifications.h"
#include "forumnet/pagination.h"
#include "forumnet/registrations_db.h"
#include "forumnet/routes.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"
#include "forumnet/webhooks.h"

static const char *const kind_choices[] = {"learning_forum",  "seminar", "workshop", "training",
                                           "network_meeting", "other",   NULL};
static const char *const status_choices[] = {"pending", "published", "cancelled", NULL};
static const char *const scope_choices[] = {"network", "sites", NULL};

#define MAX_EVENT_SECONDS (14LL * 24 * 3600)

#define NO_SUCH_EVENT "No such event."

static const char *const event_read_only[] = {
    "id", "partner_id", "owner", "registration_counts", "my_registration", "version", "created_at", NULL};

/* POST and PATCH bodies (FIELD_REQUIRED applies to POST only). `status` is the one field that only PATCH
 * may set: in a POST the entry is passed over and the read-only one after it decides. */
static const field_spec event_fields[] = {
    {"status", FIELD_ENUM, FIELD_UPDATE_ONLY, 0, 0, status_choices},
    {"status", FIELD_READ_ONLY, 0, 0, 0, NULL},
    {"kind", FIELD_ENUM, FIELD_REQUIRED, 0, 0, kind_choices},
    {"title", FIELD_STRING, FIELD_REQUIRED, 1, 200, NULL},
    {"description", FIELD_STRING, FIELD_NULLABLE, 0, 10000, NULL},
    {"starts_at", FIELD_TIMESTAMP, FIELD_REQUIRED, 2000, 2999, NULL},
    {"ends_at", FIELD_TIMESTAMP, FIELD_REQUIRED, 2000, 2999, NULL},
    {"location", FIELD_STRING, FIELD_NULLABLE, 1, 200, NULL},
    {"online_url", FIELD_STRING, FIELD_NULLABLE, 1, 500, NULL},
    {"audience", FIELD_OBJECT, FIELD_REQUIRED, 0, 0, NULL},
    {"capacity", FIELD_INTEGER, FIELD_NULLABLE, 1, 100000, NULL},
    {"external_id", FIELD_STRING, FIELD_NULLABLE | FIELD_CREATE_ONLY, 1, 200, NULL},
    FIELDS_READ_ONLY(event_read_only),
    {NULL, 0, 0, 0, 0, NULL},
};

static const field_spec audience_fields[] = {
    {"scope", FIELD_ENUM, FIELD_REQUIRED, 0, 0, scope_choices},
    {"site_ids", FIELD_ARRAY, 0, 1, 100, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

/* http(s)://host[...] with a host and no whitespace or control characters. */
static int valid_url(const char *url) {
  const char *rest = strncmp(url, "https://", 8) == 0 ? url + 8 : strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
  if (rest == NULL || *rest == '\0' || *rest == '/' || *rest == '?' || *rest == '#' || *rest == ':')
    return 0;
  for (const char *p = url; *p; p++)
    if ((unsigned char)*p <= ' ' || *p == 0x7f)
      return 0;
  return 1;
}

/* Rules a field_spec cannot say: audience shape, times, URL scheme, who may send external_id. */
static void check_event_body(const json_t *body, int is_partner, json_t **errors) {
  json_t *audience = json_object_get(body, "audience");
  if (audience && body_validate_nested(audience, "audience", audience_fields, errors) == FN_OK) {
    json_t *ids = json_object_get(audience, "site_ids");
    int sites = strcmp(body_string(audience, "scope"), "sites") == 0;
    if (sites && ids == NULL)
      field_errors_add(errors, "audience.site_ids", "is required when scope is sites");
    if (!sites && ids != NULL)
      field_errors_add(errors, "audience.site_ids", "is only for scope sites");
    body_check_uuid_items(ids, "audience.site_ids", errors);
  }
  long long starts, ends;
  if (rfc3339_parse(body_string(body, "starts_at"), &starts) && rfc3339_parse(body_string(body, "ends_at"), &ends) &&
      (ends <= starts || ends - starts > MAX_EVENT_SECONDS * 1000000LL))
    field_errors_add(errors, "ends_at", "must be after starts_at, and at most 14 days later");
  const char *url = body_string(body, "online_url");
  if (url && !valid_url(url))
    field_errors_add(errors, "online_url", "must be an http:// or https:// URL with a host");
  if (!is_partner && json_object_get(body, "external_id") && !json_is_null(json_object_get(body, "external_id")))
    field_errors_add(errors, "external_id", "is for partner systems only");
}

/* The body's field rules, then the rules a field_spec cannot say; FN_INVALID with every error attached. */
static fn_status validate_event(fn_req *req, body_mode mode) {
  json_t *errors = NULL;
  if (body_validate_as(req->body, event_fields, mode, &errors) == FN_OK)
    check_event_body(req->body, req->caller.is_partner, &errors);
  return errors ? req_invalid(req, errors) : FN_OK;
}

/* Audience rules that need the database. */
static fn_status check_audience(fn_req *req, db_conn *db, const event_caller *caller) {
  json_t *errors = NULL;
  const char *detail = NULL;
  fn_status st = events_db_check_audience(db, caller, json_object_get(req->body, "audience"), &errors, &detail);
  return req_check_result(req, st, errors, detail);
}

/* The event a request names, and who asks. */
typedef struct event_target {
  const char *id;
  db_conn *db;
  event_caller caller;
  event_access a;
} event_target;

/* In the order the API answers them: the path's event id, the PATCH body (with_body), the connection,
 * the caller and the event it may see. With change, inside the request's transaction, the event row
 * locked until it ends. */
static fn_status open_event(fn_req *req, int change, int with_body, event_target *t) {
  fn_status st;
  if ((st = req_path_id(req, "event_id", NO_SUCH_EVENT, &t->id)) != FN_OK ||
      (with_body && (st = validate_event(req, BODY_UPDATE)) != FN_OK) || (st = req_db(req, &t->db)) != FN_OK ||
      (change && (st = db_begin(t->db)) != FN_OK))
    return st;
  if ((st = events_db_load_visible(t->db, &req->caller, t->id, change, &t->caller, &t->a)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_EVENT : NULL);
  return FN_OK;
}

/* The event as the caller sees it now: 404 when it is gone. out->json: caller frees. */
static fn_status read_event(fn_req *req, const event_target *t, db_representation *out) {
  fn_status st = events_db_get(t->db, t->id, &t->caller, out);
  return st == FN_OK ? FN_OK : req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_EVENT : NULL);
}

/* Idempotency-Key is the request layer's (ROUTE_IDEMPOTENT). */
static fn_status events_http_create(fn_req *req) {
  event_caller caller;
  char id[UUID_TEXT_SIZE], existing[UUID_TEXT_SIZE] = "", location[80];
  db_representation rep = {NULL, 0};
  db_conn *db;
  fn_status st;
  if ((st = validate_event(req, BODY_CREATE)) != FN_OK || (st = req_db(req, &db)) != FN_OK ||
      (st = db_begin(db)) != FN_OK || (st = events_db_load_caller(db, &req->caller, &caller)) != FN_OK)
    return st;
  if (!caller.is_partner && caller.role != ROLE_ADMIN && caller.role != ROLE_MANAGER)
    return req_problem(req, FN_FORBIDDEN, "Admins, managers and partner systems post events.");
  if ((st = check_audience(req, db, &caller)) != FN_OK)
    return st;
  const char *status = !caller.is_partner || caller.trusted ? "published" : "pending";
  st = events_db_insert(db, req->body, &caller, status, id, existing);
  if (st == FN_CONFLICT && existing[0])
    return req_problem_with(req, FN_CONFLICT, "This partner already has an event with this external_id.",
                            json_pack("{s:s}", "existing_event_id", existing));
  if (st != FN_OK || (st = req_audit(req, "event.created", "event", id, NULL)) != FN_OK ||
      (strcmp(status, "published") == 0 && ((st = req_notify(req, NOTIFY_EVENT_PUBLISHED, id, NULL)) != FN_OK ||
                                            (st = req_webhook(req, id, "event.published")) != FN_OK)) ||
      (st = events_db_get(db, id, &caller, &rep)) != FN_OK)
    return st;
  snprintf(location, sizeof location, "/v1/events/%s", id);
  return req_commit_reply(req, 201, rep.json, rep.version, location);
}

static fn_status events_http_list(fn_req *req) {
  page_request page;
  event_caller caller;
  PGresult *res = NULL;
  const char *site_id = req_query(req, "site_id"), *from = req_query(req, "from"), *to = req_query(req, "to"),
             *kind = req_query(req, "kind"), *status = req_query(req, "status");
  json_t *errors = NULL;
  long long ts;
  db_conn *db;
  fn_status st;
  if (site_id && !text_is_uuid(site_id))
    field_errors_add(&errors, "site_id", "must be a UUID");
  if (from && !rfc3339_parse(from, &ts))
    field_errors_add(&errors, "from", "must be an RFC 3339 date-time");
  if (to && !rfc3339_parse(to, &ts))
    field_errors_add(&errors, "to", "must be an RFC 3339 date-time");
  if (kind && !text_is_choice(kind, kind_choices))
    field_errors_add(&errors, "kind", "is not an event kind");
  if (status && !text_is_choice(status, status_choices))
    field_errors_add(&errors, "status", "must be one of: pending published cancelled");
  if ((st = page_open(req, &page, errors, &db)) != FN_OK)
    return st;
  if ((st = events_db_load_caller(db, &req->caller, &caller)) == FN_OK)
    st = events_db_list(db, &caller, site_id, from, to, kind, status, &page, &res);
  return page_reply_result(req, st, res, &page);
}

static fn_status events_http_get(fn_req *req) {
  event_target t;
  db_representation rep = {NULL, 0};
  fn_status st;
  if ((st = open_event(req, 0, 0, &t)) != FN_OK || (st = read_event(req, &t, &rep)) != FN_OK)
    return st;
  reply_conditional(req, rep.json, rep.version);
  return FN_OK;
}

/* A time sent alone is checked against the stored other one. */
static fn_status check_new_times(fn_req *req, const event_access *a) {
  long long starts = a->starts_us, ends = a->ends_us;
  const char *starts_text = body_string(req->body, "starts_at"), *ends_text = body_string(req->body, "ends_at");
  if ((starts_text && !rfc3339_parse(starts_text, &starts)) || (ends_text && !rfc3339_parse(ends_text, &ends)))
    starts = ends = 0;
  if ((starts_text || ends_text) && (ends <= starts || ends - starts > MAX_EVENT_SECONDS * 1000000LL))
    return req_invalid_field(req, ends_text ? "ends_at" : "starts_at",
                             "must leave the event 0 to 14 days long, ending after it starts");
  return FN_OK;
}

/* The checks of a PATCH that need the locked event, in the order the API answers them. wanted: the
 * status asked for when it differs from the event's; changes: how many other fields the body sets. */
static fn_status check_update(fn_req *req, db_conn *db, const event_access *a, const char *wanted, size_t changes) {
  fn_status st;
  if ((changes > 0 && !a->owner) || (wanted && !a->owner && !a->can_publish))
    return req_problem(req, FN_FORBIDDEN, "Only the event's owner changes it.");
  if (strcmp(a->status, "cancelled") == 0)
    return req_problem(req, FN_CONFLICT, "The event is cancelled.");
  if ((st = req_if_match(req, a->version)) != FN_OK)
    return st;
  if (wanted && strcmp(wanted, "published") != 0)
    return req_problem(req, FN_CONFLICT, "Events move from pending to published; DELETE cancels them.");
  if ((st = check_new_times(req, a)) != FN_OK)
    return st;
  json_t *capacity = json_object_get(req->body, "capacity");
  if (json_is_integer(capacity)) {
    long going = 0;
    if ((st = events_db_going_count(db, a->id, &going)) != FN_OK)
      return st;
    if (json_integer_value(capacity) < going)
      return req_problem(req, FN_CONFLICT, "capacity cannot go below the number of members going.");
  }
  return FN_OK;
}

/* Stores the body's fields (other than status) and what follows from them. */
static fn_status apply_changes(fn_req *req, db_conn *db, const event_caller *caller, const event_access *a) {
  char now_status[16] = "";
  json_t *capacity = json_object_get(req->body, "capacity");
  fn_status st = events_db_update(db, a->id, req->body, caller->is_partner && !caller->trusted, now_status);
  if (st != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_EVENT : NULL);
  if ((st = req_audit(req, "event.updated", "event", a->id, NULL)) != FN_OK)
    return st;
  /* An untrusted partner's change to what members see goes back to moderation. */
  if (strcmp(a->status, now_status) != 0 && (st = req_audit(req, "event.unpublished", "event", a->id, NULL)) != FN_OK)
    return st;
  /* to those who may still see it: an event back in moderation is hidden from most */
  if ((st = req_notify(req, NOTIFY_EVENT_CHANGED, a->id, NULL)) != FN_OK ||
      (st = req_webhook(req, a->id, "event.updated")) != FN_OK)
    return st;
  /* More places (or no limit any more) go to the waitlist first, oldest first. */
  if (capacity)
    st = registrations_db_promote(db, a->id, json_is_integer(capacity) ? (long)json_integer_value(capacity) : 0,
                                  caller->is_partner ? NULL : caller->id);
  return st;
}

/* Publication is a separate power from ownership: the partner that owns a pending event
 * cannot publish it, an admin or a manager of an audience site can. */
static fn_status publish(fn_req *req, db_conn *db, const event_access *a) {
  if (!a->can_publish)
    return req_problem(req, FN_FORBIDDEN, "Admins and managers of an audience site publish events.");
  if (strcmp(a->status, "published") == 0)
    return FN_OK;
  fn_status st = events_db_set_status(db, a->id, "published");
  if (st == FN_OK && (st = req_audit(req, "event.published", "event", a->id, NULL)) == FN_OK &&
      (st = req_notify(req, NOTIFY_EVENT_PUBLISHED, a->id, NULL)) == FN_OK)
    st = req_webhook(req, a->id, "event.published");
  return st;
}

static fn_status events_http_update(fn_req *req) {
  event_target t;
  db_representation rep = {NULL, 0};
  fn_status st;
  if ((st = open_event(req, 1, 1, &t)) != FN_OK)
    return st;
  const char *wanted = body_string(req->body, "status");
  if (wanted && strcmp(wanted, t.a.status) == 0)
    wanted = NULL; /* sending back the status it has is no change, whoever sends it */
  size_t changes = json_object_size(req->body) - (json_object_get(req->body, "status") ? 1 : 0);
  if ((st = check_update(req, t.db, &t.a, wanted, changes)) != FN_OK ||
      (json_object_get(req->body, "audience") && (st = check_audience(req, t.db, &t.caller)) != FN_OK) ||
      (changes > 0 && (st = apply_changes(req, t.db, &t.caller, &t.a)) != FN_OK) ||
      (wanted && (st = publish(req, t.db, &t.a)) != FN_OK) || /* check_update let only "published" through */
      (st = read_event(req, &t, &rep)) != FN_OK)
    return st;
  return req_commit_reply(req, 200, rep.json, rep.version, NULL);
}

static fn_status events_http_cancel(fn_req *req) {
  event_target t;
  fn_status st;
  if ((st = open_event(req, 1, 0, &t)) != FN_OK)
    return st;
  if (!t.a.owner && !t.a.is_admin)
    return req_problem(req, FN_FORBIDDEN, "Only the event's owner or an admin cancels it.");
  if (strcmp(t.a.status, "cancelled") != 0 && ((st = events_db_set_status(t.db, t.id, "cancelled")) != FN_OK ||
                                               (st = req_audit(req, "event.cancelled", "event", t.id, NULL)) != FN_OK ||
                                               (st = req_notify(req, NOTIFY_EVENT_CANCELLED, t.id, NULL)) != FN_OK ||
                                               (st = req_webhook(req, t.id, "event.cancelled")) != FN_OK))
    return st;
  return req_commit_no_content(req);
}

const fn_route events_routes[] = {
    ROUTES_COLLECTION("/v1/events", "{event_id}", events, ROUTE_PARTNER),
    {"DELETE", "/v1/events/{event_id}", events_http_cancel, ROUTE_PARTNER},
    {NULL, NULL, NULL, 0},
};
