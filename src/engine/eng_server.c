/* eng_server: see eng_server.h. Requests become eng_call objects that live
 * from the HTTP request until their response is finished or the client goes
 * away; the scheduler's callbacks turn steps into SSE chunks or a final
 * JSON body. Response JSON on the per-token path is written with printf into
 * a reused buffer (the text pieces and model name are pre-escaped), jansson
 * is used where shape matters more than speed. */
#include "engine/eng_server.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/bx_buf.h"
#include "common/bx_http.h"
#include "common/bx_log.h"
#include "common/bx_tok.h"
#include "engine/eng_kvpub.h"
#include "engine/eng_metrics.h"
#include "engine/eng_req.h"
#include "engine/eng_sched.h"
#include "engine/eng_timing.h"

/* Generated text: three-letter words, each one token (" xyz"). */
static const char *const eng_words[] = {
    " the", " and", " for", " are", " but", " not", " you", " all", " any", " can", " her",
    " was", " one", " our", " out", " day", " get", " has", " him", " his", " how", " man",
    " new", " now", " old", " see", " two", " way", " who", " boy", " did", " its", " let",
    " put", " say", " she", " too", " use", " cat", " dog", " sun", " sky", " sea", " map",
    " key", " box", " red", " big", " run", " fly", " art", " air", " car", " law", " age",
    " job", " end", " top", " low", " far", " few", " own", " yes", " set"};
#define ENG_NWORDS ((int)(sizeof(eng_words) / sizeof(eng_words[0])))

typedef struct eng_call eng_call;

struct eng_server {
    uv_loop_t *loop;
    eng_config cfg;
    const eng_profile *prof;
    char served[256];
    int32_t max_model_len;
    double lora_load_s;
    bx_http_server *http;
    int port;
    eng_sched sched;
    int sched_ok;
    eng_metrics *metrics;
    eng_kvpub kvpub;
    int kv_on;
    uv_poll_t kv_poll;
    int kv_poll_on;
    uv_timer_t step_timer;
    uint64_t wall0_ns;
    double step_end;
    int stepping;
    uint64_t rng;
    uint64_t next_id;
    int64_t tokens_emitted;
    int32_t frontend_pending; /* requests in their API-overhead delay */
    uint32_t word_ids[64];
    bx_buf scratch; /* reused for chunks */
    /* 10-second window for the V0 throughput gauges */
    double win_start;
    uint64_t win_prompt0, win_gen0;
    double prompt_tps, gen_tps;
    eng_call *calls; /* every live call, for shutdown */
};

struct eng_call {
    eng_server *srv;
    eng_call *prev, *next;
    bx_http_res *res;
    eng_seq *seq;
    eng_req req;
    uv_timer_t timer;
    int timer_on;
    int in_frontend;
    char id[48];
    char model[256];
    int64_t created;
    double arrival;
    int lora;
    int32_t prompt_tokens, completion_tokens, cached_tokens;
    int32_t max_tokens, max_tokens_param, stop_after;
    int stream_started;
    int last_word;
    double last_token_ts;
    uint64_t text_seed;
    bx_buf text; /* non-streaming answer */
};

/* ---------- small helpers ---------- */

static double eng_now(const eng_server *s)
{
    return (double)(uv_hrtime() - s->wall0_ns) / 1e9 * s->cfg.time_scale;
}

static double eng_wall_elapsed(const eng_server *s)
{
    return (double)(uv_hrtime() - s->wall0_ns) / 1e9;
}

static double eng_unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t eng_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double eng_uniform(uint64_t *x)
{
    return (double)(eng_splitmix(x) >> 11) / 9007199254740992.0;
}

static double eng_gauss(uint64_t *x)
{
    double u1 = eng_uniform(x), u2 = eng_uniform(x);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static void eng_send_error(bx_http_res *res, int status, const char *type, const char *msg)
{
    json_t *o = json_pack("{s:{s:s, s:s, s:n, s:i}}", "error", "message", msg, "type", type,
                          "param", "code", status);
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (body) bx_http_res_send(res, status, "application/json", body, strlen(body));
    else bx_http_res_send(res, 500, "text/plain", "internal error\n", 15);
    free(body);
    json_decref(o);
}

static void eng_send_json(bx_http_res *res, int status, json_t *o)
{
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (body) bx_http_res_send(res, status, "application/json", body, strlen(body));
    else eng_send_error(res, 500, "InternalServerError", "out of memory");
    free(body);
    json_decref(o);
}

/* ---------- call lifecycle ---------- */

static void eng_call_freed(uv_handle_t *h)
{
    eng_call *c = h->data;
    eng_req_free(&c->req);
    bx_buf_free(&c->text);
    free(c);
}

static void eng_call_release(eng_call *c)
{
    eng_server *s = c->srv;
    if (c->prev) c->prev->next = c->next;
    else s->calls = c->next;
    if (c->next) c->next->prev = c->prev;
    if (c->in_frontend) s->frontend_pending--;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, eng_call_freed);
}

static eng_call *eng_call_new(eng_server *s, bx_http_res *res)
{
    eng_call *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->srv = s;
    c->res = res;
    c->lora = -1;
    bx_buf_init(&c->text);
    uv_timer_init(s->loop, &c->timer);
    c->timer.data = c;
    c->next = s->calls;
    if (s->calls) s->calls->prev = c;
    s->calls = c;
    return c;
}

/* ---------- step loop ---------- */

static void eng_step_timer_cb(uv_timer_t *t);

static void eng_kv_flush(eng_server *s)
{
    if (!s->kv_on) return;
    eng_kvpub_flush(&s->kvpub, eng_unix_now());
    /* ZMQ_FD is edge-triggered: keep long replay answers moving */
    if (eng_kvpub_replay_active(&s->kvpub) > 0) eng_kvpub_replay_poll(&s->kvpub);
}

