/*
 * filter/payload.h — reading one value of a point's payload (JSON text)
 * at a dot path without building a tree and without allocating. Internal
 * to src/filter/ (and its tests and fuzz harness).
 *
 * The text is taken as jansson's json_loadb would take it: a payload
 * jansson refuses (malformed text, invalid UTF-8, "\u0000", integers
 * outside int64, reals that overflow a double, nesting deeper than 2048,
 * anything after the object) and a payload that is no object have no
 * fields. A key given twice names its last value, as in jansson. Like
 * jansson, one NUL byte right after a number or a literal is skipped (its
 * lexer reads that byte ahead and loses it).
 */
#ifndef AKIDB_FILTER_PAYLOAD_H
#define AKIDB_FILTER_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
  PAYLOAD_UNCHECKED, /* not read yet */
  PAYLOAD_VALID,     /* a JSON object jansson accepts */
  PAYLOAD_INVALID,   /* anything else: no fields */
} payload_state_t;

/* One payload being read. The first payload_find checks the whole text;
 * the later ones trust it. Not thread-safe: one per evaluation. */
typedef struct {
  const char *text;
  size_t len;
  payload_state_t state;
} payload_t;

typedef enum {
  PAYLOAD_NULL,
  PAYLOAD_BOOL,
  PAYLOAD_NUMBER,
  PAYLOAD_STRING,
  PAYLOAD_ARRAY,
  PAYLOAD_OBJECT,
} payload_kind_t;

/* A value inside a checked payload: its kind and its text (a string's
 * with the quotes, a container's with its brackets). */
typedef struct {
  payload_kind_t kind;
  const char *p, *end;
} payload_value_t;

/* The elements of an array value, one at a time. */
typedef struct {
  const char *p, *end;
} payload_iter_t;

/* `text` (len bytes; NULL or empty: no payload) to read. */
void payload_init(payload_t *pl, const char *text, size_t len);

/* The value at the dot path `path` (n bytes: segments split at '.', each a
 * key of an object, "" included). false when the payload has no such
 * field (or is not a valid JSON object). */
bool payload_find(payload_t *pl, const char *path, size_t n, payload_value_t *out);

/* A BOOL value's truth. */
bool payload_bool(const payload_value_t *v);

/* A NUMBER value as a double, as strtod reads its text. */
double payload_number(const payload_value_t *v);

/* A STRING value's bytes, escapes decoded to UTF-8, against `s` (n bytes):
 * <0, 0, >0 as memcmp on the common length, then the shorter first. */
int payload_string_cmp(const payload_value_t *v, const char *s, size_t n);

/* Starts iterating an ARRAY value; payload_next gives each element in
 * order and false after the last. */
payload_iter_t payload_elements(const payload_value_t *array);
bool payload_next(payload_iter_t *it, payload_value_t *out);

#endif /* AKIDB_FILTER_PAYLOAD_H */
