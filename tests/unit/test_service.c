/*
 * test_service.c — the service layer (src/service/) called directly, as a
 * transport would: the status table; the path of a request through
 * validation, authentication, authorisation, quotas and execution; tenant
 * isolation (a foreign tenant answers exactly like a missing one); bad
 * input changing nothing; filtered search against a brute-force answer;
 * quotas (collections, storage, QPS); data surviving a close and reopen.
 */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "check.h"
#include "service/service.h"
#include "service_fixture.h"
#include "tmpdir.h"

/* ---------------------------------------------------------------- cases -- */

static void test_status_table_maps_each_kind_once(void) {
  ASSERT_EQ_INT(akidb_status_http(AKIDB_ST_INVALID_ARGUMENT), 400);
  ASSERT_EQ_INT(akidb_status_http(AKIDB_ST_UNAUTHENTICATED), 401);
  ASSERT_EQ_INT(akidb_status_http(AKIDB_ST_QUOTA_EXCEEDED), 403);
  ASSERT_EQ_INT(akidb_status_http(AKIDB_ST_RATE_LIMITED), 429);
  ASSERT_EQ_INT(akidb_status_grpc(AKIDB_ST_NOT_FOUND), 5);
  ASSERT_EQ_INT(akidb_status_grpc(AKIDB_ST_UNAUTHENTICATED), 16);
  /* successes: the transport picks 200, 201 or 204 (gRPC OK) from the kind */
  ASSERT_EQ_INT(akidb_status_http(AKIDB_ST_OK), 200);
  ASSERT_EQ_INT(akidb_status_http(AKIDB_ST_CREATED), 201);
  ASSERT_EQ_INT(akidb_status_http(AKIDB_ST_DONE), 204);
  for (int s = 0; s < AKIDB_ST_COUNT; s++) {
    bool ok = akidb_status_is_ok((akidb_status_t)s);
    ASSERT_EQ_INT(ok, akidb_status_http((akidb_status_t)s) < 300);
    ASSERT_EQ_INT(ok, akidb_status_grpc((akidb_status_t)s) == 0);
  }
  for (int a = 0; a < AKIDB_ST_COUNT; a++)
    for (int b = a + 1; b < AKIDB_ST_COUNT; b++)
      if (strcmp(akidb_status_code(a), akidb_status_code(b)) == 0)
        CHECK_FAIL("code %s used twice", akidb_status_code(a));
}

static void test_requests_without_credentials_are_refused(void) {
  char dir[8192];
  new_dir(dir, sizeof dir, "noauth");
  akidb_service_t *s = open_service(dir);
  expect(s, AKIDB_OP_TENANT_LIST, NULL, (path_t){0}, NULL, 401);
  expect(s, AKIDB_OP_TENANT_LIST, "as_bogus_token", (path_t){0}, NULL, 401);
  answer_t r;
  call(s, AKIDB_OP_LOGIN, NULL, (path_t){0},
       "{\"username\":\"admin\",\"password\":\"wrong-password-123\"}", &r);
  ASSERT_EQ_INT(akidb_status_http(r.status), 401);
  ASSERT_STR_CONTAINS(r.error.message, "wrong tenant, username or password");
  ASSERT_OK(akidb_service_close(s, NULL, 0));
}

