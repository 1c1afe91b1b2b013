/*
 * collection.c — owns collections: create (field ranges, the parent
 * database's and tenant's state, the tenant's max_collections quota, name
 * unique in the database), read (by id, by name in a database), list (per
 * database or all), update of the mutable fields (name, ef_search,
 * embedding configuration, tier and tier policy) and delete.
 *
 * Locking and durability: as tenant.c. The quota check and the insert run
 * in the same write scope on the single writer, so two concurrent creates
 * cannot both pass a check for the last free slot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/text.h"
#include "catalog/catalog_internal.h"

#define COLLECTION_COLUMNS                                                                         \
  "c.id, c.database_id, d.tenant_id, c.name, c.dimension, c.metric, c.hnsw_m, "                    \
  "c.hnsw_ef_construction, c.hnsw_ef_search, c.embedding, c.tier, c.tier_pinned, "                 \
  "c.warm_after_s, c.cold_after_s, c.created_at, c.updated_at, c.cold_manifest, c.bm25_k1, "        \
  "c.bm25_b "                                                                                      \
  "FROM collections c JOIN databases d ON d.id = c.database_id"

static void collection_row(sqlite3_stmt *s, void *item) {
  akidb_collection_meta_t *c = item;
  char word[32];
  cat_col_uuid(s, 0, &c->id);
  cat_col_uuid(s, 1, &c->database_id);
  cat_col_uuid(s, 2, &c->tenant_id);
  cat_col_text(s, 3, c->name, sizeof c->name);
  c->dimension = (uint32_t)sqlite3_column_int64(s, 4);
  cat_col_text(s, 5, word, sizeof word);
  akidb_metric_parse(word, &c->metric);
  c->hnsw_m = (uint32_t)sqlite3_column_int64(s, 6);
  c->hnsw_ef_construction = (uint32_t)sqlite3_column_int64(s, 7);
  c->hnsw_ef_search = (uint32_t)sqlite3_column_int64(s, 8);
  cat_col_text(s, 9, c->embedding_json, sizeof c->embedding_json);
  cat_col_text(s, 10, word, sizeof word);
  akidb_tier_parse(word, &c->tier);
  c->tier_policy.pinned = sqlite3_column_int64(s, 11) != 0;
  c->tier_policy.warm_after_s = (uint32_t)sqlite3_column_int64(s, 12);
  c->tier_policy.cold_after_s = (uint32_t)sqlite3_column_int64(s, 13);
  c->created_at_ms = sqlite3_column_int64(s, 14);
  c->updated_at_ms = sqlite3_column_int64(s, 15);
  cat_col_text(s, 16, c->cold_manifest, sizeof c->cold_manifest);
  c->bm25_k1 = sqlite3_column_double(s, 17);
  c->bm25_b = sqlite3_column_double(s, 18);
}

static const char SQL_BY_ID[] = "SELECT " COLLECTION_COLUMNS " WHERE c.id = ?1";
static const char SQL_BY_NAME[] =
    "SELECT " COLLECTION_COLUMNS " WHERE c.database_id = ?1 AND c.name = ?2";

static int read_by_id(catalog_conn_t *c, const akidb_uuid_t *id, akidb_collection_meta_t *out,
                      char *err, size_t errlen) {
  return cat_get_one(c, SQL_BY_ID, id, NULL, collection_row, out, sizeof *out, "collection", err,
                     errlen);
}

void akidb_collection_meta_defaults(akidb_collection_meta_t *c) {
  c->hnsw_m = AKIDB_HNSW_M_DEFAULT;
  c->hnsw_ef_construction = AKIDB_HNSW_EF_CONSTRUCTION_DEFAULT;
  c->hnsw_ef_search = AKIDB_HNSW_EF_SEARCH_DEFAULT;
  c->embedding_json[0] = '\0';
  c->bm25_k1 = AKIDB_TEXT_BM25_K1_DEFAULT;
  c->bm25_b = AKIDB_TEXT_BM25_B_DEFAULT;
  c->tier = AKIDB_TIER_HOT;
  memset(&c->tier_policy, 0, sizeof c->tier_policy);
}

/* "collection/<tenant slug>/<database>/<name>" */
static void collection_target(catalog_conn_t *c, const akidb_collection_meta_t *col, char *out,
                              size_t size) {
  static const char SQL[] = "SELECT name FROM databases WHERE id = ?1";
  char slug[AKIDB_SLUG_MAX + 1], db[AKIDB_OBJECT_NAME_MAX + 1] = "";
  cat_tenant_slug(c, &col->tenant_id, slug, sizeof slug);
  sqlite3_stmt *s = cat_stmt(c, SQL, NULL, 0);
  if (s) {
    cat_bind_uuid(s, 1, &col->database_id);
    if (sqlite3_step(s) == SQLITE_ROW) cat_col_text(s, 0, db, sizeof db);
    sqlite3_reset(s);
  }
  snprintf(out, size, "collection/%s/%s/%s", slug, db, col->name);
}

