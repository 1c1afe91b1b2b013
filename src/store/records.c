/*
 * records.c — a collection's point records: label → record (an array indexed
 * by label) and id → label (open addressing with linear probing, tombstones,
 * the id's hash kept beside each slot so most probes compare no strings).
 * Not thread-safe: the collection's `lock` guards it (read to look up,
 * write to change). The tables start small (RECORDS_FIRST) and double; the
 * tables and every record the table holds are charged to its memory account
 * (a record from records_add until records_remove). Memory only;
 * durability is the log's and checkpoints'.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

#define EMPTY 0u
#define TOMB UINT64_MAX
#define RECORDS_FIRST 16u /* first size of the label array and the id table */

/* FNV-1a, then a final mix so low bits spread. */
uint32_t records_hash(const char *id, size_t len) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; i++) {
    h ^= (uint8_t)id[i];
    h *= 1099511628211ull;
  }
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return (uint32_t)h;
}

point_rec_t *records_new(uint64_t label, const char *id, size_t id_len, const char *payload,
                         size_t payload_len, const char *text, size_t text_len) {
  point_rec_t *r = malloc(sizeof *r + id_len + payload_len + text_len + 3);
  if (!r) return NULL;
  r->label = label;
  r->buf_pos = -1;
  r->id_len = (uint32_t)id_len;
  r->payload_len = payload ? (uint32_t)payload_len : 0;
  r->text_len = text ? (uint32_t)text_len : 0;
  r->has_payload = payload != NULL;
  r->has_text = text != NULL;
  r->hash = records_hash(id, id_len);
  char *p = r->data;
  memcpy(p, id, id_len);
  p[id_len] = 0;
  p += id_len + 1;
  if (r->payload_len) memcpy(p, payload, r->payload_len);
  p[r->payload_len] = 0;
  p += r->payload_len + 1;
  if (r->text_len) memcpy(p, text, r->text_len);
  p[r->text_len] = 0;
  return r;
}

static size_t rec_bytes(const point_rec_t *r) {
  return sizeof *r + r->id_len + r->payload_len + r->text_len + 3;
}

void records_init(records_t *t, akidb_memacct_t *mem) {
  memset(t, 0, sizeof *t);
  t->mem = mem;
}

void records_free(records_t *t) {
  for (uint64_t i = 0; i < t->recs_cap; i++) mem_free(t->mem, t->recs[i]);
  mem_free(t->mem, t->recs);
  mem_free(t->mem, t->slots);
  mem_free(t->mem, t->hashes);
  records_init(t, t->mem);
}

/* Rehashes into a table of `cap` slots (a power of two). */
static int rehash(records_t *t, uint64_t cap) {
  uint64_t *slots = mem_calloc(t->mem, cap, sizeof *slots);
  uint32_t *hashes = mem_calloc(t->mem, cap, sizeof *hashes);
  if (!slots || !hashes) {
    mem_free(t->mem, slots);
    mem_free(t->mem, hashes);
    return AKIDB_ENOMEM;
  }
  for (uint64_t i = 0; i < t->cap; i++) {
    uint64_t label = t->slots[i];
    if (label == EMPTY || label == TOMB) continue;
    uint64_t j = t->hashes[i] & (cap - 1);
    while (slots[j] != EMPTY) j = (j + 1) & (cap - 1);
    slots[j] = label;
    hashes[j] = t->hashes[i];
  }
  mem_free(t->mem, t->slots);
  mem_free(t->mem, t->hashes);
  t->slots = slots;
  t->hashes = hashes;
  t->cap = cap;
  t->dirty = t->used;
  return AKIDB_OK;
}

int records_reserve(records_t *t, uint64_t n, uint64_t max_label) {
  if (max_label >= t->recs_cap) {
    /* doubling, except the first reservation (e.g. a checkpoint's): exact */
    uint64_t cap = t->recs_cap ? t->recs_cap * 2 : RECORDS_FIRST;
    if (cap <= max_label) cap = max_label + 1;
    point_rec_t **recs = mem_realloc(t->mem, t->recs, cap * sizeof *recs);
    if (!recs) return AKIDB_ENOMEM;
    memset(recs + t->recs_cap, 0, (cap - t->recs_cap) * sizeof *recs);
    t->recs = recs;
    t->recs_cap = cap;
  }
  /* keep the table at most 70% full, counting tombstones */
  if ((t->dirty + n) * 10 >= t->cap * 7) {
    uint64_t cap = t->cap ? t->cap : RECORDS_FIRST;
    while ((t->used + n) * 10 >= cap * 5) cap *= 2;
    return rehash(t, cap);
  }
  return AKIDB_OK;
}

point_rec_t *records_find(const records_t *t, const char *id, size_t len, uint32_t hash) {
  if (!t->cap) return NULL;
  for (uint64_t j = hash & (t->cap - 1);; j = (j + 1) & (t->cap - 1)) {
    uint64_t label = t->slots[j];
    if (label == EMPTY) return NULL;
    if (label == TOMB || t->hashes[j] != hash) continue;
    point_rec_t *r = t->recs[label];
    if (r->id_len == len && memcmp(r->data, id, len) == 0) return r;
  }
}

void records_add(records_t *t, point_rec_t *r) {
  uint64_t j = r->hash & (t->cap - 1);
  while (t->slots[j] != EMPTY && t->slots[j] != TOMB) j = (j + 1) & (t->cap - 1);
  if (t->slots[j] == EMPTY) t->dirty++;
  t->slots[j] = r->label;
  t->hashes[j] = r->hash;
  t->used++;
  t->recs[r->label] = r;
  t->live++;
  t->bytes += rec_bytes(r);
  mem_charge(t->mem, (int64_t)mem_block_bytes(r));
}

void records_remove(records_t *t, point_rec_t *r) {
  for (uint64_t j = r->hash & (t->cap - 1);; j = (j + 1) & (t->cap - 1)) {
    if (t->slots[j] == EMPTY) break; /* not present: nothing to unlink */
    if (t->slots[j] != r->label) continue;
    t->slots[j] = TOMB;
    t->used--;
    break;
  }
  t->recs[r->label] = NULL;
  t->live--;
  t->bytes -= rec_bytes(r);
  mem_charge(t->mem, -(int64_t)mem_block_bytes(r));
}
