/* ctl_obj_ray: the multi-node kinds (ctl_obj.h): RayClusterFleet and
 * RayClusterReplicaSet (orchestration.aibrix.ai/v1alpha1, a Deployment and
 * a ReplicaSet of RayClusters) and KubeRay's RayCluster (ray.io/v1). Each
 * holds a RayClusterSpec (a RayCluster's spec, a fleet's or replica set's
 * spec.template.spec), parsed into ctl_raycluster with KubeRay's defaults;
 * the fleet's strategy fields are validated as Kubernetes validates a
 * Deployment's. Label selectors (matchLabels and matchExpressions) are
 * checked and matched here too (ctl_selector_match). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_obj.h"
#include "ctl/ctl_obj_int.h"

#define CTL_RAY_HEAD_GROUP "headgroup" /* KubeRay's ray.io/group of the head */
#define CTL_RAY_INT32_MAX 2147483647LL
#define CTL_RAY_PATH 320

/* ---- label selectors ---- */

/* One matchExpressions entry against labels. */
static int ctl_selector_expr_match(const json_t *e, const json_t *labels)
{
    const char *key = json_string_value(json_object_get(e, "key"));
    const char *op = json_string_value(json_object_get(e, "operator"));
    if (!key || !op) return 0;
    const char *have = json_string_value(json_object_get(labels, key));
    if (!strcmp(op, "Exists")) return have != NULL;
    if (!strcmp(op, "DoesNotExist")) return have == NULL;
    int in = 0;
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(e, "values"), i, v) in |=
        have && json_is_string(v) && !strcmp(have, json_string_value(v));
    if (!strcmp(op, "In")) return in;
    if (!strcmp(op, "NotIn")) return !in;
    return 0;
}

int ctl_selector_match(const json_t *selector, const json_t *labels)
{
    if (!ctl_labels_match(json_object_get(selector, "matchLabels"), labels)) return 0;
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(selector, "matchExpressions"), i,
                       e) if (!ctl_selector_expr_match(e, labels)) return 0;
    return 1;
}

/* A LabelSelector at path: matchLabels a string map, matchExpressions a
 * list of {key, operator In|NotIn|Exists|DoesNotExist, values}, as
 * Kubernetes validates it. 0 or -1. *empty: it has no requirement. */
static int ctl_obj_selector_check(ctl_obj_pctx *c, const json_t *sel, const char *path, int *empty)
{
    char p[CTL_RAY_PATH], q[CTL_RAY_PATH + 32];
    const json_t *ml = NULL, *me = NULL;
    snprintf(p, sizeof(p), "%.200s.matchLabels", path);
    if (ctl_obj_get_map(c, sel, "matchLabels", p, &ml) < 0) return -1;
    snprintf(p, sizeof(p), "%.200s.matchExpressions", path);
    if (ctl_obj_get_arr(c, sel, "matchExpressions", p, &me) < 0) return -1;
    if (json_array_size(me) > CTL_MAX_MAP)
        return ctl_obj_fail(c, p, "more than %d entries", CTL_MAX_MAP);
    size_t i;
    const json_t *e;
    json_array_foreach(me, i, e)
    {
        snprintf(p, sizeof(p), "%.200s.matchExpressions[%zu]", path, i);
        if (!json_is_object(e)) return ctl_obj_fail(c, p, "must be a mapping");
        const char *key = NULL, *op = NULL;
        const json_t *vals = NULL;
        snprintf(q, sizeof(q), "%.200s.key", p);
        int r = ctl_obj_get_str(c, e, "key", q, &key);
        if (r < 0) return -1;
        if (r == 0 || !key[0] || strlen(key) > 253)
            return ctl_obj_fail(c, q, "required, 1..253 bytes");
        snprintf(q, sizeof(q), "%.200s.operator", p);
        r = ctl_obj_get_str(c, e, "operator", q, &op);
        if (r < 0) return -1;
        if (r == 0) return ctl_obj_fail(c, q, "required");
        int set = !strcmp(op, "In") || !strcmp(op, "NotIn");
        if (!set && strcmp(op, "Exists") && strcmp(op, "DoesNotExist"))
            return ctl_obj_fail(c, q,
                                "unsupported value '%.64s': supported values: \"In\", \"NotIn\", "
                                "\"Exists\", \"DoesNotExist\"",
                                op);
        snprintf(q, sizeof(q), "%.200s.values", p);
        if (ctl_obj_get_arr(c, e, "values", q, &vals) < 0) return -1;
        if (set && !json_array_size(vals))
            return ctl_obj_fail(c, q, "must be specified when `operator` is 'In' or 'NotIn'");
        if (!set && json_array_size(vals))
            return ctl_obj_fail(c, q,
                                "may not be specified when `operator` is 'Exists' or "
                                "'DoesNotExist'");
        size_t k;
        const json_t *v;
        json_array_foreach(vals, k, v)
        {
            char pv[CTL_RAY_PATH + 64];
            const char *s;
            snprintf(pv, sizeof(pv), "%.200s[%zu]", q, k);
            if (ctl_obj_check_str(c, v, pv, &s) < 0) return -1;
        }
    }
    *empty = !json_object_size(ml) && !json_array_size(me);
    return 0;
}

