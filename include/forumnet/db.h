#ifndef FORUMNET_DB_H
#define FORUMNET_DB_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "forumnet/caller.h"
#include "forumnet/config.h"
#include "forumnet/page.h"
#include "forumnet/status.h"
#include "forumnet/strbuf.h"

/* A fixed set of PostgreSQL connections shared by the request threads. pool.c is the
 * only owner of PGconn; everything else borrows a db_conn between acquire and release. */
typedef struct db_pool db_pool;
typedef struct db_conn db_conn;

/* A statement that is prepared once per connection, on first use, and again after a
 * reconnect (FORUMNET_DB_POOLER=transaction: sent unnamed, parsed on every call). Define them as static const in the
 * resource's _db.c file; `name` must be unique across the program. */
typedef struct db_stmt {
  const char *name;
  const char *sql;
} db_stmt;

typedef struct db_pool_stats {
  unsigned size, in_use;
  unsigned long waits, timeouts, reconnects;
  unsigned long connect_attempts, connect_failures; /* tried, and failed, connects (reconnects: succeeded) */
} db_pool_stats;

/* Creates a pool of cfg->db_pool_size connections, none open yet: each opens on its first acquire (or
 * db_pool_connect_all), so that the server starts (and answers /healthz) even while PostgreSQL is down. */
fn_status db_pool_create(const fn_config *cfg, db_pool **out);
void db_pool_destroy(db_pool *pool);

/* Opens every connection of the pool now, best effort, so that the first requests after a start find them
 * open: opened on demand under load, a connection (a backend's start and its first catalog reads) kept the
 * requests waiting for it 100 ms to 1 s (README "Performance"). Stops at the first failure and leaves the
 * rest to be opened on demand after the reconnect backoff, as they would have been. */
void db_pool_connect_all(db_pool *pool);

/* Waits up to cfg->db_acquire_timeout_ms for a free connection and makes sure it is
 * connected. FN_UNAVAILABLE when the wait times out or PostgreSQL cannot be reached. After a
 * failed connect (or a read-only server, SQLSTATE 25006) the pool connects again only after
 * cfg->db_reconnect_backoff_ms, and then one connection at a time until one succeeds: meanwhile a
 * connection that needs connecting is FN_UNAVAILABLE at once. */
fn_status db_pool_acquire(db_pool *pool, db_conn **out);

/* A free connection without waiting: FN_CONFLICT when none is free (or threads are queued for one),
 * FN_UNAVAILABLE when it cannot be connected. For the readiness check, which must never queue. */
fn_status db_pool_try_acquire(db_pool *pool, db_conn **out);

/* Returns a connection; rolls back any transaction left open by an error path. */
void db_pool_release(db_pool *pool, db_conn *conn);

void db_pool_get_stats(db_pool *pool, db_pool_stats *out);

/* Opens a standalone connection (for migrate, admin, seed). Caller PQfinish()es it. */
fn_status db_connect(const fn_config *cfg, PGconn **out);

/* A statement's text parameters as the (count, values) pair db_exec and its kin take, from one list so
 * that the two never disagree: db_exec_command(db, &set_password, DB_ARGS(member_id, hash)). */
#define DB_ARGS(...)                                                                                                   \
  (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)), (const char *const[]) { __VA_ARGS__ }

/* Runs a prepared statement with text parameters (NULL entries are SQL NULL).
 * Returns the result (caller PQclear()s) with *st = FN_OK, or NULL with *st set:
 * FN_UNAVAILABLE (connection lost, timeout), FN_CONFLICT (unique or exclusion
 * violation), FN_INVALID (check violation, bad text representation), FN_INTERNAL. */
PGresult *db_exec(db_conn *conn, const db_stmt *stmt, int nparams, const char *const *params, fn_status *st);

/* db_exec for statements whose result is not needed. */
fn_status db_exec_command(db_conn *conn, const db_stmt *stmt, int nparams, const char *const *params);

fn_status db_begin(db_conn *conn);
fn_status db_commit(db_conn *conn);
void db_rollback(db_conn *conn);

