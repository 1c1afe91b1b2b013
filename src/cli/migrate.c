/*
 * migrate.c — owns `akidb migrate v1-to-v2`: reads an AkiDB 1.x data
 * directory (layout 1, defined in docs/migration-v1-to-v2.md), validates
 * all of it in memory (types, ranges, unknown fields, unique slugs, ids and
 * names, references, declared counts, quotas), then imports it into the v2
 * SQLite catalog in ONE transaction, checks the row counts inside that
 * transaction, records the import (catalog_meta "import.v1" + an audit row)
 * and commits. Any failure rolls everything back: an existing catalog is
 * left byte-for-byte as it was, a catalog this run created is removed.
 * --dry-run rehearses the same import on a scratch copy and writes nothing
 * to the target. Re-running on a catalog that holds the same import is a
 * no-op; a different v1 import is refused.
 *
 * Locking: single-threaded; the catalog serialises against other
 * processes (busy timeout). Durability: the catalog's (one commit).
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "akidb/auth.h"
#include "akidb/catalog.h"
#include "cli/cli.h"

#define V1_LAYOUT_VERSION 1
#define V1_MANIFEST "akidb-v1.json"
#define V1_FILE_MAX (16u << 20) /* bytes per JSON file */
#define FILE_NAME_MAX 320
#define ERR_MAX 1024
#define IMPORT_META_KEY "import.v1"

/* ----------------------------------------------------------------- data -- */

typedef struct {
  akidb_user_t user;
  char hash[AKIDB_PASSWORD_HASH_MAX + 1]; /* "" = no password */
} v1_user_t;

typedef struct {
  char file[FILE_NAME_MAX]; /* "tenants/acme.json" */
  akidb_tenant_t tenant;
  v1_user_t *users;
  size_t n_users;
  size_t n_databases, n_collections; /* counted during validation */
} v1_tenant_t;

typedef struct {
  char file[FILE_NAME_MAX];
  char tenant_slug[AKIDB_SLUG_MAX + 1];
  akidb_database_t database;
  size_t tenant_ix;
  size_t n_collections;
} v1_database_t;

typedef struct {
  char file[FILE_NAME_MAX];
  char tenant_slug[AKIDB_SLUG_MAX + 1];
  char database_name[AKIDB_OBJECT_NAME_MAX + 1];
  akidb_collection_meta_t meta;
  size_t database_ix;
} v1_collection_t;

typedef struct {
  char dir[PATH_MAX];
  char akidb_version[64];
  bool has_counts;
  long long counts[4]; /* tenants, databases, collections, users */
  v1_tenant_t *tenants;
  size_t n_tenants;
  v1_database_t *databases;
  size_t n_databases;
  v1_collection_t *collections;
  size_t n_collections;
  size_t n_users, n_users_without_password;
  EVP_MD_CTX *fingerprint_ctx;
  char fingerprint[65];
} v1_data_t;

enum { COUNT_TENANTS, COUNT_DATABASES, COUNT_COLLECTIONS, COUNT_USERS };
static const char *const COUNT_NAMES[4] = {"tenants", "databases", "collections", "users"};

typedef struct {
  const char *file; /* for messages */
  char *err;
  size_t errlen;
} ctx_t;

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return AKIDB_EINVAL;
}

/* snprintf for paths and messages that may be cut at the buffer's end. */
static void fmt(char *out, size_t size, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *out, size_t size, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  vsnprintf(out, size, f, ap);
  va_end(ap);
}

/* "FILE: field "PATH": TEXT" */
static int field_fail(const ctx_t *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int field_fail(const ctx_t *c, const char *path, const char *fmt, ...) {
  char text[ERR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  snprintf(c->err, c->errlen, "%s: field \"%s\": %s", c->file, path, text);
  return AKIDB_EINVAL;
}

/* ------------------------------------------------------------ JSON fields -- */

/* Refuses keys of `obj` that are not in `allowed` (a typo must not be lost). */
static int check_keys(const ctx_t *c, json_t *obj, const char *const *allowed, const char *prefix) {
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v) {
    bool ok = false;
    for (size_t i = 0; allowed[i] && !ok; i++) ok = strcmp(key, allowed[i]) == 0;
    if (!ok) {
      char path[128];
      snprintf(path, sizeof path, "%s%s", prefix, key);
      return field_fail(c, path, "unknown field (see docs/migration-v1-to-v2.md)");
    }
  }
  return AKIDB_OK;
}

/* A string field into out[size]; *present says whether it was there. */
static int get_string(const ctx_t *c, json_t *obj, const char *key, const char *path, bool required,
                      char *out, size_t size, bool *present) {
  json_t *v = json_object_get(obj, key);
  if (present) *present = v != NULL;
  if (!v) {
    if (required) return field_fail(c, path, "is required");
    return AKIDB_OK;
  }
  if (!json_is_string(v)) return field_fail(c, path, "must be a string");
  if (json_string_length(v) >= size || strlen(json_string_value(v)) != json_string_length(v))
    return field_fail(c, path, "must be a string of at most %zu bytes without NUL", size - 1);
  snprintf(out, size, "%s", json_string_value(v));
  return AKIDB_OK;
}

static int get_uint(const ctx_t *c, json_t *obj, const char *key, const char *path, bool required,
                    unsigned long long lo, unsigned long long hi, unsigned long long def,
                    unsigned long long *out) {
  json_t *v = json_object_get(obj, key);
  *out = def;
  if (!v) return required ? field_fail(c, path, "is required") : AKIDB_OK;
  if (!json_is_integer(v)) return field_fail(c, path, "must be an integer %llu..%llu", lo, hi);
  json_int_t n = json_integer_value(v);
  if (n < 0 || (unsigned long long)n < lo || (unsigned long long)n > hi)
    return field_fail(c, path, "must be %llu..%llu (got %lld)", lo, hi, (long long)n);
  *out = (unsigned long long)n;
  return AKIDB_OK;
}

static int get_bool(const ctx_t *c, json_t *obj, const char *key, const char *path, bool *out) {
  json_t *v = json_object_get(obj, key);
  if (!v) return AKIDB_OK;
  if (!json_is_boolean(v)) return field_fail(c, path, "must be true or false");
  *out = json_is_true(v);
  return AKIDB_OK;
}

/* Wraps a validator message from the catalog ("slug must be ...") as a field error. */
static int wrap(const ctx_t *c, const char *path, int rc, const char *msg) {
  if (rc) field_fail(c, path, "%s", msg);
  return rc;
}

static int get_uuid(const ctx_t *c, json_t *obj, const char *path, akidb_uuid_t *out) {
  char text[64];
  bool present = false;
  int rc = get_string(c, obj, "id", path, false, text, sizeof text, &present);
  if (rc || !present) return rc;
  if (akidb_uuid_parse(text, out) || akidb_uuid_is_nil(out))
    return field_fail(c, path,
                      "must be a UUID like 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b (got '%s')", text);
  return AKIDB_OK;
}

static bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* RFC 3339 in UTC: YYYY-MM-DDTHH:MM:SS[.fff]Z → Unix ms. */
static bool parse_time(const char *s, int64_t *out_ms) {
  int y, mo, d, h, mi, sec, n = 0;
  if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
    return false;
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 ||
      d > days[mo - 1] + (mo == 2 && is_leap(y)) || h > 23 || mi > 59 || sec > 59)
    return false;
  const char *p = s + 19;
  int ms = 0;
  if (*p == '.') {
    int digits = 0;
    for (p++; *p >= '0' && *p <= '9'; p++, digits++)
      if (digits < 3) ms = ms * 10 + (*p - '0');
    if (digits == 0) return false;
    for (; digits < 3; digits++) ms *= 10;
  }
  if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0) return false;
  int64_t days_total = 0;
  for (int yy = 1970; yy < y; yy++) days_total += is_leap(yy) ? 366 : 365;
  for (int mm = 1; mm < mo; mm++) days_total += days[mm - 1] + (mm == 2 && is_leap(y));
  days_total += d - 1;
  *out_ms = ((days_total * 24 + h) * 60 + mi) * 60000ll + sec * 1000ll + ms;
  return true;
}

