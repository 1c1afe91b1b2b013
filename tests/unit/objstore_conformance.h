/*
 * objstore_conformance.h — one table of behaviour every object-store kind
 * must show (include/akidb/objstore.h), run by test_objstore (local) and
 * test_objstore_s3 (S3 against s3rver). Each case gets an open store and a
 * fresh key prefix (`p`, ending in '/') so cases never see each other's keys.
 */
#ifndef AKIDB_TEST_OBJSTORE_CONFORMANCE_H
#define AKIDB_TEST_OBJSTORE_CONFORMANCE_H

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/objstore.h"
#include "check.h"
#include "store/crc32c.h"

/* ------------------------------------------------------- data and sinks */

/* Deterministic bytes: a 64-bit LCG's top byte, streamed. */
typedef struct {
  uint64_t state;
  uint64_t left;
} gen_t;

static inline uint8_t gen_byte(gen_t *g) {
  g->state = g->state * 6364136223846793005ull + 1442695040888963407ull;
  return (uint8_t)(g->state >> 56);
}

static inline void gen_fill(uint64_t seed, uint8_t *buf, size_t n) {
  gen_t g = {seed, n};
  for (size_t i = 0; i < n; i++) buf[i] = gen_byte(&g);
}

/* put source: `left` bytes of the generator, in reads of any size. */
static inline ssize_t gen_read(void *ctx, void *buf, size_t len) {
  gen_t *g = ctx;
  size_t n = len < g->left ? len : (size_t)g->left;
  uint8_t *b = buf;
  for (size_t i = 0; i < n; i++) b[i] = gen_byte(g);
  g->left -= n;
  return (ssize_t)n;
}

/* get sink comparing against the generator (no buffer). */
typedef struct {
  gen_t g;
  uint64_t n;
  uint64_t mismatch_at; /* UINT64_MAX when none */
} gen_check_t;

static inline int gen_check_write(void *ctx, const void *buf, size_t len) {
  gen_check_t *c = ctx;
  const uint8_t *b = buf;
  for (size_t i = 0; i < len; i++)
    if (gen_byte(&c->g) != b[i] && c->mismatch_at == UINT64_MAX) c->mismatch_at = c->n + i;
  c->n += len;
  return 0;
}

/* get sink collecting into memory. */
typedef struct {
  uint8_t *p;
  size_t n, cap;
} membuf_t;

static inline int membuf_write(void *ctx, const void *buf, size_t len) {
  membuf_t *m = ctx;
  if (m->n + len > m->cap) {
    size_t cap = m->cap ? m->cap : 1024;
    while (cap < m->n + len) cap *= 2;
    m->p = realloc(m->p, cap);
    ASSERT_TRUE(m->p != NULL);
    m->cap = cap;
  }
  memcpy(m->p + m->n, buf, len);
  m->n += len;
  return 0;
}

static inline char *keyf(char *buf, size_t n, const char *p, const char *k) {
  snprintf(buf, n, "%s%s", p, k);
  return buf;
}

/* Gets `key` fully into m (reset first). */
static inline int get_all(akidb_objstore_t *s, const char *key, membuf_t *m, char *err) {
  m->n = 0;
  return akidb_objstore_get(s, key, NULL, membuf_write, m, NULL, err, 512);
}

/* ------------------------------------------------------------------ cases */

