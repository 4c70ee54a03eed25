/* ctl_lora: see ctl_lora.h. Layout:
 *   lpod   one engine we saw in ctl_lora_pods: its identity, readiness, the
 *          adapters its last GET /v1/models listed, its capacity, and the
 *          routing set last reported through on_adapters.
 *   lad    one adapter: a private copy of its object, the artifact's state,
 *          and per engine an lstate (IDLE, LOADING, CONFIRMING, LOADED,
 *          UNLOADING, FAILED) with its retry count and next try.
 *   lop    one engine call in flight (load, unload, list, metrics). It
 *          refers to its adapter and engine by name plus a sequence number,
 *          never by pointer, so engines and adapters may vanish meanwhile.
 * Everything is driven by one timer: ctl_lora_kick arms it at 0 ms; each
 * pass (pass_run) starts due probes, reconciles every adapter, reports the
 * routing sets and re-arms the timer at the earliest deadline. Counts are
 * small on one machine, so lookups are linear. */
#include "ctl/ctl_lora.h"

#include "common/bx_buf.h"
#include "common/bx_http.h"
#include "common/bx_json.h"
#include "common/bx_log.h"
#include "common/bx_prom_parse.h"
#include "ctl/ctl_artifact.h"
#include "ctl/ctl_place.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LORA_KIND "ModelAdapter"
#define LORA_ERR_MAX 256
#define LORA_HOST_MAX 128
#define LORA_BODY_KEEP 4096 /* of a failure reply, as AIBrix */
#define LORA_NEVER UINT64_MAX

enum lstate { LS_IDLE = 0, LS_LOADING, LS_CONFIRMING, LS_LOADED, LS_UNLOADING, LS_FAILED };
enum art_state { ART_NONE = 0, ART_RESOLVING, ART_OK, ART_FAILED };
enum op_kind { OP_LOAD, OP_UNLOAD, OP_LIST, OP_METRICS };

typedef struct lstate_t {
    char pod[128];
    enum lstate st;
    unsigned fails;
    uint64_t retry_at;    /* LS_FAILED: uv_now ms of the next try (LORA_NEVER: given up) */
    uint64_t op_seq;      /* the call in flight for this state */
    uint64_t since_probe; /* list results from probes started before this are stale */
    int reload;           /* LS_UNLOADING because the artifact changed */
    int unloaded;         /* removal: our unload call came back (best effort, once) */
    uint64_t art_seq;     /* the artifact resolution the load used */
    char err[LORA_ERR_MAX];
} lstate_t;

typedef struct lad {
    char name[CTL_NAME_MAX + 1];
    ctl_obj *obj; /* private copy */
    int removing;
    enum art_state art;
    uint64_t art_seq;
    unsigned art_fails;
    uint64_t art_retry_at;
    char lora_path[CTL_ARTIFACT_PATH_MAX];
    char art_err[LORA_ERR_MAX];
    lstate_t *st;
    size_t nst, capst;
    json_t *conds;  /* {type: condition object}, kept for lastTransitionTime */
    json_t *status; /* last written */
} lad;

typedef struct lpod {
    char name[128];
    char host[LORA_HOST_MAX];
    int port;
    char *model;
    json_t *labels;
    ctl_pod_phase phase;
    int64_t ready_since_ms;
    int pid, restarts;
    int seen; /* in the latest snapshot */
    /* listing: valid for the current incarnation only */
    int listed;
    char **models; /* adapters the engine listed */
    size_t nmodels;
    uint64_t probe_started; /* probes started (sequence) */
    uint64_t probe_inflight;
    int probe_again;
    uint64_t probe_at;
    int metrics_done, metrics_inflight;
    unsigned max_loras;
    uint64_t inc; /* incarnation: bumped when the engine restarted */
    /* routing set last reported */
    char **reported;
    size_t nreported;
} lpod;

typedef struct lop {
    ctl_lora *c;
    enum op_kind kind;
    char ad[CTL_NAME_MAX + 1];
    char pod[128];
    uint64_t seq; /* op_seq (load/unload) or probe sequence (list) */
    uint64_t inc;
    int status;
    bx_buf body;
    size_t body_max;
    char *reqbody;
} lop;

typedef struct art_work {
    uv_work_t req;
    ctl_lora *c;
    char ad[CTL_NAME_MAX + 1];
    uint64_t seq;
    char *url;
    char *sha256; /* NULL: no check */
    ctl_artifact_opts opts;
    ctl_artifact_result res;
    int rc;
    char err[LORA_ERR_MAX];
} art_work;

struct ctl_lora {
    uv_loop_t *loop;
    ctl_store *store;
    ctl_lora_cfg cfg;
    ctl_lora_cbs cbs;
    void *ud;
    bx_http_client *http;
    uv_timer_t timer;
    int timer_closed;
    int closing;
    int in_pass;
    size_t nops, nworks;
    uint64_t seq;
    lad **ads;
    size_t nads, capads;
    lpod **pods;
    size_t npods, cappods;
    ctl_lora_stats stats;
};

/* ---------------------------------------------------------------- utils */

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

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rfc3339_now(char *out, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void ctl_lora_names_free(char **names, size_t n)
{
    if (!names) return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int names_has(char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], s)) return 1;
    return 0;
}

