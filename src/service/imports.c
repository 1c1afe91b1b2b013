/*
 * imports.c — owns uploads and imports: a tenant uploads a file (bytes, at
 * most limits.max_body_bytes) into the object store under
 * uploads/<tenant id>/<name>, lists and deletes its uploads, and imports a
 * Parquet upload (written by DuckDB, pandas, Spark or AkiDB) into a
 * collection: an id column (string or integer), a vector column (a list of
 * float or double, or a fixed-size array), optional text and JSON payload
 * columns, every other scalar column into the payload (src/parquet/
 * import.c).
 *
 * An import is all-or-nothing for bad input: a first pass reads every row
 * and checks it (dimension, finite values, id and payload sizes) without
 * writing; only a file that passes is upserted, in batches, in a second
 * pass. (A durability failure in the second pass can leave the batches
 * before it applied; the answer says how many.)
 *
 * Locking: none of its own. Durability: an upload exists once the store's
 * put returned; imported points as their upserts are.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/errf.h"
#include "obs/metrics.h"
#include "parquet/parquet.h"
#include "service/svc_internal.h"
#include "snapshot/snapshot.h"

#define UPLOAD_NAME_MAX 200u

/* ------------------------------------------------------------- helpers -- */


/* [A-Za-z0-9_-][A-Za-z0-9._-]{0,199}, without ".tmp-". */
static bool upload_name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > UPLOAD_NAME_MAX || s[0] == '.' || strstr(s, ".tmp-")) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '.' || c == '_' || c == '-'))
      return false;
  }
  return true;
}

static int check_name(svc_call_t *c, const char *name) {
  if (!name || !upload_name_ok(name))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "upload name '%.64s' must be 1..200 characters of A-Z a-z 0-9 . _ -, not "
                    "starting with '.'", name ? name : "");
  return 0;
}

/* "uploads/<tenant id>/" (+ name) */
static void upload_key(const svc_call_t *c, const char *name, char *out, size_t len) {
  char id[AKIDB_UUID_STR_LEN + 1];
  akidb_uuid_format(&c->tenant.id, id);
  snprintf(out, len, "uploads/%s/%s", id, name ? name : "");
}

static int fail_store(svc_call_t *c, int rc, const char *err) {
  if (rc == AKIDB_EUNAVAILABLE || rc == AKIDB_ETIMEDOUT)
    return svc_fail(c, AKIDB_ST_UNAVAILABLE, "the object store is unavailable: %s", err);
  return svc_fail_code(c, rc, err);
}

/* -------------------------------------------------------------- uploads -- */

int svc_op_upload_put(svc_call_t *c) {
  const akidb_upload_put_args_t *a = c->req->args;
  if (svc_resolve_tenant(c, AKIDB_ACT_POINT_WRITE) || check_name(c, c->req->upload)) return -1;
  if (!a->data || a->len == 0)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "the upload is empty: send the file's bytes "
                    "as the body (Content-Type: application/octet-stream)");
  if (svc_check_write_quota(c, a->len, 0)) return -1;
  char key[AKIDB_OBJECT_KEY_MAX + 1], err[512] = "";
  upload_key(c, c->req->upload, key, sizeof key);
  akidb_objstore_result_t res;
  int rc = akidb_objstore_put_buffer(c->svc->store, key, a->data, a->len, &res, err, sizeof err);
  if (rc) return fail_store(c, rc, err);
  akidb_upload_t *u = &c->res->result.upload;
  snprintf(u->name, sizeof u->name, "%s", c->req->upload);
  u->bytes = res.size;
  u->crc32c = res.crc32c;
  return svc_created(c);
}

typedef struct {
  akidb_uploads_result_t *r;
  size_t cap;
  size_t skip; /* bytes of "uploads/<tenant id>/" */
} list_ctx_t;

