/*
 * collection.c — a durable collection's lifecycle and its writes and point
 * reads: open (load the newest checkpoint, replay the log after it), close
 * (final checkpoint), discard (none: the data is about to go), upsert and
 * delete (validate → one log record → wait for durability → apply to
 * memory in log order), get, count, stats.
 *
 * Durability: a batch is acknowledged only after wal_append returned, i.e.
 * it is on stable storage under the FSYNC policy. A failed log write or
 * sync makes the collection refuse writes until it is reopened (`failed`);
 * reads go on. An unlogged collection (options.unlogged: a restore's
 * staging copy) writes no log at all; its close's checkpoint is the one
 * durable image of its writes. Every file goes through the collection's VFS (`c->vfs`,
 * the options' vfs or the local filesystem). Locking: see store_internal.h.
 * Memory: everything the collection holds is charged to `c->mem`
 * (util/mem.c), which stats report.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/crc32c.h"
#include "store/store_internal.h"
#include "util/clock.h"

#define SAY(...) (err ? snprintf(err, errlen, __VA_ARGS__) : 0)

static const char *const durability_names[] = {"fsync", "interval", "none"};

const char *akidb_durability_name(akidb_durability_t d) {
  return (unsigned)d < 3 ? durability_names[d] : "unknown";
}

int akidb_durability_parse(const char *name, akidb_durability_t *out) {
  for (int i = 0; i < 3; i++)
    if (name && strcmp(name, durability_names[i]) == 0) {
      *out = (akidb_durability_t)i;
      return AKIDB_OK;
    }
  return AKIDB_EINVAL;
}

void store_log(akidb_collection_t *c, akidb_log_level_t level, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (c->opt.log) {
    c->opt.log(c->opt.log_ctx, level, msg);
    return;
  }
  static const char *const names[] = {"debug", "info", "warn", "error"};
  fprintf(stderr, "akidb: %s: collection %s: %s\n", names[level], c->dir, msg);
}

/* ---------------------------------------------------------------- options -- */

void akidb_collection_options_default(akidb_collection_options_t *o, uint32_t dim,
                                      akidb_metric_t metric) {
  memset(o, 0, sizeof *o);
  akidb_hnsw_params_default(&o->index, dim, metric);
  o->durability = AKIDB_DURABILITY_FSYNC;
  o->fsync_interval_ms = 100;
  o->wal_segment_bytes = 64ull << 20;
  o->checkpoint_wal_bytes = 256ull << 20;
  o->checkpoint_interval_s = 300;
  o->compact_deleted_ratio = 0.2;
  o->index_threads = 1;
  o->exact_below = 1000;
  o->max_pending = 0;
  o->backpressure_wait_ms = 1000;
  o->background = true;
  o->text_index = true;
  akidb_text_bm25_params_default(&o->bm25);
}

static int check_u64(const char *field, uint64_t v, uint64_t lo, uint64_t hi, char *err,
                     size_t errlen) {
  if (v >= lo && v <= hi) return AKIDB_OK;
  SAY("%s is %llu; it must be between %llu and %llu", field, (unsigned long long)v,
      (unsigned long long)lo, (unsigned long long)hi);
  return AKIDB_EINVAL;
}

int akidb_collection_options_validate(const akidb_collection_options_t *o, char *err,
                                      size_t errlen) {
  int rc = akidb_hnsw_params_validate(&o->index, err, errlen);
  if (rc) return rc;
  if ((unsigned)o->durability > AKIDB_DURABILITY_NONE) {
    SAY("durability must be fsync, interval or none");
    return AKIDB_EINVAL;
  }
  if ((rc = check_u64("fsync_interval_ms", o->fsync_interval_ms, 1, 60000, err, errlen)) ||
      (rc = check_u64("wal_segment_bytes", o->wal_segment_bytes, 1 << 12, 1ull << 34, err,
                      errlen)) ||
      (rc = check_u64("checkpoint_wal_bytes", o->checkpoint_wal_bytes, 1 << 12, 1ull << 40,
                      err, errlen)) ||
      (rc = check_u64("checkpoint_interval_s", o->checkpoint_interval_s, 1, 86400 * 7, err,
                      errlen)) ||
      (rc = check_u64("index_threads", o->index_threads, 1, 256, err, errlen)) ||
      (rc = check_u64("exact_below", o->exact_below, 0, 1u << 30, err, errlen)) ||
      (rc = check_u64("backpressure_wait_ms", o->backpressure_wait_ms, 0, 600000, err,
                      errlen)))
    return rc;
  if (!(o->compact_deleted_ratio > 0.0 && o->compact_deleted_ratio <= 1.0)) {
    SAY("compact_deleted_ratio is %g; it must be in (0, 1]", o->compact_deleted_ratio);
    return AKIDB_EINVAL;
  }
  if (!(o->bm25.k1 >= AKIDB_TEXT_BM25_K1_MIN && o->bm25.k1 <= AKIDB_TEXT_BM25_K1_MAX) ||
      !(o->bm25.b >= AKIDB_TEXT_BM25_B_MIN && o->bm25.b <= AKIDB_TEXT_BM25_B_MAX)) {
    SAY("bm25 k1 is %g and b %g; k1 must be in [%g, %g] and b in [%g, %g]", o->bm25.k1,
        o->bm25.b, AKIDB_TEXT_BM25_K1_MIN, AKIDB_TEXT_BM25_K1_MAX, AKIDB_TEXT_BM25_B_MIN,
        AKIDB_TEXT_BM25_B_MAX);
    return AKIDB_EINVAL;
  }
  return AKIDB_OK;
}

