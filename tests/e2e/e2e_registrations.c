/*
 * e2e_registrations.c — API.md section 7, registration (issue 5): going / interested /
 * declined, going past capacity answered as waitlisted, the oldest waitlisted member promoted
 * when a place frees (also when capacity rises), counts for owners and admins only, who may
 * list registrations (partners never), which tokens may register, and concurrent requests for
 * the last place (exactly one going).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static harness_account g_admin;
static char g_site_a[HARNESS_ID_MAX], g_site_b[HARNESS_ID_MAX];
static harness_account g_mgr_a;
static harness_account g_prac_b; /* a practitioner at site B */
#define N_MEMBERS 10
static harness_account g_m[N_MEMBERS]; /* practitioners at site A */
static harness_partner g_partner;      /* untrusted */

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_new_site_id(g_admin.token, g_site_a);
  harness_new_site_id(g_admin.token, g_site_b);
  harness_new_manager_quick(g_admin.token, g_site_a, &g_mgr_a);
  harness_new_member_quick(g_admin.token, "practitioner", g_site_b, &g_prac_b);
  for (int i = 0; i < N_MEMBERS; i++)
    harness_new_member_quick(g_admin.token, i % 3 == 2 ? "facilitator" : "practitioner", g_site_a, &g_m[i]);
  harness_new_partner(g_admin.token, false, &g_partner);
  return 0;
}

#define UNKNOWN_UUID "00000000-0000-4000-8000-000000000000"
#define DAY 86400L

/* A published site-A event owned by the site's manager; capacity <= 0: none. */
static void new_event(int capacity, char *id_out) {
  json_t *b = harness_event_body("workshop", 9 * DAY, 3600, g_site_a);
  if (capacity > 0)
    json_object_set_new(b, "capacity", json_integer(capacity));
  json_t *e = harness_new_event(g_mgr_a.token, b, id_out);
  assert_json_str(e, "status", "published");
  json_decref(e);
}

static http_response *put_reg(const char *event_id, const char *token, const char *status) {
  return http_json("PUT", hpath("/v1/events/%s/registration", event_id), token, json_pack("{s:s}", "status", status));
}

/* PUT a registration; asserts the HTTP status and the answered registration status. */
#define reg(event_id, acct, asked, http_status, answered)                                                              \
  reg_at((event_id), (acct), (asked), (http_status), (answered), __LINE__)
static void reg_at(const char *event_id, const harness_account *acct, const char *asked, long http_status,
                   const char *answered, int line) {
  http_response *r = put_reg(event_id, acct->token, asked);
  harness_assert_status(r, http_status, __FILE__, line);
  harness_assert_json_str(r->json, "status", answered, __FILE__, line);
  harness_assert_json_str(r->json, "event_id", event_id, __FILE__, line);
  harness_assert_json_str(r->json, "member_id", acct->id, __FILE__, line);
  http_response_free(r);
}

/* The calling member's own registration status as GET /v1/events/{id} shows it (NULL: none). */
static char *my_status(const char *event_id, const harness_account *acct) {
  json_t *e = harness_event_get(event_id, acct->token);
  const char *s = hjson_str(e, "my_registration.status");
  char *copy = s ? strdup(s) : NULL;
  json_decref(e);
  return copy;
}

#define assert_my_status(event_id, acct, expected) assert_my_status_at((event_id), (acct), (expected), __LINE__)
static void assert_my_status_at(const char *event_id, const harness_account *acct, const char *expected, int line) {
  char *s = my_status(event_id, acct);
  if (!s || strcmp(s, expected) != 0)
    harness_fail_at(__FILE__, line, "member %s: my_registration.status is %s, expected %s", acct->id, s ? s : "(none)",
                    expected);
  free(s);
}

#define assert_counts(event_id, token, going, waitlisted, interested, declined)                                        \
  assert_counts_at((event_id), (token), (going), (waitlisted), (interested), (declined), __LINE__)
