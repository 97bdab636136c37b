/*
 * harness_tokens.h — JSON Web Tokens: signing any token (also forged or malformed ones),
 * decoding the server's, and forging an access token the server accepts.  Part of harness.h.
 */
#ifndef FORUMNET_E2E_HARNESS_TOKENS_H
#define FORUMNET_E2E_HARNESS_TOKENS_H

#include "harness_common.h"

/* ------------------------------------------------------------------------------------
 * Tokens
 * ------------------------------------------------------------------------------------ */

/* Signs a JWT: alg "HS256"/"HS384"/"HS512" with libjwt and key, or "none" built by hand
 * (base64url header and payload, empty signature).  header_extra (object or NULL, borrowed)
 * is merged into the header, e.g. {"kid":"k1"}; "typ":"JWT" is always there, and with "none"
 * header_extra may even replace "alg" (to try spellings such as "None").  claims (object,
 * borrowed) is the payload.  Returns a new string the caller frees(). */
char *harness_jwt_sign(const char *alg, const char *key, size_t key_len, const json_t *header_extra,
                       const json_t *claims);

/* base64url (no padding) of data: a new string the caller frees(). */
char *harness_base64url(const void *data, size_t len);

/* Decodes and verifies an HS256 token with HARNESS_JWT_SECRET; returns its claims as a new
 * JSON object (caller decrefs) or NULL if it does not verify.  *header_out (may be NULL)
 * receives the header as a new object. */
json_t *harness_jwt_decode(const char *token, json_t **header_out);

/* Writes to token_out (HARNESS_TOKEN_MAX) an access token the server accepts for member_id:
 * HS256 with HARNESS_JWT_SECRET, kid k1, iss/aud of every test server, typ "access", the given
 * role claim, iat and iat_ms (milliseconds) now, valid for one hour.  Costs no login (the server authorises with the
 * member's current role and status from the database anyway). */
void harness_forge_access_token(const char *member_id, const char *role, char *token_out);

#endif
