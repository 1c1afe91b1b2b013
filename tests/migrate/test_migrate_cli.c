/*
 * test_migrate_cli.c — `akidb migrate v1-to-v2`, run as a user runs it (the
 * built binary, path in $AKIDB_BIN): --help documents every flag and bad
 * command lines exit 2; a generated v1 directory of 1,000 tenants is
 * imported with every value intact (users can log in with their v1 password
 * hashes) and the row counts, report and progress lines are right (a bar
 * on a terminal, plain lines otherwise);
 * --dry-run writes nothing; a re-run is a no-op and another directory is
 * refused; every failure (malformed JSON, duplicate slug, dangling
 * reference, unreadable file, out-of-range value, unknown field, wrong
 * counts, conflicts with the target, a refusal in the middle of the
 * transaction) exits 1 naming the file and the field and leaves the
 * target byte-identical, or absent when it did not exist.
 */
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "akidb/auth.h"
#include "akidb/catalog.h"
#include "test_catalog_util.h"

#define ERR_LEN 512
#define PASSWORD "v1 password that works"

static char out_text[1 << 16], err_text[1 << 16];
static char v1_hash[AKIDB_PASSWORD_HASH_MAX + 1];

/* ------------------------------------------------------------ helpers -- */

static void slurp(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "rb");
  size_t n = f ? fread(buf, 1, size - 1, f) : 0;
  buf[n] = '\0';
  if (f) fclose(f);
}

/* Runs `akidb migrate ARGS...` (NULL-terminated); returns its exit status
 * and leaves its stdout/stderr in out_text/err_text. */
static int run_akidb(const char *first, ...) {
  const char *bin = getenv("AKIDB_BIN");
  if (!bin || !*bin) CHECK_FAIL("AKIDB_BIN is not set (run through ctest)");
  const char *argv[32] = {bin, "migrate"};
  int argc = 2;
  va_list ap;
  va_start(ap, first);
  for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *)) argv[argc++] = a;
  va_end(ap);
  argv[argc] = NULL;
  static const char *out_path, *err_path;
  if (!out_path) {
    out_path = tcu_path("stdout.txt");
    err_path = tcu_path("stderr.txt");
  }
  pid_t pid = fork();
  if (pid < 0) CHECK_FAIL("fork: %s", strerror(errno));
  if (pid == 0) {
    int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int in = open("/dev/null", O_RDONLY);
    if (o < 0 || e < 0 || in < 0) _exit(127);
    dup2(in, 0);
    dup2(o, 1);
    dup2(e, 2);
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  slurp(out_path, out_text, sizeof out_text);
  slurp(err_path, err_text, sizeof err_text);
  if (!WIFEXITED(status)) CHECK_FAIL("akidb did not exit normally (status %d)", status);
  return WEXITSTATUS(status);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) CHECK_FAIL("cannot write %s: %s", path, strerror(errno));
  fputs(text, f);
  fclose(f);
}

static bool exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

/* A v1 directory: `n` tenants t0000.. (every 3rd suspended, quotas set),
 * two users each (the first with a v1 Argon2id hash), one database for
 * every even tenant and three collections in each of those. */
typedef struct {
  int tenants, databases, collections, users;
} v1_counts_t;

