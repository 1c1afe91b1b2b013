/*
 * cold.c — owns the cold tier of collections and the dead-letter queue.
 *
 * Cold = only in the object store. Moving there (svc_cold_move), with the
 * collection closed and every user held off (svc_registry_exclusive):
 *   1. delete what earlier, unfinished uploads of it left ("cold/<id>/"),
 *      and queue an intent to delete the new generation (an object_delete
 *      dead letter due in an hour, or at the next start);
 *   2. upload its directory (tier/cold.c: files, then the manifest);
 *   3. record the manifest in the catalog (akidb_collection_meta_set_cold)
 *      and drop the intent;
 *   4. delete the local directory.
 * Nothing local is deleted before the catalog holds a confirmed upload. A
 * crash after 3 leaves a stale local copy that the next start removes
 * (service.c); a crash before 3 leaves unreferenced objects that the
 * intent deletes (an object delete never touches a prefix the catalog
 * names). A failed upload leaves the collection warm and
 * queues a cold_upload dead letter.
 *
 * Coming back (svc_cold_fetch, on the first use: registry.c's load):
 *   1. download into <id>.download (checksums verified, fsynced) unless the
 *      local directory is there already (a crash after step 2);
 *   2. rename it to <id> and sync the parent;
 *   3. forget the copy in the catalog;
 *   4. delete the remote generation (queued as an object_delete dead letter
 *      when the store fails).
 *
 * The dead-letter queue's job runs every dead_letter_retry_ms (one entry
 * at a time while the store's circuit breaker is not closed): object deletes (a prefix no catalog
 * row refers to) and cold uploads (of collections still warm and unused).
 * Each failure counts an attempt and backs off exponentially (at most an
 * hour). Entries survive restarts (the catalog).
 *
 * Locking: the registry's states; the job runs on one worker at a time.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "obs/metrics.h"
#include "service/svc_internal.h"
#include "tier/cold.h"

#define DLQ_BATCH 32           /* entries one pass looks at */
#define DLQ_BACKOFF_MAX_MS (3600ll * 1000)
#define UPLOAD_INTENT_MS (3600ll * 1000) /* an upload's own intent: due after an hour */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(akidb_service_t *s, akidb_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(akidb_service_t *s, akidb_log_level_t level, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (s->opt.log) s->opt.log(s->opt.log_ctx, level, msg);
  else fprintf(stderr, "akidb: %s\n", msg);
}

/* When the next attempt of an entry that failed `attempts` times is due. */
static int64_t retry_at(const akidb_service_t *s, uint32_t attempts) {
  int64_t wait = (int64_t)(s->opt.dead_letter_retry_ms ? s->opt.dead_letter_retry_ms : 30000);
  for (uint32_t i = 1; i < attempts && wait < DLQ_BACKOFF_MAX_MS; i++) wait *= 2;
  return now_ms() + (wait < DLQ_BACKOFF_MAX_MS ? wait : DLQ_BACKOFF_MAX_MS);
}

static void queue(akidb_service_t *s, akidb_dead_letter_kind_t kind, const akidb_uuid_t *id,
                  const char *key, const char *why) {
  char err[256];
  if (akidb_dead_letter_put(s->cat, kind, id, key, why, retry_at(s, 1), NULL, err, sizeof err))
    say(s, AKIDB_LOG_ERROR, "could not queue %s of %s: %s", akidb_dead_letter_kind_name(kind), key,
        err);
}

/* ----------------------------------------------------------------- move -- */

typedef struct {
  akidb_service_t *s;
  svc_coll_t *e;
  char id[AKIDB_UUID_STR_LEN + 1];
  char dir[4096];
  char key[AKIDB_OBJECT_KEY_MAX + 1];
  uint64_t bytes;
  char err[512];
} move_t;

/* After a failed upload: deletes what reached the store of generation
 * `gen` and drops its intent, or, when the store is down too, makes the
 * intent due with the queue's next retry (not an hour later), so the
 * leftovers go as soon as the store is back. */
