/*
 * parquet/column.c — a cursor over one column chunk: reads pages through
 * a read-ahead window (a few MiB, so one ranged read usually brings a
 * page header and its body), decompresses them (compress.c), decodes the
 * repetition and definition levels and the values of data pages v1 and
 * v2 (PLAIN, dictionary, RLE booleans, the DELTA encodings,
 * BYTE_STREAM_SPLIT), and hands out one row at a time.
 *
 * Memory is one page: the window, the page's decompressed bytes, its
 * levels and decoded values, and the chunk's dictionary. Every size read
 * from the file is checked against the chunk's extent, the page's bytes or
 * the reader's max_page_bytes before anything is allocated.
 * Locking: a cursor belongs to one thread. Durability: read-only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/pq_internal.h"

#define WINDOW_BYTES (4u << 20)
#define MAX_HEADER_BYTES (16u << 20)

/* Decoded values of one page or of the dictionary. */
typedef struct {
  size_t n;
  size_t width;          /* fixed-width types; 0 for BYTE_ARRAY */
  const uint8_t *fixed;  /* n * width bytes (in the page or in own) */
  const uint8_t **ptr;   /* BYTE_ARRAY values */
  uint32_t *len;
  size_t cap;            /* entries of ptr/len */
  pq_buf_t own;          /* materialised fixed values */
  pq_buf_t blob;         /* DELTA_BYTE_ARRAY values */
} vals_t;

struct pq_col {
  pq_reader_t *r;
  size_t rg;
  const pq_leaf_t *l;
  int type;
  size_t width;
  int codec;
  uint64_t pos, end;     /* the chunk's remaining extent */
  uint8_t *win;          /* read-ahead window */
  size_t win_cap, win_len;
  uint64_t win_off;
  pq_codec_ctx_t *cc;
  pq_buf_t dict_page;    /* decompressed dictionary page */
  vals_t dict;
  bool has_dict, data_seen;
  pq_buf_t page;         /* decompressed data page */
  pq_levels_t def, rep;  /* the page's level streams */
  uint32_t cd, cr;       /* definition and repetition level of entry li */
  size_t nlev, li;       /* entries in the page, entries consumed */
  size_t npresent;       /* entries with a value (def == max_def) */
  vals_t vals;
  size_t vi;
  uint32_t *idx;         /* dictionary indices */
  size_t idx_cap;
  int64_t *i64;          /* DELTA scratch */
  size_t i64_cap;
  int page_no;
};

