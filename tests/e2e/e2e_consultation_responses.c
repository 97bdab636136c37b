/*
 * e2e_consultation_responses.c — API.md section 6 responses ("forums answer as groups") and the
 * issue-4 contract against the real server: one response per targeted group, drafted together by
 * its active members under If-Match (428 without it, 412 when stale, exactly one winner of two
 * concurrent writers), submitted only by a representative or convener, never written after close
 * (also when closes_at passed without anybody closing it), who reads which response (the owner
 * manager and admins: submitted only; members: their own group's), the response rate, and the
 * audit rows.  Consultations themselves are in e2e_consultations.c.
 */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static void new_open(const char *token, const char *site, const char *group, char *id_out) {
  json_decref(harness_new_consultation(token, harness_consultation_body(site, group, -60, WEEK), id_out));
  harness_consultation_set_status(id_out, token, "open");
}

/* {"answers": [{"question_id": "q1", "text": text}], "status": status} */
static json_t *answers(const char *status, const char *text) {
  return json_pack("{s:[{s:s, s:s}], s:s}", "answers", "question_id", "q1", "text", text, "status", status);
}

static http_response *put_resp(const char *cid, const char *gid, const char *token, json_t *body) {
  return http_json("PUT", hpath("/v1/consultations/%s/responses/%s", cid, gid), token, body);
}

static http_response *put_resp_if(const char *cid, const char *gid, const char *token, json_t *body,
                                  json_int_t version) {
  char h[64];
  snprintf(h, sizeof h, "If-Match: \"%" JSON_INTEGER_FORMAT "\"", version);
  const char *const headers[] = {h, NULL};
  return http_json_with_headers("PUT", hpath("/v1/consultations/%s/responses/%s", cid, gid), token, body, headers);
}

/* GET /v1/consultations/{cid}/responses as token: asserts 200 {"items": [...], "next_cursor": null}
 * and returns the items (new reference). */
#define responses(cid, token) responses_at((cid), (token), __FILE__, __LINE__)
static json_t *responses_at(const char *cid, const char *token, const char *file, int line) {
  http_response *r = http_get(hpath("/v1/consultations/%s/responses", cid), token);
  harness_assert_status(r, 200, file, line);
  json_t *items = hjson_get(r->json, "items");
  if (!json_is_array(items) || !hjson_is_null(r->json, "next_cursor"))
    harness_fail_at(file, line, "expected {\"items\": [...], \"next_cursor\": null}, got %s", r->body);
  json_incref(items);
  http_response_free(r);
  return items;
}

/* The item of group gid in items, or NULL (borrowed). Fails if the group appears more than once. */
static json_t *item_of(const json_t *items, const char *gid) {
  json_t *found = NULL;
  size_t i;
  json_t *it;
  json_array_foreach(items, i, it) {
    const char *g = hjson_str(it, "group_id");
    if (g && strcmp(g, gid) == 0) {
      if (found)
        harness_fail("group %s has more than one response: %s", gid, json_dumps(items, JSON_COMPACT));
      found = it;
    }
  }
  return found;
}

/* The current version of group gid's response, read by token (a member of the group). */
static json_int_t response_version(const char *cid, const char *gid, const char *token) {
  json_t *items = responses(cid, token);
  json_t *it = item_of(items, gid);
  if (!it)
    harness_fail("no response of group %s in %s", gid, json_dumps(items, JSON_COMPACT));
  json_int_t v = hjson_version(it);
  json_decref(items);
  return v;
}

static void expect_only_keys(const json_t *resp) {
  const char *allowed[] = {"consultation_id", "group_id",     "group_name", "answers",
                           "status",          "submitted_at", "updated_at", "version"};
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)resp, key, v) {
    bool ok = false;
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
      ok = ok || strcmp(key, allowed[i]) == 0;
    if (!ok)
      harness_fail("a response carries \"%s\" (a response is the group's, with no member ids): %s", key,
                   json_dumps(resp, JSON_COMPACT));
  }
  for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
    if (!json_object_get(resp, allowed[i]))
      harness_fail("a response lacks \"%s\": %s", allowed[i], json_dumps(resp, JSON_COMPACT));
}

/* ---------------------------------------------------------------- drafting with If-Match */

