/*
 * e2e_summaries.c — API.md section 8 (summaries for managers) and issue 6 items 2-4 against the real
 * server, on a small fixed data set built through the API on sites this file creates (so no other
 * test's data can move the numbers):
 *
 *   site S (manager M; MX manages S, T, U and the oddly named site O)
 *     practitioners p[0..5] (active), p[6] suspended, facilitator F
 *     G1 active:  p0 (convener), p1, p2, F; terms accepted by all four
 *     G2 forming: p3 (convener), p0; p5 only requested to join
 *     G3 closed:  p4 (convener), then DELETE
 *     G1 meetings: m0 400 days ago (2 present, 1 absent; "caseload"), m1 3 days ago (3 present,
 *       1 apologies; "caseload", "supervision"), m2 2 days ago (2 present, 2 absent; "Caseload "),
 *       m3 1 day ago (no attendance; "caseload"), m4 in 2 days (future; "caseload", "supervision")
 *     consultations by M: C1 targets S, open, G1 submitted, G2 a draft; C2 targets G1, G1 submitted,
 *       closed; C3 a draft targeting S
 *     events: ES1 (S, published; p0-p2 going, p3 interested, p4 declined), ES2 (S, published),
 *       ES3 (S, cancelled after p5 said going), EP (a partner's, S, pending)
 *   site T (manager MT): practitioners t1, t2 in group GT (forming); one meeting a day ago with
 *     t1 present and t2 absent; event ET (T, published) with t1 going
 *   site U: nothing (the baseline of network-wide upcoming events)
 *   site O: named `Site "A", North <unique>` for CSV quoting
 *
 * Every window is widened by the server to whole UTC days, at least 7 of them, ending at `to` rounded up
 * to the next 00:00Z (API.md section 8); the windows below are chosen on whole days, so that which
 * meetings they hold does not depend on the time of day the suite runs.
 *
 * Hand-computed for S over the default window (the last 12 months):
 *   groups {forming 1, active 1, dormant 0, closed 1}; active_members 5 (p0 p1 p2 F p3: distinct,
 *   non-closed groups, active memberships only); practitioners 6; practitioners_in_groups 4 (p0-p3),
 *   suppressed with its share since "2 in no group" is below the threshold; meetings_held 3; mean_attendance_rate
 *   (3/4 + 2/4) / 2 = 0.625 (m3 has no records); consultations {open 1, closed 1, groups_targeted 3
 *   (C1: G1 G2; C2: G1), groups_submitted 2, response_rate 0.667, both suppressed since 2 submitted is
 *   below the threshold}; upcoming_events = U's + 2; event_registrations 3; top_themes [caseload: 3]
 *   (supervision 1 is below the threshold 3); suppressed [practitioners_in_groups, practitioner_share,
 *   consultations.groups_submitted, consultations.response_rate].
 */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UNKNOWN_UUID "00000000-0000-4000-8000-000000000000"
#define DAY (24L * 3600)
#define WEEK (7 * DAY)

typedef struct summaries_world {
  char s[HARNESS_ID_MAX], t[HARNESS_ID_MAX], u[HARNESS_ID_MAX], o[HARNESS_ID_MAX];
  char s_name[256], t_name[256], o_name[256];
  harness_account m, mt, mx;
  harness_account p[7], f;
  harness_account t1, t2;
  harness_partner partner;
  char g1[HARNESS_ID_MAX], g2[HARNESS_ID_MAX], g3[HARNESS_ID_MAX], gt[HARNESS_ID_MAX];
  char group_names[4][HARNESS_NAME_MAX];
  char m0[HARNESS_ID_MAX], m1[HARNESS_ID_MAX], m2[HARNESS_ID_MAX], m3[HARNESS_ID_MAX], m4[HARNESS_ID_MAX];
  time_t m0_start, m1_start; /* as the server stored them */
  char notes[HARNESS_NAME_MAX + 16], agenda[HARNESS_NAME_MAX + 16], answer[HARNESS_NAME_MAX + 16];
  char terms[HARNESS_NAME_MAX + 16], location[HARNESS_NAME_MAX + 16];
  char c1[HARNESS_ID_MAX], c2[HARNESS_ID_MAX], c3[HARNESS_ID_MAX];
  char es1[HARNESS_ID_MAX], es2[HARNESS_ID_MAX], es3[HARNESS_ID_MAX], ep[HARNESS_ID_MAX], et[HARNESS_ID_MAX];
} summaries_world;

static harness_account g_admin;
static summaries_world W;

/* ---------------------------------------------------------------- building the world */

static void copy_name(char *out, size_t len, const json_t *obj) {
  const char *n = hjson_str(obj, "name");
  snprintf(out, len, "%s", n ? n : "");
}

static void new_group(const harness_account *proposer, const char *site, char *id_out, char *name_out) {
  json_t *g = harness_new_group(proposer->token, site, 0, 0, id_out);
  copy_name(name_out, HARNESS_NAME_MAX, g);
  json_decref(g);
}

static void expect_group_status(const char *gid, const char *status) {
  json_t *g = harness_group_get(gid, g_admin.token);
  const char *st = hjson_str(g, "status");
  if (!st || strcmp(st, status) != 0)
    harness_fail("summaries world: group %s should be %s, is %s", gid, status, st ? st : "(none)");
  json_decref(g);
}

/* A meeting of gid starting now + start_offset seconds for an hour, with the world's agenda, notes and
 * location, and themes (stolen). */
static time_t parse_utc(const char *s);

static time_t new_meeting(const char *gid, const harness_account *leader, long start_offset, json_t *themes,
                          char *id_out) {
  char starts[32], ends[32];
  harness_rfc3339_from_now(start_offset, starts);
  harness_rfc3339_from_now(start_offset + 3600, ends);
  http_response *r =
      http_json("POST", hpath("/v1/groups/%s/meetings", gid), leader->token,
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "starts_at", starts, "ends_at", ends, "agenda", W.agenda,
                          "notes", W.notes, "location", W.location, "themes", themes));
  assert_status(r, 201);
  snprintf(id_out, HARNESS_ID_MAX, "%s", hjson_str(r->json, "id") ? hjson_str(r->json, "id") : "");
  time_t start = parse_utc(hjson_str(r->json, "starts_at"));
  if (start == (time_t)-1)
    harness_fail("summaries world: a meeting's starts_at should be RFC 3339 UTC: %s", r->body);
  http_response_free(r);
  return start;
}

static json_t *att(const harness_account *who, const char *status) {
  return json_pack("{s:s, s:s}", "member_id", who->id, "status", status);
}

/* PUT attendance (the array is stolen). */
static void record_attendance(const char *gid, const char *mid, const harness_account *leader, json_t *attendance) {
  http_response *r = http_json("PUT", hpath("/v1/groups/%s/meetings/%s/attendance", gid, mid), leader->token,
                               json_pack("{s:o}", "attendance", attendance));
  assert_status(r, 200);
  http_response_free(r);
}

static void put_response(const char *cid, const char *gid, const harness_account *who, const char *status) {
  http_response *r =
      http_json("PUT", hpath("/v1/consultations/%s/responses/%s", cid, gid), who->token,
                json_pack("{s:[{s:s, s:s}], s:s}", "answers", "question_id", "q1", "text", W.answer, "status", status));
  if (r->status != 200 && r->status != 201)
    harness_fail("summaries world: response of group %s to %s (%s) should be stored, got %ld %s", gid, cid, status,
                 r->status, r->body);
  http_response_free(r);
}

static void new_event(const harness_account *owner, const char *site, char *id_out, const char *want_status) {
  json_t *e = harness_new_event(owner->token, harness_event_body("workshop", DAY + 3600, 3600, site), id_out);
  const char *st = hjson_str(e, "status");
  if (!st || strcmp(st, want_status) != 0)
    harness_fail("summaries world: a new event by a %s should be %s, is %s", owner->role, want_status,
                 st ? st : "(none)");
  json_decref(e);
}

static void register_for(const char *eid, const harness_account *who, const char *status) {
  http_response *r =
      http_json("PUT", hpath("/v1/events/%s/registration", eid), who->token, json_pack("{s:s}", "status", status));
  if (r->status != 200 && r->status != 201)
    harness_fail("summaries world: registration (%s) to %s should be stored, got %ld %s", status, eid, r->status,
                 r->body);
  http_response_free(r);
}

