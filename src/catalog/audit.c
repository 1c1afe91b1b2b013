/*
 * audit.c — owns the audit log: appending entries (alone, or inside the
 * write scope of the mutation they describe), querying them by tenant,
 * actor, action and time range with seq-cursor pagination, and retention
 * pruning — the only path by which rows leave audit_log (schema.c's
 * triggers refuse every other UPDATE and DELETE).
 *
 * Locking: appends and pruning run on the writer inside a write scope;
 * queries on a reader. Durability: an entry written with a mutation commits
 * with it; pruning and its own audit.prune entry commit together.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_internal.h"

/* ------------------------------------------------------- JSON details -- */

static void json_put(cat_json_t *j, const char *s, size_t n) {
  if (j->overflow || j->len + n >= sizeof j->buf - 1) {
    j->overflow = true;
    return;
  }
  memcpy(j->buf + j->len, s, n);
  j->len += n;
  j->buf[j->len] = '\0';
}

static void json_quoted(cat_json_t *j, const char *s) {
  json_put(j, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc[8];
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      json_put(j, esc, 2);
    } else if (*p < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", *p);
      json_put(j, esc, 6);
    } else {
      json_put(j, (const char *)p, 1);
    }
  }
  json_put(j, "\"", 1);
}

static void json_key(cat_json_t *j, const char *key) {
  if (!j->first) json_put(j, ",", 1);
  j->first = false;
  json_quoted(j, key);
  json_put(j, ":", 1);
}

void cat_json_begin(cat_json_t *j) {
  j->len = 0;
  j->overflow = false;
  j->first = true;
  j->buf[0] = '\0';
  json_put(j, "{", 1);
}

void cat_json_str(cat_json_t *j, const char *key, const char *value) {
  json_key(j, key);
  json_quoted(j, value ? value : "");
}

void cat_json_int(cat_json_t *j, const char *key, int64_t value) {
  char num[32];
  json_key(j, key);
  json_put(j, num, (size_t)snprintf(num, sizeof num, "%lld", (long long)value));
}

void cat_json_uuid(cat_json_t *j, const char *key, const akidb_uuid_t *id) {
  char text[AKIDB_UUID_STR_LEN + 1];
  akidb_uuid_format(id, text);
  cat_json_str(j, key, text);
}

void cat_json_raw(cat_json_t *j, const char *key, const char *json) {
  json_key(j, key);
  json_put(j, json, strlen(json));
}

const char *cat_json_end(cat_json_t *j) {
  json_put(j, "}", 1);
  /* Details that would not fit are replaced by a marker, never cut. */
  if (j->overflow) return "{\"truncated\":true}";
  return j->buf;
}

/* ------------------------------------------------------------ append -- */

typedef struct {
  int64_t time_ms;
  const akidb_uuid_t *actor_id;
  const char *actor;
  const akidb_uuid_t *tenant_id;
  const char *action;
  const char *target;
  const char *outcome;
  const char *request_id;
  const char *details;
} audit_row_t;

static int audit_insert_row(catalog_conn_t *c, const audit_row_t *r, int64_t *seq_out, char *err,
                            size_t errlen) {
  static const char SQL[] =
      "INSERT INTO audit_log(time_ms, actor_id, actor, tenant_id, action, target, outcome, "
      "request_id, details) VALUES (coalesce(?1, " CATALOG_SQL_NOW "), ?2, ?3, ?4, ?5, ?6, ?7, "
      "?8, ?9)";
  sqlite3_stmt *s = cat_stmt(c, SQL, err, errlen);
  if (!s) return AKIDB_EIO;
  if (r->time_ms) sqlite3_bind_int64(s, 1, r->time_ms);
  cat_bind_uuid(s, 2, r->actor_id);
  cat_bind_text(s, 3, r->actor && *r->actor ? r->actor : "system");
  cat_bind_uuid(s, 4, r->tenant_id);
  cat_bind_text(s, 5, r->action);
  cat_bind_text(s, 6, r->target ? r->target : "");
  cat_bind_text(s, 7, r->outcome);
  cat_bind_text(s, 8, r->request_id ? r->request_id : "");
  cat_bind_text(s, 9, r->details && *r->details ? r->details : "{}");
  int st = cat_step_done(s);
  if ((st & 0xff) == SQLITE_CONSTRAINT)
    return cat_fail(err, errlen, AKIDB_EINVAL,
                    "audit entry refused: details must be a JSON object of at most %u bytes, "
                    "actor at most %u, target at most %u, request id at most %u",
                    AKIDB_AUDIT_DETAILS_MAX, AKIDB_AUDIT_ACTOR_MAX, AKIDB_AUDIT_TARGET_MAX,
                    AKIDB_REQUEST_ID_MAX);
  if (st != SQLITE_DONE)
    return cat_sqlite_fail(c->db, st, "appending to the audit log", err, errlen);
  if (seq_out) *seq_out = sqlite3_last_insert_rowid(c->db);
  return AKIDB_OK;
}

