/*
 * e2e_consultations.c — API.md section 6 (consultations) and the issue-4 contract against the real
 * server: who may create a consultation and for which sites and groups, validation, who sees a
 * draft and an open consultation (404 for the others), the list with its filters and a cursor
 * walk, the state machine draft -> open -> closed -> outcome_published (409 for any other move,
 * what may be edited in which state, If-Match), the outcome ("you said, we did") and the audit
 * rows of every state change.  Responses are in e2e_consultation_responses.c.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNKNOWN_UUID "00000000-0000-4000-8000-000000000000"
#define WEEK (7L * 24 * 3600)

static harness_account g_admin;
static harness_consult_world W;

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_consult_world_build(g_admin.token, &W);
  return 0;
}

/* ---------------------------------------------------------------- helpers */

static http_response *post_c(const char *token, json_t *body) {
  return http_json("POST", "/v1/consultations", token, body);
}

static http_response *get_c(const char *id, const char *token) {
  return http_get(hpath("/v1/consultations/%s", id), token);
}

static http_response *patch_c(const char *id, const char *token, json_t *body) {
  return http_json("PATCH", hpath("/v1/consultations/%s", id), token, body);
}

static http_response *patch_c_if(const char *id, const char *token, json_t *body, json_int_t version) {
  char h[64];
  snprintf(h, sizeof h, "If-Match: \"%" JSON_INTEGER_FORMAT "\"", version);
  const char *const headers[] = {h, NULL};
  return http_json_with_headers("PATCH", hpath("/v1/consultations/%s", id), token, body, headers);
}

static http_response *put_outcome(const char *id, const char *token, json_t *body) {
  return http_json("PUT", hpath("/v1/consultations/%s/outcome", id), token, body);
}

static http_response *put_outcome_if(const char *id, const char *token, json_t *body, json_int_t version) {
  char h[64];
  snprintf(h, sizeof h, "If-Match: \"%" JSON_INTEGER_FORMAT "\"", version);
  const char *const headers[] = {h, NULL};
  return http_json_with_headers("PUT", hpath("/v1/consultations/%s/outcome", id), token, body, headers);
}

static json_int_t c_version(const char *id) {
  json_t *c = harness_consultation_get(id, g_admin.token);
  json_int_t v = hjson_version(c);
  json_decref(c);
  return v;
}

static const char *c_status(const char *id, char *out) {
  json_t *c = harness_consultation_get(id, g_admin.token);
  snprintf(out, 32, "%s", hjson_str(c, "status") ? hjson_str(c, "status") : "(none)");
  json_decref(c);
  return out;
}

/* A draft owned by token's account, targeting site and/or group, open from a minute ago for a week. */
static void new_draft(const char *token, const char *site, const char *group, char *id_out) {
  json_decref(harness_new_consultation(token, harness_consultation_body(site, group, -60, WEEK), id_out));
}

static void new_open(const char *token, const char *site, const char *group, char *id_out) {
  new_draft(token, site, group, id_out);
  harness_consultation_set_status(id_out, token, "open");
}

static json_t *outcome_body(const char *summary) {
  return json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}]}", "summary", summary, "actions", "text",
                   "Rota published four weeks ahead", "status", "done", "text", "Cover for study days", "status",
                   "in_progress", "text", "Weekend handover review", "status", "planned", "text",
                   "Extra night shift pay", "status", "not_doing");
}

/* GET as token answers 404 not-found. */
static void expect_hidden(const char *id, const harness_account *who, const char *why) {
  http_response *r = get_c(id, who->token);
  if (r->status != 404)
    print_error("consultation %s should be hidden from %s (%s)\n", id, who->role, why);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
}

static void expect_visible(const char *id, const harness_account *who, const char *why) {
  http_response *r = get_c(id, who->token);
  if (r->status != 200)
    print_error("consultation %s should be visible to %s (%s)\n", id, who->role, why);
  assert_status(r, 200);
  assert_json_str(r->json, "id", id);
  http_response_free(r);
}

/* PATCH {"status": <the current status>} is no move: either a no-op (200, version unchanged, as the
 * conventions make every no-op PATCH) or 409; never a state or version change. */
static void expect_same_status_is_no_move(const char *id, const char *status) {
  json_int_t v = c_version(id);
  http_response *r = patch_c(id, W.mgr_a.token, json_pack("{s:s}", "status", status));
  if (r->status == 200) {
    const char *got = hjson_str(r->json, "status");
    json_t *ver = hjson_get(r->json, "version");
    if (!got || strcmp(got, status) != 0 || !json_is_integer(ver) || json_integer_value(ver) != v)
      harness_fail("PATCH {\"status\": \"%s\"} on a %s consultation (version %" JSON_INTEGER_FORMAT
                   ") is no move: expected 409 or a no-op 200 keeping the version, got 200 %s",
                   status, status, v, r->body);
  } else {
    if (r->status != 409)
      print_error("%s -> %s\n", status, status);
    assert_problem_type(r, 409, "conflict");
  }
  http_response_free(r);
  char st[32];
  assert_string_equal(c_status(id, st), status);
  assert_int_equal(c_version(id), v);
}

/* ---------------------------------------------------------------- create */

static void test_create_by_manager_for_own_site(void **state) {
  (void)state;
  json_t *body = harness_consultation_body(W.site_a, W.group1, -60, WEEK);
  json_t *sent = json_deep_copy(body);
  http_response *r = post_c(W.mgr_a.token, body);
  assert_status(r, 201);
  const char *id = hjson_str(r->json, "id");
  assert_true(harness_is_uuid(id));
  char cid[HARNESS_ID_MAX];
  snprintf(cid, sizeof cid, "%s", id);
  assert_header_equal(r, "Location", hpath("/v1/consultations/%s", cid));
  assert_etag_matches_version(r);
  assert_json_str(r->json, "status", "draft");
  assert_json_str(r->json, "owner_id", W.mgr_a.id);
  assert_json_str(r->json, "title", hjson_str(sent, "title"));
  assert_json_str(r->json, "summary", hjson_str(sent, "summary"));
  assert_json_str(r->json, "outcome", NULL);
  /* questions keep their order and text */
  if (!json_equal(hjson_get(r->json, "questions"), hjson_get(sent, "questions")))
    harness_fail("questions differ from what was sent:\n  %s", r->body);
  if (!json_equal(hjson_get(r->json, "target"), hjson_get(sent, "target")))
    harness_fail("target differs from what was sent:\n  %s", r->body);
  assert_true(hjson_str(r->json, "opens_at") && hjson_str(r->json, "closes_at") && hjson_str(r->json, "created_at"));
  assert_json_str(r->json, "opens_at", hjson_str(sent, "opens_at"));
  assert_json_str(r->json, "closes_at", hjson_str(sent, "closes_at"));
  /* the owner sees the response rate */
  if (!json_is_object(hjson_get(r->json, "response_rate")))
    harness_fail("the owner should see response_rate:\n  %s", r->body);
  json_t *created = json_incref(r->json);
  http_response_free(r);

  r = get_c(cid, W.mgr_a.token);
  assert_status(r, 200);
  assert_etag_matches_version(r);
  if (!json_equal(created, r->json))
    harness_fail("GET differs from the POST answer:\n  POST %s\n  GET  %s", json_dumps(created, JSON_COMPACT), r->body);
  http_response_free(r);
  json_decref(created);
  json_decref(sent);

  assert_int_equal(harness_audit_count("consultation.created", cid, W.mgr_a.id), 1);
}