/* ---------------------------------------------------------- validation -- */

static int check_range(const char *field, uint32_t v, uint32_t lo, uint32_t hi, char *err,
                       size_t errlen) {
  if (v < lo || v > hi)
    return cat_fail(err, errlen, AKIDB_EINVAL, "%s must be %u..%u (got %u)", field, lo, hi, v);
  return AKIDB_OK;
}

/* The embedding configuration is "" or a JSON object (checked by SQLite). */
static int check_embedding(catalog_conn_t *c, const char *json, char *err, size_t errlen) {
  static const char SQL[] =
      "SELECT CASE WHEN json_valid(?1) THEN json_type(?1) = 'object' ELSE 0 END";
  if (!json[0]) return AKIDB_OK;
  if (strlen(json) > AKIDB_EMBEDDING_JSON_MAX)
    return cat_fail(err, errlen, AKIDB_EINVAL, "embedding_json must be at most %u bytes",
                    AKIDB_EMBEDDING_JSON_MAX);
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) return AKIDB_EIO;
  cat_bind_text(s, 1, json);
  int st = sqlite3_step(s);
  bool ok = st == SQLITE_ROW && sqlite3_column_int(s, 0) == 1;
  sqlite3_reset(s);
  if (st != SQLITE_ROW) return cat_sqlite_fail(c->db, st, "checking embedding_json", err, errlen);
  if (!ok) return cat_fail(err, errlen, AKIDB_EINVAL, "embedding_json must be a JSON object");
  return AKIDB_OK;
}

static int check_tier(akidb_tier_t t, char *err, size_t errlen) {
  if ((int)t < 0 || t > AKIDB_TIER_COLD)
    return cat_fail(err, errlen, AKIDB_EINVAL, "tier %d is not hot, warm or cold", (int)t);
  return AKIDB_OK;
}

static int check_fields(const akidb_collection_meta_t *in, char *err, size_t errlen) {
  if (!memchr(in->name, '\0', sizeof in->name) ||
      !memchr(in->embedding_json, '\0', sizeof in->embedding_json))
    return cat_fail(err, errlen, AKIDB_EINVAL,
                    "collection name or embedding_json is not NUL-terminated");
  int rc = akidb_check_object_name(in->name, "name", err, errlen);
  if (!rc) rc = check_range("dimension", in->dimension, AKIDB_DIM_MIN, AKIDB_DIM_MAX, err, errlen);
  if (!rc && in->metric != AKIDB_METRIC_L2 && in->metric != AKIDB_METRIC_COSINE &&
      in->metric != AKIDB_METRIC_DOT)
    rc = cat_fail(err, errlen, AKIDB_EINVAL, "metric %d is not cosine, l2 or dot", (int)in->metric);
  if (!rc) rc = check_range("hnsw_m", in->hnsw_m, AKIDB_HNSW_M_MIN, AKIDB_HNSW_M_MAX, err, errlen);
  if (!rc)
    rc = check_range("hnsw_ef_construction", in->hnsw_ef_construction,
                     AKIDB_HNSW_EF_CONSTRUCTION_MIN, AKIDB_HNSW_EF_CONSTRUCTION_MAX, err, errlen);
  if (!rc && in->hnsw_ef_construction < in->hnsw_m)
    rc = cat_fail(err, errlen, AKIDB_EINVAL,
                  "hnsw_ef_construction (%u) must be at least hnsw_m (%u)",
                  in->hnsw_ef_construction, in->hnsw_m);
  if (!rc)
    rc = check_range("hnsw_ef_search", in->hnsw_ef_search, AKIDB_HNSW_EF_SEARCH_MIN,
                     AKIDB_HNSW_EF_SEARCH_MAX, err, errlen);
  if (!rc && !(in->bm25_k1 >= AKIDB_TEXT_BM25_K1_MIN && in->bm25_k1 <= AKIDB_TEXT_BM25_K1_MAX))
    rc = cat_fail(err, errlen, AKIDB_EINVAL, "bm25_k1 is %g; it must be between %g and %g",
                  in->bm25_k1, AKIDB_TEXT_BM25_K1_MIN, AKIDB_TEXT_BM25_K1_MAX);
  if (!rc && !(in->bm25_b >= AKIDB_TEXT_BM25_B_MIN && in->bm25_b <= AKIDB_TEXT_BM25_B_MAX))
    rc = cat_fail(err, errlen, AKIDB_EINVAL, "bm25_b is %g; it must be between %g and %g",
                  in->bm25_b, AKIDB_TEXT_BM25_B_MIN, AKIDB_TEXT_BM25_B_MAX);
  if (!rc) rc = check_tier(in->tier, err, errlen);
  if (!rc && in->created_at_ms < 0)
    rc = cat_fail(err, errlen, AKIDB_EINVAL, "created_at_ms must not be negative");
  return rc;
}

