/*
 * e2e_calendar.c — API.md section 7, the calendar feed (issue 5): GET /v1/events.ics is
 * text/calendar in RFC 5545 form, read twice over: by a real iCalendar parser (Debian's
 * python3-icalendar, run through popen) and by a strict reader written here (CRLF line ends,
 * lines of at most 75 octets folded between UTF-8 characters, TEXT escaping).  Checks that
 * titles with commas, semicolons, backslashes, newlines, accents and emoji and a 300-character
 * description round-trip exactly, that UIDs are <id>@forumnet and stable, SEQUENCE follows the
 * version, STATUS follows the event (TENTATIVE, CONFIRMED, CANCELLED), and that a feed holds
 * only what its caller may see.
 *
 * Needs /usr/bin/python3 with the icalendar module (Debian package python3-icalendar);
 * FORUMNET_TEST_PYTHON names another interpreter.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static harness_account g_admin;
static char g_site_a[HARNESS_ID_MAX], g_site_b[HARNESS_ID_MAX];
static harness_account g_mgr_a, g_prac_a, g_prac_b;
static harness_partner g_trusted, g_untrusted;

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_new_site_id(g_admin.token, g_site_a);
  harness_new_site_id(g_admin.token, g_site_b);
  harness_new_manager_quick(g_admin.token, g_site_a, &g_mgr_a);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &g_prac_a);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_b, &g_prac_b);
  harness_new_partner(g_admin.token, true, &g_trusted);
  harness_new_partner(g_admin.token, false, &g_untrusted);
  return 0;
}

#define DAY 86400L

/* ---------------------------------------------------------------- helpers */

static http_response *fetch(const char *query, const char *token) {
  return http_get(query ? hpath("/v1/events.ics?%s", query) : "/v1/events.ics", token);
}

/* The event whose uid key equals "<id>@forumnet" in an events array, or NULL (borrowed). */
static json_t *find_uid(json_t *events, const char *key, const char *event_id) {
  char uid[HARNESS_ID_MAX + 16];
  snprintf(uid, sizeof uid, "%s@forumnet", event_id);
  size_t i;
  json_t *e;
  json_array_foreach(events, i, e) {
    const char *v = hjson_str(e, key);
    if (v && strcmp(v, uid) == 0)
      return e;
  }
  return NULL;
}

/* Fetches the feed as token, checks its form, and parses it both ways. */
typedef struct feed {
  json_t *real;   /* python3-icalendar's reading */
  json_t *strict; /* strict_parse's reading */
} feed;

static feed get_feed(const char *query, const char *token) {
  http_response *r = fetch(query, token);
  assert_status(r, 200);
  harness_assert_rfc5545_form(r);
  feed f = {harness_icalendar_parse(r->body, r->body_len), harness_ics_strict_parse(r->body, r->body_len)};
  http_response_free(r);
  assert_json_str(f.real, "name", "VCALENDAR");
  assert_json_str(f.real, "version", "2.0");
  assert_non_null(hjson_str(f.real, "prodid"));
  assert_int_equal(json_array_size(hjson_get(f.real, "events")), json_array_size(hjson_get(f.strict, "events")));
  return f;
}

static void feed_free(feed *f) {
  json_decref(f->real);
  json_decref(f->strict);
}

static bool feed_has(const feed *f, const char *event_id) {
  bool real = find_uid(hjson_get(f->real, "events"), "uid", event_id) != NULL;
  bool strict = find_uid(hjson_get(f->strict, "events"), "UID", event_id) != NULL;
  if (real != strict)
    harness_fail("the two readings disagree about event %s", event_id);
  return real;
}

static json_t *feed_event(const feed *f, const char *event_id) {
  json_t *e = find_uid(hjson_get(f->real, "events"), "uid", event_id);
  if (!e)
    harness_fail("event %s@forumnet is not in the feed", event_id);
  return e;
}

static json_t *strict_event(const feed *f, const char *event_id) {
  json_t *e = find_uid(hjson_get(f->strict, "events"), "UID", event_id);
  if (!e)
    harness_fail("event %s@forumnet is not in the feed", event_id);
  return e;
}

