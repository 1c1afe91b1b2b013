/*
 * test_filter.c — the payload filter on its typed form (src/filter/): the
 * checks a tree gets whatever transport built it (a gRPC client sends one
 * without the REST codec's shape checks), and the match rules: dot paths,
 * arrays (any element), 'ne' as 'not eq', numbers by value, strings by
 * bytes, missing fields and payloads.
 */
#include <string.h>

#include "check.h"
#include "filter/filter.h"

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

CHECK_MAIN(CHECK_CASE(test_filter_check_refuses_what_no_codec_caught),
           CHECK_CASE(test_filter_match_rules))
