/*
 * identity.c — owns the identity rows of the catalog: users (create, read,
 * list, update of role/status/password hash, delete), API key records
 * (insert, list, revoke, last-used), sessions (insert, delete, purge), and
 * the joined lookups src/auth/ needs for logins and credential resolution.
 * Hashing, secrets and decisions live in src/auth/; this file stores rows.
 *
 * Locking and durability: as tenant.c. Every change that can alter what a
 * credential resolves to (role, status, password, key revoke, session end,
 * user delete) marks the write scope with cat_identity_changed, which
 * invalidates auth's principal cache once the scope commits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_internal.h"

#define USER_COLUMNS                                                                               \
  "id, tenant_id, username, role, status, password_hash IS NOT NULL, created_at, updated_at"

static void user_row(sqlite3_stmt *s, void *item) {
  akidb_user_t *u = item;
  char word[32];
  cat_col_uuid(s, 0, &u->id);
  u->has_tenant = sqlite3_column_type(s, 1) == SQLITE_BLOB;
  if (u->has_tenant) cat_col_uuid(s, 1, &u->tenant_id);
  cat_col_text(s, 2, u->username, sizeof u->username);
  cat_col_text(s, 3, word, sizeof word);
  akidb_role_parse(word, &u->role);
  cat_col_text(s, 4, word, sizeof word);
  akidb_user_status_parse(word, &u->status);
  u->has_password = sqlite3_column_int(s, 5) != 0;
  u->created_at_ms = sqlite3_column_int64(s, 6);
  u->updated_at_ms = sqlite3_column_int64(s, 7);
}

static const char SQL_USER_BY_ID[] = "SELECT " USER_COLUMNS " FROM users WHERE id = ?1";

static int read_user(catalog_conn_t *c, const akidb_uuid_t *id, akidb_user_t *out, char *err,
                     size_t errlen) {
  return cat_get_one(c, SQL_USER_BY_ID, id, NULL, user_row, out, sizeof *out, "user", err, errlen);
}

/* "user/<tenant slug>/<username>", "user/system/<username>" for admins. */
static void user_target(catalog_conn_t *c, const akidb_user_t *u, char *out, size_t size) {
  char slug[AKIDB_SLUG_MAX + 1] = "system";
  if (u->has_tenant) cat_tenant_slug(c, &u->tenant_id, slug, sizeof slug);
  snprintf(out, size, "user/%s/%s", slug, u->username);
}

static int check_hash(const char *hash, char *err, size_t errlen) {
  if (!hash) return AKIDB_OK;
  if (strncmp(hash, "$argon2id$", 10) != 0 || strlen(hash) > AKIDB_PASSWORD_HASH_MAX)
    return cat_fail(err, errlen, AKIDB_EINVAL,
                    "password_hash must be an encoded Argon2id hash ($argon2id$...) of at most %u "
                    "bytes",
                    AKIDB_PASSWORD_HASH_MAX);
  return AKIDB_OK;
}

static int check_role(akidb_role_t r, char *err, size_t errlen) {
  if ((int)r < 0 || (int)r >= AKIDB_ROLE_COUNT)
    return cat_fail(err, errlen, AKIDB_EINVAL, "role %d is not a role", (int)r);
  return AKIDB_OK;
}

static int check_new_user(const akidb_user_t *in, const char *hash, char *err, size_t errlen) {
  if (!memchr(in->username, '\0', sizeof in->username))
    return cat_fail(err, errlen, AKIDB_EINVAL, "username is not NUL-terminated");
  int rc = akidb_check_username(in->username, "username", err, errlen);
  if (!rc) rc = check_role(in->role, err, errlen);
  if (!rc && in->status != AKIDB_USER_ACTIVE && in->status != AKIDB_USER_DISABLED)
    rc =
        cat_fail(err, errlen, AKIDB_EINVAL, "status %d is not active or disabled", (int)in->status);
  if (!rc && in->has_tenant && in->role == AKIDB_ROLE_SYSTEM_ADMIN)
    rc = cat_fail(err, errlen, AKIDB_EINVAL, "role system-admin belongs to no tenant");
  if (!rc && !in->has_tenant && in->role != AKIDB_ROLE_SYSTEM_ADMIN)
    rc = cat_fail(err, errlen, AKIDB_EINVAL, "a user without a tenant must have role system-admin");
  if (!rc) rc = check_hash(hash, err, errlen);
  return rc;
}

