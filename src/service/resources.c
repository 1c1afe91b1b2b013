/*
 * resources.c — owns the operations on tenants, databases and collections:
 * create, read, list, update and delete, including opening a new
 * collection's storage and deleting the data of every collection a delete
 * removed (after the catalog change committed; a crash in between leaves an
 * orphan directory that the next start removes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "akidb/text.h"
#include "obs/metrics.h"
#include "service/svc_internal.h"

/* The catalog's deletes of a tenant, a database or a collection. */
typedef int (*catalog_delete_fn)(akidb_catalog_t *cat, const akidb_uuid_t *id,
                                 const akidb_audit_ctx_t *audit, akidb_uuid_t **removed,
                                 size_t *n_removed, char *err, size_t errlen);

/* Deletes through the catalog (with its audit row), then closes and
 * removes the data of every collection the delete took with it. */
static int delete_and_drop(svc_call_t *c, catalog_delete_fn del, const akidb_uuid_t *id) {
  akidb_uuid_t *removed = NULL;
  size_t n = 0;
  char err[256] = "";
  int rc = del(c->svc->cat, id, &c->audit, &removed, &n, err, sizeof err);
  svc_catalog_changed(c->svc);
  if (rc) return svc_fail_code(c, rc, err);
  svc_drop_collections(c->svc, removed, n);
  free(removed);
  return svc_done(c);
}

/* ------------------------------------------------------------- tenants -- */

int svc_op_tenant_list(svc_call_t *c) {
  const akidb_list_args_t *a = c->req->args;
  if (svc_require_system_admin(c, AKIDB_ACT_TENANT_LIST)) return -1;
  char err[256];
  int rc = akidb_tenant_list(c->svc->cat, &a->page, &c->res->result.tenants, err, sizeof err);
  return rc ? svc_fail_code(c, rc, err) : svc_result(c);
}

/* The quota fields sent, over `base`. */
static akidb_quotas_t merge_quotas(akidb_quotas_t base, const akidb_quota_fields_t *q) {
  if (q->has_max_memory_bytes) base.max_memory_bytes = q->values.max_memory_bytes;
  if (q->has_max_storage_bytes) base.max_storage_bytes = q->values.max_storage_bytes;
  if (q->has_max_qps) base.max_qps = q->values.max_qps;
  if (q->has_max_collections) base.max_collections = q->values.max_collections;
  return base;
}

/* Quota values within their bounds (a transport may send any number). */
static int check_quotas(svc_call_t *c, const akidb_quota_fields_t *q) {
  if (q->values.max_memory_bytes > AKIDB_QUOTA_BYTES_MAX ||
      q->values.max_storage_bytes > AKIDB_QUOTA_BYTES_MAX)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "quota bytes must be in 0..%llu",
                    (unsigned long long)AKIDB_QUOTA_BYTES_MAX);
  if (q->values.max_qps > AKIDB_QUOTA_QPS_MAX)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "field 'max_qps' must be an integer in 0..%u",
                    AKIDB_QUOTA_QPS_MAX);
  if (q->values.max_collections > AKIDB_QUOTA_COLLECTIONS_MAX)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "field 'max_collections' must be an integer in 0..%u",
                    AKIDB_QUOTA_COLLECTIONS_MAX);
  return 0;
}

int svc_op_tenant_create(svc_call_t *c) {
  const akidb_tenant_create_args_t *a = c->req->args;
  if (!a->slug || !a->name)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "a tenant needs 'slug' and 'name'");
  char err[256] = "";
  if (akidb_check_slug(a->slug, "slug", err, sizeof err) ||
      akidb_check_tenant_name(a->name, "name", err, sizeof err))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s", err);
  akidb_tenant_t in = {.status = a->has_status ? a->status : AKIDB_TENANT_ACTIVE};
  if (in.status != AKIDB_TENANT_ACTIVE && in.status != AKIDB_TENANT_PROVISIONING)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "field 'status' of a new tenant must be active or provisioning");
  if (check_quotas(c, &a->quotas)) return -1;
  in.quotas = merge_quotas(in.quotas, &a->quotas);
  if (svc_require_system_admin(c, AKIDB_ACT_TENANT_CREATE)) return -1;
  snprintf(in.slug, sizeof in.slug, "%s", a->slug);
  snprintf(in.name, sizeof in.name, "%s", a->name);
  int rc = akidb_tenant_create(c->svc->cat, &in, &c->audit, &c->res->result.tenant, err,
                               sizeof err);
  svc_catalog_changed(c->svc);
  return rc ? svc_fail_code(c, rc, err) : svc_created(c);
}