/* ------------------------------------------------------------- meta file -- */

/* collection.meta: "AKICOLL1", u32 version, u32 dim, u32 metric, u32 crc32c. */
typedef struct {
  char magic[8];
  uint32_t version, dim, metric, crc;
} meta_t;

/* Creates the meta file, or checks the stored dimension and metric. */
static int check_meta(akidb_collection_t *c, char *err, size_t errlen) {
  char path[4096];
  snprintf(path, sizeof path, "%s/collection.meta", c->dir);
  meta_t m;
  akidb_vfs_file_t *f = NULL;
  int e = c->vfs->open(c->vfs->ctx, path, AKIDB_VFS_READ, &f);
  if (e) {
    if (e != ENOENT) goto io_error;
    memset(&m, 0, sizeof m);
    memcpy(m.magic, "AKICOLL1", 8);
    m.version = 1;
    m.dim = c->dim;
    m.metric = (uint32_t)c->opt.index.metric;
    m.crc = crc32c(0, &m, offsetof(meta_t, crc));
    int rc = akidb_vfs_write_file_durably(c->vfs, path, &m, sizeof m);
    if (rc) {
      SAY("cannot write %s: %s", path, strerror(rc));
      return AKIDB_EIO;
    }
    return AKIDB_OK;
  }
  size_t got = 0;
  e = c->vfs->pread(c->vfs->ctx, f, &m, sizeof m, 0, &got);
  c->vfs->close(c->vfs->ctx, f);
  if (e) goto io_error;
  if (got < 8 || memcmp(m.magic, "AKICOLL1", 8)) {
    SAY("%s is not an AkiDB collection file", path);
    return AKIDB_EFORMAT;
  }
  if (got != sizeof m || m.crc != crc32c(0, &m, offsetof(meta_t, crc))) {
    SAY("%s is corrupt (checksum mismatch at offset 0)", path);
    return AKIDB_ECORRUPT;
  }
  if (m.version != 1) {
    SAY("%s has version %u; this build reads version 1", path, m.version);
    return AKIDB_EVERSION;
  }
  if (m.dim != c->dim || m.metric != (uint32_t)c->opt.index.metric) {
    SAY("collection in %s has dimension %u and metric %s, not %u and %s", c->dir, m.dim,
        akidb_metric_name((akidb_metric_t)m.metric), c->dim,
        akidb_metric_name(c->opt.index.metric));
    return AKIDB_EINVAL;
  }
  return AKIDB_OK;
io_error:
  SAY("cannot read %s: %s", path, strerror(e));
  return AKIDB_EIO;
}

/* --------------------------------------------------------- apply (memory) -- */

static void graph_delete(akidb_collection_t *c, uint64_t label) {
  akidb_hnsw_delete(c->graph, label);
  if (!c->compacting) return;
  if (c->n_compact_dead == c->cap_compact_dead) {
    size_t cap = c->cap_compact_dead ? 2 * c->cap_compact_dead : 1024;
    uint64_t *p = mem_realloc(&c->mem, c->compact_dead, cap * sizeof *p);
    if (!p) { /* the label stays marked deleted in the old graph only: drop it
                 from the new one at the next compaction instead */
      store_log(c, AKIDB_LOG_WARN, "out of memory while recording a delete during compaction");
      return;
    }
    c->compact_dead = p;
    c->cap_compact_dead = cap;
  }
  c->compact_dead[c->n_compact_dead++] = label;
}

