/*
 * objectstore.c — the object-store benchmark behind `make bench-objectstore`:
 * snapshots, restores, small uploads and the cold tier, measured in one run
 * against a real `akidb serve` and a real s3rver (an S3 wire-protocol server
 * from npm, started through tests/integration/node-tools.sh) that this
 * driver starts and kills itself (loopback only, its own scratch directory):
 *   1. snapshot (`POST .../snapshots`, synchronous) of a 100k x 128 l2 and a
 *      100k x 768 cosine collection, fully indexed, to the local store
 *      (the default, <data_dir>/objects) and to s3rver, and restore of each
 *      snapshot into a new collection; every operation --runs times;
 *   2. 1 KiB PUTs to s3rver through AkiDB's C API (akidb_objstore_put_buffer)
 *      from 1 and 8 threads, beside a minimal libcurl client on the same
 *      threads (objput.c), runs interleaved A-B-B-A, then batched
 *      (akidb_objstore_put_many from one thread), with the CPU time of
 *      this process and of s3rver;
 *   3. the first search of cold 10k x 384 collections (PATCH tier cold,
 *      then one search each: download + load + search);
 *   4. cold -> hot of the 100k x 768 collection: the first search after
 *      PATCH cold, and separately PATCH tier hot;
 * and writes bench/results/objectstore.md with each target beside its
 * figure.
 *
 * Owns: options, the two child processes (spawn, readiness, SIGTERM,
 * SIGKILL, a watchdog that bounds the whole run), the REST calls, the
 * generated data (seeded Gaussian mixtures from src/dataset) and its JSON
 * encoding, the phases and the report. Ingest runs one thread per
 * connection with a shared atomic batch counter; the rest is
 * single-threaded.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "akidb/errors.h"
#include "bench_util.h"
#include "dataset/dataset.h"
#include "loadgen.h"
#include "objput.h"

#ifndef OBJSTORE_BENCH_BUILD_TYPE
#define OBJSTORE_BENCH_BUILD_TYPE "unknown"
#endif
#ifndef OBJSTORE_BENCH_TMP_DEFAULT
#define OBJSTORE_BENCH_TMP_DEFAULT "/tmp"
#endif
#ifndef OBJSTORE_BENCH_SOURCE_DIR
#define OBJSTORE_BENCH_SOURCE_DIR "."
#endif

#define SEED 4242u
#define K 10u
#define CLUSTERS 100u
#define N_QUERIES 64u
#define BATCH 1000u
#define INGEST_CONNS 4u
#define MAX_RUNS 5u
#define MAX_COLD 200u
#define PUT_THREADS_PAR 8u
#define MIB (1024.0 * 1024.0)

/* s3rver: credentials it accepts out of the box; the bucket it creates. */
#define S3_KEY "S3RVER"
#define S3_BUCKET "akidb-bench"

/* Server settings this run writes into its config file. */
#define HTTP_THREADS 8u
#define WORKER_THREADS 2u

/* Targets (the brief of this benchmark). */
#define TARGET_SNAP128_S 0.5
#define TARGET_SNAP768_S 2.0
#define TARGET_RESTORE_FACTOR 1.5
#define TARGET_PUT_OPS 1000.0
#define TARGET_PUT_SHARE 0.80
#define TARGET_COLD_P50_MS 150.0

typedef struct {
  const char *akidb, *out, *tmp, *node_tools;
  bool quick;
  uint32_t runs, cold, points, cold_points;
  double put_seconds, max_minutes;
  char command[2048];
} options_t;

/* ---------------------------------------------------------- processes -- */

typedef struct {
  pid_t pid;
  uint16_t port;
  char log[PATH_MAX + 32];
} child_t;

static struct {
  char dir[PATH_MAX];      /* scratch root */
  char data[PATH_MAX + 16];
  char config[PATH_MAX + 32];
  char s3dir[PATH_MAX + 16];
  char password[64];
  child_t srv, s3;
  bool keep;
} g = {.srv = {.pid = -1}, .s3 = {.pid = -1}};


/* Waits up to max_s for pid; SIGKILLs it (its group for s3rver) after. */
static void reap(pid_t pid, double max_s) {
  for (int i = 0; i < (int)(max_s * 50); i++) {
    if (waitpid(pid, NULL, WNOHANG) != 0) return;
    struct timespec ts = {0, 20000000L};
    nanosleep(&ts, NULL);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

/* Kills both children (s3rver with its process group) and waits, bounded. */
static void kill_children(void) {
  if (g.srv.pid > 0) kill(g.srv.pid, SIGKILL), reap(g.srv.pid, 10), g.srv.pid = -1;
  if (g.s3.pid > 0) kill(-g.s3.pid, SIGKILL), reap(g.s3.pid, 10), g.s3.pid = -1;
}

/* bench_die's cleanup: both logs, the children, the scratch data. */
static void cleanup(void) {
  if (g.srv.log[0]) bench_print_log_tail(g.srv.log);
  if (g.s3.log[0]) bench_print_log_tail(g.s3.log);
  kill_children();
  if (g.dir[0] && !g.keep) bench_remove_tree(g.dir);
}

/* SIGINT/SIGTERM: only async-signal-safe calls. */
static void on_signal(int sig) {
  if (g.srv.pid > 0) kill(g.srv.pid, SIGKILL);
  if (g.s3.pid > 0) kill(-g.s3.pid, SIGKILL);
  _exit(128 + sig);
}

static double now_s(void) { return lg_now_us() / 1e6; }

/* The watchdog: the whole run is bounded by --max-minutes. */
static void *watchdog(void *arg) {
  double limit = *(const double *)arg, t0 = now_s();
  while (now_s() - t0 < limit * 60) bench_sleep_ms(1000);
  bench_die("the run took more than %.0f minutes (--max-minutes); stopped", limit);
  return NULL;
}

static uint16_t free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0)
    bench_die("cannot find a free port: %s", strerror(errno));
  close(fd);
  return ntohs(a.sin_port);
}

static bool port_open(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  if (fd >= 0) close(fd);
  return ok;
}

static void redirect_output(const char *log) {
  int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) dup2(fd, 1), dup2(fd, 2), close(fd);
}

/* First line of a shell command's output into out ("unknown" if none). */
static void command_line(const char *cmd, char *out, size_t len) {
  snprintf(out, len, "unknown");
  FILE *p = popen(cmd, "r");
  if (!p) return;
  if (fgets(out, (int)len, p)) out[strcspn(out, "\n")] = '\0';
  pclose(p);
}

/* ----------------------------------------------------------- s3rver -- */

/* Starts s3rver in its own process group and waits until it listens. */
static void s3rver_start(const options_t *o) {
  g.s3.port = free_port();
  snprintf(g.s3.log, sizeof g.s3.log, "%s/s3rver.log", g.dir);
  mkdir(g.s3dir, 0755);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) bench_die("fork: %s", strerror(errno));
  if (pid == 0) {
    setsid();
    redirect_output(g.s3.log);
    /* s3rver's listing continuation tokens use DES: OpenSSL 3's legacy provider. */
    setenv("NODE_OPTIONS", "--openssl-legacy-provider", 1);
    char port[16];
    snprintf(port, sizeof port, "%u", g.s3.port);
    execl(o->node_tools, o->node_tools, "s3rver", "-d", g.s3dir, "-a", "127.0.0.1", "-p", port,
          "--silent", "--configure-bucket", S3_BUCKET, (char *)NULL);
    _exit(127);
  }
  g.s3.pid = pid;
  for (double t0 = now_s(); now_s() - t0 < 300;) {
    if (waitpid(pid, NULL, WNOHANG) == pid) g.s3.pid = -1, bench_die("s3rver exited at start");
    if (port_open(g.s3.port)) return;
    bench_sleep_ms(100);
  }
  bench_die("s3rver did not listen within 300 s");
}

static void s3rver_endpoint(char *out, size_t len) {
  snprintf(out, len, "http://127.0.0.1:%u", g.s3.port);
}

/* ------------------------------------------------------- akidb serve -- */

typedef enum { STORE_LOCAL = 0, STORE_S3 = 1, NSTORES } store_t;

static const char *store_name(store_t s) { return s == STORE_LOCAL ? "local" : "s3rver"; }

