/*
 * load.c — owns the three layers of the configuration: the TOML file
 * (unknown tables and keys refused with the closest known name, the admin
 * password refused), the AKIDB_* environment variables, and the flags of
 * `akidb serve`; each layer overrides the one before, then config_validate
 * checks what spans several keys.
 *
 * Locking: none; reads the environment (getenv), so call it before threads
 * that change the environment start.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "akidb/errors.h"
#include "config/config.h"

#define PASSWORD_MIN 12 /* bytes of AKIDB_ADMIN_PASSWORD, as for every user */

/* ------------------------------------------------------- suggestions -- */

/* Edit distance of two short strings counting an insertion, a deletion, a
 * substitution or a swap of neighbours as one (optimal string alignment);
 * longer strings count as far. */
static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 63 || lb > 63) return 64;
  size_t d[64][64];
  for (size_t i = 0; i <= la; i++) d[i][0] = i;
  for (size_t j = 0; j <= lb; j++) d[0][j] = j;
  for (size_t i = 1; i <= la; i++) {
    for (size_t j = 1; j <= lb; j++) {
      size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  }
  return d[la][lb];
}

/* True when `part` is one of the '_'-separated words of `known` ("port" of
 * "rest_port"). */
static bool is_word_of(const char *part, const char *known) {
  size_t n = strlen(part);
  if (n < 3) return false;
  for (const char *p = known; (p = strstr(p, part)) != NULL; p++) {
    bool starts = p == known || p[-1] == '_';
    bool ends = p[n] == '\0' || p[n] == '_';
    if (starts && ends) return true;
  }
  return false;
}

/* Close enough to be a typo of each other. */
static bool is_close(const char *typed, const char *known) {
  size_t len = strlen(known);
  size_t limit = len <= 4 ? 1 : (len / 4 > 2 ? len / 4 : 2);
  return edit_distance(typed, known) <= limit;
}

static bool table_known(const char *table) {
  for (const char *const *t = config_tables(); *t; t++)
    if (strcmp(*t, table) == 0) return true;
  return false;
}

static const config_setting_t *find_setting(const char *table, const char *key) {
  size_t n;
  const config_setting_t *s = config_settings(&n);
  for (size_t i = 0; i < n; i++)
    if (strcmp(s[i].table, table) == 0 && strcmp(s[i].key, key) == 0) return &s[i];
  return NULL;
}

/* "did you mean ...?" for an unknown key of `table`: a close key of the same
 * table, else the same key in another table, else the list of the table's
 * keys. */
static void suggest_key(const char *table, const char *key, char *out, size_t n) {
  size_t count;
  const config_setting_t *s = config_settings(&count);
  const config_setting_t *best = NULL;
  size_t best_d = SIZE_MAX;
  for (size_t i = 0; i < count; i++) {
    if (strcmp(s[i].table, table) != 0 || !is_close(key, s[i].key)) continue;
    size_t d = edit_distance(key, s[i].key);
    if (d < best_d) best = &s[i], best_d = d;
  }
  for (size_t i = 0; i < count && !best; i++)
    if (strcmp(s[i].table, table) == 0 && is_word_of(key, s[i].key)) best = &s[i];
  if (best) {
    snprintf(out, n, "; did you mean '%s'?", best->key);
    return;
  }
  for (size_t i = 0; i < count; i++) {
    if (strcmp(s[i].key, key) == 0) {
      snprintf(out, n, "; it belongs under [%s]", s[i].table);
      return;
    }
  }
  if (!table[0]) {
    snprintf(out, n, "; every key belongs under a table header such as [server]");
    return;
  }
  size_t used = (size_t)snprintf(out, n, " (the keys of [%s] are", table);
  for (size_t i = 0, k = 0; i < count && used < n; i++)
    if (strcmp(s[i].table, table) == 0)
      used += (size_t)snprintf(out + used, n - used, "%s %s", k++ ? "," : "", s[i].key);
  if (used < n) snprintf(out + used, n - used, ")");
}

static void suggest_table(const char *table, char *out, size_t n) {
  for (const char *const *t = config_tables(); *t; t++) {
    if (is_close(table, *t)) {
      snprintf(out, n, "; did you mean [%s]?", *t);
      return;
    }
  }
  size_t used = (size_t)snprintf(out, n, " (the tables are");
  int k = 0;
  for (const char *const *t = config_tables(); *t && used < n; t++)
    used += (size_t)snprintf(out + used, n - used, "%s [%s]", k++ ? "," : "", *t);
  if (used < n) snprintf(out + used, n - used, ")");
}

