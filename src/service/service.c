/*
 * service.c — owns the service's life (open, load, tick, close), the status
 * table (error kind → REST code, HTTP status, gRPC code) and the dispatcher
 * that runs one operation: every handler follows validate → authenticate →
 * authorise → status/quota → execute → audit, with the shared steps
 * (authentication, QPS buckets, authorisation, path resolution and write
 * quotas) in resolve.c.
 *
 * Locking: the service itself holds no lock on the call path; the catalog,
 * the identity context and the registry are thread-safe on their own.
 * Durability: collections are checkpointed on close (akidb_service_close).
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "obs/metrics.h"
#include "service/svc_internal.h"

/* -------------------------------------------------------- status table -- */

typedef struct {
  const char *code;
  int http, grpc;
} status_row_t;

static const status_row_t STATUS[AKIDB_ST_COUNT] = {
#define ROW(name, code, http, grpc) [AKIDB_ST_##name] = {code, http, grpc},
    AKIDB_STATUS_MAP(ROW)
#undef ROW
};

static bool status_valid(akidb_status_t s) { return (int)s >= 0 && s < AKIDB_ST_COUNT; }
const char *akidb_status_code(akidb_status_t s) { return status_valid(s) ? STATUS[s].code : "internal"; }
int akidb_status_http(akidb_status_t s) { return status_valid(s) ? STATUS[s].http : 500; }
int akidb_status_grpc(akidb_status_t s) { return status_valid(s) ? STATUS[s].grpc : 13; }

static const char *const OP_NAMES[AKIDB_OP_COUNT] = {
#define NAME(name, text) [AKIDB_OP_##name] = text,
    AKIDB_OP_MAP(NAME)
#undef NAME
};

const char *akidb_op_name(akidb_op_t op) {
  return (int)op >= 0 && op < AKIDB_OP_COUNT ? OP_NAMES[op] : "?";
}

void akidb_limits_default(akidb_limits_t *l) {
  memset(l, 0, sizeof *l); /* padding too: callers compare limits with memcmp */
  l->max_body_bytes = 64ull << 20;
  l->max_json_depth = 32;
  l->max_batch = 10000;
  l->max_k = 1000;
  l->max_ef = 10000;
  l->max_dimension = AKIDB_DIM_MAX;
  l->max_id_bytes = AKIDB_POINT_ID_MAX;
  l->max_filter_depth = 16;
  l->max_payload_bytes = 1u << 20;
}

void akidb_service_options_default(akidb_service_options_t *o) {
  memset(o, 0, sizeof *o);
  o->durability = AKIDB_DURABILITY_FSYNC;
  o->fsync_interval_ms = 100;
  o->index_threads = 0;
  o->worker_threads = 0;
  o->memory_budget_bytes = 0;
  o->warm_after_s = 600;
  o->tier_check_ms = 1000;
  o->cold_after_s = 0;
  o->dead_letter_retry_ms = 30000;
  o->max_pending_bytes = 256ull << 20;
  o->backpressure_wait_ms = 1000;
  o->session_ttl_ms = 12ll * 3600 * 1000;
  o->audit_retention_days = 90;
  akidb_limits_default(&o->limits);
  akidb_objstore_options_default(&o->objstore);
}

/* --------------------------------------------------------------- errors -- */

int akidb_svc_error_vset(akidb_svc_error_t *e, akidb_status_t st, const char *fmt, va_list ap) {
  e->status = st;
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  return -1;
}

int akidb_svc_error_set(akidb_svc_error_t *e, akidb_status_t st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  akidb_svc_error_vset(e, st, fmt, ap);
  va_end(ap);
  return -1;
}

int svc_fail(svc_call_t *c, akidb_status_t st, const char *fmt, ...) {
  c->res->status = st;
  va_list ap;
  va_start(ap, fmt);
  akidb_svc_error_vset(&c->res->error, st, fmt, ap);
  va_end(ap);
  return -1;
}

