/*
 * http/codec.c — owns the REST codec of the typed operations (codec.h):
 * per operation a decoder (JSON → arguments, with the structural checks
 * and messages REST has always given: unknown fields, wrong JSON types,
 * missing members) and an encoder (result → JSON). The service checks
 * everything that needs no JSON (limits, ids, dimensions) itself, for
 * every transport. Arguments borrow from the request's JSON and decoded
 * vectors, which live until the answer is encoded. No locking; nothing
 * durable.
 */
#include "http/codec.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "json/json_rules.h"

/* What the decoders read: the JSON side and the transport-neutral request. */
typedef struct {
  const json_t *body;
  const http_float_array_t *floats;
  size_t n_floats;
  const akidb_param_t *query;
  size_t n_query;
  const char *point_id;
  size_t point_id_len;
  const void *raw_body;
  size_t raw_len;
} rest_req_t;

/* Blocks a filter tree is built from, freed together. */
typedef struct block {
  struct block *next;
  max_align_t data[];
} block_t;

/* What a decoder allocates for one request's arguments. */
typedef struct {
  const akidb_limits_t *limits; /* for messages worded as the service's */
  akidb_upsert_args_t upsert;
  akidb_get_args_t get;
  akidb_ids_args_t ids;
  akidb_scan_args_t scan;
  akidb_search_args_t search;
  akidb_embeddings_args_t embeddings;
  akidb_no_args_t none;
  akidb_list_args_t list;
  akidb_tenant_create_args_t tenant_create;
  akidb_tenant_update_args_t tenant_update;
  akidb_database_create_args_t database_create;
  akidb_login_args_t login;
  akidb_user_create_args_t user_create;
  akidb_user_update_args_t user_update;
  akidb_key_create_args_t key_create;
  akidb_audit_args_t audit;
  akidb_restore_args_t restore;
  akidb_import_args_t import;
  akidb_upload_put_args_t upload;
  akidb_dead_letter_args_t dead_letters;
  akidb_collection_create_args_t collection_create;
  akidb_collection_update_args_t collection_update;
  akidb_point_in_t *points;
  akidb_vector_t *queries;
  akidb_bytes_t *id_list;
  float *vecs;      /* vectors the JSON parser left as numbers */
  char **payloads;  /* compact JSON text of each payload */
  size_t n_payloads;
  size_t float_hint; /* where the next decoded vector is likely to be */
  block_t *blocks;
} args_t;

static void args_free(args_t *a) {
  for (size_t i = 0; i < a->n_payloads; i++) free(a->payloads[i]);
  free(a->payloads);
  free(a->points);
  free(a->queries);
  free(a->id_list);
  free(a->vecs);
  while (a->blocks) {
    block_t *b = a->blocks;
    a->blocks = b->next;
    free(b);
  }
}

/* `n` zeroed bytes that live as long as the arguments; NULL when out of memory. */
static void *args_alloc(args_t *a, size_t n) {
  block_t *b = calloc(1, sizeof *b + (n ? n : 1));
  if (!b) return NULL;
  b->next = a->blocks;
  a->blocks = b;
  return b->data;
}

static int oom(akidb_svc_error_t *e) { return jr_fail(e, AKIDB_ST_INTERNAL, "out of memory"); }

/* ------------------------------------------------------------- vectors -- */

/* The parser's float32 decoding of `arr`, if it made one. Vectors come in
 * document order, so the search starts after the last one found. */
static const http_float_array_t *decoded(const rest_req_t *req, args_t *a, const json_t *arr) {
  size_t n = req->n_floats;
  for (size_t k = 0; k < n; k++) {
    size_t i = (a->float_hint + k) % n;
    if (req->floats[i].array == arr) {
      a->float_hint = i + 1;
      return &req->floats[i];
    }
  }
  return NULL;
}

/* A vector of the body: the parser's floats, or numbers converted into
 * `room` (json_array_size floats). */
static int read_vector(const rest_req_t *req, args_t *a, const json_t *arr, float *room,
                       const float **out, uint32_t *n, const char *where, akidb_svc_error_t *e) {
  const http_float_array_t *f =
      json_is_array(arr) && json_array_size(arr) == 0 ? decoded(req, a, arr) : NULL;
  if (f) {
    *out = f->values;
    *n = f->n;
    return 0;
  }
  if (!json_is_array(arr))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "%s: the vector must be an array of numbers",
                   where);
  size_t len = json_array_size(arr);
  for (size_t i = 0; i < len; i++) {
    const json_t *v = json_array_get(arr, i);
    if (!json_is_number(v))
      return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "%s: vector[%zu] is not a number", where, i);
    double d = json_number_value(v);
    if (!isfinite(d) || fabs(d) > FLT_MAX)
      return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "%s: vector[%zu] is not a finite 32-bit float",
                     where, i);
    room[i] = (float)d;
  }
  *out = room;
  *n = (uint32_t)len;
  return 0;
}

/* Numbers the JSON parser did not decode (vectors written in a form it
 * leaves alone): room for all of them. */
static size_t undecoded_floats(const json_t *points) {
  size_t total = 0;
  for (size_t i = 0; i < json_array_size(points); i++) {
    const json_t *v = json_object_get(json_array_get(points, i), "vector");
    if (json_is_array(v)) total += json_array_size(v);
  }
  return total;
}

/* ------------------------------------------------------------- decoders -- */

/* A string id; `where` names it. */
static int read_id(const json_t *id, akidb_bytes_t *out, const char *where, akidb_svc_error_t *e) {
  if (!json_is_string(id))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "%s: 'id' must be a string", where);
  *out = (akidb_bytes_t){json_string_value(id), json_string_length(id)};
  return 0;
}

/* One point object's members, checked for shape. */
static int point_shape(const json_t *p, const char *where, akidb_svc_error_t *e) {
  static const char *const keys[] = {"id", "vector", "payload", "text", NULL};
  if (!json_is_object(p)) return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "%s must be an object", where);
  if (jr_keys(p, where, keys, e)) return -1;
  const json_t *payload = json_object_get(p, "payload"), *text = json_object_get(p, "text");
  if (payload && !json_is_object(payload) && !json_is_null(payload))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "%s: 'payload' must be an object or null", where);
  if (text && !json_is_string(text))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "%s: 'text' must be a string", where);
  return 0;
}

/* Point i of the body into a->points[i]; `room` holds its undecoded numbers. */
static int read_point(const rest_req_t *req, args_t *a, size_t i, const json_t *p,
                      float **room, akidb_svc_error_t *e) {
  char where[48];
  snprintf(where, sizeof where, "points[%zu]", i);
  akidb_point_in_t *pt = &a->points[i];
  const json_t *id = json_object_get(p, "id"), *payload = json_object_get(p, "payload");
  const json_t *text = json_object_get(p, "text"), *vec = json_object_get(p, "vector");
  if (id && read_id(id, &pt->id, where, e)) return -1;
  if (vec && read_vector(req, a, vec, *room, &pt->vector, &pt->n_values, where, e)) return -1;
  if (vec && pt->vector == *room) *room += pt->n_values; /* none: the service says why */
  if (json_is_object(payload)) {
    char *txt = json_dumps(payload, JSON_COMPACT);
    if (!txt) return oom(e);
    a->payloads[a->n_payloads++] = txt;
    pt->payload = (akidb_bytes_t){txt, strlen(txt)};
  }
  if (text) pt->text = (akidb_bytes_t){json_string_value(text), json_string_length(text)};
  return 0;
}

static int decode_upsert(const rest_req_t *req, args_t *a, akidb_svc_error_t *e) {
  static const char *const keys[] = {"points", NULL};
  if (jr_body_object(req->body, "upsert", keys, e)) return -1;
  const json_t *arr = json_object_get(req->body, "points");
  if (!json_is_array(arr))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "upsert needs 'points', an array of points");
  size_t n = json_array_size(arr);
  for (size_t i = 0; i < n; i++) {
    char where[48];
    snprintf(where, sizeof where, "points[%zu]", i);
    if (point_shape(json_array_get(arr, i), where, e)) return -1;
  }
  size_t numbers = undecoded_floats(arr);
  a->points = calloc(n ? n : 1, sizeof *a->points);
  a->payloads = calloc(n ? n : 1, sizeof *a->payloads);
  a->vecs = malloc((numbers ? numbers : 1) * sizeof *a->vecs);
  if (!a->points || !a->payloads || !a->vecs) return oom(e);
  float *room = a->vecs;
  for (size_t i = 0; i < n; i++)
    if (read_point(req, a, i, json_array_get(arr, i), &room, e)) return -1;
  a->upsert = (akidb_upsert_args_t){a->points, n};
  return 0;
}

