/* ctl_place: where a LoRA adapter (ModelAdapter) should run among the engines
 * of its base model. Pure functions over a caller-built candidate table: no
 * I/O, no clock, no global state; the controller gathers the engine facts
 * (readiness, adapter counts, metrics) and applies the plan.
 *
 * Policies, named as AIBrix's --model-adapter-scheduler-policy values
 * (docs/control-plane-lora.md, schedulerName); "default" (the CRD's schedulerName
 * default, which AIBrix ignores) means leastAdapters. Every policy ranks
 * engines by a key, lower is better, ties broken by name (strcmp):
 *   leastAdapters    adapters loaded now.
 *   binPack          free room = max_loras - loaded: the fullest engine that
 *                    still has room first. AIBrix hard-codes cap = 10; here
 *                    the room comes from each engine's max_loras, and an
 *                    engine with max_loras = 0 (unknown) has unbounded room,
 *                    so it ranks after every bounded one (among those, the
 *                    one with more adapters first).
 *   leastLatency     recent mean latency (seconds) of the engine.
 *   leastThroughput  recent token throughput (tokens/s) of the engine, the
 *                    least busy first. AIBrix uses 2*prompt + generation
 *                    tokens/min; that weighting is the caller's to apply.
 *   random           a uniform random order from the seed (splitmix64 and a
 *                    Fisher-Yates shuffle of the name-sorted set): the same
 *                    seed and the same engine names give the same plan, and
 *                    no engine is ever picked twice.
 * AIBrix reads the metrics per (pod, adapter), which do not exist before the
 * adapter is loaded, and fails; here they are per engine. When any engine
 * in a set being ranked has an unknown metric (NaN, infinite or negative),
 * that set is ranked by leastAdapters instead and plan.fallback is set.
 *
 * Replicas: CTL_PLACE_ALL (AIBrix's replicas = nil: load on every ready
 * engine) or any count >= 0 (AIBrix only allows 1). Rules:
 *   - not-ready engines are never chosen and never counted. One that still
 *     has the adapter is neither kept nor unloaded (AIBrix drops it from
 *     status.instances without unloading); it appears in no list.
 *   - ready engines that have the adapter are kept, up to the wanted count;
 *     beyond it the worst-ranked by the same policy are unloaded (AIBrix
 *     unloads the tail of status.instances instead).
 *   - new engines are taken in rank order from the ready engines without
 *     the adapter whose loaded < max_loras (max_loras 0 = no limit).
 *     Readiness anti-flapping (AIBrix: Ready for 5 s) is the caller's job.
 *   - eligible engines not picked are returned ranked as spares, to try
 *     when a load fails.
 *
 * Memory: engines (and their names) are borrowed for the call only. A plan
 * holds indexes into the caller's engine array, in one block owned by the
 * plan: free it with ctl_place_plan_free. */
#ifndef CTL_PLACE_H
#define CTL_PLACE_H

#include <stddef.h>
#include <stdint.h>

typedef enum ctl_place_policy {
    CTL_PLACE_LEAST_ADAPTERS = 0, /* "leastAdapters" (default) */
    CTL_PLACE_BIN_PACK,           /* "binPack" */
    CTL_PLACE_LEAST_LATENCY,      /* "leastLatency" */
    CTL_PLACE_LEAST_THROUGHPUT,   /* "leastThroughput" */
    CTL_PLACE_RANDOM,             /* "random" */
} ctl_place_policy;

/* Replica count meaning "every ready engine". */
#define CTL_PLACE_ALL (-1)

/* Exact, case-sensitive AIBrix spellings, plus "default" and "" for
 * leastAdapters. 0, or -1 for an unknown name. */
int ctl_place_policy_parse(const char *name, ctl_place_policy *out);
/* The AIBrix spelling; "?" for an out-of-range value. */
const char *ctl_place_policy_name(ctl_place_policy p);

typedef struct ctl_place_engine {
    const char *name;      /* unique, non-NULL; the tie-breaker */
    int ready;             /* serving and reachable */
    unsigned loaded;       /* adapters loaded now (counting this one if has_adapter) */
    unsigned max_loras;    /* most adapters it may hold; 0 = unknown/unbounded */
    int has_adapter;       /* this adapter is loaded there now */
    double latency_s;      /* recent mean latency in seconds; NaN = unknown */
    double throughput_tps; /* recent tokens/s; NaN = unknown */
} ctl_place_engine;

typedef struct ctl_place_plan {
    size_t desired; /* wanted replicas; CTL_PLACE_ALL resolved to the ready count */
    size_t *keep;   /* have it and stay (by rank when over the count, else by name) */
    size_t nkeep;
    size_t *load; /* load it there, in rank order */
    size_t nload;
    size_t *spare; /* other eligible engines, ranked after load */
    size_t nspare;
    size_t *unload; /* have it, over the wanted count */
    size_t nunload;
    size_t missing;   /* desired - nkeep - nload when too few engines qualify */
    size_t not_ready; /* engines skipped because not ready */
    size_t full;      /* ready engines skipped because at max_loras */
    int fallback;     /* a metric policy ranked by leastAdapters (unknown metric) */
    size_t *block_;   /* private: the storage behind the four lists */
} ctl_place_plan;

/* Computes the plan for one adapter. replicas: CTL_PLACE_ALL or >= 0.
 * Returns 0, or -1 with a message in err (bad arguments: NULL or duplicate
 * names, replicas < -1, unknown policy; or out of memory); on -1 the plan is
 * left empty and need not be freed. */
int ctl_place_compute(const ctl_place_engine *engines, size_t n, int replicas,
                      ctl_place_policy policy, uint64_t seed, ctl_place_plan *out, char *err,
                      size_t errlen);
void ctl_place_plan_free(ctl_place_plan *p);

#endif
