/*
 * tenants.c — the many-tenants benchmark behind `make bench-tenants`: what
 * idle collections cost and how the hot/warm tiers behave, measured over
 * REST against a real `akidb serve` that this driver starts, restarts and
 * kills itself (loopback only, durability fsync, its own scratch data dir):
 *   1. setup: N tenants (default 10,000), each with a tenant admin user, one
 *      database and one collection of 100 points x 384-d cosine with small
 *      payloads, from several keep-alive connections in parallel;
 *   2. server RSS (VmRSS) and threads (/proc/<pid>/status) with the 256 MiB
 *      memory budget after touching every collection, then with every
 *      collection hot (budget 0) after touching them all again;
 *   3. restart: kill -9 after writes, time from spawn to GET /ready = 200;
 *   4. search latency (k = 10) on ~200 random warm collections (each query
 *      loads its collection) and 1,000+ queries on one hot collection;
 *   5. ingest points/s spread over 1,000 collections vs. into one;
 *   6. the first search of a warm 100k x 768 collection (its load), page
 *      cache warm and dropped;
 *   7. upsert latency (batch 100 x 128-d, sequential) into a 1M x 128
 *      collection A and into another collection B while A checkpoints: A's
 *      log is topped up to just below the checkpoint threshold (256 MiB of
 *      log, store.h), so the measured writes themselves start the
 *      checkpoint; its window is seen by watching A's directory for
 *      checkpoint.tmp;
 * and writes bench/results/tenants.md with an acceptance table.
 *
 * Owns: options, the server process (config file, spawn, readiness,
 * SIGTERM, SIGKILL), the REST calls, the generated data (splitmix64,
 * seeded), the phases and the report. Parallel phases run one thread per
 * connection with a shared atomic counter; the rest is single-threaded.
 */
#include <dirent.h>
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

#include "bench_util.h"
#include "akidb/errors.h"
#include "loadgen.h"

#ifndef TENANTS_BENCH_BUILD_TYPE
#define TENANTS_BENCH_BUILD_TYPE "unknown"
#endif
#ifndef TENANTS_BENCH_TMP_DEFAULT
#define TENANTS_BENCH_TMP_DEFAULT "/tmp"
#endif

#define K 10u
#define SEED 42u
#define DIM_TENANT 384u
#define POINTS_PER_TENANT 100u
#define MAX_CONNS 16u
#define MIB (1024.0 * 1024.0)
#define CKPT_INTERVAL_S 300.0 /* the store's checkpoint_interval_s default */

/* Targets (issue 11, "Acceptance"). */
#define TARGET_BUDGET_RSS_MIB 400.0
#define TARGET_HOT_FACTOR 1.3
#define TARGET_HOT_EXTRA_MIB 100.0
#define TARGET_THREADS_EXTRA 8
#define TARGET_READY_S 1.0
#define TARGET_WARM_P99_MS 25.0
#define TARGET_HOT_P99_MS 1.0
#define TARGET_LOAD768_S 1.0
#define LOAD_REPEATS 3 /* loads of the warm 768-d collection from the page cache */
_Static_assert(LOAD_REPEATS == 3, "the report prints three loads");
#define TARGET_UPSERT_MAX_MS 50.0

/* Server settings this run passes in its config file. */
#define HTTP_THREADS 8u
#define WORKER_THREADS 2u
#define BUDGET_BYTES (256ull << 20)
#define WARM_AFTER_LONG_S 86400u
#define CHECK_INTERVAL_MS 1000u

typedef struct {
  const char *akidb, *out, *tmp;
  bool quick;
  uint32_t tenants, conns;
  uint32_t warm_queries, hot_queries, spread; /* phases 4 and 5 */
  uint32_t big768;                            /* points of phase 6 */
  uint32_t big128;                            /* points of phase 7 */
  double rss_limit_mib; /* stop touching collections beyond this server RSS */
  char command[2048];
} options_t;

/* ------------------------------------------------------------ failure -- */

typedef struct {
  uint64_t budget;
  uint32_t warm_after_s;
} settings_t;

typedef struct {
  pid_t pid;
  uint16_t port;
  char dir[PATH_MAX];
  char data[PATH_MAX + 8];
  char log[PATH_MAX + 16];
  char config[PATH_MAX + 32];
  char password[64];
  char admin_token[256];
} server_t;

static server_t g_srv = {.pid = -1};

/* bench_die's cleanup: the server's log, the server, its directory (kept
 * with TENANTS_KEEP). */
static void cleanup(void) {
  if (g_srv.log[0]) bench_print_log_tail(g_srv.log);
  if (g_srv.pid > 0) {
    kill(g_srv.pid, SIGKILL);
    waitpid(g_srv.pid, NULL, 0);
  }
  if (g_srv.dir[0] && !getenv("TENANTS_KEEP")) bench_remove_tree(g_srv.dir);
}


/* ---------------------------------------------------------- utilities -- */

typedef struct {
  size_t n;
  double p50, p99, max, mean;
} dist_t;

/* Sorts the samples (ms) and summarises them. */
static dist_t summarise(double *ms, size_t n) {
  dist_t d = {.n = n};
  if (n == 0) return d;
  qsort(ms, n, sizeof *ms, bench_cmp_double);
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += ms[i];
  d.mean = sum / (double)n;
  d.p50 = bench_percentile(ms, n, 50);
  d.p99 = bench_percentile(ms, n, 99);
  d.max = ms[n - 1];
  return d;
}

/* A numeric field ("VmRSS", "Threads", ...) of /proc/<pid>/status, or -1. */
static double proc_status(pid_t pid, const char *field) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  double v = -1;
  if (!f) return v;
  size_t fl = strlen(field);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
      v = strtod(line + fl + 1, NULL);
      break;
    }
  fclose(f);
  return v;
}

static double rss_mib(pid_t pid) { return proc_status(pid, "VmRSS") / 1024.0; }

/* Open file descriptors of a process (entries of /proc/<pid>/fd). */
static uint32_t open_fds(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
  DIR *d = opendir(path);
  uint32_t n = 0;
  if (!d) return 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

/* The soft "Max open files" of /proc/<pid>/limits, or -1. */
static long long fd_limit(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/limits", (int)pid);
  FILE *f = fopen(path, "r");
  long long v = -1;
  if (!f) return v;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "Max open files", 14) == 0) {
      v = strtoll(line + 14, NULL, 10);
      break;
    }
  fclose(f);
  return v;
}

/* MemTotal of /proc/meminfo in MiB. */
static double mem_total_mib(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  double v = 0;
  if (f) {
    if (fscanf(f, "MemTotal: %lf", &v) != 1) v = 0;
    fclose(f);
  }
  return v / 1024.0;
}

/* Bytes of the regular files directly in dir (0 if absent). */
static uint64_t dir_bytes(const char *dir) {
  DIR *d = opendir(dir);
  uint64_t total = 0;
  if (!d) return 0;
  struct dirent *e;
  char path[PATH_MAX * 4 + 512];
  while ((e = readdir(d))) {
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) total += (uint64_t)st.st_size;
  }
  closedir(d);
  return total;
}

static bool file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* ------------------------------------------------------------ the data -- */

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Appends "[v0,...]" of the seeded vector (stream, index): components
 * uniform in (-1, 1), written with 4 decimals by integer arithmetic. */
static char *put_vector(char *p, uint64_t stream, uint64_t index, uint32_t dim) {
  uint64_t s = SEED ^ (stream * 0x100000001B3ull) ^ (index * 0xC2B2AE3D27D4EB4Full);
  *p++ = '[';
  for (uint32_t j = 0; j < dim; j++) {
    int q = (int)(splitmix64(&s) % 19999u) - 9999; /* -0.9999 .. 0.9999 */
    if (j) *p++ = ',';
    if (q < 0) *p++ = '-', q = -q;
    *p++ = '0';
    *p++ = '.';
    p[0] = (char)('0' + q / 1000), p[1] = (char)('0' + q / 100 % 10);
    p[2] = (char)('0' + q / 10 % 10), p[3] = (char)('0' + q % 10);
    p += 4;
  }
  *p++ = ']';
  return p;
}

/* Bytes needed for `n` points of `dim` with ids and small payloads. */
static size_t batch_bound(size_t n, uint32_t dim) { return 64 + n * (160 + (size_t)dim * 8); }

/* Writes `{"points":[...]}` of n points with ids "<prefix><first+i>" and
 * payloads {"i": n, "tag": "t<n%97>"}; returns its length. */
static size_t encode_batch(char *buf, const char *prefix, uint64_t stream, uint64_t first,
                           size_t n, uint32_t dim, bool payload) {
  char *p = buf;
  p += sprintf(p, "{\"points\":[");
  for (size_t i = 0; i < n; i++) {
    uint64_t id = first + i;
    p += sprintf(p, "%s{\"id\":\"%s%llu\",\"vector\":", i ? "," : "", prefix,
                 (unsigned long long)id);
    p = put_vector(p, stream, id, dim);
    if (payload)
      p += sprintf(p, ",\"payload\":{\"i\":%llu,\"tag\":\"t%llu\"}", (unsigned long long)id,
                   (unsigned long long)(id % 97));
    *p++ = '}';
  }
  p += sprintf(p, "]}");
  return (size_t)(p - buf);
}

/* The payload JSON bytes of point `id` as encoded above (for the data size). */
static size_t payload_bytes(uint64_t id) {
  char tmp[96];
  return (size_t)snprintf(tmp, sizeof tmp, "{\"i\":%llu,\"tag\":\"t%llu\"}",
                          (unsigned long long)id, (unsigned long long)(id % 97));
}

/* `{"vector":[...],"k":10,"include_payload":false}` of query q. */
static void encode_query(char *buf, uint64_t q, uint32_t dim) {
  char *p = buf + sprintf(buf, "{\"vector\":");
  p = put_vector(p, 0xABCDull, q, dim);
  sprintf(p, ",\"k\":%u,\"include_payload\":false}", K);
}

/* ------------------------------------------------------ server process -- */

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

