/*
 * e2e_memberships.c — API.md section 5 (membership) against the real server: join requests and
 * their approval, invitations and their acceptance, and that nobody becomes an active member
 * without their own request or acceptance; who may invite and who may be invited; duplicates;
 * max_members, also when two people take the last place at the same moment; leaving and removal;
 * roles and the rule that a group keeps a leader; who sees the members list; representatives in
 * the network-wide central group; audit rows.
 */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNKNOWN_UUID "00000000-0000-4000-8000-000000000000"

static harness_account g_admin;
static char g_site_a[HARNESS_ID_MAX], g_site_b[HARNESS_ID_MAX];
/* Site A: the convener of every test group, six practitioners, a manager.
 * Site B: a practitioner, a manager and a (network) facilitator. */
static harness_account g_conv, g_p[6], g_mgr_a, g_pb, g_mgr_b, g_fb;

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_new_site_id(g_admin.token, g_site_a);
  harness_new_site_id(g_admin.token, g_site_b);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &g_conv);
  for (int i = 0; i < 6; i++)
    harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &g_p[i]);
  harness_new_manager_quick(g_admin.token, g_site_a, &g_mgr_a);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_b, &g_pb);
  harness_new_manager_quick(g_admin.token, g_site_b, &g_mgr_b);
  harness_new_member_quick(g_admin.token, "facilitator", g_site_b, &g_fb);
  return 0;
}

static http_response *post_member(const char *gid, const char *token, json_t *body) {
  return http_json("POST", hpath("/v1/groups/%s/members", gid), token, body);
}

static http_response *patch_membership(const char *gid, const char *mid, const char *token, json_t *body) {
  return http_json("PATCH", hpath("/v1/groups/%s/members/%s", gid, mid), token, body);
}

static http_response *get_membership(const char *gid, const char *mid, const char *token) {
  return http_get(hpath("/v1/groups/%s/members/%s", gid, mid), token);
}

static http_response *delete_membership(const char *gid, const char *mid, const char *token) {
  return http_request("DELETE", hpath("/v1/groups/%s/members/%s", gid, mid), token, NULL, NULL, NULL);
}

static void expect_problem(http_response *r, long status, const char *slug) {
  assert_problem_type(r, status, slug);
  http_response_free(r);
}

/* The group's member_count as its convener sees it. */
static json_int_t member_count(const char *gid) {
  json_t *g = harness_group_get(gid, g_conv.token);
  json_int_t n = harness_json_int_at(g, "member_count", __FILE__, __LINE__);
  json_decref(g);
  return n;
}

/* The state of mid's membership as the member themself sees it ("none" when 404). */
static const char *own_state(const char *gid, const harness_account *who) {
  static _Thread_local char state[32];
  http_response *r = get_membership(gid, who->id, who->token);
  if (r->status == 404) {
    snprintf(state, sizeof state, "none");
  } else {
    assert_status(r, 200);
    snprintf(state, sizeof state, "%s", hjson_str(r->json, "state") ? hjson_str(r->json, "state") : "(null)");
  }
  http_response_free(r);
  return state;
}

/* Items of the members list as token sees it, filtered by state (NULL: none). */
static json_t *members_list(const char *gid, const char *token, const char *state) {
  return harness_list_all(
      state ? hpath("/v1/groups/%s/members?state=%s", gid, state) : hpath("/v1/groups/%s/members", gid), token);
}

static json_t *find_member(json_t *items, const char *mid) {
  size_t i;
  json_t *it;
  json_array_foreach(items, i, it) {
    if (strcmp(hjson_str(it, "member_id") ? hjson_str(it, "member_id") : "", mid) == 0)
      return it;
  }
  return NULL;
}

static char *new_group(const char *token, const char *site, int min, int max, char *gid) {
  json_decref(harness_new_group(token, site, min, max, gid));
  return gid;
}

/* ---------------------------------------------------------------- requests and invitations */

static void test_join_request_and_approval(void **state) {
  (void)state;
  char gid[HARNESS_ID_MAX];
  new_group(g_conv.token, g_site_a, 2, 8, gid);
  harness_account *p0 = &g_p[0], *p1 = &g_p[1], *p2 = &g_p[2];

  http_response *r = post_member(gid, p0->token, json_object());
  assert_status(r, 201);
  assert_header_equal(r, "Location", hpath("/v1/groups/%s/members/%s", gid, p0->id));
  assert_etag_matches_version(r);
  assert_json_str(r->json, "group_id", gid);
  assert_json_str(r->json, "member_id", p0->id);
  assert_json_str(r->json, "display_name", p0->display_name);
  assert_json_str(r->json, "state", "requested");
  assert_json_str(r->json, "role", "member");
  assert_json_str(r->json, "represents_group_id", NULL);
  assert_json_str(r->json, "represents_group_name", NULL);
  assert_json_str(r->json, "joined_at", NULL);
  assert_json_int(r->json, "accepted_terms_version", 0);
  http_response_free(r);
  assert_int_equal(member_count(gid), 1);

  /* The requester sees their own request, and the group shows it as theirs. */
  assert_string_equal(own_state(gid, p0), "requested");
  json_t *g = harness_group_get(gid, p0->token);
  assert_json_str(g, "my_membership.state", "requested");
  assert_json_str(g, "my_membership.role", "member");
  json_decref(g);

  /* Approval: not by the requester, a colleague, the site's manager, an admin, an ordinary member. */
  harness_group_join(gid, g_conv.token, p1);
  const harness_account *not_approvers[] = {p0, p1, p2, &g_mgr_a, &g_admin};
  for (int i = 0; i < 5; i++) {
    r = patch_membership(gid, p0->id, not_approvers[i]->token, json_pack("{s:s}", "state", "active"));
    if (r->status != 403)
      print_error("approval by %s (%s)\n", not_approvers[i]->id, not_approvers[i]->role);
    expect_problem(r, 403, "forbidden");
  }
  assert_string_equal(own_state(gid, p0), "requested");
  assert_int_equal(member_count(gid), 2);

  r = patch_membership(gid, p0->id, g_conv.token, json_pack("{s:s}", "state", "active"));
  assert_status(r, 200);
  assert_etag_matches_version(r);
  assert_json_str(r->json, "state", "active");
  assert_json_str(r->json, "role", "member");
  assert_true(harness_is_rfc3339_utc(hjson_str(r->json, "joined_at")));
  http_response_free(r);
  assert_int_equal(member_count(gid), 3);
  /* Approving again changes nothing. */
  r = patch_membership(gid, p0->id, g_conv.token, json_pack("{s:s}", "state", "active"));
  assert_status(r, 200);
  assert_json_str(r->json, "state", "active");
  http_response_free(r);
  assert_int_equal(member_count(gid), 3);

  assert_int_equal(harness_audit_count("membership.requested", gid, p0->id), 1);
  assert_int_equal(harness_audit_count("membership.activated", gid, p0->id), 1);
}