/* Grows *arr (elements of size sz) to hold at least need. */
static int grow(void **arr, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 8;
    while (nc < need)
        nc *= 2;
    void *p = realloc(*arr, nc * sz);
    if (!p) return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

static void event(ctl_lora *c, const lad *a, ctl_event_type t, const char *reason, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));
static void event(ctl_lora *c, const lad *a, ctl_event_type t, const char *reason, const char *fmt,
                  ...)
{
    char msg[1024], err[256], em[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    bx_log_escape(em, sizeof(em), msg, BX_LOG_CSTR); /* may quote an engine's answer */
    if (t == CTL_EVENT_WARNING)
        bx_warn("ModelAdapter %s: %s: %s", a->name, reason, em);
    else
        bx_info("ModelAdapter %s: %s: %s", a->name, reason, em);
    if (c->store &&
        ctl_store_event(c->store, LORA_KIND, a->name, t, reason, msg, 0, err, sizeof(err)) != 0)
        bx_warn("ModelAdapter %s: cannot record event: %s", a->name, err);
}

/* ------------------------------------------------------------- parsers */

int ctl_lora_parse_models(const char *body, size_t len, char ***out, size_t *n, char *err,
                          size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (len > CTL_LORA_MODELS_MAX_BYTES) {
        snprintf(err, errlen, "model list larger than %u bytes", CTL_LORA_MODELS_MAX_BYTES);
        return -1;
    }
    json_t *o = bx_json_parse_object(body, len, CTL_LORA_MODELS_MAX_BYTES, err, errlen);
    if (!o) return -1;
    json_t *data = json_object_get(o, "data");
    if (!json_is_array(data)) {
        snprintf(err, errlen, "model list without a \"data\" array");
        json_decref(o);
        return -1;
    }
    size_t cnt = json_array_size(data);
    if (cnt > CTL_LORA_MODELS_MAX) {
        snprintf(err, errlen, "model list has more than %d entries", CTL_LORA_MODELS_MAX);
        json_decref(o);
        return -1;
    }
    char **names = calloc(cnt ? cnt : 1, sizeof(*names));
    if (!names) {
        snprintf(err, errlen, "out of memory");
        json_decref(o);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < cnt; i++) {
        json_t *e = json_array_get(data, i);
        const char *id = json_string_value(json_object_get(e, "id"));
        if (!id || !json_is_string(json_object_get(e, "parent"))) continue;
        size_t il = strlen(id);
        if (il == 0 || il > CTL_MODEL_NAME_MAX || names_has(names, k, id)) continue;
        names[k] = strdup(id);
        if (!names[k]) {
            ctl_lora_names_free(names, k);
            snprintf(err, errlen, "out of memory");
            json_decref(o);
            return -1;
        }
        k++;
    }
    json_decref(o);
    qsort(names, k, sizeof(*names), cmp_str);
    *out = names;
    *n = k;
    return 0;
}

int ctl_lora_parse_max_lora(const char *body, size_t len, unsigned *out)
{
    if (len > CTL_LORA_METRICS_MAX_BYTES) return -1;
    bx_prom_doc doc;
    char err[128];
    if (bx_prom_parse(body, len, NULL, &doc, err, sizeof(err)) != 0) return -1;
    int rc = -1;
    const bx_prom_sample *s = bx_prom_find(&doc, "vllm:lora_requests_info", NULL, NULL);
    const char *v = s ? bx_prom_label_get(s, "max_lora") : NULL;
    if (v && *v) {
        char *end;
        unsigned long x = strtoul(v, &end, 10);
        if (*end == 0 && isdigit((unsigned char)v[0]) && x <= 1000000) {
            *out = (unsigned)x;
            rc = 0;
        }
    }
    bx_prom_doc_free(&doc);
    return rc;
}

int ctl_lora_already_loaded(int status, const char *body, size_t len)
{
    if (status != 400 || !body) return 0;
    static const char needle[] = "already";
    size_t nl = sizeof(needle) - 1;
    for (size_t i = 0; i + nl <= len; i++)
        if (!strncasecmp(body + i, needle, nl)) return 1;
    return 0;
}

/* ------------------------------------------------------------- lookups */

static lad *ad_find(const ctl_lora *c, const char *name)
{
    for (size_t i = 0; i < c->nads; i++)
        if (!strcmp(c->ads[i]->name, name)) return c->ads[i];
    return NULL;
}

static lpod *pod_find(const ctl_lora *c, const char *name)
{
    for (size_t i = 0; i < c->npods; i++)
        if (!strcmp(c->pods[i]->name, name)) return c->pods[i];
    return NULL;
}

static lstate_t *st_find(lad *a, const char *pod)
{
    for (size_t i = 0; i < a->nst; i++)
        if (!strcmp(a->st[i].pod, pod)) return &a->st[i];
    return NULL;
}

static lstate_t *st_get(lad *a, const char *pod)
{
    lstate_t *s = st_find(a, pod);
    if (s) return s;
    if (grow((void **)&a->st, &a->capst, a->nst + 1, sizeof(*a->st)) != 0) return NULL;
    s = &a->st[a->nst++];
    memset(s, 0, sizeof(*s));
    snprintf(s->pod, sizeof(s->pod), "%s", pod);
    return s;
}

static void st_drop(lad *a, lstate_t *s)
{
    size_t i = (size_t)(s - a->st);
    a->st[i] = a->st[--a->nst];
}

static int pod_lists(const lpod *p, const char *ad)
{
    return p->listed && names_has(p->models, p->nmodels, ad);
}

static void pod_models_del(lpod *p, const char *ad)
{
    for (size_t i = 0; i < p->nmodels; i++)
        if (!strcmp(p->models[i], ad)) {
            free(p->models[i]);
            memmove(&p->models[i], &p->models[i + 1], (p->nmodels - i - 1) * sizeof(char *));
            p->nmodels--;
            return;
        }
}

static void pod_models_add(lpod *p, const char *ad)
{
    if (names_has(p->models, p->nmodels, ad)) return;
    char **m = realloc(p->models, (p->nmodels + 1) * sizeof(char *));
    if (!m) return;
    p->models = m;
    char *d = strdup(ad);
    if (!d) return;
    m[p->nmodels++] = d;
    qsort(m, p->nmodels, sizeof(char *), cmp_str);
}

/* ---------------------------------------------------------- the timer */

static void pass_run(ctl_lora *c);

static void on_timer(uv_timer_t *t)
{
    pass_run(t->data);
}

static void kick(ctl_lora *c)
{
    if (c->closing || c->in_pass) return;
    uv_timer_start(&c->timer, on_timer, 0, 0);
}

/* ------------------------------------------------------ engine calls */

static void maybe_free(ctl_lora *c);

static void op_free(lop *o)
{
    bx_buf_free(&o->body);
    free(o->reqbody);
    free(o);
}

static void on_op_response(bx_http_creq *cr, int status, const bx_http_header *h, size_t nh,
                           void *ud)
{
    (void)cr;
    (void)h;
    (void)nh;
    ((lop *)ud)->status = status;
}

static void on_op_data(bx_http_creq *cr, const char *data, size_t len, void *ud)
{
    lop *o = ud;
    if (o->body.len + len > o->body_max || bx_buf_append(&o->body, data, len) != 0)
        bx_http_client_cancel(cr);
}

static void op_done_load(ctl_lora *c, lop *o, int err);
static void op_done_unload(ctl_lora *c, lop *o, int err);
static void op_done_list(ctl_lora *c, lop *o, int err);
static void op_done_metrics(ctl_lora *c, lop *o, int err);

static void on_op_done(bx_http_creq *cr, int err, void *ud)
{
    (void)cr;
    lop *o = ud;
    ctl_lora *c = o->c;
    c->nops--;
    if (!c->closing) {
        switch (o->kind) {
        case OP_LOAD:
            op_done_load(c, o, err);
            break;
        case OP_UNLOAD:
            op_done_unload(c, o, err);
            break;
        case OP_LIST:
            op_done_list(c, o, err);
            break;
        case OP_METRICS:
            op_done_metrics(c, o, err);
            break;
        }
        kick(c);
    }
    op_free(o);
    maybe_free(c);
}

/* Starts one engine call. body may be NULL (GET). 0 or -1. */
static int op_start(ctl_lora *c, lop *o, const lpod *p, const char *method, const char *path,
                    const char *api_key)
{
    static const bx_http_client_cbs cbs = {on_op_response, on_op_data, on_op_done};
    char auth[CTL_MAX_STR + 16];
    bx_http_header hs[2];
    size_t nh = 0;
    if (o->reqbody) hs[nh++] = (bx_http_header){"Content-Type", "application/json"};
    if (api_key) {
        snprintf(auth, sizeof(auth), "Bearer %s", api_key);
        hs[nh++] = (bx_http_header){"Authorization", auth};
    }
    bx_http_client_req r = {
        .method = method,
        .host = p->host,
        .port = p->port,
        .path = path,
        .headers = hs,
        .nheaders = nh,
        .body = o->reqbody,
        .body_len = o->reqbody ? strlen(o->reqbody) : 0,
        .timeout_ms = c->cfg.http_timeout_ms,
    };
    o->c = c;
    snprintf(o->pod, sizeof(o->pod), "%s", p->name);
    o->inc = p->inc;
    int rc = bx_http_client_request(c->http, &r, &cbs, o, NULL);
    if (rc != 0) return -1;
    c->nops++;
    return 0;
}

static lop *op_new(enum op_kind k, size_t body_max)
{
    lop *o = calloc(1, sizeof(*o));
    if (!o) return NULL;
    o->kind = k;
    o->body_max = body_max;
    bx_buf_init(&o->body);
    return o;
}

static const char *op_body(const lop *o)
{
    return o->body.data ? o->body.data : "";
}

/* Body text for messages: at most LORA_BODY_KEEP bytes, printable. */
static void op_body_text(const lop *o, char *out, size_t len)
{
    size_t n = o->body.len < LORA_BODY_KEEP ? o->body.len : LORA_BODY_KEEP;
    if (n >= len) n = len - 1;
    for (size_t i = 0; i < n; i++) {
        char ch = op_body(o)[i];
        out[i] = (ch >= 32 && ch < 127) ? ch : ' ';
    }
    out[n] = 0;
}

/* ----------------------------------------------------------- probes */

static void probe_start(ctl_lora *c, lpod *p)
{
    if (p->probe_inflight) {
        p->probe_again = 1;
        return;
    }
    lop *o = op_new(OP_LIST, CTL_LORA_MODELS_MAX_BYTES);
    if (!o) return;
    o->seq = ++p->probe_started;
    c->stats.probes_sent++;
    if (op_start(c, o, p, "GET", "/v1/models", NULL) != 0) {
        op_free(o);
        c->stats.probe_failures++;
        p->probe_at = uv_now(c->loop) + c->cfg.probe_interval_ms;
        return;
    }
    p->probe_inflight = o->seq;
    p->probe_again = 0;
    p->probe_at = uv_now(c->loop) + c->cfg.probe_interval_ms;
}

static void metrics_start(ctl_lora *c, lpod *p)
{
    lop *o = op_new(OP_METRICS, CTL_LORA_METRICS_MAX_BYTES);
    if (!o) return;
    if (op_start(c, o, p, "GET", "/metrics", NULL) != 0) {
        op_free(o);
        p->metrics_done = 1;
        return;
    }
    p->metrics_inflight = 1;
}

static void op_done_metrics(ctl_lora *c, lop *o, int err)
{
    lpod *p = pod_find(c, o->pod);
    if (!p || p->inc != o->inc) return;
    p->metrics_inflight = 0;
    p->metrics_done = 1;
    unsigned m = 0;
    if (!err && o->status == 200 && ctl_lora_parse_max_lora(op_body(o), o->body.len, &m) == 0)
        p->max_loras = m;
}

static void load_failed(ctl_lora *c, lad *a, lstate_t *s, const char *why);
static int pod_candidate(const lad *a, const lpod *p);

/* A fresh listing of pod p: confirms loads, notices lost adapters and
 * adopts adapters found loaded. */
static void apply_listing(ctl_lora *c, lpod *p, uint64_t probe_seq)
{
    for (size_t i = 0; i < c->nads; i++) {
        lad *a = c->ads[i];
        lstate_t *s = st_find(a, p->name);
        int has = pod_lists(p, a->name);
        if (s && probe_seq <= s->since_probe) continue; /* started before the state changed */
        if (s && s->st == LS_CONFIRMING) {
            if (has) {
                s->st = LS_LOADED;
                s->fails = 0;
                s->err[0] = 0;
                c->stats.loads_confirmed++;
                event(c, a, CTL_EVENT_NORMAL, "Loaded", "loaded on pod %s (%s)", p->name,
                      a->lora_path);
            } else {
                load_failed(c, a, s, "the engine does not list the adapter after loading it");
            }
        } else if (s && s->st == LS_LOADED && !has) {
            event(c, a, CTL_EVENT_WARNING, "AdapterLost",
                  "pod %s no longer lists the adapter; loading it again", p->name);
            s->st = LS_IDLE;
        } else if (has && !a->removing && a->art == ART_OK && pod_candidate(a, p) &&
                   (!s || s->st == LS_IDLE || s->st == LS_FAILED)) {
            s = st_get(a, p->name);
            if (!s) continue;
            s->st = LS_LOADED;
            s->fails = 0;
            s->err[0] = 0;
        }
    }
}

static void op_done_list(ctl_lora *c, lop *o, int err)
{
    lpod *p = pod_find(c, o->pod);
    if (!p || p->inc != o->inc) return;
    if (p->probe_inflight == o->seq) p->probe_inflight = 0;
    char **names = NULL;
    size_t n = 0;
    char why[LORA_ERR_MAX] = "";
    if (err)
        snprintf(why, sizeof(why), "%s", bx_http_strerror(err));
    else if (o->status != 200)
        snprintf(why, sizeof(why), "HTTP %d", o->status);
    else
        ctl_lora_parse_models(op_body(o), o->body.len, &names, &n, why, sizeof(why));
    if (why[0]) {
        c->stats.probe_failures++;
        char ew[BX_LOG_ESC_MAX];
        bx_debug("lora: GET /v1/models on %s: %s", p->name,
                 bx_log_escape(ew, sizeof(ew), why, BX_LOG_CSTR));
        p->listed = 0;
    } else {
        ctl_lora_names_free(p->models, p->nmodels);
        p->models = names;
        p->nmodels = n;
        p->listed = 1;
        apply_listing(c, p, o->seq);
    }
    if (p->probe_again && p->phase == CTL_POD_READY) probe_start(c, p);
}

/* ----------------------------------------------------- load / unload */

static uint64_t backoff_ms(const ctl_lora *c, unsigned fails)
{
    uint64_t b = c->cfg.backoff_base_ms;
    for (unsigned i = 1; i < fails && b < c->cfg.backoff_max_ms; i++)
        b *= 2;
    return b < c->cfg.backoff_max_ms ? b : c->cfg.backoff_max_ms;
}

static void load_failed(ctl_lora *c, lad *a, lstate_t *s, const char *why)
{
    c->stats.load_failures++;
    s->st = LS_FAILED;
    s->fails++;
    snprintf(s->err, sizeof(s->err), "%s", why);
    if (s->fails >= c->cfg.max_retries) {
        s->retry_at = LORA_NEVER;
        event(c, a, CTL_EVENT_WARNING, "LoadFailed",
              "pod %s: %s (attempt %u of %u; max retries exceeded, giving up on this pod)", s->pod,
              why, s->fails, c->cfg.max_retries);
    } else {
        uint64_t b = backoff_ms(c, s->fails);
        s->retry_at = uv_now(c->loop) + b;
        event(c, a, CTL_EVENT_WARNING, "LoadFailed",
              "pod %s: %s (attempt %u of %u; retry in %.1f s)", s->pod, why, s->fails,
              c->cfg.max_retries, (double)b / 1000.0);
    }
}

static void unload_start(ctl_lora *c, lad *a, lstate_t *s, const lpod *p, int reload);

static void op_done_load(ctl_lora *c, lop *o, int err)
{
    lad *a = ad_find(c, o->ad);
    lpod *p = pod_find(c, o->pod);
    lstate_t *s = a ? st_find(a, o->pod) : NULL;
    if (!a || !s || s->op_seq != o->seq || s->st != LS_LOADING) return;
    if (!p || p->inc != o->inc) {
        st_drop(a, s); /* the engine went away or restarted meanwhile */
        return;
    }
    char why[LORA_ERR_MAX + LORA_BODY_KEEP];
    int ok = 0;
    if (err) {
        snprintf(why, sizeof(why), "load: %s", bx_http_strerror(err));
    } else if (o->status == 200 || o->status == 201 ||
               ctl_lora_already_loaded(o->status, op_body(o), o->body.len)) {
        ok = 1;
    } else {
        char text[LORA_BODY_KEEP];
        op_body_text(o, text, sizeof(text));
        snprintf(why, sizeof(why), "load: HTTP %d: %s", o->status, text);
    }
    if (!ok) {
        load_failed(c, a, s, why);
        return;
    }
    pod_models_add(p, a->name); /* counted for placement until the listing says otherwise */
    if (a->removing || s->art_seq != a->art_seq) {
        unload_start(c, a, s, p, !a->removing); /* removed, or the artifact changed */
        return;
    }
    s->st = LS_CONFIRMING;
    s->since_probe = p->probe_started; /* only a probe started from now confirms */
    probe_start(c, p);
}

static void load_start(ctl_lora *c, lad *a, lstate_t *s, const lpod *p, int first)
{
    lop *o = op_new(OP_LOAD, 64 * 1024);
    json_t *b = json_pack("{s:s, s:s}", "lora_name", a->name, "lora_path", a->lora_path);
    if (!o || !b || !(o->reqbody = json_dumps(b, JSON_COMPACT))) {
        json_decref(b);
        if (o) op_free(o);
        return;
    }
    json_decref(b);
    snprintf(o->ad, sizeof(o->ad), "%s", a->name);
    o->seq = ++c->seq;
    if (op_start(c, o, p, "POST", "/v1/load_lora_adapter", a->obj->u.ma.api_key) != 0) {
        op_free(o);
        load_failed(c, a, s, "load: cannot start the request");
        return;
    }
    c->stats.loads_sent++;
    s->st = LS_LOADING;
    s->op_seq = o->seq;
    s->unloaded = 0;
    s->art_seq = a->art_seq;
    if (first)
        event(c, a, CTL_EVENT_NORMAL, "Scheduled", "loading on pod %s (%s, attempt %u)", p->name,
              ctl_adapter_sched_name(a->obj->u.ma.sched), s->fails + 1);
}

static void op_done_unload(ctl_lora *c, lop *o, int err)
{
    lad *a = ad_find(c, o->ad);
    lpod *p = pod_find(c, o->pod);
    if (p && p->inc == o->inc && (!err && (o->status / 100 == 2 || o->status == 404)))
        pod_models_del(p, o->ad);
    lstate_t *s = a ? st_find(a, o->pod) : NULL;
    if (!a || !s || s->op_seq != o->seq || s->st != LS_UNLOADING) return;
    if (!err && (o->status / 100 == 2 || o->status == 404)) {
        event(c, a, CTL_EVENT_NORMAL, "Unloaded", "unloaded from pod %s%s", o->pod,
              s->reload ? " (artifact changed; loading it again)" : "");
    } else {
        char text[LORA_ERR_MAX];
        if (err)
            snprintf(text, sizeof(text), "%s", bx_http_strerror(err));
        else
            op_body_text(o, text, sizeof(text));
        event(c, a, CTL_EVENT_WARNING, "UnloadFailed", "pod %s: HTTP %d: %s (ignored)", o->pod,
              err ? 0 : o->status, text);
    }
    if (p) s->since_probe = p->probe_started;
    s->st = LS_IDLE;
    s->reload = 0;
    s->fails = 0;
    s->unloaded = 1;
}

static void unload_start(ctl_lora *c, lad *a, lstate_t *s, const lpod *p, int reload)
{
    lop *o = op_new(OP_UNLOAD, 64 * 1024);
    json_t *b = json_pack("{s:s}", "lora_name", a->name);
    if (!o || !b || !(o->reqbody = json_dumps(b, JSON_COMPACT))) {
        json_decref(b);
        if (o) op_free(o);
        return;
    }
    json_decref(b);
    snprintf(o->ad, sizeof(o->ad), "%s", a->name);
    o->seq = ++c->seq;
    if (op_start(c, o, p, "POST", "/v1/unload_lora_adapter", a->obj->u.ma.api_key) != 0) {
        op_free(o);
        return;
    }
    c->stats.unloads_sent++;
    s->st = LS_UNLOADING;
    s->op_seq = o->seq;
    s->reload = reload;
}

/* ---------------------------------------------------------- artifact */

static void art_work_cb(uv_work_t *req)
{
    art_work *w = req->data;
    w->rc = ctl_artifact_resolve(&w->opts, w->url, w->sha256, &w->res, w->err, sizeof(w->err));
}

static void art_after_cb(uv_work_t *req, int status)
{
    art_work *w = req->data;
    ctl_lora *c = w->c;
    c->nworks--;
    lad *a = c->closing ? NULL : ad_find(c, w->ad);
    if (a && a->art_seq == w->seq && a->art == ART_RESOLVING) {
        if (status == 0 && w->rc == 0) {
            a->art = ART_OK;
            a->art_fails = 0;
            a->art_err[0] = 0;
            snprintf(a->lora_path, sizeof(a->lora_path), "%s", w->res.lora_path);
        } else {
            a->art = ART_FAILED;
            a->art_fails++;
            snprintf(a->art_err, sizeof(a->art_err), "%s", status ? uv_strerror(status) : w->err);
            uint64_t b = backoff_ms(c, a->art_fails);
            a->art_retry_at = uv_now(c->loop) + b;
            event(c, a, CTL_EVENT_WARNING, "ArtifactFailed", "%s: %s (retry in %.1f s)",
                  a->obj->u.ma.artifact_url, a->art_err, (double)b / 1000.0);
        }
        kick(c);
    }
    free(w->url);
    free(w->sha256);
    free(w);
    maybe_free(c);
}

static void art_start(ctl_lora *c, lad *a)
{
    art_work *w = calloc(1, sizeof(*w));
    if (!w || !(w->url = strdup(a->obj->u.ma.artifact_url)) ||
        (a->obj->u.ma.sha256 && !(w->sha256 = strdup(a->obj->u.ma.sha256)))) {
        if (w) free(w->url);
        free(w);
        return;
    }
    w->c = c;
    w->req.data = w;
    snprintf(w->ad, sizeof(w->ad), "%s", a->name);
    w->seq = ++c->seq;
    ctl_artifact_opts_default(&w->opts);
    if (c->cfg.cache_dir) w->opts.cache_dir = c->cfg.cache_dir;
    int rc = uv_queue_work(c->loop, &w->req, art_work_cb, art_after_cb);
    if (rc != 0) {
        a->art = ART_FAILED;
        snprintf(a->art_err, sizeof(a->art_err), "%s", uv_strerror(rc));
        a->art_retry_at = uv_now(c->loop) + backoff_ms(c, ++a->art_fails);
        free(w->url);
        free(w->sha256);
        free(w);
        return;
    }
    c->nworks++;
    a->art = ART_RESOLVING;
    a->art_seq = w->seq;
}

/* ------------------------------------------------------------ status */

static void cond_set(lad *a, const char *type, const char *status, const char *reason,
                     const char *msg)
{
    json_t *old = json_object_get(a->conds, type);
    const char *ltt = json_string_value(json_object_get(old, "lastTransitionTime"));
    const char *ost = json_string_value(json_object_get(old, "status"));
    char now[40];
    if (!ltt || !ost || strcmp(ost, status) != 0) {
        rfc3339_now(now, sizeof(now));
        ltt = now;
    }
    json_t *cnd = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", type, "status", status, "reason",
                            reason, "message", msg, "lastTransitionTime", ltt);
    if (cnd) json_object_set_new(a->conds, type, cnd);
}

