/*
 * test_store_text.c — a collection's BM25 index of its points' text
 * (src/store/text.c, akidb_collection_text_search): found right after the
 * write, in BM25 order with the scores of an index built directly from the
 * same texts; a replaced point's old text and a deleted point's text no
 * longer match; the payload filter applies; the index comes back whole
 * after a close and after a crash (rebuilt from the checkpoint and the
 * log); a collection opened without it refuses text searches; a query that
 * is not UTF-8 is refused with its byte offset.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "akidb/store.h"
#include "akidb/text.h"
#include "check.h"
#include "tmpdir.h"

#define DIM 4u

static char dir[8192];

/* A new, empty collection directory for the next test (under tmpdir.h's root). */
static void fresh_dir(void) {
  static int n;
  char name[32];
  snprintf(name, sizeof name, "c%d", n++);
  tmpdir_path(dir, sizeof dir, "akidb-store-text", name);
}

static void quiet_log(void *ctx, akidb_log_level_t level, const char *msg) {
  (void)ctx, (void)level, (void)msg;
}

static akidb_collection_options_t options(void) {
  akidb_collection_options_t o;
  akidb_collection_options_default(&o, DIM, AKIDB_METRIC_L2);
  o.durability = AKIDB_DURABILITY_FSYNC;
  o.log = quiet_log;
  return o;
}

static akidb_collection_t *open_c(const akidb_collection_options_t *o) {
  akidb_collection_t *c = NULL;
  char err[512] = "";
  int rc = akidb_collection_open(dir, o, &c, NULL, err, sizeof err);
  if (rc) CHECK_FAIL("open %s: %d %s", dir, rc, err);
  return c;
}

static void close_c(akidb_collection_t *c) {
  char err[512] = "";
  int rc = akidb_collection_close(c, err, sizeof err);
  if (rc) CHECK_FAIL("close: %d %s", rc, err);
}

static const char *const TEXTS[] = {
    "the boundary layer of a flat plate in supersonic flow",
    "heat transfer in the laminar boundary layer",
    "buckling of thin cylindrical shells under axial load",
    "supersonic flow past a cone: shock waves and pressure",
    "the flutter of a wing panel in supersonic flow",
    NULL, /* point 5 has no text */
};
#define N_TEXTS 6

/* Upserts point i ("p<i>") with TEXTS[i] (or `text` when given). */
static void put(akidb_collection_t *c, int i, const char *text) {
  char id[16], payload[32];
  snprintf(id, sizeof id, "p%d", i);
  snprintf(payload, sizeof payload, "{\"even\":%s}", i % 2 ? "false" : "true");
  float v[DIM] = {(float)i, 1, 2, 3};
  const char *t = text ? text : TEXTS[i];
  akidb_point_t p = {.id = id, .id_len = strlen(id), .vector = v, .payload = payload,
                     .payload_len = strlen(payload), .text = t, .text_len = t ? strlen(t) : 0};
  char err[256] = "";
  int rc = akidb_collection_upsert(c, &p, 1, err, sizeof err);
  if (rc) CHECK_FAIL("upsert p%d: %d %s", i, rc, err);
}

static void put_all(akidb_collection_t *c) {
  for (int i = 0; i < N_TEXTS; i++) put(c, i, NULL);
}

/* The text search's ids, comma separated, and their scores. */
static int text_search(akidb_collection_t *c, const char *q, uint32_t k,
                       const akidb_point_filter_t *f, char *ids, size_t len, float *scores) {
  akidb_search_options_t o = {.k = k, .filter = f, .include_payload = true};
  akidb_search_result_t r;
  char err[256] = "";
  int rc = akidb_collection_text_search(c, q, strlen(q), &o, &r, err, sizeof err);
  if (rc) return rc;
  ids[0] = '\0';
  for (uint32_t i = 0; i < r.n; i++) {
    size_t used = strlen(ids);
    snprintf(ids + used, len - used, "%s%s", i ? "," : "", r.hits[i].id);
    if (scores) scores[i] = r.hits[i].score;
    ASSERT_TRUE(r.hits[i].text != NULL); /* payload and text come with include_payload */
  }
  akidb_search_result_free(&r);
  return AKIDB_OK;
}

