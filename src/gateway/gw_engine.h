/* gw_engine: what the gateway knows about one inference engine, and the
 * registry of all of them: the one picture of the fleet that discovery
 * writes (addresses, served models, adapters), the scraper updates (engine
 * metrics, health) and the router reads.
 *
 * Threads: discovery and the scraper write from the gateway's main loop;
 * with --workers N the proxy loops on other threads read it and write the
 * gateway-side counters. The registry's lock (gw_registry_lock) guards every
 * engine field, and by the gateway's rule also the router, its strategies
 * and the gateway's metrics: a write anywhere, or a read from a thread that
 * is not the writer's, holds it. Held for microseconds (a pick, an update).
 *
 * Up and down: an engine takes new requests while it is up (gw_engine_up:
 * listed, its /v1/models answers, its /metrics is reachable). When a health
 * signal declares it down (discovery: /v1/models failed fail_after times;
 * the scraper: /metrics unreachable down_after times in a row), the writer
 * calls gw_registry_note_down, which bumps the engine's down_epoch and the
 * registry's down_seq. Each proxy worker reads down_seq without the lock on
 * a periodic tick and, only when it moved, compares under the lock the
 * down_epoch of each of its calls' engines with the one the call saw when it
 * was sent: the answers in flight on an engine declared down end (gw_proxy).
 * Removal from discovery (gone) is not a down: a draining engine finishes
 * what it has.
 *
 * Metric fields hold NaN when the engine does not export that metric or the
 * last scrape is too old (stale): strategies must treat NaN as "missing" and
 * fall back as their file says. Ownership: the registry owns every engine;
 * pointers stay valid until gw_registry_close (engines are never freed while
 * the gateway runs; a removed engine is marked gone). A full table (pod IPs
 * churn under Kubernetes) lets discovery reuse the slot of an engine gone
 * long enough, with nothing in flight (gw_registry_reuse). */
#ifndef GW_ENGINE_H
#define GW_ENGINE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/gw_breaker.h"

#define GW_MAX_ENGINES 1024
#define GW_NAME_MAX 128
#define GW_MAX_ADAPTERS 64
/* engine histograms whose p50/p90/p99 the scraper keeps (gw_scrape.c's
 * gw_scrape_hq_name; AIBrix's gateway re-exports them as NAME_p50 ...) */
#define GW_HQ_N 11
#define GW_POD_NAME_MAX 256 /* a Kubernetes pod name is at most 253 */
#define GW_KEY_MAX 256      /* an engine's API key (vLLM --api-key), with its NUL */

typedef struct gw_engine {
    int id;                 /* index in the registry, stable */
    char addr[GW_NAME_MAX]; /* "host:port", also the engine's name */
    char host[GW_NAME_MAX];
    int port;
    /* the name its source gives it (a Kubernetes pod's name, a `brix up`
     * replica's): the answer's target-pod header; "" = none (static
     * --backend), the address is its name then */
    char name[GW_POD_NAME_MAX];
    /* the GPU type it runs on: its Deployment's name (Kubernetes: the pod's
     * ReplicaSet minus "-<pod-template-hash>"; `brix up`: the Deployment;
     * a static `--backend GROUP=URL`'s GROUP), "" = none. The slo
     * strategies route a request to the group its optimizer cell is
     * assigned to (gw_hetero.h) */
    char group[GW_NAME_MAX];
    /* prefill/decode disaggregation (gw_pd.h): its role (GW_PD_ROLE_*:
     * 0 none, 1 prefill, 2 decode) and roleset, from the labels role-name
     * and roleset-name (a static backend's ROLESET/ROLE=); "" / 0 = none */
    int pd_role;
    char roleset[GW_NAME_MAX];
    /* the key the engine wants (vLLM --api-key; its source gives it), ""
     * = none: discovery, scrapes and requests send "Authorization: Bearer
     * <key>" to it. A secret: never logged nor exported. Written under the
     * registry lock; readers copy it under the lock (gw_engine_auth). */
    char api_key[GW_KEY_MAX];
    /* discovery: what it serves (from its /v1/models) */
    char model[GW_NAME_MAX]; /* base served model; "" until known */
    char adapters[GW_MAX_ADAPTERS][GW_NAME_MAX];
    int nadapters;
    int gone; /* removed from discovery */
    /* publishes KV events (its source says): 1 yes, -1 no, 0 unknown (a
     * static backend); the gateway follows those not -1 (gw_kvroute.h) */
    int kv_events;

    /* health */
    int ready;               /* /v1/models answered; not gone */
    int unreachable;         /* scraper: /metrics unreachable down_after times in a row */
    uint32_t down_epoch;     /* times declared down (gw_registry_note_down) */
    int missed_scrapes;      /* consecutive failed /metrics scrapes */
    uint64_t last_scrape_ms; /* uv_now of the last good scrape, 0 = never */
    gw_breaker breaker;      /* gw_breaker.h */

    /* gateway-side counters, updated at pick time and at completion */
    int32_t inflight;
    uint64_t routed_total;

    /* engine metrics from the last scrape (NaN = missing) */
    double running;            /* vllm:num_requests_running */
    double waiting;            /* vllm:num_requests_waiting */
    double kv_usage;           /* vllm:kv_cache_usage_perc (0..1) */
    double gpu_cache_usage;    /* vllm:gpu_cache_usage_perc */
    double cpu_cache_usage;    /* vllm:cpu_cache_usage_perc (absent in V1) */
    double busy_ratio;         /* gpu_busy_time_ratio, when an engine exports it */
    double prompt_tps;         /* rate of vllm:prompt_tokens_total between scrapes */
    double gen_tps;            /* rate of vllm:generation_tokens_total */
    double avg_prompt_per_req; /* request_prompt_tokens sum / count */
    double avg_gen_per_req;    /* request_generation_tokens sum / count */
    double queue_mean_s;       /* request_queue_time_seconds sum / count */
    double prefill_mean_s;     /* request_prefill_time_seconds sum / count */
    double decode_mean_s;      /* request_decode_time_seconds sum / count */
    double ttft_mean_s;        /* time_to_first_token_seconds sum / count */
    double hq[GW_HQ_N][3];     /* p50, p90, p99 of the engine's histograms, since its start */
    /* previous counter values, for rates */
    double prev_prompt_total, prev_gen_total;
    uint64_t prev_counters_ms;

    /* gateway-observed TTFT model (predicted-ttft): EWMA of seconds per
     * uncached prompt token and of the fixed part, fitted online */
    double obs_prefill_s_per_tok;
    double obs_ttft_base_s;
    uint64_t obs_samples;
} gw_engine;