static void test_points_upsert_get_search_and_delete(void) {
  char dir[8192];
  new_dir(dir, sizeof dir, "points");
  akidb_service_t *s = open_service(dir);
  const char *root = login(s, "", "admin", ADMIN_PASSWORD, 0);
  const char *boss = setup_docs(s, root, NULL);
  expect(s, AKIDB_OP_POINT_UPSERT, boss, DOCS_A,
         "{\"points\":["
         "{\"id\":\"a\",\"vector\":[0,0,0],\"payload\":{\"color\":\"red\",\"n\":1}},"
         "{\"id\":\"b\",\"vector\":[1,0,0],\"payload\":{\"color\":\"blue\",\"n\":2}},"
         "{\"id\":\"c\",\"vector\":[2,0,0],\"payload\":{\"color\":\"red\",\"n\":3}},"
         "{\"vector\":[9,9,9]}]}",
         200);
  ASSERT_EQ_U64(count_points(s, boss), 4);
  /* Nearest red points with n >= 2 to the origin: only c. */
  answer_t r;
  ASSERT_EQ_INT(call(s, AKIDB_OP_SEARCH, boss, DOCS_A,
                     "{\"vector\":[0,0,0],\"k\":2,\"filter\":{\"and\":["
                     "{\"field\":\"color\",\"eq\":\"red\"},{\"field\":\"n\",\"gte\":2}]}}",
                     &r),
                200);
  json_t *res = json_object_get(r.body, "results");
  ASSERT_EQ_INT((int)json_array_size(res), 1);
  ASSERT_TRUE(strcmp(json_string_value(json_object_get(json_array_get(res, 0), "id")), "c") == 0);
  ASSERT_NEAR(json_real_value(json_object_get(json_array_get(res, 0), "distance")), 4.0, 1e-5);
  answer_clear(&r);
  /* Unfiltered: a, b in order. */
  ASSERT_EQ_INT(call(s, AKIDB_OP_SEARCH, boss, DOCS_A, "{\"vector\":[0.1,0,0],\"k\":2}", &r), 200);
  res = json_object_get(r.body, "results");
  ASSERT_EQ_INT((int)json_array_size(res), 2);
  ASSERT_TRUE(strcmp(json_string_value(json_object_get(json_array_get(res, 1), "id")), "b") == 0);
  answer_clear(&r);
  ASSERT_EQ_INT(call(s, AKIDB_OP_POINT_GET, boss,
                     (path_t){"tenant-a", "main", "docs", NULL, "b"}, NULL, &r),
                200);
  ASSERT_EQ_INT((int)json_integer_value(json_object_get(json_object_get(r.body, "payload"), "n")),
                2);
  answer_clear(&r);
  ASSERT_EQ_INT(call(s, AKIDB_OP_POINT_DELETE, boss, DOCS_A, "{\"ids\":[\"a\",\"zz\"]}", &r), 200);
  ASSERT_EQ_INT((int)json_integer_value(json_object_get(r.body, "deleted")), 1);
  answer_clear(&r);
  ASSERT_EQ_U64(count_points(s, boss), 3);
  expect(s, AKIDB_OP_POINT_GET, boss, (path_t){"tenant-a", "main", "docs", NULL, "a"}, NULL, 404);
  ASSERT_OK(akidb_service_close(s, NULL, 0));
}

