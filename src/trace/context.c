/*
 * context.c — owns W3C Trace Context (traceparent parsing and formatting,
 * the tracestate check), the ratio sampler, and random trace and span ids.
 *
 * Ids come from a per-thread xoshiro256** generator seeded from
 * getrandom(2) on the thread's first use (a splitmix64 stream of the clock
 * and the thread's address if the kernel gives nothing), so ids cost a few
 * nanoseconds and no lock. Ids are not secrets; W3C only asks that they be
 * random enough not to collide.
 *
 * Locking: none (thread-local state only). Durability: none.
 */
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "akidb/errors.h"
#include "trace/trace_internal.h"

/* --------------------------------------------------------- random ids -- */

static _Thread_local uint64_t rng[4];
static _Thread_local bool rng_ready;

/* splitmix64: spreads a seed over the generator's state. */
static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Seeds this thread's generator from getrandom (or the clock). */
static void rng_seed(void) {
  uint64_t seed[4] = {0};
  size_t got = 0;
  while (got < sizeof seed) {
    ssize_t r = getrandom((char *)seed + got, sizeof seed - got, GRND_NONBLOCK);
    if (r <= 0) break;
    got += (size_t)r;
  }
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t x = seed[0] ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
               (uint64_t)(uintptr_t)&rng_ready;
  for (int i = 0; i < 4; i++) rng[i] = (got == sizeof seed ? seed[i] : 0) ^ splitmix64(&x);
  rng_ready = true;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t trace_rand64(void) {
  if (!rng_ready) rng_seed();
  uint64_t r = rotl(rng[1] * 5, 7) * 9, t = rng[1] << 17;
  rng[2] ^= rng[0];
  rng[3] ^= rng[1];
  rng[1] ^= rng[2];
  rng[0] ^= rng[3];
  rng[2] ^= t;
  rng[3] = rotl(rng[3], 45);
  return r;
}

/* n random bytes, not all zero. */
static void random_nonzero(uint8_t *out, size_t n) {
  for (;;) {
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i += 8) {
      uint64_t r = trace_rand64();
      size_t k = n - i < 8 ? n - i : 8;
      memcpy(out + i, &r, k);
      acc |= r;
    }
    if (acc) return;
  }
}

void trace_new_trace_id(uint8_t id[TRACE_ID_SIZE]) { random_nonzero(id, TRACE_ID_SIZE); }

void trace_new_span_id(uint8_t id[TRACE_SPAN_ID_SIZE]) { random_nonzero(id, TRACE_SPAN_ID_SIZE); }

/* ----------------------------------------------------------------- hex -- */

static const char hexdigits[] = "0123456789abcdef";

void trace_hex(const uint8_t *bytes, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hexdigits[bytes[i] >> 4];
    out[2 * i + 1] = hexdigits[bytes[i] & 15];
  }
}

/* A lower-case hex digit's value, or -1. */
static inline int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Decodes 2n lower-case hex chars into n bytes; false on a bad digit. */
static bool unhex(const char *s, size_t n, uint8_t *out) {
  for (size_t i = 0; i < n; i++) {
    int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return true;
}

static bool all_zero(const uint8_t *b, size_t n) {
  uint8_t acc = 0;
  for (size_t i = 0; i < n; i++) acc |= b[i];
  return acc == 0;
}

/* ---------------------------------------------------------- traceparent -- */

/* Field layout of version 00: vv-<32>-<16>-ff. */
#define TP_TRACE_AT 3
#define TP_SPAN_AT 36
#define TP_FLAGS_AT 53

int trace_traceparent_parse(const char *s, trace_ctx_t *out) {
  memset(out, 0, sizeof *out);
  if (!s) return AKIDB_EINVAL;
  size_t len = strnlen(s, TRACE_TRACEPARENT_LEN + 1);
  if (len < TRACE_TRACEPARENT_LEN) return AKIDB_EINVAL;
  uint8_t version, flags;
  if (!unhex(s, 1, &version) || version == 0xff) return AKIDB_EINVAL;
  /* version 00 is exactly 55 bytes; a later one may add "-..." fields */
  if (version == 0 && len != TRACE_TRACEPARENT_LEN) return AKIDB_EINVAL;
  if (len > TRACE_TRACEPARENT_LEN && s[TRACE_TRACEPARENT_LEN] != '-') return AKIDB_EINVAL;
  if (s[2] != '-' || s[TP_SPAN_AT - 1] != '-' || s[TP_FLAGS_AT - 1] != '-') return AKIDB_EINVAL;
  trace_ctx_t c = {0};
  if (!unhex(s + TP_TRACE_AT, TRACE_ID_SIZE, c.trace_id) ||
      !unhex(s + TP_SPAN_AT, TRACE_SPAN_ID_SIZE, c.span_id) || !unhex(s + TP_FLAGS_AT, 1, &flags))
    return AKIDB_EINVAL;
  if (all_zero(c.trace_id, TRACE_ID_SIZE) || all_zero(c.span_id, TRACE_SPAN_ID_SIZE))
    return AKIDB_EINVAL;
  c.flags = flags & TRACE_FLAG_SAMPLED;
  c.valid = true;
  *out = c;
  return AKIDB_OK;
}

void trace_traceparent_format(const trace_ctx_t *c, char out[TRACE_TRACEPARENT_SIZE]) {
  memcpy(out, "00-", 3);
  trace_hex(c->trace_id, TRACE_ID_SIZE, out + TP_TRACE_AT);
  out[TP_SPAN_AT - 1] = '-';
  trace_hex(c->span_id, TRACE_SPAN_ID_SIZE, out + TP_SPAN_AT);
  out[TP_FLAGS_AT - 1] = '-';
  uint8_t f = c->flags & TRACE_FLAG_SAMPLED;
  trace_hex(&f, 1, out + TP_FLAGS_AT);
  out[TRACE_TRACEPARENT_LEN] = '\0';
}

bool trace_tracestate_ok(const char *s) {
  if (!s) return false;
  size_t n = 0;
  bool content = false;
  for (; s[n]; n++) {
    unsigned char c = (unsigned char)s[n];
    if ((c < 0x20 && c != '\t') || c > 0x7e || n >= TRACE_TRACESTATE_MAX) return false;
    if (c != ' ' && c != ',' && c != '\t') content = true;
  }
  return content;
}

/* ------------------------------------------------------------- sampler -- */

bool trace_ratio_sampled(const uint8_t trace_id[TRACE_ID_SIZE], double ratio) {
  if (!(ratio > 0.0)) return false; /* also NaN */
  if (ratio >= 1.0) return true;
  uint64_t x = 0;
  for (int i = 8; i < 16; i++) x = x << 8 | trace_id[i];
  uint64_t bound = (uint64_t)(ratio * 9223372036854775808.0); /* ratio * 2^63 */
  return (x >> 1) < bound;
}
