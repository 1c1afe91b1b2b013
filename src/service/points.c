/*
 * points.c — owns the data-plane operations of a collection: batch upsert
 * (validated whole before anything is written, quota-checked, one atomic
 * log record), get by id, get many, delete by ids, count, and search
 * (single or batch, k, ef, exact, payload filter evaluated inside the
 * engine's filtered search, payload and vector on request).
 * Durability: a 200 to an upsert or delete means the batch is durable under
 * the collection's policy (akidb_collection_upsert returns after the log).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json/json_rules.h"
#include "obs/metrics.h"
#include "service/svc_internal.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Resolves tenant, database and collection for a data-plane action. */
static int resolve_all(svc_call_t *c, akidb_action_t action) {
  return svc_resolve_tenant(c, action) || svc_resolve_database(c) || svc_resolve_collection(c)
             ? -1
             : 0;
}

/* The transport's float32 decoding of `arr`, if it made one. Vectors are
 * read in document order, so the search starts after the last one found. */
static const akidb_float_array_t *decoded_vector(svc_call_t *c, const json_t *arr) {
  size_t n = c->req->n_floats;
  for (size_t k = 0; k < n; k++) {
    size_t i = (c->float_hint + k) % n;
    if (c->req->floats[i].array == arr) {
      c->float_hint = i + 1;
      return &c->req->floats[i];
    }
  }
  return NULL;
}

/* Converts a JSON array into dim float32 values. */
static int read_vector(svc_call_t *c, const json_t *arr, uint32_t dim, float *out,
                       const char *where) {
  const akidb_float_array_t *f = json_is_array(arr) && json_array_size(arr) == 0
                                     ? decoded_vector(c, arr)
                                     : NULL;
  if (f) {
    if (f->n != dim)
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                      "%s: the vector has %u values but the collection's dimension is %u", where,
                      f->n, dim);
    memcpy(out, f->values, (size_t)dim * sizeof *out);
    return 0;
  }
  if (!json_is_array(arr))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s: the vector must be an array of numbers",
                    where);
  if (json_array_size(arr) != dim)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "%s: the vector has %zu values but the collection's dimension is %u", where,
                    json_array_size(arr), dim);
  for (uint32_t i = 0; i < dim; i++) {
    const json_t *v = json_array_get(arr, i);
    if (!json_is_number(v))
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s: vector[%u] is not a number", where, i);
    double d = json_number_value(v);
    if (!isfinite(d) || fabs(d) > FLT_MAX)
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                      "%s: vector[%u] is not a finite 32-bit float", where, i);
    out[i] = (float)d;
  }
  return 0;
}

/* ---------------------------------------------------------------- upsert -- */

/* Checks a point id (1..max_id_bytes, no NUL); `where` names it. */
static int check_id(svc_call_t *c, akidb_bytes_t id, const char *where) {
  if (id.len == 0 || id.len > c->svc->opt.limits.max_id_bytes)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s: 'id' must be 1..%u bytes long (got %zu)",
                    where, c->svc->opt.limits.max_id_bytes, id.len);
  if (memchr(id.p, '\0', id.len))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s: 'id' must not contain NUL characters",
                    where);
  return 0;
}

/* The checks that need no collection: batch size and ids. */
static int check_upsert(svc_call_t *c, const akidb_upsert_args_t *a) {
  if (a->n == 0) return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "'points' is empty: send 1 or more");
  if (a->n > c->svc->opt.limits.max_batch)
    return svc_fail(c, AKIDB_ST_PAYLOAD_TOO_LARGE,
                    "'points' holds %zu points; the limit is %u per request: split the batch", a->n,
                    c->svc->opt.limits.max_batch);
  for (size_t i = 0; i < a->n; i++) {
    char where[48];
    snprintf(where, sizeof where, "points[%zu]", i);
    if (a->points[i].id.p && check_id(c, a->points[i].id, where)) return -1;
  }
  return 0;
}

typedef struct {
  akidb_point_t *pts;
  char (*gen_ids)[40];
  size_t n;
  uint64_t disk, mem;
} batch_t;

static void batch_free(batch_t *b) {
  free(b->pts);
  free(b->gen_ids);
}

