/*
 * test_catalog.c — the SQLite catalog (akidb/catalog.h): schema creation,
 * upgrade and refusal of newer or foreign files; tenant, database and
 * collection lifecycles; every legal and illegal tenant status and database
 * state transition (in C and in the schema's triggers); uniqueness in each
 * scope; cascades that leave no rows and report the removed collections;
 * field validation and the max_collections quota; timestamps; cursor
 * pagination; explicit transactions; concurrent readers and writers.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "akidb/auth.h"
#include "catalog/catalog_internal.h"
#include "test_catalog_util.h"

#define ERR_LEN 512

/* ------------------------------------------------------------- schema -- */

static void test_catalog_open_creates_strict_wal_schema(void) {
  akidb_catalog_t *cat = tcu_open_new("schema.db");
  int v = 0;
  ASSERT_OK(akidb_catalog_schema_version(cat, &v));
  ASSERT_EQ_INT(v, AKIDB_CATALOG_SCHEMA_VERSION);
  const char *path = tcu_path("schema.db");
  ASSERT_EQ_INT(tcu_count(path, "SELECT count(*) FROM schema_version"),
                AKIDB_CATALOG_SCHEMA_VERSION);
  const char *tables[] = {"tenants",  "databases", "collections",  "users", "api_keys",
                          "sessions", "audit_log", "catalog_meta", NULL};
  for (int i = 0; tables[i]; i++) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM sqlite_schema WHERE name = '%s' AND sql LIKE '%%STRICT%%'",
             tables[i]);
    if (tcu_count(path, sql) != 1) CHECK_FAIL("table %s missing or not STRICT", tables[i]);
  }
  sqlite3 *db;
  ASSERT_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *s;
  ASSERT_EQ_INT(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
  ASSERT_EQ_INT(sqlite3_step(s), SQLITE_ROW);
  ASSERT_TRUE(strcmp((const char *)sqlite3_column_text(s, 0), "wal") == 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  akidb_catalog_close(cat);
}

static void test_catalog_reopen_keeps_rows_and_applies_nothing(void) {
  akidb_catalog_t *cat = tcu_open_new("reopen.db");
  akidb_tenant_t t = tcu_tenant(cat, "keep-me", AKIDB_TENANT_ACTIVE);
  akidb_catalog_close(cat);
  const char *path = tcu_path("reopen.db");
  char err[ERR_LEN] = "";
  ASSERT_OK(akidb_catalog_open(path, NULL, &cat, err, sizeof err));
  akidb_tenant_t got;
  ASSERT_OK(akidb_tenant_get(cat, &t.id, &got, err, sizeof err));
  ASSERT_TRUE(strcmp(got.slug, "keep-me") == 0);
  akidb_catalog_close(cat);
  ASSERT_EQ_INT(tcu_count(path, "SELECT count(*) FROM schema_version"),
                AKIDB_CATALOG_SCHEMA_VERSION);
}

static void test_catalog_refuses_a_newer_schema(void) {
  akidb_catalog_t *cat = tcu_open_new("newer.db");
  akidb_catalog_close(cat);
  const char *path = tcu_path("newer.db");
  ASSERT_EQ_INT(
      tcu_exec(path, "INSERT INTO schema_version VALUES (99, 0, 'from the future')", NULL, 0),
      SQLITE_OK);
  char err[ERR_LEN] = "";
  ASSERT_EQ_INT(akidb_catalog_open(path, NULL, &cat, err, sizeof err), AKIDB_EVERSION);
  ASSERT_TRUE(cat == NULL);
  ASSERT_STR_CONTAINS(err, "schema version 99");
  ASSERT_STR_CONTAINS(err, "newer AkiDB");
  char want[32];
  snprintf(want, sizeof want, "up to %d", AKIDB_CATALOG_SCHEMA_VERSION);
  ASSERT_STR_CONTAINS(err, want);
}

static void test_catalog_refuses_foreign_files_without_changing_them(void) {
  const char *path = tcu_path("foreign.db");
  unlink(path);
  ASSERT_EQ_INT(tcu_exec(path, "CREATE TABLE x(a); INSERT INTO x VALUES (1)", NULL, 0), SQLITE_OK);
  size_t before_len = 0, after_len = 0;
  char *before = tcu_read_file(path, &before_len);
  akidb_catalog_t *cat = NULL;
  char err[ERR_LEN] = "";
  ASSERT_EQ_INT(akidb_catalog_open(path, NULL, &cat, err, sizeof err), AKIDB_EFORMAT);
  ASSERT_STR_CONTAINS(err, "not an AkiDB catalog");
  char *after = tcu_read_file(path, &after_len);
  ASSERT_EQ_INT(before_len, after_len);
  ASSERT_TRUE(memcmp(before, after, before_len) == 0);
  free(before);
  free(after);

  const char *text = tcu_path("notes.txt");
  FILE *f = fopen(text, "w");
  ASSERT_TRUE(f != NULL);
  for (int i = 0; i < 200; i++) fputs("this is not a database\n", f);
  fclose(f);
  ASSERT_EQ_INT(akidb_catalog_open(text, NULL, &cat, err, sizeof err), AKIDB_EFORMAT);
  ASSERT_STR_CONTAINS(err, "not an SQLite database");
}

static void test_catalog_upgrades_an_older_schema_in_place(void) {
  const char *path = tcu_path("old.db");
  unlink(path);
  akidb_catalog_t *cat = NULL;
  char err[ERR_LEN] = "";
  ASSERT_OK(catalog_open_at_version(path, NULL, 1, &cat, err, sizeof err));
  akidb_tenant_t t = tcu_tenant(cat, "from-v1", AKIDB_TENANT_ACTIVE);
  akidb_catalog_close(cat);
  ASSERT_EQ_INT(tcu_count(path, "SELECT max(version) FROM schema_version"), 1);
  ASSERT_EQ_INT(tcu_count(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'users'"), 0);
  ASSERT_OK(akidb_catalog_open(path, NULL, &cat, err, sizeof err));
  int v = 0;
  ASSERT_OK(akidb_catalog_schema_version(cat, &v));
  ASSERT_EQ_INT(v, AKIDB_CATALOG_SCHEMA_VERSION);
  akidb_tenant_t got;
  ASSERT_OK(akidb_tenant_get(cat, &t.id, &got, err, sizeof err));
  akidb_catalog_close(cat);
  ASSERT_EQ_INT(tcu_count(path, "SELECT count(*) FROM schema_version"),
                AKIDB_CATALOG_SCHEMA_VERSION);
  ASSERT_EQ_INT(tcu_count(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'audit_log'"), 1);
  ASSERT_EQ_INT(tcu_count(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'snapshots'"), 1);
  ASSERT_EQ_INT(tcu_count(path, "SELECT count(*) FROM pragma_table_info('collections') "
                                "WHERE name = 'cold_manifest'"), 1);
}

/* ------------------------------------------------------------ tenants -- */

static void test_tenant_lifecycle(void) {
  akidb_catalog_t *cat = tcu_open_new("tenant-life.db");
  char err[ERR_LEN] = "";
  akidb_tenant_t in, t, got;
  memset(&in, 0, sizeof in);
  strcpy(in.slug, "acme-01");
  strcpy(in.name, "Acme \"Widgets\" Ltd — Zürich");
  in.status = AKIDB_TENANT_PROVISIONING;
  in.quotas = (akidb_quotas_t){1ull << 30, 1ull << 40, 500, 20};
  ASSERT_OK(akidb_tenant_create(cat, &in, NULL, &t, err, sizeof err));
  ASSERT_EQ_INT(t.id.bytes[6] >> 4, 7);
  ASSERT_TRUE(t.created_at_ms > 0 && t.updated_at_ms >= t.created_at_ms);
  ASSERT_OK(akidb_tenant_get_by_slug(cat, "acme-01", &got, err, sizeof err));
  ASSERT_EQ_INT(akidb_uuid_compare(&got.id, &t.id), 0);
  ASSERT_TRUE(strcmp(got.name, in.name) == 0);
  ASSERT_EQ_INT(got.status, AKIDB_TENANT_PROVISIONING);
  ASSERT_EQ_U64(got.quotas.max_memory_bytes, 1ull << 30);
  ASSERT_EQ_U64(got.quotas.max_storage_bytes, 1ull << 40);
  ASSERT_EQ_INT(got.quotas.max_qps, 500);
  ASSERT_EQ_INT(got.quotas.max_collections, 20);

  akidb_quotas_t q = {2ull << 30, 0, 1000, 0};
  akidb_tenant_update_t upd = {
      .name = "Acme", .quotas = &q, .set_status = true, .status = AKIDB_TENANT_ACTIVE};
  ASSERT_OK(akidb_tenant_update(cat, &t.id, &upd, NULL, &got, err, sizeof err));
  ASSERT_TRUE(strcmp(got.name, "Acme") == 0);
  ASSERT_EQ_INT(got.status, AKIDB_TENANT_ACTIVE);
  ASSERT_EQ_U64(got.quotas.max_memory_bytes, 2ull << 30);
  ASSERT_EQ_INT(got.quotas.max_collections, 0);
  ASSERT_OK(akidb_tenant_get(cat, &t.id, &got, err, sizeof err));
  ASSERT_TRUE(strcmp(got.name, "Acme") == 0);

  akidb_tenant_status_t path[] = {AKIDB_TENANT_SUSPENDED, AKIDB_TENANT_ACTIVE,
                                  AKIDB_TENANT_SUSPENDED, AKIDB_TENANT_DECOMMISSIONED};
  for (size_t i = 0; i < 4; i++) {
    akidb_tenant_update_t s = {.set_status = true, .status = path[i]};
    ASSERT_OK(akidb_tenant_update(cat, &t.id, &s, NULL, &got, err, sizeof err));
    ASSERT_EQ_INT(got.status, path[i]);
  }
  ASSERT_OK(akidb_tenant_delete(cat, &t.id, NULL, NULL, NULL, err, sizeof err));
  ASSERT_EQ_INT(akidb_tenant_get(cat, &t.id, &got, err, sizeof err), AKIDB_ENOTFOUND);
  ASSERT_STR_CONTAINS(err, "tenant");
  ASSERT_STR_CONTAINS(err, "not found");
  ASSERT_EQ_INT(akidb_tenant_get_by_slug(cat, "acme-01", &got, err, sizeof err), AKIDB_ENOTFOUND);
  ASSERT_STR_CONTAINS(err, "tenant 'acme-01' not found");
  ASSERT_EQ_INT(akidb_tenant_delete(cat, &t.id, NULL, NULL, NULL, err, sizeof err),
                AKIDB_ENOTFOUND);
  akidb_catalog_close(cat);
}

/* SPEC §1: provisioning → active ⇄ suspended → decommissioned, plus
 * provisioning → decommissioned (abandoned provisioning). */
static const int TENANT_LEGAL[4][4] = {
    /* to:    prov act sus dec */
    /* prov */ {0, 1, 0, 1},
    /* act  */ {0, 0, 1, 0},
    /* sus  */ {0, 1, 0, 1},
    /* dec  */ {0, 0, 0, 0},
};

static void test_tenant_every_status_transition(void) {
  akidb_catalog_t *cat = tcu_open_new("tenant-trans.db");
  char err[ERR_LEN] = "";
  int n = 0;
  for (int from = 0; from < 4; from++)
    for (int to = 0; to < 4; to++) {
      char slug[32];
      snprintf(slug, sizeof slug, "t-%d-%d", from, to);
      akidb_tenant_t t = tcu_tenant(cat, slug, (akidb_tenant_status_t)from), got;
      ASSERT_EQ_INT(
          akidb_tenant_transition_allowed((akidb_tenant_status_t)from, (akidb_tenant_status_t)to),
          TENANT_LEGAL[from][to]);
      akidb_tenant_update_t upd = {.set_status = true, .status = (akidb_tenant_status_t)to};
      int rc = akidb_tenant_update(cat, &t.id, &upd, NULL, &got, err, sizeof err);
      ASSERT_OK(akidb_tenant_get(cat, &t.id, &got, NULL, 0));
      if (TENANT_LEGAL[from][to]) {
        ASSERT_OK(rc);
        ASSERT_EQ_INT(got.status, to);
      } else {
        ASSERT_EQ_INT(rc, AKIDB_ETRANSITION);
        char want[128];
        snprintf(want, sizeof want, "from %s to %s",
                 akidb_tenant_status_name((akidb_tenant_status_t)from),
                 akidb_tenant_status_name((akidb_tenant_status_t)to));
        ASSERT_STR_CONTAINS(err, want);
        ASSERT_EQ_INT(got.status, from);
      }
      n++;
    }
  ASSERT_EQ_INT(n, 16);
  /* The schema refuses illegal transitions on its own too. */
  akidb_tenant_t t = tcu_tenant(cat, "raw-sql", AKIDB_TENANT_ACTIVE);
  char sql[256], msg[256];
  char id[AKIDB_UUID_STR_LEN + 1];
  akidb_uuid_format(&t.id, id);
  snprintf(sql, sizeof sql, "UPDATE tenants SET status = 'provisioning' WHERE slug = 'raw-sql'");
  ASSERT_EQ_INT(tcu_exec(tcu_path("tenant-trans.db"), sql, msg, sizeof msg) & 0xff,
                SQLITE_CONSTRAINT);
  ASSERT_STR_CONTAINS(msg, "invalid tenant status transition");
  snprintf(sql, sizeof sql, "UPDATE tenants SET status = 'suspended' WHERE slug = 'raw-sql'");
  ASSERT_EQ_INT(tcu_exec(tcu_path("tenant-trans.db"), sql, msg, sizeof msg), SQLITE_OK);
  akidb_catalog_close(cat);
}

static const int DATABASE_LEGAL[4][4] = {
    /* to:     prov ready migr del */
    /* prov */ {0, 1, 0, 1},
    /* ready */ {0, 0, 1, 1},
    /* migr */ {0, 1, 0, 0},
    /* del  */ {0, 0, 0, 0},
};

static void test_database_every_state_transition(void) {
  akidb_catalog_t *cat = tcu_open_new("db-trans.db");
  char err[ERR_LEN] = "";
  akidb_tenant_t t = tcu_tenant(cat, "dbt", AKIDB_TENANT_ACTIVE);
  /* States reachable only by transition are reached that way. */
  const akidb_database_state_t route[4][3] = {{AKIDB_DATABASE_PROVISIONING, 0, 0},
                                              {AKIDB_DATABASE_READY, 0, 0},
                                              {AKIDB_DATABASE_READY, AKIDB_DATABASE_MIGRATING, 0},
                                              {AKIDB_DATABASE_READY, AKIDB_DATABASE_DELETING, 0}};
  for (int from = 0; from < 4; from++)
    for (int to = 0; to < 4; to++) {
      akidb_database_t in, d, got;
      memset(&in, 0, sizeof in);
      in.tenant_id = t.id;
      snprintf(in.name, sizeof in.name, "d%d%d", from, to);
      in.state = route[from][0];
      ASSERT_OK(akidb_database_create(cat, &in, NULL, &d, err, sizeof err));
      if (route[from][1]) {
        akidb_database_update_t step = {.set_state = true, .state = route[from][1]};
        ASSERT_OK(akidb_database_update(cat, &d.id, &step, NULL, &d, err, sizeof err));
      }
      ASSERT_EQ_INT(d.state, from);
      ASSERT_EQ_INT(akidb_database_transition_allowed((akidb_database_state_t)from,
                                                      (akidb_database_state_t)to),
                    DATABASE_LEGAL[from][to]);
      akidb_database_update_t upd = {.set_state = true, .state = (akidb_database_state_t)to};
      int rc = akidb_database_update(cat, &d.id, &upd, NULL, &got, err, sizeof err);
      ASSERT_OK(akidb_database_get(cat, &d.id, &got, NULL, 0));
      if (DATABASE_LEGAL[from][to]) {
        ASSERT_OK(rc);
        ASSERT_EQ_INT(got.state, to);
      } else {
        ASSERT_EQ_INT(rc, AKIDB_ETRANSITION);
        ASSERT_STR_CONTAINS(err, "cannot change from");
        ASSERT_EQ_INT(got.state, from);
      }
    }
  akidb_database_t in;
  memset(&in, 0, sizeof in);
  in.tenant_id = t.id;
  strcpy(in.name, "born-migrating");
  in.state = AKIDB_DATABASE_MIGRATING;
  ASSERT_EQ_INT(akidb_database_create(cat, &in, NULL, NULL, err, sizeof err), AKIDB_EINVAL);
  akidb_catalog_close(cat);
}

static void test_names_and_slugs_are_validated(void) {
  akidb_catalog_t *cat = tcu_open_new("names.db");
  char err[ERR_LEN] = "";
  const char *bad_slugs[] = {"ab", "Acme", "acme_1", "acme 1", "acme.io", "ünï", ""};
  ASSERT_EQ_INT(
      akidb_check_slug("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 64 */
                       "slug", err, sizeof err),
      AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "slug must be 3..63 characters (got 64)");
  for (size_t i = 0; i < sizeof bad_slugs / sizeof *bad_slugs; i++) {
    akidb_tenant_t in;
    memset(&in, 0, sizeof in);
    snprintf(in.slug, sizeof in.slug, "%s", bad_slugs[i]);
    strcpy(in.name, "x");
    ASSERT_EQ_INT(akidb_tenant_create(cat, &in, NULL, NULL, err, sizeof err), AKIDB_EINVAL);
    ASSERT_STR_CONTAINS(err, "slug");
  }
  tcu_tenant(cat, "a-1", AKIDB_TENANT_ACTIVE);
  tcu_tenant(cat, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
             AKIDB_TENANT_ACTIVE);
  akidb_tenant_t in;
  memset(&in, 0, sizeof in);
  strcpy(in.slug, "ctrl");
  strcpy(in.name, "bad\nname");
  ASSERT_EQ_INT(akidb_tenant_create(cat, &in, NULL, NULL, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "name");
  strcpy(in.name, "\xff\xfe");
  ASSERT_EQ_INT(akidb_tenant_create(cat, &in, NULL, NULL, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "UTF-8");
  in.name[0] = '\0';
  ASSERT_EQ_INT(akidb_tenant_create(cat, &in, NULL, NULL, err, sizeof err), AKIDB_EINVAL);

  akidb_tenant_t t = tcu_tenant(cat, "names", AKIDB_TENANT_ACTIVE);
  const char *bad_names[] = {"", "-lead", "_lead", "has space", "dot.ted", "slash/ed", NULL};
  for (int i = 0; bad_names[i]; i++) {
    akidb_database_t d;
    memset(&d, 0, sizeof d);
    d.tenant_id = t.id;
    snprintf(d.name, sizeof d.name, "%s", bad_names[i]);
    ASSERT_EQ_INT(akidb_database_create(cat, &d, NULL, NULL, err, sizeof err), AKIDB_EINVAL);
    ASSERT_STR_CONTAINS(err, "name");
  }
  tcu_database(cat, &t.id, "Main_DB-2");
  akidb_catalog_close(cat);
}

static void test_uniqueness_is_per_scope(void) {
  akidb_catalog_t *cat = tcu_open_new("unique.db");
  char err[ERR_LEN] = "";
  akidb_tenant_t a = tcu_tenant(cat, "alpha", AKIDB_TENANT_ACTIVE);
  akidb_tenant_t b = tcu_tenant(cat, "beta", AKIDB_TENANT_ACTIVE);
  akidb_tenant_t dup;
  memset(&dup, 0, sizeof dup);
  strcpy(dup.slug, "alpha");
  strcpy(dup.name, "again");
  ASSERT_EQ_INT(akidb_tenant_create(cat, &dup, NULL, NULL, err, sizeof err), AKIDB_EEXIST);
  ASSERT_STR_CONTAINS(err, "slug 'alpha' already exists");
  ASSERT_TRUE(strstr(err, "UNIQUE") == NULL);
  strcpy(dup.slug, "gamma");
  dup.id = a.id;
  ASSERT_EQ_INT(akidb_tenant_create(cat, &dup, NULL, NULL, err, sizeof err), AKIDB_EEXIST);
  ASSERT_STR_CONTAINS(err, "id");

  akidb_database_t da = tcu_database(cat, &a.id, "main");
  akidb_database_t db = tcu_database(cat, &b.id, "main"); /* same name, other tenant */
  akidb_database_t again;
  memset(&again, 0, sizeof again);
  again.tenant_id = a.id;
  strcpy(again.name, "main");
  ASSERT_EQ_INT(akidb_database_create(cat, &again, NULL, NULL, err, sizeof err), AKIDB_EEXIST);
  ASSERT_STR_CONTAINS(err, "database named 'main' already exists");

  tcu_collection(cat, &da.id, "docs");
  tcu_collection(cat, &db.id, "docs");
  akidb_database_t da2 = tcu_database(cat, &a.id, "second");
  tcu_collection(cat, &da2.id, "docs");
  akidb_collection_meta_t c;
  tcu_collection_spec(&c, &da.id, "docs");
  ASSERT_EQ_INT(akidb_collection_meta_create(cat, &c, NULL, NULL, err, sizeof err), AKIDB_EEXIST);
  ASSERT_STR_CONTAINS(err, "collection named 'docs' already exists");

  akidb_user_t u;
  memset(&u, 0, sizeof u);
  u.has_tenant = true;
  u.tenant_id = a.id;
  strcpy(u.username, "ann");
  u.role = AKIDB_ROLE_ADMIN;
  ASSERT_OK(akidb_user_create(cat, &u, NULL, NULL, NULL, err, sizeof err));
  ASSERT_EQ_INT(akidb_user_create(cat, &u, NULL, NULL, NULL, err, sizeof err), AKIDB_EEXIST);
  ASSERT_STR_CONTAINS(err, "user named 'ann' already exists in this tenant");
  u.tenant_id = b.id;
  ASSERT_OK(akidb_user_create(cat, &u, NULL, NULL, NULL, err, sizeof err));
  u.has_tenant = false;
  u.role = AKIDB_ROLE_SYSTEM_ADMIN;
  ASSERT_OK(akidb_user_create(cat, &u, NULL, NULL, NULL, err, sizeof err));
  ASSERT_EQ_INT(akidb_user_create(cat, &u, NULL, NULL, NULL, err, sizeof err), AKIDB_EEXIST);
  ASSERT_STR_CONTAINS(err, "among system admins");
  /* Rename into a taken name. */
  akidb_database_update_t ren = {.name = "main"};
  ASSERT_EQ_INT(akidb_database_update(cat, &da2.id, &ren, NULL, NULL, err, sizeof err),
                AKIDB_EEXIST);
  akidb_catalog_close(cat);
}

/* ----------------------------------------------------------- cascades -- */

static int cmp_uuid(const void *a, const void *b) { return akidb_uuid_compare(a, b); }

static long long rows_of(const char *path, const char *table, const char *where) {
  char sql[512];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM %s %s", table, where);
  return tcu_count(path, sql);
}

static void test_tenant_delete_cascades_and_reports_collections(void) {
  akidb_catalog_t *cat = tcu_open_new("cascade.db");
  const char *path = tcu_path("cascade.db");
  char err[ERR_LEN] = "";
  akidb_auth_options_t ao;
  akidb_auth_options_default(&ao);
  ao.argon2 = (akidb_argon2_params_t){1, 64, 1};
  akidb_auth_t *auth;
  ASSERT_OK(akidb_auth_open(cat, &ao, &auth, err, sizeof err));
  akidb_tenant_t doomed = tcu_tenant(cat, "doomed", AKIDB_TENANT_ACTIVE);
  akidb_tenant_t other = tcu_tenant(cat, "other", AKIDB_TENANT_ACTIVE);
  akidb_uuid_t made[6];
  int k = 0;
  for (int d = 0; d < 2; d++) {
    char name[16];
    snprintf(name, sizeof name, "db%d", d);
    akidb_database_t db = tcu_database(cat, &doomed.id, name);
    tcu_database(cat, &other.id, name);
    for (int c = 0; c < 3; c++) {
      snprintf(name, sizeof name, "c%d", c);
      made[k++] = tcu_collection(cat, &db.id, name).id;
    }
  }
  akidb_database_t keep = tcu_database(cat, &other.id, "keep");
  tcu_collection(cat, &keep.id, "kept");
  for (int i = 0; i < 2; i++) {
    akidb_user_t u, out;
    memset(&u, 0, sizeof u);
    u.has_tenant = true;
    u.tenant_id = i ? other.id : doomed.id;
    strcpy(u.username, "dev");
    u.role = AKIDB_ROLE_DEVELOPER;
    ASSERT_OK(
        akidb_auth_user_create(auth, &u, "correct horse battery", NULL, &out, err, sizeof err));
    char secret[AKIDB_TOKEN_MAX + 1];
    ASSERT_OK(akidb_auth_key_create(auth, &out.id, "ci", 0, NULL, NULL, secret, sizeof secret, err,
                                    sizeof err));
    akidb_session_t s;
    ASSERT_OK(akidb_auth_login(auth, i ? "other" : "doomed", "dev", "correct horse battery", NULL,
                               NULL, &s, err, sizeof err));
  }
  akidb_audit_ctx_t ac = {NULL, "ops", "req-1"};
  akidb_uuid_t *removed = NULL;
  size_t n = 0;
  ASSERT_OK(akidb_tenant_delete(cat, &doomed.id, &ac, &removed, &n, err, sizeof err));
  ASSERT_EQ_INT(n, 6);
  qsort(made, 6, sizeof made[0], cmp_uuid);
  for (int i = 0; i < 6; i++) ASSERT_EQ_INT(akidb_uuid_compare(&removed[i], &made[i]), 0);
  free(removed);
  akidb_auth_close(auth);
  akidb_catalog_close(cat);
  ASSERT_EQ_INT(rows_of(path, "tenants", ""), 1);
  ASSERT_EQ_INT(rows_of(path, "databases", ""), 3);
  ASSERT_EQ_INT(rows_of(path, "collections", ""), 1);
  ASSERT_EQ_INT(rows_of(path, "users", ""), 1);
  ASSERT_EQ_INT(rows_of(path, "api_keys", ""), 1);
  ASSERT_EQ_INT(rows_of(path, "sessions", ""), 1);
  ASSERT_EQ_INT(rows_of(path, "collections c",
                        "LEFT JOIN databases d ON d.id = c.database_id WHERE d.id IS NULL"),
                0);
  ASSERT_EQ_INT(
      rows_of(
          path, "audit_log",
          "WHERE action = 'tenant.delete' AND json_extract(details, '$.collections_removed') = 6"),
      1);
}

static void test_database_and_collection_delete_report_removed(void) {
  akidb_catalog_t *cat = tcu_open_new("cascade2.db");
  const char *path = tcu_path("cascade2.db");
  char err[ERR_LEN] = "";
  akidb_tenant_t t = tcu_tenant(cat, "cas", AKIDB_TENANT_ACTIVE);
  akidb_database_t d1 = tcu_database(cat, &t.id, "one");
  akidb_database_t d2 = tcu_database(cat, &t.id, "two");
  akidb_uuid_t c1 = tcu_collection(cat, &d1.id, "a").id;
  akidb_uuid_t c2 = tcu_collection(cat, &d1.id, "b").id;
  akidb_uuid_t c3 = tcu_collection(cat, &d2.id, "c").id;
  akidb_uuid_t *removed;
  size_t n;
  ASSERT_OK(akidb_database_delete(cat, &d1.id, NULL, &removed, &n, err, sizeof err));
  ASSERT_EQ_INT(n, 2);
  ASSERT_EQ_INT(akidb_uuid_compare(&removed[0], &c1), 0);
  ASSERT_EQ_INT(akidb_uuid_compare(&removed[1], &c2), 0);
  free(removed);
  ASSERT_EQ_INT(akidb_collection_meta_get(cat, &c1, &(akidb_collection_meta_t){0}, err, sizeof err),
                AKIDB_ENOTFOUND);
  ASSERT_OK(akidb_collection_meta_delete(cat, &c3, NULL, &removed, &n, err, sizeof err));
  ASSERT_EQ_INT(n, 1);
  ASSERT_EQ_INT(akidb_uuid_compare(&removed[0], &c3), 0);
  free(removed);
  ASSERT_EQ_INT(akidb_collection_meta_delete(cat, &c3, NULL, &removed, &n, err, sizeof err),
                AKIDB_ENOTFOUND);
  ASSERT_TRUE(removed == NULL && n == 0);
  ASSERT_OK(akidb_database_delete(cat, &d2.id, NULL, &removed, &n, err, sizeof err));
  ASSERT_EQ_INT(n, 0);
  ASSERT_TRUE(removed == NULL);
  akidb_catalog_close(cat);
  ASSERT_EQ_INT(rows_of(path, "collections", ""), 0);
  ASSERT_EQ_INT(rows_of(path, "databases", ""), 0);
  ASSERT_EQ_INT(rows_of(path, "tenants", ""), 1);
}

/* -------------------------------------------------------- collections -- */

static void expect_collection_einval(akidb_catalog_t *cat, const akidb_collection_meta_t *c,
                                     const char *field) {
  char err[ERR_LEN] = "";
  ASSERT_EQ_INT(akidb_collection_meta_create(cat, c, NULL, NULL, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, field);
}

static void test_collection_fields_are_validated(void) {
  akidb_catalog_t *cat = tcu_open_new("coll-fields.db");
  char err[ERR_LEN] = "";
  akidb_tenant_t t = tcu_tenant(cat, "fields", AKIDB_TENANT_ACTIVE);
  akidb_database_t d = tcu_database(cat, &t.id, "main");
  static akidb_collection_meta_t c, out;
  tcu_collection_spec(&c, &d.id, "x");
  c.dimension = 0;
  expect_collection_einval(cat, &c, "dimension must be 1..65536 (got 0)");
  c.dimension = 65537;
  expect_collection_einval(cat, &c, "dimension");
  c.dimension = 8;
  c.metric = (akidb_metric_t)7;
  expect_collection_einval(cat, &c, "metric");
  c.metric = AKIDB_METRIC_DOT;
  c.hnsw_m = 1;
  expect_collection_einval(cat, &c, "hnsw_m");
  c.hnsw_m = 101;
  expect_collection_einval(cat, &c, "hnsw_m");
  c.hnsw_m = 32;
  c.hnsw_ef_construction = 16;
  expect_collection_einval(cat, &c, "hnsw_ef_construction (16) must be at least hnsw_m (32)");
  c.hnsw_ef_construction = 64;
  c.hnsw_ef_search = 0;
  expect_collection_einval(cat, &c, "hnsw_ef_search");
  c.hnsw_ef_search = 50;
  strcpy(c.embedding_json, "{not json");
  expect_collection_einval(cat, &c, "embedding_json must be a JSON object");
  strcpy(c.embedding_json, "[1,2]");
  expect_collection_einval(cat, &c, "embedding_json");
  strcpy(c.embedding_json, "{\"provider\":\"openai-compatible\",\"model\":\"qwen3-embedding\"}");
  c.tier = (akidb_tier_t)3;
  expect_collection_einval(cat, &c, "tier");
  c.tier = AKIDB_TIER_WARM;
  c.tier_policy = (akidb_tier_policy_t){true, 600, 86400};
  c.dimension = 65536;
  ASSERT_OK(akidb_collection_meta_create(cat, &c, NULL, &out, err, sizeof err));
  ASSERT_EQ_INT(out.dimension, 65536);
  ASSERT_EQ_INT(out.metric, AKIDB_METRIC_DOT);
  ASSERT_EQ_INT(out.hnsw_m, 32);
  ASSERT_EQ_INT(out.hnsw_ef_construction, 64);
  ASSERT_EQ_INT(out.hnsw_ef_search, 50);
  ASSERT_STR_CONTAINS(out.embedding_json, "qwen3-embedding");
  ASSERT_EQ_INT(out.tier, AKIDB_TIER_WARM);
  ASSERT_TRUE(out.tier_policy.pinned);
  ASSERT_EQ_INT(out.tier_policy.warm_after_s, 600);
  ASSERT_EQ_INT(out.tier_policy.cold_after_s, 86400);
  ASSERT_EQ_INT(akidb_uuid_compare(&out.tenant_id, &t.id), 0);
  tcu_collection_spec(&c, &d.id, "one");
  c.dimension = 1;
  ASSERT_OK(akidb_collection_meta_create(cat, &c, NULL, NULL, err, sizeof err));
  akidb_uuid_t missing;
  ASSERT_OK(akidb_uuid_v7(&missing));
  tcu_collection_spec(&c, &missing, "orphan");
  ASSERT_EQ_INT(akidb_collection_meta_create(cat, &c, NULL, NULL, err, sizeof err),
                AKIDB_ENOTFOUND);
  ASSERT_STR_CONTAINS(err, "database");
  akidb_catalog_close(cat);
}

static void test_collection_update_changes_only_mutable_fields(void) {
  akidb_catalog_t *cat = tcu_open_new("coll-update.db");
  char err[ERR_LEN] = "";
  akidb_tenant_t t = tcu_tenant(cat, "upd", AKIDB_TENANT_ACTIVE);
  akidb_database_t d = tcu_database(cat, &t.id, "main");
  akidb_collection_meta_t c = tcu_collection(cat, &d.id, "docs");
  tcu_collection(cat, &d.id, "taken");
  static akidb_collection_meta_t out;
  akidb_tier_policy_t pol = {true, 0, 0};
  akidb_collection_meta_update_t upd = {.name = "papers",
                                        .set_ef_search = true,
                                        .ef_search = 99,
                                        .embedding_json = "{\"provider\":\"builtin\"}",
                                        .set_tier = true,
                                        .tier = AKIDB_TIER_COLD,
                                        .tier_policy = &pol};
  ASSERT_OK(akidb_collection_meta_update(cat, &c.id, &upd, NULL, &out, err, sizeof err));
  ASSERT_TRUE(strcmp(out.name, "papers") == 0);
  ASSERT_EQ_INT(out.hnsw_ef_search, 99);
  ASSERT_EQ_INT(out.hnsw_m, c.hnsw_m);
  ASSERT_EQ_INT(out.dimension, c.dimension);
  ASSERT_EQ_INT(out.tier, AKIDB_TIER_COLD);
  ASSERT_TRUE(out.tier_policy.pinned);
  ASSERT_TRUE(strcmp(out.embedding_json, "{\"provider\":\"builtin\"}") == 0);
  ASSERT_OK(akidb_collection_meta_get_by_name(cat, &d.id, "papers", &out, err, sizeof err));
  ASSERT_EQ_INT(akidb_collection_meta_get_by_name(cat, &d.id, "docs", &out, err, sizeof err),
                AKIDB_ENOTFOUND);
  akidb_collection_meta_update_t clear = {.embedding_json = ""};
  ASSERT_OK(akidb_collection_meta_update(cat, &c.id, &clear, NULL, &out, err, sizeof err));
  ASSERT_EQ_INT(out.embedding_json[0], '\0');
  akidb_collection_meta_update_t clash = {.name = "taken"};
  ASSERT_EQ_INT(akidb_collection_meta_update(cat, &c.id, &clash, NULL, &out, err, sizeof err),
                AKIDB_EEXIST);
  akidb_collection_meta_update_t badef = {.set_ef_search = true, .ef_search = 0};
  ASSERT_EQ_INT(akidb_collection_meta_update(cat, &c.id, &badef, NULL, &out, err, sizeof err),
                AKIDB_EINVAL);
  akidb_catalog_close(cat);
}

static void test_collection_quota_counts_all_databases(void) {
  akidb_catalog_t *cat = tcu_open_new("quota.db");
  char err[ERR_LEN] = "";
  akidb_tenant_t t = tcu_tenant(cat, "quota", AKIDB_TENANT_ACTIVE);
  akidb_quotas_t q = {0, 0, 0, 2};
  akidb_tenant_update_t upd = {.quotas = &q};
  ASSERT_OK(akidb_tenant_update(cat, &t.id, &upd, NULL, NULL, err, sizeof err));
  akidb_database_t d1 = tcu_database(cat, &t.id, "one");
  akidb_database_t d2 = tcu_database(cat, &t.id, "two");
  akidb_uuid_t first = tcu_collection(cat, &d1.id, "a").id;
  tcu_collection(cat, &d2.id, "b");
  akidb_collection_meta_t c;
  tcu_collection_spec(&c, &d2.id, "c");
  ASSERT_EQ_INT(akidb_collection_meta_create(cat, &c, NULL, NULL, err, sizeof err), AKIDB_EQUOTA);
  ASSERT_STR_CONTAINS(err,
                      "quota max_collections exceeded for tenant 'quota': limit 2, requested 3");
  uint64_t n = 0;
  ASSERT_OK(akidb_tenant_collection_count(cat, &t.id, &n, err, sizeof err));
  ASSERT_EQ_U64(n, 2);
  /* Another tenant's quota is its own. */
  akidb_tenant_t o = tcu_tenant(cat, "free", AKIDB_TENANT_ACTIVE);
  akidb_database_t od = tcu_database(cat, &o.id, "x");
  for (int i = 0; i < 5; i++) {
    char name[8];
    snprintf(name, sizeof name, "c%d", i);
    tcu_collection(cat, &od.id, name);
  }
  ASSERT_OK(akidb_collection_meta_delete(cat, &first, NULL, NULL, NULL, err, sizeof err));
  ASSERT_OK(akidb_collection_meta_create(cat, &c, NULL, NULL, err, sizeof err));
  /* Lowering the quota below the count keeps what exists and refuses more. */
  q.max_collections = 1;
  ASSERT_OK(akidb_tenant_update(cat, &t.id, &upd, NULL, NULL, err, sizeof err));
  ASSERT_OK(akidb_tenant_collection_count(cat, &t.id, &n, err, sizeof err));
  ASSERT_EQ_U64(n, 2);
  tcu_collection_spec(&c, &d1.id, "d");
  ASSERT_EQ_INT(akidb_collection_meta_create(cat, &c, NULL, NULL, err, sizeof err), AKIDB_EQUOTA);
  ASSERT_STR_CONTAINS(err, "limit 1, requested 3");
  q.max_collections = 0; /* unlimited */
  ASSERT_OK(akidb_tenant_update(cat, &t.id, &upd, NULL, NULL, err, sizeof err));
  ASSERT_OK(akidb_collection_meta_create(cat, &c, NULL, NULL, err, sizeof err));
  akidb_catalog_close(cat);
}

static void test_quota_values_are_range_checked(void) {
  akidb_catalog_t *cat = tcu_open_new("quota-range.db");
  char err[ERR_LEN] = "";
  akidb_tenant_t t = tcu_tenant(cat, "qrange", AKIDB_TENANT_ACTIVE);
  struct {
    akidb_quotas_t q;
    const char *field;
  } bad[] = {{{AKIDB_QUOTA_BYTES_MAX + 1, 0, 0, 0}, "max_memory_bytes"},
             {{0, UINT64_MAX, 0, 0}, "max_storage_bytes"},
             {{0, 0, AKIDB_QUOTA_QPS_MAX + 1, 0}, "max_qps"},
             {{0, 0, 0, AKIDB_QUOTA_COLLECTIONS_MAX + 1}, "max_collections"}};
  for (size_t i = 0; i < 4; i++) {
    akidb_tenant_update_t upd = {.quotas = &bad[i].q};
    ASSERT_EQ_INT(akidb_tenant_update(cat, &t.id, &upd, NULL, NULL, err, sizeof err), AKIDB_EINVAL);
    ASSERT_STR_CONTAINS(err, bad[i].field);
    akidb_tenant_t in;
    memset(&in, 0, sizeof in);
    snprintf(in.slug, sizeof in.slug, "bad-%zu", i);
    strcpy(in.name, "n");
    in.quotas = bad[i].q;
    ASSERT_EQ_INT(akidb_tenant_create(cat, &in, NULL, NULL, err, sizeof err), AKIDB_EINVAL);
  }
  akidb_quotas_t max = {AKIDB_QUOTA_BYTES_MAX, AKIDB_QUOTA_BYTES_MAX, AKIDB_QUOTA_QPS_MAX,
                        AKIDB_QUOTA_COLLECTIONS_MAX};
  akidb_tenant_update_t upd = {.quotas = &max};
  akidb_tenant_t got;
  ASSERT_OK(akidb_tenant_update(cat, &t.id, &upd, NULL, &got, err, sizeof err));
  ASSERT_EQ_U64(got.quotas.max_storage_bytes, AKIDB_QUOTA_BYTES_MAX);
  akidb_catalog_close(cat);
}

static void test_closed_parents_refuse_children(void) {
  akidb_catalog_t *cat = tcu_open_new("closed.db");
  char err[ERR_LEN] = "";
  akidb_tenant_t t = tcu_tenant(cat, "gone", AKIDB_TENANT_DECOMMISSIONED);
  akidb_database_t d;
  memset(&d, 0, sizeof d);
  d.tenant_id = t.id;
  strcpy(d.name, "late");
  ASSERT_EQ_INT(akidb_database_create(cat, &d, NULL, NULL, err, sizeof err), AKIDB_ECONFLICT);
  ASSERT_STR_CONTAINS(err, "decommissioned");
  akidb_user_t u;
  memset(&u, 0, sizeof u);
  u.has_tenant = true;
  u.tenant_id = t.id;
  strcpy(u.username, "late");
  u.role = AKIDB_ROLE_VIEWER;
  ASSERT_EQ_INT(akidb_user_create(cat, &u, NULL, NULL, NULL, err, sizeof err), AKIDB_ECONFLICT);
  akidb_tenant_t live = tcu_tenant(cat, "live", AKIDB_TENANT_ACTIVE);
  akidb_database_t db = tcu_database(cat, &live.id, "dying");
  akidb_database_update_t del = {.set_state = true, .state = AKIDB_DATABASE_DELETING};
  ASSERT_OK(akidb_database_update(cat, &db.id, &del, NULL, NULL, err, sizeof err));
  akidb_collection_meta_t c;
  tcu_collection_spec(&c, &db.id, "late");
  ASSERT_EQ_INT(akidb_collection_meta_create(cat, &c, NULL, NULL, err, sizeof err),
                AKIDB_ECONFLICT);
  ASSERT_STR_CONTAINS(err, "being deleted");
  akidb_uuid_t nobody;
  ASSERT_OK(akidb_uuid_v7(&nobody));
  d.tenant_id = nobody;
  ASSERT_EQ_INT(akidb_database_create(cat, &d, NULL, NULL, err, sizeof err), AKIDB_ENOTFOUND);
  akidb_catalog_close(cat);
}

/* --------------------------------------------------------- timestamps -- */

static void test_created_at_is_immutable_and_updated_at_moves(void) {
  akidb_catalog_t *cat = tcu_open_new("times.db");
  const char *path = tcu_path("times.db");
  char err[ERR_LEN] = "";
  akidb_tenant_t t = tcu_tenant(cat, "times", AKIDB_TENANT_PROVISIONING);
  akidb_database_t d = tcu_database(cat, &t.id, "main");
  akidb_collection_meta_t c = tcu_collection(cat, &d.id, "docs");
  akidb_user_t u, u2;
  memset(&u, 0, sizeof u);
  u.has_tenant = true;
  u.tenant_id = t.id;
  strcpy(u.username, "tim");
  u.role = AKIDB_ROLE_VIEWER;
  ASSERT_OK(akidb_user_create(cat, &u, NULL, NULL, &u, err, sizeof err));
  akidb_tenant_t t2 = t;
  int64_t last = t.updated_at_ms;
  for (int i = 0; i < 5; i++) { /* back-to-back updates, same millisecond or not */
    char name[32];
    snprintf(name, sizeof name, "Times %d", i);
    akidb_tenant_update_t upd = {.name = name};
    ASSERT_OK(akidb_tenant_update(cat, &t.id, &upd, NULL, &t2, err, sizeof err));
    ASSERT_TRUE(t2.updated_at_ms > last);
    ASSERT_EQ_INT(t2.created_at_ms, t.created_at_ms);
    last = t2.updated_at_ms;
  }
  akidb_database_t d2;
  akidb_database_update_t dupd = {.set_state = true, .state = AKIDB_DATABASE_MIGRATING};
  ASSERT_OK(akidb_database_update(cat, &d.id, &dupd, NULL, &d2, err, sizeof err));
  ASSERT_TRUE(d2.updated_at_ms > d.updated_at_ms);
  ASSERT_EQ_INT(d2.created_at_ms, d.created_at_ms);
  static akidb_collection_meta_t c2;
  akidb_collection_meta_update_t cupd = {.set_ef_search = true, .ef_search = 77};
  ASSERT_OK(akidb_collection_meta_update(cat, &c.id, &cupd, NULL, &c2, err, sizeof err));
  ASSERT_TRUE(c2.updated_at_ms > c.updated_at_ms);
  ASSERT_EQ_INT(c2.created_at_ms, c.created_at_ms);
  akidb_user_update_t uupd = {.set_role = true, .role = AKIDB_ROLE_DEVELOPER};
  ASSERT_OK(akidb_user_update(cat, &u.id, &uupd, NULL, &u2, err, sizeof err));
  ASSERT_TRUE(u2.updated_at_ms > u.updated_at_ms);
  ASSERT_EQ_INT(u2.created_at_ms, u.created_at_ms);
  /* An update that changes nothing does not move updated_at. */
  akidb_tenant_update_t none = {0};
  akidb_tenant_t t3;
  ASSERT_OK(akidb_tenant_update(cat, &t.id, &none, NULL, &t3, err, sizeof err));
  ASSERT_EQ_INT(t3.updated_at_ms, last);
  /* The schema refuses to change created_at. */
  const char *tables[] = {"tenants", "databases", "collections", "users", NULL};
  for (int i = 0; tables[i]; i++) {
    char sql[128], msg[256];
    snprintf(sql, sizeof sql, "UPDATE %s SET created_at = created_at - 1000", tables[i]);
    ASSERT_EQ_INT(tcu_exec(path, sql, msg, sizeof msg) & 0xff, SQLITE_CONSTRAINT);
    ASSERT_STR_CONTAINS(msg, "created_at is immutable");
  }
  akidb_tenant_t t4;
  ASSERT_OK(akidb_tenant_get(cat, &t.id, &t4, err, sizeof err));
  ASSERT_EQ_INT(t4.created_at_ms, t.created_at_ms);
  /* An importer may keep an older creation time. */
  akidb_tenant_t in;
  memset(&in, 0, sizeof in);
  strcpy(in.slug, "old-timer");
  strcpy(in.name, "Old");
  in.status = AKIDB_TENANT_ACTIVE;
  in.created_at_ms = 1600000000000ll;
  ASSERT_OK(akidb_tenant_create(cat, &in, NULL, &t4, err, sizeof err));
  ASSERT_EQ_INT(t4.created_at_ms, 1600000000000ll);
  akidb_catalog_close(cat);
}

/* --------------------------------------------------------- pagination -- */

static void test_pagination_visits_every_row_once_in_id_order(void) {
  akidb_catalog_t *cat = tcu_open_new("pages.db");
  char err[ERR_LEN] = "";
  enum { N = 250 };
  for (int i = 0; i < N; i++) {
    char slug[16];
    snprintf(slug, sizeof slug, "page-%03d", i);
    tcu_tenant(cat, slug, AKIDB_TENANT_ACTIVE);
  }
  akidb_page_t page = {.limit = 100};
  int seen = 0, pages = 0;
  akidb_uuid_t prev = {{0}};
  for (;;) {
    akidb_tenant_list_t l;
    ASSERT_OK(akidb_tenant_list(cat, &page, &l, err, sizeof err));
    pages++;
    for (size_t i = 0; i < l.count; i++) {
      ASSERT_TRUE(akidb_uuid_compare(&prev, &l.items[i].id) < 0);
      prev = l.items[i].id;
      char slug[16];
      snprintf(slug, sizeof slug, "page-%03d", seen);
      ASSERT_TRUE(strcmp(l.items[i].slug, slug) == 0); /* UUIDv7: creation order */
      seen++;
    }
    bool more = l.has_more;
    ASSERT_EQ_INT(more, seen < N);
    page.after = l.next;
    page.has_after = true;
    akidb_tenant_list_free(&l);
    if (!more) break;
  }
  ASSERT_EQ_INT(seen, N);
  ASSERT_EQ_INT(pages, 3);
  page.limit = AKIDB_LIST_LIMIT_MAX + 1;
  akidb_tenant_list_t l;
  ASSERT_EQ_INT(akidb_tenant_list(cat, &page, &l, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "limit");

  /* Children lists page within their parent only. */
  akidb_tenant_t t = tcu_tenant(cat, "parent", AKIDB_TENANT_ACTIVE);
  akidb_tenant_t o = tcu_tenant(cat, "stranger", AKIDB_TENANT_ACTIVE);
  tcu_database(cat, &o.id, "noise");
  akidb_database_t d = tcu_database(cat, &t.id, "db0");
  for (int i = 1; i < 7; i++) {
    char name[8];
    snprintf(name, sizeof name, "db%d", i);
    tcu_database(cat, &t.id, name);
  }
  for (int i = 0; i < 11; i++) {
    char name[8];
    snprintf(name, sizeof name, "c%d", i);
    tcu_collection(cat, &d.id, name);
  }
  akidb_page_t p3 = {.limit = 3};
  int dbs = 0, colls = 0;
  for (;;) {
    akidb_database_list_t dl;
    ASSERT_OK(akidb_database_list(cat, &t.id, &p3, &dl, err, sizeof err));
    for (size_t i = 0; i < dl.count; i++)
      ASSERT_EQ_INT(akidb_uuid_compare(&dl.items[i].tenant_id, &t.id), 0);
    dbs += (int)dl.count;
    p3.after = dl.next;
    p3.has_after = true;
    bool more = dl.has_more;
    akidb_database_list_free(&dl);
    if (!more) break;
  }
  ASSERT_EQ_INT(dbs, 7);
  p3.has_after = false;
  for (;;) {
    akidb_collection_meta_list_t cl;
    ASSERT_OK(akidb_collection_meta_list(cat, &d.id, &p3, &cl, err, sizeof err));
    colls += (int)cl.count;
    p3.after = cl.next;
    p3.has_after = true;
    bool more = cl.has_more;
    akidb_collection_meta_list_free(&cl);
    if (!more) break;
  }
  ASSERT_EQ_INT(colls, 11);
  akidb_collection_meta_list_t all;
  ASSERT_OK(akidb_collection_meta_list(cat, NULL, NULL, &all, err, sizeof err));
  ASSERT_EQ_INT(all.count, 11);
  ASSERT_TRUE(!all.has_more);
  akidb_collection_meta_list_free(&all);
  akidb_catalog_close(cat);
}

/* ------------------------------------------------------- transactions -- */

static void test_explicit_transaction_commits_or_rolls_back_as_one(void) {
  akidb_catalog_t *cat = tcu_open_new("txn.db");
  char err[ERR_LEN] = "";
  akidb_tenant_t got;
  ASSERT_OK(akidb_catalog_begin(cat, err, sizeof err));
  ASSERT_EQ_INT(akidb_catalog_begin(cat, err, sizeof err), AKIDB_ECONFLICT);
  akidb_tenant_t t = tcu_tenant(cat, "inside", AKIDB_TENANT_ACTIVE);
  ASSERT_OK(akidb_tenant_get_by_slug(cat, "inside", &got, err, sizeof err)); /* reads its writes */
  tcu_database(cat, &t.id, "db");
  akidb_catalog_rollback(cat);
  ASSERT_EQ_INT(akidb_tenant_get_by_slug(cat, "inside", &got, err, sizeof err), AKIDB_ENOTFOUND);

  ASSERT_OK(akidb_catalog_begin(cat, err, sizeof err));
  tcu_tenant(cat, "first", AKIDB_TENANT_ACTIVE);
  akidb_tenant_t dup;
  memset(&dup, 0, sizeof dup);
  strcpy(dup.slug, "first");
  strcpy(dup.name, "dup");
  ASSERT_EQ_INT(akidb_tenant_create(cat, &dup, NULL, NULL, err, sizeof err), AKIDB_EEXIST);
  tcu_tenant(cat, "second", AKIDB_TENANT_ACTIVE); /* a failed call undid only itself */
  ASSERT_OK(akidb_catalog_commit(cat, err, sizeof err));
  ASSERT_OK(akidb_tenant_get_by_slug(cat, "first", &got, err, sizeof err));
  ASSERT_OK(akidb_tenant_get_by_slug(cat, "second", &got, err, sizeof err));
  ASSERT_EQ_INT(akidb_catalog_commit(cat, err, sizeof err), AKIDB_EINVAL);
  akidb_catalog_close(cat);
}

static void test_meta_values_round_trip(void) {
  akidb_catalog_t *cat = tcu_open_new("meta.db");
  char err[ERR_LEN] = "", v[64];
  ASSERT_EQ_INT(akidb_catalog_meta_get(cat, "k", v, sizeof v, err, sizeof err), AKIDB_ENOTFOUND);
  ASSERT_OK(akidb_catalog_meta_set(cat, "k", "one", err, sizeof err));
  ASSERT_OK(akidb_catalog_meta_set(cat, "k", "two", err, sizeof err));
  ASSERT_OK(akidb_catalog_meta_get(cat, "k", v, sizeof v, err, sizeof err));
  ASSERT_TRUE(strcmp(v, "two") == 0);
  ASSERT_EQ_INT(akidb_catalog_meta_get(cat, "k", v, 3, err, sizeof err), AKIDB_ELIMIT);
  ASSERT_EQ_INT(akidb_catalog_meta_set(cat, "", "x", err, sizeof err), AKIDB_EINVAL);
  akidb_catalog_close(cat);
}

/* --------------------------------------------------------- concurrency -- */

typedef struct {
  akidb_catalog_t *cat;
  int id;
  int failures;
} worker_t;

#define WRITERS 3
#define READERS 3
#define PER_WRITER 150

static void *writer_main(void *arg) {
  worker_t *w = arg;
  for (int i = 0; i < PER_WRITER; i++) {
    akidb_tenant_t in, out;
    memset(&in, 0, sizeof in);
    snprintf(in.slug, sizeof in.slug, "w%d-%d", w->id, i);
    strcpy(in.name, "concurrent");
    in.status = AKIDB_TENANT_ACTIVE;
    if (akidb_tenant_create(w->cat, &in, NULL, &out, NULL, 0)) w->failures++;
    akidb_tenant_t got;
    if (akidb_tenant_get_by_slug(w->cat, in.slug, &got, NULL, 0)) w->failures++;
  }
  return NULL;
}

static void *reader_main(void *arg) {
  worker_t *w = arg;
  for (int i = 0; i < 200; i++) {
    akidb_tenant_list_t l;
    akidb_page_t p = {.limit = 50};
    if (akidb_tenant_list(w->cat, &p, &l, NULL, 0)) w->failures++;
    for (size_t k = 1; k < l.count; k++)
      if (akidb_uuid_compare(&l.items[k - 1].id, &l.items[k].id) >= 0) w->failures++;
    akidb_tenant_list_free(&l);
  }
  return NULL;
}

static void test_concurrent_writers_and_readers(void) {
  akidb_catalog_t *cat = tcu_open_new("concurrent.db");
  pthread_t t[WRITERS + READERS];
  worker_t w[WRITERS + READERS];
  for (int i = 0; i < WRITERS + READERS; i++) {
    w[i] = (worker_t){cat, i, 0};
    ASSERT_OK(pthread_create(&t[i], NULL, i < WRITERS ? writer_main : reader_main, &w[i]));
  }
  for (int i = 0; i < WRITERS + READERS; i++) {
    pthread_join(t[i], NULL);
    ASSERT_EQ_INT(w[i].failures, 0);
  }
  akidb_catalog_close(cat);
  ASSERT_EQ_INT(tcu_count(tcu_path("concurrent.db"), "SELECT count(*) FROM tenants"),
                WRITERS * PER_WRITER);
}

CHECK_MAIN(CHECK_CASE(test_catalog_open_creates_strict_wal_schema),
           CHECK_CASE(test_catalog_reopen_keeps_rows_and_applies_nothing),
           CHECK_CASE(test_catalog_refuses_a_newer_schema),
           CHECK_CASE(test_catalog_refuses_foreign_files_without_changing_them),
           CHECK_CASE(test_catalog_upgrades_an_older_schema_in_place),
           CHECK_CASE(test_tenant_lifecycle), CHECK_CASE(test_tenant_every_status_transition),
           CHECK_CASE(test_database_every_state_transition),
           CHECK_CASE(test_names_and_slugs_are_validated), CHECK_CASE(test_uniqueness_is_per_scope),
           CHECK_CASE(test_tenant_delete_cascades_and_reports_collections),
           CHECK_CASE(test_database_and_collection_delete_report_removed),
           CHECK_CASE(test_collection_fields_are_validated),
           CHECK_CASE(test_collection_update_changes_only_mutable_fields),
           CHECK_CASE(test_collection_quota_counts_all_databases),
           CHECK_CASE(test_quota_values_are_range_checked),
           CHECK_CASE(test_closed_parents_refuse_children),
           CHECK_CASE(test_created_at_is_immutable_and_updated_at_moves),
           CHECK_CASE(test_pagination_visits_every_row_once_in_id_order),
           CHECK_CASE(test_explicit_transaction_commits_or_rolls_back_as_one),
           CHECK_CASE(test_meta_values_round_trip), CHECK_CASE(test_concurrent_writers_and_readers))
