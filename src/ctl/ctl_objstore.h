/* ctl_objstore: where the control plane's objects live, as a table of
 * function pointers (the shape of gw_strategy and as_policy): get, list by
 * kind, put a manifest, delete, write status, record and read events,
 * close. The controllers (ctl_deploy, ctl_lora, ctl_autoscale), the admin
 * API (ctl_api) and `brix up` (ctl_up) reach objects only through this
 * table and its watch, so they know nothing of where objects are kept.
 *
 * Implementations, one file each:
 *   ctl_objstore_sqlite.c  "sqlite": the local store (ctl_store, one SQLite
 *                          file); the first implementation.
 *   ctl_objstore_k8s.c     "kubernetes": a Kubernetes API server (brix
 *                          controller): get and list answered from its
 *                          reflectors' caches, writes sent to the API
 *                          server, its watch streams feeding
 *                          ctl_objstore_notify (ctl_objstore_k8s.h).
 *
 * Objects. A manifest is what the user applied, with `status` and the
 * server-owned metadata (generation, uid, resourceVersion, ...) removed;
 * status is a separate JSON object only set_status writes. generation
 * starts at 1 and grows by one with every put that changes the manifest,
 * as Kubernetes' metadata.generation does; a put of the same manifest
 * changes nothing. Events are Kubernetes' (type, reason, message, count,
 * first and last time), aggregated: an event equal to the object's latest
 * bumps its count.
 *
 * Watch. A controller registers a callback for a kind. The store calls it
 *   - CTL_WATCH_PUT after a put that created an object or changed its
 *     manifest (a new generation). A put of an unchanged manifest and every
 *     set_status write notify no one: a controller writing its own status
 *     must not wake itself. A Kubernetes implementation filters its watch
 *     stream the same way, by metadata.generation (status writes do not
 *     bump it).
 *   - CTL_WATCH_DELETE after a delete that found the object.
 *   - CTL_WATCH_STATUS, to watchers registered with
 *     ctl_objstore_watch_status only, after a status write.
 *   - CTL_WATCH_SYNC from ctl_objstore_sync: every stored object of a kind
 *     replayed, so a controller started over an existing store learns what
 *     was there before it watched (Kubernetes' informers deliver their
 *     initial list the same way). `brix up` syncs Deployments first, then
 *     ModelAdapters, then PodAutoscalers.
 * Watchers of a kind are called in the order they registered, after the
 * write is stored (a get from inside the callback sees it), synchronously
 * from the put or delete call (so an admin API answer is sent after every
 * controller has seen the change, as before the watch existed). A watcher
 * may call the store, including put and delete (their notifications nest),
 * and may unwatch itself or others.
 *
 * Errors: functions return -1 with a message in err (err may be NULL);
 * lookups that find nothing return 1.
 *
 * Threads and ownership: one loop thread; no locking. JSON passed in is
 * only read; records and events returned are owned by the caller
 * (ctl_record_clear / ctl_records_free / ctl_events_free). The ctl_obj in a
 * watch event is valid only during the callback (copy what you keep). The
 * store must outlive its watchers: controllers unwatch in their close. */
#ifndef CTL_OBJSTORE_H
#define CTL_OBJSTORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl/ctl_obj.h"

/* ---- records and events (every implementation returns these) ---- */

typedef struct ctl_record {
    char kind[32];
    char name[CTL_NAME_MAX + 1];
    json_t *object; /* the stored manifest */
    json_t *status; /* {} until set */
    int64_t generation;
    int64_t created_ms, updated_ms; /* Unix ms; updated: last manifest change */
} ctl_record;

void ctl_record_clear(ctl_record *r);
void ctl_records_free(ctl_record *r, size_t n);

typedef enum ctl_event_type { CTL_EVENT_NORMAL = 0, CTL_EVENT_WARNING = 1 } ctl_event_type;

const char *ctl_event_type_name(ctl_event_type t); /* "Normal" / "Warning" */

typedef struct ctl_event {
    int64_t id;
    char kind[32];
    char name[CTL_NAME_MAX + 1];
    ctl_event_type type;
    char reason[64];
    char *message; /* malloc'd, freed by ctl_events_free */
    int64_t count;
    int64_t first_ms, last_ms; /* Unix ms */
} ctl_event;

void ctl_events_free(ctl_event *ev, size_t n);

/* ---- the table ---- */

typedef struct ctl_objstore ctl_objstore;

