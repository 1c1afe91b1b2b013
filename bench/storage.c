/*
 * storage.c — the storage benchmark behind `make bench-storage` (and `make
 * bench`): durable collections (include/akidb/store.h) measured in one run
 * on generated 128-d Gaussian-mixture data, written to
 * bench/results/storage.md:
 *
 *   1. acknowledged-write throughput: batches of 1,000 points, 1 and 4
 *      writer threads, under the fsync, interval and none policies, with
 *      background indexing running (the default) and deferred; and a sweep
 *      of batch sizes 1, 100 and 1,000 for 128-d and 768-d points;
 *   2. background index catch-up: points/s moved from the append buffer
 *      into the graph (2 indexer threads) from the end of ingest to
 *      akidb_collection_wait_indexed, beside hnswlib's 2-thread build rate
 *      on the same points (bench/peer_hnswlib.cpp), same M and
 *      ef_construction;
 *   3. search latency (k=10) with nothing pending and with 50k points
 *      pending in the buffer over a graph of 100k;
 *   4. checkpoint time and file size of the 100k collection;
 *   5. open time of a 1M-point collection from its checkpoint (empty log,
 *      page cache dropped and warm), and with 10k and 100k points of log to
 *      replay; plus the 1M checkpoint's time and size.
 *
 * Owns: option parsing, data generation, the phases above, and the report.
 * Collections live under a temporary directory on the repository's disk
 * (--tmp), removed at the end. Threads: only the writer threads of phase 1
 * and hnswlib's build threads of phase 2, besides the store's own.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "akidb/store.h"
#include "akidb/vec.h"
#include "dataset/dataset.h"
#include "peers.h"

#ifndef STORAGE_TMP_DEFAULT
#define STORAGE_TMP_DEFAULT "build/bench/storage-tmp"
#endif
#ifndef STORAGE_BUILD_TYPE
#define STORAGE_BUILD_TYPE "unknown"
#endif

/* ------------------------------------------------------------ settings -- */

#define DIM 128u
#define BATCH 1000u       /* points per upsert */
#define M 16u             /* AkiDB and hnswlib alike */
#define EF_CONSTRUCTION 200u
#define SEED 42u
#define K 10u
#define CLUSTERS 300u
#define HNSWLIB_CHUNK 32u /* rows an hnswlib build thread claims at once */
#define ID_WIDTH 16u
#define PAYLOAD_WIDTH 24u
#define CHECKPOINT_SAMPLES 3
#define OPEN_SAMPLES 5
#define REPEATS 3         /* runs per ingest configuration; the median is reported */
#define DIM_WIDE 768u     /* the batch-size sweep's second dimension */
#define SWEEP_BATCHES_FSYNC 400u     /* batches per sweep run under fsync ... */
#define SWEEP_BATCHES_INTERVAL 4000u /* ... and under interval */
#define SWEEP_MIN_POINTS_FSYNC 4000u /* but at least this many points ... */
#define SWEEP_MIN_POINTS_INTERVAL 40000u

/* Acceptance targets of issue 4. */
#define TARGET_WRITES 100000.0  /* points/s, fsync, batches of 1,000 */
#define TARGET_CATCHUP 1.25     /* × hnswlib's 2-thread build rate */
#define TARGET_CHECKPOINT 0.5   /* s, 100k × 128 */
#define TARGET_OPEN 5.0         /* s, 1M × 128 from its checkpoint */

typedef struct {
  size_t ingest;  /* points per throughput run */
  size_t graph;   /* points of the catch-up / search / checkpoint collection */
  size_t pending; /* points left pending for the latency test */
  size_t queries, recall_queries;
  size_t wide;    /* most points per sweep run at DIM_WIDE */
  size_t big;     /* points of the open-time collection */
  size_t replay, replay_big; /* points in the log to replay */
} sizes_t;

static const sizes_t SIZES_FULL = {200000, 100000, 50000, 1000, 200, 50000, 1000000, 10000, 100000};
static const sizes_t SIZES_QUICK = {20000, 10000, 5000, 200, 50, 5000, 50000, 2000, 10000};

typedef struct {
  const char *out, *tmp;
  bool quick;
  sizes_t n;
  char command[2048];
} options_t;

/* ------------------------------------------------------------- results -- */

/* REPEATS runs of one ingest configuration, each into a fresh collection. */
typedef struct {
  double rates[REPEATS]; /* points/s of each run */
  double rate;           /* their median */
  uint64_t fsyncs, fsync_ns; /* summed over the runs */
} runs_t;

typedef struct {
  akidb_durability_t durability;
  int writers;
  bool indexing; /* background indexing ran during the ingest */
  runs_t runs;
} ingest_row_t;

#define INGEST_ROWS 12

typedef struct {
  uint32_t dim;
  size_t batch, points;
  akidb_durability_t durability;
  runs_t runs;
} sweep_row_t;

#define SWEEP_ROWS 12

typedef struct {
  size_t points, pending_at_end;
  double ingest_s, catchup_s, rate, end_to_end_rate;
  double hnswlib_s, hnswlib_rate;
} catchup_t;

typedef struct {
  uint64_t points, pending;
  double mean_ms, p50_ms, p95_ms, p99_ms, recall;
} latency_t;

typedef struct {
  size_t points;
  double seconds[CHECKPOINT_SAMPLES];
  uint64_t bytes;
} checkpoint_t;

typedef struct {
  size_t points, replay_points, replay_big_points;
  double ingest_s, build_s, ckpt_s;
  uint64_t ckpt_bytes;
  double cold_s[OPEN_SAMPLES], cold_resident, warm_s[OPEN_SAMPLES], replay_s[OPEN_SAMPLES];
  double replay_big_s;
  uint64_t replayed_points, replayed_big_points;
} big_t;

typedef struct {
  ingest_row_t ingest[INGEST_ROWS];
  int n_ingest;
  sweep_row_t sweep[SWEEP_ROWS];
  int n_sweep;
  catchup_t catchup;
  latency_t idle, busy;
  checkpoint_t ckpt;
  big_t big;
  double load_start, load_end, total_s;
  char disk[512]; /* file system and device of the scratch directory */
} report_t;

/* ------------------------------------------------------------- helpers -- */

static void bench_log(void *ctx, akidb_log_level_t level, const char *msg) {
  (void)ctx;
  if (level >= AKIDB_LOG_WARN) fprintf(stderr, "storage: store %s: %s\n",
                                       level == AKIDB_LOG_WARN ? "warning" : "error", msg);
}

/* One progress line on stderr. */
static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "storage: ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static void die(const char *what, int rc, const char *err) {
  fprintf(stderr, "storage: %s failed: %s%s%s\n", what, akidb_err_name(rc), err && *err ? ": " : "",
          err ? err : "");
  exit(1);
}

