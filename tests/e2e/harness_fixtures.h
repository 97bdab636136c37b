/*
 * harness_fixtures.h — data made through the API for a test: accounts (admins, members,
 * managers; logged in or with forged tokens), sites, forum groups and memberships, terms,
 * consultations, partners and events.  Part of harness.h.
 */
#ifndef FORUMNET_E2E_HARNESS_FIXTURES_H
#define FORUMNET_E2E_HARNESS_FIXTURES_H

#include "harness_http.h"

/* ------------------------------------------------------------------------------------
 * Accounts and sites
 * ------------------------------------------------------------------------------------ */

/* Runs `$FORUMNET_BIN admin create --email <unique>@test.example --role admin --name "Admin X"
 * --password-stdin` (password through a pipe), asserts exit status 0, and checks that the
 * account can log in on the current server.  Writes the email (HARNESS_EMAIL_MAX) and the
 * password (HARNESS_PASSWORD_MAX). */
void harness_create_admin(char *email_out, char *password_out);

/* POST /v1/auth/login {"email", "password"} (no bearer token).  Never fails the test: the caller
 * checks and frees the answer. */
http_response *harness_login_request(const char *email, const char *password);

/* POST /v1/auth/refresh {"refresh_token"} (no bearer token).  Never fails the test: the caller
 * checks and frees the answer. */
http_response *harness_refresh_request(const char *refresh_token);

/* POST /v1/auth/login; asserts 200 and writes the access token and refresh token
 * (HARNESS_TOKEN_MAX each; either may be NULL). */
void harness_login(const char *email, const char *password, char *token_out, char *refresh_out);

/* A new admin (harness_create_admin), logged in, with its id. */
void harness_new_admin(harness_account *out);

/* POST /v1/sites as admin_token with a unique slug and name; asserts 201 and writes the new
 * site's id (HARNESS_ID_MAX).  Returns the created site as a new reference (caller decrefs). */
json_t *harness_new_site(const char *admin_token, char *site_id_out);

/* Same, keeping only the id. */
void harness_new_site_id(const char *admin_token, char *site_id_out);

/* POST /v1/members as creator_token (role; home_site_id may be NULL), asserts 201, then logs
 * the new member in with its one-time password.  Fills *out.  Then clears the member's
 * must_change_password in the database, standing in for the member setting their own password
 * (a one-time password allows only GET|PATCH /v1/me): acct->password stays valid, and so do
 * the tokens. */
void harness_new_member(const char *creator_token, const char *role, const char *home_site_id, harness_account *out);

/* Like harness_new_member, but the member keeps the one-time password: must_change_password
 * is true, and the token works only on GET|PATCH /v1/me until the password is changed. */
void harness_new_member_one_time(const char *creator_token, const char *role, const char *home_site_id,
                                 harness_account *out);

/* Same with a chosen display name (NULL: a unique one) and email prefix (NULL: the role). */
void harness_new_member_named(const char *creator_token, const char *role, const char *home_site_id,
                              const char *display_name, const char *email_prefix, harness_account *out);

/* A new manager listed for site_id (created and attached with admin_token), logged in. */
void harness_new_manager_of(const char *admin_token, const char *site_id, harness_account *out);

/* Logs *acct in again with acct->password, refreshing acct->token and acct->refresh. */
void harness_relogin(harness_account *acct);

/* Like harness_new_member but the token is forged (harness_forge_access_token) instead of
 * logging in with the one-time password: one Argon2 hash (the server's) instead of two.
 * must_change_password is cleared like harness_new_member's.
 * refresh stays "".  For suites that need many accounts and test no authentication. */
void harness_new_member_quick(const char *creator_token, const char *role, const char *home_site_id,
                              harness_account *out);

/* A new manager (quick: forged token) listed for site_id, created and attached with admin_token. */
void harness_new_manager_quick(const char *admin_token, const char *site_id, harness_account *out);

/* ------------------------------------------------------------------------------------
 * Forum groups (API.md section 5)
 * ------------------------------------------------------------------------------------ */

/* POST /v1/groups as token with a unique name "Group <unique>" at site_id (NULL: network-wide),
 * min_members / max_members when > 0 (else the server's defaults).  Asserts 201 and writes the
 * id to group_id_out (HARNESS_ID_MAX, may be NULL).  Returns the Group (new reference). */
#define harness_new_group(token, site_id, min_members, max_members, group_id_out)                                      \
  harness_new_group_at((token), (site_id), (min_members), (max_members), (group_id_out), __FILE__, __LINE__)
json_t *harness_new_group_at(const char *token, const char *site_id, int min_members, int max_members,
                             char *group_id_out, const char *file, int line);

