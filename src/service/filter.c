/*
 * filter.c — owns the payload filter language of search: compiling a JSON
 * filter ({"field": "a.b", "eq": v}, gt/gte/lt/lte, ne, in, and/or/not) into
 * a tree, checked once with messages that say what to fix, and evaluating
 * it against a point's payload text. The tree borrows strings and values
 * from the request body. Evaluation parses the payload with jansson; it is
 * called from the engine's filtered search, so a filter decides which
 * points are candidates rather than trimming a finished top-k.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "service/svc_internal.h"

typedef enum { F_AND, F_OR, F_NOT, F_EQ, F_NE, F_GT, F_GTE, F_LT, F_LTE, F_IN } fkind_t;

struct svc_filter {
  fkind_t kind;
  const char *field; /* dot path (conditions) */
  const json_t *value;
  struct svc_filter **kids;
  size_t nkids;
};

static const char *const OPS[] = {"eq", "ne", "gt", "gte", "lt", "lte", "in", NULL};
static const fkind_t OP_KINDS[] = {F_EQ, F_NE, F_GT, F_GTE, F_LT, F_LTE, F_IN};
#define ALLOWED "field with one of eq, ne, gt, gte, lt, lte, in; or and, or, not"

void svc_filter_free(svc_filter_t *f) {
  if (!f) return;
  for (size_t i = 0; i < f->nkids; i++) svc_filter_free(f->kids[i]);
  free(f->kids);
  free(f);
}

static bool is_scalar(const json_t *v) {
  return json_is_string(v) || json_is_number(v) || json_is_boolean(v) || json_is_null(v);
}

static int compile(svc_call_t *c, const json_t *j, unsigned depth, svc_filter_t **out);

static int compile_list(svc_call_t *c, const json_t *arr, const char *op, unsigned depth,
                        svc_filter_t *f) {
  if (!json_is_array(arr) || json_array_size(arr) == 0)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "filter: '%s' takes a non-empty array of filters", op);
  f->nkids = json_array_size(arr);
  f->kids = calloc(f->nkids, sizeof *f->kids);
  if (!f->kids) return svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
  for (size_t i = 0; i < f->nkids; i++)
    if (compile(c, json_array_get(arr, i), depth + 1, &f->kids[i])) return -1;
  return 0;
}

static int compile_bool(svc_call_t *c, const json_t *j, unsigned depth, svc_filter_t *f) {
  if (json_object_size(j) != 1)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "filter: an 'and', 'or' or 'not' object must have no other key");
  if (json_object_get(j, "and")) {
    f->kind = F_AND;
    return compile_list(c, json_object_get(j, "and"), "and", depth, f);
  }
  if (json_object_get(j, "or")) {
    f->kind = F_OR;
    return compile_list(c, json_object_get(j, "or"), "or", depth, f);
  }
  f->kind = F_NOT;
  f->nkids = 1;
  f->kids = calloc(1, sizeof *f->kids);
  if (!f->kids) return svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
  return compile(c, json_object_get(j, "not"), depth + 1, &f->kids[0]);
}

/* Checks the value an operator takes. */
static int check_value(svc_call_t *c, fkind_t kind, const char *op, const json_t *v) {
  if (kind == F_IN) {
    if (!json_is_array(v) || json_array_size(v) == 0)
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "filter: 'in' takes a non-empty array");
    for (size_t i = 0; i < json_array_size(v); i++)
      if (!is_scalar(json_array_get(v, i)))
        return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                        "filter: 'in' values must be strings, numbers, booleans or null");
    return 0;
  }
  if (kind == F_EQ || kind == F_NE) {
    if (!is_scalar(v))
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                      "filter: '%s' takes a string, number, boolean or null", op);
    return 0;
  }
  if (!json_is_number(v) && !json_is_string(v))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "filter: '%s' takes a number or a string", op);
  return 0;
}

static int compile_condition(svc_call_t *c, const json_t *j, svc_filter_t *f) {
  const json_t *field = json_object_get(j, "field");
  if (!json_is_string(field) || json_string_length(field) == 0 ||
      strlen(json_string_value(field)) != json_string_length(field))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "filter: a condition needs 'field', a non-empty dot path such as "
                    "\"color\" or \"meta.year\"");
  f->field = json_string_value(field);
  const char *key;
  json_t *v;
  int nops = 0;
  json_object_foreach((json_t *)j, key, v) {
    if (strcmp(key, "field") == 0) continue;
    int i = 0;
    while (OPS[i] && strcmp(OPS[i], key) != 0) i++;
    if (!OPS[i])
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "filter: unknown filter operator '%s' (use " ALLOWED ")", key);
    if (++nops > 1)
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                      "filter: a condition takes exactly one operator; combine with 'and'");
    f->kind = OP_KINDS[i];
    f->value = v;
    if (check_value(c, f->kind, key, v)) return -1;
  }
  if (nops == 0)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "filter: the condition on '%s' has no operator (use " ALLOWED ")", f->field);
  return 0;
}