static int add_upload(void *ctx, const akidb_objstore_entry_t *e) {
  list_ctx_t *l = ctx;
  if (l->r->count == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    akidb_upload_t *p = realloc(l->r->items, cap * sizeof *p);
    if (!p) return AKIDB_ENOMEM;
    l->r->items = p;
    l->cap = cap;
  }
  akidb_upload_t *u = &l->r->items[l->r->count++];
  memset(u, 0, sizeof *u);
  snprintf(u->name, sizeof u->name, "%s", e->key + l->skip);
  u->bytes = e->size;
  u->modified_at_ms = e->last_modified * 1000;
  return 0;
}

int svc_op_upload_list(svc_call_t *c) {
  if (svc_resolve_tenant(c, AKIDB_ACT_POINT_READ)) return -1;
  char prefix[AKIDB_OBJECT_KEY_MAX + 1], err[512] = "";
  upload_key(c, NULL, prefix, sizeof prefix);
  list_ctx_t l = {.r = &c->res->result.uploads, .skip = strlen(prefix)};
  int rc = akidb_objstore_list(c->svc->store, prefix, add_upload, &l, err, sizeof err);
  if (rc == AKIDB_ENOMEM) return svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
  return rc ? fail_store(c, rc, err) : svc_result(c);
}

int svc_op_upload_delete(svc_call_t *c) {
  if (svc_resolve_tenant(c, AKIDB_ACT_POINT_WRITE) || check_name(c, c->req->upload)) return -1;
  char key[AKIDB_OBJECT_KEY_MAX + 1], err[512] = "";
  upload_key(c, c->req->upload, key, sizeof key);
  akidb_objstore_info_t info;
  int rc = akidb_objstore_head(c->svc->store, key, &info, err, sizeof err);
  if (rc == AKIDB_ENOTFOUND)
    return svc_fail(c, AKIDB_ST_NOT_FOUND, "upload '%s' not found in tenant '%s'",
                    c->req->upload, c->tenant.slug);
  if (!rc) rc = akidb_objstore_delete(c->svc->store, key, err, sizeof err);
  return rc ? fail_store(c, rc, err) : svc_done(c);
}

/* --------------------------------------------------------------- import -- */

typedef struct {
  akidb_objstore_t *store;
  const char *key;
  int rc;
  char err[256];
} source_t;

/* pq_read_at_fn over ranged GETs of the upload. */
static int read_range(void *ctx, uint64_t off, void *buf, size_t len) {
  source_t *src = ctx;
  int rc = akidb_objstore_read_at(src->store, src->key, off, buf, len, src->err, sizeof src->err);
  if (rc) src->rc = rc;
  return rc ? -1 : 0;
}

/* The import's arguments, checked. */
static int check_import(svc_call_t *c, const akidb_import_args_t *a) {
  if (!a->upload)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "field 'upload' (the uploaded file's name) is "
                    "required: PUT the file to /v1/tenants/{tenant}/uploads/{name} first");
  return check_name(c, a->upload);
}

/* Opens the reader and the row iterator over the upload. */
static int open_import(svc_call_t *c, source_t *src, uint64_t size, const akidb_import_args_t *a,
                       pq_reader_t **r, pq_import_t **it, char *err, size_t errlen) {
  int rc = pq_reader_open(read_range, src, size, NULL, r, err, errlen);
  if (rc) return rc;
  pq_import_options_t o;
  pq_import_options_default(&o);
  o.id_column = a->id_column;
  o.vector_column = a->vector_column;
  o.text_column = a->text_column;
  o.payload_column = a->payload_column;
  o.extra_columns = a->has_extra_columns ? a->extra_columns : true;
  o.dimension = c->meta.dimension;
  if ((rc = pq_import_open(*r, &o, it, err, errlen))) {
    pq_reader_free(*r);
    *r = NULL;
  }
  return rc;
}

