/*
 * demo.c — owns `akidb demo`: builds an HNSW index over each real data set
 * (sift5k, glove25), searches every query at the default ef_search, and
 * prints build time, recall@10 against the shipped ground truth, QPS and
 * latency percentiles next to an exact (flat) scan. Stand-in for `make run`
 * until the server exists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/akidb.h"
#include "dataset/dataset.h"

#define K 10

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Searches every query; fills hits/n and per-query latencies (seconds). */
static int run_queries(const ds_set_t *s, akidb_hnsw_t *h, akidb_flat_t *f,
                       uint32_t ef, akidb_hit_t *hits, uint32_t *n,
                       double *lat) {
  for (size_t q = 0; q < s->n_query; q++) {
    const float *v = s->queries + q * s->dim;
    double t0 = ds_now();
    int rc = h ? akidb_hnsw_search(h, v, K, ef, NULL, hits + q * K, &n[q])
               : akidb_flat_search(f, v, K, NULL, hits + q * K, &n[q]);
    lat[q] = ds_now() - t0;
    if (rc) return rc;
  }
  return AKIDB_OK;
}

static void report(const char *what, const ds_set_t *s, const akidb_hit_t *hits,
                   const uint32_t *n, double *lat) {
  double total = 0;
  for (size_t q = 0; q < s->n_query; q++) total += lat[q];
  qsort(lat, s->n_query, sizeof *lat, cmp_double);
  printf("  %-6s recall@10 %.4f   %8.0f QPS   p50 %7.1f us   p99 %7.1f us\n", what,
         ds_recall(s, hits, K, n, K), (double)s->n_query / total,
         lat[s->n_query / 2] * 1e6, lat[s->n_query * 99 / 100] * 1e6);
}

static int demo_set(const char *name, uint32_t ef) {
  char err[512] = "";
  ds_set_t s;
  int rc = ds_load_real(name, &s, err, sizeof err);
  if (rc) {
    fprintf(stderr, "akidb demo: %s\n", err);
    return rc;
  }
  akidb_hnsw_params_t p;
  akidb_hnsw_params_default(&p, s.dim, s.metric);
  akidb_hnsw_t *h = NULL;
  akidb_flat_t *f = NULL;
  akidb_hit_t *hits = malloc(s.n_query * K * sizeof *hits);
  uint32_t *n = malloc(s.n_query * sizeof *n);
  double *lat = malloc(s.n_query * sizeof *lat);
  if (!hits || !n || !lat) rc = AKIDB_ENOMEM;
  if (!rc) rc = akidb_hnsw_create(&p, &h, err, sizeof err);
  if (!rc) rc = akidb_flat_create(s.dim, s.metric, &f, err, sizeof err);
  double t0 = ds_now();
  for (size_t i = 0; !rc && i < s.n_base; i++)
    rc = akidb_hnsw_insert(h, i, s.base + i * s.dim);
  double build = ds_now() - t0;
  if (!rc) {
    printf("%s: %zu x %u (%s), %zu queries; HNSW m=%u ef_construction=%u ef_search=%u\n",
           name, s.n_base, s.dim, akidb_metric_name(s.metric), s.n_query, p.m,
           p.ef_construction, ef ? ef : p.ef_search);
    printf("  build  %.2f s (%.0f points/s), index memory %.1f MiB\n", build,
           (double)s.n_base / build, (double)akidb_hnsw_memory_bytes(h) / 1048576.0);
  }
  if (!rc && !(rc = run_queries(&s, h, NULL, ef, hits, n, lat))) report("hnsw", &s, hits, n, lat);
  for (size_t i = 0; !rc && i < s.n_base; i++) rc = akidb_flat_upsert(f, i, s.base + i * s.dim);
  if (!rc && !(rc = run_queries(&s, NULL, f, 0, hits, n, lat))) report("exact", &s, hits, n, lat);
  if (rc) fprintf(stderr, "akidb demo: %s: %s %s\n", name, akidb_strerror(rc), err);
  akidb_hnsw_free(h);
  akidb_flat_free(f);
  free(hits);
  free(n);
  free(lat);
  ds_free(&s);
  return rc;
}

int cli_demo(int argc, char **argv) {
  uint32_t ef = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
      setenv("AKIDB_TEST_DATA", argv[++i], 1);
    } else if (strcmp(argv[i], "--ef") == 0 && i + 1 < argc) {
      long v = strtol(argv[++i], NULL, 10);
      if (v < 1 || v > (long)AKIDB_HNSW_EF_SEARCH_MAX) {
        fprintf(stderr, "akidb demo: --ef must be 1..%u\n", AKIDB_HNSW_EF_SEARCH_MAX);
        return 2;
      }
      ef = (uint32_t)v;
    } else {
      fprintf(stderr, "akidb demo: unknown option '%s' (use --data DIR, --ef N)\n", argv[i]);
      return 2;
    }
  }
  char err[256] = "";
  if (akidb_simd_init(err, sizeof err)) {
    fprintf(stderr, "akidb demo: %s\n", err);
    return 1;
  }
  printf("AkiDB %s demo — kernels: %s, data: %s\n\n", AKIDB_VERSION_STRING,
         akidb_kernels()->name, ds_data_dir());
  int rc = demo_set("sift5k", ef);
  printf("\n");
  if (!rc) rc = demo_set("glove25", ef);
  return rc ? 1 : 0;
}
