/*
 * harness.c — see harness.h for what each function promises.
 *
 * Everything here is plain POSIX + libcurl + Jansson + libjwt + libsodium.  The server is a
 * child process; its output goes to a log file under /tmp that failure messages point at.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include "harness.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jwt.h>
#include <sodium.h>

extern char **environ;

/* ==================================================================================== */
/* Small utilities                                                                       */
/* ==================================================================================== */

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "harness: out of memory\n");
    abort();
  }
  return p;
}

static char *xstrdup(const char *s) {
  size_t n = strlen(s);
  char *p = xmalloc(n + 1);
  memcpy(p, s, n + 1);
  return p;
}

int64_t harness_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t harness_epoch_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void harness_sleep_ms(int ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

/* Growable byte buffer, always NUL-terminated. */
typedef struct buf {
  char *data;
  size_t len, cap;
} buf;

static void buf_append(buf *b, const void *data, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
      fprintf(stderr, "harness: out of memory\n");
      abort();
    }
    b->data = p;
    b->cap = cap;
  }
  if (n)
    memcpy(b->data + b->len, data, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void buf_appendf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_appendf(buf *b, const char *fmt, ...) {
  char tmp[8192];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof tmp) {
    fprintf(stderr, "harness: buf_appendf overflow\n");
    abort();
  }
  buf_append(b, tmp, (size_t)n);
}

static void copy_bounded(char *dst, size_t cap, const char *src, const char *what, const char *file, int line) {
  size_t n = strlen(src);
  if (n >= cap)
    harness_fail_at(file, line, "%s is %zu bytes, longer than the harness buffer (%zu)", what, n, cap);
  memcpy(dst, src, n + 1);
}

/* ==================================================================================== */
/* Servers                                                                               */
/* ==================================================================================== */

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

void harness_set_source_address(const char *ip) {
  if (!ip) {
    t_source_address[0] = '\0';
    return;
  }
  snprintf(t_source_address, sizeof t_source_address, "%s", ip);
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

static const char *required_env(const char *name) {
  const char *v = getenv(name);
  if (!v || !*v)
    fail_msg("%s is not set: the end-to-end tests run through scripts/test.sh (or ctest with %s exported)", name, name);
  return v;
}

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
  env_setf(e, "FORUMNET_DATABASE_URL=%s", required_env("FORUMNET_TEST_DATABASE_URL"));
  env_setf(e, "FORUMNET_JWT_SECRET=%s", HARNESS_JWT_SECRET);
  env_setf(e, "FORUMNET_CORS_ORIGINS=%s", HARNESS_CORS_ORIGIN);
  env_setf(e, "FORUMNET_LOG_REQUESTS=%s", getenv("HARNESS_VERBOSE") ? "1" : "0");
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

static void global_init(void) {
  static bool done;
  if (done)
    return;
  done = true;
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_ALL);
  if (sodium_init() < 0)
    fail_msg("harness: sodium_init failed");
  if (!g_atexit_registered) {
    atexit(kill_all_servers);
    g_atexit_registered = true;
  }
}

static http_response *http_get_timeout(const char *path, long timeout_ms);

void harness_server_start(const char *const *extra_env) {
  global_init();
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

/* ==================================================================================== */
/* HTTP responses                                                                        */
/* ==================================================================================== */

static http_response *response_new(const char *method, const char *path) {
  http_response *r = xmalloc(sizeof *r);
  memset(r, 0, sizeof *r);
  r->method = xstrdup(method);
  r->path = xstrdup(path);
  return r;
}

void http_response_free(http_response *resp) {
  if (!resp)
    return;
  for (size_t i = 0; i < resp->header_count; i++) {
    free(resp->header_names[i]);
    free(resp->header_values[i]);
  }
  free(resp->header_names);
  free(resp->header_values);
  free(resp->body);
  free(resp->method);
  free(resp->path);
  if (resp->json)
    json_decref(resp->json);
  free(resp);
}

static void response_clear_headers(http_response *r) {
  for (size_t i = 0; i < r->header_count; i++) {
    free(r->header_names[i]);
    free(r->header_values[i]);
  }
  r->header_count = 0;
}

/* Adds one "Name: value" header line (CRLF optional). Lines without a colon are ignored. */
static void response_add_header_line(http_response *r, const char *line, size_t len) {
  while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
    len--;
  const char *colon = memchr(line, ':', len);
  if (!colon)
    return;
  size_t nlen = (size_t)(colon - line);
  const char *v = colon + 1;
  size_t vlen = len - nlen - 1;
  while (vlen > 0 && (*v == ' ' || *v == '\t')) {
    v++;
    vlen--;
  }
  while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
    vlen--;
  char **names = realloc(r->header_names, (r->header_count + 1) * sizeof *names);
  char **values = realloc(r->header_values, (r->header_count + 1) * sizeof *values);
  if (!names || !values)
    abort();
  r->header_names = names;
  r->header_values = values;
  char *n = xmalloc(nlen + 1);
  memcpy(n, line, nlen);
  n[nlen] = '\0';
  char *val = xmalloc(vlen + 1);
  memcpy(val, v, vlen);
  val[vlen] = '\0';
  r->header_names[r->header_count] = n;
  r->header_values[r->header_count] = val;
  r->header_count++;
}

static void response_finish(http_response *r, buf *body) {
  if (body->data) {
    r->body = body->data;
    r->body_len = body->len;
  } else {
    r->body = xstrdup("");
    r->body_len = 0;
  }
  body->data = NULL;
  if (r->body_len > 0) {
    json_error_t err;
    r->json = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, &err);
  }
}

const char *http_header(const http_response *resp, const char *name) {
  if (!resp)
    return NULL;
  for (size_t i = 0; i < resp->header_count; i++)
    if (strcasecmp(resp->header_names[i], name) == 0)
      return resp->header_values[i];
  return NULL;
}

bool http_header_has_token(const http_response *resp, const char *name, const char *token) {
  size_t tlen = strlen(token);
  for (size_t i = 0; resp && i < resp->header_count; i++) {
    if (strcasecmp(resp->header_names[i], name) != 0)
      continue;
    const char *p = resp->header_values[i];
    while (*p) {
      while (*p == ' ' || *p == '\t' || *p == ',')
        p++;
      const char *start = p;
      while (*p && *p != ',')
        p++;
      const char *end = p;
      while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
      if ((size_t)(end - start) == tlen && strncasecmp(start, token, tlen) == 0)
        return true;
    }
  }
  return false;
}

const char *hpath(const char *fmt, ...) {
  static _Thread_local char slots[8][1024];
  static _Thread_local unsigned next;
  char *out = slots[next++ % 8];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out, sizeof slots[0], fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof slots[0])
    fail_msg("hpath: path longer than %zu bytes", sizeof slots[0]);
  return out;
}

char *harness_urlencode(const char *s) {
  global_init();
  char *e = curl_easy_escape(NULL, s, 0);
  if (!e)
    fail_msg("curl_easy_escape failed");
  char *out = xstrdup(e);
  curl_free(e);
  return out;
}

/* ==================================================================================== */
/* HTTP over libcurl                                                                     */
/* ==================================================================================== */

static size_t curl_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata) {
  buf_append((buf *)userdata, ptr, size * nmemb);
  return size * nmemb;
}

static size_t curl_header_cb(char *ptr, size_t size, size_t nmemb, void *userdata) {
  http_response *r = userdata;
  size_t n = size * nmemb;
  /* A new status line starts a new header block (after 100 Continue, for instance). */
  if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0)
    response_clear_headers(r);
  else
    response_add_header_line(r, ptr, n);
  return n;
}

/* HARNESS_EXCHANGE_LOG: appends one JSON line per answered exchange, for tools/validate-responses.mjs:
 * {"method","path","query","status","content_type","body"} with the path without its query, the query
 * without '?' (null when none), and the raw body as a string, or as base64 with "body_encoding":"base64"
 * when it is not UTF-8.  One write() on an O_APPEND descriptor per line, so threads and parallel test
 * binaries can share the file. */
