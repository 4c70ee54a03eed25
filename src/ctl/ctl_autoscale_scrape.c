/* ctl_autoscale_scrape: one PodAutoscaler's round (see ctl_autoscale.h):
 * scrape the Ready engines of its target (and endpoint or gateway sources)
 * concurrently, then, when the last answer is in, add the fleet totals to
 * the windows, run as_decide, write status and events, and call scale.
 * Also the lookups of autoscalers and deployments and one autoscaler's
 * windows. The GETs go through the skeleton (ctl_ctrl_call), which counts
 * them so that close waits. */
#include "ctl/ctl_autoscale_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_log.h"

void ctl_as_url_split(const char *url, int def_port, char *host, size_t hlen, int *port)
{
    ctl_as_fmt(host, hlen, "127.0.0.1");
    *port = def_port;
    if (!url || !*url) return;
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    size_t n;
    const char *after;
    if (*h == '[') {
        h++;
        n = strcspn(h, "]");
        after = h[n] ? h + n + 1 : h + n;
    } else {
        n = strcspn(h, ":/");
        after = h + n;
    }
    if (n > 0 && n < hlen) {
        memcpy(host, h, n);
        host[n] = 0;
    }
    if (*after == ':') {
        char *end;
        long p = strtol(after + 1, &end, 10);
        if (end != after + 1 && p > 0 && p < 65536) *port = (int)p;
    }
}

/* ------------------------------------------------------------ lookups */

ctl_as_pa *ctl_as_pa_find(const ctl_as *a, const char *name)
{
    for (size_t i = 0; i < a->npas; i++)
        if (strcmp(a->pas[i]->name, name) == 0) return a->pas[i];
    return NULL;
}

ctl_as_pa *ctl_as_pa_by_id(const ctl_as *a, uint64_t id)
{
    for (size_t i = 0; i < a->npas; i++)
        if (a->pas[i]->id == id) return a->pas[i];
    return NULL;
}

ctl_as_dep *ctl_as_dep_find(const ctl_as *a, const char *name)
{
    for (size_t i = 0; i < a->ndeps; i++)
        if (strcmp(a->deps[i].name, name) == 0) return &a->deps[i];
    return NULL;
}

ctl_as_dep *ctl_as_dep_get(ctl_as *a, const char *name)
{
    ctl_as_dep *d = ctl_as_dep_find(a, name);
    if (d) return d;
    if (strlen(name) >= CTL_TARGET_KEY_MAX) return NULL;
    ctl_as_dep *nd = realloc(a->deps, (a->ndeps + 1) * sizeof(*nd));
    if (!nd) return NULL;
    a->deps = nd;
    d = &a->deps[a->ndeps++];
    memset(d, 0, sizeof(*d));
    ctl_as_fmt(d->name, sizeof(d->name), "%s", name);
    return d;
}

static const char *ctl_as_dep_model(const ctl_as *a, const char *dep)
{
    const ctl_as_dep *d = ctl_as_dep_find(a, dep);
    if (d && d->model && *d->model) return d->model;
    for (size_t i = 0; i < a->npods; i++)
        if (strcmp(a->pods[i].deployment, dep) == 0 && *a->pods[i].model) return a->pods[i].model;
    const char *slash = strrchr(dep, '/'); /* a key Kind.group/name: the name */
    return slash ? slash + 1 : dep;
}

/* The deployment's replicas; -1 when nothing is known about it. */
static int ctl_as_dep_current(const ctl_as *a, const char *dep)
{
    const ctl_as_dep *d = ctl_as_dep_find(a, dep);
    if (d && d->set) return d->replicas;
    int n = 0, seen = d != NULL;
    for (size_t i = 0; i < a->npods; i++) {
        const ctl_as_pod *p = &a->pods[i];
        if (strcmp(p->deployment, dep) != 0) continue;
        seen = 1;
        if (p->phase == CTL_POD_STARTING || p->phase == CTL_POD_READY ||
            p->phase == CTL_POD_BACKOFF)
            n++;
    }
    return seen ? n : -1;
}

