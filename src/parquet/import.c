/*
 * parquet/import.c — the import mapping: which columns of a file are the
 * id, the vector, the text and the payload, how every other scalar column
 * becomes a key of the payload object (jansson builds the JSON), and the
 * row iterator that walks the row groups with one column cursor
 * (column.c) per used column. The rules are documented in parquet.h.
 *
 * Memory: one page per used column plus one row. Locking: an import
 * belongs to one thread. Durability: read-only.
 */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/pq_internal.h"

typedef struct {
  uint32_t leaf;
  const char *name;
  pq_col_t *col;
} used_col_t;

struct pq_import {
  pq_reader_t *r;
  uint32_t dim;
  bool vec_flba;
  int id, vec, text, payload; /* indexes into cols, -1 when absent */
  used_col_t *cols;
  uint32_t ncols;
  size_t rg;
  int64_t rg_left;  /* rows left in the current row group */
  bool opened;      /* cursors of row group rg are open */
  uint64_t row;
  int failed;
  char saved_err[512];
  float *vec_buf;
  uint32_t vec_cap;
  pq_buf_t id_buf, text_buf;
  char *payload_text;
};

void pq_import_options_default(pq_import_options_t *o) {
  memset(o, 0, sizeof *o);
  o->extra_columns = 1;
}

/* --------------------------------------------------------------- mapping */

static int find_field(const pq_reader_t *r, const char *name) {
  for (uint32_t f = 0; f < r->nfields; f++)
    if (strcmp(r->fields[f].name, name) == 0) return (int)f;
  return -1;
}

static bool is_string_field(const pq_field_t *f) {
  return f->kind == PQ_FIELD_SCALAR && f->type == PQ_BYTE_ARRAY;
}

static int add_col(pq_import_t *it, uint32_t field) {
  used_col_t *c = &it->cols[it->ncols];
  c->leaf = it->r->field_first_leaf[field];
  c->name = it->r->fields[field].name;
  c->col = NULL;
  return (int)it->ncols++;
}

static int map_vector(pq_import_t *it, int f, const char *name, char *err, size_t errlen) {
  const pq_field_t *fd = &it->r->fields[f];
  if (fd->kind == PQ_FIELD_SCALAR && fd->type == PQ_FIXED_LEN_BYTE_ARRAY) {
    if (fd->type_length % 4 || (it->dim && (uint32_t)fd->type_length != it->dim * 4))
      return pq_fail(err, errlen, AKIDB_EDIM,
                     "vector column '%s' is FIXED_LEN_BYTE_ARRAY(%d), which does not "
                     "hold %u floats", name, fd->type_length, it->dim);
    it->vec_flba = true;
    it->dim = (uint32_t)fd->type_length / 4;
  } else if (fd->kind != PQ_FIELD_LIST) {
    return pq_fail(err, errlen, AKIDB_ENOTSUP,
                   "vector column '%s' is not a list of FLOAT or DOUBLE (it is %s%s%s)", name,
                   fd->kind == PQ_FIELD_SCALAR ? "a scalar " : "a nested column",
                   fd->kind == PQ_FIELD_SCALAR ? pq_type_name(fd->type) : "",
                   "");
  } else if (fd->type != PQ_FLOAT && fd->type != PQ_DOUBLE) {
    return pq_fail(err, errlen, AKIDB_ENOTSUP,
                   "vector column '%s' is a list of %s; expected FLOAT or DOUBLE", name,
                   pq_type_name(fd->type));
  }
  it->vec = add_col(it, (uint32_t)f);
  return 0;
}