static void test_bad_input_changes_nothing(void) {
  char dir[8192];
  new_dir(dir, sizeof dir, "bad");
  akidb_service_t *s = open_service(dir);
  const char *root = login(s, "", "admin", ADMIN_PASSWORD, 0);
  const char *boss = setup_docs(s, root, NULL);
  expect(s, AKIDB_OP_POINT_UPSERT, boss, DOCS_A, "{\"points\":[{\"id\":\"x\",\"vector\":[1,2,3]}]}",
         200);
  const char *bad[] = {
      "{\"points\":[{\"id\":\"y\",\"vector\":[1,2,3]},{\"id\":\"z\",\"vector\":[1,2]}]}",
      "{\"points\":[{\"id\":\"y\",\"vector\":[1,2,1e300]}]}",
      "{\"points\":[{\"id\":\"y\",\"vector\":[1,\"2\",3]}]}",
      "{\"points\":[]}",
      "{\"points\":[{\"id\":\"y\",\"vector\":[1,2,3],\"colour\":1}]}",
      "{\"points\":[{\"id\":\"\",\"vector\":[1,2,3]}]}",
      "{\"points\":[{\"id\":\"y\",\"vector\":[1,2,3],\"payload\":[1]}]}",
      "{\"pts\":[]}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    expect(s, AKIDB_OP_POINT_UPSERT, boss, DOCS_A, bad[i], 400);
  ASSERT_EQ_U64(count_points(s, boss), 1);
  answer_t r;
  call(s, AKIDB_OP_SEARCH, boss, DOCS_A,
       "{\"vector\":[1,2,3],\"filter\":{\"field\":\"a\",\"regex\":\"x\"}}", &r);
  ASSERT_EQ_INT(akidb_status_http(r.status), 400);
  ASSERT_STR_CONTAINS(r.error.message, "unknown filter operator 'regex'");
  call(s, AKIDB_OP_SEARCH, boss, DOCS_A, "{\"vector\":[1,2,3],\"k\":1000000}", &r);
  ASSERT_EQ_INT(akidb_status_http(r.status), 400);
  ASSERT_STR_CONTAINS(r.error.message, "1..1000");
  expect(s, AKIDB_OP_COLLECTION_CREATE, boss, (path_t){.tenant = "tenant-a", .database = "main"},
         "{\"name\":\"bad name!\",\"dimension\":3}", 400);
  expect(s, AKIDB_OP_COLLECTION_CREATE, boss, (path_t){.tenant = "tenant-a", .database = "main"},
         "{\"name\":\"docs2\",\"dimension\":0}", 400);
  ASSERT_OK(akidb_service_close(s, NULL, 0));
}

/* Every answer a tenant-b principal gets about tenant-a equals the one for
 * a tenant that does not exist (with the name swapped). */
static void test_foreign_tenant_answers_like_a_missing_one(void) {
  char dir[8192];
  new_dir(dir, sizeof dir, "iso");
  akidb_service_t *s = open_service(dir);
  const char *root = login(s, "", "admin", ADMIN_PASSWORD, 0);
  setup_docs(s, root, NULL);
  const char *other = make_tenant(s, root, "tenant-b", NULL, 2);
  const akidb_op_t ops[] = {AKIDB_OP_TENANT_GET, AKIDB_OP_DATABASE_LIST, AKIDB_OP_COLLECTION_GET,
                            AKIDB_OP_POINT_COUNT, AKIDB_OP_USER_LIST, AKIDB_OP_AUDIT_TENANT,
                            AKIDB_OP_TENANT_DELETE};
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
    answer_t a, b;
    path_t real = DOCS_A, ghost = DOCS_A;
    ghost.tenant = "tenant-z";
    call(s, ops[i], other, real, NULL, &a);
    call(s, ops[i], other, ghost, NULL, &b);
    ASSERT_EQ_INT(akidb_status_http(a.status), 404);
    ASSERT_EQ_INT(akidb_status_http(b.status), 404);
    char expect_msg[600];
    snprintf(expect_msg, sizeof expect_msg, "%s", b.error.message);
    char *z = strstr(expect_msg, "tenant-z");
    ASSERT_TRUE(z != NULL);
    z[7] = 'a';
    if (strcmp(a.error.message, expect_msg) != 0)
      CHECK_FAIL("%s: '%s' vs '%s'", akidb_op_name(ops[i]), a.error.message, expect_msg);
  }
  ASSERT_OK(akidb_service_close(s, NULL, 0));
}

static void test_roles_are_enforced(void) {
  char dir[8192];
  new_dir(dir, sizeof dir, "roles");
  akidb_service_t *s = open_service(dir);
  const char *root = login(s, "", "admin", ADMIN_PASSWORD, 0);
  const char *boss = setup_docs(s, root, NULL);
  expect(s, AKIDB_OP_USER_CREATE, boss, (path_t){.tenant = "tenant-a"},
         "{\"username\":\"vic\",\"role\":\"viewer\",\"password\":\"viewer-password\"}", 201);
  const char *viewer = login(s, "tenant-a", "vic", "viewer-password", 2);
  expect(s, AKIDB_OP_SEARCH, viewer, DOCS_A, "{\"vector\":[1,2,3]}", 200);
  expect(s, AKIDB_OP_POINT_UPSERT, viewer, DOCS_A, "{\"points\":[{\"vector\":[1,2,3]}]}", 403);
  expect(s, AKIDB_OP_TENANT_LIST, viewer, (path_t){0}, NULL, 403);
  expect(s, AKIDB_OP_SEARCH, root, DOCS_A, "{\"vector\":[1,2,3]}", 403);
  ASSERT_OK(akidb_service_close(s, NULL, 0));
}

