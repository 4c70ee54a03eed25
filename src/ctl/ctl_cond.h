/* ctl_cond: reading Kubernetes status conditions ({type, status, reason,
 * message, lastTransitionTime, ...} entries of status.conditions), as the
 * controllers read each other's (a RayCluster's RayClusterProvisioned, a
 * fleet's Progressing). Pure functions over jansson values; no state. */
#ifndef CTL_COND_H
#define CTL_COND_H

#include <jansson.h>
#include <stdint.h>

/* The entry of status.conditions with that type, or NULL. Borrowed. */
const json_t *ctl_cond_get(const json_t *status, const char *type);

/* 1 when c's status is "True". */
int ctl_cond_true(const json_t *c);

/* c's lastTransitionTime in Unix ms; 0 when absent or not RFC 3339. */
int64_t ctl_cond_since_ms(const json_t *c);

#endif
