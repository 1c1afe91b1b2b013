/*
 * filter/filter.c — owns the payload filter's rules and evaluation on its
 * typed tree (filter.h): the checks every transport's filter gets, and the
 * match of one payload, called by the engine's filtered search for each
 * candidate (so a filter decides which points are candidates rather than
 * trimming a finished top-k). Evaluation reads the payload's JSON text
 * with jansson. No state; no locking.
 */
#include "filter/filter.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int fail(akidb_svc_error_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(akidb_svc_error_t *e, const char *fmt, ...) {
  e->status = AKIDB_ST_INVALID_ARGUMENT;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  return -1;
}

static const char *op_name(akidb_filter_op_t op) {
  static const char *const names[] = {"and", "or",  "not", "eq", "ne",
                                      "gt",  "gte", "lt",  "lte", "in"};
  return (unsigned)op < sizeof names / sizeof names[0] ? names[op] : "?";
}

/* ------------------------------------------------------------- checking -- */

static int check_condition(const akidb_filter_node_t *f, akidb_svc_error_t *e) {
  if (!f->field.p || f->field.len == 0 || memchr(f->field.p, '\0', f->field.len))
    return fail(e, "filter: a condition needs 'field', a non-empty dot path such as "
                   "\"color\" or \"meta.year\"");
  if (f->op == AKIDB_FILTER_IN) {
    if (f->n_values == 0) return fail(e, "filter: 'in' takes a non-empty array");
    return 0;
  }
  if (f->n_values != 1 || !f->values)
    return fail(e, "filter: '%s' takes one value", op_name(f->op));
  bool range = f->op != AKIDB_FILTER_EQ && f->op != AKIDB_FILTER_NE;
  akidb_value_kind_t k = f->values[0].kind;
  if (range && k != AKIDB_VALUE_NUMBER && k != AKIDB_VALUE_STRING)
    return fail(e, "filter: '%s' takes a number or a string", op_name(f->op));
  return 0;
}

static int check(const akidb_filter_node_t *f, unsigned depth, uint32_t max_depth,
                 akidb_svc_error_t *e) {
  if (depth > max_depth) return fail(e, "filter: nested deeper than %u levels", max_depth);
  switch (f->op) {
  case AKIDB_FILTER_AND:
  case AKIDB_FILTER_OR:
    if (f->n_kids == 0 || !f->kids)
      return fail(e, "filter: '%s' takes a non-empty array of filters", op_name(f->op));
    for (size_t i = 0; i < f->n_kids; i++)
      if (check(&f->kids[i], depth + 1, max_depth, e)) return -1;
    return 0;
  case AKIDB_FILTER_NOT:
    if (f->n_kids != 1 || !f->kids) return fail(e, "filter: 'not' takes one filter");
    return check(&f->kids[0], depth + 1, max_depth, e);
  case AKIDB_FILTER_EQ:
  case AKIDB_FILTER_NE:
  case AKIDB_FILTER_GT:
  case AKIDB_FILTER_GTE:
  case AKIDB_FILTER_LT:
  case AKIDB_FILTER_LTE:
  case AKIDB_FILTER_IN:
    return check_condition(f, e);
  default:
    return fail(e, "filter: unknown filter operator %d", (int)f->op);
  }
}

int filter_check(const akidb_filter_node_t *f, uint32_t max_depth, akidb_svc_error_t *e) {
  return f ? check(f, 1, max_depth, e) : 0;
}

/* ----------------------------------------------------------- evaluation -- */

/* The value at a dot path, or NULL. */
static const json_t *lookup(const json_t *obj, akidb_bytes_t path) {
  const char *p = path.p, *end = path.p + path.len;
  const json_t *cur = obj;
  while (cur) {
    const char *dot = memchr(p, '.', (size_t)(end - p));
    size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);
    if (!json_is_object(cur)) return NULL;
    cur = json_object_getn(cur, p, n);
    if (!dot) return cur;
    p = dot + 1;
  }
  return NULL;
}

static bool equal(const json_t *v, const akidb_value_t *x) {
  switch (x->kind) {
  case AKIDB_VALUE_NULL:
    return json_is_null(v);
  case AKIDB_VALUE_BOOL:
    return json_is_boolean(v) && json_is_true(v) == x->boolean;
  case AKIDB_VALUE_NUMBER:
    return json_is_number(v) && json_number_value(v) == x->number;
  case AKIDB_VALUE_STRING:
    return json_is_string(v) && json_string_length(v) == x->string.len &&
           memcmp(json_string_value(v), x->string.p, x->string.len) == 0;
  }
  return false;
}

/* <0, 0, >0 for comparable values; `ok` false when they are not. */
static int compare(const json_t *v, const akidb_value_t *x, bool *ok) {
  *ok = true;
  if (json_is_number(v) && x->kind == AKIDB_VALUE_NUMBER) {
    double a = json_number_value(v), b = x->number;
    return (a > b) - (a < b);
  }
  if (json_is_string(v) && x->kind == AKIDB_VALUE_STRING) {
    size_t la = json_string_length(v), lb = x->string.len;
    int r = memcmp(json_string_value(v), x->string.p, la < lb ? la : lb);
    return r ? r : (la > lb) - (la < lb);
  }
  *ok = false;
  return 0;
}

/* One condition against one field value (not an array). */
static bool match_one(const akidb_filter_node_t *f, const json_t *v) {
  bool ok;
  int r;
  switch (f->op) {
  case AKIDB_FILTER_EQ:
    return equal(v, &f->values[0]);
  case AKIDB_FILTER_IN:
    for (size_t i = 0; i < f->n_values; i++)
      if (equal(v, &f->values[i])) return true;
    return false;
  case AKIDB_FILTER_GT:
    r = compare(v, &f->values[0], &ok);
    return ok && r > 0;
  case AKIDB_FILTER_GTE:
    r = compare(v, &f->values[0], &ok);
    return ok && r >= 0;
  case AKIDB_FILTER_LT:
    r = compare(v, &f->values[0], &ok);
    return ok && r < 0;
  case AKIDB_FILTER_LTE:
    r = compare(v, &f->values[0], &ok);
    return ok && r <= 0;
  default:
    return false;
  }
}

/* A condition matches a field holding an array when any element matches. */
static bool match_condition(const akidb_filter_node_t *f, const json_t *payload) {
  if (f->op == AKIDB_FILTER_NE) {
    akidb_filter_node_t eq = *f;
    eq.op = AKIDB_FILTER_EQ;
    return !match_condition(&eq, payload);
  }
  const json_t *v = lookup(payload, f->field);
  if (!v) return false;
  if (!json_is_array(v)) return match_one(f, v);
  for (size_t i = 0; i < json_array_size(v); i++)
    if (match_one(f, json_array_get(v, i))) return true;
  return false;
}

static bool eval(const akidb_filter_node_t *f, const json_t *payload) {
  switch (f->op) {
  case AKIDB_FILTER_AND:
    for (size_t i = 0; i < f->n_kids; i++)
      if (!eval(&f->kids[i], payload)) return false;
    return true;
  case AKIDB_FILTER_OR:
    for (size_t i = 0; i < f->n_kids; i++)
      if (eval(&f->kids[i], payload)) return true;
    return false;
  case AKIDB_FILTER_NOT:
    return !eval(&f->kids[0], payload);
  default:
    return match_condition(f, payload);
  }
}

bool filter_match(const akidb_filter_node_t *f, const char *payload, size_t len) {
  json_t *p = payload && len ? json_loadb(payload, len, JSON_DECODE_ANY, NULL) : NULL;
  bool r = eval(f, p);
  json_decref(p);
  return r;
}
