/*
 * snapshot/snapshot.c — owns writing a collection's snapshot to an object
 * store and restoring one into a collection (formats: snapshot.h).
 *
 * Write: a frozen view of the collection (akidb_collection_export: writers
 * go on) → the Parquet writer → a streaming object-store writer (multipart
 * for large files); then the manifest, last, so a snapshot exists exactly
 * when its manifest does. Memory: one Parquet row group and the writer's
 * parts in flight; nothing is staged on local disk.
 *
 * Restore: the Parquet file is read in place with ranged reads (no local
 * copy) and its rows upserted in batches of RESTORE_BATCH, while a second
 * thread streams the whole object once so the store verifies its size and
 * CRC-32C against the manifest; the restore succeeds only when both did.
 *
 * Locking: none of its own. Durability: the store's (an object is durable
 * once its put or commit returned); restored points are durable as the
 * target collection's upserts are.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/errf.h"
#include "akidb/akidb.h"
#include "parquet/parquet.h"
#include "snapshot/snapshot.h"
#include "util/thread.h"

#define RESTORE_BATCH 1000u


int snap_key(const char *prefix, const char *name, char *out, size_t len) {
  int n = snprintf(out, len, "%s%s%s", prefix, prefix[0] ? "/" : "", name);
  return n < 0 || (size_t)n >= len ? AKIDB_ELIMIT : AKIDB_OK;
}

static void now_rfc3339(char *out, size_t len) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char day[32];
  strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, len, "%s.%03dZ", day, (int)(ts.tv_nsec / 1000000));
}

/* ------------------------------------------------------------- writing -- */

typedef struct {
  akidb_objstore_writer_t *w;
  char err[512]; /* the store's message when a write failed */
} store_sink_t;

static int to_store(void *ctx, const void *buf, size_t len) {
  store_sink_t *s = ctx;
  return akidb_objstore_writer_write(s->w, buf, len, s->err, sizeof s->err);
}

typedef struct {
  pq_writer_t *pq;
  uint64_t rows;
  char err[512];
} export_t;

static int add_point(void *ctx, const akidb_point_out_t *p) {
  export_t *x = ctx;
  int rc = pq_writer_add_row(x->pq, p->id, p->id_len, p->vector, p->payload, p->payload_len,
                             p->text, p->text_len, x->err, sizeof x->err);
  if (!rc) x->rows++;
  return rc;
}

static void fill_manifest(const snap_source_t *src, snap_manifest_t *m) {
  const akidb_collection_meta_t *meta = src->meta;
  memset(m, 0, sizeof *m);
  m->format_version = SNAP_FORMAT_VERSION;
  snprintf(m->snapshot_id, sizeof m->snapshot_id, "%s", src->snapshot_id);
  now_rfc3339(m->created_at, sizeof m->created_at);
  snprintf(m->akidb_version, sizeof m->akidb_version, "%s", AKIDB_VERSION_STRING);
  akidb_uuid_format(&meta->id, m->collection_id);
  snprintf(m->tenant, sizeof m->tenant, "%s", src->tenant);
  snprintf(m->database, sizeof m->database, "%s", src->database);
  snprintf(m->collection, sizeof m->collection, "%s", meta->name);
  m->dimension = meta->dimension;
  m->metric = meta->metric;
  m->hnsw_m = meta->hnsw_m;
  m->hnsw_ef_construction = meta->hnsw_ef_construction;
  m->hnsw_ef_search = meta->hnsw_ef_search;
  snprintf(m->embedding_json, sizeof m->embedding_json, "%s", meta->embedding_json);
  m->bm25_k1 = meta->bm25_k1;
  m->bm25_b = meta->bm25_b;
}