static void test_create_wrong_site_group_or_role_is_403(void **state) {
  (void)state;
  struct {
    const char *site, *group, *why;
    bool plus_own_site;
  } bad[] = {
      {W.site_b, NULL, "a site the manager does not manage", false},
      {W.site_b, NULL, "another site next to their own", true},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    json_t *body = harness_consultation_body(bad[i].site, bad[i].group, -60, WEEK);
    if (bad[i].plus_own_site)
      json_array_append_new(hjson_get(body, "target.site_ids"), json_string(W.site_a));
    http_response *r = post_c(W.mgr_a.token, body);
    if (r->status != 403)
      print_error("manager of A targeting %s\n", bad[i].why);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
  }
  /* A group at a site the manager does not manage is one they may not know exists: the same
   * 400 as an unknown group (404-not-403 rule), never a 403 that would confirm it. */
  const char *hidden_group[][2] = {{NULL, W.group_b}, {W.site_a, W.group_b}};
  for (size_t i = 0; i < 2; i++) {
    http_response *r =
        post_c(W.mgr_a.token, harness_consultation_body(hidden_group[i][0], hidden_group[i][1], -60, WEEK));
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, "target.group_ids[0]");
    http_response_free(r);
  }
  /* manager of B targeting site A */
  http_response *r = post_c(W.mgr_b.token, harness_consultation_body(W.site_a, NULL, -60, WEEK));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);

  /* practitioners and facilitators may not consult at all, not even their own site */
  const harness_account *members[] = {&W.lone_a, &W.conv1, &W.fac_b};
  for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
    const char *site = members[i]->home_site_id;
    r = post_c(members[i]->token, harness_consultation_body(site, NULL, -60, WEEK));
    if (r->status != 403)
      print_error("role %s\n", members[i]->role);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
  }

  /* only admins may target network-wide groups */
  char nw[HARNESS_ID_MAX];
  json_decref(harness_new_group(g_admin.token, NULL, 0, 0, nw));
  r = post_c(W.mgr_a.token, harness_consultation_body(W.site_a, nw, -60, WEEK));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  char cid[HARNESS_ID_MAX];
  json_decref(harness_new_consultation(g_admin.token, harness_consultation_body(NULL, nw, -60, WEEK), cid));

  /* no refused request created anything: the manager of A owns nothing at site B */
  json_t *all = harness_list_all(hpath("/v1/consultations?site_id=%s", W.site_b), g_admin.token);
  size_t i;
  json_t *it;
  json_array_foreach(all, i, it) {
    const char *owner = hjson_str(it, "owner_id");
    if (owner && strcmp(owner, W.mgr_a.id) == 0)
      harness_fail("a refused POST created a consultation: %s", json_dumps(it, JSON_COMPACT));
  }
  json_decref(all);
}

static void test_create_admin_any_site(void **state) {
  (void)state;
  char c1[HARNESS_ID_MAX], c2[HARNESS_ID_MAX];
  json_t *c = harness_new_consultation(g_admin.token, harness_consultation_body(W.site_b, NULL, -60, WEEK), c1);
  assert_json_str(c, "owner_id", g_admin.id);
  json_decref(c);
  json_t *body = harness_consultation_body(W.site_a, W.group_b, -60, WEEK);
  json_array_append_new(hjson_get(body, "target.site_ids"), json_string(W.site_b));
  json_array_append_new(hjson_get(body, "target.group_ids"), json_string(W.group1));
  c = harness_new_consultation(g_admin.token, body, c2);
  assert_int_equal(json_array_size(hjson_get(c, "target.site_ids")), 2);
  assert_int_equal(json_array_size(hjson_get(c, "target.group_ids")), 2);
  json_decref(c);
  /* a manager may target a group at their own site without the site itself */
  char c3[HARNESS_ID_MAX];
  json_decref(harness_new_consultation(W.mgr_a2.token, harness_consultation_body(NULL, W.group2, -60, WEEK), c3));
}

