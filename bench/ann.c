/*
 * ann.c — the ANN benchmark driver behind `make bench`: AkiDB's HNSW against
 * hnswlib and FAISS IndexHNSWFlat, on the same data, with the same M and
 * ef_construction, in one run.
 *
 * Owns: option parsing; loading or generating the data sets (in the parent,
 * once); one forked child per library × data set × build thread count, so
 * each library's peak memory is measured alone; the ef sweep and the
 * interpolation of QPS at fixed recall; the report (ann.md) and the raw
 * sweep (ann_sweep.csv).
 *
 * Processes: the parent never runs an index. A child inherits the data set
 * copy-on-write, builds, measures, optionally sweeps, and sends one
 * fixed-size run_result_t back through a pipe; a child that dies or times
 * out is reported as failed and the run goes on. Threads exist only inside
 * a child's 2-thread build.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "akidb/index.h"
#include "akidb/vec.h"
#include "dataset/dataset.h"
#include "peers.h"

#ifndef ANN_BUILD_TYPE
#define ANN_BUILD_TYPE "unknown"
#endif
#ifndef ANN_PEER_FLAGS
#define ANN_PEER_FLAGS "-O3 -march=native"
#endif

/* ------------------------------------------------------------ settings -- */

#define ANN_M 16u                /* links per node, all three libraries */
#define ANN_EF_CONSTRUCTION 200u /* build candidate list, all three */
#define ANN_K 10u                /* neighbours per query; recall@10 */
#define ANN_SEED 42u             /* level generators and data sets */
#define INSERT_CHUNK 32u         /* points a build thread claims at once */
#define SWEEP_MAX 32
#define SWEEP_STOP_RECALL 0.995  /* stop the sweep once this is reached */
#define SWEEP_FLAT_STEPS 3       /* ... or when this many steps gained */
#define SWEEP_FLAT_GAIN 0.0005   /* ... less recall than this */
#define MEASURE_MIN_SECONDS 0.1  /* loop the query set at least this long */
#define MEASURE_REPEATS 5        /* best of this many measurements ... */
#define MEASURE_SLOW_SECONDS 2.0 /* ... or of 2 when one takes longer */
#define DEFAULT_TIMEOUT 3600u    /* seconds a child may run */

static const uint32_t SWEEP_EF[] = {10,  12,  16,  20,  24,  32,
                                    40,  48,  64,  80,  96,  128,
                                    160, 200, 256, 320, 400, 512};
#define SWEEP_EF_COUNT (sizeof SWEEP_EF / sizeof SWEEP_EF[0])

static const double TARGET_RECALLS[] = {0.90, 0.95, 0.99};
#define TARGET_COUNT 3
#define TARGET_MAIN 1 /* 0.95: the acceptance figure */

static const int BUILD_THREADS[] = {1, 2};
#define BUILD_RUNS 2
#define MAX_BUILD_THREADS 2

/* Acceptance targets, AkiDB / hnswlib. */
#define TARGET_QPS_GENERATED 1.25
#define TARGET_QPS_REAL 1.0
#define TARGET_BUILD 0.8
#define TARGET_MEMORY 1.1

/* --------------------------------------------------------------- types -- */

typedef enum { LIB_AKIDB, LIB_HNSWLIB, LIB_FAISS, LIB_COUNT } lib_t;
static const char *const LIB_NAMES[LIB_COUNT] = {"akidb", "hnswlib", "faiss"};

/* A data set the benchmark knows: real (from the data directory, tests/data by default) or a
 * generated Gaussian mixture. */
typedef struct {
  const char *name;
  bool real;
  uint32_t dim;
  akidb_metric_t metric;
} dataset_spec_t;

static const dataset_spec_t DATASETS[] = {
    {"sift5k", true, 128, AKIDB_METRIC_L2},
    {"glove25", true, 25, AKIDB_METRIC_COSINE},
    {"mix128", false, 128, AKIDB_METRIC_L2},
    {"mix768", false, 768, AKIDB_METRIC_COSINE},
};
#define DATASET_COUNT (sizeof DATASETS / sizeof DATASETS[0])

/* Sizes of the generated sets: full and --quick. */
typedef struct {
  size_t n_base, n_query;
  uint32_t clusters;
} mixture_size_t;
static const mixture_size_t MIX_FULL = {100000, 1000, 300};
static const mixture_size_t MIX_QUICK = {10000, 200, 100};

typedef struct {
  uint32_t ef;
  double recall;
  double qps;      /* from the search thread's CPU time */
  double qps_wall; /* from wall-clock time */
} sweep_point_t;

/* What one child sends back through its pipe: one fixed-size record. */
typedef struct {
  int ok;
  char error[240];
  int threads;
  double build_seconds;     /* wall clock */
  double build_cpu_seconds; /* CPU time of the whole process */
  double memory_bytes; /* VmHWM after build minus VmRSS before it */
  double self_bytes;   /* akidb_hnsw_memory_bytes; -1 for the peers */
  uint32_t n_sweep;
  sweep_point_t sweep[SWEEP_MAX];
} run_result_t;

/* Everything measured on one data set. */
typedef struct {
  const dataset_spec_t *spec;
  size_t n_base, n_query;
  uint32_t dim;
  uint32_t clusters; /* generated sets only */
  bool ran[LIB_COUNT];
  run_result_t run[LIB_COUNT][BUILD_RUNS];
} dataset_result_t;

typedef struct {
  const char *out_path;
  char csv_path[4096];
  bool dataset_on[DATASET_COUNT];
  bool lib_on[LIB_COUNT];
  bool quick;
  size_t queries; /* 0: the default of each set */
  unsigned timeout;
  char command[2048];
  double load_at_start; /* 1-minute load average when the run began */
} options_t;

/* The index under test: one of the three libraries. */
typedef struct {
  lib_t lib;
  akidb_hnsw_t *akidb;
  peer_hnswlib_t *hnswlib;
  peer_faiss_t *faiss;
} subject_t;

