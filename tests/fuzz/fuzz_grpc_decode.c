/*
 * tests/fuzz/fuzz_grpc_decode.c — libFuzzer harness for the gRPC codec's
 * request decoding (src/grpc/codec*.c): the first input byte picks one of
 * the methods served (modulo their number), the rest is its request
 * message, unpacked by protobuf-c and decoded into the service's typed
 * arguments as a call would be (rpc_codec_decode; nothing is called). A
 * crash, a leak or a sanitizer report is a bug; a refusal must come with
 * a status and a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/rpc_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t method_count(void) {
  size_t n = 0;
  while (rpc_method_at(n)) n++;
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static size_t n_methods;
  static akidb_limits_t limits;
  if (!n_methods) {
    n_methods = method_count();
    akidb_limits_default(&limits);
  }
  if (size < 1 || !n_methods) return 0;
  const rpc_method_t *m = rpc_method_at(data[0] % n_methods);
  akidb_svc_error_t e;
  memset(&e, 0, sizeof e);
  if (rpc_codec_decode(m, &limits, data + 1, size - 1, &e) != 0 &&
      (akidb_status_is_ok(e.status) || !e.message[0]))
    abort(); /* a refusal without a reason */
  return 0;
}
