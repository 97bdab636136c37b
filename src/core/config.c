#include "forumnet/config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* One load in progress: what config_load was given. */
typedef struct cf_load {
  fn_config *cfg;
  config_getenv_fn getenv_fn;
  int need_database, need_jwt;
  char *err;
  size_t err_len;
} cf_load;

/* Reads a setting that is more than a number or a text: value is the variable's, or the row's default
 * when it is unset or empty. */
typedef fn_status (*cf_parse_fn)(cf_load *load, const char *name, const char *value);

/* How a row's value lands in its fn_config field. */
typedef enum cf_kind {
  CF_KIND_TEXT,
  CF_KIND_LONG,
  CF_KIND_UNSIGNED,
  CF_KIND_SIZE,
  CF_KIND_INT,
  CF_KIND_CHOICE,
  CF_KIND_PARSED
} cf_kind;

/* One name a CF_CHOICE setting accepts, and the value its (int-sized enum) field takes for it. */
typedef struct cf_choice {
  const char *name;
  int value;
} cf_choice;

/* One setting: its environment variable, its field and how to read it. */
typedef struct cf_setting {
  const char *name; /* NULL: a step that reads several variables together */
  cf_kind kind;
  size_t offset, size;      /* the field (text: its buffer) */
  long def, min, max;       /* numbers: the default and the inclusive bounds */
  const char *text;         /* text, parsed: the default */
  const char *required;     /* text: why, when it is missing and the command needs the database */
  cf_parse_fn parse;        /* parsed */
  const cf_choice *choices; /* choice: ended by {NULL} */
} cf_setting;

#define CF_FIELD(field) .offset = offsetof(fn_config, field), .size = sizeof(((fn_config *)0)->field)
/* The field's C type picks how a number is stored (a field of another type does not compile). */
// clang-format off
#define CF_KIND_OF(field) \
  _Generic(((fn_config *)0)->field, long: CF_KIND_LONG, unsigned: CF_KIND_UNSIGNED, size_t: CF_KIND_SIZE, int: CF_KIND_INT)
// clang-format on
/* A whole number from min to max (an integer field). */
#define CF_NUMBER(env, field, default_, min_, max_)                                                                    \
  { .name = (env), .kind = CF_KIND_OF(field), CF_FIELD(field), .def = (default_), .min = (min_), .max = (max_) }
/* A text that fits its char[] field. */
#define CF_TEXT(env, field, default_)                                                                                  \
  { .name = (env), .kind = CF_KIND_TEXT, CF_FIELD(field), .text = (default_) }
#define CF_TEXT_REQUIRED(env, field, why)                                                                              \
  { .name = (env), .kind = CF_KIND_TEXT, CF_FIELD(field), .text = "", .required = (why) }
/* One of a few names (choices_, ended by {NULL}); the field, an enum, takes the value beside it. */
#define CF_CHOICE(env, field, default_, choices_)                                                                      \
  { .name = (env), .kind = CF_KIND_CHOICE, CF_FIELD(field), .text = (default_), .choices = (choices_) }
/* Anything else: parse(value) sets the fields itself. */
#define CF_PARSED(env, parse_, default_)                                                                               \
  { .name = (env), .kind = CF_KIND_PARSED, .text = (default_), .parse = (parse_) }

/* FORUMNET_HTTP_THREADS unset: as many workers as database connections (set once the pool size is known). */
#define HTTP_THREADS_AS_POOL -1

static fn_status config_error(cf_load *load, const char *name, const char *why) {
  snprintf(load->err, load->err_len, "invalid configuration: %s %s", name, why);
  return FN_INVALID;
}

static const char *env_value(cf_load *load, const char *name) {
  const char *v = load->getenv_fn(name);
  return v != NULL && *v != '\0' ? v : NULL;
}

static fn_status read_file(cf_load *load, const char *name, const char *path, unsigned char *out, size_t out_len,
                           size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return config_error(load, name, "names a file that cannot be read");
  size_t n = fread(out, 1, out_len - 1, f);
  int too_big = !feof(f) && fgetc(f) != EOF;
  fclose(f);
  if (too_big || n == 0)
    return config_error(load, name, "names an empty or oversized key file");
  out[n] = '\0';
  *len = n;
  return FN_OK;
}