static int decode_get(const rest_req_t *req, args_t *a, akidb_svc_error_t *e) {
  a->get.id = (akidb_bytes_t){req->point_id, req->point_id_len};
  return jr_query_bool(req->query, req->n_query, "with_vector", &a->get.with_vector, e) < 0 ? -1
                                                                                          : 0;
}

/* ?limit=&after=&with_vector= of a scan page. */
static int decode_scan(const rest_req_t *req, args_t *a, akidb_svc_error_t *e) {
  const char *limit = jr_query(req->query, req->n_query, "limit");
  if (limit) {
    char *end;
    unsigned long v = strtoul(limit, &end, 10);
    if (*end || !*limit || *limit < '0' || *limit > '9' || v < 1 || v > UINT32_MAX)
      return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                     "query parameter 'limit' must be a positive integer (points per page)");
    a->scan.limit = (uint32_t)v;
  }
  a->scan.after = jr_query(req->query, req->n_query, "after");
  return jr_query_bool(req->query, req->n_query, "with_vector", &a->scan.with_vector, e) < 0 ? -1
                                                                                           : 0;
}

/* {"ids": [...]} plus `keys`' other members; `what` names the operation. */
static int decode_ids(const rest_req_t *req, args_t *a, const char *what,
                      const char *const *keys, akidb_svc_error_t *e) {
  if (jr_body_object(req->body, what, keys, e)) return -1;
  const json_t *arr = json_object_get(req->body, "ids");
  if (!json_is_array(arr))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "%s needs 'ids', a non-empty array of ids", what);
  size_t n = json_array_size(arr);
  if (!(a->id_list = malloc((n ? n : 1) * sizeof *a->id_list))) return oom(e);
  for (size_t i = 0; i < n; i++) {
    char where[48];
    snprintf(where, sizeof where, "ids[%zu]", i);
    if (read_id(json_array_get(arr, i), &a->id_list[i], where, e)) return -1;
  }
  a->ids.ids = a->id_list;
  a->ids.n = n;
  return jr_bool(req->body, "with_vector", &a->ids.with_vector, e) < 0 ? -1 : 0;
}

/* ------------------------------------------------------------- filters -- */

#define ALLOWED "field with one of eq, ne, gt, gte, lt, lte, in; or and, or, not"

static const char *const OPS[] = {"eq", "ne", "gt", "gte", "lt", "lte", "in", NULL};
static const akidb_filter_op_t OP_KINDS[] = {AKIDB_FILTER_EQ,  AKIDB_FILTER_NE, AKIDB_FILTER_GT,
                                             AKIDB_FILTER_GTE, AKIDB_FILTER_LT, AKIDB_FILTER_LTE,
                                             AKIDB_FILTER_IN};

/* A JSON scalar as a filter value; false when it is none. */
static bool read_value(const json_t *j, akidb_value_t *v) {
  memset(v, 0, sizeof *v);
  if (json_is_string(j))
    v->kind = AKIDB_VALUE_STRING, v->string = (akidb_bytes_t){json_string_value(j),
                                                               json_string_length(j)};
  else if (json_is_number(j))
    v->kind = AKIDB_VALUE_NUMBER, v->number = json_number_value(j);
  else if (json_is_boolean(j))
    v->kind = AKIDB_VALUE_BOOL, v->boolean = json_is_true(j);
  else if (json_is_null(j))
    v->kind = AKIDB_VALUE_NULL;
  else
    return false;
  return true;
}

/* An operator's JSON value into f->values. */
static int read_values(args_t *a, akidb_filter_node_t *f, const char *op, const json_t *j,
                       akidb_svc_error_t *e) {
  if (f->op != AKIDB_FILTER_IN) {
    akidb_value_t *v = args_alloc(a, sizeof *v);
    if (!v) return oom(e);
    if (!read_value(j, v))
      return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                     f->op == AKIDB_FILTER_EQ || f->op == AKIDB_FILTER_NE
                         ? "filter: '%s' takes a string, number, boolean or null"
                         : "filter: '%s' takes a number or a string",
                     op);
    f->values = v;
    f->n_values = 1;
    return 0;
  }
  if (!json_is_array(j)) return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "filter: 'in' takes a non-empty array");
  size_t n = json_array_size(j);
  akidb_value_t *v = args_alloc(a, (n ? n : 1) * sizeof *v);
  if (!v) return oom(e);
  for (size_t i = 0; i < n; i++)
    if (!read_value(json_array_get(j, i), &v[i]))
      return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                     "filter: 'in' values must be strings, numbers, booleans or null");
  f->values = v;
  f->n_values = n;
  return 0;
}

static int read_filter(args_t *a, const json_t *j, unsigned depth, akidb_filter_node_t *f,
                       akidb_svc_error_t *e);

/* The members of an and/or list into f->kids. */
static int read_list(args_t *a, const json_t *arr, const char *op, unsigned depth,
                     akidb_filter_node_t *f, akidb_svc_error_t *e) {
  if (!json_is_array(arr) || json_array_size(arr) == 0)
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "filter: '%s' takes a non-empty array of filters",
                   op);
  size_t n = json_array_size(arr);
  akidb_filter_node_t *kids = args_alloc(a, n * sizeof *kids);
  if (!kids) return oom(e);
  for (size_t i = 0; i < n; i++)
    if (read_filter(a, json_array_get(arr, i), depth + 1, &kids[i], e)) return -1;
  f->kids = kids;
  f->n_kids = n;
  return 0;
}

static int read_bool(args_t *a, const json_t *j, unsigned depth, akidb_filter_node_t *f,
                     akidb_svc_error_t *e) {
  if (json_object_size(j) != 1)
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                   "filter: an 'and', 'or' or 'not' object must have no other key");
  if (json_object_get(j, "and")) {
    f->op = AKIDB_FILTER_AND;
    return read_list(a, json_object_get(j, "and"), "and", depth, f, e);
  }
  if (json_object_get(j, "or")) {
    f->op = AKIDB_FILTER_OR;
    return read_list(a, json_object_get(j, "or"), "or", depth, f, e);
  }
  f->op = AKIDB_FILTER_NOT;
  akidb_filter_node_t *kid = args_alloc(a, sizeof *kid);
  if (!kid) return oom(e);
  f->kids = kid;
  f->n_kids = 1;
  return read_filter(a, json_object_get(j, "not"), depth + 1, kid, e);
}

static int read_condition(args_t *a, const json_t *j, akidb_filter_node_t *f,
                          akidb_svc_error_t *e) {
  const json_t *field = json_object_get(j, "field");
  if (!json_is_string(field) || json_string_length(field) == 0 ||
      strlen(json_string_value(field)) != json_string_length(field))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                   "filter: a condition needs 'field', a non-empty dot path such as "
                   "\"color\" or \"meta.year\"");
  f->field = (akidb_bytes_t){json_string_value(field), json_string_length(field)};
  const char *key;
  json_t *v;
  int nops = 0;
  json_object_foreach((json_t *)j, key, v) {
    if (strcmp(key, "field") == 0) continue;
    int i = 0;
    while (OPS[i] && strcmp(OPS[i], key) != 0) i++;
    if (!OPS[i])
      return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                     "filter: unknown filter operator '%s' (use " ALLOWED ")", key);
    if (++nops > 1)
      return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                     "filter: a condition takes exactly one operator; combine with 'and'");
    f->op = OP_KINDS[i];
    if (read_values(a, f, key, v, e)) return -1;
  }
  if (nops == 0)
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                   "filter: the condition on '%s' has no operator (use " ALLOWED ")",
                   json_string_value(field));
  return 0;
}

/* One filter object into f; `depth` counts from 1 (its limit is the
 * service's, checked here first so a deep tree is refused before it is
 * walked, and again by the service for every transport). */
static int read_filter(args_t *a, const json_t *j, unsigned depth, akidb_filter_node_t *f,
                       akidb_svc_error_t *e) {
  if (depth > a->limits->max_filter_depth)
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "filter: nested deeper than %u levels",
                   a->limits->max_filter_depth);
  if (!json_is_object(j))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                   "filter: each filter must be an object (" ALLOWED ")");
  bool boolean = json_object_get(j, "and") || json_object_get(j, "or") || json_object_get(j, "not");
  if (boolean && !json_object_get(j, "field")) return read_bool(a, j, depth, f, e);
  return read_condition(a, j, f, e);
}

/* --------------------------------------------------------------- search -- */

