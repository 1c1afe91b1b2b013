/*
 * s3_writer.c — uploads to S3: the streaming writer behind put and
 * akidb_objstore_writer_*.
 *
 * Bytes collect in a part buffer. An object that ends before the first
 * buffer fills is sent at commit as one PUT carrying Content-MD5 and the
 * akidb-crc32c / akidb-size metadata. The first full buffer starts a
 * multipart upload (CreateMultipartUpload) and the writer's worker threads
 * (max_parallel of them) upload full parts (UploadPart, each with its
 * Content-MD5 and real SHA-256, each retried from its buffer) while the
 * caller fills the next buffer; at most max_parallel + 1 buffers exist, so
 * a write blocks while all are in flight. Commit sends the last (possibly
 * short) part, waits for all, completes the upload and HEADs the object
 * to check its size and ETag: MD5(concatenated part MD5s)-N as S3 computes
 * it, or the MD5 of the whole object from servers that store that instead
 * (s3rver; the writer computes both). Any failure aborts the upload (AbortMultipartUpload).
 *
 * Locking: one mutex per writer guards the job queue, free buffers, part
 * digests and the first error; workers wait on `work_cv`, the caller on
 * `done_cv`. No lock is held during a request.
 * Durability: the object exists once Complete (or the PUT) answered 2xx.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objstore/digest.h"
#include "objstore/s3_internal.h"
#include "util/thread.h"

#define FIRST_BUFFER (64u << 10)

typedef struct {
  uint32_t number; /* 1-based part number */
  uint8_t *buf;
  size_t len;
} part_job_t;

struct backend_writer {
  akidb_objstore_t *s;
  char *key;
  akidb_objstore_meta_t meta[AKIDB_OBJSTORE_META_COUNT_MAX];
  size_t nmeta;
  char *meta_copy;
  uint64_t part_size;

  uint8_t *cur; /* the buffer being filled */
  size_t cur_len, cur_cap;
  uint32_t next_part; /* number of the part `cur` will become */
  digest_md5_ctx_t *whole_md5; /* MD5 of every byte (servers such as s3rver
                                  return it as a multipart object's ETag) */

  bool started;         /* multipart upload created */
  char upload_id[1024];

  pthread_mutex_t lock;
  pthread_cond_t work_cv, done_cv;
  pthread_t *threads;
  uint32_t nthreads;
  bool stop;
  part_job_t *queue; /* ring of max_parallel + 1 jobs */
  uint32_t qhead, qlen, qcap;
  uint8_t **free_bufs;
  uint32_t nfree, nbufs; /* buffers allocated (≤ max_parallel + 1) */
  uint32_t busy;         /* jobs taken by workers, not finished */
  uint8_t (*md5)[DIGEST_MD5_LEN]; /* per part, index number-1 */
  uint32_t md5_cap;
  int error;
  char errmsg[640];
};

static void set_error(backend_writer_t *w, int rc, const char *msg) {
  if (w->error) return;
  w->error = rc;
  snprintf(w->errmsg, sizeof w->errmsg, "%s", msg);
}

static int report(backend_writer_t *w, char *err, size_t errlen) {
  objstore_errf(err, errlen, "%s", w->errmsg);
  return w->error;
}

/* ------------------------------------------------------------ requests */

static int upload_part(backend_writer_t *w, part_job_t *j, uint8_t md5[DIGEST_MD5_LEN],
                       char *err, size_t errlen) {
  s3_req_t *r = malloc(sizeof *r);
  if (!r) return AKIDB_ENOMEM;
  char what[64], num[16], b64[32], hex[33];
  snprintf(what, sizeof what, "UploadPart %u", j->number);
  snprintf(num, sizeof num, "%u", j->number);
  digest_md5(j->buf, j->len, md5);
  digest_base64(md5, DIGEST_MD5_LEN, b64);
  objstore_hex(md5, DIGEST_MD5_LEN, hex);
  s3_req_init(r, AKIDB_OBJSTORE_OP_MPU_PART, "PUT", what, w->key);
  s3_req_query(r, "partNumber", num);
  s3_req_query(r, "uploadId", w->upload_id);
  s3_req_header(r, "content-md5", b64);
  r->body = j->buf;
  r->body_len = j->len;
  int rc = s3_call(w->s, r, err, errlen);
  if (!rc && strcmp(r->etag, hex) != 0) {
    char k[400];
    objstore_errf(err, errlen, "s3 %s %s: ETag \"%s\" differs from the part's MD5 %s: the "
                               "part was altered on the way",
                  what, s3_display_key(w->s, w->key, k, sizeof k), r->etag, hex);
    rc = AKIDB_ECORRUPT;
  }
  s3_req_free(r);
  free(r);
  return rc;
}

