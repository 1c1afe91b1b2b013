/*
 * test_text_bm25.c — the BM25 index (src/text/bm25.c): scores against an
 * independent computation from raw counts inside the test, exact N and df
 * after remove and replace (and after the purge of dead postings), the
 * filter callback, k larger than the matches, deterministic tie order
 * (score descending, then label ascending), parameter validation, refusals
 * that change nothing, counted memory, and the pruned search (no filter)
 * equal to the exhaustive one on a Zipf-like corpus, with a thread's
 * reused scratch equal to a fresh thread's.
 */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>

#include "akidb/text.h"
#include "check.h"
#include "util/mem.h"

/* ------------------------------------------------ reference computation -- */

/* The test's own copy of a corpus: per document its terms as counted by
   hand (the documents below use words that neither stem nor stop). */
typedef struct {
  uint64_t label;
  const char *text;
  bool live;
} ref_doc_t;

/* Occurrences of the space-separated word w in text (exact words). */
static int count_word(const char *text, const char *w) {
  int n = 0;
  size_t wl = strlen(w);
  for (const char *p = text; *p;) {
    while (*p == ' ') p++;
    const char *e = p;
    while (*e && *e != ' ') e++;
    if ((size_t)(e - p) == wl && memcmp(p, w, wl) == 0) n++;
    p = e;
  }
  return n;
}

static int count_words(const char *text) {
  int n = 0;
  for (const char *p = text; *p;) {
    while (*p == ' ') p++;
    if (!*p) break;
    n++;
    while (*p && *p != ' ') p++;
  }
  return n;
}

/* BM25 of one document for a one- or more-word query, from raw counts. */
static double ref_score(const ref_doc_t *docs, size_t n, size_t d, const char *query,
                        double k1, double b) {
  double N = 0, total = 0;
  for (size_t i = 0; i < n; i++)
    if (docs[i].live) {
      N++;
      total += count_words(docs[i].text);
    }
  double avgdl = total / N, dl = count_words(docs[d].text), s = 0;
  char q[256];
  snprintf(q, sizeof q, "%s", query);
  for (char *w = strtok(q, " "); w; w = strtok(NULL, " ")) {
    double df = 0;
    for (size_t i = 0; i < n; i++)
      if (docs[i].live && count_word(docs[i].text, w) > 0) df++;
    double tf = count_word(docs[d].text, w);
    if (tf == 0) continue;
    double idf = log(1 + (N - df + 0.5) / (df + 0.5));
    s += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl));
  }
  return s;
}

/* Words that the tokeniser keeps as they are (no stop word, stable stem). */
static ref_doc_t corpus[] = {
    {10, "wing wing flap", true},
    {20, "wing spar rib rib rib", true},
    {30, "shock shock wave nozzl", true},
    {40, "nozzl throat shock", true},
    {50, "rib spar", true},
    {60, "flap wing spar nozzl shock wave throat rib", true},
};
#define NCORPUS (sizeof corpus / sizeof corpus[0])

static akidb_text_bm25_t *make_index(const akidb_text_bm25_params_t *p) {
  akidb_text_bm25_t *ix = NULL;
  ASSERT_OK(akidb_text_bm25_create(p, NULL, &ix, NULL, 0));
  for (size_t i = 0; i < NCORPUS; i++)
    if (corpus[i].live)
      ASSERT_OK(akidb_text_bm25_add(ix, corpus[i].label, corpus[i].text, strlen(corpus[i].text), NULL));
  return ix;
}

/* Checks every hit's score and the hit set against the reference. */
static void check_against_reference(const akidb_text_bm25_t *ix, const char *query, double k1,
                                    double b) {
  akidb_text_hit_t hits[16];
  uint32_t n = 0;
  ASSERT_OK(akidb_text_bm25_search(ix, query, strlen(query), 16, NULL, NULL, hits, &n, NULL));
  size_t expected = 0;
  for (size_t d = 0; d < NCORPUS; d++)
    if (corpus[d].live && ref_score(corpus, NCORPUS, d, query, k1, b) > 0) expected++;
  ASSERT_EQ_INT(n, expected);
  for (uint32_t i = 0; i < n; i++) {
    size_t d = 0;
    while (corpus[d].label != hits[i].label) d++;
    ASSERT_TRUE(corpus[d].live);
    ASSERT_NEAR(hits[i].score, ref_score(corpus, NCORPUS, d, query, k1, b), 1e-12);
    if (i > 0) ASSERT_TRUE(hits[i - 1].score >= hits[i].score);
  }
}