/* "host:port", "[v6]:port" or ":port". */
static fn_status parse_listen(cf_load *load, const char *name, const char *v) {
  fn_config *cfg = load->cfg;
  const char *colon = strrchr(v, ':');
  if (colon == NULL)
    return config_error(load, name, "must look like 127.0.0.1:8080");
  size_t host_len = (size_t)(colon - v);
  const char *host = v;
  if (host_len >= 2 && v[0] == '[' && colon[-1] == ']') {
    host++;
    host_len -= 2;
  }
  if (host_len >= sizeof cfg->listen_host)
    return config_error(load, name, "has too long a host");
  char *end = NULL;
  long port = strtol(colon + 1, &end, 10);
  if (end == colon + 1 || *end != '\0' || port < 1 || port > 65535)
    return config_error(load, name, "needs a port from 1 to 65535");
  memcpy(cfg->listen_host, host, host_len);
  cfg->listen_host[host_len] = '\0';
  if (cfg->listen_host[0] == '\0')
    strcpy(cfg->listen_host, "0.0.0.0");
  cfg->listen_port = (unsigned)port;
  return FN_OK;
}

static fn_status parse_origins(cf_load *load, const char *name, const char *v) {
  fn_config *cfg = load->cfg;
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
      return config_error(load, name, "lists too many or too long origins");
    if (!(len == 1 && *start == '*') && strncmp(start, "http://", 7) != 0 && strncmp(start, "https://", 8) != 0)
      return config_error(load, name, "entries must start with http:// or https://");
    memcpy(cfg->cors_origins[cfg->cors_origin_count], start, len);
    cfg->cors_origins[cfg->cors_origin_count][len] = '\0';
    cfg->cors_origin_count++;
  }
  return FN_OK;
}

/* Comma-separated CIDR blocks (a bare address is one host); blanks around entries are ignored. */
static fn_status parse_trusted_proxies(cf_load *load, const char *name, const char *v) {
  fn_config *cfg = load->cfg;
  cfg->trusted_proxy_count = 0;
  for (const char *p = v; *p;) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    const char *start = p;
    while (*p && *p != ',' && *p != ' ' && *p != '\t')
      p++;
    if (p == start)
      break;
    if (cfg->trusted_proxy_count >= CONFIG_MAX_TRUSTED_PROXIES)
      return config_error(load, name, "lists more than 32 blocks");
    if (!cidr_parse_block(start, (size_t)(p - start), &cfg->trusted_proxies[cfg->trusted_proxy_count])) {
      char why[160];
      snprintf(why, sizeof why, "has \"%.*s\", not a CIDR block such as 10.0.0.0/8 or 2001:db8::/32",
               (int)(p - start) > 48 ? 48 : (int)(p - start), start);
      return config_error(load, name, why);
    }
    cfg->trusted_proxy_count++;
  }
  return FN_OK;
}

static const cf_choice jwt_algs[] = {
    {"HS256", JWT_ALGORITHM_HS256}, {"RS256", JWT_ALGORITHM_RS256}, {"ES256", JWT_ALGORITHM_ES256}, {NULL, 0}};
static const cf_choice poolers[] = {{"session", DB_POOLER_SESSION}, {"transaction", DB_POOLER_TRANSACTION}, {NULL, 0}};
_Static_assert(sizeof(jwt_algorithm) == sizeof(int) && sizeof(db_pooler) == sizeof(int), "CF_CHOICE stores an int");

/* FORUMNET_WEBHOOK_KEY: 32 bytes, as 64 hex digits or base64 (either alphabet, padded or not); unset: the
 * webhook secrets' key is derived from the JWT key (src/core/webhook_crypto.c). */
