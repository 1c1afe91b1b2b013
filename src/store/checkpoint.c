/*
 * checkpoint.c — a collection's checkpoint files: the state after log
 * record <seq>, i.e. every live point and the HNSW graph, so that opening
 * loads them directly (no re-insertion) and replays only the log after seq.
 *
 * Protocol (each step a point where a crash is survivable; tests inject a
 * crash after each through akidb_collection_test_crash_checkpoint_after):
 *   1. write checkpoint.tmp             (applies and indexing paused only
 *                                        while the state is streamed out)
 *   2. fsync it
 *   3. rename it to checkpoint-<seq>.akc
 *   4. fsync the directory              (now it is the checkpoint)
 *   5. delete older checkpoints and the log segments it covers
 * Opening uses the newest checkpoint-*.akc, deletes a leftover
 * checkpoint.tmp (find_newest) and, once the newest is loaded, the older
 * checkpoints.
 *
 * Format version 1, little-endian:
 *   header   64 bytes: magic "AKICKPT1", u32 version, u32 header bytes,
 *            u32 dim, u32 metric, u64 seq, u64 next_label, u64 records,
 *            u64 pending, u32 sections (3), u32 crc32c of the 60 bytes before
 *   section  u32 kind, u32 zero, u64 body bytes, body, u32 crc32c(body), u32 kind
 *     1 records  per point: u64 label, u32 id_len, u32 payload_len|flag,
 *                u32 text_len|flag, id, payload, text (flag bit 31: present)
 *     2 pending  per buffered point: u64 label, dim × f32 (prepared)
 *     3 graph    the HNSW image (akidb_hnsw_write_image; own checksum too)
 *   trailer  "AKICEND1"
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/crc32c.h"
#include "store/store_internal.h"

#define SAY(...) (err ? snprintf(err, errlen, __VA_ARGS__) : 0)
#define MAGIC "AKICKPT1"
#define END_MAGIC "AKICEND1"
#define VERSION 1u
#define HEADER_BYTES 64u
#define PRESENT 0x80000000u

enum { SEC_RECORDS = 1, SEC_PENDING = 2, SEC_GRAPH = 3 };
static const char *const section_names[] = {"", "records", "pending", "graph"};

_Atomic int checkpoint_crash_step;

typedef struct {
  char magic[8];
  uint32_t version, header_bytes, dim, metric;
  uint64_t seq, next_label, records, pending;
  uint32_t sections, crc;
} ck_header_t;
_Static_assert(sizeof(ck_header_t) == HEADER_BYTES, "checkpoint header is 64 bytes");

/* ----------------------------------------------------------------- writer -- */

typedef struct {
  int fd;
  uint8_t *buf;
  size_t used, cap;
  uint32_t crc;
  int failed; /* errno of the first failure */
} ck_writer_t;

static void cw_flush(ck_writer_t *w) {
  size_t off = 0;
  while (!w->failed && off < w->used) {
    ssize_t n = write(w->fd, w->buf + off, w->used - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) w->failed = n < 0 ? errno : EIO;
    else off += (size_t)n;
  }
  w->used = 0;
}

static void cw_put(ck_writer_t *w, const void *p, size_t n) {
  w->crc = crc32c(w->crc, p, n);
  const uint8_t *s = p;
  while (n && !w->failed) {
    if (w->used == w->cap) cw_flush(w);
    size_t take = w->cap - w->used < n ? w->cap - w->used : n;
    memcpy(w->buf + w->used, s, take);
    w->used += take;
    s += take;
    n -= take;
  }
}

static int cw_sink(void *ctx, const void *p, size_t n) {
  ck_writer_t *w = ctx;
  cw_put(w, p, n);
  return w->failed;
}

static void sec_begin(ck_writer_t *w, uint32_t kind, uint64_t len) {
  uint32_t hd[2] = {kind, 0};
  cw_put(w, hd, 8);
  cw_put(w, &len, 8);
  w->crc = 0;
}

