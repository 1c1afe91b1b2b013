/*
 * uuid.c — owns UUIDv7 generation (RFC 9562 §5.7: 48-bit Unix milliseconds,
 * version, 12-bit counter in rand_a, variant, 62 random bits), formatting
 * and parsing.
 *
 * Locking: one process-wide mutex guards the last (millisecond, counter)
 * pair, which makes ids strictly increasing within the process: a second id
 * in the same millisecond (or after the clock stepped back) reuses the last
 * millisecond with the counter plus one; a full counter borrows the next
 * millisecond. Each new millisecond starts the counter at a random value
 * below 2048, leaving room for at least 2048 ids. akidb_uuid_v7_fast takes
 * its random bits from a per-thread generator (seeded once from the
 * kernel) instead of a getrandom call per id. Durability: none.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>

#include "catalog/catalog_internal.h"

static pthread_mutex_t uuid_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t uuid_last_ms = -1;
static uint32_t uuid_last_seq;

int akidb_random_bytes(uint8_t *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(buf + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return AKIDB_EIO;
    }
    got += (size_t)r;
  }
  return AKIDB_OK;
}

/* A UUIDv7 from the clock, the process's counter and 10 random bytes. */
static void uuid_build(akidb_uuid_t *out, const uint8_t rnd[10]) {
  int64_t now = cat_now_ms();
  uint32_t fresh = ((uint32_t)rnd[0] | (uint32_t)rnd[1] << 8) & 0x7ff;
  pthread_mutex_lock(&uuid_lock);
  int64_t ms;
  uint32_t seq;
  if (now > uuid_last_ms) {
    ms = now;
    seq = fresh;
  } else {
    ms = uuid_last_ms;
    seq = uuid_last_seq + 1;
    if (seq > 0xfff) {
      ms++;
      seq = fresh;
    }
  }
  uuid_last_ms = ms;
  uuid_last_seq = seq;
  pthread_mutex_unlock(&uuid_lock);
  uint64_t t = (uint64_t)ms;
  for (int i = 0; i < 6; i++) out->bytes[i] = (uint8_t)(t >> (40 - 8 * i));
  out->bytes[6] = (uint8_t)(0x70 | (seq >> 8));
  out->bytes[7] = (uint8_t)(seq & 0xff);
  out->bytes[8] = (uint8_t)(0x80 | (rnd[2] & 0x3f));
  memcpy(out->bytes + 9, rnd + 3, 7);
}

int akidb_uuid_v7(akidb_uuid_t *out) {
  uint8_t rnd[10];
  if (akidb_random_bytes(rnd, sizeof rnd)) return AKIDB_EIO;
  uuid_build(out, rnd);
  return AKIDB_OK;
}

/* The per-thread generator of akidb_uuid_v7_fast (splitmix64). */
static _Thread_local uint64_t fast_state;
static _Thread_local bool fast_seeded;

static uint64_t fast_next(void) {
  uint64_t z = (fast_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int akidb_uuid_v7_fast(akidb_uuid_t *out) {
  if (!fast_seeded) {
    if (akidb_random_bytes((uint8_t *)&fast_state, sizeof fast_state)) return AKIDB_EIO;
    fast_seeded = true;
  }
  uint64_t a = fast_next(), b = fast_next();
  uint8_t rnd[10];
  memcpy(rnd, &a, 8);
  memcpy(rnd + 8, &b, 2);
  uuid_build(out, rnd);
  return AKIDB_OK;
}

void akidb_uuid_format(const akidb_uuid_t *id, char out[AKIDB_UUID_STR_LEN + 1]) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = hex[id->bytes[i] >> 4];
    out[o++] = hex[id->bytes[i] & 15];
  }
  out[o] = '\0';
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int akidb_uuid_parse(const char *text, akidb_uuid_t *out) {
  if (!text || strlen(text) != AKIDB_UUID_STR_LEN) return AKIDB_EINVAL;
  akidb_uuid_t id;
  size_t p = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      if (text[p] != '-') return AKIDB_EINVAL;
      p++;
    }
    int hi = hex_value(text[p]), lo = hex_value(text[p + 1]);
    if (hi < 0 || lo < 0) return AKIDB_EINVAL;
    id.bytes[i] = (uint8_t)(hi << 4 | lo);
    p += 2;
  }
  *out = id;
  return AKIDB_OK;
}

int64_t akidb_uuid_v7_unix_ms(const akidb_uuid_t *id) {
  uint64_t t = 0;
  for (int i = 0; i < 6; i++) t = t << 8 | id->bytes[i];
  return (int64_t)t;
}

int akidb_uuid_compare(const akidb_uuid_t *a, const akidb_uuid_t *b) {
  return memcmp(a->bytes, b->bytes, 16);
}

bool akidb_uuid_is_nil(const akidb_uuid_t *id) {
  for (int i = 0; i < 16; i++)
    if (id->bytes[i]) return false;
  return true;
}
