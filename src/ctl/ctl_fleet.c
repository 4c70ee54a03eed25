/* ctl_fleet: the RayClusterFleet controller (ctl_fleet.h). Each pass lists
 * the fleets, their replica sets and the RayClusters from the store, works
 * out one step per fleet with ctl_rollout, writes the replica sets it
 * changes (ctl_fleet_rs.c) and the fleet's status. What it keeps between
 * passes is only the autoscalers' decisions. */
#include "ctl/ctl_fleet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_log.h"
#include "common/bx_time.h"
#include "ctl/ctl_ctrl.h"
#include "ctl/ctl_fleet_int.h"
#include "ctl/ctl_key.h"
#include "ctl/ctl_owner.h"

#define FLEET_PERIOD_MS 10000

typedef struct fl_scaled {
    char key[CTL_NAME_MAX + 1];
    int replicas;
} fl_scaled;

struct ctl_fleet_ctl {
    ctl_ctrl *ctrl;
    ctl_objstore *store;
    fl_scaled scaled[CTL_FLEET_MAX];
    size_t nscaled;
    int local_scale; /* autoscalers' decisions come through ctl_fleet_scale */
    int closing;
};

static int64_t fl_int(const json_t *o, const char *key, int64_t dflt)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

/* 1 when a stored PodAutoscaler targets the fleet (key). */
static int fl_autoscaled(ctl_fleet_ctl *f, const char *key)
{
    ctl_record *rs;
    size_t n;
    char err[256];
    int found = 0;
    if (ctl_objstore_list(f->store, "PodAutoscaler", &rs, &n, err, sizeof(err)) != 0) return 0;
    for (size_t i = 0; i < n && !found; i++) {
        const json_t *ref =
            json_object_get(json_object_get(rs[i].object, "spec"), "scaleTargetRef");
        const char *kind = json_string_value(json_object_get(ref, "kind"));
        const char *t = json_string_value(json_object_get(ref, "name"));
        char k[CTL_NAME_MAX + 1];
        found = kind && !strcmp(kind, FL_KIND) && t &&
                ctl_key_sibling(rs[i].name, t, k, sizeof(k)) == 0 && !strcmp(k, key);
    }
    ctl_records_free(rs, n);
    return found;
}

/* The replicas wanted: an autoscaler's decision (or, after a restart, the
 * one kept in status) while one targets the fleet; else spec.replicas.
 * *autoscaled says which. */
static int fl_wanted(ctl_fleet_ctl *f, const ctl_record *rec, const ctl_obj *o, int *autoscaled)
{
    *autoscaled = f->local_scale && fl_autoscaled(f, rec->name);
    if (!*autoscaled) return o->u.fleet.replicas;
    for (size_t i = 0; i < f->nscaled; i++)
        if (!strcmp(f->scaled[i].key, rec->name)) return f->scaled[i].replicas;
    int64_t v = fl_int(rec->status, "autoscaledReplicas", -1);
    return v >= 0 && v <= CTL_MAX_REPLICAS ? (int)v : o->u.fleet.replicas;
}

/* ---- one fleet ---- */

static void fl_sync(ctl_fleet_ctl *f, const ctl_record *fleet, const ctl_record *rss, size_t nrs,
                    const ctl_record *rcs, size_t nrc)
{
    char err[512];
    ctl_obj *o = NULL;
    if (ctl_obj_parse(fleet->object, &o, err, sizeof(err)) != 0) {
        ctl_ctrl_event(f->ctrl, fleet->name, CTL_EVENT_WARNING, "InvalidSpec", "%s", err);
        return;
    }
    snprintf(o->name, sizeof(o->name), "%s", fleet->name);
    fl_view v;
    memset(&v, 0, sizeof(v));
    v.fleet = fleet;
    v.obj = o;
    v.now_ms = ctl_ctrl_wall_ms();
    v.replicas = fl_wanted(f, fleet, o, &v.autoscaled);
    if (ctl_rollout_strategy_parse(o->u.fleet.recreate, o->u.fleet.max_surge,
                                   o->u.fleet.max_unavailable, &v.f.strategy, err,
                                   sizeof(err)) != 0) {
        ctl_ctrl_event(f->ctrl, fleet->name, CTL_EVENT_WARNING, "InvalidSpec", "%s", err);
        ctl_obj_free(o);
        return;
    }
    v.f.replicas = v.replicas;
    v.f.status_replicas = (int)fl_int(fleet->status, "replicas", 0);
    v.f.revision_history_limit = o->u.fleet.revision_history_limit;
    v.f.generation = fleet->generation;
    v.f.observed_generation = fl_int(fleet->status, "observedGeneration", 0);
    v.f.status_updated = (int)fl_int(fleet->status, "updatedReplicas", 0);
    v.f.status_available = (int)fl_int(fleet->status, "availableReplicas", 0);
    v.f.status_ready = (int)fl_int(fleet->status, "readyReplicas", 0);
    v.f.progress_deadline_s = o->u.fleet.progress_deadline_s;
    fl_rs_collect(&v, rss, nrs, rcs, nrc);
    int new_idx = ctl_rollout_find_new(o->u.fleet.template, v.tmpl, v.rs, v.n);
    fl_step st = {.store = f->store, .ctrl = f->ctrl};
    const char *ann = json_string_value(
        json_object_get(json_object_get(json_object_get(fleet->object, "metadata"), "annotations"),
                        CTL_ROLLOUT_ANN_ROLLBACK_TO));
    if (o->u.fleet.paused) {
        fl_rs_scale(&v, &st, new_idx);
    } else if (ann) {
        fl_rollback(&v, &st, ann);
    } else if (ctl_rollout_is_scaling_event(&v.f, v.rs, v.n)) {
        fl_rs_revision(&v, &st, new_idx);
        fl_rs_scale(&v, &st, new_idx);
    } else {
        fl_rs_revision(&v, &st, new_idx);
        fl_rs_rollout(&v, &st, new_idx);
    }
    fl_status(&v, &st, new_idx);
    ctl_obj_free(o);
}

