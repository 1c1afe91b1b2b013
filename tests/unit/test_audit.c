/*
 * test_audit.c — the audit log: rows cannot be updated or deleted (triggers)
 * except by retention pruning, which removes only rows older than its
 * cutoff, refuses a cutoff inside the last day and records itself;
 * mutations write their audit rows in their own transaction (and a failed
 * mutation writes none); every action type in the issue is recorded by the
 * operation it names; queries filter by tenant, actor, action and time
 * range and page without loss or repetition in both directions.
 */
#include <string.h>
#include <time.h>

#include "akidb/auth.h"
#include "test_catalog_util.h"

#define ERR_LEN 512
#define DAY_MS (24ll * 3600 * 1000)

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void entry(akidb_audit_entry_t *e, const akidb_uuid_t *tenant, const char *actor,
                  akidb_audit_action_t action, int64_t time_ms) {
  memset(e, 0, sizeof *e);
  e->time_ms = time_ms;
  if (tenant) {
    e->has_tenant = true;
    e->tenant_id = *tenant;
  }
  snprintf(e->actor, sizeof e->actor, "%s", actor);
  e->action = action;
  e->outcome = AKIDB_AUDIT_SUCCESS;
  snprintf(e->target, sizeof e->target, "snapshot/x");
  snprintf(e->request_id, sizeof e->request_id, "req");
}

static void test_audit_rows_cannot_be_changed_or_deleted(void) {
  akidb_catalog_t *cat = tcu_open_new("immutable.db");
  const char *path = tcu_path("immutable.db");
  char err[ERR_LEN] = "", msg[256];
  akidb_audit_entry_t e;
  entry(&e, NULL, "ops", AKIDB_AUDIT_SNAPSHOT_CREATE, 0);
  int64_t seq = 0;
  ASSERT_OK(akidb_audit_append(cat, &e, &seq, err, sizeof err));
  ASSERT_TRUE(seq > 0);
  entry(&e, NULL, "ops", AKIDB_AUDIT_SNAPSHOT_CREATE, now_ms() - 30 * DAY_MS); /* old, prunable */
  ASSERT_OK(akidb_audit_append(cat, &e, NULL, err, sizeof err));
  const char *attacks[] = {"UPDATE audit_log SET outcome = 'failure'",
                           "UPDATE audit_log SET details = '{}' WHERE seq = 1",
                           "DELETE FROM audit_log",
                           "DELETE FROM audit_log WHERE time_ms < 1000000000000000",
                           "DELETE FROM audit_retention",
                           "INSERT INTO audit_retention VALUES (2, 0)",
                           NULL};
  for (int i = 0; attacks[i]; i++) {
    int rc = tcu_exec(path, attacks[i], msg, sizeof msg);
    if ((rc & 0xff) != SQLITE_CONSTRAINT)
      CHECK_FAIL("'%s' was not refused (%d %s)", attacks[i], rc, msg);
  }
  ASSERT_STR_CONTAINS(msg, "audit_retention");
  ASSERT_EQ_INT(tcu_exec(path, "DELETE FROM audit_log", msg, sizeof msg) & 0xff, SQLITE_CONSTRAINT);
  ASSERT_STR_CONTAINS(msg, "append-only");
  ASSERT_EQ_INT(tcu_count(path, "SELECT count(*) FROM audit_log"), 2);
  ASSERT_EQ_INT(tcu_count(path, "SELECT count(*) FROM audit_log WHERE outcome = 'success'"), 2);
  akidb_catalog_close(cat);
}

