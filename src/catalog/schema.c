/*
 * schema.c — owns the catalog's SQL schema: the embedded migrations (one
 * per schema version, applied in order in one transaction at open, each
 * recorded in schema_version), the check that a file is an AkiDB catalog
 * (application_id) and the refusal of files written by a newer AkiDB.
 *
 * Locking: runs on the writer connection during open, before the catalog is
 * shared. Durability: all pending migrations commit together or not at all;
 * a file that needs none is not written.
 */
#include <stdio.h>
#include <string.h>

#include "catalog/catalog_internal.h"

/* 'AkiD': marks the file as an AkiDB catalog (SQLite header offset 68). */
#define CATALOG_APPLICATION_ID 0x416b6944

#define NOW CATALOG_SQL_NOW

/* created_at never changes; updated_at moves forward on every update (at
 * least by 1 ms, so an update is always visible). */
#define TIMESTAMP_TRIGGERS(t)                                                   \
  "CREATE TRIGGER " t "_created_at_immutable BEFORE UPDATE OF created_at ON " t \
  " WHEN NEW.created_at IS NOT OLD.created_at"                                  \
  " BEGIN SELECT RAISE(ABORT, '" t ".created_at is immutable'); END;\n"         \
  "CREATE TRIGGER " t "_touch AFTER UPDATE ON " t                               \
  " WHEN NEW.updated_at IS OLD.updated_at"                                      \
  " BEGIN UPDATE " t " SET updated_at = max(" NOW ", OLD.updated_at + 1)"       \
  " WHERE id = NEW.id; END;\n"

#define TIMESTAMP_COLUMNS                                                       \
  "  created_at INTEGER NOT NULL DEFAULT (" NOW "),\n"                          \
  "  updated_at INTEGER NOT NULL DEFAULT (" NOW ")\n"

#define UUID_CHECK(col) "CHECK (length(" col ") = 16)"