/* Plans a step starting at t0; arms the timer for its end. */
static int eng_step_begin(eng_server *s, double t0)
{
    eng_step_work w;
    if (eng_sched_plan(&s->sched, t0, &w) == 0) {
        s->stepping = 0;
        eng_sched_commit(&s->sched, t0);
        eng_kv_flush(s);
        return 0;
    }
    double d = eng_timing_step(s->prof, &w);
    if (s->cfg.jitter > 0) {
        double f = 1.0 + s->cfg.jitter * eng_gauss(&s->rng);
        d *= f < 0.5 ? 0.5 : f;
    }
    eng_metrics_iteration(s->metrics, w.tokens);
    s->step_end = t0 + d;
    s->stepping = 1;
    return 1;
}

static void eng_step_arm(eng_server *s)
{
    double wait_s = (s->step_end - eng_now(s)) / s->cfg.time_scale;
    uint64_t ms = wait_s > 0 ? (uint64_t)ceil(wait_s * 1000.0) : 0;
    uv_timer_start(&s->step_timer, eng_step_timer_cb, ms, 0);
}

static void eng_kick(eng_server *s)
{
    if (s->stepping || !eng_sched_has_work(&s->sched)) return;
    double now = eng_now(s);
    if (eng_step_begin(s, now > s->step_end ? now : s->step_end)) eng_step_arm(s);
}

static void eng_step_timer_cb(uv_timer_t *t)
{
    eng_server *s = t->data;
    double now = eng_now(s);
    int guard = 0;
    for (;;) {
        double end = s->step_end;
        eng_sched_commit(&s->sched, end);
        eng_kv_flush(s);
        s->stepping = 0;
        if (!eng_sched_has_work(&s->sched)) return;
        if (!eng_step_begin(s, end)) return;
        if (s->step_end > now || ++guard > 10000) break;
    }
    eng_step_arm(s);
}

/* ---------- scheduler callbacks ---------- */

static uint32_t eng_gen_token(eng_seq *q, int32_t i, void *ud)
{
    eng_server *s = ud;
    eng_call *c = q->ud;
    uint64_t x = c->text_seed + (uint64_t)i;
    int w = (int)(eng_splitmix(&x) % ENG_NWORDS);
    c->last_word = w;
    return s->word_ids[w];
}

static void eng_usage_json(bx_buf *b, const eng_call *c, int details)
{
    bx_buf_printf(b,
                  "\"usage\":{\"prompt_tokens\":%d,\"total_tokens\":%d,\"completion_tokens\":%d,"
                  "\"prompt_tokens_details\":",
                  c->prompt_tokens, c->prompt_tokens + c->completion_tokens, c->completion_tokens);
    if (details) bx_buf_printf(b, "{\"cached_tokens\":%d}}", c->cached_tokens);
    else bx_buf_appends(b, "null}");
}

/* Model names are validated to plain characters at resolution time, so they
 * are written without escaping. */
static void eng_chunk_head(eng_server *s, eng_call *c)
{
    bx_buf *b = &s->scratch;
    bx_buf_reset(b);
    bx_buf_printf(b,
                  "data: {\"id\":\"%s\",\"object\":\"%s\",\"created\":%lld,\"model\":\"%s\","
                  "\"choices\":[",
                  c->id, c->req.api == ENG_API_CHAT ? "chat.completion.chunk" : "text_completion",
                  (long long)c->created, c->model);
}

static void eng_chunk_send(eng_server *s, eng_call *c, int with_usage)
{
    bx_buf *b = &s->scratch;
    bx_buf_appends(b, "]");
    if (with_usage) {
        bx_buf_appends(b, ",");
        eng_usage_json(b, c, s->cfg.prompt_tokens_details);
    }
    bx_buf_appends(b, "}\n\n");
    bx_http_res_write(c->res, b->data, b->len);
}

static void eng_stream_start(eng_server *s, eng_call *c)
{
    if (c->stream_started) return;
    c->stream_started = 1;
    bx_http_res_header(c->res, "Cache-Control", "no-cache");
    bx_http_res_start(c->res, 200, "text/event-stream; charset=utf-8");
    if (c->req.api == ENG_API_CHAT) {
        eng_chunk_head(s, c);
        bx_buf_appends(&s->scratch, "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
                                    "\"logprobs\":null,\"finish_reason\":null}");
        eng_chunk_send(s, c, c->req.continuous_usage);
    }
}

static void eng_stream_token(eng_server *s, eng_call *c, const char *text, const char *finish)
{
    eng_stream_start(s, c);
    eng_chunk_head(s, c);
    bx_buf *b = &s->scratch;
    if (c->req.api == ENG_API_CHAT)
        bx_buf_printf(b, "{\"index\":0,\"delta\":{\"content\":\"%s\"},\"logprobs\":null,", text);
    else
        bx_buf_printf(b, "{\"index\":0,\"text\":\"%s\",\"logprobs\":null,", text);
    if (finish) bx_buf_printf(b, "\"finish_reason\":\"%s\",\"stop_reason\":null}", finish);
    else bx_buf_appends(b, "\"finish_reason\":null}");
    eng_chunk_send(s, c, c->req.continuous_usage);
}

static const char *eng_finish_name(enum eng_finish f)
{
    switch (f) {
    case ENG_FINISH_LENGTH: return "length";
    case ENG_FINISH_STOP: return "stop";
    case ENG_FINISH_ABORT: return "abort";
    default: return "error";
    }
}

