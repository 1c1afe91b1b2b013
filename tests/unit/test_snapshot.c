/*
 * test_snapshot.c — collection snapshots (src/snapshot/) over the local
 * object store: a snapshot restores to exactly the collection's points
 * (ids, vectors bit for bit, payloads, texts; deleted points absent, points
 * indexed and pending alike), its manifest says what it holds, a corrupted
 * data object is refused by its checksum and nothing is restored from it,
 * deleting removes every object, and the manifest decoder refuses what is
 * not a manifest (wrong format, newer version, missing or bad fields)
 * naming the field.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "akidb/objstore.h"
#include "akidb/store.h"
#include "check.h"
#include "snapshot/snapshot.h"
#include "tmpdir.h"

#define DIM 12u
#ifdef AKIDB_TEST_SMALL
#define N 900u
#else
#define N 3000u
#endif

static void quiet_log(void *ctx, akidb_log_level_t level, const char *msg) {
  (void)ctx;
  if (level >= AKIDB_LOG_WARN && getenv("AKIDB_TEST_VERBOSE")) fprintf(stderr, "log: %s\n", msg);
}

static akidb_collection_t *open_c(const char *dir) {
  akidb_collection_options_t o;
  akidb_collection_options_default(&o, DIM, AKIDB_METRIC_L2);
  o.background = false;
  o.durability = AKIDB_DURABILITY_NONE;
  o.exact_below = 0;
  o.log = quiet_log;
  akidb_collection_t *c = NULL;
  char err[512] = "";
  int rc = akidb_collection_open(dir, &o, &c, NULL, err, sizeof err);
  if (rc) CHECK_FAIL("open %s: %d %s", dir, rc, err);
  return c;
}

static void vec_for(uint32_t i, float *out) {
  uint64_t z = i * 0x9E3779B97F4A7C15ull + 1;
  for (uint32_t d = 0; d < DIM; d++) {
    z ^= z >> 33;
    z *= 0xff51afd7ed558ccdull;
    out[d] = (float)(int64_t)(z % 20001) / 1000.0f - 10.0f;
  }
}

/* Points p0..p(N-1): every third has a text, every fifth no payload, every
 * eleventh (not fifth) the empty payload {}. */
static void fill(akidb_collection_t *c) {
  akidb_point_t pts[100];
  float vecs[100][DIM];
  char ids[100][16], pls[100][64], txt[100][32];
  for (uint32_t s = 0; s < N; s += 100) {
    for (uint32_t j = 0; j < 100; j++) {
      uint32_t i = s + j;
      snprintf(ids[j], sizeof ids[j], "p%u", i);
      if (i % 11 == 0)
        snprintf(pls[j], sizeof pls[j], "{}"); /* empty, but present */
      else
        snprintf(pls[j], sizeof pls[j], "{\"n\":%u,\"tag\":\"t\\u00e9%u\"}", i, i % 7);
      snprintf(txt[j], sizeof txt[j], "text of %u", i);
      vec_for(i, vecs[j]);
      pts[j] = (akidb_point_t){.id = ids[j], .id_len = strlen(ids[j]), .vector = vecs[j],
                               .payload = i % 5 ? pls[j] : NULL,
                               .payload_len = i % 5 ? strlen(pls[j]) : 0,
                               .text = i % 3 == 0 ? txt[j] : NULL,
                               .text_len = i % 3 == 0 ? strlen(txt[j]) : 0};
    }
    char err[256];
    ASSERT_OK(akidb_collection_upsert(c, pts, 100, err, sizeof err));
    if (s == N / 2) akidb_collection_index_pending(c, SIZE_MAX); /* half indexed, half pending */
  }
  const char *gone[2] = {"p7", "p2000"};
  size_t lens[2] = {2, 5}, deleted = 0;
  char err[256];
  ASSERT_OK(akidb_collection_delete(c, gone, lens, 2, &deleted, err, sizeof err));
}

static akidb_objstore_t *local_store(const char *root) {
  akidb_objstore_options_t o;
  akidb_objstore_options_default(&o);
  o.kind = "local";
  o.path = root;
  akidb_objstore_t *s = NULL;
  char err[512] = "";
  if (akidb_objstore_open(&o, &s, err, sizeof err)) CHECK_FAIL("objstore: %s", err);
  return s;
}

static akidb_collection_meta_t meta_of(void) {
  akidb_collection_meta_t m;
  memset(&m, 0, sizeof m);
  akidb_collection_meta_defaults(&m);
  akidb_uuid_v7(&m.id);
  snprintf(m.name, sizeof m.name, "docs");
  m.dimension = DIM;
  m.metric = AKIDB_METRIC_L2;
  snprintf(m.embedding_json, sizeof m.embedding_json, "{\"provider\":\"builtin\"}");
  return m;
}

