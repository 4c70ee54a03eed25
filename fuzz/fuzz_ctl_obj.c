/* Fuzzes control-plane object parsing: bytes -> bx_yaml_load_all -> ctl_obj
 * parse of each document, then rendering of every Deployment's command, a
 * fleet's selector against its template and every object's model; and
 * each document as brix up's GatewayConfig (a stack file's outside bytes). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/bx_yaml.h"
#include "ctl/ctl_obj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *docs = NULL;
    char err[256];
    bx_yaml_limits lim;
    bx_yaml_limits_default(&lim);
    lim.max_nodes = 20000;
    if (bx_yaml_load_all((const char *)data, size, &lim, &docs, err, sizeof(err)) != 0) return 0;
    size_t i;
    json_t *doc;
    json_array_foreach(docs, i, doc)
    {
        static ctl_gateway_config gc;
        bx_apikeys_init(&gc.keys);
        (void)ctl_obj_gateway_config_parse(doc, i % 2 ? "stack.yaml" : "/a/b/stack.yaml", &gc, err,
                                           sizeof(err));
        ctl_obj *o = NULL;
        if (ctl_obj_parse(doc, &o, err, sizeof(err)) != 0) continue;
        if (o->kind == CTL_KIND_DEPLOYMENT) {
            char **argv = NULL, **envp = NULL;
            ctl_render_vars v = {"/bin/brix", 65535, 7, "127.0.0.1"};
            if (ctl_deployment_render(o, &v, &argv, &envp, err, sizeof(err)) == 0) {
                free(argv);
                free(envp);
            }
            (void)ctl_labels_match(o->u.dep.pod_labels, o->u.dep.pod_labels);
        }
        if (o->kind == CTL_KIND_RAYCLUSTER_FLEET || o->kind == CTL_KIND_RAYCLUSTER_REPLICASET)
            (void)ctl_selector_match(o->u.fleet.selector,
                                     json_object_get(o->u.fleet.template, "metadata"));
        (void)ctl_obj_model(o);
        ctl_obj_free(o);
    }
    /* and the whole stream at once */
    ctl_obj **objs = NULL;
    size_t n = 0;
    json_t *warnings = json_array();
    if (ctl_obj_parse_all(docs, warnings, &objs, &n, err, sizeof(err)) == 0) ctl_objs_free(objs, n);
    json_decref(warnings);
    json_decref(docs);
    return 0;
}
