/*
 * http/server.c — the REST server: a libmicrohttpd daemon (a thread per
 * connection by default, or a pool of epoll threads when server.threads is
 * set; keep-alive, optional TLS) that decodes each request
 * (route, path and query parameters, JSON body within the limits), calls
 * akidb_service_call, encodes the answer, echoes X-Request-Id, records
 * metrics and writes the access log line.
 *
 * Threads and state: every request runs on the thread that owns its
 * connection (run to completion: no hand-off between threads on the request
 * path); a connection serves one request at a time. By default
 * (server.threads = 0) each connection has a thread of its own, blocked in
 * poll() on its socket between requests, and one listening thread accepts:
 * the scheduler spreads busy connections over the cores, and a request
 * never queues behind another connection's request while a core idles.
 * With server.threads = N a pool of N epoll threads serves every
 * connection; a keep-alive connection then stays on the thread that
 * accepted it, and the threads race for each accept, so several busy
 * connections often land on one thread and are served one after the other
 * (measured: 4 closed-loop clients on 2 of 8 threads, 3 of them on one) —
 * that is the knob for very many mostly idle connections, not for latency. Per-connection
 * state (conn_t: the raw URI, decode scratch, body and output buffers) is
 * created when the connection opens and reused by each request on it, so the
 * request path allocates nothing in the common case. The server's own
 * shared state is the in-flight request count and the stopping flag, both
 * atomics. No locks.
 *
 * Raw paths: libmicrohttpd unescapes the URL before the access handler sees
 * it, which would turn "%2F" into a separator. The URI log callback (called
 * before any unescaping) copies the raw request target, and the router
 * splits it on '/' before decoding, so a point id with '/' works as
 * ".../points/a%2Fb". MHD's own unescaping is switched off (we never read
 * its copies).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "akidb/catalog.h"
#include "akidb/errors.h"
#include "http/codec.h"
#include "http/http_internal.h"
#include "obs/log.h"
#include "trace/trace.h"
#include "util/net.h"

#define TLS_FILE_MAX (1u << 20)    /* a PEM file larger than this is refused */
#define KEEP_BUFFER_MAX (1u << 20) /* per-connection buffers above this are freed after use */
#define CONNECTION_MEMORY (64u << 10)
#define SETTLE_MS 100.0 /* drain: this long without a request in flight ends it */

struct http_server {
  struct MHD_Daemon *daemon;
  akidb_service_t *svc;
  akidb_limits_t limits;
  http_options_t metrics; /* its metrics_per_collection and limit only */
  int listen_fd;
  uint16_t port;
  char *tls_cert, *tls_key;
  atomic_int inflight;
  atomic_bool stopping;
};

typedef enum { RQ_IDLE, RQ_BODY, RQ_DONE } rq_phase_t;

/* One connection's state, reused by each request on it. */
typedef struct {
  http_server_t *srv;
  /* The current request. */
  rq_phase_t phase;
  bool counted;       /* counted in srv->inflight; completion not yet seen */
  bool too_large;     /* the body passed max_body_bytes: discard the rest */
  uint64_t discarded; /* bytes discarded since */
  int status;         /* HTTP status queued, 0 before */
  struct timespec t0;
  const http_route_t *route;
  char *query; /* in uri, after '?' (decoded in place); NULL when none */
  size_t path_len;
  char method[16];
  char request_id[129];
  char tenant[64]; /* for the access log */
  char source[INET6_ADDRSTRLEN]; /* the client's address, found once per connection */
  http_match_t match;
  trace_request_t trace; /* the request's span (trace/trace.h): begun with the request,
                            attached around the service call, ended at completion */
  /* Buffers kept across requests. */
  char *uri;
  size_t uri_cap;
  char *scratch;
  size_t scratch_cap;
  char *body;
  size_t body_len, body_cap;
  char *out;
  size_t out_cap;
} conn_t;

/* ------------------------------------------------------------ options -- */

void http_options_default(http_options_t *o) {
  memset(o, 0, sizeof *o);
  o->host = "127.0.0.1";
  o->port = 8080;
  o->threads = 0;
  o->connection_timeout_s = 60;
  o->max_connections = 1024;
  akidb_limits_default(&o->limits);
  o->metrics_per_collection = false;
  o->metrics_per_collection_limit = HTTP_METRICS_PER_COLLECTION_DEFAULT;
}

