/*
 * fault_vfs.h — a fault-injecting VFS for tests: wraps the local one
 * (include/akidb/vfs.h) and, for files whose path contains `match` (all
 * files when it is NULL), fails the Nth write, sync or rename from the
 * moment a fault is armed, optionally every one after it too, or makes
 * writes short. Counters say how many calls each kind saw. For tests only.
 *
 * Usage:
 *   fault_vfs_t fv;
 *   fault_vfs_init(&fv);
 *   o.vfs = &fv.vfs;                       // collection or WAL options
 *   fault_arm(&fv.write, 1, ENOSPC, "/wal/"); fv.write.short_first = 1;
 *
 * Thread safety: the counters and fault settings are atomics; arm faults
 * while no other thread uses the VFS, or accept that the Nth call is
 * counted in whatever order the threads make them.
 */
#ifndef AKIDB_TEST_FAULT_VFS_H
#define AKIDB_TEST_FAULT_VFS_H

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/vfs.h"

/* One kind of call that can fail. */
typedef struct {
  _Atomic int calls;     /* matching calls seen since arming */
  _Atomic int fail_at;   /* the call number that fails (1 = the next); 0 = none */
  _Atomic int sticky;    /* every call after fail_at fails too */
  _Atomic int errnum;    /* what the failing call returns */
  _Atomic int failures;  /* how many calls were failed */
  _Atomic int short_first; /* writes only: a failing write writes half first */
  const char *_Atomic match; /* path substring the fault applies to; NULL: all */
} fault_t;

typedef struct {
  akidb_vfs_t vfs; /* hand &vfs to the code under test */
  const akidb_vfs_t *base;
  fault_t write, sync, rename;
  _Atomic int short_writes; /* every matching write writes at most half (no error) */
  _Atomic int writes, syncs, renames; /* all calls seen (matching or not) */
} fault_vfs_t;

typedef struct {
  akidb_vfs_file_t *inner;
  char path[4096];
} fault_file_t;

static inline void fault_arm(fault_t *f, int nth, int errnum, const char *match) {
  atomic_store(&f->calls, 0);
  atomic_store(&f->failures, 0);
  atomic_store(&f->errnum, errnum);
  atomic_store(&f->match, match);
  atomic_store(&f->fail_at, nth);
}

static inline void fault_disarm(fault_t *f) {
  atomic_store(&f->fail_at, 0);
  atomic_store(&f->sticky, 0);
  atomic_store(&f->short_first, 0);
}

static inline int fault_matches(fault_t *f, const char *path) {
  const char *m = atomic_load(&f->match);
  return !m || strstr(path, m) != NULL;
}

/* Counts a matching call; returns the errno it must fail with, or 0. */
static inline int fault_hit(fault_t *f, const char *path) {
  int at = atomic_load(&f->fail_at);
  if (!at || !fault_matches(f, path)) return 0;
  int n = atomic_fetch_add(&f->calls, 1) + 1;
  if (n == at || (n > at && atomic_load(&f->sticky))) {
    atomic_fetch_add(&f->failures, 1);
    return atomic_load(&f->errnum);
  }
  return 0;
}

#define FV(ctx) ((fault_vfs_t *)(ctx))
#define FF(f) ((fault_file_t *)(void *)(f))
#define BASE(ctx) (FV(ctx)->base)

static int fv_open(void *ctx, const char *path, int flags, akidb_vfs_file_t **out) {
  fault_file_t *f = calloc(1, sizeof *f);
  if (!f) return ENOMEM;
  int rc = BASE(ctx)->open(BASE(ctx)->ctx, path, flags, &f->inner);
  if (rc) {
    free(f);
    return rc;
  }
  snprintf(f->path, sizeof f->path, "%s", path);
  *out = (akidb_vfs_file_t *)(void *)f;
  return 0;
}

static int fv_close(void *ctx, akidb_vfs_file_t *f) {
  if (!f) return 0;
  int rc = BASE(ctx)->close(BASE(ctx)->ctx, FF(f)->inner);
  free(f);
  return rc;
}

static int fv_pread(void *ctx, akidb_vfs_file_t *f, void *buf, size_t len, uint64_t off,
                    size_t *got) {
  return BASE(ctx)->pread(BASE(ctx)->ctx, FF(f)->inner, buf, len, off, got);
}

/* Total bytes of iov. */
static size_t fv_iov_bytes(const struct iovec *iov, int cnt) {
  size_t n = 0;
  for (int i = 0; i < cnt; i++) n += iov[i].iov_len;
  return n;
}

/* Writes the first `limit` bytes of iov (at least one). */
static int fv_write_prefix(void *ctx, akidb_vfs_file_t *f, const struct iovec *iov, int cnt,
                           uint64_t off, size_t limit, size_t *done) {
  struct iovec cut[64];
  int n = 0;
  for (int i = 0; i < cnt && n < 64 && limit > 0; i++) {
    size_t l = iov[i].iov_len < limit ? iov[i].iov_len : limit;
    if (l == 0) continue;
    cut[n].iov_base = iov[i].iov_base;
    cut[n++].iov_len = l;
    limit -= l;
  }
  if (n == 0) {
    *done = 0;
    return 0;
  }
  return BASE(ctx)->pwritev(BASE(ctx)->ctx, FF(f)->inner, cut, n, off, done);
}