static inline void conf_roundtrip(akidb_objstore_t *s, const char *p) {
  char k[256], err[512] = "";
  size_t sizes[] = {0, 1, 1000, 300000};
  membuf_t m = {0};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = sizes[i];
    uint8_t *data = malloc(n + 1);
    gen_fill(i + 7, data, n);
    char name[32];
    snprintf(name, sizeof name, "obj-%zu", n);
    keyf(k, sizeof k, p, name);
    akidb_objstore_result_t res;
    int rc = akidb_objstore_put_buffer(s, k, data, n, &res, err, sizeof err);
    if (rc) CHECK_FAIL("put %s: %d %s", k, rc, err);
    ASSERT_EQ_U64(res.size, n);
    ASSERT_EQ_U64(res.crc32c, crc32c(0, data, n));
    ASSERT_EQ_INT(strlen(res.etag), 32);
    rc = get_all(s, k, &m, err);
    if (rc) CHECK_FAIL("get %s: %d %s", k, rc, err);
    ASSERT_EQ_U64(m.n, n);
    ASSERT_TRUE(n == 0 || memcmp(m.p, data, n) == 0);
    akidb_objstore_info_t info;
    ASSERT_OK(akidb_objstore_head(s, k, &info, err, sizeof err));
    ASSERT_EQ_U64(info.size, n);
    ASSERT_TRUE(info.has_crc32c);
    ASSERT_EQ_U64(info.crc32c, res.crc32c);
    ASSERT_TRUE(strcmp(info.etag, res.etag) == 0);
    ASSERT_TRUE(info.last_modified > 1600000000);
    free(data);
  }
  free(m.p);
}

static inline void conf_metadata(akidb_objstore_t *s, const char *p) {
  char k[256], err[512] = "";
  keyf(k, sizeof k, p, "with-meta");
  akidb_objstore_meta_t meta[] = {{"collection", "c1"}, {"format-version", "3 \"q\""}};
  gen_t g = {99, 5000};
  akidb_objstore_put_options_t po = {-1, meta, 2};
  akidb_objstore_result_t res;
  ASSERT_OK(akidb_objstore_put(s, k, gen_read, &g, &po, &res, err, sizeof err));
  akidb_objstore_info_t info;
  ASSERT_OK(akidb_objstore_head(s, k, &info, err, sizeof err));
  ASSERT_EQ_INT(info.nmeta, 2);
  int seen = 0;
  for (size_t i = 0; i < info.nmeta; i++) {
    if (strcmp(info.meta[i].name, "collection") == 0 && strcmp(info.meta[i].value, "c1") == 0)
      seen |= 1;
    if (strcmp(info.meta[i].name, "format-version") == 0 &&
        strcmp(info.meta[i].value, "3 \"q\"") == 0)
      seen |= 2;
  }
  ASSERT_EQ_INT(seen, 3);
  /* reserved and malformed names are refused before anything is sent */
  akidb_objstore_meta_t bad[] = {{"akidb-crc32c", "0"}};
  akidb_objstore_put_options_t pb = {-1, bad, 1};
  g = (gen_t){1, 10};
  ASSERT_EQ_INT(akidb_objstore_put(s, k, gen_read, &g, &pb, NULL, err, sizeof err),
                AKIDB_EINVAL);
  akidb_objstore_meta_t upper[] = {{"Upper", "x"}};
  pb.meta = upper;
  g = (gen_t){1, 10};
  ASSERT_EQ_INT(akidb_objstore_put(s, k, gen_read, &g, &pb, NULL, err, sizeof err),
                AKIDB_EINVAL);
}

static inline void conf_range(akidb_objstore_t *s, const char *p) {
  char k[256], err[512] = "";
  keyf(k, sizeof k, p, "ranged");
  uint8_t data[10000];
  gen_fill(3, data, sizeof data);
  ASSERT_OK(akidb_objstore_put_buffer(s, k, data, sizeof data, NULL, err, sizeof err));
  membuf_t m = {0};
  struct {
    uint64_t off, len, want_off, want_len;
  } cases[] = {{0, 10, 0, 10},       {100, 1, 100, 1},   {9990, 0, 9990, 10},
               {9990, 100, 9990, 10}, {5000, 2500, 5000, 2500}, {10000, 0, 0, 0},
               {20000, 5, 0, 0}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    m.n = 0;
    akidb_objstore_get_options_t go = {cases[i].off, cases[i].len, false, 0, 0};
    int rc = akidb_objstore_get(s, k, &go, membuf_write, &m, NULL, err, sizeof err);
    if (rc) CHECK_FAIL("range %zu: %d %s", i, rc, err);
    ASSERT_EQ_U64(m.n, cases[i].want_len);
    ASSERT_TRUE(m.n == 0 || memcmp(m.p, data + cases[i].want_off, m.n) == 0);
  }
  free(m.p);
}

