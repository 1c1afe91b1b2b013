/*
 * s3.c — the object store on an S3-compatible service over HTTP(S) with
 * libcurl: the pool of curl easy handles (kept between requests so their
 * connections are reused), one signed request (s3_call: SigV4 by sigv4.c,
 * sent through the retry runner and circuit breaker of objstore.c), error
 * classification, and the single-request operations GET (resumable),
 * HEAD, DELETE and ListObjectsV2. Uploads are in s3_writer.c.
 *
 * Payload hashes: every request body is in memory (a part, a small object,
 * an XML document), so x-amz-content-sha256 is always the real SHA-256 of
 * the body; UNSIGNED-PAYLOAD is never sent.
 *
 * Locking: the handle pool is one mutex-guarded stack, held only to push
 * or pop; a handle belongs to one request at a time. Everything else is per
 * request. Durability: whatever S3 promises for a 2xx answer.
 *
 * Secrets: the secret key only keys HMACs (sigv4.c); the session token is
 * sent in a header; neither is written into any message. curl's verbose
 * mode is never turned on.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/curl_global.h"
#include "trace/trace.h"
#include "objstore/digest.h"
#include "objstore/s3_internal.h"

#define S3_POOL_MAX 64             /* idle handles kept */
#define S3_XML_LIMIT (32u << 20)   /* largest XML answer accepted */
#define S3_ERROR_LIMIT (64u << 10) /* largest error body kept */

struct s3_store {
  pthread_mutex_t pool_lock;
  CURL *pool[S3_POOL_MAX];
  size_t npool;
  char *base_url;  /* "scheme://[bucket.]host[:port]" */
  char *host;      /* Host header value */
  char *path_base; /* "/bucket" (path style) or "" */
};



/* ------------------------------------------------------------ open, close */

void s3_host_header(const char *endpoint, const char *bucket, bool path_style, char *out,
                    size_t len) {
  bool https = strncmp(endpoint, "https://", 8) == 0;
  const char *hp = endpoint + (https ? 8 : 7);
  size_t hl = strcspn(hp, "/");
  /* a port is ":digits" after the last ']' (IPv6 literals hold colons) */
  const char *close = memchr(hp, ']', hl);
  const char *from = close ? close : hp;
  const char *colon = memchr(from, ':', hl - (size_t)(from - hp));
  if (colon) {
    size_t pl = hl - (size_t)(colon - hp);
    if ((https && pl == 4 && memcmp(colon, ":443", 4) == 0) ||
        (!https && pl == 3 && memcmp(colon, ":80", 3) == 0))
      hl = (size_t)(colon - hp);
  }
  if (path_style) snprintf(out, len, "%.*s", (int)hl, hp);
  else snprintf(out, len, "%s.%.*s", bucket, (int)hl, hp);
}

int s3_open(akidb_objstore_t *s, char *err, size_t errlen) {
  CURLcode curl_init_rc = util_curl_global_init();
  if (curl_init_rc != CURLE_OK) {
    objstore_errf(err, errlen, "s3 object store: libcurl failed to initialise: %s",
                  curl_easy_strerror(curl_init_rc));
    return AKIDB_EIO;
  }
  s3_store_t *t = calloc(1, sizeof *t);
  if (!t) return AKIDB_ENOMEM;
  pthread_mutex_init(&t->pool_lock, NULL);
  size_t n = strlen(s->endpoint) + strlen(s->bucket) + 16;
  t->host = malloc(n);
  t->base_url = malloc(n);
  t->path_base = malloc(strlen(s->bucket) + 2);
  if (!t->host || !t->base_url || !t->path_base) {
    s->impl.s3 = t;
    s3_close(s);
    return AKIDB_ENOMEM;
  }
  s3_host_header(s->endpoint, s->bucket, s->opt.path_style, t->host, n);
  if (s->opt.path_style) snprintf(t->path_base, strlen(s->bucket) + 2, "/%s", s->bucket);
  else t->path_base[0] = '\0';
  size_t scheme_len = strncmp(s->endpoint, "https://", 8) == 0 ? 8 : 7;
  snprintf(t->base_url, n, "%.*s%s", (int)scheme_len, s->endpoint, t->host);
  s->impl.s3 = t;
  return 0;
}