static void test_draft_create_and_if_match(void **state) {
  (void)state;
  char cid[HARNESS_ID_MAX];
  new_open(W.mgr_a.token, W.site_a, NULL, cid);

  http_response *r = put_resp(cid, W.group1, W.mem1.token, answers("draft", "The early rota helps."));
  assert_status(r, 201);
  assert_etag_matches_version(r);
  assert_json_int(r->json, "version", 1);
  assert_json_str(r->json, "consultation_id", cid);
  assert_json_str(r->json, "group_id", W.group1);
  assert_json_str(r->json, "group_name", W.group1_name);
  assert_json_str(r->json, "status", "draft");
  assert_json_str(r->json, "submitted_at", NULL);
  assert_true(hjson_str(r->json, "updated_at") != NULL);
  json_t *a = hjson_get(r->json, "answers");
  assert_int_equal(json_array_size(a), 1);
  assert_json_str(json_array_get(a, 0), "question_id", "q1");
  assert_json_str(json_array_get(a, 0), "text", "The early rota helps.");
  expect_only_keys(r->json);
  http_response_free(r);

  /* a second PUT without If-Match: 428, by the same member or another */
  r = put_resp(cid, W.group1, W.mem1.token, answers("draft", "Overwrite blindly"));
  assert_problem_type(r, 428, "precondition-required");
  http_response_free(r);
  r = put_resp(cid, W.group1, W.mem1b.token, answers("draft", "Overwrite blindly"));
  assert_problem_type(r, 428, "precondition-required");
  http_response_free(r);
  /* stale or future If-Match: 412 */
  r = put_resp_if(cid, W.group1, W.mem1b.token, answers("draft", "Stale"), 0);
  assert_problem_type(r, 412, "precondition-failed");
  http_response_free(r);
  r = put_resp_if(cid, W.group1, W.mem1b.token, answers("draft", "Future"), 2);
  assert_problem_type(r, 412, "precondition-failed");
  http_response_free(r);

  /* current If-Match: 200, version 2, answers replaced */
  r = put_resp_if(cid, W.group1, W.mem1b.token,
                  json_pack("{s:[{s:s, s:s}, {s:s, s:s}], s:s}", "answers", "question_id", "q3", "text",
                            "More handover time.", "question_id", "q1", "text", "The early rota helps a lot.", "status",
                            "draft"),
                  1);
  assert_status(r, 200);
  assert_json_int(r->json, "version", 2);
  assert_etag_matches_version(r);
  assert_int_equal(json_array_size(hjson_get(r->json, "answers")), 2);
  http_response_free(r);
  /* mem1 still holds version 1: 412, and nothing changes */
  r = put_resp_if(cid, W.group1, W.mem1.token, answers("draft", "Lost update"), 1);
  assert_problem_type(r, 412, "precondition-failed");
  http_response_free(r);

  /* a member from another site (network facilitator) drafts with the group too */
  r = put_resp_if(cid, W.group1, W.fac_b.token,
                  json_pack("{s:[{s:s, s:s}, {s:s, s:s}], s:s}", "answers", "question_id", "q1", "text",
                            "The early rota helps a lot.", "question_id", "q3", "text", "More handover time, please.",
                            "status", "draft"),
                  2);
  assert_status(r, 200);
  assert_json_int(r->json, "version", 3);
  http_response_free(r);

  /* "If-Match: *" names no version: an update must name the one it replaces (contract: REQUIRES
   * If-Match: "<version>"), else a member overwrites the others' edits without having read them */
  const char *const star[] = {"If-Match: *", NULL};
  r = http_json_with_headers("PUT", hpath("/v1/consultations/%s/responses/%s", cid, W.group1), W.mem1.token,
                             answers("draft", "Blind overwrite"), star);
  assert_problem_type(r, 428, "precondition-required");
  http_response_free(r);

  json_t *items = responses(cid, W.mem1.token);
  assert_int_equal(json_array_size(items), 1);
  json_t *it = item_of(items, W.group1);
  assert_non_null(it);
  assert_json_int(it, "version", 3);
  assert_json_str(it, "status", "draft");
  assert_json_str(json_array_get(hjson_get(it, "answers"), 1), "text", "More handover time, please.");
  expect_only_keys(it);
  json_decref(items);

  assert_true(harness_audit_count("consultation.response_drafted", cid, W.mem1.id) >= 1);
  assert_true(harness_audit_count("consultation.response_drafted", cid, W.mem1b.id) >= 1);
}

static void test_submit_only_by_representative_or_convener(void **state) {
  (void)state;
  char cid[HARNESS_ID_MAX];
  new_open(W.mgr_a.token, W.site_a, NULL, cid);

  /* an ordinary member may not create a response as submitted; nothing is written */
  http_response *r = put_resp(cid, W.group2, W.mem2.token, answers("submitted", "Straight in"));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  json_t *items = responses(cid, W.mem2.token);
  assert_int_equal(json_array_size(items), 0);
  json_decref(items);

  r = put_resp(cid, W.group1, W.mem1.token, answers("draft", "Our draft"));
  assert_status(r, 201);
  http_response_free(r);
  /* ordinary members may not submit */
  const harness_account *ordinary[] = {&W.mem1, &W.mem1b, &W.fac_b};
  for (size_t i = 0; i < sizeof ordinary / sizeof ordinary[0]; i++) {
    r = put_resp_if(cid, W.group1, ordinary[i]->token, answers("submitted", "Our draft"), 1);
    if (r->status != 403)
      print_error("ordinary member %zu submitted\n", i);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
  }
  assert_int_equal(response_version(cid, W.group1, W.mem1.token), 1);

  /* the representative submits */
  r = put_resp_if(cid, W.group1, W.rep1.token, answers("submitted", "Our agreed answer"), 1);
  assert_status(r, 200);
  assert_json_str(r->json, "status", "submitted");
  assert_true(hjson_str(r->json, "submitted_at") != NULL);
  assert_json_int(r->json, "version", 2);
  assert_etag_matches_version(r);
  http_response_free(r);

  /* after submission ordinary members may not change it, as draft or as submitted */
  for (size_t i = 0; i < sizeof ordinary / sizeof ordinary[0]; i++) {
    r = put_resp_if(cid, W.group1, ordinary[i]->token, answers("draft", "Second thoughts"), 2);
    if (r->status != 403)
      print_error("ordinary member %zu edited a submitted response\n", i);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
    r = put_resp_if(cid, W.group1, ordinary[i]->token, answers("submitted", "Second thoughts"), 2);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
  }
  items = responses(cid, W.mem1.token);
  json_t *it = item_of(items, W.group1);
  assert_json_str(it, "status", "submitted");
  assert_json_str(json_array_get(hjson_get(it, "answers"), 0), "text", "Our agreed answer");
  assert_json_int(it, "version", 2);
  json_decref(items);

  /* the convener may still amend the submitted response */
  r = put_resp_if(cid, W.group1, W.conv1.token, answers("submitted", "Our agreed answer, amended"), 2);
  assert_status(r, 200);
  assert_json_str(r->json, "status", "submitted");
  assert_true(hjson_str(r->json, "submitted_at") != NULL);
  http_response_free(r);

  /* a convener may create a response directly as submitted */
  r = put_resp(cid, W.group2, W.conv2.token, answers("submitted", "Group two agrees"));
  assert_status(r, 201);
  assert_json_str(r->json, "status", "submitted");
  http_response_free(r);

  assert_int_equal(harness_audit_count("consultation.response_submitted", cid, W.rep1.id), 1);
  assert_true(harness_audit_count("consultation.response_submitted", cid, W.conv1.id) >= 1);
  assert_int_equal(harness_audit_count("consultation.response_submitted", cid, W.conv2.id), 1);
  assert_int_equal(harness_audit_count("consultation.response_submitted", cid, W.mem1.id), 0);
}

