/* ctl_scale: see ctl_scale.h. */
#include "ctl/ctl_scale.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "autoscale/as_policy.h"
#include "autoscale/as_spec.h"
#include "autoscale/as_window.h"
#include "common/bx_buf.h"
#include "common/bx_http.h"
#include "common/bx_log.h"
#include "common/bx_prom_parse.h"

#define CS_MAX_PA 64
#define CS_MAX_PODS 1024
#define CS_MAX_BODY (8u << 20)
#define CS_WARN_EVERY_MS 60000

typedef struct cs_pod {
    char name[128];
    char deployment[CTL_NAME_MAX + 1];
    int port;
    ctl_pod_phase phase;
} cs_pod;

typedef struct cs_pa {
    char name[CTL_NAME_MAX + 1];
    int valid;
    as_spec spec;
    as_state st;
    as_window win[AS_MAX_METRICS];
    int nwin;
    int current, has_current;
    int64_t last_scale_ms;
    int64_t last_warn_ms;
    json_t *status; /* last written (owned) */
    /* the scrape round in flight */
    int inflight;
    int ready;
    int64_t round_ms;
    double sum[AS_MAX_METRICS];
    int answered[AS_MAX_METRICS];
    int failed;
    char last_error[160];
} cs_pa;

typedef struct cs_scrape cs_scrape;
struct cs_scrape {
    ctl_scale *s;
    cs_pa *pa; /* NULL once the autoscaler went away */
    bx_http_creq *cr;
    bx_buf body;
    int status;
    cs_scrape *next, *prev;
};

struct ctl_scale {
    uv_loop_t *loop;
    ctl_store *store;
    ctl_scale_cfg cfg;
    ctl_scale_cbs cbs;
    void *ud;
    bx_http_client *client;
    uv_timer_t timer;
    cs_pa *pa[CS_MAX_PA];
    int npa;
    cs_pod pods[CS_MAX_PODS];
    size_t npods;
    cs_scrape *scrapes;
    int closing;
};