/* Pass 1: every row is one the collection takes. */
static int check_row(svc_call_t *c, const pq_row_t *row, char *err, size_t errlen) {
  const akidb_limits_t *l = &c->svc->opt.limits;
  if (row->id_len == 0 || row->id_len > l->max_id_bytes)
    return errf(err, errlen, AKIDB_EINVAL, "row %" PRIu64 ": id is %zu bytes; ids are 1..%u bytes",
                row->row, row->id_len, l->max_id_bytes);
  if (row->payload_len > l->max_payload_bytes)
    return errf(err, errlen, AKIDB_EINVAL,
                "row %" PRIu64 ": payload is %zu bytes, over limits.max_payload_bytes (%" PRIu64
                ")", row->row, row->payload_len, l->max_payload_bytes);
  bool zero = true;
  for (uint32_t d = 0; d < row->dimension; d++) {
    if (!isfinite(row->vector[d]))
      return errf(err, errlen, AKIDB_EVALUE, "row %" PRIu64 ": vector value %u is NaN or infinite",
                  row->row, d);
    zero = zero && row->vector[d] == 0.0f;
  }
  if (zero && c->meta.metric == AKIDB_METRIC_COSINE)
    return errf(err, errlen, AKIDB_EVALUE,
                "row %" PRIu64 ": a zero vector has no direction (cosine)", row->row);
  return AKIDB_OK;
}

/* Pass 1 over a fresh iterator: checks every row; *rows, *bytes. */
static int check_rows(svc_call_t *c, pq_import_t *it, uint64_t *rows, uint64_t *bytes, char *err,
                      size_t errlen) {
  pq_row_t row;
  int more;
  while ((more = pq_import_next(it, &row, err, errlen)) > 0) {
    int rc = check_row(c, &row, err, errlen);
    if (rc) return rc;
    (*rows)++;
    *bytes += (uint64_t)row.dimension * 4 + row.id_len + row.payload_len + row.text_len;
  }
  return more;
}

int svc_op_point_import(svc_call_t *c) {
  const akidb_import_args_t *a = c->req->args;
  const char *upload = a->upload;
  if (check_import(c, a) || svc_resolve_tenant(c, AKIDB_ACT_POINT_WRITE) ||
      svc_resolve_database(c) || svc_resolve_collection(c))
    return -1;
  char key[AKIDB_OBJECT_KEY_MAX + 1], err[512] = "";
  upload_key(c, upload, key, sizeof key);
  akidb_objstore_info_t info;
  int rc = akidb_objstore_head(c->svc->store, key, &info, err, sizeof err);
  if (rc == AKIDB_ENOTFOUND)
    return svc_fail(c, AKIDB_ST_NOT_FOUND, "upload '%s' not found in tenant '%s'", upload,
                    c->tenant.slug);
  if (rc) return fail_store(c, rc, err);
  source_t src = {.store = c->svc->store, .key = key};
  pq_reader_t *r = NULL;
  pq_import_t *it = NULL;
  uint64_t rows = 0, bytes = 0, done = 0;
  rc = open_import(c, &src, info.size, a, &r, &it, err, sizeof err);
  if (!rc) rc = check_rows(c, it, &rows, &bytes, err, sizeof err);
  pq_import_free(it);
  pq_reader_free(r);
  it = NULL;
  r = NULL;
  if (src.rc) return fail_store(c, src.rc, src.err);
  if (rc) return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "upload '%s' cannot be imported: %s",
                          upload, err);
  if (svc_check_write_quota(c, bytes, bytes) ||
      svc_check_deadline(c, "the import began to write (nothing was written)"))
    return -1;
  rc = open_import(c, &src, info.size, a, &r, &it, err, sizeof err);
  if (!rc) rc = snap_upsert_rows(it, c->coll->c, &done, err, sizeof err);
  pq_import_free(it);
  pq_reader_free(r);
  if (src.rc) return fail_store(c, src.rc, src.err);
  if (rc)
    return svc_fail(c, rc == AKIDB_EBUSY ? AKIDB_ST_RATE_LIMITED : AKIDB_ST_INTERNAL,
                    "import of '%s' stopped after %" PRIu64 " of %" PRIu64 " points: %s", upload,
                    done, rows, err);
  obs_upsert_observe(0, (uint32_t)(done > UINT32_MAX ? UINT32_MAX : done));
  akidb_import_result_t *res = &c->res->result.import;
  snprintf(res->upload, sizeof res->upload, "%s", upload);
  res->imported = done;
  return svc_result(c);
}
