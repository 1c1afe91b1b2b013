/*
 * snapshot.c — owns the catalog's record of snapshots: create (state
 * creating), finish (ready with its log position and sizes, or failed with
 * the reason), read, list per tenant (or per source collection) and delete.
 * The objects themselves live in the object store; the service writes them
 * between create and finish and removes them before delete.
 *
 * Locking and durability: as tenant.c (reads on a reader; each mutation in
 * one write scope, with its audit row when it has one). The state machine
 * creating → ready | failed is also enforced by a trigger (schema.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_internal.h"

static const char *const state_names[AKIDB_SNAPSHOT_STATE_COUNT] = {"creating", "ready",
                                                                     "failed"};

const char *akidb_snapshot_state_name(akidb_snapshot_state_t s) {
  return (int)s >= 0 && s < AKIDB_SNAPSHOT_STATE_COUNT ? state_names[s] : "unknown";
}

static akidb_snapshot_state_t parse_state(const char *name) {
  for (int i = 0; i < AKIDB_SNAPSHOT_STATE_COUNT; i++)
    if (strcmp(name, state_names[i]) == 0) return (akidb_snapshot_state_t)i;
  return AKIDB_SNAPSHOT_FAILED;
}

#define SNAPSHOT_COLUMNS                                                                          \
  "id, tenant_id, collection_id, database_name, collection_name, state, log_seq, points, bytes, " \
  "manifest_key, error, created_at, updated_at FROM snapshots"

static void snapshot_row(sqlite3_stmt *s, void *item) {
  akidb_snapshot_t *p = item;
  char state[16];
  cat_col_uuid(s, 0, &p->id);
  cat_col_uuid(s, 1, &p->tenant_id);
  cat_col_uuid(s, 2, &p->collection_id);
  cat_col_text(s, 3, p->database_name, sizeof p->database_name);
  cat_col_text(s, 4, p->collection_name, sizeof p->collection_name);
  cat_col_text(s, 5, state, sizeof state);
  p->state = parse_state(state);
  p->log_seq = (uint64_t)sqlite3_column_int64(s, 6);
  p->points = (uint64_t)sqlite3_column_int64(s, 7);
  p->bytes = (uint64_t)sqlite3_column_int64(s, 8);
  cat_col_text(s, 9, p->manifest_key, sizeof p->manifest_key);
  cat_col_text(s, 10, p->error, sizeof p->error);
  p->created_at_ms = sqlite3_column_int64(s, 11);
  p->updated_at_ms = sqlite3_column_int64(s, 12);
}

static const char SQL_BY_ID[] = "SELECT " SNAPSHOT_COLUMNS " WHERE id = ?1";

static int read_by_id(catalog_conn_t *c, const akidb_uuid_t *id, akidb_snapshot_t *out, char *err,
                      size_t errlen) {
  return cat_get_one(c, SQL_BY_ID, id, NULL, snapshot_row, out, sizeof *out, "snapshot", err,
                     errlen);
}

/* A key of 1..AKIDB_OBJECT_KEY_MAX bytes, NUL-terminated in its field. */
static int check_key(const char *key, size_t cap, char *err, size_t errlen) {
  size_t n = strnlen(key, cap);
  if (n == 0 || n == cap || n > AKIDB_OBJECT_KEY_MAX)
    return cat_fail(err, errlen, AKIDB_EINVAL, "manifest_key must be 1..%u bytes",
                    AKIDB_OBJECT_KEY_MAX);
  return AKIDB_OK;
}

static int check_new(const akidb_snapshot_t *in, char *err, size_t errlen) {
  if (!in) return cat_fail(err, errlen, AKIDB_EINVAL, "snapshot is NULL");
  if (!memchr(in->database_name, '\0', sizeof in->database_name) ||
      !memchr(in->collection_name, '\0', sizeof in->collection_name))
    return cat_fail(err, errlen, AKIDB_EINVAL, "snapshot names are not NUL-terminated");
  int rc = akidb_check_object_name(in->database_name, "database_name", err, errlen);
  if (!rc) rc = akidb_check_object_name(in->collection_name, "collection_name", err, errlen);
  if (!rc) rc = check_key(in->manifest_key, sizeof in->manifest_key, err, errlen);
  return rc;
}

