/*
 * test_filter.c — the payload filter on its typed form (src/filter/): the
 * checks a tree gets whatever transport built it (a gRPC client sends one
 * without the REST codec's shape checks), and the match rules: dot paths,
 * arrays (any element), 'ne' as 'not eq', numbers by value, strings by
 * bytes, missing fields and payloads; the payload reader (payload.c) on
 * escapes, skipped values, numbers, whitespace, duplicate keys and broken
 * text; and a differential test against the jansson evaluation filter.c
 * had before the reader (kept here as the oracle) on seeded random
 * payloads (valid and mutated) and filters.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "filter/filter.h"
#include "filter/payload.h"

static akidb_value_t num(double x) { return (akidb_value_t){.kind = AKIDB_VALUE_NUMBER, .number = x}; }
static akidb_value_t str(const char *s) {
  return (akidb_value_t){.kind = AKIDB_VALUE_STRING, .string = {s, strlen(s)}};
}
static akidb_value_t boolean(bool b) { return (akidb_value_t){.kind = AKIDB_VALUE_BOOL, .boolean = b}; }

static akidb_filter_node_t cond(akidb_filter_op_t op, const char *field, const akidb_value_t *v,
                                size_t n) {
  return (akidb_filter_node_t){.op = op, .field = {field, field ? strlen(field) : 0},
                               .values = v, .n_values = n};
}

static void expect_refused(const akidb_filter_node_t *f, uint32_t depth, const char *msg) {
  akidb_svc_error_t e = {0};
  ASSERT_EQ_INT(filter_check(f, depth, &e), -1);
  ASSERT_EQ_INT(e.status, AKIDB_ST_INVALID_ARGUMENT);
  ASSERT_STR_CONTAINS(e.message, msg);
}

static void test_filter_check_refuses_what_no_codec_caught(void) {
  akidb_value_t t = boolean(true), five = num(5);
  akidb_filter_node_t gt_bool = cond(AKIDB_FILTER_GT, "year", &t, 1);
  expect_refused(&gt_bool, 16, "'gt' takes a number or a string");
  akidb_filter_node_t in_empty = cond(AKIDB_FILTER_IN, "tag", NULL, 0);
  expect_refused(&in_empty, 16, "'in' takes a non-empty array");
  akidb_filter_node_t no_field = cond(AKIDB_FILTER_EQ, NULL, &five, 1);
  expect_refused(&no_field, 16, "a condition needs 'field'");
  akidb_filter_node_t and_empty = {.op = AKIDB_FILTER_AND};
  expect_refused(&and_empty, 16, "'and' takes a non-empty array of filters");
  /* not(not(not(cond))): depth 4 */
  akidb_filter_node_t leaf = cond(AKIDB_FILTER_EQ, "a", &five, 1);
  akidb_filter_node_t n1 = {.op = AKIDB_FILTER_NOT, .kids = &leaf, .n_kids = 1};
  akidb_filter_node_t n2 = {.op = AKIDB_FILTER_NOT, .kids = &n1, .n_kids = 1};
  akidb_filter_node_t n3 = {.op = AKIDB_FILTER_NOT, .kids = &n2, .n_kids = 1};
  expect_refused(&n3, 3, "nested deeper than 3 levels");
  akidb_svc_error_t e = {0};
  ASSERT_EQ_INT(filter_check(&n3, 4, &e), 0);
  ASSERT_EQ_INT(filter_check(NULL, 1, &e), 0);
}

static bool match(const akidb_filter_node_t *f, const char *payload) {
  return filter_match(f, payload, payload ? strlen(payload) : 0);
}

static void test_filter_match_rules(void) {
  akidb_value_t y2000 = num(2000), red = str("red"), t = boolean(true);
  akidb_value_t tags[] = {str("a"), num(3)};
  akidb_filter_node_t year_gte = cond(AKIDB_FILTER_GTE, "meta.year", &y2000, 1);
  ASSERT_TRUE(match(&year_gte, "{\"meta\":{\"year\":2000}}"));
  ASSERT_TRUE(match(&year_gte, "{\"meta\":{\"year\":2001.5}}"));
  ASSERT_TRUE(!match(&year_gte, "{\"meta\":{\"year\":1999}}"));
  ASSERT_TRUE(!match(&year_gte, "{\"meta\":{\"year\":\"2001\"}}")); /* not comparable */
  ASSERT_TRUE(!match(&year_gte, "{\"meta\":2001}"));
  akidb_filter_node_t color = cond(AKIDB_FILTER_EQ, "color", &red, 1);
  ASSERT_TRUE(match(&color, "{\"color\":\"red\"}"));
  ASSERT_TRUE(match(&color, "{\"color\":[\"blue\",\"red\"]}")); /* any element */
  ASSERT_TRUE(!match(&color, "{\"color\":\"redder\"}"));
  ASSERT_TRUE(!match(&color, NULL));
  akidb_filter_node_t not_red = cond(AKIDB_FILTER_NE, "color", &red, 1);
  ASSERT_TRUE(match(&not_red, "{}"));   /* missing: passes 'ne' only */
  ASSERT_TRUE(match(&not_red, NULL));
  ASSERT_TRUE(!match(&not_red, "{\"color\":[\"red\"]}"));
  akidb_filter_node_t in = cond(AKIDB_FILTER_IN, "tag", tags, 2);
  ASSERT_TRUE(match(&in, "{\"tag\":3.0}")); /* numbers by value */
  ASSERT_TRUE(match(&in, "{\"tag\":\"a\"}"));
  ASSERT_TRUE(!match(&in, "{\"tag\":true}"));
  akidb_filter_node_t flag = cond(AKIDB_FILTER_EQ, "ok", &t, 1);
  akidb_filter_node_t both[] = {color, flag};
  akidb_filter_node_t and = {.op = AKIDB_FILTER_AND, .kids = both, .n_kids = 2};
  akidb_filter_node_t or = {.op = AKIDB_FILTER_OR, .kids = both, .n_kids = 2};
  ASSERT_TRUE(match(&and, "{\"color\":\"red\",\"ok\":true}"));
  ASSERT_TRUE(!match(&and, "{\"color\":\"red\",\"ok\":1}")); /* a number is no boolean */
  ASSERT_TRUE(match(&or, "{\"ok\":true}"));
  akidb_svc_error_t e = {0};
  ASSERT_EQ_INT(filter_check(&and, 16, &e), 0);
}

