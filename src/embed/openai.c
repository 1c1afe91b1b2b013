/*
 * openai.c — the OpenAI-compatible embedding provider: POST
 * {base_url}/embeddings with libcurl's multi interface.
 *
 * One akidb_embed call drives its batches from the calling thread with one
 * curl multi handle (taken from the provider's pool, so connections stay
 * open between calls): a batch starts when it is due (its backoff over), an
 * in-flight slot of the provider is free (at most max_concurrency HTTP
 * requests per provider, across all calling threads) and the circuit
 * breaker admits it. A transient failure (connection error, timeout, 5xx,
 * 429) schedules a retry after exponential backoff with jitter, or after
 * Retry-After when the answer gives one (capped at
 * AKIDB_EMBED_RETRY_AFTER_MAX_MS); any other failure, or a batch out of
 * retries, fails the whole call at once: the remaining transfers are
 * cancelled and the caller's output is never written (provider.c embeds
 * into scratch memory). No thread is created.
 *
 * Locking: `lock` guards the in-flight slot count (with `slot_freed`), the
 * list of calls waiting for a slot while their other transfers run (a freed
 * slot wakes their curl_multi_poll with curl_multi_wakeup, so no call
 * sleeps past it) and the pool of multi handles; held only for those
 * updates. A call's jobs
 * belong to its thread. The breaker has its own lock (breaker.c).
 * Durability: none.
 *
 * Secrets: the key is read from the environment at create into one page
 * excluded from core dumps (MADV_DONTDUMP), holding the Authorization
 * header line; the page is wiped and unmapped at destroy. The header list
 * handed to curl is built from our own nodes pointing into that page, so no
 * heap copy of the key is made by this file (curl's own request buffers are
 * beyond reach). Error bodies are redacted of the key before being quoted.
 * curl's verbose mode is never turned on.
 */
#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "util/curl_global.h"
#include "embed/embed_internal.h"
#include "util/clock.h"

#define OPENAI_POOL_MAX 16           /* idle multi handles kept */
#define OPENAI_ERROR_TEXT_MAX 200    /* bytes of a provider's error quoted */
#define OPENAI_ERROR_BODY_MAX 65536u /* bytes of an error answer kept */
#define OPENAI_SLOT_WAIT_MS 100      /* re-check period while waiting for a slot */

/* A call waiting in curl_multi_poll for a slot (openai_t.waiters). */
typedef struct slot_waiter {
  CURLM *multi;
  struct slot_waiter *prev, *next;
} slot_waiter_t;

typedef struct {
  char *base_url; /* as configured, without a trailing '/' */
  char *url;      /* base_url + "/embeddings" */
  char *model;
  char *key_env;  /* the variable's name, or NULL */
  akidb_embed_config_t cfg; /* numbers only: the string members are NULL */
  embed_metrics_t *m;
  embed_breaker_t *breaker;
  char *secret_page; /* "Authorization: Bearer <key>\0<key>\0" (DONTDUMP) */
  size_t secret_page_len;
  const char *key;   /* into secret_page, or NULL */
  struct curl_slist headers[4]; /* [Authorization,] Content-Type, Accept, Expect */
  struct curl_slist *header_head;
  pthread_mutex_t lock;
  pthread_cond_t slot_freed;
  uint32_t in_flight; /* lock */
  slot_waiter_t *waiters; /* lock */
  CURLM *pool[OPENAI_POOL_MAX]; /* lock */
  size_t npool;
} openai_t;

/* One batch of a call: its request, its transfer and its retry state. */
typedef struct {
  size_t first, count;
  char *body;
  size_t body_len;
  CURL *easy;             /* while running */
  struct curl_slist tp;   /* traceparent node, in front of the shared list */
  char tp_line[96];
  char *resp;             /* answer bytes */
  size_t resp_len, resp_cap;
  size_t resp_limit;
  bool resp_overflow;
  long retry_after_ms;    /* from the last answer; -1: none */
  uint32_t attempts;      /* attempts started */
  uint64_t due_ns, started_ns;
  bool running, done, probe;
  int last_rc;            /* the last failed attempt: code, cause, sentence */
  char last_err[512];
} job_t;

