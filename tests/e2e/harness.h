/*
 * harness.h — the end-to-end test library for forumnet.
 *
 * Every tests/e2e/e2e_*.c file is one cmocka executable.  A test group starts the real
 * `forumnet serve` in its group setup (harness_server_start), talks HTTP to it with the
 * http_* functions, and stops it in its group teardown (harness_server_stop, which also
 * checks that SIGTERM gives exit status 0).  Tests observe the server only through HTTP;
 * the one exception is harness_psql_scalar(), for audit rows, until GET /v1/audit exists.
 *
 * Environment read here:
 *   FORUMNET_BIN                 path to the forumnet binary (set by ctest)
 *   FORUMNET_TEST_DATABASE_URL   the throwaway PostgreSQL started by scripts/test.sh
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
 * Failures: the assert_* macros below print the request, the status, the body and the
 * server's log file before failing the test at the caller's line.  They may be used in
 * tests and in cmocka setup/teardown functions, never in threads other than the test's.
 */
#ifndef FORUMNET_E2E_HARNESS_H
#define FORUMNET_E2E_HARNESS_H

/* POSIX 2008 (pthread barriers, mkstemps, strncasecmp): include this header first. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

/* The HS256 secret every test server is started with (exactly 40 bytes), so that tests can
 * forge tokens with libjwt.  Never used outside the tests. */
#define HARNESS_JWT_SECRET "e2e-only-secret-0123456789abcdefghijklmn"
#define HARNESS_JWT_SECRET_LEN 40

/* The origin every test server allows through FORUMNET_CORS_ORIGINS. */
#define HARNESS_CORS_ORIGIN "https://app.example.org"

/* Buffer sizes for the *_out parameters below. */
#define HARNESS_ID_MAX 64
#define HARNESS_NAME_MAX 96
#define HARNESS_EMAIL_MAX 128
#define HARNESS_PASSWORD_MAX 128
#define HARNESS_TOKEN_MAX 4096

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

/* Sets the local address outgoing requests of the *calling thread* are sent from, e.g.
 * "127.23.4.5" (all of 127.0.0.0/8 is loopback on Linux), or NULL for the default.
 * Lets a test own a client address for per-address rate limits. */
void harness_set_source_address(const char *ip);

/* Picks a loopback address (127.a.b.c, never 127.0.0.1) unique to this process and call,
 * makes it the calling thread's source address, and returns it (thread-local buffer).
 * Tests that provoke login failures use one so per-address counters never mix tests. */
const char *harness_use_unique_source_address(void);

/* ------------------------------------------------------------------------------------
 * HTTP
 * ------------------------------------------------------------------------------------ */

typedef struct http_response {
  long status;  /* HTTP status, 0 if the exchange itself failed */
  char *method; /* the request, for failure messages */
  char *path;
  char *body; /* raw body, always NUL-terminated (may contain other NULs) */
  size_t body_len;
  json_t *json;        /* body parsed as JSON (any JSON value), or NULL if it is not JSON */
  size_t header_count; /* response headers, in order, names as sent */
  char **header_names;
  char **header_values; /* values without surrounding whitespace */
  char error[256];      /* transport error text when status is 0 */
} http_response;

void http_response_free(http_response *resp);

/* One request to the current server.  path starts with '/', may carry a query string.
 * token: a bearer token or NULL.  content_type: sent as Content-Type when not NULL.
 * body: NUL-terminated body or NULL (no body).  headers: NULL-terminated list of extra
 * "Name: value" lines or NULL.  Never fails the test: check ->status.  Caller frees. */
http_response *http_request(const char *method, const char *path, const char *token, const char *content_type,
                            const char *body, const char *const *headers);

/* Same with an explicit body length (the body may contain NULs). */
http_response *http_request_len(const char *method, const char *path, const char *token, const char *content_type,
                                const char *body, size_t body_len, const char *const *headers);

/* GET path, with a bearer token or NULL. */
http_response *http_get(const char *path, const char *token);

