/* k8s_write: the writes a controller makes, over k8s_request.
 *
 * Paths: k8s_path builds "/api/v1/..." (group "") or "/apis/G/V/...",
 * namespaced or not, a collection or an item, with a subresource
 * ("status", "scale"). The status subresource is written by giving that
 * path to k8s_replace or k8s_patch (the main endpoint ignores .status).
 *
 * Every call answers through a k8s_done_cb once (k8s_client.h); failures
 * carry the Status reason: AlreadyExists on a create, Conflict on a stale
 * PUT, NotFound, Invalid (422). A NULL return means nothing was sent and no
 * callback will come.
 *
 * k8s_update_retry: the retry-on-conflict loop: GET the latest object, let
 * mutate change it, PUT it with its resourceVersion; on 409 Conflict start
 * over, at most max_tries times. It answers with the last reply (the PUT's,
 * or the GET's when mutate said there is nothing to write). Cancel it
 * (k8s_op_cancel) before closing the client. */
#ifndef K8S_WRITE_H
#define K8S_WRITE_H

#include <jansson.h>

#include "k8s/k8s_client.h"

/* 0, or -1 when it does not fit cap. ns NULL or "": cluster-scoped (or all
 * namespaces for a collection); name NULL: the collection; sub NULL: none. */
int k8s_path(char *buf, size_t cap, const char *group, const char *version, const char *ns,
             const char *plural, const char *name, const char *sub);

enum k8s_patch_type {
    K8S_PATCH_MERGE,     /* application/merge-patch+json (RFC 7386) */
    K8S_PATCH_JSON,      /* application/json-patch+json (RFC 6902); patch is an array */
    K8S_PATCH_STRATEGIC, /* built-in kinds only (415 on custom resources) */
};

/* POST obj to a collection. */
k8s_req *k8s_create(k8s_client *c, const char *coll, const json_t *obj, k8s_done_cb cb, void *ud);
/* PUT obj to an item (or its /status); obj must carry metadata.resourceVersion
 * (NULL returned otherwise: an unconditional update is refused locally). */
k8s_req *k8s_replace(k8s_client *c, const char *item, const json_t *obj, k8s_done_cb cb, void *ud);
k8s_req *k8s_patch(k8s_client *c, const char *item, enum k8s_patch_type t, const json_t *patch,
                   k8s_done_cb cb, void *ud);
/* Merge-patches <item>/scale's spec.replicas. */
k8s_req *k8s_scale(k8s_client *c, const char *item, long replicas, k8s_done_cb cb, void *ud);
/* DELETE with DeleteOptions: propagation "Background"|"Foreground"|"Orphan"
 * or NULL; preconditions uid / resourceVersion or NULL. */
k8s_req *k8s_delete(k8s_client *c, const char *item, const char *propagation, const char *pre_uid,
                    const char *pre_rv, k8s_done_cb cb, void *ud);

/* mutate: 0 = PUT the object as changed; 1 = nothing to write; < 0 = give
 * up (answered as the GET's reply). obj is owned by the helper. */
typedef int (*k8s_mutate_fn)(json_t *obj, void *ud);
typedef struct k8s_op k8s_op;
k8s_op *k8s_update_retry(k8s_client *c, const char *item, int max_tries, k8s_mutate_fn mutate,
                         k8s_done_cb cb, void *ud);
void k8s_op_cancel(k8s_op *op);

#endif