/* The status a library error code stands for. */
static akidb_status_t status_of(int code) {
  switch (code) {
  case AKIDB_EINVAL:
  case AKIDB_EDIM:
  case AKIDB_EVALUE:
  case AKIDB_ELIMIT:
    return AKIDB_ST_INVALID_ARGUMENT;
  case AKIDB_ENOTFOUND:
    return AKIDB_ST_NOT_FOUND;
  case AKIDB_EEXIST:
    return AKIDB_ST_ALREADY_EXISTS;
  case AKIDB_EPERM:
    return AKIDB_ST_PERMISSION_DENIED;
  case AKIDB_EUNAUTH:
    return AKIDB_ST_UNAUTHENTICATED;
  case AKIDB_ETRANSITION:
  case AKIDB_ECONFLICT:
    return AKIDB_ST_CONFLICT;
  case AKIDB_EQUOTA:
    return AKIDB_ST_QUOTA_EXCEEDED;
  case AKIDB_ERATELIMIT:
  case AKIDB_EBUSY:
    return AKIDB_ST_RATE_LIMITED;
  case AKIDB_EUNAVAILABLE:
  case AKIDB_ETIMEDOUT:
    return AKIDB_ST_UNAVAILABLE;
  default:
    return AKIDB_ST_INTERNAL;
  }
}

int svc_fail_code(svc_call_t *c, int code, const char *msg) {
  akidb_status_t st = status_of(code);
  if (st == AKIDB_ST_INTERNAL)
    return svc_fail(c, st, "%s (%s); report this with the request id",
                    msg && *msg ? msg : akidb_strerror(code), akidb_err_name(code));
  if (code == AKIDB_EBUSY) c->res->error.retry_after_s = 1;
  return svc_fail(c, st, "%s", msg && *msg ? msg : akidb_strerror(code));
}

/* A success of kind `st` (its result, if any, is in c->res->result). */
static int succeed(svc_call_t *c, akidb_status_t st) {
  c->res->status = st;
  return 0;
}

int svc_created(svc_call_t *c) { return succeed(c, AKIDB_ST_CREATED); }
int svc_done(svc_call_t *c) { return succeed(c, AKIDB_ST_DONE); }
int svc_result(svc_call_t *c) { return succeed(c, AKIDB_ST_OK); }

const akidb_limits_t *akidb_service_limits(const akidb_service_t *svc) {
  return &svc->opt.limits;
}

bool akidb_op_is_typed(akidb_op_t op) {
  switch (op) {
#define TYPED_CASE(name, args, result) case AKIDB_OP_##name:
    AKIDB_OP_TYPED(TYPED_CASE)
#undef TYPED_CASE
    return true;
  default:
    return false;
  }
}

/* Frees a typed result (the member the operation sets). */
static void result_clear(akidb_op_t op, akidb_result_t *r) {
  switch (op) {
  case AKIDB_OP_POINT_UPSERT:
    free(r->upsert.ids);
    free(r->upsert.generated);
    break;
  case AKIDB_OP_POINT_GET:
  case AKIDB_OP_POINT_GET_MANY:
    for (size_t i = 0; i < r->points.n; i++) akidb_point_out_clear(&r->points.points[i]);
    free(r->points.points);
    free(r->points.missing);
    break;
  case AKIDB_OP_POINT_SCAN:
    for (size_t i = 0; i < r->scan.page.n; i++) akidb_point_out_clear(&r->scan.page.points[i]);
    free(r->scan.page.points);
    break;
  case AKIDB_OP_SEARCH:
    for (size_t i = 0; i < r->search.n; i++) akidb_search_result_free(&r->search.per_query[i]);
    free(r->search.per_query);
    free(r->search.explain);
    break;
  case AKIDB_OP_EMBEDDINGS:
    free(r->embeddings.vectors);
    break;
  case AKIDB_OP_TENANT_LIST:
    akidb_tenant_list_free(&r->tenants);
    break;
  case AKIDB_OP_DATABASE_LIST:
    akidb_database_list_free(&r->databases.list);
    break;
  case AKIDB_OP_COLLECTION_LIST:
    free(r->collections.items);
    break;
  case AKIDB_OP_LOGIN:
    break; /* the token is wiped below */
  case AKIDB_OP_SNAPSHOT_LIST:
  case AKIDB_OP_SNAPSHOT_LIST_COLLECTION:
    akidb_snapshot_list_free(&r->snapshots.list);
    break;
  case AKIDB_OP_UPLOAD_LIST:
    free(r->uploads.items);
    break;
  case AKIDB_OP_SYSTEM_DEAD_LETTERS:
    akidb_dead_letter_list_free(&r->dead_letters.list);
    break;
  case AKIDB_OP_USER_LIST:
    akidb_user_list_free(&r->users.list);
    break;
  case AKIDB_OP_KEY_LIST:
    akidb_api_key_list_free(&r->keys.list);
    break;
  case AKIDB_OP_AUDIT_TENANT:
  case AKIDB_OP_AUDIT_ALL:
    akidb_audit_list_free(&r->audit.list);
    break;
  default:
    break;
  }
  memset(r, 0, sizeof *r);
}

