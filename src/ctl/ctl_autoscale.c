/* ctl_autoscale: see ctl_autoscale.h. Layout:
 *   apod   one engine of the latest snapshot (ctl_as_pods), copied.
 *   adep   one Deployment: its served model and replicas (ctl_as_set_current
 *          or our own decisions), and whether anything told us about it.
 *   apa    one PodAutoscaler: a copy of its manifest, the parsed as_spec,
 *          as_state, one as_window per metric, the scrape round in progress
 *          (rpod per Ready pod, values per metric), conditions and the last
 *          status written.
 *   ascr   one GET in flight. It names its autoscaler by id and round
 *          number, never by pointer, so autoscalers may be removed or
 *          re-applied meanwhile; a late answer is dropped.
 * A repeating timer starts a round for every autoscaler whose previous
 * round is over; a one-shot timer (kick) does the same at once for woken
 * ones. A round ends when its last GET is done: totals go into the windows,
 * as_decide runs, status and events are written, and the scale callback is
 * called last (it may call back into this module). Counts are small on one
 * machine, so lookups are linear. */
#include "ctl/ctl_autoscale.h"

#include "autoscale/as_window.h"
#include "common/bx_buf.h"
#include "common/bx_http.h"
#include "common/bx_log.h"
#include "common/bx_prom_parse.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AS_KIND_NAME "PodAutoscaler"
#define HOST_MAX 64
#define ERR_MAX 160
#define MAX_FAILED_LISTED 16 /* pod names in status.scrape.failed */
#define NCOND 6

/* ------------------------------------------------------------ types */

typedef struct apod {
    char *name, *deployment, *model, *engine;
    char host[HOST_MAX];
    int port;
    ctl_pod_phase phase;
} apod;

typedef struct adep {
    char name[CTL_NAME_MAX + 1];
    char *model;  /* NULL until known */
    int replicas; /* valid when set */
    int set;      /* replicas known (set_current or our decision) */
} adep;

typedef struct rpod {
    char name[128];
    char engine[32];
    char host[HOST_MAX];
    int port;
    double val[AS_MAX_METRICS];
    unsigned char ok[AS_MAX_METRICS];
    char err[ERR_MAX]; /* first failure, for the warning */
} rpod;

typedef struct acond {
    char type[32];
    char status[8]; /* "True" / "False" */
    char reason[48];
    char message[256];
    int64_t since_ms; /* wall */
    int present;
} acond;

typedef struct apa {
    char name[CTL_NAME_MAX + 1];
    uint64_t id; /* apply order: the first claims a target */
    json_t *raw;
    int valid;
    char spec_err[512];
    as_spec spec;
    as_state st;
    int64_t generation; /* of the object the state belongs to */
    as_window win[AS_MAX_METRICS];
    size_t nwin;
    uint32_t last_pods[AS_MAX_METRICS];
    /* round */
    int in_round;
    uint64_t round;
    int64_t round_now;
    unsigned pending;
    rpod *rp;
    size_t nrp;
    double gval[AS_MAX_METRICS];
    unsigned char gok[AS_MAX_METRICS];
    char gerr[AS_MAX_METRICS][ERR_MAX];
    int woken;
    int conflict;
    /* reporting */
    int64_t last_warn_ms; /* loop time of the last FailedGetMetrics, -1 none */
    int64_t last_scale_wall_ms;
    acond cond[NCOND];
    json_t *last_status;
    ctl_as_info info;
} apa;

struct ctl_as {
    uv_loop_t *loop;
    ctl_store *store;
    ctl_as_cfg cfg;
    ctl_as_cbs cbs;
    void *ud;
    bx_http_client *http;
    uv_timer_t tick, kick;
    int handles_open;
    int closing;
    unsigned nreq; /* GETs in flight */
    uint64_t next_id;
    apa **pas;
    size_t npas;
    apod *pods;
    size_t npods;
    adep *deps;
    size_t ndeps;
};

typedef struct ascr {
    ctl_as *a;
    uint64_t pa_id, round;
    int pod;    /* index into the round's rp, or -1 for an endpoint source */
    int metric; /* endpoint source: its index */
    char path[AS_STR_LEN];
    char url[HOST_MAX + AS_STR_LEN + 32];
    int status;
    int toobig;
    bx_buf body;
} ascr;

/* ------------------------------------------------------------ helpers */

static int64_t wall_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rfc3339(int64_t ms, char *out, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, len, "1970-01-01T00:00:00Z");
}

static void fmt(char *out, size_t len, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *out, size_t len, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    vsnprintf(out, len, f, ap);
    va_end(ap);
}

static char *dupstr(const char *s)
{
    return strdup(s ? s : "");
}