static v1_counts_t make_v1(const char *dir, int n, bool manifest_counts) {
  char path[800];
  v1_counts_t c = {n, 0, 0, 2 * n};
  mkdir(dir, 0755);
  snprintf(path, sizeof path, "%s/tenants", dir);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/databases", dir);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/collections", dir);
  mkdir(path, 0755);
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/tenants/t%04d.json", dir, i);
    FILE *f = fopen(path, "w");
    if (!f) CHECK_FAIL("cannot write %s", path);
    fprintf(
        f,
        "{\n  \"slug\": \"t%04d\",\n  \"name\": \"Tenant \\\"%d\\\" GmbH\",\n  \"status\": "
        "\"%s\",\n"
        "  \"created_at\": \"2023-0%d-1%dT08:30:1%d.250Z\",\n"
        "  \"quotas\": {\"max_memory_bytes\": %d, \"max_storage_bytes\": 1099511627776, "
        "\"max_qps\": %d, \"max_collections\": 5},\n"
        "  \"users\": [\n    {\"username\": \"owner%d\", \"role\": \"admin\", \"password_hash\": "
        "\"%s\"},\n"
        "    {\"username\": \"reader\", \"role\": \"viewer\", \"status\": \"disabled\"}\n  ]\n}\n",
        i, i, i % 3 == 2 ? "suspended" : "active", 1 + i % 9, i % 10, i % 10, (i + 1) * 1024,
        10 + i, i, v1_hash);
    fclose(f);
    if (i % 2) continue;
    c.databases++;
    snprintf(path, sizeof path, "%s/databases/t%04d-main.json", dir, i);
    f = fopen(path, "w");
    fprintf(f, "{\"tenant\": \"t%04d\", \"name\": \"main\"}\n", i);
    fclose(f);
    for (int k = 0; k < 3; k++) {
      c.collections++;
      snprintf(path, sizeof path, "%s/collections/t%04d-main-c%d.json", dir, i, k);
      f = fopen(path, "w");
      fprintf(
          f,
          "{\"tenant\": \"t%04d\", \"database\": \"main\", \"name\": \"c%d\", \"dimension\": %d, "
          "\"metric\": \"%s\", \"index\": {\"m\": %d, \"ef_construction\": 100, \"ef_search\": "
          "40}, "
          "\"tier\": \"%s\"%s}\n",
          i, k, 128 * (k + 1),
          k == 0   ? "cosine"
          : k == 1 ? "l2"
                   : "dot",
          8 + k, k == 2 ? "cold" : "hot",
          k == 0 ? ", \"embedding\": {\"provider\": \"builtin\", \"model\": \"mini\"}" : "");
      fclose(f);
    }
  }
  snprintf(path, sizeof path, "%s/akidb-v1.json", dir);
  char manifest[512];
  if (manifest_counts)
    snprintf(
        manifest, sizeof manifest,
        "{\"format\": \"akidb-data\", \"layout_version\": 1, \"akidb_version\": \"1.9.3\", "
        "\"counts\": {\"tenants\": %d, \"databases\": %d, \"collections\": %d, \"users\": %d}}\n",
        c.tenants, c.databases, c.collections, c.users);
  else
    snprintf(manifest, sizeof manifest, "{\"format\": \"akidb-data\", \"layout_version\": 1}\n");
  write_text(path, manifest);
  return c;
}

static long long rows(const char *db, const char *sql) { return tcu_count(db, sql); }

/* A catalog made by the library with one tenant "native" and a database. */
static akidb_database_t make_existing(const char *path) {
  unlink(path);
  akidb_catalog_t *cat = NULL;
  char err[ERR_LEN] = "";
  ASSERT_OK(akidb_catalog_open(path, NULL, &cat, err, sizeof err));
  akidb_tenant_t t = tcu_tenant(cat, "native", AKIDB_TENANT_ACTIVE);
  akidb_database_t d = tcu_database(cat, &t.id, "kept");
  akidb_catalog_close(cat);
  char wal[700];
  snprintf(wal, sizeof wal, "%s-wal", path);
  ASSERT_TRUE(!exists(wal));
  return d;
}

static void assert_absent(const char *path) {
  const char *suffix[] = {"", "-wal", "-shm", "-journal"};
  for (int i = 0; i < 4; i++) {
    char p[700];
    snprintf(p, sizeof p, "%s%s", path, suffix[i]);
    if (exists(p)) CHECK_FAIL("%s exists after a refused migration", p);
  }
}

/* ---------------------------------------------------------------- tests -- */

static void test_help_documents_every_flag(void) {
  ASSERT_EQ_INT(run_akidb("v1-to-v2", "--help", NULL), 0);
  const char *flags[] = {"--v1-data-dir DIR", "--v2-database FILE",         "--dry-run", "--help",
                         "Exit status",       "docs/migration-v1-to-v2.md", NULL};
  for (int i = 0; flags[i]; i++) ASSERT_STR_CONTAINS(out_text, flags[i]);
  ASSERT_EQ_INT(run_akidb("--help", NULL), 0);
  ASSERT_STR_CONTAINS(out_text, "--v1-data-dir");
  ASSERT_EQ_INT(run_akidb("v1-to-v2", NULL), 2);
  ASSERT_STR_CONTAINS(err_text, "--v1-data-dir DIR and --v2-database FILE are required");
  ASSERT_EQ_INT(run_akidb("v1-to-v2", "--v1-data-dir", "x", "--v2-database", "y", "--force", NULL),
                2);
  ASSERT_STR_CONTAINS(err_text, "unknown option '--force'");
  ASSERT_EQ_INT(run_akidb("v2-to-v3", NULL), 2);
}

