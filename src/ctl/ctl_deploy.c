/* ctl_deploy: the Deployment controller (see ctl_deploy.h). One entry per
 * Deployment in a fixed-size array (a machine runs a handful): a private
 * copy of the object, the replicas wanted, whether it is autoscaled, the
 * pod counts of the last snapshot and the request-rate counter. Lookups
 * are linear. The skeleton (ctl_ctrl) holds the watches and the last
 * status written per Deployment. */
#include "ctl/ctl_deploy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_log.h"
#include "ctl/ctl_key.h"
#include "ctl/ctl_ctrl.h"

typedef struct ctl_deploy_dep {
    ctl_obj *obj;                 /* owned */
    int replicas;                 /* wanted now */
    int autoscaled;               /* a PodAutoscaler targets it */
    int pods, ready;              /* of the last snapshot */
    uint64_t rate_total, rate_ms; /* gateway_request_rate: the counter then */
    double rate;                  /* requests/s over the last second or more */
} ctl_deploy_dep;

struct ctl_deploy {
    ctl_ctrl *ctrl;
    ctl_objstore *store;
    ctl_orch *orch;
    ctl_deploy_cbs cbs;
    void *ud;
    ctl_deploy_dep deps[CTL_DEPLOY_MAX];
    size_t ndeps;
    int closing;
};

static ctl_deploy_dep *ctl_deploy_find(ctl_deploy *d, const char *name)
{
    for (size_t i = 0; i < d->ndeps; i++)
        if (!strcmp(d->deps[i].obj->name, name)) return &d->deps[i];
    return NULL;
}

static const ctl_deploy_dep *ctl_deploy_for_model(const ctl_deploy *d, const char *model)
{
    for (size_t i = 0; i < d->ndeps; i++)
        if (!strcmp(d->deps[i].obj->u.dep.model, model)) return &d->deps[i];
    return NULL;
}

/* The Deployment's status from the last pod snapshot; written when it
 * changed. */
static void ctl_deploy_status(ctl_deploy *d, const ctl_deploy_dep *e)
{
    int avail = e->ready >= e->replicas;
    json_t *st = json_pack(
        "{s:i,s:i,s:i,s:i,s:i,s:[{s:s,s:s,s:s,s:s}]}", "replicas", e->pods, "readyReplicas",
        e->ready, "availableReplicas", e->ready, "updatedReplicas", e->pods, "desiredReplicas",
        e->replicas, "conditions", "type", "Available", "status", avail ? "True" : "False",
        "reason", avail ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable", "message",
        avail ? "Deployment has minimum availability."
              : "Deployment does not have minimum availability.");
    if (!st) return;
    if (e->autoscaled) json_object_set_new(st, "autoscaledReplicas", json_integer(e->replicas));
    ctl_ctrl_status(d->ctrl, e->obj->name, st);
}

/* The replicas a Deployment starts with: its spec, or what the autoscaler
 * last decided (kept in its status), when one targets it. */
static int ctl_deploy_initial_replicas(ctl_deploy *d, const ctl_obj *o, int autoscaled)
{
    if (!autoscaled) return o->u.dep.replicas;
    ctl_record r;
    char err[256];
    int rep = o->u.dep.replicas;
    if (ctl_objstore_get(d->store, "Deployment", o->name, &r, err, sizeof(err)) == 0) {
        json_t *v = json_object_get(r.status, "autoscaledReplicas");
        if (json_is_integer(v) && json_integer_value(v) >= 0 &&
            json_integer_value(v) <= CTL_MAX_REPLICAS)
            rep = (int)json_integer_value(v);
        ctl_record_clear(&r);
    }
    return rep;
}

/* 1 when a stored PodAutoscaler targets deployment. */
static int ctl_deploy_is_autoscaled(ctl_deploy *d, const char *deployment)
{
    ctl_record *rs;
    size_t n;
    char err[256];
    int found = 0;
    if (ctl_objstore_list(d->store, "PodAutoscaler", &rs, &n, err, sizeof(err)) != 0) return 0;
    for (size_t i = 0; i < n && !found; i++) {
        const char *t = json_string_value(json_object_get(
            json_object_get(json_object_get(rs[i].object, "spec"), "scaleTargetRef"), "name"));
        char key[CTL_NAME_MAX + 1]; /* the target in the autoscaler's namespace */
        found =
            t && ctl_key_sibling(rs[i].name, t, key, sizeof(key)) == 0 && !strcmp(key, deployment);
    }
    ctl_records_free(rs, n);
    return found;
}