/* ----------------------------------------------------------- layer 1 -- */

static int on_toml(void *ctx, const char *table, const char *key, const config_toml_value_t *v,
                   int line, char *err, size_t errlen) {
  config_t *c = ctx;
  (void)line;
  char hint[400];
  if (!key) {
    if (table_known(table)) return AKIDB_OK;
    suggest_table(table, hint, sizeof hint);
    snprintf(err, errlen, "unknown table [%s]%s", table, hint);
    return AKIDB_EINVAL;
  }
  char full[300];
  snprintf(full, sizeof full, "%s%s%s", table, table[0] ? "." : "", key);
  if (strcmp(key, "admin_password") == 0) {
    snprintf(err, errlen,
             "key '%s': the admin password is never read from the configuration file; remove "
             "it and set the environment variable AKIDB_ADMIN_PASSWORD instead",
             full);
    return AKIDB_EINVAL;
  }
  if (strcmp(table, "object_store") == 0 &&
      (strcmp(key, "access_key") == 0 || strcmp(key, "secret_key") == 0 ||
       strcmp(key, "session_token") == 0)) {
    snprintf(err, errlen,
             "key '%s': S3 credentials are never read from the configuration file; remove it "
             "and set the environment variable AKIDB_S3_%s instead (or, for the secret key, "
             "object_store.secret_key_file)",
             full, strcmp(key, "access_key") == 0   ? "ACCESS_KEY"
                   : strcmp(key, "secret_key") == 0 ? "SECRET_KEY"
                                                    : "SESSION_TOKEN");
    return AKIDB_EINVAL;
  }
  const config_setting_t *s = find_setting(table, key);
  if (!s) {
    suggest_key(table, key, hint, sizeof hint);
    snprintf(err, errlen, "unknown key '%s'%s", full, hint);
    return AKIDB_EINVAL;
  }
  char why[400];
  if (config_set_toml(c, s, v, why, sizeof why)) {
    snprintf(err, errlen, "key '%s': %s", full, why);
    return AKIDB_EINVAL;
  }
  return AKIDB_OK;
}

int config_parse_text(config_t *c, const char *name, const char *text, size_t len, char *err,
                      size_t errlen) {
  return config_toml_parse(name, text, len, on_toml, c, err, errlen);
}

/* Reads a whole regular file of at most CONFIG_FILE_MAX bytes. */
static int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "cannot read config file '%s': %s", path, strerror(errno));
    return AKIDB_EIO;
  }
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "config file '%s' is not a regular file", path);
    fclose(f);
    return AKIDB_EIO;
  }
  if ((uint64_t)st.st_size > CONFIG_FILE_MAX) {
    snprintf(err, errlen, "config file '%s' is %lld bytes; at most %u are allowed", path,
             (long long)st.st_size, CONFIG_FILE_MAX);
    fclose(f);
    return AKIDB_EINVAL;
  }
  char *buf = malloc((size_t)st.st_size + 1);
  if (!buf) {
    fclose(f);
    snprintf(err, errlen, "out of memory reading config file '%s'", path);
    return AKIDB_ENOMEM;
  }
  size_t n = fread(buf, 1, (size_t)st.st_size, f);
  bool failed = ferror(f) != 0;
  fclose(f);
  if (failed) {
    free(buf);
    snprintf(err, errlen, "cannot read config file '%s': read error", path);
    return AKIDB_EIO;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return AKIDB_OK;
}

int config_load_file(config_t *c, const char *path, char *err, size_t errlen) {
  if (strlen(path) > CONFIG_PATH_MAX) {
    snprintf(err, errlen, "config file path is longer than %d bytes", CONFIG_PATH_MAX);
    return AKIDB_EINVAL;
  }
  char *text = NULL;
  size_t len = 0;
  int rc = read_file(path, &text, &len, err, errlen);
  if (rc) return rc;
  rc = config_parse_text(c, path, text, len, err, errlen);
  free(text);
  if (rc == AKIDB_OK) snprintf(c->config_file, sizeof c->config_file, "%s", path);
  return rc;
}

/* ----------------------------------------------------------- layer 2 -- */

static int apply_password(config_t *c, const char *pw, char *err, size_t errlen) {
  size_t len = strlen(pw);
  if (len < PASSWORD_MIN || len > CONFIG_PASSWORD_MAX) {
    snprintf(err, errlen,
             "environment variable AKIDB_ADMIN_PASSWORD: the password must be %d..%d bytes "
             "long, got %zu bytes",
             PASSWORD_MIN, CONFIG_PASSWORD_MAX, len);
    return AKIDB_EINVAL;
  }
  memcpy(c->admin_password, pw, len + 1);
  return AKIDB_OK;
}

