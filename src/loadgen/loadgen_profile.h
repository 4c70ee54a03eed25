/* loadgen_profile: `brix bench profile`, AIBrix's GPU profiling (its
 * benchmark.sh + gpu_benchmark.py sweep and gen_profile.py) in one command.
 * docs/bench.md ("brix bench profile") and docs/hetero.md ("Profiling").
 *
 * This header holds the pure part, fed by buffers and tested on hand-made
 * rows (tests/unit/test_loadgen_profile.c):
 *   - benchmark rows, AIBrix's JSONL shape, one per metric of one
 *     (input, output, rate) measurement:
 *       {"input_tokens","output_tokens","request_rate","seed","model",
 *        "samples","metric","mean"[,"P50","P90","P99"]}
 *     metric TPUT (req/s) and TT (output tokens/s) carry only "mean", as
 *     AIBrix writes them; E2E, TTFT and TPOT (seconds; TPOT over every gap
 *     between streamed tokens, pooled, as AIBrix) carry the percentiles too;
 *   - a set of measurements (points) keyed by (input, output, rate), merged
 *     from rows (a later row of the same point and metric replaces an
 *     earlier one);
 *   - the generation rule (loadgen_prof_generate), AIBrix's exactly: keep
 *     the rates meeting every SLO (latency: the chosen percentile < SLO;
 *     TPUT/TT: mean >= SLO; TPAT = E2E / (in + out)), among them those whose
 *     TPUT >= 0.9 rate; take the largest of those, else the smallest
 *     surviving rate; tputs[out][in] = the measured mean TPUT there, 0 when
 *     no rate survives.
 * The command itself (flags, the sweep, resuming) is loadgen_profile_cmd.c.
 *
 * Memory: a loadgen_prof_set owns its points (loadgen_prof_set_free).
 * Rows are written to caller-owned FILEs. */
#ifndef LOADGEN_PROFILE_H
#define LOADGEN_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "loadgen/loadgen_stats.h"
#include "opt/opt_profile.h"

#define LOADGEN_PROF_TPUT_TOLERANCE 0.9 /* AIBrix's TPUT_TOLERANCE */

enum loadgen_prof_metric {
    LOADGEN_PM_TPUT, /* successful requests per second */
    LOADGEN_PM_TT,   /* output tokens per second */
    LOADGEN_PM_E2E,  /* seconds */
    LOADGEN_PM_TTFT, /* seconds */
    LOADGEN_PM_TPOT, /* seconds between streamed tokens */
    LOADGEN_PM_N
};

/* "TPUT", "TT", "E2E", "TTFT", "TPOT". */
const char *loadgen_prof_metric_name(int m);

typedef struct loadgen_prof_stat {
    int has;     /* a row was seen */
    int has_pct; /* it had P50, P90 and P99 */
    double mean, p50, p90, p99;
} loadgen_prof_stat;

typedef struct loadgen_prof_point {
    int in, out; /* tokens */
    double rate; /* requests per second (simulated time under --time-scale) */
    long samples;
    uint64_t seed;
    loadgen_prof_stat m[LOADGEN_PM_N];
} loadgen_prof_point;

/* One parsed row. */
typedef struct loadgen_prof_row {
    int in, out;
    double rate;
    long samples; /* -1 when absent */
    uint64_t seed;
    char model[OPT_PROFILE_NAME_MAX]; /* "" when absent */
    int metric;                       /* loadgen_prof_metric; -1: a metric brix does not know */
    loadgen_prof_stat stat;
} loadgen_prof_row;

/* Parses one JSONL row. Returns 0, or -1 with a message naming the field. A
 * row whose metric is not one of the five parses with metric -1. */
int loadgen_prof_row_parse(const char *line, size_t len, loadgen_prof_row *row, char *err,
                           size_t errlen);

typedef struct loadgen_prof_set {
    loadgen_prof_point *pts;
    size_t n, cap;
    char model[OPT_PROFILE_NAME_MAX]; /* of the first row that named one */
} loadgen_prof_set;

void loadgen_prof_set_init(loadgen_prof_set *s);
void loadgen_prof_set_free(loadgen_prof_set *s);
/* The point of (in, out, rate), or NULL. */
loadgen_prof_point *loadgen_prof_set_find(const loadgen_prof_set *s, int in, int out, double rate);
/* Merges a row into its point (created when new). Returns 0, -1 when out of
 * memory. Rows of unknown metrics are ignored. */
int loadgen_prof_set_add_row(loadgen_prof_set *s, const loadgen_prof_row *row);
/* Adds (or replaces) a whole point. Returns 0 or -1 (memory). */
int loadgen_prof_set_put(loadgen_prof_set *s, const loadgen_prof_point *p);
/* Reads JSONL text (blank lines skipped). A line that does not parse is
 * skipped with a warning on warn (may be NULL) naming its line number;
 * *nbad counts them. Returns 0, -1 when out of memory. */
int loadgen_prof_set_read(loadgen_prof_set *s, const char *text, size_t len, FILE *warn,
                          const char *name, size_t *nbad);

/* 1 when p has been measured (it has its TPUT row). */
int loadgen_prof_point_done(const loadgen_prof_point *p);
/* 1 when every SLO of slo holds at p (AIBrix's filter: unset SLOs hold when
 * the metric was measured; a rate with no latency rows fails). */
int loadgen_prof_meets(const loadgen_prof_point *p, const opt_slo *slo);
/* 1 when p's TPUT >= LOADGEN_PROF_TPUT_TOLERANCE * rate (no queue build-up). */
int loadgen_prof_keeps_up(const loadgen_prof_point *p);

/* Fills out's grid (indexes: every input and output length of s, sorted),
 * tputs and e2e (the mean E2E at the chosen rate; at the lowest measured
 * rate when none survives), ttft when slo->ttft is set, and slos. gpu, cost,
 * model and created are left as they are. *nempty counts grid cells with no
 * measurement (tput 0). Returns 0, or -1 with a message (no rows, a grid
 * larger than OPT_PROFILE_GRID_MAX). */
int loadgen_prof_generate(const loadgen_prof_set *s, const opt_slo *slo, opt_profile *out,
                          int *nempty, char *err, size_t errlen);

/* The measurement of one run: time_scale simulated seconds per wall second
 * (latencies x S, throughputs / S); duration_s is the run's wall time.
 * in, out, rate, samples and seed are the caller's to set. Returns 0, -1
 * when out of memory. */
int loadgen_prof_measure(loadgen_prof_point *p, const loadgen_result *res, size_t n,
                         double duration_s, double time_scale);

/* Writes p's rows (TPUT, TT, E2E, TTFT, TPOT; the ones it has) to f, one
 * JSON line each, then flushes. Returns 0 or -1. */
int loadgen_prof_write_rows(FILE *f, const loadgen_prof_point *p, const char *model);

/* `brix bench profile` (loadgen_profile_cmd.c); argv[0] is "profile". */
int loadgen_profile_main(int argc, char **argv);

#endif
