/* fuzz_cursor: the query-parameter parsers. The first byte picks a mode:
 *   0 "<limit>\n<cursor>"  page_parse(limit, cursor)     1 "<cursor>"  page_parse(NULL, cursor)
 *   2 "<limit>"            page_parse(limit, NULL)       3 "<text>"    rfc3339_parse(text)
 *   4 "<route>\n<name>=<value>\n..."  a GET route with those query parameters, through the pipeline.
 * page_parse: on success 1 <= limit <= 200 (the limit given, or 50), limit_plus_one is limit + 1,
 * after_ts is "-infinity" or a real instant in the cursor's fixed shape (so PostgreSQL can never
 * refuse it), after_id a UUID, every field NUL-terminated; a cursor re-encoded with
 * page_cursor_encode parses to the same position; and GET /v1/sites answers 400 naming the bad
 * parameter exactly when page_parse fails. rfc3339_parse: accepts exactly what a separate
 * restatement of its grammar accepts (from year 1 on), and the instant equals timegm() of the
 * fields less the offset.
 * Mode 4: list routes answer 400 (well-formed errors) or get to the database (503), never 500. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forumnet/body.h"
#include "forumnet/pagination.h"
#include "forumnet/router.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"
#include "fuzz_common.h"

static fuzz_app fa;
static const fn_route *get_routes[256];
static int get_route_count;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_app_init(&fa);
  for (int i = 0; i < router_route_count() && get_route_count < 256; i++)
    if (strcmp(router_route(i)->method, "GET") == 0)
      get_routes[get_route_count++] = router_route(i);
  return 0;
}

static int terminated(const char *s, size_t n) { return memchr(s, '\0', n) != NULL; }

/* ---- rfc3339_parse, restated ---- */

static int digits(const char *s, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)s[i]))
      return 0;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 1;
}

/* 1 if s is "YYYY-MM-DD[Tt]HH:MM:SS[.f{1,9}]([Zz]|[+-]HH:MM)" naming a real date and time no
 * earlier than 0001-01-01T00:00:00Z; then *us is the instant (via timegm, not the code under test). */
static int timestamp_restated(const char *s, long long *us) {
  int y, mo, d, h, mi, se, oh = 0, om = 0;
  size_t len = strlen(s);
  if (len < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d) ||
      (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) ||
      s[16] != ':' || !digits(s + 17, 2, &se))
    return 0;
  const char *p = s + 19;
  long long frac_ns = 0;
  if (*p == '.') {
    int n = 0;
    for (p++; isdigit((unsigned char)*p); p++, n++)
      if (n < 9)
        frac_ns = frac_ns * 10 + (*p - '0');
    if (n < 1 || n > 9)
      return 0;
    for (; n < 9; n++)
      frac_ns *= 10;
  }
  int sign = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    sign = *p == '+' ? 1 : -1;
    if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
      return 0;
    p += 6;
  } else {
    return 0;
  }
  if (*p != '\0')
    return 0;
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 || mi > 59 || se > 59)
    return 0;
  struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = se};
  long long secs = (long long)timegm(&tm) - sign * (oh * 3600LL + om * 60LL);
  struct tm year_one = {.tm_year = 1 - 1900, .tm_mday = 1};
  if (secs < (long long)timegm(&year_one)) /* PostgreSQL has no year 0 */
    return 0;
  /* Microseconds, rounded half up from the nanoseconds (as PostgreSQL keeps microseconds). */
  *us = secs * 1000000LL + (frac_ns + 500) / 1000;
  return 1;
}

static void check_timestamp(const char *s) {
  long long got = 0, want = 0;
  int ok = rfc3339_parse(s, &got);
  int expected = timestamp_restated(s, &want);
  FUZZ_CHECK(ok == expected, "rfc3339_parse(\"%s\") = %d, the grammar says %d", s, ok, expected);
  FUZZ_CHECK(rfc3339_parse(s, NULL) == ok, "rfc3339_parse(\"%s\") depends on epoch_us", s);
  if (ok)
    FUZZ_CHECK(got == want, "rfc3339_parse(\"%s\") = %lld us, timegm says %lld", s, got, want);
}

/* ---- page_parse ---- */

