/*
 * e2e_discussions.c — API.md section 11 (group discussions) against the real server: only the group's
 * active members read or write threads and posts — an admin, a manager of the site, a facilitator and a
 * member of another group at the same site, a former member all get 404, a suspended account 401; authors
 * edit their own words (If-Match), conveners and facilitators pin, lock and remove (audited by id only);
 * a locked thread takes no posts, a dormant group no writes; body lengths count characters; search stays
 * inside the group; unread counts stay exact under concurrent posting; notifications go to the right
 * members and carry the group's name only; erasure keeps posts as "former member", export lists them.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static harness_account g_admin, g_mgr;
static char g_site[HARNESS_ID_MAX];
/* Group G: g_conv (convener), g_fac (facilitator), g_m1, g_m2 (members), g_former (joined, then left).
 * Group H at the same site: g_conv_h (convener), g_fac_h (facilitator), g_oth (member). */
static harness_account g_conv, g_fac, g_m1, g_m2, g_former, g_conv_h, g_fac_h, g_oth;
static char g_group[HARNESS_ID_MAX], g_group_name[HARNESS_NAME_MAX], g_group_h[HARNESS_ID_MAX];

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_new_site_id(g_admin.token, g_site);
  harness_new_manager_quick(g_admin.token, g_site, &g_mgr);
  harness_account *practitioners[] = {&g_conv, &g_fac, &g_m1, &g_m2, &g_former, &g_conv_h, &g_fac_h, &g_oth};
  for (size_t i = 0; i < sizeof practitioners / sizeof practitioners[0]; i++)
    harness_new_member_quick(g_admin.token, "practitioner", g_site, practitioners[i]);
  json_t *g = harness_new_group(g_conv.token, g_site, 2, 20, g_group);
  snprintf(g_group_name, sizeof g_group_name, "%s", hjson_str(g, "name"));
  json_decref(g);
  harness_group_join(g_group, g_conv.token, &g_fac);
  harness_group_set_role(g_group, g_conv.token, g_fac.id, "facilitator");
  harness_group_join(g_group, g_conv.token, &g_m1);
  harness_group_join(g_group, g_conv.token, &g_m2);
  harness_group_join(g_group, g_conv.token, &g_former);
  http_response *r =
      http_request("DELETE", hpath("/v1/groups/%s/members/%s", g_group, g_former.id), g_former.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  json_decref(harness_new_group(g_conv_h.token, g_site, 2, 20, g_group_h));
  harness_group_join(g_group_h, g_conv_h.token, &g_fac_h);
  harness_group_set_role(g_group_h, g_conv_h.token, g_fac_h.id, "facilitator");
  harness_group_join(g_group_h, g_conv_h.token, &g_oth);
  return 0;
}

static void expect(http_response *r, long status) {
  assert_status(r, status);
  http_response_free(r);
}

static http_response *post_thread(const char *gid, const char *token, const char *title, const char *body) {
  return http_json("POST", hpath("/v1/groups/%s/threads", gid), token,
                   json_pack("{s:s, s:s}", "title", title, "body", body));
}

static http_response *post_post(const char *gid, const char *tid, const char *token, const char *body) {
  return http_json("POST", hpath("/v1/groups/%s/threads/%s/posts", gid, tid), token, json_pack("{s:s}", "body", body));
}

/* A new thread; writes its id (HARNESS_ID_MAX). */
static void new_thread(const char *gid, const char *token, const char *title, const char *body, char *id_out) {
  http_response *r = post_thread(gid, token, title, body);
  assert_status(r, 201);
  snprintf(id_out, HARNESS_ID_MAX, "%s", hjson_str(r->json, "id"));
  http_response_free(r);
}

/* A new post; writes its id (HARNESS_ID_MAX). */
static void new_post(const char *gid, const char *tid, const char *token, const char *body, char *id_out) {
  http_response *r = post_post(gid, tid, token, body);
  assert_status(r, 201);
  if (id_out)
    snprintf(id_out, HARNESS_ID_MAX, "%s", hjson_str(r->json, "id"));
  http_response_free(r);
}

/* The thread as token sees it (new reference). */
static json_t *get_thread(const char *gid, const char *tid, const char *token) {
  return harness_get_json(hpath("/v1/groups/%s/threads/%s", gid, tid), token);
}

