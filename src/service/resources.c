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

#include "obs/metrics.h"
#include "json/json_rules.h"
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
  return rc ? svc_fail_code(c, rc, err) : svc_created(c, NULL);
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
  return rc ? svc_fail_code(c, rc, err) : svc_created(c, NULL);
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

static json_t *collection_json(svc_call_t *c, const akidb_collection_meta_t *m) {
  svc_coll_figures_t f = {.pin = SVC_PIN_NONE};
  svc_coll_t *e = entry_of(c, m);
  if (e) {
    svc_coll_figures(&c->svc->reg, e, &f);
    svc_coll_release(e);
  }
  json_t *o = json_pack(
      "{s:o,s:s,s:s,s:s,s:i,s:s,s:{s:i,s:i,s:i},s:s,s:b,s:b,s:I,s:I,s:I,s:I,s:o,s:o,s:o}", "id",
      jr_uuid(&m->id), "tenant", c->tenant.slug, "database", c->db.name, "name", m->name,
      "dimension", (int)m->dimension, "metric", akidb_metric_name(m->metric), "index", "m",
      (int)m->hnsw_m, "ef_construction", (int)m->hnsw_ef_construction, "ef_search",
      (int)m->hnsw_ef_search, "tier", f.resident ? "hot" : f.cold ? "cold" : "warm", "tier_pinned",
      (int)m->tier_policy.pinned, "resident", (int)f.resident, "points", (json_int_t)f.points,
      "pending", (json_int_t)f.pending, "memory_bytes", (json_int_t)f.memory_bytes,
      "disk_bytes", (json_int_t)f.disk_bytes, "last_access",
      jr_time(f.last_access_wall_ms, true), "created_at", jr_time(m->created_at_ms, false),
      "updated_at", jr_time(m->updated_at_ms, false));
  if (o && f.failed) json_object_set_new(o, "load_error", json_string(f.error));
  return o;
}

int svc_op_collection_list(svc_call_t *c) {
  akidb_page_t page;
  if (svc_query_page(c, &page) || svc_resolve_tenant(c, AKIDB_ACT_COLLECTION_READ) ||
      svc_resolve_database(c))
    return -1;
  akidb_collection_meta_list_t list;
  char err[256];
  int rc = akidb_collection_meta_list(c->svc->cat, &c->db.id, &page, &list, err, sizeof err);
  if (rc) return svc_fail_code(c, rc, err);
  json_t *items = json_array();
  for (size_t i = 0; i < list.count; i++)
    json_array_append_new(items, collection_json(c, &list.items[i]));
  json_t *body = jr_list(items, list.has_more, &list.next);
  akidb_collection_meta_list_free(&list);
  return svc_ok(c, body);
}

/* Reads the "index" object of a create or update body. */
static int parse_index(svc_call_t *c, akidb_collection_meta_t *m, bool update) {
  static const char *const create_keys[] = {"m", "ef_construction", "ef_search", NULL};
  static const char *const update_keys[] = {"ef_search", NULL};
  json_t *o = json_object_get(c->req->body, "index");
  if (!o) return 0;
  if (!json_is_object(o))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "field 'index' must be an object");
  if (svc_json_keys(c, o, update ? "index (only ef_search can change)" : "index",
                    update ? update_keys : create_keys))
    return -1;
  uint64_t v;
  int r;
  if ((r = svc_json_u64(c, o, "m", AKIDB_HNSW_M_MIN, AKIDB_HNSW_M_MAX, &v)) < 0) return -1;
  if (r) m->hnsw_m = (uint32_t)v;
  if ((r = svc_json_u64(c, o, "ef_construction", AKIDB_HNSW_EF_CONSTRUCTION_MIN,
                        AKIDB_HNSW_EF_CONSTRUCTION_MAX, &v)) < 0)
    return -1;
  if (r) m->hnsw_ef_construction = (uint32_t)v;
  if ((r = svc_json_u64(c, o, "ef_search", AKIDB_HNSW_EF_SEARCH_MIN,
                        c->svc->opt.limits.max_ef, &v)) < 0)
    return -1;
  if (r) m->hnsw_ef_search = (uint32_t)v;
  if (m->hnsw_ef_construction < m->hnsw_m)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "index.ef_construction (%u) must be >= m (%u)",
                    m->hnsw_ef_construction, m->hnsw_m);
  return 1;
}

