/*
 * server.c — the server benchmark behind `make bench-server`: starts a real
 * `akidb serve` on a loopback port, sets up a tenant, a user, a database and
 * collections over REST (docs/rest-api.md), then measures through the
 * hand-written HTTP/1.1 load generator (loadgen.c):
 *   - ingest: upserts of the generated 100k x 128 set in batches of 100 and
 *     1,000, over one and several keep-alive connections (points/s from the
 *     first send to the last 200);
 *   - search on 100k x 128 (l2) and 100k x 768 (cosine): one sequential
 *     client, then open-loop load at fixed rates (latency from the scheduled
 *     send instant), each with recall@10 against exact ground truth computed
 *     in the same run from the ids the server returned; every timed row runs
 *     --repeat times, interleaved, and the targets are judged on the median
 *     p99 (each run is reported, with the hypervisor's steal time);
 * and writes bench/results/server.md.
 *
 * Owns: option parsing, the server process (spawn, readiness, SIGTERM, the
 * scratch data directory), the REST setup calls, pre-encoding of points and
 * queries (before any timing), the phases and the report. The ingest phase
 * runs one thread per connection (a shared atomic batch counter); the rest
 * is single-threaded.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "akidb/errors.h"
#include "dataset/dataset.h"
#include "closed.h"
#include "loadgen.h"
#include "peer_pg.h"

#ifndef SERVER_BENCH_BUILD_TYPE
#define SERVER_BENCH_BUILD_TYPE "unknown"
#endif
#ifndef SERVER_BENCH_TMP_DEFAULT
#define SERVER_BENCH_TMP_DEFAULT "/tmp"
#endif

#define K 10u         /* neighbours per query; recall@10 */
#define SEED 42u      /* as bench/ann.c: set seed = SEED + dimension */
#define MAX_RATES 8
#define MAX_ROWS 48
#define CHUNK 1000u   /* points per encoded chunk; a multiple of every batch size */

/* Targets (the server benchmark's brief). */
#define TARGET_INGEST_PPS 20000.0
#define TARGET_RECALL 0.95
#define TARGET_P99_SEQ_768_US 1000.0
#define TARGET_P99_OPEN_768_US 2500.0
#define TARGET_OPEN_768_RATE 1000.0
#define TARGET_P99_SEQ_128_US 500.0

/* Quoted reference figures (not measured here). */
#define PGVECTOR_P99_768_MS 1.56
#define PGVECTOR_P99_128_MS 0.77

typedef struct {
  const char *akidb;
  const char *out;
  const char *tmp;
  const char *baseline; /* --baseline-akidb: a second program measured beside it */
  bool quick;
  uint32_t connections; /* concurrent ingest connections */
  uint32_t pool;        /* open-loop connection pool */
  double duration_s;    /* open-loop window per rate */
  double rates[MAX_RATES];
  size_t n_rates;
  uint32_t repeat; /* runs of every timed search row, interleaved */
  bool closed_only;      /* only ingest what search needs, then the closed loop */
  double closed_s;       /* closed-loop window per row */
  double closed_warm_s;  /* warm-up before it */
  uint32_t closed_conns[8];
  size_t n_closed_conns;
  char command[2048];
} options_t;

/* ------------------------------------------------------------ failure -- */

/* The server under test, global so that bench_die() can stop it. */
typedef struct {
  pid_t pid;
  uint16_t port;
  char dir[PATH_MAX];  /* scratch: data/ and server.log */
  char log[PATH_MAX + 16];
  char password[64];
} server_t;

static server_t g_server = {.pid = -1};
static server_t g_baseline = {.pid = -1}; /* --baseline-akidb */

static void server_stop(server_t *s, double *shutdown_s);

/* bench_die's cleanup: the server's log, the server, its directory. */
static void cleanup(void) {
  server_t *all[2] = {&g_server, &g_baseline};
  for (int i = 0; i < 2; i++) {
    if (all[i]->log[0]) bench_print_log_tail(all[i]->log);
    if (all[i]->pid > 0) server_stop(all[i], NULL);
    if (all[i]->dir[0]) bench_remove_tree(all[i]->dir);
  }
}

/* ---------------------------------------------------------- utilities -- */

typedef struct {
  double p50, p95, p99, max, mean;
} dist_t;

/* Sorts the samples and summarises them. */
static dist_t summarise(double *us, size_t n) {
  dist_t d = {0};
  if (n == 0) return d;
  qsort(us, n, sizeof *us, bench_cmp_double);
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += us[i];
  d.mean = sum / (double)n;
  d.p50 = bench_percentile(us, n, 50);
  d.p95 = bench_percentile(us, n, 95);
  d.p99 = bench_percentile(us, n, 99);
  d.max = us[n - 1];
  return d;
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

/* CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
static double proc_cpu_seconds(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  if (!p) return 0;
  unsigned long long ut = 0, st = 0;
  /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
  if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return 0;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A "Vm...:" figure of /proc/<pid>/status in MiB, or -1. */
static double proc_vm_mib(pid_t pid, const char *field) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  double v = -1;
  if (!f) return v;
  size_t fl = strlen(field);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
      v = strtod(line + fl + 1, NULL) / 1024.0;
      break;
    }
  fclose(f);
  return v;
}

static double self_cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static const char *fs_name(const char *dir) {
  struct statfs s;
  if (statfs(dir, &s) != 0) return "unknown";
  switch ((unsigned long)s.f_type) {
  case 0xEF53: return "ext4";
  case 0x58465342: return "xfs";
  case 0x9123683E: return "btrfs";
  case 0x01021994: return "tmpfs";
  case 0x794C7630: return "overlayfs";
  default: return "other";
  }
}

/* ------------------------------------------------------ server process -- */

/* A free loopback port (bind to 0, read it back, close). */
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

/* Spawns `akidb serve` on a scratch data directory under tmp. */
static void server_start(server_t *s, const options_t *o, const char *program) {
  char data[PATH_MAX + 8];
  mkdir(o->tmp, 0755);
  snprintf(s->dir, sizeof s->dir, "%s/akidb-server-XXXXXX", o->tmp);
  if (!mkdtemp(s->dir)) bench_die("cannot create a directory under %s: %s", o->tmp, strerror(errno));
  snprintf(data, sizeof data, "%s/data", s->dir);
  snprintf(s->log, sizeof s->log, "%s/server.log", s->dir);
  snprintf(s->password, sizeof s->password, "bench-admin-%d-password", (int)getpid());
  s->port = free_port();
  char akidb[PATH_MAX];
  if (!realpath(program, akidb)) bench_die("cannot find %s: %s", program, strerror(errno));
  char port[16];
  snprintf(port, sizeof port, "%u", s->port);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) bench_die("fork: %s", strerror(errno));
  if (pid == 0) {
    int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    /* Defaults only: no ./config.toml, no inherited AKIDB_* settings. */
    static const char *const inherited[] = {
        "AKIDB_CONFIG", "AKIDB_HOST", "AKIDB_REST_PORT", "AKIDB_GRPC_PORT", "AKIDB_DATA_DIR",
        "AKIDB_DB_PATH", "AKIDB_DURABILITY", "AKIDB_LOG_LEVEL", "AKIDB_LOG_FORMAT"};
    for (size_t i = 0; i < sizeof inherited / sizeof *inherited; i++) unsetenv(inherited[i]);
    if (chdir(s->dir) != 0) _exit(126);
    setenv("AKIDB_ADMIN_PASSWORD", s->password, 1);
    /* No gRPC server: benches run side by side and measure REST. */
    setenv("AKIDB_GRPC_PORT", "0", 1);
    execl(akidb, akidb, "serve", "--host", "127.0.0.1", "--port", port, "--data-dir",
          data, "--log-level", "warn", (char *)NULL);
    fprintf(stderr, "exec %s: %s\n", akidb, strerror(errno));
    _exit(127);
  }
  s->pid = pid;
}

/* Polls GET /ready until 200; dies if the server exits or takes too long. */
static double server_wait_ready(server_t *s) {
  int status = 0;
  double took = lg_wait_ready(s->pid, s->port, 120, 50, &status);
  if (took == -1) {
    s->pid = -1;
    bench_die("akidb serve exited during start (status %d)", status);
  }
  if (took < 0) bench_die("akidb serve was not ready after 120 s");
  return took;
}

/* SIGTERM, wait up to 120 s (then SIGKILL); time how long it took. */
static void server_stop(server_t *s, double *shutdown_s) {
  if (s->pid <= 0) return;
  double t0 = lg_now_us();
  kill(s->pid, SIGTERM);
  int status = 0;
  while (waitpid(s->pid, &status, WNOHANG) == 0) {
    if (lg_now_us() - t0 > 120e6) {
      fprintf(stderr, "server bench: akidb serve ignored SIGTERM for 120 s; killing it\n");
      kill(s->pid, SIGKILL);
      waitpid(s->pid, &status, 0);
      break;
    }
    bench_sleep_ms(20);
  }
  if (shutdown_s) *shutdown_s = (lg_now_us() - t0) / 1e6;
  s->pid = -1;
}

/* ------------------------------------------------------------ REST calls -- */

typedef struct {
  lg_conn_t conn;
  char token[512];
  char tenant[64], database[64];
} api_t;

/* One call that must answer `expect`; dies with the body otherwise. */
static lg_response_t api_call(api_t *a, const char *method, const char *path, const char *body,
                              int expect) {
  char err[512];
  lg_response_t r;
  int rc = lg_conn_request(&a->conn, method, path, a->token[0] ? a->token : NULL, body, &r, err,
                           sizeof err);
  if (rc) bench_die("%s %s: %s", method, path, err);
  if (r.status != expect)
    bench_die("%s %s answered %d, expected %d: %.*s", method, path, r.status, expect,
        (int)(r.body_len > 600 ? 600 : r.body_len), r.body);
  return r;
}

static void api_login(api_t *a, const char *tenant, const char *user, const char *password) {
  char body[512];
  snprintf(body, sizeof body, "{\"tenant\":\"%s\",\"username\":\"%s\",\"password\":\"%s\"}",
           tenant, user, password);
  a->token[0] = '\0';
  lg_response_t r = api_call(a, "POST", "/v1/auth/login", body, 200);
  size_t n;
  const char *t = lg_find_string(r.body, r.body_len, "token", &n);
  if (!t || n >= sizeof a->token) bench_die("login answered without a token");
  memcpy(a->token, t, n);
  a->token[n] = '\0';
}

static void collection_path(const api_t *a, const char *name, const char *suffix, char *out,
                            size_t len) {
  snprintf(out, len, "/v1/tenants/%s/databases/%s/collections/%s%s", a->tenant, a->database,
           name, suffix);
}

/* Logs in as the system admin, creates the tenant, its admin user and the
 * database, and logs in as that user. */
