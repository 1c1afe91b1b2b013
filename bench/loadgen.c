/*
 * loadgen.c — the server benchmark's HTTP/1.1 client (bench only): response
 * head parsing, a blocking keep-alive connection (setup, ingest, the
 * sequential client) and the open-loop driver (one thread, epoll, a pool of
 * non-blocking keep-alive connections, a timerfd for the send instants).
 *
 * Open loop: request i is due at t0 + i/rate whatever happened before it.
 * It goes out on the first idle connection at or after that instant; when
 * every connection is busy it waits for one, and that wait counts: latency
 * runs from the scheduled instant to the last byte of the answer, so a slow
 * server cannot hide its queueing (no coordinated omission).
 *
 * No locking: a connection belongs to one thread; the open-loop driver is
 * single-threaded.
 */
#include "loadgen.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "akidb/errors.h"

#define RECV_INITIAL (64u * 1024u)

double lg_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* ------------------------------------------------------------ parsing -- */

/* Case-insensitive "Name:" at the start of line; returns the value start. */
static const char *header_value(const char *line, const char *end, const char *name) {
  size_t n = strlen(name);
  if ((size_t)(end - line) <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
    return NULL;
  const char *v = line + n + 1;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  return v;
}

static bool value_has(const char *v, const char *end, const char *word) {
  size_t n = strlen(word);
  for (; v + n <= end; v++)
    if (strncasecmp(v, word, n) == 0) return true;
  return false;
}

int lg_parse_head(const char *buf, size_t len, lg_head_t *h) {
  const char *end = memmem(buf, len, "\r\n\r\n", 4);
  if (!end) return len > 64 * 1024 ? AKIDB_EFORMAT : 0;
  memset(h, 0, sizeof *h);
  h->head_len = (size_t)(end - buf) + 4;
  if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0) return AKIDB_EFORMAT;
  h->status = atoi(buf + 9);
  bool have_length = false;
  const char *line = memchr(buf, '\n', (size_t)(end - buf));
  while (line && line < end) {
    line++;
    const char *eol = memchr(line, '\r', (size_t)(end + 2 - line));
    if (!eol) break;
    const char *v;
    if ((v = header_value(line, eol, "Content-Length"))) {
      h->body_len = strtoull(v, NULL, 10);
      have_length = true;
    } else if ((v = header_value(line, eol, "Connection"))) {
      h->close = value_has(v, eol, "close");
    } else if ((v = header_value(line, eol, "Transfer-Encoding"))) {
      if (value_has(v, eol, "chunked")) return AKIDB_ENOTSUP;
    }
    line = memchr(line, '\n', (size_t)(end + 2 - line));
  }
  if (!have_length && h->status != 204 && h->status != 304 && h->status >= 200)
    return AKIDB_EFORMAT;
  return 1;
}

size_t lg_format_head(char *buf, size_t cap, const char *method, const char *path,
                      const char *token, size_t body_len) {
  char auth[512] = "", length[96] = "";
  if (token) snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", token);
  if (body_len != (size_t)-1)
    snprintf(length, sizeof length,
             "Content-Type: application/json\r\nContent-Length: %zu\r\n", body_len);
  int n = snprintf(buf, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s\r\n", method, path,
                   auth, length);
  return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

/* Position just after `"key"` and the colon, or NULL. */
static const char *find_key(const char *body, size_t len, const char *key) {
  char pat[64];
  int pn = snprintf(pat, sizeof pat, "\"%s\"", key);
  if (pn < 0 || (size_t)pn >= sizeof pat) return NULL;
  const char *end = body + len, *p = body;
  while ((p = memmem(p, (size_t)(end - p), pat, (size_t)pn))) {
    const char *q = p + pn;
    while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')) q++;
    if (q < end && *q == ':') {
      q++;
      while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')) q++;
      return q;
    }
    p += pn;
  }
  return NULL;
}

const char *lg_find_string(const char *body, size_t len, const char *key, size_t *n) {
  const char *end = body + len, *q = find_key(body, len, key);
  if (!q || q >= end || *q != '"') return NULL;
  q++;
  const char *close = memchr(q, '"', (size_t)(end - q));
  if (!close) return NULL;
  *n = (size_t)(close - q);
  return q;
}

long long lg_find_int(const char *body, size_t len, const char *key) {
  const char *end = body + len, *q = find_key(body, len, key);
  if (!q || q >= end || *q < '0' || *q > '9') return -1;
  long long v = 0;
  while (q < end && *q >= '0' && *q <= '9') v = v * 10 + (*q++ - '0');
  return v;
}

/* ------------------------------------------------- blocking connection -- */

/* A connected TCP socket to 127.0.0.1:port with TCP_NODELAY, or -1. */
static int connect_loopback(uint16_t port, char *err, size_t errlen) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, errlen, "socket: %s", strerror(errno));
    return -1;
  }
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    snprintf(err, errlen, "connect to 127.0.0.1:%u: %s", port, strerror(errno));
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