static void test_happy_path_imports_1000_tenants(void) {
  const char *dir = tcu_path("v1-big");
  const char *db = tcu_path("big.db");
  v1_counts_t c = make_v1(dir, 1000, true);
  ASSERT_EQ_INT(run_akidb("v1-to-v2", "--v1-data-dir", dir, "--v2-database", db, NULL), 0);
  ASSERT_STR_CONTAINS(out_text, "tenants      1000");
  ASSERT_STR_CONTAINS(out_text, "databases    500");
  ASSERT_STR_CONTAINS(out_text, "collections  1500");
  ASSERT_STR_CONTAINS(out_text, "users        2000 (1000 without a password");
  ASSERT_STR_CONTAINS(out_text, "row counts verified");
  ASSERT_STR_CONTAINS(err_text,
                      "validated 1000 tenants, 500 databases, 1500 collections, 2000 users");
  ASSERT_STR_CONTAINS(err_text, "writing  10% (300/3000 records)");
  ASSERT_STR_CONTAINS(err_text, "writing 100% (3000/3000 records)");
  ASSERT_EQ_INT(rows(db, "SELECT count(*) FROM tenants"), c.tenants);
  ASSERT_EQ_INT(rows(db, "SELECT count(*) FROM databases"), c.databases);
  ASSERT_EQ_INT(rows(db, "SELECT count(*) FROM collections"), c.collections);
  ASSERT_EQ_INT(rows(db, "SELECT count(*) FROM users"), c.users);
  ASSERT_EQ_INT(rows(db, "SELECT count(*) FROM tenants WHERE status = 'suspended'"), 333);
  ASSERT_EQ_INT(rows(db, "SELECT count(*) FROM users WHERE status = 'disabled' AND role = 'viewer' "
                         "AND password_hash IS NULL"),
                1000);
  ASSERT_EQ_INT(rows(db, "SELECT count(*) FROM audit_log WHERE action = 'catalog.import' AND "
                         "json_extract(details, '$.tenants') = 1000"),
                1);
  ASSERT_EQ_INT(rows(db, "SELECT count(*) FROM audit_log WHERE action = 'tenant.create' AND actor "
                         "= 'akidb-migrate'"),
                1000);
  /* Values come through intact. */
  akidb_catalog_t *cat = NULL;
  char err[ERR_LEN] = "";
  ASSERT_OK(akidb_catalog_open(db, NULL, &cat, err, sizeof err));
  akidb_tenant_t t;
  ASSERT_OK(akidb_tenant_get_by_slug(cat, "t0421", &t, err, sizeof err));
  ASSERT_TRUE(strcmp(t.name, "Tenant \"421\" GmbH") == 0);
  ASSERT_EQ_INT(t.status, AKIDB_TENANT_ACTIVE);
  ASSERT_EQ_U64(t.quotas.max_memory_bytes, 422 * 1024);
  ASSERT_EQ_U64(t.quotas.max_storage_bytes, 1099511627776ull);
  ASSERT_EQ_INT(t.quotas.max_qps, 431);
  ASSERT_EQ_INT(t.quotas.max_collections, 5);
  ASSERT_EQ_INT(t.created_at_ms, 1691742611250ll); /* 2023-08-11T08:30:11.250Z */
  ASSERT_OK(akidb_tenant_get_by_slug(cat, "t0420", &t, err, sizeof err));
  akidb_database_t d;
  ASSERT_OK(akidb_database_get_by_name(cat, &t.id, "main", &d, err, sizeof err));
  ASSERT_EQ_INT(d.state, AKIDB_DATABASE_READY);
  static akidb_collection_meta_t m;
  ASSERT_OK(akidb_collection_meta_get_by_name(cat, &d.id, "c0", &m, err, sizeof err));
  ASSERT_EQ_INT(m.dimension, 128);
  ASSERT_EQ_INT(m.metric, AKIDB_METRIC_COSINE);
  ASSERT_EQ_INT(m.hnsw_m, 8);
  ASSERT_EQ_INT(m.hnsw_ef_construction, 100);
  ASSERT_EQ_INT(m.hnsw_ef_search, 40);
  ASSERT_TRUE(strcmp(m.embedding_json, "{\"model\":\"mini\",\"provider\":\"builtin\"}") == 0);
  ASSERT_OK(akidb_collection_meta_get_by_name(cat, &d.id, "c2", &m, err, sizeof err));
  ASSERT_EQ_INT(m.metric, AKIDB_METRIC_DOT);
  ASSERT_EQ_INT(m.tier, AKIDB_TIER_COLD);
  ASSERT_EQ_INT(m.embedding_json[0], '\0');
  /* A v1 password hash still logs its user in. */
  akidb_auth_options_t ao;
  akidb_auth_options_default(&ao);
  ao.argon2 = (akidb_argon2_params_t){1, 64, 1};
  akidb_auth_t *auth;
  ASSERT_OK(akidb_auth_open(cat, &ao, &auth, err, sizeof err));
  akidb_session_t s;
  ASSERT_OK(akidb_auth_login(auth, "t0420", "owner420", PASSWORD, NULL, NULL, &s, err, sizeof err));
  ASSERT_EQ_INT(s.principal.role, AKIDB_ROLE_ADMIN);
  ASSERT_EQ_INT(
      akidb_auth_login(auth, "t0420", "reader", PASSWORD, NULL, NULL, &s, err, sizeof err),
      AKIDB_EUNAUTH);
  akidb_auth_close(auth);
  char rec[4096];
  ASSERT_OK(akidb_catalog_meta_get(cat, "import.v1", rec, sizeof rec, err, sizeof err));
  ASSERT_STR_CONTAINS(rec, "\"tenants\":1000");
  akidb_catalog_close(cat);

  /* Running again: recognised, nothing written. */
  size_t n1, n2;
  char *before = tcu_read_file(db, &n1);
  ASSERT_EQ_INT(run_akidb("v1-to-v2", "--v1-data-dir", dir, "--v2-database", db, NULL), 0);
  ASSERT_STR_CONTAINS(out_text, "already holds this import");
  ASSERT_STR_CONTAINS(out_text, "nothing to do");
  char *after = tcu_read_file(db, &n2);
  ASSERT_TRUE(n1 == n2 && memcmp(before, after, n1) == 0);
  free(after);
  /* Another v1 directory into the same catalog: refused, nothing written. */
  const char *other = tcu_path("v1-other");
  make_v1(other, 3, false);
  ASSERT_EQ_INT(run_akidb("v1-to-v2", "--v1-data-dir", other, "--v2-database", db, NULL), 1);
  ASSERT_STR_CONTAINS(err_text, "already holds an import of another AkiDB 1.x directory");
  after = tcu_read_file(db, &n2);
  ASSERT_TRUE(n1 == n2 && memcmp(before, after, n1) == 0);
  free(after);
  free(before);
}

