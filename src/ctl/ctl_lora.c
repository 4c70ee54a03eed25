/* ctl_lora: the ModelAdapter controller (see ctl_lora.h): its API, the
 * pass and the routing report. The pass runs on the skeleton's timer
 * (ctl_ctrl): ctl_ctrl_kick asks for one at once (coalesced), and each pass
 * starts due probes, reconciles every adapter (artifact, candidates,
 * placement with ctl_place, loads and unloads), reports the routing sets
 * and asks for the next pass at the earliest deadline. The state, the
 * engine calls and the status are in the files ctl_lora_int.h lists. */
#include "ctl/ctl_lora_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_log.h"
#include "ctl/ctl_key.h"
#include "ctl/ctl_place.h"

void ctl_lora_cfg_default(ctl_lora_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->backoff_base_ms = 10000;
    cfg->backoff_max_ms = 300000;
    cfg->max_retries = 5;
    cfg->probe_interval_ms = 10000;
    cfg->http_timeout_ms = 30000;
    cfg->ready_min_ms = 5000;
    cfg->engine_max_loras = 1;
    cfg->seed = 0x6c6f7261u;
}

/* --------------------------------------------------------- reconcile */

static ctl_place_policy ctl_lora_policy_of(ctl_adapter_sched s)
{
    switch (s) {
    case CTL_SCHED_BIN_PACK:
        return CTL_PLACE_BIN_PACK;
    case CTL_SCHED_LEAST_LATENCY:
        return CTL_PLACE_LEAST_LATENCY;
    case CTL_SCHED_LEAST_THROUGHPUT:
        return CTL_PLACE_LEAST_THROUGHPUT;
    case CTL_SCHED_RANDOM:
        return CTL_PLACE_RANDOM;
    default:
        return CTL_PLACE_LEAST_ADAPTERS;
    }
}

/* Removal: unload wherever it is (or we believe it is), once per engine,
 * best effort; 1 when nothing is left in flight. */
static int ctl_lora_reconcile_remove(ctl_lora *c, ctl_lora_ad *a)
{
    int busy = 0;
    for (size_t i = 0; i < c->npods; i++) {
        ctl_lora_pod *p = c->pods[i];
        ctl_lora_lst *s = ctl_lora_st_find(a, p->name);
        if (s && (s->st == CTL_LORA_LS_LOADING || s->st == CTL_LORA_LS_UNLOADING)) {
            busy = 1;
            continue;
        }
        if (s && s->unloaded) continue;
        /* ours, or listed on a pod the adapter selects (not a namesake elsewhere) */
        int there = (s && (s->st == CTL_LORA_LS_LOADED || s->st == CTL_LORA_LS_CONFIRMING)) ||
                    (ctl_lora_pod_lists(p, a->name) && ctl_lora_pod_candidate(a, p));
        if (!there || (p->phase != CTL_POD_READY && p->phase != CTL_POD_DRAINING)) continue;
        if (!(s = ctl_lora_st_get(a, p->name))) continue;
        ctl_lora_unload_start(c, a, s, p, 0);
        if (s->st == CTL_LORA_LS_UNLOADING) busy = 1;
    }
    return !busy;
}

