/*
 * test_service_residency.c — collections that load on first use and go
 * warm: start-up opens none; many threads loading one collection load it
 * once; an unload never happens under a holder (and an unload racing
 * searches loses nothing); a failed load answers 503 naming the collection
 * and the cause and is retried; idle collections go warm; the memory
 * budget unloads the least recently used; pins; the tier API and its audit.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "service/svc_internal.h"
#include "service_fixture.h"
#include "tmpdir.h"

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static const path_t DB_A = {.tenant = "tenant-a", .database = "main"};

/* Collection `name` (4-d l2) in tenant-a/main with n points. */
static path_t make_coll(akidb_service_t *s, const char *token, const char *name, int n) {
  char body[256];
  snprintf(body, sizeof body, "{\"name\":\"%s\",\"dimension\":4,\"metric\":\"l2\"}", name);
  expect(s, AKIDB_OP_COLLECTION_CREATE, token, DB_A, body, 201);
  path_t p = {.tenant = "tenant-a", .database = "main", .collection = name};
  char pts[8192] = "{\"points\":[";
  for (int i = 0; i < n; i++) {
    char one[128];
    snprintf(one, sizeof one, "%s{\"id\":\"p%d\",\"vector\":[%d,1,2,3],\"payload\":{\"i\":%d}}",
             i ? "," : "", i, i, i);
    strcat(pts, one);
  }
  strcat(pts, "]}");
  if (n) expect(s, AKIDB_OP_POINT_UPSERT, token, p, pts, 200);
  return p;
}

/* The registry entry of a collection by name (the test holds no reference
 * afterwards: entries of live collections are not freed). */
static svc_coll_t *entry_named(akidb_service_t *s, const char *name) {
  svc_coll_t *found = NULL;
  pthread_rwlock_rdlock(&s->reg.lock);
  for (size_t i = 0; i < s->reg.nslots && !found; i++)
    for (svc_coll_t *e = s->reg.slots[i]; e; e = e->next)
      if (strcmp(e->name, name) == 0) found = e;
  pthread_rwlock_unlock(&s->reg.lock);
  if (!found) CHECK_FAIL("no registry entry for %s", name);
  return found;
}

static bool is_resident(svc_coll_t *e) { return atomic_load(&e->state) == SVC_OPEN; }

static json_t *get_coll(akidb_service_t *s, const char *token, path_t p) {
  answer_t r;
  if (call(s, AKIDB_OP_COLLECTION_GET, token, p, NULL, &r) != 200)
    CHECK_FAIL("get: %s", r.error.message);
  json_t *b = json_incref(r.body);
  answer_clear(&r);
  return b;
}

static int search_hits(akidb_service_t *s, const char *token, path_t p, int *status) {
  answer_t r;
  *status = call(s, AKIDB_OP_SEARCH, token, p, "{\"vector\":[0,1,2,3],\"k\":100}", &r);
  int n = *status == 200 ? (int)json_array_size(json_object_get(r.body, "results")) : -1;
  answer_clear(&r);
  return n;
}

static void patch_tier(akidb_service_t *s, const char *token, path_t p, const char *body) {
  expect(s, AKIDB_OP_COLLECTION_UPDATE, token, p, body, 200);
}

/* A service on a fresh directory `name` (options tuned by `tune`, may be
 * NULL) with tenant-a/main; *boss receives the tenant admin's token. */
static akidb_service_t *start(const char *name, void (*tune)(akidb_service_options_t *o),
                              const char **boss) {
  char dir[8192];
  new_dir(dir, sizeof dir, name);
  akidb_service_t *s = open_service_with(dir, tune);
  const char *root = login(s, "", "admin", ADMIN_PASSWORD, 0);
  *boss = setup_docs(s, root, NULL);
  return s;
}

/* ---------------------------------------------------------------- cases -- */