static int map_columns(pq_import_t *it, const pq_import_options_t *o, char *err,
                       size_t errlen) {
  pq_reader_t *r = it->r;
  const char *id_name = o->id_column ? o->id_column : "id";
  const char *vec_name = o->vector_column ? o->vector_column : "vector";
  const char *text_name = o->text_column ? o->text_column : "text";
  const char *pl_name = o->payload_column ? o->payload_column : "payload";
  int fid = find_field(r, id_name), fvec = find_field(r, vec_name);
  if (fid < 0)
    return pq_fail(err, errlen, AKIDB_EINVAL, "the file has no id column '%s'", id_name);
  if (fvec < 0)
    return pq_fail(err, errlen, AKIDB_EINVAL, "the file has no vector column '%s'", vec_name);
  const pq_field_t *fi = &r->fields[fid];
  if (fi->kind != PQ_FIELD_SCALAR ||
      (fi->type != PQ_BYTE_ARRAY && fi->type != PQ_INT32 && fi->type != PQ_INT64 &&
       fi->type != PQ_FIXED_LEN_BYTE_ARRAY))
    return pq_fail(err, errlen, AKIDB_ENOTSUP,
                   "id column '%s' must be a string or an integer, it is %s", id_name,
                   fi->kind == PQ_FIELD_SCALAR ? pq_type_name(fi->type) : "a nested column");
  if (fid == fvec)
    return pq_fail(err, errlen, AKIDB_EINVAL, "the id and vector columns are both '%s'", id_name);
  it->cols = calloc(r->nfields + 2, sizeof *it->cols);
  if (!it->cols) return pq_fail(err, errlen, AKIDB_ENOMEM, "out of memory");
  it->id = add_col(it, (uint32_t)fid);
  int rc = map_vector(it, fvec, vec_name, err, errlen);
  if (rc) return rc;
  int ftext = find_field(r, text_name), fpl = find_field(r, pl_name);
  if (ftext >= 0 && (ftext == fid || ftext == fvec || !is_string_field(&r->fields[ftext])))
    ftext = -1;
  if (fpl >= 0 && (fpl == fid || fpl == fvec || fpl == ftext ||
                   !is_string_field(&r->fields[fpl])))
    fpl = -1;
  it->text = ftext >= 0 ? add_col(it, (uint32_t)ftext) : -1;
  it->payload = fpl >= 0 ? add_col(it, (uint32_t)fpl) : -1;
  if (!o->extra_columns) return 0;
  for (uint32_t f = 0; f < r->nfields; f++) {
    if ((int)f == fid || (int)f == fvec || (int)f == ftext || (int)f == fpl) continue;
    if (r->fields[f].kind == PQ_FIELD_SCALAR) add_col(it, f);
  }
  return 0;
}

int pq_import_open(pq_reader_t *r, const pq_import_options_t *opts, pq_import_t **out,
                   char *err, size_t errlen) {
  *out = NULL;
  pq_import_options_t defaults;
  if (!opts) {
    pq_import_options_default(&defaults);
    opts = &defaults;
  }
  pq_import_t *it = calloc(1, sizeof *it);
  if (!it) return pq_fail(err, errlen, AKIDB_ENOMEM, "out of memory");
  it->r = r;
  it->dim = opts->dimension;
  it->id = it->vec = it->text = it->payload = -1;
  int rc = map_columns(it, opts, err, errlen);
  if (rc) {
    pq_import_free(it);
    return rc;
  }
  it->rg_left = 0;
  it->rg = 0;
  *out = it;
  return 0;
}

static void close_cols(pq_import_t *it) {
  for (uint32_t i = 0; i < it->ncols; i++) {
    pq_col_free(it->cols[i].col);
    it->cols[i].col = NULL;
  }
  it->opened = false;
}

void pq_import_free(pq_import_t *it) {
  if (!it) return;
  if (it->cols) close_cols(it);
  free(it->cols);
  free(it->vec_buf);
  pq_buf_free(&it->id_buf);
  pq_buf_free(&it->text_buf);
  free(it->payload_text);
  free(it);
}

/* ------------------------------------------------------------ conversions */

