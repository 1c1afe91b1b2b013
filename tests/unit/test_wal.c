/*
 * test_wal.c — the write-ahead log (src/store/wal.c): framing and replay
 * (same records, same seqs, same order; after_seq; seq continuity across
 * reopen and min_next_seq), torn tails at every byte of the last group,
 * zero-filled tails and torn groups (dropped whole, reported, file cut so
 * later appends work), bit flips (middle or closed segment → ECORRUPT with
 * file and offset; last record → torn tail), rollover and removal, sticky
 * write and sync failures (injected through the test hooks), foreign and
 * future-version segments, the sync policies, and logs written by one CRC
 * implementation read by the other. Each test works in its own directory
 * under a mkdtemp directory removed at exit.
 *
 * The byte layout used to cut and damage files mirrors wal.c's format
 * comment: a 40-byte segment header, then records of a 24-byte header and
 * the payload padded to a multiple of 8.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "akidb/errors.h"
#include "check.h"
#include "tmpdir.h"
#include "store/crc32c.h"
#include "store/wal.h"

#define SEG_HEADER 40u
#define FRAME_HEADER 24u

#ifdef AKIDB_TEST_SMALL
#define SCALE 1
#else
#define SCALE 3
#endif

static uint64_t frame_bytes(size_t len) { return FRAME_HEADER + ((len + 7) & ~(size_t)7); }

/* ------------------------------------------------------ temp directories -- */

/* A fresh, not yet existing directory path under the temporary root (the
 * log creates it). */
static void new_dir(char *out, size_t n, const char *name) {
  tmpdir_path(out, n, "akidb-test-wal", name);
}

/* -------------------------------------------------------- file helpers -- */

static void seg_file(char *out, size_t n, const char *dir, uint64_t first_seq) {
  snprintf(out, n, "%s/%020llu.wal", dir, (unsigned long long)first_seq);
}

static uint64_t file_size(const char *path) {
  struct stat sb;
  if (stat(path, &sb) != 0) CHECK_FAIL("stat %s: %s", path, strerror(errno));
  return (uint64_t)sb.st_size;
}

static int file_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static uint8_t *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) CHECK_FAIL("cannot open %s: %s", path, strerror(errno));
  size_t n = (size_t)file_size(path);
  uint8_t *buf = malloc(n ? n : 1);
  ASSERT_TRUE(buf != NULL);
  ASSERT_EQ_U64(fread(buf, 1, n, f), n);
  fclose(f);
  *len = n;
  return buf;
}

static void write_all(const char *path, const void *buf, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) CHECK_FAIL("cannot create %s: %s", path, strerror(errno));
  ASSERT_EQ_U64(fwrite(buf, 1, len, f), len);
  ASSERT_EQ_INT(fclose(f), 0);
}

static void append_bytes(const char *path, const void *buf, size_t len) {
  FILE *f = fopen(path, "ab");
  if (!f) CHECK_FAIL("cannot open %s: %s", path, strerror(errno));
  ASSERT_EQ_U64(fwrite(buf, 1, len, f), len);
  ASSERT_EQ_INT(fclose(f), 0);
}

static void flip_bit(const char *path, uint64_t offset, int bit) {
  size_t n;
  uint8_t *buf = read_all(path, &n);
  ASSERT_TRUE(offset < n);
  buf[offset] ^= (uint8_t)(1u << bit);
  write_all(path, buf, n);
  free(buf);
}

/* Sorted first seqs of the segment files in `dir`; returns the count. */
static size_t list_segments(const char *dir, uint64_t *seqs, size_t cap) {
  DIR *d = opendir(dir);
  ASSERT_TRUE(d != NULL);
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t l = strlen(e->d_name);
    if (l != 24 || strcmp(e->d_name + 20, ".wal") != 0) continue;
    ASSERT_TRUE(n < cap);
    seqs[n++] = strtoull(e->d_name, NULL, 10);
  }
  closedir(d);
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && seqs[j - 1] > seqs[j]; j--) {
      uint64_t t = seqs[j];
      seqs[j] = seqs[j - 1];
      seqs[j - 1] = t;
    }
  return n;
}

static uint64_t dir_bytes(const char *dir) {
  uint64_t seqs[512], total = 0;
  size_t n = list_segments(dir, seqs, 512);
  char path[4200];
  for (size_t i = 0; i < n; i++) {
    seg_file(path, sizeof path, dir, seqs[i]);
    total += file_size(path);
  }
  return total;
}

/* ------------------------------------------------------- record model -- */

typedef struct {
  uint64_t seq;
  uint8_t type;
  size_t len;
  uint8_t *data;
} rec_t;

typedef struct {
  rec_t *v;
  size_t n, cap;
} recs_t;

static void recs_push(recs_t *r, uint64_t seq, uint8_t type, const void *data, size_t len) {
  if (r->n == r->cap) {
    r->cap = r->cap ? 2 * r->cap : 64;
    r->v = realloc(r->v, r->cap * sizeof *r->v);
    ASSERT_TRUE(r->v != NULL);
  }
  rec_t *x = &r->v[r->n++];
  x->seq = seq;
  x->type = type;
  x->len = len;
  x->data = malloc(len ? len : 1);
  ASSERT_TRUE(x->data != NULL);
  if (len) memcpy(x->data, data, len);
}

static void recs_free(recs_t *r) {
  for (size_t i = 0; i < r->n; i++) free(r->v[i].data);
  free(r->v);
  memset(r, 0, sizeof *r);
}

/* Keeps the first n records. */
static void recs_cut(recs_t *r, size_t n) {
  for (size_t i = n; i < r->n; i++) free(r->v[i].data);
  r->n = n;
}

static void fill_payload(uint8_t *p, size_t len, uint64_t key) {
  uint64_t s = key * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < len; i++) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    p[i] = (uint8_t)s;
  }
}

static const char *err_name(int rc) { return akidb_err_name(rc); }

/* Appends one group of `n` records of lengths lens[i] (types and payloads
 * derived from `key`) and adds them to the model. */
static void append_group(wal_t *w, recs_t *model, size_t n, const size_t *lens, uint64_t key) {
  wal_record_t recs[64];
  uint8_t *bufs[64];
  ASSERT_TRUE(n >= 1 && n <= 64);
  for (size_t i = 0; i < n; i++) {
    bufs[i] = malloc(lens[i] ? lens[i] : 1);
    ASSERT_TRUE(bufs[i] != NULL);
    fill_payload(bufs[i], lens[i], key * 64 + i);
    recs[i] = (wal_record_t){
        .type = (uint8_t)(1 + (key * 31 + i) % 255), .data = bufs[i], .len = lens[i]};
  }
  uint64_t first = 0, last = 0, want = wal_last_seq(w) + 1;
  char err[512] = "";
  int rc = wal_append(w, recs, n, &first, &last, err, sizeof err);
  if (rc != AKIDB_OK) CHECK_FAIL("wal_append = %s: %s", err_name(rc), err);
  ASSERT_EQ_U64(first, want);
  ASSERT_EQ_U64(last, want + n - 1);
  ASSERT_EQ_U64(wal_last_seq(w), last);
  for (size_t i = 0; i < n; i++) {
    recs_push(model, first + i, recs[i].type, bufs[i], lens[i]);
    free(bufs[i]);
  }
}

