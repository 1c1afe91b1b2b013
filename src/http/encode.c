/*
 * http/encode.c — encoders of the REST transport built on the JSON writer
 * (json_write.c): the error body {"error":{"code","message"}}, and the
 * /metrics page (the registry plus per-collection figures from the service).
 * Stateless; thread-safe (the service visits collections under its own
 * lock).
 */
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"

long http_encode_error(akidb_status_t status, const char *message, char **buf, size_t *cap) {
  json_t *msg = json_string(message ? message : "");
  if (!msg) {
    /* Not valid UTF-8: keep the ASCII, replace the rest. */
    size_t n = strlen(message);
    char *ascii = malloc(n + 1);
    if (!ascii) return -1;
    for (size_t i = 0; i <= n; i++) ascii[i] = (unsigned char)message[i] >= 0x80 ? '?' : message[i];
    msg = json_string(ascii);
    free(ascii);
    if (!msg) return -1;
  }
  json_t *body =
      json_pack("{s:{s:s,s:o}}", "error", "code", akidb_status_code(status), "message", msg);
  if (!body) return -1;
  long len = http_encode_json(body, buf, cap);
  json_decref(body);
  return len;
}

/* --------------------------------------------------------- /metrics page -- */

/* The loaded collections' figures, gathered while the service visits them:
 * summed for the server-wide gauges and, when asked for, kept for the
 * per-collection series (labels copied: the visit's strings are borrowed). */
typedef struct {
  char *tenant, *database, *collection;
  uint64_t points, pending, memory_bytes, disk_bytes;
} coll_row_t;

typedef struct {
  bool keep_rows;
  coll_row_t *rows;
  size_t n, cap;
  bool failed; /* out of memory while keeping rows */
  uint64_t points, pending, disk_bytes, wal_failed;
  double oldest_checkpoint_age;
} figures_t;

static void figures_visit(void *ctx, const akidb_collection_figures_t *f) {
  figures_t *g = ctx;
  g->points += f->points;
  g->pending += f->pending;
  g->disk_bytes += f->disk_bytes;
  g->wal_failed += f->wal_failed ? 1 : 0;
  if (f->checkpoint_age_seconds > g->oldest_checkpoint_age)
    g->oldest_checkpoint_age = f->checkpoint_age_seconds;
  if (!g->keep_rows || g->failed) return;
  if (g->n == g->cap) {
    size_t cap = g->cap ? g->cap * 2 : 64;
    coll_row_t *r = realloc(g->rows, cap * sizeof *r);
    if (!r) {
      g->failed = true;
      return;
    }
    g->rows = r, g->cap = cap;
  }
  coll_row_t *r = &g->rows[g->n];
  *r = (coll_row_t){strdup(f->tenant ? f->tenant : ""), strdup(f->database ? f->database : ""),
                    strdup(f->collection ? f->collection : ""), f->points, f->pending,
                    f->memory_bytes, f->disk_bytes};
  if (!r->tenant || !r->database || !r->collection) {
    free(r->tenant), free(r->database), free(r->collection);
    g->failed = true;
    return;
  }
  g->n++;
}

static void figures_free(figures_t *g) {
  for (size_t i = 0; i < g->n; i++)
    free(g->rows[i].tenant), free(g->rows[i].database), free(g->rows[i].collection);
  free(g->rows);
}

static int by_memory_desc(const void *a, const void *b) {
  const coll_row_t *x = a, *y = b;
  return x->memory_bytes > y->memory_bytes ? -1 : x->memory_bytes < y->memory_bytes;
}

/* The opt-in per-collection series: the `limit` collections holding the
 * most memory each, the rest summed as collection="other". */
static void render_per_collection(obs_buf_t *b, figures_t *g, uint32_t limit) {
  static const struct {
    const char *name, *help;
  } fams[4] = {
      {"akidb_collection_points", "Live points in the collection (per-collection series: "
                                  "the largest by memory; the rest as collection=\"other\")."},
      {"akidb_collection_pending_points", "Points acknowledged but not yet in the collection's "
                                          "HNSW graph (per-collection series)."},
      {"akidb_collection_memory_bytes", "Memory held by the collection in bytes "
                                        "(per-collection series)."},
      {"akidb_collection_disk_bytes", "Disk used by the collection (log and checkpoints) in "
                                      "bytes (per-collection series)."},
  };
  qsort(g->rows, g->n, sizeof *g->rows, by_memory_desc);
  size_t shown = g->n < limit ? g->n : limit;
  uint64_t other[4] = {0};
  for (size_t i = shown; i < g->n; i++) {
    other[0] += g->rows[i].points, other[1] += g->rows[i].pending;
    other[2] += g->rows[i].memory_bytes, other[3] += g->rows[i].disk_bytes;
  }
  for (int f = 0; f < 4; f++) {
    obs_render_family(b, fams[f].name, "gauge", fams[f].help);
    for (size_t i = 0; i < shown; i++) {
      const coll_row_t *r = &g->rows[i];
      uint64_t v[4] = {r->points, r->pending, r->memory_bytes, r->disk_bytes};
      obs_render_sample(b, fams[f].name, (double)v[f], "tenant", r->tenant, "database",
                        r->database, "collection", r->collection, NULL);
    }
    if (g->n > shown)
      obs_render_sample(b, fams[f].name, (double)other[f], "tenant", "", "database", "",
                        "collection", "other", NULL);
  }
}