/* The parent database accepts collections and the tenant's quota has room. */
static int check_parent(catalog_conn_t *c, const akidb_uuid_t *database_id, char *err,
                        size_t errlen) {
  static const char SQL[] =
      "SELECT d.name, d.state, t.id, t.slug, t.status, t.max_collections FROM databases d "
      "JOIN tenants t ON t.id = d.tenant_id WHERE d.id = ?1";
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) return AKIDB_EIO;
  cat_bind_uuid(s, 1, database_id);
  int st = sqlite3_step(s);
  char db[AKIDB_OBJECT_NAME_MAX + 1] = "", state[32] = "", slug[AKIDB_SLUG_MAX + 1] = "",
                                  status[32] = "";
  akidb_uuid_t tenant;
  int64_t max = 0;
  if (st == SQLITE_ROW) {
    cat_col_text(s, 0, db, sizeof db);
    cat_col_text(s, 1, state, sizeof state);
    cat_col_uuid(s, 2, &tenant);
    cat_col_text(s, 3, slug, sizeof slug);
    cat_col_text(s, 4, status, sizeof status);
    max = sqlite3_column_int64(s, 5);
  }
  sqlite3_reset(s);
  if (st == SQLITE_DONE) {
    char text[AKIDB_UUID_STR_LEN + 1];
    akidb_uuid_format(database_id, text);
    return cat_fail(err, errlen, AKIDB_ENOTFOUND, "database %s not found", text);
  }
  if (st != SQLITE_ROW) return cat_sqlite_fail(c->db, st, "reading the database", err, errlen);
  if (strcmp(state, "deleting") == 0)
    return cat_fail(err, errlen, AKIDB_ECONFLICT,
                    "database '%s' is being deleted and accepts no new collections", db);
  if (strcmp(status, "decommissioned") == 0)
    return cat_fail(err, errlen, AKIDB_ECONFLICT,
                    "tenant '%s' is decommissioned and accepts no new collections", slug);
  if (max == 0) return AKIDB_OK;
  uint64_t have;
  int rc = cat_count_tenant_collections(c, &tenant, &have, err, errlen);
  if (rc) return rc;
  if (have + 1 > (uint64_t)max)
    return cat_fail(err, errlen, AKIDB_EQUOTA,
                    "quota max_collections exceeded for tenant '%s': limit %lld, requested %llu",
                    slug, (long long)max, (unsigned long long)(have + 1));
  return AKIDB_OK;
}

/* -------------------------------------------------------------- create -- */

