/* k8s_discovery: reading API discovery (an APIResourceList, as GET /api/v1
 * or GET /apis/<group>/<version> answers it) to find which plural serves a
 * kind and whether it has the scale subresource, the way client-go's
 * RESTMapper and scale client resolve a scaleTargetRef. Pure: no I/O (the
 * caller GETs and caches; ctl_orch_k8s caches one list per group/version).
 *
 * An APIResourceList's resources[] holds one entry per resource
 * ({name: "statefulsets", kind: "StatefulSet", namespaced: true, ...}) and
 * one per subresource ({name: "statefulsets/scale", kind: "Scale", ...}).
 * Ownership: nothing is kept; strings are copied into the caller's
 * buffers. */
#ifndef K8S_DISCOVERY_H
#define K8S_DISCOVERY_H

#include <jansson.h>
#include <stddef.h>

/* "apps/v1" -> group "apps", version "v1"; "v1" -> group "", version "v1".
 * 0, or -1 (empty, more than one '/', an empty part, does not fit). */
int k8s_api_version_split(const char *api_version, char *group, size_t gcap, char *version,
                          size_t vcap);

/* The discovery path of a group/version: "/api/v1" for the core group,
 * "/apis/<group>/<version>" otherwise. 0 or -1 (does not fit). */
int k8s_discovery_path(char *buf, size_t cap, const char *group, const char *version);

typedef enum k8s_disc_result {
    K8S_DISC_SCALE = 0,    /* found, with a "<plural>/scale" subresource */
    K8S_DISC_NO_SCALE = 1, /* found, no scale subresource */
    K8S_DISC_NO_KIND = 2,  /* no resource of that kind in the list */
    K8S_DISC_INVALID = -1, /* not an APIResourceList, or the plural does not fit */
} k8s_disc_result;

/* Finds kind (case-sensitive, as Kubernetes) in list; on K8S_DISC_SCALE and
 * K8S_DISC_NO_SCALE, plural gets the resource name and *namespaced (may be
 * NULL) its scope. */
k8s_disc_result k8s_discovery_find(const json_t *list, const char *kind, char *plural, size_t cap,
                                   int *namespaced);

#endif
