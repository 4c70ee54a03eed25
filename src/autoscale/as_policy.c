/* as_policy: the decision pipeline shared by the strategies (boundary
 * checks, activation from zero, stabilization, clamps, scale-to-zero grace)
 * and the small helpers they use. The formulas are in as_policy.h. */
#include "autoscale/as_policy.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define EPS 1e-9

const as_policy *as_policy_for(as_strategy s)
{
    switch (s) {
    case AS_STRATEGY_HPA:
        return &as_policy_hpa;
    case AS_STRATEGY_KPA:
        return &as_policy_kpa;
    case AS_STRATEGY_APA:
        return &as_policy_apa;
    }
    return NULL;
}

int32_t as_ceil_pods(double x)
{
    if (!(x > EPS)) return 0; /* also NaN */
    double c = ceil(x - EPS * (x > 1 ? x : 1));
    return c >= (double)INT32_MAX ? INT32_MAX : (int32_t)c;
}

int32_t as_floor_pods(double x)
{
    if (!(x > 0)) return 0;
    double f = floor(x + EPS * (x > 1 ? x : 1));
    return f >= (double)INT32_MAX ? INT32_MAX : (int32_t)f;
}

int32_t as_clamp(int32_t v, int32_t lo, int32_t hi)
{
    if (v < lo) v = lo;
    if (v > hi) v = hi;
    return v;
}

void as_record_stable(as_decision *out, size_t i, double s, double t, double rho, int32_t d,
                      int32_t lo, int32_t hi, int32_t *best)
{
    as_metric_result *r = &out->metrics[i];
    r->valid = true;
    r->stable_total = s;
    r->panic_total = s;
    r->load = s / t;
    r->ratio = rho;
    r->recommended = as_clamp(d, lo, hi);
    out->has_data = true;
    if (r->recommended > *best) {
        *best = r->recommended;
        out->metric = (int)i;
    }
}

int as_finish_stable(as_decision *out, int32_t best)
{
    if (!out->has_data) return -1;
    const as_metric_result *r = &out->metrics[out->metric];
    out->recommended = best;
    out->stable_value = r->stable_total;
    out->panic_value = r->stable_total;
    return 0;
}

double as_ratio(double total, double target, uint32_t pods, int32_t fallback_pods)
{
    double n = pods > 0 ? (double)pods : (fallback_pods > 1 ? (double)fallback_pods : 1.0);
    return total / (target * n);
}

static int32_t ready_base(const as_input *in)
{
    return in->ready > 1 ? in->ready : 1;
}

int32_t as_band_step(const as_spec *spec, const as_input *in, double total, double target,
                     uint32_t pods, as_step_dir *dir)
{
    double load = total / target;
    int32_t n_r = ready_base(in);
    int32_t max_up = as_ceil_pods(spec->max_scale_up_rate * n_r);
    int32_t max_down = as_floor_pods((double)n_r / spec->max_scale_down_rate);
    *dir = AS_STEP_HOLD;
    if (in->current == 0) { /* nothing to compare with: the load decides */
        int32_t d = as_ceil_pods(load);
        if (d > max_up) d = max_up;
        if (d > 0) *dir = AS_STEP_UP;
        return d;
    }
    double rho = as_ratio(total, target, pods, in->ready);
    if (rho > 1 + spec->scale_up_tolerance) {
        *dir = AS_STEP_UP;
        int32_t d = as_ceil_pods(load);
        if (d > max_up) d = max_up;
        return d > in->current ? d : in->current;
    }
    if (rho < 1 - spec->scale_down_tolerance) {
        *dir = AS_STEP_DOWN;
        int32_t d = as_ceil_pods(load);
        if (d < max_down) d = max_down;
        return d < in->current ? d : in->current;
    }
    return in->current;
}

/* ---- histories ---- */

void as_hist_clear(as_hist *h)
{
    h->n = 0;
}

void as_hist_push(as_hist *h, int64_t t_ms, int32_t v, bool sum_on_merge)
{
    if (h->n >= AS_HIST_MAX) {
        /* Merge the two oldest into the newer time: the older value lives a
         * little longer (conservative for both uses). */
        int64_t s = (int64_t)h->e[0].v + (sum_on_merge ? h->e[1].v : 0);
        h->e[1].v = s > INT32_MAX ? INT32_MAX : (int32_t)s;
        memmove(&h->e[0], &h->e[1], (h->n - 1) * sizeof(h->e[0]));
        h->n--;
    }
    h->e[h->n].t_ms = t_ms;
    h->e[h->n].v = v;
    h->n++;
}

