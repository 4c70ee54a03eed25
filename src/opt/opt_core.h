/* opt_core: the heterogeneous-GPU optimizer for one model, without I/O.
 * Fed the model's Deployments (GPU types, each with its profile) and the
 * gateway's 10-second load windows, a run turns the recent load into rps
 * per profile cell, solves Melange's ILP (opt_ilp.h), applies the floors,
 * overrides and hysteresis, and keeps the result: units per Deployment
 * (1/100 replica, what `vllm:deployment_replicas` exports), the assignment
 * of cells to types (docs/hetero.md, "Assignment") and why.
 *
 * Load (as AIBrix's load monitor, without its clustering): every window
 * whose start lies in [now - window_s, now) counts; each trace cell is
 * snapped to the profile grid (opt_profile_cell of the tick's token counts);
 * the arrival rate is max(completed in the windows / their span, the newest
 * window's meta_total_reqs / its interval; the span runs from the oldest
 * window's start to the newest one's end); a cell's rps is that rate times
 * its share of the completed requests. No load: every Deployment gets its
 * floor (AIBrix's _minimize). Arrivals without any completed request (no
 * shapes yet): the previous units stay. A Deployment without a profile is
 * left out of the ILP and gets its floor.
 *
 * Hysteresis: a Deployment's replicas (ceil(units / 100)) go up at once;
 * a lower count is applied only once every run for scale_down_delay_s
 * asked for it (then the highest of those runs' counts); a floor-only run
 * (no load) is held the same way. An override (PUT /scale) replaces the
 * result for its Deployment at once; the floor (model.aibrix.ai/min_replicas)
 * always holds.
 *
 * Lifecycle: opt_model_new / opt_model_free. Not thread-safe: one loop owns
 * a model. Ownership: inputs are copied; strings returned are the caller's
 * (free()). */
#ifndef OPT_CORE_H
#define OPT_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "opt/opt_ilp.h"
#include "opt/opt_profile.h"
#include "opt/opt_trace.h"

#define OPT_CORE_MAX_DEPLOYS 32
#define OPT_CORE_MAX_WINDOWS 360 /* 1 hour of 10 s windows */
#define OPT_CORE_REASON_MAX 512

typedef struct opt_core_opts {
    int window_s;              /* load considered; 0 = 240 (AIBrix's clusterer window) */
    int slices;                /* 0 = 4 */
    int units_per_gpu;         /* 0 = 100 */
    double time_limit_ms;      /* per solve; 0 = 1000 */
    double scale_down_delay_s; /* hysteresis; < 0 = none, 0 = 60 */
    double headroom;           /* load multiplied by 1 + headroom; default 0 */
} opt_core_opts;

typedef struct opt_deploy {
    char name[OPT_PROFILE_NAME_MAX];
    char ns[64];
    int has_profile;      /* 0: no profile yet; the model is not optimized (reason says so) */
    opt_profile profile;  /* its gpu field need not equal name */
    int64_t min_replicas; /* floor (label model.aibrix.ai/min_replicas); default 0 */
    int64_t max_replicas; /* 0 = no bound */
    int64_t override;     /* replicas set by PUT /scale; -1 = none */
} opt_deploy;

typedef struct opt_deploy_result {
    char name[OPT_PROFILE_NAME_MAX];
    char ns[64];
    int64_t units;     /* exported: vllm:deployment_replicas */
    int64_t replicas;  /* ceil(units / units_per_gpu) */
    int64_t ilp_units; /* the solver's, before floor, override and hysteresis */
    double cost;       /* $ per hour of `replicas` */
} opt_deploy_result;

typedef struct opt_result {
    int ok;             /* 1: a result is held (may be the floors only) */
    int64_t generation; /* bumps on every change of units or assignment */
    int64_t ts;         /* the run that produced it, unix seconds */
    opt_ilp_status status;
    double rps;        /* load seen */
    int ncells_loaded; /* profile cells with load */
    double unserved_rps;
    double solve_ms;
    double cost; /* $ per hour of all replicas */
    int ndeploys;
    opt_deploy_result deploys[OPT_CORE_MAX_DEPLOYS];
    char reason[OPT_CORE_REASON_MAX]; /* one line: why this mix */
} opt_result;

typedef struct opt_model opt_model; /* opaque */

/* model copied; opts NULL: defaults. NULL on allocation failure. */
opt_model *opt_model_new(const char *model, const opt_core_opts *opts);
void opt_model_free(opt_model *m);

/* Replaces the Deployments (state kept by namespace/name). Every profile
 * given must share one grid; returns -1 with a message in err when not (or
 * when n > OPT_CORE_MAX_DEPLOYS), 0 otherwise. */
int opt_model_set_deployments(opt_model *m, const opt_deploy *d, int n, char *err, size_t errlen);

/* Adds a window; one with the same ts replaces the earlier (re-reads are
 * harmless). Windows older than OPT_CORE_MAX_WINDOWS x 10 s are dropped. */
void opt_model_add_window(opt_model *m, const opt_trace *t);

/* Runs the optimizer at now (unix seconds). Returns 0 with *out filled
 * (also kept for opt_model_result), or -1 when there is nothing to decide
 * (no Deployment with a profile: out->reason says why; the previous result
 * is kept). A solve that is not optimal keeps the previous units. */
int opt_model_run(opt_model *m, int64_t now, opt_result *out);

/* The last result (out->ok = 0 before any run). */
void opt_model_result(const opt_model *m, opt_result *out);

/* The assignment JSON of the last result (docs/hetero.md). NULL before a
 * result or on allocation failure. */
char *opt_model_assignment_json(const opt_model *m);

#endif
