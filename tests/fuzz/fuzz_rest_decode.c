/*
 * tests/fuzz/fuzz_rest_decode.c — libFuzzer harness for the REST codec's
 * request decoding (src/http/json_parse.c, src/http/body.c and the
 * decoders of src/http/codec.c): the first input byte picks one of the
 * routes that take a JSON body (POST and PATCH, modulo their number: the
 * embeddings, search and upsert bodies among them), the rest is its body,
 * parsed with the route's vector paths and decoded into the service's typed
 * arguments as a request would be (http_codec_decode_only; nothing is
 * called). A crash, a leak or a sanitizer report is a bug; a refusal must
 * come with a status and a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/codec.h"
#include "http/http.h"
#include "http/http_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BODY_ROUTES 64

static const http_route_t *body_routes[MAX_BODY_ROUTES];
static size_t n_body_routes;

/* The routes whose body is JSON. */
static void collect_routes(void) {
  size_t n;
  const http_route_t *r = http_routes(&n);
  for (size_t i = 0; i < n && n_body_routes < MAX_BODY_ROUTES; i++)
    if (!r[i].raw && r[i].op != AKIDB_OP_COUNT &&
        (!strcmp(r[i].method, "POST") || !strcmp(r[i].method, "PATCH")))
      body_routes[n_body_routes++] = &r[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static akidb_limits_t limits;
  if (!n_body_routes) {
    collect_routes();
    akidb_limits_default(&limits);
  }
  if (size < 1 || !n_body_routes) return 0;
  const http_route_t *route = body_routes[data[0] % n_body_routes];
  json_t *body = NULL;
  http_floats_t floats = {0};
  char msg[512];
  int parsed = http_body_parse_vectors((const char *)data + 1, size - 1, limits.max_json_depth,
                                       route->vectors, &floats, &body, msg, sizeof msg);
  if (parsed != 0) {
    if (!msg[0]) abort(); /* a parse refusal without a reason */
    http_floats_free(&floats);
    return 0;
  }
  akidb_request_t req;
  memset(&req, 0, sizeof req);
  req.tenant = "t", req.database = "d", req.collection = "c", req.username = "u";
  http_json_t json = {body, floats.items, floats.count};
  akidb_svc_error_t e;
  if (http_codec_decode_only(route->op, &limits, &req, &json, &e) != 0 &&
      (akidb_status_is_ok(e.status) || !e.message[0]))
    abort(); /* a refusal without a reason */
  json_decref(body);
  http_floats_free(&floats);
  return 0;
}
