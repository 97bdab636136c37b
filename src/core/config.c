#include "forumnet/config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fn_status config_error(char *err, size_t err_len, const char *name, const char *why) {
  snprintf(err, err_len, "invalid configuration: %s %s", name, why);
  return FN_INVALID;
}

/* Parses an unsigned integer variable within [min, max]; unset keeps the default. */
static fn_status read_number(config_getenv_fn getenv_fn, const char *name, long min, long max, long *out, char *err,
                             size_t err_len) {
  const char *v = getenv_fn(name);
  if (v == NULL || *v == '\0')
    return FN_OK;
  char *end = NULL;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno != 0 || end == v || *end != '\0' || n < min || n > max) {
    char why[128];
    snprintf(why, sizeof why, "must be a whole number from %ld to %ld", min, max);
    return config_error(err, err_len, name, why);
  }
  *out = n;
  return FN_OK;
}

static fn_status read_string(config_getenv_fn getenv_fn, const char *name, char *out, size_t out_len, char *err,
                             size_t err_len) {
  const char *v = getenv_fn(name);
  if (v == NULL || *v == '\0')
    return FN_OK;
  if (strlen(v) >= out_len)
    return config_error(err, err_len, name, "is too long");
  memcpy(out, v, strlen(v) + 1);
  return FN_OK;
}

static fn_status read_file(const char *name, const char *path, unsigned char *out, size_t out_len, size_t *len,
                           char *err, size_t err_len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return config_error(err, err_len, name, "names a file that cannot be read");
  size_t n = fread(out, 1, out_len - 1, f);
  int too_big = !feof(f) && fgetc(f) != EOF;
  fclose(f);
  if (too_big || n == 0)
    return config_error(err, err_len, name, "names an empty or oversized key file");
  out[n] = '\0';
  *len = n;
  return FN_OK;
}

/* "host:port", "[v6]:port" or ":port". */
static fn_status parse_listen(const char *v, fn_config *cfg, char *err, size_t err_len) {
  const char *colon = strrchr(v, ':');
  if (colon == NULL)
    return config_error(err, err_len, "FORUMNET_LISTEN", "must look like 127.0.0.1:8080");
  size_t host_len = (size_t)(colon - v);
  const char *host = v;
  if (host_len >= 2 && v[0] == '[' && colon[-1] == ']') {
    host++;
    host_len -= 2;
  }
  if (host_len >= sizeof cfg->listen_host)
    return config_error(err, err_len, "FORUMNET_LISTEN", "has too long a host");
  char *end = NULL;
  long port = strtol(colon + 1, &end, 10);
  if (end == colon + 1 || *end != '\0' || port < 1 || port > 65535)
    return config_error(err, err_len, "FORUMNET_LISTEN", "needs a port from 1 to 65535");
  memcpy(cfg->listen_host, host, host_len);
  cfg->listen_host[host_len] = '\0';
  if (cfg->listen_host[0] == '\0')
    strcpy(cfg->listen_host, "0.0.0.0");
  cfg->listen_port = (unsigned)port;
  return FN_OK;
}

static fn_status parse_origins(const char *v, fn_config *cfg, char *err, size_t err_len) {
  cfg->cors_origin_count = 0;
  const char *p = v;
  while (*p) {
    while (*p == ' ' || *p == ',')
      p++;
    if (!*p)
      break;
    const char *start = p;
    while (*p && *p != ',' && *p != ' ')
      p++;
    size_t len = (size_t)(p - start);
    if (cfg->cors_origin_count >= CONFIG_MAX_ORIGINS || len >= sizeof cfg->cors_origins[0])
      return config_error(err, err_len, "FORUMNET_CORS_ORIGINS", "lists too many or too long origins");
    if (!(len == 1 && *start == '*') && strncmp(start, "http://", 7) != 0 && strncmp(start, "https://", 8) != 0)
      return config_error(err, err_len, "FORUMNET_CORS_ORIGINS", "entries must start with http:// or https://");
    memcpy(cfg->cors_origins[cfg->cors_origin_count], start, len);
    cfg->cors_origins[cfg->cors_origin_count][len] = '\0';
    cfg->cors_origin_count++;
  }
  return FN_OK;
}