static void test_create_validation(void **state) {
  (void)state;
  /* unknown site, at index 0 and at index 1 */
  json_t *body = harness_consultation_body(UNKNOWN_UUID, NULL, -60, WEEK);
  http_response *r = post_c(g_admin.token, body);
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "target.site_ids[0]");
  http_response_free(r);
  body = harness_consultation_body(W.site_a, NULL, -60, WEEK);
  json_array_append_new(hjson_get(body, "target.site_ids"), json_string(UNKNOWN_UUID));
  r = post_c(g_admin.token, body);
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "target.site_ids[1]");
  http_response_free(r);
  /* unknown group */
  r = post_c(g_admin.token, harness_consultation_body(NULL, UNKNOWN_UUID, -60, WEEK));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "target.group_ids[0]");
  http_response_free(r);
  /* archived site */
  char archived[HARNESS_ID_MAX];
  harness_new_site_id(g_admin.token, archived);
  r = http_request("DELETE", hpath("/v1/sites/%s", archived), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  r = post_c(g_admin.token, harness_consultation_body(archived, NULL, -60, WEEK));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "target.site_ids[0]");
  http_response_free(r);
  /* closed group (at the manager's own site) */
  char closed[HARNESS_ID_MAX];
  json_decref(harness_new_group(W.mgr_a.token, W.site_a, 0, 0, closed));
  r = http_request("DELETE", hpath("/v1/groups/%s", closed), W.mgr_a.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  r = post_c(W.mgr_a.token, harness_consultation_body(W.site_a, closed, -60, WEEK));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "target.group_ids[0]");
  http_response_free(r);
  /* a malformed uuid in the target */
  r = post_c(g_admin.token, harness_consultation_body("not-a-uuid", NULL, -60, WEEK));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "target.site_ids[0]");
  http_response_free(r);

  /* duplicate question ids */
  body = harness_consultation_body(W.site_a, NULL, -60, WEEK);
  json_object_set_new(json_array_get(hjson_get(body, "questions"), 2), "id", json_string("q1"));
  r = post_c(W.mgr_a.token, body);
  assert_problem_type(r, 400, "invalid-request");
  if (!harness_has_error_field_prefix(r, "questions"))
    harness_fail("duplicate question ids: expected an error on questions...:\n  %s", r->body);
  http_response_free(r);
  /* empty questions */
  body = harness_consultation_body(W.site_a, NULL, -60, WEEK);
  json_object_set_new(body, "questions", json_array());
  r = post_c(W.mgr_a.token, body);
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "questions");
  http_response_free(r);
  /* bad question ids and texts */
  const char *bad_qids[] = {"", "Q1", "q 1", "q.1", "q1234567890123456789012345678901234567890"};
  for (size_t i = 0; i < sizeof bad_qids / sizeof bad_qids[0]; i++) {
    body = harness_consultation_body(W.site_a, NULL, -60, WEEK);
    json_object_set_new(json_array_get(hjson_get(body, "questions"), 0), "id", json_string(bad_qids[i]));
    r = post_c(W.mgr_a.token, body);
    if (r->status != 400)
      print_error("question id \"%s\" was accepted\n", bad_qids[i]);
    assert_problem_type(r, 400, "invalid-request");
    if (!harness_has_error_field_prefix(r, "questions[0]"))
      harness_fail("bad question id: expected an error on questions[0]...:\n  %s", r->body);
    http_response_free(r);
  }
  body = harness_consultation_body(W.site_a, NULL, -60, WEEK);
  json_object_set_new(json_array_get(hjson_get(body, "questions"), 1), "text", json_string(""));
  r = post_c(W.mgr_a.token, body);
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "questions[1].text");
  http_response_free(r);
  /* 101 target sites */
  body = harness_consultation_body(W.site_a, NULL, -60, WEEK);
  for (int i = 0; i < 100; i++)
    json_array_append_new(hjson_get(body, "target.site_ids"), json_string(W.site_a));
  r = post_c(g_admin.token, body);
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
  /* 51 questions */
  body = harness_consultation_body(W.site_a, NULL, -60, WEEK);
  json_t *many = json_array();
  for (int i = 0; i < 51; i++) {
    char qid[16];
    snprintf(qid, sizeof qid, "q%d", i);
    json_array_append_new(many, json_pack("{s:s, s:s}", "id", qid, "text", "Question?"));
  }
  json_object_set_new(body, "questions", many);
  r = post_c(W.mgr_a.token, body);
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);

  /* closes_at before, and equal to, opens_at */
  char t1[32], t2[32];
  body = harness_consultation_body(W.site_a, NULL, -60, WEEK);
  json_object_set_new(body, "opens_at", json_string(harness_rfc3339_from_now(3600, t1)));
  json_object_set_new(body, "closes_at", json_string(harness_rfc3339_from_now(1800, t2)));
  r = post_c(W.mgr_a.token, body);
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "closes_at");
  http_response_free(r);
  body = harness_consultation_body(W.site_a, NULL, -60, WEEK);
  json_object_set_new(body, "closes_at", json_string(hjson_str(body, "opens_at")));
  r = post_c(W.mgr_a.token, body);
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "closes_at");
  http_response_free(r);
  /* not RFC 3339 */
  body = harness_consultation_body(W.site_a, NULL, -60, WEEK);
  json_object_set_new(body, "opens_at", json_string("next tuesday"));
  r = post_c(W.mgr_a.token, body);
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "opens_at");
  http_response_free(r);

  /* unknown fields, at the top and inside target */
  body = harness_consultation_body(W.site_a, NULL, -60, WEEK);
  json_object_set_new(body, "colour", json_string("blue"));
  r = post_c(W.mgr_a.token, body);
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "colour");
  http_response_free(r);
  body = harness_consultation_body(W.site_a, NULL, -60, WEEK);
  json_object_set_new(hjson_get(body, "target"), "member_ids", json_array());
  r = post_c(W.mgr_a.token, body);
  assert_problem_type(r, 400, "invalid-request");
  if (!harness_has_error_field_prefix(r, "target"))
    harness_fail("unknown key in target: expected an error on target...:\n  %s", r->body);
  http_response_free(r);
  /* read-only fields */
  const char *ro[] = {"status", "owner_id", "id", "version", "outcome", "response_rate", "created_at"};
  for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++) {
    body = harness_consultation_body(W.site_a, NULL, -60, WEEK);
    json_object_set_new(body, ro[i], json_string("open"));
    r = post_c(W.mgr_a.token, body);
    if (r->status != 400)
      print_error("read-only field %s was accepted on POST\n", ro[i]);
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, ro[i]);
    http_response_free(r);
  }
  /* required fields */
  const char *required[] = {"title", "summary", "questions", "target", "opens_at", "closes_at"};
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
    body = harness_consultation_body(W.site_a, NULL, -60, WEEK);
    json_object_del(body, required[i]);
    r = post_c(W.mgr_a.token, body);
    if (r->status != 400)
      print_error("missing %s was accepted\n", required[i]);
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, required[i]);
    http_response_free(r);
  }
  /* empty target, empty title, too long title */
  r = post_c(W.mgr_a.token, harness_consultation_body(NULL, NULL, -60, WEEK));
  assert_problem_type(r, 400, "invalid-request");
  if (!harness_has_error_field_prefix(r, "target"))
    harness_fail("empty target: expected an error on target...:\n  %s", r->body);
  http_response_free(r);
  body = harness_consultation_body(W.site_a, NULL, -60, WEEK);
  json_object_set_new(body, "title", json_string(""));
  r = post_c(W.mgr_a.token, body);
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "title");
  http_response_free(r);
  char long_title[202];
  memset(long_title, 't', 201);
  long_title[201] = '\0';
  body = harness_consultation_body(W.site_a, NULL, -60, WEEK);
  json_object_set_new(body, "title", json_string(long_title));
  r = post_c(W.mgr_a.token, body);
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "title");
  http_response_free(r);
  /* wrong types */
  body = harness_consultation_body(W.site_a, NULL, -60, WEEK);
  json_object_set_new(body, "questions", json_string("q1"));
  r = post_c(W.mgr_a.token, body);
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "questions");
  http_response_free(r);
  body = harness_consultation_body(W.site_a, NULL, -60, WEEK);
  json_object_set_new(hjson_get(body, "target"), "site_ids", json_string(W.site_a));
  r = post_c(W.mgr_a.token, body);
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
}

