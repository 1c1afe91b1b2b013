/*
 * http/codec.h — the REST codec: JSON bodies, path and query parameters to
 * the service's typed arguments (service.h, AKIDB_OP_TYPED), and typed
 * results back to the JSON REST has always answered (same bytes).
 */
#ifndef AKIDB_HTTP_CODEC_H
#define AKIDB_HTTP_CODEC_H

#include "service/service.h"

/*
 * Runs `op` the way REST does. A typed operation's arguments are decoded
 * from req->body, req->query, req->point_id and req->floats (a malformed
 * request is answered INVALID_ARGUMENT before anything else runs, as
 * before), the service is called, and its typed result is encoded into
 * out->body; other operations go to the service with their JSON as they
 * are. Either way out->body holds the answer's JSON on success. The caller
 * clears `out` (akidb_response_clear).
 */
void http_codec_call(akidb_service_t *svc, akidb_op_t op, akidb_request_t *req,
                     akidb_response_t *out);

#endif /* AKIDB_HTTP_CODEC_H */
