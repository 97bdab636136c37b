#ifndef FORUMNET_PARTNERS_DB_H
#define FORUMNET_PARTNERS_DB_H

#include "forumnet/caller.h"
#include "forumnet/db.h"
#include "forumnet/page.h"

/* A partner client as the token endpoint sees it. */
typedef struct partner_client {
  int found;
  char id[UUID_TEXT_SIZE];
  char secret_digest[65];
  int revoked;
  int trusted;
  char scopes[64]; /* the scopes an admin granted it, space-separated */
} partner_client;

fn_status partners_db_find_client(db_conn *db, const char *client_id, partner_client *out);
/* The Partner representation (never the secret). out->json: caller frees. */
fn_status partners_db_get(db_conn *db, const char *id, db_representation *out);
fn_status partners_db_list(db_conn *db, const page_request *page, PGresult **result);

/* Inside a transaction. */
fn_status partners_db_insert(db_conn *db, const char *name, int trusted, const char *client_id,
                             const char *secret_digest, char id_out[UUID_TEXT_SIZE]);
/* FN_NOT_FOUND if none; *revoked and *version of the locked row. */
fn_status partners_db_lock(db_conn *db, const char *id, int *revoked, long *version, char client_id[64]);
fn_status partners_db_update(db_conn *db, const char *id, const char *name, const char *trusted);
fn_status partners_db_set_secret(db_conn *db, const char *id, const char *secret_digest);
fn_status partners_db_revoke(db_conn *db, const char *id);

#endif