static void bench_options(akidb_collection_options_t *o, uint32_t dim, akidb_durability_t d,
                          uint32_t index_threads, bool background) {
  akidb_collection_options_default(o, dim, AKIDB_METRIC_L2);
  o->index.m = M;
  o->index.ef_construction = EF_CONSTRUCTION;
  o->index.seed = SEED;
  o->durability = d;
  o->index_threads = index_threads;
  o->background = background;
  o->log = bench_log;
}

static void collection_dir(const options_t *o, const char *name, char *out, size_t len) {
  snprintf(out, len, "%s/%s", o->tmp, name);
}

static akidb_collection_t *open_or_die(const char *dir, const akidb_collection_options_t *co,
                                       akidb_open_report_t *rep) {
  akidb_collection_t *c;
  char err[512] = "";
  int rc = akidb_collection_open(dir, co, &c, rep, err, sizeof err);
  if (rc) die("open", rc, err);
  return c;
}

static void close_or_die(akidb_collection_t *c) {
  char err[512] = "";
  int rc = akidb_collection_close(c, err, sizeof err);
  if (rc) die("close", rc, err);
}

static void destroy_dir(const char *dir) {
  char err[512] = "";
  int rc = akidb_collection_destroy(dir, err, sizeof err);
  if (rc) die("destroy", rc, err);
}

/* The median of n ≤ 16 values. */
static double median(const double *v, int n) {
  double s[16];
  memcpy(s, v, (size_t)n * sizeof *s);
  qsort(s, (size_t)n, sizeof *s, bench_cmp_double);
  return s[n / 2];
}

static double load_average(void) {
  double l = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &l) != 1) l = -1;
    fclose(f);
  }
  return l;
}

/* --------------------------------------------------------------- points -- */

/* Ids "<prefix><row>" and payloads {"row":<row>} for rows of a data set. */
typedef struct {
  const float *vecs;
  size_t n;
  uint32_t dim;
  char *ids, *payloads;
  uint8_t *id_lens, *payload_lens;
} points_t;

static void points_make(points_t *p, const float *vecs, size_t n, uint32_t dim,
                        const char *prefix) {
  memset(p, 0, sizeof *p);
  p->vecs = vecs;
  p->n = n;
  p->dim = dim;
  p->ids = malloc(n * ID_WIDTH);
  p->payloads = malloc(n * PAYLOAD_WIDTH);
  p->id_lens = malloc(n);
  p->payload_lens = malloc(n);
  if (!p->ids || !p->payloads || !p->id_lens || !p->payload_lens) die("allocation", AKIDB_ENOMEM, "");
  for (size_t i = 0; i < n; i++) {
    p->id_lens[i] = (uint8_t)snprintf(p->ids + i * ID_WIDTH, ID_WIDTH, "%s%zu", prefix, i);
    p->payload_lens[i] =
        (uint8_t)snprintf(p->payloads + i * PAYLOAD_WIDTH, PAYLOAD_WIDTH, "{\"row\":%zu}", i);
  }
}

static void points_free(points_t *p) {
  free(p->ids);
  free(p->payloads);
  free(p->id_lens);
  free(p->payload_lens);
  memset(p, 0, sizeof *p);
}

/* Fills `out` with rows start .. start+count-1. */
static void points_batch(const points_t *p, size_t start, size_t count, akidb_point_t *out) {
  for (size_t i = 0; i < count; i++) {
    size_t r = start + i;
    out[i] = (akidb_point_t){.id = p->ids + r * ID_WIDTH, .id_len = p->id_lens[r],
                             .vector = p->vecs + r * p->dim,
                             .payload = p->payloads + r * PAYLOAD_WIDTH,
                             .payload_len = p->payload_lens[r]};
  }
}

/* ------------------------------------------------------------ ingesting -- */

typedef struct {
  akidb_collection_t *c;
  const points_t *pts;
  size_t first, end; /* rows first .. end-1 */
  size_t batch;      /* points per upsert */
  atomic_size_t *next;
  int rc;
  char err[256];
} writer_t;

/* Claims batches of w->batch rows and upserts them until none are left. */
static void *writer_main(void *arg) {
  writer_t *w = arg;
  akidb_point_t *batch = malloc(w->batch * sizeof *batch);
  if (!batch) {
    w->rc = AKIDB_ENOMEM;
    return NULL;
  }
  for (;;) {
    size_t start = atomic_fetch_add(w->next, w->batch);
    if (start >= w->end) break;
    size_t count = w->end - start < w->batch ? w->end - start : w->batch;
    points_batch(w->pts, start, count, batch);
    w->rc = akidb_collection_upsert(w->c, batch, count, w->err, sizeof w->err);
    if (w->rc) {
      atomic_store(w->next, w->end);
      break;
    }
  }
  free(batch);
  return NULL;
}

/* Upserts rows first..end-1, `batch` at a time, with `writers` threads;
 * returns the wall seconds. */
static double ingest_batches(akidb_collection_t *c, const points_t *pts, size_t first,
                             size_t end, int writers, size_t batch) {
  enum { MAX_WRITERS = 8 };
  writer_t w[MAX_WRITERS];
  pthread_t tid[MAX_WRITERS];
  atomic_size_t next = first;
  double t0 = ds_now();
  for (int i = 0; i < writers; i++) {
    w[i] = (writer_t){.c = c, .pts = pts, .first = first, .end = end, .batch = batch,
                      .next = &next};
    if (pthread_create(&tid[i], NULL, writer_main, &w[i])) die("pthread_create", AKIDB_ENOMEM, "");
  }
  for (int i = 0; i < writers; i++) pthread_join(tid[i], NULL);
  double seconds = ds_now() - t0;
  for (int i = 0; i < writers; i++)
    if (w[i].rc) die("upsert", w[i].rc, w[i].err);
  return seconds;
}

/* The same in batches of BATCH. */
static double ingest(akidb_collection_t *c, const points_t *pts, size_t first, size_t end,
                     int writers) {
  return ingest_batches(c, pts, first, end, writers, BATCH);
}

/* ------------------------------------------------- phase 1: throughput -- */

/* One ingest run into a fresh collection: rows 0..points-1 of pts, `batch`
 * at a time, from `writers` threads, one background indexer unless
 * deferred. Fills run i of *r. */
static void measure_run(const options_t *o, const points_t *pts, size_t points, size_t batch,
                        int writers, akidb_durability_t d, bool indexing, runs_t *r, int i) {
  char dir[4200];
  collection_dir(o, "ingest", dir, sizeof dir);
  destroy_dir(dir);
  akidb_collection_options_t co;
  bench_options(&co, pts->dim, d, 1, indexing);
  akidb_collection_t *c = open_or_die(dir, &co, NULL);
  double seconds = ingest_batches(c, pts, 0, points, writers, batch);
  r->rates[i] = (double)points / seconds;
  akidb_collection_stats_t st;
  akidb_collection_stats(c, &st);
  r->fsyncs += st.wal_fsyncs;
  r->fsync_ns += st.wal_fsync_ns;
  if (akidb_collection_count(c) != points) die("ingest (count after it)", AKIDB_EIO, "");
  close_or_die(c);
  destroy_dir(dir);
}

