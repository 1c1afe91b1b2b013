/*
 * store_internal.h — the private layout of a collection, shared by
 * collection.c (open, close, writes, reads), records.c (point records and
 * the id map), buffer.c (the append buffer), codec.c (log record format),
 * checkpoint.c (checkpoint files), search.c (search and scan) and
 * maintain.c (indexing, checkpoint and compaction jobs on the worker pool).
 *
 * Labels: every upserted point gets a fresh 64-bit label (never reused), its
 * key in the HNSW graph and in `recs`. Replacing a point retires the old
 * label, so a reader holding an old label can always tell it is stale.
 *
 * Locking (outermost first; a thread never takes them in another order):
 *   ckpt_lock   mutex: one checkpoint or compaction at a time.
 *   index_gate  rwlock: indexers hold it for reading while they insert into
 *               the graph; checkpoint (for its whole stream) and compaction
 *               take it for writing. Nobody holding apply_lock waits for it.
 *   apply_lock  mutex: log records are applied to memory one at a time, in
 *               log order (`applied_seq` + `applied_cond`); a checkpoint
 *               holds it only while it takes its frozen view (below).
 *   lock        rwlock (writer-preferring): records, id map, buffer layout,
 *               the graph pointer, the checkpoint pin (`pin_below`,
 *               `retired`). Searches, get and scan read; applying a record
 *               writes.
 *   claim_lock  mutex: the indexers' claim position in the buffer.
 *   text_lock   rwlock: the BM25 index of the points' text (`text`, text.c).
 *               A write applies its records under `lock`, releases it, then
 *               updates the text index under text_lock (both still inside
 *               the apply order), so tokenising never holds up vector
 *               searches; a text search takes `lock` then text_lock (both
 *               for reading). Nobody holding text_lock waits for `lock`.
 * Buffer item states change by compare-and-swap, so an indexer and a
 * deleting writer agree on who removes a point from the graph. The
 * checkpoint figures (checkpoint_seq, _bytes, checkpoints, times) are
 * atomics, so stats never wait for a checkpoint or a compaction.
 *
 * Checkpoint view (checkpoint.c). A checkpoint must write exactly the state
 * after one seq S without making writers wait for the whole stream. It
 * takes index_gate (write: waits for the indexers' current batch, writers
 * unaffected), then apply_lock + lock (write) for O(live + pending) pointer
 * copies, and takes a frozen view:
 *   1. S = applied_seq and next_label;
 *   2. an array of the live record pointers. Records are immutable once
 *      added; a record with label < `pin_below` (= next_label at S) that a
 *      writer removes while the view exists is moved to `retired` instead
 *      of freed (room for every pinned record is reserved), and freed when
 *      the view is released. Newer records are freed as usual;
 *   3. the buffer's PENDING labels and pointers to their vectors (no item
 *      is INDEXING: indexers are out). Vectors in the buffer never change;
 *      while `pin_below` is set no chunk is freed (maintain.c skips
 *      abuf_release_done), so the pointers stay valid;
 *   4. akidb_hnsw_freeze: the graph's deleted marks, counts and entry point.
 * Then apply_lock and lock are released: writers append, apply, delete
 * (marking the live graph only: the frozen marks are unaffected), searches
 * and stats run. index_gate stays held for writing until the stream ends,
 * so no insert changes the graph's links or vectors under the stream (the
 * indexers pause; writers and readers never take index_gate). The image is
 * therefore the state at S exactly, and load is unchanged.
 */
#ifndef AKIDB_STORE_INTERNAL_H
#define AKIDB_STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "akidb/store.h"
#include "index/metric.h"
#include "store/wal.h"
#include "util/mem.h"

/* ------------------------------------------------------------- records -- */

/* One live point. `data` holds id, payload and text, each NUL-terminated. */
typedef struct point_rec {
  uint64_t label;
  int64_t buf_pos; /* position in the append buffer, -1 once loaded into the graph */
  uint32_t id_len, payload_len, text_len;
  uint32_t hash;
  bool has_payload, has_text;
  char data[];
} point_rec_t;

static inline const char *rec_id(const point_rec_t *r) { return r->data; }
static inline const char *rec_payload(const point_rec_t *r) {
  return r->has_payload ? r->data + r->id_len + 1 : NULL;
}
static inline const char *rec_text(const point_rec_t *r) {
  return r->has_text ? r->data + r->id_len + 1 + r->payload_len + 1 : NULL;
}

