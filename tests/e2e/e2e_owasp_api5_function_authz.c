/*
 * e2e_owasp_api5_function_authz.c — OWASP API Security Top 10 (2023) API5, broken function level
 * authorization, against the real server.
 *
 * Every admin-only function (create and archive sites, appoint and remove managers, partners and
 * their credentials, the audit log, erasing other members, granting roles) is tried by a manager
 * (of the very site concerned, the closest to having the right), a facilitator, a practitioner and
 * a partner token: 403 for members who can see the object (404 where they may not even know it,
 * API.md section 2), 401 for the partner token, and afterwards nothing changed.  Manager-level
 * functions (members, consultations, events, summaries) are refused to facilitators and
 * practitioners, and managers cannot grant more than their own role allows.  Method overrides,
 * HEAD and spellings of the path do not get around any of it.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static harness_account g_admin;
static char g_site[HARNESS_ID_MAX], g_other_site[HARNESS_ID_MAX];
static harness_account g_mgr, g_fac, g_prac, g_target; /* at g_site; g_target: a practitioner to act on */
static harness_account g_other_mgr;                    /* a manager-role member not yet managing g_site */
static harness_partner g_partner, g_victim_partner;

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_new_site_id(g_admin.token, g_site);
  harness_new_site_id(g_admin.token, g_other_site);
  harness_new_manager_quick(g_admin.token, g_site, &g_mgr);
  harness_new_member_quick(g_admin.token, "facilitator", g_site, &g_fac);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &g_prac);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &g_target);
  harness_new_member_quick(g_admin.token, "manager", g_other_site, &g_other_mgr);
  harness_new_partner(g_admin.token, false, &g_partner);
  harness_new_partner(g_admin.token, false, &g_victim_partner);
  return 0;
}

/* ---------------------------------------------------------------- helpers */

typedef struct caller {
  const char *who;
  const char *token;
  bool partner;
} caller;

static caller g_callers[4];

static void init_callers(void) {
  g_callers[0] = (caller){"the site's manager", g_mgr.token, false};
  g_callers[1] = (caller){"a facilitator", g_fac.token, false};
  g_callers[2] = (caller){"a practitioner", g_prac.token, false};
  g_callers[3] = (caller){"a partner", g_partner.token, true};
}

/* A refusal: 401 (Bearer challenge) for a partner token, else 403 — or 404 when may_404 (the
 * caller may not even know the object).  Frees r. */
#define expect_denied(r, c, may_404) expect_denied_at((r), (c), (may_404), __FILE__, __LINE__)
static void expect_denied_at(http_response *r, const caller *c, bool may_404, const char *file, int line) {
  long want = c->partner ? 401 : 403;
  if (!(r->status == want || (!c->partner && may_404 && r->status == 404))) {
    print_error("%s on %s %s: expected %ld%s\n", c->who, r->method, r->path, want, may_404 ? " or 404" : "");
    harness_assert_status(r, want, file, line);
  }
  harness_assert_problem(r, r->status, NULL, file, line);
  if (r->status == 401 && !http_header(r, "WWW-Authenticate"))
    harness_fail_at(file, line, "401 without WWW-Authenticate");
  http_response_free(r);
}

static http_response *do_call(const char *method, const char *path, const char *token, json_t *body) {
  if (body)
    return http_json(method, path, token, body);
  return http_request(method, path, token, NULL, NULL, NULL);
}

/* ---------------------------------------------------------------- admin-only functions */

