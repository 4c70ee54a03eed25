/* gw_config: see gw_config.h. One table drives parsing and --help
 * (bx_flags); the --config file's keys are the same flags without "--". */
#include "gateway/gw_config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_apikey.h"
#include "common/bx_blockhash.h"
#include "common/bx_flags.h"
#include "common/bx_yaml.h"
#include "gateway/gw_engine.h"
#include "gateway/gw_hetero.h"
#include "gateway/gw_router.h"
#include "gateway/gw_strategy.h"

/* The table's kinds: bx_flags' own, and those this file sets itself. */
enum {
    GF_STR = BX_FLAG_STR,
    GF_INT = BX_FLAG_INT,
    GF_I64 = BX_FLAG_I64,
    GF_BOOL = BX_FLAG_ON,
    GF_BACKEND = BX_FLAG_CUSTOM, /* repeatable */
    GF_KEY,                      /* repeatable */
    GF_KEYFILE,                  /* repeatable */
    GF_CONFIG,                   /* read before the other flags (gw_config_load) */
};

#define GOFF(f) offsetof(gw_config, f)

static const bx_flag gw_flags[] = {
    {"--host", GF_STR, GOFF(host),
     "address to listen on (default 127.0.0.1; 0.0.0.0 opens it: set keys)"},
    {"--port", GF_INT, GOFF(port), "port to listen on (default 8888)"},
    {"--workers", GF_INT, GOFF(workers),
     "event loops serving requests, one thread each, sharing the port (default 1)"},
    {"--busy-poll-us", GF_I64, GOFF(busy_poll_us),
     "keep each loop polling without sleeping while requests are in flight and this many "
     "microseconds after the last (lower latency for a core's CPU; default 0 = off)"},
    {"--accept", GF_STR, GOFF(accept_mode),
     "how workers share the port: shared (one listening socket: a busy loop accepts less; "
     "default) or reuseport (SO_REUSEPORT: the kernel hashes connections over the loops)"},
    {"--backend", GF_BACKEND, 0,
     "engine base URL, e.g. http://127.0.0.1:8000, or GROUP=URL to name its GPU type (its "
     "Deployment, for the slo strategies) (repeatable)"},
    {"--kubernetes", GF_BOOL, GOFF(kubernetes),
     "discover engines on Kubernetes instead of --backend: Ready pods labelled "
     "model.aibrix.ai/name at podIP:model.aibrix.ai/port (default 8000), adapters from "
     "ModelAdapters' status.instances (default off)"},
    {"--kubeconfig", GF_STR, GOFF(kubeconfig),
     "with --kubernetes: kubeconfig file(s), colon-separated (default: the service account "
     "in a pod, else $KUBECONFIG or ~/.kube/config)"},
    {"--namespace", GF_STR, GOFF(k8s_namespace),
     "with --kubernetes: watch this namespace only (default: all namespaces)"},
    {"--strategy", GF_STR, GOFF(strategy),
     "default routing strategy: a name or a weighted list (default $ROUTING_ALGORITHM, else "
     "least-request)"},
    {"--scrape-interval-ms", GF_I64, GOFF(scrape_interval_ms),
     "engine /metrics scrape period (default 1000)"},
    {"--models-interval-ms", GF_I64, GOFF(models_interval_ms),
     "engine /v1/models poll period (default 5000)"},
    {"--stale-after", GF_INT, GOFF(stale_after),
     "missed scrapes before an engine's metrics are ignored (default 3)"},
    {"--redis", GF_STR, GOFF(redis), "host:port of Redis for per-user RPM/TPM limits"},
    {"--ratelimit-fail-closed", GF_BOOL, GOFF(ratelimit_fail_closed),
     "answer 503 when Redis is down (default: allow)"},
    {"--redis-timeout-ms", GF_I64, GOFF(redis_timeout_ms),
     "longest wait for Redis per rate-limit check; past it Redis counts as down (checks answered "
     "at once) until it answers PING (default 50)"},
    {"--load-trace", GF_BOOL, GOFF(load_trace),
     "write the load monitor's 10 s windows to --redis as AIBrix's gateway does "
     "(aibrix:<model>_request_trace_<ts>, TTL 600 s) for AIBrix's GPU optimizer; also "
     "$AIBRIX_GPU_OPTIMIZER_TRACING_FLAG=true (default off)"},
    {"--api-key", GF_KEY, 0,
     "accepted Bearer token (repeatable; none = no auth; seen in ps: prefer the two below)"},
    {"--api-key-file", GF_KEYFILE, 0,
     "file of accepted tokens, one per line, '#' comment lines (repeatable); also "
     "$BRIX_API_KEYS, comma-separated. With keys, every route but /healthz and /readyz "
     "needs one"},
    {"--backend-api-key", GF_STR, GOFF(backend_api_key),
     "key the engines want (vLLM --api-key): sent as Bearer on /v1/models polls, /metrics "
     "scrapes and forwarded requests, instead of the client's Authorization; also "
     "$BRIX_BACKEND_API_KEY (seen in ps: prefer that or the --config file)"},
    {"--metrics-port", GF_INT, GOFF(metrics_port),
     "also serve /metrics, without a key, on this port (default 0 = off)"},
    {"--metrics-host", GF_STR, GOFF(metrics_host),
     "address of the --metrics-port listener (default 127.0.0.1)"},
    {"--connect-timeout-ms", GF_I64, GOFF(connect_timeout_ms),
     "engine connect timeout (default 2000)"},
    {"--first-byte-timeout-ms", GF_I64, GOFF(first_byte_timeout_ms),
     "time to the first byte of the engine's answer body: queueing and prefill (default 600000)"},
    {"--idle-timeout-ms", GF_I64, GOFF(idle_timeout_ms),
     "client keep-alive idle timeout: the longest wait between requests (default 60000)"},
    {"--header-timeout-ms", GF_I64, GOFF(header_timeout_ms),
     "time for a client's whole request head, 408 beyond (default 10000)"},
    {"--body-timeout-ms", GF_I64, GOFF(body_timeout_ms),
     "time for a request body from the end of its head, plus 1 s per 16 KiB received; 408 "
     "beyond (default 60000)"},
    {"--max-connections", GF_I64, GOFF(max_connections),
     "client connections open at once over all workers; more are closed at once (default 0 = "
     "(open-file limit - 64) / 2)"},
    {"--max-body-buffer-bytes", GF_I64, GOFF(max_body_buffer_bytes),
     "request bodies being received, all connections together; a body that does not fit gets "
     "503 (default 256 MiB)"},
    {"--stream-idle-timeout-ms", GF_I64, GOFF(stream_idle_timeout_ms),
     "longest silence from an engine once its answer started (default 60000; 0 = none)"},
    {"--stream-silence-min-ms", GF_I64, GOFF(stream_silence_min_ms),
     "a stream's silence bound is 10x its longest gap between chunks so far, at least this and "
     "at most --stream-idle-timeout-ms (default 15000; 0 = the idle timeout alone)"},
    {"--max-retries", GF_INT, GOFF(max_retries),
     "other engines tried before the first byte (default 2)"},
    {"--migrate-attempts", GF_INT, GOFF(migrate_attempts),
     "times a stream whose engine dies or stalls (--stream-silence-min-ms) mid-answer is "
     "continued on another engine (default 3; 0 = an SSE error event instead)"},
    {"--breaker-failures", GF_INT, GOFF(breaker_failures),
     "consecutive failures that open an engine's breaker (default 3)"},
    {"--breaker-open-ms", GF_I64, GOFF(breaker_open_ms),
     "time before a half-open probe (default 5000)"},
    {"--max-body-bytes", GF_I64, GOFF(max_body_bytes),
     "request body limit, 413 beyond (default 8 MiB)"},
    {"--block-size", GF_INT, GOFF(block_size),
     "engines' KV block size for prefix hashing (default 16)"},
    {"--hash-seed", GF_STR, GOFF(hash_seed),
     "engines' prefix-hash seed (default $PYTHONHASHSEED or \"0\")"},
    {"--prefix-hash-algo", GF_STR, GOFF(hash_algo),
     "prefix block hashes: xxhash_cbor (default, fast) or sha256_cbor (vLLM's, for KV events)"},
    {"--prefix-max-bytes", GF_I64, GOFF(prefix_max_bytes),
     "memory bound of the prefix index (default 64 MiB)"},
    {"--kv-events-port", GF_INT, GOFF(kv_events_port),
     "follow every engine's KV events (vLLM's ZMQ PUB) at its host and this port (AIBrix's "
     "5557); the exact prefix index (docs/gateway.md \"KV events\"; default 0 = off)"},
    {"--kv-events-replay-port", GF_INT, GOFF(kv_events_replay_port),
     "with --kv-events-port: the engines' replay ROUTER port (AIBrix's 5558; 0 = none)"},
    {"--kv-events-port-offset", GF_INT, GOFF(kv_events_port_offset),
     "follow every engine's KV events at its HTTP port + N, replay at + N + 1 (local "
     "engines on one host; default 0 = off)"},
    {"--kv-index-max-bytes", GF_I64, GOFF(kv_index_max_bytes),
     "memory bound of the exact (KV-event) prefix index (default 64 MiB)"},
    {"--kv-spec-ttl-ms", GF_I64, GOFF(kv_spec_ttl_ms),
     "a routing decision's speculative index entry lives this long unless a BlockStored "
     "confirms it (default 3000; 0 = none)"},
    {"--gpu-optimizer", GF_STR, GOFF(gpu_optimizer),
     "the GPU optimizer's base URL, http://host[:port][/path] (AIBrix's: "
     "http://aibrix-gpu-optimizer.aibrix-system.svc.cluster.local:8080): its "
     "/assignment/<model> routes the slo strategies across GPU types; also "
     "$BRIX_GPU_OPTIMIZER (default: none, slo routes as least-request)"},
    {"--gpu-optimizer-interval-ms", GF_I64, GOFF(gpu_optimizer_interval_ms),
     "how often the assignments are fetched (default 5000)"},
    {"--slo-default-output-tokens", GF_I64, GOFF(slo_default_output_tokens),
     "slo strategies: output tokens of a request without max_tokens, for its cell of the "
     "assignment (1..1000000; default 128)"},
    {"--slo-max-outstanding", GF_I64, GOFF(slo_max_outstanding),
     "slo strategies: requests in flight from the gateway at which an engine counts as "
     "saturated, its type's other engines or the cell's other types then tried (1..1000000; "
     "default 32)"},
    {"--slo-queue-max", GF_I64, GOFF(slo_queue_max),
     "slo / slo-least-load-pulling: requests of a model the gateway holds (per worker) while "
     "every engine they may use is saturated; one more is answered 429 with Retry-After "
     "(1..1000000; default 256)"},
    {"--slo-queue-timeout-ms", GF_I64, GOFF(slo_queue_timeout_ms),
     "slo / slo-least-load-pulling: longest a request is held for an engine under the cap, "
     "then 429 with Retry-After (1..3600000; default 5000)"},
    {"--log-level", GF_STR, GOFF(log_level), "debug|info|warn|error (default info)"},
    {"--access-log", GF_STR, GOFF(access_log),
     "one line per request, buffered: a file (reopened on SIGHUP), - for stderr (default) or "
     "off"},
    {"--access-log-sample", GF_INT, GOFF(access_log_sample),
     "log 1 request in N; errors (status >= 400) always (default 1: every request)"},
    {"--config FILE", GF_CONFIG, 0,
     "YAML mapping of these settings without '--' (backends:, api_keys: and api_key_file: take "
     "lists); flags override it"},
};