/* The queries of a search body: "vector" (one) or "vectors" (a batch). */
static int read_queries(const rest_req_t *req, args_t *a, const json_t *one,
                        const json_t *many, akidb_svc_error_t *e) {
  size_t n = one ? 1 : json_array_size(many), numbers = 0;
  for (size_t i = 0; i < n; i++) {
    const json_t *v = one ? one : json_array_get(many, i);
    if (json_is_array(v)) numbers += json_array_size(v);
  }
  a->queries = calloc(n ? n : 1, sizeof *a->queries);
  a->vecs = malloc((numbers ? numbers : 1) * sizeof *a->vecs);
  if (!a->queries || !a->vecs) return oom(e);
  float *room = a->vecs;
  for (size_t i = 0; i < n; i++) {
    char where[48];
    snprintf(where, sizeof where, one ? "query" : "vectors[%zu]", i);
    akidb_vector_t *q = &a->queries[i];
    if (read_vector(req, a, one ? one : json_array_get(many, i), room, &q->values, &q->n, where,
                    e))
      return -1;
    if (q->values == room) room += q->n;
  }
  a->search.queries = a->queries;
  a->search.n_queries = n;
  return 0;
}

/* k and ef: integers in 1..limit when present (0 stands for absent). */
static int read_count(const json_t *b, const char *key, uint32_t max, uint32_t *out,
                      akidb_svc_error_t *e) {
  uint64_t v;
  int r = jr_u64(b, key, 1, max, &v, e);
  if (r > 0) *out = (uint32_t)v;
  return r < 0 ? -1 : 0;
}

/* "mode" and "text": how the search ranks, and the query text. */
static int read_mode(const json_t *b, akidb_search_args_t *s, akidb_svc_error_t *e) {
  const char *mode = NULL;
  if (jr_string(b, "mode", &mode, e) < 0) return -1;
  if (mode && strcmp(mode, "text") == 0) s->mode = AKIDB_SEARCH_TEXT;
  else if (mode && strcmp(mode, "hybrid") == 0) s->mode = AKIDB_SEARCH_HYBRID;
  else if (mode && strcmp(mode, "vector") != 0)
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                   "field 'mode' must be \"vector\" (nearest vectors), \"text\" (BM25 over the "
                   "points' text) or \"hybrid\" (both, fused)");
  const json_t *text = json_object_get(b, "text");
  if (text && !json_is_string(text))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "field 'text' must be a string");
  if (text) s->text = (akidb_bytes_t){json_string_value(text), json_string_length(text)};
  return 0;
}

static int read_number(const json_t *o, const char *key, const char *where, bool *has,
                       double *out, akidb_svc_error_t *e);

#define FUSION_K_FLOOR 1 /* RRF's k: 1..100000 (service/fusion.h) */

/* "fusion": {"method": "rrf" | "linear", "k", "weights": {"vector",
 * "text"}, "alpha"} (the service checks the ranges). */
static int read_fusion(const json_t *b, akidb_fusion_args_t *f, akidb_svc_error_t *e) {
  static const char *const keys[] = {"method", "k", "weights", "alpha", NULL};
  static const char *const weight_keys[] = {"vector", "text", NULL};
  const json_t *o = json_object_get(b, "fusion");
  if (!o) return 0;
  if (!json_is_object(o))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                   "field 'fusion' must be an object such as {\"method\": \"rrf\", \"k\": 60}");
  if (jr_keys(o, "fusion", keys, e)) return -1;
  const char *method = NULL;
  if (jr_string(o, "method", &method, e) < 0) return -1;
  if (method && strcmp(method, "linear") == 0) f->method = AKIDB_FUSION_LINEAR;
  else if (method && strcmp(method, "rrf") != 0)
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                   "fusion.method must be \"rrf\" (reciprocal rank fusion) or \"linear\" "
                   "(alpha-weighted normalised scores)");
  const json_t *k = json_object_get(o, "k");
  if (k && (!json_is_integer(k) || json_integer_value(k) < FUSION_K_FLOOR ||
            json_integer_value(k) > 100000))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "fusion.k must be an integer in 1..100000");
  if (k) f->rrf_k = (uint32_t)json_integer_value(k);
  const json_t *w = json_object_get(o, "weights");
  bool has_v = false, has_t = false;
  f->weight_vector = f->weight_text = 1;
  if (w && !json_is_object(w))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                   "fusion.weights must be an object {\"vector\", \"text\"}");
  if (w && (jr_keys(w, "fusion.weights", weight_keys, e) ||
            read_number(w, "vector", "fusion.weights", &has_v, &f->weight_vector, e) ||
            read_number(w, "text", "fusion.weights", &has_t, &f->weight_text, e)))
    return -1;
  f->has_weights = w != NULL;
  return read_number(o, "alpha", "fusion", &f->has_alpha, &f->alpha, e);
}

static int decode_search(const rest_req_t *req, args_t *a, akidb_svc_error_t *e) {
  static const char *const keys[] = {"vector", "vectors", "k", "ef", "filter", "include_payload",
                                     "include_vector", "exact", "mode", "text", "fusion",
                                     "candidates", "explain", NULL};
  akidb_search_args_t *s = &a->search;
  s->include_payload = true;
  if (jr_body_object(req->body, "search", keys, e)) return -1;
  const json_t *b = req->body, *one = json_object_get(b, "vector");
  const json_t *many = json_object_get(b, "vectors"), *filter = json_object_get(b, "filter");
  if (read_mode(b, s, e)) return -1;
  if (one && many)
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                   "search needs exactly one of 'vector' (one query) or 'vectors' (a batch)");
  if (many && (!json_is_array(many) || json_array_size(many) == 0))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "'vectors' must be a non-empty array of vectors");
  if (many && json_array_size(many) > a->limits->max_batch)
    return jr_fail(e, AKIDB_ST_PAYLOAD_TOO_LARGE, "'vectors' holds %zu queries; the limit is %u",
                   json_array_size(many), a->limits->max_batch);
  s->batch = many != NULL;
  if (read_count(b, "k", a->limits->max_k, &s->k, e) ||
      read_count(b, "candidates", a->limits->max_k, &s->candidates, e) ||
      jr_bool(b, "explain", &s->explain, e) < 0 || read_fusion(b, &s->fusion, e) ||
      read_count(b, "ef", a->limits->max_ef, &s->ef, e) ||
      jr_bool(b, "include_payload", &s->include_payload, e) < 0 ||
      jr_bool(b, "include_vector", &s->include_vector, e) < 0 ||
      jr_bool(b, "exact", &s->exact, e) < 0)
    return -1;
  if (filter && !json_is_null(filter)) {
    akidb_filter_node_t *root = args_alloc(a, sizeof *root);
    if (!root) return oom(e);
    if (read_filter(a, filter, 1, root, e)) return -1;
    s->filter = root;
  }
  return one || many ? read_queries(req, a, one, many, e) : 0; /* none: the service says why */
}

/* ---------------------------------------------------------- embeddings -- */

static int read_u32(const json_t *o, const char *key, uint64_t min, uint64_t max, bool *has,
                    uint32_t *out, akidb_svc_error_t *e);

/* The OpenAI embeddings request: {"model", "input": string | [strings],
 * "encoding_format"?: "float" | "base64", "dimensions"?, "user"? (ignored)}. */
static int decode_embeddings(const rest_req_t *req, args_t *a, akidb_svc_error_t *e) {
  static const char *const keys[] = {"model", "input", "encoding_format", "dimensions", "user",
                                     NULL};
  akidb_embeddings_args_t *x = &a->embeddings;
  const char *format = NULL;
  bool has_dim = false;
  if (jr_body_object(req->body, "embeddings", keys, e) ||
      jr_string(req->body, "model", &x->model, e) < 0 ||
      jr_string(req->body, "encoding_format", &format, e) < 0 ||
      read_u32(req->body, "dimensions", 1, AKIDB_DIM_MAX, &has_dim, &x->dimensions, e))
    return -1;
  if (format && strcmp(format, "base64") != 0 && strcmp(format, "float") != 0)
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                   "field 'encoding_format' must be \"float\" or \"base64\"");
  x->base64 = format && strcmp(format, "base64") == 0;
  const json_t *in = json_object_get(req->body, "input");
  bool one = json_is_string(in);
  if (!one && !json_is_array(in))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                   "'input' must be a string or an array of strings (token arrays are not "
                   "supported)");
  size_t n = one ? 1 : json_array_size(in);
  a->id_list = calloc(n ? n : 1, sizeof *a->id_list);
  if (!a->id_list) return oom(e);
  for (size_t i = 0; i < n; i++) {
    const json_t *t = one ? in : json_array_get(in, i);
    if (!json_is_string(t))
      return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                     "input[%zu] must be a string (token arrays are not supported)", i);
    a->id_list[i] = (akidb_bytes_t){json_string_value(t), json_string_length(t)};
  }
  x->inputs = a->id_list;
  x->n = n;
  return 0;
}

/* ----------------------------------------------- tenants and databases -- */

/* Reads one quota field (present: in range, marked). */
static int read_quota(const json_t *o, const char *key, uint64_t max, bool *has, uint64_t *v,
                      akidb_svc_error_t *e) {
  int r = jr_u64(o, key, 0, max, v, e);
  if (r > 0) *has = true;
  return r < 0 ? -1 : 0;
}