static void check_page(const char *limit, const char *cursor) {
  page_request page;
  const char *field = NULL;
  memset(&page, 0x55, sizeof page);
  fn_status st = page_parse(limit, cursor, &page, &field);
  if (st != FN_OK) {
    FUZZ_CHECK(st == FN_INVALID, "page_parse returned %d", (int)st);
    FUZZ_CHECK(field && (strcmp(field, "limit") == 0 || strcmp(field, "cursor") == 0), "page_parse: bad field");
    FUZZ_CHECK(strcmp(field, "limit") != 0 || limit != NULL, "page_parse blamed an absent limit");
    FUZZ_CHECK(strcmp(field, "cursor") != 0 || cursor != NULL, "page_parse blamed an absent cursor");
  } else {
    FUZZ_CHECK(terminated(page.after_ts, sizeof page.after_ts) && terminated(page.after_id, sizeof page.after_id) &&
                   terminated(page.limit_plus_one, sizeof page.limit_plus_one),
               "page_parse: an output field is not NUL-terminated");
    FUZZ_CHECK(page.limit >= 1 && page.limit <= PAGE_MAX_LIMIT, "page_parse: limit %d", page.limit);
    FUZZ_CHECK(limit != NULL || page.limit == PAGE_DEFAULT_LIMIT, "page_parse: default limit %d", page.limit);
    if (limit != NULL)
      FUZZ_CHECK(atoi(limit) == page.limit, "page_parse: limit \"%s\" became %d", limit, page.limit);
    char plus[16];
    snprintf(plus, sizeof plus, "%d", page.limit + 1);
    FUZZ_CHECK(strcmp(plus, page.limit_plus_one) == 0, "page_parse: limit_plus_one %s", page.limit_plus_one);
    FUZZ_CHECK(text_is_uuid(page.after_id), "page_parse: after_id \"%s\"", page.after_id);
    if (cursor == NULL) {
      FUZZ_CHECK(strcmp(page.after_ts, "-infinity") == 0, "page_parse: no cursor, after_ts %s", page.after_ts);
    } else {
      /* The instant goes to PostgreSQL as $n::timestamptz: it must be a real one. */
      FUZZ_CHECK(strlen(page.after_ts) == 27 && rfc3339_parse(page.after_ts, NULL),
                 "page_parse: cursor gave after_ts \"%s\", not a real instant", page.after_ts);
      FUZZ_CHECK(strncmp(page.after_ts, "0000", 4) != 0, "page_parse: year 0000 (PostgreSQL has no year 0)");
      char key[80], again[128];
      snprintf(key, sizeof key, "%s|%s", page.after_ts, page.after_id);
      page_cursor_encode(key, again, sizeof again);
      page_request page2;
      FUZZ_CHECK(page_parse(NULL, again, &page2, &field) == FN_OK && strcmp(page2.after_ts, page.after_ts) == 0 &&
                     strcmp(page2.after_id, page.after_id) == 0,
                 "page_parse: re-encoded cursor %s does not round-trip", again);
    }
  }

  /* The same parameters on a list route. */
  const char *query[5] = {NULL};
  int q = 0;
  if (limit) {
    query[q++] = "limit";
    query[q++] = limit;
  }
  if (cursor) {
    query[q++] = "cursor";
    query[q++] = cursor;
  }
  fuzz_request rq = {.method = "GET", .path = "/v1/sites", .query = query, .authorization = fa.member_token};
  fuzz_response r;
  fuzz_dispatch(&fa, &rq, &r);
  if (st == FN_OK) {
    FUZZ_CHECK(r.status == 503, "GET /v1/sites with a good page: %d %s", r.status, r.body);
  } else {
    FUZZ_CHECK(r.status == 400, "GET /v1/sites with a bad %s: %d", field, r.status);
    json_t *problem = fuzz_problem(&r);
    const char *named =
        json_string_value(json_object_get(json_array_get(json_object_get(problem, "errors"), 0), "field"));
    FUZZ_CHECK(named && strcmp(named, field) == 0, "GET /v1/sites: 400 names %s, not %s", named ? named : "nothing",
               field);
    json_decref(problem);
  }
  fuzz_response_free(&r);
}

/* ---- any GET route with any query parameters ---- */

static void check_route_query(const char *text) {
  const char *nl = strchr(text, '\n');
  size_t line_len = nl ? (size_t)(nl - text) : strlen(text);
  unsigned h = 2166136261u;
  for (size_t i = 0; i < line_len; i++)
    h = (h ^ (unsigned char)text[i]) * 16777619u;
  const fn_route *route = get_routes[h % (unsigned)get_route_count];
  for (int i = 0; i < get_route_count; i++)
    if (strlen(get_routes[i]->pattern) == line_len && strncmp(get_routes[i]->pattern, text, line_len) == 0)
      route = get_routes[i];

  char *copy = strdup(nl ? nl + 1 : "");
  FUZZ_CHECK(copy != NULL, "out of memory");
  const char *query[17] = {NULL};
  int q = 0;
  char *save = NULL;
  for (char *line = strtok_r(copy, "\n", &save); line && q < 16; line = strtok_r(NULL, "\n", &save)) {
    char *eq = strchr(line, '=');
    if (eq)
      *eq++ = '\0';
    query[q++] = line;
    query[q++] = eq ? eq : "";
  }
  char path[256];
  fuzz_fill_path(route->pattern, path, sizeof path);
  fuzz_request rq = {.method = "GET",
                     .path = path,
                     .query = query,
                     .authorization = (route->flags & ROUTE_PUBLIC) ? NULL : fa.member_token};
  fuzz_response r;
  fuzz_dispatch(&fa, &rq, &r);
  if (getenv("FUZZ_TRACE"))
    fprintf(stderr, "GET %s -> %d %s\n", route->pattern, r.status, r.body);
  fuzz_response_free(&r);
  free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  char *text = fuzz_strndup(data + 1, size - 1);
  switch (data[0] % 5) {
  case 0: {
    char *nl = strchr(text, '\n');
    if (nl != NULL) {
      *nl = '\0';
      check_page(text, nl + 1);
    }
    break;
  }
  case 1:
    check_page(NULL, text);
    break;
  case 2:
    check_page(text, NULL);
    break;
  case 3:
    check_timestamp(text);
    break;
  default:
    check_route_query(text);
    break;
  }
  free(text);
  return 0;
}
