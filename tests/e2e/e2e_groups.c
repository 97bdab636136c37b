/*
 * e2e_groups.c — API.md section 5 (groups) and section 2 (who sees what) against the real server:
 * proposing a group (the proposer becomes its active convener) at the home site, elsewhere and
 * network-wide, validation and read-only fields, the directory as each role sees it (404 for
 * groups one may not see), ?mine= / ?status= / ?site_id= filters and a cursor walk, PATCH rules
 * (leaders only, If-Match, member_count, status), and closing (who may, and that a closed group
 * accepts no membership, terms or meeting changes but stays readable).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNKNOWN_UUID "00000000-0000-4000-8000-000000000000"

static harness_account g_admin;
static char g_site_a[HARNESS_ID_MAX], g_site_b[HARNESS_ID_MAX];
/* Site A: three practitioners, a facilitator and a manager; site B: a practitioner and a manager. */
static harness_account g_pa, g_pa2, g_pa3, g_fa, g_mgr_a, g_pb, g_mgr_b;

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_new_site_id(g_admin.token, g_site_a);
  harness_new_site_id(g_admin.token, g_site_b);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &g_pa);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &g_pa2);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &g_pa3);
  harness_new_member_quick(g_admin.token, "facilitator", g_site_a, &g_fa);
  harness_new_manager_quick(g_admin.token, g_site_a, &g_mgr_a);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_b, &g_pb);
  harness_new_manager_quick(g_admin.token, g_site_b, &g_mgr_b);
  return 0;
}

static http_response *post_group(const char *token, json_t *body) {
  return http_json("POST", "/v1/groups", token, body);
}

static http_response *patch_group(const char *id, const char *token, json_t *body) {
  return http_json("PATCH", hpath("/v1/groups/%s", id), token, body);
}

static http_response *patch_group_if_match(const char *id, const char *token, json_t *body, const char *etag) {
  char h[64];
  snprintf(h, sizeof h, "If-Match: %s", etag);
  const char *const headers[] = {h, NULL};
  return http_json_with_headers("PATCH", hpath("/v1/groups/%s", id), token, body, headers);
}

static http_response *delete_group(const char *id, const char *token) {
  return http_request("DELETE", hpath("/v1/groups/%s", id), token, NULL, NULL, NULL);
}

static json_t *named_group_body(const char *site_id, char *name_out) {
  harness_unique("Named", name_out);
  json_t *body = json_pack("{s:s}", "name", name_out);
  if (site_id)
    json_object_set_new(body, "site_id", json_string(site_id));
  return body;
}

static const char *group_status(const char *id, const char *token) {
  static _Thread_local char status[32];
  json_t *g = harness_group_get(id, token);
  snprintf(status, sizeof status, "%s", hjson_str(g, "status") ? hjson_str(g, "status") : "(none)");
  json_decref(g);
  return status;
}

static size_t list_size(const char *path, const char *token) {
  json_t *all = harness_list_all(path, token);
  size_t n = json_array_size(all);
  json_decref(all);
  return n;
}

/* ---------------------------------------------------------------- proposing */

static void test_practitioner_proposes_at_home_site(void **state) {
  (void)state;
  char name[HARNESS_NAME_MAX];
  json_t *body = named_group_body(g_site_a, name);
  json_object_set_new(body, "purpose", json_string("Peer support for ward nurses"));
  http_response *r = post_group(g_pa.token, body);
  assert_status(r, 201);
  const char *id = hjson_str(r->json, "id");
  assert_true(harness_is_uuid(id));
  char gid[HARNESS_ID_MAX];
  snprintf(gid, sizeof gid, "%s", id);
  assert_header_equal(r, "Location", hpath("/v1/groups/%s", gid));
  assert_etag_matches_version(r);
  assert_json_str(r->json, "site_id", g_site_a);
  assert_json_str(r->json, "name", name);
  assert_json_str(r->json, "purpose", "Peer support for ward nurses");
  assert_json_str(r->json, "composition", "multi_disciplinary");
  assert_json_str(r->json, "focus", "other");
  assert_json_int(r->json, "min_members", 4);
  assert_json_int(r->json, "max_members", 8);
  assert_json_str(r->json, "status", "forming");
  assert_json_int(r->json, "member_count", 1);
  assert_json_int(r->json, "terms_version", 0);
  assert_json_str(r->json, "closed_at", NULL);
  assert_true(harness_is_rfc3339_utc(hjson_str(r->json, "created_at")));
  assert_json_str(r->json, "my_membership.state", "active");
  assert_json_str(r->json, "my_membership.role", "convener");
  json_t *created = json_incref(r->json);
  http_response_free(r);

  r = http_get(hpath("/v1/groups/%s", gid), g_pa.token);
  assert_status(r, 200);
  assert_etag_matches_version(r);
  if (!json_equal(created, r->json))
    harness_fail("GET differs from the POST answer:\n  POST %s\n  GET  %s", json_dumps(created, JSON_COMPACT), r->body);
  http_response_free(r);
  json_decref(created);

  /* The proposer's own membership: active convener since now. */
  r = http_get(hpath("/v1/groups/%s/members/%s", gid, g_pa.id), g_pa.token);
  assert_status(r, 200);
  assert_json_str(r->json, "group_id", gid);
  assert_json_str(r->json, "member_id", g_pa.id);
  assert_json_str(r->json, "display_name", g_pa.display_name);
  assert_json_str(r->json, "state", "active");
  assert_json_str(r->json, "role", "convener");
  assert_json_str(r->json, "represents_group_id", NULL);
  assert_true(harness_is_rfc3339_utc(hjson_str(r->json, "joined_at")));
  http_response_free(r);

  r = http_get(hpath("/v1/groups/%s/members", gid), g_pa.token);
  assert_status(r, 200);
  assert_int_equal(json_array_size(hjson_get(r->json, "items")), 1);
  http_response_free(r);

  /* A colleague at the same site sees the group, without a membership of their own. */
  r = http_get(hpath("/v1/groups/%s", gid), g_pa2.token);
  assert_status(r, 200);
  assert_json_str(r->json, "my_membership", NULL);
  http_response_free(r);

  assert_int_equal(harness_audit_count("group.created", gid, g_pa.id), 1);
}

