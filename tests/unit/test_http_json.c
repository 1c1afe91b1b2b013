/*
 * test_http_json.c — the request-body JSON decoder (src/http/json_parse.c)
 * against jansson's own loader: the same tree for valid documents (numbers
 * bit for bit, strings with every escape and UTF-8), a refusal for every
 * invalid one (with line and column), -2 for numbers out of range,
 * duplicate keys refused; the arrays at a route's vector paths decoded to
 * float32 (and everything else left as JSON); and the writer (json_write.c)
 * byte for byte against json_dumps(JSON_COMPACT).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http/http_internal.h"

static json_t *ours(const char *text, int *rc) {
  json_t *v = NULL;
  char err[256] = "";
  *rc = http_json_parse(text, strlen(text), 64, &v, err, sizeof err);
  if (*rc && !strstr(err, "line ") && !strstr(err, "max_json_depth")) CHECK_FAIL("error without a position: %s", err);
  return v;
}

static void same_as_jansson(const char *text) {
  int rc;
  json_t *a = ours(text, &rc);
  json_t *b = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
  if (!a != !b) CHECK_FAIL("'%s': ours %s, jansson %s", text, a ? "ok" : "fails", b ? "ok" : "fails");
  if (a && !json_equal(a, b)) {
    char *x = json_dumps(a, JSON_ENCODE_ANY), *y = json_dumps(b, JSON_ENCODE_ANY);
    CHECK_FAIL("'%s': ours %s, jansson %s", text, x, y);
  }
  json_decref(a);
  json_decref(b);
}

static void test_documents_parse_like_jansson(void) {
  const char *docs[] = {
      "{}", "[]", "0", "-0", "1", "-1", "true", "false", "null", "\"\"",
      "{\"a\":[1,2.5,-3e2,{\"b\":null}],\"c\":\"d\"}", " \n\t{ \"x\" : [ ] } \r\n",
      "\"esc \\\" \\\\ \\/ \\b \\f \\n \\r \\t\"", "\"\\u00e9\\u20ac\\ud83d\\ude00\"",
      "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", "9223372036854775807", "-9223372036854775808",
      "1.7976931348623157e308", "4.9e-324", "2.2250738585072014e-308", "0.1", "123456789.123456789",
      "1E5", "1e+5", "1e-5", "[1e22,1e23,1e-22,1e-23]", "12345678901234567890.5",
      "{\"k\\u0000x\":1}", "\"a\\u0000\"",
      /* invalid */
      "", "{", "[1,]", "{\"a\":1,}", "[01]", "[1.]", "[.5]", "[-]", "[1e]", "tru", "nul", "[NaN]",
      "[Infinity]", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"a\nb\"",
      "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "{\"a\" 1}", "{a:1}", "[1] x",
      "{\"a\":1,\"a\":2}", "\"unterminated",
  };
  for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) same_as_jansson(docs[i]);
}

/* Random doubles in every format a client may use convert bit for bit as
 * strtod does. */
static void test_numbers_convert_exactly(void) {
  uint64_t state = 88172645463325252ull;
  const char *fmts[] = {"%.9g", "%.17g", "%g", "%e", "%.3f", "%.1f"};
  for (int i = 0; i < 200000; i++) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    double d;
    if (i % 2) {
      uint64_t bits = state;
      memcpy(&d, &bits, sizeof d);
      if (!isfinite(d)) continue;
    } else {
      d = ((double)(state >> 11) / 9007199254740992.0 - 0.5) * pow(10, (int)(state % 20) - 8);
    }
    char text[512];
    const char *fmt = fmts[i % 6];
    if (fabs(d) > 1e30 && fmt[2] == 'f') fmt = "%.17g"; /* long integers are not reals */
    snprintf(text, sizeof text, fmt, d);
    int rc;
    json_t *v = ours(text, &rc);
    if (!v) CHECK_FAIL("'%s' refused", text);
    double want = strtod(text, NULL);
    double got = json_number_value(v);
    if (memcmp(&want, &got, sizeof got) != 0 && !(want == 0 && got == 0))
      CHECK_FAIL("'%s': got %.17g, want %.17g", text, got, want);
    json_decref(v);
  }
}