void gw_config_default(gw_config *c)
{
    memset(c, 0, sizeof(*c));
    c->host = "127.0.0.1";
    c->port = 8888;
    c->workers = 1;
    c->accept_mode = "shared";
    c->strategy = "least-request";
    c->scrape_interval_ms = 1000;
    c->models_interval_ms = 5000;
    c->stale_after = 3;
    c->connect_timeout_ms = 2000;
    c->first_byte_timeout_ms = 600000;
    c->idle_timeout_ms = 60000;
    c->stream_idle_timeout_ms = 60000;
    c->stream_silence_min_ms = 15000;
    c->max_retries = 2;
    c->migrate_attempts = 3;
    c->breaker_failures = 3;
    c->breaker_open_ms = 5000;
    c->redis_timeout_ms = 50;
    c->max_body_bytes = 8 << 20;
    c->header_timeout_ms = 10000;
    c->body_timeout_ms = 60000;
    c->max_body_buffer_bytes = (int64_t)256 << 20;
    c->block_size = 16;
    const char *hs = getenv("PYTHONHASHSEED");
    c->hash_seed = hs && *hs ? hs : "0";
    c->hash_algo = "xxhash_cbor";
    c->prefix_max_bytes = 64 << 20;
    c->kv_index_max_bytes = 64 << 20;
    c->kv_spec_ttl_ms = 3000;
    c->gpu_optimizer_interval_ms = 5000;
    c->slo_queue_max = 256;
    c->slo_queue_timeout_ms = 5000;
    c->log_level = "info";
    c->access_log = "-";
    c->access_log_sample = 1;
    c->metrics_host = "127.0.0.1";
}