/* ------------------------------------------------------------ helpers -- */

/* Grows *buf to at least `need` bytes. */
static bool ensure(char **buf, size_t *cap, size_t need) {
  if (need <= *cap) return true;
  size_t grow = *cap ? *cap : 256;
  while (grow < need) grow *= 2;
  char *p = realloc(*buf, grow);
  if (!p) return false;
  *buf = p;
  *cap = grow;
  return true;
}

/* Grows *buf to exactly `need` bytes (when larger). */
static bool exact_reserve(char **buf, size_t *cap, size_t need) {
  if (need <= *cap) return true;
  char *p = realloc(*buf, need);
  if (!p) return false;
  *buf = p;
  *cap = need;
  return true;
}

static double seconds_since(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static const char *header(struct MHD_Connection *c, const char *name) {
  return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static void client_address(struct MHD_Connection *c, char *out, size_t cap) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  out[0] = '\0';
  if (!ci || !ci->client_addr) return;
  const struct sockaddr *sa = ci->client_addr;
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
              (socklen_t)cap);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
              (socklen_t)cap);
}

/* ------------------------------------------------------------ answers -- */

/* Queues `len` bytes of `data` (which stays valid until the response is
 * destroyed: it is the connection's output buffer or static, or with
 * `must_free` a malloc'd block handed to MHD). */