/* "column X row group N page P: what" */
static int col_fail(const pq_col_t *c, char *err, size_t errlen, int code,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int col_fail(const pq_col_t *c, char *err, size_t errlen, int code,
                    const char *fmt, ...) {
  if (!err || !errlen) return code;
  int n = snprintf(err, errlen, "column %s row group %zu page %d: ", c->l->path, c->rg,
                   c->page_no);
  if (n < 0 || (size_t)n >= errlen) return code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
  va_end(ap);
  return code;
}

static bool grow(void **p, size_t *cap, size_t need, size_t size) {
  if (need <= *cap) return true;
  size_t n = *cap ? *cap : 64;
  while (n < need) n *= 2;
  void *q = realloc(*p, n * size);
  if (!q) return false;
  *p = q;
  *cap = n;
  return true;
}

static void vals_free(vals_t *v) {
  free(v->ptr);
  free(v->len);
  pq_buf_free(&v->own);
  pq_buf_free(&v->blob);
  memset(v, 0, sizeof *v);
}

static bool vals_reserve_ptrs(vals_t *v, size_t n) {
  if (n <= v->cap) return true;
  size_t cap = v->cap;
  void *p = v->ptr;
  if (!grow(&p, &cap, n, sizeof *v->ptr)) return false;
  v->ptr = p;
  size_t cap2 = v->cap;
  void *l = v->len;
  if (!grow(&l, &cap2, n, sizeof *v->len)) return false;
  v->len = l;
  v->cap = cap < cap2 ? cap : cap2;
  return true;
}

/* ------------------------------------------------------------ open/free */

int pq_col_open(pq_reader_t *r, size_t rg, uint32_t leaf, pq_col_t **out,
                char *err, size_t errlen) {
  *out = NULL;
  pq_col_t *c = calloc(1, sizeof *c);
  if (!c) return pq_fail(err, errlen, AKIDB_ENOMEM, "out of memory");
  const pq_chunk_meta_t *m = &r->meta.row_groups[rg].columns[leaf];
  c->r = r;
  c->rg = rg;
  c->l = &r->leaves[leaf];
  const pq_schema_elem_t *e = &r->meta.schema[c->l->elem];
  c->type = e->type;
  switch (c->type) {
  case PQ_BOOLEAN: c->width = 1; break;
  case PQ_INT32: case PQ_FLOAT: c->width = 4; break;
  case PQ_INT64: case PQ_DOUBLE: c->width = 8; break;
  case PQ_INT96: c->width = 12; break;
  case PQ_FIXED_LEN_BYTE_ARRAY: c->width = (size_t)e->type_length; break;
  default: c->width = 0;
  }
  c->codec = m->codec;
  int64_t start = m->data_page_offset;
  if (m->dictionary_page_offset > 0 && m->dictionary_page_offset < start)
    start = m->dictionary_page_offset;
  c->pos = (uint64_t)start;
  c->end = c->pos + (uint64_t)m->total_compressed_size;
  c->page_no = -1;
  if (!pq_codec_supported(c->codec)) {
    int rc = pq_fail(err, errlen, AKIDB_ENOTSUP,
                     "column %s uses codec %s, which AkiDB cannot read; rewrite "
                     "with zstd or snappy", c->l->path, pq_codec_name(c->codec));
    free(c);
    return rc;
  }
  if (!(c->cc = pq_codec_ctx_new())) {
    free(c);
    return pq_fail(err, errlen, AKIDB_ENOMEM, "out of memory");
  }
  *out = c;
  return 0;
}

void pq_col_free(pq_col_t *c) {
  if (!c) return;
  free(c->win);
  pq_codec_ctx_free(c->cc);
  pq_buf_free(&c->dict_page);
  vals_free(&c->dict);
  pq_buf_free(&c->page);
  vals_free(&c->vals);
  free(c->idx);
  free(c->i64);
  free(c);
}

/* --------------------------------------------------------------- window */

/* Makes [off, off+len) (inside the chunk) available; *p points at it and
 * *avail says how many bytes from off the window holds (>= len). */
static int fetch(pq_col_t *c, uint64_t off, size_t len, const uint8_t **p,
                 size_t *avail, char *err, size_t errlen) {
  if (off >= c->win_off && off + len <= c->win_off + c->win_len) {
    *p = c->win + (off - c->win_off);
    *avail = (size_t)(c->win_off + c->win_len - off);
    return 0;
  }
  uint64_t left = c->end - off;
  size_t want = len > WINDOW_BYTES ? len : (left < WINDOW_BYTES ? (size_t)left : WINDOW_BYTES);
  if (want > c->win_cap) {
    uint8_t *w = realloc(c->win, want);
    if (!w) return col_fail(c, err, errlen, AKIDB_ENOMEM, "out of memory");
    c->win = w;
    c->win_cap = want;
  }
  c->win_len = 0;
  if (c->r->read_at(c->r->ctx, off, c->win, want))
    return col_fail(c, err, errlen, AKIDB_EIO, "cannot read %zu bytes at offset %" PRIu64,
                    want, off);
  c->win_off = off;
  c->win_len = want;
  *p = c->win;
  *avail = want;
  return 0;
}

/* ------------------------------------------------------------ value decoding */

static int plain_decode(pq_col_t *c, vals_t *v, const uint8_t *p, size_t len,
                        size_t n, char *err, size_t errlen) {
  v->n = n;
  v->width = c->width;
  if (c->type == PQ_BOOLEAN) {
    if (n > (uint64_t)len * 8)
      return col_fail(c, err, errlen, AKIDB_ECORRUPT, "%zu booleans need more than %zu bytes",
                      n, len);
    v->own.len = 0;
    if (!pq_buf_reserve(&v->own, n ? n : 1))
      return col_fail(c, err, errlen, AKIDB_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) v->own.data[i] = (p[i >> 3] >> (i & 7)) & 1;
    v->own.len = n;
    v->fixed = v->own.data;
    return 0;
  }
  if (c->type != PQ_BYTE_ARRAY) {
    if (n > len / c->width)
      return col_fail(c, err, errlen, AKIDB_ECORRUPT,
                      "%zu values of %zu bytes need more than the %zu bytes left", n,
                      c->width, len);
    v->fixed = p;
    return 0;
  }
  if (n > len / 4)
    return col_fail(c, err, errlen, AKIDB_ECORRUPT,
                    "%zu strings need more than the %zu bytes left", n, len);
  if (!vals_reserve_ptrs(v, n)) return col_fail(c, err, errlen, AKIDB_ENOMEM, "out of memory");
  size_t pos = 0;
  for (size_t i = 0; i < n; i++) {
    if (len - pos < 4)
      return col_fail(c, err, errlen, AKIDB_ECORRUPT, "string %zu runs past the page", i);
    uint32_t l = pq_load_u32le(p + pos);
    pos += 4;
    if (l > len - pos)
      return col_fail(c, err, errlen, AKIDB_ECORRUPT,
                      "string %zu of %u bytes runs past the page", i, l);
    v->ptr[i] = p + pos;
    v->len[i] = l;
    pos += l;
  }
  return 0;
}

static int dict_decode(pq_col_t *c, vals_t *v, const uint8_t *p, size_t len, size_t n,
                       char *err, size_t errlen) {
  if (!c->has_dict)
    return col_fail(c, err, errlen, AKIDB_ECORRUPT,
                    "dictionary-encoded values but the chunk has no dictionary page");
  if (len < 1 && n > 0)
    return col_fail(c, err, errlen, AKIDB_ECORRUPT, "dictionary indices are missing");
  int bw = len ? p[0] : 0;
  if (bw > 32)
    return col_fail(c, err, errlen, AKIDB_ECORRUPT, "dictionary index width %d", bw);
  if (!grow((void **)&c->idx, &c->idx_cap, n ? n : 1, sizeof *c->idx))
    return col_fail(c, err, errlen, AKIDB_ENOMEM, "out of memory");
  if (n && pq_rle_decode(p + 1, len - 1, bw, c->idx, n) < 0)
    return col_fail(c, err, errlen, AKIDB_ECORRUPT, "dictionary indices are corrupt");
  for (size_t i = 0; i < n; i++)
    if (c->idx[i] >= c->dict.n)
      return col_fail(c, err, errlen, AKIDB_ECORRUPT,
                      "dictionary index %u is out of range (%zu entries)", c->idx[i],
                      c->dict.n);
  v->n = n;
  v->width = c->width;
  if (c->type == PQ_BYTE_ARRAY) {
    if (!vals_reserve_ptrs(v, n)) return col_fail(c, err, errlen, AKIDB_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
      v->ptr[i] = c->dict.ptr[c->idx[i]];
      v->len[i] = c->dict.len[c->idx[i]];
    }
    return 0;
  }
  if (n > c->r->lim.max_page_bytes / c->width)
    return col_fail(c, err, errlen, AKIDB_ELIMIT, "page decodes to more than %zu bytes",
                    c->r->lim.max_page_bytes);
  v->own.len = 0;
  if (!pq_buf_reserve(&v->own, n * c->width + 1))
    return col_fail(c, err, errlen, AKIDB_ENOMEM, "out of memory");
  uint8_t *o = v->own.data;
  const uint8_t *d = c->dict.fixed;
  if (c->width == 4) /* constant sizes: the copies become plain moves */
    for (size_t i = 0; i < n; i++) memcpy(o + 4 * i, d + 4 * (size_t)c->idx[i], 4);
  else if (c->width == 8)
    for (size_t i = 0; i < n; i++) memcpy(o + 8 * i, d + 8 * (size_t)c->idx[i], 8);
  else
    for (size_t i = 0; i < n; i++)
      memcpy(o + i * c->width, d + (size_t)c->idx[i] * c->width, c->width);
  v->fixed = v->own.data;
  return 0;
}

static int rle_bool_decode(pq_col_t *c, vals_t *v, const uint8_t *p, size_t len, size_t n,
                           char *err, size_t errlen) {
  if (c->type != PQ_BOOLEAN)
    return col_fail(c, err, errlen, AKIDB_ECORRUPT, "RLE values in a %s column",
                    pq_type_name(c->type));
  if (len < 4) return col_fail(c, err, errlen, AKIDB_ECORRUPT, "RLE booleans lack a length");
  uint32_t l = pq_load_u32le(p);
  if (l > len - 4)
    return col_fail(c, err, errlen, AKIDB_ECORRUPT, "RLE booleans run past the page");
  if (!grow((void **)&c->idx, &c->idx_cap, n ? n : 1, sizeof *c->idx))
    return col_fail(c, err, errlen, AKIDB_ENOMEM, "out of memory");
  if (pq_rle_decode(p + 4, l, 1, c->idx, n) < 0)
    return col_fail(c, err, errlen, AKIDB_ECORRUPT, "RLE booleans are corrupt");
  v->own.len = 0;
  if (!pq_buf_reserve(&v->own, n + 1)) return col_fail(c, err, errlen, AKIDB_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) v->own.data[i] = (uint8_t)c->idx[i];
  v->n = n;
  v->width = 1;
  v->fixed = v->own.data;
  return 0;
}

/* DELTA_BINARY_PACKED run of exactly n values into c->i64 + at; returns
 * bytes used or a negative error. */
static long delta_run(pq_col_t *c, const uint8_t *p, size_t len, size_t n, size_t at,
                      char *err, size_t errlen) {
  long total = pq_delta_count(p, len);
  if (total < 0 || (size_t)total != n)
    return col_fail(c, err, errlen, AKIDB_ECORRUPT,
                    "DELTA_BINARY_PACKED header is corrupt or counts %ld values, expected %zu",
                    total, n);
  if (!grow((void **)&c->i64, &c->i64_cap, at + n + 1, sizeof *c->i64))
    return col_fail(c, err, errlen, AKIDB_ENOMEM, "out of memory");
  size_t got;
  long used = pq_delta_decode(p, len, c->i64 + at, n, &got);
  if (used < 0 || got != n)
    return col_fail(c, err, errlen, AKIDB_ECORRUPT, "DELTA_BINARY_PACKED data is corrupt");
  return used;
}

static int delta_int_decode(pq_col_t *c, vals_t *v, const uint8_t *p, size_t len, size_t n,
                            char *err, size_t errlen) {
  if (c->type != PQ_INT32 && c->type != PQ_INT64)
    return col_fail(c, err, errlen, AKIDB_ECORRUPT, "DELTA_BINARY_PACKED in a %s column",
                    pq_type_name(c->type));
  long used = delta_run(c, p, len, n, 0, err, errlen);
  if (used < 0) return (int)used;
  v->own.len = 0;
  if (!pq_buf_reserve(&v->own, n * c->width + 1))
    return col_fail(c, err, errlen, AKIDB_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    if (c->width == 4) {
      uint32_t x = (uint32_t)c->i64[i];
      memcpy(v->own.data + 4 * i, &x, 4);
    } else {
      memcpy(v->own.data + 8 * i, &c->i64[i], 8);
    }
  }
  v->n = n;
  v->width = c->width;
  v->fixed = v->own.data;
  return 0;
}

/* Points the byte arrays of v at `data` using lengths c->i64[at ...]. */
static int set_lengths(pq_col_t *c, vals_t *v, const uint8_t *data, size_t len, size_t n,
                       size_t at, char *err, size_t errlen) {
  if (!vals_reserve_ptrs(v, n)) return col_fail(c, err, errlen, AKIDB_ENOMEM, "out of memory");
  size_t pos = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t l = c->i64[at + i];
    if (l < 0 || (uint64_t)l > len - pos)
      return col_fail(c, err, errlen, AKIDB_ECORRUPT,
                      "string %zu has length %" PRId64 ", %zu bytes remain", i, l, len - pos);
    v->ptr[i] = data + pos;
    v->len[i] = (uint32_t)l;
    pos += (size_t)l;
  }
  v->n = n;
  v->width = 0;
  return 0;
}