/* Server-wide figures of the loaded collections. */
static void render_collections(obs_buf_t *b, const figures_t *g) {
  const struct {
    const char *name, *help;
    double value;
  } rows[] = {
      {"akidb_points", "Live points in the loaded collections.", (double)g->points},
      {"akidb_pending_points",
       "Points acknowledged but not yet in the HNSW graph, in the loaded collections.",
       (double)g->pending},
      {"akidb_disk_bytes", "Disk used by the loaded collections (logs and checkpoints) in bytes.",
       (double)g->disk_bytes},
      {"akidb_collections_wal_failed",
       "Loaded collections whose write-ahead log is in sticky failure (writes refused until "
       "the collection is reopened).",
       (double)g->wal_failed},
      {"akidb_checkpoint_oldest_age_seconds",
       "The longest any loaded collection with log records newer than its last checkpoint has "
       "gone without one, in seconds (0: none).",
       g->oldest_checkpoint_age},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    obs_render_family(b, rows[i].name, "gauge", rows[i].help);
    obs_render_sample(b, rows[i].name, rows[i].value, NULL);
  }
}

/* Residency and worker-pool figures of the whole server: one row each
 * (family, type, help, the label pair or NULL, the value). */
static void render_tiers(akidb_service_t *svc, obs_buf_t *b) {
  akidb_tier_figures_t t;
  akidb_service_tier_figures(svc, &t);
  const struct {
    const char *name, *type, *help, *label, *label_value;
    double value;
  } rows[] = {
      {"akidb_collections", "gauge",
       "Collections known to the server, by tier (hot: in memory; warm: on local disk, loaded "
       "on first use; cold: only in the object store, downloaded on first use).", "tier", "hot",
       (double)t.hot},
      {"akidb_collections", NULL, NULL, "tier", "warm", (double)t.warm},
      {"akidb_collections", NULL, NULL, "tier", "cold", (double)t.cold},
      {"akidb_dead_letters", "gauge",
       "Object-store work (cold uploads, deletes) waiting in the dead-letter queue for a retry.",
       NULL, NULL, (double)t.dead_letters},
      {"akidb_collections_load_failed", "gauge",
       "Collections whose last load failed (retried on their next use).", NULL, NULL,
       (double)t.failed},
      {"akidb_resident_memory_bytes", "gauge",
       "Memory held by the resident collections, as they count it, in bytes.", NULL, NULL,
       (double)t.resident_bytes},
      {"akidb_memory_budget_bytes", "gauge", "storage.memory_budget_bytes (0 = unlimited).", NULL,
       NULL, (double)t.budget_bytes},
      {"akidb_worker_threads", "gauge", "Threads of the worker pool.", NULL, NULL,
       (double)t.worker_threads},
      {"akidb_worker_queued_jobs", "gauge",
       "Jobs (indexing slices, checkpoints, tiering) waiting for a worker.", NULL, NULL,
       (double)t.worker_queued},
      {"akidb_worker_slices_total", "counter", "Job slices the worker pool has run.", NULL, NULL,
       (double)t.worker_slices},
      {"akidb_data_dir_free_bytes", "gauge",
       "Bytes free for the server on the data directory's file system.", NULL, NULL,
       (double)t.data_free_bytes},
      {"akidb_data_dir_size_bytes", "gauge", "Size of the data directory's file system in bytes.",
       NULL, NULL, (double)t.data_size_bytes},
      {"akidb_ready", "gauge", "1 when GET /ready answers 200 (the catalog is open), else 0.",
       NULL, NULL, t.ready ? 1.0 : 0.0},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    if (rows[i].type) obs_render_family(b, rows[i].name, rows[i].type, rows[i].help);
    obs_render_sample(b, rows[i].name, rows[i].value, rows[i].label, rows[i].label_value, NULL);
  }
}