/* Copies the environment variable `name` into out (cap bytes with the NUL);
 * unset or empty leaves out as it is. */
static int secret_from_env(const char *name, char *out, size_t cap, char *err, size_t errlen) {
  const char *v = getenv(name);
  if (!v || !v[0]) return AKIDB_OK;
  size_t len = strlen(v);
  if (len >= cap) {
    snprintf(err, errlen, "environment variable %s: at most %zu bytes, got %zu", name, cap - 1,
             len);
    return AKIDB_EINVAL;
  }
  memcpy(out, v, len + 1);
  return AKIDB_OK;
}

/* The secret key from object_store.secret_key_file: its first line. */
static int secret_from_file(config_t *c, char *err, size_t errlen) {
  FILE *f = fopen(c->os_secret_key_file, "r");
  if (!f) {
    snprintf(err, errlen, "object_store.secret_key_file: cannot read '%s': %s",
             c->os_secret_key_file, strerror(errno));
    return AKIDB_EINVAL;
  }
  char line[CONFIG_SECRET_MAX + 2] = "";
  bool got = fgets(line, sizeof line, f) != NULL;
  fclose(f);
  size_t len = strcspn(line, "\r\n");
  if (!got || len == 0 || len > CONFIG_SECRET_MAX) {
    snprintf(err, errlen, "object_store.secret_key_file '%s': its first line must hold the "
             "secret key (1..%d bytes)", c->os_secret_key_file, CONFIG_SECRET_MAX);
    return AKIDB_EINVAL;
  }
  memcpy(c->s3_secret_key, line, len);
  c->s3_secret_key[len] = '\0';
  return AKIDB_OK;
}

/* The S3 credentials: only from the environment (or the secret key file). */
static int apply_s3_secrets(config_t *c, char *err, size_t errlen) {
  if (secret_from_env("AKIDB_S3_ACCESS_KEY", c->s3_access_key, sizeof c->s3_access_key, err,
                      errlen) ||
      secret_from_env("AKIDB_S3_SECRET_KEY", c->s3_secret_key, sizeof c->s3_secret_key, err,
                      errlen) ||
      secret_from_env("AKIDB_S3_SESSION_TOKEN", c->s3_session_token, sizeof c->s3_session_token,
                      err, errlen))
    return AKIDB_EINVAL;
  if (!c->s3_secret_key[0] && c->os_secret_key_file[0]) return secret_from_file(c, err, errlen);
  return AKIDB_OK;
}

int config_apply_env(config_t *c, char *err, size_t errlen) {
  size_t n;
  const config_setting_t *s = config_settings(&n);
  for (size_t i = 0; i < n; i++) {
    if (!s[i].env) continue;
    const char *v = getenv(s[i].env);
    if (!v || !v[0]) continue;
    char why[400];
    if (config_set_text(c, &s[i], v, why, sizeof why)) {
      snprintf(err, errlen, "environment variable %s (%s.%s): %s", s[i].env, s[i].table,
               s[i].key, why);
      return AKIDB_EINVAL;
    }
  }
  const char *pw = getenv("AKIDB_ADMIN_PASSWORD");
  if (pw && pw[0] && apply_password(c, pw, err, errlen)) return AKIDB_EINVAL;
  return apply_s3_secrets(c, err, errlen);
}

/* ----------------------------------------------------------- layer 3 -- */

typedef struct {
  const config_setting_t *setting;
  const char *value;
} flag_value_t;

static const config_setting_t *find_flag(const char *name, size_t len) {
  size_t n;
  const config_setting_t *s = config_settings(&n);
  for (size_t i = 0; i < n; i++)
    if (s[i].flag && strlen(s[i].flag) == len && strncmp(s[i].flag, name, len) == 0) return &s[i];
  return NULL;
}