/* FIXED_LEN_BYTE_ARRAY values decoded as byte arrays become fixed ones. */
static int to_fixed(pq_col_t *c, vals_t *v, char *err, size_t errlen) {
  if (c->type != PQ_FIXED_LEN_BYTE_ARRAY) return 0;
  if (v->n > c->r->lim.max_page_bytes / c->width)
    return col_fail(c, err, errlen, AKIDB_ELIMIT, "page decodes to more than %zu bytes",
                    c->r->lim.max_page_bytes);
  v->own.len = 0;
  if (!pq_buf_reserve(&v->own, v->n * c->width + 1))
    return col_fail(c, err, errlen, AKIDB_ENOMEM, "out of memory");
  for (size_t i = 0; i < v->n; i++) {
    if (v->len[i] != c->width)
      return col_fail(c, err, errlen, AKIDB_ECORRUPT, "value %zu has %u bytes, the type %zu",
                      i, v->len[i], c->width);
    memcpy(v->own.data + i * c->width, v->ptr[i], c->width);
  }
  v->width = c->width;
  v->fixed = v->own.data;
  return 0;
}

static int delta_length_decode(pq_col_t *c, vals_t *v, const uint8_t *p, size_t len,
                               size_t n, char *err, size_t errlen) {
  if (c->type != PQ_BYTE_ARRAY)
    return col_fail(c, err, errlen, AKIDB_ECORRUPT, "DELTA_LENGTH_BYTE_ARRAY in a %s column",
                    pq_type_name(c->type));
  long used = delta_run(c, p, len, n, 0, err, errlen);
  if (used < 0) return (int)used;
  return set_lengths(c, v, p + used, len - (size_t)used, n, 0, err, errlen);
}