void store_remove_point(akidb_collection_t *c, point_rec_t *r) {
  bool in_graph = true;
  if (r->buf_pos >= 0 && (uint64_t)r->buf_pos >= c->buf.head) {
    _Atomic uint8_t *st = abuf_state(&c->buf, (uint64_t)r->buf_pos);
    for (;;) {
      uint8_t s = atomic_load(st);
      if (s == ITEM_PENDING) {
        if (!atomic_compare_exchange_strong(st, &s, ITEM_DEAD)) continue;
        atomic_fetch_sub(&c->buf.pending, 1);
        in_graph = false;
      } else if (s == ITEM_INDEXING) {
        if (!atomic_compare_exchange_strong(st, &s, ITEM_DEAD_INDEXING)) continue;
        in_graph = false; /* the indexer deletes it from the graph */
      }
      break;
    }
  }
  if (in_graph) graph_delete(c, r->label);
  records_remove(&c->rt, r);
  if (r->label < c->pin_below) c->retired[c->n_retired++] = r; /* a checkpoint streams it */
  else free(r);
}

/* Decodes an upsert record into points whose vectors are aligned, checked
 * and normalised copies in *vecs_out (each pts[i].vector points at its row). */
static int prepare_batch(akidb_collection_t *c, const void *data, size_t len,
                         akidb_point_t **pts_out, float **vecs_out, uint32_t *n_out) {
  codec_reader_t r;
  if (codec_begin(&r, data, len, c->dim)) return AKIDB_ECORRUPT;
  uint32_t stride = c->buf.stride;
  akidb_point_t *pts = malloc((r.count ? r.count : 1) * sizeof *pts);
  float *vecs = aligned_alloc(64, ((size_t)(r.count ? r.count : 1) * stride * 4 + 63) & ~(size_t)63);
  int rc = pts && vecs ? AKIDB_OK : AKIDB_ENOMEM;
  const uint8_t *raw;
  for (uint32_t i = 0; rc == AKIDB_OK && i < r.count; i++) {
    float *row = vecs + (size_t)i * stride;
    if (codec_next_upsert(&r, &pts[i], &raw) != 1) rc = AKIDB_ECORRUPT;
    else {
      memcpy(row, raw, (size_t)c->dim * 4); /* the record's bytes may be unaligned */
      if (metric_prepare(c->opt.index.metric, row, row, c->dim)) rc = AKIDB_ECORRUPT;
      pts[i].vector = row;
    }
  }
  akidb_point_t spare;
  if (rc == AKIDB_OK && codec_next_upsert(&r, &spare, &raw) != 0) rc = AKIDB_ECORRUPT;
  if (rc) {
    free(pts);
    free(vecs);
    return rc;
  }
  *pts_out = pts;
  *vecs_out = vecs;
  *n_out = r.count;
  return AKIDB_OK;
}

/* Applies a batch whose vectors passed check_point (`unit`: cosine, so each
 * stored copy is normalised) or are replay's prepared copies. */
static int apply_points(akidb_collection_t *c, const akidb_point_t *pts, uint32_t n, bool unit,
                        char *err, size_t errlen) {
  int rc = AKIDB_OK;
  point_rec_t **recs = calloc(n ? n : 1, sizeof *recs);
  uint64_t *old_labels = c->text ? calloc(n ? n : 1, sizeof *old_labels) : NULL;
  for (uint32_t i = 0; recs && i < n; i++) {
    recs[i] = records_new(c->next_label + i, pts[i].id, pts[i].id_len, pts[i].payload,
                          pts[i].payload_len, pts[i].text, pts[i].text_len);
    if (!recs[i]) rc = AKIDB_ENOMEM;
  }
  if (!recs) rc = AKIDB_ENOMEM;
  pthread_rwlock_wrlock(&c->lock);
  if (rc == AKIDB_OK &&
      ((rc = records_reserve(&c->rt, n, c->next_label + n)) || (rc = abuf_reserve(&c->buf, n))))
    rc = AKIDB_ENOMEM;
  for (uint32_t i = 0; rc == AKIDB_OK && i < n; i++) {
    point_rec_t *old = records_find(&c->rt, pts[i].id, pts[i].id_len, recs[i]->hash);
    if (old && old_labels) old_labels[i] = old->label;
    if (old) store_remove_point(c, old);
    records_add(&c->rt, recs[i]);
    recs[i]->buf_pos = (int64_t)abuf_append(&c->buf, recs[i]->label, pts[i].vector, unit);
    recs[i] = NULL;
  }
  uint64_t first = c->next_label;
  if (rc == AKIDB_OK) c->next_label += n;
  pthread_rwlock_unlock(&c->lock);
  if (rc == AKIDB_OK) store_text_upsert(c, pts, n, first, old_labels);
  free(old_labels);
  for (uint32_t i = 0; recs && i < n; i++) free(recs[i]);
  free(recs);
  if (rc) SAY("out of memory while applying %u points", n);
  return rc;
}

