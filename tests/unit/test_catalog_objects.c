/*
 * test_catalog_objects.c — the catalog's object-storage records (schema
 * version 4): snapshots (creating → ready | failed and nothing else, per
 * tenant lists that never show another tenant's, deleted with an audit row,
 * outliving their collection, removed with their tenant), the dead-letter
 * queue (one entry per kind and key, attempts counted, due filtering,
 * surviving a reopen) and a collection's cold manifest.
 */
#include <stdint.h>
#include <string.h>

#include "catalog/catalog_internal.h"
#include "test_catalog_util.h"

#define ERR_LEN 1024

static akidb_snapshot_t snapshot_spec(const akidb_tenant_t *t, const akidb_collection_meta_t *c,
                                      const char *key) {
  akidb_snapshot_t s;
  memset(&s, 0, sizeof s);
  s.tenant_id = t->id;
  s.collection_id = c->id;
  snprintf(s.database_name, sizeof s.database_name, "main");
  snprintf(s.collection_name, sizeof s.collection_name, "%s", c->name);
  snprintf(s.manifest_key, sizeof s.manifest_key, "%s", key);
  return s;
}

static void test_snapshot_goes_from_creating_to_ready_once(void) {
  akidb_catalog_t *cat = tcu_open_new("snap.db");
  akidb_tenant_t t = tcu_tenant(cat, "acme", AKIDB_TENANT_ACTIVE);
  akidb_database_t d = tcu_database(cat, &t.id, "main");
  akidb_collection_meta_t c = tcu_collection(cat, &d.id, "docs");
  char err[ERR_LEN] = "";
  akidb_snapshot_t in = snapshot_spec(&t, &c, "snapshots/a/manifest.json"), s, got;
  ASSERT_OK(akidb_snapshot_create(cat, &in, &s, err, sizeof err));
  ASSERT_EQ_INT(s.state, AKIDB_SNAPSHOT_CREATING);
  ASSERT_TRUE(strcmp(s.collection_name, "docs") == 0 && s.created_at_ms > 0);
  ASSERT_OK(akidb_snapshot_finish(cat, &s.id, AKIDB_SNAPSHOT_READY, 4242, 1000, 123456, NULL,
                                  &got, err, sizeof err));
  ASSERT_EQ_INT(got.state, AKIDB_SNAPSHOT_READY);
  ASSERT_EQ_U64(got.log_seq, 4242);
  ASSERT_EQ_U64(got.points, 1000);
  ASSERT_EQ_U64(got.bytes, 123456);
  ASSERT_EQ_INT(akidb_snapshot_finish(cat, &s.id, AKIDB_SNAPSHOT_FAILED, 0, 0, 0, "late", NULL,
                                      err, sizeof err),
                AKIDB_ETRANSITION);
  ASSERT_STR_CONTAINS(err, "ready already");
  ASSERT_OK(akidb_snapshot_get(cat, &s.id, &got, err, sizeof err));
  ASSERT_EQ_INT(got.state, AKIDB_SNAPSHOT_READY); /* the refused change left it */
  /* failed with its reason */
  ASSERT_OK(akidb_snapshot_create(cat, &in, &s, err, sizeof err));
  ASSERT_OK(akidb_snapshot_finish(cat, &s.id, AKIDB_SNAPSHOT_FAILED, 0, 0, 0,
                                  "s3 PUT: 503 SlowDown", &got, err, sizeof err));
  ASSERT_TRUE(strcmp(got.error, "s3 PUT: 503 SlowDown") == 0);
  /* bad input changes nothing */
  akidb_snapshot_t bad = in;
  bad.manifest_key[0] = '\0';
  ASSERT_EQ_INT(akidb_snapshot_create(cat, &bad, NULL, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "manifest_key");
  bad = in;
  snprintf(bad.collection_name, sizeof bad.collection_name, "no spaces");
  ASSERT_EQ_INT(akidb_snapshot_create(cat, &bad, NULL, err, sizeof err), AKIDB_EINVAL);
  akidb_snapshot_list_t l;
  ASSERT_OK(akidb_snapshot_list(cat, &t.id, NULL, NULL, &l, err, sizeof err));
  ASSERT_EQ_INT(l.count, 2);
  akidb_snapshot_list_free(&l);
  akidb_catalog_close(cat);
}

static void test_snapshots_are_per_tenant_and_outlive_their_collection(void) {
  akidb_catalog_t *cat = tcu_open_new("snap-tenants.db");
  akidb_tenant_t a = tcu_tenant(cat, "alpha", AKIDB_TENANT_ACTIVE);
  akidb_tenant_t b = tcu_tenant(cat, "bravo", AKIDB_TENANT_ACTIVE);
  akidb_database_t da = tcu_database(cat, &a.id, "main");
  akidb_database_t db = tcu_database(cat, &b.id, "main");
  akidb_collection_meta_t ca = tcu_collection(cat, &da.id, "docs");
  akidb_collection_meta_t ca2 = tcu_collection(cat, &da.id, "other");
  akidb_collection_meta_t cb = tcu_collection(cat, &db.id, "docs");
  char err[ERR_LEN] = "";
  akidb_snapshot_t in, s;
  for (int i = 0; i < 3; i++) {
    in = snapshot_spec(&a, &ca, "k");
    ASSERT_OK(akidb_snapshot_create(cat, &in, NULL, err, sizeof err));
  }
  in = snapshot_spec(&a, &ca2, "k2");
  ASSERT_OK(akidb_snapshot_create(cat, &in, NULL, err, sizeof err));
  in = snapshot_spec(&b, &cb, "k3");
  ASSERT_OK(akidb_snapshot_create(cat, &in, &s, err, sizeof err));
  akidb_snapshot_list_t l;
  ASSERT_OK(akidb_snapshot_list(cat, &a.id, NULL, NULL, &l, err, sizeof err));
  ASSERT_EQ_INT(l.count, 4);
  akidb_snapshot_list_free(&l);
  ASSERT_OK(akidb_snapshot_list(cat, &a.id, &ca.id, NULL, &l, err, sizeof err));
  ASSERT_EQ_INT(l.count, 3);
  akidb_snapshot_list_free(&l);
  ASSERT_OK(akidb_snapshot_list(cat, &a.id, &cb.id, NULL, &l, err, sizeof err));
  ASSERT_EQ_INT(l.count, 0); /* another tenant's collection shows nothing */
  akidb_snapshot_list_free(&l);
  akidb_page_t page = {.limit = 2};
  ASSERT_OK(akidb_snapshot_list(cat, &a.id, NULL, &page, &l, err, sizeof err));
  ASSERT_TRUE(l.count == 2 && l.has_more);
  page.after = l.next;
  page.has_after = true;
  akidb_snapshot_list_free(&l);
  ASSERT_OK(akidb_snapshot_list(cat, &a.id, NULL, &page, &l, err, sizeof err));
  ASSERT_TRUE(l.count == 2 && !l.has_more);
  akidb_snapshot_list_free(&l);
  /* the collection goes, its snapshots stay */
  ASSERT_OK(akidb_collection_meta_delete(cat, &ca.id, NULL, NULL, NULL, err, sizeof err));
  ASSERT_OK(akidb_snapshot_list(cat, &a.id, &ca.id, NULL, &l, err, sizeof err));
  ASSERT_EQ_INT(l.count, 3);
  /* delete one, with its audit row */
  akidb_audit_ctx_t ac = {.actor = "tester", .request_id = "req-1"};
  ASSERT_OK(akidb_snapshot_delete(cat, &l.items[0].id, &ac, err, sizeof err));
  ASSERT_EQ_INT(akidb_snapshot_get(cat, &l.items[0].id, &s, err, sizeof err), AKIDB_ENOTFOUND);
  ASSERT_EQ_INT(akidb_snapshot_delete(cat, &l.items[0].id, &ac, err, sizeof err),
                AKIDB_ENOTFOUND);
  akidb_snapshot_list_free(&l);
  akidb_catalog_close(cat);
  const char *path = tcu_path("snap-tenants.db");
  ASSERT_EQ_INT(tcu_count(path, "SELECT count(*) FROM audit_log WHERE action = 'snapshot.delete' "
                                "AND request_id = 'req-1' AND target LIKE 'snapshot/alpha/%'"),
                1);
  /* the tenant goes: its snapshots go with it, the other tenant's stay */
  ASSERT_OK(akidb_catalog_open(path, NULL, &cat, err, sizeof err));
  ASSERT_OK(akidb_tenant_delete(cat, &a.id, NULL, NULL, NULL, err, sizeof err));
  akidb_catalog_close(cat);
  ASSERT_EQ_INT(tcu_count(path, "SELECT count(*) FROM snapshots"), 1);
}

static void test_dead_letters_count_attempts_per_kind_and_key(void) {
  akidb_catalog_t *cat = tcu_open_new("dlq.db");
  akidb_tenant_t t = tcu_tenant(cat, "acme", AKIDB_TENANT_ACTIVE);
  akidb_database_t d = tcu_database(cat, &t.id, "main");
  akidb_collection_meta_t c = tcu_collection(cat, &d.id, "docs");
  char err[ERR_LEN] = "";
  int64_t s1 = 0, s1b = 0, s2 = 0;
  ASSERT_OK(akidb_dead_letter_put(cat, AKIDB_DEAD_LETTER_COLD_UPLOAD, &c.id, "cold/x/manifest",
                                  "connection refused", 1000, &s1, err, sizeof err));
  ASSERT_OK(akidb_dead_letter_put(cat, AKIDB_DEAD_LETTER_COLD_UPLOAD, &c.id, "cold/x/manifest",
                                  "503 SlowDown", 5000, &s1b, err, sizeof err));
  ASSERT_EQ_INT(s1, s1b); /* the same work: one entry */
  ASSERT_OK(akidb_dead_letter_put(cat, AKIDB_DEAD_LETTER_OBJECT_DELETE, NULL, "cold/x/manifest",
                                  "timed out", 2000, &s2, err, sizeof err));
  ASSERT_TRUE(s2 > s1); /* another kind: its own entry */
  uint64_t n = 0;
  ASSERT_OK(akidb_dead_letter_count(cat, &n, err, sizeof err));
  ASSERT_EQ_U64(n, 2);
  akidb_dead_letter_list_t l;
  ASSERT_OK(akidb_dead_letter_list(cat, 0, 0, 0, &l, err, sizeof err));
  ASSERT_EQ_INT(l.count, 2);
  ASSERT_EQ_INT(l.items[0].kind, AKIDB_DEAD_LETTER_COLD_UPLOAD);
  ASSERT_EQ_INT(l.items[0].attempts, 2);
  ASSERT_TRUE(strcmp(l.items[0].last_error, "503 SlowDown") == 0);
  ASSERT_EQ_INT(l.items[0].next_attempt_at_ms, 5000);
  ASSERT_TRUE(l.items[0].has_collection &&
              akidb_uuid_compare(&l.items[0].collection_id, &c.id) == 0);
  ASSERT_TRUE(!l.items[1].has_collection && l.items[1].attempts == 1);
  akidb_dead_letter_list_free(&l);
  /* due before 3000: only the delete (next attempt at 2000) */
  ASSERT_OK(akidb_dead_letter_list(cat, 3000, 0, 0, &l, err, sizeof err));
  ASSERT_TRUE(l.count == 1 && l.items[0].seq == s2);
  akidb_dead_letter_list_free(&l);
  /* pages */
  ASSERT_OK(akidb_dead_letter_list(cat, 0, 0, 1, &l, err, sizeof err));
  ASSERT_TRUE(l.count == 1 && l.has_more && l.next_seq == s1);
  akidb_dead_letter_list_free(&l);
  ASSERT_OK(akidb_dead_letter_list(cat, 0, s1, 1, &l, err, sizeof err));
  ASSERT_TRUE(l.count == 1 && !l.has_more && l.items[0].seq == s2);
  akidb_dead_letter_list_free(&l);
  ASSERT_EQ_INT(akidb_dead_letter_put(cat, AKIDB_DEAD_LETTER_OBJECT_DELETE, NULL, "", "x", 0,
                                      NULL, err, sizeof err),
                AKIDB_EINVAL);
  /* durable: a reopen sees the queue; remove empties it */
  akidb_catalog_close(cat);
  ASSERT_OK(akidb_catalog_open(tcu_path("dlq.db"), NULL, &cat, err, sizeof err));
  ASSERT_OK(akidb_dead_letter_count(cat, &n, err, sizeof err));
  ASSERT_EQ_U64(n, 2);
  ASSERT_OK(akidb_dead_letter_remove(cat, s1, err, sizeof err));
  ASSERT_OK(akidb_dead_letter_remove(cat, s1, err, sizeof err)); /* absent: fine */
  ASSERT_OK(akidb_dead_letter_remove(cat, s2, err, sizeof err));
  ASSERT_OK(akidb_dead_letter_count(cat, &n, err, sizeof err));
  ASSERT_EQ_U64(n, 0);
  akidb_catalog_close(cat);
}

static void test_collection_cold_manifest_is_set_and_cleared(void) {
  akidb_catalog_t *cat = tcu_open_new("cold.db");
  akidb_tenant_t t = tcu_tenant(cat, "acme", AKIDB_TENANT_ACTIVE);
  akidb_database_t d = tcu_database(cat, &t.id, "main");
  akidb_collection_meta_t c = tcu_collection(cat, &d.id, "docs"), got;
  char err[ERR_LEN] = "";
  ASSERT_TRUE(c.cold_manifest[0] == '\0');
  ASSERT_OK(akidb_collection_meta_set_cold(cat, &c.id, "cold/abc/manifest.json", err, sizeof err));
  ASSERT_OK(akidb_collection_meta_get(cat, &c.id, &got, err, sizeof err));
  ASSERT_TRUE(strcmp(got.cold_manifest, "cold/abc/manifest.json") == 0);
  ASSERT_OK(akidb_collection_meta_set_cold(cat, &c.id, NULL, err, sizeof err));
  ASSERT_OK(akidb_collection_meta_get(cat, &c.id, &got, err, sizeof err));
  ASSERT_TRUE(got.cold_manifest[0] == '\0');
  ASSERT_EQ_INT(akidb_collection_meta_set_cold(cat, &c.id, "", err, sizeof err), AKIDB_EINVAL);
  akidb_uuid_t nobody;
  memset(&nobody, 7, sizeof nobody);
  ASSERT_EQ_INT(akidb_collection_meta_set_cold(cat, &nobody, "k", err, sizeof err),
                AKIDB_ENOTFOUND);
  akidb_catalog_close(cat);
}

CHECK_MAIN(CHECK_CASE(test_snapshot_goes_from_creating_to_ready_once),
           CHECK_CASE(test_snapshots_are_per_tenant_and_outlive_their_collection),
           CHECK_CASE(test_dead_letters_count_attempts_per_kind_and_key),
           CHECK_CASE(test_collection_cold_manifest_is_set_and_cleared))
