/*
 * test_proto.c — the C side of the gRPC contract (proto/akidb/v1/, compiled
 * by protoc-c into the build tree as the library akidb_proto): an
 * UpsertRequest of 3 points of 768 floats and SearchRequests (one query
 * with a filter tree; a batch) pack and unpack with every value intact,
 * vectors travel packed (4 bytes a float), presence oneofs (`*_opt`) tell
 * "absent" from "false", and a truncated message is refused. Single
 * threaded; nothing is written to disk.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/v1/common.pb-c.h"
#include "akidb/v1/points.pb-c.h"
#include "check.h"

#define DIM 768
#define N_POINTS 3

/* A deterministic, non-trivial float for (point, index): signs, small and
 * large magnitudes, values that are not exact in decimal. */
static float value_at(size_t p, size_t i) {
  float x = (float)((p + 1) * 7919 + i * 104729 % 1000003) / 1000003.0f;
  if ((i + p) % 3 == 0) x = -x;
  if (i % 97 == 0) x *= 1e6f;
  if (i % 89 == 0) x *= 1e-6f;
  return x;
}

static void fill(float *v, size_t p) {
  for (size_t i = 0; i < DIM; i++) v[i] = value_at(p, i);
}

/* Bitwise equality: a float that round-trips is the same float. */
static void assert_vector_is(const float *got, size_t n, size_t p) {
  ASSERT_EQ_INT(n, DIM);
  for (size_t i = 0; i < DIM; i++) {
    float want = value_at(p, i);
    if (memcmp(&got[i], &want, sizeof want) != 0)
      CHECK_FAIL("point %zu value %zu: %.9g != %.9g", p, i, (double)got[i], (double)want);
  }
}

static void test_proto_upsert_request_of_768_float_points_round_trips(void) {
  static float vectors[N_POINTS][DIM];
  Akidb__V1__PointInput points[N_POINTS];
  Akidb__V1__PointInput *ptrs[N_POINTS];
  static const char *const ids[N_POINTS] = {"doc-1", "a/b with spaces", ""};
  static const char *const payloads[N_POINTS] = {
      "{\"lang\":\"en\",\"year\":2024,\"big\":9007199254740993}", "", "{\"nested\":{\"x\":[1,2]}}"};
  for (size_t p = 0; p < N_POINTS; p++) {
    fill(vectors[p], p);
    akidb__v1__point_input__init(&points[p]);
    points[p].id = (char *)ids[p];
    points[p].n_vector = DIM;
    points[p].vector = vectors[p];
    points[p].payload_json = (char *)payloads[p];
    ptrs[p] = &points[p];
  }
  points[0].text_opt_case = AKIDB__V1__POINT_INPUT__TEXT_OPT_TEXT;
  points[0].text = "the first point's text";
  points[2].text_opt_case = AKIDB__V1__POINT_INPUT__TEXT_OPT_TEXT;
  points[2].text = ""; /* an empty text is a text, not an absent one */

  Akidb__V1__UpsertRequest req;
  akidb__v1__upsert_request__init(&req);
  req.tenant = "acme";
  req.database = "main";
  req.collection = "docs";
  req.n_points = N_POINTS;
  req.points = ptrs;

  size_t size = akidb__v1__upsert_request__get_packed_size(&req);
  /* Packed floats: 4 bytes each plus a few bytes of framing per point
   * (unpacked, each float would cost a tag byte more: 5 bytes). */
  ASSERT_GE(size, (double)(N_POINTS * DIM * 4));
  ASSERT_LE(size, (double)(N_POINTS * (DIM * 4 + 128)));
  uint8_t *buf = malloc(size);
  ASSERT_TRUE(buf != NULL);
  ASSERT_EQ_U64(akidb__v1__upsert_request__pack(&req, buf), size);

  Akidb__V1__UpsertRequest *got = akidb__v1__upsert_request__unpack(NULL, size, buf);
  ASSERT_TRUE(got != NULL);
  ASSERT_STR_EQ(got->tenant, "acme");
  ASSERT_STR_EQ(got->database, "main");
  ASSERT_STR_EQ(got->collection, "docs");
  ASSERT_EQ_INT(got->n_points, N_POINTS);
  for (size_t p = 0; p < N_POINTS; p++) {
    ASSERT_STR_EQ(got->points[p]->id, ids[p]);
    ASSERT_STR_EQ(got->points[p]->payload_json, payloads[p]);
    assert_vector_is(got->points[p]->vector, got->points[p]->n_vector, p);
  }
  ASSERT_EQ_INT(got->points[0]->text_opt_case, AKIDB__V1__POINT_INPUT__TEXT_OPT_TEXT);
  ASSERT_STR_EQ(got->points[0]->text, "the first point's text");
  ASSERT_EQ_INT(got->points[1]->text_opt_case, AKIDB__V1__POINT_INPUT__TEXT_OPT__NOT_SET);
  ASSERT_EQ_INT(got->points[2]->text_opt_case, AKIDB__V1__POINT_INPUT__TEXT_OPT_TEXT);
  ASSERT_STR_EQ(got->points[2]->text, "");
  akidb__v1__upsert_request__free_unpacked(got, NULL);

  /* A message cut short is refused, not half-read. */
  ASSERT_TRUE(akidb__v1__upsert_request__unpack(NULL, size - 100, buf) == NULL);
  free(buf);
}

