/*
 * test_vfs.c — the storage seam (include/akidb/vfs.h): the local VFS does
 * what its table says (open flags, positional reads and writes, list,
 * rename, remove, stat, directory locks, maps, the helpers), and faults
 * injected through a wrapping VFS (fault_vfs.h) reach the collection as the
 * durability rules say: a failed log sync or a short log write makes the
 * collection refuse writes with a message naming file and byte, a failed
 * checkpoint rename or write keeps the old checkpoint and the log, and a
 * write that is merely short is retried; a large file is removed one
 * journal commit's step at a time, and what an interrupted removal left is
 * removed at the next open. Each test works in its own
 * directory under one temporary root.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/index.h"
#include "akidb/store.h"
#include "akidb/vfs.h"
#include "check.h"
#include "fault_vfs.h"
#include "tmpdir.h"

#define DIM 8u

/* ------------------------------------------------------------- helpers -- */

static void new_dir(char *out, size_t n, const char *name) {
  tmpdir_path(out, n, "akidb-vfs", name);
}

static void quiet_log(void *ctx, akidb_log_level_t level, const char *msg) {
  (void)ctx;
  if (level >= AKIDB_LOG_WARN && getenv("AKIDB_TEST_VERBOSE")) fprintf(stderr, "log: %s\n", msg);
}

static akidb_collection_options_t options(const akidb_vfs_t *vfs) {
  akidb_collection_options_t o;
  akidb_collection_options_default(&o, DIM, AKIDB_METRIC_L2);
  o.background = false;
  o.durability = AKIDB_DURABILITY_FSYNC;
  o.log = quiet_log;
  o.vfs = vfs;
  return o;
}

static akidb_collection_t *open_c(const char *dir, const akidb_vfs_t *vfs,
                                  akidb_open_report_t *rep) {
  akidb_collection_options_t o = options(vfs);
  akidb_collection_t *c = NULL;
  char err[512] = "";
  int rc = akidb_collection_open(dir, &o, &c, rep, err, sizeof err);
  if (rc) CHECK_FAIL("open %s: %d %s", dir, rc, err);
  return c;
}

static void vec_for(uint32_t i, float *out) {
  for (uint32_t d = 0; d < DIM; d++) out[d] = (float)((i * 31u + d * 7u) % 101u) - 50.0f + 0.25f;
}

/* Upserts points [from, to) as one batch; returns the result code. */
static int upsert(akidb_collection_t *c, uint32_t from, uint32_t to, char *err, size_t errlen) {
  uint32_t n = to - from;
  akidb_point_t *pts = calloc(n, sizeof *pts);
  float *vecs = malloc((size_t)n * DIM * sizeof(float));
  char (*ids)[32] = malloc((size_t)n * 32);
  for (uint32_t j = 0; j < n; j++) {
    snprintf(ids[j], 32, "p%u", from + j);
    vec_for(from + j, vecs + (size_t)j * DIM);
    pts[j] = (akidb_point_t){.id = ids[j], .id_len = strlen(ids[j]),
                             .vector = vecs + (size_t)j * DIM};
  }
  int rc = akidb_collection_upsert(c, pts, n, err, errlen);
  free(pts);
  free(vecs);
  free(ids);
  return rc;
}

static void upsert_ok(akidb_collection_t *c, uint32_t from, uint32_t to) {
  char err[512] = "";
  int rc = upsert(c, from, to, err, sizeof err);
  if (rc) CHECK_FAIL("upsert [%u, %u): %d %s", from, to, rc, err);
}

static bool has_point(akidb_collection_t *c, uint32_t i) {
  char id[32];
  snprintf(id, sizeof id, "p%u", i);
  akidb_point_out_t p;
  int rc = akidb_collection_get(c, id, strlen(id), false, &p);
  akidb_point_out_clear(&p);
  return rc == AKIDB_OK;
}

static bool file_exists(const char *dir, const char *name) {
  char path[4400];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return akidb_vfs_local()->stat(NULL, path, NULL, NULL) == 0;
}

typedef struct {
  char names[16][64];
  int n;
} names_t;

static int collect_name(void *ctx, const char *name) {
  names_t *ns = ctx;
  if (ns->n < 16) snprintf(ns->names[ns->n++], 64, "%s", name);
  return 0;
}

static bool names_have(const names_t *ns, const char *name) {
  for (int i = 0; i < ns->n; i++)
    if (strcmp(ns->names[i], name) == 0) return true;
  return false;
}

