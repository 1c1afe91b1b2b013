/*
 * checksum.h — a streaming 64-bit checksum for AkiDB's files: four
 * independent multiply-rotate lanes over 32-byte stripes (fast on every
 * CPU, no special instructions), so the result does not depend on how the
 * data is split between updates. Detects corruption; not cryptographic.
 */
#ifndef AKIDB_UTIL_CHECKSUM_H
#define AKIDB_UTIL_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint64_t lane[4];
  uint8_t buf[32];
  size_t buffered;
  uint64_t total;
} ck64_t;

void ck64_init(ck64_t *c);
void ck64_update(ck64_t *c, const void *data, size_t len);
uint64_t ck64_final(const ck64_t *c);

#endif /* AKIDB_UTIL_CHECKSUM_H */
