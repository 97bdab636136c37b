/* Webhook secrets: made, sealed at rest and used to sign (include/forumnet/webhook_crypto.h). */
#include "forumnet/webhook_crypto.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define PREFIX "whsec_"
#define PREFIX_LEN 6
#define RAW_LEN 32

void webhook_secret_new(char secret[WEBHOOK_SECRET_SIZE]) {
  unsigned char raw[RAW_LEN];
  randombytes_buf(raw, sizeof raw);
  memcpy(secret, PREFIX, PREFIX_LEN);
  sodium_bin2base64(secret + PREFIX_LEN, WEBHOOK_SECRET_SIZE - PREFIX_LEN, raw, sizeof raw,
                    sodium_base64_VARIANT_ORIGINAL);
  sodium_memzero(raw, sizeof raw);
}

void webhook_key(const fn_config *cfg, unsigned char key[32]) {
  static const char context[] = "forumnet webhook secrets v1";
  if (cfg->webhook_key_set) {
    memcpy(key, cfg->webhook_key, 32);
    return;
  }
  /* BLAKE2b keyed with the JWT key over a fixed context: a key of its own, not the JWT key itself. */
  size_t klen =
      cfg->jwt_secret_len > crypto_generichash_KEYBYTES_MAX ? crypto_generichash_KEYBYTES_MAX : cfg->jwt_secret_len;
  crypto_generichash(key, 32, (const unsigned char *)context, sizeof context - 1, cfg->jwt_secret, klen);
}

int webhook_secret_seal(const fn_config *cfg, const char *secret, char sealed_hex[WEBHOOK_SEALED_SIZE]) {
  size_t len = strlen(secret);
  if (len >= WEBHOOK_SECRET_SIZE)
    return -1;
  unsigned char key[32], sealed[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + WEBHOOK_SECRET_SIZE];
  webhook_key(cfg, key);
  randombytes_buf(sealed, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(sealed + crypto_secretbox_NONCEBYTES, (const unsigned char *)secret, len, sealed, key);
  sodium_memzero(key, sizeof key);
  sodium_bin2hex(sealed_hex, WEBHOOK_SEALED_SIZE, sealed,
                 crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len);
  return 0;
}

int webhook_secret_open(const fn_config *cfg, const char *sealed_hex, char secret[WEBHOOK_SECRET_SIZE]) {
  unsigned char key[32], sealed[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + WEBHOOK_SECRET_SIZE];
  size_t len = 0;
  if (sodium_hex2bin(sealed, sizeof sealed, sealed_hex, strlen(sealed_hex), NULL, &len, NULL) != 0 ||
      len <= crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
    return -1;
  size_t plain = len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
  webhook_key(cfg, key);
  int rc = crypto_secretbox_open_easy((unsigned char *)secret, sealed + crypto_secretbox_NONCEBYTES,
                                      len - crypto_secretbox_NONCEBYTES, sealed, key);
  sodium_memzero(key, sizeof key);
  if (rc != 0)
    return -1;
  secret[plain] = '\0';
  return 0;
}

int webhook_sign(const char *secret, const char *msg_id, long long timestamp, const char *body, size_t body_len,
                 char out[WEBHOOK_SIGNATURE_SIZE]) {
  unsigned char raw[WEBHOOK_SECRET_SIZE], mac[crypto_auth_hmacsha256_BYTES];
  size_t raw_len = 0;
  const char *b64 = strncmp(secret, PREFIX, PREFIX_LEN) == 0 ? secret + PREFIX_LEN : secret;
  if (sodium_base642bin(raw, sizeof raw, b64, strlen(b64), NULL, &raw_len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      raw_len == 0)
    return -1;
  char ts[24];
  int ts_len = snprintf(ts, sizeof ts, "%lld", timestamp);
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, raw, raw_len);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg_id, strlen(msg_id));
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, (unsigned long long)ts_len);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, body_len);
  crypto_auth_hmacsha256_final(&st, mac);
  sodium_memzero(raw, sizeof raw);
  memcpy(out, "v1,", 3);
  sodium_bin2base64(out + 3, WEBHOOK_SIGNATURE_SIZE - 3, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
  return 0;
}
