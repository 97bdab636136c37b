#ifndef FORUMNET_WRITE_POSITIONS_DB_H
#define FORUMNET_WRITE_POSITIONS_DB_H

#include "forumnet/db.h"

/* Read-your-writes on a streaming replica (sql/010_write_positions.sql; README "Running several
 * instances"): each member's last change, as a position in the primary's write-ahead log. */

/* Room for a pg_lsn's text ("16/B374D848"). */
#define WRITE_POSITION_SIZE 32

/* On the primary, outside any other transaction: stores the current WAL insert position as the
 * member's (an active member only), in its own small transaction, committed without waiting for a
 * flush (losing it in a crash only sends that member's next summaries to the primary or a stale replica
 * for a moment; a member's changes themselves are as durable as ever). */
fn_status write_positions_db_record(db_conn *db, const char *member_id);

/* On the primary: the member's recorded position in lsn, or "" when none is recorded. */
fn_status write_positions_db_get(db_conn *db, const char *member_id, char lsn[WRITE_POSITION_SIZE]);

/* On the replica: *caught_up 1 when it is a standby that has replayed the log up to lsn. Run it
 * before the statement it guards: that statement's snapshot is then taken after the replay. */
fn_status write_positions_db_replayed(db_conn *db, const char *lsn, int *caught_up);

#endif
