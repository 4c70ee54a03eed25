/* gw_loadmon: the gateway's load monitor (AIBrix's request tracing,
 * pkg/cache/trace.go; docs/hetero.md "Load monitor"). Per model, windows of
 * OPT_TRACE_INTERVAL_S (10 s) aligned to wall-clock multiples of 10 s:
 *   - every arrival counts in the meta_total_reqs of the window it arrived in;
 *   - every completed request counts, in the window it completed in, in the
 *     bucket of (prompt tokens, completion tokens) (opt_bucket.h);
 *   - a window closes at its end: meta_pending_reqs is the model's requests in
 *     flight then, meta_queueing_reqs those waiting for a route (the caller's
 *     count, gw_loadmon_tick).
 * The last GW_LOADMON_WINDOWS complete windows of each model are kept (empty
 * ones included, from the model's first request on) and read as /brix/load's
 * JSON and /metrics' series; closed windows that saw a request are handed once
 * to the tick's emit callback (the gateway writes them to Redis in AIBrix's
 * key format).
 *
 * Bounds: at most GW_LOADMON_MODELS models (later ones are not recorded:
 * counted in stats.overflow, logged once); OPT_TRACE_MAX_CELLS buckets per
 * window (the rest counted in the window's dropped, as opt_trace does). A
 * model stays in the table for the monitor's life.
 *
 * Threads: every function may be called from any thread. Recording takes the
 * model's own mutex (one lookup in a lock-free table, then a short critical
 * section), so workers meet only on the same model. Reads copy a model's
 * windows under its mutex and render without it.
 *
 * Ownership: the monitor copies model names; what the read functions append
 * goes into the caller's bx_buf. */
#ifndef GW_LOADMON_H
#define GW_LOADMON_H

#include <stddef.h>
#include <stdint.h>

#include "common/bx_buf.h"

#define GW_LOADMON_MODELS 256
#define GW_LOADMON_WINDOWS 60 /* 10 min of 10 s windows */
#define GW_LOADMON_NAME_MAX 128
#define GW_LOADMON_TOP 20 /* buckets per model in /metrics; the rest in "other" */
#define GW_LOADMON_REDIS_TTL_S 600

typedef struct gw_loadmon gw_loadmon;

typedef struct gw_loadmon_opts {
    /* wall clock in unix milliseconds (NULL: CLOCK_REALTIME); tests inject one */
    int64_t (*now_ms)(void *ud);
    void *now_ud;
} gw_loadmon_opts;

typedef struct gw_loadmon_stats {
    int models;        /* models in the table */
    uint64_t overflow; /* requests of models beyond GW_LOADMON_MODELS, not recorded */
    uint64_t dropped;  /* completed requests beyond OPT_TRACE_MAX_CELLS buckets */
} gw_loadmon_stats;

/* 0, or -1 (out of memory). opts NULL: the real clock. */
int gw_loadmon_new(gw_loadmon **out, const gw_loadmon_opts *opts);
void gw_loadmon_free(gw_loadmon *lm);

/* A request for model arrived (counted in its window and in flight).
 * Returns the handle to give gw_loadmon_done, or 0 when it was not counted
 * (NULL or empty or too long a name, the table full). */
int gw_loadmon_arrive(gw_loadmon *lm, const char *model);
/* The request of handle h (0: nothing) ended: no longer in flight; when
 * completed, bucketed by its token counts in the window it ends in. */
void gw_loadmon_done(gw_loadmon *lm, int h, int completed, int64_t in_tokens, int64_t out_tokens);

/* Closes every model's windows that ended by now. queueing (NULL: 0) says
 * how many requests of model wait for a route, for the windows closed now.
 * emit (NULL: none) is called once per closed window that saw a request,
 * oldest first, with the window's start (ts), the Redis key's suffix (end:
 * ts + 10, the boundary AIBrix's gateway writes it at, its roundT) and
 * AIBrix's JSON value (opt_trace_to_json; valid during the call). Called
 * without any lock held. Returns the milliseconds until the next boundary. */
typedef int (*gw_loadmon_queueing_fn)(void *ud, const char *model);
typedef void (*gw_loadmon_emit_fn)(void *ud, const char *model, int64_t ts, int64_t key_ts,
                                   const char *json);
int64_t gw_loadmon_tick(gw_loadmon *lm, gw_loadmon_queueing_fn queueing, void *qud,
                        gw_loadmon_emit_fn emit, void *eud);

/* /brix/load's answer: model set: {"model":M,"windows":[{"ts":T,"trace":{..}},..]}
 * (complete windows with ts > since, oldest first; a model never seen has
 * none); model NULL: {"models":[that object for every model]}. Appended to
 * out. 0, or -1 (out of memory). */
int gw_loadmon_json(gw_loadmon *lm, const char *model, int64_t since, bx_buf *out);

/* Prometheus families for /metrics (bx_prom), per model the last complete
 * window: brix_gateway_load_requests, _rps, _completed, _pending, _queueing,
 * brix_gateway_load_bucket_requests{model,bucket} for the GW_LOADMON_TOP
 * biggest buckets plus bucket="other", and the monitor's counters. 0 or -1. */
int gw_loadmon_metrics(gw_loadmon *lm, bx_buf *out);

void gw_loadmon_stats_get(gw_loadmon *lm, gw_loadmon_stats *out);

/* /brix/load's query string (outside bytes; fuzzed by
 * fuzz/fuzz_gw_loadmon_query.c): "model=M" and "since=TS" in any order,
 * '&'-separated, values percent-decoded ('+' is a space), other keys
 * ignored. model (cap bytes) gets "" when absent; *since -1 when absent.
 * 0, or -1 with a message in err: a bad escape, a NUL, a name of cap bytes
 * or more, a repeated key, since not a decimal integer in 0..10^12. */
int gw_loadmon_query(const char *query, char *model, size_t cap, int64_t *since, char *err,
                     size_t errlen);

/* Go's strconv.ParseBool truth ("1", "t", "T", "true", "TRUE", "True"): how
 * AIBrix reads AIBRIX_GPU_OPTIMIZER_TRACING_FLAG. NULL: 0. */
int gw_loadmon_flag_true(const char *v);

#endif
