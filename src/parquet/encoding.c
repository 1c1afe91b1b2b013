/*
 * parquet/encoding.c — Parquet's value and level encodings (Encodings.md):
 * the RLE / bit-packed hybrid (levels, dictionary indices, RLE booleans),
 * the deprecated MSB-first BIT_PACKED levels, DELTA_BINARY_PACKED and
 * BYTE_STREAM_SPLIT. DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY are
 * built from DELTA_BINARY_PACKED by the page decoder (reader.c).
 *
 * Decoders take the exact number of values wanted and the bytes available
 * and never read past them; a run that ends early is an error (-1), not a
 * short read. Locking: none (pure functions). Durability: none.
 */
#include <limits.h>
#include <string.h>

#include "parquet/pq_internal.h"

const char *pq_encoding_name(int enc) {
  switch (enc) {
  case PQ_ENC_PLAIN: return "PLAIN";
  case PQ_ENC_PLAIN_DICTIONARY: return "PLAIN_DICTIONARY";
  case PQ_ENC_RLE: return "RLE";
  case PQ_ENC_BIT_PACKED: return "BIT_PACKED";
  case PQ_ENC_DELTA_BINARY_PACKED: return "DELTA_BINARY_PACKED";
  case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY: return "DELTA_LENGTH_BYTE_ARRAY";
  case PQ_ENC_DELTA_BYTE_ARRAY: return "DELTA_BYTE_ARRAY";
  case PQ_ENC_RLE_DICTIONARY: return "RLE_DICTIONARY";
  case PQ_ENC_BYTE_STREAM_SPLIT: return "BYTE_STREAM_SPLIT";
  default: return "an unknown encoding";
  }
}

int pq_bit_width(uint64_t max) {
  int w = 0;
  while (max) {
    w++;
    max >>= 1;
  }
  return w;
}

/* Reads a varint at *pos from [p, p+len); false when it runs past. */
static bool get_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64 && *pos < len; shift += 7) {
    uint8_t b = p[(*pos)++];
    r |= (uint64_t)(b & 0x7F) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return true;
    }
  }
  return false;
}

/* bw (<= 64) bits at bit offset `bit` of p (avail bytes), LSB first;
 * bits past the end read as 0. */
static inline uint64_t get_bits(const uint8_t *p, size_t avail, uint64_t bit,
                                int bw) {
  if (bw == 0) return 0;
  size_t byte = (size_t)(bit >> 3);
  int sh = (int)(bit & 7);
  if (bw <= 56 && byte + 8 <= avail) {
    uint64_t w = pq_load_u64le(p + byte) >> sh;
    return bw == 64 ? w : w & ((UINT64_C(1) << bw) - 1);
  }
  uint64_t v = 0;
  for (int got = 0; got < bw;) {
    uint8_t b = byte < avail ? p[byte] : 0;
    int take = 8 - sh < bw - got ? 8 - sh : bw - got;
    v |= (uint64_t)((b >> sh) & ((1u << take) - 1)) << got;
    got += take;
    sh = 0;
    byte++;
  }
  return v;
}

/* ----------------------------------------------------- RLE hybrid: write */

static void put_literal(pq_buf_t *out, const uint32_t *v, size_t n, int bw) {
  size_t groups = (n + 7) / 8;
  pq_buf_varint(out, (uint64_t)groups << 1 | 1);
  if (!pq_buf_reserve(out, groups * (size_t)bw + 8)) return;
  uint64_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < groups * 8; i++) {
    acc |= (uint64_t)(i < n ? v[i] : 0) << bits;
    bits += bw;
    while (bits >= 8) {
      out->data[out->len++] = (uint8_t)acc;
      acc >>= 8;
      bits -= 8;
    }
  }
}

static void put_rle(pq_buf_t *out, uint32_t value, size_t count, int bw) {
  pq_buf_varint(out, (uint64_t)count << 1);
  for (int b = 0; b < (bw + 7) / 8; b++) pq_buf_byte(out, (uint8_t)(value >> (8 * b)));
}