/* The optional "quotas" object of a tenant body. */
static int read_quotas(const json_t *body, akidb_quota_fields_t *q, akidb_svc_error_t *e) {
  static const char *const keys[] = {"max_memory_bytes", "max_storage_bytes", "max_qps",
                                     "max_collections", NULL};
  const json_t *o = json_object_get(body, "quotas");
  if (!o) return 0;
  if (!json_is_object(o))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "field 'quotas' must be an object");
  if (jr_keys(o, "quotas", keys, e)) return -1;
  uint64_t qps = 0, colls = 0;
  q->present = true;
  if (read_quota(o, "max_memory_bytes", AKIDB_QUOTA_BYTES_MAX, &q->has_max_memory_bytes,
                 &q->values.max_memory_bytes, e) ||
      read_quota(o, "max_storage_bytes", AKIDB_QUOTA_BYTES_MAX, &q->has_max_storage_bytes,
                 &q->values.max_storage_bytes, e) ||
      read_quota(o, "max_qps", AKIDB_QUOTA_QPS_MAX, &q->has_max_qps, &qps, e) ||
      read_quota(o, "max_collections", AKIDB_QUOTA_COLLECTIONS_MAX, &q->has_max_collections,
                 &colls, e))
    return -1;
  q->values.max_qps = (uint32_t)qps;
  q->values.max_collections = (uint32_t)colls;
  return 0;
}

/* A tenant status text (already checked to be a string), or NULL. */
static int parse_status(const char *text, bool *has, akidb_tenant_status_t *out,
                        akidb_svc_error_t *e) {
  if (!text) return 0;
  if (akidb_tenant_status_parse(text, out))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                   "field 'status' must be one of provisioning, active, suspended, "
                   "decommissioned");
  *has = true;
  return 0;
}

static int decode_tenant_create(const rest_req_t *req, args_t *a, akidb_svc_error_t *e) {
  static const char *const keys[] = {"slug", "name", "status", "quotas", NULL};
  akidb_tenant_create_args_t *t = &a->tenant_create;
  const char *status = NULL;
  if (jr_body_object(req->body, "tenant", keys, e) ||
      jr_string(req->body, "slug", &t->slug, e) < 0 ||
      jr_string(req->body, "name", &t->name, e) < 0 ||
      jr_string(req->body, "status", &status, e) < 0 || read_quotas(req->body, &t->quotas, e) ||
      parse_status(status, &t->has_status, &t->status, e))
    return -1;
  return 0;
}

static int decode_tenant_update(const rest_req_t *req, args_t *a, akidb_svc_error_t *e) {
  static const char *const keys[] = {"name", "status", "quotas", NULL};
  akidb_tenant_update_args_t *t = &a->tenant_update;
  const char *status = NULL;
  if (jr_body_object(req->body, "tenant update", keys, e) ||
      jr_string(req->body, "name", &t->name, e) < 0 ||
      jr_string(req->body, "status", &status, e) < 0 || read_quotas(req->body, &t->quotas, e) ||
      parse_status(status, &t->has_status, &t->status, e))
    return -1;
  return 0;
}

static int decode_database_create(const rest_req_t *req, args_t *a, akidb_svc_error_t *e) {
  static const char *const keys[] = {"name", NULL};
  if (jr_body_object(req->body, "database", keys, e) ||
      jr_string(req->body, "name", &a->database_create.name, e) < 0)
    return -1;
  return 0;
}

/* ---------------------------------------------------------- collections -- */

/* A u32 field in min..max into *out, marking *has; 0 absent, -1 bad. */
static int read_u32(const json_t *o, const char *key, uint64_t min, uint64_t max, bool *has,
                    uint32_t *out, akidb_svc_error_t *e) {
  uint64_t v;
  int r = jr_u64(o, key, min, max, &v, e);
  if (r > 0) *has = true, *out = (uint32_t)v;
  return r < 0 ? -1 : 0;
}

/* The "index" object of a create or update body (REST's messages). */
static int read_index(const json_t *body, bool update, const akidb_limits_t *l,
                      akidb_collection_create_args_t *c, akidb_svc_error_t *e) {
  static const char *const create_keys[] = {"m", "ef_construction", "ef_search", NULL};
  static const char *const update_keys[] = {"ef_search", NULL};
  const json_t *o = json_object_get(body, "index");
  if (!o) return 0;
  if (!json_is_object(o))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "field 'index' must be an object");
  if (jr_keys(o, update ? "index (only ef_search can change)" : "index",
              update ? update_keys : create_keys, e))
    return -1;
  if (read_u32(o, "m", AKIDB_HNSW_M_MIN, AKIDB_HNSW_M_MAX, &c->has_m, &c->m, e) ||
      read_u32(o, "ef_construction", AKIDB_HNSW_EF_CONSTRUCTION_MIN,
               AKIDB_HNSW_EF_CONSTRUCTION_MAX, &c->has_ef_construction, &c->ef_construction, e) ||
      read_u32(o, "ef_search", AKIDB_HNSW_EF_SEARCH_MIN, l->max_ef, &c->has_ef_search,
               &c->ef_search, e))
    return -1;
  uint32_t m = c->has_m ? c->m : AKIDB_HNSW_M_DEFAULT;
  uint32_t efc = c->has_ef_construction ? c->ef_construction : AKIDB_HNSW_EF_CONSTRUCTION_DEFAULT;
  if (efc < m)
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "index.ef_construction (%u) must be >= m (%u)",
                   efc, m);
  return 0;
}

/* A number field into *out, marking *has; 0 absent (or fine), -1 not a number. */
static int read_number(const json_t *o, const char *key, const char *where, bool *has,
                       double *out, akidb_svc_error_t *e) {
  const json_t *v = json_object_get(o, key);
  if (!v) return 0;
  if (!json_is_number(v))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "field '%s.%s' must be a number", where, key);
  *has = true;
  *out = json_number_value(v);
  return 0;
}

/* The "text" object of a create body: the BM25 parameters (the service
 * checks their ranges). */
static int read_text_params(const json_t *body, akidb_collection_create_args_t *c,
                            akidb_svc_error_t *e) {
  static const char *const keys[] = {"k1", "b", NULL};
  const json_t *o = json_object_get(body, "text");
  if (!o) return 0;
  if (!json_is_object(o))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                   "field 'text' must be an object: {\"k1\": 1.2, \"b\": 0.75} (BM25)");
  if (jr_keys(o, "text", keys, e)) return -1;
  return read_number(o, "k1", "text", &c->has_bm25_k1, &c->bm25_k1, e) ||
                 read_number(o, "b", "text", &c->has_bm25_b, &c->bm25_b, e)
             ? -1
             : 0;
}

/* The "embedding" object of a create body, read by the catalog's own
 * reader (src/embed/spec.c); the service checks it against the collection. */
static int read_embedding(const json_t *body, args_t *a, akidb_collection_create_args_t *c,
                          akidb_svc_error_t *e) {
  const json_t *o = json_object_get(body, "embedding");
  if (!o || json_is_null(o)) return 0;
  if (!json_is_object(o))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                   "field 'embedding' must be an object such as {\"provider\": \"builtin\"}");
  akidb_embed_spec_t *spec = args_alloc(a, sizeof *spec);
  char *text = json_dumps(o, JSON_COMPACT);
  if (!spec || !text) {
    free(text);
    return oom(e);
  }
  char err[512] = "";
  int rc = akidb_embed_spec_from_json(text, strlen(text), spec, err, sizeof err);
  free(text);
  if (rc) return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "%s", err);
  c->embedding = spec;
  return 0;
}

static int decode_collection_create(const rest_req_t *req, args_t *a, akidb_svc_error_t *e) {
  static const char *const keys[] = {"name", "dimension", "metric", "index", "text", "embedding",
                                     NULL};
  akidb_collection_create_args_t *c = &a->collection_create;
  const char *metric = NULL;
  bool has_dim = false;
  if (jr_body_object(req->body, "collection", keys, e) ||
      jr_string(req->body, "name", &c->name, e) < 0 ||
      jr_string(req->body, "metric", &metric, e) < 0 ||
      read_u32(req->body, "dimension", 1, a->limits->max_dimension, &has_dim, &c->dimension, e) ||
      read_index(req->body, false, a->limits, c, e) || read_text_params(req->body, c, e) ||
      read_embedding(req->body, a, c, e))
    return -1;
  if (metric && akidb_metric_parse(metric, &c->metric))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "field 'metric' must be cosine, l2 or dot");
  c->has_metric = metric != NULL;
  return 0;
}