static void sec_end(ck_writer_t *w, uint32_t kind) {
  uint32_t tr[2] = {w->crc, kind};
  cw_put(w, tr, 8);
}

static uint64_t records_body_bytes(const akidb_collection_t *c) {
  uint64_t bytes = 0;
  for (uint64_t l = 1; l < c->next_label && l < c->rt.recs_cap; l++) {
    const point_rec_t *r = c->rt.recs[l];
    if (r) bytes += 20 + r->id_len + r->payload_len + r->text_len;
  }
  return bytes;
}

static void write_records(ck_writer_t *w, const akidb_collection_t *c) {
  sec_begin(w, SEC_RECORDS, records_body_bytes(c));
  for (uint64_t l = 1; l < c->next_label && l < c->rt.recs_cap; l++) {
    const point_rec_t *r = c->rt.recs[l];
    if (!r) continue;
    uint32_t lens[3] = {r->id_len, r->payload_len | (r->has_payload ? PRESENT : 0),
                        r->text_len | (r->has_text ? PRESENT : 0)};
    cw_put(w, &r->label, 8);
    cw_put(w, lens, 12);
    cw_put(w, r->data, r->id_len);
    if (r->payload_len) cw_put(w, rec_payload(r), r->payload_len);
    if (r->text_len) cw_put(w, rec_text(r), r->text_len);
  }
  sec_end(w, SEC_RECORDS);
}

/* Points of the buffer not yet in the graph (indexers are paused). */
static uint64_t count_pending(const akidb_collection_t *c) {
  uint64_t n = 0;
  for (uint64_t pos = c->buf.head; pos < c->buf.tail; pos++)
    if (atomic_load(abuf_state(&c->buf, pos)) == ITEM_PENDING) n++;
  return n;
}

static void write_pending(ck_writer_t *w, const akidb_collection_t *c, uint64_t n) {
  sec_begin(w, SEC_PENDING, n * (8 + (uint64_t)c->dim * 4));
  for (uint64_t pos = c->buf.head; pos < c->buf.tail; pos++) {
    if (atomic_load(abuf_state(&c->buf, pos)) != ITEM_PENDING) continue;
    uint64_t label = abuf_label(&c->buf, pos);
    cw_put(w, &label, 8);
    cw_put(w, abuf_vec(&c->buf, pos), (size_t)c->dim * 4);
  }
  sec_end(w, SEC_PENDING);
}

static void write_all(ck_writer_t *w, akidb_collection_t *c, uint64_t seq, char *err,
                      size_t errlen) {
  uint64_t pending = count_pending(c);
  ck_header_t hd;
  memset(&hd, 0, sizeof hd);
  memcpy(hd.magic, MAGIC, 8);
  hd.version = VERSION;
  hd.header_bytes = HEADER_BYTES;
  hd.dim = c->dim;
  hd.metric = (uint32_t)c->opt.index.metric;
  hd.seq = seq;
  hd.next_label = c->next_label;
  hd.records = c->rt.live;
  hd.pending = pending;
  hd.sections = 3;
  hd.crc = crc32c(0, &hd, offsetof(ck_header_t, crc));
  cw_put(w, &hd, sizeof hd);
  write_records(w, c);
  write_pending(w, c, pending);
  sec_begin(w, SEC_GRAPH, akidb_hnsw_image_bytes(c->graph));
  if (!w->failed && akidb_hnsw_write_image(c->graph, cw_sink, w, err, errlen) && !w->failed)
    w->failed = EIO;
  sec_end(w, SEC_GRAPH);
  cw_put(w, END_MAGIC, 8);
  cw_flush(w);
}

static int sync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int rc = fsync(fd) ? errno : 0;
  close(fd);
  return rc;
}

/* Whether the test hook asks for a crash after `step`. */
static bool crash_after(int step) {
  int want = step;
  return atomic_compare_exchange_strong(&checkpoint_crash_step, &want, 0);
}

