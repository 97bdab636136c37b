/* fuzz_token: token_verify (src/auth/jwt.c) and the bearer-token step of the pipeline.
 *
 * The first byte picks a mode, the rest drives it:
 *   0 raw      the bytes are an Authorization header value: "Bearer <token>" or anything else.
 *              token_verify runs under HS256 (current and previous key), RS256 and ES256 (test-only
 *              keys from tests/unit/test_only_keys.h); token_verify_cached must agree with
 *              token_verify; and dispatch_request answers 401 exactly when the token does not verify
 *              as a member access token.
 *   1 forge    "<header JSON>\0<payload JSON>\0<k>": a token built by hand from arbitrary header and
 *              payload text, HMAC-signed with key k (the current HS256 key, the previous one, an
 *              attacker's key, or the RS256 public key PEM: the HS/RS confusion attack). This gets
 *              past the signature so every claim check is fuzzed. A token that verifies must have
 *              been signed with the key its kid selects, carry alg "HS256" and no "crit", and its
 *              claims must be the payload's; under RS256 and ES256 such a token never verifies.
 *   2 mutate   "<base>" then (position, operation, byte) triples editing a valid token (HS256
 *              member or partner, RS256, ES256): a mutated token that still verifies must carry
 *              exactly the original claims (no forgery without the key).
 * Every verified token's claims are NUL-terminated, non-empty where required and within their time
 * bounds; a failure leaves the claims zeroed. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "forumnet/token.h"
#include "fuzz_common.h"
#include "test_only_keys.h"

#define NOW ((time_t)1700000000)
#define LEEWAY 30

static const char PREVIOUS_SECRET[] = "fuzz-only-previous-hs256-secret-0123456789";
static const char ATTACKER_SECRET[] = "attacker-chosen-secret-0123456789abcdefgh";

static fuzz_app fa;
static fn_config hs, rs, es;
static char *base_tokens[4];
static token_claims base_claims[4];
static const fn_config *base_configs[4];

static void set_pem(unsigned char *dst, size_t *len, const char *pem) {
  *len = strlen(pem);
  memcpy(dst, pem, *len);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_app_init(&fa);
  /* Key rotation on: the previous key still verifies tokens whose kid names it. */
  memcpy(fa.app.cfg.jwt_previous_secret, PREVIOUS_SECRET, strlen(PREVIOUS_SECRET));
  fa.app.cfg.jwt_previous_secret_len = strlen(PREVIOUS_SECRET);
  strcpy(fa.app.cfg.jwt_previous_kid, "k0");
  hs = fa.app.cfg;

  rs = hs;
  rs.jwt_alg = JWT_ALGORITHM_RS256;
  rs.jwt_previous_secret_len = 0;
  rs.jwt_previous_kid[0] = '\0';
  set_pem(rs.jwt_secret, &rs.jwt_secret_len, TEST_ONLY_RSA_PRIVATE_KEY_PEM);
  set_pem(rs.jwt_public_key, &rs.jwt_public_key_len, TEST_ONLY_RSA_PUBLIC_KEY_PEM);
  es = rs;
  es.jwt_alg = JWT_ALGORITHM_ES256;
  set_pem(es.jwt_secret, &es.jwt_secret_len, TEST_ONLY_EC_PRIVATE_KEY_PEM);
  set_pem(es.jwt_public_key, &es.jwt_public_key_len, TEST_ONLY_EC_PUBLIC_KEY_PEM);

  token_claims member = {.sub = "0b7f6a36-4c1e-4d7e-9a5b-2f1d3c4e5a6b", .typ = TOKEN_TYPE_ACCESS, .role = "manager"};
  token_claims partner = {
      .sub = "5d1c2b3a-0f9e-4d8c-b7a6-958473625140", .typ = TOKEN_TYPE_PARTNER, .scope = "events:write"};
  const fn_config *configs[4] = {&hs, &hs, &rs, &es};
  const token_claims *claims[4] = {&member, &partner, &member, &member};
  for (int i = 0; i < 4; i++) {
    base_configs[i] = configs[i];
    FUZZ_CHECK(token_issue(configs[i], claims[i], 900, NOW - 60, &base_tokens[i]) == FN_OK, "token_issue %d", i);
    FUZZ_CHECK(token_verify(configs[i], base_tokens[i], NOW, &base_claims[i]) == FN_OK, "fresh token %d fails", i);
  }
  return 0;
}

