/* ctl_objstore_k8s_orch: the pure helpers of the "kubernetes" store for the
 * issue 17 kinds (RayClusterFleet, RayClusterReplicaSet, RayCluster): their
 * status as the CRDs keep it, the update of an object from a manifest, and
 * the owners' uids (ctl_objstore_k8s.h). No I/O. */
#include <stdio.h>
#include <string.h>

#include "ctl/ctl_objstore_k8s.h"
#include "k8s/k8s_parse.h"

/* Copies the keys of src named in keep (NULL: all) into a new object. */
static json_t *pick(const json_t *src, const char *const *keep)
{
    if (!keep) return json_is_object(src) ? json_deep_copy(src) : json_object();
    json_t *out = json_object();
    if (!out) return NULL;
    for (size_t i = 0; keep[i]; i++) {
        json_t *v = json_object_get(src, keep[i]);
        if (v && json_object_set_new(out, keep[i], json_deep_copy(v)) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

json_t *ctl_objstore_k8s_status_orch(ctl_kind kind, const json_t *status)
{
    static const char *const fleet[] = {"observedGeneration",
                                        "replicas",
                                        "updatedReplicas",
                                        "readyReplicas",
                                        "availableReplicas",
                                        "unavailableReplicas",
                                        "conditions",
                                        "collisionCount",
                                        "scalingTargetSelector",
                                        NULL};
    static const char *const fleet_cond[] = {
        "type", "status", "lastUpdateTime", "lastTransitionTime", "reason", "message", NULL};
    static const char *const rs[] = {"replicas",
                                     "fullyLabeledReplicas",
                                     "readyReplicas",
                                     "availableReplicas",
                                     "observedGeneration",
                                     "conditions",
                                     NULL};
    static const char *const rs_cond[] = {"type",   "status",  "lastTransitionTime",
                                          "reason", "message", NULL};
    const char *const *keep, *const *ckeep;
    switch (kind) {
    case CTL_KIND_RAYCLUSTER_FLEET:
        keep = fleet;
        ckeep = fleet_cond;
        break;
    case CTL_KIND_RAYCLUSTER_REPLICASET:
        keep = rs;
        ckeep = rs_cond;
        break;
    case CTL_KIND_RAYCLUSTER:
        return pick(status, NULL);
    default:
        return NULL;
    }
    json_t *out = pick(status, keep);
    json_t *conds = json_object_get(out, "conditions");
    for (size_t i = 0; i < json_array_size(conds); i++) {
        json_t *c = pick(json_array_get(conds, i), ckeep);
        if (!c || json_array_set_new(conds, i, c) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

int ctl_objstore_k8s_subset(const json_t *a, const json_t *b)
{
    if (json_is_object(a) && json_is_object(b)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k,
                            v) if (!ctl_objstore_k8s_subset(v, json_object_get(b, k))) return 0;
        return 1;
    }
    if (json_is_array(a) && json_is_array(b)) {
        if (json_array_size(a) != json_array_size(b)) return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!ctl_objstore_k8s_subset(json_array_get(a, i), json_array_get(b, i))) return 0;
        return 1;
    }
    return a && b && json_equal(a, b);
}

/* obj[key] = src[key], or removed when src lacks it; 1 when it changed. */
static int set_like(json_t *obj, const json_t *src, const char *key, int *oom)
{
    json_t *want = json_object_get(src, key), *cur = json_object_get(obj, key);
    if (!want) return cur && json_object_del(obj, key) == 0;
    if (cur && json_equal(cur, want)) return 0;
    if (json_object_set_new(obj, key, json_deep_copy(want)) != 0) *oom = 1;
    return 1;
}

int ctl_objstore_k8s_apply(json_t *obj, const json_t *want)
{
    json_t *md = json_object_get(obj, "metadata");
    const json_t *wmd = json_object_get(want, "metadata");
    if (!json_is_object(md)) return -1;
    int oom = 0, ch = 0;
    ch |= set_like(md, wmd, "labels", &oom);
    ch |= set_like(md, wmd, "annotations", &oom);
    ch |= set_like(md, wmd, "ownerReferences", &oom);
    const json_t *ws = json_object_get(want, "spec");
    if (ws && !ctl_objstore_k8s_subset(ws, json_object_get(obj, "spec")))
        ch |= set_like(obj, want, "spec", &oom);
    if (oom) return -1;
    return ch ? 0 : 1;
}

int ctl_objstore_k8s_fill_owners(json_t *manifest,
                                 const json_t *(*lookup)(const char *kind, const char *name,
                                                         void *ud),
                                 void *ud, char *err, size_t errlen)
{
    json_t *refs = json_object_get(json_object_get(manifest, "metadata"), "ownerReferences");
    size_t i;
    json_t *r;
    json_array_foreach(refs, i, r)
    {
        const char *kind = json_string_value(json_object_get(r, "kind"));
        const char *name = json_string_value(json_object_get(r, "name"));
        if (!json_is_object(r) || !kind || !name) {
            if (err && errlen)
                snprintf(err, errlen, "store: an ownerReference needs kind and name");
            return -1;
        }
        const json_t *owner = lookup(kind, name, ud);
        const char *uid = owner ? k8s_meta(owner, "uid") : "";
        if (!uid[0]) {
            if (!owner && json_string_length(json_object_get(r, "uid")))
                continue; /* not one we see: its uid as given */
            if (err && errlen)
                snprintf(err, errlen, "store: owner %s %s not found (not yet seen)", kind, name);
            return -1;
        }
        if (json_object_set_new(r, "uid", json_string(uid)) != 0) {
            if (err && errlen) snprintf(err, errlen, "store: out of memory");
            return -1;
        }
    }
    return 0;
}
