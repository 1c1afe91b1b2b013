/*
 * crash_loop.c — owns the kill -9 loop of the storage tests: per cycle it
 * starts `crash_writer write`, lets it run a random 50–400 ms, kills it
 * with SIGKILL, then runs `crash_writer check` (which alternately closes
 * the collection cleanly or leaves it as a crash would) and stops at the
 * first cycle whose check finds a lost, torn or corrupt write, keeping the
 * data directory and printing how to replay. Prints a summary at the end.
 *
 * SIGKILL seldom tears an append (the kernel can stop a large buffered
 * write at a page boundary when the signal arrives; the summary counts
 * those), so in one cycle in four the loop also appends a torn record to
 * the newest log segment after the kill — 1 to 3,000 bytes, random or
 * zeros, as a power cut in the middle of an unacknowledged append would
 * leave — and the check must cut at least that many bytes off the log and
 * still find every acknowledged batch.
 *
 *   crash_loop --writer PATH --dir D [--cycles 50] [--seed S] [--min-ms 50]
 *              [--max-ms 400] [--check-timeout 120] [--keep]
 *
 * The seed (from --seed, $AKIDB_CRASH_SEED, or the clock) picks the
 * dimension, the workload and the kill delays; it is printed first. Kill
 * moments still depend on timing, so a replay repeats the workload and the
 * delays, not necessarily the exact byte the writer was killed at.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  const char *writer, *dir;
  long cycles;
  uint64_t seed;
  long min_ms, max_ms;
  long check_timeout_s;
  bool keep;
  uint32_t dim;
} options_t;

/* Totals over the run. */
typedef struct {
  long long last_acked;     /* newest acknowledged batch (-1: none yet) */
  uint64_t batch_checks;    /* acknowledged batches covered by each check, summed */
  uint64_t points_verified; /* ids compared with the model, summed */
  uint64_t landed, absent, nothing_in_flight;
  uint64_t torn_log_cycles, torn_log_bytes, torn_side_lines;
  uint64_t injected_tails, injected_bytes;
  uint64_t replayed_records;
  uint64_t closed, crashed_checker;
  uint64_t idle_cycles; /* no new acknowledgement in the cycle */
  uint64_t warnings;
  double open_s_max;
} totals_t;

/* What one check reported on its CHECK line. */
typedef struct {
  char status[16], inflight[16];
  long long last_acked;
  unsigned long long points, verified, replayed, torn_bytes, problems;
  int side_torn;
  double open_s;
} check_line_t;

static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static void usage(void) {
  fprintf(stderr, "usage: crash_loop --writer PATH --dir D [--cycles N] [--seed S] "
                  "[--min-ms MS] [--max-ms MS] [--check-timeout S] [--keep]\n");
  exit(2);
}

static uint64_t default_seed(void) {
  const char *env = getenv("AKIDB_CRASH_SEED");
  if (env && *env) return strtoull(env, NULL, 10);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return mix((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid()) % 1000000007u;
}

static void parse_options(int argc, char **argv, options_t *o) {
  *o = (options_t){.cycles = 50, .min_ms = 50, .max_ms = 400, .check_timeout_s = 120};
  bool seeded = false;
  for (int i = 1; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(argv[i], "--keep") == 0) o->keep = true;
    else if (!v) usage();
    else if (strcmp(argv[i], "--writer") == 0) o->writer = argv[++i];
    else if (strcmp(argv[i], "--dir") == 0) o->dir = argv[++i];
    else if (strcmp(argv[i], "--cycles") == 0) o->cycles = strtol(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--seed") == 0) o->seed = strtoull(argv[++i], NULL, 10), seeded = true;
    else if (strcmp(argv[i], "--min-ms") == 0) o->min_ms = strtol(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--max-ms") == 0) o->max_ms = strtol(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--check-timeout") == 0)
      o->check_timeout_s = strtol(argv[++i], NULL, 10);
    else usage();
  }
  if (!o->writer || !o->dir || o->cycles < 1 || o->min_ms < 1 || o->max_ms < o->min_ms ||
      o->check_timeout_s < 1)
    usage();
  if (!seeded) o->seed = default_seed();
  o->dim = 16 + (uint32_t)(mix(o->seed) % 49); /* 16..64 */
}

/* ---------------------------------------------------------- processes -- */

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path) ? errno : 0;
}

