/*
 * checkpoint.c — a collection's checkpoint files: the state after log
 * record <seq>, i.e. every live point and the HNSW graph, so that opening
 * loads them directly (no re-insertion) and replays only the log after seq.
 *
 * Protocol (each step a point where a crash is survivable; tests inject a
 * crash after each through akidb_collection_test_crash_checkpoint_after):
 *   1. write checkpoint.tmp             (from a frozen view of the state at
 *                                        one seq, taken in O(live + pending)
 *                                        under apply_lock; writers, appliers,
 *                                        searches and stats go on while it
 *                                        streams; indexers pause)
 *   2. fsync it
 *   3. rename it to checkpoint-<seq>.akc
 *   4. fsync the directory              (now it is the checkpoint)
 *   5. delete older checkpoints and the log segments it covers (gently:
 *      akidb_vfs_remove_gently)
 * The same frozen view serves akidb_collection_export (snapshots): the
 * points live at one seq, streamed while writers go on.
 * Opening uses the newest checkpoint-*.akc, deletes a leftover
 * checkpoint.tmp (find_newest) and, once the newest is loaded, the older
 * checkpoints. Every file goes through the collection's VFS.
 *
 * Format version 1, little-endian:
 *   header   64 bytes: magic "AKICKPT1", u32 version, u32 header bytes,
 *            u32 dim, u32 metric, u64 seq, u64 next_label, u64 records,
 *            u64 pending, u32 sections (3), u32 crc32c of the 60 bytes before
 *   section  u32 kind, u32 zero, u64 body bytes, body, u32 crc32c(body), u32 kind
 *     1 records  per point: u64 label, u32 id_len, u32 payload_len|flag,
 *                u32 text_len|flag, id, payload, text (flag bit 31: present)
 *     2 pending  per buffered point: u64 label, dim × f32 (prepared)
 *     3 graph    the HNSW image (akidb_hnsw_write_image; own checksum too)
 *   trailer  "AKICEND1"
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/crc32c.h"
#include "store/store_internal.h"
#include "store/timing.h"
#include "util/clock.h"

#define SAY(...) (err ? snprintf(err, errlen, __VA_ARGS__) : 0)
#define MAGIC "AKICKPT1"
#define END_MAGIC "AKICEND1"
#define VERSION 1u
#define HEADER_BYTES 64u
#define PRESENT 0x80000000u

enum { SEC_RECORDS = 1, SEC_PENDING = 2, SEC_GRAPH = 3 };
static const char *const section_names[] = {"", "records", "pending", "graph"};

_Atomic int checkpoint_crash_step;

typedef struct {
  char magic[8];
  uint32_t version, header_bytes, dim, metric;
  uint64_t seq, next_label, records, pending;
  uint32_t sections, crc;
} ck_header_t;
_Static_assert(sizeof(ck_header_t) == HEADER_BYTES, "checkpoint header is 64 bytes");

/* ------------------------------------------------------------------- view -- */

/* The frozen state after seq `seq` (see "Checkpoint view", store_internal.h). */
typedef struct {
  uint64_t seq, next_label;
  double pause_s;     /* how long writers waited while it was taken */
  point_rec_t **recs; /* live records in label order, pinned */
  size_t n_recs;
  uint64_t *pend_labels;   /* the PENDING buffer items at seq: labels */
  const float **pend_vecs; /* and their vectors, in the buffer's chunks (not
                              freed while the view pins: see maintain.c) */
  size_t n_pend;
  akidb_hnsw_frozen_t *graph;
} ck_view_t;

static _Atomic(void (*)(void *)) stream_hook;
static void *_Atomic stream_hook_ctx;

void akidb_collection_test_on_checkpoint_stream(void (*fn)(void *ctx), void *ctx) {
  stream_hook_ctx = ctx;
  stream_hook = fn;
}

/* Copies the live record pointers. Caller holds lock. */
static int view_records(const akidb_collection_t *c, ck_view_t *v) {
  v->recs = malloc((c->rt.live ? c->rt.live : 1) * sizeof *v->recs);
  if (!v->recs) return AKIDB_ENOMEM;
  for (uint64_t l = 1; l < c->next_label && l < c->rt.recs_cap; l++)
    if (c->rt.recs[l]) v->recs[v->n_recs++] = c->rt.recs[l];
  return AKIDB_OK;
}

/* Lists the buffer's PENDING items (indexers are out): labels and vector
 * pointers. Caller holds lock. */