void pq_rle_encode_run(pq_buf_t *out, uint32_t value, size_t n, int bw) {
  if (n) put_rle(out, value, n, bw);
}

/* Runs of 8 or more equal values become RLE runs; the rest is bit-packed
 * in groups of 8 (a literal stretch borrows values from the run that ends
 * it until it is a whole number of groups; only the last one is padded). */
void pq_rle_encode(pq_buf_t *out, const uint32_t *v, size_t n, int bw) {
  size_t i = 0, lit = 0;
  while (i < n) {
    size_t j = i + 1;
    while (j < n && v[j] == v[i]) j++;
    size_t run = j - i, pend = i - lit, fill = (8 - pend % 8) % 8;
    if (run >= fill + 8) {
      if (pend + fill) put_literal(out, v + lit, pend + fill, bw);
      put_rle(out, v[i], run - fill, bw);
      lit = j;
    }
    i = j;
  }
  if (n > lit) put_literal(out, v + lit, n - lit, bw);
}

/* ------------------------------------------------------ RLE hybrid: read */

long pq_rle_decode(const uint8_t *p, size_t len, int bw, uint32_t *out,
                   size_t n) {
  if (bw < 0 || bw > 32) return -1;
  size_t pos = 0, got = 0;
  while (got < n) {
    uint64_t h;
    if (pos >= len && bw == 0) { /* width 0: every value is 0 */
      memset(out + got, 0, (n - got) * sizeof *out);
      return (long)pos;
    }
    if (!get_varint(p, len, &pos, &h)) return -1;
    if (h & 1) {
      uint64_t groups = h >> 1;
      if (groups > (UINT64_C(1) << 40)) groups = UINT64_C(1) << 40;
      uint64_t count = groups * 8, bytes = groups * (uint64_t)bw;
      size_t avail = len - pos;
      size_t take = count < n - got ? (size_t)count : n - got;
      if ((uint64_t)take * (uint64_t)bw > (uint64_t)avail * 8) return -1;
      const uint8_t *q = p + pos;
      size_t lim = bytes < avail ? (size_t)bytes : avail;
      for (size_t k = 0; k < take; k++)
        out[got + k] = (uint32_t)get_bits(q, lim, (uint64_t)k * (uint64_t)bw, bw);
      got += take;
      pos += lim;
    } else {
      uint64_t count = h >> 1;
      size_t vb = (size_t)(bw + 7) / 8;
      if (len - pos < vb) return -1;
      uint32_t value = 0;
      for (size_t b = 0; b < vb; b++) value |= (uint32_t)p[pos + b] << (8 * b);
      pos += vb;
      if (bw < 32 && value >> bw) return -1;
      size_t take = count < n - got ? (size_t)count : n - got;
      for (size_t k = 0; k < take; k++) out[got + k] = value;
      got += take;
    }
  }
  return (long)pos;
}

long pq_bitpacked_msb_decode(const uint8_t *p, size_t len, int bw,
                             uint32_t *out, size_t n) {
  if (bw < 0 || bw > 32) return -1;
  uint64_t bits = (uint64_t)n * (uint64_t)bw;
  uint64_t need = (bits + 7) / 8;
  if (need > len) return -1;
  uint64_t bit = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t v = 0;
    for (int b = 0; b < bw; b++, bit++)
      v = v << 1 | ((p[bit >> 3] >> (7 - (bit & 7))) & 1u);
    out[i] = v;
  }
  return (long)need;
}

/* ----------------------------------------------------- level streams */

void pq_levels_init(pq_levels_t *s, const uint8_t *p, size_t len, int bw, bool msb) {
  memset(s, 0, sizeof *s);
  s->p = p;
  s->len = len;
  s->bw = bw;
  s->msb = msb;
  if (msb) { /* one run of every value the bytes hold */
    s->literal = true;
    s->lit = p;
    s->lit_len = len;
    s->run_left = bw ? (uint64_t)len * 8 / (uint64_t)bw : UINT64_MAX;
  }
}