/* --------------------------------------------------------- the subject -- */

/* Creates an empty index of `lib` sized for `set`. */
static int subject_create(subject_t *s, lib_t lib, const ds_set_t *set,
                          char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  s->lib = lib;
  switch (lib) {
  case LIB_AKIDB: {
    akidb_hnsw_params_t p;
    akidb_hnsw_params_default(&p, set->dim, set->metric);
    p.m = ANN_M;
    p.ef_construction = ANN_EF_CONSTRUCTION;
    p.seed = ANN_SEED;
    p.initial_capacity = set->n_base;
    return akidb_hnsw_create(&p, &s->akidb, err, errlen);
  }
  case LIB_HNSWLIB:
    return peer_hnswlib_create(set->dim, set->metric, ANN_M,
                               ANN_EF_CONSTRUCTION, set->n_base, ANN_SEED,
                               &s->hnswlib, err, errlen);
  case LIB_FAISS:
    return peer_faiss_create(set->dim, set->metric, ANN_M,
                             ANN_EF_CONSTRUCTION, set->n_base, ANN_SEED,
                             &s->faiss, err, errlen);
  default:
    return AKIDB_EINVAL;
  }
}

/* Inserts one point (AkiDB and hnswlib; both are thread-safe). */
static int subject_insert(subject_t *s, uint64_t label, const float *vec) {
  if (s->lib == LIB_AKIDB) return akidb_hnsw_insert(s->akidb, label, vec);
  return peer_hnswlib_add(s->hnswlib, label, vec);
}

static void subject_set_ef(subject_t *s, uint32_t ef) {
  switch (s->lib) {
  case LIB_AKIDB: akidb_hnsw_set_ef_search(s->akidb, ef); break;
  case LIB_HNSWLIB: peer_hnswlib_set_ef(s->hnswlib, ef); break;
  case LIB_FAISS: peer_faiss_set_ef(s->faiss, ef); break;
  default: break;
  }
}

/* ANN_K nearest to `query` at the ef last set, into out[0..*n). */
static int subject_search(subject_t *s, const float *query, akidb_hit_t *out,
                          uint32_t *n) {
  uint64_t labels[ANN_K];
  float dists[ANN_K];
  switch (s->lib) {
  case LIB_AKIDB:
    return akidb_hnsw_search(s->akidb, query, ANN_K, 0, NULL, out, n);
  case LIB_HNSWLIB:
    *n = peer_hnswlib_search(s->hnswlib, query, ANN_K, labels, dists);
    break;
  case LIB_FAISS:
    *n = peer_faiss_search(s->faiss, query, ANN_K, labels, dists);
    break;
  default:
    return AKIDB_EINVAL;
  }
  for (uint32_t i = 0; i < *n; i++) {
    out[i].label = labels[i];
    out[i].distance = dists[i];
  }
  return AKIDB_OK;
}

/* The library's own count of its memory, or -1 when it keeps none. */
static double subject_self_bytes(const subject_t *s) {
  if (s->lib == LIB_AKIDB) return (double)akidb_hnsw_memory_bytes(s->akidb);
  return -1;
}

static void subject_free(subject_t *s) {
  akidb_hnsw_free(s->akidb);
  peer_hnswlib_free(s->hnswlib);
  peer_faiss_free(s->faiss);
  memset(s, 0, sizeof *s);
}

/* --------------------------------------------------------------- build -- */

typedef struct {
  subject_t *subject;
  const ds_set_t *set;
  atomic_size_t *next; /* the first row nobody has claimed yet */
  int rc;
} insert_worker_t;

/* Claims chunks of INSERT_CHUNK rows and inserts them until none are left. */
static void *insert_worker(void *arg) {
  insert_worker_t *w = arg;
  size_t n = w->set->n_base, dim = w->set->dim;
  for (;;) {
    size_t start = atomic_fetch_add(w->next, INSERT_CHUNK);
    if (start >= n) return NULL;
    size_t end = start + INSERT_CHUNK < n ? start + INSERT_CHUNK : n;
    for (size_t i = start; i < end; i++) {
      int rc = subject_insert(w->subject, i, w->set->base + i * dim);
      if (rc) {
        w->rc = rc;
        atomic_store(w->next, n); /* make the other threads stop too */
        return NULL;
      }
    }
  }
}

/* Inserts every base row with `threads` pthreads (1: on this thread). */
static int insert_all(subject_t *s, const ds_set_t *set, int threads) {
  atomic_size_t next = 0;
  insert_worker_t w[MAX_BUILD_THREADS];
  pthread_t tid[MAX_BUILD_THREADS];
  int started = 0, rc = AKIDB_OK;
  if (threads < 1 || threads > MAX_BUILD_THREADS) return AKIDB_EINVAL;
  for (int t = 0; t < threads; t++)
    w[t] = (insert_worker_t){.subject = s, .set = set, .next = &next};
  if (threads == 1) {
    insert_worker(&w[0]);
    return w[0].rc;
  }
  for (; started < threads; started++)
    if (pthread_create(&tid[started], NULL, insert_worker, &w[started])) {
      atomic_store(&next, set->n_base);
      rc = AKIDB_ENOMEM;
      break;
    }
  for (int t = 0; t < started; t++) {
    pthread_join(tid[t], NULL);
    if (w[t].rc && !rc) rc = w[t].rc;
  }
  return rc;
}

/* Builds the whole index: FAISS through its own OpenMP batch add. */
static int subject_build(subject_t *s, const ds_set_t *set, int threads,
                         char *err, size_t errlen) {
  if (s->lib == LIB_FAISS)
    return peer_faiss_add_batch(s->faiss, set->base, set->n_base, threads,
                                err, errlen);
  return insert_all(s, set, threads);
}

/* -------------------------------------------------------------- clocks -- */

/* Seconds of CPU time used by the calling thread. */
static double thread_cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Seconds of CPU time used by the whole process (all its threads). */
static double process_cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* -------------------------------------------------------------- memory -- */

