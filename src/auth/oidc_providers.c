/* The OpenID Connect providers of FORUMNET_OIDC_PROVIDERS_FILE, read once at start, and each one's discovery
 * document and JWKS, fetched on first use and kept in memory (an hour; the JWKS again on an unknown kid). */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forumnet/log.h"
#include "forumnet/oidc.h"

#define METADATA_TTL_SECONDS 3600
#define JWKS_REFRESH_MIN_SECONDS 5
#define PROVIDERS_FILE_MAX (1024 * 1024)

/* ------------------------------------------------------------------ the providers file */

static fn_status parse_error(char *err, size_t err_len, int index, const char *field, const char *why) {
  snprintf(err, err_len, "invalid configuration: FORUMNET_OIDC_PROVIDERS_FILE: provider %d: %s %s", index + 1, field,
           why);
  return FN_INVALID;
}

/* 1 when url is https:// (or http:// with allow_http) with a host, no fragment and no blanks. */
static int acceptable_url(const char *url, int allow_http) {
  size_t scheme = strncmp(url, "https://", 8) == 0 ? 8 : allow_http && strncmp(url, "http://", 7) == 0 ? 7 : 0;
  return scheme > 0 && url[scheme] != '\0' && url[scheme] != '/' && strpbrk(url, "# \t\r\n") == NULL;
}

/* A required non-empty string member copied into out. */
static fn_status take_string(const json_t *obj, const char *key, char *out, size_t out_len, int index, char *err,
                             size_t err_len) {
  const char *v = json_string_value(json_object_get(obj, key));
  if (v == NULL || *v == '\0')
    return parse_error(err, err_len, index, key, "must be a non-empty string");
  if (strlen(v) >= out_len)
    return parse_error(err, err_len, index, key, "is too long");
  memcpy(out, v, strlen(v) + 1);
  return FN_OK;
}

/* An array of non-empty strings (absent allowed when !required) into rows of width bytes. */
static fn_status take_list(const json_t *obj, const char *key, int required, char *rows, size_t width, int *count,
                           int index, char *err, size_t err_len) {
  const json_t *list = json_object_get(obj, key);
  size_t i;
  const json_t *item;
  *count = 0;
  if (list == NULL && !required)
    return FN_OK;
  if (!json_is_array(list) || (required && json_array_size(list) == 0))
    return parse_error(err, err_len, index, key, "must be a non-empty array of strings");
  if (json_array_size(list) > OIDC_MAX_LIST)
    return parse_error(err, err_len, index, key, "lists more than 16 entries");
  json_array_foreach(list, i, item) {
    const char *v = json_string_value(item);
    if (v == NULL || *v == '\0' || strlen(v) >= width)
      return parse_error(err, err_len, index, key, "must hold non-empty strings of reasonable length");
    memcpy(rows + i * width, v, strlen(v) + 1);
  }
  *count = (int)json_array_size(list);
  return FN_OK;
}

static const char *const provider_keys[] = {"id",
                                            "display_name",
                                            "issuer",
                                            "client_id",
                                            "client_secret",
                                            "redirect_uris",
                                            "email_domains",
                                            "email_verified_claim",
                                            NULL};

