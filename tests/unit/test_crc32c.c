/*
 * test_crc32c.c — CRC32C (src/store/crc32c.c): published test vectors on
 * every implementation this CPU can run, the table and hardware paths
 * agreeing with a bit-at-a-time reference on random buffers of every
 * length 0..1024 at every alignment, running values composing, and the
 * choice of path (crc32c_impl, crc32c_select, AKIDB_CRC32C=table).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/errors.h"
#include "check.h"
#include "store/crc32c.h"

#if defined(__x86_64__)
#define HW_NAME "sse4.2"
static int cpu_has_hw(void) { return __builtin_cpu_supports("sse4.2"); }
#elif defined(__aarch64__)
#include <sys/auxv.h>
#define HW_NAME "armv8-crc"
static int cpu_has_hw(void) { return (getauxval(AT_HWCAP) & (1ul << 7)) != 0; }
#else
#define HW_NAME "none"
static int cpu_has_hw(void) { return 0; }
#endif

#ifdef AKIDB_TEST_SMALL
#define MAX_LEN 1024u
#define ALIGNS 8u
#else
#define MAX_LEN 1024u
#define ALIGNS 16u
#endif

/* The implementations to exercise: the table, and the hardware one if any. */
static const char *impls[2];
static int n_impls;

static void list_impls(void) {
  n_impls = 0;
  impls[n_impls++] = "table";
  if (cpu_has_hw()) impls[n_impls++] = HW_NAME;
}

static void use(const char *name) {
  int rc = crc32c_select(name);
  if (rc != AKIDB_OK)
    CHECK_FAIL("crc32c_select(%s) = %s", name ? name : "NULL", akidb_err_name(rc));
  if (name) ASSERT_STR_CONTAINS(crc32c_impl(), name);
}

/* Bit-at-a-time CRC32C: the independent oracle. */
static uint32_t crc_reference(uint32_t crc, const uint8_t *p, size_t n) {
  crc = ~crc;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int b = 0; b < 8; b++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint8_t rnd_byte(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint8_t)(rng_state >> 24);
}

/* ---------------------------------------------------------------- tests -- */

static void test_crc32c_known_vectors(void) {
  uint8_t zeros[32] = {0}, ones[32], up[32], down[32];
  memset(ones, 0xFF, sizeof ones);
  for (int i = 0; i < 32; i++) {
    up[i] = (uint8_t)i;
    down[i] = (uint8_t)(31 - i);
  }
  list_impls();
  for (int k = 0; k < n_impls; k++) {
    use(impls[k]);
    fprintf(stderr, "  %s\n", crc32c_impl());
    ASSERT_EQ_U64(crc32c(0, "123456789", 9), 0xE3069283u);
    ASSERT_EQ_U64(crc32c(0, "", 0), 0u);
    ASSERT_EQ_U64(crc32c(0, NULL, 0), 0u);
    /* RFC 3720 (iSCSI), appendix B.4 */
    ASSERT_EQ_U64(crc32c(0, zeros, 32), 0x8A9136AAu);
    ASSERT_EQ_U64(crc32c(0, ones, 32), 0x62A8AB43u);
    ASSERT_EQ_U64(crc32c(0, up, 32), 0x46DD794Eu);
    ASSERT_EQ_U64(crc32c(0, down, 32), 0x113FDB5Cu);
  }
  use(NULL);
}

/* Every path equals the reference on random data of every length 0..1024,
 * starting at every offset within 16 bytes (both alignment loops run). */
static void test_crc32c_paths_match_reference_on_random_buffers(void) {
  uint8_t *buf = malloc(MAX_LEN + 64);
  ASSERT_TRUE(buf != NULL);
  list_impls();
  if (n_impls == 1) fprintf(stderr, "  this CPU lacks %s: only the table is compared\n", HW_NAME);
  for (size_t len = 0; len <= MAX_LEN; len++) {
    for (size_t a = 0; a < ALIGNS; a++) {
      for (size_t i = 0; i < len + a; i++) buf[i] = rnd_byte();
      uint32_t seed = len % 3 == 0 ? 0 : (uint32_t)rng_state;
      uint32_t want = crc_reference(seed, buf + a, len);
      for (int k = 0; k < n_impls; k++) {
        use(impls[k]);
        uint32_t got = crc32c(seed, buf + a, len);
        if (got != want)
          CHECK_FAIL("%s: len %zu offset %zu seed %08x: %08x, reference %08x", impls[k], len, a,
                     seed, got, want);
      }
    }
  }
  use(NULL);
  free(buf);
}