static void measure_runs(const options_t *o, const points_t *pts, size_t points, size_t batch,
                         int writers, akidb_durability_t d, bool indexing, runs_t *r) {
  memset(r, 0, sizeof *r);
  for (int i = 0; i < REPEATS; i++) measure_run(o, pts, points, batch, writers, d, indexing, r, i);
  r->rate = median(r->rates, REPEATS);
}

static double mean_fsync_ms(const runs_t *r) {
  return r->fsyncs ? (double)r->fsync_ns / (double)r->fsyncs / 1e6 : 0.0;
}

static void phase_throughput(const options_t *o, const ds_set_t *data, report_t *r) {
  static const akidb_durability_t policies[] = {AKIDB_DURABILITY_FSYNC,
                                                AKIDB_DURABILITY_INTERVAL,
                                                AKIDB_DURABILITY_NONE};
  static const int writers[] = {1, 4};
  points_t pts;
  points_make(&pts, data->base, o->n.ingest, DIM, "p");
  for (int indexing = 1; indexing >= 0; indexing--)
    for (size_t p = 0; p < 3; p++)
      for (size_t w = 0; w < 2; w++) {
        ingest_row_t *row = &r->ingest[r->n_ingest++];
        *row = (ingest_row_t){.durability = policies[p], .writers = writers[w],
                              .indexing = indexing};
        measure_runs(o, &pts, pts.n, BATCH, writers[w], policies[p], indexing, &row->runs);
        progress("ingest %s, %d writer%s, indexing %s: %.0f points/s (median of %d)",
                 akidb_durability_name(policies[p]), writers[w], writers[w] > 1 ? "s" : "",
                 indexing ? "on" : "deferred", row->runs.rate, REPEATS);
      }
  points_free(&pts);
}

/* Points per sweep run: SWEEP_BATCHES_* batches, at least SWEEP_MIN_POINTS_*,
 * at most the rows there are. */
static size_t sweep_points(size_t batch, akidb_durability_t d, size_t rows) {
  bool fsync = d == AKIDB_DURABILITY_FSYNC;
  size_t n = batch * (fsync ? SWEEP_BATCHES_FSYNC : SWEEP_BATCHES_INTERVAL);
  size_t floor = fsync ? SWEEP_MIN_POINTS_FSYNC : SWEEP_MIN_POINTS_INTERVAL;
  if (n < floor) n = floor;
  return n < rows ? n : rows;
}

/* One sweep row: 1 writer, background indexing on (the default). */
static void sweep_run(const options_t *o, const points_t *pts, size_t batch,
                      akidb_durability_t d, sweep_row_t *row) {
  *row = (sweep_row_t){.dim = pts->dim, .batch = batch, .durability = d,
                       .points = sweep_points(batch, d, pts->n)};
  measure_runs(o, pts, row->points, batch, 1, d, true, &row->runs);
  progress("sweep %u-d, batches of %zu, %s: %.0f points/s (median of %d)", pts->dim, batch,
           akidb_durability_name(d), row->runs.rate, REPEATS);
}

/* Batch sizes 1, 100, 1000 under fsync and interval, at 128 and 768 dims. */
static void phase_batches(const options_t *o, const ds_set_t *data, report_t *r) {
  static const size_t batches[] = {1, 100, 1000};
  static const akidb_durability_t policies[] = {AKIDB_DURABILITY_FSYNC,
                                                AKIDB_DURABILITY_INTERVAL};
  ds_set_t wide;
  int rc = ds_make_mixture("mix768", o->n.wide, 0, DIM_WIDE, AKIDB_METRIC_L2, CLUSTERS, SEED + 2,
                           0, &wide);
  if (rc) die("data generation", rc, "");
  points_t sets[2];
  points_make(&sets[0], data->base, o->n.ingest, DIM, "s");
  points_make(&sets[1], wide.base, o->n.wide, DIM_WIDE, "w");
  for (int s = 0; s < 2; s++)
    for (size_t p = 0; p < 2; p++)
      for (size_t b = 0; b < 3; b++)
        sweep_run(o, &sets[s], batches[b], policies[p], &r->sweep[r->n_sweep++]);
  points_free(&sets[0]);
  points_free(&sets[1]);
  ds_free(&wide);
}

/* ---------------------------------------------- phase 2: index catch-up -- */

typedef struct {
  peer_hnswlib_t *index;
  const float *vecs;
  size_t n;
  atomic_size_t *next;
  int rc;
} hnswlib_worker_t;

static void *hnswlib_main(void *arg) {
  hnswlib_worker_t *w = arg;
  for (;;) {
    size_t start = atomic_fetch_add(w->next, HNSWLIB_CHUNK);
    if (start >= w->n) return NULL;
    size_t end = start + HNSWLIB_CHUNK < w->n ? start + HNSWLIB_CHUNK : w->n;
    for (size_t i = start; i < end; i++)
      if ((w->rc = peer_hnswlib_add(w->index, i, w->vecs + i * DIM))) {
        atomic_store(w->next, w->n);
        return NULL;
      }
  }
}

/* hnswlib's build time for n rows with 2 threads. */
static double hnswlib_build_seconds(const float *vecs, size_t n) {
  peer_hnswlib_t *h;
  char err[256] = "";
  int rc = peer_hnswlib_create(DIM, AKIDB_METRIC_L2, M, EF_CONSTRUCTION, n, SEED, &h, err,
                               sizeof err);
  if (rc) die("hnswlib create", rc, err);
  atomic_size_t next = 0;
  hnswlib_worker_t w[2];
  pthread_t tid[2];
  double t0 = ds_now();
  for (int i = 0; i < 2; i++) {
    w[i] = (hnswlib_worker_t){.index = h, .vecs = vecs, .n = n, .next = &next};
    if (pthread_create(&tid[i], NULL, hnswlib_main, &w[i])) die("pthread_create", AKIDB_ENOMEM, "");
  }
  for (int i = 0; i < 2; i++) pthread_join(tid[i], NULL);
  double seconds = ds_now() - t0;
  peer_hnswlib_free(h);
  for (int i = 0; i < 2; i++)
    if (w[i].rc) die("hnswlib add", w[i].rc, "");
  return seconds;
}

/* Ingests o->n.graph points with 2 background indexers and times the
 * catch-up; leaves the collection open and fully indexed in *out. */
