/*
 * closed.h — the server benchmark's closed-loop driver (bench only): N
 * threads, each owning one connection, each sending its next request as
 * soon as the previous answer arrived, for a fixed window after a warm-up.
 * The transport is the caller's (AkiDB over HTTP/1.1, PostgreSQL through
 * libpq): open, call and close are callbacks.
 */
#ifndef AKIDB_BENCH_CLOSED_H
#define AKIDB_BENCH_CLOSED_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t connections;
  double warmup_s;   /* answers in this first stretch are not counted */
  double duration_s; /* the measured window after it */
  size_t n_queries;  /* request i of the run uses query i % n_queries */
  /* Opens connection `i` (before the clock starts); NULL with err on failure. */
  void *(*open)(void *ctx, uint32_t i, char *err, size_t errlen);
  /* One request with query q, answered in full; *found: true neighbours in
   * the answer (0 for requests without neighbours). Non-zero on failure. */
  int (*call)(void *ctx, void *conn, size_t q, uint32_t *found, char *err, size_t errlen);
  void (*close)(void *ctx, void *conn);
  void *ctx;
} cl_spec_t;

typedef struct {
  size_t ok, failed;  /* in the measured window */
  double *latency_us; /* of the ok requests; malloc'd: free it */
  size_t n_latency;
  double elapsed_s;   /* the measured window as it was */
  uint64_t found;     /* sum of *found over the ok requests */
  size_t calls;       /* every request sent, warm-up included */
  char error[256];    /* the first failure, if any */
} cl_result_t;

/* Runs one closed-loop load; non-zero (and r->error) when a connection
 * cannot be opened. */
int cl_run(const cl_spec_t *s, cl_result_t *r);

#endif /* AKIDB_BENCH_CLOSED_H */