int store_apply_upsert(akidb_collection_t *c, const void *data, size_t len, char *err,
                       size_t errlen) {
  akidb_point_t *pts;
  float *vecs;
  uint32_t n;
  int rc = prepare_batch(c, data, len, &pts, &vecs, &n);
  if (rc) {
    SAY("an upsert record is malformed");
    return rc;
  }
  rc = apply_points(c, pts, n, false, err, errlen);
  free(pts);
  free(vecs);
  return rc;
}

int store_apply_delete(akidb_collection_t *c, const void *data, size_t len, size_t *deleted,
                       char *err, size_t errlen) {
  codec_reader_t r;
  const char *id;
  size_t id_len, count = 0;
  int rc = codec_begin(&r, data, len, c->dim);
  uint64_t *labels = c->text && rc == AKIDB_OK ? malloc((r.count ? r.count : 1) * sizeof *labels)
                                               : NULL;
  pthread_rwlock_wrlock(&c->lock);
  while (rc == AKIDB_OK && (rc = codec_next_delete(&r, &id, &id_len)) == 1) {
    rc = AKIDB_OK;
    point_rec_t *old = records_find(&c->rt, id, id_len, records_hash(id, id_len));
    if (!old) continue;
    if (labels && count < r.count) labels[count] = old->label;
    store_remove_point(c, old);
    count++;
  }
  pthread_rwlock_unlock(&c->lock);
  store_text_delete(c, labels, count);
  free(labels);
  if (deleted) *deleted = count;
  if (rc) SAY("a delete record is malformed");
  return rc;
}

/* ------------------------------------------------------------------ writes -- */

static int refuse_if_failed(akidb_collection_t *c, char *err, size_t errlen) {
  if (!atomic_load(&c->failed)) return AKIDB_OK;
  SAY("collection refuses writes after a storage failure (%s); fix the disk and reopen it",
      c->fail_msg);
  return AKIDB_EIO;
}

static void mark_failed(akidb_collection_t *c, const char *why) {
  pthread_mutex_lock(&c->apply_lock);
  if (!atomic_load(&c->failed)) {
    snprintf(c->fail_msg, sizeof c->fail_msg, "%s", why);
    atomic_store(&c->failed, true);
  }
  pthread_mutex_unlock(&c->apply_lock);
  store_log(c, AKIDB_LOG_ERROR, "writes are refused from now on: %s", why);
}

/* The record's seq: appended to the log (durable under the policy), or,
 * for an unlogged collection, the next one after the newest applied (the
 * apply lock is then taken here and held: seqs follow application order). */
static int log_record(akidb_collection_t *c, const wal_record_t *rec, uint64_t *seq, char *err,
                      size_t errlen) {
  if (c->opt.unlogged) {
    pthread_mutex_lock(&c->apply_lock);
    *seq = c->applied_seq + 1;
    return AKIDB_OK;
  }
  int rc = wal_append(c->wal, rec, 1, seq, NULL, err, errlen);
  if (rc == AKIDB_EIO) mark_failed(c, err && *err ? err : "log write failed");
  if (!rc) pthread_mutex_lock(&c->apply_lock);
  return rc;
}

/* Appends one record durably, then applies it in log order: an upsert from
 * the caller's checked points `pts` (the record holds the same points), a
 * delete from the record's bytes. */
static int log_and_apply(akidb_collection_t *c, const wal_record_t *rec,
                         const akidb_point_t *pts, size_t n, size_t *deleted, char *err,
                         size_t errlen) {
  uint64_t seq = 0;
  uint8_t type = rec->type;
  int rc = log_record(c, rec, &seq, err, errlen);
  if (rc) return rc;
  while (c->applied_seq + 1 != seq) pthread_cond_wait(&c->applied_cond, &c->apply_lock);
  bool unit = c->opt.index.metric == AKIDB_METRIC_COSINE;
  rc = type == REC_UPSERT ? apply_points(c, pts, (uint32_t)n, unit, err, errlen)
                          : store_apply_delete(c, rec->data, rec->len, deleted, err, errlen);
  c->applied_seq = seq;
  pthread_cond_broadcast(&c->applied_cond);
  pthread_mutex_unlock(&c->apply_lock);
  if (rc) mark_failed(c, "a durable write could not be applied in memory");
  else maintain_note_write(c, type == REC_DELETE);
  return rc;
}

