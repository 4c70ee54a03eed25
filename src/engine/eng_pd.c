/* eng_pd: see eng_pd.h. */
#include "engine/eng_pd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bx_json.h"
#include "common/bx_log.h"
#include "common/bx_rand.h"
#include "common/bx_reply.h"
#include "engine/eng_kvlink.h"
#include "engine/eng_kvxfer.h"
#include "engine/eng_server_int.h"

#define ENG_PD_PULL_TIMEOUT_MS 10000
#define ENG_PD_PULL_BODY_MAX 4096
#define ENG_PD_EXPIRE_MS 500

typedef struct eng_pd_stats {
    uint64_t prefills, pins_expired, pins_dropped, served, served_missing;
    uint64_t pulls, pull_failures, recomputed;
    double bytes, link_s;
} eng_pd_stats;

struct eng_pd {
    eng_server *srv;
    eng_pd_hooks h;
    eng_kvxfer_cfg cfg;
    eng_kvpins pins;
    eng_kvlink link;
    double pin_timeout_s;
    char engine_id[48];
    char host[64];
    bx_http_client *cli;
    uv_timer_t expire;
    eng_pd_stats st;
};

/* One pull in flight; outlives its call when the client leaves (c NULL). */
typedef struct eng_pd_pull {
    eng_call *c;
    bx_http_creq *creq;
    int status;
    bx_buf body;
} eng_pd_pull;

static void eng_pd_release_pin(eng_pd *pd, eng_kvpin *p)
{
    eng_sched_unpin(&pd->srv->sched, p->blocks, p->num_blocks);
    free(p->blocks);
}

static void eng_pd_expire_cb(uv_timer_t *t)
{
    eng_pd *pd = t->data;
    eng_kvpin p;
    int n = 0;
    while (eng_kvpins_expire(&pd->pins, pd->h.now(pd->srv), &p) == 0) {
        eng_pd_release_pin(pd, &p);
        pd->st.pins_expired++;
        n++;
    }
    if (n) {
        bx_info("kv transfer: %d pinned prefill(s) expired unread", n);
        pd->h.kick(pd->srv);
    }
}

int eng_pd_open(eng_server *s, const eng_pd_hooks *hooks, char *err, size_t errlen)
{
    const eng_config *c = &s->cfg;
    if (!c->kv_transfer_config) return 0;
    eng_pd *pd = calloc(1, sizeof(*pd));
    if (!pd) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (eng_kvxfer_config_parse(c->kv_transfer_config, strlen(c->kv_transfer_config), &pd->cfg, err,
                                errlen) != 0) {
        free(pd);
        return -1;
    }
    pd->srv = s;
    pd->h = *hooks;
    eng_kvpins_init(&pd->pins);
    eng_kvlink_init(&pd->link, c->kv_link_gbps, c->kv_link_latency_us);
    pd->pin_timeout_s = c->kv_pin_timeout_s;
    uint64_t seed = uv_hrtime() ^ ((uint64_t)uv_os_getpid() << 32) ^ (uint64_t)time(NULL);
    snprintf(pd->engine_id, sizeof(pd->engine_id), "brix-%016llx",
             (unsigned long long)bx_splitmix64(&seed));
    const char *h = c->host;
    if (!h || !h[0] || !strcmp(h, "0.0.0.0") || !strcmp(h, "::") || strlen(h) >= sizeof(pd->host))
        h = "127.0.0.1";
    snprintf(pd->host, sizeof(pd->host), "%s", h);
    bx_http_client_opts o = {.max_idle_per_host = 8, .connect_timeout_ms = 3000};
    if (bx_http_client_init(&pd->cli, s->loop, &o) != 0) {
        snprintf(err, errlen, "cannot create the HTTP client");
        free(pd);
        return -1;
    }
    uv_timer_init(s->loop, &pd->expire);
    pd->expire.data = pd;
    uv_timer_start(&pd->expire, eng_pd_expire_cb, ENG_PD_EXPIRE_MS, ENG_PD_EXPIRE_MS);
    uv_unref((uv_handle_t *)&pd->expire);
    s->pd = pd;
    bx_info("kv transfer: %s as %s (engine id %s; link %g GB/s, %g us; pins kept %g s; on a "
            "failed pull: %s)",
            pd->cfg.connector, eng_kvxfer_role_name(pd->cfg.role), pd->engine_id, c->kv_link_gbps,
            c->kv_link_latency_us, pd->pin_timeout_s,
            pd->cfg.fail_policy == ENG_KV_FAIL_RECOMPUTE ? "recompute" : "fail");
    return 0;
}

