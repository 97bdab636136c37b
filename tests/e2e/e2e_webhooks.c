/*
 * e2e_webhooks.c — partner webhooks (issue 17, API.md section 13; README "Receiving webhooks"):
 *   - scopes: a partner gets webhooks:manage only when an admin granted it and it asks; without it the
 *     webhook routes answer its token 401; another partner gets 404, a member who is not an admin 403;
 *   - SSRF: http://, https://127.0.0.1, https://[::ffff:127.0.0.1], https://10.0.0.1 and a name that
 *     resolves to loopback (localhost) are refused at registration (400 naming url) without
 *     FORUMNET_WEBHOOK_ALLOW_PRIVATE;
 *   - deliveries to a receiver on loopback (tests/e2e/webhook_receiver.mjs) that verifies every request
 *     with the reference `standardwebhooks` npm package: event.published, event.updated, event.cancelled
 *     and coalesced event.registration_counts arrive signed, with the Standard Webhooks headers, thin
 *     payloads and no member names; after a rotation both signatures verify;
 *   - retries keep one webhook-id (500, 500, then 200: three attempts); 410 disables the webhook at once;
 *     a receiver that never answers is cut at 10 s and retried;
 *   - deliveries go out concurrently, but a slow endpoint holds only its share of the slots: another
 *     endpoint's deliveries still arrive at once;
 *   - two instances deliver 1 000 messages, each exactly once; one is killed mid-way: every id arrives.
 * Its own database (harness_use_own_database): its second server runs the job runner, which runs every due job of
 * its database, so on the shared one it would run other suites' jobs too.
 */
#include "harness.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static harness_account g_admin;
static char g_site[HARNESS_ID_MAX];
static pid_t g_receiver = -1;
static int g_port;
static int g_jobs_server;

/* ---- the receiver ---- */