/* A new copy of a result's text value (caller frees); NULL only when out of memory, which
 * callers must turn into FN_INTERNAL (never pass the result to strlen unchecked). */
char *db_value_dup(const PGresult *res, int row, int col);

/* Row readers of a result's text values (row, col), one per column type:
 *   db_value_long   an integer column (bigint, int) as a long (0 for NULL);
 *   db_value_bool   a boolean column: 1 for 't';
 *   db_value_copy   the text into a fixed buffer (a UUID into char[UUID_TEXT_SIZE]), cut to fit;
 *   db_value_or_null a new copy, or NULL for SQL NULL (*st FN_INTERNAL when out of memory). */
long db_value_long(const PGresult *res, int row, int col);
int db_value_bool(const PGresult *res, int row, int col);
void db_value_copy(const PGresult *res, int row, int col, char *out, size_t out_size);
char *db_value_or_null(const PGresult *res, int row, int col, fn_status *st);

/* Where a one-row answer's columns go in a struct: one entry a column, in the statement's column
 * order, ended by DB_COLUMNS_END. Each kind reads like its db_value_* reader:
 *   DB_COL_TEXT  into a char array member (cut to fit; not a char *);
 *   DB_COL_DUP   into a char * member, a new copy the caller frees (a text of any length: a JSON payload);
 *   DB_COL_LONG  into a long member;
 *   DB_COL_INT   into an int member (an integer column);
 *   DB_COL_BOOL  into an int member, 1 for 't';
 *   DB_COL_ROLE  into a member_role member (role_from_string);
 *   DB_COL_SKIP  a column read elsewhere, or not at all (the found flag of db_exec_found).
 * A member of another type is a compile error ("comparison of distinct pointer types"). */
typedef enum db_column_kind {
  DB_KIND_END,
  DB_KIND_SKIP,
  DB_KIND_TEXT,
  DB_KIND_DUP,
  DB_KIND_LONG,
  DB_KIND_INT,
  DB_KIND_BOOL,
  DB_KIND_ROLE
} db_column_kind;
typedef struct db_column {
  db_column_kind kind;
  size_t offset, size;
} db_column;
#define DB_IS_A_(type, lvalue, ctype) (0 * sizeof(&((type *)0)->lvalue == (ctype *)0))
#define DB_COLUMN_(kind, type, member, ctype, lvalue)                                                                  \
  { kind, offsetof(type, member) + DB_IS_A_(type, lvalue, ctype), sizeof(((type *)0)->member) }
#define DB_COL_TEXT(type, member) DB_COLUMN_(DB_KIND_TEXT, type, member, char, member[0])
#define DB_COL_DUP(type, member) DB_COLUMN_(DB_KIND_DUP, type, member, char *, member)
#define DB_COL_LONG(type, member) DB_COLUMN_(DB_KIND_LONG, type, member, long, member)
#define DB_COL_INT(type, member) DB_COLUMN_(DB_KIND_INT, type, member, int, member)
#define DB_COL_BOOL(type, member) DB_COLUMN_(DB_KIND_BOOL, type, member, int, member)
#define DB_COL_ROLE(type, member) DB_COLUMN_(DB_KIND_ROLE, type, member, member_role, member)
#define DB_COL_SKIP                                                                                                    \
  { DB_KIND_SKIP, 0, 0 }
#define DB_COLUMNS_END                                                                                                 \
  { DB_KIND_END, 0, 0 }

/* Reads row 0 of res into the struct at out, column by column as cols says, and PQclear()s res: FN_OK, or
 * FN_INTERNAL when a DB_COL_DUP copy ran out of memory (that member is then NULL). */
fn_status db_take_row(PGresult *res, const db_column *cols, void *out);

/* db_exec_row then db_take_row: FN_OK with the row in out, else db_exec's failure or when_no_row
 * (db_exec itself never answers FN_NOT_FOUND, so that one can stand for "no row"). */
