/* ctl_orch_local: the local orchestrator's table entry (see
 * ctl_orch_local.h for what it does, ctl_local_int.h for its structure).
 * This file owns the deployments: their settings (a refcounted copy of
 * the object, and a template id that changes only when what a pod runs
 * changes), reconciling desired replicas against pods (scale up and down,
 * the one-at-a-time rollout of a new template, duplicates), adoption of
 * the store's pod rows, remove, the kick timer's pass, init and close.
 * What happens to one pod is ctl_local_pod.c's. */
#include "ctl/ctl_local_int.h"

#include "common/bx_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_key.h"

#define CTL_ORCH_LOCAL_SLOT_MAX 32

static void ctl_orch_local_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ctl_orch_local_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static ctl_orch_local *ctl_orch_local_of(ctl_orch *o)
{
    return bx_container_of(o, ctl_orch_local, base);
}

/* ---- deployments ---- */

static ctl_local_dep *ctl_orch_local_dep_find(ctl_orch_local *l, const char *name)
{
    bx_queue *q;
    BX_QUEUE_FOREACH(q, &l->deps)
    {
        ctl_local_dep *d = bx_container_of(q, ctl_local_dep, link);
        if (strcmp(d->name, name) == 0) return d;
    }
    return NULL;
}

static ctl_local_dep *ctl_orch_local_dep_get(ctl_orch_local *l, const char *name)
{
    ctl_local_dep *d = ctl_orch_local_dep_find(l, name);
    if (d) return d;
    d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    d->l = l;
    snprintf(d->name, sizeof(d->name), "%s", name);
    bx_queue_init(&d->pods);
    bx_queue *q;
    BX_QUEUE_FOREACH(q, &l->deps)
    {
        if (strcmp(bx_container_of(q, ctl_local_dep, link)->name, name) >= 0) break;
    }
    bx_queue_insert_before(q, &d->link); /* by name; the tail when q is the head */
    return d;
}

static void ctl_orch_local_dep_free(ctl_local_dep *d)
{
    bx_queue_remove(&d->link);
    ctl_local_spec_unref(d->cur);
    free(d);
}

static void ctl_orch_local_launch(ctl_local_dep *d, int replica)
{
    ctl_local_pod *p = ctl_local_pod_new(d, replica, NULL);
    if (!p) {
        bx_error("ctl_orch_local: out of memory starting %s-%d", d->name, replica);
        return;
    }
    ctl_local_pod_spawn(p);
}

/* Desired replicas against pods: indexes beyond the wanted count stop
 * (highest first); each wanted index keeps one pod of the current
 * template, launching it beside a Ready pod of an older template (one such
 * surge at a time) and stopping the older one once the new one is Ready. */
static void ctl_orch_local_reconcile(ctl_local_dep *d)
{
    ctl_orch_local *l = d->l;
    bx_queue *q;
    d->dirty = 0;
    l->in_reconcile++;
    int want = (d->removing || l->closing || !d->cur) ? 0 : d->desired;

    /* Indexes beyond the wanted count: highest first. */
    for (;;) {
        ctl_local_pod *hi = NULL;
        BX_QUEUE_FOREACH(q, &d->pods)
        {
            ctl_local_pod *p = bx_container_of(q, ctl_local_pod, link);
            if (p->replica >= want && !p->for_good && (!hi || p->replica >= hi->replica)) hi = p;
        }
        if (!hi) break;
        ctl_local_pod_stop_for_good(hi);
    }

    ctl_local_pod *slot[CTL_ORCH_LOCAL_SLOT_MAX];
    int surging = 0;
    for (int i = 0; i < want; i++) {
        int cur_wait = 0, old_ready = 0;
        BX_QUEUE_FOREACH(q, &d->pods)
        {
            ctl_local_pod *p = bx_container_of(q, ctl_local_pod, link);
            if (p->replica != i || p->for_good) continue;
            if (!ctl_local_pod_outdated(p) && p->phase != CTL_POD_READY) cur_wait = 1;
            if (ctl_local_pod_outdated(p) && p->phase == CTL_POD_READY) old_ready = 1;
        }
        surging += cur_wait && old_ready;
    }

    for (int i = 0; i < want; i++) {
        size_t n = 0;
        for (q = d->pods.next; q != &d->pods && n < CTL_ORCH_LOCAL_SLOT_MAX; q = q->next) {
            ctl_local_pod *p = bx_container_of(q, ctl_local_pod, link);
            if (p->replica == i && !p->for_good) slot[n++] = p;
        }
        ctl_local_pod *cur = NULL;
        int old_ready = 0, old_adopting = 0;
        for (size_t k = 0; k < n; k++) {
            if (ctl_local_pod_outdated(slot[k])) {
                old_ready |= slot[k]->phase == CTL_POD_READY;
                old_adopting |= slot[k]->adopt_pending && slot[k]->phase == CTL_POD_STARTING;
                continue;
            }
            if (!cur || (slot[k]->phase == CTL_POD_READY && cur->phase != CTL_POD_READY))
                cur = slot[k];
        }
        for (size_t k = 0; k < n; k++) /* duplicates of the current template */
            if (!ctl_local_pod_outdated(slot[k]) && slot[k] != cur)
                ctl_local_pod_stop_for_good(slot[k]);
        if (!cur) {
            if (old_ready) {
                if (surging < 1) {
                    surging++;
                    ctl_orch_local_launch(d, i);
                }
            } else if (!old_adopting) { /* else: wait until we know it serves */
                for (size_t k = 0; k < n; k++)
                    ctl_local_pod_stop_for_good(slot[k]);
                ctl_orch_local_launch(d, i);
            }
        } else {
            for (size_t k = 0; k < n; k++)
                if (slot[k] != cur &&
                    (cur->phase == CTL_POD_READY || slot[k]->phase != CTL_POD_READY))
                    ctl_local_pod_stop_for_good(slot[k]);
        }
    }
    l->in_reconcile--;
}