static void *worker_main(void *arg) {
  backend_writer_t *w = arg;
  util_thread_name("s3-writer");
  pthread_mutex_lock(&w->lock);
  for (;;) {
    while (!w->stop && w->qlen == 0) pthread_cond_wait(&w->work_cv, &w->lock);
    if (w->qlen == 0) break; /* stop requested and nothing left */
    part_job_t j = w->queue[w->qhead];
    w->qhead = (w->qhead + 1) % w->qcap;
    w->qlen--;
    w->busy++;
    bool skip = w->error != 0 || w->stop;
    pthread_mutex_unlock(&w->lock);
    uint8_t md5[DIGEST_MD5_LEN];
    char msg[640] = "";
    int rc = skip ? 0 : upload_part(w, &j, md5, msg, sizeof msg);
    pthread_mutex_lock(&w->lock);
    if (rc) set_error(w, rc, msg);
    else if (!skip) memcpy(w->md5[j.number - 1], md5, DIGEST_MD5_LEN);
    w->free_bufs[w->nfree++] = j.buf;
    w->busy--;
    pthread_cond_broadcast(&w->done_cv);
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

static int create_upload(backend_writer_t *w, char *err, size_t errlen) {
  s3_req_t *r = malloc(sizeof *r);
  if (!r) return AKIDB_ENOMEM;
  s3_req_init(r, AKIDB_OBJSTORE_OP_MPU_CREATE, "POST", "CreateMultipartUpload", w->key);
  s3_req_query(r, "uploads", "");
  s3_req_meta(r, w->meta, w->nmeta);
  int rc = s3_call(w->s, r, err, errlen);
  if (!rc) {
    size_t l;
    const char *v = r->resp.p ? s3_xml_find(r->resp.p, r->resp.p + r->resp.n, "UploadId", &l)
                              : NULL;
    if (v) s3_xml_text(v, l, w->upload_id, sizeof w->upload_id);
    if (!v || !w->upload_id[0]) {
      char k[400];
      objstore_errf(err, errlen, "s3 CreateMultipartUpload %s: the answer holds no UploadId",
                    s3_display_key(w->s, w->key, k, sizeof k));
      rc = AKIDB_EIO;
    }
  }
  s3_req_free(r);
  free(r);
  return rc;
}

static void abort_upload(backend_writer_t *w) {
  s3_req_t *r = malloc(sizeof *r);
  if (!r) return;
  s3_req_init(r, AKIDB_OBJSTORE_OP_MPU_ABORT, "DELETE", "AbortMultipartUpload", w->key);
  s3_req_query(r, "uploadId", w->upload_id);
  char ignored[256];
  (void)s3_call(w->s, r, ignored, sizeof ignored); /* best effort; S3 lifecycle rules
                                                      clean up what remains */
  s3_req_free(r);
  free(r);
}

/* Starts the multipart upload and the workers. */
static int start_multipart(backend_writer_t *w, char *err, size_t errlen) {
  int rc = create_upload(w, err, errlen);
  if (rc) return rc;
  w->started = true;
  uint32_t n = w->s->opt.max_parallel;
  w->qcap = n + 1;
  w->queue = calloc(w->qcap, sizeof *w->queue);
  w->free_bufs = calloc(w->qcap, sizeof *w->free_bufs);
  w->threads = calloc(n, sizeof *w->threads);
  if (!w->queue || !w->free_bufs || !w->threads) return AKIDB_ENOMEM;
  for (uint32_t i = 0; i < n; i++) {
    if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0) break;
    w->nthreads++;
  }
  if (w->nthreads == 0) {
    objstore_errf(err, errlen, "s3 upload %s: cannot start an upload thread", w->key);
    return AKIDB_ENOMEM;
  }
  w->nbufs = 1; /* `cur` */
  return 0;
}

/* Hands `cur` to the workers as part `next_part` and gets an empty buffer. */
static int submit_part(backend_writer_t *w, char *err, size_t errlen) {
  if (w->next_part > AKIDB_OBJSTORE_MAX_PARTS) {
    objstore_errf(err, errlen, "s3 upload %s: more than %u parts of %llu bytes; raise "
                               "part_size or give put the object's size",
                  w->key, AKIDB_OBJSTORE_MAX_PARTS, (unsigned long long)w->part_size);
    return AKIDB_ELIMIT;
  }
  pthread_mutex_lock(&w->lock);
  if (w->next_part > w->md5_cap) {
    uint32_t cap = w->md5_cap ? w->md5_cap * 2 : 64;
    void *p = realloc(w->md5, (size_t)cap * DIGEST_MD5_LEN);
    if (!p) {
      pthread_mutex_unlock(&w->lock);
      return AKIDB_ENOMEM;
    }
    w->md5 = p;
    w->md5_cap = cap;
  }
  w->queue[(w->qhead + w->qlen) % w->qcap] = (part_job_t){w->next_part, w->cur, w->cur_len};
  w->qlen++;
  w->next_part++;
  w->cur = NULL;
  w->cur_len = w->cur_cap = 0;
  pthread_cond_signal(&w->work_cv);
  int rc = 0;
  /* A buffer: a free one, a new one while fewer than max_parallel + 1
   * exist, else wait for a worker to finish one. */
  for (;;) {
    if (w->error) {
      rc = w->error;
      break;
    }
    if (w->nfree) {
      w->cur = w->free_bufs[--w->nfree];
      break;
    }
    if (w->nbufs < w->qcap) {
      w->nbufs++;
      pthread_mutex_unlock(&w->lock);
      w->cur = malloc(w->part_size);
      pthread_mutex_lock(&w->lock);
      if (!w->cur) {
        w->nbufs--;
        rc = AKIDB_ENOMEM;
      }
      break;
    }
    pthread_cond_wait(&w->done_cv, &w->lock);
  }
  if (w->cur) w->cur_cap = w->part_size;
  if (rc && rc == w->error) rc = report(w, err, errlen);
  pthread_mutex_unlock(&w->lock);
  return rc;
}

/* Waits until every submitted part finished; stops and joins the workers. */
static void drain_workers(backend_writer_t *w) {
  pthread_mutex_lock(&w->lock);
  while (w->qlen > 0 || w->busy > 0) pthread_cond_wait(&w->done_cv, &w->lock);
  w->stop = true;
  pthread_cond_broadcast(&w->work_cv);
  pthread_mutex_unlock(&w->lock);
  for (uint32_t i = 0; i < w->nthreads; i++) pthread_join(w->threads[i], NULL);
  w->nthreads = 0;
}

/* ----------------------------------------------------------------- writer */

int s3_writer_open(akidb_objstore_t *s, const char *key, const akidb_objstore_meta_t *meta,
                   size_t nmeta, uint64_t part_size, backend_writer_t **out, char *err,
                   size_t errlen) {
  (void)err, (void)errlen;
  backend_writer_t *w = calloc(1, sizeof *w);
  if (!w) return AKIDB_ENOMEM;
  w->s = s;
  w->part_size = part_size;
  w->next_part = 1;
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->work_cv, NULL);
  pthread_cond_init(&w->done_cv, NULL);
  w->key = strdup(key);
  w->whole_md5 = digest_md5_new();
  size_t mlen = 1;
  for (size_t i = 0; i < nmeta; i++) mlen += strlen(meta[i].name) + strlen(meta[i].value) + 2;
  w->meta_copy = malloc(mlen);
  if (!w->key || !w->meta_copy || !w->whole_md5) {
    s3_writer_abort(w);
    return AKIDB_ENOMEM;
  }
  char *mp = w->meta_copy;
  for (size_t i = 0; i < nmeta; i++) {
    w->meta[i].name = strcpy(mp, meta[i].name);
    mp += strlen(mp) + 1;
    w->meta[i].value = strcpy(mp, meta[i].value);
    mp += strlen(mp) + 1;
  }
  w->nmeta = nmeta;
  *out = w;
  return 0;
}