static void test_sites_and_managers_are_admin_only(void **state) {
  (void)state;
  init_callers();
  char site[128], managers[160];
  snprintf(site, sizeof site, "/v1/sites/%s", g_site);
  snprintf(managers, sizeof managers, "/v1/sites/%s/managers", g_site);
  char *site_before = harness_snapshot(site, g_admin.token),
       *managers_before = harness_snapshot(managers, g_admin.token);
  for (int i = 0; i < 4; i++) {
    const caller *c = &g_callers[i];
    char slug[HARNESS_NAME_MAX];
    harness_unique("api5", slug);
    expect_denied(do_call("POST", "/v1/sites", c->token,
                          json_pack("{s:s, s:s, s:s}", "slug", slug, "name", "Not allowed", "organisation", "Org")),
                  c, false);
    expect_denied(do_call("DELETE", site, c->token, NULL), c, false);
    expect_denied(do_call("PUT", hpath("%s/%s", managers, g_other_mgr.id), c->token, NULL), c, false);
    expect_denied(do_call("PUT", hpath("%s/%s", managers, g_fac.id), c->token, NULL), c, false);
    expect_denied(do_call("DELETE", hpath("%s/%s", managers, g_mgr.id), c->token, NULL), c, false);
    /* appointing oneself */
    expect_denied(do_call("PUT", hpath("/v1/sites/%s/managers/%s", g_other_site, g_mgr.id), c->token, NULL), c, false);
  }
  harness_expect_unchanged(site_before, site, g_admin.token);
  harness_expect_unchanged(managers_before, managers, g_admin.token);
  /* the manager still manages only g_site */
  http_response *r =
      http_json("PATCH", hpath("/v1/sites/%s", g_other_site), g_mgr.token, json_pack("{s:s}", "region", "Nope"));
  assert_problem(r, 403);
  http_response_free(r);
}

static void test_partners_are_admin_only(void **state) {
  (void)state;
  init_callers();
  char p[128];
  snprintf(p, sizeof p, "/v1/partners/%s", g_victim_partner.id);
  char *before = harness_snapshot(p, g_admin.token);
  json_t *list_before = harness_list_all("/v1/partners", g_admin.token);
  for (int i = 0; i < 4; i++) {
    const caller *c = &g_callers[i];
    expect_denied(do_call("POST", "/v1/partners", c->token, json_pack("{s:s}", "name", "Rogue partner")), c, false);
    expect_denied(do_call("GET", "/v1/partners", c->token, NULL), c, false);
    expect_denied(do_call("GET", p, c->token, NULL), c, true);
    expect_denied(do_call("PATCH", p, c->token, json_pack("{s:b}", "trusted", 1)), c, true);
    expect_denied(do_call("POST", hpath("%s/credentials", p), c->token, NULL), c, true);
    expect_denied(do_call("DELETE", p, c->token, NULL), c, true);
  }
  harness_expect_unchanged(before, p, g_admin.token);
  json_t *list_after = harness_list_all("/v1/partners", g_admin.token);
  assert_int_equal(json_array_size(list_before), json_array_size(list_after));
  json_decref(list_before);
  json_decref(list_after);
  /* its secret was not rotated and it was not revoked */
  harness_partner_login(&g_victim_partner);
}

static void test_audit_is_admin_only(void **state) {
  (void)state;
  init_callers();
  const char *paths[] = {"/v1/audit", hpath("/v1/audit?actor_id=%s", g_mgr.id),
                         hpath("/v1/audit?resource_type=member&resource_id=%s", g_prac.id)};
  char copies[3][256];
  for (int k = 0; k < 3; k++)
    snprintf(copies[k], sizeof copies[k], "%s", paths[k]);
  for (int i = 0; i < 4; i++)
    for (int k = 0; k < 3; k++)
      expect_denied(do_call("GET", copies[k], g_callers[i].token, NULL), &g_callers[i], false);
  /* the admin reads it */
  http_response *r = http_get("/v1/audit?limit=1", g_admin.token);
  assert_status(r, 200);
  http_response_free(r);
}

static void test_erasing_others_is_admin_only(void **state) {
  (void)state;
  init_callers();
  char path[128];
  snprintf(path, sizeof path, "/v1/members/%s", g_target.id);
  char *before = harness_snapshot(path, g_admin.token);
  /* the manager of the target's site sees the target: 403; the others may not know them: 404 */
  for (int i = 0; i < 4; i++)
    expect_denied(do_call("DELETE", path, g_callers[i].token, NULL), &g_callers[i], i != 0);
  harness_expect_unchanged(before, path, g_admin.token);
  /* nor can anybody erase the admin */
  for (int i = 0; i < 4; i++)
    expect_denied(do_call("DELETE", hpath("/v1/members/%s", g_admin.id), g_callers[i].token, NULL), &g_callers[i],
                  true);
  http_response *r = http_get("/v1/me", g_target.token);
  assert_status(r, 200);
  assert_json_str(r->json, "status", "active");
  http_response_free(r);
}

