/*
 * grpc/codec_points.c — the gRPC codec of the health probe
 * (grpc.health.v1.Health), AuthService and PointService: protobuf →
 * typed arguments (rpc_args_t) and typed results → protobuf. Conventions
 * of the contract: proto/akidb/v1/common.proto.
 *
 * Locking: none (stateless; the table is constant). Durability: none of
 * its own; a write is answered only after the service returned.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "akidb/v1/auth.pb-c.h"
#include "akidb/v1/embeddings.pb-c.h"
#include "akidb/v1/points.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"
#include "grpc/rpc_internal.h"

/* ------------------------------------------------------------- health -- */

static int decode_health(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                         akidb_svc_error_t *e) {
  (void)req;
  const Grpc__Health__V1__HealthCheckRequest *h = (const void *)m;
  if (!h->service || !*h->service) a->op = AKIDB_OP_HEALTH;
  else if (strcmp(h->service, "akidb.v1") == 0) a->op = AKIDB_OP_READY;
  else
    return akidb_svc_error_set(e, AKIDB_ST_NOT_FOUND,
                               "unknown service '%s': use \"\" (liveness) or \"akidb.v1\" "
                               "(readiness)",
                               h->service);
  return 0;
}

ProtobufCMessage *rpc_health_answer(rpc_arena_t *ar, bool serving) {
  Grpc__Health__V1__HealthCheckResponse *r = rpc_alloc(ar, sizeof *r);
  if (!r) return NULL;
  grpc__health__v1__health_check_response__init(r);
  r->status = serving ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
                      : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
  return &r->base;
}

static ProtobufCMessage *encode_health(const akidb_response_t *r, rpc_arena_t *ar) {
  (void)r;
  return rpc_health_answer(ar, true);
}

/* ------------------------------------------------------------- points -- */

/* A payload's JSON text checked to be an object and made compact, the
 * bytes REST stores for the same payload. */
static int decode_payload(rpc_args_t *a, size_t i, const char *text, akidb_bytes_t *out,
                          akidb_svc_error_t *e) {
  json_t *j = json_loadb(text, strlen(text), 0, NULL);
  if (!json_is_object(j)) {
    json_decref(j);
    return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                               "points[%zu].payload_json must be a JSON object (or empty)", i);
  }
  char *compact = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  if (!compact) return rpc_oom(e);
  char *kept = rpc_strndup(a->arena, compact, strlen(compact));
  free(compact);
  if (!kept) return rpc_oom(e);
  *out = (akidb_bytes_t){kept, strlen(kept)};
  return 0;
}

static int decode_point(rpc_args_t *a, size_t i, const Akidb__V1__PointInput *p,
                        akidb_point_in_t *pt, akidb_svc_error_t *e) {
  pt->id = rpc_bytes_of(p->id);
  pt->vector = p->vector;
  pt->n_values = p->n_vector > UINT32_MAX ? UINT32_MAX : (uint32_t)p->n_vector;
  if (p->payload_json && *p->payload_json && strcmp(p->payload_json, "null") != 0 &&
      decode_payload(a, i, p->payload_json, &pt->payload, e))
    return -1;
  if (p->text_opt_case == AKIDB__V1__POINT_INPUT__TEXT_OPT_TEXT)
    pt->text = (akidb_bytes_t){p->text, strlen(p->text)};
  return 0;
}

int rpc_decode_points(rpc_args_t *a, ProtobufCMessage *const *points, size_t n,
                      akidb_svc_error_t *e) {
  akidb_point_in_t *pts = rpc_alloc(a->arena, (n ? n : 1) * sizeof *pts);
  if (!pts) return rpc_oom(e);
  for (size_t i = 0; i < n; i++)
    if (decode_point(a, i, (const Akidb__V1__PointInput *)points[i], &pts[i], e)) return -1;
  a->u.upsert = (akidb_upsert_args_t){pts, n};
  return 0;
}

