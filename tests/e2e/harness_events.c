/*
 * harness_events.c — partner clients (the client-credentials grant) and events made through the
 * API (API.md section 7).
 */
#include "harness.h"
#include "harness_internal.h"

#include <stdio.h>
#include <string.h>

http_response *harness_partner_token_request(const char *client_id, const char *client_secret) {
  return http_json("POST", "/v1/auth/token", NULL,
                   json_pack("{s:s, s:s, s:s}", "grant_type", "client_credentials", "client_id", client_id,
                             "client_secret", client_secret));
}

void harness_partner_login_at(harness_partner *p, const char *file, int line) {
  http_response *r = harness_partner_token_request(p->client_id, p->client_secret);
  const char *tok = hjson_str(r->json, "access_token");
  const char *type = hjson_str(r->json, "token_type");
  if (r->status != 200 || !tok || !type || strcmp(type, "Bearer") != 0)
    fail_with(r, file, line, "the client-credentials grant for partner %s failed", p->id);
  copy_bounded(p->token, sizeof p->token, tok, "partner access token", file, line);
  http_response_free(r);
}

void harness_new_partner_at(const char *admin_token, bool trusted, harness_partner *out, const char *file, int line) {
  memset(out, 0, sizeof *out);
  harness_unique("Partner", out->name);
  http_response *r = http_json("POST", "/v1/partners", admin_token,
                               json_pack("{s:s, s:b}", "name", out->name, "trusted", trusted ? 1 : 0));
  const char *id = hjson_str(r->json, "id");
  const char *client_id = hjson_str(r->json, "client_id");
  const char *secret = hjson_str(r->json, "client_secret");
  if (r->status != 201 || !harness_is_uuid(id) || !client_id || !secret)
    fail_with(r, file, line, "creating a partner failed (expected 201 with id, client_id, client_secret)");
  copy_bounded(out->id, sizeof out->id, id, "partner id", file, line);
  copy_bounded(out->client_id, sizeof out->client_id, client_id, "client_id", file, line);
  copy_bounded(out->client_secret, sizeof out->client_secret, secret, "client_secret", file, line);
  http_response_free(r);
  harness_partner_login_at(out, file, line);
}

json_t *harness_event_body(const char *kind, long starts_in, long duration, const char *site_id) {
  char title[HARNESS_NAME_MAX + 8], starts[32], ends[32];
  char unique[HARNESS_NAME_MAX];
  snprintf(title, sizeof title, "Event %s", harness_unique("ev", unique));
  harness_rfc3339_from_now(starts_in, starts);
  harness_rfc3339_from_now(starts_in + duration, ends);
  json_t *audience = site_id ? json_pack("{s:s, s:[s]}", "scope", "sites", "site_ids", site_id)
                             : json_pack("{s:s}", "scope", "network");
  return json_pack("{s:s, s:s, s:s, s:s, s:o}", "kind", kind, "title", title, "starts_at", starts, "ends_at", ends,
                   "audience", audience);
}

json_t *harness_new_event_at(const char *token, json_t *body, char *id_out, const char *file, int line) {
  http_response *r = http_json("POST", "/v1/events", token, body);
  const char *id = hjson_str(r->json, "id");
  if (r->status != 201 || !harness_is_uuid(id))
    fail_with(r, file, line, "creating an event failed (expected 201 with an id)");
  if (id_out)
    copy_bounded(id_out, HARNESS_ID_MAX, id, "event id", file, line);
  json_t *e = json_incref(r->json);
  http_response_free(r);
  return e;
}

json_t *harness_event_get_at(const char *id, const char *token, const char *file, int line) {
  http_response *r = http_get(hpath("/v1/events/%s", id), token);
  if (r->status != 200 || !json_is_object(r->json))
    fail_with(r, file, line, "reading event %s failed", id);
  json_t *e = json_incref(r->json);
  http_response_free(r);
  return e;
}

void harness_event_publish_at(const char *id, const char *token, const char *file, int line) {
  http_response *r = http_json("PATCH", hpath("/v1/events/%s", id), token, json_pack("{s:s}", "status", "published"));
  const char *st = hjson_str(r->json, "status");
  if (r->status != 200 || !st || strcmp(st, "published") != 0)
    fail_with(r, file, line, "publishing event %s failed (expected 200 and status published)", id);
  http_response_free(r);
}

void harness_event_register_at(const char *id, const char *token, const char *status, const char *file, int line) {
  http_response *r =
      http_json("PUT", hpath("/v1/events/%s/registration", id), token, json_pack("{s:s}", "status", status));
  if (r->status != 200 && r->status != 201)
    fail_with(r, file, line, "answering %s to event %s failed (expected 200 or 201)", status, id);
  http_response_free(r);
}