/* Counts entries of dir whose name starts with prefix. */
static int count_prefixed(const char *dir, const char *prefix) {
  names_t ns = {.n = 0};
  akidb_vfs_local()->list(NULL, dir, collect_name, &ns);
  int n = 0;
  for (int i = 0; i < ns.n; i++) n += strncmp(ns.names[i], prefix, strlen(prefix)) == 0;
  return n;
}

/* ---------------------------------------------------------- local VFS -- */

static void write_text(const akidb_vfs_t *v, const char *path, const char *text) {
  akidb_vfs_file_t *f = NULL;
  ASSERT_OK(v->open(v->ctx, path, AKIDB_VFS_WRITE | AKIDB_VFS_CREATE | AKIDB_VFS_TRUNC, &f));
  struct iovec iov[2] = {{(void *)text, 3}, {(void *)(text + 3), strlen(text) - 3}};
  ASSERT_OK(akidb_vfs_write_all(v, f, iov, 2, 0, strlen(text), NULL));
  ASSERT_OK(v->sync(v->ctx, f, 1));
  ASSERT_OK(v->close(v->ctx, f));
}

static void test_local_vfs_lists_renames_and_removes(void) {
  const akidb_vfs_t *v = akidb_vfs_local();
  char dir[4200], a[4300], b[4300], sub[4300], deep[4400];
  new_dir(dir, sizeof dir, "local");
  ASSERT_OK(akidb_vfs_mkdir_durable(v, dir));
  ASSERT_OK(akidb_vfs_mkdir_durable(v, dir)); /* exists: fine */
  ASSERT_EQ_INT(v->mkdir(v->ctx, dir), EEXIST);
  snprintf(a, sizeof a, "%s/a.txt", dir);
  snprintf(b, sizeof b, "%s/b.txt", dir);
  write_text(v, a, "hello, seam");

  akidb_vfs_file_t *f = NULL;
  ASSERT_EQ_INT(v->open(v->ctx, a, AKIDB_VFS_WRITE | AKIDB_VFS_CREATE | AKIDB_VFS_EXCL, &f),
                EEXIST);
  ASSERT_EQ_INT(v->open(v->ctx, b, AKIDB_VFS_READ, &f), ENOENT);
  uint64_t size = 0;
  int is_dir = -1;
  ASSERT_OK(v->stat(v->ctx, a, &size, &is_dir));
  ASSERT_EQ_U64(size, 11);
  ASSERT_EQ_INT(is_dir, 0);
  ASSERT_OK(v->stat(v->ctx, dir, NULL, &is_dir));
  ASSERT_EQ_INT(is_dir, 1);

  /* positional read, size, map, truncate */
  char buf[16] = "";
  ASSERT_OK(v->open(v->ctx, a, AKIDB_VFS_READ | AKIDB_VFS_WRITE, &f));
  ASSERT_OK(akidb_vfs_read_exact(v, f, buf, 4, 7));
  ASSERT_TRUE(memcmp(buf, "seam", 4) == 0);
  ASSERT_EQ_INT(akidb_vfs_read_exact(v, f, buf, 5, 7), EIO); /* past the end */
  const void *m = NULL;
  ASSERT_OK(akidb_vfs_map(v, f, 5, &m));
  ASSERT_TRUE(memcmp(m, "hello", 5) == 0);
  akidb_vfs_unmap(v, m, 5);
  ASSERT_OK(akidb_vfs_writeback(v, f, 0, 11)); /* a hint: succeeds, changes nothing */
  ASSERT_OK(v->truncate(v->ctx, f, 5));
  ASSERT_OK(v->size(v->ctx, f, &size));
  ASSERT_EQ_U64(size, 5);
  ASSERT_OK(v->close(v->ctx, f));

  /* list sees exactly the entries; rename moves one */
  snprintf(sub, sizeof sub, "%s/sub", dir);
  ASSERT_OK(v->mkdir(v->ctx, sub));
  names_t ns = {.n = 0};
  ASSERT_OK(v->list(v->ctx, dir, collect_name, &ns));
  ASSERT_EQ_INT(ns.n, 2);
  ASSERT_TRUE(names_have(&ns, "a.txt") && names_have(&ns, "sub"));
  ASSERT_OK(v->rename(v->ctx, a, b));
  ASSERT_OK(v->sync_dir(v->ctx, dir));
  ns.n = 0;
  ASSERT_OK(v->list(v->ctx, dir, collect_name, &ns));
  ASSERT_EQ_INT(ns.n, 2);
  ASSERT_TRUE(names_have(&ns, "b.txt") && !names_have(&ns, "a.txt"));
  ASSERT_EQ_INT(v->stat(v->ctx, a, NULL, NULL), ENOENT);

  /* durable replacement leaves no temporary file */
  ASSERT_OK(akidb_vfs_write_file_durably(v, b, "xyz", 3));
  ASSERT_OK(v->stat(v->ctx, b, &size, NULL));
  ASSERT_EQ_U64(size, 3);
  ASSERT_TRUE(!file_exists(dir, "b.txt.tmp"));

  /* a directory lock is exclusive until its handle is closed */
  akidb_vfs_file_t *l1 = NULL, *l2 = NULL;
  ASSERT_OK(v->lock_dir(v->ctx, dir, &l1));
  ASSERT_EQ_INT(v->lock_dir(v->ctx, dir, &l2), EWOULDBLOCK);
  ASSERT_OK(v->close(v->ctx, l1));
  ASSERT_OK(v->lock_dir(v->ctx, dir, &l2));
  ASSERT_OK(v->close(v->ctx, l2));

  /* remove: a file, a non-empty directory refused, then the whole tree */
  snprintf(deep, sizeof deep, "%s/c.txt", sub);
  write_text(v, deep, "deep file");
  ASSERT_NE_INT(v->remove(v->ctx, sub), 0);
  ASSERT_OK(v->remove(v->ctx, b));
  ASSERT_EQ_INT(v->remove(v->ctx, b), ENOENT);
  ASSERT_OK(akidb_vfs_remove_tree(v, dir));
  ASSERT_EQ_INT(v->stat(v->ctx, dir, NULL, NULL), ENOENT);
  ASSERT_OK(akidb_vfs_remove_tree(v, dir)); /* absent: fine */
}