static int insert_collection(catalog_conn_t *c, const akidb_collection_meta_t *in,
                             const akidb_uuid_t *id, char *err, size_t errlen) {
  static const char SQL[] =
      "INSERT INTO collections(id, database_id, name, dimension, metric, hnsw_m, "
      "hnsw_ef_construction, hnsw_ef_search, embedding, tier, tier_pinned, warm_after_s, "
      "cold_after_s, created_at, bm25_k1, bm25_b) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
      "?10, ?11, ?12, ?13, coalesce(?14, " CATALOG_SQL_NOW "), ?15, ?16)";
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) return AKIDB_EIO;
  cat_bind_uuid(s, 1, id);
  cat_bind_uuid(s, 2, &in->database_id);
  cat_bind_text(s, 3, in->name);
  sqlite3_bind_int64(s, 4, in->dimension);
  cat_bind_text(s, 5, akidb_metric_name(in->metric));
  sqlite3_bind_int64(s, 6, in->hnsw_m);
  sqlite3_bind_int64(s, 7, in->hnsw_ef_construction);
  sqlite3_bind_int64(s, 8, in->hnsw_ef_search);
  cat_bind_text(s, 9, in->embedding_json[0] ? in->embedding_json : NULL);
  cat_bind_text(s, 10, akidb_tier_name(in->tier));
  sqlite3_bind_int(s, 11, in->tier_policy.pinned ? 1 : 0);
  sqlite3_bind_int64(s, 12, in->tier_policy.warm_after_s);
  sqlite3_bind_int64(s, 13, in->tier_policy.cold_after_s);
  if (in->created_at_ms) sqlite3_bind_int64(s, 14, in->created_at_ms);
  sqlite3_bind_double(s, 15, in->bm25_k1);
  sqlite3_bind_double(s, 16, in->bm25_b);
  int st = cat_step_done(s);
  if (cat_is_unique_violation(st)) {
    if (strstr(sqlite3_errmsg(c->db), "collections.name"))
      return cat_fail(err, errlen, AKIDB_EEXIST,
                      "a collection named '%s' already exists in this database", in->name);
    return cat_fail(err, errlen, AKIDB_EEXIST, "a collection with this id already exists");
  }
  if (st != SQLITE_DONE) return cat_sqlite_fail(c->db, st, "inserting the collection", err, errlen);
  return AKIDB_OK;
}

static void json_policy(cat_json_t *j, const char *key, const akidb_tier_policy_t *p) {
  char buf[128];
  snprintf(buf, sizeof buf, "{\"pinned\":%s,\"warm_after_s\":%u,\"cold_after_s\":%u}",
           p->pinned ? "true" : "false", p->warm_after_s, p->cold_after_s);
  cat_json_raw(j, key, buf);
}

static int audit_create(catalog_conn_t *c, const akidb_audit_ctx_t *audit,
                        const akidb_collection_meta_t *row, char *err, size_t errlen) {
  cat_json_t j;
  char target[AKIDB_AUDIT_TARGET_MAX + 1];
  cat_json_begin(&j);
  cat_json_uuid(&j, "id", &row->id);
  cat_json_int(&j, "dimension", row->dimension);
  cat_json_str(&j, "metric", akidb_metric_name(row->metric));
  cat_json_int(&j, "hnsw_m", row->hnsw_m);
  cat_json_int(&j, "hnsw_ef_construction", row->hnsw_ef_construction);
  cat_json_int(&j, "hnsw_ef_search", row->hnsw_ef_search);
  cat_json_str(&j, "tier", akidb_tier_name(row->tier));
  collection_target(c, row, target, sizeof target);
  return cat_audit_write(c, audit, &row->tenant_id, AKIDB_AUDIT_COLLECTION_CREATE, target,
                         AKIDB_AUDIT_SUCCESS, cat_json_end(&j), err, errlen);
}

int akidb_collection_meta_create(akidb_catalog_t *cat, const akidb_collection_meta_t *in,
                                 const akidb_audit_ctx_t *audit, akidb_collection_meta_t *out,
                                 char *err, size_t errlen) {
  if (!in) return cat_fail(err, errlen, AKIDB_EINVAL, "collection is NULL");
  int rc = check_fields(in, err, errlen);
  akidb_uuid_t id;
  if (!rc) rc = cat_new_id(&in->id, &id, err, errlen);
  if (rc) return rc;
  catalog_conn_t *c;
  rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  akidb_collection_meta_t *row = malloc(sizeof *row);
  if (!row) rc = cat_fail(err, errlen, AKIDB_ENOMEM, "out of memory");
  if (!rc) rc = check_embedding(c, in->embedding_json, err, errlen);
  if (!rc) rc = check_parent(c, &in->database_id, err, errlen);
  if (!rc) rc = insert_collection(c, in, &id, err, errlen);
  if (!rc) rc = read_by_id(c, &id, row, err, errlen);
  if (!rc && audit) rc = audit_create(c, audit, row, err, errlen);
  rc = cat_write_end(cat, rc, err, errlen);
  if (!rc && out) *out = *row;
  free(row);
  return rc;
}

/* ---------------------------------------------------------------- read -- */

