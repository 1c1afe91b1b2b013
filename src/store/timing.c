/*
 * store/timing.c — owns the process-wide latency histograms of the storage
 * engine: write-ahead log appends and fsyncs, checkpoints and graph
 * compactions, summed over every collection of the process (the server's
 * /metrics renders them; include/akidb/store.h, akidb_store_timing).
 *
 * Locking: none; relaxed atomic counters, each exact, a read not one
 * instant across buckets. Durability: none (process lifetime).
 */
#include <stdatomic.h>

#include <string.h>

#include "store/timing.h"

static const double bounds[AKIDB_STORE_TIMING_NBOUNDS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.5,    1,     5,      30,    120};

typedef struct {
  _Atomic uint64_t buckets[AKIDB_STORE_TIMING_NBOUNDS + 1]; /* non-cumulative; last: > 120 s */
  /* 100 µs .. 120 s: an fsync is ~0.1-10 ms, a checkpoint ms to minutes */
  _Atomic uint64_t sum_ns;
} histogram_t;

static histogram_t histograms[AKIDB_STORE_TIMING_COUNT];

const double *akidb_store_timing_bounds(void) { return bounds; }

const char *akidb_store_timing_name(akidb_store_timing_t t) {
  static const char *const names[AKIDB_STORE_TIMING_COUNT] = {"wal_append", "wal_fsync",
                                                              "checkpoint", "compaction"};
  return t >= 0 && t < AKIDB_STORE_TIMING_COUNT ? names[t] : "?";
}

void store_timing_observe(akidb_store_timing_t t, uint64_t ns) {
  if (t < 0 || t >= AKIDB_STORE_TIMING_COUNT) return;
  double s = (double)ns / 1e9;
  int b = 0;
  while (b < AKIDB_STORE_TIMING_NBOUNDS && s > bounds[b]) b++;
  atomic_fetch_add_explicit(&histograms[t].buckets[b], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&histograms[t].sum_ns, ns, memory_order_relaxed);
}

void akidb_store_timing(akidb_store_timing_t t, akidb_store_histogram_t *out) {
  memset(out, 0, sizeof *out);
  if (t < 0 || t >= AKIDB_STORE_TIMING_COUNT) return;
  uint64_t cum = 0;
  for (int b = 0; b <= AKIDB_STORE_TIMING_NBOUNDS; b++) {
    cum += atomic_load_explicit(&histograms[t].buckets[b], memory_order_relaxed);
    out->cumulative[b] = cum;
  }
  out->count = cum;
  out->sum_seconds =
      (double)atomic_load_explicit(&histograms[t].sum_ns, memory_order_relaxed) / 1e9;
}