static int delta_byte_array_decode(pq_col_t *c, vals_t *v, const uint8_t *p, size_t len,
                                   size_t n, char *err, size_t errlen) {
  if (c->type != PQ_BYTE_ARRAY && c->type != PQ_FIXED_LEN_BYTE_ARRAY)
    return col_fail(c, err, errlen, AKIDB_ECORRUPT, "DELTA_BYTE_ARRAY in a %s column",
                    pq_type_name(c->type));
  long u1 = delta_run(c, p, len, n, 0, err, errlen); /* prefix lengths */
  if (u1 < 0) return (int)u1;
  long u2 = delta_run(c, p + u1, len - (size_t)u1, n, n, err, errlen); /* suffix lengths */
  if (u2 < 0) return (int)u2;
  const uint8_t *suf = p + u1 + u2;
  size_t suf_len = len - (size_t)u1 - (size_t)u2, pos = 0, prev_off = 0, prev_len = 0;
  pq_buf_t *b = &v->blob;
  b->len = 0;
  if (!vals_reserve_ptrs(v, n)) return col_fail(c, err, errlen, AKIDB_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    int64_t pre = c->i64[i], sl = c->i64[n + i];
    if (pre < 0 || (uint64_t)pre > prev_len || sl < 0 || (uint64_t)sl > suf_len - pos)
      return col_fail(c, err, errlen, AKIDB_ECORRUPT,
                      "value %zu: prefix %" PRId64 " / suffix %" PRId64 " do not fit", i, pre,
                      sl);
    if (b->len + (size_t)pre + (size_t)sl > c->r->lim.max_page_bytes)
      return col_fail(c, err, errlen, AKIDB_ELIMIT, "page decodes to more than %zu bytes",
                      c->r->lim.max_page_bytes);
    size_t off = b->len;
    if (!pq_buf_reserve(b, (size_t)pre + (size_t)sl + 1))
      return col_fail(c, err, errlen, AKIDB_ENOMEM, "out of memory");
    memmove(b->data + off, b->data + prev_off, (size_t)pre);
    memcpy(b->data + off + pre, suf + pos, (size_t)sl);
    b->len += (size_t)pre + (size_t)sl;
    pos += (size_t)sl;
    prev_off = off;
    prev_len = (size_t)pre + (size_t)sl;
    v->len[i] = (uint32_t)prev_len;
    c->i64[i] = (int64_t)off;
  }
  for (size_t i = 0; i < n; i++) v->ptr[i] = b->data + c->i64[i];
  v->n = n;
  v->width = 0;
  return to_fixed(c, v, err, errlen);
}