/* ------------------------------------------------------ the reader -- */

static akidb_value_t null_value(void) { return (akidb_value_t){.kind = AKIDB_VALUE_NULL}; }

static bool eq(const char *field, akidb_value_t v, const char *payload) {
  akidb_filter_node_t f = cond(AKIDB_FILTER_EQ, field, &v, 1);
  return match(&f, payload);
}

static bool op(akidb_filter_op_t o, const char *field, akidb_value_t v, const char *payload) {
  akidb_filter_node_t f = cond(o, field, &v, 1);
  return match(&f, payload);
}

/* The reader finds no such field, and the filter agrees: only 'ne'
 * passes, whatever the value. */
static bool missing(const char *field, const char *payload) {
  payload_t pl;
  payload_value_t v;
  payload_init(&pl, payload, strlen(payload));
  if (payload_find(&pl, field, strlen(field), &v)) return false;
  akidb_value_t vs[] = {null_value(), boolean(true), boolean(false), num(0), num(1), str("")};
  for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++)
    if (eq(field, vs[i], payload) || !op(AKIDB_FILTER_NE, field, vs[i], payload)) return false;
  return true;
}

static void test_payload_escapes(void) {
  ASSERT_TRUE(eq("s", str("caf\xc3\xa9"), "{\"s\":\"caf\\u00e9\"}"));
  ASSERT_TRUE(eq("s", str("caf\xc3\xa9"), "{\"s\":\"caf\\u00E9\"}"));
  ASSERT_TRUE(eq("s", str("caf\xc3\xa9"), "{\"s\":\"caf\xc3\xa9\"}"));
  ASSERT_TRUE(eq("s", str("\xe2\x82\xac"), "{\"s\":\"\\u20ac\"}"));
  ASSERT_TRUE(eq("s", str("\xf0\x9f\x98\x80"), "{\"s\":\"\\ud83d\\ude00\"}")); /* surrogates */
  ASSERT_TRUE(eq("s", str("\xf4\x8f\xbf\xbf"), "{\"s\":\"\\uDBFF\\uDFFF\"}"));
  ASSERT_TRUE(eq("s", str("say \"hi\""), "{\"s\":\"say \\\"hi\\\"\"}"));
  ASSERT_TRUE(eq("s", str("\"\\/\b\f\n\r\t"), "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}"));
  ASSERT_TRUE(eq("s", str("/"), "{\"s\":\"\\u002f\"}"));
  ASSERT_TRUE(!eq("s", str("caf"), "{\"s\":\"caf\\u00e9\"}"));
  ASSERT_TRUE(!eq("s", str("caf\xc3\xa9!"), "{\"s\":\"caf\\u00e9\"}"));
  /* keys: escaped quotes, \u forms of plain letters, a backslash */
  ASSERT_TRUE(eq("k\"ey", num(1), "{\"k\\\"ey\":1}"));
  ASSERT_TRUE(eq("a", num(1), "{\"\\u0061\":1}"));
  ASSERT_TRUE(eq("x\\y", num(2), "{\"x\\\\y\":2}"));
  ASSERT_TRUE(eq("\xc3\xa9t\xc3\xa9.m", num(3), "{\"\\u00e9t\\u00e9\":{\"m\":3}}"));
  /* byte order after unescaping: U+00E9 (0xC3 0xA9) sorts after 'z' */
  ASSERT_TRUE(op(AKIDB_FILTER_GT, "s", str("z"), "{\"s\":\"\\u00e9\"}"));
  ASSERT_TRUE(op(AKIDB_FILTER_LT, "s", str("\xc3\xa9"), "{\"s\":\"\\u00e8\"}"));
  ASSERT_TRUE(op(AKIDB_FILTER_LT, "s", str("ab"), "{\"s\":\"a\"}")); /* shorter first */
  ASSERT_TRUE(op(AKIDB_FILTER_GTE, "s", str("a\n"), "{\"s\":\"a\\nb\"}"));
}

