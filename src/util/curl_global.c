/*
 * util/curl_global.c — owns libcurl's process-wide initialisation
 * (util/curl_global.h). Locking: pthread_once. Durability: none. Built into
 * its own small library (akidb_curl), so the trace library and the server
 * share it without libakidb linking libcurl.
 */
#include <pthread.h>

#include "util/curl_global.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static CURLcode init_rc;

static void init(void) { init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

CURLcode util_curl_global_init(void) {
  pthread_once(&once, init);
  return init_rc;
}