static long unread(const char *gid, const char *tid, const char *token) {
  json_t *t = get_thread(gid, tid, token);
  long n = (long)json_integer_value(json_object_get(t, "unread_count"));
  json_decref(t);
  return n;
}

static void mark_read(const char *gid, const char *tid, const char *token, const char *post_id, long status) {
  expect(
      http_json("PUT", hpath("/v1/groups/%s/threads/%s/read", gid, tid), token, json_pack("{s:s}", "post_id", post_id)),
      status);
}

/* Notifications of kind about thread tid to member_id. */
static long notified(const char *kind, const char *tid, const char *member_id) {
  char q[1024];
  snprintf(q, sizeof q,
           "SELECT count(*) FROM notifications WHERE kind = '%s' AND subject_type = 'thread' AND subject_id = '%s'"
           " AND member_id = '%s'",
           kind, tid, member_id);
  return harness_psql_long(q);
}

static long notified_total(const char *kind, const char *tid) {
  char q[1024];
  snprintf(q, sizeof q, "SELECT count(*) FROM notifications WHERE kind = '%s' AND subject_id = '%s'", kind, tid);
  return harness_psql_long(q);
}

static void test_walk_a_discussion(void **state) {
  (void)state;
  char tid[HARNESS_ID_MAX], p1[HARNESS_ID_MAX], p2[HARNESS_ID_MAX], title[64], body[64];
  harness_unique("Confidential title", title);
  harness_unique("What the convener said", body);
  http_response *r = post_thread(g_group, g_conv.token, title, body);
  assert_status(r, 201);
  snprintf(tid, sizeof tid, "%s", hjson_str(r->json, "id"));
  assert_non_null(strstr(http_header(r, "Location"), tid));
  assert_json_str(r->json, "group_id", g_group);
  assert_json_str(r->json, "title", title);
  assert_json_str(r->json, "created_by.id", g_conv.id);
  assert_json_int(r->json, "post_count", 1);
  assert_json_int(r->json, "unread_count", 0);
  assert_true(json_is_false(hjson_get(r->json, "pinned")) && json_is_false(hjson_get(r->json, "locked")));
  http_response_free(r);

  /* thread.created to the group's other active members: never the author, the former member or others */
  assert_int_equal(notified("thread.created", tid, g_fac.id), 1);
  assert_int_equal(notified("thread.created", tid, g_m1.id), 1);
  assert_int_equal(notified("thread.created", tid, g_m2.id), 1);
  assert_int_equal(notified_total("thread.created", tid), 3);
  char q[1024];
  snprintf(q, sizeof q,
           "SELECT count(*) FROM notifications WHERE subject_id = '%s' AND title = 'New thread in %s'"
           " AND group_id = '%s'",
           tid, g_group_name, g_group);
  assert_int_equal(harness_psql_long(q), 3);

  assert_int_equal(unread(g_group, tid, g_m1.token), 1);
  json_t *page = harness_get_json(hpath("/v1/groups/%s/threads/%s/posts", g_group, tid), g_m1.token);
  snprintf(p1, sizeof p1, "%s", hjson_str(json_array_get(json_object_get(page, "items"), 0), "id"));
  assert_json_str(json_array_get(json_object_get(page, "items"), 0), "body", body);
  json_decref(page);

  /* m1 replies: thread.reply to the author only (the earlier participant), never to m1 */
  new_post(g_group, tid, g_m1.token, "A reply from m1", p2);
  assert_int_equal(notified("thread.reply", tid, g_conv.id), 1);
  assert_int_equal(notified_total("thread.reply", tid), 1);
  assert_int_equal(unread(g_group, tid, g_m1.token), 0); /* m1 read up to their own post */
  assert_int_equal(unread(g_group, tid, g_conv.token), 1);
  assert_int_equal(unread(g_group, tid, g_m2.token), 2);
  /* m2 replies: to the author and m1, never to m2 or the facilitator who did not take part */
  new_post(g_group, tid, g_m2.token, "A reply from m2", NULL);
  assert_int_equal(notified("thread.reply", tid, g_conv.id), 2);
  assert_int_equal(notified("thread.reply", tid, g_m1.id), 1);
  assert_int_equal(notified("thread.reply", tid, g_m2.id), 0);
  assert_int_equal(notified("thread.reply", tid, g_fac.id), 0);
  snprintf(q, sizeof q,
           "SELECT count(*) FROM notifications WHERE subject_id = '%s' AND (title LIKE '%%%s%%' OR title LIKE "
           "'%%reply%%m1%%')",
           tid, title);
  assert_int_equal(harness_psql_long(q), 0);

  /* PUT read: up to a post, never backwards */
  assert_int_equal(unread(g_group, tid, g_conv.token), 2);
  mark_read(g_group, tid, g_conv.token, p2, 204);
  assert_int_equal(unread(g_group, tid, g_conv.token), 1);
  mark_read(g_group, tid, g_conv.token, p1, 204);
  assert_int_equal(unread(g_group, tid, g_conv.token), 1);

  /* posts oldest first, each with its ETag */
  json_t *posts = harness_list_all(hpath("/v1/groups/%s/threads/%s/posts", g_group, tid), g_fac.token);
  assert_int_equal(json_array_size(posts), 3);
  assert_string_equal(hjson_str(json_array_get(posts, 1), "id"), p2);
  assert_json_str(json_array_get(posts, 1), "author.id", g_m1.id);
  json_decref(posts);
  r = http_get(hpath("/v1/groups/%s/threads/%s/posts/%s", g_group, tid, p2), g_fac.token);
  assert_status(r, 200);
  assert_header_equal(r, "ETag", "\"1\"");
  http_response_free(r);

  /* the thread list: latest activity first, with unread counts, paged */
  char newer[HARNESS_ID_MAX];
  new_thread(g_group, g_m2.token, "A newer thread", "Newer", newer);
  page = harness_get_json(hpath("/v1/groups/%s/threads?limit=1", g_group), g_conv.token);
  assert_string_equal(hjson_str(json_array_get(json_object_get(page, "items"), 0), "id"), newer);
  assert_json_int(json_array_get(json_object_get(page, "items"), 0), "unread_count", 1);
  assert_true(json_is_string(json_object_get(page, "next_cursor")));
  json_decref(page);
  new_post(g_group, tid, g_m2.token, "Activity moves the thread up", NULL);
  page = harness_get_json(hpath("/v1/groups/%s/threads?limit=1", g_group), g_conv.token);
  assert_string_equal(hjson_str(json_array_get(json_object_get(page, "items"), 0), "id"), tid);
  json_decref(page);
  assert_true(harness_list_contains(hpath("/v1/groups/%s/threads", g_group), g_m1.token, "id", newer));
}

