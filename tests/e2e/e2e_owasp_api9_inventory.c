/*
 * e2e_owasp_api9_inventory.c — OWASP API Security Top 10 (2023) API9, improper inventory
 * management, against the real server.
 *
 * The server publishes its own inventory (GET /openapi.json).  The test holds the running server
 * to it: every documented operation exists (never "no such route" or 405) and asks for exactly the
 * credentials the document says (public operations answer without a token; the others are 401
 * without one; partner tokens are accepted exactly where partnerClientCredentials is listed); OPTIONS
 * on every documented path allows exactly the documented methods (no undocumented operation hides on
 * a known path); and likely shadow endpoints (other API versions, debug, admin or internal paths,
 * exports of other members) do not exist.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static json_t *g_doc;
static harness_partner g_partner;
static harness_account g_admin;

static int group_setup(void **state) {
  (void)state;
  harness_suite_start(NULL, &g_admin);
  harness_new_partner(g_admin.token, false, &g_partner);
  /* the partner holds every scope, so its token is refused only where partner tokens are never taken */
  http_response *r = http_json("PATCH", hpath("/v1/partners/%s", g_partner.id), g_admin.token,
                               json_pack("{s:[s,s]}", "scopes", "events:write", "webhooks:manage"));
  assert_status(r, 200);
  http_response_free(r);
  r = http_json("POST", "/v1/auth/token", NULL,
                json_pack("{s:s, s:s, s:s, s:s}", "grant_type", "client_credentials", "client_id", g_partner.client_id,
                          "client_secret", g_partner.client_secret, "scope", "events:write webhooks:manage"));
  assert_status(r, 200);
  snprintf(g_partner.token, sizeof g_partner.token, "%s", hjson_str(r->json, "access_token"));
  http_response_free(r);
  r = http_get("/openapi.json", NULL);
  assert_status(r, 200);
  g_doc = json_incref(r->json);
  http_response_free(r);
  if (!json_is_object(hjson_get(g_doc, "paths")))
    fail_msg("/openapi.json has no paths");
  return 0;
}

static int group_teardown(void **state) {
  json_decref(g_doc);
  return harness_suite_teardown(state);
}

static const char *const g_methods[] = {"get", "post", "put", "patch", "delete", NULL};

/* The documented path with every {parameter} replaced: ids by a UUID nobody has, {version} by 1. */
static void concrete_path(const char *templ, char *out, size_t cap) {
  size_t o = 0;
  for (const char *p = templ; *p && o + 40 < cap;) {
    if (*p == '{') {
      const char *end = strchr(p, '}');
      bool version = end && strncmp(p, "{version}", 9) == 0;
      o += (size_t)snprintf(out + o, cap - o, "%s", version ? "1" : "00000000-0000-4000-8000-00000000a9a9");
      p = end ? end + 1 : p + 1;
    } else {
      out[o++] = *p++;
    }
  }
  out[o] = '\0';
}

/* The operation's security requirements: the operation's own, else the document's. */
static json_t *security_of(const json_t *op) {
  json_t *s = hjson_get(op, "security");
  return s ? s : hjson_get(g_doc, "security");
}

/* Public: no requirement, or an empty requirement object among the alternatives. */
static bool is_public(const json_t *op) {
  json_t *s = security_of(op);
  if (!json_is_array(s) || json_array_size(s) == 0)
    return true;
  size_t i;
  json_t *req;
  json_array_foreach(s, i, req) if (json_is_object(req) && json_object_size(req) == 0) return true;
  return false;
}

static bool accepts_scheme(const json_t *op, const char *scheme) {
  json_t *s = security_of(op);
  size_t i;
  json_t *req;
  json_array_foreach(s, i, req) if (json_object_get(req, scheme)) return true;
  return false;
}

static bool is_no_such_route(const http_response *r) {
  const char *d = hjson_str(r->json, "detail");
  return r->status == 404 && d && strcmp(d, "No such route.") == 0;
}

/* ---------------------------------------------------------------- documented operations */

static void test_every_documented_operation_exists_with_its_security(void **state) {
  (void)state;
  const char *path;
  json_t *item;
  int checked = 0;
  json_object_foreach(hjson_get(g_doc, "paths"), path, item) {
    char concrete[512];
    concrete_path(path, concrete, sizeof concrete);
    for (const char *const *m = g_methods; *m; m++) {
      json_t *op = json_object_get(item, *m);
      if (!op)
        continue;
      char method[8];
      snprintf(method, sizeof method, "%s", *m);
      for (char *c = method; *c; c++)
        *c = (char)(*c - 'a' + 'A');
      bool body = strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0;
      /* without a token */
      http_response *r =
          http_request(method, concrete, NULL, body ? "application/json" : NULL, body ? "{}" : NULL, NULL);
      if (r->status == 405 || is_no_such_route(r))
        harness_fail("documented %s %s is not served (%ld %s)", method, path, r->status, r->body);
      if (is_public(op) && r->status == 401)
        harness_fail("%s %s is documented as public but asks for a token", method, path);
      if (!is_public(op) && r->status != 401)
        harness_fail("%s %s is documented as protected but answered %ld without a token", method, path, r->status);
      if (r->status >= 500 && !json_object_get(hjson_get(op, "responses"), hpath("%ld", r->status)))
        harness_fail("%s %s: %ld, not a documented answer", method, path, r->status);
      http_response_free(r);
      /* with a partner token: accepted exactly where the document lists partner credentials */
      if (!is_public(op)) {
        r = http_request(method, concrete, g_partner.token, body ? "application/json" : NULL, body ? "{}" : NULL, NULL);
        bool partner = accepts_scheme(op, "partnerClientCredentials");
        if (partner && r->status == 401)
          harness_fail("%s %s documents partner tokens but refuses one: %s", method, path, r->body);
        if (!partner && r->status != 401)
          harness_fail("%s %s does not document partner tokens but answered %ld to one", method, path, r->status);
        http_response_free(r);
      }
      checked++;
    }
  }
  print_message("# %d documented operations checked\n", checked);
  assert_true(checked >= 60);
}