typedef struct ad_view {
    size_t candidates, desired, inflight, failed, exhausted, full, probed;
    const char **inst;
    size_t ninst;
    char lasterr[LORA_ERR_MAX + 140];
} ad_view;

static void status_write(ctl_lora *c, lad *a, const ad_view *v)
{
    const char *phase;
    char msg[1024];
    const ctl_adapter *ma = &a->obj->u.ma;
    if (a->art == ART_NONE || a->art == ART_RESOLVING) {
        cond_set(a, "Initialized", "Unknown", "ModelAdapterPending", "Starting reconciliation");
    } else if (a->art == ART_FAILED) {
        snprintf(msg, sizeof(msg), "artifact %s: %s", ma->artifact_url, a->art_err);
        cond_set(a, "Initialized", "False", "ArtifactError", msg);
    } else {
        snprintf(msg, sizeof(msg), "lora_path %.900s", a->lora_path);
        cond_set(a, "Initialized", "True", "ArtifactResolved", msg);
    }
    if (v->ninst || v->inflight) {
        size_t o = 0;
        msg[0] = 0;
        for (size_t i = 0; i < a->nst && o < sizeof(msg); i++)
            if (a->st[i].st == LS_LOADING || a->st[i].st == LS_CONFIRMING ||
                a->st[i].st == LS_LOADED)
                o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s%s", o ? "," : "pods ",
                                      a->st[i].pod);
        cond_set(a, "Scheduled", "True", "Scheduled", msg);
    } else if (json_object_get(a->conds, "Scheduled")) {
        cond_set(a, "Scheduled", "False", "Rescheduling", "no pod holds the adapter");
    }

    if (a->art == ART_FAILED) {
        phase = "Failed";
        snprintf(msg, sizeof(msg), "artifact %s: %s", ma->artifact_url, a->art_err);
        cond_set(a, "Ready", "False", "ArtifactError", msg);
    } else if (v->ninst) {
        phase = "Running";
        snprintf(msg, sizeof(msg), "loaded on %zu of %zu desired pods", v->ninst, v->desired);
        cond_set(a, "Ready", "True", "ModelAdapterAvailable", msg);
    } else if (a->art != ART_OK) {
        phase = "Pending";
        cond_set(a, "Ready", "False", "ModelAdapterPending", "resolving the artifact");
    } else if (v->inflight) {
        phase = "Scheduled";
        cond_set(a, "Ready", "False", "ModelAdapterLoading", "loading");
    } else if (v->candidates == 0) {
        phase = "Pending";
        cond_set(a, "Ready", "False", "NoCandidates",
                 "no Ready pod matches spec.podSelector and serves the base model");
    } else if (v->failed) {
        phase = "Failed";
        snprintf(msg, sizeof(msg), "Loading failed on all pods: %s", v->lasterr);
        cond_set(a, "Ready", "False", "ModelAdapterLoadingError", msg);
    } else if (v->probed == 0) {
        phase = "Unknown";
        cond_set(a, "Ready", "False", "EnginesUnreachable",
                 "no candidate pod answered GET /v1/models");
    } else {
        phase = "Pending";
        if (v->full)
            snprintf(msg, sizeof(msg), "%zu candidate pods are at max_loras", v->full);
        else
            snprintf(msg, sizeof(msg), "waiting for a schedulable pod");
        cond_set(a, "Ready", "False", "NoSchedulablePods", msg);
    }

    json_t *inst = json_array();
    for (size_t i = 0; i < v->ninst; i++)
        json_array_append_new(inst, json_string(v->inst[i]));
    json_t *conds = json_array();
    static const char *const order[] = {"Initialized", "Scheduled", "Ready"};
    for (size_t i = 0; i < 3; i++) {
        json_t *cnd = json_object_get(a->conds, order[i]);
        if (cnd) json_array_append(conds, cnd);
    }
    json_t *st = json_pack("{s:s, s:I, s:I, s:I, s:o, s:o, s:I}", "phase", phase, "candidates",
                           (json_int_t)v->candidates, "desiredReplicas", (json_int_t)v->desired,
                           "readyReplicas", (json_int_t)v->ninst, "instances", inst, "conditions",
                           conds, "observedGeneration", (json_int_t)a->obj->generation);
    if (!st) return;
    if (a->status && json_equal(a->status, st)) {
        json_decref(st);
        return;
    }
    char err[256];
    if (c->store) {
        int rc = ctl_store_set_status(c->store, LORA_KIND, a->name, st, err, sizeof(err));
        if (rc < 0) bx_warn("ModelAdapter %s: cannot write status: %s", a->name, err);
        if (rc != 0) { /* not stored (yet): write again on the next pass */
            json_decref(st);
            return;
        }
    }
    json_decref(a->status);
    a->status = st;
}

