/*
 * parquet/meta.c — Parquet's Thrift structures: decoding FileMetaData
 * (schema, row groups, column chunk metadata, statistics, key/value
 * pairs) and page headers, encoding page headers for the writer. Field
 * ids follow parquet.thrift; unknown fields are skipped, so files from
 * newer writers still open. Every list is bounded by the bytes left
 * (thrift.c) and the leaf-column count by the caller's limit, so memory
 * is proportional to the footer's size. Locking: none. Durability: none.
 */
#include <stdlib.h>
#include <string.h>

#include "parquet/pq_internal.h"

static char *dup_bytes(const uint8_t *p, size_t n) {
  char *s = malloc(n + 1);
  if (!s) return NULL;
  memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

/* ------------------------------------------------------------ statistics */

static void decode_stats(pq_tr_t *r, pq_stats_t *s) {
  if (!pq_tr_struct_begin(r)) return;
  int16_t id = 0;
  int t;
  const uint8_t *p;
  bool have_new_min = false, have_new_max = false;
  while (pq_tr_field(r, &id, &t)) {
    if ((id == 1 || id == 2 || id == 5 || id == 6) && t == PQ_T_BINARY) {
      size_t n = pq_tr_binary(r, &p);
      if (id == 6 || (id == 2 && !have_new_min)) {
        s->min = p, s->min_len = n, s->has_min = true;
        if (id == 6) have_new_min = true;
      } else if (id == 5 || (id == 1 && !have_new_max)) {
        s->max = p, s->max_len = n, s->has_max = true;
        if (id == 5) have_new_max = true;
      }
    } else if (id == 3 && t != PQ_T_STRUCT) {
      s->null_count = pq_tr_int(r, t);
      s->has_null_count = true;
    } else {
      pq_tr_skip(r, t);
    }
  }
  pq_tr_struct_end(r);
}

/* ---------------------------------------------------------------- schema */

static void decode_time_unit(pq_tr_t *r, pq_schema_elem_t *e) {
  if (!pq_tr_struct_begin(r)) return;
  int16_t id = 0;
  int t;
  while (pq_tr_field(r, &id, &t)) {
    if (id >= 1 && id <= 3) e->unit = id;
    pq_tr_skip(r, t);
  }
  pq_tr_struct_end(r);
}

/* The members of DecimalType, TimeType, TimestampType and IntType. */
static void decode_logical_params(pq_tr_t *r, pq_schema_elem_t *e) {
  if (!pq_tr_struct_begin(r)) return;
  int16_t id = 0;
  int t;
  while (pq_tr_field(r, &id, &t)) {
    int lt = e->logical;
    if (lt == PQ_LT_DECIMAL && id == 1 && t != PQ_T_STRUCT)
      e->scale = (int32_t)pq_tr_int(r, t);
    else if (lt == PQ_LT_DECIMAL && id == 2 && t != PQ_T_STRUCT)
      e->precision = (int32_t)pq_tr_int(r, t);
    else if ((lt == PQ_LT_TIME || lt == PQ_LT_TIMESTAMP) && id == 1 && t <= PQ_T_FALSE)
      e->utc = pq_tr_bool(r, t);
    else if ((lt == PQ_LT_TIME || lt == PQ_LT_TIMESTAMP) && id == 2 && t == PQ_T_STRUCT)
      decode_time_unit(r, e);
    else if (lt == PQ_LT_INTEGER && id == 1 && t == PQ_T_BYTE)
      e->int_bits = (int)pq_tr_int(r, t);
    else if (lt == PQ_LT_INTEGER && id == 2 && t <= PQ_T_FALSE)
      e->int_signed = pq_tr_bool(r, t);
    else
      pq_tr_skip(r, t);
  }
  pq_tr_struct_end(r);
}

static void decode_logical(pq_tr_t *r, pq_schema_elem_t *e) {
  if (!pq_tr_struct_begin(r)) return;
  int16_t id = 0;
  int t;
  while (pq_tr_field(r, &id, &t)) {
    if (t == PQ_T_STRUCT && id >= 1 && id <= 15 && id != 9) {
      e->logical = id;
      decode_logical_params(r, e);
    } else {
      pq_tr_skip(r, t);
    }
  }
  pq_tr_struct_end(r);
}

static bool decode_schema_elem(pq_tr_t *r, pq_schema_elem_t *e) {
  memset(e, 0, sizeof *e);
  e->type = -1;
  e->repetition = -1;
  e->converted = PQ_CT_NONE;
  if (!pq_tr_struct_begin(r)) return false;
  int16_t id = 0;
  int t;
  const uint8_t *p;
  while (pq_tr_field(r, &id, &t)) {
    bool is_int = t == PQ_T_I32 || t == PQ_T_I16 || t == PQ_T_I64 || t == PQ_T_BYTE;
    if (id == 1 && is_int) e->type = (int)pq_tr_int(r, t);
    else if (id == 2 && is_int) e->type_length = (int32_t)pq_tr_int(r, t);
    else if (id == 3 && is_int) e->repetition = (int)pq_tr_int(r, t);
    else if (id == 4 && t == PQ_T_BINARY) {
      size_t n = pq_tr_binary(r, &p);
      char *name = r->bad ? NULL : dup_bytes(p, n);
      if (!name) {
        if (!r->bad) pq_tr_fail(r, "out of memory");
        break;
      }
      free(e->name); /* a repeated name field: the last one wins */
      e->name = name;
    } else if (id == 5 && is_int) e->num_children = (int32_t)pq_tr_int(r, t);
    else if (id == 6 && is_int) e->converted = (int)pq_tr_int(r, t);
    else if (id == 7 && is_int) e->scale = (int32_t)pq_tr_int(r, t);
    else if (id == 8 && is_int) e->precision = (int32_t)pq_tr_int(r, t);
    else if (id == 10 && t == PQ_T_STRUCT) decode_logical(r, e);
    else pq_tr_skip(r, t);
  }
  pq_tr_struct_end(r);
  if (!r->bad && !e->name) pq_tr_fail(r, "a schema element has no name");
  return !r->bad;
}

/* ---------------------------------------------------------- column chunks */

static void decode_path(pq_tr_t *r, pq_chunk_meta_t *c) {
  int et;
  uint32_t n = pq_tr_list(r, &et);
  pq_buf_t b = {0};
  for (uint32_t i = 0; i < n && !r->bad; i++) {
    const uint8_t *p;
    size_t len = pq_tr_binary(r, &p);
    if (i) pq_buf_byte(&b, '.');
    pq_buf_put(&b, p, len);
  }
  pq_buf_byte(&b, 0);
  if (b.oom) pq_tr_fail(r, "out of memory");
  free(c->path);
  c->path = b.oom ? NULL : (char *)b.data;
  if (b.oom) free(b.data);
}

static void decode_column_meta(pq_tr_t *r, pq_chunk_meta_t *c) {
  if (!pq_tr_struct_begin(r)) return;
  int16_t id = 0;
  int t;
  while (pq_tr_field(r, &id, &t)) {
    bool is_int = t == PQ_T_I32 || t == PQ_T_I16 || t == PQ_T_I64 || t == PQ_T_BYTE;
    if (id == 1 && is_int) c->type = (int)pq_tr_int(r, t);
    else if (id == 3 && t == PQ_T_LIST) decode_path(r, c);
    else if (id == 4 && is_int) c->codec = (int)pq_tr_int(r, t);
    else if (id == 5 && is_int) c->num_values = pq_tr_int(r, t);
    else if (id == 6 && is_int) c->total_uncompressed_size = pq_tr_int(r, t);
    else if (id == 7 && is_int) c->total_compressed_size = pq_tr_int(r, t);
    else if (id == 9 && is_int) c->data_page_offset = pq_tr_int(r, t);
    else if (id == 11 && is_int) c->dictionary_page_offset = pq_tr_int(r, t);
    else if (id == 12 && t == PQ_T_STRUCT) decode_stats(r, &c->stats);
    else pq_tr_skip(r, t);
  }
  pq_tr_struct_end(r);
}

static void decode_column_chunk(pq_tr_t *r, pq_chunk_meta_t *c) {
  memset(c, 0, sizeof *c);
  c->type = -1;
  c->codec = -1;
  c->data_page_offset = -1;
  c->dictionary_page_offset = -1;
  if (!pq_tr_struct_begin(r)) return;
  int16_t id = 0;
  int t;
  bool have_meta = false;
  while (pq_tr_field(r, &id, &t)) {
    if (id == 3 && t == PQ_T_STRUCT) {
      decode_column_meta(r, c);
      have_meta = true;
    } else if (id == 1 && t == PQ_T_BINARY) {
      const uint8_t *p;
      c->external = pq_tr_binary(r, &p) > 0;
    } else if ((id == 8 || id == 9) && t != PQ_T_STOP) {
      c->encrypted = true;
      pq_tr_skip(r, t);
    } else {
      pq_tr_skip(r, t);
    }
  }
  pq_tr_struct_end(r);
  if (!r->bad && !have_meta && !c->encrypted)
    pq_tr_fail(r, "a column chunk has no metadata");
}

static void decode_row_group(pq_tr_t *r, pq_row_group_t *g, uint32_t max_columns) {
  memset(g, 0, sizeof *g);
  g->num_rows = -1;
  if (!pq_tr_struct_begin(r)) return;
  int16_t id = 0;
  int t;
  while (pq_tr_field(r, &id, &t)) {
    if (id == 1 && t == PQ_T_LIST && !g->columns) {
      int et;
      uint32_t n = pq_tr_list(r, &et);
      if (n > max_columns) {
        pq_tr_fail(r, "a row group has more columns than the limit");
        break;
      }
      if (n && et != PQ_T_STRUCT) {
        pq_tr_fail(r, "row group columns are not structures");
        break;
      }
      g->columns = calloc(n ? n : 1, sizeof *g->columns);
      if (!g->columns) {
        pq_tr_fail(r, "out of memory");
        break;
      }
      for (uint32_t i = 0; i < n && !r->bad; i++) {
        decode_column_chunk(r, &g->columns[i]);
        g->num_columns = i + 1;
      }
    } else if (id == 2 && t != PQ_T_STRUCT && t != PQ_T_LIST) {
      g->total_byte_size = pq_tr_int(r, t);
    } else if (id == 3 && t != PQ_T_STRUCT && t != PQ_T_LIST) {
      g->num_rows = pq_tr_int(r, t);
    } else {
      pq_tr_skip(r, t);
    }
  }
  pq_tr_struct_end(r);
  if (!r->bad && g->num_rows < 0) pq_tr_fail(r, "a row group has no row count");
}

/* ------------------------------------------------------------ file meta */

static void decode_kv(pq_tr_t *r, pq_kv_t *kv) {
  if (!pq_tr_struct_begin(r)) return;
  int16_t id = 0;
  int t;
  const uint8_t *p;
  while (pq_tr_field(r, &id, &t)) {
    if ((id == 1 || id == 2) && t == PQ_T_BINARY) {
      size_t n = pq_tr_binary(r, &p);
      char *s = r->bad ? NULL : dup_bytes(p, n);
      if (!s) {
        pq_tr_fail(r, "out of memory");
        break;
      }
      const char **slot = id == 1 ? &kv->key : &kv->value;
      free((char *)*slot);
      *slot = s;
    } else {
      pq_tr_skip(r, t);
    }
  }
  pq_tr_struct_end(r);
  if (!r->bad && !kv->key) pq_tr_fail(r, "a key/value pair has no key");
}

/* Decodes a list<struct> field into a calloc'd array of `size`-byte items. */
static void *decode_struct_list(pq_tr_t *r, uint32_t *count, size_t size,
                                uint32_t limit, const char *what) {
  int et;
  uint32_t n = pq_tr_list(r, &et);
  if (r->bad) return NULL;
  if (n && et != PQ_T_STRUCT) {
    pq_tr_fail(r, what);
    return NULL;
  }
  if (n > limit) {
    pq_tr_fail(r, "holds more entries than the reader's limit");
    return NULL;
  }
  void *a = calloc(n ? n : 1, size);
  if (!a) pq_tr_fail(r, "out of memory");
  *count = 0;
  return a;
}

static void decode_file_meta(pq_tr_t *r, pq_file_meta_t *m, uint32_t max_columns) {
  if (!pq_tr_struct_begin(r)) return;
  int16_t id = 0;
  int t;
  const uint8_t *p;
  bool have_rows = false;
  while (pq_tr_field(r, &id, &t)) {
    if (id == 1 && t != PQ_T_STRUCT && t != PQ_T_LIST && t != PQ_T_BINARY) {
      m->version = (int32_t)pq_tr_int(r, t);
    } else if (id == 2 && t == PQ_T_LIST && !m->schema) {
      const uint8_t *save = r->p;
      int et;
      uint32_t n = pq_tr_list(r, &et);
      r->p = save;
      m->schema = decode_struct_list(r, &m->num_schema, sizeof *m->schema,
                                     max_columns * 2 + 16, "schema elements are not structures");
      for (uint32_t i = 0; i < n && !r->bad && m->schema; i++) {
        m->num_schema = i + 1;
        decode_schema_elem(r, &m->schema[i]);
      }
    } else if (id == 3 && t != PQ_T_STRUCT && t != PQ_T_LIST && t != PQ_T_BINARY) {
      m->num_rows = pq_tr_int(r, t);
      have_rows = true;
    } else if (id == 4 && t == PQ_T_LIST && !m->row_groups) {
      const uint8_t *save = r->p;
      int et;
      uint32_t n = pq_tr_list(r, &et);
      r->p = save;
      /* a row group takes at least 7 bytes (columns, sizes, stop) */
      m->row_groups = decode_struct_list(r, &m->num_row_groups, sizeof *m->row_groups,
                                         (uint32_t)((size_t)(r->end - r->p) / 7 + 1),
                                         "row groups are not structures");
      for (uint32_t i = 0; i < n && !r->bad && m->row_groups; i++) {
        m->num_row_groups = i + 1;
        decode_row_group(r, &m->row_groups[i], max_columns);
      }
    } else if (id == 5 && t == PQ_T_LIST && !m->kv) {
      const uint8_t *save = r->p;
      int et;
      uint32_t n = pq_tr_list(r, &et);
      r->p = save;
      m->kv = decode_struct_list(r, &m->num_kv, sizeof *m->kv, UINT32_MAX,
                                 "key/value pairs are not structures");
      for (uint32_t i = 0; i < n && !r->bad && m->kv; i++) {
        m->num_kv = i + 1;
        decode_kv(r, &m->kv[i]);
      }
    } else if (id == 6 && t == PQ_T_BINARY && !m->created_by) {
      size_t n = pq_tr_binary(r, &p);
      if (!r->bad && !(m->created_by = dup_bytes(p, n))) pq_tr_fail(r, "out of memory");
    } else {
      pq_tr_skip(r, t);
    }
  }
  pq_tr_struct_end(r);
  if (r->bad) return;
  if (!m->schema || m->num_schema == 0) pq_tr_fail(r, "it has no schema");
  else if (!have_rows) pq_tr_fail(r, "it has no row count");
  else if (!m->row_groups) pq_tr_fail(r, "it has no row group list");
}

int pq_meta_decode(const uint8_t *buf, size_t len, uint32_t max_columns,
                   pq_file_meta_t *m, char *err, size_t errlen) {
  memset(m, 0, sizeof *m);
  pq_tr_t r;
  pq_tr_init(&r, buf, len);
  decode_file_meta(&r, m, max_columns);
  if (!r.bad) return 0;
  int code = r.why && strcmp(r.why, "out of memory") == 0 ? AKIDB_ENOMEM
             : r.why && strstr(r.why, "limit") ? AKIDB_ELIMIT
                                               : AKIDB_ECORRUPT;
  pq_meta_free(m);
  return pq_fail(err, errlen, code, "the footer (FileMetaData) is corrupt: %s",
                 r.why ? r.why : "malformed");
}

void pq_meta_free(pq_file_meta_t *m) {
  for (uint32_t i = 0; m->schema && i < m->num_schema; i++) free(m->schema[i].name);
  free(m->schema);
  for (uint32_t g = 0; m->row_groups && g < m->num_row_groups; g++) {
    for (uint32_t c = 0; c < m->row_groups[g].num_columns; c++)
      free(m->row_groups[g].columns[c].path);
    free(m->row_groups[g].columns);
  }
  free(m->row_groups);
  for (uint32_t i = 0; m->kv && i < m->num_kv; i++) {
    free((char *)m->kv[i].key);
    free((char *)m->kv[i].value);
  }
  free(m->kv);
  free(m->created_by);
  memset(m, 0, sizeof *m);
}

/* ----------------------------------------------------------- page header */

static void decode_data_header(pq_tr_t *r, pq_page_header_t *h) {
  if (!pq_tr_struct_begin(r)) return;
  int16_t id = 0;
  int t;
  h->has_data = true;
  while (pq_tr_field(r, &id, &t)) {
    bool is_int = t == PQ_T_I32 || t == PQ_T_I16 || t == PQ_T_I64 || t == PQ_T_BYTE;
    if (id == 1 && is_int) h->num_values = (int32_t)pq_tr_int(r, t);
    else if (id == 2 && is_int) h->encoding = (int)pq_tr_int(r, t);
    else if (id == 3 && is_int) h->def_encoding = (int)pq_tr_int(r, t);
    else if (id == 4 && is_int) h->rep_encoding = (int)pq_tr_int(r, t);
    else pq_tr_skip(r, t);
  }
  pq_tr_struct_end(r);
}

static void decode_dict_header(pq_tr_t *r, pq_page_header_t *h) {
  if (!pq_tr_struct_begin(r)) return;
  int16_t id = 0;
  int t;
  h->has_dict = true;
  while (pq_tr_field(r, &id, &t)) {
    bool is_int = t == PQ_T_I32 || t == PQ_T_I16 || t == PQ_T_I64 || t == PQ_T_BYTE;
    if (id == 1 && is_int) h->num_values = (int32_t)pq_tr_int(r, t);
    else if (id == 2 && is_int) h->encoding = (int)pq_tr_int(r, t);
    else pq_tr_skip(r, t);
  }
  pq_tr_struct_end(r);
}

static void decode_v2_header(pq_tr_t *r, pq_page_header_t *h) {
  if (!pq_tr_struct_begin(r)) return;
  int16_t id = 0;
  int t;
  h->has_v2 = true;
  h->is_compressed = true;
  while (pq_tr_field(r, &id, &t)) {
    bool is_int = t == PQ_T_I32 || t == PQ_T_I16 || t == PQ_T_I64 || t == PQ_T_BYTE;
    if (id == 1 && is_int) h->num_values = (int32_t)pq_tr_int(r, t);
    else if (id == 2 && is_int) h->num_nulls = (int32_t)pq_tr_int(r, t);
    else if (id == 3 && is_int) h->num_rows = (int32_t)pq_tr_int(r, t);
    else if (id == 4 && is_int) h->encoding = (int)pq_tr_int(r, t);
    else if (id == 5 && is_int) h->def_len = (int32_t)pq_tr_int(r, t);
    else if (id == 6 && is_int) h->rep_len = (int32_t)pq_tr_int(r, t);
    else if (id == 7 && t <= PQ_T_FALSE) h->is_compressed = pq_tr_bool(r, t);
    else pq_tr_skip(r, t);
  }
  pq_tr_struct_end(r);
}

long pq_page_header_decode(const uint8_t *buf, size_t len, pq_page_header_t *h) {
  memset(h, 0, sizeof *h);
  h->type = -1;
  h->uncompressed_size = -1;
  h->compressed_size = -1;
  pq_tr_t r;
  pq_tr_init(&r, buf, len);
  if (!pq_tr_struct_begin(&r)) return -1;
  int16_t id = 0;
  int t;
  while (pq_tr_field(&r, &id, &t)) {
    bool is_int = t == PQ_T_I32 || t == PQ_T_I16 || t == PQ_T_I64 || t == PQ_T_BYTE;
    if (id == 1 && is_int) h->type = (int)pq_tr_int(&r, t);
    else if (id == 2 && is_int) h->uncompressed_size = (int32_t)pq_tr_int(&r, t);
    else if (id == 3 && is_int) h->compressed_size = (int32_t)pq_tr_int(&r, t);
    else if (id == 5 && t == PQ_T_STRUCT) decode_data_header(&r, h);
    else if (id == 7 && t == PQ_T_STRUCT) decode_dict_header(&r, h);
    else if (id == 8 && t == PQ_T_STRUCT) decode_v2_header(&r, h);
    else pq_tr_skip(&r, t);
  }
  if (r.bad) {
    /* Running out of bytes means "read more"; anything else is corrupt. */
    bool short_read = r.why && (strstr(r.why, "ends") || strstr(r.why, "past the end") ||
                                strstr(r.why, "more elements than bytes"));
    return short_read ? 0 : -1;
  }
  return (long)(r.p - (const uint8_t *)buf);
}

void pq_page_header_encode_v1(pq_buf_t *out, int type, int32_t uncompressed,
                              int32_t compressed, int32_t num_values,
                              int encoding) {
  pq_tw_t w;
  pq_tw_init(&w, out);
  pq_tw_struct_begin(&w);
  pq_tw_i32(&w, 1, type);
  pq_tw_i32(&w, 2, uncompressed);
  pq_tw_i32(&w, 3, compressed);
  if (type == PQ_PAGE_DATA) {
    pq_tw_field(&w, 5, PQ_T_STRUCT);
    pq_tw_struct_begin(&w);
    pq_tw_i32(&w, 1, num_values);
    pq_tw_i32(&w, 2, encoding);
    pq_tw_i32(&w, 3, PQ_ENC_RLE);
    pq_tw_i32(&w, 4, PQ_ENC_RLE);
    pq_tw_struct_end(&w);
  } else if (type == PQ_PAGE_DICT) {
    pq_tw_field(&w, 7, PQ_T_STRUCT);
    pq_tw_struct_begin(&w);
    pq_tw_i32(&w, 1, num_values);
    pq_tw_i32(&w, 2, encoding);
    pq_tw_struct_end(&w);
  }
  pq_tw_struct_end(&w);
}
