/* Unit tests for src/core/config.c: config_load() reads a fake environment (a table set by
 * each test) and either fills fn_config or fails with FN_INVALID and one line naming the
 * variable; config_origin_allowed() matches CORS origins exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "forumnet/config.h"
#include "test_only_keys.h"

/* ---- fake environment ---- */

#define ENV_MAX 32
static struct {
  const char *name;
  const char *value;
} env[ENV_MAX];
static int env_count;

static void env_reset(void) { env_count = 0; }

static void env_set(const char *name, const char *value) {
  for (int i = 0; i < env_count; i++)
    if (strcmp(env[i].name, name) == 0) {
      env[i].value = value;
      return;
    }
  assert_true(env_count < ENV_MAX);
  env[env_count].name = name;
  env[env_count].value = value;
  env_count++;
}

static const char *fake_getenv(const char *name) {
  for (int i = 0; i < env_count; i++)
    if (strcmp(env[i].name, name) == 0)
      return env[i].value;
  return NULL;
}

static const char SECRET_32[] = "0123456789abcdef0123456789abcdef";      /* exactly 32 bytes */
static const char SECRET_31[] = "0123456789abcdef0123456789abcde";       /* one short */
static const char OTHER_SECRET[] = "fedcba9876543210fedcba9876543210-x"; /* 34 bytes */

static fn_config cfg;
static char err[512];

static fn_status load(int need_database, int need_jwt) {
  err[0] = '\0';
  return config_load(&cfg, fake_getenv, need_database, need_jwt, err, sizeof err);
}

/* FN_INVALID with one line that names the variable. */
static void assert_invalid_naming(fn_status st, const char *variable) {
  assert_int_equal(st, FN_INVALID);
  if (strstr(err, variable) == NULL)
    fail_msg("error \"%s\" does not name %s", err, variable);
  assert_null(strchr(err, '\n'));
}

/* Each of the n values of variable fails to load, naming it. */
static void assert_each_rejected(const char *variable, const char *const *bad, size_t n, int need_jwt) {
  for (size_t i = 0; i < n; i++) {
    env_set(variable, bad[i]);
    fn_status st = load(0, need_jwt);
    if (st != FN_INVALID)
      fail_msg("%s=%s was accepted", variable, bad[i]);
    assert_invalid_naming(st, variable);
  }
}

static int setup(void **state) {
  (void)state;
  env_reset();
  memset(&cfg, 0xAB, sizeof cfg); /* config_load must not depend on a zeroed struct */
  err[0] = '\0';
  return 0;
}

/* ---- defaults ---- */

static void test_defaults(void **state) {
  (void)state;
  assert_int_equal(load(0, 0), FN_OK);
  assert_string_equal(cfg.database_url, "");
  assert_string_equal(cfg.listen_host, "127.0.0.1");
  assert_int_equal(cfg.listen_port, 8080);
  assert_int_equal(cfg.jwt_alg, JWT_ALGORITHM_HS256);
  assert_int_equal(cfg.jwt_secret_len, 0);
  assert_int_equal(cfg.jwt_public_key_len, 0);
  assert_int_equal(cfg.jwt_previous_secret_len, 0);
  assert_string_equal(cfg.jwt_kid, "k1");
  assert_string_equal(cfg.jwt_previous_kid, "");
  assert_string_equal(cfg.jwt_issuer, "forumnet");
  assert_string_equal(cfg.jwt_audience, "forumnet-api");
  assert_int_equal(cfg.access_token_ttl, 900);
  assert_int_equal(cfg.refresh_token_ttl, 30L * 24 * 3600);
  assert_int_equal(cfg.cors_origin_count, 0);
  assert_int_equal(cfg.max_body_bytes, 1024 * 1024);
  assert_int_equal(cfg.max_connections, 256);
  assert_int_equal(cfg.connection_timeout, 30);
  assert_int_equal(cfg.db_pool_size, 8);
  assert_int_equal(cfg.db_acquire_timeout_ms, 2000);
  assert_int_equal(cfg.statement_timeout_ms, 5000);
  assert_int_equal(cfg.db_connect_timeout_s, 3);
  assert_int_equal(cfg.login_max_failures_per_email, 5);
  assert_int_equal(cfg.login_max_failures_per_address, 50);
  assert_int_equal(cfg.login_window_seconds, 900);
  assert_int_equal(cfg.auto_migrate, 0);
  assert_int_equal(cfg.log_requests, 1);
  assert_int_equal(cfg.http_threads, 8); /* as many as db_pool_size */
  assert_int_equal(cfg.suppression_threshold, 3);
  assert_int_equal(cfg.trusted_proxy_count, 0);
  assert_int_equal(cfg.drain_ms, 0);
  assert_int_equal(cfg.db_reconnect_backoff_ms, 250);
  assert_int_equal(cfg.stream_heartbeat_ms, 25000);
  assert_int_equal(cfg.jobs, 1);
  assert_int_equal(cfg.jobs_interval_ms, 10000);
  assert_int_equal(cfg.webhook_key_set, 0);
  assert_int_equal(cfg.webhook_allow_private, 0);
  assert_int_equal(cfg.webhook_counts_interval_ms, 60000);
  assert_int_equal(cfg.webhook_concurrency, 128);
  assert_int_equal(cfg.webhook_endpoint_concurrency, 32);
  assert_int_equal(cfg.slow_threads, 2);
  assert_string_equal(cfg.docs_js_path, "/usr/share/forumnet/redoc.standalone.js");
  assert_string_equal(cfg.read_database_url, "");
  assert_int_equal(cfg.db_read_pool_size, 4);
}

/* Empty values behave like unset ones (a compose file often writes VAR=). */
static void test_empty_values_keep_defaults(void **state) {
  (void)state;
  env_set("FORUMNET_LISTEN", "");
  env_set("FORUMNET_DB_POOL_SIZE", "");
  env_set("FORUMNET_JWT_ALG", "");
  env_set("FORUMNET_CORS_ORIGINS", "");
  assert_int_equal(load(0, 0), FN_OK);
  assert_string_equal(cfg.listen_host, "127.0.0.1");
  assert_int_equal(cfg.listen_port, 8080);
  assert_int_equal(cfg.db_pool_size, 8);
  assert_int_equal(cfg.jwt_alg, JWT_ALGORITHM_HS256);
  assert_int_equal(cfg.cors_origin_count, 0);
}

