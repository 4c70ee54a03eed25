/* ctl_obj_core: the Kubernetes kinds a brix file may carry next to brix's
 * own (ctl_obj.h's enum): stored as written and noted as not acted on
 * locally, but for a Secret, stored without its data and stringData
 * (brix has no use for them and its state file is no secret store), and
 * a Service, whose spec.selector names the models of the Deployments (and
 * RayClusterFleets: their head pods) whose pods it matches: locally, that
 * model is served at the gateway. */
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_obj.h"
#include "ctl/ctl_obj_int.h"

/* Why each stored-only kind means nothing on one machine. */
static const char *ctl_obj_core_why(ctl_kind k)
{
    switch (k) {
    case CTL_KIND_SERVICE_ACCOUNT:
    case CTL_KIND_ROLE:
    case CTL_KIND_CLUSTER_ROLE:
    case CTL_KIND_ROLE_BINDING:
    case CTL_KIND_CLUSTER_ROLE_BINDING:
        return "engines run as this user, no API access to grant";
    case CTL_KIND_CONFIG_MAP:
    case CTL_KIND_SECRET:
    case CTL_KIND_PVC:
        return "engines mount no volumes and read no env from it";
    case CTL_KIND_NAMESPACE:
        return "a name objects may carry";
    case CTL_KIND_HPA:
        return "use a PodAutoscaler to scale a Deployment";
    case CTL_KIND_INGRESS:
    case CTL_KIND_HTTP_ROUTE:
    case CTL_KIND_GATEWAY:
        return "brix's gateway routes every model by name";
    case CTL_KIND_STATEFUL_SET:
        return "brix runs the engines of Deployments only";
    default:
        return "";
    }
}

static int ctl_obj_parse_service(ctl_obj_pctx *c, const json_t *doc)
{
    const json_t *spec = NULL, *sel = NULL;
    if (ctl_obj_get_obj(c, doc, "spec", "spec", &spec) < 0) return -1;
    if (spec && ctl_obj_get_map(c, spec, "selector", "spec.selector", &sel) < 0) return -1;
    c->o->u.svc.selector = sel ? json_deep_copy(sel) : json_object();
    if (!c->o->u.svc.selector) return ctl_obj_oom(c);
    ctl_obj_note_unused(c->o, doc);
    return 0;
}

int ctl_obj_parse_core(ctl_obj_pctx *c, const json_t *doc)
{
    ctl_obj *o = c->o;
    if (o->kind == CTL_KIND_SERVICE) return ctl_obj_parse_service(c, doc);
    if (o->kind == CTL_KIND_SECRET) {
        int had = json_object_get(o->raw, "data") || json_object_get(o->raw, "stringData");
        (void)json_object_del(o->raw, "data");
        (void)json_object_del(o->raw, "stringData");
        if (had) {
            ctl_obj_note(o, "stored without data and stringData, not acted on locally (%s)",
                         ctl_obj_core_why(o->kind));
            return 0;
        }
    }
    ctl_obj_note(o, "stored, not acted on locally (%s)", ctl_obj_core_why(o->kind));
    return 0;
}

void ctl_obj_core_clear(ctl_obj *o)
{
    if (o->kind == CTL_KIND_SERVICE) json_decref(o->u.svc.selector);
}

json_t *ctl_obj_service_models(const ctl_obj *svc, ctl_obj *const *deps, size_t n)
{
    json_t *out = json_array();
    if (!out) return NULL;
    const json_t *sel = svc->kind == CTL_KIND_SERVICE ? svc->u.svc.selector : NULL;
    if (!json_object_size(sel)) return out; /* no selector: no endpoints, as in Kubernetes */
    for (size_t i = 0; i < n; i++) {
        const ctl_obj *d = deps[i];
        const json_t *pods = NULL; /* the labels of the pods that serve */
        if (d && d->kind == CTL_KIND_DEPLOYMENT)
            pods = d->u.dep.pod_labels;
        else if (d && d->kind == CTL_KIND_RAYCLUSTER_FLEET) /* head pods: its template's labels */
            pods = json_object_get(json_object_get(d->u.fleet.cluster.head.template, "metadata"),
                                   "labels");
        const char *model = d ? ctl_obj_model(d) : NULL;
        if (!pods || !model || !ctl_labels_match(sel, pods)) continue;
        size_t k;
        const json_t *v;
        int seen = 0;
        json_array_foreach(out, k, v) seen |= !strcmp(json_string_value(v), model);
        if (!seen && json_array_append_new(out, json_string(model)) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}
