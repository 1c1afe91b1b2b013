/*
 * bm25.c — owns the in-memory BM25 inverted index of a collection's text:
 * a term dictionary (open addressing over FNV-1a hashes, strings in one
 * arena), one postings array per term (slot, tf), a slot per document
 * (label, length, its distinct term ids) and a label map.
 *
 * Invariants: N (live documents), df of every term, the sum of live lengths
 * and the live postings count are exact after every call. A removed
 * document's slot is marked dead at once (searches skip its postings) and
 * is reused only after a purge has dropped its postings from every list;
 * a purge runs when dead postings exceed live ones.
 *
 * Search is term at a time into a per-thread accumulator (a score per
 * slot, reused across calls: zeroed back after each), rarest term first;
 * once the best possible total of the terms left cannot reach the k-th
 * best partial score of the documents the filter keeps, the remaining
 * terms only add to the documents already scored (the top k cannot change:
 * "continue" pruning). A document the filter refuses while the k-th score
 * is computed is marked -inf and never counted again.
 *
 * Locking: none inside; the caller's rwlock — searches and stats shared,
 * add / replace / remove / free exclusive (include/akidb/text.h). The
 * search scratch is the calling thread's own.
 * Durability: none: rebuilt from the points' text when a collection loads.
 * Memory: every block through util/mem.h, charged to the index's account.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "index/label_map.h"
#include "text/text.h"
#include "util/errf.h"
#include "util/mem.h"

#define SLOT_MAX (UINT32_MAX - 2u) /* label_map reserves the top two values */
#define PURGE_MIN_DEAD 4096u       /* don't purge for fewer dead postings */
#define SLOT_DEAD UINT32_MAX       /* slot_len of a removed document's slot */

typedef struct {
  uint32_t slot, tf;
} posting_t;

typedef struct {
  uint64_t hash;
  uint32_t str_off, str_len;
  uint32_t df;     /* live documents holding the term */
  uint32_t n, cap; /* postings in use (live and dead) / allocated */
  posting_t *post;
  uint32_t stamp, add_tf; /* scratch of the add in progress */
} term_t;

typedef struct {
  uint64_t label;
  uint32_t len;      /* terms in the document (with repeats) */
  uint32_t nterms;   /* distinct terms = postings it owns */
  uint32_t *term_ids;
  bool live;
} doc_t;

/* A growable uint32 array charged to the index. */
typedef struct {
  uint32_t *v;
  size_t n, cap;
} u32vec_t;

struct akidb_text_bm25 {
  double k1, b;
  akidb_memacct_t mem;
  term_t *terms;
  uint32_t nterms, terms_cap;
  uint32_t *dict; /* term id + 1, 0 = empty; dict_cap a power of two */
  size_t dict_cap;
  char *strs;
  size_t strs_len, strs_cap;
  doc_t *docs;
  uint32_t *slot_len; /* per slot: the live document's length, or SLOT_DEAD
                         (docs_cap entries; what a search reads per posting) */
  uint32_t nslots, docs_cap;
  u32vec_t free_slots; /* reusable: no posting names them */
  u32vec_t pending;    /* dead, postings not yet purged */
  label_map_t map;
  uint64_t live_docs, total_len, live_postings, dead_postings, live_terms;
  uint32_t stamp;   /* add counter for term_t.stamp */
  u32vec_t scratch; /* term ids of the add in progress (distinct) */
};

/* ------------------------------------------------------------ helpers -- */

/* Grows a u32vec to hold at least `need` values. 0 or AKIDB_ENOMEM. */
static int u32vec_reserve(akidb_text_bm25_t *ix, u32vec_t *v, size_t need) {
  if (need <= v->cap) return 0;
  size_t cap = v->cap ? v->cap * 2 : 16;
  while (cap < need) cap *= 2;
  uint32_t *p = mem_realloc(&ix->mem, v->v, cap * sizeof *p);
  if (!p) return AKIDB_ENOMEM;
  v->v = p;
  v->cap = cap;
  return 0;
}

static uint64_t term_hash(const char *s, size_t len) {
  return text_mix64(text_fnv1a(TEXT_FNV_BASIS, s, len));
}

