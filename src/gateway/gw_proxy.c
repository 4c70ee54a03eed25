/* gw_proxy: the gateway's request path. One gw_call per client request:
 *
 *   [auth: gw_auth, in the routing step] -> parse (gw_req) -> resolve model
 *   -> [rate limit] -> pick (router)
 *   -> forward (bx_http_client, pooled keep-alive) -> stream back unchanged
 *   -> account (usage from the body or the final SSE chunk, TTFT, breaker)
 *
 * The path's own timers (held requests, the watch below) and its glue to
 * the rate limiter live here too, so that nothing in it calls back up into
 * gw_gateway.c (which calls down into gw_proxy_handle and friends).
 *
 * Before the first byte of an answer is sent to the client, a failed
 * connect or a 5xx from the engine is retried on another engine (at most
 * max_retries, never the same engine twice). After it, an engine that dies
 * mid-stream ends the client's stream with an SSE error event, never a hang.
 * A client that goes away cancels the upstream request. With
 * --migrate-attempts (gw_migrate.h) a stream whose engine dies, is declared
 * down or stalls is continued on another engine instead (the hooks gw_mig_*
 * below); the error event is for when no engine can take it.
 *
 * Hung engines: a worker's watch (gw_proxy_watch, every GW_WATCH_MS while
 * calls are upstream) ends the calls whose engine a health signal declared
 * down since they were sent (the registry's down epochs, gw_engine.h) and
 * those silent past their bound (gw_silence.h), by cancelling the upstream
 * request: the answer then ends as above (retried, 503 or 502 before the
 * first byte to the client; an SSE error event after it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bx_buf.h"
#include "common/bx_jscan.h"
#include "common/bx_json.h"
#include "common/bx_reply.h"
#include "common/bx_log.h"
#include "common/bx_queue.h"
#include "common/bx_sse.h"
#include "gateway/gw_gateway_int.h"
#include "gateway/gw_migrate.h"
#include "gateway/gw_pd.h"
#include "gateway/gw_ratelimit.h"
#include "gateway/gw_silence.h"

#define GW_USAGE_SCAN_MAX (1u << 20) /* non-streamed bodies kept for usage */

struct gw_call {
    gw_worker *w;        /* the loop (thread) the call lives on */
    bx_queue node;       /* in w->calls */
    gw_call *next_spare; /* in w->spare_calls */
    bx_http_res *res;
    bx_http_creq *creq;
    gw_req req;
    gw_route_req rq;
    gw_strategy_plan plan;       /* what was asked (header, model default, --strategy) */
    const gw_strategy *fallback; /* what decided instead, NULL when the plan did */
    int routed;                  /* the router picked (plan and fallback hold) */
    gw_engine *engine;
    int model_served; /* 1: some engine serves req.model, -1: none, 0: not asked yet */
    int tried[8];
    int ntried;
    int in_limits; /* waiting for the rate limiter's answer */
    int held;      /* waiting: GW_HELD_ZERO for an engine of its model (scale from zero),
                    * GW_HELD_QUEUE for one under the slo cap (GW_PICK_HOLD) */
    uint64_t held_until_ms;
    int release;   /* gw_finish releases the engine: GW_REL_* */
    int started;   /* response headers sent to the client */
    int buffering; /* a whole (non-SSE) answer is collected and sent in one write */
    char ctype[128];
    int discard; /* this upstream answer is a 5xx being retried */
    int upstream_status;
    char path[64];
    const char *body; /* the client request's body, not owned */
    size_t body_len;
    char id[48];
    char auth[512]; /* the client's Authorization, kept without gateway keys */
    /* "Bearer <key>" of the engine picked last (its api_key), "" = none:
     * sent instead of auth (never a client's header to a keyed engine) */
    char eng_auth[GW_KEY_MAX + 8];
    uint64_t t0_ns, t_first_ns;
    int32_t prompt_tokens, completion_tokens;
    bx_sse_parser sse;
    int sse_on;
    bx_buf scan; /* non-streamed body, for usage */
    /* the watch (per send): the engine's down_epoch when sent, uv_now at the
     * send and at the last body bytes, the longest gap between body bytes */
    uint32_t engine_epoch;
    int ending; /* GW_END_*: the watch ends this answer */
    int cut;    /* ... and has cancelled the upstream request */
    int got_data;
    uint64_t sent_ms, last_ms, max_gap_ms;
    /* metrics: the model's in-flight key, why the call ended early, and
     * the time spent picking engines */
    uint64_t model_key;
    int client_left;     /* the client went away before its answer ended */
    int stopping;        /* the gateway is stopping */
    int rejected;        /* answered by the rate limiter (AIBrix's headers phase) */
    uint64_t routing_ns; /* time spent picking, summed over retries */
    int loadmon;         /* gw_loadmon_arrive's handle (0: not recorded) */
    int32_t sse_events;  /* data events of a streamed answer (an output estimate) */
    /* pd (gw_pd.h): this try's prefill engine and its leg in flight; the
     * decode leg's body (owned) in place of the client's (orig_*) */
    gw_engine *pd_prefill;
    gw_pd_leg *pd_leg;
    char *pd_body;
    const char *orig_body;
    size_t orig_len;
    char pd_auth[GW_KEY_MAX + 8];
    char pd_addr[GW_NAME_MAX]; /* the prefill engine of the answer, "" = none */

    /* a stream that can be continued on another engine (gw_migrate.h): its
     * events are framed by the gateway (mig_out), whole ones only */
    int mig_on, mig_done, migrations; /* mig_done: this leg's [DONE] came */
    int mig_err;                      /* this leg's engine sent an error event */
    gw_mig mig;
    bx_buf mig_out;
    char *mig_body;       /* the continuation's request body (owned) */
    const char *mig_orig; /* the client's body, once body is mig_body (not owned) */
    size_t mig_orig_len;
};

/* How gw_finish gives the engine back (in the same lock hold as the rest
 * of the accounting): not at all, after a cancel, after a success or a
 * failure (the breaker's input). */
enum { GW_REL_NONE = 0, GW_REL_CANCELLED, GW_REL_OK, GW_REL_FAILED };

/* ---------- helpers ---------- */

#define GW_CALL_SPARE_MAX 256         /* finished calls kept per worker for reuse */
#define GW_CALL_SCAN_KEEP (64u << 10) /* answer buffers kept with them up to this size */

/* A call from the worker's spares (its answer buffer kept: no malloc and
 * regrowth per request in steady state), else a new one. Zeroed but for
 * the buffer, which is empty. */
static gw_call *gw_call_new(gw_worker *w)
{
    gw_call *c = w->spare_calls;
    if (!c) {
        c = calloc(1, sizeof(*c));
        if (c) bx_buf_init(&c->scan);
        return c;
    }
    w->spare_calls = c->next_spare;
    w->nspare_calls--;
    bx_buf keep = c->scan;
    memset(c, 0, sizeof(*c));
    c->scan = keep;
    bx_buf_reset(&c->scan);
    return c;
}

static void gw_call_free(gw_call *c)
{
    gw_worker *w = c->w;
    bx_queue_remove(&c->node);
    gw_req_free(&c->req);
    free(c->pd_body);
    if (c->sse_on) bx_sse_parser_free(&c->sse);
    if (c->mig_on) {
        gw_mig_free(&c->mig);
        bx_buf_free(&c->mig_out);
    }
    free(c->mig_body);
    if (w->nspare_calls < GW_CALL_SPARE_MAX && c->scan.cap <= GW_CALL_SCAN_KEEP) {
        c->next_spare = w->spare_calls;
        w->spare_calls = c;
        w->nspare_calls++;
        return;
    }
    bx_buf_free(&c->scan);
    free(c);
}

