/*
 * grpc/codec_admin.c — owns the gRPC codec of the resource services:
 * TenantService, DatabaseService, CollectionService, UserService,
 * ApiKeyService and AuditService. protobuf → typed arguments (rpc_args_t)
 * and the request's path members, typed results → protobuf. The checks
 * and messages are the REST codec's (src/http/codec.c) wherever the field
 * is the same; what proto3 adds (an enum's unknown number, 0 standing for
 * "not sent") is refused here naming the field. Conventions of the
 * contract: proto/akidb/v1/common.proto.
 *
 * Locking: none (stateless; the table is constant). Durability: none of
 * its own; a write is answered only after the service returned.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "akidb/v1/audit.pb-c.h"
#include "akidb/v1/collections.pb-c.h"
#include "akidb/v1/databases.pb-c.h"
#include "akidb/v1/keys.pb-c.h"
#include "akidb/v1/tenants.pb-c.h"
#include "akidb/v1/users.pb-c.h"
#include "grpc/rpc_internal.h"
#include "json/json_rules.h"

/* ------------------------------------------------------- enum tables -- */

/* proto value → the service's (index 0, unspecified, is never read) */
static const int TENANT_STATUS_IN[] = {0, AKIDB_TENANT_PROVISIONING, AKIDB_TENANT_ACTIVE,
                                       AKIDB_TENANT_SUSPENDED, AKIDB_TENANT_DECOMMISSIONED};
static const int ROLE_IN[] = {0,
                              AKIDB_ROLE_SYSTEM_ADMIN,
                              AKIDB_ROLE_ADMIN,
                              AKIDB_ROLE_DEVELOPER,
                              AKIDB_ROLE_VIEWER,
                              AKIDB_ROLE_AUDITOR};
static const int USER_STATUS_IN[] = {0, AKIDB_USER_ACTIVE, AKIDB_USER_DISABLED};
static const int METRIC_IN[] = {0, AKIDB_METRIC_COSINE, AKIDB_METRIC_L2, AKIDB_METRIC_DOT};
static const int TIER_IN[] = {0, AKIDB_TIER_HOT, AKIDB_TIER_WARM, AKIDB_TIER_COLD};
static const int ORDER_IN[] = {0, 0 /* oldest */, 1 /* newest */};

/* the service's value → proto */
static const int TENANT_STATUS_OUT[] = {
    [AKIDB_TENANT_PROVISIONING] = AKIDB__V1__TENANT_STATUS__TENANT_STATUS_PROVISIONING,
    [AKIDB_TENANT_ACTIVE] = AKIDB__V1__TENANT_STATUS__TENANT_STATUS_ACTIVE,
    [AKIDB_TENANT_SUSPENDED] = AKIDB__V1__TENANT_STATUS__TENANT_STATUS_SUSPENDED,
    [AKIDB_TENANT_DECOMMISSIONED] = AKIDB__V1__TENANT_STATUS__TENANT_STATUS_DECOMMISSIONED};
static const int DATABASE_STATE_OUT[] = {
    [AKIDB_DATABASE_PROVISIONING] = AKIDB__V1__DATABASE_STATE__DATABASE_STATE_PROVISIONING,
    [AKIDB_DATABASE_READY] = AKIDB__V1__DATABASE_STATE__DATABASE_STATE_READY,
    [AKIDB_DATABASE_MIGRATING] = AKIDB__V1__DATABASE_STATE__DATABASE_STATE_MIGRATING,
    [AKIDB_DATABASE_DELETING] = AKIDB__V1__DATABASE_STATE__DATABASE_STATE_DELETING};
static const int ROLE_OUT[] = {[AKIDB_ROLE_SYSTEM_ADMIN] = AKIDB__V1__ROLE__ROLE_SYSTEM_ADMIN,
                               [AKIDB_ROLE_ADMIN] = AKIDB__V1__ROLE__ROLE_ADMIN,
                               [AKIDB_ROLE_DEVELOPER] = AKIDB__V1__ROLE__ROLE_DEVELOPER,
                               [AKIDB_ROLE_VIEWER] = AKIDB__V1__ROLE__ROLE_VIEWER,
                               [AKIDB_ROLE_AUDITOR] = AKIDB__V1__ROLE__ROLE_AUDITOR};
static const int USER_STATUS_OUT[] = {
    [AKIDB_USER_ACTIVE] = AKIDB__V1__USER_STATUS__USER_STATUS_ACTIVE,
    [AKIDB_USER_DISABLED] = AKIDB__V1__USER_STATUS__USER_STATUS_DISABLED};
static const int METRIC_OUT[] = {[AKIDB_METRIC_L2] = AKIDB__V1__METRIC__METRIC_L2,
                                 [AKIDB_METRIC_COSINE] = AKIDB__V1__METRIC__METRIC_COSINE,
                                 [AKIDB_METRIC_DOT] = AKIDB__V1__METRIC__METRIC_DOT};
static const int OUTCOME_OUT[] = {
    [AKIDB_AUDIT_SUCCESS] = AKIDB__V1__AUDIT_OUTCOME__AUDIT_OUTCOME_SUCCESS,
    [AKIDB_AUDIT_FAILURE] = AKIDB__V1__AUDIT_OUTCOME__AUDIT_OUTCOME_FAILURE,
    [AKIDB_AUDIT_DENIED] = AKIDB__V1__AUDIT_OUTCOME__AUDIT_OUTCOME_DENIED};