/* One akidb_embed call on this provider. */
typedef struct {
  openai_t *p;
  const char *const *texts;
  const size_t *lens;
  float *out;
  job_t *jobs;
  size_t njobs, ndone, nrunning;
  bool blocked_on_slot;
  CURLM *multi;
  slot_waiter_t waiter; /* linked while polling for a slot */
  const char *traceparent; /* well formed, or NULL */
  uint64_t rnd;
  int rc; /* first fatal error */
  char *err;
  size_t errlen;
} call_t;



/* ================================================================ slots == */

static bool slot_try_acquire(openai_t *p) {
  pthread_mutex_lock(&p->lock);
  bool ok = p->in_flight < p->cfg.max_concurrency;
  if (ok) p->in_flight++;
  pthread_mutex_unlock(&p->lock);
  return ok;
}

static void slot_release(openai_t *p) {
  pthread_mutex_lock(&p->lock);
  p->in_flight--;
  pthread_cond_broadcast(&p->slot_freed);
  for (slot_waiter_t *w = p->waiters; w; w = w->next) curl_multi_wakeup(w->multi);
  pthread_mutex_unlock(&p->lock);
}

/* Links w into the waiters unless a slot is free now (then false: do not
 * wait). Checked under the lock slot_release takes, so no wake-up is lost. */
static bool waiter_enter(openai_t *p, slot_waiter_t *w) {
  pthread_mutex_lock(&p->lock);
  bool wait = p->in_flight >= p->cfg.max_concurrency;
  if (wait) {
    w->prev = NULL;
    w->next = p->waiters;
    if (p->waiters) p->waiters->prev = w;
    p->waiters = w;
  }
  pthread_mutex_unlock(&p->lock);
  return wait;
}

static void waiter_leave(openai_t *p, slot_waiter_t *w) {
  pthread_mutex_lock(&p->lock);
  if (w->prev) w->prev->next = w->next;
  else p->waiters = w->next;
  if (w->next) w->next->prev = w->prev;
  pthread_mutex_unlock(&p->lock);
}

/* Waits until a slot may be free or wait_ms passed (no slot is taken). */
static void slot_wait(openai_t *p, long wait_ms) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += wait_ms / 1000;
  ts.tv_nsec += (wait_ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
  pthread_mutex_lock(&p->lock);
  if (p->in_flight >= p->cfg.max_concurrency)
    pthread_cond_timedwait(&p->slot_freed, &p->lock, &ts);
  pthread_mutex_unlock(&p->lock);
}

static CURLM *multi_take(openai_t *p) {
  pthread_mutex_lock(&p->lock);
  CURLM *m = p->npool ? p->pool[--p->npool] : NULL;
  pthread_mutex_unlock(&p->lock);
  return m ? m : curl_multi_init();
}

static void multi_give(openai_t *p, CURLM *m) {
  pthread_mutex_lock(&p->lock);
  bool kept = p->npool < OPENAI_POOL_MAX;
  if (kept) p->pool[p->npool++] = m;
  pthread_mutex_unlock(&p->lock);
  if (!kept) curl_multi_cleanup(m);
}

/* ============================================================ transfers == */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
  job_t *j = ud;
  size_t n = size * nmemb;
  if (n > j->resp_limit - j->resp_len) {
    j->resp_overflow = true;
    return 0; /* CURLE_WRITE_ERROR */
  }
  if (j->resp_len + n > j->resp_cap) {
    size_t cap = j->resp_cap ? j->resp_cap * 2 : 16384;
    while (cap < j->resp_len + n) cap *= 2;
    char *r = realloc(j->resp, cap);
    if (!r) return 0;
    j->resp = r;
    j->resp_cap = cap;
  }
  memcpy(j->resp + j->resp_len, data, n);
  j->resp_len += n;
  return n;
}