/* What holds after any token_verify. */
static void check_claims(fn_status st, const token_claims *c, const char *how) {
  if (st != FN_OK) {
    static const token_claims zero;
    FUZZ_CHECK(st == FN_UNAUTHENTICATED, "%s: status %d", how, (int)st);
    FUZZ_CHECK(memcmp(c, &zero, sizeof zero) == 0, "%s: a failed verification left claims behind", how);
    return;
  }
  FUZZ_CHECK(memchr(c->sub, '\0', sizeof c->sub) && memchr(c->typ, '\0', sizeof c->typ) &&
                 memchr(c->role, '\0', sizeof c->role) && memchr(c->scope, '\0', sizeof c->scope),
             "%s: a claim is not NUL-terminated", how);
  FUZZ_CHECK(c->sub[0] != '\0' && c->typ[0] != '\0', "%s: verified without sub or typ", how);
  FUZZ_CHECK(c->iat <= c->exp && NOW < c->exp + LEEWAY && c->iat <= NOW + LEEWAY, "%s: times iat %ld exp %ld", how,
             c->iat, c->exp);
}

static fn_status verify(const fn_config *cfg, const char *token, token_claims *c, const char *how) {
  fn_status st = token_verify(cfg, token, NOW, c);
  check_claims(st, c, how);
  return st;
}

static int same_claims(const token_claims *a, const token_claims *b) {
  return strcmp(a->sub, b->sub) == 0 && strcmp(a->typ, b->typ) == 0 && strcmp(a->role, b->role) == 0 &&
         strcmp(a->scope, b->scope) == 0 && a->iat == b->iat && a->exp == b->exp;
}

/* The pipeline's view of an Authorization header on GET /v1/me (a member route that goes to the
 * database right after authentication): 401 exactly when the header does not carry a verified
 * member access token. The clock is the real one there, so the expectation is computed before and
 * after, and only a stable one is asserted. */
static int expect_authenticated(const char *header) {
  if (strncasecmp(header, "Bearer ", 7) != 0 || header[7] == '\0')
    return 0;
  token_claims c;
  fn_status st = token_verify(&hs, header + 7, time(NULL), &c);
  return st == FN_OK && strcmp(c.typ, TOKEN_TYPE_ACCESS) == 0;
}

static void check_pipeline(const char *header) {
  int before = expect_authenticated(header);
  fuzz_request rq = {.method = "GET", .path = "/v1/me", .authorization = header};
  fuzz_response r;
  fuzz_dispatch(&fa, &rq, &r);
  int after = expect_authenticated(header);
  if (before == after)
    FUZZ_CHECK((r.status == 401) == !before, "GET /v1/me with Authorization \"%.80s\": %d, expected %s", header,
               r.status, before ? "past authentication" : "401");
  fuzz_response_free(&r);
}

static void mode_raw(const uint8_t *data, size_t size) {
  char *header = fuzz_strndup(data, size);
  const char *token = strncasecmp(header, "Bearer ", 7) == 0 ? header + 7 : header;
  token_claims c, cached;
  fn_status st = verify(&hs, token, &c, "raw HS256");
  verify(&rs, token, &cached, "raw RS256");
  verify(&es, token, &cached, "raw ES256");
  /* The cache may only ever answer what token_verify answers (one configuration per process). */
  fn_status cst = token_verify_cached(&hs, token, NOW, &cached);
  check_claims(cst, &cached, "raw HS256 cached");
  FUZZ_CHECK(cst == st && (st != FN_OK || same_claims(&c, &cached)), "token_verify_cached disagrees with token_verify");
  check_pipeline(header);
  free(header);
}