/* Deletes the checkpoint-* files other than `keep` (a leftover checkpoint.tmp
 * is not one of them: find_newest removes it when the collection opens). */
static void remove_other_checkpoints(const char *dir, const char *keep) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char path[4400];
  while ((e = readdir(d))) {
    if (strncmp(e->d_name, "checkpoint-", 11) != 0 || strcmp(e->d_name, keep) == 0) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
}

/* Streams the state at the current applied seq into `fd`. */
static int stream_state(akidb_collection_t *c, int fd, uint64_t *seq, char *err,
                        size_t errlen) {
  ck_writer_t w = {.fd = fd, .cap = 1 << 20};
  if (!(w.buf = malloc(w.cap))) return ENOMEM;
  pthread_mutex_lock(&c->apply_lock);
  pthread_rwlock_wrlock(&c->index_gate);
  pthread_rwlock_rdlock(&c->lock);
  *seq = c->applied_seq;
  write_all(&w, c, *seq, err, errlen);
  pthread_rwlock_unlock(&c->lock);
  pthread_rwlock_unlock(&c->index_gate);
  pthread_mutex_unlock(&c->apply_lock);
  free(w.buf);
  return w.failed;
}

/* Steps 1–4; on success *size is the file's size. */
static int write_file(akidb_collection_t *c, uint64_t *seq, uint64_t *size, char *name,
                      size_t name_len, char *err, size_t errlen) {
  char tmp[4400], path[4400];
  snprintf(tmp, sizeof tmp, "%s/checkpoint.tmp", c->dir);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    SAY("cannot create %s: %s", tmp, strerror(errno));
    return AKIDB_EIO;
  }
  int rc = stream_state(c, fd, seq, err, errlen);
  struct stat st;
  if (!rc && fstat(fd, &st)) rc = errno;
  if (!rc && crash_after(1)) rc = -1;
  if (!rc && fdatasync(fd)) rc = errno;
  close(fd);
  if (!rc && crash_after(2)) rc = -1;
  snprintf(name, name_len, "checkpoint-%020" PRIu64 ".akc", *seq);
  snprintf(path, sizeof path, "%s/%s", c->dir, name);
  if (!rc && rename(tmp, path)) rc = errno;
  if (!rc && crash_after(3)) rc = -1;
  if (!rc && (rc = sync_dir(c->dir)) != 0) {
    /* renamed but maybe not durable: the next open may load it or the old
     * one, both consistent with the log; the log is kept either way */
    SAY("checkpoint %s written but the directory fsync failed: %s", path, strerror(rc));
    return AKIDB_EIO;
  }
  if (!rc && crash_after(4)) rc = -1;
  if (rc == -1) {
    SAY("checkpoint stopped by the test hook");
    return AKIDB_EIO;
  }
  if (rc) {
    unlink(tmp);
    SAY("cannot write checkpoint %s: %s", path, strerror(rc));
    return AKIDB_EIO;
  }
  *size = (uint64_t)st.st_size;
  return AKIDB_OK;
}

int checkpoint_write(akidb_collection_t *c, char *err, size_t errlen) {
  double t0 = store_now();
  uint64_t seq, size;
  char name[64];
  int rc = write_file(c, &seq, &size, name, sizeof name, err, errlen);
  if (rc) return rc;
  c->checkpoint_seq = seq;
  c->checkpoint_bytes = size;
  c->checkpoints++;
  c->last_checkpoint_seconds = store_now() - t0;
  c->last_checkpoint_time = store_now();
  if (crash_after(5)) {
    SAY("checkpoint stopped by the test hook");
    return AKIDB_EIO;
  }
  remove_other_checkpoints(c->dir, name);
  char why[512] = "";
  if (wal_roll(c->wal, why, sizeof why) || wal_remove_upto(c->wal, seq, why, sizeof why))
    store_log(c, AKIDB_LOG_WARN, "checkpoint at seq %llu written, but old log segments stay: %s",
              (unsigned long long)seq, why);
  store_log(c, AKIDB_LOG_DEBUG, "checkpoint at seq %llu: %llu bytes in %.3f s",
            (unsigned long long)seq, (unsigned long long)size, c->last_checkpoint_seconds);
  return AKIDB_OK;
}

