#ifndef FORUMNET_STREAM_TICKETS_DB_H
#define FORUMNET_STREAM_TICKETS_DB_H

#include <libpq-fe.h>

#include "forumnet/caller.h"
#include "forumnet/db.h"

/* What a live stream runs on: whose it is and the token it was opened with. */
typedef struct stream_grant {
  char member_id[UUID_TEXT_SIZE];
  long token_iat_ms; /* re-checked as the dispatcher checks a token (auth_db_token_subject) */
  long token_exp;    /* seconds since the epoch: the stream ends then */
} stream_grant;

/* Seconds a stream ticket is valid. */
#define STREAM_TICKET_TTL 60

/* Stores a ticket's digest (hex) for the grant, valid STREAM_TICKET_TTL seconds; also deletes the
 * member's tickets that expired, so they never pile up. */
fn_status stream_tickets_db_create(db_conn *db, const char *digest_hex, const stream_grant *grant);
/* Spends the ticket with this digest in one statement (so it is used once however many requests race):
 * FN_OK with *out, or FN_UNAUTHENTICATED when it is unknown, spent or expired. */
fn_status stream_tickets_db_spend(db_conn *db, const char *digest_hex, stream_grant *out);

/* The member's latest notification's seq ("0" when none), where a stream without Last-Event-ID starts. */
fn_status stream_db_latest_seq(db_conn *db, const char *member_id, long *seq);
/* The member's notifications after seq `after`, oldest first, at most `limit`: columns seq, kind and the
 * notification's JSON ({id, kind, created_at, read_at, subject: {type, id}, group_id, title}). */
fn_status stream_db_events(db_conn *db, const char *member_id, long after, int limit, PGresult **out);

#endif
