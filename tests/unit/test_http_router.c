/*
 * test_http_router.c — the REST router and request checks (src/http/):
 * the route table is exactly docs/rest-api.md's; every route resolves to its
 * operation with its path parameters; a literal segment beats a parameter
 * for the same method; 405 with the Allow list; 404; percent-decoding of
 * path segments (including %2F inside a point id) and query strings; the
 * X-Request-Id, Content-Type, JSON depth and JSON parsing rules.
 * Needs none of the service layer.
 */
#include <stdbool.h>
#include <string.h>

#include "check.h"
#include "http/http_internal.h"

/* Matches method + path (query strings are split off by the server). */
static void match(const char *method, const char *path, char *scratch, http_match_t *m) {
  http_route_match(method, path, strlen(path), scratch, m);
}

/* --------------------------------------------------------- the table -- */

#define T "/v1/tenants/{tenant}"
#define DB T "/databases/{database}"
#define C DB "/collections/{collection}"

/* docs/rest-api.md, "Routes", in its order. */
static const http_route_t expected[] = {
    {"GET", "/health", AKIDB_OP_HEALTH, NULL, false},
    {"GET", "/ready", AKIDB_OP_READY, NULL, false},
    {"GET", "/metrics", AKIDB_OP_COUNT, NULL, false},
    {"POST", "/v1/auth/login", AKIDB_OP_LOGIN, NULL, false},
    {"POST", "/v1/auth/logout", AKIDB_OP_LOGOUT, NULL, false},
    {"GET", "/v1/auth/whoami", AKIDB_OP_WHOAMI, NULL, false},
    {"POST", "/v1/embeddings", AKIDB_OP_EMBEDDINGS, NULL, false},
    {"GET", "/v1/tenants", AKIDB_OP_TENANT_LIST, NULL, false},
    {"POST", "/v1/tenants", AKIDB_OP_TENANT_CREATE, NULL, false},
    {"GET", T, AKIDB_OP_TENANT_GET, NULL, false},
    {"PATCH", T, AKIDB_OP_TENANT_UPDATE, NULL, false},
    {"DELETE", T, AKIDB_OP_TENANT_DELETE, NULL, false},
    {"GET", T "/databases", AKIDB_OP_DATABASE_LIST, NULL, false},
    {"POST", T "/databases", AKIDB_OP_DATABASE_CREATE, NULL, false},
    {"GET", DB, AKIDB_OP_DATABASE_GET, NULL, false},
    {"DELETE", DB, AKIDB_OP_DATABASE_DELETE, NULL, false},
    {"GET", DB "/collections", AKIDB_OP_COLLECTION_LIST, NULL, false},
    {"POST", DB "/collections", AKIDB_OP_COLLECTION_CREATE, NULL, false},
    {"GET", C, AKIDB_OP_COLLECTION_GET, NULL, false},
    {"PATCH", C, AKIDB_OP_COLLECTION_UPDATE, NULL, false},
    {"DELETE", C, AKIDB_OP_COLLECTION_DELETE, NULL, false},
    {"GET", C "/count", AKIDB_OP_POINT_COUNT, NULL, false},
    {"POST", C "/points", AKIDB_OP_POINT_UPSERT, NULL, false},
    {"GET", C "/points", AKIDB_OP_POINT_SCAN, NULL, false},
    {"POST", C "/points/get", AKIDB_OP_POINT_GET_MANY, NULL, false},
    {"POST", C "/points/delete", AKIDB_OP_POINT_DELETE, NULL, false},
    {"GET", C "/points/{point_id}", AKIDB_OP_POINT_GET, NULL, false},
    {"POST", C "/search", AKIDB_OP_SEARCH, NULL, false},
    {"GET", C "/snapshots", AKIDB_OP_SNAPSHOT_LIST_COLLECTION, NULL, false},
    {"POST", C "/snapshots", AKIDB_OP_SNAPSHOT_CREATE, NULL, false},
    {"GET", T "/snapshots", AKIDB_OP_SNAPSHOT_LIST, NULL, false},
    {"GET", T "/snapshots/{snapshot}", AKIDB_OP_SNAPSHOT_GET, NULL, false},
    {"DELETE", T "/snapshots/{snapshot}", AKIDB_OP_SNAPSHOT_DELETE, NULL, false},
    {"POST", T "/snapshots/{snapshot}/restore", AKIDB_OP_SNAPSHOT_RESTORE, NULL, false},
    {"POST", C "/import", AKIDB_OP_POINT_IMPORT, NULL, false},
    {"GET", T "/uploads", AKIDB_OP_UPLOAD_LIST, NULL, false},
    {"PUT", T "/uploads/{upload}", AKIDB_OP_UPLOAD_PUT, NULL, false},
    {"DELETE", T "/uploads/{upload}", AKIDB_OP_UPLOAD_DELETE, NULL, false},
    {"GET", T "/users", AKIDB_OP_USER_LIST, NULL, false},
    {"POST", T "/users", AKIDB_OP_USER_CREATE, NULL, false},
    {"GET", T "/users/{username}", AKIDB_OP_USER_GET, NULL, false},
    {"PATCH", T "/users/{username}", AKIDB_OP_USER_UPDATE, NULL, false},
    {"DELETE", T "/users/{username}", AKIDB_OP_USER_DELETE, NULL, false},
    {"GET", T "/users/{username}/keys", AKIDB_OP_KEY_LIST, NULL, false},
    {"POST", T "/users/{username}/keys", AKIDB_OP_KEY_CREATE, NULL, false},
    {"DELETE", T "/users/{username}/keys/{key_id}", AKIDB_OP_KEY_REVOKE, NULL, false},
    {"GET", T "/audit", AKIDB_OP_AUDIT_TENANT, NULL, false},
    {"GET", "/v1/audit", AKIDB_OP_AUDIT_ALL, NULL, false},
    {"GET", "/v1/system/object-store", AKIDB_OP_SYSTEM_OBJECT_STORE, NULL, false},
    {"GET", "/v1/system/dead-letters", AKIDB_OP_SYSTEM_DEAD_LETTERS, NULL, false},
};

