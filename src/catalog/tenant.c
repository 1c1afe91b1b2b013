/*
 * tenant.c — owns tenants: create, read (by id, by slug), list, update
 * (name, quotas, status with the SPEC §1 transition rules), delete with the
 * cascade to everything the tenant owns, and the collection count used by
 * the max_collections quota.
 *
 * Locking: reads on a reader connection, mutations in one write scope on
 * the writer (the change and its audit rows commit together).
 * Durability: as catalog.c; a delete reports the removed collections only
 * after it committed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_internal.h"

#define TENANT_COLUMNS                                                                             \
  "id, slug, name, status, max_memory_bytes, max_storage_bytes, max_qps, max_collections, "        \
  "created_at, updated_at"

static void tenant_row(sqlite3_stmt *s, void *item) {
  akidb_tenant_t *t = item;
  char status[32];
  cat_col_uuid(s, 0, &t->id);
  cat_col_text(s, 1, t->slug, sizeof t->slug);
  cat_col_text(s, 2, t->name, sizeof t->name);
  cat_col_text(s, 3, status, sizeof status);
  akidb_tenant_status_parse(status, &t->status);
  t->quotas.max_memory_bytes = (uint64_t)sqlite3_column_int64(s, 4);
  t->quotas.max_storage_bytes = (uint64_t)sqlite3_column_int64(s, 5);
  t->quotas.max_qps = (uint32_t)sqlite3_column_int64(s, 6);
  t->quotas.max_collections = (uint32_t)sqlite3_column_int64(s, 7);
  t->created_at_ms = sqlite3_column_int64(s, 8);
  t->updated_at_ms = sqlite3_column_int64(s, 9);
}

static const char SQL_BY_ID[] = "SELECT " TENANT_COLUMNS " FROM tenants WHERE id = ?1";
static const char SQL_BY_SLUG[] = "SELECT " TENANT_COLUMNS " FROM tenants WHERE slug = ?2";

static int read_by_id(catalog_conn_t *c, const akidb_uuid_t *id, akidb_tenant_t *out, char *err,
                      size_t errlen) {
  return cat_get_one(c, SQL_BY_ID, id, NULL, tenant_row, out, sizeof *out, "tenant", err, errlen);
}

void cat_tenant_slug(catalog_conn_t *c, const akidb_uuid_t *tenant_id, char *out, size_t size) {
  static const char SQL[] = "SELECT slug FROM tenants WHERE id = ?1";
  out[0] = '\0';
  sqlite3_stmt *s = cat_stmt(c, SQL, NULL, 0);
  if (!s) return;
  cat_bind_uuid(s, 1, tenant_id);
  if (sqlite3_step(s) == SQLITE_ROW) cat_col_text(s, 0, out, size);
  sqlite3_reset(s);
}

int cat_count_tenant_collections(catalog_conn_t *c, const akidb_uuid_t *tenant_id, uint64_t *out,
                                 char *err, size_t errlen) {
  static const char SQL[] = "SELECT count(*) FROM collections WHERE database_id IN "
                            "(SELECT id FROM databases WHERE tenant_id = ?1)";
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) return AKIDB_EIO;
  cat_bind_uuid(s, 1, tenant_id);
  int st = sqlite3_step(s);
  *out = st == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
  sqlite3_reset(s);
  if (st != SQLITE_ROW) return cat_sqlite_fail(c->db, st, "counting collections", err, errlen);
  return AKIDB_OK;
}

/* ---------------------------------------------------------- validation -- */