/* Why metric_check refused point i's vector (the error path only): the
 * first NaN or Inf value, a norm that overflows, or no direction. */
static void say_bad_vector(const akidb_collection_t *c, size_t i, const float *v, char *err,
                           size_t errlen) {
  for (uint32_t d = 0; d < c->dim; d++)
    if (!isfinite(v[d])) {
      SAY("point %zu: vector value [%u] is %s: every value must be a finite number", i, d,
          isnan(v[d]) ? "NaN" : "infinite");
      return;
    }
  if (c->opt.index.metric == AKIDB_METRIC_COSINE && akidb_norm(v, c->dim) == 0.0)
    SAY("point %zu: vector is all zeros, which has no direction (cosine)", i);
  else
    SAY("point %zu: vector values are too large: its length overflows float", i);
}

/* Checks one point of an upsert. */
static int check_point(akidb_collection_t *c, const akidb_point_t *p, size_t i, char *err,
                       size_t errlen) {
  if (!p->id || p->id_len == 0 || p->id_len > AKIDB_POINT_ID_MAX) {
    SAY("point %zu: id must be 1 to %u bytes long (got %zu)", i, AKIDB_POINT_ID_MAX,
        p->id ? p->id_len : 0);
    return AKIDB_EINVAL;
  }
  if (memchr(p->id, 0, p->id_len)) {
    SAY("point %zu: id must not contain a NUL byte", i);
    return AKIDB_EINVAL;
  }
  if ((p->payload && p->payload_len > AKIDB_PAYLOAD_MAX) ||
      (p->text && p->text_len > AKIDB_TEXT_MAX)) {
    SAY("point %zu: %s is larger than the limit of %u bytes", i,
        p->payload && p->payload_len > AKIDB_PAYLOAD_MAX ? "payload" : "text",
        AKIDB_PAYLOAD_MAX);
    return AKIDB_ELIMIT;
  }
  if (!p->vector) {
    SAY("point %zu: vector is missing", i);
    return AKIDB_EINVAL;
  }
  if (metric_check(c->opt.index.metric, p->vector, c->dim)) {
    say_bad_vector(c, i, p->vector, err, errlen);
    return AKIDB_EVALUE;
  }
  return AKIDB_OK;
}

int akidb_collection_upsert(akidb_collection_t *c, const akidb_point_t *pts, size_t n,
                            char *err, size_t errlen) {
  int rc = refuse_if_failed(c, err, errlen);
  if (rc) return rc;
  if (n == 0 || n > UINT32_MAX) {
    SAY("a batch must hold at least one point");
    return AKIDB_EINVAL;
  }
  for (size_t i = 0; i < n && rc == AKIDB_OK; i++) rc = check_point(c, &pts[i], i, err, errlen);
  if (rc || (rc = maintain_wait_for_room(c, n, err, errlen))) return rc;
  codec_pieces_t rec;
  if ((rc = codec_gather_upsert(pts, n, c->dim, &rec))) return rc;
  wal_record_t wr = {.type = REC_UPSERT, .len = rec.len, .iov = rec.iov, .iovcnt = rec.iovcnt};
  rc = log_and_apply(c, &wr, pts, n, NULL, err, errlen);
  codec_pieces_free(&rec);
  return rc;
}

int akidb_collection_delete(akidb_collection_t *c, const char *const *ids,
                            const size_t *id_lens, size_t n, size_t *deleted, char *err,
                            size_t errlen) {
  if (deleted) *deleted = 0;
  int rc = refuse_if_failed(c, err, errlen);
  if (rc) return rc;
  if (n == 0 || n > UINT32_MAX) {
    SAY("a delete must name at least one id");
    return AKIDB_EINVAL;
  }
  for (size_t i = 0; i < n; i++)
    if (!ids[i] || id_lens[i] == 0 || id_lens[i] > AKIDB_POINT_ID_MAX ||
        memchr(ids[i], 0, id_lens[i])) {
      SAY("id %zu must be 1 to %u bytes long, without NUL bytes", i, AKIDB_POINT_ID_MAX);
      return AKIDB_EINVAL;
    }
  void *body;
  size_t len;
  if ((rc = codec_encode_delete(ids, id_lens, n, &body, &len))) return rc;
  wal_record_t wr = {.type = REC_DELETE, .data = body, .len = len};
  rc = log_and_apply(c, &wr, NULL, 0, deleted, err, errlen);
  free(body);
  return rc;
}