static int view_pending(const akidb_collection_t *c, ck_view_t *v) {
  size_t n = 0;
  for (uint64_t pos = c->buf.head; pos < c->buf.tail; pos++)
    if (atomic_load(abuf_state(&c->buf, pos)) == ITEM_PENDING) n++;
  v->pend_labels = malloc((n ? n : 1) * sizeof *v->pend_labels);
  v->pend_vecs = malloc((n ? n : 1) * sizeof *v->pend_vecs);
  if (!v->pend_labels || !v->pend_vecs) return AKIDB_ENOMEM;
  for (uint64_t pos = c->buf.head; pos < c->buf.tail; pos++) {
    if (atomic_load(abuf_state(&c->buf, pos)) != ITEM_PENDING) continue;
    v->pend_labels[v->n_pend] = abuf_label(&c->buf, pos);
    v->pend_vecs[v->n_pend++] = abuf_vec(&c->buf, pos);
  }
  return AKIDB_OK;
}

static void view_free(ck_view_t *v) {
  free(v->recs);
  free(v->pend_labels);
  free(v->pend_vecs);
  akidb_hnsw_frozen_free(v->graph);
  memset(v, 0, sizeof *v);
}

/* Takes the frozen view and pins its records and buffer chunks. On success
 * index_gate stays held for writing (release with view_release). Writers
 * wait only from apply_lock on: the wait for indexers to leave comes first. */
static int view_take(akidb_collection_t *c, ck_view_t *v) {
  memset(v, 0, sizeof *v);
  pthread_rwlock_wrlock(&c->index_gate);
  double t0 = clock_now_s();
  pthread_mutex_lock(&c->apply_lock);
  pthread_rwlock_wrlock(&c->lock);
  v->seq = c->applied_seq;
  v->next_label = c->next_label;
  int rc = view_records(c, v);
  if (!rc) rc = view_pending(c, v);
  if (!rc) rc = akidb_hnsw_freeze(c->graph, &v->graph);
  if (!rc && !(c->retired = malloc((v->n_recs ? v->n_recs : 1) * sizeof *c->retired)))
    rc = AKIDB_ENOMEM;
  if (!rc) {
    c->n_retired = 0;
    c->pin_below = v->next_label;
    abuf_pin(&c->buf); /* the view points into the chunks' vector arrays */
  }
  pthread_rwlock_unlock(&c->lock);
  pthread_mutex_unlock(&c->apply_lock);
  v->pause_s = clock_now_s() - t0;
  if (rc) {
    pthread_rwlock_unlock(&c->index_gate);
    view_free(v);
  }
  return rc;
}

/* Lets indexers in again, unpins the records and frees the view. */
static void view_release(akidb_collection_t *c, ck_view_t *v) {
  pthread_rwlock_unlock(&c->index_gate);
  pthread_rwlock_wrlock(&c->lock);
  point_rec_t **retired = c->retired;
  size_t n = c->n_retired;
  c->pin_below = 0;
  c->retired = NULL;
  c->n_retired = 0;
  abuf_unpin(&c->buf);
  pthread_rwlock_unlock(&c->lock);
  for (size_t i = 0; i < n; i++) free(retired[i]);
  free(retired);
  view_free(v);
}

/* --------------------------------------------------------------- export -- */

typedef struct {
  uint64_t label;
  const float *vec;
} labelled_vec_t;

static int cmp_labelled(const void *a, const void *b) {
  uint64_t x = ((const labelled_vec_t *)a)->label, y = ((const labelled_vec_t *)b)->label;
  return x < y ? -1 : x > y;
}

/* The vectors of the view, by label: the buffer's PENDING items and the
 * graph's slots live at the freeze (a delete since then drops the label
 * from the graph's map, not the slot). Sorted by label; *n receives the
 * count. */
static labelled_vec_t *view_vectors(const akidb_collection_t *c, const ck_view_t *v, size_t *n) {
  uint32_t slots = v->graph ? akidb_hnsw_frozen_slots(v->graph) : 0;
  labelled_vec_t *t = malloc(((size_t)slots + v->n_pend + 1) * sizeof *t);
  if (!t) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < v->n_pend; i++) t[k++] = (labelled_vec_t){v->pend_labels[i], v->pend_vecs[i]};
  for (uint32_t s = 0; s < slots; s++) {
    uint64_t label;
    const float *vec;
    if (akidb_hnsw_frozen_slot(c->graph, v->graph, s, &label, &vec) == AKIDB_OK)
      t[k++] = (labelled_vec_t){label, vec};
  }
  qsort(t, k, sizeof *t, cmp_labelled);
  *n = k;
  return t;
}

static const float *find_vector(const labelled_vec_t *t, size_t n, uint64_t label) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t[mid].label < label) lo = mid + 1;
    else hi = mid;
  }
  return lo < n && t[lo].label == label ? t[lo].vec : NULL;
}

