/*
 * clock.h — the one monotonic clock of the engine (durations, schedules,
 * latency figures): seconds as a double and nanoseconds as an integer.
 * Stateless; CLOCK_MONOTONIC never jumps with the wall clock.
 */
#ifndef AKIDB_UTIL_CLOCK_H
#define AKIDB_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic nanoseconds (arbitrary origin). */
static inline uint64_t clock_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Monotonic seconds (arbitrary origin). */
static inline double clock_now_s(void) { return (double)clock_now_ns() * 1e-9; }

#endif /* AKIDB_UTIL_CLOCK_H */