static int decode_upsert(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                         akidb_svc_error_t *e) {
  const Akidb__V1__UpsertRequest *u = (const void *)m;
  rpc_path3(req, u->tenant, u->database, u->collection);
  return rpc_decode_points(a, (ProtobufCMessage *const *)u->points, u->n_points, e);
}

ProtobufCMessage *rpc_encode_upsert(const akidb_response_t *resp, rpc_arena_t *ar) {
  const akidb_upsert_result_t *u = &resp->result.upsert;
  Akidb__V1__UpsertResponse *r = rpc_alloc(ar, sizeof *r);
  char **ids = rpc_alloc(ar, (u->n ? u->n : 1) * sizeof *ids);
  if (!r || !ids) return NULL;
  akidb__v1__upsert_response__init(r);
  for (size_t i = 0; i < u->n; i++)
    if (!(ids[i] = rpc_str_of(ar, u->ids[i].p, u->ids[i].len))) return NULL;
  r->upserted = u->n;
  r->n_ids = u->n;
  r->ids = ids;
  return &r->base;
}

static int decode_get(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                      akidb_svc_error_t *e) {
  (void)e;
  const Akidb__V1__GetPointRequest *g = (const void *)m;
  rpc_path3(req, g->tenant, g->database, g->collection);
  req->point_id = g->point_id;
  req->point_id_len = strlen(g->point_id);
  a->u.get = (akidb_get_args_t){{g->point_id, req->point_id_len}, g->with_vector};
  return 0;
}

Akidb__V1__Point *rpc_point_of(rpc_arena_t *ar, const akidb_point_out_t *p, uint32_t dim) {
  Akidb__V1__Point *o = rpc_alloc(ar, sizeof *o);
  if (!o) return NULL;
  akidb__v1__point__init(o);
  if (!(o->id = rpc_str_of(ar, p->id, p->id_len))) return NULL;
  if (p->payload && !(o->payload_json = rpc_str_of(ar, p->payload, p->payload_len))) return NULL;
  if (p->text) {
    o->text_opt_case = AKIDB__V1__POINT__TEXT_OPT_TEXT;
    if (!(o->text = rpc_str_of(ar, p->text, p->text_len))) return NULL;
  }
  if (p->vector) {
    o->vector = p->vector;
    o->n_vector = dim;
  }
  return o;
}

static ProtobufCMessage *encode_point(const akidb_response_t *resp, rpc_arena_t *ar) {
  const akidb_points_result_t *pr = &resp->result.points;
  if (pr->n < 1) return NULL;
  Akidb__V1__Point *p = rpc_point_of(ar, &pr->points[0], pr->dimension);
  return p ? &p->base : NULL;
}

/* ids (1..max_batch, checked by the service) into a->u.ids. */
static int decode_id_list(rpc_args_t *a, char **ids, size_t n, bool with_vector,
                          akidb_svc_error_t *e) {
  akidb_bytes_t *list = rpc_alloc(a->arena, (n ? n : 1) * sizeof *list);
  if (!list) return rpc_oom(e);
  for (size_t i = 0; i < n; i++) list[i] = (akidb_bytes_t){ids[i], strlen(ids[i])};
  a->u.ids = (akidb_ids_args_t){list, n, with_vector};
  return 0;
}

static int decode_get_many(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                           akidb_svc_error_t *e) {
  const Akidb__V1__GetPointsRequest *g = (const void *)m;
  rpc_path3(req, g->tenant, g->database, g->collection);
  return decode_id_list(a, g->ids, g->n_ids, g->with_vector, e);
}