/* Every route, from everyone who is not an active member of the group: 404, the same as for an id that
 * does not exist, and never a word of the discussion. */
static void test_only_active_members(void **state) {
  (void)state;
  char tid[HARNESS_ID_MAX], pid[HARNESS_ID_MAX], secret[64];
  harness_unique("secretword", secret);
  new_thread(g_group, g_m1.token, secret, secret, tid);
  new_post(g_group, tid, g_m1.token, secret, pid);
  const harness_account *outsiders[] = {&g_admin, &g_mgr, &g_fac_h, &g_former, &g_oth, &g_conv_h};
  for (size_t i = 0; i < sizeof outsiders / sizeof outsiders[0]; i++) {
    const char *tok = outsiders[i]->token;
    char g[128], t[256], pp[384];
    snprintf(g, sizeof g, "/v1/groups/%s/threads", g_group);
    snprintf(t, sizeof t, "%s/%s", g, tid);
    snprintf(pp, sizeof pp, "%s/posts/%s", t, pid);
    char search[256], posts[300], read[300];
    snprintf(search, sizeof search, "%s?q=%s", g, secret);
    snprintf(posts, sizeof posts, "%s/posts", t);
    snprintf(read, sizeof read, "%s/read", t);
    struct {
      const char *method, *path;
      json_t *body;
    } calls[] = {
        {"GET", g, NULL},
        {"GET", search, NULL},
        {"POST", g, json_pack("{s:s, s:s}", "title", "x", "body", "x")},
        {"GET", t, NULL},
        {"PATCH", t, json_pack("{s:b}", "pinned", 1)},
        {"DELETE", t, NULL},
        {"GET", posts, NULL},
        {"POST", posts, json_pack("{s:s}", "body", "x")},
        {"GET", pp, NULL},
        {"PATCH", pp, json_pack("{s:s}", "body", "x")},
        {"DELETE", pp, NULL},
        {"PUT", read, json_pack("{s:s}", "post_id", pid)},
    };
    for (size_t k = 0; k < sizeof calls / sizeof calls[0]; k++) {
      http_response *r = calls[k].body ? http_json(calls[k].method, calls[k].path, tok, calls[k].body)
                                       : http_request(calls[k].method, calls[k].path, tok, NULL, NULL, NULL);
      assert_problem_type(r, 404, "not-found");
      if (strstr(r->body, secret))
        harness_fail("a refusal carries the discussion's words: %s", r->body);
      http_response_free(r);
    }
  }
  /* nothing changed meanwhile */
  json_t *t = get_thread(g_group, tid, g_m1.token);
  assert_json_int(t, "post_count", 2);
  assert_true(json_is_false(json_object_get(t, "pinned")));
  json_decref(t);

  /* a suspended account is turned away before any route (401), and is notified of nothing */
  harness_account s;
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &s);
  harness_group_join(g_group, g_conv.token, &s);
  expect(http_json("PATCH", hpath("/v1/members/%s", s.id), g_admin.token, json_pack("{s:s}", "status", "suspended")),
         200);
  expect(http_get(hpath("/v1/groups/%s/threads", g_group), s.token), 401);
  char t2[HARNESS_ID_MAX];
  new_thread(g_group, g_m2.token, "After the suspension", "Hello", t2);
  assert_int_equal(notified("thread.created", t2, s.id), 0);
  assert_int_equal(notified("thread.created", t2, g_former.id), 0);
  assert_int_equal(notified("thread.created", t2, g_oth.id), 0);
}