/* host and port of "http://host:port/...", port falling back to def. */
static void url_split(const char *url, int def_port, char *host, size_t hlen, int *port)
{
    snprintf(host, hlen, "127.0.0.1");
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

/* ------------------------------------------------------------ metric names */

typedef struct reg_entry {
    const char *key;
    const char *vllm, *sglang, *trtllm, *xllm;
    int mean; /* a fraction per engine: average the samples */
} reg_entry;

/* AIBrix's registry (pkg/metrics/metrics.go), the LLM keys. */
static const reg_entry REGISTRY[] = {
    {"gpu_cache_usage_perc", "vllm:gpu_cache_usage_perc", "sglang:token_usage", NULL,
     "kv_cache_utilization", 1},
    {"kv_cache_usage_perc", "vllm:kv_cache_usage_perc", "sglang:token_usage",
     "trtllm_kv_cache_utilization", NULL, 1},
    {"num_requests_running", "vllm:num_requests_running", "sglang:num_running_reqs", NULL, NULL, 0},
    {"num_requests_waiting", "vllm:num_requests_waiting", "sglang:num_queue_reqs", NULL, NULL, 0},
};

static const reg_entry *reg_find(const char *key)
{
    for (size_t i = 0; i < sizeof(REGISTRY) / sizeof(REGISTRY[0]); i++)
        if (strcmp(REGISTRY[i].key, key) == 0) return &REGISTRY[i];
    return NULL;
}

const char *ctl_as_metric_name(const char *target_metric, const char *engine)
{
    if (!target_metric) return "";
    const reg_entry *r = reg_find(target_metric);
    if (!r) return target_metric;
    const char *n = NULL;
    if (engine && strcmp(engine, "sglang") == 0)
        n = r->sglang;
    else if (engine && strcmp(engine, "trtllm") == 0)
        n = r->trtllm;
    else if (engine && strcmp(engine, "xllm") == 0)
        n = r->xllm;
    return n ? n : r->vllm;
}

/* Sum (or mean) of the samples named name; 0, or -1 when none or not a
 * number. */
static int doc_metric(const bx_prom_doc *doc, const char *name, int mean, double *out)
{
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < doc->nsamples; i++) {
        const bx_prom_sample *s = &doc->samples[i];
        if (strcmp(s->name, name) != 0) continue;
        if (!isfinite(s->value)) return -1;
        sum += s->value;
        n++;
    }
    if (n == 0 || !isfinite(sum)) return -1;
    *out = mean ? sum / (double)n : sum;
    return 0;
}

static int doc_value(const bx_prom_doc *doc, const char *target, const char *engine, double *out,
                     char *err, size_t errlen)
{
    const reg_entry *r = reg_find(target);
    const char *name = ctl_as_metric_name(target, engine);
    int mean = r ? r->mean : 0;
    if (doc_metric(doc, name, mean, out) == 0) return 0;
    /* vLLM V1 renamed gpu_cache_usage_perc to kv_cache_usage_perc. */
    if (strcmp(name, "vllm:gpu_cache_usage_perc") == 0 &&
        doc_metric(doc, "vllm:kv_cache_usage_perc", 1, out) == 0)
        return 0;
    if (strcmp(name, "vllm:kv_cache_usage_perc") == 0 &&
        doc_metric(doc, "vllm:gpu_cache_usage_perc", 1, out) == 0)
        return 0;
    fmt(err, errlen, "metric %s not found", name);
    return -1;
}

static void prom_limits(bx_prom_limits *l)
{
    bx_prom_limits_default(l);
    l->max_bytes = CTL_AS_METRICS_MAX_BYTES;
}

int ctl_as_metric_value(const char *body, size_t len, const char *target_metric, const char *engine,
                        double *out, char *err, size_t errlen)
{
    if (!body || !target_metric || !out) {
        fmt(err, errlen, "bad arguments");
        return -1;
    }
    bx_prom_limits lim;
    prom_limits(&lim);
    bx_prom_doc doc;
    char perr[128];
    if (bx_prom_parse(body, len, &lim, &doc, perr, sizeof(perr)) != 0) {
        fmt(err, errlen, "metrics: %s", perr);
        return -1;
    }
    int rc = doc_value(&doc, target_metric, engine, out, err, errlen);
    bx_prom_doc_free(&doc);
    return rc;
}

/* ------------------------------------------------------------ lookups */

static apa *pa_find(const ctl_as *a, const char *name)
{
    for (size_t i = 0; i < a->npas; i++)
        if (strcmp(a->pas[i]->name, name) == 0) return a->pas[i];
    return NULL;
}

static apa *pa_by_id(const ctl_as *a, uint64_t id)
{
    for (size_t i = 0; i < a->npas; i++)
        if (a->pas[i]->id == id) return a->pas[i];
    return NULL;
}

static adep *dep_find(const ctl_as *a, const char *name)
{
    for (size_t i = 0; i < a->ndeps; i++)
        if (strcmp(a->deps[i].name, name) == 0) return &a->deps[i];
    return NULL;
}

static adep *dep_get(ctl_as *a, const char *name)
{
    adep *d = dep_find(a, name);
    if (d) return d;
    if (strlen(name) > CTL_NAME_MAX) return NULL;
    adep *nd = realloc(a->deps, (a->ndeps + 1) * sizeof(*nd));
    if (!nd) return NULL;
    a->deps = nd;
    d = &a->deps[a->ndeps++];
    memset(d, 0, sizeof(*d));
    snprintf(d->name, sizeof(d->name), "%s", name);
    return d;
}

static const char *dep_model(const ctl_as *a, const char *dep)
{
    const adep *d = dep_find(a, dep);
    if (d && d->model && *d->model) return d->model;
    for (size_t i = 0; i < a->npods; i++)
        if (strcmp(a->pods[i].deployment, dep) == 0 && *a->pods[i].model) return a->pods[i].model;
    return dep;
}

/* The deployment's replicas; -1 when nothing is known about it. */
static int dep_current(const ctl_as *a, const char *dep)
{
    const adep *d = dep_find(a, dep);
    if (d && d->set) return d->replicas;
    int n = 0, seen = d != NULL;
    for (size_t i = 0; i < a->npods; i++) {
        const apod *p = &a->pods[i];
        if (strcmp(p->deployment, dep) != 0) continue;
        seen = 1;
        if (p->phase == CTL_POD_STARTING || p->phase == CTL_POD_READY ||
            p->phase == CTL_POD_BACKOFF)
            n++;
    }
    return seen ? n : -1;
}

