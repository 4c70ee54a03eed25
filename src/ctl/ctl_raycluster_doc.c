/* ctl_raycluster_doc: the pure parts of the local RayCluster runner (see
 * ctl_raycluster.h): the spec read from a RayCluster's raw document, the
 * members' names, each member's Deployment document, and the status in
 * KubeRay's shape. No I/O, no global state. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_err.h"
#include "common/bx_time.h"
#include "ctl/ctl_key.h"
#include "ctl/ctl_raycluster.h"

/* ---- the spec ---- */

static void ctl_raycluster_grp_set(ctl_raycluster_grp *g, const ctl_ray_group *t)
{
    g->name = t->name;
    g->hosts = t->replicas * t->num_of_hosts;
    g->template = t->template;
    g->params = json_object_size(t->ray_start_params) ? t->ray_start_params : NULL;
}

int ctl_raycluster_view_read(const ctl_obj *o, ctl_raycluster_view *v, char *err, size_t errlen)
{
    memset(v, 0, sizeof(*v));
    if (o->kind != CTL_KIND_RAYCLUSTER) return bx_errf(err, errlen, "not a RayCluster");
    const ctl_raycluster *rc = &o->u.rc; /* validated by ctl_obj_parse */
    if (rc->nworkers > CTL_RAYCLUSTER_MAX_GROUPS)
        return bx_errf(err, errlen, "spec.workerGroupSpecs: at most %d groups",
                       CTL_RAYCLUSTER_MAX_GROUPS);
    if (rc->desired_workers > CTL_RAYCLUSTER_MAX_MEMBERS - 1)
        return bx_errf(err, errlen,
                       "spec.workerGroupSpecs: more than %d worker pods in one "
                       "RayCluster here",
                       CTL_RAYCLUSTER_MAX_MEMBERS - 1);
    ctl_raycluster_grp_set(&v->head, &rc->head);
    v->head.name = CTL_RAY_HEAD_GROUP;
    v->head.hosts = 1;
    for (size_t i = 0; i < rc->nworkers; i++)
        ctl_raycluster_grp_set(&v->workers[v->ngroups++], &rc->workers[i]);
    v->desired_workers = rc->desired_workers;
    v->suspend = rc->suspend;
    v->model = ctl_obj_model(o);
    if (!v->model || !v->model[0])
        return bx_errf(err, errlen,
                       "metadata.labels: %s required (on the RayCluster or its head template)",
                       CTL_LABEL_MODEL);
    return 0;
}

/* ---- names ---- */

static uint32_t ctl_raycluster_fnv(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

int ctl_raycluster_member_name(const char *cluster, const char *group, int worker, char *out,
                               size_t outlen)
{
    const char *name = ctl_key_name(cluster);
    size_t plen = (size_t)(name - cluster); /* "ns:" or "" */
    char tail[16] = "", full[512], whole[600];
    if (worker >= 0) snprintf(tail, sizeof(tail), "-%d", worker);
    if (group)
        snprintf(full, sizeof(full), "%s-%s-worker", name, group);
    else
        snprintf(full, sizeof(full), "%s-head", name);
    snprintf(whole, sizeof(whole), "%s%s", full, tail);
    int clean = 1;
    for (char *p = full; *p; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) c = '-';
        if (c != *p) clean = 0;
        *p = c;
    }
    size_t budget = CTL_NAME_MAX - plen; /* the name part of the key */
    if (plen + 2 > CTL_NAME_MAX || outlen < CTL_NAME_MAX + 1) return -1;
    size_t flen = strlen(full), tlen = strlen(tail);
    if (clean && flen + tlen <= budget) {
        snprintf(out, outlen, "%.*s%s%s", (int)plen, cluster, full, tail);
        return 0;
    }
    if (budget < 10 + tlen + 1) return -1;
    size_t keep = budget - 9 - tlen; /* "-" + 8 hex */
    if (keep > flen) keep = flen;
    while (keep > 0 && full[keep - 1] == '-')
        keep--;
    if (keep == 0) return -1;
    char cl[CTL_NAME_MAX + 1];
    snprintf(cl, sizeof(cl), "%.*s", (int)plen, cluster);
    snprintf(out, outlen, "%s%.*s-%08x%s", cl, (int)keep, full,
             (unsigned)ctl_raycluster_fnv(cluster) ^ ctl_raycluster_fnv(whole), tail);
    return 0;
}

/* ---- a member's Deployment ---- */

/* "ray start ..." as KubeRay generates it from rayStartParams (for a
 * template whose command evals $KUBERAY_GEN_RAY_START_CMD; locally the
 * head's GCS is on 127.0.0.1). */
