/*
 * test_cold.c — the cold copy of a collection (src/tier/cold.c) over the
 * local object store: an upload and a download give back a directory that
 * opens as the same collection (every point, log replay included); a
 * corrupted object fails the download on its checksum and leaves no
 * directory; deleting one generation leaves another; the manifest decoder
 * refuses unsafe paths, bad checksums and newer formats, naming them.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "akidb/objstore.h"
#include "akidb/store.h"
#include "check.h"
#include "tier/cold.h"
#include "tmpdir.h"

#define DIM 8u
#define ID "0190a0b0-0000-7000-8000-0000000000c1"

static akidb_collection_options_t options(void) {
  akidb_collection_options_t o;
  akidb_collection_options_default(&o, DIM, AKIDB_METRIC_L2);
  o.background = false;
  o.durability = AKIDB_DURABILITY_FSYNC;
  return o;
}

static akidb_collection_t *open_c(const char *dir) {
  akidb_collection_options_t o = options();
  akidb_collection_t *c = NULL;
  char err[512] = "";
  if (akidb_collection_open(dir, &o, &c, NULL, err, sizeof err)) CHECK_FAIL("open %s: %s", dir, err);
  return c;
}

static void upsert(akidb_collection_t *c, uint32_t from, uint32_t to) {
  for (uint32_t i = from; i < to; i++) {
    char id[16], pl[32];
    float v[DIM];
    for (uint32_t d = 0; d < DIM; d++) v[d] = (float)((i * 31 + d * 7) % 101) / 10.0f;
    snprintf(id, sizeof id, "q%u", i);
    snprintf(pl, sizeof pl, "{\"i\":%u}", i);
    akidb_point_t p = {.id = id, .id_len = strlen(id), .vector = v, .payload = pl,
                       .payload_len = strlen(pl)};
    char err[256];
    ASSERT_OK(akidb_collection_upsert(c, &p, 1, err, sizeof err));
  }
}

/* cold_upload into a new generation. */
static int upload(akidb_objstore_t *s, const char *dir, char *key, size_t len, uint64_t *bytes,
                  char *err, size_t errlen) {
  char prefix[1100];
  ASSERT_OK(cold_new_generation(ID, prefix, sizeof prefix));
  return cold_upload(s, dir, ID, prefix, key, len, bytes, err, errlen);
}

static akidb_objstore_t *local_store(const char *root) {
  akidb_objstore_options_t o;
  akidb_objstore_options_default(&o);
  o.kind = "local";
  o.path = root;
  akidb_objstore_t *s = NULL;
  char err[512] = "";
  if (akidb_objstore_open(&o, &s, err, sizeof err)) CHECK_FAIL("objstore: %s", err);
  return s;
}

/* A collection with a checkpoint and a log tail after it. */
static void make_collection(const char *dir) {
  char err[512];
  akidb_collection_t *c = open_c(dir);
  upsert(c, 0, 300);
  ASSERT_OK(akidb_collection_checkpoint(c, err, sizeof err));
  upsert(c, 300, 420);
  akidb_collection_test_crash_checkpoint_after(1); /* the close leaves the log tail */
  akidb_collection_close(c, err, sizeof err);
}

static void test_upload_then_download_is_the_same_collection(void) {
  char dir[4200], root[4200], back[4300], key[1100], err[512] = "";
  tmpdir_path(dir, sizeof dir, "akidb-cold", "src");
  tmpdir_path(root, sizeof root, "akidb-cold", "objects");
  snprintf(back, sizeof back, "%s-back", dir);
  make_collection(dir);
  akidb_objstore_t *s = local_store(root);
  uint64_t up = 0, down = 0;
  if (upload(s, dir, key, sizeof key, &up, err, sizeof err)) CHECK_FAIL("upload: %s", err);
  ASSERT_TRUE(strncmp(key, "cold/" ID "/", strlen("cold/" ID "/")) == 0);
  ASSERT_TRUE(up > 0);
  if (cold_download(s, key, back, &down, err, sizeof err)) CHECK_FAIL("download: %s", err);
  ASSERT_TRUE(down > 0 && down < up); /* the manifest is counted on the way up only */
  akidb_open_report_t rep;
  akidb_collection_options_t o = options();
  akidb_collection_t *c = NULL;
  ASSERT_OK(akidb_collection_open(back, &o, &c, &rep, err, sizeof err));
  ASSERT_EQ_U64(akidb_collection_count(c), 420);
  ASSERT_TRUE(rep.replayed_points > 0); /* the log tail came along */
  akidb_point_out_t p;
  ASSERT_OK(akidb_collection_get(c, "q419", 4, false, &p));
  ASSERT_TRUE(p.payload && strncmp(p.payload, "{\"i\":419}", p.payload_len) == 0);
  akidb_point_out_clear(&p);
  ASSERT_OK(akidb_collection_close(c, err, sizeof err));
  /* a second download into an existing directory is refused */
  ASSERT_TRUE(cold_download(s, key, back, NULL, err, sizeof err) != AKIDB_OK);
  akidb_objstore_close(s);
}