static int fv_pwritev(void *ctx, akidb_vfs_file_t *f, const struct iovec *iov, int cnt,
                      uint64_t off, size_t *done) {
  fault_vfs_t *fv = FV(ctx);
  atomic_fetch_add(&fv->writes, 1);
  *done = 0;
  size_t total = fv_iov_bytes(iov, cnt);
  int e = fault_hit(&fv->write, FF(f)->path);
  if (e) {
    if (atomic_load(&fv->write.short_first) && total > 1)
      fv_write_prefix(ctx, f, iov, cnt, off, total / 2, done);
    return e;
  }
  if (atomic_load(&fv->short_writes) && total > 1 && fault_matches(&fv->write, FF(f)->path))
    return fv_write_prefix(ctx, f, iov, cnt, off, total / 2, done);
  return BASE(ctx)->pwritev(BASE(ctx)->ctx, FF(f)->inner, iov, cnt, off, done);
}

static int fv_sync(void *ctx, akidb_vfs_file_t *f, int data_only) {
  atomic_fetch_add(&FV(ctx)->syncs, 1);
  int e = fault_hit(&FV(ctx)->sync, FF(f)->path);
  if (e) return e;
  return BASE(ctx)->sync(BASE(ctx)->ctx, FF(f)->inner, data_only);
}

static int fv_truncate(void *ctx, akidb_vfs_file_t *f, uint64_t size) {
  return BASE(ctx)->truncate(BASE(ctx)->ctx, FF(f)->inner, size);
}

static int fv_size(void *ctx, akidb_vfs_file_t *f, uint64_t *size) {
  return BASE(ctx)->size(BASE(ctx)->ctx, FF(f)->inner, size);
}

static int fv_map(void *ctx, akidb_vfs_file_t *f, uint64_t len, const void **base) {
  return BASE(ctx)->map(BASE(ctx)->ctx, FF(f)->inner, len, base);
}

static void fv_unmap(void *ctx, const void *base, uint64_t len) {
  BASE(ctx)->unmap(BASE(ctx)->ctx, base, len);
}

static int fv_rename(void *ctx, const char *from, const char *to) {
  atomic_fetch_add(&FV(ctx)->renames, 1);
  int e = fault_hit(&FV(ctx)->rename, to);
  if (e) return e;
  return BASE(ctx)->rename(BASE(ctx)->ctx, from, to);
}

static int fv_remove(void *ctx, const char *path) {
  return BASE(ctx)->remove(BASE(ctx)->ctx, path);
}

static int fv_mkdir(void *ctx, const char *path) { return BASE(ctx)->mkdir(BASE(ctx)->ctx, path); }

static int fv_list(void *ctx, const char *dir, akidb_vfs_entry_fn fn, void *fn_ctx) {
  return BASE(ctx)->list(BASE(ctx)->ctx, dir, fn, fn_ctx);
}

static int fv_sync_dir(void *ctx, const char *dir) {
  atomic_fetch_add(&FV(ctx)->syncs, 1);
  int e = fault_hit(&FV(ctx)->sync, dir);
  if (e) return e;
  return BASE(ctx)->sync_dir(BASE(ctx)->ctx, dir);
}

static int fv_writeback(void *ctx, akidb_vfs_file_t *f, uint64_t off, uint64_t len) {
  return akidb_vfs_writeback(BASE(ctx), FF(f)->inner, off, len);
}

static int fv_stat(void *ctx, const char *path, uint64_t *size, int *is_dir) {
  return BASE(ctx)->stat(BASE(ctx)->ctx, path, size, is_dir);
}

static int fv_lock_dir(void *ctx, const char *dir, akidb_vfs_file_t **out) {
  fault_file_t *f = calloc(1, sizeof *f);
  if (!f) return ENOMEM;
  int rc = BASE(ctx)->lock_dir(BASE(ctx)->ctx, dir, &f->inner);
  if (rc) {
    free(f);
    return rc;
  }
  snprintf(f->path, sizeof f->path, "%s", dir);
  *out = (akidb_vfs_file_t *)(void *)f;
  return 0;
}

/* A fault VFS over the local filesystem with no fault armed. */
static inline void fault_vfs_init(fault_vfs_t *fv) {
  memset(fv, 0, sizeof *fv);
  fv->base = akidb_vfs_local();
  fv->vfs = (akidb_vfs_t){.name = "fault", .ctx = fv, .open = fv_open, .close = fv_close,
                          .pread = fv_pread, .pwritev = fv_pwritev, .sync = fv_sync,
                          .truncate = fv_truncate, .size = fv_size, .map = fv_map,
                          .unmap = fv_unmap, .rename = fv_rename, .remove = fv_remove,
                          .mkdir = fv_mkdir, .list = fv_list, .sync_dir = fv_sync_dir,
                          .stat = fv_stat, .lock_dir = fv_lock_dir,
                          .writeback = fv_writeback};
}

#undef FV
#undef FF
#undef BASE

#endif /* AKIDB_TEST_FAULT_VFS_H */