/* A "Field:  123 kB" line of /proc/self/status, in bytes; -1 if absent. */
static double proc_status_bytes(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  size_t len = strlen(field);
  double bytes = -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, field, len) == 0 && line[len] == ':') {
      bytes = strtod(line + len + 1, NULL) * 1024.0;
      break;
    }
  fclose(f);
  return bytes;
}

/* Resets VmHWM to the current RSS (Linux "clear_refs" 5); best effort. */
static void reset_peak_rss(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (!f) return;
  fputs("5", f);
  fclose(f);
}

/* --------------------------------------------------------------- sweep -- */

/* Runs every query once at the current ef; results into hits/n. */
static int search_pass(subject_t *s, const ds_set_t *set, akidb_hit_t *hits,
                       uint32_t *n) {
  for (size_t q = 0; q < set->n_query; q++) {
    int rc = subject_search(s, set->queries + q * set->dim, hits + q * ANN_K,
                            &n[q]);
    if (rc) return rc;
  }
  return AKIDB_OK;
}

/* Seconds per pass over the query set, in CPU time and in wall time: the
 * best of a few measurements, each looping the set `loops` times. */
static int best_pass_seconds(subject_t *s, const ds_set_t *set,
                             uint32_t loops, int repeats, akidb_hit_t *hits,
                             uint32_t *n, double *best_cpu,
                             double *best_wall) {
  *best_cpu = *best_wall = INFINITY;
  for (int r = 0; r < repeats; r++) {
    double wall0 = ds_now(), cpu0 = thread_cpu_now();
    for (uint32_t l = 0; l < loops; l++) {
      int rc = search_pass(s, set, hits, n);
      if (rc) return rc;
    }
    double cpu = (thread_cpu_now() - cpu0) / loops;
    double wall = (ds_now() - wall0) / loops;
    if (cpu < *best_cpu) *best_cpu = cpu;
    if (wall < *best_wall) *best_wall = wall;
  }
  return AKIDB_OK;
}

/* Measures one sweep point: a first pass (warm-up, recall), then timing. */
static int measure_point(subject_t *s, const ds_set_t *set, uint32_t ef,
                         akidb_hit_t *hits, uint32_t *n, sweep_point_t *out) {
  subject_set_ef(s, ef);
  double t0 = ds_now();
  int rc = search_pass(s, set, hits, n);
  if (rc) return rc;
  double first = ds_now() - t0;
  out->ef = ef;
  out->recall = ds_recall(set, hits, ANN_K, n, ANN_K);
  uint32_t loops = 1;
  if (first < MEASURE_MIN_SECONDS)
    loops = (uint32_t)ceil(MEASURE_MIN_SECONDS / (first > 1e-6 ? first : 1e-6));
  int repeats = first * loops > MEASURE_SLOW_SECONDS ? 2 : MEASURE_REPEATS;
  double cpu, wall;
  if ((rc = best_pass_seconds(s, set, loops, repeats, hits, n, &cpu, &wall)))
    return rc;
  out->qps = (double)set->n_query / cpu;
  out->qps_wall = (double)set->n_query / wall;
  return AKIDB_OK;
}

/* Whether the sweep can stop after point i: recall high enough, or flat. */
static bool sweep_done(const run_result_t *r, uint32_t i) {
  if (r->sweep[i].recall >= SWEEP_STOP_RECALL) return true;
  if (i < SWEEP_FLAT_STEPS) return false;
  return r->sweep[i].recall - r->sweep[i - SWEEP_FLAT_STEPS].recall <
         SWEEP_FLAT_GAIN;
}

/* Sweeps ef over SWEEP_EF, single-threaded, recording recall and QPS. */
static int run_sweep(subject_t *s, const ds_set_t *set, const char *tag,
                     run_result_t *r) {
  akidb_hit_t *hits = malloc(set->n_query * ANN_K * sizeof *hits);
  uint32_t *n = malloc(set->n_query * sizeof *n);
  int rc = AKIDB_ENOMEM;
  if (!hits || !n) goto done;
  rc = AKIDB_OK;
  for (uint32_t i = 0; i < SWEEP_EF_COUNT && i < SWEEP_MAX; i++) {
    if ((rc = measure_point(s, set, SWEEP_EF[i], hits, n, &r->sweep[i])))
      break;
    r->n_sweep = i + 1;
    fprintf(stderr, "[%s] ef=%-3u recall@10=%.4f QPS=%.0f (wall %.0f)\n", tag,
            SWEEP_EF[i], r->sweep[i].recall, r->sweep[i].qps,
            r->sweep[i].qps_wall);
    if (sweep_done(r, i)) break;
  }
done:
  free(hits);
  free(n);
  return rc;
}

/* -------------------------------------------------------------- a run -- */

/* The child's work: build with `threads`, measure, sweep if asked. */
static void child_run(lib_t lib, const ds_set_t *set, int threads, bool sweep,
                      run_result_t *r) {
  char err[200] = "", tag[96];
  subject_t s;
  snprintf(tag, sizeof tag, "%s/%s/%dT", set->name, LIB_NAMES[lib], threads);
  r->threads = threads;
  r->self_bytes = -1;
  reset_peak_rss();
  double rss_before = proc_status_bytes("VmRSS");
  double t0 = ds_now(), cpu0 = process_cpu_now();
  int rc = subject_create(&s, lib, set, err, sizeof err);
  if (rc == AKIDB_OK) rc = subject_build(&s, set, threads, err, sizeof err);
  r->build_seconds = ds_now() - t0;
  r->build_cpu_seconds = process_cpu_now() - cpu0;
  if (rc) {
    snprintf(r->error, sizeof r->error, "build: %s%s%s", akidb_strerror(rc),
             *err ? ": " : "", err);
    subject_free(&s);
    return;
  }
  r->memory_bytes = proc_status_bytes("VmHWM") - rss_before;
  r->self_bytes = subject_self_bytes(&s);
  fprintf(stderr, "[%s] build %.2f s (CPU %.2f s), memory %.1f MiB\n", tag,
          r->build_seconds, r->build_cpu_seconds, r->memory_bytes / 1048576.0);
  if (sweep && (rc = run_sweep(&s, set, tag, r)))
    snprintf(r->error, sizeof r->error, "search: %s", akidb_strerror(rc));
  else
    r->ok = 1;
  subject_free(&s);
}

