/*
 * auth_internal.h — what src/auth/'s files share: the context, secrets and
 * token formats, the principal cache and the login rate limiter.
 *
 * Locking: the principal cache is split into lock stripes (a slot is only
 * touched under its stripe's mutex); the rate limiter has one mutex. No
 * auth lock is held while the catalog is called.
 */
#ifndef AKIDB_AUTH_INTERNAL_H
#define AKIDB_AUTH_INTERNAL_H

#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "akidb/auth.h"
#include "catalog/catalog_internal.h"

/* ------------------------------------------------------------- secrets -- */

#define AUTH_SECRET_BYTES 32 /* 256 bits */
#define AUTH_PREFIX_BYTES 8  /* 16 hex characters */
#define AUTH_SECRET_HEX (2 * AUTH_SECRET_BYTES)
#define AUTH_TOKEN_LEN (3 + AKIDB_KEY_PREFIX_LEN + 1 + AUTH_SECRET_HEX)

/* getrandom(2) into buf. AKIDB_EIO if the kernel gives none. */
int auth_random(uint8_t *buf, size_t n);
/* Lower-case hex of `n` bytes plus a NUL (out holds 2n + 1). */
void auth_hex(const uint8_t *in, size_t n, char *out);
/* SHA-256 with the digest fetched once at open. */
int auth_sha256(const EVP_MD *md, const void *data, size_t len, uint8_t out[32]);

/* A fresh credential: "<kind>_<prefix>_<secret>" (kind "ak" or "as"), its
 * public prefix and the SHA-256 of the secret part. */
typedef struct {
  char token[AUTH_TOKEN_LEN + 1];
  char prefix[AKIDB_KEY_PREFIX_LEN + 1];
  uint8_t secret_hash[32];
} auth_token_t;
int auth_token_make(const EVP_MD *md, bool is_key, auth_token_t *out);

/* Splits a presented credential. AKIDB_EUNAUTH if malformed. `secret`
 * points into `token`. */
int auth_token_parse(const char *token, bool *is_key, char prefix[AKIDB_KEY_PREFIX_LEN + 1],
                     const char **secret);

/* ------------------------------------------------------- principal cache -- */

#define AUTH_CACHE_STRIPES 64

typedef struct {
  uint8_t key[32]; /* SHA-256 of the whole credential */
  bool used;
  uint64_t generation; /* catalog identity generation when filled */
  int64_t filled_ms;
  akidb_principal_t principal;
} auth_cache_slot_t;

typedef struct {
  auth_cache_slot_t *slots;
  size_t mask; /* slots - 1 (a power of two) */
  pthread_mutex_t stripes[AUTH_CACHE_STRIPES];
} auth_cache_t;

int auth_cache_init(auth_cache_t *c, uint32_t entries);
void auth_cache_free(auth_cache_t *c);
/* Copies a live entry (same generation, younger than ttl, credential not
 * expired at now) into *out. */
bool auth_cache_get(auth_cache_t *c, const uint8_t key[32], uint64_t generation, int64_t now_ms,
                    int64_t ttl_ms, akidb_principal_t *out);
void auth_cache_put(auth_cache_t *c, const uint8_t key[32], uint64_t generation, int64_t now_ms,
                    const akidb_principal_t *p);
void auth_cache_drop(auth_cache_t *c, const uint8_t key[32]);

/* ---------------------------------------------------------- rate limits -- */

#define AUTH_LIMIT_SLOTS 4096
#define AUTH_LIMIT_PROBE 8

typedef struct {
  uint64_t key; /* 0 = empty */
  int64_t window_start_ms;
  uint32_t failures;
} auth_limit_slot_t;

typedef struct {
  pthread_mutex_t lock;
  int64_t window_ms;
  auth_limit_slot_t slots[AUTH_LIMIT_SLOTS];
} auth_limiter_t;

void auth_limiter_init(auth_limiter_t *l, int64_t window_ms);
void auth_limiter_free(auth_limiter_t *l);
/* A 64-bit key for a subject ("u:<tenant>/<user>", "s:<address>"). */
uint64_t auth_limit_key(const EVP_MD *md, const char *kind, const char *a, const char *b);
/* True when `key` has `limit` or more failures in its current window. */
bool auth_limiter_blocked(auth_limiter_t *l, uint64_t key, uint32_t limit, int64_t now_ms);
void auth_limiter_fail(auth_limiter_t *l, uint64_t key, int64_t now_ms);
void auth_limiter_clear(auth_limiter_t *l, uint64_t key);

/* -------------------------------------------------------------- context -- */

struct akidb_auth {
  akidb_catalog_t *cat;
  akidb_auth_options_t opt;
  EVP_MD *sha256;
  auth_cache_t cache;
  auth_limiter_t limiter;
  /* A hash of a random password, verified against when the user is unknown
   * so that a login for a missing user costs as much as one for a real one. */
  char dummy_hash[AKIDB_PASSWORD_HASH_MAX + 1];
};

int64_t auth_now(const akidb_auth_t *a);

/* Checks an Argon2 parameter set against its ranges. */
int auth_argon2_check(const akidb_argon2_params_t *p, char *err, size_t errlen);

#endif /* AKIDB_AUTH_INTERNAL_H */
