#ifndef FORUMNET_GROUPS_DB_H
#define FORUMNET_GROUPS_DB_H

#include <jansson.h>

#include "forumnet/caller.h"
#include "forumnet/db.h"
#include "forumnet/members_db.h"
#include "forumnet/page.h"

/* What a caller is to a group, read in one statement: everything the group rules
 * (groups_can_* below) decide on. */
typedef struct group_access {
  char group_id[UUID_TEXT_SIZE];
  char site_id[UUID_TEXT_SIZE]; /* "" for a network-wide group */
  char status[16];              /* forming | active | dormant | closed */
  long version;
  int member_count, min_members, max_members, terms_version;
  char caller_id[UUID_TEXT_SIZE];
  member_role caller_role; /* network role */
  int caller_home_site;    /* the group's site is the caller's home site */
  int caller_manages_site; /* the caller is a manager listed for the group's site */
  char my_state[16];       /* the caller's membership state, "" if none */
  char my_role[16];        /* the caller's membership role, "" if none */
} group_access;

/* Loads the access of caller_id to group_id; with lock, the group row is locked FOR UPDATE
 * so that membership counts stay true until commit (use inside a transaction).
 * FN_UNAUTHENTICATED: caller no longer active; FN_NOT_FOUND: no such group. */
fn_status groups_db_access(db_conn *db, const char *group_id, const char *caller_id, int lock, group_access *out);
/* How every change to a group or what belongs to it starts: begins the transaction, then
 * groups_db_access with the group row locked. */
fn_status groups_db_lock_access(db_conn *db, const char *group_id, const char *caller_id, group_access *out);

/* What the transaction calling groups_db_recompute changed, for the group's version (its
 * ETag). A change raises the version exactly once; a derivation that changes nothing writes nothing. */
typedef enum group_change {
  GROUP_CHANGE_DERIVED,       /* nothing in the Group itself: raised only if member_count or status change */
  GROUP_CHANGE_MEMBERSHIP,    /* a member's my_membership (state, role, or its existence): raised once */
  GROUP_CHANGE_VERSION_RAISED /* the transaction already raised it (PATCH, new terms): never again */
} group_change;

/* Recomputes member_count and, for forming/active groups, status (the rule in
 * API.md section 5 / README): call it after every change to the group's memberships or
 * terms, so the group's ETag (which covers my_membership) changes with them, and only then. */
fn_status groups_db_recompute(db_conn *db, const char *group_id, group_change change);

/* The Group representation for the caller (my_membership included). out->json: caller frees. */
fn_status groups_db_get(db_conn *db, const char *group_id, const char *caller_id, db_representation *out);
fn_status groups_db_list(db_conn *db, const char *caller_id, const char *site_id, const char *status, int mine,
                         const page_request *page, PGresult **result);
fn_status groups_db_insert(db_conn *db, const json_t *body, const char *creator_id, char id_out[UUID_TEXT_SIZE]);
fn_status groups_db_update(db_conn *db, const char *group_id, const json_t *body);
fn_status groups_db_close(db_conn *db, const char *group_id);
/* 1 in *open if the site has a group that is not closed (sites cannot be archived then). */
fn_status groups_db_site_has_open_groups(db_conn *db, const char *site_id, int *open);

/* Group rules (API.md sections 2 and 5), in one place. */
int groups_can_view(const group_access *a);
int groups_is_active_member(const group_access *a);
int groups_is_leader(const group_access *a); /* active convener or facilitator */
/* FN_OK; FN_NOT_FOUND when the caller may not know the group; FN_FORBIDDEN otherwise. */
fn_status groups_require_view(const group_access *a);
fn_status groups_require_inner(const group_access *a); /* members list, meetings, notes */
fn_status groups_require_leader(const group_access *a);
fn_status groups_require_open(const group_access *a, const char **detail); /* FN_CONFLICT once closed */
/* May this member (network role, home site, manages site) belong to the group? */
int groups_member_eligible(const group_access *a, member_role role, int home_site, int manages_site);
/* May the caller create a group at site_id (NULL: network-wide)? */
fn_status groups_can_create(const member_caller *caller, const char *site_id, int manages_site, const char **detail);
fn_status groups_can_close(const group_access *a);

#endif
