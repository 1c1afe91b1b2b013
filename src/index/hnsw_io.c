/*
 * hnsw_io.c — owns the HNSW file format: save (to a temporary file, fsync,
 * rename, fsync of the directory: a crash leaves the old file or the new
 * one) and load (header checks, one checksum over header and sections,
 * structural validation). Save takes the grow lock for writing so the file
 * is one consistent snapshot. Every file goes through a VFS (include/akidb/
 * vfs.h; NULL = the local filesystem). An image streamed for a checkpoint
 * is written from a frozen view (akidb_hnsw_freeze): deleted marks, counts
 * and entry point as of one moment, so deletes that run while it streams
 * (grow held for reading) do not reach it; inserts must be kept out.
 *
 * Format version 1, little-endian:
 *   header   96 bytes: magic "AKIHNSW1", u32 version, u32 header bytes,
 *            u32 dim, metric, m, ef_construction, ef_search, reserved,
 *            u64 seed, slots, live, deleted, u32 entry, i32 max_level,
 *            u64 upper words, u64 initial capacity
 *   labels   slots * u64
 *   levels   slots * u8
 *   flags    slots * u8 (bit 1: deleted)
 *   links0   slots * (1 + 2m) * u32
 *   upper    for each slot with level > 0: level * (1 + m) * u32
 *   vectors  slots * dim * f32
 *   trailer  u64 checksum (ck64 of everything above), magic "AKIHEND1"
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "akidb/vfs.h"

#include "index/hnsw_internal.h"
#include "util/checksum.h"

#define FILE_MAGIC "AKIHNSW1"
#define END_MAGIC "AKIHEND1"
#define FORMAT_VERSION 1u
#define HEADER_BYTES 96u

typedef struct {
  char magic[8];
  uint32_t version, header_bytes;
  uint32_t dim, metric, m, ef_construction, ef_search, reserved;
  uint64_t seed, slots, live, deleted;
  uint32_t entry;
  int32_t max_level;
  uint64_t upper_words;
  uint64_t initial_capacity;
} file_header_t;

_Static_assert(sizeof(file_header_t) == HEADER_BYTES, "header is 96 bytes");

#define SAY(...) (err ? snprintf(err, errlen, __VA_ARGS__) : 0)

/* ------------------------------------------------------------------ save -- */

typedef struct {
  akidb_write_fn write;
  void *ctx;
  ck64_t ck;
  int failed;
} writer_t;

static void put(writer_t *w, const void *p, size_t n) {
  if (w->failed || n == 0) return;
  ck64_update(&w->ck, p, n);
  w->failed = w->write(w->ctx, p, n);
}

/* What an image is written from: the slot count, the deleted marks and the
 * counts and entry point as they were at one moment (akidb_hnsw_freeze), so
 * deletes made while the image streams do not reach it. */
struct akidb_hnsw_frozen {
  uint32_t n;
  uint64_t live, upper_words;
  uint32_t entry;
  int max_level;
  uint8_t *deleted; /* n bytes: 1 if the slot was deleted */
};

static uint64_t upper_words(const akidb_hnsw_t *h, uint32_t n) {
  uint64_t words = 0;
  for (uint32_t s = 0; s < n; s++) words += (uint64_t)h->levels[s] * h->up_words;
  return words;
}

/* Freezes the index's marks and counts. Caller holds `grow` (either mode). */
static int freeze_locked(akidb_hnsw_t *h, akidb_hnsw_frozen_t **out) {
  akidb_hnsw_frozen_t *f = calloc(1, sizeof *f);
  uint32_t n = atomic_load(&h->n_slots);
  if (!f || !(f->deleted = malloc(n ? n : 1))) {
    free(f);
    return AKIDB_ENOMEM;
  }
  f->n = n;
  for (uint32_t s = 0; s < n; s++) {
    f->deleted[s] = (hnsw_flags(h, s) & FLAG_DELETED) ? 1 : 0;
    f->live += !f->deleted[s];
  }
  f->upper_words = upper_words(h, n);
  hnsw_read_entry(h, &f->entry, &f->max_level);
  *out = f;
  return AKIDB_OK;
}