static void phase_catchup(const options_t *o, const points_t *pts, report_t *r,
                          akidb_collection_t **out) {
  char dir[4200];
  collection_dir(o, "graph", dir, sizeof dir);
  destroy_dir(dir);
  akidb_collection_options_t co;
  bench_options(&co, DIM, AKIDB_DURABILITY_FSYNC, 2, true);
  akidb_collection_t *c = open_or_die(dir, &co, NULL);
  catchup_t *cu = &r->catchup;
  cu->points = o->n.graph;
  double t0 = ds_now();
  cu->ingest_s = ingest(c, pts, 0, o->n.graph, 1);
  akidb_collection_stats_t st;
  akidb_collection_stats(c, &st);
  double t1 = ds_now();
  akidb_collection_wait_indexed(c);
  double t2 = ds_now();
  cu->pending_at_end = st.pending;
  cu->catchup_s = t2 - t1;
  cu->rate = (double)st.pending / cu->catchup_s;
  cu->end_to_end_rate = (double)o->n.graph / (t2 - t0);
  progress("catch-up: %zu points pending at the end of ingest, indexed in %.2f s: %.0f points/s",
           cu->pending_at_end, cu->catchup_s, cu->rate);
  cu->hnswlib_s = hnswlib_build_seconds(pts->vecs, o->n.graph);
  cu->hnswlib_rate = (double)o->n.graph / cu->hnswlib_s;
  progress("hnswlib 2-thread build of %zu points: %.2f s: %.0f points/s", o->n.graph,
           cu->hnswlib_s, cu->hnswlib_rate);
  *out = c;
}

/* ------------------------------------------------- phase 3: checkpoint -- */

/* Size of the newest checkpoint-*.akc in dir. */
static uint64_t checkpoint_file(const char *dir, char *path, size_t len) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char best[256] = "";
  if (!d) return 0;
  while ((e = readdir(d)))
    if (strncmp(e->d_name, "checkpoint-", 11) == 0 && strstr(e->d_name, ".akc") &&
        strcmp(e->d_name, best) > 0)
      snprintf(best, sizeof best, "%s", e->d_name);
  closedir(d);
  struct stat st;
  snprintf(path, len, "%s/%s", dir, best);
  return *best && stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Upserts one extra point (so the state changes) and times a checkpoint. */
static double timed_checkpoint(akidb_collection_t *c, const points_t *pts, size_t row) {
  akidb_point_t p;
  char err[512] = "";
  points_batch(pts, row, 1, &p);
  int rc = akidb_collection_upsert(c, &p, 1, err, sizeof err);
  if (rc) die("upsert", rc, err);
  akidb_collection_wait_indexed(c);
  double t0 = ds_now();
  rc = akidb_collection_checkpoint(c, err, sizeof err);
  double seconds = ds_now() - t0;
  if (rc) die("checkpoint", rc, err);
  return seconds;
}

static void phase_checkpoint(const options_t *o, akidb_collection_t *c, const points_t *pts,
                             report_t *r) {
  char dir[4200], path[4400];
  collection_dir(o, "graph", dir, sizeof dir);
  r->ckpt.points = o->n.graph;
  for (int i = 0; i < CHECKPOINT_SAMPLES; i++) {
    r->ckpt.seconds[i] = timed_checkpoint(c, pts, o->n.graph + (size_t)i);
    progress("checkpoint of %llu points: %.3f s",
             (unsigned long long)akidb_collection_count(c), r->ckpt.seconds[i]);
  }
  r->ckpt.bytes = checkpoint_file(dir, path, sizeof path);
}

/* ------------------------------------------------- phase 4: latency -- */

/* The ids of the K nearest points to q (exact or by the default search). */
static uint32_t search_ids(akidb_collection_t *c, const float *q, bool exact, char ids[K][ID_WIDTH]) {
  akidb_search_options_t so = {.k = K, .exact = exact};
  akidb_search_result_t res;
  char err[256] = "";
  int rc = akidb_collection_search(c, q, DIM, &so, &res, err, sizeof err);
  if (rc) die("search", rc, err);
  uint32_t n = res.n;
  for (uint32_t i = 0; i < n; i++) snprintf(ids[i], ID_WIDTH, "%s", res.hits[i].id);
  akidb_search_result_free(&res);
  return n;
}

/* Mean recall@K of the default search against exact search. */
static double measure_recall(akidb_collection_t *c, const ds_set_t *data, size_t nq) {
  char got[K][ID_WIDTH], want[K][ID_WIDTH];
  size_t found = 0, total = 0;
  for (size_t q = 0; q < nq; q++) {
    const float *v = data->queries + q * DIM;
    uint32_t ng = search_ids(c, v, false, got), nw = search_ids(c, v, true, want);
    for (uint32_t i = 0; i < nw; i++)
      for (uint32_t j = 0; j < ng; j++)
        if (strcmp(want[i], got[j]) == 0) {
          found++;
          break;
        }
    total += nw;
  }
  return total ? (double)found / (double)total : 0.0;
}

static void measure_latency(akidb_collection_t *c, const ds_set_t *data, const options_t *o,
                            latency_t *out) {
  size_t nq = o->n.queries;
  double *ms = malloc(nq * sizeof *ms), sum = 0;
  if (!ms) die("allocation", AKIDB_ENOMEM, "");
  akidb_search_options_t so = {.k = K};
  for (size_t q = 0; q < nq; q++) { /* one warm-up pass */
    akidb_search_result_t res;
    if (akidb_collection_search(c, data->queries + q * DIM, DIM, &so, &res, NULL, 0) == AKIDB_OK)
      akidb_search_result_free(&res);
  }
  for (size_t q = 0; q < nq; q++) {
    akidb_search_result_t res;
    double t0 = ds_now();
    int rc = akidb_collection_search(c, data->queries + q * DIM, DIM, &so, &res, NULL, 0);
    ms[q] = (ds_now() - t0) * 1e3;
    if (rc) die("search", rc, "");
    akidb_search_result_free(&res);
    sum += ms[q];
  }
  qsort(ms, nq, sizeof *ms, bench_cmp_double);
  akidb_collection_stats_t st;
  akidb_collection_stats(c, &st);
  *out = (latency_t){.points = st.points, .pending = st.pending, .mean_ms = sum / (double)nq,
                     .p50_ms = bench_percentile(ms, nq, 50), .p95_ms = bench_percentile(ms, nq, 95),
                     .p99_ms = bench_percentile(ms, nq, 99)};
  out->recall = measure_recall(c, data, o->n.recall_queries);
  free(ms);
  progress("search over %llu points, %llu pending: p50 %.3f ms, p99 %.3f ms, recall@10 %.3f",
           (unsigned long long)out->points, (unsigned long long)out->pending, out->p50_ms,
           out->p99_ms, out->recall);
}

/* Reopens the graph collection without background threads, measures, adds
 * o->n.pending points that stay pending, measures again. */
