/*
 * options.c — owns the translation of the configuration into the options
 * of the service layer (akidb_service_options_t) and of the REST transport
 * (http_options_t). Kept apart from config.c so that code using only the
 * configuration does not link the service and the transport.
 *
 * Locking: none. Returned options point into the config_t.
 */
#include "config/config.h"

void config_service_options(const config_t *c, akidb_service_options_t *o) {
  akidb_service_options_default(o);
  o->data_dir = c->data_dir;
  o->db_path = c->db_path[0] ? c->db_path : NULL;
  o->admin_username = c->admin_username;
  o->admin_password = c->admin_password[0] ? c->admin_password : NULL;
  o->durability = c->durability;
  o->fsync_interval_ms = c->fsync_interval_ms;
  o->index_threads = c->index_threads;
  o->worker_threads = c->worker_threads;
  o->memory_budget_bytes = c->memory_budget_bytes;
  o->max_pending_bytes = c->max_pending_bytes;
  o->backpressure_wait_ms = c->backpressure_wait_ms;
  o->warm_after_s = c->warm_after_s;
  o->tier_check_ms = c->tier_check_ms;
  o->cold_after_s = c->cold_after_s;
  o->dead_letter_retry_ms = c->os_dead_letter_retry_ms;
  o->session_ttl_ms = (int64_t)c->session_ttl_s * 1000;
  o->audit_retention_days = c->audit_retention_days;
  o->limits = c->limits;
  o->embed_allowed_urls = c->embed_allowed_urls;
  o->slow_request_ms = c->slow_request_ms;
  config_objstore_options(c, &o->objstore);
}

void config_objstore_options(const config_t *c, akidb_objstore_options_t *o) {
  akidb_objstore_options_default(o);
  bool s3 = config_uses_s3(c);
  o->kind = s3 ? "s3" : "local";
  o->path = !s3 && c->os_path[0] ? c->os_path : NULL; /* NULL: <data_dir>/objects */
  o->endpoint = s3 ? c->os_endpoint : NULL;
  o->bucket = s3 ? c->os_bucket : NULL;
  o->region = c->os_region;
  o->prefix = c->os_prefix;
  o->access_key = s3 ? c->s3_access_key : NULL;
  o->secret_key = s3 ? c->s3_secret_key : NULL;
  o->session_token = c->s3_session_token[0] ? c->s3_session_token : NULL;
  o->ca_file = c->os_ca_file[0] ? c->os_ca_file : NULL;
  o->path_style = c->os_addressing == CONFIG_OS_PATH_STYLE;
  o->connect_timeout_ms = c->os_connect_timeout_ms;
  o->request_timeout_ms = c->os_request_timeout_ms;
  o->max_parallel = c->os_max_parallel;
  o->part_size = c->os_part_size_bytes;
  o->max_retries = c->os_max_retries;
  o->retry_base_ms = c->os_retry_base_ms;
  o->retry_max_ms = c->os_retry_max_ms;
  o->breaker_failures = c->os_breaker_failures;
  o->breaker_cooldown_ms = c->os_breaker_cooldown_ms;
}

void config_http_options(const config_t *c, http_options_t *o) {
  http_options_default(o);
  o->host = c->host;
  o->port = c->rest_port;
  o->threads = c->threads;
  o->connection_timeout_s = c->connection_timeout_s;
  o->max_connections = c->max_connections;
  o->tls_cert_file = c->tls_cert_file[0] ? c->tls_cert_file : NULL;
  o->tls_key_file = c->tls_key_file[0] ? c->tls_key_file : NULL;
  o->limits = c->limits;
  o->metrics_per_collection = c->metrics_per_collection;
  o->metrics_per_collection_limit = c->metrics_per_collection_limit;
}
