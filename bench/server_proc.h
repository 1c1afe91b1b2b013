/*
 * server_proc.h — what the drivers that start a real `akidb serve` share
 * (bench/server.c, bench/grpc.c): the server process (spawn on a scratch
 * data directory, readiness, SIGTERM, settling), process and machine
 * figures from /proc (CPU seconds, memory, load, steal), and the REST
 * calls that set a server up (login, tenant, user, database, collections)
 * over a loadgen.c connection. For bench/ only; failures bench_die.
 */
#ifndef AKIDB_BENCH_SERVER_PROC_H
#define AKIDB_BENCH_SERVER_PROC_H

#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "loadgen.h"

/* ------------------------------------------------------ server process -- */

/* The server under test. */
typedef struct {
  pid_t pid;           /* -1 when not running */
  uint16_t port;       /* REST */
  uint16_t grpc_port;  /* 0: started without gRPC */
  char dir[PATH_MAX];  /* scratch: data/ and server.log */
  char log[PATH_MAX + 16];
  char password[64];   /* the system admin's (AKIDB_ADMIN_PASSWORD) */
  /* Extra environment of the server ("NAME=value"; set by the caller before
   * sp_server_start, e.g. ENABLE_TRACING=true), up to SP_MAX_ENV. */
  char env[4][256];
  /* When `pinned` (set by the caller before sp_server_start), the server
   * runs on `cpus` only, and sizes its thread pools for them. */
  bool pinned;
  cpu_set_t cpus;
} sp_server_t;

/* Spawns `akidb serve --host 127.0.0.1 --port <free> --data-dir <dir>/data
 * --log-level warn` on a new scratch directory under tmp, with default
 * settings (no config file, no inherited AKIDB_* variables); gRPC on a
 * free port when `grpc`, else off (AKIDB_GRPC_PORT=0, so that benches
 * running side by side do not contend for 50051). s->pid is set at once. */
void sp_server_start(sp_server_t *s, const char *akidb, const char *tmp, bool grpc);

/* Polls GET /ready until 200; dies if the server exits or takes 120 s.
 * Returns the seconds it took. */
double sp_server_wait_ready(sp_server_t *s);

/* SIGTERM, wait up to 120 s (then SIGKILL); *shutdown_s (may be NULL)
 * gets how long it took. Nothing when not running. */
void sp_server_stop(sp_server_t *s, double *shutdown_s);

/* For a bench_die cleanup: prints the log's tail, stops the server,
 * removes its directory. */
void sp_server_cleanup(sp_server_t *s);

/* sync, then waits until the server used under 2% of a core for 3 s in a
 * row (at most 300 s), sync again; returns the seconds waited. */
double sp_wait_settled(const sp_server_t *s);

/* A free loopback TCP port (bind to 0, read it back, close). */
uint16_t sp_free_port(void);

/* `akidb version`, first line ("unknown" when it cannot run). */
void sp_akidb_version(const char *akidb, char *out, size_t len);

/* ------------------------------------------------------------- /proc -- */

/* CPU seconds (user + system) process pid has used (/proc/<pid>/stat). */
double sp_proc_cpu_seconds(pid_t pid);

/* Per-thread figures of a process at one moment: on-CPU nanoseconds
 * (schedstat) and context switches of each live thread. */
typedef struct {
  size_t n, cap;
  struct sp_thread {
    long tid;
    unsigned long long ns, switches;
  } *t;
} sp_threads_t;

/* Reads every live thread of pid into *snap (reusing its memory). */
void sp_threads_read(pid_t pid, sp_threads_t *snap);

/* What the threads alive at `after` used since `before`: a thread in both
 * counts its difference, a thread started in between all of its figures; a
 * thread that exited in between is not counted (so the sums never go
 * negative when, say, an idle connection's thread exits). */
void sp_threads_delta(const sp_threads_t *before, const sp_threads_t *after, double *cpu_s,
                      unsigned long long *switches);

void sp_threads_free(sp_threads_t *snap);

/* CPU seconds (user + system) this process has used (getrusage). */
double sp_self_cpu_seconds(void);

/* A "Vm...:" figure of /proc/<pid>/status in MiB ("VmRSS", "VmHWM"), or -1. */
double sp_proc_vm_mib(pid_t pid, const char *field);

/* The 1-minute load average, or -1. */
double sp_load_average(void);

/* The file system type of dir ("ext4", "tmpfs", ...). */
const char *sp_fs_name(const char *dir);

/* Machine-wide CPU ticks from /proc/stat: all of them, and "steal" (time
 * the hypervisor ran something else while this VM wanted the CPU). */
typedef struct {
  unsigned long long total, steal;
} sp_ticks_t;

sp_ticks_t sp_cpu_ticks(void);

/* Steal as a percentage of the machine's CPU time since `since`. */
double sp_steal_since(sp_ticks_t since);

/* ------------------------------------------------------------ REST calls -- */

/* A REST session: one keep-alive connection and the bearer token. */
typedef struct {
  lg_conn_t conn;
  char token[512];
  char tenant[64], database[64];
} sp_api_t;

/* One call that must answer `expect`; dies with the body otherwise. The
 * answer's body lives in the connection's buffer until the next call. */
lg_response_t sp_api_call(sp_api_t *a, const char *method, const char *path, const char *body,
                          int expect);

/* Logs in (POST /v1/auth/login) and keeps the token. */
void sp_api_login(sp_api_t *a, const char *tenant, const char *user, const char *password);

/* Logs in as the system admin, creates the tenant "bench" (no quotas), its
 * admin user "bencher" and the database "vectors", and logs in as that
 * user. */
void sp_api_setup(sp_api_t *a, const sp_server_t *s);

/* "/v1/tenants/<t>/databases/<d>/collections/<name><suffix>". */
void sp_collection_path(const sp_api_t *a, const char *name, const char *suffix, char *out,
                        size_t len);

/* Creates a collection with the default index settings. */
void sp_api_create_collection(sp_api_t *a, const char *name, uint32_t dim, const char *metric);

void sp_api_delete_collection(sp_api_t *a, const char *name);

/* PATCH of the collection's index.ef_search. */
void sp_api_set_ef_search(sp_api_t *a, const char *name, long long ef);

typedef struct {
  long long points, pending, ef_search, m, ef_construction;
} sp_coll_info_t;

sp_coll_info_t sp_api_collection_info(sp_api_t *a, const char *name);

/* Polls the collection until "pending" is 0 (dies after 30 min, or when
 * it then holds other than expect_points); returns the seconds waited. */
double sp_api_wait_indexed(sp_api_t *a, const char *name, long long expect_points);

#endif /* AKIDB_BENCH_SERVER_PROC_H */