int akidb_collection_checkpoint(akidb_collection_t *c, char *err, size_t errlen) {
  pthread_mutex_lock(&c->ckpt_lock);
  int rc;
  pthread_mutex_lock(&c->apply_lock);
  bool current = c->applied_seq == c->checkpoint_seq;
  pthread_mutex_unlock(&c->apply_lock);
  if (current) rc = AKIDB_OK; /* the newest checkpoint already holds this state */
  else rc = checkpoint_write(c, err, errlen);
  pthread_mutex_unlock(&c->ckpt_lock);
  return rc;
}

/* ----------------------------------------------------------------- reader -- */

typedef struct {
  FILE *f;
  const char *path;
  uint64_t off; /* offset of the next byte */
  uint32_t crc;
  int bad; /* short read */
} ck_reader_t;

static int cr_get(ck_reader_t *r, void *p, size_t n) {
  if (r->bad) return EIO;
  if (n && fread(p, 1, n, r->f) != n) {
    r->bad = 1;
    return EIO;
  }
  r->crc = crc32c(r->crc, p, n);
  r->off += n;
  return 0;
}

static int cr_source(void *ctx, void *p, size_t n) { return cr_get(ctx, p, n); }

#define CORRUPT(r, ...)                                                               \
  do {                                                                                \
    char what_[256];                                                                  \
    snprintf(what_, sizeof what_, __VA_ARGS__);                                       \
    SAY("checkpoint %s is corrupt at offset %llu: %s", (r)->path,                     \
        (unsigned long long)(r)->off, what_);                                         \
    return AKIDB_ECORRUPT;                                                            \
  } while (0)

/* Reads a section header; checks kind and that its length fits the file. */
static int section_open(ck_reader_t *r, uint32_t kind, uint64_t *len, uint64_t file_size,
                        char *err, size_t errlen) {
  uint32_t hd[2];
  if (cr_get(r, hd, 8) || cr_get(r, len, 8)) CORRUPT(r, "file ends inside a section header");
  if (hd[0] != kind || hd[1] != 0)
    CORRUPT(r, "expected the %s section, found kind %u", section_names[kind], hd[0]);
  if (*len > file_size - r->off) CORRUPT(r, "the %s section runs past the end of the file",
                                         section_names[kind]);
  r->crc = 0;
  return AKIDB_OK;
}

static int section_close(ck_reader_t *r, uint32_t kind, char *err, size_t errlen) {
  uint32_t want = r->crc, tr[2];
  if (cr_get(r, tr, 8)) CORRUPT(r, "file ends inside the %s section", section_names[kind]);
  if (tr[0] != want || tr[1] != kind)
    CORRUPT(r, "checksum mismatch in the %s section", section_names[kind]);
  return AKIDB_OK;
}

