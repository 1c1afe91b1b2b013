/*
 * obs/metrics.c — the process-wide Prometheus registry (obs/metrics.h):
 * labelled counters and latency histograms for HTTP requests, searches,
 * upserts, quota rejections and logins, plus process figures, rendered in
 * the text exposition format 0.0.4.
 *
 * Storage: every label set of every family is one series in a fixed
 * open-addressing hash table of atomic pointers. Series are created once and
 * never freed or moved, so the hot path (lookup + update) takes no lock:
 * lookups read slots with acquire loads, updates are relaxed atomic adds
 * (the histogram sum is a compare-and-swap on the double's bits).
 * Locking: `insert_lock` serialises only the creation of a new series (it
 * re-probes under the lock, then publishes with a release store). Rendering
 * reads the table without a lock; a histogram's _count is derived from the
 * bucket counters read in the same pass, so buckets, +Inf and _count always
 * agree in one render. When the table is three-quarters full, observations
 * of new label sets are dropped (and counted) rather than growing without
 * bound. Durability: none (memory only).
 */
#include "akidb/embed.h"
#include "obs/metrics.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "akidb/akidb.h"
#include "akidb/store.h"
#include "trace/trace.h"

/* ------------------------------------------------------------ buckets -- */

/* Latency buckets (seconds): 50 µs to 10 s. */
#define NBUCKETS 17
static const double bucket_le[NBUCKETS] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                           0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                           0.5,     1,      2.5,     5,      10};
static const char *const bucket_text[NBUCKETS] = {
    "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
    "0.05",    "0.1",    "0.25",    "0.5",    "1",     "2.5",    "5",     "10"};

/* ----------------------------------------------------------- families -- */

#define MAX_LABELS 3

typedef enum { KIND_COUNTER, KIND_HISTOGRAM } kind_t;

/* A family of series. The HTTP histogram is also rendered as the request
 * counter (`counter_name`), from the same series. */
typedef struct {
  const char *name;
  kind_t kind;
  const char *help;
  int nlabels;
  const char *labels[MAX_LABELS];
  const char *counter_name; /* histogram also rendered as this counter, or NULL */
  const char *counter_help;
} family_t;

enum {
  FAM_HTTP,
  FAM_GRPC,
  FAM_SEARCH_SECONDS,
  FAM_SEARCH_QUERIES,
  FAM_UPSERT_SECONDS,
  FAM_POINTS_UPSERTED,
  FAM_QUOTA,
  FAM_LOGINS,
  FAM_LOAD_SECONDS,
  FAM_UNLOADS,
  FAM_TIER_CHANGES,
  FAM_SNAPSHOT_SECONDS,
  FAM_COLD_MOVES,
  FAM_ERRORS,
  FAM_TIER_TRANSITIONS,
  FAM_SLOW,
  FAM_COUNT
};

static const family_t families[FAM_COUNT] = {
    [FAM_HTTP] = {"akidb_http_request_duration_seconds", KIND_HISTOGRAM,
                  "Time to answer one HTTP request, by route pattern, method and status.", 3,
                  {"route", "method", "status"}, "akidb_http_requests_total",
                  "HTTP requests answered, by route pattern, method and status."},
    [FAM_GRPC] = {"akidb_grpc_request_duration_seconds", KIND_HISTOGRAM,
                  "Time to answer one gRPC call (a stream: its whole life), by method and "
                  "status code.", 2, {"method", "code"}, "akidb_grpc_requests_total",
                  "gRPC calls answered, by method and status code."},
    [FAM_SEARCH_SECONDS] = {"akidb_search_duration_seconds", KIND_HISTOGRAM,
                            "Time to run one search request (all of its queries), by mode "
                            "(vector, text, hybrid).", 1, {"mode"}, NULL, NULL},
    [FAM_SEARCH_QUERIES] = {"akidb_search_queries_total", KIND_COUNTER,
                            "Queries searched (a batch search counts each vector), by mode.", 1,
                            {"mode"}, NULL, NULL},
    [FAM_UPSERT_SECONDS] = {"akidb_upsert_duration_seconds", KIND_HISTOGRAM,
                            "Time to make one upsert batch durable and visible.", 0, {NULL},
                            NULL, NULL},
    [FAM_POINTS_UPSERTED] = {"akidb_points_upserted_total", KIND_COUNTER,
                             "Points written by upsert batches.", 0, {NULL}, NULL, NULL},
    [FAM_QUOTA] = {"akidb_quota_rejections_total", KIND_COUNTER,
                   "Requests refused by a tenant quota, by quota.", 1, {"quota"}, NULL, NULL},
    [FAM_LOGINS] = {"akidb_logins_total", KIND_COUNTER, "Login attempts, by outcome.", 1,
                    {"outcome"}, NULL, NULL},
    [FAM_LOAD_SECONDS] = {"akidb_collection_load_duration_seconds", KIND_HISTOGRAM,
                          "Time to load a collection into memory (recovery included), by "
                          "outcome.", 1, {"outcome"}, "akidb_collection_loads_total",
                          "Collection loads, by outcome (ok, failed)."},
    [FAM_UNLOADS] = {"akidb_collection_unloads_total", KIND_COUNTER,
                     "Collections unloaded from memory, by reason (idle, budget, api, pinned).",
                     1, {"reason"}, NULL, NULL},
    [FAM_TIER_CHANGES] = {"akidb_collection_tier_changes_total", KIND_COUNTER,
                          "Tier changes asked through the API, by target tier.", 1, {"tier"},
                          NULL, NULL},
    [FAM_SNAPSHOT_SECONDS] = {"akidb_snapshot_duration_seconds", KIND_HISTOGRAM,
                              "Time to write a snapshot to the object store (op create) or "
                              "restore one (op restore), by outcome.", 2, {"op", "outcome"},
                              "akidb_snapshots_total",
                              "Snapshots written and restored, by op and outcome."},
    [FAM_COLD_MOVES] = {"akidb_collection_cold_moves_total", KIND_COUNTER,
                        "Moves of collections to the object store (to=cold) and back (to=warm), "
                        "by outcome.", 2, {"to", "outcome"}, NULL, NULL},
    [FAM_ERRORS] = {"akidb_errors_total", KIND_COUNTER,
                    "Requests that failed, over both transports, by error code (the error.code "
                    "of REST answers).", 1, {"code"}, NULL, NULL},
    [FAM_TIER_TRANSITIONS] = {"akidb_tier_transitions_total", KIND_COUNTER,
                              "Completed moves of collections between tiers, by from and to "
                              "(hot, warm, cold).", 2, {"from", "to"}, NULL, NULL},
    [FAM_SLOW] = {"akidb_slow_requests_total", KIND_COUNTER,
                  "Requests slower than log.slow_request_ms (each also logged with its plan), by "
                  "operation.", 1, {"op"}, NULL, NULL},
};