static void ctl_lora_reconcile(ctl_lora *c, ctl_lora_ad *a, uint64_t now, int64_t now_unix,
                               uint64_t *next)
{
    const ctl_adapter *ma = &a->obj->u.ma;
    /* 1. the artifact */
    if (a->art == CTL_LORA_ART_NONE || (a->art == CTL_LORA_ART_FAILED && now >= a->art_retry_at))
        ctl_lora_art_start(c, a);
    if (a->art == CTL_LORA_ART_FAILED && a->art_retry_at > now && a->art_retry_at < *next)
        *next = a->art_retry_at;

    /* Drop states of engines that left (calls in flight settle first). */
    for (size_t i = 0; i < a->nst;) {
        ctl_lora_lst *s = &a->st[i];
        ctl_lora_pod *p = ctl_lora_pod_find(c, s->pod);
        if (!p && s->st != CTL_LORA_LS_LOADING && s->st != CTL_LORA_LS_UNLOADING) {
            ctl_lora_st_drop(a, s);
            continue;
        }
        i++;
    }

    /* The first status of an adapter this controller just learned, when
     * one is stored (written before a restart or by the previous leader),
     * waits until what is quick to learn is known: the artifact, and which
     * Ready candidates hold the adapter. Otherwise a new leader would write
     * Pending over Running, and place a replicas-1 adapter beside a copy it
     * has not listed yet. */
    if (!a->settled && ctl_lora_settling(c, a) && json_object_size(a->conds) > 0) return;
    a->settled = 1;

    ctl_lora_view v = {0};
    size_t ne = 0;
    ctl_place_engine *eng = calloc(c->npods ? c->npods : 1, sizeof(*eng));
    ctl_lora_pod **ep = calloc(c->npods ? c->npods : 1, sizeof(*ep));
    const char **inst = calloc(c->npods ? c->npods : 1, sizeof(*inst));
    if (!eng || !ep || !inst) goto out;
    v.inst = inst;
    for (size_t i = 0; i < c->npods; i++) {
        ctl_lora_pod *p = c->pods[i];
        if (!ctl_lora_pod_candidate(a, p)) continue;
        ctl_lora_lst *s = ctl_lora_st_find(a, p->name);
        int ready = p->phase == CTL_POD_READY;
        if (ready) v.candidates++;
        if (ready && p->listed) v.probed++;
        if (ready && s && s->st == CTL_LORA_LS_LOADED) inst[v.ninst++] = p->name;
        if (s && (s->st == CTL_LORA_LS_LOADING || s->st == CTL_LORA_LS_CONFIRMING)) v.inflight++;
        if (ready && s && s->st == CTL_LORA_LS_FAILED) {
            v.failed++;
            if (s->retry_at == CTL_CTRL_NEVER)
                v.exhausted++;
            else if (s->retry_at > now && s->retry_at < *next)
                *next = s->retry_at;
            snprintf(v.lasterr, sizeof(v.lasterr), "pod %s: %s", p->name, s->err);
        }
        int has = s && (s->st == CTL_LORA_LS_LOADING || s->st == CTL_LORA_LS_CONFIRMING ||
                        s->st == CTL_LORA_LS_LOADED);
        int usable = ready && p->listed && (!c->cfg.engine_max_loras || p->metrics_done);
        if (s &&
            (s->st == CTL_LORA_LS_UNLOADING || (s->st == CTL_LORA_LS_FAILED && now < s->retry_at)))
            usable = 0;
        if (usable && !has && ma->replicas != CTL_ADAPTER_ALL && p->ready_since_ms > 0 &&
            now_unix - p->ready_since_ms < (int64_t)c->cfg.ready_min_ms) {
            usable = 0; /* anti-flapping: Ready for too short a time */
            uint64_t wait = (uint64_t)(p->ready_since_ms + (int64_t)c->cfg.ready_min_ms - now_unix);
            if (now + wait < *next) *next = now + wait;
        }
        ep[ne] = p;
        eng[ne] = (ctl_place_engine){
            .name = p->name,
            .ready = usable,
            .loaded = ctl_lora_pod_loaded(c, p),
            .max_loras = c->cfg.engine_max_loras ? p->max_loras : 0,
            .has_adapter = has,
            .latency_s = NAN,
            .throughput_tps = NAN,
        };
        ne++;
    }
    qsort(inst, v.ninst, sizeof(*inst), ctl_lora_cmp_str);
    v.desired = ma->replicas == CTL_ADAPTER_ALL ? v.candidates : (size_t)ma->replicas;

    if (a->art == CTL_LORA_ART_OK && ne > 0) {
        ctl_place_plan plan;
        char err[256];
        int replicas = ma->replicas == CTL_ADAPTER_ALL ? CTL_PLACE_ALL : ma->replicas;
        if (ctl_place_compute(eng, ne, replicas, ctl_lora_policy_of(ma->sched), c->cfg.seed, &plan,
                              err, sizeof(err)) != 0) {
            bx_warn("ModelAdapter %s: placement: %s", a->name, err);
        } else {
            v.full = plan.full;
            for (size_t i = 0; i < plan.nload; i++) {
                ctl_lora_pod *p = ep[plan.load[i]];
                ctl_lora_lst *s = ctl_lora_st_get(a, p->name);
                if (!s) continue;
                ctl_lora_load_start(c, a, s, p, 1);
                if (s->st == CTL_LORA_LS_LOADING) v.inflight++;
            }
            for (size_t i = 0; i < plan.nunload; i++) {
                ctl_lora_pod *p = ep[plan.unload[i]];
                ctl_lora_lst *s = ctl_lora_st_find(a, p->name);
                if (s && s->st == CTL_LORA_LS_LOADED) ctl_lora_unload_start(c, a, s, p, 0);
            }
            ctl_place_plan_free(&plan);
        }
        /* recompute the instances after unloads */
        v.ninst = 0;
        for (size_t i = 0; i < ne; i++) {
            ctl_lora_lst *s = ctl_lora_st_find(a, ep[i]->name);
            if (ep[i]->phase == CTL_POD_READY && s && s->st == CTL_LORA_LS_LOADED)
                inst[v.ninst++] = ep[i]->name;
        }
        qsort(inst, v.ninst, sizeof(*inst), ctl_lora_cmp_str);
    }
    ctl_lora_status_write(c, a, &v);
out:
    free(eng);
    free(ep);
    free(inst);
}

