/* /v1/sites/{site_id}/summary and /v1/summaries/sites: aggregates for managers (API.md
 * section 8). What is said in a forum stays in the forum: only counts leave, and a count of
 * people below the threshold (FORUMNET_SUPPRESSION_THRESHOLD) is null, named in "suppressed",
 * and so is any rate computed from it or whose numerator is below the threshold. The figures
 * cover the asked window widened to whole UTC days, at least a week (summaries_window_widen). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "forumnet/body.h"
#include "forumnet/http.h"
#include "forumnet/members_db.h"
#include "forumnet/pagination.h"
#include "forumnet/routes.h"
#include "forumnet/sites_db.h"
#include "forumnet/summaries.h"
#include "forumnet/summaries_db.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

#define DEFAULT_WINDOW_SECONDS (365L * 24 * 3600)
#define DAY_SECONDS 86400LL
#define FIRST_SECOND (-62135596800LL) /* 0001-01-01T00:00:00Z: PostgreSQL has no year 0 */
#define LAST_SECOND 253402300799LL    /* 9999-12-31T23:59:59Z */

static long long column_number(PGresult *res, int row, int col) { return atoll(PQgetvalue(res, row, col)); }

/* A summary object being built: any failed allocation clears ok, and the object is dropped. */
typedef struct summary_out {
  json_t *suppressed;
  unsigned threshold;
  int ok;
} summary_out;

static void put(summary_out *out, json_t *parent, const char *key, json_t *value) {
  if (json_object_set_new(parent, key, value) != 0) /* a NULL parent or value included */
    out->ok = 0;
}

/* key is null, and `name` (key, or parent.key for a nested field) is listed as suppressed. */
static void suppress(summary_out *out, json_t *parent, const char *key, const char *name) {
  put(out, parent, key, json_null());
  if (json_array_append_new(out->suppressed, json_string(name)) != 0)
    out->ok = 0;
}

/* Sets key to a people count, or to null (and lists it as suppressed) below the threshold.
 * Returns 1 when shown. */
static int put_people_count(summary_out *out, json_t *obj, const char *key, long long n) {
  if (n >= (long long)out->threshold) {
    put(out, obj, key, json_integer(n));
    return 1;
  }
  suppress(out, obj, key, key);
  return 0;
}

static double rounded3(double x) { return (double)(long long)(x * 1000 + 0.5) / 1000; }

/* A rate numerator / denominator: null without a base (denominator 0); null and suppressed when a
 * count it is computed from is (shown == 0) or when its numerator is below the threshold (API.md
 * section 8), zero included, so that a null never tells "none" from "one or two". */
static void put_rate(summary_out *out, json_t *obj, const char *key, const char *name, int shown, long long numerator,
                     long long denominator) {
  if (shown && denominator <= 0)
    put(out, obj, key, json_null());
  else if (!shown || numerator < (long long)out->threshold)
    suppress(out, obj, key, name);
  else
    put(out, obj, key, json_real(rounded3((double)numerator / (double)denominator)));
}