static fn_status load_jwt(fn_config *cfg, config_getenv_fn getenv_fn, int need_jwt, char *err, size_t err_len) {
  const char *alg = getenv_fn("FORUMNET_JWT_ALG");
  if (alg == NULL || *alg == '\0' || strcmp(alg, "HS256") == 0)
    cfg->jwt_alg = JWT_ALGORITHM_HS256;
  else if (strcmp(alg, "RS256") == 0)
    cfg->jwt_alg = JWT_ALGORITHM_RS256;
  else if (strcmp(alg, "ES256") == 0)
    cfg->jwt_alg = JWT_ALGORITHM_ES256;
  else
    return config_error(err, err_len, "FORUMNET_JWT_ALG", "must be HS256, RS256 or ES256");

  fn_status st;
  if ((st = read_string(getenv_fn, "FORUMNET_JWT_KID", cfg->jwt_kid, sizeof cfg->jwt_kid, err, err_len)) != FN_OK ||
      (st = read_string(getenv_fn, "FORUMNET_JWT_PREVIOUS_KID", cfg->jwt_previous_kid, sizeof cfg->jwt_previous_kid,
                        err, err_len)) != FN_OK ||
      (st = read_string(getenv_fn, "FORUMNET_JWT_ISSUER", cfg->jwt_issuer, sizeof cfg->jwt_issuer, err, err_len)) !=
          FN_OK ||
      (st = read_string(getenv_fn, "FORUMNET_JWT_AUDIENCE", cfg->jwt_audience, sizeof cfg->jwt_audience, err,
                        err_len)) != FN_OK)
    return st;

  if (cfg->jwt_alg == JWT_ALGORITHM_HS256) {
    const char *secret = getenv_fn("FORUMNET_JWT_SECRET");
    if (secret == NULL || *secret == '\0') {
      if (need_jwt)
        return config_error(err, err_len, "FORUMNET_JWT_SECRET", "is required (at least 32 bytes)");
    } else {
      size_t len = strlen(secret);
      if (len < 32 || len > 255)
        return config_error(err, err_len, "FORUMNET_JWT_SECRET", "must be 32 to 255 bytes long");
      memcpy(cfg->jwt_secret, secret, len);
      cfg->jwt_secret_len = len;
    }
    const char *prev = getenv_fn("FORUMNET_JWT_PREVIOUS_SECRET");
    if (prev != NULL && *prev != '\0') {
      size_t len = strlen(prev);
      if (len < 32 || len >= sizeof cfg->jwt_previous_secret)
        return config_error(err, err_len, "FORUMNET_JWT_PREVIOUS_SECRET", "must be 32 to 255 bytes long");
      if (cfg->jwt_previous_kid[0] == '\0' || strcmp(cfg->jwt_previous_kid, cfg->jwt_kid) == 0)
        return config_error(err, err_len, "FORUMNET_JWT_PREVIOUS_KID", "must be set and differ from FORUMNET_JWT_KID");
      memcpy(cfg->jwt_previous_secret, prev, len);
      cfg->jwt_previous_secret_len = len;
    }
  } else {
    const char *priv = getenv_fn("FORUMNET_JWT_PRIVATE_KEY_FILE");
    const char *pub = getenv_fn("FORUMNET_JWT_PUBLIC_KEY_FILE");
    if (need_jwt && (priv == NULL || *priv == '\0'))
      return config_error(err, err_len, "FORUMNET_JWT_PRIVATE_KEY_FILE", "is required for RS256/ES256");
    if (need_jwt && (pub == NULL || *pub == '\0'))
      return config_error(err, err_len, "FORUMNET_JWT_PUBLIC_KEY_FILE", "is required for RS256/ES256");
    if (priv && *priv &&
        (st = read_file("FORUMNET_JWT_PRIVATE_KEY_FILE", priv, cfg->jwt_secret, sizeof cfg->jwt_secret,
                        &cfg->jwt_secret_len, err, err_len)) != FN_OK)
      return st;
    if (pub && *pub &&
        (st = read_file("FORUMNET_JWT_PUBLIC_KEY_FILE", pub, cfg->jwt_public_key, sizeof cfg->jwt_public_key,
                        &cfg->jwt_public_key_len, err, err_len)) != FN_OK)
      return st;
  }
  return FN_OK;
}

