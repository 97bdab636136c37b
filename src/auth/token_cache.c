/* A direct-mapped cache of verified access tokens (see token_verify_cached). It caches the
 * signature and claim checks only: revocation by a credential change is checked after it,
 * on every request, by the dispatcher. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "forumnet/token.h"

#define CACHE_SLOTS 2048
#define CACHE_LOCKS 64
#define CACHE_MAX_TOKEN 768     /* longer tokens are verified every time */
#define CLOCK_LEEWAY_SECONDS 30 /* as in jwt.c */

typedef struct cache_slot {
  size_t len; /* 0: empty */
  char token[CACHE_MAX_TOKEN];
  token_claims claims;
} cache_slot;

static cache_slot slots[CACHE_SLOTS];
static pthread_mutex_t locks[CACHE_LOCKS];
static pthread_once_t locks_once = PTHREAD_ONCE_INIT;

static void init_locks(void) {
  for (int i = 0; i < CACHE_LOCKS; i++)
    pthread_mutex_init(&locks[i], NULL);
}

static uint64_t fnv1a(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ULL;
  }
  return h;
}

fn_status token_verify_cached(const fn_config *cfg, const char *token, time_t now, token_claims *out) {
  size_t len = token ? strnlen(token, CACHE_MAX_TOKEN + 1) : 0;
  if (len == 0 || len > CACHE_MAX_TOKEN)
    return token_verify(cfg, token, now, out);
  pthread_once(&locks_once, init_locks);
  size_t index = (size_t)(fnv1a(token, len) % CACHE_SLOTS);
  cache_slot *slot = &slots[index];
  pthread_mutex_t *lock = &locks[index % CACHE_LOCKS]; /* a slot always maps to the same lock */

  pthread_mutex_lock(lock);
  /* The whole token is compared: only the exact bytes that verified count as verified. */
  int hit = slot->len == len && memcmp(slot->token, token, len) == 0;
  if (hit)
    *out = slot->claims;
  pthread_mutex_unlock(lock);
  if (hit) {
    if (now < out->exp + CLOCK_LEEWAY_SECONDS)
      return FN_OK;
    memset(out, 0, sizeof *out);
    return FN_UNAUTHENTICATED;
  }

  fn_status st = token_verify(cfg, token, now, out);
  if (st == FN_OK) {
    pthread_mutex_lock(lock);
    memcpy(slot->token, token, len);
    slot->len = len;
    slot->claims = *out;
    pthread_mutex_unlock(lock);
  }
  return st;
}
