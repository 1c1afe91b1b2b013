/*
 * bench_util.c — the helpers of bench_util.h, once for every driver.
 * Stateless; no locking; no durability.
 */
#include "bench_util.h"

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void bench_cpu_model(char *out, size_t len) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[512];
  snprintf(out, len, "unknown");
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    if (strncmp(line, "model name", 10) != 0 || !colon) continue;
    colon += 1 + strspn(colon + 1, " \t");
    colon[strcspn(colon, "\n")] = '\0';
    snprintf(out, len, "%s", colon);
    break;
  }
  fclose(f);
}

int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double bench_percentile(const double *sorted, size_t n, double p) {
  if (n == 0) return 0;
  size_t rank = (size_t)ceil(p / 100.0 * (double)n);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return sorted[rank - 1];
}

const char *bench_mark(bool met) { return met ? "met" : "**missed**"; }

double bench_median(double *v, size_t n) {
  if (n == 0) return 0;
  qsort(v, n, sizeof *v, bench_cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

bench_dist_t bench_summarise(double *samples, size_t n) {
  bench_dist_t d = {0};
  if (n == 0) return d;
  qsort(samples, n, sizeof *samples, bench_cmp_double);
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += samples[i];
  d.mean = sum / (double)n;
  d.p50 = bench_percentile(samples, n, 50);
  d.p95 = bench_percentile(samples, n, 95);
  d.p99 = bench_percentile(samples, n, 99);
  d.max = samples[n - 1];
  return d;
}

/* ---------------------------------------------------- driver plumbing -- */

static const char *fatal_name = "bench";
static void (*fatal_cleanup)(void);

void bench_fatal_init(const char *name, void (*cleanup)(void)) {
  fatal_name = name;
  fatal_cleanup = cleanup;
}

void bench_die(const char *fmt, ...) {
  static atomic_flag dying = ATOMIC_FLAG_INIT;
  if (atomic_flag_test_and_set(&dying)) /* another thread is already exiting */
    for (;;) pause();
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", fatal_name);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  if (fatal_cleanup) fatal_cleanup();
  exit(1);
}

void *bench_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) bench_die("out of memory (%zu bytes)", n);
  return p;
}

void *bench_xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) bench_die("out of memory (%zu × %zu bytes)", n, size);
  return p;
}

void bench_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

void bench_remove_tree(const char *dir) { nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

void bench_print_log_tail(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, size > 3000 ? size - 3000 : 0, SEEK_SET);
  char buf[3100];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  fprintf(stderr, "--- tail of %s ---\n%s\n---\n", path, buf);
}

/* ------------------------------------------------------------ CPU lists -- */

int bench_cpulist_parse(const char *s, cpu_set_t *set) {
  CPU_ZERO(set);
  const char *p = s;
  while (*p) {
    char *end;
    long a = strtol(p, &end, 10), b = a;
    if (end == p || a < 0) return -1;
    p = end;
    if (*p == '-') {
      b = strtol(p + 1, &end, 10);
      if (end == p + 1 || b < a) return -1;
      p = end;
    }
    if (b >= CPU_SETSIZE) return -1;
    for (long c = a; c <= b; c++) CPU_SET((int)c, set);
    if (*p == ',') p++;
    else if (*p) return -1;
  }
  return CPU_COUNT(set) > 0 ? 0 : -1;
}

void bench_cpulist_format(const cpu_set_t *set, char *out, size_t len) {
  size_t at = 0;
  out[0] = '\0';
  for (int c = 0; c < CPU_SETSIZE; c++) {
    if (!CPU_ISSET(c, set)) continue;
    int last = c;
    while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, set)) last++;
    int n = last > c ? snprintf(out + at, at < len ? len - at : 0, "%s%d-%d", at ? "," : "", c, last)
                     : snprintf(out + at, at < len ? len - at : 0, "%s%d", at ? "," : "", c);
    at += n > 0 ? (size_t)n : 0;
    c = last;
  }
}

bool bench_cpus_split(cpu_set_t *server, cpu_set_t *clients) {
  cpu_set_t all;
  if (sched_getaffinity(0, sizeof all, &all) != 0 || CPU_COUNT(&all) < 2) return false;
  int half = CPU_COUNT(&all) / 2, seen = 0;
  CPU_ZERO(server);
  CPU_ZERO(clients);
  for (int c = 0; c < CPU_SETSIZE; c++) {
    if (!CPU_ISSET(c, &all)) continue;
    if (seen++ < half) CPU_SET(c, server);
    else CPU_SET(c, clients);
  }
  return true;
}