static void test_who_may_propose_where(void **state) {
  (void)state;
  size_t mine_before = list_size("/v1/groups?mine=true", g_pa.token);
  char name[HARNESS_NAME_MAX];

  /* A practitioner or facilitator: at another site, or network-wide -> 403. */
  const harness_account *site_a_people[] = {&g_pa, &g_fa};
  for (int i = 0; i < 2; i++) {
    http_response *r = post_group(site_a_people[i]->token, named_group_body(g_site_b, name));
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
    r = post_group(site_a_people[i]->token, named_group_body(NULL, name));
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
    r = post_group(site_a_people[i]->token, json_pack("{s:s, s:n}", "name", name, "site_id"));
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
  }
  /* Nothing was created behind the 403s. */
  assert_int_equal(list_size("/v1/groups?mine=true", g_pa.token), mine_before);

  /* A manager at a site they manage (and becomes its convener); not elsewhere, not network-wide. */
  http_response *r = post_group(g_mgr_a.token, named_group_body(g_site_a, name));
  assert_status(r, 201);
  assert_json_str(r->json, "my_membership.role", "convener");
  assert_json_int(r->json, "member_count", 1);
  http_response_free(r);
  r = post_group(g_mgr_a.token, named_group_body(g_site_b, name));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  r = post_group(g_mgr_a.token, named_group_body(NULL, name));
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);

  /* An admin network-wide (site_id null) and at any site. */
  r = post_group(g_admin.token, named_group_body(NULL, name));
  assert_status(r, 201);
  assert_json_str(r->json, "site_id", NULL);
  assert_json_str(r->json, "my_membership.state", "active");
  assert_json_str(r->json, "my_membership.role", "convener");
  http_response_free(r);
  r = post_group(g_admin.token, named_group_body(g_site_b, name));
  assert_status(r, 201);
  assert_json_str(r->json, "site_id", g_site_b);
  http_response_free(r);

  /* Unknown, malformed or archived site -> 400 on site_id. */
  char archived[HARNESS_ID_MAX];
  harness_new_site_id(g_admin.token, archived);
  r = http_request("DELETE", hpath("/v1/sites/%s", archived), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  const char *bad_sites[] = {UNKNOWN_UUID, "not-a-uuid", archived};
  for (int i = 0; i < 3; i++) {
    r = post_group(g_admin.token, named_group_body(bad_sites[i], name));
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, "site_id");
    http_response_free(r);
  }
}

static void test_create_validation(void **state) {
  (void)state;
  size_t mine_before = list_size("/v1/groups?mine=true", g_pa.token);
  char long201[202], long2001[2002];
  memset(long201, 'n', 201);
  long201[201] = '\0';
  memset(long2001, 'p', 2001);
  long2001[2001] = '\0';
  const char *s = g_site_a;
  struct {
    json_t *body;
    const char *field; /* NULL: either min_members or max_members */
  } cases[] = {
      {json_pack("{s:s}", "site_id", s), "name"},
      {json_pack("{s:s, s:s}", "site_id", s, "name", ""), "name"},
      {json_pack("{s:s, s:s}", "site_id", s, "name", long201), "name"},
      {json_pack("{s:s, s:i}", "site_id", s, "name", 42), "name"},
      {json_pack("{s:s, s:s, s:s}", "site_id", s, "name", "G", "purpose", ""), "purpose"},
      {json_pack("{s:s, s:s, s:s}", "site_id", s, "name", "G", "purpose", long2001), "purpose"},
      {json_pack("{s:s, s:s, s:s}", "site_id", s, "name", "G", "composition", "mixed"), "composition"},
      {json_pack("{s:s, s:s, s:s}", "site_id", s, "name", "G", "focus", "everything"), "focus"},
      {json_pack("{s:s, s:s, s:i}", "site_id", s, "name", "G", "min_members", 1), "min_members"},
      {json_pack("{s:s, s:s, s:i}", "site_id", s, "name", "G", "min_members", 51), "min_members"},
      {json_pack("{s:s, s:s, s:s}", "site_id", s, "name", "G", "min_members", "4"), "min_members"},
      {json_pack("{s:s, s:s, s:i}", "site_id", s, "name", "G", "max_members", 1), "max_members"},
      {json_pack("{s:s, s:s, s:i}", "site_id", s, "name", "G", "max_members", 51), "max_members"},
      {json_pack("{s:s, s:s, s:i, s:i}", "site_id", s, "name", "G", "min_members", 6, "max_members", 5), NULL},
      /* min above the default max (8) */
      {json_pack("{s:s, s:s, s:i}", "site_id", s, "name", "G", "min_members", 9), NULL},
      {json_pack("{s:s, s:s, s:s}", "site_id", s, "name", "G", "colour", "blue"), "colour"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    http_response *r = post_group(g_pa.token, cases[i].body);
    assert_problem_type(r, 400, "invalid-request");
    if (cases[i].field) {
      assert_error_field(r, cases[i].field);
    } else if (!harness_has_error_field(r, "min_members") && !harness_has_error_field(r, "max_members")) {
      harness_fail("case %zu: min_members > max_members should name min_members or max_members: %s", i, r->body);
    }
    http_response_free(r);
  }

  /* Read-only fields are refused, never applied. */
  const char *ro[] = {"id",         "status",    "member_count",  "terms_version", "version",
                      "created_at", "closed_at", "my_membership", "created_by"};
  json_t *ro_values[] = {json_string(UNKNOWN_UUID),
                         json_string("active"),
                         json_integer(3),
                         json_integer(2),
                         json_integer(9),
                         json_string("2020-01-01T00:00:00Z"),
                         json_string("2020-01-01T00:00:00Z"),
                         json_pack("{s:s, s:s}", "state", "active", "role", "convener"),
                         json_string(g_pb.id)};
  for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++) {
    json_t *body = json_pack("{s:s, s:s}", "site_id", s, "name", "Read-only");
    json_object_set(body, ro[i], ro_values[i]);
    http_response *r = post_group(g_pa.token, body);
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, ro[i]);
    http_response_free(r);
  }
  assert_int_equal(list_size("/v1/groups?mine=true", g_pa.token), mine_before);

  /* Boundaries that are fine: min = max = 2, a 200-character name, every enum value. */
  long201[200] = '\0';
  http_response *r =
      post_group(g_pa.token, json_pack("{s:s, s:s, s:i, s:i, s:s, s:s}", "site_id", s, "name", long201, "min_members",
                                       2, "max_members", 2, "composition", "single_discipline", "focus", "specialism"));
  assert_status(r, 201);
  assert_json_int(r->json, "min_members", 2);
  assert_json_int(r->json, "max_members", 2);
  assert_json_str(r->json, "composition", "single_discipline");
  assert_json_str(r->json, "focus", "specialism");
  char gid[HARNESS_ID_MAX];
  snprintf(gid, sizeof gid, "%s", hjson_str(r->json, "id"));
  http_response_free(r);

  /* The same read-only fields, and site_id, on PATCH. */
  json_t *before = harness_group_get(gid, g_pa.token);
  for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++) {
    if (strcmp(ro[i], "status") == 0)
      continue; /* status may be PATCHed (dormant/forming/active) */
    json_t *body = json_pack("{s:s}", "name", "Should not apply");
    json_object_set(body, ro[i], ro_values[i]);
    r = patch_group(gid, g_pa.token, body);
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, ro[i]);
    http_response_free(r);
  }
  r = patch_group(gid, g_pa.token, json_pack("{s:s}", "site_id", g_site_b));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "site_id");
  http_response_free(r);
  json_t *after = harness_group_get(gid, g_pa.token);
  if (!json_equal(before, after))
    harness_fail("rejected PATCHes changed the group: %s", json_dumps(after, JSON_COMPACT));
  json_decref(before);
  json_decref(after);
  for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++)
    json_decref(ro_values[i]);
}