/* Active system admins other than `except`. */
static int count_other_admins(catalog_conn_t *c, const akidb_uuid_t *except, int64_t *n, char *err,
                              size_t errlen) {
  static const char SQL[] =
      "SELECT count(*) FROM users WHERE tenant_id IS NULL AND status = 'active' AND id != ?1";
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) return AKIDB_EIO;
  cat_bind_uuid(s, 1, except);
  int st = sqlite3_step(s);
  *n = st == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  sqlite3_reset(s);
  if (st != SQLITE_ROW) return cat_sqlite_fail(c->db, st, "counting system admins", err, errlen);
  return AKIDB_OK;
}

/* Refuses removing or disabling the last active system admin. */
static int keep_last_admin(catalog_conn_t *c, const akidb_user_t *u, char *err, size_t errlen) {
  if (u->role != AKIDB_ROLE_SYSTEM_ADMIN || u->status != AKIDB_USER_ACTIVE) return AKIDB_OK;
  int64_t others;
  int rc = count_other_admins(c, &u->id, &others, err, errlen);
  if (!rc && others == 0)
    rc = cat_fail(err, errlen, AKIDB_ECONFLICT,
                  "'%s' is the last active system admin; create another one first", u->username);
  return rc;
}

/* ---------------------------------------------------------------- users -- */

static int insert_user(catalog_conn_t *c, const akidb_user_t *in, const akidb_uuid_t *id,
                       const char *hash, char *err, size_t errlen) {
  static const char SQL[] =
      "INSERT INTO users(id, tenant_id, username, password_hash, role, status) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) return AKIDB_EIO;
  cat_bind_uuid(s, 1, id);
  cat_bind_uuid(s, 2, in->has_tenant ? &in->tenant_id : NULL);
  cat_bind_text(s, 3, in->username);
  cat_bind_text(s, 4, hash);
  cat_bind_text(s, 5, akidb_role_name(in->role));
  cat_bind_text(s, 6, akidb_user_status_name(in->status));
  int st = cat_step_done(s);
  if (cat_is_unique_violation(st)) {
    if (strstr(sqlite3_errmsg(c->db), "users.username"))
      return cat_fail(err, errlen, AKIDB_EEXIST, "a user named '%s' already exists %s",
                      in->username, in->has_tenant ? "in this tenant" : "among system admins");
    return cat_fail(err, errlen, AKIDB_EEXIST, "a user with this id already exists");
  }
  if (st != SQLITE_DONE) return cat_sqlite_fail(c->db, st, "inserting the user", err, errlen);
  return AKIDB_OK;
}

int akidb_user_create(akidb_catalog_t *cat, const akidb_user_t *in, const char *password_hash,
                      const akidb_audit_ctx_t *audit, akidb_user_t *out, char *err, size_t errlen) {
  if (!in) return cat_fail(err, errlen, AKIDB_EINVAL, "user is NULL");
  int rc = check_new_user(in, password_hash, err, errlen);
  akidb_uuid_t id;
  if (!rc) rc = cat_new_id(&in->id, &id, err, errlen);
  if (rc) return rc;
  catalog_conn_t *c;
  rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  akidb_user_t row;
  if (in->has_tenant) rc = cat_check_tenant_open(c, &in->tenant_id, "users", err, errlen);
  if (!rc) rc = insert_user(c, in, &id, password_hash, err, errlen);
  if (!rc) rc = read_user(c, &id, &row, err, errlen);
  if (!rc && audit) {
    cat_json_t j;
    char target[AKIDB_AUDIT_TARGET_MAX + 1];
    cat_json_begin(&j);
    cat_json_uuid(&j, "id", &id);
    cat_json_str(&j, "role", akidb_role_name(row.role));
    cat_json_str(&j, "status", akidb_user_status_name(row.status));
    cat_json_raw(&j, "has_password", row.has_password ? "true" : "false");
    user_target(c, &row, target, sizeof target);
    rc = cat_audit_write(c, audit, row.has_tenant ? &row.tenant_id : NULL, AKIDB_AUDIT_USER_CREATE,
                         target, AKIDB_AUDIT_SUCCESS, cat_json_end(&j), err, errlen);
  }
  rc = cat_write_end(cat, rc, err, errlen);
  if (!rc && out) *out = row;
  return rc;
}

