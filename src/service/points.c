/*
 * points.c — owns the data-plane operations of a collection: batch upsert
 * (validated whole before anything is written, quota-checked, one atomic
 * log record), get by id, get many, delete by ids, count, and search
 * (single or batch, k, ef, exact, payload filter evaluated inside the
 * engine's filtered search, payload and vector on request).
 * Every operation here is typed (service.h, AKIDB_OP_TYPED): arguments and
 * results are C values; the JSON of REST is src/http/codec.c's.
 * Durability: a 200 to an upsert or delete means the batch is durable under
 * the collection's policy (akidb_collection_upsert returns after the log).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "akidb/text.h"
#include "filter/filter.h"
#include "trace/trace.h"
#include "service/fusion.h"
#include "obs/metrics.h"
#include "service/svc_internal.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Resolves tenant, database and collection for a data-plane action (the
 * span "catalog": a collection that is not resident loads here). */
static int resolve_all(svc_call_t *c, akidb_action_t action) {
  trace_span_t *sp = trace_child_begin("catalog");
  int rc = svc_resolve_tenant(c, action) || svc_resolve_database(c) || svc_resolve_collection(c)
               ? -1
               : 0;
  if (sp && svc_thread_load_seconds > 0)
    trace_span_set_double(sp, "akidb.load_seconds", svc_thread_load_seconds);
  if (rc) trace_span_set_status(sp, TRACE_STATUS_ERROR, c->res->error.message);
  trace_span_end(sp);
  return rc;
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
  size_t *to_embed; /* points that came with text and no vector (embedding collections) */
  size_t n_embed;
  float *embedded;  /* their vectors, n_embed × dimension */
} batch_t;

static void batch_free(batch_t *b) {
  free(b->pts);
  free(b->gen_ids);
  free(b->to_embed);
  free(b->embedded);
}

/* Fills one point of the batch (borrowing the argument's bytes). */
static int fill_point(svc_call_t *c, batch_t *b, size_t i, const akidb_point_in_t *in,
                      uint32_t dim) {
  char where[48];
  snprintf(where, sizeof where, "points[%zu]", i);
  akidb_point_t *pt = &b->pts[i];
  bool embed = !in->vector && in->n_values == 0 && in->text.p && svc_has_embedding(c);
  if (!in->vector && !embed)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    in->text.p ? "%s: no 'vector' (this collection has no embedding model to make "
                                 "one from 'text')"
                               : "%s: 'vector' is required",
                    where);
  if (!embed && in->n_values != dim)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "%s: the vector has %u values but the collection's dimension is %u", where,
                    in->n_values, dim);
  if (embed) b->to_embed[b->n_embed++] = i;
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
    size_t bad;
    if (akidb_text_validate_utf8(pt->text, pt->text_len, &bad))
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s: 'text' is not valid UTF-8 at byte %zu",
                      where, bad);
  }
  b->disk += pt->id_len + pt->payload_len + pt->text_len + (uint64_t)dim * 4 + 24;
  b->mem += pt->id_len + pt->payload_len + pt->text_len + (uint64_t)dim * 4 +
            (uint64_t)c->meta.hnsw_m * 2 * 4 + 64;
  return 0;
}

/* The vectors of the points that came with text only: one call to the
 * collection's embedding model for all of them (any failure refuses the
 * whole batch before anything is written). */
static int embed_batch(svc_call_t *c, batch_t *b) {
  if (!b->n_embed) return 0;
  const char **texts = malloc(b->n_embed * sizeof *texts);
  size_t *lens = malloc(b->n_embed * sizeof *lens);
  b->embedded = malloc(b->n_embed * (size_t)c->coll->dim * sizeof *b->embedded);
  int rc = texts && lens && b->embedded ? 0 : svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
  for (size_t j = 0; !rc && j < b->n_embed; j++) {
    texts[j] = b->pts[b->to_embed[j]].text;
    lens[j] = b->pts[b->to_embed[j]].text_len;
  }
  if (!rc) rc = svc_embed(c, texts, lens, b->n_embed, b->to_embed, b->embedded);
  for (size_t j = 0; !rc && j < b->n_embed; j++)
    b->pts[b->to_embed[j]].vector = b->embedded + j * (size_t)c->coll->dim;
  free(texts);
  free(lens);
  return rc;
}