static void ctl_orch_local_reconcile_now(ctl_local_dep *d)
{
    if (d->l->in_reconcile)
        ctl_local_dep_mark(d);
    else
        ctl_orch_local_reconcile(d);
}

/* ---- the kick pass and the end ---- */

static void ctl_orch_local_free(ctl_orch_local *l)
{
    for (size_t i = 0; l->pass_env[i]; i++)
        free(l->pass_env[i]);
    for (size_t i = 0; l->set_env[i]; i++)
        free(l->set_env[i]);
    free(l->brix);
    free(l->log_dir);
    free(l);
}

static void ctl_orch_local_on_kick_closed(uv_handle_t *h)
{
    ctl_orch_local *l = h->data;
    void (*done)(void *) = l->done;
    void *ud = l->done_ud;
    ctl_orch_local_free(l);
    if (done) done(ud);
}

static void ctl_orch_local_maybe_finish(ctl_orch_local *l)
{
    if (!l->closing || l->finished || !bx_queue_empty(&l->deps) || !bx_queue_empty(&l->dying))
        return;
    l->finished = 1;
    uv_timer_stop(&l->kick);
    if (l->http) bx_http_client_close(l->http);
    l->http = NULL;
    l->kick.data = l;
    uv_close((uv_handle_t *)&l->kick, ctl_orch_local_on_kick_closed);
}

static void ctl_orch_local_on_kick(uv_timer_t *t)
{
    ctl_orch_local *l = bx_container_of(t, ctl_orch_local, kick);
    bx_queue *q, *tmp;
    /* Deployments are freed only here, so d stays valid across reconcile;
     * one marked again meanwhile is done at the next kick. */
    BX_QUEUE_FOREACH(q, &l->deps)
    {
        ctl_local_dep *d = bx_container_of(q, ctl_local_dep, link);
        if (d->dirty) ctl_orch_local_reconcile(d);
    }
    BX_QUEUE_FOREACH_SAFE(q, tmp, &l->deps)
    {
        ctl_local_dep *d = bx_container_of(q, ctl_local_dep, link);
        if ((d->removing || l->closing) && bx_queue_empty(&d->pods)) ctl_orch_local_dep_free(d);
    }
    ctl_orch_local_maybe_finish(l);
}

/* ---- settings ---- */

static int ctl_orch_local_str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* 1 when pods launched from a and b would run the same thing. */
static int ctl_orch_local_tmpl_equal(const ctl_obj *a, const ctl_obj *b)
{
    const ctl_deployment *x = &a->u.dep, *y = &b->u.dep;
    if (x->argc != y->argc || x->nenv != y->nenv) return 0;
    for (size_t i = 0; i < x->argc; i++)
        if (!ctl_orch_local_str_eq(x->argv[i], y->argv[i])) return 0;
    for (size_t i = 0; i < x->nenv; i++)
        if (!ctl_orch_local_str_eq(x->env[i].name, y->env[i].name) ||
            !ctl_orch_local_str_eq(x->env[i].value, y->env[i].value))
            return 0;
    if (!ctl_orch_local_str_eq(x->model, y->model) || !ctl_orch_local_str_eq(x->engine, y->engine))
        return 0;
    if (!x->pod_labels != !y->pod_labels) return 0;
    return !x->pod_labels || json_equal(x->pod_labels, y->pod_labels);
}