/* Days since 1970-01-01 to a civil date (proleptic Gregorian). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* "YYYY-MM-DDTHH:MM:SS[.fff...][Z]" from ticks of 10^-digits seconds. */
static json_t *timestamp_json(int64_t ticks, int digits, bool utc) {
  int64_t per_sec = 1;
  for (int i = 0; i < digits; i++) per_sec *= 10;
  int64_t secs = floor_div(ticks, per_sec), frac = ticks - secs * per_sec;
  int64_t days = floor_div(secs, 86400), sod = secs - days * 86400;
  int64_t y;
  int m, d;
  civil_from_days(days, &y, &m, &d);
  char buf[64];
  int n = snprintf(buf, sizeof buf, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d", y, m, d,
                   (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
  if (frac && n > 0) n += snprintf(buf + n, sizeof buf - (size_t)n, ".%0*" PRId64, digits, frac);
  if (utc && n > 0) snprintf(buf + n, sizeof buf - (size_t)n, "Z");
  return json_string(buf);
}

static json_t *date_json(int64_t days) {
  int64_t y;
  int m, d;
  civil_from_days(days, &y, &m, &d);
  char buf[32];
  snprintf(buf, sizeof buf, "%04" PRId64 "-%02d-%02d", y, m, d);
  return json_string(buf);
}

static json_t *time_json(int64_t ticks, int digits) {
  int64_t per_sec = 1;
  for (int i = 0; i < digits; i++) per_sec *= 10;
  int64_t secs = floor_div(ticks, per_sec), frac = ticks - secs * per_sec;
  char buf[48];
  int n = snprintf(buf, sizeof buf, "%02d:%02d:%02d", (int)(secs / 3600 % 100),
                   (int)(secs / 60 % 60), (int)(secs % 60));
  if (frac && n > 0) snprintf(buf + n, sizeof buf - (size_t)n, ".%0*" PRId64, digits, frac);
  return json_string(buf);
}

static json_t *base64_json(const uint8_t *p, size_t n) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t out_len = 4 * ((n + 2) / 3);
  char *s = malloc(out_len + 1);
  if (!s) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                 (i + 2 < n ? p[i + 2] : 0);
    s[k++] = tab[v >> 18 & 63];
    s[k++] = tab[v >> 12 & 63];
    s[k++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
    s[k++] = i + 2 < n ? tab[v & 63] : '=';
  }
  json_t *j = json_stringn(s, k);
  free(s);
  return j;
}

/* A string when valid UTF-8, base64 otherwise. */
static json_t *text_json(const uint8_t *p, size_t n) {
  json_t *j = json_stringn((const char *)p, n);
  return j ? j : base64_json(p, n);
}

static json_t *uuid_json(const uint8_t *p) {
  char buf[40];
  int k = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) buf[k++] = '-';
    k += snprintf(buf + k, sizeof buf - (size_t)k, "%02x", p[i]);
  }
  return json_string(buf);
}

/* A big-endian two's complement integer of up to 16 bytes (DECIMAL). */
static bool be_int(const uint8_t *p, size_t n, __int128 *v) {
  if (n == 0 || n > 16) return false;
  unsigned __int128 u = p[0] & 0x80 ? ~(unsigned __int128)0 : 0;
  for (size_t i = 0; i < n; i++) u = u << 8 | p[i];
  *v = (__int128)u;
  return true;
}

/* DECIMAL as a JSON number (a double: exact up to 15-16 digits). */
static json_t *decimal_json(__int128 unscaled, int scale) {
  return json_real((double)unscaled / pow(10.0, scale));
}

static json_t *real_json(double d) { return isfinite(d) ? json_real(d) : json_null(); }

static float half_to_float(uint16_t h) {
  int e = h >> 10 & 31, m = h & 1023;
  float v = e == 0 ? ldexpf((float)m, -24)
            : e == 31 ? (m ? NAN : INFINITY) : ldexpf((float)(m | 1024), e - 25);
  return h & 0x8000 ? -v : v;
}