static void test_payload_skips_nested_values(void) {
  const char *p = "{\"x\":{\"a\":[1,{\"b\":\"}\"}],\"c\":\"]\\\"\"},\"y\":[[],{},[[\"a\"]]],"
                  "\"s\":\"a,b:{c}\",\"n\":null,\"t\":true,\"a\":5}";
  ASSERT_TRUE(eq("a", num(5), p));
  ASSERT_TRUE(eq("x.c", str("]\""), p));
  ASSERT_TRUE(eq("n", null_value(), p));
  ASSERT_TRUE(eq("t", boolean(true), p));
  ASSERT_TRUE(eq("x.a", num(1), p));        /* any element */
  ASSERT_TRUE(missing("x.a.b", p));         /* through an array: missing */
  payload_t pl;
  payload_value_t v;
  payload_init(&pl, p, strlen(p));
  ASSERT_TRUE(payload_find(&pl, "y", 1, &v) && v.kind == PAYLOAD_ARRAY);
  ASSERT_TRUE(!eq("y", str("a"), p));       /* nested arrays are not flattened */
  ASSERT_TRUE(missing("a.b", p));           /* through a number */
  ASSERT_TRUE(missing("s.a", p));           /* through a string */
  ASSERT_TRUE(missing("x.z", p));
  ASSERT_TRUE(eq("", num(7), "{\"\":7}"));  /* an empty key is a key */
  ASSERT_TRUE(eq("a.", num(8), "{\"a\":{\"\":8}}"));
  ASSERT_TRUE(eq("a.b.c.d", num(9), "{\"a\":{\"b\":{\"c\":{\"d\":9}}}}"));
}

static void test_payload_numbers(void) {
  ASSERT_TRUE(eq("n", num(0), "{\"n\":-0}"));
  ASSERT_TRUE(eq("n", num(-0.0), "{\"n\":0}"));
  ASSERT_TRUE(eq("n", num(0), "{\"n\":-0.0e5}"));
  ASSERT_TRUE(eq("n", num(1000), "{\"n\":1e3}"));
  ASSERT_TRUE(eq("n", num(1000), "{\"n\":1E+3}"));
  ASSERT_TRUE(eq("n", num(0.015), "{\"n\":1.5E-2}"));
  ASSERT_TRUE(eq("n", num(0.1), "{\"n\":0.1}"));
  ASSERT_TRUE(!eq("n", num(0.1), "{\"n\":0.10000000000000002}"));
  ASSERT_TRUE(eq("n", num(9007199254740992.0), "{\"n\":9007199254740993}")); /* rounds */
  ASSERT_TRUE(eq("n", num(9223372036854775808.0), "{\"n\":9223372036854775807}"));
  ASSERT_TRUE(eq("n", num(-9223372036854775808.0), "{\"n\":-9223372036854775808}"));
  ASSERT_TRUE(eq("n", num(1.2345678901234568e29), "{\"n\":123456789012345678901234567890.0}"));
  ASSERT_TRUE(eq("n", num(0), "{\"n\":1e-400}"));          /* underflow: jansson takes it */
  ASSERT_TRUE(eq("n", num(4.9406564584124654e-324), "{\"n\":4.9e-324}"));
  ASSERT_TRUE(eq("n", num(1.7976931348623157e308), "{\"n\":1.7976931348623157e308}"));
  ASSERT_TRUE(op(AKIDB_FILTER_GT, "n", num(-1), "{\"n\":-0.5}"));
  /* what jansson refuses makes the whole payload field-less */
  ASSERT_TRUE(missing("a", "{\"a\":1,\"n\":9223372036854775808}"));
  ASSERT_TRUE(missing("a", "{\"a\":1,\"n\":-9223372036854775809}"));
  ASSERT_TRUE(missing("a", "{\"a\":1,\"n\":99999999999999999999}"));
  ASSERT_TRUE(missing("a", "{\"a\":1,\"n\":1e400}"));
  ASSERT_TRUE(missing("a", "{\"a\":1,\"n\":0.0001e313}"));
  ASSERT_TRUE(eq("a", num(1), "{\"a\":1,\"n\":0.0001e312}"));
  ASSERT_TRUE(missing("a", "{\"a\":1,\"n\":01}"));
  ASSERT_TRUE(missing("a", "{\"a\":1,\"n\":1.}"));
  ASSERT_TRUE(missing("a", "{\"a\":1,\"n\":.5}"));
  ASSERT_TRUE(missing("a", "{\"a\":1,\"n\":+1}"));
  ASSERT_TRUE(missing("a", "{\"a\":1,\"n\":1e}"));
  ASSERT_TRUE(missing("a", "{\"a\":1,\"n\":-}"));
  ASSERT_TRUE(missing("a", "{\"a\":1,\"n\":0x10}"));
  ASSERT_TRUE(missing("a", "{\"a\":1,\"n\":NaN}"));
  ASSERT_TRUE(eq("a", num(1), "{\"a\":1,\"n\":1e308}"));
  ASSERT_TRUE(eq("a", num(1), "{\"a\":1,\"n\":0.01e310}"));
}

static void test_payload_whitespace(void) {
  const char *p = " \t\r\n{ \r\n\"a\" \t:\n [ 1 ,\t2 ] ,\"b\" : { \"c\" : true\n} , \"d\"\t:\"x\" "
                  "} \n\t\r ";
  ASSERT_TRUE(eq("a", num(2), p));
  ASSERT_TRUE(eq("b.c", boolean(true), p));
  ASSERT_TRUE(eq("d", str("x"), p));
  ASSERT_TRUE(missing("a", "\f{\"a\":1}"));   /* form feed is no JSON whitespace */
  ASSERT_TRUE(missing("a", "{\"a\":1}\v"));
  ASSERT_TRUE(missing("a", "\xef\xbb\xbf{\"a\":1}")); /* nor a byte order mark */
}