int akidb_hnsw_freeze(akidb_hnsw_t *h, akidb_hnsw_frozen_t **out) {
  *out = NULL;
  pthread_rwlock_rdlock(&h->grow);
  int rc = freeze_locked(h, out);
  pthread_rwlock_unlock(&h->grow);
  return rc;
}

void akidb_hnsw_frozen_free(akidb_hnsw_frozen_t *f) {
  if (!f) return;
  free(f->deleted);
  free(f);
}

uint32_t akidb_hnsw_frozen_slots(const akidb_hnsw_frozen_t *f) { return f->n; }

int akidb_hnsw_frozen_slot(const akidb_hnsw_t *h, const akidb_hnsw_frozen_t *f, uint32_t s,
                           uint64_t *label, const float **vec) {
  if (s >= f->n || f->deleted[s] || !(hnsw_flags(h, s) & FLAG_READY)) return AKIDB_ENOTFOUND;
  *label = h->labels[s];
  *vec = hnsw_vec(h, s);
  return AKIDB_OK;
}

uint64_t akidb_hnsw_frozen_bytes(const akidb_hnsw_t *h, const akidb_hnsw_frozen_t *f) {
  return HEADER_BYTES + (uint64_t)f->n * (8 + 1 + 1 + h->l0_words * 4ull + (uint64_t)h->dim * 4) +
         f->upper_words * 4 + 16;
}

/* Streams the image of `f`. Caller holds `grow`; no insert ran since the
 * freeze (deletes may have: they only change marks, which come from f). */
static void write_body(akidb_hnsw_t *h, const akidb_hnsw_frozen_t *f, writer_t *w) {
  ck64_init(&w->ck);
  uint32_t n = f->n;
  file_header_t hd;
  memset(&hd, 0, sizeof hd);
  memcpy(hd.magic, FILE_MAGIC, 8);
  hd.version = FORMAT_VERSION;
  hd.header_bytes = HEADER_BYTES;
  hd.dim = h->dim;
  hd.metric = (uint32_t)h->p.metric;
  hd.m = h->m;
  hd.ef_construction = h->p.ef_construction;
  hd.ef_search = atomic_load(&h->ef_search);
  hd.seed = h->p.seed;
  hd.slots = n;
  hd.live = f->live;
  hd.deleted = n - f->live;
  hd.entry = f->entry;
  hd.max_level = f->max_level;
  hd.upper_words = f->upper_words;
  hd.initial_capacity = h->p.initial_capacity;
  put(w, &hd, sizeof hd);
  put(w, h->labels, (size_t)n * sizeof(uint64_t));
  put(w, h->levels, n);
  put(w, f->deleted, n);
  put(w, h->links0, (size_t)n * h->l0_words * sizeof(uint32_t));
  for (uint32_t s = 0; s < n; s++)
    put(w, h->upper[s], (size_t)h->levels[s] * h->up_words * sizeof(uint32_t));
  for (uint32_t s = 0; s < n; s++) put(w, hnsw_vec(h, s), (size_t)h->dim * sizeof(float));
  uint64_t sum = ck64_final(&w->ck);
  put(w, &sum, 8);
  put(w, END_MAGIC, 8);
}

/* akidb_write_fn over a VFS file: appends at the writer's offset. */
typedef struct {
  const akidb_vfs_t *vfs;
  akidb_vfs_file_t *f;
  uint64_t off;
  uint8_t *buf;
  size_t used, cap;
} vfs_sink_t;

static int sink_flush(vfs_sink_t *s) {
  struct iovec iov = {s->buf, s->used};
  int rc = akidb_vfs_write_all(s->vfs, s->f, &iov, 1, s->off, s->used, NULL);
  s->off += s->used;
  s->used = 0;
  return rc;
}

static int sink_write(void *ctx, const void *p, size_t n) {
  vfs_sink_t *s = ctx;
  const uint8_t *b = p;
  while (n) {
    if (s->used == s->cap) {
      int rc = sink_flush(s);
      if (rc) return rc;
    }
    size_t take = s->cap - s->used < n ? s->cap - s->used : n;
    memcpy(s->buf + s->used, b, take);
    s->used += take;
    b += take;
    n -= take;
  }
  return 0;
}

