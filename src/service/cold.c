/*
 * cold.c — owns the cold tier of collections and the dead-letter queue.
 *
 * Cold = only in the object store. Moving there (svc_cold_move), with the
 * collection closed and every user held off (svc_registry_exclusive):
 *   1. delete what earlier, unfinished uploads of it left ("cold/<id>/");
 *   2. upload its directory (tier/cold.c: files, then the manifest);
 *   3. record the manifest in the catalog (akidb_collection_meta_set_cold);
 *   4. delete the local directory.
 * Nothing local is deleted before the catalog holds a confirmed upload. A
 * crash after 3 leaves a stale local copy that the next start removes
 * (service.c); a crash before 3 leaves unreferenced objects that the next
 * move deletes (step 1). A failed upload leaves the collection warm and
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
 * The dead-letter queue's job runs every dead_letter_retry_ms while the
 * store's circuit breaker is not open: object deletes (a prefix no catalog
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

/* Steps 1–4 (see the top of the file); runs with the collection closed. */
static int upload_and_forget(void *ctx) {
  move_t *m = ctx;
  akidb_service_t *s = m->s;
  struct stat sb;
  if (stat(m->dir, &sb) != 0) {
    snprintf(m->err, sizeof m->err, "its data directory %.400s is missing", m->dir);
    return AKIDB_ENOTFOUND;
  }
  char old[AKIDB_OBJECT_KEY_MAX];
  cold_collection_prefix(m->id, old, sizeof old);
  int rc = cold_delete_prefix(s->store, old, m->err, sizeof m->err);
  if (!rc) rc = cold_upload(s->store, m->dir, m->id, m->key, sizeof m->key, &m->bytes, m->err,
                            sizeof m->err);
  if (rc) return rc;
  rc = akidb_collection_meta_set_cold(s->cat, &m->e->id, m->key, m->err, sizeof m->err);
  if (rc) {
    char gen[AKIDB_OBJECT_KEY_MAX], ignored[256];
    cold_generation_prefix(m->key, gen, sizeof gen);
    cold_delete_prefix(s->store, gen, ignored, sizeof ignored);
    return rc;
  }
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
  rc = akidb_collection_meta_set_cold(s->cat, &e->id, NULL, err, errlen);
  if (rc) return rc; /* the local copy stays; the next load tries the catalog again */
  svc_catalog_changed(s);
  pthread_mutex_lock(&e->mu);
  e->cold[0] = '\0';
  atomic_store(&e->is_cold, false);
  pthread_mutex_unlock(&e->mu);
  obs_cold_move("warm", true);
  char gen[AKIDB_OBJECT_KEY_MAX], why[512];
  cold_generation_prefix(key, gen, sizeof gen);
  if (cold_delete_prefix(s->store, gen, why, sizeof why))
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

/* Retries one cold upload: only of a collection still warm, unused and not
 * pinned hot; otherwise the entry has no work left. */
static int retry_cold(akidb_service_t *s, const akidb_dead_letter_t *d, char *err, size_t errlen) {
  if (!d->has_collection) return AKIDB_OK;
  svc_coll_t *e = svc_registry_peek(&s->reg, &d->collection_id);
  if (!e) return AKIDB_OK; /* deleted meanwhile */
  int rc = AKIDB_OK, st = atomic_load(&e->state);
  bool warm = st == SVC_UNLOADED || st == SVC_FAILED; /* in use again: nothing to move */
  if (warm && !atomic_load(&e->is_cold) && atomic_load(&e->pin) != AKIDB_TIER_HOT)
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
    if (rc == AKIDB_OK) return; /* a success removed the entry (svc_cold_move) */
  }
  char why[256];
  if (rc == AKIDB_OK) {
    akidb_dead_letter_remove(s->cat, d->seq, why, sizeof why);
    return;
  }
  if (rc == AKIDB_EBUSY) snprintf(err, sizeof err, "the collection was in use");
  akidb_dead_letter_put(s->cat, d->kind, d->has_collection ? &d->collection_id : NULL,
                        d->object_key, err, retry_at(s, d->attempts + 1), NULL, why, sizeof why);
}

void svc_dead_letters_pass(akidb_service_t *s) {
  akidb_objstore_stats_t st;
  akidb_objstore_stats(s->store, &st);
  if (st.breaker_state == AKIDB_OBJSTORE_BREAKER_OPEN) return; /* wait for the cool-down */
  akidb_dead_letter_list_t l;
  char err[256];
  if (akidb_dead_letter_list(s->cat, now_ms() + 1, 0, DLQ_BATCH, &l, err, sizeof err)) return;
  for (size_t i = 0; i < l.count; i++) retry_one(s, &l.items[i]);
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
  (void)err;
  (void)errlen;
  akidb_job_init(&s->dlq_job, dlq_slice, s);
  akidb_pool_submit_after(s->pool, &s->dlq_job,
                          s->opt.dead_letter_retry_ms ? s->opt.dead_letter_retry_ms : 30000);
  return AKIDB_OK;
}

void svc_dead_letters_stop(akidb_service_t *s) {
  if (s->pool) akidb_pool_cancel(s->pool, &s->dlq_job);
}