static int decode_collection_update(const rest_req_t *req, args_t *a, akidb_svc_error_t *e) {
  static const char *const keys[] = {"index", "tier", "tier_pinned", NULL};
  akidb_collection_update_args_t *u = &a->collection_update;
  akidb_collection_create_args_t index = {0};
  const char *tier = NULL;
  if (jr_body_object(req->body, "collection update", keys, e) ||
      read_index(req->body, true, a->limits, &index, e) ||
      jr_string(req->body, "tier", &tier, e) < 0)
    return -1;
  u->has_ef_search = index.has_ef_search;
  u->ef_search = index.ef_search;
  if (tier && akidb_tier_parse(tier, &u->tier))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                   "field 'tier' must be \"hot\" (in memory), \"warm\" (on local disk) or "
                   "\"cold\" (only in the object store)");
  u->has_tier = tier != NULL;
  int r = jr_bool(req->body, "tier_pinned", &u->pinned, e);
  if (r < 0) return -1;
  u->has_pin = r == 1;
  return 0;
}

/* ------------------------------------------------------------- identity -- */

static int decode_login(const rest_req_t *req, args_t *a, akidb_svc_error_t *e) {
  static const char *const keys[] = {"tenant", "username", "password", NULL};
  akidb_login_args_t *l = &a->login;
  if (jr_body_object(req->body, "login", keys, e) ||
      jr_string(req->body, "tenant", &l->tenant, e) < 0 ||
      jr_string(req->body, "username", &l->username, e) < 0 ||
      jr_string(req->body, "password", &l->password, e) < 0)
    return -1;
  return 0;
}

/* A role text into *role (system_admin parses: the service refuses it). */
static int parse_role(const char *text, bool *has, akidb_role_t *role, akidb_svc_error_t *e) {
  if (!text) return 0;
  if (akidb_role_parse(text, role))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                   "field 'role' must be one of admin, developer, viewer, auditor");
  *has = true;
  return 0;
}

static int decode_user_create(const rest_req_t *req, args_t *a, akidb_svc_error_t *e) {
  static const char *const keys[] = {"username", "role", "password", NULL};
  akidb_user_create_args_t *u = &a->user_create;
  const char *role = NULL;
  if (jr_body_object(req->body, "user", keys, e) ||
      jr_string(req->body, "username", &u->username, e) < 0 ||
      jr_string(req->body, "role", &role, e) < 0 ||
      jr_string(req->body, "password", &u->password, e) < 0)
    return -1;
  if (!u->username || !role) return 0; /* the service says what is missing */
  return parse_role(role, &u->has_role, &u->role, e);
}

static int decode_user_update(const rest_req_t *req, args_t *a, akidb_svc_error_t *e) {
  static const char *const keys[] = {"role", "status", "password", NULL};
  akidb_user_update_args_t *u = &a->user_update;
  const char *role = NULL, *status = NULL;
  if (jr_body_object(req->body, "user update", keys, e) ||
      jr_string(req->body, "role", &role, e) < 0 ||
      jr_string(req->body, "status", &status, e) < 0 ||
      jr_string(req->body, "password", &u->password, e) < 0 ||
      parse_role(role, &u->has_role, &u->role, e))
    return -1;
  if (status && akidb_user_status_parse(status, &u->status))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "field 'status' must be active or disabled");
  u->has_status = status != NULL;
  return 0;
}

static int decode_key_create(const rest_req_t *req, args_t *a, akidb_svc_error_t *e) {
  static const char *const keys[] = {"name", "expires_at", NULL};
  akidb_key_create_args_t *k = &a->key_create;
  const char *expires = NULL;
  if (jr_body_object(req->body, "API key", keys, e) ||
      jr_string(req->body, "name", &k->name, e) < 0 ||
      jr_string(req->body, "expires_at", &expires, e) < 0)
    return -1;
  if (!k->name) return 0; /* the service says it is missing */
  if (expires && jr_parse_time(expires, &k->expires_at_ms))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                   "field 'expires_at' must be an RFC 3339 time such as 2027-01-01T00:00:00Z");
  return 0;
}

/* The audit query's parameters: action, actor, from, to, order, limit, after. */
static int decode_audit(const rest_req_t *req, args_t *a, akidb_svc_error_t *e) {
  akidb_audit_query_t *q = &a->audit.query;
  const akidb_param_t *p = req->query;
  size_t n = req->n_query;
  const char *v;
  if ((v = jr_query(p, n, "action")) && akidb_audit_action_parse(v, &q->action))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                   "query parameter 'action' is not an audit action (e.g. tenant.create, "
                   "login.failure)");
  q->by_action = v != NULL;
  q->actor = jr_query(p, n, "actor");
  if ((v = jr_query(p, n, "from")) && jr_parse_time(v, &q->from_ms))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "query parameter 'from' must be an RFC 3339 time");
  if ((v = jr_query(p, n, "to")) && jr_parse_time(v, &q->to_ms))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "query parameter 'to' must be an RFC 3339 time");
  if ((v = jr_query(p, n, "order"))) {
    if (strcmp(v, "newest") && strcmp(v, "oldest"))
      return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                     "query parameter 'order' must be newest or oldest");
    q->newest_first = strcmp(v, "newest") == 0;
  }
  const char *after = jr_query(p, n, "after");
  if ((v = jr_query(p, n, "limit"))) {
    char *end;
    long lim = strtol(v, &end, 10);
    if (*end || !*v || lim < 1 || lim > (long)AKIDB_LIST_LIMIT_MAX)
      return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                     "query parameter 'limit' must be an integer in 1..%u", AKIDB_LIST_LIMIT_MAX);
    q->limit = (uint32_t)lim;
  }
  if (after) {
    char *end;
    long long seq = strtoll(after, &end, 10);
    if (*end || seq < 1)
      return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                     "query parameter 'after' must be the 'next' cursor of a previous page");
    q->cursor = seq;
  }
  return 0;
}

/* ------------------------------------------------------------ snapshots -- */

/* A snapshot's body is empty or {} (nothing to choose yet). */
static int decode_snapshot_create(const rest_req_t *req, akidb_svc_error_t *e) {
  static const char *const keys[] = {NULL};
  return req->body ? jr_body_object(req->body, "snapshot", keys, e) : 0;
}

/* An optional body: {"database", "collection", "replace"}. */
static int decode_restore(const rest_req_t *req, args_t *a, akidb_svc_error_t *e) {
  static const char *const keys[] = {"database", "collection", "replace", NULL};
  akidb_restore_args_t *r = &a->restore;
  if (!req->body) return 0;
  if (jr_body_object(req->body, "restore", keys, e) ||
      jr_string(req->body, "database", &r->database, e) < 0 ||
      jr_string(req->body, "collection", &r->collection, e) < 0 ||
      jr_bool(req->body, "replace", &r->replace, e) < 0)
    return -1;
  return 0;
}

/* ----------------------------------------------------- uploads, system -- */

static int decode_import(const rest_req_t *req, args_t *a, akidb_svc_error_t *e) {
  static const char *const keys[] = {"upload",         "id_column",     "vector_column",
                                     "text_column",    "payload_column", "extra_columns",
                                     NULL};
  akidb_import_args_t *i = &a->import;
  if (jr_body_object(req->body, "import", keys, e) ||
      jr_string(req->body, "upload", &i->upload, e) < 0 ||
      jr_string(req->body, "id_column", &i->id_column, e) < 0 ||
      jr_string(req->body, "vector_column", &i->vector_column, e) < 0 ||
      jr_string(req->body, "text_column", &i->text_column, e) < 0 ||
      jr_string(req->body, "payload_column", &i->payload_column, e) < 0)
    return -1;
  int r = jr_bool(req->body, "extra_columns", &i->extra_columns, e);
  if (r < 0) return -1;
  i->has_extra_columns = r == 1;
  return 0;
}

/* "limit" 1..1000 and "after" (a non-negative integer) of the query. */
static int decode_dead_letters(const rest_req_t *req, args_t *a, akidb_svc_error_t *e) {
  const char *l = jr_query(req->query, req->n_query, "limit");
  const char *after = jr_query(req->query, req->n_query, "after");
  char *end = NULL;
  unsigned long long limit = 0;
  long long cursor = 0;
  if (l && (!*l || (limit = strtoull(l, &end, 10), *end) || limit == 0 || limit > 1000))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "query parameter 'limit' must be 1..1000");
  if (after && (!*after || (cursor = strtoll(after, &end, 10), *end) || cursor < 0))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "query parameter 'after' must be the 'next' "
                   "of the previous page (a non-negative integer)");
  a->dead_letters.limit = (uint32_t)limit;
  a->dead_letters.after = cursor;
  return 0;
}

static int decode_list(const rest_req_t *req, args_t *a, akidb_svc_error_t *e) {
  return jr_query_page(req->query, req->n_query, &a->list.page, e);
}