static void api_setup(api_t *a, const server_t *s) {
  char err[256], body[512], path[256];
  const char *user_password = "bench-user-password-0123";
  memset(a, 0, sizeof *a);
  if (lg_conn_open(&a->conn, s->port, err, sizeof err)) bench_die("%s", err);
  snprintf(a->tenant, sizeof a->tenant, "bench");
  snprintf(a->database, sizeof a->database, "vectors");
  api_login(a, "", "admin", s->password);
  snprintf(body, sizeof body,
           "{\"slug\":\"%s\",\"name\":\"Server benchmark\",\"quotas\":{\"max_memory_bytes\":0,"
           "\"max_storage_bytes\":0,\"max_qps\":0,\"max_collections\":0}}",
           a->tenant);
  api_call(a, "POST", "/v1/tenants", body, 201);
  snprintf(path, sizeof path, "/v1/tenants/%s/users", a->tenant);
  snprintf(body, sizeof body, "{\"username\":\"bencher\",\"role\":\"admin\",\"password\":\"%s\"}",
           user_password);
  api_call(a, "POST", path, body, 201);
  api_login(a, a->tenant, "bencher", user_password);
  snprintf(path, sizeof path, "/v1/tenants/%s/databases", a->tenant);
  snprintf(body, sizeof body, "{\"name\":\"%s\"}", a->database);
  api_call(a, "POST", path, body, 201);
}

static void api_create_collection(api_t *a, const char *name, uint32_t dim, const char *metric) {
  char body[256], path[256];
  snprintf(path, sizeof path, "/v1/tenants/%s/databases/%s/collections", a->tenant, a->database);
  snprintf(body, sizeof body, "{\"name\":\"%s\",\"dimension\":%u,\"metric\":\"%s\"}", name, dim,
           metric);
  api_call(a, "POST", path, body, 201);
}

static void api_delete_collection(api_t *a, const char *name) {
  char path[256];
  collection_path(a, name, "", path, sizeof path);
  api_call(a, "DELETE", path, NULL, 204);
}

typedef struct {
  long long points, pending, ef_search, m, ef_construction;
} coll_info_t;

static coll_info_t api_collection_info(api_t *a, const char *name) {
  char path[256];
  collection_path(a, name, "", path, sizeof path);
  lg_response_t r = api_call(a, "GET", path, NULL, 200);
  coll_info_t c = {lg_find_int(r.body, r.body_len, "points"),
                   lg_find_int(r.body, r.body_len, "pending"),
                   lg_find_int(r.body, r.body_len, "ef_search"),
                   lg_find_int(r.body, r.body_len, "m"),
                   lg_find_int(r.body, r.body_len, "ef_construction")};
  if (c.points < 0 || c.pending < 0) bench_die("GET %s: no \"points\"/\"pending\" in the answer", path);
  return c;
}

/* Polls the collection until "pending" is 0; returns the seconds waited. */
static double api_wait_indexed(api_t *a, const char *name, long long expect_points) {
  double t0 = lg_now_us();
  for (;;) {
    coll_info_t c = api_collection_info(a, name);
    if (c.pending == 0) {
      if (c.points != expect_points)
        bench_die("collection %s holds %lld points, expected %lld", name, c.points, expect_points);
      return (lg_now_us() - t0) / 1e6;
    }
    if (lg_now_us() - t0 > 1800e6) bench_die("collection %s still has %lld pending after 30 min", name,
                                       c.pending);
    bench_sleep_ms(250);
  }
}

/* ------------------------------------------------------------ encoding -- */

/* Points encoded once, before any timing: chunk c holds points
 * [c*CHUNK, ...) as `{"id":"<row>","vector":[...]},` back to back. */
typedef struct {
  char *buf;
  size_t *off; /* n + 1 offsets */
  size_t n;
} chunk_t;

typedef struct {
  const ds_set_t *set;
  chunk_t *chunks;
  size_t n_chunks;
  int part, parts; /* encoder thread: chunks part, part+parts, ... */
} encoded_t;

/* Appends "%.9g" of each component, comma-separated. */
static size_t put_vector(char *p, const float *v, uint32_t dim) {
  char *start = p;
  *p++ = '[';
  for (uint32_t j = 0; j < dim; j++) {
    if (j) *p++ = ',';
    p += sprintf(p, "%.9g", (double)v[j]);
  }
  *p++ = ']';
  return (size_t)(p - start);
}

static void encode_chunk(const ds_set_t *set, size_t c, chunk_t *ch) {
  size_t first = c * CHUNK, n = set->n_base - first < CHUNK ? set->n_base - first : CHUNK;
  size_t bound = 48 + (size_t)set->dim * 17;
  ch->buf = bench_xmalloc(n * bound);
  ch->off = bench_xmalloc((n + 1) * sizeof *ch->off);
  ch->n = n;
  char *p = ch->buf;
  for (size_t i = 0; i < n; i++) {
    ch->off[i] = (size_t)(p - ch->buf);
    p += sprintf(p, "{\"id\":\"%zu\",\"vector\":", first + i);
    p += put_vector(p, set->base + (first + i) * set->dim, set->dim);
    *p++ = '}';
    *p++ = ',';
  }
  ch->off[n] = (size_t)(p - ch->buf);
  char *shrunk = realloc(ch->buf, ch->off[n]);
  if (shrunk) ch->buf = shrunk;
}

static void *encode_thread(void *arg) {
  encoded_t *e = arg;
  for (size_t c = (size_t)e->part; c < e->n_chunks; c += (size_t)e->parts)
    encode_chunk(e->set, c, &e->chunks[c]);
  return NULL;
}

/* Encodes every base point (two threads: this is before any timing). */
static encoded_t encode_points(const ds_set_t *set) {
  encoded_t e = {.set = set, .n_chunks = (set->n_base + CHUNK - 1) / CHUNK, .parts = 2};
  e.chunks = calloc(e.n_chunks, sizeof *e.chunks);
  if (!e.chunks) bench_die("out of memory");
  encoded_t second = e;
  second.part = 1;
  pthread_t t;
  if (pthread_create(&t, NULL, encode_thread, &second)) bench_die("pthread_create failed");
  encode_thread(&e);
  pthread_join(t, NULL);
  return e;
}

static size_t encoded_bytes(const encoded_t *e) {
  size_t b = 0;
  for (size_t c = 0; c < e->n_chunks; c++) b += e->chunks[c].off[e->chunks[c].n];
  return b;
}

static void encoded_free(encoded_t *e) {
  for (size_t c = 0; c < e->n_chunks; c++) {
    free(e->chunks[c].buf);
    free(e->chunks[c].off);
  }
  free(e->chunks);
  memset(e, 0, sizeof *e);
}

/* Whole search requests (head and body), one per query. */
typedef struct {
  char **req;
  size_t *len;
  size_t n;
} queries_t;

static queries_t encode_queries(const ds_set_t *set, const char *path, const char *token) {
  queries_t q = {bench_xmalloc(set->n_query * sizeof(char *)), bench_xmalloc(set->n_query * sizeof(size_t)),
                 set->n_query};
  size_t cap = 64 + (size_t)set->dim * 17;
  char *body = bench_xmalloc(cap);
  for (size_t i = 0; i < set->n_query; i++) {
    char *p = body;
    p += sprintf(p, "{\"vector\":");
    p += put_vector(p, set->queries + i * set->dim, set->dim);
    p += sprintf(p, ",\"k\":%u,\"include_payload\":false}", K);
    size_t blen = (size_t)(p - body);
    char head[1024];
    size_t hlen = lg_format_head(head, sizeof head, "POST", path, token, blen);
    if (!hlen) bench_die("search request head too long");
    q.req[i] = bench_xmalloc(hlen + blen);
    memcpy(q.req[i], head, hlen);
    memcpy(q.req[i] + hlen, body, blen);
    q.len[i] = hlen + blen;
  }
  free(body);
  return q;
}

static void queries_free(queries_t *q) {
  for (size_t i = 0; i < q->n; i++) free(q->req[i]);
  free(q->req);
  free(q->len);
  memset(q, 0, sizeof *q);
}

/* ------------------------------------------------------------- recall -- */

/* Counts the ids of a search answer that are among query q's true top K. */
static uint32_t count_found(const ds_set_t *set, size_t q, const char *body, size_t len,
                            uint32_t *n_ids) {
  const int32_t *truth = set->gt + q * set->gt_k;
  const char *p = body, *end = body + len;
  uint32_t found = 0, n = 0;
  size_t idlen;
  const char *id;
  while (p < end && (id = lg_find_string(p, (size_t)(end - p), "id", &idlen))) {
    long long label = 0;
    for (size_t i = 0; i < idlen; i++) label = label * 10 + (id[i] - '0');
    if (n < K)
      for (uint32_t j = 0; j < K; j++)
        if (truth[j] == label) {
          found++;
          break;
        }
    n++;
    p = id + idlen + 1;
  }
  *n_ids = n;
  return found;
}

typedef struct {
  const ds_set_t *set;
  size_t found, answered, short_answers;
} recall_acc_t;

static void recall_add(recall_acc_t *acc, size_t q, const char *body, size_t len) {
  uint32_t n;
  acc->found += count_found(acc->set, q, body, len, &n);
  acc->answered++;
  if (n < K) acc->short_answers++;
}

static double recall_value(const recall_acc_t *acc) {
  return acc->answered ? (double)acc->found / ((double)acc->answered * K) : 0;
}

static void on_search_answer(void *ctx, size_t index, int status, const char *body, size_t len) {
  recall_acc_t *acc = ctx;
  if (status == 200) recall_add(acc, index % acc->set->n_query, body, len);
}

/* -------------------------------------------------------------- ingest -- */

typedef struct {
  const char *dataset;
  uint32_t dim;
  size_t batch;
  uint32_t conns;
  size_t points;
  double seconds, pps;
  dist_t batch_ms; /* per-request latency, ms */
  double server_cpu_s, client_cpu_s;
  double delete_s; /* DELETE of the scratch collection afterwards; -1 kept */
  size_t rejected; /* 429 answers retried (the indexing backlog was full) */
  bool has_target;
} ingest_row_t;

typedef struct {
  const encoded_t *enc;
  const char *path;
  const char *token;
  uint16_t port;
  size_t batch, n_batches;
  atomic_size_t next;
  double *lat_ms;
  pthread_mutex_t mu;
  double first_send, last_ok;
  atomic_size_t rejected; /* 429 answers (backpressure) that were retried */
  char error[512];
} ingest_job_t;

/* One batch: `{"points":[...]}` over iov straight from the encoded chunk. */
static int ingest_send(ingest_job_t *j, lg_conn_t *c, size_t b, double *sent, char *err,
                       size_t errlen) {
  size_t first = b * j->batch, ci = first / CHUNK, li = first % CHUNK;
  const chunk_t *ch = &j->enc->chunks[ci];
  size_t n = ch->n - li < j->batch ? ch->n - li : j->batch;
  static const char prefix[] = "{\"points\":[", suffix[] = "]}";
  size_t span = ch->off[li + n] - ch->off[li] - 1; /* without the last comma */
  char head[1024];
  size_t hlen = lg_format_head(head, sizeof head, "POST", j->path, j->token,
                               sizeof prefix - 1 + span + sizeof suffix - 1);
  struct iovec iov[4] = {{head, hlen},
                         {(void *)prefix, sizeof prefix - 1},
                         {ch->buf + ch->off[li], span},
                         {(void *)suffix, sizeof suffix - 1}};
  lg_response_t r;
  *sent = lg_now_us();
  int rc = lg_conn_roundtrip(c, iov, 4, &r, err, errlen);
  /* 429: the collection's indexing backlog is full (backpressure); a
   * client waits and sends the batch again, as Retry-After asks. The
   * batch's latency includes the waits. */
  for (int tries = 0; !rc && r.status == 429 && tries < 6000; tries++) {
    atomic_fetch_add(&j->rejected, 1);
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    rc = lg_conn_roundtrip(c, iov, 4, &r, err, errlen);
  }
  if (rc) return rc;
  if (r.status != 200) {
    snprintf(err, errlen, "upsert answered %d: %.*s", r.status,
             (int)(r.body_len > 300 ? 300 : r.body_len), r.body);
    return AKIDB_EIO;
  }
  long long up = lg_find_int(r.body, r.body_len, "upserted");
  if (up != (long long)n) {
    snprintf(err, errlen, "upsert of %zu points answered \"upserted\": %lld", n, up);
    return AKIDB_EIO;
  }
  return AKIDB_OK;
}