/* Another valid autoscaler applied earlier targets the same deployment. */
static const apa *pa_claimer(const ctl_as *a, const apa *p)
{
    for (size_t i = 0; i < a->npas; i++) {
        const apa *q = a->pas[i];
        if (q != p && q->valid && q->id < p->id &&
            strcmp(q->spec.target.name, p->spec.target.name) == 0)
            return q;
    }
    return NULL;
}

/* ------------------------------------------------------------ store */

static void event(ctl_as *a, const apa *p, ctl_event_type t, const char *reason, const char *msg)
{
    char err[256];
    if (ctl_store_event(a->store, AS_KIND_NAME, p->name, t, reason, msg, 0, err, sizeof(err)) != 0)
        bx_warn("autoscaler %s: event %s: %s", p->name, reason, err);
}

static void cond_set(apa *p, const char *type, int status, const char *reason, const char *msg)
{
    acond *c = NULL, *free_slot = NULL;
    for (int i = 0; i < NCOND; i++) {
        if (p->cond[i].present && strcmp(p->cond[i].type, type) == 0) c = &p->cond[i];
        if (!p->cond[i].present && !free_slot) free_slot = &p->cond[i];
    }
    const char *st = status ? "True" : "False";
    if (!c) {
        if (!free_slot) return;
        c = free_slot;
        memset(c, 0, sizeof(*c));
        c->present = 1;
        snprintf(c->type, sizeof(c->type), "%s", type);
    }
    if (strcmp(c->status, st) != 0 || c->since_ms == 0) c->since_ms = wall_ms();
    snprintf(c->status, sizeof(c->status), "%s", st);
    snprintf(c->reason, sizeof(c->reason), "%s", reason);
    snprintf(c->message, sizeof(c->message), "%s", msg ? msg : "");
}

static void cond_clear(apa *p, const char *type)
{
    for (int i = 0; i < NCOND; i++)
        if (p->cond[i].present && strcmp(p->cond[i].type, type) == 0) p->cond[i].present = 0;
}

static const char *cond_status(const apa *p, const char *type)
{
    for (int i = 0; i < NCOND; i++)
        if (p->cond[i].present && strcmp(p->cond[i].type, type) == 0) return p->cond[i].status;
    return "";
}

static void cond_ready(apa *p)
{
    int ok = strcmp(cond_status(p, "AbleToScale"), "True") == 0 &&
             strcmp(cond_status(p, "ScalingActive"), "True") != 0 && !p->conflict;
    cond_set(p, "Ready", ok, ok ? "AsExpected" : "NotReady", "");
}

static int jset(json_t *o, const char *k, json_t *v)
{
    return v ? json_object_set_new(o, k, v) : -1;
}

static json_t *conds_json(const apa *p)
{
    json_t *arr = json_array();
    if (!arr) return NULL;
    for (int i = 0; i < NCOND; i++) {
        const acond *c = &p->cond[i];
        if (!c->present) continue;
        char ts[32];
        rfc3339(c->since_ms, ts, sizeof(ts));
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", c->type, "status", c->status,
                              "reason", c->reason, "message", c->message, "lastTransitionTime", ts);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* The strategy's memory (panic mode, stabilization and rate histories:
 * plain data, as_policy.h) is kept in status as base64, so a restarted
 * `brix up` resumes it; its times are uv_now (monotonic since boot), valid
 * across restarts on one machine. Restored only for the same generation. */
#define AS_STATE_KEY "brixStrategyState"

static void state_put(json_t *st, const apa *p)
{
    if (!p->valid || p->st.version != AS_STATE_VERSION) return;
    char b64[((sizeof(as_state) + 2) / 3) * 4 + 1];
    int n =
        EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)&p->st, (int)sizeof(as_state));
    if (n <= 0) return;
    json_object_set_new(st, AS_STATE_KEY,
                        json_pack("{s:i,s:I,s:s}", "version", (int)AS_STATE_VERSION, "generation",
                                  (json_int_t)p->generation, "data", b64));
}

/* 0 and p->st restored, or -1 (none, another generation or version). */
static int state_get(ctl_as *a, apa *p)
{
    ctl_record r;
    char err[256];
    if (ctl_store_get(a->store, AS_KIND_NAME, p->name, &r, err, sizeof(err)) != 0) return -1;
    int rc = -1;
    json_t *s = json_object_get(r.status, AS_STATE_KEY);
    const char *data = json_string_value(json_object_get(s, "data"));
    if (data && json_integer_value(json_object_get(s, "version")) == AS_STATE_VERSION &&
        json_integer_value(json_object_get(s, "generation")) == p->generation &&
        strlen(data) == ((sizeof(as_state) + 2) / 3) * 4) {
        unsigned char buf[((sizeof(as_state) + 2) / 3) * 3 + 3];
        int n = EVP_DecodeBlock(buf, (const unsigned char *)data, (int)strlen(data));
        as_state st;
        if (n >= (int)sizeof(as_state)) {
            memcpy(&st, buf, sizeof(st));
            if (st.version == AS_STATE_VERSION && st.stab_up.n <= AS_HIST_MAX &&
                st.stab_down.n <= AS_HIST_MAX && st.up_events.n <= AS_HIST_MAX &&
                st.down_events.n <= AS_HIST_MAX) {
                p->st = st;
                rc = 0;
            }
        }
    }
    ctl_record_clear(&r);
    return rc;
}

