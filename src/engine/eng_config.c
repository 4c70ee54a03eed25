/* eng_config: see eng_config.h. One table describes every flag: its name,
 * kind, target and help; bx_flags parses argv and prints --help from it. */
#include "engine/eng_config.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/bx_blockhash.h"
#include "common/bx_flags.h"
#include "engine/eng_timing.h"

/* The table's kinds: bx_flags' own, and the two this file sets itself. */
enum {
    F_STR = BX_FLAG_STR,
    F_INT = BX_FLAG_INT,
    F_I64 = BX_FLAG_I64,
    F_U64 = BX_FLAG_U64,
    F_DBL = BX_FLAG_DBL,
    F_BOOL = BX_FLAG_ON,
    F_LIST = BX_FLAG_CUSTOM, /* --lora-modules name=path, repeatable */
    F_KEY,                   /* --api-key, repeatable */
};

#define OFF(f) offsetof(eng_config, f)

static const bx_flag eng_flags[] = {
    {"--model", F_STR, OFF(model), "model name or path (vLLM's --model)"},
    {"--served-model-name", F_STR, OFF(served_model_name),
     "name served in the API (default: --model)"},
    {"--host", F_STR, OFF(host),
     "address to listen on (default 127.0.0.1, loopback; vLLM's is all interfaces: "
     "--host 0.0.0.0)"},
    {"--port", F_INT, OFF(port), "port to listen on (default 8000)"},
    {"--profile", F_STR, OFF(profile), "timing profile (default llama3-8b-h100; see below)"},
    {"--max-num-seqs", F_INT, OFF(max_num_seqs), "max sequences in a batch (default: profile's)"},
    {"--max-num-batched-tokens", F_INT, OFF(max_num_batched_tokens),
     "token budget per step (default: profile's)"},
    {"--scheduler", F_STR, OFF(scheduler),
     "vllm-v1 (default): vLLM v1's scheduler, chunked prefill; vllm-v0: vLLM 0.x's default, "
     "whole prefills that stall decodes, to replay runs of those versions (docs/engine.md)"},
    {"--num-scheduler-steps", F_INT, OFF(num_scheduler_steps),
     "with --scheduler vllm-v0: decode passes per scheduling, tokens sent at the end of each "
     "burst (vLLM 0.x's multi-step; default 1; vLLM v1 has none: no effect)"},
    {"--block-size", F_INT, OFF(block_size), "KV block size in tokens (default 16)"},
    {"--num-gpu-blocks", F_INT, OFF(num_gpu_blocks), "KV cache blocks (default: profile's)"},
    {"--max-model-len", F_INT, OFF(max_model_len),
     "max prompt + output tokens (default: profile's)"},
    {"--enable-lora", F_BOOL, OFF(enable_lora), "serve LoRA adapters"},
    {"--allow-runtime-lora", F_BOOL, OFF(allow_runtime_lora),
     "with --enable-lora, serve /v1/load_lora_adapter and /v1/unload_lora_adapter "
     "(also VLLM_ALLOW_RUNTIME_LORA_UPDATING=true, as vLLM)"},
    {"--api-key", F_KEY, 0,
     "requests to paths under /v1 need Authorization: Bearer KEY (repeatable; also "
     "$VLLM_API_KEY, as vLLM); /health, /metrics and the rest stay open"},
    {"--max-loras", F_INT, OFF(max_loras), "adapters in one batch / GPU slots (default 1)"},
    {"--max-cpu-loras", F_INT, OFF(max_cpu_loras),
     "adapters kept in host memory (default max-loras)"},
    {"--lora-modules", F_LIST, OFF(lora_modules), "name=path adapter loaded at start (repeatable)"},
    {"--lora-load-seconds", F_DBL, OFF(lora_load_s),
     "simulated adapter load time (default: profile's)"},
    {"--time-scale", F_DBL, OFF(time_scale), "simulated seconds per wall second (default 1)"},
    {"--seed", F_U64, OFF(seed), "seed for generated text, lengths and jitter (default 0)"},
    {"--hash-seed", F_STR, OFF(hash_seed), "prefix-hash seed (default $PYTHONHASHSEED or \"0\")"},
    {"--prefix-caching-hash-algo", F_STR, OFF(hash_algo),
     "sha256_cbor (default) or xxhash_cbor, as vLLM"},
    {"--max-waiting", F_INT, OFF(max_waiting),
     "waiting-queue limit, 503 beyond it (default 0 = none)"},
    {"--embedding-dim", F_INT, OFF(embedding_dim), "embedding vector size (default 1024)"},
    {"--jitter", F_DBL, OFF(jitter), "relative noise on each step's duration (default 0.03)"},
    {"--enable-prompt-tokens-details", F_BOOL, OFF(prompt_tokens_details),
     "report usage.prompt_tokens_details.cached_tokens"},
    {"--lora-info-latest-only", F_BOOL, OFF(lora_info_latest_only),
     "emit only the current vllm:lora_requests_info series"},
    {"--kv-events", F_STR, OFF(kv_events),
     "publish KV events on this ZMQ endpoint (binds if it has * or ::)"},
    {"--kv-events-replay", F_STR, OFF(kv_events_replay), "ZMQ ROUTER endpoint for event replay"},
    {"--kv-events-topic", F_STR, OFF(kv_events_topic),
     "topic of KV event messages (default empty)"},
    {"--kv-events-config", F_STR, OFF(kv_events_config),
     "vLLM's KV-events JSON (endpoint, replay_endpoint, topic when enabled)"},
    {"--kv-events-bind", F_BOOL, OFF(kv_events_bind),
     "bind the --kv-events endpoint even without * or :: (a loopback address)"},
    {"--kv-events-map", F_BOOL, OFF(kv_events_map),
     "encode events as named maps instead of arrays"},
    {"--fault-error-rate", F_DBL, OFF(fault_error_rate), "fraction of requests answered 500"},
    {"--fault-hang-rate", F_DBL, OFF(fault_hang_rate), "fraction of requests never answered"},
    {"--fault-crash-after-tokens", F_I64, OFF(fault_crash_after_tokens),
     "kill the process after N generated tokens"},
    {"--fault-startup-delay", F_DBL, OFF(fault_startup_delay),
     "seconds of 503 (not ready) after start"},
    {"--fault-unhealthy-file", F_STR, OFF(fault_unhealthy_file),
     "/health answers 503 while this file exists"},
    {"--log-level", F_STR, OFF(log_level), "debug|info|warn|error (default info)"},
    {"--idle-timeout-ms", F_I64, OFF(idle_timeout_ms),
     "client keep-alive idle timeout: the longest wait between requests (default 60000)"},
    {"--header-timeout-ms", F_I64, OFF(header_timeout_ms),
     "time for a client's whole request head, 408 beyond (default 10000)"},
    {"--body-timeout-ms", F_I64, OFF(body_timeout_ms),
     "time for a request body from the end of its head, plus 1 s per 16 KiB received; 408 "
     "beyond (default 60000)"},
    {"--max-connections", F_I64, OFF(max_connections),
     "client connections open at once; more are closed at once (default 0 = open-file limit - "
     "64)"},
    {"--max-body-buffer-bytes", F_I64, OFF(max_body_buffer_bytes),
     "request bodies being received, all connections together; a body that does not fit gets "
     "503 (default 256 MiB)"},
    {"--kv-transfer-config", F_STR, OFF(kv_transfer_config),
     "vLLM's KV-transfer JSON: prefill/decode roles, e.g. "
     "'{\"kv_connector\":\"NixlConnector\",\"kv_role\":\"kv_producer\"}' (kv_producer: "
     "prefill, kv_consumer: decode, kv_both; kv_load_failure_policy fail|recompute)"},
    {"--kv-link-gbps", F_DBL, OFF(kv_link_gbps),
     "simulated KV-transfer link a decode engine pulls prefills over, GB/s (default 25)"},
    {"--kv-link-latency-us", F_DBL, OFF(kv_link_latency_us),
     "latency of one KV transfer on that link, microseconds (default 50)"},
    {"--kv-pin-timeout", F_DBL, OFF(kv_pin_timeout_s),
     "seconds a prefill's KV stays pinned for its decode engine (default 480, vLLM's "
     "VLLM_NIXL_ABORT_REQUEST_TIMEOUT)"},
    {"--kv-offload", F_BOOL, OFF(kv_offload),
     "offload evicted KV blocks to libbrixkv (L1 DRAM, L2 Redis) and load prefixes from it"},
    {"--kv-l1-gb", F_DBL, OFF(kv_l1_gb), "L1 (DRAM) offload capacity in GiB (default 1)"},
    {"--kv-l1-policy", F_STR, OFF(kv_l1_policy), "L1 eviction: S3FIFO (default), LRU or FIFO"},
    {"--kv-redis", F_STR, OFF(kv_redis), "host:port[,host:port] of the L2 Redis/Valkey tier"},
    {"--kv-ingestion", F_STR, OFF(kv_ingestion), "how L1 feeds L2: ALL (default), EVICTED or HOT"},
    {"--kv-block-bytes", F_I64, OFF(kv_block_bytes),
     "real bytes stored per offloaded block (default 65536; scaled down from the profile's)"},
    {"--kv-l1-gbps", F_DBL, OFF(kv_l1_gbps), "simulated load bandwidth from L1, GB/s (default 20)"},
    {"--kv-l2-gbps", F_DBL, OFF(kv_l2_gbps), "simulated load bandwidth from L2, GB/s (default 5)"},
    {"--group-size", F_INT, OFF(group_size),
     "lead a multi-node replica of N members: N-1 workers join on --port (env "
     "BRIX_GROUP_SIZE; default 1 = no group)"},
    {"--group-leader", F_STR, OFF(group_leader),
     "be a worker of the group led at this URL, http://host:port (env BRIX_GROUP_LEADER)"},
    {"--group-rank", F_INT, OFF(group_rank), "this worker's rank, 1..N-1 (env BRIX_GROUP_RANK)"},
    {"--group-timeout", F_DBL, OFF(group_timeout_s),
     "seconds without heartbeats before a member counts as lost (default 3)"},
    {"--tensor-parallel-size", F_INT, OFF(tensor_parallel_size),
     "GPUs each layer is split over (default: the profile's)"},
    {"--pipeline-parallel-size", F_INT, OFF(pipeline_parallel_size),
     "pipeline stages the layers are split into (default: the profile's)"},
    {"--distributed-executor-backend", F_STR, OFF(distributed_executor_backend),
     "ray, mp, uni or external_launcher (accepted, as vLLM; the simulator runs one process "
     "per node either way)"},
    {"--gpus-per-node", F_INT, OFF(gpus_per_node), "GPUs in one node (default 8)"},
    {"--inter-node-gbps", F_DBL, OFF(inter_node_gbps),
     "inter-node link bandwidth per node, GB/s, for all-reduce and pipeline transfers "
     "(default 400: 8 x 400 Gb/s NICs, an HGX H100 node)"},
    {"--inter-node-latency-us", F_DBL, OFF(inter_node_latency_us),
     "inter-node latency per message, microseconds (default 10)"},
    {"--price-per-hour", F_DBL, OFF(price_per_hour),
     "$ per replica-hour of this GPU type, exported as brix:engine_price_per_hour for the "
     "optimizer and brix bench profile (default: the profile's on-demand price, below)"},
};

