/* forumnet seed --scale N [--seed S]: a generated national network for benchmarks (issue 6).
 *
 * At N = 1: 200 sites, 30 000 members, 5 000 groups with ~30 000 memberships, 250 000 meetings
 * (~1.35M attendance rows), 1 000 consultations, 20 000 events (~1.3M registrations), spread over
 * the last three years (events also one year ahead). Every count scales with N.
 *
 * How: set-based SQL only, one INSERT ... SELECT per table, in one transaction, so a failure leaves
 * nothing behind. The SQL is in sql/seed_scale/, one statement a file, embedded at build time and run
 * in file order (this file is only the control flow around it). Temporary tables (ON COMMIT DROP) hold
 * the plan of the network by integer index (site s, member n, group g, meeting mi, consultation c,
 * event e); each real table is filled from them:
 *   sc_p        the parameters: seed, counts derived from N, the shared password hash, t0 (see below)
 *   sc_site     sites, each with a contiguous range of "pool" members (the site's practitioners and
 *               facilitators, pool_lo+1 .. pool_hi) and of groups (g_lo+1 .. g_hi), sized by a weight
 *   sc_member   members: admins 1..A, two manager slots per site, then each site's pool
 *   sc_group    groups as planned (status, size, terms, window offset into the site's pool)
 *   sc_gm       their memberships by slot: slot 0 convener, then active members, then requested/invited
 *   sc_gfin     groups with their final counts and status; sc_ms memberships with terms accepted
 *   sc_meeting, sc_attendance (a view), sc_cons, sc_event, sc_partner   the rest, by index
 *
 * Deterministic: each random choice is pg_temp.u(seed, purpose, key), a hash of the seed, what the
 * draw is for and the row's index, and each id is md5('forumnet:<seed>:<kind>:<index>')::uuid. Unlike
 * setseed() + random(), that does not depend on the order in which a plan visits rows, nor on what
 * else the database holds (several seeds can live side by side). Two runs with the same seed produce
 * the same rows except for: timestamps, which are relative to t0, midnight UTC of the day of the run
 * (so runs on different days differ by whole days); the shared password and so its Argon2id hash, new
 * on every run; partners' secret_digest, random so that nobody holds a partner secret; audit_log.
 *
 * The rules the data keeps, as the API keeps them (the schema enforces only part of this):
 * member_count equals the active memberships and never exceeds max_members; a group is 'active'
 * exactly when it has min_members active members who all accepted its current terms (forming groups
 * never satisfy that; dormant and closed are manual); members join groups of their home site;
 * representatives in network-wide groups are active representatives of an open site group;
 * meetings.present_count/attendance_count equal their attendance rows, recorded only for meetings
 * that have ended, for the group's active members; events never have more 'going' than capacity, and
 * a waitlist only when full; registrations only on events their member can see, never on pending ones. */
#include "forumnet/seed_scale.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forumnet/audit_db.h"
#include "forumnet/cli.h"
#include "forumnet/migrate.h"
#include "forumnet/password.h"

/* Each step must finish within the CLI's statement_timeout (600 s). Time grows linearly (N = 3 took
 * 2 minutes on a 2-core machine, 55 s of it the registrations), so at N = 10 the largest step takes
 * about three minutes. */
#define SCALE_MAX 10.0
#define SEED_MAX 2147483647LL

/* Tables the steps fill (NN_insert_<table>.sql), at most, and the room for one name. */
#define SCALE_MAX_TABLES 32
#define SCALE_TABLE_NAME_MAX 64

/* Temporary tables must be sized before the session first touches one. */
static const db_stmt session_temp_buffers = {"seed_scale_temp_buffers",
                                             "SELECT set_config('temp_buffers', '256MB', false)"};

static const db_stmt exists_for_seed = {
    "seed_scale_exists",
    "SELECT EXISTS (SELECT 1 FROM sites WHERE id = md5('forumnet:' || $1::bigint || ':site:1')::uuid)"};