static void test_invitation_and_acceptance(void **state) {
  (void)state;
  char gid[HARNESS_ID_MAX];
  new_group(g_conv.token, g_site_a, 2, 8, gid);
  harness_account *p0 = &g_p[0], *p1 = &g_p[1], *p2 = &g_p[2], *p3 = &g_p[3];

  http_response *r = post_member(gid, g_conv.token, json_pack("{s:s}", "member_id", p0->id));
  assert_status(r, 201);
  assert_header_equal(r, "Location", hpath("/v1/groups/%s/members/%s", gid, p0->id));
  assert_json_str(r->json, "member_id", p0->id);
  assert_json_str(r->json, "state", "invited");
  assert_json_str(r->json, "role", "member");
  assert_json_str(r->json, "joined_at", NULL);
  http_response_free(r);
  assert_int_equal(member_count(gid), 1);
  json_t *g = harness_group_get(gid, p0->token);
  assert_json_str(g, "my_membership.state", "invited");
  json_decref(g);

  /* Accepting does not come with a role of one's choosing. */
  r = patch_membership(gid, p0->id, p0->token, json_pack("{s:s, s:s}", "state", "active", "role", "convener"));
  expect_problem(r, 403, "forbidden");
  r = get_membership(gid, p0->id, p0->token);
  assert_json_str(r->json, "state", "invited");
  assert_json_str(r->json, "role", "member");
  http_response_free(r);

  /* Only the invitee accepts: not the convener who invited, a colleague, the manager, an admin. */
  const harness_account *not_invitee[] = {&g_conv, p1, &g_mgr_a, &g_admin};
  for (int i = 0; i < 4; i++) {
    r = patch_membership(gid, p0->id, not_invitee[i]->token, json_pack("{s:s}", "state", "active"));
    if (r->status != 403)
      print_error("acceptance by %s (%s)\n", not_invitee[i]->id, not_invitee[i]->role);
    expect_problem(r, 403, "forbidden");
  }
  assert_string_equal(own_state(gid, p0), "invited");
  assert_int_equal(member_count(gid), 1);

  r = patch_membership(gid, p0->id, p0->token, json_pack("{s:s}", "state", "active"));
  assert_status(r, 200);
  assert_json_str(r->json, "state", "active");
  assert_true(harness_is_rfc3339_utc(hjson_str(r->json, "joined_at")));
  http_response_free(r);
  assert_int_equal(member_count(gid), 2);
  assert_int_equal(harness_audit_count("membership.invited", gid, p0->id), 1);
  assert_int_equal(harness_audit_count("membership.activated", gid, p0->id), 1);

  /* Invited as facilitator: once they accept, they lead (may invite). */
  harness_group_invite(gid, g_conv.token, p2->id, "facilitator");
  r = post_member(gid, p2->token, json_pack("{s:s}", "member_id", p3->id));
  expect_problem(r, 403, "forbidden"); /* not active yet */
  harness_group_activate(gid, p2->token, p2->id);
  r = get_membership(gid, p2->id, p2->token);
  assert_json_str(r->json, "role", "facilitator");
  http_response_free(r);
  harness_group_invite(gid, p2->token, p3->id, NULL);

  /* The convener role is not given by invitation; unknown roles are invalid. */
  const char *bad_roles[] = {"convener", "admin", "", "Member"};
  for (int i = 0; i < 4; i++) {
    r = post_member(gid, g_conv.token, json_pack("{s:s, s:s}", "member_id", p1->id, "role", bad_roles[i]));
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, "role");
    http_response_free(r);
  }
  assert_string_equal(own_state(gid, p1), "none");
}

static void test_nobody_becomes_active_without_consent(void **state) {
  (void)state;
  char gid[HARNESS_ID_MAX];
  new_group(g_conv.token, g_site_a, 2, 8, gid);
  harness_account *p0 = &g_p[0], *p1 = &g_p[1];

  /* No state (or other read-only field) in an invitation or a request. */
  struct {
    const char *token;
    json_t *body;
    const char *field;
  } cases[] = {
      {g_conv.token, json_pack("{s:s, s:s}", "member_id", p0->id, "state", "active"), "state"},
      {g_conv.token, json_pack("{s:s, s:s}", "member_id", p0->id, "state", "invited"), "state"},
      {g_conv.token, json_pack("{s:s, s:s}", "member_id", p0->id, "joined_at", "2026-01-01T00:00:00Z"), "joined_at"},
      {g_conv.token, json_pack("{s:s, s:i}", "member_id", p0->id, "version", 2), "version"},
      {g_conv.token, json_pack("{s:s, s:i}", "member_id", p0->id, "accepted_terms_version", 1),
       "accepted_terms_version"},
      {g_conv.token, json_pack("{s:s, s:s}", "member_id", p0->id, "colour", "blue"), "colour"},
      {p0->token, json_pack("{s:s}", "state", "active"), "state"},
      {p0->token, json_pack("{s:s}", "role", "convener"), "role"},
      {g_conv.token, json_pack("{s:i}", "member_id", 7), "member_id"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    http_response *r = post_member(gid, cases[i].token, cases[i].body);
    if (r->status != 400)
      print_error("case %zu\n", i);
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, cases[i].field);
    http_response_free(r);
  }
  assert_string_equal(own_state(gid, p0), "none");
  assert_int_equal(member_count(gid), 1);

  /* A leader cannot move a membership to any other state, nor activate someone without one. */
  harness_group_invite(gid, g_conv.token, p0->id, NULL);
  const char *bad_states[] = {"invited", "requested", "removed", "ACTIVE"};
  for (int i = 0; i < 4; i++) {
    http_response *r = patch_membership(gid, p0->id, g_conv.token, json_pack("{s:s}", "state", bad_states[i]));
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, "state");
    http_response_free(r);
  }
  http_response *r = patch_membership(gid, p1->id, g_conv.token, json_pack("{s:s}", "state", "active"));
  expect_problem(r, 404, "not-found");
  assert_string_equal(own_state(gid, p1), "none");
  /* A role for an invitation that is not accepted yet: only active memberships have roles changed. */
  r = patch_membership(gid, p0->id, g_conv.token, json_pack("{s:s}", "role", "facilitator"));
  expect_problem(r, 409, "conflict");
  /* The invitee cannot give themself a role either. */
  r = patch_membership(gid, p0->id, p0->token, json_pack("{s:s}", "role", "convener"));
  expect_problem(r, 403, "forbidden");
  assert_string_equal(own_state(gid, p0), "invited");
  assert_int_equal(member_count(gid), 1);
}

