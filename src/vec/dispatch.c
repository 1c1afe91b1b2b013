/*
 * dispatch.c — owns the run-time choice of distance kernels: CPU feature
 * detection (cpuid and xgetbv on x86-64, AT_HWCAP on AArch64), the
 * AKIDB_SIMD override, and two small vector helpers (normalise, find a
 * non-finite element).
 *
 * Locking: detection and the choice each run once, under pthread_once;
 * afterwards every piece of state here is read-only, so all functions are
 * thread-safe. A failed choice (a bad AKIDB_SIMD) is sticky: its code and
 * message are kept and handed to every later caller. No durable state.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/errors.h"
#include "vec/vec_internal.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

static const char *const level_names[AKIDB_SIMD_COUNT] = {
    [AKIDB_SIMD_SCALAR] = "scalar",
    [AKIDB_SIMD_AVX2] = "avx2",
    [AKIDB_SIMD_AVX512] = "avx512",
    [AKIDB_SIMD_NEON] = "neon",
};

/* ------------------------------------------------------ CPU detection -- */

/* What this CPU and build can run; filled once by detect(). */
static struct {
  bool usable[AKIDB_SIMD_COUNT];
  const char *why_not[AKIDB_SIMD_COUNT]; /* "this CPU lacks ..." if unusable */
  char features[128];
} cpu;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

/* Appends one feature name to cpu.features. */
static void add_feature(const char *name) {
  size_t len = strlen(cpu.features);
  snprintf(cpu.features + len, sizeof cpu.features - len, "%s%s",
           len ? " " : "", name);
}

#if defined(__x86_64__)
/* XCR0 bits: register state the OS saves on a context switch. */
#define XCR0_SSE (1u << 1)
#define XCR0_YMM (1u << 2)    /* upper halves of YMM0-15 */
#define XCR0_OPMASK (1u << 5) /* k0-k7 */
#define XCR0_ZMM (1u << 6)    /* upper halves of ZMM0-15 */
#define XCR0_HI_ZMM (1u << 7) /* ZMM16-31 */

/* XCR0, read with xgetbv (only valid when CPUID reports OSXSAVE). */
static uint64_t read_xcr0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

/* Which x86-64 kernels the CPU and the OS allow. */
static void detect_x86(void) {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  bool avx = false, fma = false, osxsave = false, avx2 = false, avx512f = false;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
    avx = ecx & bit_AVX;
    fma = ecx & bit_FMA;
    osxsave = ecx & bit_OSXSAVE;
  }
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
    avx2 = ebx & bit_AVX2;
    avx512f = ebx & bit_AVX512F;
  }
  uint64_t xcr0 = osxsave ? read_xcr0() : 0;
  uint64_t ymm_state = XCR0_SSE | XCR0_YMM;
  uint64_t zmm_state = ymm_state | XCR0_OPMASK | XCR0_ZMM | XCR0_HI_ZMM;
  bool ymm_on = (xcr0 & ymm_state) == ymm_state;
  bool zmm_on = (xcr0 & zmm_state) == zmm_state;

  add_feature("sse2");
  if (avx) add_feature("avx");
  if (fma) add_feature("fma");
  if (avx2) add_feature("avx2");
  if (avx512f) add_feature("avx512f");
  if (avx && !ymm_on) add_feature("os-no-ymm"); /* the OS does not save it */
  else if (avx512f && !zmm_on) add_feature("os-no-zmm");

  const char **why = cpu.why_not;
  if (!avx2 || !avx) why[AKIDB_SIMD_AVX2] = "this CPU lacks AVX2";
  else if (!fma) why[AKIDB_SIMD_AVX2] = "this CPU lacks FMA";
  else if (!ymm_on)
    why[AKIDB_SIMD_AVX2] = "the OS has not enabled the AVX (YMM) state";
  cpu.usable[AKIDB_SIMD_AVX2] = why[AKIDB_SIMD_AVX2] == NULL;

  /* The AVX-512 kernels also use AVX2 and FMA instructions. */
  if (!avx512f) why[AKIDB_SIMD_AVX512] = "this CPU lacks AVX-512F";
  else if (!zmm_on)
    why[AKIDB_SIMD_AVX512] =
        "the OS has not enabled the AVX-512 (ZMM and opmask) state";
  else if (!cpu.usable[AKIDB_SIMD_AVX2])
    why[AKIDB_SIMD_AVX512] = "this CPU lacks AVX2 or FMA, which the AVX-512 "
                             "kernels also use";
  cpu.usable[AKIDB_SIMD_AVX512] = why[AKIDB_SIMD_AVX512] == NULL;

  why[AKIDB_SIMD_NEON] = "this is an x86-64 build (NEON exists on AArch64)";
}
#endif