static int build_batch(svc_call_t *c, const akidb_upsert_args_t *a, batch_t *b) {
  b->n = a->n;
  b->pts = calloc(b->n, sizeof *b->pts);
  b->gen_ids = malloc(b->n * sizeof *b->gen_ids);
  b->to_embed = malloc(b->n * sizeof *b->to_embed);
  if (!b->pts || !b->gen_ids || !b->to_embed)
    return svc_fail(c, AKIDB_ST_INTERNAL, "out of memory for a batch of %zu points", b->n);
  for (size_t i = 0; i < b->n; i++)
    if (fill_point(c, b, i, &a->points[i], c->coll->dim)) return -1;
  return embed_batch(c, b);
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
  if (!rc) rc = svc_check_deadline(c, "the batch was written (nothing was)");
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

/* ----------------------------------------------------------------- scan -- */

/* A scan cursor ("" or NULL: the start) → the label to read after. */
static int scan_cursor(svc_call_t *c, const char *after, uint64_t *label) {
  *label = 0;
  if (!after || !*after) return 0;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(after, &end, 10);
  if (errno || *end || *after < '0' || *after > '9' || v == 0)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "'after' must be the 'next' cursor of a previous page of this scan");
  *label = v;
  return 0;
}

int svc_op_point_scan(svc_call_t *c) {
  const akidb_scan_args_t *a = c->req->args;
  uint32_t max_batch = c->svc->opt.limits.max_batch;
  if (a->limit > max_batch)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "'limit' must be an integer in 1..%u",
                    max_batch);
  uint64_t after;
  if (scan_cursor(c, a->after, &after) || resolve_all(c, AKIDB_ACT_POINT_READ)) return -1;
  size_t limit = a->limit ? a->limit : AKIDB_SCAN_PAGE_DEFAULT;
  if (limit > max_batch) limit = max_batch;
  akidb_scan_result_t *r = &c->res->result.scan;
  if (!(r->page.points = calloc(limit, sizeof *r->page.points)))
    return svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
  r->page.dimension = c->coll->dim;
  uint64_t next;
  int rc = akidb_collection_scan_page(c->coll->c, after, limit, a->with_vector, r->page.points,
                                      &r->page.n, &next);
  if (rc) return svc_fail_code(c, rc, NULL);
  if (next) snprintf(r->next, sizeof r->next, "%llu", (unsigned long long)next);
  return svc_result(c);
}

/* --------------------------------------------------------------- search -- */

#define DEFAULT_K 10u

/* The checks of a text query (TEXT, HYBRID). */
static int check_text_query(svc_call_t *c, const akidb_search_args_t *a, const char *mode) {
  size_t bad;
  if (!a->text.p)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "mode '%s' needs 'text' (a string)", mode);
  if (akidb_text_validate_utf8(a->text.p, a->text.len, &bad))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "'text' is not valid UTF-8 at byte %zu", bad);
  return 0;
}

