/*
 * snapshots.c — owns the snapshot operations: create (a consistent copy of
 * a collection, as of one log position, written to the object store while
 * writers go on), list, get, delete, and restore — into a new collection,
 * or over an existing one — all-or-nothing.
 *
 * Restore builds the collection's data in a staging directory
 * (<collections>/<id>.restore) with a collection of its own, closes it (its
 * final checkpoint makes it durable), then publishes it:
 *   new collection:  rename <id>.restore → <id>, sync, then the catalog row
 *                    (a crash before the row leaves an orphan directory that
 *                    the next start removes);
 *   over one:        with the live collection closed and its users held off
 *                    (svc_registry_exclusive): <id> → <id>.old,
 *                    <id>.restore → <id>, sync, remove <id>.old. A crash in
 *                    between is finished or undone at the next start
 *                    (service.c, recover_swaps).
 * Either way the target is the old one or the whole restored one, never a
 * part. Audit: snapshot.create (success or failure), snapshot.delete (by the
 * catalog), snapshot.restore; the collection a restore creates is audited
 * as collection.create.
 *
 * Locking: none of its own; the registry's for the swap. Durability: a
 * snapshot exists once its manifest is in the store and its catalog row
 * says ready.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "obs/metrics.h"
#include "service/svc_internal.h"
#include "snapshot/snapshot.h"
#include "util/clock.h"

#define MANIFEST_SUFFIX "/" SNAP_MANIFEST_NAME

/* ------------------------------------------------------------- helpers -- */

/* The snapshot of the answer (with the tenant's slug). */
static int answer_snapshot(svc_call_t *c, const akidb_snapshot_t *snap, bool created) {
  akidb_snapshot_result_t *r = &c->res->result.snapshot;
  r->snapshot = *snap;
  snprintf(r->tenant, sizeof r->tenant, "%s", c->tenant.slug);
  return created ? svc_created(c) : svc_result(c);
}

/* The key prefix of a snapshot's objects (its manifest key without the
 * manifest's name). */
static void prefix_of(const akidb_snapshot_t *s, char *out, size_t len) {
  size_t n = strlen(s->manifest_key), k = strlen(MANIFEST_SUFFIX);
  if (n > k && strcmp(s->manifest_key + n - k, MANIFEST_SUFFIX) == 0) n -= k;
  snprintf(out, len, "%.*s", (int)n, s->manifest_key);
}

/* The status for an object-store or snapshot failure. */
static int fail_store(svc_call_t *c, int rc, const char *what, const char *err) {
  if (rc == AKIDB_EUNAVAILABLE || rc == AKIDB_ETIMEDOUT)
    return svc_fail(c, AKIDB_ST_UNAVAILABLE, "%s: the object store is unavailable: %s", what, err);
  if (rc == AKIDB_ECORRUPT || rc == AKIDB_EFORMAT || rc == AKIDB_EVERSION)
    return svc_fail(c, AKIDB_ST_CONFLICT, "%s: %s", what, err);
  return svc_fail_code(c, rc, err);
}

static void audit(svc_call_t *c, akidb_audit_action_t action, const char *target, bool ok,
                  const char *details) {
  akidb_audit_entry_t e = {0};
  if (c->audit.actor_id) {
    e.actor_id = *c->audit.actor_id;
    e.has_actor = true;
  }
  snprintf(e.actor, sizeof e.actor, "%s", c->audit.actor ? c->audit.actor : "system");
  e.tenant_id = c->tenant.id;
  e.has_tenant = true;
  e.action = action;
  snprintf(e.target, sizeof e.target, "%s", target);
  e.outcome = ok ? AKIDB_AUDIT_SUCCESS : AKIDB_AUDIT_FAILURE;
  snprintf(e.request_id, sizeof e.request_id, "%s", c->req->request_id ? c->req->request_id : "");
  snprintf(e.details, sizeof e.details, "%s", details);
  akidb_audit_append(c->svc->cat, &e, NULL, NULL, 0);
}

/* The snapshot named by the path, in the call's tenant (c->tenant). */
static int resolve_snapshot(svc_call_t *c, akidb_snapshot_t *out) {
  akidb_uuid_t id;
  const char *text = c->req->snapshot ? c->req->snapshot : "";
  if (akidb_uuid_parse(text, &id))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "snapshot id '%.40s' is not a UUID", text);
  char err[256];
  int rc = akidb_snapshot_get(c->svc->cat, &id, out, err, sizeof err);
  if (rc == AKIDB_ENOTFOUND || (!rc && akidb_uuid_compare(&out->tenant_id, &c->tenant.id) != 0))
    return svc_fail(c, AKIDB_ST_NOT_FOUND, "snapshot %s not found in tenant '%s'", text,
                    c->tenant.slug);
  return rc ? svc_fail_code(c, rc, err) : 0;
}