static void reset_corpus(void) {
  for (size_t i = 0; i < NCORPUS; i++) corpus[i].live = true;
}

/* ----------------------------------------------------------------- tests -- */

static void test_scores_match_an_independent_computation(void) {
  reset_corpus();
  akidb_text_bm25_t *ix = make_index(NULL);
  check_against_reference(ix, "wing", 1.2, 0.75);
  check_against_reference(ix, "rib spar", 1.2, 0.75);
  check_against_reference(ix, "shock nozzl throat wave", 1.2, 0.75);
  check_against_reference(ix, "wing wing", 1.2, 0.75); /* repeated query term counts twice */
  akidb_text_bm25_free(ix);
  akidb_text_bm25_params_t p = {.k1 = 2.0, .b = 0.3};
  ix = make_index(&p);
  check_against_reference(ix, "rib spar flap", 2.0, 0.3);
  akidb_text_bm25_free(ix);
  p = (akidb_text_bm25_params_t){.k1 = 0.0, .b = 1.0};
  ix = make_index(&p);
  check_against_reference(ix, "shock wing", 0.0, 1.0);
  akidb_text_bm25_free(ix);
}

static void test_query_goes_through_the_same_pipeline(void) {
  reset_corpus();
  akidb_text_bm25_t *ix = make_index(NULL);
  akidb_text_hit_t a[8], b[8];
  uint32_t na, nb;
  ASSERT_OK(akidb_text_bm25_search(ix, "wing", 4, 8, NULL, NULL, a, &na, NULL));
  ASSERT_OK(akidb_text_bm25_search(ix, "The WINGS, of", 13, 8, NULL, NULL, b, &nb, NULL));
  ASSERT_EQ_INT(na, nb);
  for (uint32_t i = 0; i < na; i++) {
    ASSERT_EQ_U64(a[i].label, b[i].label);
    ASSERT_TRUE(a[i].score == b[i].score);
  }
  ASSERT_OK(akidb_text_bm25_search(ix, "the of and", 10, 8, NULL, NULL, a, &na, NULL));
  ASSERT_EQ_INT(na, 0);
  ASSERT_OK(akidb_text_bm25_search(ix, "unknownword", 11, 8, NULL, NULL, a, &na, NULL));
  ASSERT_EQ_INT(na, 0);
  akidb_text_bm25_free(ix);
}

static void test_remove_and_replace_keep_n_and_df_exact(void) {
  reset_corpus();
  akidb_text_bm25_t *ix = make_index(NULL);
  ASSERT_OK(akidb_text_bm25_remove(ix, 20));
  corpus[1].live = false;
  check_against_reference(ix, "rib spar wing", 1.2, 0.75);
  ASSERT_EQ_INT(akidb_text_bm25_remove(ix, 20), AKIDB_ENOTFOUND);
  /* replace 60's text: the new text counts, the old text is gone */
  ASSERT_OK(akidb_text_bm25_replace(ix, 60, "wave wave wave", 14, NULL));
  const char *old60 = corpus[5].text;
  corpus[5].text = "wave wave wave";
  check_against_reference(ix, "wave flap throat", 1.2, 0.75);
  akidb_text_bm25_stats_t st;
  akidb_text_bm25_stats(ix, &st);
  ASSERT_EQ_U64(st.documents, 5);
  ASSERT_NEAR(st.avg_length, (3.0 + 4 + 3 + 2 + 3) / 5, 1e-12);
  /* replace of a missing label adds it; add of a present one is refused */
  ASSERT_EQ_INT(akidb_text_bm25_add(ix, 60, "x", 1, NULL), AKIDB_EEXIST);
  ASSERT_OK(akidb_text_bm25_replace(ix, 20, "wing spar rib rib rib", 21, NULL));
  corpus[1].live = true;
  check_against_reference(ix, "rib spar wing wave", 1.2, 0.75);
  corpus[5].text = old60;
  akidb_text_bm25_free(ix);
}

