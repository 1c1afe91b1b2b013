/*
 * test_parquet.c — src/parquet/: the Thrift compact protocol, the
 * RLE/bit-packed hybrid and the other encodings, the page codecs, writer →
 * reader round trips (0 rows, 1 row, one and many row groups, many pages,
 * empty and unicode strings, nulls, dimensions 1 and 4096, every codec),
 * hand-built files for what our writer never produces (dictionary pages,
 * data page v2, DELTA_BYTE_ARRAY, BIT_PACKED levels, RLE booleans,
 * BYTE_STREAM_SPLIT), and damaged files (every truncation, random byte
 * flips, a damaged zstd page, a footer longer than the file) that must be
 * refused with an error, never a crash.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "parquet/pq_internal.h"

/* ------------------------------------------------------------ helpers */

typedef struct {
  pq_buf_t b;
  int fail_after; /* >0: the sink fails once this many calls were made */
  int calls;
} mem_t;

static int mem_write(void *ctx, const void *buf, size_t len) {
  mem_t *m = ctx;
  if (m->fail_after && ++m->calls > m->fail_after) return -1;
  pq_buf_put(&m->b, buf, len);
  return m->b.oom ? -1 : 0;
}

typedef struct {
  const uint8_t *p;
  size_t len;
} src_t;

static int mem_read(void *ctx, uint64_t off, void *buf, size_t len) {
  src_t *s = ctx;
  if (off > s->len || len > s->len - off) return -1;
  memcpy(buf, s->p + off, len);
  return 0;
}

static uint64_t rng_s = 88172645463325252ull;
static uint64_t rng(void) {
  rng_s ^= rng_s << 13;
  rng_s ^= rng_s >> 7;
  rng_s ^= rng_s << 17;
  return rng_s;
}

static float rnd_float(void) { return (float)((double)(rng() >> 40) / (1 << 24) * 2 - 1); }

/* Test row i: id, vector, payload (NULL every 4th), text (NULL every 3rd,
 * empty every 5th). */
typedef struct {
  char id[64], payload[128], text[64];
  int has_payload, has_text;
} row_t;

static void make_row(uint64_t i, row_t *r) {
  static const char *uni[] = {"", "-é", "-日本", "-😀✓"};
  snprintf(r->id, sizeof r->id, "p%05llu%s", (unsigned long long)i, uni[i % 4]);
  r->has_payload = i % 4 != 3;
  snprintf(r->payload, sizeof r->payload, "{\"i\":%llu,\"s\":\"ü%s\"}", (unsigned long long)i,
           uni[(i + 1) % 4]);
  r->has_text = i % 3 != 2;
  if (i % 5 == 0) r->text[0] = '\0';
  else snprintf(r->text, sizeof r->text, "text %llu%s", (unsigned long long)i, uni[i % 4]);
}

static float vec_value(uint64_t i, uint32_t k) {
  uint32_t h = (uint32_t)(i * 2654435761u) ^ (k * 40503u);
  if ((i + k) % 53 == 0) return -0.0f;
  return (float)(int32_t)(h % 20001 - 10000) / 1000.0f;
}

/* Writes n rows with the given options into m. */
static void write_rows(pq_writer_options_t *o, uint64_t n, mem_t *m) {
  pq_writer_t *w;
  char err[256];
  memset(m, 0, sizeof *m);
  ASSERT_OK(pq_writer_open(o, mem_write, m, &w, err, sizeof err));
  float *v = malloc(o->dimension * sizeof(float));
  row_t r;
  for (uint64_t i = 0; i < n; i++) {
    make_row(i, &r);
    for (uint32_t k = 0; k < o->dimension; k++) v[k] = vec_value(i, k);
    ASSERT_OK(pq_writer_add_row(w, r.id, strlen(r.id), v, r.has_payload ? r.payload : NULL,
                                strlen(r.payload), r.has_text ? r.text : NULL, strlen(r.text),
                                err, sizeof err));
  }
  pq_writer_stats_t st;
  ASSERT_OK(pq_writer_finish(w, &st, err, sizeof err));
  ASSERT_EQ_U64(st.rows, n);
  ASSERT_EQ_U64(st.bytes, m->b.len);
  pq_writer_free(w);
  free(v);
}

/* Reads every row back and compares it with what write_rows wrote. */
static void check_rows(const mem_t *m, uint32_t dim, int has_text, uint64_t n) {
  src_t s = {m->b.data, m->b.len};
  pq_reader_t *r;
  char err[256];
  ASSERT_OK(pq_reader_open(mem_read, &s, s.len, NULL, &r, err, sizeof err));
  ASSERT_EQ_U64(pq_reader_num_rows(r), n);
  pq_import_t *it;
  pq_import_options_t io;
  pq_import_options_default(&io);
  io.dimension = dim;
  ASSERT_OK(pq_import_open(r, &io, &it, err, sizeof err));
  pq_row_t row;
  row_t want;
  uint64_t i = 0;
  int rc;
  while ((rc = pq_import_next(it, &row, err, sizeof err)) == 1) {
    make_row(i, &want);
    ASSERT_EQ_U64(row.row, i);
    ASSERT_EQ_INT(row.id_len, strlen(want.id));
    ASSERT_TRUE(memcmp(row.id, want.id, row.id_len) == 0);
    ASSERT_EQ_INT(row.dimension, dim);
    for (uint32_t k = 0; k < dim; k++) {
      float f = vec_value(i, k);
      if (memcmp(&row.vector[k], &f, 4) != 0)
        CHECK_FAIL("row %llu element %u: %g != %g", (unsigned long long)i, k, row.vector[k], f);
    }
    if (want.has_payload) {
      ASSERT_TRUE(row.payload != NULL);
      ASSERT_TRUE(strcmp(row.payload, want.payload) == 0);
    } else {
      ASSERT_TRUE(row.payload == NULL);
    }
    if (has_text && want.has_text) {
      ASSERT_TRUE(row.text != NULL);
      ASSERT_EQ_INT(row.text_len, strlen(want.text));
      ASSERT_TRUE(memcmp(row.text, want.text, row.text_len) == 0);
    } else {
      ASSERT_TRUE(row.text == NULL);
    }
    i++;
  }
  if (rc != 0) CHECK_FAIL("import failed at row %llu: %s", (unsigned long long)i, err);
  ASSERT_EQ_U64(i, n);
  pq_import_free(it);
  pq_reader_free(r);
}

