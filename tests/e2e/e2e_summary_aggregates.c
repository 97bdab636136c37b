/*
 * e2e_summary_aggregates.c — issue 18: the per-site figures that manager summaries read are kept by the
 * database (sql/016_site_aggregates.sql: site_aggregates, site_figures and site_theme_figures, kept by triggers in
 * the transaction of each change). After every batch of random changes made through the API (groups formed,
 * joined, left, closed or made dormant; meetings held, moved and their attendance recorded; consultations and
 * responses; events published, moved, cancelled and registered for, waitlists included; members suspended,
 * reactivated, moved to another site, given another role, erased), each site's summary must equal
 * site_summary_figures_scratch(), the figures computed from the live rows only, over several windows (the
 * default one, the last ten days, and 400 days back to 60 ahead), through GET /v1/sites/{id}/summary and the
 * overview page GET /v1/summaries/sites.
 *
 * The server runs with FORUMNET_SUPPRESSION_THRESHOLD=1, so that a summary shows every figure except zeros
 * (a count below 1 is null): each figure is compared exactly. Network-wide events count in every summary and
 * other suites may publish one between the two reads, so a mismatch is read again (3 times) before it fails.
 *
 * The random sequence depends on E2E_AGGREGATES_SEED when set (else the time); the seed is printed, and a
 * failure prints the operations of the batch.
 */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DAY (24L * 3600)
#define SITES 3
#define PEOPLE 12
#define MAX_GROUPS 12
#define MAX_MEETINGS 40
#define MAX_EVENTS 12
#define MAX_CONSULTATIONS 8
#define BATCHES 10
#define OPS_PER_BATCH 8

enum person_status { ACTIVE, SUSPENDED, ERASED };

typedef struct person {
  harness_account a;
  int site;
  enum person_status status;
} person;

typedef struct group {
  char id[HARNESS_ID_MAX];
  int convener, site;
  unsigned members; /* bit i: g_people[i] is an active member, as far as the API said */
} group;

typedef struct meeting {
  char id[HARNESS_ID_MAX];
  int group;
} meeting;

static harness_account g_admin, g_manager;
static char g_site[SITES][HARNESS_ID_MAX];
static person g_people[PEOPLE];
static group g_groups[MAX_GROUPS];
static meeting g_meetings[MAX_MEETINGS];
static char g_events[MAX_EVENTS][HARNESS_ID_MAX], g_consultations[MAX_CONSULTATIONS][HARNESS_ID_MAX];
static int g_event_site[MAX_EVENTS];
static int g_ngroups, g_nmeetings, g_nevents, g_nconsultations, g_erased, g_accepted, g_refused;
static unsigned g_seed, g_first_seed; /* g_seed moves on with every draw */
static char g_log[16384];             /* the current batch's operations */

static int pick(int n) { return n > 0 ? (int)(rand_r(&g_seed) % (unsigned)n) : 0; }

/* Logs the operation; a 5xx or a failed exchange fails the test (4xx is a refused change, which is fine:
 * the figures must still match). Frees r. Returns the status. */
static long done(http_response *r, const char *what) {
  long status = r->status;
  size_t used = strlen(g_log);
  snprintf(g_log + used, sizeof g_log - used, "  %s -> %ld\n", what, status);
  if (status / 100 == 2)
    g_accepted++;
  else
    g_refused++;
  if (status == 0 || status >= 500)
    harness_fail("aggregates (seed %u, E2E_AGGREGATES_SEED): %s answered %ld %s\n%s", g_first_seed, what, status,
                 r->body, g_log);
  http_response_free(r);
  return status;
}

static person *active_person(void) {
  for (int tries = 0; tries < 20; tries++) {
    person *p = &g_people[pick(PEOPLE)];
    if (p->status == ACTIVE)
      return p;
  }
  return NULL;
}

static json_t *random_themes(void) {
  static const char *const themes[] = {"caseload", "supervision", "Caseload ", "ethics", "rota"};
  json_t *a = json_array();
  for (int n = pick(4); n > 0; n--)
    json_array_append_new(a, json_string(themes[pick(5)]));
  return a;
}

/* ---------------------------------------------------------------- operations */