void s3_close(akidb_objstore_t *s) {
  s3_store_t *t = s->impl.s3;
  if (!t) return;
  for (size_t i = 0; i < t->npool; i++) curl_easy_cleanup(t->pool[i]);
  pthread_mutex_destroy(&t->pool_lock);
  free(t->base_url), free(t->host), free(t->path_base);
  free(t);
  s->impl.s3 = NULL;
}

static CURL *handle_get(s3_store_t *t) {
  CURL *h = NULL;
  pthread_mutex_lock(&t->pool_lock);
  if (t->npool) h = t->pool[--t->npool];
  pthread_mutex_unlock(&t->pool_lock);
  if (h) curl_easy_reset(h); /* keeps its connection cache */
  else h = curl_easy_init();
  return h;
}

static void handle_put(s3_store_t *t, CURL *h) {
  pthread_mutex_lock(&t->pool_lock);
  if (t->npool < S3_POOL_MAX) {
    t->pool[t->npool++] = h;
    h = NULL;
  }
  pthread_mutex_unlock(&t->pool_lock);
  if (h) curl_easy_cleanup(h);
}

/* ---------------------------------------------------------------- request */

static const char *strbuf_copy(s3_req_t *r, const char *v) {
  size_t n = strlen(v) + 1;
  if (r->strbuf_used + n > sizeof r->strbuf) return NULL;
  char *p = r->strbuf + r->strbuf_used;
  memcpy(p, v, n);
  r->strbuf_used += n;
  return p;
}

void s3_req_init(s3_req_t *r, int op, const char *method, const char *what, const char *key) {
  memset(r, 0, sizeof *r);
  r->op = op;
  r->method = method;
  r->key = key;
  snprintf(r->what, sizeof r->what, "%s", what);
  r->resp.limit = S3_XML_LIMIT;
}

void s3_req_free(s3_req_t *r) {
  free(r->resp.p);
  r->resp.p = NULL;
}

void s3_req_header(s3_req_t *r, const char *name, const char *value) {
  if (r->nhdr == S3_MAX_HEADERS) return;
  const char *n = strbuf_copy(r, name), *v = strbuf_copy(r, value);
  if (!n || !v) return;
  r->hdr[r->nhdr++] = (sigv4_pair_t){n, v};
}

void s3_req_query(s3_req_t *r, const char *name, const char *value) {
  if (r->nquery == S3_MAX_QUERY) return;
  const char *n = strbuf_copy(r, name), *v = strbuf_copy(r, value);
  if (!n || !v) return;
  r->query[r->nquery++] = (sigv4_pair_t){n, v};
}

void s3_req_meta(s3_req_t *r, const akidb_objstore_meta_t *meta, size_t nmeta) {
  for (size_t i = 0; i < nmeta; i++) {
    char name[96];
    snprintf(name, sizeof name, "x-amz-meta-%s", meta[i].name);
    s3_req_header(r, name, meta[i].value);
  }
}

const char *s3_display_key(akidb_objstore_t *s, const char *key, char *buf, size_t len) {
  if (key) snprintf(buf, len, "%s/%s%.300s", s->bucket, s->prefix, key);
  else snprintf(buf, len, "%s", s->bucket);
  return buf;
}

static void buf_add(s3_buf_t *b, const void *p, size_t n) {
  if (b->overflow) return;
  if (b->n + n + 1 > b->limit) {
    b->overflow = true;
    return;
  }
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + n + 1) cap *= 2;
    char *q = realloc(b->p, cap);
    if (!q) {
      b->overflow = true;
      return;
    }
    b->p = q, b->cap = cap;
  }
  memcpy(b->p + b->n, p, n);
  b->n += n;
  b->p[b->n] = '\0';
}

