/* Every SQL statement of authentication: accounts by email, refresh-token chains and
 * the login-failure windows. */
#include "forumnet/auth_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const db_stmt find_login = {
    "auth_find_login",
    "SELECT id, role, status, coalesce(password_hash, '') FROM members WHERE lower(email) = lower($1)"};

fn_status auth_db_find_login(db_conn *db, const char *email, login_account *out) {
  fn_status st;
  const char *params[] = {email};
  memset(out, 0, sizeof *out);
  PGresult *res = db_exec(db, &find_login, 1, params, &st);
  if (res == NULL)
    return st;
  if (PQntuples(res) > 0) {
    out->found = 1;
    snprintf(out->id, sizeof out->id, "%s", PQgetvalue(res, 0, 0));
    snprintf(out->role, sizeof out->role, "%s", PQgetvalue(res, 0, 1));
    snprintf(out->status, sizeof out->status, "%s", PQgetvalue(res, 0, 2));
    snprintf(out->password_hash, sizeof out->password_hash, "%s", PQgetvalue(res, 0, 3));
  }
  PQclear(res);
  return FN_OK;
}

static const db_stmt login_blocked = {
    "auth_login_blocked", "SELECT coalesce(max(ceil(extract(epoch FROM window_start + make_interval(secs => $3::int)"
                          "   - clock_timestamp()))), 0)::bigint"
                          " FROM login_failures"
                          " WHERE window_start > clock_timestamp() - make_interval(secs => $3::int)"
                          "   AND ((bucket = $1 AND failures >= $4::int) OR (bucket = $2 AND failures >= $5::int))"};

fn_status auth_db_login_blocked_for(db_conn *db, const char *email_bucket, const char *address_bucket,
                                    unsigned window_seconds, unsigned email_limit, unsigned address_limit,
                                    long *retry_after) {
  fn_status st;
  char window[16], elimit[16], alimit[16];
  snprintf(window, sizeof window, "%u", window_seconds);
  snprintf(elimit, sizeof elimit, "%u", email_limit);
  snprintf(alimit, sizeof alimit, "%u", address_limit);
  const char *params[] = {email_bucket, address_bucket, window, elimit, alimit};
  PGresult *res = db_exec(db, &login_blocked, 5, params, &st);
  if (res == NULL)
    return st;
  *retry_after = atol(PQgetvalue(res, 0, 0));
  PQclear(res);
  return FN_OK;
}

/* A fixed window per bucket: the first failure after a window ends opens a new one. */
static const db_stmt record_failure = {
    "auth_record_failure",
    "INSERT INTO login_failures AS f (bucket, window_start, failures)"
    " SELECT b, clock_timestamp(), 1 FROM unnest(ARRAY[$1, $2]::text[]) AS b"
    " ON CONFLICT (bucket) DO UPDATE SET"
    "  failures = CASE WHEN f.window_start <= clock_timestamp() - make_interval(secs => $3::int)"
    "             THEN 1 ELSE f.failures + 1 END,"
    "  window_start = CASE WHEN f.window_start <= clock_timestamp() - make_interval(secs => $3::int)"
    "             THEN clock_timestamp() ELSE f.window_start END"};

fn_status auth_db_record_login_failure(db_conn *db, const char *email_bucket, const char *address_bucket,
                                       unsigned window_seconds) {
  char window[16];
  snprintf(window, sizeof window, "%u", window_seconds);
  const char *params[] = {email_bucket, address_bucket, window};
  return db_exec_command(db, &record_failure, 3, params);
}

static const db_stmt clear_failures = {"auth_clear_failures", "DELETE FROM login_failures WHERE bucket = $1"};

fn_status auth_db_clear_login_failures(db_conn *db, const char *email_bucket) {
  const char *params[] = {email_bucket};
  return db_exec_command(db, &clear_failures, 1, params);
}