void akidb_response_clear(akidb_response_t *r) {
  if (!r) return;
  if (akidb_op_is_typed(r->op)) result_clear(r->op, &r->result);
}

/* ------------------------------------------------------------ dispatch -- */

typedef int (*handler_fn)(svc_call_t *c);

static int op_health(svc_call_t *c) {
  c->res->result.probe = "ok";
  return svc_result(c);
}

static int op_ready(svc_call_t *c) {
  if (!akidb_service_ready(c->svc))
    return svc_fail(c, AKIDB_ST_UNAVAILABLE, "the catalog is not open yet; retry shortly");
  c->res->result.probe = "ready";
  return svc_result(c);
}

static const handler_fn HANDLERS[AKIDB_OP_COUNT] = {
    [AKIDB_OP_HEALTH] = op_health,
    [AKIDB_OP_READY] = op_ready,
    [AKIDB_OP_LOGIN] = svc_op_login,
    [AKIDB_OP_LOGOUT] = svc_op_logout,
    [AKIDB_OP_WHOAMI] = svc_op_whoami,
    [AKIDB_OP_TENANT_LIST] = svc_op_tenant_list,
    [AKIDB_OP_TENANT_CREATE] = svc_op_tenant_create,
    [AKIDB_OP_TENANT_GET] = svc_op_tenant_get,
    [AKIDB_OP_TENANT_UPDATE] = svc_op_tenant_update,
    [AKIDB_OP_TENANT_DELETE] = svc_op_tenant_delete,
    [AKIDB_OP_DATABASE_LIST] = svc_op_database_list,
    [AKIDB_OP_DATABASE_CREATE] = svc_op_database_create,
    [AKIDB_OP_DATABASE_GET] = svc_op_database_get,
    [AKIDB_OP_DATABASE_DELETE] = svc_op_database_delete,
    [AKIDB_OP_COLLECTION_LIST] = svc_op_collection_list,
    [AKIDB_OP_COLLECTION_CREATE] = svc_op_collection_create,
    [AKIDB_OP_COLLECTION_GET] = svc_op_collection_get,
    [AKIDB_OP_COLLECTION_UPDATE] = svc_op_collection_update,
    [AKIDB_OP_COLLECTION_DELETE] = svc_op_collection_delete,
    [AKIDB_OP_POINT_COUNT] = svc_op_point_count,
    [AKIDB_OP_POINT_UPSERT] = svc_op_point_upsert,
    [AKIDB_OP_POINT_GET_MANY] = svc_op_point_get_many,
    [AKIDB_OP_POINT_DELETE] = svc_op_point_delete,
    [AKIDB_OP_POINT_GET] = svc_op_point_get,
    [AKIDB_OP_POINT_SCAN] = svc_op_point_scan,
    [AKIDB_OP_SEARCH] = svc_op_search,
    [AKIDB_OP_EMBEDDINGS] = svc_op_embeddings,
    [AKIDB_OP_SNAPSHOT_LIST_COLLECTION] = svc_op_snapshot_list_collection,
    [AKIDB_OP_SNAPSHOT_CREATE] = svc_op_snapshot_create,
    [AKIDB_OP_SNAPSHOT_LIST] = svc_op_snapshot_list,
    [AKIDB_OP_SNAPSHOT_GET] = svc_op_snapshot_get,
    [AKIDB_OP_SNAPSHOT_DELETE] = svc_op_snapshot_delete,
    [AKIDB_OP_SNAPSHOT_RESTORE] = svc_op_snapshot_restore,
    [AKIDB_OP_POINT_IMPORT] = svc_op_point_import,
    [AKIDB_OP_UPLOAD_LIST] = svc_op_upload_list,
    [AKIDB_OP_UPLOAD_PUT] = svc_op_upload_put,
    [AKIDB_OP_UPLOAD_DELETE] = svc_op_upload_delete,
    [AKIDB_OP_USER_LIST] = svc_op_user_list,
    [AKIDB_OP_USER_CREATE] = svc_op_user_create,
    [AKIDB_OP_USER_GET] = svc_op_user_get,
    [AKIDB_OP_USER_UPDATE] = svc_op_user_update,
    [AKIDB_OP_USER_DELETE] = svc_op_user_delete,
    [AKIDB_OP_KEY_LIST] = svc_op_key_list,
    [AKIDB_OP_KEY_CREATE] = svc_op_key_create,
    [AKIDB_OP_KEY_REVOKE] = svc_op_key_revoke,
    [AKIDB_OP_AUDIT_TENANT] = svc_op_audit_tenant,
    [AKIDB_OP_AUDIT_ALL] = svc_op_audit_all,
    [AKIDB_OP_SYSTEM_OBJECT_STORE] = svc_op_system_object_store,
    [AKIDB_OP_SYSTEM_DEAD_LETTERS] = svc_op_system_dead_letters,
};