void gw_proxy_free_spares(gw_worker *w)
{
    while (w->spare_calls) {
        gw_call *c = w->spare_calls;
        w->spare_calls = c->next_spare;
        bx_buf_free(&c->scan);
        free(c);
    }
    w->nspare_calls = 0;
}

/* Answers c's client with an OpenAI-style error, the request id and
 * AIBrix's x-error-* header (xerr, value xval or "true"; a value that is
 * not valid header text falls back to "true"). The call keeps no response. */
static void gw_error(gw_call *c, int status, const char *type, const char *msg, const char *xerr,
                     const char *xval)
{
    bx_http_res_header(c->res, "request-id", c->id);
    if (xerr && (!xval || bx_http_res_header(c->res, xerr, xval) != 0))
        bx_http_res_header(c->res, xerr, "true");
    bx_reply_error(c->res, status, type, msg);
    c->upstream_status = status;
    c->res = NULL;
}

static double gw_secs(uint64_t a_ns, uint64_t b_ns)
{
    return (double)(b_ns - a_ns) / 1e9;
}

/* The last "usage" key in data, searched from the end: the object is the
 * answer's last member in vLLM's and OpenAI's shapes, so this reads a
 * hundred bytes instead of the whole answer. */
static const char *gw_last_usage_key(const char *data, size_t len)
{
    const char *p = data + len;
    while (p - data >= 7) {
        const char *q = memrchr(data, '"', (size_t)(p - data) - 6);
        if (!q) return NULL;
        if (memcmp(q, "\"usage\"", 7) == 0) return q;
        p = q + 6; /* a match could start no later than q - 1 */
    }
    return NULL;
}

/* Reads usage from one JSON object (a chunk or a whole answer): only the
 * "usage" value is scanned (bx_jscan, no allocation; jansson with
 * JSON_DISABLE_EOF_CHECK when the scanner is unsure), not the whole
 * answer, which would cost a full parse per request. The last
 * "usage" key is the top-level one in vLLM's and OpenAI's shapes. */
static void gw_usage_from_json(gw_call *c, const char *data, size_t len)
{
    const char *u = gw_last_usage_key(data, len);
    if (!u) return;
    const char *end = data + len;
    u += 7;
    while (u < end && (*u == ' ' || *u == '\t' || *u == '\n' || *u == '\r'))
        u++;
    if (u >= end || *u != ':') return;
    u++;
    bx_jscan_member m[16];
    size_t n, used;
    if (bx_jscan_object_head(u, (size_t)(end - u), m, 16, &n, &used) == BX_JSCAN_OK) {
        for (size_t i = 0; i < n; i++) {
            int32_t *dst = NULL;
            if (m[i].key_len == 13 && memcmp(m[i].key, "prompt_tokens", 13) == 0)
                dst = &c->prompt_tokens;
            else if (m[i].key_len == 17 && memcmp(m[i].key, "completion_tokens", 17) == 0)
                dst = &c->completion_tokens;
            int64_t v;
            if (dst && bx_jscan_int(&m[i], &v) == 0) *dst = (int32_t)v;
        }
        return;
    }
    json_t *o = json_loadb(u, (size_t)(end - u), JSON_DISABLE_EOF_CHECK, NULL);
    if (json_is_object(o)) {
        json_t *p = json_object_get(o, "prompt_tokens");
        json_t *k = json_object_get(o, "completion_tokens");
        if (json_is_integer(p)) c->prompt_tokens = (int32_t)json_integer_value(p);
        if (json_is_integer(k)) c->completion_tokens = (int32_t)json_integer_value(k);
    }
    json_decref(o);
}

static void gw_mig_on_event(gw_call *c, const bx_sse_event *ev);

static int gw_on_sse_event(const bx_sse_event *ev, void *ud)
{
    gw_call *c = ud;
    if (!bx_sse_is_done(ev)) {
        c->sse_events++;
        gw_usage_from_json(c, ev->data, ev->data_len);
    }
    if (c->mig_on) gw_mig_on_event(c, ev);
    return 0;
}

/* the request path's own timers and rate-limit glue (below) */
static void gw_hold_timer(gw_worker *w);
static void gw_watch_timer(gw_worker *w);
static void gw_limits_check(gw_worker *w, gw_call *c, const char *user);
static void gw_limits_account(gw_worker *w, const char *user, int64_t total_tokens);

/* ---------- breaker ---------- */

/* The caller holds the registry lock. Counts openings, not failures
 * (gw_breaker.h). */
static void gw_breaker_result(gw_gateway *g, uint64_t now, gw_engine *e, int ok)
{
    if (!gw_breaker_record(&e->breaker, now, ok, g->cfg.breaker_failures,
                           (uint64_t)g->cfg.breaker_open_ms))
        return;
    if (e->breaker.state == GW_BREAKER_OPEN) {
        bx_warn("engine %s: breaker open", e->addr);
        g->stats.breaker_opens++;
    } else {
        bx_info("engine %s: breaker closed", e->addr);
    }
}

/* ---------- forwarding ---------- */

/* The HTTP client's own gap limit, a backstop under the watch's finer one:
 * the longer of the first-byte and stream-idle timeouts (the watch applies
 * the first before an answer's first body byte, the second after). */
static uint64_t gw_idle_backstop_ms(const gw_config *cfg)
{
    if (cfg->stream_idle_timeout_ms <= 0 || cfg->first_byte_timeout_ms <= 0) return 0;
    return (uint64_t)(cfg->stream_idle_timeout_ms > cfg->first_byte_timeout_ms
                          ? cfg->stream_idle_timeout_ms
                          : cfg->first_byte_timeout_ms);
}

static const char *gw_end_reason(int ending)
{
    return ending == GW_END_ENGINE_DOWN ? "declared down" : "silent past its bound";
}

static void gw_forward(gw_call *c);

/* The model label of c's series in /metrics: the client's string only when
 * the fleet serves that model (the registry's names, or the control
 * plane's with scale from zero: a bounded set), else "unknown", so invented
 * names cannot fill the series table and push real models into "other". */
static const char *gw_model_label(gw_call *c)
{
    const char *m = c->req.model;
    if (!m || !*m) return "-";
    if (c->model_served == 0) { /* answered before routing (400, 403, 429...) */
        gw_gateway *g = c->w->g;
        gw_registry_lock(&g->reg);
        for (int i = 0; i < g->reg.n && c->model_served <= 0; i++)
            if (!g->reg.engines[i].gone && gw_engine_serves(&g->reg.engines[i], m))
                c->model_served = 1;
        gw_registry_unlock(&g->reg);
        if (c->model_served == 0 && g->hold.is_model && g->hold.is_model(g->hold.ud, m))
            c->model_served = 1;
    }
    return c->model_served > 0 ? m : "unknown";
}

/* A call lets go of its engine (registry lock held): one request fewer in
 * flight, and the breaker told how it went. GW_REL_CANCELLED (the client
 * left, or the engine was declared down and its answers were cut with it)
 * is not the engine's fault and counts neither way. */
static void gw_release_locked(gw_gateway *g, uv_loop_t *loop, gw_engine *e, int rel)
{
    e->inflight--;
    if (rel == GW_REL_CANCELLED)
        gw_breaker_cancel(&e->breaker);
    else
        gw_breaker_result(g, uv_now(loop), e, rel == GW_REL_OK);
}

/* The load monitor's completion (gw_loadmon.h): the engine's usage, else
 * the gateway's estimate (a stream without include_usage): the prompt's
 * tokens when a strategy counted them, else a quarter of the body's bytes;
 * the stream's data events for the output (about one per token). */