int akidb_collection_meta_get(akidb_catalog_t *cat, const akidb_uuid_t *id,
                              akidb_collection_meta_t *out, char *err, size_t errlen) {
  if (!id || !out) return cat_fail(err, errlen, AKIDB_EINVAL, "collection id is NULL");
  catalog_conn_t *c = cat_read_begin(cat);
  int rc = read_by_id(c, id, out, err, errlen);
  cat_read_end(cat, c);
  return rc;
}

int akidb_collection_meta_get_by_name(akidb_catalog_t *cat, const akidb_uuid_t *database_id,
                                      const char *name, akidb_collection_meta_t *out, char *err,
                                      size_t errlen) {
  if (!database_id || !name || !out)
    return cat_fail(err, errlen, AKIDB_EINVAL, "database id or collection name is NULL");
  catalog_conn_t *c = cat_read_begin(cat);
  int rc = cat_get_one(c, SQL_BY_NAME, database_id, name, collection_row, out, sizeof *out,
                       "collection", err, errlen);
  cat_read_end(cat, c);
  return rc;
}

int akidb_collection_meta_list(akidb_catalog_t *cat, const akidb_uuid_t *database_id,
                               const akidb_page_t *page, akidb_collection_meta_list_t *out,
                               char *err, size_t errlen) {
  static const char SQL_DB_FIRST[] =
      "SELECT " COLLECTION_COLUMNS " WHERE c.database_id = ?1 ORDER BY c.id LIMIT ?3";
  static const char SQL_DB_AFTER[] =
      "SELECT " COLLECTION_COLUMNS " WHERE c.database_id = ?1 AND c.id > ?2 "
      "ORDER BY c.id LIMIT ?3";
  static const char SQL_ALL_FIRST[] = "SELECT " COLLECTION_COLUMNS " ORDER BY c.id LIMIT ?3";
  static const char SQL_ALL_AFTER[] =
      "SELECT " COLLECTION_COLUMNS " WHERE c.id > ?2 ORDER BY c.id LIMIT ?3";
  memset(out, 0, sizeof *out);
  void *items;
  int rc = cat_list_run(cat, database_id ? SQL_DB_FIRST : SQL_ALL_FIRST,
                        database_id ? SQL_DB_AFTER : SQL_ALL_AFTER, database_id, page,
                        sizeof(akidb_collection_meta_t), collection_row, &items, &out->count,
                        &out->has_more, &out->next, err, errlen);
  out->items = items;
  return rc;
}

void akidb_collection_meta_list_free(akidb_collection_meta_list_t *list) {
  if (!list) return;
  free(list->items);
  memset(list, 0, sizeof *list);
}

/* -------------------------------------------------------------- update -- */

static bool policy_equal(const akidb_tier_policy_t *a, const akidb_tier_policy_t *b) {
  return a->pinned == b->pinned && a->warm_after_s == b->warm_after_s &&
         a->cold_after_s == b->cold_after_s;
}

static int plan_update(catalog_conn_t *c, const akidb_collection_meta_t *cur,
                       const akidb_collection_meta_update_t *upd, akidb_collection_meta_t *next,
                       char *err, size_t errlen) {
  *next = *cur;
  int rc = AKIDB_OK;
  if (upd->name) {
    rc = akidb_check_object_name(upd->name, "name", err, errlen);
    if (rc) return rc;
    snprintf(next->name, sizeof next->name, "%s", upd->name);
  }
  if (upd->set_ef_search) {
    rc = check_range("hnsw_ef_search", upd->ef_search, AKIDB_HNSW_EF_SEARCH_MIN,
                     AKIDB_HNSW_EF_SEARCH_MAX, err, errlen);
    if (rc) return rc;
    next->hnsw_ef_search = upd->ef_search;
  }
  if (upd->embedding_json) {
    if (strlen(upd->embedding_json) > AKIDB_EMBEDDING_JSON_MAX)
      return cat_fail(err, errlen, AKIDB_EINVAL, "embedding_json must be at most %u bytes",
                      AKIDB_EMBEDDING_JSON_MAX);
    rc = check_embedding(c, upd->embedding_json, err, errlen);
    if (rc) return rc;
    snprintf(next->embedding_json, sizeof next->embedding_json, "%s", upd->embedding_json);
  }
  if (upd->set_tier) {
    rc = check_tier(upd->tier, err, errlen);
    if (rc) return rc;
    next->tier = upd->tier;
  }
  if (upd->tier_policy) next->tier_policy = *upd->tier_policy;
  return AKIDB_OK;
}