static void eng_pd_freed(uv_handle_t *h)
{
    free(h->data);
}

void eng_pd_close(eng_server *s)
{
    eng_pd *pd = s->pd;
    if (!pd) return;
    s->pd = NULL;
    bx_http_client_close(pd->cli);
    eng_kvpins_close(&pd->pins); /* the blocks go with the scheduler */
    uv_timer_stop(&pd->expire);
    uv_close((uv_handle_t *)&pd->expire, eng_pd_freed);
}

int eng_pd_request(eng_server *s, eng_call *c, char *err, size_t errlen)
{
    eng_pd *pd = s->pd;
    if (!pd) return 0; /* vLLM without a connector ignores them */
    eng_kvxfer_params kp;
    const json_t *v = json_object_get(c->req.root, "kv_transfer_params");
    if (eng_kvxfer_params_parse(v, &kp, err, errlen) != 0) return -1;
    if (kp.do_remote_decode && (pd->cfg.role & ENG_KV_PRODUCER)) {
        c->pd_mode = ENG_PD_PREFILL;
        c->max_tokens = 1;
        c->stop_after = 0;
    } else if (kp.do_remote_prefill && (pd->cfg.role & ENG_KV_CONSUMER)) {
        c->pd_mode = ENG_PD_DECODE;
        c->pd_params = kp;
    }
    return 0;
}

/* ---------- decode: the pull ---------- */

static void eng_pd_link_done(uv_timer_t *t)
{
    eng_call *c = t->data;
    c->srv->pd->h.enter_sched(c);
}

/* The pull ended: tokens >= 0 pulled, else why failed. */
static void eng_pd_pulled(eng_call *c, int32_t tokens, const char *why)
{
    eng_server *s = c->srv;
    eng_pd *pd = s->pd;
    if (tokens >= 0 && tokens != c->req.num_ids) why = "the pulled KV is not this prompt's";
    if (!why) {
        int64_t bytes = (int64_t)tokens * (int64_t)s->prof->kv_bytes_per_token;
        double now = pd->h.now(s);
        double done = eng_kvlink_reserve(&pd->link, now, bytes);
        pd->st.pulls++;
        pd->st.bytes += (double)bytes;
        pd->st.link_s += done - now;
        c->pd_remote_tokens = tokens;
        double wall_ms = (done - now) / s->cfg.time_scale * 1000.0;
        if (wall_ms < 0.5) {
            pd->h.enter_sched(c);
        } else {
            c->timer.data = c;
            uv_timer_start(&c->timer, eng_pd_link_done, (uint64_t)(wall_ms + 0.5), 0);
        }
        return;
    }
    pd->st.pull_failures++;
    char msg[512];
    snprintf(msg, sizeof(msg),
             "KV transfer failed: the prefill engine %s:%d does not hold the KV of request %s "
             "(%s)",
             c->pd_params.remote_host, c->pd_params.remote_port, c->pd_params.remote_request_id,
             why);
    if (pd->cfg.fail_policy == ENG_KV_FAIL_RECOMPUTE) {
        pd->st.recomputed++;
        bx_warn("%s: recomputing the prefill here", msg);
        pd->h.enter_sched(c);
        return;
    }
    bx_warn("%s", msg);
    if (c->res) bx_reply_error(c->res, 503, "ServiceUnavailableError", msg);
    c->res = NULL;
    pd->h.call_release(c);
}

static void eng_pd_pull_response(bx_http_creq *cr, int status, const bx_http_header *h, size_t nh,
                                 void *ud)
{
    (void)cr;
    (void)h;
    (void)nh;
    eng_pd_pull *p = ud;
    p->status = status;
}

static void eng_pd_pull_data(bx_http_creq *cr, const char *data, size_t len, void *ud)
{
    (void)cr;
    eng_pd_pull *p = ud;
    if (p->body.len + len <= ENG_PD_PULL_BODY_MAX) bx_buf_append(&p->body, data, len);
}

