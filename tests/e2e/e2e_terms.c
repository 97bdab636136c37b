/*
 * e2e_terms.c — API.md section 5 (terms of reference) against the real server: who publishes
 * and who reads terms, validation, versions newest first, acceptances (only the current version,
 * only by active members, repeatable), and the status rule: a group is `active` only with at
 * least min_members active members who all accepted the current version — a new version, a new
 * member, a member leaving or a higher min_members sends it back to `forming`; `dormant` is never
 * changed automatically.  Audit rows for publishing and accepting.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static harness_account g_admin;
static char g_site_a[HARNESS_ID_MAX], g_site_b[HARNESS_ID_MAX];
/* Site A: the convener of every test group, five practitioners, a manager; site B: a practitioner. */
static harness_account g_conv, g_p[5], g_mgr_a, g_pb;

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_new_site_id(g_admin.token, g_site_a);
  harness_new_site_id(g_admin.token, g_site_b);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &g_conv);
  for (int i = 0; i < 5; i++)
    harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &g_p[i]);
  harness_new_manager_quick(g_admin.token, g_site_a, &g_mgr_a);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_b, &g_pb);
  return 0;
}

static http_response *post_terms(const char *gid, const char *token, json_t *body) {
  return http_json("POST", hpath("/v1/groups/%s/terms", gid), token, body);
}

static http_response *accept_terms(const char *gid, int version, const char *token) {
  return http_json("POST", hpath("/v1/groups/%s/terms/%d/acceptances", gid, version), token, json_object());
}

static void expect_problem(http_response *r, long status, const char *slug) {
  assert_problem_type(r, status, slug);
  http_response_free(r);
}

static char *new_group(int min, int max, char *gid) {
  json_decref(harness_new_group(g_conv.token, g_site_a, min, max, gid));
  return gid;
}

/* Fails unless the group has this status (read as the admin, who sees every group). */
#define expect_group_status(gid, status) expect_group_status_at((gid), (status), __LINE__)
static void expect_group_status_at(const char *gid, const char *status, int line) {
  json_t *g = harness_group_get(gid, g_admin.token);
  const char *got = hjson_str(g, "status");
  if (!got || strcmp(got, status) != 0)
    harness_fail_at(__FILE__, line, "expected group status \"%s\", got %s", status, json_dumps(g, JSON_COMPACT));
  json_decref(g);
}

static json_t *terms_list(const char *gid, const char *token) {
  http_response *r = http_get(hpath("/v1/groups/%s/terms", gid), token);
  assert_status(r, 200);
  if (!json_is_integer(hjson_get(r->json, "current_version")) || !json_is_array(hjson_get(r->json, "items")))
    harness_fail("terms answer lacks current_version or items: %s", r->body);
  json_t *t = json_incref(r->json);
  http_response_free(r);
  return t;
}

/* accepted_count of one version as the convener sees it. */
static json_int_t accepted_count(const char *gid, int version) {
  json_t *t = terms_list(gid, g_conv.token);
  size_t i;
  json_t *it;
  json_int_t n = -1;
  json_array_foreach(hjson_get(t, "items"), i, it) {
    if (json_integer_value(hjson_get(it, "version")) == version)
      n = harness_json_int_at(it, "accepted_count", __FILE__, __LINE__);
  }
  if (n < 0)
    harness_fail("version %d missing from the terms of %s", version, gid);
  json_decref(t);
  return n;
}

/* ---------------------------------------------------------------- publishing and reading */

