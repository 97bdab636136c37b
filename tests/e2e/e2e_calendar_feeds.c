/*
 * e2e_calendar_feeds.c — API.md section 10, personal calendar feeds (issue 14): POST|GET
 * /v1/me/calendar-feeds, DELETE /v1/me/calendar-feeds/{id} and GET /v1/calendar/{token}.ics, which a
 * calendar app fetches by URL alone.  The feed is RFC 5545 (read by python3-icalendar and by the strict
 * reader of harness_ics.c) and holds the member's registered events (not declined ones) and the meetings
 * of the groups they are an active member of (not of a group they left), with time, place and title only:
 * no agenda, notes or description.  The secret shows once, in the url; lists and the export never show it.
 * Deleting a feed, suspension (for good: reactivation does not revive it) and erasure end it; another
 * member cannot delete it; malformed, unknown and tricky tokens are 404 problem+json; ETag/If-None-Match
 * answers 304; a member holds at most 10 feeds (409).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PUBLIC_BASE "https://calendar.example/forumnet"
#define SECRET_TEXT "SECRET-TEXT-7f3a"

static harness_account g_admin, g_conv, g_me, g_other;
static char g_site[HARNESS_ID_MAX], g_group[HARNESS_ID_MAX], g_left_group[HARNESS_ID_MAX];
static char g_meeting[HARNESS_ID_MAX], g_left_meeting[HARNESS_ID_MAX];
static char g_going[HARNESS_ID_MAX], g_interested[HARNESS_ID_MAX], g_declined[HARNESS_ID_MAX];
static char g_group_name[256];

/* A published event at the site, its description carrying SECRET_TEXT. */
static void new_event(char *id) {
  json_t *b = harness_event_body("seminar", 5 * 86400, 3600, g_site);
  json_object_set_new(b, "description", json_string("Description " SECRET_TEXT));
  json_object_set_new(b, "location", json_string("Hall B"));
  json_decref(harness_new_event(g_admin.token, b, id));
  harness_event_publish(id, g_admin.token);
}

/* A meeting in two days with a place, an agenda and notes (both carrying SECRET_TEXT). */
static void new_meeting(const char *group, char *id) {
  char starts[32], ends[32];
  http_response *r =
      http_json("POST", hpath("/v1/groups/%s/meetings", group), g_conv.token,
                json_pack("{s:s, s:s, s:s, s:s, s:s}", "starts_at", harness_rfc3339_from_now(2 * 86400, starts),
                          "ends_at", harness_rfc3339_from_now(2 * 86400 + 5400, ends), "location",
                          "Room 4, Old Building", "agenda", "Agenda " SECRET_TEXT, "notes", "Notes " SECRET_TEXT));
  assert_status(r, 201);
  snprintf(id, HARNESS_ID_MAX, "%s", hjson_str(r->json, "id"));
  http_response_free(r);
}

static int group_setup(void **state) {
  (void)state;
  const char *const env[] = {"FORUMNET_PUBLIC_BASE_URL=" PUBLIC_BASE "/", NULL};
  harness_suite_start(env, &g_admin);
  harness_new_site_id(g_admin.token, g_site);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &g_conv);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &g_me);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &g_other);
  json_t *g = harness_new_group(g_conv.token, g_site, 2, 8, g_group);
  snprintf(g_group_name, sizeof g_group_name, "%s", hjson_str(g, "name"));
  json_decref(g);
  harness_group_join(g_group, g_conv.token, &g_me);
  json_decref(harness_new_group(g_conv.token, g_site, 2, 8, g_left_group));
  harness_group_join(g_left_group, g_conv.token, &g_me);
  new_meeting(g_group, g_meeting);
  new_meeting(g_left_group, g_left_meeting);
  http_response *r =
      http_request("DELETE", hpath("/v1/groups/%s/members/%s", g_left_group, g_me.id), g_me.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  new_event(g_going);
  new_event(g_interested);
  new_event(g_declined);
  harness_event_register(g_going, g_me.token, "going");
  harness_event_register(g_interested, g_me.token, "interested");
  harness_event_register(g_declined, g_me.token, "going");
  harness_event_register(g_declined, g_me.token, "declined");
  return 0;
}

/* ---------------------------------------------------------------- helpers */

typedef struct feed {
  char id[HARNESS_ID_MAX];
  char path[256]; /* the url without PUBLIC_BASE: what this test's server answers */
} feed;

