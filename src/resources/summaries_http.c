/* /v1/sites/{site_id}/summary and /v1/summaries/sites: aggregates for managers (API.md section 8).
 * What a summary may show is summaries_policy.c, its CSV form summaries_csv.c; here are who may ask,
 * the window asked for, and the answer's media type (JSON, or CSV when Accept prefers it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forumnet/body.h"
#include "forumnet/http.h"
#include "forumnet/members_db.h"
#include "forumnet/metrics.h"
#include "forumnet/pagination.h"
#include "forumnet/routes.h"
#include "forumnet/sites_db.h"
#include "forumnet/summaries.h"
#include "forumnet/summaries_db.h"
#include "forumnet/timestamp.h"

#define NO_SUCH_SITE "No such site."
#define DEFAULT_WINDOW_SECONDS (365L * 24 * 3600)

/* ?from=&to= (RFC 3339), default the last 12 months; from must be before to. The figures cover
 * that window widened to whole UTC days, at least SUMMARY_MIN_WINDOW_DAYS (summaries_window_widen). */
static fn_status parse_window(fn_req *req, summary_window *w) {
  const char *f = req_query(req, "from"), *t = req_query(req, "to");
  long long fu = 0, tu = 0;
  json_t *errors = NULL;
  time_t now = time(NULL), start = now - DEFAULT_WINDOW_SECONDS;
  if (f && !rfc3339_parse(f, &fu))
    field_errors_add(&errors, "from", "must be an RFC 3339 date-time");
  if (t && !rfc3339_parse(t, &tu))
    field_errors_add(&errors, "to", "must be an RFC 3339 date-time");
  if (!errors) { /* compare with the defaults too: from alone may lie after now */
    if (!f)
      fu = (long long)start * 1000000LL;
    if (!t)
      tu = (long long)now * 1000000LL;
    if (fu >= tu)
      field_errors_add(&errors, "from", "must be before to");
  }
  if (errors)
    return req_invalid(req, errors);
  summaries_window_make(fu, tu, w);
  return FN_OK;
}

/* The raw figures of the sites in ids (a JSON array of UUIDs): on the replica when one may serve them
 * (req_replica_db: it has replayed the caller's last change) and answers for every site asked for, else on
 * the primary db. A site the replica does not know yet (another member's change it has not replayed) sends
 * the whole read to the primary. */
static fn_status figures(fn_req *req, db_conn *db, const char *ids, const summary_window *w, PGresult **res) {
  unsigned threshold = req->app->cfg.suppression_threshold;
  db_conn *replica = req_replica_db(req);
  if (replica != NULL) {
    json_t *asked = json_loads(ids, 0, NULL);
    fn_status st = summaries_db_figures(replica, ids, w->used_from, w->used_to, threshold, res);
    int complete = st == FN_OK && (size_t)PQntuples(*res) == json_array_size(asked);
    json_decref(asked);
    req_replica_release(req, st != FN_OK);
    if (complete) {
      metrics_summary_read(1);
      return FN_OK;
    }
    if (st == FN_OK) {
      metrics_replica_fallback(METRICS_FALLBACK_BEHIND);
      PQclear(*res);
    }
  }
  metrics_summary_read(0);
  return summaries_db_figures(db, ids, w->used_from, w->used_to, threshold, res);
}

/* The summary objects of the sites in ids (a JSON array of UUIDs), in that order, suppression
 * applied: *items a new array. Never an array with a site missing (FN_INTERNAL instead). */
static fn_status summarise(fn_req *req, db_conn *db, const char *ids, const summary_window *w, json_t **items) {
  unsigned threshold = req->app->cfg.suppression_threshold;
  PGresult *res = NULL;
  fn_status st = figures(req, db, ids, w, &res);
  if (st != FN_OK)
    return st;
  json_t *all = json_array();
  for (int i = 0; all != NULL && i < PQntuples(res); i++) {
    if (json_array_append_new(all, summaries_object(res, i, w, threshold)) != 0) {
      json_decref(all);
      all = NULL;
    }
  }
  PQclear(res);
  *items = all;
  return all != NULL ? FN_OK : FN_INTERNAL;
}

/* Admins summarise every site, managers the sites they manage. Sites are public to members, so
 * another site is "not allowed", not "not found". */
