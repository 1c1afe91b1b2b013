/*
 * tests/tools/pq_tool.c — drives src/parquet/ from the command line for the
 * interoperability tests (tests/integration/test_parquet_interop.py) and
 * for measuring throughput.
 *
 *   pq_tool write OUT.parquet --rows N --dim D [--text] [--group G]
 *           [--codec zstd|snappy|gzip|none] [--level L] [--seed S]
 *           [--expected OUT.jsonl] [--kv KEY=VALUE]...
 *       writes deterministic rows (ids with unicode, vectors with -0.0,
 *       subnormals and large values, payloads and texts with nulls and
 *       empty strings) and, with --expected, the same rows as JSON lines
 *       {"id", "vec": [float bits as u32], "payload", "text"}
 *   pq_tool import FILE [--dim D] [--id-col C] [--vector-col C]
 *           [--text-col C] [--payload-col C] [--no-extra]
 *       prints each imported row as a JSON line {"row", "id", "vec" (bits),
 *       "payload" (the payload JSON text or null), "text"}; on error prints
 *       the message on stderr and exits 2; with --count only the number of
 *       rows, the time and the rate (MB/s of float32 vectors) are printed
 *   pq_tool info FILE
 *       prints the schema and the column chunks' footer facts as JSON
 *   pq_tool bench ROWS DIM [--codec C] [--level L] [--out FILE | --null]
 *       writer throughput (to memory, to FILE, or to a sink that only
 *       counts), then (memory only) import throughput
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "parquet/parquet.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int file_sink(void *ctx, const void *buf, size_t len) {
  return fwrite(buf, 1, len, ctx) == len ? 0 : -1;
}

typedef struct {
  uint8_t *data;
  size_t len, cap;
  int keep; /* 0: count only */
} mem_sink_t;

static int mem_sink(void *ctx, const void *buf, size_t len) {
  mem_sink_t *m = ctx;
  if (m->keep) {
    if (m->len + len > m->cap) {
      size_t cap = m->cap ? m->cap : 1 << 20;
      while (cap < m->len + len) cap *= 2;
      uint8_t *p = realloc(m->data, cap);
      if (!p) return -1;
      m->data = p;
      m->cap = cap;
    }
    memcpy(m->data + m->len, buf, len);
  }
  m->len += len;
  return 0;
}

static int mem_read(void *ctx, uint64_t off, void *buf, size_t len) {
  mem_sink_t *m = ctx;
  if (off > m->len || len > m->len - off) return -1;
  memcpy(buf, m->data + off, len);
  return 0;
}

