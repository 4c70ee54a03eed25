/* eng_generate: /v1/completions and /v1/chat/completions. A request
 * becomes an eng_call, waits out the frontend delay, enters the scheduler,
 * and the scheduler's callbacks turn each generated token into an SSE chunk
 * (vLLM's chunk shapes, written with printf into a reused buffer: the text
 * pieces are fixed words and model names are checked plain, so nothing on
 * this path needs escaping) or into the final JSON body. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/bx_json.h"
#include "common/bx_log.h"
#include "common/bx_rand.h"
#include "common/bx_tok.h"
#include "engine/eng_server_int.h"

static const char *const eng_words[] = {
    " the", " and", " for", " are", " but", " not", " you", " all", " any", " can", " her",
    " was", " one", " our", " out", " day", " get", " has", " him", " his", " how", " man",
    " new", " now", " old", " see", " two", " way", " who", " boy", " did", " its", " let",
    " put", " say", " she", " too", " use", " cat", " dog", " sun", " sky", " sea", " map",
    " key", " box", " red", " big", " run", " fly", " art", " air", " car", " law", " age",
    " job", " end", " top", " low", " far", " few", " own", " yes", " set"};
_Static_assert(sizeof(eng_words) / sizeof(eng_words[0]) == ENG_NWORDS, "word table size");

void eng_generate_init(eng_server *s)
{
    for (int i = 0; i < ENG_NWORDS; i++)
        s->word_ids[i] = bx_tok_piece_id(eng_words[i], strlen(eng_words[i]));
}

/* ---------- scheduler callbacks ---------- */

uint32_t eng_gen_token(eng_seq *q, int32_t i, void *ud)
{
    eng_server *s = ud;
    eng_call *c = q->ud;
    uint64_t x = c->text_seed + (uint64_t)c->req.gen_offset + (uint64_t)i;
    int w = (int)(bx_splitmix64(&x) % ENG_NWORDS);
    c->last_word = w;
    return s->word_ids[w];
}

static void eng_usage_json(bx_buf *b, const eng_call *c, int details)
{
    bx_buf_printf(b,
                  "\"usage\":{\"prompt_tokens\":%d,\"total_tokens\":%d,\"completion_tokens\":%d,"
                  "\"prompt_tokens_details\":",
                  c->prompt_tokens, c->prompt_tokens + c->completion_tokens, c->completion_tokens);
    if (details)
        bx_buf_printf(b, "{\"cached_tokens\":%d}}", c->cached_tokens);
    else
        bx_buf_appends(b, "null}");
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
        bx_buf_appends(&s->scratch,
                       "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
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
    if (finish)
        bx_buf_printf(b, "\"finish_reason\":\"%s\",\"stop_reason\":null}", finish);
    else
        bx_buf_appends(b, "\"finish_reason\":null}");
    eng_chunk_send(s, c, c->req.continuous_usage);
}

static const char *eng_finish_name(enum eng_finish f)
{
    switch (f) {
    case ENG_FINISH_LENGTH:
        return "length";
    case ENG_FINISH_STOP:
        return "stop";
    case ENG_FINISH_ABORT:
        return "abort";
    default:
        return "error";
    }
}

void eng_on_token(eng_seq *q, uint32_t id, double now, void *ud)
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
            if (g >= q->max_tokens)
                finish = "length";
            else if (q->stop_after > 0 && g >= q->stop_after)
                finish = "stop";
            eng_stream_token(s, c, text, finish);
        } else {
            bx_buf_appends(&c->text, text);
        }
    }
    if (s->cfg.fault_crash_after_tokens > 0 &&
        s->tokens_emitted >= s->cfg.fault_crash_after_tokens) {
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
        bx_reply_error(c->res, 500, "InternalServerError", "out of memory");
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
    if (c->kvx_json) bx_buf_printf(b, "\"kv_transfer_params\":%s,", c->kvx_json);
    eng_usage_json(b, c, s->cfg.prompt_tokens_details);
    bx_buf_appends(b, "}");
    bx_http_res_send(c->res, 200, "application/json", b->data, b->len);
}

void eng_on_finish(eng_seq *q, enum eng_finish why, double now, void *ud)
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
    eng_pd_finished(s, c, q, why == ENG_FINISH_LENGTH || why == ENG_FINISH_STOP, now);
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

/* ---------- generation requests ---------- */

void eng_enter_sched(eng_call *c)
{
    eng_server *s = c->srv;
    c->seq =
        eng_sched_add(&s->sched, c->req.ids, c->req.num_ids, c->max_tokens, c->lora, c->arrival, c);
    if (!c->seq) {
        bx_reply_error(c->res, 500, "InternalServerError", "out of memory");
        c->res = NULL;
        eng_call_release(c);
        return;
    }
    c->seq->stop_after = c->stop_after;
    c->seq->remote_computed = c->pd_remote_tokens;
    c->seq->keep_blocks = c->pd_mode == ENG_PD_PREFILL;
    eng_kick(s);
}

static void eng_frontend_done(uv_timer_t *t)
{
    eng_call *c = t->data;
    c->in_frontend = 0;
    c->srv->frontend_pending--;
    if (!eng_pd_enter(c)) eng_enter_sched(c);
}