/* Registers (or updates) the deployment's settings; no reconciling. */
static ctl_local_dep *ctl_orch_local_dep_set(ctl_orch_local *l, const ctl_obj *obj, int replicas,
                                             char *err, size_t errlen)
{
    if (l->closing) {
        ctl_orch_local_seterr(err, errlen, "ctl_orch_local: closing");
        return NULL;
    }
    if (!obj || obj->kind != CTL_KIND_DEPLOYMENT) {
        ctl_orch_local_seterr(err, errlen, "ctl_orch_local: not a Deployment");
        return NULL;
    }
    if (replicas < 0 || replicas > CTL_MAX_REPLICAS) {
        ctl_orch_local_seterr(err, errlen, "Deployment %s: replicas %d out of 0..%d", obj->name,
                              replicas, CTL_MAX_REPLICAS);
        return NULL;
    }
    ctl_local_dep *d = ctl_orch_local_dep_find(l, obj->name);
    if (d && d->cur && d->cur->o->generation == obj->generation &&
        json_equal(d->cur->o->raw, obj->raw)) {
        d->desired = replicas;
        d->removing = 0;
        return d;
    }
    ctl_obj *copy = NULL;
    if (ctl_obj_parse(obj->raw, &copy, err, errlen) != 0) return NULL;
    copy->generation = obj->generation;
    memcpy(copy->name, obj->name, sizeof(copy->name)); /* its key (ctl_key.h) */
    ctl_local_spec *sp = calloc(1, sizeof(*sp));
    if (!sp || !(d = ctl_orch_local_dep_get(l, obj->name))) {
        free(sp);
        ctl_obj_free(copy);
        ctl_orch_local_seterr(err, errlen, "ctl_orch_local: out of memory");
        return NULL;
    }
    sp->o = copy;
    sp->refs = 1;
    if (d->cur && ctl_orch_local_tmpl_equal(d->cur->o, copy)) {
        /* Same template: running pods take the new settings. */
        sp->tmpl = d->cur->tmpl;
        bx_queue *q;
        BX_QUEUE_FOREACH(q, &d->pods)
        {
            ctl_local_pod *p = bx_container_of(q, ctl_local_pod, link);
            if (p->tmpl != sp->tmpl) continue;
            ctl_local_spec_unref(p->sp);
            p->sp = ctl_local_spec_ref(sp);
            p->generation = copy->generation;
            ctl_local_pod_write_row(p);
        }
    } else {
        sp->tmpl = ++d->tmpl_seq;
    }
    ctl_local_spec_unref(d->cur);
    d->cur = sp;
    d->desired = replicas;
    d->removing = 0;
    return d;
}

/* Pods for the store's rows of d that are alive; dead rows are deleted.
 * for_stop: take them over only to stop them. */
static int ctl_orch_local_adopt_rows(ctl_orch_local *l, ctl_local_dep *d, int for_stop, char *err,
                                     size_t errlen)
{
    ctl_pod *rows = NULL;
    size_t n = 0;
    if (ctl_store_pod_list(l->store, d->name, &rows, &n, err, errlen) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        ctl_pod *r = &rows[i];
        if (ctl_local_pod_find(l, r->name)) continue;
        char e2[256];
        if (!ctl_local_spawn_alive_leader(r->pid)) {
            bx_info("ctl_orch_local: pod %s (pid %d) is gone; forgetting its row", r->name, r->pid);
            if (ctl_store_pod_delete(l->store, r->name, e2, sizeof(e2)) < 0)
                bx_warn("ctl_orch_local: deleting pod row %s: %s", r->name, e2);
            continue;
        }
        ctl_local_pod *p = ctl_local_pod_new(d, r->replica, r->name);
        if (!p) {
            free(rows);
            ctl_orch_local_seterr(err, errlen, "ctl_orch_local: out of memory");
            return -1;
        }
        ctl_local_pod_adopt(p, r, for_stop);
    }
    free(rows);
    return 0;
}

/* ---- the table ---- */

