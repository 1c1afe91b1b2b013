/*
 * buffer.c — the append buffer: acknowledged points not yet in the HNSW
 * graph, by position in chunks of BUF_CHUNK, so searches can scan them
 * exactly. A chunk's state array is fixed for its life (indexers change
 * item states by compare-and-swap without the collection lock); its labels
 * and vectors (64-byte aligned) are sized to what it holds: they start at
 * BUF_FIRST_ITEMS (or a batch's size) and double as items arrive, up to
 * BUF_CHUNK, and are freed once every item appended to the chunk is
 * INDEXED or DEAD. Leading
 * chunks are freed whole once all BUF_CHUNK items are. Every layout change
 * (reserve, append, release) happens under the collection's lock held for
 * writing, so readers of labels and vectors hold it for reading (indexers
 * copy a claimed item's vector while they hold it). While a checkpoint
 * view is taken (abuf_pin), arrays that growth replaces are kept until
 * abuf_unpin, since the view streams vectors from them. Every block is
 * charged to the buffer's memory account. Memory only: no durability.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/vec.h"
#include "store/store_internal.h"

void abuf_init(abuf_t *b, uint32_t dim, bool track_norm, akidb_memacct_t *mem) {
  memset(b, 0, sizeof *b);
  b->dim = dim;
  b->track_norm = track_norm;
  b->stride = (dim + 15u) & ~15u;
  b->mem = mem;
  atomic_init(&b->pending, 0);
}

/* Frees a chunk's labels and vectors; later items start a new array at `base`. */
static void chunk_drop_arrays(abuf_t *b, buf_chunk_t *ch, uint32_t base) {
  mem_free(b->mem, ch->labels);
  mem_free(b->mem, ch->vecs);
  ch->labels = NULL;
  ch->vecs = NULL;
  ch->base = base;
  ch->cap = 0;
  ch->max_norm = 0;
}

static void chunk_free(abuf_t *b, buf_chunk_t *ch) {
  if (!ch) return;
  chunk_drop_arrays(b, ch, 0);
  mem_free(b->mem, ch);
}

void abuf_free(abuf_t *b) {
  abuf_unpin(b);
  for (uint64_t i = 0; i < b->n_chunks; i++) chunk_free(b, b->chunks[i]);
  mem_free(b->mem, b->chunks);
  b->chunks = NULL;
  b->n_chunks = b->cap_chunks = 0;
}

/* Frees an array a chunk no longer uses, or keeps it while a checkpoint
 * view may read it (pinned). False when out of memory to keep it. */
static bool retire(abuf_t *b, void *p) {
  if (!p) return true;
  if (!b->pinned) {
    mem_free(b->mem, p);
    return true;
  }
  if (b->n_kept == b->cap_kept) {
    size_t cap = b->cap_kept ? 2 * b->cap_kept : 8;
    void **k = mem_realloc(b->mem, b->kept, cap * sizeof *k);
    if (!k) return false;
    b->kept = k;
    b->cap_kept = cap;
  }
  b->kept[b->n_kept++] = p;
  return true;
}

void abuf_pin(abuf_t *b) { b->pinned = true; }

void abuf_unpin(abuf_t *b) {
  for (size_t i = 0; i < b->n_kept; i++) mem_free(b->mem, b->kept[i]);
  mem_free(b->mem, b->kept);
  b->kept = NULL;
  b->n_kept = b->cap_kept = 0;
  b->pinned = false;
}

/* Grows a chunk's arrays so they hold its items base .. hi-1 (hi <= BUF_CHUNK):
 * to twice their size (BUF_FIRST_ITEMS at first), or exactly to hi when a
 * batch needs more than that. */
static int chunk_room(abuf_t *b, buf_chunk_t *ch, uint32_t hi) {
  if (ch->base + ch->cap >= hi) return AKIDB_OK;
  uint32_t cap = ch->cap ? ch->cap * 2 : BUF_FIRST_ITEMS;
  if (ch->base + cap < hi) cap = hi - ch->base;
  if (cap > BUF_CHUNK - ch->base) cap = BUF_CHUNK - ch->base;
  size_t vbytes = (size_t)cap * b->stride * sizeof(float);
  float *v = mem_aligned(b->mem, 64, vbytes);
  uint64_t *l = mem_malloc(b->mem, (size_t)cap * sizeof *l);
  if (!v || !l) {
    mem_free(b->mem, v);
    mem_free(b->mem, l);
    return AKIDB_ENOMEM;
  }
  size_t old_v = (size_t)ch->cap * b->stride * sizeof(float);
  if (ch->cap) {
    memcpy(v, ch->vecs, old_v);
    memcpy(l, ch->labels, (size_t)ch->cap * sizeof *l);
  }
  if (b->stride > b->dim) /* padding lanes stay zero; rows are written whole by append */
    memset((char *)v + old_v, 0, vbytes - old_v);
  if (!retire(b, ch->vecs) || !retire(b, ch->labels)) {
    mem_free(b->mem, v);
    mem_free(b->mem, l);
    return AKIDB_ENOMEM;
  }
  ch->vecs = v;
  ch->labels = l;
  ch->cap = cap;
  return AKIDB_OK;
}