/* Writes the image to an open file under the write lock, then syncs it. */
static int save_to(akidb_hnsw_t *h, const akidb_vfs_t *vfs, akidb_vfs_file_t *f) {
  vfs_sink_t s = {.vfs = vfs, .f = f, .cap = 1 << 20};
  if (!(s.buf = malloc(s.cap))) return ENOMEM;
  writer_t w = {.write = sink_write, .ctx = &s};
  akidb_hnsw_frozen_t *fz = NULL;
  pthread_rwlock_wrlock(&h->grow);
  w.failed = freeze_locked(h, &fz) ? ENOMEM : 0;
  if (!w.failed) write_body(h, fz, &w);
  pthread_rwlock_unlock(&h->grow);
  akidb_hnsw_frozen_free(fz);
  if (!w.failed) w.failed = sink_flush(&s);
  if (!w.failed) w.failed = vfs->sync(vfs->ctx, f, 0);
  free(s.buf);
  return w.failed;
}

int akidb_hnsw_save_vfs(akidb_hnsw_t *h, const akidb_vfs_t *vfs, const char *path, char *err,
                        size_t errlen) {
  vfs = akidb_vfs_or_local(vfs);
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
    SAY("path is too long: %s", path);
    return AKIDB_EINVAL;
  }
  akidb_vfs_file_t *f = NULL;
  int rc = vfs->open(vfs->ctx, tmp, AKIDB_VFS_WRITE | AKIDB_VFS_CREATE | AKIDB_VFS_TRUNC, &f);
  if (rc) {
    SAY("cannot create %s: %s", tmp, strerror(rc));
    return AKIDB_EIO;
  }
  rc = save_to(h, vfs, f);
  int crc = vfs->close(vfs->ctx, f);
  if (!rc) rc = crc;
  if (!rc) rc = vfs->rename(vfs->ctx, tmp, path);
  if (!rc) rc = akidb_vfs_sync_parent(vfs, path);
  if (rc) {
    vfs->remove(vfs->ctx, tmp);
    SAY("cannot write %s: %s", path, strerror(rc));
    return AKIDB_EIO;
  }
  return AKIDB_OK;
}

int akidb_hnsw_save(akidb_hnsw_t *h, const char *path, char *err, size_t errlen) {
  return akidb_hnsw_save_vfs(h, NULL, path, err, errlen);
}

uint64_t akidb_hnsw_image_bytes(akidb_hnsw_t *h) {
  pthread_rwlock_rdlock(&h->grow);
  uint32_t n = atomic_load(&h->n_slots);
  uint64_t bytes = HEADER_BYTES +
                   (uint64_t)n * (8 + 1 + 1 + h->l0_words * 4ull + (uint64_t)h->dim * 4) +
                   upper_words(h, n) * 4 + 16;
  pthread_rwlock_unlock(&h->grow);
  return bytes;
}

int akidb_hnsw_write_frozen(akidb_hnsw_t *h, const akidb_hnsw_frozen_t *f, akidb_write_fn write,
                            void *ctx, char *err, size_t errlen) {
  writer_t w = {.write = write, .ctx = ctx};
  pthread_rwlock_rdlock(&h->grow);
  write_body(h, f, &w);
  pthread_rwlock_unlock(&h->grow);
  if (w.failed) {
    SAY("cannot write the index image: %s", strerror(w.failed));
    return AKIDB_EIO;
  }
  return AKIDB_OK;
}

int akidb_hnsw_write_image(akidb_hnsw_t *h, akidb_write_fn write, void *ctx, char *err,
                           size_t errlen) {
  akidb_hnsw_frozen_t *f = NULL;
  if (akidb_hnsw_freeze(h, &f)) {
    SAY("out of memory freezing the index");
    return AKIDB_ENOMEM;
  }
  int rc = akidb_hnsw_write_frozen(h, f, write, ctx, err, errlen);
  akidb_hnsw_frozen_free(f);
  return rc;
}

/* ------------------------------------------------------------------ load -- */

typedef struct {
  akidb_read_fn read;
  void *ctx;
  ck64_t ck;
  int short_read;
} reader_t;