static int get_time(const ctx_t *c, json_t *obj, const char *path, int64_t *out) {
  char text[64];
  bool present = false;
  int rc = get_string(c, obj, "created_at", path, false, text, sizeof text, &present);
  if (rc || !present) return rc;
  if (!parse_time(text, out))
    return field_fail(c, path, "must be an RFC 3339 UTC time like 2024-05-01T12:30:00Z (got '%s')",
                      text);
  return AKIDB_OK;
}

/* --------------------------------------------------------------- files -- */

/* Reads a whole regular file; adds it to the fingerprint. */
static int read_file(v1_data_t *v, const char *rel, char **buf, size_t *len, char *err,
                     size_t errlen) {
  char path[PATH_MAX + FILE_NAME_MAX];
  snprintf(path, sizeof path, "%s/%s", v->dir, rel);
  struct stat st;
  if (stat(path, &st) != 0) return fail(err, errlen, "%s: cannot read: %s", rel, strerror(errno));
  if (S_ISDIR(st.st_mode))
    return fail(err, errlen, "%s: is a directory, expected a JSON file", rel);
  if (!S_ISREG(st.st_mode)) return fail(err, errlen, "%s: is not a regular file", rel);
  if ((unsigned long long)st.st_size > V1_FILE_MAX)
    return fail(err, errlen, "%s: is larger than %u bytes", rel, V1_FILE_MAX);
  FILE *f = fopen(path, "rb");
  if (!f) return fail(err, errlen, "%s: cannot read: %s", rel, strerror(errno));
  *buf = malloc((size_t)st.st_size + 1);
  size_t n = *buf ? fread(*buf, 1, (size_t)st.st_size, f) : 0;
  int read_errno = errno;
  bool bad = !*buf || ferror(f) || n != (size_t)st.st_size;
  fclose(f);
  if (bad) {
    free(*buf);
    *buf = NULL;
    return fail(err, errlen, "%s: cannot read: %s", rel, strerror(read_errno ? read_errno : EIO));
  }
  (*buf)[n] = '\0';
  *len = n;
  uint64_t n64 = n;
  EVP_DigestUpdate(v->fingerprint_ctx, rel, strlen(rel) + 1);
  EVP_DigestUpdate(v->fingerprint_ctx, &n64, sizeof n64);
  EVP_DigestUpdate(v->fingerprint_ctx, *buf, n);
  return AKIDB_OK;
}

/* Parses `rel` as a JSON object (duplicate keys refused). */
static int load_json(v1_data_t *v, const char *rel, json_t **out, char *err, size_t errlen) {
  char *buf = NULL;
  size_t len = 0;
  int rc = read_file(v, rel, &buf, &len, err, errlen);
  if (rc) return rc;
  json_error_t je;
  *out = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
  free(buf);
  if (!*out)
    return fail(err, errlen, "%s: line %d, column %d: malformed JSON: %s", rel, je.line, je.column,
                je.text);
  if (!json_is_object(*out)) {
    json_decref(*out);
    *out = NULL;
    return fail(err, errlen, "%s: the top level must be a JSON object", rel);
  }
  return AKIDB_OK;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted "sub/<name>.json" paths of a folder; *n = 0 when it is absent and
 * optional. Anything that is not a *.json entry (hidden files aside) is an
 * error: a stray file might be a tenant that would be silently lost. */
static int list_folder(const v1_data_t *v, const char *sub, bool required, char ***names, size_t *n,
                       char *err, size_t errlen) {
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/%s", v->dir, sub);
  *names = NULL;
  *n = 0;
  DIR *d = opendir(path);
  if (!d) {
    if (errno == ENOENT && !required) return AKIDB_OK;
    return fail(err, errlen, "%s/: cannot read the folder: %s", sub, strerror(errno));
  }
  size_t cap = 0;
  int rc = AKIDB_OK;
  struct dirent *e;
  while (!rc && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    size_t len = strlen(e->d_name);
    if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0 ||
        len + strlen(sub) + 2 > FILE_NAME_MAX) {
      rc = fail(err, errlen, "%s/%s: unexpected file (only <name>.json files belong in %s/)", sub,
                e->d_name, sub);
      break;
    }
    if (*n == cap) {
      cap = cap ? 2 * cap : 64;
      char **p = realloc(*names, cap * sizeof *p);
      if (!p) {
        rc = fail(err, errlen, "out of memory");
        break;
      }
      *names = p;
    }
    char *full = malloc(len + strlen(sub) + 2);
    if (!full) {
      rc = fail(err, errlen, "out of memory");
      break;
    }
    sprintf(full, "%s/%s", sub, e->d_name);
    (*names)[(*n)++] = full;
  }
  closedir(d);
  if (rc) {
    for (size_t i = 0; i < *n; i++) free((*names)[i]);
    free(*names);
    *names = NULL;
    *n = 0;
    return rc;
  }
  if (*n) qsort(*names, *n, sizeof **names, cmp_str);
  return AKIDB_OK;
}

static void free_names(char **names, size_t n) {
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
}

/* ------------------------------------------------------------- manifest -- */

static int parse_manifest(v1_data_t *v, char *err, size_t errlen) {
  static const char *const KEYS[] = {"format", "layout_version", "akidb_version", "counts", NULL};
  static const char *const COUNT_KEYS[] = {"tenants", "databases", "collections", "users", NULL};
  json_t *root;
  int rc = load_json(v, V1_MANIFEST, &root, err, errlen);
  if (rc) return rc;
  ctx_t c = {V1_MANIFEST, err, errlen};
  char format[64] = "";
  unsigned long long layout = 0;
  rc = check_keys(&c, root, KEYS, "");
  if (!rc) rc = get_string(&c, root, "format", "format", true, format, sizeof format, NULL);
  if (!rc && strcmp(format, "akidb-data") != 0)
    rc = field_fail(&c, "format", "must be \"akidb-data\" (got \"%s\")", format);
  if (!rc)
    rc = get_uint(&c, root, "layout_version", "layout_version", true, 0, 1000000, 0, &layout);
  if (!rc && layout != V1_LAYOUT_VERSION)
    rc =
        field_fail(&c, "layout_version", "layout %llu is not supported; this akidb reads layout %d",
                   layout, V1_LAYOUT_VERSION);
  if (!rc)
    rc = get_string(&c, root, "akidb_version", "akidb_version", false, v->akidb_version,
                    sizeof v->akidb_version, NULL);
  json_t *counts = json_object_get(root, "counts");
  if (!rc && counts) {
    if (!json_is_object(counts)) rc = field_fail(&c, "counts", "must be an object");
    if (!rc) rc = check_keys(&c, counts, COUNT_KEYS, "counts.");
    for (int i = 0; !rc && i < 4; i++) {
      char path[32];
      unsigned long long n;
      snprintf(path, sizeof path, "counts.%s", COUNT_NAMES[i]);
      rc = get_uint(&c, counts, COUNT_NAMES[i], path, false, 0, 100000000, ULLONG_MAX, &n);
      v->counts[i] = n == ULLONG_MAX ? -1 : (long long)n;
    }
    v->has_counts = true;
  }
  json_decref(root);
  return rc;
}

/* -------------------------------------------------------------- tenants -- */