static void test_authors_and_moderators(void **state) {
  (void)state;
  char tid[HARNESS_ID_MAX], pid[HARNESS_ID_MAX];
  new_thread(g_group, g_m1.token, "Edits", "First words", tid);
  new_post(g_group, tid, g_m1.token, "m1's post", pid);
  const char *path = hpath("/v1/groups/%s/threads/%s/posts/%s", g_group, tid, pid);
  char post_path[512];
  snprintf(post_path, sizeof post_path, "%s", path);

  /* another member, even the convener, may not edit m1's words: 403 */
  expect(http_json("PATCH", post_path, g_m2.token, json_pack("{s:s}", "body", "rewritten")), 403);
  expect(http_json("PATCH", post_path, g_conv.token, json_pack("{s:s}", "body", "rewritten")), 403);
  /* stale If-Match: 412; the current one: 200, a new version and edited_at */
  const char *stale[] = {"If-Match: \"7\"", NULL};
  expect(http_json_with_headers("PATCH", post_path, g_m1.token, json_pack("{s:s}", "body", "edited"), stale), 412);
  const char *current[] = {"If-Match: \"1\"", NULL};
  http_response *r =
      http_json_with_headers("PATCH", post_path, g_m1.token, json_pack("{s:s}", "body", "edited"), current);
  assert_status(r, 200);
  assert_json_str(r->json, "body", "edited");
  assert_json_int(r->json, "version", 2);
  assert_true(json_is_string(hjson_get(r->json, "edited_at")));
  http_response_free(r);
  expect(http_json_with_headers("PATCH", post_path, g_m1.token, json_pack("{s:s}", "body", "again"), current), 412);

  /* the title is the author's; pinning and locking the leaders' */
  const char *tpath = hpath("/v1/groups/%s/threads/%s", g_group, tid);
  char thread_path[512];
  snprintf(thread_path, sizeof thread_path, "%s", tpath);
  expect(http_json("PATCH", thread_path, g_m2.token, json_pack("{s:s}", "title", "Not mine")), 403);
  expect(http_json("PATCH", thread_path, g_m1.token, json_pack("{s:b}", "pinned", 1)), 403);
  expect(http_json("PATCH", thread_path, g_m1.token, json_pack("{s:s}", "title", "Edits, renamed")), 200);
  r = http_json("PATCH", thread_path, g_fac.token, json_pack("{s:b}", "pinned", 1));
  assert_status(r, 200);
  assert_true(json_is_true(hjson_get(r->json, "pinned")));
  http_response_free(r);
  assert_int_equal(harness_audit_count("thread.pinned", tid, g_fac.id), 1);
  expect(http_json("PATCH", thread_path, g_m1.token, json_pack("{s:[]}", "post_count")), 400);

  /* removal: not by another member; by a facilitator, audited by ids only; the place stays */
  expect(http_request("DELETE", post_path, g_m2.token, NULL, NULL, NULL), 403);
  expect(http_request("DELETE", post_path, g_fac.token, NULL, NULL, NULL), 204);
  assert_int_equal(harness_audit_count("post.removed", pid, g_fac.id), 1);
  char q[1024];
  snprintf(q, sizeof q,
           "SELECT count(*) FROM audit_log WHERE resource_id IN ('%s', '%s') AND (details::text LIKE '%%edited%%'"
           " OR details::text LIKE '%%Edits%%')",
           tid, pid);
  assert_int_equal(harness_psql_long(q), 0);
  r = http_get(post_path, g_m2.token);
  assert_status(r, 200);
  assert_true(json_is_true(hjson_get(r->json, "removed")));
  assert_true(hjson_is_null(r->json, "body"));
  http_response_free(r);
  expect(http_json("PATCH", post_path, g_m1.token, json_pack("{s:s}", "body", "back")), 409);

  /* an author removes their own thread; then it is gone */
  expect(http_request("DELETE", thread_path, g_m2.token, NULL, NULL, NULL), 403);
  expect(http_request("DELETE", thread_path, g_m1.token, NULL, NULL, NULL), 204);
  assert_int_equal(harness_audit_count("thread.removed", tid, g_m1.id), 1);
  expect(http_get(thread_path, g_m1.token), 404);
  expect(http_get(post_path, g_m1.token), 404);
}

