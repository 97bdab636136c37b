/* Unit tests for single sign-on's pure parts (src/auth/oidc_verify.c, oidc_providers.c): ID token
 * verification against a JWKS, the JWK -> PEM conversion, the providers file and the discovery document.
 *
 * Keys are made here with OpenSSL (RSA 2048 and P-256), published as a JWKS built from their public
 * parameters, and ID tokens are signed with libjwt. Each rejection changes one thing of a token that
 * test_valid_rs256/test_valid_es256 show verifying, so a rejection cannot pass for an unrelated reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "forumnet/oidc.h"

#define NOW ((time_t)1700000000)
#define ISS "https://idp.example.org/tenant/v2.0"
#define CLIENT "forumnet-client"
#define NONCE "n-0S6_WzA2Mj"

typedef struct test_key {
  EVP_PKEY *pkey;
  char *private_pem, *public_pem;
} test_key;

static test_key rsa1, rsa2, ec1, rsa_small;
static json_t *jwks; /* rsa1 (kid "rsa1"), ec1 (kid "ec1") */

static char *pem_of(EVP_PKEY *pkey, int private_key) {
  BIO *bio = BIO_new(BIO_s_mem());
  char *data = NULL;
  assert_int_equal(private_key ? PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL)
                               : PEM_write_bio_PUBKEY(bio, pkey),
                   1);
  long len = BIO_get_mem_data(bio, &data);
  /* The BIO's buffer is not NUL-terminated: copy exactly len bytes (strndup would look past it). */
  char *pem = malloc((size_t)len + 1);
  assert_non_null(pem);
  memcpy(pem, data, (size_t)len);
  pem[len] = '\0';
  BIO_free(bio);
  return pem;
}

static void make_key(test_key *k, const char *type, const char *param) {
  k->pkey = strcmp(type, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)atoi(param))
                                     : EVP_PKEY_Q_keygen(NULL, NULL, "EC", param);
  assert_non_null(k->pkey);
  k->private_pem = pem_of(k->pkey, 1);
  k->public_pem = pem_of(k->pkey, 0);
}

/* A BIGNUM parameter as base64url, padded to width bytes (0: its own length). */
static json_t *b64_param(EVP_PKEY *pkey, const char *name, int width) {
  BIGNUM *bn = NULL;
  unsigned char bin[1024];
  char text[1400];
  assert_int_equal(EVP_PKEY_get_bn_param(pkey, name, &bn), 1);
  int len = width ? BN_bn2binpad(bn, bin, width) : BN_bn2bin(bn, bin);
  BN_free(bn);
  sodium_bin2base64(text, sizeof text, bin, (size_t)len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return json_string(text);
}

static json_t *rsa_jwk(const test_key *k, const char *kid) {
  return json_pack("{s:s, s:s, s:s, s:o, s:o}", "kty", "RSA", "kid", kid, "use", "sig", "n",
                   b64_param(k->pkey, OSSL_PKEY_PARAM_RSA_N, 0), "e", b64_param(k->pkey, OSSL_PKEY_PARAM_RSA_E, 0));
}

static json_t *ec_jwk(const test_key *k, const char *kid) {
  return json_pack("{s:s, s:s, s:s, s:o, s:o}", "kty", "EC", "kid", kid, "crv", "P-256", "x",
                   b64_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, 32), "y",
                   b64_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
}

static int group_setup(void **state) {
  (void)state;
  make_key(&rsa1, "RSA", "2048");
  make_key(&rsa2, "RSA", "2048");
  make_key(&rsa_small, "RSA", "1024");
  make_key(&ec1, "EC", "P-256");
  jwks = json_pack("{s:[o, o]}", "keys", rsa_jwk(&rsa1, "rsa1"), ec_jwk(&ec1, "ec1"));
  return 0;
}

static void free_key(test_key *k) {
  EVP_PKEY_free(k->pkey);
  free(k->private_pem);
  free(k->public_pem);
}

static int group_teardown(void **state) {
  (void)state;
  free_key(&rsa1);
  free_key(&rsa2);
  free_key(&rsa_small);
  free_key(&ec1);
  json_decref(jwks);
  return 0;
}

/* The claims of a valid ID token at NOW. */
static json_t *claims(void) {
  return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:b}", "iss", ISS, "aud", CLIENT, "sub", "user-1", "nonce",
                   NONCE, "iat", (json_int_t)NOW - 5, "exp", (json_int_t)NOW + 600, "email", "ana@council.example",
                   "email_verified", 1);
}