/* A page of the tenant's snapshots (of one collection, or all) as the answer. */
static int answer_page(svc_call_t *c, const akidb_uuid_t *collection) {
  const akidb_list_args_t *a = c->req->args;
  akidb_snapshots_result_t *r = &c->res->result.snapshots;
  snprintf(r->tenant, sizeof r->tenant, "%s", c->tenant.slug);
  char err[256];
  int rc = akidb_snapshot_list(c->svc->cat, &c->tenant.id, collection, &a->page, &r->list, err,
                               sizeof err);
  return rc ? svc_fail_code(c, rc, err) : svc_result(c);
}

/* --------------------------------------------------------------- create -- */

/* Records the snapshot (creating) and names its objects. */
static int begin_snapshot(svc_call_t *c, akidb_snapshot_t *row, char *prefix, size_t len) {
  akidb_snapshot_t in = {0};
  char tenant[AKIDB_UUID_STR_LEN + 1], id[AKIDB_UUID_STR_LEN + 1], err[256];
  if (akidb_uuid_v7(&in.id)) return svc_fail(c, AKIDB_ST_INTERNAL, "no random bytes for an id");
  in.tenant_id = c->tenant.id;
  in.collection_id = c->meta.id;
  snprintf(in.database_name, sizeof in.database_name, "%s", c->db.name);
  snprintf(in.collection_name, sizeof in.collection_name, "%s", c->meta.name);
  akidb_uuid_format(&c->tenant.id, tenant);
  akidb_uuid_format(&in.id, id);
  snprintf(prefix, len, "snapshots/%.36s/%.36s", tenant, id);
  if (snap_key(prefix, SNAP_MANIFEST_NAME, in.manifest_key, sizeof in.manifest_key))
    return svc_fail(c, AKIDB_ST_INTERNAL, "snapshot key too long");
  int rc = akidb_snapshot_create(c->svc->cat, &in, row, err, sizeof err);
  return rc ? svc_fail_code(c, rc, err) : 0;
}

int svc_op_snapshot_create(svc_call_t *c) {
  if (svc_resolve_tenant(c, AKIDB_ACT_SNAPSHOT_CREATE) || svc_resolve_database(c) ||
      svc_resolve_collection(c))
    return -1;
  akidb_snapshot_t row;
  char prefix[AKIDB_OBJECT_KEY_MAX], id[AKIDB_UUID_STR_LEN + 1], err[512] = "";
  if (begin_snapshot(c, &row, prefix, sizeof prefix)) return -1;
  akidb_uuid_format(&row.id, id);
  snap_source_t src = {.meta = &c->meta, .tenant = c->tenant.slug, .database = c->db.name,
                       .snapshot_id = id, .prefix = prefix};
  snap_manifest_t m;
  uint64_t bytes = 0;
  double t0 = clock_now_s();
  int rc = snap_write(c->svc->store, c->coll->c, &src, &m, &bytes, err, sizeof err);
  obs_snapshot_observe("create", clock_now_s() - t0, rc == AKIDB_OK);
  char why[256] = "";
  akidb_snapshot_finish(c->svc->cat, &row.id, rc ? AKIDB_SNAPSHOT_FAILED : AKIDB_SNAPSHOT_READY,
                        m.log_seq, m.points, bytes, rc ? err : NULL, &row, why, sizeof why);
  char target[AKIDB_AUDIT_TARGET_MAX + 1], details[512];
  snprintf(target, sizeof target, "collection/%s/%s/%s", c->tenant.slug, c->db.name, c->meta.name);
  snprintf(details, sizeof details, "{\"snapshot\":\"%s\",\"points\":%" PRIu64 ",\"bytes\":%" PRIu64
           "}", id, m.points, bytes);
  audit(c, AKIDB_AUDIT_SNAPSHOT_CREATE, target, rc == AKIDB_OK, details);
  if (rc) return fail_store(c, rc, "snapshot not written", err);
  return answer_snapshot(c, &row, true);
}

/* ---------------------------------------------------- list, get, delete -- */

int svc_op_snapshot_list_collection(svc_call_t *c) {
  if (svc_resolve_tenant(c, AKIDB_ACT_SNAPSHOT_READ) || svc_resolve_database(c) ||
      svc_resolve_collection_meta(c))
    return -1;
  return answer_page(c, &c->meta.id);
}