static void add_manager(const char *site, const harness_account *who) {
  http_response *r =
      http_request("PUT", hpath("/v1/sites/%s/managers/%s", site, who->id), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
}

static void build_world(void) {
  memset(&W, 0, sizeof W);
  char u[HARNESS_NAME_MAX];
  snprintf(W.notes, sizeof W.notes, "NOTES %s", harness_unique("secretnotes", u));
  snprintf(W.agenda, sizeof W.agenda, "AGENDA %s", harness_unique("secretagenda", u));
  snprintf(W.answer, sizeof W.answer, "ANSWER %s", harness_unique("secretanswer", u));
  snprintf(W.terms, sizeof W.terms, "TERMS %s", harness_unique("secretterms", u));
  snprintf(W.location, sizeof W.location, "ROOM %s", harness_unique("secretroom", u));

  /* sites, in this order (the overview lists by creation) */
  json_t *site = harness_new_site(g_admin.token, W.s);
  copy_name(W.s_name, sizeof W.s_name, site);
  json_decref(site);
  site = harness_new_site(g_admin.token, W.t);
  copy_name(W.t_name, sizeof W.t_name, site);
  json_decref(site);
  harness_new_site_id(g_admin.token, W.u);
  char slug[HARNESS_NAME_MAX];
  harness_unique("odd", slug);
  snprintf(W.o_name, sizeof W.o_name, "Site \"A\", North %s", slug);
  http_response *r = http_json("POST", "/v1/sites", g_admin.token,
                               json_pack("{s:s, s:s, s:s}", "slug", slug, "name", W.o_name, "organisation", "E2E"));
  assert_status(r, 201);
  assert_json_str(r->json, "name", W.o_name);
  snprintf(W.o, sizeof W.o, "%s", hjson_str(r->json, "id"));
  http_response_free(r);

  /* people */
  harness_new_manager_quick(g_admin.token, W.s, &W.m);
  harness_new_manager_quick(g_admin.token, W.t, &W.mt);
  harness_new_manager_quick(g_admin.token, W.s, &W.mx);
  add_manager(W.t, &W.mx);
  add_manager(W.u, &W.mx);
  add_manager(W.o, &W.mx);
  for (int i = 0; i < 7; i++)
    harness_new_member_quick(g_admin.token, "practitioner", W.s, &W.p[i]);
  harness_new_member_quick(g_admin.token, "facilitator", W.s, &W.f);
  harness_new_member_quick(g_admin.token, "practitioner", W.t, &W.t1);
  harness_new_member_quick(g_admin.token, "practitioner", W.t, &W.t2);
  harness_new_partner(g_admin.token, false, &W.partner);

  /* G1: four active members who accepted the terms */
  new_group(&W.p[0], W.s, W.g1, W.group_names[0]);
  const harness_account *joiners[] = {&W.p[1], &W.p[2], &W.f};
  for (size_t i = 0; i < 3; i++) {
    harness_group_invite(W.g1, W.p[0].token, joiners[i]->id, NULL);
    harness_group_activate(W.g1, joiners[i]->token, joiners[i]->id);
  }
  int tv = harness_group_post_terms(W.g1, W.p[0].token, W.terms);
  const harness_account *all1[] = {&W.p[0], &W.p[1], &W.p[2], &W.f};
  for (size_t i = 0; i < 4; i++)
    harness_group_accept_terms(W.g1, tv, all1[i]->token);
  expect_group_status(W.g1, "active");

  /* G2: p3 and p0 active, p5 only requested */
  new_group(&W.p[3], W.s, W.g2, W.group_names[1]);
  harness_group_invite(W.g2, W.p[3].token, W.p[0].id, NULL);
  harness_group_activate(W.g2, W.p[0].token, W.p[0].id);
  harness_group_request(W.g2, W.p[5].token);
  expect_group_status(W.g2, "forming");

  /* G3: closed by its convener */
  new_group(&W.p[4], W.s, W.g3, W.group_names[2]);
  r = http_request("DELETE", hpath("/v1/groups/%s", W.g3), W.p[4].token, NULL, NULL, NULL);
  if (r->status != 204 && r->status != 200)
    harness_fail("summaries world: closing G3 should succeed, got %ld %s", r->status, r->body);
  http_response_free(r);
  expect_group_status(W.g3, "closed");

  /* p6 suspended: no longer one of the site's practitioners */
  r = http_json("PATCH", hpath("/v1/members/%s", W.p[6].id), g_admin.token, json_pack("{s:s}", "status", "suspended"));
  assert_status(r, 200);
  http_response_free(r);

  /* GT at T: two members */
  new_group(&W.t1, W.t, W.gt, W.group_names[3]);
  harness_group_invite(W.gt, W.t1.token, W.t2.id, NULL);
  harness_group_activate(W.gt, W.t2.token, W.t2.id);

  /* meetings */
  W.m0_start = new_meeting(W.g1, &W.p[0], -400 * DAY, json_pack("[s]", "caseload"), W.m0);
  record_attendance(W.g1, W.m0, &W.p[0],
                    json_pack("[o, o, o]", att(&W.p[0], "present"), att(&W.p[1], "present"), att(&W.p[2], "absent")));
  W.m1_start = new_meeting(W.g1, &W.p[0], -3 * DAY, json_pack("[s, s]", "caseload", "supervision"), W.m1);
  record_attendance(W.g1, W.m1, &W.p[0],
                    json_pack("[o, o, o, o]", att(&W.p[0], "present"), att(&W.p[1], "present"), att(&W.p[2], "present"),
                              att(&W.f, "apologies")));
  new_meeting(W.g1, &W.p[0], -2 * DAY, json_pack("[s]", "Caseload "), W.m2);
  record_attendance(W.g1, W.m2, &W.p[0],
                    json_pack("[o, o, o, o]", att(&W.p[0], "present"), att(&W.p[1], "present"), att(&W.p[2], "absent"),
                              att(&W.f, "absent")));
  new_meeting(W.g1, &W.p[0], -1 * DAY, json_pack("[s]", "caseload"), W.m3);
  new_meeting(W.g1, &W.p[0], 2 * DAY, json_pack("[s, s]", "caseload", "supervision"), W.m4);
  char mt[HARNESS_ID_MAX];
  new_meeting(W.gt, &W.t1, -1 * DAY, json_pack("[s]", "caseload"), mt);
  record_attendance(W.gt, mt, &W.t1, json_pack("[o, o]", att(&W.t1, "present"), att(&W.t2, "absent")));

  /* consultations */
  json_decref(harness_new_consultation(W.m.token, harness_consultation_body(W.s, NULL, -60, WEEK), W.c1));
  harness_consultation_set_status(W.c1, W.m.token, "open");
  put_response(W.c1, W.g1, &W.p[0], "submitted");
  put_response(W.c1, W.g2, &W.p[3], "draft");
  json_decref(harness_new_consultation(W.m.token, harness_consultation_body(NULL, W.g1, -60, WEEK), W.c2));
  harness_consultation_set_status(W.c2, W.m.token, "open");
  put_response(W.c2, W.g1, &W.p[0], "submitted");
  harness_consultation_set_status(W.c2, W.m.token, "closed");
  json_decref(harness_new_consultation(W.m.token, harness_consultation_body(W.s, NULL, -60, WEEK), W.c3));

  /* events */
  new_event(&W.m, W.s, W.es1, "published");
  register_for(W.es1, &W.p[0], "going");
  register_for(W.es1, &W.p[1], "going");
  register_for(W.es1, &W.p[2], "going");
  register_for(W.es1, &W.p[3], "interested");
  register_for(W.es1, &W.p[4], "declined");
  new_event(&W.m, W.s, W.es2, "published");
  new_event(&W.m, W.s, W.es3, "published");
  register_for(W.es3, &W.p[5], "going");
  r = http_request("DELETE", hpath("/v1/events/%s", W.es3), W.m.token, NULL, NULL, NULL);
  if (r->status != 200 && r->status != 204)
    harness_fail("summaries world: cancelling ES3 should succeed, got %ld %s", r->status, r->body);
  http_response_free(r);
  json_t *ev = harness_new_event(W.partner.token, harness_event_body("seminar", DAY + 3600, 3600, W.s), W.ep);
  assert_json_str(ev, "status", "pending");
  json_decref(ev);
  new_event(&W.mt, W.t, W.et, "published");
  register_for(W.et, &W.t1, "going");
}

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  build_world();
  return 0;
}

/* A test that starts its own server stops it even when it failed half way. */
static int stop_nested_servers(void **state) {
  (void)state;
  while (harness_server_depth() > 1)
    harness_server_stop();
  return 0;
}

/* ---------------------------------------------------------------- helpers */

static const char *const summary_keys[] = {"site_id",
                                           "site_name",
                                           "from",
                                           "to",
                                           "window",
                                           "groups",
                                           "active_members",
                                           "practitioners",
                                           "practitioners_in_groups",
                                           "practitioner_share",
                                           "meetings_held",
                                           "mean_attendance_rate",
                                           "consultations",
                                           "upcoming_events",
                                           "event_registrations",
                                           "top_themes",
                                           "suppressed",
                                           NULL};

/* Fields that may be suppressed: counts of people and the rates computed from them. */
static const char *const suppressible[] = {"active_members",
                                           "practitioners",
                                           "practitioners_in_groups",
                                           "practitioner_share",
                                           "mean_attendance_rate",
                                           "event_registrations",
                                           "consultations.groups_submitted",
                                           "consultations.response_rate",
                                           NULL};

static bool in_list(const char *const *list, const char *s) {
  for (; *list; list++)
    if (strcmp(*list, s) == 0)
      return true;
  return false;
}

static bool suppressed_has(const json_t *summary, const char *name) {
  size_t i;
  json_t *e;
  json_array_foreach(hjson_get(summary, "suppressed"), i, e) {
    if (json_is_string(e) && strcmp(json_string_value(e), name) == 0)
      return true;
  }
  return false;
}

static char *dump(const json_t *j) { return j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : strdup("(null)"); }

