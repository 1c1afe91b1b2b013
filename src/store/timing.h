/*
 * store/timing.h — records into the process-wide storage latency
 * histograms (timing.c; read with akidb_store_timing). Thread-safe.
 */
#ifndef AKIDB_STORE_TIMING_H
#define AKIDB_STORE_TIMING_H

#include <stdint.h>

#include "akidb/store.h"

/* One event of kind t that took ns nanoseconds. */
void store_timing_observe(akidb_store_timing_t t, uint64_t ns);

#endif /* AKIDB_STORE_TIMING_H */
