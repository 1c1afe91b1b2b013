/*
 * parquet/writer.c — the streaming snapshot writer. Rows are buffered for
 * one row group only (ids, vectors, payloads and texts in flat arrays);
 * when the group is full it is written column by column as data pages
 * (v1: RLE levels, PLAIN values, at most page_bytes of values each,
 * compressed with the chosen codec) through the caller's sink, and the
 * buffers are reused for the next group. Only the footer's facts (a few
 * hundred bytes per row group) outlive a group. finish writes the footer
 * (FileMetaData in Thrift compact), its length and the closing magic.
 *
 * Locking: a writer belongs to one thread. Durability: none of its own —
 * the sink decides (a file the caller syncs, a multipart upload the
 * caller completes). A sink failure is sticky.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/pq_internal.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the Parquet writer copies floats as little-endian bytes"
#endif

#define PQ_MAX_DIM 65536u
#define PQ_MAX_VALUE_BYTES (512u << 20) /* one id, payload or text */

enum { COL_ID, COL_VECTOR, COL_PAYLOAD, COL_TEXT, COL_MAX };

/* One BYTE_ARRAY column of the current row group. */
typedef struct {
  pq_buf_t bytes;  /* the values, back to back */
  uint64_t *off;   /* per row: start in bytes */
  uint32_t *len;   /* per row: length */
  uint8_t *null;   /* per row: 1 = null */
} str_col_t;

/* What the footer needs to know about one written column chunk. */
typedef struct {
  int64_t num_values;
  int64_t uncompressed, compressed;
  int64_t data_page_offset;
  int64_t null_count;
  bool has_minmax;
  pq_buf_t min, max;
} chunk_out_t;

typedef struct {
  int64_t num_rows;
  int64_t file_offset;
  chunk_out_t cols[COL_MAX];
} group_out_t;

struct pq_writer {
  pq_writer_options_t o;
  pq_kv_t *kv;
  size_t kv_count;
  pq_sink_fn sink;
  void *ctx;
  int failed; /* sticky error code */
  uint64_t pos; /* bytes handed to the sink */
  uint64_t total_rows;
  int ncols;

  /* the current row group */
  uint32_t rows, cap_rows;
  size_t group_bytes;
  float *vecs;
  str_col_t str[COL_MAX]; /* COL_ID, COL_PAYLOAD, COL_TEXT used */

  /* scratch reused for every page */
  pq_buf_t page, packed, header;
  pq_codec_ctx_t *codec;

  group_out_t *groups;
  size_t ngroups, cap_groups;
};

void pq_writer_options_default(pq_writer_options_t *o) {
  memset(o, 0, sizeof *o);
  o->rows_per_group = PQ_DEFAULT_ROWS_PER_GROUP;
  o->group_bytes = PQ_DEFAULT_GROUP_BYTES;
  o->page_bytes = PQ_DEFAULT_PAGE_BYTES;
  o->codec = PQ_CODEC_ZSTD;
  o->zstd_level = PQ_DEFAULT_ZSTD_LEVEL;
}

/* ---------------------------------------------------------------- output */

static int emit(pq_writer_t *w, const void *p, size_t n) {
  if (n && w->sink(w->ctx, p, n) != 0) {
    w->failed = AKIDB_EIO;
    return AKIDB_EIO;
  }
  w->pos += n;
  return 0;
}

static int fail(pq_writer_t *w, char *err, size_t errlen, int code,
                const char *what) {
  w->failed = code;
  return pq_fail(err, errlen, code, "parquet writer: %s", what);
}

/* --------------------------------------------------------------- open -- */

static int copy_kv(pq_writer_t *w, const pq_writer_options_t *o) {
  if (!o->kv_count) return 0;
  w->kv = calloc(o->kv_count, sizeof *w->kv);
  if (!w->kv) return AKIDB_ENOMEM;
  w->kv_count = o->kv_count;
  for (size_t i = 0; i < o->kv_count; i++) {
    if (!o->kv[i].key) return AKIDB_EINVAL;
    w->kv[i].key = strdup(o->kv[i].key);
    w->kv[i].value = o->kv[i].value ? strdup(o->kv[i].value) : NULL;
    if (!w->kv[i].key || (o->kv[i].value && !w->kv[i].value)) return AKIDB_ENOMEM;
  }
  return 0;
}