static int parse_quotas(const ctx_t *c, json_t *obj, akidb_quotas_t *q) {
  static const char *const KEYS[] = {"max_memory_bytes", "max_storage_bytes", "max_qps",
                                     "max_collections", NULL};
  json_t *v = json_object_get(obj, "quotas");
  if (!v) return AKIDB_OK;
  if (!json_is_object(v)) return field_fail(c, "quotas", "must be an object");
  unsigned long long n[4];
  int rc = check_keys(c, v, KEYS, "quotas.");
  if (!rc)
    rc = get_uint(c, v, "max_memory_bytes", "quotas.max_memory_bytes", false, 0,
                  AKIDB_QUOTA_BYTES_MAX, 0, &n[0]);
  if (!rc)
    rc = get_uint(c, v, "max_storage_bytes", "quotas.max_storage_bytes", false, 0,
                  AKIDB_QUOTA_BYTES_MAX, 0, &n[1]);
  if (!rc)
    rc = get_uint(c, v, "max_qps", "quotas.max_qps", false, 0, AKIDB_QUOTA_QPS_MAX, 0, &n[2]);
  if (!rc)
    rc = get_uint(c, v, "max_collections", "quotas.max_collections", false, 0,
                  AKIDB_QUOTA_COLLECTIONS_MAX, 0, &n[3]);
  if (rc) return rc;
  *q = (akidb_quotas_t){n[0], n[1], (uint32_t)n[2], (uint32_t)n[3]};
  return AKIDB_OK;
}

static int parse_user(const ctx_t *c, json_t *obj, size_t i, v1_user_t *u) {
  static const char *const KEYS[] = {"username", "role", "status", "password_hash", NULL};
  char prefix[32], path[64], word[32] = "";
  snprintf(prefix, sizeof prefix, "users[%zu].", i);
  if (!json_is_object(obj)) {
    snprintf(path, sizeof path, "users[%zu]", i);
    return field_fail(c, path, "must be an object");
  }
  int rc = check_keys(c, obj, KEYS, prefix);
  char msg[ERR_MAX];
  snprintf(path, sizeof path, "%susername", prefix);
  if (!rc)
    rc =
        get_string(c, obj, "username", path, true, u->user.username, sizeof u->user.username, NULL);
  if (!rc)
    rc = wrap(c, path, akidb_check_username(u->user.username, "username", msg, sizeof msg), msg);
  snprintf(path, sizeof path, "%srole", prefix);
  if (!rc) rc = get_string(c, obj, "role", path, true, word, sizeof word, NULL);
  if (!rc && (akidb_role_parse(word, &u->user.role) || u->user.role == AKIDB_ROLE_SYSTEM_ADMIN))
    rc = field_fail(c, path, "must be admin, developer, viewer or auditor (got \"%s\")", word);
  snprintf(path, sizeof path, "%sstatus", prefix);
  bool present = false;
  if (!rc) rc = get_string(c, obj, "status", path, false, word, sizeof word, &present);
  if (!rc && present && akidb_user_status_parse(word, &u->user.status))
    rc = field_fail(c, path, "must be active or disabled (got \"%s\")", word);
  snprintf(path, sizeof path, "%spassword_hash", prefix);
  if (!rc) rc = get_string(c, obj, "password_hash", path, false, u->hash, sizeof u->hash, &present);
  akidb_argon2_params_t p;
  if (!rc && present && akidb_password_params(u->hash, &p))
    rc = field_fail(
        c, path, "must be an encoded Argon2id hash ($argon2id$v=19$m=...,t=...,p=...$salt$hash)");
  return rc;
}

static int parse_users(const ctx_t *c, json_t *obj, v1_tenant_t *t) {
  json_t *arr = json_object_get(obj, "users");
  if (!arr) return AKIDB_OK;
  if (!json_is_array(arr)) return field_fail(c, "users", "must be an array");
  t->n_users = json_array_size(arr);
  if (!t->n_users) return AKIDB_OK;
  t->users = calloc(t->n_users, sizeof *t->users);
  if (!t->users) return field_fail(c, "users", "out of memory");
  for (size_t i = 0; i < t->n_users; i++) {
    v1_user_t *u = &t->users[i];
    u->user.has_tenant = true;
    u->user.status = AKIDB_USER_ACTIVE;
    int rc = parse_user(c, json_array_get(arr, i), i, u);
    if (rc) return rc;
    for (size_t k = 0; k < i; k++)
      if (strcmp(t->users[k].user.username, u->user.username) == 0) {
        char path[64];
        snprintf(path, sizeof path, "users[%zu].username", i);
        return field_fail(c, path, "duplicate username '%s' (also users[%zu])", u->user.username,
                          k);
      }
  }
  return AKIDB_OK;
}

static int parse_tenant(v1_data_t *v, const char *rel, v1_tenant_t *t, char *err, size_t errlen) {
  static const char *const KEYS[] = {"id",         "slug",   "name",  "status",
                                     "created_at", "quotas", "users", NULL};
  json_t *root;
  snprintf(t->file, sizeof t->file, "%s", rel);
  int rc = load_json(v, rel, &root, err, errlen);
  if (rc) return rc;
  ctx_t c = {t->file, err, errlen};
  char msg[ERR_MAX], word[32] = "active";
  t->tenant.status = AKIDB_TENANT_ACTIVE;
  rc = check_keys(&c, root, KEYS, "");
  if (!rc) rc = get_uuid(&c, root, "id", &t->tenant.id);
  if (!rc)
    rc = get_string(&c, root, "slug", "slug", true, t->tenant.slug, sizeof t->tenant.slug, NULL);
  if (!rc) rc = wrap(&c, "slug", akidb_check_slug(t->tenant.slug, "slug", msg, sizeof msg), msg);
  if (!rc)
    rc = get_string(&c, root, "name", "name", true, t->tenant.name, sizeof t->tenant.name, NULL);
  if (!rc)
    rc = wrap(&c, "name", akidb_check_tenant_name(t->tenant.name, "name", msg, sizeof msg), msg);
  if (!rc) rc = get_string(&c, root, "status", "status", false, word, sizeof word, NULL);
  if (!rc && akidb_tenant_status_parse(word, &t->tenant.status))
    rc = field_fail(&c, "status",
                    "must be provisioning, active, suspended or decommissioned (got \"%s\")", word);
  if (!rc) rc = get_time(&c, root, "created_at", &t->tenant.created_at_ms);
  if (!rc) rc = parse_quotas(&c, root, &t->tenant.quotas);
  if (!rc) rc = parse_users(&c, root, t);
  json_decref(root);
  return rc;
}

/* ----------------------------------------------------------- databases -- */

static int parse_database(v1_data_t *v, const char *rel, v1_database_t *d, char *err,
                          size_t errlen) {
  static const char *const KEYS[] = {"id", "tenant", "name", "state", "created_at", NULL};
  json_t *root;
  snprintf(d->file, sizeof d->file, "%s", rel);
  int rc = load_json(v, rel, &root, err, errlen);
  if (rc) return rc;
  ctx_t c = {d->file, err, errlen};
  char msg[ERR_MAX], word[32] = "ready";
  rc = check_keys(&c, root, KEYS, "");
  if (!rc) rc = get_uuid(&c, root, "id", &d->database.id);
  if (!rc)
    rc =
        get_string(&c, root, "tenant", "tenant", true, d->tenant_slug, sizeof d->tenant_slug, NULL);
  if (!rc)
    rc =
        get_string(&c, root, "name", "name", true, d->database.name, sizeof d->database.name, NULL);
  if (!rc)
    rc = wrap(&c, "name", akidb_check_object_name(d->database.name, "name", msg, sizeof msg), msg);
  if (!rc) rc = get_string(&c, root, "state", "state", false, word, sizeof word, NULL);
  if (!rc && (akidb_database_state_parse(word, &d->database.state) ||
              (d->database.state != AKIDB_DATABASE_READY &&
               d->database.state != AKIDB_DATABASE_PROVISIONING)))
    rc = field_fail(&c, "state", "must be ready or provisioning (got \"%s\")", word);
  if (!rc) rc = get_time(&c, root, "created_at", &d->database.created_at_ms);
  json_decref(root);
  return rc;
}