static bool has_unit(const pq_schema_elem_t *e, int lt, int ct_millis, int ct_micros,
                     int *digits, bool *utc) {
  if (e->logical == lt) {
    *digits = e->unit == PQ_UNIT_MILLIS ? 3 : e->unit == PQ_UNIT_NANOS ? 9 : 6;
    *utc = e->utc;
    return true;
  }
  if (e->converted == ct_millis || e->converted == ct_micros) {
    *digits = e->converted == ct_millis ? 3 : 6;
    *utc = true;
    return true;
  }
  return false;
}

static json_t *int_json(const pq_schema_elem_t *e, int64_t v, bool is64) {
  int digits;
  bool utc;
  if (e->logical == PQ_LT_DATE || e->converted == PQ_CT_DATE) return date_json(v);
  if (e->logical == PQ_LT_DECIMAL || e->converted == PQ_CT_DECIMAL)
    return decimal_json(v, e->scale);
  if (has_unit(e, PQ_LT_TIMESTAMP, PQ_CT_TIMESTAMP_MILLIS, PQ_CT_TIMESTAMP_MICROS, &digits,
               &utc))
    return timestamp_json(v, digits, utc);
  if (has_unit(e, PQ_LT_TIME, PQ_CT_TIME_MILLIS, PQ_CT_TIME_MICROS, &digits, &utc))
    return time_json(v, digits);
  bool is_unsigned = (e->logical == PQ_LT_INTEGER && !e->int_signed) ||
                     (e->converted >= PQ_CT_UINT_8 && e->converted <= PQ_CT_UINT_64);
  if (is_unsigned && !is64) return json_integer((json_int_t)(uint32_t)v);
  if (is_unsigned && v < 0) return json_real((double)(uint64_t)v);
  return json_integer((json_int_t)v);
}

static json_t *bytes_json(const pq_schema_elem_t *e, const uint8_t *p, size_t n) {
  __int128 v;
  if (e->logical == PQ_LT_JSON || e->converted == PQ_CT_JSON) {
    json_t *j = json_loadb((const char *)p, n, JSON_DECODE_ANY, NULL);
    return j ? j : text_json(p, n);
  }
  if (e->logical == PQ_LT_UUID && n == 16) return uuid_json(p);
  if ((e->logical == PQ_LT_DECIMAL || e->converted == PQ_CT_DECIMAL) && be_int(p, n, &v))
    return decimal_json(v, e->scale);
  if (e->logical == PQ_LT_FLOAT16 && n == 2) return real_json(half_to_float((uint16_t)(p[0] | p[1] << 8)));
  bool is_text = e->logical == PQ_LT_STRING || e->logical == PQ_LT_ENUM ||
                 e->converted == PQ_CT_UTF8 || e->converted == PQ_CT_ENUM ||
                 (e->logical == PQ_LT_NONE && e->converted == PQ_CT_NONE &&
                  e->type == PQ_BYTE_ARRAY);
  return is_text ? text_json(p, n) : base64_json(p, n);
}

/* The payload value of one scalar column. */
static json_t *value_json(const pq_schema_elem_t *e, const pq_value_t *v) {
  switch (e->type) {
  case PQ_BOOLEAN: return json_boolean(v->p[0]);
  case PQ_INT32: return int_json(e, (int32_t)pq_load_u32le(v->p), false);
  case PQ_INT64: return int_json(e, (int64_t)pq_load_u64le(v->p), true);
  case PQ_INT96: { /* legacy timestamp: nanoseconds of the day, Julian day */
    __int128 ns = (__int128)((int64_t)(int32_t)pq_load_u32le(v->p + 8) - 2440588) * 86400 *
                      1000000000 + (int64_t)pq_load_u64le(v->p);
    if (ns < INT64_MIN || ns > INT64_MAX) return json_null();
    return timestamp_json((int64_t)ns, 9, true);
  }
  case PQ_FLOAT: {
    float f;
    memcpy(&f, v->p, 4);
    return real_json(f);
  }
  case PQ_DOUBLE: {
    double d;
    memcpy(&d, v->p, 8);
    return real_json(d);
  }
  default: return bytes_json(e, v->p, v->len);
  }
}