/* Reads exactly n bytes into the checksum; a short read marks the reader. */
static void get(reader_t *r, void *p, size_t n) {
  if (r->short_read || n == 0) return;
  if (r->read(r->ctx, p, n)) {
    r->short_read = 1;
    return;
  }
  ck64_update(&r->ck, p, n);
}

/* akidb_read_fn over a VFS file, read ahead in blocks of `cap` bytes. */
typedef struct {
  const akidb_vfs_t *vfs;
  akidb_vfs_file_t *f;
  uint64_t off; /* file offset of buf[0] */
  uint8_t *buf;
  size_t pos, len, cap;
} vfs_source_t;

static int source_read(void *ctx, void *p, size_t n) {
  vfs_source_t *s = ctx;
  uint8_t *out = p;
  while (n) {
    if (s->pos == s->len) {
      s->off += s->len;
      s->pos = s->len = 0;
      int rc = s->vfs->pread(s->vfs->ctx, s->f, s->buf, s->cap, s->off, &s->len);
      if (rc) return rc;
      if (s->len == 0) return EIO; /* the file ends first */
    }
    size_t take = s->len - s->pos < n ? s->len - s->pos : n;
    memcpy(out, s->buf + s->pos, take);
    s->pos += take;
    out += take;
    n -= take;
  }
  return 0;
}

/* Expected file size for a header, or 0 when the numbers overflow. */
static uint64_t expected_size(const file_header_t *hd) {
  uint64_t n = hd->slots, l0 = 1 + 2ull * hd->m;
  if (n > HNSW_MAX_SLOTS || hd->upper_words > (1ull << 40)) return 0;
  return HEADER_BYTES + n * (8 + 1 + 1 + l0 * 4 + (uint64_t)hd->dim * 4) +
         hd->upper_words * 4 + 16;
}

/* Checks the header's numbers before anything is allocated from them. */
static int check_header(const file_header_t *hd, uint64_t file_size,
                        akidb_hnsw_params_t *p, char *err, size_t errlen) {
  if (hd->version != FORMAT_VERSION) {
    SAY("index file has format version %u; this build reads version %u",
        hd->version, FORMAT_VERSION);
    return AKIDB_EVERSION;
  }
  akidb_hnsw_params_default(p, hd->dim, (akidb_metric_t)hd->metric);
  p->m = hd->m;
  p->ef_construction = hd->ef_construction;
  p->ef_search = hd->ef_search;
  p->seed = hd->seed;
  p->initial_capacity = hd->initial_capacity;
  char why[200];
  if (hd->header_bytes != HEADER_BYTES || akidb_hnsw_params_validate(p, why, sizeof why)) {
    SAY("index header is corrupt: %s", hd->header_bytes != HEADER_BYTES ? "bad header size" : why);
    return AKIDB_ECORRUPT;
  }
  uint64_t want = expected_size(hd);
  if (want != file_size) {
    SAY("index file is %llu bytes but its header describes %llu: truncated or corrupt",
        (unsigned long long)file_size, (unsigned long long)want);
    return AKIDB_ECORRUPT;
  }
  return AKIDB_OK;
}

/* Reads the sections into a freshly reserved index. */
static int read_sections(akidb_hnsw_t *h, reader_t *r, const file_header_t *hd) {
  uint32_t n = (uint32_t)hd->slots;
  get(r, h->labels, (size_t)n * 8);
  get(r, h->levels, n);
  for (uint32_t s = 0; s < n && !r->short_read; s++) {
    uint8_t fl = 0;
    get(r, &fl, 1);
    if (fl > 1) return AKIDB_ECORRUPT;
    atomic_store_explicit(&h->flags[s], FLAG_READY | (fl ? FLAG_DELETED : 0), memory_order_relaxed);
  }
  get(r, h->links0, (size_t)n * h->l0_words * 4);
  uint64_t words = 0;
  for (uint32_t s = 0; s < n && !r->short_read; s++) {
    if (h->levels[s] > HNSW_MAX_LEVEL) return AKIDB_ECORRUPT;
    if (h->levels[s] == 0) continue;
    size_t cnt = (size_t)h->levels[s] * h->up_words;
    words += cnt;
    if (words > hd->upper_words || !(h->upper[s] = mem_malloc(&h->mem, cnt * 4)))
      return AKIDB_ECORRUPT;
    get(r, h->upper[s], cnt * 4);
  }
  for (uint32_t s = 0; s < n; s++) get(r, hnsw_vec(h, s), (size_t)h->dim * 4);
  atomic_store(&h->n_slots, n);
  return r->short_read || words != hd->upper_words ? AKIDB_ECORRUPT : AKIDB_OK;
}

