/*
 * parquet/reader.c — opening a Parquet file: both magics, the footer's
 * length and FileMetaData (meta.c), the schema tree with each leaf's
 * maximum definition and repetition levels, and every row group's column
 * chunks checked against the schema and the file size before any page is
 * read. Pages are read by the column cursors (column.c); the import
 * mapping is import.c.
 *
 * Memory: the footer (bounded by max_footer_bytes and the file size) and
 * what it decodes to. Locking: a reader belongs to one thread at a time.
 * Durability: read-only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/pq_internal.h"

#define PQ_MAX_NESTING 32

const char *pq_type_name(int type) {
  static const char *names[] = {"BOOLEAN", "INT32",  "INT64",      "INT96",
                                "FLOAT",   "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
  if (type >= 0 && type < 8) return names[type];
  return "unknown type";
}

/* ------------------------------------------------------------- schema -- */

typedef struct {
  pq_reader_t *r;
  uint32_t next;  /* next schema element to visit */
  uint32_t cap;   /* leaves allocated */
  uint32_t *field_elem; /* per top-level field: its schema element */
  char *err;
  size_t errlen;
} build_t;

static int add_leaf(build_t *b, uint32_t elem, uint32_t field, int def, int rep,
                    int top_def, int rep_def, const char *path) {
  pq_reader_t *r = b->r;
  if (r->nleaves >= r->lim.max_columns)
    return pq_fail(b->err, b->errlen, AKIDB_ELIMIT,
                   "the schema has more than %u leaf columns", r->lim.max_columns);
  if (r->nleaves == b->cap) {
    uint32_t cap = b->cap ? b->cap * 2 : 16;
    pq_leaf_t *l = realloc(r->leaves, cap * sizeof *l);
    if (!l) return pq_fail(b->err, b->errlen, AKIDB_ENOMEM, "out of memory");
    r->leaves = l;
    b->cap = cap;
  }
  pq_leaf_t *l = &r->leaves[r->nleaves];
  memset(l, 0, sizeof *l);
  l->elem = elem;
  l->field = field;
  l->max_def = def;
  l->max_rep = rep;
  l->top_def = top_def;
  l->rep_def = rep_def;
  if (!(l->path = strdup(path))) return pq_fail(b->err, b->errlen, AKIDB_ENOMEM, "out of memory");
  r->nleaves++;
  return 0;
}

/* Visits schema element b->next and its subtree (depth-first order). */
static int build_node(build_t *b, int depth, uint32_t field, int def, int rep,
                      int top_def, int rep_def, const char *parent_path) {
  pq_reader_t *r = b->r;
  if (depth > PQ_MAX_NESTING)
    return pq_fail(b->err, b->errlen, AKIDB_ELIMIT,
                   "the schema nests deeper than %d levels", PQ_MAX_NESTING);
  if (b->next >= r->meta.num_schema)
    return pq_fail(b->err, b->errlen, AKIDB_ECORRUPT,
                   "the schema ends before its groups' children do");
  uint32_t idx = b->next++;
  const pq_schema_elem_t *e = &r->meta.schema[idx];
  if (e->repetition == PQ_OPTIONAL) def++;
  else if (e->repetition == PQ_REPEATED) def++, rep++, rep_def = def;
  else if (e->repetition != PQ_REQUIRED && e->repetition != -1)
    return pq_fail(b->err, b->errlen, AKIDB_ECORRUPT,
                   "schema element '%s' has repetition %d", e->name, e->repetition);
  if (depth == 1) {
    /* a repeated top-level field (legacy list) is never null, only empty */
    top_def = e->repetition == PQ_REPEATED ? def - 1 : def;
    b->field_elem[field] = idx;
  }
  size_t plen = strlen(parent_path) + strlen(e->name) + 2;
  char *path = malloc(plen);
  if (!path) return pq_fail(b->err, b->errlen, AKIDB_ENOMEM, "out of memory");
  snprintf(path, plen, "%s%s%s", parent_path, *parent_path ? "." : "", e->name);
  int rc = 0;
  if (e->num_children > 0) {
    if ((uint32_t)e->num_children > r->meta.num_schema - b->next)
      rc = pq_fail(b->err, b->errlen, AKIDB_ECORRUPT,
                   "schema group '%s' claims %d children, only %u elements follow",
                   e->name, e->num_children, r->meta.num_schema - b->next);
    for (int32_t i = 0; rc == 0 && i < e->num_children; i++)
      rc = build_node(b, depth + 1, field, def, rep, top_def, rep_def, path);
  } else if (e->type < 0 || e->type > PQ_FIXED_LEN_BYTE_ARRAY) {
    rc = pq_fail(b->err, b->errlen, AKIDB_ECORRUPT,
                 "schema leaf '%s' has no valid physical type (%d)", e->name, e->type);
  } else if (e->type == PQ_FIXED_LEN_BYTE_ARRAY &&
             (e->type_length <= 0 || e->type_length > (1 << 24))) {
    rc = pq_fail(b->err, b->errlen, AKIDB_ECORRUPT,
                 "schema leaf '%s' is FIXED_LEN_BYTE_ARRAY of length %d", e->name,
                 e->type_length);
  } else {
    rc = add_leaf(b, idx, field, def, rep, top_def, rep_def, path);
  }
  free(path);
  return rc;
}