/* Retry-After: delay-seconds or an HTTP date; -1 when unusable. */
static long parse_retry_after(const char *v, size_t n) {
  char buf[64];
  if (n >= sizeof buf) return -1;
  memcpy(buf, v, n);
  buf[n] = '\0';
  char *end;
  long s = strtol(buf, &end, 10);
  if (end != buf && *end == '\0' && s >= 0)
    return s > 86400 ? 86400000L : s * 1000L;
  time_t at = curl_getdate(buf, NULL);
  if (at == (time_t)-1) return -1;
  time_t now = time(NULL);
  return at <= now ? 0 : (at - now > 86400 ? 86400000L : (long)(at - now) * 1000L);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud) {
  job_t *j = ud;
  size_t n = size * nmemb;
  static const char name[] = "retry-after:";
  if (n > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
    const char *v = data + sizeof name - 1;
    size_t vl = n - (sizeof name - 1);
    while (vl && (*v == ' ' || *v == '\t')) v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ')) vl--;
    j->retry_after_ms = parse_retry_after(v, vl);
  }
  return n;
}

/* Builds and adds the transfer of job j; 0 or AKIDB_ENOMEM. */
static int transfer_start(call_t *c, job_t *j) {
  openai_t *p = c->p;
  CURL *e = curl_easy_init();
  if (!e) return AKIDB_ENOMEM;
  j->resp_len = 0;
  j->resp_overflow = false;
  j->retry_after_ms = -1;
  struct curl_slist *h = p->header_head;
  if (c->traceparent) {
    j->tp.data = j->tp_line;
    j->tp.next = h;
    h = &j->tp;
  }
  curl_easy_setopt(e, CURLOPT_URL, p->url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body_len);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)p->cfg.timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)p->cfg.timeout_ms);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_PRIVATE, j);
  if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
    curl_easy_cleanup(e);
    return AKIDB_ENOMEM;
  }
  j->easy = e;
  j->running = true;
  j->attempts++;
  j->started_ns = clock_now_ns();
  c->nrunning++;
  return 0;
}

/* Removes j's transfer and gives back its slot. */
static void transfer_end(call_t *c, job_t *j) {
  curl_multi_remove_handle(c->multi, j->easy);
  curl_easy_cleanup(j->easy);
  j->easy = NULL;
  j->running = false;
  c->nrunning--;
  slot_release(c->p);
}

/* ======================================================== classification == */

/* The outcome of one finished attempt. */
typedef struct {
  bool transient;      /* worth a retry */
  bool breaker_failed; /* counts against the breaker */
  akidb_embed_cause_t cause;
  int rc;
} outcome_t;

/* Lower-cased strerror(errno) ("connection refused"). */
static void errno_phrase(long os_errno, char *out, size_t len) {
  char buf[128];
  const char *s = strerror_r((int)os_errno, buf, sizeof buf);
  snprintf(out, len, "%s", s);
  if (out[0] >= 'A' && out[0] <= 'Z') out[0] = (char)(out[0] - 'A' + 'a');
}