static void gw_load_done(gw_call *c, int success)
{
    if (!c->loadmon) return;
    int64_t in = c->prompt_tokens, out = c->completion_tokens;
    if (in < 0) in = c->req.tokens.n ? (int64_t)c->req.tokens.n : (int64_t)(c->body_len / 4);
    if (out < 0) out = c->sse_on ? c->sse_events : 0;
    gw_loadmon_done(c->w->g->loadmon, c->loadmon, success, in, out);
    c->loadmon = 0;
}

static void gw_finish(gw_call *c, int ok)
{
    gw_gateway *g = c->w->g;
    uint64_t now = uv_hrtime();
    gw_route_result rr = {.status = c->upstream_status,
                          .prompt_tokens = c->prompt_tokens,
                          .completion_tokens = c->completion_tokens,
                          .ttft_s = c->t_first_ns ? gw_secs(c->t0_ns, c->t_first_ns) : -1,
                          .e2e_s = gw_secs(c->t0_ns, now)};
    char base[GW_NAME_MAX] = ""; /* the engine's base model, when c named an adapter */
    if (c->engine) {
        gw_engine *e = c->engine;
        gw_registry_lock(&g->reg);
        if (c->req.model && e->model[0] && strcmp(e->model, c->req.model) != 0)
            memcpy(base, e->model, sizeof(base));
        if (c->release) {
            gw_release_locked(g, c->w->loop, e, c->release);
            c->release = GW_REL_NONE;
        }
        gw_router_done_plan(&g->router, &c->plan, &c->rq, e, &rr);
        gw_registry_unlock(&g->reg);
        if (c->w->hold_timer_on) gw_proxy_hold_kick(c->w); /* held ones may fit now */
    }
    gw_worker_busy(c->w);
    /* one status for the metrics and the access log: what the client was
     * sent (a 4xx/5xx the gateway gave itself included; 200 for an answer
     * an engine cut mid-stream), 499 when the client left first (AIBrix's
     * and nginx's), 503 when the gateway stopping ended it */
    int status = c->client_left                       ? 499
                 : c->stopping && !c->upstream_status ? 503
                                                      : c->upstream_status;
    const char *label = gw_model_label(c);
    const char *sname = !c->routed ? NULL : c->fallback ? c->fallback->name : c->plan.spec;
    gw_am_req mr = {.model = base[0] ? base : label,
                    .lora_adapter = base[0] ? label : NULL,
                    .pod = c->engine ? c->engine->addr : NULL,
                    .status_code = status,
                    .success = ok && status < 400,
                    .stream = c->sse_on,
                    .prompt_tokens = c->prompt_tokens,
                    .completion_tokens = c->completion_tokens,
                    .ttft_s = rr.ttft_s,
                    .e2e_s = rr.e2e_s,
                    .routing_s = c->routed ? (double)c->routing_ns / 1e9 : -1};
    /* AIBrix's status label: the phase of its ext_proc exchange where the
     * request ended */
    mr.status = c->client_left                             ? "context_cancelled"
                : c->stopping                              ? "aibrix_gateway_server_shutdown"
                : mr.success                               ? "gateway_rsp_body_success"
                : c->rejected                              ? "gateway_req_headers_fail"
                : !c->engine                               ? "gateway_req_body_fail"
                : c->upstream_status >= 400 || !c->started ? "gateway_rsp_headers_fail"
                                                           : "gateway_rsp_body_fail";
    gw_metrics_request_end(c->w, sname ? sname : "-", c->model_key, &mr);
    gw_load_done(c, mr.success);
    if (c->prompt_tokens >= 0 && c->completion_tokens >= 0)
        gw_limits_account(c->w, c->req.user, c->prompt_tokens + c->completion_tokens);
    gw_alog_rec ar = {.id = c->id,
                      .path = c->path,
                      .model = c->req.model,
                      .user = c->req.user,
                      .engine = c->engine ? c->engine->addr : NULL,
                      .strategy = sname,
                      .status =
                          c->upstream_status || c->client_left ? status : 0, /* 0: nothing sent */
                      .ok = ok,
                      .ttft_ms = rr.ttft_s >= 0 ? rr.ttft_s * 1000 : -1.0,
                      .ms = rr.e2e_s * 1000,
                      .prompt_tokens = c->prompt_tokens,
                      .completion_tokens = c->completion_tokens};
    gw_alog_request(&c->w->alog, &ar);
    gw_call_free(c);
}

/* Response headers that say what happened (AIBrix's names), set right
 * before the first byte goes to the client. */
static void gw_add_headers(gw_call *c)
{
    bx_http_res_header(c->res, "request-id", c->id);
    /* AIBrix: the pod's name, and its address; an engine without a name
     * (a static --backend URL) is named by its address */
    bx_http_res_header(c->res, "target-pod",
                       c->engine->name[0] ? c->engine->name : c->engine->addr);
    bx_http_res_header(c->res, "target-pod-ip", c->engine->addr);
    bx_http_res_header(c->res, "routing-strategy", c->plan.spec);
    if (c->fallback) bx_http_res_header(c->res, "x-brix-routing-fallback", c->fallback->name);
    if (c->engine->group[0]) bx_http_res_header(c->res, "x-brix-gpu-group", c->engine->group);
    if (c->pd_addr[0]) bx_http_res_header(c->res, "x-brix-prefill-pod", c->pd_addr);
    char sid[GW_SESSION_ID_MAX];
    if (c->plan.sets_session_id && gw_session_id_encode(c->engine, sid, sizeof(sid)) > 0)
        bx_http_res_header(c->res, "x-session-id", sid);
}

static void gw_start_client(gw_call *c)
{
    gw_add_headers(c);
    bx_http_res_start(c->res, c->upstream_status, c->ctype);
    c->started = 1;
}

static int gw_mig_response(gw_call *c, int status, const bx_http_header *h, size_t nh);
static void gw_mig_start(gw_call *c);

static void gw_up_response(bx_http_creq *cr, int status, const bx_http_header *h, size_t nh,
                           void *ud)
{
    (void)cr;
    gw_call *c = ud;
    if (gw_mig_response(c, status, h, nh)) return; /* a continuation's answer */
    c->upstream_status = status;
    c->t_first_ns = uv_hrtime();
    if (status >= 500 && c->ntried <= c->w->g->cfg.max_retries && !c->started) {
        c->discard = 1; /* retried from on_done */
        return;
    }
    if (!c->res) return;
    const char *ctype = "application/json";
    for (size_t i = 0; i < nh; i++)
        if (!strcasecmp(h[i].name, "content-type")) ctype = h[i].value;
    size_t cl = strnlen(ctype, sizeof(c->ctype) - 1);
    memcpy(c->ctype, ctype, cl);
    c->ctype[cl] = '\0';
    if (strstr(ctype, "event-stream")) {
        bx_sse_parser_init(&c->sse, 1u << 20, gw_on_sse_event, c);
        c->sse_on = 1;
        gw_mig_start(c);
        gw_start_client(c);
        return;
    }
    /* A whole answer is sent with Content-Length in one write when it ends
     * (fewer syscalls, and a retry stays possible until then); beyond
     * GW_USAGE_SCAN_MAX it streams chunked. */
    c->buffering = 1;
}