int akidb_user_get(akidb_catalog_t *cat, const akidb_uuid_t *id, akidb_user_t *out, char *err,
                   size_t errlen) {
  if (!id || !out) return cat_fail(err, errlen, AKIDB_EINVAL, "user id is NULL");
  catalog_conn_t *c = cat_read_begin(cat);
  int rc = read_user(c, id, out, err, errlen);
  cat_read_end(cat, c);
  return rc;
}

int akidb_user_get_by_name(akidb_catalog_t *cat, const akidb_uuid_t *tenant_id,
                           const char *username, akidb_user_t *out, char *err, size_t errlen) {
  static const char SQL_TENANT[] =
      "SELECT " USER_COLUMNS " FROM users WHERE tenant_id = ?1 AND username = ?2";
  static const char SQL_SYSTEM[] =
      "SELECT " USER_COLUMNS " FROM users WHERE tenant_id IS NULL AND username = ?2";
  if (!username || !out) return cat_fail(err, errlen, AKIDB_EINVAL, "username is NULL");
  catalog_conn_t *c = cat_read_begin(cat);
  int rc = cat_get_one(c, tenant_id ? SQL_TENANT : SQL_SYSTEM, tenant_id, username, user_row, out,
                       sizeof *out, "user", err, errlen);
  cat_read_end(cat, c);
  return rc;
}

int akidb_user_list(akidb_catalog_t *cat, const akidb_uuid_t *tenant_id, const akidb_page_t *page,
                    akidb_user_list_t *out, char *err, size_t errlen) {
  static const char SQL_T_FIRST[] =
      "SELECT " USER_COLUMNS " FROM users WHERE tenant_id = ?1 ORDER BY id LIMIT ?3";
  static const char SQL_T_AFTER[] =
      "SELECT " USER_COLUMNS " FROM users WHERE tenant_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3";
  static const char SQL_S_FIRST[] =
      "SELECT " USER_COLUMNS " FROM users WHERE tenant_id IS NULL ORDER BY id LIMIT ?3";
  static const char SQL_S_AFTER[] =
      "SELECT " USER_COLUMNS " FROM users WHERE tenant_id IS NULL AND id > ?2 "
      "ORDER BY id LIMIT ?3";
  memset(out, 0, sizeof *out);
  void *items;
  int rc =
      cat_list_run(cat, tenant_id ? SQL_T_FIRST : SQL_S_FIRST,
                   tenant_id ? SQL_T_AFTER : SQL_S_AFTER, tenant_id, page, sizeof(akidb_user_t),
                   user_row, &items, &out->count, &out->has_more, &out->next, err, errlen);
  out->items = items;
  return rc;
}

void akidb_user_list_free(akidb_user_list_t *list) {
  if (!list) return;
  free(list->items);
  memset(list, 0, sizeof *list);
}

static int plan_user_update(catalog_conn_t *c, const akidb_user_t *cur,
                            const akidb_user_update_t *upd, akidb_user_t *next, char *err,
                            size_t errlen) {
  *next = *cur;
  if (upd->set_role) {
    int rc = check_role(upd->role, err, errlen);
    if (rc) return rc;
    if ((upd->role == AKIDB_ROLE_SYSTEM_ADMIN) != (cur->role == AKIDB_ROLE_SYSTEM_ADMIN))
      return cat_fail(err, errlen, AKIDB_EINVAL,
                      "role cannot change from %s to %s: system admins belong to no tenant",
                      akidb_role_name(cur->role), akidb_role_name(upd->role));
    next->role = upd->role;
  }
  if (upd->set_status) {
    if (upd->status != AKIDB_USER_ACTIVE && upd->status != AKIDB_USER_DISABLED)
      return cat_fail(err, errlen, AKIDB_EINVAL, "status %d is not active or disabled",
                      (int)upd->status);
    next->status = upd->status;
    if (next->status == AKIDB_USER_DISABLED) {
      int rc = keep_last_admin(c, cur, err, errlen);
      if (rc) return rc;
    }
  }
  if (upd->password_hash) {
    int rc = check_hash(upd->password_hash, err, errlen);
    if (rc) return rc;
    next->has_password = true;
  }
  return AKIDB_OK;
}