static void assert_counts_at(const char *event_id, const char *token, int going, int waitlisted, int interested,
                             int declined, int line) {
  json_t *e = harness_event_get(event_id, token);
  json_t *c = hjson_get(e, "registration_counts");
  if (!json_is_object(c))
    harness_fail_at(__FILE__, line, "no registration_counts: %s", json_dumps(e, 0));
  const char *k[] = {"going", "waitlisted", "interested", "declined"};
  int want[] = {going, waitlisted, interested, declined};
  for (int i = 0; i < 4; i++) {
    json_t *v = json_object_get(c, k[i]);
    if (!json_is_integer(v) || json_integer_value(v) != want[i])
      harness_fail_at(__FILE__, line, "registration_counts.%s: expected %d, got %s", k[i], want[i],
                      json_dumps(c, JSON_COMPACT));
  }
  json_decref(e);
}

/* The status of member_id in the owner's/admin's registration list (NULL if absent; caller frees). */
static char *listed_status(const char *event_id, const char *token, const char *member_id) {
  json_t *all = harness_list_all(hpath("/v1/events/%s/registrations", event_id), token);
  char *found = NULL;
  size_t i;
  json_t *it;
  json_array_foreach(all, i, it) {
    if (strcmp(hjson_str(it, "member_id") ? hjson_str(it, "member_id") : "", member_id) == 0)
      found = strdup(hjson_str(it, "status") ? hjson_str(it, "status") : "?");
  }
  json_decref(all);
  return found;
}

/* ---------------------------------------------------------------- waitlist */

static void test_waitlist_and_promotion(void **state) {
  (void)state;
  char ev[HARNESS_ID_MAX];
  new_event(1, ev);
  harness_account *A = &g_m[0], *B = &g_m[1], *C = &g_m[2], *D = &g_m[3];

  http_response *r = put_reg(ev, A->token, "going");
  assert_status(r, 201);
  assert_json_str(r->json, "status", "going");
  assert_true(harness_is_rfc3339_utc(hjson_str(r->json, "requested_going_at")));
  assert_true(harness_is_rfc3339_utc(hjson_str(r->json, "updated_at")));
  assert_true(json_is_integer(hjson_get(r->json, "version")));
  http_response_free(r);
  reg(ev, B, "going", 201, "waitlisted");
  reg(ev, C, "going", 201, "waitlisted");
  /* asking again changes nothing: A stays going, B keeps its place */
  reg(ev, A, "going", 200, "going");
  reg(ev, B, "going", 200, "waitlisted");
  /* interested does not queue */
  reg(ev, D, "interested", 201, "interested");
  assert_counts(ev, g_mgr_a.token, 1, 2, 1, 0);
  assert_counts(ev, g_admin.token, 1, 2, 1, 0);
  assert_my_status(ev, A, "going");
  assert_my_status(ev, B, "waitlisted");

  /* A declines: B (the oldest waitlisted) goes, C still waits */
  reg(ev, A, "declined", 200, "declined");
  assert_my_status(ev, B, "going");
  assert_my_status(ev, C, "waitlisted");
  assert_counts(ev, g_mgr_a.token, 1, 1, 1, 1);

  /* A asks again: behind C now */
  reg(ev, A, "going", 200, "waitlisted");
  /* B becomes merely interested: C (older than A's new request) goes */
  reg(ev, B, "interested", 200, "interested");
  assert_my_status(ev, C, "going");
  assert_my_status(ev, A, "waitlisted");
  assert_counts(ev, g_mgr_a.token, 1, 1, 2, 0);

  /* a waitlisted member leaving the queue promotes nobody */
  reg(ev, A, "declined", 200, "declined");
  assert_my_status(ev, C, "going");
  assert_counts(ev, g_mgr_a.token, 1, 0, 2, 1);

  /* the owner's and the admin's lists agree */
  const char *tokens[] = {g_mgr_a.token, g_admin.token};
  for (int t = 0; t < 2; t++) {
    struct {
      harness_account *who;
      const char *status;
    } expect[] = {{A, "declined"}, {B, "interested"}, {C, "going"}, {D, "interested"}};
    for (int i = 0; i < 4; i++) {
      char *s = listed_status(ev, tokens[t], expect[i].who->id);
      if (!s || strcmp(s, expect[i].status) != 0)
        harness_fail("registrations list: member %s is %s, expected %s", expect[i].who->id, s ? s : "(absent)",
                     expect[i].status);
      free(s);
    }
  }
  r = http_get(hpath("/v1/events/%s/registrations?limit=200", ev), g_mgr_a.token);
  assert_status(r, 200);
  assert_int_equal(json_array_size(hjson_get(r->json, "items")), 4);
  size_t i;
  json_t *it;
  json_array_foreach(hjson_get(r->json, "items"), i, it) {
    assert_non_null(hjson_str(it, "display_name"));
    assert_json_str(it, "event_id", ev);
  }
  http_response_free(r);
  /* a keyset walk a page at a time gives the same four */
  json_t *walk = harness_list_all_at(hpath("/v1/events/%s/registrations", ev), g_admin.token, 1, __FILE__, __LINE__);
  assert_int_equal(json_array_size(walk), 4);
  json_decref(walk);
}

