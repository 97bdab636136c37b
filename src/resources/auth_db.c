/* Every SQL statement of authentication: accounts by email, token subjects, refresh-token
 * chains and the login-attempt windows. */
#include "forumnet/auth_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A one-time password (must_change_password) is valid for 7 days from when it was set. */
#define ONE_TIME_PASSWORD_EXPIRED(m)                                                                                   \
  "(" m ".must_change_password AND " m ".password_set_at <= clock_timestamp() - interval '7 days')"

static const db_stmt find_login = {"auth_find_login",
                                   "SELECT id, role, status, coalesce(password_hash, ''), " ONE_TIME_PASSWORD_EXPIRED(
                                       "m") " FROM members m WHERE lower(email) = lower($1)"};

static const db_column login_columns[] = {
    DB_COL_TEXT(login_account, id),
    DB_COL_TEXT(login_account, role),
    DB_COL_TEXT(login_account, status),
    DB_COL_TEXT(login_account, password_hash),
    DB_COL_BOOL(login_account, one_time_password_expired),
    DB_COLUMNS_END,
};

fn_status auth_db_find_login(db_conn *db, const char *email, login_account *out) {
  memset(out, 0, sizeof *out);
  return db_query_optional_row(db, &find_login, DB_ARGS(email), login_columns, out, &out->found);
}

/* Milliseconds of a credential change, comparable with a token's iat_ms claim. */
#define CHANGED_MS "floor(extract(epoch FROM credentials_changed_at) * 1000)::bigint"

static const db_stmt member_subject = {"auth_member_subject",
                                       "SELECT status = 'active' AND $2::bigint >= " CHANGED_MS ", must_change_password"
                                       " FROM members WHERE id = $1"};
static const db_stmt partner_subject = {"auth_partner_subject",
                                        "SELECT revoked_at IS NULL AND $2::bigint >= " CHANGED_MS
                                        ", false FROM partners WHERE id = $1"};

static const db_column subject_columns[] = {
    DB_COL_BOOL(token_subject, valid),
    DB_COL_BOOL(token_subject, must_change_password),
    DB_COLUMNS_END,
};

fn_status auth_db_token_subject(db_conn *db, int partner, const char *id, long iat_ms, token_subject *s) {
  char issued[24];
  snprintf(issued, sizeof issued, "%ld", iat_ms);
  memset(s, 0, sizeof *s); /* no row: not valid */
  return db_query_optional_row(db, partner ? &partner_subject : &member_subject, DB_ARGS(id, issued), subject_columns,
                               s, NULL);
}

void auth_db_token_subject_check(db_deferred *check, int partner, const char *id, const char *iat_ms_text) {
  check->stmt = partner ? &partner_subject : &member_subject;
  check->nparams = 2;
  check->params[0] = id;
  check->params[1] = iat_ms_text;
}

void auth_db_token_subject_of(const PGresult *res, token_subject *s) {
  memset(s, 0, sizeof *s); /* no row: not valid */
  if (PQntuples(res) > 0) {
    s->valid = db_value_bool(res, 0, 0);
    s->must_change_password = db_value_bool(res, 0, 1);
  }
}

/* A fixed window per bucket: the first attempt after a window ends opens a new one. The
 * answer is the wait for the buckets this attempt took over their limits (0: go ahead). */
static const db_stmt claim_attempt = {
    "auth_claim_attempt",
    "WITH c AS (INSERT INTO login_failures AS f (bucket, window_start, failures)"
    "  SELECT b, clock_timestamp(), 1 FROM unnest(ARRAY[$1, $2]::text[]) AS b"
    "  ON CONFLICT (bucket) DO UPDATE SET"
    "   failures = CASE WHEN f.window_start <= clock_timestamp() - make_interval(secs => $3::int)"
    "              THEN 1 ELSE f.failures + 1 END,"
    "   window_start = CASE WHEN f.window_start <= clock_timestamp() - make_interval(secs => $3::int)"
    "              THEN clock_timestamp() ELSE f.window_start END"
    "  RETURNING bucket, failures, window_start)"
    " SELECT coalesce(max(greatest(1, ceil(extract(epoch FROM window_start + make_interval(secs => $3::int)"
    "   - clock_timestamp())))), 0)::bigint"
    " FROM c WHERE (bucket = $1 AND failures > $4::int) OR (bucket = $2 AND failures > $5::int)"};

fn_status auth_db_claim_attempt(db_conn *db, const char *key_bucket, const char *address_bucket,
                                unsigned window_seconds, unsigned key_limit, unsigned address_limit,
                                long *retry_after) {
  char window[16], klimit[16], alimit[16];
  snprintf(window, sizeof window, "%u", window_seconds);
  snprintf(klimit, sizeof klimit, "%u", key_limit);
  snprintf(alimit, sizeof alimit, "%u", address_limit);
  return db_query_long(db, &claim_attempt, DB_ARGS(key_bucket, address_bucket, window, klimit, alimit), retry_after);
}