static int export_view(akidb_collection_t *c, const ck_view_t *v, akidb_point_visit_fn fn,
                       void *ctx) {
  size_t n_vecs = 0;
  labelled_vec_t *vecs = view_vectors(c, v, &n_vecs);
  if (!vecs) return AKIDB_ENOMEM;
  int rc = AKIDB_OK;
  for (size_t i = 0; i < v->n_recs && !rc; i++) {
    const point_rec_t *r = v->recs[i];
    const float *vec = find_vector(vecs, n_vecs, r->label);
    if (!vec) {
      store_log(c, AKIDB_LOG_ERROR, "export: point %.*s (label %llu) has no vector",
                (int)r->id_len, rec_id(r), (unsigned long long)r->label);
      rc = AKIDB_ECORRUPT;
      break;
    }
    akidb_point_out_t p = {.id = (char *)rec_id(r), .id_len = r->id_len, .vector = (float *)vec,
                           .payload = r->has_payload ? (char *)rec_payload(r) : NULL,
                           .payload_len = r->payload_len,
                           .text = r->has_text ? (char *)rec_text(r) : NULL,
                           .text_len = r->text_len};
    rc = fn(ctx, &p);
  }
  free(vecs);
  return rc;
}

int akidb_collection_export(akidb_collection_t *c, akidb_point_visit_fn fn, void *ctx,
                            uint64_t *seq) {
  pthread_mutex_lock(&c->ckpt_lock); /* one view at a time */
  ck_view_t v;
  int rc = view_take(c, &v);
  if (!rc) {
    if (seq) *seq = v.seq;
    rc = export_view(c, &v, fn, ctx);
    view_release(c, &v);
  }
  pthread_mutex_unlock(&c->ckpt_lock);
  return rc;
}
/* ----------------------------------------------------------------- writer -- */

#define WRITEBACK_BYTES (8ull << 20) /* hint write-back of every 8 MiB written */

typedef struct {
  const akidb_vfs_t *vfs;
  akidb_vfs_file_t *f;
  uint64_t off;     /* file offset of buf[0] */
  uint64_t hinted;  /* bytes before this were handed to the writeback hint */
  uint8_t *buf;
  size_t used, cap;
  uint32_t crc;
  int failed; /* errno of the first failure */
} ck_writer_t;

/* Writes the buffer out; every WRITEBACK_BYTES starts their write-back, so
 * the final fdatasync is no burst that stalls the log's syncs (measured at
 * 100k x 128 with fsync upserts running: max upsert latency during a
 * checkpoint 72 ms without the hint, 42 ms with it). */
static void cw_flush(ck_writer_t *w) {
  struct iovec iov = {w->buf, w->used};
  if (!w->failed && w->used)
    w->failed = akidb_vfs_write_all(w->vfs, w->f, &iov, 1, w->off, w->used, NULL);
  w->off += w->used;
  w->used = 0;
  if (!w->failed && w->off - w->hinted >= WRITEBACK_BYTES) {
    akidb_vfs_writeback(w->vfs, w->f, w->hinted, w->off - w->hinted);
    w->hinted = w->off;
  }
}

static void cw_put(ck_writer_t *w, const void *p, size_t n) {
  w->crc = crc32c(w->crc, p, n);
  const uint8_t *s = p;
  while (n && !w->failed) {
    if (w->used == w->cap) cw_flush(w);
    size_t take = w->cap - w->used < n ? w->cap - w->used : n;
    memcpy(w->buf + w->used, s, take);
    w->used += take;
    s += take;
    n -= take;
  }
}

static int cw_sink(void *ctx, const void *p, size_t n) {
  ck_writer_t *w = ctx;
  cw_put(w, p, n);
  return w->failed;
}

static void sec_begin(ck_writer_t *w, uint32_t kind, uint64_t len) {
  uint32_t hd[2] = {kind, 0};
  cw_put(w, hd, 8);
  cw_put(w, &len, 8);
  w->crc = 0;
}

static void sec_end(ck_writer_t *w, uint32_t kind) {
  uint32_t tr[2] = {w->crc, kind};
  cw_put(w, tr, 8);
}

static uint64_t records_body_bytes(const ck_view_t *v) {
  uint64_t bytes = 0;
  for (size_t i = 0; i < v->n_recs; i++) {
    const point_rec_t *r = v->recs[i];
    bytes += 20 + r->id_len + r->payload_len + r->text_len;
  }
  return bytes;
}

static void write_records(ck_writer_t *w, const ck_view_t *v) {
  sec_begin(w, SEC_RECORDS, records_body_bytes(v));
  for (size_t i = 0; i < v->n_recs; i++) {
    const point_rec_t *r = v->recs[i];
    uint32_t lens[3] = {r->id_len, r->payload_len | (r->has_payload ? PRESENT : 0),
                        r->text_len | (r->has_text ? PRESENT : 0)};
    cw_put(w, &r->label, 8);
    cw_put(w, lens, 12);
    cw_put(w, r->data, r->id_len);
    if (r->payload_len) cw_put(w, rec_payload(r), r->payload_len);
    if (r->text_len) cw_put(w, rec_text(r), r->text_len);
  }
  sec_end(w, SEC_RECORDS);
}