static void test_start_opens_no_collection(void) {
  const char *boss;
  akidb_service_t *s = start("start", NULL, &boss);
  char dir[8192];
  new_dir(dir, sizeof dir, "start"); /* the same directory, to reopen */
  for (int i = 0; i < 5; i++) {
    char name[16];
    snprintf(name, sizeof name, "c%d", i);
    make_coll(s, boss, name, 3);
  }
  ASSERT_OK(akidb_service_close(s, NULL, 0));
  s = open_service(dir);
  ASSERT_TRUE(akidb_service_ready(s));
  boss = login(s, "tenant-a", "boss", "boss-password-1", 1);
  for (int i = 0; i < 5; i++) {
    char name[16];
    snprintf(name, sizeof name, "c%d", i);
    ASSERT_TRUE(!is_resident(entry_named(s, name)));
  }
  path_t c2 = {.tenant = "tenant-a", .database = "main", .collection = "c2"};
  json_t *g = get_coll(s, boss, c2); /* GET does not load */
  ASSERT_TRUE(json_is_false(json_object_get(g, "resident")));
  ASSERT_TRUE(strcmp(json_string_value(json_object_get(g, "tier")), "warm") == 0);
  /* Its figures come from its files (the final checkpoint), not a load. */
  ASSERT_EQ_INT(json_integer_value(json_object_get(g, "points")), 3);
  ASSERT_GE(json_integer_value(json_object_get(g, "disk_bytes")), 64);
  ASSERT_EQ_INT(json_integer_value(json_object_get(g, "memory_bytes")), 0);
  json_decref(g);
  ASSERT_TRUE(!is_resident(entry_named(s, "c2")));
  int st;
  ASSERT_EQ_INT(search_hits(s, boss, c2, &st), 3); /* first use loads it */
  ASSERT_TRUE(is_resident(entry_named(s, "c2")));
  ASSERT_TRUE(!is_resident(entry_named(s, "c1")));
  g = get_coll(s, boss, c2);
  ASSERT_TRUE(json_is_true(json_object_get(g, "resident")));
  ASSERT_GE(json_integer_value(json_object_get(g, "memory_bytes")), 1);
  ASSERT_TRUE(json_is_string(json_object_get(g, "last_access")));
  json_decref(g);
  ASSERT_OK(akidb_service_close(s, NULL, 0));
}

typedef struct {
  akidb_service_t *s;
  const char *token;
  path_t p;
  atomic_int ok, bad;
  atomic_bool stop;
  int rounds;
} searcher_t;

static void *search_loop(void *arg) {
  searcher_t *t = arg;
  for (int i = 0; i < t->rounds || (t->rounds == 0 && !atomic_load(&t->stop)); i++) {
    int st, n = search_hits(t->s, t->token, t->p, &st);
    if (st == 200 && n == 20) atomic_fetch_add(&t->ok, 1);
    else atomic_fetch_add(&t->bad, 1);
  }
  return NULL;
}

static void test_many_threads_loading_one_collection_load_it_once(void) {
  const char *boss;
  akidb_service_t *s = start("herd", NULL, &boss);
  path_t p = make_coll(s, boss, "herd", 20);
  patch_tier(s, boss, p, "{\"tier\":\"warm\"}");
  svc_coll_t *e = entry_named(s, "herd");
  ASSERT_TRUE(!is_resident(e));
  uint64_t loads_before = e->loads;
  searcher_t t = {.s = s, .token = boss, .p = p, .rounds = 5};
  pthread_t th[8];
  for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, search_loop, &t);
  for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
  ASSERT_EQ_INT(atomic_load(&t.bad), 0);
  ASSERT_EQ_INT(atomic_load(&t.ok), 40);
  ASSERT_EQ_U64(e->loads - loads_before, 1);
  ASSERT_OK(akidb_service_close(s, NULL, 0));
}

static void test_unload_never_happens_under_a_holder(void) {
  const char *boss;
  akidb_service_t *s = start("holder", NULL, &boss);
  path_t p = make_coll(s, boss, "held", 20);
  svc_coll_t *e = entry_named(s, "held");
  svc_coll_t *h1 = svc_registry_peek(&s->reg, &e->id), *h2 = svc_registry_peek(&s->reg, &e->id);
  ASSERT_TRUE(h1 == e && h2 == e);
  ASSERT_EQ_INT(svc_registry_unload(e, "api", 1), AKIDB_EBUSY); /* h2 is another holder */
  ASSERT_TRUE(is_resident(e) && e->c != NULL);
  svc_coll_release(h2);
  ASSERT_OK(svc_registry_unload(e, "api", 1));
  ASSERT_TRUE(!is_resident(e) && e->c == NULL);
  svc_coll_release(h1);
  /* Searches racing repeated unloads: every one answers, with every point. */
  searcher_t t = {.s = s, .token = boss, .p = p, .rounds = 0};
  pthread_t th[3];
  for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, search_loop, &t);
  for (int i = 0; i < 40; i++) {
    svc_coll_t *x = svc_registry_peek(&s->reg, &e->id);
    svc_registry_unload(x, "api", 1);
    svc_coll_release(x);
    sleep_ms(2);
  }
  atomic_store(&t.stop, true);
  for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
  ASSERT_EQ_INT(atomic_load(&t.bad), 0);
  ASSERT_GE(atomic_load(&t.ok), 1);
  ASSERT_GE(e->loads, 2);
  ASSERT_OK(akidb_service_close(s, NULL, 0));
}

