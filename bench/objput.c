/*
 * objput.c — owns the small-object upload runs of objput.h: the worker
 * threads, the two clients (AkiDB's object-store C API and a minimal
 * libcurl PUT loop), per-request latency samples and the CPU accounting of
 * this process (getrusage) and of the server (/proc/<pid>/stat).
 *
 * Threads start together (a go flag under a mutex) and stop at a shared deadline; each
 * keeps its own samples, merged after the join. No state outlives a run.
 */
#include "objput.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "akidb/objstore.h"
#include "bench_util.h"

#define PUT_MAX_THREADS 64u

typedef struct put_shared put_shared_t;

typedef struct {
  put_shared_t *sh;
  uint32_t index;
  double *ms; /* latency samples (per request, or per batch call) */
  size_t n, cap;
  uint64_t ops, errors; /* objects stored, objects failed */
  double end_s;
  char first_error[256];
} put_worker_t;

struct put_shared {
  const put_setup_t *s;
  put_client_t client;
  const char *tag;
  akidb_objstore_t *store; /* AkiDB client only */
  char auth[256], amz_date[32];
  char *payload;
  pthread_mutex_t lock; /* guards go */
  pthread_cond_t go_cv;
  bool go;
  double deadline_s; /* written before go is set */
};

const char *put_client_name(put_client_t c) {
  return c == PUT_CLIENT_AKIDB ? "akidb C API" : c == PUT_CLIENT_BATCH ? "akidb C API, batched"
                                                                       : "minimal libcurl";
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double put_proc_cpu_s(pid_t pid) {
  char path[64], buf[2048];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
  if (!p) return -1;
  unsigned long long ut = 0, st = 0;
  /* after ")": state(3) ... utime(14) stime(15) */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void add_sample(put_worker_t *w, double ms) {
  if (w->n == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 4096;
    double *p = realloc(w->ms, cap * sizeof *p);
    if (!p) return; /* keep counting without the sample */
    w->ms = p;
    w->cap = cap;
  }
  w->ms[w->n++] = ms;
}

static void note_error(put_worker_t *w, const char *msg) {
  if (w->errors++ == 0) snprintf(w->first_error, sizeof w->first_error, "%.200s", msg);
}

/* ------------------------------------------------------- AkiDB's client -- */

static void akidb_loop(put_worker_t *w) {
  put_shared_t *sh = w->sh;
  char key[256], err[512];
  for (uint64_t i = 0;; i++) {
    double t0 = now_s();
    if (t0 >= sh->deadline_s) break;
    snprintf(key, sizeof key, "%s/t%u/%llu", sh->tag, w->index, (unsigned long long)i);
    int rc = akidb_objstore_put_buffer(sh->store, key, sh->payload, sh->s->object_bytes, NULL,
                                       err, sizeof err);
    if (rc) note_error(w, err);
    else add_sample(w, (now_s() - t0) * 1e3), w->ops++;
  }
}

/* PUT_BATCH objects per akidb_objstore_put_many call; one sample per call. */
static void batch_loop(put_worker_t *w) {
  put_shared_t *sh = w->sh;
  char keys[PUT_BATCH][256];
  akidb_objstore_buffer_src_t src[PUT_BATCH];
  akidb_objstore_put_item_t items[PUT_BATCH];
  char err[512];
  for (uint64_t i = 0;;) {
    double t0 = now_s();
    if (t0 >= sh->deadline_s) break;
    for (uint32_t j = 0; j < PUT_BATCH; j++, i++) {
      snprintf(keys[j], sizeof keys[j], "%s/t%u/%llu", sh->tag, w->index, (unsigned long long)i);
      src[j] = (akidb_objstore_buffer_src_t){sh->payload, sh->s->object_bytes, 0};
      items[j] = (akidb_objstore_put_item_t){
          .key = keys[j], .read = akidb_objstore_buffer_read, .read_ctx = &src[j],
          .opts = {.size = (int64_t)sh->s->object_bytes}};
    }
    int rc = akidb_objstore_put_many(sh->store, items, PUT_BATCH, sh->s->batch_parallel, err,
                                     sizeof err);
    for (uint32_t j = 0; j < PUT_BATCH; j++)
      if (items[j].attempted && items[j].rc == 0) w->ops++;
      else if (items[j].attempted) note_error(w, items[j].err);
    if (!rc) add_sample(w, (now_s() - t0) * 1e3);
  }
}

static int akidb_open(put_shared_t *sh, char *err, size_t errlen) {
  akidb_objstore_options_t o;
  akidb_objstore_options_default(&o);
  o.kind = "s3";
  o.endpoint = sh->s->endpoint;
  o.bucket = sh->s->bucket;
  o.access_key = sh->s->access_key;
  o.secret_key = sh->s->secret_key;
  o.path_style = true;
  return akidb_objstore_open(&o, &sh->store, err, errlen) ? -1 : 0;
}

/* ------------------------------------------------------ minimal client -- */

typedef struct {
  const char *p;
  size_t left;
} body_src_t;

static size_t body_read(char *buf, size_t size, size_t nitems, void *ctx) {
  body_src_t *b = ctx;
  size_t n = size * nitems < b->left ? size * nitems : b->left;
  memcpy(buf, b->p, n);
  b->p += n;
  b->left -= n;
  return n;
}

static size_t body_discard(char *buf, size_t size, size_t nmemb, void *ctx) {
  (void)buf, (void)ctx;
  return size * nmemb;
}

/* The fixed headers: s3rver reads the access key from the Authorization
 * header and checks the date's skew, but computes no V4 signature. */
static void minimal_headers(put_shared_t *sh) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  char day[16];
  strftime(day, sizeof day, "%Y%m%d", &tm);
  strftime(sh->amz_date, sizeof sh->amz_date, "%Y%m%dT%H%M%SZ", &tm);
  snprintf(sh->auth, sizeof sh->auth,
           "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1/s3/aws4_request, "
           "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=%064d",
           sh->s->access_key, day, 0);
}

static struct curl_slist *minimal_list(const put_shared_t *sh) {
  char date[64];
  snprintf(date, sizeof date, "x-amz-date: %s", sh->amz_date);
  const char *lines[] = {sh->auth, date, "x-amz-content-sha256: UNSIGNED-PAYLOAD", "Expect:"};
  struct curl_slist *l = NULL;
  for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
    struct curl_slist *n = curl_slist_append(l, lines[i]);
    if (!n) {
      curl_slist_free_all(l);
      return NULL;
    }
    l = n;
  }
  return l;
}