static void forget_generation(akidb_service_t *s, const akidb_uuid_t *id, const char *gen) {
  char err[256], ignored[256];
  if (strncmp(gen, "cold/", 5) != 0) return; /* never a prefix wider than one generation */
  if (cold_delete_prefix(s->store, gen, err, sizeof err) == AKIDB_OK)
    akidb_dead_letter_remove_key(s->cat, AKIDB_DEAD_LETTER_OBJECT_DELETE, gen, ignored,
                                 sizeof ignored);
  else
    akidb_dead_letter_put(s->cat, AKIDB_DEAD_LETTER_OBJECT_DELETE, id, gen, err, retry_at(s, 1),
                          NULL, ignored, sizeof ignored);
}

/* Steps 1–4 (see the top of the file); runs with the collection closed. */
static int upload_and_forget(void *ctx) {
  move_t *m = ctx;
  akidb_service_t *s = m->s;
  struct stat sb;
  if (stat(m->dir, &sb) != 0) {
    snprintf(m->err, sizeof m->err, "its data directory %.400s is missing", m->dir);
    return AKIDB_ENOTFOUND;
  }
  char old[AKIDB_OBJECT_KEY_MAX], gen[AKIDB_OBJECT_KEY_MAX] = "", ignored[256];
  cold_collection_prefix(m->id, old, sizeof old);
  int rc = cold_delete_prefix(s->store, old, m->err, sizeof m->err);
  if (!rc && (rc = cold_new_generation(m->id, gen, sizeof gen)))
    snprintf(m->err, sizeof m->err, "no new generation for %s", m->id);
  /* An intent: the generation is deleted later unless the catalog comes to
   * name it (a crash mid-upload leaves no orphan objects for good). */
  if (!rc)
    rc = akidb_dead_letter_put(s->cat, AKIDB_DEAD_LETTER_OBJECT_DELETE, &m->e->id, gen,
                               "an upload that did not finish", now_ms() + UPLOAD_INTENT_MS,
                               NULL, m->err, sizeof m->err);
  bool intent = rc == AKIDB_OK; /* from here on, objects of `gen` may exist */
  if (!rc) rc = cold_upload(s->store, m->dir, m->id, gen, m->key, sizeof m->key, &m->bytes,
                            m->err, sizeof m->err);
  if (!rc) rc = akidb_collection_meta_set_cold(s->cat, &m->e->id, m->key, m->err, sizeof m->err);
  if (rc) {
    if (intent) forget_generation(s, &m->e->id, gen);
    return rc;
  }
  akidb_dead_letter_remove_key(s->cat, AKIDB_DEAD_LETTER_OBJECT_DELETE, gen, ignored,
                               sizeof ignored);
  pthread_mutex_lock(&m->e->mu);
  snprintf(m->e->cold, sizeof m->e->cold, "%s", m->key);
  atomic_store(&m->e->is_cold, true);
  pthread_mutex_unlock(&m->e->mu);
  svc_catalog_changed(s);
  int e = akidb_vfs_remove_tree(akidb_vfs_local(), m->dir);
  if (e) say(s, AKIDB_LOG_WARN, "collection %s is cold, but its local copy %s stays until the next "
             "start: %s", m->id, m->dir, strerror(e));
  return AKIDB_OK;
}

