/*
 * test_objstore.c — the object store without a network: the conformance
 * table (objstore_conformance.h) on the local kind, the local kind's
 * atomicity (abort, a crash before commit), corruption detection and key
 * safety, option validation, and the retry runner and circuit breaker
 * driven by a fake clock and fake attempts (src/objstore/objstore.c,
 * breaker.c); finally an S3 store aimed at a closed loopback port shows
 * the breaker opening in the statistics.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include "check.h"
#include "objstore/objstore_internal.h"
#include "objstore_conformance.h"
#include "tmpdir.h"

/* A fresh, empty directory under the test's temporary root (tmpdir.h). */
static char *make_tmpdir(void) {
  static int n;
  char name[32], *d = malloc(8192);
  ASSERT_TRUE(d != NULL);
  snprintf(name, sizeof name, "store-%d", n++);
  tmpdir_path(d, 8192, "akidb-objstore", name);
  ASSERT_OK(mkdir(d, 0755));
  return d;
}

static void rm_rf(const char *d) { tmpdir_remove(d); }

static akidb_objstore_t *open_local(const char *dir, const char *prefix) {
  akidb_objstore_options_t o;
  akidb_objstore_options_default(&o);
  o.kind = "local";
  o.path = dir;
  o.prefix = prefix;
  akidb_objstore_t *s = NULL;
  char err[512] = "";
  int rc = akidb_objstore_open(&o, &s, err, sizeof err);
  if (rc) CHECK_FAIL("open local %s: %s", dir, err);
  return s;
}

/* ------------------------------------------------------------- local kind */

static void test_local_conformance(void) {
  char *d = make_tmpdir();
  akidb_objstore_t *s = open_local(d, NULL);
  conformance_run(s, "run");
  conf_list_many(s, "many-run/", 1100);
  akidb_objstore_close(s);
  /* the same with a key prefix (directories below the root) */
  s = open_local(d, "tenant-a/cold/");
  conformance_run(s, "prefixed");
  akidb_objstore_close(s);
  struct stat st;
  ASSERT_OK(stat(d, &st));
  char path[512];
  snprintf(path, sizeof path, "%s/tenant-a/cold/prefixed/overwrite/twice", d);
  ASSERT_OK(stat(path, &st));
  rm_rf(d);
  free(d);
}

static int count_tmp_files(const char *dir) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "find '%s' -name '*.tmp-*' | wc -l", dir);
  FILE *p = popen(cmd, "r");
  int n = -1;
  ASSERT_TRUE(fscanf(p, "%d", &n) == 1);
  pclose(p);
  return n;
}

static void test_local_abort_leaves_nothing(void) {
  char *d = make_tmpdir();
  akidb_objstore_t *s = open_local(d, NULL);
  char err[512];
  akidb_objstore_writer_t *w;
  ASSERT_OK(akidb_objstore_writer_open(s, "x/y", NULL, 0, &w, err, sizeof err));
  ASSERT_OK(akidb_objstore_writer_write(w, "hello", 5, err, sizeof err));
  ASSERT_EQ_INT(count_tmp_files(d), 1);
  akidb_objstore_writer_abort(w);
  ASSERT_EQ_INT(count_tmp_files(d), 0);
  akidb_objstore_info_t info;
  ASSERT_EQ_INT(akidb_objstore_head(s, "x/y", &info, err, sizeof err), AKIDB_ENOTFOUND);
  akidb_objstore_close(s);
  rm_rf(d);
  free(d);
}

/* A process that dies between write and commit leaves no visible object
 * (only its temporary file, which reads and listings ignore), and the old
 * version of an overwritten key stays intact. */
