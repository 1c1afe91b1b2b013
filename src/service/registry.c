/*
 * registry.c — owns the residency of every collection: a hash table from
 * collection id to an entry (names, index parameters, tier pin, last-known
 * figures, a reference count) whose collection is opened on first use and
 * closed again when idle or when memory is short (tier.c decides when).
 *
 * Residency states of an entry (state machine; function → transition):
 *   UNLOADED ──acquire──▶ LOADING ──open ok──▶ OPEN
 *                               └──open fails──▶ FAILED ──acquire──▶ LOADING
 *   OPEN ──svc_registry_unload (no holder)──▶ UNLOADING ──closed──▶ UNLOADED
 *   OPEN, UNLOADED, FAILED ──svc_registry_exclusive (no other holder)──▶
 *       UNLOADING ──closed, its files replaced (restore) or moved to the
 *       object store (cold.c: is_cold set)──▶ UNLOADED
 *   LOADING of a cold entry first fetches its files (svc_cold_fetch).
 *   any ──svc_registry_drop──▶ DROPPED (unlinked; freed once unreferenced)
 * Invariants:
 *   1. e->c != NULL exactly while OPEN or UNLOADING.
 *   2. Only the thread that moved an entry to LOADING or UNLOADING opens or
 *      closes its collection; every other thread waits on e->cv.
 *   3. A collection is never unloaded while referenced: a holder increments
 *      refs before it reads state (seq_cst); the unloader stores UNLOADING
 *      before it reads refs (seq_cst), and backs off if refs != 0 — so at
 *      least one of the two sees the other.
 *   4. refs counts holders (calls using the collection) and waiters; an
 *      entry is freed only after it is unlinked and refs drops to 0.
 *
 * Locking: `lock` (rwlock) over the table: read to find (and take a
 * reference, so a found entry cannot be freed), write to add or unlink.
 * e->mu + e->cv guard state changes and waits. Collections are opened and
 * closed without any registry lock held. Order: table lock, then e->mu.
 * Durability: closing (unload) writes the collection's final checkpoint;
 * nothing is deleted here except the data of dropped collections.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "obs/metrics.h"
#include "service/svc_internal.h"
#include "util/clock.h"

static size_t slot_of(const svc_registry_t *r, const akidb_uuid_t *id) {
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < 16; i++) h = (h ^ id->bytes[i]) * 1099511628211ull;
  return (size_t)(h & (r->nslots - 1));
}

int64_t svc_mono_ms(void) { return (int64_t)(clock_now_ns() / 1000000); }

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int svc_registry_init(svc_registry_t *r) {
  memset(r, 0, sizeof *r);
  r->nslots = 1024;
  r->slots = calloc(r->nslots, sizeof *r->slots);
  if (!r->slots) return AKIDB_ENOMEM;
  pthread_rwlock_init(&r->lock, NULL);
  return AKIDB_OK;
}

/* Doubles the table when it is more than half full (write lock held). */
static void grow(svc_registry_t *r) {
  if (r->count * 2 < r->nslots) return;
  size_t n = r->nslots * 2;
  svc_coll_t **slots = calloc(n, sizeof *slots);
  if (!slots) return; /* chains just get longer */
  svc_registry_t tmp = {.slots = slots, .nslots = n};
  for (size_t i = 0; i < r->nslots; i++) {
    svc_coll_t *e = r->slots[i];
    while (e) {
      svc_coll_t *next = e->next;
      size_t s = slot_of(&tmp, &e->id);
      e->next = slots[s];
      slots[s] = e;
      e = next;
    }
  }
  free(r->slots);
  r->slots = slots;
  r->nslots = n;
}

static svc_coll_t *find(const svc_registry_t *r, const akidb_uuid_t *id) {
  for (svc_coll_t *e = r->slots[slot_of(r, id)]; e; e = e->next)
    if (akidb_uuid_compare(&e->id, id) == 0) return e;
  return NULL;
}