/* Operations that need the catalog (everything but the probes): answered
 * 503 before the service is ready. */
static bool needs_ready(akidb_op_t op) {
  return op != AKIDB_OP_HEALTH && op != AKIDB_OP_READY;
}

static void say(akidb_service_t *s, akidb_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Runs one operation: checks, the handler, the collection reference. */
static void dispatch(svc_call_t *c, akidb_op_t op) {
  akidb_service_t *svc = c->svc;
  const akidb_request_t *req = c->req;
  if ((int)op < 0 || op >= AKIDB_OP_COUNT || !HANDLERS[op]) {
    svc_fail(c, AKIDB_ST_NOT_FOUND, "no such operation");
    return;
  }
  if (akidb_op_is_typed(op) && !req->args) {
    svc_fail(c, AKIDB_ST_INTERNAL, "operation %s was called without its arguments",
             akidb_op_name(op));
    return;
  }
  if (needs_ready(op) && !akidb_service_ready(svc)) {
    svc_fail(c, AKIDB_ST_UNAVAILABLE, "the server is starting: the catalog is not open yet");
    return;
  }
  if (svc_check_deadline(c, "the operation started")) return;
  HANDLERS[op](c);
  if (c->coll) svc_coll_release(c->coll);
}

/* The slow-request log line: the call, its outcome and its plan. */
static void log_slow(const svc_call_t *c, akidb_op_t op, double ms, double load_s) {
  char plan[256] = "";
  if (c->has_plan) {
    const akidb_search_plan_t *p = &c->plan;
    char frac[32] = "none";
    if (p->filter_fraction >= 0) snprintf(frac, sizeof frac, "%.4f", p->filter_fraction);
    snprintf(plan, sizeof plan, " plan=%s ef=%u filter_selectivity=%s pending_scanned=%llu",
             p->exact ? "exact" : "graph", p->ef, frac, (unsigned long long)p->pending_scanned);
  }
  const akidb_request_t *r = c->req;
  say(c->svc, AKIDB_LOG_WARN,
      "slow request: op=%s ms=%.1f status=%s request_id=%s tenant=%s database=%s "
      "collection=%s%s load_ms=%.1f",
      akidb_op_name(op), ms, akidb_status_code(c->res->status),
      r->request_id ? r->request_id : "-", r->tenant ? r->tenant : "-",
      r->database ? r->database : "-", r->collection ? r->collection : "-", plan, load_s * 1e3);
}

void akidb_service_call(akidb_service_t *svc, akidb_op_t op, const akidb_request_t *req,
                        akidb_response_t *out) {
  memset(out, 0, sizeof *out);
  out->op = op;
  svc_call_t c = {.svc = svc, .req = req, .res = out};
  c.audit.request_id = req->request_id;
  int64_t t0 = akidb_monotonic_ns();
  svc_thread_load_seconds = 0;
  dispatch(&c, op);
  if (!akidb_status_is_ok(out->status)) obs_error(akidb_status_code(out->status));
  double ms = (double)(akidb_monotonic_ns() - t0) / 1e6;
  uint32_t slow = svc->opt.slow_request_ms;
  if (slow && ms > slow) {
    obs_slow_request(akidb_op_name(op));
    log_slow(&c, op, ms, svc_thread_load_seconds);
  }
}

int64_t akidb_monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int svc_check_deadline(svc_call_t *c, const char *before) {
  if (!c->req->deadline_ns || akidb_monotonic_ns() < c->req->deadline_ns) return 0;
  return svc_fail(c, AKIDB_ST_DEADLINE_EXCEEDED, "the call's deadline passed before %s", before);
}

/* Whether the request's collection is loaded (from the cached catalog rows;
 * false when any of them is missing). */
static bool collection_loaded(akidb_service_t *svc, const akidb_request_t *req) {
  akidb_tenant_t t;
  akidb_database_t db;
  akidb_collection_meta_t meta;
  char err[256];
  if (!req->tenant || !req->database || !req->collection ||
      svc_cached_tenant_by_slug(svc, req->tenant, &t, err, sizeof err) ||
      svc_cached_database(svc, &t.id, req->database, &db, err, sizeof err) ||
      svc_cached_collection(svc, &db.id, req->collection, &meta, err, sizeof err))
    return false;
  svc_coll_t *e = svc_registry_peek(&svc->reg, &meta.id);
  bool loaded = e && atomic_load(&e->state) == SVC_OPEN;
  if (e) svc_coll_release(e);
  return loaded;
}

bool akidb_service_quick(akidb_service_t *svc, akidb_op_t op, const akidb_request_t *req) {
  switch (op) {
  case AKIDB_OP_HEALTH:
  case AKIDB_OP_READY:
    return true;
  case AKIDB_OP_SEARCH:
  case AKIDB_OP_POINT_GET:
  case AKIDB_OP_POINT_GET_MANY:
  case AKIDB_OP_POINT_COUNT:
  case AKIDB_OP_POINT_SCAN:
    return akidb_service_ready(svc) && collection_loaded(svc, req);
  default:
    return false;
  }
}

/* ------------------------------------------------------------ lifecycle -- */

static void say(akidb_service_t *s, akidb_log_level_t level, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (s->opt.log)
    s->opt.log(s->opt.log_ctx, level, msg);
  else
    fprintf(stderr, "akidb: %s\n", msg);
}

static int mkdir_p(const char *path, char *err, size_t errlen) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
    snprintf(err, errlen, "path too long: %s", path);
    return AKIDB_EINVAL;
  }
  for (char *p = buf + 1;; p++) {
    bool end = *p == '\0';
    if (*p == '/' || end) {
      *p = '\0';
      if (mkdir(buf, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create directory %s: %s", buf, strerror(errno));
        return AKIDB_EIO;
      }
      if (end) break;
      *p = '/';
    }
  }
  return AKIDB_OK;
}