#if defined(__aarch64__)
/* AT_HWCAP bits (linux/arch/arm64/include/uapi/asm/hwcap.h). */
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1ul << 1)
#endif
#ifndef HWCAP_FPHP
#define HWCAP_FPHP (1ul << 9)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1ul << 20)
#endif
#ifndef HWCAP_SVE
#define HWCAP_SVE (1ul << 22)
#endif

/* NEON is mandatory on AArch64; the optional extensions are only reported. */
static void detect_arm(void) {
  unsigned long hw = getauxval(AT_HWCAP);
  if (hw & HWCAP_ASIMD) add_feature("asimd");
  if (hw & HWCAP_FPHP) add_feature("fphp");
  if (hw & HWCAP_ASIMDDP) add_feature("asimddp");
  if (hw & HWCAP_SVE) add_feature("sve");
  cpu.usable[AKIDB_SIMD_NEON] = true;
  const char *x86 = "this is an AArch64 build (AVX2 and AVX-512 exist on "
                    "x86-64)";
  cpu.why_not[AKIDB_SIMD_AVX2] = x86;
  cpu.why_not[AKIDB_SIMD_AVX512] = x86;
}
#endif

/* Fills `cpu`; run once. */
static void detect(void) {
  cpu.usable[AKIDB_SIMD_SCALAR] = true;
#if defined(__x86_64__)
  detect_x86();
#elif defined(__aarch64__)
  detect_arm();
#else
  const char *other = "this build has only the scalar kernels";
  cpu.why_not[AKIDB_SIMD_AVX2] = other;
  cpu.why_not[AKIDB_SIMD_AVX512] = other;
  cpu.why_not[AKIDB_SIMD_NEON] = other;
#endif
  if (cpu.features[0] == '\0') add_feature("none");
}

/* The kernel table compiled into this build for `level`, or NULL. */
static const akidb_kernels_t *compiled(akidb_simd_t level) {
  switch (level) {
  case AKIDB_SIMD_SCALAR:
    return &vec_kernels_scalar;
#if defined(__x86_64__)
  case AKIDB_SIMD_AVX2:
    return &vec_kernels_avx2;
  case AKIDB_SIMD_AVX512:
    return &vec_kernels_avx512;
#endif
#if defined(__aarch64__)
  case AKIDB_SIMD_NEON:
    return &vec_kernels_neon;
#endif
  default:
    return NULL;
  }
}

bool akidb_simd_supported(akidb_simd_t level) {
  if ((unsigned)level >= AKIDB_SIMD_COUNT) return false;
  pthread_once(&cpu_once, detect);
  return cpu.usable[level] && compiled(level) != NULL;
}

const akidb_kernels_t *akidb_kernels_for(akidb_simd_t level) {
  return akidb_simd_supported(level) ? compiled(level) : NULL;
}

const char *akidb_cpu_features(void) {
  pthread_once(&cpu_once, detect);
  return cpu.features;
}

const char *akidb_simd_name(akidb_simd_t level) {
  if ((unsigned)level >= AKIDB_SIMD_COUNT) return "unknown";
  return level_names[level];
}

