/*
 * breaker.c — the circuit breaker of one object-store endpoint.
 *
 *   CLOSED    --(threshold consecutive transient failures)--> OPEN
 *   OPEN      --(cooldown elapsed; the next admit is the probe)--> HALF_OPEN
 *   HALF_OPEN --(probe succeeded)--> CLOSED
 *   HALF_OPEN --(probe failed)--> OPEN (cooldown starts again)
 *
 * While OPEN, and while HALF_OPEN with its probe in flight, admit refuses
 * with AKIDB_EUNAVAILABLE at once. A success (any non-transient answer)
 * resets the consecutive count and closes the breaker (a request admitted
 * before it opened may still prove the endpoint healthy). Time comes from the injected clock.
 *
 * Locking: one mutex per breaker, held only for these few field updates.
 * Durability: none (memory only).
 */
#include <stdio.h>
#include <string.h>

#include "objstore/objstore_internal.h"

void breaker_init(objstore_breaker_t *b, uint32_t threshold, uint64_t cooldown_ms,
                  const char *endpoint, const objstore_clock_t *clock) {
  memset(b, 0, sizeof *b);
  pthread_mutex_init(&b->lock, NULL);
  b->state = AKIDB_OBJSTORE_BREAKER_CLOSED;
  b->threshold = threshold ? threshold : 1;
  b->cooldown_ms = cooldown_ms;
  b->endpoint = endpoint;
  b->clock = clock;
}

void breaker_destroy(objstore_breaker_t *b) { pthread_mutex_destroy(&b->lock); }

int breaker_admit(objstore_breaker_t *b, bool *probe, char *err, size_t errlen) {
  *probe = false;
  pthread_mutex_lock(&b->lock);
  int rc = 0;
  if (b->state == AKIDB_OBJSTORE_BREAKER_OPEN) {
    uint64_t now = b->clock->now_ms(b->clock->ctx);
    if (now - b->opened_at_ms >= b->cooldown_ms) {
      b->state = AKIDB_OBJSTORE_BREAKER_HALF_OPEN;
      b->probe_in_flight = true;
      b->probes++;
      *probe = true;
    } else {
      objstore_errf(err, errlen,
                    "object store %s unavailable: circuit open after %u consecutive failures; "
                    "last: %s (next probe in %llu ms)",
                    b->endpoint, b->consecutive, b->last_error,
                    (unsigned long long)(b->cooldown_ms - (now - b->opened_at_ms)));
      rc = AKIDB_EUNAVAILABLE;
    }
  } else if (b->state == AKIDB_OBJSTORE_BREAKER_HALF_OPEN) {
    if (b->probe_in_flight) {
      objstore_errf(err, errlen,
                    "object store %s unavailable: circuit half-open after %u consecutive "
                    "failures, a probe request is in flight; last: %s",
                    b->endpoint, b->consecutive, b->last_error);
      rc = AKIDB_EUNAVAILABLE;
    } else {
      b->probe_in_flight = true;
      b->probes++;
      *probe = true;
    }
  }
  pthread_mutex_unlock(&b->lock);
  return rc;
}

void breaker_record(objstore_breaker_t *b, bool probe, bool failed, const char *cause) {
  pthread_mutex_lock(&b->lock);
  if (probe) b->probe_in_flight = false;
  if (!failed) {
    b->consecutive = 0; /* the endpoint answered: whatever the state, close */
    b->state = AKIDB_OBJSTORE_BREAKER_CLOSED;
  } else {
    b->consecutive++;
    if (cause) snprintf(b->last_error, sizeof b->last_error, "%s", cause);
    bool reopen = probe && b->state == AKIDB_OBJSTORE_BREAKER_HALF_OPEN;
    bool trip = b->state == AKIDB_OBJSTORE_BREAKER_CLOSED && b->consecutive >= b->threshold;
    if (reopen || trip) {
      b->state = AKIDB_OBJSTORE_BREAKER_OPEN;
      b->opened_at_ms = b->clock->now_ms(b->clock->ctx);
      b->opens++;
    }
  }
  pthread_mutex_unlock(&b->lock);
}

void breaker_read(objstore_breaker_t *b, int *state, uint32_t *consecutive, uint64_t *opens,
                  uint64_t *probes) {
  pthread_mutex_lock(&b->lock);
  if (state) *state = b->state;
  if (consecutive) *consecutive = b->consecutive;
  if (opens) *opens = b->opens;
  if (probes) *probes = b->probes;
  pthread_mutex_unlock(&b->lock);
}