static void write_pending(ck_writer_t *w, const ck_view_t *v, uint32_t dim) {
  sec_begin(w, SEC_PENDING, v->n_pend * (8 + (uint64_t)dim * 4));
  for (size_t i = 0; i < v->n_pend; i++) {
    cw_put(w, &v->pend_labels[i], 8);
    cw_put(w, v->pend_vecs[i], (size_t)dim * 4);
  }
  sec_end(w, SEC_PENDING);
}

/* Streams the view; holds no lock but index_gate (taken by view_take). */
static void write_all(ck_writer_t *w, akidb_collection_t *c, const ck_view_t *v, char *err,
                      size_t errlen) {
  ck_header_t hd;
  memset(&hd, 0, sizeof hd);
  memcpy(hd.magic, MAGIC, 8);
  hd.version = VERSION;
  hd.header_bytes = HEADER_BYTES;
  hd.dim = c->dim;
  hd.metric = (uint32_t)c->opt.index.metric;
  hd.seq = v->seq;
  hd.next_label = v->next_label;
  hd.records = v->n_recs;
  hd.pending = v->n_pend;
  hd.sections = 3;
  hd.crc = crc32c(0, &hd, offsetof(ck_header_t, crc));
  cw_put(w, &hd, sizeof hd);
  write_records(w, v);
  write_pending(w, v, c->dim);
  void (*hook)(void *) = stream_hook;
  if (hook) hook(stream_hook_ctx);
  sec_begin(w, SEC_GRAPH, akidb_hnsw_frozen_bytes(c->graph, v->graph));
  if (!w->failed &&
      akidb_hnsw_write_frozen(c->graph, v->graph, cw_sink, w, err, errlen) && !w->failed)
    w->failed = EIO;
  sec_end(w, SEC_GRAPH);
  cw_put(w, END_MAGIC, 8);
  cw_flush(w);
}

/* Whether the test hook asks for a crash after `step`. */
static bool crash_after(int step) {
  int want = step;
  return atomic_compare_exchange_strong(&checkpoint_crash_step, &want, 0);
}

typedef struct {
  const akidb_vfs_t *vfs;
  const char *dir, *keep;
} remove_ctx_t;

static int remove_if_other(void *ctx, const char *name) {
  const remove_ctx_t *r = ctx;
  char path[4400];
  if (strncmp(name, "checkpoint-", 11) != 0 || strcmp(name, r->keep) == 0) return 0;
  snprintf(path, sizeof path, "%s/%s", r->dir, name);
  akidb_vfs_remove_gently(r->vfs, path); /* a leftover stays until the next try */
  return 0;
}

/* Deletes the checkpoint-* files other than `keep` (a leftover checkpoint.tmp
 * is not one of them: find_newest removes it when the collection opens). */
static void remove_other_checkpoints(const akidb_collection_t *c, const char *keep) {
  remove_ctx_t r = {c->vfs, c->dir, keep};
  c->vfs->list(c->vfs->ctx, c->dir, remove_if_other, &r);
}

/* Takes a view and streams it into `f`; *seq receives its seq. Writers
 * wait only while the view is taken, never for the stream. */
static int stream_state(akidb_collection_t *c, akidb_vfs_file_t *f, uint64_t *seq,
                        double *pause_s, char *err, size_t errlen) {
  ck_writer_t w = {.vfs = c->vfs, .f = f, .cap = 1 << 20};
  ck_view_t v;
  if (!(w.buf = malloc(w.cap))) return ENOMEM;
  if (view_take(c, &v)) {
    free(w.buf);
    return ENOMEM;
  }
  *seq = v.seq;
  *pause_s = v.pause_s;
  write_all(&w, c, &v, err, errlen);
  view_release(c, &v);
  free(w.buf);
  return w.failed;
}

