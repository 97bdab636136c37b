#ifndef FORUMNET_SEED_SCALE_H
#define FORUMNET_SEED_SCALE_H

#include "forumnet/db.h"

/* forumnet seed --scale N [--seed S]: a generated network at national size for benchmarks
 * (issue 6). At N = 1 about 200 sites, 30 000 members, 5 000 groups, 250 000 meetings with
 * attendance, 1 000 consultations and 20 000 events with registrations; N may be fractional
 * (0.01) and S defaults to 1. Deterministic for a given seed (see seed_scale.c for what differs
 * between runs). Refuses, exit 1, when the database already holds scale data for that seed.
 *
 * argv is the `seed` subcommand's own (argv[0] = "seed"). Returns the process exit status:
 * 0 success, 1 failure or data already present, 2 invalid usage or configuration. */
int seed_scale_main(int argc, char **argv);

/* The steps, one statement a file of sql/seed_scale/ named by its file, in file order, terminated by
 * {NULL, NULL}; embedded at build time (scripts/embed_sql.cmake). */
extern const db_stmt seed_scale_steps[];

#endif
