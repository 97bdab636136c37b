/*
 * harness_server.c — the forumnet processes a test runs: `forumnet serve` (nested servers, each
 * with its own port and log file, stopped with SIGTERM) and `forumnet admin create`; and the
 * common group setup and teardown of the suites.  The children's output goes to log files under
 * /tmp that failure messages point at.
 */
#include "harness.h"
#include "harness_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_SERVERS 4

typedef struct harness_server {
  pid_t pid;
  int port;
  char base_url[64];
  char log_path[256];
} harness_server;

static harness_server g_servers[MAX_SERVERS];
static int g_server_depth;
static bool g_atexit_registered;
static _Thread_local char t_source_address[64];

static harness_server *current_server(void) { return g_server_depth > 0 ? &g_servers[g_server_depth - 1] : NULL; }

int harness_server_depth(void) { return g_server_depth; }

const char *harness_base_url(void) {
  harness_server *s = current_server();
  return s ? s->base_url : "http://127.0.0.1:1";
}

const char *harness_server_log(void) {
  harness_server *s = current_server();
  return s ? s->log_path : "";
}

char *harness_server_log_text(void) {
  FILE *f = fopen(harness_server_log(), "rb");
  if (f == NULL)
    fail_msg("cannot read the server log %s", harness_server_log());
  char *text = calloc(1, 1 << 20);
  if (text == NULL)
    fail_msg("out of memory");
  size_t n = fread(text, 1, (1 << 20) - 1, f);
  text[n] = '\0';
  fclose(f);
  return text;
}

void harness_set_source_address(const char *ip) {
  if (!ip) {
    t_source_address[0] = '\0';
    return;
  }
  snprintf(t_source_address, sizeof t_source_address, "%s", ip);
}

int harness_reset_source_address(void **state) {
  (void)state;
  harness_set_source_address(NULL);
  return 0;
}

const char *harness_use_unique_source_address(void) {
  static atomic_uint counter;
  unsigned n = atomic_fetch_add(&counter, 1u);
  long pid = (long)getpid();
  snprintf(t_source_address, sizeof t_source_address, "127.%ld.%ld.%u", 1 + pid % 250, 1 + (pid / 250) % 250,
           2 + n % 250);
  return t_source_address;
}

static void kill_all_servers(void) {
  for (int i = 0; i < g_server_depth; i++) {
    if (g_servers[i].pid > 0) {
      kill(g_servers[i].pid, SIGKILL);
      waitpid(g_servers[i].pid, NULL, 0);
      g_servers[i].pid = 0;
    }
  }
  g_server_depth = 0;
}

/* Prints the last few KiB of a log file to the cmocka error stream. */
static void print_log_tail(const char *path) {
  if (!path || !*path)
    return;
  FILE *f = fopen(path, "rb");
  if (!f)
    return;
  char tail[4097];
  long size = 0;
  if (fseek(f, 0, SEEK_END) == 0)
    size = ftell(f);
  long from = size > 4096 ? size - 4096 : 0;
  fseek(f, from, SEEK_SET);
  size_t n = fread(tail, 1, sizeof tail - 1, f);
  tail[n] = '\0';
  fclose(f);
  print_error("---- last %zu bytes of %s ----\n%s\n---- end of log ----\n", n, path, tail);
}

int harness_server_port(void) {
  harness_server *s = current_server();
  return s ? s->port : 0;
}

const char *harness_source_address(void) { return t_source_address; }

/* A NULL-terminated "K=V" list; env_set replaces an existing key. */
typedef struct env_list {
  char **items;
  size_t count, cap;
} env_list;

static void env_set(env_list *e, const char *kv) {
  const char *eq = strchr(kv, '=');
  size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
  for (size_t i = 0; i < e->count; i++) {
    if (strncmp(e->items[i], kv, klen) == 0 && e->items[i][klen] == '=') {
      free(e->items[i]);
      e->items[i] = xstrdup(kv);
      return;
    }
  }
  if (e->count + 2 > e->cap) {
    e->cap = e->cap ? e->cap * 2 : 64;
    char **p = realloc(e->items, e->cap * sizeof *p);
    if (!p)
      abort();
    e->items = p;
  }
  e->items[e->count++] = xstrdup(kv);
  e->items[e->count] = NULL;
}