static fn_status parse_provider(const json_t *obj, int allow_http, oidc_provider *p, int index, char *err,
                                size_t err_len) {
  const char *key;
  const json_t *value;
  fn_status st;
  if (!json_is_object(obj))
    return parse_error(err, err_len, index, "entry", "must be an object");
  json_object_foreach((json_t *)obj, key, value) {
    int known = 0;
    for (int k = 0; provider_keys[k]; k++)
      known |= strcmp(key, provider_keys[k]) == 0;
    if (!known) {
      char field[80];
      snprintf(field, sizeof field, "\"%.60s\"", key);
      return parse_error(err, err_len, index, field, "is not a known field");
    }
  }
  (void)value;
  if ((st = take_string(obj, "id", p->id, sizeof p->id, index, err, err_len)) != FN_OK ||
      (st = take_string(obj, "display_name", p->display_name, sizeof p->display_name, index, err, err_len)) != FN_OK ||
      (st = take_string(obj, "issuer", p->issuer, sizeof p->issuer, index, err, err_len)) != FN_OK ||
      (st = take_string(obj, "client_id", p->client_id, sizeof p->client_id, index, err, err_len)) != FN_OK ||
      (st = take_string(obj, "client_secret", p->client_secret, sizeof p->client_secret, index, err, err_len)) !=
          FN_OK ||
      (st = take_list(obj, "redirect_uris", 1, p->redirect_uris[0], sizeof p->redirect_uris[0], &p->redirect_uri_count,
                      index, err, err_len)) != FN_OK ||
      (st = take_list(obj, "email_domains", 0, p->email_domains[0], sizeof p->email_domains[0], &p->email_domain_count,
                      index, err, err_len)) != FN_OK)
    return st;
  snprintf(p->email_verified_claim, sizeof p->email_verified_claim, "email_verified");
  if (json_object_get(obj, "email_verified_claim") != NULL &&
      (st = take_string(obj, "email_verified_claim", p->email_verified_claim, sizeof p->email_verified_claim, index,
                        err, err_len)) != FN_OK)
    return st;
  for (const char *c = p->id; *c; c++)
    if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '-' || *c == '_'))
      return parse_error(err, err_len, index, "id", "must hold only lowercase letters, digits, - and _");
  if (!acceptable_url(p->issuer, allow_http))
    return parse_error(err, err_len, index, "issuer",
                       allow_http ? "must be an http(s):// URL" : "must be an https:// URL");
  for (int i = 0; i < p->redirect_uri_count; i++)
    if (strncmp(p->redirect_uris[i], "https://", 8) != 0 && strncmp(p->redirect_uris[i], "http://", 7) != 0)
      return parse_error(err, err_len, index, "redirect_uris", "must hold http(s):// URLs");
  return FN_OK;
}

fn_status oidc_providers_parse(const char *text, int allow_http, oidc_provider **out, int *count, char *err,
                               size_t err_len) {
  json_error_t jerr;
  *out = NULL;
  *count = 0;
  json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
  if (!json_is_array(doc)) {
    snprintf(err, err_len, "invalid configuration: FORUMNET_OIDC_PROVIDERS_FILE must hold a JSON array (line %d)",
             doc ? 1 : jerr.line);
    json_decref(doc);
    return FN_INVALID;
  }
  size_t n = json_array_size(doc);
  if (n > OIDC_MAX_PROVIDERS) {
    json_decref(doc);
    snprintf(err, err_len, "invalid configuration: FORUMNET_OIDC_PROVIDERS_FILE lists more than %d providers",
             OIDC_MAX_PROVIDERS);
    return FN_INVALID;
  }
  oidc_provider *list = calloc(n ? n : 1, sizeof *list);
  fn_status st = list ? FN_OK : FN_INTERNAL;
  for (size_t i = 0; st == FN_OK && i < n; i++) {
    st = parse_provider(json_array_get(doc, i), allow_http, &list[i], (int)i, err, err_len);
    for (size_t j = 0; st == FN_OK && j < i; j++)
      if (strcmp(list[j].id, list[i].id) == 0)
        st = parse_error(err, err_len, (int)i, "id", "repeats another provider's");
  }
  json_decref(doc);
  if (st != FN_OK) {
    free(list);
    return st;
  }
  *out = list;
  *count = (int)n;
  return FN_OK;
}

/* ------------------------------------------------------------------ the installed providers */

/* A provider's cached metadata and JWKS. */
typedef struct provider_cache {
  pthread_mutex_t lock;
  int have_metadata;
  oidc_metadata metadata;
  time_t metadata_at;
  json_t *jwks;
  time_t jwks_at;
} provider_cache;