static int write_update(catalog_conn_t *c, const akidb_collection_meta_t *n, char *err,
                        size_t errlen) {
  static const char SQL[] =
      "UPDATE collections SET name = ?2, hnsw_ef_search = ?3, embedding = ?4, tier = ?5, "
      "tier_pinned = ?6, warm_after_s = ?7, cold_after_s = ?8, " CATALOG_SQL_TOUCH " WHERE id = ?1";
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) return AKIDB_EIO;
  cat_bind_uuid(s, 1, &n->id);
  cat_bind_text(s, 2, n->name);
  sqlite3_bind_int64(s, 3, n->hnsw_ef_search);
  cat_bind_text(s, 4, n->embedding_json[0] ? n->embedding_json : NULL);
  cat_bind_text(s, 5, akidb_tier_name(n->tier));
  sqlite3_bind_int(s, 6, n->tier_policy.pinned ? 1 : 0);
  sqlite3_bind_int64(s, 7, n->tier_policy.warm_after_s);
  sqlite3_bind_int64(s, 8, n->tier_policy.cold_after_s);
  int st = cat_step_done(s);
  if (cat_is_unique_violation(st))
    return cat_fail(err, errlen, AKIDB_EEXIST,
                    "a collection named '%s' already exists in this database", n->name);
  if (st != SQLITE_DONE) return cat_sqlite_fail(c->db, st, "updating the collection", err, errlen);
  return AKIDB_OK;
}

static int audit_update(catalog_conn_t *c, const akidb_audit_ctx_t *audit,
                        const akidb_collection_meta_t *cur, const akidb_collection_meta_t *next,
                        char *err, size_t errlen) {
  char target[AKIDB_AUDIT_TARGET_MAX + 1];
  collection_target(c, next, target, sizeof target);
  cat_json_t j;
  int rc = AKIDB_OK;
  bool other = strcmp(cur->name, next->name) != 0 || cur->hnsw_ef_search != next->hnsw_ef_search ||
               strcmp(cur->embedding_json, next->embedding_json) != 0;
  if (other) {
    cat_json_begin(&j);
    cat_json_uuid(&j, "id", &cur->id);
    if (strcmp(cur->name, next->name) != 0) {
      cat_json_str(&j, "old_name", cur->name);
      cat_json_str(&j, "name", next->name);
    }
    if (cur->hnsw_ef_search != next->hnsw_ef_search)
      cat_json_int(&j, "hnsw_ef_search", next->hnsw_ef_search);
    if (strcmp(cur->embedding_json, next->embedding_json) != 0)
      cat_json_raw(&j, "embedding", next->embedding_json[0] ? next->embedding_json : "null");
    rc = cat_audit_write(c, audit, &cur->tenant_id, AKIDB_AUDIT_COLLECTION_UPDATE, target,
                         AKIDB_AUDIT_SUCCESS, cat_json_end(&j), err, errlen);
  }
  if (!rc && (cur->tier != next->tier || !policy_equal(&cur->tier_policy, &next->tier_policy))) {
    cat_json_begin(&j);
    cat_json_uuid(&j, "id", &cur->id);
    cat_json_str(&j, "from", akidb_tier_name(cur->tier));
    cat_json_str(&j, "to", akidb_tier_name(next->tier));
    json_policy(&j, "policy", &next->tier_policy);
    rc = cat_audit_write(c, audit, &cur->tenant_id, AKIDB_AUDIT_COLLECTION_TIER_CHANGE, target,
                         AKIDB_AUDIT_SUCCESS, cat_json_end(&j), err, errlen);
  }
  return rc;
}

static bool collection_changed(const akidb_collection_meta_t *a, const akidb_collection_meta_t *b) {
  return strcmp(a->name, b->name) != 0 || a->hnsw_ef_search != b->hnsw_ef_search ||
         strcmp(a->embedding_json, b->embedding_json) != 0 || a->tier != b->tier ||
         !policy_equal(&a->tier_policy, &b->tier_policy);
}