static void test_payload_duplicate_keys(void) {
  /* jansson (json_loadb, no JSON_REJECT_DUPLICATES) keeps the last value */
  ASSERT_TRUE(eq("a", num(2), "{\"a\":1,\"a\":2}"));
  ASSERT_TRUE(!eq("a", num(1), "{\"a\":1,\"a\":2}"));
  ASSERT_TRUE(eq("a", num(3), "{\"a\":1,\"\\u0061\":3}"));
  ASSERT_TRUE(missing("a.b", "{\"a\":{\"b\":1},\"a\":{\"c\":2}}"));
  ASSERT_TRUE(eq("a.c", num(2), "{\"a\":{\"b\":1},\"a\":{\"c\":2}}"));
  ASSERT_TRUE(eq("a.b", num(4), "{\"a\":{\"b\":1,\"b\":4}}"));
  ASSERT_TRUE(missing("a.b", "{\"a\":{\"b\":1},\"a\":5}"));
}

/* Every proper prefix of a payload is broken text: no field, no crash
 * (each prefix is copied to its own exact-size block, so ASan sees an
 * overread). */
static void expect_prefixes_missing(const char *p, const char *field) {
  size_t n = strlen(p);
  akidb_value_t any = num(1);
  akidb_filter_node_t f = cond(AKIDB_FILTER_NE, field, &any, 1);
  for (size_t i = 0; i < n; i++) {
    char *copy = malloc(i ? i : 1);
    memcpy(copy, p, i);
    ASSERT_TRUE(filter_match(&f, copy, i));
    free(copy);
  }
}

static void test_payload_malformed(void) {
  expect_prefixes_missing("{\"a\":1,\"s\":\"x\\u00e9\\ud83d\\ude00\\\"\",\"o\":{\"b\":[1,-2.5e3,"
                          "true,false,null,{}]}}",
                          "a");
  ASSERT_TRUE(missing("a", "{\"a\":1,\"b\":}"));         /* broken after the field */
  ASSERT_TRUE(missing("a", "{\"a\":1,}"));
  ASSERT_TRUE(missing("a", "{\"a\":1}x"));
  ASSERT_TRUE(missing("a", "{\"a\":1}{}"));
  ASSERT_TRUE(missing("a", "{\"a\":1 \"b\":2}"));
  ASSERT_TRUE(missing("a", "{\"a\" 1}"));
  ASSERT_TRUE(missing("a", "{a:1}"));
  ASSERT_TRUE(missing("a", "{\"a\":tru}"));
  ASSERT_TRUE(missing("a", "{\"a\":truex}"));
  ASSERT_TRUE(missing("a", "{\"a\":[1,]}"));
  ASSERT_TRUE(missing("a", "{\"a\":[1}"));
  ASSERT_TRUE(missing("a", "{\"a\":{]}"));
  ASSERT_TRUE(missing("a", "{\"a\":1,\"s\":\"\\x\"}"));       /* bad escape */
  ASSERT_TRUE(missing("a", "{\"a\":1,\"s\":\"\\u12\"}"));
  ASSERT_TRUE(missing("a", "{\"a\":1,\"s\":\"\\ud800\"}"));   /* lone surrogates */
  ASSERT_TRUE(missing("a", "{\"a\":1,\"s\":\"\\udc00\"}"));
  ASSERT_TRUE(missing("a", "{\"a\":1,\"s\":\"\\ud800\\u0041\"}"));
  ASSERT_TRUE(missing("a", "{\"a\":1,\"s\":\"\\u0000\"}"));   /* jansson: no NUL */
  ASSERT_TRUE(missing("a", "{\"a\":1,\"\\u0000\":2}"));
  ASSERT_TRUE(missing("a", "{\"a\":1,\"s\":\"\t\"}"));        /* raw control byte */
  ASSERT_TRUE(missing("a", "{\"a\":1,\"s\":\"\xff\"}"));      /* invalid UTF-8 */
  ASSERT_TRUE(missing("a", "{\"a\":1,\"s\":\"\xc0\x80\"}"));  /* overlong */
  ASSERT_TRUE(missing("a", "{\"a\":1,\"s\":\"\xe0\x9f\xbf\"}"));
  ASSERT_TRUE(missing("a", "{\"a\":1,\"s\":\"\xf0\x8f\xbf\xbf\"}"));
  ASSERT_TRUE(eq("s", str("\xe0\xa0\x80\xf0\x90\x80\x80"), "{\"s\":\"\xe0\xa0\x80\xf0\x90\x80\x80\"}"));
  ASSERT_TRUE(missing("a", "{\"a\":1,\"s\":\"\xed\xa0\x80\"}")); /* encoded surrogate */
  ASSERT_TRUE(missing("a", "{\"a\":1,\"s\":\"\xf4\x90\x80\x80\"}")); /* past U+10FFFF */
  ASSERT_TRUE(missing("a", "{\"a\":1,\"s\":\"\xe2\x82\"}"));  /* cut short */
  ASSERT_TRUE(eq("s", str("\x7f"), "{\"s\":\"\x7f\"}"));      /* DEL is allowed */
  ASSERT_TRUE(missing("a", "[{\"a\":1}]"));                   /* not an object */
  ASSERT_TRUE(missing("a", "\"a\""));
  ASSERT_TRUE(missing("a", "   "));
  ASSERT_TRUE(missing("a", ""));
  /* jansson loses one NUL right after a number or a literal (its lexer
   * reads it ahead and drops it): such text reads as if it were not there */
  static const char quirk[] = "{\"a\":1\0,\"b\":true\0,\"c\":[-2.5e1\0]}";
  akidb_value_t minus25 = num(-25);
  akidb_filter_node_t c25 = cond(AKIDB_FILTER_EQ, "c", &minus25, 1);
  ASSERT_TRUE(filter_match(&c25, quirk, sizeof quirk - 1));
  static const char two_nuls[] = "{\"a\":1\0\0}", after_string[] = "{\"a\":\"x\"\0}",
                    after_space[] = "{\"a\":1 \0}";
  ASSERT_TRUE(!filter_match(&c25, two_nuls, sizeof two_nuls - 1));
  akidb_filter_node_t ne = cond(AKIDB_FILTER_NE, "a", &minus25, 1);
  ASSERT_TRUE(filter_match(&ne, two_nuls, sizeof two_nuls - 1)); /* missing */
  payload_t pl;
  payload_value_t v;
  payload_init(&pl, two_nuls, sizeof two_nuls - 1);
  ASSERT_TRUE(!payload_find(&pl, "a", 1, &v));
  payload_init(&pl, after_string, sizeof after_string - 1);
  ASSERT_TRUE(!payload_find(&pl, "a", 1, &v));
  payload_init(&pl, after_space, sizeof after_space - 1);
  ASSERT_TRUE(!payload_find(&pl, "a", 1, &v));
  payload_init(&pl, quirk, sizeof quirk - 1);
  ASSERT_TRUE(payload_find(&pl, "a", 1, &v) && payload_number(&v) == 1);
  ASSERT_TRUE(payload_find(&pl, "b", 1, &v) && payload_bool(&v));
  const char nul[] = "{\"a\":1}\0";
  akidb_value_t one = num(1);
  akidb_filter_node_t f = cond(AKIDB_FILTER_EQ, "a", &one, 1);
  ASSERT_TRUE(filter_match(&f, nul, sizeof nul - 2));
  ASSERT_TRUE(!filter_match(&f, nul, sizeof nul - 1)); /* a NUL after the object */
}