static void test_granting_roles(void **state) {
  (void)state;
  init_callers();
  const char *roles[] = {"admin", "manager"};
  char target[128], fac[128], mgr[128];
  snprintf(target, sizeof target, "/v1/members/%s", g_target.id);
  snprintf(fac, sizeof fac, "/v1/members/%s", g_fac.id);
  snprintf(mgr, sizeof mgr, "/v1/members/%s", g_mgr.id);
  char *b1 = harness_snapshot(target, g_admin.token), *b2 = harness_snapshot(fac, g_admin.token),
       *b3 = harness_snapshot(mgr, g_admin.token);
  for (int i = 0; i < 4; i++) {
    const caller *c = &g_callers[i];
    for (int k = 0; k < 2; k++) {
      /* someone else: the manager sees them (403), the others may not (404) */
      expect_denied(do_call("PATCH", target, c->token, json_pack("{s:s}", "role", roles[k])), c, i != 0);
      expect_denied(do_call("PATCH", fac, c->token, json_pack("{s:s}", "role", roles[k])), c, i != 0);
    }
  }
  /* oneself, through /v1/members: 403 for every member (they see themselves) */
  expect_denied(do_call("PATCH", mgr, g_mgr.token, json_pack("{s:s}", "role", "admin")), &g_callers[0], false);
  expect_denied(do_call("PATCH", fac, g_fac.token, json_pack("{s:s}", "role", "manager")), &g_callers[1], false);
  const caller self = {"the member themself", g_target.token, false};
  expect_denied(do_call("PATCH", target, g_target.token, json_pack("{s:s}", "role", "facilitator")), &self, false);
  /* a manager may not un-suspend or suspend a manager, nor touch another site's members */
  expect_denied(
      do_call("PATCH", hpath("/v1/members/%s", g_other_mgr.id), g_mgr.token, json_pack("{s:s}", "status", "suspended")),
      &g_callers[0], true);
  harness_expect_unchanged(b1, target, g_admin.token);
  harness_expect_unchanged(b2, fac, g_admin.token);
  harness_expect_unchanged(b3, mgr, g_admin.token);
  /* the role that counts is the stored one: the manager is still no admin */
  http_response *r = http_get("/v1/audit?limit=1", g_mgr.token);
  assert_problem(r, 403);
  http_response_free(r);
}

/* ---------------------------------------------------------------- manager-level functions */

static void test_manager_functions_refused_to_lower_roles(void **state) {
  (void)state;
  init_callers();
  for (int i = 1; i < 4; i++) { /* facilitator, practitioner, partner */
    const caller *c = &g_callers[i];
    char email[HARNESS_EMAIL_MAX];
    harness_unique_email("api5", email);
    expect_denied(do_call("POST", "/v1/members", c->token,
                          json_pack("{s:s, s:s, s:s, s:s}", "email", email, "display_name", "Rogue", "role",
                                    "practitioner", "home_site_id", g_site)),
                  c, false);
    expect_denied(do_call("GET", "/v1/members", c->token, NULL), c, false);
    expect_denied(do_call("POST", "/v1/consultations", c->token, harness_consultation_body(g_site, NULL, 3600, 86400)),
                  c, false);
    expect_denied(do_call("GET", hpath("/v1/sites/%s/summary", g_site), c->token, NULL), c, false);
    expect_denied(do_call("GET", "/v1/summaries/sites", c->token, NULL), c, false);
    if (!c->partner) /* partners do post events */
      expect_denied(do_call("POST", "/v1/events", c->token, harness_event_body("seminar", 3 * 86400, 3600, g_site)), c,
                    false);
  }
  /* managers create members only up to facilitator */
  const char *roles[] = {"manager", "admin"};
  for (int k = 0; k < 2; k++) {
    char email[HARNESS_EMAIL_MAX];
    harness_unique_email("api5", email);
    expect_denied(do_call("POST", "/v1/members", g_mgr.token,
                          json_pack("{s:s, s:s, s:s, s:s}", "email", email, "display_name", "Too high", "role",
                                    roles[k], "home_site_id", g_site)),
                  &g_callers[0], false);
  }
}

