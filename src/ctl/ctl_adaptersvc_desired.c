/* ctl_adaptersvc_desired: the pure part of ctl_adaptersvc_k8s.h: the
 * Service and EndpointSlice wanted for a ModelAdapter, and the "would a
 * merge patch change it?" comparison. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_adaptersvc_k8s.h"
#include "k8s/k8s_parse.h"
#include "k8s/k8s_pod.h"

static int pod_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const ctl_podview *)elem)->name);
}

static int is_ipv4(const char *s)
{
    struct in_addr a;
    return s && inet_pton(AF_INET, s, &a) == 1;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The pods of instances, sorted by name, deduplicated; NULL-safe count. */
static const ctl_podview **loaded_pods(const json_t *instances, const ctl_podview *pods, size_t n,
                                       size_t *out_n, int *oom)
{
    *out_n = 0;
    *oom = 0;
    size_t ni = json_array_size(instances);
    if (!ni || !n) return NULL;
    const char **names = calloc(ni, sizeof(*names));
    const ctl_podview **out = calloc(ni, sizeof(*out));
    if (!names || !out) {
        free(names);
        free(out);
        *oom = 1;
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < ni; i++) {
        const char *s = json_string_value(json_array_get(instances, i));
        if (s) names[k++] = s;
    }
    qsort(names, k, sizeof(*names), name_cmp);
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        if (i && !strcmp(names[i], names[i - 1])) continue;
        const ctl_podview *p = bsearch(names[i], pods, n, sizeof(*pods), pod_cmp);
        if (p && p->phase != CTL_POD_GONE && is_ipv4(p->host)) out[m++] = p;
    }
    free(names);
    *out_n = m;
    return out;
}

static json_t *owner_refs(const json_t *adapter)
{
    return json_pack("[{s:s,s:s,s:s,s:s,s:b,s:b}]", "apiVersion", "model.aibrix.ai/v1alpha1",
                     "kind", "ModelAdapter", "name", k8s_meta(adapter, "name"), "uid",
                     k8s_meta(adapter, "uid"), "controller", 1, "blockOwnerDeletion", 1);
}

static json_t *make_service(const json_t *adapter, const char *base, int port)
{
    const char *name = k8s_meta(adapter, "name");
    json_t *labels = json_pack("{s:s}", CTL_ADAPTERSVC_LABEL_ADAPTER, name);
    if (!labels) return NULL;
    if (json_object_set_new(labels, K8S_POD_LABEL_MODEL, base ? json_string(base) : json_null())) {
        json_decref(labels);
        return NULL;
    }
    json_t *ports = json_pack("[{s:s,s:s,s:i,s:i}]", "name", CTL_ADAPTERSVC_PORT_NAME, "protocol",
                              "TCP", "port", port, "targetPort", port);
    return json_pack("{s:s,s:s,s:{s:s,s:s,s:o,s:o},s:{s:s,s:s,s:n,s:b,s:o}}", "apiVersion", "v1",
                     "kind", "Service", "metadata", "name", name, "namespace",
                     k8s_meta(adapter, "namespace"), "labels", labels, "ownerReferences",
                     owner_refs(adapter), "spec", "type", "ClusterIP", "clusterIP", "None",
                     "selector", "publishNotReadyAddresses", 1, "ports", ports);
}

static json_t *make_endpoints(const json_t *adapter, const ctl_podview **loaded, size_t m)
{
    json_t *eps = json_array();
    for (size_t i = 0; eps && i < m; i++) {
        const ctl_podview *p = loaded[i];
        json_t *ep = json_pack("{s:[s],s:{s:b,s:b},s:{s:s,s:s,s:s}}", "addresses", p->host,
                               "conditions", "ready", p->phase == CTL_POD_READY, "terminating",
                               p->phase == CTL_POD_STOPPING, "targetRef", "kind", "Pod",
                               "namespace", k8s_meta(adapter, "namespace"), "name", p->name);
        if (!ep || json_array_append_new(eps, ep) != 0) {
            json_decref(eps);
            return NULL;
        }
    }
    return eps;
}

