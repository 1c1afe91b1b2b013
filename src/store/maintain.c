/*
 * maintain.c — a collection's background work, as jobs on the worker pool
 * (akidb/pool.h): indexing slices that move buffered points into the HNSW
 * graph (opt.index_threads jobs, so that many workers may index one
 * collection at once), and one maintenance job that writes checkpoints (by
 * log size, and by time once writes came) and compacts the graph when too
 * many of its points are deleted. A slice indexes at most SLICE_POINTS
 * points and then yields its worker, so collections take turns. No thread
 * belongs to a collection.
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
 * Backpressure: a write that would take the points waiting for the graph
 * past opt.max_pending waits on idle_cond (bounded by backpressure_wait_ms;
 * indexing slices wake it) and then fails with AKIDB_EBUSY.
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
#include "store/timing.h"
#include "util/clock.h"

/* Points one indexing slice moves before it yields its worker. */
#define SLICE_POINTS 256u
/* A failed insert is retried after this long. */
#define RETRY_MS 1000u

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
    if (!c->pin_below) abuf_release_done(&c->buf); /* else a checkpoint streams from them */
    pthread_rwlock_unlock(&c->lock);
  }
  if (done && (atomic_load(&c->buf.pending) == 0 || atomic_load(&c->space_waiters)))
    wake_waiters(c);
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

bool maintain_wants_graph_locked(akidb_collection_t *c) {
  return c->rt.live >= c->opt.exact_below || akidb_hnsw_count(c->graph) > 0 ||
         akidb_hnsw_deleted_count(c->graph) > 0;
}

/* Collections below exact_below keep their points in the buffer (searched
 * exactly) and build no graph until they reach it. */
static bool wants_graph(akidb_collection_t *c) {
  pthread_rwlock_rdlock(&c->lock);
  bool want = maintain_wants_graph_locked(c);
  pthread_rwlock_unlock(&c->lock);
  return want;
}

void akidb_collection_wait_indexed(akidb_collection_t *c) {
  while (atomic_load(&c->buf.pending) > 0 && (!c->opt.background || wants_graph(c))) {
    if (!c->opt.background) {
      if (!maintain_index_some(c, SIZE_MAX)) break;
      continue;
    }
    pthread_mutex_lock(&c->idle_lock);
    if (atomic_load(&c->buf.pending) > 0) idle_wait(c, 50);
    pthread_mutex_unlock(&c->idle_lock);
  }
}

/* One indexing slice (a pool job); true while points are left to claim. */
static bool index_slice(void *arg) {
  akidb_collection_t *c = arg;
  if (atomic_load(&c->stopping) || !wants_graph(c)) return false;
  uint64_t before = atomic_load(&c->buf.pending);
  size_t done = maintain_index_some(c, SLICE_POINTS);
  if (!done && before > 0 && !atomic_load(&c->stopping)) {
    /* Nothing claimable: either other slices hold the rest, or an insert
     * failed (logged); look again later rather than spin. */
    akidb_pool_submit_after(c->pool, &c->maint_job, RETRY_MS);
  }
  return done == SLICE_POINTS;
}

int maintain_wait_for_room(akidb_collection_t *c, size_t n, char *err, size_t errlen) {
  uint64_t max = c->opt.max_pending;
  if (!max || !c->opt.background) return AKIDB_OK;
  double deadline = clock_now_s() + c->opt.backpressure_wait_ms / 1000.0;
  int rc = AKIDB_OK;
  atomic_fetch_add(&c->space_waiters, 1);
  pthread_mutex_lock(&c->idle_lock);
  for (;;) {
    uint64_t pending = atomic_load(&c->buf.pending);
    if (pending == 0 || pending + n <= max) break;
    double left = deadline - clock_now_s();
    if (left <= 0) {
      SAY("%llu points of this collection are waiting to be indexed (the limit is %llu); "
          "retry after a short wait, or send smaller batches",
          (unsigned long long)pending, (unsigned long long)max);
      rc = AKIDB_EBUSY;
      break;
    }
    idle_wait(c, left > 0.05 ? 50 : (long)(left * 1000) + 1);
  }
  pthread_mutex_unlock(&c->idle_lock);
  atomic_fetch_sub(&c->space_waiters, 1);
  return rc;
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
  double t0 = clock_now_s();
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
  double took = clock_now_s() - t0;
  store_timing_observe(AKIDB_STORE_TIMING_COMPACTION, (uint64_t)(took * 1e9));
  store_log(c, AKIDB_LOG_INFO, "compacted the graph: %llu deleted points removed in %.3f s",
            (unsigned long long)before, took);
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
         clock_now_s() - c->last_checkpoint_time >= c->opt.checkpoint_interval_s;
}