/* label → record (array indexed by label) plus id → label (open addressing). */
typedef struct {
  point_rec_t **recs;
  uint64_t recs_cap;
  uint64_t *slots; /* labels; 0 empty, UINT64_MAX tombstone */
  uint32_t *hashes;
  uint64_t cap, used, dirty;
  uint64_t live;
  uint64_t bytes; /* bytes held by records */
  akidb_memacct_t *mem; /* charged for the tables and every record added */
} records_t;

uint32_t records_hash(const char *id, size_t len);
point_rec_t *records_new(uint64_t label, const char *id, size_t id_len, const char *payload,
                         size_t payload_len, const char *text, size_t text_len);
void records_init(records_t *t, akidb_memacct_t *mem);
void records_free(records_t *t);
/* Makes room for `n` more records and labels up to `max_label`. */
int records_reserve(records_t *t, uint64_t n, uint64_t max_label);
point_rec_t *records_find(const records_t *t, const char *id, size_t len, uint32_t hash);
/* Adds r (its id must be absent; room reserved); charges its bytes. */
void records_add(records_t *t, point_rec_t *r);
/* Unlinks r from both maps and credits its bytes; the caller frees it. */
void records_remove(records_t *t, point_rec_t *r);
static inline point_rec_t *records_get(const records_t *t, uint64_t label) {
  return label < t->recs_cap ? t->recs[label] : NULL;
}

/* --------------------------------------------------------- append buffer -- */

#define BUF_CHUNK 1024u   /* positions per chunk */
#define BUF_FIRST_ITEMS 16u /* room a chunk's arrays get first (or a batch's size);
                               then x2, up to BUF_CHUNK */

enum {
  ITEM_PENDING = 1,       /* waiting for an indexer */
  ITEM_INDEXING = 2,      /* an indexer is inserting it */
  ITEM_INDEXED = 3,       /* in the graph */
  ITEM_DEAD = 4,          /* deleted or replaced; not in the graph */
  ITEM_DEAD_INDEXING = 5, /* deleted while being inserted: the indexer removes it */
};

/*
 * BUF_CHUNK positions. `state` is fixed (indexers change it by CAS without
 * the collection lock); labels and vectors are held only for the chunk's
 * items base .. base+cap-1 and grow geometrically as items arrive. Once every
 * item appended so far is INDEXED or DEAD the arrays are freed and `base`
 * moves past them, so an idle chunk holds no vectors.
 */
typedef struct {
  _Atomic uint8_t state[BUF_CHUNK];
  uint32_t base, cap;
  float max_norm;   /* largest Euclidean norm of the vectors held (search.c's error bound
                       under the dot metric; kept only when abuf_t.track_norm) */
  uint64_t *labels; /* cap labels, for items base.. */
  float *vecs;      /* cap * stride floats, 64-byte aligned */
} buf_chunk_t;

typedef struct {
  uint32_t dim, stride;
  bool track_norm;      /* keep chunks' max_norm (the dot metric's scan bound) */
  buf_chunk_t **chunks; /* chunks[i] holds positions head + i*BUF_CHUNK ... */
  uint64_t n_chunks, cap_chunks;
  uint64_t head;  /* position of chunks[0]'s first item (a multiple of BUF_CHUNK) */
  uint64_t tail;  /* next position to append */
  uint64_t claim; /* next position an indexer looks at (claim_lock) */
  _Atomic uint64_t pending; /* items PENDING or INDEXING */
  akidb_memacct_t *mem;     /* charged for chunks and their arrays */
  bool pinned;      /* a checkpoint view points into the arrays: growth keeps the old ones */
  void **kept;      /* arrays replaced while pinned, freed by abuf_unpin */
  size_t n_kept, cap_kept;
} abuf_t;

void abuf_init(abuf_t *b, uint32_t dim, bool track_norm, akidb_memacct_t *mem);
void abuf_free(abuf_t *b);
/* Makes room for n more items. 0 or AKIDB_ENOMEM. */
int abuf_reserve(abuf_t *b, uint64_t n);
/* Appends a vector (room reserved); returns its position. `unit`: scale the
 * stored copy to length 1 (akidb_normalize; the vector was checked). */
