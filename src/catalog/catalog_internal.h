/*
 * catalog_internal.h — what the catalog's files (and src/auth/, which keeps
 * its rows in the catalog) share: the connection pool, the per-connection
 * statement cache, write scopes, row decoding and error helpers.
 *
 * Locking: the writer connection has a recursive mutex, held from
 * cat_write_begin to cat_write_end (or across an explicit transaction);
 * each reader connection has its own mutex, held from cat_read_begin to
 * cat_read_end. No function holds a reader while taking the writer.
 */
#ifndef AKIDB_CATALOG_INTERNAL_H
#define AKIDB_CATALOG_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "akidb/catalog.h"

#define CATALOG_STMT_SLOTS 512 /* per connection; a power of two */
#define CATALOG_AUDIT_VARIANTS 64

/* "Now" in Unix milliseconds, as SQL. */
#define CATALOG_SQL_NOW "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
/* Moves updated_at forward (by at least 1 ms) inside an UPDATE's SET list;
 * the *_touch triggers do the same for UPDATEs that do not. */
#define CATALOG_SQL_TOUCH "updated_at = max(" CATALOG_SQL_NOW ", updated_at + 1)"

typedef struct {
  const char *sql; /* the statement's text; its address is the cache key */
  sqlite3_stmt *stmt;
} catalog_stmt_slot_t;

typedef struct {
  sqlite3 *db;
  pthread_mutex_t lock;
  catalog_stmt_slot_t slots[CATALOG_STMT_SLOTS];
} catalog_conn_t;

struct akidb_catalog {
  char *path;
  catalog_conn_t writer; /* recursive lock */
  catalog_conn_t *readers;
  uint32_t n_readers;
  atomic_uint next_reader;
  /* Write scopes: depth of nested cat_write_begin on the writer, and
   * whether an explicit transaction (akidb_catalog_begin) is open; its
   * thread knows it through a thread-local pointer. Guarded by the writer
   * lock. */
  int write_depth;
  bool explicit_txn;
  bool identity_dirty; /* this transaction changed identity rows */
  /* Bumped after every commit that changed users, keys, sessions or tenant
   * status; auth's principal cache drops entries of an older generation. */
  atomic_uint_fast64_t identity_gen;
  char *audit_sql[CATALOG_AUDIT_VARIANTS];
};

/* ---------------------------------------------------------- messages -- */

/* printf into err (when not NULL). Returns `code` for tail calls. */
int cat_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Maps an SQLite failure of `what` to an AkiDB code with a message that
 * starts with our words and ends with SQLite's. */
int cat_sqlite_fail(sqlite3 *db, int rc, const char *what, char *err, size_t errlen);

int64_t cat_now_ms(void);

/* ------------------------------------------------------- connections -- */

/* The cached prepared statement for `sql` (a string with static storage),
 * reset with bindings cleared. NULL on failure (message in err). */
sqlite3_stmt *cat_stmt(catalog_conn_t *c, const char *sql, char *err, size_t errlen);

/* Takes a connection for reading: the writer when the calling thread holds
 * the explicit transaction (so it reads its own writes), else a reader. */
catalog_conn_t *cat_read_begin(akidb_catalog_t *cat);
void cat_read_end(akidb_catalog_t *cat, catalog_conn_t *c);

/* Opens a write scope on the writer (BEGIN IMMEDIATE, or a SAVEPOINT inside
 * another scope or the explicit transaction). */
int cat_write_begin(akidb_catalog_t *cat, catalog_conn_t **c, char *err, size_t errlen);
/* Closes it: commits/releases when rc == 0, else rolls back this scope.
 * Returns rc, or the commit's error. */
int cat_write_end(akidb_catalog_t *cat, int rc, char *err, size_t errlen);

/* Marks the open write scope as changing identity (see identity_gen). */
void cat_identity_changed(akidb_catalog_t *cat);
uint64_t cat_identity_generation(akidb_catalog_t *cat);

/* Executes a statement that returns no rows. */
int cat_exec(catalog_conn_t *c, const char *sql, char *err, size_t errlen);

/* --------------------------------------------------------- bindings -- */

