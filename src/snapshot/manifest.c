/*
 * snapshot/manifest.c — owns the snapshot manifest's JSON form: encoding
 * one, and a strict decoder for one read back from an object store (which
 * anyone with write access to the bucket may have changed): every field is
 * checked for presence, type and range, names and file names are checked
 * as the catalog would, and a newer format version is refused by name.
 *
 * Locking: none (pure functions). Durability: none here (see snapshot.c).
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "akidb/text.h"
#include "akidb/index.h"
#include "snapshot/snapshot.h"

/* ------------------------------------------------------------- encode -- */

static json_t *files_json(const snap_manifest_t *m) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < m->n_files; i++) {
    const snap_file_t *f = &m->files[i];
    char crc[16];
    snprintf(crc, sizeof crc, "%08" PRIx32, f->crc32c);
    json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:I, s:s}", "name", f->name, "format",
                                       "parquet", "rows", (json_int_t)f->rows, "size",
                                       (json_int_t)f->size, "crc32c", crc));
  }
  return a;
}

static json_t *collection_json(const snap_manifest_t *m) {
  json_t *emb = m->embedding_json[0] ? json_loads(m->embedding_json, 0, NULL) : json_null();
  return json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:{s:i, s:i, s:i}, s:o, s:{s:f, s:f}}",
                   "id", m->collection_id, "tenant", m->tenant, "database", m->database, "name",
                   m->collection, "dimension", (int)m->dimension, "metric",
                   akidb_metric_name(m->metric), "hnsw", "m", (int)m->hnsw_m, "ef_construction",
                   (int)m->hnsw_ef_construction, "ef_search", (int)m->hnsw_ef_search,
                   "embedding", emb ? emb : json_null(), "bm25", "k1", m->bm25_k1, "b",
                   m->bm25_b);
}

char *snap_manifest_encode(const snap_manifest_t *m) {
  json_t *root = json_pack("{s:s, s:i, s:s, s:s, s:s, s:o, s:I, s:I, s:o}", "format", SNAP_FORMAT,
                           "format_version", SNAP_FORMAT_VERSION, "snapshot_id", m->snapshot_id,
                           "created_at", m->created_at, "akidb_version", m->akidb_version,
                           "collection", collection_json(m), "log_seq", (json_int_t)m->log_seq,
                           "points", (json_int_t)m->points, "files", files_json(m));
  if (!root) return NULL;
  char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
  json_decref(root);
  return text;
}

/* ------------------------------------------------------------- decode -- */

typedef struct {
  char *err;
  size_t errlen;
} why_t;

static int bad(why_t *w, const char *field, const char *want) {
  snprintf(w->err, w->errlen, "snapshot manifest: field '%s' %s", field, want);
  return AKIDB_EFORMAT;
}

/* A string field of 1..cap-1 bytes (0.. when empty_ok) copied into out. */
static int get_string(why_t *w, json_t *o, const char *key, const char *field, char *out,
                      size_t cap, bool empty_ok) {
  json_t *v = json_object_get(o, key);
  if (!json_is_string(v)) return bad(w, field, "is missing or not a string");
  size_t n = json_string_length(v);
  if ((!empty_ok && n == 0) || n >= cap || strlen(json_string_value(v)) != n)
    return bad(w, field, "has a bad length or holds a NUL");
  memcpy(out, json_string_value(v), n + 1);
  return AKIDB_OK;
}

/* An integer field in [lo, hi]. */
static int get_uint(why_t *w, json_t *o, const char *key, const char *field, uint64_t lo,
                    uint64_t hi, uint64_t *out) {
  json_t *v = json_object_get(o, key);
  if (!json_is_integer(v)) return bad(w, field, "is missing or not an integer");
  json_int_t x = json_integer_value(v);
  if (x < 0 || (uint64_t)x < lo || (uint64_t)x > hi) {
    snprintf(w->err, w->errlen, "snapshot manifest: field '%s' is %lld, outside %llu..%llu",
             field, (long long)x, (unsigned long long)lo, (unsigned long long)hi);
    return AKIDB_EFORMAT;
  }
  *out = (uint64_t)x;
  return AKIDB_OK;
}

static int get_u32(why_t *w, json_t *o, const char *key, const char *field, uint32_t lo,
                   uint32_t hi, uint32_t *out) {
  uint64_t v = 0;
  int rc = get_uint(w, o, key, field, lo, hi, &v);
  *out = (uint32_t)v;
  return rc;
}

/* A file name: [A-Za-z0-9._-]{1,255}, not "." or "..". */
static bool file_name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 255 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '.' || c == '_' || c == '-'))
      return false;
  }
  return true;
}

