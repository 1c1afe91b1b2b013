/*
 * database.c — owns databases: create inside a tenant, read (by id, by name
 * in a tenant), list, update (rename, state with its transition rules) and
 * delete with the cascade to the database's collections.
 *
 * Locking and durability: as tenant.c (reads on a reader; each mutation in
 * one write scope with its audit row).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_internal.h"

#define DATABASE_COLUMNS "id, tenant_id, name, state, created_at, updated_at"

static void database_row(sqlite3_stmt *s, void *item) {
  akidb_database_t *d = item;
  char state[32];
  cat_col_uuid(s, 0, &d->id);
  cat_col_uuid(s, 1, &d->tenant_id);
  cat_col_text(s, 2, d->name, sizeof d->name);
  cat_col_text(s, 3, state, sizeof state);
  akidb_database_state_parse(state, &d->state);
  d->created_at_ms = sqlite3_column_int64(s, 4);
  d->updated_at_ms = sqlite3_column_int64(s, 5);
}

static const char SQL_BY_ID[] = "SELECT " DATABASE_COLUMNS " FROM databases WHERE id = ?1";
static const char SQL_BY_NAME[] =
    "SELECT " DATABASE_COLUMNS " FROM databases WHERE tenant_id = ?1 AND name = ?2";

static int read_by_id(catalog_conn_t *c, const akidb_uuid_t *id, akidb_database_t *out, char *err,
                      size_t errlen) {
  return cat_get_one(c, SQL_BY_ID, id, NULL, database_row, out, sizeof *out, "database", err,
                     errlen);
}

/* "database/<tenant slug>/<name>" */
static void database_target(catalog_conn_t *c, const akidb_database_t *d, char *out, size_t size) {
  char slug[AKIDB_SLUG_MAX + 1];
  cat_tenant_slug(c, &d->tenant_id, slug, sizeof slug);
  snprintf(out, size, "database/%s/%s", slug, d->name);
}

static int check_state(akidb_database_state_t s, char *err, size_t errlen) {
  if ((int)s < 0 || (int)s >= AKIDB_DATABASE_STATE_COUNT)
    return cat_fail(err, errlen, AKIDB_EINVAL, "state %d is not a database state", (int)s);
  return AKIDB_OK;
}

int cat_check_tenant_open(catalog_conn_t *c, const akidb_uuid_t *tenant_id, const char *what,
                          char *err, size_t errlen) {
  static const char SQL[] = "SELECT status FROM tenants WHERE id = ?1";
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) return AKIDB_EIO;
  cat_bind_uuid(s, 1, tenant_id);
  int st = sqlite3_step(s);
  char status[32] = "";
  if (st == SQLITE_ROW) cat_col_text(s, 0, status, sizeof status);
  sqlite3_reset(s);
  char text[AKIDB_UUID_STR_LEN + 1];
  akidb_uuid_format(tenant_id, text);
  if (st == SQLITE_DONE) return cat_fail(err, errlen, AKIDB_ENOTFOUND, "tenant %s not found", text);
  if (st != SQLITE_ROW) return cat_sqlite_fail(c->db, st, "reading the tenant", err, errlen);
  if (strcmp(status, "decommissioned") == 0)
    return cat_fail(err, errlen, AKIDB_ECONFLICT,
                    "tenant %s is decommissioned and accepts no new %s", text, what);
  return AKIDB_OK;
}

/* -------------------------------------------------------------- create -- */

static int insert_database(catalog_conn_t *c, const akidb_database_t *in, const akidb_uuid_t *id,
                           char *err, size_t errlen) {
  static const char SQL[] =
      "INSERT INTO databases(id, tenant_id, name, state, created_at) VALUES (?1, ?2, ?3, ?4, "
      "coalesce(?5, " CATALOG_SQL_NOW "))";
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) return AKIDB_EIO;
  cat_bind_uuid(s, 1, id);
  cat_bind_uuid(s, 2, &in->tenant_id);
  cat_bind_text(s, 3, in->name);
  cat_bind_text(s, 4, akidb_database_state_name(in->state));
  if (in->created_at_ms) sqlite3_bind_int64(s, 5, in->created_at_ms);
  int st = cat_step_done(s);
  if (cat_is_unique_violation(st)) {
    if (strstr(sqlite3_errmsg(c->db), "databases.name"))
      return cat_fail(err, errlen, AKIDB_EEXIST,
                      "a database named '%s' already exists in this tenant", in->name);
    return cat_fail(err, errlen, AKIDB_EEXIST, "a database with this id already exists");
  }
  if (st != SQLITE_DONE) return cat_sqlite_fail(c->db, st, "inserting the database", err, errlen);
  return AKIDB_OK;
}