static const char *ics_time(const char *rfc3339, char *out) {
  /* 2026-11-22T10:00:00Z -> 20261122T100000Z */
  int k = 0;
  for (const char *p = rfc3339; *p && k < 20; p++)
    if (*p != '-' && *p != ':')
      out[k++] = *p;
  out[k] = '\0';
  return out;
}

/* ---------------------------------------------------------------- tests */

static void test_round_trip(void **state) {
  (void)state;
  const char *title = "Forum, part 1; \"Q&A\" \\ C:\\Temp\nSecond line: caf\xc3\xa9 \xf0\x9f\x98\x80 na\xc3\xafve";
  /* 300 characters (code points): accents and emoji (multi-octet, so folds fall near them), the
   * escaped characters and newlines */
  const char *pieces[] = {"S\xc3\xa9", "ance ",      "\xf0\x9f\x98\x80", ": a, b; c\\d", "\n",
                          "\xc3\xa9",  "t\xc3\xa9 ", "\xe2\x82\xac",     "5 ",           "\xf0\x9f\x8e\x89",
                          "x"};
  char description[2048] = "";
  int chars = 0;
  for (int i = 0; chars < 300; i = (i + 1) % (int)(sizeof pieces / sizeof pieces[0])) {
    const char *p = pieces[i];
    for (const unsigned char *q = (const unsigned char *)p; *q && chars < 300; q++) {
      size_t len = *q < 0x80 ? 1 : (*q & 0xE0) == 0xC0 ? 2 : (*q & 0xF0) == 0xE0 ? 3 : 4;
      strncat(description, (const char *)q, len);
      q += len - 1;
      chars++;
    }
  }
  const char *location = "Room 1, Floor 2; Building \"A\" \\ Main St. \xe2\x80\x94 K\xc3\xb8"
                         "benhavn";
  const char *url = "https://meet.example.org/j/123?pwd=a,b;c&x=%C3%A9";
  json_t *b = harness_event_body("learning_forum", 3 * DAY, 5400, g_site_a);
  json_object_set_new(b, "title", json_string(title));
  json_object_set_new(b, "description", json_string(description));
  json_object_set_new(b, "location", json_string(location));
  json_object_set_new(b, "online_url", json_string(url));
  char id[HARNESS_ID_MAX];
  json_t *ev = harness_new_event(g_trusted.token, b, id);
  assert_json_str(ev, "title", title);
  assert_json_str(ev, "description", description);
  int count = 0;
  for (const unsigned char *q = (const unsigned char *)description; *q; q++)
    count += (*q & 0xC0) != 0x80;
  assert_int_equal(count, 300);

  feed f = get_feed(NULL, g_trusted.token);
  json_t *e = feed_event(&f, id);
  assert_json_str(e, "summary", title);
  assert_json_str(e, "description", description);
  assert_json_str(e, "location", location);
  assert_json_str(e, "url", url);
  assert_json_str(e, "dtstart", hjson_str(ev, "starts_at"));
  assert_json_str(e, "dtend", hjson_str(ev, "ends_at"));
  assert_json_str(e, "status", "CONFIRMED");
  assert_json_int(e, "sequence", json_integer_value(hjson_get(ev, "version")));
  assert_non_null(hjson_str(e, "dtstamp"));
  assert_null(strstr(hjson_str(e, "dtstamp"), "not-utc"));
  /* the strict reading agrees, and the times are UTC DATE-TIMEs */
  json_t *s = strict_event(&f, id);
  assert_json_str(s, "SUMMARY", title);
  assert_json_str(s, "DESCRIPTION", description);
  assert_json_str(s, "LOCATION", location);
  char t[24];
  assert_json_str(s, "DTSTART", ics_time(hjson_str(ev, "starts_at"), t));
  assert_json_str(s, "DTEND", ics_time(hjson_str(ev, "ends_at"), t));
  feed_free(&f);
  json_decref(ev);

  /* A backslash before the letter n must come back as those two characters.  (python3-icalendar
   * 4.0.3 unescapes "\\n" wrongly itself, so only the strict reader checks this one.) */
  const char *tricky = "C:\\new\\Notes\\, done; \\\\server";
  b = harness_event_body("seminar", 3 * DAY, 3600, g_site_a);
  json_object_set_new(b, "title", json_string(tricky));
  json_decref(harness_new_event(g_trusted.token, b, id));
  http_response *r = fetch(NULL, g_trusted.token);
  assert_status(r, 200);
  json_t *doc = harness_ics_strict_parse(r->body, r->body_len);
  json_t *se = find_uid(hjson_get(doc, "events"), "UID", id);
  assert_non_null(se);
  assert_json_str(se, "SUMMARY", tricky);
  json_decref(doc);
  http_response_free(r);
}