static void gw_up_data(bx_http_creq *cr, const char *data, size_t len, void *ud)
{
    (void)cr;
    gw_call *c = ud;
    if (c->discard || !c->res) return;
    uint64_t now = uv_now(c->w->loop);
    if (c->got_data && now - c->last_ms > c->max_gap_ms) c->max_gap_ms = now - c->last_ms;
    c->got_data = 1;
    c->last_ms = now;
    if (c->buffering) {
        if (c->scan.len + len <= GW_USAGE_SCAN_MAX && bx_buf_append(&c->scan, data, len) == 0)
            return;
        c->buffering = 0; /* too big to hold: stream what we have and the rest */
        gw_start_client(c);
        if (c->scan.len) bx_http_res_write(c->res, c->scan.data, c->scan.len);
        bx_buf_free(&c->scan);
    }
    if (c->mig_on) { /* whole events only, rewritten after a migration */
        bx_buf_reset(&c->mig_out);
        if (bx_sse_parser_feed(&c->sse, data, len) == BX_SSE_ETOOBIG) {
            bx_warn("req %s: engine %s sent an SSE event over 1 MiB: dropped", c->id,
                    c->engine->addr);
            bx_sse_parser_reset(&c->sse); /* the next events still pass */
        }
        if (c->mig_out.len && c->res) bx_http_res_write(c->res, c->mig_out.data, c->mig_out.len);
        return;
    }
    bx_http_res_write(c->res, data, len);
    if (c->sse_on) bx_sse_parser_feed(&c->sse, data, len);
}

static int gw_mig_continue(gw_call *c, int err);
static void gw_sse_error_end(gw_call *c, const char *msg);
static const char *gw_mid_stream_msg(int ending);

static void gw_up_done(bx_http_creq *cr, int err, void *ud)
{
    (void)cr;
    gw_call *c = ud;
    gw_gateway *g = c->w->g;
    c->creq = NULL;
    gw_engine *e = c->engine;
    int failed = err != 0 || c->upstream_status >= 500;
    if (!c->res) { /* the client went away and we cancelled */
        c->release = GW_REL_CANCELLED;
        gw_finish(c, 0);
        return;
    }
    c->release = failed ? GW_REL_FAILED : GW_REL_OK;
    if (c->ending) gw_metrics_stream_ended(c->w, c->ending);
    /* an engine declared down is out of rotation already: its breaker does
     * not count the answers cut with it (a silent stream does count) */
    if (c->ending == GW_END_ENGINE_DOWN) c->release = GW_REL_CANCELLED;
    if (gw_mig_continue(c, err)) return; /* continued elsewhere, or ended */
    if (failed && !c->started) {
        if (c->ntried <= g->cfg.max_retries) {
            gw_registry_lock(&g->reg);
            gw_release_locked(g, c->w->loop, e,
                              c->ending == GW_END_ENGINE_DOWN ? GW_REL_CANCELLED : GW_REL_FAILED);
            g->stats.retries++;
            gw_registry_unlock(&g->reg);
            c->release = GW_REL_NONE;
            bx_warn("req %s: engine %s failed (%s), retrying elsewhere", c->id, e->addr,
                    c->ending ? gw_end_reason(c->ending)
                    : err     ? bx_http_strerror(err)
                              : "5xx");
            c->discard = 0;
            c->buffering = 0;
            c->upstream_status = 0;
            bx_buf_reset(&c->scan);
            gw_forward(c);
            return;
        }
        gw_error(c, 502, "BadGatewayError", "every engine tried failed", "x-error-routing", NULL);
        gw_finish(c, 0);
        return;
    }
    if (err) { /* died, declared down or silent after the first byte */
        gw_sse_error_end(c, gw_mid_stream_msg(c->ending));
        return;
    }
    if (c->buffering) {
        gw_usage_from_json(c, c->scan.data ? c->scan.data : "", c->scan.len);
        gw_add_headers(c);
        bx_http_res_send(c->res, c->upstream_status, c->ctype, c->scan.data ? c->scan.data : "",
                         c->scan.len);
        c->res = NULL;
        gw_finish(c, 1);
        return;
    }
    bx_http_res_end(c->res);
    c->res = NULL;
    gw_finish(c, 1);
}

static void gw_client_abort(bx_http_res *res, void *ud)
{
    (void)res;
    gw_call *c = ud;
    c->res = NULL;
    c->client_left = 1;
    if (c->creq)
        bx_http_client_cancel(c->creq); /* on_done finishes */
    else if (c->pd_leg)
        gw_pd_leg_cancel(c->pd_leg); /* its callback finishes */
    else if (!c->in_limits)
        gw_finish(c, 0); /* else gw_proxy_admitted does */
}

static void gw_send(gw_call *c);
static void gw_pd_send_prefill(gw_call *c);

/* Picks an engine not tried yet and sends the request to it. */
static void gw_forward(gw_call *c)
{
    gw_worker *w = c->w;
    gw_gateway *g = w->g;
    if (c->pd_body) { /* a pd try's decode body: the next try starts from the client's */
        c->body = c->orig_body;
        c->body_len = c->orig_len;
        free(c->pd_body);
        c->pd_body = NULL;
    }
    c->pd_addr[0] = '\0';
    gw_engine *cands[GW_MAX_ENGINES];
    int known = 0;
    uint64_t now = uv_now(w->loop);
    gw_registry_lock(&g->reg);
    int n = gw_registry_candidates(&g->reg, c->req.model, now, cands, GW_MAX_ENGINES, &known);
    int k = 0;
    for (int i = 0; i < n; i++) {
        int seen = 0;
        for (int j = 0; j < c->ntried; j++)
            if (c->tried[j] == cands[i]->id) seen = 1;
        if (!seen) cands[k++] = cands[i];
    }
    gw_engine *e = NULL;
    if (k > 0) { /* pick and count it under the same lock hold */
        c->rq.now_ms = now;
        c->rq.rnd = gw_next_random(w);
        uint64_t t = uv_hrtime();
        e = gw_router_pick_plan(&g->router, &c->plan, &c->rq, cands, k, &c->fallback);
        c->routed = 1;
        uint64_t picked_ns = uv_hrtime() - t;
        gw_metrics_decision(w, (double)picked_ns / 1e9);
        c->routing_ns += picked_ns;
    }
    if (k > 0 && e) {                   /* NULL: the strategy holds it (GW_PICK_HOLD, below) */
        gw_breaker_picked(&e->breaker); /* not CLOSED: this is the probe */
        e->inflight++;
        e->routed_total++;
        c->engine_epoch = e->down_epoch;
        gw_engine_auth(e, c->eng_auth, sizeof(c->eng_auth));
        /* pd chose a prefill engine with it: the first leg goes there */
        gw_engine *pf = c->plan.n > 0 && !strcmp(c->plan.s[0]->name, "pd")
                            ? gw_pd_take_prefill(&g->router)
                            : NULL;
        c->pd_prefill = pf;
        if (pf) {
            gw_breaker_picked(&pf->breaker);
            pf->inflight++;
            pf->routed_total++;
            gw_engine_auth(pf, c->pd_auth, sizeof(c->pd_auth));
            snprintf(c->pd_addr, sizeof(c->pd_addr), "%s", pf->addr);
        }
    }
    gw_unready_model unready; /* a model discovery knows without an engine */
    int is_unready = 0;
    if (k == 0 && !known && c->ntried == 0) {
        const gw_unready_model *u = gw_registry_unready(&g->reg, c->req.model);
        if (u) {
            unready = *u;
            is_unready = 1;
        }
    }
    gw_registry_unlock(&g->reg);
    if (is_unready) { /* AIBrix: a known model with no routable pod is 503, not unknown */
        c->model_served = 1;
        if (unready.retry_after_s > 0) {
            char ra[16];
            snprintf(ra, sizeof(ra), "%d", unready.retry_after_s);
            bx_http_res_header(c->res, "Retry-After", ra);
        }
        gw_error(c, 503, "ServiceUnavailableError", unready.why, "x-error-no-model-backends", NULL);
        gw_finish(c, 0);
        return;
    }
    c->model_served = known ? 1 : -1;
    if (k > 0 && !e) { /* the slo queue: held until an engine is under the cap */
        int v = gw_queue_verdict(c->held, c->held_until_ms, now,
                                 c->held ? 0 : gw_proxy_held(w, c->req.model, GW_HELD_QUEUE),
                                 (int)g->cfg.slo_queue_max);
        if (v == GW_QUEUE_WAIT) {
            if (!c->held) c->held_until_ms = now + (uint64_t)g->cfg.slo_queue_timeout_ms;
            c->held = GW_HELD_QUEUE;
            gw_hold_timer(w);
            return;
        }
        c->held = 0;
        bx_http_res_header(c->res, "Retry-After", "1");
        gw_error(c, 429, "RateLimitError",
                 v == GW_QUEUE_FULL ? "every engine for this request is saturated and the "
                                      "gateway's queue for this model is full"
                                    : "every engine for this request stayed saturated for "
                                      "the gateway's queue timeout",
                 "x-error-slo-queue", v == GW_QUEUE_FULL ? "full" : "timeout");
        gw_finish(c, 0);
        return;
    }
    if (k == 0 && c->ntried == 0 && g->hold.hold_ms > 0 &&
        (known || (g->hold.is_model && g->hold.is_model(g->hold.ud, c->req.model)))) {
        c->model_served = 1;
        char why[300];
        int retry_s = 0;
        why[0] = '\0';
        if (g->hold.unservable &&
            g->hold.unservable(g->hold.ud, c->req.model, why, sizeof(why), &retry_s)) {
            /* it cannot become ready: say so now rather than hold it */
            c->held = 0;
            if (retry_s > 0) {
                char ra[16];
                snprintf(ra, sizeof(ra), "%d", retry_s);
                bx_http_res_header(c->res, "Retry-After", ra);
            }
            gw_error(c, 503, "ServiceUnavailableError",
                     why[0] ? why : "no engine for this model can become ready",
                     "x-error-no-model-backends", NULL);
            gw_finish(c, 0);
            return;
        }
        if (!c->held) { /* hold it and ask for a replica */
            c->held = GW_HELD_ZERO;
            c->held_until_ms = now + g->hold.hold_ms;
            if (g->hold.wake) g->hold.wake(g->hold.ud, c->req.model);
            gw_hold_timer(w);
            return;
        }
        if (now < c->held_until_ms) return; /* still waiting */
        known = 1;                          /* waited long enough: 503 */
    }
    if (k == 0 && c->started) { /* a stream to continue, and no engine left */
        char msg[256];
        snprintf(msg, sizeof(msg), "%s, and no other engine could continue it",
                 gw_mid_stream_msg(c->ending));
        gw_sse_error_end(c, msg);
        return;
    }
    if (k == 0) {
        c->held = 0;
        if (!known) {
            char msg[300];
            snprintf(msg, sizeof(msg), "The model `%.200s` does not exist.", c->req.model);
            gw_error(c, 404, "NotFoundError", msg, "x-error-no-model-backends", c->req.model);
        } else {
            bx_http_res_header(c->res, "Retry-After", "1");
            gw_error(c, 503, "ServiceUnavailableError",
                     c->ntried ? "every engine for this model failed"
                               : "no engine for this model is ready",
                     "x-error-no-model-backends", NULL);
        }
        gw_finish(c, 0);
        return;
    }
    c->held = 0;
    c->engine = e;
    if (c->ntried < (int)(sizeof(c->tried) / sizeof(c->tried[0]))) c->tried[c->ntried++] = e->id;
    if (c->pd_prefill)
        gw_pd_send_prefill(c);
    else
        gw_send(c);
}