/* A copy with "suppressed" sorted (its order is not part of the contract). */
static int cmp_json_strings(const void *a, const void *b) {
  return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

static json_t *normalized(const json_t *summary) {
  json_t *copy = json_deep_copy(summary);
  json_t *sup = json_object_get(copy, "suppressed");
  if (json_is_array(sup)) {
    size_t n = json_array_size(sup), i;
    json_t **items = calloc(n + 1, sizeof *items);
    bool all_strings = true;
    for (i = 0; i < n; i++) {
      items[i] = json_incref(json_array_get(sup, i));
      all_strings &= json_is_string(items[i]);
    }
    if (all_strings)
      qsort(items, n, sizeof *items, cmp_json_strings);
    json_array_clear(sup);
    for (i = 0; i < n; i++)
      json_array_append_new(sup, items[i]);
    free(items);
  }
  return copy;
}

/* cmocka truncates a message at 1 KiB: long texts go out in pieces. */
static void print_long(const char *label, const char *text) {
  print_error("  %s ", label);
  for (size_t n = strlen(text), off = 0; off < n; off += 800)
    print_error("%.800s", text + off);
  print_error("\n");
}

/* Fails unless got equals expected (suppressed compared as a set). */
#define assert_summary_equal(got, expected, what) assert_summary_equal_at((got), (expected), (what), __FILE__, __LINE__)
static void assert_summary_equal_at(const json_t *got, const json_t *expected, const char *what, const char *file,
                                    int line) {
  json_t *g = normalized(got), *e = normalized(expected);
  if (!json_equal(g, e)) {
    char *gs = dump(g), *es = dump(e);
    print_error("%s:\n", what);
    print_long("expected", es);
    print_long("got     ", gs);
    harness_fail_at(file, line, "%s: not the expected summary (above)", what);
  }
  json_decref(g);
  json_decref(e);
}

static double rounded3(double x) { return floor(x * 1000 + 0.5) / 1000; }

/* A field of a summary by its name in "suppressed": "key" or "parent.key". */
static json_t *field_of(const json_t *o, const char *name) {
  const char *dot = strchr(name, '.');
  if (!dot)
    return hjson_get(o, name);
  char parent[64];
  snprintf(parent, sizeof parent, "%.*s", (int)(dot - name), name);
  return json_object_get(hjson_get(o, parent), dot + 1);
}

static time_t floor_day(time_t t) { return t - (((t % DAY) + DAY) % DAY); }
static time_t ceil_day(time_t t) { return floor_day(t) == t ? t : floor_day(t) + DAY; }

/* The rules every summary object keeps, whatever its site (threshold: the server's):
 *   exactly the documented keys; the window used covers the one asked for, in whole UTC days, at
 *   least 7; suppressed names only suppressible fields, once each, all null;
 *   every people count is null and listed, or at least the threshold; a share or rate is null and
 *   listed when any count under it is; the response rate is submitted / targeted, shown only when
 *   groups_submitted reaches the threshold (or null without targets); themes reach the
 *   threshold and come most shared first; the only strings are ids, the site name, the window,
 *   theme tags and field names (no free text). */
#define check_invariants(o, threshold, ctx) check_invariants_at((o), (threshold), (ctx), __FILE__, __LINE__)
static void check_invariants_at(const json_t *o, long threshold, const char *ctx, const char *file, int line) {
  char *body = dump(o);
#define BAD(...)                                                                                                       \
  do {                                                                                                                 \
    char why_[512];                                                                                                    \
    snprintf(why_, sizeof why_, __VA_ARGS__);                                                                          \
    print_long("in", body);                                                                                            \
    harness_fail_at(file, line, "%s: %s", ctx, why_);                                                                  \
  } while (0)
  if (!json_is_object(o))
    BAD("not an object");
  if (json_object_size(o) != 17)
    BAD("expected exactly the 17 documented keys, got %zu", json_object_size(o));
  for (size_t i = 0; summary_keys[i]; i++)
    if (!json_object_get(o, summary_keys[i]))
      BAD("missing key %s", summary_keys[i]);
  if (!harness_is_uuid(hjson_str(o, "site_id")) || !hjson_str(o, "site_name") || !hjson_str(o, "from") ||
      !hjson_str(o, "to"))
    BAD("site_id, site_name, from, to must be strings");
  json_t *w = hjson_get(o, "window");
  time_t asked_from = parse_utc(hjson_str(o, "from")), asked_to = parse_utc(hjson_str(o, "to"));
  time_t used_from = parse_utc(json_string_value(json_object_get(w, "from")));
  time_t used_to = parse_utc(json_string_value(json_object_get(w, "to")));
  if (!json_is_object(w) || json_object_size(w) != 2 || used_from == (time_t)-1 || used_to == (time_t)-1)
    BAD("window must be exactly {from, to}, RFC 3339 UTC");
  if (used_from % DAY != 0 || used_to % DAY != 0 || used_to - used_from < 7 * DAY)
    BAD("the window used must be whole UTC days, at least 7 of them");
  if (used_from > asked_from || used_to < asked_to)
    BAD("the window used must cover the window asked for");
  /* to is echoed in whole seconds, rounded down: a fraction past 00:00:00 reaches into the next day */
  if (used_to != ceil_day(asked_to) && used_to != ceil_day(asked_to + 1))
    BAD("the window used must end at the asked end rounded up to 00:00Z");

  json_t *sup = hjson_get(o, "suppressed");
  if (!json_is_array(sup))
    BAD("suppressed must be an array");
  size_t i, j;
  json_t *e, *e2;
  json_array_foreach(sup, i, e) {
    if (!json_is_string(e) || !in_list(suppressible, json_string_value(e)))
      BAD("suppressed lists %s, which is not a suppressible field", json_is_string(e) ? json_string_value(e) : "?");
    if (!json_is_null(field_of(o, json_string_value(e))))
      BAD("%s is listed as suppressed but has a value", json_string_value(e));
    json_array_foreach(sup, j, e2) {
      if (j > i && json_equal(e, e2))
        BAD("%s is listed twice", json_string_value(e));
    }
  }
  const char *counts[] = {"active_members", "practitioners", "practitioners_in_groups", "event_registrations"};
  for (i = 0; i < 4; i++) {
    json_t *v = hjson_get(o, counts[i]);
    if (json_is_null(v)) {
      if (!suppressed_has(o, counts[i]))
        BAD("%s is null but not listed in suppressed", counts[i]);
    } else if (!json_is_integer(v) || json_integer_value(v) < threshold) {
      BAD("%s must be null (suppressed) or an integer >= %ld", counts[i], threshold);
    }
  }
  json_t *share = hjson_get(o, "practitioner_share");
  bool under_suppressed = suppressed_has(o, "practitioners") || suppressed_has(o, "practitioners_in_groups");
  if (under_suppressed && !(json_is_null(share) && suppressed_has(o, "practitioner_share")))
    BAD("practitioner_share must be null and suppressed when a count under it is");
  if (json_is_number(share)) {
    double expected = rounded3((double)json_integer_value(hjson_get(o, "practitioners_in_groups")) /
                               (double)json_integer_value(hjson_get(o, "practitioners")));
    if (fabs(json_number_value(share) - expected) > 1e-9)
      BAD("practitioner_share should be practitioners_in_groups / practitioners = %.3f", expected);
  } else if (!json_is_null(share)) {
    BAD("practitioner_share must be a number or null");
  }
  json_t *rate = hjson_get(o, "mean_attendance_rate");
  if (json_is_null(rate) ? !suppressed_has(o, "mean_attendance_rate")
                         : !(json_is_number(rate) && json_number_value(rate) >= 0 && json_number_value(rate) <= 1))
    BAD("mean_attendance_rate must be a number in [0, 1], or null and suppressed");
  if (json_is_number(rate) && json_integer_value(hjson_get(o, "meetings_held")) == 0)
    BAD("a mean attendance rate without meetings held");
  const char *plain[] = {"meetings_held", "upcoming_events"};
  for (i = 0; i < 2; i++) {
    json_t *v = hjson_get(o, plain[i]);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
      BAD("%s must be an integer >= 0 (never suppressed)", plain[i]);
  }
  json_t *groups = hjson_get(o, "groups");
  const char *statuses[] = {"forming", "active", "dormant", "closed"};
  if (!json_is_object(groups) || json_object_size(groups) != 4)
    BAD("groups must be an object of exactly forming, active, dormant, closed");
  for (i = 0; i < 4; i++) {
    json_t *v = json_object_get(groups, statuses[i]);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
      BAD("groups.%s must be an integer >= 0", statuses[i]);
  }
  json_t *c = hjson_get(o, "consultations");
  const char *cs[] = {"open", "closed", "groups_targeted", "groups_submitted"};
  if (!json_is_object(c) || json_object_size(c) != 5)
    BAD("consultations must be an object of exactly open, closed, groups_targeted, groups_submitted, response_rate");
  for (i = 0; i < 4; i++) {
    json_t *v = json_object_get(c, cs[i]);
    if (i == 3 && json_is_null(v) && suppressed_has(o, "consultations.groups_submitted"))
      continue;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
      BAD("consultations.%s must be an integer >= 0", cs[i]);
  }
  json_int_t targeted = json_integer_value(json_object_get(c, "groups_targeted"));
  json_t *sub_v = json_object_get(c, "groups_submitted");
  json_int_t submitted = json_integer_value(sub_v);
  json_t *rr = json_object_get(c, "response_rate");
  if (submitted > targeted)
    BAD("more groups submitted than targeted");
  if (json_is_null(sub_v) != suppressed_has(o, "consultations.response_rate"))
    BAD("consultations.groups_submitted and response_rate are suppressed together");
  if (json_is_integer(sub_v) && targeted > 0 && submitted < threshold)
    BAD("a response rate whose numerator (groups_submitted) is below the threshold must be suppressed");
  if (targeted == 0 ? !json_is_null(rr) || json_is_null(sub_v)
                    : !(json_is_null(sub_v)
                            ? json_is_null(rr)
                            : json_is_number(rr) &&
                                  fabs(json_number_value(rr) - rounded3((double)submitted / (double)targeted)) < 1e-9))
    BAD("consultations.response_rate must be groups_submitted / groups_targeted (null without targets, or "
        "suppressed)");
  json_t *themes = hjson_get(o, "top_themes");
  if (!json_is_array(themes) || json_array_size(themes) > 10)
    BAD("top_themes must be an array of at most 10");
  json_int_t previous = -1;
  json_array_foreach(themes, i, e) {
    json_t *n = json_object_get(e, "meetings");
    if (!json_is_object(e) || json_object_size(e) != 2 || !json_is_string(json_object_get(e, "theme")) ||
        !json_is_integer(n))
      BAD("top_themes[%zu] must be exactly {theme, meetings}", i);
    if (json_integer_value(n) < threshold)
      BAD("top_themes[%zu] is shared by fewer meetings than the threshold", i);
    if (previous >= 0 && json_integer_value(n) > previous)
      BAD("top_themes must come most shared first");
    previous = json_integer_value(n);
  }
#undef BAD
  free(body);
}

static http_response *get_summary(const char *site, const char *token, const char *query) {
  return http_get(hpath("/v1/sites/%s/summary%s", site, query ? query : ""), token);
}

/* GET the summary of site as token; asserts 200 and the invariants (at threshold); new reference. */
static json_t *summary_of_at(const char *site, const char *token, const char *query, long threshold) {
  http_response *r = get_summary(site, token, query);
  assert_status(r, 200);
  const char *ct = http_header(r, "Content-Type");
  if (!ct || strncmp(ct, "application/json", 16) != 0)
    harness_fail("a summary should be application/json, got %s", ct ? ct : "(none)");
  check_invariants(r->json, threshold, "site summary");
  assert_json_str(r->json, "site_id", site);
  json_t *o = json_incref(r->json);
  http_response_free(r);
  return o;
}

static json_t *summary_of(const char *site, const char *token, const char *query) {
  return summary_of_at(site, token, query, 3);
}

static time_t parse_utc(const char *s) {
  struct tm tm;
  char z = 0;
  memset(&tm, 0, sizeof tm);
  if (!s ||
      sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
             &z) != 7 ||
      (z != 'Z' && z != '.'))
    return (time_t)-1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return timegm(&tm);
}

