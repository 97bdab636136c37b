/*
 * e2e_audit.c — GET /v1/audit and the audit trail (API.md section 9, issue 8 item 7) against the
 * real server.
 *
 * The log is for admins only; its filters (actor_id, resource_type, resource_id, action) select
 * exactly the matching rows and are validated; a cursor walk at a small page size visits every row
 * once, in order.  A sample of the changes section 9 names (membership, roles, terms,
 * consultations, outcomes, partners, erasure) each writes its row with the right actor, actor kind
 * and request id.
 *
 * Atomicity: each change must commit together with its audit row.  The test makes the audit insert
 * fail on purpose — through psql it adds a trigger on audit_log that raises for one resource (or
 * one actor) of its own, so parallel tests are untouched — then makes the change: the server must
 * answer a clean 500/503 problem, and neither the change nor any audit row may be stored.  Dropping
 * the trigger, the same change succeeds with its row.  Write paths covered: a site edit, a manager
 * appointment, a site archive, group creation, a membership invitation, terms publication, a role
 * change, a consultation opening, partner creation and an erasure.  Triggers are dropped by each
 * test and again in its teardown.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static harness_account g_admin, g_mgr, g_fac, g_prac;
static char g_site[HARNESS_ID_MAX];
static harness_partner g_partner;

#define WEEK (7L * 24 * 3600)

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_new_site_id(g_admin.token, g_site);
  harness_new_manager_quick(g_admin.token, g_site, &g_mgr);
  harness_new_member_quick(g_admin.token, "facilitator", g_site, &g_fac);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &g_prac);
  harness_new_partner(g_admin.token, false, &g_partner);
  return 0;
}

/* ---------------------------------------------------------------- forced audit failures */

#define MAX_TRIGGERS 16
static char g_triggers[MAX_TRIGGERS][64];
static int g_trigger_count;

static void drop_trigger(const char *name) {
  char sql[512];
  snprintf(sql, sizeof sql, "DROP TRIGGER IF EXISTS %s ON audit_log; DROP FUNCTION IF EXISTS %s();", name, name);
  harness_psql_try(sql);
  harness_exchange_log_pause(false);
}

static void drop_all_triggers(void) {
  for (int i = 0; i < g_trigger_count; i++)
    drop_trigger(g_triggers[i]);
  g_trigger_count = 0;
  harness_exchange_log_pause(false);
}

static int group_teardown(void **state) {
  drop_all_triggers();
  return harness_suite_teardown(state);
}

static int test_teardown(void **state) {
  (void)state;
  drop_all_triggers();
  return 0;
}

/* Makes every audit_log insert matching `when` (SQL over NEW, built only from uuids and action
 * names of this test) fail with an exception.  Returns the trigger's name, for drop_trigger.  Until
 * then exchanges are not recorded for the OpenAPI check: the 500s are provoked, not the contract. */
static const char *force_audit_failure(const char *when) {
  if (g_trigger_count >= MAX_TRIGGERS)
    harness_fail("too many forced audit failures");
  char *name = g_triggers[g_trigger_count++];
  snprintf(name, 64, "e2e_audit_fail_%ld_%d", (long)getpid(), g_trigger_count);
  char sql[1536];
  snprintf(sql, sizeof sql,
           "CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS "
           "$f$ BEGIN RAISE EXCEPTION 'e2e forced audit failure'; END $f$;"
           "CREATE TRIGGER %s BEFORE INSERT ON audit_log FOR EACH ROW WHEN (%s) EXECUTE FUNCTION %s();",
           name, name, when, name);
  free(harness_psql_scalar(sql));
  harness_exchange_log_pause(true);
  return name;
}

