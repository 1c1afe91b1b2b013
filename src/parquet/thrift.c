/*
 * parquet/thrift.c — the Thrift compact protocol as Parquet's footer and
 * page headers use it (structs, i16/i32/i64 as zigzag varints, binary,
 * lists, bools folded into field headers), plus the growable byte buffer
 * and error formatting the module shares.
 *
 * The decoder never reads outside its buffer, bounds nesting at
 * PQ_THRIFT_MAX_DEPTH and a list's count by the bytes left (every element
 * takes at least one byte), so a hostile footer cannot make it recurse or
 * allocate without limit. Locking: none (values on the caller's stack).
 * Durability: none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/pq_internal.h"

int pq_fail(char *err, size_t errlen, int code, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* ------------------------------------------------------------- buffer -- */

bool pq_buf_reserve(pq_buf_t *b, size_t more) {
  if (b->oom) return false;
  if (more <= b->cap - b->len) return true;
  size_t want = b->len + more;
  if (want < b->len) goto oom;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < want) {
    if (cap > SIZE_MAX / 2) {
      cap = want;
      break;
    }
    cap *= 2;
  }
  uint8_t *p = realloc(b->data, cap);
  if (!p) goto oom;
  b->data = p;
  b->cap = cap;
  return true;
oom:
  b->oom = true;
  return false;
}