/* Dictionary slot for (hash, s): holds the id + 1, or 0 when absent. */
static uint32_t *dict_slot(const akidb_text_bm25_t *ix, uint64_t h, const char *s,
                           size_t len) {
  size_t mask = ix->dict_cap - 1, i = (size_t)h & mask;
  for (;; i = (i + 1) & mask) {
    uint32_t e = ix->dict[i];
    if (e == 0) return &ix->dict[i];
    const term_t *t = &ix->terms[e - 1];
    if (t->hash == h && t->str_len == len && memcmp(ix->strs + t->str_off, s, len) == 0)
      return &ix->dict[i];
  }
}

/* Id of a term, or UINT32_MAX when the index has never seen it. */
static uint32_t term_lookup(const akidb_text_bm25_t *ix, const char *s, size_t len) {
  if (!ix->dict_cap) return UINT32_MAX;
  uint32_t e = *dict_slot(ix, term_hash(s, len), s, len);
  return e ? e - 1 : UINT32_MAX;
}

/* Doubles the dictionary table. */
static int dict_grow(akidb_text_bm25_t *ix) {
  size_t cap = ix->dict_cap ? ix->dict_cap * 2 : 1024;
  uint32_t *d = mem_calloc(&ix->mem, cap, sizeof *d);
  if (!d) return AKIDB_ENOMEM;
  for (uint32_t id = 0; id < ix->nterms; id++) {
    size_t i = (size_t)ix->terms[id].hash & (cap - 1);
    while (d[i]) i = (i + 1) & (cap - 1);
    d[i] = id + 1;
  }
  mem_free(&ix->mem, ix->dict);
  ix->dict = d;
  ix->dict_cap = cap;
  return 0;
}

/* Id of a term, inserting it (df 0, no postings) when new. */
static int term_intern(akidb_text_bm25_t *ix, const char *s, size_t len, uint32_t *id) {
  if ((size_t)(ix->nterms + 1) * 2 > ix->dict_cap && dict_grow(ix)) return AKIDB_ENOMEM;
  uint64_t h = term_hash(s, len);
  uint32_t *slot = dict_slot(ix, h, s, len);
  if (*slot) {
    *id = *slot - 1;
    return 0;
  }
  if (ix->nterms == UINT32_MAX - 1) return AKIDB_ELIMIT;
  if (ix->nterms == ix->terms_cap) {
    uint32_t cap = ix->terms_cap ? ix->terms_cap * 2 : 1024;
    term_t *t = mem_realloc(&ix->mem, ix->terms, (size_t)cap * sizeof *t);
    if (!t) return AKIDB_ENOMEM;
    ix->terms = t;
    ix->terms_cap = cap;
  }
  if (ix->strs_len + len > ix->strs_cap) {
    size_t cap = ix->strs_cap ? ix->strs_cap * 2 : 16384;
    while (cap < ix->strs_len + len) cap *= 2;
    char *p = mem_realloc(&ix->mem, ix->strs, cap);
    if (!p) return AKIDB_ENOMEM;
    ix->strs = p;
    ix->strs_cap = cap;
  }
  memcpy(ix->strs + ix->strs_len, s, len);
  ix->terms[ix->nterms] = (term_t){.hash = h, .str_off = (uint32_t)ix->strs_len,
                                   .str_len = (uint32_t)len};
  ix->strs_len += len;
  *id = ix->nterms++;
  *slot = *id + 1;
  return 0;
}

/* --------------------------------------------------------- create/free -- */

void akidb_text_bm25_params_default(akidb_text_bm25_params_t *p) {
  p->k1 = AKIDB_TEXT_BM25_K1_DEFAULT;
  p->b = AKIDB_TEXT_BM25_B_DEFAULT;
}

int akidb_text_bm25_create(const akidb_text_bm25_params_t *p, akidb_memacct_t *parent,
                           akidb_text_bm25_t **out, char *err, size_t errlen) {
  akidb_text_bm25_params_t d;
  akidb_text_bm25_params_default(&d);
  if (!p) p = &d;
  if (!out) return errf(err, errlen, AKIDB_EINVAL, "no place for the index");
  if (!(p->k1 >= AKIDB_TEXT_BM25_K1_MIN && p->k1 <= AKIDB_TEXT_BM25_K1_MAX))
    return errf(err, errlen, AKIDB_EINVAL, "bm25 k1 %g is outside %g..%g", p->k1,
                AKIDB_TEXT_BM25_K1_MIN, AKIDB_TEXT_BM25_K1_MAX);
  if (!(p->b >= AKIDB_TEXT_BM25_B_MIN && p->b <= AKIDB_TEXT_BM25_B_MAX))
    return errf(err, errlen, AKIDB_EINVAL, "bm25 b %g is outside %g..%g", p->b,
                AKIDB_TEXT_BM25_B_MIN, AKIDB_TEXT_BM25_B_MAX);
  akidb_text_bm25_t *ix = calloc(1, sizeof *ix);
  if (!ix) return errf(err, errlen, AKIDB_ENOMEM, "out of memory");
  ix->k1 = p->k1;
  ix->b = p->b;
  mem_acct_init(&ix->mem, parent);
  mem_charge(&ix->mem, (int64_t)mem_block_bytes(ix));
  label_map_init(&ix->map, &ix->mem);
  *out = ix;
  return AKIDB_OK;
}

