#ifndef FORUMNET_REGISTRATIONS_DB_H
#define FORUMNET_REGISTRATIONS_DB_H

#include "forumnet/db.h"
#include "forumnet/events_db.h"
#include "forumnet/page.h"

/* The outcome of registrations_db_set(). */
typedef struct registration_result {
  char *json; /* the Registration representation; caller frees */
  long version;
  int created; /* the member had no registration for the event before */
} registration_result;

/* Records member_id's answer to the event: status is going, interested or declined. Inside a
 * transaction that holds the event row locked (events_db_access with lock), so that places are
 * counted by one writer at a time. `going` past capacity (a->capacity, 0 for no limit) is stored as
 * `waitlisted`; asking to go again while going or waitlisted keeps the place in the queue; the same
 * answer twice changes nothing (no new version). Leaving `going` promotes from the waitlist. */
/* The member's registration version (*exists 0 when none). Call with the event locked. */
fn_status registrations_db_version(db_conn *db, const char *event_id, const char *member_id, int *exists,
                                   long *version);

/* Erasure: the member's going/waitlisted answers to events that have not started become declined,
 * and each event's waitlist is promoted into the places freed. Locks those events (in id order). */
fn_status registrations_db_withdraw_member(db_conn *db, const char *member_id);

fn_status registrations_db_set(db_conn *db, const event_access *a, const char *member_id, const char *status,
                               registration_result *out);

/* Fills free places (capacity 0: no limit, so everyone) from the event's waitlist, oldest request
 * first (requested_going_at, then member_id). Call inside the transaction that holds the event row
 * locked, after anything that frees places or raises capacity. Those promoted are notified
 * (registration.promoted), unless one is actor_id (may be NULL). */
fn_status registrations_db_promote(db_conn *db, const char *event_id, long capacity, const char *actor_id);

/* One page of the event's registrations in (created_at, member_id) order, with display names;
 * columns (json, cursor_key). *result: caller PQclear()s. Authorization is checked before. */
fn_status registrations_db_list(db_conn *db, const char *event_id, const page_request *page, PGresult **result);

/* Who may do what with registrations (API.md section 7), in one place. FN_NOT_FOUND when the caller
 * may not know the event; *detail explains the other refusals. */
/* Members who can see a published event register for it (pending or cancelled: FN_CONFLICT). */
fn_status registrations_can_register(const event_caller *caller, const event_access *a, const char **detail);
/* The member who owns the event and admins list registrations; the owning partner sees counts only. */
fn_status registrations_can_list(const event_caller *caller, const event_access *a, const char **detail);

#endif
