/* as_policy: the autoscaling decision, one call per PodAutoscaler and
 * reconcile: as_decide(spec, state, input) -> desired replicas and why.
 * Pure computation: no I/O, no clock, no allocation; time comes in as
 * input->now_ms. The per-autoscaler state is plain data (as_state) that the
 * control plane keeps and may persist. Strategies are files (as_hpa.c,
 * as_kpa.c, as_apa.c) each exporting one as_policy table; as_policy.c holds
 * the pipeline they share.
 *
 * Metric semantics (the caller's contract). For each metric source the
 * caller passes the stable-window and panic-window means (as_window) of the
 * FLEET TOTAL: the sum of the per-pod values over the pods that answered
 * (failed scrapes excluded, not counted as 0), together with that pod count.
 * A global value (an external source, the GPU optimizer) is passed as a
 * total with pods = 0. Then, with T the targetValue:
 *   load L = total / T  (pods' worth of work), per-pod ratio rho = total / (T * pods)
 *
 * Pipeline of as_decide:
 *  0. Bounds: min and max are the base spec's, or those of the first active
 *     spec.schedules[] entry at in->local_wday/local_minute, else of the
 *     first spec.scheduledBounds[] entry in in->bounds_active (as_sched.h);
 *     every step below and the strategies use these effective bounds.
 *  1. Boundary checks before any metric (AIBrix): current 0 with min > 0 ->
 *     hold ("scaling disabled", as Kubernetes HPA), unless an active
 *     schedule sets minReplicas (it warms the target from zero); current >
 *     max -> max; current < min -> min.
 *  2. The strategy's recommendation R over all metrics (max over metrics
 *     that have data; none -> hold, or activate from zero, below). Each
 *     metric's value is clamped to [min, max].
 *     HPA (Kubernetes replica calculator): rho within [1-tau_down, 1+tau_up]
 *       -> current; else ceil(L). Pods without a metric (pending, unready,
 *       failed scrape: current - pods) count as 0 on a scale-up and as
 *       exactly at target on a scale-down; if that brings rho into the band
 *       or flips the direction, hold.
 *     APA: rho > 1+tau_up -> min(ceil(L), ceil(r_up * ready)), never below
 *       current; rho < 1-tau_down -> max(ceil(L), floor(ready / r_down)),
 *       never above current; else current.
 *     KPA (Knative): the same step on the stable window (dS) and on the panic
 *       window (dP). Panic starts or is extended whenever ceil(P/T) / ready
 *       >= theta, and ends once not over the threshold and the observe
 *       window has passed since the last time it was. In panic R = max(dS,
 *       dP) and R never drops below the highest R of this panic (no scale
 *       down while panicking). A fresh state with current > 1 starts in
 *       panic holding current, so a restart without persisted state does not
 *       scale down. activation-scale raises any non-zero R to at least it.
 *     (ready means max(1, ready replicas) in the rate limits.)
 *  3. Stabilization, Kubernetes HPA semantics, for all strategies: the
 *     result is current raised to the MIN of the recommendations of the last
 *     scale-up window (default 0 s: no delay) and lowered to the MAX of those
 *     of the last scale-down window (default 300 s). This is also Knative's
 *     scale-down delay.
 *  4. HPA only: Kubernetes behavior rate policies as AIBrix maps them: per
 *     60 s period, up to ceil(start * r_up) replicas and down to
 *     floor(start / r_down), start being the count before this period's
 *     scale events (recorded by as_decide itself).
 *  5. Clamp to [min, max]; scale to zero only with min 0 and only after the
 *     decision has said 0 for scale-to-zero-grace-period (default 30 s); in
 *     the grace it holds 1.
 *  Activation: at current 0 (min 0), any metric load or in->waiting > 0
 *  gives max(R, activation-scale, 1), capped at max(activation-scale,
 *  ceil(r_up)) and max, bypassing stabilization.
 *
 * Differences from AIBrix HEAD (e3e10f9e), on purpose (docs/autoscaling.md):
 *  - Stabilization uses Kubernetes semantics (min for up, max for down);
 *    AIBrix inverts them, so its 300 s "scale-down cooldown" re-applies the
 *    lowest recommendation instead of delaying scale-down.
 *  - KPA uses fleet totals, ceil(sum / T) (Knative), not ceil(per-pod avg /
 *    T), which ignores N and scales 4 pods at 0.8 (T 0.5) down to 2.
 *  - KPA panic is state kept across reconciles (Knative): no scale-down in
 *    panic, exit after the stable window; the Knative threshold test
 *    dppc/ready >= theta replaces AIBrix's P/S > theta.
 *  - Rate limits count ready pods (Knative), not spec.replicas, and APA/KPA
 *    never move against the direction of rho: with replicas still pending
 *    this stops the 2 -> 4 -> 8 cascade (AIBrix RFC #2670).
 *  - HPA mode is computed here (AIBrix creates a Kubernetes HPA object).
 *  - The tolerance band of KPA is applied to the per-pod ratio rho.
 *  - Scale to zero is real (grace period, activation from waiting
 *    requests); AIBrix parses scale-to-zero but never acts on it.
 *
 * Persistence: every field of as_state must be persisted for exact
 * behaviour across restarts (it is plain data: copy it as one blob together
 * with AS_STATE_VERSION, or field by field). What matters most: in_panic,
 * panic_time_ms, max_panic_pods (else a restart during panic may scale down
 * early; a fresh state starts in panic when current > 1, the safe side),
 * zero_pending/zero_since_ms (else the grace restarts), and the histories
 * stab_up/stab_down/up_events/down_events (else stabilization and HPA rate
 * periods restart empty, i.e. less damping for one window).
 *
 * Ownership: as_decide reads spec and in, updates *st, writes *out; it keeps
 * no pointers. Times are milliseconds on any clock that does not go
 * backwards (wall clock if the state is persisted); if it does go backwards
 * the histories are cleared. */