static int compile(svc_call_t *c, const json_t *j, unsigned depth, svc_filter_t **out) {
  if (depth > c->svc->opt.limits.max_filter_depth)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "filter: nested deeper than %u levels",
                    c->svc->opt.limits.max_filter_depth);
  if (!json_is_object(j))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "filter: each filter must be an object (" ALLOWED ")");
  svc_filter_t *f = calloc(1, sizeof *f);
  if (!f) return svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
  *out = f;
  bool boolean = json_object_get(j, "and") || json_object_get(j, "or") || json_object_get(j, "not");
  if (boolean && !json_object_get(j, "field")) return compile_bool(c, j, depth, f);
  return compile_condition(c, j, f);
}

int svc_filter_compile(svc_call_t *c, const json_t *f, svc_filter_t **out) {
  *out = NULL;
  if (compile(c, f, 1, out) == 0) return 0;
  svc_filter_free(*out);
  *out = NULL;
  return -1;
}

/* ---------------------------------------------------------- evaluation -- */

/* The value at a dot path, or NULL. */
static const json_t *lookup(const json_t *obj, const char *path) {
  const json_t *cur = obj;
  while (cur) {
    const char *dot = strchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    if (!json_is_object(cur)) return NULL;
    cur = json_object_getn(cur, path, n);
    if (!dot) return cur;
    path = dot + 1;
  }
  return NULL;
}

static bool scalar_equal(const json_t *a, const json_t *b) {
  if (json_is_number(a) && json_is_number(b))
    return json_number_value(a) == json_number_value(b);
  return json_equal((json_t *)a, (json_t *)b);
}

/* <0, 0, >0 for comparable values; `ok` false when they are not. */
static int compare(const json_t *a, const json_t *b, bool *ok) {
  *ok = true;
  if (json_is_number(a) && json_is_number(b)) {
    double x = json_number_value(a), y = json_number_value(b);
    return (x > y) - (x < y);
  }
  if (json_is_string(a) && json_is_string(b)) {
    size_t la = json_string_length(a), lb = json_string_length(b);
    int r = memcmp(json_string_value(a), json_string_value(b), la < lb ? la : lb);
    return r ? r : (la > lb) - (la < lb);
  }
  *ok = false;
  return 0;
}

/* One condition against one field value (not an array). */
static bool match_one(const svc_filter_t *f, const json_t *v) {
  bool ok;
  int r;
  switch (f->kind) {
  case F_EQ:
    return scalar_equal(v, f->value);
  case F_IN:
    for (size_t i = 0; i < json_array_size(f->value); i++)
      if (scalar_equal(v, json_array_get(f->value, i))) return true;
    return false;
  case F_GT:
    r = compare(v, f->value, &ok);
    return ok && r > 0;
  case F_GTE:
    r = compare(v, f->value, &ok);
    return ok && r >= 0;
  case F_LT:
    r = compare(v, f->value, &ok);
    return ok && r < 0;
  case F_LTE:
    r = compare(v, f->value, &ok);
    return ok && r <= 0;
  default:
    return false;
  }
}

/* A condition matches a field holding an array when any element matches. */
static bool match_condition(const svc_filter_t *f, const json_t *payload) {
  if (f->kind == F_NE) {
    svc_filter_t eq = *f;
    eq.kind = F_EQ;
    return !match_condition(&eq, payload);
  }
  const json_t *v = lookup(payload, f->field);
  if (!v) return false;
  if (!json_is_array(v)) return match_one(f, v);
  for (size_t i = 0; i < json_array_size(v); i++)
    if (match_one(f, json_array_get(v, i))) return true;
  return false;
}

static bool eval(const svc_filter_t *f, const json_t *payload) {
  switch (f->kind) {
  case F_AND:
    for (size_t i = 0; i < f->nkids; i++)
      if (!eval(f->kids[i], payload)) return false;
    return true;
  case F_OR:
    for (size_t i = 0; i < f->nkids; i++)
      if (eval(f->kids[i], payload)) return true;
    return false;
  case F_NOT:
    return !eval(f->kids[0], payload);
  default:
    return match_condition(f, payload);
  }
}

bool svc_filter_match(const svc_filter_t *f, const char *payload, size_t len) {
  json_t *p = payload && len ? json_loadb(payload, len, JSON_DECODE_ANY, NULL) : NULL;
  bool r = eval(f, p ? p : NULL);
  json_decref(p);
  return r;
}
