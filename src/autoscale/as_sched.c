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

uint32_t as_sched_bounds_mask(const as_spec *s, const bx_tz *const *zones, int64_t now_s)
{
    uint32_t mask = 0;
    for (size_t i = 0; zones && i < s->n_bounds && i < AS_MAX_BOUNDS; i++) {
        const as_sched_bounds *e = &s->bounds[i];
        if (!zones[i] || (e->has_start && now_s < e->start_s) || (e->has_end && now_s >= e->end_s))
            continue;
        if (as_cron_active(&e->cron, zones[i], e->duration_s, now_s)) mask |= 1u << i;
    }
    return mask;
}

void as_bounds_apply_mask(const as_spec *s, uint32_t mask, as_bounds *out)
{
    if (out->active >= 0) return;
    for (size_t i = 0; i < s->n_bounds && i < AS_MAX_BOUNDS; i++) {
        if (!(mask & (1u << i))) continue;
        const as_sched_bounds *e = &s->bounds[i];
        if (e->has_min) out->min = e->min_replicas;
        if (e->has_max) out->max = e->max_replicas;
        out->active = (int)(s->n_schedules + i);
        out->active_sets_min = e->has_min;
        return;
    }
}

const char *as_bounds_name(const as_spec *s, int active)
{
    if (active < 0) return NULL;
    if ((size_t)active < s->n_schedules) return s->schedules[active].name;
    size_t b = (size_t)active - s->n_schedules;
    return b < s->n_bounds ? s->bounds[b].name : NULL;
}