static void test_uid_stable_and_sequence(void **state) {
  (void)state;
  char id[HARNESS_ID_MAX];
  json_decref(harness_new_event(g_trusted.token, harness_event_body("seminar", 4 * DAY, 3600, g_site_a), id));
  feed f1 = get_feed(NULL, g_trusted.token);
  harness_sleep_ms(1100); /* a later DTSTAMP second, so only UIDs can tie the two fetches */
  feed f2 = get_feed(NULL, g_trusted.token);
  json_t *e1 = hjson_get(f1.real, "events"), *e2 = hjson_get(f2.real, "events");
  assert_int_equal(json_array_size(e1), json_array_size(e2));
  for (size_t i = 0; i < json_array_size(e1); i++) {
    assert_json_str(json_array_get(e2, i), "uid", hjson_str(json_array_get(e1, i), "uid"));
    const char *uid = hjson_str(json_array_get(e1, i), "uid");
    size_t len = strlen(uid);
    if (len != 36 + 9 || strcmp(uid + 36, "@forumnet") != 0)
      harness_fail("UID %s is not <event id>@forumnet", uid);
    char eid[HARNESS_ID_MAX];
    snprintf(eid, sizeof eid, "%.36s", uid);
    assert_true(harness_is_uuid(eid));
  }
  assert_json_int(feed_event(&f1, id), "sequence", 1);
  feed_free(&f1);
  feed_free(&f2);

  /* an update keeps the UID and raises SEQUENCE with the version */
  http_response *r =
      http_json("PATCH", hpath("/v1/events/%s", id), g_trusted.token, json_pack("{s:s}", "title", "Moved, renamed"));
  assert_status(r, 200);
  json_int_t version = hjson_version(r->json);
  http_response_free(r);
  feed f3 = get_feed(NULL, g_trusted.token);
  json_t *e = feed_event(&f3, id);
  assert_json_str(e, "summary", "Moved, renamed");
  assert_json_int(e, "sequence", version);
  feed_free(&f3);
}