static void test_dry_run_writes_nothing(void) {
  const char *dir = tcu_path("v1-dry");
  const char *fresh = tcu_path("dry-fresh.db");
  const char *existing = tcu_path("dry-existing.db");
  make_v1(dir, 20, true);
  unlink(fresh);
  ASSERT_EQ_INT(
      run_akidb("v1-to-v2", "--v1-data-dir", dir, "--v2-database", fresh, "--dry-run", NULL), 0);
  ASSERT_STR_CONTAINS(out_text, "would migrate");
  ASSERT_STR_CONTAINS(out_text, "tenants      20");
  ASSERT_STR_CONTAINS(out_text, "nothing was written");
  assert_absent(fresh);
  make_existing(existing);
  size_t n1, n2;
  char *before = tcu_read_file(existing, &n1);
  ASSERT_EQ_INT(
      run_akidb("v1-to-v2", "--v1-data-dir", dir, "--v2-database", existing, "--dry-run", NULL), 0);
  ASSERT_STR_CONTAINS(out_text, "would migrate");
  char *after = tcu_read_file(existing, &n2);
  ASSERT_TRUE(n1 == n2 && memcmp(before, after, n1) == 0);
  free(after);
  char side[700];
  snprintf(side, sizeof side, "%s-wal", existing);
  ASSERT_TRUE(!exists(side));
  snprintf(side, sizeof side, "%s-shm", existing);
  ASSERT_TRUE(!exists(side));
  ASSERT_EQ_INT(rows(existing, "SELECT count(*) FROM tenants"), 1);
  /* The real run then does what the dry run announced. */
  ASSERT_EQ_INT(run_akidb("v1-to-v2", "--v1-data-dir", dir, "--v2-database", existing, NULL), 0);
  ASSERT_EQ_INT(rows(existing, "SELECT count(*) FROM tenants"), 21);
  free(before);
}