static void test_response_validation(void **state) {
  (void)state;
  char cid[HARNESS_ID_MAX];
  new_open(W.mgr_a.token, W.site_a, NULL, cid);
  struct {
    json_t *body;
    const char *field;
  } bad[] = {
      {json_pack("{s:[{s:s, s:s}], s:s}", "answers", "question_id", "q9", "text", "?", "status", "draft"),
       "answers[0].question_id"},
      {json_pack("{s:[{s:s, s:s}, {s:s, s:s}], s:s}", "answers", "question_id", "q1", "text", "a", "question_id",
                 "nope", "text", "b", "status", "draft"),
       "answers[1].question_id"},
      {json_pack("{s:[{s:s, s:s}, {s:s, s:s}], s:s}", "answers", "question_id", "q2", "text", "a", "question_id", "q2",
                 "text", "b", "status", "draft"),
       "answers[1].question_id"},
      {json_pack("{s:[{s:s, s:s}], s:s}", "answers", "question_id", "q1", "text", "", "status", "draft"),
       "answers[0].text"},
      {json_pack("{s:[{s:s}], s:s}", "answers", "question_id", "q1", "status", "draft"), "answers[0].text"},
      {json_pack("{s:[{s:s}], s:s}", "answers", "text", "no id", "status", "draft"), "answers[0].question_id"},
      {json_pack("{s:[{s:s, s:s}]}", "answers", "question_id", "q1", "text", "a"), "status"},
      {json_pack("{s:[{s:s, s:s}], s:s}", "answers", "question_id", "q1", "text", "a", "status", "final"), "status"},
      {json_pack("{s:s}", "status", "draft"), "answers"},
      {json_pack("{s:s, s:s}", "answers", "q1", "status", "draft"), "answers"},
      {json_pack("{s:[{s:s, s:s}], s:s, s:s}", "answers", "question_id", "q1", "text", "a", "status", "draft",
                 "group_id", W.group2),
       "group_id"},
      {json_pack("{s:[{s:s, s:s}], s:s, s:s}", "answers", "question_id", "q1", "text", "a", "status", "draft",
                 "submitted_at", "2020-01-01T00:00:00Z"),
       "submitted_at"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    http_response *r = put_resp(cid, W.group2, W.mem2.token, bad[i].body);
    if (r->status != 400 || !hjson_get(r->json, "errors"))
      print_error("bad response body %zu (expected field %s)\n", i, bad[i].field);
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, bad[i].field);
    http_response_free(r);
  }
  /* a text longer than 10000 characters */
  char *long_text = malloc(10002);
  memset(long_text, 'x', 10001);
  long_text[10001] = '\0';
  http_response *r = put_resp(cid, W.group2, W.mem2.token, answers("draft", long_text));
  free(long_text);
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "answers[0].text");
  http_response_free(r);

  /* nothing was written */
  json_t *items = responses(cid, W.mem2.token);
  assert_int_equal(json_array_size(items), 0);
  json_decref(items);

  /* the same on an update (with If-Match): unknown question 400, the response unchanged */
  r = put_resp(cid, W.group2, W.mem2.token, answers("draft", "Valid"));
  assert_status(r, 201);
  http_response_free(r);
  r = put_resp_if(cid, W.group2, W.mem2.token,
                  json_pack("{s:[{s:s, s:s}], s:s}", "answers", "question_id", "Q1", "text", "?", "status", "draft"),
                  1);
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "answers[0].question_id");
  http_response_free(r);
  assert_int_equal(response_version(cid, W.group2, W.mem2.token), 1);
}