/* Version 1: tenants, databases, collections, catalog_meta. */
static const char MIGRATION_1[] =
    "CREATE TABLE catalog_meta (\n"
    "  key TEXT PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 128),\n"
    "  value TEXT NOT NULL CHECK (length(value) <= 65536)\n"
    ") STRICT, WITHOUT ROWID;\n"
    "CREATE TABLE tenants (\n"
    "  id BLOB PRIMARY KEY " UUID_CHECK("id") ",\n"
    "  slug TEXT NOT NULL UNIQUE CHECK (length(slug) BETWEEN 3 AND 63"
    "    AND slug NOT GLOB '*[^a-z0-9-]*'),\n"
    "  name TEXT NOT NULL CHECK (length(CAST(name AS BLOB)) BETWEEN 1 AND 255),\n"
    "  status TEXT NOT NULL CHECK (status IN"
    "    ('provisioning', 'active', 'suspended', 'decommissioned')),\n"
    "  max_memory_bytes INTEGER NOT NULL DEFAULT 0 CHECK (max_memory_bytes >= 0),\n"
    "  max_storage_bytes INTEGER NOT NULL DEFAULT 0 CHECK (max_storage_bytes >= 0),\n"
    "  max_qps INTEGER NOT NULL DEFAULT 0 CHECK (max_qps BETWEEN 0 AND 10000000),\n"
    "  max_collections INTEGER NOT NULL DEFAULT 0"
    "    CHECK (max_collections BETWEEN 0 AND 1000000),\n" TIMESTAMP_COLUMNS
    ") STRICT, WITHOUT ROWID;\n" TIMESTAMP_TRIGGERS("tenants")
    "CREATE TRIGGER tenants_status_transition BEFORE UPDATE OF status ON tenants\n"
    "  WHEN NEW.status IS NOT OLD.status AND NOT (\n"
    "    (OLD.status = 'provisioning' AND NEW.status IN ('active', 'decommissioned')) OR\n"
    "    (OLD.status = 'active' AND NEW.status = 'suspended') OR\n"
    "    (OLD.status = 'suspended' AND NEW.status IN ('active', 'decommissioned')))\n"
    "  BEGIN SELECT RAISE(ABORT, 'invalid tenant status transition'); END;\n"
    "CREATE TABLE databases (\n"
    "  id BLOB PRIMARY KEY " UUID_CHECK("id") ",\n"
    "  tenant_id BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,\n"
    "  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 63"
    "    AND name NOT GLOB '*[^A-Za-z0-9_-]*' AND name NOT GLOB '[_-]*'),\n"
    "  state TEXT NOT NULL CHECK (state IN"
    "    ('provisioning', 'ready', 'migrating', 'deleting')),\n" TIMESTAMP_COLUMNS ",\n"
    "  UNIQUE (tenant_id, name)\n"
    ") STRICT, WITHOUT ROWID;\n" TIMESTAMP_TRIGGERS("databases")
    "CREATE TRIGGER databases_state_transition BEFORE UPDATE OF state ON databases\n"
    "  WHEN NEW.state IS NOT OLD.state AND NOT (\n"
    "    (OLD.state = 'provisioning' AND NEW.state IN ('ready', 'deleting')) OR\n"
    "    (OLD.state = 'ready' AND NEW.state IN ('migrating', 'deleting')) OR\n"
    "    (OLD.state = 'migrating' AND NEW.state = 'ready'))\n"
    "  BEGIN SELECT RAISE(ABORT, 'invalid database state transition'); END;\n"
    "CREATE TABLE collections (\n"
    "  id BLOB PRIMARY KEY " UUID_CHECK("id") ",\n"
    "  database_id BLOB NOT NULL REFERENCES databases(id) ON DELETE CASCADE,\n"
    "  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 63"
    "    AND name NOT GLOB '*[^A-Za-z0-9_-]*' AND name NOT GLOB '[_-]*'),\n"
    "  dimension INTEGER NOT NULL CHECK (dimension BETWEEN 1 AND 65536),\n"
    "  metric TEXT NOT NULL CHECK (metric IN ('cosine', 'l2', 'dot')),\n"
    "  hnsw_m INTEGER NOT NULL CHECK (hnsw_m >= 2),\n"
    "  hnsw_ef_construction INTEGER NOT NULL CHECK (hnsw_ef_construction >= hnsw_m),\n"
    "  hnsw_ef_search INTEGER NOT NULL CHECK (hnsw_ef_search >= 1),\n"
    "  embedding TEXT CHECK (embedding IS NULL OR (length(embedding) <= 4095 AND"
    "    CASE WHEN json_valid(embedding) THEN json_type(embedding) = 'object' ELSE 0 END)),\n"
    "  tier TEXT NOT NULL CHECK (tier IN ('hot', 'warm', 'cold')),\n"
    "  tier_pinned INTEGER NOT NULL DEFAULT 0 CHECK (tier_pinned IN (0, 1)),\n"
    "  warm_after_s INTEGER NOT NULL DEFAULT 0 CHECK (warm_after_s BETWEEN 0 AND 4294967295),\n"
    "  cold_after_s INTEGER NOT NULL DEFAULT 0 CHECK (cold_after_s BETWEEN 0 AND 4294967295),\n"
    TIMESTAMP_COLUMNS ",\n"
    "  UNIQUE (database_id, name)\n"
    ") STRICT, WITHOUT ROWID;\n" TIMESTAMP_TRIGGERS("collections");