/* read_at: exact ranges in place; a range past the end is ECORRUPT. */
static inline void conf_read_at(akidb_objstore_t *s, const char *p) {
  char k[256], err[512] = "";
  keyf(k, sizeof k, p, "read-at");
  uint8_t data[70000], got[70000];
  gen_fill(11, data, sizeof data);
  ASSERT_OK(akidb_objstore_put_buffer(s, k, data, sizeof data, NULL, err, sizeof err));
  uint64_t offs[] = {0, 1, 4096, 69999, 12345};
  size_t lens[] = {70000, 10, 65536, 1, 0};
  for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
    memset(got, 0, sizeof got);
    int rc = akidb_objstore_read_at(s, k, offs[i], got, lens[i], err, sizeof err);
    if (rc) CHECK_FAIL("read_at %llu+%zu: %d %s", (unsigned long long)offs[i], lens[i], rc, err);
    ASSERT_TRUE(memcmp(got, data + offs[i], lens[i]) == 0);
  }
  ASSERT_EQ_INT(akidb_objstore_read_at(s, k, 69990, got, 20, err, sizeof err), AKIDB_ECORRUPT);
  ASSERT_STR_CONTAINS(err, "ends before byte 70010");
}

/* put_many: every item stored with its checksum; a bad item stops the
 * batch with its own code and message, and the good ones it ran are whole. */
static inline void conf_put_many(akidb_objstore_t *s, const char *p) {
  enum { N = 24 };
  char keys[N][256], err[512] = "";
  uint8_t data[N][2000];
  akidb_objstore_buffer_src_t src[N];
  akidb_objstore_put_item_t items[N];
  for (int i = 0; i < N; i++) {
    char name[32];
    snprintf(name, sizeof name, "many-%02d", i);
    keyf(keys[i], sizeof keys[i], p, name);
    gen_fill(100 + (uint64_t)i, data[i], sizeof data[i]);
    size_t len = 100 * (size_t)(i % 20);
    src[i] = (akidb_objstore_buffer_src_t){data[i], len, 0};
    items[i] = (akidb_objstore_put_item_t){.key = keys[i], .read = akidb_objstore_buffer_read,
                                           .read_ctx = &src[i], .opts = {.size = (int64_t)len}};
  }
  int rc = akidb_objstore_put_many(s, items, N, 4, err, sizeof err);
  if (rc) CHECK_FAIL("put_many: %d %s", rc, err);
  membuf_t m = {0};
  for (int i = 0; i < N; i++) {
    ASSERT_TRUE(items[i].attempted);
    ASSERT_EQ_INT(items[i].rc, 0);
    ASSERT_EQ_U64(items[i].result.crc32c, crc32c(0, data[i], src[i].len));
    ASSERT_OK(get_all(s, keys[i], &m, err));
    ASSERT_EQ_U64(m.n, src[i].len);
    ASSERT_TRUE(m.n == 0 || memcmp(m.p, data[i], m.n) == 0);
  }
  /* item 5 announces more bytes than its source has */
  for (int i = 0; i < N; i++) src[i].off = 0;
  items[5].opts.size = (int64_t)src[5].len + 7;
  rc = akidb_objstore_put_many(s, items, N, 1, err, sizeof err);
  ASSERT_EQ_INT(rc, AKIDB_EINVAL);
  ASSERT_TRUE(items[5].attempted && items[5].rc == AKIDB_EINVAL);
  ASSERT_TRUE(strcmp(err, items[5].err) == 0 && err[0]);
  for (int i = 6; i < N; i++) ASSERT_TRUE(!items[i].attempted); /* one worker: in order */
  for (int i = 0; i < 5; i++) ASSERT_EQ_INT(items[i].rc, 0);
  free(m.p);
}

typedef struct {
  char key[128]; /* first member: entries sort by key with strcmp */
  uint64_t size;
} listed_entry_t;

typedef struct {
  listed_entry_t e[64];
  int n;
} listed_t;