int svc_op_tenant_get(svc_call_t *c) {
  if (svc_resolve_tenant(c, AKIDB_ACT_TENANT_READ)) return -1;
  c->res->result.tenant = c->tenant;
  return svc_result(c);
}

/* Each part of an update needs its own permission. */
static int authorize_update(svc_call_t *c, const akidb_tenant_update_args_t *a) {
  akidb_resource_t res = {.tenant_id = &c->tenant.id};
  if ((a->name && svc_authorize(c, AKIDB_ACT_TENANT_UPDATE, &res)) ||
      (a->has_status && svc_authorize(c, AKIDB_ACT_TENANT_STATUS, &res)) ||
      (a->quotas.present && svc_authorize(c, AKIDB_ACT_TENANT_QUOTA, &res)))
    return -1;
  return 0;
}

int svc_op_tenant_update(svc_call_t *c) {
  const akidb_tenant_update_args_t *a = c->req->args;
  if (!a->name && !a->has_status && !a->quotas.present)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "nothing to change: send 'name', 'status' or 'quotas'");
  if (check_quotas(c, &a->quotas) || svc_resolve_tenant(c, AKIDB_ACT_TENANT_READ) ||
      authorize_update(c, a))
    return -1;
  akidb_tenant_update_t upd = {.name = a->name, .set_status = a->has_status, .status = a->status};
  akidb_quotas_t q = merge_quotas(c->tenant.quotas, &a->quotas); /* fields not sent stay */
  if (a->quotas.present) upd.quotas = &q;
  char err[256] = "";
  if (a->name && akidb_check_tenant_name(a->name, "name", err, sizeof err))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s", err);
  int rc = akidb_tenant_update(c->svc->cat, &c->tenant.id, &upd, &c->audit,
                               &c->res->result.tenant, err, sizeof err);
  svc_catalog_changed(c->svc);
  return rc ? svc_fail_code(c, rc, err) : svc_result(c);
}

int svc_op_tenant_delete(svc_call_t *c) {
  if (svc_resolve_tenant(c, AKIDB_ACT_TENANT_READ)) return -1;
  akidb_resource_t res = {.tenant_id = &c->tenant.id};
  if (svc_authorize(c, AKIDB_ACT_TENANT_DELETE, &res)) return -1;
  if (delete_and_drop(c, akidb_tenant_delete, &c->tenant.id)) return -1;
  svc_tenant_objects_forget(c->svc, &c->tenant.id); /* its snapshots and uploads */
  return 0;
}

/* ----------------------------------------------------------- databases -- */

int svc_op_database_list(svc_call_t *c) {
  const akidb_list_args_t *a = c->req->args;
  if (svc_resolve_tenant(c, AKIDB_ACT_DATABASE_READ)) return -1;
  akidb_databases_result_t *r = &c->res->result.databases;
  snprintf(r->tenant, sizeof r->tenant, "%s", c->tenant.slug);
  char err[256];
  int rc = akidb_database_list(c->svc->cat, &c->tenant.id, &a->page, &r->list, err, sizeof err);
  return rc ? svc_fail_code(c, rc, err) : svc_result(c);
}

int svc_op_database_create(svc_call_t *c) {
  const akidb_database_create_args_t *a = c->req->args;
  if (!a->name) return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "a database needs a 'name'");
  char err[256] = "";
  if (akidb_check_object_name(a->name, "name", err, sizeof err))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s", err);
  if (svc_resolve_tenant(c, AKIDB_ACT_DATABASE_CREATE)) return -1;
  akidb_database_t in = {.tenant_id = c->tenant.id, .state = AKIDB_DATABASE_READY};
  snprintf(in.name, sizeof in.name, "%s", a->name);
  akidb_database_result_t *r = &c->res->result.database;
  snprintf(r->tenant, sizeof r->tenant, "%s", c->tenant.slug);
  int rc = akidb_database_create(c->svc->cat, &in, &c->audit, &r->db, err, sizeof err);
  svc_catalog_changed(c->svc);
  return rc ? svc_fail_code(c, rc, err) : svc_created(c);
}

int svc_op_database_get(svc_call_t *c) {
  if (svc_resolve_tenant(c, AKIDB_ACT_DATABASE_READ) || svc_resolve_database(c)) return -1;
  akidb_database_result_t *r = &c->res->result.database;
  r->db = c->db;
  snprintf(r->tenant, sizeof r->tenant, "%s", c->tenant.slug);
  return svc_result(c);
}