/* Streams the points of `c` as Parquet into the open store writer. */
static int stream_parquet(akidb_collection_t *c, const snap_source_t *src, store_sink_t *sink,
                          uint64_t *rows, uint64_t *seq, char *err, size_t errlen) {
  pq_writer_options_t po;
  pq_writer_options_default(&po);
  po.dimension = src->meta->dimension;
  po.has_text = 1;
  pq_kv_t kv[] = {{"akidb.snapshot_id", src->snapshot_id}, {"akidb.format", SNAP_FORMAT}};
  po.kv = kv;
  po.kv_count = 2;
  export_t x = {0};
  int rc = pq_writer_open(&po, to_store, sink, &x.pq, err, errlen);
  if (rc) return rc;
  rc = akidb_collection_export(c, add_point, &x, seq);
  if (!rc) rc = pq_writer_finish(x.pq, NULL, x.err, sizeof x.err);
  pq_writer_free(x.pq);
  if (rc) snprintf(err, errlen, "%s", sink->err[0] ? sink->err : x.err[0] ? x.err
                                                              : akidb_strerror(rc));
  *rows = x.rows;
  return rc;
}

/* Uploads the data file; *file receives its name, size, checksum, rows. */
static int write_data(akidb_objstore_t *store, akidb_collection_t *c, const snap_source_t *src,
                      snap_file_t *file, uint64_t *seq, char *err, size_t errlen) {
  char key[AKIDB_OBJSTORE_KEY_MAX + 1];
  int rc = snap_key(src->prefix, SNAP_DATA_NAME, key, sizeof key);
  if (rc) return errf(err, errlen, rc, "snapshot key too long");
  store_sink_t sink = {0};
  if ((rc = akidb_objstore_writer_open(store, key, NULL, 0, &sink.w, err, errlen))) return rc;
  rc = stream_parquet(c, src, &sink, &file->rows, seq, err, errlen);
  if (rc) {
    akidb_objstore_writer_abort(sink.w);
    return rc;
  }
  akidb_objstore_result_t res;
  if ((rc = akidb_objstore_writer_commit(sink.w, &res, err, errlen))) return rc;
  snprintf(file->name, sizeof file->name, "%s", SNAP_DATA_NAME);
  file->size = res.size;
  file->crc32c = res.crc32c;
  return AKIDB_OK;
}

static int write_manifest(akidb_objstore_t *store, const char *prefix, const snap_manifest_t *m,
                          uint64_t *bytes, char *err, size_t errlen) {
  char key[AKIDB_OBJSTORE_KEY_MAX + 1];
  int rc = snap_key(prefix, SNAP_MANIFEST_NAME, key, sizeof key);
  if (rc) return errf(err, errlen, rc, "snapshot key too long");
  char *text = snap_manifest_encode(m);
  if (!text) return errf(err, errlen, AKIDB_ENOMEM, "out of memory encoding the manifest");
  akidb_objstore_result_t res;
  rc = akidb_objstore_put_buffer(store, key, text, strlen(text), &res, err, errlen);
  free(text);
  if (!rc) *bytes = res.size;
  return rc;
}

int snap_write(akidb_objstore_t *store, akidb_collection_t *c, const snap_source_t *src,
               snap_manifest_t *out, uint64_t *bytes, char *err, size_t errlen) {
  fill_manifest(src, out);
  out->n_files = 1;
  int rc = write_data(store, c, src, &out->files[0], &out->log_seq, err, errlen);
  out->points = out->files[0].rows;
  uint64_t manifest_bytes = 0;
  if (!rc) rc = write_manifest(store, src->prefix, out, &manifest_bytes, err, errlen);
  if (rc) {
    char ignored[256];
    snap_delete(store, src->prefix, ignored, sizeof ignored);
    return rc;
  }
  if (bytes) *bytes = out->files[0].size + manifest_bytes;
  return AKIDB_OK;
}

/* ------------------------------------------------------------- reading -- */

int snap_read_manifest(akidb_objstore_t *store, const char *prefix, snap_manifest_t *out,
                       char *err, size_t errlen) {
  char key[AKIDB_OBJSTORE_KEY_MAX + 1], *text = NULL;
  size_t len = 0;
  int rc = snap_key(prefix, SNAP_MANIFEST_NAME, key, sizeof key);
  if (rc) return errf(err, errlen, rc, "snapshot key too long");
  rc = akidb_objstore_get_all(store, key, SNAP_MANIFEST_MAX, &text, &len, err, errlen);
  if (rc == AKIDB_ELIMIT) rc = AKIDB_EFORMAT; /* not a manifest of ours */
  if (!rc) rc = snap_manifest_decode(text, len, out, err, errlen);
  free(text);
  return rc;
}