/* ------------------------------------------------------------ XML helpers */

const char *s3_xml_find(const char *p, const char *end, const char *tag, size_t *len) {
  char open[64], close[64];
  snprintf(open, sizeof open, "<%s>", tag);
  snprintf(close, sizeof close, "</%s>", tag);
  size_t ol = strlen(open);
  const char *a = p ? memmem(p, (size_t)(end - p), open, ol) : NULL;
  if (!a) return NULL;
  a += ol;
  const char *b = memmem(a, (size_t)(end - a), close, strlen(close));
  if (!b) return NULL;
  *len = (size_t)(b - a);
  return a;
}

static size_t utf8_put(unsigned long cp, char *out) {
  if (cp < 0x80) return out[0] = (char)cp, 1;
  if (cp < 0x800) return out[0] = (char)(0xC0 | (cp >> 6)), out[1] = (char)(0x80 | (cp & 63)), 2;
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 63));
    out[2] = (char)(0x80 | (cp & 63));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 63));
  out[2] = (char)(0x80 | ((cp >> 6) & 63));
  out[3] = (char)(0x80 | (cp & 63));
  return 4;
}

void s3_xml_text(const char *v, size_t len, char *out, size_t cap) {
  static const struct {
    const char *ent;
    char c;
  } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  size_t o = 0;
  for (size_t i = 0; i < len && o + 5 < cap;) {
    if (v[i] == '&') {
      bool done = false;
      for (size_t e = 0; e < sizeof ents / sizeof ents[0] && !done; e++) {
        size_t el = strlen(ents[e].ent);
        if (i + el <= len && memcmp(v + i, ents[e].ent, el) == 0) {
          out[o++] = ents[e].c;
          i += el;
          done = true;
        }
      }
      if (!done && i + 2 < len && v[i + 1] == '#') {
        char *endp;
        bool hex = v[i + 2] == 'x' || v[i + 2] == 'X';
        unsigned long cp = strtoul(v + i + (hex ? 3 : 2), &endp, hex ? 16 : 10);
        if (endp < v + len && *endp == ';' && cp > 0 && cp <= 0x10FFFF) {
          o += utf8_put(cp, out + o);
          i = (size_t)(endp - v) + 1;
          done = true;
        }
      }
      if (done) continue;
    }
    out[o++] = v[i++];
  }
  out[o] = '\0';
}

/* ------------------------------------------------------- curl callbacks */