/* GET /v1/groups/{group_id} as token; asserts 200 and returns the Group (new reference). */
#define harness_group_get(group_id, token) harness_group_get_at((group_id), (token), __FILE__, __LINE__)
json_t *harness_group_get_at(const char *group_id, const char *token, const char *file, int line);

/* The join request: POST /v1/groups/{id}/members {} as token; asserts 201, state "requested". */
#define harness_group_request(group_id, token) harness_group_request_at((group_id), (token), __FILE__, __LINE__)
void harness_group_request_at(const char *group_id, const char *token, const char *file, int line);

/* Invitation by a leader: POST {"member_id"[, "role"]} (role NULL: none sent); asserts 201, state "invited". */
#define harness_group_invite(group_id, leader_token, member_id, role)                                                  \
  harness_group_invite_at((group_id), (leader_token), (member_id), (role), __FILE__, __LINE__)
void harness_group_invite_at(const char *group_id, const char *leader_token, const char *member_id, const char *role,
                             const char *file, int line);

/* PATCH /v1/groups/{id}/members/{member_id} {"state":"active"} as token (a leader approving a
 * request, or the invitee accepting); asserts 200 and state "active". */
#define harness_group_activate(group_id, token, member_id)                                                             \
  harness_group_activate_at((group_id), (token), (member_id), __FILE__, __LINE__)
void harness_group_activate_at(const char *group_id, const char *token, const char *member_id, const char *file,
                               int line);

/* Makes acct an active member: its own join request, then the leader's approval. */
#define harness_group_join(group_id, leader_token, acct)                                                               \
  harness_group_join_at((group_id), (leader_token), (acct), __FILE__, __LINE__)
void harness_group_join_at(const char *group_id, const char *leader_token, const harness_account *acct,
                           const char *file, int line);

/* PATCH {"role": role} on member_id's membership as token; asserts 200 and the new role. */
#define harness_group_set_role(group_id, token, member_id, role)                                                       \
  harness_group_set_role_at((group_id), (token), (member_id), (role), __FILE__, __LINE__)
void harness_group_set_role_at(const char *group_id, const char *token, const char *member_id, const char *role,
                               const char *file, int line);

/* POST /v1/groups/{id}/terms {"body": body} as a leader; asserts 201; returns the new version. */
#define harness_group_post_terms(group_id, leader_token, body)                                                         \
  harness_group_post_terms_at((group_id), (leader_token), (body), __FILE__, __LINE__)
int harness_group_post_terms_at(const char *group_id, const char *leader_token, const char *body, const char *file,
                                int line);

/* POST /v1/groups/{id}/terms/{version}/acceptances {} as token; asserts 201 or 200. */
#define harness_group_accept_terms(group_id, version, token)                                                           \
  harness_group_accept_terms_at((group_id), (version), (token), __FILE__, __LINE__)
void harness_group_accept_terms_at(const char *group_id, int version, const char *token, const char *file, int line);

/* ------------------------------------------------------------------------------------
 * consultations (API.md section 6): helpers for e2e_consultations.c and
 * e2e_consultation_responses.c
 * ------------------------------------------------------------------------------------ */

/* A new, valid POST /v1/consultations body (new reference): a unique title, a summary, three
 * questions with ids "q1", "q2", "q3" in that order, target {"site_ids": [site_id] or [],
 * "group_ids": [group_id] or []} (either may be NULL), opens_at = now + opens_in and
 * closes_at = now + closes_in seconds. */
json_t *harness_consultation_body(const char *site_id, const char *group_id, long opens_in, long closes_in);

/* POST /v1/consultations as token with body (STOLEN); asserts 201 and status "draft", writes the
 * id to id_out (HARNESS_ID_MAX, may be NULL) and returns the Consultation (new reference). */
#define harness_new_consultation(token, body, id_out)                                                                  \
  harness_new_consultation_at((token), (body), (id_out), __FILE__, __LINE__)
json_t *harness_new_consultation_at(const char *token, json_t *body, char *id_out, const char *file, int line);

/* GET /v1/consultations/{id} as token; asserts 200 and returns the Consultation (new reference). */
#define harness_consultation_get(id, token) harness_consultation_get_at((id), (token), __FILE__, __LINE__)
json_t *harness_consultation_get_at(const char *id, const char *token, const char *file, int line);

/* PATCH /v1/consultations/{id} {"status": status} as token (no If-Match); asserts 200 and that the
 * answer's status is status. */
#define harness_consultation_set_status(id, token, status)                                                             \
  harness_consultation_set_status_at((id), (token), (status), __FILE__, __LINE__)
void harness_consultation_set_status_at(const char *id, const char *token, const char *status, const char *file,
                                        int line);

