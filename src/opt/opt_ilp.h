/* opt_ilp: Melange's GPU-mix ILP (arXiv 2404.14527, as AIBrix's gpu
 * optimizer states it; ../shared/spec/lora_fleet_hetero.md 3.5) on GLPK.
 *
 * Given GPU types g (each a Deployment: a cost per replica-hour and, for
 * every request bucket b, the requests per second one replica serves within
 * the SLO, tput[g][b], 0 = cannot) and the load of each bucket (rps), find
 * the cheapest integer units per type and an assignment of every bucket's
 * slices to types such that each type's units cover the load assigned:
 *   each bucket's load is cut into `slices` equal slices s (r_s)
 *   x[s][g] in {0,1}, sum_g x[s][g] = 1                  (every slice served)
 *   sum_s x[s][g] * r_s / tput[g][b(s)] * upg <= y[g]   (units cover load)
 *   y[g] integer >= 0 (<= max_units[g] when given); minimise sum_g cost[g] y[g] / upg
 * with upg = units_per_gpu (AIBrix's gpu_fraction 100: y is in 1/100 of a
 * replica, which KPA's targetValue 100 turns back into replicas).
 * Better than AIBrix: a bucket with load that no type can serve (tput 0
 * everywhere; AIBrix gives it a huge cost and so a huge y) is left out of the
 * ILP and reported in unserved; the rest is solved. A result is given only
 * when GLPK proves it optimal within the time limit.
 *
 * Pure apart from GLPK (no I/O, no globals; GLPK's terminal output is off
 * for the call). Thread-compatible: separate calls may run on separate
 * threads. Ownership: every array is the caller's; the solver only reads
 * the inputs and writes the outputs given. */
#ifndef OPT_ILP_H
#define OPT_ILP_H

#include <stdint.h>

#define OPT_ILP_MAX_TYPES 64
#define OPT_ILP_MAX_BUCKETS 4096

typedef enum opt_ilp_status {
    OPT_ILP_OPTIMAL = 0,
    OPT_ILP_INFEASIBLE, /* max_units cannot cover the load */
    OPT_ILP_TIMEOUT,    /* no proven optimum within time_limit_ms */
    OPT_ILP_ERROR,      /* bad input (msg says which) or a GLPK failure */
} opt_ilp_status;

typedef struct opt_ilp_in {
    int ntypes;               /* 1..OPT_ILP_MAX_TYPES */
    int nbuckets;             /* 1..OPT_ILP_MAX_BUCKETS */
    const double *cost;       /* [ntypes] $ per replica-hour, >= 0 */
    const double *tput;       /* [ntypes * nbuckets], row-major by type: tput[g * nbuckets + b] */
    const double *load;       /* [nbuckets] requests per second arriving, >= 0 */
    const int64_t *max_units; /* [ntypes] or NULL: no bound (units, not replicas) */
    /* [ntypes] or NULL: floors (units); their capacity is paid for anyway,
     * so the solve fills it before buying more */
    const int64_t *min_units;
    int slices; /* slices per bucket; 0 = 4 (AIBrix's slice_factor) */
    /* 1: a bucket's load may be split between types in any proportion (the
     * limit of ever finer slices): only the units are integer, so GLPK's
     * branch and bound runs over ntypes variables and proves the optimum
     * fast; never costlier than any slicing. slices is then ignored. */
    int continuous;
    int units_per_gpu;    /* 0 = 100 (AIBrix's gpu_fraction) */
    double time_limit_ms; /* 0 = 1000 */
} opt_ilp_in;

typedef struct opt_ilp_out {
    opt_ilp_status status;
    double cost;    /* $ per hour of the units: sum cost[g] * units[g] / upg */
    int64_t *units; /* [ntypes], caller's: y[g] */
    /* [nbuckets * ntypes], caller's, may be NULL: share[b * ntypes + g], the
     * fraction of bucket b's slices on type g (0 for a bucket without load
     * or unserved; they sum to 1 over g for a served bucket) */
    double *share;
    int nunserved;       /* buckets with load that no type can serve */
    double unserved_rps; /* their load */
    double solve_ms;     /* wall time of the call */
    char msg[160];       /* why, when status is not OPTIMAL; "" otherwise */
} opt_ilp_out;

/* Solves. Returns out->status (OPT_ILP_OPTIMAL = 0). With no load at all
 * the result is optimal with every unit 0. */
opt_ilp_status opt_ilp_solve(const opt_ilp_in *in, opt_ilp_out *out);

/* "optimal", "infeasible", "timeout", "error". */
const char *opt_ilp_status_name(opt_ilp_status s);

#endif