static void test_failed_load_answers_503_and_is_retried(void) {
  const char *boss;
  akidb_service_t *s = start("fail", NULL, &boss);
  path_t p = make_coll(s, boss, "fragile", 20);
  patch_tier(s, boss, p, "{\"tier\":\"warm\"}");
  svc_coll_t *e = entry_named(s, "fragile");
  char cdir[4096], meta[4200], moved[4300];
  svc_coll_dir(s, &e->id, cdir, sizeof cdir);
  snprintf(meta, sizeof meta, "%s/collection.meta", cdir);
  snprintf(moved, sizeof moved, "%s.saved", meta);
  ASSERT_OK(rename(meta, moved));
  FILE *f = fopen(meta, "wb");
  fputs("garbage, not a collection", f);
  fclose(f);
  answer_t r;
  ASSERT_EQ_INT(call(s, AKIDB_OP_SEARCH, boss, p, "{\"vector\":[0,1,2,3],\"k\":3}", &r), 503);
  ASSERT_STR_CONTAINS(r.error.message, "fragile");
  ASSERT_STR_CONTAINS(r.error.message, "not an AkiDB collection file");
  answer_clear(&r);
  json_t *g = get_coll(s, boss, p);
  ASSERT_STR_CONTAINS(json_string_value(json_object_get(g, "load_error")), "collection.meta");
  json_decref(g);
  ASSERT_OK(rename(moved, meta)); /* fixed: the next request loads it */
  int st;
  ASSERT_EQ_INT(search_hits(s, boss, p, &st), 20);
  ASSERT_TRUE(is_resident(e));
  ASSERT_OK(akidb_service_close(s, NULL, 0));
}

static void quick_idle(akidb_service_options_t *o) {
  o->warm_after_s = 1;
  o->tier_check_ms = 50;
}

static void test_idle_collection_goes_warm_and_comes_back(void) {
  const char *boss;
  akidb_service_t *s = start("idle", quick_idle, &boss);
  path_t p = make_coll(s, boss, "sleepy", 20);
  svc_coll_t *e = entry_named(s, "sleepy");
  ASSERT_TRUE(is_resident(e));
  for (int i = 0; i < 6000 && is_resident(e); i++) sleep_ms(10); /* hangs fail, not time */
  ASSERT_TRUE(!is_resident(e));
  int st;
  ASSERT_EQ_INT(search_hits(s, boss, p, &st), 20);
  ASSERT_TRUE(is_resident(e));
  ASSERT_OK(akidb_service_close(s, NULL, 0));
}

static void manual_passes(akidb_service_options_t *o) {
  o->tier_check_ms = 3600 * 1000; /* passes run when the test asks */
}

static void test_budget_unloads_least_recently_used_and_spares_pinned_hot(void) {
  const char *boss;
  akidb_service_t *s = start("budget", manual_passes, &boss);
  path_t a = make_coll(s, boss, "aa", 20), b = make_coll(s, boss, "bb", 20);
  path_t c = make_coll(s, boss, "cc", 20);
  patch_tier(s, boss, c, "{\"tier\":\"hot\",\"tier_pinned\":true}");
  int st;
  search_hits(s, boss, a, &st);
  sleep_ms(5);
  search_hits(s, boss, b, &st); /* b is the most recent */
  svc_coll_figures_t fa, fb, fc;
  svc_coll_figures(&s->reg, entry_named(s, "aa"), &fa);
  svc_coll_figures(&s->reg, entry_named(s, "bb"), &fb);
  svc_coll_figures(&s->reg, entry_named(s, "cc"), &fc);
  ASSERT_TRUE(fa.resident && fb.resident && fc.resident);
  /* A budget that holds the pinned one plus one more: the older goes. */
  atomic_store(&s->memory_budget,
               fc.memory_bytes + (fa.memory_bytes > fb.memory_bytes ? fa.memory_bytes
                                                                    : fb.memory_bytes));
  svc_tier_pass(s);
  ASSERT_TRUE(!is_resident(entry_named(s, "aa")));
  ASSERT_TRUE(is_resident(entry_named(s, "bb")));
  ASSERT_TRUE(is_resident(entry_named(s, "cc")));
  atomic_store(&s->memory_budget, 1); /* below any collection: only the pinned stay */
  svc_tier_pass(s);
  ASSERT_TRUE(!is_resident(entry_named(s, "bb")));
  ASSERT_TRUE(is_resident(entry_named(s, "cc"))); /* pinned hot stays over budget */
  ASSERT_EQ_INT(search_hits(s, boss, a, &st), 20); /* warm ones still answer */
  ASSERT_OK(akidb_service_close(s, NULL, 0));
}

