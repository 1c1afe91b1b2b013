/*
 * server_proc.c — the server process, /proc figures and REST setup calls
 * of server_proc.h, shared by the drivers that start `akidb serve`.
 * Single-threaded use except the /proc readers (stateless but for the
 * caller's sp_threads_t).
 */
#include "server_proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

/* ------------------------------------------------------ server process -- */

uint16_t sp_free_port(void) {
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

void sp_server_start(sp_server_t *s, const char *akidb_path, const char *tmp, bool grpc) {
  char data[PATH_MAX + 8];
  mkdir(tmp, 0755);
  snprintf(s->dir, sizeof s->dir, "%s/akidb-server-XXXXXX", tmp);
  if (!mkdtemp(s->dir)) bench_die("cannot create a directory under %s: %s", tmp, strerror(errno));
  snprintf(data, sizeof data, "%s/data", s->dir);
  snprintf(s->log, sizeof s->log, "%s/server.log", s->dir);
  snprintf(s->password, sizeof s->password, "bench-admin-%d-password", (int)getpid());
  s->port = sp_free_port();
  s->grpc_port = 0;
  if (grpc)
    do s->grpc_port = sp_free_port();
    while (s->grpc_port == s->port);
  char akidb[PATH_MAX];
  if (!realpath(akidb_path, akidb)) bench_die("cannot find %s: %s", akidb_path, strerror(errno));
  char port[16], grpc_port[16];
  snprintf(port, sizeof port, "%u", s->port);
  snprintf(grpc_port, sizeof grpc_port, "%u", s->grpc_port);
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
    if (s->pinned && sched_setaffinity(0, sizeof s->cpus, &s->cpus) != 0) _exit(125);
    setenv("AKIDB_ADMIN_PASSWORD", s->password, 1);
    /* gRPC only when asked: benches run side by side and most measure REST. */
    setenv("AKIDB_GRPC_PORT", grpc_port, 1);
    for (size_t i = 0; i < sizeof s->env / sizeof s->env[0]; i++)
      if (s->env[i][0]) putenv(s->env[i]);
    execl(akidb, akidb, "serve", "--host", "127.0.0.1", "--port", port, "--data-dir", data,
          "--log-level", "warn", (char *)NULL);
    fprintf(stderr, "exec %s: %s\n", akidb, strerror(errno));
    _exit(127);
  }
  s->pid = pid;
}

double sp_server_wait_ready(sp_server_t *s) {
  int status = 0;
  double took = lg_wait_ready(s->pid, s->port, 120, 50, &status);
  if (took == -1) {
    s->pid = -1;
    bench_die("akidb serve exited during start (status %d)", status);
  }
  if (took < 0) bench_die("akidb serve was not ready after 120 s");
  return took;
}

void sp_server_stop(sp_server_t *s, double *shutdown_s) {
  if (s->pid <= 0) return;
  double t0 = lg_now_us();
  kill(s->pid, SIGTERM);
  int status = 0;
  while (waitpid(s->pid, &status, WNOHANG) == 0) {
    if (lg_now_us() - t0 > 120e6) {
      fprintf(stderr, "akidb serve ignored SIGTERM for 120 s; killing it\n");
      kill(s->pid, SIGKILL);
      waitpid(s->pid, &status, 0);
      break;
    }
    bench_sleep_ms(20);
  }
  if (shutdown_s) *shutdown_s = (lg_now_us() - t0) / 1e6;
  s->pid = -1;
}

void sp_server_cleanup(sp_server_t *s) {
  if (s->log[0]) bench_print_log_tail(s->log);
  if (s->pid > 0) sp_server_stop(s, NULL);
  if (s->dir[0]) bench_remove_tree(s->dir);
}

double sp_wait_settled(const sp_server_t *s) {
  double t0 = lg_now_us();
  printf("waiting for the server to settle (checkpoints, write-back)...\n");
  fflush(stdout);
  sync();
  int quiet = 0;
  while (quiet < 3 && lg_now_us() - t0 < 300e6) {
    double c0 = sp_proc_cpu_seconds(s->pid);
    bench_sleep_ms(1000);
    quiet = sp_proc_cpu_seconds(s->pid) - c0 < 0.02 ? quiet + 1 : 0;
  }
  sync();
  return (lg_now_us() - t0) / 1e6;
}

