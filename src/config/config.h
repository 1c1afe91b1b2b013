/*
 * config/config.h — the server's configuration: every setting of `akidb
 * serve` with its default, filled in three layers, each overriding the one
 * before: a TOML file (config.toml), environment variables (AKIDB_*), then
 * command-line flags. config.example.toml at the repository root lists every
 * key with its default and meaning.
 *
 * Files: config.c (the settings table, defaults, checks, TOML rendering),
 * toml.c (the parser for the TOML subset we read), load.c (the three layers),
 * options.c (conversion to the service and HTTP options).
 *
 * Errors are one sentence naming where the bad value came from (file and
 * line, environment variable or flag), the key, and what to write instead:
 *   config.toml:12: key 'server.rest_port': expected an integer 0..65535, got "abc"
 */
#ifndef AKIDB_CONFIG_H
#define AKIDB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "akidb/store.h"
#include "http/http.h"
#include "obs/log.h"
#include "service/service.h"
#include "trace/trace.h"

#define CONFIG_HOST_MAX 255      /* bytes of server.host */
#define CONFIG_PATH_MAX 4095     /* bytes of a path setting */
#define CONFIG_USERNAME_MAX 64   /* bytes of auth.admin_username */
#define CONFIG_PASSWORD_MAX 1024 /* bytes of AKIDB_ADMIN_PASSWORD */
#define CONFIG_FILE_MAX (1u << 20) /* bytes of a configuration file */
#define CONFIG_URL_MAX 1023      /* bytes of object_store.endpoint */
#define CONFIG_BUCKET_MAX 63     /* S3 bucket names are 3..63 bytes */
#define CONFIG_REGION_MAX 63
#define CONFIG_PREFIX_MAX 512
#define CONFIG_SECRET_MAX 256    /* bytes of an S3 access key id or secret key */
#define CONFIG_TOKEN_MAX 4096    /* bytes of an S3 session token */

/* object_store.kind: "auto" is s3 when an endpoint is set, else local. */
typedef enum { CONFIG_OS_AUTO, CONFIG_OS_LOCAL, CONFIG_OS_S3 } config_os_kind_t;
/* object_store.addressing: http://endpoint/bucket/key or http://bucket.endpoint/key. */
typedef enum { CONFIG_OS_PATH_STYLE, CONFIG_OS_VIRTUAL_HOSTED } config_os_addressing_t;
#define CONFIG_DEFAULT_FILE "config.toml" /* read from the working directory if present */