/* A table without map (or writeback): akidb_vfs_map reads a copy instead. */
static void test_vfs_map_falls_back_to_reading(void) {
  fault_vfs_t fv;
  fault_vfs_init(&fv);
  fv.vfs.map = NULL;
  fv.vfs.unmap = NULL;
  fv.vfs.writeback = NULL;
  char dir[4200], path[4300];
  new_dir(dir, sizeof dir, "nomap");
  ASSERT_OK(akidb_vfs_mkdir_durable(&fv.vfs, dir));
  snprintf(path, sizeof path, "%s/f", dir);
  write_text(&fv.vfs, path, "mapped bytes");
  akidb_vfs_file_t *f = NULL;
  ASSERT_OK(fv.vfs.open(fv.vfs.ctx, path, AKIDB_VFS_READ, &f));
  const void *m = NULL;
  ASSERT_OK(akidb_vfs_map(&fv.vfs, f, 12, &m));
  ASSERT_TRUE(m != NULL && memcmp(m, "mapped bytes", 12) == 0);
  akidb_vfs_unmap(&fv.vfs, m, 12);
  ASSERT_EQ_INT(akidb_vfs_map(&fv.vfs, f, 13, &m), EIO); /* longer than the file */
  ASSERT_OK(akidb_vfs_writeback(&fv.vfs, f, 0, 12));      /* no hint in the table: nothing */
  ASSERT_OK(fv.vfs.close(fv.vfs.ctx, f));
}

/* A VFS without map: the log is recovered and replayed from copies. */
static void test_collection_recovers_through_a_vfs_without_map(void) {
  fault_vfs_t fv;
  fault_vfs_init(&fv);
  fv.vfs.map = NULL;
  fv.vfs.unmap = NULL;
  char dir[4200], err[512] = "";
  new_dir(dir, sizeof dir, "nomap-coll");
  akidb_collection_t *c = open_c(dir, &fv.vfs, NULL);
  for (uint32_t b = 0; b < 5; b++) upsert_ok(c, b * 10, b * 10 + 10);
  akidb_collection_test_crash_checkpoint_after(1); /* the close leaves the log */
  ASSERT_EQ_INT(akidb_collection_close(c, err, sizeof err), AKIDB_EIO);
  akidb_open_report_t rep;
  c = open_c(dir, &fv.vfs, &rep);
  ASSERT_EQ_U64(rep.checkpoint_seq, 0);
  ASSERT_EQ_U64(rep.replayed_records, 5);
  ASSERT_EQ_U64(rep.replayed_points, 50);
  ASSERT_EQ_U64(akidb_collection_count(c), 50);
  ASSERT_TRUE(has_point(c, 0) && has_point(c, 49));
  ASSERT_OK(akidb_collection_close(c, err, sizeof err));
}