/* --------------------------------------------------------- reconcile */

static int pod_candidate(const lad *a, const lpod *p)
{
    const ctl_adapter *ma = &a->obj->u.ma;
    if (ma->base_model && (!p->model || strcmp(p->model, ma->base_model) != 0)) return 0;
    return ctl_labels_match(ma->match_labels, p->labels);
}

static ctl_place_policy policy_of(ctl_adapter_sched s)
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

/* Adapters counted as loaded on p: what it listed plus our loads in
 * flight that it does not list yet. */
static unsigned pod_loaded(const ctl_lora *c, const lpod *p)
{
    unsigned n = (unsigned)p->nmodels;
    for (size_t i = 0; i < c->nads; i++) {
        lad *a = c->ads[i];
        lstate_t *s = st_find(a, p->name);
        if (s && (s->st == LS_LOADING || s->st == LS_CONFIRMING) && !pod_lists(p, a->name)) n++;
    }
    return n;
}

/* Removal: unload wherever it is (or we believe it is), once per engine,
 * best effort; 1 when nothing is left in flight. */
static int reconcile_remove(ctl_lora *c, lad *a)
{
    int busy = 0;
    for (size_t i = 0; i < c->npods; i++) {
        lpod *p = c->pods[i];
        lstate_t *s = st_find(a, p->name);
        if (s && (s->st == LS_LOADING || s->st == LS_UNLOADING)) {
            busy = 1;
            continue;
        }
        if (s && s->unloaded) continue;
        /* ours, or listed on a pod the adapter selects (not a namesake elsewhere) */
        int there = (s && (s->st == LS_LOADED || s->st == LS_CONFIRMING)) ||
                    (pod_lists(p, a->name) && pod_candidate(a, p));
        if (!there || (p->phase != CTL_POD_READY && p->phase != CTL_POD_DRAINING)) continue;
        if (!(s = st_get(a, p->name))) continue;
        unload_start(c, a, s, p, 0);
        if (s->st == LS_UNLOADING) busy = 1;
    }
    return !busy;
}