/* ------------------------------------------------------------------- reads -- */

void akidb_point_out_clear(akidb_point_out_t *p) {
  if (!p) return;
  free(p->id);
  free(p->vector);
  free(p->payload);
  free(p->text);
  memset(p, 0, sizeof *p);
}

static char *dup_bytes(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

/* Copies rec's vector (from the buffer or the graph). Caller holds lock. */
int store_copy_vector(akidb_collection_t *c, const point_rec_t *r, float *out) {
  if (r->buf_pos >= 0 && (uint64_t)r->buf_pos >= c->buf.head &&
      abuf_holds(&c->buf, (uint64_t)r->buf_pos)) {
    memcpy(out, abuf_vec(&c->buf, (uint64_t)r->buf_pos), (size_t)c->dim * sizeof(float));
    return AKIDB_OK;
  }
  return akidb_hnsw_get_vector(c->graph, r->label, out);
}

/* Fills `out` from a record; payload/text/vector as asked. Caller holds lock. */
int store_fill_point(akidb_collection_t *c, const point_rec_t *r, bool payload, bool vector,
                     akidb_point_out_t *out) {
  memset(out, 0, sizeof *out);
  out->id = dup_bytes(rec_id(r), r->id_len);
  out->id_len = r->id_len;
  int ok = out->id != NULL;
  if (ok && payload && r->has_payload) {
    out->payload = dup_bytes(rec_payload(r), r->payload_len);
    out->payload_len = r->payload_len;
    ok = out->payload != NULL;
  }
  if (ok && payload && r->has_text) {
    out->text = dup_bytes(rec_text(r), r->text_len);
    out->text_len = r->text_len;
    ok = out->text != NULL;
  }
  if (ok && vector) {
    out->vector = malloc((size_t)c->dim * sizeof(float));
    ok = out->vector && store_copy_vector(c, r, out->vector) == AKIDB_OK;
  }
  if (!ok) akidb_point_out_clear(out);
  return ok ? AKIDB_OK : AKIDB_ENOMEM;
}

int akidb_collection_get(akidb_collection_t *c, const char *id, size_t id_len,
                         bool with_vector, akidb_point_out_t *out) {
  memset(out, 0, sizeof *out);
  if (!id || id_len == 0 || id_len > AKIDB_POINT_ID_MAX) return AKIDB_ENOTFOUND;
  pthread_rwlock_rdlock(&c->lock);
  point_rec_t *r = records_find(&c->rt, id, id_len, records_hash(id, id_len));
  int rc = r ? store_fill_point(c, r, true, with_vector, out) : AKIDB_ENOTFOUND;
  pthread_rwlock_unlock(&c->lock);
  return rc;
}

uint64_t akidb_collection_count(akidb_collection_t *c) {
  pthread_rwlock_rdlock(&c->lock);
  uint64_t n = c->rt.live;
  pthread_rwlock_unlock(&c->lock);
  return n;
}

/* Bytes of the small files beside the log and the checkpoint. */
static uint64_t meta_bytes(const akidb_collection_t *c) {
  char path[4200];
  uint64_t size = 0;
  snprintf(path, sizeof path, "%s/collection.meta", c->dir);
  return c->vfs->stat(c->vfs->ctx, path, &size, NULL) == 0 ? size : 0;
}

void akidb_collection_stats(akidb_collection_t *c, akidb_collection_stats_t *out) {
  memset(out, 0, sizeof *out);
  pthread_rwlock_rdlock(&c->lock);
  out->points = c->rt.live;
  /* Points of a collection that keeps no graph (below exact_below) wait for
   * nothing: they are searched exactly where they are. */
  out->pending = !c->opt.background || maintain_wants_graph_locked(c) ? atomic_load(&c->buf.pending)
                                                                      : 0;
  out->graph_deleted = akidb_hnsw_deleted_count(c->graph);
  pthread_rwlock_unlock(&c->lock);
  int64_t mem = mem_acct_bytes(&c->mem);
  out->memory_bytes = mem > 0 ? (uint64_t)mem : 0;
  out->wal_bytes = wal_size_bytes(c->wal);
  out->last_seq = wal_last_seq(c->wal);
  /* checkpoint figures are atomics: never wait for a checkpoint or compaction */
  out->checkpoint_seq = atomic_load(&c->checkpoint_seq);
  out->checkpoints = atomic_load(&c->checkpoints);
  out->last_checkpoint_seconds = atomic_load(&c->last_checkpoint_seconds);
  out->checkpoint_age_seconds =
      out->last_seq > out->checkpoint_seq ? clock_now_s() - atomic_load(&c->last_checkpoint_time)
                                          : 0.0;
  out->disk_bytes = out->wal_bytes + atomic_load(&c->checkpoint_bytes) + meta_bytes(c);
  wal_sync_stats(c->wal, &out->wal_fsyncs, &out->wal_fsync_ns);
  out->failed = atomic_load(&c->failed);
}

/* -------------------------------------------------------------- open/close -- */

static akidb_collection_t *collection_alloc(const char *dir, const akidb_collection_options_t *o) {
  akidb_collection_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  mem_acct_init(&c->mem, NULL);
  mem_charge(&c->mem, (int64_t)mem_block_bytes(c));
  if (!(c->dir = mem_strdup(&c->mem, dir))) {
    free(c);
    return NULL;
  }
  c->opt = *o;
  c->vfs = akidb_vfs_or_local(o->vfs);
  c->dim = o->index.dim;
  pthread_mutex_init(&c->apply_lock, NULL);
  pthread_cond_init(&c->applied_cond, NULL);
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&c->index_gate, &attr);
  pthread_rwlock_init(&c->lock, &attr);
  pthread_rwlock_init(&c->text_lock, &attr);
  pthread_rwlockattr_destroy(&attr);
  pthread_mutex_init(&c->claim_lock, NULL);
  pthread_mutex_init(&c->idle_lock, NULL);
  pthread_cond_init(&c->idle_cond, NULL);
  pthread_mutex_init(&c->ckpt_lock, NULL);
  records_init(&c->rt, &c->mem);
  abuf_init(&c->buf, c->dim, o->index.metric == AKIDB_METRIC_DOT, &c->mem);
  c->next_label = 1;
  c->last_checkpoint_time = clock_now_s();
  return c;
}

