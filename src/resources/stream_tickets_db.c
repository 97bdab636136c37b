/* Stream tickets and the live stream's reads (API.md section 10). */
#include "forumnet/stream_tickets_db.h"

#include <stdio.h>

#include "forumnet/notifications.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static const db_stmt create_ticket = {
    "stream_ticket_create",
    "WITH expired AS (DELETE FROM stream_tickets WHERE member_id = $2 AND expires_at < clock_timestamp())"
    " INSERT INTO stream_tickets (digest, member_id, token_issued_ms, token_expires_at, expires_at)"
    " VALUES (decode($1, 'hex'), $2, $3, to_timestamp($4::bigint),"
    "         clock_timestamp() + interval '" STR(STREAM_TICKET_TTL) " seconds')"};

fn_status stream_tickets_db_create(db_conn *db, const char *digest_hex, const stream_grant *grant) {
  char iat[24], exp[24];
  snprintf(iat, sizeof iat, "%ld", grant->token_iat_ms);
  snprintf(exp, sizeof exp, "%ld", grant->token_exp);
  return db_exec_command(db, &create_ticket, DB_ARGS(digest_hex, grant->member_id, iat, exp));
}

static const db_stmt spend_ticket = {
    "stream_ticket_spend", "UPDATE stream_tickets SET spent_at = clock_timestamp()"
                           " WHERE digest = decode($1, 'hex') AND spent_at IS NULL AND expires_at > clock_timestamp()"
                           " RETURNING member_id, token_issued_ms, extract(epoch FROM token_expires_at)::bigint"};

static const db_column grant_columns[] = {
    DB_COL_TEXT(stream_grant, member_id),
    DB_COL_LONG(stream_grant, token_iat_ms),
    DB_COL_LONG(stream_grant, token_exp),
    DB_COLUMNS_END,
};

fn_status stream_tickets_db_spend(db_conn *db, const char *digest_hex, stream_grant *out) {
  return db_query_row(db, &spend_ticket, DB_ARGS(digest_hex), FN_UNAUTHENTICATED, grant_columns, out);
}

static const db_stmt latest_seq = {"stream_latest_seq",
                                   "SELECT coalesce(max(seq), 0) FROM notifications WHERE member_id = $1"};

fn_status stream_db_latest_seq(db_conn *db, const char *member_id, long *seq) {
  return db_query_long(db, &latest_seq, DB_ARGS(member_id), seq);
}

static const db_stmt events_after = {
    "stream_events",
    "SELECT n.seq, n.kind, " NOTIFICATION_JSON_SQL
    " FROM notifications n WHERE n.member_id = $1 AND n.seq > $2::bigint ORDER BY n.seq LIMIT $3::int"};

fn_status stream_db_events(db_conn *db, const char *member_id, long after, int limit, PGresult **out) {
  char a[24], l[16];
  snprintf(a, sizeof a, "%ld", after);
  snprintf(l, sizeof l, "%d", limit);
  return db_query_rows(db, &events_after, DB_ARGS(member_id, a, l), out);
}