static oidc_provider *g_providers;
static provider_cache *g_caches;
static int g_count;

fn_status oidc_providers_load(const fn_config *cfg, char *err, size_t err_len) {
  if (cfg->oidc_providers_file[0] == '\0')
    return FN_OK;
  FILE *f = fopen(cfg->oidc_providers_file, "rb");
  if (f == NULL) {
    snprintf(err, err_len, "invalid configuration: FORUMNET_OIDC_PROVIDERS_FILE names a file that cannot be read");
    return FN_INVALID;
  }
  char *text = malloc(PROVIDERS_FILE_MAX + 1);
  size_t n = text ? fread(text, 1, PROVIDERS_FILE_MAX, f) : 0;
  int too_big = !feof(f);
  fclose(f);
  if (text == NULL || too_big) {
    free(text);
    snprintf(err, err_len, "invalid configuration: FORUMNET_OIDC_PROVIDERS_FILE is larger than 1 MiB");
    return FN_INVALID;
  }
  text[n] = '\0';
  oidc_provider *list;
  int count;
  fn_status st = oidc_providers_parse(text, cfg->oidc_allow_http, &list, &count, err, err_len);
  free(text);
  if (st != FN_OK)
    return st;
  g_caches = calloc(count ? (size_t)count : 1, sizeof *g_caches);
  if (g_caches == NULL) {
    free(list);
    return FN_INTERNAL;
  }
  for (int i = 0; i < count; i++)
    pthread_mutex_init(&g_caches[i].lock, NULL);
  g_providers = list;
  g_count = count;
  log_info("single sign-on: %d OpenID Connect provider(s)", count);
  return FN_OK;
}

int oidc_provider_count(void) { return g_count; }

const oidc_provider *oidc_provider_at(int i) { return i >= 0 && i < g_count ? &g_providers[i] : NULL; }

const oidc_provider *oidc_provider_find(const char *id) {
  for (int i = 0; id && i < g_count; i++)
    if (strcmp(g_providers[i].id, id) == 0)
      return &g_providers[i];
  return NULL;
}

int oidc_redirect_uri_allowed(const oidc_provider *p, const char *redirect_uri) {
  for (int i = 0; redirect_uri && i < p->redirect_uri_count; i++)
    if (strcmp(p->redirect_uris[i], redirect_uri) == 0)
      return 1;
  return 0;
}

int oidc_email_domain_allowed(const oidc_provider *p, const char *email) {
  const char *at = email ? strrchr(email, '@') : NULL;
  if (p->email_domain_count == 0)
    return 1;
  for (int i = 0; at && i < p->email_domain_count; i++)
    if (strcasecmp(at + 1, p->email_domains[i]) == 0)
      return 1;
  return 0;
}

/* ------------------------------------------------------------------ discovery and keys */

static int copy_endpoint(const json_t *doc, const char *key, int allow_http, char *out, size_t out_len) {
  const char *v = json_string_value(json_object_get(doc, key));
  if (v == NULL || strlen(v) >= out_len || !acceptable_url(v, allow_http))
    return 0;
  memcpy(out, v, strlen(v) + 1);
  return 1;
}

fn_status oidc_metadata_parse(const json_t *doc, const char *issuer, int allow_http, oidc_metadata *out) {
  memset(out, 0, sizeof *out);
  const char *iss = json_string_value(json_object_get(doc, "issuer"));
  if (iss == NULL || strcmp(iss, issuer) != 0)
    return FN_INVALID;
  if (!copy_endpoint(doc, "authorization_endpoint", allow_http, out->authorization_endpoint,
                     sizeof out->authorization_endpoint) ||
      !copy_endpoint(doc, "token_endpoint", allow_http, out->token_endpoint, sizeof out->token_endpoint) ||
      !copy_endpoint(doc, "jwks_uri", allow_http, out->jwks_uri, sizeof out->jwks_uri))
    return FN_INVALID;
  const json_t *algs = json_object_get(doc, "id_token_signing_alg_values_supported");
  size_t i;
  const json_t *alg;
  json_array_foreach(algs, i, alg) {
    const char *name = json_string_value(alg);
    if (name && strcmp(name, "RS256") == 0)
      out->algs |= OIDC_ALG_RS256;
    else if (name && strcmp(name, "ES256") == 0)
      out->algs |= OIDC_ALG_ES256;
  }
  return out->algs ? FN_OK : FN_INVALID;
}

