#ifndef FORUMNET_CONSULTATIONS_DB_H
#define FORUMNET_CONSULTATIONS_DB_H

#include <jansson.h>

#include "forumnet/caller.h"
#include "forumnet/db.h"
#include "forumnet/members_db.h"
#include "forumnet/page.h"

/* What a caller is to a consultation, read in one statement. */
typedef struct consultation_access {
  char id[UUID_TEXT_SIZE];
  char owner_id[UUID_TEXT_SIZE];
  char status[24]; /* effective: an open consultation past closes_at is "closed" */
  long version;
  int visible;          /* consultation_visible() for the caller */
  int owner_or_admin;   /* may edit, close, publish the outcome, read submitted responses */
  int closes_in_future; /* closes_at > now */
  int stored_open;      /* stored as open (so a "closed" in effect can still be recorded) */
} consultation_access;

/* FN_UNAUTHENTICATED: caller not active; FN_NOT_FOUND: no such consultation. With lock,
 * the row is locked for the rest of the transaction. */
fn_status consultations_db_access(db_conn *db, const char *id, const char *caller_id, int lock,
                                  consultation_access *out);
/* consultations_db_access, and FN_NOT_FOUND when the caller may not see the consultation. */
fn_status consultations_db_visible(db_conn *db, const char *id, const char *caller_id, int lock,
                                   consultation_access *out);

/* The Consultation representation for the caller (response_rate only for owner/admin). */
fn_status consultations_db_get(db_conn *db, const char *id, const char *caller_id, db_representation *out);
fn_status consultations_db_list(db_conn *db, const char *caller_id, const char *status, const char *site_id,
                                const page_request *page, PGresult **result);

/* Checks target.site_ids / target.group_ids: each must exist and be open (else *errors, FN_INVALID),
 * and a manager may only name sites they manage and groups at those sites, never network-wide
 * groups (FN_FORBIDDEN). */
fn_status consultations_db_check_targets(db_conn *db, const member_caller *caller, const json_t *target,
                                         json_t **errors, const char **detail);

/* Inside a transaction. */
fn_status consultations_db_insert(db_conn *db, const json_t *body, const char *owner_id, char id_out[UUID_TEXT_SIZE]);
fn_status consultations_db_update_draft(db_conn *db, const char *id, const json_t *body);
typedef enum { CONSULTATION_STATUS, CONSULTATION_CLOSES_AT } consultation_column;
/* Sets the column to value (a status name, an RFC 3339 time) and makes a new version. */
fn_status consultations_db_set(db_conn *db, const char *id, consultation_column column, const char *value);
/* 1 in *later if closes_at is after the stored one and in the future. */
fn_status consultations_db_is_extension(db_conn *db, const char *id, const char *closes_at, int *later);
/* Stores the outcome and moves the consultation to outcome_published. */
fn_status consultations_db_set_outcome(db_conn *db, const char *id, const json_t *outcome);
/* A response changed: the consultation's representation (response_rate) changed with it. */
fn_status consultations_db_touch(db_conn *db, const char *id);
/* The questions ({"id","text"} array, new reference) for response validation. */
fn_status consultations_db_questions(db_conn *db, const char *id, json_t **questions);

#endif