static int check_options(const pq_writer_options_t *o, char *err, size_t errlen) {
  if (o->dimension < 1 || o->dimension > PQ_MAX_DIM)
    return pq_fail(err, errlen, AKIDB_EINVAL,
                   "parquet writer: dimension %u is outside 1 ... %u",
                   o->dimension, PQ_MAX_DIM);
  if (o->codec != PQ_CODEC_ZSTD && o->codec != PQ_CODEC_SNAPPY &&
      o->codec != PQ_CODEC_GZIP && o->codec != PQ_CODEC_UNCOMPRESSED)
    return pq_fail(err, errlen, AKIDB_EINVAL,
                   "parquet writer: codec %s is not one it writes (ZSTD, "
                   "SNAPPY, GZIP, UNCOMPRESSED)", pq_codec_name(o->codec));
  if (o->zstd_level < 0 || o->zstd_level > 19)
    return pq_fail(err, errlen, AKIDB_EINVAL,
                   "parquet writer: zstd level %d is outside 1 ... 19", o->zstd_level);
  return 0;
}

int pq_writer_open(const pq_writer_options_t *opts, pq_sink_fn sink, void *ctx,
                   pq_writer_t **out, char *err, size_t errlen) {
  *out = NULL;
  if (!opts || !sink)
    return pq_fail(err, errlen, AKIDB_EINVAL, "parquet writer: no options or sink");
  int rc = check_options(opts, err, errlen);
  if (rc) return rc;
  pq_writer_t *w = calloc(1, sizeof *w);
  if (!w) return pq_fail(err, errlen, AKIDB_ENOMEM, "parquet writer: out of memory");
  w->o = *opts;
  if (!w->o.rows_per_group) w->o.rows_per_group = PQ_DEFAULT_ROWS_PER_GROUP;
  if (!w->o.group_bytes) w->o.group_bytes = PQ_DEFAULT_GROUP_BYTES;
  if (!w->o.page_bytes) w->o.page_bytes = PQ_DEFAULT_PAGE_BYTES;
  if (!w->o.zstd_level) w->o.zstd_level = PQ_DEFAULT_ZSTD_LEVEL;
  w->o.kv = NULL;
  w->o.kv_count = 0;
  w->sink = sink;
  w->ctx = ctx;
  w->ncols = opts->has_text ? 4 : 3;
  rc = copy_kv(w, opts);
  if (rc == 0 && !(w->codec = pq_codec_ctx_new())) rc = AKIDB_ENOMEM;
  if (rc == 0) rc = emit(w, "PAR1", 4);
  if (rc) {
    pq_writer_free(w);
    return pq_fail(err, errlen, rc, "parquet writer: %s",
                   rc == AKIDB_EIO ? "the sink failed" :
                   rc == AKIDB_EINVAL ? "a key/value pair has no key" : "out of memory");
  }
  *out = w;
  return 0;
}

/* -------------------------------------------------------------- add row */

/* Grows the per-row arrays to hold `need` rows. */
static bool grow_rows(pq_writer_t *w, uint32_t need) {
  if (need <= w->cap_rows) return true;
  uint32_t cap = w->cap_rows ? w->cap_rows : 64;
  while (cap < need) cap *= 2;
  if (cap > w->o.rows_per_group) cap = w->o.rows_per_group;
  size_t vb = (size_t)cap * w->o.dimension * sizeof(float);
  float *v = realloc(w->vecs, vb);
  if (!v) return false;
  w->vecs = v;
  for (int c = 0; c < COL_MAX; c++) {
    if (c == COL_VECTOR) continue;
    str_col_t *s = &w->str[c];
    uint64_t *o = realloc(s->off, cap * sizeof *o);
    if (o) s->off = o;
    uint32_t *l = realloc(s->len, cap * sizeof *l);
    if (l) s->len = l;
    uint8_t *n = realloc(s->null, cap);
    if (n) s->null = n;
    if (!o || !l || !n) return false;
  }
  w->cap_rows = cap;
  return true;
}

