/* eng_server: see eng_server.h. This file holds the server's lifecycle and
 * the HTTP routing table; requests that generate text live in
 * eng_generate.c, the other routes in eng_endpoints.c, and what all of them
 * use (the simulated clock, random numbers, calls, the step loop) in
 * eng_core.c. Calls go one way: this file calls down into the others, never
 * the reverse. Shared structs are in eng_server_int.h. */
#include "engine/eng_server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/bx_json.h"
#include "common/bx_log.h"
#include "common/bx_tok.h"
#include "engine/eng_offload.h"
#include "engine/eng_server_int.h"

static void eng_handle(bx_http_req *hr, bx_http_res *res, void *ud)
{
    eng_server *s = ud;
    const char *p = hr->path;
    int get = !strcmp(hr->method, "GET"), post = !strcmp(hr->method, "POST");
    int ready = eng_wall_elapsed(s) >= s->cfg.fault_startup_delay;

    /* --api-key, as vLLM: paths under /v1 need the key, the rest stays open */
    if (s->cfg.keys.n > 0 && !strncmp(p, "/v1", 3) &&
        !bx_apikeys_check_bearer(&s->cfg.keys, bx_http_req_header(hr, "authorization"))) {
        bx_http_res_send(res, 401, "application/json", "{\"error\":\"Unauthorized\"}", 24);
        return;
    }

    if (!strncmp(p, ENG_GROUP_PREFIX, strlen(ENG_GROUP_PREFIX))) {
        eng_group_handle(s->group, hr, res);
        return;
    }
    if (!strcmp(p, "/health") || !strcmp(p, "/ping")) {
        if (!get && !post) goto not_allowed;
        struct stat st;
        if (!eng_group_ready(s->group))
            bx_reply_error(res, 503, "ServiceUnavailableError", eng_group_status(s->group));
        else if (!ready)
            bx_reply_error(res, 503, "ServiceUnavailableError", "engine is starting");
        else if (s->cfg.fault_unhealthy_file && stat(s->cfg.fault_unhealthy_file, &st) == 0)
            bx_reply_error(res, 503, "ServiceUnavailableError", "unhealthy (fault file present)");
        else
            bx_http_res_send(res, 200, NULL, "", 0);
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
    if (s->group && !eng_group_is_leader(s->group)) {
        bx_reply_error(res, 503, "ServiceUnavailableError",
                       "a worker node serves no API: send requests to the group leader");
        return;
    }
    if (!eng_group_ready(s->group) && (!strncmp(p, "/v1/", 4) || !strcmp(p, "/tokenize"))) {
        bx_http_res_header(res, "Retry-After", "1");
        bx_reply_error(res, 503, "ServiceUnavailableError", eng_group_status(s->group));
        return;
    }
    if (!strcmp(p, "/load")) {
        if (!get) goto not_allowed;
        bx_reply_json(res, 200,
                      json_pack("{s:i}", "server_load",
                                s->sched.num_running + s->sched.num_waiting + s->frontend_pending));
        return;
    }
    if (!strcmp(p, "/brix/kv/pull")) {
        if (!post) goto not_allowed;
        eng_pd_handle_pull(s, hr, res);
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
            bx_reply_error(res, 503, "ServiceUnavailableError", "engine is starting");
            return;
        }
        if (!strcmp(p, "/v1/completions"))
            eng_handle_generate(s, hr, res, ENG_API_COMPLETIONS);
        else if (!strcmp(p, "/v1/chat/completions"))
            eng_handle_generate(s, hr, res, ENG_API_CHAT);
        else if (!strcmp(p, "/v1/embeddings"))
            eng_handle_embeddings(s, hr, res);
        else
            eng_handle_tokenize(s, hr, res);
        return;
    }
    if (s->cfg.enable_lora && s->cfg.allow_runtime_lora &&
        (!strcmp(p, "/v1/load_lora_adapter") || !strcmp(p, "/v1/unload_lora_adapter"))) {
        if (!post) goto not_allowed;
        eng_handle_lora(s, hr, res, !strcmp(p, "/v1/load_lora_adapter"));
        return;
    }
    if (!strcmp(p, "/reset_prefix_cache")) {
        if (!post) goto not_allowed;
        if (eng_sched_reset_prefix_cache(&s->sched) != 0) {
            bx_reply_error(res, 400, "BadRequestError",
                           "cannot reset the prefix cache while requests run");
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

static int eng_offload_metrics(bx_buf *b, const char *labels, void *ud)
{
    return eng_offload_render(ud, b, labels);
}

/* --kv-offload: libbrixkv under the scheduler and the metrics. */
static int eng_server_offload_open(eng_server *s, const eng_sched_cfg *sc, char *err, size_t errlen)
{
    const eng_config *cfg = &s->cfg;
    eng_offload_cfg oc = {.model = s->served,
                          .dtype = s->prof->dtype,
                          .block_size = sc->block_size,
                          .num_gpu_blocks = sc->num_gpu_blocks,
                          .max_blocks = s->max_model_len / sc->block_size + 1,
                          .block_bytes = (size_t)cfg->kv_block_bytes,
                          .real_block_bytes = s->prof->kv_bytes_per_token * sc->block_size,
                          .l1_gb = cfg->kv_l1_gb,
                          .l1_policy = cfg->kv_l1_policy,
                          .redis = cfg->kv_redis,
                          .ingestion = cfg->kv_ingestion,
                          .l1_gbps = cfg->kv_l1_gbps,
                          .l2_gbps = cfg->kv_l2_gbps};
    if (eng_offload_open(&oc, &s->offload, err, errlen) != 0) return -1;
    eng_offload_attach(s->offload, &s->sched);
    eng_metrics_set_extra(s->metrics, eng_offload_metrics, s->offload);
    bx_info("kv offload: L1 %g GiB %s, %lld bytes per block%s%s", cfg->kv_l1_gb, cfg->kv_l1_policy,
            (long long)cfg->kv_block_bytes, cfg->kv_redis ? ", L2 redis " : "",
            cfg->kv_redis ? cfg->kv_redis : "");
    return 0;
}

static int eng_server_hash_algo(const char *name)
{
    bx_blockhash_algo a = BX_BLOCKHASH_SHA256_CBOR;
    if (name) (void)bx_blockhash_algo_parse(name, &a); /* validated by eng_config */
    return (int)a;
}

/* The group failed (leader) or its leader was lost (worker). */
static void eng_server_group_lost(const char *why, void *ud)
{
    eng_server *s = ud;
    if (!eng_group_is_leader(s->group)) {
        bx_error("group worker: exiting: %s", why);
        s->exit_status = 1;
        uv_stop(s->loop);
        return;
    }
    char msg[400];
    snprintf(msg, sizeof(msg),
             "the engine group failed (%s): restart the group as a unit; this replica serves "
             "no more requests",
             why);
    int n = eng_generate_fail_all(s, msg);
    bx_error("group failed: %s; %d request(s) in flight failed; unready until the group is "
             "restarted as a unit",
             why, n);
}

static int eng_server_group_open(eng_server *s, char *err, size_t errlen)
{
    const eng_config *cfg = &s->cfg;
    if (cfg->group_size < 2 && !cfg->group_leader) return 0;
    eng_group_cfg gc = {.size = cfg->group_leader ? 0 : cfg->group_size,
                        .leader = cfg->group_leader,
                        .rank = cfg->group_rank,
                        .timeout_s = cfg->group_timeout_s,
                        .on_lost = eng_server_group_lost,
                        .ud = s};
    if (eng_group_new(&s->group, s->loop, &gc, err, errlen) != 0) return -1;
    if (cfg->group_leader)
        bx_info("group worker rank %d of the leader %s", cfg->group_rank, cfg->group_leader);
    else
        bx_info("group leader: waiting for %d worker(s) (timeout %g s)", cfg->group_size - 1,
                cfg->group_timeout_s);
    return 0;
}

int eng_server_init(eng_server **out, uv_loop_t *loop, const eng_config *cfg, char *err,
                    size_t errlen)
{
    eng_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    bx_queue_init(&s->calls);
    s->loop = loop;
    s->cfg = *cfg;
    const eng_profile *base = eng_timing_find(cfg->profile);
    snprintf(s->served, sizeof(s->served), "%s",
             cfg->served_model_name ? cfg->served_model_name : cfg->model);
    bx_buf_init(&s->scratch);
    s->rng = cfg->seed ^ 0x6272697865ULL;
    s->wall0_ns = uv_hrtime();
    eng_generate_init(s);
    if (!base) {
        snprintf(err, errlen, "unknown profile '%s'", cfg->profile);
        goto fail;
    }
    eng_layout lay = {.tp = cfg->tensor_parallel_size,
                      .pp = cfg->pipeline_parallel_size,
                      .gpus_per_node = cfg->gpus_per_node,
                      .link_gbps = cfg->inter_node_gbps,
                      .link_latency_us = cfg->inter_node_latency_us,
                      .num_gpu_blocks = cfg->num_gpu_blocks};
    if (eng_timing_layout(base, &lay, &s->prof_buf, err, errlen) != 0) goto fail;
    s->prof = &s->prof_buf;
    if (!eng_name_ok(s->served)) {
        snprintf(
            err, errlen,
            "served model name must be 1-127 printable characters without quotes or backslashes");
        goto fail;
    }
    int32_t bs = cfg->block_size;
    eng_sched_cfg sc = {
        .max_num_seqs = cfg->max_num_seqs ? cfg->max_num_seqs : s->prof->max_num_seqs,
        .max_num_batched_tokens = cfg->max_num_batched_tokens ? cfg->max_num_batched_tokens
                                                              : s->prof->max_num_batched_tokens,
        .block_size = bs,
        .num_gpu_blocks = cfg->num_gpu_blocks
                              ? cfg->num_gpu_blocks
                              : (int32_t)((int64_t)s->prof->num_gpu_blocks * 16 / bs),
        .max_loras = cfg->max_loras,
        .max_cpu_loras = cfg->max_cpu_loras,
        .hash_seed = cfg->hash_seed,
        .hash_algo = eng_server_hash_algo(cfg->hash_algo)};
    if (sc.num_gpu_blocks < 1) sc.num_gpu_blocks = 1;
    s->max_model_len = cfg->max_model_len ? cfg->max_model_len : s->prof->max_model_len;
    if (!strcmp(cfg->scheduler, "vllm-v0")) { /* vLLM 0.x's defaults without chunked prefill */
        sc.policy = ENG_SCHED_VLLM_V0;
        sc.num_scheduler_steps = cfg->num_scheduler_steps;
        if (!cfg->max_num_seqs) sc.max_num_seqs = 256;
        if (!cfg->max_num_batched_tokens)
            sc.max_num_batched_tokens = s->max_model_len > 2048 ? s->max_model_len : 2048;
    }
    int64_t capacity = (int64_t)sc.num_gpu_blocks * bs;
    if (s->max_model_len > capacity) {
        snprintf(err, errlen,
                 "max-model-len %d is larger than the KV cache (%lld tokens): raise "
                 "--num-gpu-blocks or lower --max-model-len",
                 s->max_model_len, (long long)capacity);
        goto fail;
    }
    s->lora_load_s = cfg->lora_load_s >= 0 ? cfg->lora_load_s : s->prof->lora_load_s;
    s->price_h = cfg->price_per_hour >= 0 ? cfg->price_per_hour : eng_timing_price(s->prof);
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
    if (cfg->kv_offload && eng_server_offload_open(s, &sc, err, errlen) != 0) goto fail;
    static const eng_pd_hooks pd_hooks = {eng_enter_sched, eng_call_release, eng_kick, eng_now};
    if (eng_pd_open(s, &pd_hooks, err, errlen) != 0) goto fail;
    if (cfg->kv_events) {
        eng_kvpub_opts ko;
        eng_kvpub_opts_default(&ko);
        if (cfg->kv_events_map) ko.enc.event_enc = BX_KVEV_EVENT_MAP;
        ko.bind = cfg->kv_events_bind;
        if (eng_kvpub_open(&s->kvpub, cfg->kv_events, cfg->kv_events_replay, cfg->kv_events_topic,
                           &ko, err, errlen) != 0)
            goto fail;
        s->kv_on = 1;
        int fd = eng_kvpub_replay_fd(&s->kvpub);
        if (fd >= 0 && uv_poll_init(loop, &s->kv_poll, fd) == 0) {
            s->kv_poll.data = s;
            uv_poll_start(&s->kv_poll, UV_READABLE, eng_kv_poll_cb);
            s->kv_poll_on = 1;
        }
    }
    if (eng_waker_init(loop, &s->step_waker, eng_step_timer_cb, s) != 0) {
        snprintf(err, errlen, "cannot create the step timer");
        goto fail;
    }
    bx_http_limits lim;
    bx_http_limits_default(&lim);
    lim.max_body_bytes = 32u << 20;
    lim.idle_timeout_ms = (uint64_t)cfg->idle_timeout_ms; /* 0s: the defaults */
    lim.head_timeout_ms = (uint64_t)cfg->header_timeout_ms;
    lim.body_timeout_ms = (uint64_t)cfg->body_timeout_ms;
    lim.max_connections = (size_t)cfg->max_connections;
    lim.body_budget_bytes = (size_t)cfg->max_body_buffer_bytes;
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
    if (eng_server_group_open(s, err, errlen) != 0) goto fail;
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

double eng_server_price(const eng_server *s)
{
    return s->price_h;
}

int eng_server_exit_status(const eng_server *s)
{
    return s->exit_status;
}

static void eng_handle_freed(uv_handle_t *h)
{
    (void)h;
}

static void eng_server_forget_res(bx_http_res *res, void *ud)
{
    (void)res, (void)ud;
}

void eng_server_close(eng_server *s)
{
    if (!s) return;
    /* a leader ends its workers' join streams (they exit), before the
     * server's connections go */
    eng_group_close(s->group);
    s->group = NULL;
    /* the calls in flight are released below, so their responses must not
     * call back into them when the server's connections finish closing; a
     * no-op callback (not none) lets the server free those connections */
    bx_queue *q;
    BX_QUEUE_FOREACH(q, &s->calls)
    {
        eng_call *c = bx_container_of(q, eng_call, node);
        if (c->res) bx_http_res_set_abort(c->res, eng_server_forget_res, NULL);
    }
    if (s->http) bx_http_server_close(s->http, NULL, NULL);
    s->http = NULL;
    while ((q = bx_queue_head(&s->calls))) { /* their sequences are freed by eng_sched_close */
        eng_call *c = bx_container_of(q, eng_call, node);
        c->res = NULL;
        c->seq = NULL;
        eng_call_release(c);
    }
    eng_waker_close(&s->step_waker);
    if (s->kv_poll_on) uv_close((uv_handle_t *)&s->kv_poll, eng_handle_freed);
    eng_pd_close(s);
    /* let the loop run the close callbacks before the memory goes */
    uv_run(s->loop, UV_RUN_NOWAIT);
    if (s->kv_on) eng_kvpub_close(&s->kvpub);
    if (s->sched_ok) eng_sched_close(&s->sched); /* its offload hooks go with it */
    eng_offload_close(s->offload);
    eng_metrics_free(s->metrics);
    bx_buf_free(&s->scratch);
    free(s);
}