static char *join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *s = malloc(n);
  if (s) snprintf(s, n, "%s/%s", a, b);
  return s;
}

static int open_paths(akidb_service_t *s, char *err, size_t errlen) {
  s->data_dir = strdup(s->opt.data_dir);
  s->coll_dir = join(s->opt.data_dir, "collections");
  s->db_path = s->opt.db_path && *s->opt.db_path ? strdup(s->opt.db_path)
                                                 : join(s->opt.data_dir, "akidb.db");
  if (!s->data_dir || !s->coll_dir || !s->db_path) return AKIDB_ENOMEM;
  int rc = mkdir_p(s->coll_dir, err, errlen);
  if (rc) return rc;
  /* One lock for every collection of the data directory (they then hold
   * none of their own: one file descriptor each instead of two). */
  const akidb_vfs_t *vfs = akidb_vfs_local();
  int e = vfs->lock_dir(vfs->ctx, s->coll_dir, &s->dir_lock);
  if (e == EWOULDBLOCK) {
    snprintf(err, errlen, "another process (a second akidb serve?) is using the data directory "
             "%s; stop it or choose another --data-dir", s->data_dir);
    return AKIDB_ECONFLICT;
  }
  if (e) {
    snprintf(err, errlen, "cannot lock %s: %s", s->coll_dir, strerror(e));
    return AKIDB_EIO;
  }
  return AKIDB_OK;
}

/* --- restores cut short: <id>.restore (staging) and <id>.old (swapped out) --- */

/* Finishes or undoes the directory swap of a restore a crash interrupted
 * (snapshots.c: <id> → <id>.old, <id>.restore → <id>, then <id>.old goes):
 * an <id>.old beside an <id> is the swapped-out data (removed); an <id>.old
 * alone is the collection's own data (renamed back); every <id>.restore
 * left is an unfinished staging copy (removed). */