static char *ctl_raycluster_ray_cmd(const ctl_raycluster_view *v, const ctl_raycluster_grp *g,
                                    int head)
{
    char buf[2048];
    int gcs = 6379;
    const char *hp = json_string_value(json_object_get(v->head.params, "port"));
    if (hp && atoi(hp) > 0) gcs = atoi(hp);
    size_t n = (size_t)(head ? snprintf(buf, sizeof(buf), "ray start --head")
                             : snprintf(buf, sizeof(buf), "ray start --address=127.0.0.1:%d", gcs));
    const char *k;
    const json_t *val;
    json_object_foreach((json_t *)g->params, k, val)
    {
        char s[256];
        if (json_is_string(val))
            snprintf(s, sizeof(s), "%s", json_string_value(val));
        else if (json_is_integer(val))
            snprintf(s, sizeof(s), "%lld", (long long)json_integer_value(val));
        else if (json_is_boolean(val))
            snprintf(s, sizeof(s), "%s", json_is_true(val) ? "true" : "false");
        else
            continue;
        if (n < sizeof(buf)) n += (size_t)snprintf(buf + n, sizeof(buf) - n, " --%s=%s", k, s);
    }
    if (n < sizeof(buf)) snprintf(buf + n, sizeof(buf) - n, " --block");
    return strdup(buf);
}

static int ctl_raycluster_env_set(json_t *env, const char *name, const char *value)
{
    size_t i = json_array_size(env);
    while (i-- > 0) { /* the runner's value wins over the template's */
        const char *n = json_string_value(json_object_get(json_array_get(env, i), "name"));
        if (n && !strcmp(n, name)) json_array_remove(env, i);
    }
    return json_array_append_new(env, json_pack("{s:s,s:s}", "name", name, "value", value));
}

/* 1 when a command/args list mentions {port} or --port. */
static int ctl_raycluster_names_port(const json_t *list)
{
    size_t i;
    const json_t *w;
    json_array_foreach(list, i, w)
    {
        const char *s = json_string_value(w);
        if (s && (strstr(s, "{port}") || strstr(s, "--port"))) return 1;
    }
    return 0;
}

/* containers[0] of spec (made when absent) with the group's env and, for a
 * worker without command, brix's engine. 0 or -1. */
static int ctl_raycluster_container(json_t *spec, const ctl_raycluster_view *v,
                                    const ctl_raycluster_member_cfg *m)
{
    json_t *cs = json_object_get(spec, "containers");
    if (!json_is_array(cs) || json_array_size(cs) == 0) {
        cs = json_array();
        if (!cs || json_object_set_new(spec, "containers", cs) != 0) return -1;
        if (json_array_append_new(
                cs, json_pack("{s:s}", "name", m->head ? "ray-head" : "ray-worker")) != 0)
            return -1;
    }
    json_t *c0 = json_array_get(cs, 0);
    if (!json_is_object(c0)) return -1;
    json_t *env = json_object_get(c0, "env");
    if (!json_is_array(env)) {
        env = json_array();
        if (!env || json_object_set_new(c0, "env", env) != 0) return -1;
    }
    char num[32], url[64];
    char *ray = ctl_raycluster_ray_cmd(v, m->g, m->head);
    if (!ray) return -1;
    int rc = ctl_raycluster_env_set(env, "KUBERAY_GEN_RAY_START_CMD", ray);
    free(ray);
    if (m->head) {
        snprintf(num, sizeof(num), "%d", m->group_size);
        rc |= ctl_raycluster_env_set(env, "BRIX_GROUP_SIZE", num);
    } else {
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", m->head_port);
        snprintf(num, sizeof(num), "%d", m->rank);
        rc |= ctl_raycluster_env_set(env, "BRIX_GROUP_LEADER", url);
        rc |= ctl_raycluster_env_set(env, "BRIX_GROUP_RANK", num);
        if (!json_object_get(c0, "command") && !json_object_get(c0, "args"))
            rc |= json_object_set_new(c0, "command", json_pack("[s,s]", "{brix}", "engine")) |
                  json_object_set_new(c0, "args", json_pack("[s,s]", "--port", "{port}"));
    }
    /* a command that names no port (a Ray worker's script) still gets one of
     * its own: every member is a process on this machine */
    if ((json_object_get(c0, "command") || json_object_get(c0, "args")) &&
        !ctl_raycluster_names_port(json_object_get(c0, "command")) &&
        !ctl_raycluster_names_port(json_object_get(c0, "args")))
        rc |= ctl_raycluster_env_set(env, "BRIX_PORT", "{port}");
    return rc ? -1 : 0;
}

