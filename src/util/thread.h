/*
 * thread.h — names the calling thread, so `top -H`, `ps -L`, perf and gdb
 * show which part of the server a thread belongs to. Stateless; Linux keeps
 * at most 15 bytes of a name, so every name here is shorter.
 */
#ifndef AKIDB_UTIL_THREAD_H
#define AKIDB_UTIL_THREAD_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>

/* Names the calling thread (best effort: a name is only a diagnostic). */
static inline void util_thread_name(const char *name) {
  (void)pthread_setname_np(pthread_self(), name);
}

#endif /* AKIDB_UTIL_THREAD_H */
