/* Every SQL statement about sites and their managers, and who may change them. */
#include "forumnet/sites_db.h"

#include <stdio.h>
#include <stdlib.h>

#include "forumnet/body.h"

// clang-format off
#define SITE_FIELDS_SQL(F, SEP)                                                                                        \
  F("id", "s.id") SEP                                                                                                  \
  F("slug", "s.slug") SEP                                                                                              \
  F("name", "s.name") SEP                                                                                              \
  F("organisation", "s.organisation") SEP                                                                              \
  F("region", "s.region") SEP                                                                                          \
  F("timezone", "s.timezone") SEP                                                                                      \
  F("archived_at", "rfc3339(s.archived_at)") SEP                                                                       \
  F("version", "s.version") SEP                                                                                        \
  F("created_at", "rfc3339(s.created_at)")
// clang-format on
#define SITE_JSON_SQL DB_JSON_OBJECT(SITE_FIELDS_SQL)
#define SITE_COLUMNS_SQL DB_COLUMNS(SITE_FIELDS_SQL)

/* A caller row is always returned when the caller is active, so "no row" means 401
 * and a NULL site means 404, in one round trip. */
static const db_stmt get_site = {"sites_get", "SELECT s.id IS NOT NULL, " SITE_JSON_SQL ", s.version"
                                              " FROM members c LEFT JOIN sites s ON s.id = $2"
                                              " WHERE c.id = $1 AND c.status = 'active'"};

fn_status sites_db_get(db_conn *db, const char *caller_id, const char *site_id, char **json, long *version) {
  fn_status st;
  PGresult *res = db_exec_found(db, &get_site, DB_ARGS(caller_id, site_id), FN_UNAUTHENTICATED, &st);
  return res != NULL ? db_take_representation(res, 1, json, version) : st;
}

/* The first column tells an active caller with no sites to show from an inactive caller. */
static const db_stmt list_sites = {"sites_list",
                                   "SELECT cursor_key(s.created_at, s.id), " SITE_COLUMNS_SQL " FROM sites s"
                                   " WHERE EXISTS (SELECT 1 FROM members c WHERE c.id = $1 AND c.status = 'active')"
                                   "   AND (s.created_at, s.id) > ($2::timestamptz, $3::uuid)"
                                   "   AND ($4::bool OR s.archived_at IS NULL)"
                                   " ORDER BY s.created_at, s.id LIMIT $5"};

fn_status sites_db_list(db_conn *db, const char *caller_id, int include_archived, const page_request *page,
                        PGresult **result) {
  return db_query_rows(
      db, &list_sites,
      DB_ARGS(caller_id, page->after_ts, page->after_id, include_archived ? "true" : "false", page->limit_plus_one),
      result);
}

static const db_stmt timezone_known = {"sites_timezone_known",
                                       "SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)"};

fn_status sites_db_timezone_known(db_conn *db, const char *timezone, int *ok) {
  return db_query_bool(db, &timezone_known, DB_ARGS(timezone), ok);
}

static const db_stmt site_is_open = {"sites_is_open",
                                     "SELECT EXISTS (SELECT 1 FROM sites WHERE id = $1 AND archived_at IS NULL)"};

fn_status sites_db_is_open(db_conn *db, const char *site_id, int *ok) {
  return db_query_bool(db, &site_is_open, DB_ARGS(site_id), ok);
}

/* manages_site() (sql/008) asks for the manager role too: a row that outlived a demotion grants nothing. */
static const db_stmt is_manager = {"sites_is_manager", "SELECT manages_site($2, $1)"};

fn_status sites_db_is_manager(db_conn *db, const char *site_id, const char *member_id, int *is) {
  return db_query_bool(db, &is_manager, DB_ARGS(site_id, member_id), is);
}

static const db_stmt insert_site = {"sites_insert",
                                    "INSERT INTO sites AS s (slug, name, organisation, region, timezone)"
                                    " VALUES ($1, $2, $3, $4, coalesce($5, 'Europe/London'))"
                                    " RETURNING " SITE_JSON_SQL ", s.version, s.id"};

