/* forumnet serve (the HTTP API) and forumnet migrate. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "forumnet/cli.h"
#include "forumnet/log.h"
#include "forumnet/migrate.h"
#include "forumnet/oidc.h"
#include "forumnet/password.h"
#include "forumnet/server.h"

/* Checks (or, with FORUMNET_AUTO_MIGRATE=1, brings) the schema up to date before serving.
 * PostgreSQL may still be starting next to us, so connecting is retried for a while. */
static int prepare_database(const fn_config *served) {
  static fn_config direct; /* too big for the stack */
  direct = *served;
  config_use_direct_database(&direct);
  const fn_config *cfg = &direct;
  PGconn *pg = NULL;
  for (int attempt = 0; attempt < 20 && db_connect(cfg, &pg) != FN_OK; attempt++)
    sleep(1);
  if (pg == NULL) {
    log_error("cannot reach the database; not starting");
    return 0;
  }
  int pending = 0, ok = 1;
  if (migrate_pending(pg, &pending) != FN_OK) {
    ok = 0;
  } else if (pending > 0 && cfg->auto_migrate) {
    ok = migrate_apply(pg, stderr) == FN_OK;
  } else if (pending > 0) {
    log_error("the database is %d migration(s) behind: run `forumnet migrate` (or set FORUMNET_AUTO_MIGRATE=1)",
              pending);
    ok = 0;
  }
  PQfinish(pg);
  return ok;
}

/* The replica's pool, when FORUMNET_DATABASE_READ_URL is set: the same settings as the primary's but for
 * its URL and size (FORUMNET_DB_READ_POOL_SIZE). Opened lazily like the primary's, so forumnet starts, and
 * serves summaries from the primary, while the replica is away. */
static fn_status create_read_pool(fn_app *app) {
  static fn_config read_cfg; /* the pool keeps a pointer to it */
  if (app->cfg.read_database_url[0] == '\0')
    return FN_OK;
  read_cfg = app->cfg;
  snprintf(read_cfg.database_url, sizeof read_cfg.database_url, "%s", app->cfg.read_database_url);
  read_cfg.db_pool_size = app->cfg.db_read_pool_size;
  /* the pool needs no key material */
  memset(read_cfg.jwt_secret, 0, sizeof read_cfg.jwt_secret);
  memset(read_cfg.jwt_previous_secret, 0, sizeof read_cfg.jwt_previous_secret);
  log_info("summaries may be served by a replica (FORUMNET_DATABASE_READ_URL, %u connections)", read_cfg.db_pool_size);
  return db_pool_create(&read_cfg, &app->read_pool);
}

int cli_serve(int argc, char **argv) {
  (void)argc;
  (void)argv;
  static fn_app app; /* lives as long as the server */
  int rc = cli_load_config(&app.cfg, 1);
  if (rc != 0)
    return rc;
  char err[512];
  if (oidc_providers_load(&app.cfg, err, sizeof err) != FN_OK) { /* a configuration error: like config_load's */
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  if (password_init() != FN_OK) {
    log_error("cannot initialise libsodium");
    return 1;
  }
  if (!prepare_database(&app.cfg))
    return 1;
  if (db_pool_create(&app.cfg, &app.pool) != FN_OK || create_read_pool(&app) != FN_OK)
    return 1;
  db_pool_connect_all(app.pool); /* the replica's pool serves slow routes only: it stays lazy */
  rc = server_run(&app);
  db_pool_destroy(app.read_pool);
  db_pool_destroy(app.pool);
  return rc;
}

int cli_migrate(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fn_config cfg;
  PGconn *pg = NULL;
  int rc = cli_load_config(&cfg, 0);
  if (rc != 0)
    return rc;
  config_use_direct_database(&cfg);
  if (db_connect(&cfg, &pg) != FN_OK) {
    fprintf(stderr, "cannot connect to the database (FORUMNET_DATABASE_DIRECT_URL, else FORUMNET_DATABASE_URL)\n");
    return 1;
  }
  fn_status st = migrate_apply(pg, stdout);
  PQfinish(pg);
  return st == FN_OK ? 0 : 1;
}
