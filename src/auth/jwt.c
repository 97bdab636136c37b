/* With oidc_verify.c (ID tokens of sign-in providers), the only file that includes <jwt.h>: the signing and
 * verification of forumnet's own tokens. */
#include <jansson.h>
#include <jwt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forumnet/body.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"
#include "forumnet/token.h"

/* Clock skew tolerated between instances for iat/nbf/exp. */
#define CLOCK_LEEWAY_SECONDS 30

static jwt_alg_t pinned_alg(const fn_config *cfg) {
  switch (cfg->jwt_alg) {
  case JWT_ALGORITHM_RS256:
    return JWT_ALG_RS256;
  case JWT_ALGORITHM_ES256:
    return JWT_ALG_ES256;
  default:
    return JWT_ALG_HS256;
  }
}

static const char *pinned_alg_name(const fn_config *cfg) {
  switch (cfg->jwt_alg) {
  case JWT_ALGORITHM_RS256:
    return "RS256";
  case JWT_ALGORITHM_ES256:
    return "ES256";
  default:
    return "HS256";
  }
}

long token_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

fn_status token_issue(const fn_config *cfg, const token_claims *claims, long ttl, time_t now, char **out) {
  long iat_ms = claims->iat_ms / 1000 == (long)now ? claims->iat_ms : (long)now * 1000L;
  jwt_t *jwt = NULL;
  fn_status st = FN_INTERNAL;
  char jti[32];
  *out = NULL;
  if (jwt_new(&jwt) != 0)
    return FN_INTERNAL;
  {
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(jti, sizeof jti, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  }
  if (jwt_set_alg(jwt, pinned_alg(cfg), cfg->jwt_secret, (int)cfg->jwt_secret_len) != 0 ||
      jwt_add_header(jwt, "kid", cfg->jwt_kid) != 0 || jwt_add_grant(jwt, "iss", cfg->jwt_issuer) != 0 ||
      jwt_add_grant(jwt, "aud", cfg->jwt_audience) != 0 || jwt_add_grant(jwt, "sub", claims->sub) != 0 ||
      jwt_add_grant(jwt, "typ", claims->typ) != 0 || jwt_add_grant(jwt, "jti", jti) != 0 ||
      jwt_add_grant_int(jwt, "iat", (long)now) != 0 || jwt_add_grant_int(jwt, "iat_ms", iat_ms) != 0 ||
      jwt_add_grant_int(jwt, "nbf", (long)now) != 0 || jwt_add_grant_int(jwt, "exp", (long)now + ttl) != 0)
    goto out;
  if (claims->role[0] && jwt_add_grant(jwt, "role", claims->role) != 0)
    goto out;
  if (claims->scope[0] && jwt_add_grant(jwt, "scope", claims->scope) != 0)
    goto out;
  *out = jwt_encode_str(jwt);
  st = *out ? FN_OK : FN_INTERNAL;
out:
  jwt_free(jwt);
  return st;
}

/* Decodes one base64url segment of a compact JWS into a JSON object (new reference). */
static json_t *json_segment(const char *seg, size_t len) {
  unsigned char *bin = malloc(len + 1);
  size_t bin_len = 0;
  json_t *obj = NULL;
  if (bin == NULL)
    return NULL;
  if (sodium_base642bin(bin, len + 1, seg, len, NULL, &bin_len, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0) {
    obj = json_loadb((const char *)bin, bin_len, JSON_REJECT_DUPLICATES, NULL);
    if (obj && !json_is_object(obj)) {
      json_decref(obj);
      obj = NULL;
    }
  }
  free(bin);
  return obj;
}

int token_string_claim(const json_t *payload, const char *name, char *out, size_t out_len) {
  const char *v = json_string_value(json_object_get(payload, name));
  if (v == NULL || *v == '\0' || strlen(v) >= out_len)
    return 0;
  memcpy(out, v, strlen(v) + 1);
  return 1;
}

static int integer_claim(const json_t *payload, const char *name, long *out) {
  json_t *v = json_object_get(payload, name);
  if (!json_is_integer(v))
    return 0;
  *out = (long)json_integer_value(v);
  return 1;
}

int token_audience_matches(const json_t *aud, const char *expected) {
  if (json_is_string(aud))
    return strcmp(json_string_value(aud), expected) == 0;
  if (json_is_array(aud)) {
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v) if (json_is_string(v) && strcmp(json_string_value(v), expected) == 0) return 1;
  }
  return 0;
}

/* Picks the verification key for the header's kid (rotation: current or previous). */
static int select_key(const fn_config *cfg, const json_t *header, const unsigned char **key, size_t *key_len) {
  const json_t *kid_value = json_object_get(header, "kid");
  const char *kid = json_string_value(kid_value);
  if (kid_value != NULL && kid == NULL)
    return 0;
  int asymmetric = cfg->jwt_alg != JWT_ALGORITHM_HS256;
  if (kid == NULL || strcmp(kid, cfg->jwt_kid) == 0) {
    *key = asymmetric ? cfg->jwt_public_key : cfg->jwt_secret;
    *key_len = asymmetric ? cfg->jwt_public_key_len : cfg->jwt_secret_len;
    return *key_len > 0;
  }
  if (!asymmetric && cfg->jwt_previous_secret_len > 0 && strcmp(kid, cfg->jwt_previous_kid) == 0) {
    *key = cfg->jwt_previous_secret;
    *key_len = cfg->jwt_previous_secret_len;
    return 1;
  }
  return 0;
}

int token_decode_parts(const char *token, token_parts *parts) {
  memset(parts, 0, sizeof *parts);
  if (token == NULL || strlen(token) > TOKEN_MAX_LEN)
    return -1;
  const char *dot1 = strchr(token, '.');
  const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
  if (dot1 == NULL || dot2 == NULL || strchr(dot2 + 1, '.') != NULL || dot2[1] == '\0')
    return -1; /* also rejects unsigned "a.b." tokens */
  parts->header = json_segment(token, (size_t)(dot1 - token));
  parts->payload = json_segment(dot1 + 1, (size_t)(dot2 - dot1 - 1));
  if (parts->header && parts->payload)
    return 0;
  token_parts_free(parts);
  return -1;
}

void token_parts_free(token_parts *parts) {
  jwt_free(parts->jwt);
  json_decref(parts->header);
  json_decref(parts->payload);
  memset(parts, 0, sizeof *parts);
}

fn_status token_verify(const fn_config *cfg, const char *token, time_t now, token_claims *out) {
  token_parts t;
  fn_status st = FN_UNAUTHENTICATED;
  memset(out, 0, sizeof *out);
  if (token_decode_parts(token, &t) != 0)
    return FN_UNAUTHENTICATED;
  const json_t *header = t.header, *payload = t.payload;

  /* The algorithm is pinned by configuration, never chosen by the token. */
  const char *alg = json_string_value(json_object_get(header, "alg"));
  if (alg == NULL || strcmp(alg, pinned_alg_name(cfg)) != 0)
    goto out;
  const char *htyp = json_string_value(json_object_get(header, "typ"));
  if (json_object_get(header, "typ") && (htyp == NULL || strcmp(htyp, "JWT") != 0))
    goto out;
  if (json_object_get(header, "crit") != NULL)
    goto out;
  const unsigned char *key;
  size_t key_len;
  if (!select_key(cfg, header, &key, &key_len))
    goto out;

  if (jwt_decode(&t.jwt, token, key, (int)key_len) != 0 || t.jwt == NULL)
    goto out;
  if (jwt_get_alg(t.jwt) != pinned_alg(cfg))
    goto out;

  const char *iss = json_string_value(json_object_get(payload, "iss"));
  if (iss == NULL || strcmp(iss, cfg->jwt_issuer) != 0)
    goto out;
  if (!token_audience_matches(json_object_get(payload, "aud"), cfg->jwt_audience))
    goto out;
  if (!token_string_claim(payload, "sub", out->sub, sizeof out->sub) ||
      !token_string_claim(payload, "typ", out->typ, sizeof out->typ))
    goto out;
  if (!integer_claim(payload, "exp", &out->exp) || !integer_claim(payload, "iat", &out->iat))
    goto out;
  if (now >= out->exp + CLOCK_LEEWAY_SECONDS || out->iat > now + CLOCK_LEEWAY_SECONDS || out->iat > out->exp)
    goto out;
  /* iat_ms, when present, must agree with iat (it only adds the milliseconds). */
  out->iat_ms = out->iat * 1000L;
  if (json_object_get(payload, "iat_ms") != NULL &&
      (!integer_claim(payload, "iat_ms", &out->iat_ms) || out->iat_ms < 0 || out->iat_ms / 1000 != out->iat))
    goto out;
  long nbf;
  if (json_object_get(payload, "nbf") != NULL &&
      (!integer_claim(payload, "nbf", &nbf) || nbf > now + CLOCK_LEEWAY_SECONDS))
    goto out;
  token_string_claim(payload, "role", out->role, sizeof out->role);
  token_string_claim(payload, "scope", out->scope, sizeof out->scope);
  st = FN_OK;
out:
  if (st != FN_OK)
    memset(out, 0, sizeof *out);
  token_parts_free(&t);
  return st;
}