static int ctl_orch_local_apply(ctl_orch *o, const ctl_obj *deployment, int replicas, char *err,
                                size_t errlen)
{
    ctl_local_dep *d =
        ctl_orch_local_dep_set(ctl_orch_local_of(o), deployment, replicas, err, errlen);
    if (!d) return -1;
    ctl_orch_local_reconcile_now(d);
    return 0;
}

static int ctl_orch_local_adopt(ctl_orch *o, const ctl_obj *deployment, int replicas, char *err,
                                size_t errlen)
{
    ctl_orch_local *l = ctl_orch_local_of(o);
    ctl_local_dep *d = ctl_orch_local_dep_set(l, deployment, replicas, err, errlen);
    if (!d) return -1;
    int r = ctl_orch_local_adopt_rows(l, d, 0, err, errlen);
    ctl_orch_local_reconcile_now(d);
    return r;
}

static int ctl_orch_local_remove(ctl_orch *o, const char *deployment, char *err, size_t errlen)
{
    ctl_orch_local *l = ctl_orch_local_of(o);
    if (l->closing) {
        ctl_orch_local_seterr(err, errlen, "ctl_orch_local: closing");
        return -1;
    }
    if (!deployment || !ctl_key_valid(deployment)) {
        ctl_orch_local_seterr(err, errlen, "ctl_orch_local: bad deployment name");
        return -1;
    }
    ctl_local_dep *d = ctl_orch_local_dep_find(l, deployment);
    int r = 0;
    if (!d) {
        if (!(d = ctl_orch_local_dep_get(l, deployment))) {
            ctl_orch_local_seterr(err, errlen, "ctl_orch_local: out of memory");
            return -1;
        }
        d->removing = 1;
        r = ctl_orch_local_adopt_rows(l, d, 1, err, errlen);
    }
    d->removing = 1;
    ctl_orch_local_reconcile_now(d);
    ctl_local_dep_mark(d); /* frees it once empty */
    return r;
}

static size_t ctl_orch_local_pods(ctl_orch *o, const char *deployment, ctl_podview *out, size_t max)
{
    ctl_orch_local *l = ctl_orch_local_of(o);
    size_t n = 0;
    bx_queue *qd, *qp;
    BX_QUEUE_FOREACH(qd, &l->deps)
    {
        ctl_local_dep *d = bx_container_of(qd, ctl_local_dep, link);
        if (deployment && strcmp(d->name, deployment) != 0) continue;
        BX_QUEUE_FOREACH(qp, &d->pods)
        {
            ctl_local_pod *p = bx_container_of(qp, ctl_local_pod, link);
            if (p->phase == CTL_POD_GONE) continue;
            if (n < max && out) ctl_local_pod_view(p, &out[n]);
            n++;
        }
    }
    return n;
}

static void ctl_orch_local_get_stats(const ctl_orch *o, ctl_orch_stats *out)
{
    *out = bx_container_of(o, const ctl_orch_local, base)->st;
}

static void ctl_orch_local_close(ctl_orch *o, int stop_pods, void (*done)(void *ud), void *ud)
{
    ctl_orch_local *l = ctl_orch_local_of(o);
    if (l->closing) return;
    l->closing = 1;
    l->done = done;
    l->done_ud = ud;
    bx_queue *q;
    BX_QUEUE_FOREACH(q, &l->deps)
    {
        ctl_local_dep *d = bx_container_of(q, ctl_local_dep, link);
        if (stop_pods) {
            d->removing = 1;
            d->dirty = 1;
        } else {
            while (!bx_queue_empty(&d->pods)) /* processes and rows stay */
                ctl_local_pod_release(bx_container_of(d->pods.next, ctl_local_pod, link));
        }
    }
    ctl_local_kick(l);
}

static const ctl_orch_ops ctl_orch_local_ops = {
    .name = "local",
    .apply = ctl_orch_local_apply,
    .adopt = ctl_orch_local_adopt,
    .remove = ctl_orch_local_remove,
    .pods = ctl_orch_local_pods,
    .get_stats = ctl_orch_local_get_stats,
    .close = ctl_orch_local_close,
};

void ctl_orch_local_cfg_default(ctl_orch_local_cfg *c)
{
    memset(c, 0, sizeof(*c));
    c->brix_path = "brix";
    c->backoff_base_s = 1;
    c->backoff_max_s = 60;
    c->backoff_reset_s = 60;
    c->probe_timeout_s = 1;
    c->failure_threshold = 3;
    c->drain_poll_s = 0.25;
    c->orphan_grace_s = 30;
}