static void minimal_setopts(CURL *h, struct curl_slist *hdr, body_src_t *src) {
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, body_read);
  curl_easy_setopt(h, CURLOPT_READDATA, src);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_discard);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
}

static void minimal_loop(put_worker_t *w, CURL *h, body_src_t *src) {
  put_shared_t *sh = w->sh;
  char url[512], msg[256];
  for (uint64_t i = 0;; i++) {
    double t0 = now_s();
    if (t0 >= sh->deadline_s) break;
    snprintf(url, sizeof url, "%s/%s/%s/t%u/%llu", sh->s->endpoint, sh->s->bucket, sh->tag,
             w->index, (unsigned long long)i);
    *src = (body_src_t){sh->payload, sh->s->object_bytes};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)sh->s->object_bytes);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (cc == CURLE_OK && status == 200) {
      add_sample(w, (now_s() - t0) * 1e3);
      w->ops++;
      continue;
    }
    snprintf(msg, sizeof msg, "PUT %.120s: %.80s, HTTP %ld", url,
             cc == CURLE_OK ? "answered" : curl_easy_strerror(cc), status);
    note_error(w, msg);
  }
}

/* --------------------------------------------------------------- runner -- */

static void wait_go(put_shared_t *sh) {
  pthread_mutex_lock(&sh->lock);
  while (!sh->go) pthread_cond_wait(&sh->go_cv, &sh->lock);
  pthread_mutex_unlock(&sh->lock);
}

/* Sets the deadline (now + seconds, or now when stopping) and releases the workers. */
static double release(put_shared_t *sh, double seconds) {
  pthread_mutex_lock(&sh->lock);
  double t0 = now_s();
  sh->deadline_s = t0 + seconds;
  sh->go = true;
  pthread_cond_broadcast(&sh->go_cv);
  pthread_mutex_unlock(&sh->lock);
  return t0;
}

