/*
 * server_trace.h — the server benchmark's tracing section (issue 15): three
 * `akidb serve` processes side by side on the same data — tracing off, on
 * at 10% sampling, on at 100% — exporting to an OTLP/HTTP sink in this
 * process (it answers 200 to every POST and counts them), measured in
 * closed loop over REST at 1 and 4 connections, the rows interleaved, with
 * QPS, p50/p99 and server CPU per request, and the spans each server
 * exported or dropped (its /metrics). For bench/ only; failures bench_die.
 */
#ifndef AKIDB_BENCH_SERVER_TRACE_H
#define AKIDB_BENCH_SERVER_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bench_util.h"
#include "dataset/dataset.h"

#define ST_MODES 3     /* off, 10%, 100% */
#define ST_MAX_ROWS 64

typedef struct {
  int mode; /* index into the modes: 0 off, 1 10%, 2 100% */
  uint32_t conns, run;
  double qps;
  bench_dist_t us;
  double server_cpu_us; /* per request sent, warm-up included */
  double recall;
} st_row_t;

typedef struct {
  st_row_t rows[ST_MAX_ROWS];
  size_t n;
  size_t points;          /* loaded in each server */
  double duration_s, warmup_s;
  uint32_t repeat;
  double started[ST_MODES], exported[ST_MODES], dropped[ST_MODES]; /* spans, per server */
  uint64_t sink_posts, sink_bytes;
  bool ran;
} st_report_t;

/* Runs the section: `points` points of `set` (128-d) in each server. */
void st_run(st_report_t *r, const char *akidb, const char *tmp, const ds_set_t *set,
            size_t points, double duration_s, double warmup_s, uint32_t repeat);

/* The report section ("## Tracing overhead"). */
void st_write(FILE *f, const st_report_t *r);

/* Kills the section's servers (the driver's fatal-error cleanup). */
void st_cleanup(void);

#endif /* AKIDB_BENCH_SERVER_TRACE_H */
