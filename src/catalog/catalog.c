/*
 * catalog.c — owns the catalog handle: opening the SQLite file (pragmas,
 * schema migration), the connection pool (one writer, N readers), the
 * per-connection cache of prepared statements, write scopes and explicit
 * transactions, the key/value meta table and the shared helpers.
 *
 * Locking: the writer's recursive mutex is held for a whole write scope (or
 * explicit transaction), so writes are serialised; each reader has its own
 * mutex. Durability: WAL mode with synchronous=FULL by default — a call that
 * returned 0 survives a crash or power cut; a scope that failed leaves
 * nothing behind (ROLLBACK / ROLLBACK TO).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog/catalog_internal.h"

/* ------------------------------------------------------------ helpers -- */

int cat_fail(char *err, size_t errlen, int code, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return code;
}

int cat_sqlite_fail(sqlite3 *db, int rc, const char *what, char *err, size_t errlen) {
  const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  int prim = rc & 0xff;
  if (prim == SQLITE_NOMEM)
    return cat_fail(err, errlen, AKIDB_ENOMEM, "catalog: %s: out of memory", what);
  if (prim == SQLITE_NOTADB)
    return cat_fail(err, errlen, AKIDB_EFORMAT, "catalog: %s: the file is not an SQLite database",
                    what);
  if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
    return cat_fail(err, errlen, AKIDB_EIO,
                    "catalog: %s: the catalog is locked by another process (%s)", what, msg);
  if (prim == SQLITE_FULL)
    return cat_fail(err, errlen, AKIDB_EIO, "catalog: %s: the disk is full (%s)", what, msg);
  if (prim == SQLITE_CONSTRAINT)
    return cat_fail(err, errlen, AKIDB_EINVAL,
                    "catalog: %s: a value breaks a rule of the schema (%s)", what, msg);
  return cat_fail(err, errlen, AKIDB_EIO, "catalog: %s failed (%s)", what, msg);
}

int64_t cat_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool cat_is_unique_violation(int rc) {
  return rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY;
}

int cat_bind_uuid(sqlite3_stmt *s, int i, const akidb_uuid_t *id) {
  if (!id) return sqlite3_bind_null(s, i);
  return sqlite3_bind_blob(s, i, id->bytes, 16, SQLITE_TRANSIENT);
}

int cat_bind_text(sqlite3_stmt *s, int i, const char *text) {
  if (!text) return sqlite3_bind_null(s, i);
  return sqlite3_bind_text(s, i, text, -1, SQLITE_TRANSIENT);
}

void cat_col_uuid(sqlite3_stmt *s, int i, akidb_uuid_t *out) {
  const void *b = sqlite3_column_blob(s, i);
  if (b && sqlite3_column_bytes(s, i) == 16)
    memcpy(out->bytes, b, 16);
  else
    memset(out->bytes, 0, 16);
}

void cat_col_text(sqlite3_stmt *s, int i, char *out, size_t size) {
  const unsigned char *t = sqlite3_column_text(s, i);
  size_t n = t ? (size_t)sqlite3_column_bytes(s, i) : 0;
  if (n >= size) n = size - 1;
  if (n) memcpy(out, t, n);
  out[n] = '\0';
}

int cat_step_done(sqlite3_stmt *s) {
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc == SQLITE_ROW) rc = SQLITE_DONE;
  return rc;
}

int cat_exec_by_id(catalog_conn_t *c, const char *sql, const akidb_uuid_t *id,
                   const char *doing, char *err, size_t errlen) {
  sqlite3_stmt *s = cat_stmt(c, sql, err, errlen);
  if (!s) return AKIDB_EIO;
  cat_bind_uuid(s, 1, id);
  int st = cat_step_done(s);
  return st == SQLITE_DONE ? AKIDB_OK : cat_sqlite_fail(c->db, st, doing, err, errlen);
}

int cat_page_limit(const akidb_page_t *page, uint32_t *limit, char *err, size_t errlen) {
  uint32_t l = page ? page->limit : 0;
  if (l == 0) l = AKIDB_LIST_LIMIT_DEFAULT;
  if (l > AKIDB_LIST_LIMIT_MAX)
    return cat_fail(err, errlen, AKIDB_EINVAL, "page limit %u is above the maximum %u", l,
                    AKIDB_LIST_LIMIT_MAX);
  *limit = l;
  return AKIDB_OK;
}

