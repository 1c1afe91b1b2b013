/*
 * akidb/vfs.h — the storage seam: every file a collection (its log, its
 * checkpoints, its meta file) and the HNSW file format touch goes through
 * one table of operations, modelled on SQLite's VFS. The local POSIX
 * filesystem is the implementation used when none is given
 * (akidb_vfs_local()); tests wrap it to inject faults, and other storage
 * (object stores) can be put behind the same table.
 *
 * Conventions for every operation:
 *   - `ctx` is the table's own `ctx` field, passed back unchanged.
 *   - Paths are complete ("<dir>/<name>"), NUL-terminated, at most 4095
 *     bytes; the VFS never keeps a path pointer after the call returns.
 *   - The return value is 0 on success or a positive errno value
 *     (ENOENT, EEXIST, EIO, ENOSPC, ...), so callers can name the cause
 *     with strerror(). Nothing sets the global errno on the caller's behalf.
 *   - A file handle is valid from a successful open until close; close
 *     frees it whatever it returns. One handle may be used by several
 *     threads at once for positional reads and writes (pread/pwrite
 *     semantics: there is no shared file position).
 *
 * Thread safety: every operation may be called from any number of threads
 * at once; the table itself is never modified by AkiDB and must outlive
 * every collection and file that uses it.
 */
#ifndef AKIDB_VFS_H
#define AKIDB_VFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An open file (or a locked directory); layout private to the VFS. */
typedef struct akidb_vfs_file akidb_vfs_file_t;

/* Flags of open. */
enum {
  AKIDB_VFS_READ = 1,   /* open for reading */
  AKIDB_VFS_WRITE = 2,  /* open for writing (may be combined with READ) */
  AKIDB_VFS_CREATE = 4, /* create if absent */
  AKIDB_VFS_EXCL = 8,   /* with CREATE: EEXIST if it exists */
  AKIDB_VFS_TRUNC = 16, /* cut to 0 bytes at open */
};

/* Called by list for each entry of a directory except "." and "..", in no
 * particular order; `name` is valid only during the call. A non-zero
 * return stops the listing and is returned by list. */
typedef int (*akidb_vfs_entry_fn)(void *fn_ctx, const char *name);

typedef struct akidb_vfs {
  const char *name; /* for messages: "local", "fault", ... */
  void *ctx;        /* passed to every operation */

  /* Opens `path` with AKIDB_VFS_* flags; *out receives the handle. Errors:
   * ENOENT (absent, no CREATE), EEXIST (CREATE|EXCL), EACCES, EIO, ... */
  int (*open)(void *ctx, const char *path, int flags, akidb_vfs_file_t **out);
  /* Closes and frees `f` (NULL accepted). Returns the close error, if any. */
  int (*close)(void *ctx, akidb_vfs_file_t *f);
  /* Reads up to `len` bytes at `off` into buf; *got receives how many (0 at
   * or past the end of the file). Errors: EIO, ... */
  int (*pread)(void *ctx, akidb_vfs_file_t *f, void *buf, size_t len, uint64_t off,
               size_t *got);
  /* Writes the `cnt` buffers of iov, in order, at `off`; *done receives the
   * bytes written, which may be fewer than asked (a short write): callers
   * retry the rest (akidb_vfs_write_all). Errors: ENOSPC, EIO, ... */
  int (*pwritev)(void *ctx, akidb_vfs_file_t *f, const struct iovec *iov, int cnt,
                 uint64_t off, size_t *done);
  /* Makes the file's bytes durable: `data_only` non-zero allows skipping
   * metadata that is not needed to read the data back (fdatasync). */
  int (*sync)(void *ctx, akidb_vfs_file_t *f, int data_only);
  /* Sets the file's size to `size` bytes (cuts or zero-extends). */
  int (*truncate)(void *ctx, akidb_vfs_file_t *f, uint64_t size);
  /* *size receives the file's current size in bytes. */
  int (*size)(void *ctx, akidb_vfs_file_t *f, uint64_t *size);
  /* Read-only view of the file's first `len` bytes (len ≥ 1), valid until
   * unmap, also after `f` is closed; the bytes must not change while mapped. May be NULL in a table:
   * then akidb_vfs_map reads the bytes into memory instead. */
  int (*map)(void *ctx, akidb_vfs_file_t *f, uint64_t len, const void **base);
  void (*unmap)(void *ctx, const void *base, uint64_t len);

  /* Atomically replaces `to` with `from` (both in one directory). A crash
   * leaves either name pointing at the complete old or new file; the change
   * itself is durable only after sync_dir of that directory. */
  int (*rename)(void *ctx, const char *from, const char *to);
  /* Removes a file or an empty directory. ENOENT if absent. */
  int (*remove)(void *ctx, const char *path);
  /* Creates a directory (mode 0755). EEXIST if it exists. */
  int (*mkdir)(void *ctx, const char *path);
  /* Calls fn for each entry of directory `dir`. ENOENT if absent. */
  int (*list)(void *ctx, const char *dir, akidb_vfs_entry_fn fn, void *fn_ctx);
  /* Makes creates, renames and removes of entries in `dir` durable. */
  int (*sync_dir)(void *ctx, const char *dir);
  /* *size receives the size of `path`, *is_dir whether it is a directory
   * (either may be NULL). ENOENT if absent. */
  int (*stat)(void *ctx, const char *path, uint64_t *size, int *is_dir);
  /* Takes an exclusive advisory lock on directory `dir`, held until the
   * returned handle is closed (close is the table's close). EWOULDBLOCK if
   * another holder (this or another process) has it. */
  int (*lock_dir)(void *ctx, const char *dir, akidb_vfs_file_t **out);
  /* Pacing for a large sequential write: waits until the write-back of the
   * bytes before `off` that was started earlier is done, then starts
   * writing bytes [off, off + len) back to storage, so at most one window
   * is in flight and other writers' syncs (the logs') never queue behind a
   * whole checkpoint. Promises nothing about durability. May be NULL in a
   * table (akidb_vfs_writeback then does nothing). */
  int (*writeback)(void *ctx, akidb_vfs_file_t *f, uint64_t off, uint64_t len);
} akidb_vfs_t;

