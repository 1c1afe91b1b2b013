/*
 * ratelimit.c — owns login rate limiting: failure counters per subject
 * (a tenant+username, or a source address) in fixed windows, kept in memory
 * in a bounded open-addressing table (4096 slots, 8 probes; when all probed
 * slots are busy the one with the oldest window is reused, so a flood of
 * fresh subjects cannot grow memory). Subjects are keyed by the first 64
 * bits of a SHA-256, so crafted names cannot collide on purpose.
 *
 * Locking: one mutex around the table. Durability: none — counters reset
 * when the process restarts (documented in akidb/auth.h).
 */
#include <string.h>

#include "auth/auth_internal.h"

void auth_limiter_init(auth_limiter_t *l, int64_t window_ms) {
  memset(l->slots, 0, sizeof l->slots);
  l->window_ms = window_ms;
  pthread_mutex_init(&l->lock, NULL);
}

void auth_limiter_free(auth_limiter_t *l) { pthread_mutex_destroy(&l->lock); }

uint64_t auth_limit_key(const EVP_MD *md, const char *kind, const char *a, const char *b) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  uint8_t d[32] = {0};
  unsigned n = 0;
  if (ctx && EVP_DigestInit_ex(ctx, md, NULL)) {
    EVP_DigestUpdate(ctx, kind, strlen(kind) + 1);
    EVP_DigestUpdate(ctx, a ? a : "", strlen(a ? a : "") + 1);
    EVP_DigestUpdate(ctx, b ? b : "", strlen(b ? b : "") + 1);
    EVP_DigestFinal_ex(ctx, d, &n);
  }
  EVP_MD_CTX_free(ctx);
  uint64_t k;
  memcpy(&k, d, sizeof k);
  return k ? k : 1; /* 0 marks an empty slot */
}

/* The slot of `key` (NULL if absent); with `claim`, a slot for it. */
static auth_limit_slot_t *find_slot(auth_limiter_t *l, uint64_t key, bool claim) {
  size_t start = (size_t)(key % AUTH_LIMIT_SLOTS);
  auth_limit_slot_t *free_slot = NULL, *oldest = NULL;
  for (size_t p = 0; p < AUTH_LIMIT_PROBE; p++) {
    auth_limit_slot_t *s = &l->slots[(start + p) % AUTH_LIMIT_SLOTS];
    if (s->key == key) return s;
    if (!s->key && !free_slot) free_slot = s;
    if (s->key && (!oldest || s->window_start_ms < oldest->window_start_ms)) oldest = s;
  }
  if (!claim) return NULL;
  auth_limit_slot_t *s = free_slot ? free_slot : oldest;
  s->key = key;
  s->failures = 0;
  s->window_start_ms = 0;
  return s;
}

bool auth_limiter_blocked(auth_limiter_t *l, uint64_t key, uint32_t limit, int64_t now_ms) {
  pthread_mutex_lock(&l->lock);
  auth_limit_slot_t *s = find_slot(l, key, false);
  bool blocked = s && now_ms - s->window_start_ms < l->window_ms && s->failures >= limit;
  pthread_mutex_unlock(&l->lock);
  return blocked;
}

void auth_limiter_fail(auth_limiter_t *l, uint64_t key, int64_t now_ms) {
  pthread_mutex_lock(&l->lock);
  auth_limit_slot_t *s = find_slot(l, key, true);
  if (s->failures == 0 || now_ms - s->window_start_ms >= l->window_ms) {
    s->window_start_ms = now_ms;
    s->failures = 0;
  }
  s->failures++;
  pthread_mutex_unlock(&l->lock);
}

void auth_limiter_clear(auth_limiter_t *l, uint64_t key) {
  pthread_mutex_lock(&l->lock);
  auth_limit_slot_t *s = find_slot(l, key, false);
  if (s) memset(s, 0, sizeof *s);
  pthread_mutex_unlock(&l->lock);
}
