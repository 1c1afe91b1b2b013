/*
 * vec_internal.h — shared by the files of src/vec: the kernel table each
 * implementation exports, and the scalar code every implementation reuses
 * for its short tails.
 *
 * Which tables exist depends on the target: scalar everywhere, AVX2 and
 * AVX-512 on x86-64 (their files are compiled with -mavx2 -mfma and
 * -mavx512f), NEON on AArch64. dispatch.c picks one of them at run time.
 */
#ifndef AKIDB_VEC_INTERNAL_H
#define AKIDB_VEC_INTERNAL_H

#include <stddef.h>

#include "akidb/vec.h"

/*
 * For the helpers the SIMD kernels build their loops from: always inlined,
 * so a constant argument (l2 or dot) folds away and no call remains in the
 * inner loop, at any optimisation level.
 */
#define VEC_INLINE static inline __attribute__((always_inline))

/* l2sq_bounded compares its partial sum with the bound every this many
 * floats (a power of two): often enough to skip most of a far vector, rarely
 * enough that the horizontal sums cost little. */
#ifndef VEC_BOUND_CHECK_FLOATS
#define VEC_BOUND_CHECK_FLOATS 256
#endif

/*
 * Defines the public kernel table `var` of a SIMD implementation from its two
 * always-inlined loops, which every SIMD file provides with these shapes:
 *   float distance(a, b, dim, bool l2, bool bounded, float bound)
 *   void distance4(q, v[4], dim, out[4], bool l2)
 * The wrappers fix the constant arguments, so each kernel is its own loop.
 */
#define VEC_DEFINE_KERNELS(var, lvl, label)                                   \
  static float l2sq(const float *a, const float *b, size_t dim) {             \
    return distance(a, b, dim, true, false, 0.0f);                             \
  }                                                                            \
  static float l2sq_bounded(const float *a, const float *b, size_t dim,       \
                            float bound) {                                     \
    return distance(a, b, dim, true, true, bound);                             \
  }                                                                            \
  static float dot(const float *a, const float *b, size_t dim) {              \
    return distance(a, b, dim, false, false, 0.0f);                            \
  }                                                                            \
  static void l2sq4(const float *q, const float *const v[4], size_t dim,      \
                    float out[4]) {                                            \
    distance4(q, v, dim, out, true);                                           \
  }                                                                            \
  static void dot4(const float *q, const float *const v[4], size_t dim,       \
                   float out[4]) {                                             \
    distance4(q, v, dim, out, false);                                          \
  }                                                                            \
  const akidb_kernels_t var = {.level = (lvl),                                 \
                               .name = (label),                                \
                               .l2sq = l2sq,                                   \
                               .dot = dot,                                     \
                               .l2sq4 = l2sq4,                                 \
                               .dot4 = dot4,                                   \
                               .l2sq_bounded = l2sq_bounded}

extern const akidb_kernels_t vec_kernels_scalar;
#if defined(__x86_64__)
extern const akidb_kernels_t vec_kernels_avx2;
extern const akidb_kernels_t vec_kernels_avx512;
#endif
#if defined(__aarch64__)
extern const akidb_kernels_t vec_kernels_neon;
#endif

/* sum (a[i]-b[i])^2 over a short run (a tail of a SIMD loop). */
static inline float vec_l2sq_tail(const float *a, const float *b, size_t n) {
  float s = 0.0f;
  for (size_t i = 0; i < n; i++) {
    float d = a[i] - b[i];
    s += d * d;
  }
  return s;
}

/* sum a[i]*b[i] over a short run (a tail of a SIMD loop). */
static inline float vec_dot_tail(const float *a, const float *b, size_t n) {
  float s = 0.0f;
  for (size_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

#endif /* AKIDB_VEC_INTERNAL_H */
