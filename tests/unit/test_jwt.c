/* Unit tests for src/auth/jwt.c (token.h): token_issue/token_verify round trips for HS256,
 * RS256 and ES256, and token_verify refusing every kind of forged or unacceptable token.
 *
 * Tokens are forged here with libjwt directly (sign_jwt) or by hand with libsodium's
 * base64url and HMAC-SHA256 (forge). Every rejection test first builds the same token with
 * the one faulty part made correct and checks that it IS accepted, so a rejection cannot
 * pass for an unrelated reason (wrong key, missing claim, clock). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <jwt.h>
#include <sodium.h>

#include "forumnet/config.h"
#include "forumnet/password.h"
#include "forumnet/token.h"
#include "test_only_keys.h"

#define NOW ((time_t)1700000000)
#define HOUR 3600

static const char SECRET[] = "unit-test-secret-0123456789abcdef";       /* current key, kid k1 / k2 */
static const char OLD_SECRET[] = "unit-test-old-secret-0123456789abcd"; /* previous key, kid k1 */
static const char OTHER_SECRET[] = "attacker-secret-0123456789abcdefgh";

/* ---- configurations, loaded through config_load from a fake environment ---- */

static fn_config hs;        /* HS256, SECRET, kid k1 */
static fn_config hs_k2;     /* HS256, SECRET, kid k2, no previous key */
static fn_config hs_rot;    /* HS256, SECRET as k2, OLD_SECRET still accepted as k1 */
static fn_config rs_verify; /* RS256 with the public key only (verification) */
static fn_config es;        /* ES256 with both keys */
static fn_config rs;        /* RS256 with both keys; rs_loaded says whether config_load took it */
static int rs_loaded;
static char rs_load_error[256];

#define ENV_MAX 16
static const char *env_names[ENV_MAX], *env_values[ENV_MAX];
static int env_count;

static const char *fake_getenv(const char *name) {
  for (int i = 0; i < env_count; i++)
    if (strcmp(env_names[i], name) == 0)
      return env_values[i];
  return NULL;
}

/* Loads cfg from name/value pairs ending with NULL. */
static fn_status load_config(fn_config *cfg, int need_jwt, char *err, size_t err_len, ...) {
  va_list ap;
  va_start(ap, err_len);
  env_count = 0;
  const char *name;
  while ((name = va_arg(ap, const char *)) != NULL && env_count < ENV_MAX) {
    env_names[env_count] = name;
    env_values[env_count] = va_arg(ap, const char *);
    env_count++;
  }
  va_end(ap);
  return config_load(cfg, fake_getenv, 0, need_jwt, err, err_len);
}

static char key_dir[64];
static char rsa_priv_path[128], rsa_pub_path[128], ec_priv_path[128], ec_pub_path[128];

static int write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (f == NULL)
    return -1;
  size_t n = fwrite(text, 1, strlen(text), f);
  return (fclose(f) == 0 && n == strlen(text)) ? 0 : -1;
}

static int group_setup(void **state) {
  (void)state;
  char err[256];
  if (password_init() != FN_OK)
    return -1;
  strcpy(key_dir, "/tmp/forumnet-test-jwt-XXXXXX");
  if (mkdtemp(key_dir) == NULL)
    return -1;
  snprintf(rsa_priv_path, sizeof rsa_priv_path, "%s/rsa.pem", key_dir);
  snprintf(rsa_pub_path, sizeof rsa_pub_path, "%s/rsa.pub", key_dir);
  snprintf(ec_priv_path, sizeof ec_priv_path, "%s/ec.pem", key_dir);
  snprintf(ec_pub_path, sizeof ec_pub_path, "%s/ec.pub", key_dir);
  if (write_file(rsa_priv_path, TEST_ONLY_RSA_PRIVATE_KEY_PEM) ||
      write_file(rsa_pub_path, TEST_ONLY_RSA_PUBLIC_KEY_PEM) ||
      write_file(ec_priv_path, TEST_ONLY_EC_PRIVATE_KEY_PEM) || write_file(ec_pub_path, TEST_ONLY_EC_PUBLIC_KEY_PEM))
    return -1;

  if (load_config(&hs, 1, err, sizeof err, "FORUMNET_JWT_SECRET", SECRET, NULL) != FN_OK ||
      load_config(&hs_k2, 1, err, sizeof err, "FORUMNET_JWT_SECRET", SECRET, "FORUMNET_JWT_KID", "k2", NULL) != FN_OK ||
      load_config(&hs_rot, 1, err, sizeof err, "FORUMNET_JWT_SECRET", SECRET, "FORUMNET_JWT_KID", "k2",
                  "FORUMNET_JWT_PREVIOUS_SECRET", OLD_SECRET, "FORUMNET_JWT_PREVIOUS_KID", "k1", NULL) != FN_OK ||
      load_config(&rs_verify, 0, err, sizeof err, "FORUMNET_JWT_ALG", "RS256", "FORUMNET_JWT_PUBLIC_KEY_FILE",
                  rsa_pub_path, NULL) != FN_OK ||
      load_config(&es, 1, err, sizeof err, "FORUMNET_JWT_ALG", "ES256", "FORUMNET_JWT_PRIVATE_KEY_FILE", ec_priv_path,
                  "FORUMNET_JWT_PUBLIC_KEY_FILE", ec_pub_path, NULL) != FN_OK) {
    fprintf(stderr, "config_load failed: %s\n", err);
    return -1;
  }
  rs_loaded = load_config(&rs, 1, rs_load_error, sizeof rs_load_error, "FORUMNET_JWT_ALG", "RS256",
                          "FORUMNET_JWT_PRIVATE_KEY_FILE", rsa_priv_path, "FORUMNET_JWT_PUBLIC_KEY_FILE", rsa_pub_path,
                          NULL) == FN_OK;
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  unlink(rsa_priv_path);
  unlink(rsa_pub_path);
  unlink(ec_priv_path);
  unlink(ec_pub_path);
  rmdir(key_dir);
  return 0;
}

