/* The live stream of a member's notifications and the tickets that let a browser open it (API.md
 * section 10). The stream itself is src/http/stream.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forumnet/auth_db.h"
#include "forumnet/body.h"
#include "forumnet/http.h"
#include "forumnet/password.h"
#include "forumnet/routes.h"
#include "forumnet/server.h"
#include "forumnet/stream.h"
#include "forumnet/stream_tickets_db.h"

#define BAD_TICKET "The stream ticket is unknown, spent or expired: ask POST /v1/me/stream-tickets for another."

/* The ticket takes no body: {} or nothing; any member is an unknown field (400). */
static const field_spec no_fields[] = {{NULL, 0, 0, 0, 0, NULL}};

static void grant_of_caller(const fn_req *req, stream_grant *grant) {
  snprintf(grant->member_id, sizeof grant->member_id, "%.36s", req->caller.id);
  grant->token_iat_ms = req->caller.token_iat_ms;
  grant->token_exp = req->caller.token_exp;
}

static fn_status stream_tickets_http_create(fn_req *req) {
  char ticket[64], digest[65];
  stream_grant grant;
  db_conn *db;
  fn_status st;
  if ((st = req_validate_body(req, no_fields, BODY_CREATE)) != FN_OK || (st = req_db(req, &db)) != FN_OK)
    return st;
  grant_of_caller(req, &grant);
  random_token(ticket, sizeof ticket, 32);
  token_digest_hex(ticket, digest);
  if ((st = stream_tickets_db_create(db, digest, &grant)) != FN_OK)
    return st;
  reply_json(req, 201, json_pack("{s:s, s:i}", "ticket", ticket, "expires_in", STREAM_TICKET_TTL));
  return FN_OK;
}

/* The stream's owner: the bearer token's member, or the ticket's (spent here, then checked as the
 * dispatcher checks a token). */
static fn_status stream_grant_of(fn_req *req, db_conn *db, stream_grant *grant) {
  if (req->caller.authenticated) {
    grant_of_caller(req, grant);
    return FN_OK;
  }
  char digest[65];
  token_subject subject = {0};
  fn_status st;
  token_digest_hex(req_query(req, "ticket"), digest);
  if ((st = stream_tickets_db_spend(db, digest, grant)) != FN_OK ||
      (st = auth_db_token_subject(db, 0, grant->member_id, grant->token_iat_ms, &subject)) != FN_OK)
    return req_problem(req, st, st == FN_UNAUTHENTICATED ? BAD_TICKET : NULL);
  if (!subject.valid || subject.must_change_password || grant->token_exp <= time(NULL))
    return req_problem(req, FN_UNAUTHENTICATED, BAD_TICKET);
  return FN_OK;
}

/* Where the stream starts: after Last-Event-ID (header, or ?last_event_id= for clients that cannot
 * send it), else after the member's latest notification. -1 when it is not a seq. */
static long requested_after(const fn_req *req) {
  const char *text = req_header(req, "Last-Event-ID");
  if (text == NULL || *text == '\0')
    text = req_query(req, "last_event_id");
  if (text == NULL || *text == '\0')
    return -2; /* absent */
  char *end = NULL;
  errno = 0;
  long seq = strtol(text, &end, 10);
  return text[0] >= '0' && text[0] <= '9' && *end == '\0' && errno == 0 ? seq : -1;
}

static fn_status stream_http_open(fn_req *req) {
  stream_grant grant;
  db_conn *db;
  fn_status st;
  long after = requested_after(req);
  if (after == -1)
    return req_invalid_field(req, "Last-Event-ID", "must be the id of an event of this stream (a whole number)");
  if ((st = req_db(req, &db)) != FN_OK || (st = stream_grant_of(req, db, &grant)) != FN_OK ||
      (after == -2 && (st = stream_db_latest_seq(db, grant.member_id, &after)) != FN_OK))
    return st;
  req_db_release(req); /* the stream reads with a connection of its own, only when woken */
  return stream_reply(req, server_connection(req->u), &grant, after);
}

const fn_route stream_tickets_routes[] = {
    {"POST", "/v1/me/stream-tickets", stream_tickets_http_create, ROUTE_JSON_BODY | ROUTE_OPTIONAL_BODY},
    {"GET", "/v1/me/notifications/stream", stream_http_open, ROUTE_TICKET},
    {NULL, NULL, NULL, 0},
};
