/*
 * bench_util.h — helpers every benchmark driver shares: the CPU's model
 * name for report headers, and nearest-rank percentiles of samples.
 * Stateless; for bench/ only.
 */
#ifndef AKIDB_BENCH_UTIL_H
#define AKIDB_BENCH_UTIL_H

#include <stddef.h>

/* The CPU's model name from /proc/cpuinfo, or "unknown". */
void bench_cpu_model(char *out, size_t len);

/* qsort comparator for doubles, ascending. */
int bench_cmp_double(const void *a, const void *b);

/* Nearest-rank percentile p (0..100) of n sorted samples; 0 when n is 0. */
double bench_percentile(const double *sorted, size_t n, double p);

#endif /* AKIDB_BENCH_UTIL_H */