static void test_locked_thread_and_dormant_group(void **state) {
  (void)state;
  char tid[HARNESS_ID_MAX], pid[HARNESS_ID_MAX];
  new_thread(g_group, g_m1.token, "To be locked", "Words", tid);
  new_post(g_group, tid, g_m2.token, "More words", pid);
  const char *tp = hpath("/v1/groups/%s/threads/%s", g_group, tid);
  char thread_path[512];
  snprintf(thread_path, sizeof thread_path, "%s", tp);
  expect(http_json("PATCH", thread_path, g_conv.token, json_pack("{s:b}", "locked", 1)), 200);
  assert_int_equal(harness_audit_count("thread.locked", tid, g_conv.id), 1);
  http_response *r = post_post(g_group, tid, g_m2.token, "Too late");
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  expect(http_json("PATCH", hpath("/v1/groups/%s/threads/%s/posts/%s", g_group, tid, pid), g_m2.token,
                   json_pack("{s:s}", "body", "Changed")),
         409);
  expect(http_json("PATCH", thread_path, g_conv.token, json_pack("{s:b}", "locked", 0)), 200);
  new_post(g_group, tid, g_m2.token, "Open again", NULL);

  /* a dormant group is read-only */
  char gid[HARNESS_ID_MAX], t2[HARNESS_ID_MAX], p2[HARNESS_ID_MAX];
  json_decref(harness_new_group(g_conv.token, g_site, 2, 8, gid));
  harness_group_join(gid, g_conv.token, &g_m1);
  new_thread(gid, g_m1.token, "Before sleep", "Words", t2);
  new_post(gid, t2, g_m1.token, "More", p2);
  expect(http_json("PATCH", hpath("/v1/groups/%s", gid), g_conv.token, json_pack("{s:s}", "status", "dormant")), 200);
  expect(post_thread(gid, g_m1.token, "x", "y"), 409);
  expect(post_post(gid, t2, g_m1.token, "y"), 409);
  expect(http_json("PATCH", hpath("/v1/groups/%s/threads/%s/posts/%s", gid, t2, p2), g_m1.token,
                   json_pack("{s:s}", "body", "z")),
         409);
  expect(http_json("PATCH", hpath("/v1/groups/%s/threads/%s", gid, t2), g_conv.token, json_pack("{s:b}", "pinned", 1)),
         409);
  expect(http_request("DELETE", hpath("/v1/groups/%s/threads/%s/posts/%s", gid, t2, p2), g_m1.token, NULL, NULL, NULL),
         409);
  expect(http_request("DELETE", hpath("/v1/groups/%s/threads/%s", gid, t2), g_conv.token, NULL, NULL, NULL), 409);
  json_t *t = get_thread(gid, t2, g_m1.token);
  assert_json_int(t, "post_count", 2);
  json_decref(t);
}