static void *ingest_thread(void *arg) {
  ingest_job_t *j = arg;
  char err[512] = "";
  lg_conn_t c;
  if (lg_conn_open(&c, j->port, err, sizeof err)) goto fail;
  double first = -1, last = 0;
  for (;;) {
    size_t b = atomic_fetch_add(&j->next, 1);
    if (b >= j->n_batches) break;
    double sent;
    if (ingest_send(j, &c, b, &sent, err, sizeof err)) goto fail;
    last = lg_now_us();
    if (first < 0) first = sent;
    j->lat_ms[b] = (last - sent) / 1e3;
  }
  lg_conn_close(&c);
  pthread_mutex_lock(&j->mu);
  if (first >= 0 && (j->first_send < 0 || first < j->first_send)) j->first_send = first;
  if (last > j->last_ok) j->last_ok = last;
  pthread_mutex_unlock(&j->mu);
  return NULL;
fail:
  lg_conn_close(&c);
  atomic_store(&j->next, j->n_batches); /* stop the others */
  pthread_mutex_lock(&j->mu);
  if (!j->error[0]) snprintf(j->error, sizeof j->error, "%s", err);
  pthread_mutex_unlock(&j->mu);
  return NULL;
}

/* Upserts every encoded point into `name` in batches over `conns` connections. */
static ingest_row_t ingest_run(api_t *a, const server_t *s, const char *dataset,
                               const encoded_t *enc, const char *name, size_t batch,
                               uint32_t conns) {
  char path[256];
  collection_path(a, name, "/points", path, sizeof path);
  ingest_job_t j = {.enc = enc, .path = path, .token = a->token, .port = s->port,
                    .batch = batch, .first_send = -1};
  j.n_batches = (enc->set->n_base + batch - 1) / batch;
  j.lat_ms = bench_xmalloc(j.n_batches * sizeof *j.lat_ms);
  atomic_init(&j.next, 0);
  pthread_mutex_init(&j.mu, NULL);
  pthread_t th[64];
  double srv0 = proc_cpu_seconds(s->pid), cli0 = self_cpu_seconds();
  for (uint32_t i = 0; i < conns; i++)
    if (pthread_create(&th[i], NULL, ingest_thread, &j)) bench_die("pthread_create failed");
  for (uint32_t i = 0; i < conns; i++) pthread_join(th[i], NULL);
  ingest_row_t row = {.dataset = dataset, .dim = enc->set->dim, .batch = batch, .conns = conns,
                      .points = enc->set->n_base, .delete_s = -1};
  row.server_cpu_s = proc_cpu_seconds(s->pid) - srv0;
  row.client_cpu_s = self_cpu_seconds() - cli0;
  pthread_mutex_destroy(&j.mu);
  if (j.error[0]) bench_die("ingest into %s (batch %zu, %u connections): %s", name, batch, conns,
                      j.error);
  row.seconds = (j.last_ok - j.first_send) / 1e6;
  row.pps = (double)row.points / row.seconds;
  row.batch_ms = summarise(j.lat_ms, j.n_batches);
  row.rejected = atomic_load(&j.rejected);
  free(j.lat_ms);
  printf("  ingest %s batch %zu x %u connections: %.0f points/s (%.2f s; batch p50 %.1f ms, "
         "p99 %.1f ms)\n",
         dataset, batch, conns, row.pps, row.seconds, row.batch_ms.p50, row.batch_ms.p99);
  fflush(stdout);
  return row;
}

/* -------------------------------------------------------------- search -- */

typedef struct {
  const char *dataset;
  uint32_t dim;
  const char *metric;
  bool sequential;
  double rate; /* open loop */
  uint32_t conns;
  size_t sent, ok, failed;
  double qps, seconds;
  dist_t us;
  double recall;
  size_t short_answers;
  long long ef;
  double server_cpu_us, client_cpu_us; /* per answered query */
  double max_send_lag_us;
  double steal_pct;     /* CPU time the hypervisor took from this VM during the row */
  uint32_t run;         /* 1..repeat */
  double target_p99_us; /* 0: no target on this row */
} search_row_t;

/* Machine-wide CPU ticks from /proc/stat: all of them, and "steal" (time
 * the hypervisor ran something else while this VM wanted the CPU). */
typedef struct {
  unsigned long long total, steal;
} ticks_t;

static ticks_t cpu_ticks(void) {
  ticks_t t = {0, 0};
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return t;
  unsigned long long v[8] = {0};
  if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
             &v[5], &v[6], &v[7]) == 8) {
    for (int i = 0; i < 8; i++) t.total += v[i];
    t.steal = v[7];
  }
  fclose(f);
  return t;
}

static double steal_since(ticks_t a) {
  ticks_t b = cpu_ticks();
  return b.total > a.total ? 100.0 * (double)(b.steal - a.steal) / (double)(b.total - a.total) : 0;
}

/* One client, one keep-alive connection, one query at a time. */
static search_row_t search_sequential(const server_t *s, const ds_set_t *set,
                                      const queries_t *q, const char *dataset,
                                      const char *metric, long long ef) {
  char err[512];
  lg_conn_t c;
  if (lg_conn_open(&c, s->port, err, sizeof err)) bench_die("%s", err);
  size_t warm = q->n < 200 ? q->n : 200;
  for (size_t i = 0; i < warm; i++) {
    struct iovec iov = {q->req[i], q->len[i]};
    lg_response_t r;
    if (lg_conn_roundtrip(&c, &iov, 1, &r, err, sizeof err)) bench_die("warm-up search: %s", err);
  }
  double *us = bench_xmalloc(q->n * sizeof *us);
  recall_acc_t acc = {.set = set};
  search_row_t row = {.dataset = dataset, .dim = set->dim, .metric = metric, .sequential = true,
                      .conns = 1, .sent = q->n, .ef = ef};
  ticks_t ticks0 = cpu_ticks();
  double srv0 = proc_cpu_seconds(s->pid), cli0 = self_cpu_seconds(), t0 = lg_now_us();
  for (size_t i = 0; i < q->n; i++) {
    struct iovec iov = {q->req[i], q->len[i]};
    lg_response_t r;
    double t = lg_now_us();
    int rc = lg_conn_roundtrip(&c, &iov, 1, &r, err, sizeof err);
    double done = lg_now_us();
    if (rc || r.status != 200) {
      if (row.failed++ == 0)
        fprintf(stderr, "  search failed: %s\n", rc ? err : "answered with a non-200 status");
      if (rc) lg_conn_close(&c), rc = lg_conn_open(&c, s->port, err, sizeof err);
      if (rc) bench_die("%s", err);
      continue;
    }
    us[row.ok++] = done - t;
    recall_add(&acc, i, r.body, r.body_len);
  }
  row.seconds = (lg_now_us() - t0) / 1e6;
  row.steal_pct = steal_since(ticks0);
  double answered = row.ok ? (double)row.ok : 1;
  row.server_cpu_us = (proc_cpu_seconds(s->pid) - srv0) * 1e6 / answered;
  row.client_cpu_us = (self_cpu_seconds() - cli0) * 1e6 / answered;
  row.qps = (double)row.ok / row.seconds;
  row.us = summarise(us, row.ok);
  row.recall = recall_value(&acc);
  row.short_answers = acc.short_answers;
  free(us);
  lg_conn_close(&c);
  printf("  search %s sequential: %.0f QPS, p50 %.0f us, p99 %.0f us, recall@10 %.4f\n", dataset,
         row.qps, row.us.p50, row.us.p99, row.recall);
  fflush(stdout);
  return row;
}

/* Fixed-rate sends over a pool of connections; latency from the schedule. */
static search_row_t search_open_loop(const server_t *s, const options_t *o, const ds_set_t *set,
                                     const queries_t *q, const char *dataset,
                                     const char *metric, long long ef, double rate) {
  char err[512];
  recall_acc_t acc = {.set = set};
  lg_open_loop_t ol = {.port = s->port, .rate = rate, .duration_s = o->duration_s,
                       .drain_s = 5.0, .connections = o->pool, .n_req = q->n,
                       .req = (const char *const *)q->req, .req_len = q->len,
                       .on_response = on_search_answer, .ctx = &acc};
  lg_open_result_t r;
  ticks_t ticks0 = cpu_ticks();
  double srv0 = proc_cpu_seconds(s->pid), cli0 = self_cpu_seconds();
  if (lg_open_loop_run(&ol, &r, err, sizeof err)) bench_die("open loop at %.0f QPS: %s", rate, err);
  double steal = steal_since(ticks0);
  double answered = r.ok ? (double)r.ok : 1;
  search_row_t row = {.dataset = dataset, .dim = set->dim, .metric = metric, .rate = rate,
                      .conns = o->pool, .sent = r.sent, .ok = r.ok, .failed = r.failed,
                      .ef = ef, .max_send_lag_us = r.max_send_lag_us, .steal_pct = steal};
  row.server_cpu_us = (proc_cpu_seconds(s->pid) - srv0) * 1e6 / answered;
  row.client_cpu_us = (self_cpu_seconds() - cli0) * 1e6 / answered;
  row.seconds = r.elapsed_s;
  row.qps = r.elapsed_s > 0 ? (double)r.ok / r.elapsed_s : 0;
  row.us = summarise(r.latency_us, r.n_latency);
  row.recall = recall_value(&acc);
  row.short_answers = acc.short_answers;
  free(r.latency_us);
  printf("  search %s open loop %.0f QPS: achieved %.0f, p50 %.0f us, p99 %.0f us, errors %zu, "
         "recall@10 %.4f\n",
         dataset, rate, row.qps, row.us.p50, row.us.p99, row.failed, row.recall);
  fflush(stdout);
  return row;
}

/* ----------------------------------------- closed loop, pgvector peer -- */

static const char *mark(bool met) { return met ? "met" : "**missed**"; }


/* The ef_search values tried, smallest first, and the recall the
 * calibration asks for (a little above the 0.95 target; the timed rows
 * measure recall again on the same queries). */
static const long long CAL_EFS[] = {16, 24, 32, 40, 48, 64, 80, 96, 128, 160, 256};
#define CAL_RECALL 0.955

typedef enum { PEER_AKIDB, PEER_PG, PEER_BASELINE } peer_t;

static const char *peer_name(peer_t p) {
  return p == PEER_AKIDB ? "AkiDB" : p == PEER_PG ? "pgvector" : "baseline";
}

/* One closed-loop row: a peer, a data set (NULL for the health probe), a
 * connection count and a run. */
typedef struct {
  peer_t peer;
  const char *dataset; /* NULL: /health or SELECT 1 */
  uint32_t dim;
  uint32_t conns;
  uint32_t run;
  size_t ok, failed;
  double qps;
  dist_t us;
  double recall;
  long long ef;
  double server_cpu_us; /* AkiDB only: per answered request; -1 otherwise */
  double steal_pct;
  char error[256];
} closed_row_t;

