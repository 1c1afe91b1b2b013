/*
 * test_catalog_util.h — helpers shared by the catalog, audit and auth tests:
 * a scratch directory per test (removed at exit), catalog opening, and
 * one-line creators of tenants, databases, collections and users.
 */
#ifndef AKIDB_TEST_CATALOG_UTIL_H
#define AKIDB_TEST_CATALOG_UTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "akidb/catalog.h"
#include "check.h"

static char tcu_dir[512];
static char *tcu_paths[1024]; /* every path handed out, freed at exit */
static int tcu_n_paths;

static inline int tcu_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static inline void tcu_cleanup(void) {
  if (tcu_dir[0]) nftw(tcu_dir, tcu_rm, 16, FTW_DEPTH | FTW_PHYS);
  for (int i = 0; i < tcu_n_paths; i++) free(tcu_paths[i]);
  tcu_n_paths = 0;
}

/* A path `name` inside this process's scratch directory (valid until exit). */
static inline const char *tcu_path(const char *name) {
  if (!tcu_dir[0]) {
    const char *base = getenv("TMPDIR");
    snprintf(tcu_dir, sizeof tcu_dir, "%s/akidb-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tcu_dir)) CHECK_FAIL("mkdtemp %s failed", tcu_dir);
    atexit(tcu_cleanup);
  }
  if (tcu_n_paths == 1024) CHECK_FAIL("too many scratch paths");
  size_t n = strlen(tcu_dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (!p) CHECK_FAIL("out of memory");
  snprintf(p, n, "%s/%s", tcu_dir, name);
  tcu_paths[tcu_n_paths++] = p;
  return p;
}

/* Opens a new, empty catalog in the scratch directory. */
static inline akidb_catalog_t *tcu_open_new(const char *name) {
  const char *path = tcu_path(name);
  unlink(path);
  akidb_catalog_t *cat = NULL;
  char err[512] = "";
  int rc = akidb_catalog_open(path, NULL, &cat, err, sizeof err);
  if (rc) CHECK_FAIL("akidb_catalog_open(%s): %d %s", path, rc, err);
  return cat;
}

static inline akidb_tenant_t tcu_tenant(akidb_catalog_t *cat, const char *slug,
                                        akidb_tenant_status_t status) {
  akidb_tenant_t in, out;
  memset(&in, 0, sizeof in);
  snprintf(in.slug, sizeof in.slug, "%s", slug);
  snprintf(in.name, sizeof in.name, "Tenant %s", slug);
  in.status = status;
  char err[512] = "";
  int rc = akidb_tenant_create(cat, &in, NULL, &out, err, sizeof err);
  if (rc) CHECK_FAIL("tenant_create(%s): %d %s", slug, rc, err);
  return out;
}

static inline akidb_database_t tcu_database(akidb_catalog_t *cat, const akidb_uuid_t *tenant,
                                            const char *name) {
  akidb_database_t in, out;
  memset(&in, 0, sizeof in);
  in.tenant_id = *tenant;
  snprintf(in.name, sizeof in.name, "%s", name);
  in.state = AKIDB_DATABASE_READY;
  char err[512] = "";
  int rc = akidb_database_create(cat, &in, NULL, &out, err, sizeof err);
  if (rc) CHECK_FAIL("database_create(%s): %d %s", name, rc, err);
  return out;
}

/* Fills a collection spec with defaults (dimension 8, cosine). */
static inline void tcu_collection_spec(akidb_collection_meta_t *c, const akidb_uuid_t *database,
                                       const char *name) {
  memset(c, 0, sizeof *c);
  akidb_collection_meta_defaults(c);
  c->database_id = *database;
  snprintf(c->name, sizeof c->name, "%s", name);
  c->dimension = 8;
  c->metric = AKIDB_METRIC_COSINE;
}

static inline akidb_collection_meta_t
tcu_collection(akidb_catalog_t *cat, const akidb_uuid_t *database, const char *name) {
  static akidb_collection_meta_t in, out;
  tcu_collection_spec(&in, database, name);
  char err[512] = "";
  int rc = akidb_collection_meta_create(cat, &in, NULL, &out, err, sizeof err);
  if (rc) CHECK_FAIL("collection_create(%s): %d %s", name, rc, err);
  return out;
}

/* The whole file in a malloc'd buffer. */
static inline char *tcu_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) CHECK_FAIL("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) CHECK_FAIL("cannot read %s", path);
  fclose(f);
  *len = (size_t)n;
  return buf;
}

/* Rows of a table, straight from SQLite (for cascade checks). */
#include <sqlite3.h>
static inline long long tcu_count(const char *path, const char *sql) {
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
    CHECK_FAIL("open %s: %s", path, sqlite3_errmsg(db));
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
    CHECK_FAIL("%s: %s", sql, sqlite3_errmsg(db));
  long long n = -1;
  if (sqlite3_step(s) == SQLITE_ROW) n = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

/* Runs one SQL statement through a separate connection; returns the SQLite
 * code and copies the error message. */
static inline int tcu_exec(const char *path, const char *sql, char *msg, size_t len) {
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
    CHECK_FAIL("open %s: %s", path, sqlite3_errmsg(db));
  sqlite3_busy_timeout(db, 5000);
  char *e = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &e);
  if (msg && len) snprintf(msg, len, "%s", e ? e : "");
  sqlite3_free(e);
  sqlite3_close(db);
  return rc;
}

#endif /* AKIDB_TEST_CATALOG_UTIL_H */
