/*
 * maintain.c — a collection's background work: indexer threads that move
 * buffered points into the HNSW graph, and one maintenance thread that
 * writes checkpoints (by log size and by time) and compacts the graph when
 * too many of its points are deleted.
 *
 * Indexing holds index_gate for reading; an item is claimed PENDING →
 * INDEXING under claim_lock (with the collection lock read, so the buffer's
 * chunk table cannot move; its vector is copied out then, since a chunk's
 * arrays may be reallocated once the lock is let go), inserted into the
 * graph without any collection lock, then marked INDEXED — unless a writer
 * marked it DEAD_INDEXING meanwhile, in which case the indexer deletes it
 * from the graph again. Once the claim position reaches the tail, the
 * buffer may free the arrays of chunks whose items are all done.
 *
 * Compaction works on a copy of the graph, so searches never wait for it:
 * indexing pauses, the graph is cloned and compacted, deletes made meanwhile
 * (recorded in compact_dead) are applied to the copy, and the copy replaces
 * the graph under the collection lock — a pointer swap.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_internal.h"

#define SAY(...) (err ? snprintf(err, errlen, __VA_ARGS__) : 0)

typedef struct {
  buf_chunk_t *chunk;
  uint32_t index;
  float *vec; /* the caller's room for a copy of the claimed vector */
  uint64_t pos, label;
  bool release; /* whole chunks before the claim position may be freeable */
} claim_t;

/* Claims the next PENDING item; false when there is none. */
static bool claim_next(akidb_collection_t *c, claim_t *out) {
  bool got = false;
  pthread_rwlock_rdlock(&c->lock);
  pthread_mutex_lock(&c->claim_lock);
  while (!got && c->buf.claim < c->buf.tail) {
    uint64_t pos = c->buf.claim++;
    uint8_t s = ITEM_PENDING;
    if (!atomic_compare_exchange_strong(abuf_state(&c->buf, pos), &s, ITEM_INDEXING)) continue;
    out->chunk = abuf_chunk(&c->buf, pos);
    out->index = pos % BUF_CHUNK;
    out->pos = pos;
    out->label = abuf_label(&c->buf, pos);
    memcpy(out->vec, abuf_vec(&c->buf, pos), (size_t)c->dim * sizeof(float));
    got = true;
  }
  /* chunks behind the claim position, or every item's vector, may be freeable */
  out->release = c->buf.claim >= c->buf.head + 2 * BUF_CHUNK || c->buf.claim == c->buf.tail;
  pthread_mutex_unlock(&c->claim_lock);
  pthread_rwlock_unlock(&c->lock);
  return got;
}

/* An insert failed: hand the item back (it stays searchable in the buffer). */
static void unclaim(akidb_collection_t *c, const claim_t *cl) {
  _Atomic uint8_t *st = &cl->chunk->state[cl->index];
  uint8_t s = ITEM_INDEXING;
  if (!atomic_compare_exchange_strong(st, &s, ITEM_PENDING)) {
    atomic_store(st, ITEM_DEAD); /* deleted meanwhile: it never reached the graph */
    atomic_fetch_sub(&c->buf.pending, 1);
    return;
  }
  pthread_mutex_lock(&c->claim_lock);
  if (c->buf.claim > cl->pos) c->buf.claim = cl->pos;
  pthread_mutex_unlock(&c->claim_lock);
}

static void wake_waiters(akidb_collection_t *c) {
  pthread_mutex_lock(&c->idle_lock);
  pthread_cond_broadcast(&c->idle_cond);
  pthread_mutex_unlock(&c->idle_lock);
}