static int64_t cs_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void cs_rfc3339(int64_t ms, char *out, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void ctl_scale_cfg_default(ctl_scale_cfg *c)
{
    c->tick_ms = 1000;
    c->scrape_timeout_ms = 800;
}

static void cs_event(ctl_scale *s, cs_pa *pa, ctl_event_type type, const char *reason,
                     const char *msg)
{
    char err[256];
    if (ctl_store_event(s->store, "PodAutoscaler", pa->name, type, reason, msg, 0, err,
                        sizeof(err)) != 0)
        bx_warn("autoscaler %s: event: %s", pa->name, err);
}

/* AIBrix's registry keys to vLLM's names; anything else is used as is. */
static const char *cs_metric_name(const char *key)
{
    static const char *const map[][2] = {
        {"num_requests_running", "vllm:num_requests_running"},
        {"num_requests_waiting", "vllm:num_requests_waiting"},
        {"gpu_cache_usage_perc", "vllm:gpu_cache_usage_perc"},
        {"kv_cache_usage_perc", "vllm:kv_cache_usage_perc"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(map[i][0], key)) return map[i][1];
    return key;
}

static int cs_ready(const ctl_scale *s, const char *deployment)
{
    int n = 0;
    for (size_t i = 0; i < s->npods; i++)
        if (s->pods[i].phase == CTL_POD_READY && !strcmp(s->pods[i].deployment, deployment)) n++;
    return n;
}

/* ---------- status ---------- */

static void cs_write_status(ctl_scale *s, cs_pa *pa, const as_decision *d, const char *why)
{
    json_t *st = json_object();
    if (!st) return;
    int ready = pa->valid ? cs_ready(s, pa->spec.target.name) : 0;
    json_object_set_new(st, "desiredScale", json_integer(pa->has_current ? pa->current : ready));
    json_object_set_new(st, "actualScale", json_integer(ready));
    if (pa->last_scale_ms) {
        char t[32];
        cs_rfc3339(pa->last_scale_ms, t, sizeof(t));
        json_object_set_new(st, "lastScaleTime", json_string(t));
    }
    json_t *metrics = json_object();
    if (d && metrics) {
        for (size_t i = 0; i < pa->spec.n_metrics; i++)
            if (d->metrics[i].valid)
                json_object_set_new(metrics, pa->spec.metrics[i].target_metric,
                                    json_real(d->metrics[i].stable_total));
        json_object_set_new(st, "panic", json_boolean(d->panic));
    }
    json_object_set_new(st, "metrics", metrics ? metrics : json_object());
    json_object_set_new(st, "reason", json_string(d ? d->reason : why));
    json_t *conds = json_array();
    char now[32];
    cs_rfc3339(cs_now_ms(), now, sizeof(now));
    int active = pa->valid && d && d->has_data;
    json_array_append_new(conds,
                          json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", "AbleToScale", "status",
                                    pa->valid ? "True" : "False", "reason",
                                    pa->valid ? "SucceededGetScale" : "InvalidSpec", "message",
                                    pa->valid ? "the target Deployment can be scaled" : why,
                                    "lastTransitionTime", now));
    json_array_append_new(conds,
                          json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", "ScalingActive", "status",
                                    active ? "True" : "False", "reason",
                                    active ? "ValidMetricFound" : "FailedGetMetrics", "message",
                                    active ? "the metrics are read"
                                           : (pa->last_error[0] ? pa->last_error
                                              : why             ? why
                                                                : "no metric value yet"),
                                    "lastTransitionTime", now));
    /* keep a condition's time while its status stays the same */
    json_t *old = pa->status ? json_object_get(pa->status, "conditions") : NULL;
    for (size_t i = 0; old && i < json_array_size(conds); i++) {
        json_t *c = json_array_get(conds, i), *o = json_array_get(old, i);
        if (o && json_equal(json_object_get(c, "status"), json_object_get(o, "status")))
            json_object_set(c, "lastTransitionTime", json_object_get(o, "lastTransitionTime"));
    }
    json_object_set_new(st, "conditions", conds);
    if (pa->status && json_equal(pa->status, st)) {
        json_decref(st);
        return;
    }
    char err[256];
    if (ctl_store_set_status(s->store, "PodAutoscaler", pa->name, st, err, sizeof(err)) < 0)
        bx_warn("autoscaler %s: status: %s", pa->name, err);
    json_decref(pa->status);
    pa->status = st;
}

/* ---------- deciding ---------- */

static void cs_decide(ctl_scale *s, cs_pa *pa, int64_t now)
{
    as_input in;
    memset(&in, 0, sizeof(in));
    in.now_ms = now;
    in.ready = cs_ready(s, pa->spec.target.name);
    in.current = pa->has_current ? pa->current : in.ready;
    double held = 0;
    if (s->cbs.gateway_metric &&
        s->cbs.gateway_metric(s->ud, pa->spec.target.name, "gateway_held", &held) == 0 && held > 0)
        in.waiting = (uint32_t)held;
    in.n_metrics = pa->spec.n_metrics;
    for (size_t i = 0; i < pa->spec.n_metrics; i++) {
        double v, p;
        as_metric_input *m = &in.m[i];
        if (as_window_average(&pa->win[i], now, pa->spec.observe_window_ms, &v) > 0) {
            m->valid = true;
            m->stable_total = v;
            m->stable_pods = (uint32_t)in.ready;
            if (as_window_average(&pa->win[i], now, pa->spec.panic_window_ms, &p) > 0) {
                m->panic_valid = true;
                m->panic_total = p;
                m->panic_pods = (uint32_t)in.ready;
            }
        }
    }
    as_decision d;
    if (as_decide(&pa->spec, &pa->st, &in, &d) != 0) {
        bx_warn("autoscaler %s: no decision (bad input)", pa->name);
        return;
    }
    if (d.desired != in.current) {
        int from = in.current;
        pa->current = d.desired;
        pa->has_current = 1;
        pa->last_scale_ms = cs_now_ms();
        char msg[AS_REASON_LEN + 64];
        snprintf(msg, sizeof(msg), "New size: %d (from %d); reason: %s", d.desired, from, d.reason);
        cs_event(s, pa, CTL_EVENT_NORMAL, "SuccessfulRescale", msg);
        if (s->cbs.scale) s->cbs.scale(s->ud, pa->spec.target.name, d.desired, d.reason);
    }
    cs_write_status(s, pa, &d, NULL);
}