static void collection_free(akidb_collection_t *c) {
  wal_close(c->wal);
  akidb_hnsw_free(c->graph);
  akidb_text_bm25_free(c->text);
  records_free(&c->rt);
  abuf_free(&c->buf);
  mem_free(&c->mem, c->compact_dead);
  pthread_mutex_destroy(&c->apply_lock);
  pthread_cond_destroy(&c->applied_cond);
  pthread_rwlock_destroy(&c->index_gate);
  pthread_rwlock_destroy(&c->lock);
  pthread_rwlock_destroy(&c->text_lock);
  pthread_mutex_destroy(&c->claim_lock);
  pthread_mutex_destroy(&c->idle_lock);
  pthread_cond_destroy(&c->idle_cond);
  pthread_mutex_destroy(&c->ckpt_lock);
  mem_free(&c->mem, c->index_jobs);
  mem_free(&c->mem, c->dir);
  free(c);
}

static int make_dir(const akidb_vfs_t *vfs, const char *path, char *err, size_t errlen) {
  int e = vfs->mkdir(vfs->ctx, path);
  if (e == 0 || e == EEXIST) return AKIDB_OK;
  SAY("cannot create directory %s: %s", path, strerror(e));
  return AKIDB_EIO;
}

typedef struct {
  akidb_collection_t *c;
  uint64_t records, points;
  char *err;
  size_t errlen;
} replay_t;

static int replay_record(void *ctx, uint64_t seq, uint8_t type, const void *data, size_t len) {
  replay_t *r = ctx;
  char why[256] = "";
  size_t deleted = 0;
  int rc;
  codec_reader_t peek;
  if (type == REC_UPSERT) rc = store_apply_upsert(r->c, data, len, why, sizeof why);
  else if (type == REC_DELETE) rc = store_apply_delete(r->c, data, len, &deleted, why, sizeof why);
  else rc = AKIDB_ECORRUPT;
  if (rc) {
    if (r->err)
      snprintf(r->err, r->errlen, "log record %llu (type %u) cannot be replayed: %s",
               (unsigned long long)seq, type, *why ? why : akidb_strerror(rc));
    return rc;
  }
  if (codec_begin(&peek, data, len, r->c->dim) == AKIDB_OK) r->points += peek.count;
  r->records++;
  r->c->applied_seq = seq;
  return AKIDB_OK;
}

