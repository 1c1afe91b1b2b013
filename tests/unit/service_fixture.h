/*
 * service_fixture.h — helpers for tests that call the service layer
 * directly, as a transport would: open a service on a temporary directory,
 * run an operation with a token and a JSON body (through the REST codec,
 * as the HTTP server does), log in, make a tenant with
 * an admin, and the tenant-a/main/docs collection. For tests only.
 */
#ifndef AKIDB_TEST_SERVICE_FIXTURE_H
#define AKIDB_TEST_SERVICE_FIXTURE_H

#include <string.h>

#include "check.h"
#include "http/codec.h"
#include "service/service.h"
#include "tmpdir.h"

#define ADMIN_PASSWORD "correct-horse-battery"

/* Opens a service on `dir` (durability none); `tune` (may be NULL) changes
 * the options first. */
static akidb_service_t *open_service_with(const char *dir,
                                          void (*tune)(akidb_service_options_t *o)) {
  akidb_service_options_t o;
  akidb_service_options_default(&o);
  o.data_dir = dir;
  o.admin_password = ADMIN_PASSWORD;
  o.durability = AKIDB_DURABILITY_NONE;
  if (tune) tune(&o);
  akidb_service_t *s = NULL;
  akidb_bootstrap_t boot;
  char err[512] = "";
  if (akidb_service_open(&o, &s, &boot, err, sizeof err)) CHECK_FAIL("open: %s", err);
  if (akidb_service_load(s, NULL, err, sizeof err)) CHECK_FAIL("load: %s", err);
  return s;
}

static inline akidb_service_t *open_service(const char *dir) { return open_service_with(dir, NULL); }

/* Path parameters of a call. */
typedef struct {
  const char *tenant, *database, *collection, *username, *point;
} path_t;

/* An answer as a REST client sees it: the outcome and the JSON. */
typedef struct {
  akidb_status_t status;
  akidb_svc_error_t error;
  json_t *body; /* on success (NULL for DONE) */
  akidb_response_t resp;
} answer_t;

static inline void answer_clear(answer_t *a) {
  json_decref(a->body);
  a->body = NULL;
  akidb_response_clear(&a->resp);
}

/* Runs op with `bearer` ("Bearer x" or NULL) and a JSON body text (or NULL);
 * returns the HTTP status, leaving the answer in *out. */
static int call(akidb_service_t *s, akidb_op_t op, const char *token, path_t p, const char *body,
                answer_t *out) {
  char bearer[256] = "";
  if (token) snprintf(bearer, sizeof bearer, "Bearer %s", token);
  json_error_t je;
  json_t *b = body ? json_loads(body, 0, &je) : NULL;
  if (body && !b) CHECK_FAIL("bad test JSON: %s", je.text);
  akidb_request_t r = {.bearer = token ? bearer : NULL,
                       .request_id = "test-request",
                       .source = "127.0.0.1",
                       .tenant = p.tenant,
                       .database = p.database,
                       .collection = p.collection,
                       .username = p.username,
                       .point_id = p.point,
                       .point_id_len = p.point ? strlen(p.point) : 0};
  http_json_t json = {.body = b};
  out->body = http_codec_call(s, op, &r, &json, &out->resp);
  out->status = out->resp.status;
  out->error = out->resp.error;
  json_decref(b);
  return akidb_status_http(out->status);
}

/* Like call, but the answer is dropped after checking the status. */
static void expect(akidb_service_t *s, akidb_op_t op, const char *token, path_t p,
                   const char *body, int status) {
  answer_t r;
  int got = call(s, op, token, p, body, &r);
  if (got != status)
    CHECK_FAIL("%s: status %d, want %d (%s: %s)", akidb_op_name(op), got, status,
               akidb_status_code(r.status), r.error.message);
  answer_clear(&r);
}

/* Logs in and returns the token (static buffer per slot). */
static const char *login(akidb_service_t *s, const char *tenant, const char *user,
                         const char *password, int slot) {
  static char tokens[4][128];
  char body[512];
  snprintf(body, sizeof body, "{\"tenant\":\"%s\",\"username\":\"%s\",\"password\":\"%s\"}",
           tenant, user, password);
  answer_t r;
  int st = call(s, AKIDB_OP_LOGIN, NULL, (path_t){0}, body, &r);
  if (st != 200) CHECK_FAIL("login %s/%s: %d %s", tenant, user, st, r.error.message);
  snprintf(tokens[slot], sizeof tokens[slot], "%s",
           json_string_value(json_object_get(r.body, "token")));
  answer_clear(&r);
  return tokens[slot];
}

/* A tenant with an admin user "boss"; returns the boss's token. */
static const char *make_tenant(akidb_service_t *s, const char *root, const char *slug,
                               const char *quotas, int slot) {
  char body[512];
  snprintf(body, sizeof body, "{\"slug\":\"%s\",\"name\":\"Tenant %s\"%s%s}", slug, slug,
           quotas ? ",\"quotas\":" : "", quotas ? quotas : "");
  expect(s, AKIDB_OP_TENANT_CREATE, root, (path_t){0}, body, 201);
  expect(s, AKIDB_OP_USER_CREATE, root, (path_t){.tenant = slug},
         "{\"username\":\"boss\",\"role\":\"admin\",\"password\":\"boss-password-1\"}", 201);
  return login(s, slug, "boss", "boss-password-1", slot);
}

static const path_t DOCS_A = {.tenant = "tenant-a", .database = "main", .collection = "docs"};

/* tenant-a with database main and a 3-d l2 collection docs. */
static inline const char *setup_docs(akidb_service_t *s, const char *root, const char *quotas) {
  const char *boss = make_tenant(s, root, "tenant-a", quotas, 1);
  expect(s, AKIDB_OP_DATABASE_CREATE, boss, (path_t){.tenant = "tenant-a"}, "{\"name\":\"main\"}",
         201);
  expect(s, AKIDB_OP_COLLECTION_CREATE, boss, (path_t){.tenant = "tenant-a", .database = "main"},
         "{\"name\":\"docs\",\"dimension\":3,\"metric\":\"l2\"}", 201);
  return boss;
}

static inline uint64_t count_points(akidb_service_t *s, const char *token) {
  answer_t r;
  if (call(s, AKIDB_OP_POINT_COUNT, token, DOCS_A, NULL, &r) != 200)
    CHECK_FAIL("count: %s", r.error.message);
  uint64_t n = (uint64_t)json_integer_value(json_object_get(r.body, "count"));
  answer_clear(&r);
  return n;
}

static inline void new_dir(char *dir, size_t n, const char *name) { tmpdir_path(dir, n, "svc", name); }

#endif /* AKIDB_TEST_SERVICE_FIXTURE_H */