int svc_op_snapshot_list(svc_call_t *c) {
  if (svc_resolve_tenant(c, AKIDB_ACT_SNAPSHOT_READ)) return -1;
  return answer_page(c, NULL);
}

int svc_op_snapshot_get(svc_call_t *c) {
  akidb_snapshot_t s;
  if (svc_resolve_tenant(c, AKIDB_ACT_SNAPSHOT_READ) || resolve_snapshot(c, &s)) return -1;
  return answer_snapshot(c, &s, false);
}

/* Deletes the objects; when the store fails, the row still goes and the
 * objects wait in the dead-letter queue (retried in the background). */
int svc_op_snapshot_delete(svc_call_t *c) {
  akidb_snapshot_t s;
  if (svc_resolve_tenant(c, AKIDB_ACT_SNAPSHOT_CREATE) || resolve_snapshot(c, &s)) return -1;
  if (s.state == AKIDB_SNAPSHOT_CREATING)
    return svc_fail(c, AKIDB_ST_CONFLICT, "snapshot is still being written; delete it once it "
                    "is ready or failed");
  char prefix[AKIDB_OBJECT_KEY_MAX], err[512] = "";
  prefix_of(&s, prefix, sizeof prefix);
  int rc = snap_delete(c->svc->store, prefix, err, sizeof err);
  if (rc) {
    char key[AKIDB_OBJECT_KEY_MAX + 2], why[256];
    snprintf(key, sizeof key, "%s/", prefix);
    int64_t retry_ms = (int64_t)time(NULL) * 1000;
    if (akidb_dead_letter_put(c->svc->cat, AKIDB_DEAD_LETTER_OBJECT_DELETE, NULL, key, err,
                              retry_ms, NULL, why, sizeof why))
      return fail_store(c, rc, "snapshot objects not deleted", err);
  }
  rc = akidb_snapshot_delete(c->svc->cat, &s.id, &c->audit, err, sizeof err);
  return rc ? svc_fail_code(c, rc, err) : svc_done(c);
}

/* -------------------------------------------------------------- restore -- */

typedef struct {
  const char *database, *collection;
  bool replace;
} restore_ask_t;

/* The target: the arguments', or the snapshot's own names. */
static int parse_restore(svc_call_t *c, const akidb_snapshot_t *s, restore_ask_t *a) {
  const akidb_restore_args_t *r = c->req->args;
  a->database = r->database ? r->database : s->database_name;
  a->collection = r->collection ? r->collection : s->collection_name;
  a->replace = r->replace;
  char err[256];
  if (akidb_check_object_name(a->database, "database", err, sizeof err) ||
      akidb_check_object_name(a->collection, "collection", err, sizeof err))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s", err);
  return 0;
}

/* The collection row a restore creates: the manifest's configuration. */
static void meta_from_manifest(const snap_manifest_t *m, const akidb_uuid_t *db,
                               const char *name, akidb_collection_meta_t *out) {
  memset(out, 0, sizeof *out);
  akidb_collection_meta_defaults(out);
  out->database_id = *db;
  snprintf(out->name, sizeof out->name, "%s", name);
  out->dimension = m->dimension;
  out->metric = m->metric;
  out->hnsw_m = m->hnsw_m;
  out->hnsw_ef_construction = m->hnsw_ef_construction;
  out->hnsw_ef_search = m->hnsw_ef_search;
  snprintf(out->embedding_json, sizeof out->embedding_json, "%s", m->embedding_json);
  out->bm25_k1 = m->bm25_k1;
  out->bm25_b = m->bm25_b;
}

/* Builds <collections>/<id>.restore from the snapshot and closes it. */
static int stage(svc_call_t *c, const akidb_snapshot_t *s, const snap_manifest_t *m,
                 const akidb_uuid_t *id, char *staging, size_t len, uint64_t *points, char *err,
                 size_t errlen) {
  char text[AKIDB_UUID_STR_LEN + 1], prefix[AKIDB_OBJECT_KEY_MAX];
  akidb_uuid_format(id, text);
  snprintf(staging, len, "%s/%s.restore", c->svc->coll_dir, text);
  prefix_of(s, prefix, sizeof prefix);
  akidb_vfs_remove_tree(akidb_vfs_local(), staging);
  akidb_collection_options_t o;
  svc_collection_options(c->svc, m->dimension, m->metric, m->hnsw_m, m->hnsw_ef_construction,
                         m->hnsw_ef_search, NULL, &o);
  o.text_index = false; /* the staging copy is only loaded and closed; the restored
                           collection builds its text index when it is opened */
  /* A bulk load: no indexing while it runs (the restored collection indexes
   * its points once it is in use), so no backpressure either; no log
   * (unlogged): the close's checkpoint, synced before the swap, is the
   * staging copy's one durable image, and a crash before it leaves a
   * <id>.restore that the next start removes. */
  o.background = false;
  o.max_pending = 0;
  o.durability = AKIDB_DURABILITY_NONE;
  o.unlogged = true;
  akidb_collection_t *coll = NULL;
  int rc = akidb_collection_open(staging, &o, &coll, NULL, err, errlen);
  if (!rc) rc = snap_restore(c->svc->store, prefix, m, coll, points, err, errlen);
  char err2[256];
  int crc = coll ? akidb_collection_close(coll, err2, sizeof err2) : AKIDB_OK;
  if (!rc && crc) {
    snprintf(err, errlen, "%s", err2);
    rc = crc;
  }
  if (rc) akidb_vfs_remove_tree(akidb_vfs_local(), staging);
  return rc;
}

