/*
 * obs/log.h — the server's structured log: one line per event on stderr, in
 * `text` (key=value) or `json` (one object per line) format, with a level
 * threshold. Thread-safe (one write(2) per line).
 */
#ifndef AKIDB_OBS_LOG_H
#define AKIDB_OBS_LOG_H

#include <stdbool.h>

#include "akidb/store.h" /* akidb_log_level_t */

typedef enum { OBS_LOG_TEXT = 0, OBS_LOG_JSON = 1 } obs_log_format_t;

/* "text"/"json" → format; "debug"/"info"/"warn"/"error" → level.
 * AKIDB_OK or AKIDB_EINVAL. */
int obs_log_format_parse(const char *s, obs_log_format_t *out);
int obs_log_level_parse(const char *s, akidb_log_level_t *out);

/* Sets the process-wide format and threshold (default text, info). */
void obs_log_setup(obs_log_format_t format, akidb_log_level_t level);

/* One event: `msg` plus optional key/value string pairs, NULL-terminated:
 * obs_log(AKIDB_LOG_INFO, "listening", "addr", "127.0.0.1:8080", NULL). */
void obs_log(akidb_log_level_t level, const char *msg, ...);

/* The access log line of one request. */
void obs_log_request(const char *request_id, const char *method, const char *route,
                     const char *path, int status, double duration_ms, const char *tenant);

/* The access log line of one gRPC call: its method's path, status code
 * (name and number), duration, and tenant ("" when the call named none). */
void obs_log_rpc(const char *request_id, const char *method, const char *code_name, int code,
                 double duration_ms, const char *tenant);

/* An akidb_log_fn for collections and the service (ctx unused). */
void obs_log_sink(void *ctx, akidb_log_level_t level, const char *msg);

#endif /* AKIDB_OBS_LOG_H */