/* Signs the claims (stolen) with libjwt: alg, key (PEM or secret; NULL for none), kid (NULL for none). */
static char *sign(jwt_alg_t alg, const char *key, const char *kid, json_t *payload) {
  jwt_t *jwt = NULL;
  char *grants = json_dumps(payload, JSON_COMPACT);
  json_decref(payload);
  assert_int_equal(jwt_new(&jwt), 0);
  assert_int_equal(jwt_add_grants_json(jwt, grants), 0);
  free(grants);
  assert_int_equal(jwt_set_alg(jwt, alg, (const unsigned char *)key, key ? (int)strlen(key) : 0), 0);
  if (kid)
    assert_int_equal(jwt_add_header(jwt, "kid", kid), 0);
  char *token = jwt_encode_str(jwt);
  assert_non_null(token);
  jwt_free(jwt);
  return token;
}

static oidc_verdict verify_with(const char *token, unsigned algs, oidc_identity *who) {
  const oidc_expect e = {ISS, CLIENT, NONCE, "email_verified", algs, NOW};
  return oidc_verify_id_token(token, jwks, &e, who);
}

/* Verifies with both algorithms advertised, then frees the token. */
static oidc_verdict verify(char *token) {
  oidc_identity who;
  oidc_verdict v = verify_with(token, OIDC_ALG_RS256 | OIDC_ALG_ES256, &who);
  free(token);
  return v;
}

/* A valid token's claims with one member set (value stolen; NULL removes it). */
static json_t *claims_with(const char *key, json_t *value) {
  json_t *c = claims();
  if (value)
    json_object_set_new(c, key, value);
  else
    json_object_del(c, key);
  return c;
}

static void test_valid_rs256(void **state) {
  (void)state;
  oidc_identity who;
  char *token = sign(JWT_ALG_RS256, rsa1.private_pem, "rsa1", claims());
  assert_int_equal(verify_with(token, OIDC_ALG_RS256, &who), OIDC_VERIFIED);
  assert_string_equal(who.subject, "user-1");
  assert_string_equal(who.email, "ana@council.example");
  assert_int_equal(who.email_verified, 1);
  free(token);
  /* email_verified false (or absent) is reported, not rejected: linking decides */
  token = sign(JWT_ALG_RS256, rsa1.private_pem, "rsa1", claims_with("email_verified", json_false()));
  assert_int_equal(verify_with(token, OIDC_ALG_RS256, &who), OIDC_VERIFIED);
  assert_int_equal(who.email_verified, 0);
  free(token);
}

/* A provider whose file names another claim (Entra ID's xms_edov): that claim decides, email_verified not. */
static void test_email_verified_claim_named_by_the_provider(void **state) {
  (void)state;
  const oidc_expect e = {ISS, CLIENT, NONCE, "xms_edov", OIDC_ALG_RS256, NOW};
  oidc_identity who;
  json_t *c = claims_with("email_verified", NULL);
  json_object_set_new(c, "xms_edov", json_true());
  char *token = sign(JWT_ALG_RS256, rsa1.private_pem, "rsa1", c);
  assert_int_equal(oidc_verify_id_token(token, jwks, &e, &who), OIDC_VERIFIED);
  assert_int_equal(who.email_verified, 1);
  free(token);
  token = sign(JWT_ALG_RS256, rsa1.private_pem, "rsa1", claims()); /* email_verified: true, no xms_edov */
  assert_int_equal(oidc_verify_id_token(token, jwks, &e, &who), OIDC_VERIFIED);
  assert_int_equal(who.email_verified, 0);
  free(token);
}

static void test_valid_es256(void **state) {
  (void)state;
  oidc_identity who;
  char *token = sign(JWT_ALG_ES256, ec1.private_pem, "ec1", claims());
  assert_int_equal(verify_with(token, OIDC_ALG_ES256, &who), OIDC_VERIFIED);
  assert_string_equal(who.subject, "user-1");
  /* the JOSE signature form providers send (RFC 7518 3.4: R || S, 64 bytes = 86 base64url characters), not
   * DER: what libjwt signs here is what it verifies from a provider */
  assert_int_equal(strlen(strrchr(token, '.') + 1), 86);
  free(token);
  /* without a kid, the only key of the alg's type is used */
  assert_int_equal(verify(sign(JWT_ALG_ES256, ec1.private_pem, NULL, claims())), OIDC_VERIFIED);
}