/* Packs `req`, unpacks it and returns the copy (free with free_unpacked). */
static Akidb__V1__SearchRequest *search_round_trip(const Akidb__V1__SearchRequest *req) {
  size_t size = akidb__v1__search_request__get_packed_size(req);
  uint8_t *buf = malloc(size ? size : 1);
  ASSERT_TRUE(buf != NULL);
  ASSERT_EQ_U64(akidb__v1__search_request__pack(req, buf), size);
  Akidb__V1__SearchRequest *got = akidb__v1__search_request__unpack(NULL, size, buf);
  free(buf);
  ASSERT_TRUE(got != NULL);
  return got;
}

static void test_proto_search_request_with_filter_round_trips(void) {
  static float query[DIM];
  fill(query, 7);

  /* {"and": [{"field": "lang", "eq": "en"}, {"field": "year", "gte": 2020},
   *          {"field": "tag", "in": ["a", 3, true]}, {"not": {"field": "x", "eq": null}}]} */
  Akidb__V1__FilterValue en, y2020, in_a, in_3, in_true, null_v;
  akidb__v1__filter_value__init(&en);
  en.kind_case = AKIDB__V1__FILTER_VALUE__KIND_STRING_VALUE;
  en.string_value = "en";
  akidb__v1__filter_value__init(&y2020);
  y2020.kind_case = AKIDB__V1__FILTER_VALUE__KIND_NUMBER_VALUE;
  y2020.number_value = 2020;
  akidb__v1__filter_value__init(&in_a);
  in_a.kind_case = AKIDB__V1__FILTER_VALUE__KIND_STRING_VALUE;
  in_a.string_value = "a";
  akidb__v1__filter_value__init(&in_3);
  in_3.kind_case = AKIDB__V1__FILTER_VALUE__KIND_NUMBER_VALUE;
  in_3.number_value = 3;
  akidb__v1__filter_value__init(&in_true);
  in_true.kind_case = AKIDB__V1__FILTER_VALUE__KIND_BOOL_VALUE;
  in_true.bool_value = 1;
  akidb__v1__filter_value__init(&null_v);
  null_v.kind_case = AKIDB__V1__FILTER_VALUE__KIND_NULL_VALUE;
  null_v.null_value = AKIDB__V1__NULL_VALUE__NULL_VALUE;

  Akidb__V1__FilterValue *in_items[] = {&in_a, &in_3, &in_true};
  Akidb__V1__FilterValueList in_list;
  akidb__v1__filter_value_list__init(&in_list);
  in_list.n_values = 3;
  in_list.values = in_items;

  Akidb__V1__FilterCondition c_lang, c_year, c_tag, c_x;
  akidb__v1__filter_condition__init(&c_lang);
  c_lang.field = "lang";
  c_lang.op_case = AKIDB__V1__FILTER_CONDITION__OP_EQ;
  c_lang.eq = &en;
  akidb__v1__filter_condition__init(&c_year);
  c_year.field = "year";
  c_year.op_case = AKIDB__V1__FILTER_CONDITION__OP_GTE;
  c_year.gte = &y2020;
  akidb__v1__filter_condition__init(&c_tag);
  c_tag.field = "tag";
  c_tag.op_case = AKIDB__V1__FILTER_CONDITION__OP_IN_VALUES;
  c_tag.in_values = &in_list;
  akidb__v1__filter_condition__init(&c_x);
  c_x.field = "meta.x";
  c_x.op_case = AKIDB__V1__FILTER_CONDITION__OP_EQ;
  c_x.eq = &null_v;

  Akidb__V1__Filter f_lang, f_year, f_tag, f_x, f_not, root;
  Akidb__V1__Filter *leaves[] = {&f_lang, &f_year, &f_tag, &f_x};
  Akidb__V1__FilterCondition *conds[] = {&c_lang, &c_year, &c_tag, &c_x};
  for (size_t i = 0; i < 4; i++) {
    akidb__v1__filter__init(leaves[i]);
    leaves[i]->node_case = AKIDB__V1__FILTER__NODE_CONDITION;
    leaves[i]->condition = conds[i];
  }
  akidb__v1__filter__init(&f_not);
  f_not.node_case = AKIDB__V1__FILTER__NODE_NOT_FILTER;
  f_not.not_filter = &f_x;
  Akidb__V1__Filter *kids[] = {&f_lang, &f_year, &f_tag, &f_not};
  Akidb__V1__FilterList and_list;
  akidb__v1__filter_list__init(&and_list);
  and_list.n_filters = 4;
  and_list.filters = kids;
  akidb__v1__filter__init(&root);
  root.node_case = AKIDB__V1__FILTER__NODE_AND_FILTERS;
  root.and_filters = &and_list;

  Akidb__V1__SearchRequest req;
  akidb__v1__search_request__init(&req);
  req.tenant = "acme";
  req.database = "main";
  req.collection = "docs";
  req.n_vector = DIM;
  req.vector = query;
  req.k = 25;
  req.ef = 400;
  req.filter = &root;
  req.include_payload_opt_case = AKIDB__V1__SEARCH_REQUEST__INCLUDE_PAYLOAD_OPT_INCLUDE_PAYLOAD;
  req.include_payload = 0; /* sent, and false: not the default (true) */
  req.include_vector = 1;
  req.exact = 1;

  Akidb__V1__SearchRequest *got = search_round_trip(&req);
  ASSERT_STR_EQ(got->tenant, "acme");
  ASSERT_STR_EQ(got->collection, "docs");
  assert_vector_is(got->vector, got->n_vector, 7);
  ASSERT_EQ_INT(got->n_vectors, 0);
  ASSERT_EQ_INT(got->k, 25);
  ASSERT_EQ_INT(got->ef, 400);
  ASSERT_EQ_INT(got->include_payload_opt_case,
                AKIDB__V1__SEARCH_REQUEST__INCLUDE_PAYLOAD_OPT_INCLUDE_PAYLOAD);
  ASSERT_EQ_INT(got->include_payload, 0);
  ASSERT_EQ_INT(got->include_vector, 1);
  ASSERT_EQ_INT(got->exact, 1);

  const Akidb__V1__Filter *f = got->filter;
  ASSERT_TRUE(f != NULL);
  ASSERT_EQ_INT(f->node_case, AKIDB__V1__FILTER__NODE_AND_FILTERS);
  ASSERT_EQ_INT(f->and_filters->n_filters, 4);
  const Akidb__V1__Filter *const *k = (const Akidb__V1__Filter *const *)f->and_filters->filters;
  ASSERT_EQ_INT(k[0]->node_case, AKIDB__V1__FILTER__NODE_CONDITION);
  ASSERT_STR_EQ(k[0]->condition->field, "lang");
  ASSERT_EQ_INT(k[0]->condition->op_case, AKIDB__V1__FILTER_CONDITION__OP_EQ);
  ASSERT_EQ_INT(k[0]->condition->eq->kind_case, AKIDB__V1__FILTER_VALUE__KIND_STRING_VALUE);
  ASSERT_STR_EQ(k[0]->condition->eq->string_value, "en");
  ASSERT_STR_EQ(k[1]->condition->field, "year");
  ASSERT_EQ_INT(k[1]->condition->op_case, AKIDB__V1__FILTER_CONDITION__OP_GTE);
  ASSERT_EQ_INT(k[1]->condition->gte->kind_case, AKIDB__V1__FILTER_VALUE__KIND_NUMBER_VALUE);
  ASSERT_NEAR(k[1]->condition->gte->number_value, 2020.0, 0.0);
  ASSERT_EQ_INT(k[2]->condition->op_case, AKIDB__V1__FILTER_CONDITION__OP_IN_VALUES);
  const Akidb__V1__FilterValueList *in = k[2]->condition->in_values;
  ASSERT_EQ_INT(in->n_values, 3);
  ASSERT_STR_EQ(in->values[0]->string_value, "a");
  ASSERT_NEAR(in->values[1]->number_value, 3.0, 0.0);
  ASSERT_EQ_INT(in->values[2]->kind_case, AKIDB__V1__FILTER_VALUE__KIND_BOOL_VALUE);
  ASSERT_EQ_INT(in->values[2]->bool_value, 1);
  ASSERT_EQ_INT(k[3]->node_case, AKIDB__V1__FILTER__NODE_NOT_FILTER);
  const Akidb__V1__FilterCondition *x = k[3]->not_filter->condition;
  ASSERT_STR_EQ(x->field, "meta.x");
  ASSERT_EQ_INT(x->eq->kind_case, AKIDB__V1__FILTER_VALUE__KIND_NULL_VALUE);
  akidb__v1__search_request__free_unpacked(got, NULL);
}

