/*
 * tests/fuzz/replay_main.c — runs a libFuzzer harness without libFuzzer, for
 * `make test` (ctest <name>_replay, under ASan+UBSan in the sanitizer
 * build): every file of the given corpus directories once, then random
 * mutations of them (byte flips, random and boundary bytes, 32-bit length
 * overwrites, truncations, duplicated and deleted spans) until --runs
 * inputs or --seconds have passed (half of the mutations land in the
 * last quarter of the file, where Parquet keeps its footer), whichever comes first. A crash or
 * sanitizer report fails the test; the seed (--seed, printed) replays it.
 *
 *   fuzz_parquet_replay [--runs N] [--seconds S] [--seed X] DIR|FILE...
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  uint8_t *data;
  size_t len;
} input_t;

static input_t *inputs;
static size_t ninputs, cap_inputs;

static void add_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *d = malloc(n > 0 ? (size_t)n : 1);
  if (!d || (n > 0 && fread(d, 1, (size_t)n, f) != (size_t)n)) {
    free(d);
    fclose(f);
    return;
  }
  fclose(f);
  if (ninputs == cap_inputs) {
    cap_inputs = cap_inputs ? cap_inputs * 2 : 16;
    inputs = realloc(inputs, cap_inputs * sizeof *inputs);
  }
  inputs[ninputs++] = (input_t){d, (size_t)n};
}

static void add_path(const char *path) {
  struct stat sb;
  if (stat(path, &sb) != 0) {
    fprintf(stderr, "replay: %s does not exist\n", path);
    exit(2);
  }
  if (!S_ISDIR(sb.st_mode)) {
    add_file(path);
    return;
  }
  DIR *d = opendir(path);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", path, e->d_name);
    add_file(p);
  }
  if (d) closedir(d);
}

static uint64_t state;
static uint64_t rnd(void) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

/* Applies 1..3 random mutations to buf (len bytes, capacity cap); most
 * change bytes in place, a few cut the file or shift it (which breaks the
 * footer's offsets, so they are rare). */
static size_t mutate(uint8_t *buf, size_t len, size_t cap) {
  static const uint8_t boundary[] = {0x00, 0x01, 0x7F, 0x80, 0xFF, 0x0F, 0xF0, 0x15, 0x19, 0x1C};
  int n = 1 + (int)(rnd() % 3);
  for (int k = 0; k < n && len > 0; k++) {
    /* half of the mutations land in the last quarter: footers live there */
    size_t at = rnd() % 2 ? rnd() % len : len - 1 - rnd() % (len / 4 + 1);
    unsigned op = (unsigned)(rnd() % 100);
    if (op < 30) {
      buf[at] ^= (uint8_t)(1u << (rnd() % 8));
    } else if (op < 55) {
      buf[at] = (uint8_t)rnd();
    } else if (op < 85) {
      buf[at] = boundary[rnd() % sizeof boundary];
    } else if (op < 94) {
      if (len - at >= 4) {
        uint32_t v = rnd() % 2 ? (uint32_t)rnd() : (uint32_t)(rnd() % 4096);
        memcpy(buf + at, &v, 4);
      }
    } else if (op < 96) {
      len = at + (len - at) / 2; /* truncate */
    } else if (op < 98) {        /* duplicate a span */
      size_t span = 1 + rnd() % 64;
      if (at + span <= len && len + span <= cap) {
        memmove(buf + at + span, buf + at, len - at);
        len += span;
      }
    } else { /* delete a span */
      size_t span = 1 + rnd() % 64;
      if (at + span <= len) {
        memmove(buf + at, buf + at + span, len - at - span);
        len -= span;
      }
    }
  }
  return len;
}

int main(int argc, char **argv) {
  long runs = 5000;
  double seconds = 25;
  uint64_t seed = (uint64_t)time(NULL);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = atol(argv[++i]);
    else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = atof(argv[++i]);
    else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) seed = strtoull(argv[++i], 0, 10);
    else add_path(argv[i]);
  }
  if (ninputs == 0) {
    fprintf(stderr, "replay: no corpus files\n");
    return 2;
  }
  state = seed ? seed : 1;
  fprintf(stderr, "replay: %zu corpus files, seed %llu\n", ninputs, (unsigned long long)seed);
  for (size_t i = 0; i < ninputs; i++) LLVMFuzzerTestOneInput(inputs[i].data, inputs[i].len);
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  long done = 0;
  for (; done < runs; done++) {
    const input_t *in = &inputs[rnd() % ninputs];
    size_t cap = in->len + 512;
    uint8_t *buf = malloc(cap);
    memcpy(buf, in->data, in->len);
    size_t len = mutate(buf, in->len, cap);
    uint8_t *exact = malloc(len ? len : 1); /* exact size: ASan sees overreads */
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    clock_gettime(CLOCK_MONOTONIC, &t);
    if ((double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 > seconds) break;
  }
  fprintf(stderr, "replay: %ld mutated inputs, no crash\n", done);
  for (size_t i = 0; i < ninputs; i++) free(inputs[i].data);
  free(inputs);
  return 0;
}