static provider_cache *cache_of(const oidc_provider *p) {
  ptrdiff_t i = p - g_providers;
  return i >= 0 && i < g_count ? &g_caches[i] : NULL;
}

/* Fetches the JWKS into the cache (lock held). */
static fn_status fetch_jwks(const fn_config *cfg, const oidc_provider *p, provider_cache *c, time_t now) {
  json_t *jwks = NULL;
  c->jwks_at = now;
  if (oidc_fetch_json(c->metadata.jwks_uri, cfg->oidc_allow_http, &jwks) != FN_OK ||
      !json_is_array(json_object_get(jwks, "keys"))) {
    log_warn("oidc: provider %s: no usable JWKS", p->id);
    json_decref(jwks);
    return FN_UNAVAILABLE;
  }
  json_decref(c->jwks);
  c->jwks = jwks;
  return FN_OK;
}

/* Makes sure the cache holds fresh metadata and a JWKS (lock held). */
static fn_status refresh_metadata(const fn_config *cfg, const oidc_provider *p, provider_cache *c, time_t now) {
  if (c->have_metadata && c->jwks && now - c->metadata_at < METADATA_TTL_SECONDS)
    return FN_OK;
  char url[600];
  json_t *doc = NULL;
  oidc_metadata m;
  size_t len = strlen(p->issuer);
  snprintf(url, sizeof url, "%.*s/.well-known/openid-configuration",
           (int)(len > 0 && p->issuer[len - 1] == '/' ? len - 1 : len), p->issuer);
  if (oidc_fetch_json(url, cfg->oidc_allow_http, &doc) != FN_OK)
    return FN_UNAVAILABLE;
  fn_status st = oidc_metadata_parse(doc, p->issuer, cfg->oidc_allow_http, &m);
  json_decref(doc);
  if (st != FN_OK) {
    log_warn("oidc: provider %s: the discovery document does not match the configured issuer or lacks an endpoint "
             "or a usable algorithm (RS256, ES256)",
             p->id);
    return FN_UNAVAILABLE;
  }
  c->metadata = m;
  c->have_metadata = 1;
  c->metadata_at = now;
  return fetch_jwks(cfg, p, c, now);
}

fn_status oidc_provider_metadata(const fn_config *cfg, const oidc_provider *p, oidc_metadata *out) {
  provider_cache *c = cache_of(p);
  if (c == NULL)
    return FN_INTERNAL;
  pthread_mutex_lock(&c->lock);
  fn_status st = refresh_metadata(cfg, p, c, time(NULL));
  if (st == FN_OK)
    *out = c->metadata;
  pthread_mutex_unlock(&c->lock);
  return st;
}

fn_status oidc_provider_jwks(const fn_config *cfg, const oidc_provider *p, int refresh, json_t **out) {
  provider_cache *c = cache_of(p);
  time_t now = time(NULL);
  *out = NULL;
  if (c == NULL)
    return FN_INTERNAL;
  pthread_mutex_lock(&c->lock);
  fn_status st = refresh_metadata(cfg, p, c, now);
  if (st == FN_OK && refresh && now - c->jwks_at >= JWKS_REFRESH_MIN_SECONDS)
    st = fetch_jwks(cfg, p, c, now);
  if (st == FN_OK)
    *out = json_deep_copy(c->jwks);
  pthread_mutex_unlock(&c->lock);
  return st == FN_OK && *out == NULL ? FN_INTERNAL : st;
}