fn_status config_load(fn_config *cfg, config_getenv_fn getenv_fn, int need_database, int need_jwt, char *err,
                      size_t err_len) {
  memset(cfg, 0, sizeof *cfg);
  strcpy(cfg->listen_host, "127.0.0.1");
  cfg->listen_port = 8080;
  strcpy(cfg->jwt_kid, "k1");
  strcpy(cfg->jwt_issuer, "forumnet");
  strcpy(cfg->jwt_audience, "forumnet-api");
  cfg->access_token_ttl = 900;
  cfg->refresh_token_ttl = 30L * 24 * 3600;
  cfg->max_body_bytes = 1024 * 1024;
  cfg->max_connections = 256;
  cfg->connection_timeout = 30;
  cfg->db_pool_size = 8;
  cfg->db_acquire_timeout_ms = 2000;
  cfg->statement_timeout_ms = 5000;
  cfg->db_connect_timeout_s = 3;
  cfg->login_max_failures_per_email = 5;
  cfg->login_max_failures_per_address = 50;
  cfg->login_window_seconds = 900;
  cfg->log_requests = 1;

  fn_status st;
  if ((st = read_string(getenv_fn, "FORUMNET_DATABASE_URL", cfg->database_url, sizeof cfg->database_url, err,
                        err_len)) != FN_OK)
    return st;
  if (need_database && cfg->database_url[0] == '\0')
    return config_error(err, err_len, "FORUMNET_DATABASE_URL", "is required (e.g. postgresql:///forumnet)");

  snprintf(cfg->docs_js_path, sizeof cfg->docs_js_path, "%s", "/usr/share/forumnet/redoc.standalone.js");
  if ((st = read_string(getenv_fn, "FORUMNET_DOCS_JS", cfg->docs_js_path, sizeof cfg->docs_js_path, err, err_len)) !=
      FN_OK)
    return st;
  const char *listen = getenv_fn("FORUMNET_LISTEN");
  if (listen && *listen && (st = parse_listen(listen, cfg, err, err_len)) != FN_OK)
    return st;
  const char *origins = getenv_fn("FORUMNET_CORS_ORIGINS");
  if (origins && *origins && (st = parse_origins(origins, cfg, err, err_len)) != FN_OK)
    return st;
  if ((st = load_jwt(cfg, getenv_fn, need_jwt, err, err_len)) != FN_OK)
    return st;

  struct {
    const char *name;
    long min, max;
    long value;
  } numbers[] = {
      {"FORUMNET_ACCESS_TOKEN_TTL", 60, 86400, cfg->access_token_ttl},
      {"FORUMNET_REFRESH_TOKEN_TTL", 300, 365L * 86400, cfg->refresh_token_ttl},
      {"FORUMNET_MAX_BODY_BYTES", 1024, 64L * 1024 * 1024, (long)cfg->max_body_bytes},
      {"FORUMNET_MAX_CONNECTIONS", 1, 10000, cfg->max_connections},
      {"FORUMNET_CONNECTION_TIMEOUT", 1, 3600, cfg->connection_timeout},
      {"FORUMNET_DB_POOL_SIZE", 1, 256, cfg->db_pool_size},
      {"FORUMNET_DB_ACQUIRE_TIMEOUT_MS", 1, 60000, cfg->db_acquire_timeout_ms},
      {"FORUMNET_STATEMENT_TIMEOUT_MS", 1, 600000, cfg->statement_timeout_ms},
      {"FORUMNET_DB_CONNECT_TIMEOUT", 2, 60, cfg->db_connect_timeout_s},
      {"FORUMNET_LOGIN_MAX_FAILURES", 1, 1000000, cfg->login_max_failures_per_email},
      {"FORUMNET_LOGIN_MAX_FAILURES_PER_ADDRESS", 1, 1000000, cfg->login_max_failures_per_address},
      {"FORUMNET_LOGIN_WINDOW_SECONDS", 1, 86400, cfg->login_window_seconds},
      {"FORUMNET_AUTO_MIGRATE", 0, 1, 0},
      {"FORUMNET_LOG_REQUESTS", 0, 1, 1},
      {"FORUMNET_HTTP_THREADS", 0, 1024, -1}, /* unset: as many workers as DB connections */
      {"FORUMNET_SUPPRESSION_THRESHOLD", 1, 100, 3},
  };
  for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++)
    if ((st = read_number(getenv_fn, numbers[i].name, numbers[i].min, numbers[i].max, &numbers[i].value, err,
                          err_len)) != FN_OK)
      return st;
  cfg->access_token_ttl = numbers[0].value;
  cfg->refresh_token_ttl = numbers[1].value;
  cfg->max_body_bytes = (size_t)numbers[2].value;
  cfg->max_connections = (unsigned)numbers[3].value;
  cfg->connection_timeout = (unsigned)numbers[4].value;
  cfg->db_pool_size = (unsigned)numbers[5].value;
  cfg->db_acquire_timeout_ms = (unsigned)numbers[6].value;
  cfg->statement_timeout_ms = (unsigned)numbers[7].value;
  cfg->db_connect_timeout_s = (unsigned)numbers[8].value;
  cfg->login_max_failures_per_email = (unsigned)numbers[9].value;
  cfg->login_max_failures_per_address = (unsigned)numbers[10].value;
  cfg->login_window_seconds = (unsigned)numbers[11].value;
  cfg->auto_migrate = (int)numbers[12].value;
  cfg->log_requests = (int)numbers[13].value;
  cfg->suppression_threshold = (unsigned)numbers[15].value;
  cfg->http_threads = numbers[14].value < 0 ? cfg->db_pool_size : (unsigned)numbers[14].value;
  return FN_OK;
}

int config_origin_allowed(const fn_config *cfg, const char *origin) {
  if (origin == NULL)
    return 0;
  for (int i = 0; i < cfg->cors_origin_count; i++)
    if (strcmp(cfg->cors_origins[i], "*") == 0 || strcmp(cfg->cors_origins[i], origin) == 0)
      return 1;
  return 0;
}
