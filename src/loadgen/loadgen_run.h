/* loadgen_run: executes a loadgen_plan against a server. Owns the libuv loop of
 * the run: the arrival timer (open loop: each request is started at its
 * scheduled time whatever the server does, unless --max-concurrency holds it
 * in a FIFO), multi-turn chaining (a session's next turn after the previous
 * answer + think time), SSE/JSON measurement of each response, the progress
 * bar and Ctrl-C (stop sending, cancel in-flight requests, keep results).
 *
 * Memory: loadgen_run_exec returns a malloc'd array of results (one per request
 * that was sent, in plan order) that the caller frees with loadgen_result_free
 * on each and free() on the array. cfg, plan and jsonl stay the caller's. */
#ifndef LOADGEN_RUN_H
#define LOADGEN_RUN_H

#include "loadgen/loadgen_config.h"
#include "loadgen/loadgen_stats.h"
#include "loadgen/loadgen_workload.h"

#include <stdio.h>

/* Returns 0 (even when requests failed; see each result) or -1 when the
 * run could not be set up. jsonl may be NULL. *duration_s is the wall time
 * from the start to the last completion. */
int loadgen_run_exec(const loadgen_config *cfg, const loadgen_plan *plan, FILE *jsonl,
                     loadgen_result **results, size_t *n_results, double *duration_s);

#endif
