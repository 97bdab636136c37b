#ifndef FORUMNET_AUTH_DB_H
#define FORUMNET_AUTH_DB_H

#include "forumnet/db.h"

/* What login needs to know about an account. */
typedef struct login_account {
  int found;
  char id[37];
  char role[16];
  char status[16];
  char password_hash[160];
} login_account;

/* The state of a presented refresh token, locked for the rest of the transaction. */
typedef struct refresh_token_row {
  char id[37];
  char chain_id[37];
  char member_id[37];
  char member_role[16];
  int spent; /* used or revoked before: presenting it again is reuse */
  int expired;
  int member_active;
} refresh_token_row;

fn_status auth_db_find_login(db_conn *db, const char *email, login_account *out);

/* Seconds until the login window ends if either bucket is over its limit, else 0. */
fn_status auth_db_login_blocked_for(db_conn *db, const char *email_bucket, const char *address_bucket,
                                    unsigned window_seconds, unsigned email_limit, unsigned address_limit,
                                    long *retry_after);
fn_status auth_db_record_login_failure(db_conn *db, const char *email_bucket, const char *address_bucket,
                                       unsigned window_seconds);
fn_status auth_db_clear_login_failures(db_conn *db, const char *email_bucket);

/* Stores the digest of a new refresh token; chain_id NULL starts a new chain. */
fn_status auth_db_insert_refresh(db_conn *db, const char *digest, const char *chain_id, const char *member_id,
                                 long ttl_seconds);
/* FN_NOT_FOUND when no token has this digest. Inside a transaction. */
fn_status auth_db_lock_refresh(db_conn *db, const char *digest, refresh_token_row *out);
fn_status auth_db_mark_refresh_used(db_conn *db, const char *token_id);
fn_status auth_db_revoke_chain(db_conn *db, const char *chain_id);
/* Revokes the chain of the token with this digest (logout); no error if unknown. */
fn_status auth_db_revoke_chain_of(db_conn *db, const char *digest);
/* Revokes every refresh token of a member (password change, suspension). */
fn_status auth_db_revoke_member(db_conn *db, const char *member_id);

#endif
