/*
 * cache.c — owns the principal cache: a direct-mapped table from the
 * SHA-256 of a presented credential to the principal it resolved to, so a
 * warm authorisation costs one hash and one table probe instead of a
 * catalog read.
 *
 * Locking: slot i is read and written only under stripe i % 64. An entry is
 * live while (a) the catalog's identity generation equals the one it was
 * filled under — any committed change to users, keys, sessions or tenant
 * status bumps it — (b) it is younger than the cache TTL, which bounds
 * staleness against changes made by other processes, and (c) the
 * credential itself has not expired. Keys are compared in constant time.
 * Durability: none (memory only).
 */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_internal.h"

int auth_cache_init(auth_cache_t *c, uint32_t entries) {
  size_t n = 16;
  while (n < entries) n <<= 1;
  c->slots = calloc(n, sizeof *c->slots);
  if (!c->slots) return AKIDB_ENOMEM;
  c->mask = n - 1;
  for (int i = 0; i < AUTH_CACHE_STRIPES; i++) pthread_mutex_init(&c->stripes[i], NULL);
  return AKIDB_OK;
}

void auth_cache_free(auth_cache_t *c) {
  if (!c->slots) return;
  for (int i = 0; i < AUTH_CACHE_STRIPES; i++) pthread_mutex_destroy(&c->stripes[i]);
  OPENSSL_cleanse(c->slots, (c->mask + 1) * sizeof *c->slots);
  free(c->slots);
  c->slots = NULL;
}

static size_t slot_of(const auth_cache_t *c, const uint8_t key[32]) {
  uint64_t h;
  memcpy(&h, key, sizeof h);
  return (size_t)h & c->mask;
}

bool auth_cache_get(auth_cache_t *c, const uint8_t key[32], uint64_t generation, int64_t now_ms,
                    int64_t ttl_ms, akidb_principal_t *out) {
  size_t i = slot_of(c, key);
  pthread_mutex_t *m = &c->stripes[i % AUTH_CACHE_STRIPES];
  pthread_mutex_lock(m);
  auth_cache_slot_t *s = &c->slots[i];
  bool hit = s->used && CRYPTO_memcmp(s->key, key, 32) == 0 && s->generation == generation &&
             now_ms - s->filled_ms < ttl_ms &&
             (s->principal.expires_at_ms == 0 || now_ms < s->principal.expires_at_ms);
  if (hit) *out = s->principal;
  pthread_mutex_unlock(m);
  return hit;
}

void auth_cache_put(auth_cache_t *c, const uint8_t key[32], uint64_t generation, int64_t now_ms,
                    const akidb_principal_t *p) {
  size_t i = slot_of(c, key);
  pthread_mutex_t *m = &c->stripes[i % AUTH_CACHE_STRIPES];
  pthread_mutex_lock(m);
  auth_cache_slot_t *s = &c->slots[i];
  memcpy(s->key, key, 32);
  s->used = true;
  s->generation = generation;
  s->filled_ms = now_ms;
  s->principal = *p;
  pthread_mutex_unlock(m);
}

void auth_cache_drop(auth_cache_t *c, const uint8_t key[32]) {
  size_t i = slot_of(c, key);
  pthread_mutex_t *m = &c->stripes[i % AUTH_CACHE_STRIPES];
  pthread_mutex_lock(m);
  if (CRYPTO_memcmp(c->slots[i].key, key, 32) == 0) c->slots[i].used = false;
  pthread_mutex_unlock(m);
}