static void write_config(void) {
  FILE *f = fopen(g.config, "w");
  if (!f) bench_die("cannot write %s: %s", g.config, strerror(errno));
  fprintf(f,
          "[server]\nhost = \"127.0.0.1\"\nrest_port = %u\nthreads = %u\n\n"
          "[storage]\ndata_dir = \"%s\"\ndurability = \"fsync\"\nworker_threads = %u\n\n"
          "[tiering]\nwarm_after_s = 86400\ncheck_interval_ms = 1000\ncold_after_s = 0\n\n"
          "[log]\nlevel = \"warn\"\n",
          g.srv.port, HTTP_THREADS, g.data, WORKER_THREADS);
  fclose(f);
}

static void server_exec(const char *akidb, store_t store) {
  redirect_output(g.srv.log);
  static const char *const inherited[] = {
      "AKIDB_CONFIG", "AKIDB_HOST", "AKIDB_REST_PORT", "AKIDB_DATA_DIR", "AKIDB_DB_PATH",
      "AKIDB_DURABILITY", "AKIDB_LOG_LEVEL", "AKIDB_MEMORY_BUDGET_BYTES", "AKIDB_WARM_AFTER_S",
      "AKIDB_WORKER_THREADS", "AKIDB_OBJECT_STORE", "AKIDB_S3_ENDPOINT", "AKIDB_S3_BUCKET",
      "AKIDB_S3_REGION", "AKIDB_S3_ACCESS_KEY", "AKIDB_S3_SECRET_KEY", "AKIDB_S3_SESSION_TOKEN"};
  for (size_t i = 0; i < sizeof inherited / sizeof *inherited; i++) unsetenv(inherited[i]);
  if (store == STORE_S3) {
    char ep[64];
    s3rver_endpoint(ep, sizeof ep);
    setenv("AKIDB_S3_ENDPOINT", ep, 1);
    setenv("AKIDB_S3_BUCKET", S3_BUCKET, 1);
    setenv("AKIDB_S3_ACCESS_KEY", S3_KEY, 1);
    setenv("AKIDB_S3_SECRET_KEY", S3_KEY, 1);
  }
  setenv("AKIDB_ADMIN_PASSWORD", g.password, 1);
  if (chdir(g.dir) != 0) _exit(126);
  execl(akidb, akidb, "serve", "--config", g.config, (char *)NULL);
  _exit(127);
}

static void server_wait_ready(void) {
  double took = lg_wait_ready(g.srv.pid, g.srv.port, 120, 20, NULL);
  if (took == -1) {
    g.srv.pid = -1;
    bench_die("akidb serve exited during start");
  }
  if (took < 0) bench_die("akidb serve was not ready within 120 s");
}

/* Starts `akidb serve` on the run's data directory with this object store. */
static void server_start(const options_t *o, store_t store) {
  g.srv.port = free_port();
  snprintf(g.srv.log, sizeof g.srv.log, "%s/server.log", g.dir);
  write_config();
  char akidb[PATH_MAX];
  if (!realpath(o->akidb, akidb)) bench_die("cannot find %s: %s", o->akidb, strerror(errno));
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) bench_die("fork: %s", strerror(errno));
  if (pid == 0) server_exec(akidb, store);
  g.srv.pid = pid;
  server_wait_ready();
}

/* SIGTERM (final checkpoints), SIGKILL after 120 s. */
static void server_stop(void) {
  if (g.srv.pid <= 0) return;
  kill(g.srv.pid, SIGTERM);
  reap(g.srv.pid, 120);
  g.srv.pid = -1;
}

/* Waits until the server used under 2% of a core for `window_s` in a row
 * (background indexing, checkpoints, removals done), at most max_s; after
 * sync() so the kernel's writeback of earlier work is not measured later. */
static double wait_idle(double window_s, double max_s) {
  double t0 = now_s();
  sync();
  for (;;) {
    double c0 = put_proc_cpu_s(g.srv.pid), w0 = now_s();
    bench_sleep_ms((long)(window_s * 1000));
    double used = put_proc_cpu_s(g.srv.pid) - c0, span = now_s() - w0;
    if (used < 0.02 * span || now_s() - t0 > max_s) return now_s() - t0;
  }
}

/* ------------------------------------------------------------- REST -- */

static lg_conn_t g_conn;
static char g_admin[256], g_token[256];

/* One call that must answer `expect`; dies with the body otherwise. */
static lg_response_t call(const char *method, const char *path, const char *token,
                          const char *body, int expect) {
  char err[512];
  lg_response_t r;
  if (lg_conn_request(&g_conn, method, path, token, body, &r, err, sizeof err))
    bench_die("%s %s: %s", method, path, err);
  if (r.status != expect)
    bench_die("%s %s answered %d, expected %d: %.*s", method, path, r.status, expect,
        (int)(r.body_len > 600 ? 600 : r.body_len), r.body);
  return r;
}

/* A string field of the last answer into out ("" when absent). */
static void field(lg_response_t r, const char *key, char *out, size_t cap) {
  size_t n = 0;
  const char *v = lg_find_string(r.body, r.body_len, key, &n);
  if (!v || n >= cap) n = 0;
  memcpy(out, v ? v : "", n);
  out[n] = '\0';
}

static void login(const char *tenant, const char *user, const char *password, char *token) {
  char body[512];
  snprintf(body, sizeof body, "{\"tenant\":\"%s\",\"username\":\"%s\",\"password\":\"%s\"}",
           tenant, user, password);
  field(call("POST", "/v1/auth/login", NULL, body, 200), "token", token, 256);
  if (!token[0]) bench_die("login of %s answered without a token", user);
}

#define TENANT_PASSWORD "bench-objectstore-owner-pw"

static void connect_and_login(void) {
  char err[256];
  lg_conn_close(&g_conn);
  if (lg_conn_open(&g_conn, g.srv.port, err, sizeof err)) bench_die("%s", err);
  login("", "admin", g.password, g_admin);
}

/* Tenant "bench" (no quotas), its admin "owner", database "db". */
static void setup_tenant(void) {
  call("POST", "/v1/tenants", g_admin,
       "{\"slug\":\"bench\",\"name\":\"Bench\",\"quotas\":{\"max_memory_bytes\":0,"
       "\"max_storage_bytes\":0,\"max_qps\":0,\"max_collections\":0}}", 201);
  call("POST", "/v1/tenants/bench/users", g_admin,
       "{\"username\":\"owner\",\"role\":\"admin\",\"password\":\"" TENANT_PASSWORD "\"}", 201);
  login("bench", "owner", TENANT_PASSWORD, g_token);
  call("POST", "/v1/tenants/bench/databases", g_token, "{\"name\":\"db\"}", 201);
}

static void coll_path(const char *name, const char *suffix, char *out, size_t len) {
  snprintf(out, len, "/v1/tenants/bench/databases/db/collections/%s%s", name, suffix);
}

static void create_collection(const char *name, uint32_t dim, const char *metric) {
  char body[256];
  snprintf(body, sizeof body, "{\"name\":\"%s\",\"dimension\":%u,\"metric\":\"%s\"}", name, dim,
           metric);
  call("POST", "/v1/tenants/bench/databases/db/collections", g_token, body, 201);
}

typedef struct {
  long long points, pending, disk_bytes;
  char tier[16];
} coll_info_t;

static coll_info_t coll_info(const char *name) {
  char path[256];
  coll_path(name, "", path, sizeof path);
  lg_response_t r = call("GET", path, g_token, NULL, 200);
  coll_info_t ci = {lg_find_int(r.body, r.body_len, "points"),
                    lg_find_int(r.body, r.body_len, "pending"),
                    lg_find_int(r.body, r.body_len, "disk_bytes"), ""};
  field(r, "tier", ci.tier, sizeof ci.tier);
  return ci;
}

/* Polls until the collection holds `points` and none is pending (max_s). */
static void wait_indexed(const char *name, long long points, double max_s) {
  for (double t0 = now_s();; bench_sleep_ms(250)) {
    coll_info_t ci = coll_info(name);
    if (ci.points == points && ci.pending == 0) return;
    if (now_s() - t0 > max_s)
      bench_die("%s: %lld points, %lld pending after %.0f s", name, ci.points, ci.pending, max_s);
  }
}

