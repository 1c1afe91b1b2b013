/*
 * test_text_embed.c — the built-in embedder (src/text/embed.c): golden
 * vectors checked bit for bit (the same test runs under qemu-aarch64 and
 * must pass there unchanged), unit length, determinism, refusals (empty,
 * stop words only, invalid UTF-8, bad dimension) that leave the output
 * untouched, very long and non-Latin texts, and the platform-independent ln.
 *
 * AKIDB_TEXT_GOLDEN_PRINT=1 prints the golden table instead of checking it
 * (only when the embedder changes on purpose, with a new model name).
 */
#include <stdbool.h>

#include "akidb/text.h"
#include "check.h"
#include "text/embed.h"

/* FNV-1a over the bit patterns of v[0..n), in order. */
static uint64_t bits_checksum(const float *v, size_t n) {
  uint64_t h = TEXT_FNV_BASIS;
  for (size_t i = 0; i < n; i++) {
    uint32_t b;
    memcpy(&b, &v[i], 4);
    h = text_fnv1a(h, &b, 4);
  }
  return h;
}

static uint32_t bits(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  return b;
}

typedef struct {
  const char *text;
  uint32_t dim;
  uint16_t nz_index[8]; /* positions of the first 8 non-zero floats */
  uint32_t nz_bits[8];  /* their bit patterns */
  uint64_t checksum;  /* bits_checksum of out[0..dim) */
} golden_t;

static const golden_t golden[] = {
#include "test_text_embed_golden.inc"
};

static void test_embeddings_match_golden_bits(void) {
  bool print = getenv("AKIDB_TEXT_GOLDEN_PRINT") != NULL;
  static float v[AKIDB_TEXT_EMBED_DIM_MAX];
  for (size_t g = 0; g < sizeof golden / sizeof golden[0]; g++) {
    const golden_t *e = &golden[g];
    ASSERT_OK(akidb_text_embed(e->text, strlen(e->text), e->dim, v, NULL, NULL, 0));
    uint64_t sum = bits_checksum(v, e->dim);
    uint16_t nzi[8] = {0};
    uint32_t nzb[8] = {0};
    for (uint32_t i = 0, n = 0; i < e->dim && n < 8; i++)
      if (v[i] != 0.0f) {
        nzi[n] = (uint16_t)i;
        nzb[n++] = bits(v[i]);
      }
    if (print) {
      printf("    {\"");
      for (const char *p = e->text; *p; p++)
        printf((unsigned char)*p >= 0x80 || *p == '"' ? "\\x%02x\" \"" : "%c",
               (unsigned char)*p);
      printf("\", %u,\n     {", e->dim);
      for (int i = 0; i < 8; i++) printf("%u%s", nzi[i], i < 7 ? ", " : "");
      printf("},\n     {");
      for (int i = 0; i < 8; i++) printf("0x%08" PRIx32 "%s", nzb[i], i < 7 ? ", " : "");
      printf("},\n     0x%016" PRIx64 "ull},\n", sum);
      continue;
    }
    for (int i = 0; i < 8; i++)
      if (nzi[i] != e->nz_index[i] || nzb[i] != e->nz_bits[i])
        CHECK_FAIL("golden %zu (dim %u) non-zero #%d: out[%u] bits 0x%08" PRIx32
                   ", expected out[%u] bits 0x%08" PRIx32,
                   g, e->dim, i, nzi[i], nzb[i], e->nz_index[i], e->nz_bits[i]);
    if (sum != e->checksum)
      CHECK_FAIL("golden %zu (dim %u): checksum 0x%016" PRIx64 ", expected 0x%016" PRIx64, g,
                 e->dim, sum, e->checksum);
  }
}

static void test_embedding_has_unit_length_and_is_deterministic(void) {
  static const char t[] = "Boundary layer transition on a flat plate at supersonic speeds.";
  float a[1024], b[1024];
  ASSERT_OK(akidb_text_embed(t, sizeof t - 1, 1024, a, NULL, NULL, 0));
  ASSERT_OK(akidb_text_embed(t, sizeof t - 1, 1024, b, NULL, NULL, 0));
  ASSERT_TRUE(memcmp(a, b, sizeof a) == 0);
  double n2 = 0;
  for (int i = 0; i < 1024; i++) n2 += (double)a[i] * a[i];
  ASSERT_NEAR(n2, 1.0, 1e-6);
}

static double cosine(const float *a, const float *b, uint32_t dim) {
  double s = 0;
  for (uint32_t i = 0; i < dim; i++) s += (double)a[i] * b[i];
  return s;
}

static void test_related_texts_are_nearer_than_unrelated(void) {
  float q[1024], near[1024], far[1024];
  static const char tq[] = "heat transfer in laminar boundary layers";
  static const char tn[] = "The laminar boundary layer and its heat-transfer rate";
  static const char tf[] = "elastic buckling of thin cylindrical shells under torsion";
  ASSERT_OK(akidb_text_embed(tq, sizeof tq - 1, 1024, q, NULL, NULL, 0));
  ASSERT_OK(akidb_text_embed(tn, sizeof tn - 1, 1024, near, NULL, NULL, 0));
  ASSERT_OK(akidb_text_embed(tf, sizeof tf - 1, 1024, far, NULL, NULL, 0));
  ASSERT_GE(cosine(q, near, 1024), 0.4);
  ASSERT_LE(cosine(q, far, 1024), 0.15);
  /* morphology: stems and character n-grams tie word forms together */
  float a[1024], b[1024];
  ASSERT_OK(akidb_text_embed("oscillating", 11, 1024, a, NULL, NULL, 0));
  ASSERT_OK(akidb_text_embed("oscillations", 12, 1024, b, NULL, NULL, 0));
  ASSERT_GE(cosine(a, b, 1024), 0.5);
}