static void round_trip(uint32_t dim, int has_text, uint64_t n, uint32_t group, int codec,
                       size_t page_bytes) {
  pq_writer_options_t o;
  pq_writer_options_default(&o);
  o.dimension = dim;
  o.has_text = has_text;
  o.rows_per_group = group;
  o.codec = codec;
  o.page_bytes = page_bytes;
  mem_t m;
  write_rows(&o, n, &m);
  check_rows(&m, dim, has_text, n);
  pq_buf_free(&m.b);
}

/* ------------------------------------------------------------- thrift */

static void test_thrift_compact_round_trip(void) {
  pq_buf_t b = {0};
  pq_tw_t w;
  pq_tw_init(&w, &b);
  pq_tw_struct_begin(&w);
  pq_tw_i32(&w, 1, -123456);
  pq_tw_i64(&w, 2, INT64_MIN);
  pq_tw_bool(&w, 3, true);
  pq_tw_bool(&w, 4, false);
  pq_tw_string(&w, 5, "héllo");
  pq_tw_list(&w, 40, PQ_T_I32, 20); /* long field delta and a long list */
  for (int i = 0; i < 20; i++) pq_tw_elem_i32(&w, i * -7);
  pq_tw_field(&w, 41, PQ_T_STRUCT);
  pq_tw_struct_begin(&w);
  pq_tw_i64(&w, 1, INT64_MAX);
  pq_tw_struct_end(&w);
  pq_tw_i32(&w, 42, 7);
  pq_tw_struct_end(&w);
  ASSERT_TRUE(!b.oom);

  pq_tr_t r;
  pq_tr_init(&r, b.data, b.len);
  ASSERT_TRUE(pq_tr_struct_begin(&r));
  int16_t id = 0;
  int t, seen = 0;
  while (pq_tr_field(&r, &id, &t)) {
    const uint8_t *p;
    size_t n;
    switch (id) {
    case 1: ASSERT_EQ_INT(pq_tr_int(&r, t), -123456); break;
    case 2: ASSERT_TRUE(pq_tr_int(&r, t) == INT64_MIN); break;
    case 3: ASSERT_TRUE(pq_tr_bool(&r, t)); break;
    case 4: ASSERT_TRUE(!pq_tr_bool(&r, t)); break;
    case 5:
      n = pq_tr_binary(&r, &p);
      ASSERT_EQ_INT(n, strlen("héllo"));
      ASSERT_TRUE(memcmp(p, "héllo", n) == 0);
      break;
    case 40: {
      int et;
      uint32_t c = pq_tr_list(&r, &et);
      ASSERT_EQ_INT(c, 20);
      ASSERT_EQ_INT(et, PQ_T_I32);
      for (uint32_t i = 0; i < c; i++) ASSERT_EQ_INT(pq_tr_int(&r, et), (int)i * -7);
      break;
    }
    case 41: pq_tr_skip(&r, t); break; /* skipping a struct lands on field 42 */
    case 42: ASSERT_EQ_INT(pq_tr_int(&r, t), 7); break;
    default: CHECK_FAIL("unexpected field %d", id);
    }
    seen++;
  }
  pq_tr_struct_end(&r);
  ASSERT_TRUE(!r.bad);
  ASSERT_EQ_INT(seen, 8);
  ASSERT_TRUE(r.p == r.end);
  pq_buf_free(&b);
}

static void test_thrift_refuses_deep_nesting_and_overlong_lists(void) {
  uint8_t deep[200];
  memset(deep, 0x1C, sizeof deep); /* field delta 1, type struct, forever */
  pq_tr_t r;
  pq_tr_init(&r, deep, sizeof deep);
  pq_tr_skip(&r, PQ_T_STRUCT);
  ASSERT_TRUE(r.bad);
  ASSERT_STR_CONTAINS(r.why, "deeply");
  uint8_t list[] = {0xF5, 0xFF, 0xFF, 0xFF, 0x7F, 0x01}; /* 2^35-ish i32s, 1 byte left */
  pq_tr_init(&r, list, sizeof list);
  int et;
  ASSERT_EQ_INT(pq_tr_list(&r, &et), 0);
  ASSERT_TRUE(r.bad);
  pq_file_meta_t m;
  char err[200];
  ASSERT_EQ_INT(pq_meta_decode(deep, sizeof deep, 100, &m, err, sizeof err), AKIDB_ECORRUPT);
  ASSERT_STR_CONTAINS(err, "footer");
}

/* ------------------------------------------------------------ encodings */

static void test_rle_hybrid_matches_the_specification_examples(void) {
  uint32_t v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  pq_buf_t b = {0};
  pq_rle_encode(&b, v, 8, 3);
  /* Encodings.md: 0..7 at width 3 bit-pack to 10001000 11000110 11111010. */
  ASSERT_EQ_INT(b.len, 4);
  ASSERT_EQ_INT(b.data[0], 0x03);
  ASSERT_EQ_INT(b.data[1], 0x88);
  ASSERT_EQ_INT(b.data[2], 0xC6);
  ASSERT_EQ_INT(b.data[3], 0xFA);
  b.len = 0;
  uint32_t run[100];
  for (int i = 0; i < 100; i++) run[i] = 5;
  pq_rle_encode(&b, run, 100, 3);
  ASSERT_EQ_INT(b.len, 3); /* varint(100 << 1) = C8 01, value 05 */
  ASSERT_EQ_INT(b.data[0], 0xC8);
  ASSERT_EQ_INT(b.data[1], 0x01);
  ASSERT_EQ_INT(b.data[2], 0x05);
  uint32_t out[100];
  ASSERT_EQ_INT(pq_rle_decode(b.data, b.len, 3, out, 100), 3);
  for (int i = 0; i < 100; i++) ASSERT_EQ_INT(out[i], 5);
  ASSERT_EQ_INT(pq_rle_decode(b.data, 2, 3, out, 100), -1);  /* cut short */
  uint8_t too_wide[] = {0x02, 0x09};                         /* value 9 at width 3 */
  ASSERT_EQ_INT(pq_rle_decode(too_wide, 2, 3, out, 1), -1);
  /* BIT_PACKED (MSB first): 0..7 at width 3 is 00000101 00111001 01110111. */
  uint8_t msb[] = {0x05, 0x39, 0x77};
  ASSERT_EQ_INT(pq_bitpacked_msb_decode(msb, 3, 3, out, 8), 3);
  for (int i = 0; i < 8; i++) ASSERT_EQ_INT(out[i], i);
  ASSERT_EQ_INT(pq_bitpacked_msb_decode(msb, 2, 3, out, 8), -1);
  pq_buf_free(&b);
}