static void phase_latency(const options_t *o, const ds_set_t *data, const points_t *pts,
                          report_t *r) {
  char dir[4200];
  collection_dir(o, "graph", dir, sizeof dir);
  akidb_collection_options_t co;
  bench_options(&co, DIM, AKIDB_DURABILITY_NONE, 1, false);
  akidb_collection_t *c = open_or_die(dir, &co, NULL);
  akidb_collection_index_pending(c, SIZE_MAX); /* the checkpoint's few pending points */
  measure_latency(c, data, o, &r->idle);
  size_t first = o->n.graph + CHECKPOINT_SAMPLES;
  ingest(c, pts, first, first + o->n.pending, 1);
  measure_latency(c, data, o, &r->busy);
  close_or_die(c);
  destroy_dir(dir);
}

/* ------------------------------------------------- phase 5: open time -- */

/* Fraction of a file's pages in the page cache (mincore), or -1. */
static double resident_fraction(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) || st.st_size == 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = ((size_t)st.st_size + page - 1) / page;
  void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  unsigned char *vec = malloc(pages);
  double frac = -1;
  if (map != MAP_FAILED && vec && mincore(map, (size_t)st.st_size, vec) == 0) {
    size_t in = 0;
    for (size_t i = 0; i < pages; i++) in += vec[i] & 1;
    frac = (double)in / (double)pages;
  }
  free(vec);
  if (map != MAP_FAILED) munmap(map, (size_t)st.st_size);
  close(fd);
  return frac;
}

/* Asks the kernel to drop a (clean) file from the page cache. */
static void drop_from_cache(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  fdatasync(fd);
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
}

/* Opens the big collection (no background threads), checks its count and
 * closes it — indexing replayed points first when asked, so the next
 * checkpoint is as fully indexed as the first; returns the open's wall time. */
static double timed_open(const char *dir, uint64_t want, bool index_replayed,
                         akidb_open_report_t *rep) {
  akidb_collection_options_t co;
  bench_options(&co, DIM, AKIDB_DURABILITY_FSYNC, 2, false);
  double t0 = ds_now();
  akidb_collection_t *c = open_or_die(dir, &co, rep);
  double seconds = ds_now() - t0;
  if (akidb_collection_count(c) != want) die("open (count after it)", AKIDB_EIO, "");
  if (index_replayed) akidb_collection_index_pending(c, SIZE_MAX);
  close_or_die(c);
  return seconds;
}


/* Builds the big collection: ingest, background indexing with 2 threads,
 * a timed checkpoint, close. */
static void build_big(const char *dir, const points_t *pts, size_t n, big_t *b) {
  destroy_dir(dir);
  akidb_collection_options_t co;
  bench_options(&co, DIM, AKIDB_DURABILITY_NONE, 2, true);
  akidb_collection_t *c = open_or_die(dir, &co, NULL);
  double t0 = ds_now();
  b->ingest_s = ingest(c, pts, 0, n, 1);
  akidb_collection_wait_indexed(c);
  b->build_s = ds_now() - t0;
  progress("built the %zu-point collection in %.1f s (ingest %.1f s)", n, b->build_s,
           b->ingest_s);
  char err[512] = "";
  t0 = ds_now();
  int rc = akidb_collection_checkpoint(c, err, sizeof err);
  b->ckpt_s = ds_now() - t0;
  if (rc) die("checkpoint", rc, err);
  close_or_die(c);
}

/* A child process appends `n` points to the log and dies without closing,
 * as a crash would, so the next open has them to replay. */
static void leave_log(const char *dir, const points_t *pts, size_t first, size_t n) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) die("fork", AKIDB_EIO, strerror(errno));
  if (pid == 0) {
    akidb_collection_options_t co;
    bench_options(&co, DIM, AKIDB_DURABILITY_FSYNC, 1, false);
    akidb_collection_t *c = open_or_die(dir, &co, NULL);
    ingest(c, pts, first, first + n, 1);
    _exit(0);
  }
  int status;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    die("the log-writing child", AKIDB_EIO, "");
}

/* Opens from the checkpoint alone: OPEN_SAMPLES times after dropping it
 * from the page cache, OPEN_SAMPLES times warm. */
static void open_samples(const char *dir, size_t points, big_t *b) {
  char ckpt[4400];
  akidb_open_report_t rep;
  b->ckpt_bytes = checkpoint_file(dir, ckpt, sizeof ckpt);
  for (int i = 0; i < OPEN_SAMPLES; i++) {
    drop_from_cache(ckpt);
    double resident = resident_fraction(ckpt);
    if (resident > b->cold_resident) b->cold_resident = resident;
    b->cold_s[i] = timed_open(dir, points, false, &rep);
  }
  for (int i = 0; i < OPEN_SAMPLES; i++) b->warm_s[i] = timed_open(dir, points, false, &rep);
  progress("open of %zu points: %.2f s (median) after dropping the page cache, %.2f s warm",
           points, median(b->cold_s, OPEN_SAMPLES), median(b->warm_s, OPEN_SAMPLES));
}

/* Opens after a crash left `n` points (rows first..) in the log; returns
 * the open's wall time and the points it replayed. */
static double replay_sample(const char *dir, const points_t *pts, size_t first, size_t n,
                            bool index_replayed, uint64_t *replayed) {
  akidb_open_report_t rep;
  leave_log(dir, pts, first, n);
  double seconds = timed_open(dir, first + n, index_replayed, &rep);
  *replayed = rep.replayed_points;
  progress("open with %llu points to replay: %.2f s", (unsigned long long)*replayed, seconds);
  return seconds;
}

static void phase_open(const options_t *o, report_t *r) {
  big_t *b = &r->big;
  size_t extra = OPEN_SAMPLES * o->n.replay + o->n.replay_big, rows = o->n.big + extra;
  ds_set_t data;
  progress("generating %zu points", rows);
  int rc = ds_make_mixture("big128", rows, 0, DIM, AKIDB_METRIC_L2, CLUSTERS, SEED + 1, 0, &data);
  if (rc) die("data generation", rc, "");
  points_t pts;
  points_make(&pts, data.base, rows, DIM, "b");
  char dir[4200];
  collection_dir(o, "big", dir, sizeof dir);
  b->points = o->n.big;
  build_big(dir, &pts, o->n.big, b);
  open_samples(dir, o->n.big, b);
  b->replay_points = o->n.replay;
  size_t first = o->n.big;
  for (int i = 0; i < OPEN_SAMPLES; i++, first += o->n.replay)
    b->replay_s[i] = replay_sample(dir, &pts, first, o->n.replay, true, &b->replayed_points);
  b->replay_big_points = o->n.replay_big;
  b->replay_big_s = replay_sample(dir, &pts, first, o->n.replay_big, false, &b->replayed_big_points);
  points_free(&pts);
  ds_free(&data);
  destroy_dir(dir);
}

/* --------------------------------------------------------------- report -- */

static double mem_total_gib(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  char line[256];
  double kib = 0;
  if (!f) return 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "MemTotal: %lf kB", &kib) == 1) break;
  fclose(f);
  return kib / (1024.0 * 1024.0);
}

