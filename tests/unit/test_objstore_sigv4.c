/*
 * test_objstore_sigv4.c — AkiDB's SigV4 signer (src/objstore/sigv4.c)
 * against botocore as the oracle: tests/objstore/sigv4_oracle.py prints
 * 1,200 random S3 requests (methods, keys with spaces, unicode and reserved
 * characters, query strings with empty values and repeated names, extra
 * headers with runs of spaces, bodies from empty to 5 MiB, session tokens,
 * regions, path and virtual-host addressing) with the Authorization,
 * X-Amz-Content-SHA256 and X-Amz-Date headers botocore computed at a fixed
 * time; every one must come out identical here, Host header included.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "objstore/digest.h"
#include "objstore/s3_internal.h"
#include "objstore/sigv4.h"

#ifndef AKIDB_SOURCE_DIR
#error "AKIDB_SOURCE_DIR must be defined by the build"
#endif

#define ORACLE_REQUESTS 1200

static const char *jstr(json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Signs one oracle request; returns 1 when every header matches. */
static int check_one(json_t *o, int line, int *shown) {
  size_t blen = (size_t)json_integer_value(json_object_get(o, "body_len"));
  int seed = (int)json_integer_value(json_object_get(o, "body_seed"));
  uint8_t *body = malloc(blen ? blen : 1);
  ASSERT_TRUE(body != NULL);
  for (size_t i = 0; i < blen; i++) body[i] = (uint8_t)((i + (size_t)seed) & 255);
  char sha[65];
  if (json_is_true(json_object_get(o, "unsigned"))) snprintf(sha, sizeof sha, "%s", SIGV4_UNSIGNED_PAYLOAD);
  else digest_sha256_hex(body, blen, sha);
  free(body);

  char host[512];
  s3_host_header(jstr(o, "endpoint"), jstr(o, "bucket"),
                 json_is_true(json_object_get(o, "path_style")), host, sizeof host);
  const char *date = jstr(o, "expect_date");
  sigv4_pair_t q[16], h[24];
  size_t nq = 0, nh = 0;
  json_t *qa = json_object_get(o, "query"), *ha = json_object_get(o, "headers"), *it;
  size_t i;
  json_array_foreach(qa, i, it) {
    q[nq++] = (sigv4_pair_t){json_string_value(json_array_get(it, 0)),
                             json_string_value(json_array_get(it, 1))};
  }
  h[nh++] = (sigv4_pair_t){"host", host};
  h[nh++] = (sigv4_pair_t){"x-amz-date", date};
  h[nh++] = (sigv4_pair_t){"x-amz-content-sha256", sha};
  if (jstr(o, "token")) h[nh++] = (sigv4_pair_t){"x-amz-security-token", jstr(o, "token")};
  json_array_foreach(ha, i, it) {
    h[nh++] = (sigv4_pair_t){json_string_value(json_array_get(it, 0)),
                             json_string_value(json_array_get(it, 1))};
  }
  sigv4_request_t r = {jstr(o, "method"), jstr(o, "path"), q, nq, h, nh, sha, date,
                       jstr(o, "region"), "s3", jstr(o, "access_key"), jstr(o, "secret_key")};
  char *auth = NULL;
  ASSERT_OK(sigv4_authorization(&r, &auth));
  int ok = strcmp(auth, jstr(o, "expect_auth")) == 0 && strcmp(sha, jstr(o, "expect_sha256")) == 0 &&
           strcmp(host, jstr(o, "expect_host")) == 0;
  if (!ok && (*shown)++ < 3) {
    char *cr = NULL;
    sigv4_canonical_request(&r, &cr);
    fprintf(stderr, "request %d differs:\n  host    %s\n  oracle  %s\n  sha     %s\n  oracle  %s\n"
                    "  auth    %s\n  oracle  %s\n  canonical request:\n%s\n",
            line, host, jstr(o, "expect_host"), sha, jstr(o, "expect_sha256"), auth,
            jstr(o, "expect_auth"), cr ? cr : "?");
    free(cr);
  }
  free(auth);
  return ok;
}

static void test_sigv4_matches_botocore(void) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/objstore/sigv4_oracle.py' %d",
           AKIDB_SOURCE_DIR, ORACLE_REQUESTS);
  FILE *p = popen(cmd, "r");
  ASSERT_TRUE(p != NULL);
  char *line = NULL;
  size_t cap = 0;
  int total = 0, matched = 0, shown = 0;
  while (getline(&line, &cap, p) > 0) {
    json_error_t je;
    json_t *o = json_loads(line, 0, &je);
    if (!o) CHECK_FAIL("oracle line %d is not JSON: %s", total + 1, je.text);
    matched += check_one(o, total + 1, &shown);
    total++;
    json_decref(o);
  }
  free(line);
  int st = pclose(p);
  if (st != 0) CHECK_FAIL("the oracle (%s) exited with status %d: is python3-boto3 installed?", cmd, st);
  ASSERT_EQ_INT(total, ORACLE_REQUESTS);
  ASSERT_EQ_INT(matched, total);
}

/* AWS's documented example (GET /test.txt with a Range, "Example: GET
 * Object" in the S3 SigV4 header-based auth docs). */
static void test_sigv4_aws_documented_example(void) {
  sigv4_pair_t h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                      {"Range", "bytes=0-9"},
                      {"x-amz-content-sha256", SIGV4_EMPTY_SHA256},
                      {"x-amz-date", "20130524T000000Z"}};
  sigv4_request_t r = {"GET", "/test.txt", NULL, 0, h, 4, SIGV4_EMPTY_SHA256, "20130524T000000Z",
                       "us-east-1", "s3", "AKIAIOSFODNN7EXAMPLE",
                       "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
  char *auth = NULL;
  ASSERT_OK(sigv4_authorization(&r, &auth));
  ASSERT_STR_CONTAINS(auth, "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date");
  ASSERT_STR_CONTAINS(auth, "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  free(auth);
}

static void test_sigv4_uri_encoding(void) {
  char out[64];
  sigv4_uri_encode("a b/c+d~é", strlen("a b/c+d~é"), true, out);
  ASSERT_TRUE(strcmp(out, "a%20b/c%2Bd~%C3%A9") == 0);
  sigv4_uri_encode("a/b", 3, false, out);
  ASSERT_TRUE(strcmp(out, "a%2Fb") == 0);
  char *q = NULL;
  sigv4_pair_t qp[] = {{"b", "2"}, {"a", "10"}, {"a", "1"}, {"uploads", ""}};
  ASSERT_OK(sigv4_canonical_query(qp, 4, &q));
  ASSERT_TRUE(strcmp(q, "a=1&a=10&b=2&uploads=") == 0);
  free(q);
}

CHECK_MAIN(CHECK_CASE(test_sigv4_uri_encoding), CHECK_CASE(test_sigv4_aws_documented_example),
           CHECK_CASE(test_sigv4_matches_botocore))
