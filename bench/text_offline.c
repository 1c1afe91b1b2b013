/*
 * bench/text_offline.c — the text engine measured offline (no server): on
 * Cranfield 1400 (datasets/cranfield/), nDCG@10 and recall@100 of the BM25
 * index, of the built-in embedder with exact cosine top-k at a few
 * dimensions, and of their reciprocal-rank fusion (RRF, k = 60); the
 * embedder's throughput (MB of text per second on one core); and the BM25
 * bulk build of 100k generated short documents. Prints a report; the
 * integrated `make bench-text` writes bench/results/text.md later.
 *
 *   text_offline [--data DIR] [--dims 128,256,384,768] [--bulk N] [--tune]
 *   text_offline --throughput   only the embedder's MB/s at the default
 *                               dimension, one line "embed_mb_per_s X"
 *                               (bench/text.py reads it)
 *
 * Evaluation rules (bench/text_bm25_ref.py uses the same): queries are
 * numbered by position (1..225); gain = 5 - relevance for relevance 1..4,
 * anything else or unlisted is 0; nDCG@10 with log2(rank + 1) discounts
 * and the ideal ordering of all judged gains of the query, averaged over
 * queries with at least one relevant document; recall@100 = relevant
 * documents in the top 100 / relevant documents. Ties: score descending,
 * then document number ascending.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "akidb/text.h"
#include "bench_util.h"
#include "text/embed.h"

#define TOPK 100
#define RRF_K 60.0

typedef struct {
  char **docs; /* docs[i] = text of document i + 1 */
  size_t ndocs;
  char **queries;
  size_t nqueries;
  int8_t *rel; /* rel[q * ndocs + d] = relevance 1..4, or 0 */
} corpus_t;

typedef struct {
  uint32_t doc; /* 0-based */
  double score;
} ranked_t;

/* ------------------------------------------------------------ loading -- */

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) bench_die("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = bench_xmalloc((size_t)n + 1);
  if (fread(buf, 1, (size_t)n, f) != (size_t)n) bench_die("cannot read %s", path);
  buf[n] = '\0';
  fclose(f);
  if (len) *len = (size_t)n;
  return buf;
}

/* Appends s[0..n) to a growing string. */
static void append(char **dst, size_t *len, const char *s, size_t n) {
  *dst = realloc(*dst, *len + n + 1);
  if (!*dst) bench_die("out of memory");
  memcpy(*dst + *len, s, n);
  *len += n;
  (*dst)[*len] = '\0';
}

/*
 * Parses a SMART file: records start with ".I"; the text of the fields in
 * `keep` (e.g. "TW") is collected, fields joined by '\n'. Returns the count.
 */
static size_t parse_smart(const char *path, const char *keep, char ***out) {
  char *buf = read_file(path, NULL);
  size_t n = 0, cap = 0, len = 0;
  char **recs = NULL;
  bool in_field = false;
  for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
    if (line[0] == '.' && line[1] && (line[2] == '\0' || line[2] == ' ' || line[2] == '\r')) {
      if (line[1] == 'I') {
        if (n == cap) recs = realloc(recs, (cap = cap ? cap * 2 : 2048) * sizeof *recs);
        recs[n++] = calloc(1, 1);
        len = 0;
        in_field = false;
        continue;
      }
      in_field = strchr(keep, line[1]) != NULL;
      if (in_field && len > 0) append(&recs[n - 1], &len, "\n", 1);
      continue;
    }
    if (in_field && n > 0) {
      if (len > 0 && recs[n - 1][len - 1] != '\n') append(&recs[n - 1], &len, "\n", 1);
      append(&recs[n - 1], &len, line, strlen(line));
    }
  }
  free(buf);
  *out = recs;
  return n;
}