static int write_user_update(catalog_conn_t *c, const akidb_user_t *u, const char *hash, char *err,
                             size_t errlen) {
  static const char SQL[] =
      "UPDATE users SET role = ?2, status = ?3, password_hash = coalesce(?4, password_hash), "
      CATALOG_SQL_TOUCH " WHERE id = ?1";
  static const char SQL_END_SESSIONS[] = "DELETE FROM sessions WHERE user_id = ?1";
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) return AKIDB_EIO;
  cat_bind_uuid(s, 1, &u->id);
  cat_bind_text(s, 2, akidb_role_name(u->role));
  cat_bind_text(s, 3, akidb_user_status_name(u->status));
  cat_bind_text(s, 4, hash);
  int st = cat_step_done(s);
  if (st != SQLITE_DONE) return cat_sqlite_fail(c->db, st, "updating the user", err, errlen);
  if (!hash) return AKIDB_OK;
  s = cat_stmt(c, SQL_END_SESSIONS, err, errlen);
  if (!s) return AKIDB_EIO;
  cat_bind_uuid(s, 1, &u->id);
  st = cat_step_done(s);
  if (st != SQLITE_DONE)
    return cat_sqlite_fail(c->db, st, "ending the user's sessions", err, errlen);
  return AKIDB_OK;
}

static int audit_user_update(catalog_conn_t *c, const akidb_audit_ctx_t *audit,
                             const akidb_user_t *cur, const akidb_user_t *next, bool password,
                             char *err, size_t errlen) {
  char target[AKIDB_AUDIT_TARGET_MAX + 1];
  user_target(c, cur, target, sizeof target);
  const akidb_uuid_t *tenant = cur->has_tenant ? &cur->tenant_id : NULL;
  cat_json_t j;
  int rc = AKIDB_OK;
  if (cur->role != next->role) {
    cat_json_begin(&j);
    cat_json_uuid(&j, "id", &cur->id);
    cat_json_str(&j, "from", akidb_role_name(cur->role));
    cat_json_str(&j, "to", akidb_role_name(next->role));
    rc = cat_audit_write(c, audit, tenant, AKIDB_AUDIT_USER_ROLE_CHANGE, target,
                         AKIDB_AUDIT_SUCCESS, cat_json_end(&j), err, errlen);
  }
  if (!rc && (cur->status != next->status || password)) {
    cat_json_begin(&j);
    cat_json_uuid(&j, "id", &cur->id);
    if (cur->status != next->status) {
      cat_json_str(&j, "old_status", akidb_user_status_name(cur->status));
      cat_json_str(&j, "status", akidb_user_status_name(next->status));
    }
    if (password) cat_json_raw(&j, "password_changed", "true");
    rc = cat_audit_write(c, audit, tenant, AKIDB_AUDIT_USER_UPDATE, target, AKIDB_AUDIT_SUCCESS,
                         cat_json_end(&j), err, errlen);
  }
  return rc;
}

int akidb_user_update(akidb_catalog_t *cat, const akidb_uuid_t *id, const akidb_user_update_t *upd,
                      const akidb_audit_ctx_t *audit, akidb_user_t *out, char *err, size_t errlen) {
  if (!id || !upd) return cat_fail(err, errlen, AKIDB_EINVAL, "user id or update is NULL");
  catalog_conn_t *c;
  int rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  akidb_user_t cur, next;
  rc = read_user(c, id, &cur, err, errlen);
  if (!rc) rc = plan_user_update(c, &cur, upd, &next, err, errlen);
  bool password = upd->password_hash != NULL;
  if (!rc && (cur.role != next.role || cur.status != next.status || password)) {
    rc = write_user_update(c, &next, upd->password_hash, err, errlen);
    if (!rc) rc = audit_user_update(c, audit, &cur, &next, password, err, errlen);
    if (!rc) rc = read_user(c, id, &next, err, errlen);
    if (!rc) cat_identity_changed(cat);
  }
  rc = cat_write_end(cat, rc, err, errlen);
  if (!rc && out) *out = next;
  return rc;
}

int akidb_user_delete(akidb_catalog_t *cat, const akidb_uuid_t *id, const akidb_audit_ctx_t *audit,
                      char *err, size_t errlen) {
  static const char SQL[] = "DELETE FROM users WHERE id = ?1";
  if (!id) return cat_fail(err, errlen, AKIDB_EINVAL, "user id is NULL");
  catalog_conn_t *c;
  int rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  akidb_user_t cur;
  char target[AKIDB_AUDIT_TARGET_MAX + 1] = "";
  rc = read_user(c, id, &cur, err, errlen);
  if (!rc) rc = keep_last_admin(c, &cur, err, errlen);
  if (!rc) {
    user_target(c, &cur, target, sizeof target);
    rc = cat_exec_by_id(c, SQL, id, "deleting the user", err, errlen);
  }
  if (!rc && audit) {
    cat_json_t j;
    cat_json_begin(&j);
    cat_json_uuid(&j, "id", id);
    rc = cat_audit_write(c, audit, cur.has_tenant ? &cur.tenant_id : NULL, AKIDB_AUDIT_USER_DELETE,
                         target, AKIDB_AUDIT_SUCCESS, cat_json_end(&j), err, errlen);
  }
  if (!rc) cat_identity_changed(cat);
  return cat_write_end(cat, rc, err, errlen);
}

