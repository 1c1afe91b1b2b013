/*
 * obs/metrics.h — the process-wide Prometheus registry: counters and
 * histograms with labels, updated from any thread without blocking the hot
 * path for long, rendered in the Prometheus text exposition format (0.0.4)
 * for GET /metrics.
 */
#ifndef AKIDB_OBS_METRICS_H
#define AKIDB_OBS_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* One HTTP request: akidb_http_requests_total{route,method,status} and
 * akidb_http_request_duration_seconds{route,method,status} (histogram).
 * `route` is the route pattern ("/v1/tenants/{tenant}"), never the raw path. */
void obs_http_observe(const char *route, const char *method, int status, double seconds);

/* One gRPC call: akidb_grpc_requests_total{method,code} and
 * akidb_grpc_request_duration_seconds{method,code} (histogram). `method`
 * is a served method's path ("/akidb.v1.PointService/Search") or NULL for
 * one the server does not serve ("unimplemented": never the raw path);
 * `code` is the status name ("OK", "INVALID_ARGUMENT"). */
void obs_grpc_observe(const char *method, const char *code, double seconds);

/* One search request (of `queries` queries) of `mode` ("vector", "text",
 * "hybrid"): akidb_search_duration_seconds{mode} (histogram),
 * akidb_search_queries_total{mode}. */
void obs_search_observe(const char *mode, double seconds, uint32_t queries);

/* A failed request: akidb_errors_total{code} (the status code name,
 * "invalid_argument"; a closed set). */
void obs_error(const char *code);

/* A completed tier move: akidb_tier_transitions_total{from,to} (string
 * literals: "hot", "warm", "cold"). */
void obs_tier_transition(const char *from, const char *to);

/* A request slower than log.slow_request_ms: akidb_slow_requests_total{op}
 * (the operation's name, a closed set). */
void obs_slow_request(const char *op);

/* One upsert batch: akidb_points_upserted_total, akidb_upsert_duration_seconds. */
void obs_upsert_observe(double seconds, uint32_t points);

/* akidb_quota_rejections_total{quota} ("qps", "storage", "memory", "collections"). */
void obs_quota_rejection(const char *quota);

/* akidb_logins_total{outcome} ("success", "failure", "throttled"). */
void obs_login_observe(const char *outcome);

/* Residency: akidb_collection_load_duration_seconds{outcome} (histogram;
 * also akidb_collection_loads_total{outcome}), akidb_collection_unloads_total
 * {reason} ("idle", "budget", "api", "pinned"), and
 * akidb_collection_tier_changes_total{tier} (asked through the API). */
void obs_collection_load_observe(double seconds, int ok);
void obs_collection_unload(const char *reason);
void obs_tier_change(const char *tier);

/* akidb_snapshot_duration_seconds{op,outcome} (histogram; also
 * akidb_snapshots_total{op,outcome}): op "create" or "restore". */
void obs_snapshot_observe(const char *op, double seconds, int ok);

/* akidb_collection_cold_moves_total{to,outcome}: to "cold" or "warm". */
void obs_cold_move(const char *to, int ok);

/* A growable text buffer for rendering. */
typedef struct {
  char *data;
  size_t len, cap;
  int failed; /* allocation failed: the buffer is incomplete */
} obs_buf_t;

void obs_buf_printf(obs_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void obs_buf_free(obs_buf_t *b);

/* Appends "# HELP"/"# TYPE" lines of a family (once per render). */
void obs_render_family(obs_buf_t *b, const char *name, const char *type, const char *help);
/* Appends one sample: name{k1="v1",k2="v2"} value — labels as NULL-terminated
 * key/value pairs; values escaped per the exposition format. */
void obs_render_sample(obs_buf_t *b, const char *name, double value, ...);

/* Appends the samples of one histogram series kept outside the registry:
 * name_bucket{[label="value",]le="..."} for each of the n bounds (seconds)
 * and +Inf, then _sum and _count; cumulative[i] counts the observations <=
 * bounds[i], `count` all of them. label may be NULL (no label). The family
 * line is the caller's. */
void obs_render_histogram(obs_buf_t *b, const char *name, const char *label,
                          const char *label_value, const double *bounds, size_t n,
                          const uint64_t *cumulative, uint64_t count, double sum);

/* Renders every registered family plus process figures
 * (akidb_process_resident_memory_bytes, akidb_process_start_time_seconds,
 * akidb_build_info) into `b`. */
void obs_metrics_render(obs_buf_t *b);

#endif /* AKIDB_OBS_METRICS_H */
