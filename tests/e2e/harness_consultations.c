/*
 * harness_consultations.c — consultations made through the API (API.md section 6), and the
 * "consultation world" of sites, managers, groups and members several suites share.
 */
#include "harness.h"
#include "harness_internal.h"

#include <stdio.h>
#include <string.h>

json_t *harness_consultation_body(const char *site_id, const char *group_id, long opens_in, long closes_in) {
  char title[HARNESS_NAME_MAX], opens[32], closes[32];
  harness_unique("Consultation", title);
  json_t *sites = json_array(), *groups = json_array();
  if (site_id)
    json_array_append_new(sites, json_string(site_id));
  if (group_id)
    json_array_append_new(groups, json_string(group_id));
  return json_pack("{s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}], s:{s:o, s:o}, s:s, s:s}", "title", title,
                   "summary", "We want to hear how the new rota works for your team.", "questions", "id", "q1", "text",
                   "What works well?", "id", "q2", "text", "What should change?", "id", "q3", "text", "Anything else?",
                   "target", "site_ids", sites, "group_ids", groups, "opens_at",
                   harness_rfc3339_from_now(opens_in, opens), "closes_at", harness_rfc3339_from_now(closes_in, closes));
}

json_t *harness_new_consultation_at(const char *token, json_t *body, char *id_out, const char *file, int line) {
  http_response *r = http_json("POST", "/v1/consultations", token, body);
  if (r->status != 201)
    fail_with(r, file, line, "creating a consultation failed");
  const char *id = hjson_str(r->json, "id");
  if (!harness_is_uuid(id))
    fail_with(r, file, line, "created consultation has no uuid id");
  const char *status = hjson_str(r->json, "status");
  if (!status || strcmp(status, "draft") != 0)
    fail_with(r, file, line, "a new consultation should be a draft");
  if (id_out)
    copy_bounded(id_out, HARNESS_ID_MAX, id, "consultation id", file, line);
  json_t *c = json_incref(r->json);
  http_response_free(r);
  return c;
}

json_t *harness_consultation_get_at(const char *id, const char *token, const char *file, int line) {
  http_response *r = http_get(hpath("/v1/consultations/%s", id), token);
  if (r->status != 200 || !json_is_object(r->json))
    fail_with(r, file, line, "reading consultation %s failed", id);
  json_t *c = json_incref(r->json);
  http_response_free(r);
  return c;
}

void harness_consultation_set_status_at(const char *id, const char *token, const char *status, const char *file,
                                        int line) {
  http_response *r = http_json("PATCH", hpath("/v1/consultations/%s", id), token, json_pack("{s:s}", "status", status));
  if (r->status != 200)
    fail_with(r, file, line, "moving consultation %s to %s failed", id, status);
  const char *got = hjson_str(r->json, "status");
  if (!got || strcmp(got, status) != 0)
    fail_with(r, file, line, "expected status \"%s\"", status);
  http_response_free(r);
}

void harness_consult_world_build(const char *admin_token, harness_consult_world *w) {
  memset(w, 0, sizeof *w);
  harness_new_site_id(admin_token, w->site_a);
  harness_new_site_id(admin_token, w->site_b);
  harness_new_manager_quick(admin_token, w->site_a, &w->mgr_a);
  harness_new_manager_quick(admin_token, w->site_a, &w->mgr_a2);
  harness_new_manager_quick(admin_token, w->site_b, &w->mgr_b);
  harness_account *at_a[] = {&w->conv1, &w->rep1, &w->mem1, &w->mem1b, &w->conv2, &w->mem2, &w->lone_a};
  for (size_t i = 0; i < sizeof at_a / sizeof at_a[0]; i++)
    harness_new_member_quick(admin_token, "practitioner", w->site_a, at_a[i]);
  harness_new_member_quick(admin_token, "facilitator", w->site_b, &w->fac_b);
  harness_new_member_quick(admin_token, "practitioner", w->site_b, &w->conv_b);
  harness_new_member_quick(admin_token, "practitioner", w->site_b, &w->pb);

  /* group 1: proposed by conv1, four invitations accepted, a representative, terms accepted by all */
  json_t *g = harness_new_group(w->conv1.token, w->site_a, 0, 0, w->group1);
  copy_bounded(w->group1_name, sizeof w->group1_name, hjson_str(g, "name") ? hjson_str(g, "name") : "", "group name",
               __FILE__, __LINE__);
  json_decref(g);
  harness_account *joiners[] = {&w->rep1, &w->mem1, &w->mem1b, &w->fac_b};
  for (size_t i = 0; i < sizeof joiners / sizeof joiners[0]; i++) {
    harness_group_invite(w->group1, w->conv1.token, joiners[i]->id, NULL);
    harness_group_activate(w->group1, joiners[i]->token, joiners[i]->id);
  }
  harness_group_set_role(w->group1, w->conv1.token, w->rep1.id, "representative");
  int tv = harness_group_post_terms(w->group1, w->conv1.token, "We meet monthly; what is said here stays here.");
  harness_account *all1[] = {&w->conv1, &w->rep1, &w->mem1, &w->mem1b, &w->fac_b};
  for (size_t i = 0; i < sizeof all1 / sizeof all1[0]; i++)
    harness_group_accept_terms(w->group1, tv, all1[i]->token);
  g = harness_group_get(w->group1, w->conv1.token);
  const char *st = hjson_str(g, "status");
  if (!st || strcmp(st, "active") != 0)
    fail_msg("consultation world: group 1 should be active after terms were accepted, is %s", st ? st : "(none)");
  json_decref(g);

  /* group 2: a convener and one member */
  g = harness_new_group(w->conv2.token, w->site_a, 0, 0, w->group2);
  copy_bounded(w->group2_name, sizeof w->group2_name, hjson_str(g, "name") ? hjson_str(g, "name") : "", "group name",
               __FILE__, __LINE__);
  json_decref(g);
  harness_group_invite(w->group2, w->conv2.token, w->mem2.id, NULL);
  harness_group_activate(w->group2, w->mem2.token, w->mem2.id);

  /* group at site B */
  json_decref(harness_new_group(w->conv_b.token, w->site_b, 0, 0, w->group_b));
}
