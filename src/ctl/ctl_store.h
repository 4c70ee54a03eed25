/* ctl_store: the control plane's persistent state in one SQLite file
 * (WAL mode): the objects users applied, their status, an event log, and
 * the engine replicas ("pods") the local orchestrator launched, so that a restarted
 * `brix up` can adopt or restart them.
 *
 * Objects are keyed by (kind, name) where name is the object's key
 * (ctl_key.h): its name in the default namespace, "<namespace>:<name>" in
 * another. Stores from before namespaces hold names only and load as the
 * default namespace's objects, without a migration. Pods' names and
 * deployments are keys too. The stored manifest is the object as
 * applied with `status` and server-owned metadata (generation, uid,
 * resourceVersion, creationTimestamp, managedFields) removed; status is a
 * separate JSON object that only ctl_store_set_status writes. generation
 * starts at 1 and is bumped by a put whose manifest differs from the stored
 * one (spec, labels or annotations: brix annotations change behaviour); a
 * put of the same manifest changes nothing.
 *
 * Events are aggregated as Kubernetes does: an event equal to the object's
 * latest one (type, reason, message) bumps its count and last time instead
 * of adding a row. They are bounded per object and in total; the oldest go
 * first. Deleting an object deletes its events, not its pods (the local orchestrator
 * stops processes and deletes pod rows itself).
 *
 * Schema version: PRAGMA user_version (CTL_STORE_SCHEMA_VERSION). A new file
 * gets the schema; a file with a newer version is refused.
 *
 * Errors: functions return -1 with a message in err (may be NULL); lookups
 * that find nothing return 1. Every sqlite return code is checked.
 *
 * ctl_store is the SQLite layer under the "sqlite" object store
 * (ctl_objstore_sqlite.c), which is how controllers and the admin API reach
 * objects; the pods table is the local orchestrator's own (ctl_orch_local). The
 * record and event types are the object store's (ctl_objstore.h).
 *
 * Threads and ownership: the API is synchronous and a ctl_store has no
 * locking of its own: use one handle from one thread at a time (open another
 * handle for another thread; WAL lets readers run beside a writer). JSON
 * passed in is only read (the caller keeps its references); JSON returned
 * in records is new references owned by the record (ctl_record_clear /
 * ctl_records_free); arrays returned are malloc'd and freed with the given
 * function. Times are Unix milliseconds. */
#ifndef CTL_STORE_H
#define CTL_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl/ctl_obj.h"
#include "ctl/ctl_objstore.h"

#define CTL_STORE_SCHEMA_VERSION 1

typedef struct ctl_store ctl_store;

/* Opens (creating when missing) the database at path; ":memory:" works for
 * tests. 0 or -1. */
int ctl_store_open(const char *path, ctl_store **out, char *err, size_t errlen);
void ctl_store_close(ctl_store *s);

/* Event bounds: per (kind, name) and in total (defaults 100 and 10000). */
void ctl_store_set_event_limits(ctl_store *s, size_t per_object, size_t total);

/* ---- objects ---- */

/* ctl_record (ctl_objstore.h): manifest, status, generation, times. */

/* Creates or updates. *generation (may be NULL) gets the resulting
 * generation, *changed (may be NULL) 1 when the object was created or its
 * manifest changed. now_ms 0 = the current time. */
int ctl_store_put(ctl_store *s, const char *kind, const char *name, const json_t *object,
                  int64_t now_ms, int64_t *generation, int *changed, char *err, size_t errlen);
/* ctl_store_put of o->raw under (kind name, o->name); sets o->generation. */
int ctl_store_put_obj(ctl_store *s, ctl_obj *o, int *changed, char *err, size_t errlen);
/* 0 found (out filled), 1 not found, -1 error. */
int ctl_store_get(ctl_store *s, const char *kind, const char *name, ctl_record *out, char *err,
                  size_t errlen);
/* kind NULL: every kind. Ordered by kind, then name. */
int ctl_store_list(ctl_store *s, const char *kind, ctl_record **out, size_t *n, char *err,
                   size_t errlen);
/* 0 deleted (with its events), 1 not found, -1 error. */
int ctl_store_delete(ctl_store *s, const char *kind, const char *name, char *err, size_t errlen);
/* Replaces the status (a JSON object) without touching the manifest or its
 * generation. 0, 1 not found, -1. */
int ctl_store_set_status(ctl_store *s, const char *kind, const char *name, const json_t *status,
                         char *err, size_t errlen);

/* ---- events ---- */

/* ctl_event, ctl_event_type (ctl_objstore.h). */

/* Records an event (reason: CamelCase, truncated to 63 bytes; message
 * truncated to 4096 bytes). now_ms 0 = the current time. */
int ctl_store_event(ctl_store *s, const char *kind, const char *name, ctl_event_type type,
                    const char *reason, const char *message, int64_t now_ms, char *err,
                    size_t errlen);
/* The latest `limit` events of (kind, name), oldest first. */
int ctl_store_events(ctl_store *s, const char *kind, const char *name, size_t limit,
                     ctl_event **out, size_t *n, char *err, size_t errlen);

/* ---- pods: engine replicas the local orchestrator launched ---- */

typedef struct ctl_pod {
    char name[128]; /* unique, e.g. "<deployment>-<replica>" */
    char deployment[CTL_NAME_MAX + 1];
    int replica; /* replica index */
    int port;
    int pid;        /* 0 when not running */
    char state[32]; /* the local orchestrator's word: Starting, Running, ... */
    int restarts;
    int64_t generation; /* deployment generation it was launched from */
    int64_t started_ms;
    int64_t updated_ms; /* set by ctl_store_pod_put */
} ctl_pod;

/* Inserts or replaces the row named p->name. now_ms 0 = now. */
int ctl_store_pod_put(ctl_store *s, const ctl_pod *p, int64_t now_ms, char *err, size_t errlen);
/* 0 found, 1 not found, -1. */
int ctl_store_pod_get(ctl_store *s, const char *name, ctl_pod *out, char *err, size_t errlen);
/* deployment NULL: all. Ordered by deployment, replica, name. free(*out). */
int ctl_store_pod_list(ctl_store *s, const char *deployment, ctl_pod **out, size_t *n, char *err,
                       size_t errlen);
/* 0 deleted, 1 not found, -1. */
int ctl_store_pod_delete(ctl_store *s, const char *name, char *err, size_t errlen);

#endif
