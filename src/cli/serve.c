/*
 * serve.c — owns `akidb serve`: loads the configuration (file, environment,
 * flags; errors exit 2), sets up the log, opens the service (printing the
 * bootstrapped system admin and a curl quickstart once, on the first start),
 * starts the REST server, loads the collections on a thread of its own (so
 * /health answers at once and /ready turns 200 when the load is done), runs
 * the service's housekeeping about once a minute, and on SIGTERM/SIGINT
 * drains the server, joins the load and closes the service (which
 * checkpoints every collection).
 *
 * Threads and signals: SIGTERM, SIGINT and SIGHUP are blocked before any
 * thread starts, so every thread inherits the mask and only the main thread
 * takes them, with sigtimedwait. Exit codes: 0 clean shutdown, 1 failure
 * (service, server, load or close), 2 bad configuration or usage.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#ifdef AKIDB_HAVE_GRPC
#include "grpc/agrpc.h"
#endif
#include "akidb/akidb.h"
#include "cli/cli.h"
#include "config/config.h"
#include "http/http.h"
#include "obs/log.h"
#include "service/service.h"
#include "util/thread.h"

#define TICK_SECONDS 60 /* akidb_service_tick period */
#define ERR_LEN 1024

static void usage(FILE *out) {
  fprintf(out,
          "usage: akidb serve [flags]\n"
          "\n"
          "Runs the AkiDB server: the REST API under /v1, /health, /ready and /metrics.\n"
          "Settings come from the configuration file, overridden by environment\n"
          "variables, overridden by flags (see config.example.toml for every key).\n"
          "\n"
          "flags:\n"
          "  --config FILE       the TOML configuration file (default: $AKIDB_CONFIG,\n"
          "                      else ./config.toml when it exists, else none)\n"
          "  --host H            listen address                    [server] host\n"
          "  --port N            REST port (0 = any free port)     [server] rest_port\n"
          "  --grpc-port N       gRPC port (0 = no gRPC server)    [server] grpc_port\n"
          "  --data-dir DIR      data directory                    [storage] data_dir\n"
          "  --db-path FILE      SQLite catalog file (default <data-dir>/akidb.db)\n"
          "                                                        [storage] db_path\n"
          "  --durability D      fsync | interval | none           [storage] durability\n"
          "  --worker-threads N  the worker pool (0 = one per CPU) [storage] worker_threads\n"
          "  --memory-budget-bytes B  resident collections beyond it are unloaded, least\n"
          "                      recently used first (0 = unlimited)\n"
          "                                                        [storage] memory_budget_bytes\n"
          "  --warm-after-s S    unload collections unused this long (0 = never)\n"
          "                                                        [tiering] warm_after_s\n"
          "  --cold-after-s S    upload warm collections unused this long to the object\n"
          "                      store (0 = never)                 [tiering] cold_after_s\n"
          "  --object-store K    auto | local | s3                 [object_store] kind\n"
          "  --log-level L       debug | info | warn | error       [log] level\n"
          "  --log-format F      text | json                       [log] format\n"
          "  --print-config      print the effective configuration as TOML and exit\n"
          "  --print-routes      print the REST routes (\"METHOD PATH\") and exit\n"
          "  -h, --help          this text\n"
          "Flags take their value as the next argument or after '=' (--port=8081).\n"
          "\n"
          "environment (an empty variable counts as unset):\n"
          "  AKIDB_CONFIG          the configuration file (as --config)\n"
          "  AKIDB_HOST            as --host\n"
          "  AKIDB_REST_PORT       as --port\n"
          "  AKIDB_GRPC_PORT       as --grpc-port\n"
          "  AKIDB_DATA_DIR        as --data-dir\n"
          "  AKIDB_DB_PATH         as --db-path\n"
          "  AKIDB_DURABILITY      as --durability\n"
          "  AKIDB_WORKER_THREADS  as --worker-threads\n"
          "  AKIDB_MEMORY_BUDGET_BYTES  as --memory-budget-bytes\n"
          "  AKIDB_WARM_AFTER_S    as --warm-after-s\n"
          "  AKIDB_COLD_AFTER_S    as --cold-after-s\n"
          "  AKIDB_OBJECT_STORE    as --object-store\n"
          "  AKIDB_S3_ENDPOINT, AKIDB_S3_BUCKET, AKIDB_S3_REGION  [object_store] endpoint,\n"
          "                        bucket, region\n"
          "  AKIDB_S3_ACCESS_KEY, AKIDB_S3_SECRET_KEY, AKIDB_S3_SESSION_TOKEN  the S3\n"
          "                        credentials (never read from the file, never printed)\n"
          "  AKIDB_LOG_LEVEL       as --log-level\n"
          "  AKIDB_LOG_FORMAT      as --log-format\n"
          "  AKIDB_SLOW_REQUEST_MS  [log] slow_request_ms\n"
          "  AKIDB_EMBEDDING_ALLOWED_URLS  [embedding] allowed_urls\n"
          "  ENABLE_TRACING        [tracing] enabled (true/false, 1/0)\n"
          "  AKIDB_TRACING_ENDPOINT, AKIDB_TRACING_SAMPLE_RATIO  [tracing] endpoint,\n"
          "                        sample_ratio\n"
          "  AKIDB_METRICS_PER_COLLECTION  [metrics] per_collection\n"
          "  AKIDB_ADMIN_PASSWORD  password of the system admin created at the first start\n"
          "                        (12..1024 bytes; never read from the file). Without it a\n"
          "                        password is generated and printed once.\n"
          "\n"
          "Signals: SIGTERM or SIGINT stops accepting requests, lets those in flight finish\n"
          "(up to [server] shutdown_drain_ms), checkpoints every collection and exits 0.\n"
          "Exit codes: 0 clean shutdown, 1 failure, 2 bad configuration or usage.\n");
}