/* A group of n records with lengths spread over 0..max_len. */
static void append_varied(wal_t *w, recs_t *model, size_t n, size_t max_len, uint64_t key) {
  size_t lens[64];
  for (size_t i = 0; i < n; i++) lens[i] = (size_t)((key * 7919 + i * 104729) % (max_len + 1));
  append_group(w, model, n, lens, key);
}

/* Appends `groups` groups of 1..8 records of up to 300 bytes. */
static void append_many(wal_t *w, recs_t *model, size_t groups, uint64_t key0) {
  for (size_t g = 0; g < groups; g++) append_varied(w, model, 1 + (key0 + g) % 8, 300, key0 + g);
}

static int collect_fn(void *ctx, uint64_t seq, uint8_t type, const void *data, size_t len) {
  if ((uintptr_t)data % 8 != 0)
    CHECK_FAIL("record %llu: data is not 8-byte aligned", (unsigned long long)seq);
  recs_push(ctx, seq, type, data, len);
  return 0;
}

static void replay_ok(wal_t *w, uint64_t after, recs_t *out) {
  char err[512] = "";
  int rc = wal_replay(w, after, collect_fn, out, err, sizeof err);
  if (rc != AKIDB_OK)
    CHECK_FAIL("wal_replay after %llu = %s: %s", (unsigned long long)after, err_name(rc), err);
}

/* `got` holds exactly the model's records with seq > after. */
static void expect_same_records(const recs_t *got, uint64_t after, const recs_t *model) {
  size_t k = 0;
  while (k < model->n && model->v[k].seq <= after) k++;
  if (got->n != model->n - k)
    CHECK_FAIL("replay after %llu gave %zu records, expected %zu", (unsigned long long)after,
               got->n, model->n - k);
  for (size_t i = 0; i < got->n; i++) {
    const rec_t *a = &got->v[i], *b = &model->v[k + i];
    if (a->seq != b->seq || a->type != b->type || a->len != b->len ||
        memcmp(a->data, b->data, a->len) != 0)
      CHECK_FAIL("replay record %zu: seq %llu type %u len %zu, expected seq %llu type %u len %zu%s",
                 i, (unsigned long long)a->seq, a->type, a->len, (unsigned long long)b->seq,
                 b->type, b->len, a->len == b->len ? " (payload differs)" : "");
  }
}

/* The replay after `after` yields exactly the model's records above it. */
static void expect_replay(wal_t *w, uint64_t after, const recs_t *model) {
  recs_t got = {0};
  replay_ok(w, after, &got);
  expect_same_records(&got, after, model);
  recs_free(&got);
}

static wal_options_t opts(wal_sync_t sync, uint64_t segment_bytes) {
  return (wal_options_t){.sync = sync, .segment_bytes = segment_bytes};
}

static wal_t *open_ok(const char *dir, const wal_options_t *o, wal_open_stats_t *st) {
  wal_t *w = NULL;
  char err[512] = "";
  int rc = wal_open(dir, o, &w, st, err, sizeof err);
  if (rc != AKIDB_OK || !w) CHECK_FAIL("wal_open(%s) = %s: %s", dir, err_name(rc), err);
  return w;
}

static int quiet_refusals; /* set while a loop refuses many times */

/* Opening must fail with `want`, leave no log and a message holding each
 * of the `needles` (file name, offset). */
static void expect_open_refused(const char *dir, int want, const char *needle1,
                                const char *needle2) {
  wal_t *w = NULL;
  char err[512] = "";
  wal_options_t o = opts(WAL_SYNC_FSYNC, 0);
  int rc = wal_open(dir, &o, &w, NULL, err, sizeof err);
  if (rc != want)
    CHECK_FAIL("wal_open = %s, expected %s (message: \"%s\")", err_name(rc), err_name(want), err);
  ASSERT_TRUE(w == NULL);
  if (needle1) ASSERT_STR_CONTAINS(err, needle1);
  if (needle2) ASSERT_STR_CONTAINS(err, needle2);
  if (!quiet_refusals) fprintf(stderr, "  refused: %s: %s\n", err_name(rc), err);
}

/* The base name of segment `seq`, for matching messages. */
static const char *seg_name(uint64_t seq) {
  static char buf[64];
  snprintf(buf, sizeof buf, "%020llu.wal", (unsigned long long)seq);
  return buf;
}

static const char *byte_text(uint64_t off) {
  static char buf[64];
  snprintf(buf, sizeof buf, "byte %llu", (unsigned long long)off);
  return buf;
}

/* Offset of record `index` (0-based, over the whole model) in a single
 * segment holding the model's records from its start. */
static uint64_t record_offset(const recs_t *model, size_t index) {
  uint64_t off = SEG_HEADER;
  for (size_t i = 0; i < index; i++) off += frame_bytes(model->v[i].len);
  return off;
}

/* ---------------------------------------------------- framing & replay -- */

static void test_wal_replay_returns_groups_in_order(void) {
  char dir[4200];
  new_dir(dir, sizeof dir, "order");
  wal_options_t o = opts(WAL_SYNC_FSYNC, 0);
  wal_open_stats_t st;
  wal_t *w = open_ok(dir, &o, &st);
  ASSERT_EQ_U64(st.segments, 0);
  ASSERT_EQ_U64(wal_last_seq(w), 0);
  recs_t model = {0};
  size_t sizes[] = {1, 2, 7, 1, 33, 64, 3, 1};
  for (size_t g = 0; g < sizeof sizes / sizeof *sizes; g++)
    append_varied(w, &model, sizes[g], g % 2 ? 5000 : 17, g + 1);
  size_t empty = 0, big = 70000;
  append_group(w, &model, 1, &empty, 100);
  append_group(w, &model, 1, &big, 101);
  expect_replay(w, 0, &model); /* before reopen, too */
  wal_close(w);
  w = open_ok(dir, &o, &st);
  ASSERT_EQ_U64(st.segments, 1);
  ASSERT_EQ_U64(st.records, model.n);
  ASSERT_EQ_U64(st.first_seq, 1);
  ASSERT_EQ_U64(st.last_seq, model.n);
  ASSERT_EQ_U64(st.truncated_bytes, 0);
  ASSERT_TRUE(st.truncated_file[0] == '\0');
  expect_replay(w, 0, &model);
  wal_close(w);
  recs_free(&model);
}

static void test_wal_replay_after_seq_skips_older_records(void) {
  char dir[4200];
  new_dir(dir, sizeof dir, "after");
  wal_options_t o = opts(WAL_SYNC_NONE, 2048);
  wal_t *w = open_ok(dir, &o, NULL);
  recs_t model = {0};
  append_many(w, &model, 40, 1);
  wal_close(w);
  uint64_t seqs[256];
  size_t nseg = list_segments(dir, seqs, 256);
  ASSERT_TRUE(nseg >= 3);
  w = open_ok(dir, &o, NULL);
  uint64_t last = model.v[model.n - 1].seq;
  uint64_t afters[] = {0,       1,           2,        last / 2, seqs[1] - 1,
                       seqs[1], seqs[2] + 1, last - 1, last,     last + 100};
  for (size_t i = 0; i < sizeof afters / sizeof *afters; i++) expect_replay(w, afters[i], &model);
  wal_close(w);
  recs_free(&model);
}