static void test_wrong_group_or_caller(void **state) {
  (void)state;
  char cid[HARNESS_ID_MAX];
  new_open(W.mgr_a.token, W.site_a, NULL, cid);

  /* a group that is not targeted (at site B), an unknown group, a malformed id: 404 */
  http_response *r = put_resp(cid, W.group_b, W.mem1.token, answers("draft", "Wrong group"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = put_resp(cid, W.group_b, W.conv_b.token, answers("draft", "Not our consultation"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = put_resp(cid, W.group_b, g_admin.token, answers("draft", "Wrong group"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = put_resp(cid, UNKNOWN_UUID, W.mem1.token, answers("draft", "Unknown group"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = put_resp(cid, "not-a-uuid", W.mem1.token, answers("draft", "Malformed group"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = put_resp(UNKNOWN_UUID, W.group1, W.mem1.token, answers("draft", "Unknown consultation"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);

  /* people who can see the consultation but are not active members of the group: 403 */
  const harness_account *outsiders[] = {&W.mem2, &W.conv2, &W.lone_a, &W.mgr_a, &W.mgr_a2, &g_admin};
  for (size_t i = 0; i < sizeof outsiders / sizeof outsiders[0]; i++) {
    r = put_resp(cid, W.group1, outsiders[i]->token, answers("draft", "Not my group"));
    if (r->status != 403)
      print_error("outsider %zu (%s) writing group 1's response\n", i, outsiders[i]->role);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
  }
  /* people who cannot see the consultation: 404 */
  const harness_account *strangers[] = {&W.pb, &W.mgr_b, &W.conv_b};
  for (size_t i = 0; i < sizeof strangers / sizeof strangers[0]; i++) {
    r = put_resp(cid, W.group1, strangers[i]->token, answers("draft", "Who?"));
    if (r->status != 404)
      print_error("stranger %zu (%s)\n", i, strangers[i]->role);
    assert_problem_type(r, 404, "not-found");
    http_response_free(r);
    r = http_get(hpath("/v1/consultations/%s/responses", cid), strangers[i]->token);
    assert_problem_type(r, 404, "not-found");
    http_response_free(r);
  }
  json_t *items = responses(cid, W.mem1.token);
  assert_int_equal(json_array_size(items), 0);
  json_decref(items);

  /* a member who has only been invited is not an active member */
  harness_account invited;
  harness_new_member_quick(g_admin.token, "practitioner", W.site_a, &invited);
  harness_group_invite(W.group2, W.conv2.token, invited.id, NULL);
  r = put_resp(cid, W.group2, invited.token, answers("draft", "Not yet in"));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  /* once active they draft; once they have left, they may not write any more */
  harness_group_activate(W.group2, invited.token, invited.id);
  r = put_resp(cid, W.group2, invited.token, answers("draft", "Now I am in"));
  assert_status(r, 201);
  http_response_free(r);
  r = http_request("DELETE", hpath("/v1/groups/%s/members/%s", W.group2, invited.id), invited.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  r = put_resp_if(cid, W.group2, invited.token, answers("draft", "Still here?"), 1);
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  json_t *left_view = responses(cid, invited.token);
  assert_int_equal(json_array_size(left_view), 0);
  json_decref(left_view);

  /* a consultation targeting group 1 only: group 2's members cannot see it (404) */
  char only1[HARNESS_ID_MAX];
  new_open(W.mgr_a.token, NULL, W.group1, only1);
  r = put_resp(only1, W.group2, W.mem2.token, answers("draft", "Not asked"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = put_resp(only1, W.group1, W.mem2.token, answers("draft", "Not asked"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  /* a member of group 1 (who sees it) writing for group 2, at the same site but not targeted: 404 */
  r = put_resp(only1, W.group2, W.conv1.token, answers("draft", "Not targeted"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = put_resp(only1, W.group1, W.mem1.token, answers("draft", "We were asked"));
  assert_status(r, 201);
  http_response_free(r);

  /* a draft consultation: members cannot see it, so 404 */
  char draft[HARNESS_ID_MAX];
  json_decref(harness_new_consultation(W.mgr_a.token, harness_consultation_body(W.site_a, NULL, -60, WEEK), draft));
  r = put_resp(draft, W.group1, W.mem1.token, answers("draft", "Too early"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = put_resp(draft, W.group1, W.rep1.token, answers("submitted", "Too early"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = http_get(hpath("/v1/consultations/%s/responses", draft), W.mem1.token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  items = responses(draft, W.mgr_a.token); /* the owner sees the draft consultation, and no responses */
  assert_int_equal(json_array_size(items), 0);
  json_decref(items);
}

/* ---------------------------------------------------------------- concurrency */

typedef struct racer {
  const char *cid, *gid, *token, *text;
  json_int_t version; /* < 0: no If-Match */
  pthread_barrier_t *barrier;
  long status;
} racer;

static void *racer_main(void *arg) {
  racer *w = arg;
  json_t *body = answers("draft", w->text);
  pthread_barrier_wait(w->barrier);
  http_response *r = w->version < 0 ? put_resp(w->cid, w->gid, w->token, body)
                                    : put_resp_if(w->cid, w->gid, w->token, body, w->version);
  w->status = r->status;
  http_response_free(r);
  return NULL;
}

static void race(racer *a, racer *b) {
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, 2);
  a->barrier = b->barrier = &barrier;
  pthread_t ta, tb;
  pthread_create(&ta, NULL, racer_main, a);
  pthread_create(&tb, NULL, racer_main, b);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  pthread_barrier_destroy(&barrier);
}

static void test_concurrent_edits_one_wins(void **state) {
  (void)state;
  char cid[HARNESS_ID_MAX];
  new_open(W.mgr_a.token, NULL, W.group1, cid);
  http_response *r = put_resp(cid, W.group1, W.mem1.token, answers("draft", "Start"));
  assert_status(r, 201);
  http_response_free(r);

  for (int round = 0; round < 6; round++) {
    /* both members read the same version */
    json_int_t va = response_version(cid, W.group1, W.mem1.token);
    json_int_t vb = response_version(cid, W.group1, W.mem1b.token);
    assert_int_equal(va, vb);
    char ta[32], tb[32];
    snprintf(ta, sizeof ta, "mem1 round %d", round);
    snprintf(tb, sizeof tb, "mem1b round %d", round);
    racer a = {cid, W.group1, W.mem1.token, ta, va, NULL, 0}, b = {cid, W.group1, W.mem1b.token, tb, vb, NULL, 0};
    race(&a, &b);
    bool one_each = (a.status == 200 && b.status == 412) || (a.status == 412 && b.status == 200);
    if (!one_each)
      harness_fail("round %d: two PUTs with If-Match \"%" JSON_INTEGER_FORMAT
                   "\" got %ld and %ld, expected one 200 and one 412",
                   round, va, a.status, b.status);
    json_t *items = responses(cid, W.mem1.token);
    assert_int_equal(json_array_size(items), 1);
    json_t *it = item_of(items, W.group1);
    assert_json_int(it, "version", va + 1);
    assert_json_str(json_array_get(hjson_get(it, "answers"), 0), "text", a.status == 200 ? ta : tb);
    json_decref(items);
  }
}

static void test_concurrent_creates_make_one_response(void **state) {
  (void)state;
  for (int round = 0; round < 4; round++) {
    char cid[HARNESS_ID_MAX];
    new_open(W.mgr_a.token, NULL, W.group2, cid);
    racer a = {cid, W.group2, W.conv2.token, "conv2 first", -1, NULL, 0},
          b = {cid, W.group2, W.mem2.token, "mem2 first", -1, NULL, 0};
    race(&a, &b);
    bool one_each = (a.status == 201 && b.status == 428) || (a.status == 428 && b.status == 201);
    if (!one_each)
      harness_fail("round %d: two PUTs creating group 2's response without If-Match got %ld and %ld, expected one "
                   "201 and one 428 (the second is an update without If-Match)",
                   round, a.status, b.status);
    json_t *items = responses(cid, W.mem2.token);
    if (json_array_size(items) != 1)
      harness_fail("round %d: expected one response, got %s", round, json_dumps(items, JSON_COMPACT));
    json_t *it = item_of(items, W.group2);
    assert_json_int(it, "version", 1);
    assert_json_str(json_array_get(hjson_get(it, "answers"), 0), "text", a.status == 201 ? a.text : b.text);
    json_decref(items);
  }
}

/* ---------------------------------------------------------------- who reads what; response rate */

static void expect_rate(const char *cid, const char *token, long targeted, long submitted) {
  json_t *c = harness_consultation_get(cid, token);
  json_t *rr = hjson_get(c, "response_rate");
  if (!json_is_object(rr))
    harness_fail("expected a response_rate object, got %s", json_dumps(c, JSON_COMPACT));
  assert_json_int(rr, "targeted", targeted);
  assert_json_int(rr, "submitted", submitted);
  json_t *rate = json_object_get(rr, "rate");
  double want = (double)(long)((double)submitted * 1000.0 / (double)targeted + 0.5) / 1000.0;
  double diff = json_is_number(rate) ? json_number_value(rate) - want : 1.0;
  if (!json_is_number(rate) || diff > 1e-9 || diff < -1e-9)
    harness_fail("response_rate.rate: expected %.3f, got %s", want, json_dumps(rr, JSON_COMPACT));
  json_decref(c);
}

static void expect_no_rate(const char *cid, const harness_account *who) {
  json_t *c = harness_consultation_get(cid, who->token);
  if (!hjson_is_null(c, "response_rate"))
    harness_fail("%s %s must see response_rate null, got %s", who->role, who->id, json_dumps(c, JSON_COMPACT));
  json_decref(c);
}

static void test_who_reads_responses_and_the_rate(void **state) {
  (void)state;
  /* a fresh world, so that the groups at its site A are exactly ours */
  static harness_consult_world V;
  harness_consult_world_build(g_admin.token, &V);
  char g3[HARNESS_ID_MAX], g4[HARNESS_ID_MAX];
  json_decref(harness_new_group(V.mgr_a2.token, V.site_a, 0, 0, g3)); /* forming: counts */
  json_decref(harness_new_group(V.mgr_a2.token, V.site_a, 0, 0, g4)); /* closed: does not count */
  http_response *r = http_request("DELETE", hpath("/v1/groups/%s", g4), V.mgr_a2.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);

  /* site A and group 1 (at A) together: group 1 counts once; groups 1, 2, 3 are targeted */
  char cid[HARNESS_ID_MAX];
  json_decref(harness_new_consultation(V.mgr_a.token, harness_consultation_body(V.site_a, V.group1, -60, WEEK), cid));
  expect_rate(cid, V.mgr_a.token, 3, 0);
  harness_consultation_set_status(cid, V.mgr_a.token, "open");

  r = put_resp(cid, V.group1, V.rep1.token, answers("submitted", "Group one's agreed answer"));
  assert_status(r, 201);
  http_response_free(r);
  r = put_resp(cid, V.group2, V.mem2.token, answers("draft", "Group two, still talking"));
  assert_status(r, 201);
  http_response_free(r);
  r = put_resp(cid, g4, V.mgr_a2.token, answers("draft", "A closed group is not asked"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);

  /* the owner manager and admins: submitted only (group 2's draft is not theirs to read) */
  const harness_account *readers[] = {&V.mgr_a, &g_admin};
  for (size_t i = 0; i < 2; i++) {
    json_t *items = responses(cid, readers[i]->token);
    if (json_array_size(items) != 1 || !item_of(items, V.group1) || item_of(items, V.group2))
      harness_fail("%s should read group 1's submitted response only, got %s", readers[i]->role,
                   json_dumps(items, JSON_COMPACT));
    json_t *it = item_of(items, V.group1);
    assert_json_str(it, "status", "submitted");
    assert_json_str(it, "group_name", V.group1_name);
    assert_json_str(json_array_get(hjson_get(it, "answers"), 0), "text", "Group one's agreed answer");
    expect_only_keys(it);
    json_decref(items);
  }
  /* group members: their own group's response, draft or submitted */
  const harness_account *g2_members[] = {&V.mem2, &V.conv2};
  for (size_t i = 0; i < 2; i++) {
    json_t *items = responses(cid, g2_members[i]->token);
    if (json_array_size(items) != 1 || !item_of(items, V.group2))
      harness_fail("a member of group 2 should read group 2's draft only, got %s", json_dumps(items, JSON_COMPACT));
    assert_json_str(item_of(items, V.group2), "status", "draft");
    json_decref(items);
  }
  const harness_account *g1_members[] = {&V.mem1, &V.rep1, &V.fac_b};
  for (size_t i = 0; i < 3; i++) {
    json_t *items = responses(cid, g1_members[i]->token);
    if (json_array_size(items) != 1 || !item_of(items, V.group1))
      harness_fail("a member of group 1 should read group 1's response only, got %s", json_dumps(items, JSON_COMPACT));
    json_decref(items);
  }
  /* others who can see the consultation: an empty list (including a non-owner manager of the site, who
   * leads group 3, which has not answered) */
  const harness_account *empty[] = {&V.lone_a, &V.mgr_a2};
  for (size_t i = 0; i < 2; i++) {
    json_t *items = responses(cid, empty[i]->token);
    if (json_array_size(items) != 0)
      harness_fail("%s should read no response, got %s", empty[i]->role, json_dumps(items, JSON_COMPACT));
    json_decref(items);
  }
  /* and those who cannot see it: 404 */
  const harness_account *strangers[] = {&V.pb, &V.mgr_b, &V.conv_b, &W.mem1, &W.mgr_a};
  for (size_t i = 0; i < sizeof strangers / sizeof strangers[0]; i++) {
    r = http_get(hpath("/v1/consultations/%s/responses", cid), strangers[i]->token);
    assert_problem_type(r, 404, "not-found");
    http_response_free(r);
  }

  /* the rate: owner and admins only */
  expect_rate(cid, V.mgr_a.token, 3, 1);
  expect_rate(cid, g_admin.token, 3, 1);
  expect_no_rate(cid, &V.lone_a);
  expect_no_rate(cid, &V.mem1);
  expect_no_rate(cid, &V.rep1);
  expect_no_rate(cid, &V.mgr_a2);
  r = http_get(hpath("/v1/consultations?site_id=%s&status=open", V.site_a), V.lone_a.token);
  assert_status(r, 200);
  size_t i;
  json_t *it;
  json_array_foreach(hjson_get(r->json, "items"), i, it) {
    if (!hjson_is_null(it, "response_rate"))
      harness_fail("a practitioner's list shows a response_rate: %s", r->body);
  }
  http_response_free(r);

  /* group 2 submits: 2 of 3, and the owner now reads both */
  json_int_t v = response_version(cid, V.group2, V.conv2.token);
  r = put_resp_if(cid, V.group2, V.conv2.token, answers("submitted", "Group two agrees"), v);
  assert_status(r, 200);
  http_response_free(r);
  expect_rate(cid, V.mgr_a.token, 3, 2);
  json_t *items = responses(cid, V.mgr_a.token);
  if (json_array_size(items) != 2 || !item_of(items, V.group1) || !item_of(items, V.group2))
    harness_fail("the owner should read both submitted responses, got %s", json_dumps(items, JSON_COMPACT));
  json_decref(items);
}

/* ---------------------------------------------------------------- one response, and paging */

static http_response *get_resp(const char *cid, const char *gid, const char *token, const char *if_none_match) {
  char h[64];
  snprintf(h, sizeof h, "If-None-Match: %s", if_none_match ? if_none_match : "");
  const char *const headers[] = {h, NULL};
  return http_get_with_headers(hpath("/v1/consultations/%s/responses/%s", cid, gid), token,
                               if_none_match ? headers : NULL);
}

/* 200 with the group's response (its status as expected) and its ETag, and 304 for that ETag. */
static void expect_readable(const char *cid, const char *gid, const harness_account *who, const char *status) {
  http_response *r = get_resp(cid, gid, who->token, NULL);
  if (r->status != 200)
    harness_fail("%s %s should read group %s's response: %ld %s", who->role, who->id, gid, r->status, r->body);
  assert_etag_matches_version(r);
  assert_json_str(r->json, "group_id", gid);
  assert_json_str(r->json, "consultation_id", cid);
  assert_json_str(r->json, "status", status);
  expect_only_keys(r->json);
  char etag[32];
  snprintf(etag, sizeof etag, "%s", http_header(r, "ETag"));
  http_response_free(r);
  r = get_resp(cid, gid, who->token, etag);
  assert_status(r, 304);
  assert_int_equal(r->body_len, 0);
  http_response_free(r);
}

static void expect_unreadable(const char *cid, const char *gid, const harness_account *who) {
  http_response *r = get_resp(cid, gid, who->token, NULL);
  if (r->status != 404)
    harness_fail("%s %s should get 404 for group %s's response: %ld %s", who->role, who->id, gid, r->status, r->body);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
}

/* GET /v1/consultations/{id}/responses/{group_id}: the ETag that PUT's If-Match needs, read
 * by the list's rule (owner and admins: submitted; the group's active members: draft too). */
static void test_get_one_response_every_role(void **state) {
  (void)state;
  char cid[HARNESS_ID_MAX];
  new_open(W.mgr_a.token, W.site_a, W.group1, cid);
  expect_unreadable(cid, W.group1, &W.rep1); /* no response yet */

  http_response *r = put_resp(cid, W.group1, W.rep1.token, answers("submitted", "Group one, submitted"));
  assert_status(r, 201);
  assert_header_equal(r, "Location", hpath("/v1/consultations/%s/responses/%s", cid, W.group1));
  http_response_free(r);
  r = put_resp(cid, W.group2, W.mem2.token, answers("draft", "Group two, a draft"));
  assert_status(r, 201);
  http_response_free(r);

  /* group 1's submitted response: its active members, the owner, admins */
  const harness_account *g1_readers[] = {&W.conv1, &W.rep1, &W.mem1, &W.mem1b, &W.fac_b, &W.mgr_a, &g_admin};
  for (size_t i = 0; i < sizeof g1_readers / sizeof g1_readers[0]; i++)
    expect_readable(cid, W.group1, g1_readers[i], "submitted");
  /* group 2's draft: its active members only */
  expect_readable(cid, W.group2, &W.mem2, "draft");
  expect_readable(cid, W.group2, &W.conv2, "draft");
  const harness_account *not_g2[] = {&W.mgr_a, &g_admin, &W.rep1, &W.lone_a, &W.mgr_a2};
  for (size_t i = 0; i < sizeof not_g2 / sizeof not_g2[0]; i++)
    expect_unreadable(cid, W.group2, not_g2[i]);
  /* who sees the consultation but is neither owner nor in group 1; and who cannot see it */
  const harness_account *not_g1[] = {&W.mem2, &W.conv2, &W.lone_a, &W.mgr_a2, &W.pb, &W.mgr_b, &W.conv_b};
  for (size_t i = 0; i < sizeof not_g1 / sizeof not_g1[0]; i++)
    expect_unreadable(cid, W.group1, not_g1[i]);
  /* unknown and malformed ids */
  expect_unreadable(cid, "00000000-0000-4000-8000-000000000000", &g_admin);
  r = http_get(hpath("/v1/consultations/%s/responses/not-a-uuid", cid), g_admin.token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = http_get(hpath("/v1/consultations/00000000-0000-4000-8000-000000000000/responses/%s", W.group1), g_admin.token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);

  /* what it is for: the ETag it gives is the If-Match a change needs */
  r = get_resp(cid, W.group2, W.mem2.token, NULL);
  assert_status(r, 200);
  json_int_t v = hjson_version(r->json);
  char old_etag[32];
  snprintf(old_etag, sizeof old_etag, "%s", http_header(r, "ETag"));
  http_response_free(r);
  r = put_resp_if(cid, W.group2, W.mem2.token, answers("draft", "Group two, a better draft"), v);
  assert_status(r, 200);
  assert_json_int(r->json, "version", v + 1);
  http_response_free(r);
  r = get_resp(cid, W.group2, W.mem2.token, old_etag); /* changed: no 304 for the old ETag */
  assert_status(r, 200);
  assert_json_str(json_array_get(hjson_get(r->json, "answers"), 0), "text", "Group two, a better draft");
  assert_etag_matches_version(r);
  http_response_free(r);
}

/* The responses list is paged like every other: limit=1 walks every item once. */
static void test_responses_list_is_paged(void **state) {
  (void)state;
  static harness_consult_world V; /* its own site A: the groups asked are exactly its three */
  harness_consult_world_build(g_admin.token, &V);
  char g3[HARNESS_ID_MAX];
  json_decref(harness_new_group(V.mgr_a2.token, V.site_a, 0, 0, g3));
  char cid[HARNESS_ID_MAX];
  new_open(V.mgr_a.token, V.site_a, NULL, cid);
  const char *groups[] = {V.group1, V.group2, g3};
  const char *submitters[] = {V.rep1.token, V.conv2.token, V.mgr_a2.token};
  for (int i = 0; i < 3; i++) {
    http_response *r = put_resp(cid, groups[i], submitters[i], answers("submitted", "Agreed"));
    assert_status(r, 201);
    http_response_free(r);
  }
  const int limits[] = {1, 2, 3};
  for (int l = 0; l < 3; l++) {
    char cursor[512] = "";
    int seen[3] = {0, 0, 0}, total = 0, pages = 0;
    for (;;) {
      http_response *r =
          http_get(cursor[0] ? hpath("/v1/consultations/%s/responses?limit=%d&cursor=%s", cid, limits[l], cursor)
                             : hpath("/v1/consultations/%s/responses?limit=%d", cid, limits[l]),
                   V.mgr_a.token);
      assert_status(r, 200);
      json_t *items = hjson_get(r->json, "items");
      if (json_array_size(items) > (size_t)limits[l])
        harness_fail("limit=%d gave %zu items", limits[l], json_array_size(items));
      size_t i;
      json_t *it;
      json_array_foreach(items, i, it) {
        for (int g = 0; g < 3; g++)
          if (strcmp(hjson_str(it, "group_id"), groups[g]) == 0)
            seen[g]++;
        total++;
      }
      pages++;
      const char *next = hjson_str(r->json, "next_cursor");
      if (next == NULL || pages > 4) {
        http_response_free(r);
        break;
      }
      snprintf(cursor, sizeof cursor, "%s", next);
      http_response_free(r);
    }
    if (total != 3 || seen[0] != 1 || seen[1] != 1 || seen[2] != 1)
      harness_fail("limit=%d walk saw %d items (%d, %d, %d times) in %d pages", limits[l], total, seen[0], seen[1],
                   seen[2], pages);
  }
}

/* ---------------------------------------------------------------- closed */

static void test_no_writes_after_close(void **state) {
  (void)state;
  char cid[HARNESS_ID_MAX];
  new_open(W.mgr_a.token, W.site_a, NULL, cid);
  http_response *r = put_resp(cid, W.group1, W.mem1.token, answers("draft", "Before close"));
  assert_status(r, 201);
  http_response_free(r);
  harness_consultation_set_status(cid, W.mgr_a.token, "closed");

  r = put_resp_if(cid, W.group1, W.mem1.token, answers("draft", "After close"), 1);
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  r = put_resp_if(cid, W.group1, W.rep1.token, answers("submitted", "After close"), 1);
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  r = put_resp(cid, W.group2, W.conv2.token, answers("submitted", "Too late"));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);

  /* still readable */
  json_t *items = responses(cid, W.mem1.token);
  assert_int_equal(json_array_size(items), 1);
  assert_json_str(json_array_get(hjson_get(item_of(items, W.group1), "answers"), 0), "text", "Before close");
  assert_json_int(item_of(items, W.group1), "version", 1);
  json_decref(items);
  items = responses(cid, W.mem2.token);
  assert_int_equal(json_array_size(items), 0);
  json_decref(items);

  /* after the outcome too */
  r = http_json("PUT", hpath("/v1/consultations/%s/outcome", cid), W.mgr_a.token,
                json_pack("{s:s, s:[]}", "summary", "Thanks.", "actions"));
  assert_status(r, 200);
  http_response_free(r);
  r = put_resp_if(cid, W.group1, W.rep1.token, answers("submitted", "After the outcome"), 1);
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
}

static void test_closes_at_passing_closes_it(void **state) {
  (void)state;
  char cid[HARNESS_ID_MAX];
  time_t t0 = time(NULL);
  json_decref(harness_new_consultation(W.mgr_a.token, harness_consultation_body(W.site_a, NULL, -60, 4), cid));
  harness_consultation_set_status(cid, W.mgr_a.token, "open");
  http_response *r = put_resp(cid, W.group1, W.mem1.token, answers("draft", "While it is open"));
  assert_status(r, 201);
  http_response_free(r);
  json_t *c = harness_consultation_get(cid, W.mem1.token);
  assert_string_equal(hjson_str(c, "status"), "open");
  json_decref(c);

  while (time(NULL) < t0 + 6)
    harness_sleep_ms(200);

  /* reported as closed to everybody, and in the lists */
  const harness_account *readers[] = {&W.mgr_a, &W.mem1, &W.lone_a};
  for (size_t i = 0; i < 3; i++) {
    c = harness_consultation_get(cid, readers[i]->token);
    if (strcmp(hjson_str(c, "status") ? hjson_str(c, "status") : "", "closed") != 0)
      harness_fail("closes_at has passed: expected status \"closed\" for %s, got %s", readers[i]->role,
                   json_dumps(c, JSON_COMPACT));
    json_decref(c);
  }
  assert_true(
      harness_list_contains(hpath("/v1/consultations?status=closed&site_id=%s", W.site_a), W.mem1.token, "id", cid));
  assert_false(
      harness_list_contains(hpath("/v1/consultations?status=open&site_id=%s", W.site_a), W.mem1.token, "id", cid));

  /* and treated as closed for every write */
  r = put_resp_if(cid, W.group1, W.mem1.token, answers("draft", "Too late"), 1);
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  r = put_resp_if(cid, W.group1, W.rep1.token, answers("submitted", "Too late"), 1);
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  r = put_resp(cid, W.group2, W.conv2.token, answers("submitted", "Too late"));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  char later[32];
  r = http_json("PATCH", hpath("/v1/consultations/%s", cid), W.mgr_a.token,
                json_pack("{s:s}", "closes_at", harness_rfc3339_from_now(WEEK, later)));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  r = http_json("PATCH", hpath("/v1/consultations/%s", cid), W.mgr_a.token, json_pack("{s:s}", "status", "open"));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);

  /* closing it records the close; the outcome may then be published */
  harness_consultation_set_status(cid, W.mgr_a.token, "closed");
  assert_int_equal(harness_audit_count("consultation.closed", cid, W.mgr_a.id), 1);
  r = http_json("PUT", hpath("/v1/consultations/%s/outcome", cid), W.mgr_a.token,
                json_pack("{s:s, s:[{s:s, s:s}]}", "summary", "We heard you.", "actions", "text", "Review the rota",
                          "status", "planned"));
  assert_status(r, 200);
  assert_json_str(r->json, "status", "outcome_published");
  http_response_free(r);
}

static void test_outcome_on_effectively_closed_without_patch(void **state) {
  (void)state;
  char cid[HARNESS_ID_MAX];
  time_t t0 = time(NULL);
  json_decref(harness_new_consultation(W.mgr_a.token, harness_consultation_body(W.site_a, NULL, -60, 3), cid));
  harness_consultation_set_status(cid, W.mgr_a.token, "open");
  while (time(NULL) < t0 + 5)
    harness_sleep_ms(200);
  http_response *r = http_json("PUT", hpath("/v1/consultations/%s/outcome", cid), W.mgr_a.token,
                               json_pack("{s:s, s:[]}", "summary", "Closed by the calendar.", "actions"));
  assert_status(r, 200);
  assert_json_str(r->json, "status", "outcome_published");
  http_response_free(r);
  assert_int_equal(harness_audit_count("consultation.outcome_published", cid, W.mgr_a.id), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_draft_create_and_if_match),
      cmocka_unit_test(test_submit_only_by_representative_or_convener),
      cmocka_unit_test(test_response_validation),
      cmocka_unit_test(test_wrong_group_or_caller),
      cmocka_unit_test(test_concurrent_edits_one_wins),
      cmocka_unit_test(test_concurrent_creates_make_one_response),
      cmocka_unit_test(test_who_reads_responses_and_the_rate),
      cmocka_unit_test(test_get_one_response_every_role),
      cmocka_unit_test(test_responses_list_is_paged),
      cmocka_unit_test(test_no_writes_after_close),
      cmocka_unit_test(test_closes_at_passing_closes_it),
      cmocka_unit_test(test_outcome_on_effectively_closed_without_patch),
  };
  return cmocka_run_group_tests_name("e2e_consultation_responses", tests, group_setup, harness_suite_teardown);
}