/* ---------------------------------------------------------------- ways around */

static void test_method_override_and_head_do_not_bypass(void **state) {
  (void)state;
  init_callers();
  char site[128];
  snprintf(site, sizeof site, "/v1/sites/%s", g_site);
  char *before = harness_snapshot(site, g_admin.token);
  const char *overrides[] = {"X-HTTP-Method-Override: DELETE", "X-HTTP-Method: DELETE", "X-Method-Override: DELETE"};
  for (int k = 0; k < 3; k++) {
    const char *const h[] = {overrides[k], NULL};
    /* as the manager: a PATCH (allowed for them) that asks to be a DELETE */
    http_response *r = http_json_with_headers("PATCH", site, g_mgr.token, json_object(), h);
    if (r->status == 204)
      harness_fail("%s turned the manager's PATCH into a DELETE", overrides[k]);
    http_response_free(r);
    /* as a practitioner: a GET that asks to be a DELETE */
    r = http_get_with_headers(site, g_prac.token, h);
    if (r->status == 204)
      harness_fail("%s turned a practitioner's GET into a DELETE", overrides[k]);
    http_response_free(r);
    /* a POST on the site (no such route) must stay 405, not become the admin's DELETE */
    r = http_request("POST", site, g_mgr.token, "application/json", "{}", h);
    assert_problem(r, 405);
    http_response_free(r);
  }
  /* the manager's empty PATCH may bump nothing; compare what matters */
  json_t *b = json_loads(before, 0, NULL);
  free(before);
  http_response *r = http_get(site, g_admin.token);
  assert_status(r, 200);
  assert_true(hjson_is_null(r->json, "archived_at"));
  assert_json_str(r->json, "name", hjson_str(b, "name"));
  http_response_free(r);
  json_decref(b);

  /* HEAD on admin-only reads gives a practitioner nothing either */
  const char *reads[] = {"/v1/audit", "/v1/partners", "/v1/members"};
  harness_exchange_log_pause(true); /* HEAD answers have no body to check against the document */
  for (int k = 0; k < 3; k++) {
    r = http_request("HEAD", reads[k], g_prac.token, NULL, NULL, NULL);
    if (r->status == 200)
      harness_fail("HEAD %s answered 200 to a practitioner", reads[k]);
    http_response_free(r);
  }
  harness_exchange_log_pause(false);
}

static void test_path_spellings_do_not_bypass(void **state) {
  (void)state;
  const char *spellings[] = {"/v1/audit/", "/v1//audit",   "/v1/./audit",   "/v1/x/../audit", "/V1/audit",
                             "/v1/AUDIT",  "/v1/audit%2f", "/v1/%61udit",   "/v1/audit;x=1",  "/v1/audit?",
                             "//v1/audit", "/v1/audit/.",  "/v1/partners/", "/v1/Partners",   "/v1/partners%00"};
  for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
    http_response *r = http_get(spellings[i], g_prac.token);
    if (r->status / 100 == 2)
      harness_fail("GET %s answered %ld to a practitioner: %.300s", spellings[i], r->status, r->body);
    if (r->status != 403 && r->status != 404 && r->status != 400 && r->status != 405)
      harness_fail("GET %s: expected 403, 404 or 400, got %ld", spellings[i], r->status);
    http_response_free(r);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sites_and_managers_are_admin_only),
      cmocka_unit_test(test_partners_are_admin_only),
      cmocka_unit_test(test_audit_is_admin_only),
      cmocka_unit_test(test_erasing_others_is_admin_only),
      cmocka_unit_test(test_granting_roles),
      cmocka_unit_test(test_manager_functions_refused_to_lower_roles),
      cmocka_unit_test(test_method_override_and_head_do_not_bypass),
      cmocka_unit_test(test_path_spellings_do_not_bypass),
  };
  return cmocka_run_group_tests(tests, group_setup, harness_suite_teardown);
}
