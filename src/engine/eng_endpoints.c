/* eng_endpoints: the engine's routes other than text generation:
 * embeddings (deterministic unit vectors seeded by the input's tokens),
 * /tokenize, /v1/models, runtime LoRA load/unload with vLLM's answers, and
 * /metrics. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/bx_log.h"
#include "common/bx_rand.h"
#include "common/bx_prom.h"
#include "common/bx_tok.h"
#include "common/bx_json.h"
#include "engine/eng_server_int.h"

#include <openssl/evp.h>

/* ---------- other endpoints ---------- */

void eng_handle_embeddings(eng_server *s, bx_http_req *hr, bx_http_res *res)
{
    eng_req r;
    char err[512];
    if (eng_req_parse(ENG_API_EMBEDDINGS, hr->body, hr->body_len, &r, err, sizeof(err)) != 0) {
        eng_req_free(&r);
        bx_reply_error(res, 400, "BadRequestError", err);
        return;
    }
    int lora;
    if (eng_resolve_model(s, r.model, &lora) != 0) {
        snprintf(err, sizeof(err), "The model `%.200s` does not exist.", r.model);
        eng_req_free(&r);
        bx_reply_error(res, 404, "NotFoundError", err);
        return;
    }
    int32_t dim = r.dimensions > 0 ? r.dimensions : s->cfg.embedding_dim;
    bx_buf *b = &s->scratch;
    bx_buf_reset(b);
    bx_buf_printf(
        b,
        "{\"id\":\"embd-%016llx\",\"object\":\"list\",\"created\":%lld,\"model\":\"%s\",\"data\":[",
        (unsigned long long)bx_splitmix64(&s->rng), (long long)time(NULL),
        lora >= 0 ? s->sched.lora.a[lora].name : s->served);
    double *v = malloc((size_t)dim * sizeof(*v));
    unsigned char *raw = malloc((size_t)dim * 4);
    char *b64 = malloc((size_t)dim * 4 / 3 * 4 + 16);
    if (!v || !raw || !b64) {
        free(v);
        free(raw);
        free(b64);
        eng_req_free(&r);
        bx_reply_error(res, 500, "InternalServerError", "out of memory");
        return;
    }
    for (int32_t i = 0; i < r.num_inputs; i++) {
        int32_t off = r.input_off[i], n = r.input_off[i + 1] - off;
        if (n > s->max_model_len) {
            free(v);
            free(raw);
            free(b64);
            snprintf(err, sizeof(err),
                     "This model's maximum context length is %d tokens. However, you requested "
                     "%d tokens in the input for embedding generation. Please reduce the length "
                     "of the input.",
                     s->max_model_len, n);
            eng_req_free(&r);
            bx_reply_error(res, 400, "BadRequestError", err);
            return;
        }
        uint64_t x = XXH64(r.ids + off, (size_t)n * sizeof(uint32_t), 0xe5bedULL);
        double norm = 0;
        for (int32_t k = 0; k < dim; k++) {
            v[k] = eng_gauss(&x);
            norm += v[k] * v[k];
        }
        norm = sqrt(norm);
        bx_buf_printf(b, "%s{\"index\":%d,\"object\":\"embedding\",\"embedding\":", i ? "," : "",
                      i);
        if (r.base64) { /* little-endian float32, as vLLM and the OpenAI SDK expect */
            for (int32_t k = 0; k < dim; k++) {
                float f = (float)(v[k] / norm);
                memcpy(raw + 4 * k, &f, 4); /* x86-64 and arm64 are little-endian */
            }
            int n64 = EVP_EncodeBlock((unsigned char *)b64, raw, 4 * dim);
            bx_buf_appends(b, "\"");
            bx_buf_append(b, b64, (size_t)n64);
            bx_buf_appends(b, "\"}");
        } else {
            bx_buf_appends(b, "[");
            for (int32_t k = 0; k < dim; k++)
                bx_buf_printf(b, "%s%.7g", k ? "," : "", v[k] / norm);
            bx_buf_appends(b, "]}");
        }
    }
    free(v);
    free(raw);
    free(b64);
    bx_buf_printf(b,
                  "],\"usage\":{\"prompt_tokens\":%d,\"total_tokens\":%d,\"completion_tokens\":0,"
                  "\"prompt_tokens_details\":null}}",
                  r.num_ids, r.num_ids);
    eng_req_free(&r);
    bx_http_res_send(res, 200, "application/json", b->data, b->len);
}

void eng_handle_tokenize(eng_server *s, bx_http_req *hr, bx_http_res *res)
{
    eng_req r;
    char err[512];
    if (eng_req_parse(ENG_API_TOKENIZE, hr->body, hr->body_len, &r, err, sizeof(err)) != 0) {
        eng_req_free(&r);
        bx_reply_error(res, 400, "BadRequestError", err);
        return;
    }
    int lora;
    if (r.model && eng_resolve_model(s, r.model, &lora) != 0) {
        snprintf(err, sizeof(err), "The model `%.200s` does not exist.", r.model);
        eng_req_free(&r);
        bx_reply_error(res, 404, "NotFoundError", err);
        return;
    }
    bx_buf *b = &s->scratch;
    bx_buf_reset(b);
    bx_buf_printf(b, "{\"count\":%d,\"max_model_len\":%d,\"tokens\":[", r.num_ids,
                  s->max_model_len);
    for (int32_t i = 0; i < r.num_ids; i++)
        bx_buf_printf(b, "%s%u", i ? "," : "", r.ids[i]);
    bx_buf_appends(b, "],\"token_strs\":null}");
    eng_req_free(&r);
    bx_http_res_send(res, 200, "application/json", b->data, b->len);
}