static void exchange_log(const http_response *r) {
  const char *log_path = getenv("HARNESS_EXCHANGE_LOG");
  if (!log_path || !*log_path || r->status == 0)
    return;
  const char *q = strchr(r->path, '?');
  size_t plen = q ? (size_t)(q - r->path) : strlen(r->path);
  const char *ct = http_header(r, "Content-Type");
  json_t *line = json_object();
  json_object_set_new(line, "method", json_string(r->method));
  json_object_set_new(line, "path", json_stringn(r->path, plen));
  json_object_set_new(line, "query", q ? json_string(q + 1) : json_null());
  json_object_set_new(line, "status", json_integer(r->status));
  json_object_set_new(line, "content_type", ct ? json_string(ct) : json_null());
  json_t *text = json_stringn(r->body, r->body_len); /* NULL when not UTF-8 */
  if (!text) {
    size_t cap = sodium_base64_encoded_len(r->body_len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = xmalloc(cap);
    sodium_bin2base64(b64, cap, (const unsigned char *)r->body, r->body_len, sodium_base64_VARIANT_ORIGINAL);
    text = json_string(b64);
    free(b64);
    json_object_set_new(line, "body_encoding", json_string("base64"));
  }
  json_object_set_new(line, "body", text);
  char *out = json_dumps(line, JSON_COMPACT);
  json_decref(line);
  int fd = out ? open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644) : -1;
  if (fd >= 0) {
    size_t n = strlen(out);
    out[n] = '\n'; /* replaces the NUL: the line and its newline go out in one write */
    if (write(fd, out, n + 1) != (ssize_t)(n + 1))
      fprintf(stderr, "harness: short write to HARNESS_EXCHANGE_LOG %s\n", log_path);
    close(fd);
  } else if (out) {
    fprintf(stderr, "harness: cannot open HARNESS_EXCHANGE_LOG %s: %s\n", log_path, strerror(errno));
  }
  free(out);
}

static http_response *curl_exchange(const char *method, const char *path, const char *token, const char *content_type,
                                    const char *body, size_t body_len, const char *const *headers, long timeout_ms) {
  global_init();
  http_response *r = response_new(method, path);
  CURL *c = curl_easy_init();
  if (!c) {
    snprintf(r->error, sizeof r->error, "curl_easy_init failed");
    return r;
  }
  char url[2048];
  snprintf(url, sizeof url, "%s%s", harness_base_url(), path);

  struct curl_slist *hl = NULL;
  char line[HARNESS_TOKEN_MAX + 64];
  hl = curl_slist_append(hl, "Expect:"); /* no 100-continue round trips */
  if (token) {
    snprintf(line, sizeof line, "Authorization: Bearer %s", token);
    hl = curl_slist_append(hl, line);
  }
  if (content_type) {
    snprintf(line, sizeof line, "Content-Type: %s", content_type);
    hl = curl_slist_append(hl, line);
  } else if (body) {
    /* libcurl would otherwise add application/x-www-form-urlencoded */
    hl = curl_slist_append(hl, "Content-Type:");
  }
  for (const char *const *h = headers; h && *h; h++)
    hl = curl_slist_append(hl, *h);

  buf out = {0};
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_write_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, curl_header_cb);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
  if (t_source_address[0]) {
    char iface[80];
    snprintf(iface, sizeof iface, "host!%s", t_source_address);
    curl_easy_setopt(c, CURLOPT_INTERFACE, iface);
  }
  if (strcmp(method, "HEAD") == 0) {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  } else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
    /* What clients send for an empty body: Content-Length: 0. */
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  } else if (strcmp(method, "GET") != 0) {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  }

  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
  } else {
    r->status = 0;
    snprintf(r->error, sizeof r->error, "libcurl: %s", curl_easy_strerror(rc));
  }
  response_finish(r, &out);
  exchange_log(r);
  curl_slist_free_all(hl);
  curl_easy_cleanup(c);
  return r;
}

http_response *http_request_len(const char *method, const char *path, const char *token, const char *content_type,
                                const char *body, size_t body_len, const char *const *headers) {
  return curl_exchange(method, path, token, content_type, body, body_len, headers, 30000);
}

http_response *http_request(const char *method, const char *path, const char *token, const char *content_type,
                            const char *body, const char *const *headers) {
  return http_request_len(method, path, token, content_type, body, body ? strlen(body) : 0, headers);
}

static http_response *http_get_timeout(const char *path, long timeout_ms) {
  return curl_exchange("GET", path, NULL, NULL, NULL, 0, NULL, timeout_ms);
}

http_response *http_get(const char *path, const char *token) {
  return http_request("GET", path, token, NULL, NULL, NULL);
}

http_response *http_get_with_headers(const char *path, const char *token, const char *const *headers) {
  return http_request("GET", path, token, NULL, NULL, headers);
}

http_response *http_json_with_headers(const char *method, const char *path, const char *token, json_t *body,
                                      const char *const *headers) {
  char *text = NULL;
  if (body) {
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
  }
  http_response *r = http_request(method, path, token, text ? "application/json" : NULL, text, headers);
  free(text);
  return r;
}

http_response *http_json(const char *method, const char *path, const char *token, json_t *body) {
  return http_json_with_headers(method, path, token, body, NULL);
}

/* ==================================================================================== */
/* HTTP over a raw socket (for bodies libcurl would not send the way we need)            */
/* ==================================================================================== */

static int raw_connect(char *err, size_t errlen) {
  harness_server *s = current_server();
  if (!s) {
    snprintf(err, errlen, "no server running");
    return -1;
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    snprintf(err, errlen, "socket: %s", strerror(errno));
    return -1;
  }
  struct timeval tv = {.tv_sec = 10};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (t_source_address[0]) {
    struct sockaddr_in src = {.sin_family = AF_INET};
    inet_pton(AF_INET, t_source_address, &src.sin_addr);
    bind(fd, (struct sockaddr *)&src, sizeof src);
  }
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    snprintf(err, errlen, "connect: %s", strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

/* Sends all of data; returns false (without failing) once the peer stops reading. */
static bool raw_send_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    data += n;
    len -= (size_t)n;
  }
  return true;
}

/* True once raw holds a complete response (headers plus a body of Content-Length bytes, or a
 * complete chunked body). Without either, the response ends at EOF. */
static bool raw_response_complete(const buf *raw) {
  if (!raw->data)
    return false;
  const char *end = strstr(raw->data, "\r\n\r\n");
  if (!end)
    return false;
  size_t head_len = (size_t)(end - raw->data) + 4;
  const char *cl = NULL;
  bool chunked = false;
  for (const char *p = raw->data; p < end;) {
    const char *eol = strstr(p, "\r\n");
    if (!eol)
      break;
    if (strncasecmp(p, "Content-Length:", 15) == 0)
      cl = p + 15;
    if (strncasecmp(p, "Transfer-Encoding:", 18) == 0 && strstr(p, "chunked") && strstr(p, "chunked") < eol)
      chunked = true;
    p = eol + 2;
  }
  if (chunked)
    return raw->len >= head_len + 5 && memcmp(raw->data + raw->len - 5, "0\r\n\r\n", 5) == 0;
  /* Status codes without a body. */
  int status = 0;
  sscanf(raw->data, "HTTP/%*s %d", &status);
  if (status == 204 || status == 304 || (status >= 100 && status < 200))
    return true;
  if (cl)
    return raw->len >= head_len + strtoul(cl, NULL, 10);
  return false;
}

static void raw_parse(http_response *r, const buf *raw) {
  if (!raw->data || strncmp(raw->data, "HTTP/", 5) != 0) {
    snprintf(r->error, sizeof r->error, "no HTTP response received (%zu bytes)", raw->len);
    r->body = xstrdup("");
    return;
  }
  sscanf(raw->data, "HTTP/%*s %ld", &r->status);
  const char *p = strstr(raw->data, "\r\n");
  const char *end = strstr(raw->data, "\r\n\r\n");
  if (!p || !end) {
    snprintf(r->error, sizeof r->error, "truncated HTTP response");
    r->body = xstrdup("");
    return;
  }
  p += 2;
  while (p < end + 2) {
    const char *eol = strstr(p, "\r\n");
    response_add_header_line(r, p, (size_t)(eol - p));
    p = eol + 2;
  }
  const char *b = end + 4;
  size_t blen = raw->len - (size_t)(b - raw->data);
  buf body = {0};
  const char *te = http_header(r, "Transfer-Encoding");
  if (te && strstr(te, "chunked")) {
    const char *q = b, *lim = b + blen;
    while (q < lim) {
      char *after;
      unsigned long n = strtoul(q, &after, 16);
      const char *data = strstr(after, "\r\n");
      if (!data || n == 0)
        break;
      data += 2;
      if (data + n > lim)
        n = (unsigned long)(lim - data);
      buf_append(&body, data, n);
      q = data + n + 2;
    }
  } else {
    const char *cl = http_header(r, "Content-Length");
    if (cl && strtoul(cl, NULL, 10) < blen)
      blen = strtoul(cl, NULL, 10);
    buf_append(&body, b, blen);
  }
  response_finish(r, &body);
}