/* ------------------------------------------------------------ restoring -- */

/* The whole-object check of the data file, run beside the import: the
 * store streams the object and verifies its size and CRC-32C against the
 * manifest; the bytes themselves are dropped. */
typedef struct {
  akidb_objstore_t *store;
  const char *key;
  const snap_file_t *file;
  int rc;
  char err[512];
} verify_t;

static int discard(void *ctx, const void *data, size_t len) {
  (void)ctx, (void)data, (void)len;
  return AKIDB_OK;
}

static void *verify_main(void *arg) {
  verify_t *v = arg;
  util_thread_name("snap-verify");
  akidb_objstore_get_options_t go = {.has_expected = true, .expected_size = v->file->size,
                                     .expected_crc32c = v->file->crc32c};
  v->rc = akidb_objstore_get(v->store, v->key, &go, discard, NULL, NULL, v->err, sizeof v->err);
  return NULL;
}

/* pq_read_at_fn over ranged reads of the data file. */
typedef struct {
  akidb_objstore_t *store;
  const char *key;
  int rc;
  char err[512];
} ranged_t;

static int read_at(void *ctx, uint64_t off, void *buf, size_t len) {
  ranged_t *r = ctx;
  int rc = akidb_objstore_read_at(r->store, r->key, off, buf, len, r->err, sizeof r->err);
  if (rc && !r->rc) r->rc = rc;
  return rc ? -1 : 0;
}

/* A batch of rows copied out of the reader (its row views are reused). */
typedef struct {
  akidb_point_t pts[RESTORE_BATCH];
  char *copies[RESTORE_BATCH];
  size_t n;
} batch_t;

static int batch_add(batch_t *b, const pq_row_t *r) {
  size_t vec = (size_t)r->dimension * sizeof(float);
  size_t need = vec + r->id_len + r->payload_len + r->text_len + 3;
  char *m = malloc(need);
  if (!m) return AKIDB_ENOMEM;
  akidb_point_t *p = &b->pts[b->n];
  memset(p, 0, sizeof *p);
  memcpy(m, r->vector, vec);
  char *at = m + vec;
  p->vector = (const float *)m;
  memcpy(at, r->id, r->id_len);
  p->id = at;
  p->id_len = r->id_len;
  at += r->id_len + 1;
  if (r->payload) {
    memcpy(at, r->payload, r->payload_len);
    p->payload = at;
    p->payload_len = r->payload_len;
    at += r->payload_len + 1;
  }
  if (r->text) {
    memcpy(at, r->text, r->text_len);
    p->text = at;
    p->text_len = r->text_len;
  }
  b->copies[b->n++] = m;
  return AKIDB_OK;
}

static void batch_clear(batch_t *b) {
  for (size_t i = 0; i < b->n; i++) free(b->copies[i]);
  b->n = 0;
}

#define BUSY_TRIES 600 /* a live collection's backpressure: each try waits its own wait */

/* Upserts the batch (one all-or-nothing upsert), then empties it. While the
 * collection's indexing backlog is full (AKIDB_EBUSY) it tries again. */
static int batch_flush(batch_t *b, akidb_collection_t *c, uint64_t *written, char *err,
                       size_t errlen) {
  int rc = b->n ? AKIDB_EBUSY : AKIDB_OK;
  for (int i = 0; i < BUSY_TRIES && rc == AKIDB_EBUSY; i++)
    rc = akidb_collection_upsert(c, b->pts, b->n, err, errlen);
  if (!rc) *written += b->n;
  batch_clear(b);
  return rc;
}

int snap_upsert_rows(pq_import_t *it, akidb_collection_t *c, uint64_t *written, char *err,
                     size_t errlen) {
  batch_t *b = calloc(1, sizeof *b);
  if (!b) return errf(err, errlen, AKIDB_ENOMEM, "out of memory");
  pq_row_t row;
  int rc = AKIDB_OK, more;
  while (!rc && (more = pq_import_next(it, &row, err, errlen)) != 0) {
    if (more < 0) {
      rc = more;
      break;
    }
    rc = batch_add(b, &row);
    if (!rc && b->n == RESTORE_BATCH) rc = batch_flush(b, c, written, err, errlen);
  }
  if (!rc) rc = batch_flush(b, c, written, err, errlen);
  batch_clear(b); /* what an error left is dropped, not written */
  free(b);
  return rc;
}

