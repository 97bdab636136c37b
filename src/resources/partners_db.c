/* Every SQL statement about partner clients. Secrets are stored only as digests. */
#include "forumnet/partners_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// clang-format off
#define PARTNER_FIELDS_SQL(F, SEP)                                                                                     \
  F("id", "p.id") SEP                                                                                                  \
  F("name", "p.name") SEP                                                                                              \
  F("client_id", "p.client_id") SEP                                                                                    \
  F("trusted", "p.trusted") SEP                                                                                        \
  F("revoked_at", "rfc3339(p.revoked_at)") SEP                                                                         \
  F("created_at", "rfc3339(p.created_at)") SEP                                                                         \
  F("version", "p.version") SEP                                                                                        \
  F("scopes", "to_json(p.scopes)")
// clang-format on
#define PARTNER_JSON_SQL DB_JSON_OBJECT(PARTNER_FIELDS_SQL)
#define PARTNER_COLUMNS_SQL DB_COLUMNS(PARTNER_FIELDS_SQL)

static const db_stmt find_client = {
    "partners_find_client",
    "SELECT id, secret_digest, revoked_at IS NOT NULL, trusted, array_to_string(scopes, ' ') FROM partners"
    " WHERE client_id = $1"};

static const db_column client_columns[] = {
    DB_COL_TEXT(partner_client, id),      DB_COL_TEXT(partner_client, secret_digest),
    DB_COL_BOOL(partner_client, revoked), DB_COL_BOOL(partner_client, trusted),
    DB_COL_TEXT(partner_client, scopes),  DB_COLUMNS_END,
};

fn_status partners_db_find_client(db_conn *db, const char *client_id, partner_client *out) {
  memset(out, 0, sizeof *out);
  return db_query_optional_row(db, &find_client, DB_ARGS(client_id), client_columns, out, &out->found);
}

static const db_stmt get_partner = {"partners_get",
                                    "SELECT " PARTNER_JSON_SQL ", p.version FROM partners p WHERE p.id = $1"};

fn_status partners_db_get(db_conn *db, const char *id, db_representation *out) {
  return db_get_representation(db, &get_partner, DB_ARGS(id), &out->json, &out->version);
}

static const db_stmt list_partners = {"partners_list",
                                      "SELECT cursor_key(p.created_at, p.id), " PARTNER_COLUMNS_SQL " FROM partners p"
                                      " WHERE (p.created_at, p.id) > ($1::timestamptz, $2::uuid)"
                                      " ORDER BY p.created_at, p.id LIMIT $3"};

fn_status partners_db_list(db_conn *db, const page_request *page, PGresult **result) {
  return db_query_rows(db, &list_partners, DB_ARGS(page->after_ts, page->after_id, page->limit_plus_one), result);
}

static const db_stmt insert_partner = {"partners_insert",
                                       "INSERT INTO partners (name, trusted, client_id, secret_digest)"
                                       " VALUES ($1, $2::bool, $3, $4) RETURNING id"};

fn_status partners_db_insert(db_conn *db, const char *name, int trusted, const char *client_id,
                             const char *secret_digest, char id_out[UUID_TEXT_SIZE]) {
  return db_query_copy(db, &insert_partner, DB_ARGS(name, trusted ? "true" : "false", client_id, secret_digest), id_out,
                       UUID_TEXT_SIZE);
}

static const db_stmt lock_partner = {
    "partners_lock", "SELECT revoked_at IS NOT NULL, version, client_id FROM partners WHERE id = $1 FOR UPDATE"};

fn_status partners_db_lock(db_conn *db, const char *id, int *revoked, long *version, char client_id[64]) {
  fn_status st;
  PGresult *res = db_exec_row(db, &lock_partner, DB_ARGS(id), FN_NOT_FOUND, &st);
  if (res == NULL)
    return st;
  *revoked = db_value_bool(res, 0, 0);
  *version = db_value_long(res, 0, 1);
  db_value_copy(res, 0, 2, client_id, 64);
  PQclear(res);
  return FN_OK;
}

static const db_stmt update_partner = {"partners_update",
                                       "UPDATE partners SET name = coalesce($2, name),"
                                       " trusted = coalesce($3::bool, trusted), version = version + 1 WHERE id = $1"};

fn_status partners_db_update(db_conn *db, const char *id, const char *name, const char *trusted) {
  return db_exec_command(db, &update_partner, DB_ARGS(id, name, trusted));
}

static const db_stmt set_secret = {"partners_set_secret",
                                   "UPDATE partners SET secret_digest = $2, credentials_changed_at = clock_timestamp(),"
                                   " version = version + 1 WHERE id = $1"};

fn_status partners_db_set_secret(db_conn *db, const char *id, const char *secret_digest) {
  return db_exec_command(db, &set_secret, DB_ARGS(id, secret_digest));
}

static const db_stmt revoke_partner = {
    "partners_revoke", "UPDATE partners SET revoked_at = clock_timestamp(), credentials_changed_at = clock_timestamp(),"
                       " version = version + 1"
                       " WHERE id = $1 AND revoked_at IS NULL"};

fn_status partners_db_revoke(db_conn *db, const char *id) { return db_exec_on(db, &revoke_partner, id); }
