/* forumnet seed --demo: a small network a newcomer can log in to straight away (--scale is in seed_scale.c).
 * Runs once: if the demo sites exist it says so and changes nothing. Passwords are
 * random per installation and printed once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/audit_db.h"
#include "forumnet/cli.h"
#include "forumnet/members_db.h"
#include "forumnet/password.h"
#include "forumnet/seed_scale.h"
#include "forumnet/sites_db.h"

typedef struct demo_site {
  const char *slug, *name, *organisation, *region;
} demo_site;

typedef struct demo_member {
  const char *email, *name, *role, *discipline;
  int site; /* index into demo_sites, -1 for none */
  int manages_site;
} demo_member;

static const demo_site demo_sites[] = {
    {"hackney", "Pause Hackney", "London Borough of Hackney", "London"},
    {"doncaster", "Pause Doncaster", "City of Doncaster Council", "Yorkshire and the Humber"},
    {"hull", "Pause Hull", "Hull City Council", "Yorkshire and the Humber"},
};

static const demo_member demo_members[] = {
    {"admin@demo.forumnet.test", "Ada Admin", "admin", NULL, -1, 0},
    {"manager.hackney@demo.forumnet.test", "Mo Manager", "manager", "Social work", 0, 1},
    {"facilitator@demo.forumnet.test", "Fran Facilitator", "facilitator", "Family therapy", 0, 0},
    {"practitioner.hackney@demo.forumnet.test", "Priya Practitioner", "practitioner", "Social work", 0, 0},
    {"practitioner.hull@demo.forumnet.test", "Harry Practitioner", "practitioner", "Midwifery", 2, 0},
};

#define DEMO_SITE_COUNT (sizeof demo_sites / sizeof demo_sites[0])
#define DEMO_MEMBER_COUNT (sizeof demo_members / sizeof demo_members[0])

static fn_status seed_demo(cli_context *ctx, char passwords[][21]) {
  char site_ids[DEMO_SITE_COUNT][UUID_TEXT_SIZE];
  db_representation created = {NULL, 0};
  fn_status st = db_begin(ctx->db);
  for (size_t i = 0; st == FN_OK && i < DEMO_SITE_COUNT; i++) {
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "slug", demo_sites[i].slug, "name", demo_sites[i].name,
                             "organisation", demo_sites[i].organisation, "region", demo_sites[i].region);
    st = sites_db_insert(ctx->db, body, &created, site_ids[i]);
    json_decref(body);
    free(created.json);
    created.json = NULL;
  }
  for (size_t i = 0; st == FN_OK && i < DEMO_MEMBER_COUNT; i++) {
    const demo_member *m = &demo_members[i];
    char hash[PASSWORD_HASH_MAX], id[UUID_TEXT_SIZE];
    password_generate(passwords[i]);
    json_t *body = json_pack("{s:s, s:s, s:s}", "email", m->email, "display_name", m->name, "role", m->role);
    if (m->discipline)
      json_object_set_new(body, "discipline", json_string(m->discipline));
    if (m->site >= 0)
      json_object_set_new(body, "home_site_id", json_string(site_ids[m->site]));
    if ((st = password_hash(passwords[i], hash)) == FN_OK &&
        (st = members_db_insert(ctx->db, body, hash, &created, id)) == FN_OK)
      st = members_db_set_password(ctx->db, id, hash); /* demo accounts skip the forced change */
    json_decref(body);
    free(created.json);
    created.json = NULL;
    int role_ok, added;
    if (st == FN_OK && m->manages_site)
      st = sites_db_add_manager(ctx->db, site_ids[m->site], id, &role_ok, &added);
  }
  if (st == FN_OK)
    st = audit_db_record(ctx->db, &ctx->req.caller, ctx->req.request_id, "seed.demo", "network", "demo", NULL);
  if (st == FN_OK)
    st = db_commit(ctx->db);
  else
    db_rollback(ctx->db);
  return st;
}

int cli_seed(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "--scale") == 0)
    return seed_scale_main(argc, argv);
  if (argc < 2 || strcmp(argv[1], "--demo") != 0) {
    fprintf(stderr, "usage: forumnet seed --demo | --scale N [--seed S]\n");
    return 2;
  }
  cli_context ctx;
  int rc = cli_open(&ctx, "seed-demo", 0);
  if (rc != 0)
    return rc;
  char passwords[DEMO_MEMBER_COUNT][21];
  fn_status st = seed_demo(&ctx, passwords);
  if (st == FN_CONFLICT) {
    fprintf(stderr, "demo data is already present; nothing changed\n");
    st = FN_OK;
  } else if (st == FN_OK) {
    printf("demo network created: sites hackney, doncaster, hull\n\ndemo logins (shown once):\n");
    for (size_t i = 0; i < DEMO_MEMBER_COUNT; i++)
      printf("  %-13s %-42s %s\n", demo_members[i].role, demo_members[i].email, passwords[i]);
  } else {
    fprintf(stderr, "seeding failed: %s\n", fn_status_title(st));
  }
  cli_close(&ctx);
  return st == FN_OK ? 0 : 1;
}
