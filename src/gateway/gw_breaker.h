/* gw_breaker: one engine's circuit breaker, a pure state machine (no
 * clock, no I/O, no lock of its own: the caller passes the time and holds
 * whatever guards the engine; in the gateway, the registry lock).
 *
 *   CLOSED --`failures` consecutive failures--> OPEN
 *   OPEN --cool-down over and a request is picked (the probe)--> HALF_OPEN
 *   HALF_OPEN --probe ok--> CLOSED      HALF_OPEN --probe failed--> OPEN
 *
 * Only transitions are events: gw_breaker_record says whether its result
 * moved the state, so brix_gateway_breaker_opens_total counts openings
 * (closed->open, half-open->open), not the failures of requests that were
 * already in flight when the breaker opened. Such a late failure while OPEN
 * changes nothing (the cool-down runs from the opening); a late success
 * closes the breaker (the engine answers again). While HALF_OPEN any result
 * is taken as the probe's. */
#ifndef GW_BREAKER_H
#define GW_BREAKER_H

#include <stdint.h>

typedef enum gw_breaker_state {
    GW_BREAKER_CLOSED = 0, /* healthy: requests flow */
    GW_BREAKER_OPEN,       /* failing: no requests until the cool-down ends */
    GW_BREAKER_HALF_OPEN,  /* one probe request allowed */
} gw_breaker_state;

/* Zeroed = CLOSED with no failures. */
typedef struct gw_breaker {
    gw_breaker_state state;
    int failures;       /* consecutive failures */
    uint64_t until_ms;  /* OPEN until then */
    int probe_inflight; /* HALF_OPEN: the probe request is running */
} gw_breaker;

/* May a request be sent now? CLOSED: yes; OPEN: once the cool-down is over
 * (that request becomes the probe: call gw_breaker_picked); HALF_OPEN: when
 * no probe is running. */
int gw_breaker_allows(const gw_breaker *b, uint64_t now_ms);

/* A request was sent to the engine: when the breaker is not CLOSED it is
 * the probe (OPEN becomes HALF_OPEN). */
void gw_breaker_picked(gw_breaker *b);

/* The probe ended without a verdict on the engine (the client left). */
void gw_breaker_cancel(gw_breaker *b);

/* A request's result (ok 0 = the engine failed it). Opens after
 * max_failures consecutive failures (at least 1) or a failed probe, for
 * open_ms from now. Returns 1 when the state changed (read b->state for
 * which way), else 0. */
int gw_breaker_record(gw_breaker *b, uint64_t now_ms, int ok, int max_failures, uint64_t open_ms);

#endif