/* Every point of `a` is in `b` with the same vector, payload and text. */
static void assert_same_points(akidb_collection_t *a, akidb_collection_t *b) {
  ASSERT_EQ_U64(akidb_collection_count(a), akidb_collection_count(b));
  for (uint32_t i = 0; i < N; i++) {
    char id[16];
    snprintf(id, sizeof id, "p%u", i);
    akidb_point_out_t x, y;
    int ra = akidb_collection_get(a, id, strlen(id), true, &x);
    int rb = akidb_collection_get(b, id, strlen(id), true, &y);
    ASSERT_EQ_INT(ra, rb);
    if (ra) continue;
    if (memcmp(x.vector, y.vector, DIM * sizeof(float)) != 0) CHECK_FAIL("%s: vectors differ", id);
    if (x.payload_len != y.payload_len)
      CHECK_FAIL("%s: payload %.*s vs %.*s", id, (int)x.payload_len, x.payload ? x.payload : "",
                 (int)y.payload_len, y.payload ? y.payload : "");
    ASSERT_TRUE((!x.payload && !y.payload) || memcmp(x.payload, y.payload, x.payload_len) == 0);
    ASSERT_EQ_INT(x.text_len, y.text_len);
    ASSERT_TRUE((!x.text && !y.text) || memcmp(x.text, y.text, x.text_len) == 0);
    akidb_point_out_clear(&x);
    akidb_point_out_clear(&y);
  }
}

static void test_snapshot_restores_exactly_the_collection(void) {
  char dir[4200], root[4200], copy[4200], err[512] = "";
  tmpdir_path(dir, sizeof dir, "akidb-snapshot", "source");
  tmpdir_path(root, sizeof root, "akidb-snapshot", "objects");
  tmpdir_path(copy, sizeof copy, "akidb-snapshot", "restored");
  akidb_collection_t *c = open_c(dir);
  fill(c);
  akidb_collection_stats_t st;
  akidb_collection_stats(c, &st);
  akidb_objstore_t *store = local_store(root);
  akidb_collection_meta_t meta = meta_of();
  snap_source_t src = {.meta = &meta, .tenant = "acme", .database = "main",
                       .snapshot_id = "0190a0b0-0000-7000-8000-000000000001",
                       .prefix = "snapshots/acme/s1"};
  snap_manifest_t m;
  uint64_t bytes = 0;
  if (snap_write(store, c, &src, &m, &bytes, err, sizeof err)) CHECK_FAIL("snap_write: %s", err);
  ASSERT_EQ_U64(m.points, N - 2);
  ASSERT_EQ_U64(m.log_seq, st.last_seq);
  ASSERT_TRUE(bytes > m.files[0].size && m.files[0].size > 1000);

  snap_manifest_t back;
  ASSERT_OK(snap_read_manifest(store, "snapshots/acme/s1", &back, err, sizeof err));
  ASSERT_EQ_U64(back.points, N - 2);
  ASSERT_EQ_U64(back.files[0].crc32c, m.files[0].crc32c);
  ASSERT_TRUE(strcmp(back.embedding_json, "{\"provider\":\"builtin\"}") == 0);
  ASSERT_TRUE(strcmp(back.collection, "docs") == 0 && back.dimension == DIM);

  akidb_collection_t *r = open_c(copy);
  uint64_t points = 0;
  if (snap_restore(store, "snapshots/acme/s1", &back, r, &points, err, sizeof err))
    CHECK_FAIL("snap_restore: %s", err);
  ASSERT_EQ_U64(points, N - 2);
  assert_same_points(c, r);

  ASSERT_OK(snap_delete(store, "snapshots/acme/s1", err, sizeof err));
  ASSERT_EQ_INT(snap_read_manifest(store, "snapshots/acme/s1", &back, err, sizeof err),
                AKIDB_ENOTFOUND);
  ASSERT_OK(akidb_collection_close(r, err, sizeof err));
  ASSERT_OK(akidb_collection_close(c, err, sizeof err));
  akidb_objstore_close(store);
}

/* Flips one byte of the stored data object: the restore fails on its
 * checksum (the whole-object check beside the import), naming the file,
 * whatever the import made of the damaged page. */
static void test_corrupt_snapshot_is_refused(void) {
  char dir[4200], root[4200], copy[4200], path[4400], err[512] = "";
  tmpdir_path(dir, sizeof dir, "akidb-snapshot", "c-source");
  tmpdir_path(root, sizeof root, "akidb-snapshot", "c-objects");
  tmpdir_path(copy, sizeof copy, "akidb-snapshot", "c-restored");
  akidb_collection_t *c = open_c(dir);
  fill(c);
  akidb_objstore_t *store = local_store(root);
  akidb_collection_meta_t meta = meta_of();
  snap_source_t src = {.meta = &meta, .tenant = "acme", .database = "main",
                       .snapshot_id = "0190a0b0-0000-7000-8000-000000000002", .prefix = "s2"};
  snap_manifest_t m;
  if (snap_write(store, c, &src, &m, NULL, err, sizeof err)) CHECK_FAIL("snap_write: %s", err);
  snprintf(path, sizeof path, "%s/s2/data.parquet", root);
  int fd = open(path, O_RDWR);
  ASSERT_TRUE(fd >= 0);
  char b;
  off_t at = 8192 + 5000; /* past the local store's header, inside the data */
  ASSERT_EQ_INT(pread(fd, &b, 1, at), 1);
  b ^= 0x20;
  ASSERT_EQ_INT(pwrite(fd, &b, 1, at), 1);
  close(fd);
  akidb_collection_t *r = open_c(copy);
  int rc = snap_restore(store, "s2", &m, r, NULL, err, sizeof err);
  ASSERT_EQ_INT(rc, AKIDB_ECORRUPT);
  ASSERT_STR_CONTAINS(err, "data.parquet");
  ASSERT_STR_CONTAINS(err, "checksum");
  ASSERT_OK(akidb_collection_close(r, err, sizeof err));
  ASSERT_OK(akidb_collection_close(c, err, sizeof err));
  akidb_objstore_close(store);
}