/* {"a":[[[...1...]]],"b":2} with `levels` containers in all. */
static char *nested(unsigned levels) {
  size_t cap = 2 * (size_t)levels + 32;
  char *p = malloc(cap), *w = p;
  w += sprintf(w, "{\"a\":");
  for (unsigned i = 1; i < levels; i++) *w++ = '[';
  *w++ = '1';
  for (unsigned i = 1; i < levels; i++) *w++ = ']';
  sprintf(w, ",\"b\":2}");
  return p;
}

static void test_payload_depth(void) {
  char *ok = nested(2048), *deep = nested(2049); /* jansson's limit: 2048 */
  ASSERT_TRUE(eq("b", num(2), ok));
  ASSERT_TRUE(missing("b", deep));
  free(ok);
  free(deep);
}

static void test_payload_reader_api(void) {
  const char *t = "{\"a\":[1, \"x\" ,[2],{\"k\":3},null,true],\"b\":{\"c\":-1.5e1}}";
  payload_t pl;
  payload_init(&pl, t, strlen(t));
  ASSERT_EQ_INT(pl.state, PAYLOAD_UNCHECKED);
  payload_value_t v, e;
  ASSERT_TRUE(payload_find(&pl, "b.c", 3, &v));
  ASSERT_EQ_INT(pl.state, PAYLOAD_VALID);
  ASSERT_EQ_INT(v.kind, PAYLOAD_NUMBER);
  ASSERT_TRUE(payload_number(&v) == -15.0);
  ASSERT_TRUE(payload_find(&pl, "a", 1, &v));
  ASSERT_EQ_INT(v.kind, PAYLOAD_ARRAY);
  payload_kind_t want[] = {PAYLOAD_NUMBER, PAYLOAD_STRING, PAYLOAD_ARRAY,
                           PAYLOAD_OBJECT, PAYLOAD_NULL,   PAYLOAD_BOOL};
  payload_iter_t it = payload_elements(&v);
  size_t n = 0;
  while (payload_next(&it, &e)) {
    ASSERT_TRUE(n < 6);
    ASSERT_EQ_INT(e.kind, want[n]);
    n++;
  }
  ASSERT_EQ_INT(n, 6);
  ASSERT_TRUE(!payload_find(&pl, "a.k", 3, &v));
  payload_init(&pl, "{\"a\":1", 6);
  ASSERT_TRUE(!payload_find(&pl, "a", 1, &v));
  ASSERT_EQ_INT(pl.state, PAYLOAD_INVALID);
  payload_init(&pl, NULL, 5);
  ASSERT_TRUE(!payload_find(&pl, "a", 1, &v));
}

/* --------------------------------------- the oracle: filter.c before --
 * The evaluation filter.c had before the reader, on a jansson tree of the
 * whole payload: the new filter_match must agree with it on every case. */

static const json_t *oracle_lookup(const json_t *obj, akidb_bytes_t path) {
  const char *p = path.p, *end = path.p + path.len;
  const json_t *cur = obj;
  while (cur) {
    const char *dot = memchr(p, '.', (size_t)(end - p));
    size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);
    if (!json_is_object(cur)) return NULL;
    cur = json_object_getn(cur, p, n);
    if (!dot) return cur;
    p = dot + 1;
  }
  return NULL;
}