static void test_status_follows_event(void **state) {
  (void)state;
  char id[HARNESS_ID_MAX];
  json_decref(harness_new_event(g_untrusted.token, harness_event_body("training", 5 * DAY, 3600, g_site_a), id));
  feed f = get_feed(NULL, g_untrusted.token);
  assert_json_str(feed_event(&f, id), "status", "TENTATIVE");
  feed_free(&f);
  /* the site's manager sees the pending event as tentative too */
  f = get_feed(NULL, g_mgr_a.token);
  assert_json_str(feed_event(&f, id), "status", "TENTATIVE");
  feed_free(&f);
  harness_event_publish(id, g_mgr_a.token);
  f = get_feed(NULL, g_untrusted.token);
  assert_json_str(feed_event(&f, id), "status", "CONFIRMED");
  feed_free(&f);
  http_response *r = http_request("DELETE", hpath("/v1/events/%s", id), g_untrusted.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  f = get_feed(NULL, g_untrusted.token);
  json_t *e = feed_event(&f, id);
  assert_json_str(e, "status", "CANCELLED");
  assert_json_str(strict_event(&f, id), "STATUS", "CANCELLED");
  feed_free(&f);
  f = get_feed(NULL, g_admin.token);
  assert_json_str(feed_event(&f, id), "status", "CANCELLED");
  feed_free(&f);
}

static void test_feed_visibility(void **state) {
  (void)state;
  char at_a[HARNESS_ID_MAX], network[HARNESS_ID_MAX], pending[HARNESS_ID_MAX], other_partner[HARNESS_ID_MAX];
  json_decref(harness_new_event(g_mgr_a.token, harness_event_body("workshop", 6 * DAY, 3600, g_site_a), at_a));
  json_decref(harness_new_event(g_admin.token, harness_event_body("workshop", 6 * DAY, 3600, NULL), network));
  json_decref(harness_new_event(g_untrusted.token, harness_event_body("workshop", 6 * DAY, 3600, g_site_a), pending));
  json_decref(
      harness_new_event(g_trusted.token, harness_event_body("workshop", 6 * DAY, 3600, g_site_a), other_partner));

  feed f = get_feed(NULL, g_prac_a.token);
  assert_true(feed_has(&f, at_a));
  assert_true(feed_has(&f, network));
  assert_true(feed_has(&f, other_partner));
  assert_false(feed_has(&f, pending));
  feed_free(&f);

  f = get_feed(NULL, g_prac_b.token);
  assert_false(feed_has(&f, at_a));
  assert_false(feed_has(&f, other_partner));
  assert_true(feed_has(&f, network));
  feed_free(&f);
  /* asking for the other site's feed does not widen what one may see */
  char q[128];
  snprintf(q, sizeof q, "site_id=%s", g_site_a);
  f = get_feed(q, g_prac_b.token);
  assert_false(feed_has(&f, at_a));
  assert_false(feed_has(&f, other_partner));
  feed_free(&f);
  /* site_id narrows: site A's practitioner asking for site B gets network events only */
  snprintf(q, sizeof q, "site_id=%s", g_site_b);
  f = get_feed(q, g_prac_a.token);
  assert_false(feed_has(&f, at_a));
  assert_true(feed_has(&f, network));
  feed_free(&f);
  snprintf(q, sizeof q, "site_id=%s", g_site_a);
  f = get_feed(q, g_prac_a.token);
  assert_true(feed_has(&f, at_a));
  assert_true(feed_has(&f, network));
  feed_free(&f);

  /* a partner's feed: its own events only */
  f = get_feed(NULL, g_untrusted.token);
  assert_true(feed_has(&f, pending));
  assert_false(feed_has(&f, at_a));
  assert_false(feed_has(&f, network));
  assert_false(feed_has(&f, other_partner));
  feed_free(&f);
}

static void test_feed_window(void **state) {
  (void)state;
  harness_partner p;
  harness_new_partner(g_admin.token, true, &p);
  char old[HARNESS_ID_MAX], recent[HARNESS_ID_MAX], future[HARNESS_ID_MAX];
  json_decref(harness_new_event(p.token, harness_event_body("seminar", -31 * DAY, 3600, NULL), old));
  json_decref(harness_new_event(p.token, harness_event_body("seminar", -29 * DAY, 3600, NULL), recent));
  json_decref(harness_new_event(p.token, harness_event_body("seminar", 300 * DAY, 3600, NULL), future));
  feed f = get_feed(NULL, p.token);
  assert_false(feed_has(&f, old));
  assert_true(feed_has(&f, recent));
  assert_true(feed_has(&f, future));
  assert_int_equal(json_array_size(hjson_get(f.real, "events")), 2);
  feed_free(&f);
}

static void test_feed_requests(void **state) {
  (void)state;
  http_response *r = fetch(NULL, NULL);
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);
  r = fetch("site_id=nope", g_prac_a.token);
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
  r = http_request("POST", "/v1/events.ics", g_admin.token, "application/json", "{}", NULL);
  assert_problem_type(r, 405, "method-not-allowed");
  http_response_free(r);
  /* an empty feed is still a calendar */
  harness_partner p;
  harness_new_partner(g_admin.token, false, &p);
  feed f = get_feed(NULL, p.token);
  assert_int_equal(json_array_size(hjson_get(f.real, "events")), 0);
  feed_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),           cmocka_unit_test(test_uid_stable_and_sequence),
      cmocka_unit_test(test_status_follows_event), cmocka_unit_test(test_feed_visibility),
      cmocka_unit_test(test_feed_window),          cmocka_unit_test(test_feed_requests),
  };
  return cmocka_run_group_tests(tests, group_setup, harness_suite_teardown);
}