static void gw_config_help_tail(FILE *f)
{
    fprintf(f, "\nstrategies (routing-strategy header or --strategy):");
    for (const gw_strategy *const *s = gw_strategy_all(); *s; s++)
        fprintf(f, " %s", (*s)->name);
    fprintf(f, "\nAIBrix's other names, routed by:");
    for (const gw_strategy_alias *a = gw_strategy_alias_all(); a->name; a++)
        fprintf(f, " %s=%s", a->name, a->target);
    fprintf(f, "\nweighted lists combine scores: prefix-cache:2,least-request\n");
}

static int gw_flag_set(void *cfg, const bx_flag *fl, const char *val, FILE *err)
{
    gw_config *c = cfg;
    if (fl->kind == GF_CONFIG) return 0; /* loaded first, by gw_config_parse */
    if (fl->kind == GF_BACKEND) {
        if (c->nbackends == GW_MAX_BACKENDS) {
            fprintf(err, "brix gateway: at most %d backends\n", GW_MAX_BACKENDS);
            return BX_FLAG_FAIL;
        }
        c->backends[c->nbackends++] = val;
        return 0;
    }
    char e[512];
    int rc = fl->kind == GF_KEY ? bx_apikeys_add(&c->keys, val, strlen(val), e, sizeof(e))
                                : bx_apikeys_load_file(&c->keys, val, e, sizeof(e));
    if (rc < 0) {
        fprintf(err, "brix gateway: %s: %s\n", fl->name, e);
        return BX_FLAG_FAIL;
    }
    return 0;
}

