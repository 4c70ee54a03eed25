/* ctl_autoscale: the autoscaling controller (see ctl_autoscale.h): its API
 * and its pass. The skeleton (ctl_ctrl) runs the pass every tick_ms (a
 * round for every autoscaler whose previous round is over) and on a kick
 * (ctl_as_wake: the woken ones at once); the round, the status and the
 * pure metric helpers are in the files ctl_autoscale_int.h lists. */
#include "ctl/ctl_autoscale_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_log.h"
#include "ctl/ctl_key.h"

static char *ctl_as_dupstr(const char *s)
{
    return strdup(s ? s : "");
}

/* ------------------------------------------------------------ timers */

/* Starts a round for every autoscaler (woken_only: the woken ones). By id:
 * a round may end at once and its callback may change the list. */
static void ctl_as_run_rounds(ctl_as *a, int woken_only)
{
    size_t n = a->npas;
    if (n == 0) return;
    uint64_t *ids = malloc(n * sizeof(*ids));
    if (!ids) return;
    for (size_t i = 0; i < n; i++)
        ids[i] = a->pas[i]->id;
    for (size_t i = 0; i < n && !a->closing; i++) {
        ctl_as_pa *p = ctl_as_pa_by_id(a, ids[i]);
        if (p && (!woken_only || p->woken)) ctl_as_round_start(a, p);
    }
    free(ids);
}

/* The skeleton's pass: a round for every autoscaler on each tick, for the
 * woken ones on a kick (ctl_as_wake). */
static void ctl_as_pass(void *ud, ctl_ctrl_why why)
{
    ctl_as_run_rounds(ud, why == CTL_CTRL_KICK);
}

/* Hands the targets of the valid autoscalers to the caller (cbs.targets). */
static void ctl_as_report_targets(ctl_as *a)
{
    if (!a->cbs.targets || a->closing) return;
    ctl_target *ts = a->npas ? calloc(a->npas, sizeof(*ts)) : NULL;
    if (a->npas && !ts) {
        bx_warn("autoscaler: targets: out of memory");
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < a->npas; i++)
        if (a->pas[i]->valid) ts[n++] = a->pas[i]->tgt;
    a->cbs.targets(a->ud, ts, n);
    free(ts);
}

/* The store's watch of PodAutoscalers. */
static void ctl_as_on_watch(void *ud, const ctl_watch_event *ev)
{
    ctl_as *a = ud;
    char err[256];
    if (ev->type == CTL_WATCH_DELETE)
        ctl_as_remove(a, ev->name);
    else if (ctl_as_apply(a, ev->obj, err, sizeof(err)) != 0)
        bx_warn("autoscaler %s: not applied: %s", ev->name, err);
}

/* ------------------------------------------------------------ API */

void ctl_as_cfg_default(ctl_as_cfg *c)
{
    c->tick_ms = 1000;
    c->scrape_timeout_ms = 800;
}

int ctl_as_init(ctl_as **out, uv_loop_t *loop, ctl_objstore *store, const ctl_as_cfg *cfg,
                const ctl_as_cbs *cbs, void *ud, char *err, size_t errlen)
{
    if (!out || !loop || !store || !cbs || !cbs->scale) {
        ctl_as_fmt(err, errlen, "ctl_as_init: loop, store and a scale callback are required");
        return -1;
    }
    ctl_as *a = calloc(1, sizeof(*a));
    if (!a) {
        ctl_as_fmt(err, errlen, "out of memory");
        return -1;
    }
    a->loop = loop;
    a->store = store;
    if (cfg)
        a->cfg = *cfg;
    else
        ctl_as_cfg_default(&a->cfg);
    if (a->cfg.tick_ms == 0) a->cfg.tick_ms = 1000;
    if (a->cfg.scrape_timeout_ms == 0) a->cfg.scrape_timeout_ms = a->cfg.tick_ms;
    a->cbs = *cbs;
    a->ud = ud;
    bx_http_client_opts ho = {.max_idle_per_host = 4,
                              .connect_timeout_ms = a->cfg.scrape_timeout_ms,
                              .max_header_bytes = 64 * 1024};
    ctl_ctrl_cfg kc = {.kind = CTL_AS_KIND,
                       .log_name = "autoscaler",
                       .period_ms = a->cfg.tick_ms,
                       .http = &ho,
                       .pass = ctl_as_pass,
                       .ud = a};
    if (ctl_ctrl_init(&a->ctrl, loop, store, &kc, err, errlen) != 0) {
        free(a);
        return -1;
    }
    if (ctl_ctrl_watch(a->ctrl, CTL_KIND_POD_AUTOSCALER, ctl_as_on_watch, a) != 0) {
        ctl_as_fmt(err, errlen, "out of memory");
        ctl_as_close(a, NULL, NULL);
        return -1;
    }
    *out = a;
    return 0;
}