/* ------------------------------------------------------------- series -- */

typedef struct {
  int family;
  uint64_t hash;
  const char *labels[MAX_LABELS]; /* copies, in the same allocation */
  _Atomic uint64_t count;         /* counters: the value */
  _Atomic uint64_t sum_bits;      /* histograms: the sum, as double bits */
  _Atomic uint64_t buckets[NBUCKETS + 1]; /* non-cumulative; the last is > 10 s */
} series_t;

#define TABLE_SLOTS 4096u
#define TABLE_MAX (TABLE_SLOTS / 4u * 3u)

static _Atomic(series_t *) table[TABLE_SLOTS];
static pthread_mutex_t insert_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t n_series;                /* under insert_lock */
static _Atomic uint64_t dropped_total; /* observations of label sets that found no room */

/* FNV-1a over the family id and the label values (NUL-separated). */
static uint64_t series_hash(int family, const char *const *labels, int n) {
  uint64_t h = 1469598103934665603ull;
  h = (h ^ (uint64_t)family) * 1099511628211ull;
  for (int i = 0; i < n; i++) {
    for (const unsigned char *p = (const unsigned char *)labels[i]; *p; p++)
      h = (h ^ *p) * 1099511628211ull;
    h = (h ^ 0xffu) * 1099511628211ull;
  }
  return h;
}

static bool series_is(const series_t *s, int family, uint64_t h, const char *const *labels, int n) {
  if (s->family != family || s->hash != h) return false;
  for (int i = 0; i < n; i++)
    if (strcmp(s->labels[i], labels[i]) != 0) return false;
  return true;
}

static series_t *series_new(int family, uint64_t h, const char *const *labels, int n) {
  size_t bytes = sizeof(series_t);
  for (int i = 0; i < n; i++) bytes += strlen(labels[i]) + 1;
  series_t *s = calloc(1, bytes);
  if (!s) return NULL;
  s->family = family;
  s->hash = h;
  char *text = (char *)(s + 1);
  for (int i = 0; i < n; i++) {
    size_t len = strlen(labels[i]) + 1;
    memcpy(text, labels[i], len);
    s->labels[i] = text;
    text += len;
  }
  return s;
}

/* Finds or creates the series of `family` with these label values; NULL when
 * the table is full or memory ran out (the observation is then dropped). */
static series_t *series_get(int family, const char *const *labels) {
  int n = families[family].nlabels;
  uint64_t h = series_hash(family, labels, n);
  uint32_t i = (uint32_t)h & (TABLE_SLOTS - 1);
  for (;;) {
    series_t *s = atomic_load_explicit(&table[i], memory_order_acquire);
    if (!s) break;
    if (series_is(s, family, h, labels, n)) return s;
    i = (i + 1) & (TABLE_SLOTS - 1);
  }
  /* Not found: insert under the lock (another thread may have raced us). */
  series_t *found = NULL;
  pthread_mutex_lock(&insert_lock);
  i = (uint32_t)h & (TABLE_SLOTS - 1);
  for (;;) {
    series_t *s = atomic_load_explicit(&table[i], memory_order_relaxed);
    if (!s) break;
    if (series_is(s, family, h, labels, n)) {
      found = s;
      break;
    }
    i = (i + 1) & (TABLE_SLOTS - 1);
  }
  if (!found && n_series < TABLE_MAX) {
    found = series_new(family, h, labels, n);
    if (found) {
      atomic_store_explicit(&table[i], found, memory_order_release);
      n_series++;
    }
  }
  pthread_mutex_unlock(&insert_lock);
  if (!found) atomic_fetch_add_explicit(&dropped_total, 1, memory_order_relaxed);
  return found;
}