/* Appends an empty chunk (no arrays yet) to the chunk table. */
static int add_chunk(abuf_t *b) {
  if (b->n_chunks == b->cap_chunks) {
    uint64_t cap = b->cap_chunks ? b->cap_chunks * 2 : 4;
    buf_chunk_t **chunks = mem_realloc(b->mem, b->chunks, cap * sizeof *chunks);
    if (!chunks) return AKIDB_ENOMEM;
    b->chunks = chunks;
    b->cap_chunks = cap;
  }
  buf_chunk_t *ch = mem_calloc(b->mem, 1, sizeof *ch);
  if (!ch) return AKIDB_ENOMEM;
  b->chunks[b->n_chunks++] = ch;
  return AKIDB_OK;
}

int abuf_reserve(abuf_t *b, uint64_t n) {
  uint64_t end = b->tail + n; /* one past the last position needed */
  while (b->head + b->n_chunks * BUF_CHUNK < end)
    if (add_chunk(b)) return AKIDB_ENOMEM;
  for (uint64_t start = b->tail - b->tail % BUF_CHUNK; start < end; start += BUF_CHUNK) {
    uint64_t hi = end - start < BUF_CHUNK ? end - start : BUF_CHUNK;
    if (chunk_room(b, abuf_chunk(b, start), (uint32_t)hi)) return AKIDB_ENOMEM;
  }
  return AKIDB_OK;
}

/* Largest norm of the chunk's vectors, in double so the bound is not low. */
static void note_norm(buf_chunk_t *ch, const float *v, uint32_t dim) {
  double sq = 0;
  for (uint32_t d = 0; d < dim; d++) sq += (double)v[d] * v[d];
  float norm = (float)sqrt(sq);
  if (norm > ch->max_norm) ch->max_norm = norm;
}

uint64_t abuf_append(abuf_t *b, uint64_t label, const float *vec, bool unit) {
  uint64_t pos = b->tail;
  buf_chunk_t *ch = abuf_chunk(b, pos);
  uint32_t i = pos % BUF_CHUNK - ch->base;
  float *row = ch->vecs + (size_t)i * b->stride;
  ch->labels[i] = label;
  memcpy(row, vec, (size_t)b->dim * sizeof(float));
  if (unit) akidb_normalize(row, b->dim);
  if (b->track_norm) note_norm(ch, row, b->dim);
  atomic_store_explicit(&ch->state[pos % BUF_CHUNK], ITEM_PENDING, memory_order_release);
  atomic_fetch_add(&b->pending, 1);
  b->tail = pos + 1;
  return pos;
}

/* Whether items lo .. hi-1 of a chunk have all reached a final state. */
static bool items_done(const buf_chunk_t *ch, uint32_t lo, uint32_t hi) {
  for (uint32_t i = lo; i < hi; i++) {
    uint8_t s = atomic_load_explicit(&ch->state[i], memory_order_acquire);
    if (s != ITEM_INDEXED && s != ITEM_DEAD) return false;
  }
  return true;
}

/* Frees the arrays of chunks (from index `from`) whose appended items are all done. */
static void release_arrays(abuf_t *b, uint64_t from) {
  for (uint64_t k = from; k < b->n_chunks; k++) {
    buf_chunk_t *ch = b->chunks[k];
    uint64_t start = b->head + k * BUF_CHUNK;
    if (start >= b->tail || start >= b->claim) break;
    if (!ch->cap) continue;
    uint64_t fill = b->tail - start < BUF_CHUNK ? b->tail - start : BUF_CHUNK;
    if (start + fill > b->claim) break; /* an indexer has not looked at all of them */
    if (items_done(ch, ch->base, (uint32_t)fill)) chunk_drop_arrays(b, ch, (uint32_t)fill);
  }
}

void abuf_release_done(abuf_t *b) {
  uint64_t drop = 0;
  while (drop < b->n_chunks && b->head + (drop + 1) * BUF_CHUNK <= b->tail &&
         b->head + (drop + 1) * BUF_CHUNK <= b->claim &&
         items_done(b->chunks[drop], 0, BUF_CHUNK))
    drop++;
  for (uint64_t i = 0; i < drop; i++) chunk_free(b, b->chunks[i]);
  if (drop) {
    memmove(b->chunks, b->chunks + drop, (b->n_chunks - drop) * sizeof *b->chunks);
    b->n_chunks -= drop;
    b->head += drop * BUF_CHUNK;
  }
  release_arrays(b, 0);
}
