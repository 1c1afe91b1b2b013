/*
 * http/http_internal.h — the REST transport's internals shared by its files:
 * the router (routes.c: the table; router.c: matching, percent-decoding,
 * query strings), request checks that need no server (body.c: request ids,
 * Content-Type, JSON depth and parsing; json_parse.c: the JSON decoder) and
 * the encoders (encode.c: error and answer bodies; json_write.c: the JSON
 * writer).
 *
 * router.c, body.c and json_parse.c call nothing of the service layer: their
 * unit tests (test_http_router, test_http_json) open no service.
 */
#ifndef AKIDB_HTTP_INTERNAL_H
#define AKIDB_HTTP_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/codec.h"
#include "http/http.h"
#include "obs/metrics.h"
#include "service/service.h"

/* ------------------------------------------------------------- router -- */

/* The longest route has 9 segments; longer paths match nothing. */
#define HTTP_MAX_SEGMENTS 12
#define HTTP_MAX_PARAMS 6
#define HTTP_MAX_QUERY 32

/* Outcome of matching one request line. */
typedef enum {
  HTTP_MATCH_OK = 0,
  HTTP_MATCH_NOT_FOUND,   /* 404: no route has this path */
  HTTP_MATCH_NOT_ALLOWED, /* 405: the path exists, the method does not */
  HTTP_MATCH_BAD_PATH,    /* 400: a bad percent-escape or a decoded NUL */
} http_match_status_t;

/* One path parameter of a matched route: its name in the pattern and its
 * percent-decoded value (in the caller's scratch buffer, NUL-terminated;
 * `len` excludes the NUL). */
typedef struct {
  const char *name;
  const char *value;
  size_t len;
} http_path_param_t;

typedef struct {
  http_match_status_t status;
  const http_route_t *route; /* when OK */
  http_path_param_t params[HTTP_MAX_PARAMS];
  size_t n_params;
  char allow[64];    /* when NOT_ALLOWED: "GET, POST" */
  char message[256]; /* when not OK: one sentence for the error body */
} http_match_t;

/* The route table split into segments, for matching. */
#define HTTP_MAX_ROUTES 64

typedef struct {
  const char *text; /* literal text, or the parameter's name (no braces) */
  size_t len;
  bool param;
} http_pattern_seg_t;

typedef struct {
  const http_route_t *route;
  size_t nseg;
  http_pattern_seg_t seg[HTTP_MAX_SEGMENTS];
} http_compiled_route_t;

typedef struct {
  http_compiled_route_t routes[HTTP_MAX_ROUTES];
  size_t n;
} http_router_t;

/* Compiles a route table (which must outlive the router). */
void http_router_init(http_router_t *rt, const http_route_t *routes, size_t n);

/*
 * Matches `method` and the raw (still percent-encoded) `path` (no query
 * string; its length `path_len`) against the route table. Segments are split
 * on '/' first, then percent-decoded into `scratch` (at least path_len + 1
 * bytes), so "%2F" inside a segment is a '/' of that segment's value. A
 * literal segment beats a parameter at the same position when both match
 * with the same method. Never allocates.
 */
void http_router_match(const http_router_t *rt, const char *method, const char *path,
                       size_t path_len, char *scratch, http_match_t *m);

/* http_router_match against the product's table (http_routes). */
void http_route_match(const char *method, const char *path, size_t path_len, char *scratch,
                      http_match_t *m);

/* Copies a match's parameters into the request's fields by name. */
void http_match_apply(const http_match_t *m, akidb_request_t *req);

/*
 * Decodes %HH escapes of src[0..len) into `dst` (room for len + 1 bytes),
 * and '+' into a space when `plus_is_space` (query strings). Returns the
 * decoded length, or -1 for a bad escape ('%' not followed by two hex
 * digits) and -2 for a decoded NUL.
 */
long http_percent_decode(const char *src, size_t len, char *dst, bool plus_is_space);