static void load_corpus(const char *dir, corpus_t *c) {
  char path[4096];
  snprintf(path, sizeof path, "%s/cran.all.1400", dir);
  c->ndocs = parse_smart(path, "TW", &c->docs);
  snprintf(path, sizeof path, "%s/cran.qry", dir);
  c->nqueries = parse_smart(path, "W", &c->queries);
  c->rel = bench_xcalloc(c->nqueries * c->ndocs, 1);
  snprintf(path, sizeof path, "%s/cranqrel", dir);
  char *buf = read_file(path, NULL);
  for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
    long q, d, r;
    if (sscanf(line, "%ld %ld %ld", &q, &d, &r) != 3) continue;
    if (q < 1 || (size_t)q > c->nqueries || d < 1 || (size_t)d > c->ndocs) continue;
    if (r >= 1 && r <= 4) c->rel[(size_t)(q - 1) * c->ndocs + (size_t)(d - 1)] = (int8_t)r;
  }
  free(buf);
}

/* --------------------------------------------------------- evaluation -- */

typedef struct {
  double ndcg10, recall100;
  size_t evaluated;
} quality_t;

static int cmp_ranked(const void *a, const void *b) {
  const ranked_t *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return x->doc < y->doc ? -1 : x->doc > y->doc;
}

static int cmp_gain_desc(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return y - x;
}

/* Adds one query's nDCG@10 and recall@100 of a ranking (best first). */
static void evaluate(const corpus_t *c, size_t q, const ranked_t *r, size_t n,
                     quality_t *acc) {
  const int8_t *rel = c->rel + q * c->ndocs;
  int gains[2048];
  size_t ng = 0, relevant = 0;
  for (size_t d = 0; d < c->ndocs; d++)
    if (rel[d]) {
      gains[ng++] = 5 - rel[d];
      relevant++;
    }
  if (relevant == 0) return;
  qsort(gains, ng, sizeof *gains, cmp_gain_desc);
  double dcg = 0, idcg = 0;
  for (size_t i = 0; i < 10 && i < ng; i++) idcg += gains[i] / log2((double)i + 2);
  size_t found = 0;
  for (size_t i = 0; i < n && i < TOPK; i++) {
    int g = rel[r[i].doc] ? 5 - rel[r[i].doc] : 0;
    if (i < 10) dcg += g / log2((double)i + 2);
    if (g) found++;
  }
  acc->ndcg10 += dcg / idcg;
  acc->recall100 += (double)found / (double)relevant;
  acc->evaluated++;
}

