/*
 * tier/cold.c — owns the cold copy of a collection's directory in an
 * object store (layout and protocol: cold.h): the upload of every file and
 * then the manifest, the verified download into a fresh directory, the
 * deletion of a generation, and the manifest's JSON form with a strict
 * decoder (a bucket is writable by others: every field is checked).
 *
 * Files are read and written through the local VFS (akidb/vfs.h).
 * Locking: none. Durability: an upload is confirmed when the manifest's put
 * returned (each object's size and checksum verified by the store); a
 * download is durable when it returns (files and directories fsynced).
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/errf.h"
#include "akidb/catalog.h"
#include "akidb/vfs.h"
#include "tier/cold.h"

#define IO_CHUNK (1u << 20)
#define SMALL_FILE (1u << 20) /* files up to this size go up in one batched put */


void cold_manifest_free(cold_manifest_t *m) {
  if (!m) return;
  free(m->files);
  memset(m, 0, sizeof *m);
}

void cold_collection_prefix(const char *collection_id, char *out, size_t len) {
  snprintf(out, len, "cold/%s/", collection_id);
}

void cold_generation_prefix(const char *manifest_key, char *out, size_t len) {
  const char *slash = strrchr(manifest_key, '/');
  size_t n = slash ? (size_t)(slash - manifest_key) + 1 : 0;
  snprintf(out, len, "%.*s", (int)n, manifest_key);
}

/* ------------------------------------------------------------- manifest -- */

char *cold_manifest_encode(const cold_manifest_t *m) {
  json_t *files = json_array();
  for (size_t i = 0; files && i < m->n_files; i++) {
    char crc[16];
    snprintf(crc, sizeof crc, "%08" PRIx32, m->files[i].crc32c);
    json_array_append_new(files, json_pack("{s:s,s:I,s:s}", "path", m->files[i].path, "size",
                                           (json_int_t)m->files[i].size, "crc32c", crc));
  }
  json_t *root = json_pack("{s:s,s:i,s:s,s:s,s:o}", "format", COLD_FORMAT, "format_version",
                           COLD_FORMAT_VERSION, "collection_id", m->collection_id, "created_at",
                           m->created_at, "files", files);
  if (!root) return NULL;
  char *text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
  json_decref(root);
  return text;
}

/* "name" or "dir/name", each segment [A-Za-z0-9._-]{1,} and not "." or "..". */
static bool path_ok(const char *p) {
  size_t n = strlen(p);
  if (n == 0 || n > COLD_PATH_MAX) return false;
  int segments = 1;
  const char *seg = p;
  for (size_t i = 0; i <= n; i++) {
    char c = p[i];
    if (c == '/' || c == '\0') {
      size_t len = (size_t)(p + i - seg);
      if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
        return false;
      if (c == '/' && ++segments > 2) return false;
      seg = p + i + 1;
      continue;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '.' || c == '_' || c == '-'))
      return false;
  }
  return true;
}

static int decode_file(json_t *f, size_t i, cold_file_t *out, char *err, size_t errlen) {
  json_t *p = json_object_get(f, "path"), *sz = json_object_get(f, "size"),
         *crc = json_object_get(f, "crc32c");
  if (!json_is_object(f) || !json_is_string(p) || !json_is_integer(sz) || !json_is_string(crc))
    return errf(err, errlen, AKIDB_EFORMAT, "cold manifest: files[%zu] needs path, size and crc32c",
                i);
  if (!path_ok(json_string_value(p)))
    return errf(err, errlen, AKIDB_EFORMAT, "cold manifest: files[%zu].path is not a safe "
                "relative path", i);
  snprintf(out->path, sizeof out->path, "%s", json_string_value(p));
  if (json_integer_value(sz) < 0)
    return errf(err, errlen, AKIDB_EFORMAT, "cold manifest: files[%zu].size is negative", i);
  out->size = (uint64_t)json_integer_value(sz);
  unsigned v = 0;
  int used = 0;
  const char *hex = json_string_value(crc);
  if (strlen(hex) != 8 || sscanf(hex, "%8x%n", &v, &used) != 1 || used != 8)
    return errf(err, errlen, AKIDB_EFORMAT, "cold manifest: files[%zu].crc32c must be 8 "
                "hexadecimal digits", i);
  out->crc32c = (uint32_t)v;
  return AKIDB_OK;
}