/* Sends the request (c->body) to c->engine. */
static void gw_send(gw_call *c)
{
    gw_worker *w = c->w;
    gw_gateway *g = w->g;
    gw_engine *e = c->engine;
    uint64_t now = uv_now(w->loop);
    bx_http_header hs[3];
    size_t nh = 0;
    hs[nh++] = (bx_http_header){"Content-Type", "application/json"};
    hs[nh++] = (bx_http_header){"X-Request-Id", c->id};
    if (c->eng_auth[0])
        hs[nh++] = (bx_http_header){"Authorization", c->eng_auth};
    else if (c->auth[0])
        hs[nh++] = (bx_http_header){"Authorization", c->auth};
    bx_http_client_req r = {.method = "POST",
                            .host = e->host,
                            .port = e->port,
                            .path = c->path,
                            .headers = hs,
                            .nheaders = nh,
                            .body = c->body,
                            .body_len = c->body_len,
                            .first_byte_timeout_ms = (uint64_t)g->cfg.first_byte_timeout_ms,
                            .idle_timeout_ms = gw_idle_backstop_ms(&g->cfg)};
    bx_http_client_cbs cbs = {gw_up_response, gw_up_data, gw_up_done};
    if (bx_http_client_request(w->client, &r, &cbs, c, &c->creq) != 0) {
        gw_registry_lock(&g->reg);
        gw_release_locked(g, w->loop, e, GW_REL_FAILED);
        gw_registry_unlock(&g->reg);
        gw_forward(c); /* try another */
        return;
    }
    c->ending = GW_END_NONE;
    c->cut = c->got_data = 0;
    c->sent_ms = now;
    c->last_ms = c->max_gap_ms = 0;
    gw_watch_timer(w);
}

/* ---------- pd: the prefill leg (gw_pd.h) ---------- */

static void gw_pd_prefill_done(int err, int status, const char *body, size_t len, void *ud)
{
    gw_call *c = ud;
    gw_worker *w = c->w;
    gw_gateway *g = w->g;
    gw_engine *p = c->pd_prefill;
    c->pd_leg = NULL;
    c->pd_prefill = NULL;
    int gone = err == BX_HTTP_ECANCELED || !c->res;
    int failed = err != 0 || status >= 500 || status == 0;
    gw_registry_lock(&g->reg);
    gw_release_locked(g, w->loop, p, gone ? GW_REL_CANCELLED : failed ? GW_REL_FAILED : GW_REL_OK);
    gw_registry_unlock(&g->reg);
    if (!c->res) { /* the client left, or the gateway is stopping */
        c->release = GW_REL_CANCELLED;
        gw_finish(c, 0);
        return;
    }
    char why[256];
    if (!err && status >= 400 && status < 500) { /* the request's fault: the client sees it */
        c->upstream_status = status;
        gw_add_headers(c);
        bx_http_res_send(c->res, status, "application/json", body, len);
        c->res = NULL;
        c->release = GW_REL_CANCELLED;
        gw_finish(c, 0);
        return;
    }
    if (!failed) {
        char *db;
        size_t dl;
        if (gw_pd_decode_body(c->body, c->body_len, body, len, p->host, &db, &dl, why,
                              sizeof(why)) == 0) {
            c->orig_body = c->body;
            c->orig_len = c->body_len;
            c->pd_body = db;
            c->body = db;
            c->body_len = dl;
            gw_send(c);
            return;
        }
    } else if (err) {
        snprintf(why, sizeof(why), "%s", bx_http_strerror(err));
    } else {
        snprintf(why, sizeof(why), "it answered %d", status);
    }
    bx_warn("req %s: prefill engine %s failed (%s); routing again without it", c->id, p->addr, why);
    /* the decode engine did nothing wrong: give it back, and try again
     * with the prefill engine excluded in its place */
    gw_registry_lock(&g->reg);
    gw_release_locked(g, w->loop, c->engine, GW_REL_CANCELLED);
    g->stats.retries++;
    gw_registry_unlock(&g->reg);
    if (c->ntried > 0) c->tried[c->ntried - 1] = p->id;
    c->engine = NULL;
    c->release = GW_REL_NONE;
    c->pd_addr[0] = '\0';
    if (c->ntried <= g->cfg.max_retries) {
        gw_forward(c);
        return;
    }
    char msg[400];
    snprintf(msg, sizeof(msg), "the prefill engine failed: %s", why);
    gw_error(c, 502, "BadGatewayError", msg, "x-error-routing", NULL);
    gw_finish(c, 0);
}

