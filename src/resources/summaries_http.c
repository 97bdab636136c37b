/* /v1/sites/{site_id}/summary and /v1/summaries/sites: aggregates for managers (API.md
 * section 8). What is said in a forum stays in the forum: only counts leave, and a count of
 * people below the threshold (FORUMNET_SUPPRESSION_THRESHOLD) is null, named in "suppressed",
 * and so is any rate computed from it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "forumnet/http.h"
#include "forumnet/json_util.h"
#include "forumnet/members_db.h"
#include "forumnet/pagination.h"
#include "forumnet/routes.h"
#include "forumnet/sites_db.h"
#include "forumnet/summaries_db.h"

#define DEFAULT_WINDOW_SECONDS (365L * 24 * 3600)

static long long column_number(PGresult *res, int row, int col) { return atoll(PQgetvalue(res, row, col)); }

/* Sets key to a people count, or to null (and lists it as suppressed) below the threshold.
 * Returns 1 when shown. */
static int put_people_count(json_t *obj, json_t *suppressed, const char *key, long long n, unsigned threshold) {
  if (n >= (long long)threshold) {
    json_object_set_new(obj, key, json_integer(n));
    return 1;
  }
  json_object_set_new(obj, key, json_null());
  json_array_append_new(suppressed, json_string(key));
  return 0;
}

static void put_rate(json_t *obj, json_t *suppressed, const char *key, int shown, double numerator,
                     double denominator) {
  if (!shown) {
    json_object_set_new(obj, key, json_null());
    json_array_append_new(suppressed, json_string(key));
  } else {
    json_object_set_new(obj, key,
                        denominator > 0 ? json_real((double)(long)(numerator / denominator * 1000 + 0.5) / 1000)
                                        : json_null());
  }
}

/* One site's summary object from a figures row. */
static json_t *summary_object(PGresult *res, int row, const char *from, const char *to, unsigned threshold) {
  json_t *suppressed = json_array();
  json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "site_id", PQgetvalue(res, row, SUMMARY_SITE_ID), "site_name",
                        PQgetvalue(res, row, SUMMARY_SITE_NAME), "from", from, "to", to);
  json_object_set_new(o, "groups",
                      json_pack("{s:I, s:I, s:I, s:I}", "forming", column_number(res, row, SUMMARY_GROUPS_FORMING),
                                "active", column_number(res, row, SUMMARY_GROUPS_ACTIVE), "dormant",
                                column_number(res, row, SUMMARY_GROUPS_DORMANT), "closed",
                                column_number(res, row, SUMMARY_GROUPS_CLOSED)));
  put_people_count(o, suppressed, "active_members", column_number(res, row, SUMMARY_ACTIVE_MEMBERS), threshold);
  long long practitioners = column_number(res, row, SUMMARY_PRACTITIONERS);
  long long in_groups = column_number(res, row, SUMMARY_PRACTITIONERS_IN_GROUPS);
  int shown = put_people_count(o, suppressed, "practitioners", practitioners, threshold);
  /* Complementary suppression: with both counts shown, their difference (practitioners in no
   * group) must not be a small number either. */
  long long outside = practitioners - in_groups;
  if (shown && outside > 0 && outside < (long long)threshold) {
    json_object_set_new(o, "practitioners_in_groups", json_null());
    json_array_append_new(suppressed, json_string("practitioners_in_groups"));
    shown = 0; /* and the share with it */
  } else {
    shown &= put_people_count(o, suppressed, "practitioners_in_groups", in_groups, threshold);
  }
  put_rate(o, suppressed, "practitioner_share", shown, (double)in_groups, (double)practitioners);

  json_object_set_new(o, "meetings_held", json_integer(column_number(res, row, SUMMARY_MEETINGS_HELD)));
  /* The rate is computed from attendance records, people again: below the threshold it is
   * suppressed, zero included, so that a null never tells "none" from "one or two". */
  long long recorded = column_number(res, row, SUMMARY_ATTENDANCE_RECORDED);
  if (recorded < (long long)threshold || PQgetisnull(res, row, SUMMARY_MEAN_ATTENDANCE_RATE)) {
    json_object_set_new(o, "mean_attendance_rate", json_null());
    json_array_append_new(suppressed, json_string("mean_attendance_rate"));
  } else {
    json_object_set_new(o, "mean_attendance_rate", json_real(atof(PQgetvalue(res, row, SUMMARY_MEAN_ATTENDANCE_RATE))));
  }

  long long targeted = column_number(res, row, SUMMARY_GROUPS_TARGETED);
  json_t *consultations = json_pack("{s:I, s:I, s:I, s:I}", "open", column_number(res, row, SUMMARY_CONSULTATIONS_OPEN),
                                    "closed", column_number(res, row, SUMMARY_CONSULTATIONS_CLOSED), "groups_targeted",
                                    targeted, "groups_submitted", column_number(res, row, SUMMARY_GROUPS_SUBMITTED));
  /* Groups, not people: a response rate is never suppressed. */
  json_object_set_new(consultations, "response_rate",
                      targeted > 0
                          ? json_real((double)(long)((double)column_number(res, row, SUMMARY_GROUPS_SUBMITTED) /
                                                         (double)targeted * 1000 +
                                                     0.5) /
                                      1000)
                          : json_null());
  json_object_set_new(o, "consultations", consultations);
  json_object_set_new(o, "upcoming_events", json_integer(column_number(res, row, SUMMARY_UPCOMING_EVENTS)));
  put_people_count(o, suppressed, "event_registrations", column_number(res, row, SUMMARY_EVENT_REGISTRATIONS),
                   threshold);
  json_t *themes = json_loads(PQgetvalue(res, row, SUMMARY_TOP_THEMES), 0, NULL);
  json_object_set_new(o, "top_themes", themes ? themes : json_array());
  json_object_set_new(o, "suppressed", suppressed);
  return o;
}