static void test_local_crash_before_commit_is_invisible(void) {
  char *d = make_tmpdir();
  akidb_objstore_t *s = open_local(d, NULL);
  char err[512];
  ASSERT_OK(akidb_objstore_put_buffer(s, "kept", "old", 3, NULL, err, sizeof err));
  pid_t pid = fork();
  ASSERT_TRUE(pid >= 0);
  if (pid == 0) {
    akidb_objstore_writer_t *w1, *w2;
    if (akidb_objstore_writer_open(s, "new/obj", NULL, 0, &w1, NULL, 0) != 0 ||
        akidb_objstore_writer_open(s, "kept", NULL, 0, &w2, NULL, 0) != 0)
      _exit(2);
    uint8_t buf[100000];
    gen_fill(1, buf, sizeof buf);
    if (akidb_objstore_writer_write(w1, buf, sizeof buf, NULL, 0) != 0 ||
        akidb_objstore_writer_write(w2, buf, sizeof buf, NULL, 0) != 0)
      _exit(3);
    kill(getpid(), SIGKILL); /* the crash */
    _exit(4);
  }
  int status;
  ASSERT_EQ_INT(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ASSERT_EQ_INT(count_tmp_files(d), 2); /* the bytes were written */
  akidb_objstore_info_t info;
  ASSERT_EQ_INT(akidb_objstore_head(s, "new/obj", &info, err, sizeof err), AKIDB_ENOTFOUND);
  membuf_t m = {0};
  ASSERT_OK(get_all(s, "kept", &m, err));
  ASSERT_EQ_U64(m.n, 3);
  ASSERT_TRUE(memcmp(m.p, "old", 3) == 0);
  int count = 0;
  ASSERT_OK(akidb_objstore_list(s, "", count_key, &count, err, sizeof err));
  ASSERT_EQ_INT(count, 1);
  free(m.p);
  akidb_objstore_close(s);
  rm_rf(d);
  free(d);
}

static void flip_byte(const char *path, off_t off) {
  int fd = open(path, O_RDWR);
  ASSERT_TRUE(fd >= 0);
  unsigned char c;
  ASSERT_EQ_INT(pread(fd, &c, 1, off), 1);
  c ^= 0x20;
  ASSERT_EQ_INT(pwrite(fd, &c, 1, off), 1);
  close(fd);
}

static void test_local_corruption_is_detected(void) {
  char *d = make_tmpdir();
  akidb_objstore_t *s = open_local(d, NULL);
  char err[512], path[512];
  uint8_t data[50000];
  gen_fill(9, data, sizeof data);
  ASSERT_OK(akidb_objstore_put_buffer(s, "c/obj", data, sizeof data, NULL, err, sizeof err));
  snprintf(path, sizeof path, "%s/c/obj", d);
  struct stat st;
  ASSERT_OK(stat(path, &st));
  flip_byte(path, st.st_size - 100); /* a data byte */
  membuf_t m = {0};
  ASSERT_EQ_INT(get_all(s, "c/obj", &m, err), AKIDB_ECORRUPT);
  ASSERT_STR_CONTAINS(err, "checksum mismatch");
  ASSERT_STR_CONTAINS(err, "c/obj");
  /* truncation is caught by the header's size */
  ASSERT_OK(truncate(path, st.st_size - 10));
  ASSERT_EQ_INT(get_all(s, "c/obj", &m, err), AKIDB_ECORRUPT);
  ASSERT_STR_CONTAINS(err, "not an intact object file");
  free(m.p);
  akidb_objstore_close(s);
  rm_rf(d);
  free(d);
}

/* 8 KiB that end where an unreadable page begins: a read past them faults. */
static char *guarded_8k(void **map, size_t *map_len) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t body = (8192 + page - 1) / page * page;
  *map_len = body + page;
  *map = mmap(NULL, *map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_TRUE(*map != MAP_FAILED);
  ASSERT_OK(mprotect((char *)*map + body, page, PROT_NONE));
  return (char *)*map + body - 8192;
}

/* The header of an object file is 8 KiB padded with spaces, with no NUL:
 * it is parsed without reading a byte past it (a string function such as
 * sscanf would run into the next page, as a TSan run once showed by
 * crashing), and a header cut short anywhere is refused. */
static void test_local_header_is_read_within_its_8_kib(void) {
  char *d = make_tmpdir();
  akidb_objstore_t *s = open_local(d, NULL);
  char err[512], path[512];
  akidb_objstore_meta_t meta[] = {{"kind", "snapshot \"x\" \\y"}, {"n", "7"}};
  gen_t g = {5, 3000};
  akidb_objstore_put_options_t po = {-1, meta, 2};
  ASSERT_OK(akidb_objstore_put(s, "h/obj", gen_read, &g, &po, NULL, err, sizeof err));
  akidb_objstore_info_t want;
  ASSERT_OK(akidb_objstore_head(s, "h/obj", &want, err, sizeof err));
  snprintf(path, sizeof path, "%s/h/obj", d);
  void *map;
  size_t map_len;
  char *hdr = guarded_8k(&map, &map_len);
  int fd = open(path, O_RDONLY);
  ASSERT_TRUE(fd >= 0);
  ASSERT_EQ_INT(pread(fd, hdr, 8192, 0), 8192);
  close(fd);
  ASSERT_TRUE(memchr(hdr, '\0', 8192) == NULL);
  akidb_objstore_info_t got;
  memset(&got, 0, sizeof got);
  ASSERT_OK(local_header_decode(hdr, 8192, &got));
  ASSERT_EQ_U64(got.size, 3000);
  ASSERT_EQ_U64(got.crc32c, want.crc32c);
  ASSERT_STR_EQ(got.etag, want.etag);
  ASSERT_EQ_U64((uint64_t)got.last_modified, (uint64_t)want.last_modified);
  ASSERT_EQ_INT(got.nmeta, 2);
  ASSERT_STR_EQ(got.meta[0].name, "kind");
  ASSERT_STR_EQ(got.meta[0].value, "snapshot \"x\" \\y");
  ASSERT_STR_EQ(got.meta[1].value, "7");
  /* cut short at every byte of its JSON line, spaces to the end: refused */
  size_t line = (size_t)((char *)memchr(hdr + 10, '\n', 8192 - 10) - hdr);
  char *whole = malloc(8192);
  ASSERT_TRUE(whole != NULL);
  memcpy(whole, hdr, 8192);
  for (size_t cut = 10; cut < line; cut++) {
    memset(hdr + cut, ' ', 8192 - cut);
    memset(&got, 0, sizeof got);
    if (local_header_decode(hdr, 8192, &got) != AKIDB_ECORRUPT)
      CHECK_FAIL("a header cut at byte %zu of %zu was accepted", cut, line);
    memcpy(hdr, whole, 8192);
  }
  free(whole);
  ASSERT_EQ_INT(local_header_decode(hdr, 8191, &got), AKIDB_ECORRUPT);
  munmap(map, map_len);
  akidb_objstore_close(s);
  rm_rf(d);
  free(d);
}

static void test_local_key_conflicts_and_escapes(void) {
  char *d = make_tmpdir();
  char *inner = malloc(strlen(d) + 8);
  sprintf(inner, "%s/store", d);
  akidb_objstore_t *s = open_local(inner, NULL);
  char err[512];
  ASSERT_OK(akidb_objstore_put_buffer(s, "a", "x", 1, NULL, err, sizeof err));
  ASSERT_EQ_INT(akidb_objstore_put_buffer(s, "a/b", "x", 1, NULL, err, sizeof err),
                AKIDB_ECONFLICT);
  ASSERT_STR_CONTAINS(err, "conflicts");
  ASSERT_OK(akidb_objstore_put_buffer(s, "p/q", "x", 1, NULL, err, sizeof err));
  ASSERT_EQ_INT(akidb_objstore_put_buffer(s, "p", "x", 1, NULL, err, sizeof err),
                AKIDB_ECONFLICT);
  /* once p/q is gone its directory goes too, and "p" can be stored */
  ASSERT_OK(akidb_objstore_delete(s, "p/q", err, sizeof err));
  ASSERT_OK(akidb_objstore_put_buffer(s, "p", "x", 1, NULL, err, sizeof err));
  /* nothing escapes the root */
  ASSERT_EQ_INT(akidb_objstore_put_buffer(s, "../outside", "x", 1, NULL, err, sizeof err),
                AKIDB_EINVAL);
  char outside[512];
  snprintf(outside, sizeof outside, "%s/outside", d);
  struct stat st;
  ASSERT_TRUE(stat(outside, &st) != 0);
  akidb_objstore_close(s);
  rm_rf(d);
  free(inner);
  free(d);
}

/* ---------------------------------------------------------------- options */

static void test_options_validation(void) {
  akidb_objstore_options_t o;
  char err[512];
  akidb_objstore_options_default(&o);
  ASSERT_EQ_U64(o.part_size, 8ull << 20);
  ASSERT_EQ_INT(o.breaker_failures, 5);
  ASSERT_EQ_INT(akidb_objstore_options_validate(&o, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "kind");
  o.kind = "s3";
  o.endpoint = "ftp://x";
  o.bucket = "akidb";
  o.access_key = "AK";
  o.secret_key = "SUPERSECRET";
  ASSERT_EQ_INT(akidb_objstore_options_validate(&o, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "endpoint");
  ASSERT_TRUE(strstr(err, "SUPERSECRET") == NULL);
  o.endpoint = "http://127.0.0.1:9000/bucket";
  ASSERT_EQ_INT(akidb_objstore_options_validate(&o, err, sizeof err), AKIDB_EINVAL);
  o.endpoint = "http://127.0.0.1:9000";
  ASSERT_OK(akidb_objstore_options_validate(&o, err, sizeof err));
  o.part_size = 1 << 20;
  ASSERT_EQ_INT(akidb_objstore_options_validate(&o, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "part_size = 1048576 is out of range [5242880, 5368709120]");
  o.part_size = AKIDB_OBJSTORE_PART_SIZE_DEFAULT;
  o.max_parallel = 0;
  ASSERT_EQ_INT(akidb_objstore_options_validate(&o, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "max_parallel");
  o.max_parallel = 4;
  o.retry_base_ms = 10000;
  o.retry_max_ms = 100;
  ASSERT_EQ_INT(akidb_objstore_options_validate(&o, err, sizeof err), AKIDB_EINVAL);
  o.retry_base_ms = 50;
  o.retry_max_ms = 5000;
  o.bucket = "Bad_Bucket";
  ASSERT_EQ_INT(akidb_objstore_options_validate(&o, err, sizeof err), AKIDB_EINVAL);
  o.bucket = "akidb";
  o.prefix = "../up/";
  ASSERT_EQ_INT(akidb_objstore_options_validate(&o, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "prefix");
  o.prefix = "akidb/";
  o.secret_key = NULL;
  ASSERT_EQ_INT(akidb_objstore_options_validate(&o, err, sizeof err), AKIDB_EINVAL);
  o.kind = "local";
  o.path = NULL;
  ASSERT_EQ_INT(akidb_objstore_options_validate(&o, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "path");
}

/* ------------------------------------------- retry runner and breaker */

typedef struct {
  uint64_t now;
  uint64_t slept[64];
  int nsleep;
  uint64_t rnd;
} fake_clock_t;

static uint64_t fake_now(void *ctx) { return ((fake_clock_t *)ctx)->now; }
static void fake_sleep(void *ctx, uint64_t ms) {
  fake_clock_t *c = ctx;
  if (c->nsleep < 64) c->slept[c->nsleep++] = ms;
  c->now += ms;
}
static uint64_t fake_random(void *ctx) { return ((fake_clock_t *)ctx)->rnd; }

typedef struct {
  int calls;
  int fail_first; /* this many attempts fail */
  bool transient;
  int rc;
} fake_attempt_t;

static int fake_attempt(void *ctx, uint32_t attempt, bool *transient, char *err, size_t errlen) {
  (void)attempt;
  fake_attempt_t *a = ctx;
  a->calls++;
  if (a->calls <= a->fail_first) {
    *transient = a->transient;
    snprintf(err, errlen, "s3 GET b/k: connection refused");
    return a->rc;
  }
  return 0;
}

typedef struct {
  fake_clock_t fc;
  objstore_clock_t clock;
  objstore_breaker_t breaker;
  objstore_stats_t stats;
  objstore_retry_t retry;
} rig_t;

static rig_t *rig_new(uint32_t max_retries, uint32_t threshold, uint64_t cooldown) {
  rig_t *r = calloc(1, sizeof *r);
  r->fc.now = 1000000;
  r->clock = (objstore_clock_t){fake_now, fake_sleep, fake_random, &r->fc};
  breaker_init(&r->breaker, threshold, cooldown, "http://127.0.0.1:9", &r->clock);
  r->retry = (objstore_retry_t){&r->breaker, &r->stats, &r->clock, max_retries, 100, 1000};
  return r;
}

static void rig_free(rig_t *r) {
  breaker_destroy(&r->breaker);
  free(r);
}

static void test_backoff_is_capped_exponential_with_full_jitter(void) {
  /* with the largest draw the sleep is the cap: 100, 200, 400, 800, 1000, 1000 */
  uint64_t want[] = {100, 200, 400, 800, 1000, 1000};
  for (uint32_t i = 0; i < 6; i++) {
    ASSERT_EQ_U64(objstore_backoff_ms(i + 1, 100, 1000, (want[i] + 1) * 12345 + want[i]), want[i]);
    ASSERT_EQ_U64(objstore_backoff_ms(i + 1, 100, 1000, 0), 0);
  }
  /* draws spread over [0, cap] */
  for (uint64_t r = 0; r < 5000; r += 7) ASSERT_LE(objstore_backoff_ms(3, 100, 1000, r), 400);
  ASSERT_EQ_U64(objstore_backoff_ms(40, 100, 1000, UINT64_MAX), UINT64_MAX % 1001);
}

static void test_transient_failures_are_retried_then_succeed(void) {
  rig_t *r = rig_new(4, 10, 5000);
  r->fc.rnd = ~0ull;
  fake_attempt_t a = {0, 2, true, AKIDB_EUNAVAILABLE};
  char err[512] = "";
  ASSERT_OK(objstore_retry_run(&r->retry, AKIDB_OBJSTORE_OP_GET, fake_attempt, &a, err,
                               sizeof err));
  ASSERT_EQ_INT(a.calls, 3);
  ASSERT_EQ_INT(r->fc.nsleep, 2);
  ASSERT_LE(r->fc.slept[0], 100);
  ASSERT_LE(r->fc.slept[1], 200);
  ASSERT_EQ_U64(atomic_load(&r->stats.op[AKIDB_OBJSTORE_OP_GET].retries), 2);
  ASSERT_EQ_U64(atomic_load(&r->stats.op[AKIDB_OBJSTORE_OP_GET].calls), 1);
  ASSERT_EQ_U64(atomic_load(&r->stats.op[AKIDB_OBJSTORE_OP_GET].errors), 0);
  int state;
  uint32_t cons;
  breaker_read(&r->breaker, &state, &cons, NULL, NULL);
  ASSERT_EQ_INT(state, AKIDB_OBJSTORE_BREAKER_CLOSED);
  ASSERT_EQ_INT(cons, 0);
  rig_free(r);
}

static void test_permanent_errors_are_not_retried(void) {
  rig_t *r = rig_new(4, 3, 5000);
  fake_attempt_t a = {0, 100, false, AKIDB_EPERM};
  char err[512] = "";
  ASSERT_EQ_INT(objstore_retry_run(&r->retry, AKIDB_OBJSTORE_OP_PUT, fake_attempt, &a, err,
                                   sizeof err),
                AKIDB_EPERM);
  ASSERT_EQ_INT(a.calls, 1);
  ASSERT_EQ_INT(r->fc.nsleep, 0);
  ASSERT_STR_CONTAINS(err, "connection refused");
  /* a non-transient answer proves the endpoint up: the breaker stays closed */
  for (int i = 0; i < 10; i++) {
    a.calls = 0;
    objstore_retry_run(&r->retry, AKIDB_OBJSTORE_OP_PUT, fake_attempt, &a, err, sizeof err);
  }
  int state;
  breaker_read(&r->breaker, &state, NULL, NULL, NULL);
  ASSERT_EQ_INT(state, AKIDB_OBJSTORE_BREAKER_CLOSED);
  ASSERT_EQ_U64(atomic_load(&r->stats.op[AKIDB_OBJSTORE_OP_PUT].errors), 11);
  rig_free(r);
}

static void test_breaker_opens_after_n_failures_and_fails_fast(void) {
  rig_t *r = rig_new(2, 5, 3000);
  fake_attempt_t a = {0, 1000, true, AKIDB_EUNAVAILABLE};
  char err[512] = "";
  /* call 1: 3 attempts (2 retries); call 2: attempts 4 and 5 open the
   * breaker, its last retry is refused without an attempt */
  ASSERT_EQ_INT(objstore_retry_run(&r->retry, AKIDB_OBJSTORE_OP_HEAD, fake_attempt, &a, err,
                                   sizeof err),
                AKIDB_EUNAVAILABLE);
  ASSERT_EQ_INT(a.calls, 3);
  ASSERT_STR_CONTAINS(err, "gave up after 3 attempts");
  ASSERT_EQ_INT(objstore_retry_run(&r->retry, AKIDB_OBJSTORE_OP_HEAD, fake_attempt, &a, err,
                                   sizeof err),
                AKIDB_EUNAVAILABLE);
  ASSERT_EQ_INT(a.calls, 5);
  ASSERT_STR_CONTAINS(err, "object store http://127.0.0.1:9 unavailable: circuit open after "
                           "5 consecutive failures; last: s3 GET b/k: connection refused");
  int state;
  uint32_t cons;
  uint64_t opens;
  breaker_read(&r->breaker, &state, &cons, &opens, NULL);
  ASSERT_EQ_INT(state, AKIDB_OBJSTORE_BREAKER_OPEN);
  ASSERT_EQ_INT(cons, 5);
  ASSERT_EQ_U64(opens, 1);
  /* retries made: 2 in the first call, 1 in the second (its next was refused) */
  ASSERT_EQ_U64(atomic_load(&r->stats.op[AKIDB_OBJSTORE_OP_HEAD].retries), 3);
  ASSERT_EQ_U64(atomic_load(&r->stats.op[AKIDB_OBJSTORE_OP_HEAD].errors), 2);
  /* while open: no attempt at all */
  for (int i = 0; i < 20; i++)
    ASSERT_EQ_INT(objstore_retry_run(&r->retry, AKIDB_OBJSTORE_OP_HEAD, fake_attempt, &a, err,
                                     sizeof err),
                  AKIDB_EUNAVAILABLE);
  ASSERT_EQ_INT(a.calls, 5);
  rig_free(r);
}

static void test_breaker_cooldown_lets_exactly_one_probe(void) {
  rig_t *r = rig_new(0, 2, 3000);
  char err[512];
  bool probe;
  for (int i = 0; i < 2; i++) {
    ASSERT_OK(breaker_admit(&r->breaker, &probe, err, sizeof err));
    breaker_record(&r->breaker, probe, true, "refused");
  }
  ASSERT_EQ_INT(breaker_admit(&r->breaker, &probe, err, sizeof err), AKIDB_EUNAVAILABLE);
  r->fc.now += 2999;
  ASSERT_EQ_INT(breaker_admit(&r->breaker, &probe, err, sizeof err), AKIDB_EUNAVAILABLE);
  r->fc.now += 1;
  /* cooldown over: one probe, everyone else still refused */
  ASSERT_OK(breaker_admit(&r->breaker, &probe, err, sizeof err));
  ASSERT_TRUE(probe);
  bool probe2;
  for (int i = 0; i < 5; i++) {
    ASSERT_EQ_INT(breaker_admit(&r->breaker, &probe2, err, sizeof err), AKIDB_EUNAVAILABLE);
    ASSERT_STR_CONTAINS(err, "half-open");
  }
  int state;
  breaker_read(&r->breaker, &state, NULL, NULL, NULL);
  ASSERT_EQ_INT(state, AKIDB_OBJSTORE_BREAKER_HALF_OPEN);
  /* the probe fails: open again, for a full cooldown */
  breaker_record(&r->breaker, true, true, "still refused");
  breaker_read(&r->breaker, &state, NULL, NULL, NULL);
  ASSERT_EQ_INT(state, AKIDB_OBJSTORE_BREAKER_OPEN);
  r->fc.now += 2999;
  ASSERT_EQ_INT(breaker_admit(&r->breaker, &probe, err, sizeof err), AKIDB_EUNAVAILABLE);
  ASSERT_STR_CONTAINS(err, "still refused");
  r->fc.now += 1;
  ASSERT_OK(breaker_admit(&r->breaker, &probe, err, sizeof err));
  ASSERT_TRUE(probe);
  /* the probe succeeds: closed, everyone admitted */
  breaker_record(&r->breaker, true, false, NULL);
  uint32_t cons;
  uint64_t opens, probes;
  breaker_read(&r->breaker, &state, &cons, &opens, &probes);
  ASSERT_EQ_INT(state, AKIDB_OBJSTORE_BREAKER_CLOSED);
  ASSERT_EQ_INT(cons, 0);
  ASSERT_EQ_U64(opens, 2);
  ASSERT_EQ_U64(probes, 2); /* one per cool-down: the refused callers were no probes */
  for (int i = 0; i < 5; i++) {
    ASSERT_OK(breaker_admit(&r->breaker, &probe, err, sizeof err));
    ASSERT_TRUE(!probe);
  }
  rig_free(r);
}

/* Threads racing at a half-open breaker: exactly one gets the probe. */
typedef struct {
  objstore_breaker_t *b;
  int admitted;
} race_arg_t;

static void *race_admit(void *arg) {
  race_arg_t *a = arg;
  bool probe;
  char err[256];
  if (breaker_admit(a->b, &probe, err, sizeof err) == 0 && probe) a->admitted = 1;
  return NULL;
}

static void test_breaker_one_probe_under_concurrency(void) {
  rig_t *r = rig_new(0, 1, 10);
  bool probe;
  char err[256];
  ASSERT_OK(breaker_admit(&r->breaker, &probe, err, sizeof err));
  breaker_record(&r->breaker, probe, true, "x");
  r->fc.now += 10;
  enum { T = 8 };
  pthread_t th[T];
  race_arg_t args[T];
  for (int i = 0; i < T; i++) {
    args[i] = (race_arg_t){&r->breaker, 0};
    ASSERT_OK(pthread_create(&th[i], NULL, race_admit, &args[i]));
  }
  int probes = 0;
  for (int i = 0; i < T; i++) {
    pthread_join(th[i], NULL);
    probes += args[i].admitted;
  }
  ASSERT_EQ_INT(probes, 1);
  rig_free(r);
}

/* ------------------------------------ s3 store at a closed port (loopback) */

static int closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_OK(bind(fd, (struct sockaddr *)&a, sizeof a));
  socklen_t l = sizeof a;
  ASSERT_OK(getsockname(fd, (struct sockaddr *)&a, &l));
  close(fd); /* nobody listens there now */
  return ntohs(a.sin_port);
}

static void test_s3_refused_connections_open_the_breaker(void) {
  char ep[64];
  snprintf(ep, sizeof ep, "http://127.0.0.1:%d", closed_port());
  akidb_objstore_options_t o;
  akidb_objstore_options_default(&o);
  o.kind = "s3";
  o.endpoint = ep;
  o.bucket = "akidb";
  o.access_key = "AKIDEXAMPLE";
  o.secret_key = "VERY-SECRET-VALUE";
  o.session_token = "SESSION-TOKEN-VALUE";
  o.path_style = true;
  o.max_retries = 2;
  o.retry_base_ms = 1;
  o.retry_max_ms = 5;
  o.breaker_failures = 5;
  o.breaker_cooldown_ms = 60000;
  akidb_objstore_t *s;
  char err[1024];
  ASSERT_OK(akidb_objstore_open(&o, &s, err, sizeof err));
  akidb_objstore_info_t info;
  ASSERT_EQ_INT(akidb_objstore_head(s, "k", &info, err, sizeof err), AKIDB_EUNAVAILABLE);
  ASSERT_STR_CONTAINS(err, "s3 HEAD akidb/k: connection refused");
  ASSERT_STR_CONTAINS(err, "gave up after 3 attempts");
  ASSERT_EQ_INT(akidb_objstore_put_buffer(s, "k", "x", 1, NULL, err, sizeof err),
                AKIDB_EUNAVAILABLE);
  ASSERT_STR_CONTAINS(err, "circuit open after 5 consecutive failures; last: s3 ");
  ASSERT_STR_CONTAINS(err, ep);
  ASSERT_TRUE(strstr(err, "VERY-SECRET") == NULL && strstr(err, "SESSION-TOKEN") == NULL);
  akidb_objstore_stats_t st;
  akidb_objstore_stats(s, &st);
  ASSERT_EQ_INT(st.breaker_state, AKIDB_OBJSTORE_BREAKER_OPEN);
  ASSERT_EQ_INT(st.consecutive_failures, 5);
  ASSERT_EQ_U64(st.op[AKIDB_OBJSTORE_OP_HEAD].calls, 1);
  ASSERT_EQ_U64(st.op[AKIDB_OBJSTORE_OP_HEAD].retries, 2);
  ASSERT_EQ_U64(st.op[AKIDB_OBJSTORE_OP_HEAD].errors, 1);
  ASSERT_EQ_U64(st.op[AKIDB_OBJSTORE_OP_PUT].errors, 1);
  ASSERT_TRUE(strcmp(akidb_objstore_breaker_state_name(st.breaker_state), "open") == 0);
  ASSERT_TRUE(strcmp(akidb_objstore_op_name(AKIDB_OBJSTORE_OP_MPU_PART), "multipart_part") == 0);
  akidb_objstore_close(s);
}

CHECK_MAIN(CHECK_CASE(test_options_validation), CHECK_CASE(test_local_conformance),
           CHECK_CASE(test_local_abort_leaves_nothing),
           CHECK_CASE(test_local_crash_before_commit_is_invisible),
           CHECK_CASE(test_local_corruption_is_detected),
           CHECK_CASE(test_local_header_is_read_within_its_8_kib),
           CHECK_CASE(test_local_key_conflicts_and_escapes),
           CHECK_CASE(test_backoff_is_capped_exponential_with_full_jitter),
           CHECK_CASE(test_transient_failures_are_retried_then_succeed),
           CHECK_CASE(test_permanent_errors_are_not_retried),
           CHECK_CASE(test_breaker_opens_after_n_failures_and_fails_fast),
           CHECK_CASE(test_breaker_cooldown_lets_exactly_one_probe),
           CHECK_CASE(test_breaker_one_probe_under_concurrency),
           CHECK_CASE(test_s3_refused_connections_open_the_breaker))