static void env_setf(env_list *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void env_setf(env_list *e, const char *fmt, ...) {
  char tmp[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  env_set(e, tmp);
}

static void env_free(env_list *e) {
  for (size_t i = 0; i < e->count; i++)
    free(e->items[i]);
  free(e->items);
  e->items = NULL;
  e->count = e->cap = 0;
}

/* The environment of a forumnet child: ours without FORUMNET_*, then the test settings. */
static void build_child_env(env_list *e, int port, const char *const *extra_env) {
  for (char **p = environ; p && *p; p++) {
    if (strncmp(*p, "FORUMNET_", 9) == 0)
      continue;
    env_set(e, *p);
  }
  /* scripts/test.sh's pgbouncer step: the server through PgBouncer in transaction mode, the rest direct. */
  const char *pooler = getenv("FORUMNET_TEST_POOLER_URL");
  if (pooler && *pooler) {
    env_setf(e, "FORUMNET_DATABASE_URL=%s", pooler);
    env_set(e, "FORUMNET_DB_POOLER=transaction");
    env_setf(e, "FORUMNET_DATABASE_DIRECT_URL=%s", required_env("FORUMNET_TEST_DATABASE_URL"));
  } else {
    env_setf(e, "FORUMNET_DATABASE_URL=%s", required_env("FORUMNET_TEST_DATABASE_URL"));
  }
  env_setf(e, "FORUMNET_JWT_SECRET=%s", HARNESS_JWT_SECRET);
  env_setf(e, "FORUMNET_CORS_ORIGINS=%s", HARNESS_CORS_ORIGIN);
  env_setf(e, "FORUMNET_LOG_REQUESTS=%s", getenv("HARNESS_VERBOSE") ? "1" : "0");
  /* The job thread off unless a test turns it on (FORUMNET_JOBS=1 in its extra_env, e2e_jobs_serial): on a
   * database shared by every suite, one suite's due consultations would notify another's members meanwhile. */
  env_setf(e, "FORUMNET_JOBS=0");
  /* Email a job-running server writes (no SMTP URL) goes to /tmp, not into the build tree. */
  env_set(e, "FORUMNET_MAIL_DIR=/tmp/forumnet-e2e-mail");
  env_set(e, "FORUMNET_AUTO_MIGRATE=1");
  const char *docs_js = getenv("FORUMNET_DOCS_JS"); /* Redoc's bundle for GET /docs, when the caller has one */
  if (docs_js && *docs_js)
    env_setf(e, "FORUMNET_DOCS_JS=%s", docs_js);
  if (port > 0)
    env_setf(e, "FORUMNET_LISTEN=127.0.0.1:%d", port);
  for (const char *const *x = extra_env; x && *x; x++) {
    if (!strchr(*x, '='))
      fail_msg("harness: extra_env entry \"%s\" is not KEY=VALUE", *x);
    env_set(e, *x);
  }
}

static int find_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    fail_msg("harness: socket: %s", strerror(errno));
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    fail_msg("harness: bind: %s", strerror(errno));
  }
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  close(fd);
  return ntohs(a.sin_port);
}