/* Writes "?from=<now + from_offset>&to=<now + to_offset>" to out (128 bytes) and returns it. */
static char *window(long from_offset, long to_offset, char *out) {
  char f[32], t[32];
  harness_rfc3339_from_now(from_offset, f);
  harness_rfc3339_from_now(to_offset, t);
  snprintf(out, 128, "?from=%s&to=%s", f, t);
  return out;
}

/* The expected summary of S with the given figures (upcoming_events, from, to and window copied from
 * got: check_invariants and test_window check those). With groups_submitted null in consultations,
 * it and the response rate are listed as suppressed. */
/* S has 6 practitioners and 4 of them in groups: showing both would give away "2 in no group", a
 * number below the threshold, so practitioners_in_groups and its share are suppressed too
 * (complementary suppression). */
static json_t *expected_s(const json_t *got, int held, json_t *mean_rate, json_t *consultations, json_t *themes,
                          json_t *suppressed) {
  json_array_append_new(suppressed, json_string("practitioners_in_groups"));
  json_array_append_new(suppressed, json_string("practitioner_share"));
  if (json_is_null(json_object_get(consultations, "groups_submitted"))) {
    json_array_append_new(suppressed, json_string("consultations.groups_submitted"));
    json_array_append_new(suppressed, json_string("consultations.response_rate"));
  }
  return json_pack("{s:s, s:s, s:O, s:O, s:O, s:{s:i, s:i, s:i, s:i}, s:i, s:i, s:n, s:n, s:i, s:o, s:o, s:O, s:i, "
                   "s:o, s:o}",
                   "site_id", W.s, "site_name", W.s_name, "from", hjson_get(got, "from"), "to", hjson_get(got, "to"),
                   "window", hjson_get(got, "window"), "groups", "forming", 1, "active", 1, "dormant", 0, "closed", 1,
                   "active_members", 5, "practitioners", 6, "practitioners_in_groups", "practitioner_share",
                   "meetings_held", held, "mean_attendance_rate", mean_rate, "consultations", consultations,
                   "upcoming_events", hjson_get(got, "upcoming_events"), "event_registrations", 3, "top_themes", themes,
                   "suppressed", suppressed);
}

/* S's consultations: 2 of 3 targeted groups submitted, a numerator below the threshold 3, so the
 * response rate is suppressed, and groups_submitted with it (2 / 3 would give the rate away). */
static json_t *s_consultations_default(void) {
  return json_pack("{s:i, s:i, s:i, s:n, s:n}", "open", 1, "closed", 1, "groups_targeted", 3, "groups_submitted",
                   "response_rate");
}

/* The same at threshold 1 or 2: nothing suppressed. */
static json_t *s_consultations_shown(void) {
  return json_pack("{s:i, s:i, s:i, s:i, s:f}", "open", 1, "closed", 1, "groups_targeted", 3, "groups_submitted", 2,
                   "response_rate", 0.667);
}

static json_t *no_consultations(void) {
  return json_pack("{s:i, s:i, s:i, s:i, s:n}", "open", 0, "closed", 0, "groups_targeted", 0, "groups_submitted", 0,
                   "response_rate");
}

/* The expected summary of T at threshold 3 (upcoming_events, from, to and window copied from got). */
static json_t *expected_t(const json_t *got) {
  return json_pack("{s:s, s:s, s:O, s:O, s:O, s:{s:i, s:i, s:i, s:i}, s:n, s:n, s:n, s:n, s:i, s:n, s:o, s:O, s:n, "
                   "s:[], s:[s, s, s, s, s, s]}",
                   "site_id", W.t, "site_name", W.t_name, "from", hjson_get(got, "from"), "to", hjson_get(got, "to"),
                   "window", hjson_get(got, "window"), "groups", "forming", 1, "active", 0, "dormant", 0, "closed", 0,
                   "active_members", "practitioners", "practitioners_in_groups", "practitioner_share", "meetings_held",
                   1, "mean_attendance_rate", "consultations", no_consultations(), "upcoming_events",
                   hjson_get(got, "upcoming_events"), "event_registrations", "top_themes", "suppressed",
                   "active_members", "practitioners", "practitioners_in_groups", "practitioner_share",
                   "mean_attendance_rate", "event_registrations");
}

/* ---------------------------------------------------------------- the site summary, by hand */

static void test_site_summary_exact_for_its_manager(void **state) {
  (void)state;
  json_t *got = summary_of(W.s, W.m.token, NULL);
  json_t *exp = expected_s(got, 3, json_real(0.625), s_consultations_default(),
                           json_pack("[{s:s, s:i}]", "theme", "caseload", "meetings", 3), json_array());
  assert_summary_equal(got, exp, "summary of S for its manager (default window)");
  /* S has two upcoming published events of its own, whatever the network has */
  assert_true(json_integer_value(hjson_get(got, "upcoming_events")) >= 2);
  /* the default window: the last 12 months, ending now */
  time_t from = parse_utc(hjson_str(got, "from")), to = parse_utc(hjson_str(got, "to")), now = time(NULL);
  if (from == (time_t)-1 || to == (time_t)-1)
    harness_fail("from and to should be RFC 3339 UTC, got %s and %s", hjson_str(got, "from"), hjson_str(got, "to"));
  if (labs((long)(to - now)) > 120 || labs((long)(to - from) - 365 * DAY) > 2 * DAY)
    harness_fail("the default window should be the last 12 months up to now, got %s .. %s", hjson_str(got, "from"),
                 hjson_str(got, "to"));
  /* the figures' window: those 12 months in whole UTC days, up to the next 00:00Z */
  const json_t *w = hjson_get(got, "window");
  time_t used_from = parse_utc(hjson_str(w, "from")), used_to = parse_utc(hjson_str(w, "to"));
  if (used_from != floor_day(from) || used_to != ceil_day(to) || used_to <= now - 120 || used_to > now + DAY + 120)
    harness_fail("the default window should be widened to %s's 00:00Z .. the 00:00Z after %s, got %s .. %s",
                 hjson_str(got, "from"), hjson_str(got, "to"), hjson_str(w, "from"), hjson_str(w, "to"));
  json_decref(exp);

  /* the admin reads the same figures */
  json_t *admin = summary_of(W.s, g_admin.token, NULL);
  json_object_set(admin, "from", hjson_get(got, "from"));
  json_object_set(admin, "to", hjson_get(got, "to"));
  json_object_set(admin, "window", hjson_get(got, "window"));
  json_object_set(admin, "upcoming_events", hjson_get(got, "upcoming_events"));
  assert_summary_equal(admin, got, "summary of S for an admin (vs its manager)");
  json_decref(admin);
  json_decref(got);
}

/* Upcoming events: network-wide ones count for every site (and other tests make those), so they are
 * compared within one overview answer (one query): S has two more than U (ES1, ES2; not the
 * cancelled ES3 nor the partner's pending EP), T one more, the oddly named site none. */
static void test_upcoming_events_against_a_baseline_site(void **state) {
  (void)state;
  json_t *items = harness_list_all("/v1/summaries/sites", W.mx.token);
  json_int_t up[4] = {-1, -1, -1, -1};
  const char *ids[4] = {W.s, W.t, W.u, W.o};
  size_t i;
  json_t *it;
  json_array_foreach(items, i, it) {
    for (int k = 0; k < 4; k++)
      if (hjson_str(it, "site_id") && strcmp(hjson_str(it, "site_id"), ids[k]) == 0)
        up[k] = json_integer_value(hjson_get(it, "upcoming_events"));
  }
  if (json_array_size(items) != 4 || up[0] < 0 || up[1] < 0 || up[2] < 0 || up[3] < 0) {
    print_long("rows", dump(items));
    harness_fail("MX manages S, T, U and O: expected those four rows (above)");
  }
  if (up[0] - up[2] != 2 || up[1] - up[2] != 1 || up[3] != up[2])
    harness_fail("upcoming events: expected S = U + 2, T = U + 1, O = U; got S %lld, T %lld, U %lld, O %lld",
                 (long long)up[0], (long long)up[1], (long long)up[2], (long long)up[3]);
  json_decref(items);
}

/* ---------------------------------------------------------------- suppression */

static void test_small_site_is_suppressed(void **state) {
  (void)state;
  json_t *got = summary_of(W.t, W.mt.token, NULL);
  json_t *exp = expected_t(got);
  assert_summary_equal(got, exp, "summary of T (two practitioners, one group of two, two attendance records)");
  json_decref(exp);
  /* a suppressed count appears nowhere else in the object: every number left is a group count, a
   * meeting count, an event count or 0 */
  json_t *admin = summary_of(W.t, g_admin.token, NULL);
  json_object_set(admin, "upcoming_events", hjson_get(got, "upcoming_events"));
  json_object_set(admin, "from", hjson_get(got, "from"));
  json_object_set(admin, "to", hjson_get(got, "to"));
  json_object_set(admin, "window", hjson_get(got, "window"));
  assert_summary_equal(admin, got, "summary of T for an admin (vs its manager): suppressed for admins too");
  json_decref(admin);
  json_decref(got);

  /* an empty site: every people count is 0, below the threshold, so suppressed too */
  got = summary_of(W.u, W.mx.token, NULL);
  assert_true(hjson_is_null(got, "active_members") && suppressed_has(got, "active_members"));
  assert_true(hjson_is_null(got, "mean_attendance_rate") && suppressed_has(got, "mean_attendance_rate"));
  assert_json_int(got, "meetings_held", 0);
  json_decref(got);
}

/* The threshold is configuration (FORUMNET_SUPPRESSION_THRESHOLD): at 5, S's 4 practitioners in
 * groups and 3 registrations are hidden, and caseload (3 meetings) is no longer a shared theme; at 1
 * nothing of T is hidden. */
