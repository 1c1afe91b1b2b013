/*
 * test_service_fusion.c — hybrid search's fusion (src/service/fusion.c)
 * against tables computed by hand: RRF with equal and unequal weights,
 * the linear blend of min-max normalised scores at two alphas, ties, k,
 * empty and one-sided lists.
 *
 * The lists of every case (vector: distances, nearest first; text: BM25
 * scores, best first):
 *   vector  a 0.1, b 0.2, c 0.4, d 0.8
 *   text    c 5.0, e 4.0, a 2.0
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "service/fusion.h"

static const char *const VEC_IDS[] = {"a", "b", "c", "d"};
static const size_t VEC_LENS[] = {1, 1, 1, 1};
static const float VEC_SCORES[] = {0.1f, 0.2f, 0.4f, 0.8f};
static const char *const TEXT_IDS[] = {"c", "e", "a"};
static const size_t TEXT_LENS[] = {1, 1, 1};
static const float TEXT_SCORES[] = {5.0f, 4.0f, 2.0f};

static const fusion_list_t VEC = {VEC_IDS, VEC_LENS, VEC_SCORES, 4, true};
static const fusion_list_t TEXT = {TEXT_IDS, TEXT_LENS, TEXT_SCORES, 3, false};

/* The id of a fused hit. */
static const char *id_of(const fusion_hit_t *h) {
  return h->vector_rank ? VEC_IDS[h->vector_at] : TEXT_IDS[h->text_at];
}

/* Runs the fusion and checks the order, the scores (1e-6) and the ranks. */
static void expect(const fusion_spec_t *f, size_t k, const char *order, const double *scores) {
  fusion_hit_t out[7];
  size_t n = 99;
  ASSERT_OK(fusion_run(f, &VEC, &TEXT, k, out, &n));
  ASSERT_EQ_INT(n, strlen(order));
  for (size_t i = 0; i < n; i++) {
    if (id_of(&out[i])[0] != order[i])
      CHECK_FAIL("hit %zu: id %s, expected %c (order %s)", i, id_of(&out[i]), order[i], order);
    if (fabs(out[i].score - scores[i]) > 1e-6)
      CHECK_FAIL("hit %zu (%c): score %.9f, expected %.9f", i, order[i], out[i].score, scores[i]);
  }
}

static void test_rrf_equal_weights_matches_the_hand_table(void) {
  fusion_spec_t f;
  fusion_spec_default(&f); /* k 60, weights 1, 1 */
  /* a: 1/61 + 1/63; c: 1/63 + 1/61 (tie with a: best ranks 1 and 1, then id);
   * b: 1/62; e: 1/62 (tie with b: ranks 2 and 2, then id); d: 1/64 */
  const double s[] = {1.0 / 61 + 1.0 / 63, 1.0 / 61 + 1.0 / 63, 1.0 / 62, 1.0 / 62, 1.0 / 64};
  expect(&f, 10, "acbed", s);
}

static void test_rrf_weights_and_k_change_the_order(void) {
  fusion_spec_t f;
  fusion_spec_default(&f);
  f.rrf_k = 10;
  f.weight_vector = 2;
  /* a 2/11 + 1/13 = .258741; c 2/13 + 1/11 = .244755; b 2/12; d 2/14; e 1/12 */
  const double s[] = {2.0 / 11 + 1.0 / 13, 2.0 / 13 + 1.0 / 11, 2.0 / 12, 2.0 / 14, 1.0 / 12};
  expect(&f, 10, "acbde", s);
}

static void test_linear_blend_of_normalised_scores(void) {
  fusion_spec_t f;
  fusion_spec_default(&f);
  f.method = FUSION_LINEAR;
  /* vector normalised (0.8 − d) / 0.7: a 1, b 6/7, c 4/7, d 0;
   * text (s − 2) / 3: c 1, e 2/3, a 0. alpha .5: */
  const double half[] = {0.5 * 4 / 7 + 0.5, 0.5, 0.5 * 6 / 7, 0.5 * 2 / 3, 0};
  expect(&f, 10, "cabed", half);
  f.alpha = 0.8;
  const double more_vector[] = {0.8, 0.8 * 6 / 7, 0.8 * 4 / 7 + 0.2, 0.2 * 2 / 3, 0};
  expect(&f, 10, "abced", more_vector);
}