/* ?from=&to= (RFC 3339), default the last 12 months; from must be before to. */
static fn_status parse_window(fn_req *req, char from[40], char to[40]) {
  const char *f = req_query(req, "from"), *t = req_query(req, "to");
  long long fu = 0, tu = 0;
  json_t *errors = NULL;
  time_t now = time(NULL), start = now - DEFAULT_WINDOW_SECONDS;
  struct tm tm;
  if (f && !json_parse_timestamp(f, &fu))
    json_errors_add(&errors, "from", "must be an RFC 3339 date-time");
  if (t && !json_parse_timestamp(t, &tu))
    json_errors_add(&errors, "to", "must be an RFC 3339 date-time");
  if (!errors) { /* compare with the defaults too: from alone may lie after now */
    if (!f)
      fu = (long long)start * 1000000LL;
    if (!t)
      tu = (long long)now * 1000000LL;
    if (fu >= tu)
      json_errors_add(&errors, "from", "must be before to");
  }
  if (errors) {
    reply_invalid(req, errors);
    return FN_INVALID;
  }
  /* The window is whole seconds in UTC, and echoed so, like every other timestamp. */
  time_t from_s = f ? (time_t)(fu / 1000000) : start, to_s = t ? (time_t)(tu / 1000000) : now;
  strftime(from, 40, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&from_s, &tm));
  strftime(to, 40, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&to_s, &tm));
  return FN_OK;
}

static void summaries_http_site(fn_req *req) {
  const char *id = req_param(req, "site_id");
  char from[40], to[40];
  member_caller caller;
  int manages = 0;
  PGresult *res = NULL;
  fn_status st;
  if (!req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, "No such site.");
    return;
  }
  if (parse_window(req, from, to) != FN_OK)
    return;
  db_conn *db = req_db(req);
  if (db == NULL)
    return;
  char ids[64];
  snprintf(ids, sizeof ids, "[\"%s\"]", id);
  if ((st = members_db_load_caller(db, req->caller.id, &caller)) != FN_OK ||
      (st = sites_db_is_manager(db, id, caller.id, &manages)) != FN_OK)
    goto fail;
  if (caller.role != ROLE_ADMIN && !(caller.role == ROLE_MANAGER && manages)) {
    /* Sites are public to members, so this is "not allowed", not "not found". */
    char *site = NULL;
    long version;
    st = sites_db_get(db, req->caller.id, id, &site, &version) == FN_OK ? FN_FORBIDDEN : FN_NOT_FOUND;
    free(site);
    goto fail;
  }
  if ((st = summaries_db_figures(db, ids, from, to, req->app->cfg.suppression_threshold, &res)) != FN_OK)
    goto fail;
  if (PQntuples(res) == 0) {
    st = FN_NOT_FOUND;
    goto fail;
  }
  reply_json(req, 200, summary_object(res, 0, from, to, req->app->cfg.suppression_threshold));
  PQclear(res);
  return;