static int insert_snapshot(catalog_conn_t *c, const akidb_snapshot_t *in, const akidb_uuid_t *id,
                           char *err, size_t errlen) {
  static const char SQL[] =
      "INSERT INTO snapshots(id, tenant_id, collection_id, database_name, collection_name, "
      "state, manifest_key) VALUES (?1, ?2, ?3, ?4, ?5, 'creating', ?6)";
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) return AKIDB_EIO;
  cat_bind_uuid(s, 1, id);
  cat_bind_uuid(s, 2, &in->tenant_id);
  cat_bind_uuid(s, 3, &in->collection_id);
  cat_bind_text(s, 4, in->database_name);
  cat_bind_text(s, 5, in->collection_name);
  cat_bind_text(s, 6, in->manifest_key);
  int st = cat_step_done(s);
  if (cat_is_unique_violation(st))
    return cat_fail(err, errlen, AKIDB_EEXIST, "a snapshot with this id already exists");
  if (st != SQLITE_DONE) return cat_sqlite_fail(c->db, st, "inserting the snapshot", err, errlen);
  return AKIDB_OK;
}

int akidb_snapshot_create(akidb_catalog_t *cat, const akidb_snapshot_t *in,
                          akidb_snapshot_t *out, char *err, size_t errlen) {
  int rc = check_new(in, err, errlen);
  akidb_uuid_t id;
  if (!rc) rc = cat_new_id(&in->id, &id, err, errlen);
  if (rc) return rc;
  catalog_conn_t *c;
  if ((rc = cat_write_begin(cat, &c, err, errlen))) return rc;
  akidb_snapshot_t row;
  rc = cat_check_tenant_open(c, &in->tenant_id, "snapshots", err, errlen);
  if (!rc) rc = insert_snapshot(c, in, &id, err, errlen);
  if (!rc) rc = read_by_id(c, &id, &row, err, errlen);
  rc = cat_write_end(cat, rc, err, errlen);
  if (!rc && out) *out = row;
  return rc;
}

static int update_finish(catalog_conn_t *c, const akidb_uuid_t *id, akidb_snapshot_state_t state,
                         uint64_t log_seq, uint64_t points, uint64_t bytes, const char *error,
                         char *err, size_t errlen) {
  static const char SQL[] =
      "UPDATE snapshots SET state = ?2, log_seq = ?3, points = ?4, bytes = ?5, error = ?6 "
      "WHERE id = ?1";
  char cut[AKIDB_OBJECT_ERROR_MAX + 1];
  snprintf(cut, sizeof cut, "%s", error ? error : "");
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) return AKIDB_EIO;
  cat_bind_uuid(s, 1, id);
  cat_bind_text(s, 2, akidb_snapshot_state_name(state));
  sqlite3_bind_int64(s, 3, (int64_t)log_seq);
  sqlite3_bind_int64(s, 4, (int64_t)points);
  sqlite3_bind_int64(s, 5, (int64_t)bytes);
  cat_bind_text(s, 6, cut);
  int st = cat_step_done(s);
  if (st != SQLITE_DONE) return cat_sqlite_fail(c->db, st, "finishing the snapshot", err, errlen);
  return AKIDB_OK;
}

int akidb_snapshot_finish(akidb_catalog_t *cat, const akidb_uuid_t *id,
                          akidb_snapshot_state_t state, uint64_t log_seq, uint64_t points,
                          uint64_t bytes, const char *error, akidb_snapshot_t *out, char *err,
                          size_t errlen) {
  if (!id) return cat_fail(err, errlen, AKIDB_EINVAL, "snapshot id is NULL");
  if (state != AKIDB_SNAPSHOT_READY && state != AKIDB_SNAPSHOT_FAILED)
    return cat_fail(err, errlen, AKIDB_EINVAL, "a snapshot finishes as ready or failed");
  if (log_seq > INT64_MAX || points > INT64_MAX || bytes > INT64_MAX)
    return cat_fail(err, errlen, AKIDB_EINVAL, "snapshot figures out of range");
  catalog_conn_t *c;
  int rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  akidb_snapshot_t row;
  rc = read_by_id(c, id, &row, err, errlen);
  if (!rc && row.state != AKIDB_SNAPSHOT_CREATING)
    rc = cat_fail(err, errlen, AKIDB_ETRANSITION, "snapshot is %s already, not creating",
                  akidb_snapshot_state_name(row.state));
  if (!rc) rc = update_finish(c, id, state, log_seq, points, bytes, error, err, errlen);
  if (!rc) rc = read_by_id(c, id, &row, err, errlen);
  rc = cat_write_end(cat, rc, err, errlen);
  if (!rc && out) *out = row;
  return rc;
}