static void test_rle_hybrid_round_trips_random_runs(void) {
  enum { N = 5000 };
  static uint32_t v[N], out[N];
  for (int bw = 0; bw <= 32; bw++) {
    for (int trial = 0; trial < 4; trial++) {
      uint64_t mask = bw == 32 ? 0xFFFFFFFFu : ((1ull << bw) - 1);
      size_t n = 1 + rng() % N;
      for (size_t i = 0; i < n;) {
        uint32_t x = (uint32_t)(rng() & mask);
        size_t len = rng() % 3 == 0 ? 1 + rng() % 40 : 1;
        for (size_t k = 0; k < len && i < n; k++) v[i++] = x;
      }
      pq_buf_t b = {0};
      pq_rle_encode(&b, v, n, bw);
      memset(out, 0xAB, sizeof out);
      long used = pq_rle_decode(b.data, b.len, bw, out, n);
      ASSERT_TRUE(used > 0 || (bw == 0 && used >= 0));
      ASSERT_TRUE(memcmp(v, out, n * sizeof *v) == 0);
      pq_buf_free(&b);
    }
  }
}

static void test_level_streams_read_and_count_runs(void) {
  enum { N = 3000 };
  static uint32_t v[N];
  for (int bw = 1; bw <= 5; bw++) {
    uint32_t max = (1u << bw) - 1;
    for (size_t i = 0; i < N;) {
      uint32_t x = (uint32_t)((rng() >> 33) % (max + 1));
      size_t len = (rng() >> 40) % 2 ? 1 + (rng() >> 20) % 300 : 1;
      for (size_t k = 0; k < len && i < N; k++) v[i++] = x;
    }
    pq_buf_t b = {0};
    pq_rle_encode(&b, v, N, bw);
    pq_levels_t s;
    pq_levels_init(&s, b.data, b.len, bw, false);
    long want = 0;
    for (size_t i = 0; i < N; i++) want += v[i] == max;
    ASSERT_TRUE(want > 0);
    ASSERT_EQ_INT(pq_levels_count(s, N, max, max), want);
    ASSERT_EQ_INT(pq_levels_count(s, N, max - 1 + (bw == 1), max), bw == 1 ? want : -2);
    for (size_t i = 0; i < N; i++) {
      uint32_t x;
      ASSERT_TRUE(pq_levels_next(&s, &x));
      if (x != v[i]) CHECK_FAIL("bw %d value %zu: %u != %u", bw, i, x, v[i]);
    }
    pq_levels_init(&s, b.data, b.len / 2, bw, false); /* cut short */
    ASSERT_EQ_INT(pq_levels_count(s, N, max, max), -1);
    pq_buf_free(&b);
  }
  uint8_t msb[] = {0x05, 0x39, 0x77}; /* BIT_PACKED 0..7 at width 3 */
  pq_levels_t s;
  pq_levels_init(&s, msb, 3, 3, true);
  for (uint32_t i = 0; i < 8; i++) {
    uint32_t x;
    ASSERT_TRUE(pq_levels_next(&s, &x));
    ASSERT_EQ_INT(x, i);
  }
  uint32_t x;
  ASSERT_TRUE(!pq_levels_next(&s, &x));
}

static void test_delta_binary_packed_round_trip(void) {
  static int64_t v[3000], out[3000];
  size_t sizes[] = {0, 1, 2, 31, 32, 33, 127, 128, 129, 1000, 3000};
  for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
    for (int kind = 0; kind < 4; kind++) {
      size_t n = sizes[s];
      for (size_t i = 0; i < n; i++) {
        switch (kind) {
        case 0: v[i] = 42; break;
        case 1: v[i] = (int64_t)i * 3 - 100; break;
        case 2: v[i] = (int64_t)(rng() % 2000) - 1000; break;
        default: v[i] = i % 2 ? INT64_MIN : INT64_MAX; break;
        }
      }
      pq_buf_t b = {0};
      pq_delta_encode(&b, v, n);
      ASSERT_EQ_INT(pq_delta_count(b.data, b.len), n);
      size_t got = 99;
      long used = pq_delta_decode(b.data, b.len, out, n, &got);
      ASSERT_EQ_INT(used, b.len);
      ASSERT_EQ_INT(got, n);
      for (size_t i = 0; i < n; i++)
        if (out[i] != v[i]) CHECK_FAIL("n=%zu kind=%d i=%zu: %lld != %lld", n, kind, i,
                                       (long long)out[i], (long long)v[i]);
      /* padding after the last value may be missing; values may not */
      if (n >= 129) ASSERT_EQ_INT(pq_delta_decode(b.data, b.len / 2, out, n, &got), -1);
      if (n > 1) ASSERT_EQ_INT(pq_delta_decode(b.data, b.len, out, n - 1, &got), -1);
      pq_buf_free(&b);
    }
  }
}

static void test_byte_stream_split_round_trip(void) {
  float f[37], g[37];
  uint8_t split[37 * 4];
  for (int i = 0; i < 37; i++) f[i] = rnd_float();
  pq_bss_encode(split, (const uint8_t *)f, 37, 4);
  uint8_t b0 = ((const uint8_t *)&f[1])[0];
  ASSERT_EQ_INT(split[1], b0); /* stream 0 holds every value's byte 0 */
  pq_bss_decode((uint8_t *)g, split, 37, 4);
  ASSERT_TRUE(memcmp(f, g, sizeof f) == 0);
}

