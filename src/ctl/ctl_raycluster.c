/* ctl_raycluster: the local RayCluster runner (see ctl_raycluster.h). One
 * entry per RayCluster; each goes through these phases, driven by its
 * pass (a 1 s tick, and a kick on every pod change):
 *
 *   START     apply (at SYNC: adopt) the head member        -> HEAD
 *   HEAD      the head's pod has a port: apply the workers  -> RUNNING
 *   RUNNING   a member exited, was restarted, vanished, or
 *             the spec changed: remove every member         -> STOPPING
 *   STOPPING  every member's pods are gone: after the group's
 *             back-off, START again (or, deleted, forget it)
 *   IDLE      nothing runs (invalid spec, suspended)
 *
 * A unit restart starts again as soon as every member is gone when the
 * group was all Ready before; again without having been Ready, it waits
 * 1 s, doubling to 60 s (a crash loop). */
#include "ctl/ctl_raycluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_log.h"
#include "common/bx_time.h"
#include "ctl/ctl_ctrl.h"
#include "ctl/ctl_key.h"

#define RC_BACKOFF_MIN_MS 1000
#define RC_BACKOFF_MAX_MS 60000

typedef enum rc_phase { RC_IDLE = 0, RC_START, RC_HEAD, RC_RUNNING, RC_STOPPING } rc_phase;

typedef struct rc_member {
    char key[CTL_NAME_MAX + 1];
    int head;
    int grp; /* worker group index */
    int rank;
    int pid;       /* the pid last seen (0: none yet) */
    char why[256]; /* the orchestrator's last Warning about it */
    /* this pass's look at its pods */
    int npods, port, ready, bad;
    ctl_pod_phase phase;
    char pod[CTL_NAME_MAX + 16];
} rc_member;

typedef struct rc_cluster {
    ctl_obj *obj; /* owned copy */
    ctl_raycluster_view view;
    int valid;
    rc_phase phase;
    int adopt;        /* the next START adopts (SYNC) */
    int adopting;     /* adopted at SYNC, not yet all Ready: the stored status stands */
    int deleting;     /* removed: forget once its members are gone */
    int workers_left; /* stopping head first: the workers go once the head is gone */
    rc_member m[CTL_RAYCLUSTER_MAX_MEMBERS];
    size_t nm;
    int head_port;
    uint64_t backoff_ms, start_at; /* loop ms */
    ctl_raycluster_cond prov, headc;
    char prov_reason[64], prov_msg[512];
} rc_cluster;

struct ctl_raycluster_runner {
    ctl_ctrl *ctrl;
    ctl_objstore *store;
    ctl_orch *orch;
    rc_cluster *cl[CTL_RAYCLUSTER_MAX];
    size_t n;
    int closing;
};

static rc_cluster *rc_find(ctl_raycluster_runner *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->cl[i]->obj->name, name)) return r->cl[i];
    return NULL;
}

static void rc_free(rc_cluster *c)
{
    if (!c) return;
    ctl_obj_free(c->obj);
    free(c);
}

/* 1 when key is a member of a cluster other than self, or a stored
 * Deployment's key. */
static int rc_name_taken(ctl_raycluster_runner *r, const rc_cluster *self, const char *key)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->cl[i] == self) continue;
        for (size_t k = 0; k < r->cl[i]->nm; k++)
            if (!strcmp(r->cl[i]->m[k].key, key)) return 1;
    }
    ctl_record rec;
    char err[256];
    if (ctl_objstore_get(r->store, "Deployment", key, &rec, err, sizeof(err)) == 0) {
        ctl_record_clear(&rec);
        return 1;
    }
    return 0;
}

/* The member list of c's current view. 0, or -1 with err. */
static int rc_members_build(ctl_raycluster_runner *r, rc_cluster *c, char *err, size_t errlen)
{
    c->nm = 0;
    rc_member *m = &c->m[c->nm++];
    memset(m, 0, sizeof(*m));
    m->head = 1;
    m->grp = -1;
    if (ctl_raycluster_member_name(c->obj->name, NULL, -1, m->key, sizeof(m->key)) != 0)
        return snprintf(err, errlen, "no member name fits for the head"), -1;
    int rank = 1;
    for (size_t g = 0; g < c->view.ngroups; g++)
        for (int k = 0; k < c->view.workers[g].hosts; k++) {
            m = &c->m[c->nm++];
            memset(m, 0, sizeof(*m));
            m->grp = (int)g;
            m->rank = rank++;
            if (ctl_raycluster_member_name(c->obj->name, c->view.workers[g].name, k, m->key,
                                           sizeof(m->key)) != 0)
                return snprintf(err, errlen, "no member name fits for group %s",
                                c->view.workers[g].name),
                       -1;
        }
    for (size_t i = 0; i < c->nm; i++) {
        for (size_t k = 0; k < i; k++)
            if (!strcmp(c->m[i].key, c->m[k].key))
                return snprintf(err, errlen, "members %s repeat", c->m[i].key), -1;
        if (rc_name_taken(r, c, c->m[i].key))
            return snprintf(err, errlen,
                            "member name %s is taken (a Deployment or another RayCluster's member)",
                            c->m[i].key),
                   -1;
    }
    return 0;
}