#define OUT(map, v) rpc_out(map, RPC_N_OF(map), (int)(v))

/* ------------------------------------------------------------ tenants -- */

/* One quota present in its oneof: in range (REST's message), marked. */
static int quota_in(bool sent, uint64_t v, const char *field, uint64_t max, bool *has,
                    uint64_t *out, akidb_svc_error_t *e) {
  if (!sent) return 0;
  if (rpc_in_range(v, field, 0, max, e)) return -1;
  *has = true;
  *out = v;
  return 0;
}

static int quotas_in(const Akidb__V1__QuotasInput *q, akidb_quota_fields_t *f,
                     akidb_svc_error_t *e) {
  if (!q) return 0;
  uint64_t qps = 0, colls = 0;
  f->present = true;
  if (quota_in(q->max_memory_bytes_opt_case, q->max_memory_bytes, "max_memory_bytes",
               AKIDB_QUOTA_BYTES_MAX, &f->has_max_memory_bytes, &f->values.max_memory_bytes, e) ||
      quota_in(q->max_storage_bytes_opt_case, q->max_storage_bytes, "max_storage_bytes",
               AKIDB_QUOTA_BYTES_MAX, &f->has_max_storage_bytes, &f->values.max_storage_bytes, e) ||
      quota_in(q->max_qps_opt_case, q->max_qps, "max_qps", AKIDB_QUOTA_QPS_MAX, &f->has_max_qps,
               &qps, e) ||
      quota_in(q->max_collections_opt_case, q->max_collections, "max_collections",
               AKIDB_QUOTA_COLLECTIONS_MAX, &f->has_max_collections, &colls, e))
    return -1;
  f->values.max_qps = (uint32_t)qps;
  f->values.max_collections = (uint32_t)colls;
  return 0;
}

static int tenant_status_in(int v, bool *has, akidb_tenant_status_t *out, akidb_svc_error_t *e) {
  int s = 0;
  if (rpc_enum_in(&akidb__v1__tenant_status__descriptor, v, "status", TENANT_STATUS_IN,
                  RPC_N_OF(TENANT_STATUS_IN), has, &s, e))
    return -1;
  *out = (akidb_tenant_status_t)s;
  return 0;
}

static int decode_tenant_list(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                              akidb_svc_error_t *e) {
  (void)req;
  return rpc_page_in(((const Akidb__V1__ListTenantsRequest *)m)->page, &a->u.list.page, e);
}

static int decode_tenant_create(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                                akidb_svc_error_t *e) {
  (void)req;
  const Akidb__V1__CreateTenantRequest *t = (const void *)m;
  akidb_tenant_create_args_t *c = &a->u.tenant_create;
  c->slug = rpc_opt(t->slug);
  c->name = rpc_opt(t->name);
  return quotas_in(t->quotas, &c->quotas, e) ||
                 tenant_status_in(t->status, &c->has_status, &c->status, e)
             ? -1
             : 0;
}

static int decode_tenant_update(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                                akidb_svc_error_t *e) {
  const Akidb__V1__UpdateTenantRequest *t = (const void *)m;
  akidb_tenant_update_args_t *u = &a->u.tenant_update;
  rpc_path_in(m, req);
  if (t->name_opt_case == AKIDB__V1__UPDATE_TENANT_REQUEST__NAME_OPT_NAME) u->name = t->name;
  return quotas_in(t->quotas, &u->quotas, e) ||
                 tenant_status_in(t->status, &u->has_status, &u->status, e)
             ? -1
             : 0;
}

static Akidb__V1__Tenant *tenant_of(rpc_arena_t *ar, const akidb_tenant_t *t) {
  Akidb__V1__Tenant *o = rpc_alloc(ar, sizeof *o);
  Akidb__V1__Quotas *q = rpc_alloc(ar, sizeof *q);
  if (!o || !q) return NULL;
  akidb__v1__tenant__init(o);
  akidb__v1__quotas__init(q);
  q->max_memory_bytes = t->quotas.max_memory_bytes;
  q->max_storage_bytes = t->quotas.max_storage_bytes;
  q->max_qps = t->quotas.max_qps;
  q->max_collections = t->quotas.max_collections;
  o->quotas = q;
  o->status = OUT(TENANT_STATUS_OUT, t->status);
  o->id = rpc_uuid_of(ar, &t->id);
  o->slug = rpc_text(ar, t->slug);
  o->name = rpc_text(ar, t->name);
  o->created_at = rpc_time_of(ar, t->created_at_ms);
  o->updated_at = rpc_time_of(ar, t->updated_at_ms);
  return o->id && o->slug && o->name && o->created_at && o->updated_at ? o : NULL;
}

static ProtobufCMessage *encode_tenant(const akidb_response_t *r, rpc_arena_t *ar) {
  Akidb__V1__Tenant *t = tenant_of(ar, &r->result.tenant);
  return t ? &t->base : NULL;
}