/* "é" is two bytes: the limits count characters. */
static char *repeat_e_acute(size_t n) {
  char *s = malloc(2 * n + 1);
  assert_non_null(s);
  for (size_t i = 0; i < n; i++)
    memcpy(s + 2 * i, "\xc3\xa9", 2);
  s[2 * n] = '\0';
  return s;
}

static void test_lengths(void **state) {
  (void)state;
  char tid[HARNESS_ID_MAX];
  new_thread(g_group, g_m1.token, "Lengths", "Short", tid);
  char *ok = repeat_e_acute(20000), *too_long = repeat_e_acute(20001);
  http_response *r = post_post(g_group, tid, g_m1.token, ok);
  assert_status(r, 201);
  assert_json_str(r->json, "body", ok);
  http_response_free(r);
  r = post_post(g_group, tid, g_m1.token, too_long);
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "body");
  http_response_free(r);
  r = post_thread(g_group, g_m1.token, "Too long", too_long);
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "body");
  http_response_free(r);
  free(ok);
  free(too_long);
  r = post_post(g_group, tid, g_m1.token, "   ");
  assert_error_field(r, "body");
  http_response_free(r);
  char *title = harness_repeat('t', 201);
  r = post_thread(g_group, g_m1.token, title, "x");
  assert_error_field(r, "title");
  http_response_free(r);
  free(title);
  r = http_json("POST", hpath("/v1/groups/%s/threads", g_group), g_m1.token,
                json_pack("{s:s, s:s, s:b}", "title", "x", "body", "y", "pinned", 1));
  assert_error_field(r, "pinned");
  http_response_free(r);
  expect(http_json("PUT", hpath("/v1/groups/%s/threads/%s/read", g_group, tid), g_m1.token,
                   json_pack("{s:s}", "post_id", "nope")),
         400);
}

static void test_search_stays_in_the_group(void **state) {
  (void)state;
  char word[64], tg[HARNESS_ID_MAX], th[HARNESS_ID_MAX], ttitle[HARNESS_ID_MAX], other[HARNESS_ID_MAX];
  harness_unique("zebracrossing", word);
  for (char *c = word; *c; c++)
    if (*c == '-' || *c == '_')
      *c = 'x';
  char body[160];
  snprintf(body, sizeof body, "We talked about %s at length", word);
  new_thread(g_group, g_m1.token, "Plain title", "Opening", tg);
  new_post(g_group, tg, g_m2.token, body, NULL);
  new_thread(g_group, g_m2.token, word, "Title match", ttitle);
  new_thread(g_group, g_m2.token, "Unrelated", "Nothing here", other);
  new_thread(g_group_h, g_oth.token, "Theirs", body, th);
  json_t *found = harness_list_all(hpath("/v1/groups/%s/threads?q=%s", g_group, word), g_m1.token);
  assert_int_equal(json_array_size(found), 2);
  char ids[200];
  snprintf(ids, sizeof ids, "%s %s", hjson_str(json_array_get(found, 0), "id"),
           hjson_str(json_array_get(found, 1), "id"));
  assert_non_null(strstr(ids, tg));
  assert_non_null(strstr(ids, ttitle));
  json_decref(found);
  found = harness_list_all(hpath("/v1/groups/%s/threads?q=%s", g_group_h, word), g_oth.token);
  assert_int_equal(json_array_size(found), 1);
  json_decref(found);
  expect(http_get(hpath("/v1/groups/%s/threads?q=%%20", g_group), g_m1.token), 400);
}