static void op_group_new(void) {
  person *p = active_person();
  if (p == NULL || g_ngroups == MAX_GROUPS)
    return;
  group *g = &g_groups[g_ngroups];
  char name[HARNESS_NAME_MAX];
  http_response *r =
      http_json("POST", "/v1/groups", p->a.token,
                json_pack("{s:s, s:s}", "name", harness_unique("Aggregates", name), "site_id", g_site[p->site]));
  if (r->status == 201) {
    snprintf(g->id, sizeof g->id, "%s", hjson_str(r->json, "id"));
    g->convener = (int)(p - g_people);
    g->site = p->site;
    g->members = 1u << g->convener;
    g_ngroups++;
  }
  done(r, "new group");
}

/* Members join groups at their own site: mostly someone of the group's site, sometimes anyone. */
static void op_join(void) {
  group *g = &g_groups[pick(g_ngroups)];
  person *p = active_person();
  for (int tries = 0; p != NULL && p->site != g->site && tries < 6; tries++)
    p = active_person();
  if (p == NULL || g_ngroups == 0)
    return;
  int i = (int)(p - g_people);
  done(http_json("POST", hpath("/v1/groups/%s/members", g->id), g_people[g->convener].a.token,
                 json_pack("{s:s}", "member_id", p->a.id)),
       "invite");
  if (done(http_json("PATCH", hpath("/v1/groups/%s/members/%s", g->id, p->a.id), p->a.token,
                     json_pack("{s:s}", "state", "active")),
           "accept") == 200)
    g->members |= 1u << i;
}

static void op_leave(void) {
  group *g = &g_groups[pick(g_ngroups)];
  if (g_ngroups == 0 || g->members == 0)
    return;
  int i = pick(PEOPLE);
  while (!((g->members >> i) & 1u))
    i = (i + 1) % PEOPLE;
  person *p = &g_people[i];
  if (p->status != ACTIVE || (i == g->convener && pick(4) != 0)) /* conveners mostly stay: they hold meetings */
    return;
  if (done(http_request("DELETE", hpath("/v1/groups/%s/members/%s", g->id, p->a.id), p->a.token, NULL, NULL, NULL),
           "leave") /
          100 ==
      2)
    g->members &= ~(1u << i);
}

static void op_group_status(void) {
  static const char *const statuses[] = {"active", "dormant", "forming"};
  group *g = &g_groups[pick(g_ngroups)];
  if (g_ngroups == 0)
    return;
  if (pick(4) == 0)
    done(http_request("DELETE", hpath("/v1/groups/%s", g->id), g_admin.token, NULL, NULL, NULL), "close group");
  else
    done(http_json("PATCH", hpath("/v1/groups/%s", g->id), g_people[g->convener].a.token,
                   json_pack("{s:s}", "status", statuses[pick(3)])),
         "group status");
}

/* Starts between 30 days ago and 15 days ahead, today included, never within the minute of now. */
static void random_span(char starts[32], char ends[32]) {
  long offset = (pick(45 * 24) - 30 * 24) * 3600L + 60 * (1 + pick(58));
  harness_rfc3339_from_now(offset, starts);
  harness_rfc3339_from_now(offset + 3600, ends);
}

static void op_meeting_new(void) {
  int gi = pick(g_ngroups);
  group *g = &g_groups[gi];
  if (g_ngroups == 0 || g_nmeetings == MAX_MEETINGS)
    return;
  char starts[32], ends[32];
  random_span(starts, ends);
  http_response *r =
      http_json("POST", hpath("/v1/groups/%s/meetings", g->id), g_people[g->convener].a.token,
                json_pack("{s:s, s:s, s:o}", "starts_at", starts, "ends_at", ends, "themes", random_themes()));
  if (r->status == 201) {
    snprintf(g_meetings[g_nmeetings].id, HARNESS_ID_MAX, "%s", hjson_str(r->json, "id"));
    g_meetings[g_nmeetings++].group = gi;
  }
  done(r, "new meeting");
}

static void op_meeting_change(void) {
  static const char *const statuses[] = {"present", "present", "apologies", "absent"};
  meeting *m = &g_meetings[pick(g_nmeetings)];
  if (g_nmeetings == 0)
    return;
  group *g = &g_groups[m->group];
  const char *leader = g_people[g->convener].a.token;
  if (pick(2) == 0) {
    json_t *att = json_array();
    for (int i = 0; i < PEOPLE; i++)
      if ((g->members >> i) & 1u)
        json_array_append_new(att, json_pack("{s:s, s:s}", "member_id", g_people[i].a.id, "status", statuses[pick(4)]));
    done(http_json("PUT", hpath("/v1/groups/%s/meetings/%s/attendance", g->id, m->id), leader,
                   json_pack("{s:o}", "attendance", att)),
         "attendance");
    return;
  }
  char starts[32], ends[32];
  random_span(starts, ends);
  done(http_json("PATCH", hpath("/v1/groups/%s/meetings/%s", g->id, m->id), leader,
                 json_pack("{s:s, s:s, s:o}", "starts_at", starts, "ends_at", ends, "themes", random_themes())),
       "move meeting");
}