static ProtobufCMessage *encode_tenants(const akidb_response_t *r, rpc_arena_t *ar) {
  const akidb_tenant_list_t *l = &r->result.tenants;
  Akidb__V1__ListTenantsResponse *o = rpc_alloc(ar, sizeof *o);
  Akidb__V1__Tenant **items = rpc_items(ar, l->count);
  if (!o || !items) return NULL;
  akidb__v1__list_tenants_response__init(o);
  for (size_t i = 0; i < l->count; i++)
    if (!(items[i] = tenant_of(ar, &l->items[i]))) return NULL;
  o->items = items;
  o->n_items = l->count;
  o->next = rpc_next_of(ar, l->has_more, &l->next);
  return o->next ? &o->base : NULL;
}

static ProtobufCMessage *encode_tenant_deleted(const akidb_response_t *r, rpc_arena_t *ar) {
  (void)r;
  return rpc_empty(ar, &akidb__v1__delete_tenant_response__descriptor);
}

/* ---------------------------------------------------------- databases -- */

static int decode_database_list(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                                akidb_svc_error_t *e) {
  const Akidb__V1__ListDatabasesRequest *d = (const void *)m;
  rpc_path_in(m, req);
  return rpc_page_in(d->page, &a->u.list.page, e);
}

static int decode_database_create(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                                  akidb_svc_error_t *e) {
  (void)e;
  const Akidb__V1__CreateDatabaseRequest *d = (const void *)m;
  rpc_path_in(m, req);
  a->u.database_create.name = rpc_opt(d->name);
  return 0;
}

static Akidb__V1__Database *database_of(rpc_arena_t *ar, const akidb_database_t *d,
                                        const char *tenant) {
  Akidb__V1__Database *o = rpc_alloc(ar, sizeof *o);
  if (!o) return NULL;
  akidb__v1__database__init(o);
  o->state = OUT(DATABASE_STATE_OUT, d->state);
  o->id = rpc_uuid_of(ar, &d->id);
  o->tenant = rpc_text(ar, tenant);
  o->name = rpc_text(ar, d->name);
  o->created_at = rpc_time_of(ar, d->created_at_ms);
  o->updated_at = rpc_time_of(ar, d->updated_at_ms);
  return o->id && o->tenant && o->name && o->created_at && o->updated_at ? o : NULL;
}

static ProtobufCMessage *encode_database(const akidb_response_t *r, rpc_arena_t *ar) {
  const akidb_database_result_t *d = &r->result.database;
  Akidb__V1__Database *o = database_of(ar, &d->db, d->tenant);
  return o ? &o->base : NULL;
}

static ProtobufCMessage *encode_databases(const akidb_response_t *r, rpc_arena_t *ar) {
  const akidb_databases_result_t *d = &r->result.databases;
  Akidb__V1__ListDatabasesResponse *o = rpc_alloc(ar, sizeof *o);
  Akidb__V1__Database **items = rpc_items(ar, d->list.count);
  if (!o || !items) return NULL;
  akidb__v1__list_databases_response__init(o);
  for (size_t i = 0; i < d->list.count; i++)
    if (!(items[i] = database_of(ar, &d->list.items[i], d->tenant))) return NULL;
  o->items = items;
  o->n_items = d->list.count;
  o->next = rpc_next_of(ar, d->list.has_more, &d->list.next);
  return o->next ? &o->base : NULL;
}

static ProtobufCMessage *encode_database_deleted(const akidb_response_t *r, rpc_arena_t *ar) {
  (void)r;
  return rpc_empty(ar, &akidb__v1__delete_database_response__descriptor);
}

/* -------------------------------------------------------- collections -- */

static int decode_collection_list(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                                  akidb_svc_error_t *e) {
  const Akidb__V1__ListCollectionsRequest *c = (const void *)m;
  rpc_path_in(m, req);
  return rpc_page_in(c->page, &a->u.list.page, e);
}

/* IndexParamsInput (0: the default) into the create arguments, checked as
 * REST checks its "index" object. */
static int index_in(const Akidb__V1__IndexParamsInput *x, const akidb_limits_t *l,
                    akidb_collection_create_args_t *c, akidb_svc_error_t *e) {
  if (!x) return 0;
  if ((x->m && rpc_in_range(x->m, "m", AKIDB_HNSW_M_MIN, AKIDB_HNSW_M_MAX, e)) ||
      (x->ef_construction &&
       rpc_in_range(x->ef_construction, "ef_construction", AKIDB_HNSW_EF_CONSTRUCTION_MIN,
                    AKIDB_HNSW_EF_CONSTRUCTION_MAX, e)) ||
      (x->ef_search &&
       rpc_in_range(x->ef_search, "ef_search", AKIDB_HNSW_EF_SEARCH_MIN, l->max_ef, e)))
    return -1;
  c->has_m = x->m != 0;
  c->m = x->m;
  c->has_ef_construction = x->ef_construction != 0;
  c->ef_construction = x->ef_construction;
  c->has_ef_search = x->ef_search != 0;
  c->ef_search = x->ef_search;
  uint32_t m = c->has_m ? c->m : AKIDB_HNSW_M_DEFAULT;
  uint32_t efc = c->has_ef_construction ? c->ef_construction : AKIDB_HNSW_EF_CONSTRUCTION_DEFAULT;
  if (efc < m)
    return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                               "index.ef_construction (%u) must be >= m (%u)", efc, m);
  return 0;
}