static void test_who_may_invite_and_be_invited(void **state) {
  (void)state;
  char gid[HARNESS_ID_MAX];
  new_group(g_conv.token, g_site_a, 2, 8, gid);
  harness_account *p0 = &g_p[0], *p1 = &g_p[1], *p2 = &g_p[2];
  harness_group_join(gid, g_conv.token, p0); /* an ordinary active member */
  harness_group_request(gid, p1->token);     /* a pending request */

  const harness_account *not_leaders[] = {p0, p1, &g_mgr_a, &g_admin};
  for (int i = 0; i < 4; i++) {
    http_response *r = post_member(gid, not_leaders[i]->token, json_pack("{s:s}", "member_id", p2->id));
    if (r->status != 403)
      print_error("invitation by %s (%s)\n", not_leaders[i]->id, not_leaders[i]->role);
    expect_problem(r, 403, "forbidden");
  }
  assert_string_equal(own_state(gid, p2), "none");

  /* A practitioner of another site can neither be invited (403) nor find the group to ask (404:
   * the group is invisible to them, so its id must not be confirmed). */
  http_response *r = post_member(gid, g_conv.token, json_pack("{s:s}", "member_id", g_pb.id));
  expect_problem(r, 403, "forbidden");
  r = post_member(gid, g_pb.token, json_object());
  expect_problem(r, 404, "not-found");
  r = post_member(gid, g_conv.token, json_pack("{s:s}", "member_id", g_mgr_b.id));
  expect_problem(r, 403, "forbidden");
  /* An admin sees every group but is not eligible to join a site group (no home site there). */
  r = post_member(gid, g_admin.token, json_object());
  expect_problem(r, 403, "forbidden");
  r = post_member(gid, g_conv.token, json_pack("{s:s}", "member_id", g_admin.id));
  expect_problem(r, 403, "forbidden");

  /* Unknown, malformed and suspended members -> 400 on member_id. */
  harness_account suspended;
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &suspended);
  r = http_json("PATCH", hpath("/v1/members/%s", suspended.id), g_admin.token,
                json_pack("{s:s}", "status", "suspended"));
  assert_status(r, 200);
  http_response_free(r);
  const char *bad_ids[] = {UNKNOWN_UUID, "nope", suspended.id};
  for (int i = 0; i < 3; i++) {
    r = post_member(gid, g_conv.token, json_pack("{s:s}", "member_id", bad_ids[i]));
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, "member_id");
    http_response_free(r);
  }

  /* A network facilitator from another site may be invited, sees the group while invited,
   * but not its inner life until they accept. */
  harness_group_invite(gid, g_conv.token, g_fb.id, NULL);
  json_t *g = harness_group_get(gid, g_fb.token);
  assert_json_str(g, "my_membership.state", "invited");
  json_decref(g);
  r = http_get(hpath("/v1/groups/%s/members", gid), g_fb.token);
  expect_problem(r, 403, "forbidden");
  if (!harness_list_contains("/v1/groups?mine=true", g_fb.token, "id", gid) ||
      !harness_list_contains("/v1/groups", g_fb.token, "id", gid))
    harness_fail("invited facilitator %s does not find group %s in the directory", g_fb.id, gid);
  harness_group_activate(gid, g_fb.token, g_fb.id);
  r = http_get(hpath("/v1/groups/%s/members", gid), g_fb.token);
  assert_status(r, 200);
  http_response_free(r);
  /* Having left, the group of another site is invisible again. */
  r = delete_membership(gid, g_fb.id, g_fb.token);
  assert_status(r, 204);
  http_response_free(r);
  r = http_get(hpath("/v1/groups/%s", gid), g_fb.token);
  expect_problem(r, 404, "not-found");
  r = http_get(hpath("/v1/groups/%s/members/%s", gid, g_fb.id), g_fb.token);
  expect_problem(r, 404, "not-found");
  if (harness_list_contains("/v1/groups", g_fb.token, "id", gid))
    harness_fail("facilitator %s still lists group %s of another site after leaving it", g_fb.id, gid);

  /* The manager of the group's site may ask to join it. */
  harness_group_request(gid, g_mgr_a.token);

  /* Network-wide groups: any member may be invited or ask. */
  char gn[HARNESS_ID_MAX];
  new_group(g_admin.token, NULL, 2, 8, gn);
  harness_group_invite(gn, g_admin.token, g_pb.id, NULL);
  harness_group_request(gn, p0->token);
  harness_group_request(gn, g_mgr_b.token);
}