/* Writes the config file every start of this run uses (settings explicit). */
static void write_config(server_t *s, const settings_t *st) {
  FILE *f = fopen(s->config, "w");
  if (!f) bench_die("cannot write %s: %s", s->config, strerror(errno));
  fprintf(f,
          "[server]\nhost = \"127.0.0.1\"\nrest_port = %u\nthreads = %u\n\n"
          "[storage]\ndata_dir = \"%s\"\ndurability = \"fsync\"\nworker_threads = %u\n"
          "memory_budget_bytes = %llu\n\n"
          "[tiering]\nwarm_after_s = %u\ncheck_interval_ms = %u\n\n"
          "[log]\nlevel = \"warn\"\n",
          s->port, HTTP_THREADS, s->data, WORKER_THREADS, (unsigned long long)st->budget,
          st->warm_after_s, CHECK_INTERVAL_MS);
  fclose(f);
}

/* Creates the scratch directory (once per run). */
static void server_prepare(server_t *s, const options_t *o) {
  mkdir(o->tmp, 0755);
  snprintf(s->dir, sizeof s->dir, "%s/akidb-tenants-XXXXXX", o->tmp);
  if (!mkdtemp(s->dir)) bench_die("cannot create a directory under %s: %s", o->tmp, strerror(errno));
  snprintf(s->data, sizeof s->data, "%s/data", s->dir);
  snprintf(s->log, sizeof s->log, "%s/server.log", s->dir);
  snprintf(s->config, sizeof s->config, "%s/config.toml", s->dir);
  snprintf(s->password, sizeof s->password, "bench-admin-%d-password", (int)getpid());
}

static void child_exec(const server_t *s, const char *akidb) {
  int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
  }
  static const char *const inherited[] = {
      "AKIDB_CONFIG", "AKIDB_HOST", "AKIDB_REST_PORT", "AKIDB_DATA_DIR", "AKIDB_DB_PATH",
      "AKIDB_DURABILITY", "AKIDB_LOG_LEVEL", "AKIDB_LOG_FORMAT", "AKIDB_MEMORY_BUDGET_BYTES",
      "AKIDB_WARM_AFTER_S", "AKIDB_WORKER_THREADS"};
  for (size_t i = 0; i < sizeof inherited / sizeof *inherited; i++) unsetenv(inherited[i]);
  if (chdir(s->dir) != 0) _exit(126);
  setenv("AKIDB_ADMIN_PASSWORD", s->password, 1);
  execl(akidb, akidb, "serve", "--config", s->config, (char *)NULL);
  fprintf(stderr, "exec %s: %s\n", akidb, strerror(errno));
  _exit(127);
}

/* Spawns `akidb serve` with these settings on the run's data directory. */
static void server_start(server_t *s, const options_t *o, const settings_t *st) {
  s->port = free_port();
  write_config(s, st);
  char akidb[PATH_MAX];
  if (!realpath(o->akidb, akidb)) bench_die("cannot find %s: %s", o->akidb, strerror(errno));
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) bench_die("fork: %s", strerror(errno));
  if (pid == 0) child_exec(s, akidb);
  s->pid = pid;
}

/* Polls GET /ready every 2 ms until 200; returns seconds since t0_us. */
static double server_wait_ready(server_t *s, double t0_us) {
  int status = 0;
  double took = lg_wait_ready(s->pid, s->port, 600, 2, &status);
  if (took == -1) {
    s->pid = -1;
    bench_die("akidb serve exited during start (status %d)", status);
  }
  if (took < 0) bench_die("akidb serve was not ready after 600 s");
  return (lg_now_us() - t0_us) / 1e6;
}

/* SIGTERM and wait (SIGKILL after 600 s); returns the seconds it took. */
static double server_stop(server_t *s) {
  if (s->pid <= 0) return 0;
  double t0 = lg_now_us();
  kill(s->pid, SIGTERM);
  int status = 0;
  while (waitpid(s->pid, &status, WNOHANG) == 0) {
    if (lg_now_us() - t0 > 600e6) {
      fprintf(stderr, "tenants bench: akidb serve ignored SIGTERM for 600 s; killing it\n");
      kill(s->pid, SIGKILL);
      waitpid(s->pid, &status, 0);
      break;
    }
    bench_sleep_ms(20);
  }
  s->pid = -1;
  return (lg_now_us() - t0) / 1e6;
}

static void server_kill9(server_t *s) {
  kill(s->pid, SIGKILL);
  waitpid(s->pid, NULL, 0);
  s->pid = -1;
}

/* `akidb serve --config <file> --print-config` into out (the effective settings). */
static void print_config(const options_t *o, const server_t *s, char *out, size_t len) {
  char akidb[PATH_MAX], cmd[PATH_MAX * 5];
  if (!realpath(o->akidb, akidb)) snprintf(akidb, sizeof akidb, "%s", o->akidb);
  snprintf(cmd, sizeof cmd, "cd '%s' && env -u AKIDB_CONFIG '%s' serve --config '%s' "
           "--print-config 2>&1", s->dir, akidb, s->config);
  out[0] = '\0';
  FILE *p = popen(cmd, "r");
  if (!p) return;
  size_t n = fread(out, 1, len - 1, p);
  out[n] = '\0';
  pclose(p);
}

/* ------------------------------------------------------------ REST calls -- */

/* One call on c that must answer `expect`; dies with the body otherwise. */
static lg_response_t call(lg_conn_t *c, const char *method, const char *path, const char *token,
                          const char *body, int expect) {
  char err[512];
  lg_response_t r;
  int rc = lg_conn_request(c, method, path, token, body, &r, err, sizeof err);
  if (rc) bench_die("%s %s: %s", method, path, err);
  if (r.status != expect)
    bench_die("%s %s answered %d, expected %d: %.*s", method, path, r.status, expect,
        (int)(r.body_len > 600 ? 600 : r.body_len), r.body);
  return r;
}

/* A request with a large body (head built here); returns the status or dies. */
static lg_response_t call_body(lg_conn_t *c, const char *method, const char *path,
                               const char *token, const char *body, size_t blen) {
  char head[1024], err[512];
  size_t hlen = lg_format_head(head, sizeof head, method, path, token, blen);
  if (!hlen) bench_die("request head for %s too long", path);
  struct iovec iov[2] = {{head, hlen}, {(void *)body, blen}};
  lg_response_t r;
  if (lg_conn_roundtrip(c, iov, 2, &r, err, sizeof err)) bench_die("%s %s: %s", method, path, err);
  return r;
}

static void copy_token(lg_response_t r, char *out, size_t cap) {
  size_t n;
  const char *t = lg_find_string(r.body, r.body_len, "token", &n);
  if (!t || n >= cap) bench_die("login answered without a token");
  memcpy(out, t, n);
  out[n] = '\0';
}

static void login(lg_conn_t *c, const char *tenant, const char *user, const char *password,
                  char *token, size_t cap) {
  char body[512];
  snprintf(body, sizeof body, "{\"tenant\":\"%s\",\"username\":\"%s\",\"password\":\"%s\"}",
           tenant, user, password);
  copy_token(call(c, "POST", "/v1/auth/login", NULL, body, 200), token, cap);
}

/* Tenant i: slug t<i>, database "db", collection "c". */
static void coll_path(uint32_t tenant, const char *coll, const char *suffix, char *out,
                      size_t len) {
  snprintf(out, len, "/v1/tenants/tn%u/databases/db/collections/%s%s", tenant, coll, suffix);
}

typedef struct {
  long long points, pending, memory_bytes, resident, m;
  char id[64];
} coll_info_t;

static coll_info_t coll_info(lg_conn_t *c, const char *token, uint32_t tenant, const char *coll) {
  char path[256];
  coll_path(tenant, coll, "", path, sizeof path);
  lg_response_t r = call(c, "GET", path, token, NULL, 200);
  coll_info_t ci = {lg_find_int(r.body, r.body_len, "points"),
                    lg_find_int(r.body, r.body_len, "pending"),
                    lg_find_int(r.body, r.body_len, "memory_bytes"), -1,
                    lg_find_int(r.body, r.body_len, "m"), ""};
  const char *res = memmem(r.body, r.body_len, "\"resident\":", 11);
  if (res) ci.resident = res[11] == 't';
  size_t n;
  const char *id = lg_find_string(r.body, r.body_len, "id", &n);
  if (id && n < sizeof ci.id) memcpy(ci.id, id, n), ci.id[n] = '\0';
  return ci;
}

static void create_collection(lg_conn_t *c, const char *token, uint32_t tenant,
                              const char *name, uint32_t dim, const char *metric) {
  char path[256], body[256];
  snprintf(path, sizeof path, "/v1/tenants/tn%u/databases/db/collections", tenant);
  snprintf(body, sizeof body, "{\"name\":\"%s\",\"dimension\":%u,\"metric\":\"%s\"}", name, dim,
           metric);
  call(c, "POST", path, token, body, 201);
}

/* Polls until "pending" is 0 (at most max_s); returns the seconds waited. */
static double wait_indexed(lg_conn_t *c, const char *token, uint32_t tenant, const char *coll,
                           double max_s, long long *pending_left) {
  double t0 = lg_now_us();
  for (;;) {
    coll_info_t ci = coll_info(c, token, tenant, coll);
    *pending_left = ci.pending;
    if (ci.pending == 0 || lg_now_us() - t0 > max_s * 1e6) return (lg_now_us() - t0) / 1e6;
    bench_sleep_ms(500);
  }
}

/* -------------------------------------------------------- shared state -- */