int cat_user_rehash(akidb_catalog_t *cat, const akidb_uuid_t *user_id, const char *hash, char *err,
                    size_t errlen) {
  static const char SQL[] = "UPDATE users SET password_hash = ?2 WHERE id = ?1";
  int rc = check_hash(hash, err, errlen);
  if (rc) return rc;
  catalog_conn_t *c;
  rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) {
    rc = AKIDB_EIO;
  } else {
    cat_bind_uuid(s, 1, user_id);
    cat_bind_text(s, 2, hash);
    int st = cat_step_done(s);
    if (st != SQLITE_DONE)
      rc = cat_sqlite_fail(c->db, st, "storing the new password hash", err, errlen);
  }
  return cat_write_end(cat, rc, err, errlen);
}

int cat_login_lookup(akidb_catalog_t *cat, const char *tenant_slug, const char *username,
                     cat_login_row_t *out, char *err, size_t errlen) {
  static const char SQL_TENANT[] =
      "SELECT u.id, u.tenant_id, u.username, u.role, u.status, u.password_hash IS NOT NULL, "
      "u.created_at, u.updated_at, u.password_hash, t.status FROM users u "
      "JOIN tenants t ON t.id = u.tenant_id WHERE t.slug = ?1 AND u.username = ?2";
  static const char SQL_SYSTEM[] =
      "SELECT u.id, u.tenant_id, u.username, u.role, u.status, u.password_hash IS NOT NULL, "
      "u.created_at, u.updated_at, u.password_hash, 'active' FROM users u "
      "WHERE u.tenant_id IS NULL AND u.username = ?2";
  memset(out, 0, sizeof *out);
  catalog_conn_t *c = cat_read_begin(cat);
  sqlite3_stmt *s = cat_stmt(c, tenant_slug ? SQL_TENANT : SQL_SYSTEM, err, errlen);
  int rc = AKIDB_OK;
  if (!s) {
    rc = AKIDB_EIO;
    goto out;
  }
  if (tenant_slug) cat_bind_text(s, 1, tenant_slug);
  cat_bind_text(s, 2, username);
  int st = sqlite3_step(s);
  if (st == SQLITE_ROW) {
    char status[32];
    user_row(s, &out->user);
    cat_col_text(s, 8, out->password_hash, sizeof out->password_hash);
    cat_col_text(s, 9, status, sizeof status);
    akidb_tenant_status_parse(status, &out->tenant_status);
  } else if (st == SQLITE_DONE) {
    rc = cat_fail(err, errlen, AKIDB_ENOTFOUND, "user not found");
  } else {
    rc = cat_sqlite_fail(c->db, st, "reading the user", err, errlen);
  }
  sqlite3_reset(s);
out:
  cat_read_end(cat, c);
  return rc;
}

/* ------------------------------------------------------------- API keys -- */

#define KEY_COLUMNS                                                                                \
  "k.id, k.user_id, u.tenant_id, k.name, k.prefix, k.created_at, k.last_used_at, "                 \
  "k.expires_at, k.revoked_at FROM api_keys k JOIN users u ON u.id = k.user_id"

static void key_row(sqlite3_stmt *s, void *item) {
  akidb_api_key_t *k = item;
  cat_col_uuid(s, 0, &k->id);
  cat_col_uuid(s, 1, &k->user_id);
  k->has_tenant = sqlite3_column_type(s, 2) == SQLITE_BLOB;
  if (k->has_tenant) cat_col_uuid(s, 2, &k->tenant_id);
  cat_col_text(s, 3, k->name, sizeof k->name);
  cat_col_text(s, 4, k->prefix, sizeof k->prefix);
  k->created_at_ms = sqlite3_column_int64(s, 5);
  k->last_used_ms = sqlite3_column_int64(s, 6);
  k->expires_at_ms = sqlite3_column_int64(s, 7);
  k->revoked_at_ms = sqlite3_column_int64(s, 8);
}

static const char SQL_KEY_BY_ID[] = "SELECT " KEY_COLUMNS " WHERE k.id = ?1";