int svc_cold_move(akidb_service_t *s, svc_coll_t *e, int held, char *err, size_t errlen) {
  if (atomic_load(&e->is_cold)) return AKIDB_OK;
  move_t *m = calloc(1, sizeof *m);
  if (!m) return snprintf(err, errlen, "out of memory"), AKIDB_ENOMEM;
  m->s = s;
  m->e = e;
  akidb_uuid_format(&e->id, m->id);
  svc_coll_dir(s, &e->id, m->dir, sizeof m->dir);
  svc_coll_figures_t f;
  svc_coll_figures(&s->reg, e, &f); /* keeps its figures known while cold */
  int rc = svc_registry_exclusive(e, held, upload_and_forget, m, err, errlen);
  if (rc && m->err[0]) snprintf(err, errlen, "%s", m->err);
  char prefix[AKIDB_OBJECT_KEY_MAX];
  cold_collection_prefix(m->id, prefix, sizeof prefix);
  if (rc == AKIDB_OK) {
    char ignored[256];
    akidb_dead_letter_remove_key(s->cat, AKIDB_DEAD_LETTER_COLD_UPLOAD, prefix, ignored,
                                 sizeof ignored);
    obs_cold_move("cold", true);
    say(s, AKIDB_LOG_INFO, "collection %s/%s/%s went cold: %llu bytes uploaded", e->tenant,
        e->database, e->name, (unsigned long long)m->bytes);
  } else if (rc != AKIDB_EBUSY && rc != AKIDB_ENOTFOUND) {
    obs_cold_move("cold", false);
    queue(s, AKIDB_DEAD_LETTER_COLD_UPLOAD, &e->id, prefix, err);
    say(s, AKIDB_LOG_WARN, "collection %s/%s/%s stays warm: its upload failed (%s); queued for "
        "a retry", e->tenant, e->database, e->name, err);
  }
  free(m);
  return rc;
}

/* ---------------------------------------------------------------- fetch -- */

static int rename_into_place(akidb_service_t *s, const char *from, const char *to, char *err,
                             size_t errlen) {
  const akidb_vfs_t *vfs = akidb_vfs_local();
  int e = vfs->rename(vfs->ctx, from, to);
  if (!e) e = vfs->sync_dir(vfs->ctx, s->coll_dir);
  if (e) return snprintf(err, errlen, "cannot move %s into place: %s", from, strerror(e)), AKIDB_EIO;
  return AKIDB_OK;
}

int svc_cold_fetch(akidb_service_t *s, svc_coll_t *e, const char *dir, char *err,
                   size_t errlen) {
  char key[AKIDB_OBJECT_KEY_MAX + 1], tmp[4200];
  pthread_mutex_lock(&e->mu);
  snprintf(key, sizeof key, "%s", e->cold);
  pthread_mutex_unlock(&e->mu);
  struct stat sb;
  int rc = AKIDB_OK;
  if (stat(dir, &sb) != 0) {
    snprintf(tmp, sizeof tmp, "%s.download", dir);
    akidb_vfs_remove_tree(akidb_vfs_local(), tmp);
    uint64_t bytes = 0;
    rc = cold_download(s->store, key, tmp, &bytes, err, errlen);
    if (!rc) rc = rename_into_place(s, tmp, dir, err, errlen);
    if (rc) {
      akidb_vfs_remove_tree(akidb_vfs_local(), tmp);
      obs_cold_move("warm", false);
      return rc;
    }
  }
  /* An intent first (due in an hour or at the next start, so no queue pass
   * drops it while the catalog still names the copy): once the catalog
   * forgets the remote copy, nothing else names it, and a crash before its
   * delete must still see it deleted. */
  char gen[AKIDB_OBJECT_KEY_MAX], why[512];
  cold_generation_prefix(key, gen, sizeof gen);
  if (akidb_dead_letter_put(s->cat, AKIDB_DEAD_LETTER_OBJECT_DELETE, &e->id, gen,
                            "a remote copy that went warm", now_ms() + UPLOAD_INTENT_MS, NULL,
                            why, sizeof why))
    return snprintf(err, errlen, "cannot record the remote copy's removal: %s", why), AKIDB_EIO;
  rc = akidb_collection_meta_set_cold(s->cat, &e->id, NULL, err, errlen);
  if (rc) return rc; /* the local copy stays; the next load tries the catalog again */
  svc_catalog_changed(s);
  pthread_mutex_lock(&e->mu);
  e->cold[0] = '\0';
  atomic_store(&e->is_cold, false);
  pthread_mutex_unlock(&e->mu);
  obs_cold_move("warm", true);
  if (cold_delete_prefix(s->store, gen, why, sizeof why) == AKIDB_OK)
    akidb_dead_letter_remove_key(s->cat, AKIDB_DEAD_LETTER_OBJECT_DELETE, gen, why, sizeof why);
  else
    queue(s, AKIDB_DEAD_LETTER_OBJECT_DELETE, &e->id, gen, why);
  return AKIDB_OK;
}