static int decode_root(json_t *root, cold_manifest_t *m, char *err, size_t errlen) {
  json_t *fmt = json_object_get(root, "format"), *ver = json_object_get(root, "format_version");
  if (!json_is_object(root) || !json_is_string(fmt) || strcmp(json_string_value(fmt), COLD_FORMAT))
    return errf(err, errlen, AKIDB_EFORMAT, "not a cold-tier manifest (field 'format' must be "
                "\"" COLD_FORMAT "\")");
  if (!json_is_integer(ver) || json_integer_value(ver) < 1)
    return errf(err, errlen, AKIDB_EFORMAT, "cold manifest: field 'format_version' is missing");
  if (json_integer_value(ver) > COLD_FORMAT_VERSION)
    return errf(err, errlen, AKIDB_EVERSION, "cold manifest: format version %lld was written by "
                "a newer AkiDB; upgrade akidb to load this collection",
                (long long)json_integer_value(ver));
  json_t *id = json_object_get(root, "collection_id"), *at = json_object_get(root, "created_at");
  json_t *files = json_object_get(root, "files");
  akidb_uuid_t u;
  if (!json_is_string(id) || akidb_uuid_parse(json_string_value(id), &u))
    return errf(err, errlen, AKIDB_EFORMAT, "cold manifest: field 'collection_id' is not a UUID");
  snprintf(m->collection_id, sizeof m->collection_id, "%s", json_string_value(id));
  snprintf(m->created_at, sizeof m->created_at, "%s", json_is_string(at) ? json_string_value(at) : "");
  if (!json_is_array(files) || json_array_size(files) == 0 ||
      json_array_size(files) > COLD_FILES_MAX)
    return errf(err, errlen, AKIDB_EFORMAT, "cold manifest: field 'files' must list 1..%u files",
                COLD_FILES_MAX);
  m->n_files = json_array_size(files);
  if (!(m->files = calloc(m->n_files, sizeof *m->files)))
    return errf(err, errlen, AKIDB_ENOMEM, "out of memory");
  for (size_t i = 0; i < m->n_files; i++) {
    int rc = decode_file(json_array_get(files, i), i, &m->files[i], err, errlen);
    if (rc) return rc;
  }
  return AKIDB_OK;
}

int cold_manifest_decode(const char *text, size_t len, cold_manifest_t *out, char *err,
                         size_t errlen) {
  memset(out, 0, sizeof *out);
  json_error_t je;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!root)
    return errf(err, errlen, AKIDB_EFORMAT, "cold manifest is not valid JSON: %s (line %d)",
                je.text, je.line);
  int rc = decode_root(root, out, err, errlen);
  json_decref(root);
  if (rc) cold_manifest_free(out);
  return rc;
}

/* --------------------------------------------------------------- upload -- */

typedef struct {
  cold_manifest_t *m;
  size_t cap;
  const char *sub; /* "" or "wal" */
  int rc;
} list_ctx_t;

static int add_file(void *ctx, const char *name) {
  list_ctx_t *l = ctx;
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return 0;
  if (l->m->n_files == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    if (cap > COLD_FILES_MAX) return E2BIG;
    cold_file_t *f = realloc(l->m->files, cap * sizeof *f);
    if (!f) return ENOMEM;
    l->m->files = f;
    l->cap = cap;
  }
  cold_file_t *f = &l->m->files[l->m->n_files];
  memset(f, 0, sizeof *f);
  int n = snprintf(f->path, sizeof f->path, "%s%s%s", l->sub, l->sub[0] ? "/" : "", name);
  if (n < 0 || (size_t)n >= sizeof f->path) return ENAMETOOLONG;
  l->m->n_files++;
  return 0;
}