/* A transport error (no HTTP answer): cause and sentence into j->last_err. */
static outcome_t classify_curl(call_t *c, job_t *j, CURLcode cc) {
  openai_t *p = c->p;
  outcome_t o = {true, true, AKIDB_EMBED_CAUSE_CONNECT, AKIDB_EUNAVAILABLE};
  if (cc == CURLE_OPERATION_TIMEDOUT) {
    o.cause = AKIDB_EMBED_CAUSE_TIMEOUT;
    o.rc = AKIDB_ETIMEDOUT;
    snprintf(j->last_err, sizeof j->last_err, "embedding provider %s timed out after %u ms",
             p->base_url, p->cfg.timeout_ms);
    return o;
  }
  if (cc == CURLE_WRITE_ERROR && j->resp_overflow) {
    o = (outcome_t){false, false, AKIDB_EMBED_CAUSE_BAD_RESPONSE, AKIDB_EUNAVAILABLE};
    snprintf(j->last_err, sizeof j->last_err,
             "embedding provider %s returned an answer larger than %zu bytes for %zu inputs",
             p->base_url, j->resp_limit, j->count);
    return o;
  }
  char why[160];
  long os_errno = 0;
  curl_easy_getinfo(j->easy, CURLINFO_OS_ERRNO, &os_errno);
  if (cc == CURLE_COULDNT_CONNECT && os_errno) errno_phrase(os_errno, why, sizeof why);
  else if (cc == CURLE_COULDNT_CONNECT) snprintf(why, sizeof why, "connection refused");
  else if (cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR) snprintf(why, sizeof why, "connection reset");
  else if (cc == CURLE_GOT_NOTHING) snprintf(why, sizeof why, "the connection closed without an answer");
  else snprintf(why, sizeof why, "%s", curl_easy_strerror(cc));
  if (cc == CURLE_OUT_OF_MEMORY) o = (outcome_t){false, false, AKIDB_EMBED_CAUSE_CONNECT, AKIDB_ENOMEM};
  snprintf(j->last_err, sizeof j->last_err, "embedding provider %s unreachable: %s",
           p->base_url, why);
  return o;
}

/* An HTTP answer other than 2xx. */
static outcome_t classify_status(call_t *c, job_t *j, long status) {
  openai_t *p = c->p;
  char text[OPENAI_ERROR_TEXT_MAX + 1];
  embed_error_text(j->resp ? j->resp : "", j->resp_len, p->key, text, sizeof text);
  const char *sep = text[0] ? ": " : "";
  outcome_t o = {false, false, AKIDB_EMBED_CAUSE_HTTP_4XX, AKIDB_EUNAVAILABLE};
  if (status == 429) {
    o = (outcome_t){true, false, AKIDB_EMBED_CAUSE_HTTP_429, AKIDB_EUNAVAILABLE};
    snprintf(j->last_err, sizeof j->last_err,
             "embedding provider %s is rate limiting requests: HTTP 429%s%s", p->base_url, sep,
             text);
  } else if (status >= 500) {
    o = (outcome_t){true, true, AKIDB_EMBED_CAUSE_HTTP_5XX, AKIDB_EUNAVAILABLE};
    snprintf(j->last_err, sizeof j->last_err, "embedding provider %s failed: HTTP %ld%s%s",
             p->base_url, status, sep, text);
  } else {
    snprintf(j->last_err, sizeof j->last_err,
             "embedding provider %s rejected the request: HTTP %ld%s%s", p->base_url, status,
             sep, text);
  }
  return o;
}

/* A 2xx answer: decoded into the call's output rows, or a bad answer. */
static outcome_t classify_answer(call_t *c, job_t *j) {
  openai_t *p = c->p;
  outcome_t o = {false, false, AKIDB_EMBED_CAUSE_BAD_RESPONSE, 0};
  char why[400];
  float *rows = c->out + j->first * (size_t)p->cfg.dimension;
  o.rc = embed_decode_response(j->resp ? j->resp : "", j->resp_len, j->count,
                               p->cfg.dimension, rows, why, sizeof why);
  if (o.rc == AKIDB_ENOMEM) snprintf(why, sizeof why, "could not be read: out of memory");
  if (o.rc) snprintf(j->last_err, sizeof j->last_err, "embedding provider %s %s", p->base_url, why);
  return o;
}

static outcome_t classify(call_t *c, job_t *j, CURLcode cc) {
  if (cc != CURLE_OK) return classify_curl(c, j, cc);
  long status = 0;
  curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299) return classify_status(c, j, status);
  return classify_answer(c, j);
}

/* ================================================================ retries == */

