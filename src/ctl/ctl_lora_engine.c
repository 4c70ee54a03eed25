/* ctl_lora_engine: the ModelAdapter controller's calls to engines (vLLM's
 * HTTP API) and its artifact resolution (see ctl_lora.h, ctl_lora_int.h):
 *   GET  /v1/models             the probe: which adapters an engine holds;
 *                               confirms loads, notices lost adapters,
 *                               adopts ones found loaded
 *   GET  /metrics               once per engine incarnation: max_lora
 *   POST /v1/load_lora_adapter  {"lora_name","lora_path"}; failures back off
 *   POST /v1/unload_lora_adapter {"lora_name"}
 *   ctl_artifact_resolve        on libuv's thread pool (uv_queue_work)
 * Calls go through the skeleton (ctl_ctrl_call), which counts them so that
 * close waits; each carries a ctl_lora_opctx and finds its adapter and
 * engine again by name when it comes back. Every answer kicks a pass. */
#include "ctl/ctl_lora_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_log.h"
#include "ctl/ctl_key.h"

/* Body text for messages: at most CTL_LORA_BODY_KEEP bytes, printable. */
static void ctl_lora_body_text(const ctl_ctrl_reply *r, char *out, size_t len)
{
    size_t n = r->len < CTL_LORA_BODY_KEEP ? r->len : CTL_LORA_BODY_KEEP;
    if (n >= len) n = len - 1;
    for (size_t i = 0; i < n; i++) {
        char ch = r->body[i];
        out[i] = (ch >= 32 && ch < 127) ? ch : ' ';
    }
    out[n] = 0;
}

static void ctl_lora_on_reply(void *ud, const ctl_ctrl_reply *r, void *ctx);

/* Starts one engine call. reqbody may be NULL (GET). 0 or -1. */
static int ctl_lora_op_start(ctl_lora *c, ctl_lora_opctx *o, const ctl_lora_pod *p,
                             const char *method, const char *path, const char *api_key,
                             const char *reqbody, size_t max_body)
{
    char auth[(CTL_MAX_STR > CTL_API_KEY_MAX ? CTL_MAX_STR : CTL_API_KEY_MAX) + 16];
    bx_http_header hs[2];
    size_t nh = 0;
    if (reqbody) hs[nh++] = (bx_http_header){"Content-Type", "application/json"};
    if (!api_key && p->api_key[0]) api_key = p->api_key; /* the engine's own (--api-key) */
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
        .body = reqbody,
        .body_len = reqbody ? strlen(reqbody) : 0,
        .timeout_ms = c->cfg.http_timeout_ms,
    };
    snprintf(o->pod, sizeof(o->pod), "%s", p->name);
    o->inc = p->inc;
    return ctl_ctrl_call(c->ctrl, &r, max_body, ctl_lora_on_reply, o, sizeof(*o)) == 0 ? 0 : -1;
}

/* The JSON body {"lora_name": ad[, "lora_path": path]}; malloc'd or NULL. */
static char *ctl_lora_reqbody(const char *ad, const char *path)
{
    ad = ctl_key_name(ad); /* served under its name, not its key (ctl_key.h) */
    json_t *b = path ? json_pack("{s:s, s:s}", "lora_name", ad, "lora_path", path)
                     : json_pack("{s:s}", "lora_name", ad);
    char *text = b ? json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    return text;
}

/* ----------------------------------------------------------- probes */

void ctl_lora_probe_start(ctl_lora *c, ctl_lora_pod *p)
{
    if (p->probe_inflight) {
        p->probe_again = 1;
        return;
    }
    ctl_lora_opctx o = {.kind = CTL_LORA_OP_LIST, .seq = ++p->probe_started};
    c->stats.probes_sent++;
    uint64_t now = ctl_ctrl_now(c->ctrl);
    if (ctl_lora_op_start(c, &o, p, "GET", "/v1/models", NULL, NULL, CTL_LORA_MODELS_MAX_BYTES) !=
        0) {
        c->stats.probe_failures++;
        p->probe_at = now + c->cfg.probe_interval_ms;
        return;
    }
    p->probe_inflight = o.seq;
    p->probe_again = 0;
    p->probe_at = now + c->cfg.probe_interval_ms;
}

void ctl_lora_metrics_start(ctl_lora *c, ctl_lora_pod *p)
{
    ctl_lora_opctx o = {.kind = CTL_LORA_OP_METRICS};
    if (ctl_lora_op_start(c, &o, p, "GET", "/metrics", NULL, NULL, CTL_LORA_METRICS_MAX_BYTES) !=
        0) {
        p->metrics_done = 1;
        return;
    }
    p->metrics_inflight = 1;
}

