/*
 * parquet/parquet.h — AkiDB's own Parquet writer and reader (no C Parquet
 * library exists in Debian 12). Written from the format specification
 * (parquet.thrift, Encodings.md, LogicalTypes.md).
 *
 * Writer: collection snapshots. It streams through a sink callback, holds
 * at most one row group of rows in memory, and writes this schema:
 *
 *   message schema {
 *     required binary id (STRING);
 *     optional group vector (LIST) {
 *       repeated group list { required float element; }
 *     }
 *     optional binary payload (JSON);
 *     optional binary text (STRING);        -- only when has_text is set
 *   }
 *
 * The text column is left out of the schema when the writer is opened
 * without has_text (a reader then sees no such column, rather than a
 * column of nulls). Values are PLAIN, levels RLE/bit-packed hybrid, one or
 * more data pages (v1, at most ~1 MiB of values each) per column chunk,
 * pages compressed with ZSTD by default; the footer carries column
 * statistics, created_by "AkiDB <version>" and the caller's key/value pairs.
 *
 * Reader: imports and snapshot restore. Random access through a source
 * callback (local file or ranged GETs), the footer validated against the
 * file size, then rows decoded one page per selected column at a time
 * (levels are streamed, values of one page held: pages are what the writer
 * chose — ours ~1 MiB, DuckDB's up to a few hundred MiB for long lists —
 * and max_page_bytes caps them).
 * It reads data pages v1 and v2, dictionary pages, the encodings PLAIN,
 * PLAIN_DICTIONARY, RLE_DICTIONARY, RLE, BIT_PACKED (levels),
 * DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY and
 * BYTE_STREAM_SPLIT, and the codecs UNCOMPRESSED, SNAPPY, GZIP and ZSTD.
 *
 * Errors: every fallible call returns 0 or a negative akidb_err_t code and
 * fills `err` (may be NULL) with one sentence naming what is wrong:
 *   AKIDB_EFORMAT   not a Parquet file (magic)
 *   AKIDB_ECORRUPT  a length, offset, page or encoding that does not add up
 *   AKIDB_ENOTSUP   a valid file using something AkiDB cannot read (codec
 *                   LZ4, encryption, a vector column of INT32, ...)
 *   AKIDB_ELIMIT    a value beyond the reader's limits (nesting, page size)
 *   AKIDB_EDIM      a vector whose length is not the dimension
 *   AKIDB_EINVAL    bad arguments, a missing id/vector column, a null id
 *   AKIDB_EIO       the sink or source callback failed
 *   AKIDB_ENOMEM    out of memory
 * No handle is safe for concurrent use; distinct handles are independent.
 */
#ifndef AKIDB_PARQUET_H
#define AKIDB_PARQUET_H

#include <stddef.h>
#include <stdint.h>

#include "akidb/errors.h"

/* Physical types (parquet.thrift Type). */
typedef enum {
  PQ_BOOLEAN = 0,
  PQ_INT32 = 1,
  PQ_INT64 = 2,
  PQ_INT96 = 3,
  PQ_FLOAT = 4,
  PQ_DOUBLE = 5,
  PQ_BYTE_ARRAY = 6,
  PQ_FIXED_LEN_BYTE_ARRAY = 7
} pq_type_t;

/* Compression codecs (parquet.thrift CompressionCodec). */
typedef enum {
  PQ_CODEC_UNCOMPRESSED = 0,
  PQ_CODEC_SNAPPY = 1,
  PQ_CODEC_GZIP = 2,
  PQ_CODEC_LZO = 3,
  PQ_CODEC_BROTLI = 4,
  PQ_CODEC_LZ4 = 5,
  PQ_CODEC_ZSTD = 6,
  PQ_CODEC_LZ4_RAW = 7
} pq_codec_t;

/* Name of a codec ("ZSTD"); "codec N" for unknown values. Static storage. */
const char *pq_codec_name(int codec);
/* Name of a physical type ("FLOAT"). Static storage. */
const char *pq_type_name(int type);

/* ------------------------------------------------------------- writer -- */

/* Receives the file's bytes in order; returns 0, or non-zero to fail the
 * write (the writer then refuses further use with AKIDB_EIO). */
typedef int (*pq_sink_fn)(void *ctx, const void *buf, size_t len);

typedef struct {
  const char *key;
  const char *value; /* may be NULL */
} pq_kv_t;

#define PQ_DEFAULT_ROWS_PER_GROUP 65536u
#define PQ_DEFAULT_GROUP_BYTES (128u << 20) /* raw bytes buffered per group */
#define PQ_DEFAULT_PAGE_BYTES (1u << 20)    /* values per data page */
#define PQ_DEFAULT_ZSTD_LEVEL 1