/* ---------------------------------------------------------------- who sees what */

static void expect_group_invisible(const char *gid, const harness_account *who) {
  /* A conditional GET must not confirm the group either (no 304 before the visibility check). */
  const char *const inm[] = {"If-None-Match: \"1\"", NULL};
  http_response *c = http_get_with_headers(hpath("/v1/groups/%s", gid), who->token, inm);
  assert_problem_type(c, 404, "not-found");
  http_response_free(c);
  const char *paths[] = {hpath("/v1/groups/%s", gid), hpath("/v1/groups/%s/members", gid),
                         hpath("/v1/groups/%s/terms", gid), hpath("/v1/groups/%s/meetings", gid)};
  char copies[4][256];
  for (int i = 0; i < 4; i++)
    snprintf(copies[i], sizeof copies[i], "%s", paths[i]);
  for (int i = 0; i < 4; i++) {
    http_response *r = http_get(copies[i], who->token);
    if (r->status != 404)
      print_error("%s (%s) should not see group %s\n", who->id, who->role, gid);
    assert_problem_type(r, 404, "not-found");
    http_response_free(r);
  }
  http_response *r = patch_group(gid, who->token, json_pack("{s:s}", "name", "Probe"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = delete_group(gid, who->token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = http_json("POST", hpath("/v1/groups/%s/members", gid), who->token, json_object());
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = http_json("POST", hpath("/v1/groups/%s/terms", gid), who->token, json_pack("{s:s}", "body", "Probe"));
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
}

static void expect_group_visible(const char *gid, const harness_account *who) {
  http_response *r = http_get(hpath("/v1/groups/%s", gid), who->token);
  if (r->status != 200)
    print_error("%s (%s) should see group %s\n", who->id, who->role, gid);
  assert_status(r, 200);
  assert_json_str(r->json, "id", gid);
  http_response_free(r);
}

/* ?site_id= of a site the caller may not see: an empty page or a 403, never the group. */
static void expect_filtered_list_hides(const char *site_id, const harness_account *who, const char *gid) {
  http_response *r = http_get(hpath("/v1/groups?site_id=%s&limit=200", site_id), who->token);
  if (r->status == 403) {
    assert_problem_type(r, 403, "forbidden");
  } else {
    assert_status(r, 200);
    size_t i;
    json_t *it;
    json_array_foreach(hjson_get(r->json, "items"), i, it) {
      if (strcmp(hjson_str(it, "id") ? hjson_str(it, "id") : "", gid) == 0)
        harness_fail("%s (%s) finds group %s through ?site_id=%s", who->id, who->role, gid, site_id);
    }
  }
  http_response_free(r);
}

static void test_visibility_per_role(void **state) {
  (void)state;
  char ga[HARNESS_ID_MAX], gb[HARNESS_ID_MAX], gn[HARNESS_ID_MAX];
  json_decref(harness_new_group(g_pa.token, g_site_a, 0, 0, ga));
  json_decref(harness_new_group(g_pb.token, g_site_b, 0, 0, gb));
  json_decref(harness_new_group(g_admin.token, NULL, 0, 0, gn));

  struct {
    const harness_account *who;
    bool sees_a, sees_b;
  } cases[] = {
      {&g_pa, true, false}, {&g_pa2, true, false},   {&g_fa, true, false},   {&g_mgr_a, true, false},
      {&g_pb, false, true}, {&g_mgr_b, false, true}, {&g_admin, true, true},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const harness_account *who = cases[i].who;
    /* Everyone sees network-wide groups. */
    expect_group_visible(gn, who);
    if (!harness_list_contains("/v1/groups", who->token, "id", gn))
      harness_fail("%s (%s) does not find network-wide group %s in /v1/groups", who->id, who->role, gn);

    const char *gids[] = {ga, gb};
    const char *sites[] = {g_site_a, g_site_b};
    bool sees[] = {cases[i].sees_a, cases[i].sees_b};
    for (int k = 0; k < 2; k++) {
      bool in_list = harness_list_contains("/v1/groups", who->token, "id", gids[k]);
      if (sees[k]) {
        expect_group_visible(gids[k], who);
        if (!in_list)
          harness_fail("%s (%s) does not find group %s in /v1/groups", who->id, who->role, gids[k]);
        if (!harness_list_contains(hpath("/v1/groups?site_id=%s", sites[k]), who->token, "id", gids[k]))
          harness_fail("%s (%s) does not find group %s with ?site_id=%s", who->id, who->role, gids[k], sites[k]);
      } else {
        if (in_list)
          harness_fail("%s (%s) finds invisible group %s in /v1/groups", who->id, who->role, gids[k]);
        expect_filtered_list_hides(sites[k], who, gids[k]);
        expect_group_invisible(gids[k], who);
      }
    }
  }
  /* The 404s changed nothing. */
  json_t *b = harness_group_get(gb, g_pb.token);
  assert_json_str(b, "status", "forming");
  assert_json_int(b, "member_count", 1);
  assert_json_int(b, "version", 1);
  json_decref(b);
}

static void test_list_items_are_groups_and_filters(void **state) {
  (void)state;
  char gm[HARNESS_ID_MAX], gn[HARNESS_ID_MAX];
  json_decref(harness_new_group(g_pa.token, g_site_a, 2, 0, gm));
  json_decref(harness_new_group(g_admin.token, NULL, 0, 0, gn));

  /* ?mine=true: groups where the caller has a membership, in any state. */
  assert_true(harness_list_contains("/v1/groups?mine=true", g_pa.token, "id", gm));
  assert_false(harness_list_contains("/v1/groups?mine=true", g_pa.token, "id", gn));
  assert_false(harness_list_contains("/v1/groups?mine=true", g_pa2.token, "id", gm));
  harness_group_request(gn, g_pa.token);
  assert_true(harness_list_contains("/v1/groups?mine=true", g_pa.token, "id", gn));
  json_t *n = harness_group_get(gn, g_pa.token);
  assert_json_str(n, "my_membership.state", "requested");
  assert_json_str(n, "my_membership.role", "member");
  json_decref(n);
  json_t *mine = harness_list_all("/v1/groups?mine=true", g_pa.token);
  size_t i;
  json_t *it;
  json_array_foreach(mine, i, it) {
    if (!json_is_object(hjson_get(it, "my_membership")))
      harness_fail("?mine=true lists a group without my_membership: %s", json_dumps(it, JSON_COMPACT));
  }
  json_decref(mine);
  /* mine=false is the whole directory. */
  assert_true(harness_list_contains("/v1/groups?mine=false", g_pa2.token, "id", gm));

  /* The list item is the Group representation, my_membership included. */
  json_t *all = harness_list_all(hpath("/v1/groups?site_id=%s", g_site_a), g_pa.token);
  json_t *single = harness_group_get(gm, g_pa.token);
  bool found = false;
  json_array_foreach(all, i, it) {
    if (strcmp(hjson_str(it, "id"), gm) == 0) {
      found = true;
      if (!json_equal(it, single))
        harness_fail("list item differs from GET:\n  list %s\n  GET  %s", json_dumps(it, JSON_COMPACT),
                     json_dumps(single, JSON_COMPACT));
    }
    assert_json_str(it, "site_id", g_site_a);
  }
  assert_true(found);
  json_decref(all);
  json_decref(single);

  /* ?status= */
  const char *st_path = hpath("/v1/groups?site_id=%s&status=forming", g_site_a);
  char forming_path[256];
  snprintf(forming_path, sizeof forming_path, "%s", st_path);
  assert_true(harness_list_contains(forming_path, g_pa.token, "id", gm));
  assert_false(harness_list_contains(hpath("/v1/groups?site_id=%s&status=active", g_site_a), g_pa.token, "id", gm));
  http_response *r = patch_group(gm, g_pa.token, json_pack("{s:s}", "status", "dormant"));
  assert_status(r, 200);
  http_response_free(r);
  assert_true(harness_list_contains(hpath("/v1/groups?site_id=%s&status=dormant", g_site_a), g_pa.token, "id", gm));
  assert_false(harness_list_contains(forming_path, g_pa.token, "id", gm));
  r = delete_group(gm, g_pa.token);
  assert_status(r, 204);
  http_response_free(r);
  assert_true(harness_list_contains(hpath("/v1/groups?site_id=%s&status=closed", g_site_a), g_pa.token, "id", gm));
  const char *statuses[] = {"forming", "active", "dormant", "closed"};
  for (int k = 0; k < 4; k++) {
    json_t *items = harness_list_all(hpath("/v1/groups?status=%s", statuses[k]), g_pa.token);
    json_array_foreach(items, i, it) {
      if (strcmp(hjson_str(it, "status") ? hjson_str(it, "status") : "", statuses[k]) != 0)
        harness_fail("?status=%s lists %s", statuses[k], json_dumps(it, JSON_COMPACT));
    }
    json_decref(items);
  }

  /* Bad parameters. */
  const char *bad[] = {"/v1/groups?status=bogus",  "/v1/groups?site_id=nope", "/v1/groups?mine=maybe",
                       "/v1/groups?limit=0",       "/v1/groups?limit=201",    "/v1/groups?limit=ten",
                       "/v1/groups?cursor=garbage"};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    r = http_get(bad[k], g_pa.token);
    assert_problem_type(r, 400, "invalid-request");
    http_response_free(r);
  }
  r = http_get("/v1/groups", NULL);
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);
}

static void test_pagination_walk(void **state) {
  (void)state;
  char site[HARNESS_ID_MAX];
  harness_new_site_id(g_admin.token, site);
  char ids[5][HARNESS_ID_MAX];
  for (int i = 0; i < 5; i++)
    json_decref(harness_new_group(g_admin.token, site, 0, 0, ids[i]));
  char cursor[1024] = "";
  int seen = 0;
  const int expect_pages[] = {2, 2, 1};
  for (int page = 0; page < 3; page++) {
    http_response *r = http_get(cursor[0] ? hpath("/v1/groups?site_id=%s&limit=2&cursor=%s", site, cursor)
                                          : hpath("/v1/groups?site_id=%s&limit=2", site),
                                g_admin.token);
    assert_status(r, 200);
    json_t *items = hjson_get(r->json, "items");
    assert_int_equal(json_array_size(items), expect_pages[page]);
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
      if (strcmp(hjson_str(it, "id"), ids[seen]) != 0)
        harness_fail("page %d item %zu is %s, expected %s (creation order)", page, i, hjson_str(it, "id"), ids[seen]);
      seen++;
    }
    json_t *next = hjson_get(r->json, "next_cursor");
    if (page < 2) {
      if (!json_is_string(next))
        harness_fail("page %d lacks next_cursor: %s", page, r->body);
      char *esc = harness_urlencode(json_string_value(next));
      snprintf(cursor, sizeof cursor, "%s", esc);
      free(esc);
    } else {
      assert_true(json_is_null(next));
    }
    http_response_free(r);
  }
  assert_int_equal(seen, 5);
}