/* Another valid autoscaler applied earlier targets the same deployment. */
static const ctl_as_pa *ctl_as_pa_claimer(const ctl_as *a, const ctl_as_pa *p)
{
    for (size_t i = 0; i < a->npas; i++) {
        const ctl_as_pa *q = a->pas[i];
        if (q != p && q->valid && q->id < p->id && strcmp(q->tgt.key, p->tgt.key) == 0) return q;
    }
    return NULL;
}

/* ------------------------------------------------------------ lifecycle of one autoscaler */

void ctl_as_round_drop(ctl_as_pa *p)
{
    p->in_round = 0;
    p->round++; /* answers still in flight no longer match */
    free(p->rp);
    p->rp = NULL;
    p->nrp = 0;
    p->pending = 0;
}

void ctl_as_windows_close(ctl_as_pa *p)
{
    for (size_t i = 0; i < p->nwin; i++)
        as_window_close(&p->win[i]);
    p->nwin = 0;
}

void ctl_as_pa_free(ctl_as_pa *p)
{
    if (!p) return;
    ctl_as_round_drop(p);
    ctl_as_windows_close(p);
    bx_tz_free(p->tz);
    ctl_as_bounds_tz_free(p->btz);
    json_decref(p->raw);
    free(p);
}

int ctl_as_windows_init(const ctl_as *a, ctl_as_pa *p)
{
    int64_t gran = (int64_t)a->cfg.tick_ms;
    if (gran > 1000) gran = 1000;
    if (gran < 1) gran = 1;
    int64_t span = p->spec.observe_window_ms;
    while (span / gran + 1 > AS_WINDOW_MAX_BUCKETS)
        gran *= 2;
    if (gran > span) gran = span;
    for (size_t i = 0; i < p->spec.n_metrics; i++) {
        if (as_window_init(&p->win[i], span, gran) != 0) {
            ctl_as_windows_close(p);
            return -1;
        }
        p->nwin++;
    }
    return 0;
}

/* ------------------------------------------------------------ scrapes */

static void ctl_as_round_finish(ctl_as *a, ctl_as_pa *p);

/* The result of one GET into the round: per metric that reads this path. */
static void ctl_as_scr_apply(ctl_as_pa *p, const ctl_as_scrctx *s, const ctl_ctrl_reply *rep)
{
    char why[CTL_AS_ERR_MAX] = "";
    bx_prom_doc doc;
    int have_doc = 0;
    if (rep->toobig)
        ctl_as_fmt(why, sizeof(why), "GET %s: body over %u bytes", s->url,
                   CTL_AS_METRICS_MAX_BYTES);
    else if (rep->err)
        ctl_as_fmt(why, sizeof(why), "GET %s: %s", s->url, bx_http_strerror(rep->err));
    else if (rep->status != 200)
        ctl_as_fmt(why, sizeof(why), "GET %s: status %d", s->url, rep->status);
    else {
        bx_prom_limits lim;
        ctl_as_prom_limits(&lim);
        char perr[96];
        if (bx_prom_parse(rep->body, rep->len, &lim, &doc, perr, sizeof(perr)) != 0)
            ctl_as_fmt(why, sizeof(why), "GET %s: %s", s->url, perr);
        else
            have_doc = 1;
    }
    if (s->pod < 0) { /* endpoint source */
        int m = s->metric;
        if (have_doc) {
            /* a global value: the sum of its samples */
            if (ctl_as_doc_metric(&doc, p->spec.metrics[m].target_metric, 0, &p->gval[m]) == 0)
                p->gok[m] = 1;
            else
                ctl_as_fmt(why, sizeof(why), "GET %s: metric %s not found", s->url,
                           p->spec.metrics[m].target_metric);
        }
        if (!p->gok[m]) ctl_as_fmt(p->gerr[m], CTL_AS_ERR_MAX, "%s", why);
    } else if ((size_t)s->pod < p->nrp) {
        ctl_as_rpod *r = &p->rp[s->pod];
        for (size_t m = 0; m < p->spec.n_metrics; m++) {
            const as_metric_spec *ms = &p->spec.metrics[m];
            const char *path = ms->path[0] ? ms->path : "/metrics";
            if (ms->source != AS_SOURCE_POD || strcmp(path, s->path) != 0) continue;
            char merr[CTL_AS_ERR_MAX] = "";
            if (have_doc && ctl_as_doc_value(&doc, ms->target_metric, r->engine, &r->val[m], merr,
                                             sizeof(merr)) == 0)
                r->ok[m] = 1;
            else if (!r->err[0])
                ctl_as_fmt(r->err, sizeof(r->err), "%s", have_doc ? merr : why);
        }
    }
    if (have_doc) bx_prom_doc_free(&doc);
}