int akidb_snapshot_get(akidb_catalog_t *cat, const akidb_uuid_t *id, akidb_snapshot_t *out,
                       char *err, size_t errlen) {
  if (!id || !out) return cat_fail(err, errlen, AKIDB_EINVAL, "snapshot id or output is NULL");
  catalog_conn_t *c = cat_read_begin(cat);
  int rc = read_by_id(c, id, out, err, errlen);
  cat_read_end(cat, c);
  return rc;
}

int akidb_snapshot_list(akidb_catalog_t *cat, const akidb_uuid_t *tenant_id,
                        const akidb_uuid_t *collection_id, const akidb_page_t *page,
                        akidb_snapshot_list_t *out, char *err, size_t errlen) {
  static const char SQL_FIRST[] =
      "SELECT " SNAPSHOT_COLUMNS " WHERE tenant_id = ?1 ORDER BY id LIMIT ?3";
  static const char SQL_AFTER[] =
      "SELECT " SNAPSHOT_COLUMNS " WHERE tenant_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3";
  static const char SQL_COLL_FIRST[] =
      "SELECT " SNAPSHOT_COLUMNS " WHERE collection_id = ?1 ORDER BY id LIMIT ?3";
  static const char SQL_COLL_AFTER[] =
      "SELECT " SNAPSHOT_COLUMNS " WHERE collection_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3";
  memset(out, 0, sizeof *out);
  if (!tenant_id) return cat_fail(err, errlen, AKIDB_EINVAL, "tenant id is NULL");
  void *items = NULL;
  int rc = cat_list_run(cat, collection_id ? SQL_COLL_FIRST : SQL_FIRST,
                        collection_id ? SQL_COLL_AFTER : SQL_AFTER,
                        collection_id ? collection_id : tenant_id, page, sizeof(akidb_snapshot_t),
                        snapshot_row, &items, &out->count, &out->has_more, &out->next, err, errlen);
  out->items = items;
  /* a collection id of another tenant yields nothing */
  size_t k = 0;
  for (size_t i = 0; !rc && i < out->count; i++)
    if (akidb_uuid_compare(&out->items[i].tenant_id, tenant_id) == 0) out->items[k++] = out->items[i];
  if (!rc) out->count = k;
  return rc;
}

void akidb_snapshot_list_free(akidb_snapshot_list_t *list) {
  if (!list) return;
  free(list->items);
  memset(list, 0, sizeof *list);
}

int akidb_snapshot_delete(akidb_catalog_t *cat, const akidb_uuid_t *id,
                          const akidb_audit_ctx_t *audit, char *err, size_t errlen) {
  static const char SQL_DELETE[] = "DELETE FROM snapshots WHERE id = ?1";
  if (!id) return cat_fail(err, errlen, AKIDB_EINVAL, "snapshot id is NULL");
  catalog_conn_t *c;
  int rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  akidb_snapshot_t cur;
  rc = read_by_id(c, id, &cur, err, errlen);
  if (!rc) rc = cat_exec_by_id(c, SQL_DELETE, id, "deleting the snapshot", err, errlen);
  if (!rc && audit) {
    char slug[AKIDB_SLUG_MAX + 1], target[AKIDB_AUDIT_TARGET_MAX + 1], text[AKIDB_UUID_STR_LEN + 1];
    cat_tenant_slug(c, &cur.tenant_id, slug, sizeof slug);
    akidb_uuid_format(id, text);
    snprintf(target, sizeof target, "snapshot/%s/%s", slug, text);
    cat_json_t j;
    cat_json_begin(&j);
    cat_json_uuid(&j, "id", id);
    cat_json_str(&j, "database", cur.database_name);
    cat_json_str(&j, "collection", cur.collection_name);
    rc = cat_audit_write(c, audit, &cur.tenant_id, AKIDB_AUDIT_SNAPSHOT_DELETE, target,
                         AKIDB_AUDIT_SUCCESS, cat_json_end(&j), err, errlen);
  }
  return cat_write_end(cat, rc, err, errlen);
}