/* PATCH {"tier": tier}; seconds. */
static double patch_tier(const char *name, const char *tier) {
  char path[256], body[64];
  coll_path(name, "", path, sizeof path);
  snprintf(body, sizeof body, "{\"tier\":\"%s\"}", tier);
  double t0 = now_s();
  call("PATCH", path, g_token, body, 200);
  return now_s() - t0;
}

/* The value of the /metrics sample whose line starts with `series ` (-1). */
static double metric(const char *series) {
  lg_response_t r = call("GET", "/metrics", NULL, NULL, 200);
  size_t n = strlen(series);
  for (const char *p = r.body, *end = r.body + r.body_len; p < end;) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (len > n && memcmp(p, series, n) == 0 && p[n] == ' ') return strtod(p + n + 1, NULL);
    p += len + 1;
  }
  return -1;
}

#define GET_SECONDS "akidb_object_store_request_duration_seconds_sum{op=\"get\"}"

/* ------------------------------------------------------------- data -- */

/* Appends f with 5 decimals (integer arithmetic: fast, deterministic). */
static char *put_float(char *p, float f) {
  long long q = llround((double)f * 100000.0);
  if (q < 0) *p++ = '-', q = -q;
  long long ip = q / 100000, fr = q % 100000;
  char tmp[24];
  int n = 0;
  do tmp[n++] = (char)('0' + ip % 10), ip /= 10;
  while (ip);
  while (n) *p++ = tmp[--n];
  *p++ = '.';
  for (long long d = 10000; d; d /= 10) *p++ = (char)('0' + fr / d % 10);
  return p;
}

static char *put_vector(char *p, const float *v, uint32_t dim) {
  *p++ = '[';
  for (uint32_t j = 0; j < dim; j++) {
    if (j) *p++ = ',';
    p = put_float(p, v[j]);
  }
  *p++ = ']';
  return p;
}

static size_t batch_bound(size_t n, uint32_t dim) { return 64 + n * (96 + (size_t)dim * 24); }

/* `{"points":[...]}` of rows [first, first + n) with ids "p<row>" and
 * payloads {"i": row}; returns its length. */
static size_t encode_batch(char *buf, const ds_set_t *set, size_t first, size_t n) {
  char *p = buf + sprintf(buf, "{\"points\":[");
  for (size_t i = first; i < first + n; i++) {
    p += sprintf(p, "%s{\"id\":\"p%zu\",\"vector\":", i > first ? "," : "", i);
    p = put_vector(p, set->base + i * set->dim, set->dim);
    p += sprintf(p, ",\"payload\":{\"i\":%zu}}", i);
  }
  p += sprintf(p, "]}");
  return (size_t)(p - buf);
}

static void make_set(const char *name, size_t n, uint32_t dim, akidb_metric_t metric,
                     uint64_t seed, ds_set_t *set) {
  int rc = ds_make_mixture(name, n, N_QUERIES, dim, metric, CLUSTERS, seed, 0, set);
  if (rc) bench_die("generating %s: %s", name, akidb_strerror(rc));
}

/* One search (k = 10, query q of the set) into `name`; seconds. */
static double search_once(const char *name, const ds_set_t *set, size_t q) {
  char path[256];
  char *body = bench_xmalloc(64 + (size_t)set->dim * 24);
  char *p = body + sprintf(body, "{\"vector\":");
  p = put_vector(p, set->queries + (q % set->n_query) * set->dim, set->dim);
  sprintf(p, ",\"k\":%u,\"include_payload\":false}", K);
  coll_path(name, "/search", path, sizeof path);
  double t0 = now_s();
  call("POST", path, g_token, body, 200);
  double s = now_s() - t0;
  free(body);
  return s;
}

/* ----------------------------------------------------------- ingest -- */

typedef struct {
  const char *name;
  const ds_set_t *set;
} target_t;

typedef struct {
  const target_t *t;
  size_t nt, batches_per; /* every target has the same number of rows */
  atomic_size_t next;
} ingest_job_t;

static void send_batch(lg_conn_t *c, const target_t *t, char *buf, size_t first, size_t n) {
  char path[256], head[1024], err[256];
  coll_path(t->name, "/points", path, sizeof path);
  size_t blen = encode_batch(buf, t->set, first, n);
  size_t hlen = lg_format_head(head, sizeof head, "POST", path, g_token, blen);
  struct iovec iov[2] = {{head, hlen}, {buf, blen}};
  for (int attempt = 0;; attempt++) { /* 429 = backpressure: retry after a pause */
    lg_response_t r;
    if (lg_conn_roundtrip(c, iov, 2, &r, err, sizeof err)) bench_die("upsert %s: %s", path, err);
    if (r.status == 200) return;
    if (r.status != 429 || attempt > 600)
      bench_die("upsert into %s answered %d: %.*s", path, r.status,
          (int)(r.body_len > 300 ? 300 : r.body_len), r.body);
    bench_sleep_ms(500);
  }
}

static void *ingest_thread(void *arg) {
  ingest_job_t *j = arg;
  char err[256];
  lg_conn_t c;
  if (lg_conn_open(&c, g.srv.port, err, sizeof err)) bench_die("%s", err);
  size_t rows = j->t[0].set->n_base;
  char *buf = bench_xmalloc(batch_bound(BATCH, j->t[0].set->dim));
  for (;;) {
    size_t b = atomic_fetch_add(&j->next, 1);
    if (b >= j->nt * j->batches_per) break;
    const target_t *t = &j->t[b % j->nt]; /* round robin over the targets */
    size_t first = (b / j->nt) * BATCH;
    send_batch(&c, t, buf, first, rows - first < BATCH ? rows - first : BATCH);
  }
  free(buf);
  lg_conn_close(&c);
  return NULL;
}

/* Upserts every row of each target's set (same size and dimension) over
 * INGEST_CONNS connections; seconds. */
static double ingest(const target_t *t, size_t nt) {
  ingest_job_t j = {.t = t, .nt = nt, .batches_per = (t[0].set->n_base + BATCH - 1) / BATCH};
  atomic_init(&j.next, 0);
  pthread_t th[INGEST_CONNS];
  double t0 = now_s();
  for (uint32_t i = 0; i < INGEST_CONNS; i++)
    if (pthread_create(&th[i], NULL, ingest_thread, &j)) bench_die("pthread_create failed");
  for (uint32_t i = 0; i < INGEST_CONNS; i++) pthread_join(th[i], NULL);
  return now_s() - t0;
}

/* ------------------------------------------------------------ report -- */

typedef struct {
  double v[MAX_RUNS];
  uint32_t n;
} runs_t;

static void runs_add(runs_t *r, double v) {
  if (r->n < MAX_RUNS) r->v[r->n++] = v;
}

static double runs_median(const runs_t *r) {
  double s[MAX_RUNS];
  memcpy(s, r->v, r->n * sizeof *s);
  qsort(s, r->n, sizeof *s, bench_cmp_double);
  return r->n ? (r->n % 2 ? s[r->n / 2] : (s[r->n / 2 - 1] + s[r->n / 2]) / 2) : 0;
}

enum { SIZE_128 = 0, SIZE_768 = 1, NSIZES };

static const char *const SIZE_NAME[NSIZES] = {"c128", "c768"};

typedef struct {
  runs_t snap, restore;
  runs_t snap_cpu, restore_cpu; /* server CPU seconds during the request */
  runs_t restore_get;           /* of which object-store GET time (/metrics) */
  long long bytes, points;
  uint32_t restore_failed;      /* restores not answered 201 (not in `restore`) */
  double restore_failed_s;      /* the last failed one's time */
  char restore_error[400];      /* its status and answer */
} snaprow_t;

enum { PUT_SEQ = 0, PUT_PAR = 1 };

