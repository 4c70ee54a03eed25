/* as_cron: the cron expressions of PodAutoscaler spec.scheduledBounds[]
 * (AIBrix's ScheduledReplicaBounds.cron): five fields, minute hour
 * day-of-month month day-of-week, each a comma list of '*', N, N-M, with an
 * optional /STEP ('*' /STEP, N-M/STEP, N/STEP = N to the field's maximum);
 * months JAN..DEC and weekdays SUN..SAT by name in any case, weekday 7 =
 * Sunday. When both day fields are restricted (neither starts with '*') a
 * day matches either (the Vixie cron rule); otherwise both must match.
 *
 * An occurrence is a local wall-clock minute that matches (second 0) in the
 * entry's zone; a local time that does not exist (a DST gap) has no
 * occurrence, and one that exists twice (a DST fold) has two. An entry is
 * active at `now` when an occurrence o has o <= now < o + duration (real
 * seconds), as AIBrix's latest-occurrence rule.
 *
 * Ownership: plain data; the parser reads its input and keeps nothing. */
#ifndef AS_CRON_H
#define AS_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bx_tz.h"

#define AS_CRON_MAX_DURATION_S (7LL * 24 * 3600) /* AIBrix's MaxDuration: 7 days */

typedef struct as_cron {
    uint64_t minute; /* bit m: minute m (0..59) */
    uint32_t hour;   /* bit h: 0..23 */
    uint32_t dom;    /* bit d: day of month 1..31 */
    uint16_t month;  /* bit m: 1..12 */
    uint8_t dow;     /* bit d: 0 = Sunday .. 6 */
    bool dom_star;   /* the day-of-month field starts with '*' */
    bool dow_star;
} as_cron;

/* Parses expr into *out. 0, or -1 with a message naming the field (e.g.
 * "hour: 24 is out of range 0-23"). Fuzzed (fuzz/fuzz_cron.c). */
int as_cron_parse(const char *expr, as_cron *out, char *err, size_t errlen);
/* true when the local time tm (its minute, hour, day, month, weekday) matches. */
bool as_cron_match(const as_cron *c, const bx_tz_tm *tm);
/* true when an occurrence o in zone z has o <= now_s < o + duration_s
 * (duration_s in 1..AS_CRON_MAX_DURATION_S; other values: false). */
bool as_cron_active(const as_cron *c, const bx_tz *z, int64_t duration_s, int64_t now_s);

#endif