/* Audit rows (read in the database) written for request id rid. */
static long rows_for_request(const char *rid) {
  for (const char *p = rid; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
      harness_fail("unsafe request id %s", rid);
  return harness_psql_long(hpath("SELECT count(*) FROM audit_log WHERE request_id = '%s'", rid));
}

/* A request id of our own, sent as X-Request-Id, so its audit rows can be found. */
static const char *new_request_id(char out[HARNESS_NAME_MAX]) {
  harness_unique("e2e-audit", out);
  return out;
}

/* The change failed as a whole: 500 or 503, a clean problem, no internals, no audit row. Frees r. */
#define expect_failed_cleanly(r, rid) expect_failed_cleanly_at((r), (rid), __FILE__, __LINE__)
static void expect_failed_cleanly_at(http_response *r, const char *rid, const char *file, int line) {
  if (r->status != 500 && r->status != 503)
    harness_fail_at(file, line, "%s %s with its audit insert failing: expected 500 or 503, got %ld %s", r->method,
                    r->path, r->status, r->body);
  harness_assert_problem(r, r->status, NULL, file, line);
  const char *leaks[] = {"e2e forced", "audit_log", "trigger", "PGRES", "ERROR", "plpgsql", "INSERT", NULL};
  for (const char **l = leaks; *l; l++)
    if (strstr(r->body, *l))
      harness_fail_at(file, line, "the 5xx problem reveals \"%s\": %s", *l, r->body);
  if (r->status == 503 && !http_header(r, "Retry-After"))
    harness_fail_at(file, line, "503 without Retry-After");
  http_response_free(r);
  long n = rows_for_request(rid);
  if (n != 0)
    harness_fail_at(file, line, "%ld audit rows were stored for the failed request %s", n, rid);
}

static http_response *with_rid(const char *method, const char *path, const char *token, json_t *body, const char *rid) {
  char h[160];
  snprintf(h, sizeof h, "X-Request-Id: %s", rid);
  const char *const headers[] = {h, NULL};
  if (body)
    return http_json_with_headers(method, path, token, body, headers);
  return http_request(method, path, token, NULL, NULL, headers);
}

/* ---------------------------------------------------------------- reading the log */

/* Every row of GET /v1/audit?query (walked at limit 200; query has no limit of its own). */
static json_t *audit_rows(const char *query) { return harness_list_all(hpath("/v1/audit?%s", query), g_admin.token); }

/* The one row with this action about resource_id; fails unless exactly one. Borrowed from *rows_out. */
#define one_row(action, resource_id, rows_out) one_row_at((action), (resource_id), (rows_out), __FILE__, __LINE__)
static json_t *one_row_at(const char *action, const char *resource_id, json_t **rows_out, const char *file, int line) {
  char *rid = harness_urlencode(resource_id);
  json_t *rows = audit_rows(hpath("action=%s&resource_id=%s", action, rid));
  free(rid);
  if (json_array_size(rows) != 1) {
    char *d = json_dumps(rows, JSON_COMPACT);
    harness_fail_at(file, line, "expected one %s row about %s, got %s", action, resource_id, d);
  }
  *rows_out = rows;
  return json_array_get(rows, 0);
}

/* A row about resource_id with this action and actor exists (actor_kind member unless partner). */
#define expect_row(action, type, resource_id, actor)                                                                   \
  expect_row_at((action), (type), (resource_id), (actor), "member", __FILE__, __LINE__)
static void expect_row_at(const char *action, const char *type, const char *resource_id, const char *actor,
                          const char *kind, const char *file, int line) {
  char *rid = harness_urlencode(resource_id);
  json_t *rows = audit_rows(hpath("action=%s&resource_type=%s&resource_id=%s&actor_id=%s", action, type, rid, actor));
  free(rid);
  if (json_array_size(rows) < 1)
    harness_fail_at(file, line, "no %s row about %s %s by %s", action, type, resource_id, actor);
  json_t *row = json_array_get(rows, 0);
  harness_assert_json_str(row, "action", action, file, line);
  harness_assert_json_str(row, "resource_type", type, file, line);
  harness_assert_json_str(row, "resource_id", resource_id, file, line);
  harness_assert_json_str(row, "actor_id", actor, file, line);
  harness_assert_json_str(row, "actor_kind", kind, file, line);
  if (!hjson_str(row, "at") || !hjson_str(row, "request_id") || !json_is_object(hjson_get(row, "details")))
    harness_fail_at(file, line, "an audit row lacks at, request_id or details: %s", json_dumps(row, JSON_COMPACT));
  json_decref(rows);
}

/* ---------------------------------------------------------------- access and filters */

static void test_admin_only(void **state) {
  (void)state;
  const char *tokens[] = {g_mgr.token, g_fac.token, g_prac.token};
  for (int i = 0; i < 3; i++) {
    http_response *r = http_get("/v1/audit", tokens[i]);
    assert_problem(r, 403);
    if (strstr(r->body, "\"action\""))
      harness_fail("a refusal carries audit rows");
    http_response_free(r);
  }
  http_response *r = http_get("/v1/audit", g_partner.token);
  assert_problem(r, 401);
  http_response_free(r);
  r = http_get("/v1/audit", NULL);
  assert_problem(r, 401);
  http_response_free(r);
}

static void test_filters(void **state) {
  (void)state;
  char site[HARNESS_ID_MAX], rid[HARNESS_NAME_MAX];
  harness_new_site_id(g_admin.token, site);
  http_response *r = with_rid("PATCH", hpath("/v1/sites/%s", site), g_admin.token,
                              json_pack("{s:s}", "region", "Audited region"), new_request_id(rid));
  assert_status(r, 200);
  http_response_free(r);
  r = http_request("PUT", hpath("/v1/sites/%s/managers/%s", site, g_mgr.id), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);

  /* by resource: the three rows, in order, nothing else */
  json_t *rows = audit_rows(hpath("resource_type=site&resource_id=%s", site));
  const char *expected[] = {"site.created", "site.updated", "site.manager_added"};
  assert_int_equal(json_array_size(rows), 3);
  for (int i = 0; i < 3; i++) {
    json_t *row = json_array_get(rows, (size_t)i);
    assert_json_str(row, "action", expected[i]);
    assert_json_str(row, "resource_id", site);
    assert_json_str(row, "actor_id", g_admin.id);
    assert_json_str(row, "actor_kind", "member");
  }
  /* ids ascend, and the update's row carries the request id it was sent with */
  assert_true(json_integer_value(hjson_get(json_array_get(rows, 0), "id")) <
              json_integer_value(hjson_get(json_array_get(rows, 2), "id")));
  assert_json_str(json_array_get(rows, 1), "request_id", rid);
  assert_json_str(json_array_get(rows, 2), "details.member_id", g_mgr.id);
  json_decref(rows);
  /* by action, by actor, and combinations */
  rows = audit_rows(hpath("resource_id=%s&action=site.updated", site));
  assert_int_equal(json_array_size(rows), 1);
  json_decref(rows);
  rows = audit_rows(hpath("resource_id=%s&actor_id=%s", site, g_admin.id));
  assert_int_equal(json_array_size(rows), 3);
  json_decref(rows);
  rows = audit_rows(hpath("resource_id=%s&actor_id=%s", site, g_mgr.id)); /* the manager did none of it */
  assert_int_equal(json_array_size(rows), 0);
  json_decref(rows);
  rows = audit_rows(hpath("resource_id=%s&resource_type=member", site));
  assert_int_equal(json_array_size(rows), 0);
  json_decref(rows);
  /* every row of an actor filter is that actor's */
  rows = audit_rows(hpath("actor_id=%s", g_admin.id));
  assert_true(json_array_size(rows) >= 3);
  size_t i;
  json_t *row;
  json_array_foreach(rows, i, row) assert_json_str(row, "actor_id", g_admin.id);
  json_decref(rows);
  r = http_get("/v1/audit?action=site.archived&limit=5", g_admin.token);
  assert_status(r, 200);
  assert_true(json_array_size(hjson_get(r->json, "items")) <= 5);
  json_array_foreach(hjson_get(r->json, "items"), i, row) assert_json_str(row, "action", "site.archived");
  http_response_free(r);

  /* validation */
  const char *bad[] = {"actor_id=not-a-uuid", "actor_id=%27%20OR%201%3D1",
                       "limit=201",           "limit=0",
                       "cursor=zzz",          hpath("resource_type=%s", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")};
  char copies[6][128];
  for (int k = 0; k < 6; k++)
    snprintf(copies[k], sizeof copies[k], "/v1/audit?%s", bad[k]);
  for (int k = 0; k < 6; k++) {
    r = http_get(copies[k], g_admin.token);
    assert_problem(r, 400);
    http_response_free(r);
  }
}

static void test_pagination_walk(void **state) {
  (void)state;
  /* a fresh admin makes seven changes: their rows are a closed set to walk */
  harness_account a;
  harness_new_admin(&a);
  char sites[3][HARNESS_ID_MAX];
  for (int i = 0; i < 3; i++)
    harness_new_site_id(a.token, sites[i]);
  for (int i = 0; i < 3; i++) {
    http_response *r =
        http_json("PATCH", hpath("/v1/sites/%s", sites[i]), a.token, json_pack("{s:s}", "region", "Walked"));
    assert_status(r, 200);
    http_response_free(r);
  }
  http_response *r = http_request("DELETE", hpath("/v1/sites/%s", sites[0]), a.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);

  json_t *all = audit_rows(hpath("actor_id=%s", a.id));
  assert_int_equal(json_array_size(all), 7);
  /* page by page, two at a time */
  json_t *walked = json_array();
  char *cursor = NULL;
  int pages = 0;
  for (;;) {
    r = http_get(cursor ? hpath("/v1/audit?actor_id=%s&limit=2&cursor=%s", a.id, cursor)
                        : hpath("/v1/audit?actor_id=%s&limit=2", a.id),
                 g_admin.token);
    free(cursor);
    cursor = NULL;
    assert_status(r, 200);
    json_t *items = hjson_get(r->json, "items");
    assert_true(json_array_size(items) <= 2);
    json_array_extend(walked, items);
    pages++;
    const char *next = hjson_str(r->json, "next_cursor");
    if (next)
      cursor = harness_urlencode(next);
    else
      assert_true(hjson_is_null(r->json, "next_cursor"));
    http_response_free(r);
    if (!cursor)
      break;
    if (pages > 10)
      harness_fail("the walk does not end");
  }
  assert_int_equal(pages, 4);
  if (!json_equal(all, walked))
    harness_fail("walking two at a time gave other rows than one page:\n  %s\n  %s", json_dumps(all, JSON_COMPACT),
                 json_dumps(walked, JSON_COMPACT));
  /* strictly ascending ids: no row twice, none skipped */
  for (size_t i = 1; i < json_array_size(walked); i++)
    assert_true(json_integer_value(hjson_get(json_array_get(walked, i - 1), "id")) <
                json_integer_value(hjson_get(json_array_get(walked, i), "id")));
  json_decref(all);
  json_decref(walked);
}

/* ---------------------------------------------------------------- rows for the changes of section 9 */

static void test_rows_for_section_9_changes(void **state) {
  (void)state;
  harness_account conv, invitee, joiner, leaver, target;
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &conv);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &invitee);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &joiner);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &leaver);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &target);
  char group[HARNESS_ID_MAX];
  json_decref(harness_new_group(conv.token, g_site, 2, 8, group));
  expect_row("group.created", "group", group, conv.id);

  /* membership: invitation and acceptance, request and approval, role, leaving, removal */
  harness_group_invite(group, conv.token, invitee.id, NULL);
  expect_row("membership.invited", "group", group, conv.id);
  harness_group_activate(group, invitee.token, invitee.id);
  expect_row("membership.activated", "group", group, invitee.id);
  harness_group_join(group, conv.token, &joiner);
  expect_row("membership.requested", "group", group, joiner.id);
  expect_row("membership.activated", "group", group, conv.id);
  harness_group_set_role(group, conv.token, invitee.id, "representative");
  expect_row("membership.role_changed", "group", group, conv.id);
  harness_group_join(group, conv.token, &leaver);
  http_response *r =
      http_request("DELETE", hpath("/v1/groups/%s/members/%s", group, leaver.id), leaver.token, NULL, NULL, NULL);
  assert_true(r->status == 204 || r->status == 200);
  http_response_free(r);
  expect_row("membership.left", "group", group, leaver.id);
  r = http_request("DELETE", hpath("/v1/groups/%s/members/%s", group, joiner.id), conv.token, NULL, NULL, NULL);
  assert_true(r->status == 204 || r->status == 200);
  http_response_free(r);
  expect_row("membership.removed", "group", group, conv.id);

  /* terms: published by the convener, accepted by a member */
  int tv = harness_group_post_terms(group, conv.token, "Audited terms");
  expect_row("group.terms_published", "group", group, conv.id);
  harness_group_accept_terms(group, tv, invitee.token);
  expect_row("group.terms_accepted", "group", group, invitee.id);

  /* roles and status of an account: by the admin, with from and to */
  r = http_json("PATCH", hpath("/v1/members/%s", target.id), g_admin.token, json_pack("{s:s}", "role", "facilitator"));
  assert_status(r, 200);
  http_response_free(r);
  expect_row("member.role_changed", "member", target.id, g_admin.id);
  json_t *rows;
  json_t *row = one_row("member.role_changed", target.id, &rows);
  assert_json_str(row, "details.from", "practitioner");
  assert_json_str(row, "details.to", "facilitator");
  json_decref(rows);
  r = http_json("PATCH", hpath("/v1/members/%s", target.id), g_admin.token, json_pack("{s:s}", "status", "suspended"));
  assert_status(r, 200);
  http_response_free(r);
  expect_row("member.status_changed", "member", target.id, g_admin.id);

  /* consultations: creation, opening, closing, outcome, by the owning manager */
  char c[HARNESS_ID_MAX];
  json_decref(harness_new_consultation(g_mgr.token, harness_consultation_body(g_site, NULL, -60, WEEK), c));
  expect_row("consultation.created", "consultation", c, g_mgr.id);
  harness_consultation_set_status(c, g_mgr.token, "open");
  expect_row("consultation.opened", "consultation", c, g_mgr.id);
  harness_consultation_set_status(c, g_mgr.token, "closed");
  expect_row("consultation.closed", "consultation", c, g_mgr.id);
  r = http_json("PUT", hpath("/v1/consultations/%s/outcome", c), g_mgr.token,
                json_pack("{s:s, s:[{s:s, s:s}]}", "summary", "You said, we did", "actions", "text", "More cover",
                          "status", "planned"));
  assert_status(r, 200);
  http_response_free(r);
  expect_row("consultation.outcome_published", "consultation", c, g_mgr.id);

  /* partners: created, updated, rotated, revoked, by the admin; a partner's own event, by the partner */
  harness_partner p;
  harness_new_partner(g_admin.token, false, &p);
  expect_row("partner.created", "partner", p.id, g_admin.id);
  r = http_json("PATCH", hpath("/v1/partners/%s", p.id), g_admin.token, json_pack("{s:b}", "trusted", 1));
  assert_status(r, 200);
  http_response_free(r);
  expect_row("partner.updated", "partner", p.id, g_admin.id);
  char ev[HARNESS_ID_MAX];
  json_decref(harness_new_event(p.token, harness_event_body("seminar", 4 * 86400, 3600, g_site), ev));
  expect_row_at("event.created", "event", ev, p.id, "partner", __FILE__, __LINE__);
  r = http_json("POST", hpath("/v1/partners/%s/credentials", p.id), g_admin.token, NULL);
  assert_status(r, 200);
  if (strstr(r->body, "client_secret")) {
    json_t *rr = audit_rows(hpath("resource_id=%s", p.id));
    char *text = json_dumps(rr, JSON_COMPACT);
    if (strstr(text, hjson_str(r->json, "client_secret")))
      harness_fail("the audit log stores a client secret");
    free(text);
    json_decref(rr);
  }
  http_response_free(r);
  expect_row("partner.credentials_rotated", "partner", p.id, g_admin.id);
  r = http_request("DELETE", hpath("/v1/partners/%s", p.id), g_admin.token, NULL, NULL, NULL);
  assert_true(r->status == 204 || r->status == 200);
  http_response_free(r);
  expect_row("partner.revoked", "partner", p.id, g_admin.id);

  /* erasure */
  r = http_request("DELETE", "/v1/me", leaver.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  expect_row("member.erased", "member", leaver.id, leaver.id);
}

