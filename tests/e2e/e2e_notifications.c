/*
 * e2e_notifications.c — API.md section 10 (notifications) against the real server. Its own database
 * (harness_use_own_database): it counts a member's notifications exactly, and on the shared database a
 * network-wide event published by another suite meanwhile would reach everyone.
 *
 * Every kind a change fans out (membership.invited/requested/approved, terms.published,
 * meeting.scheduled/changed, consultation.opened/outcome_published, event.published/changed/cancelled,
 * registration.promoted): who receives it, and that nobody else does — a manager of the group's site who
 * is not a member, a member of another group, a member who left the group, a member of another site, and
 * the actor. Counts are read through each account's own GET /v1/me/notifications before and after the
 * change, so tests running in parallel do not disturb each other.
 *
 * A rolled-back change (its audit insert forced to fail by a trigger, as in e2e_audit.c) notifies nobody.
 * Titles carry names only: a meeting with notes and an agenda, and members' emails, never appear in one.
 * The feed: newest first, keyset pages, ?unread=true, unread_count, POST .../read by ids (another
 * member's ids change nothing) and all, 400 naming the field for unknown fields and malformed ids (the
 * project's answer to an invalid body). Export lists the
 * member's notifications; erasure deletes them. The cost of unread_count for a member with 10 000
 * notifications is measured with EXPLAIN ANALYZE and printed.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY (24L * 3600)

static harness_account g_admin, g_mgr_a, g_mgr_b, g_conv, g_p1, g_p2, g_leaver, g_other, g_pb, g_pb2, g_pb3;
static char g_site_a[HARNESS_ID_MAX], g_site_b[HARNESS_ID_MAX], g_group[HARNESS_ID_MAX], g_group2[HARNESS_ID_MAX];
static char g_group_name[HARNESS_NAME_MAX];

/* g_group at site_a: g_conv (convener), g_p1 and g_p2 active, g_leaver joined and left; g_group2 at
 * site_a: g_other; g_mgr_a manages site_a and belongs to no group; g_pb, g_pb2, g_pb3 at site_b. */
static int group_setup(void **state) {
  (void)state;
  harness_use_own_database("notifications");
  harness_suite_start(NULL, &g_admin);
  harness_new_site_id(g_admin.token, g_site_a);
  harness_new_site_id(g_admin.token, g_site_b);
  harness_new_manager_quick(g_admin.token, g_site_a, &g_mgr_a);
  harness_new_manager_quick(g_admin.token, g_site_b, &g_mgr_b);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &g_conv);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &g_p1);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &g_p2);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &g_leaver);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &g_other);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_b, &g_pb);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_b, &g_pb2);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_b, &g_pb3);
  json_t *group = harness_new_group(g_conv.token, g_site_a, 2, 8, g_group);
  snprintf(g_group_name, sizeof g_group_name, "%s", hjson_str(group, "name"));
  json_decref(group);
  harness_group_join(g_group, g_conv.token, &g_p1);
  harness_group_join(g_group, g_conv.token, &g_p2);
  harness_group_join(g_group, g_conv.token, &g_leaver);
  http_response *r =
      http_request("DELETE", hpath("/v1/groups/%s/members/%s", g_group, g_leaver.id), g_leaver.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  json_decref(harness_new_group(g_other.token, g_site_a, 2, 8, g_group2));
  return 0;
}

/* ---------------------------------------------------------------- reading feeds */

/* Every notification of who's feed (new array). */
static json_t *feed(const harness_account *who) { return harness_list_all("/v1/me/notifications", who->token); }

/* How many of who's notifications are of kind about subject_id. */
static int count_of(const harness_account *who, const char *kind, const char *subject_id) {
  json_t *items = feed(who), *n;
  size_t i;
  int count = 0;
  json_array_foreach(items, i, n) {
    if (strcmp(hjson_str(n, "kind"), kind) == 0 && strcmp(hjson_str(n, "subject.id"), subject_id) == 0)
      count++;
  }
  json_decref(items);
  return count;
}