/* ---- token builders ---- */

/* The claims token_issue would produce at NOW; new reference. */
static json_t *good_claims(void) {
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "iss", "forumnet", "aud", "forumnet-api", "sub",
                   "0b7f6a36-4c1e-4d7e-9a5b-2f1d3c4e5a6b", "typ", TOKEN_TYPE_ACCESS, "role", "member", "jti",
                   "unit-test-jti", "iat", (json_int_t)NOW, "nbf", (json_int_t)NOW, "exp", (json_int_t)(NOW + 900));
}

static json_t *claims_set(json_t *claims, const char *key, json_t *value) {
  json_object_set_new(claims, key, value);
  return claims;
}

static json_t *claims_del(json_t *claims, const char *key) {
  json_object_del(claims, key);
  return claims;
}

/* Signs claims (stolen) with libjwt; kid NULL leaves the header without one. Caller frees. */
static char *sign_jwt(jwt_alg_t alg, const void *key, size_t key_len, const char *kid, json_t *claims) {
  jwt_t *jwt = NULL;
  char *text = json_dumps(claims, JSON_COMPACT);
  char *token = NULL;
  json_decref(claims);
  assert_non_null(text);
  assert_int_equal(jwt_new(&jwt), 0);
  assert_int_equal(jwt_add_grants_json(jwt, text), 0);
  if (kid)
    assert_int_equal(jwt_add_header(jwt, "kid", kid), 0);
  assert_int_equal(jwt_set_alg(jwt, alg, key, (int)key_len), 0);
  token = jwt_encode_str(jwt);
  assert_non_null(token);
  jwt_free(jwt);
  free(text);
  return token;
}

static char *sign_hs256(const char *secret, const char *kid, json_t *claims) {
  return sign_jwt(JWT_ALG_HS256, secret, strlen(secret), kid, claims);
}

static void b64url_append(char *out, size_t out_size, const void *data, size_t len) {
  size_t used = strlen(out);
  assert_true(out_size - used >= sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING));
  sodium_bin2base64(out + used, out_size - used, data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

typedef enum { SIG_HS256, SIG_EMPTY, SIG_DUMMY } sig_kind;

/* Builds a compact JWS by hand from raw header and payload JSON text, so that headers
 * libjwt would never write (alg none, duplicate keys, crit) can be tested. Caller frees. */
static char *forge(const char *header, const char *payload, sig_kind sig, const void *key, size_t key_len) {
  size_t size = 2 * (strlen(header) + strlen(payload)) + 128;
  char *token = calloc(1, size);
  assert_non_null(token);
  b64url_append(token, size, header, strlen(header));
  strcat(token, ".");
  b64url_append(token, size, payload, strlen(payload));
  size_t signing_input_len = strlen(token);
  strcat(token, ".");
  if (sig == SIG_HS256) {
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)token, signing_input_len);
    crypto_auth_hmacsha256_final(&st, mac);
    b64url_append(token, size, mac, sizeof mac);
  } else if (sig == SIG_DUMMY) {
    strcat(token, "c2lnbmF0dXJlLXRoYXQtbWVhbnMtbm90aGluZw");
  }
  return token;
}

/* forge() with claims (stolen) as the payload. */
static char *forge_claims(const char *header, json_t *claims, sig_kind sig, const void *key, size_t key_len) {
  char *payload = json_dumps(claims, JSON_COMPACT);
  json_decref(claims);
  assert_non_null(payload);
  char *token = forge(header, payload, sig, key, key_len);
  free(payload);
  return token;
}

