/* gw_metrics_aibrix: the gateway's series under AIBrix's gateway metric
 * names and labels (pkg/metrics/gateway_metrics.go), so that AIBrix's
 * Grafana dashboards work on brix unchanged:
 *   gateway_request_total, gateway_in_flight_requests,
 *   gateway_model_in_flight_requests{model},
 *   gateway_request_model_{success,fail}_total{model,status,status_code},
 *   gateway_{prompt,completion}_token_bucket_total{bucket},
 *   gateway_{input,output}_tokens_total, gateway_requests_with_usage_total,
 *   gateway_{ttft,tpot,routing_time,total_time}_bucket_total{bucket},
 * and the engine gauges AIBrix's gateway re-exports from its scrapes
 * (num_requests_running, num_requests_waiting, kv_cache_usage_perc,
 * gpu_cache_usage_perc, avg_{prompt,generation}_throughput_toks_per_s).
 * As AIBrix, model is the base model and lora_adapter the adapter's name
 * when a request names an adapter. The bucket labels are AIBrix's strings ("0-256", "32768+",
 * "1-2ms", "5000ms+"). Empty label values are left out (Prometheus treats a label with an empty
 * value as absent): AIBrix's lora_adapter, namespace, roleset, role and role_replica_index, and
 * gateway_pod / pod_name unless POD_NAME is set in the gateway's environment. brix's own series
 * stay in gw_metrics.c under brix_gateway_*.
 *
 * Cardinality: model labels come bounded from the caller (gw_proxy.c's
 * gw_model_label); pod is an engine of the registry (GW_MAX_ENGINES);
 * buckets are fixed. The table holds GW_AM_SERIES label sets per worker;
 * beyond, a metric's samples fold into one model="other" series.
 *
 * Threads: one set per gateway worker, updated by its thread under the set's
 * own lock, merged into a fresh set to render (gw_metrics.c does both).
 * Label strings are owned by the set. */
#ifndef GW_METRICS_AIBRIX_H
#define GW_METRICS_AIBRIX_H

#include <stdint.h>

#include "common/bx_buf.h"

typedef struct gw_am gw_am;

/* One request at its end, as the client saw it. */
typedef struct gw_am_req {
    const char *model;        /* bounded label ("unknown" for names not served); for a
                               * LoRA adapter, the base model that served it */
    const char *lora_adapter; /* the adapter's name, NULL for a base model */
    const char *pod;          /* the engine that answered (its name), NULL: none */
    const char *status;       /* AIBrix's status label, e.g. "gateway_rsp_body_success" */
    int status_code;          /* the status sent (499: the client left) */
    int success;              /* counted in _success_total, else in _fail_total */
    int stream;               /* the answer was SSE */
    int32_t prompt_tokens;    /* usage; -1 when the answer had none */
    int32_t completion_tokens;
    double ttft_s, e2e_s; /* -1 when unknown */
    double routing_s;     /* time picking engines; -1 when no pick was made */
} gw_am_req;

/* One engine's scraped gauges, for the re-exported series (NaN = missing). */
typedef struct gw_am_engine {
    const char *pod, *model;
    double running, waiting, kv_usage, gpu_cache_usage, prompt_tps, gen_tps;
    /* NULL, or p50/p90/p99 of the histograms gw_scrape_hq_name names,
     * re-exported as NAME_p50, NAME_p90, NAME_p99 */
    const double (*hq)[3];
} gw_am_engine;

gw_am *gw_am_new(void);
void gw_am_free(gw_am *m);
/* Adds src's counts into dst (each under its lock). */
void gw_am_merge(gw_am *dst, gw_am *src);
/* A request entered the gateway (gateway_request_total, in flight). */
void gw_am_begin(gw_am *m);
/* The request's model is known: model in flight +1. Returns the key to
 * give gw_am_end (the label may change before the end). */
uint64_t gw_am_model_begin(gw_am *m, const char *model);
/* The request ended: in flight -1 (and its model's, key from
 * gw_am_model_begin, 0 for none), then its counters. */
void gw_am_end(gw_am *m, uint64_t model_key, const gw_am_req *r);
/* Renders every series; engines: the registry's, copied by the caller. */
int gw_am_render(gw_am *m, const gw_am_engine *engines, int nengines, bx_buf *b);

/* AIBrix's bucket strings (for tests): tokens [0-256) .. [32768+), ms
 * [0-1ms) .. [5000ms+), total time [0-100ms) .. [60000ms+). */
const char *gw_am_token_bucket(int64_t n);
const char *gw_am_ms_bucket(double seconds);
const char *gw_am_total_bucket(double seconds);

#endif
