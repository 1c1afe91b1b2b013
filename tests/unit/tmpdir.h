/*
 * tmpdir.h — one temporary root directory per test process (under $TMPDIR
 * or /tmp, made with mkdtemp, removed with everything in it at exit), and
 * fresh paths inside it. For tests only.
 */
#ifndef AKIDB_TEST_TMPDIR_H
#define AKIDB_TEST_TMPDIR_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static char tmpdir_root[4096];

/* Removes every file in `dir` (recursively), then `dir`. */
static void tmpdir_remove(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    char path[8192];
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      if (unlink(path) != 0 && errno == EISDIR) tmpdir_remove(path);
    }
    closedir(d);
  }
  rmdir(dir);
}

static void tmpdir_remove_root(void) {
  if (tmpdir_root[0]) tmpdir_remove(tmpdir_root);
  tmpdir_root[0] = '\0';
}

/* A path `name` under the process's temporary root (created on first use,
 * named after `prefix`); the path itself is not created. */
static void tmpdir_path(char *out, size_t n, const char *prefix, const char *name) {
  if (!tmpdir_root[0]) {
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir_root, sizeof tmpdir_root, "%s/%s-XXXXXX", base && *base ? base : "/tmp",
             prefix);
    if (!mkdtemp(tmpdir_root)) CHECK_FAIL("mkdtemp: %s", strerror(errno));
    atexit(tmpdir_remove_root);
  }
  snprintf(out, n, "%s/%s", tmpdir_root, name);
}

#endif /* AKIDB_TEST_TMPDIR_H */
