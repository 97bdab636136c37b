/* /v1/events: learning forums, seminars and workshops from the network and its partners
 * (API.md section 7). Partner systems retry, time out and resend: POST honours
 * Idempotency-Key (the request layer, ROUTE_IDEMPOTENT) and a partner's external_id is unique,
 * both under concurrency. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/audit_db.h"
#include "forumnet/body.h"
#include "forumnet/events_db.h"
#include "forumnet/http.h"
#include "forumnet/pagination.h"
#include "forumnet/registrations_db.h"
#include "forumnet/routes.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

static const char *const kind_choices[] = {"learning_forum",  "seminar", "workshop", "training",
                                           "network_meeting", "other",   NULL};
static const char *const status_choices[] = {"pending", "published", "cancelled", NULL};
static const char *const scope_choices[] = {"network", "sites", NULL};

#define MAX_EVENT_SECONDS (14LL * 24 * 3600)

#define EVENT_READ_ONLY_FIELDS                                                                                         \
  {"id", FIELD_READ_ONLY, 0, 0, 0, NULL}, {"partner_id", FIELD_READ_ONLY, 0, 0, 0, NULL},                              \
      {"owner", FIELD_READ_ONLY, 0, 0, 0, NULL}, {"registration_counts", FIELD_READ_ONLY, 0, 0, 0, NULL},              \
      {"my_registration", FIELD_READ_ONLY, 0, 0, 0, NULL}, {"version", FIELD_READ_ONLY, 0, 0, 0, NULL}, {              \
    "created_at", FIELD_READ_ONLY, 0, 0, 0, NULL                                                                       \
  }

static const field_spec create_fields[] = {
    {"kind", FIELD_ENUM, FIELD_REQUIRED, 0, 0, kind_choices},
    {"title", FIELD_STRING, FIELD_REQUIRED, 1, 200, NULL},
    {"description", FIELD_STRING, FIELD_NULLABLE, 0, 10000, NULL},
    {"starts_at", FIELD_TIMESTAMP, FIELD_REQUIRED, 2000, 2999, NULL},
    {"ends_at", FIELD_TIMESTAMP, FIELD_REQUIRED, 2000, 2999, NULL},
    {"location", FIELD_STRING, FIELD_NULLABLE, 1, 200, NULL},
    {"online_url", FIELD_STRING, FIELD_NULLABLE, 1, 500, NULL},
    {"audience", FIELD_OBJECT, FIELD_REQUIRED, 0, 0, NULL},
    {"capacity", FIELD_INTEGER, FIELD_NULLABLE, 1, 100000, NULL},
    {"external_id", FIELD_STRING, FIELD_NULLABLE, 1, 200, NULL},
    {"status", FIELD_READ_ONLY, 0, 0, 0, NULL},
    EVENT_READ_ONLY_FIELDS,
    {NULL, 0, 0, 0, 0, NULL},
};

static const field_spec update_fields[] = {
    {"kind", FIELD_ENUM, 0, 0, 0, kind_choices},
    {"title", FIELD_STRING, 0, 1, 200, NULL},
    {"description", FIELD_STRING, FIELD_NULLABLE, 0, 10000, NULL},
    {"starts_at", FIELD_TIMESTAMP, 0, 2000, 2999, NULL},
    {"ends_at", FIELD_TIMESTAMP, 0, 2000, 2999, NULL},
    {"location", FIELD_STRING, FIELD_NULLABLE, 1, 200, NULL},
    {"online_url", FIELD_STRING, FIELD_NULLABLE, 1, 500, NULL},
    {"audience", FIELD_OBJECT, 0, 0, 0, NULL},
    {"capacity", FIELD_INTEGER, FIELD_NULLABLE, 1, 100000, NULL},
    {"status", FIELD_ENUM, 0, 0, 0, status_choices},
    {"external_id", FIELD_READ_ONLY, 0, 0, 0, NULL},
    EVENT_READ_ONLY_FIELDS,
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
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
      if (!text_is_uuid(json_string_value(v))) {
        char field[48];
        snprintf(field, sizeof field, "audience.site_ids[%zu]", i);
        field_errors_add(errors, field, "must be a UUID");
      }
    }
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

static fn_status validate(fn_req *req, const field_spec *specs) {
  json_t *errors = NULL;
  if (body_validate(req->body, specs, &errors) == FN_OK)
    check_event_body(req->body, req->caller.is_partner, &errors);
  if (errors == NULL)
    return FN_OK;
  reply_invalid(req, errors);
  return FN_INVALID;
}

/* Audience rules that need the database; on failure replies itself. */
static fn_status check_audience(fn_req *req, db_conn *db, const event_caller *caller) {
  json_t *errors = NULL;
  const char *detail = NULL;
  fn_status st = events_db_check_audience(db, caller, json_object_get(req->body, "audience"), &errors, &detail);
  if (st == FN_INVALID) {
    db_rollback(db);
    reply_invalid(req, errors);
  } else {
    json_decref(errors);
    if (st != FN_OK)
      req_fail(req, st, detail);
  }
  return st;
}