static void counter_add(int family, const char *const *labels, uint64_t v) {
  series_t *s = series_get(family, labels);
  if (s) atomic_fetch_add_explicit(&s->count, v, memory_order_relaxed);
}

static uint64_t double_bits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

static double bits_double(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

static void histogram_observe(int family, const char *const *labels, double v) {
  series_t *s = series_get(family, labels);
  if (!s) return;
  if (!(v >= 0)) v = 0; /* NaN or a negative duration (clock step): count it as 0 */
  int b = 0;
  while (b < NBUCKETS && v > bucket_le[b]) b++;
  atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
  uint64_t old = atomic_load_explicit(&s->sum_bits, memory_order_relaxed);
  uint64_t next;
  do {
    next = double_bits(bits_double(old) + v);
  } while (!atomic_compare_exchange_weak_explicit(&s->sum_bits, &old, next, memory_order_relaxed,
                                                  memory_order_relaxed));
}

/* Label sets worth showing at zero before anything happened. */
static void registry_init(void) {
  static const char *const quotas[] = {"qps", "storage", "memory", "collections"};
  static const char *const outcomes[] = {"success", "failure", "throttled"};
  for (size_t i = 0; i < sizeof quotas / sizeof *quotas; i++) series_get(FAM_QUOTA, &quotas[i]);
  for (size_t i = 0; i < sizeof outcomes / sizeof *outcomes; i++)
    series_get(FAM_LOGINS, &outcomes[i]);
  static const char *const modes[] = {"vector"}; /* text and hybrid once used */
  series_get(FAM_SEARCH_SECONDS, &modes[0]);
  series_get(FAM_SEARCH_QUERIES, &modes[0]);
  static const char *const moves[][2] = {{"hot", "warm"}, {"warm", "hot"}, {"warm", "cold"},
                                         {"cold", "warm"}};
  for (size_t i = 0; i < 4; i++) series_get(FAM_TIER_TRANSITIONS, moves[i]);
  static const char *const codes[] = {"invalid_argument", "unauthenticated", "permission_denied",
                                      "not_found", "unavailable", "internal"};
  for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) series_get(FAM_ERRORS, &codes[i]);
  series_get(FAM_UPSERT_SECONDS, NULL);
  series_get(FAM_POINTS_UPSERTED, NULL);
  static const char *const load_outcomes[] = {"ok", "failed"};
  static const char *const reasons[] = {"idle", "budget", "api", "pinned"};
  static const char *const tiers[] = {"hot", "warm"};
  series_get(FAM_LOAD_SECONDS, &load_outcomes[0]); /* "failed" once one fails */
  for (size_t i = 0; i < 4; i++) series_get(FAM_UNLOADS, &reasons[i]);
  for (size_t i = 0; i < 2; i++) series_get(FAM_TIER_CHANGES, &tiers[i]);
}

static pthread_once_t registry_once = PTHREAD_ONCE_INIT;

static inline void registry_ready(void) { pthread_once(&registry_once, registry_init); }

/* -------------------------------------------------------- observations -- */