typedef struct {
  /* [server] */
  char host[CONFIG_HOST_MAX + 1]; /* listen address; "127.0.0.1" */
  uint16_t rest_port;             /* 8080; 0 = any free port */
  uint16_t grpc_port;             /* 50051; 0 = no gRPC server */
  uint32_t threads;               /* HTTP: 0 = a thread per connection; N = N epoll threads */
  uint32_t max_connections;       /* 1024 */
  uint32_t connection_timeout_s;  /* idle keep-alive connections closed after; 60 */
  uint32_t shutdown_drain_ms;     /* in-flight requests get this long at shutdown; 10000 */
  char tls_cert_file[CONFIG_PATH_MAX + 1]; /* PEM; "" = plain HTTP (both or neither) */
  char tls_key_file[CONFIG_PATH_MAX + 1];
  /* [storage] */
  char data_dir[CONFIG_PATH_MAX + 1]; /* "./data" */
  char db_path[CONFIG_PATH_MAX + 1];  /* "" = <data_dir>/akidb.db */
  akidb_durability_t durability;      /* fsync */
  uint32_t fsync_interval_ms;         /* interval policy; 100 */
  uint32_t index_threads;             /* workers indexing one collection at once; 0 = all */
  uint32_t worker_threads;            /* the worker pool; 0 = one per CPU */
  uint64_t memory_budget_bytes;       /* resident collections' memory; 0 = unlimited */
  uint64_t max_pending_bytes;         /* vectors waiting for the graph, per collection */
  uint32_t backpressure_wait_ms;      /* a write's wait for room before 429 */
  uint32_t warm_after_s;              /* [tiering] idle seconds before unload; 0 = never */
  uint32_t tier_check_ms;             /* [tiering] check_interval_ms */
  uint32_t cold_after_s;              /* [tiering] idle seconds before upload; 0 = never */
  /* [object_store]: snapshots and the cold tier */
  int os_kind;                             /* config_os_kind_t; auto */
  char os_path[CONFIG_PATH_MAX + 1];       /* local: "" = <data_dir>/objects */
  char os_endpoint[CONFIG_URL_MAX + 1];    /* s3: "http(s)://host[:port]" */
  char os_bucket[CONFIG_BUCKET_MAX + 1];
  char os_region[CONFIG_REGION_MAX + 1];   /* "us-east-1" */
  char os_prefix[CONFIG_PREFIX_MAX + 1];   /* before every key; "" */
  int os_addressing;                       /* config_os_addressing_t; path */
  char os_ca_file[CONFIG_PATH_MAX + 1];    /* "" = the system's CAs */
  char os_secret_key_file[CONFIG_PATH_MAX + 1]; /* else AKIDB_S3_SECRET_KEY */
  uint32_t os_connect_timeout_ms;          /* 5000 */
  uint32_t os_request_timeout_ms;          /* one call, all retries excluded; 60000 */
  uint32_t os_max_parallel;                /* transfers at once; 8 */
  uint64_t os_part_size_bytes;             /* multipart part; 8 MiB */
  uint32_t os_max_retries;                 /* 4 */
  uint32_t os_retry_base_ms;               /* 100 */
  uint32_t os_retry_max_ms;                /* 5000 */
  uint32_t os_breaker_failures;            /* consecutive failures that open it; 5 */
  uint32_t os_breaker_cooldown_ms;         /* open → half-open; 10000 */
  uint32_t os_dead_letter_retry_ms;        /* dead-letter queue retry period; 30000 */
  /* [auth] */
  char admin_username[CONFIG_USERNAME_MAX + 1]; /* "admin" */
  uint32_t session_ttl_s;                       /* 43200 */
  /* [limits] */
  akidb_limits_t limits;
  /* [log] */
  akidb_log_level_t log_level;  /* info */
  obs_log_format_t log_format;  /* text */
  uint32_t slow_request_ms;     /* requests slower are logged with their plan; 1000; 0 = off */
  /* [audit] */
  uint32_t audit_retention_days; /* 90; 0 = keep forever */
  /* [embedding] */
  char embed_allowed_urls[4 * CONFIG_URL_MAX + 4]; /* prefixes collections' model servers may use */
  /* [tracing] (docs/tracing.md; defaults and ranges: trace/trace.h) */
  bool trace_enabled;                              /* false; ENABLE_TRACING */
  char trace_endpoint[TRACE_ENDPOINT_MAX + 1];     /* the OTLP/HTTP collector's base URL */
  double trace_sample_ratio;                       /* 0..1; 1 */
  uint32_t trace_queue_capacity;                   /* 2048 */
  uint32_t trace_batch_max;                        /* 512 */
  uint32_t trace_batch_delay_ms;                   /* 1000 */
  uint32_t trace_export_timeout_ms;                /* 5000 */
  uint32_t trace_shutdown_timeout_ms;              /* 2000 */
  char trace_service_name[TRACE_SERVICE_NAME_MAX + 1]; /* "akidb" */
  /* [metrics] (docs/metrics.md) */
  bool metrics_per_collection;                     /* false: no per-collection series */
  uint32_t metrics_per_collection_limit;           /* 20: the largest by memory; the rest "other" */

  /* Not settings of the file: */
  char admin_password[CONFIG_PASSWORD_MAX + 1]; /* AKIDB_ADMIN_PASSWORD; "" = none */
  char s3_access_key[CONFIG_SECRET_MAX + 1];    /* AKIDB_S3_ACCESS_KEY */
  char s3_secret_key[CONFIG_SECRET_MAX + 1];    /* AKIDB_S3_SECRET_KEY or the file */
  char s3_session_token[CONFIG_TOKEN_MAX + 1];  /* AKIDB_S3_SESSION_TOKEN; "" = none */
  char config_file[CONFIG_PATH_MAX + 1];        /* the file loaded; "" = none */
} config_t;