/* A large buffer: the hardware path (when present) equals the table. */
static void test_crc32c_hardware_equals_table_on_large_buffer(void) {
  size_t n = (size_t)3 << 20;
  uint8_t *buf = malloc(n + 1);
  ASSERT_TRUE(buf != NULL);
  for (size_t i = 0; i < n + 1; i++) buf[i] = rnd_byte();
  list_impls();
  use("table");
  uint32_t table = crc32c(0, buf + 1, n);
  for (int k = 0; k < n_impls; k++) {
    use(impls[k]);
    ASSERT_EQ_U64(crc32c(0, buf + 1, n), table);
  }
  use(NULL);
  free(buf);
}

/* crc32c(crc32c(0, a), b) == crc32c(0, a || b) for every split point. */
static void test_crc32c_running_value_composes(void) {
  uint8_t buf[300];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = rnd_byte();
  list_impls();
  for (int k = 0; k < n_impls; k++) {
    use(impls[k]);
    uint32_t whole = crc32c(0, buf, sizeof buf);
    for (size_t cut = 0; cut <= sizeof buf; cut++)
      ASSERT_EQ_U64(crc32c(crc32c(0, buf, cut), buf + cut, sizeof buf - cut), whole);
  }
  use(NULL);
}

/* crc32c_impl names the path in use; the start-up choice is the hardware
 * one when the CPU has it; AKIDB_CRC32C=table forces the table. */
static void test_crc32c_impl_reports_the_path(void) {
  unsetenv("AKIDB_CRC32C");
  ASSERT_OK(crc32c_select(NULL));
  ASSERT_STR_CONTAINS(crc32c_impl(), cpu_has_hw() ? HW_NAME : "table");
  fprintf(stderr, "  default path on this CPU: %s\n", crc32c_impl());
  setenv("AKIDB_CRC32C", "table", 1);
  ASSERT_OK(crc32c_select(NULL));
  ASSERT_TRUE(strcmp(crc32c_impl(), "table") == 0);
  ASSERT_EQ_U64(crc32c(0, "123456789", 9), 0xE3069283u);
  unsetenv("AKIDB_CRC32C");
  ASSERT_OK(crc32c_select(NULL));
  ASSERT_STR_CONTAINS(crc32c_impl(), cpu_has_hw() ? HW_NAME : "table");
  ASSERT_OK(crc32c_select("table"));
  ASSERT_TRUE(strcmp(crc32c_impl(), "table") == 0);
  ASSERT_OK(crc32c_select(NULL));
}

static void test_crc32c_select_refuses_unknown_or_missing_paths(void) {
  ASSERT_EQ_INT(crc32c_select("crc64"), AKIDB_EINVAL);
  ASSERT_EQ_INT(crc32c_select(""), AKIDB_EINVAL);
  if (!cpu_has_hw()) ASSERT_EQ_INT(crc32c_select(HW_NAME), AKIDB_ENOTSUP);
#if defined(__x86_64__)
  ASSERT_EQ_INT(crc32c_select("armv8-crc"), AKIDB_EINVAL);
#endif
  ASSERT_OK(crc32c_select(NULL));
}

CHECK_MAIN(CHECK_CASE(test_crc32c_known_vectors),
           CHECK_CASE(test_crc32c_paths_match_reference_on_random_buffers),
           CHECK_CASE(test_crc32c_hardware_equals_table_on_large_buffer),
           CHECK_CASE(test_crc32c_running_value_composes),
           CHECK_CASE(test_crc32c_impl_reports_the_path),
           CHECK_CASE(test_crc32c_select_refuses_unknown_or_missing_paths))