static enum MHD_Result respond(conn_t *cs, struct MHD_Connection *c, int status,
                               const char *content_type, char *data, size_t len, bool must_free,
                               const char *allow, uint32_t retry_after_s) {
  struct MHD_Response *r = MHD_create_response_from_buffer(
      len, data, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
  if (!r) {
    if (must_free) free(data);
    return MHD_NO;
  }
  if (content_type && len > 0) MHD_add_response_header(r, "Content-Type", content_type);
  MHD_add_response_header(r, "X-Request-Id", cs->request_id);
  if (allow && *allow) MHD_add_response_header(r, "Allow", allow);
  if (retry_after_s > 0) {
    char ra[16];
    snprintf(ra, sizeof ra, "%u", retry_after_s);
    MHD_add_response_header(r, "Retry-After", ra);
  }
  if (atomic_load_explicit(&cs->srv->stopping, memory_order_relaxed))
    MHD_add_response_header(r, "Connection", "close");
  enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
  MHD_destroy_response(r);
  cs->status = status;
  cs->phase = RQ_DONE;
  return ok;
}

static enum MHD_Result respond_error(conn_t *cs, struct MHD_Connection *c, akidb_status_t st,
                                     const char *message, const char *allow,
                                     uint32_t retry_after_s) {
  static char fallback[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
  long len = http_encode_error(st, message, &cs->out, &cs->out_cap);
  int status = akidb_status_http(st);
  if (len < 0)
    return respond(cs, c, 500, "application/json", fallback, sizeof fallback - 1, false, NULL, 0);
  return respond(cs, c, status, "application/json", cs->out, (size_t)len, false, allow,
                 retry_after_s);
}

static enum MHD_Result respond_metrics(conn_t *cs, struct MHD_Connection *c) {
  obs_buf_t b = {0};
  http_render_metrics(cs->srv->svc, &cs->srv->metrics, &b);
  if (b.failed || !b.data) {
    obs_buf_free(&b);
    return respond_error(cs, c, AKIDB_ST_INTERNAL, "out of memory while rendering metrics", NULL,
                         0);
  }
  return respond(cs, c, 200, "text/plain; version=0.0.4", b.data, b.len, true, NULL, 0);
}

/* ------------------------------------------------------------ request -- */

static void request_id_take(conn_t *cs, struct MHD_Connection *c) {
  const char *rid = header(c, "X-Request-Id");
  if (http_request_id_valid(rid)) {
    size_t n = strlen(rid);
    memcpy(cs->request_id, rid, n + 1);
    return;
  }
  akidb_uuid_t id;
  if (akidb_uuid_v7_fast(&id) == AKIDB_OK)
    akidb_uuid_format(&id, cs->request_id);
  else
    snprintf(cs->request_id, sizeof cs->request_id, "unknown");
}

/* The answer for a request the router refused (404, 405, 400). */
static enum MHD_Result respond_unmatched(conn_t *cs, struct MHD_Connection *c) {
  switch (cs->match.status) {
  case HTTP_MATCH_NOT_ALLOWED:
    return respond_error(cs, c, AKIDB_ST_METHOD_NOT_ALLOWED, cs->match.message, cs->match.allow, 0);
  case HTTP_MATCH_BAD_PATH:
    return respond_error(cs, c, AKIDB_ST_INVALID_ARGUMENT, cs->match.message, NULL, 0);
  case HTTP_MATCH_NOT_FOUND:
  case HTTP_MATCH_OK:
    break;
  }
  return respond_error(cs, c, AKIDB_ST_NOT_FOUND, cs->match.message, NULL, 0);
}

static enum MHD_Result respond_too_large(conn_t *cs, struct MHD_Connection *c) {
  char msg[200];
  snprintf(msg, sizeof msg,
           "body is larger than limits.max_body_bytes (%llu bytes); send smaller batches",
           (unsigned long long)cs->srv->limits.max_body_bytes);
  return respond_error(cs, c, AKIDB_ST_PAYLOAD_TOO_LARGE, msg, NULL, 0);
}

static enum MHD_Result respond_bad_type(conn_t *cs, struct MHD_Connection *c, const char *ct) {
  char msg[200];
  if (cs->route && cs->route->raw)
    snprintf(msg, sizeof msg, "Content-Type must be application/octet-stream or "
             "application/vnd.apache.parquet, not '%.80s'", ct ? ct : "");
  else
    snprintf(msg, sizeof msg, "Content-Type must be application/json, not '%.80s'", ct ? ct : "");
  return respond_error(cs, c, AKIDB_ST_UNSUPPORTED_MEDIA_TYPE, msg, NULL, 0);
}

/* The body's Content-Type suits the route (JSON, or bytes for an upload). */
static bool type_ok(const conn_t *cs, const char *ct) {
  return cs->route && cs->route->raw ? http_raw_type_ok(ct) : http_content_type_ok(ct);
}

/*
 * First call (headers read): request id, route, Content-Length and
 * Content-Type. A request that announces a body and fails a check is
 * answered at once (MHD then closes the connection instead of reading the
 * body); one without a body is answered in the final call, which keeps the
 * connection alive.
 */
/* Begins the request's span, "METHOD /route/{pattern}", continuing the
 * client's traceparent (and tracestate) when it sent one. Not for
 * /health, /ready and /metrics. */
static void trace_begin(conn_t *cs, struct MHD_Connection *c) {
  if (!trace_enabled()) return;
  if (cs->route && (cs->route->op == AKIDB_OP_HEALTH || cs->route->op == AKIDB_OP_READY ||
                    cs->route->op == AKIDB_OP_COUNT))
    return; /* probes and scrapes: frequent, and nothing to see */
  char name[TRACE_NAME_MAX + 1];
  snprintf(name, sizeof name, "%s %s", cs->method, cs->route ? cs->route->pattern : "unmatched");
  trace_request_begin(&cs->trace, name, header(c, "traceparent"), header(c, "tracestate"));
  trace_span_t *sp = cs->trace.span;
  if (!sp) return;
  trace_span_set_str(sp, "http.request.method", cs->method);
  if (cs->route) trace_span_set_str(sp, "http.route", cs->route->pattern);
  trace_span_set_str(sp, "akidb.request_id", cs->request_id);
}

/* Ends it with the answer's status (an error status from 500 up). */
static void trace_end(conn_t *cs) {
  trace_span_t *sp = cs->trace.span;
  if (sp) {
    trace_span_set_int(sp, "http.response.status_code", cs->status);
    if (cs->tenant[0]) trace_span_set_str(sp, "akidb.tenant", cs->tenant);
    if (cs->status >= 500) trace_span_set_status(sp, TRACE_STATUS_ERROR, NULL);
  }
  trace_request_end(&cs->trace);
}

static enum MHD_Result request_begin(conn_t *cs, struct MHD_Connection *c, const char *method) {
  http_server_t *s = cs->srv;
  cs->counted = true;
  atomic_fetch_add_explicit(&s->inflight, 1, memory_order_relaxed);
  snprintf(cs->method, sizeof cs->method, "%s", method);
  request_id_take(cs, c);

  if (!ensure(&cs->scratch, &cs->scratch_cap, cs->path_len + 1))
    return respond_error(cs, c, AKIDB_ST_INTERNAL, "out of memory", NULL, 0);
  http_route_match(method, cs->uri, cs->path_len, cs->scratch, &cs->match);
  if (cs->match.status == HTTP_MATCH_OK) cs->route = cs->match.route;
  trace_begin(cs, c);

  const char *cl = header(c, "Content-Length");
  unsigned long long length = 0;
  if (cl) {
    char *end;
    errno = 0;
    length = strtoull(cl, &end, 10);
    if (errno || end == cl) length = UINT64_MAX;
  }
  bool has_body = length > 0 || header(c, "Transfer-Encoding") != NULL;
  cs->phase = RQ_BODY;
  if (!has_body) return MHD_YES;
  if (!cs->route) return respond_unmatched(cs, c);
  if (length > s->limits.max_body_bytes) return respond_too_large(cs, c);
  const char *ct = header(c, "Content-Type");
  if (!type_ok(cs, ct)) return respond_bad_type(cs, c, ct);
  /* A known length is reserved once: no doubling copies of a large body
   * (and no buffer twice its size) while it arrives. */
  if (cl && length > cs->body_cap && !exact_reserve(&cs->body, &cs->body_cap, (size_t)length))
    return respond_error(cs, c, AKIDB_ST_INTERNAL, "out of memory for the request body", NULL, 0);
  return MHD_YES;
}

/*
 * A chunk of the body: kept while within max_body_bytes. Beyond it (only a
 * chunked body can get there: a Content-Length above the limit is refused
 * up front) the rest is discarded and 413 answered at the end, since MHD
 * cannot answer in the middle of an upload; a client that goes on sending
 * more than the limit again is cut off (false: close the connection).
 */
static bool body_append(conn_t *cs, const char *data, size_t n) {
  uint64_t max = cs->srv->limits.max_body_bytes;
  if (cs->too_large) {
    cs->discarded += n;
    return cs->discarded <= max;
  }
  if ((uint64_t)cs->body_len + n > max || !ensure(&cs->body, &cs->body_cap, cs->body_len + n)) {
    cs->too_large = true;
    cs->discarded = n;
    return true;
  }
  memcpy(cs->body + cs->body_len, data, n);
  cs->body_len += n;
  return true;
}

/* Last call (body complete): parse, call the service, encode. */
static enum MHD_Result request_finish(conn_t *cs, struct MHD_Connection *c) {
  http_server_t *s = cs->srv;
  char msg[512];
  if (!cs->route) return respond_unmatched(cs, c);
  if (cs->too_large) return respond_too_large(cs, c);
  const char *ct = header(c, "Content-Type");
  if (cs->body_len > 0 && !type_ok(cs, ct)) return respond_bad_type(cs, c, ct);
  if (cs->route->op == AKIDB_OP_COUNT) return respond_metrics(cs, c);

  akidb_param_t query[HTTP_MAX_QUERY];
  size_t n_query = 0;
  if (cs->query &&
      http_query_parse(cs->query, query, HTTP_MAX_QUERY, &n_query, msg, sizeof msg) != 0)
    return respond_error(cs, c, AKIDB_ST_INVALID_ARGUMENT, msg, NULL, 0);

  json_t *body = NULL;
  http_floats_t floats = {0};
  uint32_t depth = s->limits.max_json_depth;
  int parsed = cs->route->raw ? 0
                              : http_body_parse_vectors(cs->body, cs->body_len, depth,
                                                        cs->route->vectors, &floats, &body, msg,
                                                        sizeof msg);
  if (parsed != 0) {
    http_floats_free(&floats);
    return respond_error(cs, c, parsed == -2 ? AKIDB_ST_INVALID_ARGUMENT : AKIDB_ST_INVALID_JSON,
                         msg, NULL, 0);
  }

  if (!cs->source[0]) client_address(c, cs->source, sizeof cs->source);
  akidb_request_t req = {
      .bearer = header(c, "Authorization"),
      .request_id = cs->request_id,
      .source = cs->source,
      .query = query,
      .n_query = n_query,
      .raw_body = cs->route->raw ? cs->body : NULL,
      .raw_len = cs->route->raw ? cs->body_len : 0,
  };
  http_match_apply(&cs->match, &req);
  if (req.tenant) snprintf(cs->tenant, sizeof cs->tenant, "%s", req.tenant);

  akidb_response_t resp;
  memset(&resp, 0, sizeof resp);
  json_t *answer = NULL;
  http_json_t json = {body, floats.items, floats.count};
  if (s->svc) {
    trace_saved_t saved;
    bool traced = trace_request_attach(&cs->trace, &saved);
    answer = http_codec_call(s->svc, cs->route->op, &req, &json, &resp);
    if (traced) trace_detach(&saved);
  } else {
    resp.status = AKIDB_ST_UNAVAILABLE;
    snprintf(resp.error.message, sizeof resp.error.message, "the server has no service attached");
  }
  json_decref(body);
  http_floats_free(&floats);

  enum MHD_Result ok;
  if (!akidb_status_is_ok(resp.status)) {
    ok = respond_error(cs, c, resp.status, resp.error.message, NULL, resp.error.retry_after_s);
  } else if (!answer) {
    ok = respond(cs, c, akidb_status_http(resp.status), NULL, NULL, 0, false, NULL, 0);
  } else {
    long len = http_encode_json(answer, &cs->out, &cs->out_cap);
    if (len < 0)
      ok = respond_error(cs, c, AKIDB_ST_INTERNAL, "out of memory while encoding the answer", NULL,
                         0);
    else
      ok = respond(cs, c, akidb_status_http(resp.status), "application/json", cs->out,
                   (size_t)len, false, NULL, 0);
  }
  json_decref(answer);
  akidb_response_clear(&resp);
  return ok;
}

/* -------------------------------------------------- MHD callbacks -- */

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls) {
  (void)cls, (void)url, (void)version;
  conn_t *cs = *con_cls;
  if (!cs) return MHD_NO;
  switch (cs->phase) {
  case RQ_IDLE:
    return request_begin(cs, c, method);
  case RQ_BODY:
    if (*upload_size) {
      bool keep = body_append(cs, upload, *upload_size);
      *upload_size = 0;
      return keep ? MHD_YES : MHD_NO;
    }
    return request_finish(cs, c);
  case RQ_DONE:
    break;
  }
  return MHD_YES;
}

/* Called with the raw request target before MHD parses or unescapes it:
 * starts a request on the connection's state. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
  (void)cls;
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  conn_t *cs = ci ? ci->socket_context : NULL;
  if (!cs) return NULL;
  clock_gettime(CLOCK_MONOTONIC, &cs->t0);
  cs->phase = RQ_IDLE;
  cs->counted = false;
  cs->too_large = false;
  cs->discarded = 0;
  cs->status = 0;
  cs->route = NULL;
  cs->body_len = 0;
  cs->tenant[0] = '\0';
  cs->method[0] = '\0';
  size_t n = strlen(uri);
  if (!ensure(&cs->uri, &cs->uri_cap, n + 1)) return NULL;
  memcpy(cs->uri, uri, n + 1);
  char *q = memchr(cs->uri, '?', n);
  cs->query = q ? q + 1 : NULL;
  cs->path_len = q ? (size_t)(q - cs->uri) : n;
  if (q) *q = '\0';
  return cs;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)cls, (void)c, (void)toe;
  conn_t *cs = *con_cls;
  if (cs) trace_end(cs); /* a no-op when no span was begun */
  if (!cs || !cs->counted) return;
  cs->counted = false;
  if (cs->status) {
    double secs = seconds_since(&cs->t0);
    const char *route = cs->route ? cs->route->pattern : "unmatched";
    obs_http_observe(route, cs->method, cs->status, secs);
    obs_log_request(cs->request_id, cs->method, route, cs->uri, cs->status, secs * 1e3, cs->tenant);
  }
  if (cs->body_cap > KEEP_BUFFER_MAX) {
    free(cs->body);
    cs->body = NULL;
    cs->body_cap = 0;
  }
  if (cs->out_cap > KEEP_BUFFER_MAX) {
    free(cs->out);
    cs->out = NULL;
    cs->out_cap = 0;
  }
  cs->body_len = 0;
  atomic_fetch_sub_explicit(&cs->srv->inflight, 1, memory_order_release);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
  (void)c;
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    conn_t *cs = calloc(1, sizeof *cs);
    if (cs) cs->srv = cls;
    *socket_context = cs;
  } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
    conn_t *cs = *socket_context;
    if (cs) {
      free(cs->uri);
      free(cs->scratch);
      free(cs->body);
      free(cs->out);
      free(cs);
    }
    *socket_context = NULL;
  }
}