void sp_akidb_version(const char *akidb, char *out, size_t len) {
  char cmd[PATH_MAX + 32];
  snprintf(out, len, "unknown");
  snprintf(cmd, sizeof cmd, "'%s' version 2>&1", akidb);
  FILE *p = popen(cmd, "r");
  if (!p) return;
  if (fgets(out, (int)len, p)) out[strcspn(out, "\n")] = '\0';
  pclose(p);
}

/* ------------------------------------------------------------- /proc -- */

double sp_proc_cpu_seconds(pid_t pid) {
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

/* The first number of a /proc file, and the sum of the "ctxt_switches:"
 * lines of a status file. */
static unsigned long long first_number(const char *file) {
  FILE *f = fopen(file, "r");
  unsigned long long v = 0;
  if (!f) return 0;
  if (fscanf(f, "%llu", &v) != 1) v = 0;
  fclose(f);
  return v;
}

static unsigned long long switches_of(const char *file) {
  FILE *f = fopen(file, "r");
  if (!f) return 0;
  char line[256];
  unsigned long long n = 0;
  while (fgets(line, sizeof line, f)) {
    const char *colon = strchr(line, ':');
    if (colon && strstr(line, "ctxt_switches:")) n += strtoull(colon + 1, NULL, 10);
  }
  fclose(f);
  return n;
}

void sp_threads_read(pid_t pid, sp_threads_t *snap) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
  snap->n = 0;
  DIR *d = opendir(path);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    if (snap->n == snap->cap) {
      size_t cap = snap->cap ? 2 * snap->cap : 64;
      void *t = realloc(snap->t, cap * sizeof *snap->t);
      if (!t) break; /* out of memory: the threads read so far */
      snap->t = t;
      snap->cap = cap;
    }
    char file[PATH_MAX];
    struct sp_thread *t = &snap->t[snap->n++];
    t->tid = strtol(e->d_name, NULL, 10);
    snprintf(file, sizeof file, "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
    t->ns = first_number(file);
    snprintf(file, sizeof file, "/proc/%d/task/%s/status", (int)pid, e->d_name);
    t->switches = switches_of(file);
  }
  closedir(d);
}

void sp_threads_delta(const sp_threads_t *before, const sp_threads_t *after, double *cpu_s,
                      unsigned long long *switches) {
  static const struct sp_thread none = {0};
  unsigned long long ns = 0, cs = 0;
  for (size_t i = 0; i < after->n; i++) {
    const struct sp_thread *a = &after->t[i], *b = &none; /* a new thread: all of it */
    for (size_t j = 0; j < before->n && b == &none; j++)
      if (before->t[j].tid == a->tid) b = &before->t[j];
    if (a->ns >= b->ns) ns += a->ns - b->ns; /* else a reused tid: skip it */
    if (a->switches >= b->switches) cs += a->switches - b->switches;
  }
  *cpu_s = (double)ns / 1e9;
  *switches = cs;
}

void sp_threads_free(sp_threads_t *snap) {
  free(snap->t);
  *snap = (sp_threads_t){0};
}

double sp_self_cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

double sp_proc_vm_mib(pid_t pid, const char *field) {
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

double sp_load_average(void) {
  double l = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &l) != 1) l = -1;
    fclose(f);
  }
  return l;
}