/* Writes st when it differs from the last one written; steals st. */
static void status_write(ctl_as *a, apa *p, json_t *st)
{
    if (!st) {
        bx_warn("autoscaler %s: status: out of memory", p->name);
        return;
    }
    state_put(st, p);
    if (p->last_status && json_equal(p->last_status, st)) {
        json_decref(st);
        return;
    }
    char err[256];
    int rc = ctl_store_set_status(a->store, AS_KIND_NAME, p->name, st, err, sizeof(err));
    if (rc < 0) bx_warn("autoscaler %s: status: %s", p->name, err);
    /* rc 1: the object is not stored (yet); the next change writes it */
    json_decref(p->last_status);
    p->last_status = rc == 0 ? st : NULL;
    if (rc != 0) json_decref(st);
}

/* Status with conditions only (invalid spec, conflict, unknown target). */
static void status_conditions_only(ctl_as *a, apa *p, const char *reason)
{
    json_t *st = json_object();
    if (st) {
        int bad = jset(st, "reason", json_string(reason)) != 0;
        bad |= jset(st, "conditions", conds_json(p)) != 0;
        if (p->valid)
            bad |= jset(st, "strategy", json_string(as_strategy_name(p->spec.strategy))) != 0;
        if (bad) {
            json_decref(st);
            st = NULL;
        }
    }
    status_write(a, p, st);
}

/* ------------------------------------------------------------ lifecycle of one autoscaler */

static void round_drop(apa *p)
{
    p->in_round = 0;
    p->round++; /* answers still in flight no longer match */
    free(p->rp);
    p->rp = NULL;
    p->nrp = 0;
    p->pending = 0;
}

static void pa_windows_close(apa *p)
{
    for (size_t i = 0; i < p->nwin; i++)
        as_window_close(&p->win[i]);
    p->nwin = 0;
}

static void pa_free(apa *p)
{
    if (!p) return;
    round_drop(p);
    pa_windows_close(p);
    json_decref(p->raw);
    json_decref(p->last_status);
    free(p);
}

static int pa_windows_init(const ctl_as *a, apa *p)
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
            pa_windows_close(p);
            return -1;
        }
        p->nwin++;
    }
    return 0;
}

/* ------------------------------------------------------------ scrapes */

static void round_finish(ctl_as *a, apa *p);

static void scr_response(bx_http_creq *cr, int status, const bx_http_header *h, size_t nh, void *ud)
{
    (void)cr;
    (void)h;
    (void)nh;
    ((ascr *)ud)->status = status;
}

static void scr_data(bx_http_creq *cr, const char *d, size_t n, void *ud)
{
    ascr *s = ud;
    if (s->toobig) return;
    if (s->body.len + n > CTL_AS_METRICS_MAX_BYTES) {
        s->toobig = 1;
        bx_http_client_cancel(cr);
        return;
    }
    if (bx_buf_append(&s->body, d, n) != 0) {
        s->toobig = 1;
        bx_http_client_cancel(cr);
    }
}

/* The result of one GET into the round: per metric that reads this path. */
static void scr_apply(apa *p, ascr *s, int err)
{
    char why[ERR_MAX] = "";
    bx_prom_doc doc;
    int have_doc = 0;
    if (s->toobig)
        fmt(why, sizeof(why), "GET %s: body over %u bytes", s->url, CTL_AS_METRICS_MAX_BYTES);
    else if (err)
        fmt(why, sizeof(why), "GET %s: %s", s->url, bx_http_strerror(err));
    else if (s->status != 200)
        fmt(why, sizeof(why), "GET %s: status %d", s->url, s->status);
    else {
        bx_prom_limits lim;
        prom_limits(&lim);
        char perr[96];
        const char *body = s->body.data ? s->body.data : "";
        if (bx_prom_parse(body, s->body.len, &lim, &doc, perr, sizeof(perr)) != 0)
            fmt(why, sizeof(why), "GET %s: %s", s->url, perr);
        else
            have_doc = 1;
    }
    if (s->pod < 0) { /* endpoint source */
        int m = s->metric;
        if (have_doc) {
            /* a global value: the sum of its samples */
            if (doc_metric(&doc, p->spec.metrics[m].target_metric, 0, &p->gval[m]) == 0)
                p->gok[m] = 1;
            else
                fmt(why, sizeof(why), "GET %s: metric %s not found", s->url,
                    p->spec.metrics[m].target_metric);
        }
        if (!p->gok[m]) snprintf(p->gerr[m], ERR_MAX, "%s", why);
    } else if ((size_t)s->pod < p->nrp) {
        rpod *r = &p->rp[s->pod];
        for (size_t m = 0; m < p->spec.n_metrics; m++) {
            const as_metric_spec *ms = &p->spec.metrics[m];
            const char *path = ms->path[0] ? ms->path : "/metrics";
            if (ms->source != AS_SOURCE_POD || strcmp(path, s->path) != 0) continue;
            char merr[ERR_MAX] = "";
            if (have_doc &&
                doc_value(&doc, ms->target_metric, r->engine, &r->val[m], merr, sizeof(merr)) == 0)
                r->ok[m] = 1;
            else if (!r->err[0])
                fmt(r->err, sizeof(r->err), "%s", have_doc ? merr : why);
        }
    }
    if (have_doc) bx_prom_doc_free(&doc);
}