#ifndef AS_POLICY_H
#define AS_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "autoscale/as_sched.h"
#include "autoscale/as_spec.h"

#define AS_STATE_VERSION 1u
#define AS_HIST_MAX 64
#define AS_HPA_PERIOD_MS 60000 /* AIBrix's periodSeconds for both HPA policies */
#define AS_REASON_LEN 200

typedef struct as_hist_entry {
    int64_t t_ms;
    int32_t v;
} as_hist_entry;

/* A bounded time-ordered list: monotonic deque for stabilization, event log
 * for HPA rate periods. On overflow the two oldest entries merge, keeping
 * the conservative value (see as_hist_* in as_policy.c). */
typedef struct as_hist {
    uint32_t n;
    as_hist_entry e[AS_HIST_MAX];
} as_hist;

typedef struct as_state {
    uint32_t version;   /* 0: fresh (as_state_init); AS_STATE_VERSION once used */
    uint64_t decisions; /* strategy runs so far */
    int64_t last_now_ms;
    bool in_panic; /* KPA */
    int64_t panic_time_ms;
    int32_t max_panic_pods;
    bool zero_pending; /* the decision has been 0 since zero_since_ms */
    int64_t zero_since_ms;
    as_hist stab_up;     /* recommendations, increasing values (min-deque) */
    as_hist stab_down;   /* recommendations, decreasing values (max-deque) */
    as_hist up_events;   /* HPA: replicas added per decision */
    as_hist down_events; /* HPA: replicas removed per decision */
} as_state;

typedef struct as_metric_input {
    bool valid;          /* false: no data this round; the metric is skipped */
    double stable_total; /* stable-window mean of the fleet total */
    uint32_t stable_pods;
    bool panic_valid; /* false: the panic value is taken equal to the stable one */
    double panic_total;
    uint32_t panic_pods;
} as_metric_input;

typedef struct as_input {
    int64_t now_ms;
    /* The wall clock in the schedules' zone (spec.timezone), for
     * spec.schedules: local weekday (0 = Sunday) and minute of the day.
     * local_valid false (or no schedules): the base bounds apply. */
    bool local_valid;
    int local_wday;
    int local_minute;
    /* spec.scheduledBounds: bit i set when entry i is active now
     * (as_sched_bounds_mask); applies when no spec.schedules entry is. */
    uint32_t bounds_active;
    int32_t current;  /* the target's spec.replicas */
    int32_t ready;    /* ready (routable) replicas */
    uint32_t waiting; /* requests waiting for this target (gateway queue): activation */
    size_t n_metrics; /* must equal spec->n_metrics; m[i] goes with spec->metrics[i] */
    as_metric_input m[AS_MAX_METRICS];
} as_input;