static size_t on_header(char *line, size_t size, size_t nitems, void *ud) {
  s3_req_t *r = ud;
  size_t n = size * nitems;
  if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
    /* a new response (after 100 Continue or a redirect): start over */
    const char *sp = memchr(line, ' ', n);
    r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
    r->has_content_length = r->has_total_size = false;
    r->etag[0] = '\0';
    return n;
  }
  const char *colon = memchr(line, ':', n);
  if (!colon) return n;
  size_t nl = (size_t)(colon - line);
  const char *v = colon + 1;
  size_t vl = n - nl - 1;
  while (vl && (*v == ' ' || *v == '\t')) v++, vl--;
  while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ')) vl--;
  char val[1200];
  if (vl >= sizeof val) vl = sizeof val - 1;
  memcpy(val, v, vl);
  val[vl] = '\0';
  if (nl == 4 && strncasecmp(line, "etag", 4) == 0) {
    const char *e = val;
    size_t el = vl;
    if (el >= 2 && e[0] == '"' && e[el - 1] == '"') e++, el -= 2;
    snprintf(r->etag, sizeof r->etag, "%.*s", (int)el, e);
  } else if (nl == 14 && strncasecmp(line, "content-length", 14) == 0) {
    r->content_length = strtoull(val, NULL, 10);
    r->has_content_length = true;
  } else if (nl == 13 && strncasecmp(line, "content-range", 13) == 0) {
    const char *slash = strchr(val, '/');
    if (slash && slash[1] != '*') {
      r->total_size = strtoull(slash + 1, NULL, 10);
      r->has_total_size = true;
    }
  } else if (nl == 13 && strncasecmp(line, "last-modified", 13) == 0) {
    time_t t = curl_getdate(val, NULL);
    if (t != -1) r->last_modified = (int64_t)t;
  } else if (nl > 11 && strncasecmp(line, "x-amz-meta-", 11) == 0 && r->info &&
             !r->info_filled && r->status >= 200 && r->status < 300) {
    objstore_info_add_meta(r->info, line + 11, nl - 11, val, vl);
  }
  return n;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud) {
  s3_req_t *r = ud;
  size_t n = size * nmemb;
  if (r->sink && r->status >= 200 && r->status < 300) {
    int rc = r->sink(r->sink_ctx, p, n);
    if (rc != 0) {
      r->sink_rc = rc;
      return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    r->delivered += n;
    return n;
  }
  if (r->status >= 300) r->resp.limit = S3_ERROR_LIMIT;
  buf_add(&r->resp, p, n);
  return n;
}

typedef struct {
  const uint8_t *p;
  size_t left;
} upload_src_t;

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud) {
  upload_src_t *u = ud;
  size_t n = size * nitems;
  if (n > u->left) n = u->left;
  memcpy(buf, u->p, n);
  u->p += n;
  u->left -= n;
  return n;
}

/* --------------------------------------------------------- classification */

static bool transient_code(const char *code) {
  return strcmp(code, "SlowDown") == 0 || strcmp(code, "RequestTimeout") == 0 ||
         strcmp(code, "InternalError") == 0 || strcmp(code, "ServiceUnavailable") == 0 ||
         strcmp(code, "RequestTimeTooSkewed") == 0;
}

/* Maps an HTTP error answer to a code and message. */
static int http_error(akidb_objstore_t *s, s3_req_t *r, bool *transient, char *err,
                      size_t errlen) {
  char code[128] = "", msg[512] = "", k[400];
  if (r->resp.p) {
    const char *end = r->resp.p + r->resp.n;
    size_t l;
    const char *v = s3_xml_find(r->resp.p, end, "Code", &l);
    if (v) s3_xml_text(v, l, code, sizeof code);
    v = s3_xml_find(r->resp.p, end, "Message", &l);
    if (v) s3_xml_text(v, l, msg, sizeof msg);
  }
  if (!code[0]) {
    /* HEAD answers carry no body */
    const char *c = r->status == 404 ? "NotFound" : r->status == 403 ? "Forbidden"
                    : r->status == 412 ? "PreconditionFailed" : r->status >= 500 ? "ServerError"
                                                                                 : "Error";
    snprintf(code, sizeof code, "%s", c);
  }
  *transient = r->status >= 500 || r->status == 429 || transient_code(code);
  objstore_errf(err, errlen, "s3 %s %s: %ld %s%s%s", r->what,
                s3_display_key(s, r->key, k, sizeof k), r->status, code, msg[0] ? ": " : "",
                msg);
  if (*transient) return AKIDB_EUNAVAILABLE;
  switch (r->status) {
  case 404: return AKIDB_ENOTFOUND;
  case 401:
  case 403: return AKIDB_EPERM;
  case 409:
  case 412: return AKIDB_ECONFLICT;
  case 400:
  case 411:
  case 413:
  case 416: return AKIDB_EINVAL;
  default: return AKIDB_EIO;
  }
}