/* Fills one point of the batch (borrowing the argument's bytes). */
static int fill_point(svc_call_t *c, batch_t *b, size_t i, const akidb_point_in_t *in,
                      uint32_t dim) {
  char where[48];
  snprintf(where, sizeof where, "points[%zu]", i);
  akidb_point_t *pt = &b->pts[i];
  if (in->n_values != dim || !in->vector)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "%s: the vector has %u values but the collection's dimension is %u", where,
                    in->n_values, dim);
  pt->vector = in->vector;
  if (in->id.p) {
    pt->id = in->id.p;
    pt->id_len = in->id.len;
  } else {
    akidb_uuid_t u;
    if (akidb_uuid_v7(&u)) return svc_fail(c, AKIDB_ST_INTERNAL, "no randomness for ids");
    akidb_uuid_format(&u, b->gen_ids[i]);
    pt->id = b->gen_ids[i];
    pt->id_len = AKIDB_UUID_STR_LEN;
  }
  if (in->payload.p) {
    pt->payload = in->payload.p;
    pt->payload_len = in->payload.len;
    if (pt->payload_len > c->svc->opt.limits.max_payload_bytes)
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                      "%s: 'payload' is %zu bytes as JSON; the limit is %llu", where,
                      pt->payload_len, (unsigned long long)c->svc->opt.limits.max_payload_bytes);
  }
  if (in->text.p) {
    pt->text = in->text.p;
    pt->text_len = in->text.len;
  }
  b->disk += pt->id_len + pt->payload_len + pt->text_len + (uint64_t)dim * 4 + 24;
  b->mem += pt->id_len + pt->payload_len + pt->text_len + (uint64_t)dim * 4 +
            (uint64_t)c->meta.hnsw_m * 2 * 4 + 64;
  return 0;
}

static int build_batch(svc_call_t *c, const akidb_upsert_args_t *a, batch_t *b) {
  b->n = a->n;
  b->pts = calloc(b->n, sizeof *b->pts);
  b->gen_ids = malloc(b->n * sizeof *b->gen_ids);
  if (!b->pts || !b->gen_ids)
    return svc_fail(c, AKIDB_ST_INTERNAL, "out of memory for a batch of %zu points", b->n);
  for (size_t i = 0; i < b->n; i++)
    if (fill_point(c, b, i, &a->points[i], c->coll->dim)) return -1;
  return 0;
}

/* The ids written, in order; the generated ones move into the result. */
static int upsert_result(svc_call_t *c, batch_t *b) {
  akidb_upsert_result_t *r = &c->res->result.upsert;
  r->ids = malloc(b->n * sizeof *r->ids);
  if (!r->ids) return svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
  for (size_t i = 0; i < b->n; i++) r->ids[i] = (akidb_bytes_t){b->pts[i].id, b->pts[i].id_len};
  r->generated = b->gen_ids; /* the generated ids point into it */
  b->gen_ids = NULL;
  r->n = b->n;
  return svc_result(c);
}

int svc_op_point_upsert(svc_call_t *c) {
  const akidb_upsert_args_t *a = c->req->args;
  if (check_upsert(c, a) || resolve_all(c, AKIDB_ACT_POINT_WRITE)) return -1;
  double t0 = now_s();
  batch_t b = {0};
  int rc = build_batch(c, a, &b);
  if (!rc) rc = svc_check_write_quota(c, b.disk, b.mem);
  if (!rc) {
    char err[512] = "";
    int e = akidb_collection_upsert(c->coll->c, b.pts, b.n, err, sizeof err);
    if (e) rc = svc_fail_code(c, e, err);
  }
  if (!rc) {
    rc = upsert_result(c, &b);
    obs_upsert_observe(now_s() - t0, (uint32_t)b.n);
  }
  batch_free(&b);
  return rc;
}

/* ------------------------------------------------------------ get, del -- */

int svc_op_point_get(svc_call_t *c) {
  const akidb_get_args_t *a = c->req->args;
  if (!a->id.p || a->id.len == 0 || a->id.len > c->svc->opt.limits.max_id_bytes)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "the point id must be 1..%u bytes long",
                    c->svc->opt.limits.max_id_bytes);
  if (resolve_all(c, AKIDB_ACT_POINT_READ)) return -1;
  akidb_points_result_t *r = &c->res->result.points;
  if (!(r->points = calloc(1, sizeof *r->points)))
    return svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
  int rc = akidb_collection_get(c->coll->c, a->id.p, a->id.len, a->with_vector, r->points);
  if (rc == AKIDB_ENOTFOUND)
    return svc_fail(c, AKIDB_ST_NOT_FOUND, "point '%.*s' not found in collection '%s'",
                    (int)(a->id.len > 256 ? 256 : a->id.len), a->id.p, c->meta.name);
  if (rc) return svc_fail_code(c, rc, NULL);
  r->n = 1;
  r->dimension = c->coll->dim;
  return svc_result(c);
}