static ProtobufCMessage *encode_points(const akidb_response_t *resp, rpc_arena_t *ar) {
  const akidb_points_result_t *pr = &resp->result.points;
  Akidb__V1__GetPointsResponse *r = rpc_alloc(ar, sizeof *r);
  Akidb__V1__Point **pts = rpc_alloc(ar, (pr->n ? pr->n : 1) * sizeof *pts);
  char **missing = rpc_alloc(ar, (pr->n_missing ? pr->n_missing : 1) * sizeof *missing);
  if (!r || !pts || !missing) return NULL;
  akidb__v1__get_points_response__init(r);
  for (size_t i = 0; i < pr->n; i++)
    if (!(pts[i] = rpc_point_of(ar, &pr->points[i], pr->dimension))) return NULL;
  for (size_t i = 0; i < pr->n_missing; i++)
    if (!(missing[i] = rpc_str_of(ar, pr->missing[i].p, pr->missing[i].len))) return NULL;
  r->points = pts;
  r->n_points = pr->n;
  r->missing = missing;
  r->n_missing = pr->n_missing;
  return &r->base;
}

static int decode_delete(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                         akidb_svc_error_t *e) {
  const Akidb__V1__DeletePointsRequest *d = (const void *)m;
  rpc_path3(req, d->tenant, d->database, d->collection);
  return decode_id_list(a, d->ids, d->n_ids, false, e);
}

static ProtobufCMessage *encode_delete(const akidb_response_t *resp, rpc_arena_t *ar) {
  Akidb__V1__DeletePointsResponse *r = rpc_alloc(ar, sizeof *r);
  if (!r) return NULL;
  akidb__v1__delete_points_response__init(r);
  r->deleted = resp->result.count;
  return &r->base;
}

static int decode_count(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                        akidb_svc_error_t *e) {
  (void)a, (void)e;
  const Akidb__V1__CountPointsRequest *c = (const void *)m;
  rpc_path3(req, c->tenant, c->database, c->collection);
  return 0;
}

static ProtobufCMessage *encode_count(const akidb_response_t *resp, rpc_arena_t *ar) {
  Akidb__V1__CountPointsResponse *r = rpc_alloc(ar, sizeof *r);
  if (!r) return NULL;
  akidb__v1__count_points_response__init(r);
  r->count = resp->result.count;
  return &r->base;
}

/* ------------------------------------------------------------- search -- */

static int decode_filter(rpc_args_t *a, const Akidb__V1__Filter *f, akidb_filter_node_t *out,
                         unsigned depth, akidb_svc_error_t *e);

static int filter_depth_fail(rpc_args_t *a, akidb_svc_error_t *e) {
  return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                             "the filter nests deeper than %u levels", a->limits->max_filter_depth);
}

static int decode_value(const Akidb__V1__FilterValue *v, akidb_value_t *out,
                        akidb_svc_error_t *e) {
  switch (v ? v->kind_case : AKIDB__V1__FILTER_VALUE__KIND__NOT_SET) {
  case AKIDB__V1__FILTER_VALUE__KIND_NULL_VALUE:
    out->kind = AKIDB_VALUE_NULL;
    return 0;
  case AKIDB__V1__FILTER_VALUE__KIND_BOOL_VALUE:
    out->kind = AKIDB_VALUE_BOOL;
    out->boolean = v->bool_value;
    return 0;
  case AKIDB__V1__FILTER_VALUE__KIND_NUMBER_VALUE:
    out->kind = AKIDB_VALUE_NUMBER;
    out->number = v->number_value;
    return 0;
  case AKIDB__V1__FILTER_VALUE__KIND_STRING_VALUE:
    out->kind = AKIDB_VALUE_STRING;
    out->string = (akidb_bytes_t){v->string_value, strlen(v->string_value)};
    return 0;
  default:
    return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                               "a filter value needs one of null_value, bool_value, "
                               "number_value, string_value");
  }
}

