#ifndef FORUMNET_MEMBERSHIPS_DB_H
#define FORUMNET_MEMBERSHIPS_DB_H

#include "forumnet/db.h"
#include "forumnet/groups_db.h"
#include "forumnet/page.h"

/* One membership row, locked for update. */
typedef struct membership_row {
  char state[16];
  char role[16];
  char represents_group_id[UUID_TEXT_SIZE]; /* "" when none */
  long version;
} membership_row;

/* What a group needs to know about a member it might admit. */
typedef struct membership_candidate {
  int active;       /* an active account */
  member_role role; /* network role */
  int home_site;    /* their home site is the group's site */
  int manages_site; /* a manager listed for the group's site */
} membership_candidate;

/* The Membership representation and its version. out->json: caller frees. FN_NOT_FOUND if none. */
fn_status memberships_db_get(db_conn *db, const char *group_id, const char *member_id, db_representation *out);
/* A page of a group's memberships, optionally of one state; columns (json, cursor_key). */
fn_status memberships_db_list(db_conn *db, const char *group_id, const char *state, const page_request *page,
                              PGresult **result);

/* Inside a transaction (the group row already locked by groups_db_access). */
fn_status memberships_db_lock(db_conn *db, const char *group_id, const char *member_id, membership_row *out);
fn_status memberships_db_candidate(db_conn *db, const char *group_id, const char *member_id, membership_candidate *out);
/* 1 in *is if member_id is an active representative of group_id, a site group. */
fn_status memberships_db_represents(db_conn *db, const char *member_id, const char *group_id, int *is);
fn_status memberships_db_insert(db_conn *db, const char *group_id, const char *member_id, const char *state,
                                const char *role, const char *represents_group_id, const char *invited_by);
typedef enum {
  MEMBERSHIP_ACTIVATE,       /* state active, joined now */
  MEMBERSHIP_SET_ROLE,       /* value: the role */
  MEMBERSHIP_SET_REPRESENTS, /* value: the represented group's id, or NULL */
  MEMBERSHIP_DELETE,
} membership_change;
/* One change to the membership (group_id, member_id); value NULL where the change takes none. */
fn_status memberships_db_change(db_conn *db, membership_change what, const char *group_id, const char *member_id,
                                const char *value);
/* Active conveners and facilitators of the group other than member_id. */
fn_status memberships_db_other_leaders(db_conn *db, const char *group_id, const char *member_id, long *count);
/* A member stopped representing group_id: network memberships naming it lose the reference. */
fn_status memberships_db_end_representation(db_conn *db, const char *member_id, const char *group_id);

int memberships_is_leader_role(const char *role);

#endif