int akidb_api_key_get(akidb_catalog_t *cat, const akidb_uuid_t *id, akidb_api_key_t *out, char *err,
                      size_t errlen) {
  if (!id || !out) return cat_fail(err, errlen, AKIDB_EINVAL, "API key id is NULL");
  catalog_conn_t *c = cat_read_begin(cat);
  int rc =
      cat_get_one(c, SQL_KEY_BY_ID, id, NULL, key_row, out, sizeof *out, "API key", err, errlen);
  cat_read_end(cat, c);
  return rc;
}

int akidb_api_key_list(akidb_catalog_t *cat, const akidb_uuid_t *user_id,
                       const akidb_uuid_t *tenant_id, const akidb_page_t *page,
                       akidb_api_key_list_t *out, char *err, size_t errlen) {
  static const char SQL_U_FIRST[] =
      "SELECT " KEY_COLUMNS " WHERE k.user_id = ?1 ORDER BY k.id LIMIT ?3";
  static const char SQL_U_AFTER[] =
      "SELECT " KEY_COLUMNS " WHERE k.user_id = ?1 AND k.id > ?2 ORDER BY k.id LIMIT ?3";
  static const char SQL_T_FIRST[] =
      "SELECT " KEY_COLUMNS " WHERE u.tenant_id = ?1 ORDER BY k.id LIMIT ?3";
  static const char SQL_T_AFTER[] =
      "SELECT " KEY_COLUMNS " WHERE u.tenant_id = ?1 AND k.id > ?2 ORDER BY k.id LIMIT ?3";
  memset(out, 0, sizeof *out);
  if (!user_id && !tenant_id)
    return cat_fail(err, errlen, AKIDB_EINVAL, "API key list needs a user id or a tenant id");
  void *items;
  int rc =
      cat_list_run(cat, user_id ? SQL_U_FIRST : SQL_T_FIRST, user_id ? SQL_U_AFTER : SQL_T_AFTER,
                   user_id ? user_id : tenant_id, page, sizeof(akidb_api_key_t), key_row, &items,
                   &out->count, &out->has_more, &out->next, err, errlen);
  out->items = items;
  return rc;
}

void akidb_api_key_list_free(akidb_api_key_list_t *list) {
  if (!list) return;
  free(list->items);
  memset(list, 0, sizeof *list);
}

static void key_target(const akidb_api_key_t *k, char *out, size_t size) {
  snprintf(out, size, "apikey/%s", k->prefix);
}

int cat_api_key_insert(akidb_catalog_t *cat, const akidb_api_key_t *k, const uint8_t hash[32],
                       const akidb_audit_ctx_t *audit, char *err, size_t errlen) {
  static const char SQL[] =
      "INSERT INTO api_keys(id, user_id, name, prefix, secret_hash, created_at, expires_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
  catalog_conn_t *c;
  int rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  akidb_user_t user;
  rc = read_user(c, &k->user_id, &user, err, errlen);
  sqlite3_stmt *s = rc ? NULL : cat_stmt(c, SQL, err, errlen);
  if (!rc && !s) rc = AKIDB_EIO;
  if (!rc) {
    cat_bind_uuid(s, 1, &k->id);
    cat_bind_uuid(s, 2, &k->user_id);
    cat_bind_text(s, 3, k->name);
    cat_bind_text(s, 4, k->prefix);
    sqlite3_bind_blob(s, 5, hash, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 6, k->created_at_ms);
    if (k->expires_at_ms) sqlite3_bind_int64(s, 7, k->expires_at_ms);
    int st = cat_step_done(s);
    if (cat_is_unique_violation(st))
      rc = cat_fail(err, errlen, AKIDB_EEXIST, "an API key with prefix %s already exists",
                    k->prefix);
    else if (st != SQLITE_DONE)
      rc = cat_sqlite_fail(c->db, st, "inserting the API key", err, errlen);
  }
  if (!rc && audit) {
    cat_json_t j;
    char target[AKIDB_AUDIT_TARGET_MAX + 1], owner[AKIDB_AUDIT_TARGET_MAX + 1];
    cat_json_begin(&j);
    cat_json_uuid(&j, "id", &k->id);
    cat_json_str(&j, "name", k->name);
    user_target(c, &user, owner, sizeof owner);
    cat_json_str(&j, "user", owner);
    cat_json_int(&j, "expires_at_ms", k->expires_at_ms);
    key_target(k, target, sizeof target);
    rc = cat_audit_write(c, audit, user.has_tenant ? &user.tenant_id : NULL,
                         AKIDB_AUDIT_APIKEY_CREATE, target, AKIDB_AUDIT_SUCCESS, cat_json_end(&j),
                         err, errlen);
  }
  return cat_write_end(cat, rc, err, errlen);
}