static void start_receiver(void) {
  char port_file[256];
  snprintf(port_file, sizeof port_file, "/tmp/forumnet-webhook-receiver-%d.port", (int)getpid());
  unlink(port_file);
  char script[512], tools[512];
  snprintf(script, sizeof script, "%s/webhook_receiver.mjs", FORUMNET_E2E_DIR);
  snprintf(tools, sizeof tools, "%s/../../tools", FORUMNET_E2E_DIR);
  char pkg[600];
  snprintf(pkg, sizeof pkg, "%s/node_modules/standardwebhooks/package.json", tools);
  if (access(pkg, R_OK) != 0)
    harness_fail("the standardwebhooks npm package is missing: run `npm ci --prefix tools` (scripts/test.sh does)");
  g_receiver = fork();
  if (g_receiver == 0) {
    execlp("node", "node", script, port_file, tools, (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 500; i++) {
    FILE *f = fopen(port_file, "r");
    if (f) {
      int ok = fscanf(f, "%d", &g_port) == 1;
      fclose(f);
      if (ok) {
        unlink(port_file);
        return;
      }
    }
    usleep(20000);
  }
  harness_fail("the webhook receiver did not start (node %s)", script);
}

static size_t collect(char *data, size_t size, size_t n, void *arg) {
  char **buf = arg;
  size_t old = *buf ? strlen(*buf) : 0, add = size * n;
  char *p = realloc(*buf, old + add + 1);
  if (!p)
    return 0;
  memcpy(p + old, data, add);
  p[old + add] = '\0';
  *buf = p;
  return add;
}

/* A request to the receiver's control paths; the answer's body (caller frees). */
static char *receiver_call(const char *method, const char *path, const char *body) {
  char url[256], *out = NULL;
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", g_port, path);
  CURL *c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (body)
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  if (curl_easy_perform(c) != CURLE_OK)
    harness_fail("the webhook receiver does not answer %s", path);
  curl_easy_cleanup(c);
  return out ? out : strdup("");
}

static void receiver_secrets(const char *prefix, const char *s1, const char *s2) {
  json_t *body = json_pack("{s:s, s:[s]}", "prefix", prefix, "secrets", s1);
  if (s2)
    json_array_append_new(json_object_get(body, "secrets"), json_string(s2));
  char *text = json_dumps(body, JSON_COMPACT);
  free(receiver_call("POST", "/_secrets", text));
  free(text);
  json_decref(body);
}

/* The requests received for paths starting with prefix (new reference, an array). */
static json_t *received(const char *prefix) {
  char *text = receiver_call("GET", "/_log", NULL);
  json_t *all = json_loads(text, 0, NULL), *out = json_array(), *e;
  free(text);
  size_t i;
  json_array_foreach(all, i, e) {
    if (strncmp(hjson_str(e, "path"), prefix, strlen(prefix)) == 0)
      json_array_append(out, e);
  }
  json_decref(all);
  return out;
}

/* Waits (timeout_s at most) until at least n requests arrived for prefix; returns them. */
static json_t *wait_received(const char *prefix, size_t n, int timeout_s) {
  for (int i = 0; i < timeout_s * 10; i++) {
    json_t *got = received(prefix);
    if (json_array_size(got) >= n)
      return got;
    json_decref(got);
    usleep(100000);
  }
  json_t *got = received(prefix);
  char *text = json_dumps(got, JSON_COMPACT);
  harness_fail("waited %d s for %zu webhook requests to %s; got %s", timeout_s, n, prefix, text);
  return NULL;
}

/* ---- servers and fixtures ---- */

static int group_setup(void **state) {
  (void)state;
  harness_use_own_database("webhooks");
  static const char *const jobs_off[] = {"FORUMNET_JOBS=0", NULL};
  harness_suite_start(jobs_off, &g_admin);
  harness_new_site_id(g_admin.token, g_site);
  start_receiver();
  return 0;
}

static int group_teardown(void **state) {
  if (g_receiver > 0) {
    kill(g_receiver, SIGTERM);
    waitpid(g_receiver, NULL, 0);
  }
  return harness_suite_teardown(state);
}

/* From here on, requests go to a server that runs the job runner every 100 ms and lets webhooks target
 * loopback over http (the receiver). It sends at most DELIVERY_SLOTS deliveries at once, at most
 * ENDPOINT_SLOTS to one endpoint (test_slow_endpoint_holds_only_its_share). */
#define DELIVERY_SLOTS 8
#define ENDPOINT_SLOTS 3
#define TEXT_OF(x) #x
#define TEXT(x) TEXT_OF(x)
static void use_delivery_server(void) {
  static const char *const env[] = {"FORUMNET_JOBS=1",
                                    "FORUMNET_JOBS_INTERVAL_MS=100",
                                    "FORUMNET_WEBHOOK_ALLOW_PRIVATE=1",
                                    "FORUMNET_WEBHOOK_COUNTS_INTERVAL_MS=2000",
                                    "FORUMNET_WEBHOOK_CONCURRENCY=" TEXT(DELIVERY_SLOTS),
                                    "FORUMNET_WEBHOOK_ENDPOINT_CONCURRENCY=" TEXT(ENDPOINT_SLOTS),
                                    NULL};
  if (!g_jobs_server)
    harness_server_start(env);
  g_jobs_server = 1;
}

/* A trusted partner holding both scopes, with a token that has them. */
static void new_webhook_partner(harness_partner *p) {
  harness_new_partner(g_admin.token, true, p);
  http_response *r = http_json("PATCH", hpath("/v1/partners/%s", p->id), g_admin.token,
                               json_pack("{s:[s,s]}", "scopes", "events:write", "webhooks:manage"));
  assert_status(r, 200);
  http_response_free(r);
  r = http_json("POST", "/v1/auth/token", NULL,
                json_pack("{s:s, s:s, s:s, s:s}", "grant_type", "client_credentials", "client_id", p->client_id,
                          "client_secret", p->client_secret, "scope", "events:write webhooks:manage"));
  assert_status(r, 200);
  assert_json_str(r->json, "scope", "events:write webhooks:manage");
  snprintf(p->token, sizeof p->token, "%s", hjson_str(r->json, "access_token"));
  http_response_free(r);
}

/* POST a webhook to url for the events (a JSON array text); asserts 201 and returns the answer. */
static json_t *new_webhook(const harness_partner *p, const char *url, const char *events) {
  json_t *body = json_pack("{s:s, s:o}", "url", url, "events", json_loads(events, 0, NULL));
  http_response *r = http_json("POST", hpath("/v1/partners/%s/webhooks", p->id), p->token, body);
  assert_status(r, 201);
  json_t *out = json_incref(r->json);
  http_response_free(r);
  const char *secret = hjson_str(out, "secret");
  assert_non_null(secret);
  assert_true(strncmp(secret, "whsec_", 6) == 0);
  return out;
}

static void receiver_path(char *out, size_t size, const char *kind) {
  char u[64];
  harness_unique("h", u);
  snprintf(out, size, "/%s/%s", kind, u);
}

static void url_of(char *out, size_t size, const char *path) {
  snprintf(out, size, "http://127.0.0.1:%d%s", g_port, path);
}

/* A new network-wide event of partner p (published at once: p is trusted); its id in id_out. */
static void partner_event(const harness_partner *p, char *id_out) {
  json_t *ev = harness_new_event(p->token, harness_event_body("seminar", 86400 * 7, 3600, NULL), id_out);
  json_decref(ev);
}

/* On the delivery server: a new partner p with a webhook to the receiver at /<kind>/<unique> (written to
 * path) for events (a JSON array text), whose secret the receiver verifies with; answers the webhook. */
static json_t *receiver_webhook(harness_partner *p, const char *kind, const char *events, char path[128]) {
  char url[256];
  use_delivery_server();
  new_webhook_partner(p);
  receiver_path(path, 128, kind);
  url_of(url, sizeof url, path);
  json_t *w = new_webhook(p, url, events);
  receiver_secrets(path, hjson_str(w, "secret"), NULL);
  return w;
}

/* ---- tests ---- */

static void test_scopes(void **state) {
  (void)state;
  harness_partner p;
  harness_new_partner(g_admin.token, true, &p);
  /* not granted: asking for it gets events:write only, and that token may not manage webhooks */
  http_response *r =
      http_json("POST", "/v1/auth/token", NULL,
                json_pack("{s:s, s:s, s:s, s:s}", "grant_type", "client_credentials", "client_id", p.client_id,
                          "client_secret", p.client_secret, "scope", "events:write webhooks:manage"));
  assert_status(r, 200);
  assert_json_str(r->json, "scope", "events:write");
  http_response_free(r);
  r = http_get(hpath("/v1/partners/%s/webhooks", p.id), p.token);
  assert_problem(r, 401);
  http_response_free(r);
  r = http_json("POST", "/v1/auth/token", NULL,
                json_pack("{s:s, s:s, s:s, s:s}", "grant_type", "client_credentials", "client_id", p.client_id,
                          "client_secret", p.client_secret, "scope", "webhooks:manage"));
  assert_problem(r, 400);
  assert_json_str(r->json, "error", "invalid_scope");
  http_response_free(r);
  /* granted by an admin: the old token ends, a new one asked with both scopes works */
  harness_partner q;
  new_webhook_partner(&q);
  r = http_get(hpath("/v1/partners/%s", q.id), g_admin.token);
  assert_status(r, 200);
  assert_int_equal(json_array_size(hjson_get(r->json, "scopes")), 2);
  http_response_free(r);
  r = http_get(hpath("/v1/partners/%s/webhooks", q.id), q.token);
  assert_status(r, 200);
  http_response_free(r);
  /* a webhooks:manage-only token does not post events */
  r = http_json("POST", "/v1/auth/token", NULL,
                json_pack("{s:s, s:s, s:s, s:s}", "grant_type", "client_credentials", "client_id", q.client_id,
                          "client_secret", q.client_secret, "scope", "webhooks:manage"));
  assert_status(r, 200);
  char only[HARNESS_TOKEN_MAX];
  snprintf(only, sizeof only, "%s", hjson_str(r->json, "access_token"));
  http_response_free(r);
  r = http_json("POST", "/v1/events", only, harness_event_body("seminar", 86400, 3600, NULL));
  assert_problem(r, 401);
  http_response_free(r);
  r = http_json("PATCH", hpath("/v1/partners/%s", q.id), g_admin.token, json_pack("{s:[s]}", "scopes", "admin"));
  assert_problem(r, 400);
  http_response_free(r);
}

static void test_ssrf_refused_at_registration(void **state) {
  (void)state;
  harness_partner p;
  new_webhook_partner(&p);
  const char *const refused[] = {"http://example.org/hook", "https://127.0.0.1/hook", "https://[::ffff:127.0.0.1]/hook",
                                 "https://10.0.0.1/hook",   "https://localhost/hook", "https://169.254.169.254/x",
                                 "https://[::1]/hook"};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    http_response *r = http_json("POST", hpath("/v1/partners/%s/webhooks", p.id), p.token,
                                 json_pack("{s:s, s:[s]}", "url", refused[i], "events", "event.published"));
    assert_problem(r, 400);
    assert_error_field(r, "url");
    http_response_free(r);
  }
  http_response *r = http_json("POST", hpath("/v1/partners/%s/webhooks", p.id), p.token,
                               json_pack("{s:s, s:[s]}", "url", "https://93.184.216.34/hook", "events", "event.nope"));
  assert_problem(r, 400);
  assert_error_field(r, "events");
  http_response_free(r);
}

static void test_other_partner_and_members(void **state) {
  (void)state;
  harness_partner a, b;
  harness_account member;
  new_webhook_partner(&a);
  new_webhook_partner(&b);
  harness_new_member(g_admin.token, "practitioner", g_site, &member);
  /* a public address literal: accepted without the flag, never delivered in this test */
  json_t *w = new_webhook(&a, "https://93.184.216.34/hook", "[\"event.published\"]");
  const char *id = hjson_str(w, "id");
  char paths[3][256];
  snprintf(paths[0], sizeof paths[0], "/v1/partners/%s/webhooks", a.id);
  snprintf(paths[1], sizeof paths[1], "/v1/partners/%s/webhooks/%s", a.id, id);
  snprintf(paths[2], sizeof paths[2], "/v1/partners/%s/webhooks/%s/deliveries", a.id, id);
  for (size_t i = 0; i < 3; i++) {
    http_response *r = http_get(paths[i], b.token);
    assert_problem(r, 404);
    http_response_free(r);
    r = http_get(paths[i], member.token);
    assert_problem(r, 403);
    http_response_free(r);
    r = http_get(paths[i], g_admin.token);
    assert_status(r, 200);
    assert_null(hjson_get(r->json, "secret")); /* never shown again */
    if (i == 0)
      assert_int_equal(json_array_size(hjson_get(r->json, "items")), 1);
    http_response_free(r);
  }
  http_response *r = http_request("DELETE", hpath("/v1/partners/%s/webhooks/%s", a.id, id), b.token, NULL, NULL, NULL);
  assert_problem(r, 404);
  http_response_free(r);
  r = http_request("POST", hpath("/v1/partners/%s/webhooks/%s/secret", a.id, id), b.token, NULL, NULL, NULL);
  assert_problem(r, 404);
  http_response_free(r);
  r = http_get(hpath("/v1/partners/%s/webhooks/%s", b.id, id), b.token); /* its own partner path, a's webhook */
  assert_problem(r, 404);
  http_response_free(r);
  r = http_request("DELETE", hpath("/v1/partners/%s/webhooks/%s", a.id, id), a.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  json_decref(w);
}

/* Every request verified with the secret at index `with` (and only with those listed). */
static void assert_verified(json_t *requests, int with) {
  json_t *e;
  size_t i;
  json_array_foreach(requests, i, e) {
    json_t *v = hjson_get(e, "verified");
    int found = 0;
    for (size_t k = 0; k < json_array_size(v); k++)
      found |= json_integer_value(json_array_get(v, k)) == with;
    if (!found)
      harness_fail("request %zu was not verified with secret %d: %s", i, with, json_dumps(e, JSON_COMPACT));
    assert_string_equal(hjson_str(e, "content_type"), "application/json");
    assert_true(strncmp(hjson_str(e, "id"), "msg_", 4) == 0);
  }
}

static json_t *payload_of(json_t *request) { return json_loads(hjson_str(request, "body"), 0, NULL); }

static void test_event_lifecycle_delivered_and_verified(void **state) {
  (void)state;
  harness_partner p;
  char path[128], event_id[HARNESS_ID_MAX];
  json_t *w = receiver_webhook(
      &p, "ok", "[\"event.published\",\"event.updated\",\"event.cancelled\",\"event.registration_counts\"]", path);
  partner_event(&p, event_id);
  json_t *got = wait_received(path, 1, 20);
  json_t *payload = payload_of(json_array_get(got, 0));
  assert_json_str(payload, "type", "event.published");
  assert_json_str(payload, "data.event_id", event_id);
  assert_json_str(payload, "data.status", "published");
  assert_non_null(hjson_get(payload, "timestamp"));
  json_decref(payload);
  json_decref(got);

  /* three members register at once: their counts coalesce; their names never travel */
  harness_account m[3];
  for (int i = 0; i < 3; i++) {
    harness_new_member(g_admin.token, "practitioner", g_site, &m[i]);
    harness_event_register(event_id, m[i].token, "going");
  }
  http_response *r =
      http_json("PATCH", hpath("/v1/events/%s", event_id), p.token, json_pack("{s:s}", "title", "A renamed seminar"));
  assert_status(r, 200);
  http_response_free(r);
  r = http_request("DELETE", hpath("/v1/events/%s", event_id), p.token, NULL, NULL, NULL);
  assert_true(r->status == 200 || r->status == 204);
  http_response_free(r);

  /* published, counts (1 or 2: the window may fall between registrations), updated, cancelled */
  got = wait_received(path, 4, 30);
  for (int i = 0; i < 30; i++) { /* the counts wait for their window's end */
    json_decref(got);
    usleep(100000);
    got = received(path);
    int has_counts = 0, has_cancel = 0;
    json_t *e;
    size_t k;
    json_array_foreach(got, k, e) {
      json_t *pl = payload_of(e);
      has_counts |= strcmp(hjson_str(pl, "type"), "event.registration_counts") == 0;
      has_cancel |= strcmp(hjson_str(pl, "type"), "event.cancelled") == 0;
      json_decref(pl);
    }
    if (has_counts && has_cancel)
      break;
  }
  usleep(2500000); /* another counts window: nothing more may come */
  json_decref(got);
  got = received(path);
  assert_verified(got, 0);
  int counts = 0, updated = 0, cancelled = 0;
  long last_going = -1;
  json_t *e;
  size_t k;
  json_array_foreach(got, k, e) {
    const char *body = hjson_str(e, "body");
    for (int i = 0; i < 3; i++)
      if (strstr(body, m[i].display_name) || strstr(body, m[i].email))
        harness_fail("a payload names a member: %s", body);
    json_t *pl = payload_of(e);
    const char *type = hjson_str(pl, "type");
    if (strcmp(type, "event.registration_counts") == 0) {
      counts++;
      last_going = (long)json_integer_value(hjson_get(pl, "data.registration_counts.going"));
    }
    updated += strcmp(type, "event.updated") == 0;
    cancelled += strcmp(type, "event.cancelled") == 0;
    if (strcmp(type, "event.cancelled") == 0)
      assert_json_str(pl, "data.status", "cancelled");
    json_decref(pl);
  }
  assert_true(counts >= 1 && counts <= 2);
  assert_int_equal(last_going, 3);
  assert_int_equal(updated, 1);
  assert_int_equal(cancelled, 1);

  /* the log: delivered, one attempt each, the webhook-id as id */
  r = http_get(hpath("/v1/partners/%s/webhooks/%s/deliveries", p.id, hjson_str(w, "id")), p.token);
  assert_status(r, 200);
  assert_int_equal(json_array_size(hjson_get(r->json, "items")), json_array_size(got));
  json_array_foreach(hjson_get(r->json, "items"), k, e) {
    assert_json_str(e, "status", "delivered");
    assert_json_int(e, "attempts", 1);
    assert_json_int(e, "last_status_code", 200);
  }
  http_response_free(r);
  /* metrics: deliveries by result, the queue as last seen */
  r = http_get("/metrics", NULL);
  assert_status(r, 200);
  const char *line = strstr(r->body, "forumnet_webhook_deliveries_total{result=\"delivered\"} ");
  assert_non_null(line);
  assert_true(atol(line + strlen("forumnet_webhook_deliveries_total{result=\"delivered\"} ")) >= 4);
  assert_non_null(strstr(r->body, "\nforumnet_webhook_queue_depth "));
  assert_non_null(strstr(r->body, "\nforumnet_webhook_oldest_pending_seconds "));
  http_response_free(r);
  json_decref(got);
  json_decref(w);
}

static void test_rotation_signs_with_both(void **state) {
  (void)state;
  harness_partner p;
  char path[128], event_id[HARNESS_ID_MAX], old_secret[64];
  json_t *w = receiver_webhook(&p, "ok", "[\"event.updated\"]", path);
  snprintf(old_secret, sizeof old_secret, "%s", hjson_str(w, "secret"));
  http_response *r = http_request("POST", hpath("/v1/partners/%s/webhooks/%s/secret", p.id, hjson_str(w, "id")),
                                  p.token, NULL, NULL, NULL);
  assert_status(r, 200);
  const char *new_secret = hjson_str(r->json, "secret");
  assert_non_null(new_secret);
  assert_string_not_equal(new_secret, old_secret);
  assert_non_null(hjson_str(r->json, "previous_secret_expires_at"));
  receiver_secrets(path, old_secret, new_secret);
  http_response_free(r);
  partner_event(&p, event_id);
  r = http_json("PATCH", hpath("/v1/events/%s", event_id), p.token, json_pack("{s:s}", "title", "Renamed"));
  assert_status(r, 200);
  http_response_free(r);
  json_t *got = wait_received(path, 1, 20);
  assert_verified(got, 0);
  assert_verified(got, 1);
  const char *sig = hjson_str(json_array_get(got, 0), "signature");
  assert_non_null(strchr(sig, ' '));
  json_decref(got);
  json_decref(w);
}

static json_t *delivery_log(const harness_partner *p, const char *webhook_id) {
  http_response *r = http_get(hpath("/v1/partners/%s/webhooks/%s/deliveries", p->id, webhook_id), p->token);
  assert_status(r, 200);
  json_t *items = json_incref(hjson_get(r->json, "items"));
  http_response_free(r);
  return items;
}

/* The delivery log once its newest delivery has at least `attempts` attempts, polled every 100 ms for up to
 * tenths tenths of a second (the last read otherwise; the caller's assertions then fail). */
static json_t *wait_attempts(const harness_partner *p, const char *webhook_id, long attempts, int tenths) {
  json_t *items = NULL;
  for (int i = 0; i < tenths; i++) {
    json_decref(items);
    items = delivery_log(p, webhook_id);
    if (json_integer_value(hjson_get(json_array_get(items, 0), "attempts")) >= attempts)
      break;
    usleep(100000);
  }
  return items;
}

/* GET of the endpoint once its status is `status`, polled every 100 ms for up to 10 s (the last read otherwise). */
static http_response *wait_endpoint_status(const harness_partner *p, const char *webhook_id, const char *status) {
  http_response *r = NULL;
  for (int i = 0; i < 100; i++) {
    http_response_free(r);
    r = http_get(hpath("/v1/partners/%s/webhooks/%s", p->id, webhook_id), p->token);
    if (strcmp(hjson_str(r->json, "status"), status) == 0)
      break;
    usleep(100000);
  }
  return r;
}

static void test_retries_keep_one_id(void **state) {
  (void)state;
  harness_partner p;
  char path[128], event_id[HARNESS_ID_MAX];
  json_t *w = receiver_webhook(&p, "flaky", "[\"event.published\"]", path);
  partner_event(&p, event_id);
  /* the first attempt (500) and the first retry, 5 s later (500) */
  json_t *got = wait_received(path, 2, 20);
  json_decref(got);
  json_t *items = wait_attempts(&p, hjson_str(w, "id"), 2, 50);
  assert_int_equal(json_array_size(items), 1);
  json_t *d = json_array_get(items, 0);
  assert_json_str(d, "status", "pending");
  assert_json_int(d, "attempts", 2);
  assert_json_int(d, "last_status_code", 500);
  assert_non_null(hjson_str(d, "next_attempt_at")); /* the next retry is 30 s away: ask for it now */
  http_response *r = http_request(
      "POST", hpath("/v1/partners/%s/webhooks/%s/deliveries/%s/retry", p.id, hjson_str(w, "id"), hjson_str(d, "id")),
      p.token, NULL, NULL, NULL);
  assert_status(r, 202);
  http_response_free(r);
  got = wait_received(path, 3, 20);
  assert_verified(got, 0);
  assert_int_equal(json_array_size(got), 3);
  for (size_t i = 0; i < 3; i++)
    assert_string_equal(hjson_str(json_array_get(got, i), "id"), hjson_str(d, "id"));
  json_decref(got);
  json_decref(items);
  for (int i = 0; i < 50; i++) {
    items = delivery_log(&p, hjson_str(w, "id"));
    if (strcmp(hjson_str(json_array_get(items, 0), "status"), "delivered") == 0)
      break;
    json_decref(items);
    items = NULL;
    usleep(100000);
  }
  assert_non_null(items);
  assert_json_int(json_array_get(items, 0), "attempts", 3);
  json_decref(items);
  json_decref(w);
}

static void test_gone_disables(void **state) {
  (void)state;
  harness_partner p;
  char path[128], event_id[HARNESS_ID_MAX];
  json_t *w = receiver_webhook(&p, "gone", "[\"event.published\",\"event.updated\"]", path);
  partner_event(&p, event_id);
  json_t *got = wait_received(path, 1, 20);
  json_decref(got);
  http_response *r = wait_endpoint_status(&p, hjson_str(w, "id"), "disabled");
  assert_json_str(r->json, "status", "disabled");
  assert_non_null(strstr(hjson_str(r->json, "disabled_reason"), "410"));
  http_response_free(r);
  /* disabled: a later change sends nothing */
  r = http_json("PATCH", hpath("/v1/events/%s", event_id), p.token, json_pack("{s:s}", "title", "Renamed"));
  assert_status(r, 200);
  http_response_free(r);
  usleep(1000000);
  got = received(path);
  assert_int_equal(json_array_size(got), 1);
  json_decref(got);
  json_decref(w);
}

static void test_timeout_is_retried(void **state) {
  (void)state;
  harness_partner p;
  char path[128], event_id[HARNESS_ID_MAX];
  json_t *w = receiver_webhook(&p, "slow", "[\"event.published\"]", path);
  partner_event(&p, event_id);
  /* the 10 s timeout, then the record */
  json_t *items = wait_attempts(&p, hjson_str(w, "id"), 1, 200);
  json_t *d = json_array_get(items, 0);
  assert_json_int(d, "attempts", 1);
  assert_json_str(d, "status", "pending");
  assert_true(json_is_null(hjson_get(d, "last_status_code")));
  assert_non_null(hjson_str(d, "last_error"));
  char first_id[64];
  snprintf(first_id, sizeof first_id, "%s", hjson_str(d, "id"));
  /* retried: the first retry is due 5 s after the cut-off attempt, and is cut off 10 s later in its turn */
  json_decref(items);
  items = wait_attempts(&p, hjson_str(w, "id"), 2, 400);
  assert_int_equal(json_array_size(items), 1);
  d = json_array_get(items, 0);
  assert_json_int(d, "attempts", 2);
  assert_json_str(d, "status", "pending");
  assert_string_equal(hjson_str(d, "id"), first_id);
  json_t *got = received(path);
  assert_int_equal(json_array_size(got), 2); /* both attempts reached the receiver, under one webhook-id */
  assert_string_equal(hjson_str(json_array_get(got, 0), "id"), hjson_str(json_array_get(got, 1), "id"));
  json_decref(got);
  /* stop the retries: this receiver never answers */
  http_response *r =
      http_request("DELETE", hpath("/v1/partners/%s/webhooks/%s", p.id, hjson_str(w, "id")), p.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  json_decref(items);
  json_decref(w);
}

/* A slow endpoint holds only its share of the delivery slots: with more deliveries to a receiver that never
 * answers than the server has slots, deliveries to another endpoint still arrive at once (not after the 10 s
 * timeout), and the slow endpoint never has more than its share in flight. */
static void test_slow_endpoint_holds_only_its_share(void **state) {
  (void)state;
  harness_partner slow, fast;
  char slow_path[128], fast_path[128], event_id[HARNESS_ID_MAX];
  json_t *ws = receiver_webhook(&slow, "slow", "[\"event.published\"]", slow_path);
  json_t *wf = receiver_webhook(&fast, "ok", "[\"event.published\"]", fast_path);
  for (int i = 0; i < DELIVERY_SLOTS + 4; i++)
    partner_event(&slow, event_id);
  json_decref(wait_received(slow_path, ENDPOINT_SLOTS, 5)); /* the slow ones are in flight */
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < 10; i++)
    partner_event(&fast, event_id);
  json_t *got = wait_received(fast_path, 10, 4); /* well before the slow ones' 10 s timeout */
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_verified(got, 0);
  json_decref(got);
  got = received(slow_path);
  assert_int_equal(json_array_size(got), ENDPOINT_SLOTS); /* no more than its share went out */
  json_decref(got);
  fprintf(stderr, "# 10 deliveries to a fast endpoint beside %d to a silent one: all in %.1f s\n", DELIVERY_SLOTS + 4,
          (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
  http_response *r = http_request("DELETE", hpath("/v1/partners/%s/webhooks/%s", slow.id, hjson_str(ws, "id")),
                                  slow.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  json_decref(ws);
  json_decref(wf);
}

/* Five days of failed deliveries disable the endpoint (failing_since set back 5 days and a minute). */
static void test_five_days_of_failures_disable(void **state) {
  (void)state;
  harness_partner p;
  char path[128], event_id[HARNESS_ID_MAX], sql[256];
  json_t *w = receiver_webhook(&p, "fail", "[\"event.published\",\"event.updated\"]", path);
  partner_event(&p, event_id);
  json_decref(wait_received(path, 1, 20));
  /* the first failure is recorded */
  json_t *items = wait_attempts(&p, hjson_str(w, "id"), 1, 50);
  json_t *d = json_array_get(items, 0);
  assert_json_str(d, "status", "pending");
  http_response *r = http_get(hpath("/v1/partners/%s/webhooks/%s", p.id, hjson_str(w, "id")), p.token);
  assert_json_str(r->json, "status", "active"); /* one failure disables nothing */
  http_response_free(r);
  snprintf(sql, sizeof sql,
           "UPDATE webhook_endpoints SET failing_since = now() - interval '5 days 1 minute' WHERE id = '%s'",
           hjson_str(w, "id"));
  free(harness_psql_scalar(sql));
  r = http_request(
      "POST", hpath("/v1/partners/%s/webhooks/%s/deliveries/%s/retry", p.id, hjson_str(w, "id"), hjson_str(d, "id")),
      p.token, NULL, NULL, NULL);
  assert_status(r, 202);
  http_response_free(r);
  r = wait_endpoint_status(&p, hjson_str(w, "id"), "disabled");
  assert_json_str(r->json, "status", "disabled");
  assert_non_null(strstr(hjson_str(r->json, "disabled_reason"), "5 days"));
  http_response_free(r);
  json_decref(items);
  json_decref(w);
}

/* A change that rolls back (its audit insert forced to fail) enqueues no delivery. */
static void test_rolled_back_change_sends_nothing(void **state) {
  (void)state;
  harness_partner p;
  char path[128], event_id[HARNESS_ID_MAX], name[64], sql[1024];
  json_t *w = receiver_webhook(&p, "ok", "[\"event.published\",\"event.updated\"]", path);
  partner_event(&p, event_id);
  json_decref(wait_received(path, 1, 20));
  snprintf(name, sizeof name, "e2e_webhook_fail_%ld", (long)getpid());
  snprintf(sql, sizeof sql,
           "CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS "
           "$f$ BEGIN RAISE EXCEPTION 'e2e forced audit failure'; END $f$;"
           "CREATE TRIGGER %s BEFORE INSERT ON audit_log FOR EACH ROW WHEN (NEW.resource_id = '%s' AND "
           "NEW.action = 'event.updated') EXECUTE FUNCTION %s();",
           name, name, event_id, name);
  free(harness_psql_scalar(sql));
  harness_exchange_log_pause(true); /* the 500 is provoked, not the contract */
  http_response *r =
      http_json("PATCH", hpath("/v1/events/%s", event_id), p.token, json_pack("{s:s}", "title", "Never renamed"));
  long status = r->status;
  http_response_free(r);
  snprintf(sql, sizeof sql, "DROP TRIGGER IF EXISTS %s ON audit_log; DROP FUNCTION IF EXISTS %s();", name, name);
  harness_psql_try(sql);
  harness_exchange_log_pause(false);
  if (status != 500 && status != 503)
    harness_fail("an event update with a failing audit insert answered %ld", status);
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = '%s' AND type = 'event.updated'",
           hjson_str(w, "id"));
  if (harness_psql_long(sql) != 0)
    harness_fail("a rolled-back event update left a webhook delivery");
  usleep(1000000);
  json_t *got = received(path);
  assert_int_equal(json_array_size(got), 1); /* the publication only */
  json_decref(got);
  json_decref(w);
}

/* A revoked partner's webhooks send nothing more (an admin cancels its event afterwards). */
static void test_revoked_partner_gets_nothing(void **state) {
  (void)state;
  harness_partner p;
  char path[128], event_id[HARNESS_ID_MAX];
  json_t *w = receiver_webhook(&p, "ok", "[\"event.published\",\"event.cancelled\"]", path);
  partner_event(&p, event_id);
  json_decref(wait_received(path, 1, 20));
  http_response *r = http_request("DELETE", hpath("/v1/partners/%s", p.id), g_admin.token, NULL, NULL, NULL);
  assert_status(r, 204);
  http_response_free(r);
  r = http_request("DELETE", hpath("/v1/events/%s", event_id), g_admin.token, NULL, NULL, NULL);
  assert_true(r->status == 200 || r->status == 204);
  http_response_free(r);
  usleep(1000000);
  json_t *got = received(path);
  assert_int_equal(json_array_size(got), 1);
  json_decref(got);
  json_decref(w);
}

/* Distinct webhook-ids among the requests, and whether any id came twice. */
static size_t distinct_ids(json_t *requests, int *duplicates) {
  json_t *seen = json_object(), *e;
  size_t i;
  *duplicates = 0;
  json_array_foreach(requests, i, e) {
    const char *id = hjson_str(e, "id");
    *duplicates |= json_object_get(seen, id) != NULL;
    json_object_set_new(seen, id, json_true());
  }
  size_t n = json_object_size(seen);
  json_decref(seen);
  return n;
}

/* Waits until n distinct ids arrived for path (timeout_s at most); answers the requests. */
static json_t *wait_distinct(const char *path, size_t n, int timeout_s) {
  int dup = 0;
  for (int i = 0; i < timeout_s * 10; i++) {
    json_t *got = received(path);
    if (distinct_ids(got, &dup) >= n)
      return got;
    json_decref(got);
    usleep(100000);
  }
  json_t *got = received(path);
  harness_fail("waited %d s for %zu distinct webhook ids at %s; got %zu", timeout_s, n, path, distinct_ids(got, &dup));
  return NULL;
}

#define MANY 1000
#define AFTER_KILL 300

/* Two instances deliver MANY messages: each exactly once. Then one is killed (SIGKILL) while deliveries
 * are under way: every message still arrives (at least once, with its one webhook-id). */
static void test_two_instances_deliver_each_once(void **state) {
  (void)state;
  harness_partner p;
  char path[128], event_id[HARNESS_ID_MAX];
  json_t *w = receiver_webhook(&p, "ok", "[\"event.published\"]", path);
  static const char *const env[] = {"FORUMNET_JOBS=1", "FORUMNET_JOBS_INTERVAL_MS=100",
                                    "FORUMNET_WEBHOOK_ALLOW_PRIVATE=1", NULL};
  harness_server_start(env); /* a second delivering instance */
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < MANY; i++)
    partner_event(&p, event_id);
  json_t *got = wait_distinct(path, MANY, 120);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  int dup = 0;
  assert_int_equal(distinct_ids(got, &dup), MANY);
  assert_int_equal(json_array_size(got), MANY); /* no duplicates without a failure */
  assert_false(dup);
  assert_verified(got, 0);
  fprintf(stderr, "# %d events created and their webhooks delivered by two instances in %.1f s\n", MANY,
          (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
  json_decref(got);
  json_decref(w);

  /* the crash: the top instance is killed while the second batch is being delivered */
  harness_partner q;
  w = receiver_webhook(&q, "ok", "[\"event.published\"]", path);
  for (int i = 0; i < AFTER_KILL; i++)
    partner_event(&q, event_id);
  kill((pid_t)harness_server_pid(), SIGKILL);
  (void)harness_server_wait_exit(5000);
  got = wait_distinct(path, AFTER_KILL, 120);
  assert_int_equal(distinct_ids(got, &dup), AFTER_KILL);
  assert_verified(got, 0);
  long pending = harness_psql_long("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"
                                   " AND type = 'event.published' AND next_attempt_at < now() - interval '1 minute'");
  assert_int_equal(pending, 0);
  json_decref(got);
  json_decref(w);
  /* the 1300 events would crowd other tests' calendars (serial tests run between the parallel ones) */
  char sql[256];
  snprintf(sql, sizeof sql, "DELETE FROM events WHERE partner_id IN ('%s', '%s')", p.id, q.id);
  if (harness_psql_try(sql) != 0)
    harness_fail("could not delete the test's events");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scopes),
      cmocka_unit_test(test_ssrf_refused_at_registration),
      cmocka_unit_test(test_other_partner_and_members),
      cmocka_unit_test(test_event_lifecycle_delivered_and_verified),
      cmocka_unit_test(test_rotation_signs_with_both),
      cmocka_unit_test(test_retries_keep_one_id),
      cmocka_unit_test(test_gone_disables),
      cmocka_unit_test(test_timeout_is_retried),
      cmocka_unit_test(test_slow_endpoint_holds_only_its_share),
      cmocka_unit_test(test_five_days_of_failures_disable),
      cmocka_unit_test(test_rolled_back_change_sends_nothing),
      cmocka_unit_test(test_revoked_partner_gets_nothing),
      cmocka_unit_test(test_two_instances_deliver_each_once),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