/* Empties (or creates) the data directory. */
static int reset_dir(const char *dir) {
  struct stat st;
  if (stat(dir, &st) == 0 && nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) return -1;
  return mkdir(dir, 0755);
}

static void sleep_ms(long ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) && errno == EINTR) {
  }
}

/* Starts `writer mode ...` with stdout and stderr sent to the given files. */
static pid_t spawn(const options_t *o, const char *mode, long cycle, bool close_it,
                   const char *out_path, const char *err_path) {
  char dim[16], seed[32], cyc[32];
  snprintf(dim, sizeof dim, "%u", o->dim);
  snprintf(seed, sizeof seed, "%" PRIu64, o->seed);
  snprintf(cyc, sizeof cyc, "%ld", cycle);
  pid_t pid = fork();
  if (pid != 0) return pid;
  int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = err_path ? open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : 2;
  if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(126);
  const char *argv[] = {o->writer, mode, "--dir", o->dir, "--dim", dim, "--seed", seed,
                        "--cycle", cyc, close_it ? "--close" : NULL, NULL};
  execv(o->writer, (char *const *)argv);
  fprintf(stderr, "crash_loop: cannot run %s: %s\n", o->writer, strerror(errno));
  _exit(127);
}

static void describe_status(int status, char *out, size_t len) {
  if (WIFEXITED(status)) snprintf(out, len, "exited with status %d", WEXITSTATUS(status));
  else if (WIFSIGNALED(status)) snprintf(out, len, "died of signal %d (%s)", WTERMSIG(status),
                                         strsignal(WTERMSIG(status)));
  else snprintf(out, len, "stopped (status %#x)", status);
}

/* Prints a file's lines that contain `needle` with a prefix; counts them. */
static uint64_t print_lines(const char *path, const char *needle, const char *prefix) {
  FILE *f = fopen(path, "r");
  char line[2048];
  uint64_t n = 0;
  if (!f) return 0;
  while (fgets(line, sizeof line, f))
    if (!needle || strstr(line, needle)) {
      printf("%s%s", prefix, line);
      n++;
    }
  fclose(f);
  return n;
}

/* The newest log segment's path (names are zero-padded seqs), or "" . */
static void newest_segment(const char *dir, char *out, size_t len) {
  char wal[4200], best[256] = "";
  snprintf(wal, sizeof wal, "%s/collection/wal", dir);
  *out = 0;
  DIR *d = opendir(wal);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strlen(e->d_name) == 24 && strcmp(e->d_name + 20, ".wal") == 0 &&
        strcmp(e->d_name, best) > 0)
      snprintf(best, sizeof best, "%s", e->d_name);
  closedir(d);
  if (*best) snprintf(out, len, "%s/%s", wal, best);
}

/* Appends a torn record (random bytes or zeros) to the newest segment when
 * its header is complete; returns the bytes appended (0: none). */
static uint64_t inject_torn_tail(const char *dir, uint64_t *rng) {
  enum { SEGMENT_HEADER = 40, MAX_TORN = 3000 };
  char path[4608];
  struct stat st;
  newest_segment(dir, path, sizeof path);
  if (!*path || stat(path, &st) || st.st_size < SEGMENT_HEADER) return 0;
  *rng = mix(*rng);
  size_t n = 1 + (size_t)(*rng % MAX_TORN);
  bool zeros = (*rng >> 40) & 1;
  unsigned char buf[MAX_TORN];
  for (size_t i = 0; i < n; i++) buf[i] = zeros ? 0 : (unsigned char)mix(*rng + i);
  int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t put = write(fd, buf, n);
  close(fd);
  return put > 0 ? (uint64_t)put : 0;
}