typedef struct {
  uint32_t dimension;       /* floats per vector, 1 ... 65536; required */
  int has_text;             /* non-zero: the schema has the text column */
  uint32_t rows_per_group;  /* 0 = PQ_DEFAULT_ROWS_PER_GROUP */
  size_t group_bytes;       /* 0 = PQ_DEFAULT_GROUP_BYTES; a group is cut
                               when either limit is reached */
  size_t page_bytes;        /* 0 = PQ_DEFAULT_PAGE_BYTES */
  int codec;                /* PQ_CODEC_ZSTD (default, 0 is UNCOMPRESSED:
                               set it), SNAPPY, GZIP or UNCOMPRESSED */
  int zstd_level;           /* 0 = PQ_DEFAULT_ZSTD_LEVEL; 1..19 */
  const pq_kv_t *kv;        /* footer key/value metadata, copied at open */
  size_t kv_count;
} pq_writer_options_t;

/* Options with every default filled in and codec ZSTD; set dimension. */
void pq_writer_options_default(pq_writer_options_t *o);

typedef struct {
  uint64_t rows;
  uint64_t row_groups;
  uint64_t bytes; /* bytes handed to the sink, footer included */
} pq_writer_stats_t;

typedef struct pq_writer pq_writer_t;

/*
 * Opens a writer and writes the leading magic. The sink is called from
 * pq_writer_add_row (whenever a row group fills) and pq_writer_finish.
 * Errors: AKIDB_EINVAL (options), AKIDB_EIO (sink), AKIDB_ENOMEM.
 */
int pq_writer_open(const pq_writer_options_t *opts, pq_sink_fn sink, void *ctx,
                   pq_writer_t **out, char *err, size_t errlen);

/*
 * Adds one row. id (id_len bytes, UTF-8 expected, not checked) is
 * required; vec holds `dimension` floats (copied bit for bit, NaN
 * included); payload_json (NULL = null) is stored as given, the caller
 * vouches it is JSON; text NULL = null (ignored when the schema has no
 * text column). Errors: AKIDB_EINVAL, AKIDB_EIO, AKIDB_ENOMEM; any error is
 * sticky.
 */
int pq_writer_add_row(pq_writer_t *w, const char *id, size_t id_len,
                      const float *vec, const char *payload_json,
                      size_t payload_len, const char *text, size_t text_len,
                      char *err, size_t errlen);

/* Flushes the last row group and writes the footer and trailing magic.
 * stats may be NULL. After it (success or not) only free is allowed. */
int pq_writer_finish(pq_writer_t *w, pq_writer_stats_t *stats, char *err,
                     size_t errlen);

/* Frees the writer (finished or not); NULL is allowed. */
void pq_writer_free(pq_writer_t *w);

/* ------------------------------------------------------------- reader -- */

/* Reads exactly len bytes at off into buf; returns 0, non-zero on error. */
typedef int (*pq_read_at_fn)(void *ctx, uint64_t off, void *buf, size_t len);

typedef struct {
  size_t max_footer_bytes;  /* 0 = 16 MiB */
  size_t max_page_bytes;    /* 0 = 256 MiB: uncompressed page size and the
                               bytes one page may decode to */
  uint32_t max_columns;     /* 0 = 10,000 leaf columns */
} pq_reader_limits_t;

typedef struct pq_reader pq_reader_t;

/*
 * Opens a file of `size` bytes: checks both magics, reads and decodes the
 * footer, validates every row group and column chunk against the file size
 * and builds the schema. limits may be NULL (defaults).
 */
int pq_reader_open(pq_read_at_fn read_at, void *ctx, uint64_t size,
                   const pq_reader_limits_t *limits, pq_reader_t **out,
                   char *err, size_t errlen);

void pq_reader_free(pq_reader_t *r);

/* What a top-level field of the schema is, for import mapping. */
typedef enum {
  PQ_FIELD_SCALAR = 0, /* one leaf, not repeated */
  PQ_FIELD_LIST = 1,   /* one leaf, repeated once (LIST or repeated leaf) */
  PQ_FIELD_NESTED = 2  /* anything else (struct, map, list of lists) */
} pq_field_kind_t;

typedef struct {
  const char *name;
  pq_field_kind_t kind;
  int type;            /* physical type of its (first) leaf */
  int32_t type_length; /* FIXED_LEN_BYTE_ARRAY width, else 0 */
  int nullable;        /* the field itself is optional */
  const char *logical; /* "STRING", "JSON", "LIST", "DECIMAL(10,2)", "" ... */
} pq_field_t;