/* The file system and device holding `path`, from /proc/self/mounts. */
static void disk_note(const char *path, char *out, size_t len) {
  char real[PATH_MAX], line[1024], best_dev[256] = "?", best_fs[64] = "?";
  size_t best = 0;
  snprintf(out, len, "unknown");
  if (!realpath(path, real)) return;
  FILE *f = fopen("/proc/self/mounts", "r");
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    char dev[256], mnt[512], fs[64];
    if (sscanf(line, "%255s %511s %63s", dev, mnt, fs) != 3) continue;
    size_t n = strlen(mnt);
    bool under = strncmp(real, mnt, n) == 0 && (real[n] == '/' || real[n] == 0 || n == 1);
    if (under && n >= best) {
      best = n;
      snprintf(best_dev, sizeof best_dev, "%s", dev);
      snprintf(best_fs, sizeof best_fs, "%s", fs);
    }
  }
  fclose(f);
  const char *name = strrchr(best_dev, '/');
  char rot_path[512], rot[8] = "?";
  snprintf(rot_path, sizeof rot_path, "/sys/block/%s/queue/rotational", name ? name + 1 : best_dev);
  FILE *r = fopen(rot_path, "r");
  if (r) {
    if (fscanf(r, "%7s", rot) != 1) snprintf(rot, sizeof rot, "?");
    fclose(r);
  }
  bool virtio = name && strncmp(name + 1, "vd", 2) == 0;
  snprintf(out, len, "%s on %s (%s, rotational=%s)", best_fs, best_dev,
           virtio ? "a virtio virtual disk" : "block device", rot);
}

static const char *verdict(bool met) { return met ? "✓" : "✗"; }

static void write_header(FILE *f, const options_t *o, const report_t *r) {
  char cpu[256], date[64];
  time_t now = time(NULL);
  struct tm tm;
  struct utsname un;
  gmtime_r(&now, &tm);
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", &tm);
  bench_cpu_model(cpu, sizeof cpu);
  uname(&un);
  const akidb_kernels_t *kern = akidb_kernels();
  fprintf(f, "# Storage benchmark: durable collections (WAL, checkpoints, append buffer)\n\n");
  fprintf(f, "Reproduce: `%s` (or `make bench-storage`).\n\n", o->command);
  fprintf(f, "- Date: %s; whole run %.0f s\n", date, r->total_s);
  fprintf(f, "- Machine: %s, %ld cores online, %.1f GiB RAM; Linux %s\n", cpu,
          sysconf(_SC_NPROCESSORS_ONLN), mem_total_gib(), un.release);
  fprintf(f, "- Disk: data under `%s`, %s — the repository's disk; fdatasync latency as "
             "measured is in section 1\n", o->tmp, r->disk);
  fprintf(f, "- AkiDB built %s, SIMD kernels `%s`; hnswlib %s compiled with %s -O3 -march=native\n",
          STORAGE_BUILD_TYPE, kern ? kern->name : "none", peer_hnswlib_version(),
          peer_cxx_compiler());
  fprintf(f, "- Data: seeded Gaussian mixtures (%u clusters), %u-d, l2; M=%u, "
             "ef_construction=%u, default ef_search; upserts of %u points with a small JSON "
             "payload each%s\n", CLUSTERS, DIM, M, EF_CONSTRUCTION, BATCH,
          o->quick ? "; **--quick: small sizes, not the acceptance run**" : "");
  fprintf(f, "- Load average (1 min): %.2f at the start, %.2f at the end, on %ld cores%s\n\n",
          r->load_start, r->load_end, sysconf(_SC_NPROCESSORS_ONLN),
          r->load_start > 0.5 ? " — other work shared the machine, so wall-clock figures are "
                                "pessimistic" : "");
}

static const ingest_row_t *find_ingest(const report_t *r, akidb_durability_t d, int writers,
                                       bool indexing) {
  for (int i = 0; i < r->n_ingest; i++)
    if (r->ingest[i].durability == d && r->ingest[i].writers == writers &&
        r->ingest[i].indexing == indexing)
      return &r->ingest[i];
  return NULL;
}

static void write_summary(FILE *f, const report_t *r) {
  const ingest_row_t *w1 = find_ingest(r, AKIDB_DURABILITY_FSYNC, 1, true);
  const ingest_row_t *w4 = find_ingest(r, AKIDB_DURABILITY_FSYNC, 4, true);
  const catchup_t *cu = &r->catchup;
  double ratio = cu->rate / cu->hnswlib_rate, ck = median(r->ckpt.seconds, CHECKPOINT_SAMPLES);
  fprintf(f, "## Summary\n\n| figure | measured | target | met |\n|---|--:|--:|:-:|\n");
  fprintf(f, "| acknowledged writes, fsync, batches of %u, 1 writer (median of %d runs) | %.0f "
             "points/s | ≥ %.0f | %s |\n", BATCH, REPEATS, w1->runs.rate, TARGET_WRITES,
          verdict(w1->runs.rate >= TARGET_WRITES));
  fprintf(f, "| acknowledged writes, fsync, batches of %u, 4 writers (median of %d runs) | %.0f "
             "points/s | ≥ %.0f | %s |\n", BATCH, REPEATS, w4->runs.rate, TARGET_WRITES,
          verdict(w4->runs.rate >= TARGET_WRITES));
  fprintf(f, "| index catch-up (2 threads) ÷ hnswlib build (2 threads) | %.0f ÷ %.0f = %.2f× | "
             "≥ %.2f× | %s |\n", cu->rate, cu->hnswlib_rate, ratio, TARGET_CATCHUP,
          verdict(ratio >= TARGET_CATCHUP));
  fprintf(f, "| search p99 (k=10), %llu pending over %llu points | %.2f ms (%.2f ms with none "
             "pending) | reported | |\n", (unsigned long long)r->busy.pending,
          (unsigned long long)r->busy.points, r->busy.p99_ms, r->idle.p99_ms);
  fprintf(f, "| checkpoint of %zu × %u (median of %d) | %.3f s, %.1f MiB | < %.1f s | %s |\n",
          r->ckpt.points, DIM, CHECKPOINT_SAMPLES, ck, (double)r->ckpt.bytes / 1048576.0,
          TARGET_CHECKPOINT, verdict(ck < TARGET_CHECKPOINT));
  double cold = median(r->big.cold_s, OPEN_SAMPLES);
  fprintf(f, "| open of %zu × %u from its checkpoint, empty log, page cache dropped (median "
             "of %d) | %.2f s | < %.1f s | %s |\n", r->big.points, DIM, OPEN_SAMPLES, cold,
          TARGET_OPEN, verdict(cold < TARGET_OPEN));
  fprintf(f, "| open of the same with %zu / %zu points of log to replay | %.2f s / %.2f s | "
             "reported | |\n\n", r->big.replay_points, r->big.replay_big_points,
          median(r->big.replay_s, OPEN_SAMPLES), r->big.replay_big_s);
}

