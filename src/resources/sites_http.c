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

#define NO_SUCH_SITE "No such site."

static const char *const site_read_only[] = {"id", "archived_at", "version", "created_at", NULL};

/* POST and PATCH bodies (FIELD_REQUIRED applies to POST only). */
static const field_spec site_fields[] = {
    {"slug", FIELD_SLUG, FIELD_REQUIRED, 2, 64, NULL},
    {"name", FIELD_STRING, FIELD_REQUIRED, 1, 200, NULL},
    {"organisation", FIELD_STRING, FIELD_REQUIRED, 1, 200, NULL},
    {"region", FIELD_STRING, FIELD_NULLABLE, 1, 100, NULL},
    {"timezone", FIELD_STRING, 0, 1, 64, NULL},
    FIELDS_READ_ONLY(site_read_only),
    {NULL, 0, 0, 0, 0, NULL},
};

/* A timezone must be one PostgreSQL can convert to, or summaries would fail later. */
static fn_status check_timezone(fn_req *req, db_conn *db) {
  const char *tz = body_string(req->body, "timezone");
  int known = 1;
  fn_status st = tz ? sites_db_timezone_known(db, tz, &known) : FN_OK;
  if (st == FN_OK && !known)
    st = req_invalid_field(req, "timezone", "is not a known IANA time zone name");
  return st;
}

static fn_status sites_http_list(fn_req *req) {
  page_request page;
  PGresult *res = NULL;
  db_conn *db;
  fn_status st;
  const char *archived = req_query(req, "include_archived");
  json_t *errors = NULL;
  if (archived && strcmp(archived, "true") != 0 && strcmp(archived, "false") != 0)
    field_errors_add(&errors, "include_archived", "must be true or false");
  if ((st = page_open(req, &page, errors, &db)) != FN_OK)
    return st;
  st = sites_db_list(db, req->caller.id, archived && strcmp(archived, "true") == 0, &page, &res);
  return page_reply_result(req, st, res, &page);
}

/* sites_db_get as an item_reader (it keeps the json and version pair for summaries_http.c). */
static fn_status read_site(db_conn *db, const char *caller_id, const char *site_id, db_representation *out) {
  return sites_db_get(db, caller_id, site_id, &out->json, &out->version);
}

static fn_status sites_http_get(fn_req *req) { return req_reply_item(req, "site_id", NO_SUCH_SITE, read_site); }

static fn_status sites_http_create(fn_req *req) {
  member_caller caller;
  char id[UUID_TEXT_SIZE], location[80];
  db_representation rep = {NULL, 0};
  db_conn *db;
  fn_status st;
  if ((st = req_validate_body(req, site_fields, BODY_CREATE)) != FN_OK || (st = req_db(req, &db)) != FN_OK)
    return st;
  if ((st = members_db_begin_as_caller(db, req->caller.id, &caller)) != FN_OK)
    return st;
  if ((st = sites_can_create(&caller)) != FN_OK)
    return req_problem(req, st, "Only an admin may create sites.");
  if ((st = check_timezone(req, db)) != FN_OK)
    return st;
  if ((st = sites_db_insert(db, req->body, &rep, id)) != FN_OK ||
      (st = req_audit(req, "site.created", "site", id, NULL)) != FN_OK) {
    free(rep.json);
    return req_problem(req, st, st == FN_CONFLICT ? "A site with this slug exists." : NULL);
  }
  snprintf(location, sizeof location, "/v1/sites/%s", id);
  return req_commit_reply(req, 201, rep.json, rep.version, location);
}

/* The checks of a PATCH that need the locked row; detail names the broken rule. */
static fn_status check_update(fn_req *req, db_conn *db, const char *id) {
  member_caller caller;
  site_row site;
  int manages = 0;
  const char *detail = NULL;
  fn_status st;
  if ((st = members_db_begin_as_caller(db, req->caller.id, &caller)) != FN_OK)
    return st;
  if ((st = sites_db_lock(db, id, &site)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_SITE : NULL);
  if ((st = sites_db_is_manager(db, id, caller.id, &manages)) != FN_OK ||
      (st = sites_can_update(&caller, manages, req->body, &detail)) != FN_OK ||
      (st = req_if_match(req, site.version)) != FN_OK)
    return req_problem(req, st, detail);
  if (site.archived)
    return req_problem(req, FN_CONFLICT, "The site is archived.");
  return check_timezone(req, db);
}

static fn_status sites_http_update(fn_req *req) {
  const char *id;
  db_representation rep = {NULL, 0};
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "site_id", NO_SUCH_SITE, &id)) != FN_OK ||
      (st = req_validate_body(req, site_fields, BODY_UPDATE)) != FN_OK || (st = req_db(req, &db)) != FN_OK ||
      (st = check_update(req, db, id)) != FN_OK)
    return st;
  if (json_object_size(req->body) == 0) /* nothing to change: no new version */
    st = read_site(db, req->caller.id, id, &rep);
  else if ((st = sites_db_update(db, id, req->body, &rep)) == FN_OK)
    st = req_audit(req, "site.updated", "site", id, req->body);
  if (st != FN_OK) {
    free(rep.json);
    return req_problem(req, st,
                       st == FN_CONFLICT    ? "A site with this slug exists."
                       : st == FN_NOT_FOUND ? NO_SUCH_SITE
                                            : NULL);
  }
  return req_commit_reply(req, 200, rep.json, rep.version, NULL);
}