/* POST /v1/me/calendar-feeds as token (body NULL: none); asserts 201 and the url's form. */
static void new_feed(const char *token, json_t *body, feed *out) {
  http_response *r = body ? http_json("POST", "/v1/me/calendar-feeds", token, body)
                          : http_request("POST", "/v1/me/calendar-feeds", token, NULL, NULL, NULL);
  assert_status(r, 201);
  const char *url = hjson_str(r->json, "url");
  assert_non_null(url);
  assert_non_null(hjson_str(r->json, "created_at"));
  assert_int_equal(json_object_size(r->json), 3);
  const char *prefix = PUBLIC_BASE "/v1/calendar/";
  if (strncmp(url, prefix, strlen(prefix)) != 0 || strlen(url) != strlen(prefix) + 43 + 4 ||
      strcmp(url + strlen(url) - 4, ".ics") != 0)
    harness_fail("the feed url should be %s<43 characters>.ics: %s", prefix, url);
  snprintf(out->id, sizeof out->id, "%s", hjson_str(r->json, "id"));
  snprintf(out->path, sizeof out->path, "%s", url + strlen(PUBLIC_BASE));
  /* only the digest is stored */
  char *secret = strndup(url + strlen(prefix), 43);
  if (harness_psql_long(
          hpath("SELECT count(*) FROM calendar_feeds WHERE encode(digest, 'escape') LIKE '%%%s%%'", secret)) != 0)
    harness_fail("the feed's secret is stored as it is");
  free(secret);
  http_response_free(r);
}

static void expect_no_feed(const char *path) {
  http_response *r = http_get(path, NULL);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
}

/* The event or meeting "<id>@forumnet" in a parsed feed's events (key: "uid" or "UID"), or NULL. */
static json_t *find_uid(json_t *doc, const char *key, const char *id) {
  char uid[HARNESS_ID_MAX + 16];
  snprintf(uid, sizeof uid, "%s@forumnet", id);
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(doc, "events"), i, e) {
    const char *v = hjson_str(e, key);
    if (v && strcmp(v, uid) == 0)
      return e;
  }
  return NULL;
}

/* ---------------------------------------------------------------- tests */

static void test_feed_by_url_only(void **state) {
  (void)state;
  feed f;
  new_feed(g_me.token, NULL, &f);
  http_response *r = http_get(f.path, NULL); /* no Authorization: what a calendar app sends */
  assert_status(r, 200);
  harness_assert_rfc5545_form(r);
  if (strstr(r->body, SECRET_TEXT))
    harness_fail("the feed carries an agenda, notes or a description:\n%s", r->body);
  json_t *real = harness_icalendar_parse(r->body, r->body_len);
  json_t *strict = harness_ics_strict_parse(r->body, r->body_len);
  assert_json_str(real, "version", "2.0");
  const char *in[] = {g_going, g_interested, g_meeting}, *out[] = {g_declined, g_left_meeting};
  for (size_t i = 0; i < 3; i++)
    if (!find_uid(real, "uid", in[i]) || !find_uid(strict, "UID", in[i]))
      harness_fail("%s is missing from the feed:\n%s", in[i], r->body);
  for (size_t i = 0; i < 2; i++)
    if (find_uid(real, "uid", out[i]))
      harness_fail("%s should not be in the feed (declined, or a group the member left):\n%s", out[i], r->body);
  assert_int_equal(json_array_size(json_object_get(real, "events")), 3);
  json_t *m = find_uid(real, "uid", g_meeting);
  char title[300];
  snprintf(title, sizeof title, "Meeting: %s", g_group_name);
  assert_json_str(m, "summary", title);
  assert_json_str(m, "location", "Room 4, Old Building");
  assert_null(json_object_get(find_uid(strict, "UID", g_meeting), "DESCRIPTION"));
  assert_json_str(find_uid(real, "uid", g_going), "location", "Hall B");
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(strict, "events"), i, e) {
    if (json_object_get(e, "DESCRIPTION") || json_object_get(e, "URL"))
      harness_fail("the feed shows more than time, place and title:\n%s", r->body);
  }
  json_decref(real);
  json_decref(strict);

  /* ETag: strong, over the body; If-None-Match answers 304 with nothing; the body is the same on a refetch */
  const char *etag = http_header(r, "ETag");
  if (etag == NULL || etag[0] != '"')
    harness_fail("the feed needs a strong ETag, has %s", etag ? etag : "(none)");
  char inm[128];
  snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
  const char *const h304[] = {inm, NULL};
  http_response *again = http_get_with_headers(f.path, NULL, h304);
  assert_status(again, 304);
  assert_int_equal(again->body_len, 0);
  assert_header_equal(again, "ETag", etag);
  http_response_free(again);
  const char *const h200[] = {"If-None-Match: \"12345\"", NULL};
  again = http_get_with_headers(f.path, NULL, h200);
  assert_status(again, 200);
  if (again->body_len != r->body_len || memcmp(again->body, r->body, r->body_len) != 0)
    harness_fail("an unchanged feed should be the same byte for byte");
  http_response_free(again);
  /* a change moves it: a new registration */
  char extra[HARNESS_ID_MAX];
  new_event(extra);
  harness_event_register(extra, g_me.token, "going");
  again = http_get_with_headers(f.path, NULL, h304);
  assert_status(again, 200);
  if (!strstr(again->body, extra))
    harness_fail("the new registration is not in the feed");
  http_response_free(again);
  http_response_free(r);
}