static const akidb_filter_op_t CONDITION_OPS[] = {
    [AKIDB__V1__FILTER_CONDITION__OP_EQ] = AKIDB_FILTER_EQ,
    [AKIDB__V1__FILTER_CONDITION__OP_NE] = AKIDB_FILTER_NE,
    [AKIDB__V1__FILTER_CONDITION__OP_GT] = AKIDB_FILTER_GT,
    [AKIDB__V1__FILTER_CONDITION__OP_GTE] = AKIDB_FILTER_GTE,
    [AKIDB__V1__FILTER_CONDITION__OP_LT] = AKIDB_FILTER_LT,
    [AKIDB__V1__FILTER_CONDITION__OP_LTE] = AKIDB_FILTER_LTE,
    [AKIDB__V1__FILTER_CONDITION__OP_IN_VALUES] = AKIDB_FILTER_IN,
};

static int decode_condition(rpc_args_t *a, const Akidb__V1__FilterCondition *c,
                            akidb_filter_node_t *out, akidb_svc_error_t *e) {
  if (c->op_case == AKIDB__V1__FILTER_CONDITION__OP__NOT_SET)
    return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                               "a filter condition needs one of eq, ne, gt, gte, lt, lte, "
                               "in_values");
  out->op = CONDITION_OPS[c->op_case];
  out->field = rpc_bytes_of(c->field);
  size_t n = 1;
  Akidb__V1__FilterValue *const *vals = &c->eq; /* the union's one value */
  if (c->op_case == AKIDB__V1__FILTER_CONDITION__OP_IN_VALUES) {
    n = c->in_values->n_values;
    vals = c->in_values->values;
  }
  akidb_value_t *v = rpc_alloc(a->arena, (n ? n : 1) * sizeof *v);
  if (!v) return rpc_oom(e);
  for (size_t i = 0; i < n; i++)
    if (decode_value(vals[i], &v[i], e)) return -1;
  out->values = v;
  out->n_values = n;
  return 0;
}

static int decode_filter_list(rpc_args_t *a, const Akidb__V1__FilterList *l,
                              akidb_filter_node_t *out, unsigned depth, akidb_svc_error_t *e) {
  size_t n = l->n_filters;
  akidb_filter_node_t *kids = rpc_alloc(a->arena, (n ? n : 1) * sizeof *kids);
  if (!kids) return rpc_oom(e);
  for (size_t i = 0; i < n; i++)
    if (decode_filter(a, l->filters[i], &kids[i], depth + 1, e)) return -1;
  out->kids = kids;
  out->n_kids = n;
  return 0;
}

static int decode_filter(rpc_args_t *a, const Akidb__V1__Filter *f, akidb_filter_node_t *out,
                         unsigned depth, akidb_svc_error_t *e) {
  if (depth > a->limits->max_filter_depth) return filter_depth_fail(a, e);
  switch (f->node_case) {
  case AKIDB__V1__FILTER__NODE_CONDITION:
    return decode_condition(a, f->condition, out, e);
  case AKIDB__V1__FILTER__NODE_AND_FILTERS:
    out->op = AKIDB_FILTER_AND;
    return decode_filter_list(a, f->and_filters, out, depth, e);
  case AKIDB__V1__FILTER__NODE_OR_FILTERS:
    out->op = AKIDB_FILTER_OR;
    return decode_filter_list(a, f->or_filters, out, depth, e);
  case AKIDB__V1__FILTER__NODE_NOT_FILTER: {
    akidb_filter_node_t *kid = rpc_alloc(a->arena, sizeof *kid);
    if (!kid) return rpc_oom(e);
    out->op = AKIDB_FILTER_NOT;
    out->kids = kid;
    out->n_kids = 1;
    return decode_filter(a, f->not_filter, kid, depth + 1, e);
  }
  default:
    return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                               "a filter needs one of condition, and_filters, or_filters, "
                               "not_filter");
  }
}