/* Renames `from` to `to` inside the collections directory and syncs it. */
static int publish(akidb_service_t *s, const char *from, const char *to) {
  const akidb_vfs_t *vfs = akidb_vfs_local();
  int e = vfs->rename(vfs->ctx, from, to);
  if (!e) e = vfs->sync_dir(vfs->ctx, s->coll_dir);
  return e ? AKIDB_EIO : AKIDB_OK;
}

/* Restores into a collection that does not exist yet. */
static int restore_new(svc_call_t *c, const akidb_snapshot_t *s, const snap_manifest_t *m,
                       const char *name, uint64_t *points) {
  akidb_collection_meta_t in, out;
  meta_from_manifest(m, &c->db.id, name, &in);
  if (akidb_uuid_v7(&in.id)) return svc_fail(c, AKIDB_ST_INTERNAL, "no random bytes for an id");
  char staging[4096], live[4096], err[512] = "";
  int rc = stage(c, s, m, &in.id, staging, sizeof staging, points, err, sizeof err);
  if (rc) return fail_store(c, rc, "snapshot not restored", err);
  svc_coll_dir(c->svc, &in.id, live, sizeof live);
  if (publish(c->svc, staging, live)) {
    akidb_vfs_remove_tree(akidb_vfs_local(), staging);
    return svc_fail(c, AKIDB_ST_INTERNAL, "could not move the restored data into place");
  }
  rc = akidb_collection_meta_create(c->svc->cat, &in, &c->audit, &out, err, sizeof err);
  svc_catalog_changed(c->svc);
  if (rc) { /* e.g. the name was taken meanwhile, or a quota: nothing stays */
    akidb_vfs_remove_tree(akidb_vfs_local(), live);
    if (rc == AKIDB_EQUOTA) obs_quota_rejection("collections");
    return svc_fail_code(c, rc, err);
  }
  svc_registry_track(c->svc, &out, c->tenant.slug, c->db.name);
  c->meta = out;
  return 0;
}

typedef struct {
  akidb_service_t *svc;
  const char *staging, *live;
  char old[4200];
} swap_t;

/* With the live collection closed: <id> → <id>.old, staging → <id>. */
static int swap_dirs(void *ctx) {
  swap_t *w = ctx;
  const akidb_vfs_t *vfs = akidb_vfs_local();
  snprintf(w->old, sizeof w->old, "%s.old", w->live);
  if (vfs->rename(vfs->ctx, w->live, w->old)) return AKIDB_EIO;
  if (vfs->rename(vfs->ctx, w->staging, w->live)) {
    vfs->rename(vfs->ctx, w->old, w->live); /* put it back */
    return AKIDB_EIO;
  }
  return vfs->sync_dir(vfs->ctx, w->svc->coll_dir) ? AKIDB_EIO : AKIDB_OK;
}

