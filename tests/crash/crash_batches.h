/*
 * crash_batches.h — the crash loop's workload and its model. Every batch is
 * a pure function of (seed, batch id), so the writer can redo a batch that
 * was in flight when it was killed (identically), and the checker can
 * recompute exactly what the collection must hold from the last
 * acknowledged batch id alone.
 *
 * Batches come in groups of four (group g = batch / 4):
 *   phase 0  insert   new ids g<g>.a<i>, 100..400 of them
 *   phase 1  insert   new ids g<g>.b<i>
 *   phase 2  overwrite about half the ids of one group in the last
 *                     CB_WINDOW groups (re-creating ids deleted earlier)
 *   phase 3  delete   every id of group g - CB_WINDOW, and every 7th id of
 *                     this group's b batch
 * so the live set stays bounded (about 2 * CB_WINDOW insert batches) and
 * the state after batch N depends only on the batches of groups
 * group(N) - CB_WINDOW .. group(N): the model replays just those.
 */
#ifndef AKIDB_TESTS_CRASH_BATCHES_H
#define AKIDB_TESTS_CRASH_BATCHES_H

#include <stddef.h>
#include <stdint.h>

#define CB_WINDOW 16u      /* groups a point lives before its group is deleted */
#define CB_MIN_POINTS 100u /* ids per insert batch: CB_MIN_POINTS..CB_MAX_POINTS */
#define CB_MAX_POINTS 400u
#define CB_ID_MAX 48u      /* bytes of an id string, NUL included */
#define CB_PAYLOAD_MAX 160u
#define CB_TEXT_MAX 96u

typedef enum { CB_INSERT = 'i', CB_OVERWRITE = 'o', CB_DELETE = 'd' } cb_kind_t;

/* One point id: the insert batch (group, half) that created it, and its index. */
typedef struct {
  uint64_t group;
  uint32_t half; /* 0: the a batch, 1: the b batch */
  uint32_t index;
} cb_key_t;

/* One batch: its kind and the ids it upserts or deletes (no duplicates). */
typedef struct {
  uint64_t id;
  cb_kind_t kind;
  cb_key_t *keys;
  size_t n;
} cb_batch_t;

/* The kind of batch b. */
cb_kind_t cb_kind(uint64_t b);
const char *cb_kind_name(cb_kind_t k);
/* How many ids the insert batch (group, half) created. */
uint32_t cb_insert_count(uint64_t seed, uint64_t group, uint32_t half);

/* Builds batch b. 0, or -1 when out of memory. */
int cb_batch_make(uint64_t seed, uint64_t b, cb_batch_t *out);
void cb_batch_free(cb_batch_t *bt);

/* The id string of a key ("g12.a34"); returns its length. */
size_t cb_id(cb_key_t k, char *buf, size_t len);
/* Parses an id string; 0 on success, -1 if it is not one of ours. */
int cb_parse_id(const char *id, size_t len, cb_key_t *out);

/* What batch `version` wrote for key k: vector, payload JSON, optional text. */
void cb_vector(uint64_t seed, cb_key_t k, uint64_t version, uint32_t dim, float *out);
size_t cb_payload(cb_key_t k, uint64_t version, char *buf, size_t len);
/* The text, or 0 (and an empty buf) when this version has none. */
size_t cb_text(uint64_t seed, cb_key_t k, uint64_t version, char *buf, size_t len);
/* The batch id a payload names, or -1. */
int64_t cb_payload_batch(const char *payload, size_t len);

/* --------------------------------------------------------------- model -- */

/* One id's expected state: the batch whose value it holds (-1: absent) and
 * the last batch that touched it (-1: none in the window). */
typedef struct {
  int64_t version;
  int64_t last;
} cb_slot_t;

/* The expected state of ids of groups g0..g1 (ids of older groups are all
 * deleted by then). */
typedef struct {
  uint64_t seed;
  uint64_t g0, g1;
  cb_slot_t *slots; /* (g1 - g0 + 1) * 2 * CB_MAX_POINTS */
} cb_model_t;

/* The state after batches 0..last (last = -1: nothing), sized to also hold
 * batch last + 1. 0, or -1 when out of memory. */
int cb_model_build(uint64_t seed, int64_t last, cb_model_t *m);
void cb_model_free(cb_model_t *m);
/* The slot of key k, or NULL when k is outside the model (absent). */
cb_slot_t *cb_model_slot(const cb_model_t *m, cb_key_t k);
/* Applies a batch to the model. */
void cb_model_apply(cb_model_t *m, const cb_batch_t *bt);

#endif /* AKIDB_TESTS_CRASH_BATCHES_H */