/* --------------------------------------------------------- collections -- */

static int parse_index(const ctx_t *c, json_t *root, akidb_collection_meta_t *m) {
  static const char *const KEYS[] = {"m", "ef_construction", "ef_search", NULL};
  json_t *v = json_object_get(root, "index");
  if (!v) return AKIDB_OK;
  if (!json_is_object(v)) return field_fail(c, "index", "must be an object");
  unsigned long long a, b, s;
  int rc = check_keys(c, v, KEYS, "index.");
  if (!rc)
    rc = get_uint(c, v, "m", "index.m", false, AKIDB_HNSW_M_MIN, AKIDB_HNSW_M_MAX, m->hnsw_m, &a);
  if (!rc)
    rc = get_uint(c, v, "ef_construction", "index.ef_construction", false,
                  AKIDB_HNSW_EF_CONSTRUCTION_MIN, AKIDB_HNSW_EF_CONSTRUCTION_MAX,
                  m->hnsw_ef_construction, &b);
  if (!rc)
    rc = get_uint(c, v, "ef_search", "index.ef_search", false, AKIDB_HNSW_EF_SEARCH_MIN,
                  AKIDB_HNSW_EF_SEARCH_MAX, m->hnsw_ef_search, &s);
  if (!rc && b < a)
    rc = field_fail(c, "index.ef_construction", "must be at least index.m (%llu < %llu)", b, a);
  if (rc) return rc;
  m->hnsw_m = (uint32_t)a;
  m->hnsw_ef_construction = (uint32_t)b;
  m->hnsw_ef_search = (uint32_t)s;
  return AKIDB_OK;
}

static int parse_tiering(const ctx_t *c, json_t *root, akidb_collection_meta_t *m) {
  static const char *const KEYS[] = {"pinned", "warm_after_seconds", "cold_after_seconds", NULL};
  char word[16] = "hot";
  int rc = get_string(c, root, "tier", "tier", false, word, sizeof word, NULL);
  if (!rc && akidb_tier_parse(word, &m->tier))
    rc = field_fail(c, "tier", "must be hot, warm or cold (got \"%s\")", word);
  json_t *v = json_object_get(root, "tier_policy");
  if (rc || !v) return rc;
  if (!json_is_object(v)) return field_fail(c, "tier_policy", "must be an object");
  unsigned long long w, cd;
  rc = check_keys(c, v, KEYS, "tier_policy.");
  if (!rc) rc = get_bool(c, v, "pinned", "tier_policy.pinned", &m->tier_policy.pinned);
  if (!rc)
    rc = get_uint(c, v, "warm_after_seconds", "tier_policy.warm_after_seconds", false, 0,
                  UINT32_MAX, 0, &w);
  if (!rc)
    rc = get_uint(c, v, "cold_after_seconds", "tier_policy.cold_after_seconds", false, 0,
                  UINT32_MAX, 0, &cd);
  if (rc) return rc;
  m->tier_policy.warm_after_s = (uint32_t)w;
  m->tier_policy.cold_after_s = (uint32_t)cd;
  return AKIDB_OK;
}

static int parse_embedding(const ctx_t *c, json_t *root, akidb_collection_meta_t *m) {
  json_t *v = json_object_get(root, "embedding");
  if (!v || json_is_null(v)) return AKIDB_OK;
  if (!json_is_object(v))
    return field_fail(c, "embedding",
                      "must be an object such as {\"provider\": ..., \"model\": ...}");
  char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
  if (!text) return field_fail(c, "embedding", "cannot be serialised");
  int rc = AKIDB_OK;
  if (strlen(text) > AKIDB_EMBEDDING_JSON_MAX)
    rc = field_fail(c, "embedding", "must serialise to at most %u bytes", AKIDB_EMBEDDING_JSON_MAX);
  else
    snprintf(m->embedding_json, sizeof m->embedding_json, "%s", text);
  free(text);
  return rc;
}

static int parse_collection(v1_data_t *v, const char *rel, v1_collection_t *col, char *err,
                            size_t errlen) {
  static const char *const KEYS[] = {"id",        "tenant",      "database",   "name",
                                     "dimension", "metric",      "index",      "embedding",
                                     "tier",      "tier_policy", "created_at", NULL};
  json_t *root;
  snprintf(col->file, sizeof col->file, "%s", rel);
  int rc = load_json(v, rel, &root, err, errlen);
  if (rc) return rc;
  ctx_t c = {col->file, err, errlen};
  akidb_collection_meta_t *m = &col->meta;
  akidb_collection_meta_defaults(m);
  char msg[ERR_MAX], word[16] = "";
  unsigned long long dim = 0;
  rc = check_keys(&c, root, KEYS, "");
  if (!rc) rc = get_uuid(&c, root, "id", &m->id);
  if (!rc)
    rc = get_string(&c, root, "tenant", "tenant", true, col->tenant_slug, sizeof col->tenant_slug,
                    NULL);
  if (!rc)
    rc = get_string(&c, root, "database", "database", true, col->database_name,
                    sizeof col->database_name, NULL);
  if (!rc) rc = get_string(&c, root, "name", "name", true, m->name, sizeof m->name, NULL);
  if (!rc) rc = wrap(&c, "name", akidb_check_object_name(m->name, "name", msg, sizeof msg), msg);
  if (!rc)
    rc = get_uint(&c, root, "dimension", "dimension", true, AKIDB_DIM_MIN, AKIDB_DIM_MAX, 0, &dim);
  if (!rc) rc = get_string(&c, root, "metric", "metric", true, word, sizeof word, NULL);
  if (!rc && akidb_metric_parse(word, &m->metric))
    rc = field_fail(&c, "metric", "must be cosine, l2 or dot (got \"%s\")", word);
  if (!rc) rc = parse_index(&c, root, m);
  if (!rc) rc = parse_embedding(&c, root, m);
  if (!rc) rc = parse_tiering(&c, root, m);
  if (!rc) rc = get_time(&c, root, "created_at", &m->created_at_ms);
  m->dimension = (uint32_t)dim;
  json_decref(root);
  return rc;
}

/* ----------------------------------------------------------- validation -- */

static int find_tenant(const v1_data_t *v, const char *slug, size_t *ix) {
  for (size_t i = 0; i < v->n_tenants; i++)
    if (strcmp(v->tenants[i].tenant.slug, slug) == 0) {
      *ix = i;
      return 1;
    }
  return 0;
}

static int find_database(const v1_data_t *v, size_t tenant_ix, const char *name, size_t *ix) {
  for (size_t i = 0; i < v->n_databases; i++)
    if (v->databases[i].tenant_ix == tenant_ix &&
        strcmp(v->databases[i].database.name, name) == 0) {
      *ix = i;
      return 1;
    }
  return 0;
}

/* Duplicate explicit ids among `n` records of `stride` bytes whose id sits
 * at `id_off` and file at `file_off`. */
static int check_ids(const void *base, size_t n, size_t stride, size_t id_off, size_t file_off,
                     char *err, size_t errlen) {
  const char *b = base;
  for (size_t i = 0; i < n; i++) {
    const akidb_uuid_t *a = (const akidb_uuid_t *)(b + i * stride + id_off);
    if (akidb_uuid_is_nil(a)) continue;
    for (size_t k = 0; k < i; k++)
      if (akidb_uuid_compare(a, (const akidb_uuid_t *)(b + k * stride + id_off)) == 0)
        return fail(err, errlen, "%s: field \"id\": duplicate id (also in %s)",
                    b + i * stride + file_off, b + k * stride + file_off);
  }
  return AKIDB_OK;
}