fn_status db_query_row(db_conn *conn, const db_stmt *stmt, int nparams, const char *const *params,
                       fn_status when_no_row, const db_column *cols, void *out);

/* db_query_row for a row that may be absent: FN_OK either way, *found (when not NULL) 1 when there
 * was a row, out untouched when there was none. */
fn_status db_query_optional_row(db_conn *conn, const db_stmt *stmt, int nparams, const char *const *params,
                                const db_column *cols, void *out, int *found);

/* db_exec_command for a statement with one parameter. */
fn_status db_exec_on(db_conn *conn, const db_stmt *stmt, const char *param);

/* db_exec for a statement that reads one row: a result with at least one row (caller PQclear()s), or
 * NULL with *st set: db_exec's failure, or when_no_row when there is no row (FN_OK for a row that may
 * be absent: check the result, not *st). */
PGresult *db_exec_row(db_conn *conn, const db_stmt *stmt, int nparams, const char *const *params, fn_status when_no_row,
                      fn_status *st);

/* db_exec_row for a statement whose boolean column 0 says whether what was asked for exists (a LEFT
 * JOIN from the caller's row, so that "no row" can mean an inactive caller): FN_NOT_FOUND when false. */
PGresult *db_exec_found(db_conn *conn, const db_stmt *stmt, int nparams, const char *const *params,
                        fn_status when_no_row, fn_status *st);

/* db_exec_found for a read that decides a change: when lock is not NULL, first runs it with the one
 * parameter id (a SELECT ... FOR UPDATE of the row the answer is about), so that the answer holds until
 * the transaction ends. NULL with *st set when the lock fails. */
PGresult *db_exec_found_locked(db_conn *conn, const db_stmt *lock, const char *id, const db_stmt *stmt, int nparams,
                               const char *const *params, fn_status when_no_row, fn_status *st);

/* db_exec for a statement whose rows the caller reads (a page of a list): the result into *out
 * (caller PQclear()s), NULL when the statement fails. */
fn_status db_query_rows(db_conn *conn, const db_stmt *stmt, int nparams, const char *const *params, PGresult **out);

/* db_query_rows for the usual page of a list under one owner: stmt's parameters are $1 owner_id (a group,
 * a site, the caller...), $2 and $3 the keyset position after which the page starts, $4 its limit plus one. */
/* The end of a page statement for db_query_page: rows after the position ($2, $3) in (ts, id) order, at most $4
 * of them, after the statement's own conditions on $1: " WHERE w.partner_id = $1" DB_PAGE_AFTER("w.created_at",
 * "w.id"). */
#define DB_PAGE_AFTER(ts, id) " AND (" ts ", " id ") > ($2::timestamptz, $3::uuid) ORDER BY " ts ", " id " LIMIT $4"
fn_status db_query_page(db_conn *conn, const db_stmt *stmt, const char *owner_id, const page_request *page,
                        PGresult **out);

/* A resource's fields, listed once for the two forms statements answer them in: one JSON object (a single
 * representation, or one nested in another: DB_JSON_OBJECT) and columns (a page's items, written by
 * page_reply through db_row_json: DB_COLUMNS). The list is a macro FIELDS(F, SEP) that calls F(name,
 * expression) for each field, with SEP between them:
 *   #define SITE_FIELDS_SQL(F, SEP) F("id", "s.id") SEP F("created_at", "rfc3339(s.created_at)")
 *   #define SITE_JSON_SQL DB_JSON_OBJECT(SITE_FIELDS_SQL)     json_build_object('id', s.id, 'created_at', ...)
 *   #define SITE_COLUMNS_SQL DB_COLUMNS(SITE_FIELDS_SQL)      s.id AS "id", rfc3339(s.created_at) AS "created_at" */
#define DB_JSON_PAIR(name, expr) "'" name "', " expr
#define DB_COLUMN(name, expr) expr " AS \"" name "\""
#define DB_JSON_OBJECT(FIELDS) "json_build_object(" FIELDS(DB_JSON_PAIR, ", ") ")"
#define DB_COLUMNS(FIELDS) FIELDS(DB_COLUMN, ", ")