static void test_codecs_round_trip_and_refuse_damage(void) {
  int codecs[] = {PQ_CODEC_UNCOMPRESSED, PQ_CODEC_SNAPPY, PQ_CODEC_GZIP, PQ_CODEC_ZSTD};
  static uint8_t src[100000], dst[100000];
  for (size_t i = 0; i < sizeof src; i++) src[i] = (uint8_t)(i % 251 < 100 ? i : rng());
  pq_codec_ctx_t *c = pq_codec_ctx_new();
  char err[200];
  for (int k = 0; k < 4; k++) {
    pq_buf_t out = {0};
    ASSERT_OK(pq_compress(c, codecs[k], 1, src, sizeof src, &out, err, sizeof err));
    memset(dst, 0, sizeof dst);
    ASSERT_OK(pq_decompress(c, codecs[k], out.data, out.len, dst, sizeof dst, err, sizeof err));
    ASSERT_TRUE(memcmp(src, dst, sizeof src) == 0);
    /* a page header that lies about the size is an error, not an overflow */
    ASSERT_EQ_INT(pq_decompress(c, codecs[k], out.data, out.len, dst, sizeof dst - 1, err,
                                sizeof err), AKIDB_ECORRUPT);
    if (codecs[k] != PQ_CODEC_UNCOMPRESSED) {
      out.data[out.len / 2] ^= 0x5A;
      int rc = pq_decompress(c, codecs[k], out.data, out.len, dst, sizeof dst, err, sizeof err);
      if (codecs[k] != PQ_CODEC_SNAPPY) ASSERT_EQ_INT(rc, AKIDB_ECORRUPT); /* checksummed */
      ASSERT_EQ_INT(pq_decompress(c, codecs[k], out.data, out.len / 3, dst, sizeof dst, err,
                                  sizeof err), AKIDB_ECORRUPT);
    }
    pq_buf_free(&out);
  }
  ASSERT_EQ_INT(pq_decompress(c, PQ_CODEC_LZ4, src, 10, dst, 10, err, sizeof err), AKIDB_ENOTSUP);
  ASSERT_STR_CONTAINS(err, "uses codec LZ4, which AkiDB cannot read; rewrite with zstd or snappy");
  pq_codec_ctx_free(c);
}

/* -------------------------------------------------------- round trips */

static void test_round_trip_zero_rows(void) { round_trip(8, 1, 0, 100, PQ_CODEC_ZSTD, 0); }
static void test_round_trip_one_row(void) { round_trip(3, 1, 1, 100, PQ_CODEC_ZSTD, 0); }
static void test_round_trip_exactly_one_row_group(void) {
  round_trip(16, 1, 64, 64, PQ_CODEC_ZSTD, 0);
}
static void test_round_trip_many_row_groups_and_pages(void) {
  round_trip(5, 1, 1000, 37, PQ_CODEC_ZSTD, 100);
  round_trip(5, 0, 1000, 1000, PQ_CODEC_SNAPPY, 300);
}
static void test_round_trip_dimension_1_and_4096(void) {
  round_trip(1, 1, 500, 128, PQ_CODEC_GZIP, 0);
  round_trip(4096, 1, 70, 32, PQ_CODEC_ZSTD, 0); /* pages smaller than a row */
}
static void test_round_trip_every_codec(void) {
  round_trip(7, 1, 300, 100, PQ_CODEC_UNCOMPRESSED, 0);
  round_trip(7, 1, 300, 100, PQ_CODEC_SNAPPY, 0);
  round_trip(7, 1, 300, 100, PQ_CODEC_GZIP, 0);
  round_trip(7, 1, 300, 100, PQ_CODEC_ZSTD, 0);
}

static void test_footer_has_statistics_key_values_and_schema(void) {
  pq_writer_options_t o;
  pq_writer_options_default(&o);
  o.dimension = 4;
  o.has_text = 1;
  o.rows_per_group = 10;
  pq_kv_t kv[] = {{"akidb.collection", "docs"}, {"akidb.empty", NULL}};
  o.kv = kv;
  o.kv_count = 2;
  mem_t m;
  write_rows(&o, 25, &m);
  src_t s = {m.b.data, m.b.len};
  pq_reader_t *r;
  char err[256];
  ASSERT_OK(pq_reader_open(mem_read, &s, s.len, NULL, &r, err, sizeof err));
  ASSERT_EQ_INT(pq_reader_num_row_groups(r), 3);
  ASSERT_EQ_INT(pq_reader_row_group_rows(r, 2), 5);
  ASSERT_TRUE(strcmp(pq_reader_kv(r, "akidb.collection"), "docs") == 0);
  ASSERT_TRUE(pq_reader_kv(r, "akidb.empty") == NULL);
  ASSERT_STR_CONTAINS(pq_reader_created_by(r), "AkiDB");
  size_t nf;
  const pq_field_t *f = pq_reader_fields(r, &nf);
  ASSERT_EQ_INT(nf, 4);
  ASSERT_TRUE(strcmp(f[1].name, "vector") == 0 && f[1].kind == PQ_FIELD_LIST &&
              f[1].type == PQ_FLOAT && strcmp(f[1].logical, "LIST") == 0);
  ASSERT_TRUE(strcmp(f[2].logical, "JSON") == 0 && f[2].nullable);
  ASSERT_TRUE(f[0].kind == PQ_FIELD_SCALAR && !f[0].nullable);
  ASSERT_EQ_INT(pq_reader_num_columns(r), 4);
  for (size_t g = 0; g < 3; g++) {
    pq_chunk_info_t ci;
    uint64_t first = g * 10, last = g == 2 ? 24 : g * 10 + 9;
    /* id: min and max are the smallest and largest id of the group */
    ASSERT_OK(pq_reader_chunk_info(r, g, 0, &ci));
    ASSERT_EQ_INT(ci.codec, PQ_CODEC_ZSTD);
    ASSERT_TRUE(ci.has_null_count && ci.null_count == 0);
    row_t lo, hi;
    make_row(first, &lo);
    make_row(last, &hi);
    ASSERT_TRUE(ci.min_len == strlen(lo.id) && memcmp(ci.min_value, lo.id, ci.min_len) == 0);
    ASSERT_TRUE(ci.max_len == strlen(hi.id) && memcmp(ci.max_value, hi.id, ci.max_len) == 0);
    /* vector element: float min/max over the group */
    ASSERT_OK(pq_reader_chunk_info(r, g, 1, &ci));
    ASSERT_TRUE(strcmp(ci.path, "vector.list.element") == 0);
    float mn = 1e30f, mx = -1e30f;
    for (uint64_t i = first; i <= last; i++)
      for (uint32_t k = 0; k < 4; k++) {
        float x = vec_value(i, k);
        mn = x < mn ? x : mn;
        mx = x > mx ? x : mx;
      }
    float got_min, got_max;
    ASSERT_TRUE(ci.min_len == 4 && ci.max_len == 4);
    memcpy(&got_min, ci.min_value, 4);
    memcpy(&got_max, ci.max_value, 4);
    ASSERT_TRUE(got_min == mn && got_max == mx);
    ASSERT_EQ_INT(ci.num_values, (last - first + 1) * 4);
    /* payload: null count */
    ASSERT_OK(pq_reader_chunk_info(r, g, 2, &ci));
    int64_t nulls = 0;
    for (uint64_t i = first; i <= last; i++) nulls += i % 4 == 3;
    ASSERT_EQ_INT(ci.null_count, nulls);
  }
  pq_reader_free(r);
  pq_buf_free(&m.b);
}