static void test_stats_count_terms_and_postings(void) {
  reset_corpus();
  akidb_text_bm25_t *ix = make_index(NULL);
  akidb_text_bm25_stats_t st;
  akidb_text_bm25_stats(ix, &st);
  ASSERT_EQ_U64(st.documents, 6);
  ASSERT_EQ_U64(st.terms, 8); /* wing flap spar rib shock wave nozzl throat */
  ASSERT_EQ_U64(st.postings, 2 + 3 + 3 + 3 + 2 + 8);
  ASSERT_NEAR(st.avg_length, (3.0 + 5 + 4 + 3 + 2 + 8) / 6, 1e-12);
  ASSERT_OK(akidb_text_bm25_remove(ix, 60));
  akidb_text_bm25_stats(ix, &st);
  ASSERT_EQ_U64(st.postings, 13);
  ASSERT_EQ_U64(st.dead_postings, 8);
  ASSERT_EQ_U64(st.terms, 8);
  ASSERT_OK(akidb_text_bm25_remove(ix, 30));
  ASSERT_OK(akidb_text_bm25_remove(ix, 40));
  akidb_text_bm25_stats(ix, &st);
  ASSERT_EQ_U64(st.terms, 4); /* shock, wave, nozzl, throat are gone */
  akidb_text_bm25_free(ix);
}

/* Many adds and removes: dead postings get purged and slots reused, and
   every score still matches a fresh index over the surviving texts. */
static void test_churn_purges_dead_postings_without_changing_scores(void) {
  static const char *const words[] = {"wing", "flap", "spar", "rib", "shock", "wave",
                                      "nozzl", "throat", "plate", "cone"};
  akidb_text_bm25_t *ix, *fresh;
  ASSERT_OK(akidb_text_bm25_create(NULL, NULL, &ix, NULL, 0));
  enum { LABELS = 3000, OPS = 30000 };
  static char texts[LABELS][64];
  static bool live[LABELS];
  uint64_t s = 7;
  for (int op = 0; op < OPS; op++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t l = (uint32_t)(s >> 33) % LABELS;
    if (live[l] && (s >> 20) % 3 == 0) {
      ASSERT_OK(akidb_text_bm25_remove(ix, l));
      live[l] = false;
      continue;
    }
    size_t len = 0, nw = 1 + (s >> 40) % 5;
    for (size_t w = 0; w < nw; w++)
      len += (size_t)snprintf(texts[l] + len, sizeof texts[l] - len, "%s ",
                              words[(s >> (8 + 4 * w)) % 10]);
    ASSERT_OK(akidb_text_bm25_replace(ix, l, texts[l], len, NULL));
    live[l] = true;
  }
  ASSERT_OK(akidb_text_bm25_create(NULL, NULL, &fresh, NULL, 0));
  for (uint32_t l = 0; l < LABELS; l++)
    if (live[l]) ASSERT_OK(akidb_text_bm25_add(fresh, l, texts[l], strlen(texts[l]), NULL));
  akidb_text_bm25_stats_t a, b;
  akidb_text_bm25_stats(ix, &a);
  akidb_text_bm25_stats(fresh, &b);
  ASSERT_EQ_U64(a.documents, b.documents);
  ASSERT_EQ_U64(a.terms, b.terms);
  ASSERT_EQ_U64(a.postings, b.postings);
  ASSERT_TRUE(a.avg_length == b.avg_length);
  ASSERT_LE(a.dead_postings, a.postings > 4096 ? a.postings : 4096); /* purged as it goes */
  static akidb_text_hit_t ha[LABELS], hb[LABELS];
  for (size_t q = 0; q < 10; q++) {
    uint32_t na, nb;
    ASSERT_OK(akidb_text_bm25_search(ix, words[q], strlen(words[q]), LABELS, NULL, NULL, ha, &na, NULL));
    ASSERT_OK(akidb_text_bm25_search(fresh, words[q], strlen(words[q]), LABELS, NULL, NULL, hb, &nb, NULL));
    ASSERT_EQ_INT(na, nb);
    for (uint32_t i = 0; i < na; i++) {
      ASSERT_EQ_U64(ha[i].label, hb[i].label);
      ASSERT_NEAR(ha[i].score, hb[i].score, 1e-12);
    }
  }
  akidb_text_bm25_free(ix);
  akidb_text_bm25_free(fresh);
}

static bool keep_odd_tens(void *ctx, uint64_t label) {
  (*(int *)ctx)++;
  return (label / 10) % 2 == 1;
}