/* ---- verification helpers ---- */

static void expect(const fn_config *cfg, char *token, fn_status want, const char *what, int line) {
  token_claims out;
  memset(&out, 0xAA, sizeof out);
  fn_status st = token_verify(cfg, token, NOW, &out);
  if (st != want)
    fail_msg("line %d: %s: token_verify returned %d, expected %d (%s)\n  token: %s", line, what, st, want,
             want == FN_OK ? "should be accepted" : "should be rejected", token ? token : "(null)");
  if (st != FN_OK) {
    /* Nothing from a rejected token may leak into the caller's claims. */
    token_claims zero;
    memset(&zero, 0, sizeof zero);
    assert_memory_equal(&out, &zero, sizeof out);
  }
  free(token);
}

#define ACCEPTED(cfg, token, what) expect(cfg, token, FN_OK, what, __LINE__)
#define REJECTED(cfg, token, what) expect(cfg, token, FN_UNAUTHENTICATED, what, __LINE__)

/* ---- round trips ---- */

static void test_hs256_round_trip(void **state) {
  (void)state;
  token_claims in = {.sub = "0b7f6a36-4c1e-4d7e-9a5b-2f1d3c4e5a6b", .typ = TOKEN_TYPE_ACCESS, .role = "admin"};
  char *token = NULL;
  assert_int_equal(token_issue(&hs, &in, 900, NOW, &token), FN_OK);
  assert_non_null(token);
  assert_true(strlen(token) < TOKEN_MAX_LEN);

  token_claims out;
  assert_int_equal(token_verify(&hs, token, NOW, &out), FN_OK);
  assert_string_equal(out.sub, in.sub);
  assert_string_equal(out.typ, TOKEN_TYPE_ACCESS);
  assert_string_equal(out.role, "admin");
  assert_string_equal(out.scope, "");
  assert_int_equal(out.iat, NOW);
  assert_int_equal(out.exp, NOW + 900);
  /* Still valid just before expiry, not long after. */
  assert_int_equal(token_verify(&hs, token, NOW + 899, &out), FN_OK);
  assert_int_equal(token_verify(&hs, token, NOW + 900 + HOUR, &out), FN_UNAUTHENTICATED);

  /* The header names the pinned algorithm and the current kid. */
  jwt_t *jwt = NULL;
  assert_int_equal(jwt_decode(&jwt, token, (const unsigned char *)SECRET, (int)strlen(SECRET)), 0);
  assert_int_equal(jwt_get_alg(jwt), JWT_ALG_HS256);
  assert_string_equal(jwt_get_header(jwt, "kid"), "k1");
  assert_string_equal(jwt_get_grant(jwt, "iss"), "forumnet");
  assert_string_equal(jwt_get_grant(jwt, "aud"), "forumnet-api");
  assert_int_equal(jwt_get_grant_int(jwt, "nbf"), NOW);
  assert_non_null(jwt_get_grant(jwt, "jti"));
  jwt_free(jwt);
  free(token);
}

static void test_partner_round_trip(void **state) {
  (void)state;
  token_claims in = {.sub = "partner-7", .typ = TOKEN_TYPE_PARTNER, .scope = "events:write"};
  char *token = NULL;
  assert_int_equal(token_issue(&hs, &in, 300, NOW, &token), FN_OK);
  token_claims out;
  assert_int_equal(token_verify(&hs, token, NOW, &out), FN_OK);
  assert_string_equal(out.sub, "partner-7");
  assert_string_equal(out.typ, TOKEN_TYPE_PARTNER);
  assert_string_equal(out.role, "");
  assert_string_equal(out.scope, "events:write");
  free(token);
}

/* Two tokens issued for the same claims in the same second still differ (random jti). */
static void test_issue_unique_jti(void **state) {
  (void)state;
  token_claims in = {.sub = "m1", .typ = TOKEN_TYPE_ACCESS, .role = "member"};
  char *a = NULL, *b = NULL;
  assert_int_equal(token_issue(&hs, &in, 900, NOW, &a), FN_OK);
  assert_int_equal(token_issue(&hs, &in, 900, NOW, &b), FN_OK);
  assert_string_not_equal(a, b);
  free(a);
  free(b);
}

static void test_es256_round_trip(void **state) {
  (void)state;
  token_claims in = {.sub = "m-es", .typ = TOKEN_TYPE_ACCESS, .role = "member"};
  char *token = NULL;
  assert_int_equal(token_issue(&es, &in, 900, NOW, &token), FN_OK);
  token_claims out;
  assert_int_equal(token_verify(&es, token, NOW, &out), FN_OK);
  assert_string_equal(out.sub, "m-es");
  /* The same token means nothing to an HS256 or RS256 deployment. */
  assert_int_equal(token_verify(&hs, token, NOW, &out), FN_UNAUTHENTICATED);
  assert_int_equal(token_verify(&rs_verify, token, NOW, &out), FN_UNAUTHENTICATED);
  free(token);
}