static void op_consultation(void) {
  if (g_nconsultations < MAX_CONSULTATIONS && (g_nconsultations == 0 || pick(2) == 0)) {
    group *g = g_ngroups ? &g_groups[pick(g_ngroups)] : NULL;
    int by_group = g != NULL && pick(2) == 0;
    json_t *body = harness_consultation_body(by_group ? NULL : g_site[pick(SITES)], by_group ? g->id : NULL, -60,
                                             (1 + pick(10)) * DAY);
    char *id = g_consultations[g_nconsultations];
    http_response *r = http_json("POST", "/v1/consultations", g_manager.token, body);
    if (r->status == 201) {
      snprintf(id, HARNESS_ID_MAX, "%s", hjson_str(r->json, "id"));
      g_nconsultations++;
    }
    if (done(r, "new consultation") != 201)
      return;
    done(http_json("PATCH", hpath("/v1/consultations/%s", id), g_manager.token, json_pack("{s:s}", "status", "open")),
         "open consultation");
    return;
  }
  const char *c = g_consultations[pick(g_nconsultations)];
  if (pick(5) == 0) {
    done(http_json("PATCH", hpath("/v1/consultations/%s", c), g_manager.token, json_pack("{s:s}", "status", "closed")),
         "close consultation");
    return;
  }
  group *g = &g_groups[pick(g_ngroups)];
  if (g_ngroups == 0)
    return;
  done(http_json("PUT", hpath("/v1/consultations/%s/responses/%s", c, g->id), g_people[g->convener].a.token,
                 json_pack("{s:[{s:s, s:s}], s:s}", "answers", "question_id", "q1", "text", "Fine.", "status",
                           pick(3) ? "submitted" : "draft")),
       "response");
}

static void op_event(void) {
  if (g_nevents < MAX_EVENTS && (g_nevents == 0 || pick(3) == 0)) {
    int site = pick(SITES);
    json_t *body = harness_event_body("workshop", (pick(40 * 24) - 12) * 3600L + 600, 3600, g_site[site]);
    if (pick(2) == 0)
      json_object_set_new(body, "capacity", json_integer(2)); /* a waitlist */
    http_response *r = http_json("POST", "/v1/events", g_manager.token, body);
    if (r->status == 201) {
      g_event_site[g_nevents] = site;
      snprintf(g_events[g_nevents++], HARNESS_ID_MAX, "%s", hjson_str(r->json, "id"));
    }
    done(r, "new event");
    return;
  }
  int ei = pick(g_nevents);
  const char *e = g_events[ei];
  int what = pick(6);
  if (what == 0) {
    done(http_request("DELETE", hpath("/v1/events/%s", e), g_manager.token, NULL, NULL, NULL), "cancel event");
  } else if (what == 1) {
    char starts[32], ends[32];
    long offset = (pick(40 * 24) - 12) * 3600L + 600;
    done(http_json("PATCH", hpath("/v1/events/%s", e), g_manager.token,
                   json_pack("{s:s, s:s}", "starts_at", harness_rfc3339_from_now(offset, starts), "ends_at",
                             harness_rfc3339_from_now(offset + 3600, ends))),
         "move event");
  } else {
    static const char *const answers[] = {"going", "going", "going", "interested", "declined"};
    for (int n = 0; n < 4; n++) { /* people of the event's site, when the first few picks find them */
      person *p = active_person();
      for (int tries = 0; p != NULL && p->site != g_event_site[ei] && tries < 4; tries++)
        p = active_person();
      if (p != NULL)
        done(http_json("PUT", hpath("/v1/events/%s/registration", e), p->a.token,
                       json_pack("{s:s}", "status", answers[pick(5)])),
             "registration");
    }
  }
}