int cat_audit_write(catalog_conn_t *c, const akidb_audit_ctx_t *ac, const akidb_uuid_t *tenant,
                    akidb_audit_action_t action, const char *target, akidb_audit_outcome_t outcome,
                    const char *details, char *err, size_t errlen) {
  if (!ac) return AKIDB_OK;
  audit_row_t r = {.time_ms = 0,
                   .actor_id = ac->actor_id,
                   .actor = ac->actor,
                   .tenant_id = tenant,
                   .action = akidb_audit_action_name(action),
                   .target = target,
                   .outcome = akidb_audit_outcome_name(outcome),
                   .request_id = ac->request_id,
                   .details = details};
  return audit_insert_row(c, &r, NULL, err, errlen);
}

/* True when `s` has a NUL within its `size` bytes. */
static bool terminated(const char *s, size_t size) { return memchr(s, '\0', size) != NULL; }

int cat_audit_insert(catalog_conn_t *c, const akidb_audit_entry_t *e, int64_t *seq_out, char *err,
                     size_t errlen) {
  if ((int)e->action < 0 || e->action >= AKIDB_AUDIT_ACTION_COUNT)
    return cat_fail(err, errlen, AKIDB_EINVAL, "audit action %d is not a known action",
                    (int)e->action);
  if ((int)e->outcome < 0 || e->outcome > AKIDB_AUDIT_DENIED)
    return cat_fail(err, errlen, AKIDB_EINVAL, "audit outcome %d is not success, failure or denied",
                    (int)e->outcome);
  if (!terminated(e->actor, sizeof e->actor) || !terminated(e->target, sizeof e->target) ||
      !terminated(e->request_id, sizeof e->request_id) ||
      !terminated(e->details, sizeof e->details))
    return cat_fail(err, errlen, AKIDB_EINVAL, "audit entry has a text field without its NUL");
  if (e->time_ms < 0)
    return cat_fail(err, errlen, AKIDB_EINVAL, "audit time_ms must not be negative");
  audit_row_t r = {.time_ms = e->time_ms,
                   .actor_id = e->has_actor ? &e->actor_id : NULL,
                   .actor = e->actor,
                   .tenant_id = e->has_tenant ? &e->tenant_id : NULL,
                   .action = akidb_audit_action_name(e->action),
                   .target = e->target,
                   .outcome = akidb_audit_outcome_name(e->outcome),
                   .request_id = e->request_id,
                   .details = e->details};
  return audit_insert_row(c, &r, seq_out, err, errlen);
}

int akidb_audit_append(akidb_catalog_t *cat, const akidb_audit_entry_t *e, int64_t *seq_out,
                       char *err, size_t errlen) {
  if (!e) return cat_fail(err, errlen, AKIDB_EINVAL, "audit entry is NULL");
  catalog_conn_t *c;
  int rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  rc = cat_audit_insert(c, e, seq_out, err, errlen);
  return cat_write_end(cat, rc, err, errlen);
}

/* ------------------------------------------------------------- query -- */

enum { Q_TENANT = 1, Q_ACTOR_ID = 2, Q_ACTOR = 4, Q_ACTION = 8, Q_DESC = 16, Q_CURSOR = 32 };