/* A bounded label for the method: known ones as sent, anything else "other". */
static const char *method_label(const char *m) {
  static const char *const known[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
  if (m)
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
      if (strcmp(m, known[i]) == 0) return known[i];
  return "other";
}

void obs_http_observe(const char *route, const char *method, int status, double seconds) {
  registry_ready();
  char code[12];
  snprintf(code, sizeof code, "%d", status);
  const char *labels[3] = {route ? route : "unmatched", method_label(method), code};
  histogram_observe(FAM_HTTP, labels, seconds);
}

void obs_grpc_observe(const char *method, const char *code, double seconds) {
  registry_ready();
  const char *labels[2] = {method ? method : "unimplemented", code};
  histogram_observe(FAM_GRPC, labels, seconds);
}

void obs_search_observe(const char *mode, double seconds, uint32_t queries) {
  registry_ready();
  const char *labels[1] = {mode ? mode : "vector"};
  histogram_observe(FAM_SEARCH_SECONDS, labels, seconds);
  counter_add(FAM_SEARCH_QUERIES, labels, queries);
}

void obs_error(const char *code) {
  registry_ready();
  const char *labels[1] = {code ? code : "internal"};
  counter_add(FAM_ERRORS, labels, 1);
}

void obs_tier_transition(const char *from, const char *to) {
  registry_ready();
  const char *labels[2] = {from, to};
  counter_add(FAM_TIER_TRANSITIONS, labels, 1);
}

void obs_slow_request(const char *op) {
  registry_ready();
  const char *labels[1] = {op ? op : "unknown"};
  counter_add(FAM_SLOW, labels, 1);
}

void obs_upsert_observe(double seconds, uint32_t points) {
  registry_ready();
  histogram_observe(FAM_UPSERT_SECONDS, NULL, seconds);
  counter_add(FAM_POINTS_UPSERTED, NULL, points);
}

void obs_quota_rejection(const char *quota) {
  registry_ready();
  const char *labels[1] = {quota ? quota : "unknown"};
  counter_add(FAM_QUOTA, labels, 1);
}

void obs_collection_load_observe(double seconds, int ok) {
  registry_ready();
  const char *labels[1] = {ok ? "ok" : "failed"};
  histogram_observe(FAM_LOAD_SECONDS, labels, seconds);
  if (ok) obs_tier_transition("warm", "hot");
}

void obs_collection_unload(const char *reason) {
  registry_ready();
  const char *labels[1] = {reason ? reason : "unknown"};
  counter_add(FAM_UNLOADS, labels, 1);
  obs_tier_transition("hot", "warm");
}

void obs_tier_change(const char *tier) {
  registry_ready();
  const char *labels[1] = {tier ? tier : "unknown"};
  counter_add(FAM_TIER_CHANGES, labels, 1);
}

void obs_snapshot_observe(const char *op, double seconds, int ok) {
  registry_ready();
  const char *labels[2] = {op ? op : "unknown", ok ? "ok" : "failed"};
  histogram_observe(FAM_SNAPSHOT_SECONDS, labels, seconds);
}

void obs_cold_move(const char *to, int ok) {
  registry_ready();
  const char *labels[2] = {to ? to : "unknown", ok ? "ok" : "failed"};
  counter_add(FAM_COLD_MOVES, labels, 1);
  if (ok && to && strcmp(to, "cold") == 0) obs_tier_transition("warm", "cold");
  else if (ok && to && strcmp(to, "warm") == 0) obs_tier_transition("cold", "warm");
}

void obs_login_observe(const char *outcome) {
  registry_ready();
  const char *labels[1] = {outcome ? outcome : "unknown"};
  counter_add(FAM_LOGINS, labels, 1);
}

/* ------------------------------------------------------------- buffer -- */

static bool buf_reserve(obs_buf_t *b, size_t extra) {
  if (b->failed) return false;
  if (b->len + extra + 1 <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + extra + 1) cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p) {
    b->failed = 1;
    return false;
  }
  b->data = p;
  b->cap = cap;
  return true;
}

static void buf_vprintf(obs_buf_t *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  size_t room = b->cap > b->len ? b->cap - b->len : 0;
  int n = room ? vsnprintf(b->data + b->len, room, fmt, ap) : vsnprintf(NULL, 0, fmt, ap);
  if (n < 0) {
    b->failed = 1;
  } else if ((size_t)n < room) {
    b->len += (size_t)n;
  } else if (buf_reserve(b, (size_t)n)) {
    vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
    b->len += (size_t)n;
  }
  va_end(ap2);
}

void obs_buf_printf(obs_buf_t *b, const char *fmt, ...) {
  if (b->failed) return;
  va_list ap;
  va_start(ap, fmt);
  buf_vprintf(b, fmt, ap);
  va_end(ap);
}

static void buf_putc(obs_buf_t *b, char c) {
  if (!buf_reserve(b, 1)) return;
  b->data[b->len++] = c;
  b->data[b->len] = '\0';
}

static void buf_puts(obs_buf_t *b, const char *s) {
  size_t n = strlen(s);
  if (!buf_reserve(b, n)) return;
  memcpy(b->data + b->len, s, n + 1);
  b->len += n;
}

void obs_buf_free(obs_buf_t *b) {
  if (!b) return;
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
  b->failed = 0;
}

/* ---------------------------------------------------------- rendering -- */

/* Appends `s` escaped for a label value (\\, \", \n) or, with quote false,
 * for HELP text (\\, \n). */
static void put_escaped(obs_buf_t *b, const char *s, bool quote) {
  for (; *s; s++) {
    if (*s == '\\')
      buf_puts(b, "\\\\");
    else if (*s == '\n')
      buf_puts(b, "\\n");
    else if (*s == '"' && quote)
      buf_puts(b, "\\\"");
    else
      buf_putc(b, *s);
  }
}

/* A sample value: integers without a fraction, others in the shortest form
 * that reads back exactly; NaN and infinities as Prometheus spells them. */
static void put_value(obs_buf_t *b, double v) {
  if (isnan(v)) {
    buf_puts(b, "NaN");
  } else if (isinf(v)) {
    buf_puts(b, v > 0 ? "+Inf" : "-Inf");
  } else if (v == floor(v) && fabs(v) < 1e15) {
    obs_buf_printf(b, "%.0f", v);
  } else {
    char text[40];
    snprintf(text, sizeof text, "%.15g", v);
    if (strtod(text, NULL) != v) snprintf(text, sizeof text, "%.17g", v);
    buf_puts(b, text);
  }
}