static void finish(quality_t *q) {
  if (q->evaluated) {
    q->ndcg10 /= (double)q->evaluated;
    q->recall100 /= (double)q->evaluated;
  }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* --------------------------------------------------------------- BM25 -- */

/* BM25 top-100 of every query into runs[q * TOPK ..], counts in nrun[q]. */
static quality_t run_bm25(const corpus_t *c, ranked_t *runs, size_t *nrun) {
  akidb_text_bm25_t *ix;
  if (akidb_text_bm25_create(NULL, NULL, &ix, NULL, 0)) bench_die("bm25 create");
  for (size_t d = 0; d < c->ndocs; d++)
    if (akidb_text_bm25_add(ix, d + 1, c->docs[d], strlen(c->docs[d]), NULL))
      bench_die("bm25 add %zu", d + 1);
  quality_t qual = {0};
  akidb_text_hit_t hits[TOPK];
  for (size_t q = 0; q < c->nqueries; q++) {
    uint32_t n = 0;
    if (akidb_text_bm25_search(ix, c->queries[q], strlen(c->queries[q]), TOPK, NULL, NULL,
                               hits, &n, NULL))
      bench_die("bm25 search %zu", q + 1);
    for (uint32_t i = 0; i < n; i++)
      runs[q * TOPK + i] = (ranked_t){(uint32_t)(hits[i].label - 1), hits[i].score};
    nrun[q] = n;
    evaluate(c, q, runs + q * TOPK, n, &qual);
  }
  akidb_text_bm25_free(ix);
  finish(&qual);
  return qual;
}

/* ------------------------------------------------------------ embedder -- */

/* Exact cosine top-100 with the embedder at dim (params p). */
static quality_t run_embed(const corpus_t *c, const text_embed_params_t *p, uint32_t dim,
                           ranked_t *runs, size_t *nrun) {
  float *dv = bench_xmalloc(c->ndocs * dim * sizeof *dv);
  float *qv = bench_xmalloc(dim * sizeof *qv);
  ranked_t *all = bench_xmalloc(c->ndocs * sizeof *all);
  for (size_t d = 0; d < c->ndocs; d++) {
    int rc = text_embed_with(p, c->docs[d], strlen(c->docs[d]), dim, dv + d * dim, NULL,
                             NULL, 0);
    if (rc == AKIDB_EVALUE) memset(dv + d * dim, 0, dim * sizeof *dv);
    else if (rc) bench_die("embed doc %zu: %d", d + 1, rc);
  }
  quality_t qual = {0};
  for (size_t q = 0; q < c->nqueries; q++) {
    if (text_embed_with(p, c->queries[q], strlen(c->queries[q]), dim, qv, NULL, NULL, 0))
      bench_die("embed query %zu", q + 1);
    for (size_t d = 0; d < c->ndocs; d++) {
      double s = 0;
      for (uint32_t i = 0; i < dim; i++) s += (double)qv[i] * dv[d * dim + i];
      all[d] = (ranked_t){(uint32_t)d, s};
    }
    qsort(all, c->ndocs, sizeof *all, cmp_ranked);
    size_t n = c->ndocs < TOPK ? c->ndocs : TOPK;
    if (runs) {
      memcpy(runs + q * TOPK, all, n * sizeof *all);
      nrun[q] = n;
    }
    evaluate(c, q, all, n, &qual);
  }
  free(dv);
  free(qv);
  free(all);
  finish(&qual);
  return qual;
}

/* ----------------------------------------------------------------- RRF -- */

/* Fuses two top-100 runs: score = sum of w / (60 + rank), rank from 1
   (w 1 for run a, wb for run b). */
static quality_t run_rrf(const corpus_t *c, const ranked_t *a, const size_t *na,
                         const ranked_t *b, const size_t *nb, double wb) {
  double *fused = bench_xcalloc(c->ndocs, sizeof *fused);
  ranked_t *all = bench_xmalloc(c->ndocs * sizeof *all);
  quality_t qual = {0};
  for (size_t q = 0; q < c->nqueries; q++) {
    memset(fused, 0, c->ndocs * sizeof *fused);
    for (size_t i = 0; i < na[q]; i++) fused[a[q * TOPK + i].doc] += 1.0 / (RRF_K + (double)i + 1);
    for (size_t i = 0; i < nb[q]; i++) fused[b[q * TOPK + i].doc] += wb / (RRF_K + (double)i + 1);
    size_t n = 0;
    for (size_t d = 0; d < c->ndocs; d++)
      if (fused[d] > 0) all[n++] = (ranked_t){(uint32_t)d, fused[d]};
    qsort(all, n, sizeof *all, cmp_ranked);
    evaluate(c, q, all, n < TOPK ? n : TOPK, &qual);
  }
  free(fused);
  free(all);
  finish(&qual);
  return qual;
}

/* Fuses two top-100 runs by min-max normalised scores: alpha x run b +
   (1 - alpha) x run a, a run that did not find a document adding 0
   (src/service/fusion.c's linear method; both runs' scores grow with
   relevance here). */
static quality_t run_linear(const corpus_t *c, const ranked_t *a, const size_t *na,
                            const ranked_t *b, const size_t *nb, double alpha) {
  double *fused = bench_xcalloc(c->ndocs, sizeof *fused);
  unsigned char *seen = bench_xcalloc(c->ndocs, 1);
  ranked_t *all = bench_xmalloc(c->ndocs * sizeof *all);
  quality_t qual = {0};
  for (size_t q = 0; q < c->nqueries; q++) {
    memset(fused, 0, c->ndocs * sizeof *fused);
    memset(seen, 0, c->ndocs);
    const ranked_t *runs[2] = {a + q * TOPK, b + q * TOPK};
    size_t ns[2] = {na[q], nb[q]};
    double w[2] = {1.0 - alpha, alpha};
    for (int r = 0; r < 2; r++) {
      if (ns[r] == 0) continue;
      double hi = runs[r][0].score, lo = runs[r][ns[r] - 1].score;
      for (size_t i = 0; i < ns[r]; i++) {
        double norm = hi > lo ? (runs[r][i].score - lo) / (hi - lo) : 1.0;
        fused[runs[r][i].doc] += w[r] * norm;
        seen[runs[r][i].doc] = 1;
      }
    }
    size_t n = 0;
    for (size_t d = 0; d < c->ndocs; d++)
      if (seen[d]) all[n++] = (ranked_t){(uint32_t)d, fused[d]};
    qsort(all, n, sizeof *all, cmp_ranked);
    evaluate(c, q, all, n < TOPK ? n : TOPK, &qual);
  }
  free(fused);
  free(seen);
  free(all);
  finish(&qual);
  return qual;
}

/* --------------------------------------------------------- throughput -- */

/* This thread's CPU seconds. */
static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* MB of text per CPU second of akidb_text_embed over the Cranfield texts,
 * one thread, >= 2 s (per core: the thread's own CPU time, not the wall
 * clock, so a busy machine does not lower it). */
static double embed_throughput(const corpus_t *c, uint32_t dim) {
  float *v = bench_xmalloc(dim * sizeof *v);
  size_t bytes = 0;
  double t0 = now_s(), c0 = cpu_s();
  do {
    for (size_t d = 0; d < c->ndocs; d++) {
      size_t len = strlen(c->docs[d]);
      akidb_text_embed(c->docs[d], len, dim, v, NULL, NULL, 0);
      bytes += len;
    }
  } while (now_s() - t0 < 2.0);
  double t = cpu_s() - c0;
  free(v);
  return (double)bytes / t / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* A seeded xorshift64*. */
static uint64_t rng(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 0x2545f4914f6cdd1dull;
}

/*
 * n generated short documents (8..40 words from a 50k-word vocabulary with
 * Zipf-like frequencies), added one by one. Prints time and memory.
 */
static void bulk_build(size_t n) {
  enum { VOCAB = 50000 };
  static char words[VOCAB][12];
  uint64_t s = 42;
  for (size_t w = 0; w < VOCAB; w++) {
    size_t len = 3 + rng(&s) % 8;
    for (size_t i = 0; i < len; i++) words[w][i] = (char)('a' + rng(&s) % 26);
    words[w][len] = '\0';
  }
  char **docs = bench_xmalloc(n * sizeof *docs);
  size_t total = 0;
  for (size_t d = 0; d < n; d++) {
    char buf[1024];
    size_t len = 0, nw = 8 + rng(&s) % 33;
    for (size_t i = 0; i < nw; i++) {
      /* rank ~ 1/u: frequent words much more often */
      double u = (double)(rng(&s) >> 11) / 9007199254740992.0;
      size_t w = (size_t)(pow((double)VOCAB, u)) - 1;
      len += (size_t)snprintf(buf + len, sizeof buf - len, "%s ", words[w % VOCAB]);
    }
    docs[d] = strdup(buf);
    total += len;
  }
  akidb_text_bm25_t *ix;
  akidb_text_bm25_create(NULL, NULL, &ix, NULL, 0);
  double t0 = now_s();
  for (size_t d = 0; d < n; d++)
    if (akidb_text_bm25_add(ix, d, docs[d], strlen(docs[d]), NULL)) bench_die("bulk add");
  double t = now_s() - t0;
  akidb_text_bm25_stats_t st;
  akidb_text_bm25_stats(ix, &st);
  printf("| BM25 bulk build, %zu generated docs (%.1f MB, avg %.1f terms) | %.3f s "
         "(%.0f docs/s) | memory %.1f MB, %" PRIu64 " terms |\n",
         n, (double)total / 1e6, st.avg_length, t, (double)n / t,
         (double)st.memory_bytes / 1e6, st.terms);
  /* query latency on it */
  akidb_text_hit_t hits[10];
  uint32_t nh;
  t0 = now_s();
  for (size_t q = 0; q < 1000; q++)
    akidb_text_bm25_search(ix, docs[q * 7 % n], strlen(docs[q * 7 % n]), 10, NULL, NULL, hits,
                           &nh, NULL);
  printf("| BM25 search on it, whole documents as queries, k = 10 | %.3f ms mean | |\n",
         (now_s() - t0) / 1000 * 1e3);
  /* short queries: 1..4 words of the same distribution, k = 50 (hybrid's
     default candidates), latency percentiles */
  enum { SHORT = 2000 };
  static double lat[SHORT];
  akidb_text_hit_t many[50];
  for (size_t q = 0; q < SHORT; q++) {
    char buf[128];
    size_t len = 0, nw = 1 + q % 4;
    for (size_t i = 0; i < nw; i++) {
      double u = (double)(rng(&s) >> 11) / 9007199254740992.0;
      size_t w = (size_t)(pow((double)VOCAB, u)) - 1;
      len += (size_t)snprintf(buf + len, sizeof buf - len, "%s ", words[w % VOCAB]);
    }
    double q0 = now_s();
    akidb_text_bm25_search(ix, buf, len, 50, NULL, NULL, many, &nh, NULL);
    lat[q] = (now_s() - q0) * 1e3;
  }
  qsort(lat, SHORT, sizeof *lat, cmp_double);
  printf("| BM25 search on it, 1-4 word queries, k = 50 | p50 %.3f ms, p99 %.3f ms, max %.3f ms "
         "| |\n", lat[SHORT / 2], lat[SHORT * 99 / 100], lat[SHORT - 1]);
  akidb_text_bm25_free(ix);
  for (size_t d = 0; d < n; d++) free(docs[d]);
  free(docs);
}

/* --------------------------------------------------------------- tune -- */

/* ------------------------------------------------------ oracle idf -- */
/* An experiment only: the corpus's own IDF as a term weight, to measure
   what a frequency prior could give at best (not shipped). */
typedef struct {
  char term[72];
  uint32_t df;
} df_entry_t;
static df_entry_t *df_tab;
static size_t df_n, df_docs;
static uint32_t df_doc_stamp[1 << 16];

static int df_count(void *ctx, const char *tok, size_t len) {
  size_t d = *(size_t *)ctx;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)tok[i]) * 1099511628211ull;
  size_t i = h & 0xffff;
  while (df_tab[i].term[0] && (strlen(df_tab[i].term) != len || memcmp(df_tab[i].term, tok, len)))
    i = (i + 1) & 0xffff;
  if (!df_tab[i].term[0]) {
    memcpy(df_tab[i].term, tok, len);
    df_n++;
  }
  if (df_doc_stamp[i] != d + 1) {
    df_doc_stamp[i] = (uint32_t)d + 1;
    df_tab[i].df++;
  }
  return 0;
}