/* Writes all of buf, retrying on short writes. */
static bool write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    len -= (size_t)w;
  }
  return true;
}

/* Reads up to len bytes until EOF; returns how many arrived. */
static size_t read_all(int fd, void *buf, size_t len) {
  char *p = buf;
  size_t got = 0;
  while (got < len) {
    ssize_t r = read(fd, p + got, len - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  return got;
}

/* Describes how a child that sent no result ended. */
static void describe_exit(int status, unsigned timeout, char *out,
                          size_t len) {
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
    snprintf(out, len, "timed out after %u s", timeout);
  else if (WIFSIGNALED(status))
    snprintf(out, len, "killed by signal %d (%s)", WTERMSIG(status),
             strsignal(WTERMSIG(status)));
  else
    snprintf(out, len, "exited with status %d before reporting",
             WEXITSTATUS(status));
}

/* Runs one (library, data set, thread count) in a forked child. */
static void run_forked(lib_t lib, const ds_set_t *set, int threads,
                       bool sweep, unsigned timeout, run_result_t *out) {
  int fds[2];
  memset(out, 0, sizeof *out);
  out->threads = threads;
  if (pipe(fds) != 0) {
    snprintf(out->error, sizeof out->error, "pipe: %s", strerror(errno));
    return;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    run_result_t r;
    close(fds[0]);
    memset(&r, 0, sizeof r);
    alarm(timeout);
    child_run(lib, set, threads, sweep, &r);
    _exit(write_all(fds[1], &r, sizeof r) ? 0 : 1);
  }
  close(fds[1]);
  if (pid < 0) {
    snprintf(out->error, sizeof out->error, "fork: %s", strerror(errno));
    close(fds[0]);
    return;
  }
  size_t got = read_all(fds[0], out, sizeof *out);
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (got != sizeof *out) {
    memset(out, 0, sizeof *out);
    out->threads = threads;
    describe_exit(status, timeout, out->error, sizeof out->error);
  }
}

/* ----------------------------------------------------------- data sets -- */

/* Loads or generates one data set; on failure says why in err. */
static int load_dataset(const dataset_spec_t *spec, const options_t *o,
                        ds_set_t *set, dataset_result_t *res, char *err,
                        size_t errlen) {
  int rc;
  memset(res, 0, sizeof *res);
  if (spec->real) {
    if ((rc = ds_load_real(spec->name, set, err, errlen))) return rc;
    if (o->queries && o->queries < set->n_query) set->n_query = o->queries;
  } else {
    const mixture_size_t *m = o->quick ? &MIX_QUICK : &MIX_FULL;
    size_t nq = o->queries ? o->queries : m->n_query;
    rc = ds_make_mixture(spec->name, m->n_base, nq, spec->dim, spec->metric,
                         m->clusters, ANN_SEED + spec->dim, ANN_K, set);
    if (rc) {
      snprintf(err, errlen, "generating %s: %s", spec->name,
               akidb_strerror(rc));
      return rc;
    }
    res->clusters = m->clusters;
  }
  if (set->gt_k < ANN_K) {
    snprintf(err, errlen, "%s: ground truth has only %u neighbours",
             spec->name, set->gt_k);
    ds_free(set);
    return AKIDB_EFORMAT;
  }
  res->spec = spec;
  res->n_base = set->n_base;
  res->n_query = set->n_query;
  res->dim = set->dim;
  return AKIDB_OK;
}

/* Runs every selected library on one loaded data set; false if any run
 * failed. */
static bool bench_dataset(const options_t *o, const ds_set_t *set,
                          dataset_result_t *res) {
  bool all_ok = true;
  for (int lib = 0; lib < LIB_COUNT; lib++) {
    if (!o->lib_on[lib]) continue;
    res->ran[lib] = true;
    for (int b = 0; b < BUILD_RUNS; b++) {
      int threads = BUILD_THREADS[b];
      fprintf(stderr, "[%s/%s/%dT] %s\n", set->name, LIB_NAMES[lib], threads,
              b == 0 ? "build + search sweep" : "build");
      run_result_t *r = &res->run[lib][b];
      run_forked((lib_t)lib, set, threads, b == 0, o->timeout, r);
      if (!r->ok) {
        fprintf(stderr, "[%s/%s/%dT] FAILED: %s\n", set->name, LIB_NAMES[lib],
                threads, r->error);
        all_ok = false;
      }
    }
  }
  return all_ok;
}

/* ------------------------------------------------------------ analysis -- */

typedef enum {
  AT_NONE,         /* the target was never reached */
  AT_INTERPOLATED, /* between two bracketing sweep points */
  AT_FIRST_POINT   /* already reached at the smallest ef: a lower bound */
} at_kind_t;

typedef struct {
  at_kind_t kind;
  double qps;
  double max_recall;
} at_recall_t;

/* QPS at recall `target`, interpolated linearly in recall between the two
 * sweep points that bracket it (the first crossing). */
static at_recall_t qps_at_recall(const run_result_t *r, double target) {
  at_recall_t a = {AT_NONE, 0, 0};
  for (uint32_t i = 0; i < r->n_sweep; i++) {
    const sweep_point_t *hi = &r->sweep[i];
    if (hi->recall > a.max_recall) a.max_recall = hi->recall;
    if (hi->recall < target) continue;
    if (i == 0) {
      a.kind = AT_FIRST_POINT;
      a.qps = hi->qps;
      return a;
    }
    const sweep_point_t *lo = &r->sweep[i - 1];
    double f = (target - lo->recall) / (hi->recall - lo->recall);
    a.kind = AT_INTERPOLATED;
    a.qps = lo->qps + f * (hi->qps - lo->qps);
    return a;
  }
  return a;
}

/* The QPS acceptance target of a data set (AkiDB / hnswlib at 0.95). */
static double qps_target(const dataset_spec_t *spec) {
  return spec->real ? TARGET_QPS_REAL : TARGET_QPS_GENERATED;
}

/* A figure and whether it can be compared at all. */
typedef struct {
  bool valid;
  bool lower_bound; /* from AT_FIRST_POINT */
  double value;
} figure_t;

static figure_t figure_qps(const run_result_t *r, int target) {
  figure_t f = {false, false, 0};
  if (!r->ok) return f;
  at_recall_t a = qps_at_recall(r, TARGET_RECALLS[target]);
  f.valid = a.kind != AT_NONE;
  f.lower_bound = a.kind == AT_FIRST_POINT;
  f.value = a.qps;
  return f;
}

static figure_t figure_build(const run_result_t *r) {
  return (figure_t){r->ok, false, r->build_seconds};
}

static figure_t figure_build_cpu(const run_result_t *r) {
  return (figure_t){r->ok, false, r->build_cpu_seconds};
}

static figure_t figure_memory(const run_result_t *r) {
  return (figure_t){r->ok && r->memory_bytes > 0, false, r->memory_bytes};
}

/* ------------------------------------------------------------ the report -- */

/* "12345", "12345*" (lower bound) or "n/a (max recall 0.873)". */
static void format_qps(const run_result_t *r, int target, char *out,
                       size_t len) {
  if (!r->ok) {
    snprintf(out, len, "failed");
    return;
  }
  at_recall_t a = qps_at_recall(r, TARGET_RECALLS[target]);
  if (a.kind == AT_NONE)
    snprintf(out, len, "n/a (max recall %.3f)", a.max_recall);
  else
    snprintf(out, len, "%.0f%s", a.qps, a.kind == AT_FIRST_POINT ? "*" : "");
}

/* "1.23×" (or "1.23×*" when either side is a lower bound), else "n/a". */
static void format_ratio(figure_t a, figure_t b, char *out, size_t len) {
  if (!a.valid || !b.valid || b.value <= 0)
    snprintf(out, len, "n/a");
  else
    snprintf(out, len, "%.2f×%s", a.value / b.value,
             a.lower_bound || b.lower_bound ? "*" : "");
}

/* "✓" / "✗" for a ratio against its target; "" when not comparable. */
static const char *verdict(figure_t a, figure_t b, double target,
                           bool higher_is_better) {
  if (!a.valid || !b.valid || b.value <= 0) return "";
  double ratio = a.value / b.value;
  bool met = higher_is_better ? ratio >= target : ratio <= target;
  return met ? "✓" : "✗";
}

static const char *c_compiler(void) {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "gcc " __VERSION__;
#else
  return "unknown C compiler";
#endif
}

/* Date, command, machine, compilers and parameters. */
static void write_header(FILE *f, const options_t *o) {
  char cpu[256], date[64];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", &tm);
  bench_cpu_model(cpu, sizeof cpu);
  const akidb_kernels_t *kern = akidb_kernels();
  fprintf(f, "# ANN benchmark: AkiDB HNSW vs hnswlib vs FAISS "
             "IndexHNSWFlat\n\n");
  fprintf(f, "- Date: %s\n", date);
  fprintf(f, "- Command: `%s`\n", o->command);
  fprintf(f, "- CPU: %s, %ld cores online\n", cpu,
          sysconf(_SC_NPROCESSORS_ONLN));
  fprintf(f, "- AkiDB: SIMD kernels in use `%s` (CPU features: %s); "
             "built %s, portable code with run-time dispatch; %s\n",
          kern ? kern->name : "none (AKIDB_SIMD refused)", akidb_cpu_features(),
          ANN_BUILD_TYPE, c_compiler());
  fprintf(f, "- hnswlib %s, header-only, compiled here with %s %s\n",
          peer_hnswlib_version(), peer_cxx_compiler(), ANN_PEER_FLAGS);
  fprintf(f, "- FAISS %s IndexHNSWFlat: Debian's prebuilt static libfaiss "
             "(generic x86-64, no AVX2: a weak baseline); the wrapper is "
             "compiled with %s\n", peer_faiss_version(), ANN_PEER_FLAGS);
  fprintf(f, "- All three libraries: **M=%u, ef_construction=%u**, k=%u, "
             "level seed %u%s\n",
          ANN_M, ANN_EF_CONSTRUCTION, ANN_K, ANN_SEED,
          o->quick ? "; **--quick: small generated sets**" : "");
}

/* How everything was measured, and how busy the machine was. */
static void write_method(FILE *f, const options_t *o) {
  const char *csv = strrchr(o->csv_path, '/');
  fprintf(f, "- Method: each library × data set × build thread count runs in "
             "its own forked process. *build* = wall time to create the index "
             "and insert every base vector (2T: two pthreads claiming chunks "
             "of %u points; FAISS: its OpenMP batch add with 2 threads). "
             "*memory* = peak RSS (VmHWM) after the 1-thread build minus RSS "
             "just before it: the index and its build scratch, not the data "
             "set. *QPS*: one thread, one query at a time, k=%u, ef swept "
             "over 10…512; each point is the best of %d timed loops over the "
             "query set (each ≥ %.1f s; best of 2 when one pass takes over "
             "%.0f s) after one warm-up pass, timed with "
             "the search thread's CPU clock so other processes on the machine "
             "do not deflate it (equal to wall time on an idle machine; the "
             "CSV has both); QPS at recall@10 = 0.90/0.95/0.99 is "
             "interpolated linearly between the two sweep points bracketing "
             "the target. Under cosine every library normalises vectors "
             "itself (the peers in their wrapper, inside the timed add and "
             "search).\n",
          INSERT_CHUNK, ANN_K, MEASURE_REPEATS, MEASURE_MIN_SECONDS,
          MEASURE_SLOW_SECONDS);
  fprintf(f, "- Load average (1 min) when the run began: %.2f on %ld cores%s\n",
          o->load_at_start, sysconf(_SC_NPROCESSORS_ONLN),
          o->load_at_start > 0.5 ? " — the machine was not idle: wall-clock "
                                   "build times are pessimistic (see the "
                                   "wall ÷ CPU checks under each data set)"
                                 : "");
  fprintf(f, "- `*` after a QPS: recall at the smallest ef (=k) already "
             "exceeds the target, so the figure is the QPS at ef=k (a lower "
             "bound). Raw sweep: `%s`.\n\n",
          csv ? csv + 1 : o->csv_path);
}

/* The acceptance summary: one row per data set where AkiDB and hnswlib ran. */
static void write_summary(FILE *f, const dataset_result_t *res, size_t n) {
  fprintf(f, "## Summary: AkiDB / hnswlib\n\n");
  fprintf(f, "| data set | QPS@0.95 ratio | target | build 1T ratio "
             "(target ≤%.1f×) | memory ratio (target ≤%.1f×) |\n",
          TARGET_BUILD, TARGET_MEMORY);
  fprintf(f, "|---|--:|--:|--:|--:|\n");
  for (size_t i = 0; i < n; i++) {
    const dataset_result_t *d = &res[i];
    if (!d->ran[LIB_AKIDB] || !d->ran[LIB_HNSWLIB]) {
      fprintf(f, "| %s | (needs akidb and hnswlib) | | | |\n", d->spec->name);
      continue;
    }
    const run_result_t *a = &d->run[LIB_AKIDB][0], *h = &d->run[LIB_HNSWLIB][0];
    figure_t aq = figure_qps(a, TARGET_MAIN), hq = figure_qps(h, TARGET_MAIN);
    figure_t ab = figure_build(a), hb = figure_build(h);
    figure_t ac = figure_build_cpu(a), hc = figure_build_cpu(h);
    figure_t am = figure_memory(a), hm = figure_memory(h);
    char q[48], b[48], c[48], m[48];
    format_ratio(aq, hq, q, sizeof q);
    format_ratio(ab, hb, b, sizeof b);
    format_ratio(ac, hc, c, sizeof c);
    format_ratio(am, hm, m, sizeof m);
    fprintf(f, "| %s | %s %s | ≥%.2f× | %s %s (CPU time: %s) | %s %s |\n",
            d->spec->name, q, verdict(aq, hq, qps_target(d->spec), true),
            qps_target(d->spec), b, verdict(ab, hb, TARGET_BUILD, false), c,
            m, verdict(am, hm, TARGET_MEMORY, false));
  }
  fprintf(f, "\n");
}

/* One library's row of the per-data-set table. */
static void write_lib_row(FILE *f, lib_t lib, const dataset_result_t *d) {
  const run_result_t *r1 = &d->run[lib][0], *r2 = &d->run[lib][1];
  char b1[32] = "failed", b2[32] = "failed", mem[32] = "failed";
  if (r1->ok) {
    snprintf(b1, sizeof b1, "%.2f", r1->build_seconds);
    snprintf(mem, sizeof mem, "%.1f", r1->memory_bytes / 1048576.0);
  }
  if (r2->ok) snprintf(b2, sizeof b2, "%.2f", r2->build_seconds);
  fprintf(f, "| %s | %s | %s | %s |", LIB_NAMES[lib], b1, b2, mem);
  for (int t = 0; t < TARGET_COUNT; t++) {
    char q[64];
    format_qps(r1, t, q, sizeof q);
    fprintf(f, " %s |", q);
  }
  fprintf(f, "\n");
}

/* The AkiDB / hnswlib ratio table of one data set. */
static void write_ratio_table(FILE *f, const dataset_result_t *d) {
  const run_result_t *a = d->run[LIB_AKIDB], *h = d->run[LIB_HNSWLIB];
  figure_t fa[7] = {figure_build(&a[0]),  figure_build_cpu(&a[0]),
                    figure_build(&a[1]),  figure_memory(&a[0]),
                    figure_qps(&a[0], 0), figure_qps(&a[0], 1),
                    figure_qps(&a[0], 2)};
  figure_t fh[7] = {figure_build(&h[0]),  figure_build_cpu(&h[0]),
                    figure_build(&h[1]),  figure_memory(&h[0]),
                    figure_qps(&h[0], 0), figure_qps(&h[0], 1),
                    figure_qps(&h[0], 2)};
  fprintf(f, "\n| AkiDB / hnswlib | build 1T | build 1T (CPU time) | build 2T "
             "| memory | QPS@0.90 | QPS@0.95 | QPS@0.99 |\n"
             "|---|--:|--:|--:|--:|--:|--:|--:|\n| ratio |");
  for (int i = 0; i < 7; i++) {
    char r[48];
    format_ratio(fa[i], fh[i], r, sizeof r);
    fprintf(f, " %s |", r);
  }
  fprintf(f, "\n| target | ≤%.1f× | ≤%.1f× | | ≤%.1f× | | ≥%.2f× | |\n",
          TARGET_BUILD, TARGET_BUILD, TARGET_MEMORY, qps_target(d->spec));
  fprintf(f, "| met | %s | %s | | %s | | %s | |\n",
          verdict(fa[0], fh[0], TARGET_BUILD, false),
          verdict(fa[1], fh[1], TARGET_BUILD, false),
          verdict(fa[3], fh[3], TARGET_MEMORY, false),
          verdict(fa[5], fh[5], qps_target(d->spec), true));
}

/* Mean wall ÷ CPU time of a run's search sweep (1.00 on an idle machine). */
static double search_wall_over_cpu(const run_result_t *r) {
  double sum = 0;
  for (uint32_t i = 0; i < r->n_sweep; i++)
    sum += r->sweep[i].qps / r->sweep[i].qps_wall;
  return r->n_sweep ? sum / r->n_sweep : 0;
}

/* One line: each library's 1T build CPU time and its wall ÷ CPU checks. */
static void write_timing_check(FILE *f, const dataset_result_t *d) {
  const char *sep = "\nTiming check (wall ÷ CPU time, 1.00 when nothing else "
                    "ran): ";
  for (int lib = 0; lib < LIB_COUNT; lib++) {
    const run_result_t *r = &d->run[lib][0];
    if (!d->ran[lib] || !r->ok || r->build_cpu_seconds <= 0) continue;
    fprintf(f, "%s%s 1T build %.2f s of CPU (%.2f), search %.2f", sep,
            LIB_NAMES[lib], r->build_cpu_seconds,
            r->build_seconds / r->build_cpu_seconds, search_wall_over_cpu(r));
    sep = "; ";
  }
  if (sep[0] == ';') fprintf(f, ".\n");
}

/* Notes under a data set's tables: AkiDB's own memory count, failures. */
static void write_notes(FILE *f, const dataset_result_t *d) {
  const run_result_t *a = &d->run[LIB_AKIDB][0];
  if (d->ran[LIB_AKIDB] && a->ok && a->self_bytes >= 0)
    fprintf(f, "\nAkiDB's own count (akidb_hnsw_memory_bytes): %.1f MiB.\n",
            a->self_bytes / 1048576.0);
  for (int lib = 0; lib < LIB_COUNT; lib++)
    for (int b = 0; b < BUILD_RUNS && d->ran[lib]; b++)
      if (!d->run[lib][b].ok)
        fprintf(f, "\n%s %dT run failed: %s\n", LIB_NAMES[lib],
                BUILD_THREADS[b], d->run[lib][b].error);
}

static void write_dataset(FILE *f, const dataset_result_t *d) {
  fprintf(f, "## %s — %zu × %u, %s, %zu queries", d->spec->name, d->n_base,
          d->dim, akidb_metric_name(d->spec->metric), d->n_query);
  if (d->spec->real)
    fprintf(f, " (real data)\n\n");
  else
    fprintf(f, " (Gaussian mixture, %u clusters, seed %u)\n\n", d->clusters,
            ANN_SEED + d->spec->dim);
  fprintf(f, "| library | build 1T (s) | build 2T (s) | memory (MiB) | "
             "QPS@0.90 | QPS@0.95 | QPS@0.99 |\n"
             "|---|--:|--:|--:|--:|--:|--:|\n");
  for (int lib = 0; lib < LIB_COUNT; lib++)
    if (d->ran[lib]) write_lib_row(f, (lib_t)lib, d);
  if (d->ran[LIB_AKIDB] && d->ran[LIB_HNSWLIB]) write_ratio_table(f, d);
  write_timing_check(f, d);
  write_notes(f, d);
  fprintf(f, "\n");
}

/* Writes the whole report (all data sets finished so far). */
static int write_report(const options_t *o, const dataset_result_t *res,
                        size_t n) {
  FILE *f = fopen(o->out_path, "w");
  if (!f) {
    fprintf(stderr, "ann: cannot write %s: %s\n", o->out_path,
            strerror(errno));
    return -1;
  }
  write_header(f, o);
  write_method(f, o);
  write_summary(f, res, n);
  for (size_t i = 0; i < n; i++) write_dataset(f, &res[i]);
  return fclose(f) == 0 ? 0 : -1;
}

/* Writes every sweep point: dataset,library,ef,recall@10, QPS (CPU, wall). */
static int write_sweep_csv(const options_t *o, const dataset_result_t *res,
                           size_t n) {
  FILE *f = fopen(o->csv_path, "w");
  if (!f) {
    fprintf(stderr, "ann: cannot write %s: %s\n", o->csv_path,
            strerror(errno));
    return -1;
  }
  fprintf(f, "dataset,library,ef,recall_at_10,qps_cpu,qps_wall\n");
  for (size_t i = 0; i < n; i++)
    for (int lib = 0; lib < LIB_COUNT; lib++) {
      const run_result_t *r = &res[i].run[lib][0];
      for (uint32_t p = 0; res[i].ran[lib] && p < r->n_sweep; p++)
        fprintf(f, "%s,%s,%u,%.4f,%.1f,%.1f\n", res[i].spec->name,
                LIB_NAMES[lib], r->sweep[p].ef, r->sweep[p].recall,
                r->sweep[p].qps, r->sweep[p].qps_wall);
    }
  return fclose(f) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------- options -- */

static void usage(FILE *f) {
  fprintf(f,
          "usage: ann [--out FILE] [--csv FILE] [--datasets LIST]\n"
          "           [--libs LIST] [--quick] [--queries N] [--timeout S]\n"
          "  --out FILE       markdown report (default bench/results/ann.md)\n"
          "  --csv FILE       raw sweep (default: the --out name, .md ->\n"
          "                   _sweep.csv)\n"
          "  --datasets LIST  sift5k,glove25,mix128,mix768 (default all)\n"
          "  --libs LIST      akidb,hnswlib,faiss (default all)\n"
          "  --quick          generated sets of 10k points, 200 queries\n"
          "  --queries N      queries per set (generated: N; real: first N)\n"
          "  --timeout S      seconds one library run may take (default %u;\n"
          "                   0: no limit)\n",
          DEFAULT_TIMEOUT);
}

/* Sets on[i] for each name of `list` found in names[]; false on an unknown. */
static bool parse_list(const char *list, const char *const *names, size_t n,
                       bool *on, const char *what) {
  char buf[256];
  char *save = NULL;
  snprintf(buf, sizeof buf, "%s", list);
  memset(on, 0, n * sizeof *on);
  for (char *tok = strtok_r(buf, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save)) {
    size_t i = 0;
    while (i < n && strcmp(tok, names[i]) != 0) i++;
    if (i == n) {
      fprintf(stderr, "ann: unknown %s '%s'\n", what, tok);
      return false;
    }
    on[i] = true;
  }
  return true;
}

static bool parse_datasets(const char *list, options_t *o) {
  const char *names[DATASET_COUNT];
  for (size_t i = 0; i < DATASET_COUNT; i++) names[i] = DATASETS[i].name;
  return parse_list(list, names, DATASET_COUNT, o->dataset_on, "data set");
}

/* The command line as typed, for the report. */
static void join_command(int argc, char **argv, char *out, size_t len) {
  size_t used = 0;
  out[0] = '\0';
  for (int i = 0; i < argc && used < len; i++) {
    int w = snprintf(out + used, len - used, "%s%s", i ? " " : "", argv[i]);
    if (w < 0) break;
    used += (size_t)w;
  }
}

/* Derives the CSV path from the report's: x.md -> x_sweep.csv. */
static void default_csv_path(options_t *o) {
  size_t len = strlen(o->out_path);
  if (len >= 3 && strcmp(o->out_path + len - 3, ".md") == 0) len -= 3;
  snprintf(o->csv_path, sizeof o->csv_path, "%.*s_sweep.csv", (int)len,
           o->out_path);
}

/* Parses argv; returns 0, or the process exit code to stop with. */
static int parse_options(int argc, char **argv, options_t *o) {
  memset(o, 0, sizeof *o);
  o->out_path = "bench/results/ann.md";
  o->timeout = DEFAULT_TIMEOUT;
  for (size_t i = 0; i < DATASET_COUNT; i++) o->dataset_on[i] = true;
  for (int i = 0; i < LIB_COUNT; i++) o->lib_on[i] = true;
  join_command(argc, argv, o->command, sizeof o->command);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    bool takes_value = strcmp(a, "--out") == 0 || strcmp(a, "--csv") == 0 ||
                       strcmp(a, "--datasets") == 0 ||
                       strcmp(a, "--libs") == 0 ||
                       strcmp(a, "--queries") == 0 ||
                       strcmp(a, "--timeout") == 0;
    if (takes_value && !v) {
      fprintf(stderr, "ann: %s needs a value\n", a);
      return 2;
    }
    if (strcmp(a, "--out") == 0) {
      o->out_path = v;
    } else if (strcmp(a, "--csv") == 0) {
      snprintf(o->csv_path, sizeof o->csv_path, "%s", v);
    } else if (strcmp(a, "--datasets") == 0) {
      if (!parse_datasets(v, o)) return 2;
    } else if (strcmp(a, "--libs") == 0) {
      if (!parse_list(v, LIB_NAMES, LIB_COUNT, o->lib_on, "library")) return 2;
    } else if (strcmp(a, "--queries") == 0) {
      o->queries = strtoul(v, NULL, 10);
      if (o->queries == 0) {
        fprintf(stderr, "ann: --queries needs a positive number\n");
        return 2;
      }
    } else if (strcmp(a, "--timeout") == 0) {
      o->timeout = (unsigned)strtoul(v, NULL, 10);
    } else if (strcmp(a, "--quick") == 0) {
      o->quick = true;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 1;
    } else {
      fprintf(stderr, "ann: unknown option '%s'\n", a);
      usage(stderr);
      return 2;
    }
    if (takes_value) i++;
  }
  if (!o->csv_path[0]) default_csv_path(o);
  return 0;
}

/* The 1-minute load average, or -1 when unknown. */
static double load_average(void) {
  double load = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (!f) return -1;
  if (fscanf(f, "%lf", &load) != 1) load = -1;
  fclose(f);
  return load;
}

/* Whether the data directory is needed and present. */
static bool data_dir_ok(const options_t *o) {
  bool need = false;
  for (size_t i = 0; i < DATASET_COUNT; i++)
    need |= o->dataset_on[i] && DATASETS[i].real;
  struct stat st;
  if (!need || (stat(ds_data_dir(), &st) == 0 && S_ISDIR(st.st_mode)))
    return true;
  fprintf(stderr,
          "ann: the data directory '%s' does not exist.\n"
          "     sift5k and glove25 are read from it: set AKIDB_TEST_DATA to "
          "the directory\n     holding sift5k/ and glove25/ (or configure "
          "with -DAKIDB_DATA_DIR=...),\n     or run only generated sets: "
          "--datasets mix128,mix768\n",
          ds_data_dir());
  return false;
}

/* ---------------------------------------------------------------- main -- */

int main(int argc, char **argv) {
  options_t o;
  int rc = parse_options(argc, argv, &o);
  if (rc) return rc == 1 ? 0 : rc;
  if (!data_dir_ok(&o)) return 2;
  o.load_at_start = load_average();
  const akidb_kernels_t *kern = akidb_kernels();
  fprintf(stderr, "ann: AkiDB kernels %s; M=%u ef_construction=%u; report %s\n",
          kern ? kern->name : "none", ANN_M, ANN_EF_CONSTRUCTION, o.out_path);

  dataset_result_t results[DATASET_COUNT];
  size_t done = 0;
  int status = 0;
  memset(results, 0, sizeof results);
  for (size_t i = 0; i < DATASET_COUNT; i++) {
    if (!o.dataset_on[i]) continue;
    ds_set_t set;
    char err[512] = "";
    double t0 = ds_now();
    if (load_dataset(&DATASETS[i], &o, &set, &results[done], err,
                     sizeof err)) {
      fprintf(stderr, "ann: %s: %s\n", DATASETS[i].name, err);
      status = 1;
      continue;
    }
    fprintf(stderr, "[%s] %zu × %u (%s), %zu queries, ready in %.1f s\n",
            set.name, set.n_base, set.dim, akidb_metric_name(set.metric),
            set.n_query, ds_now() - t0);
    if (!bench_dataset(&o, &set, &results[done])) status = 1;
    ds_free(&set);
    done++;
    if (write_report(&o, results, done) || write_sweep_csv(&o, results, done))
      status = 1;
  }
  fprintf(stderr, "ann: wrote %s and %s\n", o.out_path, o.csv_path);
  return status;
}
