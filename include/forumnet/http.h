#ifndef FORUMNET_HTTP_H
#define FORUMNET_HTTP_H

#include <jansson.h>
#include <stddef.h>

#include "forumnet/body.h"
#include "forumnet/caller.h"
#include "forumnet/config.h"
#include "forumnet/db.h"
#include "forumnet/status.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

struct fn_req;
struct token_subject;

/* Process-wide state shared by every request. */
typedef struct fn_app {
  fn_config cfg;
  db_pool *pool;
  db_pool *read_pool; /* the streaming replica's (FORUMNET_DATABASE_READ_URL), or NULL */
  /* How the dispatcher learns whether a verified token's subject still holds it (authenticate in
   * dispatch.c). NULL, always in the server: auth_db_token_subject on the request's connection.
   * Only the fuzz harnesses, which have no database, put a stand-in here. */
  fn_status (*token_subject)(struct fn_req *req, int partner, const char *id, long iat_ms, struct token_subject *out);
} fn_app;

typedef struct fn_req fn_req;

/* The one reply rule.
 *
 * A handler either replies and returns FN_OK, or returns a failure status without replying. It
 * replies only through the reply_* functions (and req_commit_reply, which commits first); for a
 * failure it may attach the problem's detail (req_problem), field errors (req_invalid_field,
 * req_invalid) or extra members (req_problem_with), each of which returns the status to pass back.
 * The request layer (req_run_handler) is then the one place where a failure becomes problem+json:
 * it rolls back the request's open transaction and replies. Every helper that returns an fn_status
 * (req_db, req_path_id, req_validate_body, page_from_request, a resource's checks) follows the
 * same rule: it never replies; functions that do reply are named reply_* or *_reply. A handler
 * that returns FN_OK without a reply is a bug, logged and answered 500 by the dispatcher. */
typedef fn_status (*fn_handler)(fn_req *req);

enum route_flags {
  ROUTE_PUBLIC = 1u << 0,            /* no token needed */
  ROUTE_JSON_BODY = 1u << 1,         /* requires a JSON object body (415/400 checked before the handler) */
  ROUTE_FORM_BODY = 1u << 2,         /* with ROUTE_JSON_BODY: also accepts x-www-form-urlencoded */
  ROUTE_OPTIONAL_BODY = 1u << 3,     /* with ROUTE_JSON_BODY: an empty body counts as {} */
  ROUTE_PARTNER = 1u << 4,           /* partner tokens (typ "partner", scope events:write) are accepted too */
  ROUTE_ONE_TIME_PASSWORD = 1u << 5, /* open to a member who must still replace a one-time password */
  ROUTE_IDEMPOTENT = 1u << 6,        /* a creating POST: honours Idempotency-Key (req_run_handler) */
  ROUTE_TICKET = 1u << 7, /* without Authorization, a ?ticket= query stands in for it: the handler checks it */
  ROUTE_PARTNER_WEBHOOKS = 1u << 8, /* partner tokens with scope webhooks:manage are accepted too */
  /* Slow (a summary, an export, an Argon2id hash, a request to another server): served on the slow threads, never
   * on an epoll worker whose other connections would wait for it (http/offload.h). */
  ROUTE_SLOW = 1u << 9,
};

/* One entry of a resource's route table; tables end with {NULL}. */
typedef struct fn_route {
  const char *method;
  const char *pattern; /* "/v1/sites/{site_id}": {name} matches one path segment */
  fn_handler handler;
  unsigned flags;
} fn_route;

/* The four routes every collection has, in a route table: GET collection (prefix_http_list), POST collection
 * (prefix_http_create: a JSON body, honours Idempotency-Key), GET and PATCH (a JSON body) of one item,
 * collection/item_param (prefix_http_get, prefix_http_update); flags are added to each. Routes beyond
 * these (DELETE, sub-resources) follow as rows of their own. ROUTES_COLLECTION_SLOW adds ROUTE_SLOW to the list
 * (list_slow) or the create (create_slow) route: 0 or ROUTE_SLOW each. */
// clang-format off
#define ROUTES_COLLECTION(collection, item_param, prefix, flags)                                          \
  ROUTES_COLLECTION_SLOW(collection, item_param, prefix, flags, 0, 0)
