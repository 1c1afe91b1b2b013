/*
 * wal.h — the write-ahead log of one collection (internal to src/store/).
 *
 * A log is a directory of append-only segment files. Each record carries a
 * type chosen by the caller (the collection layer), a sequence number that
 * grows by one per record and never repeats (also across restarts), and a
 * CRC32C. Records are appended in groups: a group is atomic — after a crash
 * replay yields all of its records or none.
 *
 * Durability policies:
 *   WAL_SYNC_FSYNC     wal_append returns once the group is on stable storage;
 *                      concurrent appenders share one fdatasync (group commit).
 *   WAL_SYNC_INTERVAL  a background thread syncs every interval_ms; a crash
 *                      may lose groups acknowledged within that window.
 *   WAL_SYNC_NONE      never syncs on its own, only in wal_sync (tests and
 *                      benchmarks only).
 *
 * Failure is sticky: once a write or sync fails, every later append returns
 * AKIDB_EIO (with the first failure's message) until the log is reopened.
 * Nothing that was not durable under the policy is ever reported as appended.
 *
 * Thread safety: wal_append may be called from many threads at once, and
 * beside wal_sync, wal_roll, wal_remove_upto, wal_replay and the accessors
 * (wal_last_seq, wal_size_bytes, wal_failed, wal_sync_stats), which are
 * safe from any thread. wal_replay must not overlap wal_remove_upto (a
 * segment could vanish under it), and wal_close must not overlap anything
 * (the collection layer serialises open/replay/remove/close).
 */
#ifndef AKIDB_STORE_WAL_H
#define AKIDB_STORE_WAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "akidb/vfs.h"

typedef enum {
  WAL_SYNC_FSYNC = 0,
  WAL_SYNC_INTERVAL = 1,
  WAL_SYNC_NONE = 2,
} wal_sync_t;

typedef struct {
  wal_sync_t sync;
  uint32_t interval_ms;   /* WAL_SYNC_INTERVAL period; 0 → 100 */
  uint64_t segment_bytes; /* roll over to a new segment beyond this; 0 → 64 MiB */
  uint64_t min_next_seq;  /* the next record's seq is at least this (e.g. the
                             checkpoint's seq + 1 when every segment was removed) */
  const akidb_vfs_t *vfs; /* every file operation goes through it; NULL: the
                             local filesystem. Must outlive the log. */
  struct akidb_memacct *mem; /* charged for the log's long-lived memory; may be NULL */
  int caller_locks;       /* non-zero: the caller guarantees that nobody else opens this
                             log (no directory lock, one file descriptor fewer) */
  int external_timer;     /* WAL_SYNC_INTERVAL: non-zero = no thread of its own; the
                             owner calls wal_sync_unsynced every interval_ms while
                             writes come (the store does it on the worker pool) */
} wal_options_t;

/* One record to append: type 1..255 (0 is reserved), payload bytes: `data`,
 * or, when `iov` is set, its `iovcnt` pieces in order (then `data` is
 * ignored). `len` is the payload's byte count either way. The log writes
 * the pieces where they lie: nothing is copied into one block first. */
typedef struct {
  uint8_t type;
  const void *data;
  size_t len;
  const struct iovec *iov;
  size_t iovcnt;
} wal_record_t;

/* What opening found, for the caller's log line. */
typedef struct {
  uint64_t segments;        /* segment files found */
  uint64_t records;         /* valid records found */
  uint64_t first_seq;       /* seq of the oldest valid record (0 if none) */
  uint64_t last_seq;        /* seq of the newest valid record (0 if none) */
  uint64_t truncated_bytes; /* bytes of a torn tail that were cut off */
  char truncated_file[256]; /* the segment that was cut, "" if none */
} wal_open_stats_t;

typedef struct wal wal_t;

/* Called by wal_replay for each record of a complete group, in seq order.
 * `data` is valid only during the call and is 8-byte aligned. A non-zero
 * return stops the replay and is returned by wal_replay. */
typedef int (*wal_replay_fn)(void *ctx, uint64_t seq, uint8_t type, const void *data,
                             size_t len);

