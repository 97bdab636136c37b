#ifndef FORUMNET_EVENTS_DB_H
#define FORUMNET_EVENTS_DB_H

#include <jansson.h>

#include "forumnet/caller.h"
#include "forumnet/db.h"
#include "forumnet/page.h"

/* The caller of an events route: a member or a partner client. */
typedef struct event_caller {
  int is_partner;
  char id[64];                       /* member id or partner id (a UUID; sized as fn_caller.id) */
  member_role role;                  /* members only */
  char home_site_id[UUID_TEXT_SIZE]; /* members only, "" if none */
  int trusted;                       /* partners only: its events are published at once */
} event_caller;

/* What a caller is to one event, read in one statement. */
typedef struct event_access {
  char id[UUID_TEXT_SIZE];
  char status[16]; /* pending | published | cancelled */
  long version;    /* the owner's edits and status changes, never registrations (the ETag) */
  long capacity;   /* 0: no limit */
  int visible;     /* event_visible() for the caller */
  int owner;       /* the member who created it, or the partner */
  int can_publish; /* an admin, or a manager of an audience site */
  int is_admin;
  long starts_us, ends_us; /* stored times, microseconds since the epoch */
} event_access;

/* Loads the caller: an active member (FN_UNAUTHENTICATED otherwise) or a partner that is
 * not revoked (FN_UNAUTHENTICATED otherwise: revocation ends its tokens at once). */
fn_status events_db_load_caller(db_conn *db, const fn_caller *token_caller, event_caller *out);

/* FN_NOT_FOUND when there is no such event. With lock, the event row is locked for the
 * rest of the transaction (registrations use it to keep capacity true). */
fn_status events_db_access(db_conn *db, const char *event_id, const event_caller *caller, int lock, event_access *out);
/* events_db_load_caller, then events_db_access: FN_NOT_FOUND as well when the caller may not see the event. */
fn_status events_db_load_visible(db_conn *db, const fn_caller *token_caller, const char *event_id, int lock,
                                 event_caller *caller, event_access *out);

/* The Event representation for the caller (registration_counts for owners and admins,
 * my_registration for members). out->json: caller frees. */
fn_status events_db_get(db_conn *db, const char *event_id, const event_caller *caller, db_representation *out);
/* Visible events in (starts_at, id) order; filters may be NULL. Columns (json, cursor_key). */
fn_status events_db_list(db_conn *db, const event_caller *caller, const char *site_id, const char *from, const char *to,
                         const char *kind, const char *status, const page_request *page, PGresult **result);

/* audience {"scope":"network"} or {"scope":"sites","site_ids":[...]}: sites must exist and be open
 * (FN_INVALID, errors named audience.site_ids[i]); managers may name only sites they manage and
 * never the whole network (FN_FORBIDDEN with *detail). */
fn_status events_db_check_audience(db_conn *db, const event_caller *caller, const json_t *audience, json_t **errors,
                                   const char **detail);

/* Inside a transaction. FN_CONFLICT with existing_id set when the partner already has an
 * event with this external_id. */
fn_status events_db_insert(db_conn *db, const json_t *body, const event_caller *caller, const char *status,
                           char id_out[UUID_TEXT_SIZE], char existing_id[UUID_TEXT_SIZE]);
/* Applies the body's fields. moderated: an untrusted partner's change, which sends a published
 * event back to pending when its title, description, times, place, online_url or audience change.
 * status: the event's status afterwards. */
fn_status events_db_update(db_conn *db, const char *event_id, const json_t *body, int moderated, char status[16]);
fn_status events_db_set_status(db_conn *db, const char *event_id, const char *status);
fn_status events_db_going_count(db_conn *db, const char *event_id, long *going);

#endif