typedef struct {
  const char *done; /* the last phase finished; "all" once the run is complete */
  char cpu[256], kernel[256], version[256], config_budget[4096], config_hot[4096];
  long cores;
  double mem_total_mib;
  /* 1 */
  uint32_t tenants;
  double setup_s, admin_login_s;
  /* 2 */
  double budget_touch_s, budget_rss, budget_threads, budget_wait_s;
  uint32_t budget_touched, budget_failed, budget_fds;
  double hot_touch_s, hot_rss, hot_threads;
  uint32_t hot_touched, hot_failed, hot_fds;
  long long fd_limit;
  bool hot_stopped; /* the RSS guard stopped touching */
  long long m;
  double data_vec_mib, data_link_mib, data_payload_mib, data_mib;
  double stop_hot_s; /* SIGTERM of the all-hot server (final checkpoints) */
  long long sample_memory_bytes;
  /* 3 */
  double ready_first_s, ready_hot_s, ready_budget_s, ready_kill_s;
  /* 4 */
  dist_t warm, hot;
  size_t warm_errors, hot_errors;
  double warm_first_ms; /* warm search right after restart */
  /* 5 */
  uint32_t spread;
  double spread_pps, one_pps, spread_s, one_s;
  dist_t spread_ms, one_ms;
  /* 6 */
  uint32_t big768;
  double big768_ingest_s, big768_index_s, big768_unload_s, load_warm_s, load_cold_s;
  double load_warm_runs[LOAD_REPEATS]; /* each load from the page cache; load_warm_s: median */
  long long big768_memory, big768_pending;
  double big768_rss_before, big768_rss_indexed, big768_rss_unloaded; /* MiB */
  bool cold_dropped;
  char cold_note[256];
  double big768_disk_mib;
  /* 7 */
  uint32_t big128;
  double big128_ingest_s, big128_index_s, ckpt_wait_s;
  long long big128_pending, big128_memory;
  double threads_end;
  double ckpt_start_s, ckpt_end_s, ckpt_s; /* relative to the measured writes' start */
  bool ckpt_seen;
  dist_t up[3], up_in[3]; /* A, B (same tenant), C (tenant 1) */
  size_t up_errors[3];
  double up_worst_at_s[3]; /* when the slowest write was sent, s after the checkpoint began */
  double ckpt_file_mib;
  double stop_last_s;
} report_t;

typedef struct {
  uint32_t n;
  char (*token)[160]; /* per tenant */
} tenants_t;

/* -------------------------------------------------------------- setup -- */

typedef struct {
  const options_t *o;
  tenants_t *t;
  atomic_uint next;
} setup_job_t;

/* Creates tenant i, its admin user, logs in, its database, collection and points. */
static void setup_one(lg_conn_t *c, tenants_t *t, uint32_t i, char *buf) {
  char body[512], path[256];
  const char *admin = g_srv.admin_token, *pw = "bench-tenant-password-0123";
  snprintf(body, sizeof body,
           "{\"slug\":\"tn%u\",\"name\":\"Tenant %u\",\"quotas\":{\"max_memory_bytes\":0,"
           "\"max_storage_bytes\":0,\"max_qps\":0,\"max_collections\":0}}", i, i);
  call(c, "POST", "/v1/tenants", admin, body, 201);
  snprintf(path, sizeof path, "/v1/tenants/tn%u/users", i);
  snprintf(body, sizeof body, "{\"username\":\"owner\",\"role\":\"admin\",\"password\":\"%s\"}",
           pw);
  call(c, "POST", path, admin, body, 201);
  char slug[32];
  snprintf(slug, sizeof slug, "tn%u", i);
  login(c, slug, "owner", pw, t->token[i], sizeof t->token[i]);
  snprintf(path, sizeof path, "/v1/tenants/tn%u/databases", i);
  call(c, "POST", path, t->token[i], "{\"name\":\"db\"}", 201);
  create_collection(c, t->token[i], i, "c", DIM_TENANT, "cosine");
  size_t blen = encode_batch(buf, "p", i, 0, POINTS_PER_TENANT, DIM_TENANT, true);
  coll_path(i, "c", "/points", path, sizeof path);
  lg_response_t r = call_body(c, "POST", path, t->token[i], buf, blen);
  if (r.status != 200) bench_die("upsert into t%u answered %d: %.*s", i, r.status, (int)r.body_len,
                           r.body);
}

static void *setup_thread(void *arg) {
  setup_job_t *j = arg;
  char err[256];
  lg_conn_t c;
  if (lg_conn_open(&c, g_srv.port, err, sizeof err)) bench_die("%s", err);
  char *buf = bench_xmalloc(batch_bound(POINTS_PER_TENANT, DIM_TENANT));
  for (;;) {
    uint32_t i = atomic_fetch_add(&j->next, 1);
    if (i >= j->t->n) break;
    setup_one(&c, j->t, i, buf);
    if (i % 1000 == 999) printf("  %u tenants set up\n", i + 1), fflush(stdout);
  }
  free(buf);
  lg_conn_close(&c);
  return NULL;
}

/* Runs fn over `conns` threads and joins them. */
static void run_threads(uint32_t conns, void *(*fn)(void *), void *arg) {
  pthread_t th[MAX_CONNS];
  for (uint32_t i = 0; i < conns; i++)
    if (pthread_create(&th[i], NULL, fn, arg)) bench_die("pthread_create failed");
  for (uint32_t i = 0; i < conns; i++) pthread_join(th[i], NULL);
}

static void admin_login(void) {
  lg_conn_t c;
  char err[256];
  if (lg_conn_open(&c, g_srv.port, err, sizeof err)) bench_die("%s", err);
  login(&c, "", "admin", g_srv.password, g_srv.admin_token, sizeof g_srv.admin_token);
  lg_conn_close(&c);
}

static void phase_setup(const options_t *o, tenants_t *t, report_t *rep) {
  printf("setup: %u tenants over %u connections...\n", t->n, o->conns);
  fflush(stdout);
  setup_job_t j = {.o = o, .t = t};
  atomic_init(&j.next, 0);
  double t0 = lg_now_us();
  run_threads(o->conns, setup_thread, &j);
  rep->setup_s = (lg_now_us() - t0) / 1e6;
  printf("  setup took %.1f s\n", rep->setup_s);
}

/* -------------------------------------------------------------- touch -- */

typedef struct {
  tenants_t *t;
  uint32_t limit;
  double rss_limit_mib;
  atomic_uint next, done, failed;
  atomic_bool stop;
} touch_job_t;

/* The first non-200 search answer of the run (for the report). */
static pthread_mutex_t g_err_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_first_error[400];

static void note_error(uint32_t tenant, int status, const char *body, size_t len) {
  pthread_mutex_lock(&g_err_mu);
  if (!g_first_error[0])
    snprintf(g_first_error, sizeof g_first_error, "tn%u: %d %.*s", tenant, status,
             (int)(len > 300 ? 300 : len), body);
  pthread_mutex_unlock(&g_err_mu);
}

/* One search (k = 10) into tenant i's collection; returns the status. */
static int search_tenant(lg_conn_t *c, const tenants_t *t, uint32_t i, uint64_t q, double *ms) {
  char path[256], body[4096];
  coll_path(i, "c", "/search", path, sizeof path);
  encode_query(body, q, DIM_TENANT);
  char err[512];
  lg_response_t r;
  double t0 = lg_now_us();
  int rc = lg_conn_request(c, "POST", path, t->token[i], body, &r, err, sizeof err);
  if (ms) *ms = (lg_now_us() - t0) / 1e3;
  if (rc) bench_die("search in t%u: %s", i, err);
  if (r.status != 200) {
    fprintf(stderr, "  search in t%u answered %d: %.*s\n", i, r.status,
            (int)(r.body_len > 300 ? 300 : r.body_len), r.body);
    note_error(i, r.status, r.body, r.body_len);
  }
  return r.status;
}

static void *touch_thread(void *arg) {
  touch_job_t *j = arg;
  char err[256];
  lg_conn_t c;
  if (lg_conn_open(&c, g_srv.port, err, sizeof err)) bench_die("%s", err);
  while (!atomic_load(&j->stop)) {
    uint32_t i = atomic_fetch_add(&j->next, 1);
    if (i >= j->limit) break;
    if (search_tenant(&c, j->t, i, i, NULL) != 200) atomic_fetch_add(&j->failed, 1);
    uint32_t d = atomic_fetch_add(&j->done, 1) + 1;
    if (d % 250 == 0 && rss_mib(g_srv.pid) > j->rss_limit_mib) atomic_store(&j->stop, true);
  }
  lg_conn_close(&c);
  return NULL;
}

/* Searches every collection once (loading it); stops early when the server
 * passes the RSS guard. Returns the collections touched (searched), and in
 * *failed those whose search did not answer 200. */
static uint32_t touch_all(const options_t *o, tenants_t *t, double *seconds, bool *stopped,
                          uint32_t *failed) {
  touch_job_t j = {.t = t, .limit = t->n, .rss_limit_mib = o->rss_limit_mib};
  atomic_init(&j.next, 0);
  atomic_init(&j.done, 0);
  atomic_init(&j.failed, 0);
  atomic_init(&j.stop, false);
  double t0 = lg_now_us();
  run_threads(o->conns, touch_thread, &j);
  *seconds = (lg_now_us() - t0) / 1e6;
  *stopped = atomic_load(&j.stop);
  *failed = atomic_load(&j.failed);
  return atomic_load(&j.done);
}

/* Waits until RSS has not moved by more than 1% for 3 s (at most max_s). */
static double wait_rss_stable(double max_s) {
  double t0 = lg_now_us(), last = rss_mib(g_srv.pid);
  int still = 0;
  while (still < 6 && lg_now_us() - t0 < max_s * 1e6) {
    bench_sleep_ms(500);
    double now = rss_mib(g_srv.pid);
    still = fabs(now - last) <= 0.01 * last ? still + 1 : 0;
    last = now;
  }
  return (lg_now_us() - t0) / 1e6;
}

/* ------------------------------------------------------- data estimate -- */

/* The data's own size: vectors (dim x 4 bytes), HNSW links (layer 0: a
 * count and 2m ids of 4 bytes; upper layers: a point has 1/(m-1) upper
 * lists on average (levels ~ geometric with p = 1/m), each a count and m
 * ids), payload JSON bytes and ids. */
static void data_estimate(report_t *rep, uint32_t tenants) {
  double m = rep->m > 0 ? (double)rep->m : 16.0;
  double points = (double)tenants * POINTS_PER_TENANT;
  double links = 4.0 * (2 * m + 1) + 4.0 * (m + 1) / (m - 1);
  double payload = 0;
  for (uint32_t i = 0; i < POINTS_PER_TENANT; i++) {
    char id[32];
    payload += (double)payload_bytes(i) + (double)snprintf(id, sizeof id, "p%u", i);
  }
  rep->data_vec_mib = points * DIM_TENANT * 4.0 / MIB;
  rep->data_link_mib = points * links / MIB;
  rep->data_payload_mib = payload * tenants / MIB;
  rep->data_mib = rep->data_vec_mib + rep->data_link_mib + rep->data_payload_mib;
}

/* -------------------------------------------------- phase 2: residency -- */