static void test_tier_api_moves_pins_and_audits(void) {
  const char *boss;
  akidb_service_t *s = start("api", NULL, &boss);
  path_t p = make_coll(s, boss, "moved", 20);
  svc_coll_t *e = entry_named(s, "moved");
  answer_t r;
  ASSERT_EQ_INT(call(s, AKIDB_OP_COLLECTION_UPDATE, boss, p, "{\"tier\":\"warm\",\"tier_pinned\":true}",
                     &r), 200);
  ASSERT_TRUE(strcmp(json_string_value(json_object_get(r.body, "tier")), "warm") == 0);
  ASSERT_TRUE(json_is_true(json_object_get(r.body, "tier_pinned")));
  ASSERT_TRUE(json_is_false(json_object_get(r.body, "resident")));
  ASSERT_EQ_INT(json_integer_value(json_object_get(r.body, "memory_bytes")), 0);
  answer_clear(&r);
  ASSERT_TRUE(!is_resident(e));
  ASSERT_EQ_INT(atomic_load(&e->pin), AKIDB_TIER_WARM);
  /* Pinned warm: used on demand, unloaded again at the next pass. */
  int st;
  ASSERT_EQ_INT(search_hits(s, boss, p, &st), 20);
  svc_tier_pass(s);
  ASSERT_TRUE(!is_resident(e));
  patch_tier(s, boss, p, "{\"tier\":\"hot\"}");
  ASSERT_TRUE(is_resident(e));
  patch_tier(s, boss, p, "{\"tier_pinned\":false}");
  ASSERT_EQ_INT(atomic_load(&e->pin), SVC_PIN_NONE);
  /* Bad input changes nothing. */
  expect(s, AKIDB_OP_COLLECTION_UPDATE, boss, p, "{\"tier\":\"lukewarm\"}", 400);
  expect(s, AKIDB_OP_COLLECTION_UPDATE, boss, p, "{\"tier_pinned\":\"yes\"}", 400);
  expect(s, AKIDB_OP_COLLECTION_UPDATE, boss, p, "{}", 400);
  ASSERT_TRUE(is_resident(e));
  /* Every tier change is audited. */
  ASSERT_EQ_INT(call(s, AKIDB_OP_AUDIT_TENANT, boss, (path_t){.tenant = "tenant-a"}, NULL, &r),
                200);
  char *text = json_dumps(r.body, 0);
  int changes = 0;
  for (const char *q = text; (q = strstr(q, "collection.tier_change")); q++) changes++;
  free(text);
  answer_clear(&r);
  ASSERT_EQ_INT(changes, 3);
  ASSERT_OK(akidb_service_close(s, NULL, 0));
  /* Pins survive a restart: pinned hot loads at start. */
}

static void test_pinned_hot_loads_at_start(void) {
  const char *boss;
  akidb_service_t *s = start("pinstart", NULL, &boss);
  char dir[8192];
  new_dir(dir, sizeof dir, "pinstart"); /* the same directory, to reopen */
  path_t p = make_coll(s, boss, "always", 20);
  make_coll(s, boss, "sometimes", 20);
  patch_tier(s, boss, p, "{\"tier_pinned\":true}");
  ASSERT_OK(akidb_service_close(s, NULL, 0));
  s = open_service(dir);
  ASSERT_TRUE(is_resident(entry_named(s, "always")));
  ASSERT_TRUE(!is_resident(entry_named(s, "sometimes")));
  ASSERT_OK(akidb_service_close(s, NULL, 0));
}

static void test_a_second_service_on_the_same_data_directory_is_refused(void) {
  const char *boss;
  akidb_service_t *s = start("twice", NULL, &boss);
  char dir[8192];
  new_dir(dir, sizeof dir, "twice");
  akidb_service_options_t o;
  akidb_service_options_default(&o);
  o.data_dir = dir;
  o.admin_password = ADMIN_PASSWORD;
  akidb_service_t *other = NULL;
  char err[512] = "";
  ASSERT_EQ_INT(akidb_service_open(&o, &other, NULL, err, sizeof err), AKIDB_ECONFLICT);
  ASSERT_TRUE(other == NULL);
  ASSERT_STR_CONTAINS(err, "is using the data directory");
  ASSERT_OK(akidb_service_close(s, NULL, 0));
  ASSERT_OK(akidb_service_open(&o, &other, NULL, err, sizeof err)); /* free again */
  ASSERT_OK(akidb_service_close(other, NULL, 0));
}