static void test_route_table_is_the_documented_one(void) {
  size_t n = 0;
  const http_route_t *r = http_routes(&n);
  ASSERT_EQ_INT(n, sizeof expected / sizeof expected[0]);
  for (size_t i = 0; i < n; i++) {
    ASSERT_STR_EQ(r[i].method, expected[i].method);
    ASSERT_STR_EQ(r[i].pattern, expected[i].pattern);
    if (r[i].op != expected[i].op)
      CHECK_FAIL("%s %s: op %d, expected %d", r[i].method, r[i].pattern, (int)r[i].op,
                 (int)expected[i].op);
  }
  /* Every service operation is reachable over REST. */
  for (int op = 0; op < AKIDB_OP_COUNT; op++) {
    bool found = false;
    for (size_t i = 0; i < n; i++) found |= (int)r[i].op == op;
    if (!found) CHECK_FAIL("operation %d has no route", op);
  }
}

/* Replaces each {name} of a pattern with a sample value. */
static const char *sample_value(const char *name, size_t len) {
  static const struct {
    const char *name, *value;
  } samples[] = {{"tenant", "acme-corp"},   {"database", "db_1"},
                 {"collection", "docs-v2"}, {"username", "alice.smith@x"},
                 {"key_id", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"},
                 {"point_id", "point-42"},
                 {"snapshot", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a60"},
                 {"upload", "vectors.parquet"}};
  for (size_t i = 0; i < sizeof samples / sizeof *samples; i++)
    if (strlen(samples[i].name) == len && strncmp(samples[i].name, name, len) == 0)
      return samples[i].value;
  CHECK_FAIL("no sample for parameter %.*s", (int)len, name);
  return NULL;
}

static void fill_pattern(const char *pattern, char *out, size_t cap) {
  size_t o = 0;
  for (const char *p = pattern; *p;) {
    if (*p == '{') {
      const char *end = strchr(p, '}');
      const char *v = sample_value(p + 1, (size_t)(end - p - 1));
      o += (size_t)snprintf(out + o, cap - o, "%s", v);
      p = end + 1;
    } else {
      out[o++] = *p++;
    }
  }
  out[o] = '\0';
}

static void expect_param(const char *pattern, const char *name, const char *got) {
  char brace[32];
  snprintf(brace, sizeof brace, "{%s}", name);
  if (strstr(pattern, brace)) {
    ASSERT_STR_EQ(got, sample_value(name, strlen(name)));
  } else if (got) {
    CHECK_FAIL("%s: parameter %s set to \"%s\" but the pattern has none", pattern, name, got);
  }
}

static void test_every_route_resolves_with_its_parameters(void) {
  size_t n = 0;
  const http_route_t *r = http_routes(&n);
  for (size_t i = 0; i < n; i++) {
    char path[512], scratch[512];
    fill_pattern(r[i].pattern, path, sizeof path);
    http_match_t m;
    match(r[i].method, path, scratch, &m);
    if (m.status != HTTP_MATCH_OK)
      CHECK_FAIL("%s %s: status %d (%s)", r[i].method, path, (int)m.status, m.message);
    if (m.route != &r[i])
      CHECK_FAIL("%s %s resolved to %s %s", r[i].method, path, m.route->method,
                 m.route->pattern);
    akidb_request_t req;
    memset(&req, 0, sizeof req);
    http_match_apply(&m, &req);
    expect_param(r[i].pattern, "tenant", req.tenant);
    expect_param(r[i].pattern, "database", req.database);
    expect_param(r[i].pattern, "collection", req.collection);
    expect_param(r[i].pattern, "username", req.username);
    expect_param(r[i].pattern, "key_id", req.key_id);
    expect_param(r[i].pattern, "point_id", req.point_id);
    expect_param(r[i].pattern, "snapshot", req.snapshot);
    expect_param(r[i].pattern, "upload", req.upload);
    if (req.point_id) ASSERT_EQ_INT(req.point_id_len, strlen("point-42"));
  }
}

/* ------------------------------------------------------- precedence -- */

static void test_literal_segment_beats_parameter_for_the_same_method(void) {
  /* A table where both orders occur: the literal must win either way. */
  static const http_route_t table[] = {
      {"GET", "/items/{id}", AKIDB_OP_POINT_GET, NULL, false},
      {"GET", "/items/special", AKIDB_OP_POINT_COUNT, NULL, false},
      {"GET", "/a/{x}/c", AKIDB_OP_USER_GET, NULL, false},
      {"GET", "/a/b/{y}", AKIDB_OP_USER_LIST, NULL, false},
  };
  static http_router_t rt;
  http_router_init(&rt, table, sizeof table / sizeof table[0]);
  char scratch[128];
  http_match_t m;
  http_router_match(&rt, "GET", "/items/special", 14, scratch, &m);
  ASSERT_EQ_INT(m.status, HTTP_MATCH_OK);
  ASSERT_EQ_INT(m.route->op, AKIDB_OP_POINT_COUNT);
  ASSERT_EQ_INT(m.n_params, 0);
  http_router_match(&rt, "GET", "/items/other", 12, scratch, &m);
  ASSERT_EQ_INT(m.route->op, AKIDB_OP_POINT_GET);
  ASSERT_EQ_INT(m.n_params, 1);
  ASSERT_STR_EQ(m.params[0].value, "other");
  /* The earlier literal decides: /a/b/c matches both, /a/b/{y} is literal first. */
  http_router_match(&rt, "GET", "/a/b/c", 6, scratch, &m);
  ASSERT_EQ_INT(m.route->op, AKIDB_OP_USER_LIST);
  ASSERT_STR_EQ(m.params[0].value, "c");
  http_router_match(&rt, "GET", "/a/z/c", 6, scratch, &m);
  ASSERT_EQ_INT(m.route->op, AKIDB_OP_USER_GET);
  ASSERT_STR_EQ(m.params[0].value, "z");
}

static void test_points_get_literal_and_point_named_get(void) {
  char scratch[256];
  http_match_t m;
  const char *base = "/v1/tenants/acme/databases/d/collections/c/points/get";
  match("POST", base, scratch, &m);
  ASSERT_EQ_INT(m.status, HTTP_MATCH_OK);
  ASSERT_EQ_INT(m.route->op, AKIDB_OP_POINT_GET_MANY);
  /* GET has only the parameter route: a point whose id is "get". */
  match("GET", base, scratch, &m);
  ASSERT_EQ_INT(m.status, HTTP_MATCH_OK);
  ASSERT_EQ_INT(m.route->op, AKIDB_OP_POINT_GET);
  akidb_request_t req;
  memset(&req, 0, sizeof req);
  http_match_apply(&m, &req);
  ASSERT_STR_EQ(req.point_id, "get");
  match("POST", "/v1/tenants/acme/databases/d/collections/c/points/delete", scratch, &m);
  ASSERT_EQ_INT(m.route->op, AKIDB_OP_POINT_DELETE);
}

/* ------------------------------------------------------------ 405/404 -- */

static void expect_405(const char *method, const char *path, const char *allow) {
  char scratch[256];
  http_match_t m;
  match(method, path, scratch, &m);
  if (m.status != HTTP_MATCH_NOT_ALLOWED)
    CHECK_FAIL("%s %s: status %d, expected 405", method, path, (int)m.status);
  ASSERT_STR_EQ(m.allow, allow);
  ASSERT_TRUE(m.route == NULL);
  ASSERT_STR_CONTAINS(m.message, method);
  ASSERT_STR_CONTAINS(m.message, allow);
}

static void test_wrong_method_is_405_with_the_allow_list(void) {
  expect_405("DELETE", "/v1/tenants", "GET, POST");
  expect_405("PUT", "/v1/tenants/acme", "GET, PATCH, DELETE");
  expect_405("GET", "/v1/auth/login", "POST");
  expect_405("POST", "/health", "GET");
  expect_405("HEAD", "/metrics", "GET");
  expect_405("PATCH", "/v1/tenants/acme/databases/d", "GET, DELETE");
  expect_405("GET", "/v1/tenants/acme/databases/d/collections/c/search", "POST");
  /* .../points/get is POST (literal) and GET (a point named "get"). */
  expect_405("DELETE", "/v1/tenants/acme/databases/d/collections/c/points/get", "POST, GET");
  expect_405("POST", "/v1/tenants/acme/users/bob/keys/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
             "DELETE");
}

static void expect_404(const char *method, const char *path) {
  char scratch[512];
  http_match_t m;
  http_route_match(method, path, strlen(path), scratch, &m);
  if (m.status != HTTP_MATCH_NOT_FOUND)
    CHECK_FAIL("%s '%s': status %d, expected 404", method, path, (int)m.status);
  ASSERT_TRUE(m.route == NULL);
  ASSERT_STR_CONTAINS(m.message, "no route matches");
}

static void test_unknown_paths_are_404(void) {
  expect_404("GET", "/v1/nope");
  expect_404("GET", "/");
  expect_404("GET", "");
  expect_404("GET", "v1/tenants");
  expect_404("GET", "/v1/tenants/");          /* empty segment: no {tenant} */
  expect_404("GET", "/v1//tenants");
  expect_404("GET", "/V1/tenants");           /* literals are case-sensitive */
  expect_404("GET", "/healthz");
  expect_404("GET", "/health/extra");
  expect_404("BREW", "/v1/unknown");
  expect_404("GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q"); /* more segments than any route */
  expect_404("GET", "/v1/tenants/acme/databases/d/collections/c/points/a/b");
}

/* ---------------------------------------------------- percent-decoding -- */

static void test_path_segments_are_percent_decoded_after_splitting(void) {
  char scratch[256];
  http_match_t m;
  akidb_request_t req;
  const char *p = "/v1/tenants/ac%6De/databases/d%5F1/collections/c/points/a%2Fb%20c%25";
  match("GET", p, scratch, &m);
  ASSERT_EQ_INT(m.status, HTTP_MATCH_OK);
  ASSERT_EQ_INT(m.route->op, AKIDB_OP_POINT_GET);
  memset(&req, 0, sizeof req);
  http_match_apply(&m, &req);
  ASSERT_STR_EQ(req.tenant, "acme");
  ASSERT_STR_EQ(req.database, "d_1");
  ASSERT_STR_EQ(req.point_id, "a/b c%");
  ASSERT_EQ_INT(req.point_id_len, 6);
  /* '+' is a plain character in paths; UTF-8 passes through. */
  match("GET", "/v1/tenants/t/databases/d/collections/c/points/x+y%C3%A9", scratch, &m);
  memset(&req, 0, sizeof req);
  http_match_apply(&m, &req);
  ASSERT_STR_EQ(req.point_id, "x+y\xc3\xa9");
  /* Literal segments compare after decoding too. */
  match("GET", "/v1/%74enants", scratch, &m);
  ASSERT_EQ_INT(m.status, HTTP_MATCH_OK);
  ASSERT_EQ_INT(m.route->op, AKIDB_OP_TENANT_LIST);
}

static void test_bad_escapes_and_nul_in_paths_are_400(void) {
  const char *bad[] = {"/v1/tenants/a%00b", "/v1/tenants/%zz", "/v1/tenants/ab%4",
                       "/v1/tenants/ab%", "/v1/tenants/a%g0"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char scratch[128];
    http_match_t m;
    match("GET", bad[i], scratch, &m);
    if (m.status != HTTP_MATCH_BAD_PATH)
      CHECK_FAIL("'%s': status %d, expected BAD_PATH", bad[i], (int)m.status);
    ASSERT_STR_CONTAINS(m.message, "path segment 3");
  }
  char scratch[64];
  http_match_t m;
  match("GET", "/v1/tenants/a%00b", scratch, &m);
  ASSERT_STR_CONTAINS(m.message, "NUL");
}

static void test_percent_decode_function(void) {
  char out[64];
  ASSERT_EQ_INT(http_percent_decode("a%41+b", 6, out, false), 4);
  ASSERT_STR_EQ(out, "aA+b");
  ASSERT_EQ_INT(http_percent_decode("a%41+b", 6, out, true), 4);
  ASSERT_STR_EQ(out, "aA b");
  ASSERT_EQ_INT(http_percent_decode("%e2%82%AC", 9, out, false), 3);
  ASSERT_STR_EQ(out, "\xe2\x82\xac");
  ASSERT_EQ_INT(http_percent_decode("", 0, out, false), 0);
  ASSERT_EQ_INT(http_percent_decode("%0", 2, out, false), -1);
  ASSERT_EQ_INT(http_percent_decode("%00", 3, out, false), -2);
  /* Only `len` bytes are read: "%41" cut to "%4" is a bad escape. */
  ASSERT_EQ_INT(http_percent_decode("%41", 2, out, false), -1);
}

/* ------------------------------------------------------- query strings -- */

static void test_query_string_is_split_and_decoded(void) {
  char qs[] = "limit=10&after=0190a1b2&action=tenant.create&actor=alice%40acme&q=hello+world%21"
              "&flag&&empty=";
  akidb_param_t p[HTTP_MAX_QUERY];
  size_t n = 0;
  char err[256] = "";
  ASSERT_OK(http_query_parse(qs, p, HTTP_MAX_QUERY, &n, err, sizeof err));
  ASSERT_EQ_INT(n, 7);
  const char *want[][2] = {{"limit", "10"},     {"after", "0190a1b2"},
                           {"action", "tenant.create"}, {"actor", "alice@acme"},
                           {"q", "hello world!"}, {"flag", ""},
                           {"empty", ""}};
  for (size_t i = 0; i < n; i++) {
    ASSERT_STR_EQ(p[i].key, want[i][0]);
    ASSERT_STR_EQ(p[i].value, want[i][1]);
  }
  char none[] = "";
  ASSERT_OK(http_query_parse(none, p, HTTP_MAX_QUERY, &n, err, sizeof err));
  ASSERT_EQ_INT(n, 0);
  char plus[] = "from=2026-11-21T10%3A00%3A00.123%2B00%3A00";
  ASSERT_OK(http_query_parse(plus, p, HTTP_MAX_QUERY, &n, err, sizeof err));
  ASSERT_EQ_INT(n, 1);
  ASSERT_STR_EQ(p[0].value, "2026-11-21T10:00:00.123+00:00");
}

static void test_bad_query_strings_are_refused(void) {
  akidb_param_t p[4];
  size_t n = 0;
  char err[256] = "";
  char nul[] = "a=1&b=x%00y";
  ASSERT_EQ_INT(http_query_parse(nul, p, 4, &n, err, sizeof err), -1);
  ASSERT_STR_CONTAINS(err, "query parameter 2 holds a NUL byte");
  char esc[] = "a=%zz";
  ASSERT_EQ_INT(http_query_parse(esc, p, 4, &n, err, sizeof err), -1);
  ASSERT_STR_CONTAINS(err, "bad percent-escape");
  char many[] = "a=1&b=2&c=3&d=4&e=5";
  ASSERT_EQ_INT(http_query_parse(many, p, 4, &n, err, sizeof err), -1);
  ASSERT_STR_CONTAINS(err, "more than 4 parameters");
}

/* ------------------------------------------------------ request checks -- */

static void test_request_id_rule(void) {
  char id[200];
  ASSERT_TRUE(!http_request_id_valid(NULL));
  ASSERT_TRUE(!http_request_id_valid(""));
  ASSERT_TRUE(http_request_id_valid("a"));
  ASSERT_TRUE(http_request_id_valid("req-1 from:client/7"));
  ASSERT_TRUE(!http_request_id_valid("tab\there"));
  ASSERT_TRUE(!http_request_id_valid("caf\xc3\xa9"));
  memset(id, 'x', 128);
  id[128] = '\0';
  ASSERT_TRUE(http_request_id_valid(id));
  id[128] = 'x';
  id[129] = '\0';
  ASSERT_TRUE(!http_request_id_valid(id));
}

static void test_content_type_rule(void) {
  ASSERT_TRUE(http_content_type_ok(NULL));
  ASSERT_TRUE(http_content_type_ok("application/json"));
  ASSERT_TRUE(http_content_type_ok("Application/JSON; charset=utf-8"));
  ASSERT_TRUE(http_content_type_ok("application/json ;charset=UTF-8"));
  ASSERT_TRUE(!http_content_type_ok("application/jsonx"));
  ASSERT_TRUE(!http_content_type_ok("application/x-www-form-urlencoded"));
  ASSERT_TRUE(!http_content_type_ok("text/plain"));
  ASSERT_TRUE(!http_content_type_ok(""));
}

/* Whether http_body_parse accepts `text` at `max_depth`. */
static bool depth_ok(const char *text, uint32_t max_depth) {
  json_t *v = NULL;
  char err[512] = "";
  int rc = http_body_parse(text, strlen(text), max_depth, &v, err, sizeof err);
  json_decref(v);
  if (rc) ASSERT_STR_CONTAINS(err, "limits.max_json_depth");
  return rc == 0;
}

static void test_json_depth_limit(void) {
  const char *three = "{\"a\":[{\"b\":1}]}";
  ASSERT_TRUE(depth_ok(three, 3));
  ASSERT_TRUE(!depth_ok(three, 2));
  /* Brackets inside strings do not count, escaped quotes do not end them. */
  const char *str = "{\"s\":\"[[[[{{{{\\\"[[[[\"}";
  ASSERT_TRUE(depth_ok(str, 1));
  const char *seq = "[[1],[2],[3],[[4]]]";
  ASSERT_TRUE(depth_ok(seq, 3));
  ASSERT_TRUE(!depth_ok(seq, 2));
}

static void test_body_parse_reports_position_and_limits(void) {
  json_t *v = NULL;
  char err[512] = "";
  ASSERT_OK(http_body_parse("", 0, 32, &v, err, sizeof err));
  ASSERT_TRUE(v == NULL);
  ASSERT_OK(http_body_parse(" \r\n\t", 4, 32, &v, err, sizeof err));
  ASSERT_TRUE(v == NULL);
  const char *ok = "{\"k\": [1, 2]}";
  ASSERT_OK(http_body_parse(ok, strlen(ok), 32, &v, err, sizeof err));
  ASSERT_TRUE(json_is_object(v));
  ASSERT_EQ_INT(json_array_size(json_object_get(v, "k")), 2);
  json_decref(v);

  const char *bad = "{\"a\": }";
  ASSERT_EQ_INT(http_body_parse(bad, strlen(bad), 32, &v, err, sizeof err), -1);
  ASSERT_TRUE(v == NULL);
  ASSERT_STR_CONTAINS(err, "body is not valid JSON: line 1, column 7: ");
  const char *line2 = "{\"a\": 1,\n \"b\": tru}";
  ASSERT_EQ_INT(http_body_parse(line2, strlen(line2), 32, &v, err, sizeof err), -1);
  ASSERT_STR_CONTAINS(err, "line 2, column");
  const char *dup = "{\"a\": 1, \"a\": 2}";
  ASSERT_EQ_INT(http_body_parse(dup, strlen(dup), 32, &v, err, sizeof err), -1);
  ASSERT_STR_CONTAINS(err, "duplicate");
  const char *trailing = "{} {}";
  ASSERT_EQ_INT(http_body_parse(trailing, strlen(trailing), 32, &v, err, sizeof err), -1);
  const char *deep = "[[[[1]]]]";
  ASSERT_EQ_INT(http_body_parse(deep, strlen(deep), 3, &v, err, sizeof err), -1);
  ASSERT_STR_CONTAINS(err, "deeper than 3 levels");
  ASSERT_STR_CONTAINS(err, "limits.max_json_depth");
  ASSERT_OK(http_body_parse(deep, strlen(deep), 4, &v, err, sizeof err));
  json_decref(v);
  /* A scalar is valid JSON: the service decides whether it is acceptable. */
  ASSERT_OK(http_body_parse("42", 2, 4, &v, err, sizeof err));
  ASSERT_TRUE(json_is_integer(v));
  json_decref(v);
}

CHECK_MAIN(CHECK_CASE(test_route_table_is_the_documented_one),
           CHECK_CASE(test_every_route_resolves_with_its_parameters),
           CHECK_CASE(test_literal_segment_beats_parameter_for_the_same_method),
           CHECK_CASE(test_points_get_literal_and_point_named_get),
           CHECK_CASE(test_wrong_method_is_405_with_the_allow_list),
           CHECK_CASE(test_unknown_paths_are_404),
           CHECK_CASE(test_path_segments_are_percent_decoded_after_splitting),
           CHECK_CASE(test_bad_escapes_and_nul_in_paths_are_400),
           CHECK_CASE(test_percent_decode_function),
           CHECK_CASE(test_query_string_is_split_and_decoded),
           CHECK_CASE(test_bad_query_strings_are_refused),
           CHECK_CASE(test_request_id_rule),
           CHECK_CASE(test_content_type_rule),
           CHECK_CASE(test_json_depth_limit),
           CHECK_CASE(test_body_parse_reports_position_and_limits))