static void eng_on_token(eng_seq *q, uint32_t id, double now, void *ud)
{
    (void)id;
    eng_server *s = ud;
    eng_call *c = q->ud;
    int32_t g = eng_seq_generated(q); /* includes this token */
    c->completion_tokens = g;
    if (g == 1) {
        eng_metrics_ttft(s->metrics, now - c->arrival);
        c->cached_tokens = q->num_cached_tokens;
    } else {
        eng_metrics_itl(s->metrics, now - c->last_token_ts);
    }
    c->last_token_ts = now;
    s->tokens_emitted++;
    const char *text = eng_words[c->last_word];
    if (c->res) {
        if (c->req.stream) {
            const char *finish = NULL;
            if (g >= q->max_tokens) finish = "length";
            else if (q->stop_after > 0 && g >= q->stop_after) finish = "stop";
            eng_stream_token(s, c, text, finish);
        } else {
            bx_buf_appends(&c->text, text);
        }
    }
    if (s->cfg.fault_crash_after_tokens > 0 && s->tokens_emitted >= s->cfg.fault_crash_after_tokens) {
        bx_error("fault injection: crashing after %lld tokens", (long long)s->tokens_emitted);
        kill(getpid(), SIGKILL);
    }
}

static void eng_reply_whole(eng_server *s, eng_call *c, const char *finish)
{
    bx_buf *b = &s->scratch;
    bx_buf_reset(b);
    json_t *text = json_stringn(c->text.data ? c->text.data : "", c->text.len);
    char *etext = json_dumps(text, JSON_ENCODE_ANY);
    json_decref(text);
    if (!etext) {
        eng_send_error(c->res, 500, "InternalServerError", "out of memory");
        return;
    }
    if (c->req.api == ENG_API_CHAT)
        bx_buf_printf(b,
                      "{\"id\":\"%s\",\"object\":\"chat.completion\",\"created\":%lld,\"model\":"
                      "\"%s\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                      "\"content\":%s,\"tool_calls\":[]},\"logprobs\":null,\"finish_reason\":"
                      "\"%s\",\"stop_reason\":null}],",
                      c->id, (long long)c->created, c->model, etext, finish);
    else
        bx_buf_printf(b,
                      "{\"id\":\"%s\",\"object\":\"text_completion\",\"created\":%lld,\"model\":"
                      "\"%s\",\"choices\":[{\"index\":0,\"text\":%s,\"logprobs\":null,"
                      "\"finish_reason\":\"%s\",\"stop_reason\":null,\"prompt_logprobs\":null}],",
                      c->id, (long long)c->created, c->model, etext, finish);
    free(etext);
    eng_usage_json(b, c, s->cfg.prompt_tokens_details);
    bx_buf_appends(b, "}");
    bx_http_res_send(c->res, 200, "application/json", b->data, b->len);
}

static void eng_on_finish(eng_seq *q, enum eng_finish why, double now, void *ud)
{
    eng_server *s = ud;
    eng_call *c = q->ud;
    c->seq = NULL;
    int32_t g = eng_seq_generated(q);
    eng_metrics_finish f = {.reason = eng_finish_name(why),
                            .produced = g > 0,
                            .prompt_tokens = q->num_prompt,
                            .generation_tokens = g,
                            .max_tokens_param = c->max_tokens_param,
                            .e2e_s = now - c->arrival};
    if (q->ever_scheduled) {
        f.queue_s = q->scheduled_ts - c->arrival;
        if (g > 0) {
            f.prefill_s = q->first_token_ts - q->scheduled_ts;
            f.decode_s = q->last_token_ts - q->first_token_ts;
            f.inference_s = q->last_token_ts - q->scheduled_ts;
            f.tpot_s = g > 1 ? f.decode_s / (g - 1) : 0;
        }
    }
    eng_metrics_finished(s->metrics, &f);
    if (c->res) {
        if (c->req.stream) {
            eng_stream_start(s, c);
            if (c->req.include_usage) {
                eng_chunk_head(s, c);
                eng_chunk_send(s, c, 1);
            }
            bx_http_res_write(c->res, "data: [DONE]\n\n", 14);
            bx_http_res_end(c->res);
        } else {
            eng_reply_whole(s, c, eng_finish_name(why));
        }
        c->res = NULL;
    }
    eng_call_release(c);
}

static void eng_on_stored(eng_seq *q, int32_t first, int32_t n, void *ud)
{
    eng_server *s = ud;
    if (!s->kv_on) return;
    int32_t bs = s->sched.cfg.block_size;
    bx_kvev_event ev = {.type = BX_KVEV_BLOCK_STORED,
                        .block_hashes = q->keys + first,
                        .n_hashes = (size_t)n,
                        .medium = BX_KVEV_MEDIUM_GPU,
                        .has_parent = first > 0,
                        .parent_block_hash = first > 0 ? q->keys[first - 1] : 0,
                        .token_ids = q->tokens + (size_t)first * bs,
                        .n_tokens = (size_t)n * bs,
                        .block_size = (uint32_t)bs};
    if (q->lora >= 0) {
        ev.has_lora_id = true;
        ev.lora_id = s->sched.lora.a[q->lora].id;
        ev.lora_name = s->sched.lora.a[q->lora].name;
    }
    eng_kvpub_block_stored(&s->kvpub, &ev);
}

static void eng_on_removed(uint64_t key, void *ud)
{
    eng_server *s = ud;
    if (s->kv_on) eng_kvpub_block_removed(&s->kvpub, &key, 1);
}

/* ---------- generation requests ---------- */

static void eng_enter_sched(eng_call *c)
{
    eng_server *s = c->srv;
    c->seq = eng_sched_add(&s->sched, c->req.ids, c->req.num_ids, c->max_tokens, c->lora,
                           c->arrival, c);
    if (!c->seq) {
        eng_send_error(c->res, 500, "InternalServerError", "out of memory");
        c->res = NULL;
        eng_call_release(c);
        return;
    }
    c->seq->stop_after = c->stop_after;
    eng_kick(s);
}