/* A new UNLOADED entry for the collection of `m`. */
static svc_coll_t *entry_new(const akidb_collection_meta_t *m, const char *tenant_slug,
                             const char *db_name) {
  svc_coll_t *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->id = m->id;
  e->tenant_id = m->tenant_id;
  snprintf(e->tenant, sizeof e->tenant, "%s", tenant_slug);
  snprintf(e->database, sizeof e->database, "%s", db_name);
  snprintf(e->name, sizeof e->name, "%s", m->name);
  e->dim = m->dimension;
  e->metric = m->metric;
  e->hnsw_m = m->hnsw_m;
  e->hnsw_ef_construction = m->hnsw_ef_construction;
  e->bm25 = (akidb_text_bm25_params_t){m->bm25_k1, m->bm25_b};
  if (m->embedding_json[0] && !(e->embedding_json = strdup(m->embedding_json))) {
    free(e);
    return NULL;
  }
  atomic_init(&e->ef_search, m->hnsw_ef_search);
  atomic_init(&e->pin, m->tier_policy.pinned ? (int)m->tier : SVC_PIN_NONE);
  snprintf(e->cold, sizeof e->cold, "%s", m->cold_manifest);
  atomic_init(&e->is_cold, m->cold_manifest[0] != '\0');
  e->cold_after_s = m->tier_policy.cold_after_s;
  atomic_init(&e->state, SVC_UNLOADED);
  atomic_init(&e->refs, 0);
  atomic_init(&e->last_access_ms, svc_mono_ms());
  atomic_init(&e->last_access_wall_ms, 0);
  pthread_mutex_init(&e->mu, NULL);
  pthread_cond_init(&e->cv, NULL);
  return e;
}

static void entry_free(svc_coll_t *e) {
  akidb_embed_destroy(e->embedder);
  free(e->embedding_json);
  pthread_mutex_destroy(&e->mu);
  pthread_cond_destroy(&e->cv);
  free(e);
}

/* The entry for m with one more reference, added (UNLOADED) when absent. */
static svc_coll_t *find_or_add(svc_registry_t *r, const akidb_collection_meta_t *m,
                               const char *tenant_slug, const char *db_name) {
  pthread_rwlock_rdlock(&r->lock);
  svc_coll_t *e = find(r, &m->id);
  if (e) atomic_fetch_add(&e->refs, 1);
  pthread_rwlock_unlock(&r->lock);
  if (e) return e;
  pthread_rwlock_wrlock(&r->lock);
  e = find(r, &m->id);
  if (!e && (e = entry_new(m, tenant_slug, db_name))) {
    grow(r);
    size_t s = slot_of(r, &e->id);
    e->next = r->slots[s];
    r->slots[s] = e;
    r->count++;
  }
  if (e) atomic_fetch_add(&e->refs, 1);
  pthread_rwlock_unlock(&r->lock);
  return e;
}

int svc_registry_track(akidb_service_t *s, const akidb_collection_meta_t *m,
                       const char *tenant_slug, const char *db_name) {
  svc_coll_t *e = find_or_add(&s->reg, m, tenant_slug, db_name);
  if (!e) return AKIDB_ENOMEM;
  svc_coll_release(e);
  return AKIDB_OK;
}

void svc_coll_release(svc_coll_t *e) { atomic_fetch_sub(&e->refs, 1); }

/* ------------------------------------------------------------- loading -- */

static void fill_options(const akidb_service_t *s, const svc_coll_t *e,
                         akidb_collection_options_t *o) {
  svc_collection_options(s, e->dim, e->metric, e->hnsw_m, e->hnsw_ef_construction,
                         atomic_load(&e->ef_search), &e->bm25, o);
}

void svc_collection_options(const akidb_service_t *s, uint32_t dim, akidb_metric_t metric,
                            uint32_t m, uint32_t ef_construction, uint32_t ef_search,
                            const akidb_text_bm25_params_t *bm25,
                            akidb_collection_options_t *o) {
  akidb_collection_options_default(o, dim, metric);
  if (bm25) o->bm25 = *bm25;
  o->index.m = m;
  o->index.ef_construction = ef_construction;
  o->index.ef_search = ef_search;
  o->durability = s->opt.durability;
  o->fsync_interval_ms = s->opt.fsync_interval_ms;
  o->pool = s->pool;
  o->caller_locks = true; /* the service holds the data directory's lock */
  o->index_threads = s->pool ? akidb_pool_threads(s->pool) : 1;
  if (s->opt.index_threads && s->opt.index_threads < o->index_threads)
    o->index_threads = s->opt.index_threads;
  uint64_t per_point = (uint64_t)dim * sizeof(float);
  if (s->opt.max_pending_bytes) {
    o->max_pending = s->opt.max_pending_bytes / (per_point ? per_point : 1);
    if (o->max_pending < 1024) o->max_pending = 1024;
  }
  o->backpressure_wait_ms = s->opt.backpressure_wait_ms;
  o->log = s->opt.log;
  o->log_ctx = s->opt.log_ctx;
}