int lg_conn_open(lg_conn_t *c, uint16_t port, char *err, size_t errlen) {
  memset(c, 0, sizeof *c);
  c->port = port;
  c->fd = connect_loopback(port, err, errlen);
  if (c->fd < 0) return AKIDB_EIO;
  c->cap = RECV_INITIAL;
  c->buf = malloc(c->cap);
  if (!c->buf) {
    close(c->fd);
    c->fd = -1;
    snprintf(err, errlen, "out of memory for a receive buffer");
    return AKIDB_ENOMEM;
  }
  return AKIDB_OK;
}

void lg_conn_close(lg_conn_t *c) {
  if (c->buf && c->fd >= 0) close(c->fd); /* buf set: the connection was opened */
  free(c->buf);
  memset(c, 0, sizeof *c);
  c->fd = -1;
}

/* Writes every byte of iov; returns 0 or -errno. */
static int send_all(int fd, const struct iovec *iov_in, int iovcnt) {
  struct iovec iov[8];
  if (iovcnt > 8) return -EINVAL;
  memcpy(iov, iov_in, (size_t)iovcnt * sizeof *iov);
  int first = 0;
  while (first < iovcnt) {
    struct msghdr m = {.msg_iov = iov + first, .msg_iovlen = (size_t)(iovcnt - first)};
    ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    size_t left = (size_t)w;
    while (first < iovcnt && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (first < iovcnt) {
      iov[first].iov_base = (char *)iov[first].iov_base + left;
      iov[first].iov_len -= left;
    }
  }
  return 0;
}

/* Grows a receive buffer to hold at least `need` bytes. */
static int grow(char **buf, size_t *cap, size_t need) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap : RECV_INITIAL;
  while (n < need) n *= 2;
  char *p = realloc(*buf, n);
  if (!p) return AKIDB_ENOMEM;
  *buf = p;
  *cap = n;
  return 0;
}

/* Reads one whole response; returns 0, -1 for EOF before any byte, or an error. */
static int read_response(lg_conn_t *c, lg_head_t *h, char *err, size_t errlen) {
  c->len = 0;
  for (;;) {
    if (c->len > 0) {
      int pr = lg_parse_head(c->buf, c->len, h);
      if (pr < 0) {
        snprintf(err, errlen, "malformed or chunked HTTP response head");
        return pr;
      }
      if (pr == 1 && c->len >= h->head_len + h->body_len) return 0;
      if (pr == 1 && grow(&c->buf, &c->cap, h->head_len + h->body_len)) {
        snprintf(err, errlen, "out of memory for a %zu-byte response", h->body_len);
        return AKIDB_ENOMEM;
      }
    }
    if (c->len == c->cap && grow(&c->buf, &c->cap, c->cap * 2)) {
      snprintf(err, errlen, "out of memory for a response");
      return AKIDB_ENOMEM;
    }
    ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (c->len == 0) return -1;
      snprintf(err, errlen, "connection closed in the middle of a response");
      return AKIDB_EIO;
    }
    c->len += (size_t)r;
  }
}