static int fd_read(void *ctx, uint64_t off, void *buf, size_t len) {
  int fd = *(int *)ctx;
  while (len) {
    ssize_t n = pread(fd, buf, len, (off_t)off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    buf = (char *)buf + n;
    len -= (size_t)n;
    off += (uint64_t)n;
  }
  return 0;
}

/* ------------------------------------------------------------ generator */

static uint64_t rng_state;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static float gen_float(uint64_t i, uint32_t k) {
  uint64_t r = rng();
  switch ((i * 31 + k) % 97) {
  case 0: return -0.0f;
  case 1: return 1.0e-40f; /* subnormal */
  case 2: return 3.0e38f;
  case 3: return -1.5e-30f;
  default: return (float)((double)(r >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
  }
}

static void gen_row(uint64_t i, uint32_t dim, float *vec, char *id, size_t idcap,
                    char *payload, size_t pcap, int *has_payload, char *text, size_t tcap,
                    int *has_text) {
  static const char *uni[] = {"", "-é", "-ünïcødé-✓", "-日本語", "-😀"};
  snprintf(id, idcap, "id-%06" PRIu64 "%s", i, uni[i % 5]);
  for (uint32_t k = 0; k < dim; k++) vec[k] = gen_float(i, k);
  *has_payload = i % 5 != 4;
  if (i % 5 == 3) snprintf(payload, pcap, "{}");
  else
    snprintf(payload, pcap, "{\"i\":%" PRIu64 ",\"tag\":\"t%d\",\"s\":\"ünï %s\",\"ok\":%s}", i,
             (int)(i % 3), uni[i % 5], i % 2 ? "true" : "false");
  *has_text = i % 4 != 1;
  if (i % 4 == 2) text[0] = '\0';
  else snprintf(text, tcap, "text %" PRIu64 " ünï%s", i, uni[(i + 1) % 5]);
}

static const char *arg(int argc, char **argv, const char *name) {
  for (int i = 0; i < argc - 1; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return NULL;
}

static int flag(int argc, char **argv, const char *name) {
  for (int i = 0; i < argc; i++)
    if (strcmp(argv[i], name) == 0) return 1;
  return 0;
}

static int parse_codec(const char *s) {
  if (!s || strcmp(s, "zstd") == 0) return PQ_CODEC_ZSTD;
  if (strcmp(s, "snappy") == 0) return PQ_CODEC_SNAPPY;
  if (strcmp(s, "gzip") == 0) return PQ_CODEC_GZIP;
  if (strcmp(s, "none") == 0) return PQ_CODEC_UNCOMPRESSED;
  fprintf(stderr, "unknown codec %s\n", s);
  exit(2);
}

static json_t *bits_array(const float *v, uint32_t dim) {
  json_t *a = json_array();
  for (uint32_t k = 0; k < dim; k++) {
    uint32_t b;
    memcpy(&b, &v[k], 4);
    json_array_append_new(a, json_integer(b));
  }
  return a;
}

static int cmd_write(int argc, char **argv) {
  const char *out = argv[2];
  uint64_t rows = strtoull(arg(argc, argv, "--rows") ? arg(argc, argv, "--rows") : "10", 0, 10);
  pq_writer_options_t o;
  pq_writer_options_default(&o);
  o.dimension = (uint32_t)atoi(arg(argc, argv, "--dim") ? arg(argc, argv, "--dim") : "4");
  o.has_text = flag(argc, argv, "--text");
  if (arg(argc, argv, "--group")) o.rows_per_group = (uint32_t)atoi(arg(argc, argv, "--group"));
  if (arg(argc, argv, "--page")) o.page_bytes = (size_t)atol(arg(argc, argv, "--page"));
  o.codec = parse_codec(arg(argc, argv, "--codec"));
  if (arg(argc, argv, "--level")) o.zstd_level = atoi(arg(argc, argv, "--level"));
  rng_state = 0x9E3779B97F4A7C15ull ^ strtoull(arg(argc, argv, "--seed") ? arg(argc, argv, "--seed") : "1", 0, 10);
  pq_kv_t kv[16];
  size_t nkv = 0;
  static char kvbuf[16][256];
  for (int i = 0; i < argc - 1 && nkv < 16; i++) {
    if (strcmp(argv[i], "--kv") != 0) continue;
    snprintf(kvbuf[nkv], sizeof kvbuf[nkv], "%s", argv[i + 1]);
    char *eq = strchr(kvbuf[nkv], '=');
    if (eq) *eq = '\0';
    kv[nkv].key = kvbuf[nkv];
    kv[nkv].value = eq ? eq + 1 : NULL;
    nkv++;
  }
  o.kv = kv;
  o.kv_count = nkv;
  FILE *f = fopen(out, "wb");
  if (!f) return perror(out), 2;
  const char *exp_path = arg(argc, argv, "--expected");
  FILE *ef = exp_path ? fopen(exp_path, "w") : NULL;
  char err[512];
  pq_writer_t *w;
  if (pq_writer_open(&o, file_sink, f, &w, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  float *vec = malloc(o.dimension * sizeof(float));
  char id[64], payload[256], text[256];
  int hp, ht;
  for (uint64_t i = 0; i < rows; i++) {
    gen_row(i, o.dimension, vec, id, sizeof id, payload, sizeof payload, &hp, text, sizeof text, &ht);
    if (pq_writer_add_row(w, id, strlen(id), vec, hp ? payload : NULL, strlen(payload),
                          ht ? text : NULL, strlen(text), err, sizeof err)) {
      fprintf(stderr, "%s\n", err);
      return 2;
    }
    if (ef) {
      json_t *j = json_object();
      json_object_set_new(j, "id", json_string(id));
      json_object_set_new(j, "vec", bits_array(vec, o.dimension));
      json_object_set_new(j, "payload", hp ? json_string(payload) : json_null());
      json_object_set_new(j, "text", o.has_text && ht ? json_string(text) : json_null());
      char *s = json_dumps(j, JSON_COMPACT);
      fprintf(ef, "%s\n", s);
      free(s);
      json_decref(j);
    }
  }
  pq_writer_stats_t st;
  if (pq_writer_finish(w, &st, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  pq_writer_free(w);
  free(vec);
  if (ef) fclose(ef);
  if (fclose(f)) return perror(out), 2;
  fprintf(stderr, "wrote %" PRIu64 " rows in %" PRIu64 " row groups, %" PRIu64 " bytes\n",
          st.rows, st.row_groups, st.bytes);
  return 0;
}

static int open_file(const char *path, int *fd, pq_reader_t **r) {
  *fd = open(path, O_RDONLY);
  if (*fd < 0) return perror(path), 2;
  struct stat sb;
  fstat(*fd, &sb);
  char err[512];
  if (pq_reader_open(fd_read, fd, (uint64_t)sb.st_size, NULL, r, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    close(*fd);
    return 2;
  }
  return 0;
}

static int cmd_import(int argc, char **argv) {
  int fd;
  pq_reader_t *r;
  if (open_file(argv[2], &fd, &r)) return 2;
  pq_import_options_t o;
  pq_import_options_default(&o);
  if (arg(argc, argv, "--dim")) o.dimension = (uint32_t)atoi(arg(argc, argv, "--dim"));
  o.id_column = arg(argc, argv, "--id-col");
  o.vector_column = arg(argc, argv, "--vector-col");
  o.text_column = arg(argc, argv, "--text-col");
  o.payload_column = arg(argc, argv, "--payload-col");
  o.extra_columns = !flag(argc, argv, "--no-extra");
  char err[512];
  pq_import_t *it;
  if (pq_import_open(r, &o, &it, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    pq_reader_free(r);
    close(fd);
    return 2;
  }
  pq_row_t row;
  int rc;
  int count_only = flag(argc, argv, "--count");
  uint64_t rows = 0, floats = 0;
  double t0 = now_s();
  while ((rc = pq_import_next(it, &row, err, sizeof err)) == 1) {
    rows++;
    floats += row.dimension;
    if (count_only) continue;
    json_t *j = json_object();
    json_object_set_new(j, "row", json_integer((json_int_t)row.row));
    json_object_set_new(j, "id", json_stringn(row.id, row.id_len));
    json_object_set_new(j, "vec", bits_array(row.vector, row.dimension));
    json_object_set_new(j, "payload", row.payload ? json_string(row.payload) : json_null());
    json_object_set_new(j, "text", row.text ? json_stringn(row.text, row.text_len) : json_null());
    char *s = json_dumps(j, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(j);
  }
  if (rc < 0) fprintf(stderr, "%s\n", err);
  double t = now_s() - t0;
  if (count_only && rc == 0)
    printf("import %" PRIu64 " rows: %.3f s, %.0f MB/s of float32 vectors\n", rows, t,
           (double)floats * 4 / 1e6 / t);
  pq_import_free(it);
  pq_reader_free(r);
  close(fd);
  return rc < 0 ? 2 : 0;
}

static json_t *hex_json(const uint8_t *p, size_t n) {
  if (!p) return json_null();
  char *s = malloc(2 * n + 1);
  for (size_t i = 0; i < n; i++) sprintf(s + 2 * i, "%02x", p[i]);
  s[2 * n] = '\0';
  json_t *j = json_string(s);
  free(s);
  return j;
}

static int cmd_info(int argc, char **argv) {
  (void)argc;
  int fd;
  pq_reader_t *r;
  if (open_file(argv[2], &fd, &r)) return 2;
  json_t *j = json_object();
  json_object_set_new(j, "num_rows", json_integer((json_int_t)pq_reader_num_rows(r)));
  json_object_set_new(j, "row_groups", json_integer((json_int_t)pq_reader_num_row_groups(r)));
  const char *cb = pq_reader_created_by(r);
  json_object_set_new(j, "created_by", cb ? json_string(cb) : json_null());
  size_t nf;
  const pq_field_t *f = pq_reader_fields(r, &nf);
  json_t *fields = json_array();
  for (size_t i = 0; i < nf; i++)
    json_array_append_new(fields, json_pack("{s:s,s:i,s:s,s:s,s:b}", "name", f[i].name, "kind",
                                            f[i].kind, "type", pq_type_name(f[i].type),
                                            "logical", f[i].logical, "nullable", f[i].nullable));
  json_object_set_new(j, "fields", fields);
  json_t *chunks = json_array();
  for (size_t g = 0; g < pq_reader_num_row_groups(r); g++)
    for (size_t c = 0; c < pq_reader_num_columns(r); c++) {
      pq_chunk_info_t ci;
      pq_reader_chunk_info(r, g, c, &ci);
      json_t *o = json_pack("{s:i,s:s,s:s,s:I}", "rg", (int)g, "path", ci.path, "codec",
                            pq_codec_name(ci.codec), "num_values", (json_int_t)ci.num_values);
      json_object_set_new(o, "null_count", ci.has_null_count ? json_integer(ci.null_count) : json_null());
      json_object_set_new(o, "min", hex_json(ci.min_value, ci.min_len));
      json_object_set_new(o, "max", hex_json(ci.max_value, ci.max_len));
      json_array_append_new(chunks, o);
    }
  json_object_set_new(j, "chunks", chunks);
  char *s = json_dumps(j, JSON_COMPACT);
  printf("%s\n", s);
  free(s);
  json_decref(j);
  pq_reader_free(r);
  close(fd);
  return 0;
}

static int cmd_bench(int argc, char **argv) {
  uint64_t rows = strtoull(argv[2], 0, 10);
  uint32_t dim = (uint32_t)atoi(argv[3]);
  pq_writer_options_t o;
  pq_writer_options_default(&o);
  o.dimension = dim;
  o.codec = parse_codec(arg(argc, argv, "--codec"));
  if (arg(argc, argv, "--level")) o.zstd_level = atoi(arg(argc, argv, "--level"));
  const char *out = arg(argc, argv, "--out");
  /* Random-ish data generated up front so only the writer is timed. */
  rng_state = 42;
  size_t n = (size_t)rows * dim;
  float *vecs = malloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++) vecs[i] = (float)((double)(rng() >> 40) / (1 << 24) - 0.5);
  char id[32], payload[64];
  mem_sink_t m = {0};
  m.keep = !flag(argc, argv, "--null"); /* --null: count the bytes only */
  FILE *f = out ? fopen(out, "wb") : NULL;
  char err[512];
  pq_writer_t *w;
  double t0 = now_s();
  if (pq_writer_open(&o, f ? file_sink : mem_sink, f ? (void *)f : (void *)&m, &w, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  for (uint64_t i = 0; i < rows; i++) {
    int il = snprintf(id, sizeof id, "point-%08" PRIu64, i);
    int pl = snprintf(payload, sizeof payload, "{\"n\":%" PRIu64 "}", i);
    if (pq_writer_add_row(w, id, (size_t)il, vecs + i * dim, payload, (size_t)pl, NULL, 0, err,
                          sizeof err)) {
      fprintf(stderr, "%s\n", err);
      return 2;
    }
  }
  pq_writer_stats_t st;
  if (pq_writer_finish(w, &st, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  if (f && fclose(f)) return perror(out), 2;
  double t1 = now_s();
  pq_writer_free(w);
  double raw = (double)n * 4 / 1e6;
  printf("write %" PRIu64 " x %u (%s, level %d): %.3f s, %.0f MB/s of raw vectors, file %.1f MB\n",
         rows, dim, pq_codec_name(o.codec), o.zstd_level, t1 - t0, raw / (t1 - t0),
         (double)st.bytes / 1e6);
  if (f || !m.keep) {
    free(vecs);
    return 0;
  }
  pq_reader_t *r;
  pq_import_t *it;
  t0 = now_s();
  if (pq_reader_open(mem_read, &m, m.len, NULL, &r, err, sizeof err) ||
      pq_import_open(r, NULL, &it, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  pq_row_t row;
  int rc;
  uint64_t got = 0, bad = 0;
  while ((rc = pq_import_next(it, &row, err, sizeof err)) == 1) {
    bad += memcmp(row.vector, vecs + got * dim, dim * sizeof(float)) != 0;
    got++;
  }
  t1 = now_s();
  if (rc < 0) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  printf("import %" PRIu64 " rows: %.3f s, %.0f MB/s of raw vectors, %" PRIu64 " mismatches\n",
         got, t1 - t0, raw / (t1 - t0), bad);
  pq_import_free(it);
  pq_reader_free(r);
  free(m.data);
  free(vecs);
  return bad || got != rows;
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "write") == 0) return cmd_write(argc, argv);
  if (argc >= 3 && strcmp(argv[1], "import") == 0) return cmd_import(argc, argv);
  if (argc >= 3 && strcmp(argv[1], "info") == 0) return cmd_info(argc, argv);
  if (argc >= 4 && strcmp(argv[1], "bench") == 0) return cmd_bench(argc, argv);
  fprintf(stderr, "usage: pq_tool write|import|info FILE ... | bench ROWS DIM (see the source)\n");
  return 2;
}
