/*
 * vfs.c — helpers built only on a VFS table's operations (include/akidb/
 * vfs.h): write-everything with short-write retry, exact reads, a mapped
 * or copied read-only view, durable directory creation, the one directory
 * sync of a file's parent, durable whole-file replacement, recursive
 * removal, and the gentle removal of large files (cut a step per journal
 * commit, so other writers' syncs never wait for a whole file's freeing). They work over any implementation (local, fault-injecting,
 * remote), so the store's durability protocols are written once.
 *
 * Locking: none (each call owns what it opens). Durability: as documented
 * per helper; nothing is durable until the sync the helper names.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/vfs.h"

#define WRITE_IOV 1024
#define PATH_BYTES 4096

int akidb_vfs_write_all(const akidb_vfs_t *vfs, akidb_vfs_file_t *f, const struct iovec *iov,
                        size_t cnt, uint64_t off, uint64_t total, uint64_t *done_out) {
  uint64_t done = 0;
  size_t i = 0, skip = 0; /* first unfinished buffer, bytes of it written */
  struct iovec win[WRITE_IOV];
  int rc = 0;
  while (done < total) {
    int n = 0;
    uint64_t room = total - done;
    for (size_t j = i; j < cnt && n < WRITE_IOV && room > 0; j++) {
      size_t s = j == i ? skip : 0, l = iov[j].iov_len - s;
      if (l == 0) continue;
      if (l > room) l = (size_t)room;
      win[n].iov_base = (char *)iov[j].iov_base + s;
      win[n++].iov_len = l;
      room -= l;
    }
    size_t k = 0;
    rc = vfs->pwritev(vfs->ctx, f, win, n, off + done, &k);
    if (rc == EINTR) continue;
    if (!rc && k == 0) rc = EIO;
    done += k;
    if (rc) break;
    for (size_t left = k; left > 0;) {
      size_t l = iov[i].iov_len - skip;
      if (left >= l) {
        left -= l;
        i++;
        skip = 0;
      } else {
        skip += left;
        left = 0;
      }
    }
  }
  if (done_out) *done_out = done;
  return rc;
}

int akidb_vfs_writeback(const akidb_vfs_t *vfs, akidb_vfs_file_t *f, uint64_t off, uint64_t len) {
  return vfs->writeback ? vfs->writeback(vfs->ctx, f, off, len) : 0;
}

int akidb_vfs_read_exact(const akidb_vfs_t *vfs, akidb_vfs_file_t *f, void *buf, size_t len,
                         uint64_t off) {
  size_t done = 0;
  while (done < len) {
    size_t got = 0;
    int rc = vfs->pread(vfs->ctx, f, (char *)buf + done, len - done, off + done, &got);
    if (rc == EINTR) continue;
    if (rc) return rc;
    if (got == 0) return EIO; /* the file ends first */
    done += got;
  }
  return 0;
}

int akidb_vfs_map(const akidb_vfs_t *vfs, akidb_vfs_file_t *f, uint64_t len, const void **base) {
  *base = NULL;
  if (len == 0) return 0;
  if (vfs->map) return vfs->map(vfs->ctx, f, len, base);
  if (len > SIZE_MAX) return ENOMEM;
  void *p = malloc((size_t)len);
  if (!p) return ENOMEM;
  int rc = akidb_vfs_read_exact(vfs, f, p, (size_t)len, 0);
  if (rc) {
    free(p);
    return rc;
  }
  *base = p;
  return 0;
}

void akidb_vfs_unmap(const akidb_vfs_t *vfs, const void *base, uint64_t len) {
  if (!base) return;
  if (vfs->map) vfs->unmap(vfs->ctx, base, len);
  else free((void *)base);
}

int akidb_vfs_sync_parent(const akidb_vfs_t *vfs, const char *path) {
  char dir[PATH_BYTES];
  const char *slash = strrchr(path, '/');
  if (!slash) return vfs->sync_dir(vfs->ctx, ".");
  size_t n = slash == path ? 1 : (size_t)(slash - path);
  if (n >= sizeof dir) return ENAMETOOLONG;
  memcpy(dir, path, n);
  dir[n] = '\0';
  return vfs->sync_dir(vfs->ctx, dir);
}

int akidb_vfs_mkdir_durable(const akidb_vfs_t *vfs, const char *dir) {
  int rc = vfs->mkdir(vfs->ctx, dir);
  if (rc == EEXIST) return 0;
  if (rc) return rc;
  return akidb_vfs_sync_parent(vfs, dir);
}

