/*
 * filter/filter.c — owns the payload filter's rules and evaluation on its
 * typed tree (filter.h): the checks every transport's filter gets, and the
 * match of one payload, called by the engine's filtered search for each
 * candidate (so a filter decides which points are candidates rather than
 * trimming a finished top-k). Evaluation reads the payload's JSON text
 * where it lies, through the path-directed reader of payload.c: no tree,
 * no allocation, the text checked once per match and taken as jansson
 * would take it. No state; no locking; nothing durable.
 */
#include "filter/filter.h"

#include "filter/payload.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define fail(e, ...) akidb_svc_error_set((e), AKIDB_ST_INVALID_ARGUMENT, __VA_ARGS__)

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

/* `num` is v's number when v is one (read once per value). */
static bool equal(const payload_value_t *v, double num, const akidb_value_t *x) {
  switch (x->kind) {
  case AKIDB_VALUE_NULL:
    return v->kind == PAYLOAD_NULL;
  case AKIDB_VALUE_BOOL:
    return v->kind == PAYLOAD_BOOL && payload_bool(v) == x->boolean;
  case AKIDB_VALUE_NUMBER:
    return v->kind == PAYLOAD_NUMBER && num == x->number;
  case AKIDB_VALUE_STRING:
    return v->kind == PAYLOAD_STRING && payload_string_cmp(v, x->string.p, x->string.len) == 0;
  }
  return false;
}

/* <0, 0, >0 for comparable values; `ok` false when they are not. */
static int compare(const payload_value_t *v, double num, const akidb_value_t *x, bool *ok) {
  *ok = true;
  if (v->kind == PAYLOAD_NUMBER && x->kind == AKIDB_VALUE_NUMBER) {
    double b = x->number;
    return (num > b) - (num < b);
  }
  if (v->kind == PAYLOAD_STRING && x->kind == AKIDB_VALUE_STRING)
    return payload_string_cmp(v, x->string.p, x->string.len);
  *ok = false;
  return 0;
}

/* One condition against one field value (not an array). */
static bool match_one(const akidb_filter_node_t *f, const payload_value_t *v) {
  double num = v->kind == PAYLOAD_NUMBER ? payload_number(v) : 0;
  bool ok;
  int r;
  switch (f->op) {
  case AKIDB_FILTER_EQ:
    return equal(v, num, &f->values[0]);
  case AKIDB_FILTER_IN:
    for (size_t i = 0; i < f->n_values; i++)
      if (equal(v, num, &f->values[i])) return true;
    return false;
  case AKIDB_FILTER_GT:
    r = compare(v, num, &f->values[0], &ok);
    return ok && r > 0;
  case AKIDB_FILTER_GTE:
    r = compare(v, num, &f->values[0], &ok);
    return ok && r >= 0;
  case AKIDB_FILTER_LT:
    r = compare(v, num, &f->values[0], &ok);
    return ok && r < 0;
  case AKIDB_FILTER_LTE:
    r = compare(v, num, &f->values[0], &ok);
    return ok && r <= 0;
  default:
    return false;
  }
}

/* A condition matches a field holding an array when any element matches. */
static bool match_condition(const akidb_filter_node_t *f, payload_t *pl) {
  if (f->op == AKIDB_FILTER_NE) {
    akidb_filter_node_t eq = *f;
    eq.op = AKIDB_FILTER_EQ;
    return !match_condition(&eq, pl);
  }
  payload_value_t v;
  if (!payload_find(pl, f->field.p, f->field.len, &v)) return false;
  if (v.kind != PAYLOAD_ARRAY) return match_one(f, &v);
  payload_iter_t it = payload_elements(&v);
  payload_value_t e;
  while (payload_next(&it, &e))
    if (match_one(f, &e)) return true;
  return false;
}

static bool eval(const akidb_filter_node_t *f, payload_t *pl) {
  switch (f->op) {
  case AKIDB_FILTER_AND:
    for (size_t i = 0; i < f->n_kids; i++)
      if (!eval(&f->kids[i], pl)) return false;
    return true;
  case AKIDB_FILTER_OR:
    for (size_t i = 0; i < f->n_kids; i++)
      if (eval(&f->kids[i], pl)) return true;
    return false;
  case AKIDB_FILTER_NOT:
    return !eval(&f->kids[0], pl);
  default:
    return match_condition(f, pl);
  }
}

bool filter_match(const akidb_filter_node_t *f, const char *payload, size_t len) {
  payload_t pl;
  payload_init(&pl, payload, len);
  return eval(f, &pl);
}