/* ---------------------------------------------------------- quickstart -- */

/* Writes `s` as one single-quoted shell word. */
static void put_shell_quoted(FILE *out, const char *s) {
  fputc('\'', out);
  for (; *s; s++) {
    if (*s == '\'')
      fputs("'\\''", out);
    else
      fputc(*s, out);
  }
  fputc('\'', out);
}

/* The URL clients use: wildcard addresses become loopback, IPv6 gets brackets. */
static void base_url(const config_t *c, uint16_t port, char *out, size_t n) {
  const char *scheme = c->tls_cert_file[0] ? "https" : "http";
  const char *host = c->host;
  if (strcmp(host, "0.0.0.0") == 0) host = "127.0.0.1";
  if (strcmp(host, "::") == 0 || strcmp(host, "[::]") == 0) host = "::1";
  bool v6 = strchr(host, ':') != NULL && host[0] != '[';
  snprintf(out, n, "%s://%s%s%s:%u", scheme, v6 ? "[" : "", host, v6 ? "]" : "", (unsigned)port);
}

static void print_quickstart(FILE *out, const char *url, const config_t *c,
                             const akidb_bootstrap_t *boot) {
  bool generated = boot->admin_password[0] != '\0';
  const char *rule =
      "# ==========================================================================\n";
  fputs(rule, out);
  fprintf(out, "# AkiDB first start: created the system administrator\n");
  fprintf(out, "#   username: %s\n", boot->admin_username);
  if (generated) {
    fprintf(out, "#   password: %s\n", boot->admin_password);
    fprintf(out, "# This password is shown only this once: store it now. (Set\n"
                 "# AKIDB_ADMIN_PASSWORD before the first start to choose your own.)\n");
  } else {
    fprintf(out, "#   password: (from AKIDB_ADMIN_PASSWORD)\n");
  }
  fputs(rule, out);
  fprintf(out, "# Quickstart: paste into a shell (needs curl and jq).\n\n");
  fprintf(out, "AKIDB=%s\n", url);
  if (generated) {
    fputs("ADMIN_PASSWORD=", out);
    put_shell_quoted(out, boot->admin_password);
    fputc('\n', out);
  } else {
    fputs("ADMIN_PASSWORD=\"$AKIDB_ADMIN_PASSWORD\"  # the password the server started with\n",
          out);
  }
  fprintf(out, "JSON='Content-Type: application/json'\n");
  if (c->tls_cert_file[0])
    fprintf(out, "# HTTPS: with a self-signed certificate add --cacert %s (or -k) to curl.\n",
            c->tls_cert_file);
  fprintf(out,
          "\n# 1. Log in as the system administrator.\n"
          "ADMIN_TOKEN=$(curl -sS \"$AKIDB/v1/auth/login\" -H \"$JSON\" \\\n"
          "  -d \"$(jq -n --arg p \"$ADMIN_PASSWORD\" '{username: \"%s\", password: $p}')\" "
          "| jq -r .token)\n",
          boot->admin_username);
  fputs("\n# 2. Create a tenant and an admin user in it.\n"
        "curl -sS \"$AKIDB/v1/tenants\" -H \"$JSON\" -H \"Authorization: Bearer $ADMIN_TOKEN\" \\\n"
        "  -d '{\"slug\": \"demo\", \"name\": \"Demo\"}' | jq .\n"
        "curl -sS \"$AKIDB/v1/tenants/demo/users\" -H \"$JSON\" "
        "-H \"Authorization: Bearer $ADMIN_TOKEN\" \\\n"
        "  -d '{\"username\": \"alice\", \"role\": \"admin\", "
        "\"password\": \"quickstart-password-1\"}' | jq .\n"
        "\n# 3. Log in as that user.\n"
        "TOKEN=$(curl -sS \"$AKIDB/v1/auth/login\" -H \"$JSON\" \\\n"
        "  -d '{\"tenant\": \"demo\", \"username\": \"alice\", "
        "\"password\": \"quickstart-password-1\"}' | jq -r .token)\n"
        "\n# 4. Create a database and a 4-dimensional cosine collection.\n"
        "curl -sS \"$AKIDB/v1/tenants/demo/databases\" -H \"$JSON\" "
        "-H \"Authorization: Bearer $TOKEN\" \\\n"
        "  -d '{\"name\": \"main\"}' | jq .\n"
        "curl -sS \"$AKIDB/v1/tenants/demo/databases/main/collections\" -H \"$JSON\" "
        "-H \"Authorization: Bearer $TOKEN\" \\\n"
        "  -d '{\"name\": \"docs\", \"dimension\": 4, \"metric\": \"cosine\"}' | jq .\n"
        "\n# 5. Upsert two points.\n"
        "curl -sS \"$AKIDB/v1/tenants/demo/databases/main/collections/docs/points\" "
        "-H \"$JSON\" -H \"Authorization: Bearer $TOKEN\" \\\n"
        "  -d '{\"points\": [{\"id\": \"a\", \"vector\": [0.1, 0.2, 0.3, 0.4], "
        "\"payload\": {\"color\": \"red\"}},\n"
        "                  {\"id\": \"b\", \"vector\": [0.4, 0.3, 0.2, 0.1], "
        "\"payload\": {\"color\": \"blue\"}}]}' | jq .\n"
        "\n# 6. Search for the two nearest points.\n"
        "curl -sS \"$AKIDB/v1/tenants/demo/databases/main/collections/docs/search\" "
        "-H \"$JSON\" -H \"Authorization: Bearer $TOKEN\" \\\n"
        "  -d '{\"vector\": [0.1, 0.2, 0.3, 0.35], \"k\": 2}' | jq .\n",
        out);
  fputs(rule, out);
  fflush(out);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- load -- */

typedef struct {
  akidb_service_t *svc;
  atomic_bool failed;
} loader_t;

/* Opens every collection; on failure logs it and asks the main thread to
 * stop (SIGTERM to the process, taken by the main thread's sigtimedwait). */
static void *load_main(void *arg) {
  loader_t *ld = arg;
  util_thread_name("loader");
  char err[ERR_LEN] = "";
  size_t n = 0;
  double t0 = now_s();
  int rc = akidb_service_load(ld->svc, &n, err, sizeof err);
  double took = now_s() - t0;
  if (rc) {
    obs_log(AKIDB_LOG_ERROR, "loading collections failed", "error", err, "code",
            akidb_err_name(rc), NULL);
    atomic_store(&ld->failed, true);
    kill(getpid(), SIGTERM);
    return NULL;
  }
  char count[32], ms[32];
  snprintf(count, sizeof count, "%zu", n);
  snprintf(ms, sizeof ms, "%.0f", took * 1e3);
  obs_log(AKIDB_LOG_INFO, "ready", "collections", count, "load_ms", ms, NULL);
  return NULL;
}

/* ------------------------------------------------------------- signals -- */

static void stop_signals(sigset_t *set) {
  sigemptyset(set);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGINT);
  sigaddset(set, SIGHUP);
}