static void test_other_key_same_kid_rejected(void **state) {
  (void)state;
  assert_int_equal(verify(sign(JWT_ALG_RS256, rsa2.private_pem, "rsa1", claims())), OIDC_REJECTED);
}

static void test_alg_none_rejected(void **state) {
  (void)state;
  assert_int_equal(verify(sign(JWT_ALG_NONE, NULL, "rsa1", claims())), OIDC_REJECTED);
  /* "none" with a signature part appended, and a header naming the key */
  char *unsigned_token = sign(JWT_ALG_NONE, NULL, "rsa1", claims());
  char *with_sig = malloc(strlen(unsigned_token) + 8);
  sprintf(with_sig, "%sAAAA", unsigned_token);
  free(unsigned_token);
  assert_int_equal(verify(with_sig), OIDC_REJECTED);
}

/* libjwt 1.10 given a PEM and an alg:none token: it refuses (the verifier pins the alg before it anyway). */
static void test_libjwt_none_with_key(void **state) {
  (void)state;
  char *token = sign(JWT_ALG_NONE, NULL, "rsa1", claims());
  jwt_t *jwt = NULL;
  int rc = jwt_decode(&jwt, token, (const unsigned char *)rsa1.public_pem, (int)strlen(rsa1.public_pem));
  assert_int_not_equal(rc, 0);
  jwt_free(jwt);
  free(token);
}

static void test_hs256_with_public_key_rejected(void **state) {
  (void)state;
  /* algorithm confusion: HMAC keyed with the provider's public key, which anyone can read */
  char *token = sign(JWT_ALG_HS256, rsa1.public_pem, "rsa1", claims());
  /* libjwt itself would take it if handed the PEM with HS256 chosen by the token ... */
  jwt_t *jwt = NULL;
  int rc = jwt_decode(&jwt, token, (const unsigned char *)rsa1.public_pem, (int)strlen(rsa1.public_pem));
  assert_int_equal(rc, 0);
  jwt_free(jwt);
  /* ... so the verifier must refuse it before */
  assert_int_equal(verify(token), OIDC_REJECTED);
}

static void test_alg_not_advertised_rejected(void **state) {
  (void)state;
  oidc_identity who;
  char *token = sign(JWT_ALG_ES256, ec1.private_pem, "ec1", claims());
  assert_int_equal(verify_with(token, OIDC_ALG_RS256, &who), OIDC_REJECTED);
  free(token);
  /* RS384 is never accepted */
  assert_int_equal(verify(sign(JWT_ALG_RS384, rsa1.private_pem, "rsa1", claims())), OIDC_REJECTED);
}

static void test_alg_not_matching_key_type_rejected(void **state) {
  (void)state;
  /* an RS256 token naming the EC key, and an ES256 one naming the RSA key */
  assert_int_equal(verify(sign(JWT_ALG_RS256, rsa1.private_pem, "ec1", claims())), OIDC_REJECTED);
  assert_int_equal(verify(sign(JWT_ALG_ES256, ec1.private_pem, "rsa1", claims())), OIDC_REJECTED);
}

static void test_wrong_iss_rejected(void **state) {
  (void)state;
  assert_int_equal(verify(sign(JWT_ALG_RS256, rsa1.private_pem, "rsa1",
                               claims_with("iss", json_string("https://evil.example.org/tenant/v2.0")))),
                   OIDC_REJECTED);
  assert_int_equal(verify(sign(JWT_ALG_RS256, rsa1.private_pem, "rsa1", claims_with("iss", NULL))), OIDC_REJECTED);
}

static void test_audience(void **state) {
  (void)state;
  assert_int_equal(verify(sign(JWT_ALG_RS256, rsa1.private_pem, "rsa1", claims_with("aud", json_string("other")))),
                   OIDC_REJECTED);
  assert_int_equal(verify(sign(JWT_ALG_RS256, rsa1.private_pem, "rsa1", claims_with("aud", NULL))), OIDC_REJECTED);
  /* several audiences: accepted only when azp names this client */
  assert_int_equal(
      verify(sign(JWT_ALG_RS256, rsa1.private_pem, "rsa1", claims_with("aud", json_pack("[s, s]", "other", CLIENT)))),
      OIDC_REJECTED);
  json_t *c = claims_with("aud", json_pack("[s, s]", "other", CLIENT));
  json_object_set_new(c, "azp", json_string(CLIENT));
  assert_int_equal(verify(sign(JWT_ALG_RS256, rsa1.private_pem, "rsa1", c)), OIDC_VERIFIED);
  assert_int_equal(verify(sign(JWT_ALG_RS256, rsa1.private_pem, "rsa1", claims_with("azp", json_string("other")))),
                   OIDC_REJECTED);
}