/* ---- database ---- */

static void test_database_url_required(void **state) {
  (void)state;
  assert_invalid_naming(load(1, 0), "FORUMNET_DATABASE_URL");
  /* Not required for subcommands that do not touch the database. */
  assert_int_equal(load(0, 0), FN_OK);
  env_set("FORUMNET_DATABASE_URL", "postgresql:///forumnet?host=/tmp");
  assert_int_equal(load(1, 0), FN_OK);
  assert_string_equal(cfg.database_url, "postgresql:///forumnet?host=/tmp");
}

/* The replica is optional, never required, and kept apart from the primary's URL. */
static void test_read_database_url(void **state) {
  (void)state;
  env_set("FORUMNET_DATABASE_URL", "postgresql:///forumnet?host=/primary");
  assert_int_equal(load(1, 0), FN_OK);
  assert_string_equal(cfg.read_database_url, "");
  env_set("FORUMNET_DATABASE_READ_URL", "postgresql:///forumnet?host=/replica");
  env_set("FORUMNET_DB_READ_POOL_SIZE", "2");
  assert_int_equal(load(1, 0), FN_OK);
  assert_string_equal(cfg.database_url, "postgresql:///forumnet?host=/primary");
  assert_string_equal(cfg.read_database_url, "postgresql:///forumnet?host=/replica");
  assert_int_equal(cfg.db_read_pool_size, 2);
  static char v[1100];
  memset(v, 'r', sizeof v - 1);
  env_set("FORUMNET_DATABASE_READ_URL", v);
  assert_invalid_naming(load(1, 0), "FORUMNET_DATABASE_READ_URL");
}

/* FORUMNET_DB_POOLER: session by default, transaction when asked, anything else refused. */
static void test_db_pooler(void **state) {
  (void)state;
  assert_int_equal(load(0, 0), FN_OK);
  assert_int_equal(cfg.db_pooler, DB_POOLER_SESSION);
  env_set("FORUMNET_DB_POOLER", "transaction");
  assert_int_equal(load(0, 0), FN_OK);
  assert_int_equal(cfg.db_pooler, DB_POOLER_TRANSACTION);
  env_set("FORUMNET_DB_POOLER", "session");
  assert_int_equal(load(0, 0), FN_OK);
  assert_int_equal(cfg.db_pooler, DB_POOLER_SESSION);
  env_set("FORUMNET_DB_POOLER", "statement"); /* PgBouncer's third mode: no transactions at all */
  assert_invalid_naming(load(0, 0), "FORUMNET_DB_POOLER");
  assert_string_equal(err, "invalid configuration: FORUMNET_DB_POOLER must be session or transaction");
}

/* FORUMNET_DATABASE_DIRECT_URL: migrate, seed and admin connect there, as a session; unset, they use
 * FORUMNET_DATABASE_URL with the configured pooler mode. */
static void test_database_direct_url(void **state) {
  (void)state;
  env_set("FORUMNET_DATABASE_URL", "postgresql:///forumnet?host=/pgbouncer");
  env_set("FORUMNET_DB_POOLER", "transaction");
  assert_int_equal(load(1, 0), FN_OK);
  assert_string_equal(cfg.database_direct_url, "");
  config_use_direct_database(&cfg);
  assert_string_equal(cfg.database_url, "postgresql:///forumnet?host=/pgbouncer");
  assert_int_equal(cfg.db_pooler, DB_POOLER_TRANSACTION);
  env_set("FORUMNET_DATABASE_DIRECT_URL", "postgresql:///forumnet?host=/postgres");
  assert_int_equal(load(1, 0), FN_OK);
  assert_string_equal(cfg.database_url, "postgresql:///forumnet?host=/pgbouncer"); /* the server's */
  config_use_direct_database(&cfg);
  assert_string_equal(cfg.database_url, "postgresql:///forumnet?host=/postgres");
  assert_int_equal(cfg.db_pooler, DB_POOLER_SESSION);
}

static void test_database_url_too_long(void **state) {
  (void)state;
  static char url[2048];
  memset(url, 'x', sizeof url - 1);
  url[sizeof url - 1] = '\0';
  env_set("FORUMNET_DATABASE_URL", url);
  assert_invalid_naming(load(1, 0), "FORUMNET_DATABASE_URL");
}

/* ---- FORUMNET_LISTEN ---- */

static void test_listen_host_port(void **state) {
  (void)state;
  env_set("FORUMNET_LISTEN", "0.0.0.0:9000");
  assert_int_equal(load(0, 0), FN_OK);
  assert_string_equal(cfg.listen_host, "0.0.0.0");
  assert_int_equal(cfg.listen_port, 9000);

  env_set("FORUMNET_LISTEN", "localhost:1");
  assert_int_equal(load(0, 0), FN_OK);
  assert_string_equal(cfg.listen_host, "localhost");
  assert_int_equal(cfg.listen_port, 1);

  env_set("FORUMNET_LISTEN", "127.0.0.1:65535");
  assert_int_equal(load(0, 0), FN_OK);
  assert_int_equal(cfg.listen_port, 65535);
}

static void test_listen_port_only_binds_all(void **state) {
  (void)state;
  env_set("FORUMNET_LISTEN", ":8081");
  assert_int_equal(load(0, 0), FN_OK);
  assert_string_equal(cfg.listen_host, "0.0.0.0");
  assert_int_equal(cfg.listen_port, 8081);
}

static void test_listen_ipv6(void **state) {
  (void)state;
  env_set("FORUMNET_LISTEN", "[::1]:8080");
  assert_int_equal(load(0, 0), FN_OK);
  assert_string_equal(cfg.listen_host, "::1");
  assert_int_equal(cfg.listen_port, 8080);

  env_set("FORUMNET_LISTEN", "[::]:443");
  assert_int_equal(load(0, 0), FN_OK);
  assert_string_equal(cfg.listen_host, "::");
  assert_int_equal(cfg.listen_port, 443);
}