/* Lists the files of dir and of its subdirectories (one level). */
static int list_files(const char *dir, cold_manifest_t *m, char *err, size_t errlen) {
  const akidb_vfs_t *vfs = akidb_vfs_local();
  list_ctx_t l = {.m = m, .sub = ""};
  int e = vfs->list(vfs->ctx, dir, add_file, &l);
  size_t top = m->n_files;
  for (size_t i = 0; !e && i < top; i++) {
    char path[4400];
    int is_dir = 0;
    snprintf(path, sizeof path, "%s/%s", dir, m->files[i].path);
    if ((e = vfs->stat(vfs->ctx, path, &m->files[i].size, &is_dir))) break;
    if (!is_dir) continue;
    char sub[COLD_PATH_MAX + 1];
    snprintf(sub, sizeof sub, "%s", m->files[i].path);
    m->files[i].path[0] = '\0'; /* a directory: not a file to upload */
    l.sub = sub;
    if ((e = vfs->list(vfs->ctx, path, add_file, &l))) break;
  }
  for (size_t i = top; !e && i < m->n_files; i++) {
    char path[4400];
    int is_dir = 0;
    snprintf(path, sizeof path, "%s/%s", dir, m->files[i].path);
    if ((e = vfs->stat(vfs->ctx, path, &m->files[i].size, &is_dir))) break;
    if (is_dir) return errf(err, errlen, AKIDB_EINVAL, "%s: directories nest deeper than the "
                            "cold tier copies", path);
  }
  if (e) return errf(err, errlen, AKIDB_EIO, "cannot list %s: %s", dir, strerror(e));
  size_t k = 0; /* drop the directory entries */
  for (size_t i = 0; i < m->n_files; i++)
    if (m->files[i].path[0]) m->files[k++] = m->files[i];
  m->n_files = k;
  return k ? AKIDB_OK : errf(err, errlen, AKIDB_ENOTFOUND, "%s holds no files", dir);
}

typedef struct {
  akidb_vfs_file_t *f;
  uint64_t off;
} file_src_t;

static ssize_t read_file(void *ctx, void *buf, size_t len) {
  file_src_t *s = ctx;
  size_t got = 0;
  const akidb_vfs_t *vfs = akidb_vfs_local();
  if (vfs->pread(vfs->ctx, s->f, buf, len, s->off, &got)) return AKIDB_EIO;
  s->off += got;
  return (ssize_t)got;
}

static int file_key(const char *prefix, const cold_file_t *f, char *key, size_t len,
                    char *err, size_t errlen) {
  if (snprintf(key, len, "%sfiles/%s", prefix, f->path) >= (int)len)
    return errf(err, errlen, AKIDB_ELIMIT, "object key too long for %s", f->path);
  return AKIDB_OK;
}

static int open_file(const char *dir, const cold_file_t *f, file_src_t *src, char *err,
                     size_t errlen) {
  const akidb_vfs_t *vfs = akidb_vfs_local();
  char path[4400];
  snprintf(path, sizeof path, "%s/%s", dir, f->path);
  *src = (file_src_t){0};
  int e = vfs->open(vfs->ctx, path, AKIDB_VFS_READ, &src->f);
  return e ? errf(err, errlen, AKIDB_EIO, "cannot open %s: %s", path, strerror(e)) : AKIDB_OK;
}

static int upload_file(akidb_objstore_t *store, const char *dir, const char *prefix,
                       cold_file_t *f, char *err, size_t errlen) {
  char key[AKIDB_OBJSTORE_KEY_MAX + 1];
  file_src_t src;
  int rc = file_key(prefix, f, key, sizeof key, err, errlen);
  if (rc || (rc = open_file(dir, f, &src, err, errlen))) return rc;
  akidb_objstore_put_options_t po = {.size = (int64_t)f->size};
  akidb_objstore_result_t res;
  rc = akidb_objstore_put(store, key, read_file, &src, &po, &res, err, errlen);
  akidb_vfs_local()->close(akidb_vfs_local()->ctx, src.f);
  if (!rc) f->crc32c = res.crc32c;
  return rc;
}

/* The files at or below SMALL_FILE in one batched put (their time is round
 * trips, not bytes). */
typedef struct {
  file_src_t src;
  char key[AKIDB_OBJSTORE_KEY_MAX + 1];
  cold_file_t *file;
} small_put_t;