static int curl_error(akidb_objstore_t *s, s3_req_t *r, CURLcode cc, const char *detail,
                      bool *transient, char *err, size_t errlen) {
  char k[400];
  s3_display_key(s, r->key, k, sizeof k);
  const char *what = curl_easy_strerror(cc);
  int rc = AKIDB_EUNAVAILABLE;
  *transient = true;
  switch (cc) {
  case CURLE_OPERATION_TIMEDOUT:
    rc = AKIDB_ETIMEDOUT;
    what = "timed out";
    break;
  case CURLE_COULDNT_CONNECT: what = "connection refused"; break;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_WEIRD_SERVER_REPLY: what = cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR
                                            ? "connection reset" : what;
    break;
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CERTPROBLEM:
    *transient = false;
    objstore_errf(err, errlen, "s3 %s %s: TLS verification of %s failed (%s%s%s); give the "
                               "CA that signed the server's certificate in option ca_file",
                  r->what, k, s->display, what, detail[0] ? ": " : "", detail);
    return AKIDB_EUNAVAILABLE;
  default: *transient = false; rc = AKIDB_EIO; break;
  }
  objstore_errf(err, errlen, "s3 %s %s: %s (%s%s%s)", r->what, k, what, s->display,
                detail[0] ? ": " : "", detail);
  return rc;
}

/* ------------------------------------------------------------ one attempt */

typedef struct {
  akidb_objstore_t *s;
  s3_req_t *r;
} attempt_ctx_t;

static char *build_url(akidb_objstore_t *s, s3_req_t *r, const char *query, char **path_out) {
  s3_store_t *t = s->impl.s3;
  const char *key = r->key ? r->key : "";
  size_t rawlen = strlen(t->path_base) + strlen(s->prefix) + strlen(key) + 2;
  char *raw = malloc(rawlen);
  if (!raw) return NULL;
  if (r->key) snprintf(raw, rawlen, "%s/%s%s", t->path_base, s->prefix, key);
  else snprintf(raw, rawlen, "%s", t->path_base[0] ? t->path_base : "/");
  char *enc = malloc(3 * strlen(raw) + 1);
  size_t ul = strlen(t->base_url) + 3 * strlen(raw) + strlen(query) + 4;
  char *url = enc ? malloc(ul) : NULL;
  if (!url) {
    free(raw), free(enc);
    return NULL;
  }
  sigv4_uri_encode(raw, strlen(raw), true, enc);
  snprintf(url, ul, "%s%s%s%s", t->base_url, enc, query[0] ? "?" : "", query);
  free(enc);
  *path_out = raw;
  return url;
}