void obs_render_family(obs_buf_t *b, const char *name, const char *type, const char *help) {
  obs_buf_printf(b, "# HELP %s ", name);
  put_escaped(b, help ? help : "", false);
  obs_buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

/* name{k="v",...,extra_key="extra_val"} value — `extra_key` may be NULL. */
static void put_sample(obs_buf_t *b, const char *name, const char *const *keys,
                       const char *const *vals, int n, const char *extra_key,
                       const char *extra_val, double value) {
  buf_puts(b, name);
  if (n > 0 || extra_key) {
    buf_putc(b, '{');
    for (int i = 0; i < n; i++) {
      if (i) buf_putc(b, ',');
      obs_buf_printf(b, "%s=\"", keys[i]);
      put_escaped(b, vals[i], true);
      buf_putc(b, '"');
    }
    if (extra_key) {
      if (n) buf_putc(b, ',');
      obs_buf_printf(b, "%s=\"", extra_key);
      put_escaped(b, extra_val, true);
      buf_putc(b, '"');
    }
    buf_putc(b, '}');
  }
  buf_putc(b, ' ');
  put_value(b, value);
  buf_putc(b, '\n');
}

#define SAMPLE_MAX_LABELS 8

void obs_render_sample(obs_buf_t *b, const char *name, double value, ...) {
  const char *keys[SAMPLE_MAX_LABELS], *vals[SAMPLE_MAX_LABELS];
  int n = 0;
  va_list ap;
  va_start(ap, value);
  for (;;) {
    const char *k = va_arg(ap, const char *);
    if (!k) break;
    const char *v = va_arg(ap, const char *);
    if (n < SAMPLE_MAX_LABELS) {
      keys[n] = k;
      vals[n] = v ? v : "";
      n++;
    }
  }
  va_end(ap);
  put_sample(b, name, keys, vals, n, NULL, NULL, value);
}

static int compare_series(const void *a, const void *b) {
  const series_t *x = *(const series_t *const *)a, *y = *(const series_t *const *)b;
  for (int i = 0; i < families[x->family].nlabels; i++) {
    int c = strcmp(x->labels[i], y->labels[i]);
    if (c) return c;
  }
  return 0;
}

/* The series of one family, sorted by label values (caller frees). */
static series_t **family_series(int family, size_t *n) {
  series_t **out = malloc(TABLE_SLOTS * sizeof *out);
  *n = 0;
  if (!out) return NULL;
  for (uint32_t i = 0; i < TABLE_SLOTS; i++) {
    series_t *s = atomic_load_explicit(&table[i], memory_order_acquire);
    if (s && s->family == family) out[(*n)++] = s;
  }
  qsort(out, *n, sizeof *out, compare_series);
  return out;
}

/* A consistent reading of one histogram series. */
typedef struct {
  uint64_t cumulative[NBUCKETS + 1]; /* the last is +Inf == count */
  double sum;
} hist_read_t;

static void histogram_read(const series_t *s, hist_read_t *r) {
  uint64_t total = 0;
  for (int i = 0; i <= NBUCKETS; i++) {
    total += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
    r->cumulative[i] = total;
  }
  r->sum = bits_double(atomic_load_explicit(&s->sum_bits, memory_order_relaxed));
}

static void render_histogram_family(obs_buf_t *b, const family_t *f, series_t **ss, size_t n) {
  const size_t name_len = strlen(f->name);
  char bucket_name[128], sum_name[128], count_name[128];
  snprintf(bucket_name, sizeof bucket_name, "%.*s_bucket", (int)name_len, f->name);
  snprintf(sum_name, sizeof sum_name, "%.*s_sum", (int)name_len, f->name);
  snprintf(count_name, sizeof count_name, "%.*s_count", (int)name_len, f->name);
  hist_read_t *reads = malloc((n ? n : 1) * sizeof *reads);
  if (!reads) {
    b->failed = 1;
    return;
  }
  for (size_t i = 0; i < n; i++) histogram_read(ss[i], &reads[i]);
  if (f->counter_name) {
    obs_render_family(b, f->counter_name, "counter", f->counter_help);
    for (size_t i = 0; i < n; i++)
      put_sample(b, f->counter_name, f->labels, ss[i]->labels, f->nlabels, NULL, NULL,
                 (double)reads[i].cumulative[NBUCKETS]);
  }
  obs_render_family(b, f->name, "histogram", f->help);
  for (size_t i = 0; i < n; i++) {
    const hist_read_t *r = &reads[i];
    for (int k = 0; k < NBUCKETS; k++)
      put_sample(b, bucket_name, f->labels, ss[i]->labels, f->nlabels, "le", bucket_text[k],
                 (double)r->cumulative[k]);
    put_sample(b, bucket_name, f->labels, ss[i]->labels, f->nlabels, "le", "+Inf",
               (double)r->cumulative[NBUCKETS]);
    put_sample(b, sum_name, f->labels, ss[i]->labels, f->nlabels, NULL, NULL, r->sum);
    put_sample(b, count_name, f->labels, ss[i]->labels, f->nlabels, NULL, NULL,
               (double)r->cumulative[NBUCKETS]);
  }
  free(reads);
}

static void render_family(obs_buf_t *b, int family) {
  const family_t *f = &families[family];
  size_t n = 0;
  series_t **ss = family_series(family, &n);
  if (!ss) {
    b->failed = 1;
    return;
  }
  if (n > 0) {
    if (f->kind == KIND_HISTOGRAM) {
      render_histogram_family(b, f, ss, n);
    } else {
      obs_render_family(b, f->name, "counter", f->help);
      for (size_t i = 0; i < n; i++)
        put_sample(b, f->name, f->labels, ss[i]->labels, f->nlabels, NULL, NULL,
                   (double)atomic_load_explicit(&ss[i]->count, memory_order_relaxed));
    }
  }
  free(ss);
}

/* ---------------------------------------------------- process figures -- */

/* Resident set size in bytes from /proc/self/statm (0 if unreadable). */
static double resident_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  int got = fscanf(f, "%lu %lu", &size, &resident);
  fclose(f);
  if (got != 2) return 0;
  long page = sysconf(_SC_PAGESIZE);
  return (double)resident * (double)(page > 0 ? page : 4096);
}

