/* loadgen_stats: per-request results and the run summary, pure: exact
 * percentiles (sort, then numpy's linear interpolation), distributions of
 * TTFT/TPOT/ITL/e2e, throughput, failures by status, and their rendering as a
 * text table, summary JSON and one JSONL line per request.
 *
 * Memory: a loadgen_result owns its itl array and error string
 * (loadgen_result_free). loadgen_summary_compute allocates scratch space only for
 * the duration of the call. Rendering writes to caller-owned FILEs/buffers;
 * the json_t returned by the *_json functions belongs to the caller. */
#ifndef LOADGEN_STATS_H
#define LOADGEN_STATS_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

typedef struct loadgen_result {
    size_t id;
    int session; /* -1 when none */
    int turn;
    int input_len;      /* planned new prompt tokens (prefix included) */
    int output_len;     /* max_tokens sent */
    double scheduled_s; /* when the plan wanted it sent, seconds from start */
    double send_s;      /* when it was sent */
    double ttft_ms;     /* -1 when no token arrived */
    double e2e_ms;      /* -1 when it never completed */
    double *itl_ms;     /* gaps between content chunks */
    size_t n_itl;
    size_t cap_itl;
    long prompt_tokens;     /* usage, or -1 */
    long completion_tokens; /* usage, or the number of content chunks */
    int usage_reported;
    long status; /* HTTP status; 0 when no response */
    int ok;
    char *error; /* NULL when ok */
} loadgen_result;

void loadgen_result_free(loadgen_result *r);
int loadgen_result_add_itl(loadgen_result *r, double ms);
/* TPOT = (e2e - ttft) / (completion_tokens - 1); -1 when undefined (failed,
 * fewer than 2 tokens, or e2e == ttft as for a non-streamed answer). */
double loadgen_result_tpot(const loadgen_result *r);

/* The p-th percentile (0..100) of sorted[0..n), linear interpolation
 * between closest ranks as numpy's default; 0 when n is 0. */
double loadgen_percentile(const double *sorted, size_t n, double p);

typedef struct loadgen_dist {
    size_t n;
    double mean, p50, p90, p99, max;
} loadgen_dist;

/* Sorts samples in place and fills d. */
void loadgen_dist_compute(loadgen_dist *d, double *samples, size_t n);

#define LOADGEN_MAX_STATUS_KINDS 16

typedef struct loadgen_summary {
    size_t count, ok, failed;
    struct {
        long status; /* 0: no HTTP response */
        size_t n;
    } fail_by_status[LOADGEN_MAX_STATUS_KINDS];
    size_t n_fail_kinds;
    double duration_s;
    long total_input_tokens, total_output_tokens;
    double request_throughput; /* successful requests / s */
    double output_throughput;  /* output tokens / s */
    double total_token_throughput;
    loadgen_dist ttft, tpot, itl, e2e;
} loadgen_summary;

/* Summary over results (successes only for latencies); duration_s is the
 * wall time of the run. Returns 0, -1 on allocation failure. */
int loadgen_summary_compute(loadgen_summary *s, const loadgen_result *res, size_t n,
                            double duration_s);
void loadgen_summary_print(const loadgen_summary *s, FILE *f);
json_t *loadgen_summary_json(const loadgen_summary *s);
json_t *loadgen_result_json(const loadgen_result *r);

#endif
