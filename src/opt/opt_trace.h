/* opt_trace: one 10-second window of a model's request shapes, the record
 * the gateway's load monitor keeps and the optimizer reads. Its JSON is
 * AIBrix's request-trace value (pkg/cache/trace.go, version 4), so that
 * AIBrix's gpu optimizer can read what brix writes to Redis and brix what
 * AIBrix's gateway writes:
 *   {"<in tick>:<out tick>": count, ...,
 *    "meta_v": 4, "meta_interval_sec": 10, "meta_precision": 10,
 *    "meta_total_reqs": n, "meta_pending_reqs": n, "meta_queueing_reqs": n}
 * (ticks: opt_bucket.h). The window's start time is not in the value: in
 * Redis the key's suffix is the window's end: aibrix:<model>_request_trace_<ts + 10>.
 *
 * Pure: the parser is fuzzed (fuzz/fuzz_opt_trace.c). The struct is flat
 * (no heap); a window with more distinct buckets than OPT_TRACE_MAX_CELLS
 * keeps the first ones and counts the rest in `dropped`. */
#ifndef OPT_TRACE_H
#define OPT_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define OPT_TRACE_MAX_CELLS 512
#define OPT_TRACE_VERSION 4
#define OPT_TRACE_INTERVAL_S 10

typedef struct opt_trace_cell {
    int32_t in_tick, out_tick; /* opt_bucket_tick of input and output tokens */
    int64_t count;
} opt_trace_cell;

typedef struct opt_trace {
    int64_t ts;         /* window start, unix seconds (a multiple of interval_s) */
    int32_t version;    /* meta_v; 1 when absent */
    int32_t interval_s; /* meta_interval_sec; 10 when absent */
    int32_t precision;  /* meta_precision; 10 when absent */
    int64_t total_reqs; /* meta_total_reqs: arrivals in the window; -1 when absent (v < 3) */
    int64_t pending_reqs, queueing_reqs;
    int32_t ncells;
    int64_t dropped; /* requests in buckets beyond OPT_TRACE_MAX_CELLS */
    opt_trace_cell cells[OPT_TRACE_MAX_CELLS];
} opt_trace;

/* An empty v4 window starting at ts. */
void opt_trace_init(opt_trace *t, int64_t ts);

/* Adds n requests of the given ticks (a new cell or an existing one). */
void opt_trace_add(opt_trace *t, int32_t in_tick, int32_t out_tick, int64_t n);

/* Sum of the cells' counts (requests completed and bucketed). */
int64_t opt_trace_count(const opt_trace *t);

/* Emits the AIBrix value. Returns a string the caller frees, or NULL. */
char *opt_trace_to_json(const opt_trace *t);

/* Parses an AIBrix value (any version) into out, ts as given. Unknown meta_*
 * keys are ignored; bucket keys must be "I:O" with a non-negative integer
 * count. Returns 0, or -1 with a message in err. */
int opt_trace_parse(const char *json, size_t len, int64_t ts, opt_trace *out, char *err,
                    size_t errlen);

#endif