static void put_str(str_col_t *s, uint32_t row, const char *p, size_t n) {
  s->off[row] = s->bytes.len;
  s->len[row] = p ? (uint32_t)n : 0;
  s->null[row] = p == NULL;
  if (p) pq_buf_put(&s->bytes, p, n);
}

static int flush_group(pq_writer_t *w, char *err, size_t errlen);

int pq_writer_add_row(pq_writer_t *w, const char *id, size_t id_len,
                      const float *vec, const char *payload_json,
                      size_t payload_len, const char *text, size_t text_len,
                      char *err, size_t errlen) {
  if (w->failed)
    return pq_fail(err, errlen, w->failed, "parquet writer: refused after an earlier error");
  if (!id || !vec)
    return pq_fail(err, errlen, AKIDB_EINVAL, "parquet writer: a row needs an id and a vector");
  if (id_len > PQ_MAX_VALUE_BYTES || payload_len > PQ_MAX_VALUE_BYTES ||
      text_len > PQ_MAX_VALUE_BYTES)
    return pq_fail(err, errlen, AKIDB_EINVAL,
                   "parquet writer: an id, payload or text is longer than %u bytes",
                   PQ_MAX_VALUE_BYTES);
  if (!grow_rows(w, w->rows + 1)) return fail(w, err, errlen, AKIDB_ENOMEM, "out of memory");
  uint32_t r = w->rows;
  size_t dim = w->o.dimension;
  memcpy(w->vecs + (size_t)r * dim, vec, dim * sizeof(float));
  put_str(&w->str[COL_ID], r, id, id_len);
  put_str(&w->str[COL_PAYLOAD], r, payload_json, payload_len);
  put_str(&w->str[COL_TEXT], r, w->o.has_text ? text : NULL, text_len);
  for (int c = 0; c < COL_MAX; c++)
    if (w->str[c].bytes.oom) return fail(w, err, errlen, AKIDB_ENOMEM, "out of memory");
  w->rows++;
  w->group_bytes += dim * sizeof(float) + id_len + (payload_json ? payload_len : 0) +
                    (text ? text_len : 0);
  if (w->rows >= w->o.rows_per_group || w->group_bytes >= w->o.group_bytes)
    return flush_group(w, err, errlen);
  return 0;
}

/* ---------------------------------------------------------------- pages */

/* Compresses w->page and writes header + body; accumulates the chunk. */
static int write_page(pq_writer_t *w, chunk_out_t *c, int32_t num_values,
                      char *err, size_t errlen) {
  if (w->page.oom) return fail(w, err, errlen, AKIDB_ENOMEM, "out of memory");
  if (w->page.len > INT32_MAX)
    return fail(w, err, errlen, AKIDB_ELIMIT, "a page exceeds 2 GiB");
  int rc = pq_compress(w->codec, w->o.codec, w->o.zstd_level, w->page.data,
                       w->page.len, &w->packed, err, errlen);
  if (rc) {
    w->failed = rc;
    return rc;
  }
  if (w->packed.len > INT32_MAX)
    return fail(w, err, errlen, AKIDB_ELIMIT, "a page exceeds 2 GiB");
  w->header.len = 0;
  pq_page_header_encode_v1(&w->header, PQ_PAGE_DATA, (int32_t)w->page.len,
                           (int32_t)w->packed.len, num_values, PQ_ENC_PLAIN);
  if (w->header.oom) return fail(w, err, errlen, AKIDB_ENOMEM, "out of memory");
  if (c->data_page_offset < 0) c->data_page_offset = (int64_t)w->pos;
  c->uncompressed += (int64_t)(w->header.len + w->page.len);
  c->compressed += (int64_t)(w->header.len + w->packed.len);
  c->num_values += num_values;
  if (emit(w, w->header.data, w->header.len) || emit(w, w->packed.data, w->packed.len))
    return pq_fail(err, errlen, AKIDB_EIO, "parquet writer: the sink failed");
  return 0;
}

/* Levels of a v1 page: 4-byte length, then the hybrid runs. */
static void put_levels_begin(pq_buf_t *b, size_t *at) {
  *at = b->len;
  pq_buf_u32le(b, 0);
}