const char *sp_fs_name(const char *dir) {
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

sp_ticks_t sp_cpu_ticks(void) {
  sp_ticks_t t = {0, 0};
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

double sp_steal_since(sp_ticks_t a) {
  sp_ticks_t b = sp_cpu_ticks();
  return b.total > a.total ? 100.0 * (double)(b.steal - a.steal) / (double)(b.total - a.total) : 0;
}

/* ------------------------------------------------------------ REST calls -- */

lg_response_t sp_api_call(sp_api_t *a, const char *method, const char *path, const char *body,
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

void sp_api_login(sp_api_t *a, const char *tenant, const char *user, const char *password) {
  char body[512];
  snprintf(body, sizeof body, "{\"tenant\":\"%s\",\"username\":\"%s\",\"password\":\"%s\"}",
           tenant, user, password);
  a->token[0] = '\0';
  lg_response_t r = sp_api_call(a, "POST", "/v1/auth/login", body, 200);
  size_t n;
  const char *t = lg_find_string(r.body, r.body_len, "token", &n);
  if (!t || n >= sizeof a->token) bench_die("login answered without a token");
  memcpy(a->token, t, n);
  a->token[n] = '\0';
}

void sp_collection_path(const sp_api_t *a, const char *name, const char *suffix, char *out,
                        size_t len) {
  snprintf(out, len, "/v1/tenants/%s/databases/%s/collections/%s%s", a->tenant, a->database,
           name, suffix);
}

void sp_api_setup(sp_api_t *a, const sp_server_t *s) {
  char err[256], body[512], path[256];
  const char *user_password = "bench-user-password-0123";
  memset(a, 0, sizeof *a);
  if (lg_conn_open(&a->conn, s->port, err, sizeof err)) bench_die("%s", err);
  snprintf(a->tenant, sizeof a->tenant, "bench");
  snprintf(a->database, sizeof a->database, "vectors");
  sp_api_login(a, "", "admin", s->password);
  snprintf(body, sizeof body,
           "{\"slug\":\"%s\",\"name\":\"Server benchmark\",\"quotas\":{\"max_memory_bytes\":0,"
           "\"max_storage_bytes\":0,\"max_qps\":0,\"max_collections\":0}}",
           a->tenant);
  sp_api_call(a, "POST", "/v1/tenants", body, 201);
  snprintf(path, sizeof path, "/v1/tenants/%s/users", a->tenant);
  snprintf(body, sizeof body, "{\"username\":\"bencher\",\"role\":\"admin\",\"password\":\"%s\"}",
           user_password);
  sp_api_call(a, "POST", path, body, 201);
  sp_api_login(a, a->tenant, "bencher", user_password);
  snprintf(path, sizeof path, "/v1/tenants/%s/databases", a->tenant);
  snprintf(body, sizeof body, "{\"name\":\"%s\"}", a->database);
  sp_api_call(a, "POST", path, body, 201);
}

void sp_api_create_collection(sp_api_t *a, const char *name, uint32_t dim, const char *metric) {
  char body[256], path[256];
  snprintf(path, sizeof path, "/v1/tenants/%s/databases/%s/collections", a->tenant, a->database);
  snprintf(body, sizeof body, "{\"name\":\"%s\",\"dimension\":%u,\"metric\":\"%s\"}", name, dim,
           metric);
  sp_api_call(a, "POST", path, body, 201);
}

void sp_api_delete_collection(sp_api_t *a, const char *name) {
  char path[256];
  sp_collection_path(a, name, "", path, sizeof path);
  sp_api_call(a, "DELETE", path, NULL, 204);
}

void sp_api_set_ef_search(sp_api_t *a, const char *name, long long ef) {
  char path[256], body[128];
  sp_collection_path(a, name, "", path, sizeof path);
  snprintf(body, sizeof body, "{\"index\":{\"ef_search\":%lld}}", ef);
  sp_api_call(a, "PATCH", path, body, 200);
}

sp_coll_info_t sp_api_collection_info(sp_api_t *a, const char *name) {
  char path[256];
  sp_collection_path(a, name, "", path, sizeof path);
  lg_response_t r = sp_api_call(a, "GET", path, NULL, 200);
  sp_coll_info_t c = {lg_find_int(r.body, r.body_len, "points"),
                      lg_find_int(r.body, r.body_len, "pending"),
                      lg_find_int(r.body, r.body_len, "ef_search"),
                      lg_find_int(r.body, r.body_len, "m"),
                      lg_find_int(r.body, r.body_len, "ef_construction")};
  if (c.points < 0 || c.pending < 0)
    bench_die("GET %s: no \"points\"/\"pending\" in the answer", path);
  return c;
}

double sp_api_wait_indexed(sp_api_t *a, const char *name, long long expect_points) {
  double t0 = lg_now_us();
  for (;;) {
    sp_coll_info_t c = sp_api_collection_info(a, name);
    if (c.pending == 0) {
      if (c.points != expect_points)
        bench_die("collection %s holds %lld points, expected %lld", name, c.points,
                  expect_points);
      return (lg_now_us() - t0) / 1e6;
    }
    if (lg_now_us() - t0 > 1800e6)
      bench_die("collection %s still has %lld pending after 30 min", name, c.pending);
    bench_sleep_ms(250);
  }
}