static void *worker_main(void *arg) {
  put_worker_t *w = arg;
  put_shared_t *sh = w->sh;
  CURL *h = NULL;
  struct curl_slist *hdr = NULL;
  body_src_t src = {0};
  if (sh->client == PUT_CLIENT_MINIMAL) { /* the handle exists before the clock starts */
    h = curl_easy_init();
    hdr = minimal_list(sh);
    if (h && hdr) minimal_setopts(h, hdr, &src);
  }
  wait_go(sh);
  if (sh->client == PUT_CLIENT_AKIDB) akidb_loop(w);
  else if (sh->client == PUT_CLIENT_BATCH) batch_loop(w);
  else if (h && hdr) minimal_loop(w, h, &src);
  else note_error(w, "out of memory setting up the curl handle");
  w->end_s = now_s();
  if (h) curl_easy_cleanup(h);
  curl_slist_free_all(hdr);
  return NULL;
}

/* Merges the workers' samples and counts into out. */
static void summarise(put_worker_t *w, uint32_t n, double start_s, put_run_t *out) {
  size_t total = 0;
  double end = start_s, sum = 0;
  for (uint32_t i = 0; i < n; i++) total += w[i].n, out->ops += w[i].ops;
  double *all = malloc((total ? total : 1) * sizeof *all);
  size_t k = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (all) memcpy(all + k, w[i].ms, w[i].n * sizeof *all);
    k += w[i].n;
    out->errors += w[i].errors;
    if (w[i].end_s > end) end = w[i].end_s;
    if (!out->first_error[0] && w[i].first_error[0])
      snprintf(out->first_error, sizeof out->first_error, "%s", w[i].first_error);
  }
  out->seconds = end - start_s;
  if (all && total) {
    qsort(all, total, sizeof *all, bench_cmp_double);
    for (size_t i = 0; i < total; i++) sum += all[i];
    out->p50_ms = bench_percentile(all, total, 50);
    out->p99_ms = bench_percentile(all, total, 99);
    out->mean_ms = sum / (double)total;
  }
  free(all);
}

static int run_threads(put_shared_t *sh, uint32_t threads, put_run_t *out, char *err,
                       size_t errlen) {
  pthread_t th[PUT_MAX_THREADS];
  put_worker_t *w = calloc(threads, sizeof *w);
  if (!w) return snprintf(err, errlen, "out of memory"), -1;
  pthread_mutex_init(&sh->lock, NULL);
  pthread_cond_init(&sh->go_cv, NULL);
  uint32_t started = 0;
  for (; started < threads; started++) {
    w[started] = (put_worker_t){.sh = sh, .index = started};
    if (pthread_create(&th[started], NULL, worker_main, &w[started])) break;
  }
  double cpu0 = self_cpu_s(), srv0 = put_proc_cpu_s(sh->s->server_pid);
  double t0 = release(sh, started < threads ? 0 : sh->s->seconds);
  for (uint32_t i = 0; i < started; i++) pthread_join(th[i], NULL);
  out->self_cpu_s = self_cpu_s() - cpu0;
  out->server_cpu_s = put_proc_cpu_s(sh->s->server_pid) - srv0;
  int rc = 0;
  if (started < threads) rc = -1, snprintf(err, errlen, "pthread_create failed at %u", started);
  else summarise(w, threads, t0, out);
  for (uint32_t i = 0; i < started; i++) free(w[i].ms);
  free(w);
  pthread_cond_destroy(&sh->go_cv);
  pthread_mutex_destroy(&sh->lock);
  return rc;
}

int put_run(const put_setup_t *s, put_client_t client, uint32_t threads, const char *tag,
            put_run_t *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  out->client = client;
  out->threads = threads;
  if (threads < 1 || threads > PUT_MAX_THREADS)
    return snprintf(err, errlen, "threads must be 1..%u", PUT_MAX_THREADS), -1;
  put_shared_t sh = {.s = s, .client = client, .tag = tag};
  sh.payload = malloc(s->object_bytes ? s->object_bytes : 1);
  if (!sh.payload) return snprintf(err, errlen, "out of memory"), -1;
  for (size_t i = 0; i < s->object_bytes; i++) sh.payload[i] = (char)('a' + i % 26);
  int rc = 0;
  if (client != PUT_CLIENT_MINIMAL) rc = akidb_open(&sh, err, errlen);
  else minimal_headers(&sh);
  if (!rc) rc = run_threads(&sh, threads, out, err, errlen);
  akidb_objstore_close(sh.store);
  free(sh.payload);
  return rc;
}