/* ---------------------------------------------------- routing report */

static void ctl_lora_report_pod(ctl_lora *c, ctl_lora_pod *p, int gone)
{
    const char **set = calloc(c->nads ? c->nads : 1, sizeof(*set));
    if (!set) return;
    size_t n = 0;
    for (size_t i = 0; i < c->nads && !gone; i++) {
        ctl_lora_ad *a = c->ads[i];
        ctl_lora_lst *s = ctl_lora_st_find(a, p->name);
        if (!a->removing && s && s->st == CTL_LORA_LS_LOADED) set[n++] = a->name;
    }
    qsort(set, n, sizeof(*set), ctl_lora_cmp_str);
    int same = n == p->nreported;
    for (size_t i = 0; same && i < n; i++)
        same = !strcmp(set[i], p->reported[i]);
    if (!same) {
        char **copy = calloc(n ? n : 1, sizeof(*copy));
        size_t k = 0;
        for (; copy && k < n; k++)
            if (!(copy[k] = strdup(set[k]))) break;
        if (copy && k == n) {
            ctl_lora_names_free(p->reported, p->nreported);
            p->reported = copy;
            p->nreported = n;
            if (c->cbs.on_adapters) c->cbs.on_adapters(c->ud, p->name, set, n);
        } else {
            ctl_lora_names_free(copy, k);
        }
    }
    free(set);
}

/* --------------------------------------------------------- the pass */

/* The skeleton's pass: on a kick (an apply, a pod change, an engine's
 * answer) or at the earliest deadline it was asked for. Starts due probes,
 * reconciles every adapter, reports the routing sets, and asks for the
 * next pass at the earliest retry or probe time. */