/* Applies (adopt: adopts) member m of c. 0 or -1 (logged, evented). */
static int rc_member_apply(ctl_raycluster_runner *r, rc_cluster *c, rc_member *m)
{
    char err[512];
    ctl_raycluster_member_cfg mc = {.key = m->key,
                                    .g = m->head ? &c->view.head : &c->view.workers[m->grp],
                                    .head = m->head,
                                    .rank = m->rank,
                                    .group_size = 1 + c->view.desired_workers,
                                    .head_port = c->head_port};
    m->pid = 0;
    m->why[0] = '\0'; /* what the orchestrator says from now on (a FailedStart comes inside) */
    json_t *doc = ctl_raycluster_member_doc(c->obj, &c->view, &mc, err, sizeof(err));
    ctl_obj *o = NULL;
    int rc = -1;
    if (doc && ctl_obj_parse(doc, &o, err, sizeof(err)) == 0) {
        o->generation = c->obj->generation;
        snprintf(o->name, sizeof(o->name), "%s", m->key); /* its key (ctl_key.h) */
        rc = c->adopt ? ctl_orch_adopt(r->orch, o, 1, err, sizeof(err))
                      : ctl_orch_apply(r->orch, o, 1, err, sizeof(err));
    }
    json_decref(doc);
    ctl_obj_free(o);
    if (rc != 0)
        ctl_ctrl_event(r->ctrl, c->obj->name, CTL_EVENT_WARNING, "FailedCreate", "member %s: %s",
                       m->key, err);
    return rc;
}

/* Stops the members. head_first (a delete, a spec change: the group still
 * works): the head alone, drained by the gateway, and the workers once it
 * is gone (rc_step), so that no request in flight at the head sees its
 * group fail under it. Else (the group already failed) every member now. */
static void rc_remove_members(ctl_raycluster_runner *r, rc_cluster *c, int workers)
{
    char err[256];
    for (size_t i = 0; i < c->nm; i++)
        if ((c->m[i].head ? 0 : 1) == workers &&
            ctl_orch_remove(r->orch, c->m[i].key, err, sizeof(err)) != 0)
            bx_warn("raycluster %s: member %s: %s", c->obj->name, c->m[i].key, err);
}

static void rc_remove_all(ctl_raycluster_runner *r, rc_cluster *c, int head_first)
{
    rc_remove_members(r, c, 0);
    c->workers_left = head_first;
    if (!head_first) rc_remove_members(r, c, 1);
    c->phase = RC_STOPPING;
}

/* This pass's look at each member's pods. */
static void rc_observe(ctl_raycluster_runner *r, rc_cluster *c)
{
    ctl_podview pv[4];
    for (size_t i = 0; i < c->nm; i++) {
        rc_member *m = &c->m[i];
        size_t n = ctl_orch_pods(r->orch, m->key, pv, 4);
        m->npods = (int)n;
        m->port = 0;
        m->ready = 0;
        m->bad = 0;
        m->pod[0] = '\0';
        if (n == 0) continue;
        const ctl_podview *p = &pv[0];
        m->phase = p->phase;
        m->port = p->port;
        m->ready = p->phase == CTL_POD_READY;
        snprintf(m->pod, sizeof(m->pod), "%s", p->name);
        if (p->phase == CTL_POD_BACKOFF || p->phase == CTL_POD_STOPPING ||
            p->phase == CTL_POD_DRAINING || n > 1)
            m->bad = 1;
        else if (m->pid && p->pid && p->pid != m->pid)
            m->bad = 2;
        if (p->pid && !m->bad) m->pid = p->pid;
    }
}