/* ---------------------------------------------------------------- atomicity */

static void test_site_changes_commit_with_their_row(void **state) {
  (void)state;
  char site[HARNESS_ID_MAX], rid[HARNESS_NAME_MAX];
  harness_new_site_id(g_admin.token, site);
  char path[128], managers[160];
  snprintf(path, sizeof path, "/v1/sites/%s", site);
  snprintf(managers, sizeof managers, "%s/managers", path);
  const char *trigger = force_audit_failure(hpath("NEW.resource_id = '%s'", site));
  char *before = harness_snapshot(path, g_admin.token), *mbefore = harness_snapshot(managers, g_admin.token);
  json_t *rows = audit_rows(hpath("resource_id=%s", site));
  size_t rows_before = json_array_size(rows);
  json_decref(rows);

  expect_failed_cleanly(
      with_rid("PATCH", path, g_admin.token, json_pack("{s:s}", "name", "Never stored"), new_request_id(rid)), rid);
  expect_failed_cleanly(with_rid("PUT", hpath("%s/%s", managers, g_mgr.id), g_admin.token, NULL, new_request_id(rid)),
                        rid);
  expect_failed_cleanly(with_rid("DELETE", path, g_admin.token, NULL, new_request_id(rid)), rid);
  harness_expect_unchanged(before, path, g_admin.token);
  harness_expect_unchanged(mbefore, managers, g_admin.token);
  rows = audit_rows(hpath("resource_id=%s", site));
  assert_int_equal(json_array_size(rows), rows_before);
  json_decref(rows);

  /* without the trigger, the very same change is stored with its row */
  drop_trigger(trigger);
  http_response *r =
      with_rid("PATCH", path, g_admin.token, json_pack("{s:s}", "name", "Stored now"), new_request_id(rid));
  assert_status(r, 200);
  assert_json_str(r->json, "name", "Stored now");
  http_response_free(r);
  assert_int_equal(rows_for_request(rid), 1);
  expect_row("site.updated", "site", site, g_admin.id);
}