/* The pgvector peer's state for one data set. */
typedef struct {
  const char *dsn;
  char table[64];
  bool cosine;
  const ds_set_t *set;
  long long ef;
  pgp_load_t load;
} pg_set_t;

/* AkiDB side: pre-encoded requests over blocking keep-alive connections. */
typedef struct {
  uint16_t port;
  const ds_set_t *set; /* NULL: the requests are /health */
  const char *const *req;
  const size_t *len;
} ak_ctx_t;

static void *ak_open(void *ctx, uint32_t i, char *err, size_t errlen) {
  (void)i;
  ak_ctx_t *a = ctx;
  lg_conn_t *c = bench_xmalloc(sizeof *c);
  if (lg_conn_open(c, a->port, err, errlen)) {
    free(c);
    return NULL;
  }
  return c;
}

static int ak_call(void *ctx, void *conn, size_t q, uint32_t *found, char *err, size_t errlen) {
  ak_ctx_t *a = ctx;
  struct iovec iov = {(void *)a->req[q], a->len[q]};
  lg_response_t r;
  int rc = lg_conn_roundtrip(conn, &iov, 1, &r, err, errlen);
  if (rc) return rc;
  if (r.status != 200) {
    snprintf(err, errlen, "answered %d", r.status);
    return -1;
  }
  *found = 0;
  if (a->set) {
    uint32_t n;
    *found = count_found(a->set, q, r.body, r.body_len, &n);
  }
  return 0;
}

static void ak_close(void *ctx, void *conn) {
  (void)ctx;
  lg_conn_close(conn);
  free(conn);
}

/* pgvector side: one libpq connection each, the statements prepared and
 * hnsw.ef_search set before the clock starts. */
typedef struct {
  const pg_set_t *ps; /* NULL: SELECT 1 */
  const char *dsn;
} pg_ctx_t;

static void *pg_open(void *ctx, uint32_t i, char *err, size_t errlen) {
  (void)i;
  pg_ctx_t *p = ctx;
  pgp_conn_t *c = pgp_connect(p->dsn, p->ps ? p->ps->table : NULL, p->ps && p->ps->cosine, K,
                              err, errlen);
  if (c && p->ps && pgp_set_ef(c, (uint32_t)p->ps->ef, err, errlen)) {
    pgp_close(c);
    return NULL;
  }
  return c;
}

static uint32_t count_truth(const ds_set_t *set, size_t q, const int64_t *ids, uint32_t n) {
  const int32_t *truth = set->gt + q * set->gt_k;
  uint32_t found = 0;
  for (uint32_t i = 0; i < n && i < K; i++)
    for (uint32_t j = 0; j < K; j++)
      if (truth[j] == ids[i]) {
        found++;
        break;
      }
  return found;
}

static int pg_call(void *ctx, void *conn, size_t q, uint32_t *found, char *err, size_t errlen) {
  pg_ctx_t *p = ctx;
  *found = 0;
  if (!p->ps) return pgp_ping(conn, err, errlen);
  const ds_set_t *set = p->ps->set;
  int64_t ids[K];
  uint32_t n = 0;
  int rc = pgp_search(conn, set->queries + q * set->dim, set->dim, ids, &n, err, errlen);
  if (rc) return rc;
  *found = count_truth(set, q, ids, n);
  return 0;
}

static void pg_close(void *ctx, void *conn) {
  (void)ctx;
  pgp_close(conn);
}

/* Loads (or reuses) the peer's table for one set and calibrates its
 * hnsw.ef_search like AkiDB's: the smallest of CAL_EFS whose recall@10
 * over the query set, one connection, reaches CAL_RECALL. */
static void pg_prepare_set(pg_set_t *ps, const char *dsn, const ds_set_t *set, const char *name,
                           bool cosine) {
  char err[512];
  memset(ps, 0, sizeof *ps);
  ps->dsn = dsn;
  ps->set = set;
  ps->cosine = cosine;
  snprintf(ps->table, sizeof ps->table, "akidb_bench_%s_%zu", name, set->n_base);
  pgp_conn_t *c = pgp_connect(dsn, NULL, false, K, err, sizeof err);
  if (!c) bench_die("pgvector (PGVECTOR_DSN): %s", err);
  printf("pgvector: loading %s (%zu x %u, HNSW m=16, ef_construction=200; reused when "
         "present)...\n", ps->table, set->n_base, set->dim);
  fflush(stdout);
  if (pgp_load(c, ps->table, set->base, set->n_base, set->dim, cosine, 16, 200, &ps->load, err,
               sizeof err))
    bench_die("pgvector: loading %s: %s", ps->table, err);
  pgp_close(c);
  printf("  %s: %s (COPY %.1f s, CREATE INDEX %.1f s, index %lld MB)\n", ps->table,
         ps->load.reused ? "reused" : "loaded", ps->load.copy_s, ps->load.index_s,
         ps->load.index_mb);
  c = pgp_connect(dsn, ps->table, cosine, K, err, sizeof err);
  if (!c) bench_die("pgvector: %s", err);
  ps->ef = CAL_EFS[sizeof CAL_EFS / sizeof *CAL_EFS - 1];
  for (size_t i = 0; i < sizeof CAL_EFS / sizeof *CAL_EFS; i++) {
    if (pgp_set_ef(c, (uint32_t)CAL_EFS[i], err, sizeof err)) bench_die("pgvector: %s", err);
    uint64_t found = 0;
    for (size_t q = 0; q < set->n_query; q++) {
      int64_t ids[K];
      uint32_t n = 0;
      if (pgp_search(c, set->queries + q * set->dim, set->dim, ids, &n, err, sizeof err))
        bench_die("pgvector: %s", err);
      found += count_truth(set, q, ids, n);
    }
    double recall = (double)found / ((double)set->n_query * K);
    printf("  calibrating %s: hnsw.ef_search %lld: recall@10 %.4f\n", ps->table, CAL_EFS[i],
           recall);
    if (recall >= CAL_RECALL) {
      ps->ef = CAL_EFS[i];
      break;
    }
  }
  pgp_close(c);
  fflush(stdout);
}

static closed_row_t closed_run(peer_t peer, const cl_spec_t *spec, const ds_set_t *set,
                               const char *dataset, long long ef, uint32_t run, pid_t server_pid) {
  closed_row_t row = {.peer = peer, .dataset = dataset, .dim = set ? set->dim : 0,
                      .conns = spec->connections, .run = run, .ef = ef, .server_cpu_us = -1};
  cl_result_t r;
  ticks_t ticks0 = cpu_ticks();
  double srv0 = server_pid > 0 ? proc_cpu_seconds(server_pid) : 0;
  int rc = cl_run(spec, &r);
  row.steal_pct = steal_since(ticks0);
  if (rc) bench_die("%s closed loop (%u connections): %s", peer_name(peer), spec->connections,
                    r.error);
  row.ok = r.ok;
  row.failed = r.failed;
  if (r.error[0]) snprintf(row.error, sizeof row.error, "%s", r.error);
  row.qps = (double)r.ok / r.elapsed_s;
  row.us = summarise(r.latency_us, r.n_latency);
  row.recall = set && r.ok ? (double)r.found / ((double)r.ok * K) : 0;
  if (server_pid > 0 && r.calls) /* the CPU of the warm-up too: per request sent */
    row.server_cpu_us = (proc_cpu_seconds(server_pid) - srv0) * 1e6 / (double)r.calls;
  free(r.latency_us);
  printf("  %-8s %-7s %u conn: %6.0f QPS, p50 %4.0f us, p99 %5.0f us%s, errors %zu\n",
         peer_name(peer), dataset ? dataset : "ping", spec->connections, row.qps, row.us.p50,
         row.us.p99, set ? "" : " (health)", row.failed);
  fflush(stdout);
  return row;
}

/* A data set as the closed-loop phase sees it. */
typedef struct {
  const ds_set_t *set;
  const char *name, *metric;
  queries_t q;     /* AkiDB search requests */
  long long ef;    /* AkiDB's calibrated ef_search */
  queries_t base_q; /* the same for the --baseline-akidb server (n = 0: none) */
  long long base_ef;
  pg_set_t *pg;    /* NULL without PGVECTOR_DSN */
} closed_set_t;

#define MAX_CLOSED 256

typedef struct {
  closed_row_t rows[MAX_CLOSED];
  size_t n;
  const char *dsn;     /* NULL: peer skipped */
  char pg_version[256];
  pg_set_t *pg[2];
} closed_report_t;

/* Every connection count for every set, AkiDB then pgvector at each point
 * (so a noisy stretch hits both), --repeat times; then /health against
 * SELECT 1 on one connection. */
static void run_closed(const server_t *s, const server_t *base, const options_t *o,
                       closed_report_t *cr, closed_set_t *sets, size_t n_sets) {
  char health[256];
  size_t hlen = lg_format_head(health, sizeof health, "GET", "/health", NULL, (size_t)-1);
  const char *hreq[1] = {health};
  size_t hl[1] = {hlen};
  printf("closed loop (%.0f s per row after %.1f s warm-up)...\n", o->closed_s, o->closed_warm_s);
  fflush(stdout);
  for (uint32_t run = 1; run <= o->repeat; run++) {
    if (o->repeat > 1) printf("  run %u of %u\n", run, o->repeat);
    for (size_t d = 0; d < n_sets; d++) {
      closed_set_t *cs = &sets[d];
      ak_ctx_t ak = {.port = s->port, .set = cs->set, .req = (const char *const *)cs->q.req,
                     .len = cs->q.len};
      pg_ctx_t pg = {.ps = cs->pg, .dsn = cr->dsn};
      ak_ctx_t bk = {.port = base ? base->port : 0, .set = cs->set,
                     .req = (const char *const *)cs->base_q.req, .len = cs->base_q.len};
      for (size_t c = 0; c < o->n_closed_conns; c++) {
        cl_spec_t spec = {.connections = o->closed_conns[c], .warmup_s = o->closed_warm_s,
                          .duration_s = o->closed_s, .n_queries = cs->q.n, .open = ak_open,
                          .call = ak_call, .close = ak_close, .ctx = &bk};
        if (base && cr->n < MAX_CLOSED) {
          cr->rows[cr->n++] =
              closed_run(PEER_BASELINE, &spec, cs->set, cs->name, cs->base_ef, run, base->pid);
          bench_sleep_ms(200);
        }
        spec.ctx = &ak;
        if (cr->n < MAX_CLOSED)
          cr->rows[cr->n++] = closed_run(PEER_AKIDB, &spec, cs->set, cs->name, cs->ef, run, s->pid);
        if (!cr->dsn) continue;
        bench_sleep_ms(200);
        spec.open = pg_open, spec.call = pg_call, spec.close = pg_close, spec.ctx = &pg;
        if (cr->n < MAX_CLOSED)
          cr->rows[cr->n++] = closed_run(PEER_PG, &spec, cs->set, cs->name, cs->pg->ef, run, -1);
        bench_sleep_ms(200);
      }
    }
    ak_ctx_t ak = {.port = s->port, .set = NULL, .req = hreq, .len = hl};
    ak_ctx_t bk = {.port = base ? base->port : 0, .set = NULL, .req = hreq, .len = hl};
    cl_spec_t spec = {.connections = 1, .warmup_s = o->closed_warm_s, .duration_s = o->closed_s,
                      .n_queries = 1, .open = ak_open, .call = ak_call, .close = ak_close,
                      .ctx = &bk};
    if (base && cr->n < MAX_CLOSED)
      cr->rows[cr->n++] = closed_run(PEER_BASELINE, &spec, NULL, NULL, 0, run, base->pid);
    spec.ctx = &ak;
    if (cr->n < MAX_CLOSED) cr->rows[cr->n++] = closed_run(PEER_AKIDB, &spec, NULL, NULL, 0, run, s->pid);
    if (cr->dsn) {
      pg_ctx_t pg = {.ps = NULL, .dsn = cr->dsn};
      spec.open = pg_open, spec.call = pg_call, spec.close = pg_close, spec.ctx = &pg;
      if (cr->n < MAX_CLOSED) cr->rows[cr->n++] = closed_run(PEER_PG, &spec, NULL, NULL, 0, run, -1);
    }
  }
}