/* ------------------------------------------------- faults → collection -- */

static void test_wal_fsync_failure_makes_collection_refuse_writes(void) {
  fault_vfs_t fv;
  fault_vfs_init(&fv);
  char dir[4200], err[512] = "";
  new_dir(dir, sizeof dir, "fsync-fails");
  akidb_collection_t *c = open_c(dir, &fv.vfs, NULL);
  upsert_ok(c, 0, 10);
  fault_arm(&fv.sync, 1, EIO, "/wal/");
  ASSERT_EQ_INT(upsert(c, 10, 20, err, sizeof err), AKIDB_EIO);
  ASSERT_STR_CONTAINS(err, "fdatasync of WAL segment");
  ASSERT_STR_CONTAINS(err, "/wal/00000000000000000001.wal");
  ASSERT_STR_CONTAINS(err, strerror(EIO));
  ASSERT_EQ_INT(atomic_load(&fv.sync.failures), 1);
  fault_disarm(&fv.sync); /* the disk is fine again: the failure stays */
  err[0] = '\0';
  ASSERT_EQ_INT(upsert(c, 20, 30, err, sizeof err), AKIDB_EIO);
  ASSERT_STR_CONTAINS(err, "refuses writes");
  akidb_collection_stats_t st;
  akidb_collection_stats(c, &st);
  ASSERT_TRUE(st.failed);
  ASSERT_TRUE(has_point(c, 0) && has_point(c, 9)); /* reads go on */
  ASSERT_TRUE(!has_point(c, 10));                  /* never applied */
  ASSERT_EQ_U64(akidb_collection_count(c), 10);
  ASSERT_EQ_INT(akidb_collection_close(c, err, sizeof err), AKIDB_OK); /* no checkpoint */
  ASSERT_EQ_INT(count_prefixed(dir, "checkpoint-"), 0);

  /* the unacknowledged batch may or may not come back; the acknowledged one does */
  c = open_c(dir, NULL, NULL);
  uint64_t n = akidb_collection_count(c);
  ASSERT_TRUE(n == 10 || n == 20);
  for (uint32_t i = 0; i < 10; i++) ASSERT_TRUE(has_point(c, i));
  ASSERT_TRUE(!has_point(c, 20));
  ASSERT_OK(akidb_collection_close(c, err, sizeof err));
}

static void test_short_write_in_log_is_reported(void) {
  fault_vfs_t fv;
  fault_vfs_init(&fv);
  char dir[4200], err[512] = "";
  new_dir(dir, sizeof dir, "short-write");
  akidb_collection_t *c = open_c(dir, &fv.vfs, NULL);
  upsert_ok(c, 0, 5);
  uint64_t wal_before;
  akidb_collection_stats_t st;
  akidb_collection_stats(c, &st);
  wal_before = st.wal_bytes;
  fault_arm(&fv.write, 1, ENOSPC, "/wal/");
  atomic_store(&fv.write.short_first, 1); /* half the bytes land, then ENOSPC */
  ASSERT_EQ_INT(upsert(c, 5, 10, err, sizeof err), AKIDB_EIO);
  ASSERT_STR_CONTAINS(err, "write of 1 WAL records");
  ASSERT_STR_CONTAINS(err, "00000000000000000001.wal at byte");
  ASSERT_STR_CONTAINS(err, strerror(ENOSPC));
  ASSERT_STR_CONTAINS(err, "(cut back)");
  fault_disarm(&fv.write);
  ASSERT_EQ_INT(upsert(c, 10, 11, err, sizeof err), AKIDB_EIO); /* sticky */
  akidb_collection_stats(c, &st);
  ASSERT_TRUE(st.failed);
  ASSERT_EQ_U64(st.wal_bytes, wal_before);
  ASSERT_EQ_U64(akidb_collection_count(c), 5);
  ASSERT_OK(akidb_collection_close(c, err, sizeof err));

  /* the half-written record was cut back: nothing torn, exactly 5 points */
  akidb_open_report_t rep;
  c = open_c(dir, NULL, &rep);
  ASSERT_EQ_U64(rep.truncated_bytes, 0);
  ASSERT_EQ_U64(rep.replayed_records, 1);
  ASSERT_EQ_U64(akidb_collection_count(c), 5);
  ASSERT_OK(akidb_collection_close(c, err, sizeof err));
}