static void put_levels_end(pq_buf_t *b, size_t at) {
  if (b->oom) return;
  uint32_t n = (uint32_t)(b->len - at - 4);
  memcpy(b->data + at, &n, 4);
}

/* One page of a BYTE_ARRAY column, rows [r0, r1). */
static int write_str_page(pq_writer_t *w, int col, chunk_out_t *c, uint32_t r0,
                          uint32_t r1, char *err, size_t errlen) {
  const str_col_t *s = &w->str[col];
  pq_buf_t *b = &w->page;
  b->len = 0;
  if (col != COL_ID) { /* optional: definition levels, max 1 */
    size_t at;
    put_levels_begin(b, &at);
    uint32_t i = r0;
    while (i < r1) {
      uint32_t j = i + 1;
      while (j < r1 && s->null[j] == s->null[i]) j++;
      pq_rle_encode_run(b, s->null[i] ? 0 : 1, j - i, 1);
      i = j;
    }
    put_levels_end(b, at);
  }
  for (uint32_t i = r0; i < r1; i++) {
    if (s->null[i]) continue;
    pq_buf_u32le(b, s->len[i]);
    pq_buf_put(b, s->bytes.data + s->off[i], s->len[i]);
  }
  return write_page(w, c, (int32_t)(r1 - r0), err, errlen);
}

/* One page of the vector column, rows [r0, r1): repetition levels 0 then
 * dim-1 ones per row, definition levels all 2, the floats as they are. */
static int write_vec_page(pq_writer_t *w, chunk_out_t *c, uint32_t r0, uint32_t r1,
                          char *err, size_t errlen) {
  size_t dim = w->o.dimension, rows = r1 - r0, n = rows * dim;
  pq_buf_t *b = &w->page;
  b->len = 0;
  size_t at;
  put_levels_begin(b, &at);
  if (dim == 1) {
    pq_rle_encode_run(b, 0, rows, 1);
  } else {
    for (size_t i = 0; i < rows; i++) {
      pq_rle_encode_run(b, 0, 1, 1);
      pq_rle_encode_run(b, 1, dim - 1, 1);
    }
  }
  put_levels_end(b, at);
  put_levels_begin(b, &at);
  pq_rle_encode_run(b, 2, n, 2);
  put_levels_end(b, at);
  pq_buf_put(b, w->vecs + (size_t)r0 * dim, n * sizeof(float));
  if (n > INT32_MAX) return fail(w, err, errlen, AKIDB_ELIMIT, "a page holds too many values");
  return write_page(w, c, (int32_t)n, err, errlen);
}

/* ------------------------------------------------------------ statistics */

static int bytes_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
  int r = memcmp(a, b, an < bn ? an : bn);
  return r ? r : (an > bn) - (an < bn);
}

#define PQ_STATS_MAX_BYTES 1024 /* longer min/max values are left out */

static void str_stats(const str_col_t *s, uint32_t rows, chunk_out_t *c) {
  int64_t lo = -1, hi = -1;
  for (uint32_t i = 0; i < rows; i++) {
    if (s->null[i]) {
      c->null_count++;
      continue;
    }
    const uint8_t *v = s->bytes.data + s->off[i];
    if (lo < 0 || bytes_cmp(v, s->len[i], s->bytes.data + s->off[lo], s->len[lo]) < 0)
      lo = i;
    if (hi < 0 || bytes_cmp(v, s->len[i], s->bytes.data + s->off[hi], s->len[hi]) > 0)
      hi = i;
  }
  if (lo < 0 || s->len[lo] > PQ_STATS_MAX_BYTES || s->len[hi] > PQ_STATS_MAX_BYTES) return;
  pq_buf_put(&c->min, s->bytes.data + s->off[lo], s->len[lo]);
  pq_buf_put(&c->max, s->bytes.data + s->off[hi], s->len[hi]);
  c->has_minmax = !c->min.oom && !c->max.oom;
}

/* Min and max of the floats, NaNs ignored; a zero min is written as -0.0
 * and a zero max as +0.0 (the specification's rule for float statistics). */
