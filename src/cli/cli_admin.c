/* forumnet admin create --email E --role R [--name N] [--site SITE_ID] --password-stdin
 * Bootstraps accounts without the API. The password is read from standard input so it
 * never appears in the process list or shell history. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/audit_db.h"
#include "forumnet/body.h"
#include "forumnet/cli.h"
#include "forumnet/members_db.h"
#include "forumnet/password.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

static int usage(void) {
  fprintf(stderr, "usage: forumnet admin create --email EMAIL --role admin|manager|facilitator|practitioner\n"
                  "                             [--name DISPLAY_NAME] [--site SITE_ID] --password-stdin\n");
  return 2;
}

static int read_password(char *out, size_t out_len) {
  if (fgets(out, (int)out_len, stdin) == NULL)
    return 0;
  size_t n = strlen(out);
  while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
    out[--n] = '\0';
  return 1;
}

int cli_admin(int argc, char **argv) {
  const char *email = NULL, *role = NULL, *name = NULL, *site = NULL;
  int password_stdin = 0;
  if (argc < 2 || strcmp(argv[1], "create") != 0)
    return usage();
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--password-stdin") == 0)
      password_stdin = 1;
    else if (i + 1 < argc && strcmp(argv[i], "--email") == 0)
      email = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--role") == 0)
      role = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--name") == 0)
      name = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--site") == 0)
      site = argv[++i];
    else
      return usage();
  }
  if (email == NULL || role == NULL || !password_stdin)
    return usage();
  if (!text_is_email(email) || role_from_string(role) == ROLE_NONE || (site && !text_is_uuid(site))) {
    fprintf(stderr, "invalid --email, --role or --site\n");
    return 2;
  }
  char password[PASSWORD_MAX_BYTES + 2], hash[PASSWORD_HASH_MAX];
  const char *policy = NULL;
  if (!read_password(password, sizeof password) || (policy = password_policy_error(password)) != NULL) {
    fprintf(stderr, "password %s\n", policy ? policy : "missing on standard input");
    return 2;
  }
  cli_context ctx;
  int rc = cli_open(&ctx, "admin-create", 0);
  if (rc != 0)
    return rc;
  json_t *body = json_pack("{s:s, s:s, s:s}", "email", email, "role", role, "display_name", name ? name : email);
  if (site)
    json_object_set_new(body, "home_site_id", json_string(site));
  char id[UUID_TEXT_SIZE];
  db_representation member = {NULL, 0};
  fn_status st = password_hash(password, hash);
  if (st == FN_OK && (st = db_begin(ctx.db)) == FN_OK &&
      (st = members_db_insert(ctx.db, body, hash, &member, id)) == FN_OK &&
      (st = members_db_set_password(ctx.db, id, hash)) == FN_OK && /* chosen here: no forced change */
      (st = audit_db_record(ctx.db, &ctx.req.caller, ctx.req.request_id, "member.created", "member", id, NULL)) ==
          FN_OK)
    st = db_commit(ctx.db);
  if (st == FN_OK)
    printf("created %s %s (%s)\n", role, email, id);
  else
    fprintf(stderr, "could not create the account: %s\n",
            st == FN_CONFLICT  ? "the email is taken"
            : st == FN_INVALID ? "invalid values (is --site an existing site?)"
                               : fn_status_title(st));
  free(member.json);
  json_decref(body);
  cli_close(&ctx);
  return st == FN_OK ? 0 : 1;
}