size_t maintain_index_some(akidb_collection_t *c, size_t max) {
  size_t done = 0;
  claim_t cl = {.release = false, .vec = malloc((size_t)c->dim * sizeof(float))};
  bool release = false;
  if (!cl.vec) return 0;
  pthread_rwlock_rdlock(&c->index_gate);
  /* the graph grows once to hold what waits (exactly, for a bulk load) */
  uint64_t waiting = atomic_load(&c->buf.pending);
  if (waiting) akidb_hnsw_reserve(c->graph, waiting); /* on failure inserts grow it */
  while (done < max && claim_next(c, &cl)) {
    release |= cl.release;
    int rc = akidb_hnsw_insert(c->graph, cl.label, cl.vec);
    if (rc) {
      unclaim(c, &cl);
      store_log(c, AKIDB_LOG_ERROR, "cannot move a point into the graph: %s (it stays "
                "searchable in the buffer; retrying later)", akidb_strerror(rc));
      break;
    }
    _Atomic uint8_t *st = &cl.chunk->state[cl.index];
    uint8_t s = ITEM_INDEXING;
    if (!atomic_compare_exchange_strong(st, &s, ITEM_INDEXED)) {
      akidb_hnsw_delete(c->graph, cl.label); /* deleted while we inserted it */
      atomic_store(st, ITEM_DEAD);
    }
    atomic_fetch_sub(&c->buf.pending, 1);
    done++;
  }
  pthread_rwlock_unlock(&c->index_gate);
  free(cl.vec);
  if (done && release) {
    pthread_rwlock_wrlock(&c->lock);
    abuf_release_done(&c->buf);
    pthread_rwlock_unlock(&c->lock);
  }
  if (done && atomic_load(&c->buf.pending) == 0) wake_waiters(c);
  return done;
}

size_t akidb_collection_index_pending(akidb_collection_t *c, size_t max) {
  return maintain_index_some(c, max);
}

/* Sleeps on idle_cond for up to `ms` milliseconds. Caller holds idle_lock. */
static void idle_wait(akidb_collection_t *c, long ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_cond_timedwait(&c->idle_cond, &c->idle_lock, &ts);
}

void akidb_collection_wait_indexed(akidb_collection_t *c) {
  while (atomic_load(&c->buf.pending) > 0) {
    if (!c->opt.background) {
      if (!maintain_index_some(c, SIZE_MAX)) break;
      continue;
    }
    pthread_mutex_lock(&c->idle_lock);
    if (atomic_load(&c->buf.pending) > 0) idle_wait(c, 50);
    pthread_mutex_unlock(&c->idle_lock);
  }
}

static void *indexer_main(void *arg) {
  akidb_collection_t *c = arg;
  while (!atomic_load(&c->stopping)) {
    if (maintain_index_some(c, 256)) continue;
    pthread_mutex_lock(&c->idle_lock);
    if (!atomic_load(&c->stopping)) idle_wait(c, 20);
    pthread_mutex_unlock(&c->idle_lock);
  }
  return NULL;
}

/* ------------------------------------------------------------- compaction -- */

/* Swaps in the compacted copy; deletes made meanwhile are applied to it. */
static void swap_graph(akidb_collection_t *c, akidb_hnsw_t *copy) {
  pthread_rwlock_wrlock(&c->lock);
  for (size_t i = 0; i < c->n_compact_dead; i++) akidb_hnsw_delete(copy, c->compact_dead[i]);
  akidb_hnsw_t *old = c->graph;
  c->graph = copy;
  c->compacting = false;
  c->n_compact_dead = 0;
  pthread_rwlock_unlock(&c->lock);
  akidb_hnsw_free(old); /* no search holds it: they hold the lock for reading */
}

/* Compaction proper; caller holds ckpt_lock. */
static int compact_locked(akidb_collection_t *c, char *err, size_t errlen) {
  double t0 = store_now();
  uint64_t before = akidb_hnsw_deleted_count(c->graph);
  pthread_rwlock_wrlock(&c->index_gate);
  pthread_rwlock_wrlock(&c->lock);
  c->compacting = true;
  c->n_compact_dead = 0;
  pthread_rwlock_unlock(&c->lock);
  akidb_hnsw_t *copy = NULL;
  int rc = akidb_hnsw_clone(c->graph, &copy);
  if (rc == AKIDB_OK) rc = akidb_hnsw_compact(copy);
  if (rc == AKIDB_OK) swap_graph(c, copy);
  else {
    akidb_hnsw_free(copy);
    pthread_rwlock_wrlock(&c->lock);
    c->compacting = false;
    pthread_rwlock_unlock(&c->lock);
  }
  pthread_rwlock_unlock(&c->index_gate);
  if (rc) {
    SAY("graph compaction failed: %s", akidb_strerror(rc));
    return rc;
  }
  store_log(c, AKIDB_LOG_INFO, "compacted the graph: %llu deleted points removed in %.3f s",
            (unsigned long long)before, store_now() - t0);
  return checkpoint_write(c, err, errlen); /* rewrites storage without them */
}