/* What the command line asked for besides settings. */
typedef struct {
  bool help;         /* -h / --help */
  bool print_routes; /* --print-routes */
  bool print_config; /* --print-config */
} config_cli_t;

/* --------------------------------------------------------------- toml.c --
 * A parser for the TOML subset configuration files use: [table] headers,
 * bare keys, `key = value` with basic strings ("..." with \" \\ \b \t \n \f
 * \r \uXXXX \UXXXXXXXX escapes), literal strings ('...'), decimal integers
 * (optional _ between digits), floats, booleans, # comments and blank lines.
 * Anything else (arrays, inline tables, multi-line strings, dotted or quoted
 * keys, dates) is refused with a message saying so. Tables and keys defined
 * twice are refused.
 */

typedef enum {
  CONFIG_TOML_STRING,
  CONFIG_TOML_INTEGER,
  CONFIG_TOML_FLOAT,
  CONFIG_TOML_BOOL,
} config_toml_type_t;

typedef struct {
  config_toml_type_t type;
  const char *string; /* STRING: decoded, NUL-terminated (no NUL inside) */
  size_t string_len;
  int64_t integer;    /* INTEGER */
  double number;      /* FLOAT */
  bool boolean;       /* BOOL */
  const char *raw;    /* the value as written (shortened past 60 bytes) */
} config_toml_value_t;

/*
 * Called for each table header (key and v NULL) and each key/value pair
 * (table "" before any header), in file order; pointers are valid during the
 * call only. Returns AKIDB_OK, or an error code with `err` filled with the
 * rest of the message (the parser prefixes it with "<name>:<line>: ").
 */
typedef int (*config_toml_fn)(void *ctx, const char *table, const char *key,
                              const config_toml_value_t *v, int line, char *err,
                              size_t errlen);

/* Parses `len` bytes of `text`; messages start with "<name>:<line>: ".
 * Returns AKIDB_OK, the callback's error, AKIDB_EINVAL or AKIDB_ENOMEM. */
int config_toml_parse(const char *name, const char *text, size_t len, config_toml_fn fn,
                      void *ctx, char *err, size_t errlen);

/* ------------------------------------------------------------ config.c -- */

/* Every setting at its default; no file, no password. */
void config_default(config_t *c);

/* Checks what single keys cannot: settings that must agree with each other
 * (TLS files set together, limits.max_ef >= limits.max_k, an S3 object
 * store's endpoint, bucket and credentials, tracing.batch_max <=
 * tracing.queue_capacity). AKIDB_OK or AKIDB_EINVAL with
 * `err`. */
int config_validate(const config_t *c, char *err, size_t errlen);

/* The tracer's configuration (pointers into `c`). */
void config_trace_options(const config_t *c, trace_config_t *o);

/* Whether the object store is S3 (kind "s3", or "auto" with an endpoint). */
bool config_uses_s3(const config_t *c);

/* Checks, at start, that files named by the configuration can be read
 * (the TLS certificate and key, the object store's CA file). AKIDB_OK or
 * AKIDB_EINVAL naming the file. */
int config_check_files(const config_t *c, char *err, size_t errlen);

/* The effective configuration as a TOML document that config_parse_text
 * reads back to the same settings (the admin password is never written).
 * Returns a malloc'ed string, or NULL when out of memory. */
char *config_to_toml(const config_t *c);

/* One setting of the file: where it lives in config_t and how it is checked.
 * Module-internal (config.c owns the table; load.c looks settings up). */