static int decode_queries(rpc_args_t *a, const Akidb__V1__SearchRequest *s,
                          akidb_svc_error_t *e) {
  size_t n = s->n_vector ? 1 : s->n_vectors;
  akidb_vector_t *q = rpc_alloc(a->arena, (n ? n : 1) * sizeof *q);
  if (!q) return rpc_oom(e);
  if (s->n_vector) q[0] = (akidb_vector_t){s->vector, (uint32_t)s->n_vector};
  for (size_t i = 0; !s->n_vector && i < n; i++)
    q[i] = (akidb_vector_t){s->vectors[i]->values, (uint32_t)s->vectors[i]->n_values};
  a->u.search.queries = q;
  a->u.search.n_queries = n;
  return 0;
}

/* proto SearchMode → the service's (index 0, unspecified, is never read) */
static const int SEARCH_MODE_IN[] = {0, AKIDB_SEARCH_VECTOR, AKIDB_SEARCH_TEXT,
                                     AKIDB_SEARCH_HYBRID};
static const int FUSION_METHOD_IN[] = {0, AKIDB_FUSION_RRF, AKIDB_FUSION_LINEAR};

/* Fusion into the search arguments (the service checks the ranges). */
static int decode_fusion(const Akidb__V1__Fusion *x, akidb_fusion_args_t *f,
                         akidb_svc_error_t *e) {
  if (!x) return 0;
  bool has;
  int method = AKIDB_FUSION_RRF;
  if (rpc_enum_in(&akidb__v1__fusion_method__descriptor, x->method, "fusion.method",
                  FUSION_METHOD_IN, RPC_N_OF(FUSION_METHOD_IN), &has, &method, e))
    return -1;
  f->method = (akidb_fusion_method_t)method;
  f->rrf_k = x->k;
  if (x->weights) {
    f->has_weights = true;
    f->weight_vector = x->weights->vector_weight;
    f->weight_text = x->weights->text_weight;
  }
  f->has_alpha = x->alpha_opt_case == AKIDB__V1__FUSION__ALPHA_OPT_ALPHA;
  f->alpha = x->alpha;
  return 0;
}

static int decode_search(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                         akidb_svc_error_t *e) {
  const Akidb__V1__SearchRequest *s = (const void *)m;
  akidb_search_args_t *sa = &a->u.search;
  rpc_path3(req, s->tenant, s->database, s->collection);
  bool has_mode;
  int mode = AKIDB_SEARCH_VECTOR;
  if (rpc_enum_in(&akidb__v1__search_mode__descriptor, s->mode, "mode", SEARCH_MODE_IN,
                  RPC_N_OF(SEARCH_MODE_IN), &has_mode, &mode, e))
    return -1;
  sa->mode = (akidb_search_mode_t)mode;
  if (*s->text) sa->text = (akidb_bytes_t){s->text, strlen(s->text)};
  sa->candidates = s->candidates;
  sa->explain = s->explain;
  if (decode_fusion(s->fusion, &sa->fusion, e)) return -1;
  if (s->n_vector && s->n_vectors)
    return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                               "search needs exactly one of 'vector' (one query) or 'vectors' "
                               "(a batch)");
  if (s->n_vectors > a->limits->max_batch)
    return akidb_svc_error_set(e, AKIDB_ST_PAYLOAD_TOO_LARGE,
                               "'vectors' holds %zu queries; the limit is %u", s->n_vectors,
                               a->limits->max_batch);
  if (s->k > a->limits->max_k)
    return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT, "'k' must be an integer in 1..%u",
                               a->limits->max_k);
  if (s->ef > a->limits->max_ef)
    return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT, "'ef' must be an integer in 1..%u",
                               a->limits->max_ef);
  sa->batch = s->n_vectors > 0;
  sa->k = s->k;
  sa->ef = s->ef;
  sa->exact = s->exact;
  sa->include_vector = s->include_vector;
  sa->include_payload =
      s->include_payload_opt_case != AKIDB__V1__SEARCH_REQUEST__INCLUDE_PAYLOAD_OPT_INCLUDE_PAYLOAD ||
      s->include_payload;
  if (s->filter) {
    akidb_filter_node_t *root = rpc_alloc(a->arena, sizeof *root);
    if (!root) return rpc_oom(e);
    if (decode_filter(a, s->filter, root, 1, e)) return -1;
    sa->filter = root;
  }
  return s->n_vector || s->n_vectors ? decode_queries(a, s, e) : 0; /* none: the service says why */
}