static void test_publish_and_read(void **state) {
  (void)state;
  char gid[HARNESS_ID_MAX];
  new_group(2, 8, gid);
  harness_account *p0 = &g_p[0], *p1 = &g_p[1], *p2 = &g_p[2];
  harness_group_join(gid, g_conv.token, p0);
  harness_group_request(gid, p1->token);

  json_t *t = terms_list(gid, g_conv.token);
  assert_json_int(t, "current_version", 0);
  assert_int_equal(json_array_size(hjson_get(t, "items")), 0);
  json_decref(t);

  /* Only leaders publish: an ordinary member, a pending one, a colleague, the manager, an admin: 403. */
  const harness_account *not_leaders[] = {p0, p1, p2, &g_mgr_a, &g_admin};
  for (int i = 0; i < 5; i++) {
    http_response *r = post_terms(gid, not_leaders[i]->token, json_pack("{s:s}", "body", "Not my place"));
    if (r->status != 403)
      print_error("caller %s (%s)\n", not_leaders[i]->id, not_leaders[i]->role);
    expect_problem(r, 403, "forbidden");
  }
  expect_problem(post_terms(gid, g_pb.token, json_pack("{s:s}", "body", "Probe")), 404, "not-found");

  http_response *r = post_terms(
      gid, g_conv.token,
      json_pack("{s:s, s:s}", "body", "We meet monthly. What is said here stays here.", "review_on", "2027-06-01"));
  assert_status(r, 201);
  assert_json_int(r->json, "version", 1);
  assert_json_str(r->json, "body", "We meet monthly. What is said here stays here.");
  assert_json_str(r->json, "review_on", "2027-06-01");
  assert_json_str(r->json, "created_by", g_conv.id);
  assert_true(harness_is_rfc3339_utc(hjson_str(r->json, "created_at")));
  assert_json_int(r->json, "accepted_count", 0);
  http_response_free(r);
  json_t *g = harness_group_get(gid, g_conv.token);
  assert_json_int(g, "terms_version", 1);
  assert_json_str(g, "status", "forming");
  json_decref(g);

  /* Anyone who can see the group reads the terms (people read them before joining). */
  const harness_account *readers[] = {&g_conv, p0, p1, p2, &g_mgr_a, &g_admin};
  for (int i = 0; i < 6; i++) {
    t = terms_list(gid, readers[i]->token);
    assert_json_int(t, "current_version", 1);
    assert_int_equal(json_array_size(hjson_get(t, "items")), 1);
    assert_json_str(json_array_get(hjson_get(t, "items"), 0), "body", "We meet monthly. What is said here stays here.");
    json_decref(t);
  }
  r = http_get(hpath("/v1/groups/%s/terms", gid), g_pb.token);
  expect_problem(r, 404, "not-found");

  /* Validation. */
  char long_body[20002];
  memset(long_body, 'b', 20001);
  long_body[20001] = '\0';
  struct {
    json_t *body;
    const char *field;
  } cases[] = {
      {json_object(), "body"},
      {json_pack("{s:s}", "body", ""), "body"},
      {json_pack("{s:n}", "body"), "body"},
      {json_pack("{s:i}", "body", 5), "body"},
      {json_pack("{s:s}", "body", long_body), "body"},
      {json_pack("{s:s, s:s}", "body", "x", "review_on", "2027-13-45"), "review_on"},
      {json_pack("{s:s, s:s}", "body", "x", "review_on", "next year"), "review_on"},
      {json_pack("{s:s, s:s}", "body", "x", "review_on", "2027-06-01T00:00:00Z"), "review_on"},
      {json_pack("{s:s, s:i}", "body", "x", "version", 7), "version"},
      {json_pack("{s:s, s:s}", "body", "x", "colour", "blue"), "colour"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    r = post_terms(gid, g_conv.token, cases[i].body);
    if (r->status != 400)
      print_error("case %zu\n", i);
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, cases[i].field);
    http_response_free(r);
  }

  /* A second version (20000 characters, no review date): newest first. */
  long_body[20000] = '\0';
  r = post_terms(gid, g_conv.token, json_pack("{s:s, s:n}", "body", long_body, "review_on"));
  assert_status(r, 201);
  assert_json_int(r->json, "version", 2);
  assert_json_str(r->json, "review_on", NULL);
  http_response_free(r);
  t = terms_list(gid, p2->token);
  assert_json_int(t, "current_version", 2);
  json_t *items = hjson_get(t, "items");
  assert_int_equal(json_array_size(items), 2);
  assert_json_int(json_array_get(items, 0), "version", 2);
  assert_json_int(json_array_get(items, 1), "version", 1);
  assert_json_str(json_array_get(items, 1), "review_on", "2027-06-01");
  json_decref(t);

  assert_int_equal(harness_audit_count("group.terms_published", gid, g_conv.id), 2);
}