/* Every list within bounds, entry consistent, labels unique among live. */
static int check_graph(akidb_hnsw_t *h, const file_header_t *hd) {
  uint32_t n = (uint32_t)hd->slots;
  uint64_t live = 0;
  for (uint32_t s = 0; s < n; s++) {
    for (int l = 0; l <= h->levels[s]; l++) {
      const uint32_t *lst = hnsw_links(h, s, l);
      if (lst[0] > hnsw_max_links(h, l)) return AKIDB_ECORRUPT;
      for (uint32_t i = 1; i <= lst[0]; i++)
        if (lst[i] >= n || h->levels[lst[i]] < l) return AKIDB_ECORRUPT;
    }
    if (hnsw_flags(h, s) & FLAG_DELETED) continue;
    live++;
    if (label_map_get(&h->map, h->labels[s]) != LABEL_MAP_NONE) return AKIDB_ECORRUPT;
    label_map_put(&h->map, h->labels[s], s);
  }
  if (live != hd->live || n - live != hd->deleted) return AKIDB_ECORRUPT;
  if (n == 0) return hd->entry == HNSW_NONE && hd->max_level == -1 ? AKIDB_OK : AKIDB_ECORRUPT;
  if (hd->entry >= n || hd->max_level != h->levels[hd->entry]) return AKIDB_ECORRUPT;
  h->entry = hd->entry;
  h->max_level = hd->max_level;
  atomic_store(&h->live, live);
  atomic_store(&h->deleted, n - live);
  return AKIDB_OK;
}

static int load_body(reader_t *r, uint64_t size, akidb_hnsw_t **out, char *err,
                     size_t errlen) {
  file_header_t hd;
  memset(&hd, 0, sizeof hd);
  if (size < 8 || r->read(r->ctx, hd.magic, 8) || memcmp(hd.magic, FILE_MAGIC, 8)) {
    SAY("not an AkiDB HNSW index file (bad magic)");
    return AKIDB_EFORMAT;
  }
  if (size < HEADER_BYTES || r->read(r->ctx, (char *)&hd + 8, HEADER_BYTES - 8)) {
    SAY("index file is truncated inside its header (%llu of %u bytes)",
        (unsigned long long)size, HEADER_BYTES);
    return AKIDB_ECORRUPT;
  }
  ck64_init(&r->ck);
  ck64_update(&r->ck, &hd, sizeof hd);
  akidb_hnsw_params_t p;
  int rc = check_header(&hd, size, &p, err, errlen);
  if (rc) return rc;
  akidb_hnsw_t *h;
  if ((rc = hnsw_alloc(&p, &h, err, errlen))) return rc;
  if ((rc = hnsw_reserve(h, hd.slots ? hd.slots : 1))) {
    akidb_hnsw_free(h);
    SAY("cannot allocate an index of %llu points", (unsigned long long)hd.slots);
    return rc;
  }
  rc = read_sections(h, r, &hd);
  uint64_t stored = 0;
  char end[8] = {0};
  uint64_t sum = ck64_final(&r->ck);
  if (rc == AKIDB_OK && (r->read(r->ctx, &stored, 8) || r->read(r->ctx, end, 8) ||
                         stored != sum || memcmp(end, END_MAGIC, 8)))
    rc = AKIDB_ECORRUPT;
  if (rc == AKIDB_OK) rc = check_graph(h, &hd);
  if (rc) {
    akidb_hnsw_free(h);
    SAY("index file is corrupt: checksum mismatch or inconsistent structure");
    return AKIDB_ECORRUPT;
  }
  *out = h;
  return AKIDB_OK;
}

