/* gw_config: every setting of `brix gateway`, defaults in one place
 * (gw_config_default) and flag parsing next to it. Strings point into argv
 * (or the --config document); API keys are held as digests in keys, owned
 * by the config (a value: copies carry them), whichever source they came
 * from: --api-key, --api-key-file, the --config file, BRIX_API_KEYS. */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "common/bx_apikey.h"

#define GW_MAX_BACKENDS 256
#define GW_MAX_WORKERS 64

typedef struct gw_config {
    const char *host;
    int port;
    int workers;             /* proxy event loops (threads), 1..GW_MAX_WORKERS */
    const char *accept_mode; /* workers' listeners: "shared" (one socket) or "reuseport" */
    int64_t busy_poll_us;    /* > 0: loops spin, not sleep, while busy and this long after */
    const char *backends[GW_MAX_BACKENDS]; /* "http://host:port" or "host:port" */
    int nbackends;

    /* --kubernetes: engines from pods and ModelAdapters (gw_k8s.h), not backends */
    int kubernetes;
    const char *kubeconfig;    /* NULL: in-cluster, else $KUBECONFIG or ~/.kube/config */
    const char *k8s_namespace; /* NULL or "": all namespaces */

    const char *strategy; /* default routing strategy */
    int64_t scrape_interval_ms;
    int64_t models_interval_ms;
    int stale_after;   /* missed scrapes before metrics are treated as missing */
    const char *redis; /* "host:port" for RPM/TPM limits; NULL = no limits */
    int ratelimit_fail_closed;
    int64_t redis_timeout_ms; /* longest wait for Redis per rate-limit check */
    /* --load-trace or AIBRIX_GPU_OPTIMIZER_TRACING_FLAG=true: the load
     * monitor's windows also go to --redis in AIBrix's keys (gw_loadmon.h) */
    int load_trace;
    bx_apikeys keys; /* keys.n == 0: no authentication (gw_auth) */
    /* --backend-api-key / $BRIX_BACKEND_API_KEY: the engines' key (a secret,
     * never logged); NULL = none. Not owned (argv, environ, the config doc) */
    const char *backend_api_key;
    int metrics_port;         /* > 0: /metrics also served there, without a key */
    const char *metrics_host; /* its address (default 127.0.0.1) */
    int64_t connect_timeout_ms, first_byte_timeout_ms, idle_timeout_ms;
    int64_t stream_idle_timeout_ms; /* engine silent this long mid-answer: error */
    int64_t stream_silence_min_ms;  /* floor of a stream's pace-scaled silence bound */
    int max_retries;
    /* a stream whose engine dies or stalls mid-answer is continued on another
     * engine at most this many times (gw_migrate.h); 0 = never */
    int migrate_attempts;
    int breaker_failures;    /* consecutive failures that open the breaker */
    int64_t breaker_open_ms; /* how long it stays open before a probe */
    int64_t max_body_bytes;
    /* client connections (bx_http_limits): head and body deadlines, the
     * connection cap (0 = (open-file limit - 64) / 2) and the buffered-body
     * budget, all over the workers */
    int64_t header_timeout_ms, body_timeout_ms, max_connections, max_body_buffer_bytes;
    int block_size;           /* engines' KV block size (prefix hashing) */
    const char *hash_seed;    /* engines' PYTHONHASHSEED (prefix hashing) */
    const char *hash_algo;    /* xxhash_cbor | sha256_cbor (prefix hashing) */
    int64_t prefix_max_bytes; /* prefix index memory bound */
    /* KV events (gw_kvroute.h): engines' PUB at host:kv_events_port (replay
     * at kv_events_replay_port, 0 none), or at port + offset (replay + 1);
     * both 0 = off */
    int kv_events_port, kv_events_replay_port, kv_events_port_offset;
    int64_t kv_index_max_bytes; /* exact index memory bound */
    int64_t kv_spec_ttl_ms;     /* speculative entries' life */
    /* the GPU optimizer's base URL (GET URL/assignment/<model>: gw_hetero.h);
     * NULL: none (the slo strategies route as least-request). Also
     * $BRIX_GPU_OPTIMIZER */
    const char *gpu_optimizer;
    int64_t gpu_optimizer_interval_ms;
    /* the slo strategies' settings (strategies/gw_strat_slo.c), handed to
     * each of them by gw_config_configure_router; 0: their defaults (128
     * output tokens for a request without max_tokens; saturated at 32
     * requests in flight) */
    int64_t slo_default_output_tokens; /* --slo-default-output-tokens */
    int64_t slo_max_outstanding;       /* --slo-max-outstanding */
    /* the queue of the pulling slo strategies' held requests (gw_proxy.c,
     * GW_PICK_HOLD): at most slo_queue_max per model and worker, each for
     * slo_queue_timeout_ms at most; then 429 with Retry-After */
    int64_t slo_queue_max;        /* --slo-queue-max, 256 */
    int64_t slo_queue_timeout_ms; /* --slo-queue-timeout-ms, 5000 */
    const char *log_level;
    const char *access_log; /* a file, "-" (stderr) or "off"; NULL: off */
    int access_log_sample;  /* log 1 request in N (errors always) */
    struct json_t *doc;     /* the --config document the strings point into (owned) */
} gw_config;

void gw_config_default(gw_config *c);
/* argv[0] = "gateway". Reads --config FILE first, then the flags, then
 * the keys of $BRIX_API_KEYS (comma-separated; every source's keys count).
 * 0, 1 after --help, -1 after an error on err. */
int gw_config_parse(gw_config *c, int argc, char **argv, FILE *out, FILE *err);
struct gw_router;
/* Hands c's strategy settings (the slo ones above, where not 0) to every
 * strategy of r that takes them (configure()), before its first pick: 0, or
 * -1 with why in err. */
int gw_config_configure_router(const gw_config *c, struct gw_router *r, char *err, size_t errlen);
/* Releases the --config document (after the gateway is closed). */
void gw_config_free(gw_config *c);

#endif
