/* k8s_reflector: a local copy of one collection (path + label selector +
 * field selector), kept current by LIST then WATCH, the way client-go's
 * reflector does it.
 *
 * - LIST in pages (limit, continue) from resourceVersion "" (a consistent
 *   read); an expired continue token (410) falls back to one full list. The
 *   pages make a new cache, diffed against the old one: on_add, on_update
 *   (resourceVersion changed), on_delete for what is gone; then on_synced.
 * - WATCH from the list's resourceVersion with allowWatchBookmarks=true and
 *   timeoutSeconds random in [watch_min_s, watch_max_s]; each event moves
 *   the last resourceVersion on (bookmarks too). ADDED/MODIFIED whose
 *   resourceVersion equals the cached one are not reported (no-op updates).
 * - A watch that ends cleanly (timeout, low-speed cut, end of stream) is
 *   resumed from the last resourceVersion at once; one that ended within a
 *   second with nothing in it waits a backoff first.
 * - 410 Expired (HTTP or an ERROR event) drops the resourceVersion: relist
 *   from "" and replace the cache (the diff reports what was missed).
 * - Other failures wait a backoff: backoff_min_ms doubling to
 *   backoff_max_ms, back to the start after backoff_reset_ms without one.
 *
 * The cache maps "ns/name" (or "name" for cluster-scoped objects) to the
 * object; it holds what the server has for this selection and no more.
 * Callbacks get borrowed objects, valid during the call (json_incref to
 * keep one). A callback may close the reflector.
 * Threading: the client's loop. */
#ifndef K8S_REFLECTOR_H
#define K8S_REFLECTOR_H

#include <jansson.h>

#include "k8s/k8s_client.h"

typedef struct k8s_reflector k8s_reflector;

typedef struct k8s_reflector_cbs {
    void (*on_add)(k8s_reflector *r, const json_t *obj, void *ud);
    void (*on_update)(k8s_reflector *r, const json_t *old, const json_t *obj, void *ud);
    void (*on_delete)(k8s_reflector *r, const json_t *obj, void *ud);
    /* After each LIST has replaced the cache (the first one: the cache is
     * complete from here on). */
    void (*on_synced)(k8s_reflector *r, void *ud);
    /* Optional, as client-go's TransformFunc: what the cache keeps of each
     * object that arrives (a LIST item, a watch event's object), e.g. only
     * the fields the caller reads, to bound memory. Returns a new reference
     * that keeps metadata.name, .namespace and .resourceVersion, or NULL to
     * keep the object as it came. The other callbacks get the kept objects. */
    json_t *(*transform)(k8s_reflector *r, const json_t *obj, void *ud);
    /* Optional: a LIST failed with this HTTP code (0: no answer) and waits
     * its backoff, e.g. 404 for a custom resource whose CRD is not
     * installed (the reflector keeps trying: it lists once the CRD comes). */
    void (*on_list_error)(k8s_reflector *r, long code, void *ud);
} k8s_reflector_cbs;

typedef struct k8s_reflector_opts {
    const char *path;             /* the collection, e.g. "/api/v1/namespaces/ns/pods" */
    const char *label_selector;   /* NULL: none (copied) */
    const char *field_selector;   /* NULL: none (copied) */
    int page_limit;               /* 500 */
    int watch_min_s, watch_max_s; /* 300, 600 */
    long backoff_min_ms, backoff_max_ms, backoff_reset_ms; /* 800, 30000, 120000 */
} k8s_reflector_opts;

typedef struct k8s_reflector_stats {
    unsigned long lists;   /* LIST requests (pages) */
    unsigned long relists; /* full lists after the first */
    unsigned long watches; /* WATCH requests */
    unsigned long expired; /* 410s seen */
    unsigned long events;  /* watch events applied */
} k8s_reflector_stats;

void k8s_reflector_opts_default(k8s_reflector_opts *o);
/* 0 or -1. Nothing is sent before k8s_reflector_start. */
int k8s_reflector_new(k8s_client *c, const k8s_reflector_opts *o, const k8s_reflector_cbs *cbs,
                      void *ud, k8s_reflector **out);
void k8s_reflector_start(k8s_reflector *r);
/* Stops, frees, then calls done (may be NULL) from the loop. */
void k8s_reflector_close(k8s_reflector *r, void (*done)(void *ud), void *ud);

/* The cached object (borrowed) or NULL. ns "" or NULL for cluster-scoped. */
const json_t *k8s_reflector_get(const k8s_reflector *r, const char *ns, const char *name);
/* The cache: a JSON object key -> object (borrowed; do not modify). */
const json_t *k8s_reflector_cache(const k8s_reflector *r);
int k8s_reflector_synced(const k8s_reflector *r);
const char *k8s_reflector_rv(const k8s_reflector *r);
const k8s_reflector_stats *k8s_reflector_get_stats(const k8s_reflector *r);

#endif
