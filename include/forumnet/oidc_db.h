#ifndef FORUMNET_OIDC_DB_H
#define FORUMNET_OIDC_DB_H

/* The SQL of single sign-on (src/resources/oidc_db.c): sign-ins in flight (oidc_flows, keyed by the SHA-256
 * of their state) and the identities linked to members (member_identities). */

#include "forumnet/db.h"

/* A sign-in in flight, as start stored it. */
typedef struct oidc_flow {
  char provider_id[64];
  char nonce[64];
  char code_verifier[128];
  char redirect_uri[512];
  int expired;
} oidc_flow;

/* Stores a new flow (valid 10 minutes) and purges the flows that expired. */
fn_status oidc_db_start_flow(db_conn *db, const char *state, const char *provider_id, const char *nonce,
                             const char *code_verifier, const char *redirect_uri);

/* Reads the flow of state without taking it: *found 0 when there is none. */
fn_status oidc_db_find_flow(db_conn *db, const char *state, oidc_flow *out, int *found);

/* Takes (deletes) the flow of state if it is still there, unexpired and the provider's: *taken 1 then. Inside
 * the transaction that signs in, so that a state is used once. */
fn_status oidc_db_take_flow(db_conn *db, const char *state, const char *provider_id, int *taken);

/* Deletes the flow of state (a sign-in that failed past the code exchange): it cannot be tried again. */
fn_status oidc_db_drop_flow(db_conn *db, const char *state);

/* The member an identity, or an email, leads to. */
typedef struct oidc_account {
  char identity_id[UUID_TEXT_SIZE]; /* "" when found by email */
  char member_id[UUID_TEXT_SIZE];
  char role[16];
  int active;
} oidc_account;

/* The identity issuer + subject, locked, and its member: *found 0 when it is not linked. */
fn_status oidc_db_find_identity(db_conn *db, const char *issuer, const char *subject, oidc_account *out, int *found);

/* The active members whose email is email (case-insensitively, as login compares): *matches how many, *out
 * the one when there is exactly one. */
fn_status oidc_db_find_by_email(db_conn *db, const char *email, oidc_account *out, int *matches);

/* Links the identity to the member (FN_CONFLICT when it was linked meanwhile): its id into identity_id. */
fn_status oidc_db_link(db_conn *db, const char *member_id, const char *provider_id, const char *issuer,
                       const char *subject, const char *email, char identity_id[UUID_TEXT_SIZE]);

/* last_used_at = now for the identity. */
fn_status oidc_db_touch(db_conn *db, const char *identity_id);

/* A member who signs in with their provider while holding a one-time password (must_change_password: made
 * by an admin, or invited) has it voided: no password at all and must_change_password false, so that their
 * tokens are not held to a password change they have no password for.  A password can be set later with
 * the reset link.  As for any credential change, every earlier session and access token ends (else a token
 * got with the one-time password, by whoever knew it, would lose its restriction): credentials_changed_at
 * is now_ms (the server's clock, so that the token issued next is not older) and the refresh tokens are
 * revoked.  *ended 1 when there was a one-time password; nothing for any other member. */
fn_status oidc_db_end_one_time_password(db_conn *db, const char *member_id, long now_ms, int *ended);

/* The member's identities as {"items": [...], "next_cursor": null} (*json, caller frees). */
fn_status oidc_db_list(db_conn *db, const char *member_id, char **json);

/* Deletes the member's identity id: *found 0 when the member has no such identity. */
fn_status oidc_db_unlink(db_conn *db, const char *member_id, const char *id, int *found);

#endif