/* TextParams (0: the default) into the create arguments (the service
 * checks the ranges). */
static void text_in(const Akidb__V1__TextParams *x, akidb_collection_create_args_t *c) {
  if (!x) return;
  c->has_bm25_k1 = x->k1 != 0;
  c->bm25_k1 = x->k1;
  c->has_bm25_b = x->b != 0;
  c->bm25_b = x->b;
}

/* Copies a string field into dst (cap bytes); -1 with e set when too long. */
static int embed_string(const char *v, const char *field, char *dst, size_t cap,
                        akidb_svc_error_t *e) {
  size_t n = strlen(v);
  if (n >= cap)
    return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                               "embedding.%s must be at most %zu bytes", field, cap - 1);
  memcpy(dst, v, n + 1);
  return 0;
}

/* EmbeddingConfig (0 and "": the defaults) into a spec the service checks. */
static int embedding_in(const Akidb__V1__EmbeddingConfig *x, rpc_args_t *a,
                        akidb_collection_create_args_t *c, akidb_svc_error_t *e) {
  if (!x) return 0;
  akidb_embed_spec_t *s = rpc_alloc(a->arena, sizeof *s);
  if (!s) return rpc_oom(e);
  akidb_embed_spec_default(s);
  int p = akidb_embed_provider_parse(x->provider);
  if (p < 0)
    return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                               "embedding.provider must be \"builtin\" (offline, no model "
                               "files) or \"openai\" (an OpenAI-compatible model server)");
  s->cfg.provider = (akidb_embed_provider_t)p;
  if (embed_string(x->model, "model", s->model, sizeof s->model, e) ||
      embed_string(x->base_url, "base_url", s->base_url, sizeof s->base_url, e) ||
      embed_string(x->api_key_env, "api_key_env", s->api_key_env, sizeof s->api_key_env, e))
    return -1;
  s->cfg.send_dimensions = x->send_dimensions;
#define SETTING_IN(field, NAME, def, min, max, unit) \
  if (x->field) s->cfg.field = x->field;
  AKIDB_EMBED_SETTINGS(SETTING_IN)
#undef SETTING_IN
  c->embedding = s;
  return 0;
}

static int decode_collection_create(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                                    akidb_svc_error_t *e) {
  const Akidb__V1__CreateCollectionRequest *x = (const void *)m;
  akidb_collection_create_args_t *c = &a->u.collection_create;
  rpc_path_in(m, req);
  c->name = rpc_opt(x->name);
  c->dimension = x->dimension;
  int metric = 0;
  if ((x->dimension && rpc_in_range(x->dimension, "dimension", 1, a->limits->max_dimension, e)) ||
      index_in(x->index, a->limits, c, e) ||
      rpc_enum_in(&akidb__v1__metric__descriptor, x->metric, "metric", METRIC_IN,
                  RPC_N_OF(METRIC_IN), &c->has_metric, &metric, e))
    return -1;
  c->metric = (akidb_metric_t)metric;
  text_in(x->text, c);
  return embedding_in(x->embedding, a, c, e);
}

static int decode_collection_update(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                                    akidb_svc_error_t *e) {
  const Akidb__V1__UpdateCollectionRequest *x = (const void *)m;
  akidb_collection_update_args_t *u = &a->u.collection_update;
  rpc_path_in(m, req);
  if (x->index) {
    /* sent: ef_search is required (0 is never valid) */
    if (rpc_in_range(x->index->ef_search, "ef_search", AKIDB_HNSW_EF_SEARCH_MIN, a->limits->max_ef,
                     e))
      return -1;
    u->has_ef_search = true;
    u->ef_search = x->index->ef_search;
  }
  int tier = 0;
  if (rpc_enum_in(&akidb__v1__tier__descriptor, x->tier, "tier", TIER_IN, RPC_N_OF(TIER_IN),
                  &u->has_tier, &tier, e))
    return -1;
  u->tier = (akidb_tier_t)tier;
  u->has_pin =
      x->tier_pinned_opt_case == AKIDB__V1__UPDATE_COLLECTION_REQUEST__TIER_PINNED_OPT_TIER_PINNED;
  u->pinned = u->has_pin && x->tier_pinned;
  return 0;
}

static Akidb__V1__Tier tier_out(const akidb_collection_view_t *v) {
  return v->resident ? AKIDB__V1__TIER__TIER_HOT
         : v->cold   ? AKIDB__V1__TIER__TIER_COLD
                     : AKIDB__V1__TIER__TIER_WARM;
}

static Akidb__V1__IndexParams *index_of(rpc_arena_t *ar, const akidb_collection_meta_t *m) {
  Akidb__V1__IndexParams *x = rpc_alloc(ar, sizeof *x);
  if (!x) return NULL;
  akidb__v1__index_params__init(x);
  x->m = m->hnsw_m;
  x->ef_construction = m->hnsw_ef_construction;
  x->ef_search = m->hnsw_ef_search;
  return x;
}

static Akidb__V1__TextParams *text_of(rpc_arena_t *ar, const akidb_collection_meta_t *m) {
  Akidb__V1__TextParams *x = rpc_alloc(ar, sizeof *x);
  if (!x) return NULL;
  akidb__v1__text_params__init(x);
  x->k1 = m->bm25_k1;
  x->b = m->bm25_b;
  return x;
}