void svc_cold_forget(akidb_service_t *s, const akidb_uuid_t *id) {
  char text[AKIDB_UUID_STR_LEN + 1], prefix[AKIDB_OBJECT_KEY_MAX], why[512];
  akidb_uuid_format(id, text);
  cold_collection_prefix(text, prefix, sizeof prefix);
  if (cold_delete_prefix(s->store, prefix, why, sizeof why))
    queue(s, AKIDB_DEAD_LETTER_OBJECT_DELETE, NULL, prefix, why);
  char ignored[256];
  akidb_dead_letter_remove_key(s->cat, AKIDB_DEAD_LETTER_COLD_UPLOAD, prefix, ignored,
                               sizeof ignored);
}

void svc_tenant_objects_forget(akidb_service_t *s, const akidb_uuid_t *tenant) {
  static const char *const kinds[] = {"snapshots", "uploads"};
  char text[AKIDB_UUID_STR_LEN + 1], prefix[AKIDB_OBJECT_KEY_MAX], why[512];
  akidb_uuid_format(tenant, text);
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    snprintf(prefix, sizeof prefix, "%s/%s/", kinds[i], text);
    if (cold_delete_prefix(s->store, prefix, why, sizeof why))
      queue(s, AKIDB_DEAD_LETTER_OBJECT_DELETE, NULL, prefix, why);
  }
}

/* ------------------------------------------------------- dead letters -- */

/* An object delete may run unless a collection's live cold copy is under
 * the prefix (it went cold again since the entry was queued). */
static bool still_referenced(akidb_service_t *s, const akidb_dead_letter_t *d) {
  if (!d->has_collection) return false;
  akidb_collection_meta_t m;
  char err[256];
  if (akidb_collection_meta_get(s->cat, &d->collection_id, &m, err, sizeof err)) return false;
  return m.cold_manifest[0] &&
         strncmp(m.cold_manifest, d->object_key, strlen(d->object_key)) == 0;
}

/* Retries one cold upload, unless the collection is gone, cold already or
 * pinned hot since (then the entry has no work left). A collection loaded
 * again meanwhile is closed for the move when nobody uses it (AKIDB_EBUSY
 * otherwise: the entry waits for a later pass). */
static int retry_cold(akidb_service_t *s, const akidb_dead_letter_t *d, char *err, size_t errlen) {
  if (!d->has_collection) return AKIDB_OK;
  svc_coll_t *e = svc_registry_peek(&s->reg, &d->collection_id);
  if (!e) return AKIDB_OK; /* deleted meanwhile */
  int rc = AKIDB_OK;
  if (!atomic_load(&e->is_cold) && atomic_load(&e->pin) != AKIDB_TIER_HOT)
    rc = svc_cold_move(s, e, 1, err, errlen);
  svc_coll_release(e);
  return rc;
}

static void retry_one(akidb_service_t *s, const akidb_dead_letter_t *d) {
  char err[512] = "";
  int rc = AKIDB_OK;
  if (d->kind == AKIDB_DEAD_LETTER_OBJECT_DELETE) {
    if (!still_referenced(s, d)) rc = cold_delete_prefix(s->store, d->object_key, err, sizeof err);
  } else {
    rc = retry_cold(s, d, err, sizeof err);
  }
  char why[256];
  if (rc == AKIDB_OK) {
    akidb_dead_letter_remove(s->cat, d->seq, why, sizeof why);
    return;
  }
  /* a collection in use is no failure of the store: no longer backoff for it */
  if (rc == AKIDB_EBUSY) snprintf(err, sizeof err, "the collection was in use");
  int64_t next = retry_at(s, rc == AKIDB_EBUSY ? 1 : d->attempts + 1);
  akidb_dead_letter_put(s->cat, d->kind, d->has_collection ? &d->collection_id : NULL,
                        d->object_key, err, next, NULL, why, sizeof why);
}

