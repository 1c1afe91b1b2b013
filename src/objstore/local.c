/*
 * local.c — the object store on a local directory: key `k` is the file
 * `<path>/<prefix><k>`, '/' in keys making subdirectories.
 *
 * File format: an 8 KiB header, then the object's bytes. The header is
 * "AKIDBOBJ1\n" followed by one JSON line {"size":N,"crc32c":"<8 hex digits>",
 * "etag":"<md5 hex>","mtime":T,"meta":{...}} padded with spaces; header
 * and bytes live in one file so that one rename publishes both.
 *
 * Durability: a writer streams into `<file>.tmp-<random>` (O_EXCL), then
 * commit writes the header, fsyncs the file, renames it over `<file>` and
 * fsyncs the directory; directories it creates are fsynced into their
 * parents. A crash before the rename leaves only the temporary file, which
 * no read or listing sees (keys may not contain ".tmp-"). Delete unlinks,
 * fsyncs the directory and removes directories it left empty.
 *
 * Conflicts: a file system cannot hold "a" and "a/b" at once; such a put is
 * refused with AKIDB_ECONFLICT.
 *
 * Locking: none; concurrent writers of one key each publish atomically and
 * the last rename wins, like S3.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "objstore/digest.h"
#include "objstore/objstore_internal.h"

#define LOCAL_HDR 8192u
#define LOCAL_MAGIC "AKIDBOBJ1\n"
#define LOCAL_IO_CHUNK (256u << 10)

struct local_store {
  char *root; /* <path>, no trailing '/' */
};

struct backend_writer {
  akidb_objstore_t *s;
  char *final_path, *tmp_path;
  int fd;
  bool created; /* tmp_path exists on disk */
  uint64_t off;
  digest_md5_ctx_t *md5;
  akidb_objstore_meta_t meta[AKIDB_OBJSTORE_META_COUNT_MAX];
  size_t nmeta;
  char *meta_copy;
};

/* ---------------------------------------------------------------- helpers */

/* Full path of `key` (with the store's prefix); NULL when out of memory. */
static char *key_path(akidb_objstore_t *s, const char *key) {
  size_t n = strlen(s->impl.local->root) + strlen(s->prefix) + strlen(key) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s%s", s->impl.local->root, s->prefix, key);
  return p;
}

static int sync_dir_of(const char *path) {
  char *dir = strdup(path);
  if (!dir) return AKIDB_ENOMEM;
  char *slash = strrchr(dir, '/');
  if (slash == dir) slash[1] = '\0';
  else if (slash) *slash = '\0';
  else strcpy(dir, ".");
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  free(dir);
  if (fd < 0) return AKIDB_EIO;
  int rc = fsync(fd) == 0 ? 0 : AKIDB_EIO;
  close(fd);
  return rc;
}

/* Creates every missing directory of `path`'s parent below the root, each
 * synced into its parent. A component that is a file is a conflict. */
static int make_parents(akidb_objstore_t *s, const char *path, const char *key, char *err,
                        size_t errlen) {
  size_t rootlen = strlen(s->impl.local->root);
  char *p = strdup(path);
  if (!p) return AKIDB_ENOMEM;
  int rc = 0;
  for (char *q = p + rootlen + 1; (q = strchr(q, '/')) != NULL; q++) {
    *q = '\0';
    if (mkdir(p, 0755) == 0) {
      if (sync_dir_of(p) != 0) {
        objstore_errf(err, errlen, "local put %s: cannot sync the directory above %s: %s",
                      key, p, strerror(errno));
        rc = AKIDB_EIO;
      }
    } else if (errno == EEXIST) {
      struct stat st;
      if (stat(p, &st) == 0 && !S_ISDIR(st.st_mode)) {
        objstore_errf(err, errlen, "local put %s: conflicts with the existing object at %s "
                                   "(a local store cannot hold both \"a\" and \"a/b\")",
                      key, p);
        rc = AKIDB_ECONFLICT;
      }
    } else {
      objstore_errf(err, errlen, "local put %s: cannot create directory %s: %s", key, p,
                    strerror(errno));
      rc = AKIDB_EIO;
    }
    *q = '/';
    if (rc) break;
  }
  free(p);
  return rc;
}

static int write_all(int fd, const void *buf, size_t len, uint64_t off) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = pwrite(fd, p, len, (off_t)off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n, len -= (size_t)n, off += (uint64_t)n;
  }
  return 0;
}

