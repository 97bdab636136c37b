#ifndef FORUMNET_AUTH_DB_H
#define FORUMNET_AUTH_DB_H

#include "forumnet/caller.h"
#include "forumnet/db.h"

/* What login needs to know about an account. */
typedef struct login_account {
  int found;
  char id[UUID_TEXT_SIZE];
  char role[16];
  char status[16];
  char password_hash[160];
  int one_time_password_expired; /* must_change_password, set more than 7 days ago */
} login_account;

/* What the dispatcher needs to know about a token's subject (auth_db_token_subject). */
typedef struct token_subject {
  int valid;                /* exists, active (members) or not revoked (partners), no credential change since */
  int must_change_password; /* members: only ROUTE_ONE_TIME_PASSWORD routes until it is changed */
} token_subject;

/* The state of a presented refresh token, locked for the rest of the transaction. */
typedef struct refresh_token_row {
  char id[UUID_TEXT_SIZE];
  char chain_id[UUID_TEXT_SIZE];
  char member_id[UUID_TEXT_SIZE];
  char member_role[16];
  int used;    /* rotated before: presenting it again (chain still live) is reuse */
  int revoked; /* its chain was ended (logout, reuse, password change, suspension): just invalid */
  int expired;
  int member_active; /* active, and not holding a one-time password past its 7 days */
} refresh_token_row;

fn_status auth_db_find_login(db_conn *db, const char *email, login_account *out);

/* One indexed read per authenticated request: is a token of this subject (a member, or a
 * partner when partner != 0) issued at iat_ms still valid? FN_OK with s->valid 0 when the
 * subject is unknown, suspended, erased, revoked, or changed credentials after iat_ms. */
fn_status auth_db_token_subject(db_conn *db, int partner, const char *id, long iat_ms, token_subject *s);

/* The same read as a check to defer (db_defer): fills check's statement and parameters (borrowed:
 * iat_ms_text is iat_ms in decimal); auth_db_token_subject_of reads its result. */
void auth_db_token_subject_check(db_deferred *check, int partner, const char *id, const char *iat_ms_text);
void auth_db_token_subject_of(const PGresult *res, token_subject *s);

/* Claims one attempt for both buckets before the password (or secret) is checked, in one
 * statement, so parallel attempts cannot all pass a check made before any of them counted.
 * *retry_after: seconds until the window ends if this attempt is over either limit, else 0. */
fn_status auth_db_claim_attempt(db_conn *db, const char *key_bucket, const char *address_bucket,
                                unsigned window_seconds, unsigned key_limit, unsigned address_limit, long *retry_after);
/* A successful attempt: clears the key's bucket and gives the address its claim back. */
fn_status auth_db_attempt_succeeded(db_conn *db, const char *key_bucket, const char *address_bucket);
/* Deletes (a bounded batch of) rows whose window ended: nothing stays longer than it counts. */
fn_status auth_db_purge_attempts(db_conn *db, unsigned window_seconds);

/* Stores the digest of a new refresh token; chain_id NULL starts a new chain. */
fn_status auth_db_insert_refresh(db_conn *db, const char *digest, const char *chain_id, const char *member_id,
                                 long ttl_seconds);
/* FN_NOT_FOUND when no token has this digest. Inside a transaction. */
fn_status auth_db_lock_refresh(db_conn *db, const char *digest, refresh_token_row *out);
fn_status auth_db_mark_refresh_used(db_conn *db, const char *token_id);
fn_status auth_db_revoke_chain(db_conn *db, const char *chain_id);
/* Revokes the chain of the token with this digest (logout); no error if unknown. */
fn_status auth_db_revoke_chain_of(db_conn *db, const char *digest);
/* A member's credential change (password change, suspension): revokes every refresh token
 * and records the time, which rejects every access token issued before it. */
fn_status auth_db_revoke_member(db_conn *db, const char *member_id);

#endif
