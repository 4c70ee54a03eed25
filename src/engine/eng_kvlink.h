/* eng_kvlink: the modelled link a decode engine pulls a remote prefill's KV
 * over (prefill/decode disaggregation, eng_pd.c). Pure arithmetic on
 * simulated seconds, no I/O: a transfer takes latency + bytes / bandwidth,
 * and transfers share the link one after another (the decode engine's NIC
 * is the bottleneck of a P/D pair: a second pull waits for the first to
 * finish sending, as NIXL's reads of one engine queue on its NIC). The
 * step constants of eng_timing.c are not used here. */
#ifndef ENG_KVLINK_H
#define ENG_KVLINK_H

#include <stdint.h>

typedef struct eng_kvlink {
    double bytes_per_s; /* > 0 */
    double latency_s;   /* >= 0, once per transfer */
    double busy_until;  /* simulated time the link's last transfer ends sending */
} eng_kvlink;

/* gbps: GB/s (1e9 bytes per second), latency_us: microseconds. */
void eng_kvlink_init(eng_kvlink *l, double gbps, double latency_us);
/* Seconds one transfer of bytes takes on an idle link. */
double eng_kvlink_seconds(const eng_kvlink *l, int64_t bytes);
/* Books a transfer of bytes starting no earlier than now; returns the
 * simulated time it completes (sending after the transfers booked before
 * it, plus the latency). */
double eng_kvlink_reserve(eng_kvlink *l, double now, int64_t bytes);

#endif