void eng_config_default(eng_config *c)
{
    memset(c, 0, sizeof(*c));
    c->model = "brix-sim-llama3-8b";
    c->host = "127.0.0.1";
    c->port = 8000;
    c->profile = "llama3-8b-h100";
    c->scheduler = "vllm-v1";
    c->num_scheduler_steps = 1;
    c->block_size = 16;
    c->max_loras = 1;
    c->lora_load_s = -1;
    c->time_scale = 1.0;
    const char *hs = getenv("PYTHONHASHSEED");
    c->hash_seed = hs && *hs ? hs : "0";
    c->hash_algo = "sha256_cbor";
    c->embedding_dim = 1024;
    c->jitter = 0.03;
    c->log_level = "info";
    c->kv_l1_gb = 1.0;
    c->kv_l1_policy = "S3FIFO";
    c->kv_ingestion = "ALL";
    c->kv_block_bytes = 65536;
    c->kv_l1_gbps = 20.0;
    c->kv_link_gbps = 25.0;
    c->kv_link_latency_us = 50.0;
    c->kv_pin_timeout_s = 480.0;
    c->kv_l2_gbps = 5.0;
    c->group_timeout_s = 3.0;
    c->gpus_per_node = 8;
    c->inter_node_gbps = 400.0;
    c->inter_node_latency_us = 10.0;
    c->price_per_hour = -1;
}