uint64_t pq_reader_num_rows(const pq_reader_t *r);
size_t pq_reader_num_row_groups(const pq_reader_t *r);
/* The top-level fields; valid until pq_reader_free. */
const pq_field_t *pq_reader_fields(const pq_reader_t *r, size_t *count);
/* created_by, or NULL. */
const char *pq_reader_created_by(const pq_reader_t *r);
/* The value of a footer key/value pair (NULL if absent or valueless). */
const char *pq_reader_kv(const pq_reader_t *r, const char *key);

/* A column chunk's footer facts (for tests and `parquet_metadata`-like
 * tools). Strings point into the reader. */
typedef struct {
  const char *path;  /* dotted path_in_schema */
  int type;
  int codec;
  int64_t num_values;
  int64_t total_compressed_size;
  int64_t total_uncompressed_size;
  int64_t data_page_offset;
  int64_t dictionary_page_offset; /* -1 when none */
  int has_null_count;
  int64_t null_count;
  const uint8_t *min_value, *max_value; /* NULL when absent */
  size_t min_len, max_len;
} pq_chunk_info_t;

size_t pq_reader_num_columns(const pq_reader_t *r);
/* Row count of a row group; 0 for an index out of range. */
int64_t pq_reader_row_group_rows(const pq_reader_t *r, size_t rg);
int pq_reader_chunk_info(const pq_reader_t *r, size_t rg, size_t col,
                         pq_chunk_info_t *out);

/* ------------------------------------------------------------- import -- */

/*
 * Import mapping. The id column (string, or integer written in decimal)
 * and the vector column (LIST of FLOAT or DOUBLE — doubles rounded to
 * float —, a repeated FLOAT/DOUBLE, or FIXED_LEN_BYTE_ARRAY of 4·dimension
 * bytes holding little-endian floats) are required; the text column
 * (string) is used when the file has it; the payload column (string or
 * JSON holding a JSON object) when the file has it. Every other top-level
 * scalar column becomes a key of the payload object: strings as strings,
 * integers and floats as numbers (NaN/Inf as null), booleans, DECIMAL as a
 * number with its scale, DATE as "YYYY-MM-DD", TIMESTAMP and INT96 as
 * ISO-8601 strings ("Z" when UTC-adjusted), TIME as "HH:MM:SS[.fff]", UUID
 * in its usual text form, unannotated binary as a string when it is valid
 * UTF-8 and base64 otherwise, other binary as base64, JSON columns embedded
 * as JSON (as a string when they do not parse). A column's
 * key replaces the same key of the payload column. Null values are left
 * out of the object; a row whose object would be empty gets no payload
 * (NULL), except that a payload column with no other column's value is
 * passed on byte for byte ("{}" included: snapshots restore exactly). Nested columns other than the vector (structs, maps, other
 * lists) are skipped. Row numbers in errors count from 0 across the file.
 * A small file can legitimately decode to very many rows (dictionary
 * runs): callers importing untrusted files should cap the rows they take.
 */
typedef struct {
  const char *id_column;      /* NULL = "id" */
  const char *vector_column;  /* NULL = "vector" */
  const char *text_column;    /* NULL = "text"; used when present */
  const char *payload_column; /* NULL = "payload"; used when present */
  uint32_t dimension;         /* 0 = taken from the first row */
  int extra_columns;          /* non-zero: map other columns (default 1) */
} pq_import_options_t;

void pq_import_options_default(pq_import_options_t *o);

typedef struct {
  uint64_t row;            /* row number in the file, from 0 */
  const char *id;          /* not NUL-terminated; id_len bytes */
  size_t id_len;
  const float *vector;     /* dimension floats */
  uint32_t dimension;
  const char *payload;     /* JSON object text, NUL-terminated; or NULL */
  size_t payload_len;
  const char *text;        /* NULL when null or absent */
  size_t text_len;
} pq_row_t;

typedef struct pq_import pq_import_t;

/* Resolves the mapping against the schema. The reader must outlive it. */
int pq_import_open(pq_reader_t *r, const pq_import_options_t *opts,
                   pq_import_t **out, char *err, size_t errlen);

/*
 * Decodes the next row into *row; its pointers stay valid until the next
 * call or pq_import_free. Returns 1 with a row, 0 at the end, or a
 * negative error code (sticky).
 */
int pq_import_next(pq_import_t *it, pq_row_t *row, char *err, size_t errlen);

void pq_import_free(pq_import_t *it);

#endif /* AKIDB_PARQUET_H */
