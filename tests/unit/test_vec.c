/*
 * test_vec.c — tests of src/vec: every kernel implementation this CPU can
 * run against a float64 reference, CPU detection, the SIMD choice and its
 * AKIDB_SIMD override, and the normalise / non-finite helpers.
 *
 * The choice is made once per process, so every test that calls
 * akidb_simd_init() or akidb_kernels() does so in a forked child (see
 * in_child()); the parent process must never call them, or its finished
 * choice would be inherited by the children.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <float.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "akidb/errors.h"
#include "akidb/vec.h"
#include "check.h"

/* ------------------------------------------------------------ helpers -- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* Uniform in [-1, 1), from a seeded xorshift64*. */
static float rand_float(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  uint64_t r = rng_state * 0x2545f4914f6cdd1dull;
  return (float)((double)(r >> 40) / (double)(1ull << 23) - 1.0);
}

/* Whether `word` is one of the space-separated words of `list`. */
static bool has_word(const char *list, const char *word) {
  size_t n = strlen(word);
  for (const char *p = list; (p = strstr(p, word)) != NULL; p += n) {
    bool starts = p == list || p[-1] == ' ';
    bool ends = p[n] == '\0' || p[n] == ' ';
    if (starts && ends) return true;
  }
  return false;
}

/* The fastest level this CPU can run, by the documented preference. */
static akidb_simd_t expected_best(void) {
  if (akidb_simd_supported(AKIDB_SIMD_AVX512)) return AKIDB_SIMD_AVX512;
  if (akidb_simd_supported(AKIDB_SIMD_AVX2)) return AKIDB_SIMD_AVX2;
  if (akidb_simd_supported(AKIDB_SIMD_NEON)) return AKIDB_SIMD_NEON;
  return AKIDB_SIMD_SCALAR;
}

/*
 * Runs body() in a forked child whose AKIDB_SIMD is `simd` (unset when
 * NULL), so the child makes its own once-per-process choice. Fails unless
 * the child exits 0 (a failing assert in the child prints why and exits 1).
 */