static void reconcile(ctl_lora *c, lad *a, uint64_t now, int64_t now_unix, uint64_t *next)
{
    const ctl_adapter *ma = &a->obj->u.ma;
    /* 1. the artifact */
    if (a->art == ART_NONE || (a->art == ART_FAILED && now >= a->art_retry_at)) art_start(c, a);
    if (a->art == ART_FAILED && a->art_retry_at > now && a->art_retry_at < *next)
        *next = a->art_retry_at;

    /* Drop states of engines that left (calls in flight settle first). */
    for (size_t i = 0; i < a->nst;) {
        lstate_t *s = &a->st[i];
        lpod *p = pod_find(c, s->pod);
        if (!p && s->st != LS_LOADING && s->st != LS_UNLOADING) {
            st_drop(a, s);
            continue;
        }
        i++;
    }

    ad_view v = {0};
    size_t ne = 0;
    ctl_place_engine *eng = calloc(c->npods ? c->npods : 1, sizeof(*eng));
    lpod **ep = calloc(c->npods ? c->npods : 1, sizeof(*ep));
    const char **inst = calloc(c->npods ? c->npods : 1, sizeof(*inst));
    if (!eng || !ep || !inst) goto out;
    v.inst = inst;
    for (size_t i = 0; i < c->npods; i++) {
        lpod *p = c->pods[i];
        if (!pod_candidate(a, p)) continue;
        lstate_t *s = st_find(a, p->name);
        int ready = p->phase == CTL_POD_READY;
        if (ready) v.candidates++;
        if (ready && p->listed) v.probed++;
        if (ready && s && s->st == LS_LOADED) inst[v.ninst++] = p->name;
        if (s && (s->st == LS_LOADING || s->st == LS_CONFIRMING)) v.inflight++;
        if (ready && s && s->st == LS_FAILED) {
            v.failed++;
            if (s->retry_at == LORA_NEVER)
                v.exhausted++;
            else if (s->retry_at > now && s->retry_at < *next)
                *next = s->retry_at;
            snprintf(v.lasterr, sizeof(v.lasterr), "pod %s: %s", p->name, s->err);
        }
        int has = s && (s->st == LS_LOADING || s->st == LS_CONFIRMING || s->st == LS_LOADED);
        int usable = ready && p->listed && (!c->cfg.engine_max_loras || p->metrics_done);
        if (s && (s->st == LS_UNLOADING || (s->st == LS_FAILED && now < s->retry_at))) usable = 0;
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
            .loaded = pod_loaded(c, p),
            .max_loras = c->cfg.engine_max_loras ? p->max_loras : 0,
            .has_adapter = has,
            .latency_s = NAN,
            .throughput_tps = NAN,
        };
        ne++;
    }
    qsort(inst, v.ninst, sizeof(*inst), cmp_str);
    v.desired = ma->replicas == CTL_ADAPTER_ALL ? v.candidates : (size_t)ma->replicas;

    if (a->art == ART_OK && ne > 0) {
        ctl_place_plan plan;
        char err[256];
        int replicas = ma->replicas == CTL_ADAPTER_ALL ? CTL_PLACE_ALL : ma->replicas;
        if (ctl_place_compute(eng, ne, replicas, policy_of(ma->sched), c->cfg.seed, &plan, err,
                              sizeof(err)) != 0) {
            bx_warn("ModelAdapter %s: placement: %s", a->name, err);
        } else {
            v.full = plan.full;
            for (size_t i = 0; i < plan.nload; i++) {
                lpod *p = ep[plan.load[i]];
                lstate_t *s = st_get(a, p->name);
                if (!s) continue;
                load_start(c, a, s, p, 1);
                if (s->st == LS_LOADING) v.inflight++;
            }
            for (size_t i = 0; i < plan.nunload; i++) {
                lpod *p = ep[plan.unload[i]];
                lstate_t *s = st_find(a, p->name);
                if (s && s->st == LS_LOADED) unload_start(c, a, s, p, 0);
            }
            ctl_place_plan_free(&plan);
        }
        /* recompute the instances after unloads */
        v.ninst = 0;
        for (size_t i = 0; i < ne; i++) {
            lstate_t *s = st_find(a, ep[i]->name);
            if (ep[i]->phase == CTL_POD_READY && s && s->st == LS_LOADED)
                inst[v.ninst++] = ep[i]->name;
        }
        qsort(inst, v.ninst, sizeof(*inst), cmp_str);
    }
    status_write(c, a, &v);