static inline int collect_key(void *ctx, const akidb_objstore_entry_t *e) {
  listed_t *l = ctx;
  if (l->n < 64) {
    snprintf(l->e[l->n].key, sizeof l->e[0].key, "%s", e->key);
    l->e[l->n].size = e->size;
  }
  l->n++;
  return 0;
}

static inline void conf_list_prefixes(akidb_objstore_t *s, const char *p) {
  char k[256], err[512] = "";
  const char *names[] = {"b/2", "a/1", "a/2", "a-x", "b/1/deep", "c"};
  for (size_t i = 0; i < 6; i++) {
    keyf(k, sizeof k, p, names[i]);
    ASSERT_OK(akidb_objstore_put_buffer(s, k, names[i], strlen(names[i]), NULL, err,
                                        sizeof err));
  }
  listed_t l = {0};
  ASSERT_OK(akidb_objstore_list(s, p, collect_key, &l, err, sizeof err));
  ASSERT_EQ_INT(l.n, 6);
  /* S3 and the local kind list in byte order ('-' (0x2d) before '/'
   * (0x2f)); s3rver walks its directories instead, so compare sorted */
  qsort(l.e, (size_t)l.n, sizeof l.e[0], (int (*)(const void *, const void *))strcmp);
  const char *order[] = {"a-x", "a/1", "a/2", "b/1/deep", "b/2", "c"};
  for (int i = 0; i < 6; i++) {
    keyf(k, sizeof k, p, order[i]);
    if (strcmp(l.e[i].key, k) != 0) CHECK_FAIL("list[%d] = %s, want %s", i, l.e[i].key, k);
    ASSERT_EQ_U64(l.e[i].size, strlen(order[i]));
  }
  memset(&l, 0, sizeof l);
  ASSERT_OK(akidb_objstore_list(s, keyf(k, sizeof k, p, "a/"), collect_key, &l, err, sizeof err));
  ASSERT_EQ_INT(l.n, 2);
  memset(&l, 0, sizeof l);
  ASSERT_OK(akidb_objstore_list(s, keyf(k, sizeof k, p, "b"), collect_key, &l, err, sizeof err));
  ASSERT_EQ_INT(l.n, 2);
  memset(&l, 0, sizeof l);
  ASSERT_OK(akidb_objstore_list(s, keyf(k, sizeof k, p, "zzz"), collect_key, &l, err, sizeof err));
  ASSERT_EQ_INT(l.n, 0);
}

static inline int count_key(void *ctx, const akidb_objstore_entry_t *e) {
  (void)e;
  (*(int *)ctx)++;
  return 0;
}

static inline int stop_at_3(void *ctx, const akidb_objstore_entry_t *e) {
  (void)e;
  return ++(*(int *)ctx) == 3 ? 42 : 0;
}

/* More keys than one S3 page (1,000). */
static inline void conf_list_many(akidb_objstore_t *s, const char *p, int n) {
  char k[256], err[512] = "";
  for (int i = 0; i < n; i++) {
    char name[32];
    snprintf(name, sizeof name, "many/%05d", i);
    int rc = akidb_objstore_put_buffer(s, keyf(k, sizeof k, p, name), name, 4, NULL, err,
                                       sizeof err);
    if (rc) CHECK_FAIL("put %d: %s", i, err);
  }
  int count = 0;
  int rc = akidb_objstore_list(s, keyf(k, sizeof k, p, "many/"), count_key, &count, err,
                               sizeof err);
  if (rc) CHECK_FAIL("list of %d keys: %d %s", n, rc, err);
  ASSERT_EQ_INT(count, n);
  count = 0;
  ASSERT_EQ_INT(akidb_objstore_list(s, keyf(k, sizeof k, p, "many/"), stop_at_3, &count, err,
                                    sizeof err),
                42);
  ASSERT_EQ_INT(count, 3);
}