int svc_op_database_delete(svc_call_t *c) {
  if (svc_resolve_tenant(c, AKIDB_ACT_DATABASE_DELETE) || svc_resolve_database(c)) return -1;
  return delete_and_drop(c, akidb_database_delete, &c->db.id);
}

/* --------------------------------------------------------- collections -- */

/* The registry entry of m (tracked when the start-up listing has not seen
 * it yet), with a reference; NULL when out of memory. */
static svc_coll_t *entry_of(svc_call_t *c, const akidb_collection_meta_t *m) {
  svc_coll_t *e = svc_registry_peek(&c->svc->reg, &m->id);
  if (!e && svc_registry_track(c->svc, m, c->tenant.slug, c->db.name) == AKIDB_OK)
    e = svc_registry_peek(&c->svc->reg, &m->id);
  return e;
}

/* Fills `v` with m's row and where the collection lives now. */
static void view_of(svc_call_t *c, const akidb_collection_meta_t *m, akidb_collection_view_t *v) {
  svc_coll_figures_t f = {.pin = SVC_PIN_NONE};
  svc_coll_t *e = entry_of(c, m);
  if (e) {
    svc_coll_figures(&c->svc->reg, e, &f);
    svc_coll_release(e);
  }
  memset(v, 0, sizeof *v);
  v->meta = *m;
  snprintf(v->tenant, sizeof v->tenant, "%s", c->tenant.slug);
  snprintf(v->database, sizeof v->database, "%s", c->db.name);
  v->resident = f.resident;
  v->cold = f.cold;
  v->failed = f.failed;
  v->points = f.points;
  v->pending = f.pending;
  v->memory_bytes = f.memory_bytes;
  v->disk_bytes = f.disk_bytes;
  v->last_access_wall_ms = f.last_access_wall_ms;
  if (f.failed) snprintf(v->load_error, sizeof v->load_error, "%s", f.error);
}

/* The view of m as the answer. */
static int answer_view(svc_call_t *c, const akidb_collection_meta_t *m, bool created) {
  view_of(c, m, &c->res->result.collection);
  return created ? svc_created(c) : svc_result(c);
}

int svc_op_collection_list(svc_call_t *c) {
  const akidb_list_args_t *a = c->req->args;
  if (svc_resolve_tenant(c, AKIDB_ACT_COLLECTION_READ) || svc_resolve_database(c)) return -1;
  akidb_collection_meta_list_t list;
  char err[256];
  int rc = akidb_collection_meta_list(c->svc->cat, &c->db.id, &a->page, &list, err, sizeof err);
  if (rc) return svc_fail_code(c, rc, err);
  akidb_collections_result_t *r = &c->res->result.collections;
  r->items = calloc(list.count ? list.count : 1, sizeof *r->items);
  if (!r->items) {
    akidb_collection_meta_list_free(&list);
    return svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
  }
  for (size_t i = 0; i < list.count; i++) view_of(c, &list.items[i], &r->items[i]);
  r->count = list.count;
  r->has_more = list.has_more;
  r->next = list.next;
  akidb_collection_meta_list_free(&list);
  return svc_result(c);
}