static void eng_frontend_done(uv_timer_t *t)
{
    eng_call *c = t->data;
    c->in_frontend = 0;
    c->srv->frontend_pending--;
    eng_enter_sched(c);
}

static void eng_call_abort(bx_http_res *res, void *ud)
{
    (void)res;
    eng_call *c = ud;
    eng_server *s = c->srv;
    c->res = NULL;
    if (c->seq) eng_sched_abort(&s->sched, c->seq, eng_now(s)); /* on_finish releases */
    else eng_call_release(c);
}

/* Resolves the request's model to the base model (-1) or an adapter. */
static int eng_resolve_model(eng_server *s, const char *model, int *lora)
{
    *lora = -1;
    if (!model || !strcmp(model, s->served)) return 0;
    if (s->cfg.enable_lora) {
        int i = eng_lora_find(&s->sched.lora, model);
        if (i >= 0) {
            *lora = i;
            return 0;
        }
    }
    return -1;
}

static void eng_handle_generate(eng_server *s, bx_http_req *hr, bx_http_res *res, enum eng_api api)
{
    eng_call *c = eng_call_new(s, res);
    if (!c) {
        eng_send_error(res, 500, "InternalServerError", "out of memory");
        return;
    }
    char err[512];
    if (eng_req_parse(api, hr->body, hr->body_len, &c->req, err, sizeof(err)) != 0) {
        eng_send_error(res, 400, "BadRequestError", err);
        c->res = NULL;
        eng_call_release(c);
        return;
    }
    if (eng_resolve_model(s, c->req.model, &c->lora) != 0) {
        snprintf(err, sizeof(err), "The model `%.200s` does not exist.", c->req.model);
        eng_send_error(res, 404, "NotFoundError", err);
        c->res = NULL;
        eng_call_release(c);
        return;
    }
    snprintf(c->model, sizeof(c->model), "%s",
             c->lora >= 0 ? s->sched.lora.a[c->lora].name : s->served);
    int32_t np = c->req.num_ids;
    c->prompt_tokens = np;
    c->max_tokens_param = c->req.max_tokens;
    if (c->req.max_tokens > 0) {
        c->max_tokens = c->req.max_tokens;
    } else if (api == ENG_API_COMPLETIONS) {
        c->max_tokens = 16; /* vLLM's completions default */
    } else {
        c->max_tokens = s->max_model_len - np;
    }
    if (np >= s->max_model_len || (int64_t)np + c->max_tokens > s->max_model_len) {
        snprintf(err, sizeof(err),
                 "This model's maximum context length is %d tokens. However, you requested %lld "
                 "tokens (%d in the messages, %d in the completion). Please reduce the length "
                 "of the messages or completion.",
                 s->max_model_len, (long long)np + (c->max_tokens > 0 ? c->max_tokens : 0), np,
                 c->max_tokens > 0 ? c->max_tokens : 0);
        eng_send_error(res, 400, "BadRequestError", err);
        c->res = NULL;
        eng_call_release(c);
        return;
    }
    if (s->cfg.max_waiting > 0 &&
        s->sched.num_waiting + s->frontend_pending >= s->cfg.max_waiting) {
        bx_http_res_header(res, "Retry-After", "1");
        eng_send_error(res, 503, "ServiceUnavailableError",
                       "The engine is overloaded: its waiting queue is full. Retry later.");
        c->res = NULL;
        eng_call_release(c);
        return;
    }
    /* Faults: a header forces one, rates draw one. */
    const char *fh = bx_http_req_header(hr, "x-brix-fault");
    double u = eng_uniform(&s->rng);
    if ((fh && !strcmp(fh, "error")) || u < s->cfg.fault_error_rate) {
        eng_send_error(res, 500, "InternalServerError", "injected fault: engine error");
        c->res = NULL;
        eng_call_release(c);
        return;
    }
    if ((fh && !strcmp(fh, "hang")) ||
        (s->cfg.fault_hang_rate > 0 && eng_uniform(&s->rng) < s->cfg.fault_hang_rate)) {
        bx_http_res_set_abort(res, eng_call_abort, c); /* never answered */
        return;
    }
    /* vLLM stops at EOS unless ignore_eos; without max_tokens the simulated
     * answer length is drawn like llm-d's (mean 40, sd 20). */
    c->text_seed = XXH64(c->req.ids, (size_t)np * sizeof(uint32_t), s->cfg.seed);
    if (c->req.max_tokens <= 0 && api == ENG_API_CHAT && !c->req.ignore_eos) {
        uint64_t x = c->text_seed ^ 0x5eedULL;
        double l = 40.0 + 20.0 * eng_gauss(&x);
        int32_t n = l < 1 ? 1 : (int32_t)l;
        if (n > c->max_tokens) n = c->max_tokens;
        c->stop_after = n;
    }
    const char *rid = bx_http_req_header(hr, "x-request-id");
    if (rid) bx_http_res_header(res, "X-Request-Id", rid);
    snprintf(c->id, sizeof(c->id), "%s-%016llx%08llx", api == ENG_API_CHAT ? "chatcmpl" : "cmpl",
             (unsigned long long)eng_splitmix(&s->rng), (unsigned long long)++s->next_id);
    c->created = (int64_t)time(NULL);
    c->arrival = eng_now(s);
    bx_http_res_set_abort(res, eng_call_abort, c);
    /* the frontend (HTTP, tokenization) takes api_overhead_s before the
     * request reaches the scheduler, as in vLLM's API server process */
    double delay = s->prof->api_overhead_s / s->cfg.time_scale;
    if (delay >= 0.0005) {
        c->in_frontend = 1;
        s->frontend_pending++;
        uv_timer_start(&c->timer, eng_frontend_done, (uint64_t)(delay * 1000.0 + 0.5), 0);
    } else {
        eng_enter_sched(c);
    }
}