int lg_conn_roundtrip(lg_conn_t *c, const struct iovec *iov, int iovcnt,
                      lg_response_t *r, char *err, size_t errlen) {
  for (int attempt = 0; attempt < 2; attempt++) {
    if (c->fd < 0) {
      c->fd = connect_loopback(c->port, err, errlen);
      if (c->fd < 0) return AKIDB_EIO;
    }
    int rc = send_all(c->fd, iov, iovcnt);
    lg_head_t h;
    if (rc == 0) rc = read_response(c, &h, err, errlen);
    else if (attempt == 0 && (rc == -EPIPE || rc == -ECONNRESET)) rc = -1;
    else {
      snprintf(err, errlen, "sending a request: %s", strerror(-rc));
      return AKIDB_EIO;
    }
    if (rc == -1) { /* the server closed the idle connection: once more */
      close(c->fd);
      c->fd = -1;
      snprintf(err, errlen, "the server closed the connection without answering");
      continue;
    }
    if (rc) return rc;
    r->status = h.status;
    r->body = c->buf + h.head_len;
    r->body_len = h.body_len;
    if (h.close) {
      close(c->fd);
      c->fd = -1;
    }
    return AKIDB_OK;
  }
  return AKIDB_EIO;
}

int lg_conn_request(lg_conn_t *c, const char *method, const char *path,
                    const char *token, const char *body, lg_response_t *r,
                    char *err, size_t errlen) {
  char head[1024];
  size_t blen = body ? strlen(body) : (size_t)-1;
  size_t hlen = lg_format_head(head, sizeof head, method, path, token, blen);
  if (!hlen) {
    snprintf(err, errlen, "request head for %s too long", path);
    return AKIDB_EINVAL;
  }
  struct iovec iov[2] = {{head, hlen}, {(void *)body, body ? blen : 0}};
  return lg_conn_roundtrip(c, iov, body ? 2 : 1, r, err, errlen);
}