int s3_writer_write(backend_writer_t *w, const void *buf, size_t len, char *err,
                    size_t errlen) {
  const uint8_t *p = buf;
  digest_md5_update(w->whole_md5, buf, len);
  while (len > 0) {
    if (w->cur_len == w->cur_cap) {
      if (w->cur_cap == w->part_size) {
        /* A full part: start the upload if needed, hand it over. */
        int rc = w->started ? 0 : start_multipart(w, err, errlen);
        if (!rc) rc = submit_part(w, err, errlen);
        if (rc) return rc;
      } else {
        /* The first buffer grows geometrically so small objects stay small. */
        size_t cap = w->cur_cap ? w->cur_cap * 2 : FIRST_BUFFER;
        if (cap > w->part_size) cap = w->part_size;
        uint8_t *q = realloc(w->cur, cap);
        if (!q) return AKIDB_ENOMEM;
        w->cur = q;
        w->cur_cap = cap;
      }
    }
    size_t n = w->cur_cap - w->cur_len;
    if (n > len) n = len;
    memcpy(w->cur + w->cur_len, p, n);
    w->cur_len += n;
    p += n;
    len -= n;
  }
  return 0;
}

/* One PUT of the whole (small) object. */
static int put_single(backend_writer_t *w, uint64_t size, uint32_t crc,
                      akidb_objstore_result_t *out, char *err, size_t errlen) {
  s3_req_t *r = malloc(sizeof *r);
  if (!r) return AKIDB_ENOMEM;
  uint8_t md5[DIGEST_MD5_LEN];
  char b64[32], hex[33], crcs[16], sizes[24];
  digest_md5(w->cur, w->cur_len, md5);
  digest_base64(md5, sizeof md5, b64);
  objstore_hex(md5, sizeof md5, hex);
  snprintf(crcs, sizeof crcs, "%08x", crc);
  snprintf(sizes, sizeof sizes, "%llu", (unsigned long long)size);
  s3_req_init(r, AKIDB_OBJSTORE_OP_PUT, "PUT", "PUT", w->key);
  s3_req_header(r, "content-md5", b64);
  s3_req_header(r, "x-amz-meta-akidb-crc32c", crcs);
  s3_req_header(r, "x-amz-meta-akidb-size", sizes);
  s3_req_meta(r, w->meta, w->nmeta);
  r->body = w->cur;
  r->body_len = w->cur_len;
  int rc = s3_call(w->s, r, err, errlen);
  if (!rc && strcmp(r->etag, hex) != 0) {
    char k[400];
    objstore_errf(err, errlen, "s3 PUT %s: ETag \"%s\" differs from the body's MD5 %s: the "
                               "object was altered on the way",
                  s3_display_key(w->s, w->key, k, sizeof k), r->etag, hex);
    rc = AKIDB_ECORRUPT;
  }
  if (!rc) {
    out->size = size;
    out->crc32c = crc;
    snprintf(out->etag, sizeof out->etag, "%s", hex);
  }
  s3_req_free(r);
  free(r);
  return rc;
}