/* ---------------------------------------------------------------- the status rule */

static void test_status_follows_the_rule(void **state) {
  (void)state;
  char gid[HARNESS_ID_MAX];
  new_group(3, 8, gid);
  harness_account *p0 = &g_p[0], *p1 = &g_p[1], *p2 = &g_p[2], *p3 = &g_p[3], *p4 = &g_p[4];
  harness_group_join(gid, g_conv.token, p0);
  harness_group_join(gid, g_conv.token, p1);
  expect_group_status(gid, "forming"); /* three members, but no terms */
  http_response *r =
      http_json("PATCH", hpath("/v1/groups/%s", gid), g_conv.token, json_pack("{s:s}", "status", "active"));
  expect_problem(r, 409, "conflict");

  int v1 = harness_group_post_terms(gid, g_conv.token, "Version one");
  assert_int_equal(v1, 1);
  expect_group_status(gid, "forming");

  r = accept_terms(gid, v1, g_conv.token);
  assert_status(r, 201);
  http_response_free(r);
  expect_group_status(gid, "forming");
  r = http_json("POST", hpath("/v1/groups/%s/terms/%d/acceptances", gid, v1), p0->token,
                json_pack("{s:b}", "accepted", 1));
  assert_status(r, 201);
  http_response_free(r);
  expect_group_status(gid, "forming");
  assert_int_equal(accepted_count(gid, v1), 2);
  /* The last acceptance makes the group active. */
  r = accept_terms(gid, v1, p1->token);
  assert_status(r, 201);
  http_response_free(r);
  expect_group_status(gid, "active");
  assert_int_equal(accepted_count(gid, v1), 3);
  r = accept_terms(gid, v1, p1->token); /* again: 200, nothing changes */
  assert_status(r, 200);
  http_response_free(r);
  expect_group_status(gid, "active");
  assert_int_equal(accepted_count(gid, v1), 3);
  json_t *members = harness_list_all(hpath("/v1/groups/%s/members?state=active", gid), p0->token);
  size_t i;
  json_t *it;
  json_array_foreach(members, i, it) { assert_json_int(it, "accepted_terms_version", 1); }
  json_decref(members);

  /* A new version: back to forming until everyone accepts it, the author included. */
  int v2 = harness_group_post_terms(gid, g_conv.token, "Version two");
  assert_int_equal(v2, 2);
  expect_group_status(gid, "forming");
  json_t *g = harness_group_get(gid, p0->token);
  assert_json_int(g, "terms_version", 2);
  json_decref(g);
  expect_problem(accept_terms(gid, v1, p0->token), 409, "conflict"); /* no longer current */
  expect_problem(accept_terms(gid, 3, p0->token), 404, "not-found");
  expect_problem(accept_terms(gid, 0, p0->token), 404, "not-found");
  harness_group_accept_terms(gid, v2, g_conv.token);
  harness_group_accept_terms(gid, v2, p0->token);
  expect_group_status(gid, "forming");
  harness_group_accept_terms(gid, v2, p1->token);
  expect_group_status(gid, "active");

  /* A new active member who has not accepted: forming; once they accept: active. */
  harness_group_join(gid, g_conv.token, p2);
  expect_group_status(gid, "forming");
  harness_group_accept_terms(gid, v2, p2->token);
  expect_group_status(gid, "active");
  assert_int_equal(accepted_count(gid, v2), 4);

  /* Leaving: still active while min_members remain, accepted_count follows the active members. */
  r = http_request("DELETE", hpath("/v1/groups/%s/members/%s", gid, p2->id), p2->token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  expect_group_status(gid, "active");
  assert_int_equal(accepted_count(gid, v2), 3);

  /* min_members is part of the rule. */
  r = http_json("PATCH", hpath("/v1/groups/%s", gid), g_conv.token, json_pack("{s:i}", "min_members", 4));
  assert_status(r, 200);
  assert_json_str(r->json, "status", "forming");
  http_response_free(r);
  r = http_json("PATCH", hpath("/v1/groups/%s", gid), g_conv.token, json_pack("{s:i}", "min_members", 3));
  assert_status(r, 200);
  assert_json_str(r->json, "status", "active");
  http_response_free(r);

  /* Below min_members: forming. */
  r = http_request("DELETE", hpath("/v1/groups/%s/members/%s", gid, p1->id), g_conv.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  expect_group_status(gid, "forming");
  harness_group_join(gid, g_conv.token, p3);
  expect_group_status(gid, "forming");
  harness_group_accept_terms(gid, v2, p3->token);
  expect_group_status(gid, "active");

  /* dormant is never changed automatically. */
  r = http_json("PATCH", hpath("/v1/groups/%s", gid), g_conv.token, json_pack("{s:s}", "status", "dormant"));
  assert_status(r, 200);
  assert_json_str(r->json, "status", "dormant");
  http_response_free(r);
  harness_group_join(gid, g_conv.token, p4);
  expect_group_status(gid, "dormant");
  harness_group_accept_terms(gid, v2, p4->token);
  expect_group_status(gid, "dormant");
  r = http_json("PATCH", hpath("/v1/groups/%s", gid), g_conv.token, json_pack("{s:s}", "status", "active"));
  assert_status(r, 200); /* the rule holds: resume as active */
  assert_json_str(r->json, "status", "active");
  http_response_free(r);
  r = http_json("PATCH", hpath("/v1/groups/%s", gid), g_conv.token, json_pack("{s:s}", "status", "dormant"));
  assert_status(r, 200);
  http_response_free(r);
  int v3 = harness_group_post_terms(gid, g_conv.token, "Version three");
  expect_group_status(gid, "dormant");
  r = http_json("PATCH", hpath("/v1/groups/%s", gid), g_conv.token, json_pack("{s:s}", "status", "active"));
  expect_problem(r, 409, "conflict"); /* nobody accepted version three yet */
  expect_group_status(gid, "dormant");
  r = http_json("PATCH", hpath("/v1/groups/%s", gid), g_conv.token, json_pack("{s:s}", "status", "forming"));
  assert_status(r, 200);
  assert_json_str(r->json, "status", "forming");
  http_response_free(r);
  const harness_account *everyone[] = {&g_conv, p0, p3, p4};
  for (int k = 0; k < 4; k++)
    harness_group_accept_terms(gid, v3, everyone[k]->token);
  expect_group_status(gid, "active");

  /* Audit: three versions published; one row per first acceptance at least. */
  assert_int_equal(harness_audit_count("group.terms_published", gid, g_conv.id), 3);
  if (harness_audit_count("group.terms_accepted", gid, p0->id) < 3)
    harness_fail("expected group.terms_accepted audit rows for each version %s accepted", p0->id);
  if (harness_audit_count("group.terms_accepted", gid, p3->id) < 2)
    harness_fail("expected group.terms_accepted audit rows for %s", p3->id);
}

/* ---------------------------------------------------------------- who may accept */

static void test_who_may_accept(void **state) {
  (void)state;
  char gid[HARNESS_ID_MAX];
  new_group(2, 8, gid);
  harness_account *p0 = &g_p[0], *p1 = &g_p[1], *p2 = &g_p[2], *p3 = &g_p[3];
  harness_group_join(gid, g_conv.token, p0);
  harness_group_request(gid, p1->token);
  harness_group_invite(gid, g_conv.token, p2->id, NULL);
  int v1 = harness_group_post_terms(gid, g_conv.token, "Terms");

  /* Only active members accept, each for themself. */
  const harness_account *not_active[] = {p1, p2, p3, &g_mgr_a, &g_admin};
  for (int i = 0; i < 5; i++) {
    http_response *r = accept_terms(gid, v1, not_active[i]->token);
    if (r->status != 403)
      print_error("caller %s (%s)\n", not_active[i]->id, not_active[i]->role);
    expect_problem(r, 403, "forbidden");
  }
  expect_problem(accept_terms(gid, v1, g_pb.token), 404, "not-found");
  assert_int_equal(accepted_count(gid, v1), 0);

  /* Bodies: none at all, {}, {"accepted": true}; anything else is invalid. */
  http_response *r = http_json("POST", hpath("/v1/groups/%s/terms/%d/acceptances", gid, v1), p0->token,
                               json_pack("{s:s}", "accepted", "yes"));
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
  r = http_json("POST", hpath("/v1/groups/%s/terms/%d/acceptances", gid, v1), p0->token,
                json_pack("{s:s}", "member_id", g_conv.id)); /* nobody accepts for someone else */
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
  assert_int_equal(accepted_count(gid, v1), 0);
  r = http_request("POST", hpath("/v1/groups/%s/terms/%d/acceptances", gid, v1), p0->token, NULL, NULL, NULL);
  assert_status(r, 201);
  http_response_free(r);
  assert_int_equal(accepted_count(gid, v1), 1);
  r = http_get(hpath("/v1/groups/%s/members/%s", gid, p0->id), p0->token);
  assert_status(r, 200);
  assert_json_int(r->json, "accepted_terms_version", 1);
  http_response_free(r);

  /* Once approved, the requester may accept; once gone, a former member may not. */
  harness_group_activate(gid, g_conv.token, p1->id);
  harness_group_accept_terms(gid, v1, p1->token);
  assert_int_equal(accepted_count(gid, v1), 2);
  r = http_request("DELETE", hpath("/v1/groups/%s/members/%s", gid, p1->id), p1->token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  expect_problem(accept_terms(gid, v1, p1->token), 403, "forbidden");
  assert_int_equal(accepted_count(gid, v1), 1);

  /* A facilitator publishes too. */
  harness_group_set_role(gid, g_conv.token, p0->id, "facilitator");
  int v2 = harness_group_post_terms(gid, p0->token, "Terms by the facilitator");
  assert_int_equal(v2, 2);
  r = accept_terms(gid, v2, g_conv.token);
  assert_status(r, 201);
  http_response_free(r);
}

/* The last acceptance of version 1 racing the publication of version 2: whatever the order, the
 * group ends up forming on version 2 (nobody accepted it yet). */
static void test_acceptance_races_new_version(void **state) {
  (void)state;
  for (int round = 0; round < 6; round++) {
    char gid[HARNESS_ID_MAX];
    new_group(2, 8, gid);
    harness_group_join(gid, g_conv.token, &g_p[0]);
    int v1 = harness_group_post_terms(gid, g_conv.token, "Version one");
    harness_group_accept_terms(gid, v1, g_conv.token);
    harness_race_req q[2];
    memset(q, 0, sizeof q);
    q[0].method = "POST";
    snprintf(q[0].path, sizeof q[0].path, "/v1/groups/%s/terms/%d/acceptances", gid, v1);
    q[0].token = g_p[0].token;
    q[0].body = json_object();
    q[1].method = "POST";
    snprintf(q[1].path, sizeof q[1].path, "/v1/groups/%s/terms", gid);
    q[1].token = g_conv.token;
    q[1].body = json_pack("{s:s}", "body", "Version two");
    harness_race(q, 2);
    if (q[1].status != 201 || (q[0].status != 201 && q[0].status != 409))
      harness_fail("round %d: acceptance %ld (%s), new version %ld (%s)", round, q[0].status, q[0].response,
                   q[1].status, q[1].response);
    json_t *g = harness_group_get(gid, g_conv.token);
    assert_json_int(g, "terms_version", 2);
    if (strcmp(hjson_str(g, "status"), "forming") != 0)
      harness_fail("round %d: version 2 is accepted by nobody, yet the group is %s (acceptance got %ld)", round,
                   hjson_str(g, "status"), q[0].status);
    json_decref(g);
    assert_int_equal(accepted_count(gid, 2), 0);
  }
}

/* Walks GET /terms with ?limit=: every page carries current_version, the versions come newest
 * first, each exactly once, and the last page's next_cursor is null. */
static void walk_terms(const char *gid, const char *token, int limit, int versions) {
  char cursor[512] = "";
  int expected = versions, pages = 0;
  for (;;) {
    http_response *r = http_get(cursor[0] ? hpath("/v1/groups/%s/terms?limit=%d&cursor=%s", gid, limit, cursor)
                                          : hpath("/v1/groups/%s/terms?limit=%d", gid, limit),
                                token);
    assert_status(r, 200);
    assert_json_int(r->json, "current_version", versions);
    json_t *items = hjson_get(r->json, "items");
    if (json_array_size(items) > (size_t)limit)
      harness_fail("limit=%d gave %zu items: %s", limit, json_array_size(items), r->body);
    size_t i;
    json_t *t;
    json_array_foreach(items, i, t) {
      if (json_integer_value(json_object_get(t, "version")) != expected)
        harness_fail("expected version %d next (limit=%d): %s", expected, limit, r->body);
      expected--;
    }
    pages++;
    const char *next = hjson_str(r->json, "next_cursor");
    if (next == NULL) {
      assert_true(hjson_is_null(r->json, "next_cursor"));
      http_response_free(r);
      break;
    }
    if (json_array_size(items) == 0 || pages > versions + 1)
      harness_fail("a next_cursor after an empty page, or too many pages: %s", r->body);
    snprintf(cursor, sizeof cursor, "%s", next);
    http_response_free(r);
  }
  if (expected != 0)
    harness_fail("limit=%d walk missed versions: stopped before version %d", limit, expected);
  int want_pages = (versions + limit - 1) / limit;
  if (pages != want_pages && pages != want_pages + 1) /* the last page may come back empty */
    harness_fail("limit=%d walk took %d pages for %d versions", limit, pages, versions);
}

static void test_list_is_paged(void **state) {
  (void)state;
  char gid[HARNESS_ID_MAX];
  json_decref(harness_new_group(g_conv.token, g_site_a, 0, 0, gid));
  for (int v = 1; v <= 4; v++) {
    char body[64];
    snprintf(body, sizeof body, "Terms, version %d", v);
    harness_group_post_terms(gid, g_conv.token, body);
  }
  walk_terms(gid, g_conv.token, 1, 4);
  walk_terms(gid, g_mgr_a.token, 3, 4); /* a reader who is no member: the site's manager */
  walk_terms(gid, g_conv.token, 200, 4);
  /* limit and cursor are checked as on every list. */
  http_response *r = http_get(hpath("/v1/groups/%s/terms?limit=0", gid), g_conv.token);
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "limit");
  http_response_free(r);
  r = http_get(hpath("/v1/groups/%s/terms?cursor=notacursor", gid), g_conv.token);
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "cursor");
  http_response_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_publish_and_read),
      cmocka_unit_test(test_list_is_paged),
      cmocka_unit_test(test_status_follows_the_rule),
      cmocka_unit_test(test_who_may_accept),
      cmocka_unit_test(test_acceptance_races_new_version),
  };
  return cmocka_run_group_tests_name("e2e_terms", tests, group_setup, harness_suite_teardown);
}