/* Writes that only ever write half of what they are given are retried:
 * every batch still lands whole and reads back after reopen. */
static void test_short_writes_without_error_are_retried(void) {
  fault_vfs_t fv;
  fault_vfs_init(&fv);
  char dir[4200], err[512] = "";
  new_dir(dir, sizeof dir, "short-retry");
  atomic_store(&fv.short_writes, 1);
  akidb_collection_t *c = open_c(dir, &fv.vfs, NULL);
  for (uint32_t b = 0; b < 8; b++) upsert_ok(c, b * 25, b * 25 + 25);
  ASSERT_OK(akidb_collection_checkpoint(c, err, sizeof err));
  upsert_ok(c, 200, 210);
  ASSERT_TRUE(atomic_load(&fv.writes) > 20); /* every write took several calls */
  ASSERT_OK(akidb_collection_close(c, err, sizeof err));
  akidb_open_report_t rep;
  c = open_c(dir, NULL, &rep);
  ASSERT_EQ_U64(rep.checkpoint_points, 210);
  ASSERT_EQ_U64(akidb_collection_count(c), 210);
  for (uint32_t i = 0; i < 210; i += 13) ASSERT_TRUE(has_point(c, i));
  ASSERT_OK(akidb_collection_close(c, err, sizeof err));
}

static void test_checkpoint_rename_failure_keeps_old_checkpoint_and_log(void) {
  fault_vfs_t fv;
  fault_vfs_init(&fv);
  char dir[4200], err[512] = "", old_name[64];
  new_dir(dir, sizeof dir, "rename-fails");
  akidb_collection_t *c = open_c(dir, &fv.vfs, NULL);
  upsert_ok(c, 0, 20);
  ASSERT_OK(akidb_collection_checkpoint(c, err, sizeof err));
  akidb_collection_stats_t st;
  akidb_collection_stats(c, &st);
  uint64_t first_seq = st.checkpoint_seq;
  ASSERT_EQ_U64(first_seq, 1);
  snprintf(old_name, sizeof old_name, "checkpoint-%020" PRIu64 ".akc", first_seq);
  ASSERT_TRUE(file_exists(dir, old_name));
  upsert_ok(c, 20, 30);
  upsert_ok(c, 30, 40);

  fault_arm(&fv.rename, 1, EIO, "checkpoint-");
  atomic_store(&fv.rename.sticky, 1); /* the final checkpoint at close fails too */
  ASSERT_EQ_INT(akidb_collection_checkpoint(c, err, sizeof err), AKIDB_EIO);
  ASSERT_STR_CONTAINS(err, "cannot write checkpoint");
  ASSERT_STR_CONTAINS(err, "checkpoint-00000000000000000003.akc");
  ASSERT_STR_CONTAINS(err, strerror(EIO));
  ASSERT_TRUE(file_exists(dir, old_name));
  ASSERT_TRUE(!file_exists(dir, "checkpoint.tmp"));
  ASSERT_EQ_INT(count_prefixed(dir, "checkpoint-"), 1);
  akidb_collection_stats(c, &st);
  ASSERT_EQ_U64(st.checkpoint_seq, first_seq); /* nothing moved on */
  ASSERT_TRUE(!st.failed);                     /* a checkpoint failure is not a log failure */
  upsert_ok(c, 40, 45);                        /* writes go on */
  ASSERT_EQ_INT(akidb_collection_close(c, err, sizeof err), AKIDB_EIO);
  ASSERT_EQ_INT(atomic_load(&fv.rename.failures), 2);

  /* reopen: the old checkpoint plus the log after it give every point */
  akidb_open_report_t rep;
  c = open_c(dir, NULL, &rep);
  ASSERT_EQ_U64(rep.checkpoint_seq, first_seq);
  ASSERT_EQ_U64(rep.checkpoint_points, 20);
  ASSERT_EQ_U64(rep.replayed_records, 3);
  ASSERT_EQ_U64(akidb_collection_count(c), 45);
  for (uint32_t i = 0; i < 45; i++) ASSERT_TRUE(has_point(c, i));
  ASSERT_OK(akidb_collection_close(c, err, sizeof err));
}

/* A checkpoint whose stream hits ENOSPC: refused, its temporary file gone,
 * the old checkpoint and the log kept. */