/* A short description of a field's logical type, for pq_field_t. */
static void describe_logical(const pq_schema_elem_t *e, char *out, size_t n) {
  static const char *units[] = {"", "MILLIS", "MICROS", "NANOS"};
  const char *unit = e->unit >= 1 && e->unit <= 3 ? units[e->unit] : "";
  switch (e->logical) {
  case PQ_LT_STRING: snprintf(out, n, "STRING"); return;
  case PQ_LT_MAP: snprintf(out, n, "MAP"); return;
  case PQ_LT_LIST: snprintf(out, n, "LIST"); return;
  case PQ_LT_ENUM: snprintf(out, n, "ENUM"); return;
  case PQ_LT_DECIMAL: snprintf(out, n, "DECIMAL(%d,%d)", e->precision, e->scale); return;
  case PQ_LT_DATE: snprintf(out, n, "DATE"); return;
  case PQ_LT_TIME: snprintf(out, n, "TIME(%s)", unit); return;
  case PQ_LT_TIMESTAMP: snprintf(out, n, "TIMESTAMP(%s)", unit); return;
  case PQ_LT_INTEGER:
    snprintf(out, n, "INT(%d,%s)", e->int_bits, e->int_signed ? "signed" : "unsigned");
    return;
  case PQ_LT_UNKNOWN: snprintf(out, n, "NULL"); return;
  case PQ_LT_JSON: snprintf(out, n, "JSON"); return;
  case PQ_LT_BSON: snprintf(out, n, "BSON"); return;
  case PQ_LT_UUID: snprintf(out, n, "UUID"); return;
  case PQ_LT_FLOAT16: snprintf(out, n, "FLOAT16"); return;
  default: break;
  }
  static const char *ct[] = {"UTF8", "MAP", "MAP_KEY_VALUE", "LIST", "ENUM", "DECIMAL",
                             "DATE", "TIME_MILLIS", "TIME_MICROS", "TIMESTAMP_MILLIS",
                             "TIMESTAMP_MICROS", "UINT_8", "UINT_16", "UINT_32",
                             "UINT_64", "INT_8", "INT_16", "INT_32", "INT_64", "JSON",
                             "BSON", "INTERVAL"};
  if (e->converted >= 0 && e->converted <= PQ_CT_INTERVAL)
    snprintf(out, n, "%s", ct[e->converted]);
  else
    snprintf(out, n, "%s", "");
}

