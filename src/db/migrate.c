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

/* Each migration is one transaction that first takes the migration lock, transaction-scoped: it is released
 * by COMMIT or ROLLBACK, so it also holds (and can never leak) through a transaction-mode pooler, where
 * the statements of a session-level lock and its unlock may reach different server connections. Two
 * instances migrating at once apply each migration once: the second waits, then finds it applied. */
fn_status migrate_apply(PGconn *pg, FILE *out) {
  int applied_now = 0;
  for (const struct migration_file *m = migration_files; m->name != NULL; m++) {
    int applied = 0;
    if (!run(pg, "BEGIN"))
      return FN_UNAVAILABLE;
    if (!run(pg, "SET LOCAL client_min_messages TO warning") || /* no NOTICE for IF NOT EXISTS */
        !run(pg, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK_KEY ")") ||
        !run(pg, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                 " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())") ||
        !is_applied(pg, m->name, &applied)) {
      run(pg, "ROLLBACK");
      return FN_INTERNAL;
    }
    if (applied) {
      if (!run(pg, "COMMIT"))
        return FN_INTERNAL;
      continue;
    }
    const char *params[] = {m->name};
    int ok = run(pg, m->sql);
    if (ok) {
      PGresult *rec =
          PQexecParams(pg, "INSERT INTO schema_migrations (name) VALUES ($1)", 1, NULL, params, NULL, NULL, 0);
      ok = PQresultStatus(rec) == PGRES_COMMAND_OK;
      PQclear(rec);
    }
    if (!ok || !run(pg, "COMMIT")) {
      run(pg, "ROLLBACK");
      if (out)
        fprintf(out, "migration %s failed; nothing of it was applied\n", m->name);
      return FN_INTERNAL;
    }
    applied_now++;
    if (out)
      fprintf(out, "applied %s\n", m->name);
  }
  if (out)
    fprintf(out, "migrations current (%d applied now, %d known)\n", applied_now, migrate_known_count());
  return FN_OK;
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
