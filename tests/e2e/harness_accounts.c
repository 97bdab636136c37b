/*
 * harness_accounts.c — accounts and sites made for a test: admins (through `forumnet admin
 * create`), members and managers (logged in with their one-time password, or quick: with a
 * forged token), logins, and sites.
 */
#include "harness.h"
#include "harness_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

static void random_password(char *out, size_t cap) {
  unsigned char raw[12];
  randombytes_buf(raw, sizeof raw);
  char hex[2 * sizeof raw + 1];
  sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
  snprintf(out, cap, "Pw-%s", hex);
}

http_response *harness_login_request(const char *email, const char *password) {
  return http_json("POST", "/v1/auth/login", NULL, json_pack("{s:s, s:s}", "email", email, "password", password));
}

http_response *harness_refresh_request(const char *refresh_token) {
  return http_json("POST", "/v1/auth/refresh", NULL, json_pack("{s:s}", "refresh_token", refresh_token));
}

/* POST /v1/auth/login, asserting 200; returns the response (caller frees). */
static http_response *login_at(const char *email, const char *password, const char *file, int line) {
  http_response *r = harness_login_request(email, password);
  if (r->status != 200)
    fail_with(r, file, line, "login as %s failed", email);
  if (!hjson_str(r->json, "access_token") || !hjson_str(r->json, "refresh_token"))
    fail_with(r, file, line, "login answer lacks access_token or refresh_token");
  return r;
}

void harness_login(const char *email, const char *password, char *token_out, char *refresh_out) {
  http_response *r = login_at(email, password, __FILE__, __LINE__);
  if (token_out)
    copy_bounded(token_out, HARNESS_TOKEN_MAX, hjson_str(r->json, "access_token"), "access_token", __FILE__, __LINE__);
  if (refresh_out)
    copy_bounded(refresh_out, HARNESS_TOKEN_MAX, hjson_str(r->json, "refresh_token"), "refresh_token", __FILE__,
                 __LINE__);
  http_response_free(r);
}

static void fill_account_from_login(harness_account *a, http_response *r) {
  copy_bounded(a->token, sizeof a->token, hjson_str(r->json, "access_token"), "access_token", __FILE__, __LINE__);
  copy_bounded(a->refresh, sizeof a->refresh, hjson_str(r->json, "refresh_token"), "refresh_token", __FILE__, __LINE__);
  const char *id = hjson_str(r->json, "member.id");
  if (!id)
    fail_with(r, __FILE__, __LINE__, "login answer lacks member.id");
  copy_bounded(a->id, sizeof a->id, id, "member.id", __FILE__, __LINE__);
  const char *role = hjson_str(r->json, "member.role");
  if (role)
    snprintf(a->role, sizeof a->role, "%s", role);
}

void harness_relogin(harness_account *acct) {
  http_response *r = login_at(acct->email, acct->password, __FILE__, __LINE__);
  fill_account_from_login(acct, r);
  http_response_free(r);
}

void harness_create_admin(char *email_out, char *password_out) {
  char email[HARNESS_EMAIL_MAX], password[HARNESS_PASSWORD_MAX];
  harness_unique_email("admin", email);
  random_password(password, sizeof password);
  run_admin_create(email, password);
  harness_login(email, password, NULL, NULL);
  memcpy(email_out, email, strlen(email) + 1);
  memcpy(password_out, password, strlen(password) + 1);
}

void harness_new_admin(harness_account *out) {
  memset(out, 0, sizeof *out);
  harness_unique_email("admin", out->email);
  random_password(out->password, sizeof out->password);
  snprintf(out->display_name, sizeof out->display_name, "Admin X");
  run_admin_create(out->email, out->password);
  http_response *r = login_at(out->email, out->password, __FILE__, __LINE__);
  fill_account_from_login(out, r);
  http_response_free(r);
}

json_t *harness_new_site(const char *admin_token, char *site_id_out) {
  char slug[HARNESS_NAME_MAX];
  harness_unique("site", slug);
  http_response *r = http_json(
      "POST", "/v1/sites", admin_token,
      json_pack("{s:s, s:s, s:s}", "slug", slug, "name", hpath("Site %s", slug), "organisation", "E2E Trust"));
  if (r->status != 201)
    fail_with(r, __FILE__, __LINE__, "creating a site failed");
  const char *id = hjson_str(r->json, "id");
  if (!id)
    fail_with(r, __FILE__, __LINE__, "created site has no id");
  if (site_id_out)
    copy_bounded(site_id_out, HARNESS_ID_MAX, id, "site id", __FILE__, __LINE__);
  json_t *site = json_incref(r->json);
  http_response_free(r);
  return site;
}

void harness_new_site_id(const char *admin_token, char *site_id_out) {
  json_decref(harness_new_site(admin_token, site_id_out));
}

/* Clears must_change_password as if the member had set their own password (PATCH /v1/me),
 * which would cost three more Argon2 hashes (verify, hash, the new login) per account; the
 * password stays the one-time one, and no credential change is recorded, so tokens stay valid. */