/* Checks an ids argument (`what`: "get" or "delete"). */
static int check_ids(svc_call_t *c, const char *what, const akidb_ids_args_t *a) {
  if (a->n == 0)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s needs 'ids', a non-empty array of ids",
                    what);
  if (a->n > c->svc->opt.limits.max_batch)
    return svc_fail(c, AKIDB_ST_PAYLOAD_TOO_LARGE, "'ids' holds %zu ids; the limit is %u", a->n,
                    c->svc->opt.limits.max_batch);
  for (size_t i = 0; i < a->n; i++) {
    char where[48];
    snprintf(where, sizeof where, "ids[%zu]", i);
    if (check_id(c, a->ids[i], where)) return -1;
  }
  return 0;
}

int svc_op_point_get_many(svc_call_t *c) {
  const akidb_ids_args_t *a = c->req->args;
  if (check_ids(c, "get", a) || resolve_all(c, AKIDB_ACT_POINT_READ)) return -1;
  akidb_points_result_t *r = &c->res->result.points;
  r->points = calloc(a->n, sizeof *r->points);
  r->missing = malloc(a->n * sizeof *r->missing);
  if (!r->points || !r->missing) return svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
  r->dimension = c->coll->dim;
  for (size_t i = 0; i < a->n; i++) {
    int rc = akidb_collection_get(c->coll->c, a->ids[i].p, a->ids[i].len, a->with_vector,
                                  &r->points[r->n]);
    if (rc == AKIDB_OK) r->n++;
    else r->missing[r->n_missing++] = a->ids[i];
  }
  return svc_result(c);
}

int svc_op_point_delete(svc_call_t *c) {
  const akidb_ids_args_t *a = c->req->args;
  if (check_ids(c, "delete", a) || resolve_all(c, AKIDB_ACT_POINT_WRITE)) return -1;
  const char **ids = malloc(a->n * sizeof *ids);
  size_t *lens = malloc(a->n * sizeof *lens);
  if (!ids || !lens) {
    free(ids);
    free(lens);
    return svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
  }
  for (size_t i = 0; i < a->n; i++) ids[i] = a->ids[i].p, lens[i] = a->ids[i].len;
  size_t deleted = 0;
  char err[256] = "";
  int rc = akidb_collection_delete(c->coll->c, ids, lens, a->n, &deleted, err, sizeof err);
  free(ids);
  free(lens);
  if (rc) return svc_fail_code(c, rc, err);
  c->res->result.count = deleted;
  return svc_result(c);
}

int svc_op_point_count(svc_call_t *c) {
  if (resolve_all(c, AKIDB_ACT_POINT_READ)) return -1;
  c->res->result.count = akidb_collection_count(c->coll->c);
  return svc_result(c);
}

/* --------------------------------------------------------------- search -- */

typedef struct {
  const json_t *vector, *vectors, *filter;
  uint32_t k, ef;
  bool include_payload, include_vector, exact;
} search_req_t;