int akidb_database_create(akidb_catalog_t *cat, const akidb_database_t *in,
                          const akidb_audit_ctx_t *audit, akidb_database_t *out, char *err,
                          size_t errlen) {
  if (!in) return cat_fail(err, errlen, AKIDB_EINVAL, "database is NULL");
  if (!memchr(in->name, '\0', sizeof in->name))
    return cat_fail(err, errlen, AKIDB_EINVAL, "database name is not NUL-terminated");
  int rc = akidb_check_object_name(in->name, "name", err, errlen);
  if (!rc) rc = check_state(in->state, err, errlen);
  if (!rc && in->state != AKIDB_DATABASE_PROVISIONING && in->state != AKIDB_DATABASE_READY)
    rc = cat_fail(err, errlen, AKIDB_EINVAL,
                  "a new database starts as provisioning or ready, not %s",
                  akidb_database_state_name(in->state));
  if (!rc && in->created_at_ms < 0)
    rc = cat_fail(err, errlen, AKIDB_EINVAL, "created_at_ms must not be negative");
  akidb_uuid_t id;
  if (!rc) rc = cat_new_id(&in->id, &id, err, errlen);
  if (rc) return rc;
  catalog_conn_t *c;
  rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  akidb_database_t row;
  rc = cat_check_tenant_open(c, &in->tenant_id, "databases", err, errlen);
  if (!rc) rc = insert_database(c, in, &id, err, errlen);
  if (!rc) rc = read_by_id(c, &id, &row, err, errlen);
  if (!rc && audit) {
    cat_json_t j;
    char target[AKIDB_AUDIT_TARGET_MAX + 1];
    cat_json_begin(&j);
    cat_json_uuid(&j, "id", &id);
    cat_json_str(&j, "name", row.name);
    cat_json_str(&j, "state", akidb_database_state_name(row.state));
    database_target(c, &row, target, sizeof target);
    rc = cat_audit_write(c, audit, &row.tenant_id, AKIDB_AUDIT_DATABASE_CREATE, target,
                         AKIDB_AUDIT_SUCCESS, cat_json_end(&j), err, errlen);
  }
  rc = cat_write_end(cat, rc, err, errlen);
  if (!rc && out) *out = row;
  return rc;
}

/* ---------------------------------------------------------------- read -- */

int akidb_database_get(akidb_catalog_t *cat, const akidb_uuid_t *id, akidb_database_t *out,
                       char *err, size_t errlen) {
  if (!id || !out) return cat_fail(err, errlen, AKIDB_EINVAL, "database id is NULL");
  catalog_conn_t *c = cat_read_begin(cat);
  int rc = read_by_id(c, id, out, err, errlen);
  cat_read_end(cat, c);
  return rc;
}

int akidb_database_get_by_name(akidb_catalog_t *cat, const akidb_uuid_t *tenant_id,
                               const char *name, akidb_database_t *out, char *err, size_t errlen) {
  if (!tenant_id || !name || !out)
    return cat_fail(err, errlen, AKIDB_EINVAL, "tenant id or database name is NULL");
  catalog_conn_t *c = cat_read_begin(cat);
  int rc = cat_get_one(c, SQL_BY_NAME, tenant_id, name, database_row, out, sizeof *out, "database",
                       err, errlen);
  cat_read_end(cat, c);
  return rc;
}

int akidb_database_list(akidb_catalog_t *cat, const akidb_uuid_t *tenant_id,
                        const akidb_page_t *page, akidb_database_list_t *out, char *err,
                        size_t errlen) {
  static const char SQL_FIRST[] =
      "SELECT " DATABASE_COLUMNS " FROM databases WHERE tenant_id = ?1 ORDER BY id LIMIT ?3";
  static const char SQL_AFTER[] =
      "SELECT " DATABASE_COLUMNS " FROM databases WHERE tenant_id = ?1 AND id > ?2 "
      "ORDER BY id LIMIT ?3";
  memset(out, 0, sizeof *out);
  if (!tenant_id) return cat_fail(err, errlen, AKIDB_EINVAL, "tenant id is NULL");
  void *items;
  int rc = cat_list_run(cat, SQL_FIRST, SQL_AFTER, tenant_id, page, sizeof(akidb_database_t),
                        database_row, &items, &out->count, &out->has_more, &out->next, err, errlen);
  out->items = items;
  return rc;
}

void akidb_database_list_free(akidb_database_list_t *list) {
  if (!list) return;
  free(list->items);
  memset(list, 0, sizeof *list);
}

/* -------------------------------------------------------------- update -- */

static int plan_update(const akidb_database_t *cur, const akidb_database_update_t *upd,
                       akidb_database_t *next, char *err, size_t errlen) {
  *next = *cur;
  if (upd->name) {
    int rc = akidb_check_object_name(upd->name, "name", err, errlen);
    if (rc) return rc;
    snprintf(next->name, sizeof next->name, "%s", upd->name);
  }
  if (upd->set_state) {
    int rc = check_state(upd->state, err, errlen);
    if (rc) return rc;
    if (!akidb_database_transition_allowed(cur->state, upd->state))
      return cat_fail(err, errlen, AKIDB_ETRANSITION,
                      "database '%s' state cannot change from %s to %s", cur->name,
                      akidb_database_state_name(cur->state), akidb_database_state_name(upd->state));
    next->state = upd->state;
  }
  return AKIDB_OK;
}