static int validate_tenants(v1_data_t *v, char *err, size_t errlen) {
  for (size_t i = 0; i < v->n_tenants; i++) {
    for (size_t k = 0; k < i; k++)
      if (strcmp(v->tenants[i].tenant.slug, v->tenants[k].tenant.slug) == 0)
        return fail(err, errlen, "%s: field \"slug\": duplicate slug '%s' (also in %s)",
                    v->tenants[i].file, v->tenants[i].tenant.slug, v->tenants[k].file);
    if (v->tenants[i].tenant.status == AKIDB_TENANT_DECOMMISSIONED && v->tenants[i].n_users)
      return fail(err, errlen,
                  "%s: field \"users\": a decommissioned tenant cannot hold users (drop them, or "
                  "import the tenant as suspended)",
                  v->tenants[i].file);
    v->n_users += v->tenants[i].n_users;
    for (size_t u = 0; u < v->tenants[i].n_users; u++)
      v->n_users_without_password += v->tenants[i].users[u].hash[0] == '\0';
  }
  return check_ids(v->tenants, v->n_tenants, sizeof *v->tenants, offsetof(v1_tenant_t, tenant.id),
                   offsetof(v1_tenant_t, file), err, errlen);
}

static int validate_databases(v1_data_t *v, char *err, size_t errlen) {
  for (size_t i = 0; i < v->n_databases; i++) {
    v1_database_t *d = &v->databases[i];
    if (!find_tenant(v, d->tenant_slug, &d->tenant_ix))
      return fail(err, errlen, "%s: field \"tenant\": tenant '%s' is not defined in tenants/",
                  d->file, d->tenant_slug);
    v1_tenant_t *t = &v->tenants[d->tenant_ix];
    if (t->tenant.status == AKIDB_TENANT_DECOMMISSIONED)
      return fail(err, errlen,
                  "%s: field \"tenant\": tenant '%s' is decommissioned and cannot hold databases",
                  d->file, d->tenant_slug);
    for (size_t k = 0; k < i; k++)
      if (v->databases[k].tenant_ix == d->tenant_ix &&
          strcmp(v->databases[k].database.name, d->database.name) == 0)
        return fail(err, errlen,
                    "%s: field \"name\": duplicate database '%s' in tenant '%s' (also in %s)",
                    d->file, d->database.name, d->tenant_slug, v->databases[k].file);
    t->n_databases++;
  }
  return check_ids(v->databases, v->n_databases, sizeof *v->databases,
                   offsetof(v1_database_t, database.id), offsetof(v1_database_t, file), err,
                   errlen);
}

static int validate_collections(v1_data_t *v, char *err, size_t errlen) {
  for (size_t i = 0; i < v->n_collections; i++) {
    v1_collection_t *c = &v->collections[i];
    size_t t_ix;
    if (!find_tenant(v, c->tenant_slug, &t_ix))
      return fail(err, errlen, "%s: field \"tenant\": tenant '%s' is not defined in tenants/",
                  c->file, c->tenant_slug);
    if (!find_database(v, t_ix, c->database_name, &c->database_ix))
      return fail(
          err, errlen,
          "%s: field \"database\": database '%s' is not defined for tenant '%s' in databases/",
          c->file, c->database_name, c->tenant_slug);
    for (size_t k = 0; k < i; k++)
      if (v->collections[k].database_ix == c->database_ix &&
          strcmp(v->collections[k].meta.name, c->meta.name) == 0)
        return fail(
            err, errlen,
            "%s: field \"name\": duplicate collection '%s' in database '%s/%s' (also in %s)",
            c->file, c->meta.name, c->tenant_slug, c->database_name, v->collections[k].file);
    v->databases[c->database_ix].n_collections++;
    v1_tenant_t *t = &v->tenants[t_ix];
    t->n_collections++;
    uint32_t max = t->tenant.quotas.max_collections;
    if (max && t->n_collections > max)
      return fail(err, errlen,
                  "%s: tenant '%s' would hold more collections than its quota: field "
                  "\"quotas.max_collections\" of %s is %u",
                  c->file, c->tenant_slug, t->file, max);
  }
  return check_ids(v->collections, v->n_collections, sizeof *v->collections,
                   offsetof(v1_collection_t, meta.id), offsetof(v1_collection_t, file), err,
                   errlen);
}

static int validate_counts(const v1_data_t *v, char *err, size_t errlen) {
  if (!v->has_counts) return AKIDB_OK;
  size_t found[4] = {v->n_tenants, v->n_databases, v->n_collections, v->n_users};
  for (int i = 0; i < 4; i++)
    if (v->counts[i] >= 0 && (size_t)v->counts[i] != found[i])
      return fail(err, errlen, "%s: field \"counts.%s\": says %lld but the directory holds %zu",
                  V1_MANIFEST, COUNT_NAMES[i], v->counts[i], found[i]);
  return AKIDB_OK;
}

/* --------------------------------------------------------------- loading -- */

typedef int (*parse_fn)(v1_data_t *v, const char *rel, void *item, char *err, size_t errlen);

/* Parses every file of a folder into a calloc'd array of items. */
static int load_folder(v1_data_t *v, const char *sub, bool required, size_t item_size,
                       parse_fn parse, void **items, size_t *n, char *err, size_t errlen) {
  char **names;
  size_t count;
  int rc = list_folder(v, sub, required, &names, &count, err, errlen);
  if (rc) return rc;
  *items = count ? calloc(count, item_size) : NULL;
  if (count && !*items) rc = fail(err, errlen, "out of memory");
  for (size_t i = 0; !rc && i < count; i++) {
    rc = parse(v, names[i], (char *)*items + i * item_size, err, errlen);
    *n = i + 1;
  }
  free_names(names, count);
  return rc;
}

static int parse_tenant_fn(v1_data_t *v, const char *rel, void *item, char *err, size_t errlen) {
  return parse_tenant(v, rel, item, err, errlen);
}
static int parse_database_fn(v1_data_t *v, const char *rel, void *item, char *err, size_t errlen) {
  return parse_database(v, rel, item, err, errlen);
}
static int parse_collection_fn(v1_data_t *v, const char *rel, void *item, char *err,
                               size_t errlen) {
  return parse_collection(v, rel, item, err, errlen);
}

static void v1_free(v1_data_t *v) {
  for (size_t i = 0; i < v->n_tenants; i++) free(v->tenants[i].users);
  free(v->tenants);
  free(v->databases);
  free(v->collections);
  EVP_MD_CTX_free(v->fingerprint_ctx);
  memset(v, 0, sizeof *v);
}

