#ifndef FORUMNET_MEMBERS_DB_H
#define FORUMNET_MEMBERS_DB_H

#include <jansson.h>

#include "forumnet/caller.h"
#include "forumnet/db.h"
#include "forumnet/page.h"

/* The calling member as the database knows them now (not as the token said). */
typedef struct member_caller {
  char id[UUID_TEXT_SIZE];
  member_role role;
  char home_site_id[UUID_TEXT_SIZE]; /* "" when none */
} member_caller;

/* A member row locked for update, with what the caller may need to decide on it. */
typedef struct member_row {
  char id[UUID_TEXT_SIZE];
  member_role role;
  char status[16];
  char home_site_id[UUID_TEXT_SIZE];
  long version;
  int caller_manages_home_site; /* the caller is a manager listed for the member's home site */
} member_row;

/* Fields of a member change; a NULL pointer means "leave as is". */
typedef struct member_changes {
  const char *email, *display_name, *role, *home_site_id, *status;
  int set_discipline;
  const char *discipline; /* NULL with set_discipline clears it */
} member_changes;

/* The change a (validated) request body asks for; the strings are borrowed from body. */
member_changes members_changes_from_body(const json_t *body);

/* Loads an active caller. FN_UNAUTHENTICATED when the member is gone, suspended or erased. */
fn_status members_db_load_caller(db_conn *db, const char *member_id, member_caller *out);

/* Begins the request's transaction and loads the caller inside it. */
fn_status members_db_begin_as_caller(db_conn *db, const char *caller_id, member_caller *out);

/* GET /v1/members/{id} in one round trip: the caller's state and the member if visible.
 * out->json is a new string (caller frees) with the Member representation. */
fn_status members_db_get_visible(db_conn *db, const char *caller_id, const char *member_id, db_representation *out);

/* The caller's own representation plus must_change_password. out->json: caller frees. */
fn_status members_db_get_self(db_conn *db, const char *member_id, db_representation *out);

/* One page of members visible to the caller (admin: all; manager: their sites' members).
 * Filters may be NULL. *result: caller PQclear()s; columns (json, cursor_key). */
fn_status members_db_list(db_conn *db, const char *caller_id, const char *site_id, const char *role, const char *q,
                          const page_request *page, PGresult **result);

/* Inside a transaction. */
fn_status members_db_insert(db_conn *db, const json_t *body, const char *password_hash, db_representation *out,
                            char id_out[UUID_TEXT_SIZE]);
fn_status members_db_lock(db_conn *db, const char *member_id, const char *caller_id, member_row *out);
fn_status members_db_update(db_conn *db, const char *member_id, const member_changes *changes, db_representation *out);
/* Demoting, suspending or erasing the last active admin would lock everyone out of administration:
 * FN_CONFLICT with *detail when the change c would take target, that admin, away. Active admins are
 * counted under a lock that serializes demotions. */
fn_status members_db_check_last_admin(db_conn *db, const member_row *target, const member_changes *c,
                                      const char **detail);
/* 1 in *within if email (case-insensitive) belongs to a member whose home site the caller manages. */
fn_status members_db_email_within_callers_sites(db_conn *db, const char *caller_id, const char *email, int *within);
fn_status members_db_password_hash(db_conn *db, const char *member_id, char *hash, size_t hash_len);
fn_status members_db_set_password(db_conn *db, const char *member_id, const char *hash);

/* Everything stored about a member (subject access request), as JSON text. Never password
 * hashes or token digests. *json: caller frees. */
fn_status members_db_export(db_conn *db, const char *member_id, char **json);

/* Erases a member inside the caller's transaction: personal fields wiped (display name becomes
 * "former member"), no password, sessions revoked, site management and group memberships ended
 * (the groups they left are returned as a JSON array in *group_ids, caller frees, for
 * groups_db_recompute), status erased. Contributions (attendance, responses, past registrations, audit)
 * stay, now attributed to "former member". FN_NOT_FOUND if no such member. */
fn_status members_db_erase(db_conn *db, const char *member_id, char **group_ids);

/* Authorization rules for members (API.md section 4), in one place. */
int members_can_view(const member_caller *caller, const member_row *target);
/* FN_OK, FN_NOT_FOUND (cannot see the member) or FN_FORBIDDEN (may see, may not make this change). */
fn_status members_can_update(const member_caller *caller, const member_row *target, const member_changes *changes,
                             int caller_manages_new_site, const char **detail);
/* May the caller create a member with this role at this site? */
fn_status members_can_create(const member_caller *caller, member_role role, int caller_manages_site,
                             const char **detail);

/* SQL fragment shared by the statements in members_db.c: the Member representation of `m`. */
// clang-format off
#define MEMBER_FIELDS_SQL(F, SEP)                                                                                      \
  F("id", "m.id") SEP                                                                                                  \
  F("email", "m.email") SEP                                                                                            \
  F("display_name", "m.display_name") SEP                                                                              \
  F("role", "m.role") SEP                                                                                              \
  F("discipline", "m.discipline") SEP                                                                                  \
  F("home_site_id", "m.home_site_id") SEP                                                                              \
  F("status", "m.status") SEP                                                                                          \
  F("version", "m.version") SEP                                                                                        \
  F("created_at", "rfc3339(m.created_at)")
// clang-format on
#define MEMBER_JSON_SQL DB_JSON_OBJECT(MEMBER_FIELDS_SQL)
#define MEMBER_COLUMNS_SQL DB_COLUMNS(MEMBER_FIELDS_SQL)

#endif