static const bx_flags_spec gw_flags_spec = {
    .flags = gw_flags,
    .nflags = sizeof(gw_flags) / sizeof(gw_flags[0]),
    .prog = "brix gateway",
    .not_valid = "a valid non-negative integer",
    .bool_values = 1,
    .usage = "usage: brix gateway [--config FILE.yaml] [options]\n\n"
             "An OpenAI-compatible, LLM-aware proxy in front of vLLM-compatible engines.\n\n",
    .name_width = 26,
    .help_tail = gw_config_help_tail,
    .set = gw_flag_set,
};

/* A YAML mapping whose keys are the flags without "--" (backend and
 * api-key take lists); numbers and booleans are turned into text in the
 * document itself, so every value points into c->doc. */
static int gw_config_load(gw_config *c, const char *path, FILE *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(err, "brix gateway: cannot open --config %s\n", path);
        return -1;
    }
    char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf), f);
    int toolong = n == sizeof(buf);
    fclose(f);
    if (toolong) {
        fprintf(err, "brix gateway: --config %s is larger than 64 KiB\n", path);
        return -1;
    }
    char e[256];
    json_t *doc = NULL;
    if (bx_yaml_load(buf, n, NULL, &doc, e, sizeof(e)) != 0) {
        fprintf(err, "brix gateway: %s: %s\n", path, e);
        return -1;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        fprintf(err, "brix gateway: %s must be a mapping of settings\n", path);
        return -1;
    }
    json_decref(c->doc);
    c->doc = doc;
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v)
    {
        char name[72];
        snprintf(name, sizeof(name), "--%s", key);
        for (char *p = name; *p; p++)
            if (*p == '_') *p = '-';
        if (!strcmp(name, "--backends")) strcpy(name, "--backend");
        if (!strcmp(name, "--api-keys")) strcpy(name, "--api-key");
        const bx_flag *fl = bx_flags_find(&gw_flags_spec, name);
        if (!fl || fl->kind == GF_CONFIG) {
            fprintf(err, "brix gateway: %s: unknown setting '%s'\n", path, key);
            return -1;
        }
        json_t *items = json_is_array(v) ? v : NULL;
        size_t count = items ? json_array_size(items) : 1;
        if (items && fl->kind != GF_BACKEND && fl->kind != GF_KEY && fl->kind != GF_KEYFILE) {
            fprintf(err, "brix gateway: %s: '%s' takes one value\n", path, key);
            return -1;
        }
        for (size_t i = 0; i < count; i++) {
            json_t *x = items ? json_array_get(items, i) : v;
            if (json_is_integer(x) || json_is_true(x) || json_is_false(x)) {
                char t[32];
                if (json_is_integer(x))
                    snprintf(t, sizeof(t), "%lld", (long long)json_integer_value(x));
                else
                    snprintf(t, sizeof(t), "%s", json_is_true(x) ? "true" : "false");
                json_t *sx = json_string(t);
                if (items)
                    json_array_set_new(items, i, sx);
                else
                    json_object_set_new(doc, key, sx);
                x = sx;
            }
            if (!json_is_string(x)) {
                fprintf(err, "brix gateway: %s: '%s' has a value of the wrong type\n", path, key);
                return -1;
            }
            if (bx_flags_set(&gw_flags_spec, c, fl, json_string_value(x), err) != 0) return -1;
        }
    }
    return 0;
}

