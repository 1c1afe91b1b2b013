/*
 * server_load.c — JSON encoding, recall and the REST ingest of
 * server_load.h. Encoding runs on two threads before any timing; the
 * ingest runs one thread per connection over a shared atomic batch
 * counter, results merged under a mutex.
 */
#include "server_load.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "akidb/errors.h"
#include "bench_util.h"
#include "loadgen.h"

/* ------------------------------------------------------------ encoding -- */

/* Appends "%.9g" of each component, comma-separated, in brackets. */
static size_t put_vector(char *p, const float *v, uint32_t dim) {
  char *start = p;
  *p++ = '[';
  for (uint32_t j = 0; j < dim; j++) {
    if (j) *p++ = ',';
    p += sprintf(p, "%.9g", (double)v[j]);
  }
  *p++ = ']';
  return (size_t)(p - start);
}

static void encode_chunk(const sl_points_t *e, size_t c, sl_chunk_t *ch) {
  const ds_set_t *set = e->set;
  size_t first = c * SL_CHUNK, n = e->n_points - first < SL_CHUNK ? e->n_points - first : SL_CHUNK;
  size_t bound = 48 + (size_t)set->dim * 17;
  ch->buf = bench_xmalloc(n * bound);
  ch->off = bench_xmalloc((n + 1) * sizeof *ch->off);
  ch->n = n;
  char *p = ch->buf;
  for (size_t i = 0; i < n; i++) {
    ch->off[i] = (size_t)(p - ch->buf);
    p += sprintf(p, "{\"id\":\"%zu\",\"vector\":", first + i);
    p += put_vector(p, set->base + (first + i) * set->dim, set->dim);
    *p++ = '}';
    *p++ = ',';
  }
  ch->off[n] = (size_t)(p - ch->buf);
  char *shrunk = realloc(ch->buf, ch->off[n] ? ch->off[n] : 1);
  if (shrunk) ch->buf = shrunk;
}

typedef struct {
  sl_points_t *e;
  size_t part, parts; /* chunks part, part+parts, ... */
} encode_job_t;

static void *encode_thread(void *arg) {
  encode_job_t *j = arg;
  for (size_t c = j->part; c < j->e->n_chunks; c += j->parts)
    encode_chunk(j->e, c, &j->e->chunks[c]);
  return NULL;
}

sl_points_t sl_encode_points(const ds_set_t *set, size_t n_points) {
  if (n_points > set->n_base) n_points = set->n_base;
  sl_points_t e = {.set = set, .n_points = n_points,
                   .n_chunks = (n_points + SL_CHUNK - 1) / SL_CHUNK};
  e.chunks = bench_xcalloc(e.n_chunks, sizeof *e.chunks);
  encode_job_t first = {&e, 0, 2}, second = {&e, 1, 2};
  pthread_t t;
  if (pthread_create(&t, NULL, encode_thread, &second)) bench_die("pthread_create failed");
  encode_thread(&first);
  pthread_join(t, NULL);
  return e;
}

size_t sl_points_bytes(const sl_points_t *e) {
  size_t b = 0;
  for (size_t c = 0; c < e->n_chunks; c++) b += e->chunks[c].off[e->chunks[c].n];
  return b;
}

void sl_points_free(sl_points_t *e) {
  for (size_t c = 0; c < e->n_chunks; c++) {
    free(e->chunks[c].buf);
    free(e->chunks[c].off);
  }
  free(e->chunks);
  memset(e, 0, sizeof *e);
}

sl_queries_t sl_encode_queries(const ds_set_t *set, const char *path, const char *token,
                               uint32_t k) {
  sl_queries_t q = {bench_xmalloc(set->n_query * sizeof(char *)),
                    bench_xmalloc(set->n_query * sizeof(size_t)), set->n_query};
  size_t cap = 64 + (size_t)set->dim * 17;
  char *body = bench_xmalloc(cap);
  for (size_t i = 0; i < set->n_query; i++) {
    char *p = body;
    p += sprintf(p, "{\"vector\":");
    p += put_vector(p, set->queries + i * set->dim, set->dim);
    p += sprintf(p, ",\"k\":%u,\"include_payload\":false}", k);
    size_t blen = (size_t)(p - body);
    char head[1024];
    size_t hlen = lg_format_head(head, sizeof head, "POST", path, token, blen);
    if (!hlen) bench_die("search request head too long");
    q.req[i] = bench_xmalloc(hlen + blen);
    memcpy(q.req[i], head, hlen);
    memcpy(q.req[i] + hlen, body, blen);
    q.len[i] = hlen + blen;
  }
  free(body);
  return q;
}

void sl_queries_free(sl_queries_t *q) {
  for (size_t i = 0; i < q->n; i++) free(q->req[i]);
  free(q->req);
  free(q->len);
  memset(q, 0, sizeof *q);
}

/* -------------------------------------------------------------- recall -- */

long long sl_label_of(const char *id, size_t n) {
  if (n == 0 || n > 18) return -1;
  long long label = 0;
  for (size_t i = 0; i < n; i++) {
    if (id[i] < '0' || id[i] > '9') return -1;
    label = label * 10 + (id[i] - '0');
  }
  return label;
}

const long long sl_cal_efs[SL_N_CAL_EFS] = {16, 24, 32, 40, 48, 64, 80, 96, 128, 160, 256};

void sl_recall_add_labels(sl_recall_t *acc, size_t q, const long long *labels, size_t n) {
  const int32_t *truth = acc->set->gt + q * acc->set->gt_k;
  for (size_t i = 0; i < n && i < acc->k; i++)
    for (uint32_t j = 0; j < acc->k; j++)
      if (truth[j] == labels[i]) {
        acc->found++;
        break;
      }
  acc->answered++;
  if (n < acc->k) acc->short_answers++;
}

