/*
 * filter/filter.h — the payload filter language of search on its typed
 * form (service.h: akidb_filter_node_t): checking a filter once per
 * request, and deciding whether a point's payload passes it. Used by the
 * service's search; the transports' codecs build the tree.
 */
#ifndef AKIDB_FILTER_H
#define AKIDB_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "service/service.h"

/* Checks `f`: nested at most `max_depth` levels, and/or lists and 'in'
 * non-empty, a field on every condition, each operator's values of the
 * kinds it takes. 0, or -1 with `e` set (INVALID_ARGUMENT, "filter: ..."). */
int filter_check(const akidb_filter_node_t *f, uint32_t max_depth, akidb_svc_error_t *e);

/* Whether a point whose payload is the JSON text `payload` (NULL or empty:
 * none) passes `f` (checked). A condition on a field holding an array
 * passes when one element does; 'ne' is 'not eq'; a missing field passes
 * only 'ne'. Thread-safe (reads `f` only). */
bool filter_match(const akidb_filter_node_t *f, const char *payload, size_t len);

#endif /* AKIDB_FILTER_H */