/* A boolean field: 1 true, 0 false or absent, -1 error. */
static int ctl_obj_ray_bool(ctl_obj_pctx *c, const json_t *parent, const char *key,
                            const char *path)
{
    const json_t *v = json_object_get(parent, key);
    if (v && !json_is_null(v) && !json_is_boolean(v))
        return ctl_obj_fail(c, path, "must be true or false");
    return json_is_true(v);
}

/* ---- RayClusterSpec ---- */

/* A group's pod template at path ({metadata, spec}): labels a string map,
 * spec.containers[0] a mapping (the engine: the local runner starts it as
 * a Deployment's; on Kubernetes KubeRay runs the pod). */
static int ctl_obj_ray_template(ctl_obj_pctx *c, const json_t *t, const char *path)
{
    char p[CTL_RAY_PATH];
    const json_t *meta = NULL, *labels = NULL, *ann = NULL, *spec = NULL, *cs = NULL;
    snprintf(p, sizeof(p), "%.200s.metadata", path);
    if (ctl_obj_get_obj(c, t, "metadata", p, &meta) < 0) return -1;
    snprintf(p, sizeof(p), "%.200s.metadata.labels", path);
    if (meta && ctl_obj_get_map(c, meta, "labels", p, &labels) < 0) return -1;
    snprintf(p, sizeof(p), "%.200s.metadata.annotations", path);
    if (meta && ctl_obj_get_map(c, meta, "annotations", p, &ann) < 0) return -1;
    snprintf(p, sizeof(p), "%.200s.spec", path);
    int r = ctl_obj_get_obj(c, t, "spec", p, &spec);
    if (r < 0) return -1;
    if (r == 0) return ctl_obj_fail(c, p, "required");
    snprintf(p, sizeof(p), "%.200s.spec.containers", path);
    r = ctl_obj_get_arr(c, spec, "containers", p, &cs);
    if (r < 0) return -1;
    if (r == 0 || !json_array_size(cs))
        return ctl_obj_fail(c, p, "required: containers[0] runs the node's engine");
    snprintf(p, sizeof(p), "%.200s.spec.containers[0]", path);
    if (!json_is_object(json_array_get(cs, 0))) return ctl_obj_fail(c, p, "must be a mapping");
    return 0;
}