/* ---------------------------------------------------------------- PATCH */

static void test_patch_rules(void **state) {
  (void)state;
  char gid[HARNESS_ID_MAX];
  json_decref(harness_new_group(g_pa.token, g_site_a, 2, 8, gid));
  harness_group_join(gid, g_pa.token, &g_pa2);

  json_t *g0 = harness_group_get(gid, g_pa.token);
  json_int_t v0 = hjson_version(g0);
  json_decref(g0);
  http_response *r = patch_group(gid, g_pa.token,
                                 json_pack("{s:s, s:s, s:s, s:s}", "name", "Renamed by convener", "purpose",
                                           "New purpose", "composition", "single_discipline", "focus", "locality"));
  assert_status(r, 200);
  assert_etag_matches_version(r);
  assert_json_str(r->json, "name", "Renamed by convener");
  assert_json_str(r->json, "purpose", "New purpose");
  assert_json_str(r->json, "composition", "single_discipline");
  assert_json_str(r->json, "focus", "locality");
  if (hjson_version(r->json) <= v0)
    harness_fail("PATCH did not raise the version above %" JSON_INTEGER_FORMAT ": %s", v0, r->body);
  assert_json_str(r->json, "my_membership.role", "convener");
  http_response_free(r);
  r = patch_group(gid, g_pa.token, json_pack("{s:n}", "purpose"));
  assert_status(r, 200);
  assert_json_str(r->json, "purpose", NULL);
  http_response_free(r);

  /* An ordinary member, a non-member at the site, the site's manager and an admin: 403. */
  const harness_account *not_leaders[] = {&g_pa2, &g_fa, &g_mgr_a, &g_admin};
  for (int i = 0; i < 4; i++) {
    r = patch_group(gid, not_leaders[i]->token, json_pack("{s:s}", "name", "Hijacked"));
    if (r->status != 403)
      print_error("caller %s (%s)\n", not_leaders[i]->id, not_leaders[i]->role);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
  }
  json_t *g = harness_group_get(gid, g_pa.token);
  assert_json_str(g, "name", "Renamed by convener");
  char etag[32];
  snprintf(etag, sizeof etag, "\"%" JSON_INTEGER_FORMAT "\"", hjson_version(g));
  json_int_t v = hjson_version(g);
  json_decref(g);

  /* If-None-Match / If-Match. */
  const char *const inm[] = {hpath("If-None-Match: %s", etag), NULL};
  r = http_get_with_headers(hpath("/v1/groups/%s", gid), g_pa.token, inm);
  assert_status(r, 304);
  assert_int_equal(r->body_len, 0);
  http_response_free(r);
  char stale[32];
  snprintf(stale, sizeof stale, "\"%" JSON_INTEGER_FORMAT "\"", v - 1);
  r = patch_group_if_match(gid, g_pa.token, json_pack("{s:s}", "name", "Stale"), stale);
  assert_problem_type(r, 412, "precondition-failed");
  http_response_free(r);
  r = patch_group_if_match(gid, g_pa.token, json_pack("{s:s}", "name", "Current"), etag);
  assert_status(r, 200);
  if (hjson_version(r->json) <= v)
    harness_fail("PATCH did not raise the version above %" JSON_INTEGER_FORMAT ": %s", v, r->body);
  http_response_free(r);
  r = patch_group_if_match(gid, g_pa.token, json_pack("{s:s}", "name", "Any"), "*");
  assert_status(r, 200);
  http_response_free(r);

  /* min > max -> 400, also against the stored other bound. */
  r = patch_group(gid, g_pa.token, json_pack("{s:i, s:i}", "min_members", 6, "max_members", 5));
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
  r = patch_group(gid, g_pa.token, json_pack("{s:i}", "min_members", 9));
  assert_problem_type(r, 400, "invalid-request");
  http_response_free(r);
  r = patch_group(gid, g_pa.token, json_pack("{s:i}", "max_members", 51));
  assert_problem_type(r, 400, "invalid-request");
  assert_error_field(r, "max_members");
  http_response_free(r);

  /* max_members below member_count -> 409. */
  harness_group_join(gid, g_pa.token, &g_fa);
  r = patch_group(gid, g_pa.token, json_pack("{s:i}", "max_members", 2));
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  r = patch_group(gid, g_pa.token, json_pack("{s:i}", "max_members", 3));
  assert_status(r, 200);
  assert_json_int(r->json, "max_members", 3);
  assert_json_int(r->json, "member_count", 3);
  http_response_free(r);

  /* status: dormant pauses, forming resumes (recomputed), active only when the rule holds. */
  r = patch_group(gid, g_pa.token, json_pack("{s:s}", "status", "dormant"));
  assert_status(r, 200);
  assert_json_str(r->json, "status", "dormant");
  http_response_free(r);
  r = patch_group(gid, g_pa.token, json_pack("{s:s}", "status", "active"));
  assert_problem_type(r, 409, "conflict"); /* no terms yet */
  http_response_free(r);
  assert_string_equal(group_status(gid, g_pa.token), "dormant");
  r = patch_group(gid, g_pa.token, json_pack("{s:s}", "status", "forming"));
  assert_status(r, 200);
  assert_json_str(r->json, "status", "forming");
  http_response_free(r);
  const char *bad_status[] = {"closed", "bogus", ""};
  for (int i = 0; i < 3; i++) {
    r = patch_group(gid, g_pa.token, json_pack("{s:s}", "status", bad_status[i]));
    assert_problem_type(r, 400, "invalid-request");
    assert_error_field(r, "status");
    http_response_free(r);
  }
  assert_string_equal(group_status(gid, g_pa.token), "forming");
  if (harness_audit_count("group.updated", gid, g_pa.id) < 1)
    harness_fail("no group.updated audit row for %s", gid);
}