static int read_records(akidb_collection_t *c, ck_reader_t *r, const ck_header_t *hd,
                        uint64_t size, char *err, size_t errlen) {
  uint64_t len;
  int rc = section_open(r, SEC_RECORDS, &len, size, err, errlen);
  if (rc) return rc;
  if (records_reserve(&c->rt, hd->records, hd->next_label)) return AKIDB_ENOMEM;
  char *scratch = malloc(AKIDB_POINT_ID_MAX + 2ull * AKIDB_PAYLOAD_MAX);
  if (!scratch) return AKIDB_ENOMEM;
  uint64_t end = r->off + len;
  for (uint64_t i = 0; i < hd->records && rc == AKIDB_OK; i++) {
    uint64_t label;
    uint32_t lens[3];
    if (cr_get(r, &label, 8) || cr_get(r, lens, 12)) { rc = -1; break; }
    uint32_t il = lens[0], pl = lens[1] & ~PRESENT, tl = lens[2] & ~PRESENT;
    if (label == 0 || label >= hd->next_label || c->rt.recs[label] || il == 0 ||
        il > AKIDB_POINT_ID_MAX || pl > AKIDB_PAYLOAD_MAX || tl > AKIDB_TEXT_MAX ||
        r->off + il + pl + tl > end) { rc = -1; break; }
    if (cr_get(r, scratch, (size_t)il + pl + tl)) { rc = -1; break; }
    point_rec_t *rec = records_new(label, scratch, il, (lens[1] & PRESENT) ? scratch + il : NULL,
                                   pl, (lens[2] & PRESENT) ? scratch + il + pl : NULL, tl);
    if (!rec) { rc = AKIDB_ENOMEM; break; }
    if (records_find(&c->rt, scratch, il, rec->hash)) { free(rec); rc = -1; break; }
    records_add(&c->rt, rec);
  }
  free(scratch);
  if (rc == AKIDB_ENOMEM) return rc;
  if (rc || r->off != end) CORRUPT(r, "malformed point record in the records section");
  return section_close(r, SEC_RECORDS, err, errlen);
}

static int read_pending(akidb_collection_t *c, ck_reader_t *r, const ck_header_t *hd,
                        uint64_t size, char *err, size_t errlen) {
  uint64_t len;
  int rc = section_open(r, SEC_PENDING, &len, size, err, errlen);
  if (rc) return rc;
  if (len != hd->pending * (8 + (uint64_t)c->dim * 4))
    CORRUPT(r, "the pending section's length does not match its %llu points",
            (unsigned long long)hd->pending);
  if (abuf_reserve(&c->buf, hd->pending)) return AKIDB_ENOMEM;
  float *v = malloc((size_t)c->dim * 4);
  if (!v) return AKIDB_ENOMEM;
  for (uint64_t i = 0; i < hd->pending && rc == AKIDB_OK; i++) {
    uint64_t label;
    if (cr_get(r, &label, 8) || cr_get(r, v, (size_t)c->dim * 4)) rc = -1;
    point_rec_t *rec = rc ? NULL : records_get(&c->rt, label);
    if (!rec || rec->buf_pos >= 0) rc = -1;
    else rec->buf_pos = (int64_t)abuf_append(&c->buf, label, v);
  }
  free(v);
  if (rc) CORRUPT(r, "a pending point names no record");
  return section_close(r, SEC_PENDING, err, errlen);
}

static int read_graph(akidb_collection_t *c, ck_reader_t *r, uint64_t size, char *err,
                      size_t errlen) {
  uint64_t len, start;
  int rc = section_open(r, SEC_GRAPH, &len, size, err, errlen);
  if (rc) return rc;
  start = r->off;
  char why[256] = "";
  rc = akidb_hnsw_read_image(cr_source, r, len, &c->graph, why, sizeof why);
  if (rc == AKIDB_ENOMEM) return rc;
  if (rc || r->off != start + len) CORRUPT(r, "graph section: %s", why);
  /* every record that is not pending must be in the graph */
  for (uint64_t l = 1; l < c->next_label && l < c->rt.recs_cap; l++) {
    point_rec_t *rec = c->rt.recs[l];
    if (rec && rec->buf_pos < 0 && !akidb_hnsw_contains(c->graph, l))
      CORRUPT(r, "point with label %llu is neither pending nor in the graph",
              (unsigned long long)l);
  }
  return section_close(r, SEC_GRAPH, err, errlen);
}