static void eng_pd_pull_done(bx_http_creq *cr, int err, void *ud)
{
    (void)cr;
    eng_pd_pull *p = ud;
    eng_call *c = p->c;
    if (c) {
        c->pd_pull = NULL;
        char why[200];
        int32_t tokens = -1;
        if (err) {
            snprintf(why, sizeof(why), "its side channel: %s", bx_http_strerror(err));
        } else if (p->status == 200) {
            tokens = eng_kvxfer_pull_ans_parse(p->body.data, p->body.len, ENG_REQ_MAX_TOKENS);
            if (tokens < 0) snprintf(why, sizeof(why), "a malformed side-channel answer");
        } else if (p->status == 404) {
            snprintf(why, sizeof(why), "expired, dropped, or the engine restarted");
        } else {
            snprintf(why, sizeof(why), "its side channel answered %d", p->status);
        }
        eng_pd_pulled(c, tokens, tokens >= 0 ? NULL : why);
    }
    bx_buf_free(&p->body);
    free(p);
}

int eng_pd_enter(eng_call *c)
{
    eng_server *s = c->srv;
    if (c->pd_mode != ENG_PD_DECODE || !s->pd) return 0;
    eng_pd_pull *p = calloc(1, sizeof(*p));
    json_t *body = json_pack("{s:s,s:s?,s:i}", "remote_request_id", c->pd_params.remote_request_id,
                             "remote_engine_id", c->pd_params.remote_engine_id, "num_blocks",
                             (int)c->pd_params.num_blocks);
    char *bs = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!p || !bs) {
        free(p);
        free(bs);
        if (c->res) bx_reply_error(c->res, 500, "InternalServerError", "out of memory");
        c->res = NULL;
        s->pd->h.call_release(c);
        return 1;
    }
    bx_buf_init(&p->body);
    p->c = c;
    bx_http_header hs[1] = {{"Content-Type", "application/json"}};
    bx_http_client_req r = {.method = "POST",
                            .host = c->pd_params.remote_host,
                            .port = c->pd_params.remote_port,
                            .path = "/brix/kv/pull",
                            .headers = hs,
                            .nheaders = 1,
                            .body = bs,
                            .body_len = strlen(bs),
                            .timeout_ms = ENG_PD_PULL_TIMEOUT_MS};
    bx_http_client_cbs cbs = {eng_pd_pull_response, eng_pd_pull_data, eng_pd_pull_done};
    int rc = bx_http_client_request(s->pd->cli, &r, &cbs, p, &p->creq);
    free(bs);
    if (rc != 0) {
        bx_buf_free(&p->body);
        free(p);
        eng_pd_pulled(c, -1, "its side channel could not be reached");
        return 1;
    }
    c->pd_pull = p;
    return 1;
}

void eng_pd_call_release(eng_call *c)
{
    if (c->pd_pull) {
        eng_pd_pull *p = c->pd_pull;
        p->c = NULL;
        c->pd_pull = NULL;
        if (p->creq) bx_http_client_cancel(p->creq); /* on_done frees p */
    }
    free(c->kvx_json);
    c->kvx_json = NULL;
}

/* ---------- prefill: pin and answer ---------- */

void eng_pd_finished(eng_server *s, eng_call *c, eng_seq *q, int ok, double now)
{
    eng_pd *pd = s->pd;
    if (!pd || c->pd_mode != ENG_PD_PREFILL || !ok || c->req.stream || q->num_blocks <= 0) return;
    int32_t n = q->num_blocks;
    int32_t *blocks = malloc((size_t)n * sizeof(*blocks));
    bx_buf j;
    bx_buf_init(&j);
    if (!blocks) return; /* the blocks are released with q; no params: the decode recomputes */
    memcpy(blocks, q->blocks, (size_t)n * sizeof(*blocks));
    bx_buf_printf(&j,
                  "{\"do_remote_prefill\":true,\"do_remote_decode\":false,\"remote_engine_id\":"
                  "\"%s\",\"remote_host\":\"%s\",\"remote_port\":%d,\"remote_request_id\":\"%s\","
                  "\"tp_size\":1,\"remote_block_ids\":[",
                  pd->engine_id, pd->host, s->port, c->id);
    for (int32_t i = 0; i < n; i++)
        bx_buf_printf(&j, "%s%d", i ? "," : "", blocks[i]);
    if (bx_buf_appends(&j, "]}") != 0 || !j.data) {
        free(blocks);
        bx_buf_free(&j);
        return;
    }
    eng_kvpin dropped;
    int r = eng_kvpins_add(&pd->pins, c->id, blocks, n, q->num_prompt, now + pd->pin_timeout_s,
                           &dropped);
    if (r < 0) {
        free(blocks);
        bx_buf_free(&j);
        return;
    }
    if (r == 1) {
        eng_pd_release_pin(pd, &dropped);
        pd->st.pins_dropped++;
    }
    q->num_blocks = 0; /* the pin holds them now */
    q->num_stored = 0;
    pd->st.prefills++;
    c->kvx_json = strndup(j.data, j.len);
    bx_buf_free(&j);
}