static inline void conf_delete_idempotent(akidb_objstore_t *s, const char *p) {
  char k[256], err[512] = "";
  keyf(k, sizeof k, p, "doomed");
  ASSERT_OK(akidb_objstore_put_buffer(s, k, "x", 1, NULL, err, sizeof err));
  ASSERT_OK(akidb_objstore_delete(s, k, err, sizeof err));
  ASSERT_OK(akidb_objstore_delete(s, k, err, sizeof err)); /* absent: still OK */
  membuf_t m = {0};
  ASSERT_EQ_INT(get_all(s, k, &m, err), AKIDB_ENOTFOUND);
  ASSERT_STR_CONTAINS(err, "doomed");
  akidb_objstore_info_t info;
  ASSERT_EQ_INT(akidb_objstore_head(s, k, &info, err, sizeof err), AKIDB_ENOTFOUND);
  ASSERT_OK(akidb_objstore_delete(s, keyf(k, sizeof k, p, "never/existed"), err, sizeof err));
  free(m.p);
}

static inline void conf_overwrite(akidb_objstore_t *s, const char *p) {
  char k[256], err[512] = "";
  keyf(k, sizeof k, p, "twice");
  ASSERT_OK(akidb_objstore_put_buffer(s, k, "first version", 13, NULL, err, sizeof err));
  ASSERT_OK(akidb_objstore_put_buffer(s, k, "second", 6, NULL, err, sizeof err));
  membuf_t m = {0};
  ASSERT_OK(get_all(s, k, &m, err));
  ASSERT_EQ_U64(m.n, 6);
  ASSERT_TRUE(memcmp(m.p, "second", 6) == 0);
  free(m.p);
}

static inline void conf_writer(akidb_objstore_t *s, const char *p) {
  char k[256], err[512] = "";
  keyf(k, sizeof k, p, "streamed");
  akidb_objstore_writer_t *w;
  ASSERT_OK(akidb_objstore_writer_open(s, k, NULL, 0, &w, err, sizeof err));
  uint8_t chunk[7000];
  uint32_t crc = 0;
  for (int i = 0; i < 50; i++) {
    gen_fill((uint64_t)i, chunk, sizeof chunk);
    crc = crc32c(crc, chunk, sizeof chunk);
    ASSERT_OK(akidb_objstore_writer_write(w, chunk, sizeof chunk, err, sizeof err));
  }
  /* not visible before commit */
  akidb_objstore_info_t info;
  ASSERT_EQ_INT(akidb_objstore_head(s, k, &info, err, sizeof err), AKIDB_ENOTFOUND);
  akidb_objstore_result_t res;
  ASSERT_OK(akidb_objstore_writer_commit(w, &res, err, sizeof err));
  ASSERT_EQ_U64(res.size, 50 * sizeof chunk);
  ASSERT_EQ_U64(res.crc32c, crc);
  ASSERT_OK(akidb_objstore_head(s, k, &info, err, sizeof err));
  ASSERT_EQ_U64(info.size, res.size);

  /* abort leaves nothing */
  keyf(k, sizeof k, p, "aborted");
  ASSERT_OK(akidb_objstore_writer_open(s, k, NULL, 0, &w, err, sizeof err));
  ASSERT_OK(akidb_objstore_writer_write(w, chunk, sizeof chunk, err, sizeof err));
  akidb_objstore_writer_abort(w);
  ASSERT_EQ_INT(akidb_objstore_head(s, k, &info, err, sizeof err), AKIDB_ENOTFOUND);
  int count = 0;
  ASSERT_OK(akidb_objstore_list(s, p, count_key, &count, err, sizeof err));
  ASSERT_EQ_INT(count, 1); /* only "streamed" */
}

static inline void conf_expected_checksum(akidb_objstore_t *s, const char *p) {
  char k[256], err[512] = "";
  keyf(k, sizeof k, p, "checked");
  uint8_t data[4096];
  gen_fill(11, data, sizeof data);
  akidb_objstore_result_t res;
  ASSERT_OK(akidb_objstore_put_buffer(s, k, data, sizeof data, &res, err, sizeof err));
  membuf_t m = {0};
  akidb_objstore_get_options_t go = {0, 0, true, res.size, res.crc32c};
  ASSERT_OK(akidb_objstore_get(s, k, &go, membuf_write, &m, NULL, err, sizeof err));
  go.expected_crc32c ^= 1;
  m.n = 0;
  ASSERT_EQ_INT(akidb_objstore_get(s, k, &go, membuf_write, &m, NULL, err, sizeof err),
                AKIDB_ECORRUPT);
  ASSERT_STR_CONTAINS(err, "checksum mismatch");
  go.expected_crc32c ^= 1;
  go.expected_size = res.size + 1;
  m.n = 0;
  ASSERT_EQ_INT(akidb_objstore_get(s, k, &go, membuf_write, &m, NULL, err, sizeof err),
                AKIDB_ECORRUPT);
  free(m.p);
}