static int check_quotas(const akidb_quotas_t *q, char *err, size_t errlen) {
  if (q->max_memory_bytes > AKIDB_QUOTA_BYTES_MAX)
    return cat_fail(err, errlen, AKIDB_EINVAL, "quotas.max_memory_bytes must be at most %llu",
                    (unsigned long long)AKIDB_QUOTA_BYTES_MAX);
  if (q->max_storage_bytes > AKIDB_QUOTA_BYTES_MAX)
    return cat_fail(err, errlen, AKIDB_EINVAL, "quotas.max_storage_bytes must be at most %llu",
                    (unsigned long long)AKIDB_QUOTA_BYTES_MAX);
  if (q->max_qps > AKIDB_QUOTA_QPS_MAX)
    return cat_fail(err, errlen, AKIDB_EINVAL, "quotas.max_qps must be 0..%u (got %u)",
                    AKIDB_QUOTA_QPS_MAX, q->max_qps);
  if (q->max_collections > AKIDB_QUOTA_COLLECTIONS_MAX)
    return cat_fail(err, errlen, AKIDB_EINVAL, "quotas.max_collections must be 0..%u (got %u)",
                    AKIDB_QUOTA_COLLECTIONS_MAX, q->max_collections);
  return AKIDB_OK;
}

static int check_status(akidb_tenant_status_t s, char *err, size_t errlen) {
  if ((int)s < 0 || (int)s >= AKIDB_TENANT_STATUS_COUNT)
    return cat_fail(err, errlen, AKIDB_EINVAL, "status %d is not a tenant status", (int)s);
  return AKIDB_OK;
}

static int check_new_tenant(const akidb_tenant_t *in, char *err, size_t errlen) {
  if (!in) return cat_fail(err, errlen, AKIDB_EINVAL, "tenant is NULL");
  if (!memchr(in->slug, '\0', sizeof in->slug) || !memchr(in->name, '\0', sizeof in->name))
    return cat_fail(err, errlen, AKIDB_EINVAL, "tenant slug or name is not NUL-terminated");
  int rc = akidb_check_slug(in->slug, "slug", err, errlen);
  if (!rc) rc = akidb_check_tenant_name(in->name, "name", err, errlen);
  if (!rc) rc = check_status(in->status, err, errlen);
  if (!rc) rc = check_quotas(&in->quotas, err, errlen);
  if (!rc && in->created_at_ms < 0)
    rc = cat_fail(err, errlen, AKIDB_EINVAL, "created_at_ms must not be negative");
  return rc;
}

static void json_quotas(cat_json_t *j, const char *key, const akidb_quotas_t *q) {
  char buf[256];
  snprintf(buf, sizeof buf,
           "{\"max_memory_bytes\":%llu,\"max_storage_bytes\":%llu,\"max_qps\":%u,"
           "\"max_collections\":%u}",
           (unsigned long long)q->max_memory_bytes, (unsigned long long)q->max_storage_bytes,
           q->max_qps, q->max_collections);
  cat_json_raw(j, key, buf);
}

static void tenant_target(const char *slug, char *out, size_t size) {
  snprintf(out, size, "tenant/%s", slug);
}

/* -------------------------------------------------------------- create -- */

static int insert_tenant(catalog_conn_t *c, const akidb_tenant_t *in, const akidb_uuid_t *id,
                         char *err, size_t errlen) {
  static const char SQL[] =
      "INSERT INTO tenants(id, slug, name, status, max_memory_bytes, max_storage_bytes, "
      "max_qps, max_collections, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
      "coalesce(?9, " CATALOG_SQL_NOW "))";
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) return AKIDB_EIO;
  cat_bind_uuid(s, 1, id);
  cat_bind_text(s, 2, in->slug);
  cat_bind_text(s, 3, in->name);
  cat_bind_text(s, 4, akidb_tenant_status_name(in->status));
  sqlite3_bind_int64(s, 5, (int64_t)in->quotas.max_memory_bytes);
  sqlite3_bind_int64(s, 6, (int64_t)in->quotas.max_storage_bytes);
  sqlite3_bind_int64(s, 7, in->quotas.max_qps);
  sqlite3_bind_int64(s, 8, in->quotas.max_collections);
  if (in->created_at_ms) sqlite3_bind_int64(s, 9, in->created_at_ms);
  int st = cat_step_done(s);
  if (cat_is_unique_violation(st)) {
    if (strstr(sqlite3_errmsg(c->db), "tenants.slug"))
      return cat_fail(err, errlen, AKIDB_EEXIST, "a tenant with slug '%s' already exists",
                      in->slug);
    char text[AKIDB_UUID_STR_LEN + 1];
    akidb_uuid_format(id, text);
    return cat_fail(err, errlen, AKIDB_EEXIST, "a tenant with id %s already exists", text);
  }
  if (st != SQLITE_DONE) return cat_sqlite_fail(c->db, st, "inserting the tenant", err, errlen);
  return AKIDB_OK;
}