/* ---------- scraping ---------- */

static void cs_round_done(ctl_scale *s, cs_pa *pa)
{
    for (size_t i = 0; i < pa->spec.n_metrics; i++) {
        const as_metric_spec *ms = &pa->spec.metrics[i];
        double v;
        if (ms->source == AS_SOURCE_POD || ms->source == AS_SOURCE_RESOURCE) {
            if (pa->answered[i] == 0) continue; /* nothing known: no sample */
            /* engines that did not answer count as the mean of those that did */
            v = pa->sum[i] / pa->answered[i] * pa->ready;
        } else {
            if (!s->cbs.gateway_metric ||
                s->cbs.gateway_metric(s->ud, pa->spec.target.name, ms->target_metric, &v) != 0)
                continue;
        }
        if (as_window_add(&pa->win[i], pa->round_ms, v) != 0)
            bx_debug("autoscaler %s: sample refused", pa->name);
    }
    if (pa->failed) {
        int64_t now = cs_now_ms();
        if (now - pa->last_warn_ms >= CS_WARN_EVERY_MS) {
            pa->last_warn_ms = now;
            char msg[256];
            snprintf(msg, sizeof(msg), "%d engine(s) of %d did not answer: %s", pa->failed,
                     pa->ready, pa->last_error);
            cs_event(s, pa, CTL_EVENT_WARNING, "FailedGetMetrics", msg);
        }
    }
    cs_decide(s, pa, pa->round_ms);
}