void akidb_text_bm25_free(akidb_text_bm25_t *ix) {
  if (!ix) return;
  for (uint32_t i = 0; i < ix->nterms; i++) mem_free(&ix->mem, ix->terms[i].post);
  for (uint32_t s = 0; s < ix->nslots; s++) mem_free(&ix->mem, ix->docs[s].term_ids);
  mem_free(&ix->mem, ix->terms);
  mem_free(&ix->mem, ix->slot_len);
  mem_free(&ix->mem, ix->dict);
  mem_free(&ix->mem, ix->strs);
  mem_free(&ix->mem, ix->docs);
  mem_free(&ix->mem, ix->free_slots.v);
  mem_free(&ix->mem, ix->pending.v);
  mem_free(&ix->mem, ix->scratch.v);
  label_map_free(&ix->map);
  mem_charge(&ix->mem, -(int64_t)mem_block_bytes(ix));
  free(ix);
}

void akidb_text_bm25_get_params(const akidb_text_bm25_t *ix, akidb_text_bm25_params_t *out) {
  out->k1 = ix->k1;
  out->b = ix->b;
}

bool akidb_text_bm25_contains(const akidb_text_bm25_t *ix, uint64_t label) {
  return label_map_get(&ix->map, label) != LABEL_MAP_NONE;
}

/* --------------------------------------------------------------- add -- */

/* A document being prepared: its distinct terms are ix->scratch. */
typedef struct {
  akidb_text_bm25_t *ix;
  uint64_t len; /* terms with repeats */
  int rc;
} prep_t;

/* Tokeniser callback: counts one term of the document being added. */
static int prep_term(void *ctx, const char *tok, size_t len) {
  prep_t *pr = ctx;
  akidb_text_bm25_t *ix = pr->ix;
  uint32_t id;
  int rc = term_intern(ix, tok, len, &id);
  if (rc) return rc;
  term_t *t = &ix->terms[id];
  if (t->stamp != ix->stamp) {
    if ((rc = u32vec_reserve(ix, &ix->scratch, ix->scratch.n + 1))) return rc;
    t->stamp = ix->stamp;
    t->add_tf = 0;
    ix->scratch.v[ix->scratch.n++] = id;
  }
  t->add_tf++;
  pr->len++;
  return 0;
}

/* Starts a new add: a fresh stamp (clearing all on wrap-around). */
static void next_stamp(akidb_text_bm25_t *ix) {
  if (++ix->stamp == 0) {
    for (uint32_t i = 0; i < ix->nterms; i++) ix->terms[i].stamp = 0;
    ix->stamp = 1;
  }
  ix->scratch.n = 0;
}

/*
 * Tokenises text into ix->scratch (distinct term ids, tf in add_tf) and
 * makes room for everything the commit needs, so the commit cannot fail.
 */
