/*
 * store/text.c — owns a collection's BM25 index of its points' text
 * (include/akidb/text.h): built from the live records at the end of open
 * (the text is durable in the log and the checkpoints like everything
 * else, so the index needs no file of its own and survives any crash the
 * records survive), then kept with every applied upsert and delete, in log
 * order. Documents are keyed by the point's label, so a replaced point's
 * old document goes with its old label.
 *
 * Locking: `text_lock` (store_internal.h) for writing while the index
 * changes, taken after the records' `lock` is released, inside the apply
 * order. Memory: charged to the collection's account. An update that runs
 * out of memory leaves the index short of that write: it is marked
 * incomplete and text searches refuse (AKIDB_EUNAVAILABLE) until the
 * collection is reopened, which rebuilds it. Text that is not valid UTF-8
 * (never accepted by the service; possible in old data), or has more than
 * 2^32 - 2 terms, is indexed as a document without terms.
 */
#include <stdio.h>
#include <string.h>

#include "store/store_internal.h"

#define SAY(...) (err ? snprintf(err, errlen, __VA_ARGS__) : 0)

static void mark_incomplete(akidb_collection_t *c, const char *what) {
  if (!atomic_exchange(&c->text_incomplete, true))
    store_log(c, AKIDB_LOG_ERROR,
              "out of memory while %s: the text index misses it; text searches are refused "
              "until the collection is reopened",
              what);
}

/* Adds a document; an invalid text is a document without terms. */
static int add_document(akidb_collection_t *c, uint64_t label, const char *text, size_t len) {
  int rc = akidb_text_bm25_add(c->text, label, text, len, NULL);
  if (rc == AKIDB_EINVAL || rc == AKIDB_ELIMIT) rc = akidb_text_bm25_add(c->text, label, "", 0, NULL);
  return rc;
}

int store_text_build(akidb_collection_t *c, char *err, size_t errlen) {
  if (!c->opt.text_index) return AKIDB_OK;
  int rc = akidb_text_bm25_create(&c->opt.bm25, &c->mem, &c->text, err, errlen);
  for (uint64_t l = 1; rc == AKIDB_OK && l < c->next_label && l < c->rt.recs_cap; l++) {
    const point_rec_t *r = c->rt.recs[l];
    if (r && r->has_text) rc = add_document(c, l, rec_text(r), r->text_len);
  }
  if (rc == AKIDB_ENOMEM) SAY("out of memory while indexing the points' text");
  return rc;
}

void store_text_upsert(akidb_collection_t *c, const akidb_point_t *pts, uint32_t n,
                       uint64_t first, const uint64_t *old) {
  if (!c->text) return;
  if (!old) {
    mark_incomplete(c, "applying an upsert");
    return;
  }
  pthread_rwlock_wrlock(&c->text_lock);
  for (uint32_t i = 0; i < n; i++) {
    if (old[i] && akidb_text_bm25_contains(c->text, old[i])) akidb_text_bm25_remove(c->text, old[i]);
    if (pts[i].text && add_document(c, first + i, pts[i].text, pts[i].text_len) == AKIDB_ENOMEM)
      mark_incomplete(c, "indexing an upserted point's text");
  }
  pthread_rwlock_unlock(&c->text_lock);
}

void store_text_delete(akidb_collection_t *c, const uint64_t *labels, size_t n) {
  if (!c->text || n == 0) return;
  if (!labels) {
    mark_incomplete(c, "applying a delete");
    return;
  }
  pthread_rwlock_wrlock(&c->text_lock);
  for (size_t i = 0; i < n; i++)
    if (akidb_text_bm25_contains(c->text, labels[i])) akidb_text_bm25_remove(c->text, labels[i]);
  pthread_rwlock_unlock(&c->text_lock);
}