static int read_all(int fd, void *buf, size_t len, uint64_t off, size_t *got) {
  char *p = buf;
  *got = 0;
  while (len > 0) {
    ssize_t n = pread(fd, p, len, (off_t)off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) break;
    p += n, len -= (size_t)n, off += (uint64_t)n, *got += (size_t)n;
  }
  return 0;
}

/* Appends `v` with '"' and '\\' escaped. */
static size_t json_str(char *out, size_t cap, size_t at, const char *v) {
  if (at < cap) out[at] = '"';
  at++;
  for (; *v; v++) {
    if (*v == '"' || *v == '\\') {
      if (at < cap) out[at] = '\\';
      at++;
    }
    if (at < cap) out[at] = *v;
    at++;
  }
  if (at < cap) out[at] = '"';
  return at + 1;
}

/* -------------------------------------------------------- header (codec) */

static int header_encode(char hdr[LOCAL_HDR], uint64_t size, uint32_t crc, const char *etag,
                         int64_t mtime, const akidb_objstore_meta_t *meta, size_t nmeta) {
  memset(hdr, ' ', LOCAL_HDR);
  int n = snprintf(hdr, LOCAL_HDR,
                   LOCAL_MAGIC "{\"size\":%" PRIu64 ",\"crc32c\":\"%08x\",\"etag\":\"%s\","
                               "\"mtime\":%" PRId64 ",\"meta\":{",
                   size, crc, etag, mtime);
  size_t at = (size_t)n;
  for (size_t i = 0; i < nmeta; i++) {
    if (i && at < LOCAL_HDR) hdr[at] = ',';
    if (i) at++;
    at = json_str(hdr, LOCAL_HDR, at, meta[i].name);
    if (at < LOCAL_HDR) hdr[at] = ':';
    at = json_str(hdr, LOCAL_HDR, at + 1, meta[i].value);
  }
  const char tail[] = "}}\n";
  if (at + sizeof tail > LOCAL_HDR) return AKIDB_ELIMIT;
  memcpy(hdr + at, tail, sizeof tail - 1);
  return 0;
}

/* Reads a JSON string at *p (after its '"'), unescaping into out. */
static const char *json_read_str(const char *p, const char *end, char *out, size_t cap,
                                 size_t *len) {
  size_t n = 0;
  while (p < end && *p != '"') {
    if (*p == '\\' && p + 1 < end) p++;
    if (n + 1 < cap) out[n++] = *p;
    p++;
  }
  *len = n;
  out[n] = '\0';
  return p < end ? p + 1 : NULL;
}

/* Skips the literal `lit` at p; NULL when [p, end) does not start with it. */
static const char *skip_lit(const char *p, const char *end, const char *lit) {
  size_t n = strlen(lit);
  if (!p || (size_t)(end - p) < n || memcmp(p, lit, n) != 0) return NULL;
  return p + n;
}

/* Reads 1 to 19 decimal digits at p into *v; NULL when there are none. */
static const char *read_digits(const char *p, const char *end, uint64_t *v) {
  if (!p) return NULL;
  const char *start = p;
  uint64_t x = 0;
  while (p < end && *p >= '0' && *p <= '9' && p - start < 19) x = x * 10 + (uint64_t)(*p++ - '0');
  if (p == start || (p < end && *p >= '0' && *p <= '9')) return NULL;
  *v = x;
  return p;
}

/* Reads exactly 8 hex digits at p into *v. */
static const char *read_hex8(const char *p, const char *end, uint32_t *v) {
  if (!p || end - p < 8) return NULL;
  uint32_t x = 0;
  for (int i = 0; i < 8; i++, p++) {
    int d = *p >= '0' && *p <= '9' ? *p - '0'
            : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
            : *p >= 'A' && *p <= 'F' ? *p - 'A' + 10 : -1;
    if (d < 0) return NULL;
    x = x << 4 | (uint32_t)d;
  }
  *v = x;
  return p;
}

/* Reads the header's fixed fields, up to and including `"meta":{`. Every
 * read stays inside [p, end): the header is not NUL-terminated (it is
 * padded with spaces), so no string function may run over it. */