static void test_k_keeps_the_best(void) {
  fusion_spec_t f;
  fusion_spec_default(&f);
  const double s[] = {1.0 / 61 + 1.0 / 63, 1.0 / 61 + 1.0 / 63};
  expect(&f, 2, "ac", s);
}

static void test_ranks_and_positions_are_reported_per_side(void) {
  fusion_spec_t f;
  fusion_spec_default(&f);
  fusion_hit_t out[7];
  size_t n;
  ASSERT_OK(fusion_run(&f, &VEC, &TEXT, 10, out, &n));
  /* order a c b e d */
  ASSERT_EQ_INT(out[0].vector_rank, 1); ASSERT_EQ_INT(out[0].text_rank, 3);
  ASSERT_EQ_INT(out[1].vector_rank, 3); ASSERT_EQ_INT(out[1].text_rank, 1);
  ASSERT_EQ_INT(out[2].vector_rank, 2); ASSERT_EQ_INT(out[2].text_rank, 0);
  ASSERT_EQ_U64(out[2].text_at, SIZE_MAX);
  ASSERT_EQ_INT(out[3].vector_rank, 0); ASSERT_EQ_INT(out[3].text_rank, 2);
  ASSERT_EQ_U64(out[3].vector_at, SIZE_MAX);
  ASSERT_EQ_U64(out[3].text_at, 1);
}

static void test_one_side_empty_keeps_the_other_order(void) {
  fusion_spec_t f;
  fusion_spec_default(&f);
  fusion_list_t none = {NULL, NULL, NULL, 0, false};
  fusion_hit_t out[7];
  size_t n;
  ASSERT_OK(fusion_run(&f, &none, &TEXT, 10, out, &n));
  ASSERT_EQ_INT(n, 3);
  ASSERT_TRUE(strcmp(id_of(&out[0]), "c") == 0 && strcmp(id_of(&out[2]), "a") == 0);
  ASSERT_OK(fusion_run(&f, &none, &none, 10, out, &n));
  ASSERT_EQ_INT(n, 0);
}

static void test_equal_scores_normalise_to_one(void) {
  const float same[] = {3, 3};
  const char *const ids[] = {"x", "y"};
  const size_t lens[] = {1, 1};
  fusion_list_t l = {ids, lens, same, 2, false};
  ASSERT_TRUE(fusion_normalised(&l, 0) == 1 && fusion_normalised(&l, 1) == 1);
  ASSERT_TRUE(fusion_normalised(&VEC, 3) == 0 && fusion_normalised(&VEC, 0) == 1);
}

static void test_ids_join_by_bytes_not_prefix(void) {
  /* "ab" and "a" are different points; "a\0b"-style lengths count */
  const char *const v_ids[] = {"ab", "a"};
  const size_t v_lens[] = {2, 1};
  const float v_s[] = {0.1f, 0.2f};
  const char *const t_ids[] = {"a"};
  const size_t t_lens[] = {1};
  const float t_s[] = {1};
  fusion_list_t v = {v_ids, v_lens, v_s, 2, true}, t = {t_ids, t_lens, t_s, 1, false};
  fusion_spec_t f;
  fusion_spec_default(&f);
  fusion_hit_t out[3];
  size_t n;
  ASSERT_OK(fusion_run(&f, &v, &t, 10, out, &n));
  ASSERT_EQ_INT(n, 2);
  ASSERT_EQ_INT(out[0].vector_rank, 2); /* "a": 1/62 + 1/61 beats "ab": 1/61 */
  ASSERT_EQ_INT(out[0].text_rank, 1);
  ASSERT_EQ_INT(out[1].vector_rank, 1);
  ASSERT_EQ_INT(out[1].text_rank, 0);
}

CHECK_MAIN(CHECK_CASE(test_rrf_equal_weights_matches_the_hand_table),
           CHECK_CASE(test_rrf_weights_and_k_change_the_order),
           CHECK_CASE(test_linear_blend_of_normalised_scores), CHECK_CASE(test_k_keeps_the_best),
           CHECK_CASE(test_ranks_and_positions_are_reported_per_side),
           CHECK_CASE(test_one_side_empty_keeps_the_other_order),
           CHECK_CASE(test_equal_scores_normalise_to_one),
           CHECK_CASE(test_ids_join_by_bytes_not_prefix))