/* Fills the top-level field table from the leaves. */
static int build_fields(pq_reader_t *r, const uint32_t *field_elem, char *err,
                        size_t errlen) {
  uint32_t nf = (uint32_t)r->meta.schema[0].num_children;
  r->nfields = nf;
  r->fields = calloc(nf ? nf : 1, sizeof *r->fields);
  r->field_first_leaf = calloc(nf ? nf : 1, sizeof(uint32_t));
  r->field_leaves = calloc(nf ? nf : 1, sizeof(uint32_t));
  r->logical = calloc(nf ? nf : 1, sizeof(char *));
  if (!r->fields || !r->field_first_leaf || !r->field_leaves || !r->logical)
    return pq_fail(err, errlen, AKIDB_ENOMEM, "out of memory");
  for (uint32_t i = r->nleaves; i-- > 0;) {
    uint32_t f = r->leaves[i].field;
    r->field_first_leaf[f] = i;
    r->field_leaves[f]++;
  }
  for (uint32_t f = 0; f < nf; f++) {
    const pq_schema_elem_t *e = &r->meta.schema[field_elem[f]];
    pq_field_t *fd = &r->fields[f];
    char buf[64];
    describe_logical(e, buf, sizeof buf);
    if (!(r->logical[f] = strdup(buf))) return pq_fail(err, errlen, AKIDB_ENOMEM, "out of memory");
    fd->name = e->name;
    fd->logical = r->logical[f];
    fd->nullable = e->repetition == PQ_OPTIONAL;
    fd->type = -1;
    fd->kind = PQ_FIELD_NESTED;
    if (r->field_leaves[f] == 0) continue;
    const pq_leaf_t *l = &r->leaves[r->field_first_leaf[f]];
    const pq_schema_elem_t *le = &r->meta.schema[l->elem];
    fd->type = le->type;
    fd->type_length = le->type == PQ_FIXED_LEN_BYTE_ARRAY ? le->type_length : 0;
    if (r->field_leaves[f] > 1) continue;
    if (l->max_rep == 0 && le == e) fd->kind = PQ_FIELD_SCALAR;
    else if (l->max_rep == 1) fd->kind = PQ_FIELD_LIST;
  }
  return 0;
}

static int build_schema(pq_reader_t *r, char *err, size_t errlen) {
  const pq_schema_elem_t *root = &r->meta.schema[0];
  if (root->num_children < 0 || (uint32_t)root->num_children > r->meta.num_schema - 1)
    return pq_fail(err, errlen, AKIDB_ECORRUPT,
                   "the schema root claims %d columns", root->num_children);
  build_t b = {.r = r, .next = 1, .cap = 0, .err = err, .errlen = errlen};
  b.field_elem = calloc(root->num_children ? (size_t)root->num_children : 1, sizeof(uint32_t));
  if (!b.field_elem) return pq_fail(err, errlen, AKIDB_ENOMEM, "out of memory");
  int rc = 0;
  for (int32_t i = 0; rc == 0 && i < root->num_children; i++)
    rc = build_node(&b, 1, (uint32_t)i, 0, 0, 0, 0, "");
  if (rc == 0 && b.next != r->meta.num_schema)
    rc = pq_fail(err, errlen, AKIDB_ECORRUPT,
                 "the schema has %u elements, its tree accounts for %u",
                 r->meta.num_schema, b.next);
  if (rc == 0) rc = build_fields(r, b.field_elem, err, errlen);
  free(b.field_elem);
  return rc;
}

/* ------------------------------------------------------------- chunks -- */

/* Checks one column chunk against the schema and the data region. */
static int check_chunk(pq_reader_t *r, size_t g, uint32_t c, uint64_t data_end,
                       char *err, size_t errlen) {
  pq_chunk_meta_t *m = &r->meta.row_groups[g].columns[c];
  const pq_leaf_t *l = &r->leaves[c];
  const char *name = l->path;
  if (m->encrypted)
    return pq_fail(err, errlen, AKIDB_ENOTSUP,
                   "column %s is encrypted; AkiDB reads only unencrypted files", name);
  if (m->external)
    return pq_fail(err, errlen, AKIDB_ENOTSUP,
                   "column %s row group %zu is stored in another file (file_path); AkiDB "
                   "reads single-file Parquet only", name, g);
  if (m->type != r->meta.schema[l->elem].type)
    return pq_fail(err, errlen, AKIDB_ECORRUPT,
                   "column %s row group %zu: chunk type %s, the schema says %s", name, g,
                   pq_type_name(m->type), pq_type_name(r->meta.schema[l->elem].type));
  if (m->path && strcmp(m->path, l->path) != 0)
    return pq_fail(err, errlen, AKIDB_ECORRUPT,
                   "row group %zu column %u is '%s', the schema's leaf is '%s'", g, c,
                   m->path, l->path);
  int64_t start = m->data_page_offset;
  if (m->dictionary_page_offset > 0 && m->dictionary_page_offset < start)
    start = m->dictionary_page_offset;
  if (m->num_values < 0 || m->total_compressed_size < 0 || start < 4 ||
      (uint64_t)start > data_end ||
      (uint64_t)m->total_compressed_size > data_end - (uint64_t)start)
    return pq_fail(err, errlen, AKIDB_ECORRUPT,
                   "column %s row group %zu: chunk at offset %" PRId64 " of %" PRId64
                   " bytes lies outside the data region (4 ... %" PRIu64 ")",
                   name, g, start, m->total_compressed_size, data_end);
  return 0;
}