/* Starts the next run; false when the data ends or the run is bad. */
static bool levels_refill(pq_levels_t *s) {
  while (s->run_left == 0) {
    uint64_t h;
    if (s->msb || !get_varint(s->p, s->len, &s->pos, &h)) return false;
    if (h & 1) {
      uint64_t groups = h >> 1;
      if (groups > (UINT64_C(1) << 40)) groups = UINT64_C(1) << 40;
      uint64_t bytes = groups * (uint64_t)s->bw;
      size_t avail = s->len - s->pos;
      s->lit = s->p + s->pos;
      s->lit_len = bytes < avail ? (size_t)bytes : avail;
      s->lit_idx = 0;
      s->pos += s->lit_len;
      s->run_left = groups * 8;
      s->literal = true;
    } else {
      size_t vb = (size_t)(s->bw + 7) / 8;
      if (s->len - s->pos < vb) return false;
      uint32_t value = 0;
      for (size_t b = 0; b < vb; b++) value |= (uint32_t)s->p[s->pos + b] << (8 * b);
      s->pos += vb;
      if (s->bw < 32 && value >> s->bw) return false;
      s->run_val = value;
      s->run_left = h >> 1;
      s->literal = false;
    }
  }
  return true;
}

bool pq_levels_next(pq_levels_t *s, uint32_t *v) {
  if (s->bw == 0) {
    *v = 0;
    return true;
  }
  if (s->run_left == 0 && !levels_refill(s)) return false;
  if (s->literal) {
    uint64_t bit = s->lit_idx * (uint64_t)s->bw;
    if (bit + (uint64_t)s->bw > (uint64_t)s->lit_len * 8) return false;
    if (s->msb) {
      uint32_t x = 0;
      for (int b = 0; b < s->bw; b++, bit++)
        x = x << 1 | ((s->lit[bit >> 3] >> (7 - (bit & 7))) & 1u);
      *v = x;
    } else {
      *v = (uint32_t)get_bits(s->lit, s->lit_len, bit, s->bw);
    }
    s->lit_idx++;
  } else {
    *v = s->run_val;
  }
  s->run_left--;
  return true;
}

long pq_levels_count(pq_levels_t s, size_t n, uint32_t max, uint32_t target) {
  long count = 0;
  while (n > 0) {
    if (s.bw && s.run_left == 0 && !levels_refill(&s)) return -1;
    if (s.bw && !s.literal) { /* a whole RLE run at once */
      uint64_t take = s.run_left < n ? s.run_left : n;
      if (s.run_val > max) return -2;
      if (s.run_val == target) count += (long)take;
      s.run_left -= take;
      n -= (size_t)take;
      continue;
    }
    uint32_t v;
    if (!pq_levels_next(&s, &v)) return -1;
    if (v > max) return -2;
    count += v == target;
    n--;
  }
  return count;
}

/* ---------------------------------------------------- DELTA_BINARY_PACKED */

#define DELTA_BLOCK 128
#define DELTA_MINIBLOCKS 4