json_t *ctl_raycluster_member_doc(const ctl_obj *cluster, const ctl_raycluster_view *v,
                                  const ctl_raycluster_member_cfg *m, char *err, size_t errlen)
{
    const json_t *tmeta = json_object_get(m->g->template, "metadata");
    const json_t *tspec = json_object_get(m->g->template, "spec");
    if ((tmeta && !json_is_object(tmeta)) || (tspec && !json_is_object(tspec))) {
        bx_errf(err, errlen, "group %s: template.metadata and template.spec must be mappings",
                m->g->name);
        return NULL;
    }
    const json_t *tl = json_object_get(tmeta, "labels");
    json_t *labels = json_is_object(tl) ? json_deep_copy(tl) : json_object();
    json_t *spec = tspec ? json_deep_copy(tspec) : json_object();
    const json_t *ta = json_object_get(tmeta, "annotations");
    json_t *tann = json_is_object(ta) ? json_deep_copy(ta) : json_object();
    json_t *ann = json_object(), *dlabels = json_pack("{s:s}", CTL_LABEL_MODEL, v->model);
    char ns[CTL_NAME_MAX + 1];
    ctl_key_ns(m->key, ns, sizeof(ns));
    const char *k;
    const json_t *val;
    json_object_foreach(json_object_get(json_object_get(cluster->raw, "metadata"), "annotations"),
                        k, val)
    {
        if (!strncmp(k, "brix.ai/", 8) && ann) json_object_set(ann, k, (json_t *)val);
    }
    int rc = !labels || !spec || !tann || !ann || !dlabels;
    if (!rc) {
        rc |= json_object_set_new(labels, CTL_RAY_LABEL_CLUSTER,
                                  json_string(ctl_key_name(cluster->name)));
        rc |= json_object_set_new(labels, CTL_RAY_LABEL_NODE_TYPE,
                                  json_string(m->head ? "head" : "worker"));
        rc |= json_object_set_new(labels, CTL_RAY_LABEL_GROUP, json_string(m->g->name));
        rc |= json_object_set_new(labels, CTL_RAY_LABEL_IS_NODE, json_string("yes"));
        if (!json_object_get(labels, CTL_LABEL_MODEL))
            rc |= json_object_set_new(labels, CTL_LABEL_MODEL, json_string(v->model));
        rc |= ctl_raycluster_container(spec, v, m);
    }
    json_t *doc = NULL;
    if (!rc)
        doc = json_pack("{s:s,s:s,s:{s:s,s:o,s:o},s:{s:i,s:{s:{s:o,s:o},s:o}}}", "apiVersion",
                        "apps/v1", "kind", "Deployment", "metadata", "name", ctl_key_name(m->key),
                        "labels", dlabels, "annotations", ann, "spec", "replicas", 1, "template",
                        "metadata", "labels", labels, "annotations", tann, "spec", spec);
    else {
        json_decref(labels);
        json_decref(spec);
        json_decref(tann);
        json_decref(ann);
        json_decref(dlabels);
    }
    if (doc && strcmp(ns, CTL_NS_DEFAULT) != 0 &&
        json_object_set_new(json_object_get(doc, "metadata"), "namespace", json_string(ns)) != 0) {
        json_decref(doc);
        doc = NULL;
    }
    if (!doc) bx_errf(err, errlen, "group %s: out of memory", m->g->name);
    return doc;
}

/* ---- status ---- */

void ctl_raycluster_cond_set(ctl_raycluster_cond *c, int status, int64_t now_ms)
{
    if (c->status != status) {
        c->status = status;
        c->since_ms = now_ms;
    }
}

static int ctl_raycluster_cond_add(json_t *arr, const char *type, const ctl_raycluster_cond *c,
                                   const char *reason, const char *message)
{
    if (c->status < 0) return 0;
    char ts[32];
    bx_time_rfc3339(c->since_ms, ts, sizeof(ts));
    return json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", type, "status",
                                                c->status ? "True" : "False", "reason", reason,
                                                "message", message, "lastTransitionTime", ts));
}

json_t *ctl_raycluster_status(const ctl_raycluster_obs *o)
{
    json_t *conds = json_array();
    json_t *st = json_pack("{s:i,s:i,s:i,s:I}", "desiredWorkerReplicas", o->desired_workers,
                           "readyWorkerReplicas", o->ready_workers, "availableWorkerReplicas",
                           o->ready_workers, "observedGeneration", (json_int_t)o->generation);
    if (!st || !conds) {
        json_decref(st);
        json_decref(conds);
        return NULL;
    }
    int rc = 0;
    if (o->suspended)
        rc |= json_object_set_new(st, "state", json_string("suspended"));
    else if (o->provisioned.status == 1 && o->head_ready && o->ready_workers == o->desired_workers)
        rc |= json_object_set_new(st, "state", json_string("ready"));
    if (o->head_pod)
        rc |= json_object_set_new(
            st, "head", json_pack("{s:s,s:s}", "podIP", "127.0.0.1", "podName", o->head_pod));
    rc |= ctl_raycluster_cond_add(
        conds, "RayClusterProvisioned", &o->provisioned,
        o->provisioned.status == 1 ? "AllPodRunningAndReadyFirstTime"
        : o->prov_reason           ? o->prov_reason
                                   : "RayClusterPodsProvisioning",
        o->provisioned.status == 1 ? "All Ray Pods are ready for the first time"
        : o->prov_message          ? o->prov_message
                                   : "RayCluster Pods are being provisioned for first time");
    rc |= ctl_raycluster_cond_add(conds, "HeadPodReady", &o->head,
                                  o->head.status == 1 ? "HeadPodRunningAndReady"
                                  : o->head_pod       ? "HeadPodNotReady"
                                                      : "HeadPodNotFound",
                                  o->head.status == 1 ? "Head Pod is running and ready"
                                  : o->head_pod       ? "Head Pod is not ready"
                                                      : "Head Pod not found");
    rc |= json_object_set_new(st, "conditions", conds);
    if (rc) {
        json_decref(st);
        return NULL;
    }
    return st;
}
