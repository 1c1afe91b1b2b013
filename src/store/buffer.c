/*
 * buffer.c — the append buffer: acknowledged points not yet in the HNSW
 * graph, kept in chunks of BUF_CHUNK prepared vectors (64-byte aligned) so
 * searches can scan them exactly. A chunk never moves while it lives, so an
 * indexer may read a claimed item's vector without the collection lock;
 * leading chunks are freed once every item in them is INDEXED or DEAD.
 * Layout changes (append, release) happen under the collection's lock held
 * for writing; item states change by compare-and-swap.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

void abuf_init(abuf_t *b, uint32_t dim) {
  memset(b, 0, sizeof *b);
  b->dim = dim;
  b->stride = (dim + 15u) & ~15u;
  atomic_init(&b->pending, 0);
}

static void chunk_free(buf_chunk_t *ch) {
  if (!ch) return;
  free(ch->vecs);
  free(ch);
}

void abuf_free(abuf_t *b) {
  for (uint64_t i = 0; i < b->n_chunks; i++) chunk_free(b->chunks[i]);
  free(b->chunks);
  b->chunks = NULL;
  b->n_chunks = b->cap_chunks = 0;
}

static buf_chunk_t *chunk_new(uint32_t stride) {
  buf_chunk_t *ch = calloc(1, sizeof *ch);
  if (!ch) return NULL;
  ch->vecs = aligned_alloc(64, (size_t)BUF_CHUNK * stride * sizeof(float));
  if (!ch->vecs) {
    free(ch);
    return NULL;
  }
  memset(ch->vecs, 0, (size_t)BUF_CHUNK * stride * sizeof(float));
  return ch;
}

int abuf_reserve(abuf_t *b, uint64_t n) {
  uint64_t need_end = b->tail + n; /* one past the last position needed */
  uint64_t have_end = b->head + b->n_chunks * BUF_CHUNK;
  while (have_end < need_end) {
    if (b->n_chunks == b->cap_chunks) {
      uint64_t cap = b->cap_chunks ? b->cap_chunks * 2 : 16;
      buf_chunk_t **chunks = realloc(b->chunks, cap * sizeof *chunks);
      if (!chunks) return AKIDB_ENOMEM;
      b->chunks = chunks;
      b->cap_chunks = cap;
    }
    buf_chunk_t *ch = chunk_new(b->stride);
    if (!ch) return AKIDB_ENOMEM;
    b->chunks[b->n_chunks++] = ch;
    have_end += BUF_CHUNK;
  }
  return AKIDB_OK;
}

uint64_t abuf_append(abuf_t *b, uint64_t label, const float *vec) {
  uint64_t pos = b->tail;
  buf_chunk_t *ch = abuf_chunk(b, pos);
  uint32_t i = pos % BUF_CHUNK;
  ch->labels[i] = label;
  memcpy(ch->vecs + (size_t)i * b->stride, vec, (size_t)b->dim * sizeof(float));
  atomic_store_explicit(&ch->state[i], ITEM_PENDING, memory_order_release);
  atomic_fetch_add(&b->pending, 1);
  b->tail = pos + 1;
  return pos;
}

/* Whether every item of a full chunk has reached a final state. */
static bool chunk_done(const buf_chunk_t *ch) {
  for (uint32_t i = 0; i < BUF_CHUNK; i++) {
    uint8_t s = atomic_load_explicit(&ch->state[i], memory_order_acquire);
    if (s != ITEM_INDEXED && s != ITEM_DEAD) return false;
  }
  return true;
}

void abuf_release_done(abuf_t *b) {
  uint64_t drop = 0;
  while (drop < b->n_chunks && b->head + (drop + 1) * BUF_CHUNK <= b->tail &&
         b->head + (drop + 1) * BUF_CHUNK <= b->claim && chunk_done(b->chunks[drop]))
    drop++;
  if (!drop) return;
  for (uint64_t i = 0; i < drop; i++) chunk_free(b->chunks[i]);
  memmove(b->chunks, b->chunks + drop, (b->n_chunks - drop) * sizeof *b->chunks);
  b->n_chunks -= drop;
  b->head += drop * BUF_CHUNK;
}

uint64_t abuf_bytes(const abuf_t *b) {
  return b->n_chunks * (sizeof(buf_chunk_t) + (uint64_t)BUF_CHUNK * b->stride * sizeof(float)) +
         b->cap_chunks * sizeof(buf_chunk_t *);
}