uint64_t abuf_append(abuf_t *b, uint64_t label, const float *vec, bool unit);
static inline buf_chunk_t *abuf_chunk(const abuf_t *b, uint64_t pos) {
  return b->chunks[(pos - b->head) / BUF_CHUNK];
}
static inline _Atomic uint8_t *abuf_state(const abuf_t *b, uint64_t pos) {
  return &abuf_chunk(b, pos)->state[pos % BUF_CHUNK];
}
/* Whether the buffer still holds pos's label and vector (pos >= head). An
 * item whose arrays were freed is INDEXED or DEAD. */
static inline bool abuf_holds(const abuf_t *b, uint64_t pos) {
  const buf_chunk_t *ch = abuf_chunk(b, pos);
  uint32_t i = pos % BUF_CHUNK;
  return i >= ch->base && i - ch->base < ch->cap;
}
/* The vector and label of a held item (PENDING or INDEXING ones always are). */
static inline float *abuf_vec(const abuf_t *b, uint64_t pos) {
  const buf_chunk_t *ch = abuf_chunk(b, pos);
  return ch->vecs + (size_t)(pos % BUF_CHUNK - ch->base) * b->stride;
}
static inline uint64_t abuf_label(const abuf_t *b, uint64_t pos) {
  const buf_chunk_t *ch = abuf_chunk(b, pos);
  return ch->labels[pos % BUF_CHUNK - ch->base];
}
/* While pinned, arrays that growth replaces stay allocated (a checkpoint
 * view streams from them); abuf_unpin frees them. Caller holds lock (write). */
void abuf_pin(abuf_t *b);
void abuf_unpin(abuf_t *b);
/* Frees leading chunks whose items are all INDEXED or DEAD, and the arrays
 * of any other chunk whose appended items all are. Caller holds lock (write). */
void abuf_release_done(abuf_t *b);

/* ----------------------------------------------------------- collection -- */

struct akidb_collection {
  akidb_memacct_t mem; /* every byte the collection holds (util/mem.c) */
  char *dir;
  akidb_collection_options_t opt;
  const akidb_vfs_t *vfs; /* opt.vfs or the local filesystem */
  metric_t metric;
  uint32_t dim;

  wal_t *wal;
  pthread_mutex_t apply_lock;
  pthread_cond_t applied_cond;
  uint64_t applied_seq;
  _Atomic bool failed;
  char fail_msg[256];

  pthread_rwlock_t index_gate;
  pthread_rwlock_t lock;
  records_t rt;
  abuf_t buf;
  akidb_hnsw_t *graph;
  uint64_t next_label;

  pthread_rwlock_t text_lock;
  akidb_text_bm25_t *text;     /* NULL: no text index (opt.text_index false, or during open) */
  _Atomic bool text_incomplete; /* a write's text could not be indexed (out of memory):
                                   text searches refuse until reopen */

  pthread_mutex_t claim_lock;
  pthread_mutex_t idle_lock; /* with idle_cond: indexers sleep, waiters wake */
  pthread_cond_t idle_cond;

  bool compacting; /* deletes meanwhile go to compact_dead too (lock) */
  uint64_t *compact_dead;
  size_t n_compact_dead, cap_compact_dead;

  _Atomic uint64_t checkpoint_seq;
  _Atomic uint64_t checkpoint_bytes;
  _Atomic uint64_t checkpoints;
  _Atomic double last_checkpoint_seconds;
  _Atomic double last_checkpoint_time; /* monotonic seconds (read by writers) */
  pthread_mutex_t ckpt_lock;           /* one checkpoint or compaction at a time */

  /* the checkpoint pin (lock): see "Checkpoint view" above */
  uint64_t pin_below;     /* 0: no checkpoint view exists */
  point_rec_t **retired;  /* pinned records removed meanwhile */
  size_t n_retired;

  akidb_pool_t *pool;       /* NULL until maintain_start (or without background) */
  akidb_job_t *index_jobs;  /* opt.index_threads of them: indexing slices */
  uint32_t n_index_jobs;
  akidb_job_t maint_job;    /* checkpoints and compaction */
  akidb_job_t sync_job;     /* durability "interval": the log's periodic fdatasync */
  _Atomic uint32_t space_waiters; /* writers waiting for pending to drop (backpressure) */
  _Atomic bool stopping;
};

