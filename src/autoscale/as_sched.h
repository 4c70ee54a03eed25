/* as_sched: which spec.schedules[] entry is active at a local time, and
 * the replica bounds that follow (AIBrix's paschedules.Resolve): the first
 * entry, in spec order, whose day and [startTime, endTime) window contain
 * the time supplies minReplicas/maxReplicas (a field it does not set is the
 * base spec's); with none active the base bounds apply. Pure: the caller
 * converts the wall clock to the schedules' zone (bx_tz) and passes the
 * weekday and the minute of the day, so tests choose the time.
 *
 * spec.scheduledBounds[] (cron + duration, as_cron.h) come after: when no
 * spec.schedules entry is active, the first scheduledBounds entry, in spec
 * order, that is active supplies the bounds; as_bounds.active then counts
 * on past the schedules (n_schedules + its index; as_bounds_name names
 * either). Whether each entry is active is a bit mask the caller computes
 * with as_sched_bounds_mask from the wall clock and the entries' zones.
 *
 * Ownership: reads the spec, writes *out; keeps nothing. */
#ifndef AS_SCHED_H
#define AS_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "autoscale/as_spec.h"

typedef struct as_bounds {
    int32_t min, max;     /* the effective bounds */
    int active;           /* index of the active schedule, -1 when none */
    bool active_sets_min; /* the active schedule has its own minReplicas */
} as_bounds;

/* The base bounds (spec.minReplicas/maxReplicas, no schedule active). */
void as_bounds_base(const as_spec *s, as_bounds *out);
/* The bounds at local weekday wday (0 = Sunday .. 6) and minute of the day
 * (0..1439) in the schedules' zone. Out-of-range inputs give the base. */
void as_bounds_at(const as_spec *s, int wday, int minute, as_bounds *out);
/* Minutes from (wday, minute) to the next start or end of any schedule,
 * within the next 8 days; -1 when there are no schedules. Local clock
 * minutes: a DST change in between moves the real instant by its size. */
int as_sched_next_change(const as_spec *s, int wday, int minute);

/* Bit i set when spec.scheduledBounds[i] is active at unix second now_s:
 * inside its lifetime and an occurrence of its cron in zones[i] began at
 * most duration ago. zones[i] NULL: that entry is never active. */
uint32_t as_sched_bounds_mask(const as_spec *s, const bx_tz *const *zones, int64_t now_s);
/* When no schedule is active in *out, the first entry with its bit in
 * mask supplies the bounds (as_bounds_at's rules). */
void as_bounds_apply_mask(const as_spec *s, uint32_t mask, as_bounds *out);
/* The name of the active entry (a spec.schedules or spec.scheduledBounds
 * name), or NULL when active is -1 or out of range. */
const char *as_bounds_name(const as_spec *s, int active);

#endif