/* ---------------------------------------------------------------- closing */

static void expect_status(http_response *r, long status) {
  if (status >= 400)
    assert_problem(r, status);
  else
    assert_status(r, status);
  http_response_free(r);
}

/* A closed group accepts no membership, terms or meeting changes (409) but stays readable. */
static void expect_closed_group_frozen(const char *gid, const harness_account *convener, const harness_account *member,
                                       const harness_account *pending, const harness_account *outsider_at_site,
                                       int terms_version) {
  json_t *g = harness_group_get(gid, member->token);
  assert_json_str(g, "status", "closed");
  if (!harness_is_rfc3339_utc(hjson_str(g, "closed_at")))
    harness_fail("closed group lacks an RFC 3339 closed_at: %s", json_dumps(g, JSON_COMPACT));
  json_int_t v = hjson_version(g);
  json_decref(g);

  const char *members = hpath("/v1/groups/%s/members", gid);
  char members_path[256];
  snprintf(members_path, sizeof members_path, "%s", members);
  /* join request, invitation, approval of a pending request, role change */
  expect_status(http_json("POST", members_path, outsider_at_site->token, json_object()), 409);
  expect_status(http_json("POST", members_path, convener->token, json_pack("{s:s}", "member_id", outsider_at_site->id)),
                409);
  expect_status(http_json("PATCH", hpath("/v1/groups/%s/members/%s", gid, pending->id), convener->token,
                          json_pack("{s:s}", "state", "active")),
                409);
  expect_status(http_json("PATCH", hpath("/v1/groups/%s/members/%s", gid, member->id), convener->token,
                          json_pack("{s:s}", "role", "facilitator")),
                409);
  /* group edits */
  expect_status(patch_group(gid, convener->token, json_pack("{s:s}", "name", "Reopened?")), 409);
  expect_status(patch_group(gid, convener->token, json_pack("{s:s}", "status", "forming")), 409);
  /* terms */
  expect_status(http_json("POST", hpath("/v1/groups/%s/terms", gid), convener->token,
                          json_pack("{s:s}", "body", "After closing")),
                409);
  expect_status(
      http_json("POST", hpath("/v1/groups/%s/terms/%d/acceptances", gid, terms_version), member->token, json_object()),
      409);
  /* meetings */
  expect_status(
      http_json("POST", hpath("/v1/groups/%s/meetings", gid), convener->token,
                json_pack("{s:s, s:s}", "starts_at", "2030-01-10T10:00:00Z", "ends_at", "2030-01-10T11:00:00Z")),
      409);

  /* Still readable, and unchanged. */
  g = harness_group_get(gid, member->token);
  assert_json_str(g, "status", "closed");
  assert_json_int(g, "version", v);
  assert_json_int(g, "member_count", 2);
  json_decref(g);
  http_response *r = http_get(hpath("%s?state=active", members_path), member->token);
  assert_status(r, 200);
  assert_int_equal(json_array_size(hjson_get(r->json, "items")), 2);
  http_response_free(r);
  r = http_get(hpath("/v1/groups/%s/terms", gid), outsider_at_site->token);
  assert_status(r, 200);
  http_response_free(r);
  r = http_get(hpath("/v1/groups/%s/members/%s", gid, pending->id), pending->token);
  assert_status(r, 200);
  assert_json_str(r->json, "state", "requested");
  http_response_free(r);
}