static int bss_decode(pq_col_t *c, vals_t *v, const uint8_t *p, size_t len, size_t n,
                      char *err, size_t errlen) {
  if (c->type == PQ_BOOLEAN || c->type == PQ_BYTE_ARRAY || c->type == PQ_INT96)
    return col_fail(c, err, errlen, AKIDB_ECORRUPT, "BYTE_STREAM_SPLIT in a %s column",
                    pq_type_name(c->type));
  if (n > len / c->width)
    return col_fail(c, err, errlen, AKIDB_ECORRUPT,
                    "BYTE_STREAM_SPLIT holds %zu bytes for %zu values", len, n);
  v->own.len = 0;
  if (!pq_buf_reserve(&v->own, n * c->width + 1))
    return col_fail(c, err, errlen, AKIDB_ENOMEM, "out of memory");
  pq_bss_decode(v->own.data, p, n, c->width);
  v->n = n;
  v->width = c->width;
  v->fixed = v->own.data;
  return 0;
}

static int values_decode(pq_col_t *c, int enc, const uint8_t *p, size_t len, size_t n,
                         char *err, size_t errlen) {
  vals_t *v = &c->vals;
  v->n = 0;
  switch (enc) {
  case PQ_ENC_PLAIN: return plain_decode(c, v, p, len, n, err, errlen);
  case PQ_ENC_PLAIN_DICTIONARY:
  case PQ_ENC_RLE_DICTIONARY: return dict_decode(c, v, p, len, n, err, errlen);
  case PQ_ENC_RLE: return rle_bool_decode(c, v, p, len, n, err, errlen);
  case PQ_ENC_DELTA_BINARY_PACKED: return delta_int_decode(c, v, p, len, n, err, errlen);
  case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY: return delta_length_decode(c, v, p, len, n, err, errlen);
  case PQ_ENC_DELTA_BYTE_ARRAY: return delta_byte_array_decode(c, v, p, len, n, err, errlen);
  case PQ_ENC_BYTE_STREAM_SPLIT: return bss_decode(c, v, p, len, n, err, errlen);
  default:
    return col_fail(c, err, errlen, AKIDB_ENOTSUP, "values use %s (%d), which AkiDB cannot read",
                    pq_encoding_name(enc), enc);
  }
}

/* ------------------------------------------------------------------ levels */

/* v1 levels at *p: RLE with a 4-byte length, or BIT_PACKED over n values. */
static int levels_v1(pq_col_t *c, int enc, int max, const uint8_t **p, size_t *len,
                     pq_levels_t *s, size_t n, const char *what, char *err, size_t errlen) {
  int bw = pq_bit_width((uint64_t)max);
  size_t used;
  if (enc == PQ_ENC_RLE) {
    if (*len < 4)
      return col_fail(c, err, errlen, AKIDB_ECORRUPT, "%s levels lack their length", what);
    uint32_t l = pq_load_u32le(*p);
    if (l > *len - 4)
      return col_fail(c, err, errlen, AKIDB_ECORRUPT, "%s levels of %u bytes run past the page",
                      what, l);
    pq_levels_init(s, *p + 4, l, bw, false);
    used = 4 + (size_t)l;
  } else if (enc == PQ_ENC_BIT_PACKED) {
    uint64_t need = ((uint64_t)n * (uint64_t)bw + 7) / 8;
    if (need > *len)
      return col_fail(c, err, errlen, AKIDB_ECORRUPT, "%s levels run past the page", what);
    pq_levels_init(s, *p, (size_t)need, bw, true);
    used = (size_t)need;
  } else {
    return col_fail(c, err, errlen, AKIDB_ENOTSUP, "%s levels use %s", what,
                    pq_encoding_name(enc));
  }
  *p += used;
  *len -= used;
  return 0;
}

/* Counts the entries with a value, checking every definition level. */
static int count_present(pq_col_t *c, size_t n, char *err, size_t errlen) {
  if (c->l->max_def == 0) {
    c->npresent = n;
    return 0;
  }
  long k = pq_levels_count(c->def, n, (uint32_t)c->l->max_def, (uint32_t)c->l->max_def);
  if (k < 0)
    return col_fail(c, err, errlen, AKIDB_ECORRUPT, "definition levels are %s",
                    k == -1 ? "cut short" : "above the column's maximum");
  c->npresent = (size_t)k;
  return 0;
}