static fn_status check_may_summarise(fn_req *req, db_conn *db, const char *site_id) {
  member_caller caller;
  int manages = 0;
  fn_status st;
  if ((st = members_db_load_caller(db, req->caller.id, &caller)) != FN_OK ||
      (st = sites_db_is_manager(db, site_id, caller.id, &manages)) != FN_OK)
    return st;
  if (caller.role == ROLE_ADMIN || (caller.role == ROLE_MANAGER && manages))
    return FN_OK;
  char *site = NULL;
  long version;
  st = sites_db_get(db, req->caller.id, site_id, &site, &version);
  free(site);
  return st == FN_OK ? req_problem(req, FN_FORBIDDEN, "Summaries are for admins and the site's managers.")
                     : req_problem(req, FN_NOT_FOUND, NO_SUCH_SITE);
}

static fn_status summaries_http_site(fn_req *req) {
  const char *id;
  summary_window w;
  char ids[64];
  json_t *items = NULL;
  db_conn *db;
  fn_status st;
  if ((st = req_path_id(req, "site_id", NO_SUCH_SITE, &id)) != FN_OK || (st = parse_window(req, &w)) != FN_OK ||
      (st = req_db(req, &db)) != FN_OK || (st = check_may_summarise(req, db, id)) != FN_OK)
    return st;
  snprintf(ids, sizeof ids, "[\"%s\"]", id);
  if ((st = summarise(req, db, ids, &w, &items)) != FN_OK)
    return st;
  json_t *summary = json_incref(json_array_get(items, 0));
  json_decref(items);
  if (summary == NULL)
    return req_problem(req, FN_NOT_FOUND, NO_SUCH_SITE);
  reply_json(req, 200, summary);
  return FN_OK;
}

/* Replies a page of summaries (steals items) as CSV, its next cursor in X-Next-Cursor, or as
 * JSON {"items", "next_cursor"}; cursor "" on the last page. FN_INTERNAL, without a reply, when
 * memory runs out. */
static fn_status summaries_reply_page(fn_req *req, json_t *items, const char *cursor) {
  if (!req_prefers(req, "text/csv")) {
    json_t *body =
        json_pack("{s:o, s:o}", "items", items, "next_cursor", cursor[0] ? json_string(cursor) : json_null());
    if (body == NULL)
      return FN_INTERNAL;
    reply_json(req, 200, body);
    return FN_OK;
  }
  size_t len;
  char *csv = summaries_csv(items, &len);
  json_decref(items);
  if (csv == NULL)
    return FN_INTERNAL;
  if (cursor[0])
    reply_header(req, "X-Next-Cursor", cursor); /* CSV has no place for it in the body */
  reply_text(req, 200, "text/csv; charset=utf-8; header=present", csv, len);
  free(csv);
  return FN_OK;
}

static fn_status summaries_http_sites(fn_req *req) {
  page_request page;
  summary_window w;
  char next_key[SUMMARY_CURSOR_KEY_SIZE], cursor[256] = "", *ids = NULL;
  member_caller caller;
  json_t *items = NULL;
  db_conn *db;
  fn_status st;
  if ((st = page_from_request(req, &page)) != FN_OK || (st = parse_window(req, &w)) != FN_OK ||
      (st = req_db(req, &db)) != FN_OK || (st = members_db_load_caller(db, req->caller.id, &caller)) != FN_OK)
    return st;
  if (caller.role != ROLE_ADMIN && caller.role != ROLE_MANAGER)
    return req_problem(req, FN_FORBIDDEN, "Summaries are for admins and managers.");
  if ((st = summaries_db_site_page(db, caller.id, &page, &ids, next_key)) != FN_OK)
    return st;
  st = summarise(req, db, ids, &w, &items);
  free(ids);
  if (st != FN_OK)
    return st;
  if (next_key[0])
    page_cursor_encode(next_key, cursor, sizeof cursor);
  return summaries_reply_page(req, items, cursor);
}

const fn_route summaries_routes[] = {
    {"GET", "/v1/sites/{site_id}/summary", summaries_http_site, ROUTE_SLOW},
    {"GET", "/v1/summaries/sites", summaries_http_sites, ROUTE_SLOW},
    {NULL, NULL, NULL, 0},
};