/* The CompleteMultipartUpload document, malloc'd. */
static char *complete_xml(backend_writer_t *w, uint32_t parts, size_t *len) {
  size_t cap = 128 + (size_t)parts * 96;
  char *x = malloc(cap);
  if (!x) return NULL;
  size_t n = (size_t)snprintf(x, cap, "<CompleteMultipartUpload>");
  for (uint32_t i = 0; i < parts; i++) {
    char hex[33];
    objstore_hex(w->md5[i], DIGEST_MD5_LEN, hex);
    n += (size_t)snprintf(x + n, cap - n,
                          "<Part><PartNumber>%u</PartNumber><ETag>\"%s\"</ETag></Part>", i + 1,
                          hex);
  }
  n += (size_t)snprintf(x + n, cap - n, "</CompleteMultipartUpload>");
  *len = n;
  return x;
}

/* Completes the upload and checks the stored object: its size, and its
 * ETag against `want_etag` (S3's MD5-of-part-MD5s "-N") or, from servers
 * that use the plain MD5 of the whole object instead, against `whole`.
 * The ETag the service reported goes to etag_out. */
static int complete_upload(backend_writer_t *w, uint32_t parts, const char *want_etag,
                           const char *whole, uint64_t size, char *etag_out, size_t etag_len,
                           char *err, size_t errlen) {
  size_t xl;
  char *xml = complete_xml(w, parts, &xl);
  s3_req_t *r = malloc(sizeof *r);
  if (!xml || !r) {
    free(xml), free(r);
    return AKIDB_ENOMEM;
  }
  char k[400];
  s3_display_key(w->s, w->key, k, sizeof k);
  s3_req_init(r, AKIDB_OBJSTORE_OP_MPU_COMPLETE, "POST", "CompleteMultipartUpload", w->key);
  s3_req_query(r, "uploadId", w->upload_id);
  s3_req_header(r, "content-type", "application/xml");
  r->body = (const uint8_t *)xml;
  r->body_len = xl;
  int rc = s3_call(w->s, r, err, errlen);
  bool lost_answer = rc == AKIDB_ENOTFOUND && r->resp.p && strstr(r->resp.p, "NoSuchUpload");
  char etag[128] = "";
  if (!rc && r->resp.p) {
    const char *end = r->resp.p + r->resp.n;
    size_t l;
    const char *code = s3_xml_find(r->resp.p, end, "Code", &l);
    if (strstr(r->resp.p, "<Error>") && code) {
      /* S3 may answer 200 and report the failure in the body. */
      char c[128], m[256] = "";
      s3_xml_text(code, l, c, sizeof c);
      const char *mv = s3_xml_find(r->resp.p, end, "Message", &l);
      if (mv) s3_xml_text(mv, l, m, sizeof m);
      objstore_errf(err, errlen, "s3 CompleteMultipartUpload %s: 200 %s: %s", k, c, m);
      rc = AKIDB_EUNAVAILABLE;
    } else {
      const char *ev = s3_xml_find(r->resp.p, end, "ETag", &l);
      if (ev) s3_xml_text(ev, l, etag, sizeof etag);
    }
  }
  s3_req_free(r);
  free(r);
  free(xml);
  if (rc && !lost_answer) return rc;
  /* Check what is stored: size and ETag (also after a retried Complete
   * whose first answer was lost: the upload is gone but the object is). */
  akidb_objstore_info_t *info = malloc(sizeof *info);
  if (!info) return AKIDB_ENOMEM;
  memset(info, 0, sizeof *info);
  char herr[640];
  int hrc = s3_head(w->s, w->key, info, herr, sizeof herr);
  if (hrc) {
    objstore_errf(err, errlen, "s3 CompleteMultipartUpload %s: cannot verify the object: %s",
                  k, herr);
  } else {
    char *e = etag;
    size_t el = strlen(e);
    if (el >= 2 && e[0] == '"' && e[el - 1] == '"') e[el - 1] = '\0', e++;
    const char *want = strchr(info->etag, '-') ? want_etag : whole;
    if ((!lost_answer && strcmp(e, info->etag) != 0) || strcmp(info->etag, want) != 0 ||
        info->size != size) {
      objstore_errf(err, errlen,
                    "s3 CompleteMultipartUpload %s: stored object differs from what was "
                    "sent: ETag \"%s\" (HEAD \"%s\") size %llu, expected \"%s\" size %llu",
                    k, e, info->etag, (unsigned long long)info->size, want,
                    (unsigned long long)size);
      hrc = AKIDB_ECORRUPT;
    }
    snprintf(etag_out, etag_len, "%s", info->etag);
  }
  free(info);
  return hrc;
}