static inline void conf_unsafe_keys(akidb_objstore_t *s, const char *p) {
  (void)p;
  const char *bad[] = {"", "/abs", "a//b", "a/", "../x", "a/../b", "a/./b", ".", "..",
                       "x.tmp-123", "ctl\001char", "bad\xff utf8"};
  char err[512];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    int rc = akidb_objstore_put_buffer(s, bad[i], "x", 1, NULL, err, sizeof err);
    if (rc != AKIDB_EINVAL) CHECK_FAIL("key \"%s\" gave %d, want EINVAL", bad[i], rc);
    ASSERT_TRUE(err[0] != '\0');
    membuf_t m = {0};
    ASSERT_EQ_INT(get_all(s, bad[i], &m, err), AKIDB_EINVAL);
    ASSERT_EQ_INT(akidb_objstore_delete(s, bad[i], err, sizeof err), AKIDB_EINVAL);
  }
  char longkey[AKIDB_OBJSTORE_KEY_MAX + 2];
  memset(longkey, 'k', sizeof longkey - 1);
  longkey[sizeof longkey - 1] = '\0';
  ASSERT_EQ_INT(akidb_objstore_put_buffer(s, longkey, "x", 1, NULL, err, sizeof err),
                AKIDB_EINVAL);
}

static inline void conf_odd_keys(akidb_objstore_t *s, const char *p) {
  const char *names[] = {"sp ace", "plus+eq=amp&q?", "hash#pct%tilde~bang!", "ünï/日本語",
                         "emoji😀", "quote\"apos'lt<gt>"};
  char k[256], err[512] = "";
  membuf_t m = {0};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    keyf(k, sizeof k, p, names[i]);
    int rc = akidb_objstore_put_buffer(s, k, names[i], strlen(names[i]), NULL, err, sizeof err);
    if (rc) CHECK_FAIL("put \"%s\": %s", k, err);
    ASSERT_OK(get_all(s, k, &m, err));
    ASSERT_EQ_U64(m.n, strlen(names[i]));
    ASSERT_TRUE(memcmp(m.p, names[i], m.n) == 0);
  }
  listed_t l = {0};
  ASSERT_OK(akidb_objstore_list(s, p, collect_key, &l, err, sizeof err));
  ASSERT_EQ_INT(l.n, (int)(sizeof names / sizeof names[0]));
  for (int i = 0; i < l.n; i++) {
    int found = 0;
    for (size_t j = 0; j < sizeof names / sizeof names[0]; j++)
      if (strcmp(l.e[i].key, keyf(k, sizeof k, p, names[j])) == 0) found = 1;
    if (!found) CHECK_FAIL("listed key \"%s\" is none of those put", l.e[i].key);
  }
  free(m.p);
}

static inline void conf_announced_size(akidb_objstore_t *s, const char *p) {
  char k[256], err[512] = "";
  keyf(k, sizeof k, p, "sized");
  gen_t g = {5, 100};
  akidb_objstore_put_options_t po = {200, NULL, 0};
  ASSERT_EQ_INT(akidb_objstore_put(s, k, gen_read, &g, &po, NULL, err, sizeof err),
                AKIDB_EINVAL);
  g = (gen_t){5, 300};
  ASSERT_EQ_INT(akidb_objstore_put(s, k, gen_read, &g, &po, NULL, err, sizeof err),
                AKIDB_EINVAL);
  akidb_objstore_info_t info;
  ASSERT_EQ_INT(akidb_objstore_head(s, k, &info, err, sizeof err), AKIDB_ENOTFOUND);
}