static void test_duplicates_are_409(void **state) {
  (void)state;
  char gid[HARNESS_ID_MAX];
  new_group(g_conv.token, g_site_a, 2, 8, gid);
  harness_account *p0 = &g_p[0], *p1 = &g_p[1], *p2 = &g_p[2];
  harness_group_request(gid, p0->token);
  harness_group_invite(gid, g_conv.token, p1->id, NULL);
  harness_group_join(gid, g_conv.token, p2);
  const harness_account *existing[] = {p0, p1, p2, &g_conv};
  for (int i = 0; i < 4; i++) {
    http_response *r = post_member(gid, existing[i]->token, json_object());
    expect_problem(r, 409, "conflict");
    r = post_member(gid, g_conv.token, json_pack("{s:s}", "member_id", existing[i]->id));
    expect_problem(r, 409, "conflict");
  }
  assert_string_equal(own_state(gid, p0), "requested");
  assert_string_equal(own_state(gid, p1), "invited");
  assert_string_equal(own_state(gid, p2), "active");
  assert_int_equal(member_count(gid), 2);
  assert_int_equal(harness_audit_count("membership.requested", gid, p0->id), 1);
  assert_int_equal(harness_audit_count("membership.invited", gid, p1->id), 1);
}

/* ---------------------------------------------------------------- max_members */

static void test_max_members(void **state) {
  (void)state;
  char gid[HARNESS_ID_MAX];
  new_group(g_conv.token, g_site_a, 2, 4, gid);
  harness_group_join(gid, g_conv.token, &g_p[0]);
  harness_group_join(gid, g_conv.token, &g_p[1]);
  harness_group_invite(gid, g_conv.token, g_p[2].id, NULL);
  harness_group_activate(gid, g_p[2].token, g_p[2].id);
  assert_int_equal(member_count(gid), 4);

  /* Asking and inviting are fine when full; becoming active is not. */
  harness_group_request(gid, g_p[3].token);
  harness_group_invite(gid, g_conv.token, g_p[4].id, NULL);
  http_response *r = patch_membership(gid, g_p[3].id, g_conv.token, json_pack("{s:s}", "state", "active"));
  expect_problem(r, 409, "conflict");
  r = patch_membership(gid, g_p[4].id, g_p[4].token, json_pack("{s:s}", "state", "active"));
  expect_problem(r, 409, "conflict");
  assert_string_equal(own_state(gid, &g_p[3]), "requested");
  assert_string_equal(own_state(gid, &g_p[4]), "invited");
  assert_int_equal(member_count(gid), 4);
  json_t *active = members_list(gid, g_conv.token, "active");
  assert_int_equal(json_array_size(active), 4);
  json_decref(active);

  /* A place frees up: the request can now be approved, and the group is full again. */
  r = delete_membership(gid, g_p[0].id, g_p[0].token);
  assert_status(r, 204);
  http_response_free(r);
  assert_int_equal(member_count(gid), 3);
  harness_group_activate(gid, g_conv.token, g_p[3].id);
  assert_int_equal(member_count(gid), 4);
  r = patch_membership(gid, g_p[4].id, g_p[4].token, json_pack("{s:s}", "state", "active"));
  expect_problem(r, 409, "conflict");
}

typedef struct taker {
  const char *gid;
  const char *member_id;
  const char *token; /* the leader approving, or the invitee accepting */
  pthread_barrier_t *barrier;
  long status;
  char body[512];
} taker;

static void *taker_main(void *arg) {
  taker *t = arg;
  pthread_barrier_wait(t->barrier);
  http_response *r = http_json("PATCH", hpath("/v1/groups/%s/members/%s", t->gid, t->member_id), t->token,
                               json_pack("{s:s}", "state", "active"));
  t->status = r->status;
  snprintf(t->body, sizeof t->body, "%s", r->body ? r->body : "");
  http_response_free(r);
  return NULL;
}

/* Two pending members, one free place, both activated at the same moment: exactly one wins. */
static void race_for_last_place(bool invitations) {
  for (int round = 0; round < 4; round++) {
    char gid[HARNESS_ID_MAX];
    new_group(g_conv.token, g_site_a, 2, 3, gid);
    harness_group_join(gid, g_conv.token, &g_p[0]);
    harness_account *a = &g_p[1], *b = &g_p[2];
    if (invitations) {
      harness_group_invite(gid, g_conv.token, a->id, NULL);
      harness_group_invite(gid, g_conv.token, b->id, NULL);
    } else {
      harness_group_request(gid, a->token);
      harness_group_request(gid, b->token);
    }
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    taker ta = {gid, a->id, invitations ? a->token : g_conv.token, &barrier, 0, ""};
    taker tb = {gid, b->id, invitations ? b->token : g_conv.token, &barrier, 0, ""};
    pthread_t tha, thb;
    pthread_create(&tha, NULL, taker_main, &ta);
    pthread_create(&thb, NULL, taker_main, &tb);
    pthread_join(tha, NULL);
    pthread_join(thb, NULL);
    pthread_barrier_destroy(&barrier);
    bool one_each = (ta.status == 200 && tb.status == 409) || (ta.status == 409 && tb.status == 200);
    if (!one_each)
      harness_fail("round %d (%s): two activations for the last place got %ld and %ld, expected one 200 and one "
                   "409\n  A: %s\n  B: %s",
                   round, invitations ? "acceptances" : "approvals", ta.status, tb.status, ta.body, tb.body);
    assert_int_equal(member_count(gid), 3);
    json_t *active = members_list(gid, g_conv.token, "active");
    assert_int_equal(json_array_size(active), 3);
    json_decref(active);
    const harness_account *loser = ta.status == 409 ? a : b;
    const harness_account *winner = ta.status == 409 ? b : a;
    assert_string_equal(own_state(gid, loser), invitations ? "invited" : "requested");
    assert_string_equal(own_state(gid, winner), "active");
    assert_int_equal(harness_audit_count("membership.activated", gid, loser->id), 0);
    assert_int_equal(harness_audit_count("membership.activated", gid, winner->id), 1);
  }
}

static void test_concurrent_approvals_for_last_place(void **state) {
  (void)state;
  race_for_last_place(false);
}

static void test_concurrent_acceptances_for_last_place(void **state) {
  (void)state;
  race_for_last_place(true);
}

static void race_req(harness_race_req *q, const char *method, const char *path, const char *token, json_t *body) {
  memset(q, 0, sizeof *q);
  q->method = method;
  snprintf(q->path, sizeof q->path, "%s", path);
  q->token = token;
  q->body = body;
}