/* Boot time (Unix seconds) from /proc/stat's btime line; 0 if unreadable. */
static double boot_time(void) {
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return 0;
  char line[512];
  double bt = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long long v;
    if (sscanf(line, "btime %llu", &v) == 1) {
      bt = (double)v;
      break;
    }
  }
  fclose(f);
  return bt;
}

/* The process start time (Unix seconds): boot time + /proc/self/stat's
 * starttime (field 22, in clock ticks). */
static double proc_start_time(void) {
  FILE *f = fopen("/proc/self/stat", "r");
  if (!f) return 0;
  char text[1024];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  const char *p = strrchr(text, ')'); /* the command name may hold spaces */
  if (!p) return 0;
  p++;
  /* After ')': field 3 (state) onward; starttime is field 22. */
  unsigned long long start = 0;
  int field = 2;
  while (*p && field < 22) {
    while (*p == ' ') p++;
    field++;
    if (field == 22) {
      start = strtoull(p, NULL, 10);
      break;
    }
    while (*p && *p != ' ') p++;
  }
  long ticks = sysconf(_SC_CLK_TCK);
  double bt = boot_time();
  if (bt <= 0 || ticks <= 0) return 0;
  return bt + (double)start / (double)ticks;
}

static double start_time_s;
static pthread_once_t start_once = PTHREAD_ONCE_INIT;

static void start_time_init(void) {
  start_time_s = proc_start_time();
  if (start_time_s <= 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    start_time_s = (double)ts.tv_sec;
  }
}

/* Entries of /proc/self/fd (this process's open descriptors), or -1. */
static long count_open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  long n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n - 1; /* the descriptor of the listing itself */
}

/* Threads of this process (/proc/self/stat field 20), or -1. */
static long count_threads(void) {
  FILE *f = fopen("/proc/self/stat", "r");
  if (!f) return -1;
  char buf[1024];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')'); /* the command name may hold spaces */
  long v = -1;
  for (int field = 2; p && *p; p++)
    if (*p == ' ' && ++field == 20) {
      v = strtol(p + 1, NULL, 10);
      break;
    }
  return v;
}

static void render_process(obs_buf_t *b) {
  pthread_once(&start_once, start_time_init);
  obs_render_family(b, "akidb_process_resident_memory_bytes", "gauge",
                    "Resident memory of the process in bytes.");
  obs_render_sample(b, "akidb_process_resident_memory_bytes", resident_bytes(), NULL);
  obs_render_family(b, "akidb_process_start_time_seconds", "gauge",
                    "Start time of the process since the Unix epoch in seconds.");
  obs_render_sample(b, "akidb_process_start_time_seconds", start_time_s, NULL);
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    obs_render_family(b, "akidb_process_cpu_seconds_total", "counter",
                      "User and system CPU time spent by the process in seconds.");
    obs_render_sample(b, "akidb_process_cpu_seconds_total", cpu, NULL);
  }
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  obs_render_family(b, "akidb_process_uptime_seconds", "gauge",
                    "Seconds since the process started.");
  obs_render_sample(b, "akidb_process_uptime_seconds",
                    (double)now.tv_sec + (double)now.tv_nsec / 1e9 - start_time_s, NULL);
  long fds = count_open_fds(), threads = count_threads();
  if (fds >= 0) {
    obs_render_family(b, "akidb_process_open_fds", "gauge", "Open file descriptors.");
    obs_render_sample(b, "akidb_process_open_fds", (double)fds, NULL);
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    obs_render_family(b, "akidb_process_max_fds", "gauge",
                      "The open file descriptor limit (RLIMIT_NOFILE, soft).");
    obs_render_sample(b, "akidb_process_max_fds", (double)rl.rlim_cur, NULL);
  }
  if (threads >= 0) {
    obs_render_family(b, "akidb_process_threads", "gauge", "Threads of the process.");
    obs_render_sample(b, "akidb_process_threads", (double)threads, NULL);
  }
  obs_render_family(b, "akidb_build_info", "gauge", "AkiDB build; the value is always 1.");
  obs_render_sample(b, "akidb_build_info", 1, "version", AKIDB_VERSION_STRING, NULL);
}