static void recover_swap(akidb_service_t *s, const char *name) {
  const akidb_vfs_t *vfs = akidb_vfs_local();
  size_t n = strlen(name);
  char path[4096], live[4096];
  snprintf(path, sizeof path, "%s/%s", s->coll_dir, name);
  if (n > 4 && strcmp(name + n - 4, ".old") == 0) {
    snprintf(live, sizeof live, "%s/%.*s", s->coll_dir, (int)(n - 4), name);
    if (vfs->stat(vfs->ctx, live, NULL, NULL) == 0) {
      akidb_vfs_remove_tree(vfs, path);
    } else if (vfs->rename(vfs->ctx, path, live) == 0) {
      vfs->sync_dir(vfs->ctx, s->coll_dir);
      say(s, AKIDB_LOG_WARN, "restore of %s was interrupted: kept its data as it was", live);
    }
  } else if ((n > 8 && strcmp(name + n - 8, ".restore") == 0) ||
             (n > 9 && strcmp(name + n - 9, ".download") == 0)) {
    akidb_vfs_remove_tree(vfs, path); /* a staging copy or a cold download cut short */
  }
}

static int collect_name(void *ctx, const char *name) {
  char ***names = ctx;
  size_t n = 0;
  while (*names && (*names)[n]) n++;
  char **grown = realloc(*names, (n + 2) * sizeof *grown);
  if (!grown) return ENOMEM;
  grown[n] = strdup(name);
  grown[n + 1] = NULL;
  *names = grown;
  return grown[n] ? 0 : ENOMEM;
}

static void recover_swaps(akidb_service_t *s) {
  char **names = NULL;
  const akidb_vfs_t *vfs = akidb_vfs_local();
  vfs->list(vfs->ctx, s->coll_dir, collect_name, &names);
  for (int pass = 0; pass < 2 && names; pass++) /* every .old before any .restore */
    for (size_t i = 0; names[i]; i++)
      if ((strstr(names[i], ".old") != NULL) == (pass == 0)) recover_swap(s, names[i]);
  for (size_t i = 0; names && names[i]; i++) free(names[i]);
  free(names);
}

/* The object store: the configured one, else the directory <data_dir>/objects. */
static int open_store(akidb_service_t *s, char *err, size_t errlen) {
  akidb_objstore_options_t o = s->opt.objstore;
  char *dir = NULL;
  if (!o.kind) o.kind = "local";
  if (strcmp(o.kind, "local") == 0 && (!o.path || !*o.path)) {
    if (!(dir = join(s->opt.data_dir, "objects"))) return AKIDB_ENOMEM;
    o.path = dir;
  }
  int rc = akidb_objstore_open(&o, &s->store, err, errlen);
  free(dir);
  return rc;
}

static int bootstrap(akidb_service_t *s, akidb_bootstrap_t *boot, char *err, size_t errlen) {
  const char *user = s->opt.admin_username && *s->opt.admin_username ? s->opt.admin_username
                                                                     : "admin";
  akidb_bootstrap_t b = {0};
  int rc = akidb_auth_bootstrap_admin(s->auth, user, s->opt.admin_password, b.admin_password,
                                      sizeof b.admin_password, &b.admin_created, err, errlen);
  if (rc) return rc;
  snprintf(b.admin_username, sizeof b.admin_username, "%s", user);
  if (b.admin_created)
    say(s, AKIDB_LOG_INFO, "first start: created the system admin '%s'%s", user,
        s->opt.admin_password ? " with the password from AKIDB_ADMIN_PASSWORD"
                              : " with a generated password (printed once)");
  if (boot) *boot = b;
  return AKIDB_OK;
}