/* Steps 1–4; on success *size is the file's size. */
static int write_file(akidb_collection_t *c, uint64_t *seq, uint64_t *size, double *pause_s,
                      char *name, size_t name_len, char *err, size_t errlen) {
  const akidb_vfs_t *vfs = c->vfs;
  char tmp[4400], path[4400];
  snprintf(tmp, sizeof tmp, "%s/checkpoint.tmp", c->dir);
  akidb_vfs_file_t *f = NULL;
  int rc = vfs->open(vfs->ctx, tmp, AKIDB_VFS_WRITE | AKIDB_VFS_CREATE | AKIDB_VFS_TRUNC, &f);
  if (rc) {
    SAY("cannot create %s: %s", tmp, strerror(rc));
    return AKIDB_EIO;
  }
  rc = stream_state(c, f, seq, pause_s, err, errlen);
  if (!rc) rc = vfs->size(vfs->ctx, f, size);
  if (!rc && crash_after(1)) rc = -1;
  if (!rc) rc = vfs->sync(vfs->ctx, f, 1);
  vfs->close(vfs->ctx, f);
  if (!rc && crash_after(2)) rc = -1;
  snprintf(name, name_len, "checkpoint-%020" PRIu64 ".akc", *seq);
  snprintf(path, sizeof path, "%s/%s", c->dir, name);
  if (!rc) rc = vfs->rename(vfs->ctx, tmp, path);
  if (!rc && crash_after(3)) rc = -1;
  if (!rc && (rc = vfs->sync_dir(vfs->ctx, c->dir)) != 0) {
    /* renamed but maybe not durable: the next open may load it or the old
     * one, both consistent with the log; the log is kept either way */
    SAY("checkpoint %s written but the directory fsync failed: %s", path, strerror(rc));
    return AKIDB_EIO;
  }
  if (!rc && crash_after(4)) rc = -1;
  if (rc == -1) {
    SAY("checkpoint stopped by the test hook");
    return AKIDB_EIO;
  }
  if (rc) {
    akidb_vfs_remove_gently(vfs, tmp);
    SAY("cannot write checkpoint %s: %s", path, strerror(rc));
    return AKIDB_EIO;
  }
  return AKIDB_OK;
}

int checkpoint_write(akidb_collection_t *c, char *err, size_t errlen) {
  double t0 = clock_now_s();
  uint64_t seq = 0, size = 0;
  double pause_s = 0;
  char name[64];
  int rc = write_file(c, &seq, &size, &pause_s, name, sizeof name, err, errlen);
  if (rc) return rc;
  atomic_store(&c->checkpoint_seq, seq);
  atomic_store(&c->checkpoint_bytes, size);
  atomic_fetch_add(&c->checkpoints, 1);
  double took = clock_now_s() - t0;
  atomic_store(&c->last_checkpoint_seconds, took);
  atomic_store(&c->last_checkpoint_time, clock_now_s());
  store_timing_observe(AKIDB_STORE_TIMING_CHECKPOINT, (uint64_t)(took * 1e9));
  if (crash_after(5)) {
    SAY("checkpoint stopped by the test hook");
    return AKIDB_EIO;
  }
  /* The roll holds the log's lock for two small syncs: done before the
   * large unlinks below keep the file system's journal busy. */
  char why[512] = "";
  if (wal_roll(c->wal, why, sizeof why) || wal_remove_upto(c->wal, seq, why, sizeof why))
    store_log(c, AKIDB_LOG_WARN, "checkpoint at seq %llu written, but old log segments stay: %s",
              (unsigned long long)seq, why);
  remove_other_checkpoints(c, name);
  store_log(c, AKIDB_LOG_DEBUG,
            "checkpoint at seq %llu: %llu bytes in %.3f s (writes paused %.1f ms for its view)",
            (unsigned long long)seq, (unsigned long long)size,
            atomic_load(&c->last_checkpoint_seconds), pause_s * 1e3);
  return AKIDB_OK;
}

int akidb_collection_checkpoint(akidb_collection_t *c, char *err, size_t errlen) {
  pthread_mutex_lock(&c->ckpt_lock);
  int rc;
  pthread_mutex_lock(&c->apply_lock);
  bool current = c->applied_seq == c->checkpoint_seq;
  pthread_mutex_unlock(&c->apply_lock);
  if (current) rc = AKIDB_OK; /* the newest checkpoint already holds this state */
  else rc = checkpoint_write(c, err, errlen);
  pthread_mutex_unlock(&c->ckpt_lock);
  return rc;
}

/* ----------------------------------------------------------------- reader -- */

typedef struct {
  const akidb_vfs_t *vfs;
  akidb_vfs_file_t *f;
  const char *path;
  uint64_t off; /* offset of the next byte */
  uint32_t crc;
  int bad;      /* short read */
  uint8_t *buf; /* read-ahead: bytes [buf_off, buf_off + len) of the file */
  uint64_t buf_off;
  size_t len, cap;
} ck_reader_t;

/* Copies n bytes at r->off from the read-ahead buffer, refilling it. */
static int cr_fill(ck_reader_t *r, uint8_t *p, size_t n) {
  while (n) {
    if (r->off < r->buf_off || r->off >= r->buf_off + r->len) {
      r->buf_off = r->off;
      r->len = 0;
      if (r->vfs->pread(r->vfs->ctx, r->f, r->buf, r->cap, r->off, &r->len) || r->len == 0)
        return EIO;
    }
    size_t at = (size_t)(r->off - r->buf_off), take = r->len - at < n ? r->len - at : n;
    memcpy(p, r->buf + at, take);
    r->off += take;
    p += take;
    n -= take;
  }
  return 0;
}

