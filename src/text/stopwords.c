/*
 * stopwords.c — owns the English stop-word list (docs/embeddings.md lists
 * the same words): function words that carry no topic, dropped from BM25
 * terms and embedder features. Matched on the folded token, before
 * stemming. A constant table: no locking, no durability.
 */
#include <string.h>

#include "text/text.h"

/* Sorted (strcmp order) for binary search. */
static const char *const stopwords[] = {
    "a", "about", "above", "after", "again", "against", "all", "am", "an",
    "and", "any", "are", "as", "at", "be", "because", "been", "before",
    "being", "below", "between", "both", "but", "by", "can", "could", "did",
    "do", "does", "doing", "down", "during", "each", "few", "for", "from",
    "further", "had", "has", "have", "having", "he", "her", "here", "hers",
    "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is",
    "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no",
    "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other",
    "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should",
    "so", "some", "such", "than", "that", "the", "their", "theirs", "them",
    "themselves", "then", "there", "these", "they", "this", "those",
    "through", "to", "too", "under", "until", "up", "very", "was", "we",
    "were", "what", "when", "where", "which", "while", "who", "whom", "why",
    "will", "with", "would", "you", "your", "yours", "yourself",
    "yourselves",
};

#define STOPWORD_MAXLEN 10 /* "themselves", "yourselves" */

/* Compares tok[0..len) with the NUL-terminated word w, like strcmp. */
static int cmp_token(const char *tok, size_t len, const char *w) {
  size_t wl = strlen(w);
  int c = memcmp(tok, w, len < wl ? len : wl);
  if (c) return c;
  return len < wl ? -1 : len > wl ? 1 : 0;
}

bool text_is_stopword(const char *tok, size_t len) {
  if (len == 0 || len > STOPWORD_MAXLEN || tok[0] < 'a' || tok[0] > 'y') return false;
  size_t lo = 0, hi = sizeof stopwords / sizeof stopwords[0];
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = cmp_token(tok, len, stopwords[mid]);
    if (c == 0) return true;
    if (c < 0) hi = mid;
    else lo = mid + 1;
  }
  return false;
}

size_t text_stopword_count(void) { return sizeof stopwords / sizeof stopwords[0]; }

const char *text_stopword_at(size_t i) {
  return i < sizeof stopwords / sizeof stopwords[0] ? stopwords[i] : NULL;
}