static void test_close_by_convener_and_frozen(void **state) {
  (void)state;
  char gid[HARNESS_ID_MAX];
  json_decref(harness_new_group(g_pa.token, g_site_a, 2, 0, gid));
  harness_group_join(gid, g_pa.token, &g_pa2);
  harness_group_request(gid, g_mgr_a.token); /* a pending request left when the group closes */
  int tv = harness_group_post_terms(gid, g_pa.token, "Our terms");

  /* Not a leader: 403 when they can see the group, 404 when they cannot. */
  const harness_account *forbidden[] = {&g_pa2, &g_fa};
  for (int i = 0; i < 2; i++) {
    http_response *r = delete_group(gid, forbidden[i]->token);
    assert_problem_type(r, 403, "forbidden");
    http_response_free(r);
  }
  const harness_account *blind[] = {&g_pb, &g_mgr_b};
  for (int i = 0; i < 2; i++) {
    http_response *r = delete_group(gid, blind[i]->token);
    assert_problem_type(r, 404, "not-found");
    http_response_free(r);
  }
  assert_string_equal(group_status(gid, g_pa.token), "forming");

  http_response *r = delete_group(gid, g_pa.token);
  assert_status(r, 204);
  assert_int_equal(r->body_len, 0);
  http_response_free(r);
  r = delete_group(gid, g_pa.token);
  assert_status(r, 204);
  http_response_free(r);
  expect_closed_group_frozen(gid, &g_pa, &g_pa2, &g_mgr_a, &g_fa, tv);
  if (harness_audit_count("group.closed", gid, g_pa.id) < 1)
    harness_fail("no group.closed audit row for %s by %s", gid, g_pa.id);
}