/* The arguments of `op` into a; *args points at them (NULL for none). */
static int decode(akidb_op_t op, const rest_req_t *req, args_t *a, const void **args,
                  akidb_svc_error_t *e) {
  static const char *const get_keys[] = {"ids", "with_vector", NULL};
  static const char *const delete_keys[] = {"ids", NULL};
  *args = &a->none;
  switch (op) {
  case AKIDB_OP_HEALTH:
  case AKIDB_OP_READY:
  case AKIDB_OP_POINT_COUNT:
  case AKIDB_OP_TENANT_GET:
  case AKIDB_OP_TENANT_DELETE:
  case AKIDB_OP_DATABASE_GET:
  case AKIDB_OP_DATABASE_DELETE:
  case AKIDB_OP_COLLECTION_GET:
  case AKIDB_OP_COLLECTION_DELETE:
  case AKIDB_OP_LOGOUT:
  case AKIDB_OP_WHOAMI:
  case AKIDB_OP_USER_GET:
  case AKIDB_OP_USER_DELETE:
  case AKIDB_OP_KEY_REVOKE:
    return 0;
  case AKIDB_OP_SNAPSHOT_GET:
  case AKIDB_OP_SNAPSHOT_DELETE:
  case AKIDB_OP_UPLOAD_LIST:
  case AKIDB_OP_UPLOAD_DELETE:
  case AKIDB_OP_SYSTEM_OBJECT_STORE:
    return 0;
  case AKIDB_OP_UPLOAD_PUT:
    a->upload = (akidb_upload_put_args_t){req->raw_body, req->raw_len};
    *args = &a->upload;
    return 0;
  case AKIDB_OP_POINT_IMPORT:
    *args = &a->import;
    return decode_import(req, a, e);
  case AKIDB_OP_SYSTEM_DEAD_LETTERS:
    *args = &a->dead_letters;
    return decode_dead_letters(req, a, e);
  case AKIDB_OP_SNAPSHOT_CREATE:
    return decode_snapshot_create(req, e);
  case AKIDB_OP_SNAPSHOT_RESTORE:
    *args = &a->restore;
    return decode_restore(req, a, e);
  case AKIDB_OP_SNAPSHOT_LIST:
  case AKIDB_OP_SNAPSHOT_LIST_COLLECTION:
    *args = &a->list;
    return decode_list(req, a, e);
  case AKIDB_OP_LOGIN:
    *args = &a->login;
    return decode_login(req, a, e);
  case AKIDB_OP_USER_CREATE:
    *args = &a->user_create;
    return decode_user_create(req, a, e);
  case AKIDB_OP_USER_UPDATE:
    *args = &a->user_update;
    return decode_user_update(req, a, e);
  case AKIDB_OP_KEY_CREATE:
    *args = &a->key_create;
    return decode_key_create(req, a, e);
  case AKIDB_OP_AUDIT_TENANT:
  case AKIDB_OP_AUDIT_ALL:
    *args = &a->audit;
    return decode_audit(req, a, e);
  case AKIDB_OP_USER_LIST:
  case AKIDB_OP_KEY_LIST:
    *args = &a->list;
    return decode_list(req, a, e);
  case AKIDB_OP_COLLECTION_CREATE:
    *args = &a->collection_create;
    return decode_collection_create(req, a, e);
  case AKIDB_OP_COLLECTION_UPDATE:
    *args = &a->collection_update;
    return decode_collection_update(req, a, e);
  case AKIDB_OP_TENANT_LIST:
  case AKIDB_OP_DATABASE_LIST:
  case AKIDB_OP_COLLECTION_LIST:
    *args = &a->list;
    return decode_list(req, a, e);
  case AKIDB_OP_TENANT_CREATE:
    *args = &a->tenant_create;
    return decode_tenant_create(req, a, e);
  case AKIDB_OP_TENANT_UPDATE:
    *args = &a->tenant_update;
    return decode_tenant_update(req, a, e);
  case AKIDB_OP_DATABASE_CREATE:
    *args = &a->database_create;
    return decode_database_create(req, a, e);
  case AKIDB_OP_POINT_UPSERT:
    *args = &a->upsert;
    return decode_upsert(req, a, e);
  case AKIDB_OP_POINT_GET:
    *args = &a->get;
    return decode_get(req, a, e);
  case AKIDB_OP_POINT_GET_MANY:
    *args = &a->ids;
    return decode_ids(req, a, "get", get_keys, e);
  case AKIDB_OP_POINT_DELETE:
    *args = &a->ids;
    return decode_ids(req, a, "delete", delete_keys, e);
  case AKIDB_OP_POINT_SCAN:
    *args = &a->scan;
    return decode_scan(req, a, e);
  case AKIDB_OP_SEARCH:
    *args = &a->search;
    return decode_search(req, a, e);
  case AKIDB_OP_EMBEDDINGS:
    *args = &a->embeddings;
    return decode_embeddings(req, a, e);
  default:
    return jr_fail(e, AKIDB_ST_INTERNAL, "no REST decoder for %s", akidb_op_name(op));
  }
}

/* ------------------------------------------------------------- encoders -- */

static json_t *bytes_json(akidb_bytes_t b) { return json_stringn(b.p, b.len); }

static json_t *encode_upsert(const akidb_upsert_result_t *r) {
  json_t *ids = json_array();
  for (size_t i = 0; ids && i < r->n; i++) json_array_append_new(ids, bytes_json(r->ids[i]));
  return ids ? json_pack("{s:I,s:o}", "upserted", (json_int_t)r->n, "ids", ids) : NULL;
}

static json_t *encode_points(const akidb_points_result_t *r) {
  json_t *points = json_array(), *missing = json_array();
  for (size_t i = 0; points && i < r->n; i++)
    json_array_append_new(points, jr_point(&r->points[i], r->dimension, true));
  for (size_t i = 0; missing && i < r->n_missing; i++)
    json_array_append_new(missing, bytes_json(r->missing[i]));
  if (!points || !missing) {
    json_decref(points);
    json_decref(missing);
    return NULL;
  }
  return json_pack("{s:o,s:o}", "points", points, "missing", missing);
}

/* {"points": [...], "next": cursor or null}. */
static json_t *encode_scan(const akidb_scan_result_t *r) {
  json_t *points = json_array();
  for (size_t i = 0; points && i < r->page.n; i++)
    json_array_append_new(points, jr_point(&r->page.points[i], r->page.dimension, true));
  if (!points) return NULL;
  return json_pack("{s:o,s:o}", "points", points, "next",
                   r->next[0] ? json_string(r->next) : json_null());
}

/* One query's hits: [{"id", "payload"?, "text"?, "vector"?, "distance"}]
 * ("score" instead of "distance" for a text search). */
static json_t *encode_hits(const akidb_search_result_t *r, const akidb_search_results_t *s) {
  json_t *hits = json_array();
  for (uint32_t i = 0; hits && i < r->n; i++) {
    json_t *h = jr_point(&r->hits[i], s->dimension, s->include_payload);
    if (!h) {
      json_decref(hits);
      return NULL;
    }
    if (s->mode != AKIDB_SEARCH_VECTOR) json_object_set_new(h, "score", json_real(r->hits[i].score));
    else json_object_set_new(h, "distance", json_real(r->hits[i].distance));
    const akidb_hit_explain_t *x = s->explain ? &s->explain[i] : NULL;
    if (x)
      json_object_set_new(
          h, "explain",
          json_pack("{s:o,s:o}", "vector",
                    x->vector_rank ? json_pack("{s:i,s:f}", "rank", (int)x->vector_rank,
                                               "distance", (double)x->distance)
                                   : json_null(),
                    "text",
                    x->text_rank ? json_pack("{s:i,s:f}", "rank", (int)x->text_rank, "score",
                                             (double)x->text_score)
                                 : json_null()));
    json_array_append_new(hits, h);
  }
  return hits;
}

/* {"results": hits} for one query, {"batches": [{"results": hits}, ...]}. */
static json_t *encode_search(const akidb_search_results_t *s) {
  if (!s->batch) return s->n ? json_pack("{s:o}", "results", encode_hits(&s->per_query[0], s)) : NULL;
  json_t *batches = json_array();
  for (size_t i = 0; batches && i < s->n; i++)
    json_array_append_new(batches,
                          json_pack("{s:o}", "results", encode_hits(&s->per_query[i], s)));
  return batches ? json_pack("{s:o}", "batches", batches) : NULL;
}

/* One embedding: a JSON array of floats, or base64 of their little-endian bytes. */
static json_t *embedding_json(const float *v, uint32_t dim, bool base64) {
  if (!base64) {
    json_t *arr = json_array();
    for (uint32_t i = 0; arr && i < dim; i++) json_array_append_new(arr, json_real(v[i]));
    return arr;
  }
  size_t bytes = (size_t)dim * 4;
  unsigned char *raw = malloc(bytes);
  char *text = malloc(4 * ((bytes + 2) / 3) + 1);
  json_t *out = NULL;
  if (raw && text) {
    for (uint32_t i = 0; i < dim; i++) {
      uint32_t u;
      memcpy(&u, &v[i], 4);
      for (int b = 0; b < 4; b++) raw[4 * i + b] = (unsigned char)(u >> (8 * b));
    }
    EVP_EncodeBlock((unsigned char *)text, raw, (int)bytes);
    out = json_string(text);
  }
  free(raw);
  free(text);
  return out;
}