/* ------------------------------------------------------------------ rows */

static int row_fail(pq_import_t *it, char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int row_fail(pq_import_t *it, char *err, size_t errlen, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = snprintf(it->saved_err, sizeof it->saved_err, "row %" PRIu64 ": ", it->row);
  if (n > 0 && (size_t)n < sizeof it->saved_err)
    vsnprintf(it->saved_err + n, sizeof it->saved_err - (size_t)n, fmt, ap);
  va_end(ap);
  it->failed = code;
  return pq_fail(err, errlen, code, "%s", it->saved_err);
}

/* Records a failure whose message is already in err. */
static int sticky(pq_import_t *it, int code, const char *err) {
  it->failed = code;
  snprintf(it->saved_err, sizeof it->saved_err, "%s", err ? err : akidb_strerror(code));
  return code;
}

static int open_group(pq_import_t *it, char *err, size_t errlen) {
  for (uint32_t i = 0; i < it->ncols; i++) {
    int rc = pq_col_open(it->r, it->rg, it->cols[i].leaf, &it->cols[i].col, err, errlen);
    if (rc) return rc;
  }
  it->opened = true;
  return 0;
}

/* Moves to the next row group with rows: 1 when there is one, 0 at the end. */
static int next_group(pq_import_t *it, char *err, size_t errlen) {
  while (it->rg_left == 0) {
    if (it->opened) {
      for (uint32_t i = 0; i < it->ncols; i++) {
        int rc = pq_col_check_end(it->cols[i].col, err, errlen);
        if (rc) return rc;
      }
      close_cols(it);
      it->rg++;
    }
    if (it->rg >= it->r->meta.num_row_groups) return 0;
    it->rg_left = it->r->meta.row_groups[it->rg].num_rows;
    int rc = open_group(it, err, errlen);
    if (rc) return rc;
  }
  return 1;
}

/* Reads column i's value for this row; 1 when present, 0 for null. */
static int scalar(pq_import_t *it, uint32_t i, pq_value_t *v, char *err, size_t errlen) {
  bool present = false;
  int rc = pq_col_next_scalar(it->cols[i].col, &present, v, err, errlen);
  if (rc == 1)
    return row_fail(it, err, errlen, AKIDB_ECORRUPT,
                    "column %s ends before its row group's %" PRId64 " rows", it->cols[i].name,
                    it->r->meta.row_groups[it->rg].num_rows);
  if (rc < 0) return sticky(it, rc, err);
  return present ? 1 : 0;
}

static int read_id(pq_import_t *it, pq_row_t *row, char *err, size_t errlen) {
  pq_value_t v;
  int rc = scalar(it, (uint32_t)it->id, &v, err, errlen);
  if (rc < 0) return rc;
  if (rc == 0) return row_fail(it, err, errlen, AKIDB_EINVAL, "id is null");
  const pq_schema_elem_t *e = &it->r->meta.schema[it->r->leaves[it->cols[it->id].leaf].elem];
  it->id_buf.len = 0;
  if (e->type == PQ_INT32 || e->type == PQ_INT64) {
    json_t *j = int_json(e, e->type == PQ_INT32 ? (int32_t)pq_load_u32le(v.p)
                                                : (int64_t)pq_load_u64le(v.p),
                         e->type == PQ_INT64);
    char buf[32];
    int n = 0;
    if (json_is_integer(j)) n = snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
    else if (json_is_real(j)) n = snprintf(buf, sizeof buf, "%.0f", json_real_value(j));
    else if (json_is_string(j)) n = snprintf(buf, sizeof buf, "%s", json_string_value(j));
    json_decref(j);
    pq_buf_put(&it->id_buf, buf, n > 0 ? (size_t)n : 0);
  } else if (e->logical == PQ_LT_UUID && v.len == 16) {
    json_t *j = uuid_json(v.p);
    if (j) pq_buf_put(&it->id_buf, json_string_value(j), strlen(json_string_value(j)));
    json_decref(j);
  } else {
    pq_buf_put(&it->id_buf, v.p, v.len);
  }
  pq_buf_byte(&it->id_buf, 0);
  if (it->id_buf.oom) return row_fail(it, err, errlen, AKIDB_ENOMEM, "out of memory");
  if (it->id_buf.len == 1) return row_fail(it, err, errlen, AKIDB_EINVAL, "id is empty");
  row->id = (const char *)it->id_buf.data;
  row->id_len = it->id_buf.len - 1;
  return 0;
}

static int check_dim(pq_import_t *it, uint32_t n, char *err, size_t errlen) {
  if (it->dim == 0) {
    if (n == 0) return row_fail(it, err, errlen, AKIDB_EDIM, "vector is empty");
    it->dim = n;
  }
  if (n != it->dim)
    return row_fail(it, err, errlen, AKIDB_EDIM,
                    "vector has %u values, the collection's dimension is %u", n, it->dim);
  return 0;
}

static int read_vector(pq_import_t *it, pq_row_t *row, char *err, size_t errlen) {
  if (it->vec_flba) {
    pq_value_t v;
    int rc = scalar(it, (uint32_t)it->vec, &v, err, errlen);
    if (rc < 0) return rc;
    if (rc == 0) return row_fail(it, err, errlen, AKIDB_EINVAL, "vector is null");
    if (!it->vec_buf && !(it->vec_buf = malloc(it->dim * sizeof(float))))
      return row_fail(it, err, errlen, AKIDB_ENOMEM, "out of memory");
    memcpy(it->vec_buf, v.p, it->dim * sizeof(float));
  } else {
    uint32_t want = it->dim ? it->dim : 65536;
    if (it->vec_cap < want) {
      float *b = realloc(it->vec_buf, want * sizeof(float));
      if (!b) return row_fail(it, err, errlen, AKIDB_ENOMEM, "out of memory");
      it->vec_buf = b;
      it->vec_cap = want;
    }
    uint32_t n = 0;
    int state = 0;
    int rc = pq_col_next_list(it->cols[it->vec].col, it->vec_buf, it->vec_cap, &n, &state,
                              err, errlen);
    if (rc == 1)
      return row_fail(it, err, errlen, AKIDB_ECORRUPT,
                      "column %s ends before its row group's %" PRId64 " rows",
                      it->cols[it->vec].name, it->r->meta.row_groups[it->rg].num_rows);
    if (rc < 0) return sticky(it, rc, err);
    if (state == PQ_LIST_NULL) return row_fail(it, err, errlen, AKIDB_EINVAL, "vector is null");
    if (state == PQ_LIST_NULL_ELEMENT)
      return row_fail(it, err, errlen, AKIDB_EINVAL, "vector element %u is null", n);
    if (it->dim == 0 && n > it->vec_cap)
      return row_fail(it, err, errlen, AKIDB_EDIM,
                      "vector has %u values, more than the %u AkiDB infers a dimension from",
                      n, it->vec_cap);
    if ((rc = check_dim(it, n, err, errlen))) return rc;
  }
  row->vector = it->vec_buf;
  row->dimension = it->dim;
  return 0;
}

static int read_text(pq_import_t *it, pq_row_t *row, char *err, size_t errlen) {
  row->text = NULL;
  row->text_len = 0;
  if (it->text < 0) return 0;
  pq_value_t v;
  int rc = scalar(it, (uint32_t)it->text, &v, err, errlen);
  if (rc <= 0) return rc;
  it->text_buf.len = 0;
  pq_buf_put(&it->text_buf, v.p, v.len);
  pq_buf_byte(&it->text_buf, 0);
  if (it->text_buf.oom) return row_fail(it, err, errlen, AKIDB_ENOMEM, "out of memory");
  row->text = (const char *)it->text_buf.data;
  row->text_len = v.len;
  return 0;
}

/* Hands the row its payload: `text` (len bytes) copied, or nothing. */
static int set_payload(pq_import_t *it, pq_row_t *row, const char *text, size_t len, char *err,
                       size_t errlen) {
  free(it->payload_text);
  it->payload_text = NULL;
  row->payload = NULL;
  row->payload_len = 0;
  if (!text) return 0;
  if (!(it->payload_text = malloc(len + 1)))
    return row_fail(it, err, errlen, AKIDB_ENOMEM, "out of memory building the payload");
  memcpy(it->payload_text, text, len);
  it->payload_text[len] = '\0';
  row->payload = it->payload_text;
  row->payload_len = len;
  return 0;
}

/* The payload object: the payload column's object, then every extra
 * column's value under its name (nulls left out). A payload column with no
 * extra values keeps its bytes as they are (a snapshot restores payloads
 * byte for byte, "{}" included). */
static int read_payload(pq_import_t *it, pq_row_t *row, char *err, size_t errlen) {
  json_t *obj = NULL;
  pq_value_t v;
  const char *own = NULL; /* the payload column's text, when present */
  size_t own_len = 0;
  int rc, extras = 0;
  if (it->payload >= 0) {
    if ((rc = scalar(it, (uint32_t)it->payload, &v, err, errlen)) < 0) return rc;
    if (rc == 1) {
      json_error_t je;
      obj = json_loadb((const char *)v.p, v.len, 0, &je);
      if (!obj || !json_is_object(obj)) {
        json_decref(obj);
        return row_fail(it, err, errlen, AKIDB_EINVAL, "payload is not a JSON object%s%s",
                        obj ? "" : ": ", obj ? "" : je.text);
      }
      own = (const char *)v.p;
      own_len = v.len;
    }
  }
  for (uint32_t i = 0; i < it->ncols; i++) {
    if ((int)i == it->id || (int)i == it->vec || (int)i == it->text || (int)i == it->payload)
      continue;
    if ((rc = scalar(it, i, &v, err, errlen)) < 0) {
      json_decref(obj);
      return rc;
    }
    if (rc == 0) continue;
    const pq_schema_elem_t *e = &it->r->meta.schema[it->r->leaves[it->cols[i].leaf].elem];
    json_t *j = value_json(e, &v);
    if (!obj) obj = json_object();
    if (!j || !obj) {
      json_decref(j);
      json_decref(obj);
      return row_fail(it, err, errlen, AKIDB_ENOMEM, "out of memory building the payload");
    }
    if (json_object_set_new(obj, it->cols[i].name, j)) { /* j is released */
      json_decref(obj);
      return row_fail(it, err, errlen, AKIDB_EINVAL,
                      "column name '%s' is not valid UTF-8, so it cannot be a payload key",
                      it->cols[i].name);
    }
    extras++;
  }
  if (own && extras == 0) {
    json_decref(obj);
    return set_payload(it, row, own, own_len, err, errlen);
  }
  char *text = obj && json_object_size(obj) > 0 ? json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY)
                                                : NULL;
  bool wanted = obj && json_object_size(obj) > 0;
  json_decref(obj);
  if (wanted && !text)
    return row_fail(it, err, errlen, AKIDB_ENOMEM, "out of memory building the payload");
  rc = set_payload(it, row, text, text ? strlen(text) : 0, err, errlen);
  free(text);
  return rc;
}

int pq_import_next(pq_import_t *it, pq_row_t *row, char *err, size_t errlen) {
  if (it->failed) return pq_fail(err, errlen, it->failed, "%s", it->saved_err);
  int rc = next_group(it, err, errlen);
  if (rc < 0) return sticky(it, rc, err);
  if (rc == 0) return 0;
  memset(row, 0, sizeof *row);
  row->row = it->row;
  if ((rc = read_id(it, row, err, errlen)) || (rc = read_vector(it, row, err, errlen)) ||
      (rc = read_text(it, row, err, errlen)) || (rc = read_payload(it, row, err, errlen)))
    return rc;
  it->row++;
  it->rg_left--;
  return 1;
}