static void reply_event_json(fn_req *req, int http_status, const char *id, const char *json, long version) {
  reply_etag(req, version);
  if (http_status == 201) {
    char location[80];
    snprintf(location, sizeof location, "/v1/events/%s", id);
    reply_header(req, "Location", location);
  }
  reply_json_text(req, http_status, json, strlen(json));
}

/* Idempotency-Key is the request layer's (ROUTE_IDEMPOTENT). */
static fn_status events_http_create(fn_req *req) {
  const char *detail = NULL;
  event_caller caller;
  char id[37], existing[37] = "", *json = NULL;
  long version = 0;
  fn_status st;
  if (validate(req, create_fields) != FN_OK)
    return FN_OK;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = db_begin(db)) != FN_OK || (st = events_db_load_caller(db, &req->caller, &caller)) != FN_OK)
    goto fail;
  if (!caller.is_partner && caller.role != ROLE_ADMIN && caller.role != ROLE_MANAGER) {
    req_fail(req, FN_FORBIDDEN, "Admins, managers and partner systems post events.");
    return FN_OK;
  }
  if (check_audience(req, db, &caller) != FN_OK)
    return FN_OK;
  const char *status = !caller.is_partner || caller.trusted ? "published" : "pending";
  st = events_db_insert(db, req->body, &caller, status, id, existing);
  if (st == FN_CONFLICT && existing[0]) {
    db_rollback(db);
    reply_problem_with(req, FN_CONFLICT, "This partner already has an event with this external_id.",
                       json_pack("{s:s}", "existing_event_id", existing));
    return FN_OK;
  }
  if (st != FN_OK || (st = req_audit(req, "event.created", "event", id, NULL)) != FN_OK ||
      (st = events_db_get(db, id, &caller, &json, &version)) != FN_OK || (st = db_commit(db)) != FN_OK)
    goto fail;
  reply_event_json(req, 201, id, json, version);
  free(json);
  return FN_OK;
fail:
  free(json);
  req_fail(req, st, detail);
  return FN_OK;
}

static fn_status events_http_list(fn_req *req) {
  page_request page;
  event_caller caller;
  PGresult *res = NULL;
  const char *site_id = req_query(req, "site_id"), *from = req_query(req, "from"), *to = req_query(req, "to"),
             *kind = req_query(req, "kind"), *status = req_query(req, "status");
  json_t *errors = NULL;
  long long ts;
  if (page_from_request_or_reply(req, &page) != FN_OK)
    return FN_OK;
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
  if (errors) {
    reply_invalid(req, errors);
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  fn_status st = events_db_load_caller(db, &req->caller, &caller);
  if (st == FN_OK)
    st = events_db_list(db, &caller, site_id, from, to, kind, status, &page, &res);
  if (st != FN_OK)
    req_fail(req, st, NULL);
  else
    page_reply(req, res, 0, 1, &page);
  PQclear(res);
  return FN_OK;
}

static fn_status events_http_get(fn_req *req) {
  const char *id = req_param(req, "event_id");
  event_caller caller;
  event_access a;
  char *json = NULL;
  long version = 0;
  fn_status st;
  if (!req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, "No such event.");
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = events_db_load_caller(db, &req->caller, &caller)) != FN_OK ||
      (st = events_db_access(db, id, &caller, 0, &a)) != FN_OK || (st = a.visible ? FN_OK : FN_NOT_FOUND) != FN_OK ||
      (st = events_db_get(db, id, &caller, &json, &version)) != FN_OK) {
    req_fail(req, st, st == FN_NOT_FOUND ? "No such event." : NULL);
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

/* Publication is a separate power from ownership: the partner that owns a pending event
 * cannot publish it, an admin or a manager of an audience site can. */
static fn_status publish(fn_req *req, db_conn *db, const event_access *a, const char **detail) {
  if (!a->can_publish) {
    *detail = "Admins and managers of an audience site publish events.";
    return FN_FORBIDDEN;
  }
  if (strcmp(a->status, "published") == 0)
    return FN_OK;
  fn_status st = events_db_set_status(db, a->id, "published");
  return st == FN_OK ? req_audit(req, "event.published", "event", a->id, NULL) : st;
}

static fn_status events_http_update(fn_req *req) {
  const char *id = req_param(req, "event_id"), *detail = NULL;
  event_caller caller;
  event_access a;
  char *json = NULL;
  long version = 0;
  fn_status st;
  if (!req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, "No such event.");
    return FN_OK;
  }
  if (validate(req, update_fields) != FN_OK)
    return FN_OK;
  const char *wanted = body_string(req->body, "status");
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = db_begin(db)) != FN_OK || (st = events_db_load_caller(db, &req->caller, &caller)) != FN_OK ||
      (st = events_db_access(db, id, &caller, 1, &a)) != FN_OK || (st = a.visible ? FN_OK : FN_NOT_FOUND) != FN_OK)
    goto fail;
  if (wanted && strcmp(wanted, a.status) == 0)
    wanted = NULL; /* sending back the status it has is no change, whoever sends it */
  size_t changes = json_object_size(req->body) - (json_object_get(req->body, "status") ? 1 : 0);
  if ((changes > 0 && !a.owner) || (wanted && !a.owner && !a.can_publish)) {
    st = FN_FORBIDDEN;
    detail = "Only the event's owner changes it.";
    goto fail;
  }
  if (strcmp(a.status, "cancelled") == 0) {
    st = FN_CONFLICT;
    detail = "The event is cancelled.";
    goto fail;
  }
  if ((st = req_if_match(req, a.version)) != FN_OK)
    goto fail;
  if (wanted && strcmp(wanted, a.status) != 0 && strcmp(wanted, "published") != 0) {
    st = FN_CONFLICT;
    detail = "Events move from pending to published; DELETE cancels them.";
    goto fail;
  }
  /* One time sent alone is checked against the stored other one. */
  long long starts = a.starts_us, ends = a.ends_us;
  const char *starts_text = body_string(req->body, "starts_at"), *ends_text = body_string(req->body, "ends_at");
  if ((starts_text && !rfc3339_parse(starts_text, &starts)) || (ends_text && !rfc3339_parse(ends_text, &ends)))
    starts = ends = 0;
  if ((starts_text || ends_text) && (ends <= starts || ends - starts > MAX_EVENT_SECONDS * 1000000LL)) {
    json_t *errors = NULL;
    field_errors_add(&errors, ends_text ? "ends_at" : "starts_at",
                     "must leave the event 0 to 14 days long, ending after it starts");
    db_rollback(db);
    reply_invalid(req, errors);
    return FN_OK;
  }
  json_t *capacity = json_object_get(req->body, "capacity");
  if (json_is_integer(capacity)) {
    long going = 0;
    if ((st = events_db_going_count(db, id, &going)) != FN_OK)
      goto fail;
    if (json_integer_value(capacity) < going) {
      st = FN_CONFLICT;
      detail = "capacity cannot go below the number of members going.";
      goto fail;
    }
  }
  if (json_object_get(req->body, "audience") && check_audience(req, db, &caller) != FN_OK)
    return FN_OK;
  if (changes > 0) {
    char now_status[16] = "";
    if ((st = events_db_update(db, id, req->body, caller.is_partner && !caller.trusted, now_status)) != FN_OK ||
        (st = req_audit(req, "event.updated", "event", id, NULL)) != FN_OK)
      goto fail;
    /* An untrusted partner's change to what members see goes back to moderation. */
    if (strcmp(a.status, now_status) != 0 && (st = req_audit(req, "event.unpublished", "event", id, NULL)) != FN_OK)
      goto fail;
    /* More places (or no limit any more) go to the waitlist first, oldest first. */
    if (capacity && (st = registrations_db_promote(
                         db, id, json_is_integer(capacity) ? (long)json_integer_value(capacity) : 0)) != FN_OK)
      goto fail;
  }
  if (wanted && strcmp(wanted, "published") == 0 && (st = publish(req, db, &a, &detail)) != FN_OK)
    goto fail;
  if ((st = events_db_get(db, id, &caller, &json, &version)) != FN_OK || (st = db_commit(db)) != FN_OK)
    goto fail;
  reply_event_json(req, 200, id, json, version);
  free(json);
  return FN_OK;