static int write_update(catalog_conn_t *c, const akidb_database_t *d, char *err, size_t errlen) {
  static const char SQL[] =
      "UPDATE databases SET name = ?2, state = ?3, " CATALOG_SQL_TOUCH " WHERE id = ?1";
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) return AKIDB_EIO;
  cat_bind_uuid(s, 1, &d->id);
  cat_bind_text(s, 2, d->name);
  cat_bind_text(s, 3, akidb_database_state_name(d->state));
  int st = cat_step_done(s);
  if (cat_is_unique_violation(st))
    return cat_fail(err, errlen, AKIDB_EEXIST,
                    "a database named '%s' already exists in this tenant", d->name);
  if (st != SQLITE_DONE) return cat_sqlite_fail(c->db, st, "updating the database", err, errlen);
  return AKIDB_OK;
}

int akidb_database_update(akidb_catalog_t *cat, const akidb_uuid_t *id,
                          const akidb_database_update_t *upd, const akidb_audit_ctx_t *audit,
                          akidb_database_t *out, char *err, size_t errlen) {
  if (!id || !upd) return cat_fail(err, errlen, AKIDB_EINVAL, "database id or update is NULL");
  catalog_conn_t *c;
  int rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  akidb_database_t cur, next;
  rc = read_by_id(c, id, &cur, err, errlen);
  if (!rc) rc = plan_update(&cur, upd, &next, err, errlen);
  bool changed = !rc && (strcmp(cur.name, next.name) != 0 || cur.state != next.state);
  if (changed) {
    rc = write_update(c, &next, err, errlen);
    if (!rc && audit) {
      cat_json_t j;
      char target[AKIDB_AUDIT_TARGET_MAX + 1];
      cat_json_begin(&j);
      cat_json_uuid(&j, "id", id);
      if (strcmp(cur.name, next.name) != 0) {
        cat_json_str(&j, "old_name", cur.name);
        cat_json_str(&j, "name", next.name);
      }
      if (cur.state != next.state) {
        cat_json_str(&j, "from", akidb_database_state_name(cur.state));
        cat_json_str(&j, "to", akidb_database_state_name(next.state));
      }
      database_target(c, &next, target, sizeof target);
      rc = cat_audit_write(c, audit, &cur.tenant_id, AKIDB_AUDIT_DATABASE_UPDATE, target,
                           AKIDB_AUDIT_SUCCESS, cat_json_end(&j), err, errlen);
    }
    if (!rc) rc = read_by_id(c, id, &next, err, errlen);
  }
  rc = cat_write_end(cat, rc, err, errlen);
  if (!rc && out) *out = next;
  return rc;
}

/* -------------------------------------------------------------- delete -- */

int akidb_database_delete(akidb_catalog_t *cat, const akidb_uuid_t *id,
                          const akidb_audit_ctx_t *audit, akidb_uuid_t **removed, size_t *n_removed,
                          char *err, size_t errlen) {
  static const char SQL_IDS[] = "SELECT id FROM collections WHERE database_id = ?1 ORDER BY id";
  static const char SQL_DELETE[] = "DELETE FROM databases WHERE id = ?1";
  if (removed) *removed = NULL;
  if (n_removed) *n_removed = 0;
  if (!id) return cat_fail(err, errlen, AKIDB_EINVAL, "database id is NULL");
  catalog_conn_t *c;
  int rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  akidb_database_t cur;
  akidb_uuid_t *ids = NULL;
  size_t n = 0;
  char target[AKIDB_AUDIT_TARGET_MAX + 1] = "";
  rc = read_by_id(c, id, &cur, err, errlen);
  if (!rc) {
    database_target(c, &cur, target, sizeof target);
    rc = cat_collect_ids(c, SQL_IDS, id, &ids, &n, err, errlen);
  }
  if (!rc) {
    rc = cat_exec_by_id(c, SQL_DELETE, id, "deleting the database", err, errlen);
  }
  if (!rc && audit) {
    cat_json_t j;
    cat_json_begin(&j);
    cat_json_uuid(&j, "id", id);
    cat_json_int(&j, "collections_removed", (int64_t)n);
    rc = cat_audit_write(c, audit, &cur.tenant_id, AKIDB_AUDIT_DATABASE_DELETE, target,
                         AKIDB_AUDIT_SUCCESS, cat_json_end(&j), err, errlen);
  }
  rc = cat_write_end(cat, rc, err, errlen);
  if (rc || !removed) {
    free(ids);
    return rc;
  }
  *removed = ids;
  if (n_removed) *n_removed = n;
  return AKIDB_OK;
}
