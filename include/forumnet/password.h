#ifndef FORUMNET_PASSWORD_H
#define FORUMNET_PASSWORD_H

#include <stddef.h>

#include "forumnet/status.h"

#define PASSWORD_MIN_CHARS 12
#define PASSWORD_MAX_BYTES 1024 /* bounds hashing work per request */
#define PASSWORD_HASH_MAX 128   /* >= crypto_pwhash_STRBYTES */

/* Must be called once before any other password_* or token_* function. */
fn_status password_init(void);

/* NULL if the password is acceptable, else a message for the client. */
const char *password_policy_error(const char *password);

/* Argon2id (libsodium crypto_pwhash_str, interactive limits) into out. */
fn_status password_hash(const char *password, char out[PASSWORD_HASH_MAX]);

/* 1 if password matches hash. With hash NULL, still spends the time of a real
 * verification so that unknown accounts cannot be told apart by timing. */
int password_verify(const char *hash, const char *password);

/* The hash password_verify checks against when there is none (after password_init): an Argon2id hash with
 * password_hash's parameters, so that both cost the same. For tests. */
const char *password_dummy_hash(void);

/* A random password of 20 URL-safe characters for one-time use. */
void password_generate(char out[21]);

/* len random bytes as unpadded base64url into out (caller sizes it: 4*len/3 + 2). */
void random_token(char *out, size_t out_len, size_t len);

/* Hex BLAKE2b-256 of a secret token, for storing tokens without storing them (65 bytes). */
void token_digest_hex(const char *token, char out[65]);

#endif
