/*
 * test_text_tokenize.c — the tokeniser (src/text/tokenize.c, unicode.c,
 * utf8.c): strict UTF-8 refusal with the offset of the bad byte, token
 * boundaries for every class of character (letters of several scripts,
 * digits, CJK and kana, combining marks, emoji, every kind of whitespace,
 * control characters), folding and diacritic stripping, the token length
 * cap, terms (stop words, stems), and very long texts.
 */
#include <stdbool.h>

#include "akidb/text.h"
#include "check.h"
#include "text/text.h"

/* ------------------------------------------------------------ helpers -- */

/* Collects tokens joined by '|' into a buffer. */
typedef struct {
  char out[4096];
  size_t len;
  size_t count;
} joined_t;

static int join_token(void *ctx, const char *tok, size_t len) {
  joined_t *j = ctx;
  if (j->count++) j->out[j->len++] = '|';
  memcpy(j->out + j->len, tok, len);
  j->len += len;
  j->out[j->len] = '\0';
  return 0;
}

/* The tokens of s (mode), joined by '|'; fails the test on an error. */
static const char *tokens_of(const char *s, size_t len, akidb_text_mode_t mode) {
  static joined_t j;
  memset(&j, 0, sizeof j);
  size_t bad = 0;
  int rc = akidb_text_tokenize(s, len, mode, join_token, &j, &bad);
  if (rc) CHECK_FAIL("tokenize returned %d (bad offset %zu)", rc, bad);
  return j.out;
}

#define TOKENS(lit) tokens_of(lit, sizeof(lit) - 1, AKIDB_TEXT_TOKENS)
#define TERMS(lit) tokens_of(lit, sizeof(lit) - 1, AKIDB_TEXT_TERMS)

/* The error and offset of the refusal of s[0..len). */
static void expect_invalid_at(const char *s, size_t len, size_t offset) {
  size_t bad = 12345;
  joined_t j = {0};
  ASSERT_EQ_INT(akidb_text_validate_utf8(s, len, &bad), AKIDB_EINVAL);
  ASSERT_EQ_U64(bad, offset);
  bad = 12345;
  ASSERT_EQ_INT(akidb_text_tokenize(s, len, AKIDB_TEXT_TERMS, join_token, &j, &bad),
                AKIDB_EINVAL);
  ASSERT_EQ_U64(bad, offset);
  ASSERT_EQ_INT(j.count, 0); /* nothing handed out before the refusal */
}

/* --------------------------------------------------------------- UTF-8 -- */

static void test_utf8_overlong_forms_are_refused_at_their_first_byte(void) {
  expect_invalid_at("ab\xC0\xAF", 4, 2);         /* '/' in two bytes */
  expect_invalid_at("ab\xC1\xBF", 4, 2);
  expect_invalid_at("x\xE0\x80\xAF", 4, 1);      /* three bytes */
  expect_invalid_at("xyz\xE0\x9F\xBF", 6, 3);    /* U+07FF in three */
  expect_invalid_at("\xF0\x80\x80\xAF", 4, 0);   /* four bytes */
  expect_invalid_at("ok \xF0\x8F\xBF\xBF", 7, 3); /* U+FFFF in four */
}

static void test_utf8_surrogates_are_refused(void) {
  expect_invalid_at("a\xED\xA0\x80", 4, 1); /* U+D800 */
  expect_invalid_at("a\xED\xBF\xBF", 4, 1); /* U+DFFF */
  size_t bad;
  ASSERT_OK(akidb_text_validate_utf8("\xED\x9F\xBF\xEE\x80\x80", 6, &bad)); /* D7FF, E000 */
}

static void test_utf8_beyond_u10ffff_is_refused(void) {
  expect_invalid_at("abcd\xF4\x90\x80\x80", 8, 4); /* U+110000 */
  expect_invalid_at("\xF5\x80\x80\x80", 4, 0);
  expect_invalid_at("aa\xFF", 3, 2);
  expect_invalid_at("aa\xFE", 3, 2);
  size_t bad;
  ASSERT_OK(akidb_text_validate_utf8("\xF4\x8F\xBF\xBF", 4, &bad)); /* U+10FFFF */
}