static int check_row_groups(pq_reader_t *r, uint64_t data_end, char *err, size_t errlen) {
  int64_t rows = 0;
  for (uint32_t g = 0; g < r->meta.num_row_groups; g++) {
    pq_row_group_t *rg = &r->meta.row_groups[g];
    if (rg->num_columns != r->nleaves)
      return pq_fail(err, errlen, AKIDB_ECORRUPT,
                     "row group %u has %u column chunks, the schema has %u columns", g,
                     rg->num_columns, r->nleaves);
    if (rg->num_rows < 0 || rows > INT64_MAX - rg->num_rows)
      return pq_fail(err, errlen, AKIDB_ECORRUPT, "row group %u has %" PRId64 " rows",
                     g, rg->num_rows);
    rows += rg->num_rows;
    for (uint32_t c = 0; c < rg->num_columns; c++) {
      int rc = check_chunk(r, g, c, data_end, err, errlen);
      if (rc) return rc;
    }
  }
  if (rows != r->meta.num_rows)
    return pq_fail(err, errlen, AKIDB_ECORRUPT,
                   "the footer counts %" PRId64 " rows, its row groups %" PRId64,
                   r->meta.num_rows, rows);
  return 0;
}

/* -------------------------------------------------------------- open -- */

static int read_tail(pq_reader_t *r, uint32_t *footer_len, char *err, size_t errlen) {
  uint8_t head[4], tail[8];
  if (r->size < 12)
    return pq_fail(err, errlen, AKIDB_EFORMAT,
                   "not a Parquet file: %" PRIu64 " bytes is shorter than the 12 bytes "
                   "of magic and footer length", r->size);
  if (r->read_at(r->ctx, 0, head, 4) || r->read_at(r->ctx, r->size - 8, tail, 8))
    return pq_fail(err, errlen, AKIDB_EIO, "cannot read the file's first and last bytes");
  for (int which = 0; which < 2; which++) {
    const uint8_t *m = which ? tail + 4 : head;
    if (memcmp(m, "PAR1", 4) == 0) continue;
    if (memcmp(m, "PARE", 4) == 0)
      return pq_fail(err, errlen, AKIDB_ENOTSUP,
                     "the file is an encrypted Parquet file (magic 'PARE'), which "
                     "AkiDB cannot read");
    char shown[17];
    size_t k = 0;
    for (int i = 0; i < 4; i++) {
      if (m[i] >= 0x20 && m[i] < 0x7F && m[i] != '\'' && m[i] != '\\')
        shown[k++] = (char)m[i];
      else
        k += (size_t)snprintf(shown + k, sizeof shown - k, "\\x%02x", m[i]);
    }
    shown[k] = '\0';
    return pq_fail(err, errlen, AKIDB_EFORMAT,
                   "not a Parquet file: %s magic is '%s', expected 'PAR1'",
                   which ? "trailing" : "leading", shown);
  }
  *footer_len = pq_load_u32le(tail);
  if ((uint64_t)*footer_len > r->size - 12)
    return pq_fail(err, errlen, AKIDB_ECORRUPT,
                   "footer length %u exceeds the file size %" PRIu64, *footer_len, r->size);
  if (*footer_len > r->lim.max_footer_bytes)
    return pq_fail(err, errlen, AKIDB_ELIMIT,
                   "footer length %u exceeds the reader's limit of %zu bytes", *footer_len,
                   r->lim.max_footer_bytes);
  if (*footer_len == 0)
    return pq_fail(err, errlen, AKIDB_ECORRUPT, "the footer is empty");
  return 0;
}