static int import_file(ranged_t *src, uint64_t size, const snap_manifest_t *m,
                       akidb_collection_t *c, uint64_t *rows, char *err, size_t errlen) {
  pq_reader_t *r = NULL;
  int rc = pq_reader_open(read_at, src, size, NULL, &r, err, errlen);
  if (rc) return rc;
  if (pq_reader_num_rows(r) != m->points) {
    snprintf(err, errlen, "snapshot data has %" PRIu64 " rows, its manifest says %" PRIu64,
             pq_reader_num_rows(r), m->points);
    pq_reader_free(r);
    return AKIDB_ECORRUPT;
  }
  pq_import_options_t io;
  pq_import_options_default(&io);
  io.dimension = m->dimension;
  pq_import_t *it = NULL;
  if (!(rc = pq_import_open(r, &io, &it, err, errlen))) {
    rc = snap_upsert_rows(it, c, rows, err, errlen);
    pq_import_free(it);
  }
  pq_reader_free(r);
  return rc;
}

/* The import's outcome beside the whole-object check's: a failed check
 * explains whatever the import saw, so its message wins. */
static int restore_outcome(int rc, const verify_t *v, const ranged_t *src, char *err,
                           size_t errlen) {
  if (v->rc) return errf(err, errlen, v->rc, "snapshot data %s: %s", v->key, v->err);
  if (rc && src->rc) return errf(err, errlen, src->rc, "reading snapshot data: %s", src->err);
  return rc;
}

int snap_restore(akidb_objstore_t *store, const char *prefix, const snap_manifest_t *m,
                 akidb_collection_t *c, uint64_t *points, char *err, size_t errlen) {
  uint64_t rows = 0;
  if (points) *points = 0;
  if (m->n_files != 1 || strcmp(m->files[0].name, SNAP_DATA_NAME) != 0)
    return errf(err, errlen, AKIDB_EFORMAT,
                "snapshot manifest names %zu file(s); this build restores one '" SNAP_DATA_NAME
                "'", m->n_files);
  char key[AKIDB_OBJSTORE_KEY_MAX + 1];
  if (snap_key(prefix, m->files[0].name, key, sizeof key))
    return errf(err, errlen, AKIDB_ELIMIT, "snapshot key too long");
  verify_t v = {.store = store, .key = key, .file = &m->files[0]};
  pthread_t tid;
  if (pthread_create(&tid, NULL, verify_main, &v) != 0)
    return errf(err, errlen, AKIDB_ENOMEM, "cannot start a thread to verify %s", key);
  ranged_t src = {.store = store, .key = key};
  int rc = import_file(&src, m->files[0].size, m, c, &rows, err, errlen);
  pthread_join(tid, NULL);
  rc = restore_outcome(rc, &v, &src, err, errlen);
  if (!rc && rows != m->points)
    rc = errf(err, errlen, AKIDB_ECORRUPT,
              "snapshot data yielded %" PRIu64 " rows, its manifest says %" PRIu64, rows,
              m->points);
  if (points) *points = rows;
  return rc;
}
/* ------------------------------------------------------------ deleting -- */

int snap_delete(akidb_objstore_t *store, const char *prefix, char *err, size_t errlen) {
  char key[AKIDB_OBJSTORE_KEY_MAX + 1], dir[AKIDB_OBJSTORE_KEY_MAX + 2];
  int rc = snap_key(prefix, SNAP_MANIFEST_NAME, key, sizeof key);
  if (!rc) rc = snprintf(dir, sizeof dir, "%s/", prefix) >= (int)sizeof dir ? AKIDB_ELIMIT : 0;
  if (rc) return errf(err, errlen, rc, "snapshot key too long");
  /* the manifest first: a half-deleted snapshot is never taken for one */
  return akidb_objstore_delete_prefix(store, key, dir, err, errlen);
}