static float oracle_idf(void *ctx, const char *term, size_t len) {
  (void)ctx;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)term[i]) * 1099511628211ull;
  size_t i = h & 0xffff;
  while (df_tab[i].term[0] && (strlen(df_tab[i].term) != len || memcmp(df_tab[i].term, term, len)))
    i = (i + 1) & 0xffff;
  double df = df_tab[i].term[0] ? df_tab[i].df : 0;
  return (float)log(1.0 + ((double)df_docs - df + 0.5) / (df + 0.5));
}

static void build_oracle(const corpus_t *c) {
  df_tab = bench_xcalloc(1 << 16, sizeof *df_tab);
  df_docs = c->ndocs;
  for (size_t d = 0; d < c->ndocs; d++)
    akidb_text_tokenize(c->docs[d], strlen(c->docs[d]), AKIDB_TEXT_TERMS, df_count, &d, NULL);
}

/* Sweeps the embedder's tunables at dim, printing nDCG@10 of each. */
static void tune(const corpus_t *c, uint32_t dim) {
  build_oracle(c);
  const char *spec = getenv("TEXT_TUNE"); /* "dim bigram char nmin nmax pivot oracle;..." */
  if (spec) {
    char *dup = strdup(spec);
    for (char *one = strtok(dup, ";"); one; one = strtok(NULL, ";")) {
      text_embed_params_t p = text_embed_defaults;
      unsigned d, nmin, nmax;
      int oracle;
      if (sscanf(one, "%u %f %f %u %u %f %d", &d, &p.w_bigram, &p.w_char, &nmin, &nmax,
                 &p.len_pivot, &oracle) != 7)
        bench_die("bad TEXT_TUNE entry %s", one);
      p.ngram_min = nmin;
      p.ngram_max = nmax;
      if (oracle) p.term_weight = oracle_idf;
      quality_t q = run_embed(c, &p, d, NULL, NULL);
      printf("tune %s: nDCG@10 %.4f recall@100 %.4f\n", one, q.ndcg10, q.recall100);
      fflush(stdout);
    }
    return;
  }
  static const float pivots[] = {0.0f, 4.0f, 6.0f, 8.0f, 10.0f};
  for (int oracle = 0; oracle < 2; oracle++)
    for (size_t i = 0; i < sizeof pivots / sizeof *pivots; i++) {
      text_embed_params_t p = text_embed_defaults;
      p.len_pivot = pivots[i];
      if (oracle) p.term_weight = oracle_idf;
      quality_t q = run_embed(c, &p, dim, NULL, NULL);
      printf("tune dim=%u len_pivot=%.0f oracle_idf=%d: nDCG@10 %.4f recall@100 %.4f\n", dim,
             p.len_pivot, oracle, q.ndcg10, q.recall100);
      fflush(stdout);
    }
  if (getenv("TEXT_TUNE_FEATURES") == NULL) return;
  static const float wb[] = {0.0f, 0.25f, 0.5f, 1.0f};
  static const float wc[] = {0.0f, 0.1f, 0.2f, 0.35f, 0.5f};
  static const uint32_t nmin[] = {3, 4}, nmax[] = {4, 5, 6};
  for (size_t a = 0; a < sizeof wb / sizeof *wb; a++)
    for (size_t b = 0; b < sizeof wc / sizeof *wc; b++)
      for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < 3; j++)
          for (int term = 0; term < 2; term++) {
            if (nmax[j] < nmin[i] || (wc[b] == 0 && (i || j || term))) continue;
            text_embed_params_t p = text_embed_defaults;
            p.w_bigram = wb[a];
            p.w_char = wc[b];
            p.ngram_min = nmin[i];
            p.ngram_max = nmax[j];
            p.char_of_term = term;
            quality_t q = run_embed(c, &p, dim, NULL, NULL);
            printf("tune dim=%u bigram=%.2f char=%.2f n=%u..%u of_%s: nDCG@10 %.4f "
                   "recall@100 %.4f\n",
                   dim, p.w_bigram, p.w_char, p.ngram_min, p.ngram_max,
                   term ? "term" : "token", q.ndcg10, q.recall100);
            fflush(stdout);
          }
}

