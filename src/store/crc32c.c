/*
 * crc32c.c — owns the CRC32C (Castagnoli, reflected polynomial 0x82F63B78)
 * checksum: a slicing-by-8 table implementation that runs everywhere, the
 * SSE4.2 crc32 instruction on x86-64 and the ARMv8 CRC32 extension on
 * AArch64 (both compiled through function target attributes, so no
 * per-file compiler flags), and the run-time choice between them (cpuid or
 * AT_HWCAP; AKIDB_CRC32C=table forces the table).
 *
 * Locking: the tables, the CPU check and the first choice are made once
 * under pthread_once; the choice itself is an atomic index, so crc32c is
 * thread-safe and crc32c_select may switch at any time (every
 * implementation returns the same values). No durable state.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/errors.h"
#include "store/crc32c.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#define HW_NAME "sse4.2"
#elif defined(__aarch64__)
#include <arm_acle.h>
#include <sys/auxv.h>
#define HW_NAME "armv8-crc"
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1ul << 7)
#endif
#endif

#define POLY 0x82F63B78u

enum { IMPL_TABLE = 0, IMPL_HW = 1 };

typedef uint32_t (*crc_fn)(uint32_t crc, const uint8_t *p, size_t len);

static uint32_t table[8][256];
static int hw_usable; /* set once by init() */
static atomic_int impl = IMPL_TABLE;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* ---------------------------------------------------------------- table -- */

/* Fills the eight slicing tables: table[0] is the classic byte table,
 * table[k][b] advances table[k-1][b] by one more zero byte. */
static void build_tables(void) {
  for (uint32_t b = 0; b < 256; b++) {
    uint32_t c = b;
    for (int bit = 0; bit < 8; bit++) c = (c >> 1) ^ (POLY & (0u - (c & 1u)));
    table[0][b] = c;
  }
  for (int k = 1; k < 8; k++)
    for (uint32_t b = 0; b < 256; b++)
      table[k][b] = (table[k - 1][b] >> 8) ^ table[0][table[k - 1][b] & 0xFF];
}

static inline uint32_t load32le(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Slicing-by-8 over the raw (not inverted) register value. */
static uint32_t crc_table(uint32_t crc, const uint8_t *p, size_t len) {
  while (len >= 8) {
    uint32_t lo = crc ^ load32le(p), hi = load32le(p + 4);
    crc = table[7][lo & 0xFF] ^ table[6][(lo >> 8) & 0xFF] ^ table[5][(lo >> 16) & 0xFF] ^
          table[4][lo >> 24] ^ table[3][hi & 0xFF] ^ table[2][(hi >> 8) & 0xFF] ^
          table[1][(hi >> 16) & 0xFF] ^ table[0][hi >> 24];
    p += 8;
    len -= 8;
  }
  while (len--) crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xFF];
  return crc;
}

/* ------------------------------------------------------------- hardware -- */

#if defined(__x86_64__)
static int cpu_has_crc(void) {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_SSE4_2);
}

/* The SSE4.2 crc32 instruction: bytes up to 8-byte alignment, then 8 at a
 * time, then the tail. */
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const uint8_t *p,
                                                         size_t len) {
  while (len && ((uintptr_t)p & 7)) {
    crc = _mm_crc32_u8(crc, *p++);
    len--;
  }
  uint64_t c64 = crc;
  while (len >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c64 = _mm_crc32_u64(c64, v);
    p += 8;
    len -= 8;
  }
  crc = (uint32_t)c64;
  while (len--) crc = _mm_crc32_u8(crc, *p++);
  return crc;
}
#elif defined(__aarch64__)
static int cpu_has_crc(void) { return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0; }

/* The ARMv8 crc32c instructions: bytes up to 8-byte alignment, then 8 at
 * a time (the loads are little-endian, as the instruction expects), then
 * the tail. */
__attribute__((target("+crc"))) static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t len) {
  while (len && ((uintptr_t)p & 7)) {
    crc = __crc32cb(crc, *p++);
    len--;
  }
  while (len >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    crc = __crc32cd(crc, v);
    p += 8;
    len -= 8;
  }
  while (len--) crc = __crc32cb(crc, *p++);
  return crc;
}
#else
static int cpu_has_crc(void) { return 0; }
static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t len) {
  return crc_table(crc, p, len);
}
#endif

/* ------------------------------------------------------------ dispatch -- */

static const crc_fn impl_fn[2] = {[IMPL_TABLE] = crc_table, [IMPL_HW] = crc_hw};

/* The start-up choice: hardware if usable, unless AKIDB_CRC32C=table. */
static int default_impl(void) {
  const char *env = getenv("AKIDB_CRC32C");
  if (env && strcmp(env, "table") == 0) return IMPL_TABLE;
  return hw_usable ? IMPL_HW : IMPL_TABLE;
}

static void init(void) {
  build_tables();
  hw_usable = cpu_has_crc();
  atomic_store(&impl, default_impl());
}

uint32_t crc32c(uint32_t crc, const void *data, size_t len) {
  pthread_once(&init_once, init);
  int which = atomic_load_explicit(&impl, memory_order_relaxed);
  return ~impl_fn[which](~crc, (const uint8_t *)data, len);
}

const char *crc32c_impl(void) {
  pthread_once(&init_once, init);
#ifdef HW_NAME
  if (atomic_load(&impl) == IMPL_HW) return HW_NAME;
#endif
  return "table";
}

int crc32c_select(const char *name) {
  pthread_once(&init_once, init);
  if (name == NULL) {
    atomic_store(&impl, default_impl());
    return AKIDB_OK;
  }
  if (strcmp(name, "table") == 0) {
    atomic_store(&impl, IMPL_TABLE);
    return AKIDB_OK;
  }
#ifdef HW_NAME
  if (strcmp(name, HW_NAME) == 0) {
    if (!hw_usable) return AKIDB_ENOTSUP;
    atomic_store(&impl, IMPL_HW);
    return AKIDB_OK;
  }
#endif
  return AKIDB_EINVAL;
}