int ctl_as_bounds_tz_load(const as_spec *s, bx_tz **zones, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->n_bounds && i < AS_MAX_BOUNDS; i++) {
        bx_tz *z = NULL;
        char why[256];
        if (bx_tz_load(s->bounds[i].timezone, &z, why, sizeof(why)) != 0) {
            ctl_as_fmt(err, errlen, "spec.scheduledBounds[%zu].timezone: %s", i, why);
            if (zones) ctl_as_bounds_tz_free(zones);
            return -1;
        }
        if (zones)
            zones[i] = z;
        else
            bx_tz_free(z);
    }
    return 0;
}

int ctl_as_spec_parse(const json_t *obj, as_spec *out, bx_tz **tz, char *err, size_t errlen)
{
    if (tz) *tz = NULL;
    if (as_spec_parse(obj, out, err, errlen) != 0) return -1;
    if (ctl_as_bounds_tz_load(out, NULL, err, errlen) != 0) return -1;
    if (out->n_schedules == 0) return 0;
    bx_tz *z = NULL;
    char why[256];
    if (bx_tz_load(out->timezone, &z, why, sizeof(why)) != 0) {
        ctl_as_fmt(err, errlen, "spec.schedules[0].timezone: %s", why);
        return -1;
    }
    if (tz)
        *tz = z;
    else
        bx_tz_free(z);
    return 0;
}