static void ctl_lora_pass(void *ud, ctl_ctrl_why why)
{
    ctl_lora *c = ud;
    (void)why;
    c->stats.passes++;
    uint64_t now = ctl_ctrl_now(c->ctrl);
    int64_t now_unix = ctl_ctrl_wall_ms();
    uint64_t next = CTL_CTRL_NEVER;

    /* probes of ready engines; capacity once per incarnation */
    for (size_t i = 0; i < c->npods; i++) {
        ctl_lora_pod *p = c->pods[i];
        if (p->phase != CTL_POD_READY) continue;
        if (c->cfg.engine_max_loras && !p->metrics_done && !p->metrics_inflight)
            ctl_lora_metrics_start(c, p);
        if (!p->probe_inflight && now >= p->probe_at) ctl_lora_probe_start(c, p);
        /* a probe in flight re-kicks when it completes */
        if (!p->probe_inflight && p->probe_at > now && p->probe_at < next) next = p->probe_at;
    }

    for (size_t i = 0; i < c->nads;) {
        ctl_lora_ad *a = c->ads[i];
        if (a->removing) {
            if (ctl_lora_reconcile_remove(c, a)) {
                bx_info("ModelAdapter %s: removed", a->name);
                ctl_ctrl_forget(c->ctrl, a->name);
                c->ads[i] = c->ads[--c->nads];
                ctl_lora_ad_free(a);
                continue;
            }
        } else {
            ctl_lora_reconcile(c, a, now, now_unix, &next);
        }
        i++;
    }

    for (size_t i = 0; i < c->npods; i++)
        ctl_lora_report_pod(c, c->pods[i], 0);
    /* retries scheduled during the pass (failed starts) */
    for (size_t i = 0; i < c->nads; i++)
        for (size_t k = 0; k < c->ads[i]->nst; k++) {
            const ctl_lora_lst *s = &c->ads[i]->st[k];
            if (s->st == CTL_LORA_LS_FAILED && s->retry_at > now && s->retry_at < next)
                next = s->retry_at;
        }

    ctl_ctrl_wake_at(c->ctrl, next);
}

/* ---------------------------------------------------------------- API */

/* The store's watch of ModelAdapters. */
static void ctl_lora_on_watch(void *ud, const ctl_watch_event *ev)
{
    ctl_lora *c = ud;
    if (ev->type == CTL_WATCH_DELETE)
        ctl_lora_remove(c, ev->name);
    else if (ctl_lora_apply(c, ev->obj) != 0)
        bx_error("adapter %s: cannot apply", ev->name);
}

int ctl_lora_init(ctl_lora **out, uv_loop_t *loop, ctl_objstore *store, const ctl_lora_cfg *cfg,
                  const ctl_lora_cbs *cbs, void *ud, char *err, size_t errlen)
{
    *out = NULL;
    ctl_lora *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->loop = loop;
    if (cfg)
        c->cfg = *cfg;
    else
        ctl_lora_cfg_default(&c->cfg);
    if (c->cfg.backoff_base_ms == 0) c->cfg.backoff_base_ms = 1;
    if (c->cfg.backoff_max_ms < c->cfg.backoff_base_ms)
        c->cfg.backoff_max_ms = c->cfg.backoff_base_ms;
    if (c->cfg.max_retries == 0) c->cfg.max_retries = 1;
    if (c->cfg.probe_interval_ms == 0) c->cfg.probe_interval_ms = 10000;
    if (cbs) c->cbs = *cbs;
    c->ud = ud;
    ctl_ctrl_cfg kc = {.kind = CTL_LORA_KIND, .log_events = 1, .pass = ctl_lora_pass, .ud = c};
    if (ctl_ctrl_init(&c->ctrl, loop, store, &kc, err, errlen) != 0) {
        free(c);
        return -1;
    }
    if (ctl_ctrl_watch(c->ctrl, CTL_KIND_MODEL_ADAPTER, ctl_lora_on_watch, c) != 0) {
        snprintf(err, errlen, "out of memory");
        ctl_lora_close(c, NULL, NULL);
        return -1;
    }
    *out = c;
    return 0;
}

