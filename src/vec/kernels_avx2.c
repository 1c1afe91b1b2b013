/*
 * kernels_avx2.c — the x86-64 AVX2 + FMA distance kernels. Compiled with
 * -mavx2 -mfma; nothing here may run before dispatch.c has checked (cpuid and
 * xgetbv) that the CPU and OS support both.
 *
 * One distance: 32 floats per iteration into four independent 8-lane FMA
 * accumulators (enough to hide the FMA latency), then up to three 8-float
 * steps, then one masked load for the last 1..7 floats, so no scalar loop.
 * Four distances: the query is loaded once per step and shared by the four
 * vectors, each with two accumulators. Stateless and thread-safe.
 */
#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>

#include "vec/vec_internal.h"

#if !defined(__AVX2__) || !defined(__FMA__)
#error "kernels_avx2.c must be compiled with -mavx2 -mfma"
#endif

/* Eight enabled lanes then eight disabled: see first_lanes(). */
static const int32_t lane_mask[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                      0,  0,  0,  0,  0,  0,  0,  0};

/* A maskload mask enabling the first n (0..8) lanes. */
VEC_INLINE __m256i first_lanes(size_t n) {
  return _mm256_loadu_si256((const __m256i *)(lane_mask + 8 - n));
}

/* acc + (x-y)^2 when l2, else acc + x*y, lane-wise. */
VEC_INLINE __m256 step(__m256 acc, __m256 x, __m256 y, bool l2) {
  if (l2) {
    __m256 d = _mm256_sub_ps(x, y);
    return _mm256_fmadd_ps(d, d, acc);
  }
  return _mm256_fmadd_ps(x, y, acc);
}

/* acc updated with the 8 floats at a and b. */
VEC_INLINE __m256 step_at(__m256 acc, const float *a, const float *b,
                          bool l2) {
  return step(acc, _mm256_loadu_ps(a), _mm256_loadu_ps(b), l2);
}

/* The sum of the eight lanes. */
VEC_INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* out[k] = the sum of the eight lanes of s_k. */
VEC_INLINE void hsum4(__m256 s0, __m256 s1, __m256 s2, __m256 s3,
                      float out[4]) {
  __m256 t01 = _mm256_hadd_ps(s0, s1);
  __m256 t23 = _mm256_hadd_ps(s2, s3);
  __m256 t = _mm256_hadd_ps(t01, t23);
  __m128 r = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
  _mm_storeu_ps(out, r);
}

/* The loop behind l2sq (l2) and dot (!l2). */
VEC_INLINE float distance(const float *a, const float *b, size_t dim,
                          bool l2, bool bounded, float bound) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    s0 = step_at(s0, a + i, b + i, l2);
    s1 = step_at(s1, a + i + 8, b + i + 8, l2);
    s2 = step_at(s2, a + i + 16, b + i + 16, l2);
    s3 = step_at(s3, a + i + 24, b + i + 24, l2);
    if (bounded && ((i + 32) & (VEC_BOUND_CHECK_FLOATS - 1)) == 0 && i + 32 < dim) { /* same tree as the result */
      float part = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
      if (part >= bound) return part;
    }
  }
  size_t rest = dim - i;
  if (rest >= 8) s0 = step_at(s0, a + i, b + i, l2);
  if (rest >= 16) s1 = step_at(s1, a + i + 8, b + i + 8, l2);
  if (rest >= 24) s2 = step_at(s2, a + i + 16, b + i + 16, l2);
  i += rest & ~(size_t)7;
  if (i < dim) {
    __m256i m = first_lanes(dim - i);
    s3 = step(s3, _mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m),
              l2);
  }
  return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

/* The loop behind l2sq4 (l2) and dot4 (!l2). */
VEC_INLINE void distance4(const float *q, const float *const v[4], size_t dim,
                          float out[4], bool l2) {
  const float *p0 = v[0], *p1 = v[1], *p2 = v[2], *p3 = v[3];
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    __m256 x = _mm256_loadu_ps(q + i), y = _mm256_loadu_ps(q + i + 8);
    a0 = step(a0, x, _mm256_loadu_ps(p0 + i), l2);
    a1 = step(a1, x, _mm256_loadu_ps(p1 + i), l2);
    a2 = step(a2, x, _mm256_loadu_ps(p2 + i), l2);
    a3 = step(a3, x, _mm256_loadu_ps(p3 + i), l2);
    b0 = step(b0, y, _mm256_loadu_ps(p0 + i + 8), l2);
    b1 = step(b1, y, _mm256_loadu_ps(p1 + i + 8), l2);
    b2 = step(b2, y, _mm256_loadu_ps(p2 + i + 8), l2);
    b3 = step(b3, y, _mm256_loadu_ps(p3 + i + 8), l2);
  }
  if (i + 8 <= dim) {
    __m256 x = _mm256_loadu_ps(q + i);
    a0 = step(a0, x, _mm256_loadu_ps(p0 + i), l2);
    a1 = step(a1, x, _mm256_loadu_ps(p1 + i), l2);
    a2 = step(a2, x, _mm256_loadu_ps(p2 + i), l2);
    a3 = step(a3, x, _mm256_loadu_ps(p3 + i), l2);
    i += 8;
  }
  if (i < dim) {
    __m256i m = first_lanes(dim - i);
    __m256 x = _mm256_maskload_ps(q + i, m);
    b0 = step(b0, x, _mm256_maskload_ps(p0 + i, m), l2);
    b1 = step(b1, x, _mm256_maskload_ps(p1 + i, m), l2);
    b2 = step(b2, x, _mm256_maskload_ps(p2 + i, m), l2);
    b3 = step(b3, x, _mm256_maskload_ps(p3 + i, m), l2);
  }
  hsum4(_mm256_add_ps(a0, b0), _mm256_add_ps(a1, b1), _mm256_add_ps(a2, b2),
        _mm256_add_ps(a3, b3), out);
}

VEC_DEFINE_KERNELS(vec_kernels_avx2, AKIDB_SIMD_AVX2, "avx2");