int cat_new_id(const akidb_uuid_t *in, akidb_uuid_t *out, char *err, size_t errlen) {
  if (in && !akidb_uuid_is_nil(in)) {
    *out = *in;
    return AKIDB_OK;
  }
  int rc = akidb_uuid_v7(out);
  if (rc) return cat_fail(err, errlen, rc, "cannot generate an id: no randomness from getrandom");
  return AKIDB_OK;
}

/* ---------------------------------------------------- statement cache -- */

static size_t slot_hash(const char *sql) {
  uintptr_t p = (uintptr_t)sql;
  p ^= p >> 17;
  p *= 0x9e3779b97f4a7c15ull;
  return (size_t)(p >> 40);
}

sqlite3_stmt *cat_stmt(catalog_conn_t *c, const char *sql, char *err, size_t errlen) {
  size_t mask = CATALOG_STMT_SLOTS - 1;
  for (size_t i = slot_hash(sql) & mask, n = 0; n < CATALOG_STMT_SLOTS; i = (i + 1) & mask, n++) {
    catalog_stmt_slot_t *sl = &c->slots[i];
    if (sl->sql == sql) {
      sqlite3_reset(sl->stmt);
      sqlite3_clear_bindings(sl->stmt);
      return sl->stmt;
    }
    if (sl->sql) continue;
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &sl->stmt, NULL);
    if (rc != SQLITE_OK) {
      cat_sqlite_fail(c->db, rc, "preparing a statement", err, errlen);
      sl->stmt = NULL;
      return NULL;
    }
    sl->sql = sql;
    return sl->stmt;
  }
  cat_fail(err, errlen, AKIDB_EIO, "catalog: statement cache is full");
  return NULL;
}

int cat_exec(catalog_conn_t *c, const char *sql, char *err, size_t errlen) {
  sqlite3_stmt *s = cat_stmt(c, sql, err, errlen);
  if (!s) return AKIDB_EIO;
  int rc = cat_step_done(s);
  if (rc != SQLITE_DONE) return cat_sqlite_fail(c->db, rc, sql, err, errlen);
  return AKIDB_OK;
}

/* The catalog whose explicit transaction this thread holds, if any. */
static _Thread_local akidb_catalog_t *thread_txn;

/* ------------------------------------------------------- connections -- */

static int conn_init_lock(catalog_conn_t *c, bool recursive) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  if (recursive) pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  int rc = pthread_mutex_init(&c->lock, &a);
  pthread_mutexattr_destroy(&a);
  return rc ? AKIDB_ENOMEM : AKIDB_OK;
}

static void conn_close(catalog_conn_t *c) {
  for (size_t i = 0; i < CATALOG_STMT_SLOTS; i++)
    if (c->slots[i].stmt) sqlite3_finalize(c->slots[i].stmt);
  memset(c->slots, 0, sizeof c->slots);
  if (c->db) sqlite3_close(c->db);
  c->db = NULL;
}

/* Runs one pragma (or any statement) outside the cache. */
static int conn_pragma(sqlite3 *db, const char *sql, char *err, size_t errlen) {
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  sqlite3_free(msg);
  if (rc != SQLITE_OK) return cat_sqlite_fail(db, rc, sql, err, errlen);
  return AKIDB_OK;
}

static int conn_open(catalog_conn_t *c, const char *path, const akidb_catalog_options_t *o,
                     bool writer, char *err, size_t errlen) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  if (writer) flags |= SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path, &c->db, flags, NULL);
  if (rc != SQLITE_OK) {
    int code = cat_sqlite_fail(c->db, rc, "opening the catalog file", err, errlen);
    if (err && errlen) {
      size_t n = strlen(err);
      snprintf(err + n, errlen - n, " (%s)", path);
    }
    return code;
  }
  sqlite3_extended_result_codes(c->db, 1);
  sqlite3_busy_timeout(c->db, (int)o->busy_timeout_ms);
  rc = conn_pragma(c->db, "PRAGMA foreign_keys=ON", err, errlen);
  if (!rc && !writer) rc = conn_pragma(c->db, "PRAGMA query_only=ON", err, errlen);
  return rc;
}