/* Takes a copy of o (re-parsed from raw) and reconciles it. adopt: the
 * first time at start, when the previous run's engines may still run. */
static int ctl_deploy_apply(ctl_deploy *d, const ctl_obj *o, int adopt)
{
    char err[512];
    ctl_obj *copy = NULL;
    if (ctl_obj_parse(o->raw, &copy, err, sizeof(err)) != 0) {
        bx_error("deployment %s: %s", o->name, err);
        return -1;
    }
    copy->generation = o->generation;
    memcpy(copy->name, o->name, sizeof(copy->name)); /* its key (ctl_key.h) */
    ctl_deploy_dep *e = ctl_deploy_find(d, o->name);
    if (!e) {
        if (d->ndeps == CTL_DEPLOY_MAX) {
            ctl_obj_free(copy);
            bx_error("deployment %s: too many deployments", o->name);
            return -1;
        }
        e = &d->deps[d->ndeps++];
        memset(e, 0, sizeof(*e));
        e->autoscaled = ctl_deploy_is_autoscaled(d, o->name);
        e->replicas = ctl_deploy_initial_replicas(d, copy, e->autoscaled);
    } else {
        ctl_obj_free(e->obj);
        if (!e->autoscaled) e->replicas = copy->u.dep.replicas;
    }
    e->obj = copy;
    if (d->cbs.set_strategy &&
        d->cbs.set_strategy(d->ud, copy->u.dep.model, copy->u.dep.routing_strategy) != 0)
        bx_warn("deployment %s: cannot set routing strategy %s", o->name,
                copy->u.dep.routing_strategy ? copy->u.dep.routing_strategy : "-");
    int rc = adopt ? ctl_orch_adopt(d->orch, copy, e->replicas, err, sizeof(err))
                   : ctl_orch_apply(d->orch, copy, e->replicas, err, sizeof(err));
    if (d->cbs.replicas) d->cbs.replicas(d->ud, copy->name, copy->u.dep.model, e->replicas);
    if (rc != 0) bx_error("deployment %s: %s", o->name, err);
    return rc;
}

static void ctl_deploy_remove(ctl_deploy *d, const char *name)
{
    char err[256];
    if (ctl_orch_remove(d->orch, name, err, sizeof(err)) != 0)
        bx_warn("deployment %s: %s", name, err);
    ctl_deploy_dep *e = ctl_deploy_find(d, name);
    if (!e) return;
    if (d->cbs.set_strategy) d->cbs.set_strategy(d->ud, e->obj->u.dep.model, NULL);
    ctl_ctrl_forget(d->ctrl, name);
    ctl_obj_free(e->obj);
    *e = d->deps[--d->ndeps];
}

/* The store's watch: Deployments. */
static void ctl_deploy_on_deployment(void *ud, const ctl_watch_event *ev)
{
    ctl_deploy *d = ud;
    if (ev->type == CTL_WATCH_DELETE)
        ctl_deploy_remove(d, ev->name);
    else
        ctl_deploy_apply(d, ev->obj, ev->type == CTL_WATCH_SYNC);
}

/* The store's watch: PodAutoscalers make their target autoscaled (the
 * autoscaler controller applies them itself). */
static void ctl_deploy_on_autoscaler(void *ud, const ctl_watch_event *ev)
{
    ctl_deploy *d = ud;
    if (ev->type == CTL_WATCH_DELETE) {
        for (size_t i = 0; i < d->ndeps; i++)
            d->deps[i].autoscaled = ctl_deploy_is_autoscaled(d, d->deps[i].obj->name);
        return;
    }
    char key[CTL_NAME_MAX + 1]; /* the target in the autoscaler's namespace */
    if (ctl_key_sibling(ev->obj->name, ev->obj->u.pa.target_name, key, sizeof(key)) != 0) return;
    ctl_deploy_dep *e = ctl_deploy_find(d, key);
    if (!e) return;
    e->autoscaled = 1;
    if (d->cbs.replicas) d->cbs.replicas(d->ud, e->obj->name, e->obj->u.dep.model, e->replicas);
}