static void test_audit_prune_removes_only_old_rows_and_records_itself(void) {
  akidb_catalog_t *cat = tcu_open_new("prune.db");
  const char *path = tcu_path("prune.db");
  char err[ERR_LEN] = "", msg[256];
  int64_t now = now_ms();
  akidb_audit_entry_t e;
  for (int i = 0; i < 10; i++) {
    entry(&e, NULL, "ops", AKIDB_AUDIT_SNAPSHOT_CREATE, now - (40 - i) * DAY_MS); /* 40..31 days */
    ASSERT_OK(akidb_audit_append(cat, &e, NULL, err, sizeof err));
  }
  for (int i = 0; i < 5; i++) {
    entry(&e, NULL, "ops", AKIDB_AUDIT_SNAPSHOT_RESTORE, now - i * 3600 * 1000); /* recent */
    ASSERT_OK(akidb_audit_append(cat, &e, NULL, err, sizeof err));
  }
  uint64_t deleted = 99;
  ASSERT_EQ_INT(akidb_audit_prune(cat, now - DAY_MS / 2, NULL, &deleted, err, sizeof err),
                AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "one day");
  ASSERT_EQ_U64(deleted, 99);
  akidb_audit_ctx_t ac = {NULL, "retention-job", "req-prune"};
  ASSERT_OK(akidb_audit_prune(cat, now - 35 * DAY_MS, &ac, &deleted, err, sizeof err));
  ASSERT_EQ_U64(deleted, 5); /* days 40..36 */
  ASSERT_EQ_INT(tcu_count(path, "SELECT count(*) FROM audit_log WHERE action = 'snapshot.create'"),
                5);
  ASSERT_EQ_INT(tcu_count(path, "SELECT count(*) FROM audit_log WHERE action = 'snapshot.restore'"),
                5);
  ASSERT_EQ_INT(tcu_count(path,
                          "SELECT count(*) FROM audit_log WHERE action = 'audit.prune' AND "
                          "actor = 'retention-job' AND json_extract(details, '$.deleted') = 5"),
                1);
  /* The gate is closed again: old rows are still protected from plain SQL. */
  ASSERT_EQ_INT(
      tcu_exec(path, "DELETE FROM audit_log WHERE action = 'snapshot.create'", msg, sizeof msg) &
          0xff,
      SQLITE_CONSTRAINT);
  ASSERT_OK(akidb_audit_prune(cat, now - 2 * DAY_MS, NULL, &deleted, err, sizeof err));
  ASSERT_EQ_U64(deleted, 5);
  ASSERT_EQ_INT(tcu_count(path, "SELECT count(*) FROM audit_log WHERE action = 'audit.prune'"), 2);
  /* seq is never reused after pruning. */
  int64_t seq;
  entry(&e, NULL, "ops", AKIDB_AUDIT_SNAPSHOT_CREATE, 0);
  ASSERT_OK(akidb_audit_append(cat, &e, &seq, err, sizeof err));
  ASSERT_EQ_INT(seq, 18);
  akidb_catalog_close(cat);
}

static void test_mutations_audit_in_their_own_transaction(void) {
  akidb_catalog_t *cat = tcu_open_new("atomic.db");
  char err[ERR_LEN] = "";
  akidb_uuid_t actor;
  ASSERT_OK(akidb_uuid_v7(&actor));
  akidb_audit_ctx_t ac = {&actor, "root", "req-42"};
  akidb_tenant_t in, t;
  memset(&in, 0, sizeof in);
  strcpy(in.slug, "acme");
  strcpy(in.name, "Acme \"Q\"");
  ASSERT_OK(akidb_tenant_create(cat, &in, &ac, &t, err, sizeof err));
  ASSERT_EQ_INT(akidb_tenant_create(cat, &in, &ac, NULL, err, sizeof err), AKIDB_EEXIST);
  akidb_audit_list_t l;
  ASSERT_OK(akidb_audit_query(cat, NULL, &l, err, sizeof err));
  ASSERT_EQ_INT(l.count, 1); /* the failed create wrote nothing */
  akidb_audit_entry_t *e = &l.items[0];
  ASSERT_EQ_INT(e->action, AKIDB_AUDIT_TENANT_CREATE);
  ASSERT_EQ_INT(e->outcome, AKIDB_AUDIT_SUCCESS);
  ASSERT_TRUE(e->has_actor && akidb_uuid_compare(&e->actor_id, &actor) == 0);
  ASSERT_TRUE(strcmp(e->actor, "root") == 0);
  ASSERT_TRUE(e->has_tenant && akidb_uuid_compare(&e->tenant_id, &t.id) == 0);
  ASSERT_TRUE(strcmp(e->target, "tenant/acme") == 0);
  ASSERT_TRUE(strcmp(e->request_id, "req-42") == 0);
  ASSERT_STR_CONTAINS(e->details, "\"slug\":\"acme\"");
  ASSERT_STR_CONTAINS(e->details, "\"name\":\"Acme \\\"Q\\\"\"");
  ASSERT_TRUE(e->time_ms > 0);
  akidb_audit_list_free(&l);
  /* A rolled-back explicit transaction takes its audit rows with it. */
  ASSERT_OK(akidb_catalog_begin(cat, err, sizeof err));
  akidb_tenant_update_t upd = {.set_status = true, .status = AKIDB_TENANT_ACTIVE};
  ASSERT_OK(akidb_tenant_update(cat, &t.id, &upd, &ac, NULL, err, sizeof err));
  akidb_catalog_rollback(cat);
  ASSERT_OK(akidb_audit_query(cat, NULL, &l, err, sizeof err));
  ASSERT_EQ_INT(l.count, 1);
  akidb_audit_list_free(&l);
  akidb_catalog_close(cat);
}