/* "236264 / 240110 / 198003" */
static void format_runs(const runs_t *r, char *out, size_t len) {
  size_t used = 0;
  for (int i = 0; i < REPEATS && used < len; i++)
    used += (size_t)snprintf(out + used, len - used, "%s%.0f", i ? " / " : "", r->rates[i]);
}

static void write_ingest(FILE *f, const options_t *o, const report_t *r) {
  fprintf(f, "## 1. Acknowledged-write throughput\n\n");
  fprintf(f, "%zu points of %u-d per run, upserts of %u points, each returning once the "
             "batch is durable under the policy (fsync: after its fdatasync, shared by "
             "concurrent writers; interval: fsync every 100 ms; none: never). Writer threads "
             "claim batches from a shared counter; points/s = points ÷ wall time from the "
             "first upsert to the last acknowledgement. *Indexing on*: the default — one "
             "background indexer moves points into the graph meanwhile, on the same 2 cores; "
             "*deferred*: background = false, nothing competes with the writers. Each row: "
             "%d runs, each into a fresh collection; the median, then the %d runs.\n\n",
          o->n.ingest, DIM, BATCH, REPEATS, REPEATS);
  fprintf(f, "| durability | writers | indexing | points/s (median) | runs (points/s) | "
             "fdatasyncs per run | mean fdatasync (ms) |\n|---|--:|---|--:|---|--:|--:|\n");
  for (int i = 0; i < r->n_ingest; i++) {
    const ingest_row_t *w = &r->ingest[i];
    char runs[128];
    format_runs(&w->runs, runs, sizeof runs);
    fprintf(f, "| %s | %d | %s | **%.0f** | %s | %.0f | %.2f |\n",
            akidb_durability_name(w->durability), w->writers, w->indexing ? "on" : "deferred",
            w->runs.rate, runs, (double)w->runs.fsyncs / REPEATS, mean_fsync_ms(&w->runs));
  }
  fprintf(f, "\n");
}

static void write_catchup(FILE *f, const report_t *r) {
  const catchup_t *cu = &r->catchup;
  fprintf(f, "## 2. Background index catch-up vs hnswlib\n\n");
  fprintf(f, "%zu points ingested by one writer (fsync) in %.2f s into a collection with "
             "index_threads = 2; when the last upsert was acknowledged %zu were still in the "
             "append buffer, and akidb_collection_wait_indexed returned %.2f s later: "
             "**%.0f points/s** moved into the graph (%.0f points/s from the first upsert to "
             "fully indexed). hnswlib, same %zu points, M=%u, ef_construction=%u, 2 threads "
             "claiming chunks of %u: %.2f s, **%.0f points/s**. Ratio **%.2f×** (target ≥ "
             "%.2f×). The catch-up inserts into a graph that already holds the points indexed "
             "during ingest, so each insert is a little dearer than hnswlib's average over a "
             "growing graph.\n\n",
          cu->points, cu->ingest_s, cu->pending_at_end, cu->catchup_s, cu->rate,
          cu->end_to_end_rate, cu->points, M, EF_CONSTRUCTION, HNSWLIB_CHUNK, cu->hnswlib_s,
          cu->hnswlib_rate, cu->rate / cu->hnswlib_rate, TARGET_CATCHUP);
}

static void write_latency(FILE *f, const options_t *o, const report_t *r) {
  fprintf(f, "## 3. Search latency with points pending\n\n");
  fprintf(f, "The collection of section 2, reopened with background = false (nothing moves "
             "into the graph), %zu queries from the same mixture, one at a time, k=%u, default "
             "ef, after one warm-up pass; then %zu more points upserted, which stay in the "
             "append buffer and are scanned exactly by every search and merged with the "
             "graph's hits. Recall@10 against exact search over all live points, %zu queries.\n\n",
          o->n.queries, K, o->n.pending, o->n.recall_queries);
  fprintf(f, "| state | points | pending | mean (ms) | p50 (ms) | p95 (ms) | p99 (ms) | "
             "recall@10 |\n|---|--:|--:|--:|--:|--:|--:|--:|\n");
  const latency_t *ls[2] = {&r->idle, &r->busy};
  const char *names[2] = {"nothing pending", "points pending"};
  for (int i = 0; i < 2; i++)
    fprintf(f, "| %s | %llu | %llu | %.3f | %.3f | %.3f | %.3f | %.3f |\n", names[i],
            (unsigned long long)ls[i]->points, (unsigned long long)ls[i]->pending,
            ls[i]->mean_ms, ls[i]->p50_ms, ls[i]->p95_ms, ls[i]->p99_ms, ls[i]->recall);
  fprintf(f, "\n");
}

static void write_checkpoint(FILE *f, const report_t *r) {
  const checkpoint_t *c = &r->ckpt;
  fprintf(f, "## 4. Checkpoint\n\n");
  fprintf(f, "akidb_collection_checkpoint on the fully indexed %zu-point collection of "
             "section 2 (one point upserted before each sample so there is something new): "
             "write the temporary file, fdatasync, rename, fsync the directory, delete the "
             "log segments it covers. Samples: %.3f s, %.3f s, %.3f s (median **%.3f s**, "
             "target < %.1f s); file %.1f MiB (%llu bytes: records, graph and vectors).\n\n",
          c->points, c->seconds[0], c->seconds[1], c->seconds[2], median(c->seconds, CHECKPOINT_SAMPLES),
          TARGET_CHECKPOINT, (double)c->bytes / 1048576.0, (unsigned long long)c->bytes);
}

/* "1.23 / 1.31 / 1.40" */
static void format_samples(const double *v, int n, char *out, size_t len) {
  size_t used = 0;
  for (int i = 0; i < n && used < len; i++)
    used += (size_t)snprintf(out + used, len - used, "%s%.2f", i ? " / " : "", v[i]);
}

