/*
 * test_uuid.c — UUIDv7 (akidb_uuid_v7): version and variant bits, the
 * embedded time against the clock, strict byte order of ids made in a
 * burst (many per millisecond) and across threads, randomness in the tail,
 * the per-thread generator of akidb_uuid_v7_fast (same bits and order,
 * different tails per thread), and the text form (round trip, case, malformed inputs).
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "akidb/catalog.h"
#include "check.h"

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_uuid_v7_has_version_and_variant_bits(void) {
  for (int i = 0; i < 1000; i++) {
    akidb_uuid_t id;
    ASSERT_OK(akidb_uuid_v7(&id));
    ASSERT_EQ_INT(id.bytes[6] >> 4, 7);
    ASSERT_EQ_INT(id.bytes[8] >> 6, 2);
    char text[AKIDB_UUID_STR_LEN + 1];
    akidb_uuid_format(&id, text);
    ASSERT_EQ_INT(strlen(text), 36);
    ASSERT_EQ_INT(text[14], '7');
    ASSERT_TRUE(strchr("89ab", text[19]) != NULL);
  }
}

static void test_uuid_v7_time_is_the_unix_millisecond(void) {
  int64_t before = now_ms();
  akidb_uuid_t id;
  ASSERT_OK(akidb_uuid_v7(&id));
  int64_t after = now_ms();
  int64_t t = akidb_uuid_v7_unix_ms(&id);
  /* The generator may run ahead of the clock by the ids it borrowed, never behind. */
  ASSERT_GE(t, before);
  ASSERT_LE(t, after + 1000);
}

static void test_uuid_v7_burst_is_strictly_increasing(void) {
  enum { N = 200000 }; /* far more than one millisecond's worth */
  akidb_uuid_t prev, cur;
  ASSERT_OK(akidb_uuid_v7(&prev));
  for (int i = 0; i < N; i++) {
    ASSERT_OK(akidb_uuid_v7(&cur));
    if (akidb_uuid_compare(&prev, &cur) >= 0) CHECK_FAIL("id %d not above its predecessor", i);
    prev = cur;
  }
}

#define THREADS 4
#define PER_THREAD 20000
static akidb_uuid_t thread_ids[THREADS][PER_THREAD];

static void *make_ids(void *arg) {
  akidb_uuid_t *out = arg;
  for (int i = 0; i < PER_THREAD; i++)
    if (akidb_uuid_v7(&out[i])) return (void *)1;
  return NULL;
}

static int cmp_uuid(const void *a, const void *b) { return akidb_uuid_compare(a, b); }

static void test_uuid_v7_threads_get_distinct_ordered_ids(void) {
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) ASSERT_OK(pthread_create(&t[i], NULL, make_ids, thread_ids[i]));
  for (int i = 0; i < THREADS; i++) {
    void *r;
    pthread_join(t[i], &r);
    ASSERT_TRUE(r == NULL);
  }
  for (int i = 0; i < THREADS; i++)
    for (int j = 1; j < PER_THREAD; j++)
      ASSERT_TRUE(akidb_uuid_compare(&thread_ids[i][j - 1], &thread_ids[i][j]) < 0);
  static akidb_uuid_t all[THREADS * PER_THREAD];
  memcpy(all, thread_ids, sizeof all);
  qsort(all, THREADS * PER_THREAD, sizeof all[0], cmp_uuid);
  for (int i = 1; i < THREADS * PER_THREAD; i++)
    ASSERT_TRUE(akidb_uuid_compare(&all[i - 1], &all[i]) != 0);
}

static void test_uuid_v7_random_tail_differs(void) {
  /* 62 random bits: two ids never share their last 7 bytes in practice. */
  akidb_uuid_t a, b;
  ASSERT_OK(akidb_uuid_v7(&a));
  ASSERT_OK(akidb_uuid_v7(&b));
  ASSERT_TRUE(memcmp(a.bytes + 9, b.bytes + 9, 7) != 0);
}