int akidb_tenant_create(akidb_catalog_t *cat, const akidb_tenant_t *in,
                        const akidb_audit_ctx_t *audit, akidb_tenant_t *out, char *err,
                        size_t errlen) {
  int rc = check_new_tenant(in, err, errlen);
  if (rc) return rc;
  akidb_uuid_t id;
  rc = cat_new_id(&in->id, &id, err, errlen);
  if (rc) return rc;
  catalog_conn_t *c;
  rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  akidb_tenant_t row;
  rc = insert_tenant(c, in, &id, err, errlen);
  if (!rc) rc = read_by_id(c, &id, &row, err, errlen);
  if (!rc && audit) {
    cat_json_t j;
    char target[AKIDB_AUDIT_TARGET_MAX + 1];
    cat_json_begin(&j);
    cat_json_uuid(&j, "id", &id);
    cat_json_str(&j, "slug", row.slug);
    cat_json_str(&j, "name", row.name);
    cat_json_str(&j, "status", akidb_tenant_status_name(row.status));
    json_quotas(&j, "quotas", &row.quotas);
    tenant_target(row.slug, target, sizeof target);
    rc = cat_audit_write(c, audit, &id, AKIDB_AUDIT_TENANT_CREATE, target, AKIDB_AUDIT_SUCCESS,
                         cat_json_end(&j), err, errlen);
  }
  rc = cat_write_end(cat, rc, err, errlen);
  if (!rc && out) *out = row;
  return rc;
}

/* ---------------------------------------------------------------- read -- */

int akidb_tenant_get(akidb_catalog_t *cat, const akidb_uuid_t *id, akidb_tenant_t *out, char *err,
                     size_t errlen) {
  if (!id || !out) return cat_fail(err, errlen, AKIDB_EINVAL, "tenant id is NULL");
  catalog_conn_t *c = cat_read_begin(cat);
  int rc = read_by_id(c, id, out, err, errlen);
  cat_read_end(cat, c);
  return rc;
}

int akidb_tenant_get_by_slug(akidb_catalog_t *cat, const char *slug, akidb_tenant_t *out, char *err,
                             size_t errlen) {
  if (!slug || !out) return cat_fail(err, errlen, AKIDB_EINVAL, "tenant slug is NULL");
  catalog_conn_t *c = cat_read_begin(cat);
  int rc =
      cat_get_one(c, SQL_BY_SLUG, NULL, slug, tenant_row, out, sizeof *out, "tenant", err, errlen);
  cat_read_end(cat, c);
  return rc;
}

int akidb_tenant_list(akidb_catalog_t *cat, const akidb_page_t *page, akidb_tenant_list_t *out,
                      char *err, size_t errlen) {
  static const char SQL_FIRST[] = "SELECT " TENANT_COLUMNS " FROM tenants ORDER BY id LIMIT ?3";
  static const char SQL_AFTER[] =
      "SELECT " TENANT_COLUMNS " FROM tenants WHERE id > ?2 ORDER BY id LIMIT ?3";
  void *items;
  int rc = cat_list_run(cat, SQL_FIRST, SQL_AFTER, NULL, page, sizeof(akidb_tenant_t), tenant_row,
                        &items, &out->count, &out->has_more, &out->next, err, errlen);
  out->items = items;
  return rc;
}

void akidb_tenant_list_free(akidb_tenant_list_t *list) {
  if (!list) return;
  free(list->items);
  memset(list, 0, sizeof *list);
}