static uint64_t next_random(call_t *c) {
  uint64_t z = (c->rnd += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* The wait before retry number `retry` (1 = the first): half the
 * exponential ceiling plus a random part of the other half, or Retry-After
 * (capped) when longer. */
static uint64_t retry_delay_ms(call_t *c, const job_t *j, uint32_t retry) {
  const akidb_embed_config_t *g = &c->p->cfg;
  uint64_t ceil_ms = g->backoff_base_ms;
  for (uint32_t k = 1; k < retry && ceil_ms < g->backoff_max_ms; k++) ceil_ms *= 2;
  if (ceil_ms > g->backoff_max_ms) ceil_ms = g->backoff_max_ms;
  uint64_t d = ceil_ms / 2 + next_random(c) % (ceil_ms - ceil_ms / 2 + 1);
  if (j->retry_after_ms >= 0) {
    uint64_t ra = (uint64_t)j->retry_after_ms;
    if (ra > AKIDB_EMBED_RETRY_AFTER_MAX_MS) ra = AKIDB_EMBED_RETRY_AFTER_MAX_MS;
    if (ra > d) d = ra;
  }
  return d;
}

/* Fails the call with code rc and j's last sentence (plus a note). */
static void call_fail(call_t *c, int rc, const char *msg, const char *note) {
  if (c->rc) return;
  c->rc = rc;
  snprintf(c->err, c->errlen, "%s%s", msg, note ? note : "");
}

/* Counts a retry of j and sets when it is due. */
static void schedule_retry(call_t *c, job_t *j) {
  embed_metrics_retry(c->p->m);
  j->due_ns = clock_now_ns() + retry_delay_ms(c, j, j->attempts) * 1000000u;
}

/* Handles one finished transfer. */
static void on_done(call_t *c, job_t *j, CURLcode cc) {
  openai_t *p = c->p;
  uint64_t elapsed = clock_now_ns() - j->started_ns;
  outcome_t o = classify(c, j, cc);
  bool ok = o.rc == 0;
  embed_metrics_request(p->m, elapsed, ok);
  if (!ok) embed_metrics_error(p->m, o.cause);
  embed_breaker_record(p->breaker, j->probe, o.breaker_failed, j->last_err);
  j->probe = false;
  transfer_end(c, j);
  if (ok) {
    j->done = true;
    c->ndone++;
    return;
  }
  j->last_rc = o.rc;
  if (!o.transient) {
    call_fail(c, o.rc, j->last_err, NULL);
  } else if (j->attempts > p->cfg.max_retries) {
    char note[64];
    snprintf(note, sizeof note, " (%u attempt%s)", j->attempts, j->attempts == 1 ? "" : "s");
    call_fail(c, o.rc, j->last_err, note);
  } else {
    schedule_retry(c, j);
  }
}

/* ================================================================== loop == */

/* Starts job j if a slot is free and the breaker admits it; false when it
 * has to wait (no slot, or the call's own trial in flight). */
static bool try_start(call_t *c, job_t *j) {
  openai_t *p = c->p;
  if (!slot_try_acquire(p)) {
    c->blocked_on_slot = true;
    return false;
  }
  char why[512];
  bool probe, own_busy;
  int rc = embed_breaker_admit(p->breaker, c, &probe, &own_busy, why, sizeof why);
  if (rc) {
    slot_release(p);
    if (own_busy) return false;
    embed_metrics_error(p->m, AKIDB_EMBED_CAUSE_CIRCUIT_OPEN);
    if (j->attempts) {
      char note[96];
      snprintf(note, sizeof note, " (%u attempt%s; the circuit is now open)", j->attempts,
               j->attempts == 1 ? "" : "s");
      call_fail(c, j->last_rc, j->last_err, note);
    } else {
      call_fail(c, rc, why, NULL);
    }
    return false;
  }
  j->probe = probe;
  rc = transfer_start(c, j);
  if (rc) {
    if (probe) embed_breaker_abandon(p->breaker);
    j->probe = false;
    slot_release(p);
    call_fail(c, rc, "embedding request could not be started: out of memory", NULL);
  }
  return rc == 0;
}

/* Starts every due job that can start; returns the ms until the next
 * pending job is due (or 1000 when none waits on time). */
static long start_due(call_t *c) {
  uint64_t now = clock_now_ns(), next = UINT64_MAX;
  c->blocked_on_slot = false;
  for (size_t i = 0; i < c->njobs && c->rc == 0; i++) {
    job_t *j = &c->jobs[i];
    if (j->done || j->running) continue;
    if (j->due_ns > now) {
      if (j->due_ns < next) next = j->due_ns;
      continue;
    }
    if (!try_start(c, j) && c->blocked_on_slot) break;
  }
  if (next == UINT64_MAX) return 1000;
  return (long)((next - now) / 1000000u) + 1;
}

/* Reads the finished transfers. */
static void collect(call_t *c) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE) continue;
    job_t *j = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
    on_done(c, j, msg->data.result);
  }
}