int cat_api_key_revoke(akidb_catalog_t *cat, const akidb_uuid_t *id, int64_t now_ms,
                       const akidb_audit_ctx_t *audit, char *err, size_t errlen) {
  static const char SQL[] = "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1";
  catalog_conn_t *c;
  int rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  akidb_api_key_t k;
  memset(&k, 0, sizeof k);
  rc = cat_get_one(c, SQL_KEY_BY_ID, id, NULL, key_row, &k, sizeof k, "API key", err, errlen);
  if (!rc && k.revoked_at_ms)
    rc = cat_fail(err, errlen, AKIDB_ECONFLICT, "API key %s was already revoked", k.prefix);
  if (!rc) {
    sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
    int st = SQLITE_ERROR;
    if (s) {
      cat_bind_uuid(s, 1, id);
      sqlite3_bind_int64(s, 2, now_ms);
      st = cat_step_done(s);
    }
    if (st != SQLITE_DONE) rc = cat_sqlite_fail(c->db, st, "revoking the API key", err, errlen);
  }
  if (!rc && audit) {
    cat_json_t j;
    char target[AKIDB_AUDIT_TARGET_MAX + 1];
    cat_json_begin(&j);
    cat_json_uuid(&j, "id", id);
    cat_json_uuid(&j, "user_id", &k.user_id);
    key_target(&k, target, sizeof target);
    rc = cat_audit_write(c, audit, k.has_tenant ? &k.tenant_id : NULL, AKIDB_AUDIT_APIKEY_REVOKE,
                         target, AKIDB_AUDIT_SUCCESS, cat_json_end(&j), err, errlen);
  }
  if (!rc) cat_identity_changed(cat);
  return cat_write_end(cat, rc, err, errlen);
}

int cat_api_key_touch(akidb_catalog_t *cat, const akidb_uuid_t *id, int64_t now_ms) {
  static const char SQL[] = "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1";
  catalog_conn_t *c;
  int rc = cat_write_begin(cat, &c, NULL, 0);
  if (rc) return rc;
  sqlite3_stmt *s = cat_stmt(c, SQL, NULL, 0);
  if (!s) {
    rc = AKIDB_EIO;
  } else {
    cat_bind_uuid(s, 1, id);
    sqlite3_bind_int64(s, 2, now_ms);
    if (cat_step_done(s) != SQLITE_DONE) rc = AKIDB_EIO;
  }
  return cat_write_end(cat, rc, NULL, 0);
}

/* ----------------------------------------------------------- credentials -- */

int cat_credential_lookup(akidb_catalog_t *cat, bool is_key, const char *prefix,
                          cat_credential_t *out, char *err, size_t errlen) {
  static const char SQL_KEY[] =
      "SELECT k.id, k.secret_hash, k.expires_at, k.revoked_at, k.last_used_at, u.id, "
      "u.tenant_id, u.role, u.status, coalesce(t.status, 'active'), u.username "
      "FROM api_keys k JOIN users u ON u.id = k.user_id LEFT JOIN tenants t ON t.id = u.tenant_id "
      "WHERE k.prefix = ?1";
  static const char SQL_SESSION[] =
      "SELECT s.id, s.secret_hash, s.expires_at, NULL, NULL, u.id, "
      "u.tenant_id, u.role, u.status, coalesce(t.status, 'active'), u.username "
      "FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN tenants t ON t.id = u.tenant_id "
      "WHERE s.prefix = ?1";
  memset(out, 0, sizeof *out);
  catalog_conn_t *c = cat_read_begin(cat);
  sqlite3_stmt *s = cat_stmt(c, is_key ? SQL_KEY : SQL_SESSION, err, errlen);
  int rc = AKIDB_OK;
  if (!s) {
    rc = AKIDB_EIO;
    goto out;
  }
  cat_bind_text(s, 1, prefix);
  int st = sqlite3_step(s);
  if (st == SQLITE_ROW) {
    char word[32];
    cat_col_uuid(s, 0, &out->id);
    if (sqlite3_column_bytes(s, 1) == 32) memcpy(out->secret_hash, sqlite3_column_blob(s, 1), 32);
    out->expires_at_ms = sqlite3_column_int64(s, 2);
    out->revoked_at_ms = sqlite3_column_int64(s, 3);
    out->last_used_ms = sqlite3_column_int64(s, 4);
    cat_col_uuid(s, 5, &out->user_id);
    out->has_tenant = sqlite3_column_type(s, 6) == SQLITE_BLOB;
    if (out->has_tenant) cat_col_uuid(s, 6, &out->tenant_id);
    cat_col_text(s, 7, word, sizeof word);
    akidb_role_parse(word, &out->role);
    cat_col_text(s, 8, word, sizeof word);
    akidb_user_status_parse(word, &out->user_status);
    cat_col_text(s, 9, word, sizeof word);
    akidb_tenant_status_parse(word, &out->tenant_status);
    cat_col_text(s, 10, out->username, sizeof out->username);
  } else if (st == SQLITE_DONE) {
    rc = cat_fail(err, errlen, AKIDB_ENOTFOUND, "credential not found");
  } else {
    rc = cat_sqlite_fail(c->db, st, "reading the credential", err, errlen);
  }
  sqlite3_reset(s);
out:
  cat_read_end(cat, c);
  return rc;
}