/* A model its discovery source knows but has no engine for (Kubernetes:
 * its pods are not Ready, or crash-loop; a ModelAdapter whose status is
 * Failed): answered 503 at once with why (and Retry-After when
 * retry_after_s > 0) rather than 404 as an unknown model. */
#define GW_MAX_UNREADY 256
typedef struct gw_unready_model {
    char model[GW_NAME_MAX];
    char why[192];
    int retry_after_s;
} gw_unready_model;

typedef struct gw_registry {
    gw_engine *engines; /* GW_MAX_ENGINES slots */
    int n;
    gw_unready_model *unready; /* owned, nunready of them (gw_registry_set_unready) */
    int nunready;
    int stale_after;   /* missed scrapes before metrics count as missing */
    uint32_t down_seq; /* bumped with any engine's down_epoch; read without the lock */
    pthread_mutex_t mu;
} gw_registry;

int gw_registry_init(gw_registry *r);
void gw_registry_close(gw_registry *r);
/* Adds (or revives) an engine by address "host:port"; returns it or NULL
 * when the table is full or the address is malformed. */
gw_engine *gw_registry_add(gw_registry *r, const char *addr);
gw_engine *gw_registry_find(gw_registry *r, const char *addr);
/* Gives the slot of a gone engine with nothing in flight to a new address
 * (same id; every other field fresh); NULL when e is not gone, has requests
 * in flight, or addr is malformed. For discovery when the table is full:
 * the caller must know that nothing still holds e (discovery waits until
 * an engine has been gone a while: gw_disc_opts.reuse_after_ms). Under the
 * lock. */
gw_engine *gw_registry_reuse(gw_registry *r, gw_engine *e, const char *addr);
void gw_registry_lock(gw_registry *r);
void gw_registry_unlock(gw_registry *r);
/* Engines that can take a request for model now: up (gw_engine_up), serving it
 * as base model or loaded adapter, breaker not OPEN (HALF_OPEN without a
 * probe in flight counts). Writes at most cap pointers; returns the count.
 * *known is set to 1 when some engine (ready or not) serves the model. */
int gw_registry_candidates(gw_registry *r, const char *model, uint64_t now_ms, gw_engine **out,
                           int cap, int *known);
/* Can e take new requests: listed, ready and reachable? Under the lock. */
static inline int gw_engine_up(const gw_engine *e)
{
    return e->ready && !e->gone && !e->unreachable;
}
/* A health signal has just declared e down (not ready, or unreachable):
 * bumps e->down_epoch and r->down_seq, so the answers in flight on it end.
 * Under the lock. */
void gw_registry_note_down(gw_registry *r, gw_engine *e);
/* r->down_seq, read without the lock (an atomic load). */
uint32_t gw_registry_down_seq(gw_registry *r);
/* Replaces the unready models (at most GW_MAX_UNREADY are kept; copied).
 * Takes the lock. 0, or -1 out of memory (the previous set stays). */
int gw_registry_set_unready(gw_registry *r, const gw_unready_model *m, int n);
/* The unready entry of model, or NULL. Under the lock; valid until it is
 * released. */
const gw_unready_model *gw_registry_unready(const gw_registry *r, const char *model);
/* Is model some engine's base model (rather than a LoRA adapter)? */
int gw_registry_is_base_model(const gw_registry *r, const char *model);
/* Does e serve model (base or adapter)? */
int gw_engine_serves(const gw_engine *e, const char *model);
/* Marks every metric field missing (NaN); used at add time and when stale. */
void gw_engine_clear_metrics(gw_engine *e);
/* "Bearer <e->api_key>" into out (len >= GW_KEY_MAX + 8), "" when e has no
 * key; 1 when written. Call under the registry lock. */
int gw_engine_auth(const gw_engine *e, char *out, size_t len);

#endif