int s3_writer_commit(backend_writer_t *w, uint64_t size, uint32_t crc,
                     akidb_objstore_result_t *out, char *err, size_t errlen) {
  int rc;
  if (!w->started) {
    rc = put_single(w, size, crc, out, err, errlen);
    s3_writer_abort(w);
    return rc;
  }
  rc = w->cur_len > 0 ? submit_part(w, err, errlen) : 0;
  drain_workers(w);
  if (!rc && w->error) rc = report(w, err, errlen);
  uint32_t parts = w->next_part - 1;
  if (!rc) {
    /* ETag of a multipart object: MD5 of the concatenated part MD5s, "-N" */
    uint8_t m[DIGEST_MD5_LEN];
    char want[72];
    digest_md5(w->md5, (size_t)parts * DIGEST_MD5_LEN, m);
    objstore_hex(m, sizeof m, want);
    snprintf(want + 32, sizeof want - 32, "-%u", parts);
    char whole[33];
    digest_md5_final(w->whole_md5, m);
    w->whole_md5 = NULL;
    objstore_hex(m, sizeof m, whole);
    rc = complete_upload(w, parts, want, whole, size, out->etag, sizeof out->etag, err, errlen);
    if (!rc) {
      out->size = size;
      out->crc32c = crc;
      w->started = false; /* completed: nothing to abort */
    }
  }
  s3_writer_abort(w);
  return rc;
}

void s3_writer_abort(backend_writer_t *w) {
  if (!w) return;
  if (w->nthreads) {
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    if (!w->error) set_error(w, AKIDB_EINVAL, "writer aborted");
    pthread_cond_broadcast(&w->work_cv);
    pthread_mutex_unlock(&w->lock);
    drain_workers(w);
  }
  if (w->started) abort_upload(w);
  for (uint32_t i = 0; i < w->nfree; i++) free(w->free_bufs[i]);
  for (uint32_t i = 0; i < w->qlen; i++) free(w->queue[(w->qhead + i) % w->qcap].buf);
  free(w->cur);
  free(w->free_bufs), free(w->queue), free(w->threads), free(w->md5);
  free(w->key), free(w->meta_copy);
  digest_md5_free(w->whole_md5);
  pthread_cond_destroy(&w->work_cv);
  pthread_cond_destroy(&w->done_cv);
  pthread_mutex_destroy(&w->lock);
  free(w);
}