/* The one notification of kind about subject_id in who's feed (new reference); fails unless exactly one. */
static json_t *the_one(const harness_account *who, const char *kind, const char *subject_id) {
  json_t *items = feed(who), *n, *found = NULL;
  size_t i;
  int count = 0;
  json_array_foreach(items, i, n) {
    if (strcmp(hjson_str(n, "kind"), kind) == 0 && strcmp(hjson_str(n, "subject.id"), subject_id) == 0) {
      count++;
      found = n;
    }
  }
  if (count != 1)
    harness_fail("%s should have exactly one %s about %s, has %d", who->display_name, kind, subject_id, count);
  json_incref(found);
  json_decref(items);
  return found;
}

/* The accounts a test watches, with their counts of (kind, subject) before the change. */
#define MAX_WATCHED 12
typedef struct watch {
  const char *kind;
  const char *subject;
  int n;
  const harness_account *who[MAX_WATCHED];
  int before[MAX_WATCHED];
} watch;

/* Starts watching kind about subject for the accounts listed (NULL-terminated). */
static void watch_start(watch *w, const char *kind, const char *subject, const harness_account *const *who) {
  memset(w, 0, sizeof *w);
  w->kind = kind;
  w->subject = subject;
  for (; *who && w->n < MAX_WATCHED; who++, w->n++) {
    w->who[w->n] = *who;
    w->before[w->n] = count_of(*who, kind, subject);
  }
}

/* Each watched account received exactly expected[i] new notifications of the kind about the subject. */
#define watch_expect(w, ...) watch_expect_at((w), (const int[]){__VA_ARGS__}, __FILE__, __LINE__)
static void watch_expect_at(const watch *w, const int *expected, const char *file, int line) {
  for (int i = 0; i < w->n; i++) {
    int got = count_of(w->who[i], w->kind, w->subject) - w->before[i];
    if (got != expected[i])
      harness_fail_at(file, line, "%s (%s, #%d) got %d new %s about %s, expected %d", w->who[i]->display_name,
                      w->who[i]->role, i, got, w->kind, w->subject, expected[i]);
  }
}

#define WHO(...) ((const harness_account *const[]){__VA_ARGS__, NULL})

/* The title is a short line of names: no email of anyone watched, none of the forbidden words. */
static void expect_clean_title(const json_t *n, const char *must_contain, const char *const *forbidden) {
  const char *title = hjson_str(n, "title");
  if (title == NULL || strlen(title) == 0 || strlen(title) > 200)
    harness_fail("bad title %s", title ? title : "(none)");
  if (must_contain && !strstr(title, must_contain))
    harness_fail("title \"%s\" should name \"%s\"", title, must_contain);
  for (; forbidden && *forbidden; forbidden++)
    if (strstr(title, *forbidden))
      harness_fail("title \"%s\" reveals \"%s\"", title, *forbidden);
  const harness_account *accounts[] = {&g_admin, &g_conv, &g_p1, &g_p2, &g_pb, &g_mgr_a, NULL};
  for (const harness_account **a = accounts; *a; a++)
    if (strstr(title, (*a)->email))
      harness_fail("title \"%s\" reveals an email", title);
}

/* ---------------------------------------------------------------- memberships and terms */