static void b64url(char *out, size_t out_len, const void *bin, size_t len) {
  sodium_bin2base64(out, out_len, bin, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static void mode_forge(const uint8_t *data, size_t size) {
  /* header \0 payload \0 key-choice */
  const uint8_t *z1 = memchr(data, '\0', size);
  const uint8_t *z2 = z1 ? memchr(z1 + 1, '\0', size - (size_t)(z1 + 1 - data)) : NULL;
  if (z1 == NULL)
    return;
  size_t header_len = (size_t)(z1 - data);
  size_t payload_len = z2 ? (size_t)(z2 - z1 - 1) : size - header_len - 1;
  unsigned key_choice = z2 && z2 + 1 < data + size ? z2[1] % 4 : 0;
  const unsigned char *keys[4] = {hs.jwt_secret, (const unsigned char *)PREVIOUS_SECRET,
                                  (const unsigned char *)ATTACKER_SECRET,
                                  (const unsigned char *)TEST_ONLY_RSA_PUBLIC_KEY_PEM};
  size_t key_lens[4] = {hs.jwt_secret_len, strlen(PREVIOUS_SECRET), strlen(ATTACKER_SECRET),
                        strlen(TEST_ONLY_RSA_PUBLIC_KEY_PEM)};

  size_t cap = sodium_base64_ENCODED_LEN(header_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING) +
               sodium_base64_ENCODED_LEN(payload_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING) + 64;
  char *token = malloc(cap);
  FUZZ_CHECK(token != NULL, "out of memory");
  b64url(token, cap, data, header_len);
  strcat(token, ".");
  size_t used = strlen(token);
  b64url(token + used, cap - used, z1 + 1, payload_len);
  size_t signing_len = strlen(token);
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, keys[key_choice], key_lens[key_choice]);
  crypto_auth_hmacsha256_update(&state, (const unsigned char *)token, signing_len);
  crypto_auth_hmacsha256_final(&state, mac);
  strcat(token, ".");
  used = strlen(token);
  b64url(token + used, cap - used, mac, sizeof mac);

  token_claims c, other;
  fn_status st = verify(&hs, token, &c, "forged HS256");
  FUZZ_CHECK(verify(&rs, token, &other, "forged under RS256") != FN_OK, "an HMAC-signed token verified under RS256");
  FUZZ_CHECK(verify(&es, token, &other, "forged under ES256") != FN_OK, "an HMAC-signed token verified under ES256");
  if (st == FN_OK) {
    json_t *header = json_loadb((const char *)data, header_len, 0, NULL);
    json_t *payload = json_loadb((const char *)z1 + 1, payload_len, 0, NULL);
    FUZZ_CHECK(json_is_object(header) && json_is_object(payload), "verified, but header or payload is not an object");
    FUZZ_CHECK(strcmp(json_string_value(json_object_get(header, "alg")), "HS256") == 0, "verified with alg != HS256");
    FUZZ_CHECK(json_object_get(header, "crit") == NULL, "verified with a crit header");
    const char *kid = json_string_value(json_object_get(header, "kid"));
    unsigned expected_key = kid && strcmp(kid, "k0") == 0 ? 1 : 0;
    FUZZ_CHECK(key_choice == expected_key, "verified with key %u where kid \"%s\" selects key %u", key_choice,
               kid ? kid : "(none)", expected_key);
    FUZZ_CHECK(strcmp(json_string_value(json_object_get(payload, "sub")), c.sub) == 0 &&
                   strcmp(json_string_value(json_object_get(payload, "typ")), c.typ) == 0 &&
                   json_integer_value(json_object_get(payload, "exp")) == c.exp &&
                   json_integer_value(json_object_get(payload, "iat")) == c.iat,
               "verified claims differ from the payload");
    FUZZ_CHECK(strcmp(json_string_value(json_object_get(payload, "iss")), "forumnet") == 0,
               "verified with another issuer");
    json_decref(header);
    json_decref(payload);
  }
  free(token);
}

static void mode_mutate(const uint8_t *data, size_t size) {
  if (size < 1)
    return;
  unsigned base = data[0] % 4;
  const char *orig = base_tokens[base];
  size_t len = strlen(orig), cap = len + size + 1;
  char *t = malloc(cap);
  FUZZ_CHECK(t != NULL, "out of memory");
  memcpy(t, orig, len + 1);
  for (size_t i = 1; i + 3 <= size; i += 3) {
    size_t pos = len ? ((size_t)data[i] * 7 + data[i + 1]) % (len + 1) : 0;
    unsigned op = data[i + 1] % 4;
    char byte = (char)data[i + 2];
    if (byte == '\0')
      byte = '.';
    if (op == 0 && pos < len) {
      t[pos] = byte; /* replace */
    } else if (op == 1 && len + 1 < cap) {
      memmove(t + pos + 1, t + pos, len - pos + 1); /* insert */
      t[pos] = byte;
      len++;
    } else if (op == 2 && pos < len) {
      memmove(t + pos, t + pos + 1, len - pos); /* delete */
      len--;
    } else if (pos < len) {
      t[pos] = (char)(t[pos] ^ (1 << (data[i + 2] % 7))); /* flip a bit, never to NUL */
      if (t[pos] == '\0')
        t[pos] = '.';
    }
  }
  t[len] = '\0';
  token_claims c;
  fn_status st = verify(base_configs[base], t, &c, "mutated");
  if (strcmp(t, orig) == 0)
    FUZZ_CHECK(st == FN_OK, "the unmodified token no longer verifies");
  if (st == FN_OK)
    FUZZ_CHECK(same_claims(&c, &base_claims[base]), "a modified token verified with other claims: %s", t);
  if (base_configs[base] == &hs) {
    char header[TOKEN_MAX_LEN + 16];
    snprintf(header, sizeof header, "Bearer %s", t);
    check_pipeline(header);
  }
  free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  switch (data[0] % 3) {
  case 0:
    mode_raw(data + 1, size - 1);
    break;
  case 1:
    mode_forge(data + 1, size - 1);
    break;
  default:
    mode_mutate(data + 1, size - 1);
    break;
  }
  return 0;
}