/* Waits for a stop signal, running the housekeeping every TICK_SECONDS.
 * Returns the signal number. */
static int wait_for_stop(const sigset_t *set, akidb_service_t *svc) {
  double next_tick = now_s() + TICK_SECONDS;
  for (;;) {
    double left = next_tick - now_s();
    if (left <= 0) {
      akidb_service_tick(svc);
      next_tick = now_s() + TICK_SECONDS;
      continue;
    }
    struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
    int sig = sigtimedwait(set, NULL, &ts);
    if (sig > 0) return sig;
    if (errno != EAGAIN && errno != EINTR) {
      obs_log(AKIDB_LOG_ERROR, "sigtimedwait failed", "error", strerror(errno), NULL);
      return SIGTERM;
    }
  }
}

static const char *signal_name(int sig) {
  switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
    default: return "signal";
  }
}

/* --------------------------------------------------------------- serve -- */

static void print_routes(void) {
  size_t n = 0;
  const http_route_t *r = http_routes(&n);
  for (size_t i = 0; i < n; i++) printf("%s %s\n", r[i].method, r[i].pattern);
  fflush(stdout);
}

/* Parses the command line and the configuration. Returns -1 to go on
 * serving, else the exit code (help, print, or an error). */
static int configure(int argc, char **argv, config_t *cfg) {
  config_cli_t cli;
  char err[ERR_LEN] = "";
  int rc = config_load(cfg, argc, argv, &cli, err, sizeof err);
  if (rc) {
    fprintf(stderr, "akidb serve: %s\n", err);
    return 2;
  }
  if (cli.help) {
    usage(stdout);
    return 0;
  }
  if (cli.print_routes) {
    print_routes();
    return 0;
  }
  if (cli.print_config) {
    char *text = config_to_toml(cfg);
    if (!text) {
      fprintf(stderr, "akidb serve: out of memory\n");
      return 1;
    }
    fputs(text, stdout);
    fflush(stdout);
    free(text);
    return 0;
  }
  if (config_check_files(cfg, err, sizeof err)) {
    fprintf(stderr, "akidb serve: %s\n", err);
    return 2;
  }
  return -1;
}