static const db_stmt insert_refresh = {
    "auth_insert_refresh",
    "INSERT INTO refresh_tokens (token_hash, chain_id, member_id, expires_at)"
    " VALUES ($1, coalesce($2::uuid, gen_random_uuid()), $3, clock_timestamp() + make_interval(secs => $4::int))"};

fn_status auth_db_insert_refresh(db_conn *db, const char *digest, const char *chain_id, const char *member_id,
                                 long ttl_seconds) {
  char ttl[24];
  snprintf(ttl, sizeof ttl, "%ld", ttl_seconds);
  const char *params[] = {digest, chain_id, member_id, ttl};
  return db_exec_command(db, &insert_refresh, 4, params);
}

static const db_stmt lock_refresh = {
    "auth_lock_refresh", "SELECT rt.id, rt.chain_id, rt.member_id, m.role,"
                         " (rt.used_at IS NOT NULL OR rt.revoked_at IS NOT NULL), rt.expires_at <= clock_timestamp(),"
                         " m.status = 'active'"
                         " FROM refresh_tokens rt JOIN members m ON m.id = rt.member_id"
                         " WHERE rt.token_hash = $1 FOR UPDATE OF rt"};

fn_status auth_db_lock_refresh(db_conn *db, const char *digest, refresh_token_row *out) {
  fn_status st;
  const char *params[] = {digest};
  PGresult *res = db_exec(db, &lock_refresh, 1, params, &st);
  if (res == NULL)
    return st;
  if (PQntuples(res) == 0) {
    PQclear(res);
    return FN_NOT_FOUND;
  }
  snprintf(out->id, sizeof out->id, "%s", PQgetvalue(res, 0, 0));
  snprintf(out->chain_id, sizeof out->chain_id, "%s", PQgetvalue(res, 0, 1));
  snprintf(out->member_id, sizeof out->member_id, "%s", PQgetvalue(res, 0, 2));
  snprintf(out->member_role, sizeof out->member_role, "%s", PQgetvalue(res, 0, 3));
  out->spent = strcmp(PQgetvalue(res, 0, 4), "t") == 0;
  out->expired = strcmp(PQgetvalue(res, 0, 5), "t") == 0;
  out->member_active = strcmp(PQgetvalue(res, 0, 6), "t") == 0;
  PQclear(res);
  return FN_OK;
}

static const db_stmt mark_used = {"auth_mark_refresh_used",
                                  "UPDATE refresh_tokens SET used_at = clock_timestamp() WHERE id = $1"};

fn_status auth_db_mark_refresh_used(db_conn *db, const char *token_id) {
  const char *params[] = {token_id};
  return db_exec_command(db, &mark_used, 1, params);
}

static const db_stmt revoke_chain = {
    "auth_revoke_chain",
    "UPDATE refresh_tokens SET revoked_at = clock_timestamp() WHERE chain_id = $1 AND revoked_at IS NULL"};

fn_status auth_db_revoke_chain(db_conn *db, const char *chain_id) {
  const char *params[] = {chain_id};
  return db_exec_command(db, &revoke_chain, 1, params);
}

static const db_stmt revoke_chain_of = {
    "auth_revoke_chain_of",
    "UPDATE refresh_tokens SET revoked_at = clock_timestamp()"
    " WHERE chain_id = (SELECT chain_id FROM refresh_tokens WHERE token_hash = $1) AND revoked_at IS NULL"};

fn_status auth_db_revoke_chain_of(db_conn *db, const char *digest) {
  const char *params[] = {digest};
  return db_exec_command(db, &revoke_chain_of, 1, params);
}

static const db_stmt revoke_member = {
    "auth_revoke_member",
    "UPDATE refresh_tokens SET revoked_at = clock_timestamp() WHERE member_id = $1 AND revoked_at IS NULL"};

fn_status auth_db_revoke_member(db_conn *db, const char *member_id) {
  const char *params[] = {member_id};
  return db_exec_command(db, &revoke_member, 1, params);
}
