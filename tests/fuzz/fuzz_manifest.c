/*
 * tests/fuzz/fuzz_manifest.c — libFuzzer harness for the two manifest
 * decoders that read what an object store holds (anyone with write access
 * to the bucket may have changed it): the snapshot manifest
 * (src/snapshot/manifest.c) and the cold-tier manifest (src/tier/cold.c).
 * The input goes to both; a decoded manifest is encoded again and must
 * decode to the same values. Any crash, leak, sanitizer report, or a round
 * trip that differs is a bug; errors are the expected outcome for most
 * inputs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/snapshot.h"
#include "tier/cold.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void snapshot_round_trip(const char *text, size_t len) {
  static snap_manifest_t m, again; /* large: keep them off the stack */
  char err[512];
  if (snap_manifest_decode(text, len, &m, err, sizeof err)) return;
  char *enc = snap_manifest_encode(&m);
  if (!enc) return;
  if (snap_manifest_decode(enc, strlen(enc), &again, err, sizeof err) ||
      memcmp(&m, &again, sizeof m) != 0)
    abort(); /* what we write, we read back the same */
  free(enc);
}

static void cold_round_trip(const char *text, size_t len) {
  cold_manifest_t m, again;
  char err[512];
  if (cold_manifest_decode(text, len, &m, err, sizeof err)) return;
  char *enc = cold_manifest_encode(&m);
  if (enc) {
    if (cold_manifest_decode(enc, strlen(enc), &again, err, sizeof err) ||
        again.n_files != m.n_files ||
        memcmp(again.files, m.files, m.n_files * sizeof *m.files) != 0)
      abort();
    cold_manifest_free(&again);
    free(enc);
  }
  cold_manifest_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  snapshot_round_trip((const char *)data, size);
  cold_round_trip((const char *)data, size);
  return 0;
}