static void op_member(void) {
  person *p = &g_people[pick(PEOPLE)];
  if (p->status == ERASED)
    return;
  const char *path = hpath("/v1/members/%s", p->a.id);
  int what = pick(7);
  if (what == 0 && g_erased < 2) {
    if (done(http_request("DELETE", path, g_admin.token, NULL, NULL, NULL), "erase member") / 100 == 2) {
      p->status = ERASED;
      g_erased++;
    }
  } else if (what <= 2) {
    int to = pick(SITES);
    if (done(http_json("PATCH", path, g_admin.token, json_pack("{s:s}", "home_site_id", g_site[to])), "move member") ==
        200)
      p->site = to;
  } else if (what == 3) {
    done(http_json("PATCH", path, g_admin.token, json_pack("{s:s}", "role", pick(2) ? "facilitator" : "practitioner")),
         "member role");
  } else {
    enum person_status to = p->status == ACTIVE && pick(2) ? SUSPENDED : ACTIVE;
    if (done(http_json("PATCH", path, g_admin.token,
                       json_pack("{s:s}", "status", to == ACTIVE ? "active" : "suspended")),
             "member status") == 200) {
      p->status = to;
      if (to == ACTIVE)
        harness_relogin(&p->a);
    }
  }
}

/* ---------------------------------------------------------------- comparison */

/* Appends to diff when the summary's count (null below the threshold of 1) is not the scratch figure. */
static void check_count(char *diff, size_t len, const json_t *summary, const char *path, const json_t *scratch,
                        const char *column, bool suppressible) {
  json_int_t want = json_integer_value(json_object_get(scratch, column));
  const json_t *got = hjson_get(summary, path);
  bool ok = suppressible && want == 0 ? json_is_null(got) : json_is_integer(got) && json_integer_value(got) == want;
  if (!ok) {
    char *text = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL;
    size_t used = strlen(diff);
    snprintf(diff + used, len - used, " %s=%s (from scratch %lld)", path, text ? text : "missing", (long long)want);
    free(text);
  }
}

/* "" when the summary (threshold 1) shows the figures site_summary_figures_scratch() computes over its window. */
static void compare(const json_t *summary, char *diff, size_t len) {
  diff[0] = '\0';
  const char *id = hjson_str(summary, "site_id"), *from = hjson_str(summary, "window.from"),
             *to = hjson_str(summary, "window.to");
  char query[512];
  snprintf(query, sizeof query,
           "SELECT row_to_json(f) FROM site_summary_figures_scratch(json_build_array('%s'::text), '%s', '%s', 1) f",
           id ? id : "", from ? from : "", to ? to : "");
  char *text = harness_psql_scalar(query);
  json_t *s = json_loads(text, 0, NULL);
  free(text);
  if (s == NULL) {
    snprintf(diff, len, " no figures from scratch");
    return;
  }
  static const char *const plain[][2] = {{"groups.forming", "groups_forming"},
                                         {"groups.active", "groups_active"},
                                         {"groups.dormant", "groups_dormant"},
                                         {"groups.closed", "groups_closed"},
                                         {"meetings_held", "meetings_held"},
                                         {"consultations.open", "consultations_open"},
                                         {"consultations.closed", "consultations_closed"},
                                         {"consultations.groups_targeted", "groups_targeted"},
                                         {"upcoming_events", "upcoming_events"}};
  for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
    check_count(diff, len, summary, plain[i][0], s, plain[i][1], false);
  static const char *const people[][2] = {{"active_members", "active_members"},
                                          {"practitioners", "practitioners"},
                                          {"practitioners_in_groups", "practitioners_in_groups"},
                                          {"event_registrations", "upcoming_registrations"}};
  for (size_t i = 0; i < sizeof people / sizeof people[0]; i++)
    check_count(diff, len, summary, people[i][0], s, people[i][1], true);
  bool no_targets = json_integer_value(json_object_get(s, "groups_targeted")) == 0;
  check_count(diff, len, summary, "consultations.groups_submitted", s, "groups_submitted", !no_targets);
  const json_t *rate = json_object_get(s, "attendance_rate"), *shown = hjson_get(summary, "mean_attendance_rate");
  bool rate_ok = json_is_number(rate) && json_integer_value(json_object_get(s, "attendance_present")) >= 1
                     ? json_is_number(shown) && fabs(json_number_value(shown) - json_number_value(rate)) < 1e-9
                     : json_is_null(shown);
  if (!rate_ok)
    snprintf(diff + strlen(diff), len - strlen(diff), " mean_attendance_rate differs");
  if (!json_equal(hjson_get(summary, "top_themes"), json_object_get(s, "themes")))
    snprintf(diff + strlen(diff), len - strlen(diff), " top_themes differ");
  if (diff[0]) {
    char *row = json_dumps(s, JSON_COMPACT);
    snprintf(diff + strlen(diff), len - strlen(diff), "\n    from scratch: %.1500s", row ? row : "");
    free(row);
  }
  json_decref(s);
}