static void test_utf8_truncated_and_stray_bytes_are_refused(void) {
  expect_invalid_at("caf\xC3", 4, 3);               /* cut at the end */
  expect_invalid_at("\xE2\x82", 2, 0);
  expect_invalid_at("0123456789\xF0\x9F\x98", 13, 10);
  expect_invalid_at("a\xC3(b", 4, 1);               /* bad continuation */
  expect_invalid_at("abcdefgh\x80", 9, 8);          /* lone continuation */
  expect_invalid_at("abcdefghijklmnopq\xBF", 18, 17); /* after the 8-byte fast path */
}

static void test_utf8_nul_and_control_bytes_are_valid_separators(void) {
  static const char s[] = "one\0two\x01three\x7f" "four\x1b[0m";
  ASSERT_STR_EQ(tokens_of(s, sizeof s - 1, AKIDB_TEXT_TOKENS), "one|two|three|four|0m");
}

/* ------------------------------------------------------------- classes -- */

static void test_ascii_is_split_on_punctuation_and_lowercased(void) {
  ASSERT_STR_EQ(TOKENS("Hello, World! It's A-380 (MACH 2.5)"),
                "hello|world|it|s|a|380|mach|2|5");
  ASSERT_STR_EQ(TOKENS("snake_case and e-mail@example.com"),
                "snake|case|and|e|mail|example|com");
}

static void test_every_kind_of_whitespace_separates(void) {
  /* TAB LF VT FF CR, NEL, NBSP, OGHAM, EN QUAD..HAIR, LS, PS, NNBSP,
     MMSP, IDEOGRAPHIC SPACE, ZWSP, BOM */
  static const char s[] =
      "a\tb\nc\vd\fe\rf\xC2\x85g\xC2\xA0h\xE1\x9A\x80i\xE2\x80\x80j\xE2\x80\x8Ak"
      "\xE2\x80\xA8l\xE2\x80\xA9m\xE2\x80\xAFn\xE2\x81\x9Fo\xE3\x80\x80p\xE2\x80\x8Bq"
      "\xEF\xBB\xBFr";
  ASSERT_STR_EQ(TOKENS(s), "a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p|q|r");
}

static void test_latin_diacritics_are_stripped_and_folded(void) {
  ASSERT_STR_EQ(TOKENS("Crème Brûlée Ångström NAÏVE Ñandú"),
                "creme|brulee|angstrom|naive|nandu");
  ASSERT_STR_EQ(TOKENS("Straße ÆSIR œuvre Þing Łódź İstanbul ĳs"),
                "strasse|aesir|oeuvre|thing|lodz|istanbul|ijs");
  /* decomposed (NFD) accents give the same token as precomposed ones */
  ASSERT_STR_EQ(TOKENS("Cre\xCC\x80me e\xCC\x81te\xCC\x81"), "creme|ete");
  /* × and ÷ are symbols */
  ASSERT_STR_EQ(TOKENS("2×3÷4"), "2|3|4");
}

static void test_greek_and_cyrillic_are_lowercased(void) {
  ASSERT_STR_EQ(TOKENS("ΑΕΡΟΔΥΝΑΜΙΚΗ Άλφα ΟΔΟΣ"), "αεροδυναμικη|άλφα|οδοσ");
  ASSERT_STR_EQ(TOKENS("Аэродинамика ЁЛКА Ѳита Ґ"), "аэродинамика|ёлка|ѳита|ґ");
}

static void test_arabic_hebrew_devanagari_are_words_with_their_marks(void) {
  /* Arabic with harakat (marks stay), Arabic-Indic digits are digits */
  ASSERT_STR_EQ(TOKENS("كَتَبَ ١٢٣"), "كَتَبَ|١٢٣");
  /* Hebrew with points; maqaf (־) separates */
  ASSERT_STR_EQ(TOKENS("שָׁלוֹם בֵּית־סֵפֶר"), "שָׁלוֹם|בֵּית|סֵפֶר");
  /* Devanagari vowel signs and virama stay; the danda separates */
  ASSERT_STR_EQ(TOKENS("हिन्दी भाषा। ४२"), "हिन्दी|भाषा|४२");
}