static void test_times(void **state) {
  (void)state;
  assert_int_equal(
      verify(sign(JWT_ALG_RS256, rsa1.private_pem, "rsa1", claims_with("exp", json_integer((json_int_t)NOW - 120)))),
      OIDC_REJECTED);
  assert_int_equal(
      verify(sign(JWT_ALG_RS256, rsa1.private_pem, "rsa1", claims_with("iat", json_integer((json_int_t)NOW + 600)))),
      OIDC_REJECTED);
  assert_int_equal(verify(sign(JWT_ALG_RS256, rsa1.private_pem, "rsa1", claims_with("exp", NULL))), OIDC_REJECTED);
  assert_int_equal(verify(sign(JWT_ALG_RS256, rsa1.private_pem, "rsa1", claims_with("iat", NULL))), OIDC_REJECTED);
  /* within the 60 s leeway */
  assert_int_equal(
      verify(sign(JWT_ALG_RS256, rsa1.private_pem, "rsa1", claims_with("iat", json_integer((json_int_t)NOW + 30)))),
      OIDC_VERIFIED);
}

static void test_nonce_and_sub(void **state) {
  (void)state;
  assert_int_equal(verify(sign(JWT_ALG_RS256, rsa1.private_pem, "rsa1", claims_with("nonce", json_string("other")))),
                   OIDC_REJECTED);
  assert_int_equal(verify(sign(JWT_ALG_RS256, rsa1.private_pem, "rsa1", claims_with("nonce", NULL))), OIDC_REJECTED);
  assert_int_equal(verify(sign(JWT_ALG_RS256, rsa1.private_pem, "rsa1", claims_with("sub", NULL))), OIDC_REJECTED);
  assert_int_equal(verify(sign(JWT_ALG_RS256, rsa1.private_pem, "rsa1", claims_with("sub", json_string("")))),
                   OIDC_REJECTED);
}

static void test_unknown_kid(void **state) {
  (void)state;
  assert_int_equal(verify(sign(JWT_ALG_RS256, rsa2.private_pem, "rsa2", claims())), OIDC_UNKNOWN_KID);
  /* once the JWKS has the key, the same token verifies */
  json_t *rotated = json_pack("{s:[o]}", "keys", rsa_jwk(&rsa2, "rsa2"));
  const oidc_expect e = {ISS, CLIENT, NONCE, "email_verified", OIDC_ALG_RS256, NOW};
  oidc_identity who;
  char *token = sign(JWT_ALG_RS256, rsa2.private_pem, "rsa2", claims());
  assert_int_equal(oidc_verify_id_token(token, rotated, &e, &who), OIDC_VERIFIED);
  free(token);
  json_decref(rotated);
}

static void test_malformed_tokens(void **state) {
  (void)state;
  oidc_identity who;
  const char *const bad[] = {"", "a.b", "a.b.c.d", "not a token", "eyJhbGciOiJSUzI1NiJ9.e30.", NULL};
  for (int i = 0; bad[i]; i++)
    assert_int_equal(verify_with(bad[i], OIDC_ALG_RS256, &who), OIDC_REJECTED);
}

/* ---- JWK -> PEM ---- */

static void test_jwk_to_pem(void **state) {
  (void)state;
  char *pem = NULL;
  unsigned alg = 0;
  json_t *jwk = rsa_jwk(&rsa1, "x");
  assert_int_equal(oidc_jwk_to_pem(jwk, &pem, &alg), 0);
  assert_int_equal(alg, OIDC_ALG_RS256);
  assert_string_equal(pem, rsa1.public_pem);
  free(pem);
  json_decref(jwk);
  jwk = ec_jwk(&ec1, "x");
  assert_int_equal(oidc_jwk_to_pem(jwk, &pem, &alg), 0);
  assert_int_equal(alg, OIDC_ALG_ES256);
  assert_string_equal(pem, ec1.public_pem);
  free(pem);
  json_decref(jwk);
}

static void expect_bad_jwk(json_t *jwk) {
  char *pem = (char *)"untouched";
  unsigned alg = 9;
  assert_int_equal(oidc_jwk_to_pem(jwk, &pem, &alg), -1);
  assert_null(pem);
  assert_int_equal(alg, 0);
  json_decref(jwk);
}