static const char *header_fields(const char *p, const char *end, akidb_objstore_info_t *info) {
  uint64_t size, mtime;
  uint32_t crc;
  size_t etag_len;
  p = read_digits(skip_lit(p, end, "{\"size\":"), end, &size);
  p = read_hex8(skip_lit(p, end, ",\"crc32c\":\""), end, &crc);
  p = skip_lit(p, end, "\",\"etag\":\"");
  if (!p) return NULL;
  p = json_read_str(p, end, info->etag, sizeof info->etag, &etag_len);
  if (!p || etag_len + 1 >= sizeof info->etag) return NULL;
  p = skip_lit(p, end, ",\"mtime\":");
  bool neg = p && p < end && *p == '-';
  p = read_digits(p && neg ? p + 1 : p, end, &mtime);
  p = skip_lit(p, end, ",\"meta\":{");
  if (!p || mtime > INT64_MAX) return NULL;
  info->size = size;
  info->crc32c = crc;
  info->has_crc32c = true;
  info->last_modified = neg ? -(int64_t)mtime : (int64_t)mtime;
  return p;
}

/* Parses a header this file wrote (its first LOCAL_HDR of the len bytes at
 * hdr, which need not be NUL-terminated) into info. AKIDB_ECORRUPT if it is
 * not one. */
int local_header_decode(const char *hdr, size_t len, akidb_objstore_info_t *info) {
  if (len < LOCAL_HDR || memcmp(hdr, LOCAL_MAGIC, sizeof LOCAL_MAGIC - 1) != 0)
    return AKIDB_ECORRUPT;
  const char *end = hdr + LOCAL_HDR;
  const char *p = header_fields(hdr + sizeof LOCAL_MAGIC - 1, end, info);
  if (!p) return AKIDB_ECORRUPT;
  while (p < end && *p == '"') {
    char name[128], value[AKIDB_OBJSTORE_META_MAX];
    size_t nl, vl;
    p = json_read_str(p + 1, end, name, sizeof name, &nl);
    if (!p || p + 1 >= end || *p != ':' || p[1] != '"') return AKIDB_ECORRUPT;
    p = json_read_str(p + 2, end, value, sizeof value, &vl);
    if (!p) return AKIDB_ECORRUPT;
    objstore_info_add_meta(info, name, nl, value, vl);
    if (p < end && *p == ',') p++;
  }
  if (p + 1 >= end || p[0] != '}' || p[1] != '}') return AKIDB_ECORRUPT;
  return 0;
}

/* Opens `path` and reads its header. 0 (fd returned), AKIDB_ENOTFOUND,
 * AKIDB_ECORRUPT, AKIDB_EIO. */
static int open_object(const char *path, const char *key, const char *what,
                       akidb_objstore_info_t *info, int *fd_out, char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR) {
      objstore_errf(err, errlen, "local %s %s: no such object", what, key);
      return AKIDB_ENOTFOUND;
    }
    objstore_errf(err, errlen, "local %s %s: cannot open %s: %s", what, key, path,
                  strerror(errno));
    return AKIDB_EIO;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    objstore_errf(err, errlen, "local %s %s: no such object", what, key);
    return AKIDB_ENOTFOUND;
  }
  char *hdr = malloc(LOCAL_HDR);
  if (!hdr) {
    close(fd);
    return AKIDB_ENOMEM;
  }
  size_t got;
  int rc = read_all(fd, hdr, LOCAL_HDR, 0, &got) == 0 ? 0 : AKIDB_EIO;
  if (!rc) rc = local_header_decode(hdr, got, info);
  free(hdr);
  if (!rc && (uint64_t)st.st_size != LOCAL_HDR + info->size) rc = AKIDB_ECORRUPT;
  if (rc) {
    close(fd);
    if (rc == AKIDB_ECORRUPT)
      objstore_errf(err, errlen, "local %s %s: %s is not an intact object file (bad header "
                                 "or %lld bytes where the header implies %llu)",
                    what, key, path, (long long)st.st_size,
                    (unsigned long long)(LOCAL_HDR + info->size));
    else
      objstore_errf(err, errlen, "local %s %s: cannot read %s: %s", what, key, path,
                    strerror(errno));
    return rc;
  }
  *fd_out = fd;
  return 0;
}

/* ------------------------------------------------------------ open, close */

