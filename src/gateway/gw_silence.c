/* gw_silence: see gw_silence.h. */
#include "gateway/gw_silence.h"

uint64_t gw_silence_bound_ms(uint64_t max_gap_ms, uint64_t floor_ms, uint64_t ceiling_ms)
{
    if (ceiling_ms == 0) return 0;
    if (floor_ms == 0 || floor_ms >= ceiling_ms) return ceiling_ms;
    if (max_gap_ms >= ceiling_ms / GW_SILENCE_FACTOR + 1) return ceiling_ms; /* no overflow */
    uint64_t b = max_gap_ms * GW_SILENCE_FACTOR;
    return b < floor_ms ? floor_ms : b > ceiling_ms ? ceiling_ms : b;
}
