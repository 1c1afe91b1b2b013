/*
 * kernels_neon.c — the AArch64 Advanced SIMD (NEON) distance kernels. NEON
 * is part of every AArch64 CPU, so no special compiler flags are needed;
 * this file is built on AArch64 only.
 *
 * One distance: 16 floats per iteration into four independent 4-lane FMA
 * accumulators (vfmaq_f32), then up to three 4-float steps, then a scalar
 * tail of 0..3 floats; vaddvq_f32 sums the lanes. Four distances: the query
 * is loaded once per step and shared by the four vectors, each with two
 * accumulators; vpaddq_f32 reduces all four at once. Stateless, thread-safe.
 */
#include <arm_neon.h>
#include <stdbool.h>

#include "vec/vec_internal.h"

#if !defined(__aarch64__)
#error "kernels_neon.c is for AArch64 only"
#endif

/* acc + (x-y)^2 when l2, else acc + x*y, lane-wise. */
VEC_INLINE float32x4_t step(float32x4_t acc, float32x4_t x, float32x4_t y,
                            bool l2) {
  if (l2) {
    float32x4_t d = vsubq_f32(x, y);
    return vfmaq_f32(acc, d, d);
  }
  return vfmaq_f32(acc, x, y);
}

/* acc updated with the 4 floats at a and b. */
VEC_INLINE float32x4_t step_at(float32x4_t acc, const float *a, const float *b,
                               bool l2) {
  return step(acc, vld1q_f32(a), vld1q_f32(b), l2);
}

/* The scalar distance over a short tail. */
VEC_INLINE float tail(const float *a, const float *b, size_t n, bool l2) {
  return l2 ? vec_l2sq_tail(a, b, n) : vec_dot_tail(a, b, n);
}

/* The loop behind l2sq (l2) and dot (!l2). */
VEC_INLINE float distance(const float *a, const float *b, size_t dim,
                          bool l2, bool bounded, float bound) {
  float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    s0 = step_at(s0, a + i, b + i, l2);
    s1 = step_at(s1, a + i + 4, b + i + 4, l2);
    s2 = step_at(s2, a + i + 8, b + i + 8, l2);
    s3 = step_at(s3, a + i + 12, b + i + 12, l2);
    if (bounded && ((i + 16) & (VEC_BOUND_CHECK_FLOATS - 1)) == 0 && i + 16 < dim) { /* same tree as the result */
      float part = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
      if (part >= bound) return part;
    }
  }
  size_t rest = dim - i;
  if (rest >= 4) s0 = step_at(s0, a + i, b + i, l2);
  if (rest >= 8) s1 = step_at(s1, a + i + 4, b + i + 4, l2);
  if (rest >= 12) s2 = step_at(s2, a + i + 8, b + i + 8, l2);
  i += rest & ~(size_t)3;
  float s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
  return s + tail(a + i, b + i, dim - i, l2);
}

/* The loop behind l2sq4 (l2) and dot4 (!l2). */
VEC_INLINE void distance4(const float *q, const float *const v[4], size_t dim,
                          float out[4], bool l2) {
  const float *p0 = v[0], *p1 = v[1], *p2 = v[2], *p3 = v[3];
  float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
  float32x4_t b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  size_t i = 0;
  for (; i + 8 <= dim; i += 8) {
    float32x4_t x = vld1q_f32(q + i), y = vld1q_f32(q + i + 4);
    a0 = step(a0, x, vld1q_f32(p0 + i), l2);
    a1 = step(a1, x, vld1q_f32(p1 + i), l2);
    a2 = step(a2, x, vld1q_f32(p2 + i), l2);
    a3 = step(a3, x, vld1q_f32(p3 + i), l2);
    b0 = step(b0, y, vld1q_f32(p0 + i + 4), l2);
    b1 = step(b1, y, vld1q_f32(p1 + i + 4), l2);
    b2 = step(b2, y, vld1q_f32(p2 + i + 4), l2);
    b3 = step(b3, y, vld1q_f32(p3 + i + 4), l2);
  }
  if (i + 4 <= dim) {
    float32x4_t x = vld1q_f32(q + i);
    a0 = step(a0, x, vld1q_f32(p0 + i), l2);
    a1 = step(a1, x, vld1q_f32(p1 + i), l2);
    a2 = step(a2, x, vld1q_f32(p2 + i), l2);
    a3 = step(a3, x, vld1q_f32(p3 + i), l2);
    i += 4;
  }
  float32x4_t t01 = vpaddq_f32(vaddq_f32(a0, b0), vaddq_f32(a1, b1));
  float32x4_t t23 = vpaddq_f32(vaddq_f32(a2, b2), vaddq_f32(a3, b3));
  float32x4_t r = vpaddq_f32(t01, t23);
  if (i < dim) {
    size_t n = dim - i;
    float t[4] = {tail(q + i, p0 + i, n, l2), tail(q + i, p1 + i, n, l2),
                  tail(q + i, p2 + i, n, l2), tail(q + i, p3 + i, n, l2)};
    r = vaddq_f32(r, vld1q_f32(t));
  }
  vst1q_f32(out, r);
}

VEC_DEFINE_KERNELS(vec_kernels_neon, AKIDB_SIMD_NEON, "neon");