static void log_start(const config_t *cfg) {
  obs_log(AKIDB_LOG_INFO, "starting", "version", AKIDB_VERSION_STRING, "config",
          cfg->config_file[0] ? cfg->config_file : "(none: defaults, environment and flags)",
          "data_dir", cfg->data_dir, "durability",
          akidb_durability_name(cfg->durability), NULL);
}

/*
 * glibc's allocator as a long-running server needs it: blocks of 1 MiB and
 * more (request bodies, large buffers) are mapped and go back to the system
 * when freed (a fixed threshold also stops glibc raising it after frees,
 * which moved 8 MiB request bodies into the arenas for good). Arenas: up to
 * ARENAS_PER_CPU per CPU (glibc's own default on 64-bit), so that the
 * request threads (one per busy connection) each get an arena of their own.
 * A search mallocs and frees a few dozen small blocks (JSON in and out,
 * results); threads sharing an arena queue on its lock, and when the holder
 * is preempted (client and server threads outnumber the cores) the others
 * sleep until it runs again: with one arena per CPU, 8 closed-loop
 * connections on 2 cores slept ~760 times a second in malloc/free
 * (perf, sched_switch off-CPU stacks), a millisecond-scale tail. The memory
 * idle arenas keep (the reason they were once capped at one per CPU: six
 * 64 MiB arenas resident after a bulk load) goes back to the system at the
 * once-a-minute tick and after tier unloads (malloc_trim).
 *
 * Setting the mapping threshold also freezes glibc's trim threshold at its
 * 128 KiB default, so an arena gave back the top of its heap after every
 * large request: a 1,000-point 768-d batch (~3 MiB of small blocks: decoded
 * protobuf points, records) was faulted in afresh each time, about a
 * quarter of the gRPC network thread's time. Free memory at an arena's top
 * is now kept up to TRIM_THRESHOLD (two such batches) and still goes back
 * at the minute tick.
 */