int akidb_service_open(const akidb_service_options_t *o, akidb_service_t **out,
                       akidb_bootstrap_t *boot, char *err, size_t errlen) {
  *out = NULL;
  if (!o || !o->data_dir || !*o->data_dir) {
    snprintf(err, errlen, "data_dir is required");
    return AKIDB_EINVAL;
  }
  akidb_service_t *s = calloc(1, sizeof *s);
  if (!s) return AKIDB_ENOMEM;
  s->opt = *o;
  svc_embedding_init();
  /* Each service starts its catalog generation in a range of its own, so
   * a later service at the same address never meets the cache entries of
   * an earlier one (cache.c keys entries by service and generation). */
  static atomic_uint_fast64_t epochs;
  atomic_store(&s->catalog_gen, (atomic_fetch_add(&epochs, 1) + 1) << 32);
  int rc = svc_registry_init(&s->reg);
  if (rc) {
    free(s);
    return rc;
  }
  pthread_mutex_init(&s->buckets.lock, NULL);
  rc = open_paths(s, err, errlen);
  s->reg.root = s->coll_dir;
  if (!rc) rc = akidb_catalog_open(s->db_path, NULL, &s->cat, err, errlen);
  akidb_auth_options_t ao;
  akidb_auth_options_default(&ao);
  if (o->session_ttl_ms > 0) ao.session_ttl_ms = o->session_ttl_ms;
  if (!rc) rc = akidb_auth_open(s->cat, &ao, &s->auth, err, errlen);
  if (!rc) rc = bootstrap(s, boot, err, errlen);
  atomic_store(&s->memory_budget, o->memory_budget_bytes);
  if (!rc) recover_swaps(s);
  if (!rc) rc = open_store(s, err, errlen);
  if (!rc) rc = akidb_pool_create(o->worker_threads, &s->pool, err, errlen);
  if (!rc) rc = svc_tier_start(s, err, errlen);
  if (!rc) rc = svc_dead_letters_start(s, err, errlen);
  if (rc) {
    akidb_service_close(s, NULL, 0);
    return rc;
  }
  atomic_store(&s->ready, true); /* the catalog is open: collections load on use */
  *out = s;
  return AKIDB_OK;
}

bool akidb_service_ready(akidb_service_t *svc) { return atomic_load(&svc->ready); }

void svc_coll_dir(const akidb_service_t *s, const akidb_uuid_t *id, char *out, size_t len) {
  char text[AKIDB_UUID_STR_LEN + 1];
  akidb_uuid_format(id, text);
  snprintf(out, len, "%s/%s", s->coll_dir, text);
}

/* --- load: every collection of the catalog, then orphan directories. --- */

typedef struct {
  akidb_uuid_t *ids;
  size_t n, cap;
} id_set_t;

static int id_set_add(id_set_t *s, const akidb_uuid_t *id) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 64;
    akidb_uuid_t *p = realloc(s->ids, cap * sizeof *p);
    if (!p) return AKIDB_ENOMEM;
    s->ids = p;
    s->cap = cap;
  }
  s->ids[s->n++] = *id;
  return AKIDB_OK;
}

static int compare_ids(const void *a, const void *b) { return akidb_uuid_compare(a, b); }

/* Sorts the set so id_set_has can search it (10,000 collections: one sort,
 * not 10,000 scans of 10,000). */
static void id_set_sort(id_set_t *s) {
  if (s->n) qsort(s->ids, s->n, sizeof *s->ids, compare_ids);
}

static bool id_set_has(const id_set_t *s, const akidb_uuid_t *id) {
  return s->n && bsearch(id, s->ids, s->n, sizeof *s->ids, compare_ids) != NULL;
}

/* The last database and tenant looked up (collections are listed in id
 * order, and a database's collections are often made together). */
typedef struct {
  akidb_database_t d;
  akidb_tenant_t t;
  bool have;
} names_t;

/* Registers one collection named by its catalog row (unloaded); loads it
 * when it is pinned hot. */
static void track_one(akidb_service_t *s, const akidb_collection_meta_t *m, names_t *nm,
                      size_t *listed) {
  char err[512] = "";
  if (!nm->have || akidb_uuid_compare(&nm->d.id, &m->database_id) != 0) {
    nm->have = false;
    if (akidb_database_get(s->cat, &m->database_id, &nm->d, err, sizeof err) ||
        akidb_tenant_get(s->cat, &m->tenant_id, &nm->t, err, sizeof err)) {
      say(s, AKIDB_LOG_ERROR, "collection %s: %s", m->name, err);
      return;
    }
    nm->have = true;
  }
  if (m->cold_manifest[0]) { /* cold: a local copy is one a crash kept (cold.c) */
    char dir[4096];
    svc_coll_dir(s, &m->id, dir, sizeof dir);
    if (akidb_vfs_remove_tree(akidb_vfs_local(), dir))
      say(s, AKIDB_LOG_WARN, "collection %s is cold; its stale local copy %s stays", m->name, dir);
  }
  if (svc_registry_track(s, m, nm->t.slug, nm->d.name)) return;
  (*listed)++;
  if (!m->tier_policy.pinned || m->tier != AKIDB_TIER_HOT) return;
  if (svc_open_collection(s, m, nm->t.slug, nm->d.name, err, sizeof err))
    say(s, AKIDB_LOG_ERROR, "collection %s/%s/%s (pinned hot) could not be loaded: %s",
        nm->t.slug, nm->d.name, m->name, err);
}