static void test_proto_batch_search_request_round_trips_and_absent_means_default(void) {
  static float q[2][DIM];
  Akidb__V1__Vector v[2];
  Akidb__V1__Vector *vp[2];
  for (size_t i = 0; i < 2; i++) {
    fill(q[i], 10 + i);
    akidb__v1__vector__init(&v[i]);
    v[i].n_values = DIM;
    v[i].values = q[i];
    vp[i] = &v[i];
  }
  Akidb__V1__SearchRequest req;
  akidb__v1__search_request__init(&req);
  req.tenant = "acme";
  req.database = "main";
  req.collection = "docs";
  req.n_vectors = 2;
  req.vectors = vp;

  Akidb__V1__SearchRequest *got = search_round_trip(&req);
  ASSERT_EQ_INT(got->n_vector, 0);
  ASSERT_EQ_INT(got->n_vectors, 2);
  for (size_t i = 0; i < 2; i++) assert_vector_is(got->vectors[i]->values, got->vectors[i]->n_values, 10 + i);
  /* Nothing sent: k and ef 0 (the service's defaults), no filter, and
   * include_payload absent (so true), not false. */
  ASSERT_EQ_INT(got->k, 0);
  ASSERT_EQ_INT(got->ef, 0);
  ASSERT_TRUE(got->filter == NULL);
  ASSERT_EQ_INT(got->include_payload_opt_case,
                AKIDB__V1__SEARCH_REQUEST__INCLUDE_PAYLOAD_OPT__NOT_SET);
  ASSERT_EQ_INT(got->include_vector, 0);
  ASSERT_EQ_INT(got->exact, 0);
  akidb__v1__search_request__free_unpacked(got, NULL);
}

CHECK_MAIN(CHECK_CASE(test_proto_upsert_request_of_768_float_points_round_trips),
           CHECK_CASE(test_proto_search_request_with_filter_round_trips),
           CHECK_CASE(test_proto_batch_search_request_round_trips_and_absent_means_default))
