/*
 * util/curl_global.h — libcurl's process-wide initialisation, done once for
 * every user of libcurl in the server (the S3 client, the embedding
 * provider, the trace exporter). Thread-safe.
 */
#ifndef AKIDB_UTIL_CURL_GLOBAL_H
#define AKIDB_UTIL_CURL_GLOBAL_H

#include <curl/curl.h>

/* curl_global_init(CURL_GLOBAL_DEFAULT) on the first call; its result on
 * every call (CURLE_OK: libcurl is ready). */
CURLcode util_curl_global_init(void);

#endif /* AKIDB_UTIL_CURL_GLOBAL_H */