static void float_stats(const float *v, size_t n, chunk_out_t *c) {
  float lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < n; i++) { /* comparisons with NaN are false */
    float x = v[i];
    lo = x < lo ? x : lo;
    hi = x > hi ? x : hi;
  }
  if (!(lo <= hi)) return; /* no value, or only NaNs */
  if (lo == 0.0f) lo = -0.0f;
  if (hi == 0.0f) hi = 0.0f;
  pq_buf_put(&c->min, &lo, 4);
  pq_buf_put(&c->max, &hi, 4);
  c->has_minmax = !c->min.oom && !c->max.oom;
}

/* ---------------------------------------------------------- row groups */

static int write_str_chunk(pq_writer_t *w, int col, chunk_out_t *c, char *err,
                           size_t errlen) {
  const str_col_t *s = &w->str[col];
  str_stats(s, w->rows, c);
  uint32_t r0 = 0;
  while (r0 < w->rows) {
    size_t bytes = 0;
    uint32_t r1 = r0;
    while (r1 < w->rows && (r1 == r0 || bytes < w->o.page_bytes)) {
      bytes += 4 + s->len[r1];
      r1++;
    }
    int rc = write_str_page(w, col, c, r0, r1, err, errlen);
    if (rc) return rc;
    r0 = r1;
  }
  return 0;
}

static int write_vec_chunk(pq_writer_t *w, chunk_out_t *c, char *err, size_t errlen) {
  size_t row_bytes = (size_t)w->o.dimension * sizeof(float);
  uint32_t per_page = (uint32_t)(w->o.page_bytes / row_bytes);
  if (per_page == 0) per_page = 1;
  float_stats(w->vecs, (size_t)w->rows * w->o.dimension, c);
  for (uint32_t r0 = 0; r0 < w->rows; r0 += per_page) {
    uint32_t r1 = w->rows - r0 < per_page ? w->rows : r0 + per_page;
    int rc = write_vec_page(w, c, r0, r1, err, errlen);
    if (rc) return rc;
  }
  return 0;
}

static int flush_group(pq_writer_t *w, char *err, size_t errlen) {
  if (w->rows == 0) return 0;
  if (w->ngroups == w->cap_groups) {
    size_t cap = w->cap_groups ? w->cap_groups * 2 : 8;
    group_out_t *g = realloc(w->groups, cap * sizeof *g);
    if (!g) return fail(w, err, errlen, AKIDB_ENOMEM, "out of memory");
    w->groups = g;
    w->cap_groups = cap;
  }
  group_out_t *g = &w->groups[w->ngroups++];
  memset(g, 0, sizeof *g);
  g->num_rows = w->rows;
  g->file_offset = (int64_t)w->pos;
  for (int c = 0; c < w->ncols; c++) {
    g->cols[c].data_page_offset = -1;
    int rc = c == COL_VECTOR ? write_vec_chunk(w, &g->cols[c], err, errlen)
                             : write_str_chunk(w, c, &g->cols[c], err, errlen);
    if (rc) return rc;
  }
  w->total_rows += w->rows;
  w->rows = 0;
  w->group_bytes = 0;
  for (int c = 0; c < COL_MAX; c++) w->str[c].bytes.len = 0;
  return 0;
}

/* --------------------------------------------------------------- footer */

static const char *col_name(int c) {
  static const char *names[] = {"id", "vector", "payload", "text"};
  return names[c];
}