int main(int argc, char **argv) {
  const char *dir = TEXT_BENCH_DATA_DIR;
  char dims_arg[256] = "256,384,768,1024,2048";
  size_t bulk = 100000;
  bool do_tune = false, only_throughput = false;
  bench_fatal_init("text_offline", NULL);
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--data") && i + 1 < argc) dir = argv[++i];
    else if (!strcmp(argv[i], "--dims") && i + 1 < argc)
      snprintf(dims_arg, sizeof dims_arg, "%s", argv[++i]);
    else if (!strcmp(argv[i], "--bulk") && i + 1 < argc) bulk = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--tune")) do_tune = true;
    else if (!strcmp(argv[i], "--throughput")) only_throughput = true;
    else bench_die("usage: text_offline [--data DIR] [--dims a,b,..] [--bulk N] [--tune] "
                   "[--throughput]");
  }
  corpus_t c;
  load_corpus(dir, &c);
  if (only_throughput) {
    printf("embed_mb_per_s %.2f\n", embed_throughput(&c, AKIDB_TEXT_EMBED_DIM_DEFAULT));
    return 0;
  }
  char cpu[256];
  bench_cpu_model(cpu, sizeof cpu);
  printf("# text engine offline — Cranfield %zu docs, %zu queries; %s; model %s\n\n",
         c.ndocs, c.nqueries, cpu, AKIDB_TEXT_EMBED_MODEL);
  if (do_tune) {
    tune(&c, AKIDB_TEXT_EMBED_DIM_DEFAULT);
    return 0;
  }
  ranked_t *bm = bench_xmalloc(c.nqueries * TOPK * sizeof *bm);
  ranked_t *em = bench_xmalloc(c.nqueries * TOPK * sizeof *em);
  size_t *nbm = bench_xcalloc(c.nqueries, sizeof *nbm), *nem = bench_xcalloc(c.nqueries, sizeof *nem);
  printf("| method | nDCG@10 | recall@100 |\n|---|---|---|\n");
  quality_t qb = run_bm25(&c, bm, nbm);
  printf("| BM25 (k1 1.2, b 0.75) | %.4f | %.4f |\n", qb.ndcg10, qb.recall100);
  for (char *tok = strtok(dims_arg, ","); tok; tok = strtok(NULL, ",")) {
    uint32_t dim = (uint32_t)atoi(tok);
    bool is_default = dim == AKIDB_TEXT_EMBED_DIM_DEFAULT;
    quality_t qe = run_embed(&c, &text_embed_defaults, dim, em, nem);
    printf("| built-in embedder, dim %u, exact cosine | %.4f | %.4f |\n", dim, qe.ndcg10,
           qe.recall100);
    quality_t qr = run_rrf(&c, bm, nbm, em, nem, 1.0);
    printf("| RRF (k 60) of BM25 and embedder dim %u%s | %.4f | %.4f |\n", dim,
           is_default ? " (default)" : "", qr.ndcg10, qr.recall100);
    for (double w = 0.05; is_default && w < 0.76; w += w < 0.39 ? 0.05 : 0.25) {
      qr = run_rrf(&c, bm, nbm, em, nem, w);
      printf("| RRF (k 60), weights BM25 1 / embedder %.2f, dim %u | %.4f | %.4f |\n", w, dim,
             qr.ndcg10, qr.recall100);
    }
    for (double al = 0.1; is_default && al < 0.95; al += 0.1) {
      qr = run_linear(&c, bm, nbm, em, nem, al);
      printf("| linear, alpha %.1f (embedder side), dim %u | %.4f | %.4f |\n", al, dim,
             qr.ndcg10, qr.recall100);
    }
  }
  printf("\n(queries evaluated: %zu with at least one relevant document)\n\n", qb.evaluated);
  printf("| measure | value | note |\n|---|---|---|\n");
  printf("| built-in embedder throughput, dim %u, one core | %.1f MB/s | Cranfield texts |\n",
         AKIDB_TEXT_EMBED_DIM_DEFAULT, embed_throughput(&c, AKIDB_TEXT_EMBED_DIM_DEFAULT));
  if (bulk) bulk_build(bulk);
  return 0;
}
