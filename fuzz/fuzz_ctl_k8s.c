/* Fuzzes the mappings of Kubernetes mode's backends over objects from the
 * API server (any JSON): a custom resource to its manifest (then parsed as a
 * ctl_obj, as the store does before notifying), the watch filter, the status
 * mapping, the finalizer test, timestamps, and a Pod to its Deployment and
 * readiness. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_objstore_k8s.h"
#include "ctl/ctl_orch_k8s.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    if (!j) {
        char *s = malloc(size + 1);
        if (s) {
            memcpy(s, data, size);
            s[size] = '\0';
            (void)ctl_objstore_k8s_time_ms(s);
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
    json_t *ts = json_object_get(json_object_get(j, "metadata"), "creationTimestamp");
    (void)ctl_objstore_k8s_time_ms(json_string_value(ts));
    json_decref(j);
    return 0;
}