static void test_wal_seqs_continue_across_reopen(void) {
  char dir[4200];
  new_dir(dir, sizeof dir, "continue");
  wal_options_t o = opts(WAL_SYNC_FSYNC, 0);
  recs_t model = {0};
  for (int round = 0; round < 4; round++) {
    wal_t *w = open_ok(dir, &o, NULL);
    ASSERT_EQ_U64(wal_last_seq(w), model.n);
    append_many(w, &model, 5, 10 * (uint64_t)round); /* append_group checks first == last + 1 */
    wal_close(w);
  }
  wal_t *w = open_ok(dir, &o, NULL);
  expect_replay(w, 0, &model);
  wal_close(w);
  recs_free(&model);
}

static void test_wal_min_next_seq_starts_an_empty_log(void) {
  char dir[4200];
  new_dir(dir, sizeof dir, "min-empty");
  wal_options_t o = opts(WAL_SYNC_FSYNC, 0);
  o.min_next_seq = 1000;
  wal_t *w = open_ok(dir, &o, NULL);
  ASSERT_EQ_U64(wal_last_seq(w), 999);
  recs_t model = {0};
  append_many(w, &model, 3, 1);
  ASSERT_EQ_U64(model.v[0].seq, 1000);
  wal_close(w);
  o.min_next_seq = 0;
  w = open_ok(dir, &o, NULL);
  ASSERT_EQ_U64(wal_last_seq(w), model.v[model.n - 1].seq);
  append_many(w, &model, 2, 9);
  expect_replay(w, 0, &model);
  wal_close(w);
  recs_free(&model);
}

/* A checkpoint beyond the log's records (e.g. after a crash lost an
 * interval-policy tail): the next seq jumps, and the jump is not a gap
 * later opens refuse. */
static void test_wal_min_next_seq_above_records_skips_ahead(void) {
  char dir[4200];
  new_dir(dir, sizeof dir, "min-jump");
  wal_options_t o = opts(WAL_SYNC_FSYNC, 0);
  wal_t *w = open_ok(dir, &o, NULL);
  recs_t model = {0};
  append_many(w, &model, 4, 1);
  uint64_t last = wal_last_seq(w);
  wal_close(w);
  o.min_next_seq = last + 50;
  w = open_ok(dir, &o, NULL); /* opened twice with the jump before any append */
  ASSERT_EQ_U64(wal_last_seq(w), last + 49);
  wal_close(w);
  o.min_next_seq = 0; /* the empty jump segment's name keeps the floor */
  w = open_ok(dir, &o, NULL);
  ASSERT_EQ_U64(wal_last_seq(w), last + 49);
  size_t jumped = model.n;
  append_many(w, &model, 3, 7);
  ASSERT_EQ_U64(model.v[jumped].seq, last + 50);
  wal_close(w);
  wal_open_stats_t st;
  w = open_ok(dir, &o, &st);
  ASSERT_EQ_U64(st.records, model.n);
  expect_replay(w, 0, &model);
  expect_replay(w, last + 49, &model);
  wal_close(w);
  recs_free(&model);
}