/* An environment integer (BRIX_GROUP_*): digits only. 0, or -1. */
static int eng_env_int(const char *name, int32_t *out, FILE *err)
{
    const char *v = getenv(name);
    if (!v || !*v) return 0;
    long n = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9' || n > 1000000) {
            fprintf(err, "brix engine: %s must be a non-negative integer\n", name);
            return -1;
        }
        n = n * 10 + (*p - '0');
    }
    *out = (int32_t)n;
    return 0;
}

/* The group flags, their environment, and the layout's node count. */
static int eng_config_group(eng_config *c, FILE *err)
{
    if (!c->group_size && eng_env_int("BRIX_GROUP_SIZE", &c->group_size, err) != 0) return -1;
    if (!c->group_rank && eng_env_int("BRIX_GROUP_RANK", &c->group_rank, err) != 0) return -1;
    if (!c->group_leader) {
        const char *l = getenv("BRIX_GROUP_LEADER");
        if (l && *l) c->group_leader = l;
    }
    if (!(c->group_timeout_s > 0) || c->group_timeout_s > 3600) {
        fprintf(err, "brix engine: --group-timeout must be in (0, 3600] seconds\n");
        return -1;
    }
    if (c->group_leader && c->group_size > 1 && c->group_rank >= c->group_size) {
        fprintf(err, "brix engine: --group-rank %d is out of range for a group of %d (1..%d)\n",
                c->group_rank, c->group_size, c->group_size - 1);
        return -1;
    }
    if (c->group_leader && c->group_rank < 1) {
        fprintf(err, "brix engine: a worker (--group-leader) needs --group-rank 1..N-1\n");
        return -1;
    }
    if (!c->group_leader && c->group_rank) {
        fprintf(err, "brix engine: --group-rank needs --group-leader\n");
        return -1;
    }
    const char *b = c->distributed_executor_backend;
    if (b && strcmp(b, "ray") && strcmp(b, "mp") && strcmp(b, "uni") &&
        strcmp(b, "external_launcher")) {
        fprintf(err, "brix engine: --distributed-executor-backend must be ray, mp, uni or "
                     "external_launcher\n");
        return -1;
    }
    if (c->gpus_per_node < 1 || !(c->inter_node_gbps > 0) || c->inter_node_latency_us < 0) {
        fprintf(err, "brix engine: --gpus-per-node and --inter-node-gbps must be positive, "
                     "--inter-node-latency-us not negative\n");
        return -1;
    }
    const eng_profile *p = eng_timing_find(c->profile);
    if (!p) return 0; /* reported below */
    int tp = c->tensor_parallel_size ? c->tensor_parallel_size : eng_timing_tp(p);
    int pp = c->pipeline_parallel_size ? c->pipeline_parallel_size : eng_timing_pp(p);
    int64_t gpus = (int64_t)tp * pp;
    int64_t nodes = (gpus + c->gpus_per_node - 1) / c->gpus_per_node;
    int members = c->group_size;
    if (members >= 1 && nodes > members) { /* without a group: one process stands for all */
        fprintf(err,
                "brix engine: tensor-parallel-size %d x pipeline-parallel-size %d = %lld GPUs "
                "need %lld nodes of %d GPUs, and this replica has %d (--group-size / "
                "BRIX_GROUP_SIZE)\n",
                tp, pp, (long long)gpus, (long long)nodes, c->gpus_per_node, members);
        return -1;
    }
    return 0;
}

