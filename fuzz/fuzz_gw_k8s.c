/* Fuzzes the gateway's Kubernetes mapping over API objects: a Pod as the API
 * server may send it (gw_k8s_pod_engine) and a cache of ModelAdapters
 * (gw_k8s_adapter_index), and the informer's slim copies of both. Checks
 * what they promise: an engine's address is
 * "host:port" that discovery accepts, with a port in 1..65535, and names
 * NUL-terminated within their bounds; the index holds arrays of strings;
 * a slim copy maps exactly as the whole object. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway/gw_discovery.h"
#include "gateway/gw_k8s.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!j) return 0;
    gw_k8s_pod p, q;
    memset(&p, 0, sizeof(p));
    memset(&q, 0, sizeof(q));
    gw_k8s_pod_why why = gw_k8s_pod_engine(j, &p);
    /* the informer's slim copy maps the same */
    json_t *sl = gw_k8s_pod_slim(j);
    if (sl && (gw_k8s_pod_engine(sl, &q) != why || memcmp(&p, &q, sizeof(p)))) abort();
    json_decref(sl);
    if (why == GW_K8S_POD_OK) {
        if (strnlen(p.addr, sizeof(p.addr)) >= sizeof(p.addr) || !p.model[0] ||
            strnlen(p.model, sizeof(p.model)) >= sizeof(p.model) || !p.name[0])
            abort();
        char out[GW_NAME_MAX];
        if (gw_disc_backend_addr(p.addr, out, sizeof(out)) != 0 || strcmp(out, p.addr)) abort();
        long port = strtol(strrchr(p.addr, ':') + 1, NULL, 10);
        if (port < 1 || port > 65535) abort();
    }
    if (json_is_object(j)) {
        json_t *idx = gw_k8s_adapter_index(j);
        /* the same index from the slim copies */
        json_t *slim = json_object();
        const char *sk;
        json_t *sv;
        json_object_foreach(j, sk, sv) json_object_set_new(slim, sk, gw_k8s_adapter_slim(sv));
        json_t *idx2 = gw_k8s_adapter_index(slim);
        if (idx && idx2 && !json_equal(idx, idx2)) abort();
        json_decref(idx2);
        json_decref(slim);
        const char *k;
        json_t *v;
        json_object_foreach(idx, k, v)
        {
            if (!json_is_array(v) || !json_array_size(v)) abort();
            size_t i;
            json_t *x;
            json_array_foreach(v, i, x) if (!json_is_string(x) || !json_string_value(x)[0]) abort();
        }
        json_decref(idx);
    }
    json_decref(j);
    return 0;
}