static int cr_get(ck_reader_t *r, void *p, size_t n) {
  if (r->bad) return EIO;
  uint64_t start = r->off;
  if (n && cr_fill(r, p, n)) {
    r->bad = 1;
    r->off = start;
    return EIO;
  }
  r->crc = crc32c(r->crc, p, n);
  return 0;
}

static int cr_source(void *ctx, void *p, size_t n) { return cr_get(ctx, p, n); }

#define CORRUPT(r, ...)                                                               \
  do {                                                                                \
    char what_[256];                                                                  \
    snprintf(what_, sizeof what_, __VA_ARGS__);                                       \
    SAY("checkpoint %s is corrupt at offset %llu: %s", (r)->path,                     \
        (unsigned long long)(r)->off, what_);                                         \
    return AKIDB_ECORRUPT;                                                            \
  } while (0)

/* Reads a section header; checks kind and that its length fits the file. */
static int section_open(ck_reader_t *r, uint32_t kind, uint64_t *len, uint64_t file_size,
                        char *err, size_t errlen) {
  uint32_t hd[2];
  if (cr_get(r, hd, 8) || cr_get(r, len, 8)) CORRUPT(r, "file ends inside a section header");
  if (hd[0] != kind || hd[1] != 0)
    CORRUPT(r, "expected the %s section, found kind %u", section_names[kind], hd[0]);
  if (*len > file_size - r->off) CORRUPT(r, "the %s section runs past the end of the file",
                                         section_names[kind]);
  r->crc = 0;
  return AKIDB_OK;
}

static int section_close(ck_reader_t *r, uint32_t kind, char *err, size_t errlen) {
  uint32_t want = r->crc, tr[2];
  if (cr_get(r, tr, 8)) CORRUPT(r, "file ends inside the %s section", section_names[kind]);
  if (tr[0] != want || tr[1] != kind)
    CORRUPT(r, "checksum mismatch in the %s section", section_names[kind]);
  return AKIDB_OK;
}

static int read_records(akidb_collection_t *c, ck_reader_t *r, const ck_header_t *hd,
                        uint64_t size, char *err, size_t errlen) {
  uint64_t len;
  int rc = section_open(r, SEC_RECORDS, &len, size, err, errlen);
  if (rc) return rc;
  if (records_reserve(&c->rt, hd->records, hd->next_label)) return AKIDB_ENOMEM;
  char *scratch = malloc(AKIDB_POINT_ID_MAX + 2ull * AKIDB_PAYLOAD_MAX);
  if (!scratch) return AKIDB_ENOMEM;
  uint64_t end = r->off + len;
  for (uint64_t i = 0; i < hd->records && rc == AKIDB_OK; i++) {
    uint64_t label;
    uint32_t lens[3];
    if (cr_get(r, &label, 8) || cr_get(r, lens, 12)) { rc = -1; break; }
    uint32_t il = lens[0], pl = lens[1] & ~PRESENT, tl = lens[2] & ~PRESENT;
    if (label == 0 || label >= hd->next_label || c->rt.recs[label] || il == 0 ||
        il > AKIDB_POINT_ID_MAX || pl > AKIDB_PAYLOAD_MAX || tl > AKIDB_TEXT_MAX ||
        r->off + il + pl + tl > end) { rc = -1; break; }
    if (cr_get(r, scratch, (size_t)il + pl + tl)) { rc = -1; break; }
    point_rec_t *rec = records_new(label, scratch, il, (lens[1] & PRESENT) ? scratch + il : NULL,
                                   pl, (lens[2] & PRESENT) ? scratch + il + pl : NULL, tl);
    if (!rec) { rc = AKIDB_ENOMEM; break; }
    if (records_find(&c->rt, scratch, il, rec->hash)) { free(rec); rc = -1; break; }
    records_add(&c->rt, rec);
  }
  free(scratch);
  if (rc == AKIDB_ENOMEM) return rc;
  if (rc || r->off != end) CORRUPT(r, "malformed point record in the records section");
  return section_close(r, SEC_RECORDS, err, errlen);
}

