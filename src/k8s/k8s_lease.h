/* k8s_lease: leader election on a coordination.k8s.io/v1 Lease, client-go's
 * algorithm (docs/kubernetes.md, "Leader election").
 *
 * Every retry period: GET the Lease (NotFound: POST one naming us). When
 * another holder's record is still valid we wait. Valid means: the local
 * time at which we last saw the record change, plus its
 * leaseDurationSeconds, is in the future; the holder's renewTime is not
 * compared with our clock, so clock skew does not matter. Otherwise PUT
 * the Lease with its resourceVersion, naming us (leaseTransitions + 1 when
 * taking it over); a 409 means someone else won.
 * A leader renews every retry period. When no renewal has succeeded for
 * renew_ms it calls stopped_leading at once (a timer, not the next tick)
 * and becomes a candidate again: a leader that lost the lease stops acting
 * before another can take it (lease_ms > renew_ms). Closing a leader
 * releases the Lease (holderIdentity "", leaseDurationSeconds 1) so the
 * next candidate takes over without waiting out the duration.
 * Constraint: lease_ms > renew_ms > 1.2 * retry_ms (checked at new).
 * Threading: the client's loop. */
#ifndef K8S_LEASE_H
#define K8S_LEASE_H

#include "k8s/k8s_client.h"

typedef struct k8s_lease k8s_lease;

typedef struct k8s_lease_opts {
    const char *ns, *name, *identity;  /* copied; identity must be unique per candidate */
    long lease_ms, renew_ms, retry_ms; /* 15000, 10000, 2000 */
    void (*started_leading)(k8s_lease *l, void *ud);
    void (*stopped_leading)(k8s_lease *l, void *ud);
    /* Optional: the holder we observed changed ("" when none). */
    void (*new_leader)(k8s_lease *l, const char *identity, void *ud);
    void *ud;
} k8s_lease_opts;

void k8s_lease_opts_default(k8s_lease_opts *o);
/* 0 or -1 with err. */
int k8s_lease_new(k8s_client *c, const k8s_lease_opts *o, k8s_lease **out, char *err,
                  size_t errlen);
void k8s_lease_start(k8s_lease *l);
int k8s_lease_is_leader(const k8s_lease *l);
/* Releases the Lease when leading (stopped_leading is called), then frees
 * and calls done from the loop. */
void k8s_lease_close(k8s_lease *l, void (*done)(void *ud), void *ud);

/* MicroTime "2006-01-02T15:04:05.000000Z" for a wall time in microseconds.
 * Writes 28 bytes and a NUL (cap >= 32). */
void k8s_microtime(char *buf, size_t cap, int64_t unix_us);

#endif
