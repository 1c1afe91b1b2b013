/*
 * kernels_avx512.c — the x86-64 AVX-512F distance kernels. Compiled with
 * -mavx512f -mavx2 -mfma; nothing here may run before dispatch.c has checked
 * (cpuid and xgetbv) that the CPU and OS support AVX-512F. Only AVX-512F
 * instructions are used (no DQ/BW/VL), so every AVX-512 CPU can run them.
 *
 * One distance: 64 floats per iteration into four independent 16-lane FMA
 * accumulators, then up to three 16-float steps, then one zero-masked load
 * for the last 1..15 floats (masked-off lanes never fault), so no scalar
 * loop. Four distances: the query is loaded once per step and shared by the
 * four vectors, each with two accumulators. Stateless and thread-safe.
 */
#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>

#include "vec/vec_internal.h"

#if !defined(__AVX512F__) || !defined(__AVX2__) || !defined(__FMA__)
#error "kernels_avx512.c must be compiled with -mavx512f -mavx2 -mfma"
#endif

/* A load mask enabling the first n (0..16) lanes. */
VEC_INLINE __mmask16 first_lanes(size_t n) {
  return (__mmask16)((1u << n) - 1u);
}

/* acc + (x-y)^2 when l2, else acc + x*y, lane-wise. */
VEC_INLINE __m512 step(__m512 acc, __m512 x, __m512 y, bool l2) {
  if (l2) {
    __m512 d = _mm512_sub_ps(x, y);
    return _mm512_fmadd_ps(d, d, acc);
  }
  return _mm512_fmadd_ps(x, y, acc);
}

/* acc updated with the 16 floats at a and b. */
VEC_INLINE __m512 step_at(__m512 acc, const float *a, const float *b,
                          bool l2) {
  return step(acc, _mm512_loadu_ps(a), _mm512_loadu_ps(b), l2);
}

/* The 16 lanes of v folded to 8 (AVX-512F has no 256-bit float extract). */
VEC_INLINE __m256 fold(__m512 v) {
  __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
  return _mm256_add_ps(_mm512_castps512_ps256(v), hi);
}

/* The sum of the sixteen lanes. */
VEC_INLINE float hsum(__m512 v) {
  __m256 f = fold(v);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(f), _mm256_extractf128_ps(f, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* out[k] = the sum of the sixteen lanes of s_k. */
VEC_INLINE void hsum4(__m512 s0, __m512 s1, __m512 s2, __m512 s3,
                      float out[4]) {
  __m256 t01 = _mm256_hadd_ps(fold(s0), fold(s1));
  __m256 t23 = _mm256_hadd_ps(fold(s2), fold(s3));
  __m256 t = _mm256_hadd_ps(t01, t23);
  __m128 r = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
  _mm_storeu_ps(out, r);
}

/* The loop behind l2sq (l2) and dot (!l2). */
VEC_INLINE float distance(const float *a, const float *b, size_t dim,
                          bool l2, bool bounded, float bound) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 64 <= dim; i += 64) {
    s0 = step_at(s0, a + i, b + i, l2);
    s1 = step_at(s1, a + i + 16, b + i + 16, l2);
    s2 = step_at(s2, a + i + 32, b + i + 32, l2);
    s3 = step_at(s3, a + i + 48, b + i + 48, l2);
    if (bounded && ((i + 64) & (VEC_BOUND_CHECK_FLOATS - 1)) == 0 && i + 64 < dim) {
      /* same reduction tree as the result, so the result is never smaller */
      float part = hsum(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
      if (part >= bound) return part;
    }
  }
  size_t rest = dim - i;
  if (rest >= 16) s0 = step_at(s0, a + i, b + i, l2);
  if (rest >= 32) s1 = step_at(s1, a + i + 16, b + i + 16, l2);
  if (rest >= 48) s2 = step_at(s2, a + i + 32, b + i + 32, l2);
  i += rest & ~(size_t)15;
  if (i < dim) {
    __mmask16 m = first_lanes(dim - i);
    s3 = step(s3, _mm512_maskz_loadu_ps(m, a + i),
              _mm512_maskz_loadu_ps(m, b + i), l2);
  }
  return hsum(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

/* The loop behind l2sq4 (l2) and dot4 (!l2). */
VEC_INLINE void distance4(const float *q, const float *const v[4], size_t dim,
                          float out[4], bool l2) {
  const float *p0 = v[0], *p1 = v[1], *p2 = v[2], *p3 = v[3];
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    __m512 x = _mm512_loadu_ps(q + i), y = _mm512_loadu_ps(q + i + 16);
    a0 = step(a0, x, _mm512_loadu_ps(p0 + i), l2);
    a1 = step(a1, x, _mm512_loadu_ps(p1 + i), l2);
    a2 = step(a2, x, _mm512_loadu_ps(p2 + i), l2);
    a3 = step(a3, x, _mm512_loadu_ps(p3 + i), l2);
    b0 = step(b0, y, _mm512_loadu_ps(p0 + i + 16), l2);
    b1 = step(b1, y, _mm512_loadu_ps(p1 + i + 16), l2);
    b2 = step(b2, y, _mm512_loadu_ps(p2 + i + 16), l2);
    b3 = step(b3, y, _mm512_loadu_ps(p3 + i + 16), l2);
  }
  if (i + 16 <= dim) {
    __m512 x = _mm512_loadu_ps(q + i);
    a0 = step(a0, x, _mm512_loadu_ps(p0 + i), l2);
    a1 = step(a1, x, _mm512_loadu_ps(p1 + i), l2);
    a2 = step(a2, x, _mm512_loadu_ps(p2 + i), l2);
    a3 = step(a3, x, _mm512_loadu_ps(p3 + i), l2);
    i += 16;
  }
  if (i < dim) {
    __mmask16 m = first_lanes(dim - i);
    __m512 x = _mm512_maskz_loadu_ps(m, q + i);
    b0 = step(b0, x, _mm512_maskz_loadu_ps(m, p0 + i), l2);
    b1 = step(b1, x, _mm512_maskz_loadu_ps(m, p1 + i), l2);
    b2 = step(b2, x, _mm512_maskz_loadu_ps(m, p2 + i), l2);
    b3 = step(b3, x, _mm512_maskz_loadu_ps(m, p3 + i), l2);
  }
  hsum4(_mm512_add_ps(a0, b0), _mm512_add_ps(a1, b1), _mm512_add_ps(a2, b2),
        _mm512_add_ps(a3, b3), out);
}

VEC_DEFINE_KERNELS(vec_kernels_avx512, AKIDB_SIMD_AVX512, "avx512");
