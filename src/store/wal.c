/*
 * wal.c — owns the write-ahead log of one collection: the segment files of
 * its directory, record framing, recovery at open (a torn tail of the newest
 * segment is cut off, corruption anywhere else is refused), appends with
 * group commit, the interval sync thread, rollover, and removal of segments
 * a checkpoint covers.
 *
 * Locking: one mutex (`lock`) guards the segment list, the current file,
 * seq assignment and the written/synced byte counts. Appenders build their
 * frames (payload CRCs, headers) before taking it; under it they assign
 * seqs, finish the CRCs and write. Under WAL_SYNC_FSYNC an appender whose
 * bytes are not yet synced becomes the leader if no sync is running: it
 * drops the lock, runs one fdatasync for everything written so far, then
 * wakes the followers waiting on `synced_cv`; a follower whose bytes that
 * sync covered returns without syncing. One sync runs at a time
 * (`syncing`), and the current file is never switched or closed while one
 * runs. Values read without the lock are atomics.
 *
 * Durability: a group is one positional write (short writes and EINTR
 * retried; a record given as pieces, wal_record_t.iov, is written from
 * where they lie, with its CRC chained over them) and, under
 * WAL_SYNC_FSYNC, is acknowledged only after an fdatasync that began
 * after the write succeeded. Before a new segment is created the old one
 * is synced, and a new segment's header is synced before its directory,
 * so only the newest segment can have a torn tail.
 * Open syncs every segment, so replayed records are durable. A failed write
 * (cut back to the group's start when possible) or sync makes the log
 * refuse every later append until it is reopened. WAL_SYNC_NONE skips
 * every sync. Every file operation goes through the log's VFS
 * (wal_options_t.vfs, include/akidb/vfs.h); segments are read at open and
 * replay through its map (mmap on the local filesystem).
 *
 * Format (little-endian):
 *   file     <seq of its first record, 20 digits>.wal
 *   header   40 bytes: magic "AKIDBWAL", u32 version (1), u32 header bytes
 *            (40), u64 first seq, u64 prev seq (the record just before this
 *            segment, 0 if none), u32 reserved (0), u32 CRC32C of the 36
 *            bytes before it
 *   record   24-byte header: u32 CRC32C, u32 payload length, u64 seq, u8
 *            type, u8 flags (1: first of its group, 2: last of its group,
 *            the commit point), u16 + u32 reserved (0); then the payload
 *            zero-padded to a multiple of 8. The CRC covers the padded
 *            payload followed by header bytes 4..23.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store/wal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "akidb/errors.h"
#include "akidb/vfs.h"
#include "store/crc32c.h"
#include "store/timing.h"
#include "util/clock.h"
#include "util/span.h"
#include "util/mem.h"
#include "util/thread.h"

#define SEG_MAGIC "AKIDBWAL"
#define SEG_VERSION 1u
#define SEG_HEADER 40u
#define FRAME_HEADER 24u
#define FLAG_FIRST 1u
#define FLAG_LAST 2u
#define MAX_RECORD (1u << 30)
#define DEFAULT_SEGMENT_BYTES (64ull << 20)
#define DEFAULT_INTERVAL_MS 100u
#define NAME_DIGITS 20
#define PATH_BYTES 4096
#define MSG_BYTES 512

#define SAY(...) ((err && errlen) ? (void)snprintf(err, errlen, __VA_ARGS__) : (void)0)

typedef unsigned long long ull; /* for printing */

typedef struct {
  uint64_t first_seq; /* seq of its first record; also its name */
  uint64_t prev_seq;  /* seq of the record just before it (0: none) */
  uint64_t last_seq;  /* seq of its last record; prev_seq while empty */
  uint64_t bytes;     /* valid bytes, header included */
} segment_t;

struct wal {
  char *dir;
  const akidb_vfs_t *vfs;      /* every file operation goes through it */
  akidb_vfs_file_t *dir_lock;  /* the directory's exclusive lock */
  wal_options_t opt;
  pthread_mutex_t lock;
  pthread_cond_t synced_cv; /* a sync ended or the log failed */
  pthread_cond_t stop_cv;   /* wakes the interval thread */
  int sync_objects;         /* the mutex and conditions exist */
  segment_t *segs;          /* oldest first; the last is current */
  size_t n_segs, cap_segs;
  akidb_vfs_file_t *file; /* current segment, open for writing */
  uint64_t next_seq;
  uint64_t floor_seq; /* name of a torn segment removed at open: seqs below it were used */
  uint64_t written;   /* bytes this handle wrote (all segments) */
  uint64_t synced;    /* of which known durable */
  int syncing;
  int failed;
  char fail_msg[MSG_BYTES + 64];
  pthread_t thread;
  int thread_running;
  int stop;
  atomic_uint_fast64_t last_seq_a, size_a, sync_count_a, sync_ns_a;
  atomic_int failed_a;
};

static atomic_int fail_io_errno, fail_sync_errno;

void wal_test_fail_next_io(int errnum) { atomic_store(&fail_io_errno, errnum); }

void wal_test_fail_next_sync(int errnum) { atomic_store(&fail_sync_errno, errnum); }

/* ------------------------------------------------------------ encoding -- */