/* The first leg of a pd try: the prefill call to c->pd_prefill. */
static void gw_pd_send_prefill(gw_call *c)
{
    gw_worker *w = c->w;
    gw_engine *p = c->pd_prefill;
    char *pb = NULL;
    size_t pl = 0;
    bx_http_header hs[3];
    size_t nh = 0;
    hs[nh++] = (bx_http_header){"Content-Type", "application/json"};
    hs[nh++] = (bx_http_header){"X-Request-Id", c->id};
    if (c->pd_auth[0])
        hs[nh++] = (bx_http_header){"Authorization", c->pd_auth};
    else if (c->auth[0])
        hs[nh++] = (bx_http_header){"Authorization", c->auth};
    int rc = gw_pd_prefill_body(c->body, c->body_len, &pb, &pl);
    if (rc == 0) {
        bx_http_client_req r = {.method = "POST",
                                .host = p->host,
                                .port = p->port,
                                .path = c->path,
                                .headers = hs,
                                .nheaders = nh,
                                .body = pb,
                                .body_len = pl,
                                .timeout_ms = gw_pd_prefill_timeout_ms()};
        rc = gw_pd_leg_start(w->client, &r, gw_pd_prefill_done, c, &c->pd_leg);
        free(pb);
    }
    if (rc != 0) gw_pd_prefill_done(BX_HTTP_ENOMEM, 0, "", 0, c);
}

/* ---------- streams continued on another engine (gw_migrate.h) ---------- */

static const char *gw_mid_stream_msg(int ending)
{
    return ending == GW_END_ENGINE_DOWN
               ? "the engine stopped responding in the middle of the answer (declared down)"
           : ending == GW_END_SILENCE
               ? "the engine sent nothing for longer than this answer's silence bound"
               : "the engine stopped in the middle of the answer";
}

/* Ends c's answer (started) with an SSE error event when it is a stream,
 * and finishes it as failed. */
static void gw_sse_error_end(gw_call *c, const char *msg)
{
    if (c->sse_on) {
        char *body = bx_json_error_body(502, "BadGatewayError", msg);
        if (body) {
            bx_http_res_write(c->res, "data: ", 6);
            bx_http_res_write(c->res, body, strlen(body));
            bx_http_res_write(c->res, "\n\n", 2);
            free(body);
        }
    }
    bx_http_res_end(c->res);
    c->res = NULL;
    gw_finish(c, 0);
}

/* The first engine's stream began: keep what a continuation needs. */
static void gw_mig_start(gw_call *c)
{
    if (c->mig_on || c->w->g->cfg.migrate_attempts <= 0 ||
        (c->req.api != GW_API_CHAT && c->req.api != GW_API_COMPLETIONS))
        return;
    gw_mig_init(&c->mig, c->req.api);
    bx_buf_init(&c->mig_out);
    c->mig_on = 1;
}

/* A continuation's response head: 1 when it was one (an answer that is not
 * a stream is dropped, and the stream continued elsewhere from on_done). */
static int gw_mig_response(gw_call *c, int status, const bx_http_header *h, size_t nh)
{
    if (!c->mig_on || !c->started || c->mig.leg == 0) return 0;
    const char *ctype = "";
    for (size_t i = 0; i < nh; i++)
        if (!strcasecmp(h[i].name, "content-type")) ctype = h[i].value;
    if (status != 200 || !strstr(ctype, "event-stream")) {
        bx_warn("req %s: engine %s answered the continuation with %d", c->id, c->engine->addr,
                status);
        c->discard = 1;
    }
    return 1;
}

/* One whole event of the engine's stream, framed into mig_out as the
 * client must see it. */
static void gw_mig_on_event(gw_call *c, const bx_sse_event *ev)
{
    if (bx_sse_is_done(ev)) { /* after an engine's error event: continued elsewhere */
        if (c->mig_err) return;
        c->mig_done = 1;
        bx_buf_appends(&c->mig_out, "data: [DONE]\n\n");
        return;
    }
    bx_buf tmp;
    bx_buf_init(&tmp);
    int act = gw_mig_event(&c->mig, ev->data, ev->data_len, &tmp);
    if (act == GW_MIG_ERROR || c->mig_err) /* nothing from this engine after its error */
        c->mig_err = 1;
    else if (act == GW_MIG_REWRITTEN)
        gw_mig_frame(&c->mig_out, ev->event, tmp.data, tmp.len);
    else if (act != GW_MIG_DROP)
        gw_mig_frame(&c->mig_out, ev->event, ev->data, ev->data_len);
    bx_buf_free(&tmp);
    if (c->mig.leg > 0) { /* the usage of the whole answer, not of this leg */
        c->prompt_tokens = c->mig.prompt_tokens;
        c->completion_tokens = c->mig.sent;
    }
}

/* A stream's engine answer ended (on_done, after the client's headers):
 * complete, or continued on another engine, or ended with an error event
 * when it cannot be (1); 0: not a stream this handles. */
static int gw_mig_continue(gw_call *c, int err)
{
    if (!c->mig_on || !c->started || !c->sse_on || (!err && !c->discard && c->mig_done)) return 0;
    gw_gateway *g = c->w->g;
    gw_mig *m = &c->mig;
    if (c->pd_body) { /* a pd try's decode leg: continue from the body it was made of */
        c->body = c->orig_body;
        c->body_len = c->orig_len;
        free(c->pd_body);
        c->pd_body = NULL;
    }
    const char *orig = c->migrations ? c->mig_orig : c->body;
    size_t orig_len = c->migrations ? c->mig_orig_len : c->body_len;
    int32_t max = c->req.max_tokens > 0              ? c->req.max_tokens
                  : c->req.api == GW_API_COMPLETIONS ? 16 /* vLLM's default */
                                                     : -1;
    if (gw_mig_complete(m, max)) { /* died after the answer's last token: end it here */
        gw_mig_count_prompt(m, orig, orig_len);
        bx_buf_reset(&c->mig_out);
        if (gw_mig_tail(m, c->req.include_usage, &c->mig_out) == 0)
            bx_http_res_write(c->res, c->mig_out.data, c->mig_out.len);
        c->prompt_tokens = m->prompt_tokens;
        c->completion_tokens = m->sent;
        bx_http_res_end(c->res);
        c->res = NULL;
        gw_finish(c, 1);
        return 1;
    }
    char why[128] = "";
    size_t blen = 0;
    char *body = NULL;
    if (c->migrations >= g->cfg.migrate_attempts)
        snprintf(why, sizeof(why), "%d continuation(s) tried", c->migrations);
    else
        body = gw_mig_body(m, orig, orig_len, &blen, why, sizeof(why));
    const char *what = c->discard   ? "refused the continuation"
                       : c->mig_err ? "sent an error event"
                       : c->ending  ? gw_end_reason(c->ending)
                       : err        ? bx_http_strerror(err)
                                    : "ended the stream early";
    if (!body) {
        bx_warn("req %s: engine %s %s after %d tokens; not continued: %s", c->id, c->engine->addr,
                what, m->sent, why);
        gw_sse_error_end(c, gw_mid_stream_msg(c->ending));
        return 1;
    }
    bx_warn("req %s: engine %s %s after %d tokens; continuing on another engine", c->id,
            c->engine->addr, what, m->sent);
    gw_registry_lock(&g->reg);
    gw_release_locked(g, c->w->loop, c->engine,
                      c->ending == GW_END_ENGINE_DOWN ? GW_REL_CANCELLED : GW_REL_FAILED);
    g->stats.migrations++;
    gw_registry_unlock(&g->reg);
    c->release = GW_REL_NONE;
    if (!c->migrations) {
        c->mig_orig = c->body;
        c->mig_orig_len = c->body_len;
    }
    free(c->mig_body);
    c->mig_body = body;
    c->body = body;
    c->body_len = blen;
    c->migrations++;
    c->discard = c->mig_done = c->mig_err = 0;
    bx_sse_parser_reset(&c->sse);
    gw_mig_next_leg(m);
    gw_forward(c);
    return 1;
}