/* Every answer, unless the controller is closing (the skeleton then drops
 * it); a late one (another round, a removed autoscaler) is dropped here. */
static void ctl_as_on_scrape(void *ud, const ctl_ctrl_reply *r, void *ctx)
{
    ctl_as *a = ud;
    const ctl_as_scrctx *s = ctx;
    ctl_as_pa *p = ctl_as_pa_by_id(a, s->pa_id);
    if (p && p->in_round && p->round == s->round) {
        ctl_as_scr_apply(p, s, r);
        if (--p->pending == 0) ctl_as_round_finish(a, p); /* p may be gone after */
    }
}

/* Starts one GET; 0, or -1 with why. */
static int ctl_as_scr_start(ctl_as *a, ctl_as_pa *p, int pod, int metric, const char *host,
                            int port, const char *path, char *why, size_t whylen)
{
    ctl_as_scrctx s = {.pa_id = p->id, .round = p->round, .pod = pod, .metric = metric};
    ctl_as_fmt(s.path, sizeof(s.path), "%s", path);
    ctl_as_fmt(s.url, sizeof(s.url), "http://%s:%d%s", host, port, path);
    bx_http_client_req r = {
        .method = "GET",
        .host = host,
        .port = port,
        .path = path,
        .timeout_ms = a->cfg.scrape_timeout_ms,
    };
    int rc = ctl_ctrl_call(a->ctrl, &r, CTL_AS_METRICS_MAX_BYTES, ctl_as_on_scrape, &s, sizeof(s));
    if (rc != 0) {
        ctl_as_fmt(why, whylen, "GET %s: %s", s.url, bx_http_strerror(rc));
        return -1;
    }
    p->pending++;
    return 0;
}

/* endpoint "host[:port]" and spec port -> host, port (default 80). */
static void ctl_as_endpoint_split(const as_metric_spec *ms, char *host, size_t hlen, int *port)
{
    ctl_as_url_split(ms->endpoint, 80, host, hlen, port);
    if (ms->port[0]) {
        long v = strtol(ms->port, NULL, 10);
        if (v > 0 && v < 65536) *port = (int)v;
    }
}