/* Exactly one of the two got `won`, the other `lost`; returns the index of the winner. */
static int one_each(const harness_race_req *q, long won, long lost, const char *what, int round) {
  if (q[0].status == won && q[1].status == lost)
    return 0;
  if (q[0].status == lost && q[1].status == won)
    return 1;
  harness_fail("round %d, %s: got %ld and %ld, expected one %ld and one %ld\n  A: %s\n  B: %s", round, what,
               q[0].status, q[1].status, won, lost, q[0].response, q[1].response);
  return -1;
}

/* The same member asking twice at once, or asking while being invited: one membership. */
static void test_concurrent_duplicate_memberships(void **state) {
  (void)state;
  for (int round = 0; round < 4; round++) {
    char gid[HARNESS_ID_MAX];
    new_group(g_conv.token, g_site_a, 2, 8, gid);
    harness_race_req q[2];
    const char *path = hpath("/v1/groups/%s/members", gid);
    race_req(&q[0], "POST", path, g_p[0].token, json_object());
    race_req(&q[1], "POST", path, g_p[0].token, json_object());
    harness_race(q, 2);
    one_each(q, 201, 409, "two identical join requests", round);
    race_req(&q[0], "POST", path, g_p[1].token, json_object());
    race_req(&q[1], "POST", path, g_conv.token, json_pack("{s:s}", "member_id", g_p[1].id));
    harness_race(q, 2);
    int w = one_each(q, 201, 409, "a join request and an invitation of the same member", round);
    assert_string_equal(own_state(gid, &g_p[1]), w == 0 ? "requested" : "invited");
    json_t *all = members_list(gid, g_conv.token, NULL);
    assert_int_equal(json_array_size(all), 3);
    json_decref(all);
  }
}

/* Two leaders leaving, stepping down, removing or demoting each other at once while an ordinary
 * member remains: one of them always stays a leader. */
static void test_concurrent_last_leaders(void **state) {
  (void)state;
  const char *modes[] = {"both leave", "both step down", "each removes the other", "each demotes the other"};
  for (int round = 0; round < 8; round++) {
    int mode = round % 4;
    char gid[HARNESS_ID_MAX];
    new_group(g_conv.token, g_site_a, 2, 8, gid);
    harness_group_join(gid, g_conv.token, &g_p[0]);
    harness_group_join(gid, g_conv.token, &g_p[1]);
    harness_group_set_role(gid, g_conv.token, g_p[0].id, "facilitator");
    harness_race_req q[2];
    const harness_account *leaders[] = {&g_conv, &g_p[0]};
    for (int i = 0; i < 2; i++) {
      const harness_account *target = mode < 2 ? leaders[i] : leaders[1 - i];
      const char *path = hpath("/v1/groups/%s/members/%s", gid, target->id);
      if (mode % 2 == 1)
        race_req(&q[i], "PATCH", path, leaders[i]->token, json_pack("{s:s}", "role", "member"));
      else
        race_req(&q[i], "DELETE", path, leaders[i]->token, NULL);
    }
    harness_race(q, 2);
    long ok = mode % 2 == 1 ? 200 : 204;
    /* The loser is refused: the last leader (409), or no longer a leader at all (403). */
    bool one_ok = (q[0].status == ok) != (q[1].status == ok);
    long refused = q[0].status == ok ? q[1].status : q[0].status;
    if (!one_ok || (refused != 409 && refused != 403))
      harness_fail("round %d (%s): got %ld and %ld, expected one %ld and one 409 or 403\n  A: %s\n  B: %s", round,
                   modes[mode], q[0].status, q[1].status, ok, q[0].response, q[1].response);
    json_t *active = members_list(gid, g_p[1].token, "active");
    int n_leaders = 0;
    size_t i;
    json_t *it;
    json_array_foreach(active, i, it) {
      const char *role = hjson_str(it, "role");
      if (role && (strcmp(role, "convener") == 0 || strcmp(role, "facilitator") == 0))
        n_leaders++;
    }
    if (n_leaders != 1)
      harness_fail("round %d (%s): %d leaders left among %s", round, modes[mode], n_leaders,
                   json_dumps(active, JSON_COMPACT));
    json_decref(active);
  }
}

/* Shrinking max_members while the last place is being taken: never more members than places. */
static void test_concurrent_shrink_and_approval(void **state) {
  (void)state;
  for (int round = 0; round < 4; round++) {
    char gid[HARNESS_ID_MAX];
    new_group(g_conv.token, g_site_a, 2, 3, gid);
    harness_group_join(gid, g_conv.token, &g_p[0]);
    harness_group_request(gid, g_p[1].token);
    harness_race_req q[2];
    race_req(&q[0], "PATCH", hpath("/v1/groups/%s", gid), g_conv.token, json_pack("{s:i}", "max_members", 2));
    race_req(&q[1], "PATCH", hpath("/v1/groups/%s/members/%s", gid, g_p[1].id), g_conv.token,
             json_pack("{s:s}", "state", "active"));
    harness_race(q, 2);
    one_each(q, 200, 409, "max_members 3 -> 2 and approving the third member", round);
    json_t *g = harness_group_get(gid, g_conv.token);
    json_int_t count = harness_json_int_at(g, "member_count", __FILE__, __LINE__);
    json_int_t max = harness_json_int_at(g, "max_members", __FILE__, __LINE__);
    if (count > max)
      harness_fail("round %d: member_count %" JSON_INTEGER_FORMAT " > max_members %" JSON_INTEGER_FORMAT, round, count,
                   max);
    json_decref(g);
  }
}

/* ---------------------------------------------------------------- leaving, removal, roles */

