#ifndef FORUMNET_MIGRATE_H
#define FORUMNET_MIGRATE_H

#include <libpq-fe.h>
#include <stdio.h>

#include "forumnet/status.h"

/* One sql/NNN_name.sql file, embedded at build time (scripts/embed_sql.cmake). */
struct migration_file {
  const char *name;
  const char *sql;
};

/* Ordered by name, terminated by {NULL, NULL}. */
extern const struct migration_file migration_files[];

/* Number of embedded migrations. */
int migrate_known_count(void);

/* Applies every pending migration, each in its own transaction and recorded in
 * schema_migrations, under a transaction-scoped advisory lock so that concurrent instances
 * never race (safe through a transaction-mode pooler too). Progress lines go to `out` (may be NULL). */
fn_status migrate_apply(PGconn *pg, FILE *out);

/* Number of embedded migrations not yet applied (0 when current). */
fn_status migrate_pending(PGconn *pg, int *pending);

#endif