void ctl_as_round_start(ctl_as *a, ctl_as_pa *p)
{
    if (!p->valid || p->in_round || a->closing) return;
    const ctl_as_pa *owner = ctl_as_pa_claimer(a, p);
    if (owner) {
        char msg[256];
        ctl_as_fmt(msg, sizeof(msg), "%s %s is already scaled by PodAutoscaler %s", p->tgt.kind,
                   p->tgt.name, owner->name);
        p->conflict = 1;
        ctl_as_cond_set(p, "MultiPodAutoscalerConflict", 1, "ConflictingTarget", msg);
        ctl_as_cond_ready(p);
        ctl_as_status_conditions_only(a, p, msg);
        return;
    }
    if (p->conflict) {
        p->conflict = 0;
        ctl_as_cond_clear(p, "MultiPodAutoscalerConflict");
    }
    size_t n = 0;
    for (size_t i = 0; i < a->npods; i++)
        if (a->pods[i].phase == CTL_POD_READY && strcmp(a->pods[i].deployment, p->tgt.key) == 0)
            n++;
    ctl_as_rpod *rp = n ? calloc(n, sizeof(*rp)) : NULL;
    if (n && !rp) return; /* try again next tick */
    p->rp = rp;
    p->nrp = 0;
    for (size_t i = 0; i < a->npods && p->nrp < n; i++) {
        const ctl_as_pod *ap = &a->pods[i];
        if (ap->phase != CTL_POD_READY || strcmp(ap->deployment, p->tgt.key) != 0) continue;
        ctl_as_rpod *r = &rp[p->nrp++];
        ctl_as_fmt(r->name, sizeof(r->name), "%s", ap->name);
        ctl_as_fmt(r->engine, sizeof(r->engine), "%s", ap->engine);
        ctl_as_fmt(r->host, sizeof(r->host), "%s", ap->host);
        r->port = ap->port;
    }
    p->in_round = 1;
    p->round++;
    p->round_now = (int64_t)ctl_ctrl_now(a->ctrl);
    p->pending = 0;
    memset(p->gok, 0, sizeof(p->gok));
    memset(p->gerr, 0, sizeof(p->gerr));
    const char *model = ctl_as_dep_model(a, p->tgt.key);
    for (size_t m = 0; m < p->spec.n_metrics; m++) {
        const as_metric_spec *ms = &p->spec.metrics[m];
        switch (ms->source) {
        case AS_SOURCE_POD: {
            const char *path = ms->path[0] ? ms->path : "/metrics";
            int first = 1; /* one GET per pod and path */
            for (size_t k = 0; k < m; k++) {
                const as_metric_spec *o = &p->spec.metrics[k];
                if (o->source == AS_SOURCE_POD &&
                    strcmp(o->path[0] ? o->path : "/metrics", path) == 0)
                    first = 0;
            }
            if (!first) break;
            for (size_t i = 0; i < p->nrp; i++) {
                ctl_as_rpod *r = &p->rp[i];
                char why[CTL_AS_ERR_MAX];
                if (ctl_as_scr_start(a, p, (int)i, (int)m, r->host, r->port, path, why,
                                     sizeof(why)) != 0 &&
                    !r->err[0])
                    ctl_as_fmt(r->err, sizeof(r->err), "%s", why);
            }
            break;
        }
        case AS_SOURCE_RESOURCE:
            ctl_as_fmt(p->gerr[m], CTL_AS_ERR_MAX,
                       "resource metrics (%s) are not available locally", ms->target_metric);
            break;
        case AS_SOURCE_CUSTOM:
        case AS_SOURCE_EXTERNAL:
        case AS_SOURCE_DOMAIN:
            if (ms->endpoint[0] && ms->source != AS_SOURCE_CUSTOM) {
                if (strcmp(ms->protocol, "https") == 0) {
                    ctl_as_fmt(p->gerr[m], CTL_AS_ERR_MAX, "%s: https endpoints are not supported",
                               ms->endpoint);
                    break;
                }
                char host[CTL_AS_HOST_MAX];
                int port;
                ctl_as_endpoint_split(ms, host, sizeof(host), &port);
                if (a->cbs.endpoint) a->cbs.endpoint(a->ud, host, sizeof(host), &port);
                ctl_as_scr_start(a, p, -1, (int)m, host, port, ms->path[0] ? ms->path : "/metrics",
                                 p->gerr[m], CTL_AS_ERR_MAX);
            } else if (!a->cbs.gateway_metric) {
                ctl_as_fmt(p->gerr[m], CTL_AS_ERR_MAX, "%s: no gateway metrics", ms->target_metric);
            } else {
                double v = 0;
                if (a->cbs.gateway_metric(a->ud, model, ms->target_metric, &v) == 0 &&
                    isfinite(v)) {
                    p->gval[m] = v;
                    p->gok[m] = 1;
                } else {
                    ctl_as_fmt(p->gerr[m], CTL_AS_ERR_MAX, "gateway has no %s for model %s",
                               ms->target_metric, model);
                }
            }
            break;
        }
    }
    if (p->pending == 0) ctl_as_round_finish(a, p);
}