static void test_rs256_round_trip(void **state) {
  (void)state;
  if (!rs_loaded)
    fail_msg("config_load refused a 2048-bit RS256 key pair: %s", rs_load_error);
  token_claims in = {.sub = "m-rs", .typ = TOKEN_TYPE_ACCESS, .role = "member"};
  char *token = NULL;
  assert_int_equal(token_issue(&rs, &in, 900, NOW, &token), FN_OK);
  token_claims out;
  assert_int_equal(token_verify(&rs, token, NOW, &out), FN_OK);
  assert_string_equal(out.sub, "m-rs");
  assert_int_equal(token_verify(&rs_verify, token, NOW, &out), FN_OK);
  assert_int_equal(token_verify(&hs, token, NOW, &out), FN_UNAUTHENTICATED);
  free(token);
}

/* ---- algorithm pinning ---- */

static const char HS256_HEADER[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}";

static void test_reject_alg_none(void **state) {
  (void)state;
  const char *none_headers[] = {
      "{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"k1\"}",
      "{\"alg\":\"None\",\"typ\":\"JWT\",\"kid\":\"k1\"}",
      "{\"alg\":\"NONE\",\"typ\":\"JWT\",\"kid\":\"k1\"}",
      "{\"alg\":\"none\",\"typ\":\"JWT\"}",
  };
  ACCEPTED(&hs, forge_claims(HS256_HEADER, good_claims(), SIG_HS256, SECRET, strlen(SECRET)),
           "hand-built HS256 control");
  for (size_t i = 0; i < sizeof none_headers / sizeof none_headers[0]; i++) {
    REJECTED(&hs, forge_claims(none_headers[i], good_claims(), SIG_EMPTY, NULL, 0), none_headers[i]);
    REJECTED(&hs, forge_claims(none_headers[i], good_claims(), SIG_DUMMY, NULL, 0), none_headers[i]);
    /* Even a valid HMAC does not make an alg:none header acceptable. */
    REJECTED(&hs, forge_claims(none_headers[i], good_claims(), SIG_HS256, SECRET, strlen(SECRET)), none_headers[i]);
  }
  /* libjwt's own alg-none output, and the same with the trailing dot removed. */
  char *unsigned_token = sign_jwt(JWT_ALG_NONE, NULL, 0, "k1", good_claims());
  assert_int_equal(unsigned_token[strlen(unsigned_token) - 1], '.');
  char *two_segments = strdup(unsigned_token);
  two_segments[strlen(two_segments) - 1] = '\0';
  REJECTED(&hs, unsigned_token, "libjwt alg none");
  REJECTED(&hs, two_segments, "two segments");
  /* Nor do the asymmetric configurations take alg none. */
  REJECTED(&rs_verify, forge_claims("{\"alg\":\"none\"}", good_claims(), SIG_EMPTY, NULL, 0), "RS256 cfg, alg none");
  REJECTED(&es, forge_claims("{\"alg\":\"none\"}", good_claims(), SIG_EMPTY, NULL, 0), "ES256 cfg, alg none");
}

static void test_reject_other_hmac_algorithms(void **state) {
  (void)state;
  ACCEPTED(&hs, sign_jwt(JWT_ALG_HS256, SECRET, strlen(SECRET), "k1", good_claims()), "HS256 control");
  REJECTED(&hs, sign_jwt(JWT_ALG_HS384, SECRET, strlen(SECRET), "k1", good_claims()), "HS384, same secret");
  REJECTED(&hs, sign_jwt(JWT_ALG_HS512, SECRET, strlen(SECRET), "k1", good_claims()), "HS512, same secret");
  /* alg spelled differently but naming HS256. */
  ACCEPTED(&hs, forge_claims(HS256_HEADER, good_claims(), SIG_HS256, SECRET, strlen(SECRET)), "control");
  REJECTED(&hs,
           forge_claims("{\"alg\":\"hs256\",\"typ\":\"JWT\",\"kid\":\"k1\"}", good_claims(), SIG_HS256, SECRET,
                        strlen(SECRET)),
           "lower-case alg");
  REJECTED(&hs,
           forge_claims("{\"alg\":[\"HS256\"],\"typ\":\"JWT\",\"kid\":\"k1\"}", good_claims(), SIG_HS256, SECRET,
                        strlen(SECRET)),
           "alg not a string");
  REJECTED(&hs, forge_claims("{\"typ\":\"JWT\",\"kid\":\"k1\"}", good_claims(), SIG_HS256, SECRET, strlen(SECRET)),
           "alg missing");
}

