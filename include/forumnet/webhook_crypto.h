#ifndef FORUMNET_WEBHOOK_CRYPTO_H
#define FORUMNET_WEBHOOK_CRYPTO_H

#include <stddef.h>

#include "forumnet/config.h"

/* Partner webhook secrets and signatures (Standard Webhooks; README "Receiving webhooks"). */

/* "whsec_" + base64 of 32 random bytes, and its NUL. */
#define WEBHOOK_SECRET_SIZE 64
/* "v1," + base64 of a 32-byte HMAC, and its NUL. */
#define WEBHOOK_SIGNATURE_SIZE 52
/* A sealed secret as hex text: nonce, MAC and the secret (at most WEBHOOK_SECRET_SIZE bytes), twice over. */
#define WEBHOOK_SEALED_SIZE (2 * (24 + 16 + WEBHOOK_SECRET_SIZE) + 1)

/* A new secret from libsodium's random source. */
void webhook_secret_new(char secret[WEBHOOK_SECRET_SIZE]);

/* The key that seals secrets at rest: FORUMNET_WEBHOOK_KEY, or when unset a BLAKE2b key derived from the
 * JWT key (so rotating the JWT key without FORUMNET_WEBHOOK_KEY makes stored secrets unreadable). */
void webhook_key(const fn_config *cfg, unsigned char key[32]);

/* Seals secret (crypto_secretbox, random nonce) as hex text for a bytea column (decode(.., 'hex')). */
int webhook_secret_seal(const fn_config *cfg, const char *secret, char sealed_hex[WEBHOOK_SEALED_SIZE]);
/* Opens what webhook_secret_seal made: 0, or -1 when it does not open under this key. */
int webhook_secret_open(const fn_config *cfg, const char *sealed_hex, char secret[WEBHOOK_SECRET_SIZE]);

/* "v1," + base64(HMAC-SHA256(secret's bytes, "<id>.<timestamp>.<body>")): 0, or -1 when the secret is not
 * whsec_ + base64. */
int webhook_sign(const char *secret, const char *msg_id, long long timestamp, const char *body, size_t body_len,
                 char out[WEBHOOK_SIGNATURE_SIZE]);

#endif