/* The login printed at the end: the first manager of the seed's first site. */
static const db_stmt first_manager = {
    "seed_scale_first_manager",
    "SELECT m.email FROM site_managers sm JOIN members m ON m.id = sm.member_id"
    " WHERE sm.site_id = md5('forumnet:' || $1::bigint || ':site:1')::uuid ORDER BY length(m.email), m.email LIMIT 1"};

/* The tables the steps filled, in step order: reported, then analyzed and counted after the commit. */
typedef struct scale_tables {
  char names[SCALE_MAX_TABLES][SCALE_TABLE_NAME_MAX];
  int count;
} scale_tables;

/* A step file "NN_insert_<table>.sql" fills <table> and ends a reported stage: its time includes the
 * working steps before it, and its row count is that INSERT's. Copies <table> and returns 1 for one. */
static int step_table(const char *file, char table[SCALE_TABLE_NAME_MAX]) {
  const char *p = file + strspn(file, "0123456789");
  if (strncmp(p, "_insert_", 8) != 0)
    return 0;
  p += 8;
  size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
  if (len == 0 || len >= SCALE_TABLE_NAME_MAX || strcmp(p + len, ".sql") != 0)
    return 0;
  snprintf(table, SCALE_TABLE_NAME_MAX, "%.*s", (int)len, p);
  return 1;
}

/* Only the parameters step takes parameters ($1 seed, $2 password hash, $3 N): later ones read sc_p. */
static int step_takes_parameters(const char *file) {
  return strcmp(file + strspn(file, "0123456789"), "_plan_parameters.sql") == 0;
}

/* Built from the filled tables after the run, so that a new table is only a new step file. */
static char analyze_sql[SCALE_MAX_TABLES * (SCALE_TABLE_NAME_MAX + 2) + 16];
static char count_sql[SCALE_MAX_TABLES * (3 * SCALE_TABLE_NAME_MAX + 48) + 16];
static const db_stmt analyze_tables = {"seed_scale_analyze", analyze_sql};
static const db_stmt count_tables = {"seed_scale_count", count_sql};