/* OPTIONS names the methods the server has for a path: exactly the documented ones. */
static void test_no_undocumented_methods_on_documented_paths(void **state) {
  (void)state;
  const char *path;
  json_t *item;
  json_object_foreach(hjson_get(g_doc, "paths"), path, item) {
    char concrete[512];
    concrete_path(path, concrete, sizeof concrete);
    http_response *r = http_request("OPTIONS", concrete, NULL, NULL, NULL, NULL);
    const char *allow = http_header(r, "Allow");
    if (!allow)
      harness_fail("OPTIONS %s: no Allow header (%ld)", path, r->status);
    /* every allowed method is documented */
    char copy[256];
    snprintf(copy, sizeof copy, "%s", allow);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
      if (strcasecmp(tok, "OPTIONS") == 0 || strcasecmp(tok, "HEAD") == 0)
        continue;
      char lower[16];
      snprintf(lower, sizeof lower, "%s", tok);
      for (char *c = lower; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
          *c = (char)(*c - 'A' + 'a');
      if (!json_object_get(item, lower))
        harness_fail("%s %s is served but not documented (Allow: %s)", tok, path, allow);
    }
    /* and every documented method is allowed */
    for (const char *const *m = g_methods; *m; m++) {
      if (!json_object_get(item, *m))
        continue;
      char upper[8];
      snprintf(upper, sizeof upper, "%s", *m);
      for (char *c = upper; *c; c++)
        *c = (char)(*c - 'a' + 'A');
      if (!http_header_has_token(r, "Allow", upper))
        harness_fail("documented %s %s is missing from Allow: %s", upper, path, allow);
    }
    http_response_free(r);
  }
}

/* ---------------------------------------------------------------- shadow endpoints */

static void test_no_shadow_endpoints(void **state) {
  (void)state;
  char member_export[128], member_tokens[128], member_password[128];
  snprintf(member_export, sizeof member_export, "/v1/members/%s/export", g_admin.id);
  snprintf(member_tokens, sizeof member_tokens, "/v1/members/%s/tokens", g_admin.id);
  snprintf(member_password, sizeof member_password, "/v1/members/%s/password", g_admin.id);
  const char *paths[] = {"/v2/sites",        "/v0/sites",      "/v1.1/sites",     "/api/v1/sites",
                         "/sites",           "/v1/admin",      "/v1/admin/users", "/v1/debug",
                         "/v1/internal",     "/v1/test",       "/v1/users",       "/v1/config",
                         "/v1/env",          "/v1/status",     "/v1/health",      "/v1/me/tokens",
                         "/v1/me/sessions",  "/v1/auth/admin", "/v1/auth/signup", "/v1/auth/reset",
                         "/v1/audit/export", "/v1/export",     "/v1/summaries",   "/v1/partner/secrets",
                         "/v1/graphql",      "/graphql",       "/v1/batch",       "/v1/sql",
                         member_export,      member_tokens,    member_password};
  const char *methods[] = {"GET", "POST"};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    for (int k = 0; k < 2; k++) {
      http_response *r =
          http_request(methods[k], paths[i], g_admin.token, k ? "application/json" : NULL, k ? "{}" : NULL, NULL);
      /* 404 either way: no such route, or a documented template whose id names nothing */
      if (r->status != 404)
        harness_fail("%s %s exists (%ld %.200s) but is not in the OpenAPI document", methods[k], paths[i], r->status,
                     r->body);
      http_response_free(r);
    }
  }
  /* the document itself names one version and no server URL with credentials in it */
  const char *version = hjson_str(g_doc, "info.version");
  assert_non_null(version);
  const char *path;
  json_t *item;
  json_object_foreach(hjson_get(g_doc, "paths"), path, item) {
    if (strncmp(path, "/v1/", 4) != 0 && strcmp(path, "/healthz") != 0 && strcmp(path, "/readyz") != 0 &&
        strcmp(path, "/metrics") != 0 && strcmp(path, "/openapi.json") != 0 && strncmp(path, "/docs", 5) != 0)
      harness_fail("the document lists %s, outside /v1 and the operational endpoints", path);
  }
  char *text = json_dumps(g_doc, JSON_COMPACT);
  if (strstr(text, HARNESS_JWT_SECRET) || strstr(text, "postgresql://"))
    harness_fail("the published document carries a secret or a database URL");
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_documented_operation_exists_with_its_security),
      cmocka_unit_test(test_no_undocumented_methods_on_documented_paths),
      cmocka_unit_test(test_no_shadow_endpoints),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