/* Reads the levels of entry c->li into c->cd and c->cr. */
static int read_entry(pq_col_t *c, char *err, size_t errlen) {
  c->cr = c->cd = 0;
  if (c->l->max_rep && (!pq_levels_next(&c->rep, &c->cr) || c->cr > (uint32_t)c->l->max_rep))
    return col_fail(c, err, errlen, AKIDB_ECORRUPT, "repetition levels are corrupt");
  if (c->l->max_def && !pq_levels_next(&c->def, &c->cd))
    return col_fail(c, err, errlen, AKIDB_ECORRUPT, "definition levels are corrupt");
  return 0;
}

/* ------------------------------------------------------------------- pages */

static int read_header(pq_col_t *c, pq_page_header_t *h, size_t *hlen, char *err,
                       size_t errlen) {
  uint64_t left = c->end - c->pos;
  size_t want = left < 256 ? (size_t)left : 256;
  for (;;) {
    const uint8_t *p = NULL;
    size_t avail = 0;
    int rc = fetch(c, c->pos, want, &p, &avail, err, errlen);
    if (rc) return rc;
    if (avail > left) avail = (size_t)left;
    long n = pq_page_header_decode(p, avail, h);
    if (n > 0) {
      *hlen = (size_t)n;
      return 0;
    }
    if (n < 0 || avail >= left || avail >= MAX_HEADER_BYTES)
      return col_fail(c, err, errlen, AKIDB_ECORRUPT, "the page header is corrupt%s",
                      n == 0 ? " (it runs past the column chunk)" : "");
    want = avail * 2 < left ? avail * 2 : (size_t)left;
  }
}

/* Decompresses `n` file bytes into buf (exactly `size` bytes). */
static int inflate_into(pq_col_t *c, const uint8_t *src, size_t n, pq_buf_t *buf,
                        size_t size, bool compressed, char *err, size_t errlen) {
  buf->len = 0;
  if (!pq_buf_reserve(buf, size + 1)) return col_fail(c, err, errlen, AKIDB_ENOMEM, "out of memory");
  char why[200] = "";
  int rc = pq_decompress(c->cc, compressed ? c->codec : PQ_CODEC_UNCOMPRESSED, src, n,
                         buf->data, size, why, sizeof why);
  if (rc) return col_fail(c, err, errlen, rc, "%s", why);
  buf->len = size;
  return 0;
}

static int load_dict(pq_col_t *c, const pq_page_header_t *h, const uint8_t *body,
                     char *err, size_t errlen) {
  if (c->has_dict || c->data_seen)
    return col_fail(c, err, errlen, AKIDB_ECORRUPT,
                    "a dictionary page that is not the chunk's first page");
  if (!h->has_dict || h->num_values < 0)
    return col_fail(c, err, errlen, AKIDB_ECORRUPT, "a dictionary page without its header");
  if (h->encoding != PQ_ENC_PLAIN && h->encoding != PQ_ENC_PLAIN_DICTIONARY)
    return col_fail(c, err, errlen, AKIDB_ENOTSUP, "the dictionary uses %s",
                    pq_encoding_name(h->encoding));
  int rc = inflate_into(c, body, (size_t)h->compressed_size, &c->dict_page,
                        (size_t)h->uncompressed_size, true, err, errlen);
  if (rc) return rc;
  rc = plain_decode(c, &c->dict, c->dict_page.data, c->dict_page.len, (size_t)h->num_values,
                    err, errlen);
  if (rc) return rc;
  c->has_dict = true;
  return 0;
}

static int load_data_v1(pq_col_t *c, const pq_page_header_t *h, const uint8_t *body,
                        char *err, size_t errlen) {
  int rc = inflate_into(c, body, (size_t)h->compressed_size, &c->page,
                        (size_t)h->uncompressed_size, true, err, errlen);
  if (rc) return rc;
  size_t n = (size_t)h->num_values;
  const uint8_t *p = c->page.data;
  size_t len = c->page.len;
  if (c->l->max_rep > 0 &&
      (rc = levels_v1(c, h->rep_encoding, c->l->max_rep, &p, &len, &c->rep, n, "repetition",
                      err, errlen)))
    return rc;
  if (c->l->max_def > 0 &&
      (rc = levels_v1(c, h->def_encoding, c->l->max_def, &p, &len, &c->def, n, "definition",
                      err, errlen)))
    return rc;
  if ((rc = count_present(c, n, err, errlen))) return rc;
  c->nlev = n;
  return values_decode(c, h->encoding, p, len, c->npresent, err, errlen);
}

