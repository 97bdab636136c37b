/*
 * harness_psql.c — the test database (scalars, audit counts and clean-ups that never fail the test, through
 * libpq; background psql sessions that hold locks) and the PostgreSQL stop/start commands.
 */
#include "harness.h"
#include "harness_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

/* The test database through libpq, one connection per thread, kept open: a psql process and a server
 * backend per query cost ~10 ms of CPU each, thousands of times a run. It follows FORUMNET_TEST_DATABASE_URL
 * (harness_use_own_database changes it) and is opened again after PostgreSQL restarted (fault tests). */
static _Thread_local PGconn *t_conn;
static _Thread_local char *t_conn_url;

static void close_connection(void) {
  PQfinish(t_conn);
  t_conn = NULL;
  free(t_conn_url);
  t_conn_url = NULL;
}

/* Notices (e.g. "database ... does not exist, skipping" of a DROP ... IF EXISTS) are not the test's output:
 * harness_psql_try sent psql's to /dev/null. */
static void ignore_notice(void *arg, const char *message) {
  (void)arg;
  (void)message;
}

/* The thread's connection to url, opened when missing, broken or to another URL; NULL (error in *why) if it
 * cannot be opened. */
static PGconn *connection(const char *url, char *why, size_t why_cap) {
  if (t_conn && (PQstatus(t_conn) != CONNECTION_OK || strcmp(t_conn_url, url) != 0))
    close_connection();
  if (t_conn)
    return t_conn;
  const char *keys[] = {"dbname", "application_name", NULL};
  const char *values[] = {url, "e2e-harness", NULL};
  PGconn *c = PQconnectdbParams(keys, values, 1); /* dbname holds the URL (expand_dbname) */
  if (PQstatus(c) != CONNECTION_OK) {
    snprintf(why, why_cap, "%s", PQerrorMessage(c));
    PQfinish(c);
    return NULL;
  }
  PQsetNoticeProcessor(c, ignore_notice, NULL);
  t_conn = c;
  t_conn_url = xstrdup(url);
  return c;
}

/* Runs sql (one or more statements, one query string, as `psql -c` sends it) on the thread's connection.
 * Rows of every result go to out (if not NULL) as `psql -At` prints them: fields joined by '|', one row a line,
 * NULL as nothing. True when every statement succeeded; the first error in *why otherwise. When the connection
 * turns out dead (PostgreSQL restarted since its last use) the query is sent once more on a new one: these are
 * a test's checks and clean-ups, and a query whose server went away did not commit. */
static bool run_sql(const char *sql, buf *out, char *why, size_t why_cap) {
  const char *url = getenv("FORUMNET_TEST_DATABASE_URL");
  if (!url || !*url) {
    snprintf(why, why_cap, "FORUMNET_TEST_DATABASE_URL is not set");
    return false;
  }
  for (int attempt = 0; attempt < 2; attempt++) {
    PGconn *c = connection(url, why, why_cap);
    if (c == NULL)
      return false;
    if (!PQsendQuery(c, sql)) {
      snprintf(why, why_cap, "%s", PQerrorMessage(c));
      close_connection();
      continue;
    }
    bool ok = true, rows = false;
    why[0] = '\0';
    PGresult *res;
    while ((res = PQgetResult(c)) != NULL) {
      ExecStatusType st = PQresultStatus(res);
      if (st == PGRES_TUPLES_OK && out) {
        for (int r = 0; r < PQntuples(res); r++) {
          if (rows)
            buf_append(out, "\n", 1);
          rows = true;
          for (int f = 0; f < PQnfields(res); f++) {
            if (f > 0)
              buf_append(out, "|", 1);
            buf_append(out, PQgetvalue(res, r, f), (size_t)PQgetlength(res, r, f));
          }
        }
      } else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && st != PGRES_EMPTY_QUERY && ok) {
        ok = false;
        snprintf(why, why_cap, "%s", PQresultErrorMessage(res));
      }
      PQclear(res);
    }
    if (!ok && PQstatus(c) != CONNECTION_OK && attempt == 0 && !rows) {
      close_connection();
      continue;
    }
    return ok;
  }
  return false;
}

char *harness_psql_scalar(const char *query) {
  buf b = {0};
  char why[512];
  if (!run_sql(query, &b, why, sizeof why)) {
    free(b.data);
    print_error("%s", why);
    fail_msg("the query failed: %s", query);
  }
  if (!b.data)
    return xstrdup("");
  return b.data;
}

