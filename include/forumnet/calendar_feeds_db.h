#ifndef FORUMNET_CALENDAR_FEEDS_DB_H
#define FORUMNET_CALENDAR_FEEDS_DB_H

#include <libpq-fe.h>

#include "forumnet/db.h"
#include "forumnet/page.h"

/* Personal calendar feeds (API.md section 10): a member's secret URLs for calendar apps. The secret is
 * 32 random bytes (43 base64url characters) shown once; only its BLAKE2b-256 digest is stored. */

/* Feeds a member may hold at once (not revoked): one more is 409. */
#define CALENDAR_FEEDS_MAX 10
/* The secret's length in characters: 32 bytes, base64url without padding. */
#define CALENDAR_FEED_SECRET_LEN 43

/* A new feed for an active member, holding at most CALENDAR_FEEDS_MAX (the member's row is locked, so
 * concurrent requests cannot pass the cap together): its id (UUID_TEXT_SIZE) and created_at (RFC 3339,
 * 40 bytes). Inside the caller's transaction. FN_CONFLICT at the cap, FN_UNAUTHENTICATED when the member
 * is not active. digest_hex: token_digest_hex of the secret. */
fn_status calendar_feeds_db_create(db_conn *db, const char *member_id, const char *digest_hex, char *id,
                                   char *created_at);

/* A page of the member's feeds (not revoked), oldest first: column 0 the item's JSON {id, created_at},
 * column 1 its cursor_key. *result: caller PQclear()s. */
fn_status calendar_feeds_db_list(db_conn *db, const char *member_id, const page_request *page, PGresult **result);

/* Deletes the member's feed: FN_NOT_FOUND when the member holds no such feed. */
fn_status calendar_feeds_db_delete(db_conn *db, const char *member_id, const char *feed_id);

/* Ends every feed of the member (suspension): sets revoked_at; a later reactivation does not revive them. */
fn_status calendar_feeds_db_revoke_member(db_conn *db, const char *member_id);

/* The member whose feed has this digest, when the feed is not revoked and the member is active
 * (member_id, UUID_TEXT_SIZE); FN_NOT_FOUND otherwise. */
fn_status calendar_feeds_db_owner(db_conn *db, const char *digest_hex, char *member_id);

/* The feed's content: the member's registered events (going, waitlisted, interested) that they may still
 * see, and the meetings of the groups they are an active member of, starting from CALENDAR_PAST_DAYS ago,
 * in start order, at most CALENDAR_MAX_EVENTS. Rows have calendar_db.h's calendar_column shape, with no
 * description and no URL (time, place and title only) and DTSTAMP the item's creation time, so that an
 * unchanged feed is byte for byte the same. *result: caller PQclear()s. */
fn_status calendar_feeds_db_items(db_conn *db, const char *member_id, PGresult **result);

#endif