static inline void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t get64(const uint8_t *p) {
  return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static inline uint64_t padded(uint64_t len) { return (len + 7) & ~(uint64_t)7; }

static const uint8_t zero_pad[8];

/* snprintf for messages that may be cut to fit their buffer. */
__attribute__((format(printf, 3, 4))) static void fmt(char *out, size_t n, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  vsnprintf(out, n, f, ap);
  va_end(ap);
}

static int all_zero(const uint8_t *p, uint64_t n) {
  for (uint64_t i = 0; i < n; i++)
    if (p[i]) return 0;
  return 1;
}

static void seg_path(const wal_t *w, uint64_t first_seq, char *out, size_t n) {
  snprintf(out, n, "%s/%0*" PRIu64 ".wal", w->dir, NAME_DIGITS, first_seq);
}

/* ------------------------------------------------------------ file I/O -- */

/* Writes `total` bytes gathered from iov at byte `off` through the VFS
 * (short writes and EINTR retried). Returns 0 or an errno value. An
 * injected failure writes half of the bytes first, as a disk that fills up
 * mid-write would. */
static int write_fully(const wal_t *w, akidb_vfs_file_t *f, const struct iovec *iov,
                       size_t iovcnt, uint64_t off, uint64_t total) {
  int injected = atomic_exchange(&fail_io_errno, 0);
  uint64_t stop_at = injected ? total / 2 : total;
  int e = akidb_vfs_write_all(w->vfs, f, iov, iovcnt, off, stop_at, NULL);
  return e ? e : injected;
}

/* fdatasync, timed for wal_sync_stats. Returns 0 or an errno value. */
static int datasync(wal_t *w, akidb_vfs_file_t *f) {
  int e = atomic_exchange(&fail_sync_errno, 0);
  if (!e) e = atomic_exchange(&fail_io_errno, 0);
  void *span = util_span_begin("wal.fsync");
  uint64_t t0 = clock_now_ns();
  if (!e) e = w->vfs->sync(w->vfs->ctx, f, 1);
  uint64_t took = clock_now_ns() - t0;
  util_span_end(span);
  atomic_fetch_add(&w->sync_ns_a, took);
  store_timing_observe(AKIDB_STORE_TIMING_WAL_FSYNC, took);
  atomic_fetch_add(&w->sync_count_a, 1);
  return e;
}

/* fsyncs the log directory, so creates and removes in it are durable. */
static int sync_wal_dir(wal_t *w, char *err, size_t errlen) {
  if (w->opt.sync == WAL_SYNC_NONE) return AKIDB_OK;
  int e = w->vfs->sync_dir(w->vfs->ctx, w->dir);
  if (!e) return AKIDB_OK;
  SAY("cannot fsync the WAL directory %s: %s", w->dir, strerror(e));
  return AKIDB_EIO;
}

/* A read-only view (the VFS's map, or a copy) of a segment's first `size`
 * bytes. */
typedef struct {
  const uint8_t *base;
  uint64_t size;
  const akidb_vfs_t *vfs;
} view_t;

/* Maps `size` bytes of the open file (nothing for an empty one). */
static int map_view(const akidb_vfs_t *vfs, akidb_vfs_file_t *f, uint64_t size, view_t *v) {
  const void *p = NULL;
  v->base = NULL;
  v->size = size;
  v->vfs = vfs;
  int e = akidb_vfs_map(vfs, f, size, &p);
  v->base = p;
  return e;
}

static void unmap_view(view_t *v) {
  if (v->base) akidb_vfs_unmap(v->vfs, v->base, v->size);
  v->base = NULL;
}

/* ------------------------------------------------------------- headers -- */

#define HEADER_TORN 1 /* check_header: the newest segment's header is torn */

static void build_header(uint8_t *h, uint64_t first_seq, uint64_t prev_seq) {
  memset(h, 0, SEG_HEADER);
  memcpy(h, SEG_MAGIC, 8);
  put32(h + 8, SEG_VERSION);
  put32(h + 12, SEG_HEADER);
  put64(h + 16, first_seq);
  put64(h + 24, prev_seq);
  put32(h + 36, crc32c(0, h, 36));
}

/* Checks a segment's header against its name and fills *prev_seq. In the
 * newest segment an incomplete or all-zero file is HEADER_TORN (a crash
 * while it was being created). */
static int check_header(const char *path, const view_t *v, uint64_t name_seq, int newest,
                        uint64_t *prev_seq, char *err, size_t errlen) {
  const uint8_t *b = v->base;
  uint64_t magic_len = v->size < 8 ? v->size : 8;
  if (magic_len && memcmp(b, SEG_MAGIC, (size_t)magic_len) != 0) {
    if (newest && all_zero(b, v->size)) return HEADER_TORN;
    SAY("%s is not an AkiDB WAL segment (bad magic at byte 0)", path);
    return AKIDB_EFORMAT;
  }
  if (v->size < SEG_HEADER) {
    if (newest) return HEADER_TORN;
    SAY("WAL segment %s is cut short inside its header (%llu of %u bytes)", path, (ull)v->size,
        SEG_HEADER);
    return AKIDB_ECORRUPT;
  }
  if (get32(b + 8) != SEG_VERSION) {
    SAY("WAL segment %s has format version %u; this build reads version %u", path, get32(b + 8),
        SEG_VERSION);
    return AKIDB_EVERSION;
  }
  if (get32(b + 12) != SEG_HEADER || get32(b + 36) != crc32c(0, b, 36) || get32(b + 32)) {
    SAY("WAL segment %s has a corrupt header (checksum mismatch in bytes 0-39)", path);
    return AKIDB_ECORRUPT;
  }
  *prev_seq = get64(b + 24);
  if (get64(b + 16) != name_seq || *prev_seq >= name_seq) {
    SAY("WAL segment %s: header at byte 16 says first seq %llu after seq %llu, which does "
        "not fit its name",
        path, (ull)get64(b + 16), (ull)*prev_seq);
    return AKIDB_ECORRUPT;
  }
  return AKIDB_OK;
}

/* -------------------------------------------------------------- frames -- */

typedef struct {
  uint64_t seq, end; /* end: offset just past the padded payload */
  uint32_t len;
  uint8_t type, flags;
  const uint8_t *data;
} frame_t;

enum { FRAME_OK, FRAME_SHORT, FRAME_BAD };

/* The header's fields are in range (checked before the CRC). */
static int frame_header_ok(const uint8_t *h) {
  return h[16] != 0 && (h[17] & ~(FLAG_FIRST | FLAG_LAST)) == 0 && h[18] == 0 && h[19] == 0 &&
         get32(h + 20) == 0 && get32(h + 4) <= MAX_RECORD;
}

/* Parses the frame at `pos`: FRAME_OK, FRAME_SHORT (runs past the end of
 * the data) or FRAME_BAD (a field out of range or a CRC mismatch). */
static int parse_frame(const view_t *v, uint64_t pos, frame_t *f) {
  if (v->size - pos < FRAME_HEADER) return FRAME_SHORT;
  const uint8_t *h = v->base + pos;
  uint64_t body = padded(get32(h + 4));
  if (!frame_header_ok(h)) return FRAME_BAD;
  if (v->size - pos - FRAME_HEADER < body) return FRAME_SHORT;
  if (crc32c(crc32c(0, h + FRAME_HEADER, (size_t)body), h + 4, 20) != get32(h)) return FRAME_BAD;
  f->len = get32(h + 4);
  f->seq = get64(h + 8);
  f->type = h[16];
  f->flags = h[17];
  f->data = h + FRAME_HEADER;
  f->end = pos + FRAME_HEADER + body;
  return FRAME_OK;
}

/* Whether a CRC-valid record with a plausible seq (from `expected` up to
 * what the remaining bytes could hold) starts anywhere after `pos`: this
 * tells a torn tail (nothing valid follows) from damage inside the log. It
 * includes the position the damaged record's length field implies. */
static int valid_frame_follows(const view_t *v, uint64_t pos, uint64_t expected) {
  uint64_t max_seq = expected + (v->size - pos) / FRAME_HEADER;
  for (uint64_t q = pos + 8; q + FRAME_HEADER <= v->size; q += 8) {
    const uint8_t *h = v->base + q;
    uint64_t seq = get64(h + 8);
    frame_t f;
    if (seq < expected || seq > max_seq || !frame_header_ok(h)) continue;
    if (parse_frame(v, q, &f) == FRAME_OK) return 1;
  }
  return 0;
}

/* ------------------------------------------------------- segment scan -- */

/* What scanning one segment found. */
typedef struct {
  uint64_t good_end; /* end of its last complete group */
  uint64_t last_seq; /* seq of the record there (prev_seq if none) */
  uint64_t records;  /* records in complete groups */
} scan_t;

static const char *frame_problem(int r) {
  return r == FRAME_SHORT ? "it runs past the end of the file" : "its checksum does not match";
}

/* A record at `pos` failed to parse: in the newest segment with nothing
 * valid after it that is a torn tail (returns 0); otherwise corruption. */
static int damaged_record(const char *path, const view_t *v, uint64_t pos, uint64_t expected, int r,
                          int newest, char *err, size_t errlen) {
  if (!newest) {
    SAY("WAL segment %s: record at byte %llu (seq %llu) is damaged (%s) in a segment that is "
        "not the newest",
        path, (ull)pos, (ull)expected, frame_problem(r));
    return AKIDB_ECORRUPT;
  }
  if (valid_frame_follows(v, pos, expected)) {
    SAY("WAL segment %s: record at byte %llu (seq %llu) is damaged (%s) and valid records "
        "follow it",
        path, (ull)pos, (ull)expected, frame_problem(r));
    return AKIDB_ECORRUPT;
  }
  return AKIDB_OK;
}

/* Checks one valid frame's seq and group position against the walk so far. */
static int check_frame_order(const char *path, const frame_t *f, uint64_t pos, uint64_t expected,
                             int in_group, uint64_t group_start, char *err, size_t errlen) {
  if (f->seq != expected) {
    SAY("WAL segment %s: record at byte %llu has seq %llu where %llu was expected (seq gap or "
        "reordering)",
        path, (ull)pos, (ull)f->seq, (ull)expected);
    return AKIDB_ECORRUPT;
  }
  if (in_group && (f->flags & FLAG_FIRST)) {
    SAY("WAL segment %s: record at byte %llu starts a group while the group at byte %llu is "
        "incomplete",
        path, (ull)pos, (ull)group_start);
    return AKIDB_ECORRUPT;
  }
  if (!in_group && !(f->flags & FLAG_FIRST)) {
    SAY("WAL segment %s: record at byte %llu continues a group that never started", path, (ull)pos);
    return AKIDB_ECORRUPT;
  }
  return AKIDB_OK;
}

/* Walks a segment's records, stopping at a torn tail in the newest one. */
static int scan_records(const char *path, const view_t *v, const segment_t *s, int newest,
                        scan_t *out, char *err, size_t errlen) {
  uint64_t pos = SEG_HEADER, expected = s->first_seq, group_start = pos, group_records = 0;
  int in_group = 0, rc;
  *out = (scan_t){.good_end = pos, .last_seq = s->prev_seq};
  while (pos < v->size) {
    frame_t f;
    int r = parse_frame(v, pos, &f);
    if (r != FRAME_OK) return damaged_record(path, v, pos, expected, r, newest, err, errlen);
    rc = check_frame_order(path, &f, pos, expected, in_group, group_start, err, errlen);
    if (rc) return rc;
    if (f.flags & FLAG_FIRST) {
      in_group = 1;
      group_start = pos;
      group_records = 0;
    }
    group_records++;
    expected++;
    pos = f.end;
    if (f.flags & FLAG_LAST) {
      in_group = 0;
      *out = (scan_t){.good_end = pos, .last_seq = f.seq, .records = out->records + group_records};
    }
  }
  if (in_group && !newest) {
    SAY("WAL segment %s ends inside the group that starts at byte %llu, and it is not the "
        "newest segment",
        path, (ull)group_start);
    return AKIDB_ECORRUPT;
  }
  return AKIDB_OK;
}

/* -------------------------------------------------------------- opening -- */

/* Parses "<20 digits>.wal"; 0 if the name is not a segment's. */
static uint64_t segment_name_seq(const char *name) {
  uint64_t seq = 0;
  for (int i = 0; i < NAME_DIGITS; i++) {
    if (name[i] < '0' || name[i] > '9') return 0;
    uint64_t d = (uint64_t)(name[i] - '0');
    if (seq > (UINT64_MAX - d) / 10) return 0;
    seq = seq * 10 + d;
  }
  return strcmp(name + NAME_DIGITS, ".wal") == 0 ? seq : 0;
}

static int grow_segments(wal_t *w) {
  if (w->n_segs < w->cap_segs) return 0;
  size_t cap = w->cap_segs ? 2 * w->cap_segs : 4;
  segment_t *s = mem_realloc(w->opt.mem, w->segs, cap * sizeof *s);
  if (!s) return -1;
  w->segs = s;
  w->cap_segs = cap;
  return 0;
}

static int cmp_segments(const void *a, const void *b) {
  uint64_t x = ((const segment_t *)a)->first_seq, y = ((const segment_t *)b)->first_seq;
  return x < y ? -1 : x > y;
}

/* akidb_vfs_entry_fn: adds a segment file's name to w->segs. */
static int add_segment_entry(void *ctx, const char *name) {
  wal_t *w = ctx;
  uint64_t seq = segment_name_seq(name);
  if (seq == 0) return 0;
  if (grow_segments(w)) return ENOMEM;
  w->segs[w->n_segs++] = (segment_t){.first_seq = seq};
  return 0;
}

/* Fills w->segs with the segment files of the directory, oldest first,
 * after removing what an interrupted gentle removal left. */
static int list_segments(wal_t *w, char *err, size_t errlen) {
  akidb_vfs_remove_leftovers(w->vfs, w->dir); /* of an interrupted wal_remove_upto */
  int e = w->vfs->list(w->vfs->ctx, w->dir, add_segment_entry, w);
  int rc = AKIDB_OK;
  if (e == ENOMEM) {
    SAY("out of memory listing the WAL directory %s", w->dir);
    rc = AKIDB_ENOMEM;
  } else if (e) {
    SAY("cannot list the WAL directory %s: %s", w->dir, strerror(e));
    return AKIDB_EIO;
  }
  if (w->n_segs) qsort(w->segs, w->n_segs, sizeof *w->segs, cmp_segments);
  return rc;
}

/* Cuts the newest segment back to `keep` bytes and reports it. */
static int cut_tail(const wal_t *w, const char *path, uint64_t keep, uint64_t size,
                    wal_open_stats_t *st, char *err, size_t errlen) {
  akidb_vfs_file_t *f = NULL;
  int e = w->vfs->open(w->vfs->ctx, path, AKIDB_VFS_WRITE, &f);
  if (!e) e = w->vfs->truncate(w->vfs->ctx, f, keep);
  if (f) w->vfs->close(w->vfs->ctx, f);
  if (e) {
    SAY("cannot cut the torn tail of WAL segment %s back to byte %llu: %s", path, (ull)keep,
        strerror(e));
    return AKIDB_EIO;
  }
  st->truncated_bytes += size - keep;
  fmt(st->truncated_file, sizeof st->truncated_file, "%s", path);
  return AKIDB_OK;
}

/* Removes a newest segment whose header is torn (a crash while creating it). */
static int drop_torn_segment(wal_t *w, const char *path, uint64_t size, wal_open_stats_t *st,
                             char *err, size_t errlen) {
  int e = w->vfs->remove(w->vfs->ctx, path);
  if (e) {
    SAY("cannot remove the torn WAL segment %s: %s", path, strerror(e));
    return AKIDB_EIO;
  }
  st->truncated_bytes += size;
  fmt(st->truncated_file, sizeof st->truncated_file, "%s", path);
  w->floor_seq = w->segs[w->n_segs - 1].first_seq;
  w->n_segs--;
  return sync_wal_dir(w, err, errlen);
}

/* Scans segment i (mapped through f): header, records, torn tail. */
static int recover_mapped(wal_t *w, size_t i, const char *path, akidb_vfs_file_t *f,
                          const view_t *v,
                          wal_open_stats_t *st, char *err, size_t errlen) {
  segment_t *s = &w->segs[i];
  int newest = i + 1 == w->n_segs;
  int rc = check_header(path, v, s->first_seq, newest, &s->prev_seq, err, errlen);
  if (rc == HEADER_TORN) return drop_torn_segment(w, path, v->size, st, err, errlen);
  if (rc) return rc;
  scan_t sc;
  if ((rc = scan_records(path, v, s, newest, &sc, err, errlen))) return rc;
  if (sc.good_end < v->size && (rc = cut_tail(w, path, sc.good_end, v->size, st, err, errlen)))
    return rc;
  if (w->opt.sync != WAL_SYNC_NONE && (rc = datasync(w, f))) {
    SAY("fdatasync of WAL segment %s failed: %s", path, strerror(rc));
    return AKIDB_EIO;
  }
  s->last_seq = sc.last_seq;
  s->bytes = sc.good_end;
  st->records += sc.records;
  if (sc.records && !st->first_seq) st->first_seq = s->first_seq;
  if (sc.records) st->last_seq = sc.last_seq;
  return AKIDB_OK;
}

static int recover_segment(wal_t *w, size_t i, wal_open_stats_t *st, char *err, size_t errlen) {
  char path[PATH_BYTES];
  seg_path(w, w->segs[i].first_seq, path, sizeof path);
  akidb_vfs_file_t *f = NULL;
  uint64_t size = 0;
  view_t v = {0};
  int e = w->vfs->open(w->vfs->ctx, path, AKIDB_VFS_READ, &f);
  if (!e) e = w->vfs->size(w->vfs->ctx, f, &size);
  if (!e) e = map_view(w->vfs, f, size, &v);
  if (e) {
    SAY("cannot read WAL segment %s: %s", path, strerror(e));
    if (f) w->vfs->close(w->vfs->ctx, f);
    return AKIDB_EIO;
  }
  int rc = recover_mapped(w, i, path, f, &v, st, err, errlen);
  unmap_view(&v);
  w->vfs->close(w->vfs->ctx, f);
  return rc;
}

/* Each segment must start right after the previous one's last record. */
static int check_continuity(wal_t *w, size_t i, char *err, size_t errlen) {
  const segment_t *a = &w->segs[i - 1], *b = &w->segs[i];
  if (b->prev_seq == a->last_seq) return AKIDB_OK;
  char pa[PATH_BYTES], pb[PATH_BYTES];
  seg_path(w, a->first_seq, pa, sizeof pa);
  seg_path(w, b->first_seq, pb, sizeof pb);
  SAY("WAL segment %s: header at byte 24 says the record before it is seq %llu, but %s ends "
      "at seq %llu (a segment is missing or damaged)",
      pb, (ull)b->prev_seq, pa, (ull)a->last_seq);
  return AKIDB_ECORRUPT;
}

/* Scans every segment, oldest first. */
static int recover(wal_t *w, wal_open_stats_t *st, char *err, size_t errlen) {
  for (size_t i = 0; i < w->n_segs; i++) {
    size_t before = w->n_segs;
    int rc = recover_segment(w, i, st, err, errlen);
    if (rc) return rc;
    if (w->n_segs < before) break; /* the torn newest segment was removed */
    if (i > 0 && (rc = check_continuity(w, i, err, errlen))) return rc;
  }
  return AKIDB_OK;
}

/* Creates segment `first_seq` (header synced, then the directory), makes it
 * current and returns its handle in *out. */
static int create_segment(wal_t *w, uint64_t first_seq, uint64_t prev_seq, akidb_vfs_file_t **out,
                          char *err, size_t errlen) {
  char path[PATH_BYTES];
  uint8_t h[SEG_HEADER];
  seg_path(w, first_seq, path, sizeof path);
  if (grow_segments(w)) {
    SAY("out of memory creating WAL segment %s", path);
    return AKIDB_ENOMEM;
  }
  akidb_vfs_file_t *f = NULL;
  int e = w->vfs->open(w->vfs->ctx, path, AKIDB_VFS_WRITE | AKIDB_VFS_CREATE | AKIDB_VFS_EXCL, &f);
  if (e) {
    SAY("cannot create WAL segment %s: %s", path, strerror(e));
    return AKIDB_EIO;
  }
  build_header(h, first_seq, prev_seq);
  struct iovec iov = {h, SEG_HEADER};
  e = write_fully(w, f, &iov, 1, 0, SEG_HEADER);
  if (!e && w->opt.sync != WAL_SYNC_NONE) e = datasync(w, f);
  if (e || sync_wal_dir(w, err, errlen)) {
    if (e) SAY("cannot write the header of WAL segment %s: %s", path, strerror(e));
    w->vfs->close(w->vfs->ctx, f);
    w->vfs->remove(w->vfs->ctx, path);
    return AKIDB_EIO;
  }
  w->segs[w->n_segs++] = (segment_t){first_seq, prev_seq, prev_seq, SEG_HEADER};
  atomic_fetch_add(&w->size_a, SEG_HEADER);
  *out = f;
  return AKIDB_OK;
}

/* Picks the next seq and the segment appends go to (creating one if the
 * log is empty or the next seq does not follow the newest segment). */
static int prepare_current(wal_t *w, char *err, size_t errlen) {
  segment_t *cur = w->n_segs ? &w->segs[w->n_segs - 1] : NULL;
  uint64_t cur_next =
      cur ? (cur->last_seq > cur->prev_seq ? cur->last_seq + 1 : cur->first_seq) : 1;
  uint64_t next = cur_next;
  if (w->floor_seq > next) next = w->floor_seq;
  if (w->opt.min_next_seq > next) next = w->opt.min_next_seq;
  w->next_seq = next;
  atomic_store(&w->last_seq_a, next - 1);
  if (cur && cur_next == next) {
    char path[PATH_BYTES];
    seg_path(w, cur->first_seq, path, sizeof path);
    int e = w->vfs->open(w->vfs->ctx, path, AKIDB_VFS_WRITE, &w->file);
    if (!e) return AKIDB_OK;
    SAY("cannot open WAL segment %s for writing: %s", path, strerror(e));
    return AKIDB_EIO;
  }
  return create_segment(w, next, cur ? cur->last_seq : next - 1, &w->file, err, errlen);
}

/* Creates `dir` if absent (then syncs its parent), opens and locks it. */
static int open_dir(wal_t *w, char *err, size_t errlen) {
  int e = w->vfs->mkdir(w->vfs->ctx, w->dir);
  if (e == 0) {
    if (w->opt.sync != WAL_SYNC_NONE) akidb_vfs_sync_parent(w->vfs, w->dir);
  } else if (e != EEXIST) {
    SAY("cannot create the WAL directory %s: %s", w->dir, strerror(e));
    return AKIDB_EIO;
  }
  if (w->opt.caller_locks) return AKIDB_OK;
  e = w->vfs->lock_dir(w->vfs->ctx, w->dir, &w->dir_lock);
  if (e == EWOULDBLOCK) {
    SAY("the WAL in %s is already open (its directory lock is held): %s", w->dir, strerror(e));
    return AKIDB_EIO;
  }
  if (e) {
    SAY("cannot open the WAL directory %s: %s", w->dir, strerror(e));
    return AKIDB_EIO;
  }
  return AKIDB_OK;
}

static int check_options(const char *dir, const wal_options_t *opt, wal_options_t *out, char *err,
                         size_t errlen) {
  if (!dir || !*dir || strlen(dir) + NAME_DIGITS + 8 > PATH_BYTES) {
    SAY("the WAL directory path is empty or longer than %d bytes", PATH_BYTES - NAME_DIGITS - 8);
    return AKIDB_EINVAL;
  }
  *out = opt ? *opt : (wal_options_t){.sync = WAL_SYNC_FSYNC};
  if (out->sync != WAL_SYNC_FSYNC && out->sync != WAL_SYNC_INTERVAL && out->sync != WAL_SYNC_NONE) {
    SAY("unknown WAL sync policy %d for %s", (int)out->sync, dir);
    return AKIDB_EINVAL;
  }
  if (out->interval_ms == 0) out->interval_ms = DEFAULT_INTERVAL_MS;
  if (out->segment_bytes == 0) out->segment_bytes = DEFAULT_SEGMENT_BYTES;
  return AKIDB_OK;
}

/* Allocates a log with its mutex and conditions (nothing opened yet). */
static int wal_alloc(const char *dir, const wal_options_t *opt, wal_t **out) {
  wal_t *w = mem_calloc(opt->mem, 1, sizeof *w);
  if (!w) return AKIDB_ENOMEM;
  w->opt = *opt;
  w->vfs = akidb_vfs_or_local(opt->vfs);
  *out = w;
  if (!(w->dir = mem_strdup(opt->mem, dir))) return AKIDB_ENOMEM;
  for (size_t len = strlen(w->dir); len > 1 && w->dir[len - 1] == '/';) w->dir[--len] = '\0';
  pthread_condattr_t ca;
  if (pthread_condattr_init(&ca)) return AKIDB_ENOMEM;
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  int bad = pthread_mutex_init(&w->lock, NULL);
  bad |= pthread_cond_init(&w->synced_cv, NULL);
  bad |= pthread_cond_init(&w->stop_cv, &ca);
  pthread_condattr_destroy(&ca);
  if (bad) return AKIDB_ENOMEM;
  w->sync_objects = 1;
  return AKIDB_OK;
}

/* Frees a log whose interval thread is not running. */
static void wal_free(wal_t *w) {
  if (!w) return;
  if (w->file) w->vfs->close(w->vfs->ctx, w->file);
  if (w->dir_lock) w->vfs->close(w->vfs->ctx, w->dir_lock);
  if (w->sync_objects) {
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->synced_cv);
    pthread_cond_destroy(&w->stop_cv);
  }
  mem_free(w->opt.mem, w->segs);
  mem_free(w->opt.mem, w->dir);
  mem_free(w->opt.mem, w);
}