/* Sets WAL mode on the writer and checks it took. */
static int writer_set_wal(sqlite3 *db, const akidb_catalog_options_t *o, char *err, size_t errlen) {
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
  if (rc != SQLITE_OK) return cat_sqlite_fail(db, rc, "setting WAL mode", err, errlen);
  rc = sqlite3_step(s);
  char mode[16] = "";
  if (rc == SQLITE_ROW) cat_col_text(s, 0, mode, sizeof mode);
  sqlite3_finalize(s);
  if (rc != SQLITE_ROW) return cat_sqlite_fail(db, rc, "setting WAL mode", err, errlen);
  if (strcmp(mode, "wal") != 0)
    return cat_fail(err, errlen, AKIDB_EIO,
                    "catalog: the file system does not support SQLite's WAL mode (journal mode "
                    "stays '%s')",
                    mode);
  return conn_pragma(
      db, o->synchronous_normal ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL", err,
      errlen);
}

void akidb_catalog_options_default(akidb_catalog_options_t *o) {
  memset(o, 0, sizeof *o);
  o->readers = 4;
  o->busy_timeout_ms = 5000;
  o->synchronous_normal = false;
}

static int check_options(const akidb_catalog_options_t *o, char *err, size_t errlen) {
  if (o->readers < 1 || o->readers > 64)
    return cat_fail(err, errlen, AKIDB_EINVAL, "option readers must be 1..64 (got %u)", o->readers);
  if (o->busy_timeout_ms > 600000)
    return cat_fail(err, errlen, AKIDB_EINVAL,
                    "option busy_timeout_ms must be at most 600000 (got %u)", o->busy_timeout_ms);
  return AKIDB_OK;
}

int catalog_open_at_version(const char *path, const akidb_catalog_options_t *opt, int target,
                            akidb_catalog_t **out, char *err, size_t errlen) {
  akidb_catalog_options_t o;
  if (opt)
    o = *opt;
  else
    akidb_catalog_options_default(&o);
  if (!path || !*path || !out) return cat_fail(err, errlen, AKIDB_EINVAL, "catalog path is empty");
  if (strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0)
    return cat_fail(err, errlen, AKIDB_EINVAL,
                    "catalog path must name a file (in-memory and URI catalogs are not supported)");
  int rc = check_options(&o, err, errlen);
  if (rc) return rc;
  *out = NULL;
  akidb_catalog_t *cat = calloc(1, sizeof *cat);
  if (!cat) return cat_fail(err, errlen, AKIDB_ENOMEM, "out of memory");
  cat->path = strdup(path);
  cat->readers = calloc(o.readers, sizeof *cat->readers);
  if (!cat->path || !cat->readers) {
    free(cat->path);
    free(cat->readers);
    free(cat);
    return cat_fail(err, errlen, AKIDB_ENOMEM, "out of memory");
  }
  atomic_init(&cat->next_reader, 0);
  atomic_init(&cat->identity_gen, 1);
  if (conn_init_lock(&cat->writer, true)) goto nomem_writer;
  rc = conn_open(&cat->writer, path, &o, true, err, errlen);
  if (!rc) rc = catalog_schema_check_identity(cat->writer.db, err, errlen);
  if (!rc) rc = writer_set_wal(cat->writer.db, &o, err, errlen);
  if (!rc) rc = catalog_schema_migrate(cat->writer.db, target, err, errlen);
  if (rc) goto fail;
  for (uint32_t i = 0; i < o.readers; i++) {
    if (conn_init_lock(&cat->readers[i], false)) {
      rc = cat_fail(err, errlen, AKIDB_ENOMEM, "out of memory");
      goto fail;
    }
    cat->n_readers = i + 1;
    rc = conn_open(&cat->readers[i], path, &o, false, err, errlen);
    if (rc) goto fail;
  }
  if (catalog_audit_prepare_sql(cat)) {
    rc = cat_fail(err, errlen, AKIDB_ENOMEM, "out of memory");
    goto fail;
  }
  *out = cat;
  return AKIDB_OK;
nomem_writer:
  free(cat->path);
  free(cat->readers);
  free(cat);
  return cat_fail(err, errlen, AKIDB_ENOMEM, "out of memory");
fail:
  akidb_catalog_close(cat);
  return rc;
}

int akidb_catalog_open(const char *path, const akidb_catalog_options_t *opt, akidb_catalog_t **out,
                       char *err, size_t errlen) {
  return catalog_open_at_version(path, opt, AKIDB_CATALOG_SCHEMA_VERSION, out, err, errlen);
}

