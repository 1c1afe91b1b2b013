/*
 * main.c — owns the `akidb` command line: dispatches subcommands and prints
 * usage. Each subcommand lives in its own file of src/cli/.
 */
#include <stdio.h>
#include <string.h>

#include "akidb/akidb.h"
#include "cli/cli.h"

#ifndef AKIDB_DATA_DIR_DEFAULT /* set by the build (CMake AKIDB_DATA_DIR) */
#define AKIDB_DATA_DIR_DEFAULT "tests/data"
#endif

static void usage(FILE *out) {
  fprintf(out,
          "usage: akidb <command> [options]\n"
          "\n"
          "commands:\n"
          "  serve [flags]                run the server (REST API, /health, /ready,\n"
          "                               /metrics); see `akidb serve --help`\n"
          "  demo [--data DIR] [--ef N]   index the real data sets under DIR\n"
          "                               (default: $AKIDB_TEST_DATA, else the\n"
          "                               repository's tests/data: " AKIDB_DATA_DIR_DEFAULT "),\n"
          "                               search them, print recall@10 and timings\n"
          "  migrate v1-to-v2 --v1-data-dir DIR --v2-database FILE [--dry-run]\n"
          "                               import an AkiDB 1.x data directory into the\n"
          "                               SQLite catalog (see `akidb migrate --help`)\n"
          "  version                      print the version and the SIMD kernels in use\n"
          "  help                         this text\n");
}

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
    char err[256] = "";
    if (akidb_simd_init(err, sizeof err)) {
      fprintf(stderr, "akidb: %s\n", err);
      return 1;
    }
    printf("akidb %s (kernels: %s; cpu: %s)\n", AKIDB_VERSION_STRING,
           akidb_kernels()->name, akidb_cpu_features());
    return 0;
  }
  if (strcmp(argv[1], "serve") == 0) return cli_serve(argc - 1, argv + 1);
  if (strcmp(argv[1], "demo") == 0) return cli_demo(argc - 1, argv + 1);
  if (strcmp(argv[1], "migrate") == 0) return cli_migrate(argc - 1, argv + 1);
  fprintf(stderr, "akidb: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
