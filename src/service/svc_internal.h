/*
 * service/svc_internal.h — the service layer's private types: the service
 * itself, one call's context, the collection registry, quotas, JSON helpers
 * and the handlers of each operation (one file per resource).
 */
#ifndef AKIDB_SVC_INTERNAL_H
#define AKIDB_SVC_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "akidb/embed.h"
#include "akidb/auth.h"
#include "akidb/catalog.h"
#include "akidb/store.h"
#include "service/service.h"

/* ------------------------------------------------------------ registry -- */

/* Residency states (registry.c draws the state machine). */
enum { SVC_UNLOADED, SVC_LOADING, SVC_OPEN, SVC_UNLOADING, SVC_FAILED, SVC_DROPPED };
/* e->pin: no pin, or the tier (akidb_tier_t) the collection is pinned to. */
#define SVC_PIN_NONE (-1)

/* One collection of the catalog, resident or not. Held by reference while
 * a call uses it (see registry.c for the rules). */
typedef struct svc_coll {
  akidb_uuid_t id, tenant_id;
  char tenant[AKIDB_SLUG_MAX + 1];
  char database[AKIDB_OBJECT_NAME_MAX + 1];
  char name[AKIDB_OBJECT_NAME_MAX + 1];
  uint32_t dim;
  akidb_metric_t metric;
  uint32_t hnsw_m, hnsw_ef_construction;
  akidb_text_bm25_params_t bm25; /* its text index's k1 and b */
  char *embedding_json;          /* its embedding configuration; NULL: none */
  akidb_embedder_t *embedder;    /* made from it on first use (mu), freed with the entry */
  _Atomic uint32_t ef_search; /* the collection's default (changes with PATCH) */
  _Atomic int pin;            /* SVC_PIN_NONE or the pinned akidb_tier_t */

  pthread_mutex_t mu; /* with cv: state changes and waits */
  pthread_cond_t cv;
  _Atomic int state;     /* SVC_UNLOADED ... */
  akidb_collection_t *c; /* set while OPEN or UNLOADING (invariant 1) */
  char error[256];       /* why the last load failed */
  atomic_int refs;       /* holders and waiters (invariant 4) */
  _Atomic int64_t last_access_ms;      /* monotonic, for idleness and LRU */
  _Atomic int64_t last_access_wall_ms; /* for GET; 0 = not since start */
  uint64_t loads, unloads;             /* e->mu */
  double last_load_seconds;            /* e->mu */
  bool figures_known;                  /* last_* hold the figures at the last unload */
  uint64_t last_points, last_disk_bytes, last_memory_bytes;
  /* The cold tier: `cold` names the manifest of the copy in the object store
   * while the collection lives only there ("" otherwise). Written by the
   * thread that owns the entry's LOADING or exclusive UNLOADING state, under
   * e->mu; `is_cold` mirrors it for readers without the lock. */
  char cold[AKIDB_OBJECT_KEY_MAX + 1];
  _Atomic bool is_cold;
  uint32_t cold_after_s; /* the collection's own policy; 0 = the service's */
  struct svc_coll *next; /* hash chain */
} svc_coll_t;

typedef struct {
  pthread_rwlock_t lock;
  svc_coll_t **slots;
  size_t nslots, count;
  const char *root; /* <data_dir>/collections (the service's), for peeking at warm ones */
} svc_registry_t;

int svc_registry_init(svc_registry_t *r);
/* Closes every resident collection (each writes its final checkpoint) and
 * frees the registry; returns the first close error. */
int svc_registry_free(svc_registry_t *r, char *err, size_t errlen);
/* Makes sure the registry knows the collection of `m` (UNLOADED if new). */
int svc_registry_track(akidb_service_t *s, const akidb_collection_meta_t *m,
                       const char *tenant_slug, const char *db_name);
/* The collection of `m`, resident, with one more reference: loads it when
 * it is not (concurrent callers wait for the one load). Errors: the load's
 * (err names the cause), AKIDB_ENOTFOUND (dropped meanwhile). */
int svc_registry_acquire(akidb_service_t *s, const akidb_collection_meta_t *m,
                         const char *tenant_slug, const char *db_name, svc_coll_t **out,
                         char *err, size_t errlen);
/* The entry with this id with one more reference, resident or not; NULL
 * when the registry does not know it. Never loads. */
