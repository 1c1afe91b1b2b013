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

/* One family of per-collection figures, rendered into its own buffer while
 * the service visits collections, then appended to the page. */
typedef struct {
  const char *name, *type, *help;
} figure_family_t;

enum {
  FIG_POINTS,
  FIG_PENDING,
  FIG_MEMORY,
  FIG_DISK,
  FIG_FSYNCS,
  FIG_FSYNC_SECONDS,
  FIG_CHECKPOINTS,
  FIG_CHECKPOINT_SECONDS,
  FIG_COUNT
};

static const figure_family_t figure_families[FIG_COUNT] = {
    [FIG_POINTS] = {"akidb_collection_points", "gauge", "Live points in the collection."},
    [FIG_PENDING] = {"akidb_collection_pending_points", "gauge",
                     "Points acknowledged but not yet in the HNSW graph."},
    [FIG_MEMORY] = {"akidb_collection_memory_bytes", "gauge",
                    "Memory held by the collection in bytes."},
    [FIG_DISK] = {"akidb_collection_disk_bytes", "gauge",
                  "Disk used by the collection (log and checkpoints) in bytes."},
    [FIG_FSYNCS] = {"akidb_wal_fsyncs_total", "counter",
                    "Write-ahead log fdatasync calls since the collection was opened."},
    [FIG_FSYNC_SECONDS] = {"akidb_wal_fsync_seconds_total", "counter",
                           "Time spent in write-ahead log fdatasync since the collection was "
                           "opened, in seconds."},
    [FIG_CHECKPOINTS] = {"akidb_checkpoints_total", "counter",
                         "Checkpoints written since the collection was opened."},
    [FIG_CHECKPOINT_SECONDS] = {"akidb_checkpoint_last_seconds", "gauge",
                                "Duration of the collection's last checkpoint in seconds."},
};

typedef struct {
  obs_buf_t part[FIG_COUNT];
  size_t n;
} figures_page_t;

static void figures_visit(void *ctx, const akidb_collection_figures_t *f) {
  figures_page_t *pg = ctx;
  const double values[FIG_COUNT] = {
      [FIG_POINTS] = (double)f->points,
      [FIG_PENDING] = (double)f->pending,
      [FIG_MEMORY] = (double)f->memory_bytes,
      [FIG_DISK] = (double)f->disk_bytes,
      [FIG_FSYNCS] = (double)f->wal_fsyncs,
      [FIG_FSYNC_SECONDS] = (double)f->wal_fsync_ns / 1e9,
      [FIG_CHECKPOINTS] = (double)f->checkpoints,
      [FIG_CHECKPOINT_SECONDS] = f->last_checkpoint_seconds,
  };
  for (int i = 0; i < FIG_COUNT; i++)
    obs_render_sample(&pg->part[i], figure_families[i].name, values[i], "tenant",
                      f->tenant ? f->tenant : "", "database", f->database ? f->database : "",
                      "collection", f->collection ? f->collection : "", NULL);
  pg->n++;
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
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    if (rows[i].type) obs_render_family(b, rows[i].name, rows[i].type, rows[i].help);
    obs_render_sample(b, rows[i].name, rows[i].value, rows[i].label, rows[i].label_value, NULL);
  }
}

/* One object-store operation's latency histogram (cumulative buckets). */
static void render_store_latency(obs_buf_t *b, const char *op, const akidb_objstore_op_stats_t *o) {
  static const char *name = "akidb_object_store_request_duration_seconds";
  const double *bounds = akidb_objstore_latency_bounds();
  char le[32];
  for (int i = 0; i < AKIDB_OBJSTORE_LATENCY_NBOUNDS; i++) {
    snprintf(le, sizeof le, "%g", bounds[i]);
    obs_render_sample(b, "akidb_object_store_request_duration_seconds_bucket",
                      (double)o->latency_le[i], "op", op, "le", le, NULL);
  }
  obs_render_sample(b, "akidb_object_store_request_duration_seconds_bucket",
                    (double)o->latency_le[AKIDB_OBJSTORE_LATENCY_NBOUNDS], "op", op, "le", "+Inf",
                    NULL);
  char sum[96], count[96];
  snprintf(sum, sizeof sum, "%s_sum", name);
  snprintf(count, sizeof count, "%s_count", name);
  obs_render_sample(b, sum, o->latency_sum_s, "op", op, NULL);
  obs_render_sample(b, count, (double)o->latency_le[AKIDB_OBJSTORE_LATENCY_NBOUNDS], "op", op,
                    NULL);
}

/* The object store: requests, errors, retries and latency by operation,
 * bytes each way, the circuit breaker. */
static void render_object_store(akidb_service_t *svc, obs_buf_t *b) {
  akidb_objstore_stats_t st;
  akidb_service_object_store_stats(svc, &st);
  obs_render_family(b, "akidb_object_store_requests_total", "counter",
                    "Object-store calls by operation and outcome (a retried call counts once).");
  for (int op = 0; op < AKIDB_OBJSTORE_OP_COUNT; op++) {
    const akidb_objstore_op_stats_t *o = &st.op[op];
    obs_render_sample(b, "akidb_object_store_requests_total", (double)(o->calls - o->errors), "op",
                      akidb_objstore_op_name(op), "outcome", "ok", NULL);
    obs_render_sample(b, "akidb_object_store_requests_total", (double)o->errors, "op",
                      akidb_objstore_op_name(op), "outcome", "error", NULL);
  }
  obs_render_family(b, "akidb_object_store_retries_total", "counter",
                    "Extra attempts of object-store calls after transient failures.");
  for (int op = 0; op < AKIDB_OBJSTORE_OP_COUNT; op++)
    obs_render_sample(b, "akidb_object_store_retries_total", (double)st.op[op].retries, "op",
                      akidb_objstore_op_name(op), NULL);
  obs_render_family(b, "akidb_object_store_request_duration_seconds", "histogram",
                    "Time of one object-store call (retries included), by operation.");
  for (int op = 0; op < AKIDB_OBJSTORE_OP_COUNT; op++)
    render_store_latency(b, akidb_objstore_op_name(op), &st.op[op]);
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

void http_render_metrics(akidb_service_t *svc, obs_buf_t *b) {
  obs_metrics_render(b);
  if (!svc) return;
  render_tiers(svc, b);
  render_object_store(svc, b);
  figures_page_t pg;
  memset(&pg, 0, sizeof pg);
  akidb_service_visit_collections(svc, figures_visit, &pg);
  for (int i = 0; i < FIG_COUNT; i++) {
    if (pg.n > 0) {
      obs_render_family(b, figure_families[i].name, figure_families[i].type,
                        figure_families[i].help);
      if (pg.part[i].failed)
        b->failed = 1;
      else if (pg.part[i].len)
        obs_buf_printf(b, "%.*s", (int)pg.part[i].len, pg.part[i].data);
    }
    obs_buf_free(&pg.part[i]);
  }
}