void akidb_catalog_close(akidb_catalog_t *cat) {
  if (!cat) return;
  if (cat->explicit_txn && cat->writer.db)
    sqlite3_exec(cat->writer.db, "ROLLBACK", NULL, NULL, NULL);
  if (thread_txn == cat) thread_txn = NULL;
  for (uint32_t i = 0; i < cat->n_readers; i++) {
    conn_close(&cat->readers[i]);
    pthread_mutex_destroy(&cat->readers[i].lock);
  }
  conn_close(&cat->writer); /* last: it checkpoints and removes the WAL */
  pthread_mutex_destroy(&cat->writer.lock);
  catalog_audit_free_sql(cat);
  free(cat->readers);
  free(cat->path);
  free(cat);
}

int akidb_catalog_schema_version(akidb_catalog_t *cat, int *out) {
  catalog_conn_t *c = cat_read_begin(cat);
  int rc = catalog_schema_read_version(c->db, out, NULL, 0);
  cat_read_end(cat, c);
  return rc;
}

/* ------------------------------------------------------ read / write -- */


static bool own_txn(akidb_catalog_t *cat) { return thread_txn == cat; }

catalog_conn_t *cat_read_begin(akidb_catalog_t *cat) {
  if (own_txn(cat)) {
    pthread_mutex_lock(&cat->writer.lock);
    return &cat->writer;
  }
  unsigned start = atomic_fetch_add_explicit(&cat->next_reader, 1, memory_order_relaxed);
  for (uint32_t n = 0; n < cat->n_readers; n++) {
    catalog_conn_t *c = &cat->readers[(start + n) % cat->n_readers];
    if (pthread_mutex_trylock(&c->lock) == 0) return c;
  }
  catalog_conn_t *c = &cat->readers[start % cat->n_readers];
  pthread_mutex_lock(&c->lock);
  return c;
}

void cat_read_end(akidb_catalog_t *cat, catalog_conn_t *c) {
  (void)cat;
  pthread_mutex_unlock(&c->lock);
}

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";
static const char SQL_SAVEPOINT[] = "SAVEPOINT cat_scope";
static const char SQL_RELEASE[] = "RELEASE cat_scope";
static const char SQL_ROLLBACK_TO[] = "ROLLBACK TO cat_scope";

int cat_write_begin(akidb_catalog_t *cat, catalog_conn_t **c, char *err, size_t errlen) {
  pthread_mutex_lock(&cat->writer.lock);
  bool nested = cat->write_depth > 0 || cat->explicit_txn;
  int rc = cat_exec(&cat->writer, nested ? SQL_SAVEPOINT : SQL_BEGIN, err, errlen);
  if (rc) {
    pthread_mutex_unlock(&cat->writer.lock);
    return rc;
  }
  if (!nested) cat->identity_dirty = false;
  cat->write_depth++;
  *c = &cat->writer;
  return AKIDB_OK;
}

/* Publishes identity changes after the outermost commit. */
static void publish_identity(akidb_catalog_t *cat) {
  if (cat->identity_dirty) atomic_fetch_add_explicit(&cat->identity_gen, 1, memory_order_release);
  cat->identity_dirty = false;
}

int cat_write_end(akidb_catalog_t *cat, int rc, char *err, size_t errlen) {
  catalog_conn_t *w = &cat->writer;
  cat->write_depth--;
  bool nested = cat->write_depth > 0 || cat->explicit_txn;
  if (nested) {
    if (rc) {
      cat_exec(w, SQL_ROLLBACK_TO, NULL, 0);
      cat_exec(w, SQL_RELEASE, NULL, 0);
    } else {
      int r = cat_exec(w, SQL_RELEASE, err, errlen);
      if (r) rc = r;
    }
  } else if (rc) {
    cat_exec(w, SQL_ROLLBACK, NULL, 0);
    cat->identity_dirty = false;
  } else {
    int r = cat_exec(w, SQL_COMMIT, err, errlen);
    if (r) {
      cat_exec(w, SQL_ROLLBACK, NULL, 0);
      rc = r;
    }
    publish_identity(cat);
  }
  pthread_mutex_unlock(&w->lock);
  return rc;
}

void cat_identity_changed(akidb_catalog_t *cat) { cat->identity_dirty = true; }

uint64_t cat_identity_generation(akidb_catalog_t *cat) {
  return atomic_load_explicit(&cat->identity_gen, memory_order_acquire);
}