/* -------------------------------------------------------------- sessions -- */

int cat_session_insert(akidb_catalog_t *cat, const akidb_uuid_t *id, const akidb_uuid_t *user_id,
                       const char *prefix, const uint8_t hash[32], const char *source,
                       int64_t created_ms, int64_t expires_ms, char *err, size_t errlen) {
  static const char SQL[] =
      "INSERT INTO sessions(id, user_id, prefix, secret_hash, source, created_at, expires_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
  catalog_conn_t *c;
  int rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) {
    rc = AKIDB_EIO;
  } else {
    cat_bind_uuid(s, 1, id);
    cat_bind_uuid(s, 2, user_id);
    cat_bind_text(s, 3, prefix);
    sqlite3_bind_blob(s, 4, hash, 32, SQLITE_TRANSIENT);
    cat_bind_text(s, 5, source);
    sqlite3_bind_int64(s, 6, created_ms);
    sqlite3_bind_int64(s, 7, expires_ms);
    int st = cat_step_done(s);
    if (cat_is_unique_violation(st))
      rc = cat_fail(err, errlen, AKIDB_EEXIST, "a session with this prefix already exists");
    else if (st != SQLITE_DONE)
      rc = cat_sqlite_fail(c->db, st, "storing the session", err, errlen);
  }
  return cat_write_end(cat, rc, err, errlen);
}

int cat_session_delete(akidb_catalog_t *cat, const akidb_uuid_t *id, const akidb_uuid_t *tenant,
                       const akidb_audit_ctx_t *audit, char *err, size_t errlen) {
  static const char SQL[] = "DELETE FROM sessions WHERE id = ?1";
  catalog_conn_t *c;
  int rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  int st = SQLITE_ERROR;
  if (s) {
    cat_bind_uuid(s, 1, id);
    st = cat_step_done(s);
  }
  if (st != SQLITE_DONE)
    rc = cat_sqlite_fail(c->db, st, "ending the session", err, errlen);
  else if (sqlite3_changes(c->db) == 0)
    rc = cat_fail(err, errlen, AKIDB_ENOTFOUND, "session not found");
  if (!rc && audit) {
    cat_json_t j;
    cat_json_begin(&j);
    cat_json_uuid(&j, "session_id", id);
    rc = cat_audit_write(c, audit, tenant, AKIDB_AUDIT_LOGOUT, "session", AKIDB_AUDIT_SUCCESS,
                         cat_json_end(&j), err, errlen);
  }
  if (!rc) cat_identity_changed(cat);
  return cat_write_end(cat, rc, err, errlen);
}

int cat_sessions_purge(akidb_catalog_t *cat, int64_t now_ms, uint64_t *n, char *err,
                       size_t errlen) {
  static const char SQL[] = "DELETE FROM sessions WHERE expires_at <= ?1";
  catalog_conn_t *c;
  int rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  int st = SQLITE_ERROR;
  if (s) {
    sqlite3_bind_int64(s, 1, now_ms);
    st = cat_step_done(s);
  }
  if (st != SQLITE_DONE)
    rc = cat_sqlite_fail(c->db, st, "purging sessions", err, errlen);
  else if (n)
    *n = (uint64_t)sqlite3_changes64(c->db);
  return cat_write_end(cat, rc, err, errlen);
}