static void test_out_of_range_numbers_are_minus_two(void) {
  int rc;
  ASSERT_TRUE(ours("[1e999]", &rc) == NULL);
  ASSERT_EQ_INT(rc, -2);
  ASSERT_TRUE(ours("-1e400", &rc) == NULL);
  ASSERT_EQ_INT(rc, -2);
  ASSERT_TRUE(ours("99999999999999999999", &rc) == NULL);
  ASSERT_EQ_INT(rc, -2);
  json_t *v = ours("1e-400", &rc);
  ASSERT_TRUE(v != NULL);
  ASSERT_TRUE(json_real_value(v) == 0.0);
  json_decref(v);
}

static void test_errors_name_line_and_column(void) {
  json_t *v = NULL;
  char err[256] = "";
  const char *text = "{\n  \"a\": [1,\n  2,,3]}";
  ASSERT_EQ_INT(http_json_parse(text, strlen(text), 64, &v, err, sizeof err), -1);
  ASSERT_STR_CONTAINS(err, "line 3, column 5");
  const char *deep = "[[[[1]]]]";
  ASSERT_EQ_INT(http_json_parse(deep, strlen(deep), 3, &v, err, sizeof err), -1);
  ASSERT_STR_CONTAINS(err, "nests deeper than 3 levels");
}

static json_t *parse_vectors(const char *text, const char *const *paths, http_floats_t *f) {
  json_t *v = NULL;
  char err[256] = "";
  int rc = http_json_parse_vectors(text, strlen(text), 64, paths, f, &v, err, sizeof err);
  if (rc) CHECK_FAIL("'%s': %s", text, err);
  return v;
}

static void test_vectors_at_route_paths_become_floats(void) {
  static const char *const search[] = {"vector", "vectors[]", NULL};
  http_floats_t f = {0};
  json_t *v = parse_vectors("{\"k\":3, \"vector\": [0.5, 1, -2e-3]}", search, &f);
  ASSERT_EQ_INT((int)f.count, 1);
  ASSERT_EQ_INT((int)f.items[0].n, 3);
  ASSERT_TRUE(f.items[0].array == json_object_get(v, "vector"));
  ASSERT_EQ_INT((int)json_array_size(json_object_get(v, "vector")), 0);
  ASSERT_TRUE(f.items[0].values[0] == 0.5f && f.items[0].values[1] == 1.0f &&
              f.items[0].values[2] == -2e-3f);
  ASSERT_EQ_INT((int)json_integer_value(json_object_get(v, "k")), 3);
  json_decref(v);
  http_floats_free(&f);
  v = parse_vectors("{\"vectors\": [[1, 2], [3, 4], []]}", search, &f);
  ASSERT_EQ_INT((int)f.count, 2); /* an empty array stays an ordinary one */
  ASSERT_TRUE(f.items[1].values[0] == 3.0f && f.items[1].values[1] == 4.0f);
  ASSERT_TRUE(f.items[1].array == json_array_get(json_object_get(v, "vectors"), 1));
  json_decref(v);
  http_floats_free(&f);
}