typedef enum {
  CONFIG_KIND_STRING,
  CONFIG_KIND_UINT,
  CONFIG_KIND_CHOICE,
  CONFIG_KIND_BOOL,  /* a bool field: TOML true/false; text true/1/yes/on, false/0/no/off */
  CONFIG_KIND_RATIO, /* a double field in 0..1: TOML float or integer; text a decimal number */
} config_kind_t;

typedef struct {
  const char *table, *key;
  config_kind_t kind;
  size_t offset, size;          /* the field in config_t and its size in bytes */
  uint64_t min, max;            /* UINT: the accepted range */
  const char *const *choices;   /* CHOICE: names in enum order, NULL-terminated */
  bool (*check)(const char *s); /* STRING: extra rule, or NULL */
  const char *rule;             /* STRING: what `check` wants, for messages */
  const char *env;              /* environment variable, or NULL */
  const char *flag;             /* command-line flag, or NULL */
} config_setting_t;

/* The settings, in file order; `*n` gets their number. */
const config_setting_t *config_settings(size_t *n);

/* The tables, in file order, NULL-terminated. */
const char *const *config_tables(void);

/* Sets `s` from a TOML value, or fills `why` ("expected an integer
 * 0..65535, got \"abc\"") and returns AKIDB_EINVAL. */
int config_set_toml(config_t *c, const config_setting_t *s, const config_toml_value_t *v,
                    char *why, size_t whylen);

/* Sets `s` from text (an environment variable or a flag's argument). */
int config_set_text(config_t *c, const config_setting_t *s, const char *text, char *why,
                    size_t whylen);

/* ------------------------------------------------------------- load.c -- */

/* Layer 1: applies the TOML text `text` (`len` bytes, named `name` in
 * messages) on top of `c`. AKIDB_OK or AKIDB_EINVAL. */
int config_parse_text(config_t *c, const char *name, const char *text, size_t len, char *err,
                      size_t errlen);

/* Layer 1: reads the file `path` and applies it (records it in
 * c->config_file). AKIDB_EIO when it cannot be read, else as
 * config_parse_text. */
int config_load_file(config_t *c, const char *path, char *err, size_t errlen);

/* Layer 2: applies the environment variable of every setting that has one
 * (AKIDB_HOST, AKIDB_REST_PORT, AKIDB_DATA_DIR, ...), then the secrets that
 * only the environment or a file gives: AKIDB_ADMIN_PASSWORD,
 * AKIDB_S3_ACCESS_KEY, AKIDB_S3_SECRET_KEY (or object_store.secret_key_file,
 * read here) and AKIDB_S3_SESSION_TOKEN. An empty variable counts as unset.
 * AKIDB_OK or AKIDB_EINVAL naming the variable or file. */
int config_apply_env(config_t *c, char *err, size_t errlen);

/*
 * Everything `akidb serve` does to find its configuration: defaults, then
 * the file (--config, else $AKIDB_CONFIG, else ./config.toml when it
 * exists), then the environment, then the flags of argv (argv[0] is the
 * command name and is skipped), then config_validate. With --help only the
 * flags are parsed (cli->help is set, nothing is loaded). AKIDB_OK,
 * AKIDB_EINVAL (a bad value or flag; `err` says which) or AKIDB_EIO (the
 * file cannot be read).
 */
int config_load(config_t *c, int argc, char **argv, config_cli_t *cli, char *err,
                size_t errlen);

/* ---------------------------------------------------------- options.c -- */

/* The service's options for this configuration. String pointers point into
 * `c`, which must outlive their use; log sink left at the service default. */
void config_service_options(const config_t *c, akidb_service_options_t *o);

/* The object store's options for this configuration (pointers into `c`;
 * a local store without a path is <data_dir>/objects, set by the service). */
void config_objstore_options(const config_t *c, akidb_objstore_options_t *o);

/* The REST transport's options for this configuration (pointers into `c`). */
void config_http_options(const config_t *c, http_options_t *o);

#endif /* AKIDB_CONFIG_H */
