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

/* The checks that need no collection: counts, k, ef, the filter. */
static int check_search(svc_call_t *c, const akidb_search_args_t *a) {
  const akidb_limits_t *l = &c->svc->opt.limits;
  if (a->mode == AKIDB_SEARCH_TEXT) {
    size_t bad;
    if (!a->text.p || a->n_queries)
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                      "mode 'text' searches by 'text' (a string) and takes no 'vector' or "
                      "'vectors'");
    if (a->ef || a->exact)
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                      "'ef' and 'exact' tune the vector index; mode 'text' ranks by BM25");
    if (akidb_text_validate_utf8(a->text.p, a->text.len, &bad))
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "'text' is not valid UTF-8 at byte %zu", bad);
  } else if (a->n_queries == 0 || !a->queries) {
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    a->batch ? "'vectors' must be a non-empty array of vectors"
                    : a->text.p
                        ? "a search by 'text' needs \"mode\": \"text\" (BM25 over the points' text)"
                        : "search needs exactly one of 'vector' (one query) or 'vectors' (a batch)");
  }
  if (a->n_queries > l->max_batch)
    return svc_fail(c, AKIDB_ST_PAYLOAD_TOO_LARGE, "'vectors' holds %zu queries; the limit is %u",
                    a->n_queries, l->max_batch);
  if (a->k > l->max_k)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "field 'k' must be an integer in 1..%u",
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

/* Runs query i into the result. */
static int search_one(svc_call_t *c, const akidb_search_args_t *a, size_t i,
                      const akidb_point_filter_t *pf) {
  char where[48];
  snprintf(where, sizeof where, a->batch ? "vectors[%zu]" : "query", i);
  const akidb_vector_t *q = &a->queries[i];
  if (q->n != c->coll->dim || !q->values)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "%s: the vector has %u values but the collection's dimension is %u", where,
                    q->n, c->coll->dim);
  akidb_search_options_t o = {.k = a->k ? a->k : DEFAULT_K,
                              .ef = a->ef ? a->ef : atomic_load(&c->coll->ef_search),
                              .exact = a->exact,
                              .filter = pf,
                              .include_payload = a->include_payload,
                              .include_vector = a->include_vector};
  if (o.ef < o.k) o.ef = o.k;
  akidb_search_results_t *r = &c->res->result.search;
  char err[256] = "";
  int rc = akidb_collection_search(c->coll->c, q->values, q->n, &o, &r->per_query[i], err,
                                   sizeof err);
  if (rc) return svc_fail_code(c, rc, err);
  r->n = i + 1;
  return 0;
}

/* A text search (BM25) into the result. */
static int search_text(svc_call_t *c, const akidb_search_args_t *a,
                       const akidb_point_filter_t *pf) {
  akidb_search_options_t o = {.k = a->k ? a->k : DEFAULT_K,
                              .filter = pf,
                              .include_payload = a->include_payload,
                              .include_vector = a->include_vector};
  akidb_search_results_t *r = &c->res->result.search;
  char err[256] = "";
  int rc = akidb_collection_text_search(c->coll->c, a->text.p, a->text.len, &o, &r->per_query[0],
                                        err, sizeof err);
  if (rc) return svc_fail_code(c, rc, err);
  r->n = 1;
  return 0;
}

int svc_op_search(svc_call_t *c) {
  const akidb_search_args_t *a = c->req->args;
  if (check_search(c, a)) return -1;
  double t0 = now_s();
  if (resolve_all(c, AKIDB_ACT_SEARCH)) return -1;
  akidb_search_results_t *r = &c->res->result.search;
  size_t slots = a->mode == AKIDB_SEARCH_TEXT ? 1 : a->n_queries;
  if (!(r->per_query = calloc(slots, sizeof *r->per_query)))
    return svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
  r->mode = a->mode;
  r->batch = a->batch;
  r->include_payload = a->include_payload;
  r->dimension = c->coll->dim;
  akidb_point_filter_t pf = {.allow = filter_allow, .ctx = (void *)a->filter};
  if (a->mode == AKIDB_SEARCH_TEXT) {
    if (search_text(c, a, a->filter ? &pf : NULL)) return -1;
    obs_search_observe(now_s() - t0, 1);
    return svc_result(c);
  }
  for (size_t i = 0; i < a->n_queries; i++)
    if (svc_check_deadline(c, "the search ended") || search_one(c, a, i, a->filter ? &pf : NULL))
      return -1;
  obs_search_observe(now_s() - t0, (uint32_t)a->n_queries);
  return svc_result(c);
}
