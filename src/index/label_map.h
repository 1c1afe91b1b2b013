/*
 * label_map.h — open-addressing hash map from a 64-bit label to a 32-bit
 * slot, used by the HNSW and flat indexes. Not thread-safe: the owning index
 * guards it with its own mutex.
 */
#ifndef AKIDB_LABEL_MAP_H
#define AKIDB_LABEL_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/mem.h"

#define LABEL_MAP_NONE UINT32_MAX

typedef struct {
  uint64_t key;
  uint32_t slot; /* LABEL_MAP_NONE = empty; LABEL_MAP_NONE-1 = tombstone */
} label_map_entry_t;

typedef struct {
  label_map_entry_t *entries;
  size_t cap;   /* power of two, or 0 */
  size_t used;  /* live entries */
  size_t dirty; /* live + tombstones */
  akidb_memacct_t *mem; /* charged for `entries`; NULL: not counted */
} label_map_t;

/* An empty map whose table is charged to `mem` (may be NULL). */
void label_map_init(label_map_t *m, akidb_memacct_t *mem);
void label_map_free(label_map_t *m);

/* Slot of `key`, or LABEL_MAP_NONE. */
uint32_t label_map_get(const label_map_t *m, uint64_t key);

/* Sets key -> slot (inserting or replacing). Returns 0 or AKIDB_ENOMEM. */
int label_map_put(label_map_t *m, uint64_t key, uint32_t slot);

/* Removes `key`; returns whether it was present. */
bool label_map_remove(label_map_t *m, uint64_t key);

/* Makes room for `n` live entries without rehashing. 0 or AKIDB_ENOMEM. */
int label_map_reserve(label_map_t *m, size_t n);


#endif /* AKIDB_LABEL_MAP_H */