void obs_render_histogram(obs_buf_t *b, const char *name, const char *label,
                          const char *label_value, const double *bounds, size_t n,
                          const uint64_t *cumulative, uint64_t count, double sum) {
  char bucket[128], sum_name[128], count_name[128], le[32];
  snprintf(bucket, sizeof bucket, "%s_bucket", name);
  snprintf(sum_name, sizeof sum_name, "%s_sum", name);
  snprintf(count_name, sizeof count_name, "%s_count", name);
  for (size_t i = 0; i <= n; i++) {
    if (i < n) snprintf(le, sizeof le, "%g", bounds[i]);
    else snprintf(le, sizeof le, "+Inf");
    double v = (double)(i < n ? cumulative[i] : count);
    if (label) obs_render_sample(b, bucket, v, label, label_value, "le", le, NULL);
    else obs_render_sample(b, bucket, v, "le", le, NULL);
  }
  if (label) {
    obs_render_sample(b, sum_name, sum, label, label_value, NULL);
    obs_render_sample(b, count_name, (double)count, label, label_value, NULL);
  } else {
    obs_render_sample(b, sum_name, sum, NULL);
    obs_render_sample(b, count_name, (double)count, NULL);
  }
}

/* ------------------------------------------------------------- storage -- */

/* The storage engine's process-wide latency histograms (src/store/timing.c). */
static void render_store_timings(obs_buf_t *b) {
  static const struct {
    akidb_store_timing_t t;
    const char *name, *help;
  } fams[] = {
      {AKIDB_STORE_TIMING_WAL_APPEND, "akidb_wal_append_duration_seconds",
       "Time of one write-ahead log append (one batch's records written, before its fsync)."},
      {AKIDB_STORE_TIMING_WAL_FSYNC, "akidb_wal_fsync_duration_seconds",
       "Time of one write-ahead log fdatasync."},
      {AKIDB_STORE_TIMING_CHECKPOINT, "akidb_checkpoint_duration_seconds",
       "Time of one checkpoint (written, synced and renamed)."},
      {AKIDB_STORE_TIMING_COMPACTION, "akidb_compaction_duration_seconds",
       "Time of one graph compaction (the rebuild without deleted points)."},
  };
  const double *bounds = akidb_store_timing_bounds();
  for (size_t f = 0; f < sizeof fams / sizeof *fams; f++) {
    akidb_store_histogram_t h;
    akidb_store_timing(fams[f].t, &h);
    obs_render_family(b, fams[f].name, "histogram", fams[f].help);
    obs_render_histogram(b, fams[f].name, NULL, NULL, bounds, AKIDB_STORE_TIMING_NBOUNDS,
                         h.cumulative, h.count, h.sum_seconds);
  }
}

/* ------------------------------------------------------------- tracing -- */

/* The tracer's counters (src/trace/: zero while tracing is off). */
static void render_tracing(obs_buf_t *b) {
  trace_stats_t st;
  trace_stats(&st);
  obs_render_family(b, "akidb_trace_spans_started_total", "counter", "Sampled spans begun.");
  obs_render_sample(b, "akidb_trace_spans_started_total", (double)st.spans_started, NULL);
  obs_render_family(b, "akidb_trace_spans_exported_total", "counter",
                    "Spans the OTLP collector accepted.");
  obs_render_sample(b, "akidb_trace_spans_exported_total", (double)st.spans_exported, NULL);
  obs_render_family(b, "akidb_trace_spans_dropped_total", "counter",
                    "Spans lost, by reason (queue_full: the export queue was full when the span "
                    "ended; export: in a batch the collector did not take; shutdown).");
  obs_render_sample(b, "akidb_trace_spans_dropped_total", (double)st.dropped_queue_full,
                    "reason", "queue_full", NULL);
  obs_render_sample(b, "akidb_trace_spans_dropped_total", (double)st.dropped_export, "reason",
                    "export", NULL);
  obs_render_sample(b, "akidb_trace_spans_dropped_total", (double)st.dropped_shutdown, "reason",
                    "shutdown", NULL);
  obs_render_family(b, "akidb_trace_export_failures_total", "counter",
                    "Span batches given up after a failed export (and its retry).");
  obs_render_sample(b, "akidb_trace_export_failures_total", (double)st.export_failures, NULL);
  obs_render_family(b, "akidb_trace_queue_spans", "gauge", "Spans waiting for export.");
  obs_render_sample(b, "akidb_trace_queue_spans", (double)st.queue_depth, NULL);
}

/* ---------------------------------------------------------- embeddings -- */