static bool has_action(akidb_catalog_t *cat, akidb_audit_action_t a) {
  akidb_audit_query_t q = {.by_action = true, .action = a};
  akidb_audit_list_t l;
  if (akidb_audit_query(cat, &q, &l, NULL, 0)) return false;
  bool found = l.count > 0;
  akidb_audit_list_free(&l);
  return found;
}

static void test_every_action_type_is_recorded_by_its_operation(void) {
  akidb_catalog_t *cat = tcu_open_new("actions.db");
  char err[ERR_LEN] = "", secret[AKIDB_TOKEN_MAX + 1];
  akidb_auth_options_t ao;
  akidb_auth_options_default(&ao);
  ao.argon2 = (akidb_argon2_params_t){1, 64, 1};
  akidb_auth_t *auth;
  ASSERT_OK(akidb_auth_open(cat, &ao, &auth, err, sizeof err));
  akidb_audit_ctx_t ac = {NULL, "root", "r"};
  akidb_tenant_t in, t;
  memset(&in, 0, sizeof in);
  strcpy(in.slug, "every");
  strcpy(in.name, "Every");
  ASSERT_OK(akidb_tenant_create(cat, &in, &ac, &t, err, sizeof err));
  akidb_quotas_t q = {1, 2, 3, 4};
  akidb_tenant_update_t tu = {
      .name = "Every Action", .quotas = &q, .set_status = true, .status = AKIDB_TENANT_ACTIVE};
  ASSERT_OK(akidb_tenant_update(cat, &t.id, &tu, &ac, NULL, err, sizeof err));
  akidb_database_t din, d;
  memset(&din, 0, sizeof din);
  din.tenant_id = t.id;
  strcpy(din.name, "main");
  ASSERT_OK(akidb_database_create(cat, &din, &ac, &d, err, sizeof err));
  akidb_database_update_t du = {.name = "primary"};
  ASSERT_OK(akidb_database_update(cat, &d.id, &du, &ac, NULL, err, sizeof err));
  static akidb_collection_meta_t c;
  tcu_collection_spec(&c, &d.id, "docs");
  ASSERT_OK(akidb_collection_meta_create(cat, &c, &ac, &c, err, sizeof err));
  akidb_collection_meta_update_t cu = {
      .set_ef_search = true, .ef_search = 10, .set_tier = true, .tier = AKIDB_TIER_WARM};
  ASSERT_OK(akidb_collection_meta_update(cat, &c.id, &cu, &ac, NULL, err, sizeof err));
  akidb_user_t uin, u;
  memset(&uin, 0, sizeof uin);
  uin.has_tenant = true;
  uin.tenant_id = t.id;
  strcpy(uin.username, "eve");
  uin.role = AKIDB_ROLE_VIEWER;
  ASSERT_OK(akidb_auth_user_create(auth, &uin, "a long enough password", &ac, &u, err, sizeof err));
  akidb_user_update_t uu = {.set_role = true, .role = AKIDB_ROLE_DEVELOPER};
  ASSERT_OK(akidb_user_update(cat, &u.id, &uu, &ac, NULL, err, sizeof err));
  ASSERT_OK(akidb_auth_set_password(auth, &u.id, "another long password", &ac, err, sizeof err));
  akidb_api_key_t k;
  ASSERT_OK(
      akidb_auth_key_create(auth, &u.id, "ci", 0, &ac, &k, secret, sizeof secret, err, sizeof err));
  ASSERT_OK(akidb_auth_key_revoke(auth, &k.id, &ac, err, sizeof err));
  akidb_session_t s;
  ASSERT_EQ_INT(akidb_auth_login(auth, "every", "eve", "wrong password!!", "10.0.0.1", "r1", &s,
                                 err, sizeof err),
                AKIDB_EUNAUTH);
  ASSERT_OK(akidb_auth_login(auth, "every", "eve", "another long password", "10.0.0.1", "r2", &s,
                             err, sizeof err));
  ASSERT_OK(akidb_auth_logout(auth, s.token, "r3", err, sizeof err));
  akidb_audit_entry_t e;
  entry(&e, &t.id, "eve", AKIDB_AUDIT_SNAPSHOT_CREATE, 0);
  ASSERT_OK(akidb_audit_append(cat, &e, NULL, err, sizeof err));
  entry(&e, &t.id, "eve", AKIDB_AUDIT_SNAPSHOT_RESTORE, 0);
  ASSERT_OK(akidb_audit_append(cat, &e, NULL, err, sizeof err));
  ASSERT_OK(akidb_collection_meta_delete(cat, &c.id, &ac, NULL, NULL, err, sizeof err));
  ASSERT_OK(akidb_database_delete(cat, &d.id, &ac, NULL, NULL, err, sizeof err));
  ASSERT_OK(akidb_user_delete(cat, &u.id, &ac, err, sizeof err));
  ASSERT_OK(akidb_tenant_delete(cat, &t.id, &ac, NULL, NULL, err, sizeof err));

  const akidb_audit_action_t want[] = {AKIDB_AUDIT_LOGIN_SUCCESS,
                                       AKIDB_AUDIT_LOGIN_FAILURE,
                                       AKIDB_AUDIT_LOGOUT,
                                       AKIDB_AUDIT_TENANT_CREATE,
                                       AKIDB_AUDIT_TENANT_UPDATE,
                                       AKIDB_AUDIT_TENANT_DELETE,
                                       AKIDB_AUDIT_TENANT_STATUS_CHANGE,
                                       AKIDB_AUDIT_TENANT_QUOTA_CHANGE,
                                       AKIDB_AUDIT_DATABASE_CREATE,
                                       AKIDB_AUDIT_DATABASE_UPDATE,
                                       AKIDB_AUDIT_DATABASE_DELETE,
                                       AKIDB_AUDIT_COLLECTION_CREATE,
                                       AKIDB_AUDIT_COLLECTION_UPDATE,
                                       AKIDB_AUDIT_COLLECTION_DELETE,
                                       AKIDB_AUDIT_COLLECTION_TIER_CHANGE,
                                       AKIDB_AUDIT_USER_CREATE,
                                       AKIDB_AUDIT_USER_UPDATE,
                                       AKIDB_AUDIT_USER_DELETE,
                                       AKIDB_AUDIT_USER_ROLE_CHANGE,
                                       AKIDB_AUDIT_APIKEY_CREATE,
                                       AKIDB_AUDIT_APIKEY_REVOKE,
                                       AKIDB_AUDIT_SNAPSHOT_CREATE,
                                       AKIDB_AUDIT_SNAPSHOT_RESTORE};
  size_t n = sizeof want / sizeof want[0];
  ASSERT_GE(n, 17);
  for (size_t i = 0; i < n; i++)
    if (!has_action(cat, want[i]))
      CHECK_FAIL("no audit row for %s", akidb_audit_action_name(want[i]));
  /* Spot-check the details of the kinds of change. */
  akidb_audit_query_t qq = {.by_action = true, .action = AKIDB_AUDIT_TENANT_STATUS_CHANGE};
  akidb_audit_list_t l;
  ASSERT_OK(akidb_audit_query(cat, &qq, &l, err, sizeof err));
  ASSERT_EQ_INT(l.count, 1);
  ASSERT_STR_CONTAINS(l.items[0].details, "\"from\":\"provisioning\",\"to\":\"active\"");
  akidb_audit_list_free(&l);
  qq.action = AKIDB_AUDIT_USER_ROLE_CHANGE;
  ASSERT_OK(akidb_audit_query(cat, &qq, &l, err, sizeof err));
  ASSERT_STR_CONTAINS(l.items[0].details, "\"from\":\"viewer\",\"to\":\"developer\"");
  akidb_audit_list_free(&l);
  qq.action = AKIDB_AUDIT_LOGIN_FAILURE;
  ASSERT_OK(akidb_audit_query(cat, &qq, &l, err, sizeof err));
  ASSERT_EQ_INT(l.items[0].outcome, AKIDB_AUDIT_FAILURE);
  ASSERT_STR_CONTAINS(l.items[0].details, "\"reason\":\"bad_password\"");
  ASSERT_STR_CONTAINS(l.items[0].details, "\"source\":\"10.0.0.1\"");
  ASSERT_TRUE(strcmp(l.items[0].request_id, "r1") == 0);
  akidb_audit_list_free(&l);
  qq.action = AKIDB_AUDIT_TENANT_QUOTA_CHANGE;
  ASSERT_OK(akidb_audit_query(cat, &qq, &l, err, sizeof err));
  ASSERT_STR_CONTAINS(l.items[0].details, "\"new\":{\"max_memory_bytes\":1,\"max_storage_bytes\":2,"
                                          "\"max_qps\":3,\"max_collections\":4}");
  akidb_audit_list_free(&l);
  akidb_auth_close(auth);
  akidb_catalog_close(cat);
}