static void ctl_lora_done_metrics(ctl_lora *c, const ctl_lora_opctx *o, const ctl_ctrl_reply *r)
{
    ctl_lora_pod *p = ctl_lora_pod_find(c, o->pod);
    if (!p || p->inc != o->inc) return;
    p->metrics_inflight = 0;
    p->metrics_done = 1;
    unsigned m = 0;
    if (!r->err && r->status == 200 && ctl_lora_parse_max_lora(r->body, r->len, &m) == 0)
        p->max_loras = m;
}

static void ctl_lora_load_failed(ctl_lora *c, ctl_lora_ad *a, ctl_lora_lst *s, const char *why)
{
    c->stats.load_failures++;
    s->st = CTL_LORA_LS_FAILED;
    s->fails++;
    snprintf(s->err, sizeof(s->err), "%s", why);
    if (s->fails >= c->cfg.max_retries) {
        s->retry_at = CTL_CTRL_NEVER;
        ctl_ctrl_event(c->ctrl, a->name, CTL_EVENT_WARNING, "LoadFailed",
                       "pod %s: %s (attempt %u of %u; max retries exceeded, giving up on this pod)",
                       s->pod, why, s->fails, c->cfg.max_retries);
    } else {
        uint64_t b = ctl_lora_backoff_ms(c, s->fails);
        s->retry_at = ctl_ctrl_now(c->ctrl) + b;
        ctl_ctrl_event(c->ctrl, a->name, CTL_EVENT_WARNING, "LoadFailed",
                       "pod %s: %s (attempt %u of %u; retry in %.1f s)", s->pod, why, s->fails,
                       c->cfg.max_retries, (double)b / 1000.0);
    }
}

/* A fresh listing of pod p: confirms loads, notices lost adapters and
 * adopts adapters found loaded. */
static void ctl_lora_apply_listing(ctl_lora *c, ctl_lora_pod *p, uint64_t probe_seq)
{
    for (size_t i = 0; i < c->nads; i++) {
        ctl_lora_ad *a = c->ads[i];
        ctl_lora_lst *s = ctl_lora_st_find(a, p->name);
        int has = ctl_lora_pod_lists(p, a->name);
        if (s && probe_seq <= s->since_probe) continue; /* started before the state changed */
        if (s && s->st == CTL_LORA_LS_CONFIRMING) {
            if (has) {
                s->st = CTL_LORA_LS_LOADED;
                s->fails = 0;
                s->err[0] = 0;
                c->stats.loads_confirmed++;
                ctl_ctrl_event(c->ctrl, a->name, CTL_EVENT_NORMAL, "Loaded",
                               "loaded on pod %s (%s)", p->name, a->lora_path);
            } else {
                ctl_lora_load_failed(c, a, s,
                                     "the engine does not list the adapter after loading it");
            }
        } else if (s && s->st == CTL_LORA_LS_LOADED && !has) {
            ctl_ctrl_event(c->ctrl, a->name, CTL_EVENT_WARNING, "AdapterLost",
                           "pod %s no longer lists the adapter; loading it again", p->name);
            s->st = CTL_LORA_LS_IDLE;
        } else if (has && !a->removing && a->art == CTL_LORA_ART_OK &&
                   ctl_lora_pod_candidate(a, p) &&
                   (!s || s->st == CTL_LORA_LS_IDLE || s->st == CTL_LORA_LS_FAILED)) {
            s = ctl_lora_st_get(a, p->name);
            if (!s) continue;
            s->st = CTL_LORA_LS_LOADED;
            s->fails = 0;
            s->err[0] = 0;
        }
    }
}

static void ctl_lora_done_list(ctl_lora *c, const ctl_lora_opctx *o, const ctl_ctrl_reply *r)
{
    ctl_lora_pod *p = ctl_lora_pod_find(c, o->pod);
    if (!p || p->inc != o->inc) return;
    if (p->probe_inflight == o->seq) p->probe_inflight = 0;
    char **names = NULL;
    size_t n = 0;
    char why[CTL_LORA_ERR_MAX] = "";
    if (r->err)
        snprintf(why, sizeof(why), "%s", bx_http_strerror(r->err));
    else if (r->status != 200)
        snprintf(why, sizeof(why), "HTTP %d", r->status);
    else
        ctl_lora_parse_models(r->body, r->len, &names, &n, why, sizeof(why));
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
        ctl_lora_apply_listing(c, p, o->seq);
    }
    if (p->probe_again && p->phase == CTL_POD_READY) ctl_lora_probe_start(c, p);
}

/* ----------------------------------------------------- load / unload */