static void test_leave_and_remove(void **state) {
  (void)state;
  char gid[HARNESS_ID_MAX];
  new_group(g_conv.token, g_site_a, 2, 8, gid);
  for (int i = 0; i < 4; i++)
    harness_group_join(gid, g_conv.token, &g_p[i]);
  assert_int_equal(member_count(gid), 5);

  /* Leave. */
  http_response *r = delete_membership(gid, g_p[0].id, g_p[0].token);
  assert_status(r, 204);
  assert_int_equal(r->body_len, 0);
  http_response_free(r);
  assert_int_equal(member_count(gid), 4);
  assert_string_equal(own_state(gid, &g_p[0]), "none");
  json_t *g = harness_group_get(gid, g_p[0].token);
  assert_json_str(g, "my_membership", NULL);
  json_decref(g);
  r = http_get(hpath("/v1/groups/%s/members", gid), g_p[0].token);
  expect_problem(r, 403, "forbidden");

  /* Removal by the convener. */
  r = delete_membership(gid, g_p[1].id, g_conv.token);
  assert_status(r, 204);
  http_response_free(r);
  assert_int_equal(member_count(gid), 3);
  assert_string_equal(own_state(gid, &g_p[1]), "none");

  /* Not by an ordinary member, the site's manager or an admin; 404 for someone who cannot see it. */
  const harness_account *forbidden[] = {&g_p[2], &g_mgr_a, &g_admin, &g_p[4]};
  for (int i = 0; i < 4; i++) {
    r = delete_membership(gid, g_p[3].id, forbidden[i]->token);
    if (r->status != 403)
      print_error("removal by %s (%s)\n", forbidden[i]->id, forbidden[i]->role);
    expect_problem(r, 403, "forbidden");
  }
  r = delete_membership(gid, g_p[3].id, g_pb.token);
  expect_problem(r, 404, "not-found");
  assert_string_equal(own_state(gid, &g_p[3]), "active");
  assert_int_equal(member_count(gid), 3);

  /* Withdrawing a request, declining an invitation; no membership -> 404. */
  harness_group_request(gid, g_p[4].token);
  harness_group_invite(gid, g_conv.token, g_p[5].id, NULL);
  r = delete_membership(gid, g_p[4].id, g_p[4].token);
  assert_status(r, 204);
  http_response_free(r);
  r = delete_membership(gid, g_p[5].id, g_p[5].token);
  assert_status(r, 204);
  http_response_free(r);
  assert_string_equal(own_state(gid, &g_p[4]), "none");
  assert_string_equal(own_state(gid, &g_p[5]), "none");
  r = delete_membership(gid, g_p[0].id, g_conv.token);
  expect_problem(r, 404, "not-found");
  assert_int_equal(member_count(gid), 3);

  /* Having left, one may ask again. */
  harness_group_request(gid, g_p[0].token);

  assert_int_equal(harness_audit_count("membership.left", gid, g_p[0].id), 1);
  assert_int_equal(harness_audit_count("membership.removed", gid, g_p[1].id), 1);
  assert_int_equal(harness_audit_count("membership.removed", gid, g_p[3].id), 0);
}

static json_t *membership_json(const char *gid, const char *mid, const char *token, char *etag_out) {
  http_response *r = get_membership(gid, mid, token);
  assert_status(r, 200);
  assert_etag_matches_version(r);
  if (etag_out)
    snprintf(etag_out, 32, "%s", http_header(r, "ETag"));
  json_t *m = json_incref(r->json);
  http_response_free(r);
  return m;
}

static void test_roles_and_the_last_leader(void **state) {
  (void)state;
  char gid[HARNESS_ID_MAX];
  new_group(g_conv.token, g_site_a, 2, 8, gid);
  harness_account *p0 = &g_p[0], *p1 = &g_p[1];
  harness_group_join(gid, g_conv.token, p0);
  harness_group_request(gid, p1->token);

  /* The only leader can neither leave nor step down while others are active members. */
  http_response *r = delete_membership(gid, g_conv.id, g_conv.token);
  expect_problem(r, 409, "conflict");
  r = patch_membership(gid, g_conv.id, g_conv.token, json_pack("{s:s}", "role", "member"));
  expect_problem(r, 409, "conflict");
  r = patch_membership(gid, g_conv.id, g_conv.token, json_pack("{s:s}", "role", "representative"));
  expect_problem(r, 409, "conflict");
  json_t *m = membership_json(gid, g_conv.id, g_conv.token, NULL);
  assert_json_str(m, "state", "active");
  assert_json_str(m, "role", "convener");
  json_decref(m);
  assert_int_equal(member_count(gid), 2);

  /* An ordinary member changes no roles, least of all their own. */
  r = patch_membership(gid, p0->id, p0->token, json_pack("{s:s}", "role", "convener"));
  expect_problem(r, 403, "forbidden");
  r = patch_membership(gid, p0->id, p0->token, json_pack("{s:s}", "role", "facilitator"));
  expect_problem(r, 403, "forbidden");
  r = patch_membership(gid, g_conv.id, p0->token, json_pack("{s:s}", "role", "member"));
  expect_problem(r, 403, "forbidden");
  r = patch_membership(gid, p0->id, g_mgr_a.token, json_pack("{s:s}", "role", "facilitator"));
  expect_problem(r, 403, "forbidden");
  r = patch_membership(gid, p0->id, g_admin.token, json_pack("{s:s}", "role", "facilitator"));
  expect_problem(r, 403, "forbidden");
  /* Roles of memberships that are not active -> 409; unknown roles -> 400. */
  r = patch_membership(gid, p1->id, g_conv.token, json_pack("{s:s}", "role", "facilitator"));
  expect_problem(r, 409, "conflict");
  r = patch_membership(gid, p0->id, g_conv.token, json_pack("{s:s}", "role", "admin"));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "role");
  http_response_free(r);
  m = membership_json(gid, p0->id, g_conv.token, NULL);
  assert_json_str(m, "role", "member");
  json_decref(m);

  /* If-Match on the membership's version. */
  char etag[32];
  m = membership_json(gid, p0->id, g_conv.token, etag);
  json_int_t v = hjson_version(m);
  json_decref(m);
  char stale[48];
  snprintf(stale, sizeof stale, "If-Match: \"%" JSON_INTEGER_FORMAT "\"", v + 1);
  const char *const stale_h[] = {stale, NULL};
  r = http_json_with_headers("PATCH", hpath("/v1/groups/%s/members/%s", gid, p0->id), g_conv.token,
                             json_pack("{s:s}", "role", "facilitator"), stale_h);
  expect_problem(r, 412, "precondition-failed");
  char current[48];
  snprintf(current, sizeof current, "If-Match: %s", etag);
  const char *const current_h[] = {current, NULL};
  r = http_json_with_headers("PATCH", hpath("/v1/groups/%s/members/%s", gid, p0->id), g_conv.token,
                             json_pack("{s:s}", "role", "facilitator"), current_h);
  assert_status(r, 200);
  assert_json_str(r->json, "role", "facilitator");
  assert_json_int(r->json, "version", v + 1);
  assert_etag_matches_version(r);
  http_response_free(r);

  /* With a second leader, the convener may step down; the facilitator is then the last leader. */
  harness_group_set_role(gid, g_conv.token, g_conv.id, "member");
  r = patch_membership(gid, p0->id, p0->token, json_pack("{s:s}", "role", "member"));
  expect_problem(r, 409, "conflict");
  r = delete_membership(gid, p0->id, p0->token);
  expect_problem(r, 409, "conflict");
  r = patch_membership(gid, g_conv.id, g_conv.token, json_pack("{s:s}", "role", "convener"));
  expect_problem(r, 403, "forbidden"); /* a member cannot raise their own role */
  harness_group_set_role(gid, p0->token, g_conv.id, "convener");
  harness_group_set_role(gid, g_conv.token, p0->id, "representative");

  /* Leaders only remove others; the convener alone may leave the group it led. */
  r = delete_membership(gid, p0->id, g_conv.token);
  assert_status(r, 204);
  http_response_free(r);
  r = delete_membership(gid, g_conv.id, g_conv.token);
  assert_status(r, 204);
  http_response_free(r);
  json_t *g = harness_group_get(gid, g_admin.token);
  assert_json_int(g, "member_count", 0);
  json_decref(g);

  if (harness_audit_count("membership.role_changed", gid, p0->id) < 2)
    harness_fail("expected membership.role_changed audit rows for %s in %s", p0->id, gid);
  if (harness_audit_count("membership.role_changed", gid, g_conv.id) < 2)
    harness_fail("expected membership.role_changed audit rows for %s in %s", g_conv.id, gid);
}