static bool oracle_equal(const json_t *v, const akidb_value_t *x) {
  switch (x->kind) {
  case AKIDB_VALUE_NULL:
    return json_is_null(v);
  case AKIDB_VALUE_BOOL:
    return json_is_boolean(v) && json_is_true(v) == x->boolean;
  case AKIDB_VALUE_NUMBER:
    return json_is_number(v) && json_number_value(v) == x->number;
  case AKIDB_VALUE_STRING:
    return json_is_string(v) && json_string_length(v) == x->string.len &&
           memcmp(json_string_value(v), x->string.p, x->string.len) == 0;
  }
  return false;
}

static int oracle_compare(const json_t *v, const akidb_value_t *x, bool *ok) {
  *ok = true;
  if (json_is_number(v) && x->kind == AKIDB_VALUE_NUMBER) {
    double a = json_number_value(v), b = x->number;
    return (a > b) - (a < b);
  }
  if (json_is_string(v) && x->kind == AKIDB_VALUE_STRING) {
    size_t la = json_string_length(v), lb = x->string.len;
    int r = memcmp(json_string_value(v), x->string.p, la < lb ? la : lb);
    return r ? r : (la > lb) - (la < lb);
  }
  *ok = false;
  return 0;
}

static bool oracle_one(const akidb_filter_node_t *f, const json_t *v) {
  bool ok;
  int r;
  switch (f->op) {
  case AKIDB_FILTER_EQ:
    return oracle_equal(v, &f->values[0]);
  case AKIDB_FILTER_IN:
    for (size_t i = 0; i < f->n_values; i++)
      if (oracle_equal(v, &f->values[i])) return true;
    return false;
  case AKIDB_FILTER_GT:
    r = oracle_compare(v, &f->values[0], &ok);
    return ok && r > 0;
  case AKIDB_FILTER_GTE:
    r = oracle_compare(v, &f->values[0], &ok);
    return ok && r >= 0;
  case AKIDB_FILTER_LT:
    r = oracle_compare(v, &f->values[0], &ok);
    return ok && r < 0;
  case AKIDB_FILTER_LTE:
    r = oracle_compare(v, &f->values[0], &ok);
    return ok && r <= 0;
  default:
    return false;
  }
}

static bool oracle_condition(const akidb_filter_node_t *f, const json_t *payload) {
  if (f->op == AKIDB_FILTER_NE) {
    akidb_filter_node_t e = *f;
    e.op = AKIDB_FILTER_EQ;
    return !oracle_condition(&e, payload);
  }
  const json_t *v = oracle_lookup(payload, f->field);
  if (!v) return false;
  if (!json_is_array(v)) return oracle_one(f, v);
  for (size_t i = 0; i < json_array_size(v); i++)
    if (oracle_one(f, json_array_get(v, i))) return true;
  return false;
}

static bool oracle_eval(const akidb_filter_node_t *f, const json_t *payload) {
  switch (f->op) {
  case AKIDB_FILTER_AND:
    for (size_t i = 0; i < f->n_kids; i++)
      if (!oracle_eval(&f->kids[i], payload)) return false;
    return true;
  case AKIDB_FILTER_OR:
    for (size_t i = 0; i < f->n_kids; i++)
      if (oracle_eval(&f->kids[i], payload)) return true;
    return false;
  case AKIDB_FILTER_NOT:
    return !oracle_eval(&f->kids[0], payload);
  default:
    return oracle_condition(f, payload);
  }
}

static bool oracle_match(const akidb_filter_node_t *f, const char *payload, size_t len) {
  json_t *p = payload && len ? json_loadb(payload, len, JSON_DECODE_ANY, NULL) : NULL;
  bool r = oracle_eval(f, p);
  json_decref(p);
  return r;
}

/* ------------------------------------------- random payloads, filters -- */

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}
static unsigned below(unsigned n) { return (unsigned)(rnd() % n); }

typedef struct {
  char buf[8192];
  size_t len;
  bool full;
} text_t;

static void put(text_t *t, const char *s, size_t n) {
  if (t->len + n >= sizeof t->buf) {
    t->full = true;
    return;
  }
  memcpy(t->buf + t->len, s, n);
  t->len += n;
}
static void puts_(text_t *t, const char *s) { put(t, s, strlen(s)); }

static void ws(text_t *t) {
  static const char spaces[] = " \t\n\r";
  if (below(4) == 0)
    for (unsigned n = 1 + below(2); n; n--) put(t, &spaces[below(4)], 1);
}

/* Logical strings (UTF-8) shared by payloads and filters, so they meet. */
static const char *const strings[] = {
    "", "a", "b", "red", "redder", "caf\xc3\xa9", "\xf0\x9f\x98\x80", "a\"b", "x\\y", "tab\t",
    "\x01", "z", "\xe2\x82\xac" "uro", "/", "a/b", "\x7f", "line\nbreak", "\xc3\xa9t\xc3\xa9"};
#define N_STRINGS (sizeof strings / sizeof strings[0])

static uint32_t decode_utf8(const unsigned char **p) {
  const unsigned char *s = *p;
  uint32_t cp;
  size_t n;
  if (s[0] < 0x80) cp = s[0], n = 1;
  else if (s[0] < 0xE0) cp = s[0] & 0x1Fu, n = 2;
  else if (s[0] < 0xF0) cp = s[0] & 0x0Fu, n = 3;
  else cp = s[0] & 0x07u, n = 4;
  for (size_t i = 1; i < n; i++) cp = cp << 6 | (s[i] & 0x3Fu);
  *p = s + n;
  return cp;
}