/* One writer run: start, sleep, SIGKILL. 0, or -1 after printing why. */
static int writer_cycle(const options_t *o, long cycle, long delay_ms, totals_t *t) {
  char log_path[4200];
  snprintf(log_path, sizeof log_path, "%s/writer.log", o->dir);
  pid_t pid = spawn(o, "write", cycle, false, "/dev/null", log_path);
  if (pid < 0) {
    printf("crash_loop: fork failed: %s\n", strerror(errno));
    return -1;
  }
  sleep_ms(delay_ms);
  int status = 0;
  pid_t done = waitpid(pid, &status, WNOHANG);
  if (done == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  t->warnings += print_lines(log_path, "store warn", "  writer: ");
  bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  bool store_error = print_lines(log_path, "store error", "  writer: ") > 0;
  if (killed && !store_error) return 0;
  char how[128];
  describe_status(status, how, sizeof how);
  printf("FAIL cycle %ld: the writer %s%s; its output:\n", cycle,
         killed ? "logged a storage error before it was killed" : how,
         killed ? "" : " before it was killed");
  print_lines(log_path, NULL, "  writer: ");
  return -1;
}

/* Waits up to timeout_s for pid; kills it on timeout. Returns its status or -1. */
static int wait_with_timeout(pid_t pid, long timeout_s) {
  int status;
  for (long waited_ms = 0; waited_ms < timeout_s * 1000; waited_ms += 10) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) return -1;
    sleep_ms(10);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

static bool parse_check_line(const char *line, check_line_t *c) {
  return sscanf(line,
                "CHECK %15s last_acked=%lld inflight=%15s points=%llu verified=%llu "
                "replayed=%llu torn_log_bytes=%llu side_torn=%d open_s=%lf problems=%llu",
                c->status, &c->last_acked, c->inflight, &c->points, &c->verified, &c->replayed,
                &c->torn_bytes, &c->side_torn, &c->open_s, &c->problems) == 10;
}

/* Reads the checker's output: echoes FAIL/NOTE lines, parses CHECK. */
static bool read_check_output(const char *path, check_line_t *c, uint64_t *notes) {
  FILE *f = fopen(path, "r");
  char line[4096];
  bool got = false;
  if (!f) return false;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "CHECK ", 6) == 0) got = parse_check_line(line, c);
    else {
      printf("  %s", line);
      if (strncmp(line, "NOTE", 4) == 0) (*notes)++;
    }
  }
  fclose(f);
  return got;
}

/* One check. 0 when it passed (and *c holds its figures), else -1. */
static int check_cycle(const options_t *o, long cycle, bool close_it, check_line_t *c,
                       totals_t *t) {
  char out_path[4200];
  snprintf(out_path, sizeof out_path, "%s/check.out", o->dir);
  pid_t pid = spawn(o, "check", cycle, close_it, out_path, NULL);
  if (pid < 0) {
    printf("crash_loop: fork failed: %s\n", strerror(errno));
    return -1;
  }
  int status = wait_with_timeout(pid, o->check_timeout_s);
  bool parsed = read_check_output(out_path, c, &t->warnings);
  if (status == -1) {
    printf("FAIL cycle %ld: the checker did not finish within %ld s (a hang in open, a "
           "search or close?)\n", cycle, o->check_timeout_s);
    return -1;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && parsed && strcmp(c->status, "ok") == 0)
    return 0;
  char how[128];
  describe_status(status, how, sizeof how);
  printf("FAIL cycle %ld: the check failed (checker %s%s)\n", cycle, how,
         parsed ? "" : ", no summary line");
  return -1;
}

/* --------------------------------------------------------------- main -- */

static void add_check(totals_t *t, const check_line_t *c, bool closed, uint64_t injected) {
  if (c->last_acked <= t->last_acked) t->idle_cycles++;
  t->last_acked = c->last_acked;
  t->batch_checks += (uint64_t)(c->last_acked + 1);
  t->points_verified += c->verified;
  if (strcmp(c->inflight, "landed") == 0) t->landed++;
  else if (strcmp(c->inflight, "absent") == 0) t->absent++;
  else t->nothing_in_flight++;
  if (c->torn_bytes > injected) t->torn_log_cycles++; /* the kill tore an append itself */
  if (injected) {
    t->injected_tails++;
    t->injected_bytes += injected;
  }
  t->torn_log_bytes += c->torn_bytes;
  t->torn_side_lines += (uint64_t)c->side_torn;
  t->replayed_records += c->replayed;
  if (closed) t->closed++;
  else t->crashed_checker++;
  if (c->open_s > t->open_s_max) t->open_s_max = c->open_s;
}