/* ---------- the watch: hung engines, silent answers ---------- */

/* The bound c's silence is held to now, and since when it has been silent.
 * Before the engine's headers the HTTP client's connect and first-byte
 * timeouts apply (0 here); between the headers and the first body byte (an
 * engine that sends its headers before prefilling, as vLLM does) the
 * first-byte timeout counted from the send; then the stream's pace bound
 * (gw_silence.h), or for an answer that is not SSE the stream idle timeout. */
static uint64_t gw_call_bound(const gw_call *c, const gw_config *cfg, uint64_t *since)
{
    if (!c->upstream_status || c->discard) return 0;
    uint64_t ceiling = cfg->stream_idle_timeout_ms > 0 ? (uint64_t)cfg->stream_idle_timeout_ms : 0;
    if (!c->got_data) {
        *since = c->sent_ms;
        return cfg->first_byte_timeout_ms > 0 ? (uint64_t)cfg->first_byte_timeout_ms : 0;
    }
    *since = c->last_ms;
    if (!c->sse_on) return ceiling;
    uint64_t floor = cfg->stream_silence_min_ms > 0 ? (uint64_t)cfg->stream_silence_min_ms : 0;
    return gw_silence_bound_ms(c->max_gap_ms, floor, ceiling);
}

int gw_proxy_watch(gw_worker *w)
{
    gw_gateway *g = w->g;
    bx_queue *q;
    uint32_t seq = gw_registry_down_seq(&g->reg);
    if (seq != w->seen_down_seq) { /* some engine was declared down: which calls were on it? */
        w->seen_down_seq = seq;
        gw_registry_lock(&g->reg);
        BX_QUEUE_FOREACH(q, &w->calls)
        {
            gw_call *c = bx_container_of(q, gw_call, node);
            if (c->creq && c->res && c->engine && !c->ending &&
                c->engine->down_epoch != c->engine_epoch)
                c->ending = GW_END_ENGINE_DOWN;
        }
        gw_registry_unlock(&g->reg);
    }
    uint64_t now = uv_now(w->loop);
    int upstream = 0, ndown = 0;
    BX_QUEUE_FOREACH(q, &w->calls)
    {
        gw_call *c = bx_container_of(q, gw_call, node);
        if (!c->creq || !c->res || c->cut) continue; /* not upstream, or ending already */
        if (!c->ending) {
            uint64_t since = 0, bound = gw_call_bound(c, &g->cfg, &since);
            if (!bound || now - since < bound) {
                upstream++;
                continue;
            }
            c->ending = GW_END_SILENCE;
            bx_warn("req %s: engine %s silent for %llu ms (bound %llu ms), ending the answer",
                    c->id, c->engine->addr, (unsigned long long)(now - since),
                    (unsigned long long)bound);
        } else {
            ndown++;
        }
        c->cut = 1;
        bx_http_client_cancel(c->creq); /* gw_up_done ends the call, later */
    }
    if (ndown)
        bx_warn("worker %d: %d answer(s) in flight on engines declared down ended", w->idx, ndown);
    return upstream;
}

/* Continues after the rate limiter's answer. */
static void gw_proxy_admitted(gw_call *c, int verdict, int retry_after_s)
{
    c->in_limits = 0;
    if (!c->res) { /* client left while we asked Redis */
        gw_finish(c, 0);
        return;
    }
    if (verdict != GW_ADMIT_OK) {
        c->rejected = 1;
        char ra[16];
        snprintf(ra, sizeof(ra), "%d", retry_after_s > 0 ? retry_after_s : 1);
        bx_http_res_header(c->res, "Retry-After", ra);
        if (verdict == GW_ADMIT_UNKNOWN)
            gw_error(c, 403, "PermissionDeniedError", "unknown user", "x-error-user", NULL);
        else if (verdict == GW_ADMIT_UNAVAILABLE)
            gw_error(c, 503, "ServiceUnavailableError",
                     "rate limiting is unavailable (Redis down) and the gateway fails closed",
                     "x-error-incr-rpm", NULL);
        else if (verdict == GW_ADMIT_RPM)
            gw_error(c, 429, "RateLimitError", "requests per minute limit exceeded",
                     "x-error-rpm-exceeded", NULL);
        else
            gw_error(c, 429, "RateLimitError", "tokens per minute limit exceeded",
                     "x-error-tpm-exceeded", NULL);
        gw_finish(c, 0);
        return;
    }
    gw_forward(c);
}

void gw_proxy_handle(gw_worker *w, bx_http_req *hr, bx_http_res *res, gw_api api)
{
    gw_gateway *g = w->g; /* the key was checked before routing (gw_auth) */
    gw_call *c = gw_call_new(w);
    if (!c) {
        bx_reply_error(res, 500, "InternalServerError", "out of memory");
        return;
    }
    c->w = w;
    c->res = res;
    c->t0_ns = uv_hrtime();
    c->prompt_tokens = c->completion_tokens = -1;
    bx_queue_insert_head(&w->calls, &c->node);
    gw_metrics_call_begin(w);
    if (gw_traceparent_id(bx_http_req_header(hr, "traceparent"), c->id) != 0) {
        uint64_t id = ++w->next_id ^ w->id_salt; /* "brx-" and 16 hex digits, no printf */
        memcpy(c->id, "brx-", 4);
        for (int i = 19; i >= 4; i--, id >>= 4)
            c->id[i] = "0123456789abcdef"[id & 15];
        c->id[20] = '\0';
    }
    size_t pl = strlen(hr->path);
    if (pl >= sizeof(c->path)) pl = sizeof(c->path) - 1;
    memcpy(c->path, hr->path, pl);
    c->path[pl] = '\0';
    char err[512];
    const char *sname = bx_http_req_header(hr, "routing-strategy");
    int planned = 0;
    if (sname && *sname) {
        if (gw_strategy_plan_parse(sname, &c->plan, err, sizeof(err)) != 0) {
            gw_error(c, 400, "BadRequestError", err, "x-error-routing", NULL);
            gw_finish(c, 0);
            return;
        }
        planned = 1;
    }
    int parsed = 0; /* c->req holds the body's fields already */
    if (!planned && __atomic_load_n(&g->nmodel_strategy, __ATOMIC_ACQUIRE) > 0) {
        /* the model's default: the model comes from the body, read without
         * tokens first and kept unless the strategy reads tokens */
        if (gw_req_parse(api, hr->body, hr->body_len, 0, &c->req, err, sizeof(err)) == 0) {
            parsed = 1;
            gw_registry_lock(&g->reg);
            for (int i = 0; i < g->nmodel_strategy && !planned; i++)
                if (!strcmp(g->model_strategy[i].model, c->req.model)) {
                    c->plan = g->model_strategy[i].plan;
                    planned = 1;
                }
            gw_registry_unlock(&g->reg);
        } else {
            gw_req_free(&c->req); /* the parse below reports the error */
        }
    }
    if (!planned) c->plan = g->router.defplan;
    if (parsed && c->plan.needs_tokens) {
        gw_req_free(&c->req);
        parsed = 0;
    }
    if (!parsed && gw_req_parse(api, hr->body, hr->body_len, c->plan.needs_tokens, &c->req, err,
                                sizeof(err)) != 0) {
        gw_error(c, 400, "BadRequestError", err, "x-error-request-body-processing", NULL);
        gw_finish(c, 0);
        return;
    }
    const char *label = gw_model_label(c);
    c->model_key = gw_metrics_model_begin(w, label);
    if (c->model_served > 0) c->loadmon = gw_loadmon_arrive(g->loadmon, label);
    /* the request stays valid until its response ends or is aborted, which
     * covers every (re)send: no copy (the client copies what it sends) */
    c->body = hr->body;
    c->body_len = hr->body_len;
    const char *auth = bx_http_req_header(hr, "authorization");
    if (auth && g->cfg.keys.n == 0) snprintf(c->auth, sizeof(c->auth), "%s", auth);
    /* an adapter's blocks are hashed with its name, as the engine does */
    const char *extra = NULL;
    if (c->plan.needs_blocks) {
        gw_registry_lock(&g->reg);
        extra = gw_registry_is_base_model(&g->reg, c->req.model) ? NULL : c->req.model;
        gw_registry_unlock(&g->reg);
    }
    if (c->plan.needs_blocks) /* SHA-256 per block: only when a strategy reads them */
        gw_req_hash(&c->req, &g->hash_root, g->cfg.block_size, extra);
    c->rq = (gw_route_req){.model = c->req.model,
                           .user = c->req.user ? c->req.user : bx_http_req_header(hr, "user"),
                           .session_id = bx_http_req_header(hr, "x-session-id"),
                           .session_key = bx_http_req_header(hr, "x-aibrix-session-key"),
                           .tokens = c->req.tokens.ids,
                           .ntokens = c->req.tokens.n,
                           .block_keys = c->req.block_keys,
                           .nblocks = c->req.nblocks,
                           .max_tokens = c->req.max_tokens};
    bx_http_res_set_abort(res, gw_client_abort, c);
    c->in_limits = 1;
    gw_limits_check(w, c, c->rq.user); /* answers through gw_proxy_admitted */
}