int akidb_tenant_collection_count(akidb_catalog_t *cat, const akidb_uuid_t *tenant_id,
                                  uint64_t *out, char *err, size_t errlen) {
  catalog_conn_t *c = cat_read_begin(cat);
  int rc = cat_count_tenant_collections(c, tenant_id, out, err, errlen);
  cat_read_end(cat, c);
  return rc;
}

/* -------------------------------------------------------------- update -- */

static bool quotas_equal(const akidb_quotas_t *a, const akidb_quotas_t *b) {
  return a->max_memory_bytes == b->max_memory_bytes &&
         a->max_storage_bytes == b->max_storage_bytes && a->max_qps == b->max_qps &&
         a->max_collections == b->max_collections;
}

/* Validates `upd` against the current row and writes the new row into `next`. */
static int plan_update(const akidb_tenant_t *cur, const akidb_tenant_update_t *upd,
                       akidb_tenant_t *next, char *err, size_t errlen) {
  *next = *cur;
  if (upd->name) {
    int rc = akidb_check_tenant_name(upd->name, "name", err, errlen);
    if (rc) return rc;
    snprintf(next->name, sizeof next->name, "%s", upd->name);
  }
  if (upd->quotas) {
    int rc = check_quotas(upd->quotas, err, errlen);
    if (rc) return rc;
    next->quotas = *upd->quotas;
  }
  if (upd->set_status) {
    int rc = check_status(upd->status, err, errlen);
    if (rc) return rc;
    if (!akidb_tenant_transition_allowed(cur->status, upd->status))
      return cat_fail(err, errlen, AKIDB_ETRANSITION,
                      "tenant '%s' status cannot change from %s to %s", cur->slug,
                      akidb_tenant_status_name(cur->status), akidb_tenant_status_name(upd->status));
    next->status = upd->status;
  }
  return AKIDB_OK;
}

static int write_update(catalog_conn_t *c, const akidb_tenant_t *t, char *err, size_t errlen) {
  static const char SQL[] =
      "UPDATE tenants SET name = ?2, status = ?3, max_memory_bytes = ?4, max_storage_bytes = ?5, "
      "max_qps = ?6, max_collections = ?7, " CATALOG_SQL_TOUCH " WHERE id = ?1";
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) return AKIDB_EIO;
  cat_bind_uuid(s, 1, &t->id);
  cat_bind_text(s, 2, t->name);
  cat_bind_text(s, 3, akidb_tenant_status_name(t->status));
  sqlite3_bind_int64(s, 4, (int64_t)t->quotas.max_memory_bytes);
  sqlite3_bind_int64(s, 5, (int64_t)t->quotas.max_storage_bytes);
  sqlite3_bind_int64(s, 6, t->quotas.max_qps);
  sqlite3_bind_int64(s, 7, t->quotas.max_collections);
  int st = cat_step_done(s);
  if (st != SQLITE_DONE) return cat_sqlite_fail(c->db, st, "updating the tenant", err, errlen);
  return AKIDB_OK;
}

/* One audit row per kind of change between `cur` and `next`. */
static int audit_update(catalog_conn_t *c, const akidb_audit_ctx_t *audit,
                        const akidb_tenant_t *cur, const akidb_tenant_t *next, char *err,
                        size_t errlen) {
  char target[AKIDB_AUDIT_TARGET_MAX + 1];
  tenant_target(cur->slug, target, sizeof target);
  cat_json_t j;
  int rc = AKIDB_OK;
  if (strcmp(cur->name, next->name) != 0) {
    cat_json_begin(&j);
    cat_json_str(&j, "old_name", cur->name);
    cat_json_str(&j, "name", next->name);
    rc = cat_audit_write(c, audit, &cur->id, AKIDB_AUDIT_TENANT_UPDATE, target, AKIDB_AUDIT_SUCCESS,
                         cat_json_end(&j), err, errlen);
  }
  if (!rc && !quotas_equal(&cur->quotas, &next->quotas)) {
    cat_json_begin(&j);
    json_quotas(&j, "old", &cur->quotas);
    json_quotas(&j, "new", &next->quotas);
    rc = cat_audit_write(c, audit, &cur->id, AKIDB_AUDIT_TENANT_QUOTA_CHANGE, target,
                         AKIDB_AUDIT_SUCCESS, cat_json_end(&j), err, errlen);
  }
  if (!rc && cur->status != next->status) {
    cat_json_begin(&j);
    cat_json_str(&j, "from", akidb_tenant_status_name(cur->status));
    cat_json_str(&j, "to", akidb_tenant_status_name(next->status));
    rc = cat_audit_write(c, audit, &cur->id, AKIDB_AUDIT_TENANT_STATUS_CHANGE, target,
                         AKIDB_AUDIT_SUCCESS, cat_json_end(&j), err, errlen);
  }
  return rc;
}