int ctl_lora_apply(ctl_lora *c, const ctl_obj *o)
{
    if (!c || !o || o->kind != CTL_KIND_MODEL_ADAPTER || c->closing) return -1;
    ctl_obj *copy = NULL;
    char err[512];
    if (ctl_obj_parse(o->raw, &copy, err, sizeof(err)) != 0) {
        bx_warn("ModelAdapter %s: %s", o->name, err);
        return -1;
    }
    copy->generation = o->generation;
    memcpy(copy->name, o->name, sizeof(copy->name)); /* its key (ctl_key.h) */
    ctl_lora_ad *a = ctl_lora_ad_find(c, o->name);
    if (!a) {
        if (ctl_lora_grow((void **)&c->ads, &c->capads, c->nads + 1, sizeof(*c->ads)) != 0 ||
            !(a = calloc(1, sizeof(*a))) || !(a->conds = json_object())) {
            free(a);
            ctl_obj_free(copy);
            return -1;
        }
        snprintf(a->name, sizeof(a->name), "%s", o->name);
        a->obj = copy;
        ctl_lora_conds_seed(c, a);
        c->ads[c->nads++] = a;
        ctl_ctrl_kick(c->ctrl);
        return 0;
    }
    ctl_obj *old = a->obj;
    int changed = !json_equal(old->raw, copy->raw);
    int art_changed = strcmp(old->u.ma.artifact_url, copy->u.ma.artifact_url) != 0;
    a->obj = copy;
    a->removing = 0;
    if (art_changed) {
        a->art = CTL_LORA_ART_NONE;
        a->art_fails = 0;
        a->lora_path[0] = 0;
        for (size_t i = 0; i < a->nst; i++) {
            ctl_lora_lst *s = &a->st[i];
            ctl_lora_pod *p = ctl_lora_pod_find(c, s->pod);
            if (p && (s->st == CTL_LORA_LS_LOADED || s->st == CTL_LORA_LS_CONFIRMING))
                ctl_lora_unload_start(c, a, s, p, 1);
        }
    }
    if (changed)
        for (size_t i = 0; i < a->nst; i++)
            if (a->st[i].st == CTL_LORA_LS_FAILED) {
                a->st[i].st = CTL_LORA_LS_IDLE;
                a->st[i].fails = 0;
            }
    ctl_obj_free(old);
    ctl_ctrl_kick(c->ctrl);
    return 0;
}

int ctl_lora_remove(ctl_lora *c, const char *name)
{
    ctl_lora_ad *a = c ? ctl_lora_ad_find(c, name) : NULL;
    if (!a) return 1;
    a->removing = 1;
    ctl_ctrl_kick(c->ctrl);
    return 0;
}

static void ctl_lora_host_of(const char *url, char *out, size_t len)
{
    snprintf(out, len, "127.0.0.1");
    if (!url) return;
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    size_t n;
    if (*h == '[') {
        h++;
        n = strcspn(h, "]");
    } else {
        n = strcspn(h, ":/");
    }
    if (n == 0 || n >= len) return;
    memcpy(out, h, n);
    out[n] = 0;
}