static void test_group_creation_commits_with_its_row(void **state) {
  (void)state;
  harness_account p;
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &p);
  const char *trigger = force_audit_failure(hpath("NEW.actor_id = '%s'", p.id));
  char rid[HARNESS_NAME_MAX], name[HARNESS_NAME_MAX];
  harness_unique("Atomic group", name);
  expect_failed_cleanly(with_rid("POST", "/v1/groups", p.token,
                                 json_pack("{s:s, s:s}", "name", name, "site_id", g_site), new_request_id(rid)),
                        rid);
  /* no group, no membership */
  json_t *mine = harness_list_all("/v1/groups?mine=true", p.token);
  assert_int_equal(json_array_size(mine), 0);
  json_decref(mine);
  http_response *r = http_get("/v1/me/export", p.token);
  assert_status(r, 200);
  assert_int_equal(json_array_size(hjson_get(r->json, "group_memberships")), 0);
  http_response_free(r);
  assert_false(harness_list_contains(hpath("/v1/groups?site_id=%s", g_site), g_admin.token, "name", name));
  drop_trigger(trigger);
  json_decref(harness_new_group(p.token, g_site, 0, 0, NULL));
}

static void test_membership_and_terms_commit_with_their_rows(void **state) {
  (void)state;
  harness_account conv, inv;
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &conv);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &inv);
  char group[HARNESS_ID_MAX], rid[HARNESS_NAME_MAX];
  json_decref(harness_new_group(conv.token, g_site, 2, 8, group));
  char list[160], terms[160];
  snprintf(list, sizeof list, "/v1/groups/%s/members", group);
  snprintf(terms, sizeof terms, "/v1/groups/%s/terms", group);
  char *lbefore = harness_snapshot(list, conv.token), *tbefore = harness_snapshot(terms, conv.token);
  char *gbefore = harness_snapshot(hpath("/v1/groups/%s", group), conv.token);

  const char *trigger = force_audit_failure(hpath("NEW.resource_id = '%s'", group));
  expect_failed_cleanly(
      with_rid("POST", list, conv.token, json_pack("{s:s}", "member_id", inv.id), new_request_id(rid)), rid);
  expect_failed_cleanly(with_rid("POST", list, inv.token, json_object(), new_request_id(rid)), rid); /* a request */
  expect_failed_cleanly(
      with_rid("POST", terms, conv.token, json_pack("{s:s}", "body", "Never stored"), new_request_id(rid)), rid);
  expect_failed_cleanly(with_rid("PATCH", hpath("/v1/groups/%s", group), conv.token,
                                 json_pack("{s:s}", "purpose", "Never stored"), new_request_id(rid)),
                        rid);
  harness_expect_unchanged(lbefore, list, conv.token);
  harness_expect_unchanged(tbefore, terms, conv.token);
  harness_expect_unchanged(gbefore, hpath("/v1/groups/%s", group), conv.token);
  http_response *r = http_get(hpath("%s/%s", list, inv.id), conv.token);
  assert_problem(r, 404);
  http_response_free(r);
  drop_trigger(trigger);
  harness_group_invite(group, conv.token, inv.id, NULL);
  expect_row("membership.invited", "group", group, conv.id);
}