static void test_quotas_refuse_before_writing(void) {
  char dir[8192];
  new_dir(dir, sizeof dir, "quota");
  akidb_service_t *s = open_service(dir);
  const char *root = login(s, "", "admin", ADMIN_PASSWORD, 0);
  const char *boss = setup_docs(s, root, "{\"max_collections\":1,\"max_storage_bytes\":1}");
  answer_t r;
  call(s, AKIDB_OP_COLLECTION_CREATE, boss, (path_t){.tenant = "tenant-a", .database = "main"},
       "{\"name\":\"second\",\"dimension\":3}", &r);
  ASSERT_EQ_INT(akidb_status_http(r.status), 403);
  ASSERT_TRUE(strcmp(akidb_status_code(r.status), "quota_exceeded") == 0);
  ASSERT_STR_CONTAINS(r.error.message, "max_collections");
  call(s, AKIDB_OP_POINT_UPSERT, boss, DOCS_A, "{\"points\":[{\"vector\":[1,2,3]}]}", &r);
  ASSERT_EQ_INT(akidb_status_http(r.status), 403);
  ASSERT_STR_CONTAINS(r.error.message, "max_storage_bytes exceeded: limit 1 bytes");
  ASSERT_EQ_U64(count_points(s, boss), 0);
  /* QPS: a bucket of 1 token: the next request in the same second is refused. */
  expect(s, AKIDB_OP_TENANT_UPDATE, root, (path_t){.tenant = "tenant-a"},
         "{\"quotas\":{\"max_qps\":1,\"max_storage_bytes\":0}}", 200);
  int limited = 0;
  for (int i = 0; i < 3; i++) {
    call(s, AKIDB_OP_POINT_COUNT, boss, DOCS_A, NULL, &r);
    if (akidb_status_http(r.status) == 429) {
      limited++;
      ASSERT_GE(r.error.retry_after_s, 1);
    }
    answer_clear(&r);
  }
  ASSERT_GE(limited, 1);
  ASSERT_OK(akidb_service_close(s, NULL, 0));
}

static void test_suspended_tenant_is_refused(void) {
  char dir[8192];
  new_dir(dir, sizeof dir, "suspend");
  akidb_service_t *s = open_service(dir);
  const char *root = login(s, "", "admin", ADMIN_PASSWORD, 0);
  const char *boss = setup_docs(s, root, NULL);
  expect(s, AKIDB_OP_TENANT_UPDATE, root, (path_t){.tenant = "tenant-a"},
         "{\"status\":\"suspended\"}", 200);
  expect(s, AKIDB_OP_POINT_COUNT, boss, DOCS_A, NULL, 403);
  expect(s, AKIDB_OP_TENANT_UPDATE, root, (path_t){.tenant = "tenant-a"},
         "{\"status\":\"provisioning\"}", 409);
  expect(s, AKIDB_OP_TENANT_UPDATE, root, (path_t){.tenant = "tenant-a"},
         "{\"status\":\"active\"}", 200);
  expect(s, AKIDB_OP_POINT_COUNT, boss, DOCS_A, NULL, 200);
  ASSERT_OK(akidb_service_close(s, NULL, 0));
}

