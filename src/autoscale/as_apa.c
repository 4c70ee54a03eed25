/* as_apa: AIBrix's APA (ratio with up/down fluctuation tolerances, rate
 * caps) on fleet totals over the stable window; no panic window. */
#include "autoscale/as_policy.h"

#include <math.h>
#include <stdio.h>

static void apa_recommend(const as_spec *spec, as_state *st, const as_input *in, as_decision *out)
{
    (void)st;
    int32_t lo = spec->min_replicas, hi = spec->max_replicas;
    as_step_dir dirs[AS_MAX_METRICS] = {0};
    int32_t best = -1;
    for (size_t i = 0; i < spec->n_metrics; i++) {
        const as_metric_input *m = &in->m[i];
        if (!m->valid || !isfinite(m->stable_total)) continue;
        double t = spec->metrics[i].target_value;
        double s = m->stable_total < 0 ? 0 : m->stable_total;
        int32_t d = as_band_step(spec, in, s, t, m->stable_pods, &dirs[i]);
        as_record_stable(out, i, s, t, as_ratio(s, t, m->stable_pods, in->ready), d, lo, hi, &best);
    }
    if (as_finish_stable(out, best) != 0) return;
    int mi = out->metric;
    const as_metric_result *r = &out->metrics[mi];
    const char *what = dirs[mi] == AS_STEP_UP     ? "above"
                       : dirs[mi] == AS_STEP_DOWN ? "below"
                                                  : "within";
    snprintf(out->reason, sizeof(out->reason),
             "APA %s tolerance: %.40s ratio %.3f (band %.3g..%.3g), load %.3g pods -> %d", what,
             spec->metrics[mi].target_metric, r->ratio, 1 - spec->scale_down_tolerance,
             1 + spec->scale_up_tolerance, r->load, (int)best);
}

const as_policy as_policy_apa = {"APA", apa_recommend, NULL, NULL};