static int prepare(akidb_text_bm25_t *ix, const char *text, size_t len, uint64_t *doc_len,
                   uint32_t **term_ids, size_t *bad_offset) {
  next_stamp(ix);
  prep_t pr = {ix, 0, 0};
  int rc = akidb_text_tokenize(text, len, AKIDB_TEXT_TERMS, prep_term, &pr, bad_offset);
  if (rc) return rc;
  if (pr.len > UINT32_MAX - 1) return AKIDB_ELIMIT;
  for (size_t i = 0; i < ix->scratch.n; i++) {
    term_t *t = &ix->terms[ix->scratch.v[i]];
    if (t->n < t->cap) continue;
    uint32_t cap = t->cap ? t->cap * 2 : 4;
    posting_t *p = mem_realloc(&ix->mem, t->post, (size_t)cap * sizeof *p);
    if (!p) return AKIDB_ENOMEM;
    t->post = p;
    t->cap = cap;
  }
  if (ix->nslots == ix->docs_cap && ix->free_slots.n == 0) {
    if (ix->docs_cap >= SLOT_MAX) return AKIDB_ELIMIT;
    uint32_t cap = ix->docs_cap ? ix->docs_cap * 2 : 1024;
    if (cap > SLOT_MAX) cap = SLOT_MAX;
    doc_t *d = mem_realloc(&ix->mem, ix->docs, (size_t)cap * sizeof *d);
    if (!d) return AKIDB_ENOMEM;
    ix->docs = d;
    uint32_t *l = mem_realloc(&ix->mem, ix->slot_len, (size_t)cap * sizeof *l);
    if (!l) return AKIDB_ENOMEM; /* docs is larger already: harmless */
    ix->slot_len = l;
    ix->docs_cap = cap;
  }
  if (label_map_reserve(&ix->map, ix->map.used + 1)) return AKIDB_ENOMEM;
  *term_ids = NULL;
  if (ix->scratch.n) {
    *term_ids = mem_malloc(&ix->mem, ix->scratch.n * sizeof **term_ids);
    if (!*term_ids) return AKIDB_ENOMEM;
    memcpy(*term_ids, ix->scratch.v, ix->scratch.n * sizeof **term_ids);
  }
  *doc_len = pr.len;
  return 0;
}

/* Adds the prepared document under `label`; cannot fail. */
static void commit(akidb_text_bm25_t *ix, uint64_t label, uint64_t doc_len, uint32_t *term_ids) {
  uint32_t slot = ix->free_slots.n ? ix->free_slots.v[--ix->free_slots.n] : ix->nslots++;
  uint32_t n = (uint32_t)ix->scratch.n;
  ix->docs[slot] = (doc_t){.label = label, .len = (uint32_t)doc_len, .nterms = n,
                           .term_ids = term_ids, .live = true};
  ix->slot_len[slot] = (uint32_t)doc_len;
  for (uint32_t i = 0; i < n; i++) {
    term_t *t = &ix->terms[term_ids[i]];
    t->post[t->n++] = (posting_t){slot, t->add_tf};
    if (t->df++ == 0) ix->live_terms++;
  }
  label_map_put(&ix->map, label, slot); /* room reserved: cannot fail */
  ix->live_docs++;
  ix->total_len += doc_len;
  ix->live_postings += n;
}

/* ------------------------------------------------------------ remove -- */

/* Drops dead postings from every list; their slots become reusable. */
static void purge(akidb_text_bm25_t *ix) {
  for (uint32_t id = 0; id < ix->nterms; id++) {
    term_t *t = &ix->terms[id];
    uint32_t w = 0;
    for (uint32_t r = 0; r < t->n; r++)
      if (ix->docs[t->post[r].slot].live) t->post[w++] = t->post[r];
    t->n = w;
  }
  ix->dead_postings = 0;
  /* free_slots has room: it was reserved when each slot became pending */
  for (size_t i = 0; i < ix->pending.n; i++)
    ix->free_slots.v[ix->free_slots.n++] = ix->pending.v[i];
  ix->pending.n = 0;
}

/* Marks the document of `slot` removed; exact counts at once. */
static void remove_slot(akidb_text_bm25_t *ix, uint32_t slot) {
  doc_t *d = &ix->docs[slot];
  for (uint32_t i = 0; i < d->nterms; i++)
    if (--ix->terms[d->term_ids[i]].df == 0) ix->live_terms--;
  label_map_remove(&ix->map, d->label);
  ix->live_docs--;
  ix->total_len -= d->len;
  ix->live_postings -= d->nterms;
  ix->dead_postings += d->nterms;
  d->live = false;
  ix->slot_len[slot] = SLOT_DEAD;
  u32vec_t *to = d->nterms ? &ix->pending : &ix->free_slots; /* room reserved */
  to->v[to->n++] = slot;
  mem_free(&ix->mem, d->term_ids);
  d->term_ids = NULL;
  d->nterms = 0;
  if (ix->dead_postings > ix->live_postings && ix->dead_postings >= PURGE_MIN_DEAD)
    purge(ix);
}

/* Room for one more pending slot and, after a purge, all of them free. */
static int reserve_removal(akidb_text_bm25_t *ix) {
  if (u32vec_reserve(ix, &ix->pending, ix->pending.n + 1)) return AKIDB_ENOMEM;
  return u32vec_reserve(ix, &ix->free_slots, ix->free_slots.n + ix->pending.n + 1);
}