static void maybe_free(ctl_as *a)
{
    if (!a->closing || a->nreq || a->handles_open) return;
    free(a);
}

static void scr_done(bx_http_creq *cr, int err, void *ud)
{
    (void)cr;
    ascr *s = ud;
    ctl_as *a = s->a;
    a->nreq--;
    apa *p = a->closing ? NULL : pa_by_id(a, s->pa_id);
    if (p && p->in_round && p->round == s->round) {
        scr_apply(p, s, err);
        if (--p->pending == 0) round_finish(a, p); /* p may be gone after */
    }
    bx_buf_free(&s->body);
    free(s);
    maybe_free(a);
}

/* Starts one GET; 0, or -1 with why. */
static int scr_start(ctl_as *a, apa *p, int pod, int metric, const char *host, int port,
                     const char *path, char *why, size_t whylen)
{
    ascr *s = calloc(1, sizeof(*s));
    if (!s) {
        fmt(why, whylen, "out of memory");
        return -1;
    }
    s->a = a;
    s->pa_id = p->id;
    s->round = p->round;
    s->pod = pod;
    s->metric = metric;
    snprintf(s->path, sizeof(s->path), "%s", path);
    fmt(s->url, sizeof(s->url), "http://%s:%d%s", host, port, path);
    bx_buf_init(&s->body);
    static const bx_http_client_cbs cbs = {scr_response, scr_data, scr_done};
    bx_http_client_req r = {
        .method = "GET",
        .host = host,
        .port = port,
        .path = path,
        .timeout_ms = a->cfg.scrape_timeout_ms,
    };
    int rc = bx_http_client_request(a->http, &r, &cbs, s, NULL);
    if (rc != 0) {
        fmt(why, whylen, "GET %s: %s", s->url, bx_http_strerror(rc));
        free(s);
        return -1;
    }
    a->nreq++;
    p->pending++;
    return 0;
}

/* endpoint "host[:port]" and spec port -> host, port (default 80). */
static void endpoint_split(const as_metric_spec *ms, char *host, size_t hlen, int *port)
{
    url_split(ms->endpoint, 80, host, hlen, port);
    if (ms->port[0]) {
        long v = strtol(ms->port, NULL, 10);
        if (v > 0 && v < 65536) *port = (int)v;
    }
}

/* Gathers the Ready pods of the target and starts every GET; a round that
 * needs none finishes at once. */
static void round_start(ctl_as *a, apa *p)
{
    if (!p->valid || p->in_round || a->closing) return;
    const apa *owner = pa_claimer(a, p);
    if (owner) {
        char msg[256];
        fmt(msg, sizeof(msg), "Deployment %s is already scaled by PodAutoscaler %s",
            p->spec.target.name, owner->name);
        p->conflict = 1;
        cond_set(p, "MultiPodAutoscalerConflict", 1, "ConflictingTarget", msg);
        cond_ready(p);
        status_conditions_only(a, p, msg);
        return;
    }
    if (p->conflict) {
        p->conflict = 0;
        cond_clear(p, "MultiPodAutoscalerConflict");
    }
    size_t n = 0;
    for (size_t i = 0; i < a->npods; i++)
        if (a->pods[i].phase == CTL_POD_READY &&
            strcmp(a->pods[i].deployment, p->spec.target.name) == 0)
            n++;
    rpod *rp = n ? calloc(n, sizeof(*rp)) : NULL;
    if (n && !rp) return; /* try again next tick */
    p->rp = rp;
    p->nrp = 0;
    for (size_t i = 0; i < a->npods && p->nrp < n; i++) {
        const apod *ap = &a->pods[i];
        if (ap->phase != CTL_POD_READY || strcmp(ap->deployment, p->spec.target.name) != 0)
            continue;
        rpod *r = &rp[p->nrp++];
        snprintf(r->name, sizeof(r->name), "%s", ap->name);
        snprintf(r->engine, sizeof(r->engine), "%s", ap->engine);
        snprintf(r->host, sizeof(r->host), "%s", ap->host);
        r->port = ap->port;
    }
    p->in_round = 1;
    p->round++;
    p->round_now = (int64_t)uv_now(a->loop);
    p->pending = 0;
    memset(p->gok, 0, sizeof(p->gok));
    memset(p->gerr, 0, sizeof(p->gerr));
    const char *model = dep_model(a, p->spec.target.name);
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
                rpod *r = &p->rp[i];
                char why[ERR_MAX];
                if (scr_start(a, p, (int)i, (int)m, r->host, r->port, path, why, sizeof(why)) !=
                        0 &&
                    !r->err[0])
                    snprintf(r->err, sizeof(r->err), "%s", why);
            }
            break;
        }
        case AS_SOURCE_RESOURCE:
            fmt(p->gerr[m], ERR_MAX, "resource metrics (%s) are not available locally",
                ms->target_metric);
            break;
        case AS_SOURCE_CUSTOM:
        case AS_SOURCE_EXTERNAL:
        case AS_SOURCE_DOMAIN:
            if (ms->endpoint[0] && ms->source != AS_SOURCE_CUSTOM) {
                if (strcmp(ms->protocol, "https") == 0) {
                    fmt(p->gerr[m], ERR_MAX, "%s: https endpoints are not supported", ms->endpoint);
                    break;
                }
                char host[HOST_MAX];
                int port;
                endpoint_split(ms, host, sizeof(host), &port);
                scr_start(a, p, -1, (int)m, host, port, ms->path[0] ? ms->path : "/metrics",
                          p->gerr[m], ERR_MAX);
            } else if (!a->cbs.gateway_metric) {
                fmt(p->gerr[m], ERR_MAX, "%s: no gateway metrics", ms->target_metric);
            } else {
                double v = 0;
                if (a->cbs.gateway_metric(a->ud, model, ms->target_metric, &v) == 0 &&
                    isfinite(v)) {
                    p->gval[m] = v;
                    p->gok[m] = 1;
                } else {
                    fmt(p->gerr[m], ERR_MAX, "gateway has no %s for model %s", ms->target_metric,
                        model);
                }
            }
            break;
        }
    }
    if (p->pending == 0) round_finish(a, p);
}