/* Restores over the existing collection c->meta (same id and name). */
static int restore_over(svc_call_t *c, const akidb_snapshot_t *s, const snap_manifest_t *m,
                        uint64_t *points) {
  if (m->dimension != c->meta.dimension || m->metric != c->meta.metric)
    return svc_fail(c, AKIDB_ST_CONFLICT,
                    "the snapshot holds %u-d %s vectors but collection '%s' is %u-d %s: restore "
                    "it into a new collection instead",
                    m->dimension, akidb_metric_name(m->metric), c->meta.name, c->meta.dimension,
                    akidb_metric_name(c->meta.metric));
  char staging[4096], live[4096], err[512] = "";
  int rc = stage(c, s, m, &c->meta.id, staging, sizeof staging, points, err, sizeof err);
  if (rc) return fail_store(c, rc, "snapshot not restored", err);
  svc_coll_dir(c->svc, &c->meta.id, live, sizeof live);
  svc_coll_t *e = NULL;
  rc = svc_registry_acquire(c->svc, &c->meta, c->tenant.slug, c->db.name, &e, err, sizeof err);
  swap_t w = {.svc = c->svc, .staging = staging, .live = live};
  if (!rc) {
    for (int i = 0; i < 200; i++) { /* calls in flight end within ~1 s */
      rc = svc_registry_exclusive(e, 1, swap_dirs, &w, err, sizeof err);
      if (rc != AKIDB_EBUSY) break;
      struct timespec ts = {0, 5000000};
      nanosleep(&ts, NULL);
    }
    svc_coll_release(e);
  }
  if (rc) {
    akidb_vfs_remove_tree(akidb_vfs_local(), staging);
    return svc_fail_code(c, rc, err);
  }
  akidb_vfs_remove_tree(akidb_vfs_local(), w.old);
  return 0;
}

int svc_op_snapshot_restore(svc_call_t *c) {
  akidb_snapshot_t s;
  restore_ask_t a;
  if (svc_resolve_tenant(c, AKIDB_ACT_SNAPSHOT_RESTORE) || resolve_snapshot(c, &s) ||
      parse_restore(c, &s, &a))
    return -1;
  if (s.state != AKIDB_SNAPSHOT_READY)
    return svc_fail(c, AKIDB_ST_CONFLICT, "snapshot is %s, not ready: it cannot be restored",
                    akidb_snapshot_state_name(s.state));
  akidb_resource_t res = {.tenant_id = &c->tenant.id};
  if (svc_authorize(c, AKIDB_ACT_COLLECTION_CREATE, &res) ||
      (a.replace && svc_authorize(c, AKIDB_ACT_COLLECTION_DELETE, &res)))
    return -1;
  char err[512] = "";
  int rc = svc_cached_database(c->svc, &c->tenant.id, a.database, &c->db, err, sizeof err);
  if (rc == AKIDB_ENOTFOUND)
    return svc_fail(c, AKIDB_ST_NOT_FOUND, "database '%s' not found in tenant '%s'", a.database,
                    c->tenant.slug);
  if (rc) return svc_fail_code(c, rc, err);
  rc = svc_cached_collection(c->svc, &c->db.id, a.collection, &c->meta, err, sizeof err);
  if (rc && rc != AKIDB_ENOTFOUND) return svc_fail_code(c, rc, err);
  bool exists = rc == AKIDB_OK;
  if (exists && !a.replace)
    return svc_fail(c, AKIDB_ST_ALREADY_EXISTS,
                    "collection '%s' exists in database '%s': send \"replace\": true to "
                    "overwrite it, or name another collection",
                    a.collection, a.database);
  if (!exists && a.replace)
    return svc_fail(c, AKIDB_ST_NOT_FOUND, "collection '%s' not found in database '%s': "
                    "\"replace\" needs an existing collection", a.collection, a.database);
  char prefix[AKIDB_OBJECT_KEY_MAX];
  prefix_of(&s, prefix, sizeof prefix);
  snap_manifest_t m;
  rc = snap_read_manifest(c->svc->store, prefix, &m, err, sizeof err);
  if (rc) return fail_store(c, rc, "snapshot manifest not read", err);
  uint64_t points = 0;
  double t0 = clock_now_s();
  rc = a.replace ? restore_over(c, &s, &m, &points) : restore_new(c, &s, &m, a.collection, &points);
  obs_snapshot_observe("restore", clock_now_s() - t0, rc == 0);
  char target[AKIDB_AUDIT_TARGET_MAX + 1], details[512], id[AKIDB_UUID_STR_LEN + 1];
  akidb_uuid_format(&s.id, id);
  snprintf(target, sizeof target, "collection/%s/%s/%s", c->tenant.slug, a.database, a.collection);
  snprintf(details, sizeof details, "{\"snapshot\":\"%s\",\"points\":%" PRIu64 ",\"replace\":%s}",
           id, points, a.replace ? "true" : "false");
  audit(c, AKIDB_AUDIT_SNAPSHOT_RESTORE, target, rc == 0, details);
  if (rc) return -1;
  akidb_restore_result_t *r = &c->res->result.restore;
  r->snapshot = s.id;
  snprintf(r->database, sizeof r->database, "%s", a.database);
  snprintf(r->collection, sizeof r->collection, "%s", a.collection);
  r->points = points;
  r->replaced = a.replace;
  return a.replace ? svc_result(c) : svc_created(c);
}
