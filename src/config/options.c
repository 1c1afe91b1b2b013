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
  o->session_ttl_ms = (int64_t)c->session_ttl_s * 1000;
  o->audit_retention_days = c->audit_retention_days;
  o->limits = c->limits;
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
}