int ctl_deploy_init(ctl_deploy **out, uv_loop_t *loop, ctl_objstore *store, ctl_orch *orch,
                    const ctl_deploy_cbs *cbs, void *ud, char *err, size_t errlen)
{
    *out = NULL;
    ctl_deploy *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    d->store = store;
    d->orch = orch;
    if (cbs) d->cbs = *cbs;
    d->ud = ud;
    ctl_ctrl_cfg kc = {.kind = "Deployment", .log_name = "deployment"};
    if (ctl_ctrl_init(&d->ctrl, loop, store, &kc, err, errlen) != 0) {
        free(d);
        return -1;
    }
    if (ctl_ctrl_watch(d->ctrl, CTL_KIND_DEPLOYMENT, ctl_deploy_on_deployment, d) != 0 ||
        ctl_ctrl_watch(d->ctrl, CTL_KIND_POD_AUTOSCALER, ctl_deploy_on_autoscaler, d) != 0) {
        snprintf(err, errlen, "out of memory");
        ctl_deploy_close(d, NULL, NULL);
        return -1;
    }
    *out = d;
    return 0;
}

void ctl_deploy_pods(ctl_deploy *d, const ctl_podview *pods, size_t n)
{
    if (d->closing) return;
    for (size_t i = 0; i < d->ndeps; i++) {
        ctl_deploy_dep *e = &d->deps[i];
        e->pods = e->ready = 0;
        for (size_t k = 0; k < n; k++) {
            if (!pods[k].deployment || strcmp(pods[k].deployment, e->obj->name) != 0) continue;
            e->pods++;
            if (pods[k].phase == CTL_POD_READY) e->ready++;
        }
        ctl_deploy_status(d, e);
    }
}

void ctl_deploy_scale(ctl_deploy *d, const char *deployment, int replicas, const char *reason)
{
    ctl_deploy_dep *e = d->closing ? NULL : ctl_deploy_find(d, deployment);
    if (!e) return;
    bx_info("deployment %s: scale %d -> %d: %s", deployment, e->replicas, replicas,
            reason ? reason : "");
    e->autoscaled = 1;
    e->replicas = replicas;
    char err[256];
    if (ctl_orch_apply(d->orch, e->obj, replicas, err, sizeof(err)) != 0)
        bx_error("deployment %s: %s", deployment, err);
    /* the apply may have changed the pods, and the array with them */
    e = ctl_deploy_find(d, deployment);
    if (e) ctl_deploy_status(d, e);
}

int ctl_deploy_by_model(const ctl_deploy *d, const char *model, ctl_deploy_info *out)
{
    const ctl_deploy_dep *e = ctl_deploy_for_model(d, model);
    if (!e) return 1;
    *out = (ctl_deploy_info){.name = e->obj->name,
                             .model = e->obj->u.dep.model,
                             .replicas = e->replicas,
                             .autoscaled = e->autoscaled};
    return 0;
}

int ctl_deploy_request_rate(ctl_deploy *d, const char *model, uint64_t routed_total, double *rate)
{
    ctl_deploy_dep *e = (ctl_deploy_dep *)ctl_deploy_for_model(d, model);
    if (!e) return -1;
    uint64_t now = ctl_ctrl_now(d->ctrl);
    if (e->rate_ms == 0) {
        e->rate_ms = now;
        e->rate_total = routed_total;
    } else if (now - e->rate_ms >= 1000) {
        /* an engine leaving the set takes its count along: no negative rate */
        e->rate = routed_total >= e->rate_total
                      ? (double)(routed_total - e->rate_total) * 1000.0 / (double)(now - e->rate_ms)
                      : 0;
        e->rate_ms = now;
        e->rate_total = routed_total;
    }
    *rate = e->rate;
    return 0;
}

void ctl_deploy_close(ctl_deploy *d, void (*done)(void *ud), void *ud)
{
    if (!d || d->closing) return;
    d->closing = 1;
    for (size_t i = 0; i < d->ndeps; i++)
        ctl_obj_free(d->deps[i].obj);
    d->ndeps = 0;
    ctl_ctrl_close(d->ctrl, d, done, ud);
}