int local_open(akidb_objstore_t *s, char *err, size_t errlen) {
  local_store_t *l = calloc(1, sizeof *l);
  if (!l) return AKIDB_ENOMEM;
  l->root = strdup(s->path);
  if (!l->root) {
    free(l);
    return AKIDB_ENOMEM;
  }
  size_t n = strlen(l->root);
  while (n > 1 && l->root[n - 1] == '/') l->root[--n] = '\0';
  /* Create the root (and its parents) like `mkdir -p`. */
  for (char *q = l->root + 1;; q++) {
    q = strchr(q, '/');
    if (q) *q = '\0';
    if (mkdir(l->root, 0755) != 0 && errno != EEXIST) {
      objstore_errf(err, errlen, "local object store: cannot create directory %s: %s",
                    l->root, strerror(errno));
      if (q) *q = '/';
      free(l->root), free(l);
      return AKIDB_EIO;
    }
    if (!q) break;
    *q = '/';
  }
  struct stat st;
  if (stat(l->root, &st) != 0 || !S_ISDIR(st.st_mode) || access(l->root, W_OK | X_OK) != 0) {
    objstore_errf(err, errlen, "local object store: %s is not a writable directory", l->root);
    free(l->root), free(l);
    return AKIDB_EIO;
  }
  s->impl.local = l;
  return 0;
}

void local_close(akidb_objstore_t *s) {
  local_store_t *l = s->impl.local;
  if (!l) return;
  free(l->root);
  free(l);
  s->impl.local = NULL;
}

/* ----------------------------------------------------------------- writer */

int local_writer_open(akidb_objstore_t *s, const char *key, const akidb_objstore_meta_t *meta,
                      size_t nmeta, backend_writer_t **out, char *err, size_t errlen) {
  backend_writer_t *w = calloc(1, sizeof *w);
  if (!w) return AKIDB_ENOMEM;
  w->s = s;
  w->fd = -1;
  int rc = AKIDB_ENOMEM;
  w->final_path = key_path(s, key);
  w->md5 = digest_md5_new();
  if (!w->final_path || !w->md5) goto fail;
  size_t mlen = 0;
  for (size_t i = 0; i < nmeta; i++) mlen += strlen(meta[i].name) + strlen(meta[i].value) + 2;
  w->meta_copy = malloc(mlen + 1);
  if (!w->meta_copy) goto fail;
  char *mp = w->meta_copy;
  for (size_t i = 0; i < nmeta; i++) {
    w->meta[i].name = strcpy(mp, meta[i].name);
    mp += strlen(mp) + 1;
    w->meta[i].value = strcpy(mp, meta[i].value);
    mp += strlen(mp) + 1;
  }
  w->nmeta = nmeta;
  size_t tl = strlen(w->final_path) + 24;
  w->tmp_path = malloc(tl);
  if (!w->tmp_path) goto fail;
  w->tmp_path[0] = '\0';
  struct stat st;
  if (stat(w->final_path, &st) == 0 && S_ISDIR(st.st_mode) && rmdir(w->final_path) != 0) {
    objstore_errf(err, errlen, "local put %s: conflicts with existing objects under \"%s/\" "
                               "(a local store cannot hold both \"a\" and \"a/b\")",
                  key, key);
    rc = AKIDB_ECONFLICT;
    goto fail;
  }
  /* A concurrent delete may remove a parent we just made: try again. */
  for (int tries = 0; tries < 4; tries++) {
    rc = make_parents(s, w->final_path, key, err, errlen);
    if (rc) goto fail;
    snprintf(w->tmp_path, tl, "%s.tmp-%016llx", w->final_path,
             (unsigned long long)objstore_real_clock.random(NULL));
    w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (w->fd >= 0) {
      w->created = true;
      break;
    }
    if (errno != ENOENT && errno != EEXIST) break;
  }
  if (w->fd < 0) {
    objstore_errf(err, errlen, "local put %s: cannot create %s: %s", key, w->tmp_path,
                  strerror(errno));
    rc = AKIDB_EIO;
    goto fail;
  }
  w->off = LOCAL_HDR;
  *out = w;
  return 0;
fail:
  local_writer_abort(w);
  return rc;
}

int local_writer_write(backend_writer_t *w, const void *buf, size_t len, char *err,
                       size_t errlen) {
  if (write_all(w->fd, buf, len, w->off) != 0) {
    objstore_errf(err, errlen, "local put: cannot write %s: %s", w->tmp_path, strerror(errno));
    return AKIDB_EIO;
  }
  digest_md5_update(w->md5, buf, len);
  w->off += len;
  return 0;
}