json_t *summaries_object(PGresult *res, int row, const summary_window *w, unsigned threshold) {
  summary_out out = {json_array(), threshold, 1};
  json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "site_id", PQgetvalue(res, row, SUMMARY_SITE_ID),
                        "site_name", PQgetvalue(res, row, SUMMARY_SITE_NAME), "from", w->from, "to", w->to, "window",
                        "from", w->used_from, "to", w->used_to);
  if (o == NULL || out.suppressed == NULL) {
    json_decref(o);
    json_decref(out.suppressed);
    return NULL;
  }
  put(&out, o, "groups",
      json_pack("{s:I, s:I, s:I, s:I}", "forming", column_number(res, row, SUMMARY_GROUPS_FORMING), "active",
                column_number(res, row, SUMMARY_GROUPS_ACTIVE), "dormant",
                column_number(res, row, SUMMARY_GROUPS_DORMANT), "closed",
                column_number(res, row, SUMMARY_GROUPS_CLOSED)));
  put_people_count(&out, o, "active_members", column_number(res, row, SUMMARY_ACTIVE_MEMBERS));
  long long practitioners = column_number(res, row, SUMMARY_PRACTITIONERS);
  long long in_groups = column_number(res, row, SUMMARY_PRACTITIONERS_IN_GROUPS);
  int shown = put_people_count(&out, o, "practitioners", practitioners);
  /* Complementary suppression: with both counts shown, their difference (practitioners in no
   * group) must not be a small number either. */
  long long outside = practitioners - in_groups;
  if (shown && outside > 0 && outside < (long long)threshold) {
    suppress(&out, o, "practitioners_in_groups", "practitioners_in_groups");
    shown = 0; /* and the share with it */
  } else {
    shown &= put_people_count(&out, o, "practitioners_in_groups", in_groups);
  }
  put_rate(&out, o, "practitioner_share", "practitioner_share", shown, in_groups, practitioners);

  put(&out, o, "meetings_held", json_integer(column_number(res, row, SUMMARY_MEETINGS_HELD)));
  /* A mean of per-meeting rates: computed from attendance records (people), shown only when both
   * the records and the members present in them reach the threshold (zero included). */
  long long recorded = column_number(res, row, SUMMARY_ATTENDANCE_RECORDED);
  long long present = column_number(res, row, SUMMARY_ATTENDANCE_PRESENT);
  if (recorded < (long long)threshold || present < (long long)threshold ||
      PQgetisnull(res, row, SUMMARY_MEAN_ATTENDANCE_RATE))
    suppress(&out, o, "mean_attendance_rate", "mean_attendance_rate");
  else
    put(&out, o, "mean_attendance_rate", json_real(atof(PQgetvalue(res, row, SUMMARY_MEAN_ATTENDANCE_RATE))));

  long long targeted = column_number(res, row, SUMMARY_GROUPS_TARGETED);
  long long submitted = column_number(res, row, SUMMARY_GROUPS_SUBMITTED);
  json_t *consultations =
      json_pack("{s:I, s:I, s:I}", "open", column_number(res, row, SUMMARY_CONSULTATIONS_OPEN), "closed",
                column_number(res, row, SUMMARY_CONSULTATIONS_CLOSED), "groups_targeted", targeted);
  /* The response rate's numerator is the groups that submitted: below the threshold the rate is
   * suppressed, and that count with it (or the rate could be worked out from it). */
  if (targeted > 0 && submitted < (long long)threshold)
    suppress(&out, consultations, "groups_submitted", "consultations.groups_submitted");
  else
    put(&out, consultations, "groups_submitted", json_integer(submitted));
  put_rate(&out, consultations, "response_rate", "consultations.response_rate", 1, submitted, targeted);
  put(&out, o, "consultations", consultations);
  put(&out, o, "upcoming_events", json_integer(column_number(res, row, SUMMARY_UPCOMING_EVENTS)));
  put_people_count(&out, o, "event_registrations", column_number(res, row, SUMMARY_EVENT_REGISTRATIONS));
  put(&out, o, "top_themes", json_loads(PQgetvalue(res, row, SUMMARY_TOP_THEMES), 0, NULL));
  put(&out, o, "suppressed", out.suppressed);
  if (!out.ok) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static long long floor_div(long long a, long long b) { return a / b - (a % b != 0 && a < 0); }

void summaries_window_widen(long long from_s, long long to_s, long long *used_from_s, long long *used_to_s) {
  long long from = floor_div(from_s, DAY_SECONDS) * DAY_SECONDS;
  long long to = -floor_div(-to_s, DAY_SECONDS) * DAY_SECONDS;
  if (to - from < SUMMARY_MIN_WINDOW_DAYS * DAY_SECONDS)
    from = to - SUMMARY_MIN_WINDOW_DAYS * DAY_SECONDS;
  if (from < FIRST_SECOND) { /* at the start of time, widen forwards instead */
    from = FIRST_SECOND;
    if (to < from + SUMMARY_MIN_WINDOW_DAYS * DAY_SECONDS)
      to = from + SUMMARY_MIN_WINDOW_DAYS * DAY_SECONDS;
  }
  if (to > LAST_SECOND)
    to = LAST_SECOND;
  *used_from_s = from;
  *used_to_s = to;
}

/* RFC 3339 UTC, whole seconds, four-digit years. */
static void format_utc(long long epoch_s, char out[32]) {
  time_t t = (time_t)epoch_s;
  struct tm tm;
  gmtime_r(&t, &tm);
  char text[96]; /* years 0001..9999 need 20 bytes; the compiler cannot know that */
  snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
           tm.tm_hour, tm.tm_min, tm.tm_sec);
  snprintf(out, 32, "%.31s", text);
}

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
  if (errors) {
    reply_invalid(req, errors);
    return FN_INVALID;
  }
  /* The window asked for is whole seconds in UTC, and echoed so, like every other timestamp. */
  long long used_from, used_to;
  summaries_window_widen(floor_div(fu, 1000000), -floor_div(-tu, 1000000), &used_from, &used_to);
  format_utc(floor_div(fu, 1000000), w->from);
  format_utc(floor_div(tu, 1000000), w->to);
  format_utc(used_from, w->used_from);
  format_utc(used_to, w->used_to);
  return FN_OK;
}