static void test_get_etag_and_unknown_ids(void **state) {
  (void)state;
  char cid[HARNESS_ID_MAX];
  new_draft(W.mgr_a.token, W.site_a, NULL, cid);
  http_response *r = get_c(cid, W.mgr_a.token);
  assert_status(r, 200);
  char etag[64];
  snprintf(etag, sizeof etag, "%s", http_header(r, "ETag") ? http_header(r, "ETag") : "");
  http_response_free(r);
  char h[96];
  snprintf(h, sizeof h, "If-None-Match: %s", etag);
  const char *const headers[] = {h, NULL};
  r = http_get_with_headers(hpath("/v1/consultations/%s", cid), W.mgr_a.token, headers);
  assert_status(r, 304);
  assert_header_equal(r, "ETag", etag);
  http_response_free(r);

  r = get_c(UNKNOWN_UUID, g_admin.token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = get_c("not-a-uuid", g_admin.token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = patch_c(UNKNOWN_UUID, g_admin.token, json_pack("{s:s}", "status", "open"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = put_outcome(UNKNOWN_UUID, g_admin.token, outcome_body("Nothing"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = get_c(cid, NULL);
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);
}

/* ---------------------------------------------------------------- visibility */

static void test_draft_visible_to_owner_and_admin_only(void **state) {
  (void)state;
  char cid[HARNESS_ID_MAX];
  new_draft(W.mgr_a.token, W.site_a, W.group1, cid);
  expect_visible(cid, &W.mgr_a, "owner");
  expect_visible(cid, &g_admin, "admin");
  expect_hidden(cid, &W.mgr_a2, "draft, manager of the target site but not the owner");
  expect_hidden(cid, &W.lone_a, "draft, practitioner at the target site");
  expect_hidden(cid, &W.mem1, "draft, member of the target group");
  expect_hidden(cid, &W.conv1, "draft, convener of the target group");
  expect_hidden(cid, &W.mgr_b, "draft, manager elsewhere");
  expect_hidden(cid, &W.pb, "draft, practitioner elsewhere");

  assert_true(harness_list_contains(hpath("/v1/consultations?site_id=%s", W.site_a), W.mgr_a.token, "id", cid));
  assert_true(harness_list_contains(hpath("/v1/consultations?site_id=%s", W.site_a), g_admin.token, "id", cid));
  assert_false(harness_list_contains(hpath("/v1/consultations?site_id=%s", W.site_a), W.mgr_a2.token, "id", cid));
  assert_false(harness_list_contains("/v1/consultations", W.mgr_a2.token, "id", cid));
  assert_false(harness_list_contains("/v1/consultations", W.lone_a.token, "id", cid));
  assert_false(harness_list_contains("/v1/consultations", W.mem1.token, "id", cid));

  /* hidden also means: writes by those who cannot see it are 404, not 403 */
  http_response *r = patch_c(cid, W.mgr_a2.token, json_pack("{s:s}", "title", "Hijacked"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = patch_c(cid, W.lone_a.token, json_pack("{s:s}", "status", "open"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
}

static void test_open_visible_through_site_target(void **state) {
  (void)state;
  char cid[HARNESS_ID_MAX];
  new_draft(W.mgr_a.token, W.site_a, NULL, cid);
  harness_consultation_set_status(cid, W.mgr_a.token, "open");

  expect_visible(cid, &W.lone_a, "practitioner whose home site is targeted");
  expect_visible(cid, &W.mem1, "member at the targeted site");
  expect_visible(cid, &W.fac_b, "active member of a group at the targeted site (home site B)");
  expect_visible(cid, &W.mgr_a2, "manager of the targeted site");
  expect_hidden(cid, &W.pb, "practitioner at B");
  expect_hidden(cid, &W.conv_b, "convener of a group at B");
  expect_hidden(cid, &W.mgr_b, "manager of B");

  /* response_rate: owner and admins only */
  json_t *c = harness_consultation_get(cid, W.lone_a.token);
  if (!hjson_is_null(c, "response_rate"))
    harness_fail("a practitioner must see response_rate null, got %s", json_dumps(c, JSON_COMPACT));
  json_decref(c);
  c = harness_consultation_get(cid, W.mgr_a2.token);
  if (!hjson_is_null(c, "response_rate"))
    harness_fail("a manager who is not the owner must see response_rate null, got %s", json_dumps(c, JSON_COMPACT));
  json_decref(c);
  c = harness_consultation_get(cid, g_admin.token);
  assert_true(json_is_object(hjson_get(c, "response_rate")));
  json_decref(c);

  /* lists */
  assert_true(
      harness_list_contains(hpath("/v1/consultations?status=open&site_id=%s", W.site_a), W.lone_a.token, "id", cid));
  assert_true(harness_list_contains("/v1/consultations?status=open", W.lone_a.token, "id", cid));
  assert_true(harness_list_contains(hpath("/v1/consultations?site_id=%s", W.site_a), W.mgr_a2.token, "id", cid));
  assert_false(
      harness_list_contains(hpath("/v1/consultations?status=draft&site_id=%s", W.site_a), W.lone_a.token, "id", cid));
  assert_false(
      harness_list_contains(hpath("/v1/consultations?status=closed&site_id=%s", W.site_a), g_admin.token, "id", cid));
  assert_false(harness_list_contains(hpath("/v1/consultations?site_id=%s", W.site_b), g_admin.token, "id", cid));
  assert_false(harness_list_contains("/v1/consultations", W.pb.token, "id", cid));
  assert_false(harness_list_contains("/v1/consultations?status=open", W.mgr_b.token, "id", cid));
}

static void test_open_visible_through_group_target(void **state) {
  (void)state;
  char cid[HARNESS_ID_MAX];
  new_open(W.mgr_a.token, NULL, W.group1, cid);

  expect_visible(cid, &W.mem1, "active member of the target group");
  expect_visible(cid, &W.fac_b, "active member of the target group, home site B");
  expect_visible(cid, &W.mgr_a2, "manager of the target group's site");
  expect_hidden(cid, &W.lone_a, "practitioner at the group's site but not in the group (only the group is targeted)");
  expect_hidden(cid, &W.mem2, "member of another group at the same site");
  expect_hidden(cid, &W.mgr_b, "manager of B");
  expect_hidden(cid, &W.pb, "practitioner at B");

  assert_true(harness_list_contains("/v1/consultations?status=open", W.fac_b.token, "id", cid));
  assert_true(harness_list_contains(hpath("/v1/consultations?site_id=%s", W.site_a), g_admin.token, "id", cid));
  assert_false(harness_list_contains("/v1/consultations", W.lone_a.token, "id", cid));
  assert_false(harness_list_contains("/v1/consultations", W.mgr_b.token, "id", cid));

  /* only active membership counts: invited -> hidden, active -> visible, left -> hidden */
  harness_account late;
  harness_new_member_quick(g_admin.token, "practitioner", W.site_a, &late);
  expect_hidden(cid, &late, "not a member yet");
  harness_group_invite(W.group1, W.conv1.token, late.id, NULL);
  expect_hidden(cid, &late, "invited, not yet active");
  harness_group_activate(W.group1, late.token, late.id);
  expect_visible(cid, &late, "active member of the target group");
  http_response *r =
      http_request("DELETE", hpath("/v1/groups/%s/members/%s", W.group1, late.id), late.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  expect_hidden(cid, &late, "left the target group");
}

static void test_list_filters_and_pagination(void **state) {
  (void)state;
  char site[HARNESS_ID_MAX];
  harness_new_site_id(g_admin.token, site);
  harness_account mgr;
  harness_new_manager_quick(g_admin.token, site, &mgr);
  char ids[5][HARNESS_ID_MAX];
  for (int i = 0; i < 5; i++)
    new_draft(mgr.token, site, NULL, ids[i]);
  /* a site without groups: nothing targeted, so no rate */
  json_t *c0 = harness_consultation_get(ids[0], mgr.token);
  assert_json_int(c0, "response_rate.targeted", 0);
  assert_json_int(c0, "response_rate.submitted", 0);
  if (!hjson_is_null(c0, "response_rate.rate"))
    harness_fail("nothing targeted: response_rate.rate should be null, got %s", json_dumps(c0, JSON_COMPACT));
  json_decref(c0);
  harness_consultation_set_status(ids[1], mgr.token, "open");
  harness_consultation_set_status(ids[3], mgr.token, "open");
  harness_consultation_set_status(ids[3], mgr.token, "closed");

  /* the walk with limit=2: three pages, creation order, every id once */
  json_t *all = harness_list_all_at(hpath("/v1/consultations?site_id=%s", site), mgr.token, 2, __FILE__, __LINE__);
  if (json_array_size(all) != 5)
    harness_fail("expected the 5 consultations of the site, got %s", json_dumps(all, JSON_COMPACT));
  for (int i = 0; i < 5; i++)
    assert_string_equal(hjson_str(json_array_get(all, (size_t)i), "id"), ids[i]);
  json_decref(all);
  http_response *r = http_get(hpath("/v1/consultations?site_id=%s&limit=2", site), mgr.token);
  assert_status(r, 200);
  assert_int_equal(json_array_size(hjson_get(r->json, "items")), 2);
  assert_true(json_is_string(hjson_get(r->json, "next_cursor")));
  http_response_free(r);
  r = http_get(hpath("/v1/consultations?site_id=%s&limit=5", site), mgr.token);
  assert_status(r, 200);
  assert_int_equal(json_array_size(hjson_get(r->json, "items")), 5);
  http_response_free(r);

  struct {
    const char *status;
    int n;
  } by_status[] = {{"draft", 3}, {"open", 1}, {"closed", 1}, {"outcome_published", 0}};
  for (size_t i = 0; i < sizeof by_status / sizeof by_status[0]; i++) {
    all = harness_list_all(hpath("/v1/consultations?site_id=%s&status=%s", site, by_status[i].status), mgr.token);
    if ((int)json_array_size(all) != by_status[i].n)
      harness_fail("status=%s: expected %d items, got %s", by_status[i].status, by_status[i].n,
                   json_dumps(all, JSON_COMPACT));
    size_t j;
    json_t *it;
    json_array_foreach(all, j, it) assert_string_equal(hjson_str(it, "status"), by_status[i].status);
    json_decref(all);
  }
  /* items are full consultations */
  all = harness_list_all(hpath("/v1/consultations?site_id=%s&status=open", site), mgr.token);
  json_t *item = json_array_get(all, 0);
  assert_string_equal(hjson_str(item, "id"), ids[1]);
  assert_string_equal(hjson_str(item, "owner_id"), mgr.id);
  assert_true(json_is_array(hjson_get(item, "questions")));
  assert_true(json_is_object(hjson_get(item, "target")));
  json_decref(all);

  /* the site's manager sees a consultation an admin made for the site once it is open, not before */
  char admin_c[HARNESS_ID_MAX];
  new_draft(g_admin.token, site, NULL, admin_c);
  assert_false(harness_list_contains(hpath("/v1/consultations?site_id=%s", site), mgr.token, "id", admin_c));
  harness_consultation_set_status(admin_c, g_admin.token, "open");
  assert_true(harness_list_contains(hpath("/v1/consultations?site_id=%s", site), mgr.token, "id", admin_c));

  const char *bad[] = {"status=bogus", "status=OPEN", "site_id=not-a-uuid", "limit=0",
                       "limit=201",    "limit=x",     "cursor=garbage!!"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    r = http_get(hpath("/v1/consultations?%s", bad[i]), mgr.token);
    if (r->status != 400)
      print_error("query %s\n", bad[i]);
    assert_problem_type(r, 400, "invalid-request");
    http_response_free(r);
  }
  r = http_get("/v1/consultations", NULL);
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);
}

/* ---------------------------------------------------------------- state machine and edits */

static void test_draft_edits(void **state) {
  (void)state;
  char cid[HARNESS_ID_MAX];
  new_draft(W.mgr_a.token, W.site_a, NULL, cid);
  json_int_t v = c_version(cid);

  http_response *r = patch_c(cid, W.mgr_a.token,
                             json_pack("{s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "title", "Rota consultation",
                                       "summary", "Tell us about the rota.", "questions", "id", "b", "text",
                                       "Second first?", "id", "a", "text", "First second?"));
  assert_status(r, 200);
  assert_json_str(r->json, "title", "Rota consultation");
  assert_json_str(r->json, "summary", "Tell us about the rota.");
  assert_json_str(json_array_get(hjson_get(r->json, "questions"), 0), "id", "b");
  assert_json_str(json_array_get(hjson_get(r->json, "questions"), 1), "id", "a");
  assert_json_int(r->json, "version", v + 1);
  assert_etag_matches_version(r);
  http_response_free(r);

  /* retarget: own group is fine, site B is not */
  r = patch_c(cid, W.mgr_a.token,
              json_pack("{s:{s:[s], s:[s]}}", "target", "site_ids", W.site_a, "group_ids", W.group2));
  assert_status(r, 200);
  assert_string_equal(json_string_value(json_array_get(hjson_get(r->json, "target.group_ids"), 0)), W.group2);
  http_response_free(r);
  r = patch_c(cid, W.mgr_a.token, json_pack("{s:{s:[s], s:[]}}", "target", "site_ids", W.site_b, "group_ids"));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  r = patch_c(cid, W.mgr_a.token, json_pack("{s:{s:[], s:[s]}}", "target", "site_ids", "group_ids", W.group_b));
  assert_problem_type(r, 400, "invalid-request"); /* a group they may not know exists: as if unknown */
  assert_error_field(r, "target.group_ids[0]");
  http_response_free(r);
  r = patch_c(cid, W.mgr_a.token, json_pack("{s:{s:[s], s:[]}}", "target", "site_ids", UNKNOWN_UUID, "group_ids"));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "target.site_ids[0]");
  http_response_free(r);

  /* same rules as POST */
  char past[32];
  r = patch_c(cid, W.mgr_a.token, json_pack("{s:s}", "closes_at", harness_rfc3339_from_now(-3600, past)));
  assert_problem_type(r, 400, "invalid-request"); /* before opens_at (a minute ago) */
  assert_error_field(r, "closes_at");
  http_response_free(r);
  r = patch_c(cid, W.mgr_a.token, json_pack("{s:[]}", "questions"));
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
  r = patch_c(cid, W.mgr_a.token, json_pack("{s:s}", "colour", "blue"));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "colour");
  http_response_free(r);
  const char *ro[] = {"owner_id", "id", "version", "created_at", "response_rate"};
  for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++) {
    r = patch_c(cid, W.mgr_a.token, json_pack("{s:s}", ro[i], W.mgr_a2.id));
    if (r->status != 400)
      print_error("read-only field %s\n", ro[i]);
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, ro[i]);
    http_response_free(r);
  }
  r = patch_c(cid, W.mgr_a.token, json_pack("{s:s}", "status", "finished"));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "status");
  http_response_free(r);

  /* an admin may edit anybody's draft */
  r = patch_c(cid, g_admin.token, json_pack("{s:s}", "title", "Edited by admin"));
  assert_status(r, 200);
  assert_json_str(r->json, "title", "Edited by admin");
  assert_json_str(r->json, "owner_id", W.mgr_a.id);
  http_response_free(r);

  assert_true(harness_audit_count("consultation.updated", cid, W.mgr_a.id) >= 1);
  assert_true(harness_audit_count("consultation.updated", cid, g_admin.id) >= 1);
}

static void test_state_machine(void **state) {
  (void)state;
  char st[32];
  char cid[HARNESS_ID_MAX];
  new_draft(W.mgr_a.token, W.site_a, NULL, cid);

  /* draft: only -> open */
  const char *from_draft[] = {"closed", "outcome_published"};
  for (size_t i = 0; i < sizeof from_draft / sizeof from_draft[0]; i++) {
    http_response *r = patch_c(cid, W.mgr_a.token, json_pack("{s:s}", "status", from_draft[i]));
    if (r->status != 409)
      print_error("draft -> %s\n", from_draft[i]);
    assert_problem_type(r, 409, "conflict");
    http_response_free(r);
    assert_string_equal(c_status(cid, st), "draft");
  }
  expect_same_status_is_no_move(cid, "draft");
  json_int_t v = c_version(cid);
  http_response *r = patch_c_if(cid, W.mgr_a.token, json_pack("{s:s}", "status", "open"), v);
  assert_status(r, 200);
  assert_json_str(r->json, "status", "open");
  assert_json_int(r->json, "version", v + 1);
  assert_etag_matches_version(r);
  http_response_free(r);

  /* open: only -> closed */
  const char *from_open[] = {"draft", "outcome_published"};
  for (size_t i = 0; i < sizeof from_open / sizeof from_open[0]; i++) {
    r = patch_c(cid, W.mgr_a.token, json_pack("{s:s}", "status", from_open[i]));
    if (r->status != 409)
      print_error("open -> %s\n", from_open[i]);
    assert_problem_type(r, 409, "conflict");
    http_response_free(r);
    assert_string_equal(c_status(cid, st), "open");
  }
  expect_same_status_is_no_move(cid, "open");
  r = patch_c(cid, W.mgr_a.token, json_pack("{s:s}", "status", "closed"));
  assert_status(r, 200);
  assert_json_str(r->json, "status", "closed");
  http_response_free(r);
  expect_same_status_is_no_move(cid, "closed");

  /* closed: nothing by PATCH */
  const char *from_closed[] = {"open", "draft", "outcome_published"};
  for (size_t i = 0; i < sizeof from_closed / sizeof from_closed[0]; i++) {
    r = patch_c(cid, W.mgr_a.token, json_pack("{s:s}", "status", from_closed[i]));
    if (r->status != 409)
      print_error("closed -> %s\n", from_closed[i]);
    assert_problem_type(r, 409, "conflict");
    http_response_free(r);
  }
  char later[32];
  r = patch_c(cid, W.mgr_a.token, json_pack("{s:s}", "closes_at", harness_rfc3339_from_now(2 * WEEK, later)));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  r = patch_c(cid, W.mgr_a.token, json_pack("{s:s}", "title", "Too late"));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  assert_string_equal(c_status(cid, st), "closed");

  /* the admin opens and closes a manager's consultation too */
  char c2[HARNESS_ID_MAX];
  new_draft(W.mgr_a.token, W.site_a, NULL, c2);
  harness_consultation_set_status(c2, g_admin.token, "open");
  harness_consultation_set_status(c2, g_admin.token, "closed");
  assert_int_equal(harness_audit_count("consultation.opened", c2, g_admin.id), 1);
  assert_int_equal(harness_audit_count("consultation.closed", c2, g_admin.id), 1);
}

static void test_open_edits_and_who_may_patch(void **state) {
  (void)state;
  char st[32], t[32];
  char cid[HARNESS_ID_MAX];
  json_t *c = harness_new_consultation(W.mgr_a.token, harness_consultation_body(W.site_a, NULL, -60, WEEK), cid);
  char closes[32];
  snprintf(closes, sizeof closes, "%s", hjson_str(c, "closes_at"));
  json_decref(c);
  harness_consultation_set_status(cid, W.mgr_a.token, "open");

  /* while open, only closes_at (extend) and status */
  struct {
    const char *field;
    json_t *value;
  } frozen[] = {
      {"title", json_string("New title")},
      {"summary", json_string("New summary")},
      {"questions", json_pack("[{s:s, s:s}]", "id", "q9", "text", "New question?")},
      {"target", json_pack("{s:[s], s:[s]}", "site_ids", W.site_a, "group_ids", W.group1)},
      {"opens_at", json_string(harness_rfc3339_from_now(-7200, t))},
  };
  for (size_t i = 0; i < sizeof frozen / sizeof frozen[0]; i++) {
    json_t *body = json_object();
    json_object_set_new(body, frozen[i].field, frozen[i].value);
    http_response *r = patch_c(cid, W.mgr_a.token, body);
    if (r->status != 409)
      print_error("editing %s while open\n", frozen[i].field);
    assert_problem_type(r, 409, "conflict");
    http_response_free(r);
  }
  c = harness_consultation_get(cid, W.mgr_a.token);
  assert_string_not_equal(hjson_str(c, "title"), "New title");
  assert_string_equal(hjson_str(c, "closes_at"), closes);
  json_decref(c);

  /* shorten (still in the future), move into the past: 409 */
  http_response *r =
      patch_c(cid, W.mgr_a.token, json_pack("{s:s}", "closes_at", harness_rfc3339_from_now(WEEK / 2, t)));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  r = patch_c(cid, W.mgr_a.token, json_pack("{s:s}", "closes_at", harness_rfc3339_from_now(-30, t)));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);

  /* who may PATCH an open consultation they can see */
  const harness_account *not_owner[] = {&W.mgr_a2, &W.lone_a, &W.mem1, &W.conv1};
  char ext[32];
  harness_rfc3339_from_now(2 * WEEK, ext);
  for (size_t i = 0; i < sizeof not_owner / sizeof not_owner[0]; i++) {
    r = patch_c(cid, not_owner[i]->token, json_pack("{s:s}", "closes_at", ext));
    if (r->status != 403)
      print_error("caller %zu (%s)\n", i, not_owner[i]->role);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
    r = patch_c(cid, not_owner[i]->token, json_pack("{s:s}", "status", "closed"));
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
  }
  r = patch_c(cid, W.mgr_b.token, json_pack("{s:s}", "status", "closed"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  assert_string_equal(c_status(cid, st), "open");

  /* extend, with a stale then the current If-Match */
  json_int_t v = c_version(cid);
  r = patch_c_if(cid, W.mgr_a.token, json_pack("{s:s}", "closes_at", ext), v - 1);
  assert_problem_type(r, 412, "precondition-failed");
  http_response_free(r);
  r = patch_c_if(cid, W.mgr_a.token, json_pack("{s:s}", "closes_at", ext), v + 7);
  assert_problem_type(r, 412, "precondition-failed");
  http_response_free(r);
  r = patch_c_if(cid, W.mgr_a.token, json_pack("{s:s}", "closes_at", ext), v);
  assert_status(r, 200);
  assert_json_str(r->json, "closes_at", ext);
  assert_json_str(r->json, "status", "open");
  assert_json_int(r->json, "version", v + 1);
  http_response_free(r);
  /* a stale If-Match on a status move is 412 as well, and changes nothing */
  r = patch_c_if(cid, W.mgr_a.token, json_pack("{s:s}", "status", "closed"), v);
  assert_problem_type(r, 412, "precondition-failed");
  http_response_free(r);
  assert_string_equal(c_status(cid, st), "open");
  assert_true(harness_audit_count("consultation.updated", cid, W.mgr_a.id) >= 1);
}

/* ---------------------------------------------------------------- outcome */

static void test_outcome(void **state) {
  (void)state;
  char st[32];
  char cid[HARNESS_ID_MAX];
  new_draft(W.mgr_a.token, W.site_a, NULL, cid);

  /* draft and open: 409 */
  http_response *r = put_outcome(cid, W.mgr_a.token, outcome_body("Too early"));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  harness_consultation_set_status(cid, W.mgr_a.token, "open");
  r = put_outcome(cid, W.mgr_a.token, outcome_body("Too early"));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  r = put_outcome(cid, g_admin.token, outcome_body("Too early"));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  assert_string_equal(c_status(cid, st), "open");
  harness_consultation_set_status(cid, W.mgr_a.token, "closed");

  /* others than the owner and admins */
  const harness_account *not_owner[] = {&W.mgr_a2, &W.lone_a, &W.rep1, &W.conv1};
  for (size_t i = 0; i < sizeof not_owner / sizeof not_owner[0]; i++) {
    r = put_outcome(cid, not_owner[i]->token, outcome_body("Not yours"));
    if (r->status != 403)
      print_error("caller %zu (%s)\n", i, not_owner[i]->role);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
  }
  r = put_outcome(cid, W.mgr_b.token, outcome_body("Not yours"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = put_outcome(cid, W.pb.token, outcome_body("Not yours"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);

  /* validation */
  json_t *body = outcome_body("Bad action");
  json_object_set_new(json_array_get(hjson_get(body, "actions"), 1), "status", json_string("someday"));
  r = put_outcome(cid, W.mgr_a.token, body);
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "actions[1].status");
  http_response_free(r);
  body = outcome_body("");
  r = put_outcome(cid, W.mgr_a.token, body);
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "summary");
  http_response_free(r);
  body = outcome_body("Empty action text");
  json_object_set_new(json_array_get(hjson_get(body, "actions"), 0), "text", json_string(""));
  r = put_outcome(cid, W.mgr_a.token, body);
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "actions[0].text");
  http_response_free(r);
  body = outcome_body("Too many actions");
  for (int i = 0; i < 47; i++) /* 4 + 47 = 51 */
    json_array_append_new(hjson_get(body, "actions"), json_pack("{s:s, s:s}", "text", "More", "status", "planned"));
  r = put_outcome(cid, W.mgr_a.token, body);
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
  body = outcome_body("Extra");
  json_object_set_new(body, "published_at", json_string("2020-01-01T00:00:00Z"));
  r = put_outcome(cid, W.mgr_a.token, body);
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
  r = put_outcome(cid, W.mgr_a.token, json_pack("{s:[]}", "actions"));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "summary");
  http_response_free(r);
  assert_string_equal(c_status(cid, st), "closed");

  /* a stale If-Match changes nothing */
  json_int_t v = c_version(cid);
  r = put_outcome_if(cid, W.mgr_a.token, outcome_body("Stale"), v - 1);
  assert_problem_type(r, 412, "precondition-failed");
  http_response_free(r);
  assert_string_equal(c_status(cid, st), "closed");

  /* the owner publishes */
  r = put_outcome_if(cid, W.mgr_a.token, outcome_body("You said the rota came too late; we now publish it early."), v);
  assert_status(r, 200);
  assert_json_str(r->json, "id", cid);
  assert_json_str(r->json, "status", "outcome_published");
  assert_json_str(r->json, "outcome.summary", "You said the rota came too late; we now publish it early.");
  assert_true(hjson_str(r->json, "outcome.published_at") != NULL);
  json_t *actions = hjson_get(r->json, "outcome.actions");
  assert_int_equal(json_array_size(actions), 4);
  assert_json_str(json_array_get(actions, 0), "status", "done");
  assert_json_str(json_array_get(actions, 1), "status", "in_progress");
  assert_json_str(json_array_get(actions, 2), "status", "planned");
  assert_json_str(json_array_get(actions, 3), "status", "not_doing");
  assert_json_str(json_array_get(actions, 0), "text", "Rota published four weeks ahead");
  assert_etag_matches_version(r);
  http_response_free(r);

  /* everyone who can read the consultation reads the outcome */
  const harness_account *readers[] = {&W.lone_a, &W.mem1, &W.fac_b, &W.mgr_a2};
  for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++) {
    json_t *c = harness_consultation_get(cid, readers[i]->token);
    assert_string_equal(hjson_str(c, "status"), "outcome_published");
    assert_string_equal(hjson_str(c, "outcome.summary"), "You said the rota came too late; we now publish it early.");
    assert_int_equal(json_array_size(hjson_get(c, "outcome.actions")), 4);
    json_decref(c);
  }
  expect_hidden(cid, &W.pb, "outcome of a consultation of site A");
  assert_true(harness_list_contains(hpath("/v1/consultations?status=outcome_published&site_id=%s", W.site_a),
                                    W.lone_a.token, "id", cid));

  /* state moves after publication: none by PATCH */
  expect_same_status_is_no_move(cid, "outcome_published");
  const char *moves[] = {"open", "closed", "draft"};
  for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++) {
    r = patch_c(cid, W.mgr_a.token, json_pack("{s:s}", "status", moves[i]));
    if (r->status != 409)
      print_error("outcome_published -> %s\n", moves[i]);
    assert_problem_type(r, 409, "conflict");
    http_response_free(r);
  }

  /* update: 200, same state, new text; a non-owner manager still may not */
  r = put_outcome(cid, W.mgr_a2.token, outcome_body("Not yours"));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  r = put_outcome(cid, W.mgr_a.token,
                  json_pack("{s:s, s:[{s:s, s:s}]}", "summary", "Update: the early rota is in place.", "actions",
                            "text", "Rota published four weeks ahead", "status", "done"));
  assert_status(r, 200);
  assert_json_str(r->json, "status", "outcome_published");
  assert_json_str(r->json, "outcome.summary", "Update: the early rota is in place.");
  assert_int_equal(json_array_size(hjson_get(r->json, "outcome.actions")), 1);
  http_response_free(r);
  json_t *c = harness_consultation_get(cid, W.lone_a.token);
  assert_string_equal(hjson_str(c, "outcome.summary"), "Update: the early rota is in place.");
  json_decref(c);
  /* an admin may update it too; bad status still 400 */
  r = put_outcome(cid, g_admin.token, json_pack("{s:s, s:[]}", "summary", "Admin note.", "actions"));
  assert_status(r, 200);
  assert_json_str(r->json, "status", "outcome_published");
  assert_json_str(r->json, "outcome.summary", "Admin note.");
  assert_int_equal(json_array_size(hjson_get(r->json, "outcome.actions")), 0);
  http_response_free(r);

  assert_int_equal(harness_audit_count("consultation.outcome_published", cid, W.mgr_a.id), 1);
  assert_true(harness_audit_count("consultation.outcome_updated", cid, W.mgr_a.id) >= 1);
  assert_true(harness_audit_count("consultation.outcome_updated", cid, g_admin.id) >= 1);
}

/* ---------------------------------------------------------------- audit */

static void test_audit_rows_for_the_lifecycle(void **state) {
  (void)state;
  char cid[HARNESS_ID_MAX];
  new_draft(W.mgr_a.token, W.site_a, NULL, cid);
  harness_consultation_set_status(cid, W.mgr_a.token, "open");
  harness_consultation_set_status(cid, W.mgr_a.token, "closed");
  http_response *r = put_outcome(cid, W.mgr_a.token, outcome_body("Done."));
  assert_status(r, 200);
  http_response_free(r);

  const char *actions[] = {"consultation.created", "consultation.opened", "consultation.closed",
                           "consultation.outcome_published"};
  for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
    long n = harness_audit_count(actions[i], cid, W.mgr_a.id);
    if (n != 1)
      harness_fail("expected one audit row %s for consultation %s by %s, found %ld", actions[i], cid, W.mgr_a.id, n);
  }
  /* the rows name the consultation as their resource and carry the actor */
  char q[512];
  snprintf(q, sizeof q,
           "SELECT count(*) FROM audit_log WHERE resource_id = '%s' AND actor_id = '%s' AND action IN "
           "('consultation.created','consultation.opened','consultation.closed','consultation.outcome_published')",
           cid, W.mgr_a.id);
  assert_int_equal(harness_psql_long(q), 4);

  /* refused moves write nothing */
  r = patch_c(cid, W.mgr_a.token, json_pack("{s:s}", "status", "open"));
  assert_status(r, 409);
  http_response_free(r);
  assert_int_equal(harness_audit_count("consultation.opened", cid, NULL), 1);

  /* closing a closed consultation again records no second close */
  char c2[HARNESS_ID_MAX];
  new_draft(W.mgr_a.token, W.site_a, NULL, c2);
  harness_consultation_set_status(c2, W.mgr_a.token, "open");
  harness_consultation_set_status(c2, W.mgr_a.token, "closed");
  r = patch_c(c2, W.mgr_a.token, json_pack("{s:s}", "status", "closed"));
  http_response_free(r);
  long closes = harness_audit_count("consultation.closed", c2, NULL);
  if (closes != 1)
    harness_fail("PATCH status closed on a closed consultation wrote %ld consultation.closed rows, expected 1", closes);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_create_by_manager_for_own_site),
      cmocka_unit_test(test_create_wrong_site_group_or_role_is_403),
      cmocka_unit_test(test_create_admin_any_site),
      cmocka_unit_test(test_create_validation),
      cmocka_unit_test(test_get_etag_and_unknown_ids),
      cmocka_unit_test(test_draft_visible_to_owner_and_admin_only),
      cmocka_unit_test(test_open_visible_through_site_target),
      cmocka_unit_test(test_open_visible_through_group_target),
      cmocka_unit_test(test_list_filters_and_pagination),
      cmocka_unit_test(test_draft_edits),
      cmocka_unit_test(test_state_machine),
      cmocka_unit_test(test_open_edits_and_who_may_patch),
      cmocka_unit_test(test_outcome),
      cmocka_unit_test(test_audit_rows_for_the_lifecycle),
  };
  return cmocka_run_group_tests_name("e2e_consultations", tests, group_setup, harness_suite_teardown);
}