static void test_threshold_is_configurable(void **state) {
  (void)state;
  const char *const five[] = {"FORUMNET_SUPPRESSION_THRESHOLD=5", NULL};
  harness_server_start(five);
  http_response *r = get_summary(W.s, W.m.token, NULL);
  assert_status(r, 200);
  check_invariants(r->json, 5, "summary of S at threshold 5");
  json_t *exp = json_pack(
      "{s:s, s:s, s:O, s:O, s:{s:i, s:i, s:i, s:i}, s:i, s:i, s:n, s:n, s:i, s:f, s:o, s:O, s:n, s:[], "
      "s:[s, s, s, s, s]}",
      "site_id", W.s, "site_name", W.s_name, "from", hjson_get(r->json, "from"), "to", hjson_get(r->json, "to"),
      "groups", "forming", 1, "active", 1, "dormant", 0, "closed", 1, "active_members", 5, "practitioners", 6,
      "practitioners_in_groups", "practitioner_share", "meetings_held", 3, "mean_attendance_rate", 0.625,
      "consultations", s_consultations_default(), "upcoming_events", hjson_get(r->json, "upcoming_events"),
      "event_registrations", "top_themes", "suppressed", "practitioners_in_groups", "practitioner_share",
      "event_registrations", "consultations.groups_submitted", "consultations.response_rate");
  json_object_set(exp, "window", hjson_get(r->json, "window"));
  assert_summary_equal(r->json, exp, "summary of S at threshold 5");
  json_decref(exp);
  http_response_free(r);
  harness_server_stop();

  const char *const one[] = {"FORUMNET_SUPPRESSION_THRESHOLD=1", NULL};
  harness_server_start(one);
  r = get_summary(W.t, W.mt.token, NULL);
  assert_status(r, 200);
  check_invariants(r->json, 1, "summary of T at threshold 1");
  exp = json_pack("{s:s, s:s, s:O, s:O, s:{s:i, s:i, s:i, s:i}, s:i, s:i, s:i, s:f, s:i, s:f, s:o, s:O, s:i, "
                  "s:[{s:s, s:i}], s:[]}",
                  "site_id", W.t, "site_name", W.t_name, "from", hjson_get(r->json, "from"), "to",
                  hjson_get(r->json, "to"), "groups", "forming", 1, "active", 0, "dormant", 0, "closed", 0,
                  "active_members", 2, "practitioners", 2, "practitioners_in_groups", 2, "practitioner_share", 1.0,
                  "meetings_held", 1, "mean_attendance_rate", 0.5, "consultations", no_consultations(),
                  "upcoming_events", hjson_get(r->json, "upcoming_events"), "event_registrations", 1, "top_themes",
                  "theme", "caseload", "meetings", 1, "suppressed");
  json_object_set(exp, "window", hjson_get(r->json, "window"));
  assert_summary_equal(r->json, exp, "summary of T at threshold 1");
  json_decref(exp);
  http_response_free(r);
  /* and S's response rate, 2 of 3 groups, which threshold 3 hides */
  json_t *s1 = summary_of_at(W.s, W.m.token, NULL, 1);
  exp = s_consultations_shown();
  assert_summary_equal(hjson_get(s1, "consultations"), exp, "S's consultations at threshold 1");
  if (suppressed_has(s1, "consultations.response_rate") || suppressed_has(s1, "consultations.groups_submitted"))
    harness_fail("at threshold 1, S's response rate (2 of 3 groups) should not be suppressed");
  json_decref(exp);
  json_decref(s1);
  harness_server_stop();
}

/* No names, no notes, no free text written by members: not the people's names, emails or ids, not a
 * meeting's notes, agenda or location, not the groups' names or terms, not a response's answers. */
static void expect_no_private_text(const http_response *r, const char *what) {
  const harness_account *people[] = {&W.m,    &W.mt,   &W.mx,   &W.p[0], &W.p[1], &W.p[2], &W.p[3],
                                     &W.p[4], &W.p[5], &W.p[6], &W.f,    &W.t1,   &W.t2};
  for (size_t i = 0; i < sizeof people / sizeof people[0]; i++) {
    const char *fields[] = {people[i]->display_name, people[i]->email, people[i]->id};
    for (size_t k = 0; k < 3; k++)
      if (fields[k][0] && strstr(r->body, fields[k]))
        harness_fail("%s reveals a member's %s (%s):\n  %s", what,
                     k == 0   ? "name"
                     : k == 1 ? "email"
                              : "id",
                     fields[k], r->body);
  }
  const char *texts[] = {W.notes,          W.agenda,         W.location,       W.terms,         W.answer,
                         W.group_names[0], W.group_names[1], W.group_names[2], W.group_names[3]};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
    if (texts[i][0] && strstr(r->body, texts[i]))
      harness_fail("%s contains text written in the forums (%s):\n  %s", what, texts[i], r->body);
  const char *words[] = {"notes", "agenda", "display_name", "email", "member_id"};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (strstr(r->body, words[i]))
      harness_fail("%s mentions %s:\n  %s", what, words[i], r->body);
}

static void test_no_names_notes_or_free_text(void **state) {
  (void)state;
  http_response *r = get_summary(W.s, W.m.token, NULL);
  assert_status(r, 200);
  expect_no_private_text(r, "the summary of S");
  http_response_free(r);
  r = get_summary(W.t, g_admin.token, NULL);
  assert_status(r, 200);
  expect_no_private_text(r, "the summary of T");
  http_response_free(r);
  r = http_get("/v1/summaries/sites", W.mx.token);
  assert_status(r, 200);
  expect_no_private_text(r, "the overview");
  http_response_free(r);
  const char *const csv[] = {"Accept: text/csv", NULL};
  r = http_get_with_headers("/v1/summaries/sites", W.mx.token, csv);
  assert_status(r, 200);
  expect_no_private_text(r, "the CSV overview");
  http_response_free(r);
}

/* ---------------------------------------------------------------- the window */

static void utc_text(time_t t, char out[32]) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "?from=<from>&to=<to>" (absolute instants) in out (128 bytes); returns out. */
static char *window_at(time_t from, time_t to, char *out) {
  char f[32], t[32];
  utc_text(from, f);
  utc_text(to, t);
  snprintf(out, 128, "?from=%s&to=%s", f, t);
  return out;
}

/* Asserts got's window is [from, to) exactly. */
static void expect_used_window(const json_t *got, time_t from, time_t to, const char *what) {
  char f[32], t[32];
  utc_text(from, f);
  utc_text(to, t);
  const json_t *w = hjson_get(got, "window");
  if (!hjson_str(w, "from") || !hjson_str(w, "to") || strcmp(hjson_str(w, "from"), f) != 0 ||
      strcmp(hjson_str(w, "to"), t) != 0)
    harness_fail("%s: the window used should be %s .. %s, got %s .. %s", what, f, t,
                 hjson_str(w, "from") ? hjson_str(w, "from") : "?", hjson_str(w, "to") ? hjson_str(w, "to") : "?");
}

/* Windows are widened to whole UTC days, at least 7, ending at `to` rounded up to 00:00Z; the windows
 * here are chosen by the meetings' UTC days (m1's day holds no other meeting of S, nor do the 6 days
 * before it; m0 is alone for a year around it). */
static void test_window(void **state) {
  (void)state;
  char q[128], sent_from[32];
  /* a window before every meeting but m0: nothing held, nothing open, no rate (5 days asked, 7 used) */
  window(-10 * DAY, -5 * DAY, q);
  json_t *got = summary_of(W.s, W.m.token, q);
  json_t *exp =
      expected_s(got, 0, json_null(), no_consultations(), json_array(), json_pack("[s]", "mean_attendance_rate"));
  assert_summary_equal(got, exp, "summary of S from 10 to 5 days ago");
  json_decref(exp);
  /* the window asked for is echoed as sent, and the one used beside it */
  snprintf(sent_from, sizeof sent_from, "%.*s", (int)(strchr(q, '&') - q - 6), q + 6);
  assert_json_str(got, "from", sent_from);
  assert_json_str(got, "to", strchr(q, '&') + 4);
  time_t asked_to = parse_utc(strchr(q, '&') + 4);
  expect_used_window(got, ceil_day(asked_to) - 7 * DAY, ceil_day(asked_to), "10 to 5 days ago");
  json_decref(got);

  /* m1 only: its UTC day, widened to the week ending with it; 3 of 4 present; one mention of a theme
   * is not shared; the consultations opened a minute ago, after this window */
  time_t m1_day = floor_day(W.m1_start);
  got = summary_of(W.s, W.m.token, window_at(m1_day, m1_day + DAY, q));
  exp = expected_s(got, 1, json_real(0.75), no_consultations(), json_array(), json_array());
  assert_summary_equal(got, exp, "summary of S over m1's day");
  expect_used_window(got, m1_day - 6 * DAY, m1_day + DAY, "m1's day");
  json_decref(exp);
  json_decref(got);

  /* m0, 400 days ago: outside the default window, inside this one; 2 of 3 present, and 2 present is
   * below the threshold: the rate is suppressed (issue 11: a rate's numerator is a count of people) */
  time_t m0_day = floor_day(W.m0_start);
  got = summary_of(W.s, W.m.token, window_at(m0_day - 2 * DAY, m0_day + 2 * DAY, q));
  exp = expected_s(got, 1, json_null(), no_consultations(), json_array(), json_pack("[s]", "mean_attendance_rate"));
  assert_summary_equal(got, exp, "summary of S around m0 (2 of 3 present)");
  expect_used_window(got, m0_day - 5 * DAY, m0_day + 2 * DAY, "around m0");
  json_decref(exp);
  json_decref(got);

  /* a window reaching into the future: m4 (in two days) is not held yet */
  got = summary_of(W.s, W.m.token, window(-30 * DAY, 30 * DAY, q));
  exp = expected_s(got, 3, json_real(0.625), s_consultations_default(),
                   json_pack("[{s:s, s:i}]", "theme", "caseload", "meetings", 3), json_array());
  assert_summary_equal(got, exp, "summary of S from 30 days ago to 30 days ahead");
  json_decref(exp);
  json_decref(got);

  /* invalid windows, on both routes */
  char f[32], t[32];
  harness_rfc3339_from_now(-DAY, f);
  harness_rfc3339_from_now(-2 * DAY, t);
  struct {
    const char *query, *field;
  } bad[] = {
      {"?from=yesterday", "from"},
      {"?to=2026-13-45T99:00:00Z", "to"},
      {"?from=2026-01-01", "from"},
      {hpath("?from=%s&to=%s", f, t), "from"},
      {hpath("?from=%s&to=%s", f, f), "from"},
  };
  char queries[5][128];
  for (size_t i = 0; i < 5; i++)
    snprintf(queries[i], sizeof queries[i], "%s", bad[i].query);
  for (size_t i = 0; i < 5; i++) {
    http_response *r = get_summary(W.s, W.m.token, queries[i]);
    if (r->status != 400)
      print_error("window %s\n", queries[i]);
    assert_problem(r, 400);
    assert_error_field(r, bad[i].field);
    http_response_free(r);
    r = http_get(hpath("/v1/summaries/sites%s", queries[i]), W.m.token);
    if (r->status != 400)
      print_error("overview window %s\n", queries[i]);
    assert_problem(r, 400);
    assert_error_field(r, bad[i].field);
    http_response_free(r);
  }
}

