/* as_kpa: Knative's KPA (stable and panic windows, panic state kept across
 * reconciles) on fleet totals, with AIBrix's tolerance band and rates. */
#include "autoscale/as_policy.h"

#include <math.h>
#include <stdio.h>

static void kpa_recommend(const as_spec *spec, as_state *st, const as_input *in, as_decision *out)
{
    int64_t now = in->now_ms;
    int32_t n_r = in->ready > 1 ? in->ready : 1;
    int32_t lo = spec->min_replicas, hi = spec->max_replicas;
    int32_t act = spec->activation_scale;

    /* Knative starts a new scaler in panic when it already runs > 1 pod. */
    if (st->decisions == 0 && in->current > 1) {
        st->in_panic = true;
        st->panic_time_ms = now;
        st->max_panic_pods = in->current;
    }

    int32_t ds[AS_MAX_METRICS] = {0}, dp[AS_MAX_METRICS] = {0}, dppc[AS_MAX_METRICS] = {0};
    as_step_dir dirs[AS_MAX_METRICS] = {0};
    bool over = false;
    int over_metric = -1;
    for (size_t i = 0; i < spec->n_metrics; i++) {
        const as_metric_input *m = &in->m[i];
        as_metric_result *r = &out->metrics[i];
        if (!m->valid || !isfinite(m->stable_total)) continue;
        double t = spec->metrics[i].target_value;
        double s = m->stable_total < 0 ? 0 : m->stable_total;
        bool pv = m->panic_valid && isfinite(m->panic_total);
        double p = pv ? (m->panic_total < 0 ? 0 : m->panic_total) : s;
        uint32_t pp = pv ? m->panic_pods : m->stable_pods;
        as_step_dir pdir;
        ds[i] = as_band_step(spec, in, s, t, m->stable_pods, &dirs[i]);
        dp[i] = as_band_step(spec, in, p, t, pp, &pdir);
        if (act > 1) {
            if (ds[i] > 0 && ds[i] < act) ds[i] = act;
            if (dp[i] > 0 && dp[i] < act) dp[i] = act;
        }
        dppc[i] = as_ceil_pods(p / t);
        if ((double)dppc[i] / n_r >= spec->panic_threshold) {
            if (!over) over_metric = (int)i;
            over = true;
        }
        r->valid = true;
        r->stable_total = s;
        r->panic_total = p;
        r->load = s / t;
        r->ratio = as_ratio(s, t, m->stable_pods, in->ready);
        out->has_data = true;
    }
    if (!out->has_data) return;

    bool entered = false;
    if (over) {
        entered = !st->in_panic;
        st->in_panic = true;
        st->panic_time_ms = now;
    } else if (st->in_panic && now > st->panic_time_ms + spec->observe_window_ms) {
        st->in_panic = false;
        st->max_panic_pods = 0;
    }

    int32_t best = -1;
    for (size_t i = 0; i < spec->n_metrics; i++) {
        as_metric_result *r = &out->metrics[i];
        if (!r->valid) continue;
        int32_t d = st->in_panic && dp[i] > ds[i] ? dp[i] : ds[i];
        r->recommended = as_clamp(d, lo, hi);
        if (r->recommended > best) {
            best = r->recommended;
            out->metric = (int)i;
        }
    }
    int mi = out->metric;
    const char *name = spec->metrics[mi].target_metric;
    double t = spec->metrics[mi].target_value;
    out->stable_value = out->metrics[mi].stable_total;
    out->panic_value = out->metrics[mi].panic_total;
    out->panic = st->in_panic;

    if (st->in_panic) {
        int32_t d = best;
        bool held = false;
        if (d > st->max_panic_pods)
            st->max_panic_pods = d;
        else if (d < st->max_panic_pods) {
            d = st->max_panic_pods;
            held = true;
        }
        out->recommended = d;
        if (over) {
            const as_metric_input *m = &in->m[over_metric];
            double p = m->panic_valid ? m->panic_total : m->stable_total;
            double ot = spec->metrics[over_metric].target_value;
            snprintf(
                out->reason, sizeof(out->reason),
                "KPA panic%s: %.40s panic total %.4g / target %.4g = %d pods >= %.3gx %d ready "
                "-> %d%s",
                entered ? " (entered)" : "", spec->metrics[over_metric].target_metric, p, ot,
                (int)dppc[over_metric], spec->panic_threshold, (int)n_r, (int)d,
                held ? " (no scale-down in panic)" : "");
        } else {
            long long left = (st->panic_time_ms + spec->observe_window_ms - now) / 1000;
            snprintf(out->reason, sizeof(out->reason),
                     "KPA panic hold: below threshold, exits in %llds; %.40s stable %.4g -> %d%s",
                     left < 0 ? 0 : left, name, out->stable_value, (int)d,
                     held ? " (no scale-down in panic)" : "");
        }
        return;
    }

    out->recommended = best;
    if (dirs[mi] == AS_STEP_HOLD && in->current > 0)
        snprintf(out->reason, sizeof(out->reason),
                 "KPA within tolerance: %.40s per-pod %.4g vs target %.4g -> %d", name,
                 out->metrics[mi].ratio * t, t, (int)best);
    else
        snprintf(out->reason, sizeof(out->reason),
                 "KPA stable: %.40s total %.4g / target %.4g = %.3g pods -> %d", name,
                 out->stable_value, t, out->metrics[mi].load, (int)best);
}

const as_policy as_policy_kpa = {"KPA", kpa_recommend, NULL, NULL};
