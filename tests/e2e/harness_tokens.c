/*
 * harness_tokens.c — JSON Web Tokens with libjwt: signing (any algorithm, also "none" built by
 * hand), base64url, decoding the server's tokens, and forging access tokens the server accepts.
 */
#include "harness.h"
#include "harness_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <sodium.h>

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
