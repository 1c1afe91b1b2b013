/*
 * http/http.h — the REST transport: libmicrohttpd (epoll, thread pool,
 * keep-alive, optional TLS) + jansson. Decodes a request (route, path and
 * query parameters, JSON body within the limits), calls akidb_service_call,
 * encodes the answer or {"error":{"code","message"}}, echoes X-Request-Id,
 * logs one line per request and records the request metrics. /health,
 * /ready and /metrics are served here too. No business rule lives here.
 */
#ifndef AKIDB_HTTP_H
#define AKIDB_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "service/service.h"

typedef struct {
  const char *host;         /* listen address; default "127.0.0.1" */
  uint16_t port;            /* 0 → an ephemeral port (see http_server_port) */
  uint32_t threads;         /* 0 → a thread per connection; N → a pool of N epoll threads */
  uint32_t connection_timeout_s; /* idle keep-alive connections closed after; default 60 */
  uint32_t max_connections; /* default 1024 */
  const char *tls_cert_file; /* PEM; both set → HTTPS */
  const char *tls_key_file;
  akidb_limits_t limits;    /* max_body_bytes and max_json_depth enforced here */
  /* /metrics: per-collection series for the `metrics_per_collection_limit`
   * loaded collections holding the most memory, the rest summed as
   * collection="other" (docs/metrics.md); off by default. */
  bool metrics_per_collection;
  uint32_t metrics_per_collection_limit;
} http_options_t;

#define HTTP_METRICS_PER_COLLECTION_DEFAULT 20u
#define HTTP_METRICS_PER_COLLECTION_MAX 1000u

void http_options_default(http_options_t *o);

typedef struct http_server http_server_t;

/* Starts serving `svc` (which must outlive the server). Errors: AKIDB_EINVAL
 * (options, TLS files unreadable), AKIDB_EIO (cannot bind: message names the
 * address and the system error). */
int http_server_start(const http_options_t *o, akidb_service_t *svc, http_server_t **out,
                      char *err, size_t errlen);

/* The bound port (useful with port 0). */
uint16_t http_server_port(const http_server_t *s);

/* Stops accepting, waits up to `drain_ms` for in-flight requests to finish,
 * then stops and frees the server. NULL accepted. */
void http_server_stop(http_server_t *s, uint32_t drain_ms);

/* One route of the router: "GET", "/v1/tenants/{tenant}". */
typedef struct {
  const char *method;
  const char *pattern;
  akidb_op_t op; /* AKIDB_OP_COUNT for /metrics (served by the transport) */
  /* Body paths holding float vectors, decoded straight to float32
   * ("vector", "vectors[]", "points[].vector"); NULL-terminated, or NULL. */
  const char *const *vectors;
  /* The body is bytes, not JSON (an upload): Content-Type
   * application/octet-stream or application/vnd.apache.parquet, handed to
   * the service as it came. */
  bool raw;
} http_route_t;

/* The route table (for `akidb serve --print-routes` and the OpenAPI test). */
const http_route_t *http_routes(size_t *n);

#endif /* AKIDB_HTTP_H */
