/*
 * harness_server.h — the forumnet servers a test runs (`forumnet serve`, nested), and the start
 * and end of every suite's cmocka group.  Part of harness.h.
 */
#ifndef FORUMNET_E2E_HARNESS_SERVER_H
#define FORUMNET_E2E_HARNESS_SERVER_H

#include "harness_common.h"

/* ------------------------------------------------------------------------------------
 * Server lifecycle
 * ------------------------------------------------------------------------------------ */

/* Starts `$FORUMNET_BIN serve` on 127.0.0.1:<free port> with
 *   FORUMNET_DATABASE_URL=$FORUMNET_TEST_DATABASE_URL, FORUMNET_JWT_SECRET=HARNESS_JWT_SECRET,
 *   FORUMNET_CORS_ORIGINS=HARNESS_CORS_ORIGIN, FORUMNET_LOG_REQUESTS=0 (1 with HARNESS_VERBOSE),
 *   FORUMNET_AUTO_MIGRATE=1 (migrations are advisory-locked, so parallel servers are safe),
 * then every "KEY=VALUE" of extra_env (NULL-terminated array, or NULL), which override the
 * above.  Other FORUMNET_* variables of the test's own environment are not passed on, except
 * FORUMNET_DOCS_JS (before extra_env, which may override it).
 * Waits (10 s at most) for GET /healthz to answer 200, and fails the test otherwise.
 *
 * Servers nest: the new server becomes the current one (the one http_* talks to) until
 * harness_server_stop(), which makes the previous one current again.  So a test can start
 * a second, differently configured server for itself and stop it before returning. */
void harness_server_start(const char *const *extra_env);

/* Stops the current server with SIGTERM and asserts that it exits with status 0 within
 * 10 s (it is killed otherwise).  Safe to call when no server runs (does nothing). */
void harness_server_stop(void);

/* How many servers this process runs (nesting depth), for teardowns that must clean up
 * after a test that failed between its own start and stop. */
int harness_server_depth(void);

/* "http://127.0.0.1:PORT" of the current server (borrowed). */
const char *harness_base_url(void);

/* Path of the current server's log file (stdout and stderr), borrowed; "" if none. */
const char *harness_server_log(void);

/* The current server's log as written so far (up to 1 MiB; the caller frees it). Fails the test if unreadable. */
char *harness_server_log_text(void);

/* Sets the local address outgoing requests of the *calling thread* are sent from, e.g.
 * "127.23.4.5" (all of 127.0.0.0/8 is loopback on Linux), or NULL for the default.
 * Lets a test own a client address for per-address rate limits. */
void harness_set_source_address(const char *ip);

/* Picks a loopback address (127.a.b.c, never 127.0.0.1) unique to this process and call,
 * makes it the calling thread's source address, and returns it (thread-local buffer).
 * Tests that provoke login failures use one so per-address counters never mix tests. */
const char *harness_use_unique_source_address(void);

/* A cmocka test setup (or teardown): the default source address again, so that every test starts
 * from it. */
int harness_reset_source_address(void **state);

/* A cmocka test teardown for a test that starts a server of its own: the default source address
 * again, and every server above the suite's (depth 1) stopped, in case the test failed before
 * stopping its own. */
int harness_stop_test_servers(void **state);

/* ------------------------------------------------------------------------------------
 * Suites (cmocka group setup and teardown)
 * ------------------------------------------------------------------------------------ */

/* The common start of a suite's group setup: harness_server_start(extra_env), then a new admin
 * (harness_new_admin) in *admin.  The suite's own fixtures follow in its group_setup. */
void harness_suite_start(const char *const *extra_env, harness_account *admin);

/* Creates the empty database forumnet_e2e_<name>_<pid> in the test cluster (dropped first if a crashed process
 * of the same pid left it), to be dropped at exit (WITH (FORCE), after the servers are gone when it was made
 * before the first one started), and writes its URL (FORUMNET_TEST_DATABASE_URL as scripts/test.sh set it,
 * with this database) to url_out (size bytes).  Returns its name (borrowed, valid until exit).  Fails the
 * test if it cannot be made.  At most 4 a process.  name: lower-case letters, digits and '_'. */
const char *harness_create_database(const char *name, char *url_out, size_t size);

/* Moves this test process onto a database of its own, before its first server starts: creates
 * forumnet_e2e_<name>_<pid> (harness_create_database), points FORUMNET_TEST_DATABASE_URL (and
 * FORUMNET_TEST_POOLER_URL, when set) at it, and migrates it; it is dropped at exit.  For a suite that
 * would otherwise need the shared database to itself (a job runner runs every due job of its database,
 * exact counts of network-wide notifications, "every other admin"), so that it can run beside the others
 * instead of alone (ctest RUN_SERIAL, the _serial suffix: left for tests that stop PostgreSQL or time things).
 * name: lower-case letters, digits and '_'. */
void harness_use_own_database(const char *name);

/* A cmocka test teardown for tests that start a server of their own: stops every server but the
 * suite's (the test may have failed before stopping its own). */
int harness_stop_nested_servers(void **state);

/* A cmocka group teardown: starts PostgreSQL again if harness_pg_stop stopped it, then stops every
 * server this process still runs, innermost first, each with harness_server_stop (which asserts
 * exit status 0 on SIGTERM).  Pass it to
 * cmocka_run_group_tests as is, or call it last from a suite's own teardown. */
int harness_suite_teardown(void **state);

/* ------------------------------------------------------------------------------------
 * Fault tests (e2e_fault_*.c): the server process
 * ------------------------------------------------------------------------------------ */

/* Polls GET /readyz until it answers status (its state follows the database within about a second:
 * README "How it works", Readiness) and asserts the last answer (a 503 with Retry-After) after
 * timeout_ms. */
void harness_wait_readyz(long status, int timeout_ms);

/* Process id of the current server, 0 if none. */
long harness_server_pid(void);

/* For a test that signalled the current server itself (kill(harness_server_pid(), SIGTERM)):
 * waits up to timeout_ms for it to exit, then pops it like harness_server_stop (killing it with
 * SIGKILL first if it is still running).  Returns its waitpid() status, or -1 if it had to be
 * killed.  Never fails the test: the caller asserts on the result. */
int harness_server_wait_exit(int timeout_ms);

#endif