int akidb_collection_meta_update(akidb_catalog_t *cat, const akidb_uuid_t *id,
                                 const akidb_collection_meta_update_t *upd,
                                 const akidb_audit_ctx_t *audit, akidb_collection_meta_t *out,
                                 char *err, size_t errlen) {
  if (!id || !upd) return cat_fail(err, errlen, AKIDB_EINVAL, "collection id or update is NULL");
  akidb_collection_meta_t *cur = malloc(2 * sizeof *cur);
  if (!cur) return cat_fail(err, errlen, AKIDB_ENOMEM, "out of memory");
  akidb_collection_meta_t *next = cur + 1;
  catalog_conn_t *c;
  int rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) {
    free(cur);
    return rc;
  }
  rc = read_by_id(c, id, cur, err, errlen);
  if (!rc) rc = plan_update(c, cur, upd, next, err, errlen);
  if (!rc && collection_changed(cur, next)) {
    rc = write_update(c, next, err, errlen);
    if (!rc && audit) rc = audit_update(c, audit, cur, next, err, errlen);
    if (!rc) rc = read_by_id(c, id, next, err, errlen);
  }
  rc = cat_write_end(cat, rc, err, errlen);
  if (!rc && out) *out = *next;
  free(cur);
  return rc;
}

/* -------------------------------------------------------------- delete -- */

int akidb_collection_meta_delete(akidb_catalog_t *cat, const akidb_uuid_t *id,
                                 const akidb_audit_ctx_t *audit, akidb_uuid_t **removed,
                                 size_t *n_removed, char *err, size_t errlen) {
  static const char SQL_DELETE[] = "DELETE FROM collections WHERE id = ?1";
  if (removed) *removed = NULL;
  if (n_removed) *n_removed = 0;
  if (!id) return cat_fail(err, errlen, AKIDB_EINVAL, "collection id is NULL");
  akidb_collection_meta_t *cur = malloc(sizeof *cur);
  akidb_uuid_t *one = removed ? malloc(sizeof *one) : NULL;
  catalog_conn_t *c;
  int rc = !cur || (removed && !one) ? cat_fail(err, errlen, AKIDB_ENOMEM, "out of memory")
                                     : cat_write_begin(cat, &c, err, errlen);
  if (rc) {
    free(cur);
    free(one);
    return rc;
  }
  char target[AKIDB_AUDIT_TARGET_MAX + 1] = "";
  rc = read_by_id(c, id, cur, err, errlen);
  if (!rc) {
    collection_target(c, cur, target, sizeof target);
    rc = cat_exec_by_id(c, SQL_DELETE, id, "deleting the collection", err, errlen);
  }
  if (!rc && audit) {
    cat_json_t j;
    cat_json_begin(&j);
    cat_json_uuid(&j, "id", id);
    rc = cat_audit_write(c, audit, &cur->tenant_id, AKIDB_AUDIT_COLLECTION_DELETE, target,
                         AKIDB_AUDIT_SUCCESS, cat_json_end(&j), err, errlen);
  }
  rc = cat_write_end(cat, rc, err, errlen);
  free(cur);
  if (rc || !removed) {
    free(one);
    return rc;
  }
  *one = *id;
  *removed = one;
  if (n_removed) *n_removed = 1;
  return AKIDB_OK;
}

/* ---------------------------------------------------------------- cold -- */

int akidb_collection_meta_set_cold(akidb_catalog_t *cat, const akidb_uuid_t *id,
                                   const char *manifest_key, char *err, size_t errlen) {
  static const char SQL[] = "UPDATE collections SET cold_manifest = ?2 WHERE id = ?1";
  if (!id) return cat_fail(err, errlen, AKIDB_EINVAL, "collection id is NULL");
  if (manifest_key && (!manifest_key[0] || strlen(manifest_key) > AKIDB_OBJECT_KEY_MAX))
    return cat_fail(err, errlen, AKIDB_EINVAL, "the manifest key must be 1..%u bytes",
                    AKIDB_OBJECT_KEY_MAX);
  catalog_conn_t *c;
  int rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) rc = AKIDB_EIO;
  if (!rc) {
    cat_bind_uuid(s, 1, id);
    cat_bind_text(s, 2, manifest_key);
    int st = cat_step_done(s);
    if (st != SQLITE_DONE) rc = cat_sqlite_fail(c->db, st, "marking the collection cold", err, errlen);
    else if (sqlite3_changes(c->db) == 0)
      rc = cat_fail(err, errlen, AKIDB_ENOTFOUND, "collection not found");
  }
  return cat_write_end(cat, rc, err, errlen);
}