fail:
  free(json);
  req_fail(req, st, st == FN_NOT_FOUND ? "No such event." : detail);
  return FN_OK;
}

static fn_status events_http_cancel(fn_req *req) {
  const char *id = req_param(req, "event_id");
  event_caller caller;
  event_access a;
  fn_status st;
  if (!req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, "No such event.");
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = db_begin(db)) != FN_OK || (st = events_db_load_caller(db, &req->caller, &caller)) != FN_OK ||
      (st = events_db_access(db, id, &caller, 1, &a)) != FN_OK || (st = a.visible ? FN_OK : FN_NOT_FOUND) != FN_OK ||
      (st = a.owner || a.is_admin ? FN_OK : FN_FORBIDDEN) != FN_OK)
    goto fail;
  if (strcmp(a.status, "cancelled") != 0 && ((st = events_db_set_status(db, id, "cancelled")) != FN_OK ||
                                             (st = req_audit(req, "event.cancelled", "event", id, NULL)) != FN_OK))
    goto fail;
  if ((st = db_commit(db)) != FN_OK)
    goto fail;
  reply_empty(req, 204);
  return FN_OK;
fail:
  req_fail(req, st,
           st == FN_NOT_FOUND   ? "No such event."
           : st == FN_FORBIDDEN ? "Only the event's owner or an admin cancels it."
                                : NULL);
  return FN_OK;
}

const fn_route events_routes[] = {
    {"GET", "/v1/events", events_http_list, ROUTE_PARTNER},
    {"POST", "/v1/events", events_http_create, ROUTE_JSON_BODY | ROUTE_PARTNER | ROUTE_IDEMPOTENT},
    {"GET", "/v1/events/{event_id}", events_http_get, ROUTE_PARTNER},
    {"PATCH", "/v1/events/{event_id}", events_http_update, ROUTE_JSON_BODY | ROUTE_PARTNER},
    {"DELETE", "/v1/events/{event_id}", events_http_cancel, ROUTE_PARTNER},
    {NULL, NULL, NULL, 0},
};
