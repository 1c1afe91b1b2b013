/*
 * registry.c — owns the open collections: a hash table from collection id to
 * an entry holding the open akidb_collection_t, its names and a reference
 * count. Calls take a reference for the duration of their use; a delete
 * unlinks the entry under the write lock, waits until the last reference is
 * gone, then closes the collection and removes its directory.
 *
 * Locking: one rwlock over the table (read for lookups and sums, write to
 * add or unlink); the reference count is atomic. Collections are closed
 * outside the lock.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/svc_internal.h"

static size_t slot_of(const svc_registry_t *r, const akidb_uuid_t *id) {
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < 16; i++) h = (h ^ id->bytes[i]) * 1099511628211ull;
  return (size_t)(h & (r->nslots - 1));
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

int svc_registry_add(svc_registry_t *r, svc_coll_t *e) {
  pthread_rwlock_wrlock(&r->lock);
  if (find(r, &e->id)) {
    pthread_rwlock_unlock(&r->lock);
    return AKIDB_EEXIST;
  }
  grow(r);
  atomic_store(&e->refs, 1);
  size_t s = slot_of(r, &e->id);
  e->next = r->slots[s];
  r->slots[s] = e;
  r->count++;
  pthread_rwlock_unlock(&r->lock);
  return AKIDB_OK;
}

svc_coll_t *svc_registry_get(svc_registry_t *r, const akidb_uuid_t *id) {
  pthread_rwlock_rdlock(&r->lock);
  svc_coll_t *e = find(r, id);
  if (e) atomic_fetch_add(&e->refs, 1);
  pthread_rwlock_unlock(&r->lock);
  return e;
}

void svc_coll_release(svc_coll_t *e) { atomic_fetch_sub(&e->refs, 1); }

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

/* Waits until only the registry's reference is left: calls in progress
 * finish their read or write first. */
static void wait_unused(svc_coll_t *e) {
  struct timespec ts = {0, 200000};
  while (atomic_load(&e->refs) > 1) nanosleep(&ts, NULL);
}

static int close_entry(svc_coll_t *e, char *err, size_t errlen) {
  int rc = e->c ? akidb_collection_close(e->c, err, errlen) : AKIDB_OK;
  free(e);
  return rc;
}

void svc_registry_drop(svc_registry_t *r, const akidb_uuid_t *id, const char *dir) {
  pthread_rwlock_wrlock(&r->lock);
  svc_coll_t *e = unlink_entry(r, id);
  pthread_rwlock_unlock(&r->lock);
  char err[256];
  if (e) {
    wait_unused(e);
    close_entry(e, err, sizeof err);
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
      int rc = close_entry(e, msg, sizeof msg);
      if (rc && !first) {
        first = rc;
        if (err) snprintf(err, errlen, "%s", msg);
      }
      e = next;
    }
  }
  free(r->slots);
  r->slots = NULL;
  pthread_rwlock_destroy(&r->lock);
  return first;
}

void svc_registry_tenant_usage(svc_registry_t *r, const akidb_uuid_t *tenant, uint64_t *disk,
                               uint64_t *memory) {
  *disk = *memory = 0;
  pthread_rwlock_rdlock(&r->lock);
  for (size_t i = 0; i < r->nslots; i++)
    for (svc_coll_t *e = r->slots[i]; e; e = e->next) {
      if (!e->c || akidb_uuid_compare(&e->tenant_id, tenant) != 0) continue;
      akidb_collection_stats_t st;
      akidb_collection_stats(e->c, &st);
      *disk += st.disk_bytes;
      *memory += st.memory_bytes;
    }
  pthread_rwlock_unlock(&r->lock);
}

void svc_registry_each(svc_registry_t *r, void (*fn)(void *ctx, svc_coll_t *e), void *ctx) {
  pthread_rwlock_rdlock(&r->lock);
  for (size_t i = 0; i < r->nslots; i++)
    for (svc_coll_t *e = r->slots[i]; e; e = e->next) fn(ctx, e);
  pthread_rwlock_unlock(&r->lock);
}

/* ------------------------------------------------ opening and dropping -- */

static void fill_options(const akidb_service_t *s, const akidb_collection_meta_t *m,
                         akidb_collection_options_t *o) {
  akidb_collection_options_default(o, m->dimension, m->metric);
  o->index.m = m->hnsw_m;
  o->index.ef_construction = m->hnsw_ef_construction;
  o->index.ef_search = m->hnsw_ef_search;
  o->durability = s->opt.durability;
  o->fsync_interval_ms = s->opt.fsync_interval_ms;
  if (s->opt.index_threads) o->index_threads = s->opt.index_threads;
  o->log = s->opt.log;
  o->log_ctx = s->opt.log_ctx;
}

int svc_open_collection(akidb_service_t *s, const akidb_collection_meta_t *m,
                        const char *tenant_slug, const char *db_name, char *err, size_t errlen) {
  svc_coll_t *e = calloc(1, sizeof *e);
  if (!e) return AKIDB_ENOMEM;
  e->id = m->id;
  e->tenant_id = m->tenant_id;
  snprintf(e->tenant, sizeof e->tenant, "%s", tenant_slug);
  snprintf(e->database, sizeof e->database, "%s", db_name);
  snprintf(e->name, sizeof e->name, "%s", m->name);
  e->dim = m->dimension;
  e->metric = m->metric;
  e->ef_search = m->hnsw_ef_search;
  akidb_collection_options_t o;
  fill_options(s, m, &o);
  char dir[4096];
  svc_coll_dir(s, &m->id, dir, sizeof dir);
  int rc = akidb_collection_open(dir, &o, &e->c, NULL, err, errlen);
  if (rc) {
    /* Keep the entry so calls get a clear 503 instead of a missing collection. */
    snprintf(e->error, sizeof e->error, "%s", err);
    e->c = NULL;
  }
  if (svc_registry_add(&s->reg, e)) {
    close_entry(e, NULL, 0);
    snprintf(err, errlen, "collection is already open");
    return AKIDB_EEXIST;
  }
  return rc;
}

void svc_drop_collections(akidb_service_t *s, const akidb_uuid_t *ids, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char dir[4096];
    svc_coll_dir(s, &ids[i], dir, sizeof dir);
    svc_registry_drop(&s->reg, &ids[i], dir);
  }
}

/* ------------------------------------------------------------- metrics -- */

typedef struct {
  akidb_figures_fn fn;
  void *ctx;
} visit_t;

static void visit_one(void *ctx, svc_coll_t *e) {
  visit_t *v = ctx;
  if (!e->c) return;
  akidb_collection_stats_t st;
  akidb_collection_stats(e->c, &st);
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
                                  .last_checkpoint_seconds = st.last_checkpoint_seconds};
  v->fn(v->ctx, &f);
}

void akidb_service_visit_collections(akidb_service_t *svc, akidb_figures_fn fn, void *ctx) {
  visit_t v = {fn, ctx};
  svc_registry_each(&svc->reg, visit_one, &v);
}
