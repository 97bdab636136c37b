#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/cli.h"
#include "forumnet/password.h"

static const char *env_lookup(const char *name) { return getenv(name); }

int cli_load_config(fn_config *cfg, int need_jwt) {
  char err[256];
  if (config_load(cfg, env_lookup, 1, need_jwt, err, sizeof err) != FN_OK) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  return 0;
}

int cli_open(cli_context *ctx, const char *command, int need_jwt) {
  memset(ctx, 0, sizeof *ctx);
  int rc = cli_load_config(&ctx->app.cfg, need_jwt);
  if (rc != 0)
    return rc;
  if (password_init() != FN_OK) {
    fprintf(stderr, "cannot initialise libsodium\n");
    return 1;
  }
  config_use_direct_database(&ctx->app.cfg);
  ctx->app.cfg.db_pool_size = 1;
  if (ctx->app.cfg.db_pooler == DB_POOLER_SESSION) /* behind a pooler the role's setting holds */
    ctx->app.cfg.statement_timeout_ms = 600000;    /* bulk seeding may take a while */
  if (db_pool_create(&ctx->app.cfg, &ctx->app.pool) != FN_OK || db_pool_acquire(ctx->app.pool, &ctx->db) != FN_OK) {
    fprintf(stderr, "cannot connect to the database (FORUMNET_DATABASE_DIRECT_URL, else FORUMNET_DATABASE_URL)\n");
    return 1;
  }
  ctx->req.app = &ctx->app;
  ctx->req.route_index = -1;
  snprintf(ctx->req.request_id, sizeof ctx->req.request_id, "cli:%s", command);
  return 0;
}

void cli_close(cli_context *ctx) {
  if (ctx->db)
    db_pool_release(ctx->app.pool, ctx->db);
  db_pool_destroy(ctx->app.pool);
  ctx->db = NULL;
  ctx->app.pool = NULL;
}