static fn_status summaries_http_site(fn_req *req) {
  const char *id = req_param(req, "site_id");
  summary_window w;
  member_caller caller;
  int manages = 0;
  PGresult *res = NULL;
  fn_status st;
  if (!req_is_id(id)) {
    req_fail(req, FN_NOT_FOUND, "No such site.");
    return FN_OK;
  }
  if (parse_window(req, &w) != FN_OK)
    return FN_OK;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
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
  if ((st = summaries_db_figures(db, ids, w.used_from, w.used_to, req->app->cfg.suppression_threshold, &res)) != FN_OK)
    goto fail;
  if (PQntuples(res) == 0) {
    st = FN_NOT_FOUND;
    goto fail;
  }
  reply_json(req, 200, summaries_object(res, 0, &w, req->app->cfg.suppression_threshold)); /* NULL: a 500 */
  PQclear(res);
  return FN_OK;
fail:
  PQclear(res);
  req_fail(req, st,
           st == FN_NOT_FOUND   ? "No such site."
           : st == FN_FORBIDDEN ? "Summaries are for admins and the site's managers."
                                : NULL);
  return FN_OK;
}

/* A growing text; any failed allocation sets failed and later appends do nothing. */
typedef struct text_buf {
  char *data;
  size_t len, cap;
  int failed;
} text_buf;

static int text_reserve(text_buf *b, size_t more) {
  if (b->failed)
    return 0;
  if (more > SIZE_MAX / 2 - b->len) {
    b->failed = 1;
    return 0;
  }
  if (b->len + more + 1 > b->cap) {
    size_t cap = (b->len + more + 1) * 2;
    char *data = realloc(b->data, cap);
    if (data == NULL) {
      b->failed = 1;
      return 0;
    }
    b->data = data;
    b->cap = cap;
  }
  return 1;
}

static void text_append(text_buf *b, const char *s, size_t n) {
  if (!text_reserve(b, n))
    return;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void text_appendf(text_buf *b, const char *s) { text_append(b, s, strlen(s)); }

/* One CSV cell of s (n bytes) and its separator (',' or, for the last, CRLF). A text cell that a
 * spreadsheet would read as a formula (first character '=', '+', '-', '@', tab or CR) gets a '\''
 * in front; then RFC 4180: quoted when it holds a comma, quote, CR or LF, its quotes doubled. */
static void csv_field(text_buf *out, const char *s, size_t n, int text, int last) {
  int formula = text && n > 0 && strchr("=+-@\t\r", s[0]) != NULL;
  int quote = 0;
  for (size_t i = 0; i < n && !quote; i++)
    quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
  if (!text_reserve(out, n * 2 + 5))
    return;
  char *p = out->data + out->len;
  if (quote)
    *p++ = '"';
  if (formula)
    *p++ = '\'';
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '"')
      *p++ = '"';
    *p++ = s[i];
  }
  if (quote)
    *p++ = '"';
  if (last) {
    *p++ = '\r';
    *p++ = '\n';
  } else {
    *p++ = ',';
  }
  *p = '\0';
  out->len = (size_t)(p - out->data);
}