int akidb_simd_parse(const char *name, akidb_simd_t *out) {
  if (!name) return AKIDB_EINVAL;
  for (int i = 0; i < AKIDB_SIMD_COUNT; i++) {
    if (strcmp(name, level_names[i]) == 0) {
      if (out) *out = (akidb_simd_t)i;
      return AKIDB_OK;
    }
  }
  return AKIDB_EINVAL;
}

/* ------------------------------------------------------------- choice -- */

/* The active kernels, or the sticky error; filled once by choose(). */
static struct {
  int rc;
  const akidb_kernels_t *kernels;
  char msg[256];
} choice;
static pthread_once_t choice_once = PTHREAD_ONCE_INIT;

/* The fastest implementation this CPU and build can run. */
static akidb_simd_t best_level(void) {
  static const akidb_simd_t order[] = {AKIDB_SIMD_AVX512, AKIDB_SIMD_AVX2,
                                       AKIDB_SIMD_NEON};
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
    if (akidb_simd_supported(order[i])) return order[i];
  return AKIDB_SIMD_SCALAR;
}

/* "scalar, avx2, ..." — every level (all) or the runnable ones only. */
static void list_levels(char *buf, size_t len, bool all) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < AKIDB_SIMD_COUNT && used < len; i++) {
    if (!all && !akidb_simd_supported((akidb_simd_t)i)) continue;
    int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
                     level_names[i]);
    if (n < 0) break;
    used += (size_t)n;
  }
}

/* Picks the kernels from AKIDB_SIMD (or the best); run once. */
static void choose(void) {
  const char *env = getenv("AKIDB_SIMD");
  char runnable[64], valid[64];
  list_levels(runnable, sizeof runnable, false);
  list_levels(valid, sizeof valid, true);
  akidb_simd_t level;
  if (!env || !*env) {
    level = best_level();
  } else if (akidb_simd_parse(env, &level) != AKIDB_OK) {
    choice.rc = AKIDB_EINVAL;
    snprintf(choice.msg, sizeof choice.msg,
             "AKIDB_SIMD=%.40s is not a SIMD implementation; valid names: "
             "%s (this CPU can run: %s)",
             env, valid, runnable);
    return;
  } else if (!akidb_simd_supported(level)) {
    choice.rc = AKIDB_ENOTSUP;
    snprintf(choice.msg, sizeof choice.msg,
             "AKIDB_SIMD=%s but %s; choose one of: %s", level_names[level],
             cpu.why_not[level] ? cpu.why_not[level] : "it is not built in",
             runnable);
    return;
  }
  choice.kernels = compiled(level);
  choice.rc = AKIDB_OK;
}

int akidb_simd_init(char *err, size_t errlen) {
  pthread_once(&choice_once, choose);
  if (choice.rc != AKIDB_OK && err && errlen > 0)
    snprintf(err, errlen, "%s", choice.msg);
  return choice.rc;
}

const akidb_kernels_t *akidb_kernels(void) {
  return akidb_simd_init(NULL, 0) == AKIDB_OK ? choice.kernels : NULL;
}

/* ------------------------------------------------------------ helpers -- */

double akidb_norm(const float *v, size_t dim) {
  double acc[8] = {0};
  size_t i = 0;
  for (; i + 8 <= dim; i += 8)
    for (size_t j = 0; j < 8; j++) acc[j] += (double)v[i + j] * (double)v[i + j];
  for (size_t j = 0; i < dim; i++, j++) acc[j] += (double)v[i] * (double)v[i];
  double sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  return sqrt(sum);
}

float akidb_normalize(float *v, size_t dim) {
  double norm = akidb_norm(v, dim);
  /* Zero, NaN, infinite, or too large for a float: leave v alone. */
  if (!(norm > 0.0) || !(norm <= (double)FLT_MAX)) return 0.0f;
  double inv = 1.0 / norm;
  for (size_t i = 0; i < dim; i++) v[i] = (float)((double)v[i] * inv);
  return (float)norm;
}

long akidb_first_nonfinite(const float *v, size_t dim) {
  for (size_t i = 0; i < dim; i++)
    if (!isfinite(v[i])) return (long)i;
  return -1;
}