/* One broken v1 directory: `edit` breaks a fresh copy; the run must exit 1
 * with both `file` and `field` in its message and change nothing. */
typedef void (*breaker_t)(const char *dir);

static void expect_refusal(const char *name, breaker_t edit, const char *file, const char *field) {
  char fresh_name[128], existing_name[128];
  snprintf(fresh_name, sizeof fresh_name, "%s.fresh.db", name);
  snprintf(existing_name, sizeof existing_name, "%s.existing.db", name);
  const char *dir = tcu_path(name), *fresh = tcu_path(fresh_name),
             *existing = tcu_path(existing_name);
  make_v1(dir, 12, true);
  edit(dir);
  unlink(fresh);
  int rc = run_akidb("v1-to-v2", "--v1-data-dir", dir, "--v2-database", fresh, NULL);
  if (rc != 1) CHECK_FAIL("%s: exit %d, expected 1; stderr: %s", name, rc, err_text);
  ASSERT_STR_CONTAINS(err_text, file);
  ASSERT_STR_CONTAINS(err_text, field);
  ASSERT_STR_CONTAINS(err_text, "was not created");
  assert_absent(fresh);
  make_existing(existing);
  size_t n1, n2;
  char *before = tcu_read_file(existing, &n1);
  rc = run_akidb("v1-to-v2", "--v1-data-dir", dir, "--v2-database", existing, NULL);
  ASSERT_EQ_INT(rc, 1);
  ASSERT_STR_CONTAINS(err_text, file);
  ASSERT_STR_CONTAINS(err_text, field);
  char *after = tcu_read_file(existing, &n2);
  if (n1 != n2 || memcmp(before, after, n1) != 0)
    CHECK_FAIL("%s: the existing catalog changed", name);
  char wal[700];
  snprintf(wal, sizeof wal, "%s-wal", existing);
  ASSERT_TRUE(!exists(wal));
  free(before);
  free(after);
}

static void file_in(const char *dir, const char *rel, const char *text) {
  char path[800];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  write_text(path, text);
}

static void break_json(const char *dir) {
  file_in(dir, "tenants/t0007.json", "{\"slug\": \"t0007\",\n \"name\": \"Seven\",,\n}\n");
}
static void break_duplicate_slug(const char *dir) {
  file_in(dir, "tenants/zz-copy.json", "{\"slug\": \"t0003\", \"name\": \"Copy\"}\n");
  file_in(dir, "akidb-v1.json", "{\"format\": \"akidb-data\", \"layout_version\": 1}\n");
}
static void break_reference(const char *dir) {
  file_in(
      dir, "collections/t0004-lost.json",
      "{\"tenant\": \"t0004\", \"database\": \"nowhere\", \"name\": \"lost\", \"dimension\": 3, "
      "\"metric\": \"l2\"}\n");
  file_in(dir, "akidb-v1.json", "{\"format\": \"akidb-data\", \"layout_version\": 1}\n");
}
static void break_tenant_reference(const char *dir) {
  file_in(dir, "databases/ghost.json", "{\"tenant\": \"ghost\", \"name\": \"main\"}\n");
  file_in(dir, "akidb-v1.json", "{\"format\": \"akidb-data\", \"layout_version\": 1}\n");
}
static void break_unreadable(const char *dir) {
  char path[800], target[800];
  snprintf(path, sizeof path, "%s/tenants/t0005.json", dir);
  unlink(path);
  snprintf(target, sizeof target, "%s/tenants/missing-target", dir);
  if (symlink(target, path) != 0)
    CHECK_FAIL("symlink: %s", strerror(errno)); /* dangling: unreadable */
}
static void break_directory_as_file(const char *dir) {
  char path[800];
  snprintf(path, sizeof path, "%s/tenants/t0005.json", dir);
  unlink(path);
  mkdir(path, 0755);
}
static void break_range(const char *dir) {
  file_in(dir, "tenants/t0002.json",
          "{\"slug\": \"t0002\", \"name\": \"Two\", \"quotas\": {\"max_qps\": -5}, \"users\": "
          "[{\"username\": "
          "\"owner2\", \"role\": \"admin\"}, {\"username\": \"reader\", \"role\": \"viewer\"}]}\n");
}
static void break_unknown_field(const char *dir) {
  file_in(dir, "tenants/t0002.json",
          "{\"slug\": \"t0002\", \"name\": \"Two\", \"qoutas\": {}, \"users\": [{\"username\": "
          "\"owner2\", \"role\": \"admin\"}, {\"username\": \"reader\", \"role\": \"viewer\"}]}\n");
}
static void break_role(const char *dir) {
  file_in(
      dir, "tenants/t0002.json",
      "{\"slug\": \"t0002\", \"name\": \"Two\", \"users\": [{\"username\": \"owner2\", \"role\": "
      "\"system-admin\"}, {\"username\": \"reader\", \"role\": \"viewer\"}]}\n");
}
static void break_decommissioned(const char *dir) {
  file_in(dir, "tenants/t0003.json",
          "{\"slug\": \"t0003\", \"name\": \"Gone\", \"status\": \"decommissioned\", \"users\": "
          "[{\"username\": \"owner3\", \"role\": \"admin\"}, {\"username\": \"reader\", \"role\": "
          "\"viewer\"}]}\n");
}
static void break_counts(const char *dir) {
  file_in(dir, "akidb-v1.json",
          "{\"format\": \"akidb-data\", \"layout_version\": 1, \"counts\": {\"tenants\": 13}}\n");
}
static void break_layout(const char *dir) {
  file_in(dir, "akidb-v1.json", "{\"format\": \"akidb-data\", \"layout_version\": 2}\n");
}
static void break_stray_file(const char *dir) { file_in(dir, "tenants/README.txt", "notes\n"); }
static void break_slug_taken(const char *dir) {
  /* "native" exists in the existing catalog; in a fresh one the dimension fails. */
  file_in(dir, "tenants/native.json", "{\"slug\": \"native\", \"name\": \"Clash\"}\n");
  file_in(dir, "collections/native-bad.json",
          "{\"tenant\": \"native\", \"database\": \"nodb\", \"name\": \"x\", \"dimension\": 3, "
          "\"metric\": \"l2\"}\n");
  file_in(dir, "akidb-v1.json", "{\"format\": \"akidb-data\", \"layout_version\": 1}\n");
}