static const db_stmt attempt_succeeded = {
    "auth_attempt_succeeded", "WITH k AS (DELETE FROM login_failures WHERE bucket = $1)"
                              " UPDATE login_failures SET failures = failures - 1 WHERE bucket = $2 AND failures > 0"};

fn_status auth_db_attempt_succeeded(db_conn *db, const char *key_bucket, const char *address_bucket) {
  return db_exec_command(db, &attempt_succeeded, DB_ARGS(key_bucket, address_bucket));
}

/* SKIP LOCKED: never waits for (or deadlocks with) a concurrent claim of an old bucket. */
static const db_stmt purge_attempts = {
    "auth_purge_attempts",
    "DELETE FROM login_failures WHERE bucket IN (SELECT bucket FROM login_failures"
    " WHERE window_start <= clock_timestamp() - make_interval(secs => $1::int) LIMIT 100 FOR UPDATE SKIP LOCKED)"};

fn_status auth_db_purge_attempts(db_conn *db, unsigned window_seconds) {
  char window[16];
  snprintf(window, sizeof window, "%u", window_seconds);
  return db_exec_on(db, &purge_attempts, window);
}

static const db_stmt insert_refresh = {
    "auth_insert_refresh",
    "INSERT INTO refresh_tokens (token_hash, chain_id, member_id, expires_at)"
    " VALUES ($1, coalesce($2::uuid, gen_random_uuid()), $3, clock_timestamp() + make_interval(secs => $4::int))"};

fn_status auth_db_insert_refresh(db_conn *db, const char *digest, const char *chain_id, const char *member_id,
                                 long ttl_seconds) {
  char ttl[24];
  snprintf(ttl, sizeof ttl, "%ld", ttl_seconds);
  return db_exec_command(db, &insert_refresh, DB_ARGS(digest, chain_id, member_id, ttl));
}

static const db_stmt lock_refresh = {"auth_lock_refresh",
                                     "SELECT rt.id, rt.chain_id, rt.member_id, m.role, rt.used_at IS NOT NULL,"
                                     " rt.revoked_at IS NOT NULL, rt.expires_at <= clock_timestamp(),"
                                     " m.status = 'active' AND NOT " ONE_TIME_PASSWORD_EXPIRED(
                                         "m") " FROM refresh_tokens rt JOIN members m ON m.id = rt.member_id"
                                              " WHERE rt.token_hash = $1 FOR UPDATE OF rt"};

static const db_column refresh_columns[] = {
    DB_COL_TEXT(refresh_token_row, id),
    DB_COL_TEXT(refresh_token_row, chain_id),
    DB_COL_TEXT(refresh_token_row, member_id),
    DB_COL_TEXT(refresh_token_row, member_role),
    DB_COL_BOOL(refresh_token_row, used),
    DB_COL_BOOL(refresh_token_row, revoked),
    DB_COL_BOOL(refresh_token_row, expired),
    DB_COL_BOOL(refresh_token_row, member_active),
    DB_COLUMNS_END,
};

fn_status auth_db_lock_refresh(db_conn *db, const char *digest, refresh_token_row *out) {
  return db_query_row(db, &lock_refresh, DB_ARGS(digest), FN_NOT_FOUND, refresh_columns, out);
}

static const db_stmt mark_used = {"auth_mark_refresh_used",
                                  "UPDATE refresh_tokens SET used_at = clock_timestamp() WHERE id = $1"};

fn_status auth_db_mark_refresh_used(db_conn *db, const char *token_id) { return db_exec_on(db, &mark_used, token_id); }

static const db_stmt revoke_chain = {
    "auth_revoke_chain",
    "UPDATE refresh_tokens SET revoked_at = clock_timestamp() WHERE chain_id = $1 AND revoked_at IS NULL"};

fn_status auth_db_revoke_chain(db_conn *db, const char *chain_id) { return db_exec_on(db, &revoke_chain, chain_id); }

static const db_stmt revoke_chain_of = {
    "auth_revoke_chain_of",
    "UPDATE refresh_tokens SET revoked_at = clock_timestamp()"
    " WHERE chain_id = (SELECT chain_id FROM refresh_tokens WHERE token_hash = $1) AND revoked_at IS NULL"};

fn_status auth_db_revoke_chain_of(db_conn *db, const char *digest) { return db_exec_on(db, &revoke_chain_of, digest); }

static const db_stmt revoke_member = {
    "auth_revoke_member",
    "WITH m AS (UPDATE members SET credentials_changed_at = clock_timestamp() WHERE id = $1)"
    " UPDATE refresh_tokens SET revoked_at = clock_timestamp() WHERE member_id = $1 AND revoked_at IS NULL"};

fn_status auth_db_revoke_member(db_conn *db, const char *member_id) {
  return db_exec_on(db, &revoke_member, member_id);
}