/* The fusion of a HYBRID search: RRF k, weights, alpha in range. */
static int check_fusion(svc_call_t *c, const akidb_fusion_args_t *f) {
  if (f->rrf_k && (f->rrf_k < FUSION_RRF_K_MIN || f->rrf_k > FUSION_RRF_K_MAX))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "fusion.k must be an integer in %u..%u",
                    FUSION_RRF_K_MIN, FUSION_RRF_K_MAX);
  if (f->has_weights &&
      (!(f->weight_vector >= 0 && f->weight_vector <= FUSION_WEIGHT_MAX) ||
       !(f->weight_text >= 0 && f->weight_text <= FUSION_WEIGHT_MAX) ||
       f->weight_vector + f->weight_text == 0))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "fusion.weights.vector and .text must be numbers in 0..%g, not both 0",
                    FUSION_WEIGHT_MAX);
  if (f->has_alpha && !(f->alpha >= 0 && f->alpha <= 1))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "fusion.alpha must be a number in 0..1");
  if (f->method == AKIDB_FUSION_LINEAR && f->has_weights)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "fusion.weights belong to method \"rrf\"; method \"linear\" takes alpha");
  if (f->method == AKIDB_FUSION_RRF && f->has_alpha)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "fusion.alpha belongs to method \"linear\"; method \"rrf\" takes k and weights");
  return 0;
}

/* What each mode takes. */
static int check_mode(svc_call_t *c, const akidb_search_args_t *a) {
  switch (a->mode) {
  case AKIDB_SEARCH_TEXT:
    if (a->n_queries)
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                      "mode 'text' searches by 'text' (a string) and takes no 'vector' or "
                      "'vectors'");
    if (a->ef || a->exact)
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                      "'ef' and 'exact' tune the vector index; mode 'text' ranks by BM25");
    return check_text_query(c, a, "text");
  case AKIDB_SEARCH_HYBRID:
    if (a->batch || a->n_queries > 1)
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                      "mode 'hybrid' takes one query: 'text', and 'vector' unless the "
                      "collection's embedding model makes it from the text");
    return check_text_query(c, a, "hybrid") || check_fusion(c, &a->fusion) ? -1 : 0;
  case AKIDB_SEARCH_VECTOR:
    break;
  }
  if ((a->n_queries == 0 || !a->queries) && !a->text.p)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    a->batch ? "'vectors' must be a non-empty array of vectors"
                             : "search needs exactly one of 'vector' (one query), 'vectors' (a "
                               "batch) or 'text' (with an embedding model, or \"mode\": \"text\")");
  if (a->n_queries && a->text.p)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "a vector search takes 'vector'/'vectors' or 'text', not both (both: "
                    "\"mode\": \"hybrid\")");
  return 0;
}

/* The checks that need no collection: mode, counts, k, ef, the filter. */
static int check_search(svc_call_t *c, const akidb_search_args_t *a) {
  const akidb_limits_t *l = &c->svc->opt.limits;
  if (check_mode(c, a)) return -1;
  if (a->n_queries > l->max_batch)
    return svc_fail(c, AKIDB_ST_PAYLOAD_TOO_LARGE, "'vectors' holds %zu queries; the limit is %u",
                    a->n_queries, l->max_batch);
  if (a->k > l->max_k)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "field 'k' must be an integer in 1..%u",
                    l->max_k);
  if (a->candidates > l->max_k)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "field 'candidates' must be an integer in 1..%u",
                    l->max_k);
  if (a->ef > l->max_ef)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "field 'ef' must be an integer in 1..%u",
                    l->max_ef);
  akidb_svc_error_t e;
  if (filter_check(a->filter, l->max_filter_depth, &e))
    return svc_fail(c, e.status, "%s", e.message);
  return 0;
}

static int filter_allow(void *ctx, const char *id, size_t id_len, const char *payload,
                        size_t payload_len) {
  (void)id;
  (void)id_len;
  return filter_match(ctx, payload, payload_len);
}