static const char GOOD[] =
    "{\"format\":\"akidb-snapshot\",\"format_version\":1,"
    "\"snapshot_id\":\"0190a0b0-0000-7000-8000-000000000003\","
    "\"created_at\":\"2026-12-04T00:00:00.000Z\",\"akidb_version\":\"2.0.0\","
    "\"collection\":{\"id\":\"0190a0b0-0000-7000-8000-000000000004\",\"tenant\":\"acme\","
    "\"database\":\"main\",\"name\":\"docs\",\"dimension\":8,\"metric\":\"cosine\","
    "\"hnsw\":{\"m\":16,\"ef_construction\":200,\"ef_search\":64},\"embedding\":null},"
    "\"log_seq\":42,\"points\":10,"
    "\"files\":[{\"name\":\"data.parquet\",\"format\":\"parquet\",\"rows\":10,\"size\":1234,"
    "\"crc32c\":\"0a0b0c0d\"}]}";

/* GOOD with `from` replaced by `to`, decoded: returns the code. */
static int decode_changed(const char *from, const char *to, char *err, size_t errlen) {
  char text[4096];
  const char *at = strstr(GOOD, from);
  if (!at) CHECK_FAIL("'%s' is not in the manifest", from);
  snprintf(text, sizeof text, "%.*s%s%s", (int)(at - GOOD), GOOD, to, at + strlen(from));
  snap_manifest_t m;
  return snap_manifest_decode(text, strlen(text), &m, err, errlen);
}

static void test_manifest_decoder_names_what_is_wrong(void) {
  snap_manifest_t m, again;
  char err[512] = "";
  ASSERT_OK(snap_manifest_decode(GOOD, strlen(GOOD), &m, err, sizeof err));
  ASSERT_EQ_U64(m.files[0].crc32c, 0x0a0b0c0d);
  ASSERT_EQ_U64(m.log_seq, 42);
  char *text = snap_manifest_encode(&m);
  ASSERT_TRUE(text != NULL);
  ASSERT_OK(snap_manifest_decode(text, strlen(text), &again, err, sizeof err));
  ASSERT_TRUE(memcmp(&m, &again, sizeof m) == 0); /* encode ∘ decode is the identity */
  free(text);
  struct {
    const char *from, *to, *says;
    int code;
  } cases[] = {
      {"akidb-snapshot", "other", "'format'", AKIDB_EFORMAT},
      {"\"format_version\":1", "\"format_version\":2", "newer AkiDB", AKIDB_EVERSION},
      {"\"dimension\":8", "\"dimension\":0", "'collection.dimension' is 0", AKIDB_EFORMAT},
      {"\"metric\":\"cosine\"", "\"metric\":\"hamming\"", "'collection.metric'", AKIDB_EFORMAT},
      {"\"name\":\"data.parquet\"", "\"name\":\"../etc/passwd\"", "'files[0].name'",
       AKIDB_EFORMAT},
      {"\"crc32c\":\"0a0b0c0d\"", "\"crc32c\":\"xyz\"", "'files[0].crc32c'", AKIDB_EFORMAT},
      {"\"points\":10,", "", "'points'", AKIDB_EFORMAT},
      {"\"files\":[", "\"files\":7,\"x\":[", "'files'", AKIDB_EFORMAT},
      {"\"name\":\"docs\"", "\"name\":\"has space\"", "'collection'", AKIDB_EFORMAT},
      {"{\"format\"", "[{\"format\"", "not valid JSON", AKIDB_EFORMAT},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int rc = decode_changed(cases[i].from, cases[i].to, err, sizeof err);
    if (rc != cases[i].code) CHECK_FAIL("case %zu: %d (%s), expected %d", i, rc, err, cases[i].code);
    ASSERT_STR_CONTAINS(err, cases[i].says);
  }
}

CHECK_MAIN(CHECK_CASE(test_snapshot_restores_exactly_the_collection),
           CHECK_CASE(test_corrupt_snapshot_is_refused),
           CHECK_CASE(test_manifest_decoder_names_what_is_wrong))