/* Names written into JSON unescaped must be plain. */
static int eng_name_ok(const char *n)
{
    if (!*n || strlen(n) >= ENG_LORA_NAME_MAX) return 0;
    for (const unsigned char *p = (const unsigned char *)n; *p; p++)
        if (*p < 0x20 || *p == '"' || *p == '\\' || *p == 0x7f) return 0;
    return 1;
}

/* ---------- other endpoints ---------- */

static void eng_handle_embeddings(eng_server *s, bx_http_req *hr, bx_http_res *res)
{
    eng_req r;
    char err[512];
    if (eng_req_parse(ENG_API_EMBEDDINGS, hr->body, hr->body_len, &r, err, sizeof(err)) != 0) {
        eng_req_free(&r);
        eng_send_error(res, 400, "BadRequestError", err);
        return;
    }
    int lora;
    if (eng_resolve_model(s, r.model, &lora) != 0) {
        snprintf(err, sizeof(err), "The model `%.200s` does not exist.", r.model);
        eng_req_free(&r);
        eng_send_error(res, 404, "NotFoundError", err);
        return;
    }
    int32_t dim = r.dimensions > 0 ? r.dimensions : s->cfg.embedding_dim;
    bx_buf *b = &s->scratch;
    bx_buf_reset(b);
    bx_buf_printf(b, "{\"id\":\"embd-%016llx\",\"object\":\"list\",\"created\":%lld,\"model\":\"%s\",\"data\":[",
                  (unsigned long long)eng_splitmix(&s->rng), (long long)time(NULL),
                  lora >= 0 ? s->sched.lora.a[lora].name : s->served);
    double *v = malloc((size_t)dim * sizeof(*v));
    if (!v) {
        eng_req_free(&r);
        eng_send_error(res, 500, "InternalServerError", "out of memory");
        return;
    }
    for (int32_t i = 0; i < r.num_inputs; i++) {
        int32_t off = r.input_off[i], n = r.input_off[i + 1] - off;
        if (n > s->max_model_len) {
            free(v);
            snprintf(err, sizeof(err),
                     "This model's maximum context length is %d tokens. However, you requested "
                     "%d tokens in the input for embedding generation. Please reduce the length "
                     "of the input.",
                     s->max_model_len, n);
            eng_req_free(&r);
            eng_send_error(res, 400, "BadRequestError", err);
            return;
        }
        uint64_t x = XXH64(r.ids + off, (size_t)n * sizeof(uint32_t), 0xe5bedULL);
        double norm = 0;
        for (int32_t k = 0; k < dim; k++) {
            v[k] = eng_gauss(&x);
            norm += v[k] * v[k];
        }
        norm = sqrt(norm);
        bx_buf_printf(b, "%s{\"index\":%d,\"object\":\"embedding\",\"embedding\":[", i ? "," : "", i);
        for (int32_t k = 0; k < dim; k++) bx_buf_printf(b, "%s%.7g", k ? "," : "", v[k] / norm);
        bx_buf_appends(b, "]}");
    }
    free(v);
    bx_buf_printf(b, "],\"usage\":{\"prompt_tokens\":%d,\"total_tokens\":%d,\"completion_tokens\":0,\"prompt_tokens_details\":null}}",
                  r.num_ids, r.num_ids);
    eng_req_free(&r);
    bx_http_res_send(res, 200, "application/json", b->data, b->len);
}

static void eng_handle_tokenize(eng_server *s, bx_http_req *hr, bx_http_res *res)
{
    eng_req r;
    char err[512];
    if (eng_req_parse(ENG_API_TOKENIZE, hr->body, hr->body_len, &r, err, sizeof(err)) != 0) {
        eng_req_free(&r);
        eng_send_error(res, 400, "BadRequestError", err);
        return;
    }
    int lora;
    if (r.model && eng_resolve_model(s, r.model, &lora) != 0) {
        snprintf(err, sizeof(err), "The model `%.200s` does not exist.", r.model);
        eng_req_free(&r);
        eng_send_error(res, 404, "NotFoundError", err);
        return;
    }
    bx_buf *b = &s->scratch;
    bx_buf_reset(b);
    bx_buf_printf(b, "{\"count\":%d,\"max_model_len\":%d,\"tokens\":[", r.num_ids, s->max_model_len);
    for (int32_t i = 0; i < r.num_ids; i++) bx_buf_printf(b, "%s%u", i ? "," : "", r.ids[i]);
    bx_buf_appends(b, "],\"token_strs\":null}");
    eng_req_free(&r);
    bx_http_res_send(res, 200, "application/json", b->data, b->len);
}