static void test_unread_under_concurrent_posting(void **state) {
  (void)state;
  char tid[HARNESS_ID_MAX];
  new_thread(g_group, g_conv.token, "Busy", "Go", tid);
  harness_race_req reqs[12];
  const harness_account *posters[] = {&g_m1, &g_m2, &g_conv};
  for (int i = 0; i < 12; i++) {
    reqs[i].method = "POST";
    snprintf(reqs[i].path, sizeof reqs[i].path, "/v1/groups/%s/threads/%s/posts", g_group, tid);
    reqs[i].token = posters[i % 3]->token;
    reqs[i].body = json_pack("{s:s}", "body", "at once");
  }
  harness_race(reqs, 12);
  for (int i = 0; i < 12; i++)
    assert_int_equal(reqs[i].status, 201);
  char q[1024];
  snprintf(q, sizeof q, "SELECT count(DISTINCT seq) * 100 + max(seq) FROM posts WHERE thread_id = '%s'", tid);
  assert_int_equal(harness_psql_long(q), 13 * 100 + 13);
  json_t *t = get_thread(g_group, tid, g_fac.token);
  assert_json_int(t, "post_count", 13);
  assert_json_int(t, "unread_count", 13);
  json_decref(t);
  json_t *posts = harness_list_all(hpath("/v1/groups/%s/threads/%s/posts", g_group, tid), g_fac.token);
  assert_int_equal(json_array_size(posts), 13);
  mark_read(g_group, tid, g_fac.token, hjson_str(json_array_get(posts, 6), "id"), 204);
  assert_int_equal(unread(g_group, tid, g_fac.token), 6);
  mark_read(g_group, tid, g_fac.token, hjson_str(json_array_get(posts, 12), "id"), 204);
  assert_int_equal(unread(g_group, tid, g_fac.token), 0);
  json_decref(posts);
  /* a post of another thread is not a place in this one */
  char t2[HARNESS_ID_MAX], p2[HARNESS_ID_MAX];
  new_thread(g_group, g_conv.token, "Other", "Other", t2);
  new_post(g_group, t2, g_conv.token, "Other post", p2);
  http_response *r = http_json("PUT", hpath("/v1/groups/%s/threads/%s/read", g_group, tid), g_fac.token,
                               json_pack("{s:s}", "post_id", p2));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "post_id");
  http_response_free(r);
}

static void test_erasure_and_export(void **state) {
  (void)state;
  harness_account e;
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &e);
  harness_group_join(g_group, g_conv.token, &e);
  char tid[HARNESS_ID_MAX], pid[HARNESS_ID_MAX];
  new_thread(g_group, g_m1.token, "Erasure", "Start", tid);
  new_post(g_group, tid, e.token, "My own words", pid);
  json_t *exp = harness_get_json("/v1/me/export", e.token);
  json_t *posts = json_object_get(exp, "posts");
  assert_int_equal(json_array_size(posts), 1);
  assert_json_str(json_array_get(posts, 0), "body", "My own words");
  assert_json_str(json_array_get(posts, 0), "thread_id", tid);
  assert_int_equal(json_array_size(json_object_get(exp, "thread_reads")), 1);
  json_decref(exp);
  exp = harness_get_json("/v1/me/export", g_m2.token);
  char *other_export = json_dumps(exp, 0);
  assert_non_null(other_export);
  int leaked_post = strstr(other_export, "My own words") != NULL;
  free(other_export);
  json_decref(exp);
  if (leaked_post)
    harness_fail("another member's export carries e's post");

  expect(http_request("DELETE", "/v1/me", e.token, NULL, NULL, NULL), 204);
  json_t *p = harness_get_json(hpath("/v1/groups/%s/threads/%s/posts/%s", g_group, tid, pid), g_m1.token);
  assert_true(hjson_is_null(p, "author.id"));
  assert_json_str(p, "author.display_name", "former member");
  assert_json_str(p, "body", "My own words");
  json_decref(p);
  char q[1024];
  snprintf(q, sizeof q, "SELECT count(*) FROM thread_reads WHERE member_id = '%s'", e.id);
  assert_int_equal(harness_psql_long(q), 0);
  /* the erased member takes no more part: no thread.reply for them */
  new_post(g_group, tid, g_m2.token, "After the erasure", NULL);
  snprintf(q, sizeof q,
           "SELECT count(*) FROM notifications WHERE kind = 'thread.reply' AND member_id = '%s' AND subject_id = '%s'",
           e.id, tid);
  assert_int_equal(harness_psql_long(q), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_walk_a_discussion),
      cmocka_unit_test(test_only_active_members),
      cmocka_unit_test(test_authors_and_moderators),
      cmocka_unit_test(test_locked_thread_and_dormant_group),
      cmocka_unit_test(test_lengths),
      cmocka_unit_test(test_search_stays_in_the_group),
      cmocka_unit_test(test_unread_under_concurrent_posting),
      cmocka_unit_test(test_erasure_and_export),
  };
  return cmocka_run_group_tests_name("e2e_discussions", tests, group_setup, harness_suite_teardown);
}
