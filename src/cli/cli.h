/*
 * cli.h — subcommands of the `akidb` program.
 */
#ifndef AKIDB_CLI_H
#define AKIDB_CLI_H

/* `akidb demo`: index the real data sets (tests/data), search, print recall and
 * timings. Returns the process exit code. */
int cli_demo(int argc, char **argv);

/* `akidb migrate v1-to-v2 --v1-data-dir DIR --v2-database FILE [--dry-run]`:
 * imports an AkiDB 1.x data directory into the SQLite catalog in one
 * transaction (src/cli/migrate.c). argv[0] is "migrate". Returns the
 * process exit code: 0 done or nothing to do, 1 refused, 2 bad usage. */
int cli_migrate(int argc, char **argv);

/* `akidb serve [flags]`: runs the server until SIGTERM/SIGINT
 * (src/cli/serve.c; `akidb serve --help` lists the flags and environment
 * variables). argv[0] is "serve". Returns the process exit code: 0 clean
 * shutdown, 1 failure, 2 bad configuration or usage. */
int cli_serve(int argc, char **argv);

#endif /* AKIDB_CLI_H */
