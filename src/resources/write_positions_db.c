/* Every SQL statement of read-your-writes on a replica (write_positions_db.h). */
#include "forumnet/write_positions_db.h"

/* set_config(..., true) lasts until this transaction's COMMIT, which then does not wait for the flush. */
static const db_stmt record_position = {
    "write_positions_record",
    "INSERT INTO member_write_positions (member_id, lsn, updated_at)"
    " SELECT m.id, pg_current_wal_insert_lsn(), now()"
    " FROM members m, (SELECT set_config('synchronous_commit', 'off', true)) s"
    " WHERE m.id = $1 AND m.status = 'active'"
    " ON CONFLICT (member_id) DO UPDATE SET lsn = excluded.lsn, updated_at = excluded.updated_at"};

fn_status write_positions_db_record(db_conn *db, const char *member_id) {
  const char *params[] = {member_id};
  fn_status st = db_begin(db);
  if (st == FN_OK)
    st = db_exec_command(db, &record_position, 1, params);
  if (st == FN_OK)
    st = db_commit(db);
  else
    db_rollback(db);
  return st;
}

static const db_stmt get_position = {"write_positions_get",
                                     "SELECT lsn::text FROM member_write_positions WHERE member_id = $1"};

fn_status write_positions_db_get(db_conn *db, const char *member_id, char lsn[WRITE_POSITION_SIZE]) {
  lsn[0] = '\0'; /* also when the statement fails */
  return db_query_copy(db, &get_position, DB_ARGS(member_id), lsn, WRITE_POSITION_SIZE);
}

/* pg_last_wal_replay_lsn() is NULL on a server that is not (and never was) a standby: never caught up. */
static const db_stmt replayed = {"write_positions_replayed",
                                 "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)"};

fn_status write_positions_db_replayed(db_conn *db, const char *lsn, int *caught_up) {
  *caught_up = 0; /* also when the statement fails */
  return db_query_bool(db, &replayed, DB_ARGS(lsn), caught_up);
}
