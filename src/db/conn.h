/* Internal to src/db: a pooled connection's state, shared by pool.c (lending connections, reconnecting)
 * and exec.c (running statements on one). Nothing outside src/db includes this. */
#ifndef FORUMNET_DB_CONN_H
#define FORUMNET_DB_CONN_H

#include "forumnet/db.h"

struct db_conn {
  PGconn *pg;
  int in_use;
  int broken; /* reset before next use */
  int held;   /* in a transaction held open by db_hold_begin (db_begin/db_commit join it) */
  /* The statements this session has prepared: grows with the code (about 170 today), so no
   * limit can be hit silently (a forgotten one would be prepared again and fail with 42P05). */
  const db_stmt **prepared;
  int prepared_count, prepared_capacity;
  char sqlstate[6];
  int end_on_commit; /* a request's connection: nothing runs between COMMIT and the next BEGIN */
  int committed;
  int pooled;            /* behind a transaction-mode pooler: no named statements */
  int settings_wrong;    /* transaction pooler: the role's settings were not as required at the last check */
  int read_only;         /* the server refused a write (25006): reconnect, after the backoff */
  db_deferred *deferred; /* db_defer's check, until the connection goes back to the pool */
};

/* Maps a failed result to a status (and records its SQLSTATE); marks the connection broken when the
 * session is gone or the server is read-only. `what` names the statement in the log line. */
fn_status db_classify_failure(db_conn *c, PGresult *res, const char *what);

#endif