_Thread_local double svc_thread_load_seconds;

/* Opens e's collection (e is LOADING, owned by this thread). */
static int load_entry(akidb_service_t *s, svc_coll_t *e, char *err, size_t errlen) {
  akidb_collection_options_t o;
  fill_options(s, e, &o);
  char dir[4096];
  svc_coll_dir(s, &e->id, dir, sizeof dir);
  double t0 = clock_now_s();
  akidb_collection_t *c = NULL;
  int rc = AKIDB_OK;
  struct stat sb;
  akidb_collection_meta_t m;
  /* No data directory: a collection deleted since the caller read its row
   * (do not bring it back), or one whose creation was cut short. */
  if (stat(dir, &sb) != 0 && !atomic_load(&e->is_cold) &&
      akidb_collection_meta_get(s->cat, &e->id, &m, err, errlen) == AKIDB_ENOTFOUND)
    rc = AKIDB_ENOTFOUND;
  if (rc == AKIDB_OK && atomic_load(&e->is_cold)) rc = svc_cold_fetch(s, e, dir, err, errlen);
  if (rc == AKIDB_OK) rc = akidb_collection_open(dir, &o, &c, NULL, err, errlen);
  double took = clock_now_s() - t0;
  obs_collection_load_observe(took, rc == AKIDB_OK);
  svc_thread_load_seconds += took;
  pthread_mutex_lock(&e->mu);
  if (rc == AKIDB_OK) {
    e->c = c;
    e->loads++;
    e->last_load_seconds = took;
    snprintf(e->error, sizeof e->error, "%s", "");
    atomic_store(&e->state, SVC_OPEN);
  } else {
    snprintf(e->error, sizeof e->error, "%s", err);
    atomic_store(&e->state, SVC_FAILED);
  }
  pthread_cond_broadcast(&e->cv);
  pthread_mutex_unlock(&e->mu);
  if (rc == AKIDB_OK) svc_tier_loaded(s);
  return rc;
}

static void touch(svc_coll_t *e) {
  atomic_store_explicit(&e->last_access_ms, svc_mono_ms(), memory_order_relaxed);
  atomic_store_explicit(&e->last_access_wall_ms, wall_ms(), memory_order_relaxed);
}

int svc_registry_acquire(akidb_service_t *s, const akidb_collection_meta_t *m,
                         const char *tenant_slug, const char *db_name, svc_coll_t **out,
                         char *err, size_t errlen) {
  *out = NULL;
  svc_coll_t *e = find_or_add(&s->reg, m, tenant_slug, db_name);
  if (!e) {
    snprintf(err, errlen, "out of memory");
    return AKIDB_ENOMEM;
  }
  for (;;) {
    if (atomic_load(&e->state) == SVC_OPEN) break; /* fast path (invariant 3) */
    pthread_mutex_lock(&e->mu);
    int st = atomic_load(&e->state);
    while (st == SVC_LOADING || st == SVC_UNLOADING) {
      pthread_cond_wait(&e->cv, &e->mu);
      st = atomic_load(&e->state);
    }
    if (st == SVC_OPEN) {
      pthread_mutex_unlock(&e->mu);
      break;
    }
    if (st == SVC_DROPPED) {
      pthread_mutex_unlock(&e->mu);
      svc_coll_release(e);
      snprintf(err, errlen, "collection '%s' was deleted", m->name);
      return AKIDB_ENOTFOUND;
    }
    atomic_store(&e->state, SVC_LOADING); /* UNLOADED or FAILED: load it (again) */
    pthread_mutex_unlock(&e->mu);
    int rc = load_entry(s, e, err, errlen);
    if (rc == AKIDB_ENOTFOUND) { /* deleted meanwhile: forget the entry */
      akidb_uuid_t id = e->id;
      char dir[4096];
      svc_coll_dir(s, &id, dir, sizeof dir);
      svc_coll_release(e);
      svc_registry_drop(&s->reg, &id, dir);
      snprintf(err, errlen, "collection '%s' was deleted", m->name);
      return rc;
    }
    if (rc) {
      svc_coll_release(e);
      return rc;
    }
  }
  touch(e);
  *out = e;
  return AKIDB_OK;
}