static void put_u_escape(text_t *t, uint32_t unit) {
  char e[8];
  snprintf(e, sizeof e, below(2) ? "\\u%04x" : "\\u%04X", unit);
  put(t, e, 6);
}

/* One code point of a string, raw or escaped (as JSON allows). */
static void put_char(text_t *t, uint32_t cp, const unsigned char *raw, size_t raw_len) {
  static const char shorts[] = "\"\\/\b\f\n\r\t", letters[] = "\"\\/bfnrt";
  const char *s = cp < 0x80 && cp ? strchr(shorts, (int)cp) : NULL;
  bool must = cp < 0x20 || cp == '"' || cp == '\\';
  unsigned how = below(4);
  if (s && (how < 2 || must)) {
    char e[2] = {'\\', letters[s - shorts]};
    put(t, e, 2);
  } else if (must || how == 2) {
    if (cp >= 0x10000) {
      put_u_escape(t, 0xD800 + ((cp - 0x10000) >> 10));
      put_u_escape(t, 0xDC00 + ((cp - 0x10000) & 0x3FF));
    } else {
      put_u_escape(t, cp);
    }
  } else {
    put(t, (const char *)raw, raw_len);
  }
}

static void put_string(text_t *t, const char *s) {
  put(t, "\"", 1);
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    const unsigned char *start = p;
    uint32_t cp = decode_utf8(&p);
    put_char(t, cp, start, (size_t)(p - start));
  }
  put(t, "\"", 1);
}

/* Number texts; filters use the values below, and both meet often. */
static const char *const number_texts[] = {
    "0", "-0", "0.0", "-0.0", "1", "1.0", "10e-1", "0.1e1", "1E0", "2", "2000", "2000.0", "2e3",
    "2001", "2000.5", "-1", "-1.5", "1.5E-2", "0.015", "123", "1e3", "1000", "9007199254740993",
    "9007199254740992", "9223372036854775807", "-9223372036854775808", "1e-400", "4.9e-324",
    "1.7976931348623157e308", "3.14159", "12345678901234567890.5", "0.1", "-2.5e+1"};
static const double number_values[] = {0, -0.0, 1, 2, 2000, 2001, 2000.5, -1, -1.5, 0.015, 123,
                                       1000, 9007199254740992.0, 9223372036854775808.0,
                                       3.14159, 1.7976931348623157e308, 0.1, -25, 1e300};
#define N_NUMBERS (sizeof number_values / sizeof number_values[0])

static const char *const keys[] = {"a", "b", "c", "tag", "meta", "year", "", "caf\xc3\xa9",
                                   "a.b", "x\\y"};

static void put_value(text_t *t, unsigned depth);

static void put_object(text_t *t, unsigned depth) {
  put(t, "{", 1);
  unsigned n = below(depth ? 4 : 7);
  for (unsigned i = 0; i < n; i++) {
    if (i) put(t, ",", 1);
    ws(t);
    put_string(t, keys[below(depth ? 7 : 10)]);
    ws(t);
    put(t, ":", 1);
    ws(t);
    put_value(t, depth + 1);
    ws(t);
  }
  put(t, "}", 1);
}

static void put_value(text_t *t, unsigned depth) {
  unsigned r = below(depth > 3 ? 7 : 10);
  switch (r) {
  case 0: puts_(t, "null"); break;
  case 1: puts_(t, below(2) ? "true" : "false"); break;
  case 2: case 3: case 4:
    puts_(t, number_texts[below(sizeof number_texts / sizeof number_texts[0])]);
    break;
  case 5: case 6: put_string(t, strings[below(N_STRINGS)]); break;
  case 7: case 8: {
    put(t, "[", 1);
    unsigned n = below(5);
    for (unsigned i = 0; i < n; i++) {
      if (i) put(t, ",", 1);
      ws(t);
      put_value(t, depth + 2);
      ws(t);
    }
    put(t, "]", 1);
    break;
  }
  default: put_object(t, depth); break;
  }
}

/* Text jansson refuses (or takes) at the edges: NUL, surrogates, UTF-8
 * that is not, numbers past int64 or a double. */
static const char *const splices[] = {
    "\\u0000", "\\ud800", "\\udc00", "\\ud83d\\ude00", "\xc0\x80", "\xed\xa0\x80",
    "\xf4\x90\x80\x80", "\xe2\x82", "e999", "e308", "e-999", "9999999999", "0000",
    "9223372036854775808", "1.7976931348623159e308", "\\u00e9", "\"a\":1,"};

/* Breaks the text the way storage or a client might: a flipped, replaced,
 * inserted or deleted byte, a spliced edge case, or a cut. */