int akidb_hnsw_load_vfs(const akidb_vfs_t *vfs, const char *path, akidb_hnsw_t **out, char *err,
                        size_t errlen) {
  *out = NULL;
  vfs = akidb_vfs_or_local(vfs);
  vfs_source_t src = {.vfs = vfs, .cap = 1 << 20};
  uint64_t size = 0;
  int e = vfs->open(vfs->ctx, path, AKIDB_VFS_READ, &src.f);
  if (!e) e = vfs->size(vfs->ctx, src.f, &size);
  if (!e && !(src.buf = malloc(src.cap))) e = ENOMEM;
  if (e) {
    SAY("cannot open %s: %s", path, strerror(e));
    vfs->close(vfs->ctx, src.f);
    return AKIDB_EIO;
  }
  reader_t r = {.read = source_read, .ctx = &src};
  int rc = load_body(&r, size, out, err, errlen);
  vfs->close(vfs->ctx, src.f);
  free(src.buf);
  return rc;
}

int akidb_hnsw_load(const char *path, akidb_hnsw_t **out, char *err, size_t errlen) {
  return akidb_hnsw_load_vfs(NULL, path, out, err, errlen);
}

int akidb_hnsw_read_image(akidb_read_fn read, void *ctx, uint64_t len, akidb_hnsw_t **out,
                          char *err, size_t errlen) {
  *out = NULL;
  reader_t r = {.read = read, .ctx = ctx};
  return load_body(&r, len, out, err, errlen);
}

/* ----------------------------------------------------------------- clone -- */

/* Copies every array of `h` into `c` (reserved for h's slots). The live
 * and deleted counts are taken from the flags as copied, so a delete that
 * runs on `h` meanwhile cannot leave the copy's counts out of step. */
static int copy_arrays(const akidb_hnsw_t *h, akidb_hnsw_t *c, uint32_t n) {
  memcpy(c->vecs, h->vecs, (size_t)n * h->stride * sizeof(float));
  memcpy(c->links0, h->links0, (size_t)n * h->l0_words * sizeof(uint32_t));
  memcpy(c->labels, h->labels, (size_t)n * sizeof(uint64_t));
  memcpy(c->levels, h->levels, n);
  for (uint32_t s = 0; s < n; s++) {
    uint8_t fl = hnsw_flags(h, s) & (FLAG_READY | FLAG_DELETED);
    atomic_store_explicit(&c->flags[s], fl, memory_order_relaxed);
    if (h->levels[s] == 0) continue;
    size_t bytes = (size_t)h->levels[s] * h->up_words * sizeof(uint32_t);
    if (!(c->upper[s] = mem_malloc(&c->mem, bytes))) return AKIDB_ENOMEM;
    memcpy(c->upper[s], h->upper[s], bytes);
  }
  uint64_t live = 0;
  for (uint32_t s = 0; s < n; s++) {
    if (hnsw_flags(c, s) & FLAG_DELETED) continue;
    if (label_map_put(&c->map, h->labels[s], s)) return AKIDB_ENOMEM;
    live++;
  }
  atomic_store(&c->live, live);
  atomic_store(&c->deleted, n - live);
  return AKIDB_OK;
}

int akidb_hnsw_clone(akidb_hnsw_t *h, akidb_hnsw_t **out) {
  *out = NULL;
  akidb_hnsw_t *c;
  int rc = hnsw_alloc(&h->p, &c, NULL, 0);
  if (rc) return rc;
  akidb_hnsw_set_memacct(c, h->mem.parent); /* the copy counts where h counts */
  atomic_store(&c->ef_search, atomic_load(&h->ef_search));
  pthread_rwlock_rdlock(&h->grow);
  uint32_t n = atomic_load(&h->n_slots);
  rc = hnsw_reserve(c, n ? n : 1);
  if (rc == AKIDB_OK) rc = copy_arrays(h, c, n);
  if (rc == AKIDB_OK) {
    atomic_store(&c->n_slots, n);
    hnsw_read_entry(h, &c->entry, &c->max_level);
  }
  pthread_rwlock_unlock(&h->grow);
  if (rc) {
    atomic_store(&c->n_slots, n); /* so free() releases the upper lists copied */
    akidb_hnsw_free(c);
    return rc;
  }
  *out = c;
  return AKIDB_OK;
}