int akidb_tenant_update(akidb_catalog_t *cat, const akidb_uuid_t *id,
                        const akidb_tenant_update_t *upd, const akidb_audit_ctx_t *audit,
                        akidb_tenant_t *out, char *err, size_t errlen) {
  if (!id || !upd) return cat_fail(err, errlen, AKIDB_EINVAL, "tenant id or update is NULL");
  catalog_conn_t *c;
  int rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  akidb_tenant_t cur, next;
  rc = read_by_id(c, id, &cur, err, errlen);
  if (!rc) rc = plan_update(&cur, upd, &next, err, errlen);
  bool changed = !rc && (strcmp(cur.name, next.name) != 0 ||
                         !quotas_equal(&cur.quotas, &next.quotas) || cur.status != next.status);
  if (changed) {
    rc = write_update(c, &next, err, errlen);
    if (!rc) rc = audit_update(c, audit, &cur, &next, err, errlen);
    if (!rc) rc = read_by_id(c, id, &next, err, errlen);
    if (!rc && cur.status != next.status) cat_identity_changed(cat);
  }
  rc = cat_write_end(cat, rc, err, errlen);
  if (!rc && out) *out = next;
  return rc;
}

/* -------------------------------------------------------------- delete -- */

int akidb_tenant_delete(akidb_catalog_t *cat, const akidb_uuid_t *id,
                        const akidb_audit_ctx_t *audit, akidb_uuid_t **removed, size_t *n_removed,
                        char *err, size_t errlen) {
  static const char SQL_IDS[] = "SELECT id FROM collections WHERE database_id IN "
                                "(SELECT id FROM databases WHERE tenant_id = ?1) ORDER BY id";
  static const char SQL_DELETE[] = "DELETE FROM tenants WHERE id = ?1";
  if (removed) *removed = NULL;
  if (n_removed) *n_removed = 0;
  if (!id) return cat_fail(err, errlen, AKIDB_EINVAL, "tenant id is NULL");
  catalog_conn_t *c;
  int rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  akidb_tenant_t cur;
  akidb_uuid_t *ids = NULL;
  size_t n = 0;
  rc = read_by_id(c, id, &cur, err, errlen);
  if (!rc) rc = cat_collect_ids(c, SQL_IDS, id, &ids, &n, err, errlen);
  if (!rc) {
    rc = cat_exec_by_id(c, SQL_DELETE, id, "deleting the tenant", err, errlen);
  }
  if (!rc && audit) {
    cat_json_t j;
    char target[AKIDB_AUDIT_TARGET_MAX + 1];
    cat_json_begin(&j);
    cat_json_uuid(&j, "id", id);
    cat_json_int(&j, "collections_removed", (int64_t)n);
    tenant_target(cur.slug, target, sizeof target);
    rc = cat_audit_write(c, audit, id, AKIDB_AUDIT_TENANT_DELETE, target, AKIDB_AUDIT_SUCCESS,
                         cat_json_end(&j), err, errlen);
  }
  if (!rc) cat_identity_changed(cat);
  rc = cat_write_end(cat, rc, err, errlen);
  if (rc || !removed) {
    free(ids);
    return rc;
  }
  *removed = ids;
  if (n_removed) *n_removed = n;
  return AKIDB_OK;
}
