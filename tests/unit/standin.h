/*
 * standin.h — a Python stand-in server of tests/integration/ (the model
 * server embed_standin.py, the OTLP receiver otlp_standin.py) run as a child
 * process of a C test: started on a free loopback port (it writes the port
 * to a file), called over HTTP with libcurl (answers parsed with jansson),
 * killed with its process group at exit or on a fatal signal. One stand-in
 * per test program (static state). Header-only, like check.h; the test
 * links libcurl and jansson and defines AKIDB_SOURCE_DIR.
 */
#ifndef AKIDB_TEST_STANDIN_H
#define AKIDB_TEST_STANDIN_H

#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "tmpdir.h"

#ifndef AKIDB_SOURCE_DIR
#error "AKIDB_SOURCE_DIR must be defined by the build"
#endif

#define STANDIN_PYTHON "/usr/bin/python3"

static pid_t standin_pid = -1;
static int standin_port;
static char standin_port_file[4200];

static double standin_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Kills the stand-in and its process group (idempotent). */
static void standin_kill(void) {
  if (standin_pid <= 0) return;
  kill(-standin_pid, SIGKILL);
  kill(standin_pid, SIGKILL);
  int st;
  waitpid(standin_pid, &st, 0);
  standin_pid = -1;
}

/* A fatal signal's handler: the stand-in goes too. */
static void standin_on_signal(int sig) {
  standin_kill();
  signal(sig, SIG_DFL);
  raise(sig);
}

/* Starts tests/integration/<script> (exit 77, a skip, without python3);
 * waits (≤ 15 s) for its port file; standin_port is set. */
static void standin_start(const char *script) {
  if (access(STANDIN_PYTHON, X_OK) != 0) {
    fprintf(stderr, "SKIP: %s is missing (the stand-in %s needs it)\n", STANDIN_PYTHON, script);
    exit(77);
  }
  tmpdir_path(standin_port_file, sizeof standin_port_file, "akidb-standin", "port");
  standin_pid = fork();
  ASSERT_TRUE(standin_pid >= 0);
  if (standin_pid == 0) {
    setpgid(0, 0);
    char path[512];
    snprintf(path, sizeof path, "%s/tests/integration/%s", AKIDB_SOURCE_DIR, script);
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) dup2(fd, 1);
    execl(STANDIN_PYTHON, STANDIN_PYTHON, path, "--port-file", standin_port_file,
          "--max-seconds", "600", (char *)NULL);
    _exit(126);
  }
  setpgid(standin_pid, standin_pid);
  double t0 = standin_now_s();
  FILE *f = NULL;
  while (!(f = fopen(standin_port_file, "r"))) {
    int st;
    if (waitpid(standin_pid, &st, WNOHANG) == standin_pid) {
      standin_pid = -1;
      CHECK_FAIL("the stand-in %s exited at start (status %d)", script, st);
    }
    if (standin_now_s() - t0 > 15.0) CHECK_FAIL("the stand-in %s wrote no port file in 15 s", script);
    usleep(20000);
  }
  ASSERT_EQ_INT(fscanf(f, "%d", &standin_port), 1);
  fclose(f);
}

typedef struct {
  char *data;
  size_t len;
} standin_buf_t;

static size_t standin_buf_write(char *d, size_t s, size_t n, void *ud) {
  standin_buf_t *b = ud;
  char *r = realloc(b->data, b->len + s * n + 1);
  if (!r) return 0;
  memcpy(r + b->len, d, s * n);
  b->data = r;
  b->len += s * n;
  b->data[b->len] = '\0';
  return s * n;
}

/* GET (body NULL) or POST `path` on the stand-in; returns the parsed answer. */
static json_t *standin_call(const char *path, const char *body) {
  char url[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", standin_port, path);
  CURL *e = curl_easy_init();
  standin_buf_t b = {0};
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, standin_buf_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
  if (body) curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
  CURLcode cc = curl_easy_perform(e);
  curl_easy_cleanup(e);
  if (cc != CURLE_OK) CHECK_FAIL("stand-in %s: %s", path, curl_easy_strerror(cc));
  json_t *j = json_loads(b.data ? b.data : "", 0, NULL);
  free(b.data);
  ASSERT_TRUE(j != NULL);
  return j;
}

/* POST /control with a JSON command, and POST /control/reset. */
static inline void standin_control(const char *cmd) { json_decref(standin_call("/control", cmd)); }
static inline void standin_reset(void) { json_decref(standin_call("/control/reset", "{}")); }

#endif /* AKIDB_TEST_STANDIN_H */