/* The OpenAI embeddings answer. */
static json_t *encode_embeddings(const akidb_embeddings_result_t *r) {
  json_t *data = json_array();
  for (size_t i = 0; data && i < r->n; i++)
    json_array_append_new(
        data, json_pack("{s:s,s:I,s:o}", "object", "embedding", "index", (json_int_t)i,
                        "embedding",
                        embedding_json(r->vectors + i * r->dimension, r->dimension, r->base64)));
  return json_pack("{s:s,s:o,s:s,s:{s:I,s:I}}", "object", "list", "data", data, "model", r->model,
                   "usage", "prompt_tokens", (json_int_t)r->tokens, "total_tokens",
                   (json_int_t)r->tokens);
}

static json_t *encode_database(const akidb_database_t *d, const char *slug) {
  return json_pack("{s:o,s:s,s:s,s:s,s:o,s:o}", "id", jr_uuid(&d->id), "tenant", slug, "name",
                   d->name, "state", akidb_database_state_name(d->state), "created_at",
                   jr_time(d->created_at_ms, false), "updated_at", jr_time(d->updated_at_ms, false));
}

static json_t *encode_tenants(const akidb_tenant_list_t *l) {
  json_t *items = json_array();
  for (size_t i = 0; items && i < l->count; i++) json_array_append_new(items, jr_tenant(&l->items[i]));
  return jr_list(items, l->has_more, &l->next);
}

static json_t *encode_databases(const akidb_databases_result_t *r) {
  json_t *items = json_array();
  for (size_t i = 0; items && i < r->list.count; i++)
    json_array_append_new(items, encode_database(&r->list.items[i], r->tenant));
  return jr_list(items, r->list.has_more, &r->list.next);
}

/* A collection as REST shows it. */
static json_t *encode_collection(const akidb_collection_view_t *v) {
  const akidb_collection_meta_t *m = &v->meta;
  json_t *o = json_pack(
      "{s:o,s:s,s:s,s:s,s:i,s:s,s:{s:i,s:i,s:i},s:s,s:b,s:b,s:I,s:I,s:I,s:I,s:o,s:o,s:o}", "id",
      jr_uuid(&m->id), "tenant", v->tenant, "database", v->database, "name", m->name,
      "dimension", (int)m->dimension, "metric", akidb_metric_name(m->metric), "index", "m",
      (int)m->hnsw_m, "ef_construction", (int)m->hnsw_ef_construction, "ef_search",
      (int)m->hnsw_ef_search, "tier", v->resident ? "hot" : v->cold ? "cold" : "warm",
      "tier_pinned", (int)m->tier_policy.pinned, "resident", (int)v->resident, "points",
      (json_int_t)v->points, "pending", (json_int_t)v->pending, "memory_bytes",
      (json_int_t)v->memory_bytes, "disk_bytes", (json_int_t)v->disk_bytes, "last_access",
      jr_time(v->last_access_wall_ms, true), "created_at", jr_time(m->created_at_ms, false),
      "updated_at", jr_time(m->updated_at_ms, false));
  if (o) json_object_set_new(o, "text", json_pack("{s:f,s:f}", "k1", m->bm25_k1, "b", m->bm25_b));
  if (o) {
    json_t *emb = m->embedding_json[0] ? json_loads(m->embedding_json, 0, NULL) : NULL;
    json_object_set_new(o, "embedding", emb ? emb : json_null());
  }
  if (o && v->failed) json_object_set_new(o, "load_error", json_string(v->load_error));
  return o;
}

static json_t *encode_collections(const akidb_collections_result_t *r) {
  json_t *items = json_array();
  for (size_t i = 0; items && i < r->count; i++)
    json_array_append_new(items, encode_collection(&r->items[i]));
  return jr_list(items, r->has_more, &r->next);
}

static json_t *encode_principal(const akidb_principal_t *p, const char *tenant_slug) {
  return json_pack("{s:o,s:s,s:s,s:o}", "id", jr_uuid(&p->user_id), "username", p->username,
                   "role", akidb_role_name(p->role), "tenant",
                   tenant_slug && *tenant_slug ? json_string(tenant_slug) : json_null());
}

static json_t *encode_login(const akidb_login_result_t *r) {
  return json_pack("{s:s,s:o,s:o}", "token", r->token, "expires_at",
                   jr_time(r->expires_at_ms, true), "user", encode_principal(&r->principal, r->tenant));
}

static json_t *encode_whoami(const akidb_whoami_result_t *r) {
  return json_pack("{s:o,s:s,s:o}", "user", encode_principal(&r->who, r->tenant), "credential",
                   r->who.kind == AKIDB_CRED_SESSION ? "session" : "api_key", "expires_at",
                   jr_time(r->who.expires_at_ms, true));
}

static json_t *encode_users(const akidb_users_result_t *r) {
  json_t *items = json_array();
  for (size_t i = 0; items && i < r->list.count; i++)
    json_array_append_new(items, jr_user(&r->list.items[i], r->tenant));
  return jr_list(items, r->list.has_more, &r->list.next);
}

static json_t *encode_key(const akidb_api_key_t *k, const char *username) {
  return json_pack("{s:o,s:s,s:s,s:s,s:o,s:o,s:o,s:o}", "id", jr_uuid(&k->id), "name", k->name,
                   "prefix", k->prefix, "user", username, "created_at",
                   jr_time(k->created_at_ms, false), "expires_at", jr_time(k->expires_at_ms, true),
                   "last_used_at", jr_time(k->last_used_ms, true), "revoked_at",
                   jr_time(k->revoked_at_ms, true));
}

static json_t *encode_keys(const akidb_keys_result_t *r) {
  json_t *items = json_array();
  for (size_t i = 0; items && i < r->list.count; i++)
    json_array_append_new(items, encode_key(&r->list.items[i], r->username));
  return jr_list(items, r->list.has_more, &r->list.next);
}

static json_t *encode_audit_entry(const akidb_audit_entry_t *e, const char *slug) {
  json_t *details = json_loads(e->details, 0, NULL);
  return json_pack("{s:I,s:o,s:s,s:o,s:o,s:s,s:s,s:s,s:s,s:o}", "seq", (json_int_t)e->seq, "time",
                   jr_time(e->time_ms, false), "actor", e->actor, "actor_id",
                   e->has_actor ? jr_uuid(&e->actor_id) : json_null(), "tenant",
                   e->has_tenant ? (*slug ? json_string(slug) : jr_uuid(&e->tenant_id))
                                 : json_null(),
                   "action", akidb_audit_action_name(e->action), "target", e->target, "outcome",
                   akidb_audit_outcome_name(e->outcome), "request_id", e->request_id, "details",
                   details ? details : json_object());
}

/* The audit page; its cursor is a sequence number, as text. */
static json_t *encode_audit(const akidb_audit_result_t *r) {
  json_t *items = json_array();
  for (size_t i = 0; items && i < r->list.count; i++)
    json_array_append_new(items, encode_audit_entry(&r->list.items[i], r->tenant));
  char next[32];
  snprintf(next, sizeof next, "%lld", (long long)r->list.next_seq);
  return items ? json_pack("{s:o,s:o}", "items", items, "next",
                           r->list.has_more ? json_string(next) : json_null())
               : NULL;
}

static json_t *encode_snapshot(const akidb_snapshot_t *s, const char *tenant_slug) {
  json_t *o = json_pack("{s:o,s:s,s:s,s:s,s:o,s:s,s:I,s:I,s:I,s:o,s:o}", "id", jr_uuid(&s->id),
                        "tenant", tenant_slug, "database", s->database_name, "collection",
                        s->collection_name, "collection_id", jr_uuid(&s->collection_id),
                        "state", akidb_snapshot_state_name(s->state), "points",
                        (json_int_t)s->points, "log_seq", (json_int_t)s->log_seq, "bytes",
                        (json_int_t)s->bytes, "created_at", jr_time(s->created_at_ms, false),
                        "updated_at", jr_time(s->updated_at_ms, false));
  if (o && s->state == AKIDB_SNAPSHOT_FAILED) json_object_set_new(o, "error", json_string(s->error));
  return o;
}

static json_t *encode_snapshots(const akidb_snapshots_result_t *r) {
  json_t *items = json_array();
  for (size_t i = 0; items && i < r->list.count; i++)
    json_array_append_new(items, encode_snapshot(&r->list.items[i], r->tenant));
  return jr_list(items, r->list.has_more, &r->list.next);
}

