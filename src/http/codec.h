/*
 * http/codec.h — the REST codec: JSON bodies, path and query parameters to
 * the service's typed arguments (service.h, AKIDB_OP_TYPED), and typed
 * results back to the JSON REST has always answered (same bytes).
 */
#ifndef AKIDB_HTTP_CODEC_H
#define AKIDB_HTTP_CODEC_H

#include <jansson.h>

#include "service/service.h"

/* A float vector the JSON parser decoded straight from the body (at a
 * route's vector paths, so a 768-float query costs no json_t per number):
 * `array` is the empty JSON array standing in the tree where the vector
 * was; `values` holds its n float32 values (finite). */
typedef struct {
  const json_t *array;
  const float *values;
  uint32_t n;
} http_float_array_t;

/* A request's JSON side: the parsed body (NULL when none) and the vectors
 * decoded from it, in document order. */
typedef struct {
  const json_t *body;
  const http_float_array_t *floats;
  size_t n_floats;
} http_json_t;

/*
 * Runs `op` the way REST does: its arguments are decoded from `json`, the
 * query and path parameters of `req` (a malformed request is answered
 * INVALID_ARGUMENT before anything else runs), the service is called, and
 * its result is encoded. Returns the answer's JSON on success (NULL for
 * DONE, and on failure: out->status and out->error say why; an encoding
 * that ran out of memory is answered INTERNAL). The caller json_decref's
 * the JSON and clears `out` (akidb_response_clear).
 */
json_t *http_codec_call(akidb_service_t *svc, akidb_op_t op, akidb_request_t *req,
                        const http_json_t *json, akidb_response_t *out);

/*
 * Decodes op's arguments from `json` and `req` exactly as http_codec_call
 * does, then frees them; nothing is called. 0, or -1 with *e set (status
 * and message). For the fuzz harness of the REST request decoding.
 */
int http_codec_decode_only(akidb_op_t op, const akidb_limits_t *limits,
                           const akidb_request_t *req, const http_json_t *json,
                           akidb_svc_error_t *e);

#endif /* AKIDB_HTTP_CODEC_H */