/* text.c: the BM25 index of the points' text. */
/* Builds it from every live record (end of open, single-threaded). */
int store_text_build(akidb_collection_t *c, char *err, size_t errlen);
/* After an upsert of n points labelled first.. (old[i]: the label point i
 * replaced, 0 none; old NULL: not known, which marks the index incomplete).
 * Caller holds the apply order, not lock. */
void store_text_upsert(akidb_collection_t *c, const akidb_point_t *pts, uint32_t n,
                       uint64_t first, const uint64_t *old);
/* After a delete removed these labels (labels NULL with n > 0: not known). */
void store_text_delete(akidb_collection_t *c, const uint64_t *labels, size_t n);

/* collection.c */
void store_log(akidb_collection_t *c, akidb_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Removes a point from memory (records, buffer or graph). Caller holds lock (write). */
void store_remove_point(akidb_collection_t *c, point_rec_t *r);
/* Copies a record's prepared vector (from the buffer or the graph). Caller holds lock. */
int store_copy_vector(akidb_collection_t *c, const point_rec_t *r, float *out);
/* Fills `out` from a record (payload and text, vector as asked). Caller holds lock. */
int store_fill_point(akidb_collection_t *c, const point_rec_t *r, bool payload, bool vector,
                     akidb_point_out_t *out);

/* codec.c — log record types and their bodies. */
enum { REC_UPSERT = 1, REC_DELETE = 2 };
/* An upsert record as pieces for wal_append (wal_record_t.iov): the count
 * and each point's id, payload and text packed into `meta`; each vector is
 * a piece of its own, left where the caller holds it (valid until the
 * append returns). */
typedef struct {
  uint8_t *meta;
  struct iovec *iov; /* 2 per point */
  size_t iovcnt, len;
} codec_pieces_t;
int codec_gather_upsert(const akidb_point_t *pts, size_t n, uint32_t dim, codec_pieces_t *out);
void codec_pieces_free(codec_pieces_t *p);
int codec_encode_delete(const char *const *ids, const size_t *lens, size_t n, void **out,
                        size_t *len);
/* Decoding: views into the record's bytes. */
typedef struct {
  const uint8_t *p, *end;
  uint32_t count, index, dim;
} codec_reader_t;
int codec_begin(codec_reader_t *r, const void *data, size_t len, uint32_t dim);
/* Next point of an upsert record (vector unaligned: copy it). 1 = got one, 0 = done, <0 corrupt. */
int codec_next_upsert(codec_reader_t *r, akidb_point_t *pt, const uint8_t **vec);
int codec_next_delete(codec_reader_t *r, const char **id, size_t *len);

/* Applying decoded records to memory (collection.c); caller holds apply order. */
int store_apply_upsert(akidb_collection_t *c, const void *data, size_t len, char *err,
                       size_t errlen);
int store_apply_delete(akidb_collection_t *c, const void *data, size_t len, size_t *deleted,
                       char *err, size_t errlen);

/* checkpoint.c */
int checkpoint_write(akidb_collection_t *c, char *err, size_t errlen);
/* Loads the newest checkpoint in c->dir, if any, into c (graph, records, buffer). */
int checkpoint_load(akidb_collection_t *c, uint64_t *points, char *err, size_t errlen);
extern _Atomic int checkpoint_crash_step;

/* maintain.c */
/* Starts the collection's jobs on its pool (opt.pool or the default). */
int maintain_start(akidb_collection_t *c, char *err, size_t errlen);
/* Takes the jobs out of the pool, waiting for running slices. */
void maintain_stop(akidb_collection_t *c);
/* After a write was applied: wakes indexing, arms the checkpoint timer
 * (now when the log is large), and a compaction check after deletes. */
void maintain_note_write(akidb_collection_t *c, bool deleted);
/* Whether the collection builds its graph: it has reached exact_below live
 * points, or has a graph already. Below that, points stay in the buffer and
 * searches scan them exactly. Caller holds lock. */
bool maintain_wants_graph_locked(akidb_collection_t *c);
/* Backpressure: waits (bounded) until `n` more points fit under
 * opt.max_pending. AKIDB_OK or AKIDB_EBUSY with `err` saying so. */
int maintain_wait_for_room(akidb_collection_t *c, size_t n, char *err, size_t errlen);
size_t maintain_index_some(akidb_collection_t *c, size_t max);
int maintain_compact(akidb_collection_t *c, char *err, size_t errlen);

#endif /* AKIDB_STORE_INTERNAL_H */