void pq_buf_put(pq_buf_t *b, const void *p, size_t n) {
  if (n == 0 || !pq_buf_reserve(b, n)) return;
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

void pq_buf_byte(pq_buf_t *b, uint8_t v) {
  if (!pq_buf_reserve(b, 1)) return;
  b->data[b->len++] = v;
}

void pq_buf_u32le(pq_buf_t *b, uint32_t v) {
  uint8_t t[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                  (uint8_t)(v >> 24)};
  pq_buf_put(b, t, 4);
}

void pq_buf_varint(pq_buf_t *b, uint64_t v) {
  uint8_t t[10];
  size_t n = 0;
  while (v >= 0x80) {
    t[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  t[n++] = (uint8_t)v;
  pq_buf_put(b, t, n);
}

void pq_buf_free(pq_buf_t *b) {
  free(b->data);
  memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------ encoder -- */

static uint64_t zigzag(int64_t v) {
  return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

void pq_tw_init(pq_tw_t *w, pq_buf_t *out) {
  memset(w, 0, sizeof *w);
  w->out = out;
  w->depth = -1;
}

void pq_tw_struct_begin(pq_tw_t *w) {
  if (w->depth + 1 >= PQ_THRIFT_MAX_DEPTH) {
    w->out->oom = true; /* the writer's structures never nest this deep */
    return;
  }
  w->last[++w->depth] = 0;
}

void pq_tw_struct_end(pq_tw_t *w) {
  pq_buf_byte(w->out, PQ_T_STOP);
  if (w->depth >= 0) w->depth--;
}

void pq_tw_field(pq_tw_t *w, int16_t id, int type) {
  int16_t last = w->depth >= 0 ? w->last[w->depth] : 0;
  int delta = id - last;
  if (delta > 0 && delta <= 15) {
    pq_buf_byte(w->out, (uint8_t)(delta << 4 | type));
  } else {
    pq_buf_byte(w->out, (uint8_t)type);
    pq_buf_varint(w->out, zigzag(id));
  }
  if (w->depth >= 0) w->last[w->depth] = id;
}

void pq_tw_i32(pq_tw_t *w, int16_t id, int32_t v) {
  pq_tw_field(w, id, PQ_T_I32);
  pq_buf_varint(w->out, zigzag(v));
}

void pq_tw_i64(pq_tw_t *w, int16_t id, int64_t v) {
  pq_tw_field(w, id, PQ_T_I64);
  pq_buf_varint(w->out, zigzag(v));
}

void pq_tw_bool(pq_tw_t *w, int16_t id, bool v) {
  pq_tw_field(w, id, v ? PQ_T_TRUE : PQ_T_FALSE);
}

void pq_tw_binary(pq_tw_t *w, int16_t id, const void *p, size_t n) {
  pq_tw_field(w, id, PQ_T_BINARY);
  pq_tw_elem_binary(w, p, n);
}

void pq_tw_string(pq_tw_t *w, int16_t id, const char *s) {
  pq_tw_binary(w, id, s, strlen(s));
}

void pq_tw_list(pq_tw_t *w, int16_t id, int elem_type, uint32_t count) {
  pq_tw_field(w, id, PQ_T_LIST);
  if (count < 15) {
    pq_buf_byte(w->out, (uint8_t)(count << 4 | (uint32_t)elem_type));
  } else {
    pq_buf_byte(w->out, (uint8_t)(0xF0 | elem_type));
    pq_buf_varint(w->out, count);
  }
}

void pq_tw_elem_i32(pq_tw_t *w, int32_t v) { pq_buf_varint(w->out, zigzag(v)); }

void pq_tw_elem_binary(pq_tw_t *w, const void *p, size_t n) {
  pq_buf_varint(w->out, n);
  pq_buf_put(w->out, p, n);
}

void pq_tw_empty_struct(pq_tw_t *w, int16_t id) {
  pq_tw_field(w, id, PQ_T_STRUCT);
  pq_buf_byte(w->out, PQ_T_STOP);
}

/* ------------------------------------------------------------ decoder -- */

void pq_tr_init(pq_tr_t *r, const void *buf, size_t len) {
  r->p = buf;
  r->end = r->p + len;
  r->depth = 0;
  r->bad = false;
  r->why = NULL;
}

void pq_tr_fail(pq_tr_t *r, const char *why) {
  if (!r->bad) r->why = why;
  r->bad = true;
  r->p = r->end;
}

uint64_t pq_tr_varint(pq_tr_t *r) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (r->p >= r->end) {
      pq_tr_fail(r, "ends inside a varint");
      return 0;
    }
    uint8_t b = *r->p++;
    v |= (uint64_t)(b & 0x7F) << shift;
    if (!(b & 0x80)) return v;
  }
  pq_tr_fail(r, "varint longer than 10 bytes");
  return 0;
}

static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

static uint8_t tr_byte(pq_tr_t *r) {
  if (r->p >= r->end) {
    pq_tr_fail(r, "ends early");
    return 0;
  }
  return *r->p++;
}

bool pq_tr_struct_begin(pq_tr_t *r) {
  if (r->bad) return false;
  if (r->depth >= PQ_THRIFT_MAX_DEPTH) {
    pq_tr_fail(r, "nests structures too deeply");
    return false;
  }
  r->depth++;
  return true;
}

void pq_tr_struct_end(pq_tr_t *r) {
  if (r->depth > 0) r->depth--;
}

/* Reads a field header. The short form is a delta from the previous
 * field id, so the caller's loop keeps *id: 0 before the first field,
 * then whatever the previous call stored. */
bool pq_tr_field(pq_tr_t *r, int16_t *id, int *type) {
  uint8_t b = tr_byte(r);
  if (r->bad || b == PQ_T_STOP) return false;
  int t = b & 0x0F;
  int delta = b >> 4;
  if (delta) {
    *id = (int16_t)(*id + delta);
  } else {
    int64_t v = unzigzag(pq_tr_varint(r));
    if (v < INT16_MIN || v > INT16_MAX) pq_tr_fail(r, "field id out of range");
    *id = (int16_t)v;
  }
  if (t == 0 || t > PQ_T_STRUCT) {
    pq_tr_fail(r, "unknown field type");
    return false;
  }
  *type = t;
  return !r->bad;
}

int64_t pq_tr_int(pq_tr_t *r, int type) {
  switch (type) {
  case PQ_T_BYTE:
    return (int8_t)tr_byte(r);
  case PQ_T_I16:
  case PQ_T_I32:
  case PQ_T_I64:
    return unzigzag(pq_tr_varint(r));
  default:
    pq_tr_skip(r, type);
    pq_tr_fail(r, "a field has the wrong type (integer expected)");
    return 0;
  }
}

bool pq_tr_bool(pq_tr_t *r, int type) {
  if (type == PQ_T_TRUE) return true;
  if (type == PQ_T_FALSE) return false;
  pq_tr_skip(r, type);
  pq_tr_fail(r, "a field has the wrong type (bool expected)");
  return false;
}

double pq_tr_double(pq_tr_t *r) {
  if (r->end - r->p < 8) {
    pq_tr_fail(r, "ends inside a double");
    return 0;
  }
  uint64_t bits = pq_load_u64le(r->p);
  r->p += 8;
  double d;
  memcpy(&d, &bits, 8);
  return d;
}

size_t pq_tr_binary(pq_tr_t *r, const uint8_t **p) {
  uint64_t n = pq_tr_varint(r);
  if (r->bad || n > (uint64_t)(r->end - r->p)) {
    pq_tr_fail(r, "a string runs past the end");
    *p = r->end;
    return 0;
  }
  *p = r->p;
  r->p += n;
  return (size_t)n;
}

uint32_t pq_tr_list(pq_tr_t *r, int *elem_type) {
  uint8_t b = tr_byte(r);
  uint64_t n = b >> 4;
  *elem_type = b & 0x0F;
  if (n == 15) n = pq_tr_varint(r);
  if (r->bad) return 0;
  if (n > (uint64_t)(r->end - r->p)) {
    pq_tr_fail(r, "a list claims more elements than bytes remain");
    return 0;
  }
  if (n && (*elem_type == 0 || *elem_type > PQ_T_STRUCT)) {
    pq_tr_fail(r, "a list has an unknown element type");
    return 0;
  }
  return (uint32_t)n;
}

bool pq_tr_elem_bool(pq_tr_t *r) { return tr_byte(r) == PQ_T_TRUE; }

static void skip_struct(pq_tr_t *r) {
  if (!pq_tr_struct_begin(r)) return;
  int16_t id = 0;
  int t;
  while (pq_tr_field(r, &id, &t)) pq_tr_skip(r, t);
  pq_tr_struct_end(r);
}

static void skip_list(pq_tr_t *r) {
  int et;
  uint32_t n = pq_tr_list(r, &et);
  if (!pq_tr_struct_begin(r)) return; /* lists count towards depth too */
  for (uint32_t i = 0; i < n && !r->bad; i++) {
    if (et == PQ_T_TRUE || et == PQ_T_FALSE)
      tr_byte(r);
    else
      pq_tr_skip(r, et);
  }
  pq_tr_struct_end(r);
}

static void skip_map(pq_tr_t *r) {
  uint64_t n = pq_tr_varint(r);
  if (n == 0 || r->bad) return;
  uint8_t kv = tr_byte(r);
  if (n > (uint64_t)(r->end - r->p)) {
    pq_tr_fail(r, "a map claims more entries than bytes remain");
    return;
  }
  int kt = kv >> 4, vt = kv & 0x0F;
  if (kt == 0 || kt > PQ_T_STRUCT || vt == 0 || vt > PQ_T_STRUCT) {
    pq_tr_fail(r, "a map has an unknown element type");
    return;
  }
  if (!pq_tr_struct_begin(r)) return;
  for (uint64_t i = 0; i < n && !r->bad; i++) {
    if (kt <= PQ_T_FALSE) tr_byte(r); else pq_tr_skip(r, kt);
    if (vt <= PQ_T_FALSE) tr_byte(r); else pq_tr_skip(r, vt);
  }
  pq_tr_struct_end(r);
}

void pq_tr_skip(pq_tr_t *r, int type) {
  const uint8_t *b;
  switch (type) {
  case PQ_T_TRUE:
  case PQ_T_FALSE:
    return; /* value is in the field header */
  case PQ_T_BYTE:
    tr_byte(r);
    return;
  case PQ_T_I16:
  case PQ_T_I32:
  case PQ_T_I64:
    pq_tr_varint(r);
    return;
  case PQ_T_DOUBLE:
    pq_tr_double(r);
    return;
  case PQ_T_BINARY:
    pq_tr_binary(r, &b);
    return;
  case PQ_T_LIST:
  case PQ_T_SET:
    skip_list(r);
    return;
  case PQ_T_MAP:
    skip_map(r);
    return;
  case PQ_T_STRUCT:
    skip_struct(r);
    return;
  default:
    pq_tr_fail(r, "unknown value type");
  }
}