static void test_who_lists_and_counts(void **state) {
  (void)state;
  /* a partner's event, published by the site's manager */
  char ev[HARNESS_ID_MAX];
  json_t *b = harness_event_body("seminar", 9 * DAY, 3600, g_site_a);
  json_object_set_new(b, "capacity", json_integer(2));
  json_t *e = harness_new_event(g_partner.token, b, ev);
  assert_json_str(e, "status", "pending");
  json_decref(e);

  /* pending: invisible to practitioners (404); the manager who sees it cannot register (409) */
  http_response *r = put_reg(ev, g_m[0].token, "going");
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = put_reg(ev, g_mgr_a.token, "going");
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  r = put_reg(ev, g_admin.token, "interested");
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
  harness_event_publish(ev, g_mgr_a.token);

  reg(ev, &g_m[0], "going", 201, "going");
  reg(ev, &g_m[1], "going", 201, "going");
  reg(ev, &g_m[2], "going", 201, "waitlisted");
  reg(ev, &g_m[3], "interested", 201, "interested");
  reg(ev, &g_m[4], "declined", 201, "declined");

  /* the partner: counts on its event, never the list */
  assert_counts(ev, g_partner.token, 2, 1, 1, 1);
  e = harness_event_get(ev, g_partner.token);
  assert_true(hjson_is_null(e, "my_registration"));
  json_decref(e);
  r = http_get(hpath("/v1/events/%s/registrations", ev), g_partner.token);
  assert_problem_type(r, 403, "forbidden");
  assert_null(strstr(r->body, g_m[0].id));
  http_response_free(r);
  /* nor can it register, with any answer */
  const char *answers[] = {"going", "interested", "declined"};
  for (int i = 0; i < 3; i++) {
    r = put_reg(ev, g_partner.token, answers[i]);
    assert_problem_type(r, 401, "unauthenticated");
    http_response_free(r);
  }
  /* admins list; the audience site's manager is not the owner here: 403 */
  char *s = listed_status(ev, g_admin.token, g_m[2].id);
  assert_string_equal(s, "waitlisted");
  free(s);
  r = http_get(hpath("/v1/events/%s/registrations", ev), g_mgr_a.token);
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  e = harness_event_get(ev, g_mgr_a.token);
  assert_true(hjson_is_null(e, "registration_counts"));
  json_decref(e);
  /* practitioners who can see the event: 403 on the list, no counts, their own registration */
  r = http_get(hpath("/v1/events/%s/registrations", ev), g_m[0].token);
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  r = http_get(hpath("/v1/events/%s/registrations", ev), g_m[5].token);
  assert_problem_type(r, 403, "forbidden");
  http_response_free(r);
  e = harness_event_get(ev, g_m[0].token);
  assert_true(hjson_is_null(e, "registration_counts"));
  assert_json_str(e, "my_registration.status", "going");
  json_decref(e);
  e = harness_event_get(ev, g_m[5].token);
  assert_true(hjson_is_null(e, "my_registration"));
  json_decref(e);
  /* a practitioner of another site cannot see it at all */
  r = http_get(hpath("/v1/events/%s/registrations", ev), g_prac_b.token);
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = put_reg(ev, g_prac_b.token, "going");
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  /* no token */
  r = put_reg(ev, NULL, "going");
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);
  r = http_get(hpath("/v1/events/%s/registrations", ev), NULL);
  assert_problem_type(r, 401, "unauthenticated");
  http_response_free(r);
  /* nothing of that changed the counts */
  assert_counts(ev, g_partner.token, 2, 1, 1, 1);
}