svc_coll_t *svc_registry_peek(svc_registry_t *r, const akidb_uuid_t *id);
void svc_coll_release(svc_coll_t *e);
/* Unloads an OPEN collection that nobody but the caller (`held` references)
 * holds: final checkpoint, then free. AKIDB_EBUSY when in use; AKIDB_OK when
 * not resident. `reason` labels the metric. */
int svc_registry_unload(svc_coll_t *e, const char *reason, int held);
/* Runs fn(ctx) with the collection closed (final checkpoint) and every other
 * user kept out (acquirers wait), then leaves it UNLOADED: its next use
 * loads what fn left in its directory (a restore swaps the directory).
 * AKIDB_EBUSY when a call beyond the caller's `held` references uses it or a
 * load or unload is under way; otherwise fn's result (or the close's). */
int svc_registry_exclusive(svc_coll_t *e, int held, int (*fn)(void *ctx), void *ctx, char *err,
                           size_t errlen);
/* The options the service opens a collection with (bm25 NULL: defaults). */
void svc_collection_options(const akidb_service_t *s, uint32_t dim, akidb_metric_t metric,
                            uint32_t m, uint32_t ef_construction, uint32_t ef_search,
                            const akidb_text_bm25_params_t *bm25,
                            akidb_collection_options_t *o);
/* Removes the entry, waits until no call uses it, closes it and deletes its
 * directory `dir`. Absent ids only delete the directory. */
void svc_registry_drop(svc_registry_t *r, const akidb_uuid_t *id, const char *dir);
/* Sums disk and memory bytes of a tenant's collections (memory: resident
 * ones, and the last figure of unloaded ones). */
void svc_registry_tenant_usage(svc_registry_t *r, const akidb_uuid_t *tenant, uint64_t *disk,
                               uint64_t *memory);
/* Calls fn for every entry under the read lock. */
void svc_registry_each(svc_registry_t *r, void (*fn)(void *ctx, svc_coll_t *e), void *ctx);

/* What GET and quotas show of a collection, resident or not. */
typedef struct {
  bool resident, failed, known; /* known: points/disk are figures (live or last seen) */
  bool cold;                    /* only in the object store */
  uint64_t points, pending, memory_bytes, disk_bytes;
  uint64_t last_memory_bytes; /* what it held when it last left memory */
  int64_t last_access_wall_ms;
  int pin;
  char error[256];
} svc_coll_figures_t;
void svc_coll_figures(svc_registry_t *r, svc_coll_t *e, svc_coll_figures_t *f);

int64_t svc_mono_ms(void);

/* cold.c: the cold tier. Moves the collection to the object store: closes it
 * if resident (held off like a restore), uploads its directory, records the
 * copy in the catalog, then deletes the local files. A failed upload leaves
 * it warm and queues it in the dead-letter queue. AKIDB_EBUSY when in use. */
int svc_cold_move(akidb_service_t *s, svc_coll_t *e, int held, char *err, size_t errlen);
/* Brings a cold collection's files back (registry.c's load, e LOADING):
 * download, verify, put in place, forget the copy in the catalog, delete
 * the remote objects (queued when the store fails). */
int svc_cold_fetch(akidb_service_t *s, svc_coll_t *e, const char *dir, char *err,
                   size_t errlen);
/* Deletes the objects of a deleted collection's cold copies (queued when
 * the store fails). */
void svc_cold_forget(akidb_service_t *s, const akidb_uuid_t *id);
/* Deletes a deleted tenant's objects (snapshots/<id>/, uploads/<id>/);
 * queued in the dead-letter queue when the store fails. */
void svc_tenant_objects_forget(akidb_service_t *s, const akidb_uuid_t *tenant);
/* The dead-letter queue's job on the worker pool. */
int svc_dead_letters_start(akidb_service_t *s, char *err, size_t errlen);
void svc_dead_letters_stop(akidb_service_t *s);
/* Runs one pass over the due entries now (tests). */
void svc_dead_letters_pass(akidb_service_t *s);

/* tier.c: the tiering job (idle → warm → cold, memory budget, pins). */
int svc_tier_start(akidb_service_t *s, char *err, size_t errlen);
void svc_tier_stop(akidb_service_t *s);
/* A collection was loaded: check the budget soon. */
void svc_tier_loaded(akidb_service_t *s);
/* Runs one tiering pass now (tests). */
void svc_tier_pass(akidb_service_t *s);

/* ------------------------------------------------------------- quotas -- */

typedef struct {
  akidb_uuid_t tenant;
  double tokens;
  double rate; /* tokens per second (the tenant's max_qps) */
  int64_t last_ns;
} svc_bucket_t;