/* Version 2: users, API keys, sessions. */
static const char MIGRATION_2[] =
    "CREATE TABLE users (\n"
    "  id BLOB PRIMARY KEY " UUID_CHECK("id") ",\n"
    "  tenant_id BLOB REFERENCES tenants(id) ON DELETE CASCADE,\n"
    "  username TEXT NOT NULL CHECK (length(username) BETWEEN 1 AND 64"
    "    AND username NOT GLOB '*[^a-z0-9._@-]*' AND username NOT GLOB '[._@-]*'),\n"
    "  password_hash TEXT CHECK (password_hash IS NULL OR (length(password_hash) <= 255"
    "    AND password_hash GLOB '$argon2id$*')),\n"
    "  role TEXT NOT NULL CHECK (role IN"
    "    ('system-admin', 'admin', 'developer', 'viewer', 'auditor')),\n"
    "  status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),\n" TIMESTAMP_COLUMNS ",\n"
    "  CHECK ((role = 'system-admin') = (tenant_id IS NULL))\n"
    ") STRICT, WITHOUT ROWID;\n"
    "CREATE UNIQUE INDEX users_tenant_username ON users(tenant_id, username);\n"
    "CREATE UNIQUE INDEX users_system_username ON users(username) WHERE tenant_id IS NULL;\n"
    TIMESTAMP_TRIGGERS("users")
    "CREATE TABLE api_keys (\n"
    "  id BLOB PRIMARY KEY " UUID_CHECK("id") ",\n"
    "  user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 63),\n"
    "  prefix TEXT NOT NULL UNIQUE CHECK (length(prefix) = 16"
    "    AND prefix NOT GLOB '*[^0-9a-f]*'),\n"
    "  secret_hash BLOB NOT NULL CHECK (length(secret_hash) = 32),\n"
    "  created_at INTEGER NOT NULL,\n"
    "  last_used_at INTEGER,\n"
    "  expires_at INTEGER,\n"
    "  revoked_at INTEGER\n"
    ") STRICT, WITHOUT ROWID;\n"
    "CREATE INDEX api_keys_user ON api_keys(user_id);\n"
    "CREATE TABLE sessions (\n"
    "  id BLOB PRIMARY KEY " UUID_CHECK("id") ",\n"
    "  user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "  prefix TEXT NOT NULL UNIQUE CHECK (length(prefix) = 16"
    "    AND prefix NOT GLOB '*[^0-9a-f]*'),\n"
    "  secret_hash BLOB NOT NULL CHECK (length(secret_hash) = 32),\n"
    "  source TEXT,\n"
    "  created_at INTEGER NOT NULL,\n"
    "  expires_at INTEGER NOT NULL\n"
    ") STRICT, WITHOUT ROWID;\n"
    "CREATE INDEX sessions_user ON sessions(user_id);\n"
    "CREATE INDEX sessions_expires ON sessions(expires_at);\n";

/* Version 3: the append-only audit log. Rows leave only through
 * akidb_audit_prune, which opens the gate in audit_retention for the
 * length of its own transaction. */
static const char MIGRATION_3[] =
    "CREATE TABLE audit_log (\n"
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  time_ms INTEGER NOT NULL,\n"
    "  actor_id BLOB CHECK (actor_id IS NULL OR length(actor_id) = 16),\n"
    "  actor TEXT NOT NULL CHECK (length(actor) <= 128),\n"
    "  tenant_id BLOB CHECK (tenant_id IS NULL OR length(tenant_id) = 16),\n"
    "  action TEXT NOT NULL CHECK (length(action) BETWEEN 1 AND 64),\n"
    "  target TEXT NOT NULL CHECK (length(target) <= 255),\n"
    "  outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),\n"
    "  request_id TEXT NOT NULL CHECK (length(request_id) <= 128),\n"
    "  details TEXT NOT NULL CHECK (length(details) <= 4095 AND"
    "    CASE WHEN json_valid(details) THEN json_type(details) = 'object' ELSE 0 END)\n"
    ") STRICT;\n"
    "CREATE INDEX audit_log_tenant ON audit_log(tenant_id, seq);\n"
    "CREATE INDEX audit_log_actor_id ON audit_log(actor_id, seq);\n"
    "CREATE INDEX audit_log_action ON audit_log(action, seq);\n"
    "CREATE INDEX audit_log_time ON audit_log(time_ms);\n"
    "CREATE TABLE audit_retention (\n"
    "  id INTEGER PRIMARY KEY CHECK (id = 1),\n"
    "  prune_before_ms INTEGER NOT NULL\n"
    ") STRICT;\n"
    "INSERT INTO audit_retention VALUES (1, -9223372036854775807 - 1);\n"
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log\n"
    "  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: rows cannot be changed'); END;\n"
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log\n"
    "  WHEN OLD.time_ms >= (SELECT prune_before_ms FROM audit_retention WHERE id = 1)\n"
    "  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: rows leave only by retention "
    "pruning'); END;\n"
    "CREATE TRIGGER audit_retention_no_delete BEFORE DELETE ON audit_retention\n"
    "  BEGIN SELECT RAISE(ABORT, 'audit_retention cannot be deleted'); END;\n"
    "CREATE TRIGGER audit_retention_no_insert BEFORE INSERT ON audit_retention\n"
    "  BEGIN SELECT RAISE(ABORT, 'audit_retention has exactly one row'); END;\n";

/* Version 4: object storage. Snapshots belong to their tenant, not to their
 * collection (a deleted collection's snapshots can still be restored);
 * `cold_manifest` names the object of a collection whose data lives only in
 * the object store; the dead-letter queue holds the uploads and deletes
 * that exhausted their retries, one row per (kind, object key). */
static const char MIGRATION_4[] =
    "CREATE TABLE snapshots (\n"
    "  id BLOB PRIMARY KEY " UUID_CHECK("id") ",\n"
    "  tenant_id BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,\n"
    "  collection_id BLOB NOT NULL " UUID_CHECK("collection_id") ",\n"
    "  database_name TEXT NOT NULL CHECK (length(database_name) BETWEEN 1 AND 63),\n"
    "  collection_name TEXT NOT NULL CHECK (length(collection_name) BETWEEN 1 AND 63),\n"
    "  state TEXT NOT NULL CHECK (state IN ('creating', 'ready', 'failed')),\n"
    "  log_seq INTEGER NOT NULL DEFAULT 0 CHECK (log_seq >= 0),\n"
    "  points INTEGER NOT NULL DEFAULT 0 CHECK (points >= 0),\n"
    "  bytes INTEGER NOT NULL DEFAULT 0 CHECK (bytes >= 0),\n"
    "  manifest_key TEXT NOT NULL CHECK (length(manifest_key) BETWEEN 1 AND 1024),\n"
    "  error TEXT NOT NULL DEFAULT '' CHECK (length(error) <= 1024),\n" TIMESTAMP_COLUMNS
    ") STRICT, WITHOUT ROWID;\n" TIMESTAMP_TRIGGERS("snapshots")
    "CREATE INDEX snapshots_tenant ON snapshots(tenant_id, id);\n"
    "CREATE TRIGGER snapshots_state_transition BEFORE UPDATE OF state ON snapshots\n"
    "  WHEN NEW.state IS NOT OLD.state AND NOT (OLD.state = 'creating')\n"
    "  BEGIN SELECT RAISE(ABORT, 'invalid snapshot state transition'); END;\n"
    "ALTER TABLE collections ADD COLUMN cold_manifest TEXT"
    "  CHECK (cold_manifest IS NULL OR length(cold_manifest) BETWEEN 1 AND 1024);\n"
    "CREATE TABLE dead_letters (\n"
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  kind TEXT NOT NULL CHECK (kind IN ('cold_upload', 'object_delete')),\n"
    "  collection_id BLOB CHECK (collection_id IS NULL OR length(collection_id) = 16),\n"
    "  object_key TEXT NOT NULL CHECK (length(object_key) BETWEEN 1 AND 1024),\n"
    "  attempts INTEGER NOT NULL DEFAULT 1 CHECK (attempts >= 1),\n"
    "  last_error TEXT NOT NULL CHECK (length(last_error) <= 1024),\n"
    "  created_at INTEGER NOT NULL DEFAULT (" NOW "),\n"
    "  next_attempt_at INTEGER NOT NULL,\n"
    "  UNIQUE (kind, object_key)\n"
    ") STRICT;\n"
    "CREATE INDEX dead_letters_due ON dead_letters(next_attempt_at);\n";

/* Version 5: each collection's BM25 parameters (its text index). */
static const char MIGRATION_5[] =
    "ALTER TABLE collections ADD COLUMN bm25_k1 REAL NOT NULL DEFAULT 1.2"
    "  CHECK (bm25_k1 BETWEEN 0 AND 10);\n"
    "ALTER TABLE collections ADD COLUMN bm25_b REAL NOT NULL DEFAULT 0.75"
    "  CHECK (bm25_b BETWEEN 0 AND 1);\n";

typedef struct {
  int version;
  const char *description;
  const char *sql;
} migration_t;

static const migration_t MIGRATIONS[] = {
    {1, "tenants, databases, collections", MIGRATION_1},
    {2, "users, api keys, sessions", MIGRATION_2},
    {3, "audit log", MIGRATION_3},
    {4, "snapshots, cold collections, dead-letter queue", MIGRATION_4},
    {5, "text index parameters of collections", MIGRATION_5},
};
#define N_MIGRATIONS (sizeof MIGRATIONS / sizeof MIGRATIONS[0])

_Static_assert(N_MIGRATIONS == AKIDB_CATALOG_SCHEMA_VERSION,
               "one migration per schema version");

/* Runs SQL text that may hold several statements. */
static int exec_script(sqlite3 *db, const char *sql, const char *what, char *err, size_t errlen) {
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) {
    cat_fail(err, errlen, AKIDB_EIO, "catalog: %s failed (%s)", what,
             msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return (rc & 0xff) == SQLITE_NOTADB ? AKIDB_EFORMAT : AKIDB_EIO;
  }
  return AKIDB_OK;
}

/* One integer from a query (no parameters). */
static int query_int(sqlite3 *db, const char *sql, int64_t *out, char *err, size_t errlen) {
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
  if (rc != SQLITE_OK) return cat_sqlite_fail(db, rc, "reading the schema", err, errlen);
  rc = sqlite3_step(s);
  *out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  sqlite3_finalize(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return cat_sqlite_fail(db, rc, "reading the schema", err, errlen);
  return AKIDB_OK;
}

int catalog_schema_read_version(sqlite3 *db, int *out, char *err, size_t errlen) {
  int64_t has = 0, v = 0;
  int rc = query_int(db,
                     "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = "
                     "'schema_version'",
                     &has, err, errlen);
  if (!rc && has) rc = query_int(db, "SELECT coalesce(max(version), 0) FROM schema_version", &v, err, errlen);
  *out = rc ? 0 : (int)v;
  return rc;
}

/* Refuses files that are not (empty or) AkiDB catalogs. */
int catalog_schema_check_identity(sqlite3 *db, char *err, size_t errlen) {
  int64_t app = 0, tables = 0;
  int rc = query_int(db, "PRAGMA application_id", &app, err, errlen);
  if (rc) return rc == AKIDB_EIO ? cat_fail(err, errlen, AKIDB_EFORMAT,
                                            "catalog: the file is not an SQLite database")
                                 : rc;
  if (app == CATALOG_APPLICATION_ID) return AKIDB_OK;
  if (app != 0)
    return cat_fail(err, errlen, AKIDB_EFORMAT,
                    "catalog: the file is an SQLite database of another application "
                    "(application_id 0x%08llx), not an AkiDB catalog",
                    (unsigned long long)(uint32_t)app);
  rc = query_int(db, "SELECT count(*) FROM sqlite_schema", &tables, err, errlen);
  if (rc) return rc;
  if (tables)
    return cat_fail(err, errlen, AKIDB_EFORMAT,
                    "catalog: the file is an SQLite database that is not an AkiDB catalog");
  return AKIDB_OK;
}

static int apply_one(sqlite3 *db, const migration_t *m, char *err, size_t errlen) {
  char what[96];
  snprintf(what, sizeof what, "schema migration %d (%s)", m->version, m->description);
  int rc = exec_script(db, m->sql, what, err, errlen);
  if (rc) return rc;
  char sql[256];
  snprintf(sql, sizeof sql,
           "INSERT INTO schema_version(version, applied_at, description) VALUES (%d, %s, '%s')",
           m->version, CATALOG_SQL_NOW, m->description);
  return exec_script(db, sql, what, err, errlen);
}

/* Applies migrations (have, target] inside the caller's transaction. */
static int apply_pending(sqlite3 *db, int have, int target, char *err, size_t errlen) {
  int rc = exec_script(db,
                       "CREATE TABLE IF NOT EXISTS schema_version (\n"
                       "  version INTEGER PRIMARY KEY,\n"
                       "  applied_at INTEGER NOT NULL,\n"
                       "  description TEXT NOT NULL\n"
                       ") STRICT",
                       "creating schema_version", err, errlen);
  if (!rc) {
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA application_id = %d", CATALOG_APPLICATION_ID);
    rc = exec_script(db, sql, "marking the file", err, errlen);
  }
  for (size_t i = 0; !rc && i < N_MIGRATIONS; i++)
    if (MIGRATIONS[i].version > have && MIGRATIONS[i].version <= target)
      rc = apply_one(db, &MIGRATIONS[i], err, errlen);
  return rc;
}

int catalog_schema_migrate(sqlite3 *db, int target, char *err, size_t errlen) {
  if (target < 1 || target > AKIDB_CATALOG_SCHEMA_VERSION)
    return cat_fail(err, errlen, AKIDB_EINVAL, "schema target %d is not 1..%d", target,
                    AKIDB_CATALOG_SCHEMA_VERSION);
  int rc = exec_script(db, "BEGIN IMMEDIATE", "locking the catalog", err, errlen);
  if (rc) return rc;
  int have = 0;
  rc = catalog_schema_check_identity(db, err, errlen);
  if (!rc) rc = catalog_schema_read_version(db, &have, err, errlen);
  if (!rc && have > AKIDB_CATALOG_SCHEMA_VERSION)
    rc = cat_fail(err, errlen, AKIDB_EVERSION,
                  "catalog: the catalog has schema version %d, written by a newer AkiDB; this "
                  "build supports versions up to %d — upgrade akidb to open it",
                  have, AKIDB_CATALOG_SCHEMA_VERSION);
  if (!rc && have < target) rc = apply_pending(db, have, target, err, errlen);
  if (rc) {
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
  }
  return exec_script(db, "COMMIT", "committing the schema", err, errlen);
}
