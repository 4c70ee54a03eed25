/* gw_breaker: see gw_breaker.h. */
#include "gateway/gw_breaker.h"

#include <limits.h>

int gw_breaker_allows(const gw_breaker *b, uint64_t now_ms)
{
    switch (b->state) {
    case GW_BREAKER_CLOSED:
        return 1;
    case GW_BREAKER_OPEN:
        return now_ms >= b->until_ms; /* becomes a probe */
    case GW_BREAKER_HALF_OPEN:
        return !b->probe_inflight;
    }
    return 0;
}

void gw_breaker_picked(gw_breaker *b)
{
    if (b->state == GW_BREAKER_CLOSED) return;
    b->state = GW_BREAKER_HALF_OPEN; /* OPEN: the cool-down is over */
    b->probe_inflight = 1;
}

void gw_breaker_cancel(gw_breaker *b)
{
    b->probe_inflight = 0;
}

int gw_breaker_record(gw_breaker *b, uint64_t now_ms, int ok, int max_failures, uint64_t open_ms)
{
    gw_breaker_state was = b->state;
    b->probe_inflight = 0;
    if (ok) {
        b->state = GW_BREAKER_CLOSED;
        b->failures = 0;
        return was != GW_BREAKER_CLOSED;
    }
    if (b->failures < INT_MAX) b->failures++;
    if (was == GW_BREAKER_OPEN) return 0; /* sent before it opened: no news */
    if (was == GW_BREAKER_HALF_OPEN || b->failures >= (max_failures > 0 ? max_failures : 1)) {
        b->state = GW_BREAKER_OPEN;
        b->until_ms = now_ms + open_ms;
        return 1;
    }
    return 0;
}
