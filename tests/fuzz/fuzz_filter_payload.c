/*
 * tests/fuzz/fuzz_filter_payload.c — libFuzzer harness for the payload
 * reader of src/filter/ (payload.c) and the filter match on it (filter.c).
 * An input is "path\npayload" (a path of at most 64 bytes before the
 * first newline; without one, the whole input is the payload). The
 * payload is read at that path and at a few fixed ones, and compared with
 * jansson, whose json_loadb the reader must agree with: the same text
 * refused, the same value found (kind, number, string bytes, array
 * elements). A crash, a sanitizer report or a disagreement is a bug.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter/filter.h"
#include "filter/payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* jansson's value at a dot path, as filter.c looked it up before. */
static const json_t *lookup(const json_t *cur, const char *p, size_t n) {
  const char *end = p + n;
  while (cur) {
    const char *dot = n ? memchr(p, '.', (size_t)(end - p)) : NULL;
    size_t len = dot ? (size_t)(dot - p) : (size_t)(end - p);
    if (!json_is_object(cur)) return NULL;
    cur = json_object_getn(cur, p, len);
    if (!dot) return cur;
    p = dot + 1;
  }
  return NULL;
}

static void same(const payload_value_t *v, const json_t *j, unsigned depth) {
  switch (v->kind) {
  case PAYLOAD_NULL:
    if (!json_is_null(j)) abort();
    return;
  case PAYLOAD_BOOL:
    if (!json_is_boolean(j) || payload_bool(v) != json_is_true(j)) abort();
    return;
  case PAYLOAD_NUMBER:
    if (!json_is_number(j) || payload_number(v) != json_number_value(j)) abort();
    return;
  case PAYLOAD_STRING:
    if (!json_is_string(j) ||
        payload_string_cmp(v, json_string_value(j), json_string_length(j)) != 0)
      abort();
    return;
  case PAYLOAD_OBJECT:
    if (!json_is_object(j)) abort();
    return;
  case PAYLOAD_ARRAY:
    if (!json_is_array(j)) abort();
    if (depth > 64) return;
    payload_iter_t it = payload_elements(v);
    payload_value_t e;
    size_t i = 0;
    for (; payload_next(&it, &e); i++) {
      if (i >= json_array_size(j)) abort();
      same(&e, json_array_get(j, i), depth + 1);
    }
    if (i != json_array_size(j)) abort();
    return;
  }
  abort();
}

/* The reader and jansson at one path; then the filter, for crashes. */
static void check_path(const char *text, size_t len, const json_t *root, const char *path,
                       size_t n) {
  payload_t pl;
  payload_value_t v;
  payload_init(&pl, text, len);
  bool found = payload_find(&pl, path, n, &v);
  const json_t *j = lookup(root, path, n);
  if (found != (j != NULL)) abort();
  if (found) same(&v, j, 0);
  if (n == 0) return; /* filter_check refuses an empty field */
  akidb_value_t vals[] = {{.kind = AKIDB_VALUE_NUMBER, .number = 1},
                          {.kind = AKIDB_VALUE_STRING, .string = {"a", 1}},
                          {.kind = AKIDB_VALUE_BOOL, .boolean = true},
                          {.kind = AKIDB_VALUE_NULL}};
  akidb_filter_node_t conds[] = {
      {.op = AKIDB_FILTER_IN, .field = {path, n}, .values = vals, .n_values = 4},
      {.op = AKIDB_FILTER_GTE, .field = {path, n}, .values = &vals[0], .n_values = 1},
      {.op = AKIDB_FILTER_LT, .field = {path, n}, .values = &vals[1], .n_values = 1},
      {.op = AKIDB_FILTER_NE, .field = {"a", 1}, .values = &vals[0], .n_values = 1}};
  akidb_filter_node_t any = {.op = AKIDB_FILTER_OR, .kids = conds, .n_kids = 4};
  (void)filter_match(&any, text, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *in = (const char *)data, *text = in;
  const char *nl = memchr(in, '\n', size < 65 ? size : 65);
  size_t len = size;
  if (nl) {
    text = nl + 1;
    len = size - (size_t)(text - in);
  }
  json_t *root = len ? json_loadb(text, len, JSON_DECODE_ANY, NULL) : NULL;
  if (nl) check_path(text, len, root, in, (size_t)(nl - in));
  static const char *const paths[] = {"a", "a.b", "", "meta.year", "s", "n"};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
    check_path(text, len, root, paths[i], strlen(paths[i]));
  json_decref(root);
  return 0;
}