static bool breaker_closed(akidb_service_t *s) {
  akidb_objstore_stats_t st;
  akidb_objstore_stats(s->store, &st);
  return st.breaker_state == AKIDB_OBJSTORE_BREAKER_CLOSED;
}

/* While the breaker is not closed only the first due entry is tried: its
 * calls fail at once during the cool-down and are the probe after it (the
 * breaker only half-opens when a call comes); once it closes, the rest. */
void svc_dead_letters_pass(akidb_service_t *s) {
  akidb_dead_letter_list_t l;
  char err[256];
  if (akidb_dead_letter_list(s->cat, now_ms() + 1, 0, DLQ_BATCH, &l, err, sizeof err)) return;
  for (size_t i = 0; i < l.count && (i == 0 || breaker_closed(s)); i++) retry_one(s, &l.items[i]);
  akidb_dead_letter_list_free(&l);
}

static bool dlq_slice(void *ctx) {
  akidb_service_t *s = ctx;
  svc_dead_letters_pass(s);
  akidb_pool_submit_after(s->pool, &s->dlq_job,
                          s->opt.dead_letter_retry_ms ? s->opt.dead_letter_retry_ms : 30000);
  return false;
}

int svc_dead_letters_start(akidb_service_t *s, char *err, size_t errlen) {
  /* At start no upload of a previous process runs: every entry is due. */
  int rc = akidb_dead_letter_all_due(s->cat, err, errlen);
  if (rc) return rc;
  akidb_job_init(&s->dlq_job, dlq_slice, s);
  akidb_pool_submit_after(s->pool, &s->dlq_job,
                          s->opt.dead_letter_retry_ms ? s->opt.dead_letter_retry_ms : 30000);
  return AKIDB_OK;
}

void svc_dead_letters_stop(akidb_service_t *s) {
  if (s->pool) akidb_pool_cancel(s->pool, &s->dlq_job);
}

/* ------------------------------------------------------ status routes -- */

int svc_op_system_object_store(svc_call_t *c) {
  if (svc_require_system_admin(c, AKIDB_ACT_SYSTEM_READ)) return -1;
  akidb_object_store_result_t *r = &c->res->result.object_store;
  akidb_objstore_stats(c->svc->store, &r->stats);
  char err[256];
  int rc = akidb_dead_letter_count(c->svc->cat, &r->dead_letters, err, sizeof err);
  if (rc) return svc_fail_code(c, rc, err);
  const char *endpoint = akidb_objstore_endpoint(c->svc->store);
  snprintf(r->kind, sizeof r->kind, "%s", akidb_objstore_kind(c->svc->store));
  snprintf(r->endpoint, sizeof r->endpoint, "%s", endpoint ? endpoint : "");
  return svc_result(c);
}

int svc_op_system_dead_letters(svc_call_t *c) {
  const akidb_dead_letter_args_t *a = c->req->args;
  if (a->limit > 1000)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "query parameter 'limit' must be 1..1000");
  if (a->after < 0)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "query parameter 'after' must be the 'next' "
                    "of the previous page (a non-negative integer)");
  if (svc_require_system_admin(c, AKIDB_ACT_SYSTEM_READ)) return -1;
  char err[256];
  int rc = akidb_dead_letter_list(c->svc->cat, 0, a->after, a->limit,
                                  &c->res->result.dead_letters.list, err, sizeof err);
  return rc ? svc_fail_code(c, rc, err) : svc_result(c);
}
