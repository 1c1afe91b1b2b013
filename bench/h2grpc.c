/*
 * h2grpc.c — owns the lean gRPC client (h2grpc.h): HTTP/2 (RFC 9113) over
 * cleartext TCP with prior knowledge, HPACK (RFC 7541) with its dynamic
 * tables and Huffman decoding, and gRPC's length-prefixed messages (gRPC
 * over HTTP/2), over one blocking socket (TCP_NODELAY) to 127.0.0.1.
 *
 * One call (one stream) at a time per connection: frames of older streams
 * are read and dropped (their header blocks still go through the HPACK
 * decoder, their DATA still counts against the connection window). Output
 * is queued as iovecs (frame headers copied into a scratch buffer, message
 * bytes referenced in place) and written with one writev before every
 * blocking read. Buffers grow to the largest size seen and are reused, so a
 * steady call allocates nothing. A connection that failed (I/O, protocol
 * error, GOAWAY) is replaced by a new one at the next call.
 *
 * Threads: an h2_conn_t is used by one thread at a time; the Huffman
 * decoding index is built once (pthread_once). For bench/ only.
 */
#include "h2grpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

/* Frame types and flags (RFC 9113 section 6). */
enum { F_DATA, F_HEADERS, F_PRIORITY, F_RST_STREAM, F_SETTINGS, F_PUSH_PROMISE, F_PING, F_GOAWAY,
       F_WINDOW_UPDATE, F_CONTINUATION };
enum { FL_END_STREAM = 0x1, FL_ACK = 0x1, FL_END_HEADERS = 0x4, FL_PADDED = 0x8,
       FL_PRIORITY = 0x20 };
/* Error codes (RFC 9113 section 7). */
enum { E_NO_ERROR, E_PROTOCOL, E_INTERNAL, E_FLOW_CONTROL, E_SETTINGS_TIMEOUT, E_STREAM_CLOSED,
       E_FRAME_SIZE, E_REFUSED_STREAM, E_CANCEL, E_COMPRESSION, E_CONNECT, E_ENHANCE_YOUR_CALM,
       E_INADEQUATE_SECURITY, E_HTTP_1_1_REQUIRED };
/* SETTINGS parameters (RFC 9113 section 6.5.2). */
enum { S_HEADER_TABLE_SIZE = 1, S_ENABLE_PUSH, S_MAX_CONCURRENT_STREAMS, S_INITIAL_WINDOW_SIZE,
       S_MAX_FRAME_SIZE, S_MAX_HEADER_LIST_SIZE };
/* gRPC status codes. */
enum { ST_OK = 0, ST_CANCELLED = 1, ST_UNKNOWN = 2, ST_DEADLINE_EXCEEDED = 4,
       ST_PERMISSION_DENIED = 7, ST_RESOURCE_EXHAUSTED = 8, ST_FAILED_PRECONDITION = 9,
       ST_UNIMPLEMENTED = 12, ST_INTERNAL = 13, ST_UNAVAILABLE = 14, ST_UNAUTHENTICATED = 16 };

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define DEFAULT_WINDOW 65535u
#define MAX_WINDOW 0x7fffffffu
#define OUR_WINDOW (1u << 24)          /* stream (SETTINGS) and connection receive windows */
#define WINDOW_BATCH (OUR_WINDOW / 2)  /* consumed bytes returned in one WINDOW_UPDATE */
#define OUR_MAX_FRAME 16384u           /* SETTINGS_MAX_FRAME_SIZE we accept (the default) */
#define OUR_TABLE 4096u                /* our decoder's table (the default, not changed) */
#define ENC_TABLE_MAX 4096u            /* our encoder's table, at most */
#define TABLE_SLOTS 256u               /* > 4096 / 32 entries */
#define RBUF_SIZE (64u * 1024)
#define OUT_IOV 64
#define OUT_SCRATCH (16u * 1024)
#define HB_SIZE 8192u                  /* a request's header block */
#define MAX_TOKEN 4096u
#define MAX_BLOCK (1u << 20)           /* a response header block, at most */
#define MAX_MESSAGE (1u << 30)
#define DEADLINE_S 300
#define OPEN_TIMEOUT_S 10

/* ------------------------------------------------------------ HPACK -- */

/* RFC 7541 Appendix A: the static table (index 1..61). */
static const char *const static_table[62][2] = {
    {"", ""},
    {":authority", ""}, {":method", "GET"}, {":method", "POST"}, {":path", "/"},
    {":path", "/index.html"}, {":scheme", "http"}, {":scheme", "https"}, {":status", "200"},
    {":status", "204"}, {":status", "206"}, {":status", "304"}, {":status", "400"},
    {":status", "404"}, {":status", "500"}, {"accept-charset", ""},
    {"accept-encoding", "gzip, deflate"}, {"accept-language", ""}, {"accept-ranges", ""},
    {"accept", ""}, {"access-control-allow-origin", ""}, {"age", ""}, {"allow", ""},
    {"authorization", ""}, {"cache-control", ""}, {"content-disposition", ""},
    {"content-encoding", ""}, {"content-language", ""}, {"content-length", ""},
    {"content-location", ""}, {"content-range", ""}, {"content-type", ""}, {"cookie", ""},
    {"date", ""}, {"etag", ""}, {"expect", ""}, {"expires", ""}, {"from", ""}, {"host", ""},
    {"if-match", ""}, {"if-modified-since", ""}, {"if-none-match", ""}, {"if-range", ""},
    {"if-unmodified-since", ""}, {"last-modified", ""}, {"link", ""}, {"location", ""},
    {"max-forwards", ""}, {"proxy-authenticate", ""}, {"proxy-authorization", ""},
    {"range", ""}, {"referer", ""}, {"refresh", ""}, {"retry-after", ""}, {"server", ""},
    {"set-cookie", ""}, {"strict-transport-security", ""}, {"transfer-encoding", ""},
    {"user-agent", ""}, {"vary", ""}, {"via", ""}, {"www-authenticate", ""},
};
#define STATIC_N 61u

/* Static indexes the request encoder uses. */
enum { SI_AUTHORITY = 1, SI_METHOD_POST = 3, SI_PATH = 4, SI_SCHEME_HTTP = 6,
       SI_AUTHORIZATION = 23, SI_CONTENT_TYPE = 31 };

/* RFC 7541 Appendix B: the Huffman code of symbols 0..255 and EOS (256),
 * as {code (right-aligned), length in bits}. */