static void test_wal_append_refuses_invalid_groups(void) {
  char dir[4200];
  new_dir(dir, sizeof dir, "invalid");
  wal_options_t o = opts(WAL_SYNC_FSYNC, 0);
  wal_t *w = open_ok(dir, &o, NULL);
  uint8_t byte = 7;
  char err[256] = "";
  wal_record_t ok = {.type = 1, .data = &byte, .len = 1};
  wal_record_t type0 = {.type = 0, .data = &byte, .len = 1};
  wal_record_t huge = {.type = 1, .data = &byte, .len = ((size_t)1 << 30) + 1};
  wal_record_t null_data = {.type = 1, .data = NULL, .len = 5};
  wal_record_t two[2] = {ok, type0};
  ASSERT_EQ_INT(wal_append(w, &ok, 0, NULL, NULL, err, sizeof err), AKIDB_EINVAL);
  ASSERT_EQ_INT(wal_append(w, NULL, 1, NULL, NULL, err, sizeof err), AKIDB_EINVAL);
  ASSERT_EQ_INT(wal_append(w, &type0, 1, NULL, NULL, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "type 0");
  ASSERT_EQ_INT(wal_append(w, two, 2, NULL, NULL, err, sizeof err), AKIDB_EINVAL);
  ASSERT_EQ_INT(wal_append(w, &huge, 1, NULL, NULL, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "1 GiB");
  ASSERT_EQ_INT(wal_append(w, &null_data, 1, NULL, NULL, NULL, 0), AKIDB_EINVAL);
  ASSERT_EQ_INT(wal_failed(w), 0);
  uint64_t first = 0;
  ASSERT_OK(wal_append(w, &ok, 1, &first, NULL, err, sizeof err));
  ASSERT_EQ_U64(first, 1); /* refused groups used no seq */
  wal_close(w);
}

/* A record given as pieces is logged and replayed as the bytes of the
 * pieces in order, alone and grouped with a plain record. */
static void test_wal_record_in_pieces_replays_as_one_payload(void) {
  char dir[4200];
  new_dir(dir, sizeof dir, "pieces");
  wal_options_t o = opts(WAL_SYNC_FSYNC, 0);
  wal_t *w = open_ok(dir, &o, NULL);
  uint8_t whole[9001];
  fill_payload(whole, sizeof whole, 99);
  /* uneven pieces, an empty one among them */
  struct iovec iov[] = {{whole, 3}, {whole + 3, 0}, {whole + 3, 4000}, {whole + 4003, 4998}};
  wal_record_t split = {.type = 9, .len = sizeof whole, .iov = iov, .iovcnt = 4};
  wal_record_t plain = {.type = 8, .data = whole, .len = 5};
  wal_record_t group[2] = {plain, split};
  char err[256] = "";
  ASSERT_OK(wal_append(w, &split, 1, NULL, NULL, err, sizeof err));
  ASSERT_OK(wal_append(w, group, 2, NULL, NULL, err, sizeof err));
  recs_t model = {0};
  recs_push(&model, 1, 9, whole, sizeof whole);
  recs_push(&model, 2, 8, whole, 5);
  recs_push(&model, 3, 9, whole, sizeof whole);
  wal_close(w);
  w = open_ok(dir, &o, NULL);
  expect_replay(w, 0, &model);
  /* pieces that do not add up to len are refused, and use no seq */
  wal_record_t short_by_one = split;
  short_by_one.len = sizeof whole + 1;
  ASSERT_EQ_INT(wal_append(w, &short_by_one, 1, NULL, NULL, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "pieces");
  struct iovec hole[] = {{NULL, 4}};
  wal_record_t no_memory = {.type = 1, .len = 4, .iov = hole, .iovcnt = 1};
  ASSERT_EQ_INT(wal_append(w, &no_memory, 1, NULL, NULL, err, sizeof err), AKIDB_EINVAL);
  uint64_t first = 0;
  ASSERT_OK(wal_append(w, &plain, 1, &first, NULL, err, sizeof err));
  ASSERT_EQ_U64(first, 4);
  wal_close(w);
  recs_free(&model);
}

static void test_wal_open_refuses_bad_arguments(void) {
  char dir[4200];
  wal_t *w = NULL;
  char err[256] = "";
  wal_options_t bad = {.sync = (wal_sync_t)7};
  new_dir(dir, sizeof dir, "args");
  ASSERT_EQ_INT(wal_open("", NULL, &w, NULL, err, sizeof err), AKIDB_EINVAL);
  ASSERT_EQ_INT(wal_open(NULL, NULL, &w, NULL, err, sizeof err), AKIDB_EINVAL);
  ASSERT_EQ_INT(wal_open(dir, &bad, &w, NULL, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "policy");
  ASSERT_TRUE(w == NULL);
  char missing[4300];
  snprintf(missing, sizeof missing, "%s/no/such/parent", dir);
  ASSERT_EQ_INT(wal_open(missing, NULL, &w, NULL, err, sizeof err), AKIDB_EIO);
  ASSERT_STR_CONTAINS(err, missing);
  w = open_ok(dir, NULL, NULL); /* NULL options: defaults */
  wal_close(w);
  wal_close(NULL);
}

static void test_wal_second_open_is_refused_while_open(void) {
  char dir[4200];
  new_dir(dir, sizeof dir, "locked");
  wal_t *w = open_ok(dir, NULL, NULL), *w2 = NULL;
  char err[512] = "";
  ASSERT_EQ_INT(wal_open(dir, NULL, &w2, NULL, err, sizeof err), AKIDB_EIO);
  ASSERT_STR_CONTAINS(err, "already open");
  ASSERT_TRUE(w2 == NULL);
  wal_close(w);
  w = open_ok(dir, NULL, NULL);
  wal_close(w);
}

static int stop_at_third(void *ctx, uint64_t seq, uint8_t type, const void *data, size_t len) {
  (void)seq, (void)type, (void)data, (void)len;
  return ++*(int *)ctx == 3 ? 42 : 0;
}

static void test_wal_replay_stops_on_callback_error(void) {
  char dir[4200];
  new_dir(dir, sizeof dir, "stop");
  wal_t *w = open_ok(dir, NULL, NULL);
  recs_t model = {0};
  append_many(w, &model, 5, 3);
  int calls = 0;
  ASSERT_EQ_INT(wal_replay(w, 0, stop_at_third, &calls, NULL, 0), 42);
  ASSERT_EQ_INT(calls, 3);
  wal_close(w);
  recs_free(&model);
}

/* -------------------------------------------------------- torn tails -- */

/* A log of a few groups whose last group (3 records) starts at *group_start;
 * returns the segment path in `path` and the model without the last group
 * in `before` (and with it in `all`). */
static void make_log_with_last_group(const char *dir, char *path, size_t pathlen, recs_t *before,
                                     recs_t *all, uint64_t *group_start) {
  wal_t *w = open_ok(dir, NULL, NULL);
  append_many(w, all, 4, 21);
  for (size_t i = 0; i < all->n; i++)
    recs_push(before, all->v[i].seq, all->v[i].type, all->v[i].data, all->v[i].len);
  *group_start = record_offset(all, all->n);
  size_t lens[3] = {5, 100, 12};
  append_group(w, all, 3, lens, 99);
  wal_close(w);
  seg_file(path, pathlen, dir, 1);
  ASSERT_EQ_U64(file_size(path), record_offset(all, all->n));
}

/* Cut the file at every length inside the last group: the group is dropped,
 * earlier records stay, the drop is reported, the file is cut back, and a
 * later append and reopen work. */
static void test_wal_torn_tail_at_every_byte_is_truncated(void) {
  char dir[4200], path[4300];
  new_dir(dir, sizeof dir, "torn-every");
  recs_t before = {0}, all = {0};
  uint64_t start;
  make_log_with_last_group(dir, path, sizeof path, &before, &all, &start);
  size_t full_len;
  uint8_t *full = read_all(path, &full_len);
  fprintf(stderr, "  last group: bytes %llu..%zu\n", (unsigned long long)start, full_len);
  for (uint64_t cut = start; cut < full_len; cut++) {
    write_all(path, full, (size_t)cut);
    wal_open_stats_t st;
    wal_t *w = open_ok(dir, NULL, &st);
    ASSERT_EQ_U64(st.truncated_bytes, cut - start);
    if (cut > start) ASSERT_STR_CONTAINS(st.truncated_file, seg_name(1));
    ASSERT_EQ_U64(st.records, before.n);
    ASSERT_EQ_U64(st.last_seq, before.n);
    ASSERT_EQ_U64(file_size(path), start);
    ASSERT_EQ_U64(wal_size_bytes(w), start);
    expect_replay(w, 0, &before);
    recs_t model = {0};
    for (size_t i = 0; i < before.n; i++)
      recs_push(&model, before.v[i].seq, before.v[i].type, before.v[i].data, before.v[i].len);
    append_varied(w, &model, 2, 40, cut);
    wal_close(w);
    w = open_ok(dir, NULL, &st);
    ASSERT_EQ_U64(st.truncated_bytes, 0);
    expect_replay(w, 0, &model);
    wal_close(w);
    recs_free(&model);
  }
  free(full);
  recs_free(&before);
  recs_free(&all);
}

static void test_wal_zero_filled_tail_is_truncated(void) {
  char dir[4200], path[4300];
  new_dir(dir, sizeof dir, "zero-tail");
  wal_t *w = open_ok(dir, NULL, NULL);
  recs_t model = {0};
  append_many(w, &model, 6, 5);
  wal_close(w);
  seg_file(path, sizeof path, dir, 1);
  uint64_t good = file_size(path);
  size_t tails[] = {4096, 1000, 3, 24};
  static const uint8_t zeros[4096];
  for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
    append_bytes(path, zeros, tails[i]);
    wal_open_stats_t st;
    w = open_ok(dir, NULL, &st);
    ASSERT_EQ_U64(st.truncated_bytes, tails[i]);
    ASSERT_EQ_U64(file_size(path), good);
    expect_replay(w, 0, &model);
    wal_close(w);
  }
  recs_free(&model);
}

/* Only the first k records of a 5-record group reached the file (each a
 * complete, valid frame): the group is dropped whole. */
static void test_wal_torn_group_is_dropped_whole(void) {
  char dir[4200], path[4300];
  new_dir(dir, sizeof dir, "torn-group");
  wal_t *w = open_ok(dir, NULL, NULL);
  recs_t model = {0};
  append_many(w, &model, 3, 2);
  size_t kept = model.n;
  uint64_t start = record_offset(&model, kept);
  append_varied(w, &model, 5, 200, 77);
  wal_close(w);
  seg_file(path, sizeof path, dir, 1);
  size_t full_len;
  uint8_t *full = read_all(path, &full_len);
  recs_cut(&model, kept);
  for (size_t k = 1; k < 5; k++) {
    uint64_t cut = start;
    for (size_t i = 0; i < k; i++) cut += frame_bytes(((size_t)(77 * 7919 + i * 104729)) % 201);
    write_all(path, full, (size_t)cut);
    wal_open_stats_t st;
    w = open_ok(dir, NULL, &st);
    ASSERT_EQ_U64(st.truncated_bytes, cut - start);
    ASSERT_EQ_U64(st.records, kept);
    ASSERT_EQ_U64(file_size(path), start);
    expect_replay(w, 0, &model);
    wal_close(w);
  }
  free(full);
  recs_free(&model);
}

/* A crash while a new segment's header was written: the newest segment is
 * shorter than its header, or all zeros. It is removed and reported. */
static void test_wal_torn_segment_header_is_dropped(void) {
  char dir[4200], path[4300];
  new_dir(dir, sizeof dir, "torn-header");
  wal_t *w = open_ok(dir, NULL, NULL);
  recs_t model = {0};
  append_many(w, &model, 4, 3);
  uint64_t next = wal_last_seq(w) + 1;
  ASSERT_OK(wal_roll(w, NULL, 0));
  wal_close(w);
  seg_file(path, sizeof path, dir, next);
  size_t hlen;
  uint8_t *header = read_all(path, &hlen);
  ASSERT_EQ_U64(hlen, SEG_HEADER);
  static const uint8_t zeros[SEG_HEADER + 100];
  size_t cases[] = {0, 1, 13, 39};
  for (size_t i = 0; i < 5; i++) {
    size_t len = i < 4 ? cases[i] : sizeof zeros;
    write_all(path, i < 4 ? header : zeros, len);
    wal_open_stats_t st;
    w = open_ok(dir, NULL, &st);
    ASSERT_EQ_U64(st.truncated_bytes, len);
    ASSERT_EQ_U64(st.segments, 2);
    ASSERT_EQ_U64(wal_last_seq(w), next - 1);
    expect_replay(w, 0, &model);
    wal_close(w);
    ASSERT_TRUE(!file_exists(path));
  }
  w = open_ok(dir, NULL, NULL);
  append_many(w, &model, 2, 8);
  wal_close(w);
  w = open_ok(dir, NULL, NULL);
  expect_replay(w, 0, &model);
  wal_close(w);
  free(header);
  recs_free(&model);
}

/* ---------------------------------------------------------- bit flips -- */

/* Every bit of a middle record's header and some of its payload: the open
 * is refused, naming the file and the record's offset, and nothing is cut. */
static void test_wal_bit_flip_in_middle_record_is_corrupt(void) {
  char dir[4200], path[4300];
  new_dir(dir, sizeof dir, "flip-middle");
  wal_t *w = open_ok(dir, NULL, NULL);
  recs_t model = {0};
  size_t lens[3] = {40, 64, 9};
  append_group(w, &model, 3, lens, 1);
  append_group(w, &model, 3, lens, 2);
  append_group(w, &model, 3, lens, 3);
  wal_close(w);
  seg_file(path, sizeof path, dir, 1);
  size_t full_len;
  uint8_t *full = read_all(path, &full_len);
  uint64_t rec = record_offset(&model, 4); /* the middle group's middle record */
  char where[64];
  snprintf(where, sizeof where, "%s", byte_text(rec));
  for (uint64_t off = rec; off < rec + FRAME_HEADER + 64; off++) {
    for (int bit = 0; bit < 8; bit++) {
      if (off >= rec + FRAME_HEADER && bit != (int)(off % 8)) continue;
      write_all(path, full, full_len);
      flip_bit(path, off, bit);
      expect_open_refused(dir, AKIDB_ECORRUPT, seg_name(1), where);
      quiet_refusals = 1;
      ASSERT_EQ_U64(file_size(path), full_len);
    }
  }
  quiet_refusals = 0;
  write_all(path, full, full_len);
  w = open_ok(dir, NULL, NULL);
  expect_replay(w, 0, &model);
  wal_close(w);
  free(full);
  recs_free(&model);
}

/* Damage in a segment that is not the newest is corruption, even in the
 * last record where the newest segment would call it a torn tail. */
static void test_wal_bit_flip_in_closed_segment_is_corrupt(void) {
  char dir[4200], path[4300];
  new_dir(dir, sizeof dir, "flip-closed");
  wal_t *w = open_ok(dir, NULL, NULL);
  recs_t model = {0};
  append_many(w, &model, 4, 1);
  ASSERT_OK(wal_roll(w, NULL, 0));
  append_many(w, &model, 4, 9);
  wal_close(w);
  seg_file(path, sizeof path, dir, 1);
  size_t full_len;
  uint8_t *full = read_all(path, &full_len);
  flip_bit(path, full_len - 2, 3); /* last record's payload or padding */
  expect_open_refused(dir, AKIDB_ECORRUPT, seg_name(1), "not the newest");
  write_all(path, full, full_len - 8); /* cut short */
  expect_open_refused(dir, AKIDB_ECORRUPT, seg_name(1), "not the newest");
  write_all(path, full, full_len);
  w = open_ok(dir, NULL, NULL);
  expect_replay(w, 0, &model);
  wal_close(w);
  free(full);
  recs_free(&model);
}

static void test_wal_bit_flip_in_last_record_is_torn_tail(void) {
  char dir[4200], path[4300];
  new_dir(dir, sizeof dir, "flip-last");
  recs_t before = {0}, all = {0};
  uint64_t start;
  make_log_with_last_group(dir, path, sizeof path, &before, &all, &start);
  uint64_t last_rec = record_offset(&all, all.n - 1);
  flip_bit(path, last_rec + FRAME_HEADER + 5, 6);
  wal_open_stats_t st;
  wal_t *w = open_ok(dir, NULL, &st);
  ASSERT_EQ_U64(st.truncated_bytes, record_offset(&all, all.n) - start);
  ASSERT_STR_CONTAINS(st.truncated_file, seg_name(1));
  ASSERT_EQ_U64(file_size(path), start);
  expect_replay(w, 0, &before);
  wal_close(w);
  recs_free(&before);
  recs_free(&all);
}

/* Valid frames with repeated seqs (a group written twice) are refused. */
static void test_wal_repeated_seqs_are_corrupt(void) {
  char dir[4200], path[4300];
  new_dir(dir, sizeof dir, "repeat");
  wal_t *w = open_ok(dir, NULL, NULL);
  recs_t model = {0};
  append_many(w, &model, 3, 4);
  size_t kept = model.n;
  append_varied(w, &model, 2, 50, 5);
  wal_close(w);
  seg_file(path, sizeof path, dir, 1);
  size_t len;
  uint8_t *buf = read_all(path, &len);
  uint64_t start = record_offset(&model, kept);
  append_bytes(path, buf + start, len - start);
  expect_open_refused(dir, AKIDB_ECORRUPT, seg_name(1), byte_text(len));
  free(buf);
  recs_free(&model);
}

static void test_wal_missing_middle_segment_is_corrupt(void) {
  char dir[4200], path[4300];
  new_dir(dir, sizeof dir, "missing");
  wal_t *w = open_ok(dir, NULL, NULL);
  recs_t model = {0};
  for (int i = 0; i < 3; i++) {
    append_many(w, &model, 2, (uint64_t)i);
    ASSERT_OK(wal_roll(w, NULL, 0));
  }
  wal_close(w);
  uint64_t seqs[16];
  ASSERT_EQ_U64(list_segments(dir, seqs, 16), 4);
  seg_file(path, sizeof path, dir, seqs[1]);
  ASSERT_EQ_INT(unlink(path), 0);
  expect_open_refused(dir, AKIDB_ECORRUPT, seg_name(seqs[2]), "missing");
  recs_free(&model);
}

/* -------------------------------------------------- foreign segments -- */

static void test_wal_foreign_segment_is_refused(void) {
  char dir[4200], path[4300];
  new_dir(dir, sizeof dir, "foreign");
  ASSERT_EQ_INT(mkdir(dir, 0755), 0);
  seg_file(path, sizeof path, dir, 1);
  const char *text = "this is not a write-ahead log segment, just some text\n";
  write_all(path, text, strlen(text));
  expect_open_refused(dir, AKIDB_EFORMAT, seg_name(1), "magic");
  ASSERT_EQ_INT(unlink(path), 0);
  /* a foreign file as a closed segment */
  wal_t *w = open_ok(dir, NULL, NULL);
  recs_t model = {0};
  append_many(w, &model, 2, 1);
  ASSERT_OK(wal_roll(w, NULL, 0));
  append_many(w, &model, 2, 2);
  wal_close(w);
  write_all(path, text, strlen(text));
  expect_open_refused(dir, AKIDB_EFORMAT, seg_name(1), NULL);
  recs_free(&model);
}

/* A segment written by a newer format version (header CRC made valid). */
static void test_wal_future_version_is_refused(void) {
  char dir[4200], path[4300];
  new_dir(dir, sizeof dir, "version");
  wal_t *w = open_ok(dir, NULL, NULL);
  recs_t model = {0};
  append_many(w, &model, 2, 1);
  wal_close(w);
  seg_file(path, sizeof path, dir, 1);
  size_t len;
  uint8_t *buf = read_all(path, &len);
  ASSERT_EQ_U64(buf[8], 1); /* u32 version at byte 8 */
  buf[8] = 2;
  uint32_t c = crc32c(0, buf, 36);
  for (int i = 0; i < 4; i++) buf[36 + i] = (uint8_t)(c >> (8 * i));
  write_all(path, buf, len);
  expect_open_refused(dir, AKIDB_EVERSION, seg_name(1), "version 2");
  free(buf);
  recs_free(&model);
}

/* ----------------------------------------------- rollover and removal -- */

static void test_wal_rollover_spreads_records_over_segments(void) {
  char dir[4200], path[4300];
  new_dir(dir, sizeof dir, "rollover");
  wal_options_t o = opts(WAL_SYNC_FSYNC, 4096);
  wal_t *w = open_ok(dir, &o, NULL);
  recs_t model = {0};
  append_many(w, &model, 30 * SCALE, 1);
  size_t big = 9000; /* larger than a segment: gets one of its own */
  append_group(w, &model, 1, &big, 500);
  append_many(w, &model, 3, 600);
  ASSERT_EQ_U64(wal_size_bytes(w), dir_bytes(dir));
  wal_close(w);
  uint64_t seqs[512];
  size_t n = list_segments(dir, seqs, 512);
  ASSERT_TRUE(n >= 4);
  ASSERT_EQ_U64(seqs[0], 1);
  for (size_t i = 0; i < n; i++) {
    seg_file(path, sizeof path, dir, seqs[i]);
    uint64_t size = file_size(path);
    int holds_big = 0;
    for (size_t r = 0; r < model.n; r++)
      if (model.v[r].len == big && model.v[r].seq >= seqs[i] &&
          (i + 1 == n || model.v[r].seq < seqs[i + 1]))
        holds_big = 1;
    if (!holds_big) ASSERT_LE(size, 4096);
  }
  wal_open_stats_t st;
  w = open_ok(dir, &o, &st);
  ASSERT_EQ_U64(st.segments, n);
  ASSERT_EQ_U64(st.records, model.n);
  ASSERT_EQ_U64(wal_size_bytes(w), dir_bytes(dir));
  expect_replay(w, 0, &model);
  wal_close(w);
  recs_free(&model);
}

static void test_wal_remove_upto_removes_covered_closed_segments(void) {
  char dir[4200];
  new_dir(dir, sizeof dir, "remove");
  wal_options_t o = opts(WAL_SYNC_FSYNC, 2048);
  wal_t *w = open_ok(dir, &o, NULL);
  recs_t model = {0};
  append_many(w, &model, 40, 3);
  uint64_t seqs[512], after[512];
  size_t n = list_segments(dir, seqs, 512);
  ASSERT_TRUE(n >= 5);
  /* covering all but the last record of segment 2 removes segments 0 and
   * 1 only; covering that record too removes segment 2 */
  ASSERT_OK(wal_remove_upto(w, seqs[3] - 2, NULL, 0));
  ASSERT_EQ_U64(list_segments(dir, after, 512), n - 2);
  ASSERT_EQ_U64(after[0], seqs[2]);
  ASSERT_OK(wal_remove_upto(w, seqs[3] - 1, NULL, 0));
  ASSERT_EQ_U64(list_segments(dir, after, 512), n - 3);
  ASSERT_EQ_U64(after[0], seqs[3]);
  ASSERT_EQ_U64(wal_size_bytes(w), dir_bytes(dir));
  uint64_t covered = seqs[3] - 1;
  expect_replay(w, covered, &model);
  /* covering everything keeps the current segment */
  uint64_t last = wal_last_seq(w);
  ASSERT_OK(wal_remove_upto(w, last + 1000, NULL, 0));
  ASSERT_EQ_U64(list_segments(dir, after, 512), 1);
  ASSERT_EQ_U64(after[0], seqs[n - 1]);
  ASSERT_EQ_U64(wal_size_bytes(w), dir_bytes(dir));
  wal_close(w);
  wal_open_stats_t st;
  w = open_ok(dir, &o, &st);
  ASSERT_EQ_U64(st.first_seq, seqs[n - 1]);
  ASSERT_EQ_U64(wal_last_seq(w), last);
  append_many(w, &model, 3, 90);
  expect_replay(w, seqs[n - 1] - 1, &model);
  /* a roll, then covering everything leaves only the new (empty) segment */
  ASSERT_OK(wal_roll(w, NULL, 0));
  ASSERT_OK(wal_remove_upto(w, wal_last_seq(w), NULL, 0));
  ASSERT_EQ_U64(list_segments(dir, after, 512), 1);
  ASSERT_EQ_U64(after[0], wal_last_seq(w) + 1);
  last = wal_last_seq(w);
  wal_close(w);
  w = open_ok(dir, &o, &st);
  ASSERT_EQ_U64(st.records, 0);
  ASSERT_EQ_U64(wal_last_seq(w), last);
  append_many(w, &model, 2, 95);
  ASSERT_EQ_U64(model.v[model.n - 1].seq, wal_last_seq(w));
  wal_close(w);
  w = open_ok(dir, &o, NULL);
  expect_replay(w, last, &model);
  wal_close(w);
  recs_free(&model);
}

static void test_wal_roll_starts_a_new_segment(void) {
  char dir[4200];
  new_dir(dir, sizeof dir, "roll");
  wal_t *w = open_ok(dir, NULL, NULL);
  uint64_t seqs[16];
  ASSERT_OK(wal_roll(w, NULL, 0)); /* nothing to close yet */
  ASSERT_EQ_U64(list_segments(dir, seqs, 16), 1);
  recs_t model = {0};
  append_many(w, &model, 3, 1);
  ASSERT_OK(wal_roll(w, NULL, 0));
  ASSERT_OK(wal_roll(w, NULL, 0)); /* the new segment is empty: no-op */
  ASSERT_EQ_U64(list_segments(dir, seqs, 16), 2);
  ASSERT_EQ_U64(seqs[1], model.n + 1);
  append_many(w, &model, 3, 2);
  ASSERT_EQ_U64(wal_size_bytes(w), dir_bytes(dir));
  wal_close(w);
  w = open_ok(dir, NULL, NULL);
  expect_replay(w, 0, &model);
  wal_close(w);
  recs_free(&model);
}

/* --------------------------------------------------- sticky failures -- */

static void expect_append_fails(wal_t *w, const char *needle) {
  uint8_t byte = 1;
  wal_record_t r = {.type = 1, .data = &byte, .len = 1};
  char err[512] = "";
  uint64_t first = 12345;
  ASSERT_EQ_INT(wal_append(w, &r, 1, &first, NULL, err, sizeof err), AKIDB_EIO);
  ASSERT_EQ_U64(first, 12345); /* not acknowledged */
  ASSERT_STR_CONTAINS(err, needle);
}

static void test_wal_failed_write_is_sticky_and_dropped(void) {
  char dir[4200], path[4300];
  new_dir(dir, sizeof dir, "fail-write");
  wal_t *w = open_ok(dir, NULL, NULL);
  recs_t model = {0};
  append_many(w, &model, 4, 1);
  seg_file(path, sizeof path, dir, 1);
  uint64_t size = file_size(path);
  wal_test_fail_next_io(ENOSPC);
  size_t lens[4] = {300, 300, 300, 300};
  wal_record_t recs[4];
  uint8_t payload[300] = {0};
  for (int i = 0; i < 4; i++) recs[i] = (wal_record_t){.type = 9, .data = payload, .len = lens[i]};
  char err[512] = "";
  ASSERT_EQ_INT(wal_append(w, recs, 4, NULL, NULL, err, sizeof err), AKIDB_EIO);
  fprintf(stderr, "  %s\n", err);
  ASSERT_STR_CONTAINS(err, strerror(ENOSPC));
  ASSERT_STR_CONTAINS(err, seg_name(1));
  ASSERT_EQ_INT(wal_failed(w), 1);
  ASSERT_EQ_U64(file_size(path), size); /* the half-written group was cut back */
  expect_append_fails(w, strerror(ENOSPC));
  expect_append_fails(w, strerror(ENOSPC));
  ASSERT_EQ_INT(wal_sync(w, err, sizeof err), AKIDB_EIO);
  ASSERT_EQ_INT(wal_roll(w, err, sizeof err), AKIDB_EIO);
  expect_replay(w, 0, &model); /* reads keep working */
  wal_close(w);
  wal_open_stats_t st;
  w = open_ok(dir, NULL, &st);
  ASSERT_EQ_U64(st.truncated_bytes, 0);
  ASSERT_EQ_INT(wal_failed(w), 0);
  expect_replay(w, 0, &model);
  append_many(w, &model, 2, 7);
  wal_close(w);
  w = open_ok(dir, NULL, NULL);
  expect_replay(w, 0, &model);
  wal_close(w);
  recs_free(&model);
}

/* The write succeeds, the fdatasync fails: the append is not acknowledged
 * and every later one fails too. The unacknowledged group may or may not
 * be replayed after reopen; everything acknowledged is. */
static void test_wal_failed_fsync_is_sticky_and_unacknowledged(void) {
  char dir[4200];
  new_dir(dir, sizeof dir, "fail-sync");
  wal_t *w = open_ok(dir, NULL, NULL);
  recs_t model = {0};
  append_many(w, &model, 4, 1);
  size_t acked = model.n;
  wal_test_fail_next_sync(EIO);
  uint64_t before[2];
  wal_sync_stats(w, &before[0], &before[1]);
  expect_append_fails(w, "fdatasync");
  ASSERT_EQ_INT(wal_failed(w), 1);
  expect_append_fails(w, "fdatasync"); /* the first failure's message */
  char err[512] = "";
  ASSERT_EQ_INT(wal_sync(w, err, sizeof err), AKIDB_EIO);
  ASSERT_STR_CONTAINS(err, strerror(EIO));
  uint64_t after[2];
  wal_sync_stats(w, &after[0], &after[1]);
  ASSERT_EQ_U64(after[0], before[0] + 1); /* no retry: the failure is sticky */
  wal_close(w);
  wal_open_stats_t st;
  w = open_ok(dir, NULL, &st);
  recs_t got = {0};
  replay_ok(w, 0, &got);
  ASSERT_TRUE(got.n == acked || got.n == acked + 1);
  recs_cut(&got, acked);
  expect_same_records(&got, 0, &model);
  recs_free(&got);
  wal_close(w);
  recs_free(&model);
}

/* A rollover that fails: under FSYNC its sync of the old segment, under
 * NONE the write of the new segment's header. No new segment is left. */
static void test_wal_failed_rollover_is_sticky(void) {
  wal_sync_t policies[2] = {WAL_SYNC_FSYNC, WAL_SYNC_NONE};
  const char *needles[2] = {"before rollover", "header"};
  for (int k = 0; k < 2; k++) {
    char dir[4200], name[32];
    snprintf(name, sizeof name, "fail-roll-%d", k);
    new_dir(dir, sizeof dir, name);
    wal_options_t o = opts(policies[k], 1024);
    wal_t *w = open_ok(dir, &o, NULL);
    recs_t model = {0};
    size_t len = 700;
    append_group(w, &model, 1, &len, 1);
    wal_test_fail_next_io(EIO);
    uint8_t payload[700] = {0};
    wal_record_t r = {.type = 3, .data = payload, .len = sizeof payload};
    char err[512] = "";
    ASSERT_EQ_INT(wal_append(w, &r, 1, NULL, NULL, err, sizeof err), AKIDB_EIO);
    fprintf(stderr, "  %s\n", err);
    ASSERT_STR_CONTAINS(err, needles[k]);
    ASSERT_EQ_INT(wal_failed(w), 1);
    expect_append_fails(w, needles[k]);
    wal_close(w);
    uint64_t seqs[8];
    ASSERT_EQ_U64(list_segments(dir, seqs, 8), 1);
    w = open_ok(dir, &o, NULL);
    expect_replay(w, 0, &model);
    append_group(w, &model, 1, &len, 2);
    ASSERT_EQ_U64(list_segments(dir, seqs, 8), 2);
    expect_replay(w, 0, &model);
    wal_close(w);
    recs_free(&model);
  }
}

/* ------------------------------------------------------ sync policies -- */

static void sleep_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

static void test_wal_interval_policy_syncs_in_background(void) {
  char dir[4200];
  new_dir(dir, sizeof dir, "interval");
  wal_options_t o = {.sync = WAL_SYNC_INTERVAL, .interval_ms = 20};
  wal_t *w = open_ok(dir, &o, NULL);
  uint64_t base, count = 0, ns;
  wal_sync_stats(w, &base, &ns);
  recs_t model = {0};
  append_many(w, &model, 3, 1);
  wal_sync_stats(w, &count, &ns);
  ASSERT_EQ_U64(count, base); /* the appends did not sync */
  for (int i = 0; i < 500 && count == base; i++) {
    sleep_ms(10);
    wal_sync_stats(w, &count, &ns);
  }
  ASSERT_TRUE(count > base);
  wal_close(w);
  w = open_ok(dir, &o, NULL);
  expect_replay(w, 0, &model);
  wal_close(w);
  recs_free(&model);
}

static void test_wal_interval_sync_failure_fails_later_appends(void) {
  char dir[4200];
  new_dir(dir, sizeof dir, "interval-fail");
  wal_options_t o = {.sync = WAL_SYNC_INTERVAL, .interval_ms = 10};
  wal_t *w = open_ok(dir, &o, NULL);
  recs_t model = {0};
  wal_test_fail_next_sync(EIO);
  append_many(w, &model, 1, 1);
  for (int i = 0; i < 500 && !wal_failed(w); i++) sleep_ms(10);
  ASSERT_EQ_INT(wal_failed(w), 1);
  expect_append_fails(w, "fdatasync");
  wal_close(w);
  recs_free(&model);
}

static void test_wal_none_policy_syncs_only_on_request(void) {
  char dir[4200];
  new_dir(dir, sizeof dir, "none");
  wal_options_t o = opts(WAL_SYNC_NONE, 1024);
  wal_t *w = open_ok(dir, &o, NULL);
  recs_t model = {0};
  append_many(w, &model, 20, 1);
  uint64_t count, ns;
  wal_sync_stats(w, &count, &ns);
  ASSERT_EQ_U64(count, 0);
  ASSERT_OK(wal_sync(w, NULL, 0));
  wal_sync_stats(w, &count, &ns);
  uint64_t seqs[256];
  ASSERT_EQ_U64(count, list_segments(dir, seqs, 256)); /* every segment synced */
  wal_close(w);
  w = open_ok(dir, &o, NULL);
  expect_replay(w, 0, &model);
  wal_close(w);
  recs_free(&model);
}

static void test_wal_fsync_policy_counts_syncs(void) {
  char dir[4200];
  new_dir(dir, sizeof dir, "fsync-stats");
  wal_t *w = open_ok(dir, NULL, NULL);
  uint64_t c0, n0, c1, n1;
  wal_sync_stats(w, &c0, &n0);
  recs_t model = {0};
  append_many(w, &model, 5, 1);
  wal_sync_stats(w, &c1, &n1);
  ASSERT_EQ_U64(c1, c0 + 5); /* one thread: one sync per group */
  ASSERT_TRUE(n1 > n0);
  wal_close(w);
  recs_free(&model);
}

/* ------------------------------------------------- CRC implementations -- */

/* A log written with one CRC32C path reads back with the other. */
static void test_wal_crc_paths_read_each_others_logs(void) {
  const char *paths[2] = {"table", NULL};
  for (int k = 0; k < 2; k++) {
    char dir[4200], name[32];
    snprintf(name, sizeof name, "crc-%d", k);
    new_dir(dir, sizeof dir, name);
    ASSERT_OK(crc32c_select(paths[k]));
    fprintf(stderr, "  writing with %s\n", crc32c_impl());
    wal_t *w = open_ok(dir, NULL, NULL);
    recs_t model = {0};
    append_many(w, &model, 6, 11);
    wal_close(w);
    ASSERT_OK(crc32c_select(paths[1 - k]));
    fprintf(stderr, "  reading with %s\n", crc32c_impl());
    w = open_ok(dir, NULL, NULL);
    expect_replay(w, 0, &model);
    append_many(w, &model, 2, 12);
    wal_close(w);
    recs_free(&model);
  }
  ASSERT_OK(crc32c_select(NULL));
}

CHECK_MAIN(CHECK_CASE(test_wal_replay_returns_groups_in_order),
           CHECK_CASE(test_wal_replay_after_seq_skips_older_records),
           CHECK_CASE(test_wal_seqs_continue_across_reopen),
           CHECK_CASE(test_wal_min_next_seq_starts_an_empty_log),
           CHECK_CASE(test_wal_min_next_seq_above_records_skips_ahead),
           CHECK_CASE(test_wal_append_refuses_invalid_groups),
           CHECK_CASE(test_wal_record_in_pieces_replays_as_one_payload),
           CHECK_CASE(test_wal_open_refuses_bad_arguments),
           CHECK_CASE(test_wal_second_open_is_refused_while_open),
           CHECK_CASE(test_wal_replay_stops_on_callback_error),
           CHECK_CASE(test_wal_torn_tail_at_every_byte_is_truncated),
           CHECK_CASE(test_wal_zero_filled_tail_is_truncated),
           CHECK_CASE(test_wal_torn_group_is_dropped_whole),
           CHECK_CASE(test_wal_torn_segment_header_is_dropped),
           CHECK_CASE(test_wal_bit_flip_in_middle_record_is_corrupt),
           CHECK_CASE(test_wal_bit_flip_in_closed_segment_is_corrupt),
           CHECK_CASE(test_wal_bit_flip_in_last_record_is_torn_tail),
           CHECK_CASE(test_wal_repeated_seqs_are_corrupt),
           CHECK_CASE(test_wal_missing_middle_segment_is_corrupt),
           CHECK_CASE(test_wal_foreign_segment_is_refused),
           CHECK_CASE(test_wal_future_version_is_refused),
           CHECK_CASE(test_wal_rollover_spreads_records_over_segments),
           CHECK_CASE(test_wal_remove_upto_removes_covered_closed_segments),
           CHECK_CASE(test_wal_roll_starts_a_new_segment),
           CHECK_CASE(test_wal_failed_write_is_sticky_and_dropped),
           CHECK_CASE(test_wal_failed_fsync_is_sticky_and_unacknowledged),
           CHECK_CASE(test_wal_failed_rollover_is_sticky),
           CHECK_CASE(test_wal_interval_policy_syncs_in_background),
           CHECK_CASE(test_wal_interval_sync_failure_fails_later_appends),
           CHECK_CASE(test_wal_none_policy_syncs_only_on_request),
           CHECK_CASE(test_wal_fsync_policy_counts_syncs),
           CHECK_CASE(test_wal_crc_paths_read_each_others_logs))