static void eng_handle_models(eng_server *s, bx_http_res *res)
{
    json_t *data = json_array();
    long long now = (long long)time(NULL);
    json_array_append_new(
        data, json_pack("{s:s, s:s, s:I, s:s, s:s, s:n, s:i, s:[{s:s, s:s, s:I, s:b, s:b, s:b, "
                        "s:b, s:b, s:b, s:s, s:n, s:b}]}",
                        "id", s->served, "object", "model", "created", now, "owned_by", "vllm",
                        "root", s->cfg.model, "parent", "max_model_len", s->max_model_len,
                        "permission", "id", "modelperm-brix", "object", "model_permission",
                        "created", now, "allow_create_engine", 0, "allow_sampling", 1,
                        "allow_logprobs", 1, "allow_search_indices", 0, "allow_view", 1,
                        "allow_fine_tuning", 0, "organization", "*", "group", "is_blocking", 0));
    if (s->cfg.enable_lora) {
        for (int i = 0; i < ENG_LORA_MAX; i++) {
            const eng_lora_adapter *a = &s->sched.lora.a[i];
            if (!a->id || !a->name[0]) continue;
            json_array_append_new(data, json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:n, s:[]}", "id",
                                                  a->name, "object", "model", "created", now,
                                                  "owned_by", "vllm", "root", a->path, "parent",
                                                  s->served, "max_model_len", "permission"));
        }
    }
    eng_send_json(res, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

struct eng_lora_load {
    eng_server *srv;
    bx_http_res *res;
    uv_timer_t timer;
    char name[ENG_LORA_NAME_MAX];
    char path[ENG_LORA_PATH_MAX];
};

static void eng_lora_load_freed(uv_handle_t *h)
{
    free(h->data);
}

static void eng_lora_load_abort(bx_http_res *res, void *ud)
{
    (void)res;
    struct eng_lora_load *l = ud;
    l->res = NULL;
}

static void eng_lora_load_done(uv_timer_t *t)
{
    struct eng_lora_load *l = t->data;
    eng_server *s = l->srv;
    int rc = eng_lora_add(&s->sched.lora, l->name, l->path);
    if (l->res) {
        char msg[ENG_LORA_NAME_MAX + 256];
        if (rc == 0) {
            snprintf(msg, sizeof(msg), "Success: LoRA adapter '%s' added successfully.", l->name);
            bx_http_res_send(l->res, 200, "text/plain; charset=utf-8", msg, strlen(msg));
        } else if (rc == -EEXIST) {
            snprintf(msg, sizeof(msg),
                     "The lora adapter '%s' has already been loaded. If you want to load the "
                     "adapter in place, set 'load_inplace' to True.",
                     l->name);
            eng_send_error(l->res, 400, "InvalidUserInput", msg);
        } else {
            eng_send_error(l->res, 400, "BadRequestError",
                           "cannot load more adapters: the adapter table is full");
        }
    }
    if (rc == 0) bx_info("LoRA adapter '%s' loaded from %s", l->name, l->path);
    uv_close((uv_handle_t *)&l->timer, eng_lora_load_freed);
}

static void eng_handle_lora(eng_server *s, bx_http_req *hr, bx_http_res *res, int load)
{
    json_error_t je;
    json_t *o = json_loadb(hr->body, hr->body_len, 0, &je);
    const char *name = json_string_value(json_object_get(o, "lora_name"));
    const char *path = json_string_value(json_object_get(o, "lora_path"));
    int inplace = json_is_true(json_object_get(o, "load_inplace"));
    char msg[ENG_LORA_NAME_MAX + 256];
    if (!json_is_object(o)) {
        snprintf(msg, sizeof(msg), "Invalid JSON: %s", o ? "expected an object" : je.text);
        eng_send_error(res, 400, "BadRequestError", msg);
    } else if (load && (!name || !path || !*name || !*path)) {
        eng_send_error(res, 400, "InvalidUserInput",
                       "Both 'lora_name' and 'lora_path' must be provided.");
    } else if (!load && (!name || !*name)) {
        eng_send_error(res, 400, "InvalidUserInput", "'lora_name' needs to be provided to unload a LoRA adapter.");
    } else if (!eng_name_ok(name) || (load && strlen(path) >= ENG_LORA_PATH_MAX)) {
        eng_send_error(res, 400, "InvalidUserInput",
                       "'lora_name' must be 1-127 printable characters without quotes or "
                       "backslashes, and 'lora_path' shorter than 512 bytes.");
    } else if (!strcmp(name, s->served)) {
        eng_send_error(res, 400, "InvalidUserInput", "an adapter cannot take the base model's name");
    } else if (!load) {
        if (eng_lora_remove(&s->sched.lora, name) == 0) {
            snprintf(msg, sizeof(msg), "Success: LoRA adapter '%s' removed successfully.", name);
            bx_http_res_send(res, 200, "text/plain; charset=utf-8", msg, strlen(msg));
            bx_info("LoRA adapter '%s' unloaded", name);
        } else {
            snprintf(msg, sizeof(msg), "The lora adapter '%s' cannot be found.", name);
            eng_send_error(res, 404, "NotFoundError", msg);
        }
    } else if (eng_lora_find(&s->sched.lora, name) >= 0 && !inplace) {
        snprintf(msg, sizeof(msg),
                 "The lora adapter '%s' has already been loaded. If you want to load the adapter "
                 "in place, set 'load_inplace' to True.",
                 name);
        eng_send_error(res, 400, "InvalidUserInput", msg);
    } else {
        if (inplace) eng_lora_remove(&s->sched.lora, name);
        struct eng_lora_load *l = calloc(1, sizeof(*l));
        if (!l) {
            eng_send_error(res, 500, "InternalServerError", "out of memory");
        } else {
            l->srv = s;
            l->res = res;
            snprintf(l->name, sizeof(l->name), "%s", name);
            snprintf(l->path, sizeof(l->path), "%s", path);
            uv_timer_init(s->loop, &l->timer);
            l->timer.data = l;
            bx_http_res_set_abort(res, eng_lora_load_abort, l);
            uv_timer_start(&l->timer, eng_lora_load_done,
                           (uint64_t)(s->lora_load_s / s->cfg.time_scale * 1000.0), 0);
        }
    }
    json_decref(o);
}

static void eng_join_loras(const eng_lora *l, int running, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < ENG_LORA_MAX; i++) {
        const eng_lora_adapter *a = &l->a[i];
        if (!a->id || !a->name[0] || (running ? a->running : a->waiting) <= 0) continue;
        int w = snprintf(out + n, cap - n, "%s%s", n ? "," : "", a->name);
        if (w < 0 || (size_t)w >= cap - n) break;
        n += (size_t)w;
    }
}