typedef struct {
  char cpu[256], kernel[256], version[256], s3rver[64], node[64], date[64];
  char load_start[64], load_end[64]; /* /proc/loadavg: other work on the machine */
  long cores;
  /* setup */
  double gen_s, ingest_s[NSIZES], cold_ingest_s, index_s, idle_s;
  long long disk768, disk_cold;
  /* 1 */
  snaprow_t snap[NSTORES][NSIZES];
  /* 2: [client][seq/par][A-B-B-A position: 0 = first, 1 = second] */
  put_run_t put[2][2][2];
  put_run_t batch[2]; /* one caller thread, put_many batches; after the A-B-B-A runs */
  char comm[64];
  /* 3 */
  uint32_t ncold;
  double cold_move_s[MAX_COLD], cold_first_ms[MAX_COLD], cold_second_ms[MAX_COLD];
  /* 4 */
  runs_t c768_cold, c768_first, c768_cold2, c768_hot, c768_after;
} report_t;

typedef struct {
  double p50, p99, max, mean;
} dist_t;

static dist_t dist_of(const double *v, size_t n) {
  dist_t d = {0};
  if (!n) return d;
  double *s = bench_xmalloc(n * sizeof *s), sum = 0;
  memcpy(s, v, n * sizeof *s);
  qsort(s, n, sizeof *s, bench_cmp_double);
  for (size_t i = 0; i < n; i++) sum += s[i];
  d = (dist_t){bench_percentile(s, n, 50), bench_percentile(s, n, 99), s[n - 1],
               sum / (double)n};
  free(s);
  return d;
}

/* Pooled rate of a client's two runs at one thread count. */
static double put_rate(const report_t *r, int client, int par) {
  const put_run_t *a = &r->put[client][par][0], *b = &r->put[client][par][1];
  double s = a->seconds + b->seconds;
  return s > 0 ? (double)(a->ops + b->ops) / s : 0;
}

static const char *yes_no(bool met) { return met ? "yes" : "**no**"; }

static void write_header(FILE *f, const report_t *r, const options_t *o) {
  fprintf(f, "# Object store: snapshots, restores, small uploads, the cold tier\n\n");
  fprintf(f, "- Date: %s%s\n", r->date,
          o->quick ? " — **--quick smoke run: smaller sizes, not the real figures**" : "");
  fprintf(f, "- Command: `%s` (build type %s)\n", o->command, OBJSTORE_BENCH_BUILD_TYPE);
  fprintf(f, "- Machine: %s, %ld cores online; %s. AkiDB, s3rver and this driver share the "
             "cores (loopback TCP, one disk).\n", r->cpu, r->cores, r->kernel);
  fprintf(f, "- Load average (1, 5, 15 min) at the start: %s; at the end: %s (anything above "
             "what this run itself adds means other work shared the machine).\n",
          r->load_start, r->load_end);
  fprintf(f, "- AkiDB: `%s`, started by the driver as `akidb serve --config <scratch>/config.toml`"
             " (durability `fsync`, `[server] threads = %u`, `[storage] worker_threads = %u`, "
             "object-store settings at their defaults).\n", r->version, HTTP_THREADS,
          WORKER_THREADS);
  fprintf(f, "- s3rver %s on Node %s (`tests/integration/node-tools.sh s3rver -d <scratch> -a "
             "127.0.0.1 -p <port> --silent --configure-bucket %s`, "
             "`NODE_OPTIONS=--openssl-legacy-provider`); the server reaches it through "
             "`AKIDB_S3_ENDPOINT`, `AKIDB_S3_BUCKET`, `AKIDB_S3_ACCESS_KEY`, "
             "`AKIDB_S3_SECRET_KEY` (path-style addressing, the default).\n",
          r->s3rver, r->node, S3_BUCKET);
  fprintf(f, "- Data: seeded Gaussian mixtures (`ds_make_mixture`, %u clusters), written as "
             "JSON with 5 decimals, ids `p<row>`, payload `{\"i\": row}`.\n\n", CLUSTERS);
}

static void write_targets_snap(FILE *f, const report_t *r, const options_t *o) {
  for (int st = 0; st < NSTORES; st++)
    for (int sz = 0; sz < NSIZES; sz++) {
      const snaprow_t *x = &r->snap[st][sz];
      double sm = runs_median(&x->snap), rm = runs_median(&x->restore);
      char shape[64];
      snprintf(shape, sizeof shape, "%u × %s", o->points,
               sz == SIZE_128 ? "128 l2" : "768 cosine");
      double tgt = sz == SIZE_128 ? TARGET_SNAP128_S : TARGET_SNAP768_S;
      if (st == STORE_LOCAL)
        fprintf(f, "| 1 | snapshot %s to local (median of %u) | < %.1f s | %.3f s | %s |\n",
                shape, x->snap.n, tgt, sm, yes_no(sm < tgt));
      else
        fprintf(f, "| 1 | snapshot %s to s3rver (median of %u) | — (targets are for local) | "
                   "%.3f s | — |\n", shape, x->snap.n, sm);
      if (x->restore_failed)
        fprintf(f, "| 1 | restore of that %s snapshot (%s) | ≤ %.1f × snapshot = %.3f s | "
                   "**%u of %u restores failed** (section 1) | **no** |\n",
                shape, store_name((store_t)st), TARGET_RESTORE_FACTOR,
                TARGET_RESTORE_FACTOR * sm, x->restore_failed, x->restore_failed + x->restore.n);
      else
        fprintf(f, "| 1 | restore of that %s snapshot (%s) | ≤ %.1f × snapshot = %.3f s | "
                   "%.3f s (%.2f ×) | %s |\n",
                shape, store_name((store_t)st), TARGET_RESTORE_FACTOR,
                TARGET_RESTORE_FACTOR * sm, rm, sm > 0 ? rm / sm : 0,
                yes_no(rm <= TARGET_RESTORE_FACTOR * sm));
    }
}

static void write_targets(FILE *f, const report_t *r, const options_t *o) {
  fprintf(f, "## Targets\n\n| row | what | target | measured | met |\n|---|---|---|---|---|\n");
  write_targets_snap(f, r, o);
  double api1 = put_rate(r, PUT_CLIENT_AKIDB, PUT_SEQ);
  double min1 = put_rate(r, PUT_CLIENT_MINIMAL, PUT_SEQ);
  double api8 = put_rate(r, PUT_CLIENT_AKIDB, PUT_PAR);
  double min8 = put_rate(r, PUT_CLIENT_MINIMAL, PUT_PAR);
  fprintf(f, "| 2 | 1 KiB PUTs to s3rver, C API, %u threads | ≥ %.0f ops/s | %.0f ops/s | %s |\n",
          PUT_THREADS_PAR, TARGET_PUT_OPS, api8, yes_no(api8 >= TARGET_PUT_OPS));
  fprintf(f, "| 2 | the same, share of s3rver's ceiling (minimal client, %u threads: %.0f ops/s) "
             "| ≥ %.0f %% | %.0f %% | %s |\n",
          PUT_THREADS_PAR, min8, TARGET_PUT_SHARE * 100, min8 > 0 ? 100 * api8 / min8 : 0,
          yes_no(api8 >= TARGET_PUT_SHARE * min8));
  const put_run_t *b = r->batch;
  double bs = b[0].seconds + b[1].seconds;
  double bat = bs > 0 ? (double)(b[0].ops + b[1].ops) / bs : 0;
  fprintf(f, "| 2 | 1 KiB PUTs, C API batched (1 caller thread, `akidb_objstore_put_many` of %u "
             "objects, %u at once) | ≥ %.0f ops/s | %.0f ops/s | %s |\n",
          PUT_BATCH, PUT_THREADS_PAR, TARGET_PUT_OPS, bat, yes_no(bat >= TARGET_PUT_OPS));
  fprintf(f, "| 2 | the same, share of s3rver's ceiling (minimal client, %u threads: %.0f ops/s) "
             "| ≥ %.0f %% | %.0f %% | %s |\n",
          PUT_THREADS_PAR, min8, TARGET_PUT_SHARE * 100, min8 > 0 ? 100 * bat / min8 : 0,
          yes_no(bat >= TARGET_PUT_SHARE * min8));
  fprintf(f, "| 2 | 1 KiB PUTs, C API, 1 thread, one request at a time | — (a round trip each: "
             "s3rver's latency bounds it) | %.0f ops/s, %.0f %% of the minimal client on 1 thread "
             "(%.0f ops/s) | — |\n",
          api1, min1 > 0 ? 100 * api1 / min1 : 0, min1);
  dist_t d = dist_of(r->cold_first_ms, r->ncold);
  fprintf(f, "| 3 | first search of a cold %u × 384 collection from s3rver (%u collections) | "
             "p50 < %.0f ms | p50 %.1f ms, p99 %.1f ms | %s |\n",
          o->cold_points, r->ncold, TARGET_COLD_P50_MS, d.p50, d.p99,
          yes_no(d.p50 < TARGET_COLD_P50_MS));
  fprintf(f, "| 4 | cold → hot of %u × 768 from s3rver (median of %u) | — (measured only) | "
             "first search %.3f s; PATCH tier hot %.3f s | — |\n\n",
          o->points, r->c768_first.n, runs_median(&r->c768_first), runs_median(&r->c768_hot));
}