/* The row of `peer` that pairs with AkiDB row a, or NULL. */
static const closed_row_t *closed_pair(const closed_report_t *cr, const closed_row_t *a,
                                       peer_t peer) {
  for (size_t i = 0; i < cr->n; i++) {
    const closed_row_t *b = &cr->rows[i];
    if (b->peer != peer || b->conns != a->conns || b->run != a->run) continue;
    if ((a->dataset == NULL) != (b->dataset == NULL)) continue;
    if (a->dataset && strcmp(a->dataset, b->dataset) != 0) continue;
    return b;
  }
  return NULL;
}

/* The pgvector row that pairs with AkiDB row a, or NULL. */
static const closed_row_t *closed_peer_row(const closed_report_t *cr, const closed_row_t *a) {
  return closed_pair(cr, a, PEER_PG);
}

static double median_of(double *v, size_t n) {
  if (n == 0) return 0;
  qsort(v, n, sizeof *v, bench_cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void write_closed(FILE *f, const closed_report_t *cr, const options_t *o) {
  fprintf(f, "## Closed loop: AkiDB against PostgreSQL + pgvector (same run)\n\n");
  fprintf(f,
          "- *closed loop*: N connections, one client thread each; every thread sends its next "
          "query as soon as the previous answer arrived (no think time), so QPS is what N "
          "clients get and latency is send to last byte. %.1f s warm-up (not counted), then "
          "%.0f s measured per row. Queries cycle through the query set (a shared counter). "
          "At each point AkiDB runs first, then pgvector, then the next point; the whole "
          "sequence runs %u time(s).\n"
          "- AkiDB: REST `POST .../search` with `{\"vector\":[...],\"k\":10,"
          "\"include_payload\":false}` over keep-alive HTTP/1.1 (bench/loadgen.c), the "
          "collection's calibrated `ef_search`. server CPU/query: CPU time of the `akidb` "
          "process during the row (warm-up included) per request sent.\n",
          o->closed_warm_s, o->closed_s, o->repeat);
  if (cr->dsn) {
    fprintf(f,
            "- pgvector: %s over TCP (`PGVECTOR_DSN`), libpq, the prepared statement `SELECT id "
            "FROM <table> ORDER BY embedding <-> $1 LIMIT 10` (`<=>` for cosine) with the "
            "vector sent in pgvector's binary format and the ids returned in binary; each "
            "connection runs `SET hnsw.ef_search` first. Tables loaded by this driver with "
            "COPY (binary), HNSW m=16, ef_construction=200 (`vector_l2_ops` / "
            "`vector_cosine_ops`), prewarmed (`pg_prewarm`).",
            cr->pg_version);
    for (int i = 0; i < 2; i++) {
      const pg_set_t *ps = cr->pg[i];
      if (!ps) continue;
      if (ps->load.reused)
        fprintf(f, " `%s`: reused (right row count and index), index %lld MB, ef_search %lld.",
                ps->table, ps->load.index_mb, ps->ef);
      else
        fprintf(f, " `%s`: COPY %.1f s, CREATE INDEX %.1f s, index %lld MB, ef_search %lld.",
                ps->table, ps->load.copy_s, ps->load.index_s, ps->load.index_mb, ps->ef);
    }
    fprintf(f, " ef_search calibrated as AkiDB's (the smallest of the same list reaching "
               "recall@10 0.955 over the query set, one connection).\n");
  } else {
    fprintf(f, "- pgvector: skipped: set PGVECTOR_DSN%s.\n",
            pgp_available() ? "" : " (and build with libpq-dev installed)");
  }
  fprintf(f, "- Both servers and the client share the machine's cores. Where AkiDB's tail under "
             "concurrency came from and what changed (issue 13): bench/results/tail-notes.md.\n\n");

  fprintf(f, "| data set | connections | run | AkiDB QPS | AkiDB p50 (ms) | AkiDB p99 (ms) | "
             "AkiDB max (ms) | AkiDB recall@10 | AkiDB server CPU/query (µs) | pgvector QPS | "
             "pgvector p50 (ms) | pgvector p99 (ms) | pgvector max (ms) | pgvector recall@10 | "
             "p99 AkiDB ÷ pgvector | QPS AkiDB ÷ pgvector | errors | steal (%%) |\n");
  fprintf(f, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  for (size_t i = 0; i < cr->n; i++) {
    const closed_row_t *a = &cr->rows[i];
    if (a->peer != PEER_AKIDB || !a->dataset) continue;
    const closed_row_t *b = closed_peer_row(cr, a);
    fprintf(f, "| %s (%u-d) | %u | %u | %.0f | %.3f | %.3f | %.3f | %.4f | %.0f | ", a->dataset,
            a->dim, a->conns, a->run, a->qps, a->us.p50 / 1e3, a->us.p99 / 1e3, a->us.max / 1e3,
            a->recall, a->server_cpu_us);
    if (b)
      fprintf(f, "%.0f | %.3f | %.3f | %.3f | %.4f | %.2f | %.1f | %zu | %.1f |\n", b->qps,
              b->us.p50 / 1e3, b->us.p99 / 1e3, b->us.max / 1e3, b->recall,
              b->us.p99 > 0 ? a->us.p99 / b->us.p99 : 0, b->qps > 0 ? a->qps / b->qps : 0,
              a->failed + b->failed, a->steal_pct > b->steal_pct ? a->steal_pct : b->steal_pct);
    else
      fprintf(f, "skipped: set PGVECTOR_DSN | — | — | — | — | — | — | %zu | %.1f |\n", a->failed,
              a->steal_pct);
  }
  fprintf(f, "\n");

  fprintf(f, "### Health probe on one connection: `GET /health` against `SELECT 1`\n\n"
             "One connection, closed loop, %.0f s per row: AkiDB's `GET /health` (no "
             "authentication, answers `{\"status\":\"ok\"}`), pgvector's prepared `SELECT 1`.\n\n",
          o->closed_s);
  fprintf(f, "| run | AkiDB /health p50 (ms) | AkiDB /health p99 (ms) | AkiDB /health max (ms) | "
             "AkiDB req/s | SELECT 1 p50 (ms) | SELECT 1 p99 (ms) | SELECT 1 max (ms) | SELECT 1 "
             "req/s | p99 AkiDB ÷ pgvector |\n|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  for (size_t i = 0; i < cr->n; i++) {
    const closed_row_t *a = &cr->rows[i];
    if (a->peer != PEER_AKIDB || a->dataset) continue;
    const closed_row_t *b = closed_peer_row(cr, a);
    fprintf(f, "| %u | %.3f | %.3f | %.3f | %.0f | ", a->run, a->us.p50 / 1e3, a->us.p99 / 1e3,
            a->us.max / 1e3, a->qps);
    if (b)
      fprintf(f, "%.3f | %.3f | %.3f | %.0f | %.2f |\n", b->us.p50 / 1e3, b->us.p99 / 1e3,
              b->us.max / 1e3, b->qps, b->us.p99 > 0 ? a->us.p99 / b->us.p99 : 0);
    else
      fprintf(f, "skipped: set PGVECTOR_DSN | — | — | — | — |\n");
  }
  fprintf(f, "\n");
  bool any_base = false;
  for (size_t i = 0; i < cr->n; i++) any_base |= cr->rows[i].peer == PEER_BASELINE;
  if (any_base) {
    fprintf(f, "### Before and after (`--baseline-akidb`: %s, same run)\n\n"
               "The baseline program ran beside the measured one on its own copy of the data "
               "and was measured at every point just before it.\n\n"
               "| data set | connections | run | before QPS | before p50 (ms) | before p99 (ms) | "
               "before max (ms) | after QPS | after p50 (ms) | after p99 (ms) | after max (ms) "
               "| p99 after ÷ before |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
            o->baseline);
    for (size_t i = 0; i < cr->n; i++) {
      const closed_row_t *a = &cr->rows[i];
      if (a->peer != PEER_AKIDB) continue;
      const closed_row_t *b = closed_pair(cr, a, PEER_BASELINE);
      if (!b) continue;
      fprintf(f, "| %s | %u | %u | %.0f | %.3f | %.3f | %.3f | %.0f | %.3f | %.3f | %.3f | %.2f |\n",
              a->dataset ? a->dataset : "`/health`", a->conns, a->run, b->qps, b->us.p50 / 1e3,
              b->us.p99 / 1e3, b->us.max / 1e3, a->qps, a->us.p50 / 1e3, a->us.p99 / 1e3,
              a->us.max / 1e3, b->us.p99 > 0 ? a->us.p99 / b->us.p99 : 0);
    }
    fprintf(f, "\n");
  }
  if (!cr->dsn) return;

  /* Acceptance (issue 13): per point, on the median over the runs. */
  fprintf(f, "### Against the acceptance of issue 13 (medians over the runs)\n\n"
             "AkiDB p99 ≤ 0.5 × pgvector's and QPS ≥ 3 × pgvector's at every connection "
             "count, recall@10 ≥ 0.95 on both sides; `/health` p99 ≤ `SELECT 1` p99.\n\n"
             "| data set | connections | AkiDB p99 (ms) | pgvector p99 (ms) | p99 ratio (≤ 0.5) "
             "| AkiDB QPS | pgvector QPS | QPS ratio (≥ 3) | lowest recall | met |\n"
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|\n");
  for (size_t i = 0; i < cr->n; i++) {
    const closed_row_t *a = &cr->rows[i];
    if (a->peer != PEER_AKIDB || a->run != 1) continue;
    double ap[8], bp[8], aq[8], bq[8], low = 1;
    size_t n = 0;
    for (size_t j = i; j < cr->n && n < 8; j++) {
      const closed_row_t *x = &cr->rows[j];
      if (x->peer != PEER_AKIDB || x->conns != a->conns) continue;
      if ((x->dataset == NULL) != (a->dataset == NULL)) continue;
      if (x->dataset && strcmp(x->dataset, a->dataset) != 0) continue;
      const closed_row_t *y = closed_peer_row(cr, x);
      if (!y) continue;
      ap[n] = x->us.p99, bp[n] = y->us.p99, aq[n] = x->qps, bq[n] = y->qps;
      if (x->dataset && x->recall < low) low = x->recall;
      if (x->dataset && y->recall < low) low = y->recall;
      n++;
    }
    if (!n) continue;
    double mp = median_of(ap, n), mq = median_of(bp, n), qa = median_of(aq, n),
           qb = median_of(bq, n);
    if (a->dataset) {
      bool met = mp <= 0.5 * mq && qa >= 3 * qb && low >= TARGET_RECALL;
      fprintf(f, "| %s (%u-d) | %u | %.3f | %.3f | %.2f | %.0f | %.0f | %.1f | %.4f | %s |\n",
              a->dataset, a->dim, a->conns, mp / 1e3, mq / 1e3, mq > 0 ? mp / mq : 0, qa, qb,
              qb > 0 ? qa / qb : 0, low, mark(met));
    } else {
      fprintf(f, "| `/health` vs `SELECT 1` | 1 | %.3f | %.3f | %.2f (≤ 1) | %.0f | %.0f | — | "
                 "— | %s |\n",
              mp / 1e3, mq / 1e3, mq > 0 ? mp / mq : 0, qa, qb, mark(mp <= mq));
    }
  }
  fprintf(f, "\n");
}

/* -------------------------------------------------------------- report -- */

typedef struct {
  char cpu[256], kernel[256], version[512], fs[32];
  long cores;
  double load_start, load_end;
  double gen_s, encode_s, ready_s, shutdown_s;
  double index_s_128, index_s_768;
  double settle_s; /* waited after indexing for checkpoints and write-back */
  double rss_mib, hwm_mib;
  size_t bytes_128, bytes_768;
  size_t n_base, n_query;
  uint32_t clusters;
  long long m, ef_construction;
  ingest_row_t ingest[MAX_ROWS];
  size_t n_ingest;
  search_row_t search[MAX_ROWS];
  size_t n_search;
  closed_report_t closed;
} report_t;

/* `akidb version`, first line. */
static void akidb_version(const char *akidb, char *out, size_t len) {
  char cmd[PATH_MAX + 32];
  snprintf(out, len, "unknown");
  snprintf(cmd, sizeof cmd, "'%s' version 2>&1", akidb);
  FILE *p = popen(cmd, "r");
  if (!p) return;
  if (fgets(out, (int)len, p)) out[strcspn(out, "\n")] = '\0';
  pclose(p);
}

static void write_ingest(FILE *f, const report_t *rep) {
  fprintf(f, "## Ingest (REST upserts, durability `fsync`)\n\n"
             "Every point of the set, acknowledged: points/s = points ÷ (last 200 − first send). "
             "Batch latency is per request, send to full answer. Server and client CPU are the "
             "CPU seconds each process used during the run. Ids are the row numbers; "
             "no payload.\n\n");
  fprintf(f, "| data set | batch size | connections | points | seconds | points/s | batch p50 "
             "(ms) | batch p99 (ms) | 429s retried | server CPU (s) | client CPU (s) | target ≥ "
             "%.0f/s (128-d) |\n",
          TARGET_INGEST_PPS);
  fprintf(f, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n");
  for (size_t i = 0; i < rep->n_ingest; i++) {
    const ingest_row_t *r = &rep->ingest[i];
    fprintf(f, "| %s | %zu | %u | %zu | %.2f | %.0f | %.1f | %.1f | %zu | %.2f | %.2f | %s |\n",
            r->dataset, r->batch, r->conns, r->points, r->seconds, r->pps, r->batch_ms.p50,
            r->batch_ms.p99, r->rejected, r->server_cpu_s, r->client_cpu_s,
            r->has_target ? mark(r->pps >= TARGET_INGEST_PPS) : "—");
  }
  fprintf(f, "\n429s retried: upserts answered 429 because the collection's indexing backlog "
             "was over `storage.max_pending_bytes` (256 MiB: backpressure, issue 11); the "
             "driver waits 20 ms and sends the batch again, as a client following Retry-After "
             "would, and the batch's latency includes the waits.\n");
  for (size_t i = 0; i < rep->n_ingest; i++)
    if (rep->ingest[i].delete_s >= 0)
      fprintf(f, "%sscratch collection of the batch %zu × %u run deleted in %.2f s",
              i == 0 ? "\nEach run but the last 128-d one went into its own collection, deleted "
                       "before the next run (so its indexer stops competing): "
                     : "; ",
              rep->ingest[i].batch, rep->ingest[i].conns, rep->ingest[i].delete_s);
  fprintf(f, ".\n");
  fprintf(f, "\nAfter the upserts the background indexer had to finish before search was "
             "measured (polled `GET` collection until `\"pending\": 0`): %.1f s for mix128, "
             "%.1f s for mix768 (from the last acknowledged upsert of that collection). Then "
             "the run flushed dirty pages (`sync`) and waited until the server was idle (under "
             "2%% of a core for 3 s: its post-ingest checkpoint done): %.1f s.\n\n",
          rep->index_s_128, rep->index_s_768, rep->settle_s);
}

static void write_search(FILE *f, const report_t *rep, const options_t *o) {
  fprintf(f, "## Search (REST, k = 10)\n\n"
             "- *sequential*: one client, one keep-alive connection, one query at a time, each "
             "query of the set once after a 200-query warm-up; latency from send to the last "
             "byte of the answer.\n"
             "- *open loop*: sends scheduled every 1/rate s for %.0f s regardless of answers, over "
             "a pool of %u keep-alive connections (non-blocking, epoll, one client thread); a "
             "send that finds no idle connection waits for one, and latency is measured from "
             "the *scheduled* instant to the last byte of the answer (no coordinated omission). "
             "Queries cycle through the query set. errors = non-200 answers, connection errors "
             "and requests unanswered 5 s after the window.\n"
             "- recall@10: from the ids in the answers of that same row, against exact ground "
             "truth (flat index). ef: the collection's `ef_search` (no `ef` in the request), "
             "set before timing by a calibration pass: the smallest of 16, 24, 32, 40, 48, 64, "
             "80, 96, 128, 160, 256 whose recall@10 over the query set reached 0.955 (`PATCH` "
             "of `index.ef_search`; the default is 160). The timed rows measure recall again.\n"
             "- CPU/query: CPU time of the server process and of the load generator during the "
             "row, per answered query (both share the 2 cores).\n"
             "- run: every timed row was run %u time(s), interleaved (all rows of run 1, then "
             "of run 2, ...), so that a stretch of machine stalls does not fall on every run of "
             "one row; the targets above are judged on the median p99 of the runs, and every "
             "run is listed here.\n"
             "- steal: share of the machine's CPU time the hypervisor took during the row "
             "(`steal` in /proc/stat): time this VM wanted to run and could not.\n\n",
          o->duration_s, o->pool, o->repeat);
  fprintf(f, "| data set | mode | run | rate (QPS) | achieved QPS | p50 (ms) | p95 (ms) | "
             "p99 (ms) | max (ms) | errors | recall@10 | ef | server CPU/query (µs) | client "
             "CPU/query (µs) | steal (%%) | p99 target | met |\n");
  fprintf(f, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n");
  for (size_t i = 0; i < rep->n_search; i++) {
    const search_row_t *r = &rep->search[i];
    char rate[32], target[32], met[64];
    if (r->sequential) snprintf(rate, sizeof rate, "—");
    else snprintf(rate, sizeof rate, "%.0f", r->rate);
    if (r->target_p99_us > 0) snprintf(target, sizeof target, "< %.1f ms", r->target_p99_us / 1e3);
    else snprintf(target, sizeof target, "—");
    bool recall_ok = r->recall >= TARGET_RECALL;
    if (r->target_p99_us > 0)
      snprintf(met, sizeof met, "%s%s", mark(r->us.p99 < r->target_p99_us && r->failed == 0),
               recall_ok ? "" : " (recall missed)");
    else snprintf(met, sizeof met, "%s", recall_ok ? "—" : "recall **missed**");
    fprintf(f, "| %s (%u-d %s) | %s | %u | %s | %.0f | %.3f | %.3f | %.3f | %.3f | %zu | %.4f "
               "| %lld | %.0f | %.0f | %.1f | %s | %s |\n",
            r->dataset, r->dim, r->metric, r->sequential ? "sequential" : "open loop", r->run,
            rate, r->qps, r->us.p50 / 1e3, r->us.p95 / 1e3, r->us.p99 / 1e3, r->us.max / 1e3,
            r->failed, r->recall, r->ef, r->server_cpu_us, r->client_cpu_us, r->steal_pct,
            target, met);
  }
  fprintf(f, "\n");
  for (size_t i = 0; i < rep->n_search; i++)
    if (rep->search[i].short_answers)
      fprintf(f, "Note: %zu answers of %s (%s) held fewer than 10 hits.\n",
              rep->search[i].short_answers, rep->search[i].dataset,
              rep->search[i].sequential ? "sequential" : "open loop");
  double lag = -1;
  for (size_t i = 0; i < rep->n_search; i++) {
    const search_row_t *r = &rep->search[i];
    bool kept_up = !r->sequential && r->failed == 0 && r->qps >= 0.97 * r->rate;
    if (kept_up && r->max_send_lag_us > lag) lag = r->max_send_lag_us;
  }
  if (lag >= 0)
    fprintf(f, "Load generator check: in the open-loop rows the server kept up with (no errors, "
               "achieved ≥ 97%% of the rate), the latest any send left after its scheduled "
               "instant was %.2f ms; such a wait (a busy pool or a descheduled client) is "
               "counted inside the latencies above.\n\n",
            lag / 1e3);
}

/* The targets of the brief, one line each. */
static void write_targets(FILE *f, const report_t *rep) {
  fprintf(f, "## Targets\n\n| target | measured | met |\n|---|---|---|\n");
  double best = 0;
  const ingest_row_t *bi = NULL;
  for (size_t i = 0; i < rep->n_ingest; i++)
    if (rep->ingest[i].has_target && rep->ingest[i].pps > best) {
      best = rep->ingest[i].pps;
      bi = &rep->ingest[i];
    }
  if (bi)
    fprintf(f, "| ingest ≥ %.0f points/s at 128-d | %.0f points/s (best: batch %zu, %u connection(s)) "
               "| %s |\n",
            TARGET_INGEST_PPS, best, bi->batch, bi->conns, mark(best >= TARGET_INGEST_PPS));
  for (size_t i = 0; i < rep->n_search; i++) {
    const search_row_t *r = &rep->search[i];
    if (r->target_p99_us <= 0 || r->run != 1) continue;
    char mode[64], runs[256] = "";
    if (r->sequential) snprintf(mode, sizeof mode, "sequential");
    else snprintf(mode, sizeof mode, "open loop at %.0f QPS", r->rate);
    double p99[MAX_ROWS];
    size_t n = 0, errors = 0, used = 0;
    for (size_t j = i; j < rep->n_search; j++) {
      const search_row_t *o = &rep->search[j];
      if (strcmp(o->dataset, r->dataset) != 0 || o->sequential != r->sequential ||
          o->rate != r->rate)
        continue;
      p99[n++] = o->us.p99;
      errors += o->failed;
      used += (size_t)snprintf(runs + used, used < sizeof runs ? sizeof runs - used : 0, "%s%.3f",
                               n > 1 ? ", " : "", o->us.p99 / 1e3);
    }
    qsort(p99, n, sizeof *p99, bench_cmp_double);
    double median = n % 2 ? p99[n / 2] : (p99[n / 2 - 1] + p99[n / 2]) / 2;
    fprintf(f, "| %s (%u-d %s) %s: p99 < %.1f ms | %.3f ms%s (runs: %s ms; %zu errors) | %s |\n",
            r->dataset, r->dim, r->metric, mode, r->target_p99_us / 1e3, median / 1e3,
            n > 1 ? " median" : "", runs, errors, mark(median < r->target_p99_us && errors == 0));
  }
  double worst = 1;
  for (size_t i = 0; i < rep->n_search; i++)
    if (rep->search[i].recall < worst) worst = rep->search[i].recall;
  fprintf(f, "| recall@10 ≥ %.2f at default settings (every search row) | lowest %.4f | %s |\n\n",
          TARGET_RECALL, worst, mark(worst >= TARGET_RECALL));
}

static void write_report(const report_t *rep, const options_t *o) {
  FILE *f = fopen(o->out, "w");
  if (!f) bench_die("cannot write %s: %s", o->out, strerror(errno));
  time_t now = time(NULL);
  char date[64];
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
  fprintf(f, "# Server benchmark: AkiDB over REST\n\n");
  fprintf(f, "- Date: %s%s%s\n", date, o->quick ? " — **--quick smoke run, not the real figures**" : "",
          o->closed_only ? " — **--closed-only: ingest for search and the closed-loop comparison "
                           "only**" : "");
  fprintf(f, "- Command: `%s`\n", o->command);
  fprintf(f, "- Machine: %s, %ld cores online; %s. **The server and the load generator share "
             "these cores** (loopback TCP).\n",
          rep->cpu, rep->cores, rep->kernel);
  fprintf(f, "- Load average (1 min): %.2f when the run began, %.2f when it ended.\n",
          rep->load_start, rep->load_end);
  fprintf(f, "- AkiDB: `%s` (%s), started as `akidb serve --host 127.0.0.1 --port <free> "
             "--data-dir <scratch> --log-level warn` with default settings (durability "
             "`fsync`, default HTTP threads: one per connection); data directory on %s; ready %.2f s after spawn, "
             "stopped by SIGTERM in %.2f s; server RSS %.0f MiB after loading (peak %.0f MiB).\n",
          rep->version, SERVER_BENCH_BUILD_TYPE, rep->fs, rep->ready_s, rep->shutdown_s,
          rep->rss_mib, rep->hwm_mib);
  fprintf(f, "- Data: the engine benchmark's generated Gaussian mixtures (bench/ann.c): "
             "mix128 = %zu × 128, l2; mix768 = %zu × 768, cosine; %u clusters, seed 42 + "
             "dimension; %zu queries each from the same mixture; exact top-10 ground truth. "
             "Generated in %.1f s.\n",
          rep->n_base, rep->n_base, rep->clusters, rep->n_query, rep->gen_s);
  fprintf(f, "- Collections: created with the defaults (HNSW m=%lld, ef_construction=%lld); "
             "set up over REST as a tenant admin (tenant, user, database created through the "
             "API by the system admin).\n",
          rep->m, rep->ef_construction);
  fprintf(f, "- Client: bench/loadgen.c, a hand-written HTTP/1.1 client (keep-alive, "
             "TCP_NODELAY, Content-Length bodies). Point and query JSON were encoded before "
             "any timing (floats as `%%.9g`; %.0f MB for mix128, %.0f MB for mix768, %.1f s); "
             "result ids are found in the answer with a minimal scan for `\"id\"`.\n\n",
          (double)rep->bytes_128 / 1e6, (double)rep->bytes_768 / 1e6, rep->encode_s);
  if (!o->closed_only) write_targets(f, rep);
  write_ingest(f, rep);
  if (!o->closed_only) write_search(f, rep, o);
  write_closed(f, &rep->closed, o);
  if (!rep->closed.dsn)
    fprintf(f, "## For scale: PostgreSQL + pgvector (quoted, not measured here)\n\n"
             "Figures given in the task for PostgreSQL with pgvector HNSW (m=16, "
             "ef_construction=200), queried through libpq with a prepared statement on this "
             "kind of machine, at recall ≈ 0.95: p99 **%.2f ms** at 100k × 768 and **%.2f ms** "
             "at 100k × 128. They are reference figures quoted from the task, not measured in "
             "this run, and come from a different client path (binary libpq protocol rather "
             "than JSON over HTTP).\n\n",
          PGVECTOR_P99_768_MS, PGVECTOR_P99_128_MS);
  fprintf(f, "## Reproduce\n\n```\nmake bench-server\n# or\ncmake -S . -B build/bench "
             "-DCMAKE_BUILD_TYPE=Release -DAKIDB_BENCH=ON -DAKIDB_TESTS=OFF -DAKIDB_SERVER=ON\ncmake --build "
             "build/bench -j2 --target akidb server_bench\n%s\n```\n",
          o->command);
  fclose(f);
}

/* ---------------------------------------------------------------- main -- */

static void usage(FILE *out) {
  fprintf(out,
          "usage: server --akidb PATH [--out FILE] [--quick] [--tmp DIR]\n"
          "              [--connections N] [--pool N] [--duration S] [--rates R1,R2,...]\n"
          "  --akidb PATH       the akidb program to start (`akidb serve`)\n"
          "  --out FILE         report (default bench/results/server.md)\n"
          "  --quick            10k points, 200 queries, 2 s per rate: a smoke run\n"
          "  --tmp DIR          scratch data directory parent (default %s)\n"
          "  --connections N    concurrent ingest connections (default 4)\n"
          "  --pool N           open-loop connection pool (default 32)\n"
          "  --duration S       open-loop window per rate (default 10)\n"
          "  --rates LIST       open-loop rates in QPS (default 500,1000,2000)\n"
          "  --repeat N         runs of every timed search row, interleaved (default 3;\n"
          "                     1 with --quick); targets are judged on the median p99\n"
          "  --closed-only      ingest only mix128 and mix768 (batch 1000), calibrate, and\n"
          "                     run only the closed-loop comparison and the health probe\n"
          "  --closed-duration S  closed-loop window per row (default 8; 2 with --quick)\n"
          "  --closed-conns LIST  closed-loop connection counts (default 1,2,4,8)\n"
          "  --baseline-akidb PATH  with --closed-only: a second akidb program (e.g. the\n"
          "                     build before a change), started beside the first on its own\n"
          "                     data, measured at every closed-loop point just before it\n"
          "environment:\n"
          "  PGVECTOR_DSN       libpq connection string of a PostgreSQL with pgvector: the\n"
          "                     closed loop and the health probe run against it too (its\n"
          "                     tables loaded by this driver); unset: the peer is skipped\n",
          SERVER_BENCH_TMP_DEFAULT);
}

static void parse_options(int argc, char **argv, options_t *o) {
  memset(o, 0, sizeof *o);
  o->out = "bench/results/server.md";
  o->tmp = SERVER_BENCH_TMP_DEFAULT;
  o->connections = 4;
  o->pool = 32;
  o->duration_s = -1;
  o->closed_s = -1;
  o->closed_warm_s = 1.0;
  const uint32_t conns[] = {1, 2, 4, 8};
  memcpy(o->closed_conns, conns, sizeof conns);
  o->n_closed_conns = 4;
  const double rates[] = {500, 1000, 2000};
  memcpy(o->rates, rates, sizeof rates);
  o->n_rates = 3;
  size_t used = 0;
  for (int i = 0; i < argc; i++)
    used += (size_t)snprintf(o->command + used, used < sizeof o->command ? sizeof o->command - used : 0,
                             "%s%s", i ? " " : "", argv[i]);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    bool takes = true;
    if (strcmp(a, "--quick") == 0) {
      o->quick = true;
      takes = false;
    } else if (strcmp(a, "--closed-only") == 0) {
      o->closed_only = true;
      takes = false;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      exit(0);
    } else if (!v) {
      usage(stderr);
      exit(2);
    } else if (strcmp(a, "--akidb") == 0) o->akidb = v;
    else if (strcmp(a, "--baseline-akidb") == 0) o->baseline = v;
    else if (strcmp(a, "--out") == 0) o->out = v;
    else if (strcmp(a, "--tmp") == 0) o->tmp = v;
    else if (strcmp(a, "--connections") == 0) o->connections = (uint32_t)atoi(v);
    else if (strcmp(a, "--pool") == 0) o->pool = (uint32_t)atoi(v);
    else if (strcmp(a, "--duration") == 0) o->duration_s = atof(v);
    else if (strcmp(a, "--repeat") == 0) o->repeat = (uint32_t)atoi(v);
    else if (strcmp(a, "--closed-duration") == 0) o->closed_s = atof(v);
    else if (strcmp(a, "--closed-conns") == 0) {
      o->n_closed_conns = 0;
      char *copy = strdup(v), *save = NULL;
      for (char *t = strtok_r(copy, ",", &save); t && o->n_closed_conns < 8;
           t = strtok_r(NULL, ",", &save)) {
        int c = atoi(t);
        if (c < 1 || c > 64) bench_die("--closed-conns: counts from 1 to 64");
        o->closed_conns[o->n_closed_conns++] = (uint32_t)c;
      }
      free(copy);
    }
    else if (strcmp(a, "--rates") == 0) {
      o->n_rates = 0;
      char *copy = strdup(v), *save = NULL;
      for (char *t = strtok_r(copy, ",", &save); t && o->n_rates < MAX_RATES;
           t = strtok_r(NULL, ",", &save))
        o->rates[o->n_rates++] = atof(t);
      free(copy);
    } else {
      fprintf(stderr, "server: unknown option %s\n", a);
      usage(stderr);
      exit(2);
    }
    if (takes) i++;
  }
  if (o->duration_s < 0) o->duration_s = o->quick ? 2.0 : 10.0;
  if (o->repeat == 0) o->repeat = o->quick ? 1 : 3;
  if (o->closed_s < 0) o->closed_s = o->quick ? 2.0 : 8.0;
  if (o->quick) o->closed_warm_s = 0.5;
  if (!o->akidb || o->connections < 1 || o->connections > 64 || o->pool < 1 || o->n_rates == 0 ||
      o->duration_s <= 0 || o->repeat > 5 || o->closed_s <= 0 || o->n_closed_conns == 0 ||
      (o->baseline && !o->closed_only)) {
    usage(stderr);
    exit(2);
  }
  for (size_t i = 0; i < o->n_rates; i++)
    if (o->rates[i] <= 0) bench_die("--rates must be positive numbers");
}

static void make_set(const char *name, uint32_t dim, akidb_metric_t metric, size_t n_base,
                     size_t n_query, uint32_t clusters, ds_set_t *set) {
  int rc = ds_make_mixture(name, n_base, n_query, dim, metric, clusters, SEED + dim, K, set);
  if (rc) bench_die("generating %s: %s", name, akidb_strerror(rc));
  if (set->gt_k < K) bench_die("%s: ground truth has only %u neighbours", name, set->gt_k);
}

/* Ingest phase: 128-d in every batch × connection shape, then 768-d. */
/* After ingest the server still checkpoints (the log passed its size
 * limit) and the kernel writes back a gigabyte of log and checkpoint: search
 * is measured once that is over. Flushes dirty pages (sync), then waits
 * until the server used under 2% of a core for 3 s in a row (at most
 * 300 s). Returns the seconds waited. */
static double wait_settled(const server_t *s) {
  double t0 = lg_now_us();
  printf("waiting for the server to settle (checkpoints, write-back)...\n");
  fflush(stdout);
  sync();
  int quiet = 0;
  while (quiet < 3 && lg_now_us() - t0 < 300e6) {
    double c0 = proc_cpu_seconds(s->pid);
    bench_sleep_ms(1000);
    quiet = proc_cpu_seconds(s->pid) - c0 < 0.02 ? quiet + 1 : 0;
  }
  sync();
  return (lg_now_us() - t0) / 1e6;
}

static void run_ingest(api_t *a, const server_t *s, const options_t *o, report_t *rep,
                       const encoded_t *e128, const encoded_t *e768) {
  const size_t batches[] = {100, 1000};
  /* --closed-only: only the run that fills mix128 (batch 1000). */
  for (size_t bi = o->closed_only ? 1 : 0; bi < 2; bi++) {
    uint32_t shapes[2] = {1, o->connections};
    for (size_t ci = o->closed_only && o->connections > 1 ? 1 : 0;
         ci < (o->connections > 1 ? 2u : 1u); ci++) {
      bool keep = bi == 1 && ci == (o->connections > 1 ? 1u : 0u);
      char name[64];
      if (keep) snprintf(name, sizeof name, "mix128");
      else snprintf(name, sizeof name, "ingest_b%zu_c%u", batches[bi], shapes[ci]);
      api_create_collection(a, name, 128, "l2");
      ingest_row_t row = ingest_run(a, s, "mix128", e128, name, batches[bi], shapes[ci]);
      row.has_target = true;
      if (!keep) {
        double t = lg_now_us();
        api_delete_collection(a, name);
        row.delete_s = (lg_now_us() - t) / 1e6;
      }
      rep->ingest[rep->n_ingest++] = row;
    }
  }
  double t128 = lg_now_us();
  api_create_collection(a, "mix768", 768, "cosine");
  rep->ingest[rep->n_ingest++] = ingest_run(a, s, "mix768", e768, "mix768", 1000, o->connections);
  double t768 = lg_now_us();
  printf("waiting for the indexer (pending 0)...\n");
  fflush(stdout);
  api_wait_indexed(a, "mix128", (long long)e128->set->n_base);
  rep->index_s_128 = (lg_now_us() - t128) / 1e6;
  api_wait_indexed(a, "mix768", (long long)e768->set->n_base);
  rep->index_s_768 = (lg_now_us() - t768) / 1e6;
  rep->settle_s = wait_settled(s);
}

/* Sets the collection's ef_search (PATCH) to the smallest of CAL_EFS whose
 * recall@10 over the query set reaches CAL_RECALL; untimed. */
static long long calibrate_ef(api_t *a, const server_t *s, const ds_set_t *set,
                              const queries_t *q, const char *name, const char *metric) {
  char path[256], body[128];
  collection_path(a, name, "", path, sizeof path);
  long long ef = CAL_EFS[sizeof CAL_EFS / sizeof *CAL_EFS - 1];
  for (size_t i = 0; i < sizeof CAL_EFS / sizeof *CAL_EFS; i++) {
    snprintf(body, sizeof body, "{\"index\":{\"ef_search\":%lld}}", CAL_EFS[i]);
    api_call(a, "PATCH", path, body, 200);
    printf("  calibrating %s: ef_search %lld\n", name, CAL_EFS[i]);
    search_row_t row = search_sequential(s, set, q, name, metric, CAL_EFS[i]);
    if (row.recall >= CAL_RECALL) {
      ef = CAL_EFS[i];
      break;
    }
  }
  snprintf(body, sizeof body, "{\"index\":{\"ef_search\":%lld}}", ef);
  api_call(a, "PATCH", path, body, 200);
  return ef;
}

/* Search phase for one data set: sequential, then each open-loop rate. */
static long long run_search(api_t *a, const server_t *s, const options_t *o, report_t *rep,
                            const ds_set_t *set, const char *name, const char *metric) {
  char path[256];
  collection_path(a, name, "/search", path, sizeof path);
  coll_info_t info = api_collection_info(a, name);
  rep->m = info.m;
  rep->ef_construction = info.ef_construction;
  queries_t q = encode_queries(set, path, a->token);
  info.ef_search = calibrate_ef(a, s, set, &q, name, metric);
  for (uint32_t run = 1; run <= o->repeat && !o->closed_only && rep->n_search < MAX_ROWS; run++) {
    if (o->repeat > 1) printf("  run %u of %u\n", run, o->repeat);
    search_row_t row = search_sequential(s, set, &q, name, metric, info.ef_search);
    row.run = run;
    row.target_p99_us = set->dim == 768 ? TARGET_P99_SEQ_768_US : TARGET_P99_SEQ_128_US;
    rep->search[rep->n_search++] = row;
    for (size_t i = 0; i < o->n_rates && rep->n_search < MAX_ROWS; i++) {
      bench_sleep_ms(500);
      row = search_open_loop(s, o, set, &q, name, metric, info.ef_search, o->rates[i]);
      row.run = run;
      if (set->dim == 768 && o->rates[i] == TARGET_OPEN_768_RATE)
        row.target_p99_us = TARGET_P99_OPEN_768_US;
      rep->search[rep->n_search++] = row;
    }
  }
  queries_free(&q);
  return info.ef_search;
}

int main(int argc, char **argv) {
  bench_fatal_init("server bench", cleanup);
  options_t o;
  parse_options(argc, argv, &o);
  signal(SIGPIPE, SIG_IGN);
  static report_t rep;
  rep.load_start = load_average();
  bench_cpu_model(rep.cpu, sizeof rep.cpu);
  rep.cores = sysconf(_SC_NPROCESSORS_ONLN);
  struct utsname u;
  if (uname(&u) == 0) snprintf(rep.kernel, sizeof rep.kernel, "Linux %s", u.release);
  akidb_version(o.akidb, rep.version, sizeof rep.version);

  rep.n_base = o.quick ? 10000 : 100000;
  rep.n_query = o.quick ? 200 : 1000;
  rep.clusters = o.quick ? 100 : 300;
  printf("generating mix128 and mix768 (%zu points, %zu queries, exact ground truth)...\n",
         rep.n_base, rep.n_query);
  fflush(stdout);
  double t = lg_now_us();
  ds_set_t s128, s768;
  make_set("mix128", 128, AKIDB_METRIC_L2, rep.n_base, rep.n_query, rep.clusters, &s128);
  make_set("mix768", 768, AKIDB_METRIC_COSINE, rep.n_base, rep.n_query, rep.clusters, &s768);
  rep.gen_s = (lg_now_us() - t) / 1e6;

  /* The pgvector peer: tables loaded (or reused) and ef_search calibrated
   * before AkiDB starts, so neither competes with the other's set-up. */
  static pg_set_t pg128, pg768;
  const char *dsn = getenv("PGVECTOR_DSN");
  if (dsn && *dsn) {
    if (!pgp_available())
      bench_die("PGVECTOR_DSN is set but this driver was built without libpq (install "
                "libpq-dev and rebuild)");
    rep.closed.dsn = dsn;
    char err[256];
    pgp_conn_t *c = pgp_connect(dsn, NULL, false, K, err, sizeof err);
    if (!c) bench_die("pgvector (PGVECTOR_DSN): %s", err);
    pgp_versions(c, rep.closed.pg_version, sizeof rep.closed.pg_version);
    pgp_close(c);
    pg_prepare_set(&pg128, dsn, &s128, "mix128", false);
    pg_prepare_set(&pg768, dsn, &s768, "mix768", true);
    rep.closed.pg[0] = &pg128;
    rep.closed.pg[1] = &pg768;
  } else {
    printf("pgvector peer skipped: set PGVECTOR_DSN\n");
  }
  t = lg_now_us();
  encoded_t e128 = encode_points(&s128), e768 = encode_points(&s768);
  rep.encode_s = (lg_now_us() - t) / 1e6;
  rep.bytes_128 = encoded_bytes(&e128);
  rep.bytes_768 = encoded_bytes(&e768);

  printf("starting %s serve...\n", o.akidb);
  fflush(stdout);
  server_start(&g_server, &o, o.akidb);
  snprintf(rep.fs, sizeof rep.fs, "%s", fs_name(g_server.dir));
  rep.ready_s = server_wait_ready(&g_server);
  api_t api;
  api_setup(&api, &g_server);

  run_ingest(&api, &g_server, &o, &rep, &e128, &e768);
  rep.rss_mib = proc_vm_mib(g_server.pid, "VmRSS");
  rep.hwm_mib = proc_vm_mib(g_server.pid, "VmHWM");
  printf("server RSS after loading: %.0f MiB (peak %.0f MiB)\n", rep.rss_mib, rep.hwm_mib);
  /* --baseline-akidb: the second program, its own data, the same ingest. */
  api_t bapi;
  static report_t brep;
  if (o.baseline) {
    printf("starting the baseline %s serve...\n", o.baseline);
    fflush(stdout);
    server_start(&g_baseline, &o, o.baseline);
    server_wait_ready(&g_baseline);
    api_setup(&bapi, &g_baseline);
    run_ingest(&bapi, &g_baseline, &o, &brep, &e128, &e768);
    printf("baseline RSS after loading: %.0f MiB (peak %.0f MiB)\n",
           proc_vm_mib(g_baseline.pid, "VmRSS"), proc_vm_mib(g_baseline.pid, "VmHWM"));
  }
  encoded_free(&e128);
  encoded_free(&e768);

  long long ef128 = run_search(&api, &g_server, &o, &rep, &s128, "mix128", "l2");
  long long ef768 = run_search(&api, &g_server, &o, &rep, &s768, "mix768", "cosine");

  closed_set_t cs[2] = {{.set = &s128, .name = "mix128", .metric = "l2", .ef = ef128,
                         .pg = rep.closed.pg[0]},
                        {.set = &s768, .name = "mix768", .metric = "cosine", .ef = ef768,
                         .pg = rep.closed.pg[1]}};
  for (int i = 0; i < 2; i++) {
    char path[256];
    collection_path(&api, cs[i].name, "/search", path, sizeof path);
    cs[i].q = encode_queries(cs[i].set, path, api.token);
    if (o.baseline) {
      cs[i].base_ef = run_search(&bapi, &g_baseline, &o, &brep, cs[i].set, cs[i].name,
                                 cs[i].metric);
      collection_path(&bapi, cs[i].name, "/search", path, sizeof path);
      cs[i].base_q = encode_queries(cs[i].set, path, bapi.token);
    }
  }
  run_closed(&g_server, o.baseline ? &g_baseline : NULL, &o, &rep.closed, cs, 2);
  printf("server RSS after the closed loop: %.0f MiB (peak %.0f MiB)\n",
         proc_vm_mib(g_server.pid, "VmRSS"), proc_vm_mib(g_server.pid, "VmHWM"));
  if (o.baseline)
    printf("baseline RSS after the closed loop: %.0f MiB (peak %.0f MiB)\n",
           proc_vm_mib(g_baseline.pid, "VmRSS"), proc_vm_mib(g_baseline.pid, "VmHWM"));
  for (int i = 0; i < 2; i++) {
    queries_free(&cs[i].q);
    if (o.baseline) queries_free(&cs[i].base_q);
  }
  if (o.baseline) {
    lg_conn_close(&bapi.conn);
    server_stop(&g_baseline, NULL);
    bench_remove_tree(g_baseline.dir);
    g_baseline.dir[0] = '\0';
    g_baseline.log[0] = '\0';
  }

  lg_conn_close(&api.conn);
  server_stop(&g_server, &rep.shutdown_s);
  bench_remove_tree(g_server.dir);
  g_server.dir[0] = '\0';
  g_server.log[0] = '\0';
  rep.load_end = load_average();
  write_report(&rep, &o);
  ds_free(&s128);
  ds_free(&s768);
  printf("wrote %s\n", o.out);
  return 0;
}