static void mutate(text_t *t) {
  static const char bytes[] = "{}[]\",:\\u0 e.-+9\x01\x80\xff\xc3" "\0";
  if (t->len == 0) return;
  size_t at = below((unsigned)t->len);
  if (below(3) == 0) { /* splice */
    const char *s = splices[below(sizeof splices / sizeof splices[0])];
    size_t n = strlen(s);
    if (t->len + n < sizeof t->buf) {
      memmove(t->buf + at + n, t->buf + at, t->len - at);
      memcpy(t->buf + at, s, n);
      t->len += n;
    }
    return;
  }
  switch (below(5)) {
  case 0: t->buf[at] ^= (char)(1u << below(8)); break;
  case 1: t->buf[at] = bytes[below(sizeof bytes - 1)]; break;
  case 2:
    if (t->len + 1 < sizeof t->buf) {
      memmove(t->buf + at + 1, t->buf + at, t->len - at);
      t->buf[at] = bytes[below(sizeof bytes - 1)];
      t->len++;
    }
    break;
  case 3: memmove(t->buf + at, t->buf + at + 1, t->len - at - 1), t->len--; break;
  default: t->len = at; break;
  }
}

typedef struct {
  akidb_filter_node_t nodes[64];
  akidb_value_t values[192];
  size_t n_nodes, n_values;
} pool_t;

static const char *const paths[] = {"a", "b", "c", "tag", "meta.year", "meta.tag", "a.b",
                                    "b.c.a", "", "a.", "caf\xc3\xa9", "x\\y", "year", "meta"};

static akidb_value_t random_value(bool range) {
  unsigned r = below(range ? 2 : 4);
  if (r == 0) return num(below(50) ? number_values[below(N_NUMBERS)] : below(2) ? NAN : INFINITY);
  if (r == 1) return str(strings[below(N_STRINGS)]);
  if (r == 2) return boolean(below(2));
  return null_value();
}

static akidb_filter_node_t *random_filter(pool_t *pl, unsigned depth) {
  akidb_filter_node_t *f = &pl->nodes[pl->n_nodes++];
  unsigned r = below(depth >= 3 || pl->n_nodes > 48 ? 7 : 10);
  if (r >= 7) {
    size_t n = r == 9 ? 1 : 1 + below(3);
    akidb_filter_node_t *kids[3];
    for (size_t i = 0; i < n; i++) kids[i] = random_filter(pl, depth + 1);
    /* kids must be contiguous: copy them into a fresh run */
    akidb_filter_node_t *run = &pl->nodes[pl->n_nodes];
    for (size_t i = 0; i < n; i++) run[i] = *kids[i];
    pl->n_nodes += n;
    *f = (akidb_filter_node_t){.op = r == 7 ? AKIDB_FILTER_AND : r == 8 ? AKIDB_FILTER_OR
                                                                       : AKIDB_FILTER_NOT,
                               .kids = run, .n_kids = n};
    return f;
  }
  static const akidb_filter_op_t ops[] = {AKIDB_FILTER_EQ, AKIDB_FILTER_NE,  AKIDB_FILTER_GT,
                                          AKIDB_FILTER_GTE, AKIDB_FILTER_LT, AKIDB_FILTER_LTE,
                                          AKIDB_FILTER_IN};
  akidb_filter_op_t o = ops[r];
  size_t n = o == AKIDB_FILTER_IN ? 1 + below(3) : 1;
  akidb_value_t *v = &pl->values[pl->n_values];
  bool range = o != AKIDB_FILTER_EQ && o != AKIDB_FILTER_NE && o != AKIDB_FILTER_IN;
  for (size_t i = 0; i < n; i++) v[i] = random_value(range);
  pl->n_values += n;
  *f = cond(o, paths[below(sizeof paths / sizeof paths[0])], v, n);
  return f;
}

static void test_filter_match_agrees_with_jansson(void) {
  enum { CASES = 30000 };
  size_t passed = 0, broken = 0, mutated = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < CASES; i++) {
    text_t t = {.len = 0};
    ws(&t);
    put_object(&t, 0);
    ws(&t);
    if (t.full) continue;
    if (below(4) == 0) {
      mutate(&t);
      mutated++;
    }
    pool_t pl = {.n_nodes = 0};
    akidb_filter_node_t *f = random_filter(&pl, 1);
    /* an exact-size copy: ASan sees any read past the payload */
    char *p = malloc(t.len ? t.len : 1);
    memcpy(p, t.buf, t.len);
    bool want = oracle_match(f, p, t.len), got = filter_match(f, p, t.len);
    if (want != got) {
      fprintf(stderr, "case %d: payload %.*s\n", i, (int)t.len, t.buf);
      CHECK_FAIL("filter_match %d, the jansson evaluation %d", got, want);
    }
    json_t *j = json_loadb(p, t.len, JSON_DECODE_ANY, NULL);
    broken += !j;
    json_decref(j);
    passed += got;
    free(p);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  fprintf(stderr, "     %d cases (%zu mutated, %zu refused by jansson), %zu passed, %.2f s\n",
          CASES, mutated, broken, passed, s);
  /* the generator must exercise both outcomes and both kinds of text */
  ASSERT_GE(passed, CASES / 10);
  ASSERT_GE(CASES - passed, CASES / 10);
  ASSERT_GE(broken, CASES / 20);
}

CHECK_MAIN(CHECK_CASE(test_filter_check_refuses_what_no_codec_caught),
           CHECK_CASE(test_filter_match_rules), CHECK_CASE(test_payload_escapes),
           CHECK_CASE(test_payload_skips_nested_values), CHECK_CASE(test_payload_numbers),
           CHECK_CASE(test_payload_whitespace), CHECK_CASE(test_payload_duplicate_keys),
           CHECK_CASE(test_payload_malformed), CHECK_CASE(test_payload_depth),
           CHECK_CASE(test_payload_reader_api), CHECK_CASE(test_filter_match_agrees_with_jansson))
