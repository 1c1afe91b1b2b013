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

/* Checks a point id (string, 1..max_id_bytes, no NUL); `where` names it. */
static int check_id(svc_call_t *c, const json_t *id, const char *where) {
  if (!json_is_string(id))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s: 'id' must be a string", where);
  size_t n = json_string_length(id);
  if (n == 0 || n > c->svc->opt.limits.max_id_bytes)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s: 'id' must be 1..%u bytes long (got %zu)",
                    where, c->svc->opt.limits.max_id_bytes, n);
  if (memchr(json_string_value(id), '\0', n))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s: 'id' must not contain NUL characters",
                    where);
  return 0;
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

/* Structural checks of the upsert body, before authentication. */
static int check_upsert_body(svc_call_t *c, const json_t **points) {
  static const char *const keys[] = {"points", NULL};
  static const char *const point_keys[] = {"id", "vector", "payload", "text", NULL};
  if (svc_body_object(c, "upsert", keys)) return -1;
  const json_t *arr = json_object_get(c->req->body, "points");
  if (!json_is_array(arr))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "upsert needs 'points', an array of points");
  size_t n = json_array_size(arr);
  if (n == 0) return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "'points' is empty: send 1 or more");
  if (n > c->svc->opt.limits.max_batch)
    return svc_fail(c, AKIDB_ST_PAYLOAD_TOO_LARGE,
                    "'points' holds %zu points; the limit is %u per request: split the batch", n,
                    c->svc->opt.limits.max_batch);
  for (size_t i = 0; i < n; i++) {
    const json_t *p = json_array_get(arr, i);
    char where[48];
    snprintf(where, sizeof where, "points[%zu]", i);
    if (!json_is_object(p))
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s must be an object", where);
    if (svc_json_keys(c, p, where, point_keys)) return -1;
    const json_t *id = json_object_get(p, "id"), *payload = json_object_get(p, "payload");
    const json_t *text = json_object_get(p, "text");
    if (id && check_id(c, id, where)) return -1;
    if (!json_object_get(p, "vector"))
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s: 'vector' is required", where);
    if (payload && !json_is_object(payload) && !json_is_null(payload))
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s: 'payload' must be an object or null",
                      where);
    if (text && !json_is_string(text))
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s: 'text' must be a string", where);
  }
  *points = arr;
  return 0;
}

typedef struct {
  akidb_point_t *pts;
  float *vecs;
  char **payloads;
  char (*gen_ids)[AKIDB_UUID_STR_LEN + 1];
  size_t n;
  uint64_t disk, mem;
} batch_t;

static void batch_free(batch_t *b) {
  for (size_t i = 0; b->payloads && i < b->n; i++) free(b->payloads[i]);
  free(b->payloads);
  free(b->pts);
  free(b->vecs);
  free(b->gen_ids);
}

/* Fills one point of the batch from its JSON object. */
static int fill_point(svc_call_t *c, batch_t *b, size_t i, const json_t *p, uint32_t dim) {
  char where[48];
  snprintf(where, sizeof where, "points[%zu]", i);
  akidb_point_t *pt = &b->pts[i];
  const json_t *id = json_object_get(p, "id"), *payload = json_object_get(p, "payload");
  const json_t *text = json_object_get(p, "text");
  if (read_vector(c, json_object_get(p, "vector"), dim, b->vecs + i * dim, where)) return -1;
  pt->vector = b->vecs + i * dim;
  if (id) {
    pt->id = json_string_value(id);
    pt->id_len = json_string_length(id);
  } else {
    akidb_uuid_t u;
    if (akidb_uuid_v7(&u)) return svc_fail(c, AKIDB_ST_INTERNAL, "no randomness for ids");
    akidb_uuid_format(&u, b->gen_ids[i]);
    pt->id = b->gen_ids[i];
    pt->id_len = AKIDB_UUID_STR_LEN;
  }
  if (payload && json_is_object(payload)) {
    b->payloads[i] = json_dumps(payload, JSON_COMPACT);
    if (!b->payloads[i]) return svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
    pt->payload = b->payloads[i];
    pt->payload_len = strlen(b->payloads[i]);
    if (pt->payload_len > c->svc->opt.limits.max_payload_bytes)
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                      "%s: 'payload' is %zu bytes as JSON; the limit is %llu", where,
                      pt->payload_len, (unsigned long long)c->svc->opt.limits.max_payload_bytes);
  }
  if (text) {
    pt->text = json_string_value(text);
    pt->text_len = json_string_length(text);
  }
  b->disk += pt->id_len + pt->payload_len + pt->text_len + (uint64_t)dim * 4 + 24;
  b->mem += pt->id_len + pt->payload_len + pt->text_len + (uint64_t)dim * 4 +
            (uint64_t)c->meta.hnsw_m * 2 * 4 + 64;
  return 0;
}

