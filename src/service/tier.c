/*
 * tier.c — owns the hot/warm/cold tiering of collections: a job on the
 * worker pool that runs every `tier_check_ms` (and soon after each load) and
 * unloads resident collections that are
 *   - pinned warm and unused (reason "pinned"),
 *   - idle for `warm_after_s` and not pinned hot (reason "idle"),
 *   - the least recently used beyond `memory_budget_bytes`, counted with
 *     each collection's own memory figure, pinned-hot ones excepted
 *     (reason "budget").
 * then moves to the object store (cold.c) a few warm ones that are pinned
 * cold or unused for their cold_after_s (the service's `cold_after_s` when
 * they have none; 0 = never).
 * Hot = resident in memory; warm = checkpointed and closed (on local disk
 * only); cold = only in the object store. A warm or cold collection comes
 * back on its next use (registry.c).
 *
 * Locking: the job runs on one worker at a time (pool rule); it copies the
 * resident entries with a reference under the registry's read lock, then
 * unloads without it. Durability: an unload writes the final checkpoint
 * first (akidb_collection_close), so nothing acknowledged is lost.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "service/svc_internal.h"

typedef struct {
  svc_coll_t *e;
  int64_t last_access_ms;
  uint64_t memory_bytes;
  int pin;
} resident_t;

typedef struct {
  resident_t *items;
  size_t n, cap;
} resident_list_t;

static void collect_one(void *ctx, svc_coll_t *e) {
  resident_list_t *l = ctx;
  if (atomic_load(&e->state) != SVC_OPEN) return;
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 64;
    resident_t *p = realloc(l->items, cap * sizeof *p);
    if (!p) return; /* this pass sees fewer; the next one catches up */
    l->items = p;
    l->cap = cap;
  }
  atomic_fetch_add(&e->refs, 1); /* under the table lock: e stays valid */
  l->items[l->n++] = (resident_t){.e = e, .last_access_ms = atomic_load(&e->last_access_ms),
                                  .pin = atomic_load(&e->pin)};
}

static int by_last_access(const void *a, const void *b) {
  const resident_t *x = a, *y = b;
  return (x->last_access_ms > y->last_access_ms) - (x->last_access_ms < y->last_access_ms);
}

/* Unloads l->items[i] if unused; true when it left memory. */
static bool unload_item(resident_list_t *l, size_t i, const char *reason) {
  resident_t *r = &l->items[i];
  if (!r->e) return false;
  if (svc_registry_unload(r->e, reason, 1) != AKIDB_OK) return false;
  svc_coll_release(r->e);
  r->e = NULL;
  return true;
}

/* Returns the free memory of unloaded collections to the system (glibc
 * keeps freed pages of its arenas resident until trimmed). */