/* headGroupSpec (head: 1) or workerGroupSpecs[i] at path into g. */
static int ctl_obj_ray_group(ctl_obj_pctx *c, const json_t *gs, const char *path, int head,
                             ctl_ray_group *g)
{
    char p[CTL_RAY_PATH];
    if (!json_is_object(gs)) return ctl_obj_fail(c, path, "must be a mapping");
    const json_t *t = NULL, *rsp = NULL;
    const char *name = CTL_RAY_HEAD_GROUP;
    int rc = 0;
    if (!head) {
        snprintf(p, sizeof(p), "%.200s.groupName", path);
        int r = ctl_obj_get_str(c, gs, "groupName", p, &name);
        if (r < 0) return -1;
        if (r == 0 || !name[0]) return ctl_obj_fail(c, p, "required");
        if (!ctl_name_valid(name))
            return ctl_obj_fail(c, p,
                                "'%.100s' is not a DNS-1123 subdomain of at most 63 bytes (it "
                                "names the group's pods and their ray.io/group label)",
                                name);
    }
    g->name = ctl_obj_dup_or_oom(c, name, &rc);
    if (rc) return -1;
    g->replicas = 1;
    g->num_of_hosts = 1;
    if (!head) {
        int64_t rep = 0, lo = 0, hi = CTL_RAY_INT32_MAX, hosts = 1;
        char pr[CTL_RAY_PATH], plo[CTL_RAY_PATH], phi[CTL_RAY_PATH];
        snprintf(pr, sizeof(pr), "%.200s.replicas", path);
        snprintf(plo, sizeof(plo), "%.200s.minReplicas", path);
        snprintf(phi, sizeof(phi), "%.200s.maxReplicas", path);
        snprintf(p, sizeof(p), "%.200s.numOfHosts", path);
        if (ctl_obj_get_int(c, gs, "replicas", pr, 0, CTL_RAY_INT32_MAX, &rep) < 0 ||
            ctl_obj_get_int(c, gs, "minReplicas", plo, 0, CTL_RAY_INT32_MAX, &lo) < 0 ||
            ctl_obj_get_int(c, gs, "maxReplicas", phi, 0, CTL_RAY_INT32_MAX, &hi) < 0 ||
            ctl_obj_get_int(c, gs, "numOfHosts", p, 1, CTL_MAX_REPLICAS, &hosts) < 0)
            return -1;
        if (lo > hi)
            return ctl_obj_fail(c, plo,
                                "%lld is greater than maxReplicas %lld (KubeRay refuses it)",
                                (long long)lo, (long long)hi);
        if (rep < lo) rep = lo; /* KubeRay's desired replicas: replicas within [min, max] */
        if (rep > hi) rep = hi;
        if (rep * hosts > CTL_MAX_REPLICAS)
            return ctl_obj_fail(c, pr, "%lld replicas of %lld hosts: more than %d worker nodes",
                                (long long)rep, (long long)hosts, CTL_MAX_REPLICAS);
        g->replicas = (int)rep;
        g->num_of_hosts = (int)hosts;
    }
    snprintf(p, sizeof(p), "%.200s.rayStartParams", path);
    if (ctl_obj_get_map(c, gs, "rayStartParams", p, &rsp) < 0) return -1;
    g->ray_start_params = rsp ? json_deep_copy(rsp) : json_object();
    if (!g->ray_start_params) return ctl_obj_oom(c);
    snprintf(p, sizeof(p), "%.200s.template", path);
    int r = ctl_obj_get_obj(c, gs, "template", p, &t);
    if (r < 0) return -1;
    if (r == 0) return ctl_obj_fail(c, p, "required");
    if (ctl_obj_ray_template(c, t, p) < 0) return -1;
    g->template = json_deep_copy(t);
    return g->template ? 0 : ctl_obj_oom(c);
}