/* ----------------------------------------------------------- unloading -- */

/* Remembers the figures of a collection about to close (e->mu held). */
static void keep_figures(svc_coll_t *e) {
  akidb_collection_stats_t st;
  akidb_collection_stats(e->c, &st);
  e->last_points = st.points;
  e->last_disk_bytes = st.disk_bytes;
  e->last_memory_bytes = st.memory_bytes;
  e->figures_known = true;
}

int svc_registry_unload(svc_coll_t *e, const char *reason, int held) {
  pthread_mutex_lock(&e->mu);
  if (atomic_load(&e->state) != SVC_OPEN) {
    pthread_mutex_unlock(&e->mu);
    return AKIDB_OK;
  }
  atomic_store(&e->state, SVC_UNLOADING);
  /* `held` references are the caller's own (peek): any other is a user. */
  if (atomic_load(&e->refs) > held) {
    atomic_store(&e->state, SVC_OPEN);
    pthread_mutex_unlock(&e->mu);
    return AKIDB_EBUSY;
  }
  keep_figures(e);
  akidb_collection_t *c = e->c;
  pthread_mutex_unlock(&e->mu);
  char err[512] = "";
  int rc = akidb_collection_close(c, err, sizeof err);
  pthread_mutex_lock(&e->mu);
  e->c = NULL;
  e->unloads++;
  if (rc) snprintf(e->error, sizeof e->error, "final checkpoint failed: %.200s", err);
  atomic_store(&e->state, SVC_UNLOADED);
  pthread_cond_broadcast(&e->cv);
  pthread_mutex_unlock(&e->mu);
  obs_collection_unload(reason);
  return rc;
}

/* ----------------------------------------------------------- exclusive -- */

int svc_registry_exclusive(svc_coll_t *e, int held, int (*fn)(void *ctx), void *ctx, char *err,
                           size_t errlen) {
  pthread_mutex_lock(&e->mu);
  int st = atomic_load(&e->state);
  if (st == SVC_DROPPED || st == SVC_LOADING || st == SVC_UNLOADING) {
    pthread_mutex_unlock(&e->mu);
    snprintf(err, errlen, "collection '%s' is %s; retry", e->name,
             st == SVC_DROPPED ? "being deleted" : "being loaded or unloaded");
    return st == SVC_DROPPED ? AKIDB_ENOTFOUND : AKIDB_EBUSY;
  }
  atomic_store(&e->state, SVC_UNLOADING); /* acquirers wait from here on */
  if (atomic_load(&e->refs) > held) {      /* invariant 3, as in unload */
    atomic_store(&e->state, st);
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    snprintf(err, errlen, "collection '%s' is in use; retry", e->name);
    return AKIDB_EBUSY;
  }
  akidb_collection_t *c = e->c;
  if (c) keep_figures(e);
  pthread_mutex_unlock(&e->mu);
  int rc = AKIDB_OK;
  if (c && (rc = akidb_collection_close(c, err, errlen)) == AKIDB_OK) obs_collection_unload("exclusive");
  if (rc == AKIDB_OK) rc = fn(ctx);
  pthread_mutex_lock(&e->mu);
  e->c = NULL;
  if (c) e->unloads++;
  if (!atomic_load(&e->is_cold)) e->figures_known = false; /* fn may have replaced the data */
  atomic_store(&e->state, SVC_UNLOADED);
  pthread_cond_broadcast(&e->cv);
  pthread_mutex_unlock(&e->mu);
  return rc;
}

/* -------------------------------------------------------------- drops -- */

