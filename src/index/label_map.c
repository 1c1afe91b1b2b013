/*
 * label_map.c — owns the label -> slot hash map of the indexes: linear
 * probing over a power-of-two table, tombstones on removal, rehash at 50%
 * load; the table is allocated through util/mem.c, charged to the map's
 * account. Callers serialise access.
 */
#include "index/label_map.h"

#include <stdlib.h>

#include "akidb/errors.h"

#define TOMBSTONE (LABEL_MAP_NONE - 1)

static inline size_t hash_key(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return (size_t)k;
}

void label_map_init(label_map_t *m, akidb_memacct_t *mem) {
  m->entries = NULL;
  m->cap = m->used = m->dirty = 0;
  m->mem = mem;
}

void label_map_free(label_map_t *m) {
  mem_free(m->mem, m->entries);
  label_map_init(m, m->mem);
}

/* Position of key, or of the empty cell that ends its probe sequence. */
static size_t probe(const label_map_t *m, uint64_t key) {
  size_t mask = m->cap - 1, i = hash_key(key) & mask;
  for (;;) {
    const label_map_entry_t *e = &m->entries[i];
    if (e->slot == LABEL_MAP_NONE) return i;
    if (e->slot != TOMBSTONE && e->key == key) return i;
    i = (i + 1) & mask;
  }
}

static int rehash(label_map_t *m, size_t new_cap) {
  label_map_entry_t *old = m->entries;
  size_t old_cap = m->cap;
  label_map_entry_t *fresh = mem_malloc(m->mem, new_cap * sizeof *fresh);
  if (!fresh) return AKIDB_ENOMEM;
  for (size_t i = 0; i < new_cap; i++) fresh[i].slot = LABEL_MAP_NONE;
  m->entries = fresh;
  m->cap = new_cap;
  m->dirty = m->used;
  for (size_t i = 0; i < old_cap; i++) {
    if (old[i].slot == LABEL_MAP_NONE || old[i].slot == TOMBSTONE) continue;
    m->entries[probe(m, old[i].key)] = old[i];
  }
  mem_free(m->mem, old);
  return AKIDB_OK;
}

int label_map_reserve(label_map_t *m, size_t n) {
  size_t cap = m->cap ? m->cap : 16;
  while (cap < 2 * n) cap *= 2; /* at most half full with n entries */
  if (cap == m->cap && m->dirty * 2 < cap) return AKIDB_OK;
  return rehash(m, cap);
}

uint32_t label_map_get(const label_map_t *m, uint64_t key) {
  if (m->cap == 0) return LABEL_MAP_NONE;
  return m->entries[probe(m, key)].slot;
}

int label_map_put(label_map_t *m, uint64_t key, uint32_t slot) {
  if ((m->dirty + 1) * 2 > m->cap) {
    int rc = label_map_reserve(m, m->used + 1);
    if (rc) return rc;
  }
  label_map_entry_t *e = &m->entries[probe(m, key)];
  if (e->slot == LABEL_MAP_NONE) {
    m->used++;
    m->dirty++;
  }
  e->key = key;
  e->slot = slot;
  return AKIDB_OK;
}

bool label_map_remove(label_map_t *m, uint64_t key) {
  if (m->cap == 0) return false;
  label_map_entry_t *e = &m->entries[probe(m, key)];
  if (e->slot == LABEL_MAP_NONE) return false;
  e->slot = TOMBSTONE;
  m->used--;
  return true;
}