/* The nearest k points to q into *out; `where` names the query. */
static int vector_search(svc_call_t *c, const akidb_search_args_t *a, const akidb_vector_t *q,
                         uint32_t k, const char *where, const akidb_point_filter_t *pf,
                         akidb_search_result_t *out) {
  if (q->n != c->coll->dim || !q->values)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "%s: the vector has %u values but the collection's dimension is %u", where,
                    q->n, c->coll->dim);
  akidb_search_options_t o = {.k = k,
                              .ef = a->ef ? a->ef : atomic_load(&c->coll->ef_search),
                              .exact = a->exact,
                              .filter = pf,
                              .include_payload = a->include_payload,
                              .include_vector = a->include_vector};
  if (o.ef < o.k) o.ef = o.k;
  char err[256] = "";
  trace_span_t *sp = trace_child_begin("search");
  int rc = akidb_collection_search(c->coll->c, q->values, q->n, &o, out, err, sizeof err);
  if (sp) {
    trace_span_set_str(sp, "akidb.search.mode", "vector");
    trace_span_set_int(sp, "akidb.search.k", k);
    trace_span_set_bool(sp, "akidb.search.exact", rc == 0 && out->plan.exact);
    trace_span_set_int(sp, "akidb.search.ef", rc == 0 ? out->plan.ef : 0);
    trace_span_set_int(sp, "akidb.search.hits", rc == 0 ? out->n : 0);
    if (rc) trace_span_set_status(sp, TRACE_STATUS_ERROR, err);
  }
  trace_span_end(sp);
  if (rc) return svc_fail_code(c, rc, err);
  if (!c->has_plan) c->plan = out->plan, c->has_plan = true;
  return 0;
}

/* The best k points by BM25 into *out. */
static int text_search(svc_call_t *c, const akidb_search_args_t *a, uint32_t k,
                       const akidb_point_filter_t *pf, akidb_search_result_t *out) {
  akidb_search_options_t o = {.k = k,
                              .filter = pf,
                              .include_payload = a->include_payload,
                              .include_vector = a->include_vector};
  char err[256] = "";
  trace_span_t *sp = trace_child_begin("search");
  int rc = akidb_collection_text_search(c->coll->c, a->text.p, a->text.len, &o, out, err,
                                        sizeof err);
  if (sp) {
    trace_span_set_str(sp, "akidb.search.mode", "text");
    trace_span_set_int(sp, "akidb.search.k", k);
    trace_span_set_int(sp, "akidb.search.hits", rc == 0 ? out->n : 0);
    if (rc) trace_span_set_status(sp, TRACE_STATUS_ERROR, err);
  }
  trace_span_end(sp);
  return rc ? svc_fail_code(c, rc, err) : 0;
}

/* The query vector: the request's, or the collection's model's of its text
 * (into buf, dimension floats). */
static int query_vector(svc_call_t *c, const akidb_search_args_t *a, float *buf,
                        akidb_vector_t *out) {
  if (a->n_queries) {
    *out = a->queries[0];
    return 0;
  }
  if (!svc_has_embedding(c))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    a->mode == AKIDB_SEARCH_HYBRID
                        ? "mode 'hybrid' needs 'vector': this collection has no embedding model "
                          "to make one from 'text'"
                        : "this collection has no embedding model to turn 'text' into a vector: "
                          "send 'vector', or search its text with \"mode\": \"text\" (BM25)");
  const char *t = a->text.p;
  if (svc_embed(c, &t, &a->text.len, 1, NULL, buf)) return -1;
  *out = (akidb_vector_t){buf, c->coll->dim};
  return 0;
}

/* ---------------------------------------------------------- hybrid -- */

/* A side's hits as a fusion list (ids and scores borrowed from r). */
static int list_of(const akidb_search_result_t *r, bool vector, fusion_list_t *l) {
  const char **ids = malloc((r->n ? r->n : 1) * sizeof *ids);
  size_t *lens = malloc((r->n ? r->n : 1) * sizeof *lens);
  float *scores = malloc((r->n ? r->n : 1) * sizeof *scores);
  if (!ids || !lens || !scores) {
    free(ids), free(lens), free(scores);
    return -1;
  }
  for (uint32_t i = 0; i < r->n; i++) {
    ids[i] = r->hits[i].id;
    lens[i] = r->hits[i].id_len;
    scores[i] = vector ? r->hits[i].distance : r->hits[i].score;
  }
  *l = (fusion_list_t){ids, lens, scores, r->n, vector};
  return 0;
}