int akidb_catalog_begin(akidb_catalog_t *cat, char *err, size_t errlen) {
  if (thread_txn)
    return cat_fail(err, errlen, AKIDB_ECONFLICT,
                    "this thread already holds a catalog transaction (they do not nest)");
  pthread_mutex_lock(&cat->writer.lock);
  if (cat->explicit_txn || cat->write_depth > 0) {
    pthread_mutex_unlock(&cat->writer.lock);
    return cat_fail(err, errlen, AKIDB_ECONFLICT,
                    "a catalog transaction is already open on this thread");
  }
  int rc = cat_exec(&cat->writer, SQL_BEGIN, err, errlen);
  if (rc) {
    pthread_mutex_unlock(&cat->writer.lock);
    return rc;
  }
  cat->explicit_txn = true;
  cat->identity_dirty = false;
  thread_txn = cat;
  return AKIDB_OK; /* the writer lock stays held until commit/rollback */
}

static int end_explicit(akidb_catalog_t *cat, bool commit, char *err, size_t errlen) {
  if (!own_txn(cat))
    return cat_fail(err, errlen, AKIDB_EINVAL, "no catalog transaction is open on this thread");
  int rc = AKIDB_OK;
  if (commit) {
    rc = cat_exec(&cat->writer, SQL_COMMIT, err, errlen);
    if (rc)
      cat_exec(&cat->writer, SQL_ROLLBACK, NULL, 0);
    else
      publish_identity(cat);
  } else {
    cat_exec(&cat->writer, SQL_ROLLBACK, NULL, 0);
  }
  cat->identity_dirty = false;
  cat->explicit_txn = false;
  thread_txn = NULL;
  pthread_mutex_unlock(&cat->writer.lock);
  return rc;
}

int akidb_catalog_commit(akidb_catalog_t *cat, char *err, size_t errlen) {
  return end_explicit(cat, true, err, errlen);
}

void akidb_catalog_rollback(akidb_catalog_t *cat) { end_explicit(cat, false, NULL, 0); }

/* --------------------------------------------------------------- meta -- */

static int check_meta_key(const char *key, char *err, size_t errlen) {
  size_t n = key ? strlen(key) : 0;
  if (n < 1 || n > 128) return cat_fail(err, errlen, AKIDB_EINVAL, "meta key must be 1..128 bytes");
  return AKIDB_OK;
}

int akidb_catalog_meta_get(akidb_catalog_t *cat, const char *key, char *value, size_t len,
                           char *err, size_t errlen) {
  static const char SQL[] = "SELECT value FROM catalog_meta WHERE key = ?1";
  int rc = check_meta_key(key, err, errlen);
  if (rc) return rc;
  catalog_conn_t *c = cat_read_begin(cat);
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) {
    rc = AKIDB_EIO;
    goto out;
  }
  cat_bind_text(s, 1, key);
  int st = sqlite3_step(s);
  if (st == SQLITE_ROW) {
    size_t n = (size_t)sqlite3_column_bytes(s, 0);
    if (n + 1 > len)
      rc = cat_fail(err, errlen, AKIDB_ELIMIT, "meta value of '%s' needs %zu bytes", key, n + 1);
    else
      cat_col_text(s, 0, value, len);
  } else if (st == SQLITE_DONE) {
    rc = cat_fail(err, errlen, AKIDB_ENOTFOUND, "meta key '%s' not found", key);
  } else {
    rc = cat_sqlite_fail(c->db, st, "reading catalog_meta", err, errlen);
  }
  sqlite3_reset(s);
out:
  cat_read_end(cat, c);
  return rc;
}

int akidb_catalog_meta_set(akidb_catalog_t *cat, const char *key, const char *value, char *err,
                           size_t errlen) {
  static const char SQL[] = "INSERT INTO catalog_meta(key, value) VALUES (?1, ?2) "
                            "ON CONFLICT(key) DO UPDATE SET value = excluded.value";
  int rc = check_meta_key(key, err, errlen);
  if (rc) return rc;
  if (!value || strlen(value) > 65536)
    return cat_fail(err, errlen, AKIDB_EINVAL, "meta value must be text of at most 65536 bytes");
  catalog_conn_t *c;
  rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) {
    rc = AKIDB_EIO;
  } else {
    cat_bind_text(s, 1, key);
    cat_bind_text(s, 2, value);
    int st = cat_step_done(s);
    if (st != SQLITE_DONE) rc = cat_sqlite_fail(c->db, st, "writing catalog_meta", err, errlen);
  }
  return cat_write_end(cat, rc, err, errlen);
}

