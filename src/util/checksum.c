/*
 * checksum.c — owns the streaming 64-bit checksum (see checksum.h).
 * Stateless apart from the caller's ck64_t.
 */
#include "util/checksum.h"

#include <string.h>

#define K1 0x9e3779b185ebca87ull
#define K2 0xc2b2ae3d27d4eb4full
#define K3 0x165667b19e3779f9ull

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t load64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v; /* little-endian hosts only (x86-64, AArch64) */
}

static inline uint64_t round64(uint64_t lane, uint64_t w) {
  return rotl(lane + w * K2, 31) * K1;
}

static void stripe(ck64_t *c, const uint8_t *p) {
  c->lane[0] = round64(c->lane[0], load64(p));
  c->lane[1] = round64(c->lane[1], load64(p + 8));
  c->lane[2] = round64(c->lane[2], load64(p + 16));
  c->lane[3] = round64(c->lane[3], load64(p + 24));
}

void ck64_init(ck64_t *c) {
  memset(c, 0, sizeof *c);
  c->lane[0] = K1 + K2;
  c->lane[1] = K2;
  c->lane[2] = 0;
  c->lane[3] = 0 - K1;
}

void ck64_update(ck64_t *c, const void *data, size_t len) {
  const uint8_t *p = data;
  c->total += len;
  if (c->buffered) {
    size_t take = 32 - c->buffered < len ? 32 - c->buffered : len;
    memcpy(c->buf + c->buffered, p, take);
    c->buffered += take;
    p += take;
    len -= take;
    if (c->buffered < 32) return;
    stripe(c, c->buf);
    c->buffered = 0;
  }
  for (; len >= 32; p += 32, len -= 32) stripe(c, p);
  memcpy(c->buf, p, len);
  c->buffered = len;
}

uint64_t ck64_final(const ck64_t *c) {
  uint64_t h = rotl(c->lane[0], 1) + rotl(c->lane[1], 7) + rotl(c->lane[2], 12) +
               rotl(c->lane[3], 18);
  h ^= c->total * K3;
  for (size_t i = 0; i < c->buffered; i++) h = rotl(h ^ (c->buf[i] * K3), 11) * K1;
  h ^= h >> 33;
  h *= K2;
  h ^= h >> 29;
  h *= K3;
  return h ^ (h >> 32);
}