static double seconds_since(const struct timespec *start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void report_failure(const char *what, fn_status st, db_conn *db) {
  const char *state = db_last_sqlstate(db);
  fprintf(stderr, "seeding failed at %s: %s%s%s%s; nothing was changed\n", what, fn_status_title(st),
          state[0] ? " (SQLSTATE " : "", state, state[0] ? ")" : "");
}

static fn_status exec_simple(db_conn *db, const db_stmt *stmt, int nparams, const char *const *params,
                             const char *what) {
  fn_status st = db_exec_command(db, stmt, nparams, params);
  if (st != FN_OK)
    report_failure(what, st, db);
  return st;
}

/* Runs every step of sql/seed_scale/ inside the caller's transaction, printing each reported stage
 * and recording the tables filled. */
static fn_status run_steps(db_conn *db, const char *params[3], scale_tables *tables) {
  struct timespec stage;
  clock_gettime(CLOCK_MONOTONIC, &stage);
  tables->count = 0;
  for (const db_stmt *step = seed_scale_steps; step->name != NULL; step++) {
    char table[SCALE_TABLE_NAME_MAX];
    int fills = step_table(step->name, table);
    if (fills && tables->count == SCALE_MAX_TABLES) {
      report_failure(step->name, FN_INTERNAL, db); /* raise SCALE_MAX_TABLES */
      return FN_INTERNAL;
    }
    int nparams = step_takes_parameters(step->name) ? 3 : 0;
    fn_status st;
    PGresult *res = db_exec(db, step, nparams, nparams ? params : NULL, &st);
    if (res == NULL) {
      report_failure(fills ? table : step->name, st, db);
      return st;
    }
    if (fills) {
      printf("  %-28s %10s rows %8.2f s\n", table, PQcmdTuples(res), seconds_since(&stage));
      fflush(stdout);
      clock_gettime(CLOCK_MONOTONIC, &stage);
      memcpy(tables->names[tables->count++], table, sizeof table);
    }
    PQclear(res);
  }
  return FN_OK;
}

/* One statement over every filled table, into out: "ANALYZE a, b" or, counting,
 * "SELECT 'a', count(*), 0 FROM a UNION ALL ... ORDER BY 3". 0 when it does not fit. */
static int tables_sql(const scale_tables *tables, int counting, char *out, size_t size) {
  size_t used = (size_t)snprintf(out, size, "%s", counting ? "" : "ANALYZE ");
  for (int i = 0; i < tables->count && used < size; i++) {
    const char *t = tables->names[i];
    if (counting)
      used += (size_t)snprintf(out + used, size - used, "%sSELECT '%s', count(*), %d FROM %s", i ? " UNION ALL " : "",
                               t, i, t);
    else
      used += (size_t)snprintf(out + used, size - used, "%s%s", i ? ", " : "", t);
  }
  if (counting && used < size)
    used += (size_t)snprintf(out + used, size - used, " ORDER BY 3");
  return used < size;
}

/* Statistics for the new rows, so the first summaries are planned on real numbers. */
static void analyze(db_conn *db, const scale_tables *tables) {
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  fn_status st = FN_INTERNAL;
  if (tables_sql(tables, 0, analyze_sql, sizeof analyze_sql))
    st = db_exec_command(db, &analyze_tables, 0, NULL);
  if (st != FN_OK)
    fprintf(stderr, "ANALYZE failed (%s); the data is committed and autovacuum will analyze it\n", fn_status_title(st));
  else
    printf("  %-28s %15s %8.2f s\n", "(analyze)", "", seconds_since(&start));
}

static void print_counts(db_conn *db, const scale_tables *tables) {
  fn_status st = FN_INTERNAL;
  PGresult *res = NULL;
  if (tables_sql(tables, 1, count_sql, sizeof count_sql))
    res = db_exec(db, &count_tables, 0, NULL, &st);
  if (res == NULL) {
    report_failure("counting rows", st, db);
    return;
  }
  printf("\nrows in each table now (count(*)):\n");
  for (int i = 0; i < PQntuples(res); i++)
    printf("  %-28s %10s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
  PQclear(res);
}

static int usage(void) {
  fprintf(stderr,
          "usage: forumnet seed --scale N [--seed S]\n"
          "  N  size, > 0 and <= %.0f (1: 200 sites, 30 000 members, 250 000 meetings; 0.01 for a quick run)\n"
          "  S  seed, an integer 0..%lld (default 1): the same seed gives the same data\n",
          SCALE_MAX, SEED_MAX);
  return 2;
}

static int parse_scale(const char *text, double *out) {
  char *end = NULL;
  errno = 0;
  double v = strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0' || !isfinite(v) || v <= 0 || v > SCALE_MAX)
    return 0;
  *out = v;
  return 1;
}

static int parse_seed(const char *text, long long *out) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < 0 || v > SEED_MAX)
    return 0;
  *out = v;
  return 1;
}

/* 1 when the database already has this seed's data (its deterministic first site), 0 when not, -1 on error. */
static int seed_present(db_conn *db, const char *seed_text) {
  fn_status st;
  const char *params[] = {seed_text};
  PGresult *res = db_exec(db, &exists_for_seed, 1, params, &st);
  if (res == NULL) {
    report_failure("checking for earlier scale data", st, db);
    return -1;
  }
  int present = db_value_bool(res, 0, 0);
  PQclear(res);
  return present;
}

static void print_logins(db_conn *db, const char *seed_text, const char *password) {
  fn_status st;
  const char *params[] = {seed_text};
  PGresult *res = db_exec(db, &first_manager, 1, params, &st);
  printf("\nlogins (every generated member has this password, shown once: %s)\n"
         "  admin     m1.s%s@scale.forumnet.test\n",
         password, seed_text);
  if (res != NULL && PQntuples(res) == 1)
    printf("  manager   %s (site scale-s%s-1)\n", PQgetvalue(res, 0, 0), seed_text);
  printf("  everyone  m<n>.s%s@scale.forumnet.test\n", seed_text);
  PQclear(res);
}

