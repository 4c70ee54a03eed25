/* ctl_owner: Kubernetes owner references between the objects brix's
 * controllers make (a RayClusterFleet owns its RayClusterReplicaSets, which
 * own their RayClusters): who controls an object, and the reference a new
 * object carries to its owner. The same in both stores: the SQLite store
 * keeps metadata.ownerReferences as written, the API server garbage-collects
 * by it.
 *
 * Pure functions over jansson values; no global state. */
#ifndef CTL_OWNER_H
#define CTL_OWNER_H

#include <jansson.h>

/* The name of obj's controller (an entry of metadata.ownerReferences with
 * controller: true) when it is of kind `kind`; NULL otherwise. Borrowed from
 * obj. */
const char *ctl_owner_name(const json_t *obj, const char *kind);

/* A new one-entry ownerReferences array naming owner (a manifest with
 * apiVersion, kind, metadata.name and, from an API server,
 * metadata.uid) as the controller, with blockOwnerDeletion. NULL when owner
 * lacks those fields or out of memory. The caller owns the array. */
json_t *ctl_owner_refs(const json_t *owner);

#endif