typedef struct ctl_objstore_ops {
    const char *name; /* "sqlite" */
    /* 0 found (out filled), 1 not found, -1. */
    int (*get)(ctl_objstore *st, const char *kind, const char *name, ctl_record *out, char *err,
               size_t errlen);
    /* kind NULL: every kind. Ordered by kind, then name. */
    int (*list)(ctl_objstore *st, const char *kind, ctl_record **out, size_t *n, char *err,
                size_t errlen);
    /* Creates or updates o (kind o->kind, name o->name, manifest o->raw);
     * sets o->generation; *changed (may be NULL) 1 when created or its
     * manifest changed. Notifies the watchers (PUT) when changed. */
    int (*put)(ctl_objstore *st, ctl_obj *o, int *changed, char *err, size_t errlen);
    /* 0 deleted (with its events), 1 not found, -1. Notifies (DELETE). */
    int (*del)(ctl_objstore *st, const char *kind, const char *name, char *err, size_t errlen);
    /* Replaces the status (a JSON object); the manifest and its generation
     * stay. 0, 1 not found, -1. Notifies only the status watchers
     * (STATUS), never the others. */
    int (*set_status)(ctl_objstore *st, const char *kind, const char *name, const json_t *status,
                      char *err, size_t errlen);
    /* Records an event (reason CamelCase, truncated to 63 bytes; message to
     * 4096), aggregated with the object's latest. */
    int (*event)(ctl_objstore *st, const char *kind, const char *name, ctl_event_type type,
                 const char *reason, const char *message, char *err, size_t errlen);
    /* The latest `limit` events of (kind, name), oldest first. */
    int (*events)(ctl_objstore *st, const char *kind, const char *name, size_t limit,
                  ctl_event **out, size_t *n, char *err, size_t errlen);
    /* Frees the implementation (the base's watch list is freed by
     * ctl_objstore_close before this runs). */
    void (*close)(ctl_objstore *st);
} ctl_objstore_ops;

/* ---- watch ---- */

typedef enum ctl_watch_type {
    CTL_WATCH_SYNC = 0, /* stored before the watch: ctl_objstore_sync */
    CTL_WATCH_PUT,      /* created, or its manifest changed */
    CTL_WATCH_DELETE,   /* deleted */
    CTL_WATCH_STATUS,   /* its status was written (ctl_objstore_watch_status only) */
} ctl_watch_type;

typedef struct ctl_watch_event {
    ctl_watch_type type;
    ctl_kind kind;
    const char *name;
    const ctl_obj *obj; /* SYNC, PUT: the object, generation set; DELETE, STATUS: NULL */
} ctl_watch_event;

typedef void (*ctl_watch_cb)(void *ud, const ctl_watch_event *ev);

typedef struct ctl_objstore_watcher {
    ctl_kind kind; /* CTL_KIND_NONE: every kind */
    int status;    /* 1: STATUS events only (ctl_objstore_watch_status); 0: the others */
    ctl_watch_cb cb;
    void *ud;
} ctl_objstore_watcher;

/* The base every implementation embeds as its first member and fills with
 * ctl_objstore_base_init. Users treat it as opaque. */
struct ctl_objstore {
    const ctl_objstore_ops *ops;
    ctl_objstore_watcher *watchers; /* cb NULL: unwatched while notifying */
    size_t nwatchers, capwatchers;
    int notifying; /* depth of nested notifications */
};

/* For implementations: sets the table and an empty watch list. */
void ctl_objstore_base_init(ctl_objstore *st, const ctl_objstore_ops *ops);
/* For implementations: calls the watchers of ev->kind, in registration
 * order. */
void ctl_objstore_notify(ctl_objstore *st, const ctl_watch_event *ev);

/* Registers cb for kind (CTL_KIND_NONE: every kind). 0, or -1 (out of
 * memory). */
int ctl_objstore_watch(ctl_objstore *st, ctl_kind kind, ctl_watch_cb cb, void *ud);
/* Registers cb for the status writes of kind's objects (a controller
 * following the objects another one owns and reports on: the fleet
 * controller its RayClusterReplicaSets' counts). cb gets CTL_WATCH_STATUS
 * events (name set, obj NULL) after each set_status that stored a status,
 * synchronously: it should only note the name and kick its pass. A status
 * watcher gets no other events. 0, or -1 (out of memory). */
int ctl_objstore_watch_status(ctl_objstore *st, ctl_kind kind, ctl_watch_cb cb, void *ud);
/* Removes every registration of (cb, ud); safe from inside a callback. */
void ctl_objstore_unwatch(ctl_objstore *st, ctl_watch_cb cb, void *ud);
/* Replays every stored object of kind to kind's watchers as SYNC events,
 * in name order. An object whose manifest no longer parses is logged and
 * skipped. 0, or -1 when the list fails. */
int ctl_objstore_sync(ctl_objstore *st, ctl_kind kind, char *err, size_t errlen);

/* ---- calls (each dispatches to the table) ---- */

const char *ctl_objstore_name(const ctl_objstore *st);
int ctl_objstore_get(ctl_objstore *st, const char *kind, const char *name, ctl_record *out,
                     char *err, size_t errlen);
int ctl_objstore_list(ctl_objstore *st, const char *kind, ctl_record **out, size_t *n, char *err,
                      size_t errlen);
int ctl_objstore_put(ctl_objstore *st, ctl_obj *o, int *changed, char *err, size_t errlen);
int ctl_objstore_delete(ctl_objstore *st, const char *kind, const char *name, char *err,
                        size_t errlen);
int ctl_objstore_set_status(ctl_objstore *st, const char *kind, const char *name,
                            const json_t *status, char *err, size_t errlen);
int ctl_objstore_event(ctl_objstore *st, const char *kind, const char *name, ctl_event_type type,
                       const char *reason, const char *message, char *err, size_t errlen);
int ctl_objstore_events(ctl_objstore *st, const char *kind, const char *name, size_t limit,
                        ctl_event **out, size_t *n, char *err, size_t errlen);
/* Frees the store (NULL is fine); every watcher must have unwatched. */
void ctl_objstore_close(ctl_objstore *st);

#endif