static void list_free(fusion_list_t *l) {
  free((void *)l->ids), free((void *)l->id_lens), free((void *)l->scores);
}

/* The fusion asked for, over the defaults (fusion_spec_default; with
 * `builtin_side`, the vector side made by the built-in embedder, whose
 * default share is a tenth: docs/embeddings.md, "Hybrid search"). */
static void fusion_of(const akidb_fusion_args_t *a, bool builtin_side, fusion_spec_t *f) {
  fusion_spec_default(f);
  if (builtin_side) fusion_spec_builtin_default(f);
  f->method = a->method == AKIDB_FUSION_LINEAR ? FUSION_LINEAR : FUSION_RRF;
  if (a->rrf_k) f->rrf_k = a->rrf_k;
  if (a->has_weights) f->weight_vector = a->weight_vector, f->weight_text = a->weight_text;
  if (a->has_alpha) f->alpha = a->alpha;
}

/* Moves the fused hits out of the two sides into the result. */
static int fused_result(svc_call_t *c, const akidb_search_args_t *a, akidb_search_result_t *v,
                        akidb_search_result_t *t, const fusion_hit_t *h, size_t n) {
  akidb_search_results_t *r = &c->res->result.search;
  akidb_search_result_t *out = &r->per_query[0];
  out->hits = calloc(n ? n : 1, sizeof *out->hits);
  if (a->explain) r->explain = calloc(n ? n : 1, sizeof *r->explain);
  if (!out->hits || (a->explain && !r->explain))
    return svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
  for (size_t i = 0; i < n; i++) {
    if (r->explain) /* before the move below empties the side's hit */
      r->explain[i] = (akidb_hit_explain_t){
          h[i].vector_rank, h[i].text_rank,
          h[i].vector_rank ? v->hits[h[i].vector_at].distance : 0,
          h[i].text_rank ? t->hits[h[i].text_at].score : 0};
    akidb_point_out_t *from = h[i].vector_rank ? &v->hits[h[i].vector_at] : &t->hits[h[i].text_at];
    out->hits[i] = *from;
    memset(from, 0, sizeof *from); /* moved */
    out->hits[i].score = (float)h[i].score;
    out->hits[i].distance = 0;
  }
  out->n = (uint32_t)n;
  r->n = 1;
  return 0;
}

/* The payload, text and vector the request asked for, of the fused hits
 * (the sides carried ids and scores only); a hit deleted since is dropped. */
static int fill_winners(svc_call_t *c, const akidb_search_args_t *a) {
  akidb_search_result_t *out = &c->res->result.search.per_query[0];
  akidb_hit_explain_t *x = c->res->result.search.explain;
  if (!a->include_payload && !a->include_vector) return 0;
  uint32_t w = 0;
  for (uint32_t i = 0; i < out->n; i++) {
    akidb_point_out_t *h = &out->hits[i], full;
    int rc = akidb_collection_get(c->coll->c, h->id, h->id_len, a->include_vector, &full);
    if (rc == AKIDB_ENOTFOUND) {
      akidb_point_out_clear(h);
      continue;
    }
    if (rc) return svc_fail_code(c, rc, NULL);
    full.score = h->score;
    if (!a->include_payload) { /* get copies them: not asked for */
      free(full.payload), free(full.text);
      full.payload = full.text = NULL, full.payload_len = full.text_len = 0;
    }
    akidb_point_out_clear(h);
    out->hits[w] = full;
    if (x) x[w] = x[i];
    w++;
  }
  out->n = w;
  return 0;
}

/* HYBRID: the vector side and the text side, `candidates` each (ids and
 * scores only), fused; then the winners' payloads and vectors. */
