#include "forumnet/migrate.h"

#include <stdlib.h>
#include <string.h>

#include "forumnet/log.h"

/* Arbitrary constant shared by every forumnet instance: "forumnet" in ASCII. */
#define MIGRATION_LOCK_KEY "7382119137896035700"

int migrate_known_count(void) {
  int n = 0;
  while (migration_files[n].name != NULL)
    n++;
  return n;
}

static int run(PGconn *pg, const char *sql) {
  PGresult *res = PQexec(pg, sql);
  ExecStatusType rs = PQresultStatus(res);
  int ok = rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK;
  if (!ok)
    log_error("migration statement failed: %s", PQresultErrorMessage(res));
  PQclear(res);
  return ok;
}

static int is_applied(PGconn *pg, const char *name, int *applied) {
  const char *params[] = {name};
  PGresult *res = PQexecParams(pg, "SELECT 1 FROM schema_migrations WHERE name = $1", 1, NULL, params, NULL, NULL, 0);
  int ok = PQresultStatus(res) == PGRES_TUPLES_OK;
  if (ok)
    *applied = PQntuples(res) > 0;
  PQclear(res);
  return ok;
}

fn_status migrate_apply(PGconn *pg, FILE *out) {
  fn_status st = FN_INTERNAL;
  if (!run(pg, "SET client_min_messages TO warning") || /* no NOTICE for IF NOT EXISTS */
      !run(pg, "SELECT pg_advisory_lock(" MIGRATION_LOCK_KEY ")"))
    return FN_UNAVAILABLE;
  if (!run(pg, "CREATE TABLE IF NOT EXISTS schema_migrations ("
               " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"))
    goto out;
  int applied_now = 0;
  for (const struct migration_file *m = migration_files; m->name != NULL; m++) {
    int applied = 0;
    if (!is_applied(pg, m->name, &applied))
      goto out;
    if (applied)
      continue;
    if (!run(pg, "BEGIN"))
      goto out;
    const char *params[] = {m->name};
    PGresult *rec = NULL;
    int ok = run(pg, m->sql);
    if (ok) {
      rec = PQexecParams(pg, "INSERT INTO schema_migrations (name) VALUES ($1)", 1, NULL, params, NULL, NULL, 0);
      ok = PQresultStatus(rec) == PGRES_COMMAND_OK;
      PQclear(rec);
    }
    if (!ok || !run(pg, "COMMIT")) {
      run(pg, "ROLLBACK");
      if (out)
        fprintf(out, "migration %s failed; nothing of it was applied\n", m->name);
      goto out;
    }
    applied_now++;
    if (out)
      fprintf(out, "applied %s\n", m->name);
  }
  if (out)
    fprintf(out, "migrations current (%d applied now, %d known)\n", applied_now, migrate_known_count());
  st = FN_OK;
out:
  run(pg, "SELECT pg_advisory_unlock(" MIGRATION_LOCK_KEY ")");
  return st;
}

fn_status migrate_pending(PGconn *pg, int *pending) {
  PGresult *res = PQexec(pg, "SELECT name FROM schema_migrations");
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    PQclear(res);
    *pending = migrate_known_count();
    return FN_OK; /* no table: nothing applied yet */
  }
  int n = 0;
  for (const struct migration_file *m = migration_files; m->name != NULL; m++) {
    int found = 0;
    for (int i = 0; i < PQntuples(res) && !found; i++)
      found = strcmp(PQgetvalue(res, i, 0), m->name) == 0;
    if (!found)
      n++;
  }
  PQclear(res);
  *pending = n;
  return FN_OK;
}