static void test_membership_kinds(void **state) {
  (void)state;
  char gid[HARNESS_ID_MAX];
  harness_account conv, invitee, requester, fac;
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &conv);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &invitee);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &requester);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &fac);
  json_t *group = harness_new_group(conv.token, g_site_a, 2, 8, gid);
  char name[HARNESS_NAME_MAX];
  snprintf(name, sizeof name, "%s", hjson_str(group, "name"));
  json_decref(group);
  harness_group_join(gid, conv.token, &fac);
  harness_group_set_role(gid, conv.token, fac.id, "facilitator");
  harness_group_join(gid, conv.token, &g_p2); /* a plain member: no requests */

  watch w;
  watch_start(&w, "membership.invited", gid, WHO(&invitee, &conv, &fac, &g_p2, &g_mgr_a, &requester, &g_other));
  harness_group_invite(gid, conv.token, invitee.id, NULL);
  watch_expect(&w, 1, 0, 0, 0, 0, 0, 0);
  json_t *n = the_one(&invitee, "membership.invited", gid);
  assert_json_str(n, "subject.type", "group");
  assert_json_str(n, "group_id", gid);
  assert_json_str(n, "read_at", NULL);
  expect_clean_title(n, name, NULL);
  json_decref(n);

  watch_start(&w, "membership.requested", gid, WHO(&conv, &fac, &requester, &g_p2, &g_mgr_a, &invitee, &g_other));
  harness_group_request(gid, requester.token);
  watch_expect(&w, 1, 1, 0, 0, 0, 0, 0);

  watch_start(&w, "membership.approved", gid, WHO(&requester, &conv, &fac, &g_p2, &g_mgr_a, &g_other));
  harness_group_activate(gid, fac.token, requester.id);
  watch_expect(&w, 1, 0, 0, 0, 0, 0); /* fac approved: the actor; conv was not asked */

  /* accepting an invitation is the invitee's own change: nobody is notified of approval */
  watch_start(&w, "membership.approved", gid, WHO(&invitee, &conv, &fac));
  harness_group_activate(gid, invitee.token, invitee.id);
  watch_expect(&w, 0, 0, 0);
}

static void test_terms_published(void **state) {
  (void)state;
  watch w;
  watch_start(&w, "terms.published", g_group, WHO(&g_p1, &g_p2, &g_conv, &g_leaver, &g_mgr_a, &g_other, &g_admin));
  harness_group_post_terms(g_group, g_conv.token, "We meet monthly; what is said here stays here.");
  watch_expect(&w, 1, 1, 0, 0, 0, 0, 0);
  json_t *n = the_one(&g_p1, "terms.published", g_group);
  assert_json_str(n, "subject.type", "group");
  const char *const forbidden[] = {"stays here", NULL};
  expect_clean_title(n, g_group_name, forbidden);
  json_decref(n);
}

/* ---------------------------------------------------------------- meetings */

static void test_meeting_kinds(void **state) {
  (void)state;
  char starts[32], ends[32], mid[HARNESS_ID_MAX];
  json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s}", "starts_at", harness_rfc3339_from_now(3 * DAY, starts),
                           "ends_at", harness_rfc3339_from_now(3 * DAY + 3600, ends), "location", "Room 4", "agenda",
                           "AGENDA-confidential-item", "notes", "NOTES-about-a-patient");
  watch w;
  const harness_account *const *who = WHO(&g_p1, &g_p2, &g_conv, &g_leaver, &g_mgr_a, &g_other, &g_admin, &g_pb);
  http_response *r = http_json("POST", hpath("/v1/groups/%s/meetings", g_group), g_conv.token, body);
  assert_status(r, 201);
  snprintf(mid, sizeof mid, "%s", hjson_str(r->json, "id"));
  http_response_free(r);
  watch_start(&w, "meeting.scheduled", mid, who);
  for (int i = 0; i < w.n; i++) /* the meeting was new: nobody had anything about it before */
    w.before[i] = 0;
  watch_expect(&w, 1, 1, 0, 0, 0, 0, 0, 0);
  json_t *n = the_one(&g_p1, "meeting.scheduled", mid);
  assert_json_str(n, "subject.type", "meeting");
  assert_json_str(n, "group_id", g_group);
  const char *const forbidden[] = {"AGENDA", "NOTES", "patient", "Room 4", NULL};
  expect_clean_title(n, g_group_name, forbidden);
  json_decref(n);

  watch_start(&w, "meeting.changed", mid, who);
  body = json_pack("{s:s}", "location", "Room 5");
  r = http_json("PATCH", hpath("/v1/groups/%s/meetings/%s", g_group, mid), g_conv.token, body);
  assert_status(r, 200);
  http_response_free(r);
  watch_expect(&w, 1, 1, 0, 0, 0, 0, 0, 0);
  n = the_one(&g_p2, "meeting.changed", mid);
  expect_clean_title(n, g_group_name, forbidden);
  json_decref(n);

  /* notes written after the meeting are no change to its arrangements */
  watch_start(&w, "meeting.changed", mid, WHO(&g_p1, &g_p2));
  body = json_pack("{s:s}", "notes", "NOTES-more");
  r = http_json("PATCH", hpath("/v1/groups/%s/meetings/%s", g_group, mid), g_conv.token, body);
  assert_status(r, 200);
  http_response_free(r);
  watch_expect(&w, 0, 0);
}