/* We decode paths and query strings ourselves (router.c). */
static size_t unescape_none(void *cls, struct MHD_Connection *c, char *s) {
  (void)cls, (void)c;
  return strlen(s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char text[512];
  vsnprintf(text, sizeof text, fmt, ap);
  size_t n = strlen(text);
  while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r')) text[--n] = '\0';
  obs_log(AKIDB_LOG_WARN, "http server", "detail", text, NULL);
}

/* -------------------------------------------------------------- start -- */

/* Reads a whole PEM file (NUL-terminated) into *out. */
int http_read_pem(const char *what, const char *path, char **out, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "cannot read the TLS %s file %s: %s", what, path, strerror(errno));
    return AKIDB_EINVAL;
  }
  char *buf = malloc(TLS_FILE_MAX + 1);
  if (!buf) {
    fclose(f);
    snprintf(err, errlen, "out of memory reading the TLS %s file %s", what, path);
    return AKIDB_ENOMEM;
  }
  size_t n = fread(buf, 1, TLS_FILE_MAX + 1, f);
  int bad = ferror(f);
  fclose(f);
  if (bad || n == 0 || n > TLS_FILE_MAX) {
    free(buf);
    snprintf(err, errlen, "cannot read the TLS %s file %s: %s", what, path,
             bad      ? "read error"
             : n == 0 ? "the file is empty"
                      : "the file is larger than 1 MiB");
    return AKIDB_EINVAL;
  }
  buf[n] = '\0';
  *out = buf;
  return AKIDB_OK;
}