static fn_status parse_webhook_key(cf_load *load, const char *name, const char *v) {
  fn_config *cfg = load->cfg;
  size_t len = 0;
  cfg->webhook_key_set = 0;
  if (*v == '\0')
    return FN_OK;
  int ok = strlen(v) == 64 && sodium_hex2bin(cfg->webhook_key, sizeof cfg->webhook_key, v, 64, NULL, &len, NULL) == 0;
  for (int variant = 0; !ok && variant < 4; variant++) {
    static const int variants[] = {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
                                   sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
    ok = sodium_base642bin(cfg->webhook_key, sizeof cfg->webhook_key, v, strlen(v), NULL, &len, NULL,
                           variants[variant]) == 0;
  }
  if (!ok || len != sizeof cfg->webhook_key)
    return config_error(load, name, "must be 32 bytes, as 64 hex digits or base64");
  cfg->webhook_key_set = 1;
  return FN_OK;
}

/* An http(s) URL without query or fragment; trailing slashes are dropped. Empty: http://<FORUMNET_LISTEN>
 * (read before it). */
static fn_status parse_public_base_url(cf_load *load, const char *name, const char *v) {
  fn_config *cfg = load->cfg;
  size_t len = strlen(v);
  if (len == 0) {
    snprintf(cfg->public_base_url, sizeof cfg->public_base_url,
             strchr(cfg->listen_host, ':') ? "http://[%s]:%u" : "http://%s:%u", cfg->listen_host, cfg->listen_port);
    return FN_OK;
  }
  while (len > 0 && v[len - 1] == '/')
    len--;
  size_t scheme = strncmp(v, "https://", 8) == 0 ? 8 : strncmp(v, "http://", 7) == 0 ? 7 : 0;
  if (scheme == 0 || len <= scheme || strcspn(v, "?# \t\r\n") < len)
    return config_error(load, name, "must be an http:// or https:// URL without query or fragment");
  if (len >= sizeof cfg->public_base_url)
    return config_error(load, name, "is too long");
  memcpy(cfg->public_base_url, v, len);
  cfg->public_base_url[len] = '\0';
  return FN_OK;
}

/* Copies v into a field of size bytes, or reports it too long. */
static fn_status copy_setting(cf_load *load, const char *name, const char *v, char *field, size_t size) {
  size_t len = strlen(v);
  if (len >= size)
    return config_error(load, name, "is too long");
  memcpy(field, v, len + 1);
  return FN_OK;
}

/* An http(s) URL template holding {token}; empty: <FORUMNET_PUBLIC_BASE_URL>/reset-password?token={token}
 * (read before it). */
static fn_status parse_password_reset_url(cf_load *load, const char *name, const char *v) {
  fn_config *cfg = load->cfg;
  if (*v == '\0') {
    snprintf(cfg->password_reset_url, sizeof cfg->password_reset_url, "%.500s/reset-password?token={token}",
             cfg->public_base_url);
    return FN_OK;
  }
  if ((strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0) || strstr(v, "{token}") == NULL ||
      strpbrk(v, " \t\r\n") != NULL)
    return config_error(load, name, "must be an http:// or https:// URL containing {token}");
  return copy_setting(load, name, v, cfg->password_reset_url, sizeof cfg->password_reset_url);
}

/* An address (one @, no spaces or line breaks: it is a header value). */
static fn_status parse_mail_from(cf_load *load, const char *name, const char *v) {
  const char *at = strchr(v, '@');
  if (at == NULL || at == v || at[1] == '\0' || strchr(at + 1, '@') != NULL || strpbrk(v, " \t\r\n<>") != NULL)
    return config_error(load, name, "must be an email address (e.g. forumnet@example.org)");
  return copy_setting(load, name, v, load->cfg->mail_from, sizeof load->cfg->mail_from);
}

/* "" (write .eml files) or an smtp:// or smtps:// URL. */
static fn_status parse_smtp_url(cf_load *load, const char *name, const char *v) {
  if (*v != '\0' && strncmp(v, "smtp://", 7) != 0 && strncmp(v, "smtps://", 8) != 0)
    return config_error(load, name, "must be an smtp:// or smtps:// URL");
  if (strpbrk(v, " \t\r\n") != NULL)
    return config_error(load, name, "must not contain spaces or line breaks");
  return copy_setting(load, name, v, load->cfg->smtp_url, sizeof load->cfg->smtp_url);
}

/* HS256: the shared secret, and a previous one still accepted under its own kid. */
static fn_status load_hs256_secrets(cf_load *load) {
  fn_config *cfg = load->cfg;
  const char *secret = env_value(load, "FORUMNET_JWT_SECRET");
  if (secret == NULL) {
    if (load->need_jwt)
      return config_error(load, "FORUMNET_JWT_SECRET", "is required (at least 32 bytes)");
  } else {
    size_t len = strlen(secret);
    if (len < 32 || len > 255)
      return config_error(load, "FORUMNET_JWT_SECRET", "must be 32 to 255 bytes long");
    memcpy(cfg->jwt_secret, secret, len);
    cfg->jwt_secret_len = len;
  }
  const char *prev = env_value(load, "FORUMNET_JWT_PREVIOUS_SECRET");
  if (prev != NULL) {
    size_t len = strlen(prev);
    if (len < 32 || len >= sizeof cfg->jwt_previous_secret)
      return config_error(load, "FORUMNET_JWT_PREVIOUS_SECRET", "must be 32 to 255 bytes long");
    if (cfg->jwt_previous_kid[0] == '\0' || strcmp(cfg->jwt_previous_kid, cfg->jwt_kid) == 0)
      return config_error(load, "FORUMNET_JWT_PREVIOUS_KID", "must be set and differ from FORUMNET_JWT_KID");
    memcpy(cfg->jwt_previous_secret, prev, len);
    cfg->jwt_previous_secret_len = len;
  }
  return FN_OK;
}

/* The key material, whose variables depend on FORUMNET_JWT_ALG and on whether the command signs tokens:
 * FORUMNET_JWT_SECRET (and _PREVIOUS_SECRET) for HS256, FORUMNET_JWT_PRIVATE_KEY_FILE and
 * FORUMNET_JWT_PUBLIC_KEY_FILE (PEM) for RS256/ES256. */
static fn_status load_jwt_keys(cf_load *load, const char *name, const char *value) {
  (void)name;
  (void)value;
  fn_config *cfg = load->cfg;
  if (cfg->jwt_alg == JWT_ALGORITHM_HS256)
    return load_hs256_secrets(load);
  const char *priv = env_value(load, "FORUMNET_JWT_PRIVATE_KEY_FILE");
  const char *pub = env_value(load, "FORUMNET_JWT_PUBLIC_KEY_FILE");
  if (load->need_jwt && priv == NULL)
    return config_error(load, "FORUMNET_JWT_PRIVATE_KEY_FILE", "is required for RS256/ES256");
  if (load->need_jwt && pub == NULL)
    return config_error(load, "FORUMNET_JWT_PUBLIC_KEY_FILE", "is required for RS256/ES256");
  fn_status st;
  if (priv && (st = read_file(load, "FORUMNET_JWT_PRIVATE_KEY_FILE", priv, cfg->jwt_secret, sizeof cfg->jwt_secret,
                              &cfg->jwt_secret_len)) != FN_OK)
    return st;
  if (pub && (st = read_file(load, "FORUMNET_JWT_PUBLIC_KEY_FILE", pub, cfg->jwt_public_key, sizeof cfg->jwt_public_key,
                             &cfg->jwt_public_key_len)) != FN_OK)
    return st;
  return FN_OK;
}

/* Every setting, read in this order (the first invalid one is reported). A new setting is one row here
 * and its line in README "Configuration". */
static const cf_setting settings[] = {
    CF_TEXT_REQUIRED("FORUMNET_DATABASE_URL", database_url, "is required (e.g. postgresql:///forumnet)"),
    CF_TEXT("FORUMNET_DOCS_JS", docs_js_path, "/usr/share/forumnet/redoc.standalone.js"),
    CF_PARSED("FORUMNET_LISTEN", parse_listen, "127.0.0.1:8080"),
    CF_PARSED("FORUMNET_CORS_ORIGINS", parse_origins, ""),
    CF_CHOICE("FORUMNET_JWT_ALG", jwt_alg, "HS256", jwt_algs),
    CF_TEXT("FORUMNET_JWT_KID", jwt_kid, "k1"),
    CF_TEXT("FORUMNET_JWT_PREVIOUS_KID", jwt_previous_kid, ""),
    CF_TEXT("FORUMNET_JWT_ISSUER", jwt_issuer, "forumnet"),
    CF_TEXT("FORUMNET_JWT_AUDIENCE", jwt_audience, "forumnet-api"),
    CF_PARSED(NULL, load_jwt_keys, NULL),
    CF_NUMBER("FORUMNET_ACCESS_TOKEN_TTL", access_token_ttl, 900, 60, 86400),
    CF_NUMBER("FORUMNET_REFRESH_TOKEN_TTL", refresh_token_ttl, 30L * 86400, 300, 365L * 86400),
    CF_NUMBER("FORUMNET_MAX_BODY_BYTES", max_body_bytes, 1024L * 1024, 1024, 64L * 1024 * 1024),
    CF_NUMBER("FORUMNET_MAX_CONNECTIONS", max_connections, 256, 1, 65536),
    CF_NUMBER("FORUMNET_CONNECTION_TIMEOUT", connection_timeout, 30, 1, 3600),
    CF_NUMBER("FORUMNET_DB_POOL_SIZE", db_pool_size, 8, 1, 256),
    CF_NUMBER("FORUMNET_DB_ACQUIRE_TIMEOUT_MS", db_acquire_timeout_ms, 2000, 1, 60000),
    CF_NUMBER("FORUMNET_STATEMENT_TIMEOUT_MS", statement_timeout_ms, 5000, 1, 600000),
    CF_NUMBER("FORUMNET_DB_CONNECT_TIMEOUT", db_connect_timeout_s, 3, 2, 60),
    CF_NUMBER("FORUMNET_LOGIN_MAX_FAILURES", login_max_failures_per_email, 5, 1, 1000000),
    CF_NUMBER("FORUMNET_LOGIN_MAX_FAILURES_PER_ADDRESS", login_max_failures_per_address, 50, 1, 1000000),
    CF_NUMBER("FORUMNET_LOGIN_WINDOW_SECONDS", login_window_seconds, 900, 1, 86400),
    CF_NUMBER("FORUMNET_AUTO_MIGRATE", auto_migrate, 0, 0, 1),
    CF_NUMBER("FORUMNET_LOG_REQUESTS", log_requests, 1, 0, 1),
    CF_NUMBER("FORUMNET_HTTP_THREADS", http_threads, HTTP_THREADS_AS_POOL, 0, 1024),
    CF_NUMBER("FORUMNET_SUPPRESSION_THRESHOLD", suppression_threshold, 3, 1, 100),
    CF_TEXT("FORUMNET_DATABASE_READ_URL", read_database_url, ""),
    CF_NUMBER("FORUMNET_DB_READ_POOL_SIZE", db_read_pool_size, 4, 1, 256),
    CF_PARSED("FORUMNET_TRUSTED_PROXIES", parse_trusted_proxies, ""),
    CF_CHOICE("FORUMNET_DB_POOLER", db_pooler, "session", poolers),
    CF_TEXT("FORUMNET_DATABASE_DIRECT_URL", database_direct_url, ""),
    CF_NUMBER("FORUMNET_DRAIN_MS", drain_ms, 0, 0, 600000),
    CF_NUMBER("FORUMNET_DB_RECONNECT_BACKOFF_MS", db_reconnect_backoff_ms, 250, 0, 60000),
    CF_NUMBER("FORUMNET_STREAM_HEARTBEAT_MS", stream_heartbeat_ms, 25000, 100, 600000),
    CF_PARSED("FORUMNET_PUBLIC_BASE_URL", parse_public_base_url, ""),
    CF_NUMBER("FORUMNET_JOBS", jobs, 1, 0, 1),
    CF_NUMBER("FORUMNET_JOBS_INTERVAL_MS", jobs_interval_ms, 10000, 50, 3600000),
    CF_PARSED("FORUMNET_WEBHOOK_KEY", parse_webhook_key, ""),
    CF_NUMBER("FORUMNET_WEBHOOK_ALLOW_PRIVATE", webhook_allow_private, 0, 0, 1),
    CF_NUMBER("FORUMNET_WEBHOOK_COUNTS_INTERVAL_MS", webhook_counts_interval_ms, 60000, 100, 3600000),
    CF_PARSED("FORUMNET_PASSWORD_RESET_URL", parse_password_reset_url, ""),
    CF_PARSED("FORUMNET_MAIL_FROM", parse_mail_from, "forumnet@localhost"),
    CF_PARSED("FORUMNET_SMTP_URL", parse_smtp_url, ""),
    CF_TEXT("FORUMNET_SMTP_USER", smtp_user, ""),
    CF_TEXT("FORUMNET_SMTP_PASSWORD", smtp_password, ""),
    CF_TEXT("FORUMNET_MAIL_DIR", mail_dir, ".data/mail"),
    CF_TEXT("FORUMNET_OIDC_PROVIDERS_FILE", oidc_providers_file, ""),
    CF_NUMBER("FORUMNET_OIDC_ALLOW_HTTP", oidc_allow_http, 0, 0, 1),
    CF_TEXT("FORUMNET_SMTP_CA_FILE", smtp_ca_file, ""),
    CF_NUMBER("FORUMNET_WEBHOOK_CONCURRENCY", webhook_concurrency, 128, 1, 1024),
    CF_NUMBER("FORUMNET_WEBHOOK_ENDPOINT_CONCURRENCY", webhook_endpoint_concurrency, 32, 1, 1024),
    CF_NUMBER("FORUMNET_SLOW_THREADS", slow_threads, 2, 0, 64),
};

static void store_number(fn_config *cfg, const cf_setting *s, long n) {
  void *field = (char *)cfg + s->offset;
  switch (s->kind) {
  case CF_KIND_LONG:
    *(long *)field = n;
    break;
  case CF_KIND_UNSIGNED:
    *(unsigned *)field = (unsigned)n;
    break;
  case CF_KIND_SIZE:
    *(size_t *)field = (size_t)n;
    break;
  default:
    *(int *)field = (int)n;
    break;
  }
}

/* A whole number in decimal within the row's bounds. */
static fn_status read_number(cf_load *load, const cf_setting *s, const char *v) {
  char *end = NULL;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno != 0 || end == v || *end != '\0' || n < s->min || n > s->max) {
    char why[128];
    snprintf(why, sizeof why, "must be a whole number from %ld to %ld", s->min, s->max);
    return config_error(load, s->name, why);
  }
  store_number(load->cfg, s, n);
  return FN_OK;
}