out:
    free(eng);
    free(ep);
    free(inst);
}

/* ---------------------------------------------------- routing report */

static void report_pod(ctl_lora *c, lpod *p, int gone)
{
    const char **set = calloc(c->nads ? c->nads : 1, sizeof(*set));
    if (!set) return;
    size_t n = 0;
    for (size_t i = 0; i < c->nads && !gone; i++) {
        lad *a = c->ads[i];
        lstate_t *s = st_find(a, p->name);
        if (!a->removing && s && s->st == LS_LOADED) set[n++] = a->name;
    }
    qsort(set, n, sizeof(*set), cmp_str);
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

static void ad_free(lad *a)
{
    if (!a) return;
    ctl_obj_free(a->obj);
    free(a->st);
    json_decref(a->conds);
    json_decref(a->status);
    free(a);
}

static void pod_free(lpod *p)
{
    if (!p) return;
    free(p->model);
    json_decref(p->labels);
    ctl_lora_names_free(p->models, p->nmodels);
    ctl_lora_names_free(p->reported, p->nreported);
    free(p);
}

static void pass_run(ctl_lora *c)
{
    if (c->closing) return;
    c->in_pass = 1;
    c->stats.passes++;
    uint64_t now = uv_now(c->loop);
    int64_t now_unix = unix_ms();
    uint64_t next = LORA_NEVER;

    /* probes of ready engines; capacity once per incarnation */
    for (size_t i = 0; i < c->npods; i++) {
        lpod *p = c->pods[i];
        if (p->phase != CTL_POD_READY) continue;
        if (c->cfg.engine_max_loras && !p->metrics_done && !p->metrics_inflight)
            metrics_start(c, p);
        if (!p->probe_inflight && now >= p->probe_at) probe_start(c, p);
        /* a probe in flight re-kicks when it completes */
        if (!p->probe_inflight && p->probe_at > now && p->probe_at < next) next = p->probe_at;
    }

    for (size_t i = 0; i < c->nads;) {
        lad *a = c->ads[i];
        if (a->removing) {
            if (reconcile_remove(c, a)) {
                bx_info("ModelAdapter %s: removed", a->name);
                c->ads[i] = c->ads[--c->nads];
                ad_free(a);
                continue;
            }
        } else {
            reconcile(c, a, now, now_unix, &next);
        }
        i++;
    }

    for (size_t i = 0; i < c->npods; i++)
        report_pod(c, c->pods[i], 0);
    /* retries scheduled during the pass (failed starts) */
    for (size_t i = 0; i < c->nads; i++)
        for (size_t k = 0; k < c->ads[i]->nst; k++) {
            const lstate_t *s = &c->ads[i]->st[k];
            if (s->st == LS_FAILED && s->retry_at > now && s->retry_at < next) next = s->retry_at;
        }

    c->in_pass = 0;
    if (next != LORA_NEVER) {
        uint64_t now2 = uv_now(c->loop);
        uv_timer_start(&c->timer, on_timer, next > now2 ? next - now2 : 1, 0);
    }
}

/* ---------------------------------------------------------------- API */

int ctl_lora_init(ctl_lora **out, uv_loop_t *loop, ctl_store *store, const ctl_lora_cfg *cfg,
                  const ctl_lora_cbs *cbs, void *ud, char *err, size_t errlen)
{
    *out = NULL;
    ctl_lora *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->loop = loop;
    c->store = store;
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
    int rc = bx_http_client_init(&c->http, loop, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "http client: %s", bx_http_strerror(rc));
        free(c);
        return -1;
    }
    rc = uv_timer_init(loop, &c->timer);
    if (rc != 0) {
        snprintf(err, errlen, "timer: %s", uv_strerror(rc));
        bx_http_client_close(c->http);
        free(c);
        return -1;
    }
    c->timer.data = c;
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
    lad *a = ad_find(c, o->name);
    if (!a) {
        if (grow((void **)&c->ads, &c->capads, c->nads + 1, sizeof(*c->ads)) != 0 ||
            !(a = calloc(1, sizeof(*a))) || !(a->conds = json_object())) {
            free(a);
            ctl_obj_free(copy);
            return -1;
        }
        snprintf(a->name, sizeof(a->name), "%s", o->name);
        a->obj = copy;
        c->ads[c->nads++] = a;
        kick(c);
        return 0;
    }
    ctl_obj *old = a->obj;
    int changed = !json_equal(old->raw, copy->raw);
    int art_changed = strcmp(old->u.ma.artifact_url, copy->u.ma.artifact_url) != 0;
    a->obj = copy;
    a->removing = 0;
    if (art_changed) {
        a->art = ART_NONE;
        a->art_fails = 0;
        a->lora_path[0] = 0;
        for (size_t i = 0; i < a->nst; i++) {
            lstate_t *s = &a->st[i];
            lpod *p = pod_find(c, s->pod);
            if (p && (s->st == LS_LOADED || s->st == LS_CONFIRMING)) unload_start(c, a, s, p, 1);
        }
    }
    if (changed)
        for (size_t i = 0; i < a->nst; i++)
            if (a->st[i].st == LS_FAILED) {
                a->st[i].st = LS_IDLE;
                a->st[i].fails = 0;
            }
    ctl_obj_free(old);
    kick(c);
    return 0;
}