static int parse_collection(svc_call_t *c, akidb_collection_meta_t *m) {
  static const char *const keys[] = {"name", "dimension", "metric", "index", NULL};
  memset(m, 0, sizeof *m);
  if (svc_body_object(c, "collection", keys)) return -1;
  akidb_collection_meta_defaults(m);
  const char *name = NULL, *metric = "cosine";
  uint64_t dim = 0;
  if (svc_json_string(c, c->req->body, "name", &name) < 0 ||
      svc_json_string(c, c->req->body, "metric", &metric) < 0 ||
      svc_json_u64(c, c->req->body, "dimension", 1, c->svc->opt.limits.max_dimension, &dim) < 0 ||
      parse_index(c, m, false) < 0)
    return -1;
  if (!name || !dim)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "a collection needs 'name' and 'dimension'");
  char err[256] = "";
  if (akidb_check_object_name(name, "name", err, sizeof err))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s", err);
  if (akidb_metric_parse(metric, &m->metric))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "field 'metric' must be cosine, l2 or dot");
  snprintf(m->name, sizeof m->name, "%s", name);
  m->dimension = (uint32_t)dim;
  return 0;
}

int svc_op_collection_create(svc_call_t *c) {
  akidb_collection_meta_t in, out;
  if (parse_collection(c, &in) || svc_resolve_tenant(c, AKIDB_ACT_COLLECTION_CREATE) ||
      svc_resolve_database(c))
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
  return svc_created(c, collection_json(c, &out));
}

int svc_op_collection_get(svc_call_t *c) {
  if (svc_resolve_tenant(c, AKIDB_ACT_COLLECTION_READ) || svc_resolve_database(c) ||
      svc_resolve_collection_meta(c))
    return -1;
  return svc_ok(c, collection_json(c, &c->meta));
}

/* The "tier" and "tier_pinned" fields of an update body. */
typedef struct {
  bool has_tier, has_pin, pinned;
  akidb_tier_t tier;
} tier_ask_t;

static int parse_tier(svc_call_t *c, tier_ask_t *t) {
  const char *tier = NULL;
  int r = svc_json_string(c, c->req->body, "tier", &tier);
  if (r < 0) return -1;
  if (r) {
    if (akidb_tier_parse(tier, &t->tier))
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                      "field 'tier' must be \"hot\" (in memory), \"warm\" (on local disk) or "
                      "\"cold\" (only in the object store)");
    t->has_tier = true;
  }
  if ((r = svc_json_bool(c, c->req->body, "tier_pinned", &t->pinned)) < 0) return -1;
  t->has_pin = r == 1;
  return 0;
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
  static const char *const keys[] = {"index", "tier", "tier_pinned", NULL};
  if (svc_body_object(c, "collection update", keys)) return -1;
  akidb_collection_meta_t m;
  memset(&m, 0, sizeof m);
  akidb_collection_meta_defaults(&m);
  m.hnsw_ef_search = 0;
  tier_ask_t ask = {0};
  int r = parse_index(c, &m, true);
  if (r < 0 || parse_tier(c, &ask)) return -1;
  bool set_ef = r == 1 && m.hnsw_ef_search != 0, set_tier = ask.has_tier || ask.has_pin;
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
  akidb_tier_t target = ask.has_tier ? ask.tier : resident ? AKIDB_TIER_HOT : AKIDB_TIER_WARM;
  akidb_tier_policy_t policy = c->meta.tier_policy;
  if (ask.has_pin) policy.pinned = ask.pinned;
  akidb_collection_meta_update_t upd = {.set_ef_search = set_ef,
                                        .ef_search = m.hnsw_ef_search,
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
  if (ask.has_tier) {
    obs_tier_change(akidb_tier_name(target));
    if (move_tier(c, &out, target)) return -1;
  }
  return svc_ok(c, collection_json(c, &out));
}

int svc_op_collection_delete(svc_call_t *c) {
  if (svc_resolve_tenant(c, AKIDB_ACT_COLLECTION_DELETE) || svc_resolve_database(c) ||
      svc_resolve_collection_meta(c))
    return -1;
  return delete_and_drop(c, akidb_collection_meta_delete, &c->meta.id);
}
