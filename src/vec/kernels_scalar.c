/*
 * kernels_scalar.c — the portable distance kernels (plain C, any CPU). They
 * are the fallback when no SIMD implementation is usable and the reference
 * the others are compared against in tests.
 *
 * Eight independent accumulators break the dependency chain of a single
 * running sum, so the CPU overlaps the additions and the compiler may keep
 * the eight sums in vector registers (that needs no reassociation, so it is
 * allowed without -ffast-math). Stateless and thread-safe.
 */
#include "vec/vec_internal.h"

/* The loop behind l2sq and l2sq_bounded: with `bounded`, stops once the
 * partial sum (same reduction tree as the result) reaches `bound`. */
static inline float l2sq_loop(const float *a, const float *b, size_t dim,
                              int bounded, float bound) {
  float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
  float s4 = 0.0f, s5 = 0.0f, s6 = 0.0f, s7 = 0.0f;
  size_t i = 0;
  for (; i + 8 <= dim; i += 8) {
    float d0 = a[i + 0] - b[i + 0], d1 = a[i + 1] - b[i + 1];
    float d2 = a[i + 2] - b[i + 2], d3 = a[i + 3] - b[i + 3];
    float d4 = a[i + 4] - b[i + 4], d5 = a[i + 5] - b[i + 5];
    float d6 = a[i + 6] - b[i + 6], d7 = a[i + 7] - b[i + 7];
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
    s4 += d4 * d4;
    s5 += d5 * d5;
    s6 += d6 * d6;
    s7 += d7 * d7;
    if (bounded && ((i + 8) & (VEC_BOUND_CHECK_FLOATS - 1)) == 0 && i + 8 < dim) {
      float part = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
      if (part >= bound) return part;
    }
  }
  float s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
  return s + vec_l2sq_tail(a + i, b + i, dim - i);
}

/* sum (a[i]-b[i])^2 */
static float l2sq(const float *a, const float *b, size_t dim) {
  return l2sq_loop(a, b, dim, 0, 0.0f);
}

/* l2sq, or any value >= bound once the distance is known to reach it. */
static float l2sq_bounded(const float *a, const float *b, size_t dim,
                          float bound) {
  return l2sq_loop(a, b, dim, 1, bound);
}

/* sum a[i]*b[i] */
static float dot(const float *a, const float *b, size_t dim) {
  float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
  float s4 = 0.0f, s5 = 0.0f, s6 = 0.0f, s7 = 0.0f;
  size_t i = 0;
  for (; i + 8 <= dim; i += 8) {
    s0 += a[i + 0] * b[i + 0];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
    s4 += a[i + 4] * b[i + 4];
    s5 += a[i + 5] * b[i + 5];
    s6 += a[i + 6] * b[i + 6];
    s7 += a[i + 7] * b[i + 7];
  }
  float s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
  return s + vec_dot_tail(a + i, b + i, dim - i);
}

/* Four squared L2 distances; the query stays in L1 between the calls. */
static void l2sq4(const float *q, const float *const v[4], size_t dim,
                  float out[4]) {
  for (int k = 0; k < 4; k++) out[k] = l2sq(q, v[k], dim);
}

/* Four inner products against one query. */
static void dot4(const float *q, const float *const v[4], size_t dim,
                 float out[4]) {
  for (int k = 0; k < 4; k++) out[k] = dot(q, v[k], dim);
}

const akidb_kernels_t vec_kernels_scalar = {
    .level = AKIDB_SIMD_SCALAR,
    .name = "scalar",
    .l2sq = l2sq,
    .dot = dot,
    .l2sq4 = l2sq4,
    .l2sq_bounded = l2sq_bounded,
    .dot4 = dot4,
};