static void in_child(const char *simd, void (*body)(void)) {
  fflush(NULL);
  pid_t pid = fork();
  ASSERT_TRUE(pid >= 0);
  if (pid == 0) {
    if (simd) setenv("AKIDB_SIMD", simd, 1);
    else unsetenv("AKIDB_SIMD");
    body();
    fflush(NULL);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ_INT(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ_INT(WEXITSTATUS(status), 0);
}

/* ---------------------------------------------- kernels vs reference -- */

/* A float64 reference distance and the error allowed for a float result. */
typedef struct {
  double value;
  double bound; /* 1e-5 * sum |term| + 1e-6 */
} ref_t;

static ref_t ref_l2sq(const float *a, const float *b, size_t dim) {
  double sum = 0.0;
  for (size_t i = 0; i < dim; i++) {
    double d = (double)a[i] - (double)b[i];
    sum += d * d;
  }
  return (ref_t){sum, 1e-5 * sum + 1e-6};
}

static ref_t ref_dot(const float *a, const float *b, size_t dim) {
  double sum = 0.0, abs_sum = 0.0;
  for (size_t i = 0; i < dim; i++) {
    double t = (double)a[i] * (double)b[i];
    sum += t;
    abs_sum += fabs(t);
  }
  return (ref_t){sum, 1e-5 * abs_sum + 1e-6};
}

/* Fails with every detail when `got` is farther from `ref` than allowed. */
static void check_close(const char *impl, const char *fn, size_t dim,
                        size_t offset, int k, float got, ref_t ref) {
  double diff = fabs((double)got - ref.value);
  if (!(diff <= ref.bound))
    CHECK_FAIL("%s %s, dim %zu, offset %zu, vector %d: got %.9g, float64 "
               "reference %.9g, |diff| %.3g > bound %.3g",
               impl, fn, dim, offset, k, (double)got, ref.value, diff,
               ref.bound);
}

/* One query and four vectors, each allocated to its exact size. */
typedef struct {
  float *buf[5];
  const float *q;
  const float *v[4];
  ref_t l2[4], ip[4];
} case_t;

/*
 * Fills a case of `dim` floats starting `offset` floats into each buffer:
 * v0 random, v1 a near copy of q (cancellation in l2sq), v2 and v3 random
 * at scales 100 and 0.01.
 */
static void case_make(case_t *c, size_t dim, size_t offset) {
  static const float scale[5] = {1.0f, 1.0f, 1.0f, 100.0f, 0.01f};
  for (int j = 0; j < 5; j++) {
    c->buf[j] = malloc((dim + offset) * sizeof(float));
    ASSERT_TRUE(c->buf[j] != NULL);
    for (size_t i = 0; i < dim + offset; i++)
      c->buf[j][i] = scale[j] * rand_float();
  }
  float *q = c->buf[0] + offset, *near = c->buf[2] + offset;
  for (size_t i = 0; i < dim; i++) near[i] = q[i] + 1e-3f * rand_float();
  c->q = q;
  for (int k = 0; k < 4; k++) {
    c->v[k] = c->buf[k + 1] + offset;
    c->l2[k] = ref_l2sq(c->q, c->v[k], dim);
    c->ip[k] = ref_dot(c->q, c->v[k], dim);
  }
}

static void case_free(case_t *c) {
  for (int j = 0; j < 5; j++) free(c->buf[j]);
}

/*
 * l2sq_bounded: bit-identical to l2sq when the distance is below the bound;
 * never below the bound when the distance reaches it (at bounds of 1%, 50%,
 * 100% and 200% of the true distance, and infinity).
 */
static void check_bounded(const akidb_kernels_t *kern, const case_t *c,
                          size_t dim) {
  static const float frac[] = {0.01f, 0.5f, 1.0f, 2.0f};
  for (int k = 0; k < 4; k++) {
    float full = kern->l2sq(c->q, c->v[k], dim);
    float unbounded = kern->l2sq_bounded(c->q, c->v[k], dim, INFINITY);
    if (unbounded != full)
      CHECK_FAIL("%s l2sq_bounded dim %zu vector %d: %.9g != l2sq %.9g", kern->name,
                 dim, k, unbounded, full);
    for (size_t f = 0; f < sizeof frac / sizeof frac[0]; f++) {
      float bound = full * frac[f];
      float got = kern->l2sq_bounded(c->q, c->v[k], dim, bound);
      if (full < bound && got != full)
        CHECK_FAIL("%s l2sq_bounded dim %zu bound %.9g: %.9g != l2sq %.9g",
                   kern->name, dim, bound, got, full);
      if (full >= bound && !(got >= bound))
        CHECK_FAIL("%s l2sq_bounded dim %zu: %.9g below bound %.9g though l2sq is %.9g",
                   kern->name, dim, got, bound, full);
    }
  }
}

/* All kernels of `kern` on one case. */
static void check_kernels(const akidb_kernels_t *kern, const case_t *c,
                          size_t dim, size_t offset) {
  const char *name = kern->name;
  for (int k = 0; k < 4; k++) {
    check_close(name, "l2sq", dim, offset, k, kern->l2sq(c->q, c->v[k], dim),
                c->l2[k]);
    check_close(name, "dot", dim, offset, k, kern->dot(c->q, c->v[k], dim),
                c->ip[k]);
  }
  float out[4];
  kern->l2sq4(c->q, c->v, dim, out);
  for (int k = 0; k < 4; k++)
    check_close(name, "l2sq4", dim, offset, k, out[k], c->l2[k]);
  kern->dot4(c->q, c->v, dim, out);
  for (int k = 0; k < 4; k++)
    check_close(name, "dot4", dim, offset, k, out[k], c->ip[k]);
  check_bounded(kern, c, dim);
}

static void test_kernels_match_float64_reference(void) {
  static const size_t large[] = {384, 768, 1024, 1536, 3072, 4096};
  size_t dims[300 + sizeof large / sizeof large[0]], ndims = 0;
  for (size_t d = 1; d <= 300; d++) dims[ndims++] = d;
  for (size_t j = 0; j < sizeof large / sizeof large[0]; j++)
    dims[ndims++] = large[j];

  int tested = 0;
  for (size_t di = 0; di < ndims; di++) {
    for (size_t offset = 0; offset <= 1; offset++) {
      case_t c;
      case_make(&c, dims[di], offset);
      for (int l = 0; l < AKIDB_SIMD_COUNT; l++) {
        const akidb_kernels_t *kern = akidb_kernels_for((akidb_simd_t)l);
        if (!kern) continue;
        check_kernels(kern, &c, dims[di], offset);
        tested++;
      }
      case_free(&c);
    }
  }
  ASSERT_GE(tested, (int)(2 * ndims));
  fprintf(stderr, "     checked:");
  for (int l = 0; l < AKIDB_SIMD_COUNT; l++)
    if (akidb_kernels_for((akidb_simd_t)l))
      fprintf(stderr, " %s", akidb_simd_name((akidb_simd_t)l));
  fputc('\n', stderr);
}

/* What the guard-page test is running, for its SIGSEGV message. */
static const char *volatile guard_impl = "", *volatile guard_fn = "";
static volatile size_t guard_dim;

static void on_guard_fault(int sig) {
  (void)sig;
  char msg[160];
  int n = snprintf(msg, sizeof msg,
                   "FAIL %s l2sq/dot%s, dim %zu: read past the end of a "
                   "vector (SIGSEGV on the guard page)\n",
                   guard_impl, guard_fn, guard_dim);
  if (n > 0) (void)!write(2, msg, (size_t)n);
  _exit(1);
}

/* Calls every kernel of `kern` on vectors of `dim` floats ending at end[]. */
static void run_guarded(const akidb_kernels_t *kern, float *const end[5],
                        size_t dim) {
  const float *q = end[0] - dim;
  const float *const v[4] = {end[1] - dim, end[2] - dim, end[3] - dim,
                             end[4] - dim};
  float out[4];
  guard_impl = kern->name;
  guard_dim = dim;
  guard_fn = "";
  (void)kern->l2sq(q, v[0], dim);
  (void)kern->dot(v[1], q, dim);
  guard_fn = "4";
  kern->l2sq4(q, v, dim, out);
  kern->dot4(q, v, dim, out);
}

static void test_kernels_never_read_past_the_end(void) {
  /* Each vector ends flush against a page that may not be read. */
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  char *map[5];
  float *end[5];
  for (int j = 0; j < 5; j++) {
    map[j] = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_TRUE(map[j] != MAP_FAILED);
    ASSERT_OK(mprotect(map[j] + page, page, PROT_NONE));
    end[j] = (float *)(map[j] + page);
    for (size_t i = 1; i <= 200; i++) end[j][-(long)i] = rand_float();
  }
  struct sigaction sa, old_segv, old_bus;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_guard_fault;
  sigaction(SIGSEGV, &sa, &old_segv);
  sigaction(SIGBUS, &sa, &old_bus);
  for (int l = 0; l < AKIDB_SIMD_COUNT; l++) {
    const akidb_kernels_t *kern = akidb_kernels_for((akidb_simd_t)l);
    if (!kern) continue;
    for (size_t dim = 0; dim <= 200; dim++) run_guarded(kern, end, dim);
  }
  sigaction(SIGSEGV, &old_segv, NULL);
  sigaction(SIGBUS, &old_bus, NULL);
  for (int j = 0; j < 5; j++) munmap(map[j], 2 * page);
}

static void test_kernels_return_zero_for_empty_vectors(void) {
  static const float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
  const float *const v[4] = {b, b, b, b};
  for (int l = 0; l < AKIDB_SIMD_COUNT; l++) {
    const akidb_kernels_t *kern = akidb_kernels_for((akidb_simd_t)l);
    if (!kern) continue;
    float out[4] = {-1, -1, -1, -1};
    ASSERT_EQ_INT(kern->l2sq(a, b, 0) == 0.0f, 1);
    ASSERT_EQ_INT(kern->dot(a, b, 0) == 0.0f, 1);
    kern->l2sq4(a, v, 0, out);
    for (int k = 0; k < 4; k++) ASSERT_EQ_INT(out[k] == 0.0f, 1);
    kern->dot4(a, v, 0, out);
    for (int k = 0; k < 4; k++) ASSERT_EQ_INT(out[k] == 0.0f, 1);
  }
}

static void test_kernels_agree_on_exact_small_integers(void) {
  /* Integers this small sum exactly in float, in any order. */
  float a[37], b[37];
  double l2 = 0, ip = 0;
  for (int i = 0; i < 37; i++) {
    a[i] = (float)(i % 7 - 3);
    b[i] = (float)(i % 5 - 2);
    l2 += (a[i] - b[i]) * (a[i] - b[i]);
    ip += a[i] * b[i];
  }
  const float *const v[4] = {b, a, b, a};
  for (int l = 0; l < AKIDB_SIMD_COUNT; l++) {
    const akidb_kernels_t *kern = akidb_kernels_for((akidb_simd_t)l);
    if (!kern) continue;
    ASSERT_NEAR(kern->l2sq(a, b, 37), l2, 0);
    ASSERT_NEAR(kern->dot(a, b, 37), ip, 0);
    float out[4];
    kern->l2sq4(a, v, 37, out);
    ASSERT_NEAR(out[0], l2, 0);
    ASSERT_NEAR(out[1], 0, 0);
    kern->dot4(a, v, 37, out);
    ASSERT_NEAR(out[2], ip, 0);
  }
}

/* ------------------------------------------------------ CPU detection -- */

static void test_scalar_is_always_supported(void) {
  ASSERT_TRUE(akidb_simd_supported(AKIDB_SIMD_SCALAR));
  const akidb_kernels_t *kern = akidb_kernels_for(AKIDB_SIMD_SCALAR);
  ASSERT_TRUE(kern != NULL);
  ASSERT_EQ_INT(kern->level, AKIDB_SIMD_SCALAR);
}

static void test_kernel_tables_describe_their_level(void) {
  for (int l = 0; l < AKIDB_SIMD_COUNT; l++) {
    const akidb_kernels_t *kern = akidb_kernels_for((akidb_simd_t)l);
    ASSERT_EQ_INT(kern != NULL, akidb_simd_supported((akidb_simd_t)l));
    if (!kern) continue;
    ASSERT_EQ_INT(kern->level, l);
    ASSERT_STR_CONTAINS(kern->name, akidb_simd_name((akidb_simd_t)l));
    ASSERT_EQ_INT(strlen(kern->name), strlen(akidb_simd_name(kern->level)));
    ASSERT_TRUE(kern->l2sq && kern->dot && kern->l2sq4 && kern->dot4);
  }
  ASSERT_TRUE(akidb_kernels_for(AKIDB_SIMD_COUNT) == NULL);
  ASSERT_TRUE(!akidb_simd_supported((akidb_simd_t)-1));
  ASSERT_TRUE(!akidb_simd_supported((akidb_simd_t)99));
}

static void test_x86_support_matches_cpuid(void) {
#if defined(__x86_64__)
  bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  bool avx512 = avx2 && __builtin_cpu_supports("avx512f");
  const char *features = akidb_cpu_features();
  fprintf(stderr, "     cpu features: %s\n", features);
  ASSERT_EQ_INT(akidb_simd_supported(AKIDB_SIMD_AVX2), avx2);
  ASSERT_EQ_INT(akidb_simd_supported(AKIDB_SIMD_AVX512), avx512);
  ASSERT_TRUE(!akidb_simd_supported(AKIDB_SIMD_NEON));
  if (avx2) ASSERT_TRUE(has_word(features, "avx2"));
  if (avx512) ASSERT_TRUE(has_word(features, "avx512f"));
#else
  fprintf(stderr, "     not x86-64: skipped\n");
#endif
}

static void test_aarch64_supports_neon(void) {
#if defined(__aarch64__)
  const char *features = akidb_cpu_features();
  fprintf(stderr, "     cpu features: %s\n", features);
  ASSERT_TRUE(akidb_simd_supported(AKIDB_SIMD_NEON));
  ASSERT_TRUE(!akidb_simd_supported(AKIDB_SIMD_AVX2));
  ASSERT_TRUE(!akidb_simd_supported(AKIDB_SIMD_AVX512));
  ASSERT_TRUE(has_word(features, "asimd"));
  ASSERT_EQ_INT(expected_best(), AKIDB_SIMD_NEON);
#else
  fprintf(stderr, "     not aarch64: skipped\n");
#endif
}

static void child_default_is_neon(void) {
  const akidb_kernels_t *kern = akidb_kernels();
  ASSERT_TRUE(kern != NULL);
  ASSERT_EQ_INT(kern->level, AKIDB_SIMD_NEON);
}

static void test_no_sve_when_expected(void) {
  const char *expect = getenv("AKIDB_EXPECT_NO_SVE");
  if (!expect || strcmp(expect, "1") != 0) {
    fprintf(stderr, "     AKIDB_EXPECT_NO_SVE unset: skipped\n");
    return;
  }
  const char *features = akidb_cpu_features();
  fprintf(stderr, "     cpu features: %s\n", features);
  ASSERT_TRUE(!has_word(features, "sve"));
  in_child(NULL, child_default_is_neon);
}

/* -------------------------------------------------------- name parsing -- */

static void test_simd_parse_accepts_the_four_names(void) {
  static const struct {
    const char *name;
    akidb_simd_t level;
  } names[] = {{"scalar", AKIDB_SIMD_SCALAR},
               {"avx2", AKIDB_SIMD_AVX2},
               {"avx512", AKIDB_SIMD_AVX512},
               {"neon", AKIDB_SIMD_NEON}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    akidb_simd_t got = AKIDB_SIMD_COUNT;
    ASSERT_OK(akidb_simd_parse(names[i].name, &got));
    ASSERT_EQ_INT(got, names[i].level);
  }
}

static void test_simd_parse_rejects_other_names(void) {
  static const char *const bad[] = {"", "bogus", "AVX2", "avx", "sse",
                                    "avx2 ", "neon2", "avx512f", "sve"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    akidb_simd_t got = AKIDB_SIMD_COUNT;
    ASSERT_EQ_INT(akidb_simd_parse(bad[i], &got), AKIDB_EINVAL);
    ASSERT_EQ_INT(got, AKIDB_SIMD_COUNT);
  }
  ASSERT_EQ_INT(akidb_simd_parse(NULL, NULL), AKIDB_EINVAL);
}

static void test_simd_name_round_trips(void) {
  for (int l = 0; l < AKIDB_SIMD_COUNT; l++) {
    akidb_simd_t got = AKIDB_SIMD_COUNT;
    ASSERT_OK(akidb_simd_parse(akidb_simd_name((akidb_simd_t)l), &got));
    ASSERT_EQ_INT(got, l);
  }
  ASSERT_STR_CONTAINS(akidb_simd_name(AKIDB_SIMD_COUNT), "unknown");
  ASSERT_STR_CONTAINS(akidb_simd_name((akidb_simd_t)-1), "unknown");
}

/* ------------------------------------------------ choice and override -- */

static void child_default_is_best(void) {
  char err[256] = "";
  ASSERT_OK(akidb_simd_init(err, sizeof err));
  const akidb_kernels_t *kern = akidb_kernels();
  ASSERT_TRUE(kern != NULL);
  ASSERT_EQ_INT(kern->level, expected_best());
  ASSERT_TRUE(kern == akidb_kernels_for(kern->level));
  ASSERT_TRUE(kern == akidb_kernels());
}

static void test_default_is_the_best_supported(void) {
  fprintf(stderr, "     best here: %s\n", akidb_simd_name(expected_best()));
  in_child(NULL, child_default_is_best);
}

static void test_empty_akidb_simd_means_default(void) {
  in_child("", child_default_is_best);
}

static void child_scalar_is_active(void) {
  ASSERT_OK(akidb_simd_init(NULL, 0));
  const akidb_kernels_t *kern = akidb_kernels();
  ASSERT_TRUE(kern != NULL);
  ASSERT_EQ_INT(kern->level, AKIDB_SIMD_SCALAR);
  ASSERT_STR_CONTAINS(kern->name, "scalar");
}

static void test_forcing_scalar_selects_scalar(void) {
  in_child("scalar", child_scalar_is_active);
}

static void child_bogus_is_einval(void) {
  char err[256] = "";
  ASSERT_EQ_INT(akidb_simd_init(err, sizeof err), AKIDB_EINVAL);
  fprintf(stderr, "     message: %s\n", err);
  ASSERT_STR_CONTAINS(err, "AKIDB_SIMD=bogus");
  static const char *const names[] = {"scalar", "avx2", "avx512", "neon"};
  for (size_t i = 0; i < 4; i++) ASSERT_STR_CONTAINS(err, names[i]);
  ASSERT_TRUE(akidb_kernels() == NULL);

  /* Sticky: later calls fail the same way and repeat the message. */
  char again[256] = "";
  ASSERT_EQ_INT(akidb_simd_init(again, sizeof again), AKIDB_EINVAL);
  ASSERT_EQ_INT(strcmp(again, err), 0);
  ASSERT_EQ_INT(akidb_simd_init(NULL, 0), AKIDB_EINVAL);
  char tiny[8];
  memset(tiny, 'x', sizeof tiny);
  ASSERT_EQ_INT(akidb_simd_init(tiny, sizeof tiny), AKIDB_EINVAL);
  ASSERT_EQ_INT(strlen(tiny), sizeof tiny - 1);
  ASSERT_EQ_INT(strncmp(tiny, err, sizeof tiny - 1), 0);
}

static void test_forcing_unknown_name_is_einval(void) {
  in_child("bogus", child_bogus_is_einval);
}

/* The level a child forces (set by the parent before forking). */
static akidb_simd_t forced_level;

/* Forcing forced_level succeeds where supported, else fails with ENOTSUP. */
static void child_forced_level(void) {
  const char *name = akidb_simd_name(forced_level);
  char err[256] = "";
  int rc = akidb_simd_init(err, sizeof err);
  if (akidb_simd_supported(forced_level)) {
    ASSERT_OK(rc);
    ASSERT_TRUE(akidb_kernels() == akidb_kernels_for(forced_level));
    return;
  }
  fprintf(stderr, "     message: %s\n", err);
  ASSERT_EQ_INT(rc, AKIDB_ENOTSUP);
  char expect[64];
  snprintf(expect, sizeof expect, "AKIDB_SIMD=%s but ", name);
  ASSERT_STR_CONTAINS(err, expect);
  ASSERT_STR_CONTAINS(err, "choose one of: scalar");
  ASSERT_TRUE(akidb_kernels() == NULL);
  char again[256] = "";
  ASSERT_EQ_INT(akidb_simd_init(again, sizeof again), AKIDB_ENOTSUP);
  ASSERT_EQ_INT(strcmp(again, err), 0);
}

static void test_forcing_each_level(void) {
  for (int l = 0; l < AKIDB_SIMD_COUNT; l++) {
    forced_level = (akidb_simd_t)l;
    in_child(akidb_simd_name(forced_level), child_forced_level);
  }
}

static void test_forcing_foreign_level_is_enotsup(void) {
#if defined(__aarch64__)
  forced_level = AKIDB_SIMD_AVX2;
#else
  forced_level = AKIDB_SIMD_NEON;
#endif
  ASSERT_TRUE(!akidb_simd_supported(forced_level));
  in_child(akidb_simd_name(forced_level), child_forced_level);
}

/* Each thread asks for the kernels at once; all must get the same table. */
static void *ask_kernels(void *arg) {
  *(const akidb_kernels_t **)arg = akidb_kernels();
  return NULL;
}

static void child_threads_agree(void) {
  enum { N = 8 };
  pthread_t threads[N];
  const akidb_kernels_t *got[N];
  for (int i = 0; i < N; i++)
    ASSERT_EQ_INT(pthread_create(&threads[i], NULL, ask_kernels, &got[i]), 0);
  for (int i = 0; i < N; i++) ASSERT_EQ_INT(pthread_join(threads[i], NULL), 0);
  for (int i = 0; i < N; i++) {
    ASSERT_TRUE(got[i] != NULL);
    ASSERT_TRUE(got[i] == got[0]);
  }
}

static void test_concurrent_first_calls_agree(void) {
  in_child(NULL, child_threads_agree);
}

/* ------------------------------------------------------------ helpers -- */

static void test_normalize_gives_unit_norm(void) {
  float v[100];
  for (int i = 0; i < 100; i++) v[i] = 10.0f * rand_float();
  double before = 0.0;
  for (int i = 0; i < 100; i++) before += (double)v[i] * v[i];
  float norm = akidb_normalize(v, 100);
  ASSERT_NEAR(norm, sqrt(before), 1e-6 * sqrt(before));
  double after = 0.0;
  for (int i = 0; i < 100; i++) after += (double)v[i] * v[i];
  ASSERT_NEAR(sqrt(after), 1.0, 1e-6);
}

static void test_normalize_returns_the_original_norm(void) {
  float v[2] = {3.0f, 4.0f};
  ASSERT_NEAR(akidb_normalize(v, 2), 5.0, 0);
  ASSERT_NEAR(v[0], 0.6, 1e-7);
  ASSERT_NEAR(v[1], 0.8, 1e-7);
  float tiny[3] = {1e-30f, 0.0f, 0.0f}; /* its square underflows a float */
  ASSERT_NEAR(akidb_normalize(tiny, 3), 1e-30, 1e-37);
  ASSERT_NEAR(tiny[0], 1.0, 1e-7);
}

static void test_normalize_leaves_zero_vector_unchanged(void) {
  float v[5] = {0};
  ASSERT_NEAR(akidb_normalize(v, 5), 0.0, 0);
  for (int i = 0; i < 5; i++) ASSERT_NEAR(v[i], 0.0, 0);
  ASSERT_NEAR(akidb_normalize(v, 0), 0.0, 0);
}

static void test_normalize_leaves_nonfinite_vector_unchanged(void) {
  float v[3] = {1.0f, INFINITY, 2.0f};
  ASSERT_NEAR(akidb_normalize(v, 3), 0.0, 0);
  ASSERT_NEAR(v[0], 1.0, 0);
  ASSERT_TRUE(isinf(v[1]));
  float w[2] = {NAN, 1.0f};
  ASSERT_NEAR(akidb_normalize(w, 2), 0.0, 0);
  ASSERT_TRUE(isnan(w[0]));
  ASSERT_NEAR(w[1], 1.0, 0);
}

static void test_first_nonfinite_finds_nan_and_inf(void) {
  float v[20];
  for (int i = 0; i < 20; i++) v[i] = rand_float();
  v[19] = FLT_MAX;
  ASSERT_EQ_INT(akidb_first_nonfinite(v, 20), -1);
  ASSERT_EQ_INT(akidb_first_nonfinite(v, 0), -1);
  v[13] = NAN;
  ASSERT_EQ_INT(akidb_first_nonfinite(v, 20), 13);
  ASSERT_EQ_INT(akidb_first_nonfinite(v, 13), -1);
  v[7] = -INFINITY;
  ASSERT_EQ_INT(akidb_first_nonfinite(v, 20), 7);
  v[0] = INFINITY;
  ASSERT_EQ_INT(akidb_first_nonfinite(v, 20), 0);
}

CHECK_MAIN(CHECK_CASE(test_scalar_is_always_supported),
           CHECK_CASE(test_kernel_tables_describe_their_level),
           CHECK_CASE(test_x86_support_matches_cpuid),
           CHECK_CASE(test_aarch64_supports_neon),
           CHECK_CASE(test_no_sve_when_expected),
           CHECK_CASE(test_kernels_match_float64_reference),
           CHECK_CASE(test_kernels_never_read_past_the_end),
           CHECK_CASE(test_kernels_return_zero_for_empty_vectors),
           CHECK_CASE(test_kernels_agree_on_exact_small_integers),
           CHECK_CASE(test_simd_parse_accepts_the_four_names),
           CHECK_CASE(test_simd_parse_rejects_other_names),
           CHECK_CASE(test_simd_name_round_trips),
           CHECK_CASE(test_default_is_the_best_supported),
           CHECK_CASE(test_empty_akidb_simd_means_default),
           CHECK_CASE(test_forcing_scalar_selects_scalar),
           CHECK_CASE(test_forcing_unknown_name_is_einval),
           CHECK_CASE(test_forcing_each_level),
           CHECK_CASE(test_forcing_foreign_level_is_enotsup),
           CHECK_CASE(test_concurrent_first_calls_agree),
           CHECK_CASE(test_normalize_gives_unit_norm),
           CHECK_CASE(test_normalize_returns_the_original_norm),
           CHECK_CASE(test_normalize_leaves_zero_vector_unchanged),
           CHECK_CASE(test_normalize_leaves_nonfinite_vector_unchanged),
           CHECK_CASE(test_first_nonfinite_finds_nan_and_inf))