static bool compaction_due(akidb_collection_t *c) {
  uint64_t dead = akidb_hnsw_deleted_count(c->graph);
  uint64_t total = dead + akidb_hnsw_count(c->graph);
  return dead >= 64 && (double)dead > c->opt.compact_deleted_ratio * (double)total;
}

/* Milliseconds until a checkpoint is due by time (0: due now). */
static uint32_t checkpoint_wait_ms(akidb_collection_t *c) {
  double left = c->last_checkpoint_time + c->opt.checkpoint_interval_s - clock_now_s();
  return left <= 0 ? 0 : (uint32_t)(left * 1000.0) + 1;
}

static bool has_news(akidb_collection_t *c) {
  pthread_mutex_lock(&c->apply_lock);
  bool news = c->applied_seq != c->checkpoint_seq;
  pthread_mutex_unlock(&c->apply_lock);
  return news;
}

/* The maintenance job: compaction or checkpoint when due; then re-arms
 * itself for the next checkpoint while unsaved writes exist. */
static bool maintain_slice(void *arg) {
  akidb_collection_t *c = arg;
  if (atomic_load(&c->stopping) || atomic_load(&c->failed)) return false;
  if (atomic_load(&c->buf.pending) > 0) /* an indexing retry was asked for */
    for (uint32_t i = 0; i < c->n_index_jobs; i++) akidb_pool_submit(c->pool, &c->index_jobs[i]);
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
  if (has_news(c))
    akidb_pool_submit_after(c->pool, &c->maint_job, rc ? RETRY_MS * 5 : checkpoint_wait_ms(c));
  return false;
}

/* Durability "interval": one fdatasync of what was written since the last;
 * the next write arms it again. */
static bool sync_slice(void *arg) {
  akidb_collection_t *c = arg;
  if (wal_sync_unsynced(c->wal) == AKIDB_EIO && !atomic_load(&c->failed))
    store_log(c, AKIDB_LOG_ERROR, "the log's interval fdatasync failed: writes are refused "
              "until the collection is reopened");
  return false;
}

void maintain_note_write(akidb_collection_t *c, bool deleted) {
  if (!c->pool) return;
  if (c->opt.durability == AKIDB_DURABILITY_INTERVAL)
    akidb_pool_submit_after(c->pool, &c->sync_job, c->opt.fsync_interval_ms);
  for (uint32_t i = 0; i < c->n_index_jobs; i++) akidb_pool_submit(c->pool, &c->index_jobs[i]);
  if (wal_size_bytes(c->wal) >= c->opt.checkpoint_wal_bytes)
    akidb_pool_submit(c->pool, &c->maint_job);
  else
    akidb_pool_submit_after(c->pool, &c->maint_job, deleted ? 250 : checkpoint_wait_ms(c));
}

int maintain_start(akidb_collection_t *c, char *err, size_t errlen) {
  akidb_pool_t *pool = c->opt.pool ? c->opt.pool : akidb_pool_default_acquire();
  if (!pool) {
    SAY("cannot start the worker pool");
    return AKIDB_ENOMEM;
  }
  c->index_jobs = mem_calloc(&c->mem, c->opt.index_threads, sizeof *c->index_jobs);
  if (!c->index_jobs) {
    if (!c->opt.pool) akidb_pool_default_release();
    return AKIDB_ENOMEM;
  }
  c->n_index_jobs = c->opt.index_threads;
  for (uint32_t i = 0; i < c->n_index_jobs; i++) akidb_job_init(&c->index_jobs[i], index_slice, c);
  akidb_job_init(&c->maint_job, maintain_slice, c);
  akidb_job_init(&c->sync_job, sync_slice, c);
  atomic_store(&c->stopping, false);
  c->pool = pool;
  /* Work left by recovery: points to index, writes not yet checkpointed. */
  maintain_note_write(c, true);
  return AKIDB_OK;
}

void maintain_stop(akidb_collection_t *c) {
  atomic_store(&c->stopping, true);
  wake_waiters(c);
  if (!c->pool) return;
  for (uint32_t i = 0; i < c->n_index_jobs; i++) akidb_pool_cancel(c->pool, &c->index_jobs[i]);
  akidb_pool_cancel(c->pool, &c->maint_job);
  akidb_pool_cancel(c->pool, &c->sync_job);
  c->pool = NULL;
  if (!c->opt.pool) akidb_pool_default_release();
}
