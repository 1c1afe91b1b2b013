/*
 * cli.h — subcommands of the `akidb` program.
 */
#ifndef AKIDB_CLI_H
#define AKIDB_CLI_H

/* `akidb demo`: index the shared real data sets, search, print recall and
 * timings. Returns the process exit code. */
int cli_demo(int argc, char **argv);

#endif /* AKIDB_CLI_H */