/* GET path (a summary, or a page of the manager's overview holding `sites` summaries) until each summary in it equals
 * the figures from scratch, at most 3 times. */
static void expect_consistent(const char *path, size_t sites, const harness_account *who, const char *what) {
  char diff[4096] = "";
  for (int attempt = 0; attempt < 3; attempt++) {
    if (attempt > 0)
      usleep(200 * 1000);
    http_response *r = http_get(path, who->token);
    assert_status(r, 200);
    const json_t *items = json_object_get(r->json, "items");
    size_t n = items ? json_array_size(items) : 1;
    diff[0] = '\0';
    for (size_t i = 0; i < n && !diff[0]; i++) {
      const json_t *summary = items ? json_array_get(items, i) : r->json;
      compare(summary, diff, sizeof diff);
      if (diff[0]) {
        char *body = json_dumps(summary, JSON_COMPACT);
        snprintf(diff + strlen(diff), sizeof diff - strlen(diff), "\n    summary: %.1500s", body ? body : "");
        free(body);
      }
    }
    if (items && n != sites)
      snprintf(diff, sizeof diff, " the overview has %zu sites, not %zu", n, sites);
    http_response_free(r);
    if (!diff[0])
      return;
  }
  harness_fail("aggregates (seed %u, E2E_AGGREGATES_SEED): %s: kept figures differ from scratch:%s\nbatch:\n%s",
               g_first_seed, what, diff, g_log);
}

/* The time-independent figures as kept, row for row, against site_aggregates_compute(). */
static void expect_aggregates_exact(void) {
  char query[1024];
  snprintf(query, sizeof query,
           "SELECT count(*) FROM site_aggregates_compute(ARRAY['%s', '%s', '%s']::uuid[]) c"
           " LEFT JOIN site_aggregates a ON a.site_id = c.site_id WHERE a.site_id IS NULL OR"
           " (a.groups_forming, a.groups_active, a.groups_dormant, a.groups_closed, a.active_members,"
           "  a.practitioners, a.practitioners_in_groups) IS DISTINCT FROM"
           " (c.forming::int, c.active::int, c.dormant::int, c.closed::int, c.active_members::int,"
           "  c.practitioners::int, c.in_groups::int)",
           g_site[0], g_site[1], g_site[2]);
  if (harness_psql_long(query) != 0)
    harness_fail(
        "aggregates (seed %u, E2E_AGGREGATES_SEED): site_aggregates differs from site_aggregates_compute\nbatch:\n%s",
        g_first_seed, g_log);
}

static void check_all(void) {
  char from[32], to[32], path[256];
  expect_aggregates_exact();
  expect_consistent("/v1/summaries/sites", SITES, &g_manager, "overview page, default window");
  expect_consistent("/v1/summaries/sites?limit=2", 2, &g_manager, "overview page of 2");
  for (int s = 0; s < SITES; s++) {
    snprintf(path, sizeof path, "/v1/sites/%s/summary?from=%s&to=%s", g_site[s],
             harness_rfc3339_from_now(-10 * DAY, from), harness_rfc3339_from_now(0, to));
    expect_consistent(path, 1, &g_manager, "last ten days");
    snprintf(path, sizeof path, "/v1/sites/%s/summary?from=%s&to=%s", g_site[s],
             harness_rfc3339_from_now(-400 * DAY, from), harness_rfc3339_from_now(60 * DAY, to));
    expect_consistent(path, 1, &g_manager, "400 days back, 60 ahead");
  }
}

/* ---------------------------------------------------------------- tests */