void sl_recall_add_json(sl_recall_t *acc, size_t q, const char *body, size_t len) {
  long long labels[64];
  size_t n = 0, idlen;
  const char *p = body, *end = body + len, *id;
  while (p < end && (id = lg_find_string(p, (size_t)(end - p), "id", &idlen))) {
    if (n < sizeof labels / sizeof *labels) labels[n++] = sl_label_of(id, idlen);
    p = id + idlen + 1;
  }
  sl_recall_add_labels(acc, q, labels, n);
}

double sl_recall_value(const sl_recall_t *acc) {
  return acc->answered ? (double)acc->found / ((double)acc->answered * acc->k) : 0;
}

/* -------------------------------------------------------------- ingest -- */

typedef struct {
  sl_ingest_t *j;
  atomic_size_t next;
  atomic_size_t rejected;
  pthread_mutex_t mu;
} ingest_shared_t;

/* One batch: `{"points":[...]}` over iov straight from the encoded chunk. */
static int ingest_send(ingest_shared_t *sh, lg_conn_t *c, size_t b, double *sent, char *err,
                       size_t errlen) {
  sl_ingest_t *j = sh->j;
  size_t first = b * j->batch, ci = first / SL_CHUNK, li = first % SL_CHUNK;
  const sl_chunk_t *ch = &j->enc->chunks[ci];
  size_t n = ch->n - li < j->batch ? ch->n - li : j->batch;
  static const char prefix[] = "{\"points\":[", suffix[] = "]}";
  size_t span = ch->off[li + n] - ch->off[li] - 1; /* without the last comma */
  char head[1024];
  size_t hlen = lg_format_head(head, sizeof head, "POST", j->path, j->token,
                               sizeof prefix - 1 + span + sizeof suffix - 1);
  struct iovec iov[4] = {{head, hlen},
                         {(void *)prefix, sizeof prefix - 1},
                         {ch->buf + ch->off[li], span},
                         {(void *)suffix, sizeof suffix - 1}};
  lg_response_t r;
  *sent = lg_now_us();
  int rc = lg_conn_roundtrip(c, iov, 4, &r, err, errlen);
  /* 429: the collection's indexing backlog is full (backpressure); a
   * client waits and sends the batch again, as Retry-After asks. */
  for (int tries = 0; !rc && r.status == 429 && tries < 6000; tries++) {
    atomic_fetch_add(&sh->rejected, 1);
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    rc = lg_conn_roundtrip(c, iov, 4, &r, err, errlen);
  }
  if (rc) return rc;
  if (r.status != 200) {
    snprintf(err, errlen, "upsert answered %d: %.*s", r.status,
             (int)(r.body_len > 300 ? 300 : r.body_len), r.body);
    return AKIDB_EIO;
  }
  long long up = lg_find_int(r.body, r.body_len, "upserted");
  if (up != (long long)n) {
    snprintf(err, errlen, "upsert of %zu points answered \"upserted\": %lld", n, up);
    return AKIDB_EIO;
  }
  return AKIDB_OK;
}

static void *ingest_thread(void *arg) {
  ingest_shared_t *sh = arg;
  sl_ingest_t *j = sh->j;
  char err[512] = "";
  lg_conn_t c;
  memset(&c, 0, sizeof c);
  if (lg_conn_open(&c, j->port, err, sizeof err)) goto fail;
  double first = -1, last = 0;
  for (;;) {
    size_t b = atomic_fetch_add(&sh->next, 1);
    if (b >= j->n_batches) break;
    double sent;
    if (ingest_send(sh, &c, b, &sent, err, sizeof err)) goto fail;
    last = lg_now_us();
    if (first < 0) first = sent;
    j->lat_ms[b] = (last - sent) / 1e3;
  }
  lg_conn_close(&c);
  pthread_mutex_lock(&sh->mu);
  if (first >= 0 && (j->first_send < 0 || first < j->first_send)) j->first_send = first;
  if (last > j->last_ok) j->last_ok = last;
  pthread_mutex_unlock(&sh->mu);
  return NULL;
fail:
  lg_conn_close(&c);
  atomic_store(&sh->next, j->n_batches); /* stop the others */
  pthread_mutex_lock(&sh->mu);
  if (!j->error[0]) snprintf(j->error, sizeof j->error, "%s", err);
  pthread_mutex_unlock(&sh->mu);
  return NULL;
}

int sl_ingest_run(sl_ingest_t *j) {
  if (j->conns < 1 || j->conns > 64 || j->batch == 0 || SL_CHUNK % j->batch != 0)
    bench_die("sl_ingest_run: %u connections, batch %zu", j->conns, j->batch);
  j->n_batches = (j->enc->n_points + j->batch - 1) / j->batch;
  j->lat_ms = bench_xcalloc(j->n_batches, sizeof *j->lat_ms);
  j->first_send = -1;
  j->last_ok = 0;
  j->rejected = 0;
  j->error[0] = '\0';
  ingest_shared_t sh = {.j = j};
  atomic_init(&sh.next, 0);
  atomic_init(&sh.rejected, 0);
  pthread_mutex_init(&sh.mu, NULL);
  pthread_t th[64];
  for (uint32_t i = 0; i < j->conns; i++)
    if (pthread_create(&th[i], NULL, ingest_thread, &sh)) bench_die("pthread_create failed");
  for (uint32_t i = 0; i < j->conns; i++) pthread_join(th[i], NULL);
  pthread_mutex_destroy(&sh.mu);
  j->rejected = atomic_load(&sh.rejected);
  return j->error[0] ? -1 : 0;
}