/*
 * Splits and decodes a raw query string (without '?') in place: `qs` is
 * rewritten, and `out` receives up to `max` key/value pairs pointing into
 * it ("a" alone → value ""; empty pairs skipped). Returns 0, or -1 with a
 * sentence in `err` (a bad escape, a decoded NUL, more than `max` pairs).
 */
int http_query_parse(char *qs, akidb_param_t *out, size_t max, size_t *n, char *err, size_t errlen);

/* ----------------------------------------------------- request checks -- */

/* True when `id` is 1..128 printable ASCII characters. */
bool http_request_id_valid(const char *id);

/* Reads a PEM file (up to 1 MiB) into a new NUL-terminated string; `what`
 * ("certificate", "key") names it in the error. AKIDB_EINVAL, AKIDB_ENOMEM. */
int http_read_pem(const char *what, const char *path, char **out, char *err, size_t errlen);

/* True for an absent Content-Type or "application/json" (any case, any
 * parameters such as "; charset=utf-8"). */
bool http_content_type_ok(const char *content_type);
/* An upload's Content-Type: application/octet-stream or
 * application/vnd.apache.parquet (parameters allowed). */
bool http_raw_type_ok(const char *ct);


/*
 * Parses a request body. An empty or all-whitespace body gives *out = NULL
 * and 0. Otherwise checks nesting depth and parses (duplicate keys refused);
 * on error returns -1 and writes the invalid_json message into `err`
 * ("body is not valid JSON: line 1, column 7: ..."); a number too large for
 * a double (1e999) returns -2 instead (an invalid_argument: the JSON is
 * well-formed, the value is not). *out is owned by the caller.
 */
int http_body_parse(const char *text, size_t len, uint32_t max_depth, json_t **out, char *err,
                    size_t errlen);

/* Vectors decoded straight to float32 while parsing (see
 * http_float_array_t); `values` pointers are set when parsing ends. */
typedef struct {
  http_float_array_t *items;
  size_t count, cap;
  float *values;
  size_t n_values, cap_values;
} http_floats_t;

void http_floats_free(http_floats_t *f);

/* http_body_parse, also decoding the arrays at `vector_paths` (see
 * http_route_t; may be NULL) into `floats`: an array there made only of
 * numbers that fit a float becomes an empty json_t array plus an entry in
 * `floats`; any other array there is parsed as usual. */
int http_body_parse_vectors(const char *text, size_t len, uint32_t max_depth,
                            const char *const *vector_paths, http_floats_t *floats, json_t **out,
                            char *err, size_t errlen);

/* The JSON decoder behind http_body_parse (json_parse.c): the same json_t
 * tree jansson would build, with fast number conversion. 0, -1 (syntax;
 * "body is not valid JSON: line L, column C: ..." in err) or -2 (a number
 * out of range). Duplicate keys are refused; nesting beyond max_depth is a
 * syntax error. */
int http_json_parse(const char *text, size_t len, uint32_t max_depth, json_t **out, char *err,
                    size_t errlen);
int http_json_parse_vectors(const char *text, size_t len, uint32_t max_depth,
                            const char *const *vector_paths, http_floats_t *floats, json_t **out,
                            char *err, size_t errlen);

/* ------------------------------------------------------------ encoders -- */

/* Serialises `body` compactly into *buf (grown with realloc as needed;
 * *cap its size): the same text as json_dumps(body, JSON_COMPACT), with
 * exact fast real formatting (json_write.c). Returns the length, or -1
 * when out of memory. */
long http_encode_json(const json_t *body, char **buf, size_t *cap);

/* Serialises {"error":{"code":..,"message":..}} into *buf like above.
 * Bytes of `message` that are not valid UTF-8 are replaced by '?'. */
long http_encode_error(akidb_status_t status, const char *message, char **buf, size_t *cap);

/* Renders the /metrics page: the registry, the server-wide figures of `svc`
 * (may be NULL) and, when o->metrics_per_collection, the capped
 * per-collection series (o may be NULL: none). */
void http_render_metrics(akidb_service_t *svc, const http_options_t *o, obs_buf_t *b);

#endif /* AKIDB_HTTP_INTERNAL_H */