/* One of the row's choices by name; else "must be a, b or c". */
static fn_status read_choice(cf_load *load, const cf_setting *s, const char *v) {
  const cf_choice *c;
  for (c = s->choices; c->name != NULL; c++)
    if (strcmp(v, c->name) == 0) {
      *(int *)((char *)load->cfg + s->offset) = c->value;
      return FN_OK;
    }
  char why[160] = "must be";
  size_t len = strlen(why);
  for (const cf_choice *w = s->choices; w->name != NULL && len < sizeof why; w++) {
    const char *separator = w == s->choices ? " " : w + 1 == c ? " or " : ", "; /* c: the list's end */
    len += (size_t)snprintf(why + len, sizeof why - len, "%s%s", separator, w->name);
  }
  return config_error(load, s->name, why);
}

static fn_status read_text(cf_load *load, const cf_setting *s, const char *v) {
  size_t len = strlen(v);
  if (len >= s->size)
    return config_error(load, s->name, "is too long");
  if (len == 0 && s->required != NULL && load->need_database)
    return config_error(load, s->name, s->required);
  memcpy((char *)load->cfg + s->offset, v, len + 1);
  return FN_OK;
}

/* One row: the variable's value when set and not empty, else the row's default. */
static fn_status read_setting(cf_load *load, const cf_setting *s) {
  const char *v = s->name ? env_value(load, s->name) : NULL;
  switch (s->kind) {
  case CF_KIND_TEXT:
    return read_text(load, s, v ? v : s->text);
  case CF_KIND_CHOICE:
    return read_choice(load, s, v ? v : s->text);
  case CF_KIND_PARSED:
    return s->parse(load, s->name, v ? v : s->text);
  default:
    if (v == NULL) {
      store_number(load->cfg, s, s->def);
      return FN_OK;
    }
    return read_number(load, s, v);
  }
}