static void test_uuid_v7_fast_keeps_the_bits_and_the_order(void) {
  akidb_uuid_t prev, cur;
  ASSERT_OK(akidb_uuid_v7(&prev));
  for (int i = 0; i < 20000; i++) { /* interleaved with the getrandom ids */
    ASSERT_OK(i % 2 ? akidb_uuid_v7(&cur) : akidb_uuid_v7_fast(&cur));
    ASSERT_EQ_INT(cur.bytes[6] >> 4, 7);
    ASSERT_EQ_INT(cur.bytes[8] >> 6, 2);
    if (akidb_uuid_compare(&prev, &cur) >= 0) CHECK_FAIL("id %d not above its predecessor", i);
    prev = cur;
  }
  akidb_uuid_t a, b;
  ASSERT_OK(akidb_uuid_v7_fast(&a));
  ASSERT_OK(akidb_uuid_v7_fast(&b));
  ASSERT_TRUE(memcmp(a.bytes + 9, b.bytes + 9, 7) != 0);
}

static void *first_fast_id(void *arg) {
  return akidb_uuid_v7_fast(arg) ? (void *)1 : NULL;
}

static void test_uuid_v7_fast_threads_are_seeded_apart(void) {
  /* each thread's generator starts from its own random seed */
  akidb_uuid_t first[THREADS];
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) ASSERT_OK(pthread_create(&t[i], NULL, first_fast_id, &first[i]));
  for (int i = 0; i < THREADS; i++) {
    void *r;
    pthread_join(t[i], &r);
    ASSERT_TRUE(r == NULL);
  }
  for (int i = 0; i < THREADS; i++)
    for (int j = i + 1; j < THREADS; j++)
      ASSERT_TRUE(memcmp(first[i].bytes + 9, first[j].bytes + 9, 7) != 0);
}

static void test_uuid_text_round_trip_and_case(void) {
  akidb_uuid_t id, back;
  ASSERT_OK(akidb_uuid_v7(&id));
  char text[AKIDB_UUID_STR_LEN + 1];
  akidb_uuid_format(&id, text);
  ASSERT_OK(akidb_uuid_parse(text, &back));
  ASSERT_EQ_INT(akidb_uuid_compare(&id, &back), 0);
  ASSERT_OK(akidb_uuid_parse("0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B", &back));
  akidb_uuid_format(&back, text);
  ASSERT_TRUE(strcmp(text, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b") == 0);
  ASSERT_EQ_INT(akidb_uuid_v7_unix_ms(&back), 0x0190a1b2c3d4ll);
}

static void test_uuid_parse_refuses_malformed_text(void) {
  akidb_uuid_t id;
  const char *bad[] = {"",
                       "0190a1b2c3d47e5f8a9b0c1d2e3f4a5b",
                       "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5",
                       "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5bb",
                       "0190a1b2_c3d4-7e5f-8a9b-0c1d2e3f4a5b",
                       "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5g",
                       NULL};
  for (int i = 0; bad[i]; i++) ASSERT_EQ_INT(akidb_uuid_parse(bad[i], &id), AKIDB_EINVAL);
  ASSERT_EQ_INT(akidb_uuid_parse(NULL, &id), AKIDB_EINVAL);
  akidb_uuid_t nil = {{0}};
  ASSERT_TRUE(akidb_uuid_is_nil(&nil));
  ASSERT_OK(akidb_uuid_v7(&id));
  ASSERT_TRUE(!akidb_uuid_is_nil(&id));
}

CHECK_MAIN(CHECK_CASE(test_uuid_v7_has_version_and_variant_bits),
           CHECK_CASE(test_uuid_v7_time_is_the_unix_millisecond),
           CHECK_CASE(test_uuid_v7_burst_is_strictly_increasing),
           CHECK_CASE(test_uuid_v7_threads_get_distinct_ordered_ids),
           CHECK_CASE(test_uuid_v7_random_tail_differs),
           CHECK_CASE(test_uuid_v7_fast_keeps_the_bits_and_the_order),
           CHECK_CASE(test_uuid_v7_fast_threads_are_seeded_apart),
           CHECK_CASE(test_uuid_text_round_trip_and_case),
           CHECK_CASE(test_uuid_parse_refuses_malformed_text))