static http_response *raw_exchange(const char *method, const char *path, const char *token, const char *content_type,
                                   const char *framing_header, const char *body, size_t body_len, size_t chunk_size) {
  global_init();
  http_response *r = response_new(method, path);
  int fd = raw_connect(r->error, sizeof r->error);
  if (fd < 0) {
    r->body = xstrdup("");
    return r;
  }
  buf head = {0};
  buf_appendf(&head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n", method, path,
              current_server()->port);
  if (token)
    buf_appendf(&head, "Authorization: Bearer %s\r\n", token);
  if (content_type)
    buf_appendf(&head, "Content-Type: %s\r\n", content_type);
  buf_appendf(&head, "%s\r\n\r\n", framing_header);

  bool ok = raw_send_all(fd, head.data, head.len);
  if (ok && chunk_size == 0) {
    ok = raw_send_all(fd, body, body_len);
  } else if (ok) {
    for (size_t off = 0; ok && off < body_len; off += chunk_size) {
      size_t n = body_len - off < chunk_size ? body_len - off : chunk_size;
      char size_line[32];
      snprintf(size_line, sizeof size_line, "%zx\r\n", n);
      ok = raw_send_all(fd, size_line, strlen(size_line)) && raw_send_all(fd, body + off, n) &&
           raw_send_all(fd, "\r\n", 2);
    }
    if (ok)
      raw_send_all(fd, "0\r\n\r\n", 5);
  }
  free(head.data);

  buf raw = {0};
  int64_t deadline = harness_now_ms() + 10000;
  for (;;) {
    if (raw_response_complete(&raw))
      break;
    int left = (int)(deadline - harness_now_ms());
    if (left <= 0) {
      snprintf(r->error, sizeof r->error, "timed out after 10 s waiting for the response");
      break;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int pr = poll(&pfd, 1, left);
    if (pr < 0 && errno == EINTR)
      continue;
    if (pr <= 0)
      continue;
    char tmp[8192];
    ssize_t n = recv(fd, tmp, sizeof tmp, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; /* EOF or reset: parse what arrived */
    buf_append(&raw, tmp, (size_t)n);
  }
  close(fd);
  char saved_error[sizeof r->error];
  memcpy(saved_error, r->error, sizeof saved_error);
  raw_parse(r, &raw);
  if (r->status == 0 && saved_error[0])
    memcpy(r->error, saved_error, sizeof saved_error);
  free(raw.data);
  return r;
}

http_response *http_send_declared_length(const char *method, const char *path, const char *token,
                                         const char *content_type, size_t declared_length, const char *body,
                                         size_t body_len) {
  char framing[64];
  snprintf(framing, sizeof framing, "Content-Length: %zu", declared_length);
  if (body_len > declared_length)
    body_len = declared_length;
  return raw_exchange(method, path, token, content_type, framing, body, body_len, 0);
}

http_response *http_send_chunked(const char *method, const char *path, const char *token, const char *content_type,
                                 const char *body, size_t body_len, size_t chunk_size) {
  return raw_exchange(method, path, token, content_type, "Transfer-Encoding: chunked", body, body_len,
                      chunk_size ? chunk_size : 1024);
}

/* ==================================================================================== */
/* JSON access                                                                           */
/* ==================================================================================== */

json_t *hjson_get(const json_t *root, const char *dotted_path) {
  if (!root || !dotted_path)
    return NULL;
  const json_t *cur = root;
  const char *p = dotted_path;
  while (*p) {
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    if (!json_is_object(cur))
      return NULL;
    cur = json_object_getn(cur, p, n);
    if (!cur)
      return NULL;
    p += n;
    if (*p == '.')
      p++;
  }
  return (json_t *)cur;
}

const char *hjson_str(const json_t *root, const char *dotted_path) {
  return json_string_value(hjson_get(root, dotted_path));
}

bool hjson_is_null(const json_t *root, const char *dotted_path) { return json_is_null(hjson_get(root, dotted_path)); }

json_int_t harness_json_int_at(const json_t *root, const char *dotted_path, const char *file, int line) {
  json_t *v = hjson_get(root, dotted_path);
  if (!json_is_integer(v)) {
    char *dump = root ? json_dumps(root, JSON_COMPACT) : NULL;
    harness_fail_at(file, line, "expected an integer at \"%s\" in %s", dotted_path, dump ? dump : "(no JSON)");
    free(dump);
    return 0;
  }
  return json_integer_value(v);
}

/* ==================================================================================== */
/* Assertions                                                                            */
/* ==================================================================================== */

static void describe_response(const http_response *r) {
  if (!r) {
    print_error("  (no response)\n");
    return;
  }
  print_error("  request: %s %s\n  status: %ld%s%s\n", r->method, r->path, r->status, r->error[0] ? "  error: " : "",
              r->error);
  for (size_t i = 0; i < r->header_count; i++)
    print_error("  < %s: %s\n", r->header_names[i], r->header_values[i]);
  if (r->body_len > 0)
    print_error("  body: %.2000s%s\n", r->body, r->body_len > 2000 ? "..." : "");
}

static void fail_with(const http_response *r, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail_with(const http_response *r, const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  print_error("%s:%d: ", file, line);
  vprint_error(fmt, ap);
  va_end(ap);
  print_error("\n");
  describe_response(r);
  if (harness_server_log()[0])
    print_error("  server log: %s\n", harness_server_log());
  _fail(file, line);
}

void harness_fail_at(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  print_error("%s:%d: ", file, line);
  vprint_error(fmt, ap);
  va_end(ap);
  print_error("\n");
  if (harness_server_log()[0])
    print_error("  server log: %s\n", harness_server_log());
  _fail(file, line);
}

void harness_assert_status(const http_response *resp, long status, const char *file, int line) {
  if (!resp || resp->status != status)
    fail_with(resp, file, line, "expected HTTP status %ld, got %ld", status, resp ? resp->status : 0L);
}

void harness_assert_problem(const http_response *resp, long status, const char *slug, const char *file, int line) {
  harness_assert_status(resp, status, file, line);
  const char *ct = http_header(resp, "Content-Type");
  if (!ct || strncasecmp(ct, "application/problem+json", 24) != 0)
    fail_with(resp, file, line, "expected Content-Type application/problem+json, got %s", ct ? ct : "(none)");
  if (!json_is_object(resp->json))
    fail_with(resp, file, line, "problem body is not a JSON object");
  const char *type = hjson_str(resp->json, "type");
  if (!type || !*type)
    fail_with(resp, file, line, "problem body lacks a string \"type\"");
  if (!hjson_str(resp->json, "title") || !*hjson_str(resp->json, "title"))
    fail_with(resp, file, line, "problem body lacks a string \"title\"");
  json_t *st = hjson_get(resp->json, "status");
  if (!json_is_integer(st) || json_integer_value(st) != status)
    fail_with(resp, file, line, "problem body \"status\" is not the integer %ld", status);
  const char *rid = hjson_str(resp->json, "request_id");
  const char *hrid = http_header(resp, "X-Request-Id");
  if (!rid || !*rid)
    fail_with(resp, file, line, "problem body lacks a string \"request_id\"");
  if (!hrid || strcmp(hrid, rid) != 0)
    fail_with(resp, file, line, "X-Request-Id header (%s) differs from the body's request_id (%s)",
              hrid ? hrid : "(none)", rid);
  if (slug) {
    char expected[128];
    snprintf(expected, sizeof expected, "urn:forumnet:problem:%s", slug);
    if (strcmp(type, expected) != 0)
      fail_with(resp, file, line, "expected problem type %s, got %s", expected, type);
  }
}

void harness_assert_error_field(const http_response *resp, const char *field, const char *file, int line) {
  json_t *errors = hjson_get(resp ? resp->json : NULL, "errors");
  if (!json_is_array(errors))
    fail_with(resp, file, line, "expected errors[] naming field \"%s\", found no errors array", field);
  size_t i;
  json_t *e;
  json_array_foreach(errors, i, e) {
    const char *f = hjson_str(e, "field");
    if (f && strcmp(f, field) == 0) {
      if (!hjson_str(e, "message"))
        fail_with(resp, file, line, "errors[] entry for \"%s\" has no string message", field);
      return;
    }
  }
  fail_with(resp, file, line, "errors[] does not name field \"%s\"", field);
}

void harness_assert_header_equal(const http_response *resp, const char *name, const char *expected, const char *file,
                                 int line) {
  const char *v = http_header(resp, name);
  if (!v || strcmp(v, expected) != 0)
    fail_with(resp, file, line, "expected header %s: %s, got %s", name, expected, v ? v : "(absent)");
}

void harness_assert_header_absent(const http_response *resp, const char *name, const char *file, int line) {
  const char *v = http_header(resp, name);
  if (v)
    fail_with(resp, file, line, "expected no %s header, got %s", name, v);
}

void harness_assert_json_str(const json_t *root, const char *path, const char *expected, const char *file, int line) {
  json_t *v = hjson_get(root, path);
  bool ok = expected ? (json_is_string(v) && strcmp(json_string_value(v), expected) == 0) : json_is_null(v);
  if (!ok) {
    char *dump = root ? json_dumps(root, JSON_COMPACT) : NULL;
    harness_fail_at(file, line, "expected \"%s\" to be %s%s%s in %s", path, expected ? "\"" : "",
                    expected ? expected : "null", expected ? "\"" : "", dump ? dump : "(no JSON)");
    free(dump);
  }
}

void harness_assert_json_int(const json_t *root, const char *path, json_int_t expected, const char *file, int line) {
  json_t *v = hjson_get(root, path);
  if (!json_is_integer(v) || json_integer_value(v) != expected) {
    char *dump = root ? json_dumps(root, JSON_COMPACT) : NULL;
    harness_fail_at(file, line, "expected \"%s\" to be %" JSON_INTEGER_FORMAT " in %s", path, expected,
                    dump ? dump : "(no JSON)");
    free(dump);
  }
}

void harness_assert_etag_version(const http_response *resp, const char *file, int line) {
  json_t *v = hjson_get(resp ? resp->json : NULL, "version");
  if (!json_is_integer(v))
    fail_with(resp, file, line, "body has no integer \"version\"");
  char expected[48];
  snprintf(expected, sizeof expected, "\"%" JSON_INTEGER_FORMAT "\"", json_integer_value(v));
  const char *etag = http_header(resp, "ETag");
  if (!etag || strcmp(etag, expected) != 0)
    fail_with(resp, file, line, "expected ETag %s (the body's version), got %s", expected, etag ? etag : "(absent)");
}

/* ==================================================================================== */
/* Fixtures                                                                              */
/* ==================================================================================== */

static atomic_uint g_unique_counter;

char *harness_unique(const char *prefix, char *out) {
  unsigned n = atomic_fetch_add(&g_unique_counter, 1u);
  snprintf(out, HARNESS_NAME_MAX, "%s-%ld-%u-%lx", prefix, (long)getpid(), n, (unsigned long)time(NULL));
  return out;
}

char *harness_unique_email(const char *prefix, char *out) {
  char u[HARNESS_NAME_MAX];
  harness_unique(prefix, u);
  snprintf(out, HARNESS_EMAIL_MAX, "%s@test.example", u);
  return out;
}

static void random_password(char *out, size_t cap) {
  unsigned char raw[12];
  randombytes_buf(raw, sizeof raw);
  char hex[2 * sizeof raw + 1];
  sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
  snprintf(out, cap, "Pw-%s", hex);
}

/* POST /v1/auth/login, asserting 200; returns the response (caller frees). */
static http_response *login_at(const char *email, const char *password, const char *file, int line) {
  http_response *r =
      http_json("POST", "/v1/auth/login", NULL, json_pack("{s:s, s:s}", "email", email, "password", password));
  if (r->status != 200)
    fail_with(r, file, line, "login as %s failed", email);
  if (!hjson_str(r->json, "access_token") || !hjson_str(r->json, "refresh_token"))
    fail_with(r, file, line, "login answer lacks access_token or refresh_token");
  return r;
}

void harness_login(const char *email, const char *password, char *token_out, char *refresh_out) {
  http_response *r = login_at(email, password, __FILE__, __LINE__);
  if (token_out)
    copy_bounded(token_out, HARNESS_TOKEN_MAX, hjson_str(r->json, "access_token"), "access_token", __FILE__, __LINE__);
  if (refresh_out)
    copy_bounded(refresh_out, HARNESS_TOKEN_MAX, hjson_str(r->json, "refresh_token"), "refresh_token", __FILE__,
                 __LINE__);
  http_response_free(r);
}

static void fill_account_from_login(harness_account *a, http_response *r) {
  copy_bounded(a->token, sizeof a->token, hjson_str(r->json, "access_token"), "access_token", __FILE__, __LINE__);
  copy_bounded(a->refresh, sizeof a->refresh, hjson_str(r->json, "refresh_token"), "refresh_token", __FILE__, __LINE__);
  const char *id = hjson_str(r->json, "member.id");
  if (!id)
    fail_with(r, __FILE__, __LINE__, "login answer lacks member.id");
  copy_bounded(a->id, sizeof a->id, id, "member.id", __FILE__, __LINE__);
  const char *role = hjson_str(r->json, "member.role");
  if (role)
    snprintf(a->role, sizeof a->role, "%s", role);
}

void harness_relogin(harness_account *acct) {
  http_response *r = login_at(acct->email, acct->password, __FILE__, __LINE__);
  fill_account_from_login(acct, r);
  http_response_free(r);
}

/* Runs `forumnet admin create` for email/password; fails the test unless it exits 0. */
static void run_admin_create(const char *email, const char *password) {
  global_init();
  const char *bin = required_env("FORUMNET_BIN");
  char log_path[] = "/tmp/forumnet-e2e-admin-XXXXXX.log";
  int log_fd = mkstemps(log_path, 4);
  if (log_fd < 0)
    fail_msg("harness: cannot create a log file: %s", strerror(errno));
  int pipefd[2];
  if (pipe(pipefd) != 0)
    fail_msg("harness: pipe: %s", strerror(errno));
  env_list env = {0};
  build_child_env(&env, 0, NULL);
  char *argv[] = {(char *)bin, "admin",  "create",  "--email",          (char *)email, "--role",
                  "admin",     "--name", "Admin X", "--password-stdin", NULL};
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
  for (size_t off = 0, len = strlen(password); off < len;) {
    ssize_t n = write(pipefd[1], password + off, len - off);
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
      fail_msg("forumnet admin create did not finish within 30 s; output in %s", log_path);
    }
    harness_sleep_ms(20);
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    print_log_tail(log_path);
    fail_msg("forumnet admin create --email %s failed (%s %d); output in %s", email,
             WIFEXITED(wstatus) ? "exit status" : "signal",
             WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus), log_path);
  }
  unlink(log_path);
}

void harness_create_admin(char *email_out, char *password_out) {
  char email[HARNESS_EMAIL_MAX], password[HARNESS_PASSWORD_MAX];
  harness_unique_email("admin", email);
  random_password(password, sizeof password);
  run_admin_create(email, password);
  harness_login(email, password, NULL, NULL);
  memcpy(email_out, email, strlen(email) + 1);
  memcpy(password_out, password, strlen(password) + 1);
}

void harness_new_admin(harness_account *out) {
  memset(out, 0, sizeof *out);
  harness_unique_email("admin", out->email);
  random_password(out->password, sizeof out->password);
  snprintf(out->display_name, sizeof out->display_name, "Admin X");
  run_admin_create(out->email, out->password);
  http_response *r = login_at(out->email, out->password, __FILE__, __LINE__);
  fill_account_from_login(out, r);
  http_response_free(r);
}

json_t *harness_new_site(const char *admin_token, char *site_id_out) {
  char slug[HARNESS_NAME_MAX];
  harness_unique("site", slug);
  http_response *r = http_json(
      "POST", "/v1/sites", admin_token,
      json_pack("{s:s, s:s, s:s}", "slug", slug, "name", hpath("Site %s", slug), "organisation", "E2E Trust"));
  if (r->status != 201)
    fail_with(r, __FILE__, __LINE__, "creating a site failed");
  const char *id = hjson_str(r->json, "id");
  if (!id)
    fail_with(r, __FILE__, __LINE__, "created site has no id");
  if (site_id_out)
    copy_bounded(site_id_out, HARNESS_ID_MAX, id, "site id", __FILE__, __LINE__);
  json_t *site = json_incref(r->json);
  http_response_free(r);
  return site;
}

void harness_new_site_id(const char *admin_token, char *site_id_out) {
  json_decref(harness_new_site(admin_token, site_id_out));
}

/* Clears must_change_password as if the member had set their own password (PATCH /v1/me),
 * which would cost three more Argon2 hashes (verify, hash, the new login) per account; the
 * password stays the one-time one, and no credential change is recorded, so tokens stay valid. */
static void member_chose_password(const char *member_id, const char *file, int line) {
  if (!harness_is_uuid(member_id))
    harness_fail_at(file, line, "not a member id: %s", member_id);
  char sql[160];
  snprintf(sql, sizeof sql, "UPDATE members SET must_change_password = false WHERE id = '%s'", member_id);
  if (harness_psql_try(sql) != 0)
    harness_fail_at(file, line, "psql could not clear must_change_password of %s", member_id);
}

static void new_member_at(const char *creator_token, const char *role, const char *home_site_id,
                          const char *display_name, const char *email_prefix, bool one_time, harness_account *out);

void harness_new_member(const char *creator_token, const char *role, const char *home_site_id, harness_account *out) {
  new_member_at(creator_token, role, home_site_id, NULL, NULL, false, out);
}

void harness_new_member_one_time(const char *creator_token, const char *role, const char *home_site_id,
                                 harness_account *out) {
  new_member_at(creator_token, role, home_site_id, NULL, NULL, true, out);
}

void harness_new_member_named(const char *creator_token, const char *role, const char *home_site_id,
                              const char *display_name, const char *email_prefix, harness_account *out) {
  new_member_at(creator_token, role, home_site_id, display_name, email_prefix, false, out);
}

static void new_member_at(const char *creator_token, const char *role, const char *home_site_id,
                          const char *display_name, const char *email_prefix, bool one_time, harness_account *out) {
  memset(out, 0, sizeof *out);
  harness_unique_email(email_prefix ? email_prefix : role, out->email);
  if (display_name) {
    copy_bounded(out->display_name, sizeof out->display_name, display_name, "display_name", __FILE__, __LINE__);
  } else {
    char name[HARNESS_NAME_MAX];
    harness_unique("Member", name);
    snprintf(out->display_name, sizeof out->display_name, "%s", name);
  }
  json_t *body = json_pack("{s:s, s:s, s:s}", "email", out->email, "display_name", out->display_name, "role", role);
  if (home_site_id)
    json_object_set_new(body, "home_site_id", json_string(home_site_id));
  http_response *r = http_json("POST", "/v1/members", creator_token, body);
  if (r->status != 201)
    fail_with(r, __FILE__, __LINE__, "creating a %s failed", role);
  const char *otp = hjson_str(r->json, "one_time_password");
  const char *id = hjson_str(r->json, "member.id");
  if (!otp || !id)
    fail_with(r, __FILE__, __LINE__, "created member lacks member.id or one_time_password");
  copy_bounded(out->password, sizeof out->password, otp, "one_time_password", __FILE__, __LINE__);
  copy_bounded(out->id, sizeof out->id, id, "member id", __FILE__, __LINE__);
  snprintf(out->role, sizeof out->role, "%s", role);
  if (home_site_id)
    snprintf(out->home_site_id, sizeof out->home_site_id, "%s", home_site_id);
  http_response_free(r);
  r = login_at(out->email, out->password, __FILE__, __LINE__);
  copy_bounded(out->token, sizeof out->token, hjson_str(r->json, "access_token"), "access_token", __FILE__, __LINE__);
  copy_bounded(out->refresh, sizeof out->refresh, hjson_str(r->json, "refresh_token"), "refresh_token", __FILE__,
               __LINE__);
  http_response_free(r);
  if (!one_time)
    member_chose_password(out->id, __FILE__, __LINE__);
}

void harness_new_manager_of(const char *admin_token, const char *site_id, harness_account *out) {
  harness_new_member(admin_token, "manager", site_id, out);
  http_response *r =
      http_request("PUT", hpath("/v1/sites/%s/managers/%s", site_id, out->id), admin_token, NULL, NULL, NULL);
  if (r->status != 204)
    fail_with(r, __FILE__, __LINE__, "making %s a manager of site %s failed", out->id, site_id);
  http_response_free(r);
}

/* ==================================================================================== */
/* Tokens                                                                                */
/* ==================================================================================== */

char *harness_base64url(const void *data, size_t len) {
  global_init();
  size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  char *out = xmalloc(cap);
  sodium_bin2base64(out, cap, data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return out;
}

char *harness_jwt_sign(const char *alg, const char *key, size_t key_len, const json_t *header_extra,
                       const json_t *claims) {
  global_init();
  char *claims_text = json_dumps(claims, JSON_COMPACT);
  if (!claims_text)
    fail_msg("harness_jwt_sign: claims are not serialisable");
  if (strcmp(alg, "none") == 0) {
    json_t *header = json_pack("{s:s, s:s}", "alg", "none", "typ", "JWT");
    if (header_extra)
      json_object_update(header, (json_t *)header_extra);
    char *header_text = json_dumps(header, JSON_COMPACT);
    json_decref(header);
    char *h = harness_base64url(header_text, strlen(header_text));
    char *p = harness_base64url(claims_text, strlen(claims_text));
    size_t n = strlen(h) + strlen(p) + 3;
    char *out = xmalloc(n);
    snprintf(out, n, "%s.%s.", h, p);
    free(h);
    free(p);
    free(header_text);
    free(claims_text);
    return out;
  }
  jwt_t *jwt = NULL;
  if (jwt_new(&jwt) != 0)
    fail_msg("jwt_new failed");
  if (jwt_add_grants_json(jwt, claims_text) != 0)
    fail_msg("jwt_add_grants_json failed for %s", claims_text);
  free(claims_text);
  const char *hk;
  json_t *hv;
  json_object_foreach((json_t *)header_extra, hk, hv) {
    int rc = json_is_integer(hv) ? jwt_add_header_int(jwt, hk, (long)json_integer_value(hv))
                                 : jwt_add_header(jwt, hk, json_string_value(hv));
    if (rc != 0)
      fail_msg("jwt_add_header %s failed", hk);
  }
  jwt_alg_t a = jwt_str_alg(alg);
  if (a == JWT_ALG_INVAL || jwt_set_alg(jwt, a, (const unsigned char *)key, (int)key_len) != 0)
    fail_msg("jwt_set_alg %s failed", alg);
  char *encoded = jwt_encode_str(jwt);
  jwt_free(jwt);
  if (!encoded)
    fail_msg("jwt_encode_str failed");
  char *out = xstrdup(encoded);
  free(encoded);
  return out;
}

json_t *harness_jwt_decode(const char *token, json_t **header_out) {
  jwt_t *jwt = NULL;
  if (header_out)
    *header_out = NULL;
  if (jwt_decode(&jwt, token, (const unsigned char *)HARNESS_JWT_SECRET, HARNESS_JWT_SECRET_LEN) != 0 || !jwt)
    return NULL;
  char *grants = jwt_get_grants_json(jwt, NULL);
  json_t *claims = grants ? json_loads(grants, 0, NULL) : NULL;
  free(grants);
  if (header_out) {
    char *headers = jwt_get_headers_json(jwt, NULL);
    *header_out = headers ? json_loads(headers, 0, NULL) : NULL;
    free(headers);
  }
  jwt_free(jwt);
  return claims;
}

/* ==================================================================================== */
/* psql                                                                                  */
/* ==================================================================================== */

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

bool harness_is_uuid(const char *s) {
  if (!s || strlen(s) != 36)
    return false;
  for (int i = 0; i < 36; i++) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-')
        return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

/* ==================================================================================== */
/* Quick accounts and forum groups                                                       */
/* ==================================================================================== */

void harness_forge_access_token(const char *member_id, const char *role, char *token_out) {
  global_init();
  int64_t now_ms = harness_epoch_ms();
  long now = (long)(now_ms / 1000);
  unsigned char raw[16];
  randombytes_buf(raw, sizeof raw);
  char jti[2 * sizeof raw + 1];
  sodium_bin2hex(jti, sizeof jti, raw, sizeof raw);
  json_t *claims =
      json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s}", "iss", "forumnet", "aud", "forumnet-api", "sub",
                member_id, "typ", "access", "role", role ? role : "practitioner", "iat", (json_int_t)now, "iat_ms",
                (json_int_t)now_ms, "nbf", (json_int_t)now, "exp", (json_int_t)(now + 3600), "jti", jti);
  json_t *header = json_pack("{s:s}", "kid", "k1");
  char *t = harness_jwt_sign("HS256", HARNESS_JWT_SECRET, HARNESS_JWT_SECRET_LEN, header, claims);
  json_decref(header);
  json_decref(claims);
  copy_bounded(token_out, HARNESS_TOKEN_MAX, t, "forged token", __FILE__, __LINE__);
  free(t);
}

void harness_new_member_quick(const char *creator_token, const char *role, const char *home_site_id,
                              harness_account *out) {
  memset(out, 0, sizeof *out);
  harness_unique_email(role, out->email);
  char name[HARNESS_NAME_MAX];
  harness_unique("Member", name);
  snprintf(out->display_name, sizeof out->display_name, "%s", name);
  json_t *body = json_pack("{s:s, s:s, s:s}", "email", out->email, "display_name", out->display_name, "role", role);
  if (home_site_id)
    json_object_set_new(body, "home_site_id", json_string(home_site_id));
  http_response *r = http_json("POST", "/v1/members", creator_token, body);
  if (r->status != 201)
    fail_with(r, __FILE__, __LINE__, "creating a %s failed", role);
  const char *otp = hjson_str(r->json, "one_time_password");
  const char *id = hjson_str(r->json, "member.id");
  if (!otp || !id)
    fail_with(r, __FILE__, __LINE__, "created member lacks member.id or one_time_password");
  copy_bounded(out->password, sizeof out->password, otp, "one_time_password", __FILE__, __LINE__);
  copy_bounded(out->id, sizeof out->id, id, "member id", __FILE__, __LINE__);
  snprintf(out->role, sizeof out->role, "%s", role);
  if (home_site_id)
    snprintf(out->home_site_id, sizeof out->home_site_id, "%s", home_site_id);
  http_response_free(r);
  member_chose_password(out->id, __FILE__, __LINE__);
  harness_forge_access_token(out->id, role, out->token);
}

json_t *harness_new_group_at(const char *token, const char *site_id, int min_members, int max_members,
                             char *group_id_out, const char *file, int line) {
  char name[HARNESS_NAME_MAX];
  harness_unique("Group", name);
  json_t *body = json_pack("{s:s}", "name", name);
  if (site_id)
    json_object_set_new(body, "site_id", json_string(site_id));
  if (min_members > 0)
    json_object_set_new(body, "min_members", json_integer(min_members));
  if (max_members > 0)
    json_object_set_new(body, "max_members", json_integer(max_members));
  http_response *r = http_json("POST", "/v1/groups", token, body);
  if (r->status != 201)
    fail_with(r, file, line, "creating a group failed");
  const char *id = hjson_str(r->json, "id");
  if (!harness_is_uuid(id))
    fail_with(r, file, line, "created group has no uuid id");
  if (group_id_out)
    copy_bounded(group_id_out, HARNESS_ID_MAX, id, "group id", file, line);
  json_t *g = json_incref(r->json);
  http_response_free(r);
  return g;
}

json_t *harness_group_get_at(const char *group_id, const char *token, const char *file, int line) {
  http_response *r = http_get(hpath("/v1/groups/%s", group_id), token);
  if (r->status != 200 || !json_is_object(r->json))
    fail_with(r, file, line, "reading group %s failed", group_id);
  json_t *g = json_incref(r->json);
  http_response_free(r);
  return g;
}

static void expect_membership_state(http_response *r, long status, const char *state, const char *file, int line) {
  if (r->status != status)
    fail_with(r, file, line, "expected %ld", status);
  const char *got = hjson_str(r->json, "state");
  if (!got || strcmp(got, state) != 0)
    fail_with(r, file, line, "expected a membership in state \"%s\"", state);
}

void harness_group_request_at(const char *group_id, const char *token, const char *file, int line) {
  http_response *r = http_json("POST", hpath("/v1/groups/%s/members", group_id), token, json_object());
  expect_membership_state(r, 201, "requested", file, line);
  http_response_free(r);
}

void harness_group_invite_at(const char *group_id, const char *leader_token, const char *member_id, const char *role,
                             const char *file, int line) {
  json_t *body = json_pack("{s:s}", "member_id", member_id);
  if (role)
    json_object_set_new(body, "role", json_string(role));
  http_response *r = http_json("POST", hpath("/v1/groups/%s/members", group_id), leader_token, body);
  expect_membership_state(r, 201, "invited", file, line);
  http_response_free(r);
}

void harness_group_activate_at(const char *group_id, const char *token, const char *member_id, const char *file,
                               int line) {
  http_response *r = http_json("PATCH", hpath("/v1/groups/%s/members/%s", group_id, member_id), token,
                               json_pack("{s:s}", "state", "active"));
  expect_membership_state(r, 200, "active", file, line);
  http_response_free(r);
}

void harness_group_join_at(const char *group_id, const char *leader_token, const harness_account *acct,
                           const char *file, int line) {
  harness_group_request_at(group_id, acct->token, file, line);
  harness_group_activate_at(group_id, leader_token, acct->id, file, line);
}

void harness_group_set_role_at(const char *group_id, const char *token, const char *member_id, const char *role,
                               const char *file, int line) {
  http_response *r = http_json("PATCH", hpath("/v1/groups/%s/members/%s", group_id, member_id), token,
                               json_pack("{s:s}", "role", role));
  if (r->status != 200)
    fail_with(r, file, line, "setting role %s failed", role);
  const char *got = hjson_str(r->json, "role");
  if (!got || strcmp(got, role) != 0)
    fail_with(r, file, line, "expected role \"%s\"", role);
  http_response_free(r);
}

int harness_group_post_terms_at(const char *group_id, const char *leader_token, const char *body, const char *file,
                                int line) {
  http_response *r =
      http_json("POST", hpath("/v1/groups/%s/terms", group_id), leader_token, json_pack("{s:s}", "body", body));
  if (r->status != 201)
    fail_with(r, file, line, "posting terms failed");
  json_t *v = hjson_get(r->json, "version");
  if (!json_is_integer(v))
    fail_with(r, file, line, "posted terms have no integer version");
  int version = (int)json_integer_value(v);
  http_response_free(r);
  return version;
}

void harness_group_accept_terms_at(const char *group_id, int version, const char *token, const char *file, int line) {
  http_response *r =
      http_json("POST", hpath("/v1/groups/%s/terms/%d/acceptances", group_id, version), token, json_object());
  if (r->status != 201 && r->status != 200)
    fail_with(r, file, line, "accepting terms version %d failed", version);
  http_response_free(r);
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

void harness_new_manager_quick(const char *admin_token, const char *site_id, harness_account *out) {
  harness_new_member_quick(admin_token, "manager", site_id, out);
  http_response *r =
      http_request("PUT", hpath("/v1/sites/%s/managers/%s", site_id, out->id), admin_token, NULL, NULL, NULL);
  if (r->status != 204)
    fail_with(r, __FILE__, __LINE__, "making %s a manager of site %s failed", out->id, site_id);
  http_response_free(r);
}

json_t *harness_list_all_at(const char *list_path, const char *token, int limit, const char *file, int line) {
  const char sep = strchr(list_path, '?') ? '&' : '?';
  json_t *all = json_array();
  char *cursor = NULL;
  for (int page = 0; page < 10000; page++) {
    http_response *r = http_get(cursor ? hpath("%s%climit=%d&cursor=%s", list_path, sep, limit, cursor)
                                       : hpath("%s%climit=%d", list_path, sep, limit),
                                token);
    free(cursor);
    cursor = NULL;
    json_t *items = hjson_get(r->json, "items");
    json_t *next = hjson_get(r->json, "next_cursor");
    if (r->status != 200 || !json_is_array(items) || !(json_is_string(next) || json_is_null(next)))
      fail_with(r, file, line, "expected a list page {\"items\": [...], \"next_cursor\": ...}");
    json_array_extend(all, items);
    if (json_is_string(next))
      cursor = harness_urlencode(json_string_value(next));
    http_response_free(r);
    if (!cursor)
      return all;
  }
  fail_msg("list %s did not end within 10000 pages", list_path);
  return all;
}

bool harness_list_contains_at(const char *list_path, const char *token, const char *key, const char *value,
                              const char *file, int line) {
  json_t *all = harness_list_all_at(list_path, token, 200, file, line);
  bool found = false;
  size_t i;
  json_t *it;
  json_array_foreach(all, i, it) {
    const char *v = hjson_str(it, key);
    if (v && strcmp(v, value) == 0)
      found = true;
  }
  json_decref(all);
  return found;
}

#include <pthread.h>

typedef struct race_arg {
  harness_race_req *req;
  pthread_barrier_t *barrier;
} race_arg;

static void *race_main(void *p) {
  race_arg *a = p;
  harness_race_req *q = a->req;
  json_t *body = q->body;
  q->body = NULL;
  pthread_barrier_wait(a->barrier);
  http_response *r = http_json(q->method, q->path, q->token, body);
  q->status = r->status;
  snprintf(q->response, sizeof q->response, "%s", r->body ? r->body : r->error);
  http_response_free(r);
  return NULL;
}

void harness_race(harness_race_req *reqs, int n) {
  if (n < 1 || n > 16)
    fail_msg("harness_race: 1..16 requests");
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, (unsigned)n);
  pthread_t threads[16];
  race_arg args[16];
  for (int i = 0; i < n; i++) {
    args[i].req = &reqs[i];
    args[i].barrier = &barrier;
    if (pthread_create(&threads[i], NULL, race_main, &args[i]) != 0)
      fail_msg("harness_race: pthread_create failed");
  }
  for (int i = 0; i < n; i++)
    pthread_join(threads[i], NULL);
  pthread_barrier_destroy(&barrier);
}

/* ==================================================================================== */
/* consultations (API.md section 6)                                                      */
/* ==================================================================================== */

char *harness_rfc3339_from_now(long offset_seconds, char *out) {
  time_t t = time(NULL) + (time_t)offset_seconds;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

json_t *harness_consultation_body(const char *site_id, const char *group_id, long opens_in, long closes_in) {
  char title[HARNESS_NAME_MAX], opens[32], closes[32];
  harness_unique("Consultation", title);
  json_t *sites = json_array(), *groups = json_array();
  if (site_id)
    json_array_append_new(sites, json_string(site_id));
  if (group_id)
    json_array_append_new(groups, json_string(group_id));
  return json_pack("{s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}], s:{s:o, s:o}, s:s, s:s}", "title", title,
                   "summary", "We want to hear how the new rota works for your team.", "questions", "id", "q1", "text",
                   "What works well?", "id", "q2", "text", "What should change?", "id", "q3", "text", "Anything else?",
                   "target", "site_ids", sites, "group_ids", groups, "opens_at",
                   harness_rfc3339_from_now(opens_in, opens), "closes_at", harness_rfc3339_from_now(closes_in, closes));
}

json_t *harness_new_consultation_at(const char *token, json_t *body, char *id_out, const char *file, int line) {
  http_response *r = http_json("POST", "/v1/consultations", token, body);
  if (r->status != 201)
    fail_with(r, file, line, "creating a consultation failed");
  const char *id = hjson_str(r->json, "id");
  if (!harness_is_uuid(id))
    fail_with(r, file, line, "created consultation has no uuid id");
  const char *status = hjson_str(r->json, "status");
  if (!status || strcmp(status, "draft") != 0)
    fail_with(r, file, line, "a new consultation should be a draft");
  if (id_out)
    copy_bounded(id_out, HARNESS_ID_MAX, id, "consultation id", file, line);
  json_t *c = json_incref(r->json);
  http_response_free(r);
  return c;
}

json_t *harness_consultation_get_at(const char *id, const char *token, const char *file, int line) {
  http_response *r = http_get(hpath("/v1/consultations/%s", id), token);
  if (r->status != 200 || !json_is_object(r->json))
    fail_with(r, file, line, "reading consultation %s failed", id);
  json_t *c = json_incref(r->json);
  http_response_free(r);
  return c;
}

void harness_consultation_set_status_at(const char *id, const char *token, const char *status, const char *file,
                                        int line) {
  http_response *r = http_json("PATCH", hpath("/v1/consultations/%s", id), token, json_pack("{s:s}", "status", status));
  if (r->status != 200)
    fail_with(r, file, line, "moving consultation %s to %s failed", id, status);
  const char *got = hjson_str(r->json, "status");
  if (!got || strcmp(got, status) != 0)
    fail_with(r, file, line, "expected status \"%s\"", status);
  http_response_free(r);
}

void harness_consult_world_build(const char *admin_token, harness_consult_world *w) {
  memset(w, 0, sizeof *w);
  harness_new_site_id(admin_token, w->site_a);
  harness_new_site_id(admin_token, w->site_b);
  harness_new_manager_quick(admin_token, w->site_a, &w->mgr_a);
  harness_new_manager_quick(admin_token, w->site_a, &w->mgr_a2);
  harness_new_manager_quick(admin_token, w->site_b, &w->mgr_b);
  harness_account *at_a[] = {&w->conv1, &w->rep1, &w->mem1, &w->mem1b, &w->conv2, &w->mem2, &w->lone_a};
  for (size_t i = 0; i < sizeof at_a / sizeof at_a[0]; i++)
    harness_new_member_quick(admin_token, "practitioner", w->site_a, at_a[i]);
  harness_new_member_quick(admin_token, "facilitator", w->site_b, &w->fac_b);
  harness_new_member_quick(admin_token, "practitioner", w->site_b, &w->conv_b);
  harness_new_member_quick(admin_token, "practitioner", w->site_b, &w->pb);

  /* group 1: proposed by conv1, four invitations accepted, a representative, terms accepted by all */
  json_t *g = harness_new_group(w->conv1.token, w->site_a, 0, 0, w->group1);
  copy_bounded(w->group1_name, sizeof w->group1_name, hjson_str(g, "name") ? hjson_str(g, "name") : "", "group name",
               __FILE__, __LINE__);
  json_decref(g);
  harness_account *joiners[] = {&w->rep1, &w->mem1, &w->mem1b, &w->fac_b};
  for (size_t i = 0; i < sizeof joiners / sizeof joiners[0]; i++) {
    harness_group_invite(w->group1, w->conv1.token, joiners[i]->id, NULL);
    harness_group_activate(w->group1, joiners[i]->token, joiners[i]->id);
  }
  harness_group_set_role(w->group1, w->conv1.token, w->rep1.id, "representative");
  int tv = harness_group_post_terms(w->group1, w->conv1.token, "We meet monthly; what is said here stays here.");
  harness_account *all1[] = {&w->conv1, &w->rep1, &w->mem1, &w->mem1b, &w->fac_b};
  for (size_t i = 0; i < sizeof all1 / sizeof all1[0]; i++)
    harness_group_accept_terms(w->group1, tv, all1[i]->token);
  g = harness_group_get(w->group1, w->conv1.token);
  const char *st = hjson_str(g, "status");
  if (!st || strcmp(st, "active") != 0)
    fail_msg("consultation world: group 1 should be active after terms were accepted, is %s", st ? st : "(none)");
  json_decref(g);

  /* group 2: a convener and one member */
  g = harness_new_group(w->conv2.token, w->site_a, 0, 0, w->group2);
  copy_bounded(w->group2_name, sizeof w->group2_name, hjson_str(g, "name") ? hjson_str(g, "name") : "", "group name",
               __FILE__, __LINE__);
  json_decref(g);
  harness_group_invite(w->group2, w->conv2.token, w->mem2.id, NULL);
  harness_group_activate(w->group2, w->mem2.token, w->mem2.id);

  /* group at site B */
  json_decref(harness_new_group(w->conv_b.token, w->site_b, 0, 0, w->group_b));
}

/* ==================================================================================== */
/* partners/events (API.md section 7)                                                    */
/* ==================================================================================== */

http_response *harness_partner_token_request(const char *client_id, const char *client_secret) {
  return http_json("POST", "/v1/auth/token", NULL,
                   json_pack("{s:s, s:s, s:s}", "grant_type", "client_credentials", "client_id", client_id,
                             "client_secret", client_secret));
}

void harness_partner_login_at(harness_partner *p, const char *file, int line) {
  http_response *r = harness_partner_token_request(p->client_id, p->client_secret);
  const char *tok = hjson_str(r->json, "access_token");
  const char *type = hjson_str(r->json, "token_type");
  if (r->status != 200 || !tok || !type || strcmp(type, "Bearer") != 0)
    fail_with(r, file, line, "the client-credentials grant for partner %s failed", p->id);
  copy_bounded(p->token, sizeof p->token, tok, "partner access token", file, line);
  http_response_free(r);
}

void harness_new_partner_at(const char *admin_token, bool trusted, harness_partner *out, const char *file, int line) {
  memset(out, 0, sizeof *out);
  harness_unique("Partner", out->name);
  http_response *r = http_json("POST", "/v1/partners", admin_token,
                               json_pack("{s:s, s:b}", "name", out->name, "trusted", trusted ? 1 : 0));
  const char *id = hjson_str(r->json, "id");
  const char *client_id = hjson_str(r->json, "client_id");
  const char *secret = hjson_str(r->json, "client_secret");
  if (r->status != 201 || !harness_is_uuid(id) || !client_id || !secret)
    fail_with(r, file, line, "creating a partner failed (expected 201 with id, client_id, client_secret)");
  copy_bounded(out->id, sizeof out->id, id, "partner id", file, line);
  copy_bounded(out->client_id, sizeof out->client_id, client_id, "client_id", file, line);
  copy_bounded(out->client_secret, sizeof out->client_secret, secret, "client_secret", file, line);
  http_response_free(r);
  harness_partner_login_at(out, file, line);
}

json_t *harness_event_body(const char *kind, long starts_in, long duration, const char *site_id) {
  char title[HARNESS_NAME_MAX + 8], starts[32], ends[32];
  char unique[HARNESS_NAME_MAX];
  snprintf(title, sizeof title, "Event %s", harness_unique("ev", unique));
  harness_rfc3339_from_now(starts_in, starts);
  harness_rfc3339_from_now(starts_in + duration, ends);
  json_t *audience = site_id ? json_pack("{s:s, s:[s]}", "scope", "sites", "site_ids", site_id)
                             : json_pack("{s:s}", "scope", "network");
  return json_pack("{s:s, s:s, s:s, s:s, s:o}", "kind", kind, "title", title, "starts_at", starts, "ends_at", ends,
                   "audience", audience);
}

json_t *harness_new_event_at(const char *token, json_t *body, char *id_out, const char *file, int line) {
  http_response *r = http_json("POST", "/v1/events", token, body);
  const char *id = hjson_str(r->json, "id");
  if (r->status != 201 || !harness_is_uuid(id))
    fail_with(r, file, line, "creating an event failed (expected 201 with an id)");
  if (id_out)
    copy_bounded(id_out, HARNESS_ID_MAX, id, "event id", file, line);
  json_t *e = json_incref(r->json);
  http_response_free(r);
  return e;
}

json_t *harness_event_get_at(const char *id, const char *token, const char *file, int line) {
  http_response *r = http_get(hpath("/v1/events/%s", id), token);
  if (r->status != 200 || !json_is_object(r->json))
    fail_with(r, file, line, "reading event %s failed", id);
  json_t *e = json_incref(r->json);
  http_response_free(r);
  return e;
}

void harness_event_publish_at(const char *id, const char *token, const char *file, int line) {
  http_response *r = http_json("PATCH", hpath("/v1/events/%s", id), token, json_pack("{s:s}", "status", "published"));
  const char *st = hjson_str(r->json, "status");
  if (r->status != 200 || !st || strcmp(st, "published") != 0)
    fail_with(r, file, line, "publishing event %s failed (expected 200 and status published)", id);
  http_response_free(r);
}

typedef struct race_raw_arg {
  harness_race_raw_req *req;
  pthread_barrier_t *barrier;
} race_raw_arg;

static void *race_raw_main(void *p) {
  race_raw_arg *a = p;
  harness_race_raw_req *q = a->req;
  pthread_barrier_wait(a->barrier);
  q->resp = http_request(q->method, q->path, q->token, q->body ? "application/json" : NULL, q->body, q->headers);
  return NULL;
}

void harness_race_raw(harness_race_raw_req *reqs, int n) {
  if (n < 1 || n > 16)
    fail_msg("harness_race_raw: 1..16 requests");
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, (unsigned)n);
  pthread_t threads[16];
  race_raw_arg args[16];
  for (int i = 0; i < n; i++) {
    reqs[i].resp = NULL;
    args[i].req = &reqs[i];
    args[i].barrier = &barrier;
    if (pthread_create(&threads[i], NULL, race_raw_main, &args[i]) != 0)
      fail_msg("harness_race_raw: pthread_create failed");
  }
  for (int i = 0; i < n; i++)
    pthread_join(threads[i], NULL);
  pthread_barrier_destroy(&barrier);
}

/* ==================================================================================== */
/* Fault tests: the server process, PostgreSQL control, raw sockets                      */
/* ==================================================================================== */

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

http_response *http_request_timeout(const char *method, const char *path, const char *token, const char *content_type,
                                    const char *body, const char *const *headers, long timeout_ms) {
  return curl_exchange(method, path, token, content_type, body, body ? strlen(body) : 0, headers, timeout_ms);
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

int harness_server_connect(void) {
  char err[128];
  return raw_connect(err, sizeof err);
}

/* ==================================================================================== */
/* Security suites                                                                       */
/* ==================================================================================== */

http_response *http_send_raw(const char *method, const char *path, const char *raw, size_t raw_len, int timeout_ms) {
  global_init();
  http_response *r = response_new(method, path);
  int fd = raw_connect(r->error, sizeof r->error);
  if (fd < 0) {
    r->body = xstrdup("");
    return r;
  }
  raw_send_all(fd, raw, raw_len); /* the server may answer (and close) before reading it all */
  buf in = {0};
  int64_t deadline = harness_now_ms() + timeout_ms;
  for (;;) {
    if (raw_response_complete(&in))
      break;
    int left = (int)(deadline - harness_now_ms());
    if (left <= 0) {
      snprintf(r->error, sizeof r->error, "no response within %d ms", timeout_ms);
      break;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int pr = poll(&pfd, 1, left);
    if (pr < 0 && errno == EINTR)
      continue;
    if (pr <= 0)
      continue;
    char tmp[8192];
    ssize_t n = recv(fd, tmp, sizeof tmp, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    buf_append(&in, tmp, (size_t)n);
  }
  close(fd);
  char saved_error[sizeof r->error];
  memcpy(saved_error, r->error, sizeof saved_error);
  raw_parse(r, &in);
  if (r->status == 0 && saved_error[0])
    memcpy(r->error, saved_error, sizeof saved_error);
  free(in.data);
  return r;
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

void harness_exchange_log_pause(bool paused) {
  static char saved[4096];
  static bool is_paused;
  if (paused && !is_paused) {
    const char *v = getenv("HARNESS_EXCHANGE_LOG");
    if (!v || !*v || strlen(v) >= sizeof saved)
      return;
    memcpy(saved, v, strlen(v) + 1);
    unsetenv("HARNESS_EXCHANGE_LOG");
    is_paused = true;
  } else if (!paused && is_paused) {
    setenv("HARNESS_EXCHANGE_LOG", saved, 1);
    is_paused = false;
  }
}