static void test_other_arrays_and_odd_vectors_stay_json(void) {
  static const char *const upsert[] = {"points[].vector", NULL};
  http_floats_t f = {0};
  json_t *v = parse_vectors(
      "{\"points\": [{\"vector\": [1, 2]}, {\"vector\": [1, \"x\"]}, {\"vector\": [1e39]},"
      " {\"payload\": {\"vector\": [9]}, \"vector\": [7]}], \"vector\": [5]}",
      upsert, &f);
  ASSERT_EQ_INT((int)f.count, 2);
  json_t *pts = json_object_get(v, "points");
  ASSERT_TRUE(f.items[0].array == json_object_get(json_array_get(pts, 0), "vector"));
  ASSERT_TRUE(f.items[1].array == json_object_get(json_array_get(pts, 3), "vector"));
  ASSERT_TRUE(f.items[1].values[0] == 7.0f);
  /* Not decoded: a string inside, a value beyond float, other paths. */
  ASSERT_EQ_INT((int)json_array_size(json_object_get(json_array_get(pts, 1), "vector")), 2);
  ASSERT_TRUE(json_real_value(json_array_get(
                  json_object_get(json_array_get(pts, 2), "vector"), 0)) == 1e39);
  json_t *pl = json_object_get(json_array_get(pts, 3), "payload");
  ASSERT_EQ_INT((int)json_array_size(json_object_get(pl, "vector")), 1);
  ASSERT_EQ_INT((int)json_array_size(json_object_get(v, "vector")), 1);
  json_decref(v);
  http_floats_free(&f);
  json_t *bad = NULL;
  char err[256] = "";
  const char *text = "{\"points\": [{\"vector\": [1e999]}]}";
  ASSERT_EQ_INT(http_json_parse_vectors(text, strlen(text), 64, upsert, &f, &bad, err, sizeof err),
                -2);
  ASSERT_EQ_INT((int)f.count, 0);
  http_floats_free(&f);
}

/* Vector elements decode to (float)strtod bit for bit, in every format and
 * at every offset the eight-digit reader can meet: runs of 1..20 digits,
 * leading zeros, exponents of 1..4 digits, "-0", and numbers within eight
 * bytes of the end of the body. */
static void test_vector_elements_match_strtod(void) {
  static const char *const paths[] = {"vector", NULL};
  static const char *const edges[] = {
      "0", "-0", "-0.0", "1", "12345678", "123456789", "1234567890123456", "1234567890123456789",
      "12345678901234567890.5", "0.0000000000000000001234", "0.00000001", "0.12345678",
      "-0.012345678918063641", "9007199254740993", "1e0005", "1E+05", "2.5e-3", "7e22", "7e23",
      "3.4028234e38", "1.17549435e-38", "1.4e-45", "16777217", "0.1", "100000000",
  };
  uint64_t state = 2463534242ull;
  const char *fmts[] = {"%.9g", "%.17g", "%g", "%e", "%.3f", "%.8f", "%.0f"};
  char *text = malloc(1 << 20);
  float *want = malloc(sizeof(float) * 20000);
  ASSERT_TRUE(text && want);
  for (int round = 0; round < 20; round++) {
    size_t len = (size_t)sprintf(text, "{\"vector\":[");
    int n = 0;
    for (; n < 1000; n++) {
      char tok[64];
      if (n % 7 == 3) {
        snprintf(tok, sizeof tok, "%s", edges[(n + round) % (sizeof edges / sizeof *edges)]);
      } else {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        double d = ((double)(state >> 11) / 9007199254740992.0 - 0.5) *
                   pow(10, (int)(state % 12) - 6);
        snprintf(tok, sizeof tok, fmts[(n + round) % 7], d);
      }
      want[n] = (float)strtod(tok, NULL);
      len += (size_t)sprintf(text + len, "%s%s", n ? (n % 5 ? "," : " , ") : "", tok);
    }
    /* The last round ends the body right after the array: no slack. */
    len += (size_t)sprintf(text + len, round == 19 ? "]}" : "],\"k\":10}");
    http_floats_t f = {0};
    json_t *v = NULL;
    char err[256] = "";
    if (http_json_parse_vectors(text, len, 64, paths, &f, &v, err, sizeof err) != 0)
      CHECK_FAIL("round %d refused: %s", round, err);
    ASSERT_EQ_INT((int)f.count, 1);
    ASSERT_EQ_INT((int)f.items[0].n, n);
    for (int i = 0; i < n; i++)
      if (memcmp(&f.items[0].values[i], &want[i], sizeof(float)) != 0)
        CHECK_FAIL("round %d element %d: got %.9g, want %.9g", round, i,
                   (double)f.items[0].values[i], (double)want[i]);
    json_decref(v);
    http_floats_free(&f);
  }
  /* A short body: every element within eight bytes of its end. */
  const char *tail = "{\"vector\":[1,-0.5,7]}";
  http_floats_t f = {0};
  json_t *v = parse_vectors(tail, paths, &f);
  ASSERT_EQ_INT((int)f.items[0].n, 3);
  ASSERT_TRUE(f.items[0].values[0] == 1.0f && f.items[0].values[1] == -0.5f &&
              f.items[0].values[2] == 7.0f);
  json_decref(v);
  http_floats_free(&f);
  free(text);
  free(want);
}