static void eng_config_help_tail(FILE *f)
{
    fprintf(f, "\nprofiles ($ per replica-hour, on-demand; --price-per-hour overrides):\n");
    for (const eng_profile *const *p = eng_timing_profiles(); *p; p++)
        fprintf(f, "  %-26s %8.3f  %s\n", (*p)->name, eng_timing_price(*p), (*p)->desc);
}

static int eng_flag_set(void *cfg, const bx_flag *fl, const char *val, FILE *err)
{
    eng_config *c = cfg;
    if (fl->kind == F_KEY) {
        char e[256];
        if (bx_apikeys_add(&c->keys, val, strlen(val), e, sizeof(e)) != 0) {
            fprintf(err, "brix engine: --api-key: %s\n", e);
            return BX_FLAG_FAIL;
        }
        return 0;
    }
    if (c->n_lora_modules >= ENG_MAX_LORA_MODULES || !strchr(val, '=')) {
        fprintf(err, "brix engine: --lora-modules wants name=path (at most %d)\n",
                ENG_MAX_LORA_MODULES);
        return BX_FLAG_FAIL;
    }
    c->lora_modules[c->n_lora_modules++] = val;
    return 0;
}

/* An option not in the table (vLLM has many the simulator does not act
 * on: --gpu-memory-utilization 0.9, --trust-remote-code, ...): recorded,
 * warned about once by eng_main, not refused. */