/* A row of an answer as a JSON object (row_json.c): columns [from, to) of the row, each named by its SQL
 * name (alias it: "rfc3339(s.created_at) AS created_at") and written by its type: booleans and numbers
 * bare, json and jsonb as they are, text, uuid, date and enums as strings, SQL NULL as null. Timestamps,
 * intervals, arrays and records are refused (their text is not their JSON form): wrap them in rfc3339() or
 * to_json(). db_row_json_kinds reads the kinds of a result's columns once (kinds has to - from entries);
 * FN_INTERNAL, logged, for a refused column. db_row_json appends one row; a failed allocation is left in
 * out (strbuf's sticky failure). */
typedef enum { DB_JSON_STRING, DB_JSON_NUMBER, DB_JSON_BOOL, DB_JSON_RAW, DB_JSON_REFUSED } db_json_kind;
fn_status db_row_json_kinds(const PGresult *res, int from, int to, db_json_kind *kinds);
void db_row_json(strbuf *out, const PGresult *res, int row, int from, int to, const db_json_kind *kinds);

/* Appends len octets of s as a JSON string, escaped as PostgreSQL's escape_json does. */
void db_json_string(strbuf *out, const char *s, size_t len);

/* The JSON value of a statement's one answer (row 0, column 0) into *out (caller json_decref()s): NULL
 * when there is no row, the value is SQL NULL or it does not parse. FN_OK unless the statement fails. */
fn_status db_query_json(db_conn *conn, const db_stmt *stmt, int nparams, const char *const *params, json_t **out);

/* The first parameter of a partial update's (present, value) pair: "true" when body has key, else "false"
 * (the statement keeps the stored value). */
const char *db_param_present(const json_t *body, const char *key);

/* Takes the first row's text in col: *out a new copy (caller frees), FN_INTERNAL when out of memory.
 * The result must have a row. Clears res. */
fn_status db_take_text(PGresult *res, int col, char **out);

/* Takes the first row's text in col into a fixed buffer (cut to fit): FN_OK. The result must have a
 * row. Clears res. */
fn_status db_take_copy(PGresult *res, int col, char *out, size_t out_size);

/* A resource's representation as a statement answers it: its JSON text (owned: whoever replies with it
 * or fails frees it) and its version (the ETag). The *_db getters fill one; a handler replies with it
 * (reply_conditional_result, req_commit_reply). */
typedef struct {
  char *json;
  long version;
} db_representation;

/* Takes a statement's one-row answer of a representation: column col its JSON text (*json, a new copy
 * the caller frees), column col + 1 its version. FN_NOT_FOUND when there is no row, FN_INTERNAL when out
 * of memory. Clears res either way. */
fn_status db_take_representation(PGresult *res, int col, char **json, long *version);

/* Runs a statement that answers a representation (columns 0 and 1) and takes it: FN_NOT_FOUND when
 * there is no row. */
fn_status db_get_representation(db_conn *conn, const db_stmt *stmt, int nparams, const char *const *params, char **json,
                                long *version);

/* db_get_representation for an INSERT ... RETURNING json, version, id: the new row's id (column 2)
 * into id_out as well. */
fn_status db_insert_representation(db_conn *conn, const db_stmt *stmt, int nparams, const char *const *params,
                                   char **json, long *version, char id_out[UUID_TEXT_SIZE]);

/* The one value (row 0, column 0) a statement answers, read like the db_value_* readers:
 *   db_query_text  a new copy (caller frees); when_no_row when there is no row;
 *   db_query_bool  false when there is no row;
 *   db_query_long  0 when there is no row;
 *   db_query_copy  into a fixed buffer (a UUID into char[UUID_TEXT_SIZE]), "" when there is no row.
 * *out is left alone when the statement fails. */
fn_status db_query_text(db_conn *conn, const db_stmt *stmt, int nparams, const char *const *params,
                        fn_status when_no_row, char **out);