int maintain_compact(akidb_collection_t *c, char *err, size_t errlen) {
  pthread_mutex_lock(&c->ckpt_lock);
  int rc = compact_locked(c, err, errlen);
  pthread_mutex_unlock(&c->ckpt_lock);
  return rc;
}

int akidb_collection_compact(akidb_collection_t *c, char *err, size_t errlen) {
  return maintain_compact(c, err, errlen);
}

/* ------------------------------------------------------------ maintenance -- */

static bool checkpoint_due(akidb_collection_t *c) {
  pthread_mutex_lock(&c->apply_lock);
  bool news = c->applied_seq != c->checkpoint_seq;
  pthread_mutex_unlock(&c->apply_lock);
  if (!news) return false;
  return wal_size_bytes(c->wal) >= c->opt.checkpoint_wal_bytes ||
         store_now() - c->last_checkpoint_time >= c->opt.checkpoint_interval_s;
}

static bool compaction_due(akidb_collection_t *c) {
  uint64_t dead = akidb_hnsw_deleted_count(c->graph);
  uint64_t total = dead + akidb_hnsw_count(c->graph);
  return dead >= 64 && (double)dead > c->opt.compact_deleted_ratio * (double)total;
}

static void maintain_once(akidb_collection_t *c) {
  char err[512] = "";
  int rc = AKIDB_OK;
  pthread_mutex_lock(&c->ckpt_lock);
  pthread_rwlock_rdlock(&c->lock);
  bool compact = compaction_due(c);
  pthread_rwlock_unlock(&c->lock);
  if (compact) rc = compact_locked(c, err, sizeof err);
  else if (checkpoint_due(c)) rc = checkpoint_write(c, err, sizeof err);
  pthread_mutex_unlock(&c->ckpt_lock);
  if (rc) store_log(c, AKIDB_LOG_ERROR, "background %s failed: %s (the log still holds "
                    "every write; will retry)", compact ? "compaction" : "checkpoint", err);
}

static void *maintenance_main(void *arg) {
  akidb_collection_t *c = arg;
  while (!atomic_load(&c->stopping)) {
    pthread_mutex_lock(&c->idle_lock);
    if (!atomic_load(&c->stopping)) idle_wait(c, 250);
    pthread_mutex_unlock(&c->idle_lock);
    if (!atomic_load(&c->stopping) && !atomic_load(&c->failed)) maintain_once(c);
  }
  return NULL;
}

int maintain_start(akidb_collection_t *c, char *err, size_t errlen) {
  uint32_t n = c->opt.index_threads + 1;
  c->threads = calloc(n, sizeof *c->threads);
  if (!c->threads) return AKIDB_ENOMEM;
  atomic_store(&c->stopping, false);
  for (uint32_t i = 0; i < n; i++) {
    int rc = pthread_create(&c->threads[i], NULL, i + 1 < n ? indexer_main : maintenance_main, c);
    if (rc) {
      SAY("cannot start a background thread: %s", strerror(rc));
      maintain_stop(c);
      return AKIDB_ENOMEM;
    }
    c->n_threads = i + 1;
  }
  return AKIDB_OK;
}

void maintain_stop(akidb_collection_t *c) {
  atomic_store(&c->stopping, true);
  wake_waiters(c);
  for (uint32_t i = 0; i < c->n_threads; i++) pthread_join(c->threads[i], NULL);
  c->n_threads = 0;
}