static void eng_handle_metrics(eng_server *s, bx_http_res *res)
{
    char run[2048], wait[2048];
    eng_join_loras(&s->sched.lora, 1, run, sizeof(run));
    eng_join_loras(&s->sched.lora, 0, wait, sizeof(wait));
    const eng_sched_stats *st = &s->sched.stats;
    double now = eng_now(s);
    if (now - s->win_start >= 10.0) {
        double dt = now - s->win_start;
        s->prompt_tps = (double)(st->prompt_tokens - s->win_prompt0) / dt;
        s->gen_tps = (double)(st->generation_tokens - s->win_gen0) / dt;
        s->win_start = now;
        s->win_prompt0 = st->prompt_tokens;
        s->win_gen0 = st->generation_tokens;
    }
    eng_metrics_state ms = {.running = s->sched.num_running,
                            .waiting = s->sched.num_waiting,
                            .kv_usage = eng_blocks_usage(&s->sched.blocks),
                            .prompt_tokens = st->prompt_tokens,
                            .generation_tokens = st->generation_tokens,
                            .preemptions = st->preemptions,
                            .prefix_queries = st->prefix_queries,
                            .prefix_hits = st->prefix_hits,
                            .lora_enabled = s->cfg.enable_lora,
                            .max_lora = s->sched.lora.max_loras,
                            .running_loras = run,
                            .waiting_loras = wait,
                            .now_unix = eng_unix_now(),
                            .block_size = s->sched.cfg.block_size,
                            .num_gpu_blocks = s->sched.cfg.num_gpu_blocks,
                            .prompt_tps = s->prompt_tps,
                            .generation_tps = s->gen_tps};
    bx_buf *b = &s->scratch;
    bx_buf_reset(b);
    if (eng_metrics_render(s->metrics, &ms, b) != 0) {
        eng_send_error(res, 500, "InternalServerError", "metrics rendering failed");
        return;
    }
    bx_http_res_send(res, 200, "text/plain; version=0.0.4; charset=utf-8", b->data, b->len);
}

static void eng_handle(bx_http_req *hr, bx_http_res *res, void *ud)
{
    eng_server *s = ud;
    const char *p = hr->path;
    int get = !strcmp(hr->method, "GET"), post = !strcmp(hr->method, "POST");
    int ready = eng_wall_elapsed(s) >= s->cfg.fault_startup_delay;

    if (!strcmp(p, "/health") || !strcmp(p, "/ping")) {
        if (!get && !post) goto not_allowed;
        if (!ready) eng_send_error(res, 503, "ServiceUnavailableError", "engine is starting");
        else bx_http_res_send(res, 200, "application/json", "", 0);
        return;
    }
    if (!strcmp(p, "/metrics")) {
        if (!get) goto not_allowed;
        eng_handle_metrics(s, res);
        return;
    }
    if (!strcmp(p, "/version")) {
        if (!get) goto not_allowed;
        const char *v = "{\"version\":\"brix-engine-" BRIX_VERSION "\"}";
        bx_http_res_send(res, 200, "application/json", v, strlen(v));
        return;
    }
    if (!strcmp(p, "/load")) {
        if (!get) goto not_allowed;
        eng_send_json(res, 200, json_pack("{s:i}", "server_load", s->sched.num_running + s->sched.num_waiting + s->frontend_pending));
        return;
    }
    if (!strcmp(p, "/v1/models")) {
        if (!get) goto not_allowed;
        eng_handle_models(s, res);
        return;
    }
    int gen = !strcmp(p, "/v1/completions") || !strcmp(p, "/v1/chat/completions");
    if (gen || !strcmp(p, "/v1/embeddings") || !strcmp(p, "/tokenize")) {
        if (!post) goto not_allowed;
        if (!ready) {
            bx_http_res_header(res, "Retry-After", "1");
            eng_send_error(res, 503, "ServiceUnavailableError", "engine is starting");
            return;
        }
        if (!strcmp(p, "/v1/completions")) eng_handle_generate(s, hr, res, ENG_API_COMPLETIONS);
        else if (!strcmp(p, "/v1/chat/completions")) eng_handle_generate(s, hr, res, ENG_API_CHAT);
        else if (!strcmp(p, "/v1/embeddings")) eng_handle_embeddings(s, hr, res);
        else eng_handle_tokenize(s, hr, res);
        return;
    }
    if (s->cfg.enable_lora &&
        (!strcmp(p, "/v1/load_lora_adapter") || !strcmp(p, "/v1/unload_lora_adapter"))) {
        if (!post) goto not_allowed;
        eng_handle_lora(s, hr, res, !strcmp(p, "/v1/load_lora_adapter"));
        return;
    }
    if (!strcmp(p, "/reset_prefix_cache")) {
        if (!post) goto not_allowed;
        if (eng_sched_reset_prefix_cache(&s->sched) != 0) {
            eng_send_error(res, 400, "BadRequestError", "cannot reset the prefix cache while requests run");
            return;
        }
        if (s->kv_on) {
            eng_kvpub_all_cleared(&s->kvpub);
            eng_kv_flush(s);
        }
        bx_http_res_send(res, 200, "application/json", "", 0);
        return;
    }
    bx_http_res_send(res, 404, "application/json", "{\"detail\":\"Not Found\"}", 22);
    return;
not_allowed:
    bx_http_res_send(res, 405, "application/json", "{\"detail\":\"Method Not Allowed\"}", 31);
}

/* ---------- lifecycle ---------- */

static void eng_kv_poll_cb(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    eng_server *s = h->data;
    eng_kvpub_replay_poll(&s->kvpub);
}