int catalog_audit_prepare_sql(akidb_catalog_t *cat) {
  for (int v = 0; v < CATALOG_AUDIT_VARIANTS; v++) {
    char sql[640];
    snprintf(sql, sizeof sql,
             "SELECT seq, time_ms, actor_id, actor, tenant_id, action, target, outcome, "
             "request_id, details FROM audit_log WHERE time_ms >= ?5 AND time_ms < ?6%s%s%s%s%s "
             "ORDER BY seq %s LIMIT ?8",
             v & Q_TENANT ? " AND tenant_id = ?1" : "", v & Q_ACTOR_ID ? " AND actor_id = ?2" : "",
             v & Q_ACTOR ? " AND actor = ?3" : "", v & Q_ACTION ? " AND action = ?4" : "",
             !(v & Q_CURSOR) ? ""
             : v & Q_DESC    ? " AND seq < ?7"
                             : " AND seq > ?7",
             v & Q_DESC ? "DESC" : "ASC");
    cat->audit_sql[v] = strdup(sql);
    if (!cat->audit_sql[v]) return AKIDB_ENOMEM;
  }
  return AKIDB_OK;
}

void catalog_audit_free_sql(akidb_catalog_t *cat) {
  for (int v = 0; v < CATALOG_AUDIT_VARIANTS; v++) {
    free(cat->audit_sql[v]);
    cat->audit_sql[v] = NULL;
  }
}

static void audit_row(sqlite3_stmt *s, akidb_audit_entry_t *e) {
  memset(e, 0, sizeof *e);
  e->seq = sqlite3_column_int64(s, 0);
  e->time_ms = sqlite3_column_int64(s, 1);
  e->has_actor = sqlite3_column_type(s, 2) == SQLITE_BLOB;
  if (e->has_actor) cat_col_uuid(s, 2, &e->actor_id);
  cat_col_text(s, 3, e->actor, sizeof e->actor);
  e->has_tenant = sqlite3_column_type(s, 4) == SQLITE_BLOB;
  if (e->has_tenant) cat_col_uuid(s, 4, &e->tenant_id);
  char name[64];
  cat_col_text(s, 5, name, sizeof name);
  if (akidb_audit_action_parse(name, &e->action)) e->action = AKIDB_AUDIT_ACTION_COUNT;
  cat_col_text(s, 6, e->target, sizeof e->target);
  cat_col_text(s, 7, name, sizeof name);
  e->outcome = strcmp(name, "success") == 0  ? AKIDB_AUDIT_SUCCESS
               : strcmp(name, "denied") == 0 ? AKIDB_AUDIT_DENIED
                                             : AKIDB_AUDIT_FAILURE;
  cat_col_text(s, 8, e->request_id, sizeof e->request_id);
  cat_col_text(s, 9, e->details, sizeof e->details);
}

static int audit_variant(const akidb_audit_query_t *q) {
  return (q->tenant_id ? Q_TENANT : 0) | (q->actor_id ? Q_ACTOR_ID : 0) | (q->actor ? Q_ACTOR : 0) |
         (q->by_action ? Q_ACTION : 0) | (q->newest_first ? Q_DESC : 0) |
         (q->cursor ? Q_CURSOR : 0);
}

static void audit_bind(sqlite3_stmt *s, const akidb_audit_query_t *q, uint32_t limit) {
  if (q->tenant_id) cat_bind_uuid(s, 1, q->tenant_id);
  if (q->actor_id) cat_bind_uuid(s, 2, q->actor_id);
  if (q->actor) cat_bind_text(s, 3, q->actor);
  if (q->by_action) cat_bind_text(s, 4, akidb_audit_action_name(q->action));
  sqlite3_bind_int64(s, 5, q->from_ms ? q->from_ms : INT64_MIN);
  sqlite3_bind_int64(s, 6, q->to_ms ? q->to_ms : INT64_MAX);
  if (q->cursor) sqlite3_bind_int64(s, 7, q->cursor);
  sqlite3_bind_int64(s, 8, (int64_t)limit + 1);
}