static const struct {
  uint32_t code;
  uint8_t len;
} huff[257] = {
    {0x1ff8, 13}, {0x7fffd8, 23}, {0xfffffe2, 28}, {0xfffffe3, 28}, {0xfffffe4, 28},
    {0xfffffe5, 28}, {0xfffffe6, 28}, {0xfffffe7, 28}, {0xfffffe8, 28}, {0xffffea, 24},
    {0x3ffffffc, 30}, {0xfffffe9, 28}, {0xfffffea, 28}, {0x3ffffffd, 30}, {0xfffffeb, 28},
    {0xfffffec, 28}, {0xfffffed, 28}, {0xfffffee, 28}, {0xfffffef, 28}, {0xffffff0, 28},
    {0xffffff1, 28}, {0xffffff2, 28}, {0x3ffffffe, 30}, {0xffffff3, 28}, {0xffffff4, 28},
    {0xffffff5, 28}, {0xffffff6, 28}, {0xffffff7, 28}, {0xffffff8, 28}, {0xffffff9, 28},
    {0xffffffa, 28}, {0xffffffb, 28}, {0x14, 6}, {0x3f8, 10}, {0x3f9, 10}, {0xffa, 12},
    {0x1ff9, 13}, {0x15, 6}, {0xf8, 8}, {0x7fa, 11}, {0x3fa, 10}, {0x3fb, 10}, {0xf9, 8},
    {0x7fb, 11}, {0xfa, 8}, {0x16, 6}, {0x17, 6}, {0x18, 6}, {0x0, 5}, {0x1, 5}, {0x2, 5},
    {0x19, 6}, {0x1a, 6}, {0x1b, 6}, {0x1c, 6}, {0x1d, 6}, {0x1e, 6}, {0x1f, 6}, {0x5c, 7},
    {0xfb, 8}, {0x7ffc, 15}, {0x20, 6}, {0xffb, 12}, {0x3fc, 10}, {0x1ffa, 13}, {0x21, 6},
    {0x5d, 7}, {0x5e, 7}, {0x5f, 7}, {0x60, 7}, {0x61, 7}, {0x62, 7}, {0x63, 7}, {0x64, 7},
    {0x65, 7}, {0x66, 7}, {0x67, 7}, {0x68, 7}, {0x69, 7}, {0x6a, 7}, {0x6b, 7}, {0x6c, 7},
    {0x6d, 7}, {0x6e, 7}, {0x6f, 7}, {0x70, 7}, {0x71, 7}, {0x72, 7}, {0xfc, 8}, {0x73, 7},
    {0xfd, 8}, {0x1ffb, 13}, {0x7fff0, 19}, {0x1ffc, 13}, {0x3ffc, 14}, {0x22, 6}, {0x7ffd, 15},
    {0x3, 5}, {0x23, 6}, {0x4, 5}, {0x24, 6}, {0x5, 5}, {0x25, 6}, {0x26, 6}, {0x27, 6},
    {0x6, 5}, {0x74, 7}, {0x75, 7}, {0x28, 6}, {0x29, 6}, {0x2a, 6}, {0x7, 5}, {0x2b, 6},
    {0x76, 7}, {0x2c, 6}, {0x8, 5}, {0x9, 5}, {0x2d, 6}, {0x77, 7}, {0x78, 7}, {0x79, 7},
    {0x7a, 7}, {0x7b, 7}, {0x7ffe, 15}, {0x7fc, 11}, {0x3ffd, 14}, {0x1ffd, 13},
    {0xffffffc, 28}, {0xfffe6, 20}, {0x3fffd2, 22}, {0xfffe7, 20}, {0xfffe8, 20},
    {0x3fffd3, 22}, {0x3fffd4, 22}, {0x3fffd5, 22}, {0x7fffd9, 23}, {0x3fffd6, 22},
    {0x7fffda, 23}, {0x7fffdb, 23}, {0x7fffdc, 23}, {0x7fffdd, 23}, {0x7fffde, 23},
    {0xffffeb, 24}, {0x7fffdf, 23}, {0xffffec, 24}, {0xffffed, 24}, {0x3fffd7, 22},
    {0x7fffe0, 23}, {0xffffee, 24}, {0x7fffe1, 23}, {0x7fffe2, 23}, {0x7fffe3, 23},
    {0x7fffe4, 23}, {0x1fffdc, 21}, {0x3fffd8, 22}, {0x7fffe5, 23}, {0x3fffd9, 22},
    {0x7fffe6, 23}, {0x7fffe7, 23}, {0xffffef, 24}, {0x3fffda, 22}, {0x1fffdd, 21},
    {0xfffe9, 20}, {0x3fffdb, 22}, {0x3fffdc, 22}, {0x7fffe8, 23}, {0x7fffe9, 23},
    {0x1fffde, 21}, {0x7fffea, 23}, {0x3fffdd, 22}, {0x3fffde, 22}, {0xfffff0, 24},
    {0x1fffdf, 21}, {0x3fffdf, 22}, {0x7fffeb, 23}, {0x7fffec, 23}, {0x1fffe0, 21},
    {0x1fffe1, 21}, {0x3fffe0, 22}, {0x1fffe2, 21}, {0x7fffed, 23}, {0x3fffe1, 22},
    {0x7fffee, 23}, {0x7fffef, 23}, {0xfffea, 20}, {0x3fffe2, 22}, {0x3fffe3, 22},
    {0x3fffe4, 22}, {0x7ffff0, 23}, {0x3fffe5, 22}, {0x3fffe6, 22}, {0x7ffff1, 23},
    {0x3ffffe0, 26}, {0x3ffffe1, 26}, {0xfffeb, 20}, {0x7fff1, 19}, {0x3fffe7, 22},
    {0x7ffff2, 23}, {0x3fffe8, 22}, {0x1ffffec, 25}, {0x3ffffe2, 26}, {0x3ffffe3, 26},
    {0x3ffffe4, 26}, {0x7ffffde, 27}, {0x7ffffdf, 27}, {0x3ffffe5, 26}, {0xfffff1, 24},
    {0x1ffffed, 25}, {0x7fff2, 19}, {0x1fffe3, 21}, {0x3ffffe6, 26}, {0x7ffffe0, 27},
    {0x7ffffe1, 27}, {0x3ffffe7, 26}, {0x7ffffe2, 27}, {0xfffff2, 24}, {0x1fffe4, 21},
    {0x1fffe5, 21}, {0x3ffffe8, 26}, {0x3ffffe9, 26}, {0xffffffd, 28}, {0x7ffffe3, 27},
    {0x7ffffe4, 27}, {0x7ffffe5, 27}, {0xfffec, 20}, {0xfffff3, 24}, {0xfffed, 20},
    {0x1fffe6, 21}, {0x3fffe9, 22}, {0x1fffe7, 21}, {0x1fffe8, 21}, {0x7ffff3, 23},
    {0x3fffea, 22}, {0x3fffeb, 22}, {0x1ffffee, 25}, {0x1ffffef, 25}, {0xfffff4, 24},
    {0xfffff5, 24}, {0x3ffffea, 26}, {0x7ffff4, 23}, {0x3ffffeb, 26}, {0x7ffffe6, 27},
    {0x3ffffec, 26}, {0x3ffffed, 26}, {0x7ffffe7, 27}, {0x7ffffe8, 27}, {0x7ffffe9, 27},
    {0x7ffffea, 27}, {0x7ffffeb, 27}, {0xffffffe, 28}, {0x7ffffec, 27}, {0x7ffffed, 27},
    {0x7ffffee, 27}, {0x7ffffef, 27}, {0x7fffff0, 27}, {0x3ffffee, 26}, {0x3fffffff, 30},
};

/* The decoding index: symbols sorted by (length, code), and per length
 * the range of them in `by_len`. */
static uint16_t by_len[257];
static uint16_t len_first[32], len_count[32];
static pthread_once_t huff_once = PTHREAD_ONCE_INIT;

static void huff_build(void) {
  size_t n = 0;
  for (uint8_t len = 1; len <= 30; len++) {
    len_first[len] = (uint16_t)n;
    for (uint16_t s = 0; s < 257; s++)
      if (huff[s].len == len) {
        /* insertion by code, so a length's range is sorted */
        size_t i = n++;
        while (i > len_first[len] && huff[by_len[i - 1]].code > huff[s].code) {
          by_len[i] = by_len[i - 1];
          i--;
        }
        by_len[i] = s;
      }
    len_count[len] = (uint16_t)(n - len_first[len]);
  }
}

/* The symbol of `code` of `len` bits, or -1 when no symbol has it. */
static int huff_symbol(uint32_t code, unsigned len) {
  size_t lo = len_first[len], hi = lo + len_count[len];
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    uint32_t c = huff[by_len[mid]].code;
    if (c == code) return by_len[mid];
    if (c < code) lo = mid + 1;
    else hi = mid;
  }
  return -1;
}

/* Decodes in[0..n) into out (room for n * 8 / 5 bytes); the length, or -1
 * (EOS inside, or padding longer than 7 bits or not all ones). */
static long huff_decode(const uint8_t *in, size_t n, uint8_t *out) {
  pthread_once(&huff_once, huff_build);
  uint32_t code = 0;
  unsigned len = 0;
  size_t o = 0;
  for (size_t i = 0; i < n; i++)
    for (int b = 7; b >= 0; b--) {
      code = code << 1 | ((in[i] >> b) & 1u);
      if (++len < 5) continue;
      int s = huff_symbol(code, len);
      if (s == 256) return -1;
      if (s >= 0) {
        out[o++] = (uint8_t)s;
        code = 0;
        len = 0;
      } else if (len >= 30) {
        return -1;
      }
    }
  if (len > 7 || code != (1u << len) - 1) return -1;
  return (long)o;
}

/* One dynamic table (RFC 7541 section 2.3.2, 4): a ring of entries, the
 * newest at `head`; each slot keeps its buffer for the next entry. */
typedef struct {
  char *buf;
  size_t cap;
  uint32_t nlen, vlen;
} hentry_t;

typedef struct {
  hentry_t e[TABLE_SLOTS];
  uint32_t head, n;
  size_t size, max;
} htable_t;

static hentry_t *ht_at(htable_t *t, uint32_t i) {
  return &t->e[(t->head + TABLE_SLOTS - i) % TABLE_SLOTS];
}

static void ht_evict_to(htable_t *t, size_t limit) {
  while (t->n > 0 && t->size > limit) {
    hentry_t *old = ht_at(t, t->n - 1);
    t->size -= (size_t)old->nlen + old->vlen + 32;
    t->n--;
  }
}

static void ht_set_max(htable_t *t, size_t max) {
  t->max = max;
  ht_evict_to(t, max);
}

/* Adds an entry (evicting the oldest first); one larger than the table
 * empties it (section 4.4). 0, or -1 out of memory. The name and value must
 * not point into this table. */
