/*
 * closed.c — closed-loop load (closed.h): one thread per connection, a
 * shared atomic query counter, a start barrier once every connection is
 * open; each thread keeps its own latency buffer, merged at the end.
 */
#include "closed.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CONNECTIONS 256

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

typedef struct run run_t;

typedef struct {
  run_t *run;
  uint32_t index;
  void *conn;
  double *lat;
  size_t n, cap;
  size_t ok, failed, calls;
  uint64_t found;
  char error[256];
} worker_t;

struct run {
  const cl_spec_t *spec;
  pthread_barrier_t start;
  atomic_size_t next;
  double t_measure, t_end; /* set before the start barrier */
};

static void *worker_main(void *arg) {
  worker_t *w = arg;
  run_t *r = w->run;
  const cl_spec_t *s = r->spec;
  pthread_barrier_wait(&r->start); /* the window was set before it */
  double measure = r->t_measure, end = r->t_end;
  for (;;) {
    double t = now_us();
    if (t >= end) break;
    size_t q = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed) % s->n_queries;
    uint32_t found = 0;
    char err[256];
    int rc = s->call(s->ctx, w->conn, q, &found, err, sizeof err);
    double done = now_us();
    w->calls++;
    if (t < measure) continue;
    if (rc) {
      if (w->failed++ == 0) snprintf(w->error, sizeof w->error, "%s", err);
      continue;
    }
    if (w->n == w->cap) {
      size_t cap = w->cap ? w->cap * 2 : 4096;
      double *p = realloc(w->lat, cap * sizeof *p);
      if (!p) {
        w->failed++;
        continue;
      }
      w->lat = p;
      w->cap = cap;
    }
    w->lat[w->n++] = done - t;
    w->ok++;
    w->found += found;
  }
  return NULL;
}

int cl_run(const cl_spec_t *s, cl_result_t *res) {
  memset(res, 0, sizeof *res);
  uint32_t n = s->connections;
  if (n < 1 || n > MAX_CONNECTIONS || s->n_queries == 0) {
    snprintf(res->error, sizeof res->error, "bad closed-loop spec");
    return -1;
  }
  run_t r = {.spec = s};
  atomic_init(&r.next, 0);
  worker_t *w = calloc(n, sizeof *w);
  pthread_t *th = calloc(n, sizeof *th);
  if (!w || !th) {
    free(w), free(th);
    snprintf(res->error, sizeof res->error, "out of memory");
    return -1;
  }
  int rc = 0;
  uint32_t opened = 0;
  for (; opened < n; opened++) {
    w[opened].run = &r;
    w[opened].index = opened;
    w[opened].conn = s->open(s->ctx, opened, res->error, sizeof res->error);
    if (!w[opened].conn) {
      rc = -1;
      break;
    }
  }
  if (rc == 0) {
    pthread_barrier_init(&r.start, NULL, n + 1);
    r.t_measure = now_us() + s->warmup_s * 1e6;
    r.t_end = r.t_measure + s->duration_s * 1e6;
    uint32_t started = 0;
    for (; started < n; started++)
      if (pthread_create(&th[started], NULL, worker_main, &w[started])) break;
    if (started < n) {
      fprintf(stderr, "closed loop: pthread_create failed\n");
      abort();
    }
    pthread_barrier_wait(&r.start);
    for (uint32_t i = 0; i < n; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&r.start);
    res->elapsed_s = s->duration_s;
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++) total += w[i].n;
    res->latency_us = malloc((total ? total : 1) * sizeof(double));
    for (uint32_t i = 0; i < n; i++) {
      if (res->latency_us) memcpy(res->latency_us + res->n_latency, w[i].lat, w[i].n * sizeof(double));
      res->n_latency += w[i].n;
      res->ok += w[i].ok;
      res->failed += w[i].failed;
      res->found += w[i].found;
      res->calls += w[i].calls;
      if (!res->error[0] && w[i].error[0]) snprintf(res->error, sizeof res->error, "%s", w[i].error);
    }
  }
  for (uint32_t i = 0; i < opened; i++) {
    s->close(s->ctx, w[i].conn);
    free(w[i].lat);
  }
  free(w);
  free(th);
  return rc;
}