static void test_listen_bad(void **state) {
  (void)state;
  const char *const bad[] = {
      "127.0.0.1:0",
      "127.0.0.1:70000",
      "127.0.0.1:65536",
      "127.0.0.1:abc",
      "127.0.0.1:80x",
      "127.0.0.1:",
      "127.0.0.1",
      "8080",
      ":",
      "127.0.0.1:-1",
  };
  assert_each_rejected("FORUMNET_LISTEN", bad, sizeof bad / sizeof bad[0], 0);
}

static void test_listen_host_too_long(void **state) {
  (void)state;
  static char v[128];
  memset(v, 'h', 100);
  strcpy(v + 100, ":8080");
  env_set("FORUMNET_LISTEN", v);
  assert_invalid_naming(load(0, 0), "FORUMNET_LISTEN");
}

/* ---- numbers ---- */

static const struct {
  const char *name;
  long min, max;
} numbers[] = {
    {"FORUMNET_ACCESS_TOKEN_TTL", 60, 86400},
    {"FORUMNET_REFRESH_TOKEN_TTL", 300, 365L * 86400},
    {"FORUMNET_MAX_BODY_BYTES", 1024, 64L * 1024 * 1024},
    {"FORUMNET_MAX_CONNECTIONS", 1, 65536},
    {"FORUMNET_CONNECTION_TIMEOUT", 1, 3600},
    {"FORUMNET_DB_POOL_SIZE", 1, 256},
    {"FORUMNET_DB_ACQUIRE_TIMEOUT_MS", 1, 60000},
    {"FORUMNET_STATEMENT_TIMEOUT_MS", 1, 600000},
    {"FORUMNET_DB_CONNECT_TIMEOUT", 2, 60},
    {"FORUMNET_LOGIN_MAX_FAILURES", 1, 1000000},
    {"FORUMNET_LOGIN_MAX_FAILURES_PER_ADDRESS", 1, 1000000},
    {"FORUMNET_LOGIN_WINDOW_SECONDS", 1, 86400},
    {"FORUMNET_AUTO_MIGRATE", 0, 1},
    {"FORUMNET_LOG_REQUESTS", 0, 1},
    {"FORUMNET_HTTP_THREADS", 0, 1024},
    {"FORUMNET_SUPPRESSION_THRESHOLD", 1, 100},
    {"FORUMNET_DB_READ_POOL_SIZE", 1, 256},
    {"FORUMNET_DRAIN_MS", 0, 600000},
    {"FORUMNET_DB_RECONNECT_BACKOFF_MS", 0, 60000},
    {"FORUMNET_STREAM_HEARTBEAT_MS", 100, 600000},
    {"FORUMNET_JOBS", 0, 1},
    {"FORUMNET_JOBS_INTERVAL_MS", 50, 3600000},
    {"FORUMNET_WEBHOOK_ALLOW_PRIVATE", 0, 1},
    {"FORUMNET_WEBHOOK_COUNTS_INTERVAL_MS", 100, 3600000},
    {"FORUMNET_WEBHOOK_CONCURRENCY", 1, 1024},
    {"FORUMNET_WEBHOOK_ENDPOINT_CONCURRENCY", 1, 1024},
    {"FORUMNET_SLOW_THREADS", 0, 64},
};
#define NUMBER_COUNT (sizeof numbers / sizeof numbers[0])

/* The fn_config field each variable lands in. */
static long stored_number(const char *name) {
  if (strcmp(name, "FORUMNET_ACCESS_TOKEN_TTL") == 0)
    return cfg.access_token_ttl;
  if (strcmp(name, "FORUMNET_REFRESH_TOKEN_TTL") == 0)
    return cfg.refresh_token_ttl;
  if (strcmp(name, "FORUMNET_MAX_BODY_BYTES") == 0)
    return (long)cfg.max_body_bytes;
  if (strcmp(name, "FORUMNET_MAX_CONNECTIONS") == 0)
    return cfg.max_connections;
  if (strcmp(name, "FORUMNET_CONNECTION_TIMEOUT") == 0)
    return cfg.connection_timeout;
  if (strcmp(name, "FORUMNET_DB_POOL_SIZE") == 0)
    return cfg.db_pool_size;
  if (strcmp(name, "FORUMNET_DB_ACQUIRE_TIMEOUT_MS") == 0)
    return cfg.db_acquire_timeout_ms;
  if (strcmp(name, "FORUMNET_STATEMENT_TIMEOUT_MS") == 0)
    return cfg.statement_timeout_ms;
  if (strcmp(name, "FORUMNET_DB_CONNECT_TIMEOUT") == 0)
    return cfg.db_connect_timeout_s;
  if (strcmp(name, "FORUMNET_LOGIN_MAX_FAILURES") == 0)
    return cfg.login_max_failures_per_email;
  if (strcmp(name, "FORUMNET_LOGIN_MAX_FAILURES_PER_ADDRESS") == 0)
    return cfg.login_max_failures_per_address;
  if (strcmp(name, "FORUMNET_LOGIN_WINDOW_SECONDS") == 0)
    return cfg.login_window_seconds;
  if (strcmp(name, "FORUMNET_AUTO_MIGRATE") == 0)
    return cfg.auto_migrate;
  if (strcmp(name, "FORUMNET_LOG_REQUESTS") == 0)
    return cfg.log_requests;
  if (strcmp(name, "FORUMNET_HTTP_THREADS") == 0)
    return cfg.http_threads;
  if (strcmp(name, "FORUMNET_SUPPRESSION_THRESHOLD") == 0)
    return cfg.suppression_threshold;
  if (strcmp(name, "FORUMNET_DB_READ_POOL_SIZE") == 0)
    return cfg.db_read_pool_size;
  if (strcmp(name, "FORUMNET_DRAIN_MS") == 0)
    return cfg.drain_ms;
  if (strcmp(name, "FORUMNET_DB_RECONNECT_BACKOFF_MS") == 0)
    return cfg.db_reconnect_backoff_ms;
  if (strcmp(name, "FORUMNET_STREAM_HEARTBEAT_MS") == 0)
    return cfg.stream_heartbeat_ms;
  if (strcmp(name, "FORUMNET_JOBS") == 0)
    return cfg.jobs;
  if (strcmp(name, "FORUMNET_JOBS_INTERVAL_MS") == 0)
    return cfg.jobs_interval_ms;
  if (strcmp(name, "FORUMNET_WEBHOOK_ALLOW_PRIVATE") == 0)
    return cfg.webhook_allow_private;
  if (strcmp(name, "FORUMNET_WEBHOOK_COUNTS_INTERVAL_MS") == 0)
    return (long)cfg.webhook_counts_interval_ms;
  if (strcmp(name, "FORUMNET_WEBHOOK_CONCURRENCY") == 0)
    return (long)cfg.webhook_concurrency;
  if (strcmp(name, "FORUMNET_WEBHOOK_ENDPOINT_CONCURRENCY") == 0)
    return (long)cfg.webhook_endpoint_concurrency;
  if (strcmp(name, "FORUMNET_SLOW_THREADS") == 0)
    return (long)cfg.slow_threads;
  fail_msg("no field for %s", name);
  return -1;
}

