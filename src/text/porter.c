/*
 * porter.c — owns the English stemmer: the algorithm of M. F. Porter, "An
 * algorithm for suffix stripping", Program 14(3), 1980, implemented from
 * the paper's description (steps 1a, 1b, 1c, 2, 3, 4, 5a, 5b; in each step
 * only the rule with the longest matching suffix is considered, and it
 * fires only when its condition holds). Rule set as published in 1980
 * (step 2 has ABLI -> ABLE; the later LOGI and BLI variants are not used).
 * Input: lower-case ASCII letters. Words of one or two letters are left
 * as they are. Pure function: no locking, no durability.
 */
#include <string.h>

#include "text/text.h"

/* A word being stemmed: w[0..k) is the current word. */
typedef struct {
  char *w;
  size_t k;
} stem_t;

/* Whether w[i] is a consonant: not a e i o u, and y only after a vowel. */
static bool is_cons(const stem_t *s, size_t i) {
  switch (s->w[i]) {
  case 'a': case 'e': case 'i': case 'o': case 'u':
    return false;
  case 'y':
    return i == 0 ? true : !is_cons(s, i - 1);
  default:
    return true;
  }
}

/* m of w[0..j): the number of VC sequences in [C](VC)^m[V]. */
static int measure(const stem_t *s, size_t j) {
  int m = 0;
  size_t i = 0;
  while (i < j && is_cons(s, i)) i++; /* leading [C] */
  while (i < j) {
    while (i < j && !is_cons(s, i)) i++; /* V */
    if (i >= j) break;
    while (i < j && is_cons(s, i)) i++; /* C */
    m++;
  }
  return m;
}

/* *v*: w[0..j) contains a vowel. */
static bool has_vowel(const stem_t *s, size_t j) {
  for (size_t i = 0; i < j; i++)
    if (!is_cons(s, i)) return true;
  return false;
}

/* *d: w[0..j) ends with a double consonant. */
static bool ends_double(const stem_t *s, size_t j) {
  return j >= 2 && s->w[j - 1] == s->w[j - 2] && is_cons(s, j - 1);
}

/* *o: w[0..j) ends cvc, the last c not w, x or y. */
static bool ends_cvc(const stem_t *s, size_t j) {
  if (j < 3 || !is_cons(s, j - 1) || is_cons(s, j - 2) || !is_cons(s, j - 3))
    return false;
  char c = s->w[j - 1];
  return c != 'w' && c != 'x' && c != 'y';
}

/* Whether the word ends with suffix x. */
static bool ends(const stem_t *s, const char *x) {
  size_t n = strlen(x);
  return n <= s->k && memcmp(s->w + s->k - n, x, n) == 0;
}

/* Replaces the last `cut` letters by `rep`. */
static void set_suffix(stem_t *s, size_t cut, const char *rep) {
  size_t n = strlen(rep);
  memcpy(s->w + s->k - cut, rep, n);
  s->k = s->k - cut + n;
}

typedef struct {
  const char *from, *to;
} rule_t;

/*
 * Finds the longest rule suffix the word ends with; when the measure of the
 * stem before it exceeds min_m, replaces it. Returns whether one matched.
 */
static bool apply_rules(stem_t *s, const rule_t *rules, size_t n, int min_m) {
  const rule_t *best = NULL;
  for (size_t i = 0; i < n; i++)
    if (ends(s, rules[i].from) && (!best || strlen(rules[i].from) > strlen(best->from)))
      best = &rules[i];
  if (!best) return false;
  size_t cut = strlen(best->from);
  if (measure(s, s->k - cut) > min_m) set_suffix(s, cut, best->to);
  return true;
}

/* Step 1a: plurals. SSES -> SS, IES -> I, SS -> SS, S -> "". */
static void step1a(stem_t *s) {
  if (ends(s, "sses")) s->k -= 2;
  else if (ends(s, "ies")) s->k -= 2;
  else if (ends(s, "ss")) return;
  else if (ends(s, "s")) s->k -= 1;
}