int akidb_text_bm25_remove(akidb_text_bm25_t *ix, uint64_t label) {
  uint32_t slot = label_map_get(&ix->map, label);
  if (slot == LABEL_MAP_NONE) return AKIDB_ENOTFOUND;
  if (reserve_removal(ix)) return AKIDB_ENOMEM;
  remove_slot(ix, slot);
  return AKIDB_OK;
}

/* add (replace false) or replace (true): prepare, remove the old, commit. */
static int put(akidb_text_bm25_t *ix, uint64_t label, const char *text, size_t len,
               size_t *bad_offset, bool replace) {
  if (!text && len > 0) return AKIDB_EINVAL;
  int rc;
  uint32_t old = label_map_get(&ix->map, label);
  if (old != LABEL_MAP_NONE && !replace) return AKIDB_EEXIST;
  if (old == LABEL_MAP_NONE && ix->live_docs >= SLOT_MAX) return AKIDB_ELIMIT;
  uint64_t doc_len = 0;
  uint32_t *term_ids = NULL;
  /* invalid UTF-8 is refused by the tokeniser before any term is seen */
  if ((rc = prepare(ix, text, len, &doc_len, &term_ids, bad_offset))) return rc;
  if (old != LABEL_MAP_NONE && reserve_removal(ix)) {
    mem_free(&ix->mem, term_ids);
    return AKIDB_ENOMEM;
  }
  if (old != LABEL_MAP_NONE) remove_slot(ix, old);
  commit(ix, label, doc_len, term_ids);
  return AKIDB_OK;
}

int akidb_text_bm25_add(akidb_text_bm25_t *ix, uint64_t label, const char *text, size_t len,
                        size_t *bad_offset) {
  return put(ix, label, text, len, bad_offset, false);
}

int akidb_text_bm25_replace(akidb_text_bm25_t *ix, uint64_t label, const char *text,
                            size_t len, size_t *bad_offset) {
  return put(ix, label, text, len, bad_offset, true);
}

/* ------------------------------------------------------------ search -- */

typedef struct {
  const akidb_text_bm25_t *ix;
  uint32_t *ids;
  size_t n, cap;
  int rc;
} query_t;