/* ---------------------------------------------------------------- who sees the members */

static void test_members_list_visibility(void **state) {
  (void)state;
  char gid[HARNESS_ID_MAX];
  new_group(g_conv.token, g_site_a, 2, 8, gid);
  harness_account *p0 = &g_p[0], *p1 = &g_p[1], *p2 = &g_p[2], *p3 = &g_p[3];
  harness_group_join(gid, g_conv.token, p0);
  harness_group_request(gid, p1->token);
  harness_group_invite(gid, g_conv.token, p2->id, NULL);

  /* Active members see the list, with names, states and roles. */
  const harness_account *active_members[] = {&g_conv, p0};
  for (int i = 0; i < 2; i++) {
    json_t *active = members_list(gid, active_members[i]->token, "active");
    assert_int_equal(json_array_size(active), 2);
    json_t *c = find_member(active, g_conv.id), *m0 = find_member(active, p0->id);
    assert_non_null(c);
    assert_non_null(m0);
    assert_json_str(c, "display_name", g_conv.display_name);
    assert_json_str(c, "role", "convener");
    assert_json_str(m0, "display_name", p0->display_name);
    assert_json_str(m0, "role", "member");
    assert_json_str(m0, "state", "active");
    assert_json_str(m0, "group_id", gid);
    json_decref(active);
  }
  json_t *requested = members_list(gid, g_conv.token, "requested");
  assert_int_equal(json_array_size(requested), 1);
  assert_non_null(find_member(requested, p1->id));
  json_decref(requested);
  json_t *invited = members_list(gid, p0->token, "invited");
  assert_int_equal(json_array_size(invited), 1);
  assert_non_null(find_member(invited, p2->id));
  json_decref(invited);
  json_t *all = members_list(gid, g_conv.token, NULL);
  assert_non_null(find_member(all, g_conv.id));
  assert_non_null(find_member(all, p0->id));
  json_decref(all);
  /* A cursor walk one by one gives the same members. */
  json_t *one_by_one =
      harness_list_all_at(hpath("/v1/groups/%s/members?state=active", gid), g_conv.token, 1, __FILE__, __LINE__);
  assert_int_equal(json_array_size(one_by_one), 2);
  json_decref(one_by_one);
  http_response *r = http_get(hpath("/v1/groups/%s/members?state=bogus", gid), g_conv.token);
  expect_problem(r, 400, "invalid-request");

  /* Who can see the group but is not an active member: 403, also for its site's manager and
   * an admin.  Who cannot see it: 404.  Neither answer names a member. */
  struct {
    const harness_account *who;
    long status;
  } cases[] = {{p1, 403}, {p2, 403}, {p3, 403}, {&g_mgr_a, 403}, {&g_admin, 403}, {&g_pb, 404}, {&g_mgr_b, 404}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *paths[] = {hpath("/v1/groups/%s/members", gid), hpath("/v1/groups/%s/members?state=active", gid),
                           hpath("/v1/groups/%s/members/%s", gid, p0->id),
                           hpath("/v1/groups/%s/members/%s", gid, g_conv.id)};
    char copies[4][256];
    for (int k = 0; k < 4; k++)
      snprintf(copies[k], sizeof copies[k], "%s", paths[k]);
    for (int k = 0; k < 4; k++) {
      r = http_get(copies[k], cases[i].who->token);
      if (r->status != cases[i].status)
        print_error("caller %s (%s)\n", cases[i].who->id, cases[i].who->role);
      assert_problem(r, cases[i].status);
      if (strstr(r->body, p0->display_name) || strstr(r->body, g_conv.display_name))
        harness_fail("a refusal names a member: %s", r->body);
      http_response_free(r);
    }
    /* No 304 confirming a membership either. */
    const char *const inm[] = {"If-None-Match: \"1\"", NULL};
    r = http_get_with_headers(hpath("/v1/groups/%s/members/%s", gid, p0->id), cases[i].who->token, inm);
    assert_problem(r, cases[i].status);
    http_response_free(r);
  }

  /* Everyone with a membership reads their own, whatever its state. */
  json_t *m = membership_json(gid, p1->id, p1->token, NULL);
  assert_json_str(m, "state", "requested");
  json_decref(m);
  m = membership_json(gid, p2->id, p2->token, NULL);
  assert_json_str(m, "state", "invited");
  json_decref(m);
  /* Active members read other single memberships, pending ones included. */
  m = membership_json(gid, p1->id, p0->token, NULL);
  assert_json_str(m, "state", "requested");
  json_decref(m);
  /* A pending member does not read another pending membership. */
  r = get_membership(gid, p2->id, p1->token);
  expect_problem(r, 403, "forbidden");
  /* An unknown membership of a visible group. */
  r = get_membership(gid, p3->id, g_conv.token);
  expect_problem(r, 404, "not-found");
  r = get_membership(gid, "not-a-uuid", g_conv.token);
  expect_problem(r, 404, "not-found");
}