static int read_pending(akidb_collection_t *c, ck_reader_t *r, const ck_header_t *hd,
                        uint64_t size, char *err, size_t errlen) {
  uint64_t len;
  int rc = section_open(r, SEC_PENDING, &len, size, err, errlen);
  if (rc) return rc;
  if (len != hd->pending * (8 + (uint64_t)c->dim * 4))
    CORRUPT(r, "the pending section's length does not match its %llu points",
            (unsigned long long)hd->pending);
  if (abuf_reserve(&c->buf, hd->pending)) return AKIDB_ENOMEM;
  float *v = malloc((size_t)c->dim * 4);
  if (!v) return AKIDB_ENOMEM;
  for (uint64_t i = 0; i < hd->pending && rc == AKIDB_OK; i++) {
    uint64_t label;
    if (cr_get(r, &label, 8) || cr_get(r, v, (size_t)c->dim * 4)) rc = -1;
    point_rec_t *rec = rc ? NULL : records_get(&c->rt, label);
    if (!rec || rec->buf_pos >= 0) rc = -1;
    else rec->buf_pos = (int64_t)abuf_append(&c->buf, label, v, false);
  }
  free(v);
  if (rc) CORRUPT(r, "a pending point names no record");
  return section_close(r, SEC_PENDING, err, errlen);
}

static int read_graph(akidb_collection_t *c, ck_reader_t *r, uint64_t size, char *err,
                      size_t errlen) {
  uint64_t len, start;
  int rc = section_open(r, SEC_GRAPH, &len, size, err, errlen);
  if (rc) return rc;
  start = r->off;
  char why[256] = "";
  rc = akidb_hnsw_read_image(cr_source, r, len, &c->graph, why, sizeof why);
  if (rc == AKIDB_ENOMEM) return rc;
  if (rc || r->off != start + len) CORRUPT(r, "graph section: %.200s", why);
  /* every record that is not pending must be in the graph */
  for (uint64_t l = 1; l < c->next_label && l < c->rt.recs_cap; l++) {
    point_rec_t *rec = c->rt.recs[l];
    if (rec && rec->buf_pos < 0 && !akidb_hnsw_contains(c->graph, l))
      CORRUPT(r, "point with label %llu is neither pending nor in the graph",
              (unsigned long long)l);
  }
  return section_close(r, SEC_GRAPH, err, errlen);
}

static int read_header(akidb_collection_t *c, ck_reader_t *r, ck_header_t *hd, char *err,
                       size_t errlen) {
  if (cr_get(r, hd, sizeof hd->magic) || memcmp(hd->magic, MAGIC, 8)) {
    SAY("%s is not an AkiDB checkpoint file", r->path);
    return AKIDB_EFORMAT;
  }
  if (cr_get(r, (char *)hd + 8, HEADER_BYTES - 8)) CORRUPT(r, "file ends inside the header");
  if (hd->version != VERSION) {
    SAY("checkpoint %s has format version %u; this build reads version %u", r->path,
        hd->version, VERSION);
    return AKIDB_EVERSION;
  }
  if (hd->crc != crc32c(0, hd, offsetof(ck_header_t, crc)) || hd->header_bytes != HEADER_BYTES ||
      hd->sections != 3 || hd->next_label == 0)
    CORRUPT(r, "header checksum mismatch");
  if (hd->dim != c->dim || hd->metric != (uint32_t)c->opt.index.metric) {
    SAY("checkpoint %s holds dimension %u metric %s, not %u %s", r->path, hd->dim,
        akidb_metric_name((akidb_metric_t)hd->metric), c->dim,
        akidb_metric_name(c->opt.index.metric));
    return AKIDB_EINVAL;
  }
  return AKIDB_OK;
}

static int load_file(akidb_collection_t *c, const char *path, uint64_t *points, char *err,
                     size_t errlen) {
  ck_reader_t r = {.vfs = c->vfs, .path = path, .cap = 4 << 20};
  uint64_t size = 0;
  int e = c->vfs->open(c->vfs->ctx, path, AKIDB_VFS_READ, &r.f);
  if (!e) e = c->vfs->size(c->vfs->ctx, r.f, &size);
  if (!e && !(r.buf = malloc(r.cap))) e = ENOMEM;
  if (e) {
    SAY("cannot open %s: %s", path, strerror(e));
    c->vfs->close(c->vfs->ctx, r.f);
    return AKIDB_EIO;
  }
  ck_header_t hd;
  char end[8];
  c->next_label = 1;
  int rc = read_header(c, &r, &hd, err, errlen);
  if (!rc) c->next_label = hd.next_label;
  if (!rc) rc = read_records(c, &r, &hd, size, err, errlen);
  if (!rc) rc = read_pending(c, &r, &hd, size, err, errlen);
  if (!rc) rc = read_graph(c, &r, size, err, errlen);
  if (!rc && (cr_get(&r, end, 8) || memcmp(end, END_MAGIC, 8) || r.off != size)) {
    SAY("checkpoint %s is corrupt at offset %llu: bad trailer", path, (unsigned long long)r.off);
    rc = AKIDB_ECORRUPT;
  }
  c->vfs->close(c->vfs->ctx, r.f);
  free(r.buf);
  if (rc == AKIDB_ENOMEM) SAY("out of memory loading checkpoint %s", path);
  if (rc) return rc;
  c->checkpoint_seq = hd.seq;
  c->checkpoint_bytes = size;
  *points = hd.records;
  return AKIDB_OK;
}