void gw_proxy_retry_held(gw_worker *w)
{
    bx_queue *q, *prev; /* oldest first (calls go in at the head): FIFO */
    for (q = w->calls.prev; q != &w->calls; q = prev) {
        prev = q->prev; /* gw_forward may finish (free) c */
        gw_call *c = bx_container_of(q, gw_call, node);
        if (c->held && c->res) gw_forward(c);
    }
}

int gw_proxy_held(gw_worker *w, const char *model, int kind)
{
    int n = 0;
    bx_queue *q;
    BX_QUEUE_FOREACH(q, &w->calls)
    {
        gw_call *c = bx_container_of(q, gw_call, node);
        if (c->held && (!kind || c->held == kind) &&
            (!model || (c->req.model && strcmp(c->req.model, model) == 0)))
            n++;
    }
    return n;
}

void gw_proxy_cancel_all(gw_worker *w)
{
    bx_queue *q, *next;
    BX_QUEUE_FOREACH_SAFE(q, next, &w->calls)
    {
        gw_call *c = bx_container_of(q, gw_call, node);
        if (c->held) { /* nothing in flight: answer and free it now */
            if (c->res) {
                bx_http_res_set_abort(c->res, NULL, NULL);
                bx_http_res_header(c->res, "Retry-After", "1");
                bx_reply_error(c->res, 503, "ServiceUnavailableError", "the gateway is stopping");
                c->upstream_status = 503;
            }
            c->stopping = 1;
            c->res = NULL;
            c->held = 0;
            gw_finish(c, 0);
            continue;
        }
        if (c->res) bx_http_res_set_abort(c->res, NULL, NULL); /* the call may go first */
        c->res = NULL;
        c->stopping = 1;
        if (c->creq)
            bx_http_client_cancel(c->creq); /* on_done frees the call */
        else if (c->pd_leg)
            gw_pd_leg_cancel(c->pd_leg); /* so does the prefill leg's callback */
    }
}

/* ---------- rate limits (gw_ratelimit, when --redis is set) ---------- */

static void gw_limits_cb(void *ud, gw_rl_verdict v, int retry_after_s)
{
    gw_call *c = ud;
    gw_gateway *g = c->w->g;
    int admit = GW_ADMIT_OK;
    uint64_t *count = NULL; /* the counter this verdict bumps, under the registry lock */
    switch (v) {
    case GW_RL_ALLOW:
        break;
    case GW_RL_REJECT_RPM:
        admit = GW_ADMIT_RPM;
        count = &g->stats.rl_rejected_rpm;
        break;
    case GW_RL_REJECT_TPM:
        admit = GW_ADMIT_TPM;
        count = &g->stats.rl_rejected_tpm;
        break;
    case GW_RL_REJECT_UNKNOWN:
        admit = GW_ADMIT_UNKNOWN;
        break;
    case GW_RL_FAIL_OPEN: /* Redis unavailable: admitted unchecked, counted */
        count = &g->stats.rl_fail_open;
        break;
    default: /* GW_RL_ERROR: Redis unavailable and failing closed */
        admit = GW_ADMIT_UNAVAILABLE;
        count = &g->stats.rl_fail_closed;
        break;
    }
    if (count) { /* the common ALLOW takes no lock */
        gw_registry_lock(&g->reg);
        (*count)++;
        gw_registry_unlock(&g->reg);
    }
    gw_proxy_admitted(c, admit, retry_after_s);
}

static void gw_limits_check(gw_worker *w, gw_call *c, const char *user)
{
    if (!w->limits || !user || !*user || !gw_ratelimit_check(w->limits, user, gw_limits_cb, c))
        gw_proxy_admitted(c, GW_ADMIT_OK, 0);
}

static void gw_limits_account(gw_worker *w, const char *user, int64_t total_tokens)
{
    if (w->limits && user && *user && total_tokens > 0)
        gw_ratelimit_account(w->limits, user, total_tokens);
}

/* ---------- held requests (scale from zero) ---------- */

static void gw_hold_tick(uv_timer_t *t)
{
    gw_worker *w = t->data;
    gw_proxy_retry_held(w);
    if (gw_proxy_held(w, NULL, GW_HELD_ANY) == 0) {
        uv_timer_stop(&w->hold_timer);
        w->hold_timer_on = 0;
    }
}

static void gw_hold_timer(gw_worker *w)
{
    if (!w->hold_timer_init) {
        if (uv_timer_init(w->loop, &w->hold_timer) != 0) return;
        w->hold_timer.data = w;
        w->hold_timer_init = 1;
    }
    if (!w->hold_timer_on && uv_timer_start(&w->hold_timer, gw_hold_tick, 100, 100) == 0)
        w->hold_timer_on = 1;
}

/* ---------- the watch over answers in flight ---------- */

static void gw_watch_tick(uv_timer_t *t)
{
    gw_worker *w = t->data;
    if (gw_proxy_watch(w) == 0) {
        uv_timer_stop(&w->watch_timer);
        w->watch_on = 0;
    }
}

static void gw_watch_timer(gw_worker *w)
{
    if (w->watch_on) return;
    if (!w->watch_init) {
        if (uv_timer_init(w->loop, &w->watch_timer) != 0) return;
        w->watch_timer.data = w;
        w->watch_init = 1;
    }
    if (uv_timer_start(&w->watch_timer, gw_watch_tick, GW_WATCH_MS, GW_WATCH_MS) == 0)
        w->watch_on = 1;
}

void gw_proxy_hold_kick(gw_worker *w)
{
    if (w->hold_timer_on) uv_timer_start(&w->hold_timer, gw_hold_tick, 0, 100);
}