/* ---------------------------------------------------------------- representatives */

static json_t *central_entry(const char *central, const char *mid) {
  json_t *items = members_list(central, g_admin.token, NULL);
  json_t *e = find_member(items, mid);
  if (!e)
    harness_fail("member %s missing from the members of central group %s", mid, central);
  json_incref(e);
  json_decref(items);
  return e;
}

static void test_representatives_in_the_central_group(void **state) {
  (void)state;
  char ga[HARNESS_ID_MAX], ga2[HARNESS_ID_MAX], central[HARNESS_ID_MAX];
  json_t *group_a = harness_new_group(g_conv.token, g_site_a, 2, 8, ga);
  char ga_name[256];
  snprintf(ga_name, sizeof ga_name, "%s", hjson_str(group_a, "name"));
  json_decref(group_a);
  new_group(g_conv.token, g_site_a, 2, 8, ga2);
  new_group(g_admin.token, NULL, 2, 20, central);
  harness_account *rep = &g_p[0], *plain = &g_p[1], *rep2 = &g_p[2];
  harness_group_join(ga, g_conv.token, rep);
  harness_group_join(ga, g_conv.token, plain);
  harness_group_join(ga, g_conv.token, rep2);
  harness_group_set_role(ga, g_conv.token, rep->id, "representative");
  harness_group_set_role(ga, g_conv.token, rep2->id, "representative");

  /* The representative asks to join the central group for group A. */
  http_response *r = post_member(central, rep->token, json_pack("{s:s}", "represents_group_id", ga));
  assert_status(r, 201);
  assert_json_str(r->json, "state", "requested");
  assert_json_str(r->json, "represents_group_id", ga);
  http_response_free(r);
  harness_group_activate(central, g_admin.token, rep->id);
  json_t *e = central_entry(central, rep->id);
  assert_json_str(e, "represents_group_id", ga);
  assert_json_str(e, "represents_group_name", ga_name);
  assert_json_str(e, "state", "active");
  json_decref(e);

  /* Invited for group A by the central group's convener. */
  r = post_member(central, g_admin.token, json_pack("{s:s, s:s}", "member_id", rep2->id, "represents_group_id", ga));
  assert_status(r, 201);
  assert_json_str(r->json, "represents_group_id", ga);
  http_response_free(r);
  harness_group_activate(central, rep2->token, rep2->id);

  /* Speaking for a group one does not represent, a network group, an unknown group; or naming a
   * represented group when joining a site group -> 400 on represents_group_id. */
  struct {
    const char *target;
    const harness_account *who;
    const char *represents;
  } bad[] = {
      {central, plain, ga},                                                     /* an ordinary member of A */
      {central, &g_p[3], ga},                                                   /* no member of A at all */
      {central, plain, central},                                                /* not a site group */
      {central, plain, UNKNOWN_UUID}, {central, plain, "nope"}, {ga2, rep, ga}, /* the target is a site group */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    r = post_member(bad[i].target, bad[i].who->token, json_pack("{s:s}", "represents_group_id", bad[i].represents));
    if (r->status != 400)
      print_error("case %zu\n", i);
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, "represents_group_id");
    http_response_free(r);
  }
  r = post_member(central, g_admin.token, json_pack("{s:s, s:s}", "member_id", plain->id, "represents_group_id", ga));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "represents_group_id");
  http_response_free(r);
  assert_string_equal(own_state(central, plain), "none");

  /* When the representation ends, the central group stops naming group A. */
  r = delete_membership(ga, rep->id, rep->token);
  assert_status(r, 204);
  http_response_free(r);
  e = central_entry(central, rep->id);
  assert_json_str(e, "state", "active");
  assert_json_str(e, "represents_group_id", NULL);
  assert_json_str(e, "represents_group_name", NULL);
  json_decref(e);
  r = get_membership(central, rep->id, rep->token);
  assert_status(r, 200);
  assert_json_str(r->json, "represents_group_id", NULL);
  http_response_free(r);

  harness_group_set_role(ga, g_conv.token, rep2->id, "member");
  e = central_entry(central, rep2->id);
  assert_json_str(e, "represents_group_id", NULL);
  assert_json_str(e, "represents_group_name", NULL);
  json_decref(e);
  /* ... and cannot be named again while they do not represent it. */
  r = patch_membership(central, rep2->id, rep2->token, json_pack("{s:s}", "represents_group_id", ga));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "represents_group_id");
  http_response_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_join_request_and_approval),
      cmocka_unit_test(test_invitation_and_acceptance),
      cmocka_unit_test(test_nobody_becomes_active_without_consent),
      cmocka_unit_test(test_who_may_invite_and_be_invited),
      cmocka_unit_test(test_duplicates_are_409),
      cmocka_unit_test(test_max_members),
      cmocka_unit_test(test_concurrent_approvals_for_last_place),
      cmocka_unit_test(test_concurrent_acceptances_for_last_place),
      cmocka_unit_test(test_concurrent_duplicate_memberships),
      cmocka_unit_test(test_concurrent_last_leaders),
      cmocka_unit_test(test_concurrent_shrink_and_approval),
      cmocka_unit_test(test_leave_and_remove),
      cmocka_unit_test(test_roles_and_the_last_leader),
      cmocka_unit_test(test_members_list_visibility),
      cmocka_unit_test(test_representatives_in_the_central_group),
  };
  return cmocka_run_group_tests_name("e2e_memberships", tests, group_setup, harness_suite_teardown);
}