int akidb_vfs_write_file_durably(const akidb_vfs_t *vfs, const char *path, const void *data,
                                 size_t len) {
  char tmp[PATH_BYTES + 8];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return ENAMETOOLONG;
  akidb_vfs_file_t *f = NULL;
  int rc = vfs->open(vfs->ctx, tmp, AKIDB_VFS_WRITE | AKIDB_VFS_CREATE | AKIDB_VFS_TRUNC, &f);
  if (rc) return rc;
  struct iovec iov = {(void *)data, len};
  rc = akidb_vfs_write_all(vfs, f, &iov, 1, 0, len, NULL);
  if (!rc) rc = vfs->sync(vfs->ctx, f, 0);
  int crc = vfs->close(vfs->ctx, f);
  if (!rc) rc = crc;
  if (!rc) rc = vfs->rename(vfs->ctx, tmp, path);
  if (!rc) rc = akidb_vfs_sync_parent(vfs, path);
  if (rc) vfs->remove(vfs->ctx, tmp);
  return rc;
}

typedef struct {
  const akidb_vfs_t *vfs;
  const char *dir;
} tree_ctx_t;

static int remove_entry(void *ctx, const char *name) {
  const tree_ctx_t *t = ctx;
  char path[PATH_BYTES];
  if (snprintf(path, sizeof path, "%s/%s", t->dir, name) >= (int)sizeof path) return ENAMETOOLONG;
  return akidb_vfs_remove_tree(t->vfs, path);
}

int akidb_vfs_remove_tree(const akidb_vfs_t *vfs, const char *path) {
  int is_dir = 0;
  int rc = vfs->stat(vfs->ctx, path, NULL, &is_dir);
  if (rc) return rc == ENOENT ? 0 : rc;
  if (!is_dir) return akidb_vfs_remove_gently(vfs, path);
  tree_ctx_t t = {vfs, path};
  if ((rc = vfs->list(vfs->ctx, path, remove_entry, &t))) return rc;
  rc = vfs->remove(vfs->ctx, path);
  return rc == ENOENT ? 0 : rc;
}

/* ------------------------------------------------------ gentle removal -- */

static bool has_free_suffix(const char *name) {
  size_t n = strlen(name), k = strlen(AKIDB_VFS_FREE_SUFFIX);
  return n > k && strcmp(name + n - k, AKIDB_VFS_FREE_SUFFIX) == 0;
}

/* Cuts the open file from `size` bytes down to 0, one step per journal
 * commit (the data sync after each cut forces it). */
static int cut_in_steps(const akidb_vfs_t *vfs, akidb_vfs_file_t *f, uint64_t size) {
  int rc = 0;
  while (size > 0 && !rc) {
    size = size > AKIDB_VFS_FREE_STEP ? size - AKIDB_VFS_FREE_STEP : 0;
    rc = vfs->truncate(vfs->ctx, f, size);
    if (!rc) rc = vfs->sync(vfs->ctx, f, 1);
  }
  return rc;
}

/* Renames `path` to "<path>.free" (unless it has that name) and makes the
 * rename durable; `trash` receives the name to cut and unlink. */
static int move_to_trash(const akidb_vfs_t *vfs, const char *path, char *trash, size_t len) {
  if (has_free_suffix(path)) {
    snprintf(trash, len, "%s", path);
    return 0;
  }
  if (snprintf(trash, len, "%s%s", path, AKIDB_VFS_FREE_SUFFIX) >= (int)len) return ENAMETOOLONG;
  int rc = vfs->rename(vfs->ctx, path, trash);
  if (!rc) rc = akidb_vfs_sync_parent(vfs, trash);
  return rc;
}

int akidb_vfs_remove_gently(const akidb_vfs_t *vfs, const char *path) {
  uint64_t size = 0;
  int is_dir = 0;
  int rc = vfs->stat(vfs->ctx, path, &size, &is_dir);
  if (!rc && !is_dir && size > AKIDB_VFS_FREE_STEP) {
    char trash[PATH_BYTES + 8];
    akidb_vfs_file_t *f = NULL;
    if ((rc = move_to_trash(vfs, path, trash, sizeof trash))) return rc;
    if (!(rc = vfs->open(vfs->ctx, trash, AKIDB_VFS_WRITE, &f))) {
      rc = cut_in_steps(vfs, f, size);
      vfs->close(vfs->ctx, f);
    }
    int e = vfs->remove(vfs->ctx, trash); /* also after a failed cut */
    return e && e != ENOENT ? e : rc;
  }
  if (!rc || rc == ENOENT) rc = vfs->remove(vfs->ctx, path);
  return rc == ENOENT ? 0 : rc;
}

typedef struct {
  const akidb_vfs_t *vfs;
  const char *dir;
  int rc;
} leftover_ctx_t;

static int remove_if_leftover(void *ctx, const char *name) {
  leftover_ctx_t *l = ctx;
  char path[PATH_BYTES];
  if (!has_free_suffix(name)) return 0;
  if (snprintf(path, sizeof path, "%s/%s", l->dir, name) >= (int)sizeof path) return 0;
  int rc = akidb_vfs_remove_gently(l->vfs, path);
  if (rc && !l->rc) l->rc = rc;
  return 0;
}

int akidb_vfs_remove_leftovers(const akidb_vfs_t *vfs, const char *dir) {
  leftover_ctx_t l = {vfs, dir, 0};
  int rc = vfs->list(vfs->ctx, dir, remove_if_leftover, &l);
  return rc ? rc : l.rc;
}
