#ifndef FORUMNET_AUTH_HTTP_H
#define FORUMNET_AUTH_HTTP_H

/* What other ways of signing in share with POST /v1/auth/login (src/resources/auth_http.c). */

#include "forumnet/http.h"

/* Ends a sign-in (login, single sign-on) or a refresh, inside the request's open transaction: stores a new
 * refresh token in the chain (NULL: a new chain), commits and replies 200 with a fresh token pair and the
 * member ({access_token, token_type, expires_in, refresh_token, member}). */
fn_status auth_tokens_commit_reply(fn_req *req, db_conn *db, const char *member_id, const char *role,
                                   const char *chain_id);

#endif