static void *interval_main(void *arg);

int wal_open(const char *dir, const wal_options_t *opt, wal_t **out, wal_open_stats_t *stats,
             char *err, size_t errlen) {
  wal_open_stats_t local;
  wal_open_stats_t *st = stats ? stats : &local;
  memset(st, 0, sizeof *st);
  wal_options_t o;
  wal_t *w = NULL;
  if (!out) return AKIDB_EINVAL;
  *out = NULL;
  int rc = check_options(dir, opt, &o, err, errlen);
  if (rc) return rc;
  if ((rc = wal_alloc(dir, &o, &w))) {
    SAY("out of memory opening the WAL in %s", dir);
    goto fail;
  }
  if ((rc = open_dir(w, err, errlen)) || (rc = list_segments(w, err, errlen))) goto fail;
  st->segments = w->n_segs;
  if ((rc = recover(w, st, err, errlen)) || (rc = prepare_current(w, err, errlen)) ||
      (rc = sync_wal_dir(w, err, errlen)))
    goto fail;
  uint64_t size = 0;
  for (size_t i = 0; i < w->n_segs; i++) size += w->segs[i].bytes;
  atomic_store(&w->size_a, size);
  if (o.sync == WAL_SYNC_INTERVAL && !o.external_timer) {
    if (pthread_create(&w->thread, NULL, interval_main, w) != 0) {
      SAY("cannot start the WAL sync thread for %s", dir);
      rc = AKIDB_ENOMEM;
      goto fail;
    }
    w->thread_running = 1;
  }
  *out = w;
  return AKIDB_OK;
fail:
  wal_free(w);
  return rc;
}