static void test_list_shows_no_secret_and_delete(void **state) {
  (void)state;
  feed f;
  new_feed(g_other.token, json_object(), &f); /* an empty object is no body */
  http_response *r = http_get("/v1/me/calendar-feeds", g_other.token);
  assert_status(r, 200);
  json_t *items = json_object_get(r->json, "items");
  assert_int_equal(json_array_size(items), 1);
  assert_json_str(json_array_get(items, 0), "id", f.id);
  assert_int_equal(json_object_size(json_array_get(items, 0)), 2); /* id, created_at */
  const char *secret = strrchr(f.path, '/') + 1;
  char token_only[64];
  snprintf(token_only, sizeof token_only, "%.43s", secret);
  if (strstr(r->body, token_only) || strstr(r->body, "url"))
    harness_fail("the list shows the secret: %s", r->body);
  assert_true(json_object_get(r->json, "next_cursor") != NULL);
  http_response_free(r);
  /* another member's list does not show it; another member cannot delete it */
  r = http_get("/v1/me/calendar-feeds", g_me.token);
  assert_status(r, 200);
  if (strstr(r->body, f.id))
    harness_fail("another member's list shows the feed");
  http_response_free(r);
  r = http_request("DELETE", hpath("/v1/me/calendar-feeds/%s", f.id), g_me.token, NULL, NULL, NULL);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = http_get(f.path, NULL);
  assert_status(r, 200);
  http_response_free(r);
  /* export: the feed, never the secret */
  r = http_get("/v1/me/export", g_other.token);
  assert_status(r, 200);
  json_t *feeds = json_object_get(r->json, "calendar_feeds");
  assert_int_equal(json_array_size(feeds), 1);
  assert_json_str(json_array_get(feeds, 0), "id", f.id);
  assert_true(json_object_get(json_array_get(feeds, 0), "revoked_at") != NULL);
  if (strstr(r->body, token_only))
    harness_fail("the export shows the feed's secret");
  http_response_free(r);
  /* deleted: the url is gone, a second delete is 404, a malformed id too */
  r = http_request("DELETE", hpath("/v1/me/calendar-feeds/%s", f.id), g_other.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  expect_no_feed(f.path);
  r = http_request("DELETE", hpath("/v1/me/calendar-feeds/%s", f.id), g_other.token, NULL, NULL, NULL);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = http_request("DELETE", "/v1/me/calendar-feeds/not-a-uuid", g_other.token, NULL, NULL, NULL);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  /* the audit log names the feed, never the secret */
  r = http_get(hpath("/v1/audit?resource_type=member&resource_id=%s", g_other.id), g_admin.token);
  assert_status(r, 200);
  if (!strstr(r->body, "member.calendar_feed_created") || !strstr(r->body, "member.calendar_feed_deleted") ||
      strstr(r->body, token_only))
    harness_fail("the audit log should show the feed's creation and deletion, not its secret: %s", r->body);
  http_response_free(r);
}

static void test_body_and_cap(void **state) {
  (void)state;
  harness_account a;
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &a);
  http_response *r =
      http_json("POST", "/v1/me/calendar-feeds", a.token, json_pack("{s:s}", "url", "https://evil.example/"));
  if (r->status != 400 && r->status != 422)
    harness_fail("an unknown field should be refused, got %ld %s", r->status, r->body);
  http_response_free(r);
  feed f;
  for (int i = 0; i < 10; i++)
    new_feed(a.token, NULL, &f);
  r = http_request("POST", "/v1/me/calendar-feeds", a.token, NULL, NULL, NULL);
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  r = http_request("DELETE", hpath("/v1/me/calendar-feeds/%s", f.id), a.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  new_feed(a.token, NULL, &f); /* room again */
  r = http_get("/v1/me/calendar-feeds?limit=4", a.token);
  assert_status(r, 200);
  assert_int_equal(json_array_size(json_object_get(r->json, "items")), 4);
  assert_non_null(hjson_str(r->json, "next_cursor"));
  http_response_free(r);
}

static void test_bad_tokens_are_404(void **state) {
  (void)state;
  feed f;
  new_feed(g_me.token, NULL, &f);
  char token[64], path[4096];
  snprintf(token, sizeof token, "%.43s", strrchr(f.path, '/') + 1);
  const char *paths[] = {
      "/v1/calendar/x.ics",
      "/v1/calendar/.ics",
      "/v1/calendar/%2e%2e%2fme.ics",
      "/v1/calendar/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.ics", /* the right form, no such feed */
      "/v1/calendar/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%00.ics",
      "/v1/calendar/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+.ics",
      hpath("/v1/calendar/%s", token),            /* no .ics */
      hpath("/v1/calendar/%s.ics/", token),       /* more after it */
      hpath("/v1/calendar/%s.ics.ics", token),    /* more after it */
      hpath("/v1/calendar/%s.ICS", token),        /* the suffix as given out */
      hpath("/v1/calendar/%.42s.ics", token),     /* one character short */
      hpath("/v1/calendar/%s%s.ics", token, "A"), /* one character long */
      hpath("/v1/calendar/..%%2F%s.ics", token),  /* path tricks around a real secret */
  };
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    http_response *r = http_get(paths[i], NULL);
    if (r->status != 404 ||
        !strstr(http_header(r, "Content-Type") ? http_header(r, "Content-Type") : "", "application/problem+json"))
      harness_fail("%s: expected 404 problem+json, got %ld %s", paths[i], r->status, r->body);
    http_response_free(r);
  }
  /* dot segments, sent as they are (libcurl would remove them) */
  const char *raw[] = {"/v1/calendar/..", "/v1/calendar/../me", "/v1/calendar/./x.ics", "/v1/calendar/..%2Fme.ics"};
  for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
    char req[512];
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", raw[i]);
    http_response *r = http_send_raw("GET", raw[i], req, (size_t)len, 5000);
    if (r->status != 404)
      harness_fail("%s: expected 404, got %ld %s", raw[i], r->status, r->body);
    http_response_free(r);
  }
  /* very long: 3000 characters */
  int n = snprintf(path, sizeof path, "/v1/calendar/");
  memset(path + n, 'A', 3000);
  snprintf(path + n + 3000, sizeof path - (size_t)n - 3000, ".ics");
  http_response *r = http_get(path, NULL);
  if (r->status != 404 && r->status != 414)
    harness_fail("a 3000-character token: expected 404 (or 414), got %ld", r->status);
  http_response_free(r);
  /* the real one still answers, and a bearer token next to it changes nothing */
  r = http_get(f.path, g_other.token);
  assert_status(r, 200);
  if (!strstr(r->body, g_going))
    harness_fail("the feed should be its owner's whoever else is logged in");
  http_response_free(r);
}