static uint64_t zz(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzz(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

static void put_bits64(pq_buf_t *out, const uint64_t *v, size_t n, int bw) {
  if (!pq_buf_reserve(out, n * (size_t)bw / 8 + 16)) return;
  unsigned __int128 acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    acc |= (unsigned __int128)v[i] << bits;
    bits += bw;
    while (bits >= 8) {
      out->data[out->len++] = (uint8_t)acc;
      acc >>= 8;
      bits -= 8;
    }
  }
  if (bits) out->data[out->len++] = (uint8_t)acc;
}

void pq_delta_encode(pq_buf_t *out, const int64_t *v, size_t n) {
  const size_t per_mb = DELTA_BLOCK / DELTA_MINIBLOCKS;
  pq_buf_varint(out, DELTA_BLOCK);
  pq_buf_varint(out, DELTA_MINIBLOCKS);
  pq_buf_varint(out, n);
  pq_buf_varint(out, zz(n ? v[0] : 0));
  for (size_t i = 1; i < n; i += DELTA_BLOCK) {
    size_t m = n - i < DELTA_BLOCK ? n - i : DELTA_BLOCK;
    uint64_t d[DELTA_BLOCK];
    int64_t min = INT64_MAX;
    for (size_t k = 0; k < m; k++) {
      d[k] = (uint64_t)v[i + k] - (uint64_t)v[i + k - 1];
      if ((int64_t)d[k] < min) min = (int64_t)d[k];
    }
    for (size_t k = 0; k < DELTA_BLOCK; k++)
      d[k] = k < m ? d[k] - (uint64_t)min : 0;
    pq_buf_varint(out, zz(min));
    int widths[DELTA_MINIBLOCKS];
    for (size_t b = 0; b < DELTA_MINIBLOCKS; b++) {
      uint64_t mx = 0;
      for (size_t k = b * per_mb; k < (b + 1) * per_mb && k < m; k++)
        if (d[k] > mx) mx = d[k];
      widths[b] = pq_bit_width(mx);
      pq_buf_byte(out, (uint8_t)widths[b]);
    }
    for (size_t b = 0; b < DELTA_MINIBLOCKS && b * per_mb < m; b++)
      put_bits64(out, d + b * per_mb, per_mb, widths[b]);
  }
}

typedef struct {
  uint64_t block, mbs, total;
  int64_t first;
} delta_header_t;

static bool delta_header(const uint8_t *p, size_t len, size_t *pos,
                         delta_header_t *h) {
  uint64_t first;
  if (!get_varint(p, len, pos, &h->block) || !get_varint(p, len, pos, &h->mbs) ||
      !get_varint(p, len, pos, &h->total) || !get_varint(p, len, pos, &first))
    return false;
  h->first = unzz(first);
  if (h->block == 0 || h->block % 128 || h->block > (1u << 20)) return false;
  if (h->mbs == 0 || h->block % h->mbs || (h->block / h->mbs) % 32) return false;
  return true;
}

long pq_delta_count(const uint8_t *p, size_t len) {
  size_t pos = 0;
  delta_header_t h;
  if (!delta_header(p, len, &pos, &h) || h.total > (uint64_t)LONG_MAX)
    return -1;
  return (long)h.total;
}

long pq_delta_decode(const uint8_t *p, size_t len, int64_t *out, size_t max,
                     size_t *n) {
  size_t pos = 0;
  delta_header_t h;
  if (!delta_header(p, len, &pos, &h) || h.total > max) return -1;
  *n = (size_t)h.total;
  if (h.total == 0) return (long)pos;
  uint64_t last = (uint64_t)h.first;
  out[0] = h.first;
  size_t got = 1, per_mb = (size_t)(h.block / h.mbs);
  while (got < h.total) {
    uint64_t mdz;
    if (!get_varint(p, len, &pos, &mdz)) return -1;
    uint64_t min = (uint64_t)unzz(mdz);
    if (len - pos < h.mbs) return -1;
    const uint8_t *widths = p + pos;
    pos += (size_t)h.mbs;
    for (size_t b = 0; b < h.mbs && got < h.total; b++) {
      int bw = widths[b];
      if (bw > 64) return -1;
      size_t bytes = per_mb * (size_t)bw / 8, avail = len - pos;
      size_t take = per_mb < h.total - got ? per_mb : (size_t)(h.total - got);
      if ((uint64_t)take * (uint64_t)bw > (uint64_t)avail * 8) return -1;
      size_t lim = bytes < avail ? bytes : avail;
      for (size_t k = 0; k < take; k++) {
        last += min + get_bits(p + pos, lim, (uint64_t)k * (uint64_t)bw, bw);
        out[got++] = (int64_t)last;
      }
      pos += lim;
    }
  }
  return (long)pos;
}

/* ------------------------------------------------------ BYTE_STREAM_SPLIT */

void pq_bss_encode(uint8_t *dst, const uint8_t *src, size_t n, size_t w) {
  for (size_t i = 0; i < n; i++)
    for (size_t b = 0; b < w; b++) dst[b * n + i] = src[i * w + b];
}

void pq_bss_decode(uint8_t *dst, const uint8_t *src, size_t n, size_t w) {
  for (size_t i = 0; i < n; i++)
    for (size_t b = 0; b < w; b++) dst[i * w + b] = src[b * n + i];
}