void harness_server_start(const char *const *extra_env) {
  global_init();
  if (!g_atexit_registered) {
    atexit(kill_all_servers);
    g_atexit_registered = true;
  }
  const char *bin = required_env("FORUMNET_BIN");
  if (g_server_depth >= MAX_SERVERS)
    fail_msg("harness: more than %d nested servers", MAX_SERVERS);

  harness_server *s = &g_servers[g_server_depth];
  memset(s, 0, sizeof *s);
  snprintf(s->log_path, sizeof s->log_path, "/tmp/forumnet-e2e-%ld-XXXXXX.log", (long)getpid());
  int log_fd = mkstemps(s->log_path, 4);
  if (log_fd < 0)
    fail_msg("harness: cannot create a log file: %s", strerror(errno));
  s->port = find_free_port();
  snprintf(s->base_url, sizeof s->base_url, "http://127.0.0.1:%d", s->port);

  env_list env = {0};
  build_child_env(&env, s->port, extra_env);
  char *argv[] = {(char *)bin, "serve", NULL};

  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    env_free(&env);
    close(log_fd);
    fail_msg("harness: fork: %s", strerror(errno));
  }
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0)
      dup2(devnull, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    execve(bin, argv, env.items);
    dprintf(2, "harness: exec %s: %s\n", bin, strerror(errno));
    _exit(127);
  }
  close(log_fd);
  env_free(&env);
  s->pid = pid;
  g_server_depth++;
  fprintf(stderr, "# forumnet server pid %ld on %s, log %s\n", (long)pid, s->base_url, s->log_path);

  int64_t deadline = harness_now_ms() + 10000;
  long last_status = 0;
  for (;;) {
    int wstatus;
    if (waitpid(pid, &wstatus, WNOHANG) == pid) {
      s->pid = 0;
      g_server_depth--;
      print_log_tail(s->log_path);
      fail_msg("forumnet serve exited during start-up (%s %d); log: %s", WIFEXITED(wstatus) ? "status" : "signal",
               WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus), s->log_path);
    }
    http_response *r = http_get_timeout("/healthz", 1000);
    last_status = r->status;
    http_response_free(r);
    if (last_status == 200)
      break;
    if (harness_now_ms() > deadline) {
      print_log_tail(s->log_path);
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
      s->pid = 0;
      g_server_depth--;
      fail_msg("forumnet serve did not answer GET /healthz with 200 within 10 s (last status %ld); log: %s",
               last_status, s->log_path);
    }
    harness_sleep_ms(50);
  }
}

void harness_server_stop(void) {
  harness_server *s = current_server();
  if (!s)
    return;
  pid_t pid = s->pid;
  char log_path[sizeof s->log_path];
  memcpy(log_path, s->log_path, sizeof log_path);
  g_server_depth--;
  if (pid <= 0)
    return;
  kill(pid, SIGTERM);
  int64_t deadline = harness_now_ms() + 10000;
  int wstatus = 0;
  for (;;) {
    pid_t r = waitpid(pid, &wstatus, WNOHANG);
    if (r == pid)
      break;
    if (r < 0 && errno != EINTR)
      fail_msg("harness: waitpid: %s", strerror(errno));
    if (harness_now_ms() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
      print_log_tail(log_path);
      fail_msg("forumnet serve did not exit within 10 s of SIGTERM (killed); log: %s", log_path);
    }
    harness_sleep_ms(20);
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    print_log_tail(log_path);
    fail_msg("forumnet serve ended by SIGTERM with %s %d, expected exit status 0; log: %s",
             WIFEXITED(wstatus) ? "exit status" : "signal",
             WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus), log_path);
  }
}

void harness_wait_readyz(long status, int timeout_ms) {
  int64_t deadline = harness_now_ms() + timeout_ms;
  for (;;) {
    http_response *r = http_request_timeout("GET", "/readyz", NULL, NULL, NULL, NULL, 5000);
    if (r->status == status || harness_now_ms() > deadline) {
      if (status == 503) {
        assert_problem(r, 503);
        assert_non_null(http_header(r, "Retry-After"));
      } else {
        assert_status(r, status);
      }
      http_response_free(r);
      return;
    }
    http_response_free(r);
    harness_sleep_ms(50);
  }
}

long harness_server_pid(void) {
  harness_server *s = current_server();
  return s ? (long)s->pid : 0;
}

int harness_server_wait_exit(int timeout_ms) {
  harness_server *s = current_server();
  if (!s)
    return -1;
  pid_t pid = s->pid;
  g_server_depth--;
  if (pid <= 0)
    return -1;
  int64_t deadline = harness_now_ms() + timeout_ms;
  int wstatus = 0;
  for (;;) {
    pid_t r = waitpid(pid, &wstatus, WNOHANG);
    if (r == pid)
      return wstatus;
    if (r < 0 && errno != EINTR)
      return -1;
    if (harness_now_ms() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
      return -1;
    }
    harness_sleep_ms(10);
  }
}