static json_t *make_slice(const json_t *adapter, json_t *eps, int port)
{
    const char *name = k8s_meta(adapter, "name");
    return json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s,s:s,s:s},s:o},s:s,s:o,s:[{s:s,s:s,s:i}]}",
                     "apiVersion", "discovery.k8s.io/v1", "kind", "EndpointSlice", "metadata",
                     "name", name, "namespace", k8s_meta(adapter, "namespace"), "labels",
                     CTL_ADAPTERSVC_LABEL_SERVICE, name, CTL_ADAPTERSVC_LABEL_ADAPTER, name,
                     CTL_ADAPTERSVC_LABEL_MANAGED_BY, CTL_ADAPTERSVC_MANAGED_BY, "ownerReferences",
                     owner_refs(adapter), "addressType", "IPv4", "endpoints", eps, "ports", "name",
                     CTL_ADAPTERSVC_PORT_NAME, "protocol", "TCP", "port", port);
}

int ctl_adaptersvc_desired(const json_t *adapter, const ctl_podview *pods, size_t n,
                           json_t **service, json_t **slice)
{
    *service = *slice = NULL;
    if (!k8s_meta(adapter, "name")[0] || !k8s_meta(adapter, "namespace")[0] ||
        !k8s_meta(adapter, "uid")[0])
        return -1;
    const char *base =
        json_string_value(json_object_get(json_object_get(adapter, "spec"), "baseModel"));
    if (base && !base[0]) base = NULL;
    size_t m;
    int oom;
    const ctl_podview **loaded = loaded_pods(
        json_object_get(json_object_get(adapter, "status"), "instances"), pods, n, &m, &oom);
    if (oom) return -1;
    int port = m ? loaded[0]->port : K8S_POD_DEFAULT_PORT;
    for (size_t i = 0; !m && base && i < n; i++) /* none loaded: the base model's pods' */
        if (pods[i].model && !strcmp(pods[i].model, base)) {
            port = pods[i].port;
            break;
        }
    if (port <= 0 || port > 65535) port = K8S_POD_DEFAULT_PORT;
    json_t *eps = make_endpoints(adapter, loaded, m);
    free(loaded);
    if (!eps) return -1;
    *service = make_service(adapter, base, port);
    *slice = make_slice(adapter, eps, port);
    if (!*service || !*slice) {
        json_decref(*service);
        json_decref(*slice);
        *service = *slice = NULL;
        return -1;
    }
    return 0;
}

static int empty_list(const json_t *v)
{
    return !v || json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0);
}

int ctl_adaptersvc_differs(const json_t *cur, const json_t *want)
{
    if (!json_is_object(want)) {
        if (json_is_array(want) && json_array_size(want) == 0) return !empty_list(cur);
        return !cur || !json_equal(cur, want);
    }
    if (!json_is_object(cur)) return 1;
    const char *k;
    json_t *w;
    json_object_foreach((json_t *)want, k, w)
    {
        json_t *c = json_object_get(cur, k);
        if (json_is_null(w)) {
            if (c && !json_is_null(c)) return 1;
        } else if (ctl_adaptersvc_differs(c, w)) {
            return 1;
        }
    }
    return 0;
}

json_t *ctl_adaptersvc_strip_nulls(const json_t *v)
{
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (!out || json_array_append_new(out, ctl_adaptersvc_strip_nulls(e)) != 0) {
                json_decref(out);
                return NULL;
            }
        }
        return out;
    }
    if (!json_is_object(v)) return json_deep_copy(v);
    json_t *out = json_object();
    const char *k;
    json_t *e;
    json_object_foreach((json_t *)v, k, e)
    {
        if (json_is_null(e)) continue;
        if (!out || json_object_set_new(out, k, ctl_adaptersvc_strip_nulls(e)) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}