int ctl_as_apply(ctl_as *a, const ctl_obj *o, char *err, size_t errlen)
{
    if (!a || !o || a->closing || o->kind != CTL_KIND_POD_AUTOSCALER || !o->raw) {
        ctl_as_fmt(err, errlen, "not a PodAutoscaler");
        return -1;
    }
    ctl_as_pa *p = ctl_as_pa_find(a, o->name);
    if (p && json_equal(p->raw, o->raw)) { /* unchanged: keep state and windows */
        if (!p->valid) ctl_as_fmt(err, errlen, "%s", p->spec_err);
        return p->valid ? 0 : -1;
    }
    json_t *raw = json_deep_copy(o->raw);
    if (!raw) {
        ctl_as_fmt(err, errlen, "out of memory");
        return -1;
    }
    if (!p) {
        ctl_as_pa **np = realloc(a->pas, (a->npas + 1) * sizeof(*np));
        if (np) a->pas = np;
        p = np ? calloc(1, sizeof(*p)) : NULL;
        if (!p) {
            json_decref(raw);
            ctl_as_fmt(err, errlen, "out of memory");
            return -1;
        }
        ctl_as_fmt(p->name, sizeof(p->name), "%s", o->name);
        p->id = ++a->next_id;
        a->pas[a->npas++] = p;
    } else { /* changed: start fresh */
        ctl_as_round_drop(p);
        ctl_as_windows_close(p);
        json_decref(p->raw);
        bx_tz_free(p->tz);
        p->tz = NULL;
        ctl_as_bounds_tz_free(p->btz);
        ctl_ctrl_forget(a->ctrl, p->name);
    }
    p->raw = raw;
    p->valid = 0;
    p->conflict = 0;
    p->woken = 0;
    p->spec_err[0] = 0;
    p->last_warn_ms = -1;
    p->last_scale_wall_ms = 0;
    memset(p->cond, 0, sizeof(p->cond));
    memset(p->last_pods, 0, sizeof(p->last_pods));
    memset(&p->info, 0, sizeof(p->info));
    as_state_init(&p->st);
    p->generation = o->generation;
    p->bounds.active = -1;
    char perr[sizeof(p->spec_err)];
    if (ctl_as_spec_parse(o->raw, &p->spec, &p->tz, perr, sizeof(perr)) != 0) {
        ctl_as_fmt(p->spec_err, sizeof(p->spec_err), "%s", perr);
    } else if (ctl_as_bounds_tz_load(&p->spec, p->btz, perr, sizeof(perr)) != 0) {
        ctl_as_fmt(p->spec_err, sizeof(p->spec_err), "%s", perr);
    } else if (ctl_target_set(&p->tgt, p->spec.target.api_version, p->spec.target.kind,
                              p->spec.target.name) != 0 ||
               (ctl_target_is_deployment(&p->tgt) && /* in the autoscaler's namespace */
                ctl_key_sibling(p->name, p->tgt.name, p->tgt.key, sizeof(p->tgt.key)) != 0)) {
        ctl_as_fmt(p->spec_err, sizeof(p->spec_err),
                   "spec.scaleTargetRef: apiVersion '%s', kind '%s' or name '%s' not valid",
                   p->spec.target.api_version, p->spec.target.kind, p->spec.target.name);
    } else if (ctl_as_windows_init(a, p) != 0) {
        ctl_as_fmt(p->spec_err, sizeof(p->spec_err),
                   "metric windows: out of memory or too many buckets");
    } else {
        p->valid = 1;
    }
    p->info.valid = p->valid;
    if (!p->valid) {
        ctl_as_cond_set(p, "ValidSpec", 0, "InvalidSpec", p->spec_err);
        ctl_as_cond_set(p, "AbleToScale", 0, "InvalidSpec", p->spec_err);
        ctl_as_cond_ready(p);
        ctl_ctrl_event(a->ctrl, p->name, CTL_EVENT_WARNING, "InvalidSpec", "%s", p->spec_err);
        ctl_as_status_conditions_only(a, p, p->spec_err);
        bx_warn("autoscaler %s: %s", p->name, p->spec_err);
        ctl_as_fmt(err, errlen, "%s", p->spec_err);
        ctl_as_report_targets(a);
        return -1;
    }
    ctl_as_cond_set(p, "ValidSpec", 1, "AsExpected", "");
    ctl_as_report_targets(a);
    if (ctl_as_state_get(a, p) == 0)
        bx_info("autoscaler %s: resumed its strategy state (%s)", p->name,
                p->st.in_panic ? "in panic" : "stable");
    return 0;
}

int ctl_as_remove(ctl_as *a, const char *name)
{
    if (!a || !name || a->closing) return 1;
    for (size_t i = 0; i < a->npas; i++) {
        if (strcmp(a->pas[i]->name, name) != 0) continue;
        ctl_ctrl_forget(a->ctrl, name);
        ctl_as_pa_free(a->pas[i]);
        memmove(&a->pas[i], &a->pas[i + 1], (a->npas - i - 1) * sizeof(a->pas[0]));
        a->npas--;
        ctl_as_report_targets(a);
        return 0;
    }
    return 1;
}

static void ctl_as_pods_clear(ctl_as *a)
{
    for (size_t i = 0; i < a->npods; i++) {
        free(a->pods[i].name);
        free(a->pods[i].deployment);
        free(a->pods[i].model);
        free(a->pods[i].engine);
    }
    free(a->pods);
    a->pods = NULL;
    a->npods = 0;
}