static int get_crc(why_t *w, json_t *o, const char *field, uint32_t *out) {
  char hex[16];
  int rc = get_string(w, o, "crc32c", field, hex, sizeof hex, false);
  if (rc) return rc;
  unsigned v = 0;
  int used = 0;
  if (strlen(hex) != 8 || sscanf(hex, "%8x%n", &v, &used) != 1 || used != 8)
    return bad(w, field, "must be 8 hexadecimal digits");
  *out = (uint32_t)v;
  return AKIDB_OK;
}

static int decode_file(why_t *w, json_t *f, size_t i, snap_file_t *out) {
  char field[64];
  if (!json_is_object(f)) {
    snprintf(field, sizeof field, "files[%zu]", i);
    return bad(w, field, "is not an object");
  }
  snprintf(field, sizeof field, "files[%zu].name", i);
  int rc = get_string(w, f, "name", field, out->name, sizeof out->name, false);
  if (!rc && !file_name_ok(out->name)) rc = bad(w, field, "is not a plain file name");
  json_t *fmt = json_object_get(f, "format");
  snprintf(field, sizeof field, "files[%zu].format", i);
  if (!rc && (!json_is_string(fmt) || strcmp(json_string_value(fmt), "parquet") != 0))
    rc = bad(w, field, "must be \"parquet\"");
  snprintf(field, sizeof field, "files[%zu].size", i);
  if (!rc) rc = get_uint(w, f, "size", field, 0, INT64_MAX, &out->size);
  snprintf(field, sizeof field, "files[%zu].rows", i);
  if (!rc) rc = get_uint(w, f, "rows", field, 0, INT64_MAX, &out->rows);
  snprintf(field, sizeof field, "files[%zu].crc32c", i);
  if (!rc) rc = get_crc(w, f, field, &out->crc32c);
  return rc;
}

static int decode_files(why_t *w, json_t *root, snap_manifest_t *m) {
  json_t *a = json_object_get(root, "files");
  if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > SNAP_FILES_MAX)
    return bad(w, "files", "must be an array of 1..64 files");
  m->n_files = json_array_size(a);
  for (size_t i = 0; i < m->n_files; i++) {
    int rc = decode_file(w, json_array_get(a, i), i, &m->files[i]);
    if (rc) return rc;
  }
  return AKIDB_OK;
}

static int decode_names(why_t *w, json_t *c, snap_manifest_t *m) {
  int rc = get_string(w, c, "id", "collection.id", m->collection_id, sizeof m->collection_id,
                      false);
  akidb_uuid_t id;
  if (!rc && akidb_uuid_parse(m->collection_id, &id)) rc = bad(w, "collection.id", "is not a UUID");
  if (!rc) rc = get_string(w, c, "tenant", "collection.tenant", m->tenant, sizeof m->tenant, false);
  if (!rc)
    rc = get_string(w, c, "database", "collection.database", m->database, sizeof m->database,
                    false);
  if (!rc)
    rc = get_string(w, c, "name", "collection.name", m->collection, sizeof m->collection, false);
  char why[256];
  if (!rc && (akidb_check_object_name(m->database, "database", why, sizeof why) ||
              akidb_check_object_name(m->collection, "name", why, sizeof why)))
    rc = bad(w, "collection", "names a database or collection the catalog would refuse");
  return rc;
}

static int decode_index(why_t *w, json_t *c, snap_manifest_t *m) {
  int rc = get_u32(w, c, "dimension", "collection.dimension", AKIDB_DIM_MIN, AKIDB_DIM_MAX,
                   &m->dimension);
  char metric[16];
  if (!rc) rc = get_string(w, c, "metric", "collection.metric", metric, sizeof metric, false);
  if (!rc && akidb_metric_parse(metric, &m->metric))
    rc = bad(w, "collection.metric", "must be \"cosine\", \"l2\" or \"dot\"");
  json_t *h = json_object_get(c, "hnsw");
  if (!rc && !json_is_object(h)) rc = bad(w, "collection.hnsw", "is missing or not an object");
  if (!rc)
    rc = get_u32(w, h, "m", "collection.hnsw.m", AKIDB_HNSW_M_MIN, AKIDB_HNSW_M_MAX, &m->hnsw_m);
  if (!rc)
    rc = get_u32(w, h, "ef_construction", "collection.hnsw.ef_construction",
                 AKIDB_HNSW_EF_CONSTRUCTION_MIN, AKIDB_HNSW_EF_CONSTRUCTION_MAX,
                 &m->hnsw_ef_construction);
  if (!rc)
    rc = get_u32(w, h, "ef_search", "collection.hnsw.ef_search", AKIDB_HNSW_EF_SEARCH_MIN,
                 AKIDB_HNSW_EF_SEARCH_MAX, &m->hnsw_ef_search);
  return rc;
}

