/*
 * index_check.h — helpers shared by the index tests: the documented filter
 * semantics as a reference, and an assert that two HNSW parameter sets are
 * equal field by field (printing the first field that differs).
 */
#ifndef AKIDB_TEST_INDEX_CHECK_H
#define AKIDB_TEST_INDEX_CHECK_H

#include <stdbool.h>

#include "akidb/index.h"
#include "check.h"

/* The documented filter semantics: bits (label < nbits and bit set) and/or
 * the predicate; both must pass when both are set. */
static inline bool ref_filter_allows(const akidb_filter_t *f, uint64_t label) {
  if (!f) return true;
  if (f->bits &&
      !(label < f->nbits && ((f->bits[label >> 6] >> (label & 63)) & 1u)))
    return false;
  if (f->allow && !f->allow(label, f->ctx)) return false;
  return true;
}

/* Every field of `got` equals the one of `want`. */
#define ASSERT_PARAMS_EQ(got, want)                                            \
  do {                                                                         \
    ASSERT_EQ_INT((got).dim, (want).dim);                                      \
    ASSERT_EQ_INT((got).metric, (want).metric);                                \
    ASSERT_EQ_INT((got).m, (want).m);                                          \
    ASSERT_EQ_INT((got).ef_construction, (want).ef_construction);              \
    ASSERT_EQ_INT((got).ef_search, (want).ef_search);                          \
    ASSERT_EQ_U64((got).seed, (want).seed);                                    \
    ASSERT_EQ_U64((got).initial_capacity, (want).initial_capacity);            \
  } while (0)

#endif /* AKIDB_TEST_INDEX_CHECK_H */