/* ------------------------------------------------------ list and get -- */

int cat_list_run(akidb_catalog_t *cat, const char *sql_first, const char *sql_after,
                 const akidb_uuid_t *parent, const akidb_page_t *page, size_t item_size,
                 cat_row_fn row, void **items, size_t *count, bool *has_more, akidb_uuid_t *next,
                 char *err, size_t errlen) {
  uint32_t limit = 0;
  *items = NULL;
  *count = 0;
  *has_more = false;
  memset(next, 0, sizeof *next);
  int rc = cat_page_limit(page, &limit, err, errlen);
  if (rc) return rc;
  bool after = page && page->has_after;
  char *buf = malloc((size_t)limit * item_size);
  if (!buf) return cat_fail(err, errlen, AKIDB_ENOMEM, "out of memory for %u list items", limit);
  catalog_conn_t *c = cat_read_begin(cat);
  sqlite3_stmt *s = cat_stmt(c, after ? sql_after : sql_first, err, errlen);
  if (!s) {
    rc = AKIDB_EIO;
    goto out;
  }
  if (parent) cat_bind_uuid(s, 1, parent);
  if (after) cat_bind_uuid(s, 2, &page->after);
  sqlite3_bind_int64(s, 3, (int64_t)limit + 1);
  size_t n = 0;
  int st;
  while ((st = sqlite3_step(s)) == SQLITE_ROW) {
    if (n == limit) {
      *has_more = true;
      break;
    }
    memset(buf + n * item_size, 0, item_size);
    row(s, buf + n * item_size);
    n++;
  }
  if (st != SQLITE_ROW && st != SQLITE_DONE)
    rc = cat_sqlite_fail(c->db, st, "listing", err, errlen);
  sqlite3_reset(s);
out:
  cat_read_end(cat, c);
  if (rc || n == 0) {
    free(buf);
    return rc;
  }
  memcpy(next, buf + (n - 1) * item_size, sizeof *next);
  *items = buf;
  *count = n;
  return AKIDB_OK;
}

int cat_get_one(catalog_conn_t *c, const char *sql, const akidb_uuid_t *id, const char *text,
                cat_row_fn row, void *item, size_t item_size, const char *what, char *err,
                size_t errlen) {
  sqlite3_stmt *s = cat_stmt(c, sql, err, errlen);
  if (!s) return AKIDB_EIO;
  if (id) cat_bind_uuid(s, 1, id); /* bound (copied) before `item` may be cleared */
  if (text) cat_bind_text(s, 2, text);
  int st = sqlite3_step(s);
  int rc = AKIDB_OK;
  if (st == SQLITE_ROW) {
    memset(item, 0, item_size);
    row(s, item);
  } else if (st == SQLITE_DONE) {
    char idtext[AKIDB_UUID_STR_LEN + 1] = "";
    if (id) akidb_uuid_format(id, idtext);
    if (text)
      rc = cat_fail(err, errlen, AKIDB_ENOTFOUND, "%s '%s' not found", what, text);
    else
      rc = cat_fail(err, errlen, AKIDB_ENOTFOUND, "%s %s not found", what, idtext);
  } else {
    rc = cat_sqlite_fail(c->db, st, "reading", err, errlen);
  }
  sqlite3_reset(s);
  return rc;
}

int cat_collect_ids(catalog_conn_t *c, const char *sql, const akidb_uuid_t *id, akidb_uuid_t **out,
                    size_t *n, char *err, size_t errlen) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *s = cat_stmt(c, sql, err, errlen);
  if (!s) return AKIDB_EIO;
  cat_bind_uuid(s, 1, id);
  size_t cap = 0;
  int rc = AKIDB_OK, st;
  while ((st = sqlite3_step(s)) == SQLITE_ROW) {
    if (*n == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      akidb_uuid_t *p = realloc(*out, ncap * sizeof *p);
      if (!p) {
        rc = cat_fail(err, errlen, AKIDB_ENOMEM, "out of memory");
        break;
      }
      *out = p;
      cap = ncap;
    }
    cat_col_uuid(s, 0, &(*out)[(*n)++]);
  }
  if (!rc && st != SQLITE_DONE) rc = cat_sqlite_fail(c->db, st, "collecting ids", err, errlen);
  sqlite3_reset(s);
  if (rc) {
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return rc;
}
