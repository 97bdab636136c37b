#include "forumnet/password.h"

#include <sodium.h>
#include <string.h>

#include "forumnet/body.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

/* The cost of every hash (libsodium's interactive limits: 64 MiB, 2 passes). */
#define HASH_OPSLIMIT crypto_pwhash_OPSLIMIT_INTERACTIVE
#define HASH_MEMLIMIT crypto_pwhash_MEMLIMIT_INTERACTIVE

/* What password_verify checks a password against when the account has none (an unknown email), so that the
 * answer takes as long as a real verification. Any Argon2id hash made with the parameters above will do (the
 * result is ignored): this one is of a random password that was not kept. A constant, because making one costs
 * ~150 ms of CPU in every process (each `forumnet serve`, each CLI command); made at start only if libsodium's
 * limits ever differ from its parameters. */
static const char DUMMY_HASH[crypto_pwhash_STRBYTES] = /* NUL-padded, the size libsodium reads */
    "$argon2id$v=19$m=65536,t=2,p=1$jkIj/SC2Nuz2CA4j0VCnag$29JQO5qKb3+OGzV4uJq2Vdjo9EBygPFEW76uiNeJQME";
static char dummy_hash[crypto_pwhash_STRBYTES];

fn_status password_init(void) {
  if (sodium_init() < 0)
    return FN_INTERNAL;
  if (crypto_pwhash_str_needs_rehash(DUMMY_HASH, HASH_OPSLIMIT, HASH_MEMLIMIT) == 0) {
    memcpy(dummy_hash, DUMMY_HASH, sizeof DUMMY_HASH);
    return FN_OK;
  }
  char pw[21];
  password_generate(pw);
  if (crypto_pwhash_str(dummy_hash, pw, strlen(pw), HASH_OPSLIMIT, HASH_MEMLIMIT) != 0)
    return FN_INTERNAL;
  return FN_OK;
}

const char *password_dummy_hash(void) { return dummy_hash; }

const char *password_policy_error(const char *password) {
  if (password == NULL)
    return "is required";
  if (strlen(password) > PASSWORD_MAX_BYTES)
    return "must be at most 1024 bytes";
  long chars = utf8_length(password);
  if (chars < 0)
    return "must be valid UTF-8";
  if (chars < PASSWORD_MIN_CHARS)
    return "must be at least 12 characters long";
  return NULL;
}

fn_status password_hash(const char *password, char out[PASSWORD_HASH_MAX]) {
  _Static_assert(PASSWORD_HASH_MAX >= crypto_pwhash_STRBYTES, "hash buffer too small");
  if (crypto_pwhash_str(out, password, strlen(password), HASH_OPSLIMIT, HASH_MEMLIMIT) != 0)
    return FN_INTERNAL; /* out of memory */
  return FN_OK;
}

int password_verify(const char *hash, const char *password) {
  if (password == NULL)
    password = "";
  if (hash == NULL || *hash == '\0') {
    /* The result is irrelevant; only the time spent matters. */
    if (crypto_pwhash_str_verify(dummy_hash, password, strlen(password)) == 0)
      return 0;
    return 0;
  }
  return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

void random_token(char *out, size_t out_len, size_t len) {
  unsigned char bytes[64];
  if (len > sizeof bytes)
    len = sizeof bytes;
  randombytes_buf(bytes, len);
  sodium_bin2base64(out, out_len, bytes, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(bytes, sizeof bytes);
}

void password_generate(char out[21]) {
  char buf[32];
  random_token(buf, sizeof buf, 15); /* 15 bytes -> 20 characters */
  memcpy(out, buf, 20);
  out[20] = '\0';
}

void token_digest_hex(const char *token, char out[65]) {
  unsigned char digest[32];
  crypto_generichash(digest, sizeof digest, (const unsigned char *)token, strlen(token), NULL, 0);
  sodium_bin2hex(out, 65, digest, sizeof digest);
}