/* Why a member's pod is bad (rc_observe). */
static const char *rc_what(const rc_member *m)
{
    if (m->bad == 2) return "was restarted";
    if (m->npods > 1) return "has more than one pod";
    switch (m->phase) {
    case CTL_POD_BACKOFF:
        return "exited";
    case CTL_POD_STOPPING:
        return "is being stopped (a failed probe)";
    case CTL_POD_DRAINING:
        return "is draining";
    default:
        return "failed";
    }
}

/* A member failed: the whole group stops, and starts again after the
 * back-off. */
static void rc_unit_restart(ctl_raycluster_runner *r, rc_cluster *c, const rc_member *m,
                            const char *what)
{
    char why[512];
    snprintf(why, sizeof(why), "member %s (pod %s) %s%s%s", m->key, m->pod[0] ? m->pod : "-", what,
             m->why[0] ? ": " : "", m->why);
    bx_warn("raycluster %s: %s: restarting the group as a unit", c->obj->name, why);
    ctl_ctrl_event(r->ctrl, c->obj->name, CTL_EVENT_WARNING, "GroupRestart",
                   "%s: restarting the group as a unit", why);
    snprintf(c->prov_reason, sizeof(c->prov_reason), "GroupRestarting");
    snprintf(c->prov_msg, sizeof(c->prov_msg), "%s", why);
    c->adopting = 0;
    ctl_raycluster_cond_set(&c->prov, 0, ctl_ctrl_wall_ms());
    /* at once after a group that was all Ready; a crash loop backs off */
    c->start_at = ctl_ctrl_now(r->ctrl) + c->backoff_ms;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : RC_BACKOFF_MIN_MS;
    if (c->backoff_ms > RC_BACKOFF_MAX_MS) c->backoff_ms = RC_BACKOFF_MAX_MS;
    rc_remove_all(r, c, 0);
}

static void rc_status(ctl_raycluster_runner *r, rc_cluster *c)
{
    ctl_raycluster_obs o = {.desired_workers = c->valid ? c->view.desired_workers : 0,
                            .suspended = c->valid && c->view.suspend,
                            .generation = c->obj->generation,
                            .prov_reason = c->prov_reason[0] ? c->prov_reason : NULL,
                            .prov_message = c->prov_msg[0] ? c->prov_msg : NULL};
    int64_t now = ctl_ctrl_wall_ms();
    int all_ready = c->nm > 0 && c->phase == RC_RUNNING;
    for (size_t i = 0; i < c->nm; i++) {
        const rc_member *m = &c->m[i];
        if (!m->ready) all_ready = 0;
        if (m->head) {
            o.head_pod = m->pod[0] ? m->pod : NULL;
            o.head_ready = m->ready && c->phase == RC_RUNNING;
        } else if (m->ready && c->phase == RC_RUNNING) {
            o.ready_workers++;
        }
    }
    if (c->adopting && !all_ready) return; /* a previous run's pods being probed */
    c->adopting = 0;
    if (all_ready) {
        c->backoff_ms = 0;
        c->prov_reason[0] = c->prov_msg[0] = '\0';
        o.prov_reason = o.prov_message = NULL;
    }
    ctl_raycluster_cond_set(&c->prov, all_ready, now);
    ctl_raycluster_cond_set(&c->headc, o.head_ready, now);
    o.provisioned = c->prov;
    o.head = c->headc;
    ctl_ctrl_status(r->ctrl, c->obj->name, ctl_raycluster_status(&o));
}