static void test_close_by_facilitator_manager_admin(void **state) {
  (void)state;
  /* 0: a facilitator of the group, 1: the site's manager, 2: an admin. */
  for (int who = 0; who < 3; who++) {
    char gid[HARNESS_ID_MAX];
    json_decref(harness_new_group(g_pa.token, g_site_a, 2, 0, gid));
    harness_group_join(gid, g_pa.token, &g_pa2);
    const harness_account *closer = who == 0 ? &g_pa2 : who == 1 ? &g_mgr_a : &g_admin;
    if (who == 0)
      harness_group_set_role(gid, g_pa.token, g_pa2.id, "facilitator");
    harness_group_request(gid, g_pa3.token);
    int tv = harness_group_post_terms(gid, g_pa.token, "Our terms");
    http_response *r = delete_group(gid, closer->token);
    assert_status(r, 204);
    http_response_free(r);
    expect_closed_group_frozen(gid, &g_pa, &g_pa2, &g_pa3, &g_fa, tv);
    if (harness_audit_count("group.closed", gid, closer->id) < 1)
      harness_fail("no group.closed audit row for %s by %s", gid, closer->id);
  }
}

static void test_unknown_and_malformed_ids(void **state) {
  (void)state;
  const char *ids[] = {UNKNOWN_UUID, "not-a-uuid", "00000000-0000-4000-8000-00000000000g"};
  for (int i = 0; i < 3; i++) {
    const char *paths[] = {hpath("/v1/groups/%s", ids[i]), hpath("/v1/groups/%s/members", ids[i]),
                           hpath("/v1/groups/%s/terms", ids[i]), hpath("/v1/groups/%s/meetings", ids[i])};
    for (int k = 0; k < 4; k++) {
      http_response *r = http_get(paths[k], g_admin.token);
      assert_problem_type(r, 404, "not-found");
      http_response_free(r);
    }
    http_response *r = patch_group(ids[i], g_admin.token, json_pack("{s:s}", "name", "x"));
    assert_problem_type(r, 404, "not-found");
    http_response_free(r);
    r = delete_group(ids[i], g_admin.token);
    assert_problem_type(r, 404, "not-found");
    http_response_free(r);
  }
}

/* Visibility follows the current site managers: a manager removed from the site stops seeing its
 * groups — also one whose home_site_id is that site (managers see the sites they manage; the
 * home-site directory is for practitioners and facilitators, API.md section 2). */
static void test_manager_removed_from_site_loses_sight(void **state) {
  (void)state;
  harness_account managers[2];
  harness_new_member_quick(g_admin.token, "manager", NULL, &managers[0]);
  harness_new_member_quick(g_admin.token, "manager", g_site_a, &managers[1]);
  char gid[HARNESS_ID_MAX];
  json_decref(harness_new_group(g_pa.token, g_site_a, 0, 0, gid));
  for (int i = 0; i < 2; i++) {
    const harness_account *mgr = &managers[i];
    http_response *r =
        http_request("PUT", hpath("/v1/sites/%s/managers/%s", g_site_a, mgr->id), g_admin.token, NULL, NULL, NULL);
    assert_status(r, 204);
    http_response_free(r);
    expect_group_visible(gid, mgr);
    r = http_request("DELETE", hpath("/v1/sites/%s/managers/%s", g_site_a, mgr->id), g_admin.token, NULL, NULL, NULL);
    assert_status(r, 204);
    http_response_free(r);
    if (harness_list_contains("/v1/groups", mgr->token, "id", gid))
      harness_fail("manager %s (home site %s), no longer listed for site %s, still lists group %s", mgr->id,
                   mgr->home_site_id[0] ? mgr->home_site_id : "none", g_site_a, gid);
    expect_group_invisible(gid, mgr);
  }
}

/* The Group carries my_membership, so its ETag must change when the caller's membership does:
 * a 304 would leave a client with a stale my_membership. */