/* GET path with extra headers (e.g. If-None-Match). */
http_response *http_get_with_headers(const char *path, const char *token, const char *const *headers);

/* Sends body serialised compactly as application/json.  STEALS the reference to body
 * (NULL sends no body), so `http_json("POST", p, t, json_pack(...))` does not leak. */
http_response *http_json(const char *method, const char *path, const char *token, json_t *body);

/* Same with extra headers (e.g. "If-Match: \"3\""). Steals body. */
http_response *http_json_with_headers(const char *method, const char *path, const char *token, json_t *body,
                                      const char *const *headers);

/* Over a raw socket (Connection: close): sends the request line and headers with
 * "Content-Length: <declared_length>" but only the first body_len bytes of body, then
 * reads the answer (10 s at most).  For "413 without reading the body further". */
http_response *http_send_declared_length(const char *method, const char *path, const char *token,
                                         const char *content_type, size_t declared_length, const char *body,
                                         size_t body_len);

/* Over a raw socket: sends body with "Transfer-Encoding: chunked" (no Content-Length) in
 * chunks of chunk_size bytes, then reads the answer (10 s at most). */
http_response *http_send_chunked(const char *method, const char *path, const char *token, const char *content_type,
                                 const char *body, size_t body_len, size_t chunk_size);

/* First value of a response header, matched case-insensitively; NULL if absent (borrowed). */
const char *http_header(const http_response *resp, const char *name);

/* True if any value of the header, split at commas, equals token (case-insensitive,
 * whitespace trimmed): http_header_has_token(r, "Allow", "GET"). */
bool http_header_has_token(const http_response *resp, const char *name, const char *token);

/* Formats a path into a thread-local rotating buffer (8 slots of 1 KiB): convenient inside
 * a call, e.g. http_get(hpath("/v1/sites/%s", id), tok).  Fails the test if truncated. */