/* ---------------------------------------------------------------- consultations */

static void test_consultation_kinds(void **state) {
  (void)state;
  char cid[HARNESS_ID_MAX];
  json_decref(harness_new_consultation(g_admin.token, harness_consultation_body(NULL, g_group, -60, 7 * DAY), cid));
  watch w;
  const harness_account *const *who = WHO(&g_p1, &g_p2, &g_conv, &g_leaver, &g_mgr_a, &g_other, &g_admin, &g_pb);
  watch_start(&w, "consultation.opened", cid, who);
  harness_consultation_set_status(cid, g_admin.token, "open");
  watch_expect(&w, 1, 1, 1, 0, 0, 0, 0, 0);
  json_t *c = harness_consultation_get(cid, g_admin.token);
  json_t *n = the_one(&g_p1, "consultation.opened", cid);
  assert_json_str(n, "subject.type", "consultation");
  expect_clean_title(n, hjson_str(c, "title"), NULL);
  json_decref(n);
  json_decref(c);

  harness_consultation_set_status(cid, g_admin.token, "closed");
  watch_start(&w, "consultation.outcome_published", cid, who);
  json_t *outcome = json_pack("{s:s, s:[{s:s, s:s}]}", "summary", "You said, we did.", "actions", "text",
                              "Rota published four weeks ahead", "status", "done");
  http_response *r = http_json("PUT", hpath("/v1/consultations/%s/outcome", cid), g_admin.token, json_incref(outcome));
  assert_status(r, 200);
  http_response_free(r);
  watch_expect(&w, 1, 1, 1, 0, 0, 0, 0, 0);
  /* an update of the outcome is not a second publication */
  r = http_json("PUT", hpath("/v1/consultations/%s/outcome", cid), g_admin.token, outcome);
  assert_status(r, 200);
  http_response_free(r);
  watch_expect(&w, 1, 1, 1, 0, 0, 0, 0, 0);
}

/* ---------------------------------------------------------------- events and registrations */

static void set_registration(const char *eid, const harness_account *who, const char *status) {
  json_t *body = json_pack("{s:s}", "status", status);
  http_response *r = http_json("PUT", hpath("/v1/events/%s/registration", eid), who->token, body);
  if (r->status != 200 && r->status != 201)
    assert_status(r, 200);
  http_response_free(r);
}

static void test_event_published(void **state) {
  (void)state;
  char eid[HARNESS_ID_MAX];
  const harness_account *const *who = WHO(&g_pb, &g_pb2, &g_mgr_b, &g_p1, &g_mgr_a, &g_admin);
  /* published at once by an admin: site_b's members and its manager, not site_a's, not the actor */
  json_t *e = harness_new_event(g_admin.token, harness_event_body("seminar", 10 * DAY, 3600, g_site_b), eid);
  watch w;
  watch_start(&w, "event.published", eid, who);
  for (int i = 0; i < w.n; i++)
    w.before[i] = 0;
  watch_expect(&w, 1, 1, 1, 0, 0, 0);
  json_t *n = the_one(&g_pb, "event.published", eid);
  assert_json_str(n, "subject.type", "event");
  assert_json_str(n, "group_id", NULL);
  expect_clean_title(n, hjson_str(e, "title"), NULL);
  json_decref(n);
  json_decref(e);

  /* an untrusted partner's event is pending: nobody hears of it until a manager publishes it */
  harness_partner partner;
  harness_new_partner(g_admin.token, false, &partner);
  json_decref(harness_new_event(partner.token, harness_event_body("workshop", 10 * DAY, 3600, g_site_b), eid));
  watch_start(&w, "event.published", eid, who);
  watch_expect(&w, 0, 0, 0, 0, 0, 0);
  harness_event_publish(eid, g_mgr_b.token);
  watch_expect(&w, 1, 1, 0, 0, 0, 1);
}

