/*
 * harness_common.h — what every part of the e2e harness shares: feature macros, the constants
 * of the test servers, buffer sizes, the account record, clocks, unique names and text checks.
 * Tests include harness.h, which includes this first.
 */
#ifndef FORUMNET_E2E_HARNESS_COMMON_H
#define FORUMNET_E2E_HARNESS_COMMON_H

/* POSIX 2008 (pthread barriers, mkstemps, strncasecmp): include this header first. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

/* The HS256 secret every test server is started with (exactly 40 bytes), so that tests can
 * forge tokens with libjwt.  Never used outside the tests. */
#define HARNESS_JWT_SECRET "e2e-only-secret-0123456789abcdefghijklmn"
#define HARNESS_JWT_SECRET_LEN 40

/* The origin every test server allows through FORUMNET_CORS_ORIGINS. */
#define HARNESS_CORS_ORIGIN "https://app.example.org"

/* Buffer sizes for the *_out parameters of the harness functions. */
#define HARNESS_ID_MAX 64
#define HARNESS_NAME_MAX 96
#define HARNESS_EMAIL_MAX 128
#define HARNESS_PASSWORD_MAX 128
#define HARNESS_TOKEN_MAX 4096

/* ------------------------------------------------------------------------------------
 * Accounts
 * ------------------------------------------------------------------------------------ */

/* A logged-in account made by a fixture. */
typedef struct harness_account {
  char id[HARNESS_ID_MAX];
  char email[HARNESS_EMAIL_MAX];
  char password[HARNESS_PASSWORD_MAX]; /* the one-time password for members made by POST /v1/members */
  char display_name[HARNESS_NAME_MAX];
  char role[16];
  char home_site_id[HARNESS_ID_MAX]; /* "" when none */
  char token[HARNESS_TOKEN_MAX];     /* access token */
  char refresh[HARNESS_TOKEN_MAX];   /* refresh token */
} harness_account;

/* ------------------------------------------------------------------------------------
 * Utilities
 * ------------------------------------------------------------------------------------ */

/* Writes "<prefix>-<pid>-<counter>-<time hex>" to out (HARNESS_NAME_MAX bytes): unique per
 * process and call, lowercase, valid as a site slug when prefix is [a-z0-9]+.  Returns out. */
char *harness_unique(const char *prefix, char *out);

/* Writes a unique address "<prefix>-...@test.example" to out (HARNESS_EMAIL_MAX). Returns out. */
char *harness_unique_email(const char *prefix, char *out);

/* A new string of n times c (the caller frees it). */
char *harness_repeat(char c, size_t n);

/* True if s is a lowercase UUID (safe to paste into SQL text). */
bool harness_is_uuid(const char *s);

/* Milliseconds since an arbitrary epoch (monotonic). */
int64_t harness_now_ms(void);

/* Milliseconds since the Unix epoch (wall clock): the iat_ms claim of a token forged now. */
int64_t harness_epoch_ms(void);

/* A loopback TCP port nothing listens on (now), for a counterpart a test starts (SMTP, OpenID Provider). */
int harness_free_port(void);

/* Sleeps ms milliseconds. */
void harness_sleep_ms(int ms);

/* True if s is an RFC 3339 UTC timestamp as the API writes them: "2026-11-22T10:00:00Z", with
 * optional fractional seconds (".123") and nothing else; false for NULL. */
bool harness_is_rfc3339_utc(const char *s);

/* Writes the current time plus offset_seconds as RFC 3339 UTC ("2026-11-22T10:00:00Z") to out
 * (32 bytes at least).  Returns out. */
char *harness_rfc3339_from_now(long offset_seconds, char *out);

#endif