static void test_bad_jwks(void **state) {
  (void)state;
  expect_bad_jwk(rsa_jwk(&rsa_small, "small")); /* 1024 bits */
  json_t *jwk = ec_jwk(&ec1, "x");
  json_object_set_new(jwk, "crv", json_string("P-384"));
  expect_bad_jwk(jwk);
  jwk = ec_jwk(&ec1, "x");
  json_object_set_new(jwk, "x", json_string("AAAA"));
  expect_bad_jwk(jwk);
  jwk = ec_jwk(&ec1, "x"); /* a point off the curve */
  json_object_set(jwk, "y", json_object_get(jwk, "x"));
  expect_bad_jwk(jwk);
  jwk = rsa_jwk(&rsa1, "x");
  json_object_set_new(jwk, "use", json_string("enc"));
  expect_bad_jwk(jwk);
  expect_bad_jwk(json_pack("{s:s, s:s}", "kty", "oct", "k", "c2VjcmV0"));
  expect_bad_jwk(json_pack("{s:s, s:s}", "kty", "RSA", "n", "not base64url!"));
}

/* ---- providers file and discovery ---- */

#define PROVIDER(id, issuer, extra)                                                                                    \
  "{\"id\": \"" id "\", \"display_name\": \"Council\", \"issuer\": \"" issuer "\", \"client_id\": \"c1\","             \
  " \"client_secret\": \"TOPSECRET\", \"redirect_uris\": [\"https://app.example.org/cb\"]" extra "}"

static fn_status parse(const char *text, int allow_http, int *count, char *err, size_t err_len) {
  oidc_provider *list = NULL;
  fn_status st = oidc_providers_parse(text, allow_http, &list, count, err, err_len);
  if (st == FN_OK) {
    assert_non_null(list);
    free(list);
  } else {
    assert_null(list);
    assert_null(strstr(err, "TOPSECRET"));
    assert_non_null(strstr(err, "FORUMNET_OIDC_PROVIDERS_FILE"));
  }
  return st;
}

static void test_providers_file(void **state) {
  (void)state;
  char err[512];
  int count = 0;
  oidc_provider *list = NULL;
  const char *good = "[" PROVIDER(
      "entra", "https://login.microsoftonline.com/t/v2.0",
      ", \"email_domains\": [\"council.example\"]") "," PROVIDER("other", "https://idp.example.org", "") "]";
  assert_int_equal(oidc_providers_parse(good, 0, &list, &count, err, sizeof err), FN_OK);
  assert_int_equal(count, 2);
  assert_string_equal(list[0].id, "entra");
  assert_string_equal(list[0].client_secret, "TOPSECRET");
  assert_int_equal(list[0].redirect_uri_count, 1);
  assert_int_equal(list[0].email_domain_count, 1);
  assert_int_equal(oidc_email_domain_allowed(&list[0], "ana@Council.Example"), 1);
  assert_int_equal(oidc_email_domain_allowed(&list[0], "ana@evil.example"), 0);
  assert_int_equal(oidc_email_domain_allowed(&list[0], "ana@council.example.evil.example"), 0);
  assert_int_equal(oidc_email_domain_allowed(&list[1], "anyone@anywhere.example"), 1);
  assert_int_equal(oidc_redirect_uri_allowed(&list[0], "https://app.example.org/cb"), 1);
  assert_int_equal(oidc_redirect_uri_allowed(&list[0], "https://app.example.org/cb2"), 0);
  assert_string_equal(list[0].email_verified_claim, "email_verified"); /* the default */
  free(list);
  assert_int_equal(oidc_providers_parse(
                       "[" PROVIDER("entra", "https://idp.example.org", ", \"email_verified_claim\": \"xms_edov\"") "]",
                       0, &list, &count, err, sizeof err),
                   FN_OK);
  assert_string_equal(list[0].email_verified_claim, "xms_edov");
  free(list);
  assert_int_equal(parse("[]", 0, &count, err, sizeof err), FN_OK);
  assert_int_equal(count, 0);

  const char *const bad[] = {
      "{}",
      "not json",
      "[" PROVIDER("a", "https://idp.example.org", ", \"scope\": \"openid\"") "]",
      "[" PROVIDER("a", "https://idp.example.org", "") "," PROVIDER("a", "https://idp2.example.org", "") "]",
      "[" PROVIDER("a", "http://idp.example.org", "") "]",
      "[" PROVIDER("a", "idp.example.org", "") "]",
      "[" PROVIDER("A b", "https://idp.example.org", "") "]",
      "[" PROVIDER("a", "https://idp.example.org", ", \"email_domains\": \"council.example\"") "]",
      "[" PROVIDER("a", "https://idp.example.org", ", \"email_verified_claim\": \"\"") "]",
      "[" PROVIDER("a", "https://idp.example.org", ", \"email_verified_claim\": true") "]",
      "[{\"id\": \"a\", \"display_name\": \"A\", \"issuer\": \"https://idp.example.org\", \"client_id\": \"c\","
      " \"redirect_uris\": [\"https://app.example.org/cb\"]}]",
      "[{\"id\": \"a\", \"display_name\": \"A\", \"issuer\": \"https://idp.example.org\", \"client_id\": \"c\","
      " \"client_secret\": \"TOPSECRET\", \"redirect_uris\": []}]",
      NULL,
  };
  for (int i = 0; bad[i]; i++)
    if (parse(bad[i], 0, &count, err, sizeof err) != FN_INVALID)
      fail_msg("accepted: %s", bad[i]);
  /* http:// issuers only with FORUMNET_OIDC_ALLOW_HTTP=1 */
  assert_int_equal(parse("[" PROVIDER("a", "http://127.0.0.1:9999", "") "]", 1, &count, err, sizeof err), FN_OK);
  assert_int_equal(parse("[" PROVIDER("a", "http://127.0.0.1:9999", "") "]", 0, &count, err, sizeof err), FN_INVALID);
  assert_non_null(strstr(err, "https://"));
}