static int load_data_v2(pq_col_t *c, const pq_page_header_t *h, const uint8_t *body,
                        char *err, size_t errlen) {
  if (!h->has_v2 || h->rep_len < 0 || h->def_len < 0 ||
      (int64_t)h->rep_len + h->def_len > h->compressed_size ||
      (int64_t)h->rep_len + h->def_len > h->uncompressed_size)
    return col_fail(c, err, errlen, AKIDB_ECORRUPT,
                    "data page v2 level lengths do not fit the page");
  size_t n = (size_t)h->num_values, lv = (size_t)h->rep_len + (size_t)h->def_len;
  /* v2 levels are never compressed; they stay in the read window, so copy
   * them next to the values before the window moves. */
  pq_buf_t *b = &c->page;
  b->len = 0;
  if (!pq_buf_reserve(b, (size_t)h->uncompressed_size + 1))
    return col_fail(c, err, errlen, AKIDB_ENOMEM, "out of memory");
  memcpy(b->data, body, lv);
  char why[200] = "";
  int rc = pq_decompress(c->cc, h->is_compressed ? c->codec : PQ_CODEC_UNCOMPRESSED, body + lv,
                         (size_t)h->compressed_size - lv, b->data + lv,
                         (size_t)h->uncompressed_size - lv, why, sizeof why);
  if (rc) return col_fail(c, err, errlen, rc, "%s", why);
  b->len = (size_t)h->uncompressed_size;
  pq_levels_init(&c->rep, b->data, (size_t)h->rep_len, pq_bit_width((uint64_t)c->l->max_rep),
                 false);
  pq_levels_init(&c->def, b->data + h->rep_len, (size_t)h->def_len,
                 pq_bit_width((uint64_t)c->l->max_def), false);
  if ((rc = count_present(c, n, err, errlen))) return rc;
  c->nlev = n;
  return values_decode(c, h->encoding, b->data + lv, b->len - lv, c->npresent, err, errlen);
}

/* Loads the next data page that holds values: 1, 0 at the chunk's end, or
 * a negative error. */
static int load_page(pq_col_t *c, char *err, size_t errlen) {
  c->nlev = c->li = c->vi = 0;
  while (c->pos < c->end) {
    c->page_no++;
    pq_page_header_t h;
    size_t hlen = 0;
    int rc = read_header(c, &h, &hlen, err, errlen);
    if (rc) return rc;
    if (h.compressed_size < 0 || h.uncompressed_size < 0 ||
        (uint64_t)h.compressed_size > c->end - c->pos - hlen)
      return col_fail(c, err, errlen, AKIDB_ECORRUPT,
                      "page of %d bytes runs past the column chunk (%" PRIu64 " bytes left)",
                      h.compressed_size, c->end - c->pos - hlen);
    if ((size_t)h.uncompressed_size > c->r->lim.max_page_bytes)
      return col_fail(c, err, errlen, AKIDB_ELIMIT,
                      "page of %d bytes exceeds the reader's limit of %zu", h.uncompressed_size,
                      c->r->lim.max_page_bytes);
    const uint8_t *body = NULL;
    size_t avail = 0;
    if ((rc = fetch(c, c->pos + hlen, (size_t)h.compressed_size, &body, &avail, err, errlen)))
      return rc;
    c->pos += hlen + (uint64_t)h.compressed_size;
    if (h.type == PQ_PAGE_DICT) {
      if ((rc = load_dict(c, &h, body, err, errlen))) return rc;
      continue;
    }
    if (h.type != PQ_PAGE_DATA && h.type != PQ_PAGE_DATA_V2) continue; /* index pages */
    c->data_seen = true;
    if (h.num_values < 0 || (size_t)h.num_values > c->r->lim.max_page_bytes / 4)
      return col_fail(c, err, errlen, h.num_values < 0 ? AKIDB_ECORRUPT : AKIDB_ELIMIT,
                      "page holds %d values", h.num_values);
    if (h.type == PQ_PAGE_DATA && !h.has_data)
      return col_fail(c, err, errlen, AKIDB_ECORRUPT, "a data page without its header");
    rc = h.type == PQ_PAGE_DATA ? load_data_v1(c, &h, body, err, errlen)
                                : load_data_v2(c, &h, body, err, errlen);
    if (rc) return rc;
    if (c->nlev == 0) continue;
    if (c->vals.n < c->npresent)
      return col_fail(c, err, errlen, AKIDB_ECORRUPT, "fewer values than levels say");
    if ((rc = read_entry(c, err, errlen))) return rc;
    return 1;
  }
  return 0;
}

/* ------------------------------------------------------------------- rows */

static void value_at(const vals_t *v, size_t i, pq_value_t *out) {
  if (v->width) {
    out->p = v->fixed + i * v->width;
    out->len = v->width;
  } else {
    out->p = v->ptr[i];
    out->len = v->len[i];
  }
}

/* Consumes entry li; loads the next entry's levels, or the next page when
 * this one is done (1 then, 0 at the chunk's end, or an error). */
static int advance(pq_col_t *c, char *err, size_t errlen) {
  if (++c->li < c->nlev) {
    int rc = read_entry(c, err, errlen);
    return rc ? rc : 1;
  }
  return load_page(c, err, errlen);
}