fn_status sites_db_insert(db_conn *db, const json_t *body, db_representation *out, char id_out[UUID_TEXT_SIZE]) {
  return db_insert_representation(db, &insert_site,
                                  DB_ARGS(body_string(body, "slug"), body_string(body, "name"),
                                          body_string(body, "organisation"), body_string(body, "region"),
                                          body_string(body, "timezone")),
                                  &out->json, &out->version, id_out);
}

static const db_stmt lock_site = {"sites_lock",
                                  "SELECT version, archived_at IS NOT NULL FROM sites WHERE id = $1 FOR UPDATE"};

static const db_column site_columns[] = {
    DB_COL_LONG(site_row, version),
    DB_COL_BOOL(site_row, archived),
    DB_COLUMNS_END,
};

fn_status sites_db_lock(db_conn *db, const char *site_id, site_row *out) {
  snprintf(out->id, sizeof out->id, "%s", site_id);
  return db_query_row(db, &lock_site, DB_ARGS(site_id), FN_NOT_FOUND, site_columns, out);
}

/* (present, value) pairs: a field absent from the PATCH body keeps its value. */
static const db_stmt update_site = {"sites_update",
                                    "UPDATE sites AS s SET"
                                    " slug = CASE WHEN $2::bool THEN $3 ELSE s.slug END,"
                                    " name = CASE WHEN $4::bool THEN $5 ELSE s.name END,"
                                    " organisation = CASE WHEN $6::bool THEN $7 ELSE s.organisation END,"
                                    " region = CASE WHEN $8::bool THEN $9 ELSE s.region END,"
                                    " timezone = CASE WHEN $10::bool THEN $11 ELSE s.timezone END,"
                                    " version = s.version + 1"
                                    " WHERE s.id = $1 RETURNING " SITE_JSON_SQL ", s.version"};

fn_status sites_db_update(db_conn *db, const char *site_id, const json_t *body, db_representation *out) {
  return db_get_representation(db, &update_site,
                               DB_ARGS(site_id, db_param_present(body, "slug"), body_string(body, "slug"),
                                       db_param_present(body, "name"), body_string(body, "name"),
                                       db_param_present(body, "organisation"), body_string(body, "organisation"),
                                       db_param_present(body, "region"), body_string(body, "region"),
                                       db_param_present(body, "timezone"), body_string(body, "timezone")),
                               &out->json, &out->version);
}

static const db_stmt archive_site = {"sites_archive",
                                     "UPDATE sites SET archived_at = clock_timestamp(), version = version + 1"
                                     " WHERE id = $1 AND archived_at IS NULL"};

fn_status sites_db_archive(db_conn *db, const char *site_id) { return db_exec_on(db, &archive_site, site_id); }

/* No row: the caller is no longer active; false: there is no such site. */
static const db_stmt site_exists = {"sites_exists",
                                    "SELECT s.id IS NOT NULL FROM members c LEFT JOIN sites s ON s.id = $2"
                                    " WHERE c.id = $1 AND c.status = 'active'"};

/* Keyset pages in (since, member_id) order, like every other list. Only members who hold the
 * manager role are listed, as manages_site() counts them. */
static const db_stmt list_managers = {
    "sites_list_managers",
    "SELECT cursor_key(sm.created_at, sm.member_id), m.id AS member_id, m.display_name,"
    " rfc3339(sm.created_at) AS since"
    " FROM site_managers sm JOIN members m ON m.id = sm.member_id"
    " WHERE sm.site_id = $1 AND m.role = 'manager'" DB_PAGE_AFTER("sm.created_at", "sm.member_id")};