/* A world to consult, built through the API only (quick accounts with forged tokens):
 *   site_a, site_b; mgr_a and mgr_a2 manage site_a, mgr_b manages site_b;
 *   group1 at site_a, made `active`: conv1 (convener, proposer), rep1 (role representative,
 *     set by PATCH), mem1 and mem1b (role member), fac_b (a network facilitator whose home site
 *     is site_b, role member); terms version 1 published and accepted by all five;
 *   group2 at site_a (forming): conv2 (convener), mem2 (member);
 *   group_b at site_b (forming): conv_b (convener);
 *   lone_a: a practitioner at site_a in no group; pb: a practitioner at site_b in no group.
 * Practitioners' home site is the site of their group. */
typedef struct harness_consult_world {
  char site_a[HARNESS_ID_MAX], site_b[HARNESS_ID_MAX];
  harness_account mgr_a, mgr_a2, mgr_b;
  char group1[HARNESS_ID_MAX], group1_name[HARNESS_NAME_MAX];
  harness_account conv1, rep1, mem1, mem1b, fac_b;
  char group2[HARNESS_ID_MAX], group2_name[HARNESS_NAME_MAX];
  harness_account conv2, mem2;
  char group_b[HARNESS_ID_MAX];
  harness_account conv_b;
  harness_account lone_a, pb;
} harness_consult_world;

void harness_consult_world_build(const char *admin_token, harness_consult_world *w);

/* ------------------------------------------------------------------------------------
 * partners/events (API.md section 7): helpers for e2e_partners.c, e2e_events.c,
 * e2e_registrations.c and e2e_calendar.c
 * ------------------------------------------------------------------------------------ */

/* A partner client made by harness_new_partner, with a partner access token. */
typedef struct harness_partner {
  char id[HARNESS_ID_MAX];
  char name[HARNESS_NAME_MAX];
  char client_id[HARNESS_ID_MAX];
  char client_secret[HARNESS_ID_MAX];
  char token[HARNESS_TOKEN_MAX]; /* from the client-credentials grant */
} harness_partner;

/* POST /v1/partners {"name": "Partner <unique>", "trusted": trusted} as admin_token; asserts 201
 * with id, client_id and client_secret, then gets a token (harness_partner_login). */
#define harness_new_partner(admin_token, trusted, out)                                                                 \
  harness_new_partner_at((admin_token), (trusted), (out), __FILE__, __LINE__)
void harness_new_partner_at(const char *admin_token, bool trusted, harness_partner *out, const char *file, int line);

/* POST /v1/auth/token as JSON {"grant_type":"client_credentials","client_id","client_secret"}
 * (no bearer token).  Never fails the test: the caller checks and frees the answer. */
http_response *harness_partner_token_request(const char *client_id, const char *client_secret);

/* The same grant; asserts 200 with a token_type Bearer access_token and writes it to p->token. */
#define harness_partner_login(p) harness_partner_login_at((p), __FILE__, __LINE__)
void harness_partner_login_at(harness_partner *p, const char *file, int line);

/* A new, valid POST /v1/events body (new reference): kind, a unique title "Event <unique>",
 * starts_at = now + starts_in seconds (whole seconds, UTC), ends_at = starts_at + duration,
 * audience {"scope":"sites","site_ids":[site_id]} or {"scope":"network"} when site_id is NULL. */
json_t *harness_event_body(const char *kind, long starts_in, long duration, const char *site_id);

/* POST /v1/events as token with body (STOLEN); asserts 201, writes the id to id_out
 * (HARNESS_ID_MAX, may be NULL) and returns the Event (new reference). */
#define harness_new_event(token, body, id_out) harness_new_event_at((token), (body), (id_out), __FILE__, __LINE__)
json_t *harness_new_event_at(const char *token, json_t *body, char *id_out, const char *file, int line);

/* GET /v1/events/{id} as token; asserts 200 and returns the Event (new reference). */
#define harness_event_get(id, token) harness_event_get_at((id), (token), __FILE__, __LINE__)
json_t *harness_event_get_at(const char *id, const char *token, const char *file, int line);

/* PATCH /v1/events/{id} {"status":"published"} as token; asserts 200 and status "published". */
#define harness_event_publish(id, token) harness_event_publish_at((id), (token), __FILE__, __LINE__)
void harness_event_publish_at(const char *id, const char *token, const char *file, int line);

/* PUT /v1/events/{id}/registration {"status": status} as token (a member's answer); asserts 200 or 201. */
#define harness_event_register(id, token, status) harness_event_register_at((id), (token), (status), __FILE__, __LINE__)
void harness_event_register_at(const char *id, const char *token, const char *status, const char *file, int line);

#endif