/* The HS/RS confusion attack: an RS256 deployment's public key is public, so an attacker
 * HMACs a token with the PEM bytes and hopes the verifier uses them as an HS256 secret. */
static void test_reject_hs_rs_confusion(void **state) {
  (void)state;
  ACCEPTED(&rs_verify,
           sign_jwt(JWT_ALG_RS256, TEST_ONLY_RSA_PRIVATE_KEY_PEM, strlen(TEST_ONLY_RSA_PRIVATE_KEY_PEM), "k1",
                    good_claims()),
           "RS256 signed with the private key");
  /* Exactly the bytes the verifier holds as its key... */
  REJECTED(&rs_verify,
           sign_jwt(JWT_ALG_HS256, rs_verify.jwt_public_key, rs_verify.jwt_public_key_len, "k1", good_claims()),
           "HS256 keyed with the RSA public key file");
  /* ...and the usual variants an attacker would also try. */
  REJECTED(&rs_verify,
           sign_jwt(JWT_ALG_HS256, TEST_ONLY_RSA_PUBLIC_KEY_PEM, strlen(TEST_ONLY_RSA_PUBLIC_KEY_PEM) - 1, "k1",
                    good_claims()),
           "HS256 keyed with the PEM minus its newline");
  REJECTED(&rs_verify,
           sign_jwt(JWT_ALG_HS256, rs_verify.jwt_public_key, rs_verify.jwt_public_key_len, NULL, good_claims()),
           "HS256 keyed with the public key, no kid");
  REJECTED(&rs_verify,
           sign_jwt(JWT_ALG_HS512, rs_verify.jwt_public_key, rs_verify.jwt_public_key_len, "k1", good_claims()),
           "HS512 keyed with the public key");

  /* Same attack against ES256. */
  char *es_token = NULL;
  token_claims in = {.sub = "0b7f6a36-4c1e-4d7e-9a5b-2f1d3c4e5a6b", .typ = TOKEN_TYPE_ACCESS, .role = "member"};
  assert_int_equal(token_issue(&es, &in, 900, NOW, &es_token), FN_OK);
  ACCEPTED(&es, es_token, "ES256 control");
  REJECTED(&es, sign_jwt(JWT_ALG_HS256, es.jwt_public_key, es.jwt_public_key_len, "k1", good_claims()),
           "HS256 keyed with the EC public key file");
  /* And an RS256 token (right family, wrong algorithm) is no ES256 token. */
  REJECTED(&es,
           sign_jwt(JWT_ALG_RS256, TEST_ONLY_RSA_PRIVATE_KEY_PEM, strlen(TEST_ONLY_RSA_PRIVATE_KEY_PEM), "k1",
                    good_claims()),
           "RS256 token at an ES256 deployment");
}

/* ---- signature ---- */

static void test_reject_bad_signature(void **state) {
  (void)state;
  char *good = sign_hs256(SECRET, "k1", good_claims());
  char *flipped = strdup(good);
  char *truncated = strdup(good);
  char *no_sig = strdup(good);
  ACCEPTED(&hs, good, "control");

  char *sig = strrchr(flipped, '.') + 1;
  assert_true(strlen(sig) == 43);
  sig[10] = sig[10] == 'A' ? 'B' : 'A';
  REJECTED(&hs, flipped, "one signature character changed");

  truncated[strlen(truncated) - 4] = '\0';
  REJECTED(&hs, truncated, "signature truncated");

  strrchr(no_sig, '.')[1] = '\0';
  REJECTED(&hs, no_sig, "signature removed");

  REJECTED(&hs, sign_hs256(OTHER_SECRET, "k1", good_claims()), "signed with another secret");
  REJECTED(&hs, sign_jwt(JWT_ALG_HS256, SECRET, strlen(SECRET) - 1, "k1", good_claims()), "secret minus one byte");

  /* The payload changed after signing (role raised to admin). */
  char *base = sign_hs256(SECRET, "k1", good_claims());
  char *forged = sign_hs256(SECRET, "k1", claims_set(good_claims(), "role", json_string("admin")));
  const char *base_p = strchr(base, '.'), *forged_p = strchr(forged, '.');
  size_t header_len = (size_t)(base_p - base);
  size_t forged_payload_len = (size_t)(strrchr(forged, '.') - forged_p);
  char *spliced = calloc(1, strlen(base) + strlen(forged) + 1);
  memcpy(spliced, base, header_len);
  memcpy(spliced + header_len, forged_p, forged_payload_len); /* forged ".payload" */
  strcat(spliced, strrchr(base, '.'));                        /* original ".signature" */
  ACCEPTED(&hs, forged, "control: forged claims, properly signed");
  REJECTED(&hs, spliced, "payload swapped under the original signature");
  free(base);
}