/* Each bound is inclusive and lands in its own field (catches a mixed-up mapping). */
static void test_numbers_accept_bounds(void **state) {
  (void)state;
  for (size_t i = 0; i < NUMBER_COUNT; i++) {
    char v[32];
    long bounds[2] = {numbers[i].min, numbers[i].max};
    for (int b = 0; b < 2; b++) {
      env_reset();
      snprintf(v, sizeof v, "%ld", bounds[b]);
      env_set(numbers[i].name, v);
      fn_status st = load(0, 0);
      if (st != FN_OK)
        fail_msg("%s=%s rejected: %s", numbers[i].name, v, err);
      assert_int_equal(stored_number(numbers[i].name), bounds[b]);
    }
  }
}

static void test_numbers_reject_out_of_range(void **state) {
  (void)state;
  for (size_t i = 0; i < NUMBER_COUNT; i++) {
    char below[32], above[32];
    snprintf(below, sizeof below, "%ld", numbers[i].min - 1);
    snprintf(above, sizeof above, "%ld", numbers[i].max + 1);
    const char *bad[] = {below, above, "abc", "12abc", "1.5", "99999999999999999999999", "0x10"};
    for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
      env_reset();
      env_set(numbers[i].name, bad[j]);
      fn_status st = load(0, 0);
      if (st != FN_INVALID)
        fail_msg("%s=%s was accepted", numbers[i].name, bad[j]);
      assert_invalid_naming(st, numbers[i].name);
    }
  }
}

/* Unset, the worker count follows the pool size; set (0 included), it is kept. */
static void test_http_threads_follow_pool_size(void **state) {
  (void)state;
  env_set("FORUMNET_DB_POOL_SIZE", "20");
  assert_int_equal(load(0, 0), FN_OK);
  assert_int_equal(cfg.http_threads, 20);
  env_set("FORUMNET_HTTP_THREADS", "");
  assert_int_equal(load(0, 0), FN_OK);
  assert_int_equal(cfg.http_threads, 20);
  env_set("FORUMNET_HTTP_THREADS", "0");
  assert_int_equal(load(0, 0), FN_OK);
  assert_int_equal(cfg.http_threads, 0);
  env_set("FORUMNET_HTTP_THREADS", "3");
  assert_int_equal(load(0, 0), FN_OK);
  assert_int_equal(cfg.http_threads, 3);
  assert_int_equal(cfg.db_pool_size, 20);
}

/* ---- JWT ---- */

static void test_jwt_secret_required_when_needed(void **state) {
  (void)state;
  assert_invalid_naming(load(0, 1), "FORUMNET_JWT_SECRET");
  assert_int_equal(load(0, 0), FN_OK);
  assert_int_equal(cfg.jwt_secret_len, 0);
}

static void test_jwt_secret_length(void **state) {
  (void)state;
  env_set("FORUMNET_JWT_SECRET", SECRET_31);
  assert_invalid_naming(load(0, 1), "FORUMNET_JWT_SECRET");
  /* A short secret is refused even when the subcommand does not need tokens. */
  assert_invalid_naming(load(0, 0), "FORUMNET_JWT_SECRET");

  env_set("FORUMNET_JWT_SECRET", SECRET_32);
  assert_int_equal(load(0, 1), FN_OK);
  assert_int_equal(cfg.jwt_secret_len, 32);
  assert_memory_equal(cfg.jwt_secret, SECRET_32, 32);

  static char max_ok[256], too_long[257];
  memset(max_ok, 's', 255);
  memset(too_long, 's', 256);
  env_set("FORUMNET_JWT_SECRET", max_ok);
  assert_int_equal(load(0, 1), FN_OK);
  assert_int_equal(cfg.jwt_secret_len, 255);
  env_set("FORUMNET_JWT_SECRET", too_long);
  assert_invalid_naming(load(0, 1), "FORUMNET_JWT_SECRET");
}

static void test_jwt_alg(void **state) {
  (void)state;
  env_set("FORUMNET_JWT_SECRET", SECRET_32);
  env_set("FORUMNET_JWT_ALG", "HS256");
  assert_int_equal(load(0, 1), FN_OK);
  assert_int_equal(cfg.jwt_alg, JWT_ALGORITHM_HS256);

  const char *const bad[] = {"none", "HS512", "HS384", "hs256", "RS512", "HS256 ", "PS256"};
  assert_each_rejected("FORUMNET_JWT_ALG", bad, sizeof bad / sizeof bad[0], 1);
  /* a choice's message lists the choices */
  assert_string_equal(err, "invalid configuration: FORUMNET_JWT_ALG must be HS256, RS256 or ES256");
}

static void test_jwt_names(void **state) {
  (void)state;
  env_set("FORUMNET_JWT_SECRET", SECRET_32);
  env_set("FORUMNET_JWT_KID", "2024-06");
  env_set("FORUMNET_JWT_ISSUER", "https://issuer.example");
  env_set("FORUMNET_JWT_AUDIENCE", "api.example");
  assert_int_equal(load(0, 1), FN_OK);
  assert_string_equal(cfg.jwt_kid, "2024-06");
  assert_string_equal(cfg.jwt_issuer, "https://issuer.example");
  assert_string_equal(cfg.jwt_audience, "api.example");

  static char long_kid[100];
  memset(long_kid, 'k', sizeof long_kid - 1);
  env_set("FORUMNET_JWT_KID", long_kid);
  assert_invalid_naming(load(0, 1), "FORUMNET_JWT_KID");
}