static int build_batch(svc_call_t *c, const json_t *arr, batch_t *b) {
  uint32_t dim = c->coll->dim;
  b->n = json_array_size(arr);
  b->pts = calloc(b->n, sizeof *b->pts);
  b->vecs = malloc(b->n * dim * sizeof *b->vecs);
  b->payloads = calloc(b->n, sizeof *b->payloads);
  b->gen_ids = malloc(b->n * sizeof *b->gen_ids);
  if (!b->pts || !b->vecs || !b->payloads || !b->gen_ids)
    return svc_fail(c, AKIDB_ST_INTERNAL, "out of memory for a batch of %zu points", b->n);
  for (size_t i = 0; i < b->n; i++)
    if (fill_point(c, b, i, json_array_get(arr, i), dim)) return -1;
  return 0;
}

int svc_op_point_upsert(svc_call_t *c) {
  const json_t *arr = NULL;
  if (check_upsert_body(c, &arr) || resolve_all(c, AKIDB_ACT_POINT_WRITE)) return -1;
  double t0 = now_s();
  batch_t b = {0};
  int rc = build_batch(c, arr, &b);
  if (!rc) rc = svc_check_write_quota(c, b.disk, b.mem);
  if (!rc) {
    char err[512] = "";
    int e = akidb_collection_upsert(c->coll->c, b.pts, b.n, err, sizeof err);
    if (e) rc = svc_fail_code(c, e, err);
  }
  if (!rc) {
    json_t *ids = json_array();
    for (size_t i = 0; i < b.n; i++)
      json_array_append_new(ids, json_stringn(b.pts[i].id, b.pts[i].id_len));
    rc = svc_ok(c, json_pack("{s:I,s:o}", "upserted", (json_int_t)b.n, "ids", ids));
    obs_upsert_observe(now_s() - t0, (uint32_t)b.n);
  }
  batch_free(&b);
  return rc;
}

/* ------------------------------------------------------------ get, del -- */

/* Encodes a point (payload parsed back into JSON). */
static json_t *point_json(const akidb_point_out_t *p, uint32_t dim, bool with_payload) {
  json_t *o = json_pack("{s:s%}", "id", p->id, p->id_len);
  if (!o) return NULL;
  if (with_payload) {
    json_t *pl = p->payload ? json_loadb(p->payload, p->payload_len, 0, NULL) : NULL;
    json_object_set_new(o, "payload", pl ? pl : json_null());
  }
  if (p->text && with_payload)
    json_object_set_new(o, "text", json_stringn(p->text, p->text_len));
  if (p->vector) {
    json_t *v = json_array();
    for (uint32_t i = 0; i < dim; i++) json_array_append_new(v, json_real(p->vector[i]));
    json_object_set_new(o, "vector", v);
  }
  return o;
}