static void write_open(FILE *f, const report_t *r) {
  const big_t *b = &r->big;
  char cold[96], warm[96], replay[96];
  format_samples(b->cold_s, OPEN_SAMPLES, cold, sizeof cold);
  format_samples(b->warm_s, OPEN_SAMPLES, warm, sizeof warm);
  format_samples(b->replay_s, OPEN_SAMPLES, replay, sizeof replay);
  fprintf(f, "## 5. Open (recovery) of a %zu-point collection\n\n", b->points);
  fprintf(f, "Built for real, not checkpointed with points pending: %zu points ingested "
             "(durability none, %.1f s) with background indexing on 2 threads, fully indexed "
             "%.1f s after the first upsert; then akidb_collection_checkpoint (%.2f s, %.1f MiB) "
             "and close. Each open runs with background = false and is timed around "
             "akidb_collection_open (read and verify the checkpoint, load the graph image "
             "without re-insertion, open the log and replay it); then the count is checked and "
             "the collection closed. For a replay sample a child process opened the "
             "collection, upserted the points (fsync, batches of %u) and exited without "
             "closing, as a crash would; the 10k samples' points are indexed before the close "
             "that checkpoints them, so every sample starts from a fully indexed checkpoint.\n\n",
          b->points, b->ingest_s, b->build_s, b->ckpt_s, (double)b->ckpt_bytes / 1048576.0,
          BATCH);
  fprintf(f, "| open | log to replay | samples (s) | median (s) |\n|---|--:|---|--:|\n");
  fprintf(f, "| checkpoint dropped from the page cache first (posix_fadvise DONTNEED; at most "
             "%.0f%% still resident) | none | %s | **%.2f** |\n",
          b->cold_resident < 0 ? 0.0 : b->cold_resident * 100.0, cold,
          median(b->cold_s, OPEN_SAMPLES));
  fprintf(f, "| page cache warm | none | %s | %.2f |\n", warm, median(b->warm_s, OPEN_SAMPLES));
  fprintf(f, "| warm, after a crash | %llu points (%zu records) | %s | %.2f |\n",
          (unsigned long long)b->replayed_points, b->replay_points / BATCH, replay,
          median(b->replay_s, OPEN_SAMPLES));
  fprintf(f, "| warm, after a crash | %llu points (%zu records) | %.2f | %.2f |\n\n",
          (unsigned long long)b->replayed_big_points, b->replay_big_points / BATCH,
          b->replay_big_s, b->replay_big_s);
  fprintf(f, "Target: < %.1f s from the checkpoint — %s. The \"dropped\" samples read the "
             "file from the virtual disk, whose host may still cache it.\n",
          TARGET_OPEN, median(b->cold_s, OPEN_SAMPLES) < TARGET_OPEN ? "met" : "missed");
}

static void write_sweep(FILE *f, const options_t *o, const report_t *r) {
  fprintf(f, "### Batch sizes\n\n");
  fprintf(f, "One writer, background indexing on (the default); per run %u batches under "
             "fsync (at least %u points) and %u under interval (at least %u points), at most "
             "%zu points at %u-d and %zu at %u-d; %d runs per row, median reported.\n\n",
          SWEEP_BATCHES_FSYNC, SWEEP_MIN_POINTS_FSYNC, SWEEP_BATCHES_INTERVAL,
          SWEEP_MIN_POINTS_INTERVAL, o->n.ingest, DIM, o->n.wide, DIM_WIDE, REPEATS);
  fprintf(f, "| dim | batch | durability | points per run | points/s (median) | batches/s | "
             "runs (points/s) | mean fdatasync (ms) |\n|--:|--:|---|--:|--:|--:|---|--:|\n");
  for (int i = 0; i < r->n_sweep; i++) {
    const sweep_row_t *w = &r->sweep[i];
    char runs[128];
    format_runs(&w->runs, runs, sizeof runs);
    fprintf(f, "| %u | %zu | %s | %zu | **%.0f** | %.0f | %s | %.3f |\n", w->dim, w->batch,
            akidb_durability_name(w->durability), w->points, w->runs.rate,
            w->runs.rate / (double)w->batch, runs, mean_fsync_ms(&w->runs));
  }
  fprintf(f, "\nA batch of one point under fsync waits for one fdatasync of a few hundred "
             "bytes (%.3f ms on average in that row), so that row runs at about one batch per "
             "flush; larger batches share one flush among more points. This virtual disk's "
             "flush latency moves from run to run (the host's cache and its other tenants), "
             "and the fsync rows move with it.\n\n", mean_fsync_ms(&r->sweep[0].runs));
}

static int write_report(const options_t *o, const report_t *r) {
  FILE *f = fopen(o->out, "w");
  if (!f) {
    fprintf(stderr, "storage: cannot write %s: %s\n", o->out, strerror(errno));
    return 1;
  }
  write_header(f, o, r);
  write_summary(f, r);
  write_ingest(f, o, r);
  write_sweep(f, o, r);
  write_catchup(f, r);
  write_latency(f, o, r);
  write_checkpoint(f, r);
  write_open(f, r);
  if (fclose(f)) return 1;
  progress("wrote %s", o->out);
  return 0;
}

/* --------------------------------------------------------------- main -- */

static void usage(void) {
  fprintf(stderr, "usage: storage [--out FILE] [--tmp DIR] [--quick]\n"
                  "  --out    report (default bench/results/storage.md)\n"
                  "  --tmp    scratch directory on the disk to measure, removed at the end "
                  "(default %s)\n"
                  "  --quick  small sizes (a smoke run, not the acceptance figures)\n",
          STORAGE_TMP_DEFAULT);
  exit(2);
}

static void parse_options(int argc, char **argv, options_t *o) {
  *o = (options_t){.out = "bench/results/storage.md", .tmp = STORAGE_TMP_DEFAULT,
                   .n = SIZES_FULL};
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      o->quick = true;
      o->n = SIZES_QUICK;
    } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) o->out = argv[++i];
    else if (strcmp(argv[i], "--tmp") == 0 && i + 1 < argc) o->tmp = argv[++i];
    else usage();
  }
  size_t used = 0;
  for (int i = 0; i < argc && used < sizeof o->command; i++)
    used += (size_t)snprintf(o->command + used, sizeof o->command - used, "%s%s", i ? " " : "",
                             argv[i]);
}

int main(int argc, char **argv) {
  options_t o;
  parse_options(argc, argv, &o);
  report_t *r = calloc(1, sizeof *r);
  if (!r) return 1;
  r->load_start = load_average();
  double t0 = ds_now();
  if (mkdir(o.tmp, 0755) && errno != EEXIST) {
    fprintf(stderr, "storage: cannot create %s: %s\n", o.tmp, strerror(errno));
    return 1;
  }
  disk_note(o.tmp, r->disk, sizeof r->disk);
  size_t rows = o.n.ingest > o.n.graph + CHECKPOINT_SAMPLES + o.n.pending
                    ? o.n.ingest
                    : o.n.graph + CHECKPOINT_SAMPLES + o.n.pending;
  ds_set_t data;
  progress("generating %zu points and %zu queries", rows, o.n.queries);
  int rc = ds_make_mixture("mix128", rows, o.n.queries, DIM, AKIDB_METRIC_L2, CLUSTERS, SEED, 0,
                           &data);
  if (rc) die("data generation", rc, "");
  phase_throughput(&o, &data, r);
  phase_batches(&o, &data, r);
  points_t pts;
  points_make(&pts, data.base, rows, DIM, "g");
  akidb_collection_t *c;
  phase_catchup(&o, &pts, r, &c);
  phase_checkpoint(&o, c, &pts, r);
  close_or_die(c);
  phase_latency(&o, &data, &pts, r);
  points_free(&pts);
  ds_free(&data);
  phase_open(&o, r);
  rmdir(o.tmp);
  r->load_end = load_average();
  r->total_s = ds_now() - t0;
  rc = write_report(&o, r);
  free(r);
  return rc;
}