/* The stored embedding configuration as EmbeddingConfig (NULL: none, or
 * not readable — an older, imported configuration). */
static Akidb__V1__EmbeddingConfig *embedding_of(rpc_arena_t *ar, const akidb_collection_meta_t *m) {
  akidb_embed_spec_t s;
  char err[256];
  if (!m->embedding_json[0] ||
      akidb_embed_spec_from_json(m->embedding_json, strlen(m->embedding_json), &s, err,
                                 sizeof err))
    return NULL;
  Akidb__V1__EmbeddingConfig *x = rpc_alloc(ar, sizeof *x);
  if (!x) return NULL;
  akidb__v1__embedding_config__init(x);
  x->provider = rpc_text(ar, akidb_embed_provider_name(s.cfg.provider));
  x->model = rpc_text(ar, s.model);
  x->base_url = rpc_text(ar, s.base_url);
  x->api_key_env = rpc_text(ar, s.api_key_env);
  x->send_dimensions = s.cfg.send_dimensions;
#define SETTING_OUT(field, NAME, def, min, max, unit) x->field = s.cfg.field;
  if (s.cfg.provider == AKIDB_EMBED_OPENAI) AKIDB_EMBED_SETTINGS(SETTING_OUT)
#undef SETTING_OUT
  x->dimension = s.cfg.dimension;
  return x->provider && x->model && x->base_url && x->api_key_env ? x : NULL;
}

static Akidb__V1__Collection *collection_of(rpc_arena_t *ar, const akidb_collection_view_t *v) {
  const akidb_collection_meta_t *m = &v->meta;
  Akidb__V1__Collection *o = rpc_alloc(ar, sizeof *o);
  if (!o) return NULL;
  akidb__v1__collection__init(o);
  o->dimension = m->dimension;
  o->metric = OUT(METRIC_OUT, m->metric);
  o->tier = tier_out(v);
  o->tier_pinned = m->tier_policy.pinned;
  o->resident = v->resident;
  o->points = v->points;
  o->pending = v->pending;
  o->memory_bytes = v->memory_bytes;
  o->disk_bytes = v->disk_bytes;
  o->index = index_of(ar, m);
  o->text = text_of(ar, m);
  o->embedding = embedding_of(ar, m);
  o->id = rpc_uuid_of(ar, &m->id);
  o->tenant = rpc_text(ar, v->tenant);
  o->database = rpc_text(ar, v->database);
  o->name = rpc_text(ar, m->name);
  o->last_access = rpc_time_of(ar, v->last_access_wall_ms);
  o->load_error = v->failed ? rpc_text(ar, v->load_error) : (char *)protobuf_c_empty_string;
  o->created_at = rpc_time_of(ar, m->created_at_ms);
  o->updated_at = rpc_time_of(ar, m->updated_at_ms);
  return o->index && o->text && o->id && o->tenant && o->database && o->name && o->last_access &&
                 o->load_error && o->created_at && o->updated_at
             ? o
             : NULL;
}

static ProtobufCMessage *encode_collection(const akidb_response_t *r, rpc_arena_t *ar) {
  Akidb__V1__Collection *o = collection_of(ar, &r->result.collection);
  return o ? &o->base : NULL;
}

static ProtobufCMessage *encode_collections(const akidb_response_t *r, rpc_arena_t *ar) {
  const akidb_collections_result_t *c = &r->result.collections;
  Akidb__V1__ListCollectionsResponse *o = rpc_alloc(ar, sizeof *o);
  Akidb__V1__Collection **items = rpc_items(ar, c->count);
  if (!o || !items) return NULL;
  akidb__v1__list_collections_response__init(o);
  for (size_t i = 0; i < c->count; i++)
    if (!(items[i] = collection_of(ar, &c->items[i]))) return NULL;
  o->items = items;
  o->n_items = c->count;
  o->next = rpc_next_of(ar, c->has_more, &c->next);
  return o->next ? &o->base : NULL;
}

static ProtobufCMessage *encode_collection_deleted(const akidb_response_t *r, rpc_arena_t *ar) {
  (void)r;
  return rpc_empty(ar, &akidb__v1__delete_collection_response__descriptor);
}

/* -------------------------------------------------------------- users -- */

static int role_in(int v, bool *has, akidb_role_t *out, akidb_svc_error_t *e) {
  int r = 0;
  if (rpc_enum_in(&akidb__v1__role__descriptor, v, "role", ROLE_IN, RPC_N_OF(ROLE_IN), has, &r, e))
    return -1;
  *out = (akidb_role_t)r;
  return 0;
}

static int decode_user_list(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                            akidb_svc_error_t *e) {
  const Akidb__V1__ListUsersRequest *u = (const void *)m;
  rpc_path_in(m, req);
  return rpc_page_in(u->page, &a->u.list.page, e);
}

static int decode_user_create(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                              akidb_svc_error_t *e) {
  const Akidb__V1__CreateUserRequest *u = (const void *)m;
  akidb_user_create_args_t *c = &a->u.user_create;
  req->tenant = rpc_opt(u->tenant); /* `username` is the new user's, not a path */
  c->username = rpc_opt(u->username);
  c->password = rpc_opt(u->password); /* empty: none (API keys only) */
  return role_in(u->role, &c->has_role, &c->role, e);
}