static int eng_flag_unknown(void *cfg, const char *arg, const char *val, FILE *err)
{
    eng_config *c = cfg;
    if (c->n_ignored >= ENG_MAX_IGNORED) {
        fprintf(err, "brix engine: more than %d options it does not know (last '%s')\n",
                ENG_MAX_IGNORED, arg);
        return -1;
    }
    c->ignored[c->n_ignored] = arg;
    c->ignored_val[c->n_ignored++] = val;
    return 0;
}

static const bx_flags_spec eng_flags_spec = {
    .flags = eng_flags,
    .nflags = sizeof(eng_flags) / sizeof(eng_flags[0]),
    .prog = "brix engine",
    .not_valid = "a valid non-negative number",
    .usage = "usage: brix engine [options]\n\n"
             "A vLLM-compatible engine simulator: OpenAI API, vLLM metrics, LoRA, prefix\n"
             "caching and continuous batching, with step times from a GPU profile.\n\n",
    .name_width = 32,
    .help_tail = eng_config_help_tail,
    .set = eng_flag_set,
    .unknown = eng_flag_unknown,
};

/* vLLM's --kv-events-config: its endpoints for the options not given. */
static int eng_config_kv_events_json(eng_config *c, FILE *err)
{
    json_error_t je;
    json_t *j = json_loads(c->kv_events_config, 0, &je);
    if (!json_is_object(j)) {
        fprintf(err, "brix engine: --kv-events-config: not a JSON object (%s)\n", je.text);
        json_decref(j);
        return -1;
    }
    const char *pub = json_string_value(json_object_get(j, "publisher"));
    if (!json_is_true(json_object_get(j, "enable_kv_cache_events")) ||
        (pub && strcmp(pub, "zmq") != 0)) {
        json_decref(j);
        return 0;
    }
    static const char *const keys[3] = {"endpoint", "replay_endpoint", "topic"};
    const char **dst[3] = {&c->kv_events, &c->kv_events_replay, &c->kv_events_topic};
    for (int k = 0; k < 3; k++) {
        const char *v = json_string_value(json_object_get(j, keys[k]));
        if (!v && k == 0) v = "tcp://*:5557"; /* vLLM's default */
        if (!v || *dst[k]) continue;
        if (strlen(v) >= sizeof(c->kvcfg[k])) {
            fprintf(err, "brix engine: --kv-events-config: %s too long\n", keys[k]);
            json_decref(j);
            return -1;
        }
        snprintf(c->kvcfg[k], sizeof(c->kvcfg[k]), "%s", v);
        *dst[k] = c->kvcfg[k];
    }
    json_decref(j);
    return 0;
}