/* ---- time claims ---- */

/* Claims issued four hours ago (iat and nbf) with the given exp: only exp varies. */
static json_t *claims_expiring(json_int_t exp) {
  json_t *c = good_claims();
  json_object_set_new(c, "iat", json_integer(NOW - 4 * HOUR));
  json_object_set_new(c, "nbf", json_integer(NOW - 4 * HOUR));
  json_object_set_new(c, "exp", json_integer(exp));
  return c;
}

static void test_reject_expired(void **state) {
  (void)state;
  ACCEPTED(&hs, sign_hs256(SECRET, "k1", claims_expiring(NOW + 900)), "exp ahead");
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_expiring(NOW - HOUR)), "expired an hour ago");
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_expiring(NOW - 3 * HOUR)), "expired three hours ago");
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_expiring(0)), "exp zero");
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_expiring(-1)), "exp negative");
}

static void test_reject_not_yet_valid(void **state) {
  (void)state;
  ACCEPTED(&hs, sign_hs256(SECRET, "k1", claims_set(good_claims(), "nbf", json_integer(NOW))), "nbf now");
  ACCEPTED(&hs, sign_hs256(SECRET, "k1", claims_del(good_claims(), "nbf")), "nbf absent");
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_set(good_claims(), "nbf", json_integer(NOW + HOUR))),
           "nbf an hour ahead");
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_set(good_claims(), "nbf", json_string("0"))), "nbf not a number");
}

static void test_reject_issued_in_future(void **state) {
  (void)state;
  /* exp two hours ahead in both, so iat < exp holds for the faulty token too. */
  ACCEPTED(
      &hs,
      sign_hs256(SECRET, "k1",
                 claims_set(claims_set(good_claims(), "exp", json_integer(NOW + 2 * HOUR)), "iat", json_integer(NOW))),
      "iat now");
  REJECTED(&hs,
           sign_hs256(SECRET, "k1",
                      claims_set(claims_set(good_claims(), "exp", json_integer(NOW + 2 * HOUR)), "iat",
                                 json_integer(NOW + HOUR))),
           "iat an hour ahead");
}

/* ---- identity claims ---- */

static void test_reject_wrong_issuer(void **state) {
  (void)state;
  ACCEPTED(&hs, sign_hs256(SECRET, "k1", claims_set(good_claims(), "iss", json_string("forumnet"))), "iss right");
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_set(good_claims(), "iss", json_string("evil"))), "iss evil");
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_set(good_claims(), "iss", json_string("forumnet "))), "iss + space");
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_set(good_claims(), "iss", json_string("Forumnet"))), "iss case");
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_set(good_claims(), "iss", json_pack("[s]", "forumnet"))), "iss array");
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_del(good_claims(), "iss")), "iss missing");
}

static void test_reject_wrong_audience(void **state) {
  (void)state;
  ACCEPTED(&hs, sign_hs256(SECRET, "k1", claims_set(good_claims(), "aud", json_string("forumnet-api"))), "aud right");
  ACCEPTED(&hs, sign_hs256(SECRET, "k1", claims_set(good_claims(), "aud", json_pack("[s,s]", "other", "forumnet-api"))),
           "aud array with ours");
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_set(good_claims(), "aud", json_string("other-api"))), "aud other");
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_set(good_claims(), "aud", json_string("forumnet-api2"))), "aud suffix");
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_set(good_claims(), "aud", json_pack("[s]", "other"))),
           "aud array without ours");
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_set(good_claims(), "aud", json_array())), "aud empty array");
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_del(good_claims(), "aud")), "aud missing");
}

static void test_reject_missing_claims(void **state) {
  (void)state;
  ACCEPTED(&hs, sign_hs256(SECRET, "k1", good_claims()), "all claims");
  const char *required[] = {"exp", "iat", "sub", "typ", "iss", "aud"};
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
    REJECTED(&hs, sign_hs256(SECRET, "k1", claims_del(good_claims(), required[i])), required[i]);
  /* Present but unusable. */
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_set(good_claims(), "exp", json_string("1700000900"))), "exp a string");
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_set(good_claims(), "exp", json_real(1700000900.0))), "exp a real");
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_set(good_claims(), "exp", json_null())), "exp null");
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_set(good_claims(), "iat", json_string("1700000000"))), "iat a string");
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_set(good_claims(), "sub", json_string(""))), "sub empty");
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_set(good_claims(), "sub", json_integer(42))), "sub a number");
  char long_sub[100];
  memset(long_sub, 's', sizeof long_sub - 1);
  long_sub[sizeof long_sub - 1] = '\0';
  REJECTED(&hs, sign_hs256(SECRET, "k1", claims_set(good_claims(), "sub", json_string(long_sub))), "sub too long");
}

