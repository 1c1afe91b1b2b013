/*
 * dead_letter.c — owns the dead-letter queue of object-store work that
 * exhausted its retries: cold uploads that must happen before a collection
 * may leave local disk, and deletes of objects nothing refers to any more.
 * One row per (kind, object key): queuing the same work again counts an
 * attempt. Rows leave only when their work succeeded (remove).
 *
 * Locking and durability: mutations run on the single writer connection,
 * each in its own transaction (durable once it returns); reads use a reader.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_internal.h"

static const char *const kind_names[AKIDB_DEAD_LETTER_KIND_COUNT] = {"cold_upload",
                                                                      "object_delete"};

const char *akidb_dead_letter_kind_name(akidb_dead_letter_kind_t k) {
  return (int)k >= 0 && k < AKIDB_DEAD_LETTER_KIND_COUNT ? kind_names[k] : "unknown";
}

static akidb_dead_letter_kind_t parse_kind(const char *name) {
  for (int i = 0; i < AKIDB_DEAD_LETTER_KIND_COUNT; i++)
    if (strcmp(name, kind_names[i]) == 0) return (akidb_dead_letter_kind_t)i;
  return AKIDB_DEAD_LETTER_OBJECT_DELETE;
}

#define DEAD_LETTER_COLUMNS                                                                     \
  "seq, kind, collection_id, object_key, attempts, last_error, created_at, next_attempt_at " \
  "FROM dead_letters"

static void dead_letter_row(sqlite3_stmt *s, akidb_dead_letter_t *d) {
  char kind[32];
  memset(d, 0, sizeof *d);
  d->seq = sqlite3_column_int64(s, 0);
  cat_col_text(s, 1, kind, sizeof kind);
  d->kind = parse_kind(kind);
  d->has_collection = sqlite3_column_type(s, 2) != SQLITE_NULL;
  if (d->has_collection) cat_col_uuid(s, 2, &d->collection_id);
  cat_col_text(s, 3, d->object_key, sizeof d->object_key);
  d->attempts = (uint32_t)sqlite3_column_int64(s, 4);
  cat_col_text(s, 5, d->last_error, sizeof d->last_error);
  d->created_at_ms = sqlite3_column_int64(s, 6);
  d->next_attempt_at_ms = sqlite3_column_int64(s, 7);
}

int akidb_dead_letter_put(akidb_catalog_t *cat, akidb_dead_letter_kind_t kind,
                          const akidb_uuid_t *collection_id, const char *object_key,
                          const char *error, int64_t next_attempt_at_ms, int64_t *seq_out,
                          char *err, size_t errlen) {
  static const char SQL[] =
      "INSERT INTO dead_letters(kind, collection_id, object_key, last_error, next_attempt_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (kind, object_key) DO UPDATE SET "
      "attempts = attempts + 1, last_error = excluded.last_error, "
      "next_attempt_at = excluded.next_attempt_at, "
      "collection_id = coalesce(excluded.collection_id, collection_id) RETURNING seq";
  if ((int)kind < 0 || kind >= AKIDB_DEAD_LETTER_KIND_COUNT)
    return cat_fail(err, errlen, AKIDB_EINVAL, "dead letter kind %d is unknown", (int)kind);
  if (!object_key || !object_key[0] || strlen(object_key) > AKIDB_OBJECT_KEY_MAX)
    return cat_fail(err, errlen, AKIDB_EINVAL, "object key must be 1..%u bytes",
                    AKIDB_OBJECT_KEY_MAX);
  char cut[AKIDB_OBJECT_ERROR_MAX + 1];
  snprintf(cut, sizeof cut, "%s", error ? error : "");
  catalog_conn_t *c;
  int rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) rc = AKIDB_EIO;
  if (!rc) {
    cat_bind_text(s, 1, kind_names[kind]);
    if (collection_id) cat_bind_uuid(s, 2, collection_id);
    cat_bind_text(s, 3, object_key);
    cat_bind_text(s, 4, cut);
    sqlite3_bind_int64(s, 5, next_attempt_at_ms);
    int st = sqlite3_step(s);
    if (st == SQLITE_ROW && seq_out) *seq_out = sqlite3_column_int64(s, 0);
    if (st == SQLITE_ROW) st = sqlite3_step(s);
    sqlite3_reset(s);
    if (st != SQLITE_DONE) rc = cat_sqlite_fail(c->db, st, "queuing the dead letter", err, errlen);
  }
  return cat_write_end(cat, rc, err, errlen);
}

/* Steps `s` into a malloc'd page of at most `limit` entries (one more row
 * read says whether there are more). */