static void member_chose_password(const char *member_id, const char *file, int line) {
  if (!harness_is_uuid(member_id))
    harness_fail_at(file, line, "not a member id: %s", member_id);
  char sql[160];
  snprintf(sql, sizeof sql, "UPDATE members SET must_change_password = false WHERE id = '%s'", member_id);
  if (harness_psql_try(sql) != 0)
    harness_fail_at(file, line, "psql could not clear must_change_password of %s", member_id);
}

/* POST /v1/members as creator_token (display_name NULL: a unique one; email_prefix NULL: the role);
 * asserts 201 and fills *out but for the tokens. */
static void create_member(const char *creator_token, const char *role, const char *home_site_id,
                          const char *display_name, const char *email_prefix, harness_account *out) {
  memset(out, 0, sizeof *out);
  harness_unique_email(email_prefix ? email_prefix : role, out->email);
  if (display_name) {
    copy_bounded(out->display_name, sizeof out->display_name, display_name, "display_name", __FILE__, __LINE__);
  } else {
    char name[HARNESS_NAME_MAX];
    harness_unique("Member", name);
    snprintf(out->display_name, sizeof out->display_name, "%s", name);
  }
  json_t *body = json_pack("{s:s, s:s, s:s}", "email", out->email, "display_name", out->display_name, "role", role);
  if (home_site_id)
    json_object_set_new(body, "home_site_id", json_string(home_site_id));
  http_response *r = http_json("POST", "/v1/members", creator_token, body);
  if (r->status != 201)
    fail_with(r, __FILE__, __LINE__, "creating a %s failed", role);
  const char *otp = hjson_str(r->json, "one_time_password");
  const char *id = hjson_str(r->json, "member.id");
  if (!otp || !id)
    fail_with(r, __FILE__, __LINE__, "created member lacks member.id or one_time_password");
  copy_bounded(out->password, sizeof out->password, otp, "one_time_password", __FILE__, __LINE__);
  copy_bounded(out->id, sizeof out->id, id, "member id", __FILE__, __LINE__);
  snprintf(out->role, sizeof out->role, "%s", role);
  if (home_site_id)
    snprintf(out->home_site_id, sizeof out->home_site_id, "%s", home_site_id);
  http_response_free(r);
}

/* create_member, then a login with the one-time password; unless one_time, the member then
 * "chooses" a password (member_chose_password). */
static void new_member_at(const char *creator_token, const char *role, const char *home_site_id,
                          const char *display_name, const char *email_prefix, bool one_time, harness_account *out) {
  create_member(creator_token, role, home_site_id, display_name, email_prefix, out);
  http_response *r = login_at(out->email, out->password, __FILE__, __LINE__);
  copy_bounded(out->token, sizeof out->token, hjson_str(r->json, "access_token"), "access_token", __FILE__, __LINE__);
  copy_bounded(out->refresh, sizeof out->refresh, hjson_str(r->json, "refresh_token"), "refresh_token", __FILE__,
               __LINE__);
  http_response_free(r);
  if (!one_time)
    member_chose_password(out->id, __FILE__, __LINE__);
}

void harness_new_member(const char *creator_token, const char *role, const char *home_site_id, harness_account *out) {
  new_member_at(creator_token, role, home_site_id, NULL, NULL, false, out);
}

void harness_new_member_one_time(const char *creator_token, const char *role, const char *home_site_id,
                                 harness_account *out) {
  new_member_at(creator_token, role, home_site_id, NULL, NULL, true, out);
}

void harness_new_member_named(const char *creator_token, const char *role, const char *home_site_id,
                              const char *display_name, const char *email_prefix, harness_account *out) {
  new_member_at(creator_token, role, home_site_id, display_name, email_prefix, false, out);
}

void harness_new_member_quick(const char *creator_token, const char *role, const char *home_site_id,
                              harness_account *out) {
  create_member(creator_token, role, home_site_id, NULL, NULL, out);
  member_chose_password(out->id, __FILE__, __LINE__);
  harness_forge_access_token(out->id, role, out->token);
}

/* PUT /v1/sites/{site_id}/managers/{member_id} as admin_token; asserts 204. */
static void add_manager(const char *admin_token, const char *site_id, const char *member_id) {
  http_response *r =
      http_request("PUT", hpath("/v1/sites/%s/managers/%s", site_id, member_id), admin_token, NULL, NULL, NULL);
  if (r->status != 204)
    fail_with(r, __FILE__, __LINE__, "making %s a manager of site %s failed", member_id, site_id);
  http_response_free(r);
}

void harness_new_manager_of(const char *admin_token, const char *site_id, harness_account *out) {
  harness_new_member(admin_token, "manager", site_id, out);
  add_manager(admin_token, site_id, out->id);
}

void harness_new_manager_quick(const char *admin_token, const char *site_id, harness_account *out) {
  harness_new_member_quick(admin_token, "manager", site_id, out);
  add_manager(admin_token, site_id, out->id);
}
