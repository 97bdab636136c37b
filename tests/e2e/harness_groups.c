/*
 * harness_groups.c — forum groups made through the API (API.md section 5): a new group, joining
 * (request, invitation, approval), roles, terms and their acceptance.
 */
#include "harness.h"
#include "harness_internal.h"

#include <stdio.h>
#include <string.h>

json_t *harness_new_group_at(const char *token, const char *site_id, int min_members, int max_members,
                             char *group_id_out, const char *file, int line) {
  char name[HARNESS_NAME_MAX];
  harness_unique("Group", name);
  json_t *body = json_pack("{s:s}", "name", name);
  if (site_id)
    json_object_set_new(body, "site_id", json_string(site_id));
  if (min_members > 0)
    json_object_set_new(body, "min_members", json_integer(min_members));
  if (max_members > 0)
    json_object_set_new(body, "max_members", json_integer(max_members));
  http_response *r = http_json("POST", "/v1/groups", token, body);
  if (r->status != 201)
    fail_with(r, file, line, "creating a group failed");
  const char *id = hjson_str(r->json, "id");
  if (!harness_is_uuid(id))
    fail_with(r, file, line, "created group has no uuid id");
  if (group_id_out)
    copy_bounded(group_id_out, HARNESS_ID_MAX, id, "group id", file, line);
  json_t *g = json_incref(r->json);
  http_response_free(r);
  return g;
}

json_t *harness_group_get_at(const char *group_id, const char *token, const char *file, int line) {
  http_response *r = http_get(hpath("/v1/groups/%s", group_id), token);
  if (r->status != 200 || !json_is_object(r->json))
    fail_with(r, file, line, "reading group %s failed", group_id);
  json_t *g = json_incref(r->json);
  http_response_free(r);
  return g;
}

static void expect_membership_state(http_response *r, long status, const char *state, const char *file, int line) {
  if (r->status != status)
    fail_with(r, file, line, "expected %ld", status);
  const char *got = hjson_str(r->json, "state");
  if (!got || strcmp(got, state) != 0)
    fail_with(r, file, line, "expected a membership in state \"%s\"", state);
}

void harness_group_request_at(const char *group_id, const char *token, const char *file, int line) {
  http_response *r = http_json("POST", hpath("/v1/groups/%s/members", group_id), token, json_object());
  expect_membership_state(r, 201, "requested", file, line);
  http_response_free(r);
}

void harness_group_invite_at(const char *group_id, const char *leader_token, const char *member_id, const char *role,
                             const char *file, int line) {
  json_t *body = json_pack("{s:s}", "member_id", member_id);
  if (role)
    json_object_set_new(body, "role", json_string(role));
  http_response *r = http_json("POST", hpath("/v1/groups/%s/members", group_id), leader_token, body);
  expect_membership_state(r, 201, "invited", file, line);
  http_response_free(r);
}

void harness_group_activate_at(const char *group_id, const char *token, const char *member_id, const char *file,
                               int line) {
  http_response *r = http_json("PATCH", hpath("/v1/groups/%s/members/%s", group_id, member_id), token,
                               json_pack("{s:s}", "state", "active"));
  expect_membership_state(r, 200, "active", file, line);
  http_response_free(r);
}

void harness_group_join_at(const char *group_id, const char *leader_token, const harness_account *acct,
                           const char *file, int line) {
  harness_group_request_at(group_id, acct->token, file, line);
  harness_group_activate_at(group_id, leader_token, acct->id, file, line);
}

void harness_group_set_role_at(const char *group_id, const char *token, const char *member_id, const char *role,
                               const char *file, int line) {
  http_response *r = http_json("PATCH", hpath("/v1/groups/%s/members/%s", group_id, member_id), token,
                               json_pack("{s:s}", "role", role));
  if (r->status != 200)
    fail_with(r, file, line, "setting role %s failed", role);
  const char *got = hjson_str(r->json, "role");
  if (!got || strcmp(got, role) != 0)
    fail_with(r, file, line, "expected role \"%s\"", role);
  http_response_free(r);
}

int harness_group_post_terms_at(const char *group_id, const char *leader_token, const char *body, const char *file,
                                int line) {
  http_response *r =
      http_json("POST", hpath("/v1/groups/%s/terms", group_id), leader_token, json_pack("{s:s}", "body", body));
  if (r->status != 201)
    fail_with(r, file, line, "posting terms failed");
  json_t *v = hjson_get(r->json, "version");
  if (!json_is_integer(v))
    fail_with(r, file, line, "posted terms have no integer version");
  int version = (int)json_integer_value(v);
  http_response_free(r);
  return version;
}

void harness_group_accept_terms_at(const char *group_id, int version, const char *token, const char *file, int line) {
  http_response *r =
      http_json("POST", hpath("/v1/groups/%s/terms/%d/acceptances", group_id, version), token, json_object());
  if (r->status != 201 && r->status != 200)
    fail_with(r, file, line, "accepting terms version %d failed", version);
  http_response_free(r);
}