/* Runs `$FORUMNET_BIN args...` (NULL-terminated) with a server's environment (build_child_env), stdin_text
 * (or nothing) on its standard input; fails the test unless it exits 0 within 30 s. what names it in failures. */
static void run_forumnet_command(char *const *args, const char *stdin_text, const char *what) {
  global_init();
  const char *bin = required_env("FORUMNET_BIN");
  char log_path[] = "/tmp/forumnet-e2e-cli-XXXXXX.log";
  int log_fd = mkstemps(log_path, 4);
  if (log_fd < 0)
    fail_msg("harness: cannot create a log file: %s", strerror(errno));
  int pipefd[2];
  if (pipe(pipefd) != 0)
    fail_msg("harness: pipe: %s", strerror(errno));
  env_list env = {0};
  build_child_env(&env, 0, NULL);
  char *argv[16] = {(char *)bin};
  size_t argc = 1;
  for (; args[argc - 1] != NULL; argc++) {
    if (argc + 1 >= sizeof argv / sizeof argv[0])
      fail_msg("harness: too many arguments for %s", what);
    argv[argc] = args[argc - 1];
  }
  argv[argc] = NULL;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(pipefd[1]);
    dup2(pipefd[0], 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    execve(bin, argv, env.items);
    dprintf(2, "harness: exec %s: %s\n", bin, strerror(errno));
    _exit(127);
  }
  close(pipefd[0]);
  close(log_fd);
  env_free(&env);
  if (pid < 0)
    fail_msg("harness: fork: %s", strerror(errno));
  /* No trailing newline: works whether the CLI reads a line or up to end of file. */
  for (size_t off = 0, len = stdin_text ? strlen(stdin_text) : 0; off < len;) {
    ssize_t n = write(pipefd[1], stdin_text + off, len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; /* the child stopped reading; its exit status tells */
    off += (size_t)n;
  }
  close(pipefd[1]);
  int wstatus = 0;
  int64_t deadline = harness_now_ms() + 30000;
  for (;;) {
    pid_t r = waitpid(pid, &wstatus, WNOHANG);
    if (r == pid)
      break;
    if (harness_now_ms() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
      print_log_tail(log_path);
      fail_msg("%s did not finish within 30 s; output in %s", what, log_path);
    }
    harness_sleep_ms(20);
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    print_log_tail(log_path);
    fail_msg("%s failed (%s %d); output in %s", what, WIFEXITED(wstatus) ? "exit status" : "signal",
             WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus), log_path);
  }
  unlink(log_path);
}

/* Runs `forumnet admin create` for email/password; fails the test unless it exits 0. */
void run_admin_create(const char *email, const char *password) {
  char *const args[] = {"admin", "create", "--email", (char *)email,      "--role",
                        "admin", "--name", "Admin X", "--password-stdin", NULL};
  char what[HARNESS_EMAIL_MAX + 64];
  snprintf(what, sizeof what, "forumnet admin create --email %s", email);
  run_forumnet_command(args, password, what);
}

/* ---- databases of the test's own ---- */

#define MAX_CREATED_DATABASES 4

static char g_created[MAX_CREATED_DATABASES][64]; /* what harness_create_database made, dropped at exit */
static int g_created_count;
static bool g_own_database;              /* harness_use_own_database ran */
static char g_shared_database_url[1024]; /* FORUMNET_TEST_DATABASE_URL as scripts/test.sh set it */

/* url with its database name (the path after the authority, up to '?') replaced by db, into out. */
static void url_with_database(const char *url, const char *db, char *out, size_t cap) {
  const char *scheme_end = strstr(url, "://");
  if (scheme_end == NULL)
    fail_msg("harness: %s is not a postgresql:// URL", url);
  const char *path = strchr(scheme_end + 3, '/');
  const char *query = strchr(scheme_end + 3, '?');
  if (path == NULL || (query != NULL && query < path)) /* no path: the database follows the authority */
    path = query ? query : url + strlen(url);
  const char *rest = path[0] == '/' ? path + 1 + strcspn(path + 1, "?") : path;
  int n = snprintf(out, cap, "%.*s/%s%s", (int)(path - url), url, db, rest);
  if (n < 0 || (size_t)n >= cap)
    fail_msg("harness: the URL %s is too long", url);
}