int ctl_lora_remove(ctl_lora *c, const char *name)
{
    lad *a = c ? ad_find(c, name) : NULL;
    if (!a) return 1;
    a->removing = 1;
    kick(c);
    return 0;
}

static void host_of(const char *url, char *out, size_t len)
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
    int changed = 0;
    for (size_t i = 0; i < c->npods; i++)
        c->pods[i]->seen = 0;
    for (size_t i = 0; i < n; i++) {
        const ctl_podview *v = &pods[i];
        if (!v->name || strlen(v->name) >= sizeof(((lpod *)0)->name)) continue;
        lpod *p = pod_find(c, v->name);
        if (!p) {
            if (grow((void **)&c->pods, &c->cappods, c->npods + 1, sizeof(*c->pods)) != 0 ||
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
        char host[LORA_HOST_MAX];
        host_of(v->url, host, sizeof(host));
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
                lstate_t *s = st_find(c->ads[k], p->name);
                if (s && s->st != LS_LOADING && s->st != LS_UNLOADING) {
                    if (s->st == LS_FAILED && s->retry_at == LORA_NEVER) s->fails = 0;
                    if (s->st == LS_LOADED || s->st == LS_CONFIRMING || s->fails == 0)
                        s->st = LS_IDLE;
                }
            }
            changed = 1;
        }
        snprintf(p->host, sizeof(p->host), "%s", host);
        p->port = v->port;
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
            p->labels = v->labels ? json_deep_copy(v->labels) : json_object();
            changed = 1;
        }
    }
    for (size_t i = 0; i < c->npods;) {
        lpod *p = c->pods[i];
        if (p->seen) {
            i++;
            continue;
        }
        report_pod(c, p, 1);
        for (size_t k = 0; k < c->nads; k++) {
            lstate_t *s = st_find(c->ads[k], p->name);
            if (s && s->st != LS_LOADING && s->st != LS_UNLOADING) st_drop(c->ads[k], s);
        }
        c->pods[i] = c->pods[--c->npods];
        pod_free(p);
        changed = 1;
    }
    if (changed) kick(c);
}

int ctl_lora_has(const ctl_lora *c, const char *name)
{
    return c && ad_find(c, name) != NULL;
}

void ctl_lora_get_stats(const ctl_lora *c, ctl_lora_stats *out)
{
    *out = c->stats;
    out->adapters = c->nads;
    out->pods = c->npods;
}

static void on_timer_closed(uv_handle_t *h)
{
    ctl_lora *c = h->data;
    c->timer_closed = 1;
    maybe_free(c);
}

static void maybe_free(ctl_lora *c)
{
    if (!c->closing || c->nops || c->nworks || !c->timer_closed) return;
    free(c);
}

void ctl_lora_close(ctl_lora *c)
{
    if (!c || c->closing) return;
    c->closing = 1;
    for (size_t i = 0; i < c->nads; i++)
        ad_free(c->ads[i]);
    free(c->ads);
    c->ads = NULL;
    c->nads = 0;
    for (size_t i = 0; i < c->npods; i++)
        pod_free(c->pods[i]);
    free(c->pods);
    c->pods = NULL;
    c->npods = 0;
    bx_http_client_close(c->http);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}
