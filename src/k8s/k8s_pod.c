/* k8s_pod: see k8s_pod.h. */
#include "k8s/k8s_pod.h"

#include <stdlib.h>
#include <string.h>

k8s_pod_role k8s_pod_engine_labels(const json_t *pod, const char **model, int *port)
{
    const json_t *labels = json_object_get(json_object_get(pod, "metadata"), "labels");
    const char *m = json_string_value(json_object_get(labels, K8S_POD_LABEL_MODEL));
    if (!m || !m[0]) return K8S_POD_NO_MODEL;
    const char *nt = json_string_value(json_object_get(labels, "ray.io/node-type"));
    if (nt && !strcmp(nt, "worker")) return K8S_POD_RAY_WORKER;
    const char *gi = json_string_value(json_object_get(labels, K8S_POD_LABEL_GROUP_INDEX));
    if (gi) { /* as AIBrix: an integer above 0 skips it; anything else does not */
        char *end = NULL;
        long v = strtol(gi, &end, 10);
        if (end != gi && !*end && v > 0) return K8S_POD_GROUP_MEMBER;
    }
    long p = K8S_POD_DEFAULT_PORT;
    const char *pl = json_string_value(json_object_get(labels, K8S_POD_LABEL_PORT));
    if (pl) {
        char *end = NULL;
        p = pl[0] >= '0' && pl[0] <= '9' ? strtol(pl, &end, 10) : -1;
        if (!end || *end || p < 1 || p > 65535) return K8S_POD_BAD_PORT;
    }
    *model = m;
    *port = (int)p;
    return K8S_POD_ENGINE;
}

int k8s_pod_ready(const json_t *pod)
{
    const json_t *conds = json_object_get(json_object_get(pod, "status"), "conditions");
    size_t i;
    const json_t *c;
    json_array_foreach(conds, i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t && !strcmp(t, "Ready")) {
            const char *st = json_string_value(json_object_get(c, "status"));
            return st && !strcmp(st, "True");
        }
    }
    return 0;
}

/* Copies obj[key] (shared) into dst when present. 0, or -1 out of memory. */
static int k8s_pod_copy(json_t *dst, const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return v ? json_object_set(dst, key, v) : 0;
}

static int k8s_pod_slim_meta(json_t *out, const json_t *md, unsigned keep)
{
    json_t *m = json_object();
    if (!m || json_object_set_new(out, "metadata", m)) return -1;
    if (k8s_pod_copy(m, md, "name") || k8s_pod_copy(m, md, "namespace") ||
        k8s_pod_copy(m, md, "resourceVersion") || k8s_pod_copy(m, md, "deletionTimestamp"))
        return -1;
    const json_t *labels = json_object_get(md, "labels");
    if (json_is_object(labels)) {
        if (keep & K8S_POD_SLIM_ALL_LABELS) {
            if (json_object_set(m, "labels", (json_t *)labels)) return -1;
        } else {
            json_t *l = json_object();
            if (!l || json_object_set_new(m, "labels", l) ||
                k8s_pod_copy(l, labels, K8S_POD_LABEL_MODEL) ||
                k8s_pod_copy(l, labels, K8S_POD_LABEL_PORT) ||
                k8s_pod_copy(l, labels, "ray.io/node-type") ||
                k8s_pod_copy(l, labels, K8S_POD_LABEL_GROUP_INDEX))
                return -1;
        }
    }
    const json_t *owners = json_object_get(md, "ownerReferences");
    if ((keep & K8S_POD_SLIM_OWNERS) && json_is_array(owners)) {
        json_t *arr = json_array();
        if (!arr || json_object_set_new(m, "ownerReferences", arr)) return -1;
        size_t i;
        const json_t *r;
        json_array_foreach(owners, i, r)
        {
            json_t *o = json_object();
            if (!o || json_array_append_new(arr, o) || k8s_pod_copy(o, r, "kind") ||
                k8s_pod_copy(o, r, "name") || k8s_pod_copy(o, r, "controller"))
                return -1;
        }
    }
    return 0;
}

static int k8s_pod_slim_status(json_t *out, const json_t *st, unsigned keep)
{
    json_t *s = json_object();
    if (!s || json_object_set_new(out, "status", s) || k8s_pod_copy(s, st, "podIP")) return -1;
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(st, "conditions"), i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (!t || strcmp(t, "Ready")) continue;
        json_t *arr = json_array(), *rc = json_object();
        if (!arr || json_object_set_new(s, "conditions", arr)) {
            json_decref(rc);
            return -1;
        }
        if (!rc || json_array_append_new(arr, rc) || k8s_pod_copy(rc, c, "type") ||
            k8s_pod_copy(rc, c, "status") ||
            ((keep & K8S_POD_SLIM_DETAIL) && k8s_pod_copy(rc, c, "lastTransitionTime")))
            return -1;
        break; /* the first Ready condition decides */
    }
    const json_t *cs = json_array_get(json_object_get(st, "containerStatuses"), 0);
    const json_t *rc = json_object_get(cs, "restartCount");
    if ((keep & K8S_POD_SLIM_DETAIL) && rc) {
        json_t *arr = json_array(), *o = json_object();
        if (!arr || json_object_set_new(s, "containerStatuses", arr)) {
            json_decref(o);
            return -1;
        }
        if (!o || json_array_append_new(arr, o) || json_object_set(o, "restartCount", (json_t *)rc))
            return -1;
    }
    return 0;
}

json_t *k8s_pod_slim(const json_t *pod, unsigned keep)
{
    json_t *out = json_object();
    const json_t *st = json_object_get(pod, "status");
    if (!out || k8s_pod_slim_meta(out, json_object_get(pod, "metadata"), keep) ||
        (json_is_object(st) && k8s_pod_slim_status(out, st, keep))) {
        json_decref(out);
        return NULL;
    }
    return out;
}