static void test_cjk_ideographs_and_kana_are_one_token_each(void) {
  ASSERT_STR_EQ(TOKENS("東京大学"), "東|京|大|学");
  ASSERT_STR_EQ(TOKENS("ひらがなカタカナ"), "ひ|ら|が|な|カ|タ|カ|ナ");
  /* mixed with Latin: no space needed on either side */
  ASSERT_STR_EQ(TOKENS("AI技術2024年"), "ai|技|術|2024|年");
  /* a combining voicing mark stays with its kana; CJK punctuation separates */
  ASSERT_STR_EQ(TOKENS("か\xE3\x82\x99、。「テ」"), "か\xE3\x82\x99|テ");
  /* Hangul syllables are letters (Korean separates words by spaces) */
  ASSERT_STR_EQ(TOKENS("한국어 문장"), "한국어|문장");
  /* an ideograph of plane 2 */
  ASSERT_STR_EQ(TOKENS("a\xF0\xA0\x80\x80" "b"), "a|\xF0\xA0\x80\x80|b");
}

static void test_emoji_and_symbols_separate(void) {
  ASSERT_STR_EQ(TOKENS("fast🚀rocket ❤️ love 👩‍🔬science €5 ©2024 ∑x"),
                "fast|rocket|love|science|5|2024|x");
  /* a flag (regional indicators) and a tag sequence */
  ASSERT_STR_EQ(TOKENS("go🇯🇵now 🏴\xF3\xA0\x81\xA7\xF3\xA0\x81\xA2\xF3\xA0\x81\xBF end"),
                "go|now|end");
}

static void test_marks_without_a_base_are_dropped(void) {
  ASSERT_STR_EQ(TOKENS("\xCC\x81word \xE0\xA4\xBE x"), "word|x");
}

static void test_fullwidth_ascii_becomes_ascii(void) {
  ASSERT_STR_EQ(TOKENS("ＡＢＣ１２３ｘ"), "abc123x");
}

static void test_long_tokens_are_truncated_at_64_bytes(void) {
  char s[300];
  memset(s, 'a', 200);
  memcpy(s + 200, " bb", 3);
  const char *t = tokens_of(s, 203, AKIDB_TEXT_TOKENS);
  ASSERT_EQ_INT(strlen(t), 64 + 3);
  ASSERT_TRUE(t[63] == 'a' && t[64] == '|');
  /* a multi-byte letter that would straddle the cap is left out whole */
  char u[200];
  memset(u, 'x', 63);
  memcpy(u + 63, "\xC3\xA9\xC3\xA9 z", 6); /* é folds to e (1 byte): fits */
  ASSERT_EQ_INT(strlen(tokens_of(u, 69, AKIDB_TEXT_TOKENS)), 64 + 2);
  memset(u, 'x', 63);
  memcpy(u + 63, "\xD0\x96y z", 5); /* Ж (2 bytes) does not fit: cut there */
  t = tokens_of(u, 68, AKIDB_TEXT_TOKENS);
  ASSERT_EQ_INT(strlen(t), 63 + 2);
  /* ß expands to "ss": the expansion counts */
  memset(u, 'x', 63);
  memcpy(u + 63, "\xC3\x9F", 2);
  ASSERT_EQ_INT(strlen(tokens_of(u, 65, AKIDB_TEXT_TOKENS)), 63);
}

static void test_terms_drop_stop_words_and_stem(void) {
  ASSERT_STR_EQ(TERMS("What are the structural problems of heated aircraft?"),
                "structur|problem|heat|aircraft");
  ASSERT_STR_EQ(TERMS("The THE the"), "");
  ASSERT_STR_EQ(TERMS("Flows FLOWING flowed"), "flow|flow|flow");
}

static void test_empty_text_has_no_tokens(void) {
  joined_t j = {0};
  ASSERT_OK(akidb_text_tokenize(NULL, 0, AKIDB_TEXT_TOKENS, join_token, &j, NULL));
  ASSERT_EQ_INT(j.count, 0);
  ASSERT_STR_EQ(TOKENS(" \t\n ,;.!? "), "");
}

