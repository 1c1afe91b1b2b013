/*
 * mem.h — counted allocation. A memory account (akidb_memacct_t) is an
 * atomic byte count with an optional parent: charging an account charges
 * its parents too, so an index's own account can roll up into its
 * collection's. The mem_* helpers allocate and free through the C library
 * and charge or credit the size the allocator really gave the block
 * (malloc_usable_size plus the allocator's per-block header), so a count
 * is what the blocks cost, kept as they come and go, never estimated.
 * A NULL account is allowed everywhere: the helpers then only allocate.
 */
#ifndef AKIDB_UTIL_MEM_H
#define AKIDB_UTIL_MEM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "akidb/index.h" /* akidb_memacct_t (opaque there) */

struct akidb_memacct {
  _Atomic int64_t bytes;        /* bytes charged, this account and its children */
  struct akidb_memacct *parent; /* charged too; NULL at the top */
};

/* Sets the count to 0 and the parent. */
void mem_acct_init(akidb_memacct_t *a, akidb_memacct_t *parent);
/* Adds delta (may be negative) to a and each parent. */
void mem_charge(akidb_memacct_t *a, int64_t delta);
/* The current count: one atomic load. */
int64_t mem_acct_bytes(const akidb_memacct_t *a);
/*
 * Moves account a (and what it holds) under a new parent: the old parents
 * are credited, the new ones charged. Nobody may allocate through a meanwhile.
 */
void mem_acct_reparent(akidb_memacct_t *a, akidb_memacct_t *parent);

/* What a live block costs the allocator: usable size + its header. */
size_t mem_block_bytes(void *p);

void *mem_malloc(akidb_memacct_t *a, size_t n);
void *mem_calloc(akidb_memacct_t *a, size_t n, size_t size);
/* realloc: charges the difference; on failure p is kept and charged as before. */
void *mem_realloc(akidb_memacct_t *a, void *p, size_t n);
/* aligned_alloc with `n` rounded up to a multiple of `align`. */
void *mem_aligned(akidb_memacct_t *a, size_t align, size_t n);
char *mem_strdup(akidb_memacct_t *a, const char *s);
/* Frees p (NULL accepted), crediting its size. */
void mem_free(akidb_memacct_t *a, void *p);

#endif /* AKIDB_UTIL_MEM_H */