static int upload_small_files(akidb_objstore_t *store, const char *dir, const char *prefix,
                              cold_manifest_t *m, char *err, size_t errlen) {
  size_t cap = m->n_files ? m->n_files : 1, n = 0;
  small_put_t *p = calloc(cap, sizeof *p);
  akidb_objstore_put_item_t *items = calloc(cap, sizeof *items);
  int rc = p && items ? AKIDB_OK : errf(err, errlen, AKIDB_ENOMEM, "out of memory");
  for (size_t i = 0; !rc && i < m->n_files; i++) {
    if (m->files[i].size > SMALL_FILE) continue;
    small_put_t *s = &p[n];
    s->file = &m->files[i];
    if ((rc = file_key(prefix, s->file, s->key, sizeof s->key, err, errlen)) ||
        (rc = open_file(dir, s->file, &s->src, err, errlen)))
      break;
    items[n++] = (akidb_objstore_put_item_t){.key = s->key, .read = read_file,
                                             .read_ctx = &s->src,
                                             .opts = {.size = (int64_t)s->file->size}};
  }
  if (!rc && n) rc = akidb_objstore_put_many(store, items, n, 0, err, errlen);
  for (size_t i = 0; i < n; i++) {
    if (!rc) p[i].file->crc32c = items[i].result.crc32c;
    akidb_vfs_local()->close(akidb_vfs_local()->ctx, p[i].src.f);
  }
  free(items);
  free(p);
  return rc;
}

/* Small files together, then each large one (already max_parallel parts
 * at once); *total receives the bytes. */
static int upload_files(akidb_objstore_t *store, const char *dir, const char *prefix,
                        cold_manifest_t *m, uint64_t *total, char *err, size_t errlen) {
  int rc = upload_small_files(store, dir, prefix, m, err, errlen);
  *total = 0;
  for (size_t i = 0; !rc && i < m->n_files; i++) {
    if (m->files[i].size > SMALL_FILE)
      rc = upload_file(store, dir, prefix, &m->files[i], err, errlen);
    *total += m->files[i].size;
  }
  return rc;
}

static void now_rfc3339(char *out, size_t len) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int cold_new_generation(const char *collection_id, char *prefix, size_t len) {
  akidb_uuid_t gen;
  char text[AKIDB_UUID_STR_LEN + 1];
  if (akidb_uuid_v7(&gen)) return AKIDB_EIO;
  akidb_uuid_format(&gen, text);
  int n = snprintf(prefix, len, "cold/%s/%s/", collection_id, text);
  return n < 0 || (size_t)n >= len ? AKIDB_ELIMIT : AKIDB_OK;
}

int cold_upload(akidb_objstore_t *store, const char *dir, const char *collection_id,
                const char *prefix, char *manifest_key, size_t key_len, uint64_t *bytes,
                char *err, size_t errlen) {
  cold_manifest_t m = {0};
  snprintf(m.collection_id, sizeof m.collection_id, "%s", collection_id);
  now_rfc3339(m.created_at, sizeof m.created_at);
  int rc = list_files(dir, &m, err, errlen);
  uint64_t total = 0;
  if (!rc) rc = upload_files(store, dir, prefix, &m, &total, err, errlen);
  char *text = rc ? NULL : cold_manifest_encode(&m);
  if (!rc && !text) rc = errf(err, errlen, AKIDB_ENOMEM, "out of memory");
  if (!rc && snprintf(manifest_key, key_len, "%smanifest.json", prefix) >= (int)key_len)
    rc = errf(err, errlen, AKIDB_ELIMIT, "manifest key too long");
  akidb_objstore_result_t res = {0};
  if (!rc) rc = akidb_objstore_put_buffer(store, manifest_key, text, strlen(text), &res, err, errlen);
  free(text);
  cold_manifest_free(&m);
  if (rc) {
    char ignored[256];
    cold_delete_prefix(store, prefix, ignored, sizeof ignored);
    return rc;
  }
  if (bytes) *bytes = total + res.size;
  return AKIDB_OK;
}

/* ------------------------------------------------------------- download -- */

static int read_manifest(akidb_objstore_t *store, const char *key, cold_manifest_t *m, char *err,
                         size_t errlen) {
  char *text = NULL;
  size_t len = 0;
  int rc = akidb_objstore_get_all(store, key, COLD_MANIFEST_MAX, &text, &len, err, errlen);
  if (rc == AKIDB_ELIMIT) rc = AKIDB_EFORMAT; /* not a manifest of ours */
  if (!rc) rc = cold_manifest_decode(text, len, m, err, errlen);
  free(text);
  return rc;
}

typedef struct {
  akidb_vfs_file_t *f;
  uint64_t off;
  int e;
} file_sink_t;