static void test_checkpoint_write_failure_keeps_old_checkpoint(void) {
  fault_vfs_t fv;
  fault_vfs_init(&fv);
  char dir[4200], err[512] = "";
  new_dir(dir, sizeof dir, "ckpt-enospc");
  akidb_collection_t *c = open_c(dir, &fv.vfs, NULL);
  upsert_ok(c, 0, 30);
  ASSERT_OK(akidb_collection_checkpoint(c, err, sizeof err));
  upsert_ok(c, 30, 60);
  fault_arm(&fv.write, 1, ENOSPC, "checkpoint.tmp");
  atomic_store(&fv.write.short_first, 1);
  ASSERT_EQ_INT(akidb_collection_checkpoint(c, err, sizeof err), AKIDB_EIO);
  ASSERT_STR_CONTAINS(err, strerror(ENOSPC));
  ASSERT_TRUE(!file_exists(dir, "checkpoint.tmp"));
  ASSERT_EQ_INT(count_prefixed(dir, "checkpoint-"), 1);
  fault_disarm(&fv.write);
  ASSERT_OK(akidb_collection_close(c, err, sizeof err)); /* now it succeeds */
  akidb_open_report_t rep;
  c = open_c(dir, NULL, &rep);
  ASSERT_EQ_U64(rep.checkpoint_points, 60);
  ASSERT_EQ_U64(rep.replayed_records, 0);
  ASSERT_EQ_U64(akidb_collection_count(c), 60);
  ASSERT_OK(akidb_collection_close(c, err, sizeof err));
}

/* A failed directory fsync after the rename: reported, and the log that the
 * checkpoint would cover stays. */
static void test_checkpoint_dir_sync_failure_keeps_log(void) {
  fault_vfs_t fv;
  fault_vfs_init(&fv);
  char dir[4200], wal[4300], err[512] = "";
  new_dir(dir, sizeof dir, "ckpt-dirsync");
  snprintf(wal, sizeof wal, "%s/wal", dir);
  akidb_collection_t *c = open_c(dir, &fv.vfs, NULL);
  upsert_ok(c, 0, 12);
  fault_arm(&fv.sync, 2, EIO, "ckpt-dirsync"); /* 1: checkpoint.tmp, 2: the directory */
  ASSERT_EQ_INT(akidb_collection_checkpoint(c, err, sizeof err), AKIDB_EIO);
  ASSERT_STR_CONTAINS(err, "directory fsync failed");
  fault_disarm(&fv.sync);
  ASSERT_EQ_INT(count_prefixed(wal, "0000"), 1);
  akidb_collection_stats_t st;
  akidb_collection_stats(c, &st);
  ASSERT_TRUE(st.wal_bytes > 40); /* the segment still holds the record */
  ASSERT_OK(akidb_collection_close(c, err, sizeof err));
  c = open_c(dir, NULL, NULL);
  ASSERT_EQ_U64(akidb_collection_count(c), 12);
  ASSERT_OK(akidb_collection_close(c, err, sizeof err));
}

/* --------------------------------------------------- faults → HNSW file -- */

static void test_hnsw_save_rename_failure_keeps_old_file(void) {
  fault_vfs_t fv;
  fault_vfs_init(&fv);
  char dir[4200], path[4300], err[512] = "";
  new_dir(dir, sizeof dir, "hnsw");
  ASSERT_OK(akidb_vfs_mkdir_durable(&fv.vfs, dir));
  snprintf(path, sizeof path, "%s/index.akh", dir);
  akidb_hnsw_params_t p;
  akidb_hnsw_params_default(&p, DIM, AKIDB_METRIC_L2);
  akidb_hnsw_t *h = NULL;
  ASSERT_OK(akidb_hnsw_create(&p, &h, err, sizeof err));
  float v[DIM];
  for (uint32_t i = 0; i < 50; i++) {
    vec_for(i, v);
    ASSERT_OK(akidb_hnsw_insert(h, i + 1, v));
  }
  ASSERT_OK(akidb_hnsw_save_vfs(h, &fv.vfs, path, err, sizeof err));
  for (uint32_t i = 50; i < 80; i++) {
    vec_for(i, v);
    ASSERT_OK(akidb_hnsw_insert(h, i + 1, v));
  }
  fault_arm(&fv.rename, 1, EIO, "index.akh");
  ASSERT_EQ_INT(akidb_hnsw_save_vfs(h, &fv.vfs, path, err, sizeof err), AKIDB_EIO);
  ASSERT_STR_CONTAINS(err, "index.akh");
  ASSERT_EQ_INT(count_prefixed(dir, "index.akh.tmp"), 0);
  akidb_hnsw_free(h);
  ASSERT_OK(akidb_hnsw_load_vfs(&fv.vfs, path, &h, err, sizeof err));
  ASSERT_EQ_U64(akidb_hnsw_count(h), 50);
  akidb_hnsw_free(h);
}