static const char *const csv_columns[] = {
    "site_id",
    "site_name",
    "from",
    "to",
    "window.from",
    "window.to",
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

/* The cell of one JSON value into cellb (emptied first): null is empty; arrays are joined with
 * ';' (themes "caseload:12;supervision:7", suppressed "a;b"). Returns 1 for text (strings and
 * joined arrays), 0 for numbers and empty cells. */
static int csv_cell_text(const json_t *v, text_buf *cellb) {
  char num[64];
  cellb->len = 0;
  if (cellb->data)
    cellb->data[0] = '\0';
  if (v == NULL || json_is_null(v))
    return 0;
  if (json_is_string(v)) {
    text_append(cellb, json_string_value(v), json_string_length(v));
    return 1;
  }
  if (json_is_array(v)) {
    size_t j;
    json_t *e;
    json_array_foreach((json_t *)v, j, e) {
      if (j)
        text_appendf(cellb, ";");
      if (json_is_object(e)) {
        text_appendf(cellb, json_string_value(json_object_get(e, "theme"))
                                ? json_string_value(json_object_get(e, "theme"))
                                : "");
        snprintf(num, sizeof num, ":%lld", (long long)json_integer_value(json_object_get(e, "meetings")));
        text_appendf(cellb, num);
      } else if (json_is_string(e)) {
        text_appendf(cellb, json_string_value(e));
      }
    }
    return 1;
  }
  if (json_is_integer(v))
    snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
  else
    snprintf(num, sizeof num, "%g", json_number_value(v));
  text_appendf(cellb, num);
  return 0;
}

char *summaries_csv(const json_t *items, size_t *len) {
  text_buf out = {NULL, 0, 0, 0}, cellb = {NULL, 0, 0, 0};
  text_reserve(&out, 4096);
  for (size_t c = 0; c < CSV_COLUMNS; c++)
    csv_field(&out, csv_columns[c], strlen(csv_columns[c]), 1, c + 1 == CSV_COLUMNS);
  size_t i;
  json_t *item;
  json_array_foreach((json_t *)items, i, item) {
    for (size_t c = 0; c < CSV_COLUMNS; c++) {
      const char *name = csv_columns[c], *dot = strchr(name, '.');
      const json_t *v;
      if (dot) {
        char parent[32];
        snprintf(parent, sizeof parent, "%.*s", (int)(dot - name), name);
        v = json_object_get(json_object_get(item, parent), dot + 1);
      } else {
        v = json_object_get(item, name);
      }
      int text = csv_cell_text(v, &cellb);
      if (cellb.failed)
        out.failed = 1;
      csv_field(&out, cellb.data ? cellb.data : "", cellb.len, text, c + 1 == CSV_COLUMNS);
    }
  }
  free(cellb.data);
  if (out.failed) {
    free(out.data);
    return NULL;
  }
  *len = out.len;
  return out.data;
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

static fn_status summaries_http_sites(fn_req *req) {
  page_request page;
  summary_window w;
  char next_key[96], cursor[256] = "", *ids = NULL;
  member_caller caller;
  PGresult *res = NULL;
  json_t *items = NULL;
  fn_status st;
  if (page_from_request_or_reply(req, &page) != FN_OK || parse_window(req, &w) != FN_OK)
    return FN_OK;
  db_conn *db = req_db_or_reply(req);
  if (db == NULL)
    return FN_OK;
  if ((st = members_db_load_caller(db, req->caller.id, &caller)) != FN_OK)
    goto fail;
  if (caller.role != ROLE_ADMIN && caller.role != ROLE_MANAGER) {
    st = FN_FORBIDDEN;
    goto fail;
  }
  if ((st = summaries_db_site_page(db, caller.id, &page, &ids, next_key)) != FN_OK ||
      (st = summaries_db_figures(db, ids, w.used_from, w.used_to, req->app->cfg.suppression_threshold, &res)) != FN_OK)
    goto fail;
  st = FN_INTERNAL; /* from here on, only memory can run out */
  if ((items = json_array()) == NULL)
    goto fail;
  for (int i = 0; i < PQntuples(res); i++)
    if (json_array_append_new(items, summaries_object(res, i, &w, req->app->cfg.suppression_threshold)) != 0)
      goto fail; /* never a page with a row missing */
  PQclear(res);
  res = NULL;
  free(ids);
  ids = NULL;
  if (next_key[0])
    page_cursor_encode(next_key, cursor, sizeof cursor);
  if (wants_csv(req)) {
    size_t len;
    char *csv = summaries_csv(items, &len);
    if (csv == NULL)
      goto fail;
    if (cursor[0])
      reply_header(req, "X-Next-Cursor", cursor); /* CSV has no place for it in the body */
    reply_text(req, 200, "text/csv; charset=utf-8; header=present", csv, len);
    free(csv);
    json_decref(items);
    return FN_OK;
  }
  json_t *body = json_pack("{s:o, s:o}", "items", items, "next_cursor", cursor[0] ? json_string(cursor) : json_null());
  reply_json(req, 200, body); /* NULL (memory ran out): a 500 */
  return FN_OK;
fail:
  json_decref(items);
  free(ids);
  PQclear(res);
  req_fail(req, st, st == FN_FORBIDDEN ? "Summaries are for admins and managers." : NULL);
  return FN_OK;
}

const fn_route summaries_routes[] = {
    {"GET", "/v1/sites/{site_id}/summary", summaries_http_site, 0},
    {"GET", "/v1/summaries/sites", summaries_http_sites, 0},
    {NULL, NULL, NULL, 0},
};