int gw_config_configure_router(const gw_config *c, gw_router *r, char *err, size_t errlen)
{
    const struct {
        const char *prefix, *key;
        int64_t v;
    } set[] = {{"slo", "default-output-tokens", c->slo_default_output_tokens},
               {"slo", "max-outstanding", c->slo_max_outstanding}};
    for (size_t k = 0; k < sizeof(set) / sizeof(set[0]); k++) {
        if (set[k].v <= 0) continue;
        char v[32];
        snprintf(v, sizeof(v), "%lld", (long long)set[k].v);
        for (int i = 0; i < r->n; i++) {
            const gw_strategy *s = r->strategies[i];
            if (strncmp(s->name, set[k].prefix, strlen(set[k].prefix)) != 0 || !s->configure)
                continue;
            if (gw_router_configure(r, s->name, set[k].key, v, err, errlen) != 0) return -1;
        }
    }
    return 0;
}

void gw_config_free(gw_config *c)
{
    json_decref(c->doc);
    c->doc = NULL;
}

int gw_config_parse(gw_config *c, int argc, char **argv, FILE *out, FILE *err)
{
    /* AIBrix's ROUTING_ALGORITHM (the name its gateway plugin reads) is the
     * default strategy's lowest source: the file and the flag win */
    const char *ra = getenv("ROUTING_ALGORITHM");
    if (ra && *ra) c->strategy = ra;
    /* the file first, so flags on the command line override it */
    for (int i = 1; i < argc; i++) {
        const char *path = !strncmp(argv[i], "--config=", 9)              ? argv[i] + 9
                           : !strcmp(argv[i], "--config") && i + 1 < argc ? argv[i + 1]
                                                                          : NULL;
        if (path && gw_config_load(c, path, err) != 0) return -1;
    }
    int rc = bx_flags_parse(&gw_flags_spec, c, argc, argv, NULL, out, err);
    if (rc != 0) return rc;
    const char *env_keys = getenv("BRIX_API_KEYS");
    if (env_keys) {
        char e[512];
        if (bx_apikeys_add_list(&c->keys, env_keys, e, sizeof(e)) < 0) {
            fprintf(err, "brix gateway: BRIX_API_KEYS: %s\n", e);
            return -1;
        }
    }
    const char *env_bkey = getenv("BRIX_BACKEND_API_KEY");
    if (!c->backend_api_key && env_bkey && *env_bkey) c->backend_api_key = env_bkey;
    if (c->backend_api_key && !bx_apikey_header_safe(c->backend_api_key, GW_KEY_MAX)) {
        fprintf(err,
                "brix gateway: --backend-api-key: empty, over %d bytes, or not printable "
                "ASCII without blanks\n",
                GW_KEY_MAX - 1);
        return -1;
    }
    const char *env_opt = getenv("BRIX_GPU_OPTIMIZER");
    if (!c->gpu_optimizer && env_opt && *env_opt) c->gpu_optimizer = env_opt;
    if (c->gpu_optimizer && *c->gpu_optimizer) {
        char h[256], b[512];
        int pt;
        if (gw_hetero_url_parse(c->gpu_optimizer, h, sizeof(h), &pt, b, sizeof(b)) != 0) {
            fprintf(err, "brix gateway: --gpu-optimizer wants http://host[:port][/path]\n");
            return -1;
        }
    }
    if (c->gpu_optimizer_interval_ms < 100) {
        fprintf(err, "brix gateway: --gpu-optimizer-interval-ms must be at least 100\n");
        return -1;
    }
    if (c->slo_default_output_tokens < 0 || c->slo_default_output_tokens > 1000000 ||
        c->slo_max_outstanding < 0 || c->slo_max_outstanding > 1000000) {
        fprintf(err, "brix gateway: --slo-default-output-tokens and --slo-max-outstanding must "
                     "be 1..1000000\n");
        return -1;
    }
    if (c->slo_queue_max < 1 || c->slo_queue_max > 1000000 || c->slo_queue_timeout_ms < 1 ||
        c->slo_queue_timeout_ms > 3600000) {
        fprintf(err, "brix gateway: --slo-queue-max must be 1..1000000 and "
                     "--slo-queue-timeout-ms 1..3600000\n");
        return -1;
    }
    if (c->kubernetes && c->nbackends) {
        fprintf(err, "brix gateway: --kubernetes and --backend exclude each other\n");
        return -1;
    }
    if (!c->kubernetes &&
        ((c->kubeconfig && *c->kubeconfig) || (c->k8s_namespace && *c->k8s_namespace))) {
        fprintf(err, "brix gateway: --kubeconfig and --namespace need --kubernetes\n");
        return -1;
    }
    if (c->metrics_port > 65535) {
        fprintf(err, "brix gateway: --metrics-port must be 0..65535\n");
        return -1;
    }
    if (strcmp(c->accept_mode, "shared") != 0 && strcmp(c->accept_mode, "reuseport") != 0) {
        fprintf(err, "brix gateway: --accept must be shared or reuseport\n");
        return -1;
    }
    if (c->workers < 1 || c->workers > GW_MAX_WORKERS) {
        fprintf(err, "brix gateway: --workers must be 1..%d\n", GW_MAX_WORKERS);
        return -1;
    }
    if (c->redis_timeout_ms < 1) {
        fprintf(err, "brix gateway: --redis-timeout-ms must be at least 1\n");
        return -1;
    }
    if (c->block_size < 1 || c->block_size > 256) {
        fprintf(err, "brix gateway: --block-size must be 1..256\n");
        return -1;
    }
    if (c->kv_events_port < 0 || c->kv_events_port > 65535 || c->kv_events_replay_port < 0 ||
        c->kv_events_replay_port > 65535 || c->kv_events_port_offset < 0 ||
        c->kv_events_port_offset > 65534 || c->kv_spec_ttl_ms < 0 || c->kv_spec_ttl_ms > 3600000 ||
        (c->kv_events_port && c->kv_events_port_offset)) {
        fprintf(err, "brix gateway: --kv-events-port / -replay-port / -port-offset: ports "
                     "1..65535, one of --kv-events-port and --kv-events-port-offset; "
                     "--kv-spec-ttl-ms 0..3600000\n");
        return -1;
    }
    if (c->access_log_sample < 1) {
        fprintf(err, "brix gateway: --access-log-sample must be 1 or more\n");
        return -1;
    }
    if (!c->access_log || !*c->access_log) {
        fprintf(err, "brix gateway: --access-log wants a file, - or off\n");
        return -1;
    }
    bx_blockhash_algo algo;
    if (bx_blockhash_algo_parse(c->hash_algo, &algo) != 0) {
        fprintf(err, "brix gateway: --prefix-hash-algo must be xxhash_cbor or sha256_cbor\n");
        return -1;
    }
    gw_strategy_plan plan;
    char perr[256];
    if (gw_strategy_plan_parse(c->strategy, &plan, perr, sizeof(perr)) != 0) {
        fprintf(err, "brix gateway: --strategy: %s (see --help)\n", perr);
        return -1;
    }
    return 0;
}