/* ------------------------------------------------------------ decisions */

/* FailedGetMetrics, at most one a CTL_AS_WARN_INTERVAL_MS. */
static void ctl_as_warn_failures(ctl_as *a, ctl_as_pa *p)
{
    char msg[1024] = "";
    size_t o = 0;
    for (size_t m = 0; m < p->spec.n_metrics; m++) {
        const as_metric_spec *ms = &p->spec.metrics[m];
        if (ms->source == AS_SOURCE_POD) {
            size_t failed = 0;
            const char *first = NULL, *first_pod = NULL;
            for (size_t i = 0; i < p->nrp; i++)
                if (!p->rp[i].ok[m]) {
                    if (!failed) first = p->rp[i].err, first_pod = p->rp[i].name;
                    failed++;
                }
            if (failed && o < sizeof(msg))
                o += (size_t)snprintf(msg + o, sizeof(msg) - o,
                                      "%s%s: %zu of %zu pods failed (excluded), first %s: %s",
                                      o ? "; " : "", ms->target_metric, failed, p->nrp, first_pod,
                                      first[0] ? first : "no answer");
        } else if (!p->gok[m] && o < sizeof(msg)) {
            o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s%s: %s", o ? "; " : "",
                                  ms->target_metric, p->gerr[m][0] ? p->gerr[m] : "no value");
        }
    }
    if (!msg[0]) return;
    int64_t now = (int64_t)ctl_ctrl_now(a->ctrl);
    if (p->last_warn_ms >= 0 && now - p->last_warn_ms < CTL_AS_WARN_INTERVAL_MS) return;
    p->last_warn_ms = now;
    bx_warn("autoscaler %s: %s", p->name, msg);
    ctl_ctrl_event(a->ctrl, p->name, CTL_EVENT_WARNING, "FailedGetMetrics", "%s", msg);
}