int cat_bind_uuid(sqlite3_stmt *s, int i, const akidb_uuid_t *id);
int cat_bind_text(sqlite3_stmt *s, int i, const char *text); /* NULL → NULL */
void cat_col_uuid(sqlite3_stmt *s, int i, akidb_uuid_t *out);
void cat_col_text(sqlite3_stmt *s, int i, char *out, size_t size);
/* Steps a statement expected to finish without a row (INSERT/UPDATE/
 * DELETE); leaves it reset. Returns the raw SQLite code. */
int cat_step_done(sqlite3_stmt *s);
/* Runs a statement whose only parameter (?1) is an id, e.g. a delete by id;
 * `doing` ("deleting the user") goes into the message of a failure. */
int cat_exec_by_id(catalog_conn_t *c, const char *sql, const akidb_uuid_t *id,
                   const char *doing, char *err, size_t errlen);

/* Validates a page; *limit receives the effective limit. */
int cat_page_limit(const akidb_page_t *page, uint32_t *limit, char *err, size_t errlen);

/* Resolves a new row id: `in` when not nil, else a fresh UUIDv7. */
int cat_new_id(const akidb_uuid_t *in, akidb_uuid_t *out, char *err, size_t errlen);

/* True if the SQLite code is a constraint failure of the given kind. */
bool cat_is_unique_violation(int rc);

/* Decodes the current row of `s` into the item at `item`. */
typedef void (*cat_row_fn)(sqlite3_stmt *s, void *item);

/* Runs a cursor-paginated list. SQL parameters: ?1 the parent id (may be
 * unused), ?2 the cursor (only in `sql_after`), ?3 the row limit. Items are
 * structs of `item_size` bytes whose first member is their akidb_uuid_t id.
 * On success *items is malloc'd (NULL when *count is 0). */
int cat_list_run(akidb_catalog_t *cat, const char *sql_first, const char *sql_after,
                 const akidb_uuid_t *parent, const akidb_page_t *page, size_t item_size,
                 cat_row_fn row, void **items, size_t *count, bool *has_more, akidb_uuid_t *next,
                 char *err, size_t errlen);

/* Reads one row (?1 = id, ?2 = text; either may be NULL) into `item`,
 * which may hold `id` itself (it is cleared only after binding).
 * AKIDB_ENOTFOUND (with `what` in the message) when there is none. */
int cat_get_one(catalog_conn_t *c, const char *sql, const akidb_uuid_t *id, const char *text,
                cat_row_fn row, void *item, size_t item_size, const char *what, char *err,
                size_t errlen);

/* Collects the ids a query (?1 = id) returns into a malloc'd array. */
int cat_collect_ids(catalog_conn_t *c, const char *sql, const akidb_uuid_t *id, akidb_uuid_t **out,
                    size_t *n, char *err, size_t errlen);

/* Collections in all databases of a tenant, on connection `c`. */
int cat_count_tenant_collections(catalog_conn_t *c, const akidb_uuid_t *tenant_id, uint64_t *out,
                                 char *err, size_t errlen);

/* Names used in audit targets: "tenant/<slug>" etc. of an id; "" if gone. */
void cat_tenant_slug(catalog_conn_t *c, const akidb_uuid_t *tenant_id, char *out, size_t size);

/* The tenant exists and is not decommissioned (else AKIDB_ENOTFOUND /
 * AKIDB_ECONFLICT naming `what` it refused to add). */
int cat_check_tenant_open(catalog_conn_t *c, const akidb_uuid_t *tenant_id, const char *what,
                          char *err, size_t errlen);

/* ------------------------------------------- identity rows (src/auth/) -- */

/* A credential (API key or session) joined with its user and tenant. */
typedef struct {
  akidb_uuid_t id;
  uint8_t secret_hash[32];
  int64_t expires_at_ms; /* 0 = never */
  int64_t revoked_at_ms; /* 0 = live (keys only) */
  int64_t last_used_ms;  /* keys only */
  akidb_uuid_t user_id;
  akidb_uuid_t tenant_id;
  bool has_tenant;
  akidb_role_t role;
  akidb_user_status_t user_status;
  akidb_tenant_status_t tenant_status; /* active for system admins */
  char username[AKIDB_USERNAME_MAX + 1];
} cat_credential_t;

/* Looks a key (is_key) or session up by its public prefix. ENOTFOUND. */
int cat_credential_lookup(akidb_catalog_t *cat, bool is_key, const char *prefix,
                          cat_credential_t *out, char *err, size_t errlen);

/* What a password login needs: the user, its hash ("" when none) and its
 * tenant's status. `tenant_slug` NULL → a system admin. ENOTFOUND. */