void as_hist_expire(as_hist *h, int64_t cutoff_ms)
{
    uint32_t k = 0;
    while (k < h->n && h->e[k].t_ms <= cutoff_ms)
        k++;
    if (k == 0) return;
    memmove(&h->e[0], &h->e[k], (h->n - k) * sizeof(h->e[0]));
    h->n -= k;
}

/* Monotonic deque push: drops the newest entries the new value dominates
 * (<= v for a max-deque, >= v for a min-deque), so the front is always the
 * extreme of the live window. */
static void mono_push(as_hist *h, int64_t t_ms, int32_t v, bool keep_max)
{
    while (h->n > 0 && (keep_max ? h->e[h->n - 1].v <= v : h->e[h->n - 1].v >= v))
        h->n--;
    as_hist_push(h, t_ms, v, false);
}

/* Kubernetes stabilizeRecommendationWithBehaviors. */
static int32_t stabilize(const as_spec *spec, as_state *st, int64_t now, int32_t current,
                         int32_t rec, int *which)
{
    as_hist_expire(&st->stab_up, now - spec->up_stabilization_ms);
    as_hist_expire(&st->stab_down, now - spec->down_stabilization_ms);
    int32_t up = rec, down = rec;
    if (st->stab_up.n > 0 && st->stab_up.e[0].v < up) up = st->stab_up.e[0].v;
    if (st->stab_down.n > 0 && st->stab_down.e[0].v > down) down = st->stab_down.e[0].v;
    mono_push(&st->stab_up, now, rec, false);
    mono_push(&st->stab_down, now, rec, true);
    int32_t r = current;
    *which = 0;
    if (r < up) r = up;
    if (r > down) r = down;
    if (r != rec) *which = rec > current ? 1 : 2;
    return r;
}

/* ---- the pipeline ---- */

