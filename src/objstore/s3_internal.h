/*
 * s3_internal.h — the S3 request layer shared by s3.c (single requests:
 * GET, HEAD, PUT, DELETE, list) and s3_writer.c (multipart uploads): one
 * signed request described by s3_req_t, sent through the store's retry
 * runner and breaker on a pooled curl handle.
 */
#ifndef AKIDB_OBJSTORE_S3_INTERNAL_H
#define AKIDB_OBJSTORE_S3_INTERNAL_H

#include "objstore/objstore_internal.h"
#include "objstore/sigv4.h"

#define S3_MAX_QUERY 6
#define S3_MAX_HEADERS (AKIDB_OBJSTORE_META_COUNT_MAX + 8)

/* A growable byte buffer with a limit. */
typedef struct {
  char *p;
  size_t n, cap, limit;
  bool overflow;
} s3_buf_t;

typedef struct {
  /* request */
  int op;              /* akidb_objstore_op_t, for statistics */
  const char *method;  /* "GET", "HEAD", "PUT", "POST", "DELETE" */
  const char *key;     /* object key without the prefix; NULL = the bucket */
  sigv4_pair_t query[S3_MAX_QUERY];
  size_t nquery;
  sigv4_pair_t hdr[S3_MAX_HEADERS]; /* extra headers, signed and sent */
  size_t nhdr;
  char strbuf[2 * AKIDB_OBJSTORE_META_MAX + 1024]; /* copies of names and values */
  size_t strbuf_used;
  const uint8_t *body; /* PUT/POST body (may be NULL with body_len 0) */
  size_t body_len;
  char body_sha256[65]; /* hex; "" = computed by s3_call */
  /* 2xx response body goes to sink when set, else into resp (XML) */
  akidb_objstore_write_fn sink;
  void *sink_ctx;
  /* GET resume: bytes already delivered to sink by earlier attempts */
  uint64_t range_offset, range_length; /* requested range (length 0 = to end) */
  bool ranged;                         /* send a Range header */
  uint64_t delivered;
  char if_match[80]; /* pins retries of a GET to one version */
  /* response (of the last attempt) */
  long status;
  char etag[72];          /* without quotes */
  uint64_t content_length;
  bool has_content_length;
  uint64_t total_size; /* from Content-Range "a-b/total" */
  bool has_total_size;
  int64_t last_modified;
  akidb_objstore_info_t *info; /* when set, the first 2xx response's x-amz-meta-* */
  bool info_filled;
  s3_buf_t resp;
  int sink_rc;   /* the sink's non-zero return */
  /* message context */
  char what[64]; /* "PUT", "GET", "UploadPart 3", ... */
} s3_req_t;

/* Initialises a request (zeroed, resp limit set). */
void s3_req_init(s3_req_t *r, int op, const char *method, const char *what, const char *key);
void s3_req_free(s3_req_t *r);
void s3_req_header(s3_req_t *r, const char *name, const char *value);
void s3_req_query(s3_req_t *r, const char *name, const char *value);

/* Sends the request with retries; 0 on a 2xx answer. On error err names
 * the operation, the bucket/key and the cause (S3's Code and Message). */
int s3_call(akidb_objstore_t *s, s3_req_t *r, char *err, size_t errlen);

/* "<bucket>/<prefix><key>" for messages, into buf. */
const char *s3_display_key(akidb_objstore_t *s, const char *key, char *buf, size_t len);

/* First <tag>value</tag> within [p, end): value (still escaped) or NULL. */
const char *s3_xml_find(const char *p, const char *end, const char *tag, size_t *len);
/* Copies an XML text value into out (cap bytes), decoding entities. */
void s3_xml_text(const char *v, size_t len, char *out, size_t cap);

/* The Host header for an endpoint ("http://h:p"): "h:p" (path style) or
 * "bucket.h:p", without a scheme's default port. */
void s3_host_header(const char *endpoint, const char *bucket, bool path_style, char *out,
                    size_t len);

/* Adds the headers of user metadata (x-amz-meta-<name>). */
void s3_req_meta(s3_req_t *r, const akidb_objstore_meta_t *meta, size_t nmeta);

#endif /* AKIDB_OBJSTORE_S3_INTERNAL_H */