static void eng_call_abort(bx_http_res *res, void *ud)
{
    (void)res;
    eng_call *c = ud;
    eng_server *s = c->srv;
    c->res = NULL;
    if (c->seq)
        eng_sched_abort(&s->sched, c->seq, eng_now(s)); /* on_finish releases */
    else
        eng_call_release(c);
}

void eng_handle_generate(eng_server *s, bx_http_req *hr, bx_http_res *res, enum eng_api api)
{
    eng_call *c = eng_call_new(s, res);
    if (!c) {
        bx_reply_error(res, 500, "InternalServerError", "out of memory");
        return;
    }
    char err[512];
    if (eng_req_parse(api, hr->body, hr->body_len, &c->req, err, sizeof(err)) != 0) {
        bx_reply_error(res, 400, "BadRequestError", err);
        c->res = NULL;
        eng_call_release(c);
        return;
    }
    if (eng_resolve_model(s, c->req.model, &c->lora) != 0) {
        snprintf(err, sizeof(err), "The model `%.200s` does not exist.", c->req.model);
        bx_reply_error(res, 404, "NotFoundError", err);
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
        bx_reply_error(res, 400, "BadRequestError", err);
        c->res = NULL;
        eng_call_release(c);
        return;
    }
    if (eng_pd_request(s, c, err, sizeof(err)) != 0) {
        bx_reply_error(res, 400, "BadRequestError", err);
        c->res = NULL;
        eng_call_release(c);
        return;
    }
    /* requests that will get a free batch slot at the next step are not
     * queued: only the excess over the free slots counts as waiting */
    int32_t free_slots = s->sched.cfg.max_num_seqs - s->sched.num_running;
    if (free_slots < 0) free_slots = 0;
    if (s->cfg.max_waiting > 0 &&
        s->sched.num_waiting + s->frontend_pending - free_slots >= s->cfg.max_waiting) {
        bx_http_res_header(res, "Retry-After", "1");
        bx_reply_error(res, 503, "ServiceUnavailableError",
                       "The engine is overloaded: its waiting queue is full. Retry later.");
        c->res = NULL;
        eng_call_release(c);
        return;
    }
    /* Faults: a header forces one, rates draw one. */
    const char *fh = bx_http_req_header(hr, "x-brix-fault");
    double u = eng_uniform(&s->rng);
    if ((fh && !strcmp(fh, "error")) || u < s->cfg.fault_error_rate) {
        bx_reply_error(res, 500, "InternalServerError", "injected fault: engine error");
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
    if (c->req.seed_ids) /* a continued answer: the words of the prompt before it */
        c->text_seed =
            XXH64(c->req.seed_ids, (size_t)c->req.num_seed_ids * sizeof(uint32_t), s->cfg.seed);
    else
        c->text_seed = XXH64(c->req.ids, (size_t)np * sizeof(uint32_t), s->cfg.seed);
    if (c->req.max_tokens <= 0 && api == ENG_API_CHAT && !c->req.ignore_eos) {
        uint64_t x = c->text_seed ^ 0x5eedULL;
        double l = 40.0 + 20.0 * eng_gauss(&x) - c->req.gen_offset;
        int32_t n = l < 1 ? 1 : (int32_t)l;
        if (n > c->max_tokens) n = c->max_tokens;
        c->stop_after = n;
    }
    const char *rid = bx_http_req_header(hr, "x-request-id");
    if (rid) bx_http_res_header(res, "X-Request-Id", rid);
    snprintf(c->id, sizeof(c->id), "%s-%016llx%08llx", api == ENG_API_CHAT ? "chatcmpl" : "cmpl",
             (unsigned long long)bx_splitmix64(&s->rng), (unsigned long long)++s->next_id);
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
    } else if (!eng_pd_enter(c)) {
        eng_enter_sched(c);
    }
}

/* Names written into JSON unescaped must be plain. */
/* ---------- the group failed ---------- */

/* One call in flight fails: a stream already started gets an SSE error
 * event and then [DONE], as vLLM ends a stream that fails midway; anything
 * else a 503 error JSON. The call's sequence is aborted (its on_finish
 * releases it) or, not in the scheduler yet, released here. */
static void eng_fail_call(eng_server *s, eng_call *c, const char *msg)
{
    if (c->res) {
        bx_http_res *res = c->res;
        c->res = NULL;
        if (c->stream_started) {
            char *e = bx_json_error_body(503, "ServiceUnavailableError", msg);
            if (e) {
                bx_http_res_write(res, "data: ", 6);
                bx_http_res_write(res, e, strlen(e));
                bx_http_res_write(res, "\n\n", 2);
                free(e);
            }
            bx_http_res_write(res, "data: [DONE]\n\n", 14);
            bx_http_res_end(res);
        } else {
            bx_reply_error(res, 503, "ServiceUnavailableError", msg);
        }
    }
    if (c->seq)
        eng_sched_abort(&s->sched, c->seq, eng_now(s)); /* on_finish releases */
    else
        eng_call_release(c);
}

int eng_generate_fail_all(eng_server *s, const char *msg)
{
    int n = 0;
    bx_queue *q = bx_queue_head(&s->calls);
    while (q) {
        bx_queue *next = bx_queue_next(&s->calls, q);
        eng_call *c = bx_container_of(q, eng_call, node);
        if (c->res) { /* a call already answered waits for its step's end */
            n++;
            eng_fail_call(s, c, msg);
        }
        q = next;
    }
    eng_kick(s);
    return n;
}
