#ifndef FORUMNET_CLI_H
#define FORUMNET_CLI_H

#include "forumnet/http.h"

/* Subcommands of the forumnet binary. Each returns the process exit status:
 * 0 success, 1 failure, 2 invalid usage or configuration. */
int cli_serve(int argc, char **argv);
int cli_migrate(int argc, char **argv);
int cli_admin(int argc, char **argv);
int cli_seed(int argc, char **argv);

/* Loads the configuration from the process environment for a subcommand, which always needs the
 * database (and JWT keys when need_jwt). Returns 0, or prints the reason and returns 2. */
int cli_load_config(fn_config *cfg, int need_jwt);

/* Loads configuration and opens a one-connection pool for the offline subcommands.
 * A fn_req stands in for the HTTP request so resources' _db functions (and the audit
 * log, which records request_id = "cli:<command>") work unchanged. */
typedef struct cli_context {
  fn_app app;
  fn_req req;
  db_conn *db;
} cli_context;

int cli_open(cli_context *ctx, const char *command, int need_jwt);
void cli_close(cli_context *ctx);

#endif