/* ----------------------------------------------------- gentle removal -- */

/* A VFS that writes down, in order, the calls a removal makes. */
typedef struct {
  akidb_vfs_t vfs;
  char log[4096];
} record_vfs_t;

static record_vfs_t *rec_of(void *ctx) { return ctx; }

static void rec_say(record_vfs_t *r, const char *fmt, unsigned long long n) {
  size_t used = strlen(r->log);
  snprintf(r->log + used, sizeof r->log - used, fmt, n);
}

static int rec_truncate(void *ctx, akidb_vfs_file_t *f, uint64_t size) {
  rec_say(rec_of(ctx), "truncate %llu;", (unsigned long long)(size >> 20));
  return akidb_vfs_local()->truncate(akidb_vfs_local()->ctx, f, size);
}

static int rec_sync(void *ctx, akidb_vfs_file_t *f, int data_only) {
  rec_say(rec_of(ctx), "sync%llu;", (unsigned long long)data_only);
  return akidb_vfs_local()->sync(akidb_vfs_local()->ctx, f, data_only);
}

static int rec_rename(void *ctx, const char *from, const char *to) {
  bool free_name = strstr(to, AKIDB_VFS_FREE_SUFFIX) != NULL;
  rec_say(rec_of(ctx), "rename%llu;", free_name);
  return akidb_vfs_local()->rename(akidb_vfs_local()->ctx, from, to);
}

static int rec_remove(void *ctx, const char *path) {
  rec_say(rec_of(ctx), "remove%llu;", strstr(path, AKIDB_VFS_FREE_SUFFIX) != NULL);
  return akidb_vfs_local()->remove(akidb_vfs_local()->ctx, path);
}

static int rec_sync_dir(void *ctx, const char *dir) {
  rec_say(rec_of(ctx), "sync_dir;", 0);
  return akidb_vfs_local()->sync_dir(akidb_vfs_local()->ctx, dir);
}

static int rec_pass_open(void *ctx, const char *path, int flags, akidb_vfs_file_t **out) {
  (void)ctx;
  return akidb_vfs_local()->open(akidb_vfs_local()->ctx, path, flags, out);
}
static int rec_pass_close(void *ctx, akidb_vfs_file_t *f) {
  (void)ctx;
  return akidb_vfs_local()->close(akidb_vfs_local()->ctx, f);
}
static int rec_pass_stat(void *ctx, const char *path, uint64_t *size, int *is_dir) {
  (void)ctx;
  return akidb_vfs_local()->stat(akidb_vfs_local()->ctx, path, size, is_dir);
}
static int rec_pass_list(void *ctx, const char *dir, akidb_vfs_entry_fn fn, void *fn_ctx) {
  (void)ctx;
  return akidb_vfs_local()->list(akidb_vfs_local()->ctx, dir, fn, fn_ctx);
}

static void record_vfs_init(record_vfs_t *r) {
  memset(r, 0, sizeof *r);
  r->vfs = *akidb_vfs_local();
  r->vfs.name = "record";
  r->vfs.ctx = r;
  r->vfs.open = rec_pass_open;
  r->vfs.close = rec_pass_close;
  r->vfs.stat = rec_pass_stat;
  r->vfs.list = rec_pass_list;
  r->vfs.truncate = rec_truncate;
  r->vfs.sync = rec_sync;
  r->vfs.rename = rec_rename;
  r->vfs.remove = rec_remove;
  r->vfs.sync_dir = rec_sync_dir;
}

/* Makes a sparse file of `size` bytes (no blocks: the test stays fast). */
static void make_sparse(const char *path, uint64_t size) {
  const akidb_vfs_t *l = akidb_vfs_local();
  akidb_vfs_file_t *f = NULL;
  ASSERT_OK(l->open(l->ctx, path, AKIDB_VFS_WRITE | AKIDB_VFS_CREATE | AKIDB_VFS_TRUNC, &f));
  ASSERT_OK(l->truncate(l->ctx, f, size));
  ASSERT_OK(l->close(l->ctx, f));
}

static bool exists(const char *path) {
  return akidb_vfs_local()->stat(akidb_vfs_local()->ctx, path, NULL, NULL) == 0;
}

/* A file over one step is renamed to "*.free" (durably), cut one step per
 * data sync, then unlinked: no journal commit frees more than one step. */