int local_writer_commit(backend_writer_t *w, uint64_t size, uint32_t crc,
                        akidb_objstore_result_t *out, char *err, size_t errlen) {
  uint8_t md5[DIGEST_MD5_LEN];
  digest_md5_final(w->md5, md5);
  w->md5 = NULL;
  objstore_hex(md5, sizeof md5, out->etag);
  out->size = size;
  out->crc32c = crc;
  char *hdr = malloc(LOCAL_HDR);
  int rc = hdr ? header_encode(hdr, size, crc, out->etag, (int64_t)time(NULL), w->meta,
                               w->nmeta)
               : AKIDB_ENOMEM;
  if (rc == AKIDB_ELIMIT)
    objstore_errf(err, errlen, "local put %s: metadata does not fit the header", w->final_path);
  if (!rc && (write_all(w->fd, hdr, LOCAL_HDR, 0) != 0 || fsync(w->fd) != 0)) {
    objstore_errf(err, errlen, "local put: cannot write or sync %s: %s", w->tmp_path,
                  strerror(errno));
    rc = AKIDB_EIO;
  }
  free(hdr);
  if (!rc) {
    close(w->fd);
    w->fd = -1;
    if (rename(w->tmp_path, w->final_path) != 0) {
      objstore_errf(err, errlen, "local put: cannot rename %s to %s: %s", w->tmp_path,
                    w->final_path, strerror(errno));
      rc = errno == EISDIR || errno == ENOTEMPTY ? AKIDB_ECONFLICT : AKIDB_EIO;
    } else {
      free(w->tmp_path);
      w->tmp_path = NULL; /* published: abort must not remove it */
      if (sync_dir_of(w->final_path) != 0) {
        objstore_errf(err, errlen, "local put: cannot sync the directory of %s: %s",
                      w->final_path, strerror(errno));
        rc = AKIDB_EIO;
      }
    }
  }
  local_writer_abort(w);
  return rc;
}

void local_writer_abort(backend_writer_t *w) {
  if (!w) return;
  if (w->fd >= 0) close(w->fd);
  if (w->created && w->tmp_path) unlink(w->tmp_path); /* not published */
  digest_md5_free(w->md5);
  free(w->final_path), free(w->tmp_path), free(w->meta_copy);
  free(w);
}

/* ------------------------------------------------------------ get, head */

int local_get(akidb_objstore_t *s, const char *key, uint64_t offset, uint64_t length,
              akidb_objstore_write_fn write, void *ctx, akidb_objstore_info_t *info, char *err,
              size_t errlen) {
  char *path = key_path(s, key);
  if (!path) return AKIDB_ENOMEM;
  int fd;
  int rc = open_object(path, key, "get", info, &fd, err, errlen);
  free(path);
  if (rc) return rc;
  uint64_t end = info->size;
  if (length && offset < end && length < end - offset) end = offset + length;
  char *buf = malloc(LOCAL_IO_CHUNK);
  if (!buf) rc = AKIDB_ENOMEM;
  for (uint64_t at = offset; !rc && at < end;) {
    size_t want = end - at < LOCAL_IO_CHUNK ? (size_t)(end - at) : LOCAL_IO_CHUNK, got;
    if (read_all(fd, buf, want, LOCAL_HDR + at, &got) != 0 || got != want) {
      objstore_errf(err, errlen, "local get %s: read failed at byte %llu: %s", key,
                    (unsigned long long)at, got != want ? "file shrank" : strerror(errno));
      rc = AKIDB_EIO;
      break;
    }
    rc = write(ctx, buf, got);
    at += got;
  }
  free(buf);
  close(fd);
  return rc;
}

int local_head(akidb_objstore_t *s, const char *key, akidb_objstore_info_t *info, char *err,
               size_t errlen) {
  char *path = key_path(s, key);
  if (!path) return AKIDB_ENOMEM;
  int fd;
  int rc = open_object(path, key, "head", info, &fd, err, errlen);
  free(path);
  if (!rc) close(fd);
  return rc;
}

/* ------------------------------------------------------------------- list */

typedef struct {
  char **keys;
  size_t n, cap;
} key_list_t;

static int key_list_add(key_list_t *l, const char *k) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 256;
    char **p = realloc(l->keys, cap * sizeof *p);
    if (!p) return AKIDB_ENOMEM;
    l->keys = p, l->cap = cap;
  }
  if (!(l->keys[l->n] = strdup(k))) return AKIDB_ENOMEM;
  l->n++;
  return 0;
}