static void give_back_memory(void) {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

static void cold_pass(akidb_service_t *s);

void svc_tier_pass(akidb_service_t *s) {
  resident_list_t l = {0};
  svc_registry_each(&s->reg, collect_one, &l);
  int64_t now = svc_mono_ms();
  uint64_t warm_after_ms = (uint64_t)s->opt.warm_after_s * 1000;
  for (size_t i = 0; i < l.n; i++) {
    resident_t *r = &l.items[i];
    if (r->pin == AKIDB_TIER_HOT) continue;
    if (r->pin == AKIDB_TIER_WARM) unload_item(&l, i, "pinned");
    else if (warm_after_ms && (uint64_t)(now - r->last_access_ms) >= warm_after_ms)
      unload_item(&l, i, "idle");
  }
  uint64_t budget = atomic_load(&s->memory_budget), total = 0;
  for (size_t i = 0; i < l.n; i++) {
    if (!l.items[i].e) continue;
    svc_coll_figures_t f;
    svc_coll_figures(&s->reg, l.items[i].e, &f);
    l.items[i].memory_bytes = f.memory_bytes;
    total += f.memory_bytes;
  }
  if (budget && total > budget) {
    qsort(l.items, l.n, sizeof *l.items, by_last_access);
    for (size_t i = 0; i < l.n && total > budget; i++) {
      if (!l.items[i].e || l.items[i].pin == AKIDB_TIER_HOT) continue;
      uint64_t bytes = l.items[i].memory_bytes;
      if (unload_item(&l, i, "budget")) total -= bytes;
    }
  }
  size_t unloaded = 0;
  for (size_t i = 0; i < l.n; i++) {
    if (l.items[i].e) svc_coll_release(l.items[i].e);
    else unloaded++;
  }
  free(l.items);
  if (unloaded) give_back_memory();
  cold_pass(s);
}

/* ----------------------------------------------------------------- cold -- */

#define COLD_MOVES_PER_PASS 4 /* uploads take long: a pass does a few */

typedef struct {
  svc_coll_t *items[COLD_MOVES_PER_PASS];
  size_t n;
  int64_t now;
  uint64_t default_ms;
} cold_pick_t;

/* Picks warm entries due for the cold tier: pinned cold, or idle for their
 * cold_after_s (the service's when they have none). */
static void pick_cold(void *ctx, svc_coll_t *e) {
  cold_pick_t *p = ctx;
  if (p->n == COLD_MOVES_PER_PASS || atomic_load(&e->is_cold)) return;
  if (atomic_load(&e->state) != SVC_UNLOADED) return;
  int pin = atomic_load(&e->pin);
  if (pin == AKIDB_TIER_HOT || pin == AKIDB_TIER_WARM) return;
  uint64_t after_ms = e->cold_after_s ? (uint64_t)e->cold_after_s * 1000 : p->default_ms;
  bool due = pin == AKIDB_TIER_COLD ||
             (after_ms && (uint64_t)(p->now - atomic_load(&e->last_access_ms)) >= after_ms);
  if (!due) return;
  atomic_fetch_add(&e->refs, 1); /* under the table lock: e stays valid */
  p->items[p->n++] = e;
}

static void cold_pass(akidb_service_t *s) {
  cold_pick_t p = {.now = svc_mono_ms(), .default_ms = (uint64_t)s->opt.cold_after_s * 1000};
  svc_registry_each(&s->reg, pick_cold, &p);
  for (size_t i = 0; i < p.n; i++) {
    char err[512];
    svc_cold_move(s, p.items[i], 1, err, sizeof err); /* failures are queued and logged */
    svc_coll_release(p.items[i]);
  }
}

static bool tier_slice(void *ctx) {
  akidb_service_t *s = ctx;
  svc_tier_pass(s);
  akidb_pool_submit_after(s->pool, &s->tier_job, s->opt.tier_check_ms);
  return false;
}

int svc_tier_start(akidb_service_t *s, char *err, size_t errlen) {
  (void)err;
  (void)errlen;
  akidb_job_init(&s->tier_job, tier_slice, s);
  akidb_pool_submit_after(s->pool, &s->tier_job, s->opt.tier_check_ms);
  return AKIDB_OK;
}

void svc_tier_stop(akidb_service_t *s) {
  if (s->pool) akidb_pool_cancel(s->pool, &s->tier_job);
}

void svc_tier_loaded(akidb_service_t *s) {
  if (s->pool && atomic_load(&s->memory_budget)) akidb_pool_submit(s->pool, &s->tier_job);
}

/* ------------------------------------------------------------- figures -- */

static void count_one(void *ctx, svc_coll_t *e) {
  akidb_tier_figures_t *f = ctx;
  int st = atomic_load(&e->state);
  if (st == SVC_OPEN || st == SVC_UNLOADING) {
    f->hot++;
    svc_coll_figures_t cf;
    svc_coll_figures(NULL, e, &cf); /* resident: never peeks */
    f->resident_bytes += cf.memory_bytes;
  } else if (atomic_load(&e->is_cold)) {
    f->cold++;
  } else {
    f->warm++;
    if (st == SVC_FAILED) f->failed++;
  }
}

void akidb_service_tier_figures(akidb_service_t *s, akidb_tier_figures_t *out) {
  memset(out, 0, sizeof *out);
  svc_registry_each(&s->reg, count_one, out);
  out->budget_bytes = atomic_load(&s->memory_budget);
  char err[256];
  akidb_dead_letter_count(s->cat, &out->dead_letters, err, sizeof err);
  if (s->pool) {
    akidb_pool_stats_t ps;
    akidb_pool_stats(s->pool, &ps);
    out->worker_threads = ps.threads;
    out->worker_queued = ps.queued;
    out->worker_slices = ps.slices;
  }
  struct statvfs fs;
  if (s->data_dir && statvfs(s->data_dir, &fs) == 0) {
    out->data_free_bytes = (uint64_t)fs.f_bavail * fs.f_frsize;
    out->data_size_bytes = (uint64_t)fs.f_blocks * fs.f_frsize;
  }
  out->ready = akidb_service_ready(s);
}

void akidb_service_object_store_stats(akidb_service_t *s, akidb_objstore_stats_t *out) {
  akidb_objstore_stats(s->store, out);
}