/* One cluster's step; 1 when it is to be forgotten. */
static int rc_step(ctl_raycluster_runner *r, rc_cluster *c)
{
    rc_observe(r, c);
    if (c->phase == RC_STOPPING) {
        if (c->workers_left) {
            for (size_t i = 0; i < c->nm; i++)
                if (c->m[i].head && c->m[i].npods) return 0;
            c->workers_left = 0;
            rc_remove_members(r, c, 1);
        }
        for (size_t i = 0; i < c->nm; i++)
            if (c->m[i].npods) return 0;
        if (c->deleting) return 1;
        char err[512];
        if (!c->valid || c->view.suspend) {
            c->nm = 0;
            c->phase = RC_IDLE;
        } else if (rc_members_build(r, c, err, sizeof(err)) != 0) {
            ctl_ctrl_event(r->ctrl, c->obj->name, CTL_EVENT_WARNING, "InvalidSpec", "%s", err);
            c->nm = 0;
            c->phase = RC_IDLE;
        } else {
            c->phase = RC_START;
        }
    }
    if (c->phase == RC_START) {
        uint64_t now = ctl_ctrl_now(r->ctrl);
        if (c->start_at > now) {
            ctl_ctrl_wake_at(r->ctrl, c->start_at);
            return 0;
        }
        c->head_port = 0;
        if (rc_member_apply(r, c, &c->m[0]) != 0) {
            rc_unit_restart(r, c, &c->m[0], "could not be created");
            return 0;
        }
        c->phase = RC_HEAD;
        rc_observe(r, c);
    }
    if (c->phase == RC_HEAD) {
        rc_member *h = &c->m[0];
        if (h->bad || h->npods == 0) {
            rc_unit_restart(r, c, h, h->npods ? rc_what(h) : "is gone");
        } else if (h->npods && h->port > 0) {
            c->head_port = h->port;
            int failed = 0;
            for (size_t i = 1; i < c->nm && !failed; i++)
                failed = rc_member_apply(r, c, &c->m[i]) != 0;
            c->adopt = 0;
            c->phase = RC_RUNNING;
            rc_observe(r, c);
            if (failed) rc_unit_restart(r, c, h, "had a worker that could not be created");
        }
    }
    if (c->phase == RC_RUNNING) {
        for (size_t i = 0; i < c->nm; i++) {
            rc_member *m = &c->m[i];
            const char *what = m->npods == 0                        ? "is gone"
                               : m->bad                             ? rc_what(m)
                               : m->head && m->port != c->head_port ? "moved to another port"
                                                                    : NULL;
            if (what) {
                rc_unit_restart(r, c, m, what);
                break;
            }
        }
    }
    if (!c->deleting) rc_status(r, c);
    return 0;
}

static void rc_pass(void *ud, ctl_ctrl_why why)
{
    (void)why;
    ctl_raycluster_runner *r = ud;
    if (r->closing) return;
    for (size_t i = 0; i < r->n;) {
        if (rc_step(r, r->cl[i])) {
            ctl_ctrl_forget(r->ctrl, r->cl[i]->obj->name);
            rc_free(r->cl[i]);
            r->cl[i] = r->cl[--r->n];
        } else {
            i++;
        }
    }
}

/* ---- objects ---- */

/* The status the store holds for c (a restart keeps the conditions' times). */
static void rc_load_conditions(ctl_raycluster_runner *r, rc_cluster *c)
{
    ctl_record rec;
    char err[256];
    c->prov.status = c->headc.status = -1;
    if (ctl_objstore_get(r->store, "RayCluster", c->obj->name, &rec, err, sizeof(err)) != 0) return;
    size_t i;
    const json_t *cond;
    json_array_foreach(json_object_get(rec.status, "conditions"), i, cond)
    {
        const char *t = json_string_value(json_object_get(cond, "type"));
        const char *s = json_string_value(json_object_get(cond, "status"));
        const char *ts = json_string_value(json_object_get(cond, "lastTransitionTime"));
        ctl_raycluster_cond *k = !t                                    ? NULL
                                 : !strcmp(t, "RayClusterProvisioned") ? &c->prov
                                 : !strcmp(t, "HeadPodReady")          ? &c->headc
                                                                       : NULL;
        int64_t ms;
        if (!k || !s || !ts || bx_time_parse_rfc3339(ts, &ms) != 0) continue;
        k->status = !strcmp(s, "True");
        k->since_ms = ms;
    }
    ctl_record_clear(&rec);
}