static void test_callback_error_stops_the_walk(void) {
  ASSERT_EQ_INT(akidb_text_tokenize("a b", 3, AKIDB_TEXT_TOKENS, NULL, NULL, NULL),
                AKIDB_EINVAL);
}

typedef struct {
  size_t tokens, bytes;
  uint64_t hash;
} count_t;

static int count_token(void *ctx, const char *tok, size_t len) {
  count_t *c = ctx;
  c->tokens++;
  c->bytes += len;
  c->hash = text_fnv1a(c->hash, tok, len);
  return 0;
}

static void test_multi_megabyte_text_is_tokenised_in_full(void) {
  static const char unit[] = "Ünïcode wörds, 東京 and ASCII words! ";
  size_t ul = sizeof unit - 1, reps = 4u << 20 >> 5; /* about 4.5 MB */
  char *s = malloc(ul * reps);
  ASSERT_TRUE(s != NULL);
  for (size_t i = 0; i < reps; i++) memcpy(s + i * ul, unit, ul);
  count_t c = {0, 0, TEXT_FNV_BASIS};
  ASSERT_OK(akidb_text_tokenize(s, ul * reps, AKIDB_TEXT_TOKENS, count_token, &c, NULL));
  ASSERT_EQ_U64(c.tokens, 7 * reps); /* unicode words 東 京 and ascii words */
  ASSERT_EQ_U64(c.bytes, (7 + 5 + 3 + 3 + 3 + 5 + 5) * reps);
  s[ul * reps - 1] = (char)0xC3; /* a truncated sequence at the very end */
  size_t bad = 0;
  ASSERT_EQ_INT(akidb_text_tokenize(s, ul * reps, AKIDB_TEXT_TOKENS, count_token, &c, &bad),
                AKIDB_EINVAL);
  ASSERT_EQ_U64(bad, ul * reps - 1);
  free(s);
}

static void test_class_table_is_sorted_and_disjoint(void) {
  ASSERT_TRUE(text_classify_table_ok());
  ASSERT_EQ_INT(text_classify(0x00D7), TEXT_SEP);
  ASSERT_EQ_INT(text_classify(0x0301), TEXT_STRIP);
  ASSERT_EQ_INT(text_classify(0x093F), TEXT_MARK);
  ASSERT_EQ_INT(text_classify(0x4E2D), TEXT_IDEO);
  ASSERT_EQ_INT(text_classify(0x1F600), TEXT_SEP);
  ASSERT_EQ_INT(text_classify(0x10FFFF), TEXT_SEP);
}

CHECK_MAIN(CHECK_CASE(test_utf8_overlong_forms_are_refused_at_their_first_byte),
           CHECK_CASE(test_utf8_surrogates_are_refused),
           CHECK_CASE(test_utf8_beyond_u10ffff_is_refused),
           CHECK_CASE(test_utf8_truncated_and_stray_bytes_are_refused),
           CHECK_CASE(test_utf8_nul_and_control_bytes_are_valid_separators),
           CHECK_CASE(test_ascii_is_split_on_punctuation_and_lowercased),
           CHECK_CASE(test_every_kind_of_whitespace_separates),
           CHECK_CASE(test_latin_diacritics_are_stripped_and_folded),
           CHECK_CASE(test_greek_and_cyrillic_are_lowercased),
           CHECK_CASE(test_arabic_hebrew_devanagari_are_words_with_their_marks),
           CHECK_CASE(test_cjk_ideographs_and_kana_are_one_token_each),
           CHECK_CASE(test_emoji_and_symbols_separate),
           CHECK_CASE(test_marks_without_a_base_are_dropped),
           CHECK_CASE(test_fullwidth_ascii_becomes_ascii),
           CHECK_CASE(test_long_tokens_are_truncated_at_64_bytes),
           CHECK_CASE(test_terms_drop_stop_words_and_stem),
           CHECK_CASE(test_empty_text_has_no_tokens),
           CHECK_CASE(test_callback_error_stops_the_walk),
           CHECK_CASE(test_multi_megabyte_text_is_tokenised_in_full),
           CHECK_CASE(test_class_table_is_sorted_and_disjoint))