static void expect_ids(akidb_collection_t *c, const char *q, const char *want) {
  char ids[256];
  ASSERT_OK(text_search(c, q, 10, NULL, ids, sizeof ids, NULL));
  if (strcmp(ids, want) != 0) CHECK_FAIL("query '%s': got [%s], expected [%s]", q, ids, want);
}

/* The same texts in a bare BM25 index: the scores the collection must give. */
static void reference_scores(const char *q, double *scores, uint32_t *n) {
  akidb_text_bm25_t *ix;
  ASSERT_OK(akidb_text_bm25_create(NULL, NULL, &ix, NULL, 0));
  for (int i = 0; i < N_TEXTS; i++)
    if (TEXTS[i]) ASSERT_OK(akidb_text_bm25_add(ix, (uint64_t)i + 1, TEXTS[i], strlen(TEXTS[i]), NULL));
  akidb_text_hit_t hits[10];
  ASSERT_OK(akidb_text_bm25_search(ix, q, strlen(q), 10, NULL, NULL, hits, n, NULL));
  for (uint32_t i = 0; i < *n; i++) scores[i] = hits[i].score;
  akidb_text_bm25_free(ix);
}

static void test_text_search_finds_written_points_in_bm25_order(void) {
  fresh_dir();
  akidb_collection_options_t o = options();
  akidb_collection_t *c = open_c(&o);
  put_all(c);
  char ids[256];
  float got[10];
  double want[10];
  uint32_t n;
  ASSERT_OK(text_search(c, "supersonic flow", 10, NULL, ids, sizeof ids, got));
  reference_scores("supersonic flow", want, &n);
  ASSERT_EQ_INT(n, 3);
  for (uint32_t i = 0; i < n; i++)
    if (fabs(got[i] - want[i]) > 1e-5 * want[i]) CHECK_FAIL("score %u: %g vs %g", i, got[i], want[i]);
  /* the three supersonic abstracts; the shorter ones rank higher at equal tf */
  ASSERT_TRUE(strstr(ids, "p0") && strstr(ids, "p3") && strstr(ids, "p4"));
  expect_ids(c, "buckling", "p2");
  expect_ids(c, "nothing matches this", "");
  close_c(c);
}

static void test_replace_and_delete_change_what_matches(void) {
  fresh_dir();
  akidb_collection_options_t o = options();
  akidb_collection_t *c = open_c(&o);
  put_all(c);
  put(c, 2, "an aeroelastic wing");
  expect_ids(c, "buckling", "");
  expect_ids(c, "aeroelastic", "p2");
  const char *del = "p3";
  size_t del_len = 2, deleted = 0;
  ASSERT_OK(akidb_collection_delete(c, &del, &del_len, 1, &deleted, NULL, 0));
  ASSERT_EQ_INT(deleted, 1);
  expect_ids(c, "cone shock", "");
  put(c, 1, NULL); /* same text again: still one document */
  expect_ids(c, "laminar heat", "p1");
  close_c(c);
}

static int only_even(void *ctx, const char *id, size_t id_len, const char *payload,
                     size_t payload_len) {
  (void)ctx, (void)id, (void)id_len, (void)payload_len;
  return payload && strstr(payload, "\"even\":true") != NULL;
}