#define ROUTES_COLLECTION_SLOW(collection, item_param, prefix, flags, list_slow, create_slow)               \
  {"GET", collection, prefix##_http_list, (flags) | (list_slow)},                                         \
  {"POST", collection, prefix##_http_create, (flags) | (create_slow) | ROUTE_JSON_BODY | ROUTE_IDEMPOTENT}, \
  {"GET", collection "/" item_param, prefix##_http_get, (flags)},                                         \
  {"PATCH", collection "/" item_param, prefix##_http_update, (flags) | ROUTE_JSON_BODY}
// clang-format on

#define HTTP_MAX_PARAMS 4
#define HTTP_MAX_PARAM_LEN 128

struct _u_request;
struct _u_response;

/* Everything a handler needs about one request. Owned by the dispatcher. */
struct fn_req {
  fn_app *app;
  const struct _u_request *u;
  struct _u_response *res;
  const fn_route *route;
  int route_index;
  char request_id[65];
  char client_address[64];
  int param_count;
  char param_names[HTTP_MAX_PARAMS][32];
  char param_values[HTTP_MAX_PARAMS][HTTP_MAX_PARAM_LEN];
  fn_caller caller;
  json_t *body;     /* parsed object for ROUTE_JSON_BODY routes; borrowed by handlers */
  db_conn *db;      /* acquired on demand by req_db(), released by the dispatcher */
  db_conn *read_db; /* a replica's connection lent by req_replica_db(), released by the dispatcher */
  int status;       /* HTTP status replied, 0 until a reply */
  /* A failure's problem, attached by req_problem and friends, replied by the request layer. */
  char problem_detail[512]; /* "" for the status's standard detail */
  json_t *problem_errors;   /* FN_INVALID's "errors" array, or NULL */
  json_t *problem_extra;    /* more members of the problem object, or NULL */
  int problem_header_count; /* headers for the problem reply (req_problem_header) */
  const char *problem_header_names[2];
  char problem_header_values[2][96];
  /* A GET's token check, sent with the handler's first statement (db_defer; authenticate in dispatch.c). */
  db_deferred auth_check; /* state 0: not deferred */
  char auth_check_iat[24];
  int auth_check_subject_valid, auth_check_password_change;
};

/* Request accessors (all borrowed; NULL when absent). */
const char *req_param(const fn_req *req, const char *name);
const char *req_query(const fn_req *req, const char *name);
const char *req_header(const fn_req *req, const char *name);
/* HTTP Basic credentials if the request sent them (1), else 0. Borrowed. */
int req_basic_credentials(const fn_req *req, const char **user, const char **password);

/* The request's database connection, acquired on first use (*db); FN_UNAVAILABLE with its detail
 * attached when no connection can be had. */
fn_status req_db(fn_req *req, db_conn **db);
/* Gives the connection back early (before slow CPU work such as password hashing). */
void req_db_release(fn_req *req);

/* Read-your-writes on a streaming replica (README "Running several instances"). A read that a replica
 * may serve asks for its connection here: NULL when no replica is configured, when it cannot be reached or
 * errs, or when it has not yet replayed the caller's last change (its position, read on the primary through
 * req_db); the read then runs on the primary. Whatever fails on the connection returned, the read runs on
 * the primary as well (req_replica_release first). Never replies, never attaches a problem. */
db_conn *req_replica_db(fn_req *req);
/* Gives the replica's connection back; failed (a statement failed on it, or its answer was incomplete)
 * is logged when the replica was answering until then. */
void req_replica_release(fn_req *req, int failed);
/* Called by the dispatcher after every request: when a replica is configured, a member's change that was
 * answered 2xx records the member's position (write_positions_db_record). A failure is logged only: the
 * change has committed and its answer stands. */
void req_record_write_position(fn_req *req);

/* Replies. Each sets the status, body and Content-Type; a second reply replaces the first. */
void reply_json(fn_req *req, int http_status, json_t *body);                      /* steals body */
void reply_json_text(fn_req *req, int http_status, const char *json, size_t len); /* copies */
void reply_text(fn_req *req, int http_status, const char *content_type, const char *text, size_t len);
void reply_empty(fn_req *req, int http_status);
/* Problem replies of the request layer itself (the dispatcher, req_reply_failure, and a reply_* that cannot
 * build its body). Handlers never call them: they return the failure (the one reply rule, above).
 * reply_problem_with adds members (steals extra, an object; it never overrides the standard ones). */
void reply_problem(fn_req *req, fn_status st, const char *detail);
void reply_problem_with(fn_req *req, fn_status st, const char *detail, json_t *extra);
void reply_header(fn_req *req, const char *name, const char *value);

/* ETag "<version>" on the reply. */
void reply_etag(fn_req *req, long version);
/* 1 if If-None-Match names this version (or *): the handler answers 304. */
int req_if_none_match(const fn_req *req, long version);
/* FN_OK when If-Match is absent, "*", or names this version; else FN_PRECONDITION_FAILED. */
fn_status req_if_match(const fn_req *req, long version);

/* Answers a single-resource GET: ETag `version`, then 304 when If-None-Match names it, else
 * 200 with json. Frees json. */
void reply_conditional(fn_req *req, char *json, long version);

/* Ends a successful change: commits the request's transaction and only then replies
 * http_status with json (the representation, read inside the transaction), ETag `version`
 * and Location `location` (may be NULL). Once COMMIT succeeded nothing can fail, so a stored
 * change is never answered with a 5xx. On failure replies nothing and returns the status
 * for the caller's req_fail. Frees json either way. */
fn_status req_commit_reply(fn_req *req, int http_status, char *json, long version, const char *location);

/* Ends a successful change that answers no body: commits the request's transaction and only then
 * replies 204. On failure replies nothing and returns the status (like req_commit_reply). */
fn_status req_commit_no_content(fn_req *req);

/* Attach a failure's problem to the request and return st (the handler returns it in turn):
 * `return req_problem(req, FN_NOT_FOUND, "No such site.");`. detail NULL keeps the standard text. */
fn_status req_problem(fn_req *req, fn_status st, const char *detail);
/* req_problem with more members of the problem object (steals extra, an object). */
fn_status req_problem_with(fn_req *req, fn_status st, const char *detail, json_t *extra);
/* A header for the problem reply of the failure being returned (set after the request layer's own, so
 * it can replace one: WWW-Authenticate: Basic for an HTTP Basic client). At most two; name is static. */
void req_problem_header(fn_req *req, const char *name, const char *value);
/* FN_INVALID with the field errors (steals errors; added to any attached before). */
fn_status req_invalid(fn_req *req, json_t *errors);
/* FN_INVALID naming one field: `return req_invalid_field(req, "timezone", "is not a known ...");`. */
fn_status req_invalid_field(fn_req *req, const char *field, const char *message);

/* Ends a handler that returned st: nothing for FN_OK (it replied); else rolls back the request's
 * open transaction and replies the problem attached to the request. req_run_handler calls it. */
void req_reply_failure(fn_req *req, fn_status st);

/* The path parameter `name` when it is a canonical UUID (*id, borrowed); else FN_NOT_FOUND with
 * not_found as detail (ids that cannot exist are answered like ids that do not). */
fn_status req_path_id(fn_req *req, const char *name, const char *not_found, const char **id);

/* Replies a representation outside a change (a read, or a change that changed nothing): ETag
 * `version`, Location `location` (may be NULL), http_status with json. Frees json. */
void reply_representation(fn_req *req, int http_status, char *json, long version, const char *location);

/* Runs the route's handler. On a ROUTE_IDEMPOTENT route with an Idempotency-Key it claims the key
 * in a transaction held around the handler (db_hold_begin) and stores a 2xx answer (status, body,
 * Location, ETag) before that transaction commits; a retry with the same key and request replays
 * it (Idempotent-Replayed: true), the same key with another body or route is 422, a malformed key
 * 400. Handlers need nothing for it: their db_begin/db_commit join the held transaction. */
void req_run_handler(fn_req *req);

/* Validates the body against specs as a creating or an updating body (body_validate_as);
 * FN_INVALID with the field errors attached. */
fn_status req_validate_body(fn_req *req, const struct field_spec *specs, body_mode mode);

/* req_validate_body, then (when the body passed) every item of its array member `member` as an object
 * against item_specs (body_validate_items); FN_INVALID with the field errors attached. */
fn_status req_validate_body_items(fn_req *req, const struct field_spec *specs, body_mode mode, const char *member,
                                  const struct field_spec *item_specs);

/* 1 when the string member key of items[i] equals that of an earlier item (items lacking it are passed
 * over); ignore_case compares ASCII letters case-insensitively (UUIDs). */
int body_item_repeats(const json_t *items, size_t i, const char *key, int ignore_case);

/* Adds "must be a UUID", named "field[i]", to *errors for each item of the array ids (the body member
 * `field`) that is not a canonical UUID string. */
void body_check_uuid_items(const json_t *ids, const char *field, json_t **errors);

/* Ends a check that reports either field errors (*errors of FN_INVALID, stolen) or a detail for any other
 * failure: FN_OK, FN_INVALID with errors attached, or st with detail attached. */
fn_status req_check_result(fn_req *req, fn_status st, json_t *errors, const char *detail);

/* Ends a single-resource GET: with st FN_OK replies rep as reply_conditional does; else returns st
 * with not_found as the detail of FN_NOT_FOUND. Frees rep's json either way. */
fn_status reply_conditional_result(fn_req *req, fn_status st, db_representation *rep, const char *not_found);

/* Reads one item the caller may see: FN_NOT_FOUND for one the caller may not see or that does not exist. */
typedef fn_status (*item_reader)(db_conn *db, const char *caller_id, const char *id, db_representation *out);
/* A GET of one item whose reader alone decides who sees it: the path parameter `param` as its id, then
 * reply_conditional_result with what read finds (not_found: the detail of a 404). */
fn_status req_reply_item(fn_req *req, const char *param, const char *not_found, item_reader read);

/* 1 when the Accept header asks for media_type (named exactly, q > 0) at least as much as for JSON
 * (application/json, or the wildcards application/any and any/any, spelt with '*'); media types compare
 * case-insensitively. */
int req_prefers(const fn_req *req, const char *media_type);

/* Writes the audit row of the change this request makes, on its connection and inside its
 * transaction (audit_db_record with the caller and request id). */
fn_status req_audit(fn_req *req, const char *action, const char *resource_type, const char *resource_id,
                    const json_t *details);

#endif