fail:
  PQclear(res);
  req_fail(req, st,
           st == FN_NOT_FOUND   ? "No such site."
           : st == FN_FORBIDDEN ? "Summaries are for admins and the site's managers."
                                : NULL);
}

/* RFC 4180: quoted when it holds a comma, quote, CR or LF; quotes doubled. */
static void csv_field(char **buf, size_t *len, size_t *cap, const char *s, int last) {
  size_t need = strlen(s) * 2 + 4;
  if (*len + need >= *cap) {
    *cap = (*cap + need) * 2;
    *buf = realloc(*buf, *cap);
  }
  int quote = strpbrk(s, ",\"\r\n") != NULL;
  char *p = *buf + *len;
  if (quote)
    *p++ = '"';
  for (; *s; s++) {
    if (*s == '"')
      *p++ = '"';
    *p++ = *s;
  }
  if (quote)
    *p++ = '"';
  if (last) {
    *p++ = '\r';
    *p++ = '\n';
  } else {
    *p++ = ',';
  }
  *len = (size_t)(p - *buf);
}

/* A JSON value as a CSV cell: null is empty. */
static const char *cell(const json_t *v, char *buf, size_t len) {
  if (v == NULL || json_is_null(v))
    return "";
  if (json_is_string(v))
    return json_string_value(v);
  if (json_is_integer(v))
    snprintf(buf, len, "%lld", (long long)json_integer_value(v));
  else
    snprintf(buf, len, "%g", json_number_value(v));
  return buf;
}

static const char *const csv_columns[] = {
    "site_id",
    "site_name",
    "from",
    "to",
    "groups.forming",
    "groups.active",
    "groups.dormant",
    "groups.closed",
    "active_members",
    "practitioners",
    "practitioners_in_groups",
    "practitioner_share",
    "meetings_held",
    "mean_attendance_rate",
    "consultations.open",
    "consultations.closed",
    "consultations.groups_targeted",
    "consultations.groups_submitted",
    "consultations.response_rate",
    "upcoming_events",
    "event_registrations",
    "top_themes",
    "suppressed",
};
#define CSV_COLUMNS (sizeof csv_columns / sizeof csv_columns[0])

static void reply_csv(fn_req *req, const json_t *items) {
  size_t len = 0, cap = 4096;
  char *buf = malloc(cap), num[64];
  for (size_t c = 0; c < CSV_COLUMNS; c++)
    csv_field(&buf, &len, &cap, csv_columns[c], c + 1 == CSV_COLUMNS);
  size_t i;
  json_t *item;
  json_array_foreach((json_t *)items, i, item) {
    for (size_t c = 0; c < CSV_COLUMNS; c++) {
      const char *name = csv_columns[c], *dot = strchr(name, '.');
      char joined[2048] = "";
      const json_t *v;
      if (dot) {
        char parent[32];
        snprintf(parent, sizeof parent, "%.*s", (int)(dot - name), name);
        v = json_object_get(json_object_get(item, parent), dot + 1);
      } else {
        v = json_object_get(item, name);
      }
      if (json_is_array(v)) { /* themes "caseload:12;supervision:7", suppressed "a;b" */
        size_t j, off = 0;
        json_t *e;
        json_array_foreach((json_t *)v, j, e) {
          if (json_is_object(e))
            off += (size_t)snprintf(joined + off, sizeof joined - off, "%s%s:%lld", j ? ";" : "",
                                    json_string_value(json_object_get(e, "theme")),
                                    (long long)json_integer_value(json_object_get(e, "meetings")));
          else
            off += (size_t)snprintf(joined + off, sizeof joined - off, "%s%s", j ? ";" : "", json_string_value(e));
          if (off >= sizeof joined)
            break;
        }
        csv_field(&buf, &len, &cap, joined, c + 1 == CSV_COLUMNS);
      } else {
        csv_field(&buf, &len, &cap, cell(v, num, sizeof num), c + 1 == CSV_COLUMNS);
      }
    }
  }
  reply_text(req, 200, "text/csv; charset=utf-8; header=present", buf, len);
  free(buf);
}