static int read_header(akidb_collection_t *c, ck_reader_t *r, ck_header_t *hd, char *err,
                       size_t errlen) {
  if (cr_get(r, hd, sizeof hd->magic) || memcmp(hd->magic, MAGIC, 8)) {
    SAY("%s is not an AkiDB checkpoint file", r->path);
    return AKIDB_EFORMAT;
  }
  if (cr_get(r, (char *)hd + 8, HEADER_BYTES - 8)) CORRUPT(r, "file ends inside the header");
  if (hd->version != VERSION) {
    SAY("checkpoint %s has format version %u; this build reads version %u", r->path,
        hd->version, VERSION);
    return AKIDB_EVERSION;
  }
  if (hd->crc != crc32c(0, hd, offsetof(ck_header_t, crc)) || hd->header_bytes != HEADER_BYTES ||
      hd->sections != 3 || hd->next_label == 0)
    CORRUPT(r, "header checksum mismatch");
  if (hd->dim != c->dim || hd->metric != (uint32_t)c->opt.index.metric) {
    SAY("checkpoint %s holds dimension %u metric %s, not %u %s", r->path, hd->dim,
        akidb_metric_name((akidb_metric_t)hd->metric), c->dim,
        akidb_metric_name(c->opt.index.metric));
    return AKIDB_EINVAL;
  }
  return AKIDB_OK;
}

static int load_file(akidb_collection_t *c, const char *path, uint64_t *points, char *err,
                     size_t errlen) {
  ck_reader_t r = {.path = path, .f = fopen(path, "rb")};
  struct stat st;
  if (!r.f || fstat(fileno(r.f), &st)) {
    SAY("cannot open %s: %s", path, strerror(errno));
    if (r.f) fclose(r.f);
    return AKIDB_EIO;
  }
  setvbuf(r.f, NULL, _IOFBF, 4 << 20);
  ck_header_t hd;
  uint64_t size = (uint64_t)st.st_size;
  char end[8];
  c->next_label = 1;
  int rc = read_header(c, &r, &hd, err, errlen);
  if (!rc) c->next_label = hd.next_label;
  if (!rc) rc = read_records(c, &r, &hd, size, err, errlen);
  if (!rc) rc = read_pending(c, &r, &hd, size, err, errlen);
  if (!rc) rc = read_graph(c, &r, size, err, errlen);
  if (!rc && (cr_get(&r, end, 8) || memcmp(end, END_MAGIC, 8) || r.off != size)) {
    SAY("checkpoint %s is corrupt at offset %llu: bad trailer", path, (unsigned long long)r.off);
    rc = AKIDB_ECORRUPT;
  }
  fclose(r.f);
  if (rc == AKIDB_ENOMEM) SAY("out of memory loading checkpoint %s", path);
  if (rc) return rc;
  c->checkpoint_seq = hd.seq;
  c->checkpoint_bytes = size;
  *points = hd.records;
  return AKIDB_OK;
}

/* Finds the newest checkpoint-<seq>.akc; removes checkpoint.tmp leftovers. */
static int find_newest(const char *dir, char *name, size_t name_len) {
  DIR *d = opendir(dir);
  if (!d) return errno;
  struct dirent *e;
  uint64_t best = 0;
  bool found = false;
  while ((e = readdir(d))) {
    unsigned long long seq;
    char tail[8];
    if (sscanf(e->d_name, "checkpoint-%20llu.%7s", &seq, tail) == 2 && strcmp(tail, "akc") == 0 &&
        (!found || seq > best)) {
      best = seq;
      found = true;
      snprintf(name, name_len, "%s", e->d_name);
    }
  }
  closedir(d);
  char tmp[4400];
  snprintf(tmp, sizeof tmp, "%s/checkpoint.tmp", dir);
  unlink(tmp);
  return found ? 0 : ENOENT;
}

int checkpoint_load(akidb_collection_t *c, uint64_t *points, char *err, size_t errlen) {
  *points = 0;
  char name[256], path[4400];
  int rc = find_newest(c->dir, name, sizeof name);
  if (rc == ENOENT) return AKIDB_OK;
  if (rc) {
    SAY("cannot list %s: %s", c->dir, strerror(rc));
    return AKIDB_EIO;
  }
  snprintf(path, sizeof path, "%s/%s", c->dir, name);
  if ((rc = load_file(c, path, points, err, errlen))) return rc;
  c->checkpoints = 0;
  remove_other_checkpoints(c->dir, name);
  return AKIDB_OK;
}