int ctl_orch_local_init(ctl_orch **out, uv_loop_t *loop, ctl_store *store,
                        const ctl_orch_local_cfg *cfg, const ctl_orch_cbs *cbs, void *ud, char *err,
                        size_t errlen)
{
    *out = NULL;
    if (!loop || !store) {
        ctl_orch_local_seterr(err, errlen, "ctl_orch_local: loop and store are required");
        return -1;
    }
    ctl_orch_local_cfg def, c;
    ctl_orch_local_cfg_default(&def);
    if (cfg)
        c = *cfg;
    else
        c = def;
    if (!c.brix_path) c.brix_path = def.brix_path;
    if (!(c.backoff_base_s > 0)) c.backoff_base_s = def.backoff_base_s;
    if (!(c.backoff_max_s > 0)) c.backoff_max_s = def.backoff_max_s;
    if (c.backoff_max_s < c.backoff_base_s) c.backoff_max_s = c.backoff_base_s;
    if (!(c.backoff_reset_s > 0)) c.backoff_reset_s = def.backoff_reset_s;
    if (!(c.probe_timeout_s > 0)) c.probe_timeout_s = def.probe_timeout_s;
    if (c.failure_threshold <= 0) c.failure_threshold = def.failure_threshold;
    if (!(c.drain_poll_s > 0)) c.drain_poll_s = def.drain_poll_s;
    if (!(c.orphan_grace_s >= 0)) c.orphan_grace_s = def.orphan_grace_s;
    if (c.probe_period_s < 0) c.probe_period_s = 0;
    if (c.port_min < 0 || c.port_max > 65535 || (c.port_min > 0 && c.port_max < c.port_min) ||
        (c.port_min == 0 && c.port_max != 0)) {
        ctl_orch_local_seterr(err, errlen, "ctl_orch_local: bad port range %d-%d", c.port_min,
                              c.port_max);
        return -1;
    }
    ctl_orch_local *l = calloc(1, sizeof(*l));
    if (!l) goto oom;
    ctl_orch_base_init(&l->base, &ctl_orch_local_ops, cbs, ud);
    l->loop = loop;
    l->store = store;
    l->cfg = c;
    l->cfg.brix_path = NULL;
    l->cfg.log_dir = NULL;
    l->cfg.pass_env = NULL;
    l->cfg.set_env = NULL;
    bx_queue_init(&l->deps);
    bx_queue_init(&l->dying);
    l->on_kick = ctl_orch_local_on_kick;
    l->brix = strdup(c.brix_path);
    if (!l->brix) goto oom;
    if (c.log_dir && !(l->log_dir = strdup(c.log_dir))) goto oom;
    for (size_t i = 0; c.pass_env && c.pass_env[i]; i++) {
        if (i >= CTL_ORCH_LOCAL_MAX_PASS_ENV) {
            ctl_orch_local_seterr(err, errlen, "ctl_orch_local: more than %d pass_env names",
                                  CTL_ORCH_LOCAL_MAX_PASS_ENV);
            goto fail;
        }
        if (!(l->pass_env[i] = strdup(c.pass_env[i]))) goto oom;
    }
    for (size_t i = 0; c.set_env && c.set_env[i]; i++) {
        if (i >= CTL_ORCH_LOCAL_MAX_PASS_ENV || !strchr(c.set_env[i], '=')) {
            ctl_orch_local_seterr(err, errlen,
                                  "ctl_orch_local: set_env wants at most %d NAME=value strings",
                                  CTL_ORCH_LOCAL_MAX_PASS_ENV);
            goto fail;
        }
        if (!(l->set_env[i] = strdup(c.set_env[i]))) goto oom;
    }
    int r = bx_http_client_init(&l->http, loop, NULL);
    if (r != 0) {
        ctl_orch_local_seterr(err, errlen, "ctl_orch_local: http client: %s", bx_http_strerror(r));
        goto fail;
    }
    r = uv_timer_init(loop, &l->kick);
    if (r != 0) {
        ctl_orch_local_seterr(err, errlen, "ctl_orch_local: uv_timer_init: %s", uv_strerror(r));
        bx_http_client_close(l->http);
        goto fail;
    }
    l->kick.data = l;
    *out = &l->base;
    return 0;
oom:
    ctl_orch_local_seterr(err, errlen, "ctl_orch_local: out of memory");
fail:
    if (l) ctl_orch_local_free(l);
    return -1;
}