static void cs_scrape_free(cs_scrape *c)
{
    ctl_scale *s = c->s;
    if (!s) { /* detached by ctl_scale_close */
        bx_buf_free(&c->body);
        free(c);
        return;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        s->scrapes = c->next;
    if (c->next) c->next->prev = c->prev;
    bx_buf_free(&c->body);
    free(c);
}

static void cs_on_response(bx_http_creq *cr, int status, const bx_http_header *h, size_t nh,
                           void *ud)
{
    (void)cr, (void)h, (void)nh;
    ((cs_scrape *)ud)->status = status;
}

static void cs_on_data(bx_http_creq *cr, const char *d, size_t n, void *ud)
{
    cs_scrape *c = ud;
    if (c->body.len + n > CS_MAX_BODY) {
        bx_http_client_cancel(cr);
        return;
    }
    if (bx_buf_append(&c->body, d, n) != 0) bx_http_client_cancel(cr);
}

static void cs_on_done(bx_http_creq *cr, int err, void *ud)
{
    (void)cr;
    cs_scrape *c = ud;
    ctl_scale *s = c->s;
    cs_pa *pa = c->pa;
    if (s && pa) {
        int ok = 0;
        if (err == 0 && c->status == 200) {
            bx_prom_doc doc;
            char perr[160];
            if (bx_prom_parse(c->body.data ? c->body.data : "", c->body.len, NULL, &doc, perr,
                              sizeof(perr)) == 0) {
                ok = 1;
                for (size_t i = 0; i < pa->spec.n_metrics; i++) {
                    size_t found = 0;
                    double v = bx_prom_sum(&doc, cs_metric_name(pa->spec.metrics[i].target_metric),
                                           NULL, NULL, &found);
                    if (found && isfinite(v)) {
                        pa->sum[i] += v;
                        pa->answered[i]++;
                    }
                }
                bx_prom_doc_free(&doc);
            } else {
                snprintf(pa->last_error, sizeof(pa->last_error), "bad /metrics: %.120s", perr);
            }
        } else if (err) {
            snprintf(pa->last_error, sizeof(pa->last_error), "scrape failed (error %d)", err);
        } else {
            snprintf(pa->last_error, sizeof(pa->last_error), "scrape answered HTTP %d", c->status);
        }
        if (!ok) pa->failed++;
        if (--pa->inflight == 0 && !s->closing) cs_round_done(s, pa);
    }
    cs_scrape_free(c);
}

static void cs_round(ctl_scale *s, cs_pa *pa)
{
    if (!pa->valid || pa->inflight > 0) return;
    pa->round_ms = cs_now_ms();
    pa->ready = 0;
    pa->failed = 0;
    memset(pa->sum, 0, sizeof(pa->sum));
    memset(pa->answered, 0, sizeof(pa->answered));
    const char *path = "/metrics";
    for (size_t i = 0; i < pa->spec.n_metrics; i++)
        if (pa->spec.metrics[i].source == AS_SOURCE_POD && pa->spec.metrics[i].path[0])
            path = pa->spec.metrics[i].path;
    for (size_t i = 0; i < s->npods; i++) {
        const cs_pod *p = &s->pods[i];
        if (p->phase != CTL_POD_READY || strcmp(p->deployment, pa->spec.target.name) != 0) continue;
        pa->ready++;
        cs_scrape *c = calloc(1, sizeof(*c));
        if (!c) continue;
        c->s = s;
        c->pa = pa;
        bx_buf_init(&c->body);
        c->next = s->scrapes;
        if (s->scrapes) s->scrapes->prev = c;
        s->scrapes = c;
        bx_http_client_req r = {.method = "GET",
                                .host = "127.0.0.1",
                                .port = p->port,
                                .path = path,
                                .timeout_ms = s->cfg.scrape_timeout_ms};
        bx_http_client_cbs cbs = {cs_on_response, cs_on_data, cs_on_done};
        if (bx_http_client_request(s->client, &r, &cbs, c, &c->cr) != 0) {
            pa->failed++;
            snprintf(pa->last_error, sizeof(pa->last_error), "cannot start a scrape");
            cs_scrape_free(c);
            continue;
        }
        pa->inflight++;
    }
    if (pa->inflight == 0) cs_round_done(s, pa); /* no engine: decide on what is known */
}

static void cs_on_tick(uv_timer_t *t)
{
    ctl_scale *s = t->data;
    for (int i = 0; i < s->npa; i++)
        cs_round(s, s->pa[i]);
}

/* ---------- objects ---------- */

static cs_pa *cs_find(const ctl_scale *s, const char *name, int *idx)
{
    for (int i = 0; i < s->npa; i++)
        if (!strcmp(s->pa[i]->name, name)) {
            if (idx) *idx = i;
            return s->pa[i];
        }
    return NULL;
}

static void cs_pa_free(ctl_scale *s, cs_pa *pa)
{
    for (cs_scrape *c = s->scrapes; c; c = c->next)
        if (c->pa == pa) {
            c->pa = NULL;
            bx_http_client_cancel(c->cr);
        }
    for (int i = 0; i < pa->nwin; i++)
        as_window_close(&pa->win[i]);
    json_decref(pa->status);
    free(pa);
}

int ctl_scale_init(ctl_scale **out, uv_loop_t *loop, ctl_store *store, const ctl_scale_cfg *cfg,
                   const ctl_scale_cbs *cbs, void *ud, char *err, size_t errlen)
{
    ctl_scale *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->loop = loop;
    s->store = store;
    ctl_scale_cfg_default(&s->cfg);
    if (cfg) s->cfg = *cfg;
    if (cbs) s->cbs = *cbs;
    s->ud = ud;
    bx_http_client_opts co = {.max_idle_per_host = 4, .connect_timeout_ms = 500};
    if (bx_http_client_init(&s->client, loop, &co) != 0 || uv_timer_init(loop, &s->timer) != 0) {
        if (s->client) bx_http_client_close(s->client);
        free(s);
        snprintf(err, errlen, "cannot create the scraper");
        return -1;
    }
    s->timer.data = s;
    uv_timer_start(&s->timer, cs_on_tick, s->cfg.tick_ms, s->cfg.tick_ms);
    *out = s;
    return 0;
}

int ctl_scale_apply(ctl_scale *s, const ctl_obj *o)
{
    if (o->kind != CTL_KIND_POD_AUTOSCALER) return -1;
    int idx;
    cs_pa *old = cs_find(s, o->name, &idx);
    if (!old && s->npa == CS_MAX_PA) {
        bx_error("autoscaler %s: too many autoscalers", o->name);
        return -1;
    }
    cs_pa *pa = calloc(1, sizeof(*pa));
    if (!pa) return -1;
    snprintf(pa->name, sizeof(pa->name), "%s", o->name);
    as_state_init(&pa->st);
    char err[256];
    int rc = 0;
    if (as_spec_parse(o->raw, &pa->spec, err, sizeof(err)) != 0) {
        cs_event(s, pa, CTL_EVENT_WARNING, "InvalidSpec", err);
        bx_warn("autoscaler %s: %s", o->name, err);
        rc = -1;
    } else {
        pa->valid = 1;
        for (size_t i = 0; i < pa->spec.n_metrics; i++) {
            if (as_window_init(&pa->win[i], pa->spec.observe_window_ms, 1000) != 0) {
                pa->valid = 0;
                snprintf(err, sizeof(err), "out of memory");
                rc = -1;
                break;
            }
            pa->nwin++;
        }
    }
    if (old) { /* keep what was decided: the size and the strategy's memory */
        if (pa->valid && old->valid && !strcmp(old->spec.target.name, pa->spec.target.name)) {
            pa->current = old->current;
            pa->has_current = old->has_current;
            pa->last_scale_ms = old->last_scale_ms;
        }
        cs_pa_free(s, old);
        s->pa[idx] = pa;
    } else {
        s->pa[s->npa++] = pa;
    }
    cs_write_status(s, pa, NULL, pa->valid ? "waiting for the first metrics" : err);
    return rc;
}

int ctl_scale_remove(ctl_scale *s, const char *name)
{
    int idx;
    cs_pa *pa = cs_find(s, name, &idx);
    if (!pa) return 1;
    cs_pa_free(s, pa);
    s->pa[idx] = s->pa[--s->npa];
    return 0;
}

void ctl_scale_pods(ctl_scale *s, const ctl_podview *pods, size_t n)
{
    if (n > CS_MAX_PODS) n = CS_MAX_PODS;
    for (size_t i = 0; i < n; i++) {
        cs_pod *p = &s->pods[i];
        snprintf(p->name, sizeof(p->name), "%s", pods[i].name ? pods[i].name : "");
        snprintf(p->deployment, sizeof(p->deployment), "%s",
                 pods[i].deployment ? pods[i].deployment : "");
        p->port = pods[i].port;
        p->phase = pods[i].phase;
    }
    s->npods = n;
}

void ctl_scale_set_current(ctl_scale *s, const char *deployment, int replicas)
{
    for (int i = 0; i < s->npa; i++) {
        cs_pa *pa = s->pa[i];
        if (pa->valid && !strcmp(pa->spec.target.name, deployment)) {
            pa->current = replicas;
            pa->has_current = 1;
        }
    }
}

void ctl_scale_wake(ctl_scale *s, const char *deployment)
{
    for (int i = 0; i < s->npa; i++)
        if (s->pa[i]->valid && !strcmp(s->pa[i]->spec.target.name, deployment))
            cs_round(s, s->pa[i]);
}

int ctl_scale_targets(const ctl_scale *s, const char *deployment)
{
    for (int i = 0; i < s->npa; i++)
        if (s->pa[i]->valid && !strcmp(s->pa[i]->spec.target.name, deployment)) return 1;
    return 0;
}

static void cs_timer_closed(uv_handle_t *h)
{
    ctl_scale *s = h->data;
    free(s);
}

void ctl_scale_close(ctl_scale *s)
{
    if (!s) return;
    s->closing = 1;
    uv_timer_stop(&s->timer);
    for (int i = 0; i < s->npa; i++)
        cs_pa_free(s, s->pa[i]); /* cancels their scrapes */
    s->npa = 0;
    /* scrapes still finishing free only themselves: s goes first */
    for (cs_scrape *c = s->scrapes, *next; c; c = next) {
        next = c->next;
        c->s = NULL;
        c->pa = NULL;
        c->next = c->prev = NULL;
    }
    s->scrapes = NULL;
    bx_http_client_close(s->client);
    uv_close((uv_handle_t *)&s->timer, cs_timer_closed);
}