void eng_pd_handle_pull(eng_server *s, bx_http_req *hr, bx_http_res *res)
{
    eng_pd *pd = s->pd;
    if (!pd || !(pd->cfg.role & ENG_KV_PRODUCER)) {
        bx_reply_error(res, 404, "NotFoundError", "this engine is not a KV producer");
        return;
    }
    char id[ENG_KVXFER_ID_MAX], eid[ENG_KVXFER_ID_MAX];
    if (eng_kvxfer_pull_req_parse(hr->body, hr->body_len, id, eid) != 0) {
        bx_reply_error(res, 400, "BadRequestError", "remote_request_id is required");
        return;
    }
    eng_kvpin p;
    int other = eid[0] && strcmp(eid, pd->engine_id) != 0;
    if (other || eng_kvpins_take(&pd->pins, id, &p) != 0) {
        pd->st.served_missing++;
        bx_reply_error(res, 404, "NotFoundError",
                       other ? "another engine id: this engine restarted since the prefill"
                             : "no KV is pinned for this request (expired, dropped or pulled)");
        return;
    }
    pd->st.served++;
    int64_t bytes = (int64_t)p.tokens * (int64_t)s->prof->kv_bytes_per_token;
    bx_reply_json(res, 200,
                  json_pack("{s:i,s:i,s:I}", "tokens", (int)p.tokens, "blocks", (int)p.num_blocks,
                            "bytes", (json_int_t)bytes));
    eng_pd_release_pin(pd, &p); /* read: NIXL frees them at the decode's notification */
    pd->h.kick(s);
}

int eng_pd_render(eng_server *s, bx_buf *b)
{
    eng_pd *pd = s->pd;
    if (!pd) return 0;
    const char *l = eng_metrics_labels(s->metrics);
    const eng_pd_stats *st = &pd->st;
    struct {
        const char *name, *type, *help;
        double v;
    } m[] = {
        {"prefills_total", "counter", "prefills answered for a remote decode (do_remote_decode)",
         (double)st->prefills},
        {"pins", "gauge", "prefills whose KV is pinned for a decode engine", (double)pd->pins.n},
        {"pinned_blocks", "gauge", "GPU blocks held by those pins", (double)pd->pins.blocks},
        {"pins_expired_total", "counter", "pins released unread after --kv-pin-timeout",
         (double)st->pins_expired},
        {"pins_dropped_total", "counter", "pins released unread because the table was full",
         (double)st->pins_dropped},
        {"served_total", "counter", "pulls served to decode engines", (double)st->served},
        {"served_missing_total", "counter", "pulls for KV this engine no longer holds",
         (double)st->served_missing},
        {"pulls_total", "counter", "remote prefills pulled (do_remote_prefill)", (double)st->pulls},
        {"pull_failures_total", "counter", "pulls that failed (the prefill side dropped the KV)",
         (double)st->pull_failures},
        {"recomputed_total", "counter", "failed pulls recomputed here (policy recompute)",
         (double)st->recomputed},
        {"bytes_total", "counter", "KV bytes pulled over the modelled link", st->bytes},
        {"link_seconds_total", "counter",
         "simulated seconds of those transfers (queueing included)", st->link_s},
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
        if (bx_buf_printf(b,
                          "# HELP brix:kv_transfer_%s %s\n# TYPE brix:kv_transfer_%s %s\n"
                          "brix:kv_transfer_%s{%s} %.17g\n",
                          m[i].name, m[i].help, m[i].name, m[i].type, m[i].name, l, m[i].v) != 0)
            return -1;
    return 0;
}