static void write_runs(FILE *f, const runs_t *x) {
  for (uint32_t i = 0; i < x->n; i++) fprintf(f, "%s%.3f", i ? ", " : "", x->v[i]);
}

static void write_snapshots(FILE *f, const report_t *r) {
  fprintf(f, "## 1. Snapshot and restore\n\n"
             "Each collection was fully indexed first (`GET` polled until `pending` = 0), then "
             "the server was left idle (under 2%% of a core for 1 s, after `sync`) before every "
             "timed request. Snapshot = the `POST .../collections/{c}/snapshots` request, "
             "synchronous (its answer says `ready`). Restore = `POST /v1/tenants/bench/snapshots/"
             "{id}/restore` into a new collection (201): the Parquet file read in place (ranged "
             "GETs) while a second thread streams it once to verify its size and CRC-32C, "
             "upserts in batches of 1,000 into an unlogged staging collection (no indexing, no "
             "log), its final checkpoint (synced), rename, catalog row. After each pair the "
             "restored collection and the snapshot were deleted. The local store is "
             "`<data_dir>/objects` (same disk); the s3rver rows ran after a restart of the same "
             "server with the `AKIDB_S3_*` variables set.\n\n"
             "Where a restore's time goes: *GET* = the object store's request time during "
             "the restore (`akidb_object_store_request_duration_seconds_sum{op=\"get\"}` of "
             "`/metrics` before and after: the manifest, the ranged reads and the verifying "
             "read, which overlap, so it can exceed the wall time); "
             "*server CPU* = the server's CPU seconds during the request (/proc/<pid>/stat; "
             "above the wall time means both cores were busy). Medians.\n\n"
             "| store | collection | snapshot bytes | snapshot median (s) | each run (s) | "
             "restore median (s) | each run (s) | restore ÷ snapshot | server CPU in "
             "snapshot (s) | server CPU in restore (s) | GET in restore (s) |\n"
             "|---|---|--:|--:|---|--:|---|--:|--:|--:|--:|\n");
  for (int st = 0; st < NSTORES; st++)
    for (int sz = 0; sz < NSIZES; sz++) {
      const snaprow_t *x = &r->snap[st][sz];
      double sm = runs_median(&x->snap), rm = runs_median(&x->restore);
      fprintf(f, "| %s | %lld × %s | %.1f MiB | %.3f | ", store_name((store_t)st), x->points,
              sz == SIZE_128 ? "128 l2" : "768 cosine", (double)x->bytes / MIB, sm);
      write_runs(f, &x->snap);
      fprintf(f, " | %.3f | ", rm);
      write_runs(f, &x->restore);
      fprintf(f, " | %.2f | %.3f | %.3f | %.3f |\n", sm > 0 ? rm / sm : 0,
              runs_median(&x->snap_cpu), runs_median(&x->restore_cpu),
              runs_median(&x->restore_get));
    }
  fprintf(f, "\n");
  for (int st = 0; st < NSTORES; st++)
    for (int sz = 0; sz < NSIZES; sz++) {
      const snaprow_t *x = &r->snap[st][sz];
      if (x->restore_failed)
        fprintf(f, "**Restore failures, %s, %s:** %u of %u restores were refused (the restore "
                   "columns above cover only the successful ones; 0 when none succeeded). "
                   "The last failed after %.3f s with: `%s`\n\n",
                store_name((store_t)st), SIZE_NAME[sz], x->restore_failed,
                x->restore_failed + x->restore.n, x->restore_failed_s, x->restore_error);
    }
}

static void write_put_row(FILE *f, const put_run_t *p, const char *pos) {
  double rate = p->seconds > 0 ? (double)p->ops / p->seconds : 0;
  double per = p->ops ? 1e3 / (double)p->ops : 0;
  fprintf(f, "| %s | %u | %s | %llu | %llu | %.2f | %.0f | %.2f | %.2f | %.2f | %.3f | %.3f |\n",
          put_client_name(p->client), p->threads, pos, (unsigned long long)p->ops,
          (unsigned long long)p->errors, p->seconds, rate, p->p50_ms, p->p99_ms, p->mean_ms,
          p->self_cpu_s * per, p->server_cpu_s * per);
}

static void write_put_analysis(FILE *f, const report_t *r) {
  for (int par = 0; par < 2; par++) {
    const put_run_t *a = r->put[PUT_CLIENT_AKIDB][par], *m = r->put[PUT_CLIENT_MINIMAL][par];
    uint64_t aops = a[0].ops + a[1].ops, mops = m[0].ops + m[1].ops;
    double acpu = a[0].self_cpu_s + a[1].self_cpu_s, mcpu = m[0].self_cpu_s + m[1].self_cpu_s;
    double asrv = a[0].server_cpu_s + a[1].server_cpu_s;
    double msrv = m[0].server_cpu_s + m[1].server_cpu_s;
    double asec = a[0].seconds + a[1].seconds, msec = m[0].seconds + m[1].seconds;
    fprintf(f, "- %u thread%s: per request, this process spent %.3f ms of CPU with the C API "
               "and %.3f ms with the minimal client; s3rver (one Node process, `%s`) spent "
               "%.3f ms and %.3f ms. s3rver was busy %.0f %% of one core during the C-API runs "
               "and %.0f %% during the minimal client's; this process %.0f %% and %.0f %%.\n",
            par ? PUT_THREADS_PAR : 1, par ? "s" : "", aops ? 1e3 * acpu / (double)aops : 0,
            mops ? 1e3 * mcpu / (double)mops : 0, r->comm, aops ? 1e3 * asrv / (double)aops : 0,
            mops ? 1e3 * msrv / (double)mops : 0, asec > 0 ? 100 * asrv / asec : 0,
            msec > 0 ? 100 * msrv / msec : 0, asec > 0 ? 100 * acpu / asec : 0,
            msec > 0 ? 100 * mcpu / msec : 0);
  }
  fprintf(f, "\n");
}

static void write_puts(FILE *f, const report_t *r, const options_t *o) {
  fprintf(f, "## 2. Small-object uploads to s3rver\n\n"
             "1 KiB objects, distinct keys (`<run>/t<thread>/<n>`), for %.0f s per run. *C API*: "
             "`akidb_objstore_put_buffer` on one store handle shared by the threads (defaults: "
             "SigV4 with the body's SHA-256, MD5 checked against the ETag, CRC-32C metadata, "
             "pooled curl handles). *Minimal*: one libcurl easy handle per thread (keep-alive), "
             "`PUT` with a fixed `Authorization` header that names the access key, "
             "`x-amz-content-sha256: UNSIGNED-PAYLOAD` and no signature work (s3rver checks the "
             "access key and the date, not V4 signatures): the most this loopback s3rver takes "
             "from this machine. After an unreported warm-up run of each client (8 threads, 2 s), "
             "per thread count the runs went minimal, C API, C API, minimal (A-B-B-A, so "
             "s3rver's growing object count weighs on both alike); the rates in the targets "
             "pool each client's two runs. Then two runs of the *batched* C API: one caller "
             "thread, each call `akidb_objstore_put_many` of %u objects with %u in flight (the "
             "call's own threads), the next batch once the last object of the previous one is "
             "stored; they come last, when s3rver holds the most objects. Latency is per "
             "request, for the batched runs per call of %u objects. CPU per request "
             "= CPU seconds of this process (getrusage) or of s3rver (/proc/<pid>/stat) during "
             "the run ÷ requests.\n\n"
             "| client | threads | run | requests | errors | seconds | ops/s | p50 (ms) | "
             "p99 (ms) | mean (ms) | bench CPU ms/op | s3rver CPU ms/op |\n"
             "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
          o->put_seconds, PUT_BATCH, PUT_THREADS_PAR, PUT_BATCH);
  static const char *const pos[2][2] = {{"2nd", "3rd"}, {"1st", "4th"}};
  for (int par = 0; par < 2; par++)
    for (int c = 0; c < 2; c++)
      for (int k = 0; k < 2; k++) write_put_row(f, &r->put[c][par][k], pos[c][k]);
  for (int k = 0; k < 2; k++) write_put_row(f, &r->batch[k], k ? "6th" : "5th");
  fprintf(f, "\nWhere the time goes (measured in these runs):\n\n");
  write_put_analysis(f, r);
  for (int par = 0; par < 2; par++)
    for (int c = 0; c < 2; c++)
      for (int k = 0; k < 2; k++)
        if (r->put[c][par][k].errors)
          fprintf(f, "First error (%s, %u threads): %s\n\n", put_client_name((put_client_t)c),
                  r->put[c][par][k].threads, r->put[c][par][k].first_error);
  for (int k = 0; k < 2; k++)
    if (r->batch[k].errors)
      fprintf(f, "First error (batched): %s\n\n", r->batch[k].first_error);
}

