/* /v1/me/calendar-feeds and /v1/calendar/{token}.ics: personal calendar feeds that calendar apps
 * subscribe to by URL alone (API.md section 10). The URL carries the secret; the database keeps its
 * digest. The feed is the member's registered events and their groups' meetings: time, place, title. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/calendar_db.h"
#include "forumnet/calendar_feeds_db.h"
#include "forumnet/http.h"
#include "forumnet/pagination.h"
#include "forumnet/password.h"
#include "forumnet/routes.h"

#define NO_SUCH_FEED "No such calendar feed."
#define FEED_SUFFIX ".ics"
#define NO_SUCH_ROUTE "No such route." /* the router's own answer (dispatch.c) */

/* Audits a change of the caller's feeds (on the member; the feed's id in details, never the secret). */
static fn_status audit_feed(fn_req *req, const char *action, const char *feed_id) {
  json_t *details = json_pack("{s:s}", "feed_id", feed_id);
  fn_status st = req_audit(req, action, "member", req->caller.id, details);
  json_decref(details);
  return st;
}

static fn_status calendar_feeds_http_create(fn_req *req) {
  static const field_spec no_fields[] = {{NULL, 0, 0, 0, 0, NULL}};
  char secret[64], digest[65], id[UUID_TEXT_SIZE], created_at[40], url[sizeof req->app->cfg.public_base_url + 80];
  db_conn *db;
  fn_status st;
  if ((st = req_validate_body(req, no_fields, BODY_CREATE)) != FN_OK || (st = req_db(req, &db)) != FN_OK)
    return st;
  random_token(secret, sizeof secret, 32);
  token_digest_hex(secret, digest);
  snprintf(url, sizeof url, "%s/v1/calendar/%s" FEED_SUFFIX, req->app->cfg.public_base_url, secret);
  sodium_memzero(secret, sizeof secret);
  if ((st = db_begin(db)) != FN_OK ||
      (st = calendar_feeds_db_create(db, req->caller.id, digest, id, created_at)) != FN_OK ||
      (st = audit_feed(req, "member.calendar_feed_created", id)) != FN_OK) {
    sodium_memzero(url, sizeof url);
    char detail[96];
    snprintf(detail, sizeof detail, "A member holds at most %d calendar feeds: delete one first.", CALENDAR_FEEDS_MAX);
    return req_problem(req, st, st == FN_CONFLICT ? detail : NULL);
  }
  json_t *body = json_pack("{s:s, s:s, s:s}", "id", id, "url", url, "created_at", created_at);
  sodium_memzero(url, sizeof url);
  char *json = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if (json == NULL)
    return FN_INTERNAL;
  if ((st = db_commit(db)) == FN_OK) /* no ETag: a feed is never read back */
    reply_json_text(req, 201, json, strlen(json));
  sodium_memzero(json, strlen(json));
  free(json);
  return st;
}

static fn_status calendar_feeds_http_list(fn_req *req) {
  page_request page;
  PGresult *res = NULL;
  db_conn *db;
  fn_status st = page_open(req, &page, NULL, &db);
  if (st != FN_OK)
    return st;
  st = calendar_feeds_db_list(db, req->caller.id, &page, &res);
  return page_reply_result(req, st, res, &page);
}

static fn_status calendar_feeds_http_delete(fn_req *req) {
  const char *id;
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "feed_id", NO_SUCH_FEED, &id)) != FN_OK || (st = req_db(req, &db)) != FN_OK ||
      (st = db_begin(db)) != FN_OK || (st = calendar_feeds_db_delete(db, req->caller.id, id)) != FN_OK ||
      (st = audit_feed(req, "member.calendar_feed_deleted", id)) != FN_OK || (st = db_commit(db)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_FEED : NULL);
  reply_empty(req, 204);
  return FN_OK;
}

/* The secret of "<secret>.ics" when it has the length and alphabet the server hands out (1); 0 for any
 * other "<something>.ics", which names no feed (and costs no database round trip); -1 for a segment that
 * is not "<something>.ics" at all, which is no documented path. */
static int feed_secret_from_param(const char *param, char secret[CALENDAR_FEED_SECRET_LEN + 1]) {
  size_t len = param ? strlen(param) : 0, suffix = strlen(FEED_SUFFIX);
  if (len <= suffix || strcmp(param + len - suffix, FEED_SUFFIX) != 0)
    return -1;
  if (len != CALENDAR_FEED_SECRET_LEN + suffix)
    return 0;
  for (size_t i = 0; i < CALENDAR_FEED_SECRET_LEN; i++) {
    char c = param[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return 0;
  }
  memcpy(secret, param, CALENDAR_FEED_SECRET_LEN);
  secret[CALENDAR_FEED_SECRET_LEN] = '\0';
  return 1;
}

/* A strong entity tag for the body: 63 bits of its BLAKE2b digest. */
static long body_version(const char *text, size_t len) {
  unsigned char h[crypto_generichash_BYTES_MIN];
  uint64_t v = 0;
  crypto_generichash(h, sizeof h, (const unsigned char *)text, len, NULL, 0);
  for (int i = 0; i < 8; i++)
    v = (v << 8) | h[i];
  return (long)(v & INT64_MAX);
}

static fn_status calendar_feeds_http_feed(fn_req *req) {
  char secret[CALENDAR_FEED_SECRET_LEN + 1], digest[65], member[UUID_TEXT_SIZE];
  PGresult *res = NULL;
  db_conn *db;
  fn_status st;
  int form = feed_secret_from_param(req_param(req, "feed"), secret);
  if (form <= 0)
    return req_problem(req, FN_NOT_FOUND, form < 0 ? NO_SUCH_ROUTE : NO_SUCH_FEED);
  token_digest_hex(secret, digest);
  sodium_memzero(secret, sizeof secret);
  if ((st = req_db(req, &db)) != FN_OK || (st = calendar_feeds_db_owner(db, digest, member)) != FN_OK ||
      (st = calendar_feeds_db_items(db, member, &res)) != FN_OK)
    return req_problem(req, st, st == FN_NOT_FOUND ? NO_SUCH_FEED : NULL);
  req_db_release(req); /* the rest is formatting */
  size_t len = 0;
  char *text = calendar_ics_take(res, &len);
  if (text == NULL)
    return FN_INTERNAL;
  long version = body_version(text, len);
  reply_etag(req, version);
  reply_header(req, "Cache-Control", "private, no-cache");
  if (req_if_none_match(req, version))
    reply_empty(req, 304);
  else
    reply_text(req, 200, "text/calendar; charset=utf-8", text, len);
  free(text);
  return FN_OK;
}

const fn_route calendar_feeds_routes[] = {
    {"POST", "/v1/me/calendar-feeds", calendar_feeds_http_create,
     ROUTE_JSON_BODY | ROUTE_OPTIONAL_BODY | ROUTE_IDEMPOTENT},
    {"GET", "/v1/me/calendar-feeds", calendar_feeds_http_list, 0},
    {"DELETE", "/v1/me/calendar-feeds/{feed_id}", calendar_feeds_http_delete, 0},
    /* the pattern's {feed} is the whole segment "<secret>.ics": the router matches segments whole */
    {"GET", "/v1/calendar/{feed}", calendar_feeds_http_feed, ROUTE_PUBLIC},
    {NULL, NULL, NULL, 0},
};