long harness_psql_long(const char *query) {
  char *s = harness_psql_scalar(query);
  char *end;
  long v = strtol(s, &end, 10);
  if (end == s || *end != '\0') {
    print_error("psql answered \"%s\" for: %s\n", s, query);
    free(s);
    fail_msg("expected an integer from psql");
  }
  free(s);
  return v;
}

long harness_psql_longf(const char *fmt, ...) {
  char sql[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sql, sizeof sql, fmt, ap);
  va_end(ap);
  return harness_psql_long(sql);
}

long harness_audit_count(const char *action, const char *about, const char *who) {
  if (!harness_is_uuid(about) || (who && !harness_is_uuid(who)))
    fail_msg("harness_audit_count: ids must be lowercase uuids");
  for (const char *p = action; *p; p++)
    if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '_'))
      fail_msg("harness_audit_count: bad action %s", action);
  char q[1024];
  if (who)
    snprintf(q, sizeof q,
             "SELECT count(*) FROM audit_log WHERE action = '%s' "
             "AND (resource_id LIKE '%%%s%%' OR details::text LIKE '%%%s%%') "
             "AND (resource_id LIKE '%%%s%%' OR details::text LIKE '%%%s%%' OR actor_id::text = '%s')",
             action, about, about, who, who, who);
  else
    snprintf(q, sizeof q,
             "SELECT count(*) FROM audit_log WHERE action = '%s' "
             "AND (resource_id LIKE '%%%s%%' OR details::text LIKE '%%%s%%')",
             action, about, about);
  return harness_psql_long(q);
}

int harness_psql_try(const char *sql) {
  char why[512];
  return run_sql(sql, NULL, why, sizeof why) ? 0 : 1;
}

bool harness_pg_control_available(void) {
  const char *stop = getenv("FORUMNET_TEST_PG_STOP"), *start = getenv("FORUMNET_TEST_PG_START");
  return stop && *stop && start && *start;
}

bool harness_run_env_command(const char *env_name) {
  const char *cmd = getenv(env_name);
  if (!cmd || !*cmd) {
    print_error("%s is not set\n", env_name);
    return false;
  }
  fflush(NULL);
  int rc = system(cmd);
  if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
    print_error("%s (%s) failed with status %d\n", env_name, cmd, rc);
    return false;
  }
  return true;
}

static bool g_pg_stopped;

bool harness_pg_start(void) {
  if (g_pg_stopped && harness_run_env_command("FORUMNET_TEST_PG_START"))
    g_pg_stopped = false;
  return !g_pg_stopped;
}

static void pg_start_at_exit(void) { (void)harness_pg_start(); }

void harness_pg_stop(void) {
  static bool registered;
  if (!registered)
    atexit(pg_start_at_exit);
  registered = true;
  g_pg_stopped = true; /* even if the stop command half-fails, try to start it again later */
  if (!harness_run_env_command("FORUMNET_TEST_PG_STOP"))
    fail_msg("could not stop PostgreSQL with FORUMNET_TEST_PG_STOP");
}

long harness_psql_background(const char *sql) {
  const char *url = required_env("FORUMNET_TEST_DATABASE_URL");
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0)
    fail_msg("harness: fork: %s", strerror(errno));
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
    }
    execlp("psql", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql, url, (char *)NULL);
    dprintf(2, "harness: exec psql: %s\n", strerror(errno));
    _exit(127);
  }
  return (long)pid;
}

int harness_psql_wait(long pid, int timeout_ms) {
  int64_t deadline = harness_now_ms() + timeout_ms;
  int wstatus = 0;
  for (;;) {
    pid_t r = waitpid((pid_t)pid, &wstatus, WNOHANG);
    if (r == (pid_t)pid)
      return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    if (r < 0 && errno != EINTR)
      return -1;
    if (harness_now_ms() > deadline) {
      kill((pid_t)pid, SIGKILL);
      waitpid((pid_t)pid, NULL, 0);
      return -1;
    }
    harness_sleep_ms(10);
  }
}

/* Polls harness_psql_long(query) every 20 ms until it is n (exactly, or at least n), for timeout_ms at most. */
static bool wait_long(const char *query, long n, bool exactly, int timeout_ms) {
  int64_t deadline = harness_now_ms() + timeout_ms;
  for (;;) {
    long v = harness_psql_long(query);
    if (exactly ? v == n : v >= n)
      return true;
    if (harness_now_ms() > deadline)
      return false;
    harness_sleep_ms(20);
  }
}

bool harness_psql_wait_count(const char *count_query, long n, int timeout_ms) {
  return wait_long(count_query, n, false, timeout_ms);
}

bool harness_psql_wait_value(const char *query, long value, int timeout_ms) {
  return wait_long(query, value, true, timeout_ms);
}