/* A new collection's row from the arguments (defaults for what is absent). */
static int meta_from_args(svc_call_t *c, const akidb_collection_create_args_t *a,
                          akidb_collection_meta_t *m) {
  memset(m, 0, sizeof *m);
  akidb_collection_meta_defaults(m);
  if (a->has_m) m->hnsw_m = a->m;
  if (a->has_ef_construction) m->hnsw_ef_construction = a->ef_construction;
  if (a->has_ef_search) m->hnsw_ef_search = a->ef_search;
  /* what was sent is in range (the defaults are whatever the build chose) */
  if ((a->has_m && (a->m < AKIDB_HNSW_M_MIN || a->m > AKIDB_HNSW_M_MAX)) ||
      (a->has_ef_construction && (a->ef_construction < AKIDB_HNSW_EF_CONSTRUCTION_MIN ||
                                  a->ef_construction > AKIDB_HNSW_EF_CONSTRUCTION_MAX)) ||
      (a->has_ef_search &&
       (a->ef_search < AKIDB_HNSW_EF_SEARCH_MIN || a->ef_search > c->svc->opt.limits.max_ef)))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "index: m must be %u..%u, ef_construction %u..%u, ef_search %u..%u",
                    AKIDB_HNSW_M_MIN, AKIDB_HNSW_M_MAX, AKIDB_HNSW_EF_CONSTRUCTION_MIN,
                    AKIDB_HNSW_EF_CONSTRUCTION_MAX, AKIDB_HNSW_EF_SEARCH_MIN,
                    c->svc->opt.limits.max_ef);
  if (m->hnsw_ef_construction < m->hnsw_m)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "index.ef_construction (%u) must be >= m (%u)",
                    m->hnsw_ef_construction, m->hnsw_m);
  if (a->has_bm25_k1) m->bm25_k1 = a->bm25_k1;
  if (a->has_bm25_b) m->bm25_b = a->bm25_b;
  if (!(m->bm25_k1 >= AKIDB_TEXT_BM25_K1_MIN && m->bm25_k1 <= AKIDB_TEXT_BM25_K1_MAX) ||
      !(m->bm25_b >= AKIDB_TEXT_BM25_B_MIN && m->bm25_b <= AKIDB_TEXT_BM25_B_MAX))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "text: k1 must be a number in %g..%g and b in %g..%g",
                    AKIDB_TEXT_BM25_K1_MIN, AKIDB_TEXT_BM25_K1_MAX, AKIDB_TEXT_BM25_B_MIN,
                    AKIDB_TEXT_BM25_B_MAX);
  if (!a->name || !a->dimension)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "a collection needs 'name' and 'dimension'");
  if (a->dimension > c->svc->opt.limits.max_dimension)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "field 'dimension' must be an integer in 1..%u",
                    c->svc->opt.limits.max_dimension);
  char err[256] = "";
  if (akidb_check_object_name(a->name, "name", err, sizeof err))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s", err);
  m->metric = a->has_metric ? a->metric : AKIDB_METRIC_COSINE;
  snprintf(m->name, sizeof m->name, "%s", a->name);
  m->dimension = a->dimension;
  if (!a->embedding) return 0;
  akidb_embed_spec_t spec = *a->embedding;
  if (svc_embedding_check(c, &spec, a->dimension)) return -1;
  if (akidb_embed_spec_to_json(&spec, m->embedding_json, sizeof m->embedding_json))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "the embedding configuration is longer than %u bytes as JSON",
                    AKIDB_EMBEDDING_JSON_MAX);
  return 0;
}

int svc_op_collection_create(svc_call_t *c) {
  akidb_collection_meta_t in, out;
  if (meta_from_args(c, c->req->args, &in) ||
      svc_resolve_tenant(c, AKIDB_ACT_COLLECTION_CREATE) || svc_resolve_database(c))
    return -1;
  in.database_id = c->db.id;
  char err[512] = "";
  int rc = akidb_collection_meta_create(c->svc->cat, &in, &c->audit, &out, err, sizeof err);
  svc_catalog_changed(c->svc);
  if (rc == AKIDB_EQUOTA) obs_quota_rejection("collections");
  if (rc) return svc_fail_code(c, rc, err);
  rc = svc_open_collection(c->svc, &out, c->tenant.slug, c->db.name, err, sizeof err);
  if (rc) {
    /* Undo: the collection has no storage, so it must not exist. */
    akidb_uuid_t *removed = NULL;
    size_t n = 0;
    char err2[256];
    akidb_collection_meta_delete(c->svc->cat, &out.id, &c->audit, &removed, &n, err2, sizeof err2);
    svc_catalog_changed(c->svc);
    svc_drop_collections(c->svc, &out.id, 1);
    free(removed);
    return svc_fail_code(c, rc, err);
  }
  return answer_view(c, &out, true);
}

int svc_op_collection_get(svc_call_t *c) {
  if (svc_resolve_tenant(c, AKIDB_ACT_COLLECTION_READ) || svc_resolve_database(c) ||
      svc_resolve_collection_meta(c))
    return -1;
  return answer_view(c, &c->meta, false);
}

/* Moves the collection to the asked tier now: loads it (hot), unloads it
 * (warm; when in use, the tiering job unloads it once free if pinned) or
 * uploads it to the object store (cold). */