static fn_status sites_http_archive(fn_req *req) {
  const char *id;
  member_caller caller;
  site_row site;
  int open_groups = 0;
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "site_id", NO_SUCH_SITE, &id)) != FN_OK || (st = req_db(req, &db)) != FN_OK ||
      (st = members_db_begin_as_caller(db, req->caller.id, &caller)) != FN_OK)
    return st;
  if ((st = sites_can_archive(&caller)) != FN_OK)
    return req_problem(req, st, "Only an admin may archive sites.");
  if ((st = sites_db_lock(db, id, &site)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_SITE : NULL);
  if ((st = groups_db_site_has_open_groups(db, id, &open_groups)) != FN_OK)
    return st;
  if (open_groups && !site.archived)
    return req_problem(req, FN_CONFLICT, "The site has groups that are not closed; close them first.");
  if (!site.archived &&
      ((st = sites_db_archive(db, id)) != FN_OK || (st = req_audit(req, "site.archived", "site", id, NULL)) != FN_OK))
    return st;
  return req_commit_no_content(req);
}

static fn_status sites_http_list_managers(fn_req *req) {
  const char *id;
  page_request page;
  PGresult *res = NULL;
  db_conn *db;
  fn_status st;
  if ((st = page_open_under(req, "site_id", NO_SUCH_SITE, &id, &page, NULL, &db)) != FN_OK)
    return st;
  st = sites_db_list_managers(db, req->caller.id, id, &page, &res);
  if (st == FN_NOT_FOUND)
    req_problem(req, st, NO_SUCH_SITE);
  return page_reply_result(req, st, res, &page);
}

/* PUT and DELETE /v1/sites/{site_id}/managers/{member_id} differ only in the change. */
static fn_status change_manager(fn_req *req, int add) {
  const char *site_id, *member_id;
  member_caller caller;
  site_row site;
  int role_ok = 1, changed = 1;
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "site_id", NULL, &site_id)) != FN_OK ||
      (st = req_path_id(req, "member_id", NULL, &member_id)) != FN_OK || (st = req_db(req, &db)) != FN_OK)
    return st;
  if ((st = members_db_begin_as_caller(db, req->caller.id, &caller)) != FN_OK ||
      (st = sites_can_change_managers(&caller)) != FN_OK || (st = sites_db_lock(db, site_id, &site)) != FN_OK)
    return req_problem(req, st,
                       st == FN_NOT_FOUND   ? NO_SUCH_SITE
                       : st == FN_FORBIDDEN ? "Only an admin may change site managers."
                                            : NULL);
  if (add && site.archived)
    return req_problem(req, FN_CONFLICT, "The site is archived.");
  st = add ? sites_db_add_manager(db, site_id, member_id, &role_ok, &changed)
           : sites_db_remove_manager(db, site_id, member_id);
  if (st != FN_OK)
    return req_problem(req, st, add ? "No such member." : "This member is not a manager of this site.");
  if (!role_ok)
    return req_problem(req, FN_CONFLICT, "Only a member with the manager role can manage a site.");
  if (changed) {
    json_t *details = json_pack("{s:s}", "member_id", member_id);
    st = req_audit(req, add ? "site.manager_added" : "site.manager_removed", "site", site_id, details);
    json_decref(details);
  }
  return st != FN_OK ? st : req_commit_no_content(req);
}

static fn_status sites_http_add_manager(fn_req *req) { return change_manager(req, 1); }
static fn_status sites_http_remove_manager(fn_req *req) { return change_manager(req, 0); }

const fn_route sites_routes[] = {
    ROUTES_COLLECTION("/v1/sites", "{site_id}", sites, 0),
    {"DELETE", "/v1/sites/{site_id}", sites_http_archive, 0},
    {"GET", "/v1/sites/{site_id}/managers", sites_http_list_managers, 0},
    {"PUT", "/v1/sites/{site_id}/managers/{member_id}", sites_http_add_manager, 0},
    {"DELETE", "/v1/sites/{site_id}/managers/{member_id}", sites_http_remove_manager, 0},
    {NULL, NULL, NULL, 0},
};
