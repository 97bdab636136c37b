/*
 * harness.h — the end-to-end test library for forumnet.
 *
 * Every tests/e2e/e2e_*.c file is one cmocka executable.  A test group starts the real
 * `forumnet serve` and makes an admin in its group setup (harness_suite_start), talks HTTP to
 * it with the http_* functions, and stops it in its group teardown (harness_suite_teardown,
 * which also checks that SIGTERM gives exit status 0).  Tests observe the server only through HTTP;
 * the one exception is harness_psql_scalar(), for audit rows, until GET /v1/audit exists.
 *
 * Environment read here:
 *   FORUMNET_BIN                 path to the forumnet binary (set by ctest)
 *   FORUMNET_TEST_DATABASE_URL   the throwaway PostgreSQL started by scripts/test.sh
 *   FORUMNET_TEST_POOLER_URL     when set (scripts/test.sh's pgbouncer step), servers connect there with
 *                                FORUMNET_DB_POOLER=transaction and FORUMNET_DATABASE_DIRECT_URL set to
 *                                FORUMNET_TEST_DATABASE_URL; psql and `forumnet admin` stay direct
 *   HARNESS_VERBOSE              when set, the server logs every request (FORUMNET_LOG_REQUESTS=1)
 *   HARNESS_EXCHANGE_LOG         when set, every libcurl exchange (http_request and the functions
 *                                built on it) appends a JSON line to this file, which
 *                                tools/validate-responses.sh checks against the OpenAPI document
 *   FORUMNET_DOCS_JS             passed on to the servers (Redoc's bundle for GET /docs) when set
 *
 * Each test makes its own data with unique names (harness_unique), so tests and test
 * binaries can run in parallel against one database and in any order.
 *
 * Ownership: every http_response * is owned by the caller and released with
 * http_response_free().  Strings returned by harness functions are documented one by one.
 *
 * Failures: the assert_* macros (harness_assert.h) print the request, the status, the body and the
 * server's log file before failing the test at the caller's line.  They may be used in
 * tests and in cmocka setup/teardown functions, never in threads other than the test's.
 *
 * The parts, one concern each (harness.h includes them all; tests include only harness.h):
 *   harness_common.h    constants, buffer sizes, the account record, clocks, unique names, text checks
 *   harness_server.h    `forumnet serve` processes; a suite's group setup and teardown
 *   harness_http.h      HTTP requests (libcurl and raw sockets), headers, paged lists, races
 *   harness_assert.h    JSON access and assertions
 *   harness_tokens.h    signing, decoding and forging JWTs
 *   harness_psql.h      psql on the test database; stopping and starting PostgreSQL
 *   harness_fixtures.h  accounts, sites, groups, consultations, partners and events made through the API
 *   harness_oidc.h      a browser stand-in for OpenID Connect sign-ins at a real provider
 * Their implementations are the harness_*.c files of the same concern (harness_internal.h holds what
 * those share among themselves).
 */
#ifndef FORUMNET_E2E_HARNESS_H
#define FORUMNET_E2E_HARNESS_H

#include "harness_common.h" /* first: it sets the POSIX feature macros */

#include "harness_assert.h"
#include "harness_fixtures.h"
#include "harness_http.h"
#include "harness_ics.h"
#include "harness_oidc.h"
#include "harness_psql.h"
#include "harness_server.h"
#include "harness_tokens.h"

#endif