int pq_reader_open(pq_read_at_fn read_at, void *ctx, uint64_t size,
                   const pq_reader_limits_t *limits, pq_reader_t **out, char *err,
                   size_t errlen) {
  *out = NULL;
  pq_reader_t *r = calloc(1, sizeof *r);
  if (!r) return pq_fail(err, errlen, AKIDB_ENOMEM, "out of memory");
  r->read_at = read_at;
  r->ctx = ctx;
  r->size = size;
  if (limits) r->lim = *limits;
  if (!r->lim.max_footer_bytes) r->lim.max_footer_bytes = 16u << 20;
  if (!r->lim.max_page_bytes) r->lim.max_page_bytes = 256u << 20;
  if (!r->lim.max_columns) r->lim.max_columns = 10000;
  uint32_t flen = 0;
  int rc = read_tail(r, &flen, err, errlen);
  if (rc) goto fail;
  r->footer_len = flen;
  if (!(r->footer = malloc(flen))) {
    rc = pq_fail(err, errlen, AKIDB_ENOMEM, "out of memory");
    goto fail;
  }
  if (read_at(ctx, size - 8 - flen, r->footer, flen)) {
    rc = pq_fail(err, errlen, AKIDB_EIO, "cannot read the footer");
    goto fail;
  }
  rc = pq_meta_decode(r->footer, flen, r->lim.max_columns, &r->meta, err, errlen);
  if (rc) goto fail;
  rc = build_schema(r, err, errlen);
  if (rc) goto fail;
  rc = check_row_groups(r, size - 8 - flen, err, errlen);
  if (rc) goto fail;
  *out = r;
  return 0;
fail:
  pq_reader_free(r);
  return rc;
}

void pq_reader_free(pq_reader_t *r) {
  if (!r) return;
  for (uint32_t i = 0; i < r->nleaves; i++) free(r->leaves[i].path);
  free(r->leaves);
  for (uint32_t f = 0; r->logical && f < r->nfields; f++) free(r->logical[f]);
  free(r->logical);
  free(r->fields);
  free(r->field_first_leaf);
  free(r->field_leaves);
  pq_meta_free(&r->meta);
  free(r->footer);
  free(r);
}

/* ------------------------------------------------------------ queries -- */

uint64_t pq_reader_num_rows(const pq_reader_t *r) { return (uint64_t)r->meta.num_rows; }
size_t pq_reader_num_row_groups(const pq_reader_t *r) { return r->meta.num_row_groups; }
size_t pq_reader_num_columns(const pq_reader_t *r) { return r->nleaves; }
const char *pq_reader_created_by(const pq_reader_t *r) { return r->meta.created_by; }

const pq_field_t *pq_reader_fields(const pq_reader_t *r, size_t *count) {
  *count = r->nfields;
  return r->fields;
}

const char *pq_reader_kv(const pq_reader_t *r, const char *key) {
  for (uint32_t i = 0; i < r->meta.num_kv; i++)
    if (strcmp(r->meta.kv[i].key, key) == 0) return r->meta.kv[i].value;
  return NULL;
}

int64_t pq_reader_row_group_rows(const pq_reader_t *r, size_t rg) {
  return rg < r->meta.num_row_groups ? r->meta.row_groups[rg].num_rows : 0;
}

int pq_reader_chunk_info(const pq_reader_t *r, size_t rg, size_t col,
                         pq_chunk_info_t *out) {
  if (rg >= r->meta.num_row_groups || col >= r->nleaves) return AKIDB_EINVAL;
  const pq_chunk_meta_t *m = &r->meta.row_groups[rg].columns[col];
  memset(out, 0, sizeof *out);
  out->path = r->leaves[col].path;
  out->type = m->type;
  out->codec = m->codec;
  out->num_values = m->num_values;
  out->total_compressed_size = m->total_compressed_size;
  out->total_uncompressed_size = m->total_uncompressed_size;
  out->data_page_offset = m->data_page_offset;
  out->dictionary_page_offset = m->dictionary_page_offset;
  out->has_null_count = m->stats.has_null_count;
  out->null_count = m->stats.null_count;
  if (m->stats.has_min) out->min_value = m->stats.min, out->min_len = m->stats.min_len;
  if (m->stats.has_max) out->max_value = m->stats.max, out->max_len = m->stats.max_len;
  return 0;
}