/* Cancels what still runs after a failure. */
static void cancel_running(call_t *c) {
  for (size_t i = 0; i < c->njobs; i++) {
    job_t *j = &c->jobs[i];
    if (!j->running) continue;
    if (j->probe) embed_breaker_abandon(c->p->breaker);
    j->probe = false;
    transfer_end(c, j);
  }
}

static void run_call(call_t *c) {
  while (c->rc == 0 && c->ndone < c->njobs) {
    long wait_ms = start_due(c);
    if (c->rc) break;
    int still = 0;
    if (curl_multi_perform(c->multi, &still) != CURLM_OK) {
      call_fail(c, AKIDB_EIO, "embedding request failed: libcurl multi error", NULL);
      break;
    }
    collect(c);
    if (c->rc || c->ndone == c->njobs) break;
    if (c->nrunning == 0 && c->blocked_on_slot) {
      slot_wait(c->p, wait_ms < OPENAI_SLOT_WAIT_MS ? wait_ms : OPENAI_SLOT_WAIT_MS);
      continue;
    }
    if (c->blocked_on_slot) { /* a slot freed by another call wakes the poll */
      c->waiter.multi = c->multi;
      if (!waiter_enter(c->p, &c->waiter)) continue;
      curl_multi_poll(c->multi, NULL, 0, (int)wait_ms, NULL);
      waiter_leave(c->p, &c->waiter);
      continue;
    }
    curl_multi_poll(c->multi, NULL, 0, (int)wait_ms, NULL);
  }
  cancel_running(c);
}

/* ============================================================== the call == */

/* Prepares the jobs' bodies; 0 or AKIDB_ENOMEM. */
static int jobs_prepare(call_t *c, const akidb_embed_batch_t *b, size_t nb) {
  openai_t *p = c->p;
  uint32_t dims = p->cfg.send_dimensions ? p->cfg.dimension : 0;
  for (size_t i = 0; i < nb; i++) {
    job_t *j = &c->jobs[i];
    j->first = b[i].first;
    j->count = b[i].count;
    j->body = embed_request_body(p->model, dims, c->texts + j->first, c->lens + j->first,
                                 j->count, &j->body_len);
    if (!j->body) return AKIDB_ENOMEM;
    uint64_t limit = (uint64_t)j->count * p->cfg.dimension * 48u + (1u << 20);
    j->resp_limit = limit > (1ull << 30) ? (size_t)(1ull << 30) : (size_t)limit;
    if (c->traceparent) snprintf(j->tp_line, sizeof j->tp_line, "traceparent: %s", c->traceparent);
  }
  return 0;
}

static void jobs_free(call_t *c) {
  for (size_t i = 0; i < c->njobs; i++) {
    free(c->jobs[i].body);
    free(c->jobs[i].resp);
  }
  free(c->jobs);
}