/* Differencing (API.md section 8): narrowing from/to must not reveal what a wider window hides. Two
 * windows that differ by one meeting (m1) give the same widened window and the same figures; so does
 * an hour around m1 alone, and the week that holds it; around m0, the hour holding only m0 (2 of 3
 * present) keeps the rate the wider window suppresses. */
static void test_narrowing_the_window_reveals_nothing(void **state) {
  (void)state;
  char q[128];
  struct {
    time_t from, to;
    const char *what;
  } around_m1[] = {
      {W.m1_start - 3600, W.m1_start, "the hour before m1 (without m1)"},
      {W.m1_start - 3600, W.m1_start + 1, "the same and one second more (with m1)"},
      {W.m1_start, W.m1_start + 1, "the second m1 started"},
      {ceil_day(W.m1_start + 1) - 7 * DAY, ceil_day(W.m1_start + 1), "the week ending with m1's day"},
  };
  json_t *first = NULL;
  for (size_t i = 0; i < sizeof around_m1 / sizeof around_m1[0]; i++) {
    json_t *got = summary_of(W.s, W.m.token, window_at(around_m1[i].from, around_m1[i].to, q));
    json_t *n = json_deep_copy(got);
    json_object_del(n, "from"); /* the window asked for is echoed as asked */
    json_object_del(n, "to");
    json_object_set_new(n, "upcoming_events", json_integer(0)); /* others publish network events meanwhile */
    if (!first) {
      first = json_incref(n);
      assert_json_int(got, "meetings_held", 1);
    } else {
      assert_summary_equal(n, first, around_m1[i].what);
    }
    json_decref(n);
    json_decref(got);
  }
  json_decref(first);

  json_t *hour = summary_of(W.s, W.m.token, window_at(W.m0_start - 1800, W.m0_start + 1800, q));
  assert_json_int(hour, "meetings_held", 1);
  if (!hjson_is_null(hour, "mean_attendance_rate") || !suppressed_has(hour, "mean_attendance_rate"))
    harness_fail("an hour around m0 (2 of 3 present) must keep its attendance rate suppressed");
  json_decref(hour);
}

/* A given end beyond the default other end reverses the window just as much: ?from=<tomorrow> (to is
 * now) and ?to=<400 days ago> (from is a year ago) must be 400 like from >= to, not a summary whose
 * own "from" is after its "to". */
static void test_reversed_window_with_a_default_end(void **state) {
  (void)state;
  char f[32], t[32], queries[2][64];
  harness_rfc3339_from_now(DAY, f);
  harness_rfc3339_from_now(-400 * DAY, t);
  snprintf(queries[0], sizeof queries[0], "?from=%s", f);
  snprintf(queries[1], sizeof queries[1], "?to=%s", t);
  int wrong = 0;
  for (size_t i = 0; i < 2; i++) {
    const char *paths[] = {hpath("/v1/sites/%s/summary%s", W.s, queries[i]),
                           hpath("/v1/summaries/sites%s", queries[i])};
    for (size_t k = 0; k < 2; k++) {
      http_response *r = http_get(paths[k], W.m.token);
      if (r->status != 400) {
        print_error("GET %s: expected 400 (the window would end before it starts), got %ld\n", paths[k], r->status);
        print_long("body", r->body);
        wrong++;
      } else {
        assert_problem(r, 400);
      }
      http_response_free(r);
    }
  }
  if (wrong)
    harness_fail("%d reversed window(s) were answered (above)", wrong);
}

/* ---------------------------------------------------------------- access */

static void expect_site_status(const char *site, const char *token, long status, const char *who) {
  http_response *r = get_summary(site, token, NULL);
  if (r->status != status)
    print_error("GET summary of %s as %s: expected %ld\n", site, who, status);
  if (status == 200) {
    assert_status(r, 200);
  } else {
    assert_problem(r, status);
    if (status == 401 && !http_header(r, "WWW-Authenticate"))
      harness_fail("401 without WWW-Authenticate");
  }
  http_response_free(r);
}

static void test_site_summary_access_on_every_role(void **state) {
  (void)state;
  expect_site_status(W.s, g_admin.token, 200, "admin");
  expect_site_status(W.t, g_admin.token, 200, "admin");
  expect_site_status(W.s, W.m.token, 200, "S's manager");
  expect_site_status(W.t, W.m.token, 403, "S's manager on T (sites are visible to every member)");
  expect_site_status(W.t, W.mt.token, 200, "T's manager");
  expect_site_status(W.s, W.mt.token, 403, "T's manager on S");
  expect_site_status(W.s, W.mx.token, 200, "the manager of S and T");
  expect_site_status(W.t, W.mx.token, 200, "the manager of S and T");
  expect_site_status(W.s, W.p[0].token, 403, "a practitioner of S (convener of G1)");
  expect_site_status(W.t, W.t1.token, 403, "a practitioner of T");
  expect_site_status(W.s, W.f.token, 403, "a facilitator of S");
  expect_site_status(W.s, W.partner.token, 401, "a partner token");
  expect_site_status(W.s, NULL, 401, "nobody");
  expect_site_status(UNKNOWN_UUID, g_admin.token, 404, "admin, unknown site");
  expect_site_status(UNKNOWN_UUID, W.m.token, 404, "manager, unknown site");
  expect_site_status(UNKNOWN_UUID, W.p[0].token, 404, "practitioner, unknown site");
  expect_site_status("not-a-uuid", g_admin.token, 404, "admin, malformed id");
  expect_site_status("not-a-uuid", W.m.token, 404, "manager, malformed id");
}

/* A manager removed from a site loses its summary at once. */
static void test_removed_manager_loses_access(void **state) {
  (void)state;
  harness_account gone;
  harness_new_manager_quick(g_admin.token, W.s, &gone);
  expect_site_status(W.s, gone.token, 200, "a manager of S");
  http_response *r =
      http_request("DELETE", hpath("/v1/sites/%s/managers/%s", W.s, gone.id), g_admin.token, NULL, NULL, NULL);
  if (r->status != 204 && r->status != 200)
    harness_fail("removing a manager should succeed, got %ld %s", r->status, r->body);
  http_response_free(r);
  expect_site_status(W.s, gone.token, 403, "a former manager of S");
  r = http_get("/v1/summaries/sites", gone.token);
  assert_status(r, 200);
  assert_int_equal(json_array_size(hjson_get(r->json, "items")), 0);
  assert_true(hjson_is_null(r->json, "next_cursor"));
  http_response_free(r);
}

/* ---------------------------------------------------------------- the overview */

static json_t *find_row(const json_t *items, const char *site) {
  size_t i;
  json_t *it;
  json_array_foreach((json_t *)items, i, it) {
    if (hjson_str(it, "site_id") && strcmp(hjson_str(it, "site_id"), site) == 0)
      return it;
  }
  return NULL;
}

static void test_overview_rows_for_admin_and_managers(void **state) {
  (void)state;
  /* the admin: every site, S and T among them, each row keeping the rules */
  char q[128];
  window(-365 * DAY, DAY, q);
  json_t *all = harness_list_all(hpath("/v1/summaries/sites%s", q), g_admin.token);
  json_t *s_row = find_row(all, W.s), *t_row = find_row(all, W.t);
  if (!s_row || !t_row)
    harness_fail("the admin's overview should list S and T (%zu rows)", json_array_size(all));
  size_t i;
  json_t *it;
  json_array_foreach(all, i, it) { check_invariants(it, 3, "an admin overview row"); }
  /* a row is the site summary over the same window (upcoming events aside: others make network events) */
  json_t *single = summary_of(W.s, g_admin.token, q);
  json_object_set(single, "upcoming_events", hjson_get(s_row, "upcoming_events"));
  assert_summary_equal(s_row, single, "the admin's overview row for S vs the summary of S");
  json_decref(single);
  single = summary_of(W.t, g_admin.token, q);
  json_object_set(single, "upcoming_events", hjson_get(t_row, "upcoming_events"));
  assert_summary_equal(t_row, single, "the admin's overview row for T vs the summary of T");
  json_decref(single);
  json_decref(all);

  /* M: exactly S */
  all = harness_list_all("/v1/summaries/sites", W.m.token);
  if (json_array_size(all) != 1 || !find_row(all, W.s)) {
    print_long("rows", dump(all));
    harness_fail("M manages S only: expected exactly S's row (above)");
  }
  json_t *exp = expected_s(json_array_get(all, 0), 3, json_real(0.625), s_consultations_default(),
                           json_pack("[{s:s, s:i}]", "theme", "caseload", "meetings", 3), json_array());
  assert_summary_equal(json_array_get(all, 0), exp, "M's overview row for S");
  json_decref(exp);
  json_decref(all);
  /* MT: exactly T, suppressed as in its summary */
  all = harness_list_all("/v1/summaries/sites", W.mt.token);
  if (json_array_size(all) != 1 || !find_row(all, W.t)) {
    print_long("rows", dump(all));
    harness_fail("MT manages T only: expected exactly T's row (above)");
  }
  exp = expected_t(json_array_get(all, 0));
  assert_summary_equal(json_array_get(all, 0), exp, "MT's overview row for T");
  json_decref(exp);
  json_decref(all);

  /* MX: S, T, U, O in creation order, one per page with limit=1 */
  const char *order[] = {W.s, W.t, W.u, W.o};
  char *cursor = NULL;
  for (int page = 0; page < 4; page++) {
    http_response *r = http_get(
        cursor ? hpath("/v1/summaries/sites?limit=1&cursor=%s", cursor) : "/v1/summaries/sites?limit=1", W.mx.token);
    free(cursor);
    cursor = NULL;
    assert_status(r, 200);
    json_t *items = hjson_get(r->json, "items");
    if (json_array_size(items) != 1 || strcmp(hjson_str(json_array_get(items, 0), "site_id"), order[page]) != 0)
      harness_fail("page %d of MX's overview (limit 1) should hold site %s:\n  %s", page + 1, order[page], r->body);
    if (page < 3) {
      if (!hjson_str(r->json, "next_cursor"))
        harness_fail("page %d of 4 should have a next_cursor:\n  %s", page + 1, r->body);
      cursor = harness_urlencode(hjson_str(r->json, "next_cursor"));
    } else if (!hjson_is_null(r->json, "next_cursor")) {
      harness_fail("the last page should have next_cursor null:\n  %s", r->body);
    }
    http_response_free(r);
  }
}