void eng_handle_models(eng_server *s, bx_http_res *res)
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
    bx_reply_json(res, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
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
            bx_reply_error(l->res, 400, "InvalidUserInput", msg);
        } else {
            bx_reply_error(l->res, 400, "BadRequestError",
                           "cannot load more adapters: the adapter table is full");
        }
    }
    if (rc == 0) { /* the request's strings */
        char en[BX_LOG_ESC_MAX], ep[BX_LOG_ESC_MAX * 2];
        bx_info("LoRA adapter '%s' loaded from %s",
                bx_log_escape(en, sizeof(en), l->name, BX_LOG_CSTR),
                bx_log_escape(ep, sizeof(ep), l->path, BX_LOG_CSTR));
    }
    uv_close((uv_handle_t *)&l->timer, eng_lora_load_freed);
}

void eng_handle_lora(eng_server *s, bx_http_req *hr, bx_http_res *res, int load)
{
    char msg[ENG_LORA_NAME_MAX + 256];
    json_t *o = bx_json_parse_object(hr->body, hr->body_len, 0, msg, sizeof(msg));
    const char *name = json_string_value(json_object_get(o, "lora_name"));
    const char *path = json_string_value(json_object_get(o, "lora_path"));
    int inplace = json_is_true(json_object_get(o, "load_inplace"));
    if (!o) {
        bx_reply_error(res, 400, "BadRequestError", msg);
    } else if (load && (!name || !path || !*name || !*path)) {
        bx_reply_error(res, 400, "InvalidUserInput",
                       "Both 'lora_name' and 'lora_path' must be provided.");
    } else if (!load && (!name || !*name)) {
        bx_reply_error(res, 400, "InvalidUserInput",
                       "'lora_name' needs to be provided to unload a LoRA adapter.");
    } else if (!eng_name_ok(name) || (load && strlen(path) >= ENG_LORA_PATH_MAX)) {
        bx_reply_error(res, 400, "InvalidUserInput",
                       "'lora_name' must be 1-127 printable characters without quotes or "
                       "backslashes, and 'lora_path' shorter than 512 bytes.");
    } else if (!strcmp(name, s->served)) {
        bx_reply_error(res, 400, "InvalidUserInput",
                       "an adapter cannot take the base model's name");
    } else if (!load) {
        if (eng_lora_remove(&s->sched.lora, name) == 0) {
            snprintf(msg, sizeof(msg), "Success: LoRA adapter '%s' removed successfully.", name);
            bx_http_res_send(res, 200, "text/plain; charset=utf-8", msg, strlen(msg));
            char en[BX_LOG_ESC_MAX];
            bx_info("LoRA adapter '%s' unloaded", bx_log_escape(en, sizeof(en), name, BX_LOG_CSTR));
        } else {
            snprintf(msg, sizeof(msg), "The lora adapter '%s' cannot be found.", name);
            bx_reply_error(res, 404, "NotFoundError", msg);
        }
    } else if (eng_lora_find(&s->sched.lora, name) >= 0 && !inplace) {
        snprintf(msg, sizeof(msg),
                 "The lora adapter '%s' has already been loaded. If you want to load the adapter "
                 "in place, set 'load_inplace' to True.",
                 name);
        bx_reply_error(res, 400, "InvalidUserInput", msg);
    } else {
        if (inplace) eng_lora_remove(&s->sched.lora, name);
        struct eng_lora_load *l = calloc(1, sizeof(*l));
        if (!l) {
            bx_reply_error(res, 500, "InternalServerError", "out of memory");
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

/* The client side of the engine's own HTTP server (deadlines, the connection
 * cap, the body budget: docs/engine.md), beside vLLM's series. */
static int eng_http_metrics(eng_server *s, bx_buf *b)
{
    bx_http_shared_stats hs;
    bx_http_server_get_shared_stats(s->http, &hs);
    return bx_http_stats_prom(b, "brix_engine", &hs);
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

void eng_handle_metrics(eng_server *s, bx_http_res *res)
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
                            .generation_tps = s->gen_tps,
                            .profile = s->cfg.profile,
                            .price_per_hour = s->price_h};
    bx_buf *b = &s->scratch;
    bx_buf_reset(b);
    if (eng_metrics_render(s->metrics, &ms, b) != 0 || eng_http_metrics(s, b) != 0 ||
        eng_group_render(s->group, b) != 0 || eng_pd_render(s, b) != 0) {
        bx_reply_error(res, 500, "InternalServerError", "metrics rendering failed");
        return;
    }
    bx_http_res_send(res, 200, "text/plain; version=0.0.4; charset=utf-8", b->data, b->len);
}