static void write_cold(FILE *f, const report_t *r, const options_t *o) {
  dist_t mv = dist_of(r->cold_move_s, r->ncold), first = dist_of(r->cold_first_ms, r->ncold);
  dist_t second = dist_of(r->cold_second_ms, r->ncold);
  fprintf(f, "## 3. First query on cold %u × 384 collections (s3rver)\n\n"
             "%u collections of %u × 384 cosine points (a different seeded mixture each), "
             "fully indexed, %.1f MiB on disk each. Each was moved with `PATCH {\"tier\": "
             "\"cold\"}` (upload of its files and manifest, then the local copy deleted), its "
             "`GET` checked to say `cold`; then, after `sync` and an idle server, one search "
             "(k = 10) per collection, one after another: the first one includes the download "
             "(checksums verified), the load and the search. A second search right after shows "
             "the search alone.\n\n"
             "| step | p50 | p99 | max | mean |\n|---|--:|--:|--:|--:|\n"
             "| PATCH tier cold (s) | %.3f | %.3f | %.3f | %.3f |\n"
             "| first search, cold (ms) | %.1f | %.1f | %.1f | %.1f |\n"
             "| second search, hot (ms) | %.2f | %.2f | %.2f | %.2f |\n\n",
          o->cold_points, r->ncold, o->cold_points, (double)r->disk_cold / MIB, mv.p50, mv.p99,
          mv.max, mv.mean,
          first.p50, first.p99, first.max, first.mean, second.p50, second.p99, second.max,
          second.mean);
}

static void write_c768(FILE *f, const report_t *r, const options_t *o) {
  fprintf(f, "## 4. Cold → hot: %u × 768 cosine from s3rver\n\n"
             "The %u × 768 collection of row 1 (%.1f MiB on disk), cycles (%u) of: `PATCH "
             "{\"tier\":\"cold\"}` → the first search (download + load + search) → "
             "`PATCH cold` "
             "again → `PATCH {\"tier\":\"hot\"}` (download + load, no search) → one search. "
             "`sync` and an idle server before each timed request.\n\n"
             "| step | median (s) | each run (s) |\n|---|--:|---|\n",
          o->points, o->points, (double)r->disk768 / MIB, r->c768_first.n);
  const runs_t *rows[] = {&r->c768_cold, &r->c768_first, &r->c768_cold2, &r->c768_hot,
                          &r->c768_after};
  static const char *const names[] = {"PATCH tier cold (upload)", "first search after cold",
                                      "PATCH tier cold again", "PATCH tier hot",
                                      "search once hot"};
  for (int i = 0; i < 5; i++) {
    fprintf(f, "| %s | %.3f | ", names[i], runs_median(rows[i]));
    write_runs(f, rows[i]);
    fprintf(f, " |\n");
  }
  fprintf(f, "\n");
}

static void write_setup(FILE *f, const report_t *r, const options_t *o) {
  fprintf(f, "## Setup (not timed against a target)\n\n"
             "Generation of the sets: %.1f s. Ingest over REST (batches of 1,000, %u "
             "connections): %u × 128 in %.1f s, %u × 768 in %.1f s, %u × %u × 384 in %.1f s; "
             "then every collection indexed (`pending` = 0) %.1f s later; idle %.1f s after "
             "that.\n\n",
          r->gen_s, INGEST_CONNS, o->points, r->ingest_s[SIZE_128], o->points,
          r->ingest_s[SIZE_768], o->cold, o->cold_points, r->cold_ingest_s, r->index_s,
          r->idle_s);
}

static void write_report(const report_t *r, const options_t *o) {
  FILE *f = fopen(o->out, "w");
  if (!f) bench_die("cannot write %s: %s", o->out, strerror(errno));
  write_header(f, r, o);
  write_targets(f, r, o);
  write_snapshots(f, r);
  write_puts(f, r, o);
  write_cold(f, r, o);
  write_c768(f, r, o);
  write_setup(f, r, o);
  fprintf(f, "## Reproduce\n\n```\nmake bench-objectstore\n# or, after building akidb and "
             "objectstore_bench in build/bench:\n%s\n```\n", o->command);
  fclose(f);
}

/* ------------------------------------------------------------ phases -- */

/* One POST on the server after it went idle: its seconds and the server's
 * CPU seconds during it. Dies on a transport error, not on a status. */
static lg_response_t timed_post(const char *path, const char *body, double *wall, double *cpu) {
  char err[512];
  lg_response_t r;
  wait_idle(1.0, 60);
  double c0 = put_proc_cpu_s(g.srv.pid), t0 = now_s();
  if (lg_conn_request(&g_conn, "POST", path, g_token, body, &r, err, sizeof err))
    bench_die("POST %s: %s", path, err);
  *wall = now_s() - t0;
  *cpu = put_proc_cpu_s(g.srv.pid) - c0;
  return r;
}

/* Restores snapshot `id` into collection `restored` and checks the points
 * (a refused restore is recorded, not fatal), then deletes the collection
 * and the snapshot. */
static void restore_and_drop(const char *id, const char *restored, snaprow_t *x) {
  char path[256], body[256];
  double wall, cpu;
  snprintf(body, sizeof body, "{\"collection\":\"%s\"}", restored);
  snprintf(path, sizeof path, "/v1/tenants/bench/snapshots/%s/restore", id);
  double get0 = metric(GET_SECONDS);
  lg_response_t r = timed_post(path, body, &wall, &cpu);
  if (r.status != 201) {
    x->restore_failed++;
    x->restore_failed_s = wall;
    snprintf(x->restore_error, sizeof x->restore_error, "%d %.*s", r.status,
             (int)(r.body_len > 360 ? 360 : r.body_len), r.body);
    printf("  restore FAILED after %.3f s: %s\n", wall, x->restore_error);
  } else {
    long long points = lg_find_int(r.body, r.body_len, "points");
    if (points != x->points)
      bench_die("restore of %s gave %lld points, expected %lld", id, points, x->points);
    runs_add(&x->restore, wall);
    runs_add(&x->restore_cpu, cpu);
    runs_add(&x->restore_get, metric(GET_SECONDS) - get0);
    coll_path(restored, "", path, sizeof path);
    call("DELETE", path, g_token, NULL, 204);
  }
  snprintf(path, sizeof path, "/v1/tenants/bench/snapshots/%s", id);
  call("DELETE", path, g_token, NULL, 204);
}