static void test_random_changes_keep_figures_consistent(void **state) {
  (void)state;
  void (*const ops[])(void) = {op_group_new,   op_join,        op_join,           op_leave,          op_group_status,
                               op_meeting_new, op_meeting_new, op_meeting_change, op_meeting_change, op_consultation,
                               op_event,       op_event,       op_member};
  check_all();
  for (int b = 0; b < BATCHES; b++) {
    g_log[0] = '\0';
    for (int i = 0; i < OPS_PER_BATCH; i++)
      ops[pick((int)(sizeof ops / sizeof ops[0]))]();
    if (getenv("E2E_AGGREGATES_VERBOSE"))
      fprintf(stderr, "batch %d:\n%s", b, g_log);
    check_all();
  }
  fprintf(stderr, "e2e_summary_aggregates: %d changes accepted, %d refused (4xx), %d groups, %d meetings, %d events\n",
          g_accepted, g_refused, g_ngroups, g_nmeetings, g_nevents);
  /* Not a test of the API's rules, but most of the random changes must have happened for the comparison to mean
   * anything. */
  if (g_accepted < BATCHES * OPS_PER_BATCH / 4)
    harness_fail("aggregates (seed %u, E2E_AGGREGATES_SEED): only %d of the random changes were accepted", g_first_seed,
                 g_accepted);
}

/* site_aggregates_rebuild() recomputes what the triggers kept: the same rows for these sites (the sums of rates
 * compared as numbers: adding and subtracting a meeting's rate may leave more decimal zeros than a fresh sum). */
static void test_rebuild_gives_the_kept_figures(void **state) {
  (void)state;
  char query[2048];
  snprintf(query, sizeof query,
           "SELECT coalesce(string_agg(x, E'\\n' ORDER BY x), '') FROM ("
           " SELECT concat_ws(' ', site_id, span, bucket, held, trim_scale(rate_sum), rated, recorded, present, events,"
           "   registrations) AS x FROM site_figures f WHERE site_id IN ('%1$s', '%2$s', '%3$s')"
           "   AND (held, rate_sum, rated, recorded, present, events, registrations) <> (0, 0, 0, 0, 0, 0, 0)"
           " UNION ALL SELECT f::text FROM site_theme_figures f WHERE site_id IN ('%1$s', '%2$s', '%3$s') AND n <> 0"
           " UNION ALL SELECT a::text FROM site_aggregates a WHERE site_id IN ('%1$s', '%2$s', '%3$s')) q",
           g_site[0], g_site[1], g_site[2]);
  char *before = harness_psql_scalar(query);
  /* Without waiting for other suites' writers (it would hold its locks while waiting: a deadlock waiting to
   * happen), so again until it gets them all at once. */
  int st = -1;
  for (int tries = 0; tries < 100 && st != 0; tries++) {
    if (tries > 0)
      usleep(100 * 1000);
    st = harness_psql_try("SELECT site_aggregates_rebuild(false)");
  }
  if (st != 0)
    harness_fail("aggregates: site_aggregates_rebuild(false) never got its locks in 10 s");
  char *after = harness_psql_scalar(query);
  if (strcmp(before, after) != 0)
    harness_fail("aggregates (seed %u, E2E_AGGREGATES_SEED): the rebuild changed the kept figures of the test's "
                 "sites:\nkept:\n%.4000s\n"
                 "rebuilt:\n%.4000s",
                 g_first_seed, before, after);
  free(before);
  free(after);
}

static int group_setup(void **state) {
  (void)state;
  static const char *const env[] = {"FORUMNET_SUPPRESSION_THRESHOLD=1", NULL};
  const char *seed = getenv("E2E_AGGREGATES_SEED");
  g_seed = g_first_seed = seed ? (unsigned)strtoul(seed, NULL, 10) : (unsigned)time(NULL) ^ (unsigned)getpid();
  fprintf(stderr, "e2e_summary_aggregates: seed %u (E2E_AGGREGATES_SEED)\n", g_seed);
  harness_suite_start(env, &g_admin);
  for (int s = 0; s < SITES; s++)
    harness_new_site_id(g_admin.token, g_site[s]);
  harness_new_manager_quick(g_admin.token, g_site[0], &g_manager);
  for (int s = 1; s < SITES; s++) {
    http_response *r = http_request("PUT", hpath("/v1/sites/%s/managers/%s", g_site[s], g_manager.id), g_admin.token,
                                    NULL, NULL, NULL);
    assert_status(r, 204);
    http_response_free(r);
  }
  for (int i = 0; i < PEOPLE; i++) {
    g_people[i].site = i % SITES;
    harness_new_member_quick(g_admin.token, i % 4 == 3 ? "facilitator" : "practitioner", g_site[g_people[i].site],
                             &g_people[i].a);
  }
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_changes_keep_figures_consistent),
      cmocka_unit_test(test_rebuild_gives_the_kept_figures),
  };
  return cmocka_run_group_tests(tests, group_setup, harness_suite_teardown);
}