static void test_suspension_ends_feeds_for_good(void **state) {
  (void)state;
  harness_account a;
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &a);
  feed f;
  new_feed(a.token, NULL, &f);
  http_response *r = http_get(f.path, NULL);
  assert_status(r, 200);
  http_response_free(r);
  r = http_json("PATCH", hpath("/v1/members/%s", a.id), g_admin.token, json_pack("{s:s}", "status", "suspended"));
  assert_status(r, 200);
  http_response_free(r);
  expect_no_feed(f.path);
  /* even with the row left as it was (a suspension that did not revoke), the member's status ends it */
  assert_int_equal(harness_psql_try(hpath("UPDATE calendar_feeds SET revoked_at = NULL WHERE id = '%s'", f.id)), 0);
  expect_no_feed(f.path);
  assert_int_equal(harness_psql_try(hpath("UPDATE calendar_feeds SET revoked_at = now() WHERE id = '%s'", f.id)), 0);
  r = http_json("PATCH", hpath("/v1/members/%s", a.id), g_admin.token, json_pack("{s:s}", "status", "active"));
  assert_status(r, 200);
  http_response_free(r);
  expect_no_feed(f.path);                                    /* reactivation does not revive it */
  harness_forge_access_token(a.id, "practitioner", a.token); /* the suspension ended its sessions */
  r = http_get("/v1/me/calendar-feeds", a.token);
  assert_status(r, 200);
  assert_int_equal(json_array_size(json_object_get(r->json, "items")), 0);
  http_response_free(r);
  feed again;
  new_feed(a.token, NULL, &again);
  r = http_get(again.path, NULL);
  assert_status(r, 200);
  http_response_free(r);
}

static void test_erasure_ends_feeds(void **state) {
  (void)state;
  harness_account a;
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &a);
  feed f;
  new_feed(a.token, NULL, &f);
  http_response *r = http_request("DELETE", "/v1/me", a.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  expect_no_feed(f.path);
  assert_int_equal(harness_psql_long(hpath("SELECT count(*) FROM calendar_feeds WHERE member_id = '%s'", a.id)), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_feed_by_url_only),
      cmocka_unit_test(test_list_shows_no_secret_and_delete),
      cmocka_unit_test(test_body_and_cap),
      cmocka_unit_test(test_bad_tokens_are_404),
      cmocka_unit_test(test_suspension_ends_feeds_for_good),
      cmocka_unit_test(test_erasure_ends_feeds),
  };
  return cmocka_run_group_tests(tests, group_setup, harness_suite_teardown);
}