/* Unlinks the entry with this id (write lock held); NULL if absent. */
static svc_coll_t *unlink_entry(svc_registry_t *r, const akidb_uuid_t *id) {
  svc_coll_t **pp = &r->slots[slot_of(r, id)];
  for (; *pp; pp = &(*pp)->next) {
    if (akidb_uuid_compare(&(*pp)->id, id) != 0) continue;
    svc_coll_t *e = *pp;
    *pp = e->next;
    r->count--;
    return e;
  }
  return NULL;
}

/* Waits until nobody holds the entry. */
static void wait_unused(svc_coll_t *e) {
  struct timespec ts = {0, 200000};
  while (atomic_load(&e->refs) > 0) nanosleep(&ts, NULL);
}

void svc_registry_drop(svc_registry_t *r, const akidb_uuid_t *id, const char *dir) {
  pthread_rwlock_wrlock(&r->lock);
  svc_coll_t *e = unlink_entry(r, id);
  pthread_rwlock_unlock(&r->lock);
  char err[256];
  if (e) {
    pthread_mutex_lock(&e->mu);
    while (atomic_load(&e->state) == SVC_LOADING || atomic_load(&e->state) == SVC_UNLOADING)
      pthread_cond_wait(&e->cv, &e->mu);
    akidb_collection_t *c = e->c;
    e->c = NULL;
    atomic_store(&e->state, SVC_DROPPED);
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    wait_unused(e);
    akidb_collection_discard(c); /* no final checkpoint: the files go next */
    entry_free(e);
  }
  akidb_collection_destroy(dir, err, sizeof err);
}

int svc_registry_free(svc_registry_t *r, char *err, size_t errlen) {
  int first = AKIDB_OK;
  if (!r->slots) return first;
  for (size_t i = 0; i < r->nslots; i++) {
    svc_coll_t *e = r->slots[i];
    while (e) {
      svc_coll_t *next = e->next;
      char msg[512] = "";
      int rc = e->c ? akidb_collection_close(e->c, msg, sizeof msg) : AKIDB_OK;
      if (rc && !first) {
        first = rc;
        if (err) snprintf(err, errlen, "%s", msg);
      }
      entry_free(e);
      e = next;
    }
  }
  free(r->slots);
  r->slots = NULL;
  pthread_rwlock_destroy(&r->lock);
  return first;
}

/* ------------------------------------------------------------- figures -- */

/* A collection not loaded since start: its figures from its files (once;
 * e->mu held, state UNLOADED or FAILED). */
static void peek_figures(const svc_registry_t *r, svc_coll_t *e) {
  if (!r || !r->root) return;
  char dir[4096], id[AKIDB_UUID_STR_LEN + 1];
  akidb_uuid_format(&e->id, id);
  snprintf(dir, sizeof dir, "%s/%s", r->root, id);
  akidb_collection_peek_t pk;
  if (akidb_collection_peek(dir, NULL, &pk) != AKIDB_OK) return;
  e->last_points = pk.checkpoint_points;
  e->last_disk_bytes = pk.disk_bytes;
  e->last_memory_bytes = 0;
  e->figures_known = true;
}

void svc_coll_figures(svc_registry_t *r, svc_coll_t *e, svc_coll_figures_t *f) {
  memset(f, 0, sizeof *f);
  pthread_mutex_lock(&e->mu);
  int st = atomic_load(&e->state);
  if (!e->figures_known && (st == SVC_UNLOADED || st == SVC_FAILED) && !atomic_load(&e->is_cold))
    peek_figures(r, e);
  f->resident = st == SVC_OPEN || st == SVC_UNLOADING;
  if (st == SVC_OPEN && e->c) { /* UNLOADING: closing meanwhile, use the kept figures */
    akidb_collection_stats_t cs;
    akidb_collection_stats(e->c, &cs);
    f->points = cs.points;
    f->pending = cs.pending;
    f->memory_bytes = cs.memory_bytes;
    f->disk_bytes = cs.disk_bytes;
    f->known = true;
  } else if (e->figures_known) {
    f->points = e->last_points;
    f->disk_bytes = e->last_disk_bytes;
    f->memory_bytes = st == SVC_UNLOADING ? e->last_memory_bytes : 0;
    f->known = true;
  }
  f->last_memory_bytes = e->last_memory_bytes;
  f->failed = st == SVC_FAILED;
  snprintf(f->error, sizeof f->error, "%s", f->failed ? e->error : "");
  pthread_mutex_unlock(&e->mu);
  f->last_access_wall_ms = atomic_load(&e->last_access_wall_ms);
  f->pin = atomic_load(&e->pin);
  f->cold = atomic_load(&e->is_cold);
}