static int openai_embed_batches(void *self, const char *const *texts, const size_t *lens,
                                const akidb_embed_batch_t *batches, size_t nbatches, float *out,
                                const char *traceparent, char *err, size_t errlen) {
  char scratch_err[8];
  call_t c = {.p = self, .texts = texts, .lens = lens, .out = out, .njobs = nbatches,
              .err = err ? err : scratch_err, .errlen = err ? errlen : sizeof scratch_err};
  c.traceparent = embed_traceparent_valid(traceparent) ? traceparent : NULL;
  c.rnd = clock_now_ns() ^ (uint64_t)(uintptr_t)&c;
  c.jobs = calloc(nbatches ? nbatches : 1, sizeof *c.jobs);
  if (!c.jobs) return AKIDB_ENOMEM;
  int rc = jobs_prepare(&c, batches, nbatches);
  if (rc == 0 && !(c.multi = multi_take(c.p))) rc = AKIDB_ENOMEM;
  if (rc) {
    snprintf(c.err, c.errlen, "embedding request could not be prepared: out of memory");
  } else {
    run_call(&c);
    multi_give(c.p, c.multi);
    rc = c.rc;
  }
  jobs_free(&c);
  return rc;
}

static int openai_embed_batch(void *self, const char *const *texts, const size_t *lens,
                              size_t n, float *out, const char *traceparent, char *err,
                              size_t errlen) {
  akidb_embed_batch_t one = {0, n};
  return openai_embed_batches(self, texts, lens, &one, 1, out, traceparent, err, errlen);
}

/* ========================================================= create, free == */

static void openai_describe(void *self, char *buf, size_t len) {
  openai_t *p = self;
  char key[200];
  if (p->key_env) snprintf(key, sizeof key, "key from $%s", p->key_env);
  else snprintf(key, sizeof key, "no key");
  snprintf(buf, len,
           "openai %s model %s dimension %u%s batch_size %u max_request_bytes %u "
           "max_concurrency %u timeout_ms %u max_retries %u %s",
           p->base_url, p->model, p->cfg.dimension,
           p->cfg.send_dimensions ? " (sent)" : "", p->cfg.batch_size,
           p->cfg.max_request_bytes, p->cfg.max_concurrency, p->cfg.timeout_ms,
           p->cfg.max_retries, key);
}

static void secret_free(openai_t *p) {
  if (!p->secret_page) return;
  OPENSSL_cleanse(p->secret_page, p->secret_page_len);
  munmap(p->secret_page, p->secret_page_len);
  p->secret_page = NULL;
  p->key = NULL;
}

static void openai_destroy(void *self) {
  openai_t *p = self;
  if (!p) return;
  for (size_t i = 0; i < p->npool; i++) curl_multi_cleanup(p->pool[i]);
  secret_free(p);
  embed_breaker_release(p->breaker);
  pthread_cond_destroy(&p->slot_freed);
  pthread_mutex_destroy(&p->lock);
  free(p->base_url);
  free(p->url);
  free(p->model);
  free(p->key_env);
  free(p);
}

static const akidb_embed_ops_t openai_ops = {
    .embed_batch = openai_embed_batch,
    .embed_batches = openai_embed_batches,
    .describe = openai_describe,
    .destroy = openai_destroy,
};

/* Whether every byte of k may stand in an HTTP header value. */
static bool header_safe(const char *k) {
  for (; *k; k++)
    if ((unsigned char)*k < 0x21 || (unsigned char)*k > 0x7E) return false;
  return true;
}