int eng_config_parse(eng_config *c, int argc, char **argv, FILE *out, FILE *err)
{
    int rc = bx_flags_parse(&eng_flags_spec, c, argc, argv, NULL, out, err);
    if (rc != 0) return rc;
    const char *rt = getenv("VLLM_ALLOW_RUNTIME_LORA_UPDATING");
    if (rt) { /* vLLM: "1" or "true", blanks and case aside */
        char v[8] = {0};
        size_t n = 0;
        while (*rt == ' ' || *rt == '\t')
            rt++;
        while (*rt && *rt != ' ' && *rt != '\t' && n < sizeof(v) - 1)
            v[n++] = *rt++;
        if (!strcmp(v, "1") || !strcasecmp(v, "true")) c->allow_runtime_lora = 1;
    }
    const char *ek = getenv("VLLM_API_KEY");
    if (ek && *ek) {
        char e[256];
        if (bx_apikeys_add(&c->keys, ek, strlen(ek), e, sizeof(e)) != 0) {
            fprintf(err, "brix engine: VLLM_API_KEY: %s\n", e);
            return -1;
        }
    }
    if (c->kv_events_config && eng_config_kv_events_json(c, err) != 0) return -1;
    if (c->time_scale <= 0) {
        fprintf(err, "brix engine: --time-scale must be positive\n");
        return -1;
    }
    if (strcmp(c->scheduler, "vllm-v1") && strcmp(c->scheduler, "vllm-v0")) {
        fprintf(err, "brix engine: --scheduler must be vllm-v1 or vllm-v0\n");
        return -1;
    }
    if (c->num_scheduler_steps < 1 || c->num_scheduler_steps > 256) {
        fprintf(err, "brix engine: --num-scheduler-steps must be 1..256\n");
        return -1;
    }
    if (c->block_size < 1 || c->block_size > 256) {
        fprintf(err, "brix engine: --block-size must be 1..256\n");
        return -1;
    }
    bx_blockhash_algo algo;
    if (bx_blockhash_algo_parse(c->hash_algo, &algo) != 0) {
        fprintf(err,
                "brix engine: --prefix-caching-hash-algo must be sha256_cbor or xxhash_cbor\n");
        return -1;
    }
    if (c->fault_error_rate > 1 || c->fault_hang_rate > 1) {
        fprintf(err, "brix engine: fault rates are fractions in 0..1\n");
        return -1;
    }
    if (!(c->kv_link_gbps > 0) || !(c->kv_link_latency_us >= 0) || !(c->kv_pin_timeout_s > 0)) {
        fprintf(err,
                "--kv-link-gbps and --kv-pin-timeout must be > 0, --kv-link-latency-us >= 0\n");
        return -1;
    }
    if (!(c->kv_l1_gb > 0) || !(c->kv_l1_gbps > 0) || !(c->kv_l2_gbps > 0)) {
        fprintf(err, "brix engine: --kv-l1-gb, --kv-l1-gbps and --kv-l2-gbps must be positive\n");
        return -1;
    }
    if (c->kv_block_bytes < 1 || c->kv_block_bytes > ENG_KV_BLOCK_BYTES_MAX) {
        fprintf(err, "brix engine: --kv-block-bytes must be 1..%d\n", ENG_KV_BLOCK_BYTES_MAX);
        return -1;
    }
    if (strcasecmp(c->kv_l1_policy, "S3FIFO") && strcasecmp(c->kv_l1_policy, "LRU") &&
        strcasecmp(c->kv_l1_policy, "FIFO")) {
        fprintf(err, "brix engine: --kv-l1-policy must be S3FIFO, LRU or FIFO\n");
        return -1;
    }
    if (strcasecmp(c->kv_ingestion, "ALL") && strcasecmp(c->kv_ingestion, "EVICTED") &&
        strcasecmp(c->kv_ingestion, "HOT")) {
        fprintf(err, "brix engine: --kv-ingestion must be ALL, EVICTED or HOT\n");
        return -1;
    }
    if (c->price_per_hour != -1 && !(c->price_per_hour >= 0 && c->price_per_hour <= 1e6)) {
        fprintf(err, "brix engine: --price-per-hour must be 0..1000000 ($ per replica-hour)\n");
        return -1;
    }
    if (!eng_timing_find(c->profile)) {
        fprintf(err, "brix engine: unknown --profile '%s' (see --help)\n", c->profile);
        return -1;
    }
    return eng_config_group(c, err);
}