static void test_event_registrations(void **state) {
  (void)state;
  char eid[HARNESS_ID_MAX];
  json_t *body = harness_event_body("workshop", 12 * DAY, 3600, g_site_b);
  json_object_set_new(body, "capacity", json_integer(1));
  json_decref(harness_new_event(g_mgr_b.token, body, eid));
  set_registration(eid, &g_pb, "going");
  set_registration(eid, &g_pb2, "going"); /* waitlisted */
  set_registration(eid, &g_pb3, "declined");
  const harness_account *const *who = WHO(&g_pb, &g_pb2, &g_pb3, &g_mgr_b, &g_admin, &g_p1);

  watch w;
  watch_start(&w, "event.changed", eid, who);
  json_t *patch = json_pack("{s:s}", "location", "Hall B");
  http_response *r = http_json("PATCH", hpath("/v1/events/%s", eid), g_mgr_b.token, patch);
  assert_status(r, 200);
  http_response_free(r);
  watch_expect(&w, 1, 1, 0, 0, 0, 0);

  watch_start(&w, "registration.promoted", eid, who);
  set_registration(eid, &g_pb, "declined"); /* a place comes free: pb2 gets it */
  watch_expect(&w, 0, 1, 0, 0, 0, 0);
  json_t *n = the_one(&g_pb2, "registration.promoted", eid);
  assert_json_str(n, "subject.type", "event");
  json_decref(n);

  watch_start(&w, "event.cancelled", eid, who);
  r = http_request("DELETE", hpath("/v1/events/%s", eid), g_mgr_b.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  watch_expect(&w, 0, 1, 0, 0, 0, 0); /* pb and pb3 declined; the owner cancelled it */
}

/* ---------------------------------------------------------------- a rolled-back change */

static void test_rolled_back_change_notifies_nobody(void **state) {
  (void)state;
  char name[64], sql[1024];
  snprintf(name, sizeof name, "e2e_notify_fail_%ld", (long)getpid());
  snprintf(sql, sizeof sql,
           "CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS "
           "$f$ BEGIN RAISE EXCEPTION 'e2e forced audit failure'; END $f$;"
           "CREATE TRIGGER %s BEFORE INSERT ON audit_log FOR EACH ROW WHEN (NEW.resource_id = '%s' AND "
           "NEW.action = 'group.terms_published') EXECUTE FUNCTION %s();",
           name, name, g_group, name);
  free(harness_psql_scalar(sql));
  harness_exchange_log_pause(true); /* the 500 is provoked, not the contract */
  long before = harness_psql_long(
      hpath("SELECT count(*) FROM notifications WHERE subject_id = '%s' AND kind = 'terms.published'", g_group));
  json_t *body = json_pack("{s:s}", "body", "Terms that never were.");
  http_response *r = http_json("POST", hpath("/v1/groups/%s/terms", g_group), g_conv.token, body);
  long status = r->status;
  http_response_free(r);
  snprintf(sql, sizeof sql, "DROP TRIGGER IF EXISTS %s ON audit_log; DROP FUNCTION IF EXISTS %s();", name, name);
  harness_psql_try(sql);
  harness_exchange_log_pause(false);
  if (status != 500 && status != 503)
    harness_fail("terms with a failing audit insert answered %ld", status);
  long after = harness_psql_long(
      hpath("SELECT count(*) FROM notifications WHERE subject_id = '%s' AND kind = 'terms.published'", g_group));
  if (after != before)
    harness_fail("a rolled-back terms publication left %ld notifications", after - before);
}

/* ---------------------------------------------------------------- the feed */

/* n notifications for who, made in the database (kind terms.published about g_group). */
static void seed(const harness_account *who, int n) {
  free(harness_psql_scalar(
      hpath("INSERT INTO notifications (member_id, kind, subject_type, subject_id, group_id, title)"
            " SELECT '%s', 'terms.published', 'group', '%s', '%s', 'Seeded ' || i FROM generate_series(1, %d) i",
            who->id, g_group, g_group, n)));
}

static json_t *get_page(const char *path, const harness_account *who) {
  http_response *r = http_get(path, who->token);
  assert_status(r, 200);
  json_t *page = json_incref(r->json);
  http_response_free(r);
  return page;
}

static void post_read(const harness_account *who, json_t *body, long status) {
  http_response *r = http_json("POST", "/v1/me/notifications/read", who->token, body);
  if (status == 204) {
    assert_status(r, 204);
  } else {
    assert_problem(r, status);
    if (!json_array_size(json_object_get(r->json, "errors")))
      harness_fail("a refused body names no field: %s", r->body);
  }
  http_response_free(r);
}

static void test_feed_paging_and_read(void **state) {
  (void)state;
  harness_account m, other;
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &m);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &other);
  seed(&m, 7);
  seed(&other, 2);

  /* newest first, pages of 3, every item once */
  json_t *page = get_page("/v1/me/notifications?limit=3", &m);
  assert_json_int(page, "unread_count", 7);
  assert_json_str(json_array_get(json_object_get(page, "items"), 0), "title", "Seeded 7");
  json_t *all = harness_list_all_at("/v1/me/notifications", m.token, 3, __FILE__, __LINE__);
  if (json_array_size(all) != 7)
    harness_fail("walked %zu notifications, expected 7", json_array_size(all));
  for (size_t i = 0; i < 7; i++) {
    char want[32];
    snprintf(want, sizeof want, "Seeded %zu", 7 - i);
    assert_json_str(json_array_get(all, i), "title", want);
  }
  json_decref(page);

  /* read two by id, with another member's id and an unknown one passed over */
  json_t *other_items = feed(&other);
  json_t *ids =
      json_pack("[s, s, s, s]", hjson_str(json_array_get(all, 0), "id"), hjson_str(json_array_get(all, 1), "id"),
                hjson_str(json_array_get(other_items, 0), "id"), "00000000-0000-4000-8000-000000000000");
  post_read(&m, json_pack("{s:o}", "ids", ids), 204);
  page = get_page("/v1/me/notifications?unread=true&limit=200", &m);
  assert_json_int(page, "unread_count", 5);
  if (json_array_size(json_object_get(page, "items")) != 5)
    harness_fail("unread=true should list 5");
  json_decref(page);
  page = get_page("/v1/me/notifications", &m);
  if (!harness_is_rfc3339_utc(hjson_str(json_array_get(json_object_get(page, "items"), 0), "read_at")))
    harness_fail("a notification read by id has no read_at");
  json_decref(page);
  page = get_page("/v1/me/notifications", &other);
  assert_json_int(page, "unread_count", 2); /* m could not mark other's */
  json_decref(page);
  json_decref(other_items);

  /* unread pages walk too */
  json_t *unread = harness_list_all_at("/v1/me/notifications?unread=true", m.token, 2, __FILE__, __LINE__);
  if (json_array_size(unread) != 5)
    harness_fail("walked %zu unread, expected 5", json_array_size(unread));
  json_decref(unread);

  post_read(&m, json_pack("{s:b}", "all", 1), 204);
  page = get_page("/v1/me/notifications?unread=true", &m);
  assert_json_int(page, "unread_count", 0);
  if (json_array_size(json_object_get(page, "items")) != 0)
    harness_fail("all read, yet unread=true lists some");
  json_decref(page);
  json_decref(all);

  /* bad input: 400 with the field named, as every other body's (FN_INVALID) */
  post_read(&m, json_pack("{s:b, s:s}", "all", 1, "extra", "x"), 400);
  post_read(&m, json_pack("{s:[s]}", "ids", "not-a-uuid"), 400);
  post_read(&m, json_pack("{s:[]}", "ids"), 400);
  post_read(&m, json_pack("{s:b}", "all", 0), 400);
  post_read(&m, json_pack("{}"), 400);
  post_read(&m, json_pack("{s:[s], s:b}", "ids", "00000000-0000-4000-8000-000000000000", "all", 1), 400);
  json_t *many = json_array();
  for (int i = 0; i < 101; i++)
    json_array_append_new(many, json_string("00000000-0000-4000-8000-000000000000"));
  post_read(&m, json_pack("{s:o}", "ids", many), 400);
  http_response *r = http_get("/v1/me/notifications?unread=yes", m.token);
  assert_problem(r, 400);
  assert_error_field(r, "unread");
  http_response_free(r);
  r = http_get("/v1/me/notifications?cursor=nonsense", m.token);
  assert_problem(r, 400);
  http_response_free(r);
}