static void test_jwt_previous_secret(void **state) {
  (void)state;
  env_set("FORUMNET_JWT_SECRET", SECRET_32);
  env_set("FORUMNET_JWT_KID", "k2");
  env_set("FORUMNET_JWT_PREVIOUS_SECRET", OTHER_SECRET);
  env_set("FORUMNET_JWT_PREVIOUS_KID", "k1");
  assert_int_equal(load(0, 1), FN_OK);
  assert_string_equal(cfg.jwt_previous_kid, "k1");
  assert_int_equal(cfg.jwt_previous_secret_len, strlen(OTHER_SECRET));
  assert_memory_equal(cfg.jwt_previous_secret, OTHER_SECRET, strlen(OTHER_SECRET));
}

static void test_jwt_previous_kid_must_differ(void **state) {
  (void)state;
  env_set("FORUMNET_JWT_SECRET", SECRET_32);
  env_set("FORUMNET_JWT_KID", "k2");
  env_set("FORUMNET_JWT_PREVIOUS_SECRET", OTHER_SECRET);
  env_set("FORUMNET_JWT_PREVIOUS_KID", "k2");
  assert_invalid_naming(load(0, 1), "FORUMNET_JWT_PREVIOUS_KID");

  /* The default kid is k1: a previous kid of k1 collides with it too. */
  env_reset();
  env_set("FORUMNET_JWT_SECRET", SECRET_32);
  env_set("FORUMNET_JWT_PREVIOUS_SECRET", OTHER_SECRET);
  env_set("FORUMNET_JWT_PREVIOUS_KID", "k1");
  assert_invalid_naming(load(0, 1), "FORUMNET_JWT_PREVIOUS_KID");
}

static void test_jwt_previous_secret_needs_kid(void **state) {
  (void)state;
  env_set("FORUMNET_JWT_SECRET", SECRET_32);
  env_set("FORUMNET_JWT_PREVIOUS_SECRET", OTHER_SECRET);
  assert_invalid_naming(load(0, 1), "FORUMNET_JWT_PREVIOUS_KID");
}

static void test_jwt_previous_secret_length(void **state) {
  (void)state;
  env_set("FORUMNET_JWT_SECRET", SECRET_32);
  env_set("FORUMNET_JWT_KID", "k2");
  env_set("FORUMNET_JWT_PREVIOUS_KID", "k1");
  env_set("FORUMNET_JWT_PREVIOUS_SECRET", SECRET_31);
  assert_invalid_naming(load(0, 1), "FORUMNET_JWT_PREVIOUS_SECRET");
}

/* ---- asymmetric key files ---- */

static char key_dir[64];

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
  assert_int_equal(fclose(f), 0);
}

static char *key_path(const char *file) {
  static char paths[6][128];
  static int next;
  char *p = paths[next++ % 6];
  snprintf(p, sizeof paths[0], "%s/%s", key_dir, file);
  return p;
}