static int decode_user_update(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                              akidb_svc_error_t *e) {
  const Akidb__V1__UpdateUserRequest *u = (const void *)m;
  akidb_user_update_args_t *p = &a->u.user_update;
  rpc_path_in(m, req);
  if (u->password_opt_case == AKIDB__V1__UPDATE_USER_REQUEST__PASSWORD_OPT_PASSWORD)
    p->password = u->password;
  int status = 0;
  if (role_in(u->role, &p->has_role, &p->role, e) ||
      rpc_enum_in(&akidb__v1__user_status__descriptor, u->status, "status", USER_STATUS_IN,
                  RPC_N_OF(USER_STATUS_IN), &p->has_status, &status, e))
    return -1;
  p->status = (akidb_user_status_t)status;
  return 0;
}

static Akidb__V1__User *user_of(rpc_arena_t *ar, const akidb_user_t *u, const char *tenant) {
  Akidb__V1__User *o = rpc_alloc(ar, sizeof *o);
  if (!o) return NULL;
  akidb__v1__user__init(o);
  o->role = OUT(ROLE_OUT, u->role);
  o->status = OUT(USER_STATUS_OUT, u->status);
  o->has_password = u->has_password;
  o->id = rpc_uuid_of(ar, &u->id);
  o->tenant = rpc_text(ar, tenant);
  o->username = rpc_text(ar, u->username);
  o->created_at = rpc_time_of(ar, u->created_at_ms);
  o->updated_at = rpc_time_of(ar, u->updated_at_ms);
  return o->id && o->tenant && o->username && o->created_at && o->updated_at ? o : NULL;
}

static ProtobufCMessage *encode_user(const akidb_response_t *r, rpc_arena_t *ar) {
  Akidb__V1__User *o = user_of(ar, &r->result.user.user, r->result.user.tenant);
  return o ? &o->base : NULL;
}

static ProtobufCMessage *encode_users(const akidb_response_t *r, rpc_arena_t *ar) {
  const akidb_users_result_t *u = &r->result.users;
  Akidb__V1__ListUsersResponse *o = rpc_alloc(ar, sizeof *o);
  Akidb__V1__User **items = rpc_items(ar, u->list.count);
  if (!o || !items) return NULL;
  akidb__v1__list_users_response__init(o);
  for (size_t i = 0; i < u->list.count; i++)
    if (!(items[i] = user_of(ar, &u->list.items[i], u->tenant))) return NULL;
  o->items = items;
  o->n_items = u->list.count;
  o->next = rpc_next_of(ar, u->list.has_more, &u->list.next);
  return o->next ? &o->base : NULL;
}

static ProtobufCMessage *encode_user_deleted(const akidb_response_t *r, rpc_arena_t *ar) {
  (void)r;
  return rpc_empty(ar, &akidb__v1__delete_user_response__descriptor);
}

/* ----------------------------------------------------------- API keys -- */

static int decode_key_list(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                           akidb_svc_error_t *e) {
  const Akidb__V1__ListApiKeysRequest *k = (const void *)m;
  rpc_path_in(m, req);
  return rpc_page_in(k->page, &a->u.list.page, e);
}

static int decode_key_create(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                             akidb_svc_error_t *e) {
  const Akidb__V1__CreateApiKeyRequest *k = (const void *)m;
  akidb_key_create_args_t *c = &a->u.key_create;
  rpc_path_in(m, req);
  c->name = rpc_opt(k->name);
  if (!c->name || !rpc_opt(k->expires_at)) return 0; /* the service says a name is missing */
  if (jr_parse_time(k->expires_at, &c->expires_at_ms))
    return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                               "field 'expires_at' must be an RFC 3339 time such as "
                               "2027-01-01T00:00:00Z");
  return 0;
}

static Akidb__V1__ApiKey *key_of(rpc_arena_t *ar, const akidb_api_key_t *k, const char *user) {
  Akidb__V1__ApiKey *o = rpc_alloc(ar, sizeof *o);
  if (!o) return NULL;
  akidb__v1__api_key__init(o);
  o->id = rpc_uuid_of(ar, &k->id);
  o->name = rpc_text(ar, k->name);
  o->prefix = rpc_text(ar, k->prefix);
  o->user = rpc_text(ar, user);
  o->created_at = rpc_time_of(ar, k->created_at_ms);
  o->expires_at = rpc_time_of(ar, k->expires_at_ms);
  o->last_used_at = rpc_time_of(ar, k->last_used_ms);
  o->revoked_at = rpc_time_of(ar, k->revoked_at_ms);
  return o->id && o->name && o->prefix && o->user && o->created_at && o->expires_at &&
                 o->last_used_at && o->revoked_at
             ? o
             : NULL;
}

static ProtobufCMessage *encode_keys(const akidb_response_t *r, rpc_arena_t *ar) {
  const akidb_keys_result_t *k = &r->result.keys;
  Akidb__V1__ListApiKeysResponse *o = rpc_alloc(ar, sizeof *o);
  Akidb__V1__ApiKey **items = rpc_items(ar, k->list.count);
  if (!o || !items) return NULL;
  akidb__v1__list_api_keys_response__init(o);
  for (size_t i = 0; i < k->list.count; i++)
    if (!(items[i] = key_of(ar, &k->list.items[i], k->username))) return NULL;
  o->items = items;
  o->n_items = k->list.count;
  o->next = rpc_next_of(ar, k->list.has_more, &k->list.next);
  return o->next ? &o->base : NULL;
}

