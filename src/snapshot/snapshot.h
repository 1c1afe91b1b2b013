/*
 * snapshot/snapshot.h — collection snapshots in an object store: one
 * Parquet file of the collection's points (id, vector, payload, text; zstd)
 * plus a JSON manifest (format version, the collection's configuration, row
 * count, log position, size and CRC-32C of each file), both under one key
 * prefix:
 *
 *   <prefix>/data.parquet
 *   <prefix>/manifest.json      written last: a snapshot exists once its
 *                               manifest does
 *
 * Writing streams from a frozen view of the collection (writers go on)
 * through the Parquet writer into a multipart upload: no copy on local disk.
 * Restoring downloads the Parquet file (its checksum verified) into a
 * temporary file beside the target, checks it against the manifest, and
 * upserts its rows in batches.
 *
 * Thread safety: the functions keep no state; the store and collections
 * they are given are thread-safe. Errors are AKIDB_* codes with one
 * sentence in `err` naming the object and the cause.
 */
#ifndef AKIDB_SNAPSHOT_H
#define AKIDB_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "akidb/catalog.h"
#include "akidb/objstore.h"
#include "akidb/store.h"

#define SNAP_FORMAT "akidb-snapshot"
#define SNAP_FORMAT_VERSION 1
#define SNAP_MANIFEST_NAME "manifest.json"
#define SNAP_DATA_NAME "data.parquet"
#define SNAP_MANIFEST_MAX (1u << 20) /* bytes of a manifest we read */
#define SNAP_FILES_MAX 64u
#define SNAP_EMBEDDING_MAX 4095u

/* One file of a snapshot. */
typedef struct {
  char name[256]; /* relative to the snapshot's prefix: "data.parquet" */
  uint64_t size;
  uint32_t crc32c;
  uint64_t rows;
} snap_file_t;

/* What a manifest says. */
typedef struct {
  int format_version;
  char snapshot_id[AKIDB_UUID_STR_LEN + 1];
  char created_at[40]; /* RFC 3339 UTC */
  char akidb_version[32];
  /* the collection as it was */
  char collection_id[AKIDB_UUID_STR_LEN + 1];
  char tenant[AKIDB_SLUG_MAX + 1];
  char database[AKIDB_OBJECT_NAME_MAX + 1];
  char collection[AKIDB_OBJECT_NAME_MAX + 1];
  uint32_t dimension;
  akidb_metric_t metric;
  uint32_t hnsw_m, hnsw_ef_construction, hnsw_ef_search;
  char embedding_json[SNAP_EMBEDDING_MAX + 1]; /* "" = none */
  double bm25_k1, bm25_b; /* the text index's parameters (absent in older manifests: defaults) */
  uint64_t log_seq; /* the last log record the snapshot holds */
  uint64_t points;
  size_t n_files;
  snap_file_t files[SNAP_FILES_MAX];
} snap_manifest_t;

/* The manifest as JSON text (malloc'd, NUL-terminated), or NULL when out
 * of memory. */
char *snap_manifest_encode(const snap_manifest_t *m);
/* Parses and validates a manifest of `len` bytes. AKIDB_EFORMAT (not a
 * manifest: names the field and what is wrong), AKIDB_EVERSION (a newer
 * format), AKIDB_ENOMEM. */
int snap_manifest_decode(const char *text, size_t len, snap_manifest_t *out, char *err,
                         size_t errlen);

/* "<prefix>/<name>" into out (AKIDB_ELIMIT when it does not fit). */
int snap_key(const char *prefix, const char *name, char *out, size_t len);

/* What a snapshot's writer needs to know of its collection. */
typedef struct {
  const akidb_collection_meta_t *meta; /* configuration (dimension, metric, hnsw, embedding) */
  const char *tenant, *database;       /* names at the time */
  const char *snapshot_id;             /* UUID text */
  const char *prefix;                  /* key prefix of the snapshot's objects */
} snap_source_t;

/* Writes a snapshot of `c` under src->prefix: the Parquet file streamed
 * into the store, then the manifest. On success *out holds the manifest
 * written and *bytes (may be NULL) the bytes of both objects. On failure
 * the objects written are deleted (best effort) and nothing is left that a
 * reader would take for a snapshot (no manifest). */
int snap_write(akidb_objstore_t *store, akidb_collection_t *c, const snap_source_t *src,
               snap_manifest_t *out, uint64_t *bytes, char *err, size_t errlen);

/* Reads and validates the manifest at `<prefix>/manifest.json`. */
int snap_read_manifest(akidb_objstore_t *store, const char *prefix, snap_manifest_t *out,
                       char *err, size_t errlen);

/* Fills `c` (an empty collection of the manifest's dimension and metric)
 * from the snapshot: reads the Parquet file in place (ranged reads, no
 * local copy), checks its row count and dimension against the manifest and
 * upserts every row in batches, while a second thread reads the whole file
 * once to verify its size and checksum (the store's check). *points (may be
 * NULL) receives the rows restored. On failure, including a checksum
 * mismatch found after every row was upserted, `c` may hold part or all of
 * the rows: the caller discards it. */
int snap_restore(akidb_objstore_t *store, const char *prefix, const snap_manifest_t *m,
                 akidb_collection_t *c, uint64_t *points, char *err, size_t errlen);

/* Upserts every row of a Parquet import into `c`, in all-or-nothing
 * batches of 1,000; *written (counted from its value) receives the points
 * upserted. Stops at the first error (the rows before it stay written). */
typedef struct pq_import pq_import_t;
int snap_upsert_rows(pq_import_t *it, akidb_collection_t *c, uint64_t *written, char *err,
                     size_t errlen);

/* Deletes every object under the snapshot's prefix (absent ones are fine). */
int snap_delete(akidb_objstore_t *store, const char *prefix, char *err, size_t errlen);

#endif /* AKIDB_SNAPSHOT_H */