/* Snapshot then restore of one collection: one run of row 1. */
static void snap_pair(store_t st, int sz, uint32_t run, snaprow_t *x) {
  char path[256], id[64], state[32], restored[64];
  coll_path(SIZE_NAME[sz], "/snapshots", path, sizeof path);
  double wall, cpu;
  lg_response_t r = timed_post(path, "{}", &wall, &cpu);
  if (r.status != 201)
    bench_die("snapshot of %s answered %d: %.*s", SIZE_NAME[sz], r.status,
        (int)(r.body_len > 600 ? 600 : r.body_len), r.body);
  runs_add(&x->snap, wall);
  runs_add(&x->snap_cpu, cpu);
  field(r, "state", state, sizeof state);
  field(r, "id", id, sizeof id);
  if (strcmp(state, "ready") != 0) bench_die("snapshot of %s is %s", SIZE_NAME[sz], state);
  x->bytes = lg_find_int(r.body, r.body_len, "bytes");
  x->points = lg_find_int(r.body, r.body_len, "points");
  snprintf(restored, sizeof restored, "r%s-%s-%u", SIZE_NAME[sz], store_name(st), run);
  restore_and_drop(id, restored, x);
  printf("  %s %s run %u: snapshot %.3f s, restores ok %u (last %.3f s), failed %u\n",
         store_name(st), SIZE_NAME[sz], run, wall, x->restore.n,
         x->restore.n ? x->restore.v[x->restore.n - 1] : 0, x->restore_failed);
  fflush(stdout);
}

static void phase_snapshots(const options_t *o, report_t *rep, store_t st) {
  printf("row 1: snapshots and restores, %s store\n", store_name(st));
  fflush(stdout);
  for (uint32_t run = 0; run < o->runs; run++)
    for (int sz = 0; sz < NSIZES; sz++) snap_pair(st, sz, run, &rep->snap[st][sz]);
}

static void phase_puts(const options_t *o, report_t *rep) {
  char ep[64], err[512], tag[64];
  s3rver_endpoint(ep, sizeof ep);
  put_setup_t s = {ep, S3_BUCKET, S3_KEY, S3_KEY, g.s3.pid, o->put_seconds, 1024, PUT_THREADS_PAR};
  /* A-B-B-A per thread count: minimal, C API, C API, minimal */
  static const int order[4][2] = {{PUT_CLIENT_MINIMAL, 0}, {PUT_CLIENT_AKIDB, 0},
                                  {PUT_CLIENT_AKIDB, 1}, {PUT_CLIENT_MINIMAL, 1}};
  put_setup_t warm = s;
  put_run_t ignored;
  warm.seconds = o->put_seconds < 2 ? o->put_seconds : 2;
  for (int c = 0; c < 2; c++) /* unreported: Node's JIT warms up, connections settle */
    if (put_run(&warm, (put_client_t)c, PUT_THREADS_PAR, c ? "small/warm-min" : "small/warm-api",
                &ignored, err, sizeof err))
      bench_die("%s", err);
  for (int par = 0; par < 2; par++)
    for (int i = 0; i < 4; i++) {
      int c = order[i][0], k = order[i][1];
      uint32_t threads = par ? PUT_THREADS_PAR : 1;
      snprintf(tag, sizeof tag, "small/%s-%u-%d", c == PUT_CLIENT_AKIDB ? "api" : "min", threads,
               k);
      put_run_t *p = &rep->put[c][par][k];
      if (put_run(&s, (put_client_t)c, threads, tag, p, err, sizeof err)) bench_die("%s", err);
      printf("row 2: %s, %u threads: %.0f ops/s (%llu errors), p50 %.2f ms\n",
             put_client_name(p->client), threads, p->seconds > 0 ? p->ops / p->seconds : 0,
             (unsigned long long)p->errors, p->p50_ms);
      fflush(stdout);
      if (p->errors && !p->ops) bench_die("every PUT failed: %s", p->first_error);
    }
  for (int k = 0; k < 2; k++) {
    put_run_t *p = &rep->batch[k];
    snprintf(tag, sizeof tag, "small/batch-%d", k);
    if (put_run(&s, PUT_CLIENT_BATCH, 1, tag, p, err, sizeof err)) bench_die("%s", err);
    printf("row 2: %s: %.0f ops/s (%llu errors)\n", put_client_name(p->client),
           p->seconds > 0 ? p->ops / p->seconds : 0, (unsigned long long)p->errors);
    fflush(stdout);
    if (p->errors && !p->ops) bench_die("every batched PUT failed: %s", p->first_error);
  }
}

static void cold_name(uint32_t i, char *out, size_t len) { snprintf(out, len, "cold%03u", i); }

static void phase_setup(const options_t *o, report_t *rep, ds_set_t *s128, ds_set_t *s768,
                        ds_set_t *cold) {
  printf("setup: collections and ingest...\n");
  fflush(stdout);
  create_collection("c128", 128, "l2");
  create_collection("c768", 768, "cosine");
  target_t t128 = {"c128", s128}, t768 = {"c768", s768};
  rep->ingest_s[SIZE_128] = ingest(&t128, 1);
  rep->ingest_s[SIZE_768] = ingest(&t768, 1);
  target_t *tc = bench_xmalloc(o->cold * sizeof *tc);
  char (*names)[16] = bench_xmalloc(o->cold * sizeof *names);
  for (uint32_t i = 0; i < o->cold; i++) {
    cold_name(i, names[i], sizeof names[i]);
    create_collection(names[i], 384, "cosine");
    tc[i] = (target_t){names[i], &cold[i]};
  }
  rep->cold_ingest_s = ingest(tc, o->cold);
  double t0 = now_s();
  wait_indexed("c128", o->points, 900);
  wait_indexed("c768", o->points, 900);
  for (uint32_t i = 0; i < o->cold; i++) wait_indexed(names[i], o->cold_points, 900);
  rep->index_s = now_s() - t0;
  rep->idle_s = wait_idle(3.0, 300);
  printf("  ingested in %.1f + %.1f + %.1f s, indexed %.1f s later\n", rep->ingest_s[0],
         rep->ingest_s[1], rep->cold_ingest_s, rep->index_s);
  free(tc);
  free(names);
}

static void phase_cold(const options_t *o, report_t *rep, const ds_set_t *cold) {
  printf("row 3: %u cold collections\n", o->cold);
  fflush(stdout);
  char name[16];
  rep->ncold = o->cold;
  rep->disk_cold = coll_info("cold000").disk_bytes;
  for (uint32_t i = 0; i < o->cold; i++) {
    cold_name(i, name, sizeof name);
    rep->cold_move_s[i] = patch_tier(name, "cold");
    coll_info_t ci = coll_info(name);
    if (strcmp(ci.tier, "cold") != 0) bench_die("%s is %s after PATCH tier cold", name, ci.tier);
  }
  wait_idle(1.0, 60);
  for (uint32_t i = 0; i < o->cold; i++) {
    cold_name(i, name, sizeof name);
    rep->cold_first_ms[i] = 1e3 * search_once(name, &cold[i], 0);
    rep->cold_second_ms[i] = 1e3 * search_once(name, &cold[i], 1);
  }
  dist_t d = dist_of(rep->cold_first_ms, rep->ncold);
  printf("  first search p50 %.1f ms, p99 %.1f ms\n", d.p50, d.p99);
}

static void phase_c768(const options_t *o, report_t *rep, const ds_set_t *s768) {
  printf("row 4: cold -> hot of c768\n");
  fflush(stdout);
  rep->disk768 = coll_info("c768").disk_bytes;
  for (uint32_t run = 0; run < o->runs; run++) {
    wait_idle(1.0, 60);
    runs_add(&rep->c768_cold, patch_tier("c768", "cold"));
    if (strcmp(coll_info("c768").tier, "cold") != 0) bench_die("c768 is not cold after PATCH");
    wait_idle(1.0, 60);
    runs_add(&rep->c768_first, search_once("c768", s768, run));
    wait_idle(1.0, 60);
    runs_add(&rep->c768_cold2, patch_tier("c768", "cold"));
    wait_idle(1.0, 60);
    runs_add(&rep->c768_hot, patch_tier("c768", "hot"));
    runs_add(&rep->c768_after, search_once("c768", s768, run + 1));
    printf("  cold %.3f s, first search %.3f s, hot %.3f s\n", rep->c768_cold.v[run],
           rep->c768_first.v[run], rep->c768_hot.v[run]);
    fflush(stdout);
  }
}

/* ------------------------------------------------------------- main -- */