/* 3 tenants × 3 actors × 2 actions × 20 times = 360 entries. */
static void fill_log(akidb_catalog_t *cat, akidb_uuid_t tenants[3], akidb_uuid_t actors[3]) {
  char err[ERR_LEN] = "";
  for (int i = 0; i < 3; i++) {
    ASSERT_OK(akidb_uuid_v7(&tenants[i]));
    ASSERT_OK(akidb_uuid_v7(&actors[i]));
  }
  ASSERT_OK(akidb_catalog_begin(cat, err, sizeof err));
  for (int k = 0; k < 20; k++)
    for (int t = 0; t < 3; t++)
      for (int a = 0; a < 3; a++)
        for (int x = 0; x < 2; x++) {
          akidb_audit_entry_t e;
          char actor[16];
          snprintf(actor, sizeof actor, "actor%d", a);
          entry(&e, &tenants[t], actor,
                x ? AKIDB_AUDIT_SNAPSHOT_RESTORE : AKIDB_AUDIT_SNAPSHOT_CREATE, 1000000 + k * 1000);
          e.has_actor = true;
          e.actor_id = actors[a];
          ASSERT_OK(akidb_audit_append(cat, &e, NULL, err, sizeof err));
        }
  ASSERT_OK(akidb_catalog_commit(cat, err, sizeof err));
}

