/*
 * akidb/vec.h — float32 distance kernels and their run-time SIMD dispatch.
 *
 * One implementation per instruction set (scalar, AVX2+FMA, AVX-512F, NEON)
 * is compiled in where the target allows; the best one the CPU supports is
 * chosen once, at the first call of akidb_simd_init() (or of any call that
 * needs the active kernels). The environment variable AKIDB_SIMD
 * (scalar|avx2|avx512|neon) forces one; forcing one the CPU lacks is refused
 * by akidb_simd_init() with a message naming the choices that would work.
 *
 * Distances: squared L2, and inner product. Cosine is computed as
 * 1 - dot(a, b) on vectors normalised with akidb_normalize().
 */
#ifndef AKIDB_VEC_H
#define AKIDB_VEC_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  AKIDB_SIMD_SCALAR = 0,
  AKIDB_SIMD_AVX2 = 1,   /* x86-64 AVX2 + FMA */
  AKIDB_SIMD_AVX512 = 2, /* x86-64 AVX-512F */
  AKIDB_SIMD_NEON = 3,   /* AArch64 Advanced SIMD */
  AKIDB_SIMD_COUNT = 4
} akidb_simd_t;

/* A distance between two vectors of `dim` floats. */
typedef float (*akidb_dist_fn)(const float *a, const float *b, size_t dim);

/* Four distances at once: out[i] = f(q, v[i]) for i in 0..3. */
typedef void (*akidb_dist4_fn)(const float *q, const float *const v[4],
                               size_t dim, float out[4]);

/*
 * Squared L2 that may stop early: returns exactly l2sq(a, b, dim) when that
 * is below `bound`, and otherwise some value >= bound (a partial sum).
 * Search uses it to skip most of the work for candidates it will discard.
 */
typedef float (*akidb_dist_bounded_fn)(const float *a, const float *b,
                                       size_t dim, float bound);

/* The kernels of one implementation. */
typedef struct {
  akidb_simd_t level;
  const char *name;     /* "scalar", "avx2", "avx512", "neon" */
  akidb_dist_fn l2sq;   /* sum (a[i]-b[i])^2 */
  akidb_dist_fn dot;    /* sum a[i]*b[i] */
  akidb_dist4_fn l2sq4; /* four squared L2 distances against one query */
  akidb_dist4_fn dot4;  /* four inner products against one query */
  akidb_dist_bounded_fn l2sq_bounded; /* l2sq that may stop at a bound */
} akidb_kernels_t;

/*
 * Chooses the active kernels (once; later calls return the first result).
 * Returns AKIDB_OK, or AKIDB_ENOTSUP / AKIDB_EINVAL when AKIDB_SIMD names an
 * implementation this CPU or build lacks, or an unknown one; `err` then says
 * which values would work. Thread-safe.
 */
int akidb_simd_init(char *err, size_t errlen);

/*
 * The active kernels. Calls akidb_simd_init(); if that failed (a bad
 * AKIDB_SIMD), returns NULL. The pointer is valid for the process lifetime.
 */
const akidb_kernels_t *akidb_kernels(void);

/*
 * The kernels of one implementation, or NULL when it is not compiled into
 * this build or the CPU cannot run it. For tests and benchmarks.
 */
const akidb_kernels_t *akidb_kernels_for(akidb_simd_t level);

/* Whether this CPU and build can run `level`. */
bool akidb_simd_supported(akidb_simd_t level);

/* "scalar", "avx2", "avx512", "neon"; "unknown" otherwise. */
const char *akidb_simd_name(akidb_simd_t level);

/* Parses a name as accepted by AKIDB_SIMD. Returns AKIDB_OK or AKIDB_EINVAL. */
int akidb_simd_parse(const char *name, akidb_simd_t *out);

/* A short description of the CPU features seen ("avx2 fma avx512f"). */
const char *akidb_cpu_features(void);

/*
 * The Euclidean norm of v, summed in double (eight partial sums in a fixed
 * order, so every platform gets the same bits). NaN or infinite exactly
 * when an element is (a float's square cannot overflow a double's sum).
 */
double akidb_norm(const float *v, size_t dim);

/*
 * Scales v to unit length in place and returns its original norm. A vector of
 * norm 0 (or not finite) is left unchanged and 0 is returned.
 */
float akidb_normalize(float *v, size_t dim);

/* Index of the first NaN or infinite element, or -1 when all are finite. */
long akidb_first_nonfinite(const float *v, size_t dim);

#ifdef __cplusplus
}
#endif

#endif /* AKIDB_VEC_H */