static int ht_insert(htable_t *t, const char *name, size_t nlen, const char *value,
                     size_t vlen) {
  size_t esize = nlen + vlen + 32;
  if (esize > t->max) {
    ht_evict_to(t, 0);
    return 0;
  }
  ht_evict_to(t, t->max - esize);
  uint32_t slot = (t->head + 1) % TABLE_SLOTS;
  hentry_t *e = &t->e[slot];
  if (e->cap < nlen + vlen) {
    char *grown = realloc(e->buf, nlen + vlen);
    if (!grown) return -1;
    e->buf = grown;
    e->cap = nlen + vlen;
  }
  memcpy(e->buf, name, nlen);
  memcpy(e->buf + nlen, value, vlen);
  e->nlen = (uint32_t)nlen;
  e->vlen = (uint32_t)vlen;
  t->head = slot;
  t->n++;
  t->size += esize;
  return 0;
}

static void ht_reset(htable_t *t, size_t max) {
  t->n = 0;
  t->size = 0;
  t->max = max;
}

static void ht_free(htable_t *t) {
  for (uint32_t i = 0; i < TABLE_SLOTS; i++) free(t->e[i].buf);
}

/* Index `idx` (1-based, static then dynamic) as name and value; -1 when out of range. */
static int hp_lookup(htable_t *t, uint32_t idx, const char **name, size_t *nlen,
                     const char **value, size_t *vlen) {
  if (idx == 0) return -1;
  if (idx <= STATIC_N) {
    *name = static_table[idx][0];
    *nlen = strlen(*name);
    *value = static_table[idx][1];
    *vlen = strlen(*value);
    return 0;
  }
  if (idx - STATIC_N > t->n) return -1;
  hentry_t *e = ht_at(t, idx - STATIC_N - 1);
  *name = e->buf;
  *nlen = e->nlen;
  *value = e->buf + e->nlen;
  *vlen = e->vlen;
  return 0;
}

