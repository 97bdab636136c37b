/*
 * harness_psql.h — the test database through libpq (audit rows, clean-ups, waits for background work),
 * psql sessions that hold locks, and the PostgreSQL stop/start commands of scripts/test.sh.  Part of harness.h.
 */
#ifndef FORUMNET_E2E_HARNESS_PSQL_H
#define FORUMNET_E2E_HARNESS_PSQL_H

#include "harness_common.h"

/* ------------------------------------------------------------------------------------
 * Database observation
 * ------------------------------------------------------------------------------------ */

/* Runs query on $FORUMNET_TEST_DATABASE_URL (through libpq, on a connection the calling thread keeps) and
 * returns what `psql -Atc query` would print, without the trailing newline, as a new string the caller
 * frees().  Fails the test if the query fails.  For what tests cannot see through the API. */
char *harness_psql_scalar(const char *query);

/* harness_psql_scalar parsed as an integer (e.g. a count(*)). */
long harness_psql_long(const char *query);

/* harness_psql_long of a query made with printf's format (at most 1023 bytes). */
long harness_psql_longf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Audit rows with this action whose resource_id or details contain `about` (a uuid), and whose
 * resource_id, details or actor_id contain `who` (a uuid, or NULL for no such condition). */
long harness_audit_count(const char *action, const char *about, const char *who);

/* Runs sql (any statements, one query string) like harness_psql_scalar, but never fails the test:
 * returns 0 on success and 1 otherwise (as psql's exit status), for teardowns cleaning up after a failed test. */
int harness_psql_try(const char *sql);

/* ------------------------------------------------------------------------------------
 * PostgreSQL control and background sessions (fault tests)
 * ------------------------------------------------------------------------------------ */

/* True when FORUMNET_TEST_PG_STOP and FORUMNET_TEST_PG_START are both set (scripts/test.sh). */
bool harness_pg_control_available(void);

/* Runs the shell command held by the environment variable env_name (FORUMNET_TEST_PG_STOP or
 * FORUMNET_TEST_PG_START) with system().  True when it exits 0; false, with a message on the
 * cmocka error stream, when the variable is unset or the command fails. */
bool harness_run_env_command(const char *env_name);

/* Stops PostgreSQL with FORUMNET_TEST_PG_STOP, failing the test if that fails. Until harness_pg_start
 * runs, PostgreSQL is started again at exit whatever happens. */
void harness_pg_stop(void);

/* Starts PostgreSQL again (FORUMNET_TEST_PG_START) if harness_pg_stop stopped it: true when it runs.
 * Never fails the test, so teardowns can call it too. */
bool harness_pg_start(void);

/* Starts `psql -X -q -v ON_ERROR_STOP=1 -c sql "$FORUMNET_TEST_DATABASE_URL"` in the background
 * (output to /dev/null), e.g. to hold a lock while the server works:
 * "BEGIN; LOCK TABLE sites IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT".
 * Returns its pid; fails the test if it cannot start. */
long harness_psql_background(const char *sql);

/* Waits up to timeout_ms for a psql started by harness_psql_background.  Returns its exit
 * status, or -1 if it had to be killed (SIGKILL).  Never fails the test. */
int harness_psql_wait(long pid, int timeout_ms);

/* ------------------------------------------------------------------------------------
 * Waiting for what happens in the background
 * ------------------------------------------------------------------------------------
 * What a server does after its answer (the job runner, webhook deliveries, email) commits on its own time:
 * an email seen at the SMTP server or a webhook seen at its receiver is sent before the runner's transaction
 * that records it commits. A check of its rows polls with these, never reads once. */

/* Polls harness_psql_long(count_query) every 20 ms until it is at least n; true if that
 * happened within timeout_ms. */
bool harness_psql_wait_count(const char *count_query, long n, int timeout_ms);

/* Polls harness_psql_long(query) every 20 ms until it is exactly value (e.g. a count down to 0: the rows
 * that a background transaction deletes); true if that happened within timeout_ms. */
bool harness_psql_wait_value(const char *query, long value, int timeout_ms);

#endif