static int attempt(void *vctx, uint32_t n, bool *transient, char *err, size_t errlen) {
  (void)n;
  attempt_ctx_t *c = vctx;
  akidb_objstore_t *s = c->s;
  s3_req_t *r = c->r;
  s3_store_t *t = s->impl.s3;
  *transient = false;
  r->status = 0;
  r->etag[0] = '\0';
  r->has_content_length = r->has_total_size = false;
  r->resp.n = 0;
  r->resp.overflow = false;
  r->resp.limit = S3_XML_LIMIT;
  r->sink_rc = 0;

  /* Date and the headers of this attempt */
  char amz_date[20];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
  char range[96] = "";
  if (r->ranged || r->delivered) {
    uint64_t from = r->range_offset + r->delivered;
    if (r->range_length)
      snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)from,
               (unsigned long long)(r->range_offset + r->range_length - 1));
    else snprintf(range, sizeof range, "bytes=%llu-", (unsigned long long)from);
  }
  sigv4_pair_t h[S3_MAX_HEADERS + 8];
  size_t nh = 0;
  h[nh++] = (sigv4_pair_t){"host", t->host};
  h[nh++] = (sigv4_pair_t){"x-amz-date", amz_date};
  h[nh++] = (sigv4_pair_t){"x-amz-content-sha256", r->body_sha256};
  if (s->session_token) h[nh++] = (sigv4_pair_t){"x-amz-security-token", s->session_token};
  if (range[0]) h[nh++] = (sigv4_pair_t){"range", range};
  if (r->if_match[0] && r->delivered) h[nh++] = (sigv4_pair_t){"if-match", r->if_match};
  for (size_t i = 0; i < r->nhdr; i++) h[nh++] = r->hdr[i];

  char *query = NULL, *path = NULL, *url = NULL, *auth = NULL;
  struct curl_slist *list = NULL;
  int rc = sigv4_canonical_query(r->query, r->nquery, &query);
  if (!rc) url = build_url(s, r, query, &path);
  if (!rc && !url) rc = AKIDB_ENOMEM;
  if (!rc) {
    sigv4_request_t sr = {r->method, path, r->query, r->nquery, h, nh, r->body_sha256,
                          amz_date, s->region, "s3", s->access_key, s->secret_key};
    rc = sigv4_authorization(&sr, &auth);
  }
  for (size_t i = 0; !rc && i <= nh; i++) {
    char line[2400];
    if (i < nh) snprintf(line, sizeof line, "%s: %s", h[i].name, h[i].value);
    else snprintf(line, sizeof line, "Authorization: %s", auth);
    struct curl_slist *l2 = curl_slist_append(list, line);
    if (!l2) rc = AKIDB_ENOMEM;
    else list = l2;
  }
  struct curl_slist *l3 = rc ? NULL : curl_slist_append(list, "Expect:");
  if (!rc && !l3) rc = AKIDB_ENOMEM;
  if (l3) list = l3;
  char tp[TRACE_TRACEPARENT_SIZE], tp_line[TRACE_TRACEPARENT_SIZE + 16];
  if (!rc && trace_current_traceparent(tp)) { /* after signing: not a signed header */
    snprintf(tp_line, sizeof tp_line, "traceparent: %s", tp);
    struct curl_slist *l4 = curl_slist_append(list, tp_line);
    if (!l4) rc = AKIDB_ENOMEM;
    else list = l4;
  }
  CURL *hd = rc ? NULL : handle_get(t);
  if (!rc && !hd) rc = AKIDB_ENOMEM;
  if (rc) {
    objstore_errf(err, errlen, "s3 %s: out of memory building the request", r->what);
    goto out;
  }
  char cerr[CURL_ERROR_SIZE] = "";
  upload_src_t up = {r->body, r->body_len};
  curl_easy_setopt(hd, CURLOPT_URL, url);
  curl_easy_setopt(hd, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(hd, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(hd, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(hd, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(hd, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(hd, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(hd, CURLOPT_ERRORBUFFER, cerr);
  curl_easy_setopt(hd, CURLOPT_CONNECTTIMEOUT_MS, (long)s->opt.connect_timeout_ms);
  curl_easy_setopt(hd, CURLOPT_TIMEOUT_MS, (long)s->opt.request_timeout_ms);
  curl_easy_setopt(hd, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(hd, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(hd, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(hd, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(hd, CURLOPT_PROTOCOLS_STR, "http,https");
  if (s->ca_file) curl_easy_setopt(hd, CURLOPT_CAINFO, s->ca_file);
  if (strcmp(r->method, "HEAD") == 0) {
    curl_easy_setopt(hd, CURLOPT_NOBODY, 1L);
  } else if (strcmp(r->method, "PUT") == 0) {
    curl_easy_setopt(hd, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(hd, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(hd, CURLOPT_READDATA, &up);
    curl_easy_setopt(hd, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
  } else if (strcmp(r->method, "POST") == 0) {
    curl_easy_setopt(hd, CURLOPT_POST, 1L);
    curl_easy_setopt(hd, CURLOPT_POSTFIELDS, r->body ? (const char *)r->body : "");
    curl_easy_setopt(hd, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
  } else if (strcmp(r->method, "GET") != 0) {
    curl_easy_setopt(hd, CURLOPT_CUSTOMREQUEST, r->method);
  }
  uint64_t delivered_before = r->delivered;
  CURLcode cc = curl_easy_perform(hd);
  handle_put(t, hd);
  if (r->status >= 200 && r->status < 300) {
    if (r->info) r->info_filled = true; /* metadata is taken from one answer only */
    if (!r->if_match[0] && r->etag[0])  /* a resumed GET must read this version */
      snprintf(r->if_match, sizeof r->if_match, "\"%s\"", r->etag);
  }
  stats_add_bytes(&s->stats, r->op, (r->delivered - delivered_before) + r->resp.n,
                  r->body_len);
  if (r->sink_rc) {
    rc = r->sink_rc;
    objstore_errf(err, errlen, "s3 %s: the caller's sink stopped the transfer (%d)", r->what,
                  rc);
  } else if (cc != CURLE_OK) {
    rc = curl_error(s, r, cc, cerr, transient, err, errlen);
  } else if (r->status < 200 || r->status >= 300) {
    rc = http_error(s, r, transient, err, errlen);
  } else if (r->resp.overflow) {
    char k[400];
    objstore_errf(err, errlen, "s3 %s %s: answer larger than %u bytes", r->what,
                  s3_display_key(s, r->key, k, sizeof k), S3_XML_LIMIT);
    rc = AKIDB_EIO;
  }
out:
  curl_slist_free_all(list);
  free(query), free(path), free(url), free(auth);
  return rc;
}

int s3_call(akidb_objstore_t *s, s3_req_t *r, char *err, size_t errlen) {
  if (!r->body_sha256[0]) {
    if (r->body_len) digest_sha256_hex(r->body, r->body_len, r->body_sha256);
    else snprintf(r->body_sha256, sizeof r->body_sha256, "%s", SIGV4_EMPTY_SHA256);
  }
  attempt_ctx_t c = {s, r};
  return objstore_retry_run(&s->retry, r->op, attempt, &c, err, errlen);
}

/* ------------------------------------------------------------- operations */

int s3_get(akidb_objstore_t *s, const char *key, uint64_t offset, uint64_t length,
           akidb_objstore_write_fn write, void *ctx, akidb_objstore_info_t *info, char *err,
           size_t errlen) {
  s3_req_t *r = malloc(sizeof *r);
  if (!r) return AKIDB_ENOMEM;
  s3_req_init(r, AKIDB_OBJSTORE_OP_GET, "GET", "GET", key);
  r->sink = write;
  r->sink_ctx = ctx;
  r->info = info;
  r->range_offset = offset;
  r->range_length = length;
  r->ranged = offset != 0 || length != 0;
  /* Retries resume where the last attempt stopped, on the same version:
   * the attempt function adds Range and If-Match once bytes were delivered;
   * the ETag of the first answer is pinned here via the header callback. */
  int rc = s3_call(s, r, err, errlen);
  if (rc == AKIDB_EINVAL && r->status == 416) rc = 0; /* range past the end: no bytes */
  if (!rc) {
    /* a resumed or ranged answer is a 206 whose Content-Range has the total */
    info->size = r->has_total_size ? r->total_size : r->content_length;
    snprintf(info->etag, sizeof info->etag, "%s", r->etag);
    info->last_modified = r->last_modified;
  }
  s3_req_free(r);
  free(r);
  return rc;
}

int s3_head(akidb_objstore_t *s, const char *key, akidb_objstore_info_t *info, char *err,
            size_t errlen) {
  s3_req_t *r = malloc(sizeof *r);
  if (!r) return AKIDB_ENOMEM;
  s3_req_init(r, AKIDB_OBJSTORE_OP_HEAD, "HEAD", "HEAD", key);
  r->info = info;
  int rc = s3_call(s, r, err, errlen);
  if (!rc) {
    info->size = r->content_length;
    snprintf(info->etag, sizeof info->etag, "%s", r->etag);
    info->last_modified = r->last_modified;
  }
  s3_req_free(r);
  free(r);
  return rc;
}

int s3_delete(akidb_objstore_t *s, const char *key, char *err, size_t errlen) {
  s3_req_t *r = malloc(sizeof *r);
  if (!r) return AKIDB_ENOMEM;
  s3_req_init(r, AKIDB_OBJSTORE_OP_DELETE, "DELETE", "DELETE", key);
  int rc = s3_call(s, r, err, errlen);
  if (rc == AKIDB_ENOTFOUND && r->status == 404) {
    /* S3 answers 204 for absent keys; some servers 404 NoSuchKey. A missing
     * bucket is a real error. */
    if (!(r->resp.p && strstr(r->resp.p, "NoSuchBucket"))) rc = 0;
  }
  s3_req_free(r);
  free(r);
  return rc;
}

/* ISO 8601 "2024-01-02T03:04:05.000Z" → Unix seconds. */
static int64_t parse_iso8601(const char *v) {
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  if (sscanf(v, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
             &tm.tm_min, &tm.tm_sec) != 6)
    return 0;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return (int64_t)timegm(&tm);
}

int s3_list(akidb_objstore_t *s, const char *prefix, akidb_objstore_list_fn fn, void *ctx,
            char *err, size_t errlen) {
  size_t pl = strlen(s->prefix);
  char *full = malloc(pl + strlen(prefix) + 1);
  char *token = malloc(2048);
  char *keybuf = malloc(AKIDB_OBJSTORE_KEY_MAX * 2 + 8);
  s3_req_t *r = malloc(sizeof *r);
  int rc = full && token && keybuf && r ? 0 : AKIDB_ENOMEM;
  if (!rc) {
    sprintf(full, "%s%s", s->prefix, prefix);
    token[0] = '\0';
  }
  while (!rc) {
    s3_req_init(r, AKIDB_OBJSTORE_OP_LIST, "GET", "ListObjectsV2", NULL);
    s3_req_query(r, "list-type", "2");
    s3_req_query(r, "prefix", full);
    if (token[0]) s3_req_query(r, "continuation-token", token);
    rc = s3_call(s, r, err, errlen);
    if (rc) {
      s3_req_free(r);
      break;
    }
    const char *p = r->resp.p ? r->resp.p : "", *end = p + r->resp.n;
    size_t l;
    const char *c;
    while (!rc && (c = s3_xml_find(p, end, "Contents", &l)) != NULL) {
      const char *ce = c + l;
      size_t kl, sl, el, ml;
      const char *kv = s3_xml_find(c, ce, "Key", &kl);
      const char *sv = s3_xml_find(c, ce, "Size", &sl);
      const char *ev = s3_xml_find(c, ce, "ETag", &el);
      const char *mv = s3_xml_find(c, ce, "LastModified", &ml);
      p = ce;
      if (!kv) continue;
      s3_xml_text(kv, kl, keybuf, AKIDB_OBJSTORE_KEY_MAX * 2 + 8);
      if (strncmp(keybuf, s->prefix, pl) != 0) continue;
      char sizebuf[32] = "0", etag[128] = "", mod[64] = "";
      if (sv) s3_xml_text(sv, sl, sizebuf, sizeof sizebuf);
      if (ev) s3_xml_text(ev, el, etag, sizeof etag);
      if (mv) s3_xml_text(mv, ml, mod, sizeof mod);
      char *e = etag;
      size_t elen = strlen(e);
      if (elen >= 2 && e[0] == '"' && e[elen - 1] == '"') e[elen - 1] = '\0', e++;
      akidb_objstore_entry_t ent = {keybuf + pl, strtoull(sizebuf, NULL, 10),
                                    parse_iso8601(mod), e};
      rc = fn(ctx, &ent);
    }
    char trunc[16] = "";
    const char *tv = s3_xml_find(r->resp.p, end, "IsTruncated", &l);
    if (tv) s3_xml_text(tv, l, trunc, sizeof trunc);
    const char *nv = s3_xml_find(r->resp.p, end, "NextContinuationToken", &l);
    bool more = strcmp(trunc, "true") == 0 && nv;
    if (more) s3_xml_text(nv, l, token, 2048);
    s3_req_free(r);
    if (!more) break;
  }
  free(full), free(token), free(keybuf), free(r);
  return rc;
}
