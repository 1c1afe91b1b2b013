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
       "on first use).", "tier", "hot", (double)t.hot},
      {"akidb_collections", NULL, NULL, "tier", "warm", (double)t.warm},
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

void http_render_metrics(akidb_service_t *svc, obs_buf_t *b) {
  obs_metrics_render(b);
  if (!svc) return;
  render_tiers(svc, b);
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