/* A RayClusterSpec at path into rc. */
static int ctl_obj_ray_spec(ctl_obj_pctx *c, const json_t *spec, const char *path,
                            ctl_raycluster *rc)
{
    char p[CTL_RAY_PATH];
    const json_t *head = NULL, *workers = NULL;
    const char *ver = NULL;
    snprintf(p, sizeof(p), "%.200s.headGroupSpec", path);
    int r = ctl_obj_get_obj(c, spec, "headGroupSpec", p, &head);
    if (r < 0) return -1;
    if (r == 0) return ctl_obj_fail(c, p, "required");
    if (ctl_obj_ray_group(c, head, p, 1, &rc->head) < 0) return -1;
    snprintf(p, sizeof(p), "%.200s.rayVersion", path);
    if (ctl_obj_get_str(c, spec, "rayVersion", p, &ver) < 0) return -1;
    snprintf(p, sizeof(p), "%.200s.suspend", path);
    if ((rc->suspend = ctl_obj_ray_bool(c, spec, "suspend", p)) < 0) return -1;
    snprintf(p, sizeof(p), "%.200s.workerGroupSpecs", path);
    if (ctl_obj_get_arr(c, spec, "workerGroupSpecs", p, &workers) < 0) return -1;
    size_t n = json_array_size(workers);
    if (n > CTL_MAX_REPLICAS) return ctl_obj_fail(c, p, "more than %d groups", CTL_MAX_REPLICAS);
    if (n && !(rc->workers = calloc(n, sizeof(*rc->workers)))) return ctl_obj_oom(c);
    int64_t desired = 0;
    for (size_t i = 0; i < n; i++) {
        char pg[CTL_RAY_PATH + 32];
        snprintf(pg, sizeof(pg), "%.200s.workerGroupSpecs[%zu]", path, i);
        ctl_ray_group *g = &rc->workers[i];
        rc->nworkers = i + 1; /* cleared from here on */
        if (ctl_obj_ray_group(c, json_array_get(workers, i), pg, 0, g) < 0) return -1;
        for (size_t k = 0; k < i; k++)
            if (!strcmp(rc->workers[k].name, g->name)) {
                snprintf(pg, sizeof(pg), "%.200s.workerGroupSpecs[%zu].groupName", path, i);
                return ctl_obj_fail(c, pg, "duplicate '%.100s' (workerGroupSpecs[%zu] has it)",
                                    g->name, k);
            }
        desired += (int64_t)g->replicas * g->num_of_hosts;
        if (desired > CTL_MAX_REPLICAS)
            return ctl_obj_fail(c, p, "more than %d worker nodes in all", CTL_MAX_REPLICAS);
    }
    rc->desired_workers = (int)desired;
    return 0;
}

static void ctl_obj_ray_group_clear(ctl_ray_group *g)
{
    free(g->name);
    json_decref(g->template);
    json_decref(g->ray_start_params);
}

static void ctl_obj_raycluster_spec_clear(ctl_raycluster *rc)
{
    ctl_obj_ray_group_clear(&rc->head);
    for (size_t i = 0; rc->workers && i < rc->nworkers; i++)
        ctl_obj_ray_group_clear(&rc->workers[i]);
    free(rc->workers);
}

/* A model label, where given, must be a served model name. */
static int ctl_obj_ray_model_check(ctl_obj_pctx *c, const json_t *labels, const char *path)
{
    const char *m = ctl_obj_map_str(labels, CTL_LABEL_MODEL);
    if (!m || ctl_obj_model_name_valid(m)) return 0;
    char p[CTL_RAY_PATH];
    snprintf(p, sizeof(p), "%.200s[\"" CTL_LABEL_MODEL "\"]", path);
    return ctl_obj_fail(c, p, "'%.300s' is not a valid model name (1..255 of A-Za-z0-9._/:-)", m);
}

/* ---- RayCluster ---- */

int ctl_obj_parse_raycluster(ctl_obj_pctx *c, const json_t *doc, const json_t *labels)
{
    const json_t *spec = NULL;
    int r = ctl_obj_get_obj(c, doc, "spec", "spec", &spec);
    if (r < 0) return -1;
    if (r == 0) return ctl_obj_fail(c, "spec", "required");
    if (ctl_obj_ray_model_check(c, labels, "metadata.labels") < 0) return -1;
    return ctl_obj_ray_spec(c, spec, "spec", &c->o->u.rc);
}

/* ---- RayClusterFleet and RayClusterReplicaSet ---- */