static void test_account_changes_commit_with_their_rows(void **state) {
  (void)state;
  harness_account m;
  harness_new_member(g_admin.token, "practitioner", g_site, &m); /* real login: erasure ends sessions */
  char path[128], rid[HARNESS_NAME_MAX];
  snprintf(path, sizeof path, "/v1/members/%s", m.id);
  char *before = harness_snapshot(path, g_admin.token);
  const char *trigger = force_audit_failure(hpath("NEW.resource_id = '%s'", m.id));
  expect_failed_cleanly(
      with_rid("PATCH", path, g_admin.token, json_pack("{s:s}", "role", "facilitator"), new_request_id(rid)), rid);
  expect_failed_cleanly(
      with_rid("PATCH", path, g_admin.token, json_pack("{s:s}", "status", "suspended"), new_request_id(rid)), rid);
  expect_failed_cleanly(with_rid("DELETE", path, g_admin.token, NULL, new_request_id(rid)), rid);
  expect_failed_cleanly(with_rid("DELETE", "/v1/me", m.token, NULL, new_request_id(rid)), rid);
  harness_expect_unchanged(before, path, g_admin.token);
  /* not erased: the account still works, its session too */
  http_response *r = http_get("/v1/me", m.token);
  assert_status(r, 200);
  assert_json_str(r->json, "status", "active");
  assert_json_str(r->json, "email", m.email);
  http_response_free(r);
  r = http_json("POST", "/v1/auth/refresh", NULL, json_pack("{s:s}", "refresh_token", m.refresh));
  assert_status(r, 200);
  http_response_free(r);
  drop_trigger(trigger);
  r = http_request("DELETE", path, g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  expect_row("member.erased", "member", m.id, g_admin.id);
}

static void test_consultation_and_partner_changes_commit_with_their_rows(void **state) {
  (void)state;
  char c[HARNESS_ID_MAX], rid[HARNESS_NAME_MAX];
  json_decref(harness_new_consultation(g_mgr.token, harness_consultation_body(g_site, NULL, -60, WEEK), c));
  char path[128];
  snprintf(path, sizeof path, "/v1/consultations/%s", c);
  char *before = harness_snapshot(path, g_mgr.token);
  const char *trigger = force_audit_failure(hpath("NEW.resource_id = '%s'", c));
  expect_failed_cleanly(with_rid("PATCH", path, g_mgr.token, json_pack("{s:s}", "status", "open"), new_request_id(rid)),
                        rid);
  harness_expect_unchanged(before, path, g_mgr.token);
  drop_trigger(trigger);
  harness_consultation_set_status(c, g_mgr.token, "open");

  /* partner creation by an admin of our own (the trigger matches that actor only) */
  harness_account a;
  harness_new_admin(&a);
  json_t *partners_before = harness_list_all("/v1/partners", g_admin.token);
  trigger = force_audit_failure(hpath("NEW.actor_id = '%s'", a.id));
  char name[HARNESS_NAME_MAX];
  harness_unique("Atomic partner", name);
  http_response *r = with_rid("POST", "/v1/partners", a.token, json_pack("{s:s}", "name", name), new_request_id(rid));
  if (strstr(r->body, "client_secret"))
    harness_fail("a failed partner creation still hands out a client secret: %s", r->body);
  expect_failed_cleanly(r, rid);
  json_t *partners_after = harness_list_all("/v1/partners", g_admin.token);
  assert_int_equal(json_array_size(partners_before), json_array_size(partners_after));
  json_decref(partners_after);
  /* rotation and revocation of an existing partner, by the same admin */
  harness_partner p;
  harness_new_partner(g_admin.token, false, &p);
  expect_failed_cleanly(
      with_rid("POST", hpath("/v1/partners/%s/credentials", p.id), a.token, NULL, new_request_id(rid)), rid);
  expect_failed_cleanly(with_rid("DELETE", hpath("/v1/partners/%s", p.id), a.token, NULL, new_request_id(rid)), rid);
  harness_partner_login(&p); /* the old secret still works: neither rotated nor revoked */
  drop_trigger(trigger);
  json_decref(partners_before);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_admin_only, test_teardown),
      cmocka_unit_test_teardown(test_filters, test_teardown),
      cmocka_unit_test_teardown(test_pagination_walk, test_teardown),
      cmocka_unit_test_teardown(test_rows_for_section_9_changes, test_teardown),
      cmocka_unit_test_teardown(test_site_changes_commit_with_their_row, test_teardown),
      cmocka_unit_test_teardown(test_group_creation_commits_with_its_row, test_teardown),
      cmocka_unit_test_teardown(test_membership_and_terms_commit_with_their_rows, test_teardown),
      cmocka_unit_test_teardown(test_account_changes_commit_with_their_rows, test_teardown),
      cmocka_unit_test_teardown(test_consultation_and_partner_changes_commit_with_their_rows, test_teardown),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