static void phase_budget(const options_t *o, tenants_t *t, report_t *rep) {
  bool stopped;
  printf("budget 256 MiB: touching every collection...\n");
  fflush(stdout);
  rep->budget_touched = touch_all(o, t, &rep->budget_touch_s, &stopped, &rep->budget_failed);
  rep->budget_wait_s = wait_rss_stable(60);
  rep->budget_rss = rss_mib(g_srv.pid);
  rep->budget_threads = proc_status(g_srv.pid, "Threads");
  rep->budget_fds = open_fds(g_srv.pid);
  printf("  RSS %.0f MiB, %.0f threads (touch %.1f s, settled %.1f s)\n", rep->budget_rss,
         rep->budget_threads, rep->budget_touch_s, rep->budget_wait_s);
}

static void phase_hot(const options_t *o, tenants_t *t, report_t *rep) {
  printf("all hot: touching every collection...\n");
  fflush(stdout);
  rep->hot_touched = touch_all(o, t, &rep->hot_touch_s, &rep->hot_stopped, &rep->hot_failed);
  wait_rss_stable(30);
  rep->hot_rss = rss_mib(g_srv.pid);
  rep->hot_threads = proc_status(g_srv.pid, "Threads");
  rep->hot_fds = open_fds(g_srv.pid);
  rep->fd_limit = fd_limit(g_srv.pid);
  lg_conn_t c;
  char err[256];
  if (lg_conn_open(&c, g_srv.port, err, sizeof err)) bench_die("%s", err);
  coll_info_t ci = coll_info(&c, t->token[0], 0, "c");
  rep->m = ci.m;
  rep->sample_memory_bytes = ci.memory_bytes;
  lg_conn_close(&c);
  printf("  RSS %.0f MiB, %.0f threads, %u fds, %u touched, %u failed%s\n", rep->hot_rss,
         rep->hot_threads, rep->hot_fds, rep->hot_touched, rep->hot_failed,
         rep->hot_stopped ? " (stopped by the RSS guard)" : "");
}

/* Upserts 10 points into each of the first n tenants (writes before kill -9). */
static void write_some(tenants_t *t, uint32_t n) {
  lg_conn_t c;
  char err[256], path[256];
  if (lg_conn_open(&c, g_srv.port, err, sizeof err)) bench_die("%s", err);
  char *buf = bench_xmalloc(batch_bound(10, DIM_TENANT));
  for (uint32_t i = 0; i < n && i < t->n; i++) {
    size_t blen = encode_batch(buf, "w", i, 0, 10, DIM_TENANT, true);
    coll_path(i, "c", "/points", path, sizeof path);
    lg_response_t r = call_body(&c, "POST", path, t->token[i], buf, blen);
    if (r.status != 200) bench_die("upsert into t%u answered %d", i, r.status);
  }
  free(buf);
  lg_conn_close(&c);
}

/* ---------------------------------------------------- phase 4: search -- */

/* p50/p99 of single searches into `n` random distinct tenants (each a
 * first use after the restart, so it includes the collection's load). */
static void phase_warm_search(const options_t *o, tenants_t *t, report_t *rep) {
  uint32_t n = o->warm_queries < t->n ? o->warm_queries : t->n;
  uint32_t *order = bench_xmalloc(t->n * sizeof *order);
  for (uint32_t i = 0; i < t->n; i++) order[i] = i;
  uint64_t s = SEED;
  for (uint32_t i = t->n - 1; i > 0; i--) { /* Fisher-Yates, seeded */
    uint32_t k = (uint32_t)(splitmix64(&s) % (i + 1));
    uint32_t tmp = order[i];
    order[i] = order[k];
    order[k] = tmp;
  }
  lg_conn_t c;
  char err[256];
  if (lg_conn_open(&c, g_srv.port, err, sizeof err)) bench_die("%s", err);
  double *ms = bench_xmalloc(n * sizeof *ms);
  size_t ok = 0;
  for (uint32_t q = 0; q < n; q++) {
    double lat;
    if (search_tenant(&c, t, order[q], q, &lat) == 200) ms[ok++] = lat;
    else rep->warm_errors++;
    if (q == 0) rep->warm_first_ms = lat;
  }
  rep->warm = summarise(ms, ok);
  /* hot: the last of them, now resident */
  uint32_t hot = order[n - 1];
  double *hms = bench_xmalloc(o->hot_queries * sizeof *hms);
  size_t hok = 0;
  for (uint32_t q = 0; q < 100; q++) search_tenant(&c, t, hot, 1000000 + q, NULL); /* warm-up */
  for (uint32_t q = 0; q < o->hot_queries; q++) {
    double lat;
    if (search_tenant(&c, t, hot, 2000000 + q, &lat) == 200) hms[hok++] = lat;
    else rep->hot_errors++;
  }
  rep->hot = summarise(hms, hok);
  lg_conn_close(&c);
  free(order);
  free(ms);
  free(hms);
  printf("  warm search p50 %.2f ms p99 %.2f ms; hot p50 %.3f ms p99 %.3f ms\n", rep->warm.p50,
         rep->warm.p99, rep->hot.p50, rep->hot.p99);
}

/* ---------------------------------------------------- phase 5: ingest -- */

typedef struct {
  tenants_t *t;
  char **body;
  size_t *len;
  uint32_t n; /* batches */
  bool spread; /* batch b into tenant b's collection, else all into t0/"one" */
  atomic_uint next;
  double *ms;
  pthread_mutex_t mu;
  double first, last;
} spread_job_t;

static void *spread_thread(void *arg) {
  spread_job_t *j = arg;
  char err[256], path[256];
  lg_conn_t c;
  if (lg_conn_open(&c, g_srv.port, err, sizeof err)) bench_die("%s", err);
  double first = -1, last = 0;
  for (;;) {
    uint32_t b = atomic_fetch_add(&j->next, 1);
    if (b >= j->n) break;
    uint32_t tenant = j->spread ? b : 0;
    coll_path(tenant, j->spread ? "c" : "one", "/points", path, sizeof path);
    double t0 = lg_now_us();
    lg_response_t r = call_body(&c, "POST", path, j->t->token[tenant], j->body[b], j->len[b]);
    if (r.status != 200) bench_die("upsert into %s answered %d: %.*s", path, r.status,
                             (int)(r.body_len > 300 ? 300 : r.body_len), r.body);
    last = lg_now_us();
    if (first < 0) first = t0;
    j->ms[b] = (last - t0) / 1e3;
  }
  lg_conn_close(&c);
  pthread_mutex_lock(&j->mu);
  if (first >= 0 && (j->first < 0 || first < j->first)) j->first = first;
  if (last > j->last) j->last = last;
  pthread_mutex_unlock(&j->mu);
  return NULL;
}

/* Sends every batch (spread or into one); returns points/s. */
static double spread_run(const options_t *o, tenants_t *t, char **body, size_t *len, uint32_t n,
                         bool spread, double *seconds, dist_t *d) {
  spread_job_t j = {.t = t, .body = body, .len = len, .n = n, .spread = spread, .first = -1};
  j.ms = bench_xmalloc(n * sizeof *j.ms);
  atomic_init(&j.next, 0);
  pthread_mutex_init(&j.mu, NULL);
  run_threads(o->conns, spread_thread, &j);
  pthread_mutex_destroy(&j.mu);
  *seconds = (j.last - j.first) / 1e6;
  *d = summarise(j.ms, n);
  free(j.ms);
  return (double)n * POINTS_PER_TENANT / *seconds;
}

static void phase_spread(const options_t *o, tenants_t *t, report_t *rep) {
  uint32_t n = o->spread < t->n ? o->spread : t->n;
  rep->spread = n;
  char **body = bench_xmalloc(n * sizeof *body);
  size_t *len = bench_xmalloc(n * sizeof *len);
  for (uint32_t b = 0; b < n; b++) { /* encoded before any timing */
    body[b] = bench_xmalloc(batch_bound(POINTS_PER_TENANT, DIM_TENANT));
    char prefix[32];
    snprintf(prefix, sizeof prefix, "x%u_", b);
    len[b] = encode_batch(body[b], prefix, 777000 + b, 0, POINTS_PER_TENANT, DIM_TENANT, true);
  }
  lg_conn_t c;
  char err[256];
  if (lg_conn_open(&c, g_srv.port, err, sizeof err)) bench_die("%s", err);
  for (uint32_t i = 0; i < n; i++) search_tenant(&c, t, i, i, NULL); /* all resident first */
  create_collection(&c, t->token[0], 0, "one", DIM_TENANT, "cosine");
  lg_conn_close(&c);
  printf("ingest: %u batches of 100 spread over %u collections, then into one...\n", n, n);
  fflush(stdout);
  rep->spread_pps = spread_run(o, t, body, len, n, true, &rep->spread_s, &rep->spread_ms);
  bench_sleep_ms(2000);
  rep->one_pps = spread_run(o, t, body, len, n, false, &rep->one_s, &rep->one_ms);
  printf("  spread %.0f points/s, one %.0f points/s\n", rep->spread_pps, rep->one_pps);
  for (uint32_t b = 0; b < n; b++) free(body[b]);
  free(body);
  free(len);
}

/* ---------------------------------------------- big ingest (6 and 7) -- */

typedef struct {
  const char *token, *coll, *prefix;
  uint32_t tenant, dim, batch;
  uint64_t stream, first, points;
  atomic_ulong next; /* next batch */
} bulk_job_t;

static void *bulk_thread(void *arg) {
  bulk_job_t *j = arg;
  char err[256], path[256];
  lg_conn_t c;
  if (lg_conn_open(&c, g_srv.port, err, sizeof err)) bench_die("%s", err);
  char *buf = bench_xmalloc(batch_bound(j->batch, j->dim));
  uint64_t batches = (j->points + j->batch - 1) / j->batch;
  coll_path(j->tenant, j->coll, "/points", path, sizeof path);
  for (;;) {
    uint64_t b = atomic_fetch_add(&j->next, 1);
    if (b >= batches) break;
    uint64_t first = j->first + b * j->batch, left = j->points - b * j->batch;
    size_t n = left < j->batch ? (size_t)left : j->batch;
    size_t blen = encode_batch(buf, j->prefix, j->stream, first, n, j->dim, false);
    for (int attempt = 0;; attempt++) { /* 429: backpressure, retry after a pause */
      lg_response_t r = call_body(&c, "POST", path, j->token, buf, blen);
      if (r.status == 200) break;
      if (r.status != 429 || attempt > 600)
        bench_die("upsert into %s answered %d: %.*s", path, r.status,
            (int)(r.body_len > 300 ? 300 : r.body_len), r.body);
      bench_sleep_ms(500);
    }
  }
  free(buf);
  lg_conn_close(&c);
  return NULL;
}