/* An int-or-percent of spec.strategy.rollingUpdate as Kubernetes takes it:
 * an integer >= 0 or "N%". Kept as written in out; *zero: it is 0. 1 given,
 * 0 absent (out untouched), -1 error. */
static int ctl_obj_int_or_pct(ctl_obj_pctx *c, const json_t *ru, const char *key, int max100,
                              char out[16], int *zero)
{
    char p[96];
    snprintf(p, sizeof(p), "spec.strategy.rollingUpdate.%s", key);
    const json_t *v = json_object_get(ru, key);
    if (!v || json_is_null(v)) return 0;
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < 0 || x > CTL_RAY_INT32_MAX)
            return ctl_obj_fail(c, p, "must be between 0 and %lld", CTL_RAY_INT32_MAX);
        snprintf(out, 16, "%lld", (long long)x);
        *zero = x == 0;
        return 1;
    }
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0, d = s ? strspn(s, "0123456789") : 0;
    if (!s || n < 2 || d != n - 1 || s[n - 1] != '%' || n > 11)
        return ctl_obj_fail(c, p, "must be an integer or a percentage (e.g. '25%%')");
    long long pct = strtoll(s, NULL, 10);
    if (max100 && pct > 100) return ctl_obj_fail(c, p, "must not be greater than 100%%");
    snprintf(out, 16, "%s", s);
    *zero = pct == 0;
    return 1;
}

/* spec.strategy (a Deployment's: ValidateDeploymentStrategy). */
static int ctl_obj_fleet_strategy(ctl_obj_pctx *c, const json_t *spec, ctl_fleet *f)
{
    const json_t *st = NULL, *ru = NULL;
    const char *type = NULL;
    if (ctl_obj_get_obj(c, spec, "strategy", "spec.strategy", &st) < 0) return -1;
    if (!st) return 0;
    if (ctl_obj_get_str(c, st, "type", "spec.strategy.type", &type) < 0 ||
        ctl_obj_get_obj(c, st, "rollingUpdate", "spec.strategy.rollingUpdate", &ru) < 0)
        return -1;
    if (type && type[0] && strcmp(type, "RollingUpdate") && strcmp(type, "Recreate"))
        return ctl_obj_fail(c, "spec.strategy.type",
                            "unsupported value '%.64s': supported values: \"Recreate\", "
                            "\"RollingUpdate\"",
                            type);
    f->recreate = type && !strcmp(type, "Recreate");
    if (f->recreate && ru)
        return ctl_obj_fail(c, "spec.strategy.rollingUpdate",
                            "may not be specified when strategy `type` is 'Recreate'");
    int zs = 0, zu = 0;
    if (ctl_obj_int_or_pct(c, ru, "maxSurge", 0, f->max_surge, &zs) < 0 ||
        ctl_obj_int_or_pct(c, ru, "maxUnavailable", 1, f->max_unavailable, &zu) < 0)
        return -1;
    if (zs && zu)
        return ctl_obj_fail(c, "spec.strategy.rollingUpdate.maxUnavailable",
                            "may not be 0 when `maxSurge` is 0");
    return 0;
}