static void test_overview_access_and_limits(void **state) {
  (void)state;
  struct {
    const char *token, *who, *query;
    long status;
  } cases[] = {
      {W.p[0].token, "practitioner", "", 403},
      {W.t1.token, "practitioner of T", "", 403},
      {W.f.token, "facilitator", "", 403},
      {W.partner.token, "partner", "", 401},
      {NULL, "nobody", "", 401},
      {g_admin.token, "admin, limit 201", "?limit=201", 400},
      {W.m.token, "manager, limit 201", "?limit=201", 400},
      {W.m.token, "manager, limit 0", "?limit=0", 400},
      {W.m.token, "manager, bad cursor", "?cursor=not-a-cursor", 400},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    http_response *r = http_get(hpath("/v1/summaries/sites%s", cases[i].query), cases[i].token);
    if (r->status != cases[i].status)
      print_error("overview as %s: expected %ld\n", cases[i].who, cases[i].status);
    assert_problem(r, cases[i].status);
    http_response_free(r);
  }
  http_response *r = http_get("/v1/summaries/sites?limit=200", g_admin.token);
  assert_status(r, 200);
  http_response_free(r);
}

/* ---------------------------------------------------------------- CSV */

/* Parses RFC 4180 text (CRLF after every record, the last included) into an array of arrays of
 * strings; NULL and *why on any departure. */
static json_t *csv_parse(const char *s, size_t n, const char **why) {
  json_t *rows = json_array(), *row = json_array();
  char *field = malloc(n + 1);
  size_t i = 0;
  while (i < n) {
    size_t fl = 0;
    if (s[i] == '"') {
      for (i++;; i++) {
        if (i >= n) {
          *why = "a quoted field is not closed";
          goto bad;
        }
        if (s[i] == '"') {
          if (i + 1 < n && s[i + 1] == '"') {
            field[fl++] = '"';
            i++;
            continue;
          }
          i++;
          break;
        }
        field[fl++] = s[i];
      }
    } else {
      for (; i < n && s[i] != ',' && s[i] != '\r' && s[i] != '\n'; i++) {
        if (s[i] == '"') {
          *why = "a double quote inside an unquoted field";
          goto bad;
        }
        field[fl++] = s[i];
      }
    }
    json_array_append_new(row, json_stringn(field, fl));
    if (i >= n) {
      *why = "the last record does not end with CRLF";
      goto bad;
    }
    if (s[i] == ',') {
      i++;
      continue;
    }
    if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') {
      i += 2;
      json_array_append_new(rows, row);
      row = json_array();
      continue;
    }
    *why = "a line break that is not CRLF, or text after a closing quote";
    goto bad;
  }
  free(field);
  json_decref(row);
  return rows;
bad:
  free(field);
  json_decref(row);
  json_decref(rows);
  return NULL;
}

static const char *csv_cell(const json_t *header, const json_t *row, const char *column) {
  size_t i;
  json_t *h;
  json_array_foreach((json_t *)header, i, h) {
    if (strcmp(json_string_value(h), column) == 0)
      return json_string_value(json_array_get(row, i));
  }
  harness_fail("the CSV has no column %s", column);
  return NULL;
}

static const json_t *csv_row(const json_t *rows, const json_t *header, const char *site) {
  for (size_t i = 1; i < json_array_size(rows); i++)
    if (strcmp(csv_cell(header, json_array_get(rows, i), "site_id"), site) == 0)
      return json_array_get(rows, i);
  harness_fail("the CSV has no row for site %s", site);
  return NULL;
}

static void expect_cell(const json_t *header, const json_t *row, const char *column, const char *expected) {
  const char *got = csv_cell(header, row, column);
  if (!got || strcmp(got, expected) != 0)
    harness_fail("CSV cell %s: expected \"%s\", got \"%s\"", column, expected, got ? got : "(none)");
}

static json_t *get_csv(const char *path, const char *token, http_response **resp_out) {
  const char *const csv[] = {"Accept: text/csv", NULL};
  http_response *r = http_get_with_headers(path, token, csv);
  assert_status(r, 200);
  const char *ct = http_header(r, "Content-Type");
  if (!ct || strncmp(ct, "text/csv", 8) != 0)
    harness_fail("Accept: text/csv should give text/csv, got %s", ct ? ct : "(none)");
  const char *why = NULL;
  json_t *rows = csv_parse(r->body, r->body_len, &why);
  if (!rows)
    harness_fail("the CSV is not RFC 4180 (%s):\n%s", why, r->body);
  if (json_array_size(rows) < 1)
    harness_fail("the CSV has no header row");
  json_t *header = json_array_get(rows, 0);
  for (size_t i = 0; i < json_array_size(rows); i++)
    if (json_array_size(json_array_get(rows, i)) != json_array_size(header))
      harness_fail("CSV record %zu has %zu fields, the header %zu", i, json_array_size(json_array_get(rows, i)),
                   json_array_size(header));
  *resp_out = r;
  return rows;
}

static void test_overview_csv(void **state) {
  (void)state;
  http_response *r;
  json_t *rows = get_csv("/v1/summaries/sites", W.mx.token, &r);
  json_t *header = json_array_get(rows, 0);
  const char *columns[] = {"site_id",
                           "site_name",
                           "from",
                           "to",
                           "window.from",
                           "window.to",
                           "active_members",
                           "practitioners",
                           "mean_attendance_rate",
                           "upcoming_events",
                           "event_registrations",
                           "top_themes",
                           "suppressed"};
  for (size_t i = 0; i < sizeof columns / sizeof columns[0]; i++)
    (void)csv_cell(header, header, columns[i]);
  /* the same rows as the JSON page */
  http_response *j = http_get("/v1/summaries/sites", W.mx.token);
  assert_status(j, 200);
  json_t *items = hjson_get(j->json, "items");
  assert_int_equal(json_array_size(rows) - 1, json_array_size(items));
  assert_int_equal(json_array_size(items), 4);
  for (size_t i = 0; i < json_array_size(items); i++)
    assert_string_equal(csv_cell(header, json_array_get(rows, i + 1), "site_id"),
                        hjson_str(json_array_get(items, i), "site_id"));
  http_response_free(j);

  /* RFC 4180 quoting of `Site "A", North ...` */
  char *quoted = malloc(strlen(W.o_name) * 2 + 3), *p = quoted;
  *p++ = '"';
  for (const char *c = W.o_name; *c; c++) {
    if (*c == '"')
      *p++ = '"';
    *p++ = *c;
  }
  *p++ = '"';
  *p = '\0';
  if (!strstr(r->body, hpath(",%s,", quoted)))
    harness_fail("the CSV should hold the cell %s:\n%s", quoted, r->body);
  free(quoted);
  expect_cell(header, csv_row(rows, header, W.o), "site_name", W.o_name);

  /* S: the hand-computed figures */
  const json_t *s = csv_row(rows, header, W.s);
  expect_cell(header, s, "site_name", W.s_name);
  expect_cell(header, s, "active_members", "5");
  expect_cell(header, s, "practitioners", "6");
  expect_cell(header, s, "practitioners_in_groups", ""); /* complementary suppression: 2 in no group */
  expect_cell(header, s, "practitioner_share", "");
  expect_cell(header, s, "meetings_held", "3");
  expect_cell(header, s, "mean_attendance_rate", "0.625");
  expect_cell(header, s, "event_registrations", "3");
  expect_cell(header, s, "top_themes", "caseload:3");
  expect_cell(header, s, "consultations.groups_targeted", "3");
  expect_cell(header, s, "consultations.groups_submitted", ""); /* 2 submitted: below the threshold */
  expect_cell(header, s, "consultations.response_rate", "");
  expect_cell(header, s, "suppressed",
              "practitioners_in_groups;practitioner_share;consultations.groups_submitted;consultations.response_rate");
  /* T: suppressed cells are empty, and named */
  const json_t *t = csv_row(rows, header, W.t);
  const char *empty[] = {"active_members",     "practitioners",        "practitioners_in_groups",
                         "practitioner_share", "mean_attendance_rate", "event_registrations"};
  for (size_t i = 0; i < 6; i++) {
    expect_cell(header, t, empty[i], ""); /* (and never a "'" for an empty cell) */
    const char *sup = csv_cell(header, t, "suppressed");
    if (!strstr(sup, empty[i]))
      harness_fail("T's suppressed cell should name %s, is \"%s\"", empty[i], sup);
  }
  expect_cell(header, t, "meetings_held", "1");
  json_decref(rows);
  http_response_free(r);

  /* pages: limit=2 gives two rows and the next cursor in a header */
  rows = get_csv("/v1/summaries/sites?limit=2", W.mx.token, &r);
  assert_int_equal(json_array_size(rows), 3);
  const char *next = http_header(r, "X-Next-Cursor");
  if (!next)
    harness_fail("a CSV page with more to come should carry X-Next-Cursor");
  char *cursor = harness_urlencode(next);
  json_decref(rows);
  http_response_free(r);
  rows = get_csv(hpath("/v1/summaries/sites?limit=2&cursor=%s", cursor), W.mx.token, &r);
  free(cursor);
  header = json_array_get(rows, 0);
  assert_int_equal(json_array_size(rows), 3);
  assert_string_equal(csv_cell(header, json_array_get(rows, 1), "site_id"), W.u);
  assert_string_equal(csv_cell(header, json_array_get(rows, 2), "site_id"), W.o);
  assert_null(http_header(r, "X-Next-Cursor"));
  json_decref(rows);
  http_response_free(r);

  /* errors stay problem+json */
  const char *const csv[] = {"Accept: text/csv", NULL};
  r = http_get_with_headers("/v1/summaries/sites", W.p[0].token, csv);
  assert_problem(r, 403);
  http_response_free(r);
}

