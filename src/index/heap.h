/*
 * heap.h — binary heaps of (distance, id) pairs for the search hot paths:
 * a min-heap of candidates to expand and a bounded max-heap of results.
 * Also a bounded max-heap of akidb_hit_t ordered by (distance, label) for
 * exact scans, where ties go to the smaller label. Header-only, no locking:
 * each search owns its heaps.
 */
#ifndef AKIDB_INDEX_HEAP_H
#define AKIDB_INDEX_HEAP_H

#include <stdint.h>
#include <stdlib.h>

#include "akidb/index.h"
#include "util/mem.h"

typedef struct {
  float d;
  uint32_t id;
} heap_item_t;

typedef struct {
  heap_item_t *a;
  uint32_t n, cap;
  akidb_memacct_t *mem; /* charged for `a`; NULL: not counted */
} heap_t;

/* Ensures room for `cap` items. Returns 0 or -1 on allocation failure. */
static inline int heap_reserve(heap_t *h, uint32_t cap) {
  if (cap <= h->cap) return 0;
  heap_item_t *a = mem_realloc(h->mem, h->a, (size_t)cap * sizeof *a);
  if (!a) return -1;
  h->a = a;
  h->cap = cap;
  return 0;
}

static inline void heap_free(heap_t *h) {
  mem_free(h->mem, h->a);
  h->a = NULL;
  h->n = h->cap = 0;
}

/* ---- max-heap (largest distance on top): the result set ---- */

static inline void maxheap_push(heap_t *h, float d, uint32_t id) {
  uint32_t i = h->n++;
  while (i > 0) {
    uint32_t p = (i - 1) >> 1;
    if (h->a[p].d >= d) break;
    h->a[i] = h->a[p];
    i = p;
  }
  h->a[i].d = d;
  h->a[i].id = id;
}

static inline void maxheap_pop(heap_t *h) {
  heap_item_t last = h->a[--h->n];
  uint32_t i = 0, n = h->n;
  for (;;) {
    uint32_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && h->a[c + 1].d > h->a[c].d) c++;
    if (h->a[c].d <= last.d) break;
    h->a[i] = h->a[c];
    i = c;
  }
  if (n) h->a[i] = last;
}

/* ---- min-heap (smallest distance on top): the candidates ---- */

static inline void minheap_push(heap_t *h, float d, uint32_t id) {
  uint32_t i = h->n++;
  while (i > 0) {
    uint32_t p = (i - 1) >> 1;
    if (h->a[p].d <= d) break;
    h->a[i] = h->a[p];
    i = p;
  }
  h->a[i].d = d;
  h->a[i].id = id;
}

static inline void minheap_pop(heap_t *h) {
  heap_item_t last = h->a[--h->n];
  uint32_t i = 0, n = h->n;
  for (;;) {
    uint32_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && h->a[c + 1].d < h->a[c].d) c++;
    if (h->a[c].d >= last.d) break;
    h->a[i] = h->a[c];
    i = c;
  }
  if (n) h->a[i] = last;
}

/* ---- bounded max-heap of hits, ordered by (distance, label) ---- */

static inline int hit_after(const akidb_hit_t *a, const akidb_hit_t *b) {
  return a->distance > b->distance ||
         (a->distance == b->distance && a->label > b->label);
}

/* Offers a hit to a heap holding at most k; keeps the k best. */
static inline void hits_offer(akidb_hit_t *a, uint32_t *n, uint32_t k,
                              float d, uint64_t label) {
  akidb_hit_t x = {label, d};
  if (*n == k) {
    if (!hit_after(&a[0], &x)) return;
    uint32_t i = 0;
    for (;;) { /* replace the top and sift down */
      uint32_t c = 2 * i + 1;
      if (c >= k) break;
      if (c + 1 < k && hit_after(&a[c + 1], &a[c])) c++;
      if (!hit_after(&a[c], &x)) break;
      a[i] = a[c];
      i = c;
    }
    a[i] = x;
    return;
  }
  uint32_t i = (*n)++;
  while (i > 0) {
    uint32_t p = (i - 1) >> 1;
    if (!hit_after(&x, &a[p])) break;
    a[i] = a[p];
    i = p;
  }
  a[i] = x;
}

static inline int hit_cmp(const void *pa, const void *pb) {
  const akidb_hit_t *a = pa, *b = pb;
  return hit_after(a, b) ? 1 : (hit_after(b, a) ? -1 : 0);
}

/* Sorts hits nearest first (ties: smaller label first). */
static inline void hits_sort(akidb_hit_t *a, uint32_t n) {
  qsort(a, n, sizeof *a, hit_cmp);
}

#endif /* AKIDB_INDEX_HEAP_H */
