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