/* ------------------------------------------------------------ syncing -- */

/* Records the first failure; every later append reports it. Lock held. */
static void mark_failed(wal_t *w, const char *msg) {
  if (!w->failed)
    fmt(w->fail_msg, sizeof w->fail_msg, "%s; the log refuses writes until it is reopened", msg);
  w->failed = 1;
  atomic_store(&w->failed_a, 1);
  pthread_cond_broadcast(&w->synced_cv);
}

static void current_path(const wal_t *w, char *out, size_t n) {
  seg_path(w, w->segs[w->n_segs - 1].first_seq, out, n);
}

/* Waits until no sync runs, so the current file may change. Lock held. */
static void wait_idle(wal_t *w) {
  while (w->syncing) pthread_cond_wait(&w->synced_cv, &w->lock);
}

/* Makes the first `target` bytes this handle wrote durable, sharing syncs
 * with other threads (group commit). Lock held; dropped while syncing. */
static int sync_upto(wal_t *w, uint64_t target) {
  while (w->synced < target) {
    if (w->failed) return AKIDB_EIO;
    if (w->syncing) {
      pthread_cond_wait(&w->synced_cv, &w->lock);
      continue;
    }
    w->syncing = 1;
    uint64_t upto = w->written;
    akidb_vfs_file_t *f = w->file;
    pthread_mutex_unlock(&w->lock);
    int e = datasync(w, f);
    pthread_mutex_lock(&w->lock);
    w->syncing = 0;
    if (e) {
      char path[PATH_BYTES], msg[MSG_BYTES];
      current_path(w, path, sizeof path);
      fmt(msg, sizeof msg, "fdatasync of WAL segment %s failed: %s", path, strerror(e));
      mark_failed(w, msg);
    } else if (upto > w->synced) {
      w->synced = upto;
    }
    pthread_cond_broadcast(&w->synced_cv);
  }
  return AKIDB_OK;
}