typedef struct {
  akidb_user_t user;
  char password_hash[AKIDB_PASSWORD_HASH_MAX + 1];
  akidb_tenant_status_t tenant_status;
} cat_login_row_t;
int cat_login_lookup(akidb_catalog_t *cat, const char *tenant_slug, const char *username,
                     cat_login_row_t *out, char *err, size_t errlen);

/* Replaces a password hash after a parameter upgrade (no audit row, no
 * session change: the password itself is the same). */
int cat_user_rehash(akidb_catalog_t *cat, const akidb_uuid_t *user_id, const char *hash, char *err,
                    size_t errlen);

int cat_api_key_insert(akidb_catalog_t *cat, const akidb_api_key_t *k, const uint8_t hash[32],
                       const akidb_audit_ctx_t *audit, char *err, size_t errlen);
int cat_api_key_revoke(akidb_catalog_t *cat, const akidb_uuid_t *id, int64_t now_ms,
                       const akidb_audit_ctx_t *audit, char *err, size_t errlen);
int cat_api_key_touch(akidb_catalog_t *cat, const akidb_uuid_t *id, int64_t now_ms);

int cat_session_insert(akidb_catalog_t *cat, const akidb_uuid_t *id, const akidb_uuid_t *user_id,
                       const char *prefix, const uint8_t hash[32], const char *source,
                       int64_t created_ms, int64_t expires_ms, char *err, size_t errlen);
/* Deletes a session; `audit` writes a logout row for `tenant`. */
int cat_session_delete(akidb_catalog_t *cat, const akidb_uuid_t *id, const akidb_uuid_t *tenant,
                       const akidb_audit_ctx_t *audit, char *err, size_t errlen);
int cat_sessions_purge(akidb_catalog_t *cat, int64_t now_ms, uint64_t *n, char *err, size_t errlen);

/* ------------------------------------------------------------- audit -- */

/* Small JSON object builder for audit details (escapes strings). */
typedef struct {
  char buf[AKIDB_AUDIT_DETAILS_MAX + 1];
  size_t len;
  bool overflow;
  bool first;
} cat_json_t;

void cat_json_begin(cat_json_t *j);
void cat_json_str(cat_json_t *j, const char *key, const char *value);
void cat_json_int(cat_json_t *j, const char *key, int64_t value);
void cat_json_uuid(cat_json_t *j, const char *key, const akidb_uuid_t *id);
void cat_json_raw(cat_json_t *j, const char *key, const char *json);
const char *cat_json_end(cat_json_t *j);

/* Appends an audit row on the writer connection `c` inside the caller's
 * write scope. `ac` NULL → nothing is written. */
int cat_audit_write(catalog_conn_t *c, const akidb_audit_ctx_t *ac, const akidb_uuid_t *tenant,
                    akidb_audit_action_t action, const char *target, akidb_audit_outcome_t outcome,
                    const char *details, char *err, size_t errlen);

/* Full append (an entry with every field given). */
int cat_audit_insert(catalog_conn_t *c, const akidb_audit_entry_t *e, int64_t *seq_out, char *err,
                     size_t errlen);

/* ------------------------------------------------------------ schema -- */

/* Brings the schema of the writer connection's file to `target` (the
 * latest: AKIDB_CATALOG_SCHEMA_VERSION) in one transaction. Refuses newer
 * and foreign files. Exposed with a target for tests of upgrades. */
int catalog_schema_migrate(sqlite3 *db, int target, char *err, size_t errlen);

/* AKIDB_EFORMAT unless the file is empty or an AkiDB catalog. Reads only. */
int catalog_schema_check_identity(sqlite3 *db, char *err, size_t errlen);

/* Reads the recorded version (0 for an empty file). */
int catalog_schema_read_version(sqlite3 *db, int *out, char *err, size_t errlen);

/* Opens with an explicit schema target (tests of the upgrade path). */
int catalog_open_at_version(const char *path, const akidb_catalog_options_t *opt, int target,
                            akidb_catalog_t **out, char *err, size_t errlen);

/* Builds the SQL variants of the audit query (audit.c). */
int catalog_audit_prepare_sql(akidb_catalog_t *cat);
void catalog_audit_free_sql(akidb_catalog_t *cat);

#endif /* AKIDB_CATALOG_INTERNAL_H */