static int parse_search(svc_call_t *c, search_req_t *s) {
  static const char *const keys[] = {"vector", "vectors", "k", "ef", "filter", "include_payload",
                                     "include_vector", "exact", NULL};
  memset(s, 0, sizeof *s);
  s->k = 10;
  s->include_payload = true;
  if (svc_body_object(c, "search", keys)) return -1;
  const json_t *b = c->req->body;
  s->vector = json_object_get(b, "vector");
  s->vectors = json_object_get(b, "vectors");
  s->filter = json_object_get(b, "filter");
  if (!s->vector == !s->vectors)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "search needs exactly one of 'vector' (one query) or 'vectors' (a batch)");
  if (s->vectors && (!json_is_array(s->vectors) || json_array_size(s->vectors) == 0))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "'vectors' must be a non-empty array of vectors");
  if (s->vectors && json_array_size(s->vectors) > c->svc->opt.limits.max_batch)
    return svc_fail(c, AKIDB_ST_PAYLOAD_TOO_LARGE, "'vectors' holds %zu queries; the limit is %u",
                    json_array_size(s->vectors), c->svc->opt.limits.max_batch);
  uint64_t v;
  int r;
  if ((r = svc_json_u64(c, b, "k", 1, c->svc->opt.limits.max_k, &v)) < 0) return -1;
  if (r) s->k = (uint32_t)v;
  if ((r = svc_json_u64(c, b, "ef", 1, c->svc->opt.limits.max_ef, &v)) < 0) return -1;
  if (r) s->ef = (uint32_t)v;
  if (svc_json_bool(c, b, "include_payload", &s->include_payload) < 0 ||
      svc_json_bool(c, b, "include_vector", &s->include_vector) < 0 ||
      svc_json_bool(c, b, "exact", &s->exact) < 0)
    return -1;
  if (s->filter && json_is_null(s->filter)) s->filter = NULL;
  return 0;
}

static int filter_allow(void *ctx, const char *id, size_t id_len, const char *payload,
                        size_t payload_len) {
  (void)id;
  (void)id_len;
  return svc_filter_match(ctx, payload, payload_len);
}

/* Runs one query and encodes its hits. */
static json_t *search_one(svc_call_t *c, const search_req_t *s, const float *q,
                          const akidb_point_filter_t *pf) {
  akidb_search_options_t o = {.k = s->k,
                              .ef = s->ef ? s->ef : atomic_load(&c->coll->ef_search),
                              .exact = s->exact,
                              .filter = pf,
                              .include_payload = s->include_payload,
                              .include_vector = s->include_vector};
  if (o.ef < o.k) o.ef = o.k;
  akidb_search_result_t r;
  char err[256] = "";
  int rc = akidb_collection_search(c->coll->c, q, c->coll->dim, &o, &r, err, sizeof err);
  if (rc) {
    svc_fail_code(c, rc, err);
    return NULL;
  }
  json_t *hits = json_array();
  for (uint32_t i = 0; i < r.n; i++) {
    json_t *h = jr_point(&r.hits[i], c->coll->dim, s->include_payload);
    json_object_set_new(h, "distance", json_real(r.hits[i].distance));
    json_array_append_new(hits, h);
  }
  akidb_search_result_free(&r);
  return hits;
}

static int run_search(svc_call_t *c, const search_req_t *s, const akidb_point_filter_t *pf) {
  uint32_t dim = c->coll->dim;
  size_t nq = s->vector ? 1 : json_array_size(s->vectors);
  float *q = malloc((size_t)dim * sizeof *q);
  if (!q) return svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
  json_t *batches = s->vectors ? json_array() : NULL, *one = NULL;
  int rc = 0;
  for (size_t i = 0; i < nq && !rc; i++) {
    char where[48];
    snprintf(where, sizeof where, s->vector ? "query" : "vectors[%zu]", i);
    const json_t *jv = s->vector ? s->vector : json_array_get(s->vectors, i);
    if (read_vector(c, jv, dim, q, where)) {
      rc = -1;
      break;
    }
    json_t *hits = search_one(c, s, q, pf);
    if (!hits) {
      rc = -1;
    } else if (batches) {
      json_array_append_new(batches, json_pack("{s:o}", "results", hits));
    } else {
      one = hits;
    }
  }
  free(q);
  if (rc) {
    json_decref(batches);
    json_decref(one);
    return -1;
  }
  return svc_ok(c, batches ? json_pack("{s:o}", "batches", batches)
                                : json_pack("{s:o}", "results", one));
}

int svc_op_search(svc_call_t *c) {
  search_req_t s;
  svc_filter_t *f = NULL;
  if (parse_search(c, &s)) return -1;
  if (s.filter && svc_filter_compile(c, s.filter, &f)) return -1;
  double t0 = now_s();
  int rc = resolve_all(c, AKIDB_ACT_SEARCH);
  akidb_point_filter_t pf = {.allow = filter_allow, .ctx = f};
  if (!rc) rc = run_search(c, &s, f ? &pf : NULL);
  if (!rc) obs_search_observe(now_s() - t0, s.vector ? 1 : (uint32_t)json_array_size(s.vectors));
  svc_filter_free(f);
  return rc;
}
