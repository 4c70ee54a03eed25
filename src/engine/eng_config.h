/* eng_config: every setting of `brix engine`, with defaults in one place
 * (eng_config_default) and flag parsing (eng_config_parse) next to it.
 * Flags follow vLLM's names where they mean the same. Strings point into
 * argv (not owned); API keys are held as digests in keys (a value). */
#ifndef ENG_CONFIG_H
#define ENG_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "common/bx_apikey.h"

#define ENG_MAX_LORA_MODULES 64
#define ENG_MAX_IGNORED 64                /* vLLM options accepted and not acted on */
#define ENG_KV_BLOCK_BYTES_MAX (16 << 20) /* --kv-block-bytes */

typedef struct eng_config {
    const char *model;
    const char *served_model_name; /* NULL: model */
    const char *host;
    int port;
    const char *profile;
    int32_t max_num_seqs;           /* 0: profile default */
    int32_t max_num_batched_tokens; /* 0: profile default */
    int32_t block_size;
    int32_t num_gpu_blocks;      /* 0: profile default (scaled to block size) */
    int32_t max_model_len;       /* 0: profile default */
    const char *scheduler;       /* "vllm-v1" (default) or "vllm-v0" (eng_sched.h) */
    int32_t num_scheduler_steps; /* vllm-v0: decode passes per step (vLLM's multi-step) */
    int enable_lora;
    int allow_runtime_lora; /* /v1/load_lora_adapter and /v1/unload_lora_adapter
                               (--allow-runtime-lora or VLLM_ALLOW_RUNTIME_LORA_UPDATING) */
    bx_apikeys keys;        /* --api-key / VLLM_API_KEY: paths under /v1 need one */
    int32_t max_loras, max_cpu_loras;
    const char *lora_modules[ENG_MAX_LORA_MODULES]; /* "name=path" */
    int n_lora_modules;
    /* options of vLLM's the engine does not act on, accepted so that a
     * `vllm serve` command line runs as written: each as given ("--name" or
     * "--name=v") and the value taken with it (NULL when none); pointers
     * into argv. eng_main names them in one warning. */
    const char *ignored[ENG_MAX_IGNORED], *ignored_val[ENG_MAX_IGNORED];
    int n_ignored;
    double lora_load_s; /* < 0: profile default */
    double time_scale;
    uint64_t seed;
    const char *hash_seed; /* PYTHONHASHSEED or "0" */
    const char *hash_algo; /* sha256_cbor | xxhash_cbor */
    int32_t max_waiting;   /* 0: unbounded, as vLLM */
    int32_t embedding_dim;
    double jitter; /* relative sd of each step's duration */
    int prompt_tokens_details;
    int lora_info_latest_only;
    const char *kv_events;
    const char *kv_events_replay;
    const char *kv_events_topic;
    /* vLLM's --kv-events-config JSON: with enable_kv_cache_events true
     * (publisher zmq), its endpoint (default vLLM's, port 5557 on every address),
     * replay_endpoint and topic stand for --kv-events, --kv-events-replay
     * and --kv-events-topic, unless those are given; copied into kvcfg */
    const char *kv_events_config;
    char kvcfg[3][256];
    int kv_events_map;
    int kv_events_bind; /* --kv-events-bind: bind a plain address (vLLM binds only * and ::) */
    double fault_error_rate;
    double fault_hang_rate;
    int64_t fault_crash_after_tokens;
    double fault_startup_delay;
    const char *fault_unhealthy_file; /* /health answers 503 while it exists */
    const char *log_level;
    /* client connections (bx_http_limits; 0 = its default) */
    int64_t idle_timeout_ms, header_timeout_ms, body_timeout_ms;
    int64_t max_connections, max_body_buffer_bytes;
    /* KV offloading through libbrixkv (eng_offload) */
    int kv_offload;
    double kv_l1_gb;
    const char *kv_l1_policy;
    const char *kv_redis;     /* NULL: no L2 */
    const char *kv_ingestion; /* how L1 feeds L2 */
    int64_t kv_block_bytes;   /* real bytes stored per block */
    double kv_l1_gbps, kv_l2_gbps;
    /* multi-node replica (eng_group): a worker has group_leader and
     * group_rank, a leader group_size >= 2 and no group_leader (flags, else
     * BRIX_GROUP_*); a worker given group_size checks its rank against it */
    int32_t group_size; /* 0 or 1: no group */
    const char *group_leader;
    int32_t group_rank;
    double group_timeout_s;
    /* parallel layout (eng_timing_layout): 0 = the profile's own */
    int32_t tensor_parallel_size, pipeline_parallel_size;
    int32_t gpus_per_node;
    const char *distributed_executor_backend; /* accepted: ray, mp, uni, external_launcher */
    double inter_node_gbps;                   /* GB/s per node */
    double inter_node_latency_us;             /* per message */
    /* $ per replica-hour of this engine's GPU type, exported in /metrics
       (brix:engine_price_per_hour); < 0: the profile's (eng_timing_price) */
    double price_per_hour;
    /* prefill/decode disaggregation (eng_pd): vLLM's KVTransferConfig JSON
       (NULL: none), the modelled KV link, how long a prefill's KV stays
       pinned for its decode engine */
    const char *kv_transfer_config;
    double kv_link_gbps, kv_link_latency_us;
    double kv_pin_timeout_s;
} eng_config;

void eng_config_default(eng_config *c);
/* Parses argv (argv[0] = "engine"), then the environment as vLLM reads it:
 * VLLM_ALLOW_RUNTIME_LORA_UPDATING (1 or true) and VLLM_API_KEY, and
 * BRIX_GROUP_SIZE, BRIX_GROUP_LEADER, BRIX_GROUP_RANK where their flags
 * are absent. Refuses a tensor x pipeline layout needing more nodes than
 * --group-size has. Returns 0,
 * 1 when --help was printed, or -1 after printing an error to err. */
int eng_config_parse(eng_config *c, int argc, char **argv, FILE *out, FILE *err);

#endif