svc_coll_t *svc_registry_peek(svc_registry_t *r, const akidb_uuid_t *id) {
  pthread_rwlock_rdlock(&r->lock);
  svc_coll_t *e = find(r, id);
  if (e) atomic_fetch_add(&e->refs, 1);
  pthread_rwlock_unlock(&r->lock);
  return e;
}

void svc_registry_tenant_usage(svc_registry_t *r, const akidb_uuid_t *tenant, uint64_t *disk,
                               uint64_t *memory) {
  *disk = *memory = 0;
  pthread_rwlock_rdlock(&r->lock);
  for (size_t i = 0; i < r->nslots; i++)
    for (svc_coll_t *e = r->slots[i]; e; e = e->next) {
      if (akidb_uuid_compare(&e->tenant_id, tenant) != 0) continue;
      svc_coll_figures_t f;
      svc_coll_figures(r, e, &f);
      *disk += f.disk_bytes;
      *memory += f.resident ? f.memory_bytes : f.last_memory_bytes;
    }
  pthread_rwlock_unlock(&r->lock);
}

void svc_registry_each(svc_registry_t *r, void (*fn)(void *ctx, svc_coll_t *e), void *ctx) {
  pthread_rwlock_rdlock(&r->lock);
  for (size_t i = 0; i < r->nslots; i++)
    for (svc_coll_t *e = r->slots[i]; e; e = e->next) fn(ctx, e);
  pthread_rwlock_unlock(&r->lock);
}

/* ------------------------------------------------ creating and dropping -- */

int svc_open_collection(akidb_service_t *s, const akidb_collection_meta_t *m,
                        const char *tenant_slug, const char *db_name, char *err, size_t errlen) {
  svc_coll_t *e;
  int rc = svc_registry_acquire(s, m, tenant_slug, db_name, &e, err, errlen);
  if (rc == AKIDB_OK) svc_coll_release(e);
  return rc;
}

void svc_drop_collections(akidb_service_t *s, const akidb_uuid_t *ids, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char dir[4096];
    svc_coll_dir(s, &ids[i], dir, sizeof dir);
    svc_registry_drop(&s->reg, &ids[i], dir);
    svc_cold_forget(s, &ids[i]); /* its copies in the object store, if any */
  }
}

/* ------------------------------------------------------------- metrics -- */

typedef struct {
  akidb_figures_fn fn;
  void *ctx;
} visit_t;

static void visit_one(void *ctx, svc_coll_t *e) {
  visit_t *v = ctx;
  pthread_mutex_lock(&e->mu);
  if (atomic_load(&e->state) != SVC_OPEN || !e->c) {
    pthread_mutex_unlock(&e->mu);
    return; /* only resident collections have live figures */
  }
  akidb_collection_stats_t st;
  akidb_collection_stats(e->c, &st);
  pthread_mutex_unlock(&e->mu);
  akidb_collection_figures_t f = {.tenant = e->tenant,
                                  .database = e->database,
                                  .collection = e->name,
                                  .points = st.points,
                                  .pending = st.pending,
                                  .memory_bytes = st.memory_bytes,
                                  .disk_bytes = st.disk_bytes,
                                  .wal_fsyncs = st.wal_fsyncs,
                                  .wal_fsync_ns = st.wal_fsync_ns,
                                  .checkpoints = st.checkpoints,
                                  .last_checkpoint_seconds = st.last_checkpoint_seconds,
                                  .checkpoint_age_seconds = st.checkpoint_age_seconds,
                                  .wal_failed = st.failed};
  v->fn(v->ctx, &f);
}

void akidb_service_visit_collections(akidb_service_t *svc, akidb_figures_fn fn, void *ctx) {
  visit_t v = {fn, ctx};
  svc_registry_each(&svc->reg, visit_one, &v);
}
