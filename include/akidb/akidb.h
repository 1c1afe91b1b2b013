/*
 * akidb/akidb.h — umbrella header of the AkiDB engine library (libakidb).
 */
#ifndef AKIDB_AKIDB_H
#define AKIDB_AKIDB_H

#include "akidb/errors.h"
#include "akidb/hooks.h"
#include "akidb/index.h"
#include "akidb/pool.h"
#include "akidb/store.h"
#include "akidb/vec.h"
#include "akidb/vfs.h"

#define AKIDB_VERSION_STRING "2.0.0-dev"

#endif /* AKIDB_AKIDB_H */