/* ------------------------------------------------------------ decisions */

/* FailedGetMetrics, at most one a CTL_AS_WARN_INTERVAL_MS. */
static void warn_failures(ctl_as *a, apa *p)
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
    int64_t now = (int64_t)uv_now(a->loop);
    if (p->last_warn_ms >= 0 && now - p->last_warn_ms < CTL_AS_WARN_INTERVAL_MS) return;
    p->last_warn_ms = now;
    bx_warn("autoscaler %s: %s", p->name, msg);
    event(a, p, CTL_EVENT_WARNING, "FailedGetMetrics", msg);
}

/* 1 when round pod i gave every pod metric. */
static int pod_answered(const apa *p, size_t i)
{
    for (size_t m = 0; m < p->spec.n_metrics; m++)
        if (p->spec.metrics[m].source == AS_SOURCE_POD && !p->rp[i].ok[m]) return 0;
    return 1;
}

static json_t *decision_status(const ctl_as *a, apa *p, const as_decision *d, int32_t current,
                               int32_t ready)
{
    (void)a;
    json_t *st = json_object(), *metrics = json_object(), *details = json_array();
    json_t *scrape = json_object(), *failed = json_array();
    int bad = !st || !metrics || !details || !scrape || !failed;
    for (size_t i = 0; !bad && i < p->nrp; i++)
        if (!pod_answered(p, i) && json_array_size(failed) < MAX_FAILED_LISTED)
            bad |= json_array_append_new(failed, json_string(p->rp[i].name)) != 0;
    for (size_t m = 0; !bad && m < p->spec.n_metrics; m++) {
        const as_metric_spec *ms = &p->spec.metrics[m];
        const as_metric_result *r = &d->metrics[m];
        char key[AS_STR_LEN + 8];
        if (json_object_get(metrics, ms->target_metric))
            fmt(key, sizeof(key), "%s#%zu", ms->target_metric, m);
        else
            fmt(key, sizeof(key), "%s", ms->target_metric);
        json_t *det = json_pack("{s:s, s:s, s:f, s:I, s:I}", "name", ms->target_metric, "source",
                                as_source_type_name(ms->source), "target", ms->target_value, "pods",
                                (json_int_t)(ms->source == AS_SOURCE_POD ? p->last_pods[m] : 0),
                                "recommended", (json_int_t)(r->valid ? r->recommended : 0));
        bad |= !det;
        if (det && r->valid) {
            bad |= json_object_set_new(metrics, key, json_real(r->stable_total)) != 0;
            bad |= jset(det, "value", json_real(r->stable_total)) != 0;
            bad |= jset(det, "panicValue", json_real(r->panic_total)) != 0;
        } else if (det) {
            bad |= jset(det, "value", json_null()) != 0;
        }
        if (det) bad |= json_array_append_new(details, det) != 0;
    }
    if (!bad) {
        bad |= jset(scrape, "pods", json_integer((json_int_t)p->nrp)) != 0;
        bad |= jset(scrape, "answered", json_integer(p->info.answered)) != 0;
        bad |= json_object_set(scrape, "failed", failed) != 0;
        bad |= jset(st, "desiredScale", json_integer(d->desired)) != 0;
        bad |= jset(st, "actualScale", json_integer(current)) != 0;
        bad |= jset(st, "readyReplicas", json_integer(ready)) != 0;
        if (p->last_scale_wall_ms) {
            char ts[32];
            rfc3339(p->last_scale_wall_ms, ts, sizeof(ts));
            bad |= jset(st, "lastScaleTime", json_string(ts)) != 0;
        }
        bad |= jset(st, "strategy", json_string(as_strategy_name(p->spec.strategy))) != 0;
        if (p->spec.strategy == AS_STRATEGY_KPA)
            bad |= jset(st, "panic", json_boolean(d->panic)) != 0;
        bad |= jset(st, "reason", json_string(d->reason)) != 0;
        bad |= json_object_set(st, "metrics", metrics) != 0;
        bad |= json_object_set(st, "metricDetails", details) != 0;
        bad |= json_object_set(st, "scrape", scrape) != 0;
        bad |= jset(st, "conditions", conds_json(p)) != 0;
    }
    json_decref(metrics);
    json_decref(details);
    json_decref(scrape);
    json_decref(failed);
    if (bad) {
        json_decref(st);
        return NULL;
    }
    return st;
}