void ctl_lora_pods(ctl_lora *c, const ctl_podview *pods, size_t n)
{
    if (!c || c->closing) return;
    if (!c->pods_given) {
        c->pods_given = 1;
        ctl_ctrl_kick(c->ctrl); /* adapters held for the first list go on */
    }
    int changed = 0;
    /* c->pods[0, sorted) stays in name order while new pods are appended;
     * the whole is sorted again at the end */
    size_t sorted = c->npods;
    for (size_t i = 0; i < c->npods; i++)
        c->pods[i]->seen = 0;
    for (size_t i = 0; i < n; i++) {
        const ctl_podview *v = &pods[i];
        if (!v->name || strlen(v->name) >= sizeof(((ctl_lora_pod *)0)->name)) continue;
        ctl_lora_pod *p = ctl_lora_pod_find_in(c->pods, sorted, v->name);
        if (p && p->seen) continue; /* a name twice in one snapshot: the first counts */
        if (!p) {
            if (ctl_lora_grow((void **)&c->pods, &c->cappods, c->npods + 1, sizeof(*c->pods)) !=
                    0 ||
                !(p = calloc(1, sizeof(*p))))
                continue;
            snprintf(p->name, sizeof(p->name), "%s", v->name);
            p->pid = v->pid;
            p->restarts = v->restarts;
            p->phase = v->phase;
            c->pods[c->npods++] = p;
            changed = 1;
        }
        p->seen = 1;
        char host[CTL_LORA_HOST_MAX];
        ctl_lora_host_of(v->url, host, sizeof(host));
        int restarted = p->pid != v->pid || p->restarts != v->restarts || p->port != v->port ||
                        strcmp(p->host, host) != 0 ||
                        (p->phase != CTL_POD_READY && v->phase == CTL_POD_READY) ||
                        p->ready_since_ms != v->ready_since_ms;
        if (restarted) {
            /* a new engine incarnation (or readiness regained): list again */
            p->inc++;
            p->listed = 0;
            p->probe_inflight = 0;
            p->probe_at = 0;
            p->metrics_done = 0;
            p->metrics_inflight = 0;
            p->max_loras = 0;
            ctl_lora_names_free(p->models, p->nmodels);
            p->models = NULL;
            p->nmodels = 0;
            for (size_t k = 0; k < c->nads; k++) {
                ctl_lora_lst *s = ctl_lora_st_find(c->ads[k], p->name);
                if (s && s->st != CTL_LORA_LS_LOADING && s->st != CTL_LORA_LS_UNLOADING) {
                    if (s->st == CTL_LORA_LS_FAILED && s->retry_at == CTL_CTRL_NEVER) s->fails = 0;
                    if (s->st == CTL_LORA_LS_LOADED || s->st == CTL_LORA_LS_CONFIRMING ||
                        s->fails == 0)
                        s->st = CTL_LORA_LS_IDLE;
                }
            }
            changed = 1;
        }
        snprintf(p->host, sizeof(p->host), "%s", host);
        p->port = v->port;
        snprintf(p->api_key, sizeof(p->api_key), "%s", v->api_key ? v->api_key : "");
        p->pid = v->pid;
        p->restarts = v->restarts;
        p->ready_since_ms = v->ready_since_ms;
        if (p->phase != v->phase) changed = 1;
        p->phase = v->phase;
        if (!p->model || !v->model || strcmp(p->model, v->model) != 0) {
            free(p->model);
            p->model = v->model ? strdup(v->model) : NULL;
            changed = 1;
        }
        if (!p->labels || !v->labels || !json_equal(p->labels, (json_t *)v->labels)) {
            json_decref(p->labels);
            p->labels = v->labels ? json_incref((json_t *)v->labels)
                                  : json_object(); /* shared: never modified (ctl_podview.h) */
            changed = 1;
        }
    }
    if (c->npods > sorted) qsort(c->pods, c->npods, sizeof(*c->pods), ctl_lora_pod_cmp);
    size_t kept = 0;
    for (size_t i = 0; i < c->npods; i++) {
        ctl_lora_pod *p = c->pods[i];
        if (p->seen) {
            c->pods[kept++] = p;
            continue;
        }
        ctl_lora_report_pod(c, p, 1);
        for (size_t k = 0; k < c->nads; k++) {
            ctl_lora_lst *s = ctl_lora_st_find(c->ads[k], p->name);
            if (s && s->st != CTL_LORA_LS_LOADING && s->st != CTL_LORA_LS_UNLOADING)
                ctl_lora_st_drop(c->ads[k], s);
        }
        ctl_lora_pod_free(p);
        changed = 1;
    }
    c->npods = kept; /* still in name order */
    if (changed) ctl_ctrl_kick(c->ctrl);
}

int ctl_lora_has(const ctl_lora *c, const char *name)
{
    return c && ctl_lora_ad_find(c, name) != NULL;
}

int ctl_lora_serves(const ctl_lora *c, const char *model)
{
    for (size_t i = 0; c && i < c->nads; i++)
        if (!strcmp(ctl_key_name(c->ads[i]->name), model)) return 1;
    return 0;
}

void ctl_lora_get_stats(const ctl_lora *c, ctl_lora_stats *out)
{
    *out = c->stats;
    out->status_writes = ctl_ctrl_status_writes(c->ctrl);
    out->adapters = c->nads;
    out->pods = c->npods;
}

void ctl_lora_close(ctl_lora *c, void (*done)(void *ud), void *ud)
{
    if (!c || c->closing) return;
    c->closing = 1;
    for (size_t i = 0; i < c->nads; i++)
        ctl_lora_ad_free(c->ads[i]);
    free(c->ads);
    c->ads = NULL;
    c->nads = 0;
    for (size_t i = 0; i < c->npods; i++)
        ctl_lora_pod_free(c->pods[i]);
    free(c->pods);
    c->pods = NULL;
    c->npods = 0;
    ctl_ctrl_close(c->ctrl, c, done, ud);
}