/* ---- the pass ---- */

static void fl_pass(void *ud, ctl_ctrl_why why)
{
    (void)why;
    ctl_fleet_ctl *f = ud;
    if (f->closing) return;
    ctl_record *fls = NULL, *rss = NULL, *rcs = NULL;
    size_t nfl = 0, nrs = 0, nrc = 0;
    char err[256];
    if (ctl_objstore_list(f->store, FL_KIND, &fls, &nfl, err, sizeof(err)) != 0 ||
        ctl_objstore_list(f->store, FL_RS_KIND, &rss, &nrs, err, sizeof(err)) != 0 ||
        ctl_objstore_list(f->store, FL_RC_KIND, &rcs, &nrc, err, sizeof(err)) != 0) {
        bx_warn("raycluster fleets: %s", err);
        goto out;
    }
    for (size_t i = 0; i < nfl; i++)
        fl_sync(f, &fls[i], rss, nrs, rcs, nrc);
    /* replica sets whose fleet is gone (the API server's garbage collector
     * does this there; the local store has none) */
    for (size_t i = 0; i < nrs; i++) {
        const char *owner = ctl_owner_name(rss[i].object, FL_KIND);
        char key[CTL_NAME_MAX + 1];
        if (!owner || ctl_key_sibling(rss[i].name, owner, key, sizeof(key)) != 0) continue;
        int found = 0;
        for (size_t k = 0; k < nfl && !found; k++)
            found = !strcmp(fls[k].name, key);
        if (!found && ctl_objstore_delete(f->store, FL_RS_KIND, rss[i].name, err, sizeof(err)) < 0)
            bx_warn("raycluster replica set %s: %s", rss[i].name, err);
    }
out:
    ctl_records_free(fls, nfl);
    ctl_records_free(rss, nrs);
    ctl_records_free(rcs, nrc);
}

static void fl_on_change(void *ud, const ctl_watch_event *ev)
{
    ctl_fleet_ctl *f = ud;
    if (ev->type == CTL_WATCH_DELETE && ev->kind == CTL_KIND_RAYCLUSTER_FLEET) {
        ctl_ctrl_forget(f->ctrl, ev->name);
        for (size_t i = 0; i < f->nscaled; i++)
            if (!strcmp(f->scaled[i].key, ev->name)) {
                f->scaled[i] = f->scaled[--f->nscaled];
                break;
            }
    }
    ctl_ctrl_kick(f->ctrl);
}

int ctl_fleet_init(ctl_fleet_ctl **out, uv_loop_t *loop, ctl_objstore *store, int local_scale,
                   char *err, size_t errlen)
{
    *out = NULL;
    ctl_fleet_ctl *f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    f->store = store;
    f->local_scale = local_scale;
    ctl_ctrl_cfg kc = {.kind = FL_KIND,
                       .log_name = "rayclusterfleet",
                       .period_ms = FLEET_PERIOD_MS,
                       .pass = fl_pass,
                       .ud = f};
    if (ctl_ctrl_init(&f->ctrl, loop, store, &kc, err, errlen) != 0) {
        free(f);
        return -1;
    }
    if (ctl_ctrl_watch(f->ctrl, CTL_KIND_RAYCLUSTER_FLEET, fl_on_change, f) != 0 ||
        ctl_ctrl_watch(f->ctrl, CTL_KIND_RAYCLUSTER_REPLICASET, fl_on_change, f) != 0 ||
        ctl_ctrl_watch(f->ctrl, CTL_KIND_RAYCLUSTER, fl_on_change, f) != 0 ||
        ctl_ctrl_watch(f->ctrl, CTL_KIND_POD_AUTOSCALER, fl_on_change, f) != 0 ||
        ctl_objstore_watch_status(store, CTL_KIND_RAYCLUSTER_REPLICASET, fl_on_change, f) != 0) {
        snprintf(err, errlen, "out of memory");
        ctl_fleet_close(f, NULL, NULL);
        return -1;
    }
    ctl_ctrl_kick(f->ctrl);
    *out = f;
    return 0;
}

int ctl_fleet_scale(ctl_fleet_ctl *f, const char *fleet, int replicas, const char *reason)
{
    if (!f || f->closing || !f->local_scale) return -1;
    fl_scaled *s = NULL;
    for (size_t i = 0; i < f->nscaled && !s; i++)
        if (!strcmp(f->scaled[i].key, fleet)) s = &f->scaled[i];
    if (!s) {
        if (f->nscaled == CTL_FLEET_MAX) return -1;
        s = &f->scaled[f->nscaled++];
        snprintf(s->key, sizeof(s->key), "%s", fleet);
    } else if (s->replicas == replicas) {
        return 0;
    }
    bx_info("rayclusterfleet %s: scale to %d: %s", fleet, replicas, reason ? reason : "");
    s->replicas = replicas;
    ctl_ctrl_kick(f->ctrl);
    return 0;
}

void ctl_fleet_close(ctl_fleet_ctl *f, void (*done)(void *ud), void *ud)
{
    if (!f || f->closing) return;
    f->closing = 1;
    ctl_objstore_unwatch(f->store, fl_on_change, f);
    ctl_ctrl_close(f->ctrl, f, done, ud);
}