/* True when both descriptors are open and name the same socket. While `b`
 * stays open its inode cannot be reused, so this cannot be fooled. */
static bool same_socket(int a, int b) {
  struct stat sa, sb;
  if (fstat(a, &sa) != 0 || fstat(b, &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static uint16_t bound_port(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return 0;
}

/* Polling threads of the epoll pool when server.threads is set (at most
 * 256); 0 = a thread per connection (see the top of this file). */
static unsigned pool_size(uint32_t threads) { return threads > 256 ? 256 : threads; }

static int check_options(const http_options_t *o, char *err, size_t errlen) {
  if (!!o->tls_cert_file != !!o->tls_key_file) {
    snprintf(err, errlen, "TLS needs both a certificate file and a key file; %s is missing",
             o->tls_cert_file ? "the key file" : "the certificate file");
    return AKIDB_EINVAL;
  }
  if (o->limits.max_body_bytes == 0 || o->limits.max_json_depth == 0) {
    snprintf(err, errlen, "limits.max_body_bytes and limits.max_json_depth must be positive");
    return AKIDB_EINVAL;
  }
  if (o->tls_cert_file && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
    snprintf(err, errlen,
             "this libmicrohttpd was built without TLS; remove the TLS files or "
             "terminate TLS in front of AkiDB");
    return AKIDB_EINVAL;
  }
  return AKIDB_OK;
}

int http_server_start(const http_options_t *o, akidb_service_t *svc, http_server_t **out, char *err,
                      size_t errlen) {
  *out = NULL;
  int rc = check_options(o, err, errlen);
  if (rc) return rc;
  http_server_t *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory starting the HTTP server");
    return AKIDB_ENOMEM;
  }
  s->svc = svc;
  s->limits = o->limits;
  http_options_default(&s->metrics);
  s->metrics.metrics_per_collection = o->metrics_per_collection;
  s->metrics.metrics_per_collection_limit = o->metrics_per_collection_limit;
  s->listen_fd = -1;
  atomic_init(&s->inflight, 0);
  atomic_init(&s->stopping, false);
  if (o->tls_cert_file) {
    if ((rc = http_read_pem("certificate", o->tls_cert_file, &s->tls_cert, err, errlen)) ||
        (rc = http_read_pem("key", o->tls_key_file, &s->tls_key, err, errlen)))
      goto fail;
  }
  const char *host = o->host && *o->host ? o->host : "127.0.0.1";
  int family = AF_INET;
  if ((rc = util_listen(host, o->port, &s->listen_fd, &family, err, errlen))) goto fail;
  s->port = bound_port(s->listen_fd);

  /* MHD gets its own descriptor of the socket: on a failed start it may or
   * may not have closed it, and we must never close a number twice. */
  int mhd_fd = fcntl(s->listen_fd, F_DUPFD_CLOEXEC, 0);
  if (mhd_fd < 0) {
    snprintf(err, errlen, "cannot start the HTTP server on %s:%u: %s", host, (unsigned)s->port,
             strerror(errno));
    rc = AKIDB_EIO;
    goto fail;
  }
  unsigned threads = pool_size(o->threads);
  struct MHD_OptionItem opts[16];
  size_t n = 0;
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, mhd_fd, NULL};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, NULL};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape_none, NULL};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
                                      o->connection_timeout_s ? o->connection_timeout_s : 60, NULL};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                      o->max_connections ? o->max_connections : 1024, NULL};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY, NULL};
  if (threads > 1) opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, threads, NULL};
  /* A thread per connection: poll() (not select(), whose descriptors stop
   * at FD_SETSIZE while every resident collection holds files). */
  if (s->tls_cert) {
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key};
  }
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

  unsigned flags = MHD_USE_ITC | MHD_USE_ERROR_LOG;
  if (threads == 0) flags |= MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD;
  else flags |= MHD_USE_EPOLL_INTERNAL_THREAD;
  if (s->tls_cert) flags |= MHD_USE_TLS;
  if (family == AF_INET6) flags |= MHD_USE_IPv6;
  s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s, MHD_OPTION_EXTERNAL_LOGGER,
                               on_mhd_log, NULL, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
  if (!s->daemon) {
    if (same_socket(mhd_fd, s->listen_fd)) close(mhd_fd);
    snprintf(err, errlen,
             "cannot start the HTTP server on %s:%u (libmicrohttpd refused to start%s; see the "
             "log above)",
             host, (unsigned)s->port, s->tls_cert ? ": check the TLS certificate and key" : "");
    rc = s->tls_cert ? AKIDB_EINVAL : AKIDB_EIO;
    goto fail;
  }
  close(s->listen_fd); /* MHD's descriptor is now the only one */
  s->listen_fd = -1;
  *out = s;
  return AKIDB_OK;