static void test_filter_callback_is_honoured(void) {
  reset_corpus();
  akidb_text_bm25_t *ix = make_index(NULL);
  akidb_text_hit_t hits[8];
  uint32_t n;
  int calls = 0;
  ASSERT_OK(akidb_text_bm25_search(ix, "wing spar rib shock", 19, 8, keep_odd_tens, &calls, hits, &n, NULL));
  ASSERT_GE(calls, 1);
  ASSERT_EQ_INT(n, 3); /* 10, 30, 50 */
  for (uint32_t i = 0; i < n; i++) ASSERT_EQ_INT((hits[i].label / 10) % 2, 1);
  akidb_text_bm25_free(ix);
}

static void test_k_larger_than_the_matches_returns_all_matches(void) {
  reset_corpus();
  akidb_text_bm25_t *ix = make_index(NULL);
  akidb_text_hit_t hits[100];
  uint32_t n;
  ASSERT_OK(akidb_text_bm25_search(ix, "throat", 6, 100, NULL, NULL, hits, &n, NULL));
  ASSERT_EQ_INT(n, 2);
  ASSERT_OK(akidb_text_bm25_search(ix, "wing", 4, 1, NULL, NULL, hits, &n, NULL));
  ASSERT_EQ_INT(n, 1);
  ASSERT_EQ_U64(hits[0].label, 10); /* tf 2 in a short document */
  akidb_text_bm25_free(ix);
}

static void test_ties_are_ordered_by_label(void) {
  akidb_text_bm25_t *ix;
  ASSERT_OK(akidb_text_bm25_create(NULL, NULL, &ix, NULL, 0));
  static const uint64_t labels[] = {900, 5, 77, 1ull << 40, 6, 300};
  for (size_t i = 0; i < 6; i++) ASSERT_OK(akidb_text_bm25_add(ix, labels[i], "cone plate", 10, NULL));
  ASSERT_OK(akidb_text_bm25_add(ix, 1000, "wing", 4, NULL));
  akidb_text_hit_t hits[4];
  uint32_t n;
  ASSERT_OK(akidb_text_bm25_search(ix, "cone", 4, 4, NULL, NULL, hits, &n, NULL));
  ASSERT_EQ_INT(n, 4);
  static const uint64_t want[] = {5, 6, 77, 300};
  for (int i = 0; i < 4; i++) {
    ASSERT_EQ_U64(hits[i].label, want[i]);
    ASSERT_TRUE(hits[i].score == hits[0].score);
  }
  akidb_text_bm25_free(ix);
}

