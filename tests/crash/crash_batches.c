/*
 * crash_batches.c — owns the crash loop's deterministic workload (which ids
 * each batch touches, and the vector, payload and text each version of a
 * point carries) and the model of what the collection must hold after the
 * last acknowledged batch. See crash_batches.h for the batch schedule.
 * Pure functions of (seed, batch id); no I/O, no global state.
 */
#include "crash_batches.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64's finaliser. */
static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static uint64_t mix2(uint64_t a, uint64_t b) { return mix(mix(a) ^ b); }
static uint64_t mix3(uint64_t a, uint64_t b, uint64_t c) { return mix(mix2(a, b) ^ c); }

static uint64_t key_code(cb_key_t k) {
  return (k.group << 20) ^ ((uint64_t)k.half << 19) ^ k.index;
}

cb_kind_t cb_kind(uint64_t b) {
  switch (b % 4) {
  case 2: return CB_OVERWRITE;
  case 3: return CB_DELETE;
  default: return CB_INSERT;
  }
}

const char *cb_kind_name(cb_kind_t k) {
  switch (k) {
  case CB_INSERT: return "insert";
  case CB_OVERWRITE: return "overwrite";
  case CB_DELETE: return "delete";
  }
  return "?";
}

uint32_t cb_insert_count(uint64_t seed, uint64_t group, uint32_t half) {
  uint64_t r = mix3(seed, group * 2 + half, 0x1f);
  return CB_MIN_POINTS + (uint32_t)(r % (CB_MAX_POINTS - CB_MIN_POINTS + 1));
}

/* ------------------------------------------------------------- batches -- */

static void push(cb_batch_t *bt, uint64_t group, uint32_t half, uint32_t index) {
  bt->keys[bt->n++] = (cb_key_t){.group = group, .half = half, .index = index};
}

/* Every id of the insert batch (group, half); `every`/`rest` select i % every == rest. */
static void push_ids(cb_batch_t *bt, uint64_t seed, uint64_t group, uint32_t half,
                     uint32_t every, uint32_t rest) {
  uint32_t n = cb_insert_count(seed, group, half);
  for (uint32_t i = 0; i < n; i++)
    if (i % every == rest) push(bt, group, half, i);
}

/* About half the ids of one of the last CB_WINDOW groups (all still live). */
static void push_overwrite(cb_batch_t *bt, uint64_t seed, uint64_t b, uint64_t g) {
  uint64_t span = g + 1 < CB_WINDOW ? g + 1 : CB_WINDOW;
  uint64_t target = g - mix3(seed, b, 2) % span;
  for (uint32_t half = 0; half < 2; half++) {
    uint32_t n = cb_insert_count(seed, target, half);
    for (uint32_t i = 0; i < n; i++)
      if (mix3(seed ^ b, target * 2 + half, i) & 1) push(bt, target, half, i);
  }
}

int cb_batch_make(uint64_t seed, uint64_t b, cb_batch_t *out) {
  memset(out, 0, sizeof *out);
  out->id = b;
  out->kind = cb_kind(b);
  /* at most two whole groups' worth of ids */
  out->keys = malloc(4 * CB_MAX_POINTS * sizeof *out->keys);
  if (!out->keys) return -1;
  uint64_t g = b / 4;
  switch (b % 4) {
  case 0:
  case 1:
    push_ids(out, seed, g, (uint32_t)(b % 4), 1, 0);
    break;
  case 2:
    push_overwrite(out, seed, b, g);
    break;
  default:
    if (g >= CB_WINDOW) {
      push_ids(out, seed, g - CB_WINDOW, 0, 1, 0);
      push_ids(out, seed, g - CB_WINDOW, 1, 1, 0);
    }
    push_ids(out, seed, g, 1, 7, 3);
    break;
  }
  return 0;
}

void cb_batch_free(cb_batch_t *bt) {
  free(bt->keys);
  memset(bt, 0, sizeof *bt);
}

/* ------------------------------------------------------------ contents -- */

size_t cb_id(cb_key_t k, char *buf, size_t len) {
  int n = snprintf(buf, len, "g%" PRIu64 ".%c%" PRIu32, k.group, k.half ? 'b' : 'a', k.index);
  return n < 0 ? 0 : (size_t)n;
}