fn_status db_query_bool(db_conn *conn, const db_stmt *stmt, int nparams, const char *const *params, int *out);
fn_status db_query_long(db_conn *conn, const db_stmt *stmt, int nparams, const char *const *params, long *out);
fn_status db_query_copy(db_conn *conn, const db_stmt *stmt, int nparams, const char *const *params, char *out,
                        size_t out_size);

/* A transaction held open around a whole handler (the request layer's Idempotency-Key): until
 * db_hold_end, db_begin joins it and db_commit is deferred (FN_OK while the transaction is
 * healthy), so the handler's work and what the request layer adds commit together.
 * db_rollback still rolls back at once and ends the hold. db_hold_end commits (commit != 0)
 * or rolls back; FN_INTERNAL when there is no held transaction left to commit. */
fn_status db_hold_begin(db_conn *conn);
int db_hold_active(const db_conn *conn);
fn_status db_hold_end(db_conn *conn, int commit);

/* Marks a request's connection: after a successful db_commit, every db_exec fails with
 * FN_INTERNAL (and logs the statement) until the next db_begin. A handler builds its reply
 * inside its transaction, so that once COMMIT succeeded nothing can fail any more (a 5xx for a
 * stored change invites a duplicate retry). Reset by db_pool_acquire. */
void db_end_on_commit(db_conn *conn);

/* A check that decides whether a request may use what it reads (the dispatcher's "is this token still its
 * subject's?", dispatch.c), run in the same round trip as the request's first statement instead of one of its
 * own. db_defer attaches it to the connection; the next db_exec outside a transaction then sends, in one libpq
 * pipeline, BEGIN READ ONLY, the check, its own statement and COMMIT, and hands the check's result to accept.
 * The READ ONLY transaction is the safety: a statement that writes (or locks) fails there with 25006 before
 * the check is known, and is run again on its own once the check accepted. After a refusal or a failure every
 * db_exec, db_begin and db_settle fails with FN_UNAUTHENTICATED (refused) or the check's failure, so nothing
 * more runs for the request. db_begin and db_hold_begin settle a pending check first, alone: changes always
 * run after it. The connection forgets the check when it goes back to the pool. */
typedef enum db_deferred_state {
  DB_DEFERRED_PENDING = 1,
  DB_DEFERRED_ACCEPTED,
  DB_DEFERRED_REFUSED,
  DB_DEFERRED_FAILED
} db_deferred_state;
typedef struct db_deferred {
  const db_stmt *stmt; /* one row of answer */
  int nparams;
  const char *params[2];                   /* borrowed: must outlive the check */
  int (*accept)(PGresult *res, void *ctx); /* the check's result (not to be cleared); 1: go on */
  void *ctx;
  db_deferred_state state;
  fn_status failure; /* FAILED: why (FN_UNAVAILABLE, ...) */
} db_deferred;

void db_defer(db_conn *conn, db_deferred *check);

/* Runs a pending check alone (one round trip); then, or when it has run already: FN_OK when it accepted,
 * FN_UNAUTHENTICATED when it refused, its failure when it failed. FN_OK when no check is attached. */
fn_status db_settle(db_conn *conn);

/* SQLSTATE of the last failed db_exec on this connection ("" if none). Borrowed. */
const char *db_last_sqlstate(const db_conn *conn);

/* Cheap round trip used by /readyz: FN_OK when the database answers. */
fn_status db_ping(db_conn *conn, int *applied_migrations);

/* FORUMNET_DB_POOLER=transaction: checks again that the role's settings are those session mode sends at
 * connect (statement_timeout and lock_timeout = FORUMNET_STATEMENT_TIMEOUT_MS, TimeZone UTC, jit off); a
 * new connection is checked once when it opens. FN_INVALID when they are wrong (logged once, with the
 * ALTER ROLE statements), FN_UNAVAILABLE when the check could not run. Always FN_OK in session mode. */
fn_status db_check_settings(db_pool *pool, db_conn *conn);

#endif