/* Deletes the data of directories whose collection left the catalog (a
 * crash between a delete's commit and the removal of its data). */
static void remove_orphans(akidb_service_t *s, const id_set_t *known) {
  char cmd_err[256];
  DIR *dir = opendir(s->coll_dir);
  if (!dir) return;
  struct dirent *e;
  while ((e = readdir(dir))) {
    akidb_uuid_t id;
    if (akidb_uuid_parse(e->d_name, &id) || id_set_has(known, &id)) continue;
    akidb_collection_meta_t m; /* created since the listing? (rows come first) */
    if (akidb_collection_meta_get(s->cat, &id, &m, cmd_err, sizeof cmd_err) == AKIDB_OK) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", s->coll_dir, e->d_name);
    say(s, AKIDB_LOG_WARN, "removing the data of deleted collection %s", e->d_name);
    if (akidb_collection_destroy(path, cmd_err, sizeof cmd_err))
      say(s, AKIDB_LOG_ERROR, "could not remove %s: %s", path, cmd_err);
  }
  closedir(dir);
}

int akidb_service_load(akidb_service_t *s, size_t *n_loaded, char *err, size_t errlen) {
  akidb_page_t page = {0};
  size_t loaded = 0;
  id_set_t known = {0};
  names_t names = {.have = false};
  int rc = AKIDB_OK;
  for (;;) {
    akidb_collection_meta_list_t list;
    rc = akidb_collection_meta_list(s->cat, NULL, &page, &list, err, errlen);
    if (rc) break;
    for (size_t i = 0; i < list.count && !rc; i++) {
      rc = id_set_add(&known, &list.items[i].id);
      if (!rc) track_one(s, &list.items[i], &names, &loaded);
    }
    bool more = list.has_more;
    page.after = list.next;
    page.has_after = true;
    akidb_collection_meta_list_free(&list);
    if (rc || !more) break;
  }
  if (!rc) {
    id_set_sort(&known);
    remove_orphans(s, &known);
  }
  free(known.ids);
  if (n_loaded) *n_loaded = loaded;
  if (!rc) {
    say(s, AKIDB_LOG_INFO, "%zu collection(s) listed; each loads on its first use", loaded);
    atomic_store(&s->scanned, true);
  }
  return rc;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void akidb_service_tick(akidb_service_t *s) {
#ifdef __GLIBC__
  malloc_trim(0); /* what requests freed goes back to the system */
#endif
  char err[512] = "";
  uint64_t n = 0;
  if (akidb_auth_purge_sessions(s->auth, &n, err, sizeof err))
    say(s, AKIDB_LOG_WARN, "purging expired sessions failed: %s", err);
  int64_t now = now_ms();
  if (s->opt.audit_retention_days == 0 || now - s->last_prune_ms < 24ll * 3600 * 1000) return;
  s->last_prune_ms = now;
  int64_t cutoff = now - (int64_t)s->opt.audit_retention_days * 24 * 3600 * 1000;
  akidb_audit_ctx_t audit = {.actor = "system", .request_id = "retention"};
  if (akidb_audit_prune(s->cat, cutoff, &audit, &n, err, sizeof err))
    say(s, AKIDB_LOG_WARN, "audit retention pruning failed: %s", err);
  else if (n)
    say(s, AKIDB_LOG_INFO, "audit retention: %llu entries older than %u days removed",
        (unsigned long long)n, s->opt.audit_retention_days);
}

int akidb_service_close(akidb_service_t *s, char *err, size_t errlen) {
  if (!s) return AKIDB_OK;
  atomic_store(&s->ready, false);
  svc_tier_stop(s);
  svc_dead_letters_stop(s);
  int rc = svc_registry_free(&s->reg, err, errlen);
  akidb_pool_destroy(s->pool);
  akidb_objstore_close(s->store);
  if (s->dir_lock) akidb_vfs_local()->close(akidb_vfs_local()->ctx, s->dir_lock);
  akidb_auth_close(s->auth);
  akidb_catalog_close(s->cat);
  pthread_mutex_destroy(&s->buckets.lock);
  free(s->buckets.items);
  free(s->data_dir);
  free(s->coll_dir);
  free(s->db_path);
  free(s);
  return rc;
}