static json_t *encode_restore(const akidb_restore_result_t *r) {
  return json_pack("{s:o,s:s,s:s,s:I,s:b}", "snapshot", jr_uuid(&r->snapshot), "database",
                   r->database, "collection", r->collection, "points", (json_int_t)r->points,
                   "replaced", (int)r->replaced);
}

static json_t *encode_uploads(const akidb_uploads_result_t *r) {
  json_t *items = json_array();
  for (size_t i = 0; items && i < r->count; i++)
    json_array_append_new(items, json_pack("{s:s,s:I,s:o}", "name", r->items[i].name, "bytes",
                                           (json_int_t)r->items[i].bytes, "modified_at",
                                           jr_time(r->items[i].modified_at_ms, false)));
  return items ? json_pack("{s:o}", "items", items) : NULL;
}

static json_t *encode_upload(const akidb_upload_t *u) {
  char crc[16];
  snprintf(crc, sizeof crc, "%08" PRIx32, u->crc32c);
  return json_pack("{s:s,s:I,s:s}", "name", u->name, "bytes", (json_int_t)u->bytes, "crc32c", crc);
}

static json_t *encode_object_store(const akidb_object_store_result_t *r) {
  const akidb_objstore_stats_t *st = &r->stats;
  return json_pack("{s:s,s:s,s:{s:s,s:I,s:I,s:I},s:I}", "kind", r->kind, "endpoint",
                   r->endpoint, "breaker", "state",
                   akidb_objstore_breaker_state_name(st->breaker_state), "consecutive_failures",
                   (json_int_t)st->consecutive_failures, "opens", (json_int_t)st->breaker_opens,
                   "probes", (json_int_t)st->breaker_probes, "dead_letters",
                   (json_int_t)r->dead_letters);
}

static json_t *encode_dead_letter(const akidb_dead_letter_t *d) {
  json_t *o = json_pack("{s:I,s:s,s:s,s:I,s:s,s:o,s:o}", "seq", (json_int_t)d->seq, "kind",
                        akidb_dead_letter_kind_name(d->kind), "object_key", d->object_key,
                        "attempts", (json_int_t)d->attempts, "last_error", d->last_error,
                        "created_at", jr_time(d->created_at_ms, false), "next_attempt_at",
                        jr_time(d->next_attempt_at_ms, false));
  if (o)
    json_object_set_new(o, "collection_id",
                        d->has_collection ? jr_uuid(&d->collection_id) : json_null());
  return o;
}

static json_t *encode_dead_letters(const akidb_dead_letter_list_t *l) {
  json_t *items = json_array();
  for (size_t i = 0; items && i < l->count; i++)
    json_array_append_new(items, encode_dead_letter(&l->items[i]));
  return items ? json_pack("{s:o,s:o}", "items", items, "next",
                           l->has_more ? json_integer(l->next_seq) : json_null())
               : NULL;
}

/* The JSON of a typed result; NULL when out of memory. */
static json_t *encode(akidb_op_t op, const akidb_result_t *r) {
  switch (op) {
  case AKIDB_OP_HEALTH:
  case AKIDB_OP_READY:
    return json_pack("{s:s}", "status", r->probe);
  case AKIDB_OP_POINT_COUNT:
    return json_pack("{s:I}", "count", (json_int_t)r->count);
  case AKIDB_OP_POINT_DELETE:
    return json_pack("{s:I}", "deleted", (json_int_t)r->count);
  case AKIDB_OP_POINT_UPSERT:
    return encode_upsert(&r->upsert);
  case AKIDB_OP_POINT_GET:
    return r->points.n ? jr_point(&r->points.points[0], r->points.dimension, true) : NULL;
  case AKIDB_OP_POINT_GET_MANY:
    return encode_points(&r->points);
  case AKIDB_OP_POINT_SCAN:
    return encode_scan(&r->scan);
  case AKIDB_OP_SEARCH:
    return encode_search(&r->search);
  case AKIDB_OP_EMBEDDINGS:
    return encode_embeddings(&r->embeddings);
  case AKIDB_OP_TENANT_LIST:
    return encode_tenants(&r->tenants);
  case AKIDB_OP_TENANT_CREATE:
  case AKIDB_OP_TENANT_GET:
  case AKIDB_OP_TENANT_UPDATE:
    return jr_tenant(&r->tenant);
  case AKIDB_OP_DATABASE_LIST:
    return encode_databases(&r->databases);
  case AKIDB_OP_DATABASE_CREATE:
  case AKIDB_OP_DATABASE_GET:
    return encode_database(&r->database.db, r->database.tenant);
  case AKIDB_OP_SNAPSHOT_CREATE:
  case AKIDB_OP_SNAPSHOT_GET:
    return encode_snapshot(&r->snapshot.snapshot, r->snapshot.tenant);
  case AKIDB_OP_SNAPSHOT_LIST:
  case AKIDB_OP_SNAPSHOT_LIST_COLLECTION:
    return encode_snapshots(&r->snapshots);
  case AKIDB_OP_SNAPSHOT_RESTORE:
    return encode_restore(&r->restore);
  case AKIDB_OP_POINT_IMPORT:
    return json_pack("{s:s,s:I}", "upload", r->import.upload, "imported",
                     (json_int_t)r->import.imported);
  case AKIDB_OP_UPLOAD_LIST:
    return encode_uploads(&r->uploads);
  case AKIDB_OP_UPLOAD_PUT:
    return encode_upload(&r->upload);
  case AKIDB_OP_SYSTEM_OBJECT_STORE:
    return encode_object_store(&r->object_store);
  case AKIDB_OP_SYSTEM_DEAD_LETTERS:
    return encode_dead_letters(&r->dead_letters.list);
  case AKIDB_OP_LOGIN:
    return encode_login(&r->login);
  case AKIDB_OP_WHOAMI:
    return encode_whoami(&r->whoami);
  case AKIDB_OP_USER_LIST:
    return encode_users(&r->users);
  case AKIDB_OP_USER_CREATE:
  case AKIDB_OP_USER_GET:
  case AKIDB_OP_USER_UPDATE:
    return jr_user(&r->user.user, r->user.tenant);
  case AKIDB_OP_KEY_LIST:
    return encode_keys(&r->keys);
  case AKIDB_OP_KEY_CREATE:
    return json_pack("{s:o,s:s}", "key", encode_key(&r->key.key, r->key.username), "secret",
                     r->key.secret);
  case AKIDB_OP_AUDIT_TENANT:
  case AKIDB_OP_AUDIT_ALL:
    return encode_audit(&r->audit);
  case AKIDB_OP_COLLECTION_LIST:
    return encode_collections(&r->collections);
  case AKIDB_OP_COLLECTION_CREATE:
  case AKIDB_OP_COLLECTION_GET:
  case AKIDB_OP_COLLECTION_UPDATE:
    return encode_collection(&r->collection);
  default:
    return NULL;
  }
}

/* ----------------------------------------------------------------- call -- */

/* The decoder's view of a request. */
static rest_req_t rest_of(const akidb_request_t *req, const http_json_t *json) {
  return (rest_req_t){.body = json ? json->body : NULL,
                      .floats = json ? json->floats : NULL,
                      .n_floats = json ? json->n_floats : 0,
                      .query = req->query,
                      .n_query = req->n_query,
                      .point_id = req->point_id,
                      .point_id_len = req->point_id_len,
                      .raw_body = req->raw_body,
                      .raw_len = req->raw_len};
}

int http_codec_decode_only(akidb_op_t op, const akidb_limits_t *limits,
                           const akidb_request_t *req, const http_json_t *json,
                           akidb_svc_error_t *e) {
  rest_req_t rest = rest_of(req, json);
  args_t a = {.limits = limits};
  const void *args = NULL;
  memset(e, 0, sizeof *e);
  int rc = decode(op, &rest, &a, &args, e) ? -1 : 0;
  args_free(&a);
  return rc;
}

json_t *http_codec_call(akidb_service_t *svc, akidb_op_t op, akidb_request_t *req,
                        const http_json_t *json, akidb_response_t *out) {
  memset(out, 0, sizeof *out);
  out->op = op;
  rest_req_t rest = rest_of(req, json);
  args_t a = {.limits = akidb_service_limits(svc)};
  const void *args = NULL;
  akidb_svc_error_t e = {0};
  if (decode(op, &rest, &a, &args, &e)) {
    out->status = e.status;
    out->error = e;
    args_free(&a);
    return NULL;
  }
  req->args = args;
  akidb_service_call(svc, op, req, out);
  req->args = NULL;
  json_t *answer = NULL;
  if (akidb_status_is_ok(out->status) && out->status != AKIDB_ST_DONE) {
    answer = encode(op, &out->result);
    if (!answer) {
      out->status = AKIDB_ST_INTERNAL;
      snprintf(out->error.message, sizeof out->error.message,
               "out of memory while encoding the answer");
    }
  }
  args_free(&a);
  return answer;
}
