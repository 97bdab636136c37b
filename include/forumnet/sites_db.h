#ifndef FORUMNET_SITES_DB_H
#define FORUMNET_SITES_DB_H

#include <jansson.h>

#include "forumnet/caller.h"
#include "forumnet/db.h"
#include "forumnet/members_db.h"
#include "forumnet/page.h"

/* A site row locked for update. */
typedef struct site_row {
  char id[UUID_TEXT_SIZE];
  long version;
  int archived;
} site_row;

/* GET /v1/sites/{id} in one round trip; FN_UNAUTHENTICATED if the caller is no longer
 * active, FN_NOT_FOUND if there is no such site. *json: caller frees. */
fn_status sites_db_get(db_conn *db, const char *caller_id, const char *site_id, char **json, long *version);

/* One page of sites; columns (json, cursor_key). FN_UNAUTHENTICATED as above. */
fn_status sites_db_list(db_conn *db, const char *caller_id, int include_archived, const page_request *page,
                        PGresult **result);

/* 1 in *ok if timezone is a name PostgreSQL knows. */
fn_status sites_db_timezone_known(db_conn *db, const char *timezone, int *ok);

/* 1 in *ok if the site exists and is not archived. */
fn_status sites_db_is_open(db_conn *db, const char *site_id, int *ok);

/* 1 in *is if member_id manages site_id: listed for it and holding the manager role (manages_site()). */
fn_status sites_db_is_manager(db_conn *db, const char *site_id, const char *member_id, int *is);

/* Inside a transaction. */
fn_status sites_db_insert(db_conn *db, const json_t *body, db_representation *out, char id_out[UUID_TEXT_SIZE]);
fn_status sites_db_lock(db_conn *db, const char *site_id, site_row *out);
fn_status sites_db_update(db_conn *db, const char *site_id, const json_t *body, db_representation *out);
fn_status sites_db_archive(db_conn *db, const char *site_id);

/* One page of a site's managers; columns (json {member_id, display_name, since}, cursor_key).
 * FN_UNAUTHENTICATED if the caller is no longer active, FN_NOT_FOUND if there is no such site. */
fn_status sites_db_list_managers(db_conn *db, const char *caller_id, const char *site_id, const page_request *page,
                                 PGresult **result);
/* FN_NOT_FOUND if the member is unknown; *role_ok 0 if they are not a manager. *added 1 if new. */
fn_status sites_db_add_manager(db_conn *db, const char *site_id, const char *member_id, int *role_ok, int *added);
/* Ends every site management of member_id (a demotion); *site_ids: a new JSON array of the
 * sites they managed (caller decrefs). Inside the demotion's transaction. */
/* Checks the site ids a request names (ids, a JSON array): one row per id, in its order, column 0 whether
 * it names an open (not archived) site, column 1 whether member_id (NULL: nobody) manages it. Caller
 * PQclear()s; NULL with *st set when the statement fails. */
PGresult *sites_db_check_named(db_conn *db, const json_t *ids, const char *member_id, fn_status *st);

fn_status sites_db_end_management(db_conn *db, const char *member_id, json_t **site_ids);
/* FN_NOT_FOUND if the member was not a manager of the site. */
fn_status sites_db_remove_manager(db_conn *db, const char *site_id, const char *member_id);

/* Authorization rules for sites (API.md section 4). */
fn_status sites_can_create(const member_caller *caller);
/* caller_manages: the caller is listed as a manager of the site. */
fn_status sites_can_update(const member_caller *caller, int caller_manages, const json_t *changes, const char **detail);
fn_status sites_can_archive(const member_caller *caller);
fn_status sites_can_change_managers(const member_caller *caller);

#endif