static void test_writer_refuses_bad_options_and_sticks_on_sink_failure(void) {
  pq_writer_options_t o;
  pq_writer_options_default(&o);
  pq_writer_t *w = NULL;
  char err[256];
  mem_t m = {0};
  ASSERT_EQ_INT(pq_writer_open(&o, mem_write, &m, &w, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "dimension 0");
  o.dimension = 2;
  o.codec = PQ_CODEC_LZ4;
  ASSERT_EQ_INT(pq_writer_open(&o, mem_write, &m, &w, err, sizeof err), AKIDB_EINVAL);
  o.codec = PQ_CODEC_ZSTD;
  o.rows_per_group = 2;
  m.fail_after = 2; /* the magic and one more write succeed */
  ASSERT_OK(pq_writer_open(&o, mem_write, &m, &w, err, sizeof err));
  float v[2] = {1, 2};
  ASSERT_OK(pq_writer_add_row(w, "a", 1, v, NULL, 0, NULL, 0, err, sizeof err));
  ASSERT_EQ_INT(pq_writer_add_row(w, "b", 1, v, NULL, 0, NULL, 0, err, sizeof err), AKIDB_EIO);
  ASSERT_EQ_INT(pq_writer_add_row(w, "c", 1, v, NULL, 0, NULL, 0, err, sizeof err), AKIDB_EIO);
  ASSERT_EQ_INT(pq_writer_finish(w, NULL, err, sizeof err), AKIDB_EIO);
  pq_writer_free(w);
  pq_buf_free(&m.b);
}

/* --------------------------------------------- hand-built files (reader) */

/* A column of a hand-built file: its schema leaf and its pages. */
typedef struct {
  const char *name;
  int type, type_length, repetition, converted, logical;
  pq_buf_t pages;
  int64_t num_values;
  bool dict_first; /* pages start with a dictionary page */
} hcol_t;

static void put_page_v1(pq_buf_t *b, int type, const pq_buf_t *body, int32_t nvals, int enc,
                        int def_enc) {
  pq_buf_t h = {0};
  pq_tw_t w;
  pq_tw_init(&w, &h);
  pq_tw_struct_begin(&w);
  pq_tw_i32(&w, 1, type);
  pq_tw_i32(&w, 2, (int32_t)body->len);
  pq_tw_i32(&w, 3, (int32_t)body->len);
  pq_tw_field(&w, type == PQ_PAGE_DICT ? 7 : 5, PQ_T_STRUCT);
  pq_tw_struct_begin(&w);
  pq_tw_i32(&w, 1, nvals);
  pq_tw_i32(&w, 2, enc);
  if (type == PQ_PAGE_DATA) {
    pq_tw_i32(&w, 3, def_enc);
    pq_tw_i32(&w, 4, PQ_ENC_RLE);
  }
  pq_tw_struct_end(&w);
  pq_tw_struct_end(&w);
  pq_buf_put(b, h.data, h.len);
  pq_buf_put(b, body->data, body->len);
  pq_buf_free(&h);
}

static void put_page_v2(pq_buf_t *b, const pq_buf_t *levels, size_t def_len,
                        const pq_buf_t *vals, int32_t nvals, int32_t nulls, int enc) {
  pq_buf_t h = {0};
  pq_tw_t w;
  pq_tw_init(&w, &h);
  pq_tw_struct_begin(&w);
  pq_tw_i32(&w, 1, PQ_PAGE_DATA_V2);
  pq_tw_i32(&w, 2, (int32_t)(levels->len + vals->len));
  pq_tw_i32(&w, 3, (int32_t)(levels->len + vals->len));
  pq_tw_field(&w, 8, PQ_T_STRUCT);
  pq_tw_struct_begin(&w);
  pq_tw_i32(&w, 1, nvals);
  pq_tw_i32(&w, 2, nulls);
  pq_tw_i32(&w, 3, nvals);
  pq_tw_i32(&w, 4, enc);
  pq_tw_i32(&w, 5, (int32_t)def_len);
  pq_tw_i32(&w, 6, 0);
  pq_tw_bool(&w, 7, false);
  pq_tw_struct_end(&w);
  pq_tw_struct_end(&w);
  pq_buf_put(b, h.data, h.len);
  pq_buf_put(b, levels->data, levels->len);
  pq_buf_put(b, vals->data, vals->len);
  pq_buf_free(&h);
}

/* Writes PAR1, the columns' pages, a footer with one row group of n rows
 * (codec UNCOMPRESSED), the footer length and PAR1. */
static void build_file(pq_buf_t *f, hcol_t *cols, int ncols, int64_t n) {
  f->len = 0;
  pq_buf_put(f, "PAR1", 4);
  int64_t off[8];
  for (int c = 0; c < ncols; c++) {
    off[c] = (int64_t)f->len;
    pq_buf_put(f, cols[c].pages.data, cols[c].pages.len);
  }
  size_t start = f->len;
  pq_tw_t w;
  pq_tw_init(&w, f);
  pq_tw_struct_begin(&w);
  pq_tw_i32(&w, 1, 2);
  pq_tw_list(&w, 2, PQ_T_STRUCT, (uint32_t)ncols + 1);
  pq_tw_struct_begin(&w);
  pq_tw_string(&w, 4, "schema");
  pq_tw_i32(&w, 5, ncols);
  pq_tw_struct_end(&w);
  for (int c = 0; c < ncols; c++) {
    pq_tw_struct_begin(&w);
    pq_tw_i32(&w, 1, cols[c].type);
    if (cols[c].type_length) pq_tw_i32(&w, 2, cols[c].type_length);
    pq_tw_i32(&w, 3, cols[c].repetition);
    pq_tw_string(&w, 4, cols[c].name);
    if (cols[c].converted >= 0) pq_tw_i32(&w, 6, cols[c].converted);
    if (cols[c].logical) {
      pq_tw_field(&w, 10, PQ_T_STRUCT);
      pq_tw_struct_begin(&w);
      pq_tw_empty_struct(&w, (int16_t)cols[c].logical);
      pq_tw_struct_end(&w);
    }
    pq_tw_struct_end(&w);
  }
  pq_tw_i64(&w, 3, n);
  pq_tw_list(&w, 4, PQ_T_STRUCT, 1);
  pq_tw_struct_begin(&w);
  pq_tw_list(&w, 1, PQ_T_STRUCT, (uint32_t)ncols);
  for (int c = 0; c < ncols; c++) {
    pq_tw_struct_begin(&w);
    pq_tw_i64(&w, 2, off[c]);
    pq_tw_field(&w, 3, PQ_T_STRUCT);
    pq_tw_struct_begin(&w);
    pq_tw_i32(&w, 1, cols[c].type);
    pq_tw_list(&w, 2, PQ_T_I32, 1);
    pq_tw_elem_i32(&w, PQ_ENC_PLAIN);
    pq_tw_list(&w, 3, PQ_T_BINARY, 1);
    pq_tw_elem_binary(&w, cols[c].name, strlen(cols[c].name));
    pq_tw_i32(&w, 4, PQ_CODEC_UNCOMPRESSED);
    pq_tw_i64(&w, 5, cols[c].num_values);
    pq_tw_i64(&w, 6, (int64_t)cols[c].pages.len);
    pq_tw_i64(&w, 7, (int64_t)cols[c].pages.len);
    pq_tw_i64(&w, 9, off[c]);
    if (cols[c].dict_first) pq_tw_i64(&w, 11, off[c]);
    pq_tw_struct_end(&w);
    pq_tw_struct_end(&w);
  }
  pq_tw_i64(&w, 2, 0);
  pq_tw_i64(&w, 3, n);
  pq_tw_struct_end(&w);
  pq_tw_struct_end(&w);
  pq_buf_u32le(f, (uint32_t)(f->len - start));
  pq_buf_put(f, "PAR1", 4);
  ASSERT_TRUE(!f->oom);
}

/* id: required BYTE_ARRAY "r<i>" (PLAIN, v1); vector: FLBA(4) = dim 1. */
static void id_and_vector(hcol_t *cols, int n) {
  memset(cols, 0, 2 * sizeof *cols);
  cols[0] = (hcol_t){.name = "id", .type = PQ_BYTE_ARRAY, .repetition = PQ_REQUIRED,
                     .converted = PQ_CT_UTF8, .num_values = n};
  cols[1] = (hcol_t){.name = "vector", .type = PQ_FIXED_LEN_BYTE_ARRAY, .type_length = 4,
                     .repetition = PQ_REQUIRED, .converted = -1, .num_values = n};
  pq_buf_t body = {0};
  for (int i = 0; i < n; i++) {
    char id[16];
    int l = snprintf(id, sizeof id, "r%d", i);
    pq_buf_u32le(&body, (uint32_t)l);
    pq_buf_put(&body, id, (size_t)l);
  }
  put_page_v1(&cols[0].pages, PQ_PAGE_DATA, &body, n, PQ_ENC_PLAIN, PQ_ENC_RLE);
  body.len = 0;
  for (int i = 0; i < n; i++) {
    float f = (float)i + 0.5f;
    pq_buf_put(&body, &f, 4);
  }
  put_page_v1(&cols[1].pages, PQ_PAGE_DATA, &body, n, PQ_ENC_PLAIN, PQ_ENC_RLE);
  pq_buf_free(&body);
}

/* Imports the file and compares each row's payload text with want[i]
 * (NULL = no payload); vector[0] must be i + 0.5. */
static void expect_payloads(const pq_buf_t *f, const char *const *want, int n) {
  src_t s = {f->data, f->len};
  pq_reader_t *r;
  pq_import_t *it;
  char err[256];
  if (pq_reader_open(mem_read, &s, s.len, NULL, &r, err, sizeof err)) CHECK_FAIL("open: %s", err);
  if (pq_import_open(r, NULL, &it, err, sizeof err)) CHECK_FAIL("import: %s", err);
  pq_row_t row;
  int i = 0, rc;
  while ((rc = pq_import_next(it, &row, err, sizeof err)) == 1) {
    ASSERT_TRUE(i < n);
    ASSERT_EQ_INT(row.dimension, 1);
    ASSERT_TRUE(row.vector[0] == (float)i + 0.5f);
    if (!want[i]) {
      if (row.payload) CHECK_FAIL("row %d: payload %s, expected none", i, row.payload);
    } else if (!row.payload || strcmp(row.payload, want[i]) != 0) {
      CHECK_FAIL("row %d: payload %s, expected %s", i, row.payload ? row.payload : "(null)",
                 want[i]);
    }
    i++;
  }
  if (rc) CHECK_FAIL("row %d: %s", i, err);
  ASSERT_EQ_INT(i, n);
  pq_import_free(it);
  pq_reader_free(r);
}

static void free_cols(hcol_t *cols, int n) {
  for (int c = 0; c < n; c++) pq_buf_free(&cols[c].pages);
}

static void test_reader_dictionary_page_and_bit_packed_levels(void) {
  hcol_t cols[3];
  id_and_vector(cols, 5);
  cols[2] = (hcol_t){.name = "tag", .type = PQ_BYTE_ARRAY, .repetition = PQ_OPTIONAL,
                     .converted = PQ_CT_UTF8, .num_values = 5, .dict_first = true};
  pq_buf_t body = {0};
  const char *dict[] = {"red", "grün"};
  for (int i = 0; i < 2; i++) {
    pq_buf_u32le(&body, (uint32_t)strlen(dict[i]));
    pq_buf_put(&body, dict[i], strlen(dict[i]));
  }
  put_page_v1(&cols[2].pages, PQ_PAGE_DICT, &body, 2, PQ_ENC_PLAIN_DICTIONARY, 0);
  body.len = 0;
  /* definition levels 1,0,1,1,1 as deprecated BIT_PACKED (width 1, MSB first) */
  pq_buf_byte(&body, 0xB8);
  uint32_t idx[4] = {1, 0, 0, 1};
  pq_buf_byte(&body, 1); /* index bit width */
  pq_rle_encode(&body, idx, 4, 1);
  put_page_v1(&cols[2].pages, PQ_PAGE_DATA, &body, 5, PQ_ENC_PLAIN_DICTIONARY,
              PQ_ENC_BIT_PACKED);
  pq_buf_t f = {0};
  build_file(&f, cols, 3, 5);
  const char *want[] = {"{\"tag\":\"grün\"}", NULL, "{\"tag\":\"red\"}", "{\"tag\":\"red\"}",
                        "{\"tag\":\"grün\"}"};
  expect_payloads(&f, want, 5);
  pq_buf_free(&f);
  pq_buf_free(&body);
  free_cols(cols, 3);
}

static void test_reader_data_page_v2_with_delta_integers(void) {
  hcol_t cols[3];
  id_and_vector(cols, 6);
  cols[2] = (hcol_t){.name = "year", .type = PQ_INT64, .repetition = PQ_OPTIONAL,
                     .converted = -1, .num_values = 6};
  pq_buf_t levels = {0}, vals = {0};
  uint32_t def[6] = {1, 1, 0, 1, 0, 1};
  pq_rle_encode(&levels, def, 6, 1);
  int64_t v[4] = {1999, -5, INT64_MAX, 0};
  pq_delta_encode(&vals, v, 4);
  put_page_v2(&cols[2].pages, &levels, levels.len, &vals, 6, 2, PQ_ENC_DELTA_BINARY_PACKED);
  pq_buf_t f = {0};
  build_file(&f, cols, 3, 6);
  const char *want[] = {"{\"year\":1999}", "{\"year\":-5}", NULL,
                        "{\"year\":9223372036854775807}", NULL, "{\"year\":0}"};
  expect_payloads(&f, want, 6);
  pq_buf_free(&f);
  pq_buf_free(&levels);
  pq_buf_free(&vals);
  free_cols(cols, 3);
}

static void test_reader_delta_byte_array_rle_booleans_and_byte_stream_split(void) {
  hcol_t cols[5];
  id_and_vector(cols, 4);
  cols[2] = (hcol_t){.name = "word", .type = PQ_BYTE_ARRAY, .repetition = PQ_REQUIRED,
                     .converted = PQ_CT_UTF8, .num_values = 4};
  cols[3] = (hcol_t){.name = "ok", .type = PQ_BOOLEAN, .repetition = PQ_REQUIRED,
                     .converted = -1, .num_values = 4};
  cols[4] = (hcol_t){.name = "w", .type = PQ_FLOAT, .repetition = PQ_REQUIRED,
                     .converted = -1, .num_values = 4};
  /* DELTA_BYTE_ARRAY: apple, applesauce, apply, "" */
  int64_t pre[4] = {0, 5, 4, 0}, suf[4] = {5, 5, 1, 0};
  pq_buf_t body = {0};
  pq_delta_encode(&body, pre, 4);
  pq_delta_encode(&body, suf, 4);
  pq_buf_put(&body, "applesaucey", 11);
  put_page_v1(&cols[2].pages, PQ_PAGE_DATA, &body, 4, PQ_ENC_DELTA_BYTE_ARRAY, PQ_ENC_RLE);
  /* RLE booleans: true, false, false, true */
  body.len = 0;
  pq_buf_t rle = {0};
  uint32_t bits[4] = {1, 0, 0, 1};
  pq_rle_encode(&rle, bits, 4, 1);
  pq_buf_u32le(&body, (uint32_t)rle.len);
  pq_buf_put(&body, rle.data, rle.len);
  put_page_v1(&cols[3].pages, PQ_PAGE_DATA, &body, 4, PQ_ENC_RLE, PQ_ENC_RLE);
  /* BYTE_STREAM_SPLIT floats */
  float w[4] = {0.25f, -2.0f, 1e10f, 3.5f};
  uint8_t split[16];
  pq_bss_encode(split, (const uint8_t *)w, 4, 4);
  body.len = 0;
  pq_buf_put(&body, split, 16);
  put_page_v1(&cols[4].pages, PQ_PAGE_DATA, &body, 4, PQ_ENC_BYTE_STREAM_SPLIT, PQ_ENC_RLE);
  pq_buf_t f = {0};
  build_file(&f, cols, 5, 4);
  const char *want[] = {"{\"word\":\"apple\",\"ok\":true,\"w\":0.25}",
                        "{\"word\":\"applesauce\",\"ok\":false,\"w\":-2.0}",
                        "{\"word\":\"apply\",\"ok\":false,\"w\":10000000000.0}",
                        "{\"word\":\"\",\"ok\":true,\"w\":3.5}"};
  expect_payloads(&f, want, 4);
  pq_buf_free(&f);
  pq_buf_free(&body);
  pq_buf_free(&rle);
  free_cols(cols, 5);
}

static void test_import_names_null_ids_and_payloads_that_are_not_objects(void) {
  hcol_t cols[3];
  id_and_vector(cols, 3);
  cols[2] = (hcol_t){.name = "payload", .type = PQ_BYTE_ARRAY, .repetition = PQ_OPTIONAL,
                     .converted = PQ_CT_JSON, .num_values = 3};
  pq_buf_t body = {0};
  uint32_t def[3] = {1, 0, 1};
  pq_buf_t lv = {0};
  pq_rle_encode(&lv, def, 3, 1);
  pq_buf_u32le(&body, (uint32_t)lv.len);
  pq_buf_put(&body, lv.data, lv.len);
  const char *vals[] = {"{\"a\":[1,2]}", "[1,2]"};
  for (int i = 0; i < 2; i++) {
    pq_buf_u32le(&body, (uint32_t)strlen(vals[i]));
    pq_buf_put(&body, vals[i], strlen(vals[i]));
  }
  put_page_v1(&cols[2].pages, PQ_PAGE_DATA, &body, 3, PQ_ENC_PLAIN, PQ_ENC_RLE);
  pq_buf_t f = {0};
  build_file(&f, cols, 3, 3);
  src_t s = {f.data, f.len};
  pq_reader_t *r;
  pq_import_t *it;
  char err[256];
  ASSERT_OK(pq_reader_open(mem_read, &s, s.len, NULL, &r, err, sizeof err));
  ASSERT_OK(pq_import_open(r, NULL, &it, err, sizeof err));
  pq_row_t row;
  ASSERT_EQ_INT(pq_import_next(it, &row, err, sizeof err), 1);
  ASSERT_TRUE(strcmp(row.payload, "{\"a\":[1,2]}") == 0);
  ASSERT_EQ_INT(pq_import_next(it, &row, err, sizeof err), 1);
  ASSERT_TRUE(row.payload == NULL);
  ASSERT_EQ_INT(pq_import_next(it, &row, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "row 2: payload is not a JSON object");
  ASSERT_EQ_INT(pq_import_next(it, &row, err, sizeof err), AKIDB_EINVAL); /* sticky */
  pq_import_free(it);
  /* a missing vector column and a wrong id column are named */
  pq_import_options_t io;
  pq_import_options_default(&io);
  io.vector_column = "embedding";
  ASSERT_EQ_INT(pq_import_open(r, &io, &it, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "the file has no vector column 'embedding'");
  io.vector_column = NULL;
  io.id_column = "payload";
  io.payload_column = "none";
  ASSERT_OK(pq_import_open(r, &io, &it, err, sizeof err));
  ASSERT_EQ_INT(pq_import_next(it, &row, err, sizeof err), 1);
  ASSERT_TRUE(row.id_len == strlen(vals[0]) && memcmp(row.id, vals[0], row.id_len) == 0);
  ASSERT_EQ_INT(pq_import_next(it, &row, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "row 1: id is null");
  pq_import_free(it);
  pq_reader_free(r);
  pq_buf_free(&f);
  pq_buf_free(&body);
  pq_buf_free(&lv);
  free_cols(cols, 3);
}

/* ------------------------------------------------------- damaged files */

static mem_t small_file(void) {
  pq_writer_options_t o;
  pq_writer_options_default(&o);
  o.dimension = 3;
  o.has_text = 1;
  o.rows_per_group = 4;
  mem_t m;
  write_rows(&o, 10, &m);
  return m;
}

/* Opens and imports everything; returns 0 or the first error. */
static int read_all(const uint8_t *p, size_t len, char *err, size_t errlen) {
  src_t s = {p, len};
  pq_reader_t *r;
  int rc = pq_reader_open(mem_read, &s, len, NULL, &r, err, errlen);
  if (rc) return rc;
  pq_import_t *it;
  pq_import_options_t io;
  pq_import_options_default(&io);
  io.dimension = 3;
  rc = pq_import_open(r, &io, &it, err, errlen);
  if (rc == 0) {
    pq_row_t row;
    while ((rc = pq_import_next(it, &row, err, errlen)) == 1) {
    }
    pq_import_free(it);
  }
  pq_reader_free(r);
  return rc;
}

static void test_every_truncation_is_refused(void) {
  mem_t m = small_file();
  char err[256];
  ASSERT_OK(read_all(m.b.data, m.b.len, err, sizeof err));
  for (size_t len = 0; len < m.b.len; len++) {
    int rc = read_all(m.b.data, len, err, sizeof err);
    if (rc >= 0) CHECK_FAIL("a file cut to %zu of %zu bytes was accepted", len, m.b.len);
  }
  pq_buf_free(&m.b);
}

static void test_random_byte_flips_never_crash(void) {
  mem_t m = small_file();
  uint8_t *copy = malloc(m.b.len);
  char err[256];
  int refused = 0;
  for (int trial = 0; trial < 3000; trial++) {
    memcpy(copy, m.b.data, m.b.len);
    int flips = 1 + (int)(rng() % 4);
    for (int k = 0; k < flips; k++) copy[rng() % m.b.len] ^= (uint8_t)(1 + rng() % 255);
    refused += read_all(copy, m.b.len, err, sizeof err) < 0;
  }
  ASSERT_GE(refused, 100); /* most flips hit checked structure */
  free(copy);
  pq_buf_free(&m.b);
}

static void test_clear_errors_for_foreign_damaged_and_mismatched_files(void) {
  char err[256];
  uint8_t csv[2000];
  memset(csv, 'x', sizeof csv);
  memcpy(csv, "id,vector\n", 10);
  ASSERT_EQ_INT(read_all(csv, sizeof csv, err, sizeof err), AKIDB_EFORMAT);
  ASSERT_STR_CONTAINS(err, "not a Parquet file: leading magic is 'id,v', expected 'PAR1'");
  memcpy(csv, "PAR1", 4);
  memcpy(csv + 1992, "\x40\xE2\x01\x00PAR1", 8); /* footer length 123456 */
  ASSERT_EQ_INT(read_all(csv, sizeof csv, err, sizeof err), AKIDB_ECORRUPT);
  ASSERT_STR_CONTAINS(err, "footer length 123456 exceeds the file size 2000");

  /* a damaged byte inside a zstd page: the frame checksum catches it */
  pq_writer_options_t o;
  pq_writer_options_default(&o);
  o.dimension = 64;
  mem_t m;
  write_rows(&o, 50, &m);
  src_t s = {m.b.data, m.b.len};
  pq_reader_t *r;
  ASSERT_OK(pq_reader_open(mem_read, &s, s.len, NULL, &r, err, sizeof err));
  pq_chunk_info_t ci;
  ASSERT_OK(pq_reader_chunk_info(r, 0, 1, &ci));
  pq_reader_free(r);
  m.b.data[ci.data_page_offset + ci.total_compressed_size / 2] ^= 0x10;
  ASSERT_EQ_INT(read_all(m.b.data, m.b.len, err, sizeof err), AKIDB_ECORRUPT);
  ASSERT_STR_CONTAINS(err, "column vector.list.element row group 0 page 0: zstd:");

  /* the collection's dimension differs from the file's */
  pq_buf_free(&m.b);
  o.dimension = 4;
  write_rows(&o, 5, &m);
  ASSERT_EQ_INT(read_all(m.b.data, m.b.len, err, sizeof err), AKIDB_EDIM);
  ASSERT_STR_CONTAINS(err, "row 0: vector has 4 values, the collection's dimension is 3");
  pq_buf_free(&m.b);
}

CHECK_MAIN(CHECK_CASE(test_thrift_compact_round_trip),
           CHECK_CASE(test_thrift_refuses_deep_nesting_and_overlong_lists),
           CHECK_CASE(test_rle_hybrid_matches_the_specification_examples),
           CHECK_CASE(test_rle_hybrid_round_trips_random_runs),
           CHECK_CASE(test_level_streams_read_and_count_runs),
           CHECK_CASE(test_delta_binary_packed_round_trip),
           CHECK_CASE(test_byte_stream_split_round_trip),
           CHECK_CASE(test_codecs_round_trip_and_refuse_damage),
           CHECK_CASE(test_round_trip_zero_rows), CHECK_CASE(test_round_trip_one_row),
           CHECK_CASE(test_round_trip_exactly_one_row_group),
           CHECK_CASE(test_round_trip_many_row_groups_and_pages),
           CHECK_CASE(test_round_trip_dimension_1_and_4096),
           CHECK_CASE(test_round_trip_every_codec),
           CHECK_CASE(test_footer_has_statistics_key_values_and_schema),
           CHECK_CASE(test_writer_refuses_bad_options_and_sticks_on_sink_failure),
           CHECK_CASE(test_reader_dictionary_page_and_bit_packed_levels),
           CHECK_CASE(test_reader_data_page_v2_with_delta_integers),
           CHECK_CASE(test_reader_delta_byte_array_rle_booleans_and_byte_stream_split),
           CHECK_CASE(test_import_names_null_ids_and_payloads_that_are_not_objects),
           CHECK_CASE(test_every_truncation_is_refused),
           CHECK_CASE(test_random_byte_flips_never_crash),
           CHECK_CASE(test_clear_errors_for_foreign_damaged_and_mismatched_files))