static void test_failures_name_file_and_field_and_change_nothing(void) {
  expect_refusal("bad-json", break_json, "tenants/t0007.json: line 2", "malformed JSON");
  expect_refusal("dup-slug", break_duplicate_slug, "tenants/zz-copy.json",
                 "field \"slug\": duplicate slug 't0003'");
  expect_refusal("dangling-db", break_reference, "collections/t0004-lost.json",
                 "field \"database\": database 'nowhere' is not defined");
  expect_refusal("dangling-tenant", break_tenant_reference, "databases/ghost.json",
                 "field \"tenant\": tenant 'ghost' is not defined");
  expect_refusal("unreadable", break_unreadable, "tenants/t0005.json", "cannot read");
  expect_refusal("dir-as-file", break_directory_as_file, "tenants/t0005.json", "is a directory");
  expect_refusal("range", break_range, "tenants/t0002.json",
                 "field \"quotas.max_qps\": must be 0..10000000 (got -5)");
  expect_refusal("unknown", break_unknown_field, "tenants/t0002.json",
                 "field \"qoutas\": unknown field");
  expect_refusal("role", break_role, "tenants/t0002.json", "field \"users[0].role\"");
  expect_refusal("decommissioned", break_decommissioned, "tenants/t0003.json",
                 "field \"users\": a decommissioned tenant cannot hold users");
  expect_refusal("counts", break_counts, "akidb-v1.json",
                 "field \"counts.tenants\": says 13 but the directory holds 12");
  expect_refusal("layout", break_layout, "akidb-v1.json", "field \"layout_version\"");
  expect_refusal("stray", break_stray_file, "tenants/README.txt", "unexpected file");
  expect_refusal("slug-taken", break_slug_taken, "collections/native-bad.json",
                 "field \"database\"");
}