/* Opens the log and replays it after the checkpoint. */
static int open_log(akidb_collection_t *c, akidb_open_report_t *rep, char *err, size_t errlen) {
  char path[4200];
  snprintf(path, sizeof path, "%s/wal", c->dir);
  int rc = make_dir(c->vfs, path, err, errlen);
  if (rc) return rc;
  wal_options_t wo = {.sync = (wal_sync_t)c->opt.durability,
                      .interval_ms = c->opt.fsync_interval_ms,
                      .segment_bytes = c->opt.wal_segment_bytes,
                      .min_next_seq = c->checkpoint_seq + 1,
                      .vfs = c->vfs,
                      .mem = &c->mem,
                      /* with background work, the pool runs the interval syncs */
                      .external_timer = c->opt.background,
                      .caller_locks = c->opt.caller_locks};
  wal_open_stats_t st;
  memset(&st, 0, sizeof st);
  if ((rc = wal_open(path, &wo, &c->wal, &st, err, errlen))) return rc;
  if (st.truncated_bytes) {
    store_log(c, AKIDB_LOG_WARN,
              "the log ended in a torn record: %llu bytes cut off the end of %s "
              "(writes that were never acknowledged)",
              (unsigned long long)st.truncated_bytes, st.truncated_file);
    rep->truncated_bytes = st.truncated_bytes;
  }
  c->applied_seq = c->checkpoint_seq;
  replay_t r = {.c = c, .err = err, .errlen = errlen};
  if ((rc = wal_replay(c->wal, c->checkpoint_seq, replay_record, &r, err, errlen))) return rc;
  if (wal_last_seq(c->wal) > c->applied_seq) c->applied_seq = wal_last_seq(c->wal);
  rep->replayed_records = r.records;
  rep->replayed_points = r.points;
  return AKIDB_OK;
}

int akidb_collection_open(const char *dir, const akidb_collection_options_t *o,
                          akidb_collection_t **out, akidb_open_report_t *report, char *err,
                          size_t errlen) {
  *out = NULL;
  double t0 = clock_now_s();
  akidb_open_report_t rep;
  memset(&rep, 0, sizeof rep);
  int rc = akidb_collection_options_validate(o, err, errlen);
  if (rc) return rc;
  if ((rc = make_dir(akidb_vfs_or_local(o->vfs), dir, err, errlen))) return rc;
  akidb_collection_t *c = collection_alloc(dir, o);
  if (!c) return AKIDB_ENOMEM;
  if ((rc = metric_init(&c->metric, o->index.metric, err, errlen)) ||
      (rc = check_meta(c, err, errlen)) ||
      (rc = checkpoint_load(c, &rep.checkpoint_points, err, errlen)))
    goto fail;
  rep.checkpoint_seq = c->checkpoint_seq;
  if (!c->graph && (rc = akidb_hnsw_create(&o->index, &c->graph, err, errlen))) goto fail;
  akidb_hnsw_set_ef_search(c->graph, o->index.ef_search);
  akidb_hnsw_set_memacct(c->graph, &c->mem);
  if ((rc = open_log(c, &rep, err, errlen)) || (rc = store_text_build(c, err, errlen))) goto fail;
  if (o->background && (rc = maintain_start(c, err, errlen))) goto fail;
  rep.seconds = clock_now_s() - t0;
  store_log(c, AKIDB_LOG_INFO,
            "opened in %.3f s: checkpoint at seq %llu with %llu points, %llu log records "
            "replayed (%llu points), %llu points live",
            rep.seconds, (unsigned long long)rep.checkpoint_seq,
            (unsigned long long)rep.checkpoint_points, (unsigned long long)rep.replayed_records,
            (unsigned long long)rep.replayed_points, (unsigned long long)c->rt.live);
  if (report) *report = rep;
  *out = c;
  return AKIDB_OK;
fail:
  collection_free(c);
  return rc;
}

int akidb_collection_close(akidb_collection_t *c, char *err, size_t errlen) {
  if (!c) return AKIDB_OK;
  maintain_stop(c);
  int rc = AKIDB_OK;
  if (!atomic_load(&c->failed)) rc = akidb_collection_checkpoint(c, err, errlen);
  collection_free(c);
  return rc;
}

void akidb_collection_discard(akidb_collection_t *c) {
  if (!c) return;
  maintain_stop(c);
  collection_free(c);
}

int akidb_collection_destroy(const char *dir, char *err, size_t errlen) {
  int rc = akidb_vfs_remove_tree(akidb_vfs_local(), dir);
  if (rc) {
    SAY("cannot remove %s: %s", dir, strerror(rc));
    return AKIDB_EIO;
  }
  return AKIDB_OK;
}

void akidb_collection_test_crash_checkpoint_after(int step) {
  atomic_store(&checkpoint_crash_step, step);
}
