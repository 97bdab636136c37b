/* Verification of a sign-in provider's ID token (OpenID Connect Core 3.1.3.7) with libjwt, and the
 * conversion of the provider's JWKs to the PEM public keys libjwt takes (OpenSSL 3, which libjwt links). */
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/oidc.h"
#include "forumnet/token.h"

#define LEEWAY_SECONDS 60
#define JWK_MEMBER_MAX 1024 /* bytes of a decoded n, e, x or y: RSA up to 8192 bits */

/* A base64url member of the JWK, decoded into out (at most JWK_MEMBER_MAX bytes): its length, or 0. */
static size_t jwk_bytes(const json_t *jwk, const char *key, unsigned char out[JWK_MEMBER_MAX]) {
  const char *v = json_string_value(json_object_get(jwk, key));
  size_t len = 0;
  if (v == NULL || sodium_base642bin(out, JWK_MEMBER_MAX, v, strlen(v), NULL, &len, NULL,
                                     sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
    return 0;
  return len;
}

/* The parameters of an RSA public key (n of at least 2048 bits) into bld; 0 on success. */
static int rsa_params(const json_t *jwk, OSSL_PARAM_BLD *bld, BIGNUM **n, BIGNUM **e) {
  unsigned char buf[JWK_MEMBER_MAX];
  size_t len = jwk_bytes(jwk, "n", buf);
  if (len < 256 || (*n = BN_bin2bn(buf, (int)len, NULL)) == NULL || BN_num_bits(*n) < 2048)
    return -1;
  len = jwk_bytes(jwk, "e", buf);
  if (len == 0 || len > 8 || (*e = BN_bin2bn(buf, (int)len, NULL)) == NULL)
    return -1;
  return OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, *n) &&
                 OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, *e)
             ? 0
             : -1;
}

/* The parameters of a P-256 public key (the uncompressed point 04 || x || y) into bld; 0 on success. */
static int ec_params(const json_t *jwk, OSSL_PARAM_BLD *bld, unsigned char point[65]) {
  unsigned char buf[JWK_MEMBER_MAX];
  const char *crv = json_string_value(json_object_get(jwk, "crv"));
  if (crv == NULL || strcmp(crv, "P-256") != 0)
    return -1;
  point[0] = 4;
  if (jwk_bytes(jwk, "x", buf) != 32)
    return -1;
  memcpy(point + 1, buf, 32);
  if (jwk_bytes(jwk, "y", buf) != 32)
    return -1;
  memcpy(point + 33, buf, 32);
  return OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
                 OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 65)
             ? 0
             : -1;
}

/* The key as PEM (SubjectPublicKeyInfo) into a new string, after checking it (an EC point on the curve). */
static char *pem_of(EVP_PKEY *pkey) {
  EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
  int valid = check != NULL && EVP_PKEY_public_check(check) == 1;
  EVP_PKEY_CTX_free(check);
  BIO *bio = valid ? BIO_new(BIO_s_mem()) : NULL;
  char *pem = NULL, *data = NULL;
  if (bio && PEM_write_bio_PUBKEY(bio, pkey) == 1) {
    long len = BIO_get_mem_data(bio, &data);
    if (len > 0 && (pem = malloc((size_t)len + 1)) != NULL) {
      memcpy(pem, data, (size_t)len);
      pem[len] = '\0';
    }
  }
  BIO_free(bio);
  return pem;
}

int oidc_jwk_to_pem(const json_t *jwk, char **pem, unsigned *alg) {
  const char *kty = json_string_value(json_object_get(jwk, "kty"));
  const char *use = json_string_value(json_object_get(jwk, "use"));
  unsigned char point[65];
  BIGNUM *n = NULL, *e = NULL;
  EVP_PKEY *pkey = NULL;
  EVP_PKEY_CTX *ctx = NULL;
  OSSL_PARAM *params = NULL;
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  int rc = -1;
  *pem = NULL;
  *alg = 0;
  if (bld == NULL || kty == NULL || (use != NULL && strcmp(use, "sig") != 0))
    goto out;
  if (strcmp(kty, "RSA") == 0 && rsa_params(jwk, bld, &n, &e) == 0)
    *alg = OIDC_ALG_RS256;
  else if (strcmp(kty, "EC") == 0 && ec_params(jwk, bld, point) == 0)
    *alg = OIDC_ALG_ES256;
  else
    goto out;
  if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
      (ctx = EVP_PKEY_CTX_new_from_name(NULL, *alg == OIDC_ALG_RS256 ? "RSA" : "EC", NULL)) == NULL ||
      EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    goto out;
  *pem = pem_of(pkey);
  rc = *pem ? 0 : -1;
out:
  if (rc != 0)
    *alg = 0;
  EVP_PKEY_free(pkey);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  return rc;
}

/* The header's algorithm when it is one the provider advertised and forumnet accepts (RS256, ES256). */
static unsigned header_alg(const json_t *header, unsigned allowed) {
  const char *alg = json_string_value(json_object_get(header, "alg"));
  unsigned bit = alg == NULL                 ? 0
                 : strcmp(alg, "RS256") == 0 ? OIDC_ALG_RS256
                 : strcmp(alg, "ES256") == 0 ? OIDC_ALG_ES256
                                             : 0;
  return bit & allowed;
}