static void test_etag_follows_my_membership(void **state) {
  (void)state;
  char gid[HARNESS_ID_MAX];
  json_decref(harness_new_group(g_pa.token, g_site_a, 2, 0, gid));
  const char *steps[] = {"request", "approve", "role"};
  const char *expect_state[] = {"requested", "active", "active"};
  const char *expect_role[] = {"member", "member", "facilitator"};
  for (int i = 0; i < 3; i++) {
    http_response *r = http_get(hpath("/v1/groups/%s", gid), g_pa2.token);
    assert_status(r, 200);
    char inm[64];
    snprintf(inm, sizeof inm, "If-None-Match: %s", http_header(r, "ETag") ? http_header(r, "ETag") : "\"0\"");
    http_response_free(r);
    if (i == 0)
      harness_group_request(gid, g_pa2.token);
    else if (i == 1)
      harness_group_activate(gid, g_pa.token, g_pa2.id);
    else
      harness_group_set_role(gid, g_pa.token, g_pa2.id, "facilitator");
    const char *const h[] = {inm, NULL};
    r = http_get_with_headers(hpath("/v1/groups/%s", gid), g_pa2.token, h);
    if (r->status != 200)
      harness_fail("after step \"%s\" the group still answers %ld to %s", steps[i], r->status, inm);
    assert_json_str(r->json, "my_membership.state", expect_state[i]);
    assert_json_str(r->json, "my_membership.role", expect_role[i]);
    http_response_free(r);
  }
}

static json_int_t group_version(const char *gid, const char *token) {
  json_t *g = harness_group_get(gid, token);
  json_int_t v = hjson_version(g);
  json_decref(g);
  return v;
}

#define expect_version(gid, token, expected)                                                                           \
  do {                                                                                                                 \
    json_int_t got_ = group_version((gid), (token));                                                                   \
    if (got_ != (expected))                                                                                            \
      harness_fail("group version %" JSON_INTEGER_FORMAT ", expected %" JSON_INTEGER_FORMAT, got_,                     \
                   (json_int_t)(expected));                                                                            \
  } while (0)

/* A change raises the group's version exactly once (a PATCH used to raise it by 2: the update,
 * then the derived status rewriting the row); a change that leaves the Group as everyone sees it
 * (member_count, status, anybody's my_membership) writes nothing and keeps the ETag. */
static void test_version_raised_exactly_once(void **state) {
  (void)state;
  char gid[HARNESS_ID_MAX];
  json_decref(harness_new_group(g_pa.token, g_site_a, 2, 8, gid));
  json_int_t v = group_version(gid, g_pa.token);

  http_response *r = patch_group(gid, g_pa.token, json_pack("{s:s}", "name", "Renamed once"));
  assert_status(r, 200);
  assert_json_int(r->json, "version", v + 1);
  assert_etag_matches_version(r);
  http_response_free(r);
  expect_version(gid, g_pa.token, ++v);

  /* A join request changes the requester's my_membership: once. Its approval: member_count, once. */
  harness_group_request(gid, g_pa2.token);
  expect_version(gid, g_pa.token, ++v);
  harness_group_activate(gid, g_pa.token, g_pa2.id);
  expect_version(gid, g_pa.token, ++v);

  /* New terms: terms_version (and the derived status, still forming): once. */
  harness_group_post_terms(gid, g_pa.token, "Version test terms");
  expect_version(gid, g_pa.token, ++v);
  /* The first acceptance leaves the group forming (pa2 has not accepted): nothing changes. */
  harness_group_accept_terms(gid, 1, g_pa.token);
  expect_version(gid, g_pa.token, v);
  json_t *g = harness_group_get(gid, g_pa.token);
  assert_json_str(g, "status", "forming");
  json_decref(g);
  /* The second makes it active: once. */
  harness_group_accept_terms(gid, 1, g_pa2.token);
  g = harness_group_get(gid, g_pa.token);
  assert_json_str(g, "status", "active");
  assert_json_int(g, "version", ++v);
  json_decref(g);

  /* PATCH status active on an active group, and dormant then active again: once each. */
  r = patch_group(gid, g_pa.token, json_pack("{s:s}", "status", "active"));
  assert_status(r, 200);
  assert_json_str(r->json, "status", "active");
  assert_json_int(r->json, "version", ++v);
  http_response_free(r);
  r = patch_group(gid, g_pa.token, json_pack("{s:s}", "status", "dormant"));
  assert_status(r, 200);
  assert_json_int(r->json, "version", ++v);
  http_response_free(r);
  r = patch_group(gid, g_pa.token, json_pack("{s:s}", "status", "active"));
  assert_status(r, 200);
  assert_json_str(r->json, "status", "active");
  assert_json_int(r->json, "version", ++v);
  http_response_free(r);

  /* A membership PATCH that changes nothing the Group shows (already active): no new version. */
  r = http_json("PATCH", hpath("/v1/groups/%s/members/%s", gid, g_pa2.id), g_pa.token,
                json_pack("{s:s}", "state", "active"));
  assert_status(r, 200);
  http_response_free(r);
  expect_version(gid, g_pa.token, v);
  /* A role change shows in pa2's my_membership: once. */
  harness_group_set_role(gid, g_pa.token, g_pa2.id, "facilitator");
  expect_version(gid, g_pa.token, ++v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_practitioner_proposes_at_home_site),
      cmocka_unit_test(test_who_may_propose_where),
      cmocka_unit_test(test_create_validation),
      cmocka_unit_test(test_visibility_per_role),
      cmocka_unit_test(test_manager_removed_from_site_loses_sight),
      cmocka_unit_test(test_list_items_are_groups_and_filters),
      cmocka_unit_test(test_pagination_walk),
      cmocka_unit_test(test_etag_follows_my_membership),
      cmocka_unit_test(test_patch_rules),
      cmocka_unit_test(test_version_raised_exactly_once),
      cmocka_unit_test(test_close_by_convener_and_frozen),
      cmocka_unit_test(test_close_by_facilitator_manager_admin),
      cmocka_unit_test(test_unknown_and_malformed_ids),
  };
  return cmocka_run_group_tests_name("e2e_groups", tests, group_setup, harness_suite_teardown);
}
