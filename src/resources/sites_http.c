/* /v1/sites: the network's sites and their managers (API.md section 4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/audit_db.h"
#include "forumnet/body.h"
#include "forumnet/groups_db.h"
#include "forumnet/http.h"
#include "forumnet/pagination.h"
#include "forumnet/routes.h"
#include "forumnet/sites_db.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

#define SITE_READ_ONLY_FIELDS                                                                                          \
  {"id", FIELD_READ_ONLY, 0, 0, 0, NULL}, {"archived_at", FIELD_READ_ONLY, 0, 0, 0, NULL},                             \
      {"version", FIELD_READ_ONLY, 0, 0, 0, NULL}, {                                                                   \
    "created_at", FIELD_READ_ONLY, 0, 0, 0, NULL                                                                       \
  }

static const field_spec site_create_fields[] = {
    {"slug", FIELD_SLUG, FIELD_REQUIRED, 2, 64, NULL},
    {"name", FIELD_STRING, FIELD_REQUIRED, 1, 200, NULL},
    {"organisation", FIELD_STRING, FIELD_REQUIRED, 1, 200, NULL},
    {"region", FIELD_STRING, FIELD_NULLABLE, 1, 100, NULL},
    {"timezone", FIELD_STRING, 0, 1, 64, NULL},
    SITE_READ_ONLY_FIELDS,
    {NULL, 0, 0, 0, 0, NULL},
};

static const field_spec site_update_fields[] = {
    {"slug", FIELD_SLUG, 0, 2, 64, NULL},
    {"name", FIELD_STRING, 0, 1, 200, NULL},
    {"organisation", FIELD_STRING, 0, 1, 200, NULL},
    {"region", FIELD_STRING, FIELD_NULLABLE, 1, 100, NULL},
    {"timezone", FIELD_STRING, 0, 1, 64, NULL},
    SITE_READ_ONLY_FIELDS,
    {NULL, 0, 0, 0, 0, NULL},
};

/* Replies with a site representation, its ETag and, for 201, its Location. */
static void reply_site(fn_req *req, int http_status, const char *id, char *json, long version) {
  reply_etag(req, version);
  if (http_status == 201) {
    char location[80];
    snprintf(location, sizeof location, "/v1/sites/%s", id);
    reply_header(req, "Location", location);
  }
  reply_json_text(req, http_status, json, strlen(json));
  free(json);
}

/* A timezone must be one PostgreSQL can convert to, or summaries would fail later. Replies
 * itself whenever it returns anything but FN_OK (400, or the database's failure, e.g. 503). */
static fn_status check_timezone(fn_req *req, db_conn *db) {
  const char *tz = body_string(req->body, "timezone");
  int known = 1;
  fn_status st = tz ? sites_db_timezone_known(db, tz, &known) : FN_OK;
  if (st != FN_OK) {
    req_fail(req, st, NULL);
    return st;
  }
  if (!known) {
    json_t *errors = NULL;
    field_errors_add(&errors, "timezone", "is not a known IANA time zone name");
    db_rollback(db);
    reply_invalid(req, errors);
    return FN_INVALID;
  }
  return FN_OK;
}

