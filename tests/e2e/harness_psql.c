/*
 * harness_psql.c — psql on the test database (scalars, audit counts, background sessions that
 * hold locks, clean-ups that never fail the test) and the PostgreSQL stop/start commands.
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

char *harness_psql_scalar(const char *query) {
  const char *url = required_env("FORUMNET_TEST_DATABASE_URL");
  int out[2];
  if (pipe(out) != 0)
    fail_msg("harness: pipe: %s", strerror(errno));
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(out[0]);
    dup2(out[1], 1);
    execlp("psql", "psql", "-X", "-v", "ON_ERROR_STOP=1", "-Atc", query, url, (char *)NULL);
    dprintf(2, "harness: exec psql: %s\n", strerror(errno));
    _exit(127);
  }
  close(out[1]);
  if (pid < 0)
    fail_msg("harness: fork: %s", strerror(errno));
  buf b = {0};
  char tmp[4096];
  ssize_t n;
  while ((n = read(out[0], tmp, sizeof tmp)) != 0) {
    if (n < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    buf_append(&b, tmp, (size_t)n);
  }
  close(out[0]);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    free(b.data);
    fail_msg("psql failed for: %s", query);
  }
  if (!b.data)
    return xstrdup("");
  while (b.len > 0 && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
    b.data[--b.len] = '\0';
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
  const char *url = getenv("FORUMNET_TEST_DATABASE_URL");
  if (!url || !*url)
    return -1;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    execlp("psql", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-Atc", sql, url, (char *)NULL);
    _exit(127);
  }
  if (pid < 0)
    return -1;
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
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

bool harness_psql_wait_count(const char *count_query, long n, int timeout_ms) {
  int64_t deadline = harness_now_ms() + timeout_ms;
  for (;;) {
    if (harness_psql_long(count_query) >= n)
      return true;
    if (harness_now_ms() > deadline)
      return false;
    harness_sleep_ms(20);
  }
}