int eng_server_init(eng_server **out, uv_loop_t *loop, const eng_config *cfg, char *err,
                    size_t errlen)
{
    eng_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->loop = loop;
    s->cfg = *cfg;
    s->prof = eng_timing_find(cfg->profile);
    snprintf(s->served, sizeof(s->served), "%s",
             cfg->served_model_name ? cfg->served_model_name : cfg->model);
    bx_buf_init(&s->scratch);
    s->rng = cfg->seed ^ 0x6272697865ULL;
    s->wall0_ns = uv_hrtime();
    for (int i = 0; i < ENG_NWORDS; i++)
        s->word_ids[i] = bx_tok_piece_id(eng_words[i], strlen(eng_words[i]));
    if (!s->prof) {
        snprintf(err, errlen, "unknown profile '%s'", cfg->profile);
        goto fail;
    }
    if (!eng_name_ok(s->served)) {
        snprintf(err, errlen, "served model name must be 1-127 printable characters without quotes or backslashes");
        goto fail;
    }
    int32_t bs = cfg->block_size;
    eng_sched_cfg sc = {
        .max_num_seqs = cfg->max_num_seqs ? cfg->max_num_seqs : s->prof->max_num_seqs,
        .max_num_batched_tokens = cfg->max_num_batched_tokens ? cfg->max_num_batched_tokens
                                                              : s->prof->max_num_batched_tokens,
        .block_size = bs,
        .num_gpu_blocks = cfg->num_gpu_blocks ? cfg->num_gpu_blocks
                                              : (int32_t)((int64_t)s->prof->num_gpu_blocks * 16 / bs),
        .max_loras = cfg->max_loras,
        .max_cpu_loras = cfg->max_cpu_loras,
        .hash_seed = cfg->hash_seed};
    if (sc.num_gpu_blocks < 1) sc.num_gpu_blocks = 1;
    s->max_model_len = cfg->max_model_len ? cfg->max_model_len : s->prof->max_model_len;
    int64_t capacity = (int64_t)sc.num_gpu_blocks * bs;
    if (s->max_model_len > capacity) {
        snprintf(err, errlen,
                 "max-model-len %d is larger than the KV cache (%lld tokens): raise "
                 "--num-gpu-blocks or lower --max-model-len",
                 s->max_model_len, (long long)capacity);
        goto fail;
    }
    s->lora_load_s = cfg->lora_load_s >= 0 ? cfg->lora_load_s : s->prof->lora_load_s;
    eng_sched_cbs cbs = {eng_on_token, eng_on_finish, eng_on_stored, eng_on_removed, eng_gen_token};
    if (eng_sched_init(&s->sched, &sc, &cbs, s) != 0) {
        snprintf(err, errlen, "invalid scheduler settings");
        goto fail;
    }
    s->sched_ok = 1;
    for (int i = 0; i < cfg->n_lora_modules; i++) {
        char name[ENG_LORA_NAME_MAX];
        const char *m = cfg->lora_modules[i], *eq = strchr(m, '=');
        size_t nl = (size_t)(eq - m);
        if (nl >= sizeof(name)) nl = sizeof(name) - 1;
        memcpy(name, m, nl);
        name[nl] = '\0';
        if (!eng_name_ok(name) || eng_lora_add(&s->sched.lora, name, eq + 1) != 0) {
            snprintf(err, errlen, "cannot add --lora-modules '%s'", m);
            goto fail;
        }
    }
    s->metrics = eng_metrics_new(s->served, s->max_model_len, cfg->lora_info_latest_only);
    if (!s->metrics) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (cfg->kv_events) {
        eng_kvpub_opts ko;
        eng_kvpub_opts_default(&ko);
        if (cfg->kv_events_map) ko.enc.event_enc = BX_KVEV_EVENT_MAP;
        if (eng_kvpub_open(&s->kvpub, cfg->kv_events, cfg->kv_events_replay,
                           cfg->kv_events_topic, &ko, err, errlen) != 0)
            goto fail;
        s->kv_on = 1;
        int fd = eng_kvpub_replay_fd(&s->kvpub);
        if (fd >= 0 && uv_poll_init(loop, &s->kv_poll, fd) == 0) {
            s->kv_poll.data = s;
            uv_poll_start(&s->kv_poll, UV_READABLE, eng_kv_poll_cb);
            s->kv_poll_on = 1;
        }
    }
    uv_timer_init(loop, &s->step_timer);
    s->step_timer.data = s;
    bx_http_limits lim;
    bx_http_limits_default(&lim);
    lim.max_body_bytes = 32u << 20;
    if (bx_http_server_init(&s->http, loop, &lim, eng_handle, s) != 0) {
        snprintf(err, errlen, "cannot create the HTTP server");
        goto fail;
    }
    s->port = bx_http_server_listen(s->http, cfg->host, cfg->port, 0);
    if (s->port <= 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", cfg->host, cfg->port,
                 uv_strerror(s->port));
        goto fail;
    }
    *out = s;
    return 0;
fail:
    eng_server_close(s);
    return -1;
}

int eng_server_port(const eng_server *s)
{
    return s->port;
}

static void eng_handle_freed(uv_handle_t *h)
{
    (void)h;
}

void eng_server_close(eng_server *s)
{
    if (!s) return;
    if (s->http) bx_http_server_close(s->http, NULL, NULL); /* aborts calls in flight */
    s->http = NULL;
    while (s->calls) { /* their sequences are freed by eng_sched_close */
        eng_call *c = s->calls;
        c->res = NULL;
        c->seq = NULL;
        eng_call_release(c);
    }
    if (uv_is_active((uv_handle_t *)&s->step_timer) || s->step_timer.loop) {
        uv_timer_stop(&s->step_timer);
        uv_close((uv_handle_t *)&s->step_timer, eng_handle_freed);
    }
    if (s->kv_poll_on) uv_close((uv_handle_t *)&s->kv_poll, eng_handle_freed);
    /* let the loop run the close callbacks before the memory goes */
    uv_run(s->loop, UV_RUN_NOWAIT);
    if (s->kv_on) eng_kvpub_close(&s->kvpub);
    if (s->sched_ok) eng_sched_close(&s->sched);
    eng_metrics_free(s->metrics);
    bx_buf_free(&s->scratch);
    free(s);
}