/* The local POSIX filesystem (open(2), pwritev(2), fdatasync(2), mmap(2),
 * rename(2), flock(2), ...). A static table: never freed. */
const akidb_vfs_t *akidb_vfs_local(void);

/* `vfs`, or the local filesystem when it is NULL. */
static inline const akidb_vfs_t *akidb_vfs_or_local(const akidb_vfs_t *vfs) {
  return vfs ? vfs : akidb_vfs_local();
}

/* ------------------------------------------------- helpers over a table -- */

/* Writes all `total` bytes of iov at `off`, retrying short writes and
 * EINTR. Returns 0 or the errno of the failing write (EIO when a write
 * makes no progress); *done (may be NULL) receives the bytes written. */
int akidb_vfs_write_all(const akidb_vfs_t *vfs, akidb_vfs_file_t *f, const struct iovec *iov,
                        size_t cnt, uint64_t off, uint64_t total, uint64_t *done);

/* The table's writeback hint, or nothing when it has none. Returns its
 * result (callers may ignore it: it is only a hint). */
int akidb_vfs_writeback(const akidb_vfs_t *vfs, akidb_vfs_file_t *f, uint64_t off, uint64_t len);

/* Reads exactly `len` bytes at `off`: EIO if the file ends first. */
int akidb_vfs_read_exact(const akidb_vfs_t *vfs, akidb_vfs_file_t *f, void *buf, size_t len,
                         uint64_t off);

/* A read-only view of the first `len` bytes: the table's map when it has
 * one, else a malloc'd copy. *base is NULL for len 0. Release it with
 * akidb_vfs_unmap (same vfs and len). Errors: the VFS's, ENOMEM. */
int akidb_vfs_map(const akidb_vfs_t *vfs, akidb_vfs_file_t *f, uint64_t len, const void **base);
void akidb_vfs_unmap(const akidb_vfs_t *vfs, const void *base, uint64_t len);

/* Creates `dir` unless it exists (then 0); when it was created, syncs its
 * parent directory too so the new entry is durable. */
int akidb_vfs_mkdir_durable(const akidb_vfs_t *vfs, const char *dir);

/* Syncs the directory that holds `path` (everything before its last '/',
 * or "." when it has none). */
int akidb_vfs_sync_parent(const akidb_vfs_t *vfs, const char *path);

/* Writes `len` bytes to `path` durably: to "<path>.tmp", sync, rename over
 * `path`, sync the directory. The temporary file is removed on failure. */
int akidb_vfs_write_file_durably(const akidb_vfs_t *vfs, const char *path, const void *data,
                                 size_t len);

/* Removes `path` and, when it is a directory, everything under it (depth
 * first, each file with akidb_vfs_remove_gently). 0 if it is absent. */
int akidb_vfs_remove_tree(const akidb_vfs_t *vfs, const char *path);

/* Bytes a gentle removal frees per step. */
#define AKIDB_VFS_FREE_STEP (32ull << 20)
/* Suffix of a file being removed gently: no reader of a directory takes
 * such a name for one of its own files. */
#define AKIDB_VFS_FREE_SUFFIX ".free"

/* Removes the file `path` without stalling other writers' syncs. Freeing a
 * large file at once makes the file system's next journal commit long (on
 * ext4, ~95 ms for 1.3 GB, and longer with online discard), and every
 * fdatasync of every log waits for that commit. A file larger than
 * AKIDB_VFS_FREE_STEP is first renamed to "<path>.free" (and the directory
 * synced: the old name is gone for good), then cut by AKIDB_VFS_FREE_STEP
 * at a time with a data sync after each cut, so each journal commit frees
 * at most one step; then unlinked. A crash midway leaves "<path>.free",
 * which akidb_vfs_remove_leftovers removes. 0 if `path` is absent; else
 * the VFS's error (the file may then be left, under either name). */
int akidb_vfs_remove_gently(const akidb_vfs_t *vfs, const char *path);

/* Removes (gently) every "*.free" file in `dir` that an interrupted
 * akidb_vfs_remove_gently left. 0, or the VFS's error of the listing. */
int akidb_vfs_remove_leftovers(const akidb_vfs_t *vfs, const char *dir);

#ifdef __cplusplus
}
#endif

#endif /* AKIDB_VFS_H */
