#ifndef FORUMNET_OIDC_H
#define FORUMNET_OIDC_H

/* Single sign-on with OpenID Connect (API.md section 12, README "Single sign-on (OpenID Connect)"): the
 * providers the operator configured (oidc_providers.c), their discovery document and keys fetched with
 * libcurl (oidc_fetch.c), and the verification of their ID tokens (oidc_verify.c). Nothing here logs a
 * client secret, a code, a token or an email. */

#include <jansson.h>
#include <stddef.h>
#include <time.h>

#include "forumnet/config.h"
#include "forumnet/status.h"

#define OIDC_MAX_PROVIDERS 32
#define OIDC_MAX_LIST 16 /* redirect_uris, email_domains */

/* The signing algorithms forumnet accepts from a provider (a set: bits). */
#define OIDC_ALG_RS256 1u
#define OIDC_ALG_ES256 2u

/* One provider of FORUMNET_OIDC_PROVIDERS_FILE. */
typedef struct oidc_provider {
  char id[64];
  char display_name[128];
  char issuer[512];
  char client_id[256];
  char client_secret[512];
  char redirect_uris[OIDC_MAX_LIST][512];
  int redirect_uri_count;
  char email_domains[OIDC_MAX_LIST][256]; /* none: any domain */
  int email_domain_count;
  /* The boolean claim by which the provider says it verified the email: "email_verified" unless the file
   * names another (Microsoft Entra ID sends none; its optional claim "xms_edov" says the domain's owner
   * verified it). */
  char email_verified_claim[64];
} oidc_provider;

/* Parses the providers file's text (a JSON array of {id, display_name, issuer, client_id, client_secret,
 * redirect_uris, email_domains?, email_verified_claim?}): *out a new array of *count providers (caller frees). Unknown
 * fields, missing ones, duplicate ids and http:// issuers (unless allow_http) are FN_INVALID, with err naming the
 * provider and the field (never a secret). */
fn_status oidc_providers_parse(const char *text, int allow_http, oidc_provider **out, int *count, char *err,
                               size_t err_len);

/* Reads cfg->oidc_providers_file (none when unset) and installs its providers for the server; once, at
 * start, before threads. FN_INVALID with err when the file cannot be read or is invalid. */
fn_status oidc_providers_load(const fn_config *cfg, char *err, size_t err_len);

/* The installed providers: their number, the i-th, and the one named id (NULL when none). */
int oidc_provider_count(void);
const oidc_provider *oidc_provider_at(int i);
const oidc_provider *oidc_provider_find(const char *id);

/* 1 when redirect_uri is one of the provider's. */
int oidc_redirect_uri_allowed(const oidc_provider *p, const char *redirect_uri);
/* 1 when the email's domain is one of the provider's email_domains (case-insensitively), or it lists none. */
int oidc_email_domain_allowed(const oidc_provider *p, const char *email);

/* What forumnet uses of a provider's discovery document. */
typedef struct oidc_metadata {
  char authorization_endpoint[1024];
  char token_endpoint[1024];
  char jwks_uri[1024];
  unsigned algs; /* id_token_signing_alg_values_supported within OIDC_ALG_* (never empty) */
} oidc_metadata;

/* Checks a discovery document against the configured issuer and fills *out: FN_INVALID when the issuer
 * differs, an endpoint is missing or not https (unless allow_http), or no algorithm is acceptable. */
fn_status oidc_metadata_parse(const json_t *doc, const char *issuer, int allow_http, oidc_metadata *out);

/* The provider's metadata, fetched on first use and kept an hour (thread-safe). FN_UNAVAILABLE when the
 * provider cannot be reached or answers something unusable (logged without secrets). */
fn_status oidc_provider_metadata(const fn_config *cfg, const oidc_provider *p, oidc_metadata *out);

/* A copy of the provider's JWKS (caller json_decref()s), fetched with the metadata. refresh asks for a new
 * fetch (an unknown kid): done at most once every few seconds per provider. FN_UNAVAILABLE as above. */
fn_status oidc_provider_jwks(const fn_config *cfg, const oidc_provider *p, int refresh, json_t **out);

/* HTTP with libcurl for the OpenID Connect exchanges (oidc_fetch.c): connect and total timeouts, at most
 * OIDC_FETCH_MAX_BYTES of an answer, no redirects, https only unless allow_http. */
#define OIDC_FETCH_MAX_BYTES (256 * 1024)

/* GETs a JSON object: FN_OK with *out, else FN_UNAVAILABLE (unreachable, not 200, not a JSON object). */
fn_status oidc_fetch_json(const char *url, int allow_http, json_t **out);

/* POSTs the form (already encoded) with HTTP Basic client authentication (RFC 6749 2.3.1: user and
 * password form-encoded first). FN_OK with *status (any answer) and *out the JSON object answered (NULL
 * when it is not one); FN_UNAVAILABLE when no answer came. */
fn_status oidc_post_form(const char *url, int allow_http, const char *user, const char *password, const char *form,
                         long *status, json_t **out);

/* What an ID token must hold (oidc_verify.c). */
typedef struct oidc_expect {
  const char *issuer, *client_id, *nonce;
  const char *email_verified_claim; /* the provider's (oidc_provider) */
  unsigned algs;                    /* the provider's advertised algorithms within OIDC_ALG_* */
  time_t now;
} oidc_expect;

/* What forumnet reads of a verified ID token. */
typedef struct oidc_identity {
  char subject[256];
  char email[256]; /* "" when absent */
  int email_verified;
} oidc_identity;

typedef enum oidc_verdict {
  OIDC_VERIFIED,
  OIDC_REJECTED,    /* signature, algorithm, key type, iss, aud/azp, exp, iat, nonce or sub failed */
  OIDC_UNKNOWN_KID, /* no key of the JWKS has the token's kid: fetch the JWKS again, then verify again */
} oidc_verdict;

/* Verifies a compact JWS ID token against the JWKS and e (OpenID Connect Core 3.1.3.7): the header's alg
 * must be one of e->algs (RS256, ES256; never none or HS*), the key chosen by kid must be of the alg's
 * type (RSA; EC P-256), the signature must verify, iss must equal e->issuer, aud contain e->client_id
 * (and azp equal it when present), exp be in the future and iat not (60 s leeway), nonce equal e->nonce,
 * sub be present. Fills *out on OIDC_VERIFIED. */
oidc_verdict oidc_verify_id_token(const char *token, const json_t *jwks, const oidc_expect *e, oidc_identity *out);

/* A JWK (RSA n/e of at least 2048 bits; EC P-256 x/y) as a PEM public key: *pem a new string (caller
 * frees), *alg the one OIDC_ALG_* it can verify. 0 on success, -1 for anything else. */
int oidc_jwk_to_pem(const json_t *jwk, char **pem, unsigned *alg);

#endif