fail:
  if (s->listen_fd >= 0) close(s->listen_fd);
  free(s->tls_cert);
  free(s->tls_key);
  free(s);
  return rc;
}

uint16_t http_server_port(const http_server_t *s) { return s ? s->port : 0; }

void http_server_stop(http_server_t *s, uint32_t drain_ms) {
  if (!s) return;
  /* No MHD_quiesce_daemon: with a thread pool on epoll it races a worker
   * that dropped the listen socket from its own epoll set, and MHD aborts
   * the process ("Failed to remove listen FD from epoll set"; seen in the
   * integration suite). New connections meanwhile are answered with
   * `Connection: close` (the stopping flag) and MHD_stop_daemon closes the
   * listen socket. */
  atomic_store(&s->stopping, true);
  /* Done when no request has been in flight for SETTLE_MS (a connection
   * accepted while its thread was busy starts its request within that) or
   * no connection is left, or when drain_ms has passed. */
  struct timespec t0, idle_since;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  idle_since = t0;
  const double settle_ms = drain_ms < SETTLE_MS ? drain_ms : SETTLE_MS;
  while (seconds_since(&t0) * 1e3 < (double)drain_ms) {
    if (atomic_load_explicit(&s->inflight, memory_order_acquire) > 0) {
      clock_gettime(CLOCK_MONOTONIC, &idle_since);
    } else {
      const union MHD_DaemonInfo *di =
          MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
      if ((di && di->num_connections == 0) || seconds_since(&idle_since) * 1e3 >= settle_ms) break;
    }
    struct timespec pause = {0, 2 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  MHD_stop_daemon(s->daemon);
  free(s->tls_cert);
  free(s->tls_key);
  free(s);
}
