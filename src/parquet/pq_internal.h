/*
 * parquet/pq_internal.h — what the files of src/parquet/ share: a growable
 * byte buffer, the Thrift compact protocol (thrift.c), the value and level
 * encodings (encoding.c), the page codecs (compress.c) and the footer's
 * structures (meta.c). Not for use outside src/parquet/ and its tests.
 */
#ifndef AKIDB_PARQUET_INTERNAL_H
#define AKIDB_PARQUET_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parquet/parquet.h"

/* Formats one sentence into err (if any); returns code. */
int pq_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ------------------------------------------------------------- buffer -- */

typedef struct {
  uint8_t *data;
  size_t len, cap;
  bool oom; /* an append failed: the contents are incomplete */
} pq_buf_t;

/* Makes room for `more` bytes; false (and oom set) on failure. */
bool pq_buf_reserve(pq_buf_t *b, size_t more);
void pq_buf_put(pq_buf_t *b, const void *p, size_t n);
void pq_buf_byte(pq_buf_t *b, uint8_t v);
void pq_buf_u32le(pq_buf_t *b, uint32_t v);
void pq_buf_varint(pq_buf_t *b, uint64_t v);
void pq_buf_free(pq_buf_t *b);

static inline uint32_t pq_load_u32le(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static inline uint64_t pq_load_u64le(const uint8_t *p) {
  return (uint64_t)pq_load_u32le(p) | (uint64_t)pq_load_u32le(p + 4) << 32;
}

/* ------------------------------------------------ thrift compact (thrift.c) */

enum {
  PQ_T_STOP = 0,
  PQ_T_TRUE = 1,
  PQ_T_FALSE = 2,
  PQ_T_BYTE = 3,
  PQ_T_I16 = 4,
  PQ_T_I32 = 5,
  PQ_T_I64 = 6,
  PQ_T_DOUBLE = 7,
  PQ_T_BINARY = 8,
  PQ_T_LIST = 9,
  PQ_T_SET = 10,
  PQ_T_MAP = 11,
  PQ_T_STRUCT = 12
};

#define PQ_THRIFT_MAX_DEPTH 32

/* Encoder: appends to a buffer; struct nesting tracked for field deltas. */
typedef struct {
  pq_buf_t *out;
  int depth;
  int16_t last[PQ_THRIFT_MAX_DEPTH];
} pq_tw_t;

void pq_tw_init(pq_tw_t *w, pq_buf_t *out);
void pq_tw_struct_begin(pq_tw_t *w);
void pq_tw_struct_end(pq_tw_t *w); /* writes the stop byte */
void pq_tw_field(pq_tw_t *w, int16_t id, int type);
void pq_tw_i32(pq_tw_t *w, int16_t id, int32_t v);
void pq_tw_i64(pq_tw_t *w, int16_t id, int64_t v);
void pq_tw_bool(pq_tw_t *w, int16_t id, bool v);
void pq_tw_binary(pq_tw_t *w, int16_t id, const void *p, size_t n);
void pq_tw_string(pq_tw_t *w, int16_t id, const char *s);
/* A list field header; the caller then writes count elements (for
 * struct elements: struct_begin ... struct_end each). */
void pq_tw_list(pq_tw_t *w, int16_t id, int elem_type, uint32_t count);
/* Elements of a list. */
void pq_tw_elem_i32(pq_tw_t *w, int32_t v);
void pq_tw_elem_binary(pq_tw_t *w, const void *p, size_t n);
/* An empty struct as a field (e.g. LogicalType.STRING). */
void pq_tw_empty_struct(pq_tw_t *w, int16_t id);

/* Decoder over a bounded buffer; an error sets `bad` and every later read
 * returns zeros, so callers check once at the end of a struct. */
typedef struct {
  const uint8_t *p, *end;
  int depth;
  bool bad;
  const char *why; /* first problem, static text */
} pq_tr_t;

void pq_tr_init(pq_tr_t *r, const void *buf, size_t len);
/* Reads a field header inside the current struct: returns false at the
 * stop byte (or on error); sets *id and *type. Call struct_begin first. */
bool pq_tr_field(pq_tr_t *r, int16_t *id, int *type);
bool pq_tr_struct_begin(pq_tr_t *r); /* false when too deep */
void pq_tr_struct_end(pq_tr_t *r);
int64_t pq_tr_int(pq_tr_t *r, int type); /* I16/I32/I64/BYTE field value */
bool pq_tr_bool(pq_tr_t *r, int type);    /* value of a bool field */
double pq_tr_double(pq_tr_t *r);
/* Points *p into the buffer; returns the length. */
size_t pq_tr_binary(pq_tr_t *r, const uint8_t **p);
/* A list header: element type and count (count <= bytes left). */
uint32_t pq_tr_list(pq_tr_t *r, int *elem_type);
/* An element of a list of bools. */
bool pq_tr_elem_bool(pq_tr_t *r);
/* Skips a value of the given type (depth-limited). */
void pq_tr_skip(pq_tr_t *r, int type);
/* Marks the decoder bad with a reason. */
void pq_tr_fail(pq_tr_t *r, const char *why);
uint64_t pq_tr_varint(pq_tr_t *r);

/* ------------------------------------------------ encodings (encoding.c) */

enum {
  PQ_ENC_PLAIN = 0,
  PQ_ENC_PLAIN_DICTIONARY = 2,
  PQ_ENC_RLE = 3,
  PQ_ENC_BIT_PACKED = 4,
  PQ_ENC_DELTA_BINARY_PACKED = 5,
  PQ_ENC_DELTA_LENGTH_BYTE_ARRAY = 6,
  PQ_ENC_DELTA_BYTE_ARRAY = 7,
  PQ_ENC_RLE_DICTIONARY = 8,
  PQ_ENC_BYTE_STREAM_SPLIT = 9
};
const char *pq_encoding_name(int enc);

/* Bits needed for values 0..max. */
int pq_bit_width(uint64_t max);

/* RLE/bit-packed hybrid of n values of bit width bw (no length prefix). */
void pq_rle_encode(pq_buf_t *out, const uint32_t *v, size_t n, int bw);
/* Same for a constant-time pattern source: n copies of one value. */
void pq_rle_encode_run(pq_buf_t *out, uint32_t value, size_t n, int bw);
/* Decodes exactly n values from [p, p+len); returns bytes consumed, or -1
 * when the data ends early or holds an invalid run. */
long pq_rle_decode(const uint8_t *p, size_t len, int bw, uint32_t *out,
                   size_t n);
/* Legacy BIT_PACKED levels (MSB first); returns bytes consumed or -1. */
long pq_bitpacked_msb_decode(const uint8_t *p, size_t len, int bw,
                             uint32_t *out, size_t n);

/* A stream of levels (RLE/bit-packed hybrid, or legacy MSB-first
 * BIT_PACKED) read one value at a time, so a page's levels never need an
 * array as long as the page. */
typedef struct {
  const uint8_t *p;
  size_t len, pos;
  int bw;
  bool msb;          /* BIT_PACKED: one MSB-first run over all of p */
  bool literal;      /* the current run is bit-packed */
  uint64_t run_left; /* values left in the current run */
  uint32_t run_val;
  const uint8_t *lit;
  size_t lit_len;
  uint64_t lit_idx;
} pq_levels_t;

void pq_levels_init(pq_levels_t *s, const uint8_t *p, size_t len, int bw, bool msb);
/* The next value; false when the data ends early or holds a bad run. */
bool pq_levels_next(pq_levels_t *s, uint32_t *v);
/* Over the next n values of a copy of s: how many equal target; -1 when
 * the data ends early, -2 when a value exceeds max. */
long pq_levels_count(pq_levels_t s, size_t n, uint32_t max, uint32_t target);

/* DELTA_BINARY_PACKED. encode: 128-value blocks of 4 miniblocks. */
void pq_delta_encode(pq_buf_t *out, const int64_t *v, size_t n);
/* Decodes up to `max` values: *n gets the count the header declares (which
 * must be <= max); returns bytes consumed or -1. */
long pq_delta_decode(const uint8_t *p, size_t len, int64_t *out, size_t max,
                     size_t *n);
/* Count of values a DELTA_BINARY_PACKED header declares, or -1. */
long pq_delta_count(const uint8_t *p, size_t len);

/* BYTE_STREAM_SPLIT of n values of width w. */
void pq_bss_encode(uint8_t *dst, const uint8_t *src, size_t n, size_t w);
void pq_bss_decode(uint8_t *dst, const uint8_t *src, size_t n, size_t w);

/* ------------------------------------------------ codecs (compress.c) --- */

typedef struct pq_codec_ctx pq_codec_ctx_t;
pq_codec_ctx_t *pq_codec_ctx_new(void);
void pq_codec_ctx_free(pq_codec_ctx_t *c);
/* Is the codec one this build reads and writes? */
bool pq_codec_supported(int codec);
/* Compresses src into out (replacing its contents). */
int pq_compress(pq_codec_ctx_t *c, int codec, int level, const void *src,
                size_t n, pq_buf_t *out, char *err, size_t errlen);
/* Decompresses exactly dst_len bytes; any other size is an error. */
int pq_decompress(pq_codec_ctx_t *c, int codec, const void *src, size_t n,
                  void *dst, size_t dst_len, char *err, size_t errlen);

/* ------------------------------------------------ footer (meta.c) ------- */

enum { PQ_REQUIRED = 0, PQ_OPTIONAL = 1, PQ_REPEATED = 2 };

/* Converted types used here (parquet.thrift ConvertedType). */
enum {
  PQ_CT_NONE = -1,
  PQ_CT_UTF8 = 0,
  PQ_CT_MAP = 1,
  PQ_CT_MAP_KEY_VALUE = 2,
  PQ_CT_LIST = 3,
  PQ_CT_ENUM = 4,
  PQ_CT_DECIMAL = 5,
  PQ_CT_DATE = 6,
  PQ_CT_TIME_MILLIS = 7,
  PQ_CT_TIME_MICROS = 8,
  PQ_CT_TIMESTAMP_MILLIS = 9,
  PQ_CT_TIMESTAMP_MICROS = 10,
  PQ_CT_UINT_8 = 11,
  PQ_CT_UINT_16 = 12,
  PQ_CT_UINT_32 = 13,
  PQ_CT_UINT_64 = 14,
  PQ_CT_INT_8 = 15,
  PQ_CT_INT_16 = 16,
  PQ_CT_INT_32 = 17,
  PQ_CT_INT_64 = 18,
  PQ_CT_JSON = 19,
  PQ_CT_BSON = 20,
  PQ_CT_INTERVAL = 21
};

/* LogicalType union members (field ids). */
enum {
  PQ_LT_NONE = 0,
  PQ_LT_STRING = 1,
  PQ_LT_MAP = 2,
  PQ_LT_LIST = 3,
  PQ_LT_ENUM = 4,
  PQ_LT_DECIMAL = 5,
  PQ_LT_DATE = 6,
  PQ_LT_TIME = 7,
  PQ_LT_TIMESTAMP = 8,
  PQ_LT_INTEGER = 10,
  PQ_LT_UNKNOWN = 11,
  PQ_LT_JSON = 12,
  PQ_LT_BSON = 13,
  PQ_LT_UUID = 14,
  PQ_LT_FLOAT16 = 15
};

enum { PQ_UNIT_MILLIS = 1, PQ_UNIT_MICROS = 2, PQ_UNIT_NANOS = 3 };

typedef struct {
  char *name;
  int type; /* -1 for groups */
  int32_t type_length;
  int repetition; /* -1 when absent (root) */
  int32_t num_children;
  int converted; /* PQ_CT_NONE when absent */
  int32_t scale, precision;
  int logical;   /* PQ_LT_* */
  int unit;      /* TIME/TIMESTAMP unit */
  bool utc;      /* TIME/TIMESTAMP isAdjustedToUTC */
  int int_bits;  /* INTEGER bitWidth */
  bool int_signed;
} pq_schema_elem_t;

typedef struct {
  bool has_min, has_max, has_null_count;
  const uint8_t *min, *max; /* min_value/max_value (or legacy min/max) */
  size_t min_len, max_len;
  int64_t null_count;
} pq_stats_t;

typedef struct {
  char *path; /* dotted */
  int type;
  int codec;
  int64_t num_values;
  int64_t total_uncompressed_size;
  int64_t total_compressed_size;
  int64_t data_page_offset;
  int64_t dictionary_page_offset; /* -1 when absent */
  pq_stats_t stats;
  bool encrypted;
  bool external; /* file_path set: the chunk lives in another file */
} pq_chunk_meta_t;

typedef struct {
  int64_t num_rows;
  int64_t total_byte_size;
  pq_chunk_meta_t *columns;
  uint32_t num_columns;
} pq_row_group_t;

typedef struct {
  int32_t version;
  pq_schema_elem_t *schema;
  uint32_t num_schema;
  int64_t num_rows;
  pq_row_group_t *row_groups;
  uint32_t num_row_groups;
  pq_kv_t *kv; /* strings owned (char*) */
  uint32_t num_kv;
  char *created_by;
} pq_file_meta_t;

/* Decodes a FileMetaData (statistics point into buf, which must outlive
 * the result). Errors: AKIDB_ECORRUPT / AKIDB_ELIMIT / AKIDB_ENOMEM. */
int pq_meta_decode(const uint8_t *buf, size_t len, uint32_t max_columns,
                   pq_file_meta_t *m, char *err, size_t errlen);
void pq_meta_free(pq_file_meta_t *m);

/* Page header (the members the reader uses). */
enum { PQ_PAGE_DATA = 0, PQ_PAGE_INDEX = 1, PQ_PAGE_DICT = 2, PQ_PAGE_DATA_V2 = 3 };

typedef struct {
  int type;
  int32_t uncompressed_size, compressed_size;
  int32_t num_values;
  int encoding;
  int def_encoding, rep_encoding; /* v1 */
  int32_t num_nulls, num_rows;    /* v2 */
  int32_t def_len, rep_len;       /* v2 */
  bool is_compressed;             /* v2 */
  bool has_data, has_dict, has_v2;
} pq_page_header_t;

/* Decodes a page header from [buf, buf+len). Returns its length in bytes,
 * 0 when the bytes end before the header does (read more), -1 when it is
 * malformed. */
long pq_page_header_decode(const uint8_t *buf, size_t len, pq_page_header_t *h);

/* Encoders used by the writer. */
void pq_page_header_encode_v1(pq_buf_t *out, int type, int32_t uncompressed,
                              int32_t compressed, int32_t num_values,
                              int encoding);


/* ------------------------------------------------ reader (reader.c) ----- */

/* A leaf column of the schema. */
typedef struct {
  uint32_t elem;   /* index into meta.schema */
  uint32_t field;  /* index of its top-level field */
  int max_def, max_rep;
  int top_def;     /* definition level once the top-level field is present */
  int rep_def;     /* definition level of the innermost repeated node */
  char *path;      /* dotted */
} pq_leaf_t;

struct pq_reader {
  pq_read_at_fn read_at;
  void *ctx;
  uint64_t size;
  pq_reader_limits_t lim;
  uint8_t *footer;
  size_t footer_len;
  pq_file_meta_t meta;
  pq_leaf_t *leaves;
  uint32_t nleaves;
  pq_field_t *fields;
  uint32_t nfields;
  uint32_t *field_first_leaf, *field_leaves; /* per field */
  char **logical;                           /* per field, owned */
};

/* One value of a scalar column: fixed-width bytes or a byte array. */
typedef struct {
  const uint8_t *p;
  size_t len;
} pq_value_t;

typedef struct pq_col pq_col_t;

/* Opens the cursor over leaf column `leaf` of row group `rg`. */
int pq_col_open(pq_reader_t *r, size_t rg, uint32_t leaf, pq_col_t **out,
                char *err, size_t errlen);
void pq_col_free(pq_col_t *c);
/* Next row of a non-repeated column: *present false for null. Returns 0,
 * 1 when the chunk has no more rows, or a negative error. */
int pq_col_next_scalar(pq_col_t *c, bool *present, pq_value_t *v, char *err,
                       size_t errlen);

enum { PQ_LIST_OK = 0, PQ_LIST_NULL = 1, PQ_LIST_NULL_ELEMENT = 2 };
/* Next row of a FLOAT or DOUBLE list column: up to cap elements stored in
 * out (as float), *count gets the row's element count (all of them, even
 * past cap), *state PQ_LIST_*; for a null element *count is its index and
 * the rest of the row is skipped. Returns 0, 1 at the end, or an error. */
int pq_col_next_list(pq_col_t *c, float *out, uint32_t cap, uint32_t *count,
                     int *state, char *err, size_t errlen);
/* 0 when the chunk holds no further values, else an error naming it. */
int pq_col_check_end(pq_col_t *c, char *err, size_t errlen);

#endif /* AKIDB_PARQUET_INTERNAL_H */
