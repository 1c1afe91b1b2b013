/*
 * bench_util.h — helpers every benchmark driver shares: the CPU's model
 * name for report headers, nearest-rank percentiles of samples, and the
 * plumbing of a driver that runs child processes: a fatal exit that runs
 * the driver's own cleanup once, checked allocation, sleeping, removing a
 * scratch tree, printing the tail of a child's log; CPU lists for placing
 * a server and its load on separate cores. For bench/ only.
 */
#ifndef AKIDB_BENCH_UTIL_H
#define AKIDB_BENCH_UTIL_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>

/* The CPU's model name from /proc/cpuinfo, or "unknown". */
void bench_cpu_model(char *out, size_t len);

/* qsort comparator for doubles, ascending. */
int bench_cmp_double(const void *a, const void *b);

/* Nearest-rank percentile p (0..100) of n sorted samples; 0 when n is 0. */
double bench_percentile(const double *sorted, size_t n, double p);

/* A report's verdict cell: "met" or "**missed**". */
const char *bench_mark(bool met);

/* The median of n values (sorts them in place); 0 when n is 0. */
double bench_median(double *v, size_t n);

/* A summary of latency samples (same unit as the samples). */
typedef struct {
  double p50, p95, p99, max, mean;
} bench_dist_t;

/* Sorts the n samples in place and summarises them; zeros when n is 0. */
bench_dist_t bench_summarise(double *samples, size_t n);

/* The driver's name (prefix of fatal messages) and its cleanup (kill the
 * children, remove scratch data; may be NULL), run by bench_die. */
void bench_fatal_init(const char *name, void (*cleanup)(void));

/* Prints "<name>: <message>", runs the cleanup and exits 1. When several
 * threads fail at once, the first exits; the others wait for it. */
_Noreturn void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* malloc/calloc that bench_die on failure. */
void *bench_xmalloc(size_t n);
void *bench_xcalloc(size_t n, size_t size);

/* Sleeps ms milliseconds (resumed after signals). */
void bench_sleep_ms(long ms);

/* Removes dir and everything below it (errors ignored). */
void bench_remove_tree(const char *dir);

/* Prints the last 3,000 bytes of a log file to stderr (nothing if absent). */
void bench_print_log_tail(const char *path);

/* Parses a CPU list ("1", "0-3", "0,2-3") into set: 0, or -1 when it is
 * malformed, names a CPU past CPU_SETSIZE or none at all. */
int bench_cpulist_parse(const char *s, cpu_set_t *set);

/* Writes set as a CPU list ("0-1,3") into out. */
void bench_cpulist_format(const cpu_set_t *set, char *out, size_t len);

/* Splits the CPUs this process may run on: the first half (rounded down,
 * at least one) to server, the rest to clients. False (sets untouched)
 * with fewer than two CPUs. */
bool bench_cpus_split(cpu_set_t *server, cpu_set_t *clients);

#endif /* AKIDB_BENCH_UTIL_H */