/* Expects a refusal with code rc that leaves out untouched. */
static void expect_refused(const char *t, size_t len, uint32_t dim, int rc, const char *msg) {
  float out[64];
  for (int i = 0; i < 64; i++) out[i] = 7.0f;
  char err[160] = "";
  ASSERT_EQ_INT(akidb_text_embed(t, len, dim, out, NULL, err, sizeof err), rc);
  ASSERT_STR_CONTAINS(err, msg);
  for (int i = 0; i < 64; i++) ASSERT_TRUE(out[i] == 7.0f);
}

static void test_text_without_tokens_is_refused(void) {
  expect_refused("", 0, 32, AKIDB_EVALUE, "has no tokens");
  expect_refused(NULL, 0, 32, AKIDB_EVALUE, "has no tokens");
  expect_refused(" \t\n...!!! 🚀 ", strlen(" \t\n...!!! 🚀 "), 32, AKIDB_EVALUE, "has no tokens");
  expect_refused("The and of THE", 14, 32, AKIDB_EVALUE, "has no tokens");
}

static void test_invalid_utf8_is_refused_with_its_offset(void) {
  expect_refused("flow \xC0\xAF past", 12, 32, AKIDB_EINVAL, "not valid UTF-8 at byte 5");
  size_t bad = 0;
  float out[32];
  ASSERT_EQ_INT(akidb_text_embed("ab\xED\xA0\x80", 5, 32, out, &bad, NULL, 0), AKIDB_EINVAL);
  ASSERT_EQ_U64(bad, 2);
}

static void test_dimension_outside_range_is_refused(void) {
  expect_refused("wing", 4, 31, AKIDB_EINVAL, "32..4096");
  float *big = malloc(5000 * sizeof *big);
  ASSERT_EQ_INT(akidb_text_embed("wing", 4, 4097, big, NULL, NULL, 0), AKIDB_EINVAL);
  ASSERT_OK(akidb_text_embed("wing", 4, 4096, big, NULL, NULL, 0));
  ASSERT_OK(akidb_text_embed("wing", 4, 32, big, NULL, NULL, 0));
  free(big);
  ASSERT_EQ_INT(akidb_text_embed("wing", 4, 64, NULL, NULL, NULL, 0), AKIDB_EINVAL);
}

static void test_non_latin_texts_embed(void) {
  float v[256];
  static const char *const texts[] = {"東京大学", "ひらがな", "Аэродинамика крыла",
                                      "ΑΕΡΟΔΥΝΑΜΙΚΗ", "كَتَبَ", "हिन्दी भाषा", "한국어"};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
    ASSERT_OK(akidb_text_embed(texts[i], strlen(texts[i]), 256, v, NULL, NULL, 0));
}

static void test_multi_megabyte_text_embeds(void) {
#ifdef AKIDB_TEST_SMALL
  size_t target = 1u << 20;
#else
  size_t target = 6u << 20;
#endif
  static const char unit[] = "Shock waves and boundary layers interact at Mach 3; ";
  size_t ul = sizeof unit - 1, reps = target / ul;
  char *s = malloc(ul * reps + 16);
  ASSERT_TRUE(s != NULL);
  for (size_t i = 0; i < reps; i++) memcpy(s + i * ul, unit, ul);
  /* distinct numbers so the feature table grows */
  for (size_t i = 0; i < reps; i += 97) memcpy(s + i * ul + ul - 9, "x1234567", 8);
  float v[1024];
  ASSERT_OK(akidb_text_embed(s, ul * reps, 1024, v, NULL, NULL, 0));
  double n2 = 0;
  for (int i = 0; i < 1024; i++) n2 += (double)v[i] * v[i];
  ASSERT_NEAR(n2, 1.0, 1e-6);
  free(s);
}

static void test_ln_matches_libm_within_an_ulp(void) {
  ASSERT_TRUE(text_ln_uint(1) == 0.0);
  for (uint32_t n = 2; n < 5000; n++) ASSERT_NEAR(text_ln_uint(n), log((double)n), 4e-16 * log((double)n));
  ASSERT_NEAR(text_ln_uint(UINT32_MAX), log(4294967295.0), 1e-14);
}

CHECK_MAIN(CHECK_CASE(test_embeddings_match_golden_bits),
           CHECK_CASE(test_embedding_has_unit_length_and_is_deterministic),
           CHECK_CASE(test_related_texts_are_nearer_than_unrelated),
           CHECK_CASE(test_text_without_tokens_is_refused),
           CHECK_CASE(test_invalid_utf8_is_refused_with_its_offset),
           CHECK_CASE(test_dimension_outside_range_is_refused),
           CHECK_CASE(test_non_latin_texts_embed),
           CHECK_CASE(test_multi_megabyte_text_embeds),
           CHECK_CASE(test_ln_matches_libm_within_an_ulp))