/* One message of SearchStream: its SearchRequest, decoded as Search's. */
static int decode_search_stream(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                                akidb_svc_error_t *e) {
  const Akidb__V1__SearchStreamRequest *s = (const void *)m;
  if (!s->search)
    return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                               "a SearchStreamRequest must carry 'search' (one SearchRequest)");
  return decode_search(&s->search->base, a, req, e);
}

static Akidb__V1__Hit *hit_of(rpc_arena_t *ar, const akidb_point_out_t *p,
                              const akidb_search_results_t *s) {
  Akidb__V1__Hit *h = rpc_alloc(ar, sizeof *h);
  if (!h) return NULL;
  akidb__v1__hit__init(h);
  if (s->mode != AKIDB_SEARCH_VECTOR) h->score = p->score;
  else h->distance = p->distance;
  if (!(h->id = rpc_str_of(ar, p->id, p->id_len))) return NULL;
  if (s->include_payload && p->payload &&
      !(h->payload_json = rpc_str_of(ar, p->payload, p->payload_len)))
    return NULL;
  if (p->text) {
    h->text_opt_case = AKIDB__V1__HIT__TEXT_OPT_TEXT;
    if (!(h->text = rpc_str_of(ar, p->text, p->text_len))) return NULL;
  }
  if (p->vector) {
    h->vector = p->vector;
    h->n_vector = s->dimension;
  }
  return h;
}

/* A hybrid hit's place on each side. */
static int explain_of(rpc_arena_t *ar, const akidb_hit_explain_t *x, Akidb__V1__Hit *h) {
  Akidb__V1__HitExplain *o = rpc_alloc(ar, sizeof *o);
  if (!o) return -1;
  akidb__v1__hit_explain__init(o);
  o->vector_rank = x->vector_rank;
  o->distance = x->distance;
  o->text_rank = x->text_rank;
  o->text_score = x->text_score;
  h->explain = o;
  return 0;
}

/* One query's hits into *out (n_out). */
static int hits_of(rpc_arena_t *ar, const akidb_search_result_t *r,
                   const akidb_search_results_t *s, Akidb__V1__Hit ***out, size_t *n_out) {
  Akidb__V1__Hit **hits = rpc_alloc(ar, (r->n ? r->n : 1) * sizeof *hits);
  if (!hits) return -1;
  for (uint32_t i = 0; i < r->n; i++)
    if (!(hits[i] = hit_of(ar, &r->hits[i], s)) ||
        (r == &s->per_query[0] && s->explain && explain_of(ar, &s->explain[i], hits[i])))
      return -1;
  *out = hits;
  *n_out = r->n;
  return 0;
}

static ProtobufCMessage *encode_search(const akidb_response_t *resp, rpc_arena_t *ar) {
  const akidb_search_results_t *s = &resp->result.search;
  Akidb__V1__SearchResponse *r = rpc_alloc(ar, sizeof *r);
  if (!r) return NULL;
  akidb__v1__search_response__init(r);
  if (!s->batch) {
    if (s->n && hits_of(ar, &s->per_query[0], s, &r->results, &r->n_results)) return NULL;
    return &r->base;
  }
  Akidb__V1__HitList **lists = rpc_alloc(ar, (s->n ? s->n : 1) * sizeof *lists);
  if (!lists) return NULL;
  for (size_t i = 0; i < s->n; i++) {
    if (!(lists[i] = rpc_alloc(ar, sizeof *lists[i]))) return NULL;
    akidb__v1__hit_list__init(lists[i]);
    if (hits_of(ar, &s->per_query[i], s, &lists[i]->results, &lists[i]->n_results)) return NULL;
  }
  r->batches = lists;
  r->n_batches = s->n;
  return &r->base;
}