static void test_registration_validation(void **state) {
  (void)state;
  char ev[HARNESS_ID_MAX];
  new_event(5, ev);
  json_t *bad[] = {
      json_pack("{s:s}", "status", "waitlisted"), /* not something one asks for */
      json_pack("{s:s}", "status", "maybe"),
      json_pack("{s:i}", "status", 1),
      json_object(),
      json_pack("{s:s, s:s}", "status", "going", "member_id", g_m[1].id),
      json_pack("{s:s, s:s}", "status", "going", "requested_going_at", "2020-01-01T00:00:00Z"),
      json_pack("{s:s, s:s}", "status", "going", "comment", "see you"),
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *text = json_dumps(bad[i], JSON_COMPACT);
    http_response *r = http_json("PUT", hpath("/v1/events/%s/registration", ev), g_m[0].token, bad[i]);
    if (r->status != 400)
      harness_fail("PUT registration %s: expected 400, got %ld %s", text, r->status, r->body);
    assert_problem_type(r, 400, "invalid-request");
    free(text);
    http_response_free(r);
  }
  json_t *e = harness_event_get(ev, g_m[0].token);
  assert_true(hjson_is_null(e, "my_registration"));
  json_decref(e);
  http_response *r = put_reg(UNKNOWN_UUID, g_m[0].token, "going");
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = put_reg("not-a-uuid", g_m[0].token, "going");
  assert_problem_type(r, 404, "not-found");
  http_response_free(r);
  r = http_request("PUT", hpath("/v1/events/%s/registration", ev), g_m[0].token, "text/plain", "going", NULL);
  assert_problem_type(r, 415, "unsupported-media-type");
  http_response_free(r);
  /* a cancelled event: 409 for whoever still sees it (its owner) */
  r = http_request("DELETE", hpath("/v1/events/%s", ev), g_mgr_a.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  r = put_reg(ev, g_mgr_a.token, "interested");
  assert_problem_type(r, 409, "conflict");
  http_response_free(r);
}

/* ---------------------------------------------------------------- capacity */

static void test_raising_capacity_promotes(void **state) {
  (void)state;
  char ev[HARNESS_ID_MAX];
  new_event(1, ev);
  harness_account *A = &g_m[0], *B = &g_m[1], *C = &g_m[2], *D = &g_m[3];
  reg(ev, A, "going", 201, "going");
  reg(ev, B, "going", 201, "waitlisted");
  reg(ev, C, "going", 201, "waitlisted");
  reg(ev, D, "going", 201, "waitlisted");
  /* one more place: the oldest waitlisted */
  http_response *r = http_json("PATCH", hpath("/v1/events/%s", ev), g_mgr_a.token, json_pack("{s:i}", "capacity", 2));
  assert_status(r, 200);
  http_response_free(r);
  assert_my_status(ev, B, "going");
  assert_my_status(ev, C, "waitlisted");
  assert_counts(ev, g_mgr_a.token, 2, 2, 0, 0);
  /* two more: C and D */
  r = http_json("PATCH", hpath("/v1/events/%s", ev), g_mgr_a.token, json_pack("{s:i}", "capacity", 4));
  assert_status(r, 200);
  assert_json_int(r->json, "registration_counts.going", 4);
  assert_json_int(r->json, "registration_counts.waitlisted", 0);
  http_response_free(r);
  assert_my_status(ev, C, "going");
  assert_my_status(ev, D, "going");

  /* no capacity at all: everyone waiting goes */
  new_event(1, ev);
  reg(ev, A, "going", 201, "going");
  reg(ev, B, "going", 201, "waitlisted");
  reg(ev, C, "going", 201, "waitlisted");
  r = http_json("PATCH", hpath("/v1/events/%s", ev), g_mgr_a.token, json_pack("{s:n}", "capacity"));
  assert_status(r, 200);
  http_response_free(r);
  assert_counts(ev, g_mgr_a.token, 3, 0, 0, 0);
  reg(ev, D, "going", 201, "going");
}

/* ---------------------------------------------------------------- concurrency */

static void race_members(const char *ev, harness_account **who, int n, const char *status) {
  harness_race_req reqs[16];
  memset(reqs, 0, sizeof reqs);
  for (int i = 0; i < n; i++) {
    reqs[i].method = "PUT";
    snprintf(reqs[i].path, sizeof reqs[i].path, "/v1/events/%s/registration", ev);
    reqs[i].token = who[i]->token;
    reqs[i].body = json_pack("{s:s}", "status", status);
  }
  harness_race(reqs, n);
  for (int i = 0; i < n; i++) {
    if (reqs[i].status != 201 && reqs[i].status != 200)
      harness_fail("concurrent PUT registration %d of %d: got %ld %s", i, n, reqs[i].status, reqs[i].response);
  }
}

static void test_concurrent_last_place(void **state) {
  (void)state;
  /* two members, one place, several times over */
  for (int round = 0; round < 6; round++) {
    char ev[HARNESS_ID_MAX];
    new_event(1, ev);
    harness_account *pair[] = {&g_m[(2 * round) % N_MEMBERS], &g_m[(2 * round + 1) % N_MEMBERS]};
    race_members(ev, pair, 2, "going");
    char *s0 = my_status(ev, pair[0]), *s1 = my_status(ev, pair[1]);
    bool ok = s0 && s1 &&
              ((strcmp(s0, "going") == 0 && strcmp(s1, "waitlisted") == 0) ||
               (strcmp(s0, "waitlisted") == 0 && strcmp(s1, "going") == 0));
    if (!ok)
      harness_fail("round %d: two members racing for one place ended %s and %s", round, s0 ? s0 : "(none)",
                   s1 ? s1 : "(none)");
    free(s0);
    free(s1);
    assert_counts(ev, g_mgr_a.token, 1, 1, 0, 0);
  }
  /* ten members, three places */
  char ev[HARNESS_ID_MAX];
  new_event(3, ev);
  harness_account *all[N_MEMBERS];
  for (int i = 0; i < N_MEMBERS; i++)
    all[i] = &g_m[i];
  race_members(ev, all, N_MEMBERS, "going");
  assert_counts(ev, g_mgr_a.token, 3, N_MEMBERS - 3, 0, 0);
  int going = 0;
  for (int i = 0; i < N_MEMBERS; i++) {
    char *s = my_status(ev, all[i]);
    going += s && strcmp(s, "going") == 0;
    free(s);
  }
  assert_int_equal(going, 3);

  /* all three going decline at once while the seven wait: exactly three of them promoted */
  harness_account *leaving[3];
  int k = 0;
  for (int i = 0; i < N_MEMBERS && k < 3; i++) {
    char *s = my_status(ev, all[i]);
    if (strcmp(s, "going") == 0)
      leaving[k++] = all[i];
    free(s);
  }
  race_members(ev, leaving, 3, "declined");
  assert_counts(ev, g_mgr_a.token, 3, N_MEMBERS - 6, 0, 3);
}

/* A member leaving while another asks for the place: the waitlisted one (older) gets it either way. */
static void test_concurrent_leave_and_join(void **state) {
  (void)state;
  for (int round = 0; round < 4; round++) {
    char ev[HARNESS_ID_MAX];
    new_event(1, ev);
    harness_account *B = &g_m[0], *C = &g_m[1], *D = &g_m[2 + round];
    reg(ev, B, "going", 201, "going");
    reg(ev, C, "going", 201, "waitlisted");
    harness_race_req reqs[2];
    memset(reqs, 0, sizeof reqs);
    reqs[0].method = "PUT";
    snprintf(reqs[0].path, sizeof reqs[0].path, "/v1/events/%s/registration", ev);
    reqs[0].token = B->token;
    reqs[0].body = json_pack("{s:s}", "status", "declined");
    reqs[1].method = "PUT";
    snprintf(reqs[1].path, sizeof reqs[1].path, "/v1/events/%s/registration", ev);
    reqs[1].token = D->token;
    reqs[1].body = json_pack("{s:s}", "status", "going");
    harness_race(reqs, 2);
    assert_int_equal(reqs[0].status, 200);
    assert_int_equal(reqs[1].status, 201);
    assert_my_status(ev, B, "declined");
    assert_my_status(ev, C, "going");
    assert_my_status(ev, D, "waitlisted");
    assert_counts(ev, g_mgr_a.token, 1, 1, 0, 1);
  }
}

/* Registrations are not the owner's edit: they never move the event's version (its ETag), so a
 * partner's PATCH with the If-Match it read a moment ago still succeeds on a popular event
 * (issue 11). The counts still change. */
static void test_registrations_keep_event_etag(void **state) {
  (void)state;
  char id[HARNESS_ID_MAX];
  json_t *e = harness_new_event(g_partner.token, harness_event_body("seminar", 11 * DAY, 3600, g_site_a), id);
  json_decref(e);
  harness_event_publish(id, g_mgr_a.token);
  http_response *r = http_get(hpath("/v1/events/%s", id), g_partner.token);
  assert_status(r, 200);
  char etag[32];
  snprintf(etag, sizeof etag, "%s", http_header(r, "ETag"));
  json_int_t version = hjson_version(r->json);
  http_response_free(r);

  for (int i = 0; i < 4; i++)
    reg(id, &g_m[i], i == 3 ? "interested" : "going", 201, i == 3 ? "interested" : "going");
  reg(id, &g_m[0], "declined", 200, "declined"); /* a change of answer */

  r = http_get(hpath("/v1/events/%s", id), g_partner.token);
  assert_status(r, 200);
  assert_header_equal(r, "ETag", etag);
  assert_json_int(r->json, "version", version);
  assert_json_int(r->json, "registration_counts.going", 2);
  assert_json_int(r->json, "registration_counts.interested", 1);
  assert_json_int(r->json, "registration_counts.declined", 1);
  http_response_free(r);

  char h[80];
  snprintf(h, sizeof h, "If-Match: %s", etag);
  const char *const headers[] = {h, NULL};
  r = http_json_with_headers("PATCH", hpath("/v1/events/%s", id), g_partner.token, json_pack("{s:i}", "capacity", 50),
                             headers);
  assert_status(r, 200);
  assert_json_int(r->json, "version", version + 1);
  http_response_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_waitlist_and_promotion),        cmocka_unit_test(test_who_lists_and_counts),
      cmocka_unit_test(test_registration_validation),       cmocka_unit_test(test_raising_capacity_promotes),
      cmocka_unit_test(test_concurrent_last_place),         cmocka_unit_test(test_concurrent_leave_and_join),
      cmocka_unit_test(test_registrations_keep_event_etag),
  };
  return cmocka_run_group_tests(tests, group_setup, harness_suite_teardown);
}