static void test_discovery_document(void **state) {
  (void)state;
  oidc_metadata m;
  json_t *doc =
      json_pack("{s:s, s:s, s:s, s:s, s:[s, s, s]}", "issuer", ISS, "authorization_endpoint",
                "https://idp.example.org/authorize", "token_endpoint", "https://idp.example.org/token", "jwks_uri",
                "https://idp.example.org/keys", "id_token_signing_alg_values_supported", "RS256", "HS256", "none");
  assert_int_equal(oidc_metadata_parse(doc, ISS, 0, &m), FN_OK);
  assert_int_equal(m.algs, OIDC_ALG_RS256);
  assert_string_equal(m.token_endpoint, "https://idp.example.org/token");
  assert_int_equal(oidc_metadata_parse(doc, "https://other.example.org", 0, &m), FN_INVALID);
  json_object_set_new(doc, "id_token_signing_alg_values_supported", json_pack("[s, s]", "HS256", "none"));
  assert_int_equal(oidc_metadata_parse(doc, ISS, 0, &m), FN_INVALID);
  json_object_set_new(doc, "id_token_signing_alg_values_supported", json_pack("[s]", "ES256"));
  json_object_set_new(doc, "token_endpoint", json_string("http://idp.example.org/token"));
  assert_int_equal(oidc_metadata_parse(doc, ISS, 0, &m), FN_INVALID);
  assert_int_equal(oidc_metadata_parse(doc, ISS, 1, &m), FN_OK);
  assert_int_equal(m.algs, OIDC_ALG_ES256);
  json_decref(doc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_rs256),
      cmocka_unit_test(test_email_verified_claim_named_by_the_provider),
      cmocka_unit_test(test_valid_es256),
      cmocka_unit_test(test_other_key_same_kid_rejected),
      cmocka_unit_test(test_alg_none_rejected),
      cmocka_unit_test(test_libjwt_none_with_key),
      cmocka_unit_test(test_hs256_with_public_key_rejected),
      cmocka_unit_test(test_alg_not_advertised_rejected),
      cmocka_unit_test(test_alg_not_matching_key_type_rejected),
      cmocka_unit_test(test_wrong_iss_rejected),
      cmocka_unit_test(test_audience),
      cmocka_unit_test(test_times),
      cmocka_unit_test(test_nonce_and_sub),
      cmocka_unit_test(test_unknown_kid),
      cmocka_unit_test(test_malformed_tokens),
      cmocka_unit_test(test_jwk_to_pem),
      cmocka_unit_test(test_bad_jwks),
      cmocka_unit_test(test_providers_file),
      cmocka_unit_test(test_discovery_document),
  };
  return cmocka_run_group_tests_name("oidc_verify", tests, group_setup, group_teardown);
}