/* Syncs every segment file (WAL_SYNC_NONE's wal_sync: no earlier sync
 * covered anything). Lock held, no sync running. */
static int sync_all_segments(wal_t *w) {
  for (size_t i = 0; i < w->n_segs; i++) {
    char path[PATH_BYTES], msg[MSG_BYTES];
    seg_path(w, w->segs[i].first_seq, path, sizeof path);
    akidb_vfs_file_t *f = NULL;
    int e = w->vfs->open(w->vfs->ctx, path, AKIDB_VFS_READ, &f);
    if (!e) e = datasync(w, f);
    if (f) w->vfs->close(w->vfs->ctx, f);
    if (e == 0) continue;
    fmt(msg, sizeof msg, "fdatasync of WAL segment %s failed: %s", path, strerror(e));
    mark_failed(w, msg);
    return AKIDB_EIO;
  }
  int e = w->vfs->sync_dir(w->vfs->ctx, w->dir);
  if (e == 0) return AKIDB_OK;
  char msg[MSG_BYTES];
  fmt(msg, sizeof msg, "fsync of the WAL directory %s failed: %s", w->dir, strerror(e));
  mark_failed(w, msg);
  return AKIDB_EIO;
}

int wal_sync(wal_t *w, char *err, size_t errlen) {
  if (!w) return AKIDB_EINVAL;
  pthread_mutex_lock(&w->lock);
  int rc = w->failed ? AKIDB_EIO : AKIDB_OK;
  if (!rc && w->opt.sync == WAL_SYNC_NONE) {
    wait_idle(w);
    rc = sync_all_segments(w);
    w->synced = w->written;
  } else if (!rc) {
    rc = sync_upto(w, w->written);
  }
  if (rc) SAY("%s", w->fail_msg);
  pthread_mutex_unlock(&w->lock);
  return rc;
}