static void put_schema(pq_writer_t *w, pq_tw_t *t) {
  pq_tw_list(t, 2, PQ_T_STRUCT, (uint32_t)(w->ncols + 3));
  /* root */
  pq_tw_struct_begin(t);
  pq_tw_string(t, 4, "schema");
  pq_tw_i32(t, 5, w->ncols);
  pq_tw_struct_end(t);
  for (int c = 0; c < w->ncols; c++) {
    pq_tw_struct_begin(t);
    if (c == COL_VECTOR) {
      pq_tw_i32(t, 3, PQ_OPTIONAL);
      pq_tw_string(t, 4, "vector");
      pq_tw_i32(t, 5, 1);
      pq_tw_i32(t, 6, PQ_CT_LIST);
      pq_tw_field(t, 10, PQ_T_STRUCT);
      pq_tw_struct_begin(t);
      pq_tw_empty_struct(t, PQ_LT_LIST);
      pq_tw_struct_end(t);
      pq_tw_struct_end(t);
      /* repeated group list */
      pq_tw_struct_begin(t);
      pq_tw_i32(t, 3, PQ_REPEATED);
      pq_tw_string(t, 4, "list");
      pq_tw_i32(t, 5, 1);
      pq_tw_struct_end(t);
      /* required float element */
      pq_tw_struct_begin(t);
      pq_tw_i32(t, 1, PQ_FLOAT);
      pq_tw_i32(t, 3, PQ_REQUIRED);
      pq_tw_string(t, 4, "element");
      pq_tw_struct_end(t);
      continue;
    }
    bool json = c == COL_PAYLOAD;
    pq_tw_i32(t, 1, PQ_BYTE_ARRAY);
    pq_tw_i32(t, 3, c == COL_ID ? PQ_REQUIRED : PQ_OPTIONAL);
    pq_tw_string(t, 4, col_name(c));
    pq_tw_i32(t, 6, json ? PQ_CT_JSON : PQ_CT_UTF8);
    pq_tw_field(t, 10, PQ_T_STRUCT);
    pq_tw_struct_begin(t);
    pq_tw_empty_struct(t, json ? PQ_LT_JSON : PQ_LT_STRING);
    pq_tw_struct_end(t);
    pq_tw_struct_end(t);
  }
}

static void put_stats(pq_tw_t *t, const chunk_out_t *c) {
  pq_tw_field(t, 12, PQ_T_STRUCT);
  pq_tw_struct_begin(t);
  pq_tw_i64(t, 3, c->null_count);
  if (c->has_minmax) {
    pq_tw_binary(t, 5, c->max.data, c->max.len);
    pq_tw_binary(t, 6, c->min.data, c->min.len);
  }
  pq_tw_struct_end(t);
}

static void put_chunk(pq_writer_t *w, pq_tw_t *t, int col, const chunk_out_t *c) {
  pq_tw_struct_begin(t);
  pq_tw_i64(t, 2, c->data_page_offset); /* file_offset */
  pq_tw_field(t, 3, PQ_T_STRUCT);
  pq_tw_struct_begin(t);
  pq_tw_i32(t, 1, col == COL_VECTOR ? PQ_FLOAT : PQ_BYTE_ARRAY);
  bool levels = col != COL_ID;
  pq_tw_list(t, 2, PQ_T_I32, levels ? 2 : 1);
  pq_tw_elem_i32(t, PQ_ENC_PLAIN);
  if (levels) pq_tw_elem_i32(t, PQ_ENC_RLE);
  if (col == COL_VECTOR) {
    pq_tw_list(t, 3, PQ_T_BINARY, 3);
    pq_tw_elem_binary(t, "vector", 6);
    pq_tw_elem_binary(t, "list", 4);
    pq_tw_elem_binary(t, "element", 7);
  } else {
    pq_tw_list(t, 3, PQ_T_BINARY, 1);
    pq_tw_elem_binary(t, col_name(col), strlen(col_name(col)));
  }
  pq_tw_i32(t, 4, w->o.codec);
  pq_tw_i64(t, 5, c->num_values);
  pq_tw_i64(t, 6, c->uncompressed);
  pq_tw_i64(t, 7, c->compressed);
  pq_tw_i64(t, 9, c->data_page_offset);
  put_stats(t, c);
  pq_tw_struct_end(t);
  pq_tw_struct_end(t);
}