/* Opens (creating if absent) the log in `dir`. Scans every segment: a torn
 * or corrupt tail of the newest segment (a record cut short, a bad CRC with
 * no valid record after it, an incomplete group, a zero-filled tail) is
 * truncated away and reported in `stats`; corruption anywhere else is
 * AKIDB_ECORRUPT with a message naming the file and byte offset. Files in
 * `dir` not named like segments (<20-digit seq>.wal) are ignored. Unless the
 * policy is WAL_SYNC_NONE every segment is synced, so what replay delivers
 * is durable. The directory stays locked (flock) until wal_close: a second
 * open of the same log fails with AKIDB_EIO. `opt` NULL means defaults
 * (FSYNC); `stats` may be NULL. Errors: AKIDB_EINVAL, AKIDB_EIO,
 * AKIDB_ECORRUPT, AKIDB_EFORMAT (a segment file that is not an AkiDB log),
 * AKIDB_EVERSION (a newer format), AKIDB_ENOMEM. */
int wal_open(const char *dir, const wal_options_t *opt, wal_t **out, wal_open_stats_t *stats,
             char *err, size_t errlen);

/* Calls fn for every record with seq > after_seq, oldest first. Errors:
 * AKIDB_EIO, AKIDB_ECORRUPT (file and offset in err), or fn's return. */
int wal_replay(wal_t *w, uint64_t after_seq, wal_replay_fn fn, void *ctx, char *err,
               size_t errlen);

/* Appends one atomic group of n ≥ 1 records and waits for the durability the
 * policy promises. *first_seq / *last_seq (may be NULL) receive the seqs
 * given to the first and last record. Errors: AKIDB_EINVAL (n == 0, type 0,
 * record too large: limit 1 GiB), AKIDB_EIO (sticky). */
int wal_append(wal_t *w, const wal_record_t *recs, size_t n, uint64_t *first_seq,
               uint64_t *last_seq, char *err, size_t errlen);

/* Forces everything appended so far to stable storage (any policy).
 * Errors: AKIDB_EIO (sticky). */
int wal_sync(wal_t *w, char *err, size_t errlen);

/* Starts a new segment so that all records so far sit in closed segments
 * (nothing to do while the current segment holds no record). Errors:
 * AKIDB_EIO (sticky). */
int wal_roll(wal_t *w, char *err, size_t errlen);

/* Deletes every closed segment whose records all have seq ≤ upto_seq (they
 * are covered by a checkpoint), then fsyncs the directory. The current
 * segment is never deleted. Errors: AKIDB_EIO (the log stays usable). */
int wal_remove_upto(wal_t *w, uint64_t upto_seq, char *err, size_t errlen);

/* Seq of the newest appended record (0 if none yet). Always one below the
 * seq the next append gets: after an open whose min_next_seq is above every
 * record, min_next_seq - 1. */
uint64_t wal_last_seq(const wal_t *w);

/* Total bytes in all segments (for checkpoint scheduling and metrics). */
uint64_t wal_size_bytes(const wal_t *w);

/* Non-zero once a write or sync has failed (sticky). */
int wal_failed(const wal_t *w);

/* Statistics of fsync latency for metrics: count and total nanoseconds. */
void wal_sync_stats(const wal_t *w, uint64_t *count, uint64_t *total_ns);

/* Syncs whatever was written and not yet synced (the WAL_SYNC_INTERVAL
 * tick when the owner drives it); does nothing while another sync runs.
 * AKIDB_OK or AKIDB_EIO (the log failed: sticky). */
int wal_sync_unsynced(wal_t *w);

/* Syncs (unless WAL_SYNC_NONE), stops the interval thread, closes files and
 * frees the log. NULL is ignored. */
void wal_close(wal_t *w);

/* Test hook: when set, the next write(2) or fdatasync(2) made by any log in
 * this process fails with `errnum` (one-shot). A write first writes half of
 * its bytes, as a disk that fills up mid-write would. Tests only. */
void wal_test_fail_next_io(int errnum);

/* Test hook: like wal_test_fail_next_io, for the next fdatasync(2) only (so
 * a test can let an append's write succeed and fail its sync). */
void wal_test_fail_next_sync(int errnum);

#endif /* AKIDB_STORE_WAL_H */