int cb_parse_id(const char *id, size_t len, cb_key_t *out) {
  char buf[CB_ID_MAX], half, extra;
  unsigned long long group;
  unsigned index;
  if (len == 0 || len >= sizeof buf) return -1;
  memcpy(buf, id, len);
  buf[len] = 0;
  if (sscanf(buf, "g%llu.%c%u%c", &group, &half, &index, &extra) != 3) return -1;
  if ((half != 'a' && half != 'b') || index >= CB_MAX_POINTS) return -1;
  *out = (cb_key_t){.group = group, .half = half == 'b', .index = index};
  char again[CB_ID_MAX];
  return cb_id(*out, again, sizeof again) == len && memcmp(again, id, len) == 0 ? 0 : -1;
}

void cb_vector(uint64_t seed, cb_key_t k, uint64_t version, uint32_t dim, float *out) {
  uint64_t state = mix3(seed, key_code(k), version);
  for (uint32_t i = 0; i < dim; i++) {
    state = mix(state);
    out[i] = (float)((double)(state >> 40) / (double)(1u << 24) * 2.0 - 1.0);
  }
}

size_t cb_payload(cb_key_t k, uint64_t version, char *buf, size_t len) {
  char id[CB_ID_MAX];
  cb_id(k, id, sizeof id);
  int n = snprintf(buf, len, "{\"batch\":%" PRIu64 ",\"kind\":\"%s\",\"id\":\"%s\"}", version,
                   cb_kind_name(cb_kind(version)), id);
  return n < 0 ? 0 : (size_t)n;
}

size_t cb_text(uint64_t seed, cb_key_t k, uint64_t version, char *buf, size_t len) {
  buf[0] = 0;
  if (mix3(seed, key_code(k), version ^ 0x7e) % 3 == 0) return 0;
  char id[CB_ID_MAX];
  cb_id(k, id, sizeof id);
  int n = snprintf(buf, len, "text of %s written by batch %" PRIu64, id, version);
  return n < 0 ? 0 : (size_t)n;
}

int64_t cb_payload_batch(const char *payload, size_t len) {
  static const char key[] = "{\"batch\":";
  if (!payload || len <= sizeof key - 1 || memcmp(payload, key, sizeof key - 1) != 0) return -1;
  int64_t v = 0;
  for (size_t i = sizeof key - 1; i < len && payload[i] >= '0' && payload[i] <= '9'; i++)
    v = v * 10 + (payload[i] - '0');
  return v;
}

/* --------------------------------------------------------------- model -- */

cb_slot_t *cb_model_slot(const cb_model_t *m, cb_key_t k) {
  if (k.group < m->g0 || k.group > m->g1 || k.half > 1 || k.index >= CB_MAX_POINTS) return NULL;
  uint64_t row = (k.group - m->g0) * 2 + k.half;
  return &m->slots[row * CB_MAX_POINTS + k.index];
}

void cb_model_apply(cb_model_t *m, const cb_batch_t *bt) {
  for (size_t i = 0; i < bt->n; i++) {
    cb_slot_t *s = cb_model_slot(m, bt->keys[i]);
    if (!s) continue; /* an older group: deleted before the window's end */
    if (bt->kind == CB_DELETE) {
      if (s->version < 0) continue;
      s->version = -1;
      s->last = (int64_t)bt->id;
    } else {
      s->version = (int64_t)bt->id;
      s->last = (int64_t)bt->id;
    }
  }
}

int cb_model_build(uint64_t seed, int64_t last, cb_model_t *m) {
  memset(m, 0, sizeof *m);
  m->seed = seed;
  uint64_t g_last = last >= 0 ? (uint64_t)last / 4 : 0;
  m->g0 = g_last >= CB_WINDOW ? g_last - CB_WINDOW : 0;
  m->g1 = (uint64_t)(last + 1) / 4;
  size_t n = (size_t)(m->g1 - m->g0 + 1) * 2 * CB_MAX_POINTS;
  m->slots = malloc(n * sizeof *m->slots);
  if (!m->slots) return -1;
  for (size_t i = 0; i < n; i++) m->slots[i] = (cb_slot_t){.version = -1, .last = -1};
  for (int64_t b = (int64_t)(m->g0 * 4); b <= last; b++) {
    cb_batch_t bt;
    if (cb_batch_make(seed, (uint64_t)b, &bt)) {
      cb_model_free(m);
      return -1;
    }
    cb_model_apply(m, &bt);
    cb_batch_free(&bt);
  }
  return 0;
}

void cb_model_free(cb_model_t *m) {
  free(m->slots);
  memset(m, 0, sizeof *m);
}