/* --------------------------------------------------------------- auth -- */

static int decode_login(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                        akidb_svc_error_t *e) {
  (void)req, (void)e;
  const Akidb__V1__LoginRequest *l = (const void *)m;
  a->u.login = (akidb_login_args_t){rpc_opt(l->tenant), rpc_opt(l->username), l->password};
  return 0;
}

static int decode_none(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                       akidb_svc_error_t *e) {
  (void)m, (void)a, (void)req, (void)e;
  return 0;
}

static Akidb__V1__SessionUser *session_user(rpc_arena_t *ar, const akidb_principal_t *p,
                                            const char *tenant) {
  Akidb__V1__SessionUser *u = rpc_alloc(ar, sizeof *u);
  if (!u) return NULL;
  akidb__v1__session_user__init(u);
  u->id = rpc_uuid_of(ar, &p->user_id);
  u->username = rpc_str_of(ar, p->username, strlen(p->username));
  u->tenant = rpc_str_of(ar, tenant, strlen(tenant));
  u->role = (Akidb__V1__Role)(p->role + 1); /* same order, 0 is "unspecified" */
  return u->id && u->username && u->tenant ? u : NULL;
}

static ProtobufCMessage *encode_login(const akidb_response_t *resp, rpc_arena_t *ar) {
  const akidb_login_result_t *l = &resp->result.login;
  Akidb__V1__LoginResponse *r = rpc_alloc(ar, sizeof *r);
  if (!r) return NULL;
  akidb__v1__login_response__init(r);
  r->token = rpc_str_of(ar, l->token, strlen(l->token));
  r->expires_at = rpc_time_of(ar, l->expires_at_ms);
  r->user = session_user(ar, &l->principal, l->tenant);
  return r->token && r->expires_at && r->user ? &r->base : NULL;
}

static ProtobufCMessage *encode_logout(const akidb_response_t *resp, rpc_arena_t *ar) {
  (void)resp;
  Akidb__V1__LogoutResponse *r = rpc_alloc(ar, sizeof *r);
  if (!r) return NULL;
  akidb__v1__logout_response__init(r);
  return &r->base;
}

static ProtobufCMessage *encode_whoami(const akidb_response_t *resp, rpc_arena_t *ar) {
  const akidb_whoami_result_t *w = &resp->result.whoami;
  Akidb__V1__WhoAmIResponse *r = rpc_alloc(ar, sizeof *r);
  if (!r) return NULL;
  akidb__v1__who_am_iresponse__init(r);
  r->user = session_user(ar, &w->who, w->tenant);
  r->credential = w->who.kind == AKIDB_CRED_SESSION ? AKIDB__V1__CREDENTIAL__CREDENTIAL_SESSION
                                                    : AKIDB__V1__CREDENTIAL__CREDENTIAL_API_KEY;
  r->expires_at = rpc_time_of(ar, w->who.expires_at_ms);
  return r->user && r->expires_at ? &r->base : NULL;
}

/* -------------------------------------------------------------- table -- */

#define HEALTH "/grpc.health.v1.Health/"
/* ------------------------------------------------------------ embeddings -- */

static int decode_embed(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                        akidb_svc_error_t *e) {
  const Akidb__V1__EmbedRequest *x = (const void *)m;
  (void)req;
  akidb_embeddings_args_t *ea = &a->u.embeddings;
  akidb_bytes_t *in = rpc_alloc(a->arena, (x->n_input ? x->n_input : 1) * sizeof *in);
  if (!in) return rpc_oom(e);
  for (size_t i = 0; i < x->n_input; i++) in[i] = (akidb_bytes_t){x->input[i], strlen(x->input[i])};
  ea->model = *x->model ? x->model : NULL;
  ea->inputs = in;
  ea->n = x->n_input;
  ea->dimensions = x->dimensions;
  return 0;
}