static fn_status sites_http_list(fn_req *req) {
  page_request page;
  PGresult *res = NULL;
  if (page_from_request(req, &page) != FN_OK)
    return FN_OK;
  const char *archived = req_query(req, "include_archived");
  if (archived && strcmp(archived, "true") != 0 && strcmp(archived, "false") != 0) {
    json_t *errors = NULL;
    field_errors_add(&errors, "include_archived", "must be true or false");
    reply_invalid(req, errors);
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  fn_status st = sites_db_list(db, req->caller.id, archived && strcmp(archived, "true") == 0, &page, &res);
  return page_reply_result(req, st, res, &page);
}

static fn_status sites_http_get(fn_req *req) {
  const char *id = req_param(req, "site_id");
  char *json = NULL;
  long version = 0;
  if (!req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, "No such site.");
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  fn_status st = sites_db_get(db, req->caller.id, id, &json, &version);
  if (st != FN_OK) {
    req_fail(req, st, st == FN_NOT_FOUND ? "No such site." : NULL);
    return FN_OK;
  }
  if (req_if_none_match(req, version)) {
    reply_etag(req, version);
    reply_empty(req, 304);
    free(json);
    return FN_OK;
  }
  reply_site(req, 200, id, json, version);
  return FN_OK;
}

static fn_status sites_http_create(fn_req *req) {
  member_caller caller;
  char *json = NULL, id[37];
  long version = 0;
  fn_status st;
  if (req_validate_body_or_reply(req, site_create_fields) != FN_OK)
    return FN_OK;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = members_db_begin_as_caller(db, req->caller.id, &caller)) != FN_OK ||
      (st = sites_can_create(&caller)) != FN_OK)
    goto fail;
  if (check_timezone(req, db) != FN_OK)
    return FN_OK;
  if ((st = sites_db_insert(db, req->body, &json, &version, id)) != FN_OK ||
      (st = req_audit(req, "site.created", "site", id, NULL)) != FN_OK || (st = db_commit(db)) != FN_OK)
    goto fail;
  reply_site(req, 201, id, json, version);
  return FN_OK;
fail:
  free(json);
  req_fail(req, st,
           st == FN_CONFLICT    ? "A site with this slug exists."
           : st == FN_FORBIDDEN ? "Only an admin may create sites."
                                : NULL);
  return FN_OK;
}

static fn_status sites_http_update(fn_req *req) {
  const char *id = req_param(req, "site_id"), *detail = NULL;
  member_caller caller;
  site_row site;
  char *json = NULL;
  long version = 0;
  int manages = 0;
  fn_status st;
  if (!req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, "No such site.");
    return FN_OK;
  }
  if (req_validate_body_or_reply(req, site_update_fields) != FN_OK)
    return FN_OK;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = members_db_begin_as_caller(db, req->caller.id, &caller)) != FN_OK ||
      (st = sites_db_lock(db, id, &site)) != FN_OK ||
      (st = sites_db_is_manager(db, id, caller.id, &manages)) != FN_OK ||
      (st = sites_can_update(&caller, manages, req->body, &detail)) != FN_OK ||
      (st = req_if_match(req, site.version)) != FN_OK)
    goto fail;
  if (site.archived) {
    st = FN_CONFLICT;
    detail = "The site is archived.";
    goto fail;
  }
  if (check_timezone(req, db) != FN_OK)
    return FN_OK;
  if (json_object_size(req->body) == 0) { /* nothing to change: no new version */
    if ((st = sites_db_get(db, caller.id, id, &json, &version)) != FN_OK || (st = db_commit(db)) != FN_OK)
      goto fail;
    reply_site(req, 200, id, json, version);
    return FN_OK;
  }
  if ((st = sites_db_update(db, id, req->body, &json, &version)) != FN_OK ||
      (st = req_audit(req, "site.updated", "site", id, req->body)) != FN_OK || (st = db_commit(db)) != FN_OK)
    goto fail;
  reply_site(req, 200, id, json, version);
  return FN_OK;
fail:
  free(json);
  if (st == FN_CONFLICT && detail == NULL)
    detail = "A site with this slug exists.";
  if (st == FN_NOT_FOUND)
    detail = "No such site.";
  req_fail(req, st, detail);
  return FN_OK;
}

static fn_status sites_http_archive(fn_req *req) {
  const char *id = req_param(req, "site_id");
  member_caller caller;
  site_row site;
  fn_status st;
  if (!req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, "No such site.");
    return FN_OK;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  int open_groups = 0;
  if ((st = members_db_begin_as_caller(db, req->caller.id, &caller)) != FN_OK ||
      (st = sites_can_archive(&caller)) != FN_OK || (st = sites_db_lock(db, id, &site)) != FN_OK ||
      (st = groups_db_site_has_open_groups(db, id, &open_groups)) != FN_OK)
    goto fail;
  if (open_groups && !site.archived) {
    req_fail(req, FN_CONFLICT, "The site has groups that are not closed; close them first.");
    return FN_OK;
  }
  if (!site.archived &&
      ((st = sites_db_archive(db, id)) != FN_OK || (st = req_audit(req, "site.archived", "site", id, NULL)) != FN_OK))
    goto fail;
  if ((st = db_commit(db)) != FN_OK)
    goto fail;
  reply_empty(req, 204);
  return FN_OK;
fail:
  req_fail(req, st,
           st == FN_NOT_FOUND   ? "No such site."
           : st == FN_FORBIDDEN ? "Only an admin may archive sites."
                                : NULL);
  return FN_OK;
}