/* The tidy-up after step 1b removed -ED or -ING. */
static void step1b_tidy(stem_t *s) {
  if (ends(s, "at") || ends(s, "bl") || ends(s, "iz")) {
    s->w[s->k++] = 'e';
  } else if (ends_double(s, s->k)) {
    char c = s->w[s->k - 1];
    if (c != 'l' && c != 's' && c != 'z') s->k--;
  } else if (measure(s, s->k) == 1 && ends_cvc(s, s->k)) {
    s->w[s->k++] = 'e';
  }
}

/* Step 1b: (m>0) EED -> EE; (*v*) ED -> ""; (*v*) ING -> "". */
static void step1b(stem_t *s) {
  if (ends(s, "eed")) {
    if (measure(s, s->k - 3) > 0) s->k -= 1;
    return;
  }
  size_t cut = ends(s, "ed") ? 2 : ends(s, "ing") ? 3 : 0;
  if (cut && has_vowel(s, s->k - cut)) {
    s->k -= cut;
    step1b_tidy(s);
  }
}

/* Step 1c: (*v*) Y -> I. */
static void step1c(stem_t *s) {
  if (ends(s, "y") && has_vowel(s, s->k - 1)) s->w[s->k - 1] = 'i';
}

static const rule_t step2_rules[] = {
    {"ational", "ate"}, {"tional", "tion"}, {"enci", "ence"}, {"anci", "ance"},
    {"izer", "ize"},    {"abli", "able"},   {"alli", "al"},   {"entli", "ent"},
    {"eli", "e"},       {"ousli", "ous"},   {"ization", "ize"}, {"ation", "ate"},
    {"ator", "ate"},    {"alism", "al"},    {"iveness", "ive"}, {"fulness", "ful"},
    {"ousness", "ous"}, {"aliti", "al"},    {"iviti", "ive"}, {"biliti", "ble"},
};

static const rule_t step3_rules[] = {
    {"icate", "ic"}, {"ative", ""}, {"alize", "al"}, {"iciti", "ic"},
    {"ical", "ic"},  {"ful", ""},   {"ness", ""},
};

/* Step 4 without ION, which has its own condition. */
static const rule_t step4_rules[] = {
    {"al", ""},  {"ance", ""}, {"ence", ""}, {"er", ""},   {"ic", ""},
    {"able", ""}, {"ible", ""}, {"ant", ""},  {"ement", ""}, {"ment", ""},
    {"ent", ""}, {"ou", ""},   {"ism", ""},  {"ate", ""},  {"iti", ""},
    {"ous", ""}, {"ive", ""},  {"ize", ""},
};

/* Step 4: (m>1) removes a suffix; ION only after S or T. */
static void step4(stem_t *s) {
  /* "ion" competes with the others by length: no listed suffix ends in
     "ion" and none of them is longer and also matched when "ion" is. */
  if (ends(s, "ion")) {
    size_t j = s->k - 3;
    if (j > 0 && (s->w[j - 1] == 's' || s->w[j - 1] == 't') && measure(s, j) > 1)
      s->k = j;
    return;
  }
  apply_rules(s, step4_rules, sizeof step4_rules / sizeof step4_rules[0], 1);
}

/* Step 5a: (m>1) E -> ""; (m=1 and not *o) E -> "". */
static void step5a(stem_t *s) {
  if (!ends(s, "e")) return;
  int m = measure(s, s->k - 1);
  if (m > 1 || (m == 1 && !ends_cvc(s, s->k - 1))) s->k -= 1;
}

/* Step 5b: (m>1 and *d and *L) -> single letter. */
static void step5b(stem_t *s) {
  if (s->k >= 2 && s->w[s->k - 1] == 'l' && ends_double(s, s->k) &&
      measure(s, s->k) > 1)
    s->k -= 1;
}

size_t text_porter_stem(char *w, size_t len) {
  if (len <= 2) return len;
  stem_t s = {w, len};
  step1a(&s);
  step1b(&s);
  step1c(&s);
  apply_rules(&s, step2_rules, sizeof step2_rules / sizeof step2_rules[0], 0);
  apply_rules(&s, step3_rules, sizeof step3_rules / sizeof step3_rules[0], 0);
  step4(&s);
  step5a(&s);
  step5b(&s);
  return s.k;
}