static ProtobufCMessage *encode_key_created(const akidb_response_t *r, rpc_arena_t *ar) {
  const akidb_key_result_t *k = &r->result.key;
  Akidb__V1__CreateApiKeyResponse *o = rpc_alloc(ar, sizeof *o);
  if (!o) return NULL;
  akidb__v1__create_api_key_response__init(o);
  o->key = key_of(ar, &k->key, k->username);
  /* the secret is not copied: the result outlives the packing and
   * akidb_response_clear wipes it */
  o->secret = (char *)k->secret;
  return o->key ? &o->base : NULL;
}

static ProtobufCMessage *encode_key_revoked(const akidb_response_t *r, rpc_arena_t *ar) {
  (void)r;
  return rpc_empty(ar, &akidb__v1__revoke_api_key_response__descriptor);
}

/* -------------------------------------------------------------- audit -- */

/* An RFC 3339 bound of the filter ("" none). */
static int time_in(const char *text, const char *field, int64_t *ms, akidb_svc_error_t *e) {
  if (!rpc_opt(text)) return 0;
  if (jr_parse_time(text, ms))
    return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT, "field '%s' must be an RFC 3339 time",
                               field);
  return 0;
}

static int audit_filter_in(const Akidb__V1__AuditFilter *f, akidb_audit_query_t *q,
                           akidb_svc_error_t *e) {
  if (!f) return 0;
  if (rpc_opt(f->action) && akidb_audit_action_parse(f->action, &q->action))
    return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                               "field 'filter.action' is not an audit action (e.g. "
                               "tenant.create, login.failure)");
  q->by_action = rpc_opt(f->action) != NULL;
  q->actor = rpc_opt(f->actor);
  bool has_order = false;
  int newest = 0;
  if (time_in(f->from, "filter.from", &q->from_ms, e) ||
      time_in(f->to, "filter.to", &q->to_ms, e) ||
      rpc_enum_in(&akidb__v1__audit_order__descriptor, f->order, "filter.order", ORDER_IN,
                  RPC_N_OF(ORDER_IN), &has_order, &newest, e))
    return -1;
  q->newest_first = newest == 1;
  return 0;
}

/* The audit page: its cursor is a sequence number, as text. */
static int audit_page_in(const Akidb__V1__PageRequest *p, akidb_audit_query_t *q,
                         akidb_svc_error_t *e) {
  if (!p) return 0;
  if (rpc_page_limit_in(p, e)) return -1;
  q->limit = p->limit;
  if (!rpc_opt(p->after)) return 0;
  char *end;
  long long seq = strtoll(p->after, &end, 10);
  if (*end || seq < 1)
    return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                               "field 'page.after' must be the 'next' cursor of a previous page");
  q->cursor = seq;
  return 0;
}

static int decode_audit_tenant(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                               akidb_svc_error_t *e) {
  const Akidb__V1__ListTenantAuditRequest *x = (const void *)m;
  rpc_path_in(m, req);
  return audit_filter_in(x->filter, &a->u.audit.query, e) ||
                 audit_page_in(x->page, &a->u.audit.query, e)
             ? -1
             : 0;
}

static int decode_audit_all(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                            akidb_svc_error_t *e) {
  (void)req;
  const Akidb__V1__ListAuditRequest *x = (const void *)m;
  return audit_filter_in(x->filter, &a->u.audit.query, e) ||
                 audit_page_in(x->page, &a->u.audit.query, e)
             ? -1
             : 0;
}

/* The entry's tenant: its slug (ListTenantAudit), its id (ListAudit), or
 * "" when it has none. */
static char *audit_tenant_of(rpc_arena_t *ar, const akidb_audit_entry_t *x, const char *slug) {
  if (!x->has_tenant) return (char *)protobuf_c_empty_string;
  return *slug ? rpc_text(ar, slug) : rpc_uuid_of(ar, &x->tenant_id);
}

static Akidb__V1__AuditEntry *audit_entry_of(rpc_arena_t *ar, const akidb_audit_entry_t *x,
                                             const char *slug) {
  Akidb__V1__AuditEntry *o = rpc_alloc(ar, sizeof *o);
  if (!o) return NULL;
  akidb__v1__audit_entry__init(o);
  o->seq = (uint64_t)x->seq;
  o->outcome = OUT(OUTCOME_OUT, x->outcome);
  o->time = rpc_time_of(ar, x->time_ms);
  o->actor = rpc_text(ar, x->actor);
  o->actor_id = x->has_actor ? rpc_uuid_of(ar, &x->actor_id) : (char *)protobuf_c_empty_string;
  o->tenant = audit_tenant_of(ar, x, slug);
  o->action = rpc_text(ar, akidb_audit_action_name(x->action));
  o->target = rpc_text(ar, x->target);
  o->request_id = rpc_text(ar, x->request_id);
  o->details_json = rpc_text(ar, *x->details ? x->details : "{}");
  return o->time && o->actor && o->actor_id && o->tenant && o->action && o->target &&
                 o->request_id && o->details_json
             ? o
             : NULL;
}

