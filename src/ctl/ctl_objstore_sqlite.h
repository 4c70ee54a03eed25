/* ctl_objstore_sqlite: the "sqlite" object store (ctl_objstore.h), the
 * local control plane's: objects, status and events in one SQLite file
 * through ctl_store, which stays the SQLite layer. put and delete notify
 * the watchers synchronously, after the write is committed.
 *
 * The same file also holds the local orchestrator's private state (the
 * pods table of ctl_store: engine processes a restarted `brix up` adopts).
 * That is no part of the object store table; ctl_objstore_sqlite_store
 * hands the SQLite handle to `brix up`'s local wiring for it. */
#ifndef CTL_OBJSTORE_SQLITE_H
#define CTL_OBJSTORE_SQLITE_H

#include <stddef.h>

#include "ctl/ctl_objstore.h"
#include "ctl/ctl_store.h"

/* Opens (creating when missing) the SQLite file at path (":memory:" for
 * tests) with ctl_store_open. 0 and *out (free with ctl_objstore_close),
 * or -1 with a message. */
int ctl_objstore_sqlite_open(const char *path, ctl_objstore **out, char *err, size_t errlen);

/* The SQLite handle under an "sqlite" store (NULL for another kind of
 * store), for the local orchestrator's pod rows. Borrowed: valid until
 * ctl_objstore_close; use it from the loop thread only. */
ctl_store *ctl_objstore_sqlite_store(ctl_objstore *st);

#endif