/* Upserts `points` generated points (batch 1000) into `tenant`'s `coll`. */
static double bulk_ingest(const options_t *o, const tenants_t *t, uint32_t tenant,
                          const char *coll, const char *prefix, uint32_t dim, uint64_t stream,
                          uint64_t first, uint64_t points, uint32_t batch) {
  bulk_job_t j = {.token = t->token[tenant], .tenant = tenant, .coll = coll, .prefix = prefix,
                  .dim = dim,
                  .batch = batch, .stream = stream, .first = first, .points = points};
  atomic_init(&j.next, 0);
  double t0 = lg_now_us();
  run_threads(o->conns < 4 ? o->conns : 4, bulk_thread, &j);
  return (lg_now_us() - t0) / 1e6;
}

/* PATCH tier; returns seconds. */
static double patch_tier(lg_conn_t *c, const char *token, const char *coll, const char *tier) {
  char path[256], body[64];
  coll_path(0, coll, "", path, sizeof path);
  snprintf(body, sizeof body, "{\"tier\":\"%s\"}", tier);
  double t0 = lg_now_us();
  call(c, "PATCH", path, token, body, 200);
  return (lg_now_us() - t0) / 1e6;
}

/* One timed search (k = 10) into tenant 0's `coll`; seconds. */
static double first_search(lg_conn_t *c, const char *token, const char *coll, uint32_t dim) {
  char path[256];
  char *body = bench_xmalloc(64 + (size_t)dim * 8);
  coll_path(0, coll, "/search", path, sizeof path);
  encode_query(body, 99, dim);
  double t0 = lg_now_us();
  call(c, "POST", path, token, body, 200);
  double s = (lg_now_us() - t0) / 1e6;
  free(body);
  return s;
}

static bool drop_caches(char *note, size_t len) {
  sync();
  int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
  if (fd < 0 || write(fd, "3\n", 2) != 2) {
    snprintf(note, len, "dropping the page cache was not permitted (%s)", strerror(errno));
    if (fd >= 0) close(fd);
    return false;
  }
  close(fd);
  snprintf(note, len, "page cache dropped (`sync; echo 3 > /proc/sys/vm/drop_caches`)");
  return true;
}

static void phase_big768(const options_t *o, tenants_t *t, report_t *rep) {
  const char *tok = t->token[0];
  lg_conn_t c;
  char err[256];
  if (lg_conn_open(&c, g_srv.port, err, sizeof err)) bench_die("%s", err);
  rep->big768 = o->big768;
  create_collection(&c, tok, 0, "big768", 768, "cosine");
  printf("warm load: ingesting %u x 768...\n", o->big768);
  fflush(stdout);
  rep->big768_rss_before = rss_mib(g_srv.pid);
  rep->big768_ingest_s = bulk_ingest(o, t, 0, "big768", "b", 768, 768768, 0, o->big768, 1000);
  rep->big768_index_s = wait_indexed(&c, tok, 0, "big768", 1200, &rep->big768_pending);
  rep->big768_memory = coll_info(&c, tok, 0, "big768").memory_bytes;
  wait_rss_stable(10);
  rep->big768_rss_indexed = rss_mib(g_srv.pid);
  rep->big768_unload_s = patch_tier(&c, tok, "big768", "warm");
  wait_rss_stable(10);
  rep->big768_rss_unloaded = rss_mib(g_srv.pid);
  coll_info_t ci = coll_info(&c, tok, 0, "big768");
  if (ci.resident == 1) fprintf(stderr, "  big768 still resident after PATCH tier warm\n");
  char dir[PATH_MAX * 2];
  snprintf(dir, sizeof dir, "%s/collections/%s", g_srv.data, ci.id);
  rep->big768_disk_mib = (double)dir_bytes(dir) / MIB;
  for (int i = 0; i < LOAD_REPEATS; i++) { /* unload again, load again */
    rep->load_warm_runs[i] = first_search(&c, tok, "big768", 768);
    patch_tier(&c, tok, "big768", "warm");
  }
  double sorted[LOAD_REPEATS];
  memcpy(sorted, rep->load_warm_runs, sizeof sorted);
  qsort(sorted, LOAD_REPEATS, sizeof *sorted, bench_cmp_double);
  rep->load_warm_s = sorted[LOAD_REPEATS / 2];
  rep->cold_dropped = drop_caches(rep->cold_note, sizeof rep->cold_note);
  if (rep->cold_dropped) rep->load_cold_s = first_search(&c, tok, "big768", 768);
  printf("  load from page cache %.3f s, after drop %.3f s (%s)\n", rep->load_warm_s,
         rep->load_cold_s, rep->cold_note);
  patch_tier(&c, tok, "big768", "warm"); /* out of the way of phase 7 */
  lg_conn_close(&c);
}

/* ------------------------------------------- phase 7: checkpoint stall -- */

typedef struct {
  const char *token, *coll, *prefix;
  uint32_t tenant;
  uint64_t stream;
  atomic_bool *stop;
  double *t_us, *ms; /* send instant, latency */
  size_t n, cap, errors;
} writer_t;

static void *writer_thread(void *arg) {
  writer_t *w = arg;
  char err[256], path[256];
  lg_conn_t c;
  if (lg_conn_open(&c, g_srv.port, err, sizeof err)) bench_die("%s", err);
  char *buf = bench_xmalloc(batch_bound(100, 128));
  coll_path(w->tenant, w->coll, "/points", path, sizeof path);
  while (!atomic_load(w->stop) && w->n < w->cap) {
    size_t blen = encode_batch(buf, w->prefix, w->stream, w->n * 100, 100, 128, false);
    double t0 = lg_now_us();
    lg_response_t r = call_body(&c, "POST", path, w->token, buf, blen);
    double t1 = lg_now_us();
    if (r.status != 200) w->errors++;
    w->t_us[w->n] = t0;
    w->ms[w->n++] = (t1 - t0) / 1e3;
  }
  free(buf);
  lg_conn_close(&c);
  return NULL;
}

/* Latencies of the writes that overlapped [from, to] (µs instants). */
static dist_t window_dist(const writer_t *w, double from, double to) {
  double *ms = bench_xmalloc((w->n ? w->n : 1) * sizeof *ms);
  size_t k = 0;
  for (size_t i = 0; i < w->n; i++)
    if (w->t_us[i] <= to && w->t_us[i] + w->ms[i] * 1e3 >= from) ms[k++] = w->ms[i];
  dist_t d = summarise(ms, k);
  free(ms);
  return d;
}

/* Seconds since the newest checkpoint-*.akc in dir was written (its
 * mtime), or -1 when there is none. */
static double newest_checkpoint_age_s(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  double newest = -1;
  struct dirent *e;
  char path[PATH_MAX * 4 + 512];
  while ((e = readdir(d))) {
    struct stat st;
    if (strncmp(e->d_name, "checkpoint-", 11) != 0) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (stat(path, &st) != 0) continue;
    double t = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9;
    if (t > newest) newest = t;
  }
  closedir(d);
  if (newest < 0) return -1;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return (double)now.tv_sec + (double)now.tv_nsec / 1e9 - newest;
}

/* Waits until ~lead_s before A's next time-driven checkpoint: the store
 * checkpoints a collection with unsaved writes checkpoint_interval_s
 * (300 s, store.h) after its last checkpoint ended (maintain.c), and the
 * measured writers' own writes are unsaved. Returns the seconds waited. */
static double wait_for_checkpoint_slot(const char *dir, double created_us, double lead_s,
                                       report_t *rep) {
  char tmp[PATH_MAX * 3];
  snprintf(tmp, sizeof tmp, "%s/checkpoint.tmp", dir);
  double t0 = lg_now_us();
  for (;;) {
    while (file_exists(tmp)) bench_sleep_ms(20); /* one in progress: the next is 300 s after it */
    double age = newest_checkpoint_age_s(dir);
    if (age < 0) age = (lg_now_us() - created_us) / 1e6;
    double left = CKPT_INTERVAL_S - age - lead_s;
    rep->ckpt_wait_s = (lg_now_us() - t0) / 1e6;
    if (left <= 0) return rep->ckpt_wait_s;
    bench_sleep_ms(left > 1.0 ? 1000 : (long)(left * 1000) + 1);
  }
}

typedef struct {
  const char *tmp;
  atomic_bool *stop;
  double start_us, end_us;
} watcher_t;

/* Polls for checkpoint.tmp every 1 ms: its first appearance and disappearance. */
static void *watch_thread(void *arg) {
  watcher_t *w = arg;
  w->start_us = w->end_us = -1;
  while (!atomic_load(w->stop)) {
    bool there = file_exists(w->tmp);
    double now = lg_now_us();
    if (there && w->start_us < 0) w->start_us = now;
    if (!there && w->start_us >= 0 && w->end_us < 0) w->end_us = now;
    bench_sleep_ms(1);
  }
  return NULL;
}

static void writer_init(writer_t *w, const tenants_t *t, uint32_t tenant, const char *coll,
                        uint64_t stream, atomic_bool *stop) {
  *w = (writer_t){.token = t->token[tenant], .tenant = tenant, .coll = coll, .prefix = "m",
                  .stream = stream, .stop = stop, .cap = 200000};
  w->t_us = bench_xmalloc(w->cap * sizeof *w->t_us);
  w->ms = bench_xmalloc(w->cap * sizeof *w->ms);
}

/* Measured writers into A and B; stops 1 s after the checkpoint ended
 * (or after 90 s without one). */
