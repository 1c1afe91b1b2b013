/*
 * cache.c — owns the per-thread caches of the catalog rows every data-plane
 * request resolves (tenant by slug and by id, database by name, collection
 * by name), so a search does not pay four SQLite reads. An entry is used
 * while the service's catalog generation is unchanged (every tenant,
 * database and collection change made through the service bumps it) and
 * it is younger than SVC_CACHE_TTL_MS, which bounds staleness against
 * changes made by another process. Misses (not found) are never cached.
 *
 * Locking: none — each thread has its own small table (round-robin
 * replacement); the generation is atomic.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "service/svc_internal.h"

#define SVC_CACHE_TTL_MS 1000
#define SLOTS 8

typedef struct {
  const akidb_service_t *svc;
  uint64_t gen;
  int64_t at_ms;
  akidb_uuid_t scope; /* tenant id (databases), database id (collections) */
  char name[AKIDB_OBJECT_NAME_MAX + 1];
} key_t_;

typedef struct {
  key_t_ key;
  akidb_tenant_t row;
} tenant_slot_t;
typedef struct {
  key_t_ key;
  akidb_database_t row;
} database_slot_t;
typedef struct {
  key_t_ key;
  akidb_collection_meta_t row;
} collection_slot_t;

static _Thread_local tenant_slot_t tenants[SLOTS];
static _Thread_local database_slot_t databases[SLOTS];
static _Thread_local collection_slot_t collections[SLOTS];
static _Thread_local unsigned next_tenant, next_database, next_collection;

void svc_catalog_changed(akidb_service_t *s) { atomic_fetch_add(&s->catalog_gen, 1); }

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether a slot was filled by this service since its last catalog change,
 * less than SVC_CACHE_TTL_MS ago. */
static bool live(const key_t_ *k, const akidb_service_t *s, int64_t now) {
  return k->svc == s && k->gen == atomic_load(&((akidb_service_t *)s)->catalog_gen) &&
         now - k->at_ms < SVC_CACHE_TTL_MS;
}

/* Whether a live slot holds (scope, name). */
static bool fresh(const key_t_ *k, const akidb_service_t *s, const akidb_uuid_t *scope,
                  const char *name, int64_t now) {
  return live(k, s, now) && (!scope || akidb_uuid_compare(&k->scope, scope) == 0) &&
         strcmp(k->name, name) == 0;
}

static void set_key(key_t_ *k, const akidb_service_t *s, uint64_t gen, const akidb_uuid_t *scope,
                    const char *name, int64_t now) {
  k->svc = s;
  k->gen = gen;
  k->at_ms = now;
  if (scope) k->scope = *scope;
  snprintf(k->name, sizeof k->name, "%s", name);
}

/* Keeps a tenant row read at generation `gen` (found by slug or by id). */
static void keep_tenant(const akidb_service_t *s, uint64_t gen, int64_t now,
                        const akidb_tenant_t *row) {
  tenant_slot_t *slot = &tenants[next_tenant++ % SLOTS];
  set_key(&slot->key, s, gen, NULL, row->slug, now);
  slot->row = *row;
}

int svc_cached_tenant_by_slug(akidb_service_t *s, const char *slug, akidb_tenant_t *out,
                              char *err, size_t errlen) {
  int64_t now = mono_ms();
  for (int i = 0; i < SLOTS; i++)
    if (fresh(&tenants[i].key, s, NULL, slug, now)) {
      *out = tenants[i].row;
      return AKIDB_OK;
    }
  uint64_t gen = atomic_load(&s->catalog_gen);
  int rc = akidb_tenant_get_by_slug(s->cat, slug, out, err, errlen);
  if (!rc) keep_tenant(s, gen, now, out);
  return rc;
}

int svc_cached_tenant_by_id(akidb_service_t *s, const akidb_uuid_t *id, akidb_tenant_t *out) {
  int64_t now = mono_ms();
  for (int i = 0; i < SLOTS; i++)
    if (live(&tenants[i].key, s, now) && akidb_uuid_compare(&tenants[i].row.id, id) == 0) {
      *out = tenants[i].row;
      return AKIDB_OK;
    }
  uint64_t gen = atomic_load(&s->catalog_gen);
  int rc = akidb_tenant_get(s->cat, id, out, NULL, 0);
  if (!rc) keep_tenant(s, gen, now, out);
  return rc;
}

int svc_cached_database(akidb_service_t *s, const akidb_uuid_t *tenant, const char *name,
                        akidb_database_t *out, char *err, size_t errlen) {
  int64_t now = mono_ms();
  for (int i = 0; i < SLOTS; i++)
    if (fresh(&databases[i].key, s, tenant, name, now)) {
      *out = databases[i].row;
      return AKIDB_OK;
    }
  uint64_t gen = atomic_load(&s->catalog_gen);
  int rc = akidb_database_get_by_name(s->cat, tenant, name, out, err, errlen);
  if (rc) return rc;
  database_slot_t *slot = &databases[next_database++ % SLOTS];
  set_key(&slot->key, s, gen, tenant, name, now);
  slot->row = *out;
  return AKIDB_OK;
}

int svc_cached_collection(akidb_service_t *s, const akidb_uuid_t *db, const char *name,
                          akidb_collection_meta_t *out, char *err, size_t errlen) {
  int64_t now = mono_ms();
  for (int i = 0; i < SLOTS; i++)
    if (fresh(&collections[i].key, s, db, name, now)) {
      *out = collections[i].row;
      return AKIDB_OK;
    }
  uint64_t gen = atomic_load(&s->catalog_gen);
  int rc = akidb_collection_meta_get_by_name(s->cat, db, name, out, err, errlen);
  if (rc) return rc;
  collection_slot_t *slot = &collections[next_collection++ % SLOTS];
  set_key(&slot->key, s, gen, db, name, now);
  slot->row = *out;
  return AKIDB_OK;
}