typedef struct {
  char *name;
  size_t name_len;
  uint64_t best;
  bool found;
} newest_t;

/* akidb_vfs_entry_fn: keeps the checkpoint-<seq>.akc with the highest seq. */
static int consider_checkpoint(void *ctx, const char *name) {
  newest_t *n = ctx;
  unsigned long long seq;
  char tail[8];
  if (sscanf(name, "checkpoint-%20llu.%7s", &seq, tail) == 2 && strcmp(tail, "akc") == 0 &&
      (!n->found || seq > n->best)) {
    n->best = seq;
    n->found = true;
    snprintf(n->name, n->name_len, "%s", name);
  }
  return 0;
}

/* Finds the newest checkpoint-<seq>.akc; removes checkpoint.tmp leftovers
 * (an old checkpoint's "*.free" leftover goes with remove_other_checkpoints). */
static int find_newest(const akidb_collection_t *c, char *name, size_t name_len) {
  newest_t n = {.name = name, .name_len = name_len};
  int e = c->vfs->list(c->vfs->ctx, c->dir, consider_checkpoint, &n);
  if (e) return e;
  char tmp[4400];
  snprintf(tmp, sizeof tmp, "%s/checkpoint.tmp", c->dir);
  akidb_vfs_remove_gently(c->vfs, tmp);
  return n.found ? 0 : ENOENT;
}

int checkpoint_load(akidb_collection_t *c, uint64_t *points, char *err, size_t errlen) {
  *points = 0;
  char name[256], path[4400];
  int rc = find_newest(c, name, sizeof name);
  if (rc == ENOENT) return AKIDB_OK;
  if (rc) {
    SAY("cannot list %s: %s", c->dir, strerror(rc));
    return AKIDB_EIO;
  }
  snprintf(path, sizeof path, "%s/%s", c->dir, name);
  if ((rc = load_file(c, path, points, err, errlen))) return rc;
  c->checkpoints = 0;
  remove_other_checkpoints(c, name);
  return AKIDB_OK;
}

/* ---------------------------------------------------------------- peek -- */

typedef struct {
  const akidb_vfs_t *vfs;
  char dir[4400];
  uint64_t bytes;
} du_t;

/* akidb_vfs_entry_fn: adds the size of a file (and of wal/'s files). */
static int add_size(void *ctx, const char *name) {
  du_t *d = ctx;
  char path[4400];
  if (snprintf(path, sizeof path, "%s/%s", d->dir, name) >= (int)sizeof path) return 0;
  uint64_t size = 0;
  int is_dir = 0;
  if (d->vfs->stat(d->vfs->ctx, path, &size, &is_dir)) return 0;
  if (!is_dir) d->bytes += size;
  else if (strcmp(name, "wal") == 0) {
    du_t sub = {.vfs = d->vfs};
    memcpy(sub.dir, path, sizeof sub.dir);
    d->vfs->list(d->vfs->ctx, sub.dir, add_size, &sub);
    d->bytes += sub.bytes;
  }
  return 0;
}

int akidb_collection_peek(const char *dir, const akidb_vfs_t *vfs, akidb_collection_peek_t *out) {
  memset(out, 0, sizeof *out);
  vfs = akidb_vfs_or_local(vfs);
  du_t du = {.vfs = vfs};
  snprintf(du.dir, sizeof du.dir, "%s", dir);
  int e = vfs->list(vfs->ctx, dir, add_size, &du);
  if (e) return e == ENOENT ? AKIDB_ENOTFOUND : AKIDB_EIO;
  out->disk_bytes = du.bytes;
  char name[256], path[4400];
  newest_t n = {.name = name, .name_len = sizeof name};
  if (vfs->list(vfs->ctx, dir, consider_checkpoint, &n) || !n.found) return AKIDB_OK;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  akidb_vfs_file_t *f = NULL;
  ck_header_t hd;
  int rc = AKIDB_OK;
  if (vfs->open(vfs->ctx, path, AKIDB_VFS_READ, &f) ||
      akidb_vfs_read_exact(vfs, f, &hd, sizeof hd, 0))
    rc = AKIDB_EIO;
  else if (memcmp(hd.magic, MAGIC, 8) != 0 || hd.crc != crc32c(0, &hd, offsetof(ck_header_t, crc)))
    rc = AKIDB_ECORRUPT;
  if (f) vfs->close(vfs->ctx, f);
  if (rc) return rc;
  out->has_checkpoint = true;
  out->checkpoint_seq = hd.seq;
  out->checkpoint_points = hd.records;
  return AKIDB_OK;
}