/* One object-store operation's latency histogram (cumulative buckets). */
static void render_store_latency(obs_buf_t *b, const char *op, const akidb_objstore_op_stats_t *o) {
  obs_render_histogram(b, "akidb_object_store_request_duration_seconds", "op", op,
                       akidb_objstore_latency_bounds(), AKIDB_OBJSTORE_LATENCY_NBOUNDS,
                       o->latency_le, o->latency_le[AKIDB_OBJSTORE_LATENCY_NBOUNDS],
                       o->latency_sum_s);
}

/* The object store: requests, errors, retries and latency by operation,
 * bytes each way, the circuit breaker. */
static void render_object_store(akidb_service_t *svc, obs_buf_t *b) {
  akidb_objstore_stats_t st;
  akidb_service_object_store_stats(svc, &st);
  /* Operations never called have no series (bounded cardinality: most
   * servers use a few of the nine); put and get always show. */
  bool used[AKIDB_OBJSTORE_OP_COUNT];
  for (int op = 0; op < AKIDB_OBJSTORE_OP_COUNT; op++)
    used[op] = st.op[op].calls > 0 || op == AKIDB_OBJSTORE_OP_PUT || op == AKIDB_OBJSTORE_OP_GET;
  obs_render_family(b, "akidb_object_store_requests_total", "counter",
                    "Object-store calls by operation and outcome (a retried call counts once).");
  for (int op = 0; op < AKIDB_OBJSTORE_OP_COUNT; op++) {
    if (!used[op]) continue;
    const akidb_objstore_op_stats_t *o = &st.op[op];
    obs_render_sample(b, "akidb_object_store_requests_total", (double)(o->calls - o->errors), "op",
                      akidb_objstore_op_name(op), "outcome", "ok", NULL);
    obs_render_sample(b, "akidb_object_store_requests_total", (double)o->errors, "op",
                      akidb_objstore_op_name(op), "outcome", "error", NULL);
  }
  obs_render_family(b, "akidb_object_store_retries_total", "counter",
                    "Extra attempts of object-store calls after transient failures.");
  for (int op = 0; op < AKIDB_OBJSTORE_OP_COUNT; op++)
    if (used[op])
      obs_render_sample(b, "akidb_object_store_retries_total", (double)st.op[op].retries, "op",
                        akidb_objstore_op_name(op), NULL);
  obs_render_family(b, "akidb_object_store_request_duration_seconds", "histogram",
                    "Time of one object-store call (retries included), by operation.");
  for (int op = 0; op < AKIDB_OBJSTORE_OP_COUNT; op++)
    if (used[op]) render_store_latency(b, akidb_objstore_op_name(op), &st.op[op]);
  uint64_t in = 0, out = 0;
  for (int op = 0; op < AKIDB_OBJSTORE_OP_COUNT; op++) {
    in += st.op[op].bytes_in;
    out += st.op[op].bytes_out;
  }
  obs_render_family(b, "akidb_object_store_bytes_total", "counter",
                    "Payload bytes received from (in) and sent to (out) the object store.");
  obs_render_sample(b, "akidb_object_store_bytes_total", (double)in, "direction", "in", NULL);
  obs_render_sample(b, "akidb_object_store_bytes_total", (double)out, "direction", "out", NULL);
  obs_render_family(b, "akidb_object_store_breaker_state", "gauge",
                    "The object store's circuit breaker: 0 closed, 1 half-open (one probe), 2 "
                    "open (calls fail at once).");
  obs_render_sample(b, "akidb_object_store_breaker_state", (double)st.breaker_state, NULL);
  obs_render_family(b, "akidb_object_store_breaker_opens_total", "counter",
                    "Times the object store's circuit breaker opened.");
  obs_render_sample(b, "akidb_object_store_breaker_opens_total", (double)st.breaker_opens, NULL);
  obs_render_family(b, "akidb_object_store_breaker_probes_total", "counter",
                    "Half-open probe requests the object store's circuit breaker let through "
                    "(after each cool-down; a successful one closes it).");
  obs_render_sample(b, "akidb_object_store_breaker_probes_total", (double)st.breaker_probes,
                    NULL);
}

void http_render_metrics(akidb_service_t *svc, const http_options_t *o, obs_buf_t *b) {
  obs_metrics_render(b);
  if (!svc) return;
  render_tiers(svc, b);
  render_object_store(svc, b);
  figures_t g = {.keep_rows = o && o->metrics_per_collection};
  akidb_service_visit_collections(svc, figures_visit, &g);
  render_collections(b, &g);
  if (g.failed) b->failed = 1;
  else if (g.keep_rows) render_per_collection(b, &g, o->metrics_per_collection_limit);
  figures_free(&g);
}
