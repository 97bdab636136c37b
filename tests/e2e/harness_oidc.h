/*
 * harness_oidc.h — a browser stand-in for OpenID Connect sign-ins (e2e_oidc.c): it walks an
 * authorization URL at a real provider (tests/e2e/oidc_provider.mjs, panva's oidc-provider) with libcurl
 * and a cookie engine, no browser: follows redirects one by one, fills the provider's login form (any
 * password) and its consent form, and stops at the redirect back to the client.  Part of harness.h.
 */
#ifndef FORUMNET_E2E_HARNESS_OIDC_H
#define FORUMNET_E2E_HARNESS_OIDC_H

#include "harness_common.h"

/* The redirect URI of both clients of tests/e2e/oidc_provider.mjs (nothing listens there). */
#define HARNESS_OIDC_REDIRECT_URI "http://127.0.0.1:9/cb"

/* A running tests/e2e/oidc_provider.mjs (node). */
typedef struct harness_oidc_provider {
  long pid;        /* 0 when stopped */
  int stdin_fd;    /* its stdin: closing it stops the provider too */
  int port;        /* 127.0.0.1:port */
  char issuer[64]; /* "http://127.0.0.1:<port>" */
} harness_oidc_provider;

/* Starts `node tests/e2e/oidc_provider.mjs port tools client_id client_secret` (panva's oidc-provider from
 * tools/node_modules: fails the test, naming `npm ci --prefix tools`, when it is missing) and waits (15 s
 * at most) for its ready line.  Its clients: client_id with client_secret, and "other-client" with
 * "<client_secret>-other"; its keys are new at every start. */
void harness_oidc_provider_start(harness_oidc_provider *p, int port, const char *client_id, const char *client_secret);

/* Stops it (SIGTERM) and waits for it; does nothing when it is not running. */
void harness_oidc_provider_stop(harness_oidc_provider *p);

/* Where a sign-in ended. */
typedef struct harness_oidc_result {
  char code[1024];     /* the redirect's `code` (URL-decoded), "" if none */
  char state[1024];    /* the redirect's `state` (URL-decoded), "" if none */
  char error[256];     /* the redirect's `error`, or what went wrong before reaching it, "" if none */
  char location[4096]; /* the whole redirect to redirect_uri, "" if never reached */
} harness_oidc_result;

/* A new copy of url (the caller frees it) whose query parameter `name` has the value `value` (URL-encoded
 * here); the parameter is appended when url has none of that name. */
char *harness_url_with_param(const char *url, const char *name, const char *value);

/* Visits authorization_url (with its query parameter `param` set to `value` first, unless param is NULL:
 * e.g. another nonce or client_id) as a new browser (an empty cookie jar), signs in as `login` at the
 * provider's login form, consents, and follows the provider's redirects (at most 20 steps) until one whose
 * Location starts with redirect_uri.  Fills *out and returns true when that redirect carries a code; false
 * otherwise (out->error says why: the provider's `error` parameter, an HTTP status, a page without a form).
 * Never fails the test, so that tests assert what the provider refused. */
bool harness_oidc_sign_in(const char *authorization_url, const char *param, const char *value, const char *login,
                          const char *redirect_uri, harness_oidc_result *out);

#endif