static int collect(sqlite3_stmt *s, uint32_t limit, akidb_dead_letter_list_t *out, sqlite3 *db,
                   char *err, size_t errlen) {
  out->items = malloc((size_t)(limit ? limit : 1) * sizeof *out->items);
  if (!out->items) return cat_fail(err, errlen, AKIDB_ENOMEM, "out of memory");
  int st;
  while ((st = sqlite3_step(s)) == SQLITE_ROW) {
    if (out->count == limit) {
      out->has_more = true;
      break;
    }
    dead_letter_row(s, &out->items[out->count++]);
  }
  sqlite3_reset(s);
  if (st != SQLITE_ROW && st != SQLITE_DONE)
    return cat_sqlite_fail(db, st, "listing the dead letters", err, errlen);
  if (out->count) out->next_seq = out->items[out->count - 1].seq;
  return AKIDB_OK;
}

int akidb_dead_letter_list(akidb_catalog_t *cat, int64_t due_before_ms, int64_t cursor,
                           uint32_t limit, akidb_dead_letter_list_t *out, char *err,
                           size_t errlen) {
  static const char SQL[] = "SELECT " DEAD_LETTER_COLUMNS
                            " WHERE seq > ?1 AND (?2 <= 0 OR next_attempt_at < ?2) "
                            "ORDER BY seq LIMIT ?3";
  memset(out, 0, sizeof *out);
  akidb_page_t page = {.limit = limit};
  uint32_t lim;
  int rc = cat_page_limit(&page, &lim, err, errlen);
  if (rc) return rc;
  catalog_conn_t *c = cat_read_begin(cat);
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) rc = AKIDB_EIO;
  if (!rc) {
    sqlite3_bind_int64(s, 1, cursor);
    sqlite3_bind_int64(s, 2, due_before_ms);
    sqlite3_bind_int64(s, 3, (int64_t)lim + 1);
    rc = collect(s, lim, out, c->db, err, errlen);
  }
  cat_read_end(cat, c);
  if (rc) akidb_dead_letter_list_free(out);
  return rc;
}

void akidb_dead_letter_list_free(akidb_dead_letter_list_t *list) {
  if (!list) return;
  free(list->items);
  memset(list, 0, sizeof *list);
}

int akidb_dead_letter_remove(akidb_catalog_t *cat, int64_t seq, char *err, size_t errlen) {
  static const char SQL[] = "DELETE FROM dead_letters WHERE seq = ?1";
  catalog_conn_t *c;
  int rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) rc = AKIDB_EIO;
  if (!rc) {
    sqlite3_bind_int64(s, 1, seq);
    int st = cat_step_done(s);
    if (st != SQLITE_DONE) rc = cat_sqlite_fail(c->db, st, "removing the dead letter", err, errlen);
  }
  return cat_write_end(cat, rc, err, errlen);
}

int akidb_dead_letter_remove_key(akidb_catalog_t *cat, akidb_dead_letter_kind_t kind,
                                 const char *object_key, char *err, size_t errlen) {
  static const char SQL[] = "DELETE FROM dead_letters WHERE kind = ?1 AND object_key = ?2";
  if ((int)kind < 0 || kind >= AKIDB_DEAD_LETTER_KIND_COUNT || !object_key)
    return cat_fail(err, errlen, AKIDB_EINVAL, "dead letter kind or key is invalid");
  catalog_conn_t *c;
  int rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) rc = AKIDB_EIO;
  if (!rc) {
    cat_bind_text(s, 1, kind_names[kind]);
    cat_bind_text(s, 2, object_key);
    int st = cat_step_done(s);
    if (st != SQLITE_DONE) rc = cat_sqlite_fail(c->db, st, "removing the dead letter", err, errlen);
  }
  return cat_write_end(cat, rc, err, errlen);
}

int akidb_dead_letter_all_due(akidb_catalog_t *cat, char *err, size_t errlen) {
  catalog_conn_t *c;
  int rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  rc = cat_exec(c, "UPDATE dead_letters SET next_attempt_at = 0 WHERE next_attempt_at > 0", err,
                errlen);
  return cat_write_end(cat, rc, err, errlen);
}

int akidb_dead_letter_count(akidb_catalog_t *cat, uint64_t *out, char *err, size_t errlen) {
  static const char SQL[] = "SELECT count(*) FROM dead_letters";
  *out = 0;
  catalog_conn_t *c = cat_read_begin(cat);
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  int rc = s ? AKIDB_OK : AKIDB_EIO;
  if (!rc) {
    int st = sqlite3_step(s);
    if (st == SQLITE_ROW) *out = (uint64_t)sqlite3_column_int64(s, 0);
    else rc = cat_sqlite_fail(c->db, st, "counting the dead letters", err, errlen);
    sqlite3_reset(s);
  }
  cat_read_end(cat, c);
  return rc;
}