static void test_conflicts_with_the_target_roll_back_everything(void) {
  /* Slug already in the target: found before the transaction. */
  const char *dir = tcu_path("v1-clash");
  const char *existing = tcu_path("clash.db");
  make_v1(dir, 30, false);
  file_in(dir, "tenants/native.json", "{\"slug\": \"native\", \"name\": \"Clash\"}\n");
  akidb_database_t kept = make_existing(existing);
  size_t n1, n2;
  char *before = tcu_read_file(existing, &n1);
  ASSERT_EQ_INT(run_akidb("v1-to-v2", "--v1-data-dir", dir, "--v2-database", existing, NULL), 1);
  ASSERT_STR_CONTAINS(
      err_text, "tenants/native.json: field \"slug\": a tenant with slug 'native' already exists");
  char *after = tcu_read_file(existing, &n2);
  ASSERT_TRUE(n1 == n2 && memcmp(before, after, n1) == 0);
  free(after);
  /* A database id the target already uses: refused inside the transaction,
   * after 30 tenants and their users were written — all rolled back. */
  char path[800], id[AKIDB_UUID_STR_LEN + 1], text[256];
  snprintf(path, sizeof path, "%s/tenants/native.json", dir);
  unlink(path);
  akidb_uuid_format(&kept.id, id);
  snprintf(text, sizeof text, "{\"id\": \"%s\", \"tenant\": \"t0029\", \"name\": \"zzz\"}\n", id);
  file_in(dir, "databases/zzz-last.json", text);
  ASSERT_EQ_INT(run_akidb("v1-to-v2", "--v1-data-dir", dir, "--v2-database", existing, NULL), 1);
  ASSERT_STR_CONTAINS(err_text, "databases/zzz-last.json: database refused by the catalog");
  ASSERT_STR_CONTAINS(err_text, "id already exists");
  ASSERT_STR_CONTAINS(err_text, "writing  40% (37/91 records)"); /* written, then undone */
  ASSERT_STR_CONTAINS(err_text, "rolled back");
  after = tcu_read_file(existing, &n2);
  ASSERT_TRUE(n1 == n2 && memcmp(before, after, n1) == 0);
  free(after);
  free(before);
  ASSERT_EQ_INT(rows(existing, "SELECT count(*) FROM tenants"), 1);
  ASSERT_EQ_INT(rows(existing, "SELECT count(*) FROM audit_log"), 0);
}

/* Runs `akidb migrate ARGS` on a pseudo-terminal; returns the exit status
 * and everything it wrote to the terminal. */
static int run_on_tty(char *buf, size_t size, const char *dir, const char *db) {
  const char *bin = getenv("AKIDB_BIN");
  int master = -1;
  pid_t pid = forkpty(&master, NULL, NULL, NULL);
  if (pid < 0) CHECK_FAIL("forkpty: %s", strerror(errno));
  if (pid == 0) {
    execl(bin, bin, "migrate", "v1-to-v2", "--v1-data-dir", dir, "--v2-database", db, (char *)NULL);
    _exit(127);
  }
  size_t used = 0;
  for (;;) {
    ssize_t n = read(master, buf + used, size - 1 - used);
    if (n <= 0) break; /* EIO once the child has exited */
    used += (size_t)n;
  }
  buf[used] = '\0';
  close(master);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_progress_is_a_bar_on_a_terminal(void) {
  const char *dir = tcu_path("v1-tty");
  const char *db = tcu_path("tty.db");
  make_v1(dir, 40, true);
  static char screen[1 << 16];
  ASSERT_EQ_INT(run_on_tty(screen, sizeof screen, dir, db), 0);
  ASSERT_STR_CONTAINS(screen, "\r  [");
  ASSERT_STR_CONTAINS(screen, "] 100%  120/120 records"); /* 40 + 20 + 60 */
  ASSERT_TRUE(strstr(screen, "writing  10% (") == NULL); /* no plain lines on a terminal */
  ASSERT_STR_CONTAINS(screen, "tenants      40");
  ASSERT_EQ_INT(rows(db, "SELECT count(*) FROM tenants"), 40);
}

int main(int argc, char **argv) {
  char err[ERR_LEN] = "";
  akidb_argon2_params_t cheap = {1, 64, 1};
  if (akidb_password_hash(PASSWORD, &cheap, v1_hash, sizeof v1_hash, err, sizeof err))
    CHECK_FAIL("hash: %s", err);
  static const check_case_t cases[] = {
      CHECK_CASE(test_help_documents_every_flag), CHECK_CASE(test_happy_path_imports_1000_tenants),
      CHECK_CASE(test_dry_run_writes_nothing),
      CHECK_CASE(test_progress_is_a_bar_on_a_terminal),
      CHECK_CASE(test_failures_name_file_and_field_and_change_nothing),
      CHECK_CASE(test_conflicts_with_the_target_roll_back_everything)};
  return check_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
