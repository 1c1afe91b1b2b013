/*
 * vfs_local.c — the local POSIX filesystem behind the storage seam
 * (include/akidb/vfs.h): the only place in the engine's storage path that
 * calls open(2), pwritev(2), fdatasync(2), mmap(2), rename(2), flock(2) and
 * friends (sync_file_range for the writeback hint).
 *
 * Locking: none of its own; a handle is a file descriptor, and positional
 * reads and writes on it are safe from many threads. Durability: exactly
 * what the system calls give — sync is fdatasync/fsync, sync_dir fsyncs the
 * directory; nothing is cached here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "akidb/vfs.h"

struct akidb_vfs_file {
  int fd;
};

/* errno of the call that just failed, never 0. */
static int last_error(void) { return errno ? errno : EIO; }

static int wrap_fd(int fd, akidb_vfs_file_t **out) {
  akidb_vfs_file_t *f = malloc(sizeof *f);
  if (!f) {
    close(fd);
    return ENOMEM;
  }
  f->fd = fd;
  *out = f;
  return 0;
}

static int local_open(void *ctx, const char *path, int flags, akidb_vfs_file_t **out) {
  (void)ctx;
  int rw = flags & AKIDB_VFS_WRITE ? (flags & AKIDB_VFS_READ ? O_RDWR : O_WRONLY) : O_RDONLY;
  int o = rw | O_CLOEXEC | (flags & AKIDB_VFS_CREATE ? O_CREAT : 0) |
          (flags & AKIDB_VFS_EXCL ? O_EXCL : 0) | (flags & AKIDB_VFS_TRUNC ? O_TRUNC : 0);
  int fd = open(path, o, 0644);
  if (fd < 0) return last_error();
  return wrap_fd(fd, out);
}

static int local_close(void *ctx, akidb_vfs_file_t *f) {
  (void)ctx;
  if (!f) return 0;
  int rc = close(f->fd) ? last_error() : 0;
  free(f);
  return rc;
}

static int local_pread(void *ctx, akidb_vfs_file_t *f, void *buf, size_t len, uint64_t off,
                       size_t *got) {
  (void)ctx;
  for (;;) {
    ssize_t n = pread(f->fd, buf, len, (off_t)off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return last_error();
    *got = (size_t)n;
    return 0;
  }
}

static int local_pwritev(void *ctx, akidb_vfs_file_t *f, const struct iovec *iov, int cnt,
                         uint64_t off, size_t *done) {
  (void)ctx;
  *done = 0;
  ssize_t n = pwritev(f->fd, iov, cnt, (off_t)off);
  if (n < 0) return last_error();
  *done = (size_t)n;
  return 0;
}

static int local_sync(void *ctx, akidb_vfs_file_t *f, int data_only) {
  (void)ctx;
  return (data_only ? fdatasync(f->fd) : fsync(f->fd)) ? last_error() : 0;
}

static int local_truncate(void *ctx, akidb_vfs_file_t *f, uint64_t size) {
  (void)ctx;
  return ftruncate(f->fd, (off_t)size) ? last_error() : 0;
}

static int local_size(void *ctx, akidb_vfs_file_t *f, uint64_t *size) {
  (void)ctx;
  struct stat st;
  if (fstat(f->fd, &st)) return last_error();
  *size = (uint64_t)st.st_size;
  return 0;
}

static int local_map(void *ctx, akidb_vfs_file_t *f, uint64_t len, const void **base) {
  (void)ctx;
  void *p = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, f->fd, 0);
  if (p == MAP_FAILED) return last_error();
  madvise(p, (size_t)len, MADV_SEQUENTIAL);
  *base = p;
  return 0;
}

static void local_unmap(void *ctx, const void *base, uint64_t len) {
  (void)ctx;
  munmap((void *)base, (size_t)len);
}

static int local_rename(void *ctx, const char *from, const char *to) {
  (void)ctx;
  return rename(from, to) ? last_error() : 0;
}

static int local_remove(void *ctx, const char *path) {
  (void)ctx;
  return remove(path) ? last_error() : 0;
}

static int local_mkdir(void *ctx, const char *path) {
  (void)ctx;
  return mkdir(path, 0755) ? last_error() : 0;
}

static int local_list(void *ctx, const char *dir, akidb_vfs_entry_fn fn, void *fn_ctx) {
  (void)ctx;
  DIR *d = opendir(dir);
  if (!d) return last_error();
  struct dirent *e;
  int rc = 0;
  while (!rc && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    rc = fn(fn_ctx, e->d_name);
  }
  closedir(d);
  return rc;
}

static int local_sync_dir(void *ctx, const char *dir) {
  (void)ctx;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return last_error();
  int rc = fsync(fd) ? last_error() : 0;
  close(fd);
  return rc;
}

static int local_stat(void *ctx, const char *path, uint64_t *size, int *is_dir) {
  (void)ctx;
  struct stat st;
  if (lstat(path, &st)) return last_error();
  if (size) *size = (uint64_t)st.st_size;
  if (is_dir) *is_dir = S_ISDIR(st.st_mode);
  return 0;
}

static int local_lock_dir(void *ctx, const char *dir, akidb_vfs_file_t **out) {
  (void)ctx;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return last_error();
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = last_error();
    close(fd);
    return e;
  }
  return wrap_fd(fd, out);
}

/* Paces a large write: waits until the write-back started for the bytes
 * before `off` is done (so at most one window is in flight and the device
 * queue stays short for other files' syncs), then starts [off, off + len). */
static int local_writeback(void *ctx, akidb_vfs_file_t *f, uint64_t off, uint64_t len) {
  (void)ctx;
  if (off > 0 && sync_file_range(f->fd, 0, (off_t)off, SYNC_FILE_RANGE_WAIT_BEFORE))
    return last_error();
  return sync_file_range(f->fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE) ? last_error() : 0;
}

static const akidb_vfs_t local_vfs = {
    .name = "local",
    .ctx = NULL,
    .open = local_open,
    .close = local_close,
    .pread = local_pread,
    .pwritev = local_pwritev,
    .sync = local_sync,
    .truncate = local_truncate,
    .size = local_size,
    .map = local_map,
    .unmap = local_unmap,
    .rename = local_rename,
    .remove = local_remove,
    .mkdir = local_mkdir,
    .list = local_list,
    .sync_dir = local_sync_dir,
    .stat = local_stat,
    .lock_dir = local_lock_dir,
    .writeback = local_writeback,
};

const akidb_vfs_t *akidb_vfs_local(void) { return &local_vfs; }