/* Pages through a query; returns the number of rows and checks the order. */
static int page_through(akidb_catalog_t *cat, akidb_audit_query_t q, uint32_t limit,
                        bool (*pred)(const akidb_audit_entry_t *, void *), void *ctx) {
  q.limit = limit;
  q.cursor = 0;
  int n = 0;
  int64_t last = q.newest_first ? INT64_MAX : 0;
  for (;;) {
    akidb_audit_list_t l;
    char err[ERR_LEN] = "";
    ASSERT_OK(akidb_audit_query(cat, &q, &l, err, sizeof err));
    for (size_t i = 0; i < l.count; i++) {
      if (q.newest_first)
        ASSERT_TRUE(l.items[i].seq < last);
      else
        ASSERT_TRUE(l.items[i].seq > last);
      last = l.items[i].seq;
      if (pred && !pred(&l.items[i], ctx))
        CHECK_FAIL("row %lld does not match the filter", (long long)l.items[i].seq);
      n++;
    }
    bool more = l.has_more;
    q.cursor = l.next_seq;
    akidb_audit_list_free(&l);
    if (!more) break;
  }
  return n;
}

static bool same_tenant(const akidb_audit_entry_t *e, void *ctx) {
  return e->has_tenant && akidb_uuid_compare(&e->tenant_id, ctx) == 0;
}
static bool same_actor(const akidb_audit_entry_t *e, void *ctx) {
  return e->has_actor && akidb_uuid_compare(&e->actor_id, ctx) == 0;
}
static bool is_restore(const akidb_audit_entry_t *e, void *ctx) {
  (void)ctx;
  return e->action == AKIDB_AUDIT_SNAPSHOT_RESTORE;
}
static bool in_window(const akidb_audit_entry_t *e, void *ctx) {
  (void)ctx;
  return e->time_ms >= 1005000 && e->time_ms < 1010000;
}