static void measure_writers(const tenants_t *t, const char *dir, report_t *rep) {
  char tmp[PATH_MAX * 3];
  snprintf(tmp, sizeof tmp, "%s/checkpoint.tmp", dir);
  atomic_bool stop, wstop;
  atomic_init(&stop, false);
  atomic_init(&wstop, false);
  writer_t w[3];
  writer_init(&w[0], t, 0, "ckptA", 5151, &stop);
  writer_init(&w[1], t, 0, "ckptB", 5252, &stop);
  writer_init(&w[2], t, 1, "ckptC", 5353, &stop);
  watcher_t wt = {.tmp = tmp, .stop = &wstop};
  pthread_t tw, tws[3];
  double t0 = lg_now_us();
  if (pthread_create(&tw, NULL, watch_thread, &wt)) bench_die("pthread_create failed");
  for (int i = 0; i < 3; i++)
    if (pthread_create(&tws[i], NULL, writer_thread, &w[i])) bench_die("pthread_create failed");
  while (lg_now_us() - t0 < 90e6 && !(wt.end_us > 0 && lg_now_us() - wt.end_us > 1e6))
    bench_sleep_ms(20);
  atomic_store(&stop, true);
  for (int i = 0; i < 3; i++) pthread_join(tws[i], NULL);
  atomic_store(&wstop, true);
  pthread_join(tw, NULL);
  rep->ckpt_seen = wt.start_us > 0;
  double end = wt.end_us > 0 ? wt.end_us : lg_now_us();
  rep->ckpt_start_s = rep->ckpt_seen ? (wt.start_us - t0) / 1e6 : -1;
  rep->ckpt_end_s = (end - t0) / 1e6;
  rep->ckpt_s = rep->ckpt_seen ? (end - wt.start_us) / 1e6 : 0;
  for (int i = 0; i < 3; i++) {
    size_t worst = 0;
    for (size_t k = 1; k < w[i].n; k++)
      if (w[i].ms[k] > w[i].ms[worst]) worst = k;
    rep->up_worst_at_s[i] =
        w[i].n && rep->ckpt_seen ? (w[i].t_us[worst] - wt.start_us) / 1e6 : 0;
    if (rep->ckpt_seen) rep->up_in[i] = window_dist(&w[i], wt.start_us, end);
    rep->up[i] = summarise(w[i].ms, w[i].n);
    rep->up_errors[i] = w[i].errors;
    free(w[i].t_us);
    free(w[i].ms);
  }
}

static void phase_checkpoint(const options_t *o, tenants_t *t, report_t *rep) {
  const char *tok = t->token[0];
  lg_conn_t c;
  char err[256];
  if (lg_conn_open(&c, g_srv.port, err, sizeof err)) bench_die("%s", err);
  rep->big128 = o->big128;
  double created_us = lg_now_us();
  create_collection(&c, tok, 0, "ckptA", 128, "l2");
  create_collection(&c, tok, 0, "ckptB", 128, "l2");
  create_collection(&c, t->token[1], 1, "ckptC", 128, "l2");
  printf("checkpoint stall: ingesting %u x 128 into A...\n", o->big128);
  fflush(stdout);
  bulk_ingest(o, t, 0, "ckptB", "p", 128, 129129, 0, 10000, 1000);
  bulk_ingest(o, t, 1, "ckptC", "p", 128, 130130, 0, 10000, 1000);
  rep->big128_ingest_s = bulk_ingest(o, t, 0, "ckptA", "p", 128, 128128, 0, o->big128, 1000);
  rep->big128_index_s = wait_indexed(&c, tok, 0, "ckptA", o->quick ? 300 : 900,
                                     &rep->big128_pending);
  coll_info_t ci = coll_info(&c, tok, 0, "ckptA");
  rep->big128_memory = ci.memory_bytes;
  lg_conn_close(&c);
  char dir[PATH_MAX * 2];
  snprintf(dir, sizeof dir, "%s/collections/%s", g_srv.data, ci.id);
  printf("  indexed; waiting for A's next time-driven checkpoint...\n");
  fflush(stdout);
  wait_for_checkpoint_slot(dir, created_us, 5.0, rep);
  measure_writers(t, dir, rep);
  rep->ckpt_file_mib = (double)dir_bytes(dir) / MIB;
  printf("  checkpoint %s: %.2f s; max A %.1f ms, B %.1f ms, C %.1f ms\n",
         rep->ckpt_seen ? "seen" : "NOT seen", rep->ckpt_s, rep->up[0].max, rep->up[1].max,
         rep->up[2].max);
}

/* -------------------------------------------------------------- report -- */

static const char *yes_no(bool met) { return met ? "yes" : "**no**"; }

static void write_header(FILE *f, const report_t *r, const options_t *o) {
  time_t now = time(NULL);
  char date[64];
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
  fprintf(f, "# Many tenants: residency, tiers and restarts (AkiDB over REST)\n\n");
  fprintf(f, "- Date: %s%s\n", date,
          o->quick ? " — **--quick smoke run: smaller sizes, not the real figures**" : "");
  fprintf(f, "- Command: `%s` (build %s)\n", o->command, TENANTS_BENCH_BUILD_TYPE);
  fprintf(f, "- Machine: %s, %ld cores online, %.0f MiB RAM; %s. The server and this driver "
             "share the cores (loopback TCP).\n", r->cpu, r->cores, r->mem_total_mib, r->kernel);
  if (strcmp(r->done, "all") != 0)
    fprintf(f, "- **Incomplete: this report was written after phase \"%s\"; later figures are "
               "zero.**\n", r->done);
  fprintf(f, "- AkiDB: `%s`.\n", r->version);
  fprintf(f, "- Server: started by the driver as `akidb serve --config <scratch>/config.toml` "
             "(its own data directory, 127.0.0.1, a free port, durability `fsync`, "
             "`AKIDB_ADMIN_PASSWORD` set by the driver). Settings passed: `[server] threads = "
             "%u` (HTTP), `[storage] worker_threads = %u`, `[tiering] check_interval_ms = %u`; "
             "`memory_budget_bytes` = %llu (256 MiB) for the budget run, 0 otherwise; "
             "`warm_after_s` = %u (nothing goes warm by idleness during the run).\n\n",
          HTTP_THREADS, WORKER_THREADS, CHECK_INTERVAL_MS, (unsigned long long)BUDGET_BYTES,
          WARM_AFTER_LONG_S);
}

static void write_acceptance(FILE *f, const report_t *r, const options_t *o) {
  double hot_bound = TARGET_HOT_FACTOR * r->data_mib + TARGET_HOT_EXTRA_MIB;
  double thr_bound = WORKER_THREADS + HTTP_THREADS + TARGET_THREADS_EXTRA;
  double worst_threads = r->hot_threads > r->budget_threads ? r->hot_threads : r->budget_threads;
  fprintf(f, "## Acceptance (issue 11)\n\n| target | measured | met |\n|---|---|---|\n");
  fprintf(f, "| RSS with the 256 MiB budget, %u collections touched ≤ %.0f MiB | %.0f MiB "
             "(%u searches failed) | %s |\n",
          r->budget_touched, TARGET_BUDGET_RSS_MIB, r->budget_rss, r->budget_failed,
          yes_no(r->budget_rss <= TARGET_BUDGET_RSS_MIB && r->budget_touched == r->tenants &&
                 !r->budget_failed));
  fprintf(f, "| RSS all hot ≤ 1.3 × data (%.0f MiB) + 100 MiB = %.0f MiB | %.0f MiB%s%s | %s |\n",
          r->data_mib, hot_bound, r->hot_rss,
          r->hot_stopped ? " (**only part of the collections loaded: RSS guard**)" : "",
          r->hot_failed ? " (**not all hot: some collections failed to load, section 2**)" : "",
          yes_no(r->hot_rss <= hot_bound && !r->hot_stopped && !r->hot_failed));
  fprintf(f, "| threads ≤ workers %u + HTTP %u + 8 = %.0f | %.0f all hot, %.0f with budget | %s |\n",
          WORKER_THREADS, HTTP_THREADS, thr_bound, r->hot_threads, r->budget_threads,
          yes_no(worst_threads <= thr_bound));
  fprintf(f, "| kill -9 → `/ready` < %.0f s (%u collections on disk) | %.3f s | %s |\n",
          TARGET_READY_S, r->tenants, r->ready_kill_s, yes_no(r->ready_kill_s < TARGET_READY_S));
  fprintf(f, "| warm-collection search p99 < %.0f ms | %.2f ms (%zu errors) | %s |\n",
          TARGET_WARM_P99_MS, r->warm.p99, r->warm_errors,
          yes_no(r->warm.p99 < TARGET_WARM_P99_MS && r->warm_errors == 0));
  fprintf(f, "| hot-collection search p99 < %.0f ms | %.3f ms (%zu errors) | %s |\n",
          TARGET_HOT_P99_MS, r->hot.p99, r->hot_errors,
          yes_no(r->hot.p99 < TARGET_HOT_P99_MS && r->hot_errors == 0));
  fprintf(f, "| warm %u × 768 collection loaded < %.0f s from the page cache | %.3f s (median "
             "of 3) | %s |\n",
          r->big768, TARGET_LOAD768_S, r->load_warm_s, yes_no(r->load_warm_s < TARGET_LOAD768_S));
  double mx = 0;
  size_t errs = 0;
  for (int i = 0; i < 3; i++) {
    if (r->up[i].max > mx) mx = r->up[i].max;
    errs += r->up_errors[i];
  }
  fprintf(f, "| max upsert latency during the %u × 128 checkpoint < %.0f ms | %.1f ms (max of "
             "the whole measured run: A %.1f, B %.1f, C %.1f)%s | %s |\n\n",
          r->big128, TARGET_UPSERT_MAX_MS, mx, r->up[0].max, r->up[1].max, r->up[2].max,
          r->ckpt_seen ? "" : " — **no checkpoint was seen**",
          yes_no(mx < TARGET_UPSERT_MAX_MS && r->ckpt_seen && !errs));
  if (o->quick)
    fprintf(f, "This is a `--quick` run: the sizes are smaller than the targets assume, so the "
               "table only shows that every phase works.\n\n");
}

