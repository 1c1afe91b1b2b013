/*
 * test_text_porter.c — the Porter (1980) stemmer (src/text/porter.c) and the
 * stop-word list. Every expected stem below was worked out by hand from the
 * paper's rules (measure m, *v*, *d, *o; longest suffix per step), not
 * taken from another implementation; the comment of each group names the
 * steps it exercises.
 */
#include <stdbool.h>

#include "check.h"
#include "text/text.h"

typedef struct {
  const char *word, *stem;
} stem_case_t;

static const stem_case_t cases[] = {
    /* step 1a: SSES, IES, SS, S */
    {"caresses", "caress"}, {"ponies", "poni"}, {"ties", "ti"}, {"caress", "caress"},
    {"cats", "cat"}, {"skies", "ski"}, {"flows", "flow"},
    /* step 1b: EED (m>0), ED and ING (*v*), then AT/BL/IZ, *d, m=1 *o */
    {"feed", "feed"}, {"agreed", "agre"}, {"plastered", "plaster"}, {"bled", "bled"},
    {"motoring", "motor"}, {"sing", "sing"}, {"conflated", "conflat"},
    {"troubled", "troubl"}, {"sized", "size"}, {"hopping", "hop"}, {"tanned", "tan"},
    {"falling", "fall"}, {"hissing", "hiss"}, {"fizzed", "fizz"}, {"failing", "fail"},
    {"filing", "file"}, {"heating", "heat"}, {"running", "run"}, {"caring", "care"},
    {"meeting", "meet"}, {"dying", "dy"},
    /* step 1c: (*v*) Y -> I */
    {"happy", "happi"}, {"sky", "sky"}, {"boundary", "boundari"},
    /* step 2 (m>0), longest suffix only */
    {"relational", "relat"}, {"conditional", "condit"}, {"rational", "ration"},
    {"national", "nation"}, {"valenci", "valenc"}, {"hesitanci", "hesit"},
    {"digitizer", "digit"}, {"conformabli", "conform"}, {"radicalli", "radic"},
    {"differentli", "differ"}, {"vileli", "vile"}, {"analogousli", "analog"},
    {"vietnamization", "vietnam"}, {"predication", "predic"}, {"operator", "oper"},
    {"feudalism", "feudal"}, {"decisiveness", "decis"}, {"hopefulness", "hope"},
    {"callousness", "callous"}, {"formaliti", "formal"}, {"sensitiviti", "sensit"},
    {"sensibiliti", "sensibl"}, {"sensational", "sensat"}, {"ability", "abil"},
    {"probabilities", "probabl"},
    /* step 3 (m>0) */
    {"triplicate", "triplic"}, {"formative", "form"}, {"formalize", "formal"},
    {"electriciti", "electr"}, {"electrical", "electr"}, {"hopeful", "hope"},
    {"goodness", "good"},
    /* step 4 (m>1), ION after S or T */
    {"revival", "reviv"}, {"allowance", "allow"}, {"inference", "infer"},
    {"airliner", "airlin"}, {"gyroscopic", "gyroscop"}, {"adjustable", "adjust"},
    {"defensible", "defens"}, {"irritant", "irrit"}, {"replacement", "replac"},
    {"adjustment", "adjust"}, {"dependent", "depend"}, {"adoption", "adopt"},
    {"homologou", "homolog"}, {"communism", "commun"}, {"activate", "activ"},
    {"angulariti", "angular"}, {"homologous", "homolog"}, {"effective", "effect"},
    {"bowdlerize", "bowdler"}, {"agreement", "agreement"}, {"conditions", "condit"},
    {"viscous", "viscou"}, {"supersonic", "superson"}, {"aerodynamics", "aerodynam"},
    {"ion", "ion"},
    /* step 5a, 5b */
    {"probate", "probat"}, {"rate", "rate"}, {"cease", "ceas"}, {"plates", "plate"},
    {"controll", "control"}, {"roll", "roll"},
    /* all steps in a row */
    {"generalizations", "gener"}, {"oscillators", "oscil"},
    /* one and two letters: unchanged */
    {"a", "a"}, {"is", "is"}, {"as", "as"},
};

static void test_porter_stems_match_the_hand_worked_table(void) {
  ASSERT_GE(sizeof cases / sizeof cases[0], 60);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char buf[64];
    size_t n = strlen(cases[i].word);
    memcpy(buf, cases[i].word, n);
    n = text_porter_stem(buf, n);
    buf[n] = '\0';
    if (strcmp(buf, cases[i].stem) != 0)
      CHECK_FAIL("stem(%s) = \"%s\", expected \"%s\"", cases[i].word, buf, cases[i].stem);
  }
}

static void test_porter_stem_is_idempotent_on_its_table(void) {
  /* not a property of Porter in general; pins that these stems are stable */
  static const char *const words[] = {"caress", "motor", "hop", "fall", "relat", "adjust"};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
    char buf[64];
    size_t n = strlen(words[i]);
    memcpy(buf, words[i], n);
    ASSERT_EQ_INT(text_porter_stem(buf, n), n);
  }
}

static void test_stopwords_are_sorted_and_matched(void) {
  size_t n = text_stopword_count();
  ASSERT_GE(n, 100);
  for (size_t i = 1; i < n; i++)
    if (strcmp(text_stopword_at(i - 1), text_stopword_at(i)) >= 0)
      CHECK_FAIL("stop words out of order: %s before %s", text_stopword_at(i - 1),
                 text_stopword_at(i));
  for (size_t i = 0; i < n; i++) {
    const char *w = text_stopword_at(i);
    ASSERT_TRUE(text_is_stopword(w, strlen(w)));
  }
  ASSERT_TRUE(!text_is_stopword("wing", 4));
  ASSERT_TRUE(!text_is_stopword("th", 2));   /* prefix of "the" */
  ASSERT_TRUE(!text_is_stopword("thee", 4)); /* "the" is a prefix */
  ASSERT_TRUE(!text_is_stopword("", 0));
}

static void test_term_drops_stop_words_and_stems_ascii_only(void) {
  char buf[80];
  size_t n;
  memcpy(buf, "the", 3), n = 3;
  ASSERT_TRUE(!text_term(buf, &n));
  memcpy(buf, "flows", 5), n = 5;
  ASSERT_TRUE(text_term(buf, &n));
  ASSERT_EQ_INT(n, 4);
  ASSERT_TRUE(memcmp(buf, "flow", 4) == 0);
  memcpy(buf, "mach2s", 6), n = 6; /* a digit: not stemmed */
  ASSERT_TRUE(text_term(buf, &n));
  ASSERT_EQ_INT(n, 6);
  memcpy(buf, "\xd0\xb2\xd0\xbe\xd0\xb4\xd1\x8b", 8), n = 8; /* воды: as is */
  ASSERT_TRUE(text_term(buf, &n));
  ASSERT_EQ_INT(n, 8);
}

CHECK_MAIN(CHECK_CASE(test_porter_stems_match_the_hand_worked_table),
           CHECK_CASE(test_porter_stem_is_idempotent_on_its_table),
           CHECK_CASE(test_stopwords_are_sorted_and_matched),
           CHECK_CASE(test_term_drops_stop_words_and_stems_ascii_only))