int akidb_audit_query(akidb_catalog_t *cat, const akidb_audit_query_t *q, akidb_audit_list_t *out,
                      char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  akidb_audit_query_t all = {0};
  if (!q) q = &all;
  if (q->by_action && ((int)q->action < 0 || q->action >= AKIDB_AUDIT_ACTION_COUNT))
    return cat_fail(err, errlen, AKIDB_EINVAL, "audit query: action %d is not a known action",
                    (int)q->action);
  if (q->from_ms && q->to_ms && q->to_ms <= q->from_ms)
    return cat_fail(err, errlen, AKIDB_EINVAL, "audit query: to_ms must be after from_ms");
  akidb_page_t page = {.limit = q->limit};
  uint32_t limit = 0;
  int rc = cat_page_limit(&page, &limit, err, errlen);
  if (rc) return rc;
  akidb_audit_entry_t *items = malloc((size_t)limit * sizeof *items);
  if (!items) return cat_fail(err, errlen, AKIDB_ENOMEM, "out of memory");
  catalog_conn_t *c = cat_read_begin(cat);
  sqlite3_stmt *s = cat_stmt(c, cat->audit_sql[audit_variant(q)], err, errlen);
  size_t n = 0;
  if (!s) {
    rc = AKIDB_EIO;
  } else {
    audit_bind(s, q, limit);
    int st;
    while ((st = sqlite3_step(s)) == SQLITE_ROW) {
      if (n == limit) {
        out->has_more = true;
        break;
      }
      audit_row(s, &items[n++]);
    }
    if (st != SQLITE_ROW && st != SQLITE_DONE)
      rc = cat_sqlite_fail(c->db, st, "querying the audit log", err, errlen);
    sqlite3_reset(s);
  }
  cat_read_end(cat, c);
  if (rc || n == 0) {
    free(items);
    return rc;
  }
  out->items = items;
  out->count = n;
  out->next_seq = items[n - 1].seq;
  return AKIDB_OK;
}

void akidb_audit_list_free(akidb_audit_list_t *list) {
  if (!list) return;
  free(list->items);
  memset(list, 0, sizeof *list);
}

/* ------------------------------------------------------------- prune -- */

int akidb_audit_prune(akidb_catalog_t *cat, int64_t cutoff_ms, const akidb_audit_ctx_t *audit,
                      uint64_t *deleted, char *err, size_t errlen) {
  static const char SQL_OPEN[] = "UPDATE audit_retention SET prune_before_ms = ?1 WHERE id = 1";
  static const char SQL_DELETE[] = "DELETE FROM audit_log WHERE time_ms < ?1";
  static const char SQL_CLOSE[] =
      "UPDATE audit_retention SET prune_before_ms = -9223372036854775807 - 1 WHERE id = 1";
  int64_t latest = cat_now_ms() - AKIDB_AUDIT_MIN_RETENTION_MS;
  if (cutoff_ms > latest)
    return cat_fail(err, errlen, AKIDB_EINVAL,
                    "audit prune cutoff must be at least %lld ms (one day) in the past",
                    (long long)AKIDB_AUDIT_MIN_RETENTION_MS);
  catalog_conn_t *c;
  int rc = cat_write_begin(cat, &c, err, errlen);
  if (rc) return rc;
  sqlite3_stmt *s = cat_stmt(c, SQL_OPEN, err, errlen);
  int st = SQLITE_ERROR;
  int64_t n = 0;
  if (s) {
    sqlite3_bind_int64(s, 1, cutoff_ms);
    st = cat_step_done(s);
  }
  if (st == SQLITE_DONE && (s = cat_stmt(c, SQL_DELETE, err, errlen))) {
    sqlite3_bind_int64(s, 1, cutoff_ms);
    st = cat_step_done(s);
    n = sqlite3_changes64(c->db);
  } else if (st == SQLITE_DONE) {
    st = SQLITE_ERROR;
  }
  if (st == SQLITE_DONE)
    rc = cat_exec(c, SQL_CLOSE, err, errlen);
  else
    rc = cat_sqlite_fail(c->db, st, "pruning the audit log", err, errlen);
  if (!rc) {
    static const akidb_audit_ctx_t system = {NULL, "system", ""};
    cat_json_t j;
    cat_json_begin(&j);
    cat_json_int(&j, "cutoff_ms", cutoff_ms);
    cat_json_int(&j, "deleted", n);
    rc = cat_audit_write(c, audit ? audit : &system, NULL, AKIDB_AUDIT_LOG_PRUNE, "audit_log",
                         AKIDB_AUDIT_SUCCESS, cat_json_end(&j), err, errlen);
  }
  rc = cat_write_end(cat, rc, err, errlen);
  if (!rc && deleted) *deleted = (uint64_t)n;
  return rc;
}