static void test_large_file_is_removed_one_step_per_sync(void) {
  record_vfs_t r;
  record_vfs_init(&r);
  char dir[4200], path[4300], trash[4400];
  new_dir(dir, sizeof dir, "gentle");
  ASSERT_OK(akidb_vfs_mkdir_durable(&r.vfs, dir));
  snprintf(path, sizeof path, "%s/big.wal", dir);
  snprintf(trash, sizeof trash, "%s%s", path, AKIDB_VFS_FREE_SUFFIX);
  make_sparse(path, 3 * AKIDB_VFS_FREE_STEP + (5u << 20));
  r.log[0] = 0;
  ASSERT_OK(akidb_vfs_remove_gently(&r.vfs, path));
  ASSERT_STR_EQ(r.log, "rename1;sync_dir;truncate 69;sync1;truncate 37;sync1;truncate 5;sync1;"
                       "truncate 0;sync1;remove1;");
  ASSERT_TRUE(!exists(path) && !exists(trash));
  ASSERT_OK(akidb_vfs_remove_gently(&r.vfs, path)); /* absent: nothing to do */
}

/* A file of at most one step is unlinked at once; so is a directory. */
static void test_small_file_is_removed_at_once(void) {
  record_vfs_t r;
  record_vfs_init(&r);
  char dir[4200], path[4300];
  new_dir(dir, sizeof dir, "gentle-small");
  ASSERT_OK(akidb_vfs_mkdir_durable(&r.vfs, dir));
  snprintf(path, sizeof path, "%s/small", dir);
  make_sparse(path, AKIDB_VFS_FREE_STEP);
  r.log[0] = 0;
  ASSERT_OK(akidb_vfs_remove_gently(&r.vfs, path));
  ASSERT_STR_EQ(r.log, "remove0;");
  ASSERT_TRUE(!exists(path));
}

/* A removal interrupted after the rename leaves "*.free" files in the log
 * and collection directories: the next open removes them, and the
 * collection opens with its data (the renamed files were not its own). */
static void test_open_removes_leftovers_of_an_interrupted_removal(void) {
  char dir[4200], err[512] = "", wal_left[4400], ckpt_left[4400];
  new_dir(dir, sizeof dir, "gentle-leftovers");
  akidb_collection_t *c = open_c(dir, NULL, NULL);
  upsert_ok(c, 0, 40);
  ASSERT_OK(akidb_collection_close(c, err, sizeof err));
  snprintf(wal_left, sizeof wal_left, "%s/wal/00000000000000000001.wal%s", dir,
           AKIDB_VFS_FREE_SUFFIX);
  snprintf(ckpt_left, sizeof ckpt_left, "%s/checkpoint-00000000000000000001.akc%s", dir,
           AKIDB_VFS_FREE_SUFFIX);
  make_sparse(wal_left, 2 * AKIDB_VFS_FREE_STEP + 7); /* partly cut: a torn size */
  make_sparse(ckpt_left, AKIDB_VFS_FREE_STEP / 2);
  c = open_c(dir, NULL, NULL);
  ASSERT_TRUE(!exists(wal_left) && !exists(ckpt_left));
  ASSERT_EQ_U64(akidb_collection_count(c), 40);
  ASSERT_TRUE(has_point(c, 0) && has_point(c, 39));
  ASSERT_OK(akidb_collection_close(c, err, sizeof err));
}

CHECK_MAIN(CHECK_CASE(test_local_vfs_lists_renames_and_removes),
           CHECK_CASE(test_vfs_map_falls_back_to_reading),
           CHECK_CASE(test_collection_recovers_through_a_vfs_without_map),
           CHECK_CASE(test_wal_fsync_failure_makes_collection_refuse_writes),
           CHECK_CASE(test_short_write_in_log_is_reported),
           CHECK_CASE(test_short_writes_without_error_are_retried),
           CHECK_CASE(test_checkpoint_rename_failure_keeps_old_checkpoint_and_log),
           CHECK_CASE(test_checkpoint_write_failure_keeps_old_checkpoint),
           CHECK_CASE(test_checkpoint_dir_sync_failure_keeps_log),
           CHECK_CASE(test_hnsw_save_rename_failure_keeps_old_file),
           CHECK_CASE(test_large_file_is_removed_one_step_per_sync),
           CHECK_CASE(test_small_file_is_removed_at_once),
           CHECK_CASE(test_open_removes_leftovers_of_an_interrupted_removal))