static int v1_load(const char *dir, v1_data_t *v, char *err, size_t errlen) {
  memset(v, 0, sizeof *v);
  if (!realpath(dir, v->dir))
    return fail(err, errlen, "%s: cannot open the v1 data directory: %s", dir, strerror(errno));
  struct stat st;
  if (stat(v->dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return fail(err, errlen, "%s: is not a directory", dir);
  v->fingerprint_ctx = EVP_MD_CTX_new();
  if (!v->fingerprint_ctx || !EVP_DigestInit_ex(v->fingerprint_ctx, EVP_sha256(), NULL))
    return fail(err, errlen, "SHA-256 is not available");
  void *items = NULL;
  int rc = parse_manifest(v, err, errlen);
  if (!rc) {
    rc = load_folder(v, "tenants", true, sizeof(v1_tenant_t), parse_tenant_fn, &items,
                     &v->n_tenants, err, errlen);
    v->tenants = items;
  }
  if (!rc) {
    items = NULL;
    rc = load_folder(v, "databases", false, sizeof(v1_database_t), parse_database_fn, &items,
                     &v->n_databases, err, errlen);
    v->databases = items;
  }
  if (!rc) {
    items = NULL;
    rc = load_folder(v, "collections", false, sizeof(v1_collection_t), parse_collection_fn, &items,
                     &v->n_collections, err, errlen);
    v->collections = items;
  }
  if (!rc) rc = validate_tenants(v, err, errlen);
  if (!rc) rc = validate_databases(v, err, errlen);
  if (!rc) rc = validate_collections(v, err, errlen);
  if (!rc) rc = validate_counts(v, err, errlen);
  if (!rc) {
    unsigned char d[32];
    unsigned n = 0;
    EVP_DigestFinal_ex(v->fingerprint_ctx, d, &n);
    for (int i = 0; i < 32; i++) snprintf(v->fingerprint + 2 * i, 3, "%02x", d[i]);
  }
  return rc;
}

/* ------------------------------------------------------------- progress -- */

typedef struct {
  bool tty;
  size_t total, done;
  int last;
} progress_t;

static void progress_step(progress_t *p) {
  p->done++;
  if (!p->total) return;
  int pct = (int)(p->done * 100 / p->total);
  if (p->tty) {
    if (pct == p->last && p->done != p->total) return;
    int width = 40, fill = pct * width / 100;
    fprintf(stderr, "\r  [%.*s%*s] %3d%%  %zu/%zu records", fill,
            "########################################", width - fill, "", pct, p->done, p->total);
    if (p->done == p->total) fputc('\n', stderr);
  } else {
    if (pct / 10 == p->last / 10 && p->done != p->total) return;
    fprintf(stderr, "akidb migrate: writing %3d%% (%zu/%zu records)\n", pct, p->done, p->total);
  }
  p->last = pct;
  fflush(stderr);
}

/* ------------------------------------------------------------- writing -- */

/* Prefixes a catalog error with the file at fault (the catalog's text names the field). */
static int write_fail(const char *file, const char *what, int rc, const char *cat_err, char *err,
                      size_t errlen) {
  fmt(err, errlen, "%s: %s refused by the catalog: %s (%s)", file, what, cat_err,
      akidb_err_name(rc));
  return rc;
}

static int write_tenant(akidb_catalog_t *cat, v1_tenant_t *t, const akidb_audit_ctx_t *ac,
                        progress_t *p, char *err, size_t errlen) {
  char msg[ERR_MAX];
  akidb_tenant_t out;
  int rc = akidb_tenant_create(cat, &t->tenant, ac, &out, msg, sizeof msg);
  if (rc) return write_fail(t->file, "tenant", rc, msg, err, errlen);
  t->tenant.id = out.id;
  for (size_t i = 0; i < t->n_users; i++) {
    v1_user_t *u = &t->users[i];
    u->user.tenant_id = out.id;
    rc = akidb_user_create(cat, &u->user, u->hash[0] ? u->hash : NULL, ac, NULL, msg, sizeof msg);
    if (rc) {
      char what[64];
      snprintf(what, sizeof what, "users[%zu]", i);
      return write_fail(t->file, what, rc, msg, err, errlen);
    }
  }
  progress_step(p);
  return AKIDB_OK;
}

static int write_all(akidb_catalog_t *cat, v1_data_t *v, const akidb_audit_ctx_t *ac, progress_t *p,
                     char *err, size_t errlen) {
  char msg[ERR_MAX];
  for (size_t i = 0; i < v->n_tenants; i++) {
    int rc = write_tenant(cat, &v->tenants[i], ac, p, err, errlen);
    if (rc) return rc;
  }
  for (size_t i = 0; i < v->n_databases; i++) {
    v1_database_t *d = &v->databases[i];
    d->database.tenant_id = v->tenants[d->tenant_ix].tenant.id;
    akidb_database_t out;
    int rc = akidb_database_create(cat, &d->database, ac, &out, msg, sizeof msg);
    if (rc) return write_fail(d->file, "database", rc, msg, err, errlen);
    d->database.id = out.id;
    progress_step(p);
  }
  for (size_t i = 0; i < v->n_collections; i++) {
    v1_collection_t *c = &v->collections[i];
    c->meta.database_id = v->databases[c->database_ix].database.id;
    int rc = akidb_collection_meta_create(cat, &c->meta, ac, NULL, msg, sizeof msg);
    if (rc) return write_fail(c->file, "collection", rc, msg, err, errlen);
    progress_step(p);
  }
  return AKIDB_OK;
}

/* Counts of rows, page by page (the counts check after writing). */
static int count_tenants(akidb_catalog_t *cat, size_t *n, char *err, size_t errlen) {
  akidb_page_t page = {.limit = AKIDB_LIST_LIMIT_MAX};
  *n = 0;
  for (;;) {
    akidb_tenant_list_t l;
    int rc = akidb_tenant_list(cat, &page, &l, err, errlen);
    if (rc) return rc;
    *n += l.count;
    page.after = l.next;
    page.has_after = true;
    bool more = l.has_more;
    akidb_tenant_list_free(&l);
    if (!more) return AKIDB_OK;
  }
}

static int count_children(akidb_catalog_t *cat, int kind, const akidb_uuid_t *parent, size_t *n,
                          char *err, size_t errlen) {
  akidb_page_t page = {.limit = AKIDB_LIST_LIMIT_MAX};
  *n = 0;
  for (;;) {
    bool more;
    int rc;
    if (kind == COUNT_DATABASES) {
      akidb_database_list_t l;
      rc = akidb_database_list(cat, parent, &page, &l, err, errlen);
      *n += l.count;
      page.after = l.next;
      more = l.has_more;
      akidb_database_list_free(&l);
    } else if (kind == COUNT_COLLECTIONS) {
      akidb_collection_meta_list_t l;
      rc = akidb_collection_meta_list(cat, parent, &page, &l, err, errlen);
      *n += l.count;
      page.after = l.next;
      more = l.has_more;
      akidb_collection_meta_list_free(&l);
    } else {
      akidb_user_list_t l;
      rc = akidb_user_list(cat, parent, &page, &l, err, errlen);
      *n += l.count;
      page.after = l.next;
      more = l.has_more;
      akidb_user_list_free(&l);
    }
    if (rc) return rc;
    page.has_after = true;
    if (!more) return AKIDB_OK;
  }
}

/* Reads back what was written, inside the transaction, and compares counts. */
static int verify_counts(akidb_catalog_t *cat, const v1_data_t *v, size_t tenants_before, char *err,
                         size_t errlen) {
  size_t n;
  char msg[ERR_MAX];
  int rc = count_tenants(cat, &n, msg, sizeof msg);
  if (rc) return fail(err, errlen, "counting tenants: %s", msg);
  if (n != tenants_before + v->n_tenants)
    return fail(err, errlen, "count check failed: the catalog holds %zu tenants, expected %zu", n,
                tenants_before + v->n_tenants);
  for (size_t i = 0; i < v->n_tenants; i++) {
    const v1_tenant_t *t = &v->tenants[i];
    size_t users, dbs;
    rc = count_children(cat, COUNT_USERS, &t->tenant.id, &users, msg, sizeof msg);
    if (!rc) rc = count_children(cat, COUNT_DATABASES, &t->tenant.id, &dbs, msg, sizeof msg);
    if (rc) return fail(err, errlen, "%s: counting: %s", t->file, msg);
    if (users != t->n_users || dbs != t->n_databases)
      return fail(
          err, errlen,
          "%s: count check failed: %zu users and %zu databases written, %zu and %zu expected",
          t->file, users, dbs, t->n_users, t->n_databases);
  }
  for (size_t i = 0; i < v->n_databases; i++) {
    const v1_database_t *d = &v->databases[i];
    rc = count_children(cat, COUNT_COLLECTIONS, &d->database.id, &n, msg, sizeof msg);
    if (rc) return fail(err, errlen, "%s: counting: %s", d->file, msg);
    if (n != d->n_collections)
      return fail(err, errlen, "%s: count check failed: %zu collections written, %zu expected",
                  d->file, n, d->n_collections);
  }
  return AKIDB_OK;
}

/* The record of this import, stored under IMPORT_META_KEY. */
static char *import_record(const v1_data_t *v) {
  json_t *o =
      json_pack("{s:s, s:s, s:i, s:s, s:I, s:I, s:I, s:I, s:I}", "source", v->dir, "fingerprint",
                v->fingerprint, "layout_version", V1_LAYOUT_VERSION, "akidb_version",
                v->akidb_version, "imported_at_ms", (json_int_t)time(NULL) * 1000, "tenants",
                (json_int_t)v->n_tenants, "databases", (json_int_t)v->n_databases, "collections",
                (json_int_t)v->n_collections, "users", (json_int_t)v->n_users);
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  return text;
}

static int record_import(akidb_catalog_t *cat, const v1_data_t *v, char *err, size_t errlen) {
  char msg[ERR_MAX];
  char *rec = import_record(v);
  if (!rec) return fail(err, errlen, "out of memory");
  int rc = akidb_catalog_meta_set(cat, IMPORT_META_KEY, rec, msg, sizeof msg);
  akidb_audit_entry_t *e = rc ? NULL : calloc(1, sizeof *e);
  if (!rc && !e) rc = AKIDB_ENOMEM;
  if (!rc) {
    e->action = AKIDB_AUDIT_CATALOG_IMPORT;
    e->outcome = AKIDB_AUDIT_SUCCESS;
    snprintf(e->actor, sizeof e->actor, "akidb-migrate");
    snprintf(e->target, sizeof e->target, "catalog");
    snprintf(e->details, sizeof e->details, "%s", rec);
    rc = akidb_audit_append(cat, e, NULL, msg, sizeof msg);
  }
  free(e);
  free(rec);
  if (rc) return fail(err, errlen, "recording the import: %s", msg);
  return AKIDB_OK;
}

/* ---------------------------------------------------------------- target -- */

/* 1: FILE holds the same import (nothing to do), 0: no import yet. */
static int check_previous_import(akidb_catalog_t *cat, const v1_data_t *v, const char *target,
                                 char *err, size_t errlen) {
  static char rec[65537];
  char msg[ERR_MAX];
  int rc = akidb_catalog_meta_get(cat, IMPORT_META_KEY, rec, sizeof rec, msg, sizeof msg);
  if (rc == AKIDB_ENOTFOUND) return 0;
  if (rc) {
    fail(err, errlen, "%s: reading the import record: %s", target, msg);
    return -1;
  }
  json_error_t je;
  json_t *o = json_loads(rec, 0, &je);
  const char *fp = o ? json_string_value(json_object_get(o, "fingerprint")) : NULL;
  const char *src = o ? json_string_value(json_object_get(o, "source")) : NULL;
  int same = fp && strcmp(fp, v->fingerprint) == 0;
  if (!same)
    fail(err, errlen,
         "%s already holds an import of another AkiDB 1.x directory (%s); a catalog takes one v1 "
         "import — "
         "use a new --v2-database",
         target, src ? src : "unknown source");
  json_decref(o);
  return same ? 1 : -1;
}

/* Tenants whose slug or id the catalog already has. */
static int check_conflicts(akidb_catalog_t *cat, const v1_data_t *v, const char *target, char *err,
                           size_t errlen) {
  for (size_t i = 0; i < v->n_tenants; i++) {
    const v1_tenant_t *t = &v->tenants[i];
    akidb_tenant_t existing;
    if (akidb_tenant_get_by_slug(cat, t->tenant.slug, &existing, NULL, 0) == AKIDB_OK)
      return fail(err, errlen, "%s: field \"slug\": a tenant with slug '%s' already exists in %s",
                  t->file, t->tenant.slug, target);
    if (!akidb_uuid_is_nil(&t->tenant.id) &&
        akidb_tenant_get(cat, &t->tenant.id, &existing, NULL, 0) == AKIDB_OK)
      return fail(err, errlen,
                  "%s: field \"id\": a tenant with this id already exists in %s (slug '%s')",
                  t->file, target, existing.slug);
  }
  return AKIDB_OK;
}

static bool file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* Removes a catalog this run created (and its WAL files). */
static void remove_catalog(const char *path) {
  const char *suffix[] = {"", "-wal", "-shm", "-journal"};
  for (int i = 0; i < 4; i++) {
    char p[PATH_MAX + 16];
    fmt(p, sizeof p, "%s%s", path, suffix[i]);
    unlink(p);
  }
}

/* Copies an existing catalog into `to` with SQLite's backup API, opening the
 * source read-only (immutable when no WAL is pending, so no side files are
 * made next to it). */
static int copy_catalog(const char *from, const char *to, char *err, size_t errlen) {
  char uri[PATH_MAX + 64], wal[PATH_MAX + 8];
  fmt(wal, sizeof wal, "%s-wal", from);
  char *abs = realpath(from, NULL);
  if (!abs) return fail(err, errlen, "%s: %s", from, strerror(errno));
  fmt(uri, sizeof uri, "file:%s?mode=ro%s", abs, file_exists(wal) ? "" : "&immutable=1");
  free(abs);
  sqlite3 *src = NULL, *dst = NULL;
  int rc = sqlite3_open_v2(uri, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_open_v2(to, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (!b)
      rc = sqlite3_errcode(dst);
    else {
      rc = sqlite3_backup_step(b, -1);
      sqlite3_backup_finish(b);
      rc = rc == SQLITE_DONE ? sqlite3_errcode(dst) : rc;
    }
  }
  if (rc != SQLITE_OK)
    fail(err, errlen, "%s: cannot read it for the dry run: %s", from,
         dst   ? sqlite3_errmsg(dst)
         : src ? sqlite3_errmsg(src)
               : sqlite3_errstr(rc));
  sqlite3_close(src);
  sqlite3_close(dst);
  return rc == SQLITE_OK ? AKIDB_OK : AKIDB_EIO;
}

/* ------------------------------------------------------------------ run -- */

typedef struct {
  const char *v1_dir;
  const char *target;
  bool dry_run;
} options_t;

typedef struct {
  int exit_code;
  bool nothing_to_do;
  double seconds;
} outcome_t;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The transaction: conflicts, writes, counts, record; commit or roll back. */
static int import(akidb_catalog_t *cat, v1_data_t *v, const char *target, char *err,
                  size_t errlen) {
  char msg[ERR_MAX];
  size_t before;
  int rc = count_tenants(cat, &before, msg, sizeof msg);
  if (rc) return fail(err, errlen, "%s: %s", target, msg);
  rc = check_conflicts(cat, v, target, err, errlen);
  if (rc) return rc;
  rc = akidb_catalog_begin(cat, msg, sizeof msg);
  if (rc) return fail(err, errlen, "%s: %s", target, msg);
  progress_t p = {isatty(STDERR_FILENO) == 1, v->n_tenants + v->n_databases + v->n_collections, 0,
                  -1};
  fprintf(stderr, "akidb migrate: writing %zu records in one transaction\n", p.total);
  akidb_audit_ctx_t ac = {NULL, "akidb-migrate", "migrate-v1-to-v2"};
  rc = write_all(cat, v, &ac, &p, err, errlen);
  if (!rc) rc = verify_counts(cat, v, before, err, errlen);
  if (!rc) rc = record_import(cat, v, err, errlen);
  if (rc) {
    if (p.tty && p.done) fputc('\n', stderr);
    akidb_catalog_rollback(cat);
    return rc;
  }
  rc = akidb_catalog_commit(cat, msg, sizeof msg);
  if (rc) return fail(err, errlen, "%s: commit failed: %s", target, msg);
  return AKIDB_OK;
}

/* Opens the catalog to write: the target, or a scratch copy for a dry run. */
static int open_catalog(const options_t *o, char *scratch_dir, size_t scratch_len,
                        akidb_catalog_t **cat, char *err, size_t errlen) {
  const char *path = o->target;
  char scratch[PATH_MAX + 32];
  if (o->dry_run) {
    const char *tmp = getenv("TMPDIR");
    fmt(scratch_dir, scratch_len, "%s/akidb-migrate-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(scratch_dir))
      return fail(err, errlen, "cannot create a scratch directory: %s", strerror(errno));
    fmt(scratch, sizeof scratch, "%s/catalog.db", scratch_dir);
    if (file_exists(o->target)) {
      int rc = copy_catalog(o->target, scratch, err, errlen);
      if (rc) return rc;
    }
    path = scratch;
  }
  char msg[ERR_MAX];
  int rc = akidb_catalog_open(path, NULL, cat, msg, sizeof msg);
  if (rc) return fail(err, errlen, "%s: %s", o->target, msg);
  return AKIDB_OK;
}

static void remove_scratch(const char *dir) {
  if (!dir[0]) return;
  char p[PATH_MAX + 32];
  fmt(p, sizeof p, "%s/catalog.db", dir);
  remove_catalog(p);
  rmdir(dir);
}

static void print_report(const options_t *o, const v1_data_t *v, const outcome_t *out) {
  const char *verb = o->dry_run ? "would migrate" : "migrated";
  if (out->nothing_to_do) {
    printf("akidb migrate: %s already holds this import of %s (fingerprint %.16s); nothing to do\n",
           o->target, v->dir, v->fingerprint);
    return;
  }
  printf("akidb migrate: %s AkiDB %s data (layout %d) from %s into %s:\n", verb,
         v->akidb_version[0] ? v->akidb_version : "1.x", V1_LAYOUT_VERSION, v->dir, o->target);
  printf("  tenants      %zu\n", v->n_tenants);
  printf("  databases    %zu\n", v->n_databases);
  printf("  collections  %zu\n", v->n_collections);
  printf("  users        %zu", v->n_users);
  if (v->n_users_without_password)
    printf(" (%zu without a password: they cannot log in until one is set)",
           v->n_users_without_password);
  printf("\n  fingerprint  %s\n", v->fingerprint);
  if (o->dry_run)
    printf(
        "dry run: validated and rehearsed on a scratch copy in %.2f s; nothing was written to %s\n",
        out->seconds, o->target);
  else
    printf("done in %.2f s (one transaction; row counts verified before commit)\n", out->seconds);
}

/* The last line of a refusal: what became of the target. */
static void report_untouched(const options_t *o, bool existed, bool wrote) {
  fprintf(stderr, "akidb migrate: %s; %s %s\n", wrote ? "rolled back" : "nothing was written",
          o->target,
          o->dry_run ? "was not touched (dry run)"
          : existed  ? "is unchanged"
                     : "was not created");
}

static int run(const options_t *o) {
  char err[ERR_MAX] = "", scratch_dir[PATH_MAX] = "";
  double t0 = now_s();
  v1_data_t v;
  fprintf(stderr, "akidb migrate: reading %s\n", o->v1_dir);
  int rc = v1_load(o->v1_dir, &v, err, sizeof err);
  bool existed = file_exists(o->target);
  if (rc) {
    fprintf(stderr, "akidb migrate: error: %s\n", err);
    report_untouched(o, existed, false);
    v1_free(&v);
    return 1;
  }
  fprintf(stderr,
          "akidb migrate: validated %zu tenants, %zu databases, %zu collections, %zu users\n",
          v.n_tenants, v.n_databases, v.n_collections, v.n_users);
  akidb_catalog_t *cat = NULL;
  outcome_t out = {0, false, 0};
  rc = open_catalog(o, scratch_dir, sizeof scratch_dir, &cat, err, sizeof err);
  if (!rc) {
    int prev = check_previous_import(cat, &v, o->target, err, sizeof err);
    if (prev < 0)
      rc = AKIDB_EEXIST;
    else if (prev == 1)
      out.nothing_to_do = true;
    else
      rc = import(cat, &v, o->target, err, sizeof err);
  }
  akidb_catalog_close(cat);
  if (rc && !o->dry_run && !existed) remove_catalog(o->target);
  remove_scratch(scratch_dir);
  out.seconds = now_s() - t0;
  if (rc) {
    fprintf(stderr, "akidb migrate: error: %s\n", err);
    report_untouched(o, existed, true);
    v1_free(&v);
    return 1;
  }
  print_report(o, &v, &out);
  v1_free(&v);
  return 0;
}

/* ------------------------------------------------------------ arguments -- */

static void usage(FILE *f) {
  fprintf(f, "usage: akidb migrate v1-to-v2 --v1-data-dir DIR --v2-database FILE [--dry-run]\n"
             "\n"
             "Imports an AkiDB 1.x data directory (tenants with their quotas and users,\n"
             "databases, collections) into the AkiDB 2 SQLite catalog in one transaction.\n"
             "The layout it reads (version 1) is defined in docs/migration-v1-to-v2.md.\n"
             "\n"
             "  --v1-data-dir DIR   the AkiDB 1.x data directory: akidb-v1.json, tenants/*.json,\n"
             "                      and optionally databases/*.json and collections/*.json.\n"
             "                      It is only read.\n"
             "  --v2-database FILE  the AkiDB 2 catalog to import into; created when absent.\n"
             "                      An existing catalog keeps its contents; the imported slugs\n"
             "                      and ids must be new to it.\n"
             "  --dry-run           read and validate everything, rehearse the import on a\n"
             "                      scratch copy of FILE and print what would be done; nothing\n"
             "                      is written to FILE (which is not created either).\n"
             "  -h, --help          print this text.\n"
             "\n"
             "Everything is validated before anything is written (types, ranges, unknown\n"
             "fields, unique slugs/ids/names, references, the counts in akidb-v1.json, quotas).\n"
             "Progress goes to stderr (a bar on a terminal, plain lines otherwise) and the\n"
             "final report to stdout. Running it again on a catalog that holds the same\n"
             "import does nothing; a catalog holding another v1 import is refused.\n"
             "\n"
             "Exit status: 0 migrated (or nothing to do); 1 refused: the message names the\n"
             "file and field at fault, and FILE is byte-for-byte as before (or absent if\n"
             "this run would have created it); 2 bad command line.\n");
}

/* Accepts "--flag VALUE" and "--flag=VALUE". */
static const char *flag_value(int argc, char **argv, int *i, const char *flag) {
  size_t n = strlen(flag);
  if (strncmp(argv[*i], flag, n) != 0) return NULL;
  if (argv[*i][n] == '=') return argv[*i] + n + 1;
  if (argv[*i][n] != '\0') return NULL;
  if (*i + 1 >= argc) return "";
  return argv[++*i];
}

static int parse_args(int argc, char **argv, options_t *o, bool *help) {
  for (int i = 2; i < argc; i++) {
    const char *v;
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
      *help = true;
    else if (strcmp(argv[i], "--dry-run") == 0)
      o->dry_run = true;
    else if ((v = flag_value(argc, argv, &i, "--v1-data-dir")))
      o->v1_dir = v;
    else if ((v = flag_value(argc, argv, &i, "--v2-database")))
      o->target = v;
    else {
      fprintf(stderr, "akidb migrate: unknown option '%s'\n", argv[i]);
      return -1;
    }
  }
  if (*help) return 0;
  if (!o->v1_dir || !*o->v1_dir || !o->target || !*o->target) {
    fprintf(stderr, "akidb migrate: --v1-data-dir DIR and --v2-database FILE are required\n");
    return -1;
  }
  return 0;
}

int cli_migrate(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "v1-to-v2") != 0) {
    fprintf(stderr, "akidb migrate: unknown migration '%s' (the one there is: v1-to-v2)\n\n",
            argv[1]);
    usage(stderr);
    return 2;
  }
  options_t o = {NULL, NULL, false};
  bool help = false;
  if (parse_args(argc, argv, &o, &help)) {
    fprintf(stderr, "\n");
    usage(stderr);
    return 2;
  }
  if (help) {
    usage(stdout);
    return 0;
  }
  return run(&o);
}