/* The writer (json_write.c) against json_dumps(JSON_COMPACT), byte for
 * byte: `v` is consumed. */
static void writes_like_jansson(json_t *v) {
  char *buf = NULL;
  size_t cap = 0;
  long n = http_encode_json(v, &buf, &cap);
  char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (n < 0 || !want || (size_t)n != strlen(want) || memcmp(buf, want, (size_t)n) != 0)
    CHECK_FAIL("wrote '%.*s', jansson '%s'", n < 0 ? 0 : (int)n, buf ? buf : "", want ? want : "");
  free(want);
  free(buf);
  json_decref(v);
}

/* Reals of every magnitude (random bits, the fast range's edges, exact
 * ties, floats widened to double, integers), integers, strings with every
 * escape, and nested containers all come out as jansson writes them. */
static void test_writer_matches_jansson(void) {
  static const double edges[] = {0.0, -0.0, 1.0, -1.0, 0.5, 100.0, 1e-4, 9.9999999999999991e-5,
                                 0.00010000000000000001, 1e15, 9999999999999998.0, 1e16,
                                 9007199254740993.0, 123456789012345.67, 0.1, 0.2, 0.3, 1e-5,
                                 2.5, 1e300, -1e-300, 4.9e-324, 1.7976931348623157e308,
                                 0.30000000000000004, 1234.5, 999999999999999.9};
  for (size_t i = 0; i < sizeof edges / sizeof *edges; i++) writes_like_jansson(json_real(edges[i]));
  uint64_t state = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 300000; i++) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    double d;
    switch (i % 4) {
    case 0: { /* any finite double */
      memcpy(&d, &state, sizeof d);
      if (!isfinite(d)) continue;
      break;
    }
    case 1: /* the fast range, every magnitude */
      d = ((double)(state >> 11) / 9007199254740992.0) * pow(10, (int)(state % 22) - 5);
      break;
    case 2: /* a float distance widened to double */
      d = (double)(float)((double)(state >> 11) / 9007199254740992.0 * 4.0);
      break;
    default: /* short decimals: exact ties at the 17th digit are likelier */
      d = (double)(int64_t)(state % 2000001 - 1000000) / pow(10, (int)(state % 9));
    }
    writes_like_jansson(json_real(d));
  }
  writes_like_jansson(json_integer(0));
  writes_like_jansson(json_integer(-9223372036854775807ll - 1));
  writes_like_jansson(json_integer(9223372036854775807ll));
  writes_like_jansson(json_string("plain, \"quoted\", back\\slash, /slash/, \b\f\n\r\t, "
                                  "\x01\x1f\x7f, caf\xc3\xa9 \xf0\x9f\x98\x80"));
  writes_like_jansson(json_stringn("nul\0inside", 10));
  json_t *tree = json_pack("{s:[i,f,s,b,n,{}],s:{s:{s:[]}},s:f,s:o}", "a", 1, 2.5, "x", 1,
                           "nested", "deeper", "empty", "score", 0.12345679104328156, "obj",
                           json_object());
  writes_like_jansson(tree);
  writes_like_jansson(json_array());
  writes_like_jansson(json_true());
  writes_like_jansson(json_false());
  writes_like_jansson(json_null());
}

CHECK_MAIN(CHECK_CASE(test_vectors_at_route_paths_become_floats),
           CHECK_CASE(test_vector_elements_match_strtod), CHECK_CASE(test_writer_matches_jansson),
           CHECK_CASE(test_other_arrays_and_odd_vectors_stay_json),
           CHECK_CASE(test_documents_parse_like_jansson), CHECK_CASE(test_numbers_convert_exactly),
           CHECK_CASE(test_out_of_range_numbers_are_minus_two),
           CHECK_CASE(test_errors_name_line_and_column))