const char *hpath(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Percent-encodes s for a query string: a new string the caller frees(). */
char *harness_urlencode(const char *s);

/* ------------------------------------------------------------------------------------
 * JSON access (all borrowed; NULL when absent or of another type)
 * ------------------------------------------------------------------------------------ */

/* Follows a dotted path of object keys: hjson_get(resp->json, "member.id"). */
json_t *hjson_get(const json_t *root, const char *dotted_path);
const char *hjson_str(const json_t *root, const char *dotted_path);

/* True if the value at the path is JSON null (present and null). */
bool hjson_is_null(const json_t *root, const char *dotted_path);

/* The "version" integer of a resource (fails the test if absent). */
#define hjson_version(root) harness_json_int_at((root), "version", __FILE__, __LINE__)
json_int_t harness_json_int_at(const json_t *root, const char *dotted_path, const char *file, int line);

/* ------------------------------------------------------------------------------------
 * Assertions (fail at the caller's line, printing the exchange and the server log path)
 * ------------------------------------------------------------------------------------ */

/* resp->status == status. */
#define assert_status(resp, status) harness_assert_status((resp), (status), __FILE__, __LINE__)

/* A problem+json answer: status, Content-Type application/problem+json, body with string
 * type and title, integer status equal to status, string request_id equal to the
 * X-Request-Id header. */
#define assert_problem(resp, status) harness_assert_problem((resp), (status), NULL, __FILE__, __LINE__)

/* assert_problem plus type == "urn:forumnet:problem:<slug>". */
#define assert_problem_type(resp, status, slug) harness_assert_problem((resp), (status), (slug), __FILE__, __LINE__)

/* The problem body has errors[] with an entry whose field equals field. */
#define assert_error_field(resp, field) harness_assert_error_field((resp), (field), __FILE__, __LINE__)

/* A header is present and equal (case-sensitive value) to expected. */
#define assert_header_equal(resp, name, expected)                                                                      \
  harness_assert_header_equal((resp), (name), (expected), __FILE__, __LINE__)

/* A header is absent. */
#define assert_header_absent(resp, name) harness_assert_header_absent((resp), (name), __FILE__, __LINE__)

/* The string at a dotted JSON path equals expected (or the value is null if expected is NULL). */
#define assert_json_str(root, path, expected) harness_assert_json_str((root), (path), (expected), __FILE__, __LINE__)

/* The integer at a dotted JSON path equals expected. */
#define assert_json_int(root, path, expected) harness_assert_json_int((root), (path), (expected), __FILE__, __LINE__)

/* ETag header equals "\"<version>\"" where version is the body's "version". */
#define assert_etag_matches_version(resp) harness_assert_etag_version((resp), __FILE__, __LINE__)

/* Fails at the caller's line with a printf-style message (plus the server log path). */
#define harness_fail(...) harness_fail_at(__FILE__, __LINE__, __VA_ARGS__)

void harness_assert_status(const http_response *resp, long status, const char *file, int line);
void harness_assert_problem(const http_response *resp, long status, const char *slug, const char *file, int line);
void harness_assert_error_field(const http_response *resp, const char *field, const char *file, int line);
void harness_assert_header_equal(const http_response *resp, const char *name, const char *expected, const char *file,
                                 int line);
void harness_assert_header_absent(const http_response *resp, const char *name, const char *file, int line);
void harness_assert_json_str(const json_t *root, const char *path, const char *expected, const char *file, int line);
void harness_assert_json_int(const json_t *root, const char *path, json_int_t expected, const char *file, int line);
void harness_assert_etag_version(const http_response *resp, const char *file, int line);
void harness_fail_at(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------------------------
 * Fixtures
 * ------------------------------------------------------------------------------------ */

/* Writes "<prefix>-<pid>-<counter>-<time hex>" to out (HARNESS_NAME_MAX bytes): unique per
 * process and call, lowercase, valid as a site slug when prefix is [a-z0-9]+.  Returns out. */
char *harness_unique(const char *prefix, char *out);

/* Writes a unique address "<prefix>-...@test.example" to out (HARNESS_EMAIL_MAX). Returns out. */
char *harness_unique_email(const char *prefix, char *out);

/* A logged-in account made by a fixture. */
typedef struct harness_account {
  char id[HARNESS_ID_MAX];
  char email[HARNESS_EMAIL_MAX];
  char password[HARNESS_PASSWORD_MAX]; /* the one-time password for members made by POST /v1/members */
  char display_name[HARNESS_NAME_MAX];
  char role[16];
  char home_site_id[HARNESS_ID_MAX]; /* "" when none */
  char token[HARNESS_TOKEN_MAX];     /* access token */
  char refresh[HARNESS_TOKEN_MAX];   /* refresh token */
} harness_account;

/* Runs `$FORUMNET_BIN admin create --email <unique>@test.example --role admin --name "Admin X"
 * --password-stdin` (password through a pipe), asserts exit status 0, and checks that the
 * account can log in on the current server.  Writes the email (HARNESS_EMAIL_MAX) and the
 * password (HARNESS_PASSWORD_MAX). */
void harness_create_admin(char *email_out, char *password_out);

/* POST /v1/auth/login; asserts 200 and writes the access token and refresh token
 * (HARNESS_TOKEN_MAX each; either may be NULL). */
void harness_login(const char *email, const char *password, char *token_out, char *refresh_out);

/* A new admin (harness_create_admin), logged in, with its id. */
void harness_new_admin(harness_account *out);

/* POST /v1/sites as admin_token with a unique slug and name; asserts 201 and writes the new
 * site's id (HARNESS_ID_MAX).  Returns the created site as a new reference (caller decrefs). */
json_t *harness_new_site(const char *admin_token, char *site_id_out);

/* Same, keeping only the id. */
void harness_new_site_id(const char *admin_token, char *site_id_out);

/* POST /v1/members as creator_token (role; home_site_id may be NULL), asserts 201, then logs
 * the new member in with its one-time password.  Fills *out.  Then clears the member's
 * must_change_password in the database, standing in for the member setting their own password
 * (a one-time password allows only GET|PATCH /v1/me): acct->password stays valid, and so do
 * the tokens. */
void harness_new_member(const char *creator_token, const char *role, const char *home_site_id, harness_account *out);

/* Like harness_new_member, but the member keeps the one-time password: must_change_password
 * is true, and the token works only on GET|PATCH /v1/me until the password is changed. */
void harness_new_member_one_time(const char *creator_token, const char *role, const char *home_site_id,
                                 harness_account *out);

/* Same with a chosen display name (NULL: a unique one) and email prefix (NULL: the role). */
void harness_new_member_named(const char *creator_token, const char *role, const char *home_site_id,
                              const char *display_name, const char *email_prefix, harness_account *out);

/* A new manager listed for site_id (created and attached with admin_token), logged in. */
void harness_new_manager_of(const char *admin_token, const char *site_id, harness_account *out);

/* Logs *acct in again with acct->password, refreshing acct->token and acct->refresh. */
void harness_relogin(harness_account *acct);

/* ------------------------------------------------------------------------------------
 * Tokens
 * ------------------------------------------------------------------------------------ */

/* Signs a JWT: alg "HS256"/"HS384"/"HS512" with libjwt and key, or "none" built by hand
 * (base64url header and payload, empty signature).  header_extra (object or NULL, borrowed)
 * is merged into the header, e.g. {"kid":"k1"}; "typ":"JWT" is always there, and with "none"
 * header_extra may even replace "alg" (to try spellings such as "None").  claims (object,
 * borrowed) is the payload.  Returns a new string the caller frees(). */
char *harness_jwt_sign(const char *alg, const char *key, size_t key_len, const json_t *header_extra,
                       const json_t *claims);

/* base64url (no padding) of data: a new string the caller frees(). */
char *harness_base64url(const void *data, size_t len);

/* Decodes and verifies an HS256 token with HARNESS_JWT_SECRET; returns its claims as a new
 * JSON object (caller decrefs) or NULL if it does not verify.  *header_out (may be NULL)
 * receives the header as a new object. */
json_t *harness_jwt_decode(const char *token, json_t **header_out);

/* ------------------------------------------------------------------------------------
 * Database observation (audit rows only)
 * ------------------------------------------------------------------------------------ */

/* Runs `psql "$FORUMNET_TEST_DATABASE_URL" -Atc query` and returns its output without the
 * trailing newline, as a new string the caller frees().  Fails the test if psql fails.
 * Only for reading the audit table until GET /v1/audit exists. */
char *harness_psql_scalar(const char *query);

/* harness_psql_scalar parsed as an integer (e.g. a count(*)). */
long harness_psql_long(const char *query);

/* True if s is a lowercase UUID (safe to paste into SQL text). */
bool harness_is_uuid(const char *s);

/* Milliseconds since an arbitrary epoch (monotonic). */
int64_t harness_now_ms(void);

/* Milliseconds since the Unix epoch (wall clock): the iat_ms claim of a token forged now. */
int64_t harness_epoch_ms(void);

/* Sleeps ms milliseconds. */
void harness_sleep_ms(int ms);

/* ------------------------------------------------------------------------------------
 * Quick accounts (no Argon2 login) and forum groups (API.md section 5)
 * ------------------------------------------------------------------------------------ */

/* Writes to token_out (HARNESS_TOKEN_MAX) an access token the server accepts for member_id:
 * HS256 with HARNESS_JWT_SECRET, kid k1, iss/aud of every test server, typ "access", the given
 * role claim, iat and iat_ms (milliseconds) now, valid for one hour.  Costs no login (the server authorises with the
 * member's current role and status from the database anyway). */
void harness_forge_access_token(const char *member_id, const char *role, char *token_out);

/* Like harness_new_member but the token is forged (harness_forge_access_token) instead of
 * logging in with the one-time password: one Argon2 hash (the server's) instead of two.
 * must_change_password is cleared like harness_new_member's.
 * refresh stays "".  For suites that need many accounts and test no authentication. */
void harness_new_member_quick(const char *creator_token, const char *role, const char *home_site_id,
                              harness_account *out);

/* A new manager (quick: forged token) listed for site_id, created and attached with admin_token. */
void harness_new_manager_quick(const char *admin_token, const char *site_id, harness_account *out);

/* Walks GET list_path (with or without a query string; limit=200 is added) page by page and
 * returns true if an item's string field `key` equals value.  Fails the test unless every page
 * answers 200 with "items" and "next_cursor". */
#define harness_list_contains(list_path, token, key, value)                                                            \
  harness_list_contains_at((list_path), (token), (key), (value), __FILE__, __LINE__)
bool harness_list_contains_at(const char *list_path, const char *token, const char *key, const char *value,
                              const char *file, int line);

/* The same walk, returning every item (a new array the caller decrefs). */
#define harness_list_all(list_path, token) harness_list_all_at((list_path), (token), 200, __FILE__, __LINE__)
json_t *harness_list_all_at(const char *list_path, const char *token, int limit, const char *file, int line);

/* POST /v1/groups as token with a unique name "Group <unique>" at site_id (NULL: network-wide),
 * min_members / max_members when > 0 (else the server's defaults).  Asserts 201 and writes the
 * id to group_id_out (HARNESS_ID_MAX, may be NULL).  Returns the Group (new reference). */
#define harness_new_group(token, site_id, min_members, max_members, group_id_out)                                      \
  harness_new_group_at((token), (site_id), (min_members), (max_members), (group_id_out), __FILE__, __LINE__)
json_t *harness_new_group_at(const char *token, const char *site_id, int min_members, int max_members,
                             char *group_id_out, const char *file, int line);

/* GET /v1/groups/{group_id} as token; asserts 200 and returns the Group (new reference). */
#define harness_group_get(group_id, token) harness_group_get_at((group_id), (token), __FILE__, __LINE__)
json_t *harness_group_get_at(const char *group_id, const char *token, const char *file, int line);

/* The join request: POST /v1/groups/{id}/members {} as token; asserts 201, state "requested". */
#define harness_group_request(group_id, token) harness_group_request_at((group_id), (token), __FILE__, __LINE__)
void harness_group_request_at(const char *group_id, const char *token, const char *file, int line);

/* Invitation by a leader: POST {"member_id"[, "role"]} (role NULL: none sent); asserts 201, state "invited". */
#define harness_group_invite(group_id, leader_token, member_id, role)                                                  \
  harness_group_invite_at((group_id), (leader_token), (member_id), (role), __FILE__, __LINE__)
void harness_group_invite_at(const char *group_id, const char *leader_token, const char *member_id, const char *role,
                             const char *file, int line);

/* PATCH /v1/groups/{id}/members/{member_id} {"state":"active"} as token (a leader approving a
 * request, or the invitee accepting); asserts 200 and state "active". */
#define harness_group_activate(group_id, token, member_id)                                                             \
  harness_group_activate_at((group_id), (token), (member_id), __FILE__, __LINE__)
void harness_group_activate_at(const char *group_id, const char *token, const char *member_id, const char *file,
                               int line);

/* Makes acct an active member: its own join request, then the leader's approval. */
#define harness_group_join(group_id, leader_token, acct)                                                               \
  harness_group_join_at((group_id), (leader_token), (acct), __FILE__, __LINE__)
void harness_group_join_at(const char *group_id, const char *leader_token, const harness_account *acct,
                           const char *file, int line);

/* PATCH {"role": role} on member_id's membership as token; asserts 200 and the new role. */
#define harness_group_set_role(group_id, token, member_id, role)                                                       \
  harness_group_set_role_at((group_id), (token), (member_id), (role), __FILE__, __LINE__)
void harness_group_set_role_at(const char *group_id, const char *token, const char *member_id, const char *role,
                               const char *file, int line);

/* POST /v1/groups/{id}/terms {"body": body} as a leader; asserts 201; returns the new version. */
#define harness_group_post_terms(group_id, leader_token, body)                                                         \
  harness_group_post_terms_at((group_id), (leader_token), (body), __FILE__, __LINE__)
int harness_group_post_terms_at(const char *group_id, const char *leader_token, const char *body, const char *file,
                                int line);

/* POST /v1/groups/{id}/terms/{version}/acceptances {} as token; asserts 201 or 200. */
#define harness_group_accept_terms(group_id, version, token)                                                           \
  harness_group_accept_terms_at((group_id), (version), (token), __FILE__, __LINE__)
void harness_group_accept_terms_at(const char *group_id, int version, const char *token, const char *file, int line);

/* One request of a race (harness_race). */
typedef struct harness_race_req {
  const char *method;
  char path[512];
  const char *token;
  json_t *body;       /* sent as JSON and released by harness_race; NULL: no body */
  long status;        /* out: HTTP status (0 if the exchange failed) */
  char response[512]; /* out: the start of the response body */
} harness_race_req;

/* Sends the n requests (1..16) from n threads released together by a barrier, and waits for
 * all of them.  Assert on the statuses afterwards, in the test's own thread. */
void harness_race(harness_race_req *reqs, int n);

/* Audit rows with this action whose resource_id or details contain `about` (a uuid), and whose
 * resource_id, details or actor_id contain `who` (a uuid, or NULL for no such condition). */
long harness_audit_count(const char *action, const char *about, const char *who);

/* ------------------------------------------------------------------------------------
 * consultations (API.md section 6): helpers for e2e_consultations.c and
 * e2e_consultation_responses.c
 * ------------------------------------------------------------------------------------ */

/* Writes the current time plus offset_seconds as RFC 3339 UTC ("2026-11-22T10:00:00Z") to out
 * (32 bytes at least).  Returns out. */
char *harness_rfc3339_from_now(long offset_seconds, char *out);

/* A new, valid POST /v1/consultations body (new reference): a unique title, a summary, three
 * questions with ids "q1", "q2", "q3" in that order, target {"site_ids": [site_id] or [],
 * "group_ids": [group_id] or []} (either may be NULL), opens_at = now + opens_in and
 * closes_at = now + closes_in seconds. */
json_t *harness_consultation_body(const char *site_id, const char *group_id, long opens_in, long closes_in);

/* POST /v1/consultations as token with body (STOLEN); asserts 201 and status "draft", writes the
 * id to id_out (HARNESS_ID_MAX, may be NULL) and returns the Consultation (new reference). */
#define harness_new_consultation(token, body, id_out)                                                                  \
  harness_new_consultation_at((token), (body), (id_out), __FILE__, __LINE__)
json_t *harness_new_consultation_at(const char *token, json_t *body, char *id_out, const char *file, int line);

/* GET /v1/consultations/{id} as token; asserts 200 and returns the Consultation (new reference). */
#define harness_consultation_get(id, token) harness_consultation_get_at((id), (token), __FILE__, __LINE__)
json_t *harness_consultation_get_at(const char *id, const char *token, const char *file, int line);

/* PATCH /v1/consultations/{id} {"status": status} as token (no If-Match); asserts 200 and that the
 * answer's status is status. */
#define harness_consultation_set_status(id, token, status)                                                             \
  harness_consultation_set_status_at((id), (token), (status), __FILE__, __LINE__)
void harness_consultation_set_status_at(const char *id, const char *token, const char *status, const char *file,
                                        int line);

/* A world to consult, built through the API only (quick accounts with forged tokens):
 *   site_a, site_b; mgr_a and mgr_a2 manage site_a, mgr_b manages site_b;
 *   group1 at site_a, made `active`: conv1 (convener, proposer), rep1 (role representative,
 *     set by PATCH), mem1 and mem1b (role member), fac_b (a network facilitator whose home site
 *     is site_b, role member); terms version 1 published and accepted by all five;
 *   group2 at site_a (forming): conv2 (convener), mem2 (member);
 *   group_b at site_b (forming): conv_b (convener);
 *   lone_a: a practitioner at site_a in no group; pb: a practitioner at site_b in no group.
 * Practitioners' home site is the site of their group. */
typedef struct harness_consult_world {
  char site_a[HARNESS_ID_MAX], site_b[HARNESS_ID_MAX];
  harness_account mgr_a, mgr_a2, mgr_b;
  char group1[HARNESS_ID_MAX], group1_name[HARNESS_NAME_MAX];
  harness_account conv1, rep1, mem1, mem1b, fac_b;
  char group2[HARNESS_ID_MAX], group2_name[HARNESS_NAME_MAX];
  harness_account conv2, mem2;
  char group_b[HARNESS_ID_MAX];
  harness_account conv_b;
  harness_account lone_a, pb;
} harness_consult_world;

void harness_consult_world_build(const char *admin_token, harness_consult_world *w);

/* ------------------------------------------------------------------------------------
 * partners/events (API.md section 7): helpers for e2e_partners.c, e2e_events.c,
 * e2e_registrations.c and e2e_calendar.c
 * ------------------------------------------------------------------------------------ */

/* A partner client made by harness_new_partner, with a partner access token. */
typedef struct harness_partner {
  char id[HARNESS_ID_MAX];
  char name[HARNESS_NAME_MAX];
  char client_id[HARNESS_ID_MAX];
  char client_secret[HARNESS_ID_MAX];
  char token[HARNESS_TOKEN_MAX]; /* from the client-credentials grant */
} harness_partner;

/* POST /v1/partners {"name": "Partner <unique>", "trusted": trusted} as admin_token; asserts 201
 * with id, client_id and client_secret, then gets a token (harness_partner_login). */
#define harness_new_partner(admin_token, trusted, out)                                                                 \
  harness_new_partner_at((admin_token), (trusted), (out), __FILE__, __LINE__)
void harness_new_partner_at(const char *admin_token, bool trusted, harness_partner *out, const char *file, int line);

/* POST /v1/auth/token as JSON {"grant_type":"client_credentials","client_id","client_secret"}
 * (no bearer token).  Never fails the test: the caller checks and frees the answer. */
http_response *harness_partner_token_request(const char *client_id, const char *client_secret);

/* The same grant; asserts 200 with a token_type Bearer access_token and writes it to p->token. */
#define harness_partner_login(p) harness_partner_login_at((p), __FILE__, __LINE__)
void harness_partner_login_at(harness_partner *p, const char *file, int line);

/* A new, valid POST /v1/events body (new reference): kind, a unique title "Event <unique>",
 * starts_at = now + starts_in seconds (whole seconds, UTC), ends_at = starts_at + duration,
 * audience {"scope":"sites","site_ids":[site_id]} or {"scope":"network"} when site_id is NULL. */
json_t *harness_event_body(const char *kind, long starts_in, long duration, const char *site_id);

/* POST /v1/events as token with body (STOLEN); asserts 201, writes the id to id_out
 * (HARNESS_ID_MAX, may be NULL) and returns the Event (new reference). */
#define harness_new_event(token, body, id_out) harness_new_event_at((token), (body), (id_out), __FILE__, __LINE__)
json_t *harness_new_event_at(const char *token, json_t *body, char *id_out, const char *file, int line);

/* GET /v1/events/{id} as token; asserts 200 and returns the Event (new reference). */
#define harness_event_get(id, token) harness_event_get_at((id), (token), __FILE__, __LINE__)
json_t *harness_event_get_at(const char *id, const char *token, const char *file, int line);

/* PATCH /v1/events/{id} {"status":"published"} as token; asserts 200 and status "published". */
#define harness_event_publish(id, token) harness_event_publish_at((id), (token), __FILE__, __LINE__)
void harness_event_publish_at(const char *id, const char *token, const char *file, int line);

/* One request of harness_race_raw: a raw body and extra headers, and the whole answer. */
typedef struct harness_race_raw_req {
  const char *method;
  char path[512];
  const char *token;
  const char *body;       /* sent byte for byte as application/json (borrowed); NULL: no body */
  const char *headers[5]; /* extra "Name: value" lines, NULL-terminated (borrowed) */
  http_response *resp;    /* out: the answer; the caller frees it with http_response_free */
} harness_race_raw_req;

/* Sends the n requests (1..16) from n threads released together by a barrier, and waits for
 * all of them.  Assert on the answers afterwards, in the test's own thread. */
void harness_race_raw(harness_race_raw_req *reqs, int n);

/* ------------------------------------------------------------------------------------
 * Fault tests (e2e_fault_*_serial.c): the server process, PostgreSQL control, raw sockets
 * ------------------------------------------------------------------------------------ */

/* Process id of the current server, 0 if none. */
long harness_server_pid(void);

/* For a test that signalled the current server itself (kill(harness_server_pid(), SIGTERM)):
 * waits up to timeout_ms for it to exit, then pops it like harness_server_stop (killing it with
 * SIGKILL first if it is still running).  Returns its waitpid() status, or -1 if it had to be
 * killed.  Never fails the test: the caller asserts on the result. */
int harness_server_wait_exit(int timeout_ms);

/* http_request with an overall time limit in milliseconds (http_request allows 30 s); the
 * connection attempt is limited to min(timeout_ms, 5000).  Thread-safe like http_request. */
http_response *http_request_timeout(const char *method, const char *path, const char *token, const char *content_type,
                                    const char *body, const char *const *headers, long timeout_ms);

/* True when FORUMNET_TEST_PG_STOP and FORUMNET_TEST_PG_START are both set (scripts/test.sh). */
bool harness_pg_control_available(void);

/* Runs the shell command held by the environment variable env_name (FORUMNET_TEST_PG_STOP or
 * FORUMNET_TEST_PG_START) with system().  True when it exits 0; false, with a message on the
 * cmocka error stream, when the variable is unset or the command fails. */
bool harness_run_env_command(const char *env_name);

/* Starts `psql -X -q -v ON_ERROR_STOP=1 -c sql "$FORUMNET_TEST_DATABASE_URL"` in the background
 * (output to /dev/null), e.g. to hold a lock while the server works:
 * "BEGIN; LOCK TABLE sites IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT".
 * Returns its pid; fails the test if it cannot start. */
long harness_psql_background(const char *sql);

/* Waits up to timeout_ms for a psql started by harness_psql_background.  Returns its exit
 * status, or -1 if it had to be killed (SIGKILL).  Never fails the test. */
int harness_psql_wait(long pid, int timeout_ms);

/* Polls harness_psql_long(count_query) every 20 ms until it is at least n; true if that
 * happened within timeout_ms. */
bool harness_psql_wait_count(const char *count_query, long n, int timeout_ms);

/* A blocking TCP connection to the current server (127.0.0.1), without sending anything; -1
 * (errno set) if connect() fails.  The caller closes it. */
int harness_server_connect(void);

/* ------------------------------------------------------------------------------------
 * Security suites (e2e_owasp_*.c, e2e_data_protection.c, e2e_audit.c)
 * ------------------------------------------------------------------------------------ */

/* Sends raw bytes (a whole HTTP/1.1 request: the caller's own request line, headers and framing)
 * over a new connection to the current server and reads the answer (timeout_ms at most; status 0
 * and ->error when none came), parsed like http_send_declared_length's.  method and path only
 * label the answer in failure messages.  For requests libcurl and hpath cannot build: URLs or
 * headers of any length, odd framing. */
http_response *http_send_raw(const char *method, const char *path, const char *raw, size_t raw_len, int timeout_ms);

/* Runs sql (any statements) through psql like harness_psql_scalar, but never fails the test:
 * returns psql's exit status (0 on success), for teardowns cleaning up after a failed test. */
int harness_psql_try(const char *sql);

/* Pauses (true) or resumes (false) the HARNESS_EXCHANGE_LOG record of exchanges, around requests a
 * test makes to provoke answers the OpenAPI document need not describe: forced database failures
 * (500), refusals by the HTTP layer (431), HEAD.  Call from the test's own thread while no other
 * thread makes requests.  Resuming when not paused does nothing. */
void harness_exchange_log_pause(bool paused);

#endif