static void print_summary(const options_t *o, const totals_t *t) {
  printf("crash loop passed: %ld cycles (seed %" PRIu64 ", dim %u), writer killed after "
         "%ld-%ld ms each\n", o->cycles, o->seed, o->dim, o->min_ms, o->max_ms);
  printf("  acknowledged batches: %lld, every one verified after each later kill "
         "(%" PRIu64 " batch checks, %" PRIu64 " point checks)\n",
         t->last_acked + 1, t->batch_checks, t->points_verified);
  printf("  in-flight batch at the kill: landed whole %" PRIu64 ", absent %" PRIu64
         ", none changing anything %" PRIu64 "; never torn\n",
         t->landed, t->absent, t->nothing_in_flight);
  printf("  torn tails seen: %" PRIu64 " injected after the kill (%" PRIu64 " bytes), each cut "
         "at open; %" PRIu64 " left by the kill itself; %" PRIu64 " bytes cut in all; torn "
         "acked.log lines %" PRIu64 "\n",
         t->injected_tails, t->injected_bytes, t->torn_log_cycles, t->torn_log_bytes,
         t->torn_side_lines);
  printf("  log records replayed at open: %" PRIu64 "; slowest checker open %.3f s; "
         "checker closed cleanly %" PRIu64 " times, exited as a crash %" PRIu64 " times; "
         "cycles without a new acknowledgement %" PRIu64 "; store warnings %" PRIu64 "\n",
         t->replayed_records, t->open_s_max, t->closed, t->crashed_checker, t->idle_cycles,
         t->warnings);
}

static void print_replay(const options_t *o, long cycle, long delay_ms) {
  printf("crash loop FAILED in cycle %ld (seed %" PRIu64 ", dim %u, writer killed after %ld ms)\n",
         cycle, o->seed, o->dim, delay_ms);
  printf("  data kept in %s\n", o->dir);
  printf("  re-check it: %s check --dir %s --dim %u --seed %" PRIu64 " --cycle %ld\n", o->writer,
         o->dir, o->dim, o->seed, cycle);
  printf("  replay the run: crash_loop --writer %s --dir %s --cycles %ld --seed %" PRIu64 "\n",
         o->writer, o->dir, o->cycles, o->seed);
}

/* Kill, optionally tear the log's tail, check. 0, or -1 after printing why. */
static int run_cycle(const options_t *o, long cycle, uint64_t *rng, totals_t *t) {
  *rng = mix(*rng);
  long delay = o->min_ms + (long)(*rng % (uint64_t)(o->max_ms - o->min_ms + 1));
  bool close_it = (*rng >> 32) & 1, tear = ((*rng >> 33) & 3) == 0;
  check_line_t c;
  memset(&c, 0, sizeof c);
  uint64_t injected = 0;
  int rc = writer_cycle(o, cycle, delay, t);
  if (rc == 0 && tear) injected = inject_torn_tail(o->dir, rng);
  if (rc == 0) rc = check_cycle(o, cycle, close_it, &c, t);
  if (rc == 0 && c.torn_bytes < injected) {
    printf("FAIL cycle %ld: %llu torn bytes were appended to the log, but open cut only %llu\n",
           cycle, (unsigned long long)injected, c.torn_bytes);
    rc = -1;
  }
  if (rc) {
    print_replay(o, cycle, delay);
    return -1;
  }
  add_check(t, &c, close_it, injected);
  printf("cycle %ld: killed after %ld ms; acknowledged %lld; in flight: %s; %llu points; "
         "replayed %llu records; log tail cut %llu bytes (%llu injected)%s; check %s\n",
         cycle, delay, c.last_acked + 1, c.inflight, c.points, c.replayed, c.torn_bytes,
         (unsigned long long)injected, c.side_torn ? "; torn acked.log line" : "",
         close_it ? "closed" : "crashed");
  return 0;
}

int main(int argc, char **argv) {
  options_t o;
  parse_options(argc, argv, &o);
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (reset_dir(o.dir)) {
    printf("crash_loop: cannot prepare %s: %s\n", o.dir, strerror(errno));
    return 1;
  }
  printf("crash loop: seed %" PRIu64 " (replay with --seed %" PRIu64 " or AKIDB_CRASH_SEED), "
         "dim %u, %ld cycles, data in %s\n", o.seed, o.seed, o.dim, o.cycles, o.dir);
  totals_t t = {.last_acked = -1};
  uint64_t rng = o.seed;
  for (long cycle = 1; cycle <= o.cycles; cycle++) {
    if (run_cycle(&o, cycle, &rng, &t)) return 1;
  }
  if (t.last_acked < 0) {
    printf("FAIL: the writer acknowledged no batch in %ld cycles, so nothing was tested\n",
           o.cycles);
    print_replay(&o, o.cycles, 0);
    return 1;
  }
  print_summary(&o, &t);
  if (!o.keep && reset_dir(o.dir) == 0) rmdir(o.dir);
  return 0;
}
