/*
 * mem.c — counted allocation (see mem.h): allocation wrappers that charge
 * a memory account with the bytes each block really costs. Thread-safe:
 * accounts are atomics (relaxed: a count is a statistic, ordered by
 * nothing). No durability: memory only.
 */
#include "util/mem.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

void mem_acct_init(akidb_memacct_t *a, akidb_memacct_t *parent) {
  atomic_init(&a->bytes, 0);
  a->parent = parent;
}

void mem_charge(akidb_memacct_t *a, int64_t delta) {
  for (; a && delta; a = a->parent)
    atomic_fetch_add_explicit(&a->bytes, delta, memory_order_relaxed);
}

int64_t mem_acct_bytes(const akidb_memacct_t *a) {
  return atomic_load_explicit(&((akidb_memacct_t *)a)->bytes, memory_order_relaxed);
}

void mem_acct_reparent(akidb_memacct_t *a, akidb_memacct_t *parent) {
  int64_t held = mem_acct_bytes(a);
  mem_charge(a->parent, -held);
  a->parent = parent;
  mem_charge(parent, held);
}

size_t mem_block_bytes(void *p) {
  return p ? malloc_usable_size(p) + sizeof(size_t) : 0;
}

/* Charges a fresh block (NULL: nothing). */
static void *charged(akidb_memacct_t *a, void *p) {
  if (p) mem_charge(a, (int64_t)mem_block_bytes(p));
  return p;
}

void *mem_malloc(akidb_memacct_t *a, size_t n) { return charged(a, malloc(n)); }

void *mem_calloc(akidb_memacct_t *a, size_t n, size_t size) {
  return charged(a, calloc(n, size));
}

void *mem_realloc(akidb_memacct_t *a, void *p, size_t n) {
  size_t old = mem_block_bytes(p);
  void *q = realloc(p, n);
  if (!q) return NULL;
  mem_charge(a, (int64_t)mem_block_bytes(q) - (int64_t)old);
  return q;
}

void *mem_aligned(akidb_memacct_t *a, size_t align, size_t n) {
  size_t rounded = (n + align - 1) & ~(align - 1);
  return charged(a, aligned_alloc(align, rounded ? rounded : align));
}

char *mem_strdup(akidb_memacct_t *a, const char *s) { return charged(a, strdup(s)); }

void mem_free(akidb_memacct_t *a, void *p) {
  if (!p) return;
  mem_charge(a, -(int64_t)mem_block_bytes(p));
  free(p);
}