static void test_bad_input_is_refused_and_changes_nothing(void) {
  akidb_text_bm25_t *ix = NULL;
  char err[128] = "";
  akidb_text_bm25_params_t p = {.k1 = -1, .b = 0.75};
  ASSERT_EQ_INT(akidb_text_bm25_create(&p, NULL, &ix, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "k1");
  p = (akidb_text_bm25_params_t){.k1 = 1.2, .b = 1.5};
  ASSERT_EQ_INT(akidb_text_bm25_create(&p, NULL, &ix, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "b 1.5");
  p.b = NAN;
  ASSERT_EQ_INT(akidb_text_bm25_create(&p, NULL, &ix, err, sizeof err), AKIDB_EINVAL);
  reset_corpus();
  ix = make_index(NULL);
  akidb_text_bm25_stats_t before, after;
  akidb_text_bm25_stats(ix, &before);
  size_t bad = 0;
  ASSERT_EQ_INT(akidb_text_bm25_add(ix, 99, "wing \xF4\x90\x80\x80", 9, &bad), AKIDB_EINVAL);
  ASSERT_EQ_U64(bad, 5);
  ASSERT_EQ_INT(akidb_text_bm25_replace(ix, 10, "ok \xC3", 4, &bad), AKIDB_EINVAL);
  ASSERT_EQ_U64(bad, 3);
  akidb_text_bm25_stats(ix, &after);
  ASSERT_TRUE(memcmp(&before, &after, sizeof before) == 0);
  ASSERT_TRUE(!akidb_text_bm25_contains(ix, 99));
  ASSERT_TRUE(akidb_text_bm25_contains(ix, 10));
  akidb_text_hit_t hits[2];
  uint32_t n = 9;
  ASSERT_EQ_INT(akidb_text_bm25_search(ix, "wing", 4, 0, NULL, NULL, hits, &n, NULL), AKIDB_EINVAL);
  ASSERT_EQ_INT(akidb_text_bm25_search(ix, "\xE0\x80\x80", 3, 2, NULL, NULL, hits, &n, &bad), AKIDB_EINVAL);
  ASSERT_EQ_U64(bad, 0);
  akidb_text_bm25_free(ix);
}

static void test_empty_text_is_a_document_of_length_zero(void) {
  akidb_text_bm25_t *ix;
  ASSERT_OK(akidb_text_bm25_create(NULL, NULL, &ix, NULL, 0));
  ASSERT_OK(akidb_text_bm25_add(ix, 1, "", 0, NULL));
  ASSERT_OK(akidb_text_bm25_add(ix, 2, "the of", 6, NULL));
  ASSERT_OK(akidb_text_bm25_add(ix, 3, "wing", 4, NULL));
  akidb_text_bm25_stats_t st;
  akidb_text_bm25_stats(ix, &st);
  ASSERT_EQ_U64(st.documents, 3);
  ASSERT_NEAR(st.avg_length, 1.0 / 3, 1e-15);
  ASSERT_OK(akidb_text_bm25_remove(ix, 1));
  ASSERT_OK(akidb_text_bm25_add(ix, 1, "", 0, NULL)); /* its slot is reused at once */
  akidb_text_bm25_free(ix);
}

static void test_memory_is_counted_and_returned(void) {
  akidb_memacct_t parent;
  mem_acct_init(&parent, NULL);
  akidb_text_bm25_t *ix;
  ASSERT_OK(akidb_text_bm25_create(NULL, &parent, &ix, NULL, 0));
  akidb_text_bm25_stats_t st;
  akidb_text_bm25_stats(ix, &st);
  ASSERT_GE(st.memory_bytes, sizeof(void *));
  ASSERT_EQ_INT(mem_acct_bytes(&parent), st.memory_bytes);
  char text[64];
  for (int i = 0; i < 5000; i++) {
    int len = snprintf(text, sizeof text, "term%d shared word%d", i, i % 50);
    ASSERT_OK(akidb_text_bm25_add(ix, (uint64_t)i, text, (size_t)len, NULL));
  }
  akidb_text_bm25_stats(ix, &st);
  ASSERT_GE(st.memory_bytes, 5000 * (8 + 3 * 8)); /* at least the postings and docs */
  ASSERT_EQ_INT(mem_acct_bytes(&parent), st.memory_bytes);
  akidb_text_bm25_free(ix);
  ASSERT_EQ_INT(mem_acct_bytes(&parent), 0);
}

/* ------------------------------------------ pruning and thread scratch -- */

enum { ZDOCS = 6000, ZQUERIES = 300, ZK = 10, ZVOCAB = 3000 };
static char zdocs[ZDOCS][200];
static char zqueries[ZQUERIES][64];
static akidb_text_hit_t zfresh[ZQUERIES][ZK];
static uint32_t zfresh_n[ZQUERIES];

/* Word w of a vocabulary of letter strings ("qa", "qb", ... by base 26). */
static size_t zword(uint32_t w, char *out) {
  size_t n = 0;
  out[n++] = 'q';
  do {
    out[n++] = (char)('a' + w % 26);
    w /= 26;
  } while (w);
  out[n++] = 'x';
  return n;
}

/* A Zipf-like word rank: frequent words far more often. */
static uint32_t zrank(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  double u = (double)(*s >> 11) / 9007199254740992.0;
  return (uint32_t)pow((double)ZVOCAB, u) - 1;
}

static void zipf_corpus(void) {
  uint64_t s = 99;
  for (int d = 0; d < ZDOCS; d++) {
    size_t len = 0, nw = 5 + d % 20;
    for (size_t i = 0; i < nw; i++) {
      len += zword(zrank(&s), zdocs[d] + len);
      zdocs[d][len++] = ' ';
    }
    zdocs[d][len] = '\0';
  }
  for (int q = 0; q < ZQUERIES; q++) {
    size_t len = 0, nw = 1 + q % 4;
    for (size_t i = 0; i < nw; i++) {
      len += zword(zrank(&s), zqueries[q] + len);
      zqueries[q][len++] = ' ';
    }
    zqueries[q][len] = '\0';
  }
}

static bool keep_odd(void *ctx, uint64_t label) {
  (void)ctx;
  return label % 2 == 1;
}

static void *search_all_in_fresh_thread(void *arg) {
  akidb_text_bm25_t *ix = arg;
  for (int q = 0; q < ZQUERIES; q++)
    if (akidb_text_bm25_search(ix, zqueries[q], strlen(zqueries[q]), ZK, NULL, NULL, zfresh[q],
                               &zfresh_n[q], NULL))
      return arg;
  return NULL;
}

/* With k small the search prunes (documents first met in common terms once
 * they cannot reach the k-th best kept score); with k above the number of
 * documents it cannot. The first k of the unpruned answer must be the
 * pruned answer, hit for hit and bit for bit, with and without a filter;
 * and a thread's reused scratch (searched on a smaller index in between)
 * must answer as a fresh thread's. */
static void test_pruned_search_equals_exhaustive_search(void) {
  zipf_corpus();
  akidb_text_bm25_t *ix, *small;
  ASSERT_OK(akidb_text_bm25_create(NULL, NULL, &ix, NULL, 0));
  ASSERT_OK(akidb_text_bm25_create(NULL, NULL, &small, NULL, 0));
  for (int d = 0; d < ZDOCS; d++) {
    ASSERT_OK(akidb_text_bm25_add(ix, (uint64_t)d, zdocs[d], strlen(zdocs[d]), NULL));
    if (d < 50) ASSERT_OK(akidb_text_bm25_add(small, (uint64_t)d, zdocs[d], strlen(zdocs[d]), NULL));
  }
  for (int d = 0; d < ZDOCS; d += 7) ASSERT_OK(akidb_text_bm25_remove(ix, (uint64_t)d));
  pthread_t th;
  void *failed = NULL;
  ASSERT_OK(pthread_create(&th, NULL, search_all_in_fresh_thread, ix));
  ASSERT_OK(pthread_join(th, &failed));
  ASSERT_TRUE(failed == NULL);
  static akidb_text_hit_t full[ZDOCS];
  akidb_text_hit_t pruned[ZK], tiny[ZK];
  for (int q = 0; q < ZQUERIES; q++) {
    uint32_t np, nf, nt;
    size_t ql = strlen(zqueries[q]);
    for (int filtered = 0; filtered < 2; filtered++) {
      bool (*keep)(void *, uint64_t) = filtered ? keep_odd : NULL;
      ASSERT_OK(akidb_text_bm25_search(small, zqueries[q], ql, ZK, NULL, NULL, tiny, &nt, NULL));
      ASSERT_OK(akidb_text_bm25_search(ix, zqueries[q], ql, ZK, keep, NULL, pruned, &np, NULL));
      ASSERT_OK(akidb_text_bm25_search(ix, zqueries[q], ql, ZDOCS, keep, NULL, full, &nf, NULL));
      ASSERT_EQ_INT(np, nf < ZK ? nf : ZK);
      if (!filtered) ASSERT_EQ_INT(np, zfresh_n[q]);
      for (uint32_t i = 0; i < np; i++) {
        ASSERT_EQ_U64(pruned[i].label, full[i].label);
        ASSERT_TRUE(pruned[i].score == full[i].score);
        if (filtered) {
          ASSERT_EQ_U64(pruned[i].label % 2, 1);
        } else {
          ASSERT_EQ_U64(pruned[i].label, zfresh[q][i].label);
          ASSERT_TRUE(pruned[i].score == zfresh[q][i].score);
        }
      }
    }
  }
  akidb_text_bm25_free(ix);
  akidb_text_bm25_free(small);
}

CHECK_MAIN(CHECK_CASE(test_scores_match_an_independent_computation),
           CHECK_CASE(test_query_goes_through_the_same_pipeline),
           CHECK_CASE(test_remove_and_replace_keep_n_and_df_exact),
           CHECK_CASE(test_stats_count_terms_and_postings),
           CHECK_CASE(test_churn_purges_dead_postings_without_changing_scores),
           CHECK_CASE(test_filter_callback_is_honoured),
           CHECK_CASE(test_k_larger_than_the_matches_returns_all_matches),
           CHECK_CASE(test_ties_are_ordered_by_label),
           CHECK_CASE(test_bad_input_is_refused_and_changes_nothing),
           CHECK_CASE(test_empty_text_is_a_document_of_length_zero),
           CHECK_CASE(test_memory_is_counted_and_returned),
           CHECK_CASE(test_pruned_search_equals_exhaustive_search))