static void ctl_lora_done_load(ctl_lora *c, const ctl_lora_opctx *o, const ctl_ctrl_reply *r)
{
    ctl_lora_ad *a = ctl_lora_ad_find(c, o->ad);
    ctl_lora_pod *p = ctl_lora_pod_find(c, o->pod);
    ctl_lora_lst *s = a ? ctl_lora_st_find(a, o->pod) : NULL;
    if (!a || !s || s->op_seq != o->seq || s->st != CTL_LORA_LS_LOADING) return;
    if (!p || p->inc != o->inc) {
        ctl_lora_st_drop(a, s); /* the engine went away or restarted meanwhile */
        return;
    }
    char why[CTL_LORA_ERR_MAX + CTL_LORA_BODY_KEEP];
    int ok = 0;
    if (r->err) {
        snprintf(why, sizeof(why), "load: %s", bx_http_strerror(r->err));
    } else if (r->status == 200 || r->status == 201 ||
               ctl_lora_already_loaded(r->status, r->body, r->len)) {
        ok = 1;
    } else {
        char text[CTL_LORA_BODY_KEEP];
        ctl_lora_body_text(r, text, sizeof(text));
        snprintf(why, sizeof(why), "load: HTTP %d: %s", r->status, text);
    }
    if (!ok) {
        ctl_lora_load_failed(c, a, s, why);
        return;
    }
    ctl_lora_pod_models_add(p,
                            a->name); /* counted for placement until the listing says otherwise */
    if (a->removing || s->art_seq != a->art_seq) {
        ctl_lora_unload_start(c, a, s, p, !a->removing); /* removed, or the artifact changed */
        return;
    }
    s->st = CTL_LORA_LS_CONFIRMING;
    s->since_probe = p->probe_started; /* only a probe started from now confirms */
    ctl_lora_probe_start(c, p);
}

void ctl_lora_load_start(ctl_lora *c, ctl_lora_ad *a, ctl_lora_lst *s, const ctl_lora_pod *p,
                         int first)
{
    char *body = ctl_lora_reqbody(a->name, a->lora_path);
    if (!body) return;
    ctl_lora_opctx o = {.kind = CTL_LORA_OP_LOAD, .seq = ++c->seq};
    snprintf(o.ad, sizeof(o.ad), "%s", a->name);
    int rc = ctl_lora_op_start(c, &o, p, "POST", "/v1/load_lora_adapter", a->obj->u.ma.api_key,
                               body, 64 * 1024);
    free(body);
    if (rc != 0) {
        ctl_lora_load_failed(c, a, s, "load: cannot start the request");
        return;
    }
    c->stats.loads_sent++;
    s->st = CTL_LORA_LS_LOADING;
    s->op_seq = o.seq;
    s->unloaded = 0;
    s->art_seq = a->art_seq;
    if (first)
        ctl_ctrl_event(c->ctrl, a->name, CTL_EVENT_NORMAL, "Scheduled",
                       "loading on pod %s (%s, attempt %u)", p->name,
                       ctl_adapter_sched_name(a->obj->u.ma.sched), s->fails + 1);
}

static void ctl_lora_done_unload(ctl_lora *c, const ctl_lora_opctx *o, const ctl_ctrl_reply *r)
{
    ctl_lora_ad *a = ctl_lora_ad_find(c, o->ad);
    ctl_lora_pod *p = ctl_lora_pod_find(c, o->pod);
    int gone = !r->err && (r->status / 100 == 2 || r->status == 404);
    if (p && p->inc == o->inc && gone) ctl_lora_pod_models_del(p, o->ad);
    ctl_lora_lst *s = a ? ctl_lora_st_find(a, o->pod) : NULL;
    if (!a || !s || s->op_seq != o->seq || s->st != CTL_LORA_LS_UNLOADING) return;
    if (gone) {
        ctl_ctrl_event(c->ctrl, a->name, CTL_EVENT_NORMAL, "Unloaded", "unloaded from pod %s%s",
                       o->pod, s->reload ? " (artifact changed; loading it again)" : "");
    } else {
        char text[CTL_LORA_ERR_MAX];
        if (r->err)
            snprintf(text, sizeof(text), "%s", bx_http_strerror(r->err));
        else
            ctl_lora_body_text(r, text, sizeof(text));
        ctl_ctrl_event(c->ctrl, a->name, CTL_EVENT_WARNING, "UnloadFailed",
                       "pod %s: HTTP %d: %s (ignored)", o->pod, r->err ? 0 : r->status, text);
    }
    if (p) s->since_probe = p->probe_started;
    s->st = CTL_LORA_LS_IDLE;
    s->reload = 0;
    s->fails = 0;
    s->unloaded = 1;
}