/* Tokeniser callback: collects the ids of the query's known terms. */
static int query_term(void *ctx, const char *tok, size_t len) {
  query_t *q = ctx;
  uint32_t id = term_lookup(q->ix, tok, len);
  if (id == UINT32_MAX || q->ix->terms[id].df == 0) return 0;
  if (q->n == q->cap) {
    size_t cap = q->cap ? q->cap * 2 : 32;
    uint32_t *p = realloc(q->ids, cap * sizeof *p);
    if (!p) return AKIDB_ENOMEM;
    q->ids = p;
    q->cap = cap;
  }
  q->ids[q->n++] = id;
  return 0;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* Whether hit a ranks before hit b: higher score, then lower label. */
static inline bool ranks_before(const akidb_text_hit_t *a, const akidb_text_hit_t *b) {
  return a->score > b->score || (a->score == b->score && a->label < b->label);
}

/* Restores the heap property (worst hit at the root) below index i. */
static void heap_down(akidb_text_hit_t *h, uint32_t n, uint32_t i) {
  for (;;) {
    uint32_t l = 2 * i + 1, r = l + 1, w = i;
    if (l < n && ranks_before(&h[w], &h[l])) w = l;
    if (r < n && ranks_before(&h[w], &h[r])) w = r;
    if (w == i) return;
    akidb_text_hit_t t = h[i];
    h[i] = h[w];
    h[w] = t;
    i = w;
  }
}

static void heap_up(akidb_text_hit_t *h, uint32_t i) {
  while (i > 0) {
    uint32_t p = (i - 1) / 2;
    if (!ranks_before(&h[p], &h[i])) return;
    akidb_text_hit_t t = h[i];
    h[i] = h[p];
    h[p] = t;
    i = p;
  }
}

static int cmp_hits(const void *a, const void *b) {
  const akidb_text_hit_t *x = a, *y = b;
  return ranks_before(x, y) ? -1 : ranks_before(y, x) ? 1 : 0;
}

/* ------------------------------------------------------ search scratch -- */

/* A thread's accumulator: score[slot] (0: not scored yet; every
 * contribution is > 0; -inf: refused by the filter) and the slots scored,
 * in order. All zero between calls. Freed when the thread exits. */
typedef struct {
  double *score;
  uint32_t *touched;
  size_t cap;
} scratch_t;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_rc;

static void scratch_free(void *p) {
  scratch_t *s = p;
  free(s->score);
  free(s->touched);
  free(s);
}

static void scratch_key_init(void) { scratch_key_rc = pthread_key_create(&scratch_key, scratch_free); }

/* This thread's scratch with room for n slots (zeroed), or NULL. */
static scratch_t *scratch_get(size_t n) {
  if (pthread_once(&scratch_once, scratch_key_init) || scratch_key_rc) return NULL;
  scratch_t *s = pthread_getspecific(scratch_key);
  if (!s) {
    if (!(s = calloc(1, sizeof *s))) return NULL;
    if (pthread_setspecific(scratch_key, s)) {
      free(s);
      return NULL;
    }
  }
  if (n <= s->cap) return s;
  size_t cap = s->cap ? s->cap : 1024;
  while (cap < n) cap *= 2;
  double *score = calloc(cap, sizeof *score);
  uint32_t *touched = malloc(cap * sizeof *touched);
  if (!score || !touched) {
    free(score);
    free(touched);
    return NULL;
  }
  free(s->score);
  free(s->touched);
  s->score = score, s->touched = touched, s->cap = cap;
  return s;
}

/* One distinct query term: its id, idf × its count in the query, and the
 * most one posting can add (weight × (k1 + 1)). */
typedef struct {
  uint32_t id;
  double weight, bound;
} qterm_t;

static int cmp_bound_desc(const void *a, const void *b) {
  const qterm_t *x = a, *y = b;
  if (x->bound != y->bound) return x->bound > y->bound ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

/* The distinct terms of q (ids sorted), rarest (highest bound) first. */
static size_t distinct_terms(const akidb_text_bm25_t *ix, query_t *q, qterm_t *out) {
  qsort(q->ids, q->n, sizeof *q->ids, cmp_u32);
  double N = (double)ix->live_docs;
  size_t n = 0;
  for (size_t i = 0; i < q->n;) { /* each distinct term once, times its count */
    size_t j = i;
    while (j < q->n && q->ids[j] == q->ids[i]) j++;
    double df = (double)ix->terms[q->ids[i]].df;
    double w = log(1.0 + (N - df + 0.5) / (df + 0.5)) * (double)(j - i);
    out[n++] = (qterm_t){q->ids[i], w, w * (ix->k1 + 1.0)};
    i = j;
  }
  qsort(out, n, sizeof *out, cmp_bound_desc);
  return n;
}

/* Adds the BM25 contribution of one query term to the accumulator; with
 * `grow` false only to documents already scored. */
static void score_term(const akidb_text_bm25_t *ix, const qterm_t *qt, double avgdl, bool grow,
                       scratch_t *s, uint32_t *nt) {
  const term_t *t = &ix->terms[qt->id];
  double k1 = ix->k1, b = ix->b, idf = qt->weight;
  for (uint32_t i = 0; i < t->n; i++) {
    const posting_t *p = &t->post[i];
    uint32_t len = ix->slot_len[p->slot];
    if (len == SLOT_DEAD) continue;
    double *acc = &s->score[p->slot];
    if (*acc == 0.0) {
      if (!grow) continue;
      s->touched[(*nt)++] = p->slot;
    }
    double tf = (double)p->tf;
    double norm = k1 * (1.0 - b + b * (double)len / avgdl);
    *acc += idf * tf * (k1 + 1.0) / (tf + norm);
  }
}

/* A filter: keep(ctx, label); keep NULL keeps everything. */
typedef struct {
  bool (*keep)(void *ctx, uint64_t label);
  void *ctx;
} keep_t;

/* The k-th largest partial score among the scored slots the filter keeps
 * (0 when fewer than k); slots it refuses on the way are marked -inf. */
static double kth_score(const akidb_text_bm25_t *ix, scratch_t *s, uint32_t nt, uint32_t k,
                        const keep_t *f, double *heap) {
  uint32_t n = 0; /* min-heap of the k largest */
  for (uint32_t i = 0; i < nt; i++) {
    uint32_t slot = s->touched[i];
    double v = s->score[slot];
    if (v == -INFINITY || (n == k && v <= heap[0])) continue;
    if (f->keep && !f->keep(f->ctx, ix->docs[slot].label)) {
      s->score[slot] = -INFINITY; /* stays: adding to -inf gives -inf */
      continue;
    }
    if (n < k) {
      uint32_t c = n++;
      heap[c] = v;
      while (c > 0 && heap[(c - 1) / 2] > heap[c]) {
        double x = heap[c];
        heap[c] = heap[(c - 1) / 2], heap[(c - 1) / 2] = x;
        c = (c - 1) / 2;
      }
    } else {
      heap[0] = v;
      for (uint32_t c = 0;;) {
        uint32_t l = 2 * c + 1, r = l + 1, m = c;
        if (l < n && heap[l] < heap[m]) m = l;
        if (r < n && heap[r] < heap[m]) m = r;
        if (m == c) break;
        double x = heap[c];
        heap[c] = heap[m], heap[m] = x;
        c = m;
      }
    }
  }
  return n == k ? heap[0] : 0.0;
}

/* Scores every query term, rarest first; switches to adding only to scored
 * documents once the terms left cannot lift a new document to the k-th
 * best score among the kept ones. Returns the slots scored. */
static uint32_t accumulate(const akidb_text_bm25_t *ix, const qterm_t *qt, size_t nq, uint32_t k,
                           const keep_t *f, scratch_t *s, double *heap) {
  double avgdl = (double)ix->total_len / (double)ix->live_docs;
  double rest = 0;
  for (size_t i = 0; i < nq; i++) rest += qt[i].bound;
  uint32_t nt = 0;
  bool grow = true;
  for (size_t i = 0; i < nq; i++) {
    score_term(ix, &qt[i], avgdl, grow, s, &nt);
    rest -= qt[i].bound;
    if (grow && i + 1 < nq && nt >= k && rest < kth_score(ix, s, nt, k, f, heap))
      grow = false; /* a new document ends below the k-th: the top k is among these */
  }
  return nt;
}

int akidb_text_bm25_search(const akidb_text_bm25_t *ix, const char *query, size_t len,
                           uint32_t k, bool (*keep)(void *ctx, uint64_t label), void *ctx,
                           akidb_text_hit_t *out, uint32_t *n_out, size_t *bad_offset) {
  if (!out || !n_out || k == 0 || k > AKIDB_K_MAX || (!query && len > 0)) return AKIDB_EINVAL;
  *n_out = 0;
  query_t q = {.ix = ix};
  int rc = akidb_text_tokenize(query, len, AKIDB_TEXT_TERMS, query_term, &q, bad_offset);
  if (rc || q.n == 0 || ix->live_docs == 0) {
    free(q.ids);
    return rc;
  }
  scratch_t *s = scratch_get(ix->nslots);
  qterm_t *qt = malloc(q.n * sizeof *qt);
  double *heap = malloc((size_t)k * sizeof *heap);
  if (!s || !qt || !heap) {
    rc = AKIDB_ENOMEM;
    goto done;
  }
  size_t nq = distinct_terms(ix, &q, qt);
  keep_t f = {keep, ctx};
  uint32_t nt = accumulate(ix, qt, nq, k, &f, s, heap);
  uint32_t n = 0;
  for (uint32_t i = 0; i < nt; i++) {
    uint32_t slot = s->touched[i];
    akidb_text_hit_t h = {ix->docs[slot].label, s->score[slot]};
    s->score[slot] = 0.0; /* the scratch goes back all zero */
    if (h.score == -INFINITY || (n == k && !ranks_before(&h, &out[0]))) continue;
    if (keep && !keep(ctx, h.label)) continue;
    if (n < k) {
      out[n] = h;
      heap_up(out, n++);
    } else {
      out[0] = h;
      heap_down(out, n, 0);
    }
  }
  qsort(out, n, sizeof *out, cmp_hits);
  *n_out = n;
done:
  free(qt);
  free(heap);
  free(q.ids);
  return rc;
}

/* ------------------------------------------------------------- stats -- */

void akidb_text_bm25_stats(const akidb_text_bm25_t *ix, akidb_text_bm25_stats_t *out) {
  out->documents = ix->live_docs;
  out->terms = ix->live_terms;
  out->postings = ix->live_postings;
  out->dead_postings = ix->dead_postings;
  out->avg_length = ix->live_docs ? (double)ix->total_len / (double)ix->live_docs : 0.0;
  out->memory_bytes = (uint64_t)mem_acct_bytes(&ix->mem);
}