/* ---- key ids and rotation ---- */

static void test_reject_unknown_kid(void **state) {
  (void)state;
  ACCEPTED(&hs, sign_hs256(SECRET, "k1", good_claims()), "kid k1");
  REJECTED(&hs, sign_hs256(SECRET, "k9", good_claims()), "kid k9");
  REJECTED(&hs, sign_hs256(SECRET, "", good_claims()), "kid empty");
  REJECTED(&hs, sign_hs256(SECRET, "K1", good_claims()), "kid case");
  ACCEPTED(&hs, forge_claims(HS256_HEADER, good_claims(), SIG_HS256, SECRET, strlen(SECRET)), "hand-built control");
  REJECTED(
      &hs,
      forge_claims("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":1}", good_claims(), SIG_HS256, SECRET, strlen(SECRET)),
      "kid a number");
  REJECTED(&hs,
           forge_claims("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":null}", good_claims(), SIG_HS256, SECRET,
                        strlen(SECRET)),
           "kid null");
}

static void test_previous_kid_when_configured(void **state) {
  (void)state;
  /* hs_rot: k2 = SECRET (current), k1 = OLD_SECRET (previous). */
  ACCEPTED(&hs_rot, sign_hs256(SECRET, "k2", good_claims()), "current key");
  ACCEPTED(&hs_rot, sign_hs256(OLD_SECRET, "k1", good_claims()), "previous key under its kid");
  /* Each key only under its own kid. */
  REJECTED(&hs_rot, sign_hs256(OLD_SECRET, "k2", good_claims()), "previous key under the current kid");
  REJECTED(&hs_rot, sign_hs256(SECRET, "k1", good_claims()), "current key under the previous kid");
  REJECTED(&hs_rot, sign_hs256(OLD_SECRET, NULL, good_claims()), "previous key without kid");
  REJECTED(&hs_rot, sign_hs256(OTHER_SECRET, "k1", good_claims()), "another secret under the previous kid");
  REJECTED(&hs_rot, sign_hs256(OLD_SECRET, "k7", good_claims()), "previous key under an unknown kid");

  /* New tokens are issued with the current kid. */
  token_claims in = {.sub = "m1", .typ = TOKEN_TYPE_ACCESS, .role = "member"};
  char *token = NULL;
  assert_int_equal(token_issue(&hs_rot, &in, 900, NOW, &token), FN_OK);
  jwt_t *jwt = NULL;
  assert_int_equal(jwt_decode(&jwt, token, (const unsigned char *)SECRET, (int)strlen(SECRET)), 0);
  assert_string_equal(jwt_get_header(jwt, "kid"), "k2");
  jwt_free(jwt);
  ACCEPTED(&hs_rot, token, "issued under rotation");
}

static void test_previous_kid_when_not_configured(void **state) {
  (void)state;
  /* hs_k2: k2 = SECRET, no previous key. */
  ACCEPTED(&hs_k2, sign_hs256(SECRET, "k2", good_claims()), "current key");
  REJECTED(&hs_k2, sign_hs256(OLD_SECRET, "k1", good_claims()), "retired key, no rotation configured");
  REJECTED(&hs_k2, sign_hs256(SECRET, "k1", good_claims()), "current key under an unknown kid");
}

/* ---- header oddities and malformed input ---- */

static void test_reject_header_tricks(void **state) {
  (void)state;
  ACCEPTED(&hs, forge_claims(HS256_HEADER, good_claims(), SIG_HS256, SECRET, strlen(SECRET)), "control");
  /* A parser that keeps the last duplicate would see alg none. */
  REJECTED(&hs,
           forge_claims("{\"alg\":\"HS256\",\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"k1\"}", good_claims(), SIG_HS256,
                        SECRET, strlen(SECRET)),
           "duplicate alg");
  /* And one that keeps the last would see HS256 here while another parser sees none. */
  REJECTED(&hs,
           forge_claims("{\"alg\":\"none\",\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}", good_claims(), SIG_HS256,
                        SECRET, strlen(SECRET)),
           "duplicate alg, HS256 last");
  REJECTED(&hs,
           forge_claims("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\",\"kid\":\"k9\"}", good_claims(), SIG_HS256,
                        SECRET, strlen(SECRET)),
           "duplicate kid");
  /* Critical extensions forumnet does not understand must be refused (RFC 7515 4.1.11). */
  REJECTED(&hs,
           forge_claims("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\",\"crit\":[\"exp\"]}", good_claims(),
                        SIG_HS256, SECRET, strlen(SECRET)),
           "crit header");
  REJECTED(&hs, forge("[\"HS256\"]", "{}", SIG_HS256, SECRET, strlen(SECRET)), "header an array");
  REJECTED(&hs, forge("not json", "{}", SIG_HS256, SECRET, strlen(SECRET)), "header not JSON");
}

