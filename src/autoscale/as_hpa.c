/* as_hpa: Kubernetes HPA's replica calculator (plain per-pod metric with an
 * average-value target) and its behavior rate policies as AIBrix configures
 * them (one Percent policy per direction, 60 s period). */
#include "autoscale/as_policy.h"

#include <math.h>
#include <stdio.h>

static bool within(const as_spec *spec, double rho)
{
    return rho >= 1 - spec->scale_down_tolerance && rho <= 1 + spec->scale_up_tolerance;
}

/* calcPlainMetricReplicas, with every pod that gave no value (pending,
 * unready, failed scrape) treated as "missing". */
static int32_t hpa_one(const as_spec *spec, const as_input *in, double total, double t,
                       uint32_t pods, double *ratio_out)
{
    int32_t cur = in->current;
    if (cur == 0) { /* activation path: the load decides */
        *ratio_out = as_ratio(total, t, pods, 1);
        return as_ceil_pods(total / t);
    }
    if (pods == 0) { /* external metric, AverageValue target */
        double rho = total / (t * cur);
        *ratio_out = rho;
        return within(spec, rho) ? cur : as_ceil_pods(total / t);
    }
    double rho = total / (t * pods);
    *ratio_out = rho;
    int32_t missing = cur > (int32_t)pods ? cur - (int32_t)pods : 0;
    if (missing == 0) return within(spec, rho) ? cur : as_ceil_pods(rho * pods);
    if (within(spec, rho)) return cur;
    /* scale-down: missing pods at target; scale-up: missing pods at 0 */
    double sum = total + (rho < 1 ? (double)missing * t : 0);
    double n = (double)pods + missing;
    double rho2 = sum / (t * n);
    if (within(spec, rho2) || (rho > 1 && rho2 < 1) || (rho < 1 && rho2 > 1)) return cur;
    int32_t d = as_ceil_pods(rho2 * n);
    if ((rho2 < 1 && d > cur) || (rho2 > 1 && d < cur)) return cur;
    return d;
}

static void hpa_recommend(const as_spec *spec, as_state *st, const as_input *in, as_decision *out)
{
    (void)st;
    int32_t lo = spec->min_replicas, hi = spec->max_replicas;
    int32_t best = -1;
    for (size_t i = 0; i < spec->n_metrics; i++) {
        const as_metric_input *m = &in->m[i];
        if (!m->valid || !isfinite(m->stable_total)) continue;
        double t = spec->metrics[i].target_value;
        double s = m->stable_total < 0 ? 0 : m->stable_total;
        double rho = 0;
        int32_t d = hpa_one(spec, in, s, t, m->stable_pods, &rho);
        as_record_stable(out, i, s, t, rho, d, lo, hi, &best);
    }
    if (as_finish_stable(out, best) != 0) return;
    int mi = out->metric;
    const as_metric_result *r = &out->metrics[mi];
    uint32_t pods = in->m[mi].stable_pods;
    snprintf(out->reason, sizeof(out->reason),
             "HPA %s: %.40s ratio %.3f (%u of %d pods reporting) -> %d",
             best == in->current ? "hold" : (best > in->current ? "scale up" : "scale down"),
             spec->metrics[mi].target_metric, r->ratio, pods, (int)in->current, (int)best);
}

static int64_t period_sum(as_hist *h, int64_t now)
{
    as_hist_expire(h, now - AS_HPA_PERIOD_MS);
    int64_t s = 0;
    for (uint32_t i = 0; i < h->n; i++)
        s += h->e[i].v;
    return s;
}

/* convertDesiredReplicasWithBehaviorRate with AIBrix's policies:
 * scaleUp Percent (r_up - 1) * 100, scaleDown Percent (1 - 1/r_down) * 100. */
static int32_t hpa_limit(const as_spec *spec, as_state *st, const as_input *in, int32_t desired)
{
    int64_t now = in->now_ms;
    int32_t cur = in->current;
    int64_t added = period_sum(&st->up_events, now);
    int64_t removed = period_sum(&st->down_events, now);
    if (desired > cur) {
        int64_t start = (int64_t)cur - added;
        if (start < 0) start = 0;
        int32_t lim = as_ceil_pods((double)start * spec->max_scale_up_rate);
        if (lim < cur) lim = cur;
        return desired < lim ? desired : lim;
    }
    if (desired < cur) {
        int64_t start = (int64_t)cur + removed;
        int32_t lim = as_floor_pods((double)start / spec->max_scale_down_rate);
        if (lim > cur) lim = cur;
        return desired > lim ? desired : lim;
    }
    return desired;
}

static void hpa_commit(const as_spec *spec, as_state *st, const as_input *in, const as_decision *d)
{
    (void)spec;
    if (d->desired > in->current)
        as_hist_push(&st->up_events, in->now_ms, d->desired - in->current, true);
    else if (d->desired < in->current)
        as_hist_push(&st->down_events, in->now_ms, in->current - d->desired, true);
}

const as_policy as_policy_hpa = {"HPA", hpa_recommend, hpa_limit, hpa_commit};