#define ARENAS_PER_CPU 8
#define TRIM_THRESHOLD (8 << 20)
static void tune_allocator(void) {
#ifdef __GLIBC__
  long cpus = util_cpus_usable();
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
  mallopt(M_ARENA_MAX, (int)(ARENAS_PER_CPU * cpus));
#endif
}

/* Every resident collection holds a file (its log segment): raise the soft
 * limit on open files to the hard one, and say what it is. */
static void raise_open_files(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* The gRPC server when built and configured (server.grpc_port != 0);
 * *out stays NULL otherwise. Returns non-zero when it cannot start. */
static int start_grpc(const config_t *cfg, akidb_service_t *svc, void **out) {
  *out = NULL;
#ifdef AKIDB_HAVE_GRPC
  if (!cfg->grpc_port) return 0;
  agrpc_options_t go = {.host = cfg->host,
                        .port = cfg->grpc_port,
                        .max_receive_bytes = cfg->limits.max_body_bytes,
                        .tls_cert_file = cfg->tls_cert_file,
                        .tls_key_file = cfg->tls_key_file};
  char err[ERR_LEN] = "";
  agrpc_server_t *g = NULL;
  int rc = agrpc_server_start(&go, svc, &g, err, sizeof err);
  if (rc) {
    obs_log(AKIDB_LOG_ERROR, "cannot start the gRPC server", "error", err, "code",
            akidb_err_name(rc), NULL);
    return 1;
  }
  char addr[CONFIG_HOST_MAX + 16];
  snprintf(addr, sizeof addr, "%s:%u", cfg->host, (unsigned)agrpc_server_port(g));
  obs_log(AKIDB_LOG_INFO, "listening for gRPC", "addr", addr, NULL);
  *out = g;
#else
  (void)svc;
  if (cfg->grpc_port)
    obs_log(AKIDB_LOG_WARN, "gRPC is not built into this program; server.grpc_port ignored",
            NULL);
#endif
  return 0;
}

static void stop_grpc_begin(void *g) {
#ifdef AKIDB_HAVE_GRPC
  agrpc_server_shutdown_begin(g);
#else
  (void)g;
#endif
}

static void stop_grpc(void *g, uint32_t drain_ms) {
#ifdef AKIDB_HAVE_GRPC
  agrpc_server_stop(g, drain_ms);
#else
  (void)g, (void)drain_ms;
#endif
}

/* The storage engine's span hooks (akidb/hooks.h) on the tracer. */
static void *span_begin_hook(const char *name) { return trace_child_begin(name); }
static void span_end_hook(void *span) { trace_span_end(span); }

/* Starts the tracer when [tracing] enabled = true (docs/tracing.md);
 * non-zero when it cannot start. */
static int start_tracing(const config_t *cfg) {
  trace_config_t t;
  config_trace_options(cfg, &t);
  char err[ERR_LEN] = "";
  int rc = trace_start(&t, err, sizeof err);
  if (rc) {
    obs_log(AKIDB_LOG_ERROR, "cannot start tracing", "error", err, "code", akidb_err_name(rc),
            NULL);
    return 1;
  }
  if (t.enabled) {
    akidb_set_span_hooks(span_begin_hook, span_end_hook);
    char ratio[32];
    snprintf(ratio, sizeof ratio, "%g", t.sample_ratio);
    obs_log(AKIDB_LOG_INFO, "tracing on", "endpoint", t.endpoint, "sample_ratio", ratio, NULL);
  }
  return 0;
}

/* The serving part, once configured: returns the exit code. */
static int serve_run(config_t *cfg);

static int run(config_t *cfg) {
  int code = serve_run(cfg);
  trace_shutdown(); /* flushes what the requests left (bounded); no-op when off */
  return code;
}

static int serve_run(config_t *cfg) {
#ifdef AKIDB_HAVE_GRPC
  if (cfg->grpc_port) agrpc_prepare(); /* sets the environment: before any thread */
#endif
  tune_allocator();
  raise_open_files();
  char err[ERR_LEN] = "";
  sigset_t stop;
  stop_signals(&stop);
  pthread_sigmask(SIG_BLOCK, &stop, NULL); /* before any thread starts */
  signal(SIGPIPE, SIG_IGN);
  log_start(cfg);
  if (start_tracing(cfg)) return 1;

  akidb_service_options_t so;
  config_service_options(cfg, &so);
  so.log = obs_log_sink;
  akidb_service_t *svc = NULL;
  akidb_bootstrap_t boot;
  memset(&boot, 0, sizeof boot);
  int rc = akidb_service_open(&so, &svc, &boot, err, sizeof err);
  if (rc) {
    obs_log(AKIDB_LOG_ERROR, "cannot open the service", "error", err, "code", akidb_err_name(rc),
            NULL);
    return 1;
  }
  char url[CONFIG_HOST_MAX + 32], addr[CONFIG_HOST_MAX + 16];
  /* gRPC first: once REST answers /ready, gRPC listens too. */
  void *grpc = NULL;
  if (start_grpc(cfg, svc, &grpc)) {
    /* The admin exists now: its generated password must not be lost. */
    base_url(cfg, cfg->rest_port, url, sizeof url);
    if (boot.admin_created) print_quickstart(stdout, url, cfg, &boot);
    akidb_service_close(svc, NULL, 0);
    return 1;
  }
  http_options_t ho;
  config_http_options(cfg, &ho);
  http_server_t *server = NULL;
  rc = http_server_start(&ho, svc, &server, err, sizeof err);
  if (rc) {
    obs_log(AKIDB_LOG_ERROR, "cannot start the REST server", "error", err, "code",
            akidb_err_name(rc), NULL);
    stop_grpc_begin(grpc);
    stop_grpc(grpc, 0);
    base_url(cfg, cfg->rest_port, url, sizeof url);
    if (boot.admin_created) print_quickstart(stdout, url, cfg, &boot);
    akidb_service_close(svc, NULL, 0);
    return 1;
  }
  uint16_t port = http_server_port(server);
  base_url(cfg, port, url, sizeof url);
  snprintf(addr, sizeof addr, "%s:%u", cfg->host, (unsigned)port);
  obs_log(AKIDB_LOG_INFO, "listening", "addr", addr, "url", url, NULL);
  if (boot.admin_created) print_quickstart(stdout, url, cfg, &boot);
  memset(boot.admin_password, 0, sizeof boot.admin_password);

  loader_t ld = {.svc = svc};
  atomic_init(&ld.failed, false);
  pthread_t loader;
  bool loading = pthread_create(&loader, NULL, load_main, &ld) == 0;
  if (!loading) {
    obs_log(AKIDB_LOG_ERROR, "cannot start the loading thread", NULL);
    atomic_store(&ld.failed, true);
  }

  int sig = loading ? wait_for_stop(&stop, svc) : SIGTERM;
  obs_log(AKIDB_LOG_INFO, "shutting down", "signal", signal_name(sig), NULL);
  stop_grpc_begin(grpc);
  http_server_stop(server, cfg->shutdown_drain_ms);
  stop_grpc(grpc, cfg->shutdown_drain_ms);
  if (loading) pthread_join(loader, NULL);
  rc = akidb_service_close(svc, err, sizeof err);
  if (rc) {
    obs_log(AKIDB_LOG_ERROR, "closing the service failed", "error", err, "code",
            akidb_err_name(rc), NULL);
    return 1;
  }
  obs_log(AKIDB_LOG_INFO, "stopped", NULL);
  return atomic_load(&ld.failed) ? 1 : 0;
}

int cli_serve(int argc, char **argv) {
  config_t *cfg = malloc(sizeof *cfg);
  if (!cfg) {
    fprintf(stderr, "akidb serve: out of memory\n");
    return 1;
  }
  int code = configure(argc, argv, cfg);
  if (code < 0) {
    obs_log_setup(cfg->log_format, cfg->log_level);
    code = run(cfg);
  }
  memset(cfg->admin_password, 0, sizeof cfg->admin_password);
  free(cfg);
  return code;
}