fn_status sites_db_list_managers(db_conn *db, const char *caller_id, const char *site_id, const page_request *page,
                                 PGresult **result) {
  fn_status st;
  const char *check[] = {caller_id, site_id};
  PQclear(db_exec_found(db, &site_exists, 2, check, FN_UNAUTHENTICATED, &st));
  *result = NULL;
  if (st != FN_OK)
    return st;
  return db_query_page(db, &list_managers, site_id, page, result);
}

static const db_stmt add_manager = {
    "sites_add_manager", "WITH target AS (SELECT id, role FROM members WHERE id = $2),"
                         " added AS (INSERT INTO site_managers (site_id, member_id)"
                         "   SELECT $1, id FROM target WHERE role = 'manager' ON CONFLICT DO NOTHING RETURNING 1)"
                         " SELECT role = 'manager', EXISTS (SELECT 1 FROM added) FROM target"};

fn_status sites_db_add_manager(db_conn *db, const char *site_id, const char *member_id, int *role_ok, int *added) {
  fn_status st;
  PGresult *res = db_exec_row(db, &add_manager, DB_ARGS(site_id, member_id), FN_NOT_FOUND, &st);
  if (res == NULL)
    return st;
  *role_ok = db_value_bool(res, 0, 0);
  *added = db_value_bool(res, 0, 1);
  PQclear(res);
  return FN_OK;
}

static const db_stmt remove_manager = {"sites_remove_manager",
                                       "DELETE FROM site_managers WHERE site_id = $1 AND member_id = $2 RETURNING 1"};

fn_status sites_db_remove_manager(db_conn *db, const char *site_id, const char *member_id) {
  fn_status st;
  PQclear(db_exec_row(db, &remove_manager, DB_ARGS(site_id, member_id), FN_NOT_FOUND, &st));
  return st;
}

static const db_stmt check_named = {
    "sites_check_named", "SELECT s.id IS NOT NULL AND s.archived_at IS NULL,"
                         " EXISTS (SELECT 1 FROM site_managers sm WHERE sm.site_id = s.id AND sm.member_id = $2)"
                         " FROM json_array_elements_text($1::json) WITH ORDINALITY AS x(id, n)"
                         " LEFT JOIN sites s ON s.id = x.id::uuid ORDER BY x.n"};

PGresult *sites_db_check_named(db_conn *db, const json_t *ids, const char *member_id, fn_status *st) {
  char *text = json_dumps(ids, JSON_COMPACT);
  PGresult *res = db_exec(db, &check_named, DB_ARGS(text, member_id), st);
  free(text);
  return res;
}

static const db_stmt end_management = {
    "sites_end_management", "WITH ended AS (DELETE FROM site_managers WHERE member_id = $1 RETURNING site_id)"
                            " SELECT coalesce(json_agg(site_id ORDER BY site_id), '[]'::json) FROM ended"};

fn_status sites_db_end_management(db_conn *db, const char *member_id, json_t **site_ids) {
  fn_status st = db_query_json(db, &end_management, DB_ARGS(member_id), site_ids);
  return st != FN_OK || *site_ids != NULL ? st : FN_INTERNAL;
}

fn_status sites_can_create(const member_caller *caller) { return caller->role == ROLE_ADMIN ? FN_OK : FN_FORBIDDEN; }

fn_status sites_can_update(const member_caller *caller, int caller_manages, const json_t *changes,
                           const char **detail) {
  if (caller->role == ROLE_ADMIN)
    return FN_OK;
  if (caller->role != ROLE_MANAGER || !caller_manages) {
    *detail = "Only an admin or a manager of this site may change it.";
    return FN_FORBIDDEN;
  }
  if (json_object_get(changes, "slug") != NULL) {
    *detail = "Only an admin may change a site's slug.";
    return FN_FORBIDDEN;
  }
  return FN_OK;
}

fn_status sites_can_archive(const member_caller *caller) { return caller->role == ROLE_ADMIN ? FN_OK : FN_FORBIDDEN; }

fn_status sites_can_change_managers(const member_caller *caller) {
  return caller->role == ROLE_ADMIN ? FN_OK : FN_FORBIDDEN;
}