static void test_filter_applies_to_text_search(void) {
  fresh_dir();
  akidb_collection_options_t o = options();
  akidb_collection_t *c = open_c(&o);
  put_all(c);
  akidb_point_filter_t f = {.allow = only_even};
  char ids[256];
  ASSERT_OK(text_search(c, "supersonic flow", 10, &f, ids, sizeof ids, NULL));
  ASSERT_TRUE(strcmp(ids, "p0,p4") == 0 || strcmp(ids, "p4,p0") == 0);
  ASSERT_OK(text_search(c, "supersonic flow", 1, NULL, ids, sizeof ids, NULL));
  ASSERT_TRUE(strchr(ids, ',') == NULL && ids[0] == 'p');
  close_c(c);
}

static void test_index_comes_back_after_close(void) {
  fresh_dir();
  akidb_collection_options_t o = options();
  akidb_collection_t *c = open_c(&o);
  put_all(c);
  put(c, 2, "an aeroelastic wing");
  char before[256], after[256];
  ASSERT_OK(text_search(c, "supersonic wing flow", 10, NULL, before, sizeof before, NULL));
  close_c(c);
  c = open_c(&o);
  ASSERT_OK(text_search(c, "supersonic wing flow", 10, NULL, after, sizeof after, NULL));
  if (strcmp(before, after) != 0) CHECK_FAIL("before [%s], after reopen [%s]", before, after);
  expect_ids(c, "buckling", "");
  close_c(c);
}

static void crashing_writer(void) {
  akidb_collection_options_t o = options();
  akidb_collection_t *c = open_c(&o);
  put_all(c);
  put(c, 2, "an aeroelastic wing");
  _exit(0); /* no close, no checkpoint: the log alone holds the writes */
}

static void test_index_comes_back_after_a_crash(void) {
  fresh_dir();
  fflush(NULL);
  pid_t pid = fork();
  ASSERT_TRUE(pid >= 0);
  if (pid == 0) crashing_writer();
  int st = 0;
  ASSERT_TRUE(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
  akidb_collection_options_t o = options();
  akidb_collection_t *c = open_c(&o);
  expect_ids(c, "aeroelastic", "p2");
  expect_ids(c, "buckling", "");
  expect_ids(c, "laminar", "p1");
  close_c(c);
}

static void test_without_text_index_text_search_is_refused(void) {
  fresh_dir();
  akidb_collection_options_t o = options();
  o.text_index = false;
  akidb_collection_t *c = open_c(&o);
  put_all(c);
  char ids[64];
  ASSERT_EQ_INT(text_search(c, "flow", 10, NULL, ids, sizeof ids, NULL), AKIDB_ENOTSUP);
  close_c(c);
}

static void test_bad_query_and_bad_options_are_refused(void) {
  fresh_dir();
  akidb_collection_options_t o = options();
  akidb_collection_t *c = open_c(&o);
  put_all(c);
  akidb_search_options_t so = {.k = 10};
  akidb_search_result_t r;
  char err[256] = "";
  ASSERT_EQ_INT(akidb_collection_text_search(c, "ab\xff", 3, &so, &r, err, sizeof err),
                AKIDB_EINVAL);
  ASSERT_TRUE(strstr(err, "byte 2") != NULL);
  so.k = 0;
  ASSERT_EQ_INT(akidb_collection_text_search(c, "flow", 4, &so, &r, err, sizeof err),
                AKIDB_EINVAL);
  close_c(c);
  akidb_collection_options_t bad = options();
  bad.bm25.b = 1.5;
  ASSERT_EQ_INT(akidb_collection_options_validate(&bad, err, sizeof err), AKIDB_EINVAL);
  ASSERT_TRUE(strstr(err, "b 1.5") != NULL);
}

CHECK_MAIN(CHECK_CASE(test_text_search_finds_written_points_in_bm25_order),
           CHECK_CASE(test_replace_and_delete_change_what_matches),
           CHECK_CASE(test_filter_applies_to_text_search),
           CHECK_CASE(test_index_comes_back_after_close),
           CHECK_CASE(test_index_comes_back_after_a_crash),
           CHECK_CASE(test_without_text_index_text_search_is_refused),
           CHECK_CASE(test_bad_query_and_bad_options_are_refused))
