/*
 * metrics.c — the counters of one embedder (calls, HTTP attempts, errors by
 * cause, retries, inputs and bytes embedded, two latency histograms) and
 * their snapshot for the /metrics exporter.
 *
 * Locking: none; every counter is an atomic updated with relaxed order (a
 * snapshot reads each counter atomically, not the set as one).
 * Durability: none (memory only; counters restart at zero).
 */
#include <stddef.h>

#include <string.h>

#include "embed/embed_internal.h"

static const uint32_t latency_bounds_ms[AKIDB_EMBED_LATENCY_BUCKETS - 1] =
    AKIDB_EMBED_LATENCY_BOUNDS_MS;

static const char *const cause_names[AKIDB_EMBED_CAUSE_COUNT] = {
#define CAUSE_NAME(name, text) text,
    AKIDB_EMBED_CAUSES(CAUSE_NAME)
#undef CAUSE_NAME
};

const uint32_t *akidb_embed_latency_bounds_ms(void) { return latency_bounds_ms; }

const char *akidb_embed_cause_name(akidb_embed_cause_t c) {
  return (unsigned)c < AKIDB_EMBED_CAUSE_COUNT ? cause_names[c] : "unknown";
}

void embed_metrics_add(atomic_uint_fast64_t *c, uint64_t v) {
  atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static uint64_t get(const atomic_uint_fast64_t *c) {
  return atomic_load_explicit(c, memory_order_relaxed);
}

/* Index of the first bucket whose bound holds elapsed_ns. */
static size_t latency_bucket(uint64_t elapsed_ns) {
  size_t i = 0;
  while (i < AKIDB_EMBED_LATENCY_BUCKETS - 1 &&
         elapsed_ns > (uint64_t)latency_bounds_ms[i] * 1000000u)
    i++;
  return i;
}

static embed_metrics_t totals[2]; /* by akidb_embed_provider_t */

embed_metrics_t *embed_metrics_totals(akidb_embed_provider_t p) {
  return (unsigned)p < 2 ? &totals[p] : NULL;
}

void embed_metrics_request(embed_metrics_t *m, uint64_t elapsed_ns, bool ok) {
  for (; m; m = m->parent) {
    embed_metrics_add(ok ? &m->requests_ok : &m->requests_failed, 1);
    embed_metrics_add(&m->request_latency[latency_bucket(elapsed_ns)], 1);
    embed_metrics_add(&m->request_latency_sum_us, elapsed_ns / 1000u);
  }
}

void embed_metrics_error(embed_metrics_t *m, akidb_embed_cause_t cause) {
  for (; m && (unsigned)cause < AKIDB_EMBED_CAUSE_COUNT; m = m->parent)
    embed_metrics_add(&m->errors[cause], 1);
}

void embed_metrics_retry(embed_metrics_t *m) {
  for (; m; m = m->parent) embed_metrics_add(&m->retries, 1);
}

void embed_metrics_call(embed_metrics_t *m, uint64_t elapsed_ns, bool ok, size_t inputs,
                        uint64_t bytes) {
  for (; m; m = m->parent) {
    embed_metrics_add(ok ? &m->calls_ok : &m->calls_failed, 1);
    embed_metrics_add(&m->call_latency[latency_bucket(elapsed_ns)], 1);
    embed_metrics_add(&m->call_latency_sum_us, elapsed_ns / 1000u);
    if (ok) {
      embed_metrics_add(&m->inputs_embedded, inputs);
      embed_metrics_add(&m->bytes_embedded, bytes);
    }
  }
}

void akidb_embed_totals(akidb_embed_provider_t p, akidb_embed_stats_t *out) {
  memset(out, 0, sizeof *out);
  embed_metrics_t *m = embed_metrics_totals(p);
  if (m) embed_metrics_read(m, out);
  out->breaker_state = 0;
}

uint32_t akidb_embed_breakers_open(void) { return embed_breakers_open(); }

void embed_metrics_read(embed_metrics_t *m, akidb_embed_stats_t *out) {
  out->calls_ok = get(&m->calls_ok);
  out->calls_failed = get(&m->calls_failed);
  out->requests_ok = get(&m->requests_ok);
  out->requests_failed = get(&m->requests_failed);
  for (size_t i = 0; i < AKIDB_EMBED_CAUSE_COUNT; i++) out->errors[i] = get(&m->errors[i]);
  out->retries = get(&m->retries);
  out->inputs_embedded = get(&m->inputs_embedded);
  out->bytes_embedded = get(&m->bytes_embedded);
  for (size_t i = 0; i < AKIDB_EMBED_LATENCY_BUCKETS; i++) {
    out->request_latency[i] = get(&m->request_latency[i]);
    out->call_latency[i] = get(&m->call_latency[i]);
  }
  out->request_latency_sum_us = get(&m->request_latency_sum_us);
  out->call_latency_sum_us = get(&m->call_latency_sum_us);
}
