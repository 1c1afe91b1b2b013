/*
 * thread.h — names the calling thread, so `top -H`, `ps -L`, perf and gdb
 * show which part of the server a thread belongs to (Linux keeps at most 15
 * bytes of a name, so every name here is shorter), and counts the cores the
 * process may run on, which sizes its thread pools. Stateless.
 */
#ifndef AKIDB_UTIL_THREAD_H
#define AKIDB_UTIL_THREAD_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

/* Names the calling thread (best effort: a name is only a diagnostic). */
static inline void util_thread_name(const char *name) {
  (void)pthread_setname_np(pthread_self(), name);
}

/* The cores this process may run on: its CPU affinity (a container's
 * cpuset, `taskset`), else the cores online; at least 1. Thread pools sized
 * "one per core" use this, so a server confined to 2 of 64 cores starts 2. */
static inline long util_cpus_usable(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n;
}

#endif /* AKIDB_UTIL_THREAD_H */
