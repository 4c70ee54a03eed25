/* as_sched: which spec.schedules[] entry is active at a local time, and
 * the replica bounds that follow (AIBrix's paschedules.Resolve): the first
 * entry, in spec order, whose day and [startTime, endTime) window contain
 * the time supplies minReplicas/maxReplicas (a field it does not set is the
 * base spec's); with none active the base bounds apply. Pure: the caller
 * converts the wall clock to the schedules' zone (bx_tz) and passes the
 * weekday and the minute of the day, so tests choose the time.
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

#endif