/* An integer with an N-bit prefix (RFC 7541 section 5.1); -1 when truncated or too large. */
static int hp_int(const uint8_t **pp, const uint8_t *end, unsigned prefix, uint32_t *out) {
  const uint8_t *p = *pp;
  if (p >= end) return -1;
  uint32_t max = (1u << prefix) - 1, v = *p++ & max;
  if (v == max) {
    unsigned shift = 0;
    uint8_t b;
    do {
      if (p >= end || shift > 21) return -1;
      b = *p++;
      v += (uint32_t)(b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
  }
  *pp = p;
  *out = v;
  return 0;
}

/* Appends an integer with an N-bit prefix under the pattern `first`. */
static size_t hp_put_int(uint8_t *out, uint8_t first, unsigned prefix, uint32_t v) {
  uint32_t max = (1u << prefix) - 1;
  size_t n = 0;
  if (v < max) {
    out[n++] = (uint8_t)(first | v);
    return n;
  }
  out[n++] = (uint8_t)(first | max);
  v -= max;
  while (v >= 128) {
    out[n++] = (uint8_t)(v % 128 + 128);
    v /= 128;
  }
  out[n++] = (uint8_t)v;
  return n;
}

/* ------------------------------------------------------- connection -- */

typedef enum { MODE_UNARY, MODE_SESSION, MODE_STREAM } call_mode_t;

struct h2_conn {
  int fd;
  uint16_t port;
  char authority[32];
  char bearer[MAX_TOKEN + 8]; /* "Bearer <token>", or "" */
  bool dead;                  /* closed; the next call reconnects */
  char why[256];              /* why it died */
  /* the peer's settings and our send windows */
  uint32_t peer_max_frame;
  int64_t peer_init_window, conn_send_window;
  bool got_settings, goaway;
  uint32_t goaway_last;
  /* our receive windows: bytes consumed and not yet returned */
  uint32_t conn_unacked, stream_unacked;
  /* HPACK */
  htable_t dec, enc;
  uint32_t enc_pending_min, enc_pending; /* a table size update to announce (UINT32_MAX: none) */
  /* input */
  uint8_t *rbuf;
  size_t rpos, rlen;
  uint8_t *block; /* a header block being assembled (HEADERS + CONTINUATION) */
  size_t block_len, block_cap;
  uint32_t block_sid;
  bool block_end_stream, expect_continuation;
  uint8_t *scratch; /* decoded header strings */
  size_t scratch_cap;
  /* output */
  struct iovec iov[OUT_IOV];
  int niov;
  uint8_t *ob;
  size_t oblen;
  uint8_t *hb; /* a request's header block */
  /* the call */
  uint32_t next_id, sid;
  bool active, done, local_closed, remote_closed, reset;
  bool opened; /* our HEADERS went out (an idle stream is never reset) */
  call_mode_t mode;
  int64_t stream_send_window;
  int blocks;       /* header blocks received */
  int http_status;  /* 0: none */
  int grpc_status;  /* -1: none */
  bool content_type_ok;
  long retry_after_s;
  int status;       /* the call's outcome, once done */
  char details[512];
  /* message assembly */
  uint8_t mhdr[5];
  unsigned mhave;
  uint32_t mlen, mgot;
  uint8_t *msg;
  size_t msg_cap;
  size_t n_msgs;    /* messages completed on this call */
  bool have_msg;    /* session: a reply not yet taken */
  size_t body_len;  /* unary / session: the last message's length */
  const gc_stream_t *stream;
  gc_stream_result_t *sres;
};

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Ends the current call with status and details (the first outcome wins). */
static void finish(h2_conn_t *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void finish(h2_conn_t *c, int status, const char *fmt, ...) {
  if (!c->active || c->done) return;
  c->done = true;
  c->status = status;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->details, sizeof c->details, fmt, ap);
  va_end(ap);
}

/* The connection is unusable: closes it, fails the call with `status`. */
static void conn_fail(h2_conn_t *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void conn_fail(h2_conn_t *c, int status, const char *fmt, ...) {
  if (!c->dead) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
    c->dead = true;
  }
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->niov = 0;
  c->oblen = 0;
  finish(c, status, "%s", c->why);
}

/* ----------------------------------------------------------- output -- */

/* Writes every queued iovec. 0, or -1 (the connection failed). */
static int out_flush(h2_conn_t *c) {
  struct iovec *v = c->iov;
  int n = c->niov;
  while (n > 0) {
    ssize_t w = writev(c->fd, v, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      bool timeout = errno == EAGAIN || errno == EWOULDBLOCK;
      conn_fail(c, timeout ? ST_DEADLINE_EXCEEDED : ST_UNAVAILABLE, "send: %s",
                timeout ? "timed out" : strerror(errno));
      return -1;
    }
    size_t left = (size_t)w;
    while (n > 0 && left >= v->iov_len) {
      left -= v->iov_len;
      v++;
      n--;
    }
    if (n > 0) {
      v->iov_base = (uint8_t *)v->iov_base + left;
      v->iov_len -= left;
    }
  }
  c->niov = 0;
  c->oblen = 0;
  return 0;
}

/* Queues a copy of p[0..n) (small: frame headers and control frames). */
static int out_copy(h2_conn_t *c, const void *p, size_t n) {
  if (c->dead) return -1;
  if ((c->oblen + n > OUT_SCRATCH || c->niov == OUT_IOV) && out_flush(c)) return -1;
  uint8_t *dst = c->ob + c->oblen;
  memcpy(dst, p, n);
  struct iovec *last = c->niov ? &c->iov[c->niov - 1] : NULL;
  if (last && (uint8_t *)last->iov_base + last->iov_len == dst) last->iov_len += n;
  else c->iov[c->niov++] = (struct iovec){dst, n};
  c->oblen += n;
  return 0;
}

/* Queues p[0..n) by reference (valid until the next flush). */
static int out_ref(h2_conn_t *c, const void *p, size_t n) {
  if (c->dead) return -1;
  if (n == 0) return 0;
  if (c->niov == OUT_IOV && out_flush(c)) return -1;
  c->iov[c->niov++] = (struct iovec){(void *)p, n};
  return 0;
}

static int out_frame(h2_conn_t *c, uint32_t len, uint8_t type, uint8_t flags, uint32_t sid) {
  uint8_t h[9] = {(uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len, type, flags};
  put_be32(h + 5, sid & MAX_WINDOW);
  return out_copy(c, h, sizeof h);
}

static int out_u32_frame(h2_conn_t *c, uint8_t type, uint32_t sid, uint32_t v) {
  uint8_t p[4];
  put_be32(p, v);
  if (out_frame(c, 4, type, 0, sid)) return -1;
  return out_copy(c, p, 4);
}

/* A connection error: GOAWAY with `code`, then closed. */
static void conn_error(h2_conn_t *c, uint32_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void conn_error(h2_conn_t *c, uint32_t code, const char *fmt, ...) {
  char why[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  if (!c->dead) {
    uint8_t p[8];
    put_be32(p, 0);
    put_be32(p + 4, code);
    if (out_frame(c, 8, F_GOAWAY, 0, 0) == 0 && out_copy(c, p, 8) == 0) out_flush(c);
  }
  conn_fail(c, ST_INTERNAL, "HTTP/2 protocol error (code %u): %s", code, why);
}

/* Resets the current stream (RST_STREAM with `code`). */
static void stream_reset(h2_conn_t *c, uint32_t code) {
  if (!c->active || !c->opened || c->reset || (c->local_closed && c->remote_closed)) return;
  c->reset = true;
  out_u32_frame(c, F_RST_STREAM, c->sid, code);
}

/* ------------------------------------------------------------ input -- */

/* Makes at least `need` bytes readable at rbuf + rpos. block: wait for
 * them (flushing the output first); else return 1 when they are not there
 * yet. 0, 1, or -1 (the connection failed). */
static int in_fill(h2_conn_t *c, size_t need, bool block) {
  while (c->rlen - c->rpos < need) {
    if (c->rpos > 0) {
      memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
      c->rlen -= c->rpos;
      c->rpos = 0;
    }
    if (block && c->niov && out_flush(c)) return -1;
    ssize_t r = recv(c->fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen, block ? 0 : MSG_DONTWAIT);
    if (r > 0) {
      c->rlen += (size_t)r;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!block) return 1;
      conn_fail(c, ST_DEADLINE_EXCEEDED, "no answer within %d s", DEADLINE_S);
      return -1;
    }
    if (r == 0)
      conn_fail(c, ST_UNAVAILABLE, "the server closed the connection%s",
                c->goaway ? " after GOAWAY" : "");
    else conn_fail(c, ST_UNAVAILABLE, "recv: %s", strerror(errno));
    return -1;
  }
  return 0;
}

static void handle_frame(h2_conn_t *c, uint8_t type, uint8_t flags, uint32_t sid,
                         const uint8_t *p, uint32_t len);

/* Reads and handles one frame. block: wait for it; else 1 when none is
 * complete yet. 0, 1, or -1 (the connection failed). */
static int pump(h2_conn_t *c, bool block) {
  if (c->dead) return -1;
  int rc = in_fill(c, 9, block);
  if (rc) return rc;
  const uint8_t *h = c->rbuf + c->rpos;
  uint32_t len = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
  if (len > OUR_MAX_FRAME) {
    conn_error(c, E_FRAME_SIZE, "a frame of %u bytes (SETTINGS_MAX_FRAME_SIZE is %u)", len,
               OUR_MAX_FRAME);
    return -1;
  }
  rc = in_fill(c, 9 + (size_t)len, block);
  if (rc) return rc;
  h = c->rbuf + c->rpos;
  c->rpos += 9 + (size_t)len;
  handle_frame(c, h[3], h[4], be32(h + 5) & MAX_WINDOW, h + 9, len);
  return c->dead ? -1 : 0;
}

/* Handles every frame already received, without waiting. */
static void pump_ready(h2_conn_t *c) {
  while (!c->dead && pump(c, false) == 0) {
  }
}

/* ---------------------------------------------------- header fields -- */

static int hex_value(char ch) {
  return ch >= '0' && ch <= '9'   ? ch - '0'
         : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
         : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                  : -1;
}

/* Percent-decodes grpc-message (gRPC over HTTP/2) into out; a '%' not
 * followed by two hex digits stays as it is. */
static void percent_decode(const char *in, size_t n, char *out, size_t outlen) {
  size_t o = 0;
  for (size_t i = 0; i < n && o + 1 < outlen; i++) {
    int hi, lo;
    if (in[i] == '%' && i + 2 < n && (hi = hex_value(in[i + 1])) >= 0 &&
        (lo = hex_value(in[i + 2])) >= 0) {
      out[o++] = (char)(hi * 16 + lo);
      i += 2;
    } else {
      out[o++] = in[i];
    }
  }
  out[o] = '\0';
}

static bool field_is(const char *name, size_t nlen, const char *want) {
  return nlen == strlen(want) && memcmp(name, want, nlen) == 0;
}

/* A small non-negative decimal, or -1. */
static long field_number(const char *v, size_t n) {
  if (n == 0 || n > 9) return -1;
  long x = 0;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9') return -1;
    x = x * 10 + (v[i] - '0');
  }
  return x;
}

/* One decoded header field of the current call's headers or trailers. */
static void on_field(h2_conn_t *c, const char *name, size_t nlen, const char *value,
                     size_t vlen) {
  if (field_is(name, nlen, ":status")) {
    c->http_status = (int)field_number(value, vlen);
  } else if (field_is(name, nlen, "content-type")) {
    c->content_type_ok = vlen >= 16 && memcmp(value, "application/grpc", 16) == 0 &&
                         (vlen == 16 || value[16] == '+' || value[16] == ';');
  } else if (field_is(name, nlen, "grpc-status")) {
    c->grpc_status = (int)field_number(value, vlen);
    if (c->grpc_status < 0) c->grpc_status = ST_UNKNOWN;
  } else if (field_is(name, nlen, "grpc-message")) {
    percent_decode(value, vlen, c->details, sizeof c->details);
  } else if (field_is(name, nlen, "retry-after")) {
    c->retry_after_s = field_number(value, vlen);
  }
}

/* Room for n bytes in the scratch buffer. */
static int scratch_reserve(h2_conn_t *c, size_t n) {
  if (n <= c->scratch_cap) return 0;
  uint8_t *grown = realloc(c->scratch, n);
  if (!grown) return -1;
  c->scratch = grown;
  c->scratch_cap = n;
  return 0;
}

/* A string literal (RFC 7541 section 5.2) into scratch + at; its length, or -1. */
static long hp_string(h2_conn_t *c, const uint8_t **pp, const uint8_t *end, size_t at) {
  if (*pp >= end) return -1;
  bool huffman = **pp & 0x80;
  uint32_t n;
  if (hp_int(pp, end, 7, &n) || n > (size_t)(end - *pp)) return -1;
  size_t room = huffman ? (size_t)n * 8 / 5 + 1 : n;
  if (scratch_reserve(c, at + room)) return -1;
  long len = (long)n;
  if (huffman) len = huff_decode(*pp, n, c->scratch + at);
  else memcpy(c->scratch + at, *pp, n);
  *pp += n;
  return len;
}

/* Decodes one header block; its fields go to on_field when `mine` (the
 * current call's). 0, or -1 (a COMPRESSION_ERROR, the connection closed). */
static int hp_decode_block(h2_conn_t *c, const uint8_t *p, size_t n, bool mine) {
  const uint8_t *end = p + n;
  bool fields = false;
  while (p < end) {
    uint8_t b = *p;
    const char *name, *value;
    size_t nlen, vlen;
    uint32_t idx;
    if (b & 0x80) { /* indexed field (section 6.1) */
      if (hp_int(&p, end, 7, &idx) || hp_lookup(&c->dec, idx, &name, &nlen, &value, &vlen))
        goto bad;
    } else if ((b & 0xe0) == 0x20) { /* dynamic table size update (section 6.3) */
      if (fields || hp_int(&p, end, 5, &idx) || idx > OUR_TABLE) goto bad;
      ht_set_max(&c->dec, idx);
      continue;
    } else { /* literal: with incremental indexing (6.2.1), without (6.2.2), never (6.2.3) */
      bool indexing = (b & 0xc0) == 0x40;
      if (hp_int(&p, end, indexing ? 6 : 4, &idx)) goto bad;
      long nl;
      if (idx) {
        const char *sn, *sv;
        size_t svl, snl;
        if (hp_lookup(&c->dec, idx, &sn, &snl, &sv, &svl) || scratch_reserve(c, snl)) goto bad;
        memcpy(c->scratch, sn, snl); /* a copy: the insertion below may evict it */
        nl = (long)snl;
      } else if ((nl = hp_string(c, &p, end, 0)) < 0) {
        goto bad;
      }
      long vl = hp_string(c, &p, end, (size_t)nl);
      if (vl < 0) goto bad;
      name = (const char *)c->scratch;
      nlen = (size_t)nl;
      value = (const char *)c->scratch + nl;
      vlen = (size_t)vl;
      if (indexing && ht_insert(&c->dec, name, nlen, value, vlen)) goto bad;
    }
    fields = true;
    if (mine) on_field(c, name, nlen, value, vlen);
  }
  return 0;
bad:
  conn_error(c, E_COMPRESSION, "a header block does not decode (HPACK)");
  return -1;
}

/* ------------------------------------------------------------- frames -- */

/* The status of a call that ended with END_STREAM, from its headers. */
static void finish_from_headers(h2_conn_t *c) {
  static const struct {
    int http, grpc;
  } map[] = {{400, ST_INTERNAL},    {401, ST_UNAUTHENTICATED}, {403, ST_PERMISSION_DENIED},
             {404, ST_UNIMPLEMENTED}, {429, ST_UNAVAILABLE},  {502, ST_UNAVAILABLE},
             {503, ST_UNAVAILABLE}, {504, ST_UNAVAILABLE}};
  if (c->http_status != 200) {
    int st = ST_UNKNOWN;
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
      if (map[i].http == c->http_status) st = map[i].grpc;
    char msg[sizeof c->details];
    snprintf(msg, sizeof msg, "%s", c->details);
    if (c->http_status <= 0) finish(c, ST_INTERNAL, "the answer has no :status");
    else finish(c, st, "HTTP status %d%s%s", c->http_status, msg[0] ? ": " : "", msg);
  } else if (c->grpc_status < 0) {
    finish(c, ST_UNKNOWN, "the answer ended without grpc-status");
  } else if (c->grpc_status == ST_OK && c->n_msgs && !c->content_type_ok) {
    /* messages, but not declared as gRPC's */
    finish(c, ST_UNKNOWN, "the answer's content-type is not application/grpc");
  } else if (c->grpc_status == ST_OK && c->mhave) {
    finish(c, ST_INTERNAL, "the answer ended inside a message");
  } else {
    char msg[sizeof c->details];
    snprintf(msg, sizeof msg, "%s", c->details);
    finish(c, c->grpc_status, "%s", msg);
  }
}

/* The peer ended the current stream. */
static void on_remote_end(h2_conn_t *c) {
  c->remote_closed = true;
  finish_from_headers(c);
}

/* A complete message of the current call, in c->msg[0..mlen). */
static void on_message(h2_conn_t *c) {
  c->n_msgs++;
  c->body_len = c->mlen;
  if (c->mode == MODE_SESSION) {
    c->have_msg = true;
  } else if (c->mode == MODE_STREAM) {
    gc_stream_result_t *r = c->sres;
    size_t index = r->replies++;
    if (!r->cancelled && c->stream->on_reply(c->stream->ctx, index, c->msg, c->mlen) != 0) {
      r->cancelled = true;
      stream_reset(c, E_CANCEL);
      finish(c, ST_CANCELLED, "cancelled by the client");
    }
  }
}

/* The start of a message (its 5-byte prefix complete): 0, or -1 (the call failed). */
static int on_message_start(h2_conn_t *c) {
  if (c->mhdr[0] != 0) {
    stream_reset(c, E_CANCEL);
    finish(c, ST_INTERNAL, "a compressed message (flag %u) but no compression was asked for",
           c->mhdr[0]);
    return -1;
  }
  if ((c->mode == MODE_UNARY && c->n_msgs > 0) || (c->mode == MODE_SESSION && c->have_msg)) {
    stream_reset(c, E_CANCEL);
    finish(c, ST_INTERNAL, "more than one answer message to one request");
    return -1;
  }
  c->mlen = be32(c->mhdr + 1);
  c->mgot = 0;
  if (c->mlen > MAX_MESSAGE) {
    stream_reset(c, E_CANCEL);
    finish(c, ST_RESOURCE_EXHAUSTED, "an answer message of %u bytes", c->mlen);
    return -1;
  }
  if (c->mlen > c->msg_cap) {
    uint8_t *grown = realloc(c->msg, c->mlen);
    if (!grown) {
      stream_reset(c, E_CANCEL);
      finish(c, ST_RESOURCE_EXHAUSTED, "out of memory for an answer of %u bytes", c->mlen);
      return -1;
    }
    c->msg = grown;
    c->msg_cap = c->mlen;
  }
  return 0;
}

/* DATA of the current call: gRPC length-prefixed messages, which may span
 * frames, several to a frame. */
static void on_data(h2_conn_t *c, const uint8_t *p, size_t n) {
  while (n > 0 && !c->done) {
    if (c->mhave < 5) {
      size_t take = 5 - c->mhave < n ? 5 - c->mhave : n;
      memcpy(c->mhdr + c->mhave, p, take);
      c->mhave += (unsigned)take;
      p += take;
      n -= take;
      if (c->mhave < 5 || on_message_start(c)) continue;
    } else {
      size_t take = c->mlen - c->mgot < n ? c->mlen - c->mgot : n;
      memcpy(c->msg + c->mgot, p, take);
      c->mgot += (uint32_t)take;
      p += take;
      n -= take;
    }
    if (c->mhave == 5 && c->mgot == c->mlen) {
      c->mhave = 0;
      on_message(c);
    }
  }
}

/* Returns consumed receive window in batches (WINDOW_UPDATE). */
static void credit(h2_conn_t *c) {
  if (c->conn_unacked >= WINDOW_BATCH) {
    out_u32_frame(c, F_WINDOW_UPDATE, 0, c->conn_unacked);
    c->conn_unacked = 0;
  }
  if (c->active && !c->done && c->stream_unacked >= WINDOW_BATCH) {
    out_u32_frame(c, F_WINDOW_UPDATE, c->sid, c->stream_unacked);
    c->stream_unacked = 0;
  }
}

/* Strips the padding (and priority) of a DATA or HEADERS payload; -1 when malformed. */
static int unpad(uint8_t flags, bool priority, const uint8_t **p, uint32_t *len) {
  uint32_t pad = 0;
  if (flags & FL_PADDED) {
    if (*len < 1) return -1;
    pad = (*p)[0];
    (*p)++, (*len)--;
  }
  if (priority && (flags & FL_PRIORITY)) {
    if (*len < 5) return -1;
    *p += 5, *len -= 5;
  }
  if (pad > *len) return -1;
  *len -= pad;
  return 0;
}

static void on_data_frame(h2_conn_t *c, uint8_t flags, uint32_t sid, const uint8_t *p,
                          uint32_t len) {
  if (sid == 0) return conn_error(c, E_PROTOCOL, "DATA on stream 0");
  c->conn_unacked += len; /* padding included (RFC 9113 section 6.9.1) */
  bool mine = c->active && sid == c->sid && !c->done;
  if (mine) c->stream_unacked += len;
  if (unpad(flags, false, &p, &len)) return conn_error(c, E_PROTOCOL, "DATA padding too long");
  if (mine) {
    on_data(c, p, len);
    if ((flags & FL_END_STREAM) && !c->done) on_remote_end(c);
    else if (flags & FL_END_STREAM) c->remote_closed = true;
  }
  credit(c);
}

/* A complete header block (HEADERS + CONTINUATION). */
static void on_header_block(h2_conn_t *c) {
  bool mine = c->active && c->block_sid == c->sid && !c->done;
  if (hp_decode_block(c, c->block, c->block_len, mine)) return;
  if (!mine) return;
  c->blocks++;
  if (c->block_end_stream) on_remote_end(c);
  else if (c->blocks > 1) {
    stream_reset(c, E_PROTOCOL);
    finish(c, ST_INTERNAL, "trailers without END_STREAM");
  }
}

/* Appends a header block fragment. */
static int block_append(h2_conn_t *c, const uint8_t *p, uint32_t len) {
  if (c->block_len + len > MAX_BLOCK) return -1;
  if (c->block_len + len > c->block_cap) {
    size_t cap = c->block_cap ? c->block_cap * 2 : 4096;
    while (cap < c->block_len + len) cap *= 2;
    uint8_t *grown = realloc(c->block, cap);
    if (!grown) return -1;
    c->block = grown;
    c->block_cap = cap;
  }
  memcpy(c->block + c->block_len, p, len);
  c->block_len += len;
  return 0;
}

static void on_headers_frame(h2_conn_t *c, uint8_t type, uint8_t flags, uint32_t sid,
                             const uint8_t *p, uint32_t len) {
  if (sid == 0) return conn_error(c, E_PROTOCOL, "HEADERS on stream 0");
  if (type == F_HEADERS) {
    if (unpad(flags, true, &p, &len)) return conn_error(c, E_PROTOCOL, "HEADERS padding");
    c->block_len = 0;
    c->block_sid = sid;
    c->block_end_stream = flags & FL_END_STREAM;
  } else if (!c->expect_continuation || sid != c->block_sid) {
    return conn_error(c, E_PROTOCOL, "an unexpected CONTINUATION");
  }
  if (block_append(c, p, len)) return conn_error(c, E_PROTOCOL, "a header block over 1 MiB");
  c->expect_continuation = !(flags & FL_END_HEADERS);
  if (!c->expect_continuation) on_header_block(c);
}

/* The peer's SETTINGS: applied, then acknowledged. */
static void on_settings(h2_conn_t *c, uint8_t flags, const uint8_t *p, uint32_t len) {
  if (flags & FL_ACK) {
    if (len) conn_error(c, E_FRAME_SIZE, "SETTINGS ACK with a payload");
    return;
  }
  if (len % 6) return conn_error(c, E_FRAME_SIZE, "SETTINGS of %u bytes", len);
  for (uint32_t i = 0; i < len; i += 6) {
    uint16_t id = (uint16_t)(p[i] << 8 | p[i + 1]);
    uint32_t v = be32(p + i + 2);
    if (id == S_HEADER_TABLE_SIZE) {
      uint32_t mine = v < ENC_TABLE_MAX ? v : ENC_TABLE_MAX;
      if (mine < c->enc_pending_min) c->enc_pending_min = mine;
      c->enc_pending = mine;
    } else if (id == S_ENABLE_PUSH && v > 1) {
      return conn_error(c, E_PROTOCOL, "SETTINGS_ENABLE_PUSH %u", v);
    } else if (id == S_INITIAL_WINDOW_SIZE) {
      if (v > MAX_WINDOW)
        return conn_error(c, E_FLOW_CONTROL, "SETTINGS_INITIAL_WINDOW_SIZE %u", v);
      /* applies to the open stream too (RFC 9113 section 6.9.2) */
      if (c->active) c->stream_send_window += (int64_t)v - c->peer_init_window;
      c->peer_init_window = v;
    } else if (id == S_MAX_FRAME_SIZE) {
      if (v < 16384 || v > 16777215)
        return conn_error(c, E_PROTOCOL, "SETTINGS_MAX_FRAME_SIZE %u", v);
      c->peer_max_frame = v;
    }
  }
  c->got_settings = true;
  out_frame(c, 0, F_SETTINGS, FL_ACK, 0);
}

static void on_rst_stream(h2_conn_t *c, uint32_t sid, const uint8_t *p, uint32_t len) {
  if (len != 4) return conn_error(c, E_FRAME_SIZE, "RST_STREAM of %u bytes", len);
  if (sid == 0) return conn_error(c, E_PROTOCOL, "RST_STREAM on stream 0");
  if (!c->active || sid != c->sid || c->done) return;
  uint32_t code = be32(p);
  c->reset = true;
  /* gRPC over HTTP/2: RST_STREAM codes as statuses */
  int st = code == E_REFUSED_STREAM       ? ST_UNAVAILABLE
           : code == E_CANCEL             ? ST_CANCELLED
           : code == E_ENHANCE_YOUR_CALM  ? ST_RESOURCE_EXHAUSTED
           : code == E_INADEQUATE_SECURITY ? ST_PERMISSION_DENIED
                                          : ST_INTERNAL;
  finish(c, st, "the server reset the stream (RST_STREAM code %u)", code);
}

static void on_goaway(h2_conn_t *c, uint32_t sid, const uint8_t *p, uint32_t len) {
  if (sid != 0 || len < 8) return conn_error(c, E_PROTOCOL, "a malformed GOAWAY");
  c->goaway = true;
  c->goaway_last = be32(p) & MAX_WINDOW;
  uint32_t code = be32(p + 4);
  snprintf(c->why, sizeof c->why, "the server sent GOAWAY (code %u%s%.*s)", code,
           len > 8 ? ": " : "", (int)(len - 8 > 160 ? 160 : len - 8), (const char *)p + 8);
  /* a stream above the last one is not processed: fail it now */
  if (c->active && c->sid > c->goaway_last) finish(c, ST_UNAVAILABLE, "%s", c->why);
}

static void on_window_update(h2_conn_t *c, uint32_t sid, const uint8_t *p, uint32_t len) {
  if (len != 4) return conn_error(c, E_FRAME_SIZE, "WINDOW_UPDATE of %u bytes", len);
  uint32_t inc = be32(p) & MAX_WINDOW;
  if (sid == 0) {
    if (inc == 0) return conn_error(c, E_PROTOCOL, "WINDOW_UPDATE of 0");
    c->conn_send_window += inc;
    if (c->conn_send_window > MAX_WINDOW)
      return conn_error(c, E_FLOW_CONTROL, "connection window over 2^31-1");
  } else if (c->active && sid == c->sid && !c->done) {
    c->stream_send_window += inc;
    if (inc == 0 || c->stream_send_window > MAX_WINDOW) {
      stream_reset(c, inc ? E_FLOW_CONTROL : E_PROTOCOL);
      finish(c, ST_INTERNAL, "a bad WINDOW_UPDATE on the stream (increment %u)", inc);
    }
  }
}

static void handle_frame(h2_conn_t *c, uint8_t type, uint8_t flags, uint32_t sid,
                         const uint8_t *p, uint32_t len) {
  if (c->expect_continuation && type != F_CONTINUATION)
    return conn_error(c, E_PROTOCOL, "frame type %u inside a header block", type);
  switch (type) {
  case F_DATA: return on_data_frame(c, flags, sid, p, len);
  case F_HEADERS:
  case F_CONTINUATION: return on_headers_frame(c, type, flags, sid, p, len);
  case F_PRIORITY:
    if (len != 5) conn_error(c, E_FRAME_SIZE, "PRIORITY of %u bytes", len);
    return;
  case F_RST_STREAM: return on_rst_stream(c, sid, p, len);
  case F_SETTINGS:
    if (sid != 0) return conn_error(c, E_PROTOCOL, "SETTINGS on stream %u", sid);
    return on_settings(c, flags, p, len);
  case F_PUSH_PROMISE: return conn_error(c, E_PROTOCOL, "PUSH_PROMISE with push disabled");
  case F_PING:
    if (len != 8 || sid != 0) return conn_error(c, E_PROTOCOL, "a malformed PING");
    if (!(flags & FL_ACK) && out_frame(c, 8, F_PING, FL_ACK, 0) == 0) out_copy(c, p, 8);
    return;
  case F_GOAWAY: return on_goaway(c, sid, p, len);
  case F_WINDOW_UPDATE: return on_window_update(c, sid, p, len);
  default: return; /* unknown types are ignored (RFC 9113 section 4.1) */
  }
}

/* ------------------------------------------------------------ sending -- */

/* Appends one request field to out (RFC 7541 section 6): indexed when our
 * table has it, else a literal with incremental indexing (its name from
 * the static table when name_idx), or without indexing when the entry would
 * not fit the table. Huffman is not used. The length, or -1 (out of memory). */
static long enc_field(h2_conn_t *c, uint8_t *out, uint32_t name_idx, const char *name,
                      const char *value) {
  size_t nlen = strlen(name), vlen = strlen(value), n = 0;
  for (uint32_t i = 0; i < c->enc.n; i++) {
    const hentry_t *e = ht_at(&c->enc, i);
    if (e->nlen == nlen && e->vlen == vlen && memcmp(e->buf, name, nlen) == 0 &&
        memcmp(e->buf + nlen, value, vlen) == 0)
      return (long)hp_put_int(out, 0x80, 7, STATIC_N + 1 + i);
  }
  bool indexing = nlen + vlen + 32 <= c->enc.max;
  if (name_idx) {
    n += hp_put_int(out, indexing ? 0x40 : 0x00, indexing ? 6 : 4, name_idx);
  } else {
    out[n++] = indexing ? 0x40 : 0x00;
    n += hp_put_int(out + n, 0, 7, (uint32_t)nlen);
    memcpy(out + n, name, nlen);
    n += nlen;
  }
  n += hp_put_int(out + n, 0, 7, (uint32_t)vlen);
  memcpy(out + n, value, vlen);
  n += vlen;
  if (indexing && ht_insert(&c->enc, name, nlen, value, vlen)) return -1;
  return (long)n;
}

/* Queues the request's HEADERS (one frame: the block is far under the
 * smallest SETTINGS_MAX_FRAME_SIZE). 0, or -1 (the call failed). */
static int send_headers(h2_conn_t *c, const char *method, bool end_stream) {
  uint8_t *hb = c->hb;
  size_t n = 0;
  if (strlen(method) > 1024) {
    finish(c, ST_INTERNAL, "a method name over 1024 bytes");
    return -1;
  }
  if (c->enc_pending != UINT32_MAX) { /* the peer changed SETTINGS_HEADER_TABLE_SIZE */
    if (c->enc_pending_min < c->enc_pending) {
      n += hp_put_int(hb + n, 0x20, 5, c->enc_pending_min);
      ht_set_max(&c->enc, c->enc_pending_min);
    }
    n += hp_put_int(hb + n, 0x20, 5, c->enc_pending);
    ht_set_max(&c->enc, c->enc_pending);
    c->enc_pending = c->enc_pending_min = UINT32_MAX;
  }
  hb[n++] = 0x80 | SI_METHOD_POST;
  hb[n++] = 0x80 | SI_SCHEME_HTTP;
  const struct {
    uint32_t idx;
    const char *name, *value;
  } fields[] = {{SI_PATH, ":path", method},
                {SI_AUTHORITY, ":authority", c->authority},
                {SI_CONTENT_TYPE, "content-type", "application/grpc"},
                {0, "te", "trailers"},
                {SI_AUTHORIZATION, "authorization", c->bearer}};
  size_t nf = c->bearer[0] ? 5 : 4;
  for (size_t i = 0; i < nf; i++) {
    long w = enc_field(c, hb + n, fields[i].idx, fields[i].name, fields[i].value);
    if (w < 0) {
      conn_fail(c, ST_RESOURCE_EXHAUSTED, "out of memory for the HPACK table");
      return -1;
    }
    n += (size_t)w;
  }
  uint8_t flags = FL_END_HEADERS | (end_stream ? FL_END_STREAM : 0);
  if (out_frame(c, (uint32_t)n, F_HEADERS, flags, c->sid) || out_copy(c, hb, n)) return -1;
  c->opened = true;
  if (end_stream) c->local_closed = true;
  return 0;
}

/* Queues one gRPC message as DATA frames within the peer's connection and
 * stream windows and its maximum frame size, reading frames (WINDOW_UPDATE,
 * answers) while the windows are closed. 0, or -1 when the call ended
 * meanwhile. The message is referenced until the next flush. */
static int send_message(h2_conn_t *c, const uint8_t *msg, size_t len, bool end_stream) {
  if (len > UINT32_MAX) {
    finish(c, ST_RESOURCE_EXHAUSTED, "a message of %zu bytes", len);
    return -1;
  }
  uint8_t prefix[5] = {0};
  put_be32(prefix + 1, (uint32_t)len);
  size_t total = 5 + len, pos = 0;
  while (pos < total) {
    if (c->done || c->dead) return -1;
    int64_t avail = c->conn_send_window < c->stream_send_window ? c->conn_send_window
                                                                 : c->stream_send_window;
    if (avail > c->peer_max_frame) avail = c->peer_max_frame;
    if (avail <= 0) {
      pump(c, true);
      continue;
    }
    size_t n = (size_t)avail < total - pos ? (size_t)avail : total - pos;
    bool last = pos + n == total;
    if (out_frame(c, (uint32_t)n, F_DATA, last && end_stream ? FL_END_STREAM : 0, c->sid))
      return -1;
    size_t from = pos, left = n;
    if (from < 5) {
      size_t k = 5 - from < left ? 5 - from : left;
      if (out_copy(c, prefix + from, k)) return -1;
      from += k;
      left -= k;
    }
    if (left && out_ref(c, msg + (from - 5), left)) return -1;
    c->conn_send_window -= (int64_t)n;
    c->stream_send_window -= (int64_t)n;
    pos += n;
  }
  if (end_stream) c->local_closed = true;
  return c->dead ? -1 : 0;
}

/* Half-closes the stream (an empty DATA with END_STREAM). */
static void send_end(h2_conn_t *c) {
  if (c->done || c->local_closed) return;
  if (out_frame(c, 0, F_DATA, FL_END_STREAM, c->sid) == 0) c->local_closed = true;
}

/* ------------------------------------------------------- connection -- */

static int set_timeouts(int fd, int seconds) {
  struct timeval tv = {.tv_sec = seconds};
  return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) ||
         setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* A new TCP connection and the HTTP/2 handshake: the preface, our
 * SETTINGS and connection WINDOW_UPDATE, then the server's SETTINGS
 * (acknowledged). 0, or -1 with c->why set. */
static int h2_connect(h2_conn_t *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->dead = false;
  c->why[0] = '\0';
  c->peer_max_frame = 16384;
  c->peer_init_window = DEFAULT_WINDOW;
  c->conn_send_window = DEFAULT_WINDOW;
  c->got_settings = c->goaway = false;
  c->conn_unacked = 0;
  ht_reset(&c->dec, OUR_TABLE);
  ht_reset(&c->enc, ENC_TABLE_MAX);
  c->enc_pending = c->enc_pending_min = UINT32_MAX;
  c->rpos = c->rlen = 0;
  c->block_len = 0;
  c->expect_continuation = false;
  c->niov = 0;
  c->oblen = 0;
  c->next_id = 1;
  c->active = false;

  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(c->why, sizeof c->why, "socket: %s", strerror(errno));
    c->dead = true;
    return -1;
  }
  int one = 1;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(c->port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) ||
      set_timeouts(fd, OPEN_TIMEOUT_S) || connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
    snprintf(c->why, sizeof c->why, "connect to %s: %s", c->authority, strerror(errno));
    close(fd);
    c->dead = true;
    return -1;
  }
  c->fd = fd;
  uint8_t settings[12];
  settings[0] = 0, settings[1] = S_ENABLE_PUSH;
  put_be32(settings + 2, 0);
  settings[6] = 0, settings[7] = S_INITIAL_WINDOW_SIZE;
  put_be32(settings + 8, OUR_WINDOW);
  if (out_copy(c, PREFACE, strlen(PREFACE)) || out_frame(c, sizeof settings, F_SETTINGS, 0, 0) ||
      out_copy(c, settings, sizeof settings) ||
      out_u32_frame(c, F_WINDOW_UPDATE, 0, OUR_WINDOW - DEFAULT_WINDOW) || out_flush(c))
    return -1;
  while (!c->got_settings)
    if (pump(c, true) < 0) return -1;
  if (out_flush(c) || set_timeouts(fd, DEADLINE_S)) {
    if (!c->dead) conn_fail(c, ST_UNAVAILABLE, "setsockopt: %s", strerror(errno));
    return -1;
  }
  return 0;
}

int h2_open(h2_conn_t **out, uint16_t port, const char *token, char *err, size_t errlen) {
  *out = NULL;
  if (token && strlen(token) > MAX_TOKEN) {
    snprintf(err, errlen, "a token over %u bytes", MAX_TOKEN);
    return -1;
  }
  h2_conn_t *c = calloc(1, sizeof *c);
  if (!c) goto oom;
  c->fd = -1;
  c->port = port;
  snprintf(c->authority, sizeof c->authority, "127.0.0.1:%u", (unsigned)port);
  if (token) snprintf(c->bearer, sizeof c->bearer, "Bearer %s", token);
  c->rbuf = malloc(RBUF_SIZE);
  c->ob = malloc(OUT_SCRATCH);
  c->hb = malloc(HB_SIZE);
  if (!c->rbuf || !c->ob || !c->hb) goto oom;
  if (h2_connect(c)) {
    snprintf(err, errlen, "HTTP/2 connection to %s: %s", c->authority, c->why);
    goto fail;
  }
  *out = c;
  return 0;
oom:
  snprintf(err, errlen, "out of memory");
fail:
  h2_close(c);
  return -1;
}

void h2_close(h2_conn_t *c) {
  if (!c) return;
  if (c->fd >= 0 && !c->dead) { /* GOAWAY (NO_ERROR; no server stream processed) */
    uint8_t p[8] = {0};
    if (out_frame(c, 8, F_GOAWAY, 0, 0) == 0 && out_copy(c, p, 8) == 0) out_flush(c);
  }
  if (c->fd >= 0) close(c->fd);
  ht_free(&c->dec);
  ht_free(&c->enc);
  free(c->rbuf);
  free(c->ob);
  free(c->hb);
  free(c->block);
  free(c->scratch);
  free(c->msg);
  free(c);
}

/* ------------------------------------------------------------- calls -- */

/* Starts a call on a new stream (a new connection first when this one
 * failed, was told GOAWAY or ran out of stream ids). 0, or -1 with the
 * call done (UNAVAILABLE). */
static int call_start(h2_conn_t *c, call_mode_t mode) {
  int rc = 0;
  if (c->dead || c->goaway || c->next_id > MAX_WINDOW - 2) rc = h2_connect(c);
  c->active = true;
  c->done = c->local_closed = c->remote_closed = c->reset = c->opened = false;
  c->mode = mode;
  c->sid = c->next_id;
  c->next_id += 2;
  c->stream_send_window = c->peer_init_window;
  c->stream_unacked = 0;
  c->blocks = 0;
  c->http_status = 0;
  c->grpc_status = -1;
  c->content_type_ok = false;
  c->retry_after_s = -1;
  c->status = ST_UNKNOWN;
  c->details[0] = '\0';
  c->mhave = 0;
  c->n_msgs = 0;
  c->have_msg = false;
  c->body_len = 0;
  c->stream = NULL;
  c->sres = NULL;
  if (rc) finish(c, ST_UNAVAILABLE, "%s", c->why);
  return rc;
}

/* Ends the call: a stream not closed both ways is reset (CANCEL); the
 * RST_STREAM goes out with the next write. */
static void call_end(h2_conn_t *c) {
  stream_reset(c, E_CANCEL);
  c->active = false;
}

static void take_status(const h2_conn_t *c, int *status, char *details, size_t len,
                        long *retry_after_s) {
  *status = c->status;
  snprintf(details, len, "%s", c->details);
  *retry_after_s = c->retry_after_s;
}

void h2_unary(h2_conn_t *c, const char *method, const uint8_t *req, size_t len, gc_result_t *r) {
  memset(r, 0, sizeof *r);
  if (call_start(c, MODE_UNARY) == 0 && send_headers(c, method, false) == 0)
    send_message(c, req, len, true);
  while (!c->done && pump(c, true) == 0) {
  }
  take_status(c, &r->status, r->details, sizeof r->details, &r->retry_after_s);
  if (r->status == ST_OK && c->n_msgs) {
    r->body = c->msg;
    r->len = c->body_len;
  }
  call_end(c);
}

void h2_stream_run(h2_conn_t *c, const gc_stream_t *s, gc_stream_result_t *r) {
  memset(r, 0, sizeof *r);
  bool headers = false, closed = false;
  if (call_start(c, MODE_STREAM) == 0) {
    c->stream = s;
    c->sres = r;
  }
  while (!c->done) {
    if (closed || r->sent - r->replies >= s->window) {
      pump(c, true);
      continue;
    }
    const uint8_t *msg;
    size_t len;
    if (!s->next(s->ctx, r->sent, &msg, &len)) { /* half-close */
      closed = true;
      if (!headers) send_headers(c, s->method, true);
      else send_end(c);
      headers = true;
      continue;
    }
    r->sent++;
    if (!headers && send_headers(c, s->method, false)) continue;
    headers = true;
    if (send_message(c, msg, len, false) == 0 && out_flush(c) == 0) pump_ready(c);
  }
  take_status(c, &r->status, r->details, sizeof r->details, &r->retry_after_s);
  call_end(c);
}

/* ---------------------------------------------------------- sessions -- */

struct h2_session {
  h2_conn_t *c;
  char method[256];
  bool started, ended;
};

int h2_session_open(h2_session_t **out, h2_conn_t *c, const char *method, char *err,
                    size_t errlen) {
  *out = NULL;
  h2_session_t *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (strlen(method) >= sizeof s->method) {
    snprintf(err, errlen, "method name too long");
    free(s);
    return -1;
  }
  s->c = c;
  snprintf(s->method, sizeof s->method, "%s", method);
  *out = s;
  return 0;
}

void h2_session_call(h2_session_t *s, const uint8_t *req, size_t len, gc_result_t *r) {
  h2_conn_t *c = s->c;
  memset(r, 0, sizeof *r);
  r->retry_after_s = -1;
  if (s->ended) {
    r->status = ST_FAILED_PRECONDITION;
    snprintf(r->details, sizeof r->details, "the stream has ended");
    return;
  }
  if (!s->started) { /* the call starts with its first message */
    s->started = true;
    if (call_start(c, MODE_SESSION) == 0) send_headers(c, s->method, false);
  }
  c->have_msg = false;
  if (!c->done) send_message(c, req, len, false);
  while (!c->done && !c->have_msg && pump(c, true) == 0) {
  }
  if (c->have_msg) {
    r->body = c->msg;
    r->len = c->body_len;
    return;
  }
  s->ended = true;
  take_status(c, &r->status, r->details, sizeof r->details, &r->retry_after_s);
  if (r->status == ST_OK) {
    r->status = ST_UNKNOWN;
    snprintf(r->details, sizeof r->details, "the stream ended without a reply");
  }
  call_end(c);
}

void h2_session_close(h2_session_t *s) {
  if (!s) return;
  h2_conn_t *c = s->c;
  if (s->started && !s->ended) {
    send_end(c);
    while (!c->done && pump(c, true) == 0) {
    }
    call_end(c);
  }
  free(s);
}

/* ---------------------------------------------------------- self-test -- */

/* The dynamic table holds exactly want[0..n) (newest first) and `size` bytes. */
static int table_is(htable_t *t, const char *const (*want)[2], uint32_t n, size_t size) {
  if (t->n != n || t->size != size) return -1;
  for (uint32_t i = 0; i < n; i++) {
    const char *name, *value;
    size_t nl, vl;
    if (hp_lookup(t, STATIC_N + 1 + i, &name, &nl, &value, &vl) || nl != strlen(want[i][0]) ||
        vl != strlen(want[i][1]) || memcmp(name, want[i][0], nl) || memcmp(value, want[i][1], vl))
      return -1;
  }
  return 0;
}

/* Hex digits into bytes (spaces skipped); the count. */
static size_t unhex(const char *hex, uint8_t *out) {
  size_t n = 0;
  for (const char *p = hex; p[0] && p[1];) {
    if (*p == ' ') {
      p++;
      continue;
    }
    out[n++] = (uint8_t)(hex_value(p[0]) * 16 + hex_value(p[1]));
    p += 2;
  }
  return n;
}

int h2_selftest(char *err, size_t errlen) {
  /* RFC 7541 C.4.1: Huffman-coded "www.example.com" */
  uint8_t in[256], out[512];
  size_t n = unhex("f1e3 c2e5 f23a 6ba0 ab90 f4ff", in);
  long got = huff_decode(in, n, out);
  if (got != 15 || memcmp(out, "www.example.com", 15) != 0) {
    snprintf(err, errlen, "HPACK self-test: Huffman decoding of RFC 7541 C.4.1 failed");
    return -1;
  }
  /* RFC 7541 C.1.2: 1337 with a 5-bit prefix */
  const uint8_t *p = (const uint8_t[]){0x1f, 0x9a, 0x0a};
  uint32_t v;
  if (hp_int(&p, p + 3, 5, &v) || v != 1337 || hp_put_int(out, 0, 5, 1337) != 3 ||
      memcmp(out, (const uint8_t[]){0x1f, 0x9a, 0x0a}, 3)) {
    snprintf(err, errlen, "HPACK self-test: integer coding of RFC 7541 C.1.2 failed");
    return -1;
  }
  /* RFC 7541 C.4 (Huffman requests) and C.6 (Huffman responses, a table
   * of 256 bytes with eviction), checked through the dynamic table. */
  static const char *const req[][2] = {{"custom-key", "custom-value"},
                                       {"cache-control", "no-cache"},
                                       {":authority", "www.example.com"}};
  static const char *const resp[][2] = {
      {"set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"},
      {"content-encoding", "gzip"},
      {"date", "Mon, 21 Oct 2013 20:13:22 GMT"}};
  static const struct {
    const char *hex;
    uint32_t table_max;
    const char *const (*want)[2];
    uint32_t n;
    size_t size;
  } steps[] = {
      {"8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", 4096, req + 2, 1, 57},
      {"8286 84be 5886 a8eb 1064 9cbf", 4096, req + 1, 2, 110},
      {"8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf", 4096, req, 3, 164},
      {"4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 "
       "2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3", 256, NULL, 4, 222},
      {"4883 640e ffc1 c0bf", 256, NULL, 4, 222},
      {"88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad "
       "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 "
       "65c0 03ed 4ee5 b106 3d50 07", 256, resp, 3, 215},
  };
  h2_conn_t *c = calloc(1, sizeof *c);
  if (!c) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  c->fd = -1;
  c->dead = true; /* no socket: a decoding error only records why */
  int rc = 0;
  for (size_t i = 0; i < sizeof steps / sizeof *steps && rc == 0; i++) {
    if (i == 0 || steps[i].table_max != steps[i - 1].table_max)
      ht_reset(&c->dec, steps[i].table_max);
    n = unhex(steps[i].hex, in);
    if (hp_decode_block(c, in, n, false) || c->dec.n != steps[i].n ||
        c->dec.size != steps[i].size ||
        (steps[i].want && table_is(&c->dec, steps[i].want, steps[i].n, steps[i].size))) {
      snprintf(err, errlen, "HPACK self-test: RFC 7541 example %zu decodes wrongly (%u entries, "
               "%zu bytes)", i, c->dec.n, c->dec.size);
      rc = -1;
    }
  }
  ht_free(&c->dec);
  free(c->scratch);
  free(c);
  return rc;
}