static void test_corrupt_object_fails_the_download_and_leaves_nothing(void) {
  char dir[4200], root[4200], back[4300], key[1100], gen[1100], path[5600], err[512] = "";
  tmpdir_path(dir, sizeof dir, "akidb-cold", "c-src");
  tmpdir_path(root, sizeof root, "akidb-cold", "c-objects");
  snprintf(back, sizeof back, "%s-back", dir);
  make_collection(dir);
  akidb_objstore_t *s = local_store(root);
  if (upload(s, dir, key, sizeof key, NULL, err, sizeof err)) CHECK_FAIL("upload: %s", err);
  cold_generation_prefix(key, gen, sizeof gen);
  snprintf(path, sizeof path, "%s/%sfiles/collection.meta", root, gen);
  int fd = open(path, O_RDWR);
  ASSERT_TRUE(fd >= 0);
  char b = 0;
  ASSERT_EQ_INT(pread(fd, &b, 1, 8192 + 9), 1);
  b ^= 1;
  ASSERT_EQ_INT(pwrite(fd, &b, 1, 8192 + 9), 1);
  close(fd);
  ASSERT_EQ_INT(cold_download(s, key, back, NULL, err, sizeof err), AKIDB_ECORRUPT);
  ASSERT_STR_CONTAINS(err, "collection.meta");
  struct stat st;
  ASSERT_TRUE(stat(back, &st) != 0); /* nothing half-made stays */
  akidb_objstore_close(s);
}

static void test_deleting_a_generation_leaves_the_other(void) {
  char dir[4200], root[4200], k1[1100], k2[1100], g1[1100], err[512] = "";
  tmpdir_path(dir, sizeof dir, "akidb-cold", "g-src");
  tmpdir_path(root, sizeof root, "akidb-cold", "g-objects");
  make_collection(dir);
  akidb_objstore_t *s = local_store(root);
  ASSERT_OK(upload(s, dir, k1, sizeof k1, NULL, err, sizeof err));
  ASSERT_OK(upload(s, dir, k2, sizeof k2, NULL, err, sizeof err));
  ASSERT_TRUE(strcmp(k1, k2) != 0);
  cold_generation_prefix(k1, g1, sizeof g1);
  ASSERT_OK(cold_delete_prefix(s, g1, err, sizeof err));
  akidb_objstore_info_t info;
  ASSERT_EQ_INT(akidb_objstore_head(s, k1, &info, err, sizeof err), AKIDB_ENOTFOUND);
  ASSERT_OK(akidb_objstore_head(s, k2, &info, err, sizeof err));
  char back[4300];
  snprintf(back, sizeof back, "%s-back2", dir);
  ASSERT_OK(cold_download(s, k2, back, NULL, err, sizeof err));
  akidb_objstore_close(s);
}

static void test_manifest_decoder_refuses_what_it_must(void) {
  struct {
    const char *text, *says;
    int code;
  } cases[] = {
      {"{\"format\":\"akidb-cold\",\"format_version\":1,\"collection_id\":\"" ID "\","
       "\"files\":[{\"path\":\"../../etc/passwd\",\"size\":1,\"crc32c\":\"00000000\"}]}",
       "safe relative path", AKIDB_EFORMAT},
      {"{\"format\":\"akidb-cold\",\"format_version\":1,\"collection_id\":\"" ID "\","
       "\"files\":[{\"path\":\"a/b/c\",\"size\":1,\"crc32c\":\"00000000\"}]}",
       "safe relative path", AKIDB_EFORMAT},
      {"{\"format\":\"akidb-cold\",\"format_version\":1,\"collection_id\":\"" ID "\","
       "\"files\":[{\"path\":\"wal/x.wal\",\"size\":1,\"crc32c\":\"zz\"}]}",
       "crc32c", AKIDB_EFORMAT},
      {"{\"format\":\"akidb-cold\",\"format_version\":9,\"collection_id\":\"" ID "\","
       "\"files\":[]}", "newer AkiDB", AKIDB_EVERSION},
      {"{\"format\":\"akidb-snapshot\"}", "not a cold-tier manifest", AKIDB_EFORMAT},
      {"{\"format\":\"akidb-cold\",\"format_version\":1,\"collection_id\":\"nope\","
       "\"files\":[]}", "collection_id", AKIDB_EFORMAT},
      {"[1,", "not valid JSON", AKIDB_EFORMAT},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cold_manifest_t m;
    char err[512] = "";
    int rc = cold_manifest_decode(cases[i].text, strlen(cases[i].text), &m, err, sizeof err);
    if (rc != cases[i].code) CHECK_FAIL("case %zu: %d (%s)", i, rc, err);
    ASSERT_STR_CONTAINS(err, cases[i].says);
  }
  const char *good = "{\"format\":\"akidb-cold\",\"format_version\":1,\"collection_id\":\"" ID
                     "\",\"created_at\":\"x\",\"files\":[{\"path\":\"wal/0001.wal\",\"size\":7,"
                     "\"crc32c\":\"0000abcd\"}]}";
  cold_manifest_t m;
  char err[256];
  ASSERT_OK(cold_manifest_decode(good, strlen(good), &m, err, sizeof err));
  ASSERT_TRUE(m.n_files == 1 && m.files[0].size == 7 && m.files[0].crc32c == 0xabcd);
  cold_manifest_free(&m);
}

CHECK_MAIN(CHECK_CASE(test_upload_then_download_is_the_same_collection),
           CHECK_CASE(test_corrupt_object_fails_the_download_and_leaves_nothing),
           CHECK_CASE(test_deleting_a_generation_leaves_the_other),
           CHECK_CASE(test_manifest_decoder_refuses_what_it_must))
