/* as_sched: schedule resolution (see as_sched.h). */
#include "autoscale/as_sched.h"

#define DAY_MIN (24 * 60)

void as_bounds_base(const as_spec *s, as_bounds *out)
{
    out->min = s->min_replicas;
    out->max = s->max_replicas;
    out->active = -1;
    out->active_sets_min = false;
}

void as_bounds_at(const as_spec *s, int wday, int minute, as_bounds *out)
{
    as_bounds_base(s, out);
    if (wday < 0 || wday > 6 || minute < 0 || minute >= DAY_MIN) return;
    for (size_t i = 0; i < s->n_schedules && i < AS_MAX_SCHEDULES; i++) {
        const as_schedule *e = &s->schedules[i];
        if (!(e->days & (1u << wday)) || minute < e->start_min || minute >= e->end_min) continue;
        if (e->has_min) out->min = e->min_replicas;
        if (e->has_max) out->max = e->max_replicas;
        out->active = (int)i;
        out->active_sets_min = e->has_min;
        return;
    }
}

int as_sched_next_change(const as_spec *s, int wday, int minute)
{
    if (s->n_schedules == 0 || wday < 0 || wday > 6 || minute < 0 || minute >= DAY_MIN) return -1;
    int best = -1;
    for (size_t i = 0; i < s->n_schedules && i < AS_MAX_SCHEDULES; i++) {
        const as_schedule *e = &s->schedules[i];
        for (int day = 0; day <= 7; day++) {
            if (!(e->days & (1u << ((wday + day) % 7)))) continue;
            const int edges[2] = {e->start_min, e->end_min};
            int found = -1;
            for (int k = 0; k < 2 && found < 0; k++) {
                int d = day * DAY_MIN + edges[k] - minute;
                if (d > 0) found = d;
            }
            if (found > 0) {
                if (best < 0 || found < best) best = found;
                break;
            }
        }
    }
    return best;
}