static void test_audit_query_filters_and_pages(void) {
  akidb_catalog_t *cat = tcu_open_new("query.db");
  akidb_uuid_t tenants[3], actors[3];
  fill_log(cat, tenants, actors);
  akidb_audit_query_t q = {0};
  ASSERT_EQ_INT(page_through(cat, q, 7, NULL, NULL), 360);
  q.newest_first = true;
  ASSERT_EQ_INT(page_through(cat, q, 50, NULL, NULL), 360);
  memset(&q, 0, sizeof q);
  q.tenant_id = &tenants[1];
  ASSERT_EQ_INT(page_through(cat, q, 13, same_tenant, &tenants[1]), 120);
  memset(&q, 0, sizeof q);
  q.actor_id = &actors[2];
  ASSERT_EQ_INT(page_through(cat, q, 100, same_actor, &actors[2]), 120);
  memset(&q, 0, sizeof q);
  q.actor = "actor0";
  ASSERT_EQ_INT(page_through(cat, q, 100, NULL, NULL), 120);
  memset(&q, 0, sizeof q);
  q.by_action = true;
  q.action = AKIDB_AUDIT_SNAPSHOT_RESTORE;
  ASSERT_EQ_INT(page_through(cat, q, 1000, is_restore, NULL), 180);
  memset(&q, 0, sizeof q);
  q.from_ms = 1005000;
  q.to_ms = 1010000; /* k = 5..9 */
  ASSERT_EQ_INT(page_through(cat, q, 9, in_window, NULL), 5 * 18);
  /* All filters at once: one tenant, one actor, one action, 5 times. */
  q.tenant_id = &tenants[0];
  q.actor_id = &actors[1];
  q.actor = "actor1";
  q.by_action = true;
  q.action = AKIDB_AUDIT_SNAPSHOT_CREATE;
  q.newest_first = true;
  ASSERT_EQ_INT(page_through(cat, q, 2, in_window, NULL), 5);
  q.actor = "actor2"; /* contradicts actor_id: nothing */
  ASSERT_EQ_INT(page_through(cat, q, 2, NULL, NULL), 0);
  char err[ERR_LEN] = "";
  akidb_audit_list_t l;
  akidb_audit_query_t bad = {.from_ms = 10, .to_ms = 5};
  ASSERT_EQ_INT(akidb_audit_query(cat, &bad, &l, err, sizeof err), AKIDB_EINVAL);
  bad = (akidb_audit_query_t){.by_action = true, .action = AKIDB_AUDIT_ACTION_COUNT};
  ASSERT_EQ_INT(akidb_audit_query(cat, &bad, &l, err, sizeof err), AKIDB_EINVAL);
  akidb_catalog_close(cat);
}

static void test_audit_append_validates_entries(void) {
  akidb_catalog_t *cat = tcu_open_new("append.db");
  char err[ERR_LEN] = "";
  akidb_audit_entry_t e;
  entry(&e, NULL, "x", AKIDB_AUDIT_ACCESS_DENIED, 0);
  strcpy(e.details, "[1,2,3]");
  ASSERT_EQ_INT(akidb_audit_append(cat, &e, NULL, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "JSON object");
  strcpy(e.details, "{broken");
  ASSERT_EQ_INT(akidb_audit_append(cat, &e, NULL, err, sizeof err), AKIDB_EINVAL);
  strcpy(e.details, "{\"path\":\"/v1/tenants\"}");
  e.outcome = AKIDB_AUDIT_DENIED;
  ASSERT_OK(akidb_audit_append(cat, &e, NULL, err, sizeof err));
  e.action = AKIDB_AUDIT_ACTION_COUNT;
  ASSERT_EQ_INT(akidb_audit_append(cat, &e, NULL, err, sizeof err), AKIDB_EINVAL);
  akidb_audit_list_t l;
  ASSERT_OK(akidb_audit_query(cat, NULL, &l, err, sizeof err));
  ASSERT_EQ_INT(l.count, 1);
  ASSERT_EQ_INT(l.items[0].outcome, AKIDB_AUDIT_DENIED);
  ASSERT_EQ_INT(l.items[0].action, AKIDB_AUDIT_ACCESS_DENIED);
  ASSERT_TRUE(!l.items[0].has_tenant && !l.items[0].has_actor);
  akidb_audit_list_free(&l);
  /* Names round-trip. */
  for (int a = 0; a < AKIDB_AUDIT_ACTION_COUNT; a++) {
    akidb_audit_action_t back;
    ASSERT_OK(akidb_audit_action_parse(akidb_audit_action_name((akidb_audit_action_t)a), &back));
    ASSERT_EQ_INT(back, a);
  }
  akidb_catalog_close(cat);
}

CHECK_MAIN(CHECK_CASE(test_audit_rows_cannot_be_changed_or_deleted),
           CHECK_CASE(test_audit_prune_removes_only_old_rows_and_records_itself),
           CHECK_CASE(test_mutations_audit_in_their_own_transaction),
           CHECK_CASE(test_every_action_type_is_recorded_by_its_operation),
           CHECK_CASE(test_audit_query_filters_and_pages),
           CHECK_CASE(test_audit_append_validates_entries))