static ProtobufCMessage *encode_audit(const akidb_response_t *r, rpc_arena_t *ar) {
  const akidb_audit_result_t *a = &r->result.audit;
  Akidb__V1__ListAuditResponse *o = rpc_alloc(ar, sizeof *o);
  Akidb__V1__AuditEntry **items = rpc_items(ar, a->list.count);
  if (!o || !items) return NULL;
  akidb__v1__list_audit_response__init(o);
  for (size_t i = 0; i < a->list.count; i++)
    if (!(items[i] = audit_entry_of(ar, &a->list.items[i], a->tenant))) return NULL;
  o->items = items;
  o->n_items = a->list.count;
  if (a->list.has_more) {
    char next[32];
    snprintf(next, sizeof next, "%lld", (long long)a->list.next_seq);
    if (!(o->next = rpc_text(ar, next))) return NULL;
  }
  return &o->base;
}

/* -------------------------------------------------------------- table -- */

#define TENANTS "/akidb.v1.TenantService/"
#define DATABASES "/akidb.v1.DatabaseService/"
#define COLLECTIONS "/akidb.v1.CollectionService/"
#define USERS "/akidb.v1.UserService/"
#define KEYS "/akidb.v1.ApiKeyService/"
#define AUDIT "/akidb.v1.AuditService/"

const rpc_method_t rpc_admin_methods[] = {
    RPC_UNARY_METHOD(TENANTS "ListTenants", TENANT_LIST, list_tenants_request, decode_tenant_list,
          encode_tenants),
    RPC_UNARY_METHOD(TENANTS "CreateTenant", TENANT_CREATE, create_tenant_request, decode_tenant_create,
          encode_tenant),
    RPC_UNARY_METHOD(TENANTS "GetTenant", TENANT_GET, get_tenant_request, rpc_decode_path, encode_tenant),
    RPC_UNARY_METHOD(TENANTS "UpdateTenant", TENANT_UPDATE, update_tenant_request, decode_tenant_update,
          encode_tenant),
    RPC_UNARY_METHOD(TENANTS "DeleteTenant", TENANT_DELETE, delete_tenant_request, rpc_decode_path,
          encode_tenant_deleted),
    RPC_UNARY_METHOD(DATABASES "ListDatabases", DATABASE_LIST, list_databases_request, decode_database_list,
          encode_databases),
    RPC_UNARY_METHOD(DATABASES "CreateDatabase", DATABASE_CREATE, create_database_request,
          decode_database_create, encode_database),
    RPC_UNARY_METHOD(DATABASES "GetDatabase", DATABASE_GET, get_database_request, rpc_decode_path,
          encode_database),
    RPC_UNARY_METHOD(DATABASES "DeleteDatabase", DATABASE_DELETE, delete_database_request, rpc_decode_path,
          encode_database_deleted),
    RPC_UNARY_METHOD(COLLECTIONS "ListCollections", COLLECTION_LIST, list_collections_request,
          decode_collection_list, encode_collections),
    RPC_UNARY_METHOD(COLLECTIONS "CreateCollection", COLLECTION_CREATE, create_collection_request,
          decode_collection_create, encode_collection),
    RPC_UNARY_METHOD(COLLECTIONS "GetCollection", COLLECTION_GET, get_collection_request, rpc_decode_path,
          encode_collection),
    RPC_UNARY_METHOD(COLLECTIONS "UpdateCollection", COLLECTION_UPDATE, update_collection_request,
          decode_collection_update, encode_collection),
    RPC_UNARY_METHOD(COLLECTIONS "DeleteCollection", COLLECTION_DELETE, delete_collection_request,
          rpc_decode_path, encode_collection_deleted),
    RPC_UNARY_METHOD(USERS "ListUsers", USER_LIST, list_users_request, decode_user_list, encode_users),
    RPC_UNARY_METHOD(USERS "CreateUser", USER_CREATE, create_user_request, decode_user_create, encode_user),
    RPC_UNARY_METHOD(USERS "GetUser", USER_GET, get_user_request, rpc_decode_path, encode_user),
    RPC_UNARY_METHOD(USERS "UpdateUser", USER_UPDATE, update_user_request, decode_user_update, encode_user),
    RPC_UNARY_METHOD(USERS "DeleteUser", USER_DELETE, delete_user_request, rpc_decode_path,
          encode_user_deleted),
    RPC_UNARY_METHOD(KEYS "ListApiKeys", KEY_LIST, list_api_keys_request, decode_key_list, encode_keys),
    RPC_UNARY_METHOD(KEYS "CreateApiKey", KEY_CREATE, create_api_key_request, decode_key_create,
          encode_key_created),
    RPC_UNARY_METHOD(KEYS "RevokeApiKey", KEY_REVOKE, revoke_api_key_request, rpc_decode_path,
          encode_key_revoked),
    RPC_UNARY_METHOD(AUDIT "ListTenantAudit", AUDIT_TENANT, list_tenant_audit_request, decode_audit_tenant,
          encode_audit),
    RPC_UNARY_METHOD(AUDIT "ListAudit", AUDIT_ALL, list_audit_request, decode_audit_all, encode_audit),
    RPC_METHODS_END,
};