int pq_col_next_scalar(pq_col_t *c, bool *present, pq_value_t *v, char *err, size_t errlen) {
  if (c->li >= c->nlev) {
    int rc = load_page(c, err, errlen);
    if (rc <= 0) return rc == 0 ? 1 : rc;
  }
  uint32_t d = c->cd;
  if (c->cr != 0) return col_fail(c, err, errlen, AKIDB_ECORRUPT, "a scalar column repeats");
  *present = d == (uint32_t)c->l->max_def;
  if (*present) {
    if (c->vi >= c->vals.n)
      return col_fail(c, err, errlen, AKIDB_ECORRUPT, "fewer values than levels say");
    value_at(&c->vals, c->vi++, v);
  }
  /* the value points into this page: take the next entry's levels only */
  if (++c->li < c->nlev) return read_entry(c, err, errlen);
  return 0;
}

static float element(const pq_col_t *c, size_t i) {
  if (c->type == PQ_DOUBLE) {
    double d;
    memcpy(&d, c->vals.fixed + 8 * i, 8);
    return (float)d;
  }
  float f;
  memcpy(&f, c->vals.fixed + 4 * i, 4);
  return f;
}

/* How many entries after entry li are values continuing the same row
 * inside RLE runs of both level streams (a list's body, as most writers
 * encode it): they can be taken at once. */
static size_t bulk_run(const pq_col_t *c) {
  const pq_levels_t *r = &c->rep, *d = &c->def;
  if (r->literal || r->run_left == 0 || r->run_val == 0 || r->run_val > (uint32_t)c->l->max_rep)
    return 0;
  if (d->literal || d->run_left == 0 || d->run_val != (uint32_t)c->l->max_def) return 0;
  uint64_t k = r->run_left < d->run_left ? r->run_left : d->run_left;
  size_t left = c->nlev - c->li - 1, vals = c->vals.n - c->vi;
  if (k > left) k = left;
  if (k > vals) k = vals;
  return (size_t)k;
}

static void copy_elements(const pq_col_t *c, float *out, size_t k) {
  if (c->type == PQ_FLOAT) {
    memcpy(out, c->vals.fixed + 4 * c->vi, k * 4);
    return;
  }
  for (size_t i = 0; i < k; i++) out[i] = element(c, c->vi + i);
}

int pq_col_next_list(pq_col_t *c, float *out, uint32_t cap, uint32_t *count, int *state,
                     char *err, size_t errlen) {
  if (c->type != PQ_FLOAT && c->type != PQ_DOUBLE)
    return col_fail(c, err, errlen, AKIDB_ENOTSUP, "a vector column of %s",
                    pq_type_name(c->type));
  if (c->li >= c->nlev) {
    int rc = load_page(c, err, errlen);
    if (rc <= 0) return rc == 0 ? 1 : rc;
  }
  if (c->l->max_rep == 0 || c->cr != 0)
    return col_fail(c, err, errlen, AKIDB_ECORRUPT, "a row starts with repetition level %u",
                    c->cr);
  uint32_t n = 0, null_at = 0;
  *state = PQ_LIST_OK;
  const pq_leaf_t *l = c->l;
  for (;;) {
    uint32_t d = c->cd;
    if (d < (uint32_t)l->top_def) {
      *state = PQ_LIST_NULL;
    } else if (d < (uint32_t)l->rep_def) {
      /* an empty list */
    } else if (d < (uint32_t)l->max_def) {
      if (*state == PQ_LIST_OK) *state = PQ_LIST_NULL_ELEMENT, null_at = n;
      n++;
    } else {
      if (c->vi >= c->vals.n)
        return col_fail(c, err, errlen, AKIDB_ECORRUPT, "fewer values than levels say");
      if (n < cap) out[n] = element(c, c->vi);
      c->vi++;
      if (n < UINT32_MAX) n++;
    }
    size_t k = bulk_run(c);
    if (k) { /* the entries after this one: values of this row, in RLE runs */
      if (n < cap) copy_elements(c, out + n, k < cap - n ? k : cap - n);
      n = (uint64_t)n + k > UINT32_MAX ? UINT32_MAX : n + (uint32_t)k;
      c->vi += k;
      c->li += k;
      c->rep.run_left -= k;
      c->def.run_left -= k;
    }
    int rc = advance(c, err, errlen);
    if (rc < 0) return rc;
    if (rc == 0 || c->cr == 0) break;
  }
  *count = *state == PQ_LIST_NULL_ELEMENT ? null_at : n;
  return 0;
}

int pq_col_check_end(pq_col_t *c, char *err, size_t errlen) {
  if (c->li < c->nlev)
    return col_fail(c, err, errlen, AKIDB_ECORRUPT,
                    "holds more rows than its row group's %" PRId64,
                    c->r->meta.row_groups[c->rg].num_rows);
  int rc = load_page(c, err, errlen);
  if (rc < 0) return rc;
  if (rc > 0)
    return col_fail(c, err, errlen, AKIDB_ECORRUPT,
                    "holds more rows than its row group's %" PRId64,
                    c->r->meta.row_groups[c->rg].num_rows);
  return 0;
}