static int unknown_flag(const char *arg, char *err, size_t errlen) {
  size_t n;
  const config_setting_t *s = config_settings(&n);
  char name[64];
  snprintf(name, sizeof name, "%.*s", (int)strcspn(arg, "="), arg);
  const char *others[] = {"--config", "--print-routes", "--print-config", "--help"};
  const char *best = NULL;
  for (size_t i = 0; i < n && !best; i++)
    if (s[i].flag && is_close(name, s[i].flag)) best = s[i].flag;
  for (size_t i = 0; i < sizeof others / sizeof others[0] && !best; i++)
    if (is_close(name, others[i])) best = others[i];
  if (name[0] != '-')
    snprintf(err, errlen, "unexpected argument '%s': `akidb serve` takes only flags (see "
             "`akidb serve --help`)", arg);
  else if (best)
    snprintf(err, errlen, "unknown flag '%s'; did you mean %s? (see `akidb serve --help`)",
             name, best);
  else
    snprintf(err, errlen, "unknown flag '%s' (see `akidb serve --help`)", name);
  return AKIDB_EINVAL;
}

/* "--flag VALUE" or "--flag=VALUE" at argv[*i]; advances *i past the value. */
static int flag_argument(int argc, char **argv, int *i, const char *flag, const char **out,
                         char *err, size_t errlen) {
  const char *arg = argv[*i];
  size_t len = strlen(flag);
  if (arg[len] == '=') {
    *out = arg + len + 1;
  } else if (*i + 1 < argc) {
    *out = argv[++*i];
  } else {
    snprintf(err, errlen, "flag %s needs a value (%s VALUE)", flag, flag);
    return AKIDB_EINVAL;
  }
  return AKIDB_OK;
}

/* Pass 1 over the flags: actions, --config, and the setting flags to apply
 * after the environment (kept in `values`, which has room for argc). */
static int parse_flags(int argc, char **argv, config_cli_t *cli, const char **config_path,
                       flag_value_t *values, size_t *n_values, char *err, size_t errlen) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    size_t name_len = strcspn(arg, "=");
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
      cli->help = true;
    } else if (strcmp(arg, "--print-routes") == 0) {
      cli->print_routes = true;
    } else if (strcmp(arg, "--print-config") == 0) {
      cli->print_config = true;
    } else if (name_len == 8 && strncmp(arg, "--config", 8) == 0) {
      if (flag_argument(argc, argv, &i, "--config", config_path, err, errlen)) return AKIDB_EINVAL;
      if (!(*config_path)[0]) {
        snprintf(err, errlen, "flag --config needs a file name");
        return AKIDB_EINVAL;
      }
    } else {
      const config_setting_t *s = find_flag(arg, name_len);
      if (!s) return unknown_flag(arg, err, errlen);
      values[*n_values].setting = s;
      if (flag_argument(argc, argv, &i, s->flag, &values[*n_values].value, err, errlen))
        return AKIDB_EINVAL;
      (*n_values)++;
    }
  }
  return AKIDB_OK;
}

static int apply_flags(config_t *c, const flag_value_t *values, size_t n, char *err,
                       size_t errlen) {
  for (size_t i = 0; i < n; i++) {
    char why[400];
    const config_setting_t *s = values[i].setting;
    if (config_set_text(c, s, values[i].value, why, sizeof why)) {
      snprintf(err, errlen, "flag %s (%s.%s): %s", s->flag, s->table, s->key, why);
      return AKIDB_EINVAL;
    }
  }
  return AKIDB_OK;
}

/* The file to read: --config, else $AKIDB_CONFIG, else ./config.toml if it
 * exists, else none (NULL). */
static const char *choose_file(const char *flag_path) {
  if (flag_path) return flag_path;
  const char *env = getenv("AKIDB_CONFIG");
  if (env && env[0]) return env;
  if (access(CONFIG_DEFAULT_FILE, F_OK) == 0) return CONFIG_DEFAULT_FILE;
  return NULL;
}

int config_load(config_t *c, int argc, char **argv, config_cli_t *cli, char *err,
                size_t errlen) {
  memset(cli, 0, sizeof *cli);
  config_default(c);
  flag_value_t *values = calloc((size_t)(argc > 0 ? argc : 1), sizeof *values);
  if (!values) {
    snprintf(err, errlen, "out of memory");
    return AKIDB_ENOMEM;
  }
  size_t n_values = 0;
  const char *flag_path = NULL;
  int rc = parse_flags(argc, argv, cli, &flag_path, values, &n_values, err, errlen);
  if (rc || cli->help) goto done;
  const char *path = choose_file(flag_path);
  if (path && (rc = config_load_file(c, path, err, errlen))) goto done;
  if ((rc = config_apply_env(c, err, errlen))) goto done;
  if ((rc = apply_flags(c, values, n_values, err, errlen))) goto done;
  rc = config_validate(c, err, errlen);
done:
  free(values);
  return rc;
}