static int group_setup(void **state) {
  (void)state;
  strcpy(key_dir, "/tmp/forumnet-test-config-XXXXXX");
  if (mkdtemp(key_dir) == NULL)
    return -1;
  write_file(key_path("rsa.pem"), TEST_ONLY_RSA_PRIVATE_KEY_PEM);
  write_file(key_path("rsa.pub"), TEST_ONLY_RSA_PUBLIC_KEY_PEM);
  write_file(key_path("ec.pem"), TEST_ONLY_EC_PRIVATE_KEY_PEM);
  write_file(key_path("ec.pub"), TEST_ONLY_EC_PUBLIC_KEY_PEM);
  write_file(key_path("empty"), "");
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  const char *files[] = {"rsa.pem", "rsa.pub", "ec.pem", "ec.pub", "empty"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    unlink(key_path(files[i]));
  rmdir(key_dir);
  return 0;
}

static void test_asymmetric_needs_key_files(void **state) {
  (void)state;
  env_set("FORUMNET_JWT_ALG", "RS256");
  assert_invalid_naming(load(0, 1), "FORUMNET_JWT_PRIVATE_KEY_FILE");
  env_set("FORUMNET_JWT_PRIVATE_KEY_FILE", key_path("ec.pem"));
  assert_invalid_naming(load(0, 1), "FORUMNET_JWT_PUBLIC_KEY_FILE");
  /* A secret does not stand in for key files. */
  env_reset();
  env_set("FORUMNET_JWT_ALG", "ES256");
  env_set("FORUMNET_JWT_SECRET", SECRET_32);
  assert_invalid_naming(load(0, 1), "FORUMNET_JWT_PRIVATE_KEY_FILE");
}

static void test_key_file_unreadable_or_empty(void **state) {
  (void)state;
  env_set("FORUMNET_JWT_ALG", "ES256");
  env_set("FORUMNET_JWT_PRIVATE_KEY_FILE", key_path("does-not-exist.pem"));
  env_set("FORUMNET_JWT_PUBLIC_KEY_FILE", key_path("ec.pub"));
  assert_invalid_naming(load(0, 1), "FORUMNET_JWT_PRIVATE_KEY_FILE");
  env_set("FORUMNET_JWT_PRIVATE_KEY_FILE", key_path("ec.pem"));
  env_set("FORUMNET_JWT_PUBLIC_KEY_FILE", key_path("empty"));
  assert_invalid_naming(load(0, 1), "FORUMNET_JWT_PUBLIC_KEY_FILE");
}

static void test_es256_key_files_load(void **state) {
  (void)state;
  env_set("FORUMNET_JWT_ALG", "ES256");
  env_set("FORUMNET_JWT_PRIVATE_KEY_FILE", key_path("ec.pem"));
  env_set("FORUMNET_JWT_PUBLIC_KEY_FILE", key_path("ec.pub"));
  assert_int_equal(load(0, 1), FN_OK);
  assert_int_equal(cfg.jwt_alg, JWT_ALGORITHM_ES256);
  assert_int_equal(cfg.jwt_secret_len, strlen(TEST_ONLY_EC_PRIVATE_KEY_PEM));
  assert_memory_equal(cfg.jwt_secret, TEST_ONLY_EC_PRIVATE_KEY_PEM, cfg.jwt_secret_len);
  assert_int_equal(cfg.jwt_public_key_len, strlen(TEST_ONLY_EC_PUBLIC_KEY_PEM));
  assert_memory_equal(cfg.jwt_public_key, TEST_ONLY_EC_PUBLIC_KEY_PEM, cfg.jwt_public_key_len);
}

/* A 2048-bit RSA private key in PEM is about 1.7 kB: it must fit in fn_config. */
static void test_rs256_key_files_load(void **state) {
  (void)state;
  env_set("FORUMNET_JWT_ALG", "RS256");
  env_set("FORUMNET_JWT_PRIVATE_KEY_FILE", key_path("rsa.pem"));
  env_set("FORUMNET_JWT_PUBLIC_KEY_FILE", key_path("rsa.pub"));
  fn_status st = load(0, 1);
  if (st != FN_OK)
    fail_msg("RS256 with a 2048-bit key refused: %s", err);
  assert_int_equal(cfg.jwt_alg, JWT_ALGORITHM_RS256);
  assert_int_equal(cfg.jwt_secret_len, strlen(TEST_ONLY_RSA_PRIVATE_KEY_PEM));
  assert_int_equal(cfg.jwt_public_key_len, strlen(TEST_ONLY_RSA_PUBLIC_KEY_PEM));
}

/* Verification-only instances (need_jwt = 0) may carry just the public key. */
static void test_public_key_only_when_not_needed(void **state) {
  (void)state;
  env_set("FORUMNET_JWT_ALG", "RS256");
  env_set("FORUMNET_JWT_PUBLIC_KEY_FILE", key_path("rsa.pub"));
  assert_int_equal(load(0, 0), FN_OK);
  assert_int_equal(cfg.jwt_secret_len, 0);
  assert_int_equal(cfg.jwt_public_key_len, strlen(TEST_ONLY_RSA_PUBLIC_KEY_PEM));
}

/* ---- trusted proxies ---- */

/* n entries "<before><i><after>," (i from 0) into list; returns the length written. */
static size_t numbered_list(char *list, size_t len, const char *before, const char *after, int n) {
  size_t off = 0;
  for (int i = 0; i < n; i++)
    off += (size_t)snprintf(list + off, len - off, "%s%d%s,", before, i, after);
  return off;
}

static void test_trusted_proxies_parsing(void **state) {
  (void)state;
  env_set("FORUMNET_TRUSTED_PROXIES", " 127.0.0.1/32, 10.0.0.0/8 ,::1/128,,2001:db8::/32,192.0.2.7");
  assert_int_equal(load(0, 0), FN_OK);
  assert_int_equal(cfg.trusted_proxy_count, 5);
  assert_int_equal(cfg.trusted_proxies[0].prefix, 32);
  assert_int_equal(cfg.trusted_proxies[1].prefix, 8);
  assert_int_equal(cfg.trusted_proxies[2].prefix, 128);
  assert_int_equal(cfg.trusted_proxies[3].prefix, 32);
  assert_int_equal(cfg.trusted_proxies[4].prefix, 32); /* a bare address is one host */
  cidr_block a;
  assert_true(cidr_parse_address("10.9.8.7", 8, &a));
  assert_true(cidr_list_covers(cfg.trusted_proxies, cfg.trusted_proxy_count, &a));
  assert_true(cidr_parse_address("11.0.0.1", 8, &a));
  assert_false(cidr_list_covers(cfg.trusted_proxies, cfg.trusted_proxy_count, &a));
}

static void test_trusted_proxies_bad_entries(void **state) {
  (void)state;
  const char *const bad[] = {"10.0.0.0/33", "proxy.example", "10.0.0.0/8,::1/129", "10.1.0.0/8", "127.0.0.1:8080", "*"};
  assert_each_rejected("FORUMNET_TRUSTED_PROXIES", bad, sizeof bad / sizeof bad[0], 0);
  assert_non_null(strstr(err, "invalid configuration: FORUMNET_TRUSTED_PROXIES has \"*\""));
  static char list[CONFIG_MAX_TRUSTED_PROXIES * 20 + 32];
  size_t off = numbered_list(list, sizeof list, "10.0.", ".0/24", CONFIG_MAX_TRUSTED_PROXIES);
  env_set("FORUMNET_TRUSTED_PROXIES", list);
  assert_int_equal(load(0, 0), FN_OK);
  assert_int_equal(cfg.trusted_proxy_count, CONFIG_MAX_TRUSTED_PROXIES);
  snprintf(list + off, sizeof list - off, "192.0.2.0/24");
  assert_invalid_naming(load(0, 0), "FORUMNET_TRUSTED_PROXIES");
}

/* ---- CORS ---- */

static void test_cors_origins_parsing(void **state) {
  (void)state;
  env_set("FORUMNET_CORS_ORIGINS", "https://a.example, https://b.example:8443 ,http://localhost:3000,,");
  assert_int_equal(load(0, 0), FN_OK);
  assert_int_equal(cfg.cors_origin_count, 3);
  assert_string_equal(cfg.cors_origins[0], "https://a.example");
  assert_string_equal(cfg.cors_origins[1], "https://b.example:8443");
  assert_string_equal(cfg.cors_origins[2], "http://localhost:3000");

  assert_true(config_origin_allowed(&cfg, "https://a.example"));
  assert_true(config_origin_allowed(&cfg, "https://b.example:8443"));
  assert_true(config_origin_allowed(&cfg, "http://localhost:3000"));
  /* Exact match only: no prefixes, suffixes, other schemes, ports or case folding games. */
  assert_false(config_origin_allowed(&cfg, "https://a.example.evil.test"));
  assert_false(config_origin_allowed(&cfg, "https://a.exampl"));
  assert_false(config_origin_allowed(&cfg, "http://a.example"));
  assert_false(config_origin_allowed(&cfg, "https://b.example"));
  assert_false(config_origin_allowed(&cfg, "https://evil.test"));
  assert_false(config_origin_allowed(&cfg, "null"));
  assert_false(config_origin_allowed(&cfg, ""));
  assert_false(config_origin_allowed(&cfg, NULL));
}

static void test_cors_none_configured(void **state) {
  (void)state;
  assert_int_equal(load(0, 0), FN_OK);
  assert_false(config_origin_allowed(&cfg, "https://a.example"));
  assert_false(config_origin_allowed(&cfg, NULL));
}

static void test_cors_wildcard(void **state) {
  (void)state;
  env_set("FORUMNET_CORS_ORIGINS", "*");
  assert_int_equal(load(0, 0), FN_OK);
  assert_int_equal(cfg.cors_origin_count, 1);
  assert_true(config_origin_allowed(&cfg, "https://anything.example"));
  assert_false(config_origin_allowed(&cfg, NULL));
}

static void test_cors_bad_entries(void **state) {
  (void)state;
  const char *const bad[] = {"ftp://a.example", "a.example", "https://ok.example,javascript:alert(1)", "*x"};
  assert_each_rejected("FORUMNET_CORS_ORIGINS", bad, sizeof bad / sizeof bad[0], 0);
}

static void test_cors_too_many_or_too_long(void **state) {
  (void)state;
  static char list[CONFIG_MAX_ORIGINS * 32 + 64];
  size_t off = numbered_list(list, sizeof list, "https://o", ".example", CONFIG_MAX_ORIGINS);
  env_set("FORUMNET_CORS_ORIGINS", list);
  assert_int_equal(load(0, 0), FN_OK);
  assert_int_equal(cfg.cors_origin_count, CONFIG_MAX_ORIGINS);
  assert_true(config_origin_allowed(&cfg, "https://o15.example"));

  snprintf(list + off, sizeof list - off, "https://one-too-many.example");
  assert_invalid_naming(load(0, 0), "FORUMNET_CORS_ORIGINS");

  static char long_origin[400];
  strcpy(long_origin, "https://");
  memset(long_origin + 8, 'a', 300);
  env_set("FORUMNET_CORS_ORIGINS", long_origin);
  assert_invalid_naming(load(0, 0), "FORUMNET_CORS_ORIGINS");
}

/* ---- error reporting ---- */

/* With several invalid settings, the first in reading order is named: database, listen, CORS, JWT, numbers. */
static void test_first_invalid_setting_is_named(void **state) {
  (void)state;
  env_set("FORUMNET_DB_POOL_SIZE", "0");
  env_set("FORUMNET_JWT_ALG", "none");
  env_set("FORUMNET_LISTEN", "nowhere");
  assert_invalid_naming(load(1, 0), "FORUMNET_DATABASE_URL");
  env_set("FORUMNET_DATABASE_URL", "postgresql:///forumnet");
  assert_invalid_naming(load(1, 0), "FORUMNET_LISTEN");
  env_set("FORUMNET_LISTEN", ":8080");
  assert_invalid_naming(load(1, 0), "FORUMNET_JWT_ALG");
  env_set("FORUMNET_JWT_ALG", "HS256");
  assert_invalid_naming(load(1, 1), "FORUMNET_JWT_SECRET");
  assert_invalid_naming(load(1, 0), "FORUMNET_DB_POOL_SIZE");
}

static void test_error_fits_small_buffer(void **state) {
  (void)state;
  char small[16];
  memset(small, 'Z', sizeof small);
  env_set("FORUMNET_DB_POOL_SIZE", "0");
  assert_int_equal(config_load(&cfg, fake_getenv, 0, 0, small, sizeof small), FN_INVALID);
  assert_true(memchr(small, '\0', sizeof small) != NULL);
}

/* FORUMNET_PUBLIC_BASE_URL: unset, the listen address; else an http(s) URL, trailing slashes dropped. */
static void test_public_base_url(void **state) {
  (void)state;
  assert_int_equal(load(0, 0), FN_OK);
  assert_string_equal(cfg.public_base_url, "http://127.0.0.1:8080");
  env_set("FORUMNET_LISTEN", "[::1]:9000");
  assert_int_equal(load(0, 0), FN_OK);
  assert_string_equal(cfg.public_base_url, "http://[::1]:9000");
  env_set("FORUMNET_PUBLIC_BASE_URL", "https://forum.example.org/api//");
  assert_int_equal(load(0, 0), FN_OK);
  assert_string_equal(cfg.public_base_url, "https://forum.example.org/api");
  env_set("FORUMNET_PUBLIC_BASE_URL", "http://localhost:8080");
  assert_int_equal(load(0, 0), FN_OK);
  assert_string_equal(cfg.public_base_url, "http://localhost:8080");
  char too_long[600];
  memset(too_long, 'a', sizeof too_long - 1);
  memcpy(too_long, "https://", 8);
  too_long[sizeof too_long - 1] = '\0';
  const char *const bad[] = {"forum.example.org",
                             "ftp://forum.example.org",
                             "https://",
                             "https:///",
                             "https://forum.example.org/?x=1",
                             "https://forum.example.org/#top",
                             "https://forum example.org",
                             "javascript:alert(1)",
                             too_long};
  assert_each_rejected("FORUMNET_PUBLIC_BASE_URL", bad, sizeof bad / sizeof bad[0], 0);
}

/* FORUMNET_WEBHOOK_KEY: 32 bytes as hex or base64 (either alphabet), nothing else. */
static void test_webhook_key(void **state) {
  (void)state;
  unsigned char want[32];
  for (int i = 0; i < 32; i++)
    want[i] = (unsigned char)(i * 7 + 1);
  env_set("FORUMNET_WEBHOOK_KEY", "01080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3da");
  assert_int_equal(load(0, 0), FN_OK);
  assert_int_equal(cfg.webhook_key_set, 1);
  assert_memory_equal(cfg.webhook_key, want, 32);
  env_set("FORUMNET_WEBHOOK_KEY", "AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM09o=");
  assert_int_equal(load(0, 0), FN_OK);
  assert_memory_equal(cfg.webhook_key, want, 32);
  env_set("FORUMNET_WEBHOOK_KEY", "AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM09o");
  assert_int_equal(load(0, 0), FN_OK);
  assert_memory_equal(cfg.webhook_key, want, 32);
  const char *const bad[] = {"short", "01080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3",
                             "AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM", "not base64 at all, not hex either!!!!!!!!!"};
  assert_each_rejected("FORUMNET_WEBHOOK_KEY", bad, sizeof bad / sizeof bad[0], 0);
}

/* Email: the reset link template (default from FORUMNET_PUBLIC_BASE_URL), the From address, SMTP or files. */
static void test_mail_settings(void **state) {
  (void)state;
  assert_int_equal(load(0, 0), FN_OK);
  assert_string_equal(cfg.password_reset_url, "http://127.0.0.1:8080/reset-password?token={token}");
  assert_string_equal(cfg.mail_from, "forumnet@localhost");
  assert_string_equal(cfg.smtp_url, "");
  assert_string_equal(cfg.smtp_user, "");
  assert_string_equal(cfg.smtp_password, "");
  assert_string_equal(cfg.mail_dir, ".data/mail");
  assert_string_equal(cfg.smtp_ca_file, "");
  env_set("FORUMNET_PUBLIC_BASE_URL", "https://forum.example.org/");
  assert_int_equal(load(0, 0), FN_OK);
  assert_string_equal(cfg.password_reset_url, "https://forum.example.org/reset-password?token={token}");
  env_set("FORUMNET_PASSWORD_RESET_URL", "https://app.example.org/#/reset/{token}");
  env_set("FORUMNET_MAIL_FROM", "no-reply@example.org");
  env_set("FORUMNET_SMTP_URL", "smtps://mail.example.org:465");
  env_set("FORUMNET_SMTP_USER", "forumnet");
  env_set("FORUMNET_SMTP_PASSWORD", "s3cret");
  env_set("FORUMNET_MAIL_DIR", "/var/spool/forumnet");
  env_set("FORUMNET_SMTP_CA_FILE", "/etc/forumnet/relay-ca.pem");
  assert_int_equal(load(0, 0), FN_OK);
  assert_string_equal(cfg.smtp_ca_file, "/etc/forumnet/relay-ca.pem");
  assert_string_equal(cfg.password_reset_url, "https://app.example.org/#/reset/{token}");
  assert_string_equal(cfg.mail_from, "no-reply@example.org");
  assert_string_equal(cfg.smtp_url, "smtps://mail.example.org:465");
  assert_string_equal(cfg.smtp_user, "forumnet");
  assert_string_equal(cfg.smtp_password, "s3cret");
  assert_string_equal(cfg.mail_dir, "/var/spool/forumnet");
  env_set("FORUMNET_SMTP_URL", "smtp://127.0.0.1:2525");
  assert_int_equal(load(0, 0), FN_OK);
  const char *const bad_urls[] = {"https://app.example.org/reset", "ftp://x/{token}", "https://x/{token} y",
                                  "/reset?token={token}"};
  assert_each_rejected("FORUMNET_PASSWORD_RESET_URL", bad_urls, sizeof bad_urls / sizeof bad_urls[0], 0);
  env_set("FORUMNET_PASSWORD_RESET_URL", "");
  const char *const bad_from[] = {"forumnet", "a@b@c", "a@b\r\nBcc: x@y", "@example.org", "Forum <a@b.org>"};
  assert_each_rejected("FORUMNET_MAIL_FROM", bad_from, sizeof bad_from / sizeof bad_from[0], 0);
  env_set("FORUMNET_MAIL_FROM", "");
  const char *const bad_smtp[] = {"http://mail.example.org", "mail.example.org:25", "smtp://a b"};
  assert_each_rejected("FORUMNET_SMTP_URL", bad_smtp, sizeof bad_smtp / sizeof bad_smtp[0], 0);
}

/* Single sign-on: no providers file and https issuers only by default; the file is read at start (oidc). */
static void test_oidc_settings(void **state) {
  (void)state;
  assert_int_equal(load(0, 0), FN_OK);
  assert_string_equal(cfg.oidc_providers_file, "");
  assert_int_equal(cfg.oidc_allow_http, 0);
  env_set("FORUMNET_OIDC_PROVIDERS_FILE", "/etc/forumnet/oidc.json");
  env_set("FORUMNET_OIDC_ALLOW_HTTP", "1");
  assert_int_equal(load(0, 0), FN_OK);
  assert_string_equal(cfg.oidc_providers_file, "/etc/forumnet/oidc.json");
  assert_int_equal(cfg.oidc_allow_http, 1);
  const char *const bad[] = {"2", "yes", "-1"};
  assert_each_rejected("FORUMNET_OIDC_ALLOW_HTTP", bad, sizeof bad / sizeof bad[0], 0);
}

#define T(f) cmocka_unit_test_setup(f, setup)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_defaults),
      T(test_empty_values_keep_defaults),
      T(test_database_url_required),
      T(test_database_url_too_long),
      T(test_read_database_url),
      T(test_db_pooler),
      T(test_database_direct_url),
      T(test_listen_host_port),
      T(test_listen_port_only_binds_all),
      T(test_listen_ipv6),
      T(test_listen_bad),
      T(test_listen_host_too_long),
      T(test_numbers_accept_bounds),
      T(test_numbers_reject_out_of_range),
      T(test_http_threads_follow_pool_size),
      T(test_jwt_secret_required_when_needed),
      T(test_jwt_secret_length),
      T(test_jwt_alg),
      T(test_jwt_names),
      T(test_jwt_previous_secret),
      T(test_jwt_previous_kid_must_differ),
      T(test_jwt_previous_secret_needs_kid),
      T(test_jwt_previous_secret_length),
      T(test_asymmetric_needs_key_files),
      T(test_key_file_unreadable_or_empty),
      T(test_es256_key_files_load),
      T(test_rs256_key_files_load),
      T(test_public_key_only_when_not_needed),
      T(test_trusted_proxies_parsing),
      T(test_trusted_proxies_bad_entries),
      T(test_cors_origins_parsing),
      T(test_cors_none_configured),
      T(test_cors_wildcard),
      T(test_cors_bad_entries),
      T(test_cors_too_many_or_too_long),
      T(test_first_invalid_setting_is_named),
      T(test_error_fits_small_buffer),
      T(test_public_base_url),
      T(test_webhook_key),
      T(test_mail_settings),
      T(test_oidc_settings),
  };
  return cmocka_run_group_tests_name("config", tests, group_setup, group_teardown);
}
