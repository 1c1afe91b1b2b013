/*
 * breaker.c — the circuit breakers of embedding provider endpoints, shared
 * by every embedder created with the same (base_url, threshold, cool-down)
 * through a refcounted process-wide registry.
 *
 *   CLOSED    --(threshold consecutive failed attempts)--> OPEN
 *   OPEN      --(cool-down elapsed; the next admission is the trial)--> HALF_OPEN
 *   HALF_OPEN --(trial succeeded)--> CLOSED
 *   HALF_OPEN --(trial failed)--> OPEN (the cool-down starts again)
 *
 * A failed attempt is a connection error, a timeout or a 5xx answer; any
 * other answer (2xx, 429, other 4xx, even a malformed body) shows the
 * endpoint is up: it resets the count and closes the breaker. While OPEN,
 * and while HALF_OPEN with its trial in flight, admission is refused at
 * once (AKIDB_EUNAVAILABLE), except that the call owning the trial learns
 * so and may wait for it.
 *
 * Locking: registry_lock guards the registry list and refcounts; each
 * breaker's own mutex guards its fields, held only for these few updates.
 * Never both at once except in acquire/release (registry, then nothing).
 * Durability: none (memory only).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "embed/embed_internal.h"

struct embed_breaker {
  struct embed_breaker *next; /* registry list (registry_lock) */
  unsigned refs;              /* registry_lock */
  char *endpoint;
  uint32_t threshold, cooldown_ms;
  pthread_mutex_t lock; /* guards everything below */
  int state;
  uint32_t consecutive;
  uint64_t opened_at_ms, opens;
  bool probe_in_flight;
  const void *probe_owner;
  char last_cause[160];
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static embed_breaker_t *registry;

uint64_t embed_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static embed_breaker_t *breaker_new(const char *endpoint, uint32_t threshold,
                                    uint32_t cooldown_ms) {
  embed_breaker_t *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->endpoint = strdup(endpoint);
  if (!b->endpoint) {
    free(b);
    return NULL;
  }
  b->threshold = threshold ? threshold : 1;
  b->cooldown_ms = cooldown_ms;
  b->state = AKIDB_EMBED_BREAKER_CLOSED;
  pthread_mutex_init(&b->lock, NULL);
  return b;
}

embed_breaker_t *embed_breaker_acquire(const char *endpoint, uint32_t threshold,
                                       uint32_t cooldown_ms) {
  pthread_mutex_lock(&registry_lock);
  embed_breaker_t *b = registry;
  while (b && !(b->threshold == threshold && b->cooldown_ms == cooldown_ms &&
                strcmp(b->endpoint, endpoint) == 0))
    b = b->next;
  if (!b && (b = breaker_new(endpoint, threshold, cooldown_ms)) != NULL) {
    b->next = registry;
    registry = b;
  }
  if (b) b->refs++;
  pthread_mutex_unlock(&registry_lock);
  return b;
}

void embed_breaker_release(embed_breaker_t *b) {
  if (!b) return;
  pthread_mutex_lock(&registry_lock);
  bool last = --b->refs == 0;
  if (last) {
    embed_breaker_t **p = &registry;
    while (*p != b) p = &(*p)->next;
    *p = b->next;
  }
  pthread_mutex_unlock(&registry_lock);
  if (!last) return;
  pthread_mutex_destroy(&b->lock);
  free(b->endpoint);
  free(b);
}

/* Refusal message while open (lock held). */
static void refuse_open(embed_breaker_t *b, uint64_t now, char *err, size_t errlen) {
  uint64_t left_ms = b->cooldown_ms - (now - b->opened_at_ms);
  snprintf(err, errlen,
           "embedding provider %s unavailable: circuit open after %u consecutive failures; "
           "retrying after %llu s (last failure: %s)",
           b->endpoint, b->consecutive, (unsigned long long)((left_ms + 999) / 1000),
           b->last_cause);
}

/* Makes the caller the half-open trial (lock held). */
static void take_probe(embed_breaker_t *b, const void *owner, bool *probe) {
  b->state = AKIDB_EMBED_BREAKER_HALF_OPEN;
  b->probe_in_flight = true;
  b->probe_owner = owner;
  *probe = true;
}

int embed_breaker_admit(embed_breaker_t *b, const void *owner_token, bool *probe,
                        bool *own_probe_busy, char *err, size_t errlen) {
  *probe = false;
  *own_probe_busy = false;
  int rc = 0;
  pthread_mutex_lock(&b->lock);
  if (b->state == AKIDB_EMBED_BREAKER_OPEN) {
    uint64_t now = embed_now_ms();
    if (now - b->opened_at_ms >= b->cooldown_ms) {
      take_probe(b, owner_token, probe);
    } else {
      refuse_open(b, now, err, errlen);
      rc = AKIDB_EUNAVAILABLE;
    }
  } else if (b->state == AKIDB_EMBED_BREAKER_HALF_OPEN) {
    if (!b->probe_in_flight) {
      take_probe(b, owner_token, probe);
    } else {
      *own_probe_busy = b->probe_owner == owner_token;
      snprintf(err, errlen,
               "embedding provider %s unavailable: circuit half-open after %u consecutive "
               "failures, a trial request is in flight (last failure: %s)",
               b->endpoint, b->consecutive, b->last_cause);
      rc = AKIDB_EUNAVAILABLE;
    }
  }
  pthread_mutex_unlock(&b->lock);
  return rc;
}

void embed_breaker_record(embed_breaker_t *b, bool probe, bool failed, const char *cause) {
  pthread_mutex_lock(&b->lock);
  if (probe) {
    b->probe_in_flight = false;
    b->probe_owner = NULL;
  }
  if (!failed) {
    b->consecutive = 0;
    b->state = AKIDB_EMBED_BREAKER_CLOSED;
  } else {
    b->consecutive++;
    if (cause) snprintf(b->last_cause, sizeof b->last_cause, "%s", cause);
    bool reopen = probe && b->state == AKIDB_EMBED_BREAKER_HALF_OPEN;
    bool trip = b->state == AKIDB_EMBED_BREAKER_CLOSED && b->consecutive >= b->threshold;
    if (reopen || trip) {
      b->state = AKIDB_EMBED_BREAKER_OPEN;
      b->opened_at_ms = embed_now_ms();
      b->opens++;
    }
  }
  pthread_mutex_unlock(&b->lock);
}

void embed_breaker_read(embed_breaker_t *b, int *state, uint32_t *consecutive,
                        uint64_t *opens) {
  pthread_mutex_lock(&b->lock);
  *state = b->state;
  *consecutive = b->consecutive;
  *opens = b->opens;
  pthread_mutex_unlock(&b->lock);
}

uint32_t embed_breakers_open(void) {
  uint32_t n = 0;
  pthread_mutex_lock(&registry_lock);
  for (embed_breaker_t *b = registry; b; b = b->next) {
    pthread_mutex_lock(&b->lock);
    n += b->state == AKIDB_EMBED_BREAKER_OPEN;
    pthread_mutex_unlock(&b->lock);
  }
  pthread_mutex_unlock(&registry_lock);
  return n;
}

void embed_breaker_abandon(embed_breaker_t *b) {
  pthread_mutex_lock(&b->lock);
  b->probe_in_flight = false; /* stays HALF_OPEN: the next admission is the trial */
  b->probe_owner = NULL;
  pthread_mutex_unlock(&b->lock);
}