static ProtobufCMessage *encode_embed(const akidb_response_t *resp, rpc_arena_t *ar) {
  const akidb_embeddings_result_t *r = &resp->result.embeddings;
  Akidb__V1__EmbedResponse *o = rpc_alloc(ar, sizeof *o);
  Akidb__V1__Vector **data = rpc_alloc(ar, (r->n ? r->n : 1) * sizeof *data);
  if (!o || !data) return NULL;
  akidb__v1__embed_response__init(o);
  for (size_t i = 0; i < r->n; i++) {
    if (!(data[i] = rpc_alloc(ar, sizeof *data[i]))) return NULL;
    akidb__v1__vector__init(data[i]);
    data[i]->values = r->vectors + i * r->dimension;
    data[i]->n_values = r->dimension;
  }
  o->model = rpc_text(ar, r->model);
  o->data = data;
  o->n_data = r->n;
  o->prompt_tokens = r->tokens;
  return o->model ? &o->base : NULL;
}

#define POINTS "/akidb.v1.PointService/"
#define AUTH "/akidb.v1.AuthService/"

const rpc_method_t rpc_point_methods[] = {
    {HEALTH "Check", AKIDB_OP_HEALTH, &grpc__health__v1__health_check_request__descriptor,
     decode_health, encode_health, RPC_UNARY, NULL, NULL},
    {HEALTH "Watch", AKIDB_OP_HEALTH, &grpc__health__v1__health_check_request__descriptor,
     decode_health, encode_health, RPC_WATCH, NULL, NULL},
    {POINTS "Upsert", AKIDB_OP_POINT_UPSERT, &akidb__v1__upsert_request__descriptor,
     decode_upsert, rpc_encode_upsert, RPC_UNARY, NULL, NULL},
    {POINTS "Get", AKIDB_OP_POINT_GET, &akidb__v1__get_point_request__descriptor, decode_get,
     encode_point, RPC_UNARY, NULL, NULL},
    {POINTS "GetMany", AKIDB_OP_POINT_GET_MANY, &akidb__v1__get_points_request__descriptor,
     decode_get_many, encode_points, RPC_UNARY, NULL, NULL},
    {POINTS "Delete", AKIDB_OP_POINT_DELETE, &akidb__v1__delete_points_request__descriptor,
     decode_delete, encode_delete, RPC_UNARY, NULL, NULL},
    {POINTS "Count", AKIDB_OP_POINT_COUNT, &akidb__v1__count_points_request__descriptor,
     decode_count, encode_count, RPC_UNARY, NULL, NULL},
    {POINTS "Search", AKIDB_OP_SEARCH, &akidb__v1__search_request__descriptor, decode_search,
     encode_search, RPC_UNARY, NULL, NULL},
    {POINTS "SearchStream", AKIDB_OP_SEARCH, &akidb__v1__search_stream_request__descriptor,
     decode_search_stream, encode_search, RPC_BIDI_EACH, NULL, NULL},
    {AUTH "Login", AKIDB_OP_LOGIN, &akidb__v1__login_request__descriptor, decode_login,
     encode_login, RPC_UNARY, NULL, NULL},
    {AUTH "Logout", AKIDB_OP_LOGOUT, &akidb__v1__logout_request__descriptor, decode_none,
     encode_logout, RPC_UNARY, NULL, NULL},
    {AUTH "WhoAmI", AKIDB_OP_WHOAMI, &akidb__v1__who_am_irequest__descriptor, decode_none,
     encode_whoami, RPC_UNARY, NULL, NULL},
    {"/akidb.v1.EmbeddingService/Embed", AKIDB_OP_EMBEDDINGS,
     &akidb__v1__embed_request__descriptor, decode_embed, encode_embed, RPC_UNARY, NULL, NULL},
    RPC_METHODS_END,
};
