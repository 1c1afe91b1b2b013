/*
 * tier/cold.h — the cold copy of a collection: every file of its data
 * directory (collection.meta, the checkpoint files, the log segments under
 * wal/) uploaded to an object store under one prefix, with a manifest
 * written last:
 *
 *   cold/<collection id>/<generation>/files/<path>   the files
 *   cold/<collection id>/<generation>/manifest.json  {"format":"akidb-cold",
 *       "format_version":1,"collection_id","created_at","files":[{"path",
 *       "size","crc32c"}]}
 *
 * A generation (a fresh UUIDv7 per upload) keeps one upload's objects apart
 * from another's, so deleting an old generation never touches a new one.
 * The caller (the service's tiering) owns the order of events: upload
 * (confirmed, manifest last) → catalog records the manifest → local files
 * deleted; and back: download (checksums verified) → fsync → rename into
 * place → catalog forgets the manifest → remote objects deleted.
 *
 * Thread safety: no state of its own. Errors are AKIDB_* codes with one
 * sentence in `err`.
 */
#ifndef AKIDB_TIER_COLD_H
#define AKIDB_TIER_COLD_H

#include <stddef.h>
#include <stdint.h>

#include "akidb/objstore.h"

#define COLD_FORMAT "akidb-cold"
#define COLD_FORMAT_VERSION 1
#define COLD_FILES_MAX 4096u     /* files of one collection directory */
#define COLD_PATH_MAX 255u       /* bytes of a file's relative path */
#define COLD_MANIFEST_MAX (4u << 20)

typedef struct {
  char path[COLD_PATH_MAX + 1]; /* relative: "checkpoint-....akc", "wal/....wal" */
  uint64_t size;
  uint32_t crc32c;
} cold_file_t;

typedef struct {
  char collection_id[40];
  char created_at[40];
  size_t n_files;
  cold_file_t *files; /* malloc'd; cold_manifest_free */
} cold_manifest_t;

void cold_manifest_free(cold_manifest_t *m);

/* "cold/<collection id>/" — every generation of a collection. */
void cold_collection_prefix(const char *collection_id, char *out, size_t len);

/* A new generation's prefix for `collection_id`: "cold/<id>/<uuid>/". */
int cold_new_generation(const char *collection_id, char *prefix, size_t len);

/* Uploads every regular file under `dir` (one level of subdirectories) to
 * the generation `prefix` (cold_new_generation) of `collection_id`, then the
 * manifest. *manifest_key
 * receives the manifest's key and *bytes (may be NULL) the bytes uploaded.
 * On failure what was uploaded is deleted (best effort) and no manifest
 * exists. The directory must not change meanwhile (the caller holds the
 * collection closed). */
int cold_upload(akidb_objstore_t *store, const char *dir, const char *collection_id,
                const char *prefix, char *manifest_key, size_t key_len, uint64_t *bytes,
                char *err, size_t errlen);

/* Downloads the copy named by `manifest_key` into `dir` (created; must not
 * exist), each file's size and CRC-32C verified, each file and directory
 * fsynced. On failure `dir` is removed. *bytes (may be NULL) receives the
 * bytes downloaded. */
int cold_download(akidb_objstore_t *store, const char *manifest_key, const char *dir,
                  uint64_t *bytes, char *err, size_t errlen);

/* The generation prefix ("cold/<id>/<generation>/") of a manifest key. */
void cold_generation_prefix(const char *manifest_key, char *out, size_t len);

/* Deletes every object under `prefix` (absent: fine). The manifest first
 * when the prefix holds one, so no reader takes a half-deleted copy. */
int cold_delete_prefix(akidb_objstore_t *store, const char *prefix, char *err, size_t errlen);

/* The manifest as JSON text (malloc'd), and back (strict: names what is
 * wrong; AKIDB_EFORMAT, AKIDB_EVERSION, AKIDB_ENOMEM). */
char *cold_manifest_encode(const cold_manifest_t *m);
int cold_manifest_decode(const char *text, size_t len, cold_manifest_t *out, char *err,
                         size_t errlen);

#endif /* AKIDB_TIER_COLD_H */