static void rc_put(ctl_raycluster_runner *r, const ctl_obj *o, int sync)
{
    char err[512];
    ctl_obj *copy = NULL;
    if (ctl_obj_parse(o->raw, &copy, err, sizeof(err)) != 0) {
        bx_error("raycluster %s: %s", o->name, err);
        return;
    }
    copy->generation = o->generation;
    memcpy(copy->name, o->name, sizeof(copy->name)); /* its key (ctl_key.h) */
    rc_cluster *c = rc_find(r, o->name);
    if (c && !c->deleting && json_equal(c->obj->raw, copy->raw)) {
        c->obj->generation = copy->generation;
        ctl_obj_free(copy);
        ctl_ctrl_kick(r->ctrl);
        return;
    }
    if (!c) {
        if (r->n == CTL_RAYCLUSTER_MAX || !(c = calloc(1, sizeof(*c)))) {
            bx_error("raycluster %s: too many RayClusters (or out of memory)", o->name);
            ctl_obj_free(copy);
            return;
        }
        r->cl[r->n++] = c;
        c->obj = copy;
        rc_load_conditions(r, c);
        c->adopt = c->adopting = sync;
        c->phase = RC_STOPPING; /* nothing runs yet: starts on this pass */
    } else {
        if (!c->deleting && c->phase != RC_IDLE)
            ctl_ctrl_event(r->ctrl, o->name, CTL_EVENT_NORMAL, "SpecChanged",
                           "the spec changed: restarting the group as a unit");
        ctl_obj_free(c->obj);
        c->obj = copy;
        c->deleting = 0;
        c->adopting = 0;
        if (c->phase != RC_STOPPING && c->phase != RC_IDLE) rc_remove_all(r, c, 1);
        c->phase = RC_STOPPING;
        c->start_at = 0;
    }
    c->valid = ctl_raycluster_view_read(c->obj, &c->view, err, sizeof(err)) == 0;
    if (!c->valid) {
        bx_error("raycluster %s: %s", o->name, err);
        ctl_ctrl_event(r->ctrl, o->name, CTL_EVENT_WARNING, "InvalidSpec", "%s", err);
    }
    ctl_ctrl_kick(r->ctrl);
}

static void rc_on_watch(void *ud, const ctl_watch_event *ev)
{
    ctl_raycluster_runner *r = ud;
    if (r->closing) return;
    if (ev->type != CTL_WATCH_DELETE) {
        rc_put(r, ev->obj, ev->type == CTL_WATCH_SYNC);
        return;
    }
    rc_cluster *c = rc_find(r, ev->name);
    if (!c) return;
    c->deleting = 1;
    if (c->phase != RC_STOPPING) rc_remove_all(r, c, 1);
    ctl_ctrl_kick(r->ctrl);
}

/* ---- the API ---- */

int ctl_raycluster_init(ctl_raycluster_runner **out, uv_loop_t *loop, ctl_objstore *store,
                        ctl_orch *orch, char *err, size_t errlen)
{
    *out = NULL;
    ctl_raycluster_runner *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->store = store;
    r->orch = orch;
    ctl_ctrl_cfg kc = {.kind = "RayCluster",
                       .log_name = "raycluster",
                       .period_ms = 1000,
                       .pass = rc_pass,
                       .ud = r};
    if (ctl_ctrl_init(&r->ctrl, loop, store, &kc, err, errlen) != 0) {
        free(r);
        return -1;
    }
    if (ctl_ctrl_watch(r->ctrl, CTL_KIND_RAYCLUSTER, rc_on_watch, r) != 0) {
        snprintf(err, errlen, "out of memory");
        ctl_raycluster_close(r, NULL, NULL);
        return -1;
    }
    *out = r;
    return 0;
}

void ctl_raycluster_pods_changed(ctl_raycluster_runner *r)
{
    if (r && !r->closing && r->n) ctl_ctrl_kick(r->ctrl);
}

int ctl_raycluster_member_event(ctl_raycluster_runner *r, const char *deployment,
                                ctl_event_type type, const char *reason, const char *message)
{
    if (!r || r->closing) return 0;
    for (size_t i = 0; i < r->n; i++) {
        rc_cluster *c = r->cl[i];
        for (size_t k = 0; k < c->nm; k++) {
            rc_member *m = &c->m[k];
            if (strcmp(m->key, deployment) != 0) continue;
            if (type == CTL_EVENT_WARNING)
                snprintf(m->why, sizeof(m->why), "%s: %s", reason, message);
            ctl_ctrl_event(r->ctrl, c->obj->name, type, reason, "%s", message);
            ctl_ctrl_kick(r->ctrl);
            return 1;
        }
    }
    return 0;
}

int ctl_raycluster_serves(const ctl_raycluster_runner *r, const char *model)
{
    if (!r || r->closing) return 0;
    for (size_t i = 0; i < r->n; i++) {
        const rc_cluster *c = r->cl[i];
        if (c->valid && !c->deleting && !c->view.suspend && !strcmp(c->view.model, model)) return 1;
    }
    return 0;
}

void ctl_raycluster_close(ctl_raycluster_runner *r, void (*done)(void *ud), void *ud)
{
    if (!r || r->closing) return;
    r->closing = 1;
    for (size_t i = 0; i < r->n; i++)
        rc_free(r->cl[i]);
    r->n = 0;
    ctl_ctrl_close(r->ctrl, r, done, ud);
}
