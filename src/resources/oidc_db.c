/* The SQL of single sign-on: sign-ins in flight and identities linked to members (sql/015_oidc.sql). */
#include <stdio.h>
#include <string.h>

#include "forumnet/oidc_db.h"

/* A flow is found by the SHA-256 of its state's UTF-8 bytes (the state itself is never stored). */
#define STATE_DIGEST "sha256(convert_to($1, 'UTF8'))"

static const db_stmt start_flow = {
    "oidc_start_flow", "WITH purge AS (DELETE FROM oidc_flows WHERE expires_at < clock_timestamp())"
                       " INSERT INTO oidc_flows (state_digest, provider_id, nonce, code_verifier, redirect_uri)"
                       " VALUES (" STATE_DIGEST ", $2, $3, $4, $5)"};

fn_status oidc_db_start_flow(db_conn *db, const char *state, const char *provider_id, const char *nonce,
                             const char *code_verifier, const char *redirect_uri) {
  return db_exec_command(db, &start_flow, DB_ARGS(state, provider_id, nonce, code_verifier, redirect_uri));
}

static const db_stmt find_flow = {
    "oidc_find_flow", "SELECT provider_id, nonce, code_verifier, redirect_uri,"
                      " expires_at <= clock_timestamp() FROM oidc_flows WHERE state_digest = " STATE_DIGEST};

static const db_column flow_columns[] = {
    DB_COL_TEXT(oidc_flow, provider_id),  DB_COL_TEXT(oidc_flow, nonce),   DB_COL_TEXT(oidc_flow, code_verifier),
    DB_COL_TEXT(oidc_flow, redirect_uri), DB_COL_BOOL(oidc_flow, expired), DB_COLUMNS_END,
};

fn_status oidc_db_find_flow(db_conn *db, const char *state, oidc_flow *out, int *found) {
  memset(out, 0, sizeof *out);
  return db_query_optional_row(db, &find_flow, DB_ARGS(state), flow_columns, out, found);
}

static const db_stmt take_flow = {"oidc_take_flow",
                                  "DELETE FROM oidc_flows WHERE state_digest = " STATE_DIGEST " AND provider_id = $2"
                                  " AND expires_at > clock_timestamp() RETURNING true"};

fn_status oidc_db_take_flow(db_conn *db, const char *state, const char *provider_id, int *taken) {
  return db_query_bool(db, &take_flow, DB_ARGS(state, provider_id), taken);
}

static const db_stmt drop_flow = {"oidc_drop_flow", "DELETE FROM oidc_flows WHERE state_digest = " STATE_DIGEST};

fn_status oidc_db_drop_flow(db_conn *db, const char *state) { return db_exec_on(db, &drop_flow, state); }

static const db_column account_columns[] = {
    DB_COL_TEXT(oidc_account, identity_id),
    DB_COL_TEXT(oidc_account, member_id),
    DB_COL_TEXT(oidc_account, role),
    DB_COL_BOOL(oidc_account, active),
    DB_COLUMNS_END,
};

static const db_stmt find_identity = {"oidc_find_identity",
                                      "SELECT i.id, m.id, m.role, m.status = 'active' FROM member_identities i"
                                      " JOIN members m ON m.id = i.member_id WHERE i.issuer = $1 AND i.subject = $2"
                                      " FOR UPDATE OF i"};

fn_status oidc_db_find_identity(db_conn *db, const char *issuer, const char *subject, oidc_account *out, int *found) {
  memset(out, 0, sizeof *out);
  return db_query_optional_row(db, &find_identity, DB_ARGS(issuer, subject), account_columns, out, found);
}

/* At most two rows: enough to tell one match from several. */
static const db_stmt find_by_email = {"oidc_find_by_email",
                                      "SELECT '', id, role, true, count(*) OVER () FROM members"
                                      " WHERE lower(email) = lower($1) AND status = 'active' LIMIT 2"};

fn_status oidc_db_find_by_email(db_conn *db, const char *email, oidc_account *out, int *matches) {
  fn_status st;
  memset(out, 0, sizeof *out);
  *matches = 0;
  PGresult *res = db_exec_row(db, &find_by_email, DB_ARGS(email), FN_OK, &st);
  if (res == NULL)
    return st;
  *matches = (int)db_value_long(res, 0, 4);
  return db_take_row(res, account_columns, out);
}

static const db_stmt link_identity = {"oidc_link_identity",
                                      "INSERT INTO member_identities (member_id, provider_id, issuer, subject, email)"
                                      " VALUES ($1, $2, $3, $4, nullif($5, '')) RETURNING id"};

fn_status oidc_db_link(db_conn *db, const char *member_id, const char *provider_id, const char *issuer,
                       const char *subject, const char *email, char identity_id[UUID_TEXT_SIZE]) {
  return db_query_copy(db, &link_identity, DB_ARGS(member_id, provider_id, issuer, subject, email), identity_id,
                       UUID_TEXT_SIZE);
}

static const db_stmt touch_identity = {"oidc_touch_identity",
                                       "UPDATE member_identities SET last_used_at = clock_timestamp() WHERE id = $1"};

fn_status oidc_db_touch(db_conn *db, const char *identity_id) { return db_exec_on(db, &touch_identity, identity_id); }

static const db_stmt end_one_time_password = {
    "oidc_end_one_time_password",
    "WITH m AS (UPDATE members SET password_hash = NULL, must_change_password = false,"
    "   credentials_changed_at = to_timestamp($2::bigint / 1000.0), version = version + 1,"
    "   updated_at = clock_timestamp() WHERE id = $1 AND must_change_password RETURNING id),"
    " rt AS (UPDATE refresh_tokens SET revoked_at = clock_timestamp()"
    "   WHERE member_id IN (SELECT id FROM m) AND revoked_at IS NULL)"
    " SELECT count(*) FROM m"};

fn_status oidc_db_end_one_time_password(db_conn *db, const char *member_id, long now_ms, int *ended) {
  char ms[24];
  long count = 0;
  snprintf(ms, sizeof ms, "%ld", now_ms);
  fn_status st = db_query_long(db, &end_one_time_password, DB_ARGS(member_id, ms), &count);
  *ended = count > 0;
  return st;
}

static const db_stmt list_identities = {
    "oidc_list_identities",
    "SELECT json_build_object('items', coalesce(json_agg(json_build_object('id', i.id, 'provider', i.provider_id,"
    " 'issuer', i.issuer, 'subject', i.subject, 'email', i.email, 'created_at', rfc3339(i.created_at),"
    " 'last_used_at', rfc3339(i.last_used_at)) ORDER BY i.created_at, i.id), '[]'::json), 'next_cursor', NULL)"
    " FROM member_identities i WHERE i.member_id = $1"};

fn_status oidc_db_list(db_conn *db, const char *member_id, char **json) {
  return db_query_text(db, &list_identities, DB_ARGS(member_id), FN_INTERNAL, json);
}

static const db_stmt unlink_identity = {
    "oidc_unlink_identity", "DELETE FROM member_identities WHERE id = $1 AND member_id = $2 RETURNING true"};

fn_status oidc_db_unlink(db_conn *db, const char *member_id, const char *id, int *found) {
  return db_query_bool(db, &unlink_identity, DB_ARGS(id, member_id), found);
}
