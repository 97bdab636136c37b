#ifndef FORUMNET_TOKEN_H
#define FORUMNET_TOKEN_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

#include "forumnet/config.h"
#include "forumnet/status.h"

/* The `typ` claim: member access tokens and partner tokens are never interchangeable. */
#define TOKEN_TYPE_ACCESS "access"
#define TOKEN_TYPE_PARTNER "partner"

#define TOKEN_MAX_LEN 8192

typedef struct token_claims {
  char sub[64];   /* member id, or partner id */
  char typ[16];   /* TOKEN_TYPE_* */
  char role[16];  /* member tokens: role at issue time (informative; authorization reads the database) */
  char scope[64]; /* partner tokens */
  long iat, exp;
  long iat_ms; /* issue time in milliseconds (claim iat_ms; iat * 1000 in a token without it): compared with the
                  subject's last credential change, which whole seconds cannot order */
} token_claims;

/* Milliseconds since the epoch (CLOCK_REALTIME): the issue time of a token issued now. */
long token_now_ms(void);

/* Signs claims->sub/typ/role/scope with the configured algorithm and key, adding
 * iss, aud, iat, iat_ms, nbf, exp (now + ttl) and a random jti. iat_ms is claims->iat_ms
 * when it lies within the second `now`, else now * 1000. *out is a new string the
 * caller frees with free(). */
fn_status token_issue(const fn_config *cfg, const token_claims *claims, long ttl, time_t now, char **out);

/* Verifies a compact JWS: the header's alg must be the configured one (checked before
 * any signature work, so alg:none and HS/RS confusion fail), kid must be known, the
 * signature must verify, and iss, aud, sub, typ, exp, iat (and nbf when present) must
 * hold at `now`. Fills *out. Any failure is FN_UNAUTHENTICATED. */
fn_status token_verify(const fn_config *cfg, const char *token, time_t now, token_claims *out);

/* token_verify behind a small cache of tokens that verified before: a hit costs a hash
 * and a compare instead of an HMAC/RSA check and two JSON parses. Of the token's own
 * claims only `exp` can turn a verified token invalid later (iat/nbf only become more
 * valid), so a hit re-checks it. The cache holds nothing about the subject: whether a
 * credential change since iat_ms revoked the token is read from the database on every
 * request, hit or miss (dispatch.c, authenticate), so no cached result outlives one.
 * Thread-safe. */
fn_status token_verify_cached(const fn_config *cfg, const char *token, time_t now, token_claims *out);

/* A compact JWS taken apart: its header and payload as JSON objects (not yet trusted) and, once a key
 * checked the signature, libjwt's decoding (jwt_decode(&parts.jwt, ...)). */
typedef struct token_parts {
  json_t *header, *payload;
  struct jwt *jwt;
} token_parts;

/* Splits a compact JWS (at most TOKEN_MAX_LEN bytes, three segments, a non-empty signature) and decodes its
 * header and payload into JSON objects (new references; duplicate keys rejected): 0, or -1 with all NULL.
 * Either way parts is ready for token_parts_free. */
int token_decode_parts(const char *token, token_parts *parts);
/* Releases what token_decode_parts and jwt_decode put in parts. */
void token_parts_free(token_parts *parts);

/* Copies the payload's string claim name into out: 1, or 0 when it is absent, empty or too long. */
int token_string_claim(const json_t *payload, const char *name, char *out, size_t out_len);

/* 1 when aud (a string, or an array of strings) is or holds expected. */
int token_audience_matches(const json_t *aud, const char *expected);

#endif
