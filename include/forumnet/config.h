#ifndef FORUMNET_CONFIG_H
#define FORUMNET_CONFIG_H

#include <stddef.h>

#include "forumnet/cidr.h"
#include "forumnet/status.h"

#define CONFIG_MAX_ORIGINS 16
#define CONFIG_MAX_TRUSTED_PROXIES 32

typedef enum jwt_algorithm { JWT_ALGORITHM_HS256, JWT_ALGORITHM_RS256, JWT_ALGORITHM_ES256 } jwt_algorithm;

/* FORUMNET_DB_POOLER: what stands between forumnet and PostgreSQL. session: a connection is a session of
 * its own (named prepared statements, settings sent at connect). transaction: a transaction-mode pooler
 * (PgBouncer): unnamed statements only, no startup options, settings from the role (README). */
typedef enum db_pooler { DB_POOLER_SESSION, DB_POOLER_TRANSACTION } db_pooler;

/* Everything forumnet reads from its environment (one row each in config.c's settings table); see
 * README "Configuration". */
typedef struct fn_config {
  char database_url[1024];
  char listen_host[64];
  unsigned listen_port;

  jwt_algorithm jwt_alg;
  unsigned char jwt_secret[8192]; /* HS256 key, or PEM private key for RS/ES */
  size_t jwt_secret_len;
  unsigned char jwt_public_key[8192]; /* PEM public key for RS/ES verification */
  size_t jwt_public_key_len;
  unsigned char jwt_previous_secret[256]; /* HS256 only: still accepted for verification */
  size_t jwt_previous_secret_len;
  char jwt_kid[64];
  char jwt_previous_kid[64];
  char jwt_issuer[128];
  char jwt_audience[128];
  long access_token_ttl;  /* seconds */
  long refresh_token_ttl; /* seconds */

  char cors_origins[CONFIG_MAX_ORIGINS][256];
  int cors_origin_count;

  size_t max_body_bytes;
  unsigned max_connections;
  /* N epoll worker threads (default: db_pool_size, so no worker ever waits for a
   * database connection); 0: a thread per connection. See README "Performance". */
  unsigned http_threads;
  unsigned connection_timeout; /* seconds of inactivity */
  unsigned db_pool_size;
  unsigned db_acquire_timeout_ms;
  unsigned statement_timeout_ms;
  unsigned db_connect_timeout_s;

  unsigned login_max_failures_per_email;
  unsigned login_max_failures_per_address;
  unsigned login_window_seconds;
  unsigned suppression_threshold; /* summaries: people counts below it are null */

  char docs_js_path[512]; /* Redoc's standalone bundle, served for GET /docs */
  int auto_migrate;
  int log_requests;

  /* A streaming replica for summaries ("" for none) and its own pool's size; see README "Running several
   * instances". */
  char read_database_url[1024];
  unsigned db_read_pool_size;
  /* FORUMNET_TRUSTED_PROXIES: peers whose X-Forwarded-For names the client (see dispatch.c). */
  cidr_block trusted_proxies[CONFIG_MAX_TRUSTED_PROXIES];
  int trusted_proxy_count;
  db_pooler db_pooler;
  /* Where migrate, seed and admin connect (a session of their own); "" means database_url. */
  char database_direct_url[1024];
  unsigned drain_ms;                /* after SIGTERM: /readyz answers 503 this long before the listener closes */
  unsigned db_reconnect_backoff_ms; /* after a failed connect, the pool connects again no sooner */
  unsigned stream_heartbeat_ms;     /* a live stream writes a comment line at least this often */
  /* FORUMNET_PUBLIC_BASE_URL: where clients reach the API, without a trailing slash (calendar feed URLs);
   * unset: http://<FORUMNET_LISTEN>. */
  char public_base_url[512];
  int jobs;                  /* FORUMNET_JOBS: 1 runs the background job thread (src/jobs/runner.c) */
  unsigned jobs_interval_ms; /* how often that thread looks for due jobs */
  /* FORUMNET_WEBHOOK_KEY: seals partners' webhook secrets at rest; unset (webhook_key_set 0): derived from
   * the JWT key (README "Receiving webhooks"). */
  unsigned char webhook_key[32];
  int webhook_key_set;
  int webhook_allow_private; /* 1: webhook URLs may resolve to private addresses, http:// to loopback (tests) */
  unsigned webhook_counts_interval_ms; /* event.registration_counts: at most one per event this often */
  /* Password reset and email (README "Password reset and email"): the set-password link, with {token} where
   * the token goes (unset: <public_base_url>/reset-password?token={token}); the From address; SMTP (""
   * writes each message as <id>.eml into mail_dir instead); the SMTP credentials (never logged). */
  char password_reset_url[1024];
  char mail_from[256];
  char smtp_url[1024];
  char smtp_user[256];
  char smtp_password[256];
  /* FORUMNET_SMTP_CA_FILE: PEM certificates that the SMTP server's must chain to (a relay with a private CA);
   * empty: the system's. The server's name is verified either way. */
  char smtp_ca_file[512];
  char mail_dir[1024];
  /* Single sign-on (README "Single sign-on (OpenID Connect)"): the providers' JSON file ("" for none, read
   * at start by oidc_providers_load), and 1 to accept http:// issuers (tests on loopback only). */
  char oidc_providers_file[1024];
  int oidc_allow_http;
  /* Webhook deliveries in flight at once on this instance, and at most this many to one endpoint (a slow
   * endpoint holds only its own share: src/webhooks/dispatcher.c). */
  unsigned webhook_concurrency;
  unsigned webhook_endpoint_concurrency;
  /* Threads of their own for slow routes (ROUTE_SLOW: summaries, exports, Argon2id), so that they never hold up
   * an epoll worker's other connections (http/offload.h); 0 runs them on the workers. */
  unsigned slow_threads;
} fn_config;

/* Looks up one environment variable; NULL when unset. Lets tests pass a fake environment. */
typedef const char *(*config_getenv_fn)(const char *name);

/* Fills cfg from the environment. On FN_INVALID, err holds one human-readable line
 * naming the variable. need_database/need_jwt say which groups are mandatory for
 * the subcommand being run. */
fn_status config_load(fn_config *cfg, config_getenv_fn getenv_fn, int need_database, int need_jwt, char *err,
                      size_t err_len);

/* Points cfg at FORUMNET_DATABASE_DIRECT_URL, when set, as a plain session (migrate, seed, admin: they
 * need session advisory locks, their own settings and temporary tables). Else cfg stays as it is. */
void config_use_direct_database(fn_config *cfg);

/* 1 if origin is one of FORUMNET_CORS_ORIGINS. */
int config_origin_allowed(const fn_config *cfg, const char *origin);

#endif