/* The embedding providers' totals (src/embed/: counted there, per provider). */
static void render_embedding_counters(obs_buf_t *b, const akidb_embed_stats_t *st,
                                      const char *const *names) {
  obs_render_family(b, "akidb_embedding_calls_total", "counter",
                    "Embedding calls (one per upsert batch, query or /v1/embeddings request), by "
                    "provider and outcome.");
  for (int p = 0; p < 2; p++) {
    obs_render_sample(b, "akidb_embedding_calls_total", (double)st[p].calls_ok, "provider",
                      names[p], "outcome", "ok", NULL);
    obs_render_sample(b, "akidb_embedding_calls_total", (double)st[p].calls_failed, "provider",
                      names[p], "outcome", "failed", NULL);
  }
  obs_render_family(b, "akidb_embedding_http_requests_total", "counter",
                    "HTTP requests to model servers (attempts, retries included), by outcome.");
  obs_render_sample(b, "akidb_embedding_http_requests_total", (double)st[1].requests_ok,
                    "provider", names[1], "outcome", "ok", NULL);
  obs_render_sample(b, "akidb_embedding_http_requests_total", (double)st[1].requests_failed,
                    "provider", names[1], "outcome", "failed", NULL);
  obs_render_family(b, "akidb_embedding_errors_total", "counter",
                    "Failed attempts to embed, by provider and cause.");
  for (int c = 0; c < AKIDB_EMBED_CAUSE_COUNT; c++)
    obs_render_sample(b, "akidb_embedding_errors_total", (double)st[1].errors[c], "provider",
                      names[1], "cause", akidb_embed_cause_name((akidb_embed_cause_t)c), NULL);
  obs_render_family(b, "akidb_embedding_retries_total", "counter",
                    "Retried HTTP requests to model servers.");
  obs_render_sample(b, "akidb_embedding_retries_total", (double)st[1].retries, "provider",
                    names[1], NULL);
  obs_render_family(b, "akidb_embedding_inputs_total", "counter",
                    "Texts embedded by successful calls, by provider.");
  obs_render_family(b, "akidb_embedding_input_bytes_total", "counter",
                    "Bytes of text embedded by successful calls, by provider.");
  for (int p = 0; p < 2; p++) {
    obs_render_sample(b, "akidb_embedding_inputs_total", (double)st[p].inputs_embedded,
                      "provider", names[p], NULL);
    obs_render_sample(b, "akidb_embedding_input_bytes_total", (double)st[p].bytes_embedded,
                      "provider", names[p], NULL);
  }
}

/* The call latency histogram (cumulative buckets of the provider's bounds). */
static void render_embedding_latency(obs_buf_t *b, const akidb_embed_stats_t *st,
                                     const char *const *names) {
  const uint32_t *bounds = akidb_embed_latency_bounds_ms();
  obs_render_family(b, "akidb_embedding_call_duration_seconds", "histogram",
                    "Time of one embedding call (all its batches and retries), by provider.");
  for (int p = 0; p < 2; p++) {
    if (p == 1 && st[p].calls_ok + st[p].calls_failed == 0) continue; /* no model server used */
    uint64_t cum = 0;
    char le[32];
    for (unsigned i = 0; i < AKIDB_EMBED_LATENCY_BUCKETS; i++) {
      cum += st[p].call_latency[i];
      if (i + 1 < AKIDB_EMBED_LATENCY_BUCKETS) snprintf(le, sizeof le, "%g", bounds[i] / 1000.0);
      else snprintf(le, sizeof le, "+Inf");
      obs_render_sample(b, "akidb_embedding_call_duration_seconds_bucket", (double)cum,
                        "provider", names[p], "le", le, NULL);
    }
    obs_render_sample(b, "akidb_embedding_call_duration_seconds_sum",
                      (double)st[p].call_latency_sum_us / 1e6, "provider", names[p], NULL);
    obs_render_sample(b, "akidb_embedding_call_duration_seconds_count", (double)cum, "provider",
                      names[p], NULL);
  }
  obs_render_family(b, "akidb_embedding_breakers_open", "gauge",
                    "Circuit breakers of model servers that are open now (calls refused).");
  obs_render_sample(b, "akidb_embedding_breakers_open", (double)akidb_embed_breakers_open(),
                    NULL);
}

static void render_embeddings(obs_buf_t *b) {
  static const char *const names[2] = {"builtin", "openai"};
  akidb_embed_stats_t st[2];
  akidb_embed_totals(AKIDB_EMBED_BUILTIN, &st[0]);
  akidb_embed_totals(AKIDB_EMBED_OPENAI, &st[1]);
  render_embedding_counters(b, st, names);
  render_embedding_latency(b, st, names);
}

void obs_metrics_render(obs_buf_t *b) {
  registry_ready();
  for (int f = 0; f < FAM_COUNT; f++) render_family(b, f);
  render_embeddings(b);
  render_store_timings(b);
  render_tracing(b);
  obs_render_family(b, "akidb_metrics_dropped_observations_total", "counter",
                    "Observations dropped because the metrics registry was full.");
  obs_render_sample(b, "akidb_metrics_dropped_observations_total",
                    (double)atomic_load_explicit(&dropped_total, memory_order_relaxed), NULL);
  render_process(b);
}
