#ifndef FORUMNET_HTTP_H
#define FORUMNET_HTTP_H

#include <jansson.h>
#include <stddef.h>

#include "forumnet/body.h"
#include "forumnet/config.h"
#include "forumnet/db.h"
#include "forumnet/status.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

/* Network roles, ordered by reach so "up to facilitator" is a comparison. */
typedef enum member_role { ROLE_NONE = 0, ROLE_PRACTITIONER, ROLE_FACILITATOR, ROLE_MANAGER, ROLE_ADMIN } member_role;

member_role role_from_string(const char *s);  /* ROLE_NONE if unknown or NULL */
const char *role_to_string(member_role role); /* borrowed, static */

struct fn_req;
struct token_subject;

/* Process-wide state shared by every request. */
typedef struct fn_app {
  fn_config cfg;
  db_pool *pool;
  /* How the dispatcher learns whether a verified token's subject still holds it (authenticate in
   * dispatch.c). NULL, always in the server: auth_db_token_subject on the request's connection.
   * Only the fuzz harnesses, which have no database, put a stand-in here. */
  fn_status (*token_subject)(struct fn_req *req, int partner, const char *id, long iat_ms, struct token_subject *out);
} fn_app;

/* Who is calling, as established by the token. Authorization always re-reads the
 * member's current role and status from the database. */
typedef struct fn_caller {
  int authenticated;
  int is_partner; /* a partner client's token (only on ROUTE_PARTNER routes) */
  char id[64];    /* member id, or partner id */
  char token_type[16];
} fn_caller;

typedef struct fn_req fn_req;
typedef void (*fn_handler)(fn_req *req);

enum route_flags {
  ROUTE_PUBLIC = 1u << 0,            /* no token needed */
  ROUTE_JSON_BODY = 1u << 1,         /* requires a JSON object body (415/400 checked before the handler) */
  ROUTE_FORM_BODY = 1u << 2,         /* with ROUTE_JSON_BODY: also accepts x-www-form-urlencoded */
  ROUTE_OPTIONAL_BODY = 1u << 3,     /* with ROUTE_JSON_BODY: an empty body counts as {} */
  ROUTE_PARTNER = 1u << 4,           /* partner tokens (typ "partner", scope events:write) are accepted too */
  ROUTE_ONE_TIME_PASSWORD = 1u << 5, /* open to a member who must still replace a one-time password */
  ROUTE_IDEMPOTENT = 1u << 6,        /* a creating POST: honours Idempotency-Key (req_run_handler) */
};

/* One entry of a resource's route table; tables end with {NULL}. */
typedef struct fn_route {
  const char *method;
  const char *pattern; /* "/v1/sites/{site_id}": {name} matches one path segment */
  fn_handler handler;
  unsigned flags;
} fn_route;

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
  json_t *body; /* parsed object for ROUTE_JSON_BODY routes; borrowed by handlers */
  db_conn *db;  /* acquired on demand by req_db(), released by the dispatcher */
  int status;   /* HTTP status replied, 0 until a reply */
};

/* Request accessors (all borrowed; NULL when absent). */
const char *req_param(const fn_req *req, const char *name);
const char *req_query(const fn_req *req, const char *name);
const char *req_header(const fn_req *req, const char *name);
/* HTTP Basic credentials if the request sent them (1), else 0. Borrowed. */
int req_basic_credentials(const fn_req *req, const char **user, const char **password);

/* The request's database connection, acquired on first use. On failure replies 503
 * itself and returns NULL: handlers just `goto out`. */
db_conn *req_db(fn_req *req);
/* Gives the connection back early (before slow CPU work such as password hashing). */
void req_db_release(fn_req *req);

/* Replies. Each sets the status, body and Content-Type; a second reply replaces the first. */
void reply_json(fn_req *req, int http_status, json_t *body);                      /* steals body */
void reply_json_text(fn_req *req, int http_status, const char *json, size_t len); /* copies */
void reply_text(fn_req *req, int http_status, const char *content_type, const char *text, size_t len);
void reply_empty(fn_req *req, int http_status);
void reply_problem(fn_req *req, fn_status st, const char *detail);
/* A problem with extra members (steals extra, an object; it never overrides the standard ones). */
void reply_problem_with(fn_req *req, fn_status st, const char *detail, json_t *extra);
/* 400 with an "errors" array (steals errors). */
void reply_invalid(fn_req *req, json_t *errors);
/* A problem with the status's standard detail, or an empty reply for 2xx/304. */
void reply_status(fn_req *req, fn_status st);
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

/* Ends a failed handler: rolls back the request's open transaction, if any, and
 * replies with the problem for st (detail may be NULL for the standard text). */
void req_fail(fn_req *req, fn_status st, const char *detail);

/* 1 if s is a canonical UUID; handlers answer 404 for malformed ids in paths. */
int req_is_id(const char *s);

/* Runs the route's handler. On a ROUTE_IDEMPOTENT route with an Idempotency-Key it claims the key
 * in a transaction held around the handler (db_hold_begin) and stores a 2xx answer (status, body,
 * Location, ETag) before that transaction commits; a retry with the same key and request replays
 * it (Idempotent-Replayed: true), the same key with another body or route is 422, a malformed key
 * 400. Handlers need nothing for it: their db_begin/db_commit join the held transaction. */
void req_run_handler(fn_req *req);

/* Validates the body against specs; on failure replies 400 and returns FN_INVALID. */
fn_status req_validate_body(fn_req *req, const struct field_spec *specs);

#endif