/* CSV formula injection (issue 11): a site name a spreadsheet would read as a formula (starting with
 * =, +, -, @, tab or CR) reaches the CSV with a ' in front, then quoted as RFC 4180 requires; numbers
 * are never prefixed. Own sites and manager, so that no other test's rows change. */
static void test_overview_csv_prefixes_formula_cells(void **state) {
  (void)state;
  char u[HARNESS_NAME_MAX];
  harness_unique("f", u);
  const char *names[] = {"=HYPERLINK(\"http://evil.example/\",\"x\")", "+1", "-2", "@x", "\tx", "\rx", "plain"};
  const size_t n = sizeof names / sizeof names[0];
  char ids[sizeof names / sizeof names[0]][HARNESS_ID_MAX], full[sizeof names / sizeof names[0]][256];
  harness_account fm;
  for (size_t i = 0; i < n; i++) {
    char slug[HARNESS_NAME_MAX + 8];
    snprintf(slug, sizeof slug, "%s-%zu", u, i);
    snprintf(full[i], sizeof full[i], "%s %s", names[i], u);
    http_response *r = http_json("POST", "/v1/sites", g_admin.token,
                                 json_pack("{s:s, s:s, s:s}", "slug", slug, "name", full[i], "organisation", "E2E"));
    assert_status(r, 201);
    assert_json_str(r->json, "name", full[i]);
    snprintf(ids[i], sizeof ids[i], "%s", hjson_str(r->json, "id"));
    http_response_free(r);
    if (i == 0)
      harness_new_manager_quick(g_admin.token, ids[0], &fm);
    else
      add_manager(ids[i], &fm);
  }
  http_response *r;
  json_t *rows = get_csv("/v1/summaries/sites", fm.token, &r);
  json_t *header = json_array_get(rows, 0);
  assert_int_equal(json_array_size(rows), n + 1);
  for (size_t i = 0; i < n; i++) {
    char want[300];
    snprintf(want, sizeof want, "%s%.255s", i + 1 < n ? "'" : "", full[i]);
    const json_t *row = csv_row(rows, header, ids[i]);
    expect_cell(header, row, "site_name", want);
    /* numbers as numbers: meetings_held 0, never "'0"; groups.closed 0 */
    expect_cell(header, row, "meetings_held", "0");
    expect_cell(header, row, "groups.closed", "0");
  }
  /* the raw text: the formula is inside quotes, after the ' (RFC 4180 quoting of the quotes) */
  char raw[400], *p = raw;
  *p++ = '"';
  *p++ = '\'';
  for (const char *c = full[0]; *c && p < raw + sizeof raw - 3; c++) {
    if (*c == '"')
      *p++ = '"';
    *p++ = *c;
  }
  *p++ = '"';
  *p = '\0';
  if (!strstr(r->body, raw))
    harness_fail("the CSV should hold the cell %s:\n%s", raw, r->body);
  if (!strstr(r->body, hpath(",\"'\r%s\",", names[5] + 1)) && !strstr(r->body, hpath(",\"'\rx %s\",", u)))
    harness_fail("the CR-led name should be prefixed and quoted:\n%s", r->body);
  json_decref(rows);
  http_response_free(r);
  /* JSON keeps the names as they are */
  json_t *items = harness_list_all("/v1/summaries/sites", fm.token);
  for (size_t i = 0; i < n; i++)
    assert_string_equal(hjson_str(find_row(items, ids[i]), "site_name"), full[i]);
  json_decref(items);
}

/* "the same as CSV" (issue 6, item 3): every field of the JSON rows is a column (objects flattened as
 * parent.child, arrays joined as the server joins them: "theme:meetings;..." and "a;b"), with the same
 * value in every row. */
static void test_overview_csv_has_every_json_field(void **state) {
  (void)state;
  char q[128];
  window(-365 * DAY, DAY, q);
  http_response *r;
  json_t *rows = get_csv(hpath("/v1/summaries/sites%s", q), W.mx.token, &r);
  http_response_free(r);
  json_t *header = json_array_get(rows, 0);
  http_response *j = http_get(hpath("/v1/summaries/sites%s", q), W.mx.token);
  assert_status(j, 200);
  json_t *items = hjson_get(j->json, "items");
  assert_int_equal(json_array_size(rows) - 1, json_array_size(items));
  char missing[1024] = "";
  size_t i;
  json_t *item;
  json_array_foreach(items, i, item) {
    const json_t *row = json_array_get(rows, i + 1);
    const char *key;
    json_t *value;
    json_object_foreach(item, key, value) {
      const char *sub_key;
      json_t *sub;
      json_t *leaves = json_object();
      if (json_is_object(value)) {
        json_object_foreach(value, sub_key, sub) { json_object_set(leaves, hpath("%s.%s", key, sub_key), sub); }
      } else {
        json_object_set(leaves, key, value);
      }
      json_object_foreach(leaves, sub_key, sub) {
        size_t c, found = SIZE_MAX;
        json_t *h;
        json_array_foreach(header, c, h) {
          if (strcmp(json_string_value(h), sub_key) == 0)
            found = c;
        }
        if (found == SIZE_MAX) {
          if (i == 0 && strlen(missing) + strlen(sub_key) + 3 < sizeof missing)
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s", missing[0] ? ", " : "",
                     sub_key);
          continue;
        }
        if (strcmp(sub_key, "upcoming_events") == 0) /* others may publish network events in between */
          continue;
        const char *cell = json_string_value(json_array_get(row, found));
        char want[1024] = "";
        bool numeric_ok = true;
        if (json_is_string(sub)) {
          snprintf(want, sizeof want, "%s", json_string_value(sub));
        } else if (json_is_integer(sub)) {
          snprintf(want, sizeof want, "%" JSON_INTEGER_FORMAT, json_integer_value(sub));
        } else if (json_is_real(sub)) {
          char *end = NULL;
          double d = strtod(cell, &end);
          numeric_ok = end && *end == '\0' && end != cell && fabs(d - json_real_value(sub)) < 1e-9;
          snprintf(want, sizeof want, "%s", numeric_ok ? cell : "(the same number)");
        } else if (json_is_array(sub)) {
          size_t k;
          json_t *e;
          json_array_foreach(sub, k, e) {
            size_t off = strlen(want);
            if (json_is_object(e))
              snprintf(want + off, sizeof want - off, "%s%s:%" JSON_INTEGER_FORMAT, k ? ";" : "", hjson_str(e, "theme"),
                       json_integer_value(hjson_get(e, "meetings")));
            else
              snprintf(want + off, sizeof want - off, "%s%s", k ? ";" : "", json_string_value(e));
          }
        }
        if (!numeric_ok || strcmp(cell, want) != 0)
          harness_fail("site %s, column %s: JSON %s, CSV \"%s\"", hjson_str(item, "site_id"), sub_key,
                       json_dumps(sub, JSON_ENCODE_ANY), cell);
      }
      json_decref(leaves);
    }
  }
  http_response_free(j);
  json_decref(rows);
  if (missing[0])
    harness_fail("the CSV lacks these fields of the JSON rows: %s", missing);
}

/* Media types are case-insensitive and q=0 means "not acceptable" (RFC 9110 sections 8.3.1, 12.4.2). */
static void test_overview_content_negotiation(void **state) {
  (void)state;
  struct {
    const char *accept, *type;
  } cases[] = {
      {"Accept: text/csv", "text/csv"},
      {"Accept: text/csv; charset=utf-8", "text/csv"},
      {"Accept: application/json", "application/json"},
      {"Accept: */*", "application/json"},
      {"Accept: TEXT/CSV", "text/csv"},
      {"Accept: text/csv;q=0, application/json", "application/json"},
  };
  int wrong = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *const h[] = {cases[i].accept, NULL};
    http_response *r = http_get_with_headers("/v1/summaries/sites", W.mx.token, h);
    assert_status(r, 200);
    const char *ct = http_header(r, "Content-Type");
    if (!ct || strncmp(ct, cases[i].type, strlen(cases[i].type)) != 0) {
      print_error("GET /v1/summaries/sites with \"%s\": expected %s, got Content-Type %s\n", cases[i].accept,
                  cases[i].type, ct ? ct : "(none)");
      wrong++;
    }
    http_response_free(r);
  }
  if (wrong)
    harness_fail("%d Accept header(s) answered with the wrong media type (above)", wrong);
  /* without a header: JSON */
  http_response *r = http_get("/v1/summaries/sites", W.mx.token);
  assert_status(r, 200);
  assert_true(json_is_array(hjson_get(r->json, "items")));
  http_response_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_site_summary_exact_for_its_manager),
      cmocka_unit_test(test_upcoming_events_against_a_baseline_site),
      cmocka_unit_test(test_small_site_is_suppressed),
      cmocka_unit_test_teardown(test_threshold_is_configurable, stop_nested_servers),
      cmocka_unit_test(test_no_names_notes_or_free_text),
      cmocka_unit_test(test_window),
      cmocka_unit_test(test_narrowing_the_window_reveals_nothing),
      cmocka_unit_test(test_reversed_window_with_a_default_end),
      cmocka_unit_test(test_site_summary_access_on_every_role),
      cmocka_unit_test(test_removed_manager_loses_access),
      cmocka_unit_test(test_overview_rows_for_admin_and_managers),
      cmocka_unit_test(test_overview_access_and_limits),
      cmocka_unit_test(test_overview_csv),
      cmocka_unit_test(test_overview_csv_prefixes_formula_cells),
      cmocka_unit_test(test_overview_csv_has_every_json_field),
      cmocka_unit_test(test_overview_content_negotiation),
  };
  return cmocka_run_group_tests(tests, group_setup, harness_suite_teardown);
}