typedef struct {
  pthread_mutex_t lock;
  svc_bucket_t *items;
  size_t count, cap;
} svc_buckets_t;

/* Takes one token from the tenant's bucket of `max_qps` (0 = unlimited).
 * Returns 0, or the seconds to wait before retrying (>= 1). */
uint32_t svc_buckets_take(svc_buckets_t *b, const akidb_uuid_t *tenant, uint32_t max_qps);

/* ------------------------------------------------------------ service -- */

struct akidb_service {
  akidb_service_options_t opt;
  char *data_dir, *db_path, *coll_dir;
  akidb_objstore_t *store; /* snapshots (and the cold tier) */
  akidb_catalog_t *cat;
  akidb_auth_t *auth;
  svc_registry_t reg;
  svc_buckets_t buckets;
  atomic_bool ready;
  akidb_pool_t *pool;   /* every collection's background work */
  akidb_vfs_file_t *dir_lock; /* exclusive lock of <data_dir>/collections */
  akidb_job_t tier_job; /* tier.c */
  akidb_job_t dlq_job;  /* cold.c: the dead-letter queue */
  _Atomic uint64_t memory_budget; /* starts as opt.memory_budget_bytes; 0 = unlimited */
  atomic_bool scanned;  /* akidb_service_load has listed every collection */
  atomic_uint_fast64_t catalog_gen; /* bumped by every tenant/database/collection change */
  int64_t last_prune_ms;
};

/* One call in progress: the request, the answer, and what has been
 * resolved so far (principal, tenant, database, collection). */
typedef struct {
  akidb_service_t *svc;
  const akidb_request_t *req;
  akidb_response_t *res;
  akidb_principal_t who;
  bool authed;
  akidb_audit_ctx_t audit;
  akidb_tenant_t tenant;
  akidb_database_t db;
  akidb_collection_meta_t meta;
  svc_coll_t *coll; /* referenced; released by the dispatcher */
  /* The search's plan, for the slow-request log (points.c). */
  bool has_plan;
  akidb_search_plan_t plan; /* of the (first) vector search */
} svc_call_t;

/* Seconds this thread last spent loading a collection (registry.c sets it
 * on every load; the dispatcher clears it before a call and reads it after,
 * for the slow-request log). */
extern _Thread_local double svc_thread_load_seconds;

/* embedding.c: the built-in provider's registration (service open); the
 * checks of a collection's embedding configuration (fills its dimension);
 * whether the resolved collection has one; the embedding of n texts into
 * out (n × dimension): 0, or -1 with the error set naming points[i] (NULL:
 * the query) and nothing written anywhere. */
void svc_embedding_init(void);
int svc_embedding_check(svc_call_t *c, akidb_embed_spec_t *s, uint32_t dim);
bool svc_has_embedding(const svc_call_t *c);
/* Whether the resolved collection's model is the built-in embedder (false
 * when it has none, or its embedder cannot be made). */
bool svc_embedding_is_builtin(svc_call_t *c);
int svc_embed(svc_call_t *c, const char *const *texts, const size_t *lens, size_t n,
              const size_t *points, float *out);
/* POST /v1/embeddings. */
int svc_op_embeddings(svc_call_t *c);