static void reason(as_decision *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reason(as_decision *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
    va_end(ap);
}

static void note(as_decision *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(as_decision *d, const char *fmt, ...)
{
    size_t len = strlen(d->reason);
    if (len + 4 >= sizeof(d->reason)) return;
    memcpy(d->reason + len, "; ", 3);
    len += 2;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->reason + len, sizeof(d->reason) - len, fmt, ap);
    va_end(ap);
}

void as_state_init(as_state *st)
{
    memset(st, 0, sizeof(*st));
}

static void finish(const as_policy *pol, const as_spec *spec, as_state *st, const as_input *in,
                   as_decision *out)
{
    out->scale = out->desired != in->current;
    if (pol && pol->commit) pol->commit(spec, st, in, out);
}

int as_decide(const as_spec *spec, as_state *st, const as_input *in, as_decision *out)
{
    if (!out) return -1;
    memset(out, 0, sizeof(*out));
    out->bounds.active = -1;
    out->metric = -1;
    if (!spec || !st || !in) {
        reason(out, "invalid arguments");
        return -1;
    }
    out->desired = in->current;
    char verr[160];
    if (as_spec_validate(spec, verr, sizeof(verr)) != 0) {
        reason(out, "invalid spec: %s", verr);
        return -1;
    }
    if (in->current < 0 || in->ready < 0 || in->n_metrics != spec->n_metrics) {
        reason(out, "invalid input: current %d, ready %d, %zu metrics for %zu sources",
               (int)in->current, (int)in->ready, in->n_metrics, spec->n_metrics);
        return -1;
    }
    const as_policy *pol = as_policy_for(spec->strategy);
    if (!pol) {
        reason(out, "unknown strategy");
        return -1;
    }

    int64_t now = in->now_ms;
    if (st->version == 0) {
        as_state_init(st);
        st->version = AS_STATE_VERSION;
    } else if (now < st->last_now_ms) { /* the clock went back: histories are meaningless */
        as_hist_clear(&st->stab_up);
        as_hist_clear(&st->stab_down);
        as_hist_clear(&st->up_events);
        as_hist_clear(&st->down_events);
        if (st->in_panic) st->panic_time_ms = now;
        if (st->zero_pending) st->zero_since_ms = now;
    }
    st->last_now_ms = now;

    if (in->local_valid)
        as_bounds_at(spec, in->local_wday, in->local_minute, &out->bounds);
    else
        as_bounds_base(spec, &out->bounds);
    as_bounds_apply_mask(spec, in->bounds_active, &out->bounds);
    /* the strategies read spec->min/max_replicas: give them the effective bounds */
    as_spec eff;
    if (out->bounds.active >= 0) {
        eff = *spec;
        eff.min_replicas = out->bounds.min;
        eff.max_replicas = out->bounds.max;
        spec = &eff;
    }
    char sched[AS_SCHED_NAME_LEN + 16] = "";
    if (out->bounds.active >= 0)
        snprintf(sched, sizeof(sched), " (schedule %s)", as_bounds_name(spec, out->bounds.active));

    int32_t lo = out->bounds.min, hi = out->bounds.max, cur = in->current;
    if (cur == 0 && lo > 0 && !out->bounds.active_sets_min) {
        reason(out, "scaling disabled: current replicas is 0 (minReplicas %d%s)", (int)lo, sched);
        finish(NULL, spec, st, in, out);
        return 0;
    }
    if (cur > hi || cur < lo) {
        out->desired = cur > hi ? hi : lo;
        reason(out, "current replicas %d %s %d%s", (int)cur,
               cur > hi ? "above maxReplicas" : "below minReplicas", (int)out->desired, sched);
        st->zero_pending = false;
        finish(NULL, spec, st, in, out);
        return 0;
    }

    pol->recommend(spec, st, in, out);
    st->decisions++;

    if (cur == 0) { /* min is 0 here: activation */
        int32_t act = spec->activation_scale;
        if (out->recommended > 0 || in->waiting > 0) {
            int32_t cap = as_ceil_pods(spec->max_scale_up_rate);
            if (cap < act) cap = act;
            int32_t d = out->recommended;
            if (d < act) d = act;
            if (d > cap) d = cap;
            out->desired = as_clamp(d, 1, hi);
            if (!out->has_data || out->recommended == 0)
                reason(out, "activation: %u requests waiting at 0 replicas -> %d", in->waiting,
                       (int)out->desired);
            else
                note(out, "activation from 0 -> %d", (int)out->desired);
            mono_push(&st->stab_up, now, out->desired, false);
            mono_push(&st->stab_down, now, out->desired, true);
        } else {
            out->desired = 0;
            if (!out->has_data) reason(out, "idle at 0 replicas: no metric data, no waiting");
        }
        st->zero_pending = false;
        finish(pol, spec, st, in, out);
        return 0;
    }

    if (!out->has_data) {
        out->desired = cur;
        reason(out, "no metric data: holding %d", (int)cur);
        finish(pol, spec, st, in, out);
        return 0;
    }

    int which = 0;
    int32_t d = stabilize(spec, st, now, cur, out->recommended, &which);
    if (which == 1)
        note(out, "scale-up window %llds holds %d", (long long)(spec->up_stabilization_ms / 1000),
             (int)d);
    else if (which == 2)
        note(out, "scale-down window %llds holds %d",
             (long long)(spec->down_stabilization_ms / 1000), (int)d);
    if (pol->limit) {
        int32_t l = pol->limit(spec, st, in, d);
        if (l != d) note(out, "rate limit %d", (int)l);
        d = l;
    }
    int32_t c = as_clamp(d, lo, hi);
    if (c != d) note(out, "clamped to [%d, %d]%s", (int)lo, (int)hi, sched);
    d = c;

    if (d == 0) {
        if (!st->zero_pending) {
            st->zero_pending = true;
            st->zero_since_ms = now;
        }
        int64_t waited = now - st->zero_since_ms;
        if (waited < spec->scale_to_zero_grace_ms) {
            d = 1;
            note(out, "scale to zero in %llds (grace)",
                 (long long)((spec->scale_to_zero_grace_ms - waited + 999) / 1000));
        } else {
            note(out, "scale to zero: grace %llds passed",
                 (long long)(spec->scale_to_zero_grace_ms / 1000));
        }
    } else {
        st->zero_pending = false;
    }
    out->desired = d;
    finish(pol, spec, st, in, out);
    return 0;
}