double lg_wait_ready(int pid, uint16_t port, double timeout_s, long poll_ms, int *status) {
  double t0 = lg_now_us();
  char err[256];
  while (lg_now_us() - t0 < timeout_s * 1e6) {
    if (waitpid(pid, status, WNOHANG) == pid) return -1;
    lg_conn_t c;
    if (lg_conn_open(&c, port, err, sizeof err) == 0) {
      lg_response_t r;
      bool ready = lg_conn_request(&c, "GET", "/ready", NULL, NULL, &r, err, sizeof err) == 0 &&
                   r.status == 200;
      lg_conn_close(&c);
      if (ready) return (lg_now_us() - t0) / 1e6;
    }
    struct timespec ts = {poll_ms / 1000, (poll_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
  return -2;
}

/* ------------------------------------------------------------ open loop -- */

typedef struct {
  int fd;
  bool busy;
  size_t index;       /* request in flight */
  double sched_us;    /* its scheduled instant */
  const char *wbuf;   /* what is left to write */
  size_t wleft;
  bool want_out;      /* EPOLLOUT registered */
  char *rbuf;
  size_t rcap, rlen;
} ol_conn_t;

typedef struct {
  const lg_open_loop_t *o;
  lg_open_result_t *r;
  int ep, tfd;
  ol_conn_t *conns;
  uint32_t *idle; /* stack of idle connection numbers */
  uint32_t n_idle;
  size_t outstanding;
  double t0, last_done;
  char *err;
  size_t errlen;
} ol_t;

static double ol_sched(const ol_t *s, size_t i) {
  return s->t0 + (double)i * 1e6 / s->o->rate;
}

/* Opens connection k (non-blocking) and registers it with epoll. */
static int ol_connect(ol_t *s, uint32_t k) {
  ol_conn_t *c = &s->conns[k];
  c->fd = connect_loopback(s->o->port, s->err, s->errlen);
  if (c->fd < 0) return AKIDB_EIO;
  fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = k};
  if (epoll_ctl(s->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
    snprintf(s->err, s->errlen, "epoll_ctl: %s", strerror(errno));
    return AKIDB_EIO;
  }
  c->busy = false;
  c->want_out = false;
  c->rlen = 0;
  return AKIDB_OK;
}

static int ol_reconnect(ol_t *s, uint32_t k) {
  close(s->conns[k].fd);
  s->conns[k].fd = -1;
  s->r->reconnects++;
  return ol_connect(s, k);
}

static void ol_want_out(ol_t *s, uint32_t k, bool on) {
  ol_conn_t *c = &s->conns[k];
  if (c->want_out == on) return;
  struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.u32 = k};
  epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
  c->want_out = on;
}

/* Ends the request on connection k: records it and frees the connection. */
static int ol_finish(ol_t *s, uint32_t k, int status, const char *body, size_t blen,
                     bool reconnect) {
  ol_conn_t *c = &s->conns[k];
  double now = lg_now_us();
  if (status == 200) s->r->latency_us[s->r->n_latency++] = now - c->sched_us;
  else s->r->failed++;
  if (status == 200) s->r->ok++;
  if (s->o->on_response) s->o->on_response(s->o->ctx, c->index, status, body, blen);
  s->last_done = now;
  s->outstanding--;
  c->busy = false;
  c->rlen = 0;
  ol_want_out(s, k, false);
  if (reconnect && ol_reconnect(s, k)) return AKIDB_EIO;
  s->idle[s->n_idle++] = k;
  return AKIDB_OK;
}

/* Writes what it can of connection k's request. */
static int ol_write(ol_t *s, uint32_t k) {
  ol_conn_t *c = &s->conns[k];
  while (c->wleft > 0) {
    ssize_t w = send(c->fd, c->wbuf, c->wleft, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      ol_want_out(s, k, true);
      return AKIDB_OK;
    }
    if (w < 0) return ol_finish(s, k, 0, NULL, 0, true);
    c->wbuf += w;
    c->wleft -= (size_t)w;
  }
  ol_want_out(s, k, false);
  return AKIDB_OK;
}

/* Sends request i on an idle connection. */
static int ol_start(ol_t *s, size_t i, double now) {
  uint32_t k = s->idle[--s->n_idle];
  ol_conn_t *c = &s->conns[k];
  c->busy = true;
  c->index = i;
  c->sched_us = ol_sched(s, i);
  if (now - c->sched_us > s->r->max_send_lag_us) s->r->max_send_lag_us = now - c->sched_us;
  c->wbuf = s->o->req[i % s->o->n_req];
  c->wleft = s->o->req_len[i % s->o->n_req];
  c->rlen = 0;
  s->outstanding++;
  s->r->sent++;
  return ol_write(s, k);
}

/* Reads what is available on connection k; finishes a complete answer. */
static int ol_read(ol_t *s, uint32_t k) {
  ol_conn_t *c = &s->conns[k];
  for (;;) {
    if (c->rlen == c->rcap && grow(&c->rbuf, &c->rcap, c->rcap * 2)) {
      snprintf(s->err, s->errlen, "out of memory for a response");
      return AKIDB_ENOMEM;
    }
    ssize_t r = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (r <= 0) { /* closed or reset */
      if (c->busy) return ol_finish(s, k, 0, NULL, 0, true);
      return ol_reconnect(s, k); /* an idle connection the server closed */
    }
    c->rlen += (size_t)r;
  }
  if (!c->busy || c->rlen == 0) return AKIDB_OK;
  lg_head_t h;
  int pr = lg_parse_head(c->rbuf, c->rlen, &h);
  if (pr < 0) return ol_finish(s, k, 0, NULL, 0, true);
  if (pr == 0 || c->rlen < h.head_len + h.body_len) return AKIDB_OK;
  return ol_finish(s, k, h.status, c->rbuf + h.head_len, h.body_len, h.close);
}

/* Arms the timer for instant t (µs, monotonic), or disarms it (t < 0). */
static void ol_arm(ol_t *s, double t) {
  struct itimerspec its = {0};
  if (t >= 0) {
    its.it_value.tv_sec = (time_t)(t / 1e6);
    its.it_value.tv_nsec = (long)((t - (double)its.it_value.tv_sec * 1e6) * 1e3);
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
  }
  timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* The event loop: dispatch due requests, wait, handle readiness. */
static int ol_loop(ol_t *s, size_t total) {
  const lg_open_loop_t *o = s->o;
  double deadline = s->t0 + (o->duration_s + o->drain_s) * 1e6;
  size_t next = 0;
  struct epoll_event ev[64];
  for (;;) {
    double now = lg_now_us();
    while (next < total && s->n_idle > 0 && ol_sched(s, next) <= now) {
      int rc = ol_start(s, next++, now);
      if (rc) return rc;
    }
    if (next == total && s->outstanding == 0) break;
    if (now >= deadline) break;
    ol_arm(s, next < total && s->n_idle > 0 ? ol_sched(s, next) : -1);
    int wait_ms = (int)((deadline - now) / 1e3) + 1;
    int n = epoll_wait(s->ep, ev, 64, wait_ms > 1000 ? 1000 : wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      snprintf(s->err, s->errlen, "epoll_wait: %s", strerror(errno));
      return AKIDB_EIO;
    }
    for (int i = 0; i < n; i++) {
      if (ev[i].data.u32 == UINT32_MAX) {
        uint64_t ticks;
        if (read(s->tfd, &ticks, sizeof ticks) < 0 && errno != EAGAIN) return AKIDB_EIO;
        continue;
      }
      uint32_t k = ev[i].data.u32;
      int rc = AKIDB_OK;
      if ((ev[i].events & EPOLLOUT) && s->conns[k].busy) rc = ol_write(s, k);
      if (!rc && (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) rc = ol_read(s, k);
      if (rc) return rc;
    }
  }
  s->r->unanswered = (total - next) + s->outstanding;
  s->r->failed += s->r->unanswered;
  return AKIDB_OK;
}

static void ol_free(ol_t *s, uint32_t n) {
  if (s->conns)
    for (uint32_t k = 0; k < n; k++) {
      if (s->conns[k].fd >= 0) close(s->conns[k].fd);
      free(s->conns[k].rbuf);
    }
  free(s->conns);
  free(s->idle);
  if (s->tfd >= 0) close(s->tfd);
  if (s->ep >= 0) close(s->ep);
}

int lg_open_loop_run(const lg_open_loop_t *o, lg_open_result_t *r, char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  if (o->rate <= 0 || o->duration_s <= 0 || o->connections == 0 || o->n_req == 0) {
    snprintf(err, errlen, "open loop: rate, duration, connections and requests must be positive");
    return AKIDB_EINVAL;
  }
  size_t total = (size_t)(o->rate * o->duration_s + 0.5);
  ol_t s = {.o = o, .r = r, .ep = -1, .tfd = -1, .err = err, .errlen = errlen};
  int rc = AKIDB_ENOMEM;
  r->scheduled = total;
  r->latency_us = malloc((total ? total : 1) * sizeof *r->latency_us);
  s.conns = calloc(o->connections, sizeof *s.conns);
  s.idle = calloc(o->connections, sizeof *s.idle);
  if (!r->latency_us || !s.conns || !s.idle) {
    snprintf(err, errlen, "out of memory for the open loop");
    goto fail;
  }
  for (uint32_t k = 0; k < o->connections; k++) s.conns[k].fd = -1;
  s.ep = epoll_create1(EPOLL_CLOEXEC);
  s.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  rc = AKIDB_EIO;
  if (s.ep < 0 || s.tfd < 0) {
    snprintf(err, errlen, "epoll/timerfd: %s", strerror(errno));
    goto fail;
  }
  struct epoll_event tev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
  epoll_ctl(s.ep, EPOLL_CTL_ADD, s.tfd, &tev);
  for (uint32_t k = 0; k < o->connections; k++) {
    s.conns[k].rcap = RECV_INITIAL;
    s.conns[k].rbuf = malloc(RECV_INITIAL);
    if (!s.conns[k].rbuf) {
      rc = AKIDB_ENOMEM;
      snprintf(err, errlen, "out of memory for receive buffers");
      goto fail;
    }
    if ((rc = ol_connect(&s, k))) goto fail;
    s.idle[s.n_idle++] = k;
  }
  s.t0 = lg_now_us() + 20000.0; /* connections settle first */
  s.last_done = s.t0;
  if ((rc = ol_loop(&s, total))) goto fail;
  r->elapsed_s = (s.last_done - s.t0) / 1e6;
  ol_free(&s, o->connections);
  return AKIDB_OK;
fail:
  ol_free(&s, o->connections);
  free(r->latency_us);
  r->latency_us = NULL;
  return rc;
}