/* ---------------------------------------------------------------- export, erasure, cost */

static void test_export_and_erasure(void **state) {
  (void)state;
  harness_account m;
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &m);
  seed(&m, 3);
  http_response *r = http_get("/v1/me/export", m.token);
  assert_status(r, 200);
  json_t *n = json_object_get(r->json, "notifications");
  if (json_array_size(n) != 3)
    harness_fail("the export lists %zu notifications, expected 3", json_array_size(n));
  assert_json_str(json_array_get(n, 0), "kind", "terms.published");
  http_response_free(r);
  r = http_request("DELETE", hpath("/v1/members/%s", m.id), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  long left = harness_psql_long(hpath("SELECT count(*) FROM notifications WHERE member_id = '%s'", m.id));
  if (left != 0)
    harness_fail("erasure left %ld notifications", left);
}

static void test_unread_count_cost(void **state) {
  (void)state;
  harness_account m, crowd;
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &m);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_a, &crowd);
  seed(&crowd, 90000); /* the table holds others' notifications too, as it would */
  seed(&m, 10000);
  /* half read: the partial index holds only the unread */
  free(harness_psql_scalar(
      hpath("UPDATE notifications SET read_at = now() WHERE member_id = '%s' AND seq %% 2 = 0", m.id)));
  harness_psql_try("VACUUM ANALYZE notifications");
  char *plan = harness_psql_scalar(hpath("EXPLAIN (ANALYZE, FORMAT TEXT) SELECT count(*) FROM notifications"
                                         " WHERE member_id = '%s' AND read_at IS NULL",
                                         m.id));
  printf("unread_count plan for 10 000 notifications (5 000 unread):\n%s\n", plan);
  if (!strstr(plan, "notifications_member_unread"))
    harness_fail("unread_count does not use the partial index notifications_member_unread");
  free(plan);
  int64_t t0 = harness_now_ms();
  http_response *r = http_get("/v1/me/notifications?limit=1", m.token);
  int64_t t1 = harness_now_ms();
  assert_status(r, 200);
  assert_json_int(r->json, "unread_count", 5000);
  printf("GET /v1/me/notifications?limit=1 with 5 000 unread: %lld ms\n", (long long)(t1 - t0));
  http_response_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_membership_kinds),
      cmocka_unit_test(test_terms_published),
      cmocka_unit_test(test_meeting_kinds),
      cmocka_unit_test(test_consultation_kinds),
      cmocka_unit_test(test_event_published),
      cmocka_unit_test(test_event_registrations),
      cmocka_unit_test(test_rolled_back_change_notifies_nobody),
      cmocka_unit_test(test_feed_paging_and_read),
      cmocka_unit_test(test_export_and_erasure),
      cmocka_unit_test(test_unread_count_cost),
  };
  return cmocka_run_group_tests(tests, group_setup, harness_suite_teardown);
}
