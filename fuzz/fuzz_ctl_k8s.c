/* Fuzzes the mappings of Kubernetes mode's backends over objects from the
 * API server (any JSON): a custom resource to its manifest (then parsed as a
 * ctl_obj, as the store does before notifying), the watch filter, the status
 * mapping, the finalizer test, timestamps, a Pod to its Deployment,
 * readiness and its cache cut (k8s_pod_slim), an APIResourceList searched
 * for a kind (discovery), a Scale's status.selector parsed and matched
 * against the object's labels, and an adapter's Service and EndpointSlice
 * (desired, compared with the object as if it were the cached one). A
 * non-JSON input is also tried as a timestamp, a selector and an
 * apiVersion. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_adaptersvc_k8s.h"
#include "ctl/ctl_objstore_k8s.h"
#include "ctl/ctl_orch_k8s.h"
#include "k8s/k8s_discovery.h"
#include "k8s/k8s_pod.h"
#include "k8s/k8s_selector.h"

static void selector(const char *s, const json_t *labels)
{
    k8s_selector *sel = NULL;
    char err[128];
    if (k8s_selector_parse(s, &sel, err, sizeof(err)) == 0) {
        (void)k8s_selector_matches(sel, labels);
        (void)k8s_selector_empty(sel);
        k8s_selector_free(sel);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    if (!j) {
        char *s = malloc(size + 1);
        if (s) {
            memcpy(s, data, size);
            s[size] = '\0';
            (void)ctl_objstore_k8s_time_ms(s);
            selector(s, NULL);
            char g[64], v[64];
            (void)k8s_api_version_split(s, g, sizeof(g), v, sizeof(v));
            free(s);
        }
        return 0;
    }
    json_t *m = ctl_objstore_k8s_manifest(j);
    ctl_obj *o = NULL;
    char err[256];
    if (m && ctl_obj_parse(m, &o, err, sizeof(err)) == 0) ctl_obj_free(o);
    json_decref(m);
    (void)ctl_objstore_k8s_change(NULL, j);
    (void)ctl_objstore_k8s_change(j, j);
    (void)ctl_objstore_k8s_has_finalizer(j, CTL_K8S_ADAPTER_FINALIZER);
    json_t *st = ctl_objstore_k8s_status(CTL_KIND_MODEL_ADAPTER, json_object_get(j, "status"), 1);
    json_decref(st);
    st = ctl_objstore_k8s_status(CTL_KIND_POD_AUTOSCALER, j, 1);
    json_decref(st);
    char dep[64];
    (void)ctl_orch_k8s_pod_deployment(j, dep, sizeof(dep));
    (void)k8s_pod_ready(j);
    json_t *sl = k8s_pod_slim(j, 0);
    json_decref(sl);
    sl = k8s_pod_slim(j, K8S_POD_SLIM_ALL_LABELS | K8S_POD_SLIM_OWNERS | K8S_POD_SLIM_DETAIL);
    if (sl) (void)ctl_orch_k8s_pod_deployment(sl, dep, sizeof(dep));
    json_decref(sl);
    const char *kind = json_string_value(json_object_get(j, "kind"));
    char plural[64];
    int namespaced = 0;
    (void)k8s_discovery_find(j, kind ? kind : "StatefulSet", plural, sizeof(plural), &namespaced);
    const json_t *labels = json_object_get(json_object_get(j, "metadata"), "labels");
    const char *ssel = json_string_value(json_object_get(json_object_get(j, "status"), "selector"));
    if (ssel) selector(ssel, labels);
    json_t *svc = NULL, *slice = NULL;
    if (ctl_adaptersvc_desired(j, NULL, 0, &svc, &slice) == 0) {
        (void)ctl_adaptersvc_differs(j, svc);
        (void)ctl_adaptersvc_differs(slice, j);
        json_t *c = ctl_adaptersvc_strip_nulls(svc);
        json_decref(c);
        json_decref(svc);
        json_decref(slice);
    }
    json_t *ts = json_object_get(json_object_get(j, "metadata"), "creationTimestamp");
    (void)ctl_objstore_k8s_time_ms(json_string_value(ts));
    json_decref(j);
    return 0;
}
