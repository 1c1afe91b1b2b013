/*
 * crc32c.h — CRC32C (Castagnoli) checksums for the write-ahead log and
 * checkpoint sections (internal to src/store/).
 */
#ifndef AKIDB_STORE_CRC32C_H
#define AKIDB_STORE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC32C (Castagnoli), hardware-accelerated where the CPU has it (SSE4.2 on
 * x86-64, the CRC32 extension on AArch64), table-driven otherwise. `crc` is
 * the running value: start with 0; crc32c(crc32c(0, a), b) equals the CRC
 * of a followed by b. Thread-safe. The environment variable
 * AKIDB_CRC32C=table (read once, at the first call) forces the table. */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

/* Name of the CRC32C implementation in use ("sse4.2", "armv8-crc", "table"). */
const char *crc32c_impl(void);

/* Switches the implementation crc32c uses: "table", the hardware one by its
 * crc32c_impl name, or NULL for the start-up choice (the hardware one when
 * the CPU has it, unless AKIDB_CRC32C=table). Every implementation returns
 * the same values, so this is safe at any time; it exists so tests and
 * benchmarks can compare the paths. Returns 0, AKIDB_ENOTSUP (this CPU or
 * build lacks it) or AKIDB_EINVAL (unknown name). */
int crc32c_select(const char *name);

#endif /* AKIDB_STORE_CRC32C_H */