static void test_data_survives_reopen_and_deletes_leave_no_directory(void) {
  char dir[8192];
  new_dir(dir, sizeof dir, "reopen");
  akidb_service_t *s = open_service(dir);
  const char *root = login(s, "", "admin", ADMIN_PASSWORD, 0);
  const char *boss = setup_docs(s, root, NULL);
  expect(s, AKIDB_OP_POINT_UPSERT, boss, DOCS_A,
         "{\"points\":[{\"id\":\"p1\",\"vector\":[1,2,3],\"payload\":{\"k\":\"v\"}}]}", 200);
  ASSERT_OK(akidb_service_close(s, NULL, 0));
  s = open_service(dir);
  boss = login(s, "tenant-a", "boss", "boss-password-1", 1);
  ASSERT_EQ_U64(count_points(s, boss), 1);
  answer_t r;
  ASSERT_EQ_INT(call(s, AKIDB_OP_POINT_GET, boss, (path_t){"tenant-a", "main", "docs", NULL, "p1"},
                     NULL, &r),
                200);
  ASSERT_TRUE(strcmp(json_string_value(json_object_get(json_object_get(r.body, "payload"), "k")),
                     "v") == 0);
  answer_clear(&r);
  root = login(s, "", "admin", ADMIN_PASSWORD, 0);
  expect(s, AKIDB_OP_TENANT_DELETE, root, (path_t){.tenant = "tenant-a"}, NULL, 204);
  char coll_dir[8300];
  snprintf(coll_dir, sizeof coll_dir, "%s/collections", dir);
  DIR *d = opendir(coll_dir);
  ASSERT_TRUE(d != NULL);
  struct dirent *e;
  int entries = 0;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') entries++;
  closedir(d);
  ASSERT_EQ_INT(entries, 0);
  ASSERT_OK(akidb_service_close(s, NULL, 0));
}

/* A typed upsert of one point with this deadline; returns its status. */
static akidb_status_t upsert_with_deadline(akidb_service_t *s, const char *token, const char *id,
                                           int64_t deadline_ns) {
  static const float v[3] = {1, 2, 3};
  akidb_point_in_t pt = {.id = {id, strlen(id)}, .vector = v, .n_values = 3};
  akidb_upsert_args_t args = {&pt, 1};
  char bearer[256];
  snprintf(bearer, sizeof bearer, "Bearer %s", token);
  akidb_request_t r = {.bearer = bearer, .request_id = "deadline", .source = "127.0.0.1",
                       .tenant = "tenant-a", .database = "main", .collection = "docs",
                       .args = &args, .deadline_ns = deadline_ns};
  akidb_response_t resp;
  akidb_service_call(s, AKIDB_OP_POINT_UPSERT, &r, &resp);
  akidb_status_t st = resp.status;
  if (st == AKIDB_ST_DEADLINE_EXCEEDED)
    ASSERT_TRUE(strstr(resp.error.message, "deadline passed") != NULL);
  akidb_response_clear(&resp);
  return st;
}

static void test_a_passed_deadline_stops_the_operation_and_writes_nothing(void) {
  char dir[8192];
  new_dir(dir, sizeof dir, "deadline");
  akidb_service_t *s = open_service(dir);
  const char *root = login(s, "", "admin", ADMIN_PASSWORD, 0);
  const char *boss = setup_docs(s, root, NULL);
  int64_t now = akidb_monotonic_ns();
  ASSERT_EQ_INT(upsert_with_deadline(s, boss, "late", now - 1), AKIDB_ST_DEADLINE_EXCEEDED);
  ASSERT_EQ_INT(akidb_status_grpc(AKIDB_ST_DEADLINE_EXCEEDED), 4);
  ASSERT_EQ_U64(count_points(s, boss), 0);
  ASSERT_EQ_INT(upsert_with_deadline(s, boss, "early", now + 60000000000LL), AKIDB_ST_OK);
  ASSERT_EQ_INT(upsert_with_deadline(s, boss, "none", 0), AKIDB_ST_OK);
  ASSERT_EQ_U64(count_points(s, boss), 2);
  ASSERT_OK(akidb_service_close(s, NULL, 0));
}

CHECK_MAIN(CHECK_CASE(test_status_table_maps_each_kind_once),
           CHECK_CASE(test_a_passed_deadline_stops_the_operation_and_writes_nothing),
           CHECK_CASE(test_requests_without_credentials_are_refused),
           CHECK_CASE(test_points_upsert_get_search_and_delete),
           CHECK_CASE(test_bad_input_changes_nothing),
           CHECK_CASE(test_foreign_tenant_answers_like_a_missing_one),
           CHECK_CASE(test_roles_are_enforced), CHECK_CASE(test_quotas_refuse_before_writing),
           CHECK_CASE(test_suspended_tenant_is_refused),
           CHECK_CASE(test_data_survives_reopen_and_deletes_leave_no_directory))