static void usage(FILE *out) {
  fprintf(out,
          "usage: objectstore --akidb PATH [--out FILE] [--tmp DIR] [--runs N] [--cold N]\n"
          "                   [--put-seconds S] [--node-tools PATH] [--max-minutes M] [--quick]\n"
          "  --akidb PATH       the akidb program to start (`akidb serve`)\n"
          "  --out FILE         report (default bench/results/objectstore.md)\n"
          "  --tmp DIR          scratch directory parent (default %s)\n"
          "  --runs N           snapshot/restore and cold->hot repetitions (default 3, max %u)\n"
          "  --cold N           cold 10k x 384 collections (default 30, max %u)\n"
          "  --put-seconds S    length of one upload run (default 5)\n"
          "  --node-tools PATH  tests/integration/node-tools.sh (default in the source tree)\n"
          "  --max-minutes M    kill everything and fail past this (default 25)\n"
          "  --quick            10k-point collections, 5 cold ones, 1 run, 2 s uploads\n",
          OBJSTORE_BENCH_TMP_DEFAULT, MAX_RUNS, MAX_COLD);
}

static void record_command(options_t *o, int argc, char **argv) {
  size_t used = 0;
  for (int i = 0; i < argc; i++)
    used += (size_t)snprintf(o->command + used,
                             used < sizeof o->command ? sizeof o->command - used : 0, "%s%s",
                             i ? " " : "", argv[i]);
}

static void parse_options(int argc, char **argv, options_t *o) {
  memset(o, 0, sizeof *o);
  o->out = "bench/results/objectstore.md";
  o->tmp = OBJSTORE_BENCH_TMP_DEFAULT;
  o->node_tools = OBJSTORE_BENCH_SOURCE_DIR "/tests/integration/node-tools.sh";
  o->max_minutes = 25;
  record_command(o, argc, argv);
  long runs = -1, cold = -1;
  double put_s = -1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--quick") == 0) { o->quick = true; continue; }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) usage(stdout), exit(0);
    if (!v) usage(stderr), exit(2);
    if (strcmp(a, "--akidb") == 0) o->akidb = v;
    else if (strcmp(a, "--out") == 0) o->out = v;
    else if (strcmp(a, "--tmp") == 0) o->tmp = v;
    else if (strcmp(a, "--runs") == 0) runs = atol(v);
    else if (strcmp(a, "--cold") == 0) cold = atol(v);
    else if (strcmp(a, "--put-seconds") == 0) put_s = atof(v);
    else if (strcmp(a, "--node-tools") == 0) o->node_tools = v;
    else if (strcmp(a, "--max-minutes") == 0) o->max_minutes = atof(v);
    else {
      fprintf(stderr, "objectstore: unknown option %s\n", a);
      usage(stderr), exit(2);
    }
    i++;
  }
  o->runs = runs > 0 ? (uint32_t)runs : o->quick ? 1 : 3;
  o->cold = cold > 0 ? (uint32_t)cold : o->quick ? 5 : 30;
  o->put_seconds = put_s > 0 ? put_s : o->quick ? 2 : 5;
  o->points = o->quick ? 10000 : 100000;
  o->cold_points = o->quick ? 2000 : 10000;
  if (!o->akidb || o->runs > MAX_RUNS || o->cold > MAX_COLD || o->max_minutes <= 0)
    usage(stderr), exit(2);
}

static void machine(report_t *r, const options_t *o) {
  bench_cpu_model(r->cpu, sizeof r->cpu);
  r->cores = sysconf(_SC_NPROCESSORS_ONLN);
  struct utsname u;
  if (uname(&u) == 0) snprintf(r->kernel, sizeof r->kernel, "Linux %s", u.release);
  time_t now = time(NULL);
  strftime(r->date, sizeof r->date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
  char cmd[PATH_MAX * 2 + 128];
  snprintf(cmd, sizeof cmd, "'%s' version 2>&1", o->akidb);
  command_line(cmd, r->version, sizeof r->version);
  command_line("node --version 2>&1", r->node, sizeof r->node);
  command_line("cut -d' ' -f1-3 /proc/loadavg", r->load_start, sizeof r->load_start);
  /* installs the Node tools if needed (outside any timing), then reads the pin */
  snprintf(cmd, sizeof cmd, "d=$('%s' --dir) && sed -n 's/^  \"version\": \"\\(.*\\)\",/\\1/p' "
           "\"$d/node_modules/s3rver/package.json\"", o->node_tools);
  command_line(cmd, r->s3rver, sizeof r->s3rver);
}

static void prepare_dirs(const options_t *o) {
  mkdir(o->tmp, 0755);
  snprintf(g.dir, sizeof g.dir, "%s/akidb-objectstore-XXXXXX", o->tmp);
  if (!mkdtemp(g.dir)) {
    g.dir[0] = '\0';
    bench_die("cannot create a directory under %s: %s", o->tmp, strerror(errno));
  }
  snprintf(g.data, sizeof g.data, "%s/data", g.dir);
  snprintf(g.config, sizeof g.config, "%s/config.toml", g.dir);
  snprintf(g.s3dir, sizeof g.s3dir, "%s/s3rver", g.dir);
  snprintf(g.password, sizeof g.password, "bench-admin-%d-password", (int)getpid());
  g.keep = getenv("OBJSTORE_KEEP") != NULL;
}

/* The node process behind s3rver's pid (after node-tools.sh's exec). */
static void s3rver_comm(report_t *r) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/comm", (int)g.s3.pid);
  FILE *f = fopen(path, "r");
  snprintf(r->comm, sizeof r->comm, "?");
  if (f) {
    if (fgets(r->comm, sizeof r->comm, f)) r->comm[strcspn(r->comm, "\n")] = '\0';
    fclose(f);
  }
}

static void generate(const options_t *o, report_t *rep, ds_set_t *s128, ds_set_t *s768,
                     ds_set_t *cold) {
  double t0 = now_s();
  make_set("c128", o->points, 128, AKIDB_METRIC_L2, SEED + 128, s128);
  make_set("c768", o->points, 768, AKIDB_METRIC_COSINE, SEED + 768, s768);
  for (uint32_t i = 0; i < o->cold; i++)
    make_set("cold", o->cold_points, 384, AKIDB_METRIC_COSINE, SEED + 384 + 1000 * i, &cold[i]);
  rep->gen_s = now_s() - t0;
}

static void run_server_phases(const options_t *o, report_t *rep, ds_set_t *s128, ds_set_t *s768,
                              ds_set_t *cold) {
  server_start(o, STORE_LOCAL);
  connect_and_login();
  setup_tenant();
  phase_setup(o, rep, s128, s768, cold);
  phase_snapshots(o, rep, STORE_LOCAL);
  server_stop();

  server_start(o, STORE_S3);
  connect_and_login();
  login("bench", "owner", TENANT_PASSWORD, g_token);
  patch_tier("c128", "hot"); /* load both before timing, as in the local rows */
  patch_tier("c768", "hot");
  wait_idle(3.0, 120);
  phase_snapshots(o, rep, STORE_S3);
  phase_cold(o, rep, cold);
  phase_c768(o, rep, s768);
  lg_conn_close(&g_conn);
  server_stop();
}

int main(int argc, char **argv) {
  bench_fatal_init("objectstore bench", cleanup);
  options_t o;
  parse_options(argc, argv, &o);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) bench_die("curl_global_init failed");
  static report_t rep;
  machine(&rep, &o);
  prepare_dirs(&o);
  pthread_t wd;
  if (pthread_create(&wd, NULL, watchdog, &o.max_minutes)) bench_die("pthread_create failed");
  pthread_detach(wd);

  printf("starting s3rver...\n");
  fflush(stdout);
  s3rver_start(&o);
  s3rver_comm(&rep);
  phase_puts(&o, &rep);

  ds_set_t s128, s768, *cold = calloc(o.cold, sizeof *cold);
  if (!cold) bench_die("out of memory");
  generate(&o, &rep, &s128, &s768, cold);
  run_server_phases(&o, &rep, &s128, &s768, cold);
  kill_children();
  command_line("cut -d' ' -f1-3 /proc/loadavg", rep.load_end, sizeof rep.load_end);
  write_report(&rep, &o);
  if (!g.keep) bench_remove_tree(g.dir);
  ds_free(&s128);
  ds_free(&s768);
  for (uint32_t i = 0; i < o.cold; i++) ds_free(&cold[i]);
  free(cold);
  curl_global_cleanup();
  printf("wrote %s\n", o.out);
  return 0;
}