static void test_reject_payload_tricks(void **state) {
  (void)state;
  json_t *claims = good_claims();
  char *good = json_dumps(claims, JSON_COMPACT);
  json_decref(claims);
  assert_non_null(good);
  assert_int_equal(good[0], '{');
  /* A second "sub" after the real one: a last-wins parser would see another member. */
  char *dup = malloc(strlen(good) + 64);
  sprintf(dup, "%.*s,\"sub\":\"someone-else\"}", (int)(strlen(good) - 1), good);
  ACCEPTED(&hs, forge(HS256_HEADER, good, SIG_HS256, SECRET, strlen(SECRET)), "hand-built payload control");
  REJECTED(&hs, forge(HS256_HEADER, dup, SIG_HS256, SECRET, strlen(SECRET)), "duplicate sub");
  REJECTED(&hs, forge(HS256_HEADER, "[]", SIG_HS256, SECRET, strlen(SECRET)), "payload an array");
  REJECTED(&hs, forge(HS256_HEADER, "not json", SIG_HS256, SECRET, strlen(SECRET)), "payload not JSON");
  REJECTED(&hs, forge(HS256_HEADER, "", SIG_HS256, SECRET, strlen(SECRET)), "payload empty");
  free(dup);
  free(good);
}

static void test_reject_malformed(void **state) {
  (void)state;
  token_claims out;
  assert_int_equal(token_verify(&hs, NULL, NOW, &out), FN_UNAUTHENTICATED);
  const char *bad[] = {"", ".", "..", "...", "abc", "a.b", "a.b.c", "a.b.c.d", "Bearer x.y.z", "eyJ.eyJ.sig"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    REJECTED(&hs, strdup(bad[i]), bad[i]);
  /* A valid token with a stray fourth segment or surrounding whitespace. */
  char *good = sign_hs256(SECRET, "k1", good_claims());
  char *extra_dot = malloc(strlen(good) + 2);
  sprintf(extra_dot, "%s.", good);
  char *whitespace = malloc(strlen(good) + 2);
  sprintf(whitespace, " %s", good);
  ACCEPTED(&hs, good, "control");
  REJECTED(&hs, extra_dot, "four segments");
  REJECTED(&hs, whitespace, "leading space");
}

static void test_reject_oversized(void **state) {
  (void)state;
  /* A padding claim sized so the token stays under TOKEN_MAX_LEN, then over it. */
  static char pad[TOKEN_MAX_LEN];
  memset(pad, 'p', 5000);
  pad[5000] = '\0';
  char *ok = sign_hs256(SECRET, "k1", claims_set(good_claims(), "pad", json_string(pad)));
  assert_true(strlen(ok) <= TOKEN_MAX_LEN);
  ACCEPTED(&hs, ok, "large but within the limit");
  memset(pad, 'p', 6500);
  pad[6500] = '\0';
  char *big = sign_hs256(SECRET, "k1", claims_set(good_claims(), "pad", json_string(pad)));
  assert_true(strlen(big) > TOKEN_MAX_LEN);
  REJECTED(&hs, big, "over TOKEN_MAX_LEN");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hs256_round_trip),
      cmocka_unit_test(test_partner_round_trip),
      cmocka_unit_test(test_issue_unique_jti),
      cmocka_unit_test(test_es256_round_trip),
      cmocka_unit_test(test_rs256_round_trip),
      cmocka_unit_test(test_reject_alg_none),
      cmocka_unit_test(test_reject_other_hmac_algorithms),
      cmocka_unit_test(test_reject_hs_rs_confusion),
      cmocka_unit_test(test_reject_bad_signature),
      cmocka_unit_test(test_reject_expired),
      cmocka_unit_test(test_reject_not_yet_valid),
      cmocka_unit_test(test_reject_issued_in_future),
      cmocka_unit_test(test_reject_wrong_issuer),
      cmocka_unit_test(test_reject_wrong_audience),
      cmocka_unit_test(test_reject_missing_claims),
      cmocka_unit_test(test_reject_unknown_kid),
      cmocka_unit_test(test_previous_kid_when_configured),
      cmocka_unit_test(test_previous_kid_when_not_configured),
      cmocka_unit_test(test_reject_header_tricks),
      cmocka_unit_test(test_reject_payload_tricks),
      cmocka_unit_test(test_reject_malformed),
      cmocka_unit_test(test_reject_oversized),
  };
  return cmocka_run_group_tests_name("jwt", tests, group_setup, group_teardown);
}