typedef struct as_metric_result {
    bool valid;
    double stable_total, panic_total;
    double load;  /* stable_total / target: pods' worth of work */
    double ratio; /* per-pod stable value / target */
    int32_t recommended;
} as_metric_result;

typedef struct as_decision {
    int32_t desired;     /* what to set spec.replicas to */
    int32_t recommended; /* the strategy's R before stabilization, rates, clamps */
    bool scale;          /* desired != current */
    bool panic;          /* KPA in panic mode */
    bool has_data;       /* at least one metric had data */
    int metric;          /* index of the metric that set R, -1 when none */
    double stable_value; /* that metric's totals */
    double panic_value;
    as_metric_result metrics[AS_MAX_METRICS];
    as_bounds bounds;           /* the effective min/max and the active schedule */
    char reason[AS_REASON_LEN]; /* e.g. "KPA panic: panic total 12 = 12 pods >= 2x 3 ready -> 6" */
} as_decision;

void as_state_init(as_state *st);
/* 0 with *out filled, or -1 on bad arguments (NULLs, negative counts,
 * in->n_metrics != spec->n_metrics, invalid spec) with out->reason saying
 * why; *st is then unchanged. */
int as_decide(const as_spec *spec, as_state *st, const as_input *in, as_decision *out);

/* ---- for the strategy files (src/autoscale only) ---- */

typedef struct as_policy {
    const char *name;
    /* Fills out->recommended, has_data, metric, metrics[], panic, reason. */
    void (*recommend)(const as_spec *spec, as_state *st, const as_input *in, as_decision *out);
    /* Optional rate limit after stabilization; returns the limited value. */
    int32_t (*limit)(const as_spec *spec, as_state *st, const as_input *in, int32_t desired);
    /* Optional: sees the final decision (HPA records scale events). */
    void (*commit)(const as_spec *spec, as_state *st, const as_input *in, const as_decision *d);
} as_policy;

extern const as_policy as_policy_hpa;
extern const as_policy as_policy_kpa;
extern const as_policy as_policy_apa;
const as_policy *as_policy_for(as_strategy s);

/* ceil(x) that forgives float noise (ceil(3.0000000001) = 3); x <= 0 -> 0;
 * saturates at INT32_MAX. */
int32_t as_ceil_pods(double x);
int32_t as_floor_pods(double x);
int32_t as_clamp(int32_t v, int32_t lo, int32_t hi);
/* Per-pod ratio total / (target * pods), pods 0 meaning a global value
 * divided over max(1, fallback_pods). */
double as_ratio(double total, double target, uint32_t pods, int32_t fallback_pods);
/* Records metric i's stable-window result (total s, target t, ratio rho,
 * recommendation d clamped to [lo, hi]) in out, and makes it the deciding
 * metric when its recommendation is the largest so far (*best). For the
 * strategies without a panic window (HPA, APA). */
void as_record_stable(as_decision *out, size_t i, double s, double t, double rho, int32_t d,
                      int32_t lo, int32_t hi, int32_t *best);
/* After every metric was recorded: out->recommended and the deciding
 * metric's values. 0, or -1 when no metric had data. */
int as_finish_stable(as_decision *out, int32_t best);

typedef enum as_step_dir { AS_STEP_HOLD = 0, AS_STEP_UP, AS_STEP_DOWN } as_step_dir;
/* The APA/KPA step on one window: see the header comment. dir says which
 * branch was taken. */
int32_t as_band_step(const as_spec *spec, const as_input *in, double total, double target,
                     uint32_t pods, as_step_dir *dir);

void as_hist_clear(as_hist *h);
/* Appends in time order; merges the two oldest when full, summing v when
 * sum_on_merge, else keeping the oldest's v. */
void as_hist_push(as_hist *h, int64_t t_ms, int32_t v, bool sum_on_merge);
/* Drops entries with t_ms <= cutoff_ms. */
void as_hist_expire(as_hist *h, int64_t cutoff_ms);

#endif