/* The whole run on an open connection; returns the exit status. */
static int generate(cli_context *ctx, long long seed, double scale) {
  struct timespec start, stage;
  clock_gettime(CLOCK_MONOTONIC, &start);
  char seed_text[24], scale_text[32], password[21], hash[PASSWORD_HASH_MAX];
  snprintf(seed_text, sizeof seed_text, "%lld", seed);
  snprintf(scale_text, sizeof scale_text, "%.17g", scale);
  int applied = 0;
  if (db_ping(ctx->db, &applied) != FN_OK || applied < migrate_known_count()) {
    fprintf(stderr, "the database is not migrated: run `forumnet migrate` first\n");
    return 1;
  }
  if (exec_simple(ctx->db, &session_temp_buffers, 0, NULL, "session settings") != FN_OK)
    return 1;
  fn_status st = db_begin(ctx->db);
  if (st != FN_OK) {
    report_failure("begin", st, ctx->db);
    return 1;
  }
  int present = seed_present(ctx->db, seed_text);
  if (present != 0) {
    if (present > 0)
      fprintf(stderr,
              "this database already has scale data for seed %s (site scale-s%s-1); nothing changed.\n"
              "Use another --seed, or a fresh database.\n",
              seed_text, seed_text);
    return 1;
  }
  password_generate(password);
  st = password_hash(password, hash);
  if (st != FN_OK) {
    report_failure("hashing the password", st, ctx->db);
    return 1;
  }
  printf("forumnet seed --scale %g --seed %s\n", scale, seed_text);
  const char *params[3] = {seed_text, hash, scale_text};
  scale_tables tables;
  if (run_steps(ctx->db, params, &tables) != FN_OK)
    return 1;
  char resource[40];
  snprintf(resource, sizeof resource, "scale-s%s", seed_text);
  char scale_short[32];
  snprintf(scale_short, sizeof scale_short, "%g", scale);
  json_t *details = json_pack("{s:s, s:I}", "scale", scale_short, "seed", (json_int_t)seed);
  clock_gettime(CLOCK_MONOTONIC, &stage);
  st = audit_db_record(ctx->db, &ctx->req.caller, ctx->req.request_id, "seed.scale", "network", resource, details);
  json_decref(details);
  if (st == FN_OK)
    st = db_commit(ctx->db);
  if (st != FN_OK) {
    report_failure("commit", st, ctx->db);
    return 1;
  }
  printf("  %-28s %15s %8.2f s\n", "(commit)", "", seconds_since(&stage));
  analyze(ctx->db, &tables);
  printf("  %-28s %15s %8.2f s\n", "total", "", seconds_since(&start));
  print_counts(ctx->db, &tables);
  print_logins(ctx->db, seed_text, password);
  return 0;
}

int seed_scale_main(int argc, char **argv) {
  double scale = 0;
  long long seed = 1;
  int have_scale = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc && !have_scale) {
      if (!parse_scale(argv[++i], &scale))
        return usage();
      have_scale = 1;
    } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      if (!parse_seed(argv[++i], &seed))
        return usage();
    } else {
      return usage();
    }
  }
  if (!have_scale)
    return usage();
  cli_context ctx;
  int rc = cli_open(&ctx, "seed-scale", 0);
  if (rc != 0)
    return rc;
  if (ctx.app.cfg.db_pooler == DB_POOLER_TRANSACTION) { /* session settings, a 600 s statement timeout */
    fprintf(stderr, "seed --scale needs a session of its own: set FORUMNET_DATABASE_DIRECT_URL "
                    "(FORUMNET_DB_POOLER=transaction)\n");
    cli_close(&ctx);
    return 2;
  }
  rc = generate(&ctx, seed, scale);
  if (rc != 0)
    db_rollback(ctx.db);
  cli_close(&ctx);
  return rc;
}