fn_status config_load(fn_config *cfg, config_getenv_fn getenv_fn, int need_database, int need_jwt, char *err,
                      size_t err_len) {
  memset(cfg, 0, sizeof *cfg);
  cf_load load = {cfg, getenv_fn, need_database, need_jwt, err, err_len};
  for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
    fn_status st = read_setting(&load, &settings[i]);
    if (st != FN_OK)
      return st;
  }
  if (cfg->http_threads == (unsigned)HTTP_THREADS_AS_POOL)
    cfg->http_threads = cfg->db_pool_size;
  return FN_OK;
}

void config_use_direct_database(fn_config *cfg) {
  if (cfg->database_direct_url[0] == '\0')
    return;
  _Static_assert(sizeof cfg->database_url == sizeof cfg->database_direct_url, "the URLs have the same room");
  memcpy(cfg->database_url, cfg->database_direct_url, sizeof cfg->database_url);
  cfg->db_pooler = DB_POOLER_SESSION;
}

int config_origin_allowed(const fn_config *cfg, const char *origin) {
  if (origin == NULL)
    return 0;
  for (int i = 0; i < cfg->cors_origin_count; i++)
    if (strcmp(cfg->cors_origins[i], "*") == 0 || strcmp(cfg->cors_origins[i], origin) == 0)
      return 1;
  return 0;
}