static void round_finish(ctl_as *a, apa *p)
{
    p->in_round = 0;
    p->info.rounds++;
    int64_t now = p->round_now;
    const as_spec *sp = &p->spec;
    as_input in;
    memset(&in, 0, sizeof(in));
    in.now_ms = now;
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
    warn_failures(a, p);
    p->info.scraped = (uint32_t)p->nrp;
    p->info.answered = 0;
    for (size_t i = 0; i < p->nrp; i++)
        p->info.answered += (uint32_t)pod_answered(p, i);
    int32_t ready = (int32_t)p->nrp;
    const char *dep = sp->target.name;
    int current = dep_current(a, dep);
    if (current < 0) {
        char msg[256];
        fmt(msg, sizeof(msg), "Deployment %s is not known (no replicas reported)", dep);
        cond_set(p, "AbleToScale", 0, "FailedGetScale", msg);
        cond_ready(p);
        status_conditions_only(a, p, msg);
        free(p->rp), p->rp = NULL, p->nrp = 0;
        p->woken = 0;
        return;
    }
    const char *model = dep_model(a, dep);
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
        fmt(msg, sizeof(msg), "as_decide: %s", d.reason);
        event(a, p, CTL_EVENT_WARNING, "FailedComputeScale", msg);
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
    snprintf(p->info.reason, sizeof(p->info.reason), "%s", d.reason);

    int scale = d.desired != current;
    char msg[AS_REASON_LEN + 64];
    if (scale) {
        adep *de = dep_get(a, dep);
        if (de) {
            de->replicas = d.desired;
            de->set = 1;
        }
        p->last_scale_wall_ms = wall_ms();
        p->info.scales++;
        fmt(msg, sizeof(msg), "New size: %d; reason: %s", d.desired, d.reason);
        event(a, p, CTL_EVENT_NORMAL, "SuccessfulRescale", msg);
        bx_info("autoscaler %s: %s %d -> %d: %s", p->name, dep, current, d.desired, d.reason);
    }
    cond_set(p, "AbleToScale", 1, "SucceededGetScale", "the target's scale is known");
    char da[64];
    fmt(da, sizeof(da), "desired=%d, actual=%d", d.desired, current);
    cond_set(p, "ScalingActive", scale, scale ? "ReconcilingScaleDiff" : "Stable", da);
    cond_ready(p);
    status_write(a, p, decision_status(a, p, &d, current, ready));
    free(p->rp);
    p->rp = NULL;
    p->nrp = 0;
    /* last: the callback may call back into this module (even remove p) */
    if (scale) a->cbs.scale(a->ud, dep, d.desired, d.reason);
}

/* ------------------------------------------------------------ timers */

/* Starts a round for every autoscaler (woken_only: the woken ones). By id:
 * a round may end at once and its callback may change the list. */
static void run_rounds(ctl_as *a, int woken_only)
{
    size_t n = a->npas;
    if (n == 0) return;
    uint64_t *ids = malloc(n * sizeof(*ids));
    if (!ids) return;
    for (size_t i = 0; i < n; i++)
        ids[i] = a->pas[i]->id;
    for (size_t i = 0; i < n && !a->closing; i++) {
        apa *p = pa_by_id(a, ids[i]);
        if (p && (!woken_only || p->woken)) round_start(a, p);
    }
    free(ids);
}

static void on_tick(uv_timer_t *t)
{
    run_rounds(t->data, 0);
}

static void on_kick(uv_timer_t *t)
{
    run_rounds(t->data, 1);
}

/* ------------------------------------------------------------ API */

void ctl_as_cfg_default(ctl_as_cfg *c)
{
    c->tick_ms = 1000;
    c->scrape_timeout_ms = 800;
}