/* Cold: the collection leaves local disk for the object store (the
 * service's default, <data_dir>/objects), its figures stay known, its next
 * use brings it back whole; idle for cold_after_s it goes cold on its own. */
static void test_cold_tier_round_trip(void) {
  const char *boss;
  akidb_service_t *s = start("cold", NULL, &boss);
  path_t p = make_coll(s, boss, "chilly", 20);
  svc_coll_t *e = entry_named(s, "chilly");
  char dir[4096];
  svc_coll_dir(s, &e->id, dir, sizeof dir);
  patch_tier(s, boss, p, "{\"tier\":\"cold\"}");
  ASSERT_TRUE(atomic_load(&e->is_cold) && !is_resident(e));
  struct stat sb;
  ASSERT_TRUE(stat(dir, &sb) != 0); /* no local files */
  json_t *g = get_coll(s, boss, p);
  ASSERT_TRUE(strcmp(json_string_value(json_object_get(g, "tier")), "cold") == 0);
  ASSERT_EQ_INT(json_integer_value(json_object_get(g, "points")), 20);
  json_decref(g);
  int st;
  ASSERT_EQ_INT(search_hits(s, boss, p, &st), 20); /* downloaded, checked, loaded */
  ASSERT_TRUE(!atomic_load(&e->is_cold) && is_resident(e) && stat(dir, &sb) == 0);
  ASSERT_OK(akidb_service_close(s, NULL, 0));
}

/* A request of `op` on path p, for akidb_service_quick. */
static bool quick(akidb_service_t *s, akidb_op_t op, path_t p) {
  akidb_request_t r = {.tenant = p.tenant, .database = p.database, .collection = p.collection};
  return akidb_service_quick(s, op, &r);
}

static void test_only_probes_and_reads_of_a_loaded_collection_are_quick(void) {
  const char *boss;
  akidb_service_t *s = start("quick", NULL, &boss);
  path_t p = make_coll(s, boss, "hot", 5);
  ASSERT_TRUE(is_resident(entry_named(s, "hot")));
  ASSERT_TRUE(quick(s, AKIDB_OP_HEALTH, (path_t){0}));
  ASSERT_TRUE(quick(s, AKIDB_OP_SEARCH, p));
  ASSERT_TRUE(quick(s, AKIDB_OP_POINT_GET_MANY, p));
  ASSERT_TRUE(quick(s, AKIDB_OP_POINT_SCAN, p));
  /* writes, logins and catalog changes may wait on the disk or a hash */
  ASSERT_TRUE(!quick(s, AKIDB_OP_POINT_UPSERT, p));
  ASSERT_TRUE(!quick(s, AKIDB_OP_LOGIN, (path_t){0}));
  ASSERT_TRUE(!quick(s, AKIDB_OP_COLLECTION_CREATE, DB_A));
  /* a read of a collection that is not loaded (or does not exist) loads first */
  ASSERT_TRUE(!quick(s, AKIDB_OP_SEARCH, (path_t){"tenant-a", "main", "nope", NULL, NULL}));
  ASSERT_TRUE(!quick(s, AKIDB_OP_SEARCH, (path_t){"ghost", "main", "hot", NULL, NULL}));
  patch_tier(s, boss, p, "{\"tier\":\"warm\"}");
  ASSERT_TRUE(!is_resident(entry_named(s, "hot")));
  ASSERT_TRUE(!quick(s, AKIDB_OP_SEARCH, p));
  int st;
  ASSERT_EQ_INT(search_hits(s, boss, p, &st), 5); /* loads it again */
  ASSERT_TRUE(quick(s, AKIDB_OP_SEARCH, p));
  ASSERT_OK(akidb_service_close(s, NULL, 0));
}

CHECK_MAIN(CHECK_CASE(test_start_opens_no_collection),
           CHECK_CASE(test_only_probes_and_reads_of_a_loaded_collection_are_quick),
           CHECK_CASE(test_many_threads_loading_one_collection_load_it_once),
           CHECK_CASE(test_unload_never_happens_under_a_holder),
           CHECK_CASE(test_failed_load_answers_503_and_is_retried),
           CHECK_CASE(test_idle_collection_goes_warm_and_comes_back),
           CHECK_CASE(test_budget_unloads_least_recently_used_and_spares_pinned_hot),
           CHECK_CASE(test_tier_api_moves_pins_and_audits),
           CHECK_CASE(test_cold_tier_round_trip),
           CHECK_CASE(test_pinned_hot_loads_at_start),
           CHECK_CASE(test_a_second_service_on_the_same_data_directory_is_refused))