static void ctl_as_round_finish(ctl_as *a, ctl_as_pa *p)
{
    p->in_round = 0;
    p->info.rounds++;
    int64_t now = p->round_now;
    const as_spec *sp = &p->spec;
    as_input in;
    memset(&in, 0, sizeof(in));
    in.now_ms = now;
    ctl_as_sched_now(a, p, &in);
    in.n_metrics = sp->n_metrics;
    for (size_t m = 0; m < sp->n_metrics; m++) {
        if (sp->metrics[m].source == AS_SOURCE_POD) {
            double total = 0;
            uint32_t n = 0;
            for (size_t i = 0; i < p->nrp; i++)
                if (p->rp[i].ok[m]) total += p->rp[i].val[m], n++;
            /* failed pods are excluded: none answered, no sample */
            if (n > 0 && as_window_add(&p->win[m], now, total) == 0) p->last_pods[m] = n;
        } else if (p->gok[m]) {
            (void)as_window_add(&p->win[m], now, p->gval[m]);
        }
        as_metric_input *mi = &in.m[m];
        double v;
        if (as_window_average(&p->win[m], now, sp->observe_window_ms, &v) > 0) {
            mi->valid = true;
            mi->stable_total = v;
            mi->stable_pods = sp->metrics[m].source == AS_SOURCE_POD ? p->last_pods[m] : 0;
        }
        if (mi->valid && as_window_average(&p->win[m], now, sp->panic_window_ms, &v) > 0) {
            mi->panic_valid = true;
            mi->panic_total = v;
            mi->panic_pods = mi->stable_pods;
        }
    }
    ctl_as_warn_failures(a, p);
    p->info.scraped = (uint32_t)p->nrp;
    p->info.answered = 0;
    for (size_t i = 0; i < p->nrp; i++)
        p->info.answered += (uint32_t)ctl_as_pod_answered(p, i);
    int32_t ready = (int32_t)p->nrp;
    const char *dep = p->tgt.key;
    int current = ctl_as_dep_current(a, dep);
    const ctl_as_dep *de0 = ctl_as_dep_find(a, dep);
    if (current < 0 || (de0 && de0->err)) {
        char msg[256];
        if (de0 && de0->err)
            ctl_as_fmt(msg, sizeof(msg), "%s", de0->err_msg);
        else
            ctl_as_fmt(msg, sizeof(msg), "%s %s is not known (no replicas reported)", p->tgt.kind,
                       p->tgt.name);
        ctl_as_cond_set(p, "AbleToScale", 0, de0 && de0->err ? de0->err_reason : "FailedGetScale",
                        msg);
        ctl_as_cond_ready(p);
        ctl_as_status_conditions_only(a, p, msg);
        free(p->rp), p->rp = NULL, p->nrp = 0;
        p->woken = 0;
        return;
    }
    const char *model = ctl_as_dep_model(a, dep);
    in.current = current;
    in.ready = ready;
    double w = 0;
    if (a->cbs.gateway_metric && a->cbs.gateway_metric(a->ud, model, CTL_AS_GW_WAITING, &w) == 0 &&
        isfinite(w) && w > 0)
        in.waiting = w > 1e9 ? 1000000000u : (uint32_t)ceil(w);
    if (p->woken && in.waiting == 0) in.waiting = 1;
    p->woken = 0;

    as_decision d;
    if (as_decide(sp, &p->st, &in, &d) != 0) {
        char msg[AS_REASON_LEN + 32];
        ctl_as_fmt(msg, sizeof(msg), "as_decide: %s", d.reason);
        ctl_ctrl_event(a->ctrl, p->name, CTL_EVENT_WARNING, "FailedComputeScale", "%s", msg);
        free(p->rp), p->rp = NULL, p->nrp = 0;
        return;
    }
    p->info.decisions++;
    p->info.current = current;
    p->info.desired = d.desired;
    p->info.ready = ready;
    p->info.has_data = d.has_data;
    for (size_t m = 0; m < sp->n_metrics; m++) {
        p->info.value[m] = in.m[m].valid ? in.m[m].stable_total : NAN;
        p->info.pods[m] = in.m[m].stable_pods;
    }
    ctl_as_fmt(p->info.reason, sizeof(p->info.reason), "%s", d.reason);

    int scale = d.desired != current;
    char msg[AS_REASON_LEN + 64];
    if (scale) {
        ctl_as_dep *de = ctl_as_dep_get(a, dep);
        if (de) {
            de->replicas = d.desired;
            de->set = 1;
        }
        p->last_scale_wall_ms = ctl_ctrl_wall_ms();
        p->info.scales++;
        ctl_as_fmt(msg, sizeof(msg), "New size: %d; reason: %s", d.desired, d.reason);
        ctl_ctrl_event(a->ctrl, p->name, CTL_EVENT_NORMAL, "SuccessfulRescale", "%s", msg);
        bx_info("autoscaler %s: %s %d -> %d: %s", p->name, dep, current, d.desired, d.reason);
    }
    ctl_as_cond_set(p, "AbleToScale", 1, "SucceededGetScale", "the target's scale is known");
    char da[64];
    ctl_as_fmt(da, sizeof(da), "desired=%d, actual=%d", d.desired, current);
    ctl_as_cond_set(p, "ScalingActive", scale, scale ? "ReconcilingScaleDiff" : "Stable", da);
    ctl_as_cond_ready(p);
    ctl_as_status_write(a, p, ctl_as_decision_status(p, &d, current, ready));
    free(p->rp);
    p->rp = NULL;
    p->nrp = 0;
    /* last: the callback may call back into this module (even remove p) */
    if (scale) a->cbs.scale(a->ud, dep, d.desired, d.reason);
}

void ctl_as_bounds_tz_free(bx_tz **zones)
{
    for (size_t i = 0; i < AS_MAX_BOUNDS; i++) {
        bx_tz_free(zones[i]);
        zones[i] = NULL;
    }
}