int ctl_as_init(ctl_as **out, uv_loop_t *loop, ctl_store *store, const ctl_as_cfg *cfg,
                const ctl_as_cbs *cbs, void *ud, char *err, size_t errlen)
{
    if (!out || !loop || !store || !cbs || !cbs->scale) {
        fmt(err, errlen, "ctl_as_init: loop, store and a scale callback are required");
        return -1;
    }
    ctl_as *a = calloc(1, sizeof(*a));
    if (!a) {
        fmt(err, errlen, "out of memory");
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
    if (bx_http_client_init(&a->http, loop, &ho) != 0) {
        fmt(err, errlen, "http client: init failed");
        free(a);
        return -1;
    }
    int rc = uv_timer_init(loop, &a->tick);
    if (rc == 0) {
        a->handles_open++;
        rc = uv_timer_init(loop, &a->kick);
        if (rc == 0) a->handles_open++;
    }
    a->tick.data = a;
    a->kick.data = a;
    if (rc == 0) rc = uv_timer_start(&a->tick, on_tick, a->cfg.tick_ms, a->cfg.tick_ms);
    if (rc != 0) {
        fmt(err, errlen, "timer: %s", uv_strerror(rc));
        ctl_as_close(a);
        return -1;
    }
    *out = a;
    return 0;
}

int ctl_as_apply(ctl_as *a, const ctl_obj *o, char *err, size_t errlen)
{
    if (!a || !o || a->closing || o->kind != CTL_KIND_POD_AUTOSCALER || !o->raw) {
        fmt(err, errlen, "not a PodAutoscaler");
        return -1;
    }
    apa *p = pa_find(a, o->name);
    if (p && json_equal(p->raw, o->raw)) { /* unchanged: keep state and windows */
        if (!p->valid) fmt(err, errlen, "%s", p->spec_err);
        return p->valid ? 0 : -1;
    }
    json_t *raw = json_deep_copy(o->raw);
    if (!raw) {
        fmt(err, errlen, "out of memory");
        return -1;
    }
    if (!p) {
        apa **np = realloc(a->pas, (a->npas + 1) * sizeof(*np));
        if (np) a->pas = np;
        p = np ? calloc(1, sizeof(*p)) : NULL;
        if (!p) {
            json_decref(raw);
            fmt(err, errlen, "out of memory");
            return -1;
        }
        snprintf(p->name, sizeof(p->name), "%s", o->name);
        p->id = ++a->next_id;
        a->pas[a->npas++] = p;
    } else { /* changed: start fresh */
        round_drop(p);
        pa_windows_close(p);
        json_decref(p->raw);
        json_decref(p->last_status);
        p->last_status = NULL;
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
    char perr[sizeof(p->spec_err)];
    if (as_spec_parse(o->raw, &p->spec, perr, sizeof(perr)) != 0) {
        fmt(p->spec_err, sizeof(p->spec_err), "%s", perr);
    } else if (pa_windows_init(a, p) != 0) {
        fmt(p->spec_err, sizeof(p->spec_err), "metric windows: out of memory or too many buckets");
    } else {
        p->valid = 1;
    }
    p->info.valid = p->valid;
    if (!p->valid) {
        cond_set(p, "ValidSpec", 0, "InvalidSpec", p->spec_err);
        cond_set(p, "AbleToScale", 0, "InvalidSpec", p->spec_err);
        cond_ready(p);
        event(a, p, CTL_EVENT_WARNING, "InvalidSpec", p->spec_err);
        status_conditions_only(a, p, p->spec_err);
        bx_warn("autoscaler %s: %s", p->name, p->spec_err);
        fmt(err, errlen, "%s", p->spec_err);
        return -1;
    }
    cond_set(p, "ValidSpec", 1, "AsExpected", "");
    if (state_get(a, p) == 0)
        bx_info("autoscaler %s: resumed its strategy state (%s)", p->name,
                p->st.in_panic ? "in panic" : "stable");
    return 0;
}

int ctl_as_remove(ctl_as *a, const char *name)
{
    if (!a || !name || a->closing) return 1;
    for (size_t i = 0; i < a->npas; i++) {
        if (strcmp(a->pas[i]->name, name) != 0) continue;
        pa_free(a->pas[i]);
        memmove(&a->pas[i], &a->pas[i + 1], (a->npas - i - 1) * sizeof(a->pas[0]));
        a->npas--;
        return 0;
    }
    return 1;
}

static void pods_clear(ctl_as *a)
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
    apod *np = n ? calloc(n, sizeof(*np)) : NULL;
    if (n && !np) {
        bx_warn("autoscaler: pods: out of memory");
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const ctl_podview *v = &pods[i];
        if (!v->name || !v->deployment) continue;
        apod *p = &np[k];
        const json_t *eng = v->labels ? json_object_get(v->labels, CTL_LABEL_ENGINE) : NULL;
        p->name = dupstr(v->name);
        p->deployment = dupstr(v->deployment);
        p->model = dupstr(v->model);
        p->engine = dupstr(json_is_string(eng) ? json_string_value(eng) : "vllm");
        if (!p->name || !p->deployment || !p->model || !p->engine) {
            free(p->name), free(p->deployment), free(p->model), free(p->engine);
            continue;
        }
        url_split(v->url, v->port, p->host, sizeof(p->host), &p->port);
        p->phase = v->phase;
        k++;
        adep *d = dep_get(a, v->deployment);
        if (d && !d->model && v->model && *v->model) d->model = strdup(v->model);
    }
    pods_clear(a);
    a->pods = np;
    a->npods = k;
}

void ctl_as_set_current(ctl_as *a, const char *deployment, const char *model, int replicas)
{
    if (!a || !deployment || a->closing) return;
    adep *d = dep_get(a, deployment);
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

void ctl_as_wake(ctl_as *a, const char *deployment)
{
    if (!a || !deployment || a->closing) return;
    int any = 0;
    for (size_t i = 0; i < a->npas; i++) {
        apa *p = a->pas[i];
        if (p->valid && strcmp(p->spec.target.name, deployment) == 0) p->woken = any = 1;
    }
    if (any) uv_timer_start(&a->kick, on_kick, 0, 0);
}

int ctl_as_targets(const ctl_as *a, const char *deployment)
{
    if (!a || !deployment) return 0;
    for (size_t i = 0; i < a->npas; i++)
        if (a->pas[i]->valid && strcmp(a->pas[i]->spec.target.name, deployment) == 0) return 1;
    return 0;
}

int ctl_as_get_info(const ctl_as *a, const char *name, ctl_as_info *out)
{
    const apa *p = a && name ? pa_find(a, name) : NULL;
    if (!p) return 1;
    *out = p->info;
    out->conflict = p->conflict;
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    ctl_as *a = h->data;
    a->handles_open--;
    maybe_free(a);
}

void ctl_as_close(ctl_as *a)
{
    if (!a || a->closing) return;
    a->closing = 1;
    for (size_t i = 0; i < a->npas; i++)
        pa_free(a->pas[i]);
    free(a->pas);
    a->pas = NULL;
    a->npas = 0;
    pods_clear(a);
    for (size_t i = 0; i < a->ndeps; i++)
        free(a->deps[i].model);
    free(a->deps);
    a->deps = NULL;
    a->ndeps = 0;
    if (a->http) bx_http_client_close(a->http);
    a->http = NULL;
    int open = a->handles_open;
    if (open >= 1) {
        uv_timer_stop(&a->tick);
        uv_close((uv_handle_t *)&a->tick, on_handle_closed);
    }
    if (open >= 2) {
        uv_timer_stop(&a->kick);
        uv_close((uv_handle_t *)&a->kick, on_handle_closed);
    }
    maybe_free(a);
}