int svc_op_point_get(svc_call_t *c) {
  bool with_vector = false;
  if (svc_query_bool(c, "with_vector", &with_vector) < 0) return -1;
  if (!c->req->point_id || c->req->point_id_len == 0 ||
      c->req->point_id_len > c->svc->opt.limits.max_id_bytes)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "the point id must be 1..%u bytes long",
                    c->svc->opt.limits.max_id_bytes);
  if (resolve_all(c, AKIDB_ACT_POINT_READ)) return -1;
  akidb_point_out_t p;
  int rc = akidb_collection_get(c->coll->c, c->req->point_id, c->req->point_id_len, with_vector,
                                &p);
  if (rc == AKIDB_ENOTFOUND)
    return svc_fail(c, AKIDB_ST_NOT_FOUND, "point '%.*s' not found in collection '%s'",
                    (int)(c->req->point_id_len > 256 ? 256 : c->req->point_id_len),
                    c->req->point_id, c->meta.name);
  if (rc) return svc_fail_code(c, rc, NULL);
  json_t *o = point_json(&p, c->coll->dim, true);
  akidb_point_out_clear(&p);
  return svc_ok(c, o);
}

/* Checks an {"ids": [...]} body (plus the extra keys allowed). */
static int check_ids_body(svc_call_t *c, const char *what, const char *const *keys,
                          const json_t **ids) {
  if (svc_body_object(c, what, keys)) return -1;
  const json_t *arr = json_object_get(c->req->body, "ids");
  if (!json_is_array(arr) || json_array_size(arr) == 0)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s needs 'ids', a non-empty array of ids",
                    what);
  if (json_array_size(arr) > c->svc->opt.limits.max_batch)
    return svc_fail(c, AKIDB_ST_PAYLOAD_TOO_LARGE, "'ids' holds %zu ids; the limit is %u",
                    json_array_size(arr), c->svc->opt.limits.max_batch);
  for (size_t i = 0; i < json_array_size(arr); i++) {
    char where[48];
    snprintf(where, sizeof where, "ids[%zu]", i);
    if (check_id(c, json_array_get(arr, i), where)) return -1;
  }
  *ids = arr;
  return 0;
}

int svc_op_point_get_many(svc_call_t *c) {
  static const char *const keys[] = {"ids", "with_vector", NULL};
  const json_t *ids = NULL;
  bool with_vector = false;
  if (check_ids_body(c, "get", keys, &ids) ||
      svc_json_bool(c, c->req->body, "with_vector", &with_vector) < 0 ||
      resolve_all(c, AKIDB_ACT_POINT_READ))
    return -1;
  json_t *points = json_array(), *missing = json_array();
  for (size_t i = 0; i < json_array_size(ids); i++) {
    const json_t *id = json_array_get(ids, i);
    akidb_point_out_t p;
    int rc = akidb_collection_get(c->coll->c, json_string_value(id), json_string_length(id),
                                  with_vector, &p);
    if (rc == AKIDB_OK) {
      json_array_append_new(points, point_json(&p, c->coll->dim, true));
      akidb_point_out_clear(&p);
    } else {
      json_array_append(missing, (json_t *)id);
    }
  }
  return svc_ok(c, json_pack("{s:o,s:o}", "points", points, "missing", missing));
}

int svc_op_point_delete(svc_call_t *c) {
  static const char *const keys[] = {"ids", NULL};
  const json_t *arr = NULL;
  if (check_ids_body(c, "delete", keys, &arr) || resolve_all(c, AKIDB_ACT_POINT_WRITE)) return -1;
  size_t n = json_array_size(arr);
  const char **ids = malloc(n * sizeof *ids);
  size_t *lens = malloc(n * sizeof *lens);
  if (!ids || !lens) {
    free(ids);
    free(lens);
    return svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    ids[i] = json_string_value(json_array_get(arr, i));
    lens[i] = json_string_length(json_array_get(arr, i));
  }
  size_t deleted = 0;
  char err[256] = "";
  int rc = akidb_collection_delete(c->coll->c, ids, lens, n, &deleted, err, sizeof err);
  free(ids);
  free(lens);
  if (rc) return svc_fail_code(c, rc, err);
  return svc_ok(c, json_pack("{s:I}", "deleted", (json_int_t)deleted));
}

int svc_op_point_count(svc_call_t *c) {
  if (resolve_all(c, AKIDB_ACT_POINT_READ)) return -1;
  return svc_ok(c, json_pack("{s:I}", "count", (json_int_t)akidb_collection_count(c->coll->c)));
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
    json_t *h = point_json(&r.hits[i], c->coll->dim, s->include_payload);
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