/* Collects every object file below `dir` (relative name `rel`, "" for the
 * root) whose relative name starts with `want`. */
static int walk(const char *dir, const char *rel, const char *want, key_list_t *out) {
  DIR *d = opendir(dir);
  if (!d) return errno == ENOENT || errno == ENOTDIR ? 0 : AKIDB_EIO;
  int rc = 0;
  struct dirent *e;
  size_t wl = strlen(want);
  while (!rc && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (strstr(e->d_name, ".tmp-")) continue;
    size_t rl = strlen(rel) + strlen(e->d_name) + 2;
    size_t dl = strlen(dir) + strlen(e->d_name) + 2;
    char *r = malloc(rl), *full = malloc(dl);
    if (!r || !full) {
      free(r), free(full);
      rc = AKIDB_ENOMEM;
      break;
    }
    snprintf(r, rl, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
    snprintf(full, dl, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(full, &st) == 0) {
      size_t n = strlen(r);
      if (S_ISDIR(st.st_mode)) {
        /* Descend only when the directory can hold matching keys. */
        if (strncmp(r, want, n < wl ? n : wl) == 0) rc = walk(full, r, want, out);
      } else if (S_ISREG(st.st_mode) && strncmp(r, want, wl) == 0) {
        rc = key_list_add(out, r);
      }
    }
    free(r), free(full);
  }
  closedir(d);
  return rc;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int local_list(akidb_objstore_t *s, const char *prefix, akidb_objstore_list_fn fn, void *ctx,
               char *err, size_t errlen) {
  size_t wl = strlen(s->prefix) + strlen(prefix) + 1;
  char *want = malloc(wl);
  if (!want) return AKIDB_ENOMEM;
  snprintf(want, wl, "%s%s", s->prefix, prefix);
  key_list_t keys = {0};
  int rc = walk(s->impl.local->root, "", want, &keys);
  if (rc) objstore_errf(err, errlen, "local list %s: cannot read %s", prefix,
                        s->impl.local->root);
  if (!rc && keys.n) qsort(keys.keys, keys.n, sizeof *keys.keys, cmp_str);
  size_t plen = strlen(s->prefix);
  for (size_t i = 0; !rc && i < keys.n; i++) {
    akidb_objstore_info_t info;
    memset(&info, 0, sizeof info);
    char *path = key_path(s, keys.keys[i] + plen);
    if (!path) {
      rc = AKIDB_ENOMEM;
      break;
    }
    int fd;
    char why[256];
    int orc = open_object(path, keys.keys[i] + plen, "list", &info, &fd, why, sizeof why);
    free(path);
    if (orc == AKIDB_ENOTFOUND) continue; /* deleted meanwhile */
    if (orc) {
      objstore_errf(err, errlen, "%s", why);
      rc = orc;
      break;
    }
    close(fd);
    akidb_objstore_entry_t e = {keys.keys[i] + plen, info.size, info.last_modified, info.etag};
    rc = fn(ctx, &e);
  }
  for (size_t i = 0; i < keys.n; i++) free(keys.keys[i]);
  free(keys.keys);
  free(want);
  return rc;
}

/* ----------------------------------------------------------------- delete */

int local_delete(akidb_objstore_t *s, const char *key, char *err, size_t errlen) {
  char *path = key_path(s, key);
  if (!path) return AKIDB_ENOMEM;
  int rc = 0;
  struct stat st;
  if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    free(path);
    return 0; /* a directory is no object: nothing to delete */
  }
  if (unlink(path) != 0) {
    if (errno != ENOENT && errno != ENOTDIR) {
      objstore_errf(err, errlen, "local delete %s: cannot remove %s: %s", key, path,
                    strerror(errno));
      rc = AKIDB_EIO;
    }
    free(path);
    return rc;
  }
  if (sync_dir_of(path) != 0) {
    objstore_errf(err, errlen, "local delete %s: cannot sync its directory: %s", key,
                  strerror(errno));
    rc = AKIDB_EIO;
  }
  /* Remove the directories the key leaves empty, up to the root. */
  size_t rootlen = strlen(s->impl.local->root);
  for (char *slash; (slash = strrchr(path, '/')) != NULL && (size_t)(slash - path) > rootlen;) {
    *slash = '\0';
    if (rmdir(path) != 0) break;
  }
  free(path);
  return rc;
}