static int decode_embedding(why_t *w, json_t *c, snap_manifest_t *m) {
  json_t *e = json_object_get(c, "embedding");
  m->embedding_json[0] = '\0';
  if (!e || json_is_null(e)) return AKIDB_OK;
  if (!json_is_object(e)) return bad(w, "collection.embedding", "must be an object or null");
  char *text = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
  if (!text) return AKIDB_ENOMEM;
  size_t n = strlen(text);
  int rc = n <= SNAP_EMBEDDING_MAX ? AKIDB_OK : bad(w, "collection.embedding", "is too long");
  if (!rc) memcpy(m->embedding_json, text, n + 1);
  free(text);
  return rc;
}

/* A number of the "bm25" object in [lo, hi] into *out. */
static int get_bm25(why_t *w, json_t *o, const char *key, const char *where, double lo,
                    double hi, double *out) {
  json_t *v = json_object_get(o, key);
  if (!json_is_number(v)) return bad(w, where, "is missing or not a number");
  double d = json_number_value(v);
  if (!(d >= lo && d <= hi)) return bad(w, where, "is out of range");
  *out = d;
  return AKIDB_OK;
}

/* "bm25": {"k1", "b"}; manifests written before it existed have none. */
static int decode_bm25(why_t *w, json_t *c, snap_manifest_t *m) {
  m->bm25_k1 = AKIDB_TEXT_BM25_K1_DEFAULT;
  m->bm25_b = AKIDB_TEXT_BM25_B_DEFAULT;
  json_t *b = json_object_get(c, "bm25");
  if (!b) return AKIDB_OK;
  if (!json_is_object(b)) return bad(w, "collection.bm25", "must be an object");
  int rc = get_bm25(w, b, "k1", "collection.bm25.k1", AKIDB_TEXT_BM25_K1_MIN,
                    AKIDB_TEXT_BM25_K1_MAX, &m->bm25_k1);
  return rc ? rc
            : get_bm25(w, b, "b", "collection.bm25.b", AKIDB_TEXT_BM25_B_MIN,
                       AKIDB_TEXT_BM25_B_MAX, &m->bm25_b);
}

static int decode_root(why_t *w, json_t *root, snap_manifest_t *m) {
  if (!json_is_object(root)) return bad(w, "(root)", "is not a JSON object");
  json_t *fmt = json_object_get(root, "format");
  if (!json_is_string(fmt) || strcmp(json_string_value(fmt), SNAP_FORMAT) != 0)
    return bad(w, "format", "must be \"" SNAP_FORMAT "\": this is not an AkiDB snapshot");
  uint64_t version = 0;
  int rc = get_uint(w, root, "format_version", "format_version", 1, INT32_MAX, &version);
  if (rc) return rc;
  if (version > SNAP_FORMAT_VERSION) {
    snprintf(w->err, w->errlen, "snapshot manifest: format version %llu was written by a newer "
             "AkiDB; this build reads version %d: upgrade akidb to restore it",
             (unsigned long long)version, SNAP_FORMAT_VERSION);
    return AKIDB_EVERSION;
  }
  m->format_version = (int)version;
  rc = get_string(w, root, "snapshot_id", "snapshot_id", m->snapshot_id, sizeof m->snapshot_id,
                  false);
  if (!rc) rc = get_string(w, root, "created_at", "created_at", m->created_at,
                           sizeof m->created_at, false);
  if (!rc) rc = get_string(w, root, "akidb_version", "akidb_version", m->akidb_version,
                           sizeof m->akidb_version, false);
  json_t *c = json_object_get(root, "collection");
  if (!rc && !json_is_object(c)) rc = bad(w, "collection", "is missing or not an object");
  if (!rc) rc = decode_names(w, c, m);
  if (!rc) rc = decode_index(w, c, m);
  if (!rc) rc = decode_embedding(w, c, m);
  if (!rc) rc = decode_bm25(w, c, m);
  if (!rc) rc = get_uint(w, root, "log_seq", "log_seq", 0, INT64_MAX, &m->log_seq);
  if (!rc) rc = get_uint(w, root, "points", "points", 0, INT64_MAX, &m->points);
  if (!rc) rc = decode_files(w, root, m);
  return rc;
}

int snap_manifest_decode(const char *text, size_t len, snap_manifest_t *out, char *err,
                         size_t errlen) {
  memset(out, 0, sizeof *out);
  why_t w = {err, errlen};
  if (len > SNAP_MANIFEST_MAX) return bad(&w, "(root)", "is over 1 MiB: not a manifest");
  json_error_t je;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!root) {
    snprintf(err, errlen, "snapshot manifest is not valid JSON: %s at line %d, column %d",
             je.text, je.line, je.column);
    return AKIDB_EFORMAT;
  }
  int rc = decode_root(&w, root, out);
  json_decref(root);
  if (rc) memset(out, 0, sizeof *out);
  return rc;
}