void ctl_lora_unload_start(ctl_lora *c, ctl_lora_ad *a, ctl_lora_lst *s, const ctl_lora_pod *p,
                           int reload)
{
    char *body = ctl_lora_reqbody(a->name, NULL);
    if (!body) return;
    ctl_lora_opctx o = {.kind = CTL_LORA_OP_UNLOAD, .seq = ++c->seq};
    snprintf(o.ad, sizeof(o.ad), "%s", a->name);
    int rc = ctl_lora_op_start(c, &o, p, "POST", "/v1/unload_lora_adapter", a->obj->u.ma.api_key,
                               body, 64 * 1024);
    free(body);
    if (rc != 0) return;
    c->stats.unloads_sent++;
    s->st = CTL_LORA_LS_UNLOADING;
    s->op_seq = o.seq;
    s->reload = reload;
}

/* Every answer, unless the controller is closing (the skeleton then drops
 * it). */
static void ctl_lora_on_reply(void *ud, const ctl_ctrl_reply *r, void *ctx)
{
    ctl_lora *c = ud;
    const ctl_lora_opctx *o = ctx;
    switch (o->kind) {
    case CTL_LORA_OP_LOAD:
        ctl_lora_done_load(c, o, r);
        break;
    case CTL_LORA_OP_UNLOAD:
        ctl_lora_done_unload(c, o, r);
        break;
    case CTL_LORA_OP_LIST:
        ctl_lora_done_list(c, o, r);
        break;
    case CTL_LORA_OP_METRICS:
        ctl_lora_done_metrics(c, o, r);
        break;
    }
    ctl_ctrl_kick(c->ctrl);
}

/* ---------------------------------------------------------- artifact */

typedef struct ctl_lora_art_work {
    uv_work_t req;
    ctl_lora *c;
    char ad[CTL_NAME_MAX + 1];
    uint64_t seq;
    char *url;
    char *sha256; /* NULL: no check */
    ctl_artifact_opts opts;
    ctl_artifact_result res;
    int rc;
    char err[CTL_LORA_ERR_MAX];
} ctl_lora_art_work;

static void ctl_lora_art_work_cb(uv_work_t *req)
{
    ctl_lora_art_work *w = req->data;
    w->rc = ctl_artifact_resolve(&w->opts, w->url, w->sha256, &w->res, w->err, sizeof(w->err));
}

static void ctl_lora_art_after_cb(uv_work_t *req, int status)
{
    ctl_lora_art_work *w = req->data;
    ctl_lora *c = w->c;
    ctl_lora_ad *a = c->closing ? NULL : ctl_lora_ad_find(c, w->ad);
    if (a && a->art_seq == w->seq && a->art == CTL_LORA_ART_RESOLVING) {
        if (status == 0 && w->rc == 0) {
            a->art = CTL_LORA_ART_OK;
            a->art_fails = 0;
            a->art_err[0] = 0;
            snprintf(a->lora_path, sizeof(a->lora_path), "%s", w->res.lora_path);
        } else {
            a->art = CTL_LORA_ART_FAILED;
            a->art_fails++;
            snprintf(a->art_err, sizeof(a->art_err), "%s", status ? uv_strerror(status) : w->err);
            uint64_t b = ctl_lora_backoff_ms(c, a->art_fails);
            a->art_retry_at = ctl_ctrl_now(c->ctrl) + b;
            ctl_ctrl_event(c->ctrl, a->name, CTL_EVENT_WARNING, "ArtifactFailed",
                           "%s: %s (retry in %.1f s)", a->obj->u.ma.artifact_url, a->art_err,
                           (double)b / 1000.0);
        }
        ctl_ctrl_kick(c->ctrl);
    }
    free(w->url);
    free(w->sha256);
    free(w);
    ctl_ctrl_release(c->ctrl); /* last: a closing controller may be freed here */
}

void ctl_lora_art_start(ctl_lora *c, ctl_lora_ad *a)
{
    ctl_lora_art_work *w = calloc(1, sizeof(*w));
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
    int rc = uv_queue_work(c->loop, &w->req, ctl_lora_art_work_cb, ctl_lora_art_after_cb);
    if (rc != 0) {
        a->art = CTL_LORA_ART_FAILED;
        snprintf(a->art_err, sizeof(a->art_err), "%s", uv_strerror(rc));
        a->art_retry_at = ctl_ctrl_now(c->ctrl) + ctl_lora_backoff_ms(c, ++a->art_fails);
        free(w->url);
        free(w->sha256);
        free(w);
        return;
    }
    ctl_ctrl_hold(c->ctrl);
    a->art = CTL_LORA_ART_RESOLVING;
    a->art_seq = w->seq;
}