int ctl_obj_parse_fleet(ctl_obj_pctx *c, const json_t *doc, const json_t *labels)
{
    ctl_fleet *f = &c->o->u.fleet;
    int fleet = c->o->kind == CTL_KIND_RAYCLUSTER_FLEET;
    f->replicas = 1;
    snprintf(f->max_surge, sizeof(f->max_surge), "25%%");
    snprintf(f->max_unavailable, sizeof(f->max_unavailable), "25%%");
    f->revision_history_limit = 10;
    f->progress_deadline_s = 600;
    const json_t *spec = NULL, *sel = NULL, *tmpl = NULL, *tmeta = NULL, *tlabels = NULL,
                 *tann = NULL, *tspec = NULL;
    int r = ctl_obj_get_obj(c, doc, "spec", "spec", &spec);
    if (r < 0) return -1;
    if (r == 0) return ctl_obj_fail(c, "spec", "required");
    int64_t x = 1;
    if (ctl_obj_get_int(c, spec, "replicas", "spec.replicas", 0, CTL_MAX_REPLICAS, &x) < 0)
        return -1;
    f->replicas = (int)x;

    r = ctl_obj_get_obj(c, spec, "selector", "spec.selector", &sel);
    if (r < 0) return -1;
    if (r == 0) return ctl_obj_fail(c, "spec.selector", "required");
    int empty = 0;
    if (ctl_obj_selector_check(c, sel, "spec.selector", &empty) < 0) return -1;
    if (empty)
        return ctl_obj_fail(c, "spec.selector",
                            "empty: it would select every RayCluster (AIBrix only warns "
                            "SelectingAll and does nothing; Kubernetes refuses an empty selector)");

    r = ctl_obj_get_obj(c, spec, "template", "spec.template", &tmpl);
    if (r < 0) return -1;
    if (r == 0) return ctl_obj_fail(c, "spec.template", "required");
    if (ctl_obj_get_obj(c, tmpl, "metadata", "spec.template.metadata", &tmeta) < 0) return -1;
    if (tmeta &&
        (ctl_obj_get_map(c, tmeta, "labels", "spec.template.metadata.labels", &tlabels) < 0 ||
         ctl_obj_get_map(c, tmeta, "annotations", "spec.template.metadata.annotations", &tann) < 0))
        return -1;
    if (!ctl_selector_match(sel, tlabels))
        return ctl_obj_fail(c, "spec.template.metadata.labels",
                            "selector does not match template labels (Kubernetes refuses such "
                            "an object)");
    if (ctl_obj_ray_model_check(c, tlabels, "spec.template.metadata.labels") < 0 ||
        ctl_obj_ray_model_check(c, labels, "metadata.labels") < 0)
        return -1;
    r = ctl_obj_get_obj(c, tmpl, "spec", "spec.template.spec", &tspec);
    if (r < 0) return -1;
    if (r == 0) return ctl_obj_fail(c, "spec.template.spec", "required (a RayClusterSpec)");
    if (ctl_obj_ray_spec(c, tspec, "spec.template.spec", &f->cluster) < 0) return -1;
    if (!(f->selector = json_deep_copy(sel)) || !(f->template = json_deep_copy(tmpl)))
        return ctl_obj_oom(c);

    x = 0;
    if (ctl_obj_get_int(c, spec, "minReadySeconds", "spec.minReadySeconds", 0, CTL_RAY_INT32_MAX,
                        &x) < 0)
        return -1;
    f->min_ready_s = (int)x;
    if (!fleet) return 0; /* the rest is named in the note, for a replica set */
    if (ctl_obj_fleet_strategy(c, spec, f) < 0) return -1;
    x = 10;
    if (ctl_obj_get_int(c, spec, "revisionHistoryLimit", "spec.revisionHistoryLimit", 0,
                        CTL_RAY_INT32_MAX, &x) < 0)
        return -1;
    f->revision_history_limit = (int)x;
    if ((f->paused = ctl_obj_ray_bool(c, spec, "paused", "spec.paused")) < 0) return -1;
    x = 600;
    if (ctl_obj_get_int(c, spec, "progressDeadlineSeconds", "spec.progressDeadlineSeconds", 0,
                        CTL_RAY_INT32_MAX, &x) < 0)
        return -1;
    if (x <= f->min_ready_s)
        return ctl_obj_fail(c, "spec.progressDeadlineSeconds",
                            "%lld: must be greater than minReadySeconds (%d)", (long long)x,
                            f->min_ready_s);
    f->progress_deadline_s = (int)x;
    return 0;
}

void ctl_obj_ray_clear(ctl_obj *o)
{
    if (o->kind == CTL_KIND_RAYCLUSTER) {
        ctl_obj_raycluster_spec_clear(&o->u.rc);
        return;
    }
    ctl_fleet *f = &o->u.fleet;
    json_decref(f->selector);
    json_decref(f->template);
    ctl_obj_raycluster_spec_clear(&f->cluster);
}