/* The PEM of the JWKS key the header names (by kid; with no kid, the only key of the alg's type), which
 * must be of the alg's type and, when it says, for that alg. */
static oidc_verdict select_key(const json_t *header, const json_t *jwks, unsigned alg, char **pem) {
  const json_t *kid_value = json_object_get(header, "kid");
  const char *kid = json_string_value(kid_value);
  const json_t *keys = json_object_get(jwks, "keys"), *jwk;
  const char *alg_name = alg == OIDC_ALG_RS256 ? "RS256" : "ES256";
  int named = 0, candidates = 0;
  size_t i;
  *pem = NULL;
  if (kid_value != NULL && kid == NULL)
    return OIDC_REJECTED;
  json_array_foreach(keys, i, jwk) {
    const char *jwk_kid = json_string_value(json_object_get(jwk, "kid"));
    const char *jwk_alg = json_string_value(json_object_get(jwk, "alg"));
    char *candidate = NULL;
    unsigned key_alg = 0;
    if (kid != NULL && (jwk_kid == NULL || strcmp(jwk_kid, kid) != 0))
      continue;
    named = 1;
    if ((jwk_alg != NULL && strcmp(jwk_alg, alg_name) != 0) || oidc_jwk_to_pem(jwk, &candidate, &key_alg) != 0 ||
        key_alg != alg) {
      free(candidate);
      continue;
    }
    candidates++;
    free(*pem);
    *pem = candidate;
  }
  if (candidates == 1)
    return OIDC_VERIFIED;
  free(*pem);
  *pem = NULL;
  return kid != NULL && !named ? OIDC_UNKNOWN_KID : OIDC_REJECTED;
}

/* aud holds the client; azp, when present, is the client, and must be when there are several audiences. */
static int audience_holds(const json_t *payload, const char *client_id) {
  const json_t *aud = json_object_get(payload, "aud");
  const char *azp = json_string_value(json_object_get(payload, "azp"));
  if (json_object_get(payload, "azp") != NULL && (azp == NULL || strcmp(azp, client_id) != 0))
    return 0;
  return token_audience_matches(aud, client_id) && (!json_is_array(aud) || json_array_size(aud) == 1 || azp != NULL);
}

/* iss, aud/azp, exp, iat, nonce and sub; the email and whether the provider verified it. */
static int claims_hold(const json_t *payload, const oidc_expect *e, oidc_identity *out) {
  const char *iss = json_string_value(json_object_get(payload, "iss"));
  const char *nonce = json_string_value(json_object_get(payload, "nonce"));
  const json_t *exp = json_object_get(payload, "exp"), *iat = json_object_get(payload, "iat");
  if (iss == NULL || strcmp(iss, e->issuer) != 0 || !audience_holds(payload, e->client_id))
    return 0;
  if (!json_is_number(exp) || !json_is_number(iat) || json_number_value(exp) <= (double)(e->now - LEEWAY_SECONDS) ||
      json_number_value(iat) > (double)(e->now + LEEWAY_SECONDS))
    return 0;
  if (nonce == NULL || e->nonce == NULL || strcmp(nonce, e->nonce) != 0)
    return 0;
  if (!token_string_claim(payload, "sub", out->subject, sizeof out->subject))
    return 0;
  token_string_claim(payload, "email", out->email, sizeof out->email);
  const json_t *verified =
      json_object_get(payload, e->email_verified_claim ? e->email_verified_claim : "email_verified");
  out->email_verified =
      json_is_true(verified) || (json_is_string(verified) && strcmp(json_string_value(verified), "true") == 0);
  return 1;
}

oidc_verdict oidc_verify_id_token(const char *token, const json_t *jwks, const oidc_expect *e, oidc_identity *out) {
  token_parts t;
  char *pem = NULL;
  oidc_verdict v = OIDC_REJECTED;
  memset(out, 0, sizeof *out);
  if (token_decode_parts(token, &t) != 0) /* also an unsigned "a.b." token */
    return OIDC_REJECTED;
  const json_t *header = t.header;
  /* the algorithm is pinned before any signature work: none, HS* and unadvertised ones fail here */
  unsigned alg = header_alg(header, e->algs);
  if (alg == 0 || json_object_get(header, "crit") != NULL)
    goto out;
  if ((v = select_key(header, jwks, alg, &pem)) != OIDC_VERIFIED)
    goto out;
  v = OIDC_REJECTED;
  if (jwt_decode(&t.jwt, token, (const unsigned char *)pem, (int)strlen(pem)) != 0 || t.jwt == NULL ||
      jwt_get_alg(t.jwt) != (alg == OIDC_ALG_RS256 ? JWT_ALG_RS256 : JWT_ALG_ES256))
    goto out;
  if (claims_hold(t.payload, e, out))
    v = OIDC_VERIFIED;
out:
  if (v != OIDC_VERIFIED)
    memset(out, 0, sizeof *out);
  token_parts_free(&t);
  free(pem);
  return v;
}