static int search_hybrid(svc_call_t *c, const akidb_search_args_t *a,
                         const akidb_point_filter_t *pf) {
  uint32_t k = a->k ? a->k : DEFAULT_K;
  uint32_t cand = a->candidates ? a->candidates : (k > 50 ? k : 50);
  if (cand < k) cand = k;
  float *buf = malloc((size_t)c->coll->dim * sizeof *buf);
  akidb_search_result_t v = {0}, t = {0};
  akidb_vector_t q;
  fusion_list_t vl = {0}, tl = {0};
  fusion_hit_t *h = NULL;
  size_t n = 0;
  int rc = buf ? 0 : svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
  akidb_search_args_t side = *a;
  side.include_payload = side.include_vector = false;
  if (!rc) rc = query_vector(c, a, buf, &q);
  if (!rc) rc = vector_search(c, &side, &q, cand, "vector", pf, &v);
  if (!rc) rc = text_search(c, &side, cand, pf, &t);
  if (!rc && (list_of(&v, true, &vl) || list_of(&t, false, &tl) ||
              !(h = malloc((v.n + t.n + 1) * sizeof *h))))
    rc = svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
  fusion_spec_t f;
  fusion_of(&a->fusion, !rc && a->n_queries == 0 && svc_embedding_is_builtin(c), &f);
  if (!rc && fusion_run(&f, &vl, &tl, k, h, &n)) rc = svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
  if (!rc) rc = fused_result(c, a, &v, &t, h, n);
  if (!rc) rc = fill_winners(c, a);
  list_free(&vl), list_free(&tl);
  free(h), free(buf);
  akidb_search_result_free(&v), akidb_search_result_free(&t);
  return rc;
}

int svc_op_search(svc_call_t *c) {
  const akidb_search_args_t *a = c->req->args;
  if (check_search(c, a)) return -1;
  double t0 = now_s();
  if (resolve_all(c, AKIDB_ACT_SEARCH)) return -1;
  akidb_search_results_t *r = &c->res->result.search;
  bool one = a->mode != AKIDB_SEARCH_VECTOR || a->text.p;
  size_t slots = one ? 1 : a->n_queries;
  if (!(r->per_query = calloc(slots, sizeof *r->per_query)))
    return svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
  r->mode = a->mode;
  r->batch = a->batch;
  r->include_payload = a->include_payload;
  r->dimension = c->coll->dim;
  akidb_point_filter_t filter = {.allow = filter_allow, .ctx = (void *)a->filter};
  const akidb_point_filter_t *pf = a->filter ? &filter : NULL;
  uint32_t k = a->k ? a->k : DEFAULT_K;
  int rc = 0;
  if (a->mode == AKIDB_SEARCH_TEXT) {
    rc = text_search(c, a, k, pf, &r->per_query[0]);
    r->n = rc ? 0 : 1;
  } else if (a->mode == AKIDB_SEARCH_HYBRID) {
    rc = search_hybrid(c, a, pf);
  } else if (a->text.p) { /* by text: the collection's model makes the query vector */
    float *buf = malloc((size_t)c->coll->dim * sizeof *buf);
    akidb_vector_t q;
    rc = buf ? query_vector(c, a, buf, &q) : svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
    if (!rc) rc = vector_search(c, a, &q, k, "query", pf, &r->per_query[0]);
    r->n = rc ? 0 : 1;
    free(buf);
  } else {
    for (size_t i = 0; !rc && i < a->n_queries; i++) {
      char where[48];
      snprintf(where, sizeof where, a->batch ? "vectors[%zu]" : "query", i);
      rc = svc_check_deadline(c, "the search ended") ||
           vector_search(c, a, &a->queries[i], k, where, pf, &r->per_query[i]);
      if (!rc) r->n = i + 1;
    }
  }
  if (rc) return -1;
  static const char *const modes[] = {[AKIDB_SEARCH_VECTOR] = "vector",
                                      [AKIDB_SEARCH_TEXT] = "text",
                                      [AKIDB_SEARCH_HYBRID] = "hybrid"};
  obs_search_observe(modes[a->mode], now_s() - t0, (uint32_t)slots);
  return svc_result(c);
}