static void drop_created_databases(void) {
  /* At exit, after kill_all_servers when the first database was made before the first server started (registered
   * later, so run earlier); FORCE ends any connection left. From the shared database: the harness's own connection
   * follows FORUMNET_TEST_DATABASE_URL, and a database cannot be dropped from a session on it. */
  setenv("FORUMNET_TEST_DATABASE_URL", g_shared_database_url, 1);
  char sql[160];
  for (int i = g_created_count - 1; i >= 0; i--) {
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", g_created[i]);
    (void)harness_psql_try(sql);
  }
  g_created_count = 0;
}

const char *harness_create_database(const char *name, char *url_out, size_t size) {
  global_init();
  if (g_created_count == MAX_CREATED_DATABASES)
    fail_msg("harness_create_database: more than %d databases", MAX_CREATED_DATABASES);
  for (const char *c = name; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
      fail_msg("harness_create_database: \"%s\" is not a lower-case identifier", name);
  char *db = g_created[g_created_count];
  int n = snprintf(db, sizeof g_created[0], "forumnet_e2e_%s_%ld", name, (long)getpid());
  if (n < 0 || (size_t)n >= sizeof g_created[0])
    fail_msg("harness_create_database: the name \"%s\" is too long", name);
  for (int i = 0; i < g_created_count; i++) /* made again, it would be dropped (FORCE) and emptied */
    if (strcmp(g_created[i], db) == 0)
      fail_msg("harness_create_database: %s was made already", db);
  if (g_created_count == 0) {
    const char *shared = required_env("FORUMNET_TEST_DATABASE_URL");
    copy_bounded(g_shared_database_url, sizeof g_shared_database_url, shared, "FORUMNET_TEST_DATABASE_URL", __FILE__,
                 __LINE__);
  }
  char sql[160];
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db); /* a pid reused after a crash */
  (void)harness_psql_try(sql);
  snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
  if (harness_psql_try(sql) != 0)
    fail_msg("harness_create_database: could not create the database %s", db);
  if (g_created_count++ == 0)
    atexit(drop_created_databases);
  url_with_database(g_shared_database_url, db, url_out, size);
  return db;
}

void harness_use_own_database(const char *name) {
  global_init();
  if (g_own_database)
    fail_msg("harness_use_own_database: called twice");
  if (g_server_depth > 0)
    fail_msg("harness_use_own_database: call it before the first server starts");
  char url[1100];
  const char *db = harness_create_database(name, url, sizeof url);
  g_own_database = true;
  setenv("FORUMNET_TEST_DATABASE_URL", url, 1);
  const char *pooler = getenv("FORUMNET_TEST_POOLER_URL"); /* PgBouncer serves every database of the cluster */
  if (pooler && *pooler) {
    url_with_database(pooler, db, url, sizeof url);
    setenv("FORUMNET_TEST_POOLER_URL", url, 1);
  }
  /* Migrated now (the CLI connects directly, FORUMNET_DATABASE_DIRECT_URL), not by a server's
   * FORUMNET_AUTO_MIGRATE, so that psql and `forumnet admin` find the schema before the first server starts. */
  char *const migrate[] = {"migrate", NULL};
  run_forumnet_command(migrate, NULL, "forumnet migrate (the test's own database)");
}

int harness_stop_test_servers(void **state) {
  (void)state;
  harness_set_source_address(NULL);
  while (harness_server_depth() > 1)
    harness_server_stop();
  return 0;
}

void harness_suite_start(const char *const *extra_env, harness_account *admin) {
  harness_server_start(extra_env);
  harness_new_admin(admin);
}

int harness_stop_nested_servers(void **state) {
  (void)state;
  while (harness_server_depth() > 1)
    harness_server_stop();
  return 0;
}

int harness_suite_teardown(void **state) {
  (void)state;
  harness_pg_start();
  while (harness_server_depth() > 0)
    harness_server_stop();
  return 0;
}