static int write_file(void *ctx, const void *buf, size_t len) {
  file_sink_t *s = ctx;
  struct iovec iov = {(void *)buf, len};
  uint64_t done = 0;
  s->e = akidb_vfs_write_all(akidb_vfs_local(), s->f, &iov, 1, s->off, len, &done);
  s->off += done;
  return s->e ? AKIDB_EIO : 0;
}

static int download_file(akidb_objstore_t *store, const char *prefix, const char *dir,
                         const cold_file_t *f, char *err, size_t errlen) {
  const akidb_vfs_t *vfs = akidb_vfs_local();
  char path[4400], key[AKIDB_OBJSTORE_KEY_MAX + 1];
  snprintf(path, sizeof path, "%s/%s", dir, f->path);
  if (strchr(f->path, '/')) { /* its subdirectory */
    char sub[4400];
    snprintf(sub, sizeof sub, "%s/%.*s", dir, (int)(strchr(f->path, '/') - f->path), f->path);
    int e = akidb_vfs_mkdir_durable(vfs, sub);
    if (e) return errf(err, errlen, AKIDB_EIO, "cannot create %s: %s", sub, strerror(e));
  }
  if (snprintf(key, sizeof key, "%sfiles/%s", prefix, f->path) >= (int)sizeof key)
    return errf(err, errlen, AKIDB_ELIMIT, "object key too long for %s", f->path);
  file_sink_t sink = {0};
  int e = vfs->open(vfs->ctx, path, AKIDB_VFS_WRITE | AKIDB_VFS_CREATE | AKIDB_VFS_EXCL, &sink.f);
  if (e) return errf(err, errlen, AKIDB_EIO, "cannot create %s: %s", path, strerror(e));
  akidb_objstore_get_options_t go = {.has_expected = true, .expected_size = f->size,
                                     .expected_crc32c = f->crc32c};
  int rc = akidb_objstore_get(store, key, &go, write_file, &sink, NULL, err, errlen);
  if (rc && sink.e) errf(err, errlen, AKIDB_EIO, "writing %s: %s", path, strerror(sink.e));
  if (!rc && (e = vfs->sync(vfs->ctx, sink.f, 0)))
    rc = errf(err, errlen, AKIDB_EIO, "cannot sync %s: %s", path, strerror(e));
  vfs->close(vfs->ctx, sink.f);
  return rc;
}

int cold_download(akidb_objstore_t *store, const char *manifest_key, const char *dir,
                  uint64_t *bytes, char *err, size_t errlen) {
  const akidb_vfs_t *vfs = akidb_vfs_local();
  cold_manifest_t m;
  int rc = read_manifest(store, manifest_key, &m, err, errlen);
  if (rc) return rc;
  char prefix[AKIDB_OBJSTORE_KEY_MAX];
  cold_generation_prefix(manifest_key, prefix, sizeof prefix);
  int e = vfs->mkdir(vfs->ctx, dir);
  if (e) rc = errf(err, errlen, AKIDB_EIO, "cannot create %s: %s", dir, strerror(e));
  uint64_t total = 0;
  for (size_t i = 0; !rc && i < m.n_files; i++) {
    rc = download_file(store, prefix, dir, &m.files[i], err, errlen);
    total += m.files[i].size;
  }
  for (size_t i = 0; !rc && i < m.n_files; i++) { /* the subdirectories' entries */
    const char *slash = strchr(m.files[i].path, '/');
    if (!slash) continue;
    char sub[4400];
    snprintf(sub, sizeof sub, "%s/%.*s", dir, (int)(slash - m.files[i].path), m.files[i].path);
    if ((e = vfs->sync_dir(vfs->ctx, sub))) rc = errf(err, errlen, AKIDB_EIO, "sync %s", sub);
  }
  if (!rc && (e = vfs->sync_dir(vfs->ctx, dir))) rc = errf(err, errlen, AKIDB_EIO, "sync %s", dir);
  cold_manifest_free(&m);
  if (rc) akidb_vfs_remove_tree(vfs, dir);
  else if (bytes) *bytes = total;
  return rc;
}

/* --------------------------------------------------------------- delete -- */

int cold_delete_prefix(akidb_objstore_t *store, const char *prefix, char *err, size_t errlen) {
  char key[AKIDB_OBJSTORE_KEY_MAX + 1];
  snprintf(key, sizeof key, "%smanifest.json", prefix);
  return akidb_objstore_delete_prefix(store, key, prefix, err, errlen);
}