static void put_row_groups(pq_writer_t *w, pq_tw_t *t) {
  pq_tw_list(t, 4, PQ_T_STRUCT, (uint32_t)w->ngroups);
  for (size_t g = 0; g < w->ngroups; g++) {
    const group_out_t *rg = &w->groups[g];
    int64_t unc = 0, comp = 0;
    pq_tw_struct_begin(t);
    pq_tw_list(t, 1, PQ_T_STRUCT, (uint32_t)w->ncols);
    for (int c = 0; c < w->ncols; c++) {
      put_chunk(w, t, c, &rg->cols[c]);
      unc += rg->cols[c].uncompressed;
      comp += rg->cols[c].compressed;
    }
    pq_tw_i64(t, 2, unc);
    pq_tw_i64(t, 3, rg->num_rows);
    pq_tw_i64(t, 5, rg->file_offset);
    pq_tw_i64(t, 6, comp);
    if (g <= INT16_MAX) { /* ordinal */
      pq_tw_field(t, 7, PQ_T_I16);
      pq_buf_varint(t->out, (uint64_t)g << 1); /* zigzag of g >= 0 */
    }
    pq_tw_struct_end(t);
  }
}

static void put_footer(pq_writer_t *w, pq_buf_t *b) {
  pq_tw_t t;
  pq_tw_init(&t, b);
  pq_tw_struct_begin(&t);
  pq_tw_i32(&t, 1, 1); /* version */
  put_schema(w, &t);
  pq_tw_i64(&t, 3, (int64_t)w->total_rows);
  put_row_groups(w, &t);
  if (w->kv_count) {
    pq_tw_list(&t, 5, PQ_T_STRUCT, (uint32_t)w->kv_count);
    for (size_t i = 0; i < w->kv_count; i++) {
      pq_tw_struct_begin(&t);
      pq_tw_string(&t, 1, w->kv[i].key);
      if (w->kv[i].value) pq_tw_string(&t, 2, w->kv[i].value);
      pq_tw_struct_end(&t);
    }
  }
  pq_tw_string(&t, 6, "AkiDB version 2.0.0 (parquet writer 1)");
  pq_tw_list(&t, 7, PQ_T_STRUCT, (uint32_t)w->ncols); /* column_orders */
  for (int c = 0; c < w->ncols; c++) {
    pq_tw_struct_begin(&t);
    pq_tw_empty_struct(&t, 1); /* TYPE_ORDER */
    pq_tw_struct_end(&t);
  }
  pq_tw_struct_end(&t);
}

int pq_writer_finish(pq_writer_t *w, pq_writer_stats_t *stats, char *err,
                     size_t errlen) {
  if (w->failed)
    return pq_fail(err, errlen, w->failed, "parquet writer: refused after an earlier error");
  int rc = flush_group(w, err, errlen);
  if (rc) return rc;
  pq_buf_t b = {0};
  put_footer(w, &b);
  if (b.oom || b.len > UINT32_MAX) {
    pq_buf_free(&b);
    return fail(w, err, errlen, AKIDB_ENOMEM, "out of memory");
  }
  pq_buf_u32le(&b, (uint32_t)b.len);
  pq_buf_put(&b, "PAR1", 4);
  rc = b.oom ? AKIDB_ENOMEM : emit(w, b.data, b.len);
  pq_buf_free(&b);
  if (rc) return fail(w, err, errlen, rc, rc == AKIDB_EIO ? "the sink failed" : "out of memory");
  w->failed = AKIDB_EINVAL; /* finished: no more rows */
  if (stats) {
    stats->rows = w->total_rows;
    stats->row_groups = w->ngroups;
    stats->bytes = w->pos;
  }
  return 0;
}

void pq_writer_free(pq_writer_t *w) {
  if (!w) return;
  for (size_t i = 0; i < w->kv_count; i++) {
    free((char *)w->kv[i].key);
    free((char *)w->kv[i].value);
  }
  free(w->kv);
  free(w->vecs);
  for (int c = 0; c < COL_MAX; c++) {
    pq_buf_free(&w->str[c].bytes);
    free(w->str[c].off);
    free(w->str[c].len);
    free(w->str[c].null);
  }
  pq_buf_free(&w->page);
  pq_buf_free(&w->packed);
  pq_buf_free(&w->header);
  pq_codec_ctx_free(w->codec);
  for (size_t g = 0; g < w->ngroups; g++)
    for (int c = 0; c < COL_MAX; c++) {
      pq_buf_free(&w->groups[g].cols[c].min);
      pq_buf_free(&w->groups[g].cols[c].max);
    }
  free(w->groups);
  free(w);
}