typedef struct {
  akidb_objstore_t *s;
  const char *p;
  int id;
  int failures;
} conc_arg_t;

static inline void *conc_worker(void *arg) {
  conc_arg_t *a = arg;
  char k[256], name[64], err[512];
  membuf_t m = {0};
  for (int i = 0; i < 25; i++) {
    snprintf(name, sizeof name, "t%d/%d", a->id, i);
    keyf(k, sizeof k, a->p, name);
    uint8_t data[3000];
    gen_fill((uint64_t)(a->id * 1000 + i), data, sizeof data);
    int rc = akidb_objstore_put_buffer(a->s, k, data, sizeof data, NULL, err, sizeof err);
    const char *step = "put";
    if (!rc) {
      step = "get";
      rc = get_all(a->s, k, &m, err);
    }
    if (!rc && (m.n != sizeof data || memcmp(m.p, data, m.n) != 0)) {
      step = "compare";
      rc = -1;
    }
    if (rc) {
      fprintf(stderr, "concurrent: %s of %s failed (%d): %s\n", step, k, rc, err);
      a->failures++;
    }
  }
  free(m.p);
  return NULL;
}

static inline void conf_concurrent(akidb_objstore_t *s, const char *p) {
  enum { T = 6 };
  pthread_t th[T];
  conc_arg_t args[T];
  for (int i = 0; i < T; i++) {
    args[i] = (conc_arg_t){s, p, i, 0};
    ASSERT_OK(pthread_create(&th[i], NULL, conc_worker, &args[i]));
  }
  int failures = 0;
  for (int i = 0; i < T; i++) {
    pthread_join(th[i], NULL);
    failures += args[i].failures;
  }
  ASSERT_EQ_INT(failures, 0);
  int count = 0;
  char err[512];
  ASSERT_OK(akidb_objstore_list(s, p, count_key, &count, err, sizeof err));
  ASSERT_EQ_INT(count, T * 25);
  akidb_objstore_stats_t st;
  akidb_objstore_stats(s, &st);
  ASSERT_GE(st.op[AKIDB_OBJSTORE_OP_PUT].calls, T * 25);
  ASSERT_GE(st.op[AKIDB_OBJSTORE_OP_GET].bytes_in, T * 25 * 3000);
  ASSERT_EQ_U64(st.op[AKIDB_OBJSTORE_OP_PUT].latency_le[AKIDB_OBJSTORE_LATENCY_NBOUNDS],
                st.op[AKIDB_OBJSTORE_OP_PUT].calls);
}

typedef struct {
  const char *name;
  void (*fn)(akidb_objstore_t *s, const char *prefix);
} conf_case_t;

static const conf_case_t conformance_cases[] = {
    {"roundtrip", conf_roundtrip},
    {"metadata", conf_metadata},
    {"range", conf_range},
    {"read_at", conf_read_at},
    {"put_many", conf_put_many},
    {"list_prefixes", conf_list_prefixes},
    {"delete_idempotent", conf_delete_idempotent},
    {"overwrite", conf_overwrite},
    {"writer", conf_writer},
    {"expected_checksum", conf_expected_checksum},
    {"unsafe_keys", conf_unsafe_keys},
    {"odd_keys", conf_odd_keys},
    {"announced_size", conf_announced_size},
    {"concurrent", conf_concurrent},
};

/* Runs every case against `s`, each under "<run>/<case>/". */
static inline void conformance_run(akidb_objstore_t *s, const char *run) {
  for (size_t i = 0; i < sizeof conformance_cases / sizeof conformance_cases[0]; i++) {
    char p[128];
    snprintf(p, sizeof p, "%s/%s/", run, conformance_cases[i].name);
    fprintf(stderr, "  conformance %s (%s)\n", conformance_cases[i].name,
            akidb_objstore_kind(s));
    conformance_cases[i].fn(s, p);
  }
}

#endif /* AKIDB_TEST_OBJSTORE_CONFORMANCE_H */