static void write_setup(FILE *f, const report_t *r, const options_t *o) {
  fprintf(f, "## 1. Setup over REST\n\n"
             "%u tenants, each: `POST /v1/tenants` and `POST /v1/tenants/{t}/users` (a tenant "
             "admin with a password; the system admin has no data-plane rights, docs/rest-api.md) "
             "by the system admin, `POST /v1/auth/login` as that user, `POST .../databases`, "
             "`POST .../collections` (384-d cosine, default index settings) and one upsert of "
             "100 points with payloads `{\"i\": n, \"tag\": \"t<n mod 97>\"}`; vectors uniform "
             "in (−1, 1) from a seeded splitmix64, written with 4 decimals. %u keep-alive "
             "connections in parallel threads (a shared counter hands out tenants). Server: the "
             "256 MiB budget settings.\n\n"
             "| tenants | seconds | tenants/s |\n|--:|--:|--:|\n| %u | %.1f | %.1f |\n\n"
             "Each tenant costs two Argon2id hashes (user creation and login) on the server; "
             "they dominate this figure.\n\n",
          r->tenants, o->conns, r->tenants, r->setup_s, r->tenants / r->setup_s);
}

static void write_memory(FILE *f, const report_t *r) {
  fprintf(f, "## 2. Memory and threads\n\n"
             "RSS = `VmRSS` and threads = `Threads` of /proc/<pid>/status of the server. "
             "\"Touch\" = one search (k = 10) into every collection, 4 connections; failed = "
             "searches not answered 200 (the collection could not be loaded). fds = entries "
             "of /proc/<pid>/fd; the server's soft limit of open files was %lld.\n\n"
             "| server | collections touched | failed | touch (s) | RSS (MiB) | threads | fds |\n"
             "|---|--:|--:|--:|--:|--:|--:|\n",
          r->fd_limit);
  fprintf(f, "| budget 0, all hot | %u%s | %u | %.1f | %.0f | %.0f | %u |\n",
          r->hot_touched, r->hot_stopped ? " (stopped: RSS guard)" : "", r->hot_failed,
          r->hot_touch_s, r->hot_rss, r->hot_threads, r->hot_fds);
  fprintf(f, "| budget 256 MiB (RSS read once it was stable for 3 s: %.1f s after the touch) "
             "| %u | %u | %.1f | %.0f | %.0f | %u |\n\n",
          r->budget_wait_s, r->budget_touched, r->budget_failed, r->budget_touch_s,
          r->budget_rss, r->budget_threads, r->budget_fds);
  if (g_first_error[0])
    fprintf(f, "First failed answer of the run: `%s`\n\n", g_first_error);
  fprintf(f, "Per collection when all hot: %.1f KiB of RSS; `memory_bytes` of one 100-point "
             "collection (GET): %lld bytes.\n\n",
          r->hot_touched ? r->hot_rss * 1024.0 / r->hot_touched : 0, r->sample_memory_bytes);
  fprintf(f, "The data's own size, computed by the driver: vectors %u × 100 × 384 × 4 bytes = "
             "%.1f MiB; HNSW links (m = %lld: layer 0 holds a count and 2m 4-byte ids per "
             "point, the upper layers on average (m+1)×4/(m−1) bytes per point) = %.1f MiB; "
             "payloads and ids as JSON bytes = %.1f MiB; total **%.1f MiB**.\n\n",
          r->tenants, r->data_vec_mib, r->m, r->data_link_mib, r->data_payload_mib, r->data_mib);
  if (r->hot_stopped)
    fprintf(f, "**The all-hot touch was stopped by the driver's RSS guard** (the server passed "
               "the limit set to protect the shared machine), so not every collection was "
               "loaded; the RSS shown is for the collections loaded by then.\n\n");
}

static void write_restart_search(FILE *f, const report_t *r) {
  fprintf(f, "## 3. Restarts (time from spawn to the first `GET /ready` = 200, polled every "
             "2 ms)\n\nServers of this run, in order: setup (budget settings) → SIGTERM → all "
             "hot → SIGTERM → budget → upserts of 10 points into 100 collections → kill -9 → "
             "phases 4–7 (budget 0).\n\n"
             "| start | collections on disk | seconds |\n|---|--:|--:|\n"
             "| first start (empty) | 0 | %.3f |\n"
             "| all hot, after SIGTERM of the setup server | %u | %.3f |\n"
             "| budget, after SIGTERM of the all-hot server (which took %.1f s to stop: final "
             "checkpoints of every resident collection) | %u | %.3f |\n"
             "| **after kill -9** of the budget server | %u | **%.3f** |\n\n",
          r->ready_first_s, r->tenants, r->ready_hot_s, r->stop_hot_s, r->tenants,
          r->ready_budget_s, r->tenants, r->ready_kill_s);
  fprintf(f, "## 4. Search latency (k = 10, one connection, sequential, send to last byte)\n\n"
             "- warm: right after the kill -9 restart nothing is resident; %zu queries, each to "
             "a different random collection (seeded shuffle), so each includes that "
             "collection's load (and the replay of its log when it had writes after its last "
             "checkpoint). First query after the restart: %.2f ms.\n"
             "- hot: the last of those collections, now resident: 100 warm-up queries, then "
             "%zu timed.\n\n"
             "| collection | queries | p50 (ms) | p99 (ms) | max (ms) | mean (ms) | errors |\n"
             "|---|--:|--:|--:|--:|--:|--:|\n"
             "| warm (includes load) | %zu | %.2f | %.2f | %.2f | %.2f | %zu |\n"
             "| hot | %zu | %.3f | %.3f | %.3f | %.3f | %zu |\n\n",
          r->warm.n, r->warm_first_ms, r->hot.n, r->warm.n, r->warm.p50, r->warm.p99,
          r->warm.max, r->warm.mean, r->warm_errors, r->hot.n, r->hot.p50, r->hot.p99, r->hot.max,
          r->hot.mean, r->hot_errors);
}

static void write_ingest(FILE *f, const report_t *r, const options_t *o) {
  fprintf(f, "## 5. Ingest: spread over %u collections vs. into one\n\n"
             "%u batches of 100 points × 384-d (with payloads), encoded before timing, sent "
             "from %u keep-alive connections (a shared counter hands out batches). Spread: "
             "batch b goes to tenant b's collection (each resident beforehand, each with its "
             "own tenant token); one: every batch into one new collection of tenant 0. "
             "points/s = points ÷ (last answer − first send).\n\n"
             "| target | points | seconds | points/s | batch p50 (ms) | batch p99 (ms) | batch "
             "max (ms) |\n|---|--:|--:|--:|--:|--:|--:|\n"
             "| %u collections | %u | %.2f | %.0f | %.1f | %.1f | %.1f |\n"
             "| 1 collection | %u | %.2f | %.0f | %.1f | %.1f | %.1f |\n\n",
          r->spread, r->spread, o->conns, r->spread, r->spread * 100, r->spread_s, r->spread_pps,
          r->spread_ms.p50, r->spread_ms.p99, r->spread_ms.max, r->spread * 100, r->one_s,
          r->one_pps, r->one_ms.p50, r->one_ms.p99, r->one_ms.max);
}

static void write_big(FILE *f, const report_t *r) {
  fprintf(f, "## 6. Loading a warm %u × 768 cosine collection\n\n"
             "Ingested in batches of 1,000 (%.1f s), then polled until `pending` = 0 "
             "(%.1f s more%s); `memory_bytes` then: %.1f MiB. `PATCH {\"tier\":\"warm\"}` "
             "unloaded it (final checkpoint) in %.2f s; its directory holds %.1f MiB. Then the "
             "first search (k = 10) was timed: it includes the whole load.\n\n"
             "| page cache | first search (s) | target < 1 s |\n|---|--:|---|\n"
             "| warm (median of %d loads: %.3f, %.3f, %.3f s) | %.3f | %s |\n",
          r->big768, r->big768_ingest_s, r->big768_index_s,
          r->big768_pending ? " — **still pending when the driver stopped waiting**" : "",
          (double)r->big768_memory / MIB, r->big768_unload_s, r->big768_disk_mib, LOAD_REPEATS,
          r->load_warm_runs[0], r->load_warm_runs[1], r->load_warm_runs[2], r->load_warm_s,
          yes_no(r->load_warm_s < TARGET_LOAD768_S));
  if (r->cold_dropped)
    fprintf(f, "| dropped | %.3f | — |\n\n", r->load_cold_s);
  else
    fprintf(f, "| dropped | not measured: %s | — |\n\n", r->cold_note);
  fprintf(f, "Memory given back: server RSS %.0f MiB before the ingest, %.0f MiB once it was "
             "indexed (+%.0f MiB for %.0f MiB counted by the collection and %.1f MiB of "
             "checkpoint), %.0f MiB after it was unloaded (RSS read once stable for 3 s).\n\n",
          r->big768_rss_before, r->big768_rss_indexed,
          r->big768_rss_indexed - r->big768_rss_before, (double)r->big768_memory / MIB,
          r->big768_disk_mib, r->big768_rss_unloaded);
}

static void write_ckpt(FILE *f, const report_t *r) {
  fprintf(f, "## 7. Upserts while a %u × 128 collection checkpoints\n\n"
             "Collection A (128-d l2) got %u points in batches of 1,000 from 4 connections "
             "(%.1f s), then was polled until `pending` = 0 (%.1f s%s); `memory_bytes` then "
             "%.1f MiB; checkpoint file(s) in A's directory afterwards: %.1f MiB. The known moment: the store checkpoints a "
             "collection with unsaved writes `checkpoint_interval_s` = 300 s after its last "
             "checkpoint ended (src/store/maintain.c, include/akidb/store.h; the other trigger, "
             "256 MiB of log, would need up to ~450k more unindexed points). The driver read the "
             "mtime of A's newest `checkpoint-*.akc` and waited %.0f s, until 5 s before the "
             "next one was due, then started three writers, each one connection sending "
             "batches of 100 × 128-d sequentially: into A itself, into B (another collection of "
             "the same tenant, 10,000 points) and into C (a collection of another tenant, "
             "10,000 points). The checkpoint's window is when `checkpoint.tmp` existed in A's "
             "directory (polled every 1 ms): it appeared %.2f s after the writers started and "
             "lasted %.2f s (the later rename, directory fsync and log clean-up are outside it). "
             "The writers stopped 1 s after it ended.\n\n",
          r->big128, r->big128, r->big128_ingest_s, r->big128_index_s,
          r->big128_pending ? ", **not reached: still pending when the driver stopped waiting**"
                            : "",
          (double)r->big128_memory / MIB, r->ckpt_file_mib, r->ckpt_wait_s, r->ckpt_start_s,
          r->ckpt_s);
  if (!r->ckpt_seen)
    fprintf(f, "**No checkpoint was seen during the %.0f s of measured writes.**\n\n",
            r->ckpt_end_s);
  fprintf(f, "| writer | window | upserts | p50 (ms) | p99 (ms) | max (ms) | errors |\n"
             "|---|---|--:|--:|--:|--:|--:|\n");
  static const char *const names[] = {"A (the checkpointing collection)",
                                      "B (same tenant as A)", "C (another tenant)"};
  for (int i = 0; i < 3; i++) {
    fprintf(f, "| %s | whole run | %zu | %.2f | %.2f | %.2f | %zu |\n", names[i], r->up[i].n,
            r->up[i].p50, r->up[i].p99, r->up[i].max, r->up_errors[i]);
    fprintf(f, "| %s | overlapping the checkpoint | %zu | %.2f | %.2f | %.2f | — |\n", names[i],
            r->up_in[i].n, r->up_in[i].p50, r->up_in[i].p99, r->up_in[i].max);
  }
  fprintf(f, "\nThe slowest write of each writer was sent at %+.2f s (A), %+.2f s (B), %+.2f s "
             "(C) from the checkpoint's start (the window above lasted %.2f s).\n\n",
          r->up_worst_at_s[0], r->up_worst_at_s[1], r->up_worst_at_s[2], r->ckpt_s);
  fprintf(f, "Server threads at the end of this phase: %.0f. The last server stopped (SIGTERM, "
             "final checkpoints) in %.1f s.\n\n",
          r->threads_end, r->stop_last_s);
}

