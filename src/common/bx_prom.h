/* bx_prom: writing the Prometheus text exposition format (0.0.4), shared by
 * every brix program that serves /metrics, plus vLLM's bucket layouts.
 *
 * A family is one bx_prom_head / bx_prom_write_family call (# HELP and
 * # TYPE, help text escaped) followed by its samples, so the output parses
 * with Go's expfmt (AIBrix) and `promtool check metrics`. Labels come in two
 * forms: a pre-rendered list without braces (`a="x",b="y"`, built once with
 * bx_prom_labels or bx_prom_escape: the cheapest form for a scrape every
 * 50 ms) or an array of bx_prom_label pairs whose values are escaped while
 * writing. Numbers are the shortest text that parses back to the same double;
 * integral values print as "3.0" like Python's client, +Inf / -Inf / NaN as
 * Prometheus spells them. Histograms are fixed arrays of per-bucket counts,
 * cumulated at write time.
 *
 * Memory: nothing here allocates except growth of the caller's bx_buf. Label
 * names and values, bucket bounds and help strings stay owned by the caller;
 * a bx_prom_hist keeps a pointer to its bounds, which must outlive it. */
#ifndef BX_PROM_H
#define BX_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "common/bx_buf.h"

/* Metric types; shared with bx_prom_parse. */
typedef enum bx_prom_type {
    BX_PROM_UNTYPED = 0,
    BX_PROM_COUNTER,
    BX_PROM_GAUGE,
    BX_PROM_HISTOGRAM,
    BX_PROM_SUMMARY,
} bx_prom_type;

/* One label pair; shared with bx_prom_parse. */
typedef struct bx_prom_label {
    const char *name;
    const char *value;
} bx_prom_label;

/* "untyped", "counter", "gauge", "histogram", "summary". */
const char *bx_prom_type_name(bx_prom_type t);

/* vLLM's bucket bounds (vllm/v1/metrics/loggers.py), ascending, +Inf implied. */
#define BX_PROM_BUCKETS_TTFT_N 22
extern const double bx_prom_buckets_ttft[BX_PROM_BUCKETS_TTFT_N];
/* inter_token_latency, time_per_output_token, request_time_per_output_token */
#define BX_PROM_BUCKETS_ITL_N 19
extern const double bx_prom_buckets_itl[BX_PROM_BUCKETS_ITL_N];
/* e2e_request_latency, request_{queue,prefill,decode,inference}_time */
#define BX_PROM_BUCKETS_LATENCY_N 21
extern const double bx_prom_buckets_latency[BX_PROM_BUCKETS_LATENCY_N];
/* iteration_tokens_total (eager builds; CUDA-graph builds use capture sizes) */
#define BX_PROM_BUCKETS_ITER_TOKENS_N 13
extern const double bx_prom_buckets_iter_tokens[BX_PROM_BUCKETS_ITER_TOKENS_N];
/* request_params_n */
#define BX_PROM_BUCKETS_N_N 5
extern const double bx_prom_buckets_n[BX_PROM_BUCKETS_N_N];

/* Prometheus' 1-2-5 series up to max inclusive (vLLM's build_1_2_5_buckets,
 * used for request_prompt_tokens and friends). Returns how many were written
 * to out (at most cap). */
int bx_prom_buckets_125(double *out, int cap, double max);

#define BX_PROM_HIST_MAX 48

typedef struct bx_prom_hist {
    const double *bounds; /* ascending upper bounds, not owned; +Inf implied */
    int n;
    uint64_t counts[BX_PROM_HIST_MAX]; /* per finite bucket, not cumulative */
    uint64_t count;                    /* all observations (the +Inf bucket) */
    double sum;
} bx_prom_hist;

/* n is clamped to [0, BX_PROM_HIST_MAX]. */
void bx_prom_hist_init(bx_prom_hist *h, const double *bounds, int n);
/* Counts v in the first bucket with v <= bound (NaN only in +Inf). */
void bx_prom_hist_observe(bx_prom_hist *h, double v);

/* Buffer big enough for any bx_prom_fmt_num output. */
#define BX_PROM_NUM_MAX 32
/* Shortest text that parses back to v; integral values without exponent as
 * "3.0" (below 2^63), +Inf, -Inf, NaN. Returns the length written. */
size_t bx_prom_fmt_num(char *out, size_t cap, double v);
/* Escapes a label value (\\, \", \n) into out, truncating to fit (never in
 * the middle of an escape). */
void bx_prom_escape(char *out, size_t cap, const char *in);
/* Appends the escaped pairs `a="x",b="y"` (no braces) to b: a pre-rendered
 * label list for the functions below. 0 or -1 when out of memory. */
int bx_prom_labels(bx_buf *b, const bx_prom_label *labels, size_t n);

/* Appenders. Each returns 0, or -1 when out of memory (the buffer may then
 * hold a partial line; reset it). */
/* # HELP (escaped) and # TYPE; type is the type's name, e.g. "gauge". */
int bx_prom_head(bx_buf *b, const char *name, const char *type, const char *help);
int bx_prom_write_family(bx_buf *b, const char *name, const char *help, bx_prom_type type);
/* labels: pre-rendered list without braces, "" or NULL for none. */
int bx_prom_value(bx_buf *b, const char *name, const char *labels, double v);
/* labels: n pairs, values escaped here. */
int bx_prom_write_sample(bx_buf *b, const char *name, const bx_prom_label *labels, size_t n,
                         double v);
/* name_bucket{...,le="b"} cumulative for every bound and le="+Inf", then
 * name_sum and name_count. */
int bx_prom_hist_write(bx_buf *b, const char *name, const char *labels, const bx_prom_hist *h);
int bx_prom_write_hist(bx_buf *b, const char *name, const bx_prom_label *labels, size_t n,
                       const bx_prom_hist *h);

#endif