static int move_tier(svc_call_t *c, const akidb_collection_meta_t *m, akidb_tier_t tier) {
  char err[512] = "";
  if (tier == AKIDB_TIER_HOT) {
    int rc = svc_open_collection(c->svc, m, c->tenant.slug, c->db.name, err, sizeof err);
    return rc ? svc_fail(c, AKIDB_ST_UNAVAILABLE, "collection '%s' could not be loaded: %s",
                         m->name, err)
              : 0;
  }
  svc_coll_t *e = entry_of(c, m);
  if (!e) return svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
  int rc = AKIDB_EBUSY;
  for (int i = 0; i < 200 && rc == AKIDB_EBUSY; i++) { /* in-flight calls end within ~1 s */
    rc = tier == AKIDB_TIER_COLD ? svc_cold_move(c->svc, e, 1, err, sizeof err)
                                 : svc_registry_unload(e, "api", 1);
    if (rc == AKIDB_EBUSY) {
      struct timespec ts = {0, 5000000};
      nanosleep(&ts, NULL);
    }
  }
  svc_coll_release(e);
  if (rc == AKIDB_EBUSY && m->tier_policy.pinned) rc = AKIDB_OK; /* tiering moves it once free */
  if (rc && tier == AKIDB_TIER_COLD)
    return svc_fail(c, rc == AKIDB_EBUSY ? AKIDB_ST_CONFLICT : AKIDB_ST_UNAVAILABLE,
                    "collection '%s' stays %s: %s%s", m->name,
                    rc == AKIDB_EBUSY ? "where it is" : "warm", err,
                    rc == AKIDB_EBUSY ? "" : " (queued: it goes cold once the object store "
                                             "takes the upload)");
  if (rc && rc != AKIDB_EBUSY)
    return svc_fail(c, AKIDB_ST_INTERNAL, "collection '%s' could not be unloaded (%s)", m->name,
                    akidb_strerror(rc));
  return 0;
}

/* An update that changes both ef_search and the tier needs both actions. */
static int authorize_tier(svc_call_t *c) {
  akidb_resource_t res = {.tenant_id = &c->tenant.id};
  return svc_authorize(c, AKIDB_ACT_COLLECTION_TIER, &res) ? -1 : 0;
}

int svc_op_collection_update(svc_call_t *c) {
  const akidb_collection_update_args_t *a = c->req->args;
  if (a->has_ef_search &&
      (a->ef_search < AKIDB_HNSW_EF_SEARCH_MIN || a->ef_search > c->svc->opt.limits.max_ef))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "field 'ef_search' must be an integer in %u..%u",
                    AKIDB_HNSW_EF_SEARCH_MIN, c->svc->opt.limits.max_ef);
  bool set_ef = a->has_ef_search, set_tier = a->has_tier || a->has_pin;
  if (!set_ef && !set_tier)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "nothing to change: send index.ef_search, tier or tier_pinned");
  if (svc_resolve_tenant(c, set_ef ? AKIDB_ACT_COLLECTION_UPDATE : AKIDB_ACT_COLLECTION_TIER) ||
      (set_ef && set_tier && authorize_tier(c)) ||
      svc_resolve_database(c) || svc_resolve_collection_meta(c))
    return -1;
  svc_coll_t *e = entry_of(c, &c->meta);
  bool resident = false;
  if (e) {
    svc_coll_figures_t f;
    svc_coll_figures(&c->svc->reg, e, &f);
    resident = f.resident;
  }
  akidb_tier_t target = a->has_tier ? a->tier : resident ? AKIDB_TIER_HOT : AKIDB_TIER_WARM;
  akidb_tier_policy_t policy = c->meta.tier_policy;
  if (a->has_pin) policy.pinned = a->pinned;
  akidb_collection_meta_update_t upd = {.set_ef_search = set_ef,
                                        .ef_search = a->ef_search,
                                        .set_tier = set_tier,
                                        .tier = target,
                                        .tier_policy = set_tier ? &policy : NULL};
  char err[256] = "";
  akidb_collection_meta_t out;
  int rc = akidb_collection_meta_update(c->svc->cat, &c->meta.id, &upd, &c->audit, &out, err,
                                        sizeof err);
  svc_catalog_changed(c->svc);
  if (rc) {
    if (e) svc_coll_release(e);
    return svc_fail_code(c, rc, err);
  }
  if (e) {
    if (set_ef) atomic_store(&e->ef_search, out.hnsw_ef_search);
    if (set_tier) atomic_store(&e->pin, policy.pinned ? (int)target : SVC_PIN_NONE);
    svc_coll_release(e);
  }
  if (a->has_tier) {
    obs_tier_change(akidb_tier_name(target));
    if (move_tier(c, &out, target)) return -1;
  }
  return answer_view(c, &out, false);
}

int svc_op_collection_delete(svc_call_t *c) {
  if (svc_resolve_tenant(c, AKIDB_ACT_COLLECTION_DELETE) || svc_resolve_database(c) ||
      svc_resolve_collection_meta(c))
    return -1;
  return delete_and_drop(c, akidb_collection_meta_delete, &c->meta.id);
}