/* Sets the call's error (always returns -1 so handlers can `return fail(..)`). */
int svc_fail(svc_call_t *c, akidb_status_t st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Maps an akidb_err_t with its message to the answer. */
int svc_fail_code(svc_call_t *c, int code, const char *msg);

/* -1 with DEADLINE_EXCEEDED ("the call's deadline passed before <before>")
 * when the request's deadline has passed; 0 otherwise. Called before the
 * operation, before a write, between the parts of a long operation. */
int svc_check_deadline(svc_call_t *c, const char *before);
/* Successes (the status table's OK, CREATED, DONE); the result, if the
 * operation has one, is in c->res->result. */
int svc_result(svc_call_t *c);
int svc_created(svc_call_t *c);
int svc_done(svc_call_t *c);

/* Steps shared by the handlers. Each returns 0 or -1 with the error set. */
int svc_authenticate(svc_call_t *c);
int svc_authorize(svc_call_t *c, akidb_action_t action, const akidb_resource_t *res);
int svc_resolve_tenant(svc_call_t *c, akidb_action_t action);
int svc_resolve_database(svc_call_t *c);
/* The collection's catalog row only (c->meta); never loads it. */
int svc_resolve_collection_meta(svc_call_t *c);
/* The row and the resident collection (c->coll, loaded when warm). */
int svc_resolve_collection(svc_call_t *c);
int svc_require_system_admin(svc_call_t *c, akidb_action_t action);

/* Called after a tenant, database or collection change commits: drops the
 * per-thread lookup caches (see cache.c). */
void svc_catalog_changed(akidb_service_t *s);
/* Cached catalog reads for the request path: answers at most
 * SVC_CACHE_TTL_MS old and never older than the last change made through
 * this service. Same results and errors as the catalog calls. */
int svc_cached_tenant_by_slug(akidb_service_t *s, const char *slug, akidb_tenant_t *out,
                              char *err, size_t errlen);
int svc_cached_tenant_by_id(akidb_service_t *s, const akidb_uuid_t *id, akidb_tenant_t *out);
int svc_cached_database(akidb_service_t *s, const akidb_uuid_t *tenant, const char *name,
                        akidb_database_t *out, char *err, size_t errlen);
int svc_cached_collection(akidb_service_t *s, const akidb_uuid_t *db, const char *name,
                          akidb_collection_meta_t *out, char *err, size_t errlen);

/* Storage and memory quotas before a write of `bytes` on disk / `mem` in
 * memory. */
int svc_check_write_quota(svc_call_t *c, uint64_t disk_bytes, uint64_t mem_bytes);

/* The directory of a collection's data. */
void svc_coll_dir(const akidb_service_t *s, const akidb_uuid_t *id, char *out, size_t len);
/* Opens the collection of `meta` and adds it to the registry. */
int svc_open_collection(akidb_service_t *s, const akidb_collection_meta_t *meta,
                        const char *tenant_slug, const char *db_name, char *err, size_t errlen);
/* Closes and deletes the data of removed collections. */
void svc_drop_collections(akidb_service_t *s, const akidb_uuid_t *ids, size_t n);

/* ------------------------------------------------------------ handlers -- */

int svc_op_login(svc_call_t *c);
int svc_op_logout(svc_call_t *c);
int svc_op_whoami(svc_call_t *c);
int svc_op_tenant_list(svc_call_t *c);
int svc_op_tenant_create(svc_call_t *c);
int svc_op_tenant_get(svc_call_t *c);
int svc_op_tenant_update(svc_call_t *c);
int svc_op_tenant_delete(svc_call_t *c);
int svc_op_database_list(svc_call_t *c);
int svc_op_database_create(svc_call_t *c);
int svc_op_database_get(svc_call_t *c);
int svc_op_database_delete(svc_call_t *c);
int svc_op_collection_list(svc_call_t *c);
int svc_op_collection_create(svc_call_t *c);
int svc_op_collection_get(svc_call_t *c);
int svc_op_collection_update(svc_call_t *c);
int svc_op_collection_delete(svc_call_t *c);
int svc_op_point_count(svc_call_t *c);
int svc_op_point_scan(svc_call_t *c);
int svc_op_point_upsert(svc_call_t *c);
int svc_op_point_get_many(svc_call_t *c);
int svc_op_point_delete(svc_call_t *c);
int svc_op_point_get(svc_call_t *c);
int svc_op_search(svc_call_t *c);
int svc_op_snapshot_list_collection(svc_call_t *c);
int svc_op_snapshot_create(svc_call_t *c);
int svc_op_snapshot_list(svc_call_t *c);
int svc_op_snapshot_get(svc_call_t *c);
int svc_op_snapshot_delete(svc_call_t *c);
int svc_op_snapshot_restore(svc_call_t *c);
int svc_op_point_import(svc_call_t *c);
int svc_op_upload_list(svc_call_t *c);
int svc_op_upload_put(svc_call_t *c);
int svc_op_upload_delete(svc_call_t *c);
int svc_op_user_list(svc_call_t *c);
int svc_op_user_create(svc_call_t *c);
int svc_op_user_get(svc_call_t *c);
int svc_op_user_update(svc_call_t *c);
int svc_op_user_delete(svc_call_t *c);
int svc_op_key_list(svc_call_t *c);
int svc_op_key_create(svc_call_t *c);
int svc_op_key_revoke(svc_call_t *c);
int svc_op_audit_tenant(svc_call_t *c);
int svc_op_audit_all(svc_call_t *c);
int svc_op_system_object_store(svc_call_t *c);
int svc_op_system_dead_letters(svc_call_t *c);


#endif /* AKIDB_SVC_INTERNAL_H */