/* The q value of one Accept member ("text/csv;q=0.5"), 1 without one. */
static double accept_q(const char *params, size_t len) {
  for (size_t i = 0; i + 2 < len; i++)
    if ((params[i] == 'q' || params[i] == 'Q') && params[i + 1] == '=')
      return atof(params + i + 2);
  return 1.0;
}

/* CSV when Accept prefers text/csv (q > 0) at least as much as JSON (application/json,
 * application/json, application/any or any/any); media types compare case-insensitively. */
static int wants_csv(const fn_req *req) {
  const char *accept = req_header(req, "Accept");
  double q_csv = 0, q_json = 0;
  for (const char *p = accept; p && *p;) {
    while (*p == ' ' || *p == ',')
      p++;
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    const char *semi = memchr(p, ';', len);
    size_t type_len = semi ? (size_t)(semi - p) : len;
    while (type_len > 0 && p[type_len - 1] == ' ')
      type_len--;
    double q = semi ? accept_q(semi, len - (size_t)(semi - p)) : 1.0;
    if (type_len == 8 && strncasecmp(p, "text/csv", 8) == 0 && q > q_csv)
      q_csv = q;
    else if (((type_len == 16 && strncasecmp(p, "application/json", 16) == 0) ||
              (type_len == 13 && strncasecmp(p, "application/*", 13) == 0) ||
              (type_len == 3 && strncmp(p, "*/*", 3) == 0)) &&
             q > q_json)
      q_json = q;
    p += len;
  }
  return q_csv > 0 && q_csv >= q_json;
}

static void summaries_http_sites(fn_req *req) {
  page_request page;
  char from[40], to[40], next_key[96], *ids = NULL;
  member_caller caller;
  PGresult *res = NULL;
  fn_status st;
  if (page_from_request(req, &page) != FN_OK || parse_window(req, from, to) != FN_OK)
    return;
  db_conn *db = req_db(req);
  if (db == NULL)
    return;
  if ((st = members_db_load_caller(db, req->caller.id, &caller)) != FN_OK)
    goto fail;
  if (caller.role != ROLE_ADMIN && caller.role != ROLE_MANAGER) {
    st = FN_FORBIDDEN;
    goto fail;
  }
  if ((st = summaries_db_site_page(db, caller.id, &page, &ids, next_key)) != FN_OK ||
      (st = summaries_db_figures(db, ids, from, to, req->app->cfg.suppression_threshold, &res)) != FN_OK)
    goto fail;
  json_t *items = json_array();
  for (int i = 0; i < PQntuples(res); i++)
    json_array_append_new(items, summary_object(res, i, from, to, req->app->cfg.suppression_threshold));
  PQclear(res);
  free(ids);
  if (wants_csv(req)) {
    if (next_key[0]) {
      char cursor[256];
      page_cursor_encode(next_key, cursor, sizeof cursor);
      reply_header(req, "X-Next-Cursor", cursor); /* CSV has no place for it in the body */
    }
    reply_csv(req, items);
    json_decref(items);
    return;
  }
  json_t *body = json_pack("{s:o}", "items", items);
  if (next_key[0]) {
    char cursor[256];
    page_cursor_encode(next_key, cursor, sizeof cursor);
    json_object_set_new(body, "next_cursor", json_string(cursor));
  } else {
    json_object_set_new(body, "next_cursor", json_null());
  }
  reply_json(req, 200, body);
  return;
fail:
  free(ids);
  PQclear(res);
  req_fail(req, st, st == FN_FORBIDDEN ? "Summaries are for admins and managers." : NULL);
}

const fn_route summaries_routes[] = {
    {"GET", "/v1/sites/{site_id}/summary", summaries_http_site, 0},
    {"GET", "/v1/summaries/sites", summaries_http_sites, 0},
    {NULL, NULL, NULL, 0},
};
