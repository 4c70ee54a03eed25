/* gw_silence: how long an answer in flight may stay silent before the
 * gateway ends it (docs/gateway.md, "Hung engines").
 *
 * Before the answer's first body byte the engine may be prefilling or
 * queueing: --first-byte-timeout-ms covers that (gw_proxy). Once bytes flow,
 * a stream's own pace sets its bound: GW_SILENCE_FACTOR times the longest
 * gap seen so far between its chunks, at least floor_ms
 * (--stream-silence-min-ms) and at most ceiling_ms
 * (--stream-idle-timeout-ms). Pure arithmetic, no state. */
#ifndef GW_SILENCE_H
#define GW_SILENCE_H

#include <stdint.h>

/* An order of magnitude over the worst gap so far: a decode step grows a
 * few times over when the engine's batch fills (memory-bound decode), and
 * a stall the stream already sat through (another prompt's prefill, a
 * preemption) is in its longest gap. */
#define GW_SILENCE_FACTOR 10

/* The silence bound in ms of a stream whose longest gap between chunks so
 * far is max_gap_ms. ceiling_ms 0: no bound (returns 0). floor_ms 0 or at
 * least the ceiling: the ceiling alone (no pace scaling). */
uint64_t gw_silence_bound_ms(uint64_t max_gap_ms, uint64_t floor_ms, uint64_t ceiling_ms);

#endif