int wal_sync_unsynced(wal_t *w) {
  pthread_mutex_lock(&w->lock);
  int rc = w->failed ? AKIDB_EIO : AKIDB_OK;
  if (!rc && !w->syncing && w->synced < w->written) rc = sync_upto(w, w->written);
  pthread_mutex_unlock(&w->lock);
  return rc;
}

/* The WAL_SYNC_INTERVAL thread: syncs whatever is unsynced every period. */
static void *interval_main(void *arg) {
  wal_t *w = arg;
  util_thread_name("wal-interval");
  pthread_mutex_lock(&w->lock);
  while (!w->stop) {
    uint64_t at = clock_now_ns() + (uint64_t)w->opt.interval_ms * 1000000ull;
    struct timespec deadline = {(time_t)(at / 1000000000ull), (long)(at % 1000000000ull)};
    while (!w->stop && pthread_cond_timedwait(&w->stop_cv, &w->lock, &deadline) != ETIMEDOUT) {
    }
    if (!w->stop && !w->failed && !w->syncing && w->synced < w->written) sync_upto(w, w->written);
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

/* ------------------------------------------------------------ appending -- */

/* Frames of one group, built before the lock is taken. */
typedef struct {
  uint8_t *hdrs;  /* n headers of FRAME_HEADER bytes */
  uint32_t *pcrc; /* CRC of each padded payload */
  struct iovec *iov;
  size_t n, iovcnt;
  uint64_t bytes;
} batch_t;

/* The byte count of a record's pieces, or SIZE_MAX when a piece has no
 * memory or they do not add up to `len`. */
static size_t pieces_bytes(const wal_record_t *r) {
  size_t sum = 0;
  for (size_t j = 0; j < r->iovcnt; j++) {
    if (r->iov[j].iov_len && !r->iov[j].iov_base) return SIZE_MAX;
    sum += r->iov[j].iov_len;
  }
  return sum;
}

static int check_records(const wal_record_t *recs, size_t n, char *err, size_t errlen) {
  if (!recs || n == 0 || n > SIZE_MAX / (3 * sizeof(struct iovec) + FRAME_HEADER + 4)) {
    SAY("a WAL group needs at least one record (got %zu)", recs ? n : 0);
    return AKIDB_EINVAL;
  }
  for (size_t i = 0; i < n; i++) {
    bool bad_data = recs[i].iov ? pieces_bytes(&recs[i]) != recs[i].len
                                : recs[i].len && !recs[i].data;
    if (recs[i].type == 0 || recs[i].len > MAX_RECORD || bad_data) {
      SAY("WAL record %zu of the group is invalid: %s", i,
          recs[i].type == 0          ? "type 0 is reserved"
          : recs[i].len > MAX_RECORD ? "payload is larger than the 1 GiB limit"
          : recs[i].iov              ? "its pieces do not hold its length"
                                     : "payload pointer is NULL");
      return AKIDB_EINVAL;
    }
  }
  return AKIDB_OK;
}

static void batch_free(batch_t *b) {
  free(b->hdrs);
  free(b->pcrc);
  free(b->iov);
}

/* CRC32C of a record's payload, whichever form it has. */
static uint32_t payload_crc(const wal_record_t *r) {
  if (!r->iov) return crc32c(0, r->data, r->len);
  uint32_t crc = 0;
  for (size_t j = 0; j < r->iovcnt; j++) crc = crc32c(crc, r->iov[j].iov_base, r->iov[j].iov_len);
  return crc;
}

/* Builds every frame but its seq and final CRC. */
static int batch_build(batch_t *b, const wal_record_t *recs, size_t n) {
  *b = (batch_t){.n = n};
  size_t slots = 0;
  for (size_t i = 0; i < n; i++) slots += 2 + (recs[i].iov ? recs[i].iovcnt : 1);
  b->hdrs = calloc(n, FRAME_HEADER);
  b->pcrc = malloc(n * sizeof *b->pcrc);
  b->iov = malloc(slots * sizeof *b->iov);
  if (!b->hdrs || !b->pcrc || !b->iov) return AKIDB_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    uint8_t *h = b->hdrs + i * FRAME_HEADER;
    size_t len = recs[i].len, pad = (size_t)(padded(len) - len);
    put32(h + 4, (uint32_t)len);
    h[16] = recs[i].type;
    h[17] = (uint8_t)((i == 0 ? FLAG_FIRST : 0) | (i + 1 == n ? FLAG_LAST : 0));
    b->pcrc[i] = crc32c(payload_crc(&recs[i]), zero_pad, pad);
    b->iov[b->iovcnt++] = (struct iovec){h, FRAME_HEADER};
    if (recs[i].iov) {
      for (size_t j = 0; j < recs[i].iovcnt; j++)
        if (recs[i].iov[j].iov_len) b->iov[b->iovcnt++] = recs[i].iov[j];
    } else if (len) {
      b->iov[b->iovcnt++] = (struct iovec){(void *)recs[i].data, len};
    }
    if (pad) b->iov[b->iovcnt++] = (struct iovec){(void *)zero_pad, pad};
    b->bytes += FRAME_HEADER + len + pad;
  }
  return AKIDB_OK;
}

/* Gives the records seqs first_seq.. and finishes their CRCs. Lock held. */
static void batch_seal(batch_t *b, uint64_t first_seq) {
  for (size_t i = 0; i < b->n; i++) {
    uint8_t *h = b->hdrs + i * FRAME_HEADER;
    put64(h + 8, first_seq + i);
    put32(h, crc32c(b->pcrc[i], h + 4, 20));
  }
}

/* Closes the current segment (synced) and starts segment next_seq. Lock
 * held, no sync running, the log not failed. */
static int roll_locked(wal_t *w) {
  segment_t *cur = &w->segs[w->n_segs - 1];
  char path[PATH_BYTES], msg[MSG_BYTES];
  if (cur->last_seq == cur->prev_seq) return AKIDB_OK;
  current_path(w, path, sizeof path);
  int e = w->opt.sync != WAL_SYNC_NONE ? datasync(w, w->file) : 0;
  if (e) {
    fmt(msg, sizeof msg, "fdatasync of WAL segment %s before rollover failed: %s", path,
        strerror(e));
    mark_failed(w, msg);
    return AKIDB_EIO;
  }
  w->synced = w->written;
  akidb_vfs_file_t *f;
  if (create_segment(w, w->next_seq, w->next_seq - 1, &f, msg, sizeof msg)) {
    mark_failed(w, msg);
    return AKIDB_EIO;
  }
  w->vfs->close(w->vfs->ctx, w->file);
  w->file = f;
  return AKIDB_OK;
}

/* Rolls over first if the group would push a non-empty segment past
 * segment_bytes. Lock held; may wait for a running sync. */
static int make_room(wal_t *w, uint64_t bytes) {
  for (;;) {
    if (w->failed) return AKIDB_EIO;
    const segment_t *cur = &w->segs[w->n_segs - 1];
    if (cur->last_seq == cur->prev_seq || cur->bytes + bytes <= w->opt.segment_bytes)
      return AKIDB_OK;
    if (!w->syncing) return roll_locked(w);
    pthread_cond_wait(&w->synced_cv, &w->lock);
  }
}

/* Writes a sealed batch at the end of the current segment. Lock held. */
static int write_batch(wal_t *w, batch_t *b) {
  segment_t *cur = &w->segs[w->n_segs - 1];
  uint64_t start = cur->bytes;
  int e = write_fully(w, w->file, b->iov, b->iovcnt, start, b->bytes);
  if (e == 0) return AKIDB_OK;
  int cut = w->vfs->truncate(w->vfs->ctx, w->file, start) == 0;
  char path[PATH_BYTES], msg[MSG_BYTES];
  current_path(w, path, sizeof path);
  fmt(msg, sizeof msg, "write of %zu WAL records (%llu bytes) to %s at byte %llu failed: %s (%s)",
      b->n, (ull)b->bytes, path, (ull)start, strerror(e),
      cut ? "cut back" : "could not be cut back");
  mark_failed(w, msg);
  return AKIDB_EIO;
}

int wal_append(wal_t *w, const wal_record_t *recs, size_t n, uint64_t *first_seq,
               uint64_t *last_seq, char *err, size_t errlen) {
  batch_t b = {0};
  if (!w) return AKIDB_EINVAL;
  int rc = check_records(recs, n, err, errlen);
  if (rc) return rc;
  if ((rc = batch_build(&b, recs, n))) {
    SAY("out of memory framing %zu WAL records", n);
    goto done;
  }
  pthread_mutex_lock(&w->lock);
  uint64_t first = 0;
  if (!(rc = make_room(w, b.bytes))) {
    first = w->next_seq;
    batch_seal(&b, first);
    void *span = util_span_begin("wal.append");
    uint64_t t0 = clock_now_ns();
    rc = write_batch(w, &b);
    if (!rc) store_timing_observe(AKIDB_STORE_TIMING_WAL_APPEND, clock_now_ns() - t0);
    util_span_end(span);
  }
  if (!rc) {
    segment_t *cur = &w->segs[w->n_segs - 1];
    cur->bytes += b.bytes;
    cur->last_seq = first + n - 1;
    w->next_seq += n;
    w->written += b.bytes;
    atomic_fetch_add(&w->size_a, b.bytes);
    atomic_store(&w->last_seq_a, first + n - 1);
    if (w->opt.sync == WAL_SYNC_FSYNC) rc = sync_upto(w, w->written);
  }
  if (rc) SAY("%s", w->fail_msg);
  pthread_mutex_unlock(&w->lock);
  if (!rc && first_seq) *first_seq = first;
  if (!rc && last_seq) *last_seq = first + n - 1;
done:
  batch_free(&b);
  return rc;
}

int wal_roll(wal_t *w, char *err, size_t errlen) {
  if (!w) return AKIDB_EINVAL;
  pthread_mutex_lock(&w->lock);
  wait_idle(w);
  int rc = w->failed ? AKIDB_EIO : roll_locked(w);
  if (rc) SAY("%s", w->fail_msg);
  pthread_mutex_unlock(&w->lock);
  return rc;
}

/* ------------------------------------------------------------- removal -- */

/* Detaches the closed segments whose records all have seq <= upto_seq from
 * the log (lock held): their paths go to *paths (malloc'd, *n of them). */
static int detach_upto(wal_t *w, uint64_t upto_seq, char (**paths)[PATH_BYTES], size_t *n) {
  size_t k = 0;
  while (k + 1 < w->n_segs && w->segs[k].last_seq <= upto_seq) k++;
  *n = 0;
  *paths = NULL;
  if (k == 0) return AKIDB_OK;
  if (!(*paths = malloc(k * sizeof **paths))) return AKIDB_ENOMEM;
  uint64_t freed = 0;
  for (size_t i = 0; i < k; i++) {
    seg_path(w, w->segs[i].first_seq, (*paths)[i], PATH_BYTES);
    freed += w->segs[i].bytes;
  }
  memmove(w->segs, w->segs + k, (w->n_segs - k) * sizeof *w->segs);
  w->n_segs -= k;
  atomic_fetch_sub(&w->size_a, freed);
  *n = k;
  return AKIDB_OK;
}

/* Unlinking large files and syncing the directory can take long while the
 * file system is busy (a checkpoint was just written): appends must not
 * wait for it, so only the segment table changes under the lock, and each
 * segment is freed gently (akidb_vfs_remove_gently: other logs' syncs never
 * wait for a whole segment's freeing). The
 * detached segments are covered by a durable checkpoint, so a crash before
 * or after each unlink is harmless (a leftover is below the checkpoint's
 * seq and is never replayed). */
int wal_remove_upto(wal_t *w, uint64_t upto_seq, char *err, size_t errlen) {
  if (!w) return AKIDB_EINVAL;
  char(*paths)[PATH_BYTES];
  size_t n;
  pthread_mutex_lock(&w->lock);
  int rc = detach_upto(w, upto_seq, &paths, &n);
  pthread_mutex_unlock(&w->lock);
  for (size_t i = 0; i < n && rc == AKIDB_OK; i++) {
    int e = akidb_vfs_remove_gently(w->vfs, paths[i]);
    if (e) {
      SAY("cannot remove WAL segment %s: %s", paths[i], strerror(e));
      rc = AKIDB_EIO;
    }
  }
  if (n && rc == AKIDB_OK) rc = sync_wal_dir(w, err, errlen);
  free(paths);
  return rc;
}

/* -------------------------------------------------------------- replay -- */

/* Delivers the records of one segment with seq > after_seq. */
static int replay_mapped(const char *path, const view_t *v, const segment_t *s, uint64_t after_seq,
                         wal_replay_fn fn, void *ctx, char *err, size_t errlen) {
  uint64_t prev, pos = SEG_HEADER, expected = s->first_seq;
  int rc = check_header(path, v, s->first_seq, 0, &prev, err, errlen);
  while (!rc && pos < v->size) {
    frame_t f;
    int r = parse_frame(v, pos, &f);
    if (r != FRAME_OK || f.seq != expected) {
      SAY("WAL segment %s: record at byte %llu no longer reads back (%s) since the log was "
          "opened",
          path, (ull)pos, r != FRAME_OK ? frame_problem(r) : "wrong seq");
      return AKIDB_ECORRUPT;
    }
    if (f.seq > after_seq) rc = fn(ctx, f.seq, f.type, f.data, f.len);
    expected++;
    pos = f.end;
  }
  return rc;
}

static int replay_segment(const wal_t *w, const segment_t *s, uint64_t after_seq, wal_replay_fn fn,
                          void *ctx, char *err, size_t errlen) {
  char path[PATH_BYTES];
  seg_path(w, s->first_seq, path, sizeof path);
  akidb_vfs_file_t *f = NULL;
  uint64_t size = 0;
  view_t v = {0};
  int e = w->vfs->open(w->vfs->ctx, path, AKIDB_VFS_READ, &f);
  if (!e) e = w->vfs->size(w->vfs->ctx, f, &size);
  if (!e && size < s->bytes) e = ESPIPE;
  if (!e) e = map_view(w->vfs, f, s->bytes, &v);
  if (f) w->vfs->close(w->vfs->ctx, f);
  if (e) {
    SAY("cannot read WAL segment %s: %s", path,
        e == ESPIPE ? "it is shorter than when the log was opened" : strerror(e));
    return e == ESPIPE ? AKIDB_ECORRUPT : AKIDB_EIO;
  }
  int rc = replay_mapped(path, &v, s, after_seq, fn, ctx, err, errlen);
  unmap_view(&v);
  return rc;
}

int wal_replay(wal_t *w, uint64_t after_seq, wal_replay_fn fn, void *ctx, char *err,
               size_t errlen) {
  if (!w || !fn) return AKIDB_EINVAL;
  pthread_mutex_lock(&w->lock);
  size_t n = w->n_segs;
  segment_t *snap = malloc((n ? n : 1) * sizeof *snap);
  if (snap) memcpy(snap, w->segs, n * sizeof *snap);
  pthread_mutex_unlock(&w->lock);
  if (!snap) {
    SAY("out of memory replaying the WAL in %s", w->dir);
    return AKIDB_ENOMEM;
  }
  int rc = AKIDB_OK;
  for (size_t i = 0; i < n && !rc; i++)
    if (snap[i].last_seq > after_seq && snap[i].last_seq > snap[i].prev_seq)
      rc = replay_segment(w, &snap[i], after_seq, fn, ctx, err, errlen);
  free(snap);
  return rc;
}

/* ------------------------------------------------------------ accessors -- */

uint64_t wal_last_seq(const wal_t *w) { return w ? atomic_load(&w->last_seq_a) : 0; }

uint64_t wal_size_bytes(const wal_t *w) { return w ? atomic_load(&w->size_a) : 0; }

int wal_failed(const wal_t *w) { return w ? atomic_load(&w->failed_a) : 0; }

void wal_sync_stats(const wal_t *w, uint64_t *count, uint64_t *total_ns) {
  if (count) *count = w ? atomic_load(&w->sync_count_a) : 0;
  if (total_ns) *total_ns = w ? atomic_load(&w->sync_ns_a) : 0;
}

void wal_close(wal_t *w) {
  if (!w) return;
  pthread_mutex_lock(&w->lock);
  w->stop = 1;
  pthread_cond_broadcast(&w->stop_cv);
  pthread_mutex_unlock(&w->lock);
  if (w->thread_running) pthread_join(w->thread, NULL);
  pthread_mutex_lock(&w->lock);
  if (!w->failed && w->opt.sync != WAL_SYNC_NONE) sync_upto(w, w->written);
  pthread_mutex_unlock(&w->lock);
  wal_free(w);
}