/* Reads the key named by c->api_key_env into a DONTDUMP page. */
static int secret_load(openai_t *p, const char *env, char *err, size_t errlen) {
  const char *k = getenv(env);
  if (!k || !*k) {
    snprintf(err, errlen,
             "embedding.api_key_env names %s, which is not set or empty in the server's "
             "environment: export the model server's key as %s, or leave api_key_env empty "
             "for a server without keys",
             env, env);
    return AKIDB_EINVAL;
  }
  size_t kl = strlen(k);
  if (kl > AKIDB_EMBED_KEY_MAX || !header_safe(k)) {
    snprintf(err, errlen,
             "the key in $%s is unusable: it must be 1 to %u printable ASCII characters "
             "without spaces",
             env, AKIDB_EMBED_KEY_MAX);
    return AKIDB_EINVAL;
  }
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t need = 2 * kl + 40;
  p->secret_page_len = (need + page - 1) / page * page;
  void *m = mmap(NULL, p->secret_page_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  if (m == MAP_FAILED) return AKIDB_ENOMEM;
  p->secret_page = m;
  madvise(m, p->secret_page_len, MADV_DONTDUMP); /* best effort */
  int hl = snprintf(p->secret_page, p->secret_page_len, "Authorization: Bearer %s", k);
  memcpy(p->secret_page + hl + 1, k, kl + 1);
  p->key = p->secret_page + hl + 1;
  return 0;
}

/* Links the fixed request headers (our own nodes, read-only for curl). */
static void headers_build(openai_t *p) {
  static char content_type[] = "Content-Type: application/json";
  static char accept[] = "Accept: application/json";
  static char expect[] = "Expect:"; /* no 100-continue round trip */
  size_t n = 0;
  if (p->secret_page) p->headers[n++].data = p->secret_page;
  p->headers[n++].data = content_type;
  p->headers[n++].data = accept;
  p->headers[n++].data = expect;
  for (size_t i = 0; i < n; i++) p->headers[i].next = i + 1 < n ? &p->headers[i + 1] : NULL;
  p->header_head = &p->headers[0];
}

static char *dup_trimmed_url(const char *u) {
  size_t n = strlen(u);
  while (n && u[n - 1] == '/') n--;
  return strndup(u, n);
}

int embed_openai_create(const akidb_embed_config_t *c, embed_metrics_t *m,
                        const akidb_embed_ops_t **ops, void **self, char *err, size_t errlen) {
  CURLcode curl_init_rc = util_curl_global_init();
  if (curl_init_rc != CURLE_OK) {
    snprintf(err, errlen, "embedding provider: libcurl failed to initialise: %s",
             curl_easy_strerror(curl_init_rc));
    return AKIDB_EIO;
  }
  openai_t *p = calloc(1, sizeof *p);
  if (!p) return AKIDB_ENOMEM;
  pthread_mutex_init(&p->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&p->slot_freed, &ca);
  pthread_condattr_destroy(&ca);
  p->cfg = *c;
  p->cfg.model = p->cfg.base_url = p->cfg.api_key_env = NULL;
  p->m = m;
  p->base_url = dup_trimmed_url(c->base_url);
  p->model = strdup(c->model);
  p->url = p->base_url ? malloc(strlen(p->base_url) + sizeof "/embeddings") : NULL;
  bool has_env = c->api_key_env && *c->api_key_env;
  if (has_env) p->key_env = strdup(c->api_key_env);
  int rc = 0;
  if (!p->base_url || !p->model || !p->url || (has_env && !p->key_env)) rc = AKIDB_ENOMEM;
  if (rc == 0) {
    sprintf(p->url, "%s/embeddings", p->base_url);
    if (has_env) rc = secret_load(p, c->api_key_env, err, errlen);
  }
  if (rc == 0 && !(p->breaker = embed_breaker_acquire(p->base_url, c->breaker_threshold,
                                                      c->breaker_cooldown_ms)))
    rc = AKIDB_ENOMEM;
  if (rc) {
    if (rc == AKIDB_ENOMEM) snprintf(err, errlen, "embedding provider: out of memory");
    openai_destroy(p);
    return rc;
  }
  headers_build(p);
  *ops = &openai_ops;
  *self = p;
  return 0;
}

embed_breaker_t *embed_openai_breaker(void *self) { return ((openai_t *)self)->breaker; }