static fn_status sites_http_list_managers(fn_req *req) {
  const char *id = req_param(req, "site_id");
  page_request page;
  PGresult *res = NULL;
  if (!req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, "No such site.");
    return FN_OK;
  }
  if (page_from_request(req, &page) != FN_OK)
    return FN_OK;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  fn_status st = sites_db_list_managers(db, req->caller.id, id, &page, &res);
  if (st != FN_OK)
    req_fail(req, st, st == FN_NOT_FOUND ? "No such site." : NULL);
  else
    page_reply(req, res, 0, 1, &page);
  PQclear(res);
  return FN_OK;
}

/* PUT and DELETE /v1/sites/{site_id}/managers/{member_id} differ only in the change. */
static void change_manager(fn_req *req, int add) {
  const char *site_id = req_param(req, "site_id"), *member_id = req_param(req, "member_id"), *detail = NULL;
  member_caller caller;
  site_row site;
  int role_ok = 1, changed = 1;
  fn_status st;
  if (!req_is_id(site_id) || !req_is_id(member_id)) {
    req_fail(req, FN_NOT_FOUND, NULL);
    return;
  }
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return;
  if ((st = members_db_begin_as_caller(db, req->caller.id, &caller)) != FN_OK ||
      (st = sites_can_change_managers(&caller)) != FN_OK || (st = sites_db_lock(db, site_id, &site)) != FN_OK) {
    detail = st == FN_NOT_FOUND   ? "No such site."
             : st == FN_FORBIDDEN ? "Only an admin may change site managers."
                                  : NULL;
    goto fail;
  }
  if (add && site.archived) {
    st = FN_CONFLICT;
    detail = "The site is archived.";
    goto fail;
  }
  st = add ? sites_db_add_manager(db, site_id, member_id, &role_ok, &changed)
           : sites_db_remove_manager(db, site_id, member_id);
  if (st != FN_OK) {
    detail = add ? "No such member." : "This member is not a manager of this site.";
    goto fail;
  }
  if (!role_ok) {
    st = FN_CONFLICT;
    detail = "Only a member with the manager role can manage a site.";
    goto fail;
  }
  if (changed) {
    json_t *details = json_pack("{s:s}", "member_id", member_id);
    st = req_audit(req, add ? "site.manager_added" : "site.manager_removed", "site", site_id, details);
    json_decref(details);
    if (st != FN_OK)
      goto fail;
  }
  if ((st = db_commit(db)) != FN_OK)
    goto fail;
  reply_empty(req, 204);
  return;
fail:
  req_fail(req, st, detail);
}

static fn_status sites_http_add_manager(fn_req *req) {
  change_manager(req, 1);
  return FN_OK;
}
static fn_status sites_http_remove_manager(fn_req *req) {
  change_manager(req, 0);
  return FN_OK;
}

const fn_route sites_routes[] = {
    {"GET", "/v1/sites", sites_http_list, 0},
    {"POST", "/v1/sites", sites_http_create, ROUTE_JSON_BODY | ROUTE_IDEMPOTENT},
    {"GET", "/v1/sites/{site_id}", sites_http_get, 0},
    {"PATCH", "/v1/sites/{site_id}", sites_http_update, ROUTE_JSON_BODY},
    {"DELETE", "/v1/sites/{site_id}", sites_http_archive, 0},
    {"GET", "/v1/sites/{site_id}/managers", sites_http_list_managers, 0},
    {"PUT", "/v1/sites/{site_id}/managers/{member_id}", sites_http_add_manager, 0},
    {"DELETE", "/v1/sites/{site_id}/managers/{member_id}", sites_http_remove_manager, 0},
    {NULL, NULL, NULL, 0},
};