void ctl_as_pods(ctl_as *a, const ctl_podview *pods, size_t n)
{
    if (!a || a->closing) return;
    ctl_as_pod *np = n ? calloc(n, sizeof(*np)) : NULL;
    if (n && !np) {
        bx_warn("autoscaler: pods: out of memory");
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const ctl_podview *v = &pods[i];
        if (!v->name || !v->deployment) continue;
        ctl_as_pod *p = &np[k];
        const json_t *eng = v->labels ? json_object_get(v->labels, CTL_LABEL_ENGINE) : NULL;
        p->name = ctl_as_dupstr(v->name);
        p->deployment = ctl_as_dupstr(v->deployment);
        p->model = ctl_as_dupstr(v->model);
        p->engine = ctl_as_dupstr(json_is_string(eng) ? json_string_value(eng) : "vllm");
        if (!p->name || !p->deployment || !p->model || !p->engine) {
            free(p->name), free(p->deployment), free(p->model), free(p->engine);
            continue;
        }
        ctl_as_url_split(v->url, v->port, p->host, sizeof(p->host), &p->port);
        p->phase = v->phase;
        k++;
        ctl_as_dep *d = ctl_as_dep_get(a, v->deployment);
        if (d && !d->model && v->model && *v->model) d->model = strdup(v->model);
    }
    ctl_as_pods_clear(a);
    a->pods = np;
    a->npods = k;
}

void ctl_as_set_current(ctl_as *a, const char *deployment, const char *model, int replicas)
{
    if (!a || !deployment || a->closing) return;
    ctl_as_dep *d = ctl_as_dep_get(a, deployment);
    if (!d) return;
    d->replicas = replicas < 0 ? 0 : replicas;
    d->set = 1;
    if (model && *model && (!d->model || strcmp(d->model, model) != 0)) {
        char *m = strdup(model);
        if (m) {
            free(d->model);
            d->model = m;
        }
    }
}

void ctl_as_target_error(ctl_as *a, const char *key, const char *reason, const char *message)
{
    if (!a || !key || a->closing) return;
    ctl_as_dep *d = ctl_as_dep_get(a, key);
    if (!d) return;
    if (reason && (!d->err || strcmp(d->err_msg, message ? message : ""))) /* a new one */
        for (size_t i = 0; i < a->npas; i++)
            if (a->pas[i]->valid && !strcmp(a->pas[i]->tgt.key, key))
                ctl_ctrl_event(a->ctrl, a->pas[i]->name, CTL_EVENT_WARNING, reason, "%s",
                               message ? message : "");
    d->err = reason != NULL;
    ctl_as_fmt(d->err_reason, sizeof(d->err_reason), "%s", reason ? reason : "");
    ctl_as_fmt(d->err_msg, sizeof(d->err_msg), "%s", message ? message : "");
}

void ctl_as_wake(ctl_as *a, const char *deployment)
{
    if (!a || !deployment || a->closing) return;
    int any = 0;
    for (size_t i = 0; i < a->npas; i++) {
        ctl_as_pa *p = a->pas[i];
        if (p->valid && strcmp(p->tgt.key, deployment) == 0) p->woken = any = 1;
    }
    if (any) ctl_ctrl_kick(a->ctrl);
}

int ctl_as_targets(const ctl_as *a, const char *deployment)
{
    if (!a || !deployment) return 0;
    for (size_t i = 0; i < a->npas; i++)
        if (a->pas[i]->valid && strcmp(a->pas[i]->tgt.key, deployment) == 0) return 1;
    return 0;
}

int ctl_as_get_info(const ctl_as *a, const char *name, ctl_as_info *out)
{
    const ctl_as_pa *p = a && name ? ctl_as_pa_find(a, name) : NULL;
    if (!p) return 1;
    *out = p->info;
    out->conflict = p->conflict;
    return 0;
}

void ctl_as_close(ctl_as *a, void (*done)(void *ud), void *ud)
{
    if (!a || a->closing) return;
    a->closing = 1;
    for (size_t i = 0; i < a->npas; i++)
        ctl_as_pa_free(a->pas[i]);
    free(a->pas);
    a->pas = NULL;
    a->npas = 0;
    ctl_as_pods_clear(a);
    for (size_t i = 0; i < a->ndeps; i++)
        free(a->deps[i].model);
    free(a->deps);
    a->deps = NULL;
    a->ndeps = 0;
    ctl_ctrl_close(a->ctrl, a, done, ud);
}