static void write_peers(FILE *f, const report_t *r) {
  fprintf(f, "## Peers, as published\n\n"
             "These are the peers' own published numbers from their issue trackers, **not "
             "measured here**, beside this run's AkiDB figures.\n\n"
             "| system | published | AkiDB, this run |\n|---|---|---|\n");
  fprintf(f, "| Qdrant, issue #4761 | 4,900 collections → 24 GB of memory | %u collections of "
             "100 × 384-d: %.0f MiB RSS all hot, %.0f MiB with a 256 MiB budget |\n",
          r->tenants, r->hot_rss, r->budget_rss);
  fprintf(f, "| Qdrant, issue #4689 | out of memory at ~2,000 collections of 3 points on 32 GB "
             "| %u collections on a %.0f MiB machine, %.0f threads |\n",
          r->tenants, r->mem_total_mib, r->hot_threads);
  fprintf(f, "| Weaviate, issue #4634 | 8-minute restarts with 100k+ tenants | %u tenants: "
             "kill -9 → ready in %.3f s |\n\n",
          r->tenants, r->ready_kill_s);
}

static void write_configs(FILE *f, const report_t *r) {
  fprintf(f, "## Effective server settings (`akidb serve --config <file> --print-config`)\n\n"
             "Budget run:\n\n```toml\n%s```\n\nAll-hot and later runs:\n\n```toml\n%s```\n\n",
          r->config_budget, r->config_hot);
}

static void write_report(const report_t *r, const options_t *o) {
  FILE *f = fopen(o->out, "w");
  if (!f) bench_die("cannot write %s: %s", o->out, strerror(errno));
  write_header(f, r, o);
  write_acceptance(f, r, o);
  write_setup(f, r, o);
  write_memory(f, r);
  write_restart_search(f, r);
  write_ingest(f, r, o);
  write_big(f, r);
  write_ckpt(f, r);
  write_peers(f, r);
  write_configs(f, r);
  fprintf(f, "## Reproduce\n\n```\nmake bench-tenants\n# or, after building akidb and "
             "tenants in build/bench:\n%s\n```\n", o->command);
  fclose(f);
}

/* ---------------------------------------------------------------- main -- */

static void usage(FILE *out) {
  fprintf(out,
          "usage: tenants --akidb PATH [--out FILE] [--tenants N] [--quick] [--tmp DIR]\n"
          "               [--connections N] [--rss-limit-mib N]\n"
          "  --akidb PATH        the akidb program to start (`akidb serve`)\n"
          "  --out FILE          report (default bench/results/tenants.md)\n"
          "  --tenants N         tenants, one 100-point collection each (default 10000)\n"
          "  --quick             500 tenants, 100 spread collections, 10k x 768, 100k x 128\n"
          "  --tmp DIR           scratch data directory parent (default %s)\n"
          "  --connections N     parallel keep-alive connections (default 4)\n"
          "  --rss-limit-mib N   stop loading collections past this server RSS\n"
          "                      (default half the machine's memory, at most 12 GiB)\n",
          TENANTS_BENCH_TMP_DEFAULT);
}

static void parse_options(int argc, char **argv, options_t *o) {
  memset(o, 0, sizeof *o);
  o->out = "bench/results/tenants.md";
  o->tmp = TENANTS_BENCH_TMP_DEFAULT;
  o->conns = 4;
  size_t used = 0;
  for (int i = 0; i < argc; i++)
    used += (size_t)snprintf(o->command + used,
                             used < sizeof o->command ? sizeof o->command - used : 0, "%s%s",
                             i ? " " : "", argv[i]);
  long tenants = -1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--quick") == 0) { o->quick = true; continue; }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) usage(stdout), exit(0);
    if (!v) usage(stderr), exit(2);
    if (strcmp(a, "--akidb") == 0) o->akidb = v;
    else if (strcmp(a, "--out") == 0) o->out = v;
    else if (strcmp(a, "--tmp") == 0) o->tmp = v;
    else if (strcmp(a, "--tenants") == 0) tenants = atol(v);
    else if (strcmp(a, "--connections") == 0) o->conns = (uint32_t)atoi(v);
    else if (strcmp(a, "--rss-limit-mib") == 0) o->rss_limit_mib = atof(v);
    else {
      fprintf(stderr, "tenants: unknown option %s\n", a);
      usage(stderr);
      exit(2);
    }
    i++;
  }
  o->tenants = tenants > 0 ? (uint32_t)tenants : o->quick ? 500 : 10000;
  o->warm_queries = 200;
  o->hot_queries = o->quick ? 1000 : 2000;
  o->spread = o->quick ? 100 : 1000;
  o->big768 = o->quick ? 10000 : 100000;
  o->big128 = o->quick ? 100000 : 1000000;
  if (o->rss_limit_mib <= 0) {
    o->rss_limit_mib = mem_total_mib() / 2;
    if (o->rss_limit_mib > 12288) o->rss_limit_mib = 12288;
  }
  if (!o->akidb || o->conns < 1 || o->conns > MAX_CONNS || tenants == 0) {
    usage(stderr);
    exit(2);
  }
}

static void machine(report_t *r, const options_t *o) {
  bench_cpu_model(r->cpu, sizeof r->cpu);
  r->cores = sysconf(_SC_NPROCESSORS_ONLN);
  r->mem_total_mib = mem_total_mib();
  struct utsname u;
  if (uname(&u) == 0) snprintf(r->kernel, sizeof r->kernel, "Linux %s", u.release);
  char cmd[PATH_MAX + 32];
  snprintf(cmd, sizeof cmd, "'%s' version 2>&1", o->akidb);
  snprintf(r->version, sizeof r->version, "unknown");
  FILE *p = popen(cmd, "r");
  if (p) {
    if (fgets(r->version, (int)sizeof r->version, p)) r->version[strcspn(r->version, "\n")] = 0;
    pclose(p);
  }
}

/* Writes the report as it stands (so a failure later keeps what was measured). */
static void checkpoint_report(report_t *rep, const options_t *o, const char *done) {
  rep->done = done;
  data_estimate(rep, o->tenants);
  write_report(rep, o);
}

/* Starts the server with these settings; returns seconds to /ready. */
static double start(const options_t *o, const settings_t *st, char *config, size_t len) {
  double t0 = lg_now_us();
  server_start(&g_srv, o, st);
  double s = server_wait_ready(&g_srv, t0);
  if (config) print_config(o, &g_srv, config, len);
  return s;
}

int main(int argc, char **argv) {
  bench_fatal_init("tenants bench", cleanup);
  options_t o;
  parse_options(argc, argv, &o);
  signal(SIGPIPE, SIG_IGN);
  static report_t rep;
  machine(&rep, &o);
  rep.tenants = o.tenants;
  tenants_t t = {.n = o.tenants, .token = bench_xcalloc(o.tenants, sizeof *t.token)};
  server_prepare(&g_srv, &o);
  const settings_t budget = {BUDGET_BYTES, WARM_AFTER_LONG_S}, hot = {0, WARM_AFTER_LONG_S};

  rep.ready_first_s = start(&o, &budget, NULL, 0);
  admin_login();
  phase_setup(&o, &t, &rep); /* under the budget, so setup cannot fill the memory */
  server_stop(&g_srv);
  checkpoint_report(&rep, &o, "1 setup");

  rep.ready_hot_s = start(&o, &hot, rep.config_hot, sizeof rep.config_hot);
  phase_hot(&o, &t, &rep);
  rep.stop_hot_s = server_stop(&g_srv);
  checkpoint_report(&rep, &o, "2 all hot");

  rep.ready_budget_s = start(&o, &budget, rep.config_budget, sizeof rep.config_budget);
  phase_budget(&o, &t, &rep);
  write_some(&t, 100);
  server_kill9(&g_srv);

  rep.ready_kill_s = start(&o, &hot, NULL, 0);
  printf("kill -9 -> ready in %.3f s\n", rep.ready_kill_s);
  checkpoint_report(&rep, &o, "3 restart");
  phase_warm_search(&o, &t, &rep);
  phase_spread(&o, &t, &rep);
  checkpoint_report(&rep, &o, "5 ingest");
  phase_big768(&o, &t, &rep);
  checkpoint_report(&rep, &o, "6 warm load");
  phase_checkpoint(&o, &t, &rep);
  rep.threads_end = proc_status(g_srv.pid, "Threads");
  rep.stop_last_s = server_stop(&g_srv);

  rep.done = "all";
  data_estimate(&rep, o.tenants);
  write_report(&rep, &o);
  if (!getenv("TENANTS_KEEP")) bench_remove_tree(g_srv.dir);
  free(t.token);
  printf("wrote %s\n", o.out);
  return 0;
}
